// A libFuzzer target for SluiceHTTP1: the request-head parser and the chunked body decoder.
// It is compiled together with the module's sources into one module (see ../README.md), so the
// module's types are used without an import. It checks invariants, not just the absence of
// crashes: every range lies inside the input, a head fed in pieces gets the answer it gets whole,
// and a chunked body decodes to the same bytes and ends at the same place however it is split.

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

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count >= 2 else { return 0 }
    let raw = Array(UnsafeRawBufferPointer(start: start, count: count))
    // Byte 0 picks the limits, byte 1 the split point; the rest is the request.
    let limits = limits(for: raw[0])
    let input = Array(raw[2...])
    let split = input.isEmpty ? 0 : Int(raw[1]) % (input.count + 1)
    fuzzHead(input, limits: limits, split: split)
    fuzzChunked(input, limits: limits, split: split)
    return 0
}
