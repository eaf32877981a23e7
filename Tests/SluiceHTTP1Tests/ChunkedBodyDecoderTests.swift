import Testing
@testable import SluiceHTTP1

@Suite("Chunked body decoder")
struct ChunkedBodyDecoderTests {
    @Test func singleChunkReturnsItsDataAsARange() {
        let input = bytes("5\r\nhello\r\n0\r\n\r\n")
        var decoder = ChunkedBodyDecoder(bodyBytesMax: 100)
        let first = decoder.decode(input.span)
        #expect(first == ChunkedBodyDecoder.ChunkedStep(consumed: 8, data: 3..<8, state: .needMore))
        let rest = Array(input[8...])
        let second = decoder.decode(rest.span)
        #expect(second == ChunkedBodyDecoder.ChunkedStep(consumed: 7, data: nil, state: .done))
        #expect(decoder.isDone)
        // After done, nothing more is consumed.
        #expect(decoder.decode(rest) == ChunkedBodyDecoder.ChunkedStep(consumed: 0, data: nil, state: .done))
    }

    @Test func stopsExactlyAfterTheFinalCRLF() {
        let body = "4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"
        let outcome = decodeChunked(bytes(body + "GET / HTTP/1.1\r\n"))
        #expect(outcome == ChunkedOutcome(state: .done, data: bytes("Wikipedia"), end: body.utf8.count))
    }

    @Test func hexSizesInEitherCaseWithLeadingZeros() {
        let data = String(repeating: "x", count: 26)
        let body = "a\r\n" + String(data.prefix(10)) + "\r\n00010\r\n" + String(data.prefix(16)) + "\r\n000\r\n\r\n"
        #expect(decodeChunked(bytes(body)) == ChunkedOutcome(state: .done, data: bytes(data), end: body.utf8.count))
        let upper = "A\r\n0123456789\r\n0\r\n\r\n"
        #expect(decodeChunked(bytes(upper)).data == bytes("0123456789"))
    }

    @Test(arguments: [
        "5;name\r\nhello\r\n0\r\n\r\n",
        "5;name=value\r\nhello\r\n0\r\n\r\n",
        "5;a=1;b;c=\"quoted; \\\"string\\\"\"\r\nhello\r\n0;last=1\r\n\r\n",
        "5;a=\"\"\r\nhello\r\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nY:\r\nZ: \t z \u{80}\r\n\r\n",
    ])
    func extensionsAndTrailersAreAcceptedAndIgnored(body: String) {
        let outcome = decodeChunked(bytes(body + "NEXT"))
        #expect(outcome == ChunkedOutcome(state: .done, data: bytes("hello"), end: body.utf8.count))
    }

    @Test func extensionAtTheLengthLimit() {
        let atLimit = ";" + String(repeating: "e", count: 4095)
        let ok = "1" + atLimit + "\r\nx\r\n0\r\n\r\n"
        #expect(decodeChunked(bytes(ok)).state == .done)
        let over = "1" + atLimit + "e\r\nx\r\n0\r\n\r\n"
        #expect(decodeChunked(bytes(over)) == ChunkedOutcome(state: .failed(.badRequest), data: [], end: 4097))
    }

