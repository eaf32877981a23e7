import Testing
@testable import SluiceHTTP1

typealias ResponseResult = ResponseHeadParser.HeadParseResult

/// Parses `input` in one call with a fresh parser, as the answer to `method`.
func parseResponse(_ input: [UInt8], method: HTTPMethod = .get, limits: RequestLimits = RequestLimits())
    -> (ResponseResult, ResponseHead)
{
    var parser = ResponseHeadParser(limits: limits)
    var head = ResponseHead()
    let result = parser.parse(input.span, requestMethod: method, into: &head)
    return (result, head)
}

func parseResponse(_ input: String, method: HTTPMethod = .get, limits: RequestLimits = RequestLimits())
    -> (ResponseResult, ResponseHead)
{
    parseResponse(bytes(input), method: method, limits: limits)
}

// `#expect` cannot take a `Span` argument in a call it expands, so the tests use these forms.
extension ResponseHeadParser {
    mutating func parse(_ input: [UInt8], requestMethod: HTTPMethod = .get, into head: inout ResponseHead)
        -> ResponseResult
    {
        parse(input.span, requestMethod: requestMethod, into: &head)
    }
}

extension ResponseHead {
    func isHopByHop(_ name: Range<Int>, in input: [UInt8]) -> Bool { isHopByHop(name, in: input.span) }
}

