import SluiceHTTP1
import SluiceJSON

/// A Lambda function's answer to a proxy event, read as API Gateway reads it, from the complete
/// JSON the Runtime Interface Emulator returned (the worker buffers it; Lambda caps it at 6 MB).
///
/// Parsing records where things are — ranges into the answer, escapes not yet decoded — and the
/// writers below decode them straight into the output buffers, so nothing is copied twice and
/// nothing is allocated: one value per worker is reused, and its arrays keep their capacity.
///
///     var answer = FunctionAnswer()
///     switch answer.parse(json, format: .version1, rejectsUnknownFields: true) {
///     case .response:        // answer.statusCode, answer.fields, answer.body …
///     case .malformed:       // 502 {"message": "Internal server error"}
///     case .functionError:   // 502 (REST APIs) or 500 {"message":"Internal Server Error"} (HTTP APIs)
///     }
///
/// The rules, from API Gateway's documentation and its observed behaviour:
/// - The answer is one JSON text (RFC 8259, strictly: no trailing garbage, no BOM, well-formed
///   UTF-8, nesting at most 64 deep). Anything else is `.malformed`.
/// - Format 1.0: an object with `statusCode` (an integer, or a string of digits, 100–599),
///   optional `headers` (name → string), `multiValueHeaders` (name → array of strings), `body`
///   (string or null) and `isBase64Encoded` (boolean). Header values may also be numbers or
///   booleans (written as they are) or null (no header). A member of the wrong type (`body` an
///   object is the classic "Malformed Lambda proxy response") → `.malformed`; `statusCode`
///   missing → 200 with no headers and an empty body, as API Gateway answers it.
///   REST APIs also refuse any other member (a `cookies` member fails there); pass
///   `rejectsUnknownFields: true` for them. HTTP APIs ignore other members.
/// - `headers` and `multiValueHeaders` are merged as API Gateway documents: "If the same key-value
///   pair is specified in both, only the values from multiValueHeaders will appear". `fields`
///   lists the `multiValueHeaders` pairs first, in order, then each `headers` pair unless
///   `multiValueHeaders` has the same name (ignoring case) with the same value. Within one object,
///   a name given twice keeps its last value, as JSON readers do.
/// - Format 2.0 with `statusCode`: the same, without `multiValueHeaders` (ignored, like any other
///   member), plus `cookies` (array of strings), each a `Set-Cookie` field after the headers.
/// - Format 2.0 without `statusCode`: "API Gateway makes the following assumptions if your Lambda
///   function returns valid JSON and doesn't return a statusCode": status 200, `content-type:
///   application/json`, and the answer itself is the body (`isInferred`). A JSON string answer is
///   its decoded text (`"Hello"` → `Hello`, as AWS's example shows); any other value is the JSON
///   text as the function wrote it.
/// - An object without `statusCode` holding `errorMessage` and `errorType` is what a runtime
///   reports when the function threw (the emulator passes it on with status 200): it is
///   `.functionError`, whatever the format.
/// - Every header name must be an HTTP token and every value (header or cookie) valid field-value
///   bytes once unescaped: a CR, LF, NUL or other control character makes the answer
///   `.malformed`, so a function cannot split the response.
public struct FunctionAnswer: Sendable {
    public enum Outcome: Sendable, Equatable {
        /// A response to send: `statusCode`, `fields`, `body`.
        case response
        /// Not an answer API Gateway accepts: 502 `{"message": "Internal server error"}`.
        case malformed
        /// The function failed: 502 `{"message": "Internal server error"}` on REST APIs, 500
        /// `{"message":"Internal Server Error"}` on HTTP APIs.
        case functionError
    }

    /// A JSON scalar in the answer: a string's content between its quotes (escapes not yet
    /// decoded), or the text of a number or `true`/`false`, which are written as they are.
    public struct Scalar: Sendable, Equatable {
        public var range: Range<Int>
        public var isString: Bool
        public var hasEscapes: Bool

        public init(range: Range<Int>, isString: Bool, hasEscapes: Bool) {
            self.range = range
            self.isString = isString
            self.hasEscapes = hasEscapes
        }
    }

    /// What a field means to the gateway, so the worker can drop or remap it without looking at
    /// its name again.
    public enum FieldRole: UInt8, Sendable, Equatable {
        case ordinary
        /// `Content-Type`.
        case contentType
        /// A reserved name the gateway does not send (`Transfer-Encoding` and the hop-by-hop
        /// names; `ReservedResponseHeaders`).
        case dropped
        /// A reserved name the gateway sends as `x-amzn-Remapped-<Name>` (`Content-Length`,
        /// `Connection`, `Date`, `Server`, …; `ReservedResponseHeaders`).
        case remapped
        /// A 2.0 cookie: the field is `Set-Cookie`, and `name` is empty.
        case setCookie
        /// `Access-Control-*`: dropped where the API's CORS configuration writes its own.
        case cors
    }

