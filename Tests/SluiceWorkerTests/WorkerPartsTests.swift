import Foundation
import SluiceCompression
import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceURing
@testable import SluiceWorker
import SluiceTemplates
import Testing

@Suite struct DeadlineListsTests {
    @Test func expiresInDeadlineOrderPerList() {
        var lists = DeadlineLists(capacity: 8)
        lists.schedule(3, in: .header, deadline: 10)
        lists.schedule(5, in: .header, deadline: 20)
        lists.schedule(1, in: .idle, deadline: 5)
        #expect(lists.firstExpired(in: .header, now: 9) == nil)
        #expect(lists.firstExpired(in: .header, now: 10) == 3)
        #expect(lists.firstExpired(in: .idle, now: 100) == 1)
        lists.remove(3)
        #expect(lists.firstExpired(in: .header, now: 100) == 5)
        #expect(lists.list(of: 3) == .none)
    }

    @Test func reschedulingMovesToTheTailOfTheNewList() {
        var lists = DeadlineLists(capacity: 4)
        lists.schedule(0, in: .idle, deadline: 1)
        lists.schedule(1, in: .idle, deadline: 2)
        lists.schedule(0, in: .idle, deadline: 3)
        #expect(lists.firstExpired(in: .idle, now: 10) == 1)
        lists.schedule(1, in: .linger, deadline: 4)
        #expect(lists.firstExpired(in: .idle, now: 10) == 0)
        #expect(lists.firstExpired(in: .linger, now: 10) == 1)
        lists.remove(0)
        lists.remove(1)
        #expect(lists.firstExpired(in: .idle, now: 10) == nil)
        #expect(lists.firstExpired(in: .linger, now: 10) == nil)
        // Removing twice is harmless.
        lists.remove(1)
    }
}

@Suite struct TokenTests {
    @Test func packsKindConnectionAndGeneration() {
        let token = Token.make(.send, connection: 65_535, generation: 0xFF_FFFF)
        #expect(Token.kind(token) == .send)
        #expect(Token.connection(token) == 65_535)
        #expect(Token.generation(token) == 0xFF_FFFF)
        #expect(Token.kind(0) == nil)
        // Generations wrap within their 24 bits.
        #expect(Token.generation(Token.make(.receive, connection: 1, generation: 0x100_0001)) == 1)
    }
}

@Suite struct ResponseCatalogTests {
    /// A compressor per use: it is not for sharing across the test threads.
    static var compressor: Compressor { Compressor(level: 1, inputBytesMax: 1 << 16)! }

