import SluiceHTTP1
import Testing
@testable import SluiceLambda

@Suite("Lambda proxy event")
struct LambdaEventTests {
    static let host = "abc123.execute-api.us-east-1.amazonaws.com"

    static func context(
        _ format: LambdaPayloadFormat, routeKey: String = "$default", stageVariables: [LambdaStageVariable] = [],
        pathParameterNames: [String] = [], resourceID: String? = nil, forwardedProto: String? = nil,
        forwardedPort: String? = nil
    ) -> LambdaEventContext {
        LambdaEventContext(format: format, resourcePath: "/pets/{id}", routeKey: routeKey, stage: "prod",
                           stageVariables: stageVariables, apiID: "abc123", deploymentID: "wtl2c1",
                           resourceID: resourceID,
                           pathParameterNames: pathParameterNames, forwardedProto: forwardedProto,
                           forwardedPort: forwardedPort)
    }

    // MARK: - Golden events

    @Test func version1GoldenEvent() throws {
        let (input, head) = try parsedHead([
            "GET /prod/pets/7?limit=10&tag=a&tag=b%20c HTTP/1.1",
            "Host: \(Self.host)",
            "User-Agent: curl/8.5.0",
            "Accept: */*",
            "X-Multi: one",
            "x-multi: two",
        ])
        let context = Self.context(.version1, stageVariables: [.init(name: "backend", value: "127.0.0.1:18001")],
                                   pathParameterNames: ["id"], resourceID: "r1x2y3")
        let event = writeEvent(head: input, head, context: context, stagePrefix: 5,
                               pathParameterValues: [range(of: "7?", in: input).lowerBound..<range(of: "7?", in: input).lowerBound + 1],
                               extendedRequestID: "Fq1zvHeqoAMF_BA=")
        let expected = #"{"resource":"/pets/{id}","path":"/pets/7","httpMethod":"GET","#
            + #""headers":{"Host":"abc123.execute-api.us-east-1.amazonaws.com","User-Agent":"curl/8.5.0","Accept":"*/*","X-Multi":"two"},"#
            + #""multiValueHeaders":{"Host":["abc123.execute-api.us-east-1.amazonaws.com"],"User-Agent":["curl/8.5.0"],"Accept":["*/*"],"X-Multi":["one","two"]},"#
            + #""queryStringParameters":{"limit":"10","tag":"b c"},"#
            + #""multiValueQueryStringParameters":{"limit":["10"],"tag":["a","b c"]},"#
            + #""pathParameters":{"id":"7"},"stageVariables":{"backend":"127.0.0.1:18001"},"#
            + #""requestContext":{"accountId":"123456789012","apiId":"abc123","deploymentId":"wtl2c1","#
            + #""domainName":"abc123.execute-api.us-east-1.amazonaws.com","domainPrefix":"abc123","#
            + #""extendedRequestId":"Fq1zvHeqoAMF_BA=","httpMethod":"GET","#
            + #""identity":{"accessKey":null,"accountId":null,"caller":null,"#
            + #""cognitoAuthenticationProvider":null,"cognitoAuthenticationType":null,"cognitoIdentityId":null,"#
            + #""cognitoIdentityPoolId":null,"principalOrgId":null,"sourceIp":"192.0.2.1","user":null,"#
            + #""userAgent":"curl/8.5.0","userArn":null},"path":"/prod/pets/7","protocol":"HTTP/1.1","#
            + #""requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","requestTime":"09/Apr/2015:12:34:56 +0000","#
            + #""requestTimeEpoch":1428582896000,"resourceId":"r1x2y3","resourcePath":"/pets/{id}","stage":"prod"},"#
            + #""body":null,"isBase64Encoded":false}"#
        #expect(string(event) == expected)
        // And it is JSON that an independent reader accepts.
        let json = try TestJSONReader.parse(event)
        #expect(json["requestContext"]?["identity"]?["sourceIp"] == .string("192.0.2.1"))
    }

