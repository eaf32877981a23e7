/// How the body of an upstream's response is delimited (RFC 9112 §6.3).
public enum ResponseFraming: Equatable, Sendable {
    /// No body follows the head, whatever its fields say: the answer to a `HEAD` request, or a
    /// 1xx, 204 or 304 response. The next response (or nothing) follows directly.
    case none
    /// Exactly this many body bytes follow (`Content-Length`), at most `bodyBytesMax`.
    case length(Int)
    /// A chunked body follows (`Transfer-Encoding: chunked`); decode it with `ChunkedBodyDecoder`.
    case chunked
    /// The body runs until the upstream closes the connection: the response has neither
    /// `Content-Length` nor `Transfer-Encoding` (HTTP/1.0 style). `keepAlive` is then false.
    case untilClose
}

/// Why an upstream's response head was refused. Each one means the upstream connection cannot be
/// trusted to frame what follows: close it, and answer the client 502 (API Gateway's
/// `{"message": "Internal server error"}` for a bad integration response).
public enum UpstreamResponseError: Error, Equatable, Sendable {
    /// Not a valid HTTP/1.x response head, or one whose framing fields contradict each other
    /// (differing `Content-Length` values, `chunked` twice, `Transfer-Encoding` in HTTP/1.0),
    /// or a 101 (Switching Protocols), which the gateway never asks for.
    case malformed
    /// Status line and fields over `headBytesMax` bytes, or more than `headersMax` fields.
    case headTooLarge
    /// `Content-Length` over `bodyBytesMax`.
    case bodyTooLarge
    /// A transfer coding other than `chunked` on a response with a body: the gateway decodes only
    /// chunked, and cannot pass a transfer coding on, since `Transfer-Encoding` is hop-by-hop.
    case unsupportedTransferCoding
}

/// A parsed response head from an upstream. Every range indexes the byte buffer the head was
/// parsed from, which the caller keeps alive while it uses the head. One value is reused for every
/// response on a worker: `headers` keeps its capacity, so parsing does not allocate in steady state.
public struct ResponseHead: Sendable, Equatable {
    /// The status code, 100...999.
    public var status: Int = 0
    /// The reason phrase exactly as sent, between the space after the status code and the CR;
    /// empty when there is none (`HTTP/1.1 200 \r\n`, or `HTTP/1.1 200\r\n` without the space, in
    /// which case the range sits at the CR).
    public var reason: Range<Int> = 0..<0
    /// `HTTP/1.0`, or `.http11` for `HTTP/1.1` and any other `HTTP/1.x` (RFC 9110 §2.5).
    public var version: HTTPVersion = .http11
    public var headers: [HeaderField] = []
    public var framing: ResponseFraming = .none
    /// Whether the upstream connection may carry another request after this response's body:
    /// HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`; never with
    /// `.untilClose` framing, nor when `contentLengthIgnored`. For an interim (1xx) response it
    /// says what that head's fields say; the final response's value is the one that counts.
    public var keepAlive: Bool = true
    /// The response had both `Transfer-Encoding` and `Content-Length`. The transfer coding frames
    /// the body and the length is ignored (RFC 9112 §6.3 rule 3); the response is still served, but
    /// such a message "ought to be handled as an error" as a possible smuggling or splitting
    /// attempt, so `keepAlive` is false, and a proxy must not forward the `Content-Length`.
    public var contentLengthIgnored: Bool = false
    /// The `Connection` fields list an option other than `keep-alive` (`close` included), so
    /// `isHopByHop` must look names up in them; when false it answers from the fixed names alone.
    public internal(set) var connectionNamesFields: Bool = false
    /// Bytes from the first byte given to the parser through the blank line that ends the head.
    /// Bytes from here on are the body or, after an interim response, the next response head.
    public var headLength: Int = 0

    public init(headersCapacity: Int = 100) {
        headers.reserveCapacity(headersCapacity)
    }

    /// An interim (1xx) response: another head follows it. See `ResponseHeadParser`.
    public var isInterim: Bool { status < 200 }

    /// Whether the field named `bytes[name]` is hop-by-hop in this response (RFC 9110 §7.6.1), so
    /// that a proxy must not copy it to its client: one of the names `HopByHop.isFixedName` knows,
    /// or a name listed by this response's `Connection` fields. `bytes` is what the head was parsed
    /// from. Allocates nothing; costs a length switch unless `connectionNamesFields`, then a walk
    /// over the `Connection` fields.
    public func isHopByHop(_ name: Range<Int>, in bytes: Span<UInt8>) -> Bool {
        if HopByHop.isFixedName(bytes, name) { return true }
        return connectionNamesFields && HopByHop.isListedInConnection(bytes, name, headers: headers)
    }
}

