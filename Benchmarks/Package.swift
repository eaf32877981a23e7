// swift-tools-version:6.1
import PackageDescription

// Micro benchmarks of the request path (package-benchmark, with malloc counts). A package of its
// own, so that the root package does not depend on the benchmark harness:
//   cd Benchmarks && swift package benchmark
// See README.md here and ../docs/benchmarks.md.
let package = Package(
    name: "SluiceBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sluice", path: ".."),
        // package-benchmark, under the repository's current name (1.38 warns about the legacy
        // `package-benchmark` identifier). Only the malloc interposer trait: it counts every malloc
        // of the benchmark process, which is what the zero-allocation thresholds check. Leaving the
        // default `RuntimeInterposer` trait off (ARC counts) also keeps its extra dependency,
        // swift-runtime-interposer, out of the resolution.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0",
                 traits: ["MallocInterposer"]),
    ],
    targets: [
        // The configuration (metrics, malloc thresholds) and request heads both targets use.
        .target(
            name: "RequestPathFixtures",
            dependencies: [.product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/RequestPathFixtures",
            swiftSettings: [.swiftLanguageMode(.v6)]),
        // RequestHeadParser on a wrk request head and on a browser-like head.
        .executableTarget(
            name: "HTTP1Parsing",
            dependencies: [
                "RequestPathFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SluiceHTTP1", package: "sluice"),
            ],
            path: "Benchmarks/HTTP1Parsing",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
        // RouteTable lookups, and parse + route together (a request's path through a worker up to
        // the pipeline's first feature step).
        .executableTarget(
            name: "Routing",
            dependencies: [
                "RequestPathFixtures",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "SluiceHTTP1", package: "sluice"),
                .product(name: "SluiceRouter", package: "sluice"),
            ],
            path: "Benchmarks/Routing",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