    @Test func identityNamesTheKeyOnlyWhenOneWasUsed() throws {
        let (input, head) = try parsedHead(["GET /prod/pets HTTP/1.1", "Host: h", "x-api-key: k3y-value"])
        let keyed = writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5,
                               apiKey: range(of: "k3y-value", in: input), apiKeyID: "partner-a")
        #expect(string(keyed).contains(#""identity":{"accessKey":null,"accountId":null,"apiKey":"k3y-value","apiKeyId":"partner-a","caller":null,"#))
        let identity = try TestJSONReader.parse(keyed)["requestContext"]?["identity"]
        #expect(identity?["apiKey"] == .string("k3y-value"))
        #expect(identity?["apiKeyId"] == .string("partner-a"))

        let unkeyed = writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5)
        #expect(!string(unkeyed).contains("apiKey"))
        // Without an extended id, the request id stands in; 2.0 has neither it nor a deployment id.
        #expect(string(unkeyed).contains(#""extendedRequestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef""#))
        let version2 = writeEvent(head: input, head, context: Self.context(.version2), stagePrefix: 5)
        #expect(!string(version2).contains("deploymentId"))
        #expect(!string(version2).contains("extendedRequestId"))
    }

    @Test func version2GoldenEvent() throws {
        let (input, head) = try parsedHead([
            "POST /prod/pets/7?tag=a&tag=b%20c&empty HTTP/1.1",
            "Host: \(Self.host)",
            "User-Agent: curl/8.5.0",
            "Cookie: a=1; b=2",
            "Content-Type: application/json",
            "X-Multi: one",
            "x-multi: two",
            "cookie: c=3",
        ])
        let context = Self.context(.version2, routeKey: "POST /pets/{id}",
                                   stageVariables: [.init(name: "backend", value: "127.0.0.1:18001")],
                                   pathParameterNames: ["id"])
        let seven = range(of: "7?", in: input).lowerBound
        let event = writeEvent(head: input, head, context: context, stagePrefix: 5,
                               pathParameterValues: [seven..<seven + 1], body: [bytes(#"{"x":"é"}"#)])
        let expected = #"{"version":"2.0","routeKey":"POST /pets/{id}","rawPath":"/prod/pets/7","#
            + #""rawQueryString":"tag=a&tag=b%20c&empty","cookies":["a=1","b=2","c=3"],"#
            + #""headers":{"host":"abc123.execute-api.us-east-1.amazonaws.com","user-agent":"curl/8.5.0","#
            + #""content-type":"application/json","x-multi":"one,two"},"#
            + #""queryStringParameters":{"tag":"a,b c","empty":""},"pathParameters":{"id":"7"},"#
            + #""stageVariables":{"backend":"127.0.0.1:18001"},"#
            + #""requestContext":{"accountId":"123456789012","apiId":"abc123","#
            + #""domainName":"abc123.execute-api.us-east-1.amazonaws.com","domainPrefix":"abc123","#
            + #""http":{"method":"POST","path":"/prod/pets/7","protocol":"HTTP/1.1","sourceIp":"192.0.2.1","#
            + #""userAgent":"curl/8.5.0"},"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","#
            + #""routeKey":"POST /pets/{id}","stage":"prod","time":"09/Apr/2015:12:34:56 +0000","#
            + #""timeEpoch":1428582896000},"body":"{\"x\":\"é\"}","isBase64Encoded":false}"#
        #expect(string(event) == expected)
        let json = try TestJSONReader.parse(event)
        #expect(json["body"] == .string(#"{"x":"é"}"#))
    }

    // MARK: - Null and empty

    @Test func version1WritesNullForWhatIsMissing() throws {
        // HTTP/1.0 needs no Host: a request with no header fields at all.
        let (input, head) = try parsedHead(["GET /prod HTTP/1.0"])
        let event = writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5)
        let json = try TestJSONReader.parse(event)
        #expect(json["path"] == .string("/"))
        for key in ["headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters",
                    "pathParameters", "stageVariables", "body"] {
            #expect(json[key] == .null, "\(key)")
        }
        #expect(json["isBase64Encoded"] == .bool(false))
        #expect(json["requestContext"]?["protocol"] == .string("HTTP/1.0"))
        #expect(json["requestContext"]?["identity"]?["userAgent"] == .null)
        #expect(json["requestContext"]?["resourceId"] == .null)
        #expect(json["requestContext"]?["domainName"] == .string(""))
    }

    @Test func version2LeavesOutWhatIsMissing() throws {
        let (input, head) = try parsedHead(["GET /prod/pets HTTP/1.0"])
        let event = writeEvent(head: input, head, context: Self.context(.version2), stagePrefix: 5)
        let json = try TestJSONReader.parse(event)
        #expect(json.keys == ["version", "routeKey", "rawPath", "rawQueryString", "requestContext", "isBase64Encoded"])
        #expect(json["rawQueryString"] == .string(""))
        #expect(json["requestContext"]?["http"]?["userAgent"] == .null)
    }

    @Test func anEmptyQueryOrEmptyPiecesGiveNoParameters() throws {
        for target in ["/prod/pets?", "/prod/pets?&&", "/prod/pets"] {
            let (input, head) = try parsedHead(["GET \(target) HTTP/1.1", "Host: h"])
            let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
            #expect(json["queryStringParameters"] == .null, "\(target)")
            #expect(json["multiValueQueryStringParameters"] == .null, "\(target)")
        }
    }

    @Test func emptyValuesAndRepeatedNames() throws {
        let (input, head) = try parsedHead(["GET /prod/pets?a&b=&&a=1&=x&c=d=e HTTP/1.1", "Host: h"])
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        #expect(json["queryStringParameters"] == .object([
            .init(key: "a", value: .string("1")), .init(key: "b", value: .string("")),
            .init(key: "", value: .string("x")), .init(key: "c", value: .string("d=e")),
        ]))
        #expect(json["multiValueQueryStringParameters"]?["a"] == .array([.string(""), .string("1")]))
    }

    // MARK: - Percent-decoding

    @Test func queryNamesAndValuesArePercentDecoded() throws {
        let (input, head) = try parsedHead([
            "GET /prod/pets?name=J%C3%BCrgen+M%c3%bcller&x%3Dy=1&odd=%ZZ%4&nul=%00&bad=%FF&plus=a%2Bb HTTP/1.1",
            "Host: h",
        ])
        let event = writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5)
        let json = try TestJSONReader.parse(event)
        let query = try #require(json["queryStringParameters"])
        #expect(query["name"] == .string("Jürgen Müller"))
        #expect(query["x=y"] == .string("1"))
        #expect(query["odd"] == .string("%ZZ%4"))
        #expect(query["nul"] == .string("\u{0}"))
        #expect(query["bad"] == .string("\u{FFFD}"))
        #expect(query["plus"] == .string("a+b"))
        #expect(string(event).contains(#""nul":"\u0000""#))
    }

    @Test func differentlyEncodedNamesAreTheSameParameter() throws {
        let (input, head) = try parsedHead(["GET /prod/pets?a%20b=1&a+b=2&%61%20b=3&b=4 HTTP/1.1", "Host: h"])
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        #expect(json["multiValueQueryStringParameters"] == .object([
            .init(key: "a b", value: .array([.string("1"), .string("2"), .string("3")])),
            .init(key: "b", value: .array([.string("4")])),
        ]))
        let json2 = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version2), stagePrefix: 5))
        #expect(json2["queryStringParameters"]?["a b"] == .string("1,2,3"))
        #expect(json2["rawQueryString"] == .string("a%20b=1&a+b=2&%61%20b=3&b=4"))
    }

    @Test func pathParametersAreRawIn1AndDecodedIn2() throws {
        let (input, head) = try parsedHead(["GET /prod/files/a%20b/c+d HTTP/1.1", "Host: h"])
        let value = range(of: "a%20b/c+d", in: input)
        let context1 = LambdaEventContext(format: .version1, resourcePath: "/files/{proxy+}", stage: "prod",
                                          apiID: "x", pathParameterNames: ["proxy"])
        let json1 = try TestJSONReader.parse(writeEvent(head: input, head, context: context1, stagePrefix: 5,
                                                        pathParameterValues: [value]))
        #expect(json1["pathParameters"] == .object([.init(key: "proxy", value: .string("a%20b/c+d"))]))
        #expect(json1["path"] == .string("/files/a%20b/c+d"))
        let context2 = LambdaEventContext(format: .version2, resourcePath: "/files/{proxy+}",
                                          routeKey: "GET /files/{proxy+}", stage: "prod", apiID: "x",
                                          pathParameterNames: ["proxy"])
        let json2 = try TestJSONReader.parse(writeEvent(head: input, head, context: context2, stagePrefix: 5,
                                                        pathParameterValues: [value]))
        #expect(json2["pathParameters"] == .object([.init(key: "proxy", value: .string("a b/c+d"))]))
        #expect(json2["rawPath"] == .string("/prod/files/a%20b/c+d"))
    }

    // MARK: - Headers

    @Test func headersGroupIgnoringCaseInOrderOfFirstAppearance() throws {
        let (input, head) = try parsedHead([
            "GET /prod/pets HTTP/1.1",
            "Zeta: 1",
            "Host: h",
            "accept: a",
            "ZETA: 2",
            "Accept: b",
            "zeta: 3",
        ])
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        #expect(json["headers"] == .object([
            .init(key: "Zeta", value: .string("3")), .init(key: "Host", value: .string("h")),
            .init(key: "accept", value: .string("b")),
        ]))
        #expect(json["multiValueHeaders"] == .object([
            .init(key: "Zeta", value: .array([.string("1"), .string("2"), .string("3")])),
            .init(key: "Host", value: .array([.string("h")])),
            .init(key: "accept", value: .array([.string("a"), .string("b")])),
        ]))
        let json2 = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version2), stagePrefix: 5))
        #expect(json2["headers"] == .object([
            .init(key: "zeta", value: .string("1,2,3")), .init(key: "host", value: .string("h")),
            .init(key: "accept", value: .string("a,b")),
        ]))
    }

    @Test func headerValuesAreEscapedAndInvalidUTF8Replaced() throws {
        var input = bytes("GET /prod/pets HTTP/1.1\r\nHost: h\r\nX-Quote: say \"hi\" \\ \t tab\r\nX-Latin: caf")
        input += [0xE9, 0x20, 0xC3, 0xA9]  // Latin-1 é (invalid UTF-8), then UTF-8 é
        input += bytes("\r\n\r\n")
        let (_, head) = try parsedHead(input)
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        #expect(json["headers"]?["X-Quote"] == .string("say \"hi\" \\ \t tab"))
        #expect(json["headers"]?["X-Latin"] == .string("caf\u{FFFD} é"))
    }

    @Test func version2CookiesAreSplitAndTrimmed() throws {
        let (input, head) = try parsedHead([
            "GET /prod/pets HTTP/1.1", "Host: h", "Cookie: a=1;b=2;  c=3 ;", "Cookie: ;;", "Cookie: d=\"x; y\"",
        ])
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version2), stagePrefix: 5))
        // Splitting is at every `;`, as API Gateway does, quoted or not.
        #expect(json["cookies"] == .array([.string("a=1"), .string("b=2"), .string("c=3"), .string("d=\"x"),
                                           .string("y\"")]))
        #expect(json["headers"] == .object([.init(key: "host", value: .string("h"))]))
        // 1.0 keeps Cookie as a header.
        let json1 = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        #expect(json1["multiValueHeaders"]?["Cookie"] == .array([.string("a=1;b=2;  c=3 ;"), .string(";;"),
                                                                  .string("d=\"x; y\"")]))
        #expect(json1["cookies"] == nil)
    }

    @Test func forwardedHeadersAreAddedAsAPIGatewayAddsThem() throws {
        let (input, head) = try parsedHead([
            "GET /prod/pets HTTP/1.1", "Host: h", "X-Forwarded-For: 203.0.113.9", "x-forwarded-proto: gopher",
            "X-Forwarded-For: 198.51.100.2", "X-Forwarded-Port: 1",
        ])
        let context = Self.context(.version1, forwardedProto: "http", forwardedPort: "8080")
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: context, stagePrefix: 5))
        #expect(json["headers"] == .object([
            .init(key: "Host", value: .string("h")),
            .init(key: "X-Forwarded-For", value: .string("203.0.113.9, 198.51.100.2, 192.0.2.1")),
            .init(key: "X-Forwarded-Port", value: .string("8080")),
            .init(key: "X-Forwarded-Proto", value: .string("http")),
        ]))
        #expect(json["multiValueHeaders"]?["X-Forwarded-For"] == .array([.string("203.0.113.9, 198.51.100.2, 192.0.2.1")]))
        let context2 = Self.context(.version2, forwardedProto: "http", forwardedPort: "8080")
        let json2 = try TestJSONReader.parse(writeEvent(head: input, head, context: context2, stagePrefix: 5))
        #expect(json2["headers"]?.keys == ["host", "x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"])
        // A request without headers of its own still gets them.
        let (bare, bareHead) = try parsedHead(["GET /prod/pets HTTP/1.0"])
        let json3 = try TestJSONReader.parse(writeEvent(head: bare, bareHead, context: context, stagePrefix: 5))
        #expect(json3["headers"]?["X-Forwarded-For"] == .string("192.0.2.1"))
        // Without the option, the client's own are passed as they are.
        let json4 = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        #expect(json4["headers"]?["x-forwarded-proto"] == .string("gopher"))
    }

    @Test func theTraceHeaderReplacesTheClientsAsAPIGatewayAddsIt() throws {
        let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
        let (input, head) = try parsedHead([
            "GET /prod/pets HTTP/1.1", "Host: h", "x-amzn-trace-id: Root=1-00000000-000000000000000000000000",
            "Accept: */*",
        ])
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1),
                                                       stagePrefix: 5, traceID: trace))
        #expect(json["headers"] == .object([
            .init(key: "Host", value: .string("h")),
            .init(key: "Accept", value: .string("*/*")),
            .init(key: "X-Amzn-Trace-Id", value: .string(trace)),
        ]))
        #expect(json["multiValueHeaders"]?["X-Amzn-Trace-Id"] == .array([.string(trace)]))
        let json2 = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version2),
                                                        stagePrefix: 5, traceID: trace))
        #expect(json2["headers"]?.keys == ["host", "accept", "x-amzn-trace-id"])
        #expect(json2["headers"]?["x-amzn-trace-id"] == .string(trace))
        // A request without headers of its own still gets it, next to the forwarded ones.
        let (bare, bareHead) = try parsedHead(["GET /prod/pets HTTP/1.0"])
        let forwarding = Self.context(.version1, forwardedProto: "http", forwardedPort: "8080")
        let json3 = try TestJSONReader.parse(writeEvent(head: bare, bareHead, context: forwarding, stagePrefix: 5,
                                                        traceID: trace))
        #expect(json3["headers"]?.keys == ["X-Amzn-Trace-Id", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"])
        // Without one, the client's passes as it came.
        let json4 = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        #expect(json4["headers"]?["x-amzn-trace-id"] == .string("Root=1-00000000-000000000000000000000000"))
    }

    @Test func domainPrefixIsTheFirstLabel() throws {
        for (host, prefix) in [("abc.example.com", "abc"), ("localhost:8080", "localhost"), ("single", "single")] {
            let (input, head) = try parsedHead(["GET /prod/pets HTTP/1.1", "Host: \(host)"])
            let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version2), stagePrefix: 5))
            #expect(json["requestContext"]?["domainName"] == .string(host))
            #expect(json["requestContext"]?["domainPrefix"] == .string(prefix))
        }
    }

    // MARK: - Time

    @Test(arguments: [
        (0, "01/Jan/1970:00:00:00 +0000"),
        (951_782_400_000, "29/Feb/2000:00:00:00 +0000"),
        (1_709_251_199_999, "29/Feb/2024:23:59:59 +0000"),
        (1_583_349_317_135, "04/Mar/2020:19:15:17 +0000"),
        (4_102_444_800_000, "01/Jan/2100:00:00:00 +0000"),
    ])
    func requestTimeIsCommonLogFormat(milliseconds: Int, expected: String) throws {
        var output: [UInt8] = []
        JSONText.appendCommonLogTime(epochMilliseconds: milliseconds, to: &output)
        #expect(string(output) == expected)
        let (input, head) = try parsedHead(["GET /prod/pets HTTP/1.1", "Host: h"])
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1),
                                                       stagePrefix: 5, timeMilliseconds: milliseconds))
        #expect(json["requestContext"]?["requestTime"] == .string(expected))
        #expect(json["requestContext"]?["requestTimeEpoch"] == .number(String(milliseconds)))
    }

    // MARK: - Many names

    @Test func manyQueryParametersGroupLikeADictionary() throws {
        var generator = SeededGenerator(seed: 7)
        var pieces: [String] = []
        var expectedOrder: [String] = []
        var expectedValues: [String: [String]] = [:]
        for index in 0..<3000 {
            let name = "n\(Int.random(in: 0..<700, using: &generator))"
            let value = "v\(index)"
            pieces.append("\(name)=\(value)")
            if expectedValues[name] == nil { expectedOrder.append(name) }
            expectedValues[name, default: []].append(value)
        }
        let (input, head) = try parsedHead(["GET /prod/pets?\(pieces.joined(separator: "&")) HTTP/1.1", "Host: h"])
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        let multi = try #require(json["multiValueQueryStringParameters"])
        #expect(multi.keys == expectedOrder)
        for name in expectedOrder {
            #expect(multi[name] == .array(expectedValues[name]!.map { .string($0) }))
            #expect(json["queryStringParameters"]?[name] == .string(expectedValues[name]!.last!))
        }
    }

    @Test func manyHeadersGroupLikeADictionary() throws {
        var generator = SeededGenerator(seed: 11)
        var lines = ["GET /prod/pets HTTP/1.0"]
        var expectedOrder: [String] = []
        var expectedValues: [String: [String]] = [:]
        for index in 0..<400 {
            var name = "X-H\(Int.random(in: 0..<90, using: &generator))"
            if Bool.random(using: &generator) { name = name.lowercased() }
            lines.append("\(name): \(index)")
            let key = name.lowercased()
            if expectedValues[key] == nil { expectedOrder.append(name) }
            expectedValues[key, default: []].append("\(index)")
        }
        let (input, head) = try parsedHead(lines)
        let json = try TestJSONReader.parse(writeEvent(head: input, head, context: Self.context(.version1), stagePrefix: 5))
        let multi = try #require(json["multiValueHeaders"])
        #expect(multi.keys == expectedOrder)
        for name in expectedOrder {
            #expect(multi[name] == .array(expectedValues[name.lowercased()]!.map { .string($0) }))
        }
    }

    // MARK: - Sizes

    @Test func byteCounterCountsWhatIsWritten() throws {
        let (input, head) = try parsedHead(["GET /prod/pets?a=1&a=2 HTTP/1.1", "Host: h", "User-Agent: u"])
        let context = Self.context(.version1)
        let requestID = bytes("id")
        let sourceIP = bytes("10.0.0.1")
        let parts = LambdaRequestParts(head: head, stagePrefixByteCount: 5, requestTimeEpochMilliseconds: 1)
        var scratch = LambdaEventScratch()
        var output: [UInt8] = []
        var counter = ByteCounter()
        _ = LambdaEvent.writePrefix(request: parts, head: input.span, headers: head.headers, pathParameterValues: [],
                                    requestID: requestID.span, sourceIP: sourceIP.span, context: context,
                                    body: .text, scratch: &scratch, to: &output)
        _ = LambdaEvent.writePrefix(request: parts, head: input.span, headers: head.headers, pathParameterValues: [],
                                    requestID: requestID.span, sourceIP: sourceIP.span, context: context,
                                    body: .text, scratch: &scratch, to: &counter)
        #expect(counter.count == output.count)
    }

    /// Heads built to make the prefix as long as possible per head byte stay within the bound.
    @Test func prefixStaysWithinItsBoundForHostileHeads() throws {
        let hostileHeads: [[UInt8]] = [
            // Many one-byte query names, all distinct, each an invalid byte once decoded.
            bytes("GET /prod/p?" + (0..<2000).map { "%\(String(0x80 + $0 % 0x40, radix: 16))\($0)" }
                .joined(separator: "&") + " HTTP/1.1\r\nHost: h\r\n\r\n"),
            bytes("GET /prod/p?" + (0..<4000).map { _ in "a" }.joined(separator: "&") + " HTTP/1.1\r\nHost: h\r\n\r\n"),
            bytes("GET /prod/p?" + String(repeating: "%01", count: 3000) + " HTTP/1.1\r\nHost: h\r\n\r\n"),
            // Raw bytes above 0x7F as distinct names: one- and two-byte names, each invalid UTF-8.
            bytes("GET /prod/p?") + (0x80...0xFF as ClosedRange<UInt8>).flatMap { [$0, 0x26] }
                + (0x80...0xFF as ClosedRange<UInt8>).flatMap { first in
                    (0x80...0x9F as ClosedRange<UInt8>).flatMap { [first, $0, 0x26] }
                } + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n"),
            bytes("GET /prod/") + [UInt8](repeating: 0xFF, count: 4000) + bytes(" HTTP/1.1\r\nHost: h\r\n\r\n"),
            // Many tiny distinct headers; a long User-Agent of quotes; invalid bytes in values.
            bytes("GET /prod/p HTTP/1.1\r\nHost: h\r\n" + (0..<1500).map { "h\($0):\r\n" }.joined()
                + "User-Agent: " + String(repeating: "\"", count: 3000) + "\r\n\r\n"),
            bytes("GET /prod/p HTTP/1.1\r\nHost: h\r\nUser-Agent: ") + [UInt8](repeating: 0xFF, count: 4000) + bytes("\r\n\r\n"),
            bytes("GET /prod/p HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: ") + [UInt8](repeating: 0xFF, count: 4000)
                + bytes("\r\nCookie: " + String(repeating: "a;", count: 2000) + "\r\n\r\n"),
        ]
        var ratioMax = 0.0
        for format in [LambdaPayloadFormat.version1, .version2] {
            for input in hostileHeads {
                let (_, head) = try parsedHead(input)
                let parts = LambdaRequestParts(head: head, stagePrefixByteCount: 5, requestTimeEpochMilliseconds: 1)
                let requestID = bytes("c6af9ac6-7b61-11e6-9a41-93e8deadbeef")
                let sourceIP = bytes("2001:db8::1")
                let traceID = bytes("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
                var scratch = LambdaEventScratch()
                var counter = ByteCounter()
                let pathValue = head.path.lowerBound + 5..<head.path.upperBound
                let contextWithParameter = LambdaEventContext(
                    format: format, resourcePath: "/{proxy+}", stage: "prod", apiID: "a",
                    pathParameterNames: ["proxy"], forwardedProto: "http", forwardedPort: "8080")
                _ = LambdaEvent.writePrefix(request: parts, head: input.span, headers: head.headers,
                                            pathParameterValues: [pathValue], requestID: requestID.span,
                                            sourceIP: sourceIP.span, traceID: traceID.span,
                                            context: contextWithParameter, body: .text, scratch: &scratch, to: &counter)
                let bound = LambdaEvent.prefixBytesMax(headByteCount: head.headLength,
                                                       requestIDByteCount: requestID.count,
                                                       sourceIPByteCount: sourceIP.count, context: contextWithParameter)
                #expect(counter.count <= bound, "\(format): \(counter.count) > \(bound) for a \(head.headLength)-byte head")
                ratioMax = max(ratioMax, Double(counter.count) / Double(head.headLength))
            }
        }
        // The heads are hostile enough to come near the bound's reasoning (9 to 10 bytes per byte).
        #expect(ratioMax > 9)
    }
}
