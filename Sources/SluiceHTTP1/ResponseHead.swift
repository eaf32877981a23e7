/// Where response bytes go. The worker's output buffers conform; tests use `[UInt8]`. Writers are
/// generic over it (specialized, never an existential), so writing a response costs copies only.
public protocol ByteSink {
    mutating func append(_ byte: UInt8)
    mutating func append(_ bytes: Span<UInt8>)
}

extension Array: ByteSink where Element == UInt8 {
    public mutating func append(_ bytes: Span<UInt8>) {
        for index in bytes.indices { append(bytes[index]) }
    }
}

/// Building blocks for writing a response head. Everything that does not change per request is
/// prepared once (`statusLine`, header lines); per request the worker appends prepared bytes plus
/// the few that vary (date, request id, lengths).
///
/// They hang off `ResponseHead`, the parsed head of an upstream's answer (`ResponseHeadParser.swift`),
/// as static members, so that `ResponseHead.statusLine(200)` writes a head and `ResponseHead()`
/// holds one that was read.
extension ResponseHead {
    /// `HTTP/1.1 <status> <reason>\r\n`.
    public static func statusLine(_ status: Int) -> [UInt8] {
        Array("HTTP/1.1 \(status) \(reasonPhrase(status))\r\n".utf8)
    }

    /// `Name: value\r\n`.
    public static func headerLine(_ name: String, _ value: String) -> [UInt8] {
        Array("\(name): \(value)\r\n".utf8)
    }

    public static let crlf: [UInt8] = [13, 10]
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    public static let connectionClose: [UInt8] = Array("Connection: close\r\n".utf8)
    public static let connectionKeepAlive: [UInt8] = Array("Connection: keep-alive\r\n".utf8)
    public static let contentLengthPrefix: [UInt8] = Array("Content-Length: ".utf8)

    /// Appends `value` in decimal.
    @inlinable
    public static func appendDecimal<Sink: ByteSink>(_ value: Int, to sink: inout Sink) {
        precondition(value >= 0)
        if value < 10 {
            sink.append(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            sink.append(UInt8(truncatingIfNeeded: rest / divisor) &+ 48)
            rest %= divisor
            divisor /= 10
        }
    }

    /// Appends `value` as `digits` lowercase hexadecimal digits (most significant first).
    @inlinable
    public static func appendHex<Sink: ByteSink>(_ value: UInt64, digits: Int, to sink: inout Sink) {
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let nibble = UInt8(truncatingIfNeeded: (value >> UInt64(shift)) & 0xF)
            sink.append(nibble < 10 ? nibble &+ 48 : nibble &+ 87)
            shift -= 4
        }
    }

    /// The reason phrase RFC 9110 gives `status`; empty for codes it does not name.
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 418: "I'm a teapot"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 451: "Unavailable For Legal Reasons"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}

/// The `Date` header line, rewritten in place once a second: `Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n`.
public struct DateLine: Sendable {
    public private(set) var bytes: [UInt8]
    public private(set) var epochSeconds: Int = -1

    public static let byteCount = 37

    public init() {
        bytes = Array("Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n".utf8)
        update(epochSeconds: 0)
    }

    /// Rewrites the line for `epochSeconds` (UTC) unless it already shows that second.
    public mutating func update(epochSeconds seconds: Int) {
        guard seconds != epochSeconds, seconds >= 0 else { return }
        epochSeconds = seconds
        let days = seconds / 86_400
        let secondOfDay = seconds % 86_400
        // 1970-01-01 was a Thursday.
        let weekday = (days + 4) % 7
        let (year, month, day) = DateLine.civilDate(daysSinceEpoch: days)
        let weekdays: StaticString = "SunMonTueWedThuFriSat"
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        weekdays.withUTF8Buffer { names in
            for index in 0..<3 { bytes[6 + index] = names[weekday * 3 + index] }
        }
        write2(day, at: 11)
        months.withUTF8Buffer { names in
            for index in 0..<3 { bytes[14 + index] = names[(month - 1) * 3 + index] }
        }
        write2(year / 100, at: 18)
        write2(year % 100, at: 20)
        write2(secondOfDay / 3600, at: 23)
        write2(secondOfDay / 60 % 60, at: 26)
        write2(secondOfDay % 60, at: 29)
    }

    private mutating func write2(_ value: Int, at offset: Int) {
        bytes[offset] = UInt8(48 + value / 10)
        bytes[offset + 1] = UInt8(48 + value % 10)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date, after Howard Hinnant's
    /// `days_from_civil` (quota periods, SigV4's `X-Amz-Date`).
    public static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard
    /// Hinnant's `civil_from_days`. Also used for the Lambda event's request times.
    public static func civilDate(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
