/// An incremental decoder for `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1).
///
/// Bytes may arrive split anywhere, down to one at a time: the decoder keeps its place between
/// calls and never needs to see a byte twice. Chunk data is not copied; each step reports the range
/// of the caller's bytes that is body data.
///
/// It is strict where leniency would let two parsers disagree about where the body ends:
/// - chunk-size is 1*HEXDIG with nothing around it: no whitespace (RFC 9112 allows "bad
///   whitespace" before a `;`; we refuse it, as a proxy in front of us might not strip it the same
///   way), no `0x`, no sign, at most 16 digits and at most `Int.max`;
/// - chunk extensions (`;name` or `;name=value`, value a token or quoted-string) are checked and
///   ignored, up to `extensionBytesMax` bytes per chunk line;
/// - every line ends in CRLF; a bare CR or LF is 400; chunk data must be followed by CRLF exactly;
/// - trailer fields after the last chunk are checked like header fields (no obs-fold, no whitespace
///   before the colon, no control characters) and ignored; the trailer section, final CRLF
///   included, may hold at most `trailerBytesMax` bytes, else 431.
/// Decoded bytes beyond `bodyBytesMax` are 413, reported as soon as a chunk-size line announces
/// them, before their data arrives.
public struct ChunkedBodyDecoder: Sendable {
    /// The outcome of one call to `decode`.
    public struct ChunkedStep: Equatable, Sendable {
        /// Bytes used from the start of the span given to `decode`.
        public var consumed: Int
        /// The body data among those bytes, as a range of that span; nil when there is none.
        public var data: Range<Int>?
        public var state: State

        public init(consumed: Int, data: Range<Int>?, state: State) {
            self.consumed = consumed
            self.data = data
            self.state = state
        }
    }

    public enum State: Equatable, Sendable {
        /// The body is not finished. If `consumed` is less than the bytes given, call `decode`
        /// again with the rest (a step returns at most one data range); otherwise wait for more.
        case needMore
        /// The final CRLF was consumed; bytes after it belong to the next request.
        case done
        /// The body is malformed or too large; answer `error.status` and close the connection.
        case failed(RequestError)
    }

    enum Phase: UInt8, Sendable {
        /// At the first digit of a chunk-size.
        case sizeStart
        /// After at least one digit of a chunk-size.
        case size
        /// After `;`: a chunk-ext-name must start.
        case extensionNameStart
        case extensionName
        /// After `=`: a token or a quoted-string must start.
        case extensionValueStart
        case extensionToken
        case extensionQuoted
        /// After a backslash inside a quoted-string.
        case extensionQuotedPair
        /// After the closing quote: `;` or CR.
        case extensionAfterQuoted
        /// After the CR that ends a chunk-size line.
        case sizeLF
        case data
        case dataCR
        case dataLF
        /// At the start of a trailer field line or of the final CRLF.
        case trailerStart
        case trailerName
        case trailerValue
        case trailerLF
        case finalLF
        case done
    }

    public let bodyBytesMax: Int
    public let extensionBytesMax: Int
    public let trailerBytesMax: Int

    var phase: Phase = .sizeStart
    /// The chunk-size being read, then the data bytes of the current chunk not yet returned.
    var chunkBytes = 0
    var sizeDigits = 0
    /// Bytes of the current chunk line's extensions, or of the trailer section so far.
    var sectionBytes = 0
    /// Decoded body bytes announced so far, counted against `bodyBytesMax`.
    var bodyBytes = 0
    var failure: RequestError? = nil

    /// - Parameters:
    ///   - bodyBytesMax: decoded body bytes allowed (API Gateway: 10 MB).
    ///   - extensionBytesMax: chunk-extension bytes allowed on one chunk-size line.
    ///   - trailerBytesMax: bytes allowed for the trailer section, its final CRLF included.
    public init(bodyBytesMax: Int, extensionBytesMax: Int = 4096, trailerBytesMax: Int = 10_240) {
        self.bodyBytesMax = bodyBytesMax
        self.extensionBytesMax = extensionBytesMax
        self.trailerBytesMax = trailerBytesMax
    }

    /// Forget all progress; call before decoding a new body.
    public mutating func reset() {
        phase = .sizeStart
        chunkBytes = 0
        sizeDigits = 0
        sectionBytes = 0
        bodyBytes = 0
        failure = nil
    }

    /// Whether the final CRLF has been consumed.
    public var isDone: Bool { phase == .done }

    /// Decodes from the start of `bytes`. Returns how many bytes were consumed and, if any, the
    /// range of `bytes` that is body data. Call again with the rest until `.done`, `.failed` or all
    /// consumed. After `.done`, `consumed` stops exactly after the final CRLF, so pipelined bytes
    /// after it are not consumed; further calls consume nothing. A failure is sticky.
    public mutating func decode(_ bytes: Span<UInt8>) -> ChunkedStep {
        if let failure { return ChunkedStep(consumed: 0, data: nil, state: .failed(failure)) }
        var index = 0
        while index < bytes.count {
            if phase == .data {
                // The one phase that covers many bytes: hand them out as a range, uncopied.
                let take = min(chunkBytes, bytes.count - index)
                chunkBytes -= take
                if chunkBytes == 0 { phase = .dataCR }
                return ChunkedStep(consumed: index + take, data: index..<(index + take), state: .needMore)
            }
            if phase == .done { break }
            if let error = step(bytes[index]) {
                failure = error
                return ChunkedStep(consumed: index, data: nil, state: .failed(error))
            }
            index += 1
        }
        return ChunkedStep(consumed: index, data: nil, state: phase == .done ? .done : .needMore)
    }

