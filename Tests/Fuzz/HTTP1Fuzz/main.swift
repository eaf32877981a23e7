// A libFuzzer target for SluiceHTTP1: the request-head parser, the response-head parser and the
// chunked body decoder. It is compiled together with the module's sources into one module (see
// ../README.md), so the module's types are used without an import. It checks invariants, not just
// the absence of crashes: every range lies inside the input, a head fed in pieces gets the answer
// it gets whole, and a chunked body decodes to the same bytes and ends at the same place however
// it is split.

/// Traps with a message when an invariant does not hold; libFuzzer then saves the input.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("invariant violated: \(message())") }
}

func requireWithin(_ range: Range<Int>, _ bound: Int, _ name: String) {
    require(range.lowerBound >= 0 && range.upperBound <= bound, "\(name) \(range) outside 0..<\(bound)")
}

/// The first byte of the input picks the limits, so that both the defaults and small limits (which
/// the fuzzer can cross with short inputs) are exercised.
func limits(for selector: UInt8) -> RequestLimits {
    switch selector % 4 {
    case 0: RequestLimits()
    case 1: RequestLimits(headBytesMax: 64, headersMax: 3, bodyBytesMax: 16)
    case 2: RequestLimits(headBytesMax: 200, headersMax: 8, bodyBytesMax: 1000)
    default: RequestLimits(headBytesMax: 1, headersMax: 0, bodyBytesMax: 0)
    }
}

func checkHead(_ head: RequestHead, input: [UInt8], limits: RequestLimits) {
    let length = head.headLength
    require(length > 0 && length <= input.count && length <= limits.headBytesMax, "headLength \(length)")
    require(head.headers.count <= limits.headersMax, "too many headers")
    requireWithin(head.methodName, length, "methodName")
    requireWithin(head.target, length, "target")
    require(!head.methodName.isEmpty && !head.target.isEmpty, "empty method or target")
    require(head.path.isEmpty || (head.path.lowerBound >= head.target.lowerBound
                                  && head.path.upperBound <= head.target.upperBound), "path outside target")
    require(head.query.lowerBound >= head.target.lowerBound && head.query.upperBound <= head.target.upperBound,
            "query outside target")
    requireWithin(head.host, length, "host")
    require(head.method != .connect, "CONNECT accepted")
    for field in head.headers {
        requireWithin(field.name, length, "field name")
        requireWithin(field.value, length, "field value")
        require(!field.name.isEmpty, "empty field name")
        for index in field.name { require(HTTPBytes.isTokenByte(input[index]), "non-token name byte") }
        for index in field.value { require(HTTPBytes.isFieldValueByte(input[index]), "bad value byte") }
    }
    // The head ends with CRLF CRLF, or is a request line whose CRLF is followed by CRLF.
    require(input[length - 1] == 0x0A && input[length - 2] == 0x0D, "head does not end in CRLF")
    switch head.framing {
    case .length(let count): require(count >= 0 && count <= limits.bodyBytesMax, "length \(count)")
    case .chunked: require(head.version == .http11, "chunked in HTTP/1.0")
    case .none: break
    }
}

func fuzzHead(_ input: [UInt8], limits: RequestLimits, split: Int) {
    var parser = RequestHeadParser(limits: limits)
    var whole = RequestHead(headersCapacity: 4)
    let expected = parser.parse(input.span, into: &whole)
    if expected == .complete { checkHead(whole, input: input, limits: limits) }
    if expected == .incomplete {
        require(input.count <= limits.headBytesMax, "incomplete beyond the head limit")
    }

    // In two pieces, split where the fuzzer says.
    var twoPieces = RequestHeadParser(limits: limits)
    var head = RequestHead(headersCapacity: 4)
    let first = Array(input[0..<split])
    let early = twoPieces.parse(first.span, into: &head)
    var result = early
    if early == .incomplete {
        result = twoPieces.parse(input.span, into: &head)
    } else {
        require(early == expected, "early answer \(early) differs from \(expected)")
    }
    require(result == expected, "two pieces: \(result) vs \(expected)")
    if result == .complete { require(head == whole, "two pieces: head differs") }

    // One byte at a time, for inputs short enough to keep the fuzzer fast.
    guard input.count <= 2048 else { return }
    var byByte = RequestHeadParser(limits: limits)
    result = .incomplete
    var end = 0
    while result == .incomplete && end < input.count {
        end += 1
        let prefix = Array(input[0..<end])
        result = byByte.parse(prefix.span, into: &head)
    }
    require(result == expected, "byte by byte: \(result) vs \(expected)")
    if result == .complete { require(head == whole, "byte by byte: head differs") }
}

