import SluiceHTTP1
import SluiceThrottle
import SluiceURing

/// Pipeline steps 5–7: the API key, the throttles and the quota (Sources/SluiceThrottle).
extension Worker {
    static let apiKeyHeader: [UInt8] = Array("x-api-key".utf8)

    /// Nil when the matched request may go on to its integration, else the gateway's answer.
    /// Sets `admittedKey` to the key a request was admitted with.
    func admit(_ index: Int, _ bytes: Span<UInt8>) -> GatewayAnswer? {
        let operation = match.operation
        let requiresKey = gate.plan.requiresKey(operation: operation)
        admittedKey = nil
        let keyValue = requiresKey && gate.plan.takesKeyFromHeader(operation: operation) ? apiKeyValue(bytes) : nil
        let key = keyValue.map { KeyDigest(SHA256.digest(bytes.extracting($0))) }
        let epochSeconds = requiresKey ? Int(Clock.realtimeNanoseconds() / 1_000_000_000) : 0
        let verdict = gate.admit(operation: operation, stage: match.stage, key: key,
                                 monotonicNanoseconds: connections[index].requestStartedNanoseconds,
                                 epochSeconds: epochSeconds)
        if verdict.admission == .admitted {
            if let keyValue, verdict.subscription >= 0 {
                admittedKey = AdmittedKey(value: keyValue, key: Int(gate.plan.subscriptionKey[Int(verdict.subscription)]))
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

    /// A request admitted earlier and read again (it waited for a cache fill): its key, for the
    /// Lambda event, without charging its throttles and quota twice.
    func readmitKey(_ bytes: Span<UInt8>) {
        let operation = match.operation
        guard gate.plan.requiresKey(operation: operation), gate.plan.takesKeyFromHeader(operation: operation),
              let value = apiKeyValue(bytes) else { return }
        let key = gate.plan.keyIndex(KeyDigest(SHA256.digest(bytes.extracting(value))))
        if key >= 0 { admittedKey = AdmittedKey(value: value, key: key) }
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
