/// Scans a field section (RFC 9112 §5, RFC 9110 §5.5): field lines, then the empty line that ends
/// a message head. The request and the response head parsers both run it after their start line,
/// so that requests from clients and answers from upstreams are held to the same rules:
/// - a field name is one or more `tchar`s followed directly by `:` (whitespace before the colon
///   is refused, RFC 9112 §5.1);
/// - a field value holds VCHAR, obs-text, SP and HTAB only: NUL, other controls and DEL are refused;
/// - every line ends in CRLF: a bare CR or LF is refused, and so is obs-fold (a line starting with
///   SP or HTAB, RFC 9112 §5.2);
/// - more than `fieldsMax` field lines is `tooManyFields`, reported at the first byte of the one
///   too many.
///
/// Like the parsers that own it, the scanner keeps its place between calls and never reads a byte
/// twice. With `fill`, it records each field (name, and value without the surrounding OWS) as its
/// line ends; the owner passes `fill` only when the scan began at the head's first byte.
struct FieldSectionScanner: Sendable, Equatable {
    enum Phase: UInt8, Sendable {
        /// At the start of a field line or of the empty line that ends the section.
        case lineStart
        /// In a field name; `nameStart` is its first byte.
        case name
        /// In a field value; `colon` is where the name ended.
        case value
        /// After a field line's CR.
        case lineLF
        /// After the CR of the empty line.
        case finalLF
        /// The section ended; nothing more to scan.
        case complete
    }

    enum Outcome: Equatable {
        /// Every byte up to the limit is valid; the section has not ended.
        case incomplete
        /// The empty line ended the section; the scan stopped just after its LF.
        case complete
        /// A byte broke the syntax; the scan stopped at it.
        case malformed
        /// One field line more than `fieldsMax` began.
        case tooManyFields
    }

    var phase: Phase = .lineStart
    var nameStart = 0
    var colon = 0
    var fieldCount = 0

    /// Scans from `index` up to `limit` and leaves `index` where the scan stopped. The phases that
    /// cover many bytes (name, value) run a tight loop of their own.
    ///
    /// The state is used in place on `self` (which is `inout`, so nothing aliases it) rather than
    /// copied into locals and written back: measured with callgrind on the request benchmark heads,
    /// the copies cost 2.6% more instructions per request, spilled to the stack.
    mutating func scan(
        _ bytes: Span<UInt8>, index: inout Int, limit: Int, fieldsMax: Int, fill: Bool,
        into headers: inout [HeaderField]
    ) -> Outcome {
        var position = index
        var outcome = Outcome.incomplete

        scanning: while position < limit {
            switch phase {
            case .lineStart:
                let byte = bytes[position]
                if byte == HTTPBytes.cr {
                    phase = .finalLF
                } else if HTTPBytes.isTokenByte(byte) {
                    fieldCount += 1
                    if fieldCount > fieldsMax {
                        outcome = .tooManyFields
                        break scanning
                    }
                    nameStart = position
                    phase = .name
                } else {
                    // SP or HTAB here is obs-fold (RFC 9112 §5.2), `:` an empty name, LF a bare LF.
                    outcome = .malformed
                    break scanning
                }
                position += 1

            case .name:
                while position < limit {
                    let byte = bytes[position]
                    if HTTPBytes.isTokenByte(byte) {
                        position += 1
                    } else if byte == HTTPBytes.colon {
                        colon = position
                        position += 1
                        phase = .value
                        break
                    } else {
                        // Whitespace before the colon is refused (RFC 9112 §5.1).
                        outcome = .malformed
                        break scanning
                    }
                }

            case .value:
                position = HTTPBytes.skipWords(bytes, from: position, limit: limit, lowest: HTTPBytes.space)
                while position < limit {
                    let byte = bytes[position]
                    if HTTPBytes.isFieldValueByte(byte) {
                        position += 1
                    } else if byte == HTTPBytes.cr {
                        position += 1
                        phase = .lineLF
                        break
                    } else {
                        outcome = .malformed
                        break scanning
                    }
                }

            case .lineLF:
                guard bytes[position] == HTTPBytes.lf else {
                    outcome = .malformed
                    break scanning
                }
                if fill {
                    // `position - 1` is the CR that ends the value.
                    let value = HTTPBytes.trimmingWhitespace(bytes, (colon + 1)..<(position - 1))
                    headers.append(HeaderField(name: nameStart..<colon, value: value))
                }
                phase = .lineStart
                position += 1

            case .finalLF:
                guard bytes[position] == HTTPBytes.lf else {
                    outcome = .malformed
                    break scanning
                }
                position += 1
                phase = .complete
                outcome = .complete
                break scanning

            case .complete:
                preconditionFailure("field section scan resumed after it was complete")
            }
        }

        index = position
        return outcome
    }
}

/// What the `Connection` fields of a message say (RFC 9110 §7.6.1), gathered across all of them.
struct ConnectionOptions: Sendable, Equatable {
    /// `close` was listed: the connection ends after this message.
    var close = false
    /// `keep-alive` was listed: an HTTP/1.0 peer asks to keep the connection.
    var keepAlive = false
    /// An option other than `keep-alive` was listed, `close` included. Every option names a field
    /// that is hop-by-hop in this message (RFC 9110 §7.6.1); `keep-alive` is one of the fixed
    /// hop-by-hop names anyway, so only the others make a proxy look names up (see `HopByHop`).
    var namesFields = false

    /// Adds the options of one `Connection` field value. Empty elements are ignored.
    mutating func add(_ bytes: Span<UInt8>, _ value: Range<Int>) {
        var options = FieldListIterator(value)
        while let option = options.next(in: bytes) {
            if FieldName.keepAlive.matches(bytes, option) {
                keepAlive = true
            } else if !option.isEmpty {
                namesFields = true
                if FieldName.close.matches(bytes, option) {
                    close = true
                }
            }
        }
    }
}