@Suite("Response head: status line")
struct ResponseStatusLineTests {
    @Test func simpleResponseRecordsExactRanges() {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length:  5 \r\n\r\n"
        let input = bytes(head + "hello")
        let (result, parsed) = parseResponse(input)
        #expect(result == .complete)
        #expect(parsed.status == 200)
        #expect(parsed.reason == 13..<15)
        #expect(parsed.version == .http11)
        #expect(parsed.headers == [
            HeaderField(name: 17..<29, value: 31..<41),
            HeaderField(name: 43..<57, value: 60..<61),
        ])
        #expect(parsed.framing == .length(5))
        #expect(parsed.keepAlive)
        #expect(!parsed.contentLengthIgnored)
        #expect(!parsed.isInterim)
        #expect(parsed.headLength == 66)
        #expect(parsed.headLength == head.utf8.count)
        #expect(text(input, parsed.reason) == "OK")
        #expect(text(input, parsed.headers[0].value) == "text/plain")
    }

    @Test func emptyReasonAfterTheSpace() {
        let input = bytes("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n")
        let (result, head) = parseResponse(input)
        #expect(result == .complete)
        #expect(head.status == 200)
        #expect(head.reason == 13..<13)
        #expect(head.headers == [HeaderField(name: 15..<29, value: 31..<32)])
        #expect(head.headLength == input.count)
    }

    @Test func emptyReasonWithoutTheSpace() {
        let input = bytes("HTTP/1.1 204\r\n\r\n")
        let (result, head) = parseResponse(input)
        #expect(result == .complete)
        #expect(head.status == 204)
        #expect(head.reason == 12..<12)
        #expect(head.headers.isEmpty)
        #expect(head.headLength == 16)
    }

    @Test func reasonIsKeptExactlyWithTabsSpacesAndObsText() {
        let input = bytes("HTTP/1.1 404  Not \tFound é \r\n\r\n")
        let (result, head) = parseResponse(input)
        #expect(result == .complete)
        #expect(head.status == 404)
        #expect(head.reason == 13..<(input.count - 4))
        #expect(text(input, head.reason) == " Not \tFound é ")
    }

    @Test func longReasonCrossesTheWordScan() {
        let reason = String(repeating: "Reason ", count: 20)
        let input = bytes("HTTP/1.1 500 \(reason)\r\nContent-Length: 0\r\n\r\n")
        let (result, head) = parseResponse(input)
        #expect(result == .complete)
        #expect(text(input, head.reason) == reason)
    }

    @Test(arguments: [("HTTP/1.0", HTTPVersion.http10), ("HTTP/1.1", .http11), ("HTTP/1.2", .http11),
                      ("HTTP/1.9", .http11)])
    func versions(version: String, expected: HTTPVersion) {
        let (result, head) = parseResponse("\(version) 200 OK\r\nContent-Length: 0\r\n\r\n")
        #expect(result == .complete)
        #expect(head.version == expected)
    }

    @Test(arguments: [("100", 100), ("199", 199), ("200", 200), ("299", 299), ("418", 418), ("599", 599),
                      ("600", 600), ("999", 999), ("307", 307)])
    func statusCodes(code: String, status: Int) {
        let (result, head) = parseResponse("HTTP/1.1 \(code) X\r\nContent-Length: 0\r\n\r\n")
        #expect(result == .complete)
        #expect(head.status == status)
    }

    /// Status lines refused, each with the offset of the first byte that shows it: the parser must
    /// still say `.incomplete` just before that byte and fail on it.
    @Test(arguments: [
        ("HTTP/2 200 OK", 5), ("HTTP/2.0 200 OK", 5), ("HTTP/0.9 200 OK", 5), ("HTTP/1.x 200 OK", 7),
        ("http/1.1 200 OK", 0), ("ICY 200 OK", 0), (" HTTP/1.1 200 OK", 0), ("\r\nHTTP/1.1 200 OK", 0),
        ("HTTP/1.1  200 OK", 9), ("HTTP/1.1\t200 OK", 8), ("HTTP/1.1 20 OK", 11), ("HTTP/1.1 2000 OK", 12),
        ("HTTP/1.1 099 OK", 9), ("HTTP/1.1 000 OK", 9), ("HTTP/1.1 2x0 OK", 10), ("HTTP/1.1 200OK", 12),
        ("HTTP/1.1 200\tOK", 12), ("HTTP/1.11 200 OK", 8), ("HTTP/11 200 OK", 6), ("HTTP/1.1 -20 OK", 9),
        ("HTTP/1.1 200 O\u{0}K", 14), ("HTTP/1.1 200 O\u{7F}K", 14), ("HTTP/1.1 200 O\u{1B}K", 14),
        ("HTTP/1.1 200 O\nK", 14), ("HTTP/1.1 200 OK\n", 15), ("HTTP/1.1 200 OK\r\r", 16),
        ("HTTP/1.1 200 O\rK", 15), ("HTTP/1.1 200\n", 12),
    ])
    func refusedAtTheFirstBadByte(statusLine: String, badOffset: Int) {
        let input = bytes(statusLine + "\r\nContent-Length: 0\r\n\r\n")
        var parser = ResponseHeadParser(limits: RequestLimits())
        var head = ResponseHead()
        let before = Array(input[0..<badOffset])
        #expect(parser.parse(before, into: &head) == .incomplete, "before the bad byte")
        let through = Array(input[0...badOffset])
        #expect(parser.parse(through, into: &head) == .failed(.malformed), "at the bad byte")
        #expect(parseResponse(input).0 == .failed(.malformed), "whole")
    }

    @Test func switchingProtocolsIsRefused() {
        let (result, _) = parseResponse(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(result == .failed(.malformed))
    }
}

@Suite("Response head: field lines")
struct ResponseFieldTests {
    @Test func valuesAreTrimmedAndMayBeEmpty() {
        let input = bytes("HTTP/1.1 200 OK\r\nX-A: \t a b \t\r\nX-B:\r\nX-C:   \r\nContent-Length: 0\r\n\r\n")
        let (result, head) = parseResponse(input)
        #expect(result == .complete)
        #expect(head.headers.count == 4)
        #expect(head.headers[0] == HeaderField(name: 17..<20, value: 24..<27))
        #expect(text(input, head.headers[0].value) == "a b")
        #expect(head.headers[1] == HeaderField(name: 31..<34, value: 35..<35))
        #expect(head.headers[2].value.isEmpty)
        #expect(text(input, head.headers[2].name) == "X-C")
    }

