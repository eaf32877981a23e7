// What the HTTP1Parsing and Routing benchmark targets share: the configuration and the requests.

import Benchmark

public enum RequestPathBenchmarks {
    /// Wall clock, throughput and malloc counts; a scaling factor of 1,000 inner iterations per
    /// measured iteration keeps the harness's own cost per measurement negligible.
    ///
    /// `mallocCountTotal` is reported per inner iteration. Its tolerance is 0 at p90: checked
    /// against the static thresholds in `Thresholds/` (all 0), any malloc in steady state is a
    /// regression (`swift package benchmark thresholds check` exits non-zero).
    public static var configuration: Benchmark.Configuration {
        Benchmark.Configuration(
            metrics: [.wallClock, .throughput, .mallocCountTotal],
            warmupIterations: 10,
            scalingFactor: .kilo,
            maxDuration: .seconds(2),
            maxIterations: 10_000,
            thresholds: [.mallocCountTotal: BenchmarkThresholds(absolute: [.p90: 0])])
    }

    /// The request head wrk sends (`wrk http://127.0.0.1:18081/bench/mock`).
    public static let wrkHead = "GET /bench/mock HTTP/1.1\r\nHost: 127.0.0.1:18081\r\n\r\n"

    /// A browser's navigation request: 12 header fields, a query, a cookie.
    public static let browserHead = "GET /bench/pets/42?view=full&lang=en HTTP/1.1\r\n"
        + "Host: api.example.com\r\n"
        + "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
        + "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
        + "Accept-Language: en-US,en;q=0.5\r\n"
        + "Accept-Encoding: gzip, deflate, br, zstd\r\n"
        + "Connection: keep-alive\r\n"
        + "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n"
        + "Upgrade-Insecure-Requests: 1\r\n"
        + "Sec-Fetch-Dest: document\r\n"
        + "Sec-Fetch-Mode: navigate\r\n"
        + "Sec-Fetch-Site: none\r\n"
        + "Priority: u=0, i\r\n"
        + "\r\n"
}