    @Test func trailerSectionLimit() {
        // The trailer section here is "T: vvv…\r\n\r\n": 3 + 20 + 2 + 2 = 27 bytes.
        let body = "0\r\nT: " + String(repeating: "v", count: 20) + "\r\n\r\n"
        #expect(decodeChunked(bytes(body), trailerBytesMax: 27).state == .done)
        #expect(decodeChunked(bytes(body), trailerBytesMax: 26)
            == ChunkedOutcome(state: .failed(.headTooLarge), data: [], end: 29))
    }

    @Test func bodyAtTheLimitIsAcceptedAndOneMoreIsRefused() {
        let body = bytes("6\r\nhello!\r\n4\r\nabcd\r\n0\r\n\r\n")
        #expect(decodeChunked(body, bodyBytesMax: 10).state == .done)
        // Refused at the LF of the size line that announces the 11th byte, before its data.
        #expect(decodeChunked(body, bodyBytesMax: 9)
            == ChunkedOutcome(state: .failed(.bodyTooLarge), data: bytes("hello!"), end: 13))
    }

    @Test func largestSizeIsParsedAndRefusedAsTooLarge() {
        #expect(decodeChunked(bytes("7fffffffffffffff\r\n"), bodyBytesMax: Int.max).state == .needMore)
        #expect(decodeChunked(bytes("7fffffffffffffff\r\n")).state == .failed(.bodyTooLarge))
    }

    /// Each case: a description, the body, the data decoded before the failure, and the offset of
    /// the byte that fails it.
    static let refused: [(String, String, String, Int)] = [
        ("empty size", "\r\n", "", 0),
        ("non-hex size", "g\r\n", "", 0),
        ("size with non-hex tail", "5g\r\n", "", 1),
        ("leading space", " 5\r\n", "", 0),
        ("trailing space", "5 \r\nhello\r\n", "", 1),
        ("space before extension", "5 ;a\r\nhello\r\n", "", 1),
        ("0x prefix", "0x10\r\n", "", 1),
        ("plus sign", "+5\r\n", "", 0),
        ("minus sign", "-5\r\n", "", 0),
        ("17 digits", "00000000000000001\r\n", "", 16),
        ("16 digits over Int.max", "8000000000000000\r\n", "", 15),
        ("size then bare LF", "5\nhello\r\n", "", 1),
        ("size then bare CR", "5\rhello\r\n", "", 2),
        ("data without CRLF", "5\r\nhelloX\r\n0\r\n\r\n", "hello", 8),
        ("data with bare LF", "5\r\nhello\n0\r\n\r\n", "hello", 8),
        ("data with bare CR", "5\r\nhello\r0\r\n\r\n", "hello", 9),
        ("data too long", "3\r\nhello\r\n", "hel", 6),
        ("empty extension name", "5;\r\nhello\r\n", "", 2),
        ("space in extension", "5;a b\r\nhello\r\n", "", 3),
        ("space after semicolon", "5; a\r\nhello\r\n", "", 2),
        ("empty extension value", "5;a=\r\nhello\r\n", "", 4),
        ("unterminated quoted value", "5;a=\"b\r\nhello\r\n", "", 6),
        ("junk after quoted value", "5;a=\"b\"c\r\nhello\r\n", "", 7),
        ("NUL in quoted value", "5;a=\"\u{0}\"\r\nhello\r\n", "", 5),
        ("extension bare LF", "5;a\nhello\r\n", "", 3),
        ("last chunk bare LF", "0\n\r\n", "", 1),
        ("final bare LF", "0\r\n\n", "", 3),
        ("final CR then junk", "0\r\n\rX", "", 4),
        ("trailer obs-fold", "0\r\nA: b\r\n c\r\n\r\n", "", 9),
        ("trailer space before colon", "0\r\nA : b\r\n\r\n", "", 4),
        ("trailer empty name", "0\r\n: b\r\n\r\n", "", 3),
        ("trailer no colon", "0\r\nAb\r\n\r\n", "", 5),
        ("trailer NUL", "0\r\nA: \u{0}\r\n\r\n", "", 6),
        ("trailer DEL", "0\r\nA: \u{7F}\r\n\r\n", "", 6),
        ("trailer bare LF", "0\r\nA: b\n\r\n", "", 7),
        ("trailer bare CR", "0\r\nA: b\rX\r\n\r\n", "", 8),
    ]

    @Test(arguments: refused)
    func refusedBodies(description: String, body: String, data: String, end: Int) {
        let outcome = decodeChunked(bytes(body))
        #expect(outcome == ChunkedOutcome(state: .failed(.badRequest), data: bytes(data), end: end),
                "\(description)")
    }

    @Test func failureIsStickyUntilReset() {
        var decoder = ChunkedBodyDecoder(bodyBytesMax: 100)
        let bad = bytes("x")
        #expect(decoder.decode(bad).state == .failed(.badRequest))
        let good = bytes("0\r\n\r\n")
        #expect(decoder.decode(good) == ChunkedBodyDecoder.ChunkedStep(consumed: 0, data: nil,
                                                                            state: .failed(.badRequest)))
        decoder.reset()
        #expect(decoder.decode(good) == ChunkedBodyDecoder.ChunkedStep(consumed: 5, data: nil, state: .done))
    }

    @Test func resetAllowsAFreshBodyLimit() {
        var decoder = ChunkedBodyDecoder(bodyBytesMax: 5)
        let body = bytes("5\r\nhello\r\n0\r\n\r\n")
        for _ in 0..<3 {
            decoder.reset()
            var position = 0
            var state = ChunkedBodyDecoder.State.needMore
            while position < body.count && state == .needMore {
                let rest = Array(body[position...])
                let step = decoder.decode(rest.span)
                position += step.consumed
                state = step.state
            }
            #expect(state == .done)
            #expect(position == body.count)
        }
    }

    @Test func emptyInputNeedsMore() {
        var decoder = ChunkedBodyDecoder(bodyBytesMax: 5)
        let empty: [UInt8] = []
        #expect(decoder.decode(empty) == ChunkedBodyDecoder.ChunkedStep(consumed: 0, data: nil, state: .needMore))
    }

    // MARK: - Splits

    static let splitInputs: [String] = [
        "5\r\nhello\r\n0\r\n\r\n",
        "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        "5;a=1;b=\"x\\\"y\"\r\nhello\r\n0;z\r\nT: v\r\nU: w\r\n\r\nNEXT",
        "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n",
        "10\r\n0123456789abcdef\r\n0\r\n\r\n",
        "5\r\nhello\r\n0\r\n",
        "5\r\nhel",
        "5\r\nhelloX\r\n",
        "5 \r\nhello\r\n",
        "0x5\r\n",
        "00000000000000001\r\n",
        "8000000000000000\r\n",
        "5\nhello\r\n",
        "5\r\nhello\r\n0\r\n A: b\r\n\r\n",
        "5\r\nhello\r\n0\r\nA : b\r\n\r\n",
        "5\r\nhello\r\n0\r\nA: \u{1}\r\n\r\n",
        "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n",
        "5;" + String(repeating: "e", count: 40) + "\r\nhello\r\n0\r\n\r\n",
        "0\r\nT: " + String(repeating: "v", count: 40) + "\r\n\r\n",
    ]

    /// Small limits so that some inputs above cross them: 10 body bytes, 32 extension bytes, 32
    /// trailer bytes.
    static func decodeSmall(_ input: [UInt8], cuts: [Int]) -> ChunkedOutcome {
        decodeChunked(input, cuts: cuts, bodyBytesMax: 10, extensionBytesMax: 32, trailerBytesMax: 32)
    }

    @Test(arguments: splitInputs)
    func byteByByteMatchesOneCall(_ body: String) {
        let input = bytes(body)
        let everyByte = Array(1..<max(input.count, 1))
        #expect(decodeChunked(input, cuts: everyByte) == decodeChunked(input))
        #expect(Self.decodeSmall(input, cuts: everyByte) == Self.decodeSmall(input, cuts: []))
    }

    @Test(arguments: splitInputs)
    func everySplitInTwoMatchesOneCall(_ body: String) {
        let input = bytes(body)
        let whole = decodeChunked(input)
        let wholeSmall = Self.decodeSmall(input, cuts: [])
        for split in 1..<max(input.count, 1) {
            #expect(decodeChunked(input, cuts: [split]) == whole, "split at \(split)")
            #expect(Self.decodeSmall(input, cuts: [split]) == wholeSmall, "split at \(split)")
        }
    }

    @Test(arguments: splitInputs)
    func randomSplitsMatchOneCall(_ body: String) {
        let input = bytes(body)
        let whole = decodeChunked(input)
        let wholeSmall = Self.decodeSmall(input, cuts: [])
        var generator = SeededGenerator(seed: 0xC0FFEE &+ UInt64(input.count))
        for _ in 0..<100 {
            let cuts = randomCuts(count: input.count, using: &generator)
            #expect(decodeChunked(input, cuts: cuts) == whole, "cuts \(cuts)")
            #expect(Self.decodeSmall(input, cuts: cuts) == wholeSmall, "cuts \(cuts)")
        }
    }

    @Test func theSplitInputsHaveTheIntendedOutcomes() {
        let states = Self.splitInputs.map { decodeChunked(bytes($0)).state }
        #expect(states == [.done, .done, .done, .done, .done, .needMore, .needMore,
                           .failed(.badRequest), .failed(.badRequest), .failed(.badRequest),
                           .failed(.badRequest), .failed(.badRequest), .failed(.badRequest),
                           .failed(.badRequest), .failed(.badRequest), .failed(.badRequest),
                           .done, .done, .done])
        let small = Self.splitInputs.suffix(3).map { Self.decodeSmall(bytes($0), cuts: []).state }
        #expect(small == [.failed(.bodyTooLarge), .failed(.badRequest), .failed(.headTooLarge)])
        #expect(decodeChunked(bytes(Self.splitInputs[1])).data == bytes("Wikipedia in\r\n\r\nchunks."))
    }
}
