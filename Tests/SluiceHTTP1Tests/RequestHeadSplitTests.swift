import Testing
@testable import SluiceHTTP1

/// However the bytes of a request arrive, the parser must reach the answer it gives when it sees
/// them all at once, and must never answer differently on the way.
@Suite("Request head: incremental parsing")
struct RequestHeadSplitTests {
    static let smallLimits = RequestLimits(headBytesMax: 96, headersMax: 4, bodyBytesMax: 100)

    /// Requests valid and invalid, several with pipelined bytes after the head.
    static let inputs: [String] = [
        "GET /pets?limit=10 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n",
        "\r\n\r\nPOST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET http://example.com:8080/a?b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n5\r\nhello\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: \t v \t\r\n\r\n",
        "get / HTTP/1.1\r\nHost: a\r\n\r\n",
        // Refused in the syntax scan.
        "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
        "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1x\r\nHost: a\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
        "\n\nGET / HTTP/1.1\r\n\r\n",
        // Refused once complete.
        "GET / HTTP/1.1\r\nX: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 101\r\n\r\n",
        "PUT / HTTP/1.1\r\nHost: a\r\nExpect: nope\r\n\r\n",
        "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
        // Over the small limits: too long, too many fields, and a bad byte past the limit.
        "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + String(repeating: "v", count: 80) + "\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + String(repeating: "v", count: 70) + "\u{0}\r\n\r\n",
        // Incomplete.
        "GET / HTTP/1.1\r\nHost: a\r\n",
    ]

    /// Asserts that parsing `input` fed in pieces ending at each of `ends` (increasing, the last
    /// one `input.count`) matches the one-call outcome.
    static func checkPieces(_ input: [UInt8], ends: [Int], limits: RequestLimits,
                            expected: (HeadResult, RequestHead), label: String) {
        var parser = RequestHeadParser(limits: limits)
        var head = RequestHead()
        var result = HeadResult.incomplete
        for end in ends {
            let prefix = Array(input[0..<end])
            result = parser.parse(prefix.span, into: &head)
            if result == .incomplete { continue }
            // The first answer other than `.incomplete` must be the one-call answer.
            #expect(result == expected.0, "\(label) at \(end) of \(input.count)")
            if case .failed = result {
                // And a failure is final: more bytes do not change it.
                #expect(parser.parse(input, into: &head) == result, "\(label)")
            }
            break
        }
        #expect(result == expected.0, "\(label): final")
        if result == .complete {
            #expect(head == expected.1, "\(label): head differs")
        }
    }

    @Test(arguments: inputs)
    func byteByByte(_ request: String) {
        let input = bytes(request)
        for limits in [RequestLimits(), Self.smallLimits] {
            let expected = parseOnce(input, limits: limits)
            Self.checkPieces(input, ends: Array(0...input.count), limits: limits, expected: expected,
                             label: "byte by byte")
        }
    }

    @Test(arguments: inputs)
    func everySplitInTwo(_ request: String) {
        let input = bytes(request)
        for limits in [RequestLimits(), Self.smallLimits] {
            let expected = parseOnce(input, limits: limits)
            for split in 0...input.count {
                Self.checkPieces(input, ends: [split, input.count], limits: limits, expected: expected,
                                 label: "split at \(split)")
            }
        }
    }

    @Test(arguments: inputs)
    func randomSplits(_ request: String) {
        let input = bytes(request)
        var generator = SeededGenerator(seed: UInt64(input.count) &* 0x5EED)
        for limits in [RequestLimits(), Self.smallLimits] {
            let expected = parseOnce(input, limits: limits)
            for _ in 0..<50 {
                let cuts = randomCuts(count: input.count, using: &generator)
                Self.checkPieces(input, ends: cuts + [input.count], limits: limits, expected: expected,
                                 label: "cuts \(cuts)")
            }
        }
    }

    @Test func theExpectedOutcomesAreTheIntendedOnes() {
        // Guards the tests above against passing trivially (say, everything failing alike).
        let outcomes = Self.inputs.map { parseOnce($0).0 }
        #expect(outcomes.filter { $0 == .complete }.count == 12)
        #expect(outcomes.last == .incomplete)
        #expect(outcomes.contains(.failed(.versionNotSupported)))
        #expect(outcomes.contains(.failed(.notImplemented)))
        #expect(outcomes.contains(.failed(.expectationFailed)))
        let small = Self.inputs.suffix(4).map { parseOnce($0, limits: Self.smallLimits).0 }
        #expect(small == [.failed(.headTooLarge), .failed(.headTooLarge), .failed(.headTooLarge), .incomplete])
    }

    @Test func pipelinedHeadIsFoundWhateverTheSplit() {
        let first = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n"
        let input = bytes(first + "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        for split in 0...input.count {
            var parser = RequestHeadParser(limits: RequestLimits())
            var head = RequestHead()
            let prefix = Array(input[0..<split])
            let early = parser.parse(prefix.span, into: &head)
            #expect(early == (split >= first.utf8.count ? .complete : .incomplete))
            if early == .incomplete {
                #expect(parser.parse(input, into: &head) == .complete)
            }
            #expect(head.headLength == first.utf8.count)
            #expect(text(input, head.path) == "/1")
        }
    }
}
