// Micro benchmarks of SluiceRouter.RouteTable: the lookup every request makes after its head is
// parsed, and the two steps together.
//
// The table is built once, before any measurement, from routes shaped like an API Gateway export
// (literal resources, `{param}`, `{proxy+}`, several methods) under the stage prefix `bench`, as
// the configuration loader mounts a stage's resources. Each iteration is one lookup into a reused
// `RouteMatch`. The threshold is zero mallocs per iteration (README.md).

import Benchmark
import RequestPathFixtures
import SluiceHTTP1
import SluiceRouter

let benchmarks: @Sendable () -> Void = {
    let configuration = RequestPathBenchmarks.configuration

    let table = RoutingFixture.makeTable()

    // Benchmark names avoid spaces and `/`, which package-benchmark changes in threshold file names.
    let lookups: [(name: String, path: String, matches: Bool)] = [
        ("literal", "/bench/mock", true),                                  // GET /mock
        ("param", "/bench/pets/42", true),                                 // GET /pets/{petId}
        ("twoParams", "/bench/users/u-7/orders/1234", true),               // GET /users/{userId}/orders/{orderId}
        ("greedyProxy", "/bench/files/2024/reports/q3/summary.pdf", true), // ANY /files/{proxy+}
        ("miss", "/bench/nowhere", false),                                 // 403 Missing Authentication Token
    ]
    for lookup in lookups {
        let fixture = LookupFixture(table: table, host: "127.0.0.1:18081", path: lookup.path,
                                    expectMatch: lookup.matches)
        Benchmark("Route.\(lookup.name)", configuration: configuration) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(fixture.lookup())
            }
        }
    }

    let wrkRequest = RequestFixture(table: table, head: RequestPathBenchmarks.wrkHead)
    Benchmark("ParseAndRoute.wrkGET", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(wrkRequest.parseAndRoute())
        }
    }

    let browserRequest = RequestFixture(table: table, head: RequestPathBenchmarks.browserHead)
    Benchmark("ParseAndRoute.browserGET", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(browserRequest.parseAndRoute())
        }
    }
}

enum RoutingFixture {
    /// A small API: the shapes of route the router distinguishes, on two stages of the default
    /// endpoint (`bench` and `prod`), so that the stage segment itself is a choice.
    static func makeTable() -> RouteTable {
        let routes: [(RouteMethod, String)] = [
            (.exact(.get), "/mock"),
            (.exact(.get), "/"),
            (.exact(.get), "/pets"),
            (.exact(.post), "/pets"),
            (.exact(.get), "/pets/{petId}"),
            (.exact(.delete), "/pets/{petId}"),
            (.exact(.get), "/pets/{petId}/photos"),
            (.exact(.get), "/users/{userId}"),
            (.exact(.get), "/users/{userId}/orders/{orderId}"),
            (.exact(.get), "/orders"),
            (.exact(.get), "/health"),
            (.any, "/files/{proxy+}"),
        ]
        var builder = RouteTableBuilder()
        for (stageIndex, stage) in ["bench", "prod"].enumerated() {
            for (operation, route) in routes.enumerated() {
                let pattern: RoutePattern
                do {
                    pattern = try RoutePattern(parsing: route.1)
                } catch {
                    preconditionFailure("bad benchmark route \(route.1): \(error)")
                }
                let conflict = builder.add(host: nil, prefix: [stage], pattern: pattern, method: route.0,
                                           target: RouteTarget(operation: operation, stage: stageIndex))
                precondition(conflict == nil, "benchmark routes conflict: \(route.1)")
            }
        }
        return builder.build()
    }
}

/// A lookup of one path into a reused `RouteMatch`, as a worker makes it.
final class LookupFixture {
    let table: RouteTable
    let host: [UInt8]
    let path: [UInt8]
    var match: RouteMatch

    init(table: RouteTable, host: String, path: String, expectMatch: Bool) {
        self.table = table
        self.host = Array(host.utf8)
        self.path = Array(path.utf8)
        match = RouteMatch(parametersCapacity: max(16, table.parametersMax))
        precondition(lookup() == expectMatch, "lookup of \(path) did not give the expected result")
    }

    @inline(never)
    func lookup() -> Bool {
        // Local copies (a retain, no allocation): a span cannot outlive the access to a class's
        // stored property it came from.
        let host = self.host
        let path = self.path
        return table.lookup(host: host.span, path: path.span, method: .get, into: &match)
    }
}

/// Parse then route one request head: the work a worker does before its first feature step.
final class RequestFixture {
    let table: RouteTable
    let bytes: [UInt8]
    var parser: RequestHeadParser
    var head: RequestHead
    var match: RouteMatch

    init(table: RouteTable, head text: String) {
        self.table = table
        bytes = Array(text.utf8)
        parser = RequestHeadParser(limits: RequestLimits())
        head = RequestHead(headersCapacity: RequestLimits().headersMax)
        match = RouteMatch(parametersCapacity: max(16, table.parametersMax))
        precondition(parseAndRoute() >= 0, "the benchmark's request does not parse and route: \(text.debugDescription)")
    }

    /// Returns the matched operation, or -1 when the head did not parse or nothing matched.
    @inline(never)
    func parseAndRoute() -> Int {
        let bytes = self.bytes  // A local copy (a retain, no allocation) that the span can borrow.
        let span = bytes.span
        parser.reset()
        guard case .complete = parser.parse(span, into: &head) else { return -1 }
        guard table.lookup(host: span.extracting(head.host), path: span.extracting(head.path), method: head.method,
                           into: &match) else { return -1 }
        return match.operation
    }
}