    @Test(arguments: [
        "X: a\r\n b",  // obs-fold
        "X: a\r\n\tb",  // obs-fold with HTAB
        "X : a",  // whitespace before the colon
        "X\t: a",
        ": a",  // empty name
        "X: a\nY: b",  // bare LF
        "X: a\rY: b",  // bare CR
        "X: a\u{0}b",  // NUL
        "X: a\u{1}b",  // other control
        "X: a\u{7F}b",  // DEL
        "X(: a",  // non-token name byte
        "X",  // no colon before the line ends
        "Ä: a",  // obs-text in a name
    ])
    func malformedFieldLinesAreRefused(line: String) {
        let (result, _) = parseResponse("HTTP/1.1 200 OK\r\n\(line)\r\nContent-Length: 0\r\n\r\n")
        #expect(result == .failed(.malformed))
    }

    @Test func bareLFEndingTheHeadIsRefused() {
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n").0 == .failed(.malformed))
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\rX").0 == .failed(.malformed))
    }

    @Test func headExactlyAtTheLimitIsAcceptedAndOneByteMoreIsNot() {
        let input = bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        let exact = RequestLimits(headBytesMax: input.count, headersMax: 4, bodyBytesMax: 10)
        #expect(parseResponse(input, limits: exact).0 == .complete)
        let under = RequestLimits(headBytesMax: input.count - 1, headersMax: 4, bodyBytesMax: 10)
        #expect(parseResponse(input, limits: under).0 == .failed(.headTooLarge))
        // An unfinished head is too large as soon as it is longer than the limit.
        let unfinished = Array(input[0..<(input.count - 1)])
        #expect(parseResponse(unfinished, limits: under).0 == .incomplete)
        let tiny = RequestLimits(headBytesMax: 10, headersMax: 4, bodyBytesMax: 10)
        #expect(parseResponse(Array(input[0..<10]), limits: tiny).0 == .incomplete)
        #expect(parseResponse(Array(input[0..<11]), limits: tiny).0 == .failed(.headTooLarge))
    }

    @Test func fieldCountIsLimited() {
        let limits = RequestLimits(headBytesMax: 10_240, headersMax: 3, bodyBytesMax: 10)
        let three = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 0\r\n\r\n"
        #expect(parseResponse(three, limits: limits).0 == .complete)
        let four = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n"
        #expect(parseResponse(four, limits: limits).0 == .failed(.headTooLarge))
        // Refused at the first byte of the fourth field's name.
        let input = bytes(four)
        let fourthName = three.utf8.count - "Content-Length: 0\r\n\r\n".utf8.count + "C: 3\r\n".utf8.count
        #expect(parseResponse(Array(input[0..<fourthName]), limits: limits).0 == .incomplete)
        #expect(parseResponse(Array(input[0...fourthName]), limits: limits).0 == .failed(.headTooLarge))
    }
}

@Suite("Response head: framing")
struct ResponseFramingTests {
    @Test(arguments: [("5", 5), ("0", 0), ("007", 7), ("5, 5", 5), ("5,5,5", 5), (" 12 ", 12),
                      ("999999999999999999", 999_999_999_999_999_999)])
    func contentLength(value: String, length: Int) {
        let limits = RequestLimits(bodyBytesMax: Int.max)
        let (result, head) = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\n", limits: limits)
        #expect(result == .complete)
        #expect(head.framing == .length(length))
        #expect(head.keepAlive)
    }

    @Test func identicalDuplicateContentLengthsAreOne() {
        let (result, head) = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n")
        #expect(result == .complete)
        #expect(head.framing == .length(5))
    }

    @Test(arguments: ["5, 6", "abc", "-1", "+5", "0x5", "", "5,", ",5", "5 5", "1e3", "5;q",
                      "1234567890123456789", "\u{661}"])
    func invalidContentLengthIsMalformed(value: String) {
        let (result, _) = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: \(value)\r\n\r\n")
        #expect(result == .failed(.malformed))
    }

    @Test func differingDuplicateContentLengthsAreMalformed() {
        let (result, _) = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
        #expect(result == .failed(.malformed))
    }