    /// A response header field to send.
    public struct Field: Sendable, Equatable {
        public var name: Scalar
        public var value: Scalar
        public var role: FieldRole
    }

    public enum Body: Sendable, Equatable {
        /// No body (absent or null).
        case none
        /// A JSON string's content: unescape it (and base64-decode it when asked).
        case string(Scalar)
        /// Answer bytes that are the body as they are (2.0: a whole answer that is not a string).
        case raw(Range<Int>)
    }

    /// The status to send (100–599).
    public private(set) var statusCode = 0
    /// The header fields to send, in order (see the merge rule above).
    public private(set) var fields: [Field] = []
    public private(set) var body: Body = .none
    /// The answer's `isBase64Encoded`. HTTP APIs decode the body when it is set; REST APIs only
    /// when the response's content type is also a binary media type of the API.
    public private(set) var isBase64Encoded = false
    /// The 2.0 rule for answers without `statusCode` applied: add `Content-Type: application/json`.
    public private(set) var isInferred = false
    /// Some field is `Content-Type`. When none is, API Gateway answers `application/json`.
    public private(set) var hasContentType = false
    /// The most fields (headers, multi-value header values and cookies together) an answer may
    /// carry; beyond it the answer is `.malformed`. A bound on the work of merging them.
    public let fieldsMax: Int

    // Scratch, reused from answer to answer.
    private var singleValueKeys: [Key] = []
    private var multiValueKeys: [Key] = []
    private var singleValuePairs: [Pair] = []
    private var multiValuePairs: [Pair] = []
    private var cookies: [Scalar] = []

    /// A member of `headers` or `multiValueHeaders`: its name and its pairs.
    private struct Key: Sendable {
        var name: Scalar
        var firstPair: Int32
        var pairCount: Int32
        var superseded = false
    }

    private struct Pair: Sendable {
        var key: Int32
        var value: Scalar
    }

    /// `fieldsMax`: 512 by default, well above the 10 KB of headers API Gateway returns.
    public init(fieldsMax: Int = 512) {
        self.fieldsMax = fieldsMax
        fields.reserveCapacity(fieldsMax)
        singleValueKeys.reserveCapacity(fieldsMax)
        multiValueKeys.reserveCapacity(fieldsMax)
        singleValuePairs.reserveCapacity(fieldsMax)
        multiValuePairs.reserveCapacity(fieldsMax)
        cookies.reserveCapacity(fieldsMax)
    }

    /// Reads `answer`, the function's complete answer, for the integration's payload `format`.
    /// `rejectsUnknownFields` makes members other than the documented ones `.malformed` (format
    /// 1.0 only), as REST APIs do.
    public mutating func parse(
        _ answer: Span<UInt8>, format: LambdaPayloadFormat, rejectsUnknownFields: Bool = false
    ) -> Outcome {
        reset()
        var scanner = JSONScanner(end: answer.count)
        scanner.skipWhitespace(answer)
        guard let first = scanner.peek(answer) else { return .malformed }

        guard first == 0x7B else {
            // Not an object: only 2.0 accepts it, as the body.
            guard format == .version2, let value = scanner.scanValue(answer, depth: 0) else { return .malformed }
            scanner.skipWhitespace(answer)
            guard scanner.position == scanner.end else { return .malformed }
            inferBody(from: value)
            return .response
        }

        var members = Members()
        let objectStart = scanner.position
        guard parseTopLevelObject(answer, &scanner, format: format, members: &members) else { return .malformed }
        let objectEnd = scanner.position
        scanner.skipWhitespace(answer)
        guard scanner.position == scanner.end else { return .malformed }

        guard members.hasStatusCode else {
            if members.hasErrorMessage && members.hasErrorType { return .functionError }
            guard format == .version2 else {
                // 1.0 without statusCode: API Gateway answers 200 with an empty body (as recorded).
                if members.invalid || members.tooManyFields || (members.unknown && rejectsUnknownFields) {
                    return .malformed
                }
                reset()
                statusCode = 200
                return .response
            }
            reset()
            inferBody(from: JSONScanner.Value(kind: .object, range: objectStart..<objectEnd,
                                              content: objectStart..<objectEnd, hasEscapes: false))
            return .response
        }
        if members.invalid || members.tooManyFields { return .malformed }
        if members.unknown && rejectsUnknownFields && format == .version1 { return .malformed }
        guard mergeFields(answer) else { return .malformed }
        return .response
    }

