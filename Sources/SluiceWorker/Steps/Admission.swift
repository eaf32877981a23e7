import SluiceCrypto
import SluiceHTTP1
import SluicePipeline
import SluicePolicy
import SluiceThrottle
import SluiceURing

/// Pipeline steps 5–7: the API key, the throttles and the quota (Sources/SluiceThrottle).
extension Worker {
    static let apiKeyHeader: [UInt8] = Array("x-api-key".utf8)

    /// Nil when the matched request may go on to its integration, else the gateway's answer.
    /// Keeps the key a request was admitted with in its context (`RequestContext.key`).
    func admit(_ index: Int, _ bytes: Span<UInt8>) -> GatewayAnswer? {
        let operation = match.operation
        let requiresKey = gate.plan.requiresKey(operation: operation)
        connections[index].request.key = nil
        let fromHeader = gate.plan.takesKeyFromHeader(operation: operation)
        let keyValue = requiresKey && fromHeader ? apiKeyValue(bytes) : nil
        // `apiKeySource: AUTHORIZER`: the key is the Lambda authorizer's `usageIdentifierKey`.
        let key = requiresKey && !fromHeader ? authorizerKeyDigest(index)
            : keyValue.map { KeyDigest(SHA256.digest(bytes.extracting($0))) }
        let epochSeconds = requiresKey ? Int(clock.realtimeNanoseconds() / 1_000_000_000) : 0
        let verdict = gate.admit(operation: operation, stage: match.stage, key: key,
                                 monotonicNanoseconds: connections[index].request.startedNanoseconds,
                                 epochSeconds: epochSeconds)
        if verdict.admission == .admitted {
            if key != nil, verdict.subscription >= 0 {
                // A key from the authorizer is not in the head: no value range (the Lambda event
                // then carries neither `apiKey` nor `apiKeyId`).
                connections[index].request.key = AdmittedKey(value: keyValue ?? 0..<0,
                                                             key: Int(gate.plan.subscriptionKey[Int(verdict.subscription)]))
            }
            return nil
        }
        rejections.count(slot: slot, stage: match.stage, verdict)
        switch verdict.admission {
        case .admitted: return nil
        case .forbidden: return .forbidden
        case .throttled: return .tooManyRequests
        case .quotaExceeded: return .limitExceeded
        }
    }

    /// The digest of the request's Lambda authorizer's `usageIdentifierKey`; nil without one (or
    /// one longer than `limits.api_key_bytes`).
    func authorizerKeyDigest(_ index: Int) -> KeyDigest? {
        let slot = Int(connections[index].request.record.authorizerResult)
        guard slot >= 0 else { return nil }
        let length = Int(authorization.resultLengths[slot])
        return authorization.results.withBytes(slot: slot, range: 0..<length) { result -> KeyDigest? in
            guard let reader = AuthorizerResultReader(result), !reader.usageKey.isEmpty,
                  reader.usageKey.count <= limits.apiKeyBytesMax else { return nil }
            return KeyDigest(SHA256.digest(result.extracting(reader.usageKey)))
        }
    }

    /// Where the request's `x-api-key` value (its first one) is in its head; nil without one, or
    /// with one longer than `limits.api_key_bytes`.
    func apiKeyValue(_ bytes: Span<UInt8>) -> Range<Int>? {
        for field in head.headers
        where HTTPBytes.equalsIgnoringCase(bytes, field.name, lowercased: Worker.apiKeyHeader.span) {
            guard !field.value.isEmpty, field.value.count <= limits.apiKeyBytesMax else { return nil }
            return field.value
        }
        return nil
    }
}

/// The key a request was admitted with: where its value is in the request head, and its index
/// in `Deployment.apiKeys` (the Lambda event carries both).
struct AdmittedKey {
    var value: Range<Int>
    var key: Int
}
