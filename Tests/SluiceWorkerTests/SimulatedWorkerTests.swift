import Foundation
import SluiceURing
@testable import SluiceWorker
import Testing

/// The worker's loop and pipeline on a simulated ring (`SimulatedWorker`): faults a real kernel
/// produces rarely — short sends, resets, a dry buffer ring, timeouts — on demand, and the clock
/// moved by hand.
@Suite struct SimulatedWorkerTests {
    static let definition = """
        openapi: 3.0.1
        info: {title: simulated, version: "1"}
        paths:
          /hello:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {"application/json": '{"statusCode": 200}'}
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates: {"application/json": '{"hello":"world"}'}
          /upstream:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                uri: "http://127.0.0.1:9/answer"
                timeoutInMillis: 500
        """

    static func gateway(recvBuffers: Int = 64, recvBufferBytes: Int = 4_096,
                        stage: String = "{}", definition: String = definition) throws -> SimulatedWorker {
        try SimulatedWorker(config: """
            listen: "127.0.0.1:0"
            workers:
              count: 1
              defaults: {ring_entries: 256, recv_buffers: \(recvBuffers), recv_buffer_bytes: \(recvBufferBytes), \
            max_connections: 16}
            limits: {header_timeout_ms: 1000, idle_timeout_ms: 5000}
            apis:
              - name: simulated
                definition: api.yaml
                stages: {prod: \(stage)}
            """, files: ["api.yaml": definition])
    }

    static let hello = "GET /prod/hello HTTP/1.1\r\nHost: gateway\r\nUser-Agent: simulated\r\n\r\n"