    // MARK: - Reading

    private struct Members {
        var hasStatusCode = false
        var hasErrorMessage = false
        var hasErrorType = false
        var unknown = false
        var tooManyFields = false
        // A member of the wrong type or value; each is cleared when its member comes again,
        // since a repeated member replaces the earlier one.
        var statusCodeInvalid = false
        var headersInvalid = false
        var multiValueHeadersInvalid = false
        var cookiesInvalid = false
        var bodyInvalid = false
        var base64FlagInvalid = false

        var invalid: Bool {
            statusCodeInvalid || headersInvalid || multiValueHeadersInvalid || cookiesInvalid || bodyInvalid
                || base64FlagInvalid
        }
    }

    enum MemberKind {
        case statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded, errorMessage, errorType, other
    }

    private mutating func parseTopLevelObject(
        _ answer: Span<UInt8>, _ scanner: inout JSONScanner, format: LambdaPayloadFormat, members: inout Members
    ) -> Bool {
        scanner.position += 1  // {
        if scanner.consume(0x7D, answer) { return true }
        while true {
            scanner.skipWhitespace(answer)
            guard scanner.peek(answer) == 0x22, let (keyRange, keyEscapes) = scanner.scanString(answer),
                  scanner.consume(0x3A, answer) else { return false }
            scanner.skipWhitespace(answer)
            let key = Scalar(range: keyRange, isString: true, hasEscapes: keyEscapes)
            var member = FunctionAnswer.member(key, answer)
            if member == .multiValueHeaders && format == .version2 { member = .other }
            if member == .cookies && format == .version1 { member = .other }
            switch member {
            case .headers, .multiValueHeaders:
                let multiValue = member == .multiValueHeaders
                if multiValue {
                    multiValueKeys.removeAll(keepingCapacity: true)
                    multiValuePairs.removeAll(keepingCapacity: true)
                } else {
                    singleValueKeys.removeAll(keepingCapacity: true)
                    singleValuePairs.removeAll(keepingCapacity: true)
                }
                var invalid = false
                if scanner.peek(answer) == 0x7B {
                    guard parseHeaderObject(answer, &scanner, multiValue: multiValue, invalid: &invalid,
                                            tooMany: &members.tooManyFields) else { return false }
                } else {
                    guard let value = scanner.scanValue(answer, depth: 1) else { return false }
                    invalid = value.kind != .null
                }
                if multiValue { members.multiValueHeadersInvalid = invalid } else { members.headersInvalid = invalid }
            case .cookies:
                cookies.removeAll(keepingCapacity: true)
                var invalid = false
                if scanner.peek(answer) == 0x5B {
                    guard parseCookies(answer, &scanner, invalid: &invalid, tooMany: &members.tooManyFields) else {
                        return false
                    }
                } else {
                    guard let value = scanner.scanValue(answer, depth: 1) else { return false }
                    invalid = value.kind != .null
                }
                members.cookiesInvalid = invalid
            default:
                guard let value = scanner.scanValue(answer, depth: 1) else { return false }
                switch member {
                case .statusCode:
                    if value.kind == .null {
                        members.hasStatusCode = false
                        members.statusCodeInvalid = false
                    } else {
                        members.hasStatusCode = true
                        let status = FunctionAnswer.statusCode(value, answer)
                        members.statusCodeInvalid = status == nil
                        statusCode = status ?? 0
                    }
                case .body:
                    members.bodyInvalid = false
                    switch value.kind {
                    case .string:
                        body = .string(Scalar(range: value.content, isString: true, hasEscapes: value.hasEscapes))
                    case .null: body = .none
                    default: members.bodyInvalid = true
                    }
                case .isBase64Encoded:
                    members.base64FlagInvalid = false
                    switch value.kind {
                    case .trueLiteral: isBase64Encoded = true
                    case .falseLiteral, .null: isBase64Encoded = false
                    case .string where !value.hasEscapes && FunctionAnswer.equalsIgnoringCase(
                        answer, value.content, FunctionAnswer.trueText.span):
                        isBase64Encoded = true
                    case .string where !value.hasEscapes && FunctionAnswer.equalsIgnoringCase(
                        answer, value.content, FunctionAnswer.falseText.span):
                        isBase64Encoded = false
                    default: members.base64FlagInvalid = true
                    }
                case .errorMessage:
                    members.hasErrorMessage = value.kind == .string
                    members.unknown = true
                case .errorType:
                    members.hasErrorType = value.kind == .string
                    members.unknown = true
                default:
                    members.unknown = true
                }
            }
            if scanner.consume(0x2C, answer) { continue }
            return scanner.consume(0x7D, answer)
        }
    }

