// swift-tools-version:6.1
import PackageDescription

// The folder tree is the architecture (see ../shared/DESIGN.md §7). Unsafe code and C live only
// in CSluiceLinux, CSluiceTLS, CSluiceCrypto, CSluiceZlib, SluiceURing, SluiceSharedMemory, SluiceTLS, SluiceCrypto
// and SluiceCompression; every other module works with safe views.
let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceHTTP1", targets: ["SluiceHTTP1"]),
        .library(name: "SluiceRouter", targets: ["SluiceRouter"]),
        .library(name: "SluiceConfig", targets: ["SluiceConfig"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.2.0"),
    ],
    targets: [
        // The executable: argument parsing, `serve` and `check`. Links jemalloc as the allocator.
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceSupervisor", "SluiceConfig", "SluiceURing", "SluiceTLS", "SluiceAuth", "SluiceTemplates",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swift6,
            linkerSettings: [.linkedLibrary("jemalloc")],
            plugins: ["BuildInfo"]),
        // Writes the commit a build is made from into the executable (`sluice --version`).
        .plugin(name: "BuildInfo", capability: .buildTool()),

        // Processes: fork, pin, respawn, drain, admin endpoints.
        .target(name: "SluiceSupervisor",
                dependencies: ["SluiceWorker", "SluiceCoordinator", "SluiceConfig", "SluiceMetrics",
                               "SluiceHTTP1", "SluiceURing", "SluiceSharedMemory", "SluiceThrottle", "SluiceCache",
                               "SluiceTLS", "SluiceAuth", "SluiceCrypto"],
                swiftSettings: swift6),
        // The per-core io_uring loop and the request pipeline.
        .target(name: "SluiceWorker",
                dependencies: ["SluiceURing", "SluiceSharedMemory", "SluiceHTTP1", "SluiceRouter",
                               "SluiceConfig", "SluiceMetrics", "SluiceLambda", "SluiceThrottle", "SluiceCache",
                               "SluicePipeline", "SluicePolicy", "SluiceCORS", "SluiceTLS", "SluiceCrypto", "SluiceAuth", "SluiceJSON",
                               "SluiceTemplates", "SluiceSchema", "SluiceCompression"],
                swiftSettings: swift6),
        // Quotas (later issues): period roll-over, journal. Here: a process that starts and stops.
        .target(name: "SluiceCoordinator",
                dependencies: ["SluiceURing", "SluiceSharedMemory", "SluiceConfig", "SluiceThrottle", "SluiceHTTP1",
                               "SluiceAuth"],
                swiftSettings: swift6),

        // Pure modules: no syscalls, no unsafe code.
        .target(name: "SluiceHTTP1", swiftSettings: swift6),
        .target(name: "SluiceRouter", dependencies: ["SluiceHTTP1"], swiftSettings: swift6),
        .target(name: "SluiceConfig",
                dependencies: ["SluiceRouter", "SluiceHTTP1", "SluiceTemplates", "SluiceSchema",
                               .product(name: "Yams", package: "Yams")],
                swiftSettings: swift6),
        .target(name: "SluiceMetrics", dependencies: ["SluiceSharedMemory"], swiftSettings: swift6),
        // The pipeline's vocabulary: its steps in API Gateway's order, the plan of steps compiled per
        // operation, and the gateway's answers.
        .target(name: "SluicePipeline", dependencies: ["SluiceConfig", "SluiceHTTP1"], swiftSettings: swift6),
        // Resource policies (x-amazon-apigateway-policy): source IP and resource ARN, AWS's evaluation.
        .target(name: "SluicePolicy", dependencies: ["SluiceConfig", "SluiceJSON"], swiftSettings: swift6),
        // CORS for HTTP APIs (x-amazon-apigateway-cors): preflights and the headers of every answer.
        .target(name: "SluiceCORS", dependencies: ["SluiceConfig", "SluiceHTTP1"], swiftSettings: swift6),
        // AWS_PROXY: API Gateway's Lambda proxy event (1.0 and 2.0) and the function's answer.
        .target(name: "SluiceLambda", dependencies: ["SluiceHTTP1", "SluiceJSON"], swiftSettings: swift6),
        // Mapping templates: Apache Velocity 1.7 as API Gateway runs it, compiled at load.
        .target(name: "SluiceTemplates", dependencies: ["SluiceJSON"], swiftSettings: swift6),
        // A strict JSON scanner over borrowed bytes: function answers, token claims, key sets.
        .target(name: "SluiceJSON", swiftSettings: swift6),
        // Request body models: JSON Schema draft 4 compiled at load, validated as API Gateway does.
        .target(name: "SluiceSchema", dependencies: ["SluiceJSON"], swiftSettings: swift6),
        // Authorization: SigV4 (IAM), JWTs against an issuer's keys, authorizer policies.
        .target(name: "SluiceAuth", dependencies: ["SluiceHTTP1", "SluiceJSON", "SluiceCrypto"],
                swiftSettings: swift6),
        // The stage response cache: index and entries in shared memory, one cache for every worker.
        .target(name: "SluiceCache", dependencies: ["SluiceSharedMemory", "SluiceHTTP1"],
                swiftSettings: swift6),
        // Throttles (GCRA buckets) and quota counters, exact across workers in shared memory.
        .target(name: "SluiceThrottle", dependencies: ["SluiceSharedMemory", "SluiceHTTP1", "SluiceConfig", "SluiceMetrics"],
                swiftSettings: swift6),

        // The only modules with unsafe code (and SluiceTLS, below).
        .target(name: "SluiceURing", dependencies: ["CSluiceLinux"], swiftSettings: swift6),
        .target(name: "SluiceSharedMemory",
                dependencies: ["CSluiceLinux", .product(name: "Atomics", package: "swift-atomics")],
                swiftSettings: swift6),
        .target(name: "CSluiceLinux", linkerSettings: [.linkedLibrary("uring")]),
        // libcrypto: digests and MACs that allocate nothing, public keys for token signatures.
        .target(name: "SluiceCrypto", dependencies: ["CSluiceCrypto"], swiftSettings: swift6),
        .target(name: "CSluiceCrypto", linkerSettings: [.linkedLibrary("crypto")]),
        // TLS: OpenSSL's handshakes and records over the worker's buffers, certificates for `check`.
        .target(name: "SluiceTLS", dependencies: ["CSluiceTLS", "SluiceURing", "SluiceConfig", "SluiceSharedMemory"],
                swiftSettings: swift6),
        .target(name: "CSluiceTLS", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // zlib: gzip and deflate bodies in one call each, on streams set up once per worker.
        .target(name: "SluiceCompression", dependencies: ["CSluiceZlib", "SluiceHTTP1"], swiftSettings: swift6),
        .target(name: "CSluiceZlib", linkerSettings: [.linkedLibrary("z")]),

        .testTarget(name: "SluiceTemplatesTests", dependencies: ["SluiceTemplates"], swiftSettings: swift6),
        .testTarget(name: "SluiceCompressionTests", dependencies: ["SluiceCompression", "SluiceHTTP1"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceHTTP1Tests", dependencies: ["SluiceHTTP1"], swiftSettings: swift6),
        .testTarget(name: "SluiceRouterTests", dependencies: ["SluiceRouter", "SluiceHTTP1"], swiftSettings: swift6),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig", "SluiceRouter", "SluiceJSON"], swiftSettings: swift6),
        .testTarget(name: "SluiceSharedMemoryTests", dependencies: ["SluiceSharedMemory", "SluiceMetrics", "SluiceURing"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceLambdaTests", dependencies: ["SluiceLambda", "SluiceHTTP1"], swiftSettings: swift6),
        .testTarget(name: "SluiceThrottleTests", dependencies: ["SluiceThrottle", "SluiceSharedMemory", "SluiceConfig", "SluiceURing",
                                                                "SluiceCrypto"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceCacheTests", dependencies: ["SluiceCache", "SluiceSharedMemory", "SluiceURing"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceCoordinatorTests", dependencies: ["SluiceCoordinator", "SluiceThrottle", "SluiceConfig"],
                    swiftSettings: swift6),
        .testTarget(name: "SluicePolicyTests", dependencies: ["SluicePolicy", "SluiceConfig", "SluiceJSON"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceURingTests", dependencies: ["SluiceURing"], swiftSettings: swift6),
        .testTarget(name: "SluiceSupervisorTests", dependencies: ["SluiceSupervisor", "SluiceConfig"], swiftSettings: swift6),
        .testTarget(name: "SluiceTLSTests", dependencies: ["SluiceTLS", "SluiceURing", "SluiceConfig"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceAuthTests", dependencies: ["SluiceAuth", "SluiceCrypto", "SluiceJSON", "SluiceHTTP1"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceSchemaTests", dependencies: ["SluiceSchema", "SluiceJSON"], exclude: ["Fixtures"],
                    swiftSettings: swift6),
        .testTarget(name: "SluiceCORSTests", dependencies: ["SluiceCORS", "SluiceConfig"], swiftSettings: swift6),
        .testTarget(name: "SluicePipelineTests", dependencies: ["SluicePipeline", "SluiceConfig"], swiftSettings: swift6),
        .testTarget(name: "SluiceWorkerTests",
                    dependencies: ["SluiceWorker", "SluiceHTTP1", "SluiceConfig", "SluiceURing", "SluiceMetrics",
                                   "SluiceThrottle", "SluiceCache", "SluiceTemplates", "SluiceCompression"],
                    swiftSettings: swift6),
    ]
)