    @Test func contentLengthOverTheBodyLimit() {
        let limits = RequestLimits(bodyBytesMax: 100)
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", limits: limits).1.framing
            == .length(100))
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n", limits: limits).0
            == .failed(.bodyTooLarge))
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999999\r\n\r\n").0
            == .failed(.bodyTooLarge))
    }

    @Test(arguments: ["chunked", "Chunked", "CHUNKED", " chunked "])
    func chunked(value: String) {
        let (result, head) = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: \(value)\r\n\r\n")
        #expect(result == .complete)
        #expect(head.framing == .chunked)
        #expect(head.keepAlive)
        #expect(!head.contentLengthIgnored)
    }

    @Test(arguments: ["gzip, chunked", "gzip", "chunked, gzip", "deflate,chunked", "identity", "x-custom",
                      "gzip, chunked, chunked"])
    func codingsOtherThanChunkedAreUnsupported(value: String) {
        let input = "HTTP/1.1 200 OK\r\nTransfer-Encoding: \(value)\r\n\r\n"
        if value == "gzip, chunked, chunked" {
            // `chunked` twice is malformed, whatever came before it.
            #expect(parseResponse(input).0 == .failed(.malformed))
        } else {
            #expect(parseResponse(input).0 == .failed(.unsupportedTransferCoding))
        }
    }

    @Test func codingsAcrossFieldsAreReadInOrder() {
        let split = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(parseResponse(split).0 == .failed(.unsupportedTransferCoding))
        let twice = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(parseResponse(twice).0 == .failed(.malformed))
    }

    @Test(arguments: ["chunked, chunked", "chunked,", ",chunked", "", "chunked,,chunked"])
    func malformedTransferEncoding(value: String) {
        let (result, _) = parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: \(value)\r\n\r\n")
        #expect(result == .failed(.malformed))
    }

    @Test func transferEncodingInHTTP10IsMalformed() {
        #expect(parseResponse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").0 == .failed(.malformed))
        #expect(parseResponse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n").0
            == .failed(.malformed))
        // Even where there is no body: the upstream's framing cannot be trusted.
        #expect(parseResponse("HTTP/1.0 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n").0
            == .failed(.malformed))
    }

    @Test func contentLengthAndTransferEncodingMeansChunkedAndNoReuse() {
        for order in ["Content-Length: 5\r\nTransfer-Encoding: chunked", "Transfer-Encoding: chunked\r\nContent-Length: 5"] {
            let (result, head) = parseResponse("HTTP/1.1 200 OK\r\n\(order)\r\n\r\n")
            #expect(result == .complete)
            #expect(head.framing == .chunked)
            #expect(head.contentLengthIgnored)
            #expect(!head.keepAlive)
        }
        // The ignored length must still be well formed, but its size does not matter.
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n").0
            == .failed(.malformed))
        let limits = RequestLimits(bodyBytesMax: 10)
        let (result, head) = parseResponse(
            "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nTransfer-Encoding: chunked\r\n\r\n", limits: limits)
        #expect(result == .complete)
        #expect(head.framing == .chunked)
    }

    @Test func neitherLengthNorCodingReadsUntilClose() {
        for head in ["HTTP/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n",
                     "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", "HTTP/1.1 404 Not Found\r\nX: y\r\n\r\n"] {
            let (result, parsed) = parseResponse(head)
            #expect(result == .complete)
            #expect(parsed.framing == .untilClose, "\(head.debugDescription)")
            #expect(!parsed.keepAlive, "\(head.debugDescription)")
        }
    }

    @Test(arguments: [
        "Content-Length: 123", "Content-Length: 99999999999", "Transfer-Encoding: chunked",
        "Transfer-Encoding: gzip", "Content-Length: 5\r\nTransfer-Encoding: gzip, chunked", "X: y",
    ])
    func answerToHeadHasNoBody(fields: String) {
        let limits = RequestLimits(bodyBytesMax: 1000)
        let (result, head) = parseResponse("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\n", method: .head, limits: limits)
        #expect(result == .complete)
        #expect(head.framing == .none)
        // The same response to a GET has a body (or is refused).
        let (getResult, getHead) = parseResponse("HTTP/1.1 200 OK\r\n\(fields)\r\n\r\n", method: .get, limits: limits)
        #expect(getResult != .complete || getHead.framing != .none)
    }

    @Test(arguments: [204, 304, 100, 102, 103, 199])
    func statusesWithoutBody(status: Int) {
        for fields in ["", "Content-Length: 10\r\n", "Content-Length: 99999999999\r\n",
                       "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: br\r\n"] {
            let limits = RequestLimits(bodyBytesMax: 1000)
            let (result, head) = parseResponse("HTTP/1.1 \(status) X\r\n\(fields)\r\n", limits: limits)
            #expect(result == .complete, "\(status) \(fields.debugDescription)")
            #expect(head.framing == .none)
            #expect(head.keepAlive)
            #expect(head.isInterim == (status < 200))
        }
    }

    @Test func framingFieldsMustBeWellFormedEvenWithoutBody() {
        #expect(parseResponse("HTTP/1.1 304 X\r\nContent-Length: 1, 2\r\n\r\n").0 == .failed(.malformed))
        #expect(parseResponse("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", method: .head).0 == .failed(.malformed))
        #expect(parseResponse("HTTP/1.1 204 X\r\nTransfer-Encoding: chunked, chunked\r\n\r\n").0
            == .failed(.malformed))
    }

    @Test func otherStatusesHaveBodies() {
        for status in [200, 201, 205, 206, 300, 301, 400, 404, 500, 503, 999] {
            let (result, head) = parseResponse("HTTP/1.1 \(status) X\r\nContent-Length: 3\r\n\r\n")
            #expect(result == .complete)
            #expect(head.framing == .length(3), "\(status)")
        }
    }

    @Test(arguments: [HTTPMethod.get, .post, .put, .delete, .patch, .options, .trace, .other])
    func onlyHeadSuppressesTheBody(method: HTTPMethod) {
        let (result, head) = parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", method: method)
        #expect(result == .complete)
        #expect(head.framing == .length(3))
    }
}

