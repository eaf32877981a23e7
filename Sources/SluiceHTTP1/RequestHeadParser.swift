/// An incremental, strict HTTP/1.1 request-head parser (RFC 9112 §2–§3, §5–§6, RFC 9110 §5).
///
/// The caller accumulates one request's bytes and calls `parse` with all bytes received so far:
/// the same prefix plus whatever arrived since. Each call resumes the scan where the previous one
/// stopped, so feeding a head one byte at a time costs O(n) in total. A bad byte is reported as
/// soon as it arrives; the head does not have to be complete for the request to be refused.
///
/// Two passes run over a head at most. The scan (`scan`) checks syntax byte by byte and, when it
/// starts at the head's first byte, records every range into the `RequestHead` as it goes. Once the
/// head is complete, `interpret` reads the recorded fields for their meaning: the target's form,
/// `Host`, framing (`Content-Length`, `Transfer-Encoding`), `Connection` and `Expect`. When a head
/// arrived in pieces, the scan that found its end started in the middle, so the complete head is
/// scanned once more from the start to record its ranges (O(n) once, not per piece). The common
/// case, a whole head in one read, is a single scan.
///
/// The parser is strict where leniency lets two HTTP implementations disagree about where a
/// request ends (request smuggling): CRLF only, no obs-fold, no whitespace before a field's colon,
/// one `Host`, `Content-Length` digits only and never together with `Transfer-Encoding`, and
/// `chunked` as the only and final transfer coding.
///
/// Choices where the RFCs leave room, so that users know what to expect:
/// - Empty lines (CRLF) before the request line are skipped; they count toward `headLength` and
///   `headBytesMax`, and the ranges in `RequestHead` index from the first byte given to `parse`.
/// - `CONNECT` is refused with 400 whatever its target: a gateway does not open tunnels.
/// - `*` is accepted only with `OPTIONS`; its `path` is the `*` itself.
/// - Absolute-form (`http://…`, `https://…`, scheme in any case) sets `host` to the authority and
///   takes precedence over the `Host` field, which must still be present and valid in HTTP/1.1.
///   An authority with userinfo (`user@host`) or an empty host is refused (RFC 9110 §4.2.4).
///   When the absolute-form target has no path (`http://example.com?q`), `path` is an empty range,
///   which means `/`.
/// - The `Host` value must be a `uri-host [ ":" port ]`; an empty `Host` is accepted.
/// - `Content-Length: 0` gives `.length(0)`, not `.none`: the framing says what the client sent.
///   Empty list elements in `Content-Length` or `Transfer-Encoding` are refused with 400.
/// - With `Transfer-Encoding`, codings are read in order across all its fields: a coding other
///   than `chunked` is 501, anything after `chunked` (including a second `chunked`) is 400.
/// - `Expect` with `100-continue` sets `expectsContinue` only in HTTP/1.1 (RFC 9110 §10.1.1 says
///   to ignore it in HTTP/1.0); any other expectation is 417 in either version; an empty `Expect`
///   is ignored.
/// - The contents of `RequestHead` are meaningful only after `.complete`, until the next call to
///   `parse` with that head: a call that returns `.incomplete` may already have written to it. A
///   worker that shares one head between connections uses it before parsing another connection.
///
/// After `.complete` or `.failed`, call `reset()` before parsing the next request. A failure is
/// sticky: further calls return it again without scanning. Calling `parse` again after
/// `.complete` without `reset()` parses the same head again from the start.
public struct RequestHeadParser: Sendable {
    /// The outcome of one call to `parse`.
    public enum HeadParseResult: Equatable, Sendable {
        /// No complete head yet; every byte seen so far is valid and within the limits.
        case incomplete
        /// The head is complete and `RequestHead` describes it; `headLength` bytes were used.
        case complete
        /// The request is refused; answer `error.status` and close the connection.
        case failed(RequestError)
    }

    /// Where the scan stands. Each phase names what the next byte must be part of.
    enum Phase: UInt8, Sendable {
        /// Before the request line: an empty line (CR) or the method's first byte.
        case start
        /// After a CR of a leading empty line: only LF.
        case startLF
        /// In the method; `markA` is its first byte.
        case method
        /// In the request target; `markA` is its first byte.
        case target
        /// In `HTTP/x.y CR`; `markA` is the `H`.
        case version
        /// After the request line's CR; `markA` is still the version's `H`.
        case requestLineLF
        /// In the field section, which `fields` scans.
        case fields
        /// The head was complete at `offset`.
        case complete
    }

