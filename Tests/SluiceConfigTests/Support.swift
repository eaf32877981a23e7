import Foundation
import SluiceConfig
import SluiceHTTP1
import SluiceRouter

/// The CPUs tests pretend the process may run on, so worker plans do not depend on the machine.
let testCPUs = [0, 1, 2, 3]

/// The resolver tests use, so that loading never depends on the machine's DNS: names under
/// `.invalid` (RFC 6761) do not resolve, `dual.test` has an IPv6 and an IPv4 address, every other
/// name is 192.0.2.1 (TEST-NET-1).
let testResolver = HostResolver { name, port in
    if name.hasSuffix(".invalid") { return .failure(HostResolutionError("Name or service not known")) }
    if name == "dual.test" {
        return .success([ResolvedAddress(host: "2001:db8::1", port: port, isIPv6: true),
                         ResolvedAddress(host: "192.0.2.2", port: port, isIPv6: false)])
    }
    return .success([ResolvedAddress(host: "192.0.2.1", port: port, isIPv6: false)])
}

/// The disk as the loader reads it, through Foundation (the executable hands in SluiceURing's
/// system calls instead).
let testDisk = LoaderEnvironment(readFile: { path in
    guard let data = FileManager.default.contents(atPath: path) else {
        return .failure(FileReadError("No such file or directory"))
    }
    return .success(Array(data))
}, allowedCPUs: testCPUs, resolver: testResolver)

/// Loads `config` as `sluice.yaml` with the given definitions beside it.
func loadConfig(_ config: String, definitions: [String: String] = [:], cpus: [Int] = testCPUs,
                resolver: HostResolver = testResolver) -> LoadResult {
    var files = ["sluice.yaml": config]
    for (name, text) in definitions { files[name] = text }
    return ConfigLoader.load(path: "sluice.yaml", files: files, allowedCPUs: cpus, resolver: resolver)
}

/// A sluice.yaml with one API named `api`, stage `prod`, whose definition is `api.yaml`.
func loadDefinition(_ definition: String, name: String = "api.yaml") -> LoadResult {
    loadConfig("""
        apis:
          - name: api
            definition: \(name)
            stages:
              prod: {}
        """, definitions: [name: definition])
}

extension LoadResult {
    /// Every diagnostic as `check` prints it.
    var lines: [String] { diagnostics.map(\.description) }
}

/// What a request to the deployment finds.
struct Routed {
    var operation: SluiceConfig.Operation
    var stage: Stage
    var parameters: [String]
}

func route(_ deployment: Deployment, _ method: HTTPMethod, _ path: String, host: String = "") -> Routed? {
    let pathBytes = Array(path.utf8)
    let hostBytes = Array(host.utf8)
    var match = RouteMatch()
    guard deployment.routes.lookup(host: hostBytes.span, path: pathBytes.span, method: method, into: &match) else {
        return nil
    }
    return Routed(operation: deployment.operations[match.operation], stage: deployment.stages[match.stage],
                  parameters: match.pathParameters.map { String(decoding: pathBytes[$0], as: UTF8.self) })
}

extension Integration {
    var mockResponse: MockResponse? {
        if case .mock(let mock) = self { return mock.response }
        return nil
    }

    var unsupportedReason: String? {
        if case .unsupported(let reason) = self { return reason }
        return nil
    }

    var http: HTTPIntegration? {
        if case .http(let http) = self { return http }
        return nil
    }

    var lambda: LambdaProxyIntegration? {
        if case .lambdaProxy(let lambda) = self { return lambda }
        return nil
    }
}

extension MockResponse {
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// The package's root folder, found from this file's path.
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// `../shared/examples/aws` beside the package, or under `$SLUICE_SHARED` (tools/test sets it for
/// a clone that is not beside `shared`).
let awsExamplesFolder: URL = (ProcessInfo.processInfo.environment["SLUICE_SHARED"].map { URL(fileURLWithPath: $0) }
    ?? packageRoot.deletingLastPathComponent().appendingPathComponent("shared")).appendingPathComponent("examples/aws")