struct ChunkedOutcome: Equatable {
    var state: ChunkedBodyDecoder.State
    var data: [UInt8]
    var end: Int
}

func decode(_ input: [UInt8], cuts: [Int], limits: RequestLimits) -> ChunkedOutcome {
    var decoder = ChunkedBodyDecoder(bodyBytesMax: limits.bodyBytesMax, extensionBytesMax: 32,
                                     trailerBytesMax: 64)
    var data: [UInt8] = []
    let bounds = [0] + cuts + [input.count]
    for pieceIndex in 0..<(bounds.count - 1) {
        var position = bounds[pieceIndex]
        let pieceEnd = bounds[pieceIndex + 1]
        while position < pieceEnd {
            let piece = Array(input[position..<pieceEnd])
            let step = decoder.decode(piece.span)
            require(step.consumed >= 0 && step.consumed <= piece.count, "consumed \(step.consumed)")
            if let range = step.data {
                require(!range.isEmpty && range.lowerBound >= 0 && range.upperBound == step.consumed,
                        "data \(range) consumed \(step.consumed)")
                data += piece[range]
            }
            switch step.state {
            case .done, .failed:
                return ChunkedOutcome(state: step.state, data: data, end: position + step.consumed)
            case .needMore:
                require(step.consumed > 0, "no progress")
                position += step.consumed
            }
        }
    }
    return ChunkedOutcome(state: .needMore, data: data, end: input.count)
}

func fuzzChunked(_ input: [UInt8], limits: RequestLimits, split: Int) {
    let whole = decode(input, cuts: [], limits: limits)
    require(whole.data.count <= limits.bodyBytesMax, "decoded more than the body limit")
    if whole.state == .done {
        require(whole.end >= 5 && input[whole.end - 1] == 0x0A && input[whole.end - 2] == 0x0D,
                "done without a final CRLF")
    }
    let cuts = split > 0 && split < input.count ? [split] : []
    require(decode(input, cuts: cuts, limits: limits) == whole, "split at \(split) differs")
    guard input.count <= 2048, input.count > 1 else { return }
    require(decode(input, cuts: Array(1..<input.count), limits: limits) == whole, "byte by byte differs")
}

/// The request method a response answers, picked by bits 2–3 of byte 0 (bits 0–1 pick the limits).
func requestMethod(for selector: UInt8) -> HTTPMethod {
    switch (selector >> 2) % 4 {
    case 0: .get
    case 1: .head
    case 2: .post
    default: .other
    }
}

