import Testing
@testable import SluiceHTTP1

@Suite("Request head: valid requests")
struct RequestHeadValidTests {
    @Test func simpleGetRecordsExactRanges() {
        let input = bytes("GET /pets?limit=10 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(head.method == .get)
        #expect(head.methodName == 0..<3)
        #expect(head.target == 4..<18)
        #expect(head.path == 4..<9)
        #expect(head.query == 10..<18)
        #expect(head.version == .http11)
        #expect(head.host == 35..<46)
        #expect(head.headers == [
            HeaderField(name: 29..<33, value: 35..<46),
            HeaderField(name: 48..<54, value: 56..<59),
        ])
        #expect(head.framing == .none)
        #expect(head.keepAlive)
        #expect(!head.expectsContinue)
        #expect(head.headLength == 63)
        #expect(head.headLength == input.count)
        #expect(text(input, head.query) == "limit=10")
        #expect(text(input, head.host) == "example.com")
    }

    /// An empty chunked body already at hand is taken into the head: the request is bodyless.
    /// The second value is how many of the bytes after the head are taken (0: none, still chunked).
    @Test(arguments: [("0\r\n\r\n", 5), ("000;ext=1\r\n\r\n", 13), ("0\r\nX-T: 1\r\n\r\n", 13),
                      ("0\r\n\r\nGET / HTTP/1.1\r\n", 5), ("0\r\n", 0), ("", 0), ("1\r\na\r\n0\r\n\r\n", 0),
                      ("x\r\n\r\n", 0)])
    func anEmptyChunkedBodyAtHandIsNoBody(_ body: String, _ taken: Int) {
        let head = "POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        let input = bytes(head + body)
        var (result, parsed) = parseOnce(input)
        #expect(result == .complete)
        parsed.absorbEmptyChunkedBody(input.span)
        #expect(parsed.framing == (taken > 0 ? .length(0) : .chunked))
        #expect(parsed.headLength == head.utf8.count + taken)
    }

    @Test func onlyAChunkedBodyIsTakenIn() {
        let input = bytes("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n0\r\n\r\n")
        var (_, parsed) = parseOnce(input)
        let before = parsed
        parsed.absorbEmptyChunkedBody(input.span)
        #expect(parsed == before)
    }

    /// A fragment is no part of the path or the query (RFC 3986 §3.5): it never reaches an upstream.
    @Test(arguments: [("/a#frag", "/a", ""), ("/a?q=1#frag", "/a", "q=1"), ("/a?q=1#f?g", "/a", "q=1"),
                      ("/a#f?q=1", "/a", ""), ("/a#", "/a", "")])
    func theFragmentIsDropped(_ target: String, _ path: String, _ query: String) {
        let input = bytes("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(text(input, head.path) == path)
        #expect(text(input, head.query) == query)
    }

    @Test func postWithBodyEndsHeadBeforeBody() {
        let head = "POST /pets HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
        let input = bytes(head + "hello")
        let (result, parsed) = parseOnce(input)
        #expect(result == .complete)
        #expect(parsed.method == .post)
        #expect(parsed.framing == .length(5))
        #expect(parsed.headLength == head.utf8.count)
        #expect(text(input, parsed.path) == "/pets")
        #expect(parsed.query.isEmpty)
    }

    @Test func headRequest() {
        let (result, head) = parseOnce("HEAD / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(result == .complete)
        #expect(head.method == .head)
        #expect(head.framing == .none)
    }

    @Test(arguments: [
        ("GET", HTTPMethod.get), ("HEAD", .head), ("POST", .post), ("PUT", .put),
        ("DELETE", .delete), ("PATCH", .patch), ("OPTIONS", .options), ("TRACE", .trace),
        ("get", .other), ("Get", .other), ("PURGE", .other), ("M-SEARCH", .other), ("GETS", .other),
        ("!#$%&'*+-.^_`|~", .other),
    ])
    func methods(name: String, method: HTTPMethod) {
        let input = bytes("\(name) / HTTP/1.1\r\nHost: a\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(head.method == method)
        #expect(text(input, head.methodName) == name)
    }

    @Test func http10WithoutKeepAliveClosesAndNeedsNoHost() {
        let (result, head) = parseOnce("GET / HTTP/1.0\r\n\r\n")
        #expect(result == .complete)
        #expect(head.version == .http10)
        #expect(!head.keepAlive)
        #expect(head.host.isEmpty)
    }

    @Test func http10WithKeepAlive() {
        let (result, head) = parseOnce("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        #expect(result == .complete)
        #expect(head.version == .http10)
        #expect(head.keepAlive)
    }

    @Test func http10KeepAliveAndCloseMeansClose() {
        let (result, head) = parseOnce("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n")
        #expect(result == .complete)
        #expect(!head.keepAlive)
    }

    @Test(arguments: ["close", "CLOSE", "Upgrade, close", " close ", "keep-alive,close"])
    func http11ConnectionClose(value: String) {
        let (result, head) = parseOnce("GET / HTTP/1.1\r\nHost: a\r\nConnection: \(value)\r\n\r\n")
        #expect(result == .complete)
        #expect(!head.keepAlive)
    }

    @Test(arguments: ["keep-alive", "Upgrade", "", "closed", "clos", ","])
    func http11ConnectionOtherKeepsAlive(value: String) {
        let (result, head) = parseOnce("GET / HTTP/1.1\r\nHost: a\r\nConnection: \(value)\r\n\r\n")
        #expect(result == .complete)
        #expect(head.keepAlive)
    }

    @Test func otherHTTP1MinorVersionIsServedAs11() {
        let (result, head) = parseOnce("GET / HTTP/1.2\r\nHost: a\r\n\r\n")
        #expect(result == .complete)
        #expect(head.version == .http11)
    }

    @Test func absoluteFormSetsHostFromAuthority() {
        let input = bytes("GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: other\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(text(input, head.target) == "http://example.com:8080/a/b?x=1")
        #expect(text(input, head.host) == "example.com:8080")
        #expect(head.host == 11..<27)
        #expect(text(input, head.path) == "/a/b")
        #expect(head.path == 27..<31)
        #expect(text(input, head.query) == "x=1")
    }

    @Test func absoluteFormWithoutPathHasEmptyPath() {
        let input = bytes("GET HTTPS://Example.COM HTTP/1.1\r\nHost: Example.COM\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(text(input, head.host) == "Example.COM")
        #expect(head.path == 23..<23)
        #expect(head.query.isEmpty)
    }

    @Test func absoluteFormWithQueryButNoPath() {
        let input = bytes("GET http://h?q=1 HTTP/1.1\r\nHost: h\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(text(input, head.host) == "h")
        #expect(head.path.isEmpty)
        #expect(text(input, head.query) == "q=1")
    }

    @Test func optionsAsterisk() {
        let input = bytes("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(head.method == .options)
        #expect(head.path == 8..<9)
        #expect(head.query.isEmpty)
    }

    @Test func emptyQueryAfterQuestionMark() {
        let input = bytes("GET /a? HTTP/1.1\r\nHost: a\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(text(input, head.path) == "/a")
        #expect(head.query == 7..<7)
    }

    @Test func highBytesInTargetAreAllowed() {
        let input: [UInt8] = bytes("GET /caf") + [0xC3, 0xA9, 0xFF] + bytes(" HTTP/1.1\r\nHost: a\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(head.path == 4..<11)
    }

    @Test func pipelinedRequestsEachEndAtHeadLength() {
        let first = "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
        let second = "POST /two HTTP/1.1\r\nHost: b\r\nContent-Length: 0\r\n\r\n"
        let input = bytes(first + second + "GET /thr")
        var parser = RequestHeadParser(limits: RequestLimits())
        var head = RequestHead()
        #expect(parser.parse(input, into: &head) == .complete)
        #expect(head.headLength == first.utf8.count)
        #expect(text(input, head.path) == "/one")

        let rest = Array(input[head.headLength...])
        parser.reset()
        #expect(parser.parse(rest, into: &head) == .complete)
        #expect(head.headLength == second.utf8.count)
        #expect(head.method == .post)
        #expect(head.framing == .length(0))
        #expect(text(rest, head.path) == "/two")
        #expect(text(rest, head.host) == "b")

        let third = Array(rest[head.headLength...])
        parser.reset()
        #expect(parser.parse(third, into: &head) == .incomplete)
    }

    @Test func leadingEmptyLinesAreSkippedAndCounted() {
        let input = bytes("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(head.methodName == 4..<7)
        #expect(head.headLength == input.count)
    }

    @Test func fieldValuesAreTrimmedAndMayHoldTabsAndObsText() {
        let input: [UInt8] = bytes("GET / HTTP/1.1\r\nHost: \t a \t \r\nX-A:b\tc\r\nX-B: \u{7E}")
            + [0x80, 0xFF] + bytes(" \r\nX-Empty:\r\nX-Blank: \t \r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(head.headers.count == 5)
        #expect(text(input, head.host) == "a")
        #expect(text(input, head.headers[1].value) == "b\tc")
        #expect(Array(input[head.headers[2].value]) == [0x7E, 0x80, 0xFF])
        #expect(head.headers[3].value.isEmpty)
        #expect(head.headers[4].value.isEmpty)
        #expect(text(input, head.headers[4].name) == "X-Blank")
    }

    @Test func emptyHostIsAccepted() {
        let (result, head) = parseOnce("GET / HTTP/1.1\r\nHost:\r\n\r\n")
        #expect(result == .complete)
        #expect(head.host.isEmpty)
    }

    @Test(arguments: ["[::1]:8080", "[2001:db8::1]", "127.0.0.1", "ex%41mple.com:", "a-b_c~d.e:443",
                      "host.example", "HOST:0"])
    func validHosts(host: String) {
        let input = bytes("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(text(input, head.host) == host)
    }

    @Test func hostFieldNameIsCaseInsensitive() {
        let input = bytes("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        #expect(text(input, head.host) == "a")
    }

    @Test(arguments: [("5", 5), ("0", 0), ("007", 7), ("5, 5", 5), ("5,5,5", 5), (" 12 ", 12)])
    func contentLength(value: String, length: Int) {
        let (result, head) = parseOnce("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(value)\r\n\r\n")
        #expect(result == .complete)
        #expect(head.framing == .length(length))
    }

    @Test func identicalDuplicateContentLengthIsOne() {
        let (result, head) = parseOnce(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n")
        #expect(result == .complete)
        #expect(head.framing == .length(5))
    }

    @Test func eighteenDigitContentLengthWithinLimit() {
        let limits = RequestLimits(bodyBytesMax: Int.max)
        let (result, head) = parseOnce(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n", limits: limits)
        #expect(result == .complete)
        #expect(head.framing == .length(999_999_999_999_999_999))
    }

    @Test func contentLengthAtBodyLimitIsAccepted() {
        let limits = RequestLimits(bodyBytesMax: 10)
        let (result, head) = parseOnce("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n", limits: limits)
        #expect(result == .complete)
        #expect(head.framing == .length(10))
    }

    @Test(arguments: ["chunked", "Chunked", "CHUNKED", " chunked "])
    func transferEncodingChunked(value: String) {
        let (result, head) = parseOnce("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(value)\r\n\r\n")
        #expect(result == .complete)
        #expect(head.framing == .chunked)
    }

    @Test(arguments: ["100-continue", "100-Continue", " 100-CONTINUE "])
    func expectContinue(value: String) {
        let (result, head) = parseOnce(
            "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: \(value)\r\n\r\n")
        #expect(result == .complete)
        #expect(head.expectsContinue)
    }

    @Test func expectContinueIsIgnoredInHTTP10() {
        let (result, head) = parseOnce("PUT / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        #expect(result == .complete)
        #expect(!head.expectsContinue)
    }

    @Test func emptyExpectIsIgnored() {
        let (result, head) = parseOnce("GET / HTTP/1.1\r\nHost: a\r\nExpect:\r\n\r\n")
        #expect(result == .complete)
        #expect(!head.expectsContinue)
    }

    @Test func headExactlyAtLimitIsAccepted() {
        let input = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let limits = RequestLimits(headBytesMax: input.count)
        let (result, head) = parseOnce(input + bytes("GET / HTTP/1.1\r\n"), limits: limits)
        #expect(result == .complete)
        #expect(head.headLength == input.count)
    }

    @Test func exactlyHeadersMaxFieldsAreAccepted() {
        let limits = RequestLimits(headersMax: 3)
        let (result, head) = parseOnce("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits: limits)
        #expect(result == .complete)
        #expect(head.headers.count == 3)
    }

    @Test func headerLookupIgnoresCaseAndFindsTheFirst() {
        let input = bytes("GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: one\r\nx-api-key: two\r\n\r\n")
        let (result, head) = parseOnce(input)
        #expect(result == .complete)
        let name = bytes("x-api-key")
        let value = head.value(ofHeader: name.span, in: input.span)
        #expect(value.map { text(input, $0) } == "one")
        #expect(head.count(ofHeader: name, in: input) == 2)
        let missing = bytes("authorization")
        #expect(head.value(ofHeader: missing, in: input) == nil)
        #expect(head.count(ofHeader: missing, in: input) == 0)
    }

    @Test func reusingTheHeadKeepsHeaderCapacity() {
        var head = RequestHead(headersCapacity: 8)
        let capacity = head.headers.capacity
        var parser = RequestHeadParser(limits: RequestLimits(headersMax: 8))
        for round in 0..<3 {
            let input = bytes("GET /\(round) HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
            parser.reset()
            #expect(parser.parse(input, into: &head) == .complete)
            #expect(head.headers.count == 4)
            #expect(head.headers.capacity == capacity)
        }
    }

    @Test func aReusedHeadForgetsThePreviousRequest() {
        var parser = RequestHeadParser(limits: RequestLimits())
        var head = RequestHead()
        let first = bytes("PUT http://h/x?y HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        #expect(parser.parse(first, into: &head) == .complete)
        #expect(head.expectsContinue)
        parser.reset()
        let second = bytes("GET / HTTP/1.0\r\n\r\n")
        #expect(parser.parse(second, into: &head) == .complete)
        var expected = RequestHead()
        expected.method = .get
        expected.methodName = 0..<3
        expected.target = 4..<5
        expected.path = 4..<5
        expected.query = 5..<5
        expected.version = .http10
        expected.host = 0..<0
        expected.framing = .none
        expected.keepAlive = false
        expected.expectsContinue = false
        expected.headLength = second.count
        #expect(head == expected)
    }

    @Test func parsingAgainAfterCompleteGivesTheSameHead() {
        let input = bytes("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        var parser = RequestHeadParser(limits: RequestLimits())
        var head = RequestHead()
        #expect(parser.parse(input, into: &head) == .complete)
        let first = head
        #expect(parser.parse(input, into: &head) == .complete)
        #expect(head == first)
    }
}

@Suite("Request head: refused requests")
struct RequestHeadRefusedTests {
    /// Each case: a description, the request, and the error it must get in one call.
    static let cases: [(String, String, RequestError)] = [
        // Request line.
        ("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("method with (", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("method with high byte", "G\u{E9}T / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("method then tab", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("two spaces after target", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", .badRequest),
        ("no version", "GET /\r\nHost: a\r\n\r\n", .badRequest),
        ("lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("HTTP/1.1x", "GET / HTTP/1.1x\r\nHost: a\r\n\r\n", .badRequest),
        ("HTTP/1", "GET / HTTP/1\r\nHost: a\r\n\r\n", .badRequest),
        ("HTTP/11.1", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", .badRequest),
        ("HTTP/1.a", "GET / HTTP/1.a\r\nHost: a\r\n\r\n", .badRequest),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", .versionNotSupported),
        ("HTTP/0.9 version", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", .versionNotSupported),
        ("HTTP/3.1", "GET / HTTP/3.1\r\n\r\n", .versionNotSupported),
        ("request line bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", .badRequest),
        ("request line bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", .badRequest),
        ("leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("leading bare CR", "\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),

        // Target.
        ("NUL in target", "GET /a\u{0}b HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("SOH in target", "GET /a\u{1}b HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("tab in target", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("DEL in target", "GET /a\u{7F}b HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("CR in target", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("LF in target", "GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("asterisk with more", "OPTIONS *a HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("authority-form CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
         .badRequest),
        ("origin-form CONNECT", "CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("authority-form GET", "GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("relative target", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", .badRequest),
        ("other scheme", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", .badRequest),
        ("absolute-form empty host", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", .badRequest),
        ("absolute-form port only", "GET http://:80/x HTTP/1.1\r\nHost: h\r\n\r\n", .badRequest),
        ("absolute-form userinfo", "GET http://user@h/x HTTP/1.1\r\nHost: h\r\n\r\n", .badRequest),
        ("absolute-form bad port", "GET http://h:8a/x HTTP/1.1\r\nHost: h\r\n\r\n", .badRequest),

        // Line endings and field syntax.
        ("field bare LF", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", .badRequest),
        ("field bare CR", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", .badRequest),
        ("final bare LF", "GET / HTTP/1.1\r\nHost: a\r\n\n", .badRequest),
        ("final bare CR", "GET / HTTP/1.1\r\nHost: a\r\n\rX", .badRequest),
        ("obs-fold with space", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n c\r\n\r\n", .badRequest),
        ("obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: b\r\n\tc\r\n\r\n", .badRequest),
        ("whitespace line after request line", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", .badRequest),
        ("space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", .badRequest),
        ("tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", .badRequest),
        ("empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", .badRequest),
        ("no colon", "GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n", .badRequest),
        ("name with (", "GET / HTTP/1.1\r\nHost: a\r\nX(a): b\r\n\r\n", .badRequest),
        ("name with high byte", "GET / HTTP/1.1\r\nHost: a\r\nX\u{E9}: b\r\n\r\n", .badRequest),
        ("NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}b\r\n\r\n", .badRequest),
        ("BEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7}b\r\n\r\n", .badRequest),
        ("ESC in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \u{1B}\r\n\r\n", .badRequest),
        ("DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{7F}\r\n\r\n", .badRequest),
        ("vertical tab in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\u{B}b\r\n\r\n", .badRequest),

        // Host.
        ("missing Host in 1.1", "GET / HTTP/1.1\r\nX: a\r\n\r\n", .badRequest),
        ("missing Host with absolute-form", "GET http://h/ HTTP/1.1\r\n\r\n", .badRequest),
        ("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", .badRequest),
        ("two Hosts, other case", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", .badRequest),
        ("two Hosts in 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", .badRequest),
        ("Host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .badRequest),
        ("Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", .badRequest),
        ("Host with path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .badRequest),
        ("Host with bad port", "GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n", .badRequest),
        ("Host with two ports", "GET / HTTP/1.1\r\nHost: a:80:81\r\n\r\n", .badRequest),
        ("Host with bad percent", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", .badRequest),
        ("Host with short percent", "GET / HTTP/1.1\r\nHost: a%4\r\n\r\n", .badRequest),
        ("Host unclosed bracket", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", .badRequest),
        ("Host empty brackets", "GET / HTTP/1.1\r\nHost: []\r\n\r\n", .badRequest),
        ("Host with high byte", "GET / HTTP/1.1\r\nHost: caf\u{E9}\r\n\r\n", .badRequest),

        // Content-Length.
        ("CL plus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", .badRequest),
        ("CL minus sign", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", .badRequest),
        ("CL inner space", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", .badRequest),
        ("CL hex", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", .badRequest),
        ("CL hex digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: a\r\n\r\n", .badRequest),
        ("CL empty", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", .badRequest),
        ("CL trailing comma", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\n", .badRequest),
        ("CL differing list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n", .badRequest),
        ("CL differing duplicates",
         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", .badRequest),
        ("CL 19 digits", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000000000000\r\n\r\n",
         .badRequest),
        ("CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n",
         .badRequest),
        ("CL 19 digits with zeros", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0000000000000000005\r\n\r\n",
         .badRequest),
        ("CL over body limit", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10485761\r\n\r\n", .bodyTooLarge),
        ("CL 18 nines over body limit",
         "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999999999\r\n\r\n", .bodyTooLarge),

        // Transfer-Encoding.
        ("CL and TE", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         .badRequest),
        ("TE and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
         .badRequest),
        ("TE gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", .notImplemented),
        ("TE identity", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", .notImplemented),
        ("TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
         .notImplemented),
        ("TE gzip then chunked fields",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
         .notImplemented),
        ("TE chunked, gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
         .badRequest),
        ("TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
         .badRequest),
        ("TE chunked in two fields",
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         .badRequest),
        ("TE empty", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", .badRequest),
        ("TE trailing comma", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n", .badRequest),
        ("TE chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .badRequest),
        ("TE with vertical tab", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \u{B}chunked\r\n\r\n",
         .badRequest),

        // Expect.
        ("Expect other", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", .expectationFailed),
        ("Expect continue plus other", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n",
         .expectationFailed),
        ("Expect other in 1.0", "PUT / HTTP/1.0\r\nExpect: foo\r\n\r\n", .expectationFailed),
    ]

    @Test(arguments: cases)
    func refused(description: String, request: String, error: RequestError) {
        let (result, _) = parseOnce(request)
        #expect(result == .failed(error), "\(description)")
    }

    /// Long values and targets are scanned 8 bytes at a time; every byte value at every position
    /// of a word (and of the tail after the last whole word) must still be judged exactly.
    @Test func everyByteAtEveryPositionOfAValue() {
        for byte in UInt8.min...UInt8.max {
            for position in 0..<21 {
                var value = [UInt8](repeating: 0x61, count: 21)
                value[position] = byte
                let input = bytes("GET / HTTP/1.1\r\nHost: a\r\nX: ") + value + bytes("\r\n\r\n")
                let (result, head) = parseOnce(input)
                let valid = byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
                #expect(result == (valid ? .complete : .failed(.badRequest)), "byte \(byte) at \(position)")
                if valid {
                    // Whitespace at either end is trimmed off the value.
                    let trimmed = (position == 0 || position == 20) && (byte == 0x20 || byte == 0x09)
                    #expect(head.headers[1].value.count == (trimmed ? 20 : 21), "byte \(byte) at \(position)")
                }
            }
        }
    }

    @Test func everyByteAtEveryPositionOfATarget() {
        for byte in UInt8.min...UInt8.max {
            for position in 1..<21 {
                var target = [UInt8](repeating: 0x61, count: 21)
                target[0] = 0x2F
                target[position] = byte
                let input = bytes("GET ") + target + bytes(" HTTP/1.1\r\nHost: a\r\n\r\n")
                let (result, head) = parseOnce(input)
                let valid = byte > 0x20 && byte != 0x7F
                #expect(result == (valid ? .complete : .failed(.badRequest)), "byte \(byte) at \(position)")
                if valid { #expect(head.target == 4..<25, "byte \(byte) at \(position)") }
            }
        }
    }

    @Test func failureIsReportedAtTheBadByteBeforeTheHeadIsComplete() {
        // Nothing after the NUL has arrived; the parser must not wait for the end of the head.
        let (result, _) = parseOnce("GET / HTTP/1.1\r\nHost: a\r\nX: a\u{0}")
        #expect(result == .failed(.badRequest))
        let (obsFold, _) = parseOnce("GET / HTTP/1.1\r\nHost: a\r\n ")
        #expect(obsFold == .failed(.badRequest))
        let (version, _) = parseOnce("GET / HTTP/2.0\r\n")
        #expect(version == .failed(.versionNotSupported))
        let (junk, _) = parseOnce("GET / HTTP/1.1x")
        #expect(junk == .failed(.badRequest))
    }

    @Test func failureIsSticky() {
        var parser = RequestHeadParser(limits: RequestLimits())
        var head = RequestHead()
        let bad = bytes("GET /\u{0} HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(parser.parse(bad, into: &head) == .failed(.badRequest))
        let good = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(parser.parse(good, into: &head) == .failed(.badRequest))
        parser.reset()
        #expect(parser.parse(good, into: &head) == .complete)
    }

    @Test func headTooLargeBeforeTheTerminatorArrives() {
        let limits = RequestLimits(headBytesMax: 64)
        let start = bytes("GET / HTTP/1.1\r\nHost: a\r\nX: ")
        let atLimit = start + [UInt8](repeating: 0x61, count: 64 - start.count)
        #expect(parseOnce(atLimit, limits: limits).0 == .incomplete)
        #expect(parseOnce(atLimit + [0x61], limits: limits).0 == .failed(.headTooLarge))
    }

    @Test func headTooLargeAfterTheTerminatorIsFound() {
        let limits = RequestLimits(headBytesMax: 64)
        let input = bytes("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 64) + "\r\n\r\n")
        #expect(parseOnce(input, limits: limits).0 == .failed(.headTooLarge))
        // One byte over: the terminator's LF is the 65th byte.
        let justOver = bytes("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "a", count: 33) + "\r\n\r\n")
        #expect(justOver.count == 65)
        #expect(parseOnce(justOver, limits: limits).0 == .failed(.headTooLarge))
        #expect(parseOnce(justOver, limits: RequestLimits(headBytesMax: 65)).0 == .complete)
    }

    @Test func badByteBeyondTheHeadLimitIsHeadTooLarge() {
        // The scan stops at the limit, so what lies beyond it cannot change the answer.
        let limits = RequestLimits(headBytesMax: 20)
        let input = bytes("GET / HTTP/1.1\r\nHost: \u{0}")
        #expect(input.count > 20)
        #expect(parseOnce(input, limits: limits).0 == .failed(.headTooLarge))
    }

    @Test func tooManyHeaders() {
        let limits = RequestLimits(headersMax: 3)
        let input = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        #expect(parseOnce(input, limits: limits).0 == .failed(.headTooLarge))
        // Refused as soon as the fourth field's first byte arrives.
        #expect(parseOnce("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC", limits: limits).0
            == .failed(.headTooLarge))
    }

    @Test func contentLengthOverACustomBodyLimit() {
        let limits = RequestLimits(bodyBytesMax: 10)
        #expect(parseOnce("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", limits: limits).0
            == .failed(.bodyTooLarge))
    }

    @Test func incompleteHeadsWaitForMore() {
        let prefixes = ["", "\r", "\r\n", "G", "GET", "GET ", "GET /", "GET / ", "GET / HTTP/1.", "GET / HTTP/1.1",
                        "GET / HTTP/1.1\r", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost", "GET / HTTP/1.1\r\nHost:",
                        "GET / HTTP/1.1\r\nHost: a", "GET / HTTP/1.1\r\nHost: a\r",
                        "GET / HTTP/1.1\r\nHost: a\r\n", "GET / HTTP/1.1\r\nHost: a\r\n\r"]
        for prefix in prefixes {
            #expect(parseOnce(prefix).0 == .incomplete, "\(prefix.debugDescription)")
        }
    }
}