/// Field values this module interprets, shared by the request and the response parser.
enum FieldValue {
    /// The value of a `Content-Length` field: 1*DIGIT, or a list of identical such values
    /// (RFC 9112 §6.3 allows treating `5, 5` as 5). Nil when invalid: a sign, inner whitespace,
    /// hex, an empty element, differing values, or more than 18 digits (which also rules out
    /// overflow, since 18 nines are below `Int.max`).
    static func contentLength(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Int? {
        var result: Int? = nil
        var elements = FieldListIterator(range)
        while let element = elements.next(in: bytes) {
            guard !element.isEmpty, element.count <= 18 else { return nil }
            var value = 0
            for index in element {
                let byte = bytes[index]
                guard HTTPBytes.isDigit(byte) else { return nil }
                value = value * 10 + Int(byte &- 0x30)
            }
            if let result, result != value { return nil }
            result = value
        }
        return result
    }
}

/// Hop-by-hop fields (RFC 9110 §7.6.1): they describe one connection, not the message, so a proxy
/// drops them when it forwards a message, in either direction. They are the fixed names below plus
/// every field named by an option of the message's `Connection` fields.
public enum HopByHop {
    /// Whether `bytes[name]` is one of the names that are hop-by-hop in every message, compared
    /// ignoring case: `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
    /// `Transfer-Encoding`, `Upgrade`. (`Trailer` announces trailer fields of a chunked body,
    /// which a proxy that re-frames the body does not forward as they came.)
    public static func isFixedName(_ bytes: Span<UInt8>, _ name: Range<Int>) -> Bool {
        // Dispatching on the length first means most names cost one comparison or none.
        switch name.count {
        case 2: FieldName.te.matches(bytes, name)
        case 7:
            FieldName.trailer.matches(bytes, name)
                || FieldName.upgrade.matches(bytes, name)
        case 10:
            FieldName.connection.matches(bytes, name)
                || FieldName.keepAlive.matches(bytes, name)
        case 16: FieldName.proxyConnection.matches(bytes, name)
        case 17: FieldName.transferEncoding.matches(bytes, name)
        default: false
        }
    }

    /// Whether `bytes[name]` is listed as an option by one of the `Connection` fields in `headers`
    /// (compared ignoring case). Walks every field, so it costs O(fields) per call: callers that
    /// know the message has no such options (`ResponseHead.isHopByHop`) skip it.
    public static func isListedInConnection(
        _ bytes: Span<UInt8>, _ name: Range<Int>, headers: [HeaderField]
    ) -> Bool {
        for field in headers
        where field.name.count == 10
            && FieldName.connection.matches(bytes, field.name)
        {
            var options = FieldListIterator(field.value)
            while let option = options.next(in: bytes) {
                if HTTPBytes.equalsIgnoringCase(bytes, option, bytes, name) { return true }
            }
        }
        return false
    }

    /// Whether the field named `bytes[name]` is hop-by-hop in the message whose fields are
    /// `headers`: a fixed name, or one listed by its `Connection` fields. Works for request and
    /// response heads alike (`RequestHead.headers`, `ResponseHead.headers`).
    public static func isHopByHop(_ bytes: Span<UInt8>, _ name: Range<Int>, headers: [HeaderField]) -> Bool {
        isFixedName(bytes, name) || isListedInConnection(bytes, name, headers: headers)
    }
}

/// Field names and tokens this module interprets.
enum FieldName: Sendable {
    case host, contentLength, transferEncoding, connection, expect, proxyConnection, te, trailer, upgrade
    /// Tokens within field values.
    case chunked, close, keepAlive, continue100

    /// Whether `bytes[range]` is this name or token, ignoring ASCII case.
    ///
    /// The bytes are compared here, in the file that declares them, rather than handed out as
    /// spans: a debug build (one file at a time) cannot borrow a span of another file's global
    /// array for longer than one expression. Optimized builds fold the switch away, since `self`
    /// is always a constant at the call site.
    func matches(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        switch self {
        case .host: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.host.span)
        case .contentLength:
            HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.contentLength.span)
        case .transferEncoding:
            HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.transferEncoding.span)
        case .connection: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.connection.span)
        case .expect: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.expect.span)
        case .proxyConnection:
            HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.proxyConnection.span)
        case .te: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.te.span)
        case .trailer: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.trailer.span)
        case .upgrade: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.upgrade.span)
        case .chunked: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.chunked.span)
        case .close: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.close.span)
        case .keepAlive: HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.keepAlive.span)
        case .continue100:
            HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: Lowercased.continue100.span)
        }
    }

    /// The names and tokens, lowercase, as bytes.
    private enum Lowercased {
        static let host: [UInt8] = Array("host".utf8)
        static let contentLength: [UInt8] = Array("content-length".utf8)
        static let transferEncoding: [UInt8] = Array("transfer-encoding".utf8)
        static let connection: [UInt8] = Array("connection".utf8)
        static let expect: [UInt8] = Array("expect".utf8)
        static let proxyConnection: [UInt8] = Array("proxy-connection".utf8)
        static let te: [UInt8] = Array("te".utf8)
        static let trailer: [UInt8] = Array("trailer".utf8)
        static let upgrade: [UInt8] = Array("upgrade".utf8)
        static let chunked: [UInt8] = Array("chunked".utf8)
        static let close: [UInt8] = Array("close".utf8)
        static let keepAlive: [UInt8] = Array("keep-alive".utf8)
        static let continue100: [UInt8] = Array("100-continue".utf8)
    }
}