func checkResponseHead(_ head: ResponseHead, input: [UInt8], method: HTTPMethod, limits: RequestLimits) {
    let length = head.headLength
    require(length >= 16 && length <= input.count && length <= limits.headBytesMax, "headLength \(length)")
    require(head.headers.count <= limits.headersMax, "too many headers")
    let prefix: [UInt8] = Array("HTTP/1.".utf8)
    require(Array(input[0..<7]) == prefix, "status line does not start with HTTP/1.")
    require(head.version == (input[7] == 0x30 ? .http10 : .http11), "version")
    require(head.status >= 100 && head.status <= 999 && head.status != 101, "status \(head.status)")
    // The reason ends at the status line's CRLF and holds only field-value bytes.
    requireWithin(head.reason, length, "reason")
    require(head.reason.lowerBound == 12 || head.reason.lowerBound == 13, "reason start \(head.reason)")
    require(input[head.reason.upperBound] == 0x0D && input[head.reason.upperBound + 1] == 0x0A,
            "reason does not end at CRLF")
    for index in head.reason { require(HTTPBytes.isFieldValueByte(input[index]), "bad reason byte") }
    for field in head.headers {
        requireWithin(field.name, length, "field name")
        requireWithin(field.value, length, "field value")
        require(!field.name.isEmpty, "empty field name")
        for index in field.name { require(HTTPBytes.isTokenByte(input[index]), "non-token name byte") }
        for index in field.value { require(HTTPBytes.isFieldValueByte(input[index]), "bad value byte") }
        // The per-head shortcut must agree with the general lookup.
        require(head.isHopByHop(field.name, in: input.span)
                == HopByHop.isHopByHop(input.span, field.name, headers: head.headers), "hop-by-hop disagrees")
    }
    require(input[length - 1] == 0x0A && input[length - 2] == 0x0D, "head does not end in CRLF")
    let noBody = method == .head || head.status < 200 || head.status == 204 || head.status == 304
    require(noBody == (head.framing == .none), "framing \(head.framing) for status \(head.status)")
    switch head.framing {
    case .length(let count): require(count >= 0 && count <= limits.bodyBytesMax, "length \(count)")
    case .chunked: require(head.version == .http11, "chunked in HTTP/1.0")
    case .untilClose: require(!head.keepAlive, "kept alive with a body read until close")
    case .none: break
    }
    if head.contentLengthIgnored { require(!head.keepAlive, "kept alive with Content-Length and TE") }
}

/// Parses one response head from `input` whole, in two pieces and byte by byte, checks that the
/// answers agree, and returns the whole answer and head.
func fuzzResponseHead(_ input: [UInt8], method: HTTPMethod, limits: RequestLimits, split: Int)
    -> (ResponseHeadParser.HeadParseResult, ResponseHead)
{
    var parser = ResponseHeadParser(limits: limits)
    var whole = ResponseHead(headersCapacity: 4)
    let expected = parser.parse(input.span, requestMethod: method, into: &whole)
    if expected == .complete { checkResponseHead(whole, input: input, method: method, limits: limits) }
    if expected == .incomplete {
        require(input.count <= limits.headBytesMax, "incomplete beyond the head limit")
    }

    var twoPieces = ResponseHeadParser(limits: limits)
    var head = ResponseHead(headersCapacity: 4)
    let split = min(split, input.count)
    let first = Array(input[0..<split])
    let early = twoPieces.parse(first.span, requestMethod: method, into: &head)
    var result = early
    if early == .incomplete {
        result = twoPieces.parse(input.span, requestMethod: method, into: &head)
    } else {
        require(early == expected, "response early answer \(early) differs from \(expected)")
    }
    require(result == expected, "response two pieces: \(result) vs \(expected)")
    if result == .complete { require(head == whole, "response two pieces: head differs") }

    guard input.count <= 2048 else { return (expected, whole) }
    var byByte = ResponseHeadParser(limits: limits)
    result = .incomplete
    var end = 0
    while result == .incomplete && end < input.count {
        end += 1
        let prefix = Array(input[0..<end])
        result = byByte.parse(prefix.span, requestMethod: method, into: &head)
    }
    require(result == expected, "response byte by byte: \(result) vs \(expected)")
    if result == .complete { require(head == whole, "response byte by byte: head differs") }
    return (expected, whole)
}

/// Parses responses as an upstream connection does: after an interim (1xx) head, the next head
/// starts right after it.
func fuzzResponses(_ input: [UInt8], method: HTTPMethod, limits: RequestLimits, split: Int) {
    var rest = input
    while true {
        let (result, head) = fuzzResponseHead(rest, method: method, limits: limits, split: split)
        guard result == .complete, head.isInterim else { return }
        rest = Array(rest[head.headLength...])
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count >= 2 else { return 0 }
    let raw = Array(UnsafeRawBufferPointer(start: start, count: count))
    // Byte 0 picks the limits (and, for responses, the request method), byte 1 the split point;
    // the rest is the request, the chunked body or the response.
    let limits = limits(for: raw[0])
    let input = Array(raw[2...])
    let split = input.isEmpty ? 0 : Int(raw[1]) % (input.count + 1)
    fuzzHead(input, limits: limits, split: split)
    fuzzChunked(input, limits: limits, split: split)
    fuzzResponses(input, method: requestMethod(for: raw[0]), limits: limits, split: split)
    return 0
}
