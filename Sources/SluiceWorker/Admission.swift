import SluiceHTTP1
import SluiceThrottle
import SluiceURing

/// Pipeline steps 5–7: the API key, the throttles and the quota (Sources/SluiceThrottle).
extension Worker {
    static let apiKeyHeader: [UInt8] = Array("x-api-key".utf8)
    /// API Gateway's longest API key value; a longer one is no key of ours.
    static let apiKeyBytesMax = 128

    /// Nil when the matched request may go on to its integration, else the gateway's answer.
    func admit(_ index: Int, _ bytes: Span<UInt8>) -> GatewayAnswer? {
        let operation = match.operation
        let requiresKey = gate.plan.requiresKey(operation: operation)
        let key = requiresKey && gate.plan.takesKeyFromHeader(operation: operation) ? apiKeyDigest(bytes) : nil
        let epochSeconds = requiresKey ? Int(Clock.realtimeNanoseconds() / 1_000_000_000) : 0
        let verdict = gate.admit(operation: operation, stage: match.stage, key: key,
                                 monotonicNanoseconds: connections[index].requestStartedNanoseconds,
                                 epochSeconds: epochSeconds)
        if verdict.admission == .admitted { return nil }
        rejections.count(slot: slot, stage: match.stage, verdict)
        switch verdict.admission {
        case .admitted: return nil
        case .forbidden: return .forbidden
        case .throttled: return .tooManyRequests
        case .quotaExceeded: return .limitExceeded
        }
    }

    /// The SHA-256 of the request's `x-api-key` value (its first one), or nil without one.
    func apiKeyDigest(_ bytes: Span<UInt8>) -> KeyDigest? {
        for field in head.headers
        where HTTPBytes.equalsIgnoringCase(bytes, field.name, lowercased: Worker.apiKeyHeader.span) {
            guard !field.value.isEmpty, field.value.count <= Worker.apiKeyBytesMax else { return nil }
            return KeyDigest(SHA256.digest(bytes.extracting(field.value)))
        }
        return nil
    }
}