/// An incremental, strict HTTP/1.1 response-head parser for answers from upstreams (RFC 9112 §4,
/// §5, §6.3), the counterpart of `RequestHeadParser`, with the same contract.
///
/// The caller accumulates one response's bytes and calls `parse` with all bytes received so far:
/// the same prefix plus whatever arrived since. Each call resumes where the previous one stopped,
/// so feeding a head one byte at a time costs O(n) in total. `.incomplete` means every byte so far
/// is valid and within the limits; a bad byte is reported as soon as it arrives. As in the request
/// parser, ranges are recorded only by a scan that starts at the head's first byte, and a head that
/// arrived in pieces is scanned once more when complete to record them (once, not per piece), so
/// `ResponseHead` may be shared between connections between calls.
///
/// The field lines are checked by the same `FieldSectionScanner` as requests' (no obs-fold, no
/// whitespace before a colon, no bare CR or LF, no control bytes in values) and counted against the
/// same `RequestLimits`. An upstream is trusted no more than a client: a lenient reading of its
/// framing is how response splitting and desynchronized connection pools happen.
///
/// Status line: `HTTP/1.x SP 3DIGIT SP reason CRLF`.
/// - The version must be `HTTP/1.0` or `HTTP/1.x` (read as 1.1); anything else is malformed.
/// - The status code is three digits, the first 1–9 (100...999).
/// - The reason phrase may be empty, and the space before an empty reason may be missing
///   (`HTTP/1.1 200\r\n`), as some servers send it. Its bytes are VCHAR, SP, HTAB or obs-text.
/// - There are no empty lines before the status line: RFC 9112 §2.2 lets servers skip them before a
///   request, not clients before a response, and a stray CRLF after a body means the upstream's
///   framing is off by two bytes, so the connection is refused rather than resynchronized.
///
/// Framing (`ResponseFraming`), in the order of RFC 9112 §6.3:
/// 1. The answer to `HEAD` (`requestMethod`), and 1xx, 204 and 304 responses, have no body:
///    `.none`, whatever `Content-Length` or `Transfer-Encoding` say. Those fields must still be
///    well formed (a proxy forwards the `Content-Length` of a `HEAD` or 304 answer as it came), but
///    their meaning is not applied: no `bodyTooLarge`, no `unsupportedTransferCoding`.
/// 2. `Transfer-Encoding` (its codings read in order across all its fields): `chunked` as the only
///    coding gives `.chunked`. With `Content-Length` too, the length is ignored and the response is
///    flagged (`contentLengthIgnored`, no keep-alive). Any other coding (`gzip, chunked`, or `gzip`
///    alone, whose body RFC 9112 would read until close) is `unsupportedTransferCoding`: the
///    gateway decodes only chunked and could not hand the client the coded bytes (nginx refuses
///    them the same way). `chunked` twice or an empty list element is malformed, and so is
///    `Transfer-Encoding` in an HTTP/1.0 response (RFC 9112 §6.1 calls its framing faulty).
/// 3. `Content-Length`: digits only, identical duplicates and lists (`5, 5`) allowed, differing
///    values malformed (the same rules as requests); over `bodyBytesMax` is `bodyTooLarge`.
///    `Content-Length: 0` gives `.length(0)`.
/// 4. Neither: `.untilClose`, and the connection is not kept.
///
/// Interim responses: a 1xx other than 101 completes with `.none` framing and `isInterim`. The
/// final response follows it on the same connection: the caller drops the first `headLength` bytes
/// and calls `parse` again with the rest (for example `bytes.extracting(head.headLength...)`; the
/// new head's ranges then index that span). No `reset()` is needed after `.complete`.
///
/// 101 (Switching Protocols) is malformed: the gateway forwards no `Upgrade` and never asks for a
/// protocol switch, so a 101 means the upstream and the gateway disagree about the connection.
///
/// The contents of `ResponseHead` are meaningful only after `.complete`, until the next call to
/// `parse` with that head. After `.complete` or `.failed`, call `reset()` before parsing the next
/// response (parsing again after `.complete` resets by itself). A failure is sticky.
public struct ResponseHeadParser: Sendable {
    /// The outcome of one call to `parse`.
    public enum HeadParseResult: Equatable, Sendable {
        /// No complete head yet; every byte seen so far is valid and within the limits.
        case incomplete
        /// The head is complete and `ResponseHead` describes it; `headLength` bytes were used.
        case complete
        /// The response is refused; close the upstream connection and answer the client 502.
        case failed(UpstreamResponseError)
    }

    /// Where the scan stands. Each phase names what the next byte must be part of.
    enum Phase: UInt8, Sendable {
        /// In `HTTP/1.x SP 3DIGIT` and the byte after it (SP or CR). These bytes sit at fixed
        /// offsets 0...12 from the head's first byte, so the offset says which one is next.
        case statusLine
        /// In the reason phrase, after the SP that follows the status code.
        case reason
        /// After the status line's CR.
        case statusLineLF
        /// In the field section, which `fields` scans.
        case fields
        /// The head was complete at `offset`.
        case complete
    }