    enum ScanResult: Equatable {
        case incomplete
        case complete(headLength: Int)
        case failed(RequestError)
    }

    public let limits: RequestLimits

    // Scan progress, kept between calls so that a resumed call never re-reads a byte.
    var phase: Phase = .start
    var offset = 0
    var markA = 0
    var fields = FieldSectionScanner()
    var failure: RequestError? = nil

    public init(limits: RequestLimits) {
        self.limits = limits
    }

    /// Forget scan progress; call before parsing a new request.
    public mutating func reset() {
        phase = .start
        offset = 0
        markA = 0
        fields = FieldSectionScanner()
        failure = nil
    }

    /// Parses a complete head at the start of `bytes` into `head` (ranges index `bytes`).
    ///
    /// `bytes` must hold every byte of the request given to previous calls since `reset()`, in the
    /// same order, plus any that arrived since; bytes after the head (a pipelined request, a body)
    /// are allowed and left alone. `head.headers` is emptied keeping its capacity and refilled, so
    /// parsing does not allocate as long as that capacity is at least `limits.headersMax`.
    public mutating func parse(_ bytes: Span<UInt8>, into head: inout RequestHead) -> HeadParseResult {
        if let failure { return .failed(failure) }
        if phase == .complete { reset() }
        precondition(bytes.count >= offset, "parse must be given at least the bytes already scanned")

        // The scan never looks past `headBytesMax`: a head that has not ended by then is too large
        // whatever follows, and stopping there keeps the outcome independent of how bytes arrive.
        let limit = min(bytes.count, limits.headBytesMax)
        let startsFresh = phase == .start && offset == 0
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
                var recorder = RequestHeadParser(limits: limits)
                beginFilling(&head)
                let again = recorder.scan(bytes, limit: headLength, fill: true, into: &head)
                precondition(again == .complete(headLength: headLength), "rescan disagrees with scan")
            }
            head.headLength = headLength
            if let error = interpret(bytes, &head) {
                failure = error
                return .failed(error)
            }
            return .complete
        }
    }

    private func beginFilling(_ head: inout RequestHead) {
        head.headers.removeAll(keepingCapacity: true)
        head.method = .other
        head.methodName = 0..<0
        head.target = 0..<0
        head.path = 0..<0
        head.query = 0..<0
        head.version = .http11
        head.host = 0..<0
        head.framing = .none
        head.keepAlive = true
        head.expectsContinue = false
        head.headLength = 0
    }

    // MARK: - Syntax

    /// Checks syntax from `offset` up to `limit`, saving progress. With `fill`, which is only valid
    /// when the scan starts at the head's first byte, it also records the request line's ranges and
    /// each field into `head`.
    ///
    /// The phases that cover many bytes (method, target, field name, field value) run a tight loop
    /// of their own rather than going round the phase switch for every byte.
    mutating func scan(
        _ bytes: Span<UInt8>, limit: Int, fill: Bool, into head: inout RequestHead
    ) -> ScanResult {
        var index = offset
        var phase = self.phase
        var markA = self.markA
        var result = ScanResult.incomplete

        scanning: while index < limit {
            switch phase {
            case .start:
                let byte = bytes[index]
                if byte == HTTPBytes.cr {
                    phase = .startLF
                } else if HTTPBytes.isTokenByte(byte) {
                    markA = index
                    phase = .method
                } else {
                    result = .failed(.badRequest)
                    break scanning
                }
                index += 1

            case .startLF:
                guard bytes[index] == HTTPBytes.lf else {
                    result = .failed(.badRequest)
                    break scanning
                }
                phase = .start
                index += 1

            case .method:
                while index < limit {
                    let byte = bytes[index]
                    if HTTPBytes.isTokenByte(byte) {
                        index += 1
                    } else if byte == HTTPBytes.space {
                        if fill { head.methodName = markA..<index }
                        index += 1
                        markA = index
                        phase = .target
                        break
                    } else {
                        result = .failed(.badRequest)
                        break scanning
                    }
                }

            case .target:
                index = HTTPBytes.skipWords(bytes, from: index, limit: limit, lowest: HTTPBytes.space + 1)
                while index < limit {
                    let byte = bytes[index]
                    // Bytes of 0x80 and above pass, as nginx lets them; the router sees them raw.
                    if byte > HTTPBytes.space && byte != HTTPBytes.delete {
                        index += 1
                    } else if byte == HTTPBytes.space && index > markA {
                        if fill { head.target = markA..<index }
                        index += 1
                        markA = index
                        phase = .version
                        break
                    } else {
                        // A control character, or a second space where the target should start.
                        result = .failed(.badRequest)
                        break scanning
                    }
                }

            case .version:
                // `HTTP/` DIGIT `.` DIGIT, then CR: exactly nine bytes, checked one at a time so that
                // junk fails at its first byte.
                let byte = bytes[index]
                let valid: Bool
                switch index - markA {
                case 0: valid = byte == 0x48  // H
                case 1, 2: valid = byte == 0x54  // T
                case 3: valid = byte == 0x50  // P
                case 4: valid = byte == HTTPBytes.slash
                case 5, 7: valid = HTTPBytes.isDigit(byte)
                case 6: valid = byte == 0x2E  // .
                default: valid = byte == HTTPBytes.cr
                }
                guard valid else {
                    result = .failed(.badRequest)
                    break scanning
                }
                if index - markA == 8 { phase = .requestLineLF }
                index += 1

            case .requestLineLF:
                guard bytes[index] == HTTPBytes.lf else {
                    result = .failed(.badRequest)
                    break scanning
                }
                // The version is judged once the request line is known to be well formed, so
                // `HTTP/2.0x` is 400 and `HTTP/2.0` is 505. Any HTTP/1 minor version other than 0
                // is served as 1.1, as RFC 9110 §2.5 asks of a recipient.
                guard bytes[markA + 5] == 0x31 else {
                    result = .failed(.versionNotSupported)
                    break scanning
                }
                if fill { head.version = bytes[markA + 7] == 0x30 ? .http10 : .http11 }
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
                    result = .failed(.badRequest)
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
        self.markA = markA
        return result
    }

    // MARK: - Meaning

    /// Interprets a head whose syntax is valid and whose ranges are recorded: the method, the
    /// target's form, and the fields that decide routing and framing. Returns why the request is
    /// refused, or nil.
    func interpret(_ bytes: Span<UInt8>, _ head: inout RequestHead) -> RequestError? {
        head.method = Self.method(bytes, head.methodName)
        if head.method == .connect { return .badRequest }
        if let error = Self.interpretTarget(bytes, &head) { return error }

        let version = head.version
        // An absolute-form target has already set `host` to its (never empty) authority, which
        // wins over the `Host` field (RFC 9112 §3.2.2).
        let targetHasAuthority = !head.host.isEmpty
        var hostFieldCount = 0
        var contentLength: Int? = nil
        var hasTransferEncoding = false
        var isChunked = false
        var connection = ConnectionOptions()
        var expectsContinue = false

        for field in head.headers {
            // Dispatching on the name's length first means most fields cost one comparison.
            switch field.name.count {
            case 4 where FieldName.host.matches(bytes, field.name):
                hostFieldCount += 1
                if hostFieldCount > 1 { return .badRequest }
                if !Self.isValidHost(bytes, field.value) { return .badRequest }
                if !targetHasAuthority { head.host = field.value }

            case 14 where FieldName.contentLength.matches(bytes, field.name):
                guard let length = FieldValue.contentLength(bytes, field.value) else { return .badRequest }
                if let previous = contentLength, previous != length { return .badRequest }
                contentLength = length

            case 17 where FieldName.transferEncoding.matches(bytes, field.name):
                // An HTTP/1.0 recipient cannot be trusted to frame a chunked body the way we do.
                if version == .http10 { return .badRequest }
                hasTransferEncoding = true
                var codings = FieldListIterator(field.value)
                while let coding = codings.next(in: bytes) {
                    if coding.isEmpty || isChunked { return .badRequest }
                    guard FieldName.chunked.matches(bytes, coding) else { return .notImplemented }
                    isChunked = true
                }

            case 10 where FieldName.connection.matches(bytes, field.name):
                connection.add(bytes, field.value)

            case 6 where FieldName.expect.matches(bytes, field.name):
                var expectations = FieldListIterator(field.value)
                while let expectation = expectations.next(in: bytes) {
                    if expectation.isEmpty { continue }
                    guard FieldName.continue100.matches(bytes, expectation) else { return .expectationFailed }
                    expectsContinue = true
                }

            default:
                break
            }
        }

        // A client MUST send Host in HTTP/1.1; a server MUST refuse a request without it
        // (RFC 9112 §3.2).
        if version == .http11 && hostFieldCount == 0 { return .badRequest }
        // Both framings at once is the classic smuggling request (RFC 9112 §6.1 allows refusing it).
        if hasTransferEncoding && contentLength != nil { return .badRequest }

        if isChunked {
            head.framing = .chunked
        } else if let contentLength {
            if contentLength > limits.bodyBytesMax { return .bodyTooLarge }
            head.framing = .length(contentLength)
        } else {
            head.framing = .none
        }
        head.keepAlive = connection.close ? false : (version == .http11 || connection.keepAlive)
        head.expectsContinue = expectsContinue && version == .http11
        return nil
    }

    /// Maps a method token to `HTTPMethod`. Methods are case-sensitive (RFC 9110 §9.1), so `get`
    /// is a valid token but `.other`.
    static func method(_ bytes: Span<UInt8>, _ range: Range<Int>) -> HTTPMethod {
        switch range.count {
        case 3:
            if HTTPBytes.equals(bytes, range, MethodName.get.span) { return .get }
            if HTTPBytes.equals(bytes, range, MethodName.put.span) { return .put }
        case 4:
            if HTTPBytes.equals(bytes, range, MethodName.post.span) { return .post }
            if HTTPBytes.equals(bytes, range, MethodName.head.span) { return .head }
        case 5:
            if HTTPBytes.equals(bytes, range, MethodName.patch.span) { return .patch }
            if HTTPBytes.equals(bytes, range, MethodName.trace.span) { return .trace }
        case 6:
            if HTTPBytes.equals(bytes, range, MethodName.delete.span) { return .delete }
        case 7:
            if HTTPBytes.equals(bytes, range, MethodName.options.span) { return .options }
            if HTTPBytes.equals(bytes, range, MethodName.connect.span) { return .connect }
        default:
            break
        }
        return .other
    }

    /// The length of `http://` or `https://` at the start of the target, or nil.
    static func schemeLength(_ bytes: Span<UInt8>, _ target: Range<Int>) -> Int? {
        let start = target.lowerBound
        if target.count >= 7
            && HTTPBytes.equalsIgnoringCase(bytes, start..<(start + 7), lowercased: Scheme.http.span)
        {
            return 7
        }
        if target.count >= 8
            && HTTPBytes.equalsIgnoringCase(bytes, start..<(start + 8), lowercased: Scheme.https.span)
        {
            return 8
        }
        return nil
    }

    /// Sets `path`, `query` and (for absolute-form) `host` from the target.
    static func interpretTarget(_ bytes: Span<UInt8>, _ head: inout RequestHead) -> RequestError? {
        let target = head.target
        let first = bytes[target.lowerBound]

        var pathStart: Int
        if first == HTTPBytes.slash {
            pathStart = target.lowerBound
        } else if first == HTTPBytes.asterisk {
            guard target.count == 1 && head.method == .options else { return .badRequest }
            head.path = target
            head.query = target.upperBound..<target.upperBound
            return nil
        } else if let schemeLength = schemeLength(bytes, target) {
            let authorityStart = target.lowerBound + schemeLength
            var authorityEnd = authorityStart
            while authorityEnd < target.upperBound {
                let byte = bytes[authorityEnd]
                if byte == HTTPBytes.slash || byte == HTTPBytes.question { break }
                authorityEnd += 1
            }
            let authority = authorityStart..<authorityEnd
            // An http(s) URI must name a host (RFC 9110 §4.2.1); `isValidHost` refuses userinfo.
            guard !authority.isEmpty, bytes[authorityStart] != HTTPBytes.colon,
                isValidHost(bytes, authority)
            else { return .badRequest }
            head.host = authority
            pathStart = authorityEnd
        } else {
            // Authority-form (only meaningful for CONNECT) or a scheme we do not serve.
            return .badRequest
        }

        // A fragment (`#…`, which clients should not send) is no part of the path or the query:
        // it never reaches routing or an upstream.
        var targetEnd = pathStart
        while targetEnd < target.upperBound && bytes[targetEnd] != HTTPBytes.hash { targetEnd += 1 }
        var pathEnd = pathStart
        while pathEnd < targetEnd && bytes[pathEnd] != HTTPBytes.question { pathEnd += 1 }
        head.path = pathStart..<pathEnd
        head.query = pathEnd < targetEnd ? (pathEnd + 1)..<targetEnd : targetEnd..<targetEnd
        return nil
    }

    /// Whether `bytes[range]` is `uri-host [ ":" port ]` (RFC 3986 §3.2.2–§3.2.3): an IP literal in
    /// brackets, or a reg-name / IPv4 address of unreserved, sub-delims and percent-encoded bytes;
    /// then optionally a colon and digits. An empty value is valid (an empty reg-name).
    /// Userinfo (`@`), paths and whitespace are refused, so a Host cannot smuggle a second target.
    static func isValidHost(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        let end = range.upperBound
        if index < end && bytes[index] == 0x5B {  // [
            index += 1
            let literalStart = index
            while index < end && bytes[index] != 0x5D {  // ]
                let byte = bytes[index]
                guard HTTPBytes.hexValue(byte) != nil || byte == HTTPBytes.colon || byte == 0x2E
                    || byte == 0x76 || byte == 0x56  // v, V: IPvFuture's prefix.
                else { return false }
                index += 1
            }
            guard index < end, index > literalStart else { return false }
            index += 1  // ]
        } else {
            while index < end {
                let byte = bytes[index]
                if byte == HTTPBytes.colon { break }
                if byte == 0x25 {  // % HEXDIG HEXDIG
                    guard index + 2 < end, HTTPBytes.hexValue(bytes[index + 1]) != nil,
                        HTTPBytes.hexValue(bytes[index + 2]) != nil
                    else { return false }
                    index += 3
                    continue
                }
                guard isRegNameByte(byte) else { return false }
                index += 1
            }
        }
        if index == end { return true }
        guard bytes[index] == HTTPBytes.colon else { return false }
        index += 1
        while index < end {
            guard HTTPBytes.isDigit(bytes[index]) else { return false }
            index += 1
        }
        return true
    }

    /// unreserved / sub-delims of RFC 3986: ALPHA DIGIT `-._~!$&'()*+,;=`.
    static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x2D, 0x2E, 0x5F, 0x7E: true  // - . _ ~
        case 0x21, 0x24, 0x26...0x2C, 0x3B, 0x3D: true  // ! $ & ' ( ) * + , ; =
        default: false
        }
    }
}

