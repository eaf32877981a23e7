import SluiceHTTP1
@testable import SluiceWorker
import Testing

/// Every reserved header name, both ways through a worker (the simulated ring): what an upstream
/// answers with reaches the client remapped or not at all, and what a client sends or a mapping
/// sets reaches the upstream as API Gateway lets it.
@Suite struct ReservedHeaderPathTests {
    static let remapped = ["Authorization", "Connection", "Content-Length", "Content-MD5", "Date", "Expect", "Host",
                           "Max-Forwards", "Proxy-Authenticate", "Server", "Trailer", "Upgrade", "User-Agent",
                           "WWW-Authenticate", "x-amzn-RequestId"]
    static let dropped = ["Transfer-Encoding", "Keep-Alive", "Proxy-Connection", "TE"]

    static let definition = """
        openapi: 3.0.1
        paths:
          /relay:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                uri: "http://127.0.0.1:9/relay"
          /length:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                uri: "http://127.0.0.1:9/length"
                requestParameters:
                  integration.request.header.CONTENT-LENGTH: "'5'"
          /coding:
            get:
              x-amazon-apigateway-integration:
                type: http
                httpMethod: GET
                uri: "http://127.0.0.1:9/coding"
                requestParameters:
                  integration.request.header.transfer-encoding: "'chunked'"
          /host:
            get:
              x-amazon-apigateway-integration:
                type: http_proxy
                httpMethod: GET
                uri: "http://127.0.0.1:9/host"
                requestParameters:
                  integration.request.header.HOST: method.request.header.X-Tenant
          /mock:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {"application/json": '{"statusCode": 200}'}
                responses:
                  default:
                    statusCode: "200"
                    responseParameters: {\(mapped)}
                    responseTemplates: {"application/json": 'ok'}
        """

    /// A MOCK's `responseParameters` setting every reserved name to `set-<Name>`.
    static var mapped: String {
        (remapped + dropped).map { #""method.response.header.\#($0)": "'set-\#($0)'""# }.joined(separator: ", ")
    }

    static func gateway() throws -> SimulatedWorker {
        try SimulatedWorkerTests.gateway(definition: definition)
    }

    /// Sends `request`, connects the upstream, and returns what the upstream received.
    static func forward(_ request: String, through gateway: SimulatedWorker, client: Int32) throws -> (Int32, String) {
        try gateway.send(request, to: client)
        gateway.simulator.connecting.forEach { gateway.simulator.completeConnect($0) }
        try gateway.settle()
        let upstream = try #require(gateway.worker.connections.first { $0.role == .upstream && $0.isOpen }).fd
        return (upstream, String(decoding: try gateway.drain(upstream), as: UTF8.self))
    }

    static func headerNames(_ request: String) -> [String] {
        request.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n").dropFirst()
            .map { String($0[..<$0.firstIndex(of: ":")!]).lowercased() }
    }

    /// Every remapped name came back as `x-amzn-Remapped-<Name>: value(Name)`, no dropped name
    /// came back at all, and the gateway's own framing and identity are there once each.
    static func expectRemappedOrDropped(_ response: ParsedResponse, value: (String) -> String) {
        let names = response.headers.map { $0.name.lowercased() }
        for name in remapped {
            #expect(response.header("x-amzn-Remapped-\(name)") == value(name), "\(name)")
        }
        for name in dropped {
            #expect(!names.contains(name.lowercased()) && !names.contains("x-amzn-remapped-\(name.lowercased())"),
                    "\(name)")
        }
        for name in ["content-length", "date", "x-amzn-requestid"] {
            #expect(names.filter { $0 == name }.count == 1, "\(name)")
        }
    }