    /// Reads `headers` (`multiValue` false: name → scalar) or `multiValueHeaders` (name → array
    /// of scalars) at depth 2. Wrong types set `invalid`; only bad JSON returns false.
    private mutating func parseHeaderObject(
        _ answer: Span<UInt8>, _ scanner: inout JSONScanner, multiValue: Bool, invalid: inout Bool,
        tooMany: inout Bool
    ) -> Bool {
        scanner.position += 1  // {
        if scanner.consume(0x7D, answer) { return true }
        while true {
            scanner.skipWhitespace(answer)
            guard scanner.peek(answer) == 0x22, let (nameRange, nameEscapes) = scanner.scanString(answer),
                  scanner.consume(0x3A, answer) else { return false }
            scanner.skipWhitespace(answer)
            let name = Scalar(range: nameRange, isString: true, hasEscapes: nameEscapes)
            let keyIndex = Int32(truncatingIfNeeded: multiValue ? multiValueKeys.count : singleValueKeys.count)
            let firstPair = Int32(truncatingIfNeeded: multiValue ? multiValuePairs.count : singleValuePairs.count)
            var pairCount: Int32 = 0
            if multiValue && scanner.peek(answer) == 0x5B {
                // An array of values, at depth 3.
                scanner.position += 1
                if !scanner.consume(0x5D, answer) {
                    while true {
                        scanner.skipWhitespace(answer)
                        guard let value = scanner.scanValue(answer, depth: 3) else { return false }
                        if let scalar = FunctionAnswer.headerValue(value) {
                            if recordPair(key: keyIndex, value: scalar, multiValue: true, tooMany: &tooMany) {
                                pairCount += 1
                            }
                        } else if value.kind != .null {
                            invalid = true
                        }
                        if scanner.consume(0x2C, answer) { continue }
                        guard scanner.consume(0x5D, answer) else { return false }
                        break
                    }
                }
            } else {
                guard let value = scanner.scanValue(answer, depth: 2) else { return false }
                if multiValue {
                    if value.kind != .null { invalid = true }
                } else if let scalar = FunctionAnswer.headerValue(value) {
                    if recordPair(key: keyIndex, value: scalar, multiValue: false, tooMany: &tooMany) {
                        pairCount = 1
                    }
                } else if value.kind != .null {
                    invalid = true
                }
            }
            let key = Key(name: name, firstPair: firstPair, pairCount: pairCount)
            if !tooMany {
                if multiValue { multiValueKeys.append(key) } else { singleValueKeys.append(key) }
            }
            if scanner.consume(0x2C, answer) { continue }
            return scanner.consume(0x7D, answer)
        }
    }

    /// Records a pair unless the answer already has `fieldsMax` of them.
    private mutating func recordPair(key: Int32, value: Scalar, multiValue: Bool, tooMany: inout Bool) -> Bool {
        guard singleValuePairs.count + multiValuePairs.count + cookies.count < fieldsMax else {
            tooMany = true
            return false
        }
        if multiValue {
            multiValuePairs.append(Pair(key: key, value: value))
        } else {
            singleValuePairs.append(Pair(key: key, value: value))
        }
        return true
    }

    /// Reads 2.0's `cookies`: an array of strings (null elements skipped), at depth 2.
    private mutating func parseCookies(
        _ answer: Span<UInt8>, _ scanner: inout JSONScanner, invalid: inout Bool, tooMany: inout Bool
    ) -> Bool {
        scanner.position += 1  // [
        if scanner.consume(0x5D, answer) { return true }
        while true {
            scanner.skipWhitespace(answer)
            guard let value = scanner.scanValue(answer, depth: 2) else { return false }
            if value.kind == .string {
                if singleValuePairs.count + multiValuePairs.count + cookies.count < fieldsMax {
                    cookies.append(Scalar(range: value.content, isString: true, hasEscapes: value.hasEscapes))
                } else {
                    tooMany = true
                }
            } else if value.kind != .null {
                invalid = true
            }
            if scanner.consume(0x2C, answer) { continue }
            return scanner.consume(0x5D, answer)
        }
    }

