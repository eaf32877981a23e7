import SluiceAuth
import SluiceHTTP1
import Testing

/// AWS's Signature Version 4 test suite (aws-sig-v4-test-suite): its credentials, region and
/// service, and the signatures its cases give.
@Suite struct SigV4Tests {
    static let credential = SigV4Credential(accessKeyID: "AKIDEXAMPLE",
                                            secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 2015-08-30T12:36:00Z.
    static let now: Int64 = 1_440_938_160

    func verify(_ text: String, body: String = "", now: Int64 = SigV4Tests.now,
                credentials: [SigV4Credential] = [SigV4Tests.credential]) -> Result<Int, SigV4Failure> {
        let bytes = Array(text.utf8)
        var parser = RequestHeadParser(limits: RequestLimits())
        var head = RequestHead()
        guard case .complete = parser.parse(bytes.span, into: &head) else {
            Issue.record("the head does not parse")
            return .failure(.incomplete)
        }
        var verifier = SigV4Verifier(region: "us-east-1", service: "service", credentials: credentials)
        let request = SigV4Request(method: head.methodName, path: head.path,
                                   query: head.query.isEmpty ? nil : head.query, headers: head.headers)
        let bodyBytes = Array(body.utf8)
        return verifier.verify(bytes.span, request, body: bodyBytes.span, nowEpochSeconds: now)
    }

    static func head(_ line: String, signedHeaders: String = "host;x-amz-date", signature: String,
                     extra: String = "") -> String {
        "\(line) HTTP/1.1\r\nHost: example.amazonaws.com\r\nX-Amz-Date: 20150830T123600Z\r\n\(extra)"
            + "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)\r\n\r\n"
    }

    @Test func vanillaGet() {
        let text = Self.head("GET /", signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        #expect(verify(text) == .success(0))
    }

    @Test func queryParametersAreSorted() {
        let text = Self.head("GET /?Param2=value2&Param1=value1",
                             signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
        #expect(verify(text) == .success(0))
    }

    @Test func unreservedCharactersInTheQuery() {
        // get-vanilla-query-unreserved
        let unreserved = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        let text = Self.head("GET /?\(unreserved)=\(unreserved)",
                             signature: "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197")
        #expect(verify(text) == .success(0))
    }

    @Test func postWithABody() {
        // post-x-www-form-urlencoded
        let text = "POST / HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            + "Host: example.amazonaws.com\r\nX-Amz-Date: 20150830T123600Z\r\nContent-Length: 13\r\n"
            + "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=content-type;host;x-amz-date, "
            + "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a\r\n\r\n"
        #expect(verify(text, body: "Param1=value1") == .success(0))
        #expect(verify(text, body: "Param1=value2") == .failure(.mismatch))
    }

    @Test func tamperedRequestsAreRefused() {
        let good = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        #expect(verify(Self.head("GET /other", signature: good)) == .failure(.mismatch))
        #expect(verify(Self.head("GET /?a=b", signature: good)) == .failure(.mismatch))
        #expect(verify(Self.head("GET /", signature: String(good.dropLast()) + "0")) == .failure(.mismatch))
        #expect(verify(Self.head("GET /", signature: good.uppercased())) == .failure(.mismatch))
        // Without host among the signed headers.
        #expect(verify(Self.head("GET /", signedHeaders: "x-amz-date", signature: good)) == .failure(.mismatch))
    }

    @Test func signedHeadersMustBeSortedLowercaseAndOnce() {
        let good = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        for list in ["host;x-amz-date;", "host;host;x-amz-date", "x-amz-date;host", "Host;x-amz-date", "host;;x-amz-date",
                     String(repeating: "x-amz-date;", count: 500) + "host"] {
            #expect(verify(Self.head("GET /", signedHeaders: list, signature: good)) == .failure(.mismatch), "\(list.prefix(40))")
        }
    }

    @Test func timeKeyAndShapeFailures() {
        let good = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        let text = Self.head("GET /", signature: good)
        #expect(verify(text, now: Self.now + 301) == .failure(.expired))
        #expect(verify(text, now: Self.now - 301) == .failure(.expired))
        #expect(verify(text, now: Self.now + 299) == .success(0))
        let other = SigV4Credential(accessKeyID: "AKIDOTHER", secretAccessKey: "x")
        #expect(verify(text, credentials: [other]) == .failure(.unrecognizedClient))
        #expect(verify("GET / HTTP/1.1\r\nHost: a\r\n\r\n") == .failure(.missing))
        #expect(verify("GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer x\r\n\r\n") == .failure(.incomplete))
        let noDate = text.replacingOccurrences(of: "X-Amz-Date: 20150830T123600Z\r\n", with: "")
        #expect(verify(noDate) == .failure(.incomplete))
        // A session token the credential does not have, and one it needs.
        #expect(verify(Self.head("GET /", signature: good, extra: "X-Amz-Security-Token: abc\r\n"))
                == .failure(.unrecognizedClient))
        let temporary = SigV4Credential(accessKeyID: "AKIDEXAMPLE",
                                        secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                        sessionToken: "token")
        #expect(verify(text, credentials: [temporary]) == .failure(.unrecognizedClient))
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
