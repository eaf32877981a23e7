import Testing
@testable import SluiceHTTP1

typealias HeadResult = RequestHeadParser.HeadParseResult

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The bytes of `range` as text, for readable assertions.
func text(_ input: [UInt8], _ range: Range<Int>) -> String {
    String(decoding: input[range], as: UTF8.self)
}

/// Parses `input` in one call with a fresh parser.
func parseOnce(_ input: [UInt8], limits: RequestLimits = RequestLimits()) -> (HeadResult, RequestHead) {
    var parser = RequestHeadParser(limits: limits)
    var head = RequestHead()
    let result = parser.parse(input.span, into: &head)
    return (result, head)
}

func parseOnce(_ input: String, limits: RequestLimits = RequestLimits()) -> (HeadResult, RequestHead) {
    parseOnce(bytes(input), limits: limits)
}

/// A small deterministic generator (SplitMix64) so that random splits repeat from run to run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random cut points for `count` bytes: sorted, distinct, strictly inside (0, count).
func randomCuts(count: Int, using generator: inout SeededGenerator) -> [Int] {
    guard count > 1 else { return [] }
    let pieces = Int.random(in: 1...min(count, 12), using: &generator)
    var cuts = Set<Int>()
    while cuts.count < pieces - 1 { cuts.insert(Int.random(in: 1..<count, using: &generator)) }
    return cuts.sorted()
}

/// What decoding a whole chunked body produced: the final state, the decoded data, and where in
/// the input the decoder stopped (after the final CRLF when done, at the bad byte when failed).
struct ChunkedOutcome: Equatable, CustomStringConvertible {
    var state: ChunkedBodyDecoder.State
    var data: [UInt8]
    var end: Int

    var description: String {
        "\(state) data=\(String(decoding: data, as: UTF8.self).debugDescription) end=\(end)"
    }
}

/// Feeds `input` to a fresh decoder in pieces cut at `cuts`, calling `decode` again with the rest
/// of a piece whenever a step leaves bytes unconsumed, as a connection would. Checks on the way
/// that every step's ranges lie inside the span it was given.
func decodeChunked(_ input: [UInt8], cuts: [Int] = [], bodyBytesMax: Int = 1 << 20,
                   extensionBytesMax: Int = 4096, trailerBytesMax: Int = 10_240) -> ChunkedOutcome {
    var decoder = ChunkedBodyDecoder(bodyBytesMax: bodyBytesMax, extensionBytesMax: extensionBytesMax,
                                     trailerBytesMax: trailerBytesMax)
    var data: [UInt8] = []
    let bounds = [0] + cuts + [input.count]
    for pieceIndex in 0..<(bounds.count - 1) {
        var position = bounds[pieceIndex]
        let pieceEnd = bounds[pieceIndex + 1]
        while position < pieceEnd {
            let piece = Array(input[position..<pieceEnd])
            let step = decoder.decode(piece.span)
            #expect(step.consumed >= 0 && step.consumed <= piece.count, "consumed out of bounds")
            if let range = step.data {
                guard range.lowerBound >= 0 && range.upperBound <= step.consumed && !range.isEmpty else {
                    Issue.record("data range \(range) out of bounds for consumed \(step.consumed)")
                    return ChunkedOutcome(state: .failed(.badRequest), data: data, end: -1)
                }
                data += piece[range]
            }
            switch step.state {
            case .done, .failed:
                return ChunkedOutcome(state: step.state, data: data, end: position + step.consumed)
            case .needMore:
                guard step.consumed > 0 else {
                    Issue.record("decode made no progress")
                    return ChunkedOutcome(state: .needMore, data: data, end: -1)
                }
                position += step.consumed
            }
        }
    }
    return ChunkedOutcome(state: .needMore, data: data, end: input.count)
}

// `#expect` cannot take a `Span` argument in a call it expands (Span is not Escapable), so the
// tests call these array-taking forms inside expectations.
extension RequestHeadParser {
    mutating func parse(_ input: [UInt8], into head: inout RequestHead) -> HeadResult {
        parse(input.span, into: &head)
    }
}

extension ChunkedBodyDecoder {
    mutating func decode(_ input: [UInt8]) -> ChunkedStep { decode(input.span) }
}

extension RequestHead {
    func value(ofHeader name: [UInt8], in input: [UInt8]) -> Range<Int>? {
        value(ofHeader: name.span, in: input.span)
    }

    func count(ofHeader name: [UInt8], in input: [UInt8]) -> Int {
        count(ofHeader: name.span, in: input.span)
    }
}

enum ArrayBytes {
    static func equalsIgnoringCase(_ input: [UInt8], _ range: Range<Int>, lowercased name: [UInt8]) -> Bool {
        HTTPBytes.equalsIgnoringCase(input.span, range, lowercased: name.span)
    }

    static func equalsIgnoringCase(_ a: [UInt8], _ aRange: Range<Int>, _ b: [UInt8], _ bRange: Range<Int>) -> Bool {
        HTTPBytes.equalsIgnoringCase(a.span, aRange, b.span, bRange)
    }

    static func equals(_ input: [UInt8], _ range: Range<Int>, _ expected: [UInt8]) -> Bool {
        HTTPBytes.equals(input.span, range, expected.span)
    }

    static func trimmingWhitespace(_ input: [UInt8], _ range: Range<Int>) -> Range<Int> {
        HTTPBytes.trimmingWhitespace(input.span, range)
    }
}

extension FieldListIterator {
    mutating func next(in input: [UInt8]) -> Range<Int>? { next(in: input.span) }
}