@Suite("Response head: connection reuse")
struct ResponseKeepAliveTests {
    /// Version, `Connection` value (nil: none), framing fields, and whether the connection may be
    /// reused. Written out rather than computed, so that the rule is checked, not restated.
    @Test(arguments: [
        ("1.1", nil, "Content-Length: 0", true),
        ("1.1", "close", "Content-Length: 0", false),
        ("1.1", "Close", "Content-Length: 0", false),
        ("1.1", "keep-alive", "Content-Length: 0", true),
        ("1.1", "keep-alive, close", "Content-Length: 0", false),
        ("1.1", "x-foo, CLOSE", "Content-Length: 0", false),
        ("1.1", "x-foo", "Content-Length: 0", true),
        ("1.1", "closed", "Content-Length: 0", true),
        ("1.1", nil, "Transfer-Encoding: chunked", true),
        ("1.1", "close", "Transfer-Encoding: chunked", false),
        ("1.1", nil, "", false),
        ("1.1", "keep-alive", "", false),
        ("1.0", nil, "Content-Length: 0", false),
        ("1.0", "keep-alive", "Content-Length: 0", true),
        ("1.0", "Keep-Alive", "Content-Length: 0", true),
        ("1.0", "keep-alive, close", "Content-Length: 0", false),
        ("1.0", "close", "Content-Length: 0", false),
        ("1.0", "x-foo", "Content-Length: 0", false),
        ("1.0", "keep-alive", "", false),
        ("1.0", nil, "", false),
        ("1.2", nil, "Content-Length: 0", true),
        ("1.2", "close", "Content-Length: 0", false),
    ] as [(String, String?, String, Bool)])
    func keepAlive(version: String, connection: String?, framing: String, expected: Bool) {
        var head = "HTTP/\(version) 200 OK\r\n"
        if let connection { head += "Connection: \(connection)\r\n" }
        if !framing.isEmpty { head += framing + "\r\n" }
        let (result, parsed) = parseResponse(head + "\r\n")
        #expect(result == .complete)
        #expect(parsed.keepAlive == expected)
    }