    /// Advances the framing by one byte; returns why the body is refused, or nil.
    mutating func step(_ byte: UInt8) -> RequestError? {
        switch phase {
        case .sizeStart:
            guard let digit = HTTPBytes.hexValue(byte) else { return .badRequest }
            chunkBytes = digit
            sizeDigits = 1
            phase = .size

        case .size:
            if let digit = HTTPBytes.hexValue(byte) {
                sizeDigits += 1
                // Sixteen hex digits can exceed Int.max; the second test catches that.
                guard sizeDigits <= 16, chunkBytes <= Int.max >> 4 else { return .badRequest }
                chunkBytes = chunkBytes << 4 | digit
            } else if byte == HTTPBytes.semicolon {
                sectionBytes = 1
                phase = .extensionNameStart
            } else if byte == HTTPBytes.cr {
                phase = .sizeLF
            } else {
                return .badRequest
            }

        case .extensionNameStart, .extensionName, .extensionValueStart, .extensionToken,
            .extensionQuoted, .extensionQuotedPair, .extensionAfterQuoted:
            return stepExtension(byte)

        case .sizeLF:
            guard byte == HTTPBytes.lf else { return .badRequest }
            sizeDigits = 0
            if chunkBytes == 0 {
                sectionBytes = 0
                phase = .trailerStart
            } else {
                // Refuse before the data arrives: the client announced more than we accept.
                guard chunkBytes <= bodyBytesMax - bodyBytes else { return .bodyTooLarge }
                bodyBytes += chunkBytes
                phase = .data
            }

        case .data:
            preconditionFailure("chunk data is handled by decode")

        case .dataCR:
            guard byte == HTTPBytes.cr else { return .badRequest }
            phase = .dataLF

        case .dataLF:
            guard byte == HTTPBytes.lf else { return .badRequest }
            phase = .sizeStart

        case .trailerStart, .trailerName, .trailerValue, .trailerLF, .finalLF:
            return stepTrailer(byte)

        case .done:
            preconditionFailure("step after the body was done")
        }
        return nil
    }

    /// One byte of `*( ";" token [ "=" ( token / quoted-string ) ] )` up to the line's CR.
    mutating func stepExtension(_ byte: UInt8) -> RequestError? {
        if byte == HTTPBytes.cr
            && (phase == .extensionName || phase == .extensionToken || phase == .extensionAfterQuoted)
        {
            phase = .sizeLF
            return nil
        }
        sectionBytes += 1
        guard sectionBytes <= extensionBytesMax else { return .badRequest }

        switch phase {
        case .extensionNameStart:
            guard HTTPBytes.isTokenByte(byte) else { return .badRequest }
            phase = .extensionName
        case .extensionName:
            if byte == HTTPBytes.equals {
                phase = .extensionValueStart
            } else if byte == HTTPBytes.semicolon {
                phase = .extensionNameStart
            } else if !HTTPBytes.isTokenByte(byte) {
                return .badRequest
            }
        case .extensionValueStart:
            if byte == HTTPBytes.quote {
                phase = .extensionQuoted
            } else if HTTPBytes.isTokenByte(byte) {
                phase = .extensionToken
            } else {
                return .badRequest
            }
        case .extensionToken:
            if byte == HTTPBytes.semicolon {
                phase = .extensionNameStart
            } else if !HTTPBytes.isTokenByte(byte) {
                return .badRequest
            }
        case .extensionQuoted:
            // qdtext (RFC 9110 §5.6.4): HTAB, SP, VCHAR except `"` and `\`, obs-text.
            if byte == HTTPBytes.quote {
                phase = .extensionAfterQuoted
            } else if byte == HTTPBytes.backslash {
                phase = .extensionQuotedPair
            } else if !HTTPBytes.isFieldValueByte(byte) {
                return .badRequest
            }
        case .extensionQuotedPair:
            guard HTTPBytes.isFieldValueByte(byte) else { return .badRequest }
            phase = .extensionQuoted
        case .extensionAfterQuoted:
            guard byte == HTTPBytes.semicolon else { return .badRequest }
            phase = .extensionNameStart
        default:
            preconditionFailure("not an extension phase")
        }
        return nil
    }

    /// One byte of the trailer section: field lines checked like header fields, then CRLF.
    mutating func stepTrailer(_ byte: UInt8) -> RequestError? {
        sectionBytes += 1
        guard sectionBytes <= trailerBytesMax else { return .headTooLarge }

        switch phase {
        case .trailerStart:
            if byte == HTTPBytes.cr {
                phase = .finalLF
            } else if HTTPBytes.isTokenByte(byte) {
                phase = .trailerName
            } else {
                return .badRequest  // obs-fold, an empty name, a bare LF or junk.
            }
        case .trailerName:
            if byte == HTTPBytes.colon {
                phase = .trailerValue
            } else if !HTTPBytes.isTokenByte(byte) {
                return .badRequest
            }
        case .trailerValue:
            if byte == HTTPBytes.cr {
                phase = .trailerLF
            } else if !HTTPBytes.isFieldValueByte(byte) {
                return .badRequest
            }
        case .trailerLF:
            guard byte == HTTPBytes.lf else { return .badRequest }
            phase = .trailerStart
        case .finalLF:
            guard byte == HTTPBytes.lf else { return .badRequest }
            phase = .done
        default:
            preconditionFailure("not a trailer phase")
        }
        return nil
    }
}