    /// A header value: a string, a number or a boolean (written as its JSON text); nil otherwise.
    private static func headerValue(_ value: JSONScanner.Value) -> Scalar? {
        switch value.kind {
        case .string: Scalar(range: value.content, isString: true, hasEscapes: value.hasEscapes)
        case .number, .trueLiteral, .falseLiteral: Scalar(range: value.range, isString: false, hasEscapes: false)
        case .null, .object, .array: nil
        }
    }

    /// `statusCode`: an integer or a string of digits, from 100 to 599.
    private static func statusCode(_ value: JSONScanner.Value, _ answer: Span<UInt8>) -> Int? {
        let digits: Range<Int>
        switch value.kind {
        case .number: digits = value.range
        case .string where !value.hasEscapes: digits = value.content
        default: return nil
        }
        guard digits.count == 3 else { return nil }
        var status = 0
        for index in digits {
            let byte = answer[index]
            guard byte &- 0x30 < 10 else { return nil }
            status = status * 10 + Int(byte &- 0x30)
        }
        return status >= 100 && status <= 599 ? status : nil
    }

    private mutating func inferBody(from value: JSONScanner.Value) {
        statusCode = 200
        isInferred = true
        isBase64Encoded = false
        body = value.kind == .string
            ? .string(Scalar(range: value.content, isString: true, hasEscapes: value.hasEscapes))
            : .raw(value.range)
    }

    private mutating func reset() {
        statusCode = 0
        fields.removeAll(keepingCapacity: true)
        body = .none
        isBase64Encoded = false
        isInferred = false
        hasContentType = false
        singleValueKeys.removeAll(keepingCapacity: true)
        multiValueKeys.removeAll(keepingCapacity: true)
        singleValuePairs.removeAll(keepingCapacity: true)
        multiValuePairs.removeAll(keepingCapacity: true)
        cookies.removeAll(keepingCapacity: true)
    }

    // MARK: - Merging and checking

    /// Builds `fields`: `multiValueHeaders` pairs, then `headers` pairs not repeated there, then
    /// cookies; each checked and classified. False when one is not a valid HTTP field.
    private mutating func mergeFields(_ answer: Span<UInt8>) -> Bool {
        FunctionAnswer.markSuperseded(&multiValueKeys, answer)
        FunctionAnswer.markSuperseded(&singleValueKeys, answer)
        for key in multiValueKeys where !key.superseded {
            for pairIndex in Int(key.firstPair)..<Int(key.firstPair + key.pairCount) {
                guard appendField(name: key.name, value: multiValuePairs[pairIndex].value, role: nil, answer) else {
                    return false
                }
            }
        }
        for key in singleValueKeys where !key.superseded && key.pairCount == 1 {
            let value = singleValuePairs[Int(key.firstPair)].value
            if FunctionAnswer.multiValueHas(name: key.name, value: value, multiValueKeys, multiValuePairs, answer) {
                continue
            }
            guard appendField(name: key.name, value: value, role: nil, answer) else { return false }
        }
        for cookie in cookies {
            let name = Scalar(range: cookie.range.lowerBound..<cookie.range.lowerBound, isString: true, hasEscapes: false)
            guard appendField(name: name, value: cookie, role: .setCookie, answer) else { return false }
        }
        return true
    }

    private mutating func appendField(name: Scalar, value: Scalar, role: FieldRole?, _ answer: Span<UInt8>) -> Bool {
        let role = role ?? FunctionAnswer.role(of: name, answer)
        guard role == .setCookie || FunctionAnswer.isToken(name, answer),
              FunctionAnswer.isFieldValue(value, answer) else { return false }
        if role == .contentType { hasContentType = true }
        fields.append(Field(name: name, value: value, role: role))
        return true
    }

    /// Marks every key that a later key of the same object repeats exactly: the last one wins.
    private static func markSuperseded(_ keys: inout [Key], _ answer: Span<UInt8>) {
        guard keys.count > 1 else { return }
        for earlier in 0..<(keys.count - 1) {
            for later in (earlier + 1)..<keys.count where equal(keys[earlier].name, keys[later].name, answer) {
                keys[earlier].superseded = true
                break
            }
        }
    }

    /// Whether `multiValueHeaders` holds `name` (ignoring case) with exactly `value`.
    private static func multiValueHas(
        name: Scalar, value: Scalar, _ keys: [Key], _ pairs: [Pair], _ answer: Span<UInt8>
    ) -> Bool {
        for key in keys where !key.superseded && equal(key.name, name, answer, ignoringCase: true) {
            for pairIndex in Int(key.firstPair)..<Int(key.firstPair + key.pairCount)
            where equal(pairs[pairIndex].value, value, answer) {
                return true
            }
        }
        return false
    }