extension RequestHead {
    /// The value of the first field named `lowercasedName` (compared ignoring case), or nil.
    /// `lowercasedName` must be lowercase; `bytes` is what the head was parsed from. Allocates
    /// nothing: pass a constant, e.g. `value(ofHeader: apiKeyName.span, in: bytes)`.
    public func value(ofHeader lowercasedName: Span<UInt8>, in bytes: Span<UInt8>) -> Range<Int>? {
        for field in headers
        where HTTPBytes.equalsIgnoringCase(bytes, field.name, lowercased: lowercasedName) {
            return field.value
        }
        return nil
    }

    /// How many fields are named `lowercasedName` (compared ignoring case).
    public func count(ofHeader lowercasedName: Span<UInt8>, in bytes: Span<UInt8>) -> Int {
        var count = 0
        for field in headers
        where HTTPBytes.equalsIgnoringCase(bytes, field.name, lowercased: lowercasedName) {
            count += 1
        }
        return count
    }
}

/// Method names, which are case-sensitive, as bytes.
enum MethodName {
    static let get: [UInt8] = Array("GET".utf8)
    static let head: [UInt8] = Array("HEAD".utf8)
    static let post: [UInt8] = Array("POST".utf8)
    static let put: [UInt8] = Array("PUT".utf8)
    static let delete: [UInt8] = Array("DELETE".utf8)
    static let patch: [UInt8] = Array("PATCH".utf8)
    static let options: [UInt8] = Array("OPTIONS".utf8)
    static let connect: [UInt8] = Array("CONNECT".utf8)
    static let trace: [UInt8] = Array("TRACE".utf8)
}

enum Scheme {
    static let http: [UInt8] = Array("http://".utf8)
    static let https: [UInt8] = Array("https://".utf8)
}
