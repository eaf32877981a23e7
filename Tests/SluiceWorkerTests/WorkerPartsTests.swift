import SluiceConfig
import SluiceHTTP1
@testable import SluiceWorker
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
    @Test func preparesMockAndGatewayAnswers() {
        let mock = MockResponse(status: 201, headers: [ResponseHeader(name: "X-A", value: "b")],
                                contentType: "text/plain", body: Array("hi".utf8))
        let operation = Operation(api: 0, resourcePath: "/a", method: "GET",
                                  integration: .mock(MockIntegration(response: mock)))
        let unsupported = Operation(api: 0, resourcePath: "/b", method: "GET", integration: .unsupported("AWS"))
        var deployment = Deployment()
        deployment.operations = [operation, unsupported]
        let catalog = ResponseCatalog(deployment: deployment)
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
}