    enum ScanResult: Equatable {
        case incomplete
        case complete(headLength: Int)
        case failed(UpstreamResponseError)
    }

    /// `headBytesMax` and `headersMax` bound the head as they do a request's; `bodyBytesMax` bounds
    /// `Content-Length`.
    public let limits: RequestLimits

    // Scan progress, kept between calls so that a resumed call never re-reads a byte.
    var phase: Phase = .statusLine
    var offset = 0
    var fields = FieldSectionScanner()
    var failure: UpstreamResponseError? = nil

    public init(limits: RequestLimits) {
        self.limits = limits
    }

    /// Forget scan progress; call before parsing a new response.
    public mutating func reset() {
        phase = .statusLine
        offset = 0
        fields = FieldSectionScanner()
        failure = nil
    }

    /// Parses a complete response head at the start of `bytes` into `head` (ranges index `bytes`).
    ///
    /// `bytes` must hold every byte of the response given to previous calls since `reset()`, in the
    /// same order, plus any that arrived since; bytes after the head (the body, or the final
    /// response after an interim one) are allowed and left alone. `head.headers` is emptied keeping
    /// its capacity and refilled, so parsing does not allocate as long as that capacity is at least
    /// `limits.headersMax`.
    ///
    /// - Parameter requestMethod: the method of the request this answers: a `HEAD` request's answer
    ///   has no body whatever its fields say. Never `.connect`, which the gateway does not send.
    public mutating func parse(
        _ bytes: Span<UInt8>, requestMethod: HTTPMethod, into head: inout ResponseHead
    ) -> HeadParseResult {
        precondition(requestMethod != .connect, "the gateway never sends CONNECT upstream")
        if let failure { return .failed(failure) }
        if phase == .complete { reset() }
        precondition(bytes.count >= offset, "parse must be given at least the bytes already scanned")

        // As for requests, the scan never looks past `headBytesMax`, so that the outcome does not
        // depend on how the bytes arrive.
        let limit = min(bytes.count, limits.headBytesMax)
        let startsFresh = phase == .statusLine && offset == 0
        if startsFresh { beginFilling(&head) }

        switch scan(bytes, limit: limit, fill: startsFresh, into: &head) {
        case .failed(let error):
            failure = error
            return .failed(error)
        case .incomplete:
            if bytes.count > limits.headBytesMax {
                failure = .headTooLarge
                return .failed(.headTooLarge)
            }
            return .incomplete
        case .complete(let headLength):
            if !startsFresh {
                // This call found the end of a head whose start was scanned earlier, so its
                // ranges were not recorded; scan the complete head once more to record them.
                var recorder = ResponseHeadParser(limits: limits)
                beginFilling(&head)
                let again = recorder.scan(bytes, limit: headLength, fill: true, into: &head)
                precondition(again == .complete(headLength: headLength), "rescan disagrees with scan")
            }
            head.headLength = headLength
            if let error = interpret(bytes, requestMethod: requestMethod, &head) {
                failure = error
                return .failed(error)
            }
            return .complete
        }
    }

    private func beginFilling(_ head: inout ResponseHead) {
        head.headers.removeAll(keepingCapacity: true)
        head.status = 0
        head.reason = 0..<0
        head.version = .http11
        head.framing = .none
        head.keepAlive = true
        head.contentLengthIgnored = false
        head.connectionNamesFields = false
        head.headLength = 0
    }

    // MARK: - Syntax