    @Test func connectionOptionsAcrossSeveralFields() {
        let (result, head) = parseResponse(
            "HTTP/1.0 200 OK\r\nConnection: x-a\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n")
        #expect(result == .complete)
        #expect(head.keepAlive)
        let (closed, closedHead) = parseResponse(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\nconnection: close\r\n\r\n")
        #expect(closed == .complete)
        #expect(!closedHead.keepAlive)
    }

    @Test func noBodyResponsesFollowTheVersionRule() {
        #expect(parseResponse("HTTP/1.1 204 No Content\r\n\r\n").1.keepAlive)
        #expect(!parseResponse("HTTP/1.0 204 No Content\r\n\r\n").1.keepAlive)
        #expect(!parseResponse("HTTP/1.1 304 X\r\nConnection: close\r\n\r\n").1.keepAlive)
        #expect(parseResponse("HTTP/1.1 200 OK\r\n\r\n", method: .head).1.keepAlive)
    }
}

@Suite("Response head: interim responses and reuse")
struct ResponseInterimTests {
    @Test func interimResponsesAreSkippedByParsingTheRest() {
        let hints = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        let continued = "HTTP/1.1 100 Continue\r\n\r\n"
        let final = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n"
        let input = bytes(continued + hints + final + "ok")
        var parser = ResponseHeadParser(limits: RequestLimits())
        var head = ResponseHead()

        #expect(parser.parse(input, into: &head) == .complete)
        #expect(head.status == 100)
        #expect(head.isInterim)
        #expect(head.framing == .none)
        #expect(head.headLength == 25)
        var consumed = head.headLength

        // Parsing again after `.complete` needs no reset; ranges index the bytes given.
        let rest = Array(input[consumed...])
        #expect(parser.parse(rest, into: &head) == .complete)
        #expect(head.status == 103)
        #expect(head.isInterim)
        #expect(head.headLength == hints.utf8.count)
        #expect(text(rest, head.headers[0].value) == "</style.css>; rel=preload")
        consumed += head.headLength

        let last = Array(input[consumed...])
        #expect(parser.parse(last, into: &head) == .complete)
        #expect(head.status == 201)
        #expect(!head.isInterim)
        #expect(head.framing == .length(2))
        #expect(text(last, head.reason) == "Created")
        #expect(text(last, head.headLength..<last.count) == "ok")
    }

    @Test func interimResponseArrivingInPiecesThenFinal() {
        let input = bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        var parser = ResponseHeadParser(limits: RequestLimits())
        var head = ResponseHead()
        #expect(parser.parse(Array(input[0..<10]), into: &head) == .incomplete)
        #expect(parser.parse(Array(input[0..<30]), into: &head) == .complete)
        #expect(head.status == 100)
        #expect(head.headLength == 25)
        #expect(parser.parse(Array(input[25..<40]), into: &head) == .incomplete)
        #expect(parser.parse(Array(input[25...]), into: &head) == .complete)
        #expect(head.status == 200)
        #expect(head.headLength == input.count - 25)
    }

    @Test func failureIsStickyUntilReset() {
        var parser = ResponseHeadParser(limits: RequestLimits())
        var head = ResponseHead()
        #expect(parser.parse(bytes("HTTP/2 200"), into: &head) == .failed(.malformed))
        #expect(parser.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), into: &head)
            == .failed(.malformed))
        parser.reset()
        #expect(parser.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), into: &head) == .complete)
    }

    @Test func reusingTheHeadKeepsCapacityAndForgetsThePreviousResponse() {
        var parser = ResponseHeadParser(limits: RequestLimits())
        var head = ResponseHead(headersCapacity: 8)
        let capacity = head.headers.capacity
        let first = bytes("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nConnection: x-a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n")
        #expect(parser.parse(first, into: &head) == .complete)
        #expect(head.headers.count == 5)
        #expect(head.contentLengthIgnored)
        #expect(head.connectionNamesFields)
        let second = bytes("HTTP/1.0 404 Gone\r\nContent-Length: 3\r\n\r\n")
        parser.reset()
        #expect(parser.parse(second, into: &head) == .complete)
        #expect(head == parseResponse(second).1)
        #expect(head.headers.capacity == capacity)
        #expect(!head.contentLengthIgnored)
        #expect(!head.connectionNamesFields)
    }
}

