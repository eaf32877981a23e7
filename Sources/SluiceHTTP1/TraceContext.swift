/// A request's trace, as W3C Trace Context (`traceparent`) and AWS X-Ray (`X-Amzn-Trace-Id`)
/// carry it. Both name the same 128-bit trace id: X-Ray's `Root=1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY`
/// is the 32 hex digits of a W3C trace id, split after the eighth (which X-Ray reads as the
/// epoch second the trace began).
public struct TraceContext: Equatable, Sendable {
    /// The trace id: `high` is its first 16 hex digits, `low` the last 16. Never both zero.
    public var high: UInt64
    public var low: UInt64
    /// The span the request comes from (W3C `parent-id`, X-Ray `Parent`); 0 when unknown.
    public var parent: UInt64
    public var sampled: Bool

    public init(high: UInt64, low: UInt64, parent: UInt64, sampled: Bool) {
        self.high = high
        self.low = low
        self.parent = parent
        self.sampled = sampled
    }

    public static let traceparentName: [UInt8] = Array("traceparent".utf8)
    public static let amazonName: [UInt8] = Array("x-amzn-trace-id".utf8)

    /// A `traceparent` value: `VV-TTTT…(32)-PPPP…(16)-FF`, lowercase hex. Version `ff` and
    /// all-zero ids are invalid; a version other than `00` may carry more fields after a `-`.
    public static func parseTraceparent(_ value: Span<UInt8>) -> TraceContext? {
        guard value.count >= 55, let version = hex(value, 0, digits: 2), version != 0xFF,
              value[2] == 0x2D, value[35] == 0x2D, value[52] == 0x2D,
              let high = hex(value, 3, digits: 16), let low = hex(value, 19, digits: 16),
              let parent = hex(value, 36, digits: 16), let flags = hex(value, 53, digits: 2),
              high | low != 0, parent != 0
        else { return nil }
        if value.count > 55 && (version == 0 || value[55] != 0x2D) { return nil }
        return TraceContext(high: high, low: low, parent: parent, sampled: flags & 1 == 1)
    }

    /// An `X-Amzn-Trace-Id` value: `;`-separated `Key=value` fields, of which `Root` (required),
    /// `Parent` and `Sampled` are read.
    public static func parseAmazon(_ value: Span<UInt8>) -> TraceContext? {
        var trace: TraceContext? = nil
        var parent: UInt64 = 0
        var sampled = false
        var start = 0
        while start < value.count {
            var end = start
            while end < value.count && value[end] != HTTPBytes.semicolon { end += 1 }
            let field = HTTPBytes.trimmingWhitespace(value, start..<end)
            if field.count == 40 && matches(value, field.lowerBound, amazonRoot),
               value[field.lowerBound + 15] == 0x2D,
               let seconds = hex(value, field.lowerBound + 7, digits: 8),
               let middle = hex(value, field.lowerBound + 16, digits: 8),
               let low = hex(value, field.lowerBound + 24, digits: 16), seconds | middle | low != 0 {
                trace = TraceContext(high: seconds << 32 | middle, low: low, parent: 0, sampled: false)
            } else if field.count == 23 && matches(value, field.lowerBound, parentKey),
                      let span = hex(value, field.lowerBound + 7, digits: 16) {
                parent = span
            } else if field.count == 9 && matches(value, field.lowerBound, sampledKey) {
                sampled = value[field.lowerBound + 8] == 0x31
            }
            start = end + 1
        }
        guard var trace else { return nil }
        trace.parent = parent
        trace.sampled = sampled
        return trace
    }

    /// `traceparent: 00-…-…-0F\r\n` with this trace, `parent` as the parent-id.
    public func appendTraceparentLine<Sink: ByteSink>(to sink: inout Sink) {
        for byte in Self.traceparentPrefix { sink.append(byte) }
        ResponseHead.appendHex(high, digits: 16, to: &sink)
        ResponseHead.appendHex(low, digits: 16, to: &sink)
        sink.append(0x2D)
        ResponseHead.appendHex(parent, digits: 16, to: &sink)
        sink.append(0x2D)
        sink.append(0x30)
        sink.append(sampled ? 0x31 : 0x30)
        sink.append(13)
        sink.append(10)
    }

    /// `Root=1-…-…;Parent=…;Sampled=…` with this trace: an `X-Amzn-Trace-Id` value.
    public func appendAmazonValue<Sink: ByteSink>(to sink: inout Sink) {
        appendAmazonRoot(to: &sink)
        if parent != 0 {
            for byte in Self.amazonParent { sink.append(byte) }
            ResponseHead.appendHex(parent, digits: 16, to: &sink)
        }
        for byte in Self.amazonSampled { sink.append(byte) }
        sink.append(sampled ? 0x31 : 0x30)
    }

    /// The 32 hex digits of the trace id.
    public func appendTraceID<Sink: ByteSink>(to sink: inout Sink) {
        ResponseHead.appendHex(high, digits: 16, to: &sink)
        ResponseHead.appendHex(low, digits: 16, to: &sink)
    }

    /// `Root=1-XXXXXXXX-YYYYYYYYYYYYYYYYYYYYYYYY`: the trace id as X-Ray writes it.
    public func appendAmazonRoot<Sink: ByteSink>(to sink: inout Sink) {
        for byte in Self.amazonRoot { sink.append(byte) }
        ResponseHead.appendHex(high >> 32, digits: 8, to: &sink)
        sink.append(0x2D)
        ResponseHead.appendHex(high & 0xFFFF_FFFF, digits: 8, to: &sink)
        ResponseHead.appendHex(low, digits: 16, to: &sink)
    }

    static let traceparentPrefix: [UInt8] = Array("traceparent: 00-".utf8)
    static let amazonRoot: [UInt8] = Array("Root=1-".utf8)
    static let amazonParent: [UInt8] = Array(";Parent=".utf8)
    static let amazonSampled: [UInt8] = Array(";Sampled=".utf8)

    static let parentKey: [UInt8] = Array("Parent=".utf8)
    static let sampledKey: [UInt8] = Array("Sampled=".utf8)

    static func matches(_ value: Span<UInt8>, _ start: Int, _ text: [UInt8]) -> Bool {
        guard start + text.count <= value.count else { return false }
        for offset in text.indices where value[start + offset] != text[offset] { return false }
        return true
    }

    /// `digits` lowercase hex digits at `start`, or nil.
    static func hex(_ value: Span<UInt8>, _ start: Int, digits: Int) -> UInt64? {
        guard start + digits <= value.count else { return nil }
        var result: UInt64 = 0
        for index in start..<(start + digits) {
            let byte = value[index]
            let nibble: UInt8
            switch byte {
            case 0x30...0x39: nibble = byte - 0x30
            case 0x61...0x66: nibble = byte - 0x61 + 10
            default: return nil
            }
            result = result << 4 | UInt64(nibble)
        }
        return result
    }
}

/// Fresh trace and span ids: SplitMix64, seeded once per process from the kernel's random
/// source. Not for secrets; cheap enough for every request.
public struct TraceIDs: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }

    /// A new sampled trace that began at `epochSeconds` (in the id's first eight hex digits, as
    /// X-Ray wants them), with a new span as its parent.
    public mutating func newTrace(epochSeconds: Int) -> TraceContext {
        let high = UInt64(truncatingIfNeeded: epochSeconds) << 32 | (next() & 0xFFFF_FFFF)
        var low = next()
        if low == 0 { low = 1 }
        var parent = next()
        if parent == 0 { parent = 1 }
        return TraceContext(high: high, low: low, parent: parent, sampled: true)
    }
}