    /// Checks syntax from `offset` up to `limit`, saving progress. With `fill`, which is only valid
    /// when the scan starts at the head's first byte, it also records the status line and each
    /// field into `head`.
    mutating func scan(
        _ bytes: Span<UInt8>, limit: Int, fill: Bool, into head: inout ResponseHead
    ) -> ScanResult {
        var index = offset
        var phase = self.phase
        var result = ScanResult.incomplete

        scanning: while index < limit {
            switch phase {
            case .statusLine:
                // `HTTP/1.` DIGIT SP, then the status code's three digits, each byte checked as it
                // arrives so that junk fails at its first byte; the head starts at offset 0.
                let byte = bytes[index]
                let valid: Bool
                switch index {
                case 0: valid = byte == 0x48  // H
                case 1, 2: valid = byte == 0x54  // T
                case 3: valid = byte == 0x50  // P
                case 4: valid = byte == HTTPBytes.slash
                case 5: valid = byte == 0x31  // 1: HTTP/2 and later do not speak this syntax.
                case 6: valid = byte == 0x2E  // .
                case 7, 10, 11: valid = HTTPBytes.isDigit(byte)
                case 8: valid = byte == HTTPBytes.space
                case 9: valid = byte &- 0x31 < 9  // 1-9: status codes are 100...999.
                default:
                    // After the status code: SP and a reason phrase, or CR when a server leaves
                    // out both.
                    valid = byte == HTTPBytes.space || byte == HTTPBytes.cr
                    if byte == HTTPBytes.space { phase = .reason }
                    if byte == HTTPBytes.cr { phase = .statusLineLF }
                }
                guard valid else {
                    result = .failed(.malformed)
                    break scanning
                }
                index += 1

            case .reason:
                index = HTTPBytes.skipWords(bytes, from: index, limit: limit, lowest: HTTPBytes.space)
                while index < limit {
                    let byte = bytes[index]
                    // reason-phrase is HTAB, SP, VCHAR and obs-text: the field-value bytes.
                    if HTTPBytes.isFieldValueByte(byte) {
                        index += 1
                    } else if byte == HTTPBytes.cr {
                        index += 1
                        phase = .statusLineLF
                        break
                    } else {
                        result = .failed(.malformed)
                        break scanning
                    }
                }

            case .statusLineLF:
                guard bytes[index] == HTTPBytes.lf else {
                    result = .failed(.malformed)
                    break scanning
                }
                if fill {
                    head.version = bytes[7] == 0x30 ? .http10 : .http11
                    head.status = Int(bytes[9] &- 0x30) * 100 + Int(bytes[10] &- 0x30) * 10
                        + Int(bytes[11] &- 0x30)
                    // `index - 1` is the CR; byte 12 is the SP before the reason, or that CR.
                    let reasonStart = bytes[12] == HTTPBytes.space ? 13 : 12
                    head.reason = reasonStart..<(index - 1)
                }
                phase = .fields
                index += 1

            case .fields:
                switch fields.scan(bytes, index: &index, limit: limit, fieldsMax: limits.headersMax,
                                   fill: fill, into: &head.headers) {
                case .incomplete:
                    break
                case .complete:
                    phase = .complete
                    result = .complete(headLength: index)
                case .malformed:
                    result = .failed(.malformed)
                case .tooManyFields:
                    result = .failed(.headTooLarge)
                }
                break scanning

            case .complete:
                preconditionFailure("scan resumed after the head was complete")
            }
        }

        self.phase = phase
        self.offset = index
        return result
    }

    // MARK: - Meaning

    /// Interprets a head whose syntax is valid and whose ranges are recorded: the status code and
    /// the fields that decide framing and connection reuse. Returns why the response is refused,
    /// or nil.
    func interpret(
        _ bytes: Span<UInt8>, requestMethod: HTTPMethod, _ head: inout ResponseHead
    ) -> UpstreamResponseError? {
        let status = head.status
        if status == 101 { return .malformed }
        let version = head.version
        var contentLength: Int? = nil
        var hasTransferEncoding = false
        var hasChunked = false
        var hasOtherCoding = false
        var connection = ConnectionOptions()

        for field in head.headers {
            // Dispatching on the name's length first means most fields cost one comparison.
            switch field.name.count {
            case 14 where FieldName.contentLength.matches(bytes, field.name):
                guard let length = FieldValue.contentLength(bytes, field.value) else { return .malformed }
                if let previous = contentLength, previous != length { return .malformed }
                contentLength = length

            case 17 where FieldName.transferEncoding.matches(bytes, field.name):
                if version == .http10 { return .malformed }
                hasTransferEncoding = true
                var codings = FieldListIterator(field.value)
                while let coding = codings.next(in: bytes) {
                    if coding.isEmpty { return .malformed }
                    if FieldName.chunked.matches(bytes, coding) {
                        // A sender must not apply chunked more than once (RFC 9112 §7).
                        if hasChunked { return .malformed }
                        hasChunked = true
                    } else {
                        hasOtherCoding = true
                    }
                }

            case 10 where FieldName.connection.matches(bytes, field.name):
                connection.add(bytes, field.value)

            default:
                break
            }
        }

        head.connectionNamesFields = connection.namesFields
        head.contentLengthIgnored = hasTransferEncoding && contentLength != nil

        let hasBody = requestMethod != .head && status >= 200 && status != 204 && status != 304
        if !hasBody {
            head.framing = .none
        } else if hasTransferEncoding {
            // Only `chunked`, exactly once, is left here, so it is the final coding.
            if hasOtherCoding { return .unsupportedTransferCoding }
            head.framing = .chunked
        } else if let contentLength {
            if contentLength > limits.bodyBytesMax { return .bodyTooLarge }
            head.framing = .length(contentLength)
        } else {
            head.framing = .untilClose
        }

        head.keepAlive = !connection.close && (version == .http11 || connection.keepAlive)
            && head.framing != .untilClose && !head.contentLengthIgnored
        return nil
    }
}