@Suite("Response head: hop-by-hop fields")
struct HopByHopTests {
    static let response = "HTTP/1.1 200 OK\r\n"
        + "Connection: X-Private,  x-other , close\r\n"
        + "Keep-Alive: timeout=5\r\n"
        + "Proxy-Connection: keep-alive\r\n"
        + "TE: trailers\r\n"
        + "Trailer: Expires\r\n"
        + "Transfer-Encoding: chunked\r\n"
        + "Upgrade: h2c\r\n"
        + "x-private: secret\r\n"
        + "X-OTHER: 1\r\n"
        + "Close: 1\r\n"
        + "Content-Type: application/json\r\n"
        + "X-Private-Not: 1\r\n"
        + "Cache-Control: no-cache\r\n"
        + "Te2: 1\r\n"
        + "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        + "\r\n"

    @Test func fixedAndConnectionListedNamesAreHopByHop() {
        let input = bytes(Self.response)
        let (result, head) = parseResponse(input)
        #expect(result == .complete)
        #expect(head.connectionNamesFields)
        let hopByHop = head.headers.filter { head.isHopByHop($0.name, in: input) }.map { text(input, $0.name) }
        #expect(hopByHop == ["Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
                             "Transfer-Encoding", "Upgrade", "x-private", "X-OTHER", "Close"])
        // The general form, which works for any list of fields, agrees.
        for field in head.headers {
            #expect(HopByHop.isHopByHop(input.span, field.name, headers: head.headers)
                == head.isHopByHop(field.name, in: input))
        }
    }

    @Test func withoutConnectionOptionsOnlyTheFixedNamesAre() {
        let input = bytes("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\n"
            + "Content-Length: 0\r\nUPGRADE: x\r\n\r\n")
        let (result, head) = parseResponse(input)
        #expect(result == .complete)
        #expect(!head.connectionNamesFields)
        let hopByHop = head.headers.filter { head.isHopByHop($0.name, in: input) }.map { text(input, $0.name) }
        #expect(hopByHop == ["Connection", "Keep-Alive", "UPGRADE"])
    }

    @Test func worksForRequestHeadsToo() {
        let input = bytes("GET / HTTP/1.1\r\nHost: a\r\nConnection: x-trace\r\nX-Trace: 1\r\nTE: trailers\r\nAccept: */*\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        let hopByHop = head.headers.filter { HopByHop.isHopByHop(input.span, $0.name, headers: head.headers) }
            .map { text(input, $0.name) }
        #expect(hopByHop == ["Connection", "X-Trace", "TE"])
    }
}

/// However the bytes of a response arrive, the parser must reach the answer it gives when it sees
/// them all at once, and must never answer differently on the way.
@Suite("Response head: incremental parsing")
struct ResponseHeadSplitTests {
    static let smallLimits = RequestLimits(headBytesMax: 96, headersMax: 4, bodyBytesMax: 100)

    /// Responses valid and invalid, several with a body or a further response after the head.
    static let inputs: [String] = [
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 \r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.1 204\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
        "HTTP/1.0 200 Fine\r\nServer: old\r\n\r\nbody until close",
        "HTTP/1.1 404 Not \tFound é\r\nX: \t v \t\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 99999\r\nETag: \"x\"\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: x-a, close\r\nx-a: 1\r\nContent-Length: 1\r\n\r\nz",
        // Refused in the syntax scan.
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 O\u{0}K\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
        "HTTP/1.1 200 OK\nX: a\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\rY: b\r\n\r\n",
        "\r\nHTTP/1.1 200 OK\r\n\r\n",
        // Refused once complete.
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n",
        "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        // Over the small limits: too long, too many fields, and a bad byte past the limit.
        "HTTP/1.1 200 OK\r\nX-Long: " + String(repeating: "v", count: 80) + "\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Long: " + String(repeating: "v", count: 75) + "\u{0}\r\n\r\n",
        // Incomplete.
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
    ]

