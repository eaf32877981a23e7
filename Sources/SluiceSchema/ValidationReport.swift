import SluiceJSON

/// What one validation found, and the scratch it needs, both allocated once (per worker) and
/// reused: validating does not allocate (but for a `pattern` outside `PatternProgram`'s subset,
/// which hands Swift's Regex a String).
///
/// The messages are fge's texts, laid out as API Gateway's `$context.error.validationErrorString`:
/// `[msg1, msg2]`, cut at `messageBytesMax` (the closing bracket kept).
public struct ValidationReport {
    /// The error string so far: empty, or "[" messages "]".
    public private(set) var validationErrorBytes: [UInt8]
    public let messageBytesMax: Int
    /// How many messages were written (whole or in part).
    public private(set) var messageCount = 0
    /// Whether a message did not fit.
    public private(set) var isTruncated = false

    var scratch: HashScratch
    /// A string's decoded bytes, for regex matching, and the pattern matcher's lists.
    var decoded: [UInt8]
    var patternScratch = PatternScratch()
    /// Whether messages are being written: false inside anyOf, oneOf and not, whose branches'
    /// messages fge does not report (only the keyword's own).
    var isRecording = true

    /// `messageBytesMax` bounds the error string; `hashSlotCount` the hash tables that
    /// `uniqueItems`, `enum` and the repeated-key check use (beyond it they fall back to slower
    /// comparisons, never to wrong answers); `stringBytesMax` the decoded-string buffer for patterns
    /// (a longer string is still matched, through a larger buffer).
    public init(messageBytesMax: Int = 1024, hashSlotCount: Int = 4096, stringBytesMax: Int = 4096) {
        precondition(messageBytesMax >= 2, "room for the brackets")
        self.messageBytesMax = messageBytesMax
        validationErrorBytes = []
        validationErrorBytes.reserveCapacity(messageBytesMax)
        scratch = HashScratch(slotCount: hashSlotCount)
        decoded = []
        decoded.reserveCapacity(stringBytesMax)
    }

    /// `validationErrorBytes` as a String (for logs and tests; allocates).
    public var validationErrorString: String { String(decoding: validationErrorBytes, as: UTF8.self) }

    public var isEmpty: Bool { messageCount == 0 }

    mutating func reset() {
        validationErrorBytes.removeAll(keepingCapacity: true)
        messageCount = 0
        isTruncated = false
        isRecording = true
        isOpen = false
        scratch.top = 0
    }

    // MARK: Writing messages

    /// Starts a message: "[" or ", " before it, the closing "]" taken off while it is written.
    mutating func begin() {
        messageCount += 1
        guard !isTruncated else { return }
        isOpen = true
        if validationErrorBytes.isEmpty {
            validationErrorBytes.append(UInt8(ascii: "["))
        } else {
            validationErrorBytes.removeLast()
            write(", ")
        }
    }

    /// Ends a message with the closing bracket, for which room is always kept.
    mutating func end() {
        guard isOpen else { return }
        isOpen = false
        validationErrorBytes.append(UInt8(ascii: "]"))
    }

    /// Whether a message is being written (its closing bracket not yet put back).
    private var isOpen = false

    @inline(__always)
    mutating func write(byte: UInt8) {
        guard !isTruncated else { return }
        guard validationErrorBytes.count < messageBytesMax - 1 else {
            isTruncated = true
            return
        }
        validationErrorBytes.append(byte)
    }

    /// Message text; the callers pass literals, whose UTF-8 view is read in place.
    mutating func write(_ text: String) {
        for byte in text.utf8 { write(byte: byte) }
    }

    mutating func write(_ bytes: Span<UInt8>, _ range: Range<Int>) {
        for offset in range { write(byte: bytes[offset]) }
    }

    mutating func write(_ number: Int) {
        if number < 0 { write(byte: UInt8(ascii: "-")) }
        var magnitude = number.magnitude
        var divisor: UInt = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            write(byte: UInt8(magnitude / divisor) + 0x30)
            magnitude %= divisor
            divisor /= 10
        }
    }

    /// A string's decoded content, as fge prints a string instance (no quotes added).
    mutating func writeContent(_ bytes: Span<UInt8>, _ value: JSONScanner.Value) {
        var decodedBytes = UnescapedBytes(value.content)
        while let byte = decodedBytes.next(bytes) { write(byte: byte) }
    }

    /// A value's JSON text as it stands in the body or the pool.
    mutating func writeJSON(_ bytes: Span<UInt8>, _ value: JSONScanner.Value) {
        write(bytes, value.range)
    }

    /// A name as a JSON string: quoted, with `"` and `\` escaped.
    mutating func writeQuoted(_ bytes: Span<UInt8>, _ range: Range<Int>, decode: Bool) {
        write(byte: UInt8(ascii: "\""))
        if decode {
            var decodedBytes = UnescapedBytes(range)
            while let byte = decodedBytes.next(bytes) { writeEscaped(byte) }
        } else {
            for offset in range { writeEscaped(bytes[offset]) }
        }
        write(byte: UInt8(ascii: "\""))
    }

    private mutating func writeEscaped(_ byte: UInt8) {
        if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { write(byte: UInt8(ascii: "\\")) }
        write(byte: byte)
    }
}
