import SluiceHTTP1
import SluicePipeline
import SluiceURing

/// Why an integration's exchange failed: the cause the error log gives for the gateway's 5xx.
enum UpstreamFailure: UInt8 {
    case connect
    case tls
    /// The connection closed (or was reset) before the answer was whole.
    case closed
    case timedOut
    case malformedHead
    case malformedBody
    case answerTooLarge
    case headTooLarge
    /// An HTTP integration's status that no integration response selects.
    case noIntegrationResponse
    /// No body buffer was free to gather the answer in.
    case noBodyBuffer

    var text: String {
        switch self {
        case .connect: "cannot connect"
        case .tls: "TLS handshake or certificate verification failed"
        case .closed: "connection closed or reset before the answer was complete"
        case .timedOut: "no answer within the integration timeout"
        case .malformedHead: "malformed answer head"
        case .malformedBody: "malformed answer body (chunked framing)"
        case .answerTooLarge: "answer larger than the gateway holds"
        case .headTooLarge: "answer head larger than the request head limit"
        case .noIntegrationResponse: "no integration response for the upstream's status"
        case .noBodyBuffer: "no body buffer free to gather the answer"
        }
    }
}

/// The error log: one line on standard error for each 5xx the gateway makes of an integration's
/// failure, with its time, level and cause. At most `linesPerSecondMax` lines a second per
/// worker: the rest are counted and said with the next line (the 5xx are in the metrics anyway).
struct ErrorLog {
    static let linesPerSecondMax = 20
    var windowStartNanoseconds: Int64 = 0
    var linesInWindow = 0
    var suppressed = 0
}

extension Worker {
    /// Logs the gateway's `answer` to an integration's failure on connection `index`.
    func logUpstreamFailure(_ index: Int, answer: GatewayAnswer, cause: UpstreamFailure, errorNumber: Int32) {
        if now - errorLog.windowStartNanoseconds >= 1_000_000_000 {
            errorLog.windowStartNanoseconds = now
            errorLog.linesInWindow = 0
        }
        guard errorLog.linesInWindow < ErrorLog.linesPerSecondMax else {
            errorLog.suppressed += 1
            return
        }
        errorLog.linesInWindow += 1
        let upstream = Int(connections[index].upstream)
        let upstreamName = upstream >= 0 && upstream < upstreamNames.count ? upstreamNames[upstream] : "?"
        var line = Worker.isoTimestamp(epochNanoseconds: epochNanoseconds)
        line += " error \(name): \(answer.status) for an integration: upstream \(upstreamName): \(cause.text)"
        if errorNumber != 0 { line += " (\(SystemError("connect", errno: errorNumber)))" }
        let client = Int(connections[index].peer)
        if client >= 0 {
            var id: [UInt8] = []
            id.reserveCapacity(40)
            let written = textScratch.write(slot: 0, offset: 0) { writer in
                Worker.appendRequestID(high: requestIDHigh, low: connections[client].request.id, to: &writer)
            }
            textScratch.withBytes(slot: 0, range: 0..<written.byteCount) { bytes in
                for position in 0..<bytes.count { id.append(bytes[position]) }
            }
            line += "; request \(String(decoding: id, as: UTF8.self))"
        }
        if errorLog.suppressed > 0 {
            line += " (\(errorLog.suppressed) more such lines were not written)"
            errorLog.suppressed = 0
        }
        StandardError.write(line)
    }

    /// `2026-12-04T20:07:32.123Z`.
    static func isoTimestamp(epochNanoseconds: Int64) -> String {
        let seconds = Int(epochNanoseconds / 1_000_000_000)
        let milliseconds = Int(epochNanoseconds / 1_000_000 % 1000)
        let (year, month, day) = DateLine.civilDate(daysSinceEpoch: seconds / 86_400)
        let second = seconds % 86_400
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(year)-\(two(month))-\(two(day))T\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60)).\(fraction)Z"
    }
}
