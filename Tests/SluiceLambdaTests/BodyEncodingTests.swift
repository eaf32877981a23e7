import SluiceHTTP1
import Testing
@testable import SluiceLambda

@Suite("Event body streaming")
struct BodyEncodingTests {
    static let context = LambdaEventContext(format: .version1, resourcePath: "/r", stage: "s", apiID: "a")

    /// The event for a `POST /s/r` whose body arrives in `pieces`.
    static func event(_ pieces: [[UInt8]], encoding: LambdaBodyEncoding = .text,
                      format: LambdaPayloadFormat = .version1) throws -> [UInt8] {
        let (input, head) = try parsedHead(["POST /s/r HTTP/1.1", "Host: h"])
        let context = LambdaEventContext(format: format, resourcePath: "/r", stage: "s", apiID: "a")
        return writeEvent(head: input, head, context: context, stagePrefix: 2, body: pieces, encoding: encoding)
    }

    /// The raw bytes between `"body":"` and the closing quote.
    static func bodyText(_ event: [UInt8]) -> [UInt8] {
        let start = range(of: #""body":""#, in: event).upperBound
        let end = range(of: #"","isBase64Encoded""#, in: event).lowerBound
        return Array(event[start..<end])
    }

    /// Splits `input` at the given cut points.
    static func split(_ input: [UInt8], at cuts: [Int]) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var start = 0
        for cut in cuts.sorted() {
            pieces.append(Array(input[start..<cut]))
            start = cut
        }
        pieces.append(Array(input[start...]))
        return pieces
    }

    // MARK: - Text

    @Test func everyControlCharacterQuoteAndBackslashIsEscaped() throws {
        let body = Array(0x00...0x1F as ClosedRange<UInt8>) + bytes("\"\\/\u{7F}x")
        let expected = #"\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f"#
            + #"\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f"#
            + #"\"\\/"# + "\u{7F}x"
        let event = try Self.event([body])
        #expect(string(Self.bodyText(event)) == expected)
        #expect(try TestJSONReader.parse(event)["body"] == .string(string(body)))
    }

    @Test func nonASCIIUTF8PassesUnchanged() throws {
        let text = "héllo wörld — € 𝄞 日本語 🇫🇷"
        let event = try Self.event([bytes(text)])
        #expect(Self.bodyText(event) == bytes(text))
    }

    /// Ill-formed sequences, each replaced by U+FFFD per maximal subpart exactly as the standard
    /// library's decoder does (Unicode §3.9), at every split point.
    @Test(arguments: [
        [0x80], [0xBF, 0x41], [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xE0, 0x80, 0x80],
        [0xE0, 0xA0], [0xE0, 0xA0, 0x41], [0xED, 0xA0, 0x80], [0xED, 0x9F, 0xBF], [0xEF, 0xBF, 0xBF],
        [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80], [0xF0, 0x9F, 0x98, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80], [0xFE], [0xFF, 0xFF], [0xE2, 0x82, 0xE2, 0x82, 0xAC],
        [0x41, 0xF0, 0x9F, 0x42, 0x98, 0x80], [0xC3, 0xA9, 0xC3], [0xF1, 0x80, 0x80, 0xF1, 0x80, 0x80, 0x80],
    ] as [[UInt8]])
    func invalidUTF8IsReplacedAsTheStandardLibraryDoes(input: [UInt8]) throws {
        let body = bytes("<") + input + bytes(">")
        let expected = referenceEscaped(String(decoding: body, as: UTF8.self))
        for cut in 0...body.count {
            let event = try Self.event(Self.split(body, at: [cut]))
            #expect(Self.bodyText(event) == expected, "cut at \(cut)")
        }
        for first in 0...body.count {
            for second in first...body.count {
                let event = try Self.event(Self.split(body, at: [first, second]))
                #expect(Self.bodyText(event) == expected, "cuts at \(first), \(second)")
            }
        }
    }

    @Test func randomBytesInRandomPiecesMatchTheReference() throws {
        var generator = SeededGenerator(seed: 42)
        let interesting: [UInt8] = [0x00, 0x0A, 0x1F, 0x22, 0x5C, 0x41, 0x7F, 0x80, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0,
                                    0xE2, 0xED, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5, 0xFF, 0x9F, 0xA0, 0x8F, 0x90]
        for _ in 0..<300 {
            // (An empty body is none: `anEmptyBodyIsNone`.)
            let count = Int.random(in: 1..<60, using: &generator)
            let body = (0..<count).map { _ in interesting.randomElement(using: &generator)! }
            let expected = referenceEscaped(String(decoding: body, as: UTF8.self))
            let cuts = (0..<Int.random(in: 0..<6, using: &generator)).map { _ in Int.random(in: 0...count, using: &generator) }
            let event = try Self.event(Self.split(body, at: cuts))
            #expect(Self.bodyText(event) == expected, "\(body) cut at \(cuts)")
            #expect(try TestJSONReader.parse(event)["body"] == .string(String(decoding: body, as: UTF8.self)))
        }
    }

    @Test func aSequenceLeftIncompleteAtTheEndBecomesOneReplacement() throws {
        let event = try Self.event([bytes("ab"), [0xF0, 0x9F], [0x98]])
        #expect(Self.bodyText(event) == bytes("ab\u{FFFD}"))
    }

    @Test func textBodyWorksForVersion2() throws {
        let event = try Self.event([bytes("a\"b")], format: .version2)
        let json = try TestJSONReader.parse(event)
        #expect(json["body"] == .string("a\"b"))
        #expect(json["isBase64Encoded"] == .bool(false))
    }

    /// A body that arrives empty (a chunked request with no data, empty pieces) is no body, as
    /// API Gateway writes it: `null` in 1.0, left out in 2.0, text or base64 alike.
    @Test(arguments: [LambdaBodyEncoding.text, .base64])
    func anEmptyBodyIsNone(encoding: LambdaBodyEncoding) throws {
        for pieces: [[UInt8]] in [[], [[]], [[], []]] {
            let version1 = try TestJSONReader.parse(Self.event(pieces, encoding: encoding))
            #expect(version1["body"] == .null)
            #expect(version1["isBase64Encoded"] == .bool(false))
            let version2 = try Self.event(pieces, encoding: encoding, format: .version2)
            #expect(!string(version2).contains(#""body""#))
            #expect(try TestJSONReader.parse(version2)["isBase64Encoded"] == .bool(false))
        }
        // A body that starts in a later piece is opened once.
        let late = try Self.event([[], bytes("ab"), []], encoding: encoding)
        #expect(try TestJSONReader.parse(late)["body"] == .string(encoding == .text ? "ab" : "YWI="))
    }

    // MARK: - Base64

    @Test(arguments: [("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64MatchesRFC4648Vectors(input: String, expected: String) throws {
        let event = try Self.event([bytes(input)], encoding: .base64)
        #expect(string(Self.bodyText(event)) == expected)
        #expect(try TestJSONReader.parse(event)["isBase64Encoded"] == .bool(true))
    }

    @Test func base64OfABinaryBodyAtEverySplit() throws {
        var generator = SeededGenerator(seed: 1000)
        let body = (0..<1000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let expected = referenceBase64(body)
        #expect(try Self.bodyText(Self.event([body], encoding: .base64)) == expected)
        for cut in 0...body.count {
            #expect(try Self.bodyText(Self.event(Self.split(body, at: [cut]), encoding: .base64)) == expected,
                    "cut at \(cut)")
        }
        // Three pieces with every pair of small first pieces, and random many-piece splits.
        for first in 0..<8 {
            for second in first..<first + 8 {
                #expect(try Self.bodyText(Self.event(Self.split(body, at: [first, second]), encoding: .base64))
                    == expected)
            }
        }
        for _ in 0..<100 {
            let cuts = (0..<Int.random(in: 1..<40, using: &generator)).map { _ in Int.random(in: 0...1000, using: &generator) }
            #expect(try Self.bodyText(Self.event(Self.split(body, at: cuts), encoding: .base64)) == expected)
        }
    }

    // MARK: - Output bounds

    @Test func piecesNeverWriteMoreThanTheirBound() throws {
        var generator = SeededGenerator(seed: 5)
        for encoding in [LambdaBodyEncoding.text, .base64] {
            let (input, head) = try parsedHead(["POST /s/r HTTP/1.1", "Host: h"])
            let parts = LambdaRequestParts(head: head, stagePrefixByteCount: 2, requestTimeEpochMilliseconds: 0)
            var scratch = LambdaEventScratch()
            var output: [UInt8] = []
            let empty: [UInt8] = []
            var state = LambdaEvent.writePrefix(request: parts, head: input.span, headers: head.headers,
                                                pathParameterValues: [], requestID: empty.span, sourceIP: empty.span,
                                                context: Self.context, body: encoding, scratch: &scratch, to: &output)
            for _ in 0..<500 {
                let capacity = Int.random(in: 0..<64, using: &generator)
                let count = state.chunkInputBytesMax(outputByteCapacity: capacity)
                // The worst bytes for each encoding: controls for text, anything for base64.
                let piece = (0..<count).map { _ in encoding == .text ? UInt8(1) : UInt8.random(in: 0...255, using: &generator) }
                let before = output.count
                let bound = state.chunkOutputBytesMax(inputByteCount: piece.count)
                LambdaEvent.writeBodyChunk(piece.span, state: &state, to: &output)
                #expect(output.count - before <= bound)
                #expect(output.count - before <= capacity)
            }
            // A pending sequence completing: 3 carried bytes come out with the 4th.
            if encoding == .text {
                let lead: [UInt8] = [0xF0, 0x9F, 0x98]
                LambdaEvent.writeBodyChunk(lead.span, state: &state, to: &output)
                let before = output.count
                let last: [UInt8] = [0x80]
                LambdaEvent.writeBodyChunk(last.span, state: &state, to: &output)
                #expect(output.count - before <= state.chunkOutputBytesMax(inputByteCount: 1))
            }
            let before = output.count
            LambdaEvent.writeSuffix(state: &state, to: &output)
            #expect(output.count - before <= BodyEncoderState.suffixBytesMax)
            #expect(state.isFinished)
        }
    }
}

@Suite struct Version2BodyEncodingTests {
    func encoding(_ contentType: String) -> LambdaBodyEncoding {
        let bytes = Array(contentType.utf8)
        return LambdaBodyEncoding.version2(contentType: bytes.span)
    }

    @Test func textualMediaTypesAreText() {
        for type in ["text/plain", "TEXT/HTML; charset=utf-8", "application/json", " application/json ; charset=utf-8",
                     "application/xml", "application/javascript", "application/x-www-form-urlencoded",
                     "application/problem+json", "application/atom+xml", "Application/JSON"] {
            #expect(encoding(type) == .text, "\(type)")
        }
    }

    @Test func everythingElseIsBase64() {
        for type in ["", "application/octet-stream", "image/png", "multipart/form-data; boundary=x", "application/jsonx",
                     "texts/plain", "json", "application/pdf"] {
            #expect(encoding(type) == .base64, "\(type)")
        }
    }
}