    @Test func everyReservedNameAnUpstreamAnswersIsRemappedOrDropped() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        let (upstream, _) = try Self.forward("GET /prod/relay HTTP/1.1\r\nHost: g\r\n\r\n", through: gateway,
                                             client: client)
        var answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Own: kept\r\n"
        for name in Self.remapped where name != "Content-Length" { answer += "\(name): up-\(name)\r\n" }
        for name in Self.dropped where name != "Transfer-Encoding" { answer += "\(name): up-\(name)\r\n" }
        try gateway.send(answer + "\r\nok", to: upstream)
        let response = try #require(try ParsedResponse.all(in: gateway.drain(client)).first)
        #expect(response.status == 200 && response.body == "ok")
        #expect(response.header("X-Own") == "kept")
        Self.expectRemappedOrDropped(response) { $0 == "Content-Length" ? "2" : "up-\($0)" }
        // None of the upstream's reserved names as it came.
        let names = response.headers.map { $0.name.lowercased() }
        for name in Self.remapped where !["Content-Length", "Date", "x-amzn-RequestId"].contains(name) {
            #expect(!names.contains(name.lowercased()), "\(name)")
        }
        #expect(response.header("x-amzn-RequestId") != "up-x-amzn-RequestId")
    }

    @Test func everyReservedNameAMappingSetsIsRemappedOrDropped() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        try gateway.send("GET /prod/mock HTTP/1.1\r\nHost: g\r\n\r\n", to: client)
        let response = try #require(try ParsedResponse.all(in: gateway.drain(client)).first)
        #expect(response.status == 200 && response.body == "ok")
        Self.expectRemappedOrDropped(response) { "set-\($0)" }
        #expect(response.header("Content-Length") == "2")
    }

    @Test func mappingAFramingHeaderAnswers500WithoutAskingTheUpstream() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        for path in ["/prod/length", "/prod/coding"] {
            try gateway.send("GET \(path) HTTP/1.1\r\nHost: g\r\n\r\n", to: client)
            try gateway.settle()
            #expect(gateway.simulator.connecting.isEmpty, "\(path)")
            let response = try #require(try ParsedResponse.all(in: gateway.drain(client)).first)
            #expect(response.status == 500, "\(path)")
            #expect(response.body == #"{"message": "Internal server error"}"#)
            #expect(response.header("x-amzn-ErrorType") == "InternalServerErrorException")
        }
    }

    @Test func theUpstreamGetsOneHostTheMappedOneWhenItsSourceIsThere() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        let (upstream, mapped) = try Self.forward(
            "GET /prod/host HTTP/1.1\r\nHost: g\r\nX-Tenant: tenant-a.internal\r\n\r\n", through: gateway, client: client)
        #expect(Self.headerNames(mapped).filter { $0 == "host" }.count == 1)
        #expect(mapped.contains("\r\nHOST: tenant-a.internal\r\n"))
        try gateway.send("HTTP/1.1 204 No Content\r\n\r\n", to: upstream)
        _ = try gateway.drain(client)
        try gateway.send("GET /prod/host HTTP/1.1\r\nHost: g\r\n\r\n", to: client)
        try gateway.settle()
        let unmapped = String(decoding: try gateway.drain(upstream), as: UTF8.self)
        #expect(Self.headerNames(unmapped).filter { $0 == "host" }.count == 1)
        #expect(unmapped.contains("\r\nHost: 127.0.0.1:9\r\n"))
    }

    @Test func theClientsReservedNamesStopAtTheGateway() throws {
        let gateway = try Self.gateway()
        let client = try gateway.connect()
        let stopped = ["Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Upgrade", "Content-MD5", "Max-Forwards",
                       "Server", "WWW-Authenticate", "Content-Encoding", "Expect", "Content_Length",
                       "Transfer_Encoding", "X-Listed"]
        var request = "GET /prod/relay HTTP/1.1\r\nHost: g\r\nConnection: keep-alive, X-Listed\r\n"
        for name in stopped { request += "\(name): \(name == "Expect" ? "100-continue" : "client")\r\n" }
        request += "Authorization: Bearer c\r\nUser-Agent: client/1\r\nDate: client-date\r\nProxy-Authenticate: p\r\n"
        let (_, forwarded) = try Self.forward(request + "\r\n", through: gateway, client: client)
        let names = Self.headerNames(forwarded)
        for name in stopped + ["Connection"] {
            #expect(!names.contains(name.lowercased()), "\(name)")
        }
        // End-to-end fields pass as they came; the gateway frames the request and names itself.
        for line in ["Authorization: Bearer c", "User-Agent: client/1", "Date: client-date", "Proxy-Authenticate: p"] {
            #expect(forwarded.contains("\r\n\(line)\r\n"), "\(line)")
        }
        #expect(names.filter { $0 == "host" }.count == 1)
        #expect(names.filter { $0 == "content-length" }.count <= 1)
        #expect(forwarded.contains("\r\nX-Amzn-Apigateway-Api-Id: simulated\r\n"))
    }
}
