// Micro benchmarks of SluiceHTTP1.RequestHeadParser: the first step of every request.
//
// What a worker does per request is measured, and nothing else: the parser and the `RequestHead`
// are created once (a worker keeps one per connection), and each iteration resets the parser and
// parses a complete head that arrived in one read. DESIGN.md §5 says the steady-state request path
// allocates nothing, so every benchmark here has a threshold of zero mallocs per iteration
// (README.md explains how it is checked).

import Benchmark
import Glibc
import RequestPathFixtures
import SluiceHTTP1

let benchmarks: @Sendable () -> Void = {
    let configuration = RequestPathBenchmarks.configuration

    // Proof that the malloc counter counts: exactly one malloc per iteration. If this reads 0,
    // the interposer is not active and the zeros of the other benchmarks mean nothing.
    Benchmark("MallocCounterProbe", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            let pointer = malloc(64)
            blackHole(pointer)
            free(pointer)
        }
    }

    // The reference: an empty loop. Whatever the harness itself allocates shows up here.
    // Benchmark names avoid spaces and `/`, which package-benchmark changes in threshold file names.
    Benchmark("EmptyLoop", configuration: configuration) { benchmark in
        for iteration in benchmark.scaledIterations {
            blackHole(iteration)
        }
    }

    // `GET /bench/mock` with only a Host field: what wrk sends in the macro benchmark.
    let wrkFixture = ParseFixture(RequestPathBenchmarks.wrkHead)
    Benchmark("ParseHead.wrkGET", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(wrkFixture.parse())
        }
    }

    // A browser navigation: 12 fields, a query and a cookie.
    let browserFixture = ParseFixture(RequestPathBenchmarks.browserHead)
    Benchmark("ParseHead.browserGET", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(browserFixture.parse())
        }
    }
}

/// One parser and one reused `RequestHead`, as a worker's connection holds them.
final class ParseFixture {
    let bytes: [UInt8]
    var parser: RequestHeadParser
    var head: RequestHead

    init(_ text: String) {
        bytes = Array(text.utf8)
        parser = RequestHeadParser(limits: RequestLimits())
        // The capacity a worker reserves: `headersMax`, so that parsing never grows the array.
        head = RequestHead(headersCapacity: RequestLimits().headersMax)
        // Measure the success path only: a head the parser refuses would measure the error path.
        let result = parse()
        precondition(result == bytes.count, "the benchmark's request head does not parse: \(text.debugDescription)")
    }

    /// Parses the whole head; returns its length (or -1 if it did not parse), for `blackHole`.
    @inline(never)
    func parse() -> Int {
        // A local copy (a retain, no allocation): a span cannot outlive the access to a class's
        // stored property it came from.
        let bytes = self.bytes
        parser.reset()
        switch parser.parse(bytes.span, into: &head) {
        case .complete: return head.headLength
        case .incomplete, .failed: return -1
        }
    }
}