    /// Whether two scalars stand for the same bytes.
    private static func equal(_ a: Scalar, _ b: Scalar, _ answer: Span<UInt8>, ignoringCase: Bool = false) -> Bool {
        if !a.hasEscapes && !b.hasEscapes {
            guard a.range.count == b.range.count else { return false }
            return ignoringCase
                ? HTTPBytes.equalsIgnoringCase(answer, a.range, answer, b.range)
                : HTTPBytes.equals(answer, a.range, answer.extracting(b.range))
        }
        var left = UnescapedBytes(a.range)
        var right = UnescapedBytes(b.range)
        while true {
            let x = left.next(answer)
            let y = right.next(answer)
            guard let x, let y else { return x == nil && y == nil }
            if ignoringCase ? HTTPBytes.lowercased(x) != HTTPBytes.lowercased(y) : x != y { return false }
        }
    }

    /// Whether the unescaped `name` is a non-empty HTTP token.
    private static func isToken(_ name: Scalar, _ answer: Span<UInt8>) -> Bool {
        var bytes = UnescapedBytes(name.range)
        var count = 0
        while let byte = bytes.next(answer) {
            guard HTTPBytes.isTokenByte(byte) else { return false }
            count += 1
        }
        return count > 0
    }

    /// Whether the unescaped `value` holds only field-value bytes (no CR, LF, NUL, DEL or other
    /// control but HTAB).
    private static func isFieldValue(_ value: Scalar, _ answer: Span<UInt8>) -> Bool {
        if !value.hasEscapes {
            for index in value.range where !HTTPBytes.isFieldValueByte(answer[index]) { return false }
            return true
        }
        var bytes = UnescapedBytes(value.range)
        while let byte = bytes.next(answer) {
            guard HTTPBytes.isFieldValueByte(byte) else { return false }
        }
        return true
    }

    private static func role(of name: Scalar, _ answer: Span<UInt8>) -> FieldRole {
        guard name.hasEscapes else { return role(ofUnescaped: answer, name.range) }
        // Rare: a name written with escapes is compared byte by byte as it unescapes.
        let contentType = contentTypeName
        if unescapedEquals(answer, name.range, contentType.span, ignoringCase: true) { return .contentType }
        for entry in ReservedResponseHeaders.names {
            let reserved = entry.name
            if unescapedEquals(answer, name.range, reserved.span, ignoringCase: true) {
                return entry.disposition == .drop ? .dropped : .remapped
            }
        }
        return .ordinary
    }

    private static func role(ofUnescaped bytes: Span<UInt8>, _ name: Range<Int>) -> FieldRole {
        if name.count == contentTypeName.count
            && HTTPBytes.equalsIgnoringCase(bytes, name, lowercased: contentTypeName.span) {
            return .contentType
        }
        switch ReservedResponseHeaders.disposition(of: bytes, name) {
        case .drop: return .dropped
        case .remap: return .remapped
        case .pass: return isCORSName(bytes, name) ? .cors : .ordinary
        }
    }

    private static let contentTypeName: [UInt8] = Array("content-type".utf8)

    private static let corsPrefix: [UInt8] = Array("access-control-".utf8)

    private static func isCORSName(_ bytes: Span<UInt8>, _ name: Range<Int>) -> Bool {
        guard name.count > corsPrefix.count else { return false }
        for offset in 0..<corsPrefix.count
        where HTTPBytes.lowercased(bytes[name.lowerBound + offset]) != corsPrefix[offset] {
            return false
        }
        return true
    }

    private static func member(_ key: Scalar, _ answer: Span<UInt8>) -> MemberKind {
        guard key.hasEscapes else { return member(unescaped: answer, key.range) }
        for candidate in MemberName.allCases where candidate.matchesUnescaped(answer, key.range) {
            return candidate.member
        }
        return .other
    }

    private static func member(unescaped bytes: Span<UInt8>, _ key: Range<Int>) -> MemberKind {
        switch key.count {
        case 4: return MemberName.body.matches(bytes, key) ? .body : .other
        case 7:
            if MemberName.headers.matches(bytes, key) { return .headers }
            return MemberName.cookies.matches(bytes, key) ? .cookies : .other
        case 9: return MemberName.errorType.matches(bytes, key) ? .errorType : .other
        case 10: return MemberName.statusCode.matches(bytes, key) ? .statusCode : .other
        case 12: return MemberName.errorMessage.matches(bytes, key) ? .errorMessage : .other
        case 15: return MemberName.isBase64Encoded.matches(bytes, key) ? .isBase64Encoded : .other
        case 17: return MemberName.multiValueHeaders.matches(bytes, key) ? .multiValueHeaders : .other
        default: return .other
        }
    }