    @Test func staticMocksOfACompressingAPIAreCompressedOnceInBothCodings() throws {
        let big = MockResponse(status: 200, contentType: "application/json", body: Array(repeating: 0x61, count: 300))
        let small = MockResponse(status: 200, body: Array("{}".utf8))
        let encoded = MockResponse(status: 200, headers: [ResponseHeader(name: "content-encoding", value: "br")],
                                   body: Array(repeating: 0x61, count: 300))
        var deployment = Deployment()
        deployment.apis = [API(name: "a", definitionFile: "a.yaml")]
        deployment.apis[0].minimumCompressionSizeBytes = 100
        deployment.operations = [big, small, encoded].enumerated().map { index, response in
            Operation(api: 0, resourcePath: "/\(index)", method: "GET", integration: .mock(MockIntegration(response: response)))
        }
        let catalog = ResponseCatalog(deployment: deployment, corsPolicies: [], compressor: Self.compressor)
        #expect(catalog.compressed(0, .identity) == 0)
        // Under the minimum, or encoded already: as it is.
        #expect(catalog.compressed(1, .gzip) == 1)
        #expect(catalog.compressed(2, .deflate) == 2)
        let decompressor = try #require(Decompressor(outputBytesMax: 1024))
        for coding in [ContentCoding.gzip, .deflate] {
            let form = catalog[catalog.compressed(0, coding)]
            let head = String(decoding: form.head, as: UTF8.self)
            #expect(head.contains("Content-Encoding: \(coding == .gzip ? "gzip" : "deflate")\r\nVary: Accept-Encoding\r\n"))
            #expect(head.hasSuffix("Content-Length: \(form.body.count)\r\n") && form.body.count < 40)
            #expect(decompressor.decompress(form.body.span, coding) == .decoded)
            #expect(Array(decompressor.output[0..<decompressor.outputCount]) == big.body)
        }
        // The gateway's answers are where they always are, and never compressed.
        #expect(catalog[catalog.index(of: .missingAuthenticationToken)].status == 403)
        #expect(catalog.answer(at: catalog.index(of: .tooManyRequests)) == .tooManyRequests)
        #expect(catalog.compressed(catalog.index(of: .missingAuthenticationToken), .gzip)
                == catalog.index(of: .missingAuthenticationToken))
    }

    @Test func preparesMockAndGatewayAnswers() {
        let mock = MockResponse(status: 201, headers: [ResponseHeader(name: "X-A", value: "b")],
                                contentType: "text/plain", body: Array("hi".utf8))
        let operation = Operation(api: 0, resourcePath: "/a", method: "GET",
                                  integration: .mock(MockIntegration(response: mock)))
        let unsupported = Operation(api: 0, resourcePath: "/b", method: "GET", integration: .unsupported("AWS"))
        var deployment = Deployment()
        deployment.operations = [operation, unsupported]
        let catalog = ResponseCatalog(deployment: deployment, corsPolicies: [], compressor: Self.compressor)
        #expect(String(decoding: catalog[0].head, as: UTF8.self)
                == "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-A: b\r\nContent-Length: 2\r\n")
        #expect(catalog[1].status == 500)
        #expect(String(decoding: catalog[1].body, as: UTF8.self) == #"{"message": "Internal server error"}"#)
        let missing = catalog[catalog.index(of: .missingAuthenticationToken)]
        #expect(missing.status == 403)
        #expect(String(decoding: missing.head, as: UTF8.self).contains("x-amzn-ErrorType: MissingAuthenticationTokenException\r\n"))
        #expect(String(decoding: catalog[catalog.index(of: .bodyTooLarge)].body, as: UTF8.self) == #"{"message":"Request Too Long"}"#)
        #expect(catalog.headBytesMax >= catalog[0].head.count)
    }

    @Test func gatewayResponsesShapeAnAPIsAnswers() throws {
        var deployment = Deployment()
        deployment.apis = [
            API(name: "plain", definitionFile: "a.yaml"),
            API(name: "shaped", definitionFile: "b.yaml"),
        ]
        deployment.apis[1].gatewayResponses = [
            GatewayResponseSettings(responseType: "DEFAULT_4XX",
                                    headers: [ResponseHeader(name: "Access-Control-Allow-Origin", value: "*"),
                                              ResponseHeader(name: "Content-Length", value: "9")],
                                    template: ResponseTemplate(contentType: "application/json",
                                                               template: #"{"error":$context.error.messageString,"type":"$context.error.responseType"}"#)),
            GatewayResponseSettings(responseType: "MISSING_AUTHENTICATION_TOKEN", statusCode: 404,
                                    template: ResponseTemplate(contentType: "text/plain", template: "not here")),
        ]
        deployment.apis[1].gatewayResponses[0].compiledTemplate = try TemplateCompiler.compile(
            deployment.apis[1].gatewayResponses[0].template!.template)
        deployment.apis[1].gatewayResponses[1].compiledTemplate = try TemplateCompiler.compile("not here")
        let catalog = ResponseCatalog(deployment: deployment, corsPolicies: [nil, nil], compressor: Self.compressor)
        let throttled = catalog.index(of: .tooManyRequests)
        // The plain API keeps API Gateway's own answers.
        #expect(catalog.shaped(throttled, api: 0) == throttled)
        #expect(catalog.shaped(throttled, api: -1) == throttled)
        // DEFAULT_4XX shapes a 429; a header that frames the response is remapped.
        let shapedThrottle = catalog[catalog.shaped(throttled, api: 1)]
        #expect(shapedThrottle.status == 429)
        // Its template reads $context: it is rendered per answer, so the head has no length yet.
        #expect(shapedThrottle.rendersBody && shapedThrottle.body.isEmpty)
        let head = String(decoding: shapedThrottle.head, as: UTF8.self)
        #expect(head.contains("Access-Control-Allow-Origin: *\r\n"))
        #expect(head.contains("x-amzn-Remapped-Content-Length: 9\r\n"))
        #expect(head.contains("x-amzn-ErrorType: TooManyRequestsException\r\n"))
        #expect(!head.contains("\r\nContent-Length:"))
        #expect(catalog.answer(at: catalog.shaped(throttled, api: 1)) == .tooManyRequests)
        // Its own entry wins over DEFAULT_4XX, status included.
        let missing = catalog[catalog.shaped(catalog.index(of: .missingAuthenticationToken), api: 1)]
        #expect(missing.status == 404)
        #expect(String(decoding: missing.head, as: UTF8.self).hasPrefix("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"))
        #expect(String(decoding: missing.body, as: UTF8.self) == "not here")
        // 5XX answers have no DEFAULT_5XX here: API Gateway's own.
        let failed = catalog.shaped(catalog.index(of: .badGateway), api: 1)
        #expect(String(decoding: catalog[failed].body, as: UTF8.self) == #"{"message": "Internal server error"}"#)
    }
}

@Suite struct ExtendedRequestIDTests {
    @Test func isElevenBytesOfTheRequestIDInBase64() throws {
        let slab = try ByteSlab(slotCount: 1, slotBytes: 64)
        let high: UInt64 = 0x0123_4567_89AB_CDEF
        let low: UInt64 = 0xFEDC_BA98_7654_3210
        let count = slab.write(slot: 0, offset: 0) { writer in
            Worker.appendExtendedRequestID(high: high, low: low, to: &writer)
        }.byteCount
        let text = slab.withBytes(slot: 0, range: 0..<count) { bytes in
            String(decoding: (0..<bytes.count).map { bytes[$0] }, as: UTF8.self)
        }
        #expect(text.count == 16)
        let decoded = try #require(Data(base64Encoded: text))
        #expect(Array(decoded) == [0xAB, 0xCD, 0xEF, 0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10])
    }
}