    /// Asserts that parsing `input` fed in pieces ending at each of `ends` (increasing, the last
    /// one `input.count`) matches the one-call outcome.
    static func checkPieces(_ input: [UInt8], ends: [Int], method: HTTPMethod, limits: RequestLimits,
                            expected: (ResponseResult, ResponseHead), label: String) {
        var parser = ResponseHeadParser(limits: limits)
        var head = ResponseHead()
        var result = ResponseResult.incomplete
        for end in ends {
            let prefix = Array(input[0..<end])
            result = parser.parse(prefix, requestMethod: method, into: &head)
            if result == .incomplete { continue }
            // The first answer other than `.incomplete` must be the one-call answer.
            #expect(result == expected.0, "\(label) at \(end) of \(input.count)")
            if case .failed = result {
                // And a failure is final: more bytes do not change it.
                #expect(parser.parse(input, requestMethod: method, into: &head) == result, "\(label)")
            }
            break
        }
        #expect(result == expected.0, "\(label): final")
        if result == .complete {
            #expect(head == expected.1, "\(label): head differs")
        }
    }

    static let methods: [HTTPMethod] = [.get, .head]
    static let limitSets = [RequestLimits(), smallLimits]

    @Test(arguments: inputs)
    func byteByByte(_ response: String) {
        let input = bytes(response)
        for limits in Self.limitSets {
            for method in Self.methods {
                let expected = parseResponse(input, method: method, limits: limits)
                Self.checkPieces(input, ends: Array(0...input.count), method: method, limits: limits,
                                 expected: expected, label: "byte by byte")
            }
        }
    }

    @Test(arguments: inputs)
    func everySplitInTwo(_ response: String) {
        let input = bytes(response)
        for limits in Self.limitSets {
            for method in Self.methods {
                let expected = parseResponse(input, method: method, limits: limits)
                for split in 0...input.count {
                    Self.checkPieces(input, ends: [split, input.count], method: method, limits: limits,
                                     expected: expected, label: "split at \(split)")
                }
            }
        }
    }

    @Test(arguments: inputs)
    func randomSplits(_ response: String) {
        let input = bytes(response)
        var generator = SeededGenerator(seed: UInt64(input.count) &* 0x5EED &+ 0x0E5)
        for limits in Self.limitSets {
            for method in Self.methods {
                let expected = parseResponse(input, method: method, limits: limits)
                for _ in 0..<50 {
                    let cuts = randomCuts(count: input.count, using: &generator)
                    Self.checkPieces(input, ends: cuts + [input.count], method: method, limits: limits,
                                     expected: expected, label: "cuts \(cuts)")
                }
            }
        }
    }

    @Test func theExpectedOutcomesAreTheIntendedOnes() {
        // Guards the tests above against passing trivially (say, everything failing alike).
        let outcomes = Self.inputs.map { parseResponse($0).0 }
        #expect(outcomes.filter { $0 == .complete }.count == 13)
        #expect(outcomes.filter { $0 == .failed(.malformed) }.count == 12)
        #expect(outcomes.last == .incomplete)
        #expect(outcomes.contains(.failed(.unsupportedTransferCoding)))
        let small = Self.inputs.suffix(4).map { parseResponse($0, limits: Self.smallLimits).0 }
        #expect(small == [.failed(.headTooLarge), .failed(.headTooLarge), .failed(.headTooLarge), .incomplete])
        #expect(parseResponse(Self.inputs[21], limits: Self.smallLimits).0 == .failed(.bodyTooLarge))
        // The answer to HEAD differs where a body was refused or framed.
        #expect(parseResponse(Self.inputs[20], method: .head).0 == .complete)
        #expect(parseResponse(Self.inputs[5], method: .head).1.framing == .none)
    }
}