    private static func equalsIgnoringCase(_ bytes: Span<UInt8>, _ range: Range<Int>, _ lowercased: Span<UInt8>) -> Bool {
        HTTPBytes.equalsIgnoringCase(bytes, range, lowercased: lowercased)
    }

    private static let trueText: [UInt8] = Array("true".utf8)
    private static let falseText: [UInt8] = Array("false".utf8)

    // MARK: - Writing

    /// Writes a field's name: the unescaped name, or `Set-Cookie` for a cookie.
    public static func writeName<Sink: ByteSink>(of field: Field, in answer: Span<UInt8>, to sink: inout Sink) {
        if field.role == .setCookie {
            sink.append(FunctionAnswer.setCookie.span)
        } else {
            writeValue(field.name, of: answer, to: &sink)
        }
    }

    /// Writes a scalar: a string unescaped, a number or boolean as its text.
    public static func writeValue<Sink: ByteSink>(_ scalar: Scalar, of answer: Span<UInt8>, to sink: inout Sink) {
        if scalar.isString && scalar.hasEscapes {
            writeUnescaped(stringToken: scalar.range, of: answer, to: &sink)
        } else {
            sink.append(answer.extracting(scalar.range))
        }
    }

    /// The number of bytes `writeValue` writes.
    public static func byteCount(of scalar: Scalar, in answer: Span<UInt8>) -> Int {
        guard scalar.isString && scalar.hasEscapes else { return scalar.range.count }
        return unescapedByteCount(stringToken: scalar.range, of: answer)
    }

    /// Writes the bytes the JSON string whose content is `answer[range]` stands for (escapes
    /// decoded; `\uXXXX` as UTF-8, surrogate pairs joined, a lone surrogate as U+FFFD). The range
    /// must come from a parse of `answer`.
    public static func writeUnescaped<Sink: ByteSink>(
        stringToken range: Range<Int>, of answer: Span<UInt8>, to sink: inout Sink
    ) {
        var position = range.lowerBound
        let end = range.upperBound
        while position < end {
            let runStart = position
            while position < end && answer[position] != 0x5C { position += 1 }
            if position > runStart { sink.append(answer.extracting(runStart..<position)) }
            guard position < end else { return }
            let (scalar, length) = UnescapedBytes.decodeEscape(answer, at: position, end: end)
            position += length
            let (encoded, count) = UnescapedBytes.utf8(scalar)
            for index in 0..<count { sink.append(UInt8(truncatingIfNeeded: encoded >> (8 * UInt32(index)))) }
        }
    }

    /// The number of bytes `writeUnescaped` writes.
    public static func unescapedByteCount(stringToken range: Range<Int>, of answer: Span<UInt8>) -> Int {
        var counter = ByteCounter()
        writeUnescaped(stringToken: range, of: answer, to: &counter)
        return counter.count
    }

    /// Writes the base64 text (RFC 4648 §4) that the JSON string `answer[range]` holds, decoded.
    /// Strict, as Java's basic decoder (which API Gateway runs on): only the standard alphabet,
    /// no whitespace or line breaks, `=` padding optional but correct when present, nothing after
    /// it. Returns false (having written part of the bytes) when the text is not valid base64;
    /// call `base64DecodedByteCount` first, which validates without writing.
    @discardableResult
    public static func writeBase64Decoded<Sink: ByteSink>(
        stringToken range: Range<Int>, of answer: Span<UInt8>, to sink: inout Sink
    ) -> Bool {
        var characters = UnescapedBytes(range)
        var accumulator: UInt32 = 0
        var count = 0
        var padding = 0
        while let character = characters.next(answer) {
            if character == 0x3D {
                if padding == 0 && count != 2 && count != 3 { return false }
                padding += 1
                if count + padding > 4 { return false }
                continue
            }
            guard padding == 0, let value = Base64.value(character) else { return false }
            accumulator = accumulator << 6 | UInt32(value)
            count += 1
            if count == 4 {
                sink.append(UInt8(truncatingIfNeeded: accumulator >> 16))
                sink.append(UInt8(truncatingIfNeeded: accumulator >> 8))
                sink.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator = 0
                count = 0
            }
        }
        if padding > 0 && count + padding != 4 { return false }
        switch count {
        case 0: return true
        case 2:
            sink.append(UInt8(truncatingIfNeeded: accumulator >> 4))
            return true
        case 3:
            sink.append(UInt8(truncatingIfNeeded: accumulator >> 10))
            sink.append(UInt8(truncatingIfNeeded: accumulator >> 2))
            return true
        default: return false  // A single character left over.
        }
    }