    @Test func answersAMockAndFreesEverythingWhenThePeerCloses() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        try gateway.send(Self.hello, to: client)
        let responses = try ParsedResponse.all(in: gateway.drain(client))
        #expect(responses.count == 1)
        #expect(responses.first?.status == 200)
        #expect(responses.first?.body == #"{"hello":"world"}"#)
        #expect(responses.first?.header("Date") == "Tue, 01 Dec 2026 00:00:00 GMT")
        #expect(responses.first?.header("x-amzn-RequestId") != nil)
        // API Gateway's extended id on every answer; a trace only on an integration's.
        let extended = try #require(responses.first?.header("x-amz-apigw-id"))
        #expect(extended.count == 16 && extended.hasSuffix("=") && Data(base64Encoded: extended)?.count == 11)
        #expect(responses.first?.header("X-Amzn-Trace-Id") == nil)
        #expect(gateway.worker.openConnections == 1)
        gateway.simulator.close(client)
        try gateway.settle()
        #expect(gateway.isQuiescent)
    }

    /// Seeded faults: requests pipelined and cut at random points across receives, every send
    /// going out in random short pieces. Each seed must give every answer, whole and in order.
    @Test(arguments: 1...24)
    func pipelinedRequestsSurviveRandomReceivesAndShortSends(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        let count = Int.random(in: 1...6, using: &random)
        let stream = String(repeating: Self.hello, count: count) + "GET /prod/nothing HTTP/1.1\r\nHost: g\r\n\r\n"
        var sent = 0
        var received: [UInt8] = []
        let bytes = Array(stream.utf8)
        while sent < bytes.count {
            let piece = min(bytes.count - sent, Int.random(in: 1...40, using: &random))
            let chunk = Int.random(in: 1...piece, using: &random)
            let text = String(decoding: bytes[sent..<(sent + piece)], as: UTF8.self)
            sent += try gateway.send(text, to: client, chunk: chunk)
            received += try gateway.drain(client) { Int.random(in: 1...$0, using: &random) }
        }
        let responses = try ParsedResponse.all(in: received)
        #expect(responses.map(\.status) == Array(repeating: 200, count: count) + [403], "seed \(seed)")
        #expect(responses.dropLast().allSatisfy { $0.body == #"{"hello":"world"}"# })
        #expect(responses.last?.header("x-amzn-ErrorType") == "MissingAuthenticationTokenException")
        gateway.simulator.close(client, errno: ECONNRESET)
        try gateway.settle()
        #expect(gateway.isQuiescent)
    }

    @Test func aResetMidHeadFreesTheConnectionWithoutAnswering() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        try gateway.send("GET /prod/hello HTTP/1.1\r\nHo", to: client)
        gateway.simulator.close(client, errno: ECONNRESET)
        try gateway.settle()
        #expect(gateway.simulator.sendInFlight(client) == nil)
        #expect(gateway.isQuiescent)
    }

    @Test func aSendThatFailsClosesTheConnection() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        try gateway.send(Self.hello, to: client)
        gateway.simulator.completeSend(client, errno: EPIPE)
        try gateway.settle()
        // The receive still armed is cancelled; once it completes the slot is free.
        #expect(gateway.isQuiescent)
    }

    /// A burst larger than the buffer ring: the receive ends with ENOBUFS, the connection waits
    /// for buffers and receives again once they are back; nothing is lost.
    @Test func aDryBufferRingDelaysAReceiveAndLosesNothing() throws {
        let gateway = try Self.gateway(recvBuffers: 4, recvBufferBytes: 512)
        let client = try gateway.connect()
        let stream = String(repeating: Self.hello, count: 40)
        let bytes = Array(stream.utf8)
        var sent = 0
        var received: [UInt8] = []
        var starvedOnce = false
        while sent < bytes.count {
            let text = String(decoding: bytes[sent...], as: UTF8.self)
            let count = gateway.simulator.send(Array(text.utf8), to: client, chunk: 100)
            starvedOnce = starvedOnce || sent + count < bytes.count
            sent += count
            try gateway.settle()
            received += try gateway.drain(client)
        }
        #expect(starvedOnce)
        let responses = try ParsedResponse.all(in: received)
        #expect(responses.count == 40)
        #expect(responses.allSatisfy { $0.status == 200 })
        gateway.simulator.close(client)
        try gateway.settle()
        #expect(gateway.isQuiescent)
    }

    @Test func aHeadThatStallsGets408AfterTheHeaderTimeout() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        try gateway.send("GET /prod/hello HTTP/1.1\r\n", to: client)
        try gateway.advance(milliseconds: 750)
        #expect(gateway.simulator.sendInFlight(client) == nil)
        try gateway.advance(milliseconds: 500)
        let responses = try ParsedResponse.all(in: gateway.drain(client))
        #expect(responses.map(\.status) == [408])
        #expect(responses.first?.header("Connection") == "close")
    }

    @Test func proxiesToAnUpstreamAndPoolsItsConnection() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        for round in 0..<2 {
            try gateway.send("GET /prod/upstream HTTP/1.1\r\nHost: gateway\r\n\r\n", to: client)
            if round == 0 {
                // The first request connects; the second reuses the pooled connection.
                #expect(gateway.simulator.connecting.count == 1)
                gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
                try gateway.settle()
            } else {
                #expect(gateway.simulator.connecting.isEmpty)
            }
            let upstream = try #require(gateway.worker.connections.indices.first {
                gateway.worker.connections[$0].role == .upstream && gateway.worker.connections[$0].isOpen
            }.map { gateway.worker.connections[$0].fd })
            let request = String(decoding: try gateway.drain(upstream), as: UTF8.self)
            #expect(request.hasPrefix("GET /answer HTTP/1.1\r\n"))
            try gateway.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok", to: upstream)
            let responses = try ParsedResponse.all(in: gateway.drain(client))
            #expect(responses.map(\.status) == [200])
            #expect(responses.first?.body == "ok")
            #expect(responses.first?.header("X-Amzn-Trace-Id")?.hasPrefix("Root=1-") == true)
        }
    }

    @Test func anUpstreamThatDoesNotAnswerGets504AfterTheIntegrationTimeout() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        try gateway.send("GET /prod/upstream HTTP/1.1\r\nHost: gateway\r\n\r\n", to: client)
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
        try gateway.settle()
        try gateway.advance(milliseconds: 1_000)
        let responses = try ParsedResponse.all(in: gateway.drain(client))
        #expect(responses.map(\.status) == [504])
        #expect(responses.first?.body == #"{"message": "Endpoint request timed out"}"#)
    }

    @Test func aRefusedConnectAnswers502() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        try gateway.send("GET /prod/upstream HTTP/1.1\r\nHost: gateway\r\n\r\n", to: client)
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0, errno: ECONNREFUSED) }
        try gateway.settle()
        let responses = try ParsedResponse.all(in: gateway.drain(client))
        #expect(responses.map(\.status) == [502])
        gateway.simulator.close(client)
        try gateway.settle()
        #expect(gateway.isQuiescent)
    }

    /// A request that finds another request filling the cache entry it needs waits, parked,
    /// and resumes with the filled answer: one upstream request for both.
    @Test func aRequestWaitsParkedForAFillAndResumesWithItsAnswer() throws {
        let gateway = try Self.gateway(stage: "{cache: {capacity_mb: 8, ttl_seconds: 300}}")
        let filling = try gateway.connect()
        let waiting = try gateway.connect()
        let request = "GET /prod/upstream HTTP/1.1\r\nHost: gateway\r\n\r\n"
        try gateway.send(request, to: filling)
        try gateway.send(request, to: waiting)
        #expect(gateway.worker.freeParkedHeads.count == gateway.worker.parkedHeads.count - 1)
        #expect(gateway.simulator.connecting.count == 1)
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
        try gateway.settle()
        let upstream = gateway.worker.connections.first { $0.role == .upstream && $0.isOpen }!.fd
        _ = try gateway.drain(upstream)
        try gateway.send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfilled", to: upstream)
        #expect(try ParsedResponse.all(in: gateway.drain(filling)).map(\.body) == ["filled"])
        try gateway.advance(milliseconds: 2)
        let resumed = try ParsedResponse.all(in: gateway.drain(waiting))
        #expect(resumed.map(\.body) == ["filled"])
        #expect(resumed.first?.header("X-Cache") == nil || resumed.first?.header("Age") != nil)
        #expect(gateway.simulator.connecting.isEmpty)
        #expect(gateway.worker.freeParkedHeads.count == gateway.worker.parkedHeads.count)
    }

    /// A client that leaves while its request waits: a waiting connection does not read (its
    /// head stays in its carry slot), so its reset shows when the answer it waited for cannot
    /// be sent; its parked slot is back by then, and the connection is freed.
    @Test func aClientThatLeavesWhileParkedIsFreedWhenItsAnswerCannotGo() throws {
        let gateway = try Self.gateway(stage: "{cache: {capacity_mb: 8, ttl_seconds: 300}}")
        let filling = try gateway.connect()
        let waiting = try gateway.connect()
        let request = "GET /prod/upstream HTTP/1.1\r\nHost: gateway\r\n\r\n"
        try gateway.send(request, to: filling)
        try gateway.send(request, to: waiting)
        #expect(gateway.worker.freeParkedHeads.count == gateway.worker.parkedHeads.count - 1)
        #expect(!gateway.simulator.inFlight.contains { $0.operation.descriptor == waiting })
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
        try gateway.settle()
        let upstream = gateway.worker.connections.first { $0.role == .upstream && $0.isOpen }!.fd
        _ = try gateway.drain(upstream)
        try gateway.send("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nfilled", to: upstream)
        #expect(try ParsedResponse.all(in: gateway.drain(filling)).map(\.body) == ["filled"])
        try gateway.advance(milliseconds: 2)
        #expect(gateway.worker.freeParkedHeads.count == gateway.worker.parkedHeads.count)
        gateway.simulator.completeSend(waiting, errno: ECONNRESET)
        try gateway.settle()
        #expect(gateway.worker.openConnections == 1)
        gateway.simulator.close(filling)
        try gateway.settle()
        #expect(gateway.isQuiescent)
    }

    /// One evaluator for every value of a request: a mapping, the response and the access log
    /// see the same request id, time and client.
    @Test func mappingsAndTheAccessLogReadTheSameValues() throws {
        let definition = """
            openapi: 3.0.1
            paths:
              /mapped:
                get:
                  x-amazon-apigateway-integration:
                    type: http_proxy
                    httpMethod: GET
                    uri: "http://127.0.0.1:9/answer"
                    requestParameters:
                      integration.request.header.x-request-id: context.requestId
                      integration.request.header.x-time: context.requestTimeEpoch
                      integration.request.header.x-agent: context.identity.userAgent
                      integration.request.querystring.when: context.requestTime
                      integration.request.querystring.stage: context.stage
            """
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let format = #"$context.requestId $context.requestTimeEpoch "$context.identity.userAgent" $context.status"#
        let gateway = try Self.gateway(stage: "{access_log: {path: \(log), format: '\(format)'}}", definition: definition)
        let client = try gateway.connect()
        try gateway.send("GET /prod/mapped HTTP/1.1\r\nHost: gateway\r\nUser-Agent: a \"quoted\" agent\r\n\r\n", to: client)
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
        try gateway.settle()
        let upstream = gateway.worker.connections.first { $0.role == .upstream && $0.isOpen }!.fd
        let request = String(decoding: try gateway.drain(upstream), as: UTF8.self)
        try gateway.send("HTTP/1.1 204 No Content\r\n\r\n", to: upstream)
        let response = try #require(try ParsedResponse.all(in: gateway.drain(client)).first)
        try gateway.settle()
        let requestID = try #require(response.header("x-amzn-RequestId"))
        let time = "1796083200000"
        #expect(request.hasPrefix("GET /answer?when=01%2FDec%2F2026%3A00%3A00%3A00%20%2B0000&stage=prod HTTP/1.1\r\n"))
        #expect(request.contains("\r\nx-request-id: \(requestID)\r\n"))
        #expect(request.contains("\r\nx-time: \(time)\r\n"))
        #expect(request.contains("\r\nx-agent: a \"quoted\" agent\r\n"))
        let line = gateway.simulator.inFlight.compactMap { submission -> String? in
            guard case .append(_, let bytes) = submission.operation else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(line == ["\(requestID) \(time) \"a \\x22quoted\\x22 agent\" 204\n"])
    }

    /// A gateway answer written long after its request's head is gone (an integration timeout)
    /// still carries the header values its gateway response reads from that head.
    @Test func aLateGatewayAnswerCarriesValuesCapturedFromItsHead() throws {
        let definition = """
            openapi: 3.0.1
            x-amazon-apigateway-gateway-responses:
              INTEGRATION_TIMEOUT:
                responseParameters:
                  gatewayresponse.header.X-Origin: method.request.header.Origin
                  gatewayresponse.header.X-Pet: method.request.path.id
                  gatewayresponse.header.X-Agent: context.identity.userAgent
                  gatewayresponse.header.X-Type: context.error.responseType
                  gatewayresponse.header.X-Absent: method.request.querystring.none
            paths:
              /pets/{id}:
                get:
                  x-amazon-apigateway-integration:
                    type: http_proxy
                    httpMethod: GET
                    uri: "http://127.0.0.1:9/answer"
                    timeoutInMillis: 300
            """
        let gateway = try Self.gateway(definition: definition)
        let client = try gateway.connect()
        try gateway.send("GET /prod/pets/7 HTTP/1.1\r\nHost: g\r\nOrigin: https://a.example\r\nUser-Agent: sim\r\n\r\n",
                         to: client)
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
        try gateway.settle()
        try gateway.advance(milliseconds: 750)
        let response = try #require(try ParsedResponse.all(in: gateway.drain(client)).first)
        #expect(response.status == 504)
        #expect(response.header("X-Origin") == "https://a.example")
        #expect(response.header("X-Pet") == "7")
        #expect(response.header("X-Agent") == "sim")
        #expect(response.header("X-Type") == "INTEGRATION_TIMEOUT")
        #expect(response.header("X-Absent") == nil)
    }

    /// A request a later step refuses gives back the cache fill its lookup claimed: the next
    /// request for the same key does not wait for a fill that never comes, and no capture slot
    /// stays taken.
    @Test func aRefusedRequestGivesBackItsCacheFill() throws {
        let definition = """
            openapi: 3.0.1
            paths:
              /validated:
                get:
                  x-amazon-apigateway-integration:
                    type: http_proxy
                    httpMethod: GET
                    uri: "http://127.0.0.1:9/answer"
                    requestParameters: { "integration.request.header.Content-Length": "method.request.querystring.q" }
            """
        let gateway = try Self.gateway(stage: "{cache: {capacity_mb: 8, ttl_seconds: 300}}", definition: definition)
        let captures = gateway.worker.freeCaptures.count
        let first = try gateway.connect()
        try gateway.send("GET /prod/validated?q=1 HTTP/1.1\r\nHost: g\r\n\r\n", to: first)
        #expect(try ParsedResponse.all(in: gateway.drain(first)).map(\.status) == [500])
        #expect(gateway.worker.freeCaptures.count == captures)
        let second = try gateway.connect()
        try gateway.send("GET /prod/validated?q=1 HTTP/1.1\r\nHost: g\r\n\r\n", to: second)
        #expect(try ParsedResponse.all(in: gateway.drain(second)).map(\.status) == [500])
        #expect(gateway.worker.freeParkedHeads.count == gateway.worker.parkedHeads.count)
    }

    /// A cached answer whose upstream sent `Age` ages by the time it spends in the cache.
    @Test func anUpstreamAgeGrowsWhileTheAnswerIsCached() throws {
        let gateway = try Self.gateway(stage: "{cache: {capacity_mb: 8, ttl_seconds: 300}}")
        let client = try gateway.connect()
        let request = "GET /prod/upstream HTTP/1.1\r\nHost: gateway\r\n\r\n"
        try gateway.send(request, to: client)
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
        try gateway.settle()
        let upstream = gateway.worker.connections.first { $0.role == .upstream && $0.isOpen }!.fd
        _ = try gateway.drain(upstream)
        try gateway.send("HTTP/1.1 200 OK\r\nAge: 10\r\nContent-Length: 2\r\n\r\nok", to: upstream)
        #expect(try ParsedResponse.all(in: gateway.drain(client)).first?.header("Age") == "10")
        // Within the idle timeout (5 s), so that the same connection asks again.
        try gateway.advance(milliseconds: 3_000)
        try gateway.send(request, to: client)
        let hit = try #require(try ParsedResponse.all(in: gateway.drain(client)).first)
        #expect(hit.body == "ok")
        #expect(hit.headers.filter { $0.name.lowercased() == "age" }.map(\.value) == ["13"])
    }

    /// A head whose path has dot-segments is rewritten where it waits and parsed again, however
    /// its bytes arrive and whatever follows it.
    @Test(arguments: 1...12)
    func dotSegmentsAreResolvedWhereverTheHeadLies(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        let stream = "GET /prod/x/../hello HTTP/1.1\r\nHost: g\r\n\r\n" + Self.hello
            + "GET /prod/%2e/hello?a=1 HTTP/1.1\r\nHost: g\r\n\r\n" + "GET /prod/hello/.. HTTP/1.1\r\nHost: g\r\n\r\n"
        let bytes = Array(stream.utf8)
        var sent = 0
        var received: [UInt8] = []
        while sent < bytes.count {
            let piece = min(bytes.count - sent, Int.random(in: 1...120, using: &random))
            let text = String(decoding: bytes[sent..<(sent + piece)], as: UTF8.self)
            sent += try gateway.send(text, to: client, chunk: Int.random(in: 1...piece, using: &random))
            received += try gateway.drain(client)
        }
        let responses = try ParsedResponse.all(in: received)
        // The last resolves to /prod/, which no resource answers.
        #expect(responses.map(\.status) == [200, 200, 200, 403], "seed \(seed)")
    }
}