    /// The number of bytes the base64 text of `answer[range]` decodes to, or nil when it is not
    /// valid base64 (see `writeBase64Decoded`).
    public static func base64DecodedByteCount(stringToken range: Range<Int>, of answer: Span<UInt8>) -> Int? {
        var counter = ByteCounter()
        return writeBase64Decoded(stringToken: range, of: answer, to: &counter) ? counter.count : nil
    }

    /// The body's length in bytes, to write `Content-Length` before it; nil when it is to be
    /// base64-decoded and is not valid base64 (answer 502). `decodingBase64` is normally
    /// `isBase64Encoded` (REST APIs also ask whether the content type is binary).
    public func bodyByteCount(of answer: Span<UInt8>, decodingBase64: Bool) -> Int? {
        switch body {
        case .none: 0
        case .raw(let range): range.count
        case .string(let scalar):
            decodingBase64
                ? FunctionAnswer.base64DecodedByteCount(stringToken: scalar.range, of: answer)
                : FunctionAnswer.byteCount(of: scalar, in: answer)
        }
    }

    /// Writes the body; false when it is to be base64-decoded and is not valid base64.
    @discardableResult
    public func writeBody<Sink: ByteSink>(of answer: Span<UInt8>, decodingBase64: Bool, to sink: inout Sink) -> Bool {
        switch body {
        case .none: return true
        case .raw(let range):
            sink.append(answer.extracting(range))
            return true
        case .string(let scalar):
            if decodingBase64 {
                return FunctionAnswer.writeBase64Decoded(stringToken: scalar.range, of: answer, to: &sink)
            }
            FunctionAnswer.writeValue(scalar, of: answer, to: &sink)
            return true
        }
    }

    private static let setCookie: [UInt8] = Array("Set-Cookie".utf8)
}

/// Whether the bytes the JSON string `bytes[range]` stands for equal `expected` (lowercase when
/// `ignoringCase`).
private func unescapedEquals(_ bytes: Span<UInt8>, _ range: Range<Int>, _ expected: Span<UInt8>,
                             ignoringCase: Bool) -> Bool {
    var unescaped = UnescapedBytes(range)
    var index = 0
    while let byte = unescaped.next(bytes) {
        guard index < expected.count else { return false }
        let folded = ignoringCase ? HTTPBytes.lowercased(byte) : byte
        guard folded == expected[index] else { return false }
        index += 1
    }
    return index == expected.count
}

/// Member names of the answer object.
private enum MemberName: CaseIterable {
    case statusCode, headers, multiValueHeaders, cookies, body, isBase64Encoded, errorMessage, errorType

    var member: FunctionAnswer.MemberKind {
        switch self {
        case .statusCode: .statusCode
        case .headers: .headers
        case .multiValueHeaders: .multiValueHeaders
        case .cookies: .cookies
        case .body: .body
        case .isBase64Encoded: .isBase64Encoded
        case .errorMessage: .errorMessage
        case .errorType: .errorType
        }
    }

    func matchesUnescaped(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        withName { name in unescapedEquals(bytes, range, name, ignoringCase: false) }
    }

    func matches(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        withName { name in HTTPBytes.equals(bytes, range, name) }
    }

    /// Lends the name to `body`.
    private func withName(_ body: (Span<UInt8>) -> Bool) -> Bool {
        switch self {
        case .statusCode: body(Text.statusCode.span)
        case .headers: body(Text.headers.span)
        case .multiValueHeaders: body(Text.multiValueHeaders.span)
        case .cookies: body(Text.cookies.span)
        case .body: body(Text.body.span)
        case .isBase64Encoded: body(Text.isBase64Encoded.span)
        case .errorMessage: body(Text.errorMessage.span)
        case .errorType: body(Text.errorType.span)
        }
    }

    private enum Text {
        static let statusCode: [UInt8] = Array("statusCode".utf8)
        static let headers: [UInt8] = Array("headers".utf8)
        static let multiValueHeaders: [UInt8] = Array("multiValueHeaders".utf8)
        static let cookies: [UInt8] = Array("cookies".utf8)
        static let body: [UInt8] = Array("body".utf8)
        static let isBase64Encoded: [UInt8] = Array("isBase64Encoded".utf8)
        static let errorMessage: [UInt8] = Array("errorMessage".utf8)
        static let errorType: [UInt8] = Array("errorType".utf8)
    }
}

