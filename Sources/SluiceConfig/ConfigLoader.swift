import SluiceHTTP1
import SluiceRouter
import Yams

/// The outcome of loading a configuration.
public struct LoadResult: Sendable {
    /// The deployment, or nil when any diagnostic is an error.
    public var deployment: Deployment?
    /// Errors and warnings, in file order (sluice.yaml first, then each definition as the `apis`
    /// list names it), then line order.
    public var diagnostics: [Diagnostic]
    /// Every input file read (sluice.yaml and the definitions it names), path and text: what
    /// the deployment id is made from, and what the deployment history keeps of it.
    public var inputs: [(path: String, text: String)] = []

    public init(deployment: Deployment?, diagnostics: [Diagnostic]) {
        self.deployment = deployment
        self.diagnostics = diagnostics
    }

    public var errors: [Diagnostic] { diagnostics.filter { $0.severity == .error } }
    public var warnings: [Diagnostic] { diagnostics.filter { $0.severity == .warning } }
}

/// Loads sluice.yaml and the API definitions it names into a validated `Deployment`.
///
/// Loading never stops at the first problem: it reports everything it can find, so that one run of
/// `sluice check` lists every line to fix.
public enum ConfigLoader {
    /// Loads sluice.yaml at `path` and every API definition it names (relative to its folder),
    /// reading files, CPUs and host names through `environment`.
    /// - Parameter overrides: what the admin endpoints changed on stages (rollbacks, canaries);
    ///   one naming a stage the configuration no longer has is dropped with a warning.
    public static func load(path: String, environment: LoaderEnvironment, overrides: [StageOverride] = []) -> LoadResult {
        let loader = Loader(environment: environment)
        loader.overrides = overrides
        return loader.load(path: path)
    }

    /// The same from in-memory files (used for the built-in demo and tests): `files` maps path →
    /// contents; a definition's path is its `definition` joined to the folder of `path`.
    ///
    /// - Parameters:
    ///   - allowedCPUs: the CPUs workers may be pinned to.
    ///   - resolver: looks up upstream host names (integration URIs, `lambda_functions`). `.skip`
    ///     validates without looking anything up; tests pass a fixed table.
    public static func load(path: String, files: [String: String], allowedCPUs: [Int],
                            resolver: HostResolver) -> LoadResult {
        let environment = LoaderEnvironment(readFile: { path in
            guard let text = files[path] else { return .failure(FileReadError("no such file")) }
            return .success(Array(text.utf8))
        }, allowedCPUs: allowedCPUs, resolver: resolver)
        return load(path: path, environment: environment)
    }

    /// The built-in demo that `sluice serve` with no `-c` runs: one API, stage `demo`, MOCK routes
    /// under `http://HOST:8080/demo/...`.
    public static func loadDemo(allowedCPUs: [Int], resolver: HostResolver) -> LoadResult {
        load(path: DemoConfiguration.configPath, files: DemoConfiguration.files, allowedCPUs: allowedCPUs,
             resolver: resolver)
    }
}

/// What loading a configuration needs of the machine, handed in by the executable (whose
/// SluiceURing makes the system calls): this module makes none. Tests hand in fixed answers.
public struct LoaderEnvironment: Sendable {
    /// A file's bytes, or why it cannot be read.
    public var readFile: @Sendable (_ path: String) -> Result<[UInt8], FileReadError>
    /// The CPUs workers may be pinned to.
    public var allowedCPUs: [Int]
    /// Looks up upstream host names.
    public var resolver: HostResolver
    /// Parses a PEM certificate chain and its private key (SluiceTLS's OpenSSL, handed in by the
    /// executable): whether they load and match, and when the leaf expires.
    public var inspectCertificate: @Sendable (_ chainPEM: [UInt8], _ keyPEM: [UInt8]) -> Result<CertificateSummary, FileReadError>
    /// Parses a mutual-TLS truststore (PEM CA certificates): how many it holds.
    public var inspectTruststore: @Sendable (_ pem: [UInt8]) -> Result<Int, FileReadError>
    /// Parses a JWKS (SluiceAuth, handed in by the executable): how many keys it can verify with.
    public var inspectKeySet: @Sendable (_ json: [UInt8]) -> Result<Int, FileReadError> = { _ in
        .failure(FileReadError("key sets cannot be checked here"))
    }

    public init(readFile: @escaping @Sendable (_ path: String) -> Result<[UInt8], FileReadError>,
                allowedCPUs: [Int], resolver: HostResolver,
                inspectCertificate: @escaping @Sendable (_ chainPEM: [UInt8], _ keyPEM: [UInt8])
                    -> Result<CertificateSummary, FileReadError> = LoaderEnvironment.cannotInspect,
                inspectTruststore: @escaping @Sendable (_ pem: [UInt8]) -> Result<Int, FileReadError> = { _ in
                    .failure(FileReadError("truststores cannot be checked here (no TLS library)"))
                }) {
        self.readFile = readFile
        self.allowedCPUs = allowedCPUs
        self.resolver = resolver
        self.inspectCertificate = inspectCertificate
        self.inspectTruststore = inspectTruststore
    }

    /// Without an inspector no certificate is accepted: a TLS listener is only configured with
    /// a certificate that was checked.
    public static let cannotInspect: @Sendable ([UInt8], [UInt8]) -> Result<CertificateSummary, FileReadError> = { _, _ in
        .failure(FileReadError("certificates cannot be checked here (no TLS library)"))
    }

    /// Configuration files are small; anything bigger than this is a mistake (a log, a binary).
    public static let fileBytesMax = 64 << 20

    /// The file's text, or a message saying why it cannot be read.
    func readText(_ path: String) -> Result<String, FileReadError> {
        switch readFile(path) {
        case .failure(let error):
            return .failure(error)
        case .success(let bytes):
            guard bytes.count <= Self.fileBytesMax else {
                return .failure(FileReadError("the file is larger than \(Self.fileBytesMax >> 20) MiB"))
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .failure(FileReadError("the file is not valid UTF-8"))
            }
            return .success(text)
        }
    }
}

/// Why a file cannot be read, as the system says it (`No such file or directory`).
public struct FileReadError: Error, Sendable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }
}

/// One entry of `apis:` as written, before its definition is read.
private struct APIEntry {
    var name: String
    var line: Int
    var definition: String
    var definitionLine: Int
    var host: String?
    var basePath: [String]
    var mappedStage: String?
    var mappedStageLine: Int
    var stages: [StageEntry]

    /// The literal path segments before a stage's resource paths: the base path, then the stage
    /// name, unless a mapping names the stage or the stage is an HTTP API's `$default` (whose
    /// URLs have no stage segment).
    func urlPrefix(stage: String) -> [String] {
        mappedStage != nil || stage == Stage.defaultStageName ? basePath : basePath + [stage]
    }
}

/// One stage of an API entry as written; its method settings are resolved once the API's
/// operations are known.
private struct StageEntry {
    var name: String
    var line: Int
    var variables: [String: String] = [:]
    /// `canary:`, or an admin endpoint's (`StageOverride`).
    var canary: CanaryRelease?
    var canaryLine = 0
    /// The definition the stage serves instead of its API's file (`StageOverride`).
    var definitionOverride: DefinitionSource?
    var throttle: ThrottleSettings?
    var cache: StageCache?
    var accessLog: AccessLogSettings?
    var detailedMetrics = false
    var methodSettings: [MethodSettingsEntry] = []
}

/// One `method_settings` entry of a stage as written.
private struct MethodSettingsEntry {
    var key: MethodKey
    var throttle: ThrottleSettings?
    var caching: MethodCachingEntry?
    var detailedMetrics: Bool?
}

/// One loading run; holds the diagnostics as they are found.
final class Loader {
    let environment: LoaderEnvironment
    let allowedCPUs: [Int]
    let resolver: HostResolver
    let log = DiagnosticLog()
    /// `upstreams.resolve`, by lowercased host name.
    var staticHosts: [String: [IntegrationCompiler.StaticAddress]] = [:]
    /// `lambda_functions`, by the most specific lookup key of each entry.
    var lambdaFunctions: [String: LambdaEndpoint] = [:]
    /// FNV-1a of each input file's text alone, by path.
    var textHashes: [String: UInt64] = [:]
    /// Every input file read, once each, in the order first read.
    var inputs: [(path: String, text: String)] = []
    var overrides: [StageOverride] = []

    init(environment: LoaderEnvironment) {
        self.environment = environment
        self.allowedCPUs = environment.allowedCPUs.sorted()
        self.resolver = environment.resolver
    }

    func load(path: String) -> LoadResult {
        log.register(file: path)
        var deployment = buildDeployment(path: path)
        deployment?.id = Self.deploymentID(inputHash)
        var result = LoadResult(deployment: log.hasErrors ? nil : deployment, diagnostics: log.sorted)
        result.inputs = inputs
        return result
    }

    /// FNV-1a over every input file, path and text, in path order: the deployment's id. In
    /// path order, so that the id does not depend on the order the files were read in (the
    /// admin endpoints' changes to stages change that order, not the files).
    var inputHash: UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for input in inputs.sorted(by: { $0.path < $1.path }) {
            for byte in input.path.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            hash = (hash ^ 0) &* 0x100_0000_01b3
            for byte in input.text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            hash = (hash ^ 0) &* 0x100_0000_01b3
        }
        return hash
    }

    /// Reads an input file (each path once: a second read gives the first one's text).
    private func readInput(_ path: String) -> Result<String, FileReadError> {
        if let earlier = inputs.first(where: { $0.path == path }) { return .success(earlier.text) }
        let result = environment.readText(path)
        if case .success(let text) = result {
            textHashes[path] = Self.textHash(text)
            inputs.append((path, text))
        }
        return result
    }

    /// Six base-36 characters of `hash`.
    static func deploymentID(_ hash: UInt64) -> String {
        let digits = Array("0123456789abcdefghijklmnopqrstuvwxyz")
        var rest = hash
        var id = ""
        for _ in 0..<6 {
            id.append(digits[Int(rest % 36)])
            rest /= 36
        }
        return id
    }

    private func buildDeployment(path: String) -> Deployment? {
        let text: String
        switch readInput(path) {
        case .success(let contents): text = contents
        case .failure(let error):
            log.error(path, 0, "cannot read the configuration: \(error.message)")
            return nil
        }
        guard let root = YAMLSupport.parse(text, file: path, log: log) else { return nil }
        let reader = ConfigReader(file: path, log: log)
        guard let entries = reader.mapping(root, "the configuration") else { return nil }

        var deployment = Deployment()
        var workersNode: Node?
        var apiEntries: [APIEntry] = []
        // Where `apis:` is, when it is present but lists nothing; nil when it lists something.
        var emptyAPIsLine: Int? = 1
        var usagePlansNode: Node?
        var apiKeysNode: Node?
        var listenLine = 1
        var domainsLine: Int?
        var adminLine: Int?
        var awsNode: Node?
        var issuersNode: Node?
        var iamNode: Node?
        for (key, value) in entries {
            switch key.text ?? "" {
            case "listen":
                if let listeners = ListenersSection(reader: reader, environment: environment, configPath: path).read(value) {
                    deployment.listeners = listeners
                    listenLine = key.line
                }
            case "domains":
                domainsLine = key.line
                if let domains = ListenersSection(reader: reader, environment: environment, configPath: path).domains(value) {
                    deployment.domains = domains
                }
            case "admin":
                if let address = ListenersSection(reader: reader, environment: environment, configPath: path)
                    .address(value, "admin") {
                    deployment.admin = address
                    adminLine = key.line
                }
            case "state_dir":
                if let directory = reader.string(value, "state_dir") {
                    deployment.stateDirectory = directory
                    deployment.stateDirectoryConfigured = true
                }
            case "drain_timeout_ms":
                if let milliseconds = reader.integer(value, "drain_timeout_ms", in: 0...3_600_000, unit: "ms") {
                    deployment.drainTimeoutMilliseconds = milliseconds
                }
            case "deployment_history":
                if let count = reader.integer(value, "deployment_history", in: 1...1_000) {
                    deployment.deploymentHistory = count
                }
            case "drain_delay_ms":
                if let milliseconds = reader.integer(value, "drain_delay_ms", in: 0...3_600_000, unit: "ms") {
                    deployment.drainDelayMilliseconds = milliseconds
                }
            case "limits":
                deployment.limits = limits(value, reader)
            case "workers":
                workersNode = value
            case "upstreams":
                readUpstreams(value, reader, into: &deployment)
            case "lambda_functions":
                readLambdaFunctions(value, reader)
            case "apis":
                apiEntries = apis(value, reader)
                if case .sequence(let list) = value {
                    emptyAPIsLine = list.isEmpty ? key.line : nil
                } else {
                    emptyAPIsLine = value.isNull ? key.line : nil
                }
            case "account_throttling":
                if let throttle = ThrottleReader(reader: reader).throttle(value, "account_throttling") {
                    deployment.accountThrottle = throttle
                }
            case "usage_plans":
                usagePlansNode = value
            case "api_keys":
                apiKeysNode = value
            case "aws":
                awsNode = value
            case "jwt_issuers":
                issuersNode = value
            case "iam":
                iamNode = value
            case "trusted_proxy_hops":
                if let hops = reader.integer(value, "trusted_proxy_hops", in: 0...32) {
                    deployment.trustedProxyHops = hops
                }
            default:
                reader.unknownKey(key, in: "")
            }
        }
        if let plan = WorkersSection(reader: reader).resolve(workersNode, allowedCPUs: allowedCPUs) {
            deployment.workers = plan
        }
        // The admin listener cannot share a port with the gateway's (SO_REUSEPORT would split
        // their connections between them).
        if let adminLine, deployment.admin.port != 0,
           let clash = deployment.listeners.first(where: { $0.address.overlaps(deployment.admin) }) {
            log.error(path, adminLine, "admin \(deployment.admin) is the gateway's listen address \(clash.address); "
                      + "give the admin listener a port of its own")
        }
        if deployment.domains.isEmpty && !log.hasErrors,
           deployment.listeners.contains(where: { $0.tls != nil && $0.tls?.certificate == nil }) {
            log.error(path, listenLine, "a TLS listener without a certificate serves only the names in domains:, and none is named")
        }
        if let domainsLine, !deployment.domains.isEmpty && !deployment.listeners.contains(where: { $0.tls != nil }) {
            log.warning(path, domainsLine, "domains: no TLS listener serves them (add tls to a listen entry)")
        }
        if let emptyAPIsLine {
            log.warning(path, emptyAPIsLine, "no APIs are configured; every request answers 403")
        }
        let authorization = AuthorizationSection(reader: reader, environment: environment, configPath: path)
        if let awsNode { authorization.readAWS(awsNode, into: &deployment) }
        if let issuersNode { authorization.readIssuers(issuersNode, into: &deployment) }
        if let iamNode { authorization.readIAM(iamNode, into: &deployment) }
        applyOverrides(&apiEntries, configPath: path)
        checkMappings(apiEntries, file: path)
        buildAPIs(apiEntries, configPath: path, into: &deployment)
        authorization.resolve(&deployment)
        UsagePlanSection(reader: reader).read(plans: usagePlansNode, keys: apiKeysNode, into: &deployment)
        return deployment
    }

    // MARK: Server settings

    private func limits(_ node: Node, _ reader: ConfigReader) -> Limits {
        var limits = Limits()
        guard let entries = reader.mapping(node, "limits") else { return limits }
        for (key, value) in entries {
            let name = key.text ?? ""
            let what = "limits.\(name)"
            switch name {
            case "request_head_bytes":
                if let bytes = reader.integer(value, what, in: 1_024...1_048_576, unit: "bytes") {
                    limits.request.headBytesMax = bytes
                }
            case "request_headers":
                if let count = reader.integer(value, what, in: 1...10_000) { limits.request.headersMax = count }
            case "request_body_bytes":
                if let bytes = reader.integer(value, what, in: 0...1_073_741_824, unit: "bytes") {
                    limits.request.bodyBytesMax = bytes
                }
            case "response_body_bytes":
                if let bytes = reader.integer(value, what, in: 0...1_073_741_824, unit: "bytes") {
                    limits.responseBodyBytesMax = bytes
                }
            case "header_timeout_ms":
                if let milliseconds = reader.integer(value, what, in: 1...3_600_000, unit: "ms") {
                    limits.headerTimeoutMilliseconds = milliseconds
                }
            case "idle_timeout_ms":
                if let milliseconds = reader.integer(value, what, in: 1...3_600_000, unit: "ms") {
                    limits.idleTimeoutMilliseconds = milliseconds
                }
            case "integration_timeout_ms":
                integrationTimeouts(value, reader, into: &limits)
            case "lambda_invocations":
                if let count = reader.integer(value, what, in: 1...4_096) { limits.lambdaInvocationsMax = count }
            case "api_key_bytes":
                if let bytes = reader.integer(value, what, in: 1...8_192) { limits.apiKeyBytesMax = bytes }
            case "buffered_body_bytes":
                if let bytes = reader.integer(value, what, in: 1_024...10_485_760) { limits.bufferedBodyBytesMax = bytes }
            case "buffered_bodies":
                if let count = reader.integer(value, what, in: 1...65_536) { limits.bufferedBodiesMax = count }
            default:
                reader.unknownKey(key, in: "limits")
            }
        }
        return limits
    }

    /// `limits.integration_timeout_ms: { min, max, default }`. The default, unless written, is API
    /// Gateway's 29 s brought within min … max.
    private func integrationTimeouts(_ node: Node, _ reader: ConfigReader, into limits: inout Limits) {
        guard let entries = reader.mapping(node, "limits.integration_timeout_ms") else { return }
        var minimum: (value: Int, line: Int)?
        var maximum: (value: Int, line: Int)?
        var preset: (value: Int, line: Int)?
        var valid = true
        for (key, value) in entries {
            let name = key.text ?? ""
            let what = "limits.integration_timeout_ms.\(name)"
            switch name {
            case "min", "max", "default":
                guard let milliseconds = reader.integer(value, what, in: 1...3_600_000, unit: "ms") else {
                    valid = false
                    continue
                }
                let entry = (milliseconds, value.line)
                if name == "min" { minimum = entry } else if name == "max" { maximum = entry } else { preset = entry }
            default:
                reader.unknownKey(key, in: "limits.integration_timeout_ms")
            }
        }
        guard valid else { return }
        let low = minimum?.value ?? limits.integrationTimeoutMillisecondsMin
        let high = maximum?.value ?? limits.integrationTimeoutMillisecondsMax
        guard low <= high else {
            log.error(reader.file, maximum?.line ?? minimum?.line ?? node.line, "limits.integration_timeout_ms: min "
                      + "(\(low) ms) is larger than max (\(high) ms)")
            return
        }
        if let preset, !(low...high).contains(preset.value) {
            log.error(reader.file, preset.line, "limits.integration_timeout_ms.default must be between min and max "
                      + "(\(low) … \(high) ms), not \(preset.value)")
            return
        }
        limits.integrationTimeoutMillisecondsMin = low
        limits.integrationTimeoutMillisecondsMax = high
        limits.integrationTimeoutMillisecondsDefault = preset?.value ?? min(max(29_000, low), high)
    }

    // MARK: Upstreams and Lambda functions

    /// `upstreams: { defaults: {...}, resolve: {...} }`.
    private func readUpstreams(_ node: Node, _ reader: ConfigReader, into deployment: inout Deployment) {
        guard let entries = reader.mapping(node, "upstreams") else { return }
        for (key, value) in entries {
            switch key.text ?? "" {
            case "defaults":
                deployment.upstreamPool = upstreamPool(value, reader)
            case "resolve":
                guard let pairs = reader.mapping(value, "upstreams.resolve") else { continue }
                for (nameNode, addressesNode) in pairs {
                    let name = (nameNode.text ?? "").lowercased()
                    guard UpstreamURL.isHostName(Substring(name)), !UpstreamURL.isIPv4Literal(name) else {
                        log.error(reader.file, nameNode.line, "upstreams.resolve: '\(nameNode.text ?? "?")' is not a "
                                  + "host name (no scheme, port or path)")
                        continue
                    }
                    var items: [Node] = [addressesNode]
                    if case .sequence(let list) = addressesNode { items = Array(list) }
                    var addresses: [IntegrationCompiler.StaticAddress] = []
                    for item in items {
                        guard let text = item.text, let address = Self.staticAddress(text) else {
                            log.error(reader.file, item.line, "upstreams.resolve.\(name): '\(item.text ?? item.kindName)' "
                                      + "is not a numeric address (\"10.0.0.7\", \"10.0.0.7:8080\", \"[::1]:8080\")")
                            continue
                        }
                        addresses.append(address)
                    }
                    if items.isEmpty {
                        log.error(reader.file, addressesNode.line, "upstreams.resolve.\(name) needs at least one address")
                    }
                    if !addresses.isEmpty { staticHosts[name] = addresses }
                }
            case "tls":
                guard let settings = reader.mapping(value, "upstreams.tls") else { continue }
                for (name, setting) in settings {
                    guard name.text == "ca_file" else {
                        reader.unknownKey(name, in: "upstreams.tls")
                        continue
                    }
                    guard let text = reader.string(setting, "upstreams.tls.ca_file") else { continue }
                    let caPath = Loader.join(folderOf: reader.file, text)
                    switch environment.readFile(caPath) {
                    case .failure(let error):
                        log.error(reader.file, setting.line, "cannot read the CA certificates \(caPath): \(error.message)")
                    case .success(let bytes):
                        if case .failure(let error) = environment.inspectTruststore(bytes) {
                            log.error(reader.file, setting.line, "upstreams.tls.ca_file \(caPath): \(error.message)")
                        } else {
                            deployment.upstreamCertificateAuthorities = bytes
                        }
                    }
                }
            default:
                reader.unknownKey(key, in: "upstreams")
            }
        }
    }

    private func upstreamPool(_ node: Node, _ reader: ConfigReader) -> UpstreamPoolSettings {
        var pool = UpstreamPoolSettings()
        guard let entries = reader.mapping(node, "upstreams.defaults") else { return pool }
        var idleLine = node.line
        for (key, value) in entries {
            let name = key.text ?? ""
            let what = "upstreams.defaults.\(name)"
            switch name {
            case "idle_connections_max":
                idleLine = value.line
                if let count = reader.integer(value, what, in: 0...1_048_576) { pool.idleConnectionsMax = count }
            case "connections_max":
                if let count = reader.integer(value, what, in: 1...1_048_576) { pool.connectionsMax = count }
            case "idle_timeout_ms":
                if let milliseconds = reader.integer(value, what, in: 1...3_600_000, unit: "ms") {
                    pool.idleTimeoutMilliseconds = milliseconds
                }
            default:
                reader.unknownKey(key, in: "upstreams.defaults")
            }
        }
        if pool.idleConnectionsMax > pool.connectionsMax {
            log.warning(reader.file, idleLine, "upstreams.defaults.idle_connections_max (\(pool.idleConnectionsMax)) is "
                        + "larger than connections_max (\(pool.connectionsMax)); \(pool.connectionsMax) is used")
            pool.idleConnectionsMax = pool.connectionsMax
        }
        return pool
    }

    /// `10.0.0.7`, `10.0.0.7:8080`, `::1`, `[::1]` or `[::1]:8080`.
    static func staticAddress(_ text: String) -> IntegrationCompiler.StaticAddress? {
        func port(_ digits: Substring) -> UInt16? {
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let number = Int(digits), (1...65_535).contains(number) else { return nil }
            return UInt16(number)
        }
        func isIPv6(_ host: Substring) -> Bool { host.contains(":") && IPAddress(parsing: host) != nil }
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = text[text.index(after: text.startIndex)..<close]
            guard isIPv6(host) else { return nil }
            let rest = text[text.index(after: close)...]
            if rest.isEmpty { return .init(host: String(host), isIPv6: true, port: nil) }
            guard rest.hasPrefix(":"), let number = port(rest.dropFirst()) else { return nil }
            return .init(host: String(host), isIPv6: true, port: number)
        }
        let colons = text.count { $0 == ":" }
        if colons > 1 {
            return isIPv6(Substring(text)) ? .init(host: text, isIPv6: true, port: nil) : nil
        }
        var host = Substring(text)
        var number: UInt16?
        if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            guard let parsed = port(text[text.index(after: colon)...]) else { return nil }
            number = parsed
        }
        guard UpstreamURL.isIPv4Literal(String(host)) else { return nil }
        return .init(host: String(host), isIPv6: false, port: number)
    }

    /// `lambda_functions: { NAME or ARN: "http://HOST:PORT" }`.
    private func readLambdaFunctions(_ node: Node, _ reader: ConfigReader) {
        guard let entries = reader.mapping(node, "lambda_functions") else { return }
        for (key, value) in entries {
            let keyText = key.text ?? ""
            let reference: LambdaFunctionReference
            switch LambdaFunctionReference.parse(keyText) {
            case .failure(let problem):
                log.error(reader.file, key.line, "lambda_functions: \(problem.message)")
                continue
            case .success(let parsed):
                reference = parsed
            }
            guard let urlText = reader.string(value, "lambda_functions '\(keyText)'") else { continue }
            let url: UpstreamURL
            switch UpstreamURL.parse(urlText) {
            case .failure(let problem):
                log.error(reader.file, value.line, "lambda_functions '\(keyText)': '\(urlText)' is not a URL such as "
                          + "http://127.0.0.1:9000: \(problem.message)")
                continue
            case .success(let parsed):
                url = parsed
            }
            guard url.query == nil, !url.hasFragment, !url.path.contains("{"), !url.path.contains("}") else {
                log.error(reader.file, value.line, "lambda_functions '\(keyText)': '\(urlText)' may have a path but no "
                          + "query, fragment or {parameter}")
                continue
            }
            let lookupKey = reference.lookupKeys[0]
            if let existing = lambdaFunctions[lookupKey] {
                log.error(reader.file, key.line, "lambda_functions: '\(keyText)' names the same function as "
                          + "'\(existing.key)' (line \(existing.line))")
                continue
            }
            lambdaFunctions[lookupKey] = LambdaEndpoint(
                key: keyText, line: key.line, url: url,
                invocationPath: url.path == "/" ? LambdaTarget.emulatorInvocationPath : url.path)
        }
    }

    // MARK: APIs

    private func apis(_ node: Node, _ reader: ConfigReader) -> [APIEntry] {
        if node.isNull { return [] }
        guard case .sequence(let list) = node else {
            log.error(reader.file, node.line, "apis must be a list of APIs, not \(node.kindName)")
            return []
        }
        var result: [APIEntry] = []
        var names: [String: Int] = [:]
        for item in list {
            guard let entry = api(item, reader) else { continue }
            if let first = names[entry.name] {
                log.error(reader.file, entry.line, "API name '\(entry.name)' is already used at line \(first)")
                continue
            }
            names[entry.name] = entry.line
            result.append(entry)
        }
        return result
    }

    private func api(_ node: Node, _ reader: ConfigReader) -> APIEntry? {
        guard let entries = reader.mapping(node, "an API") else { return nil }
        var name: String?
        var definition: String?
        var definitionLine = node.line
        var host: String?
        var basePath: [String] = []
        var mappedStage: String?
        var mappedStageLine = node.line
        var stages: [StageEntry] = []
        var sawStages = false
        var valid = true

        for (key, value) in entries {
            switch key.text ?? "" {
            case "name":
                guard let text = reader.string(value, "name") else { valid = false; break }
                guard Self.isName(text, extraCharacters: "_-.") else {
                    log.error(reader.file, value.line, "API name '\(text)' may only contain letters, digits, "
                              + "'_', '-' and '.'")
                    valid = false
                    break
                }
                name = text
            case "definition":
                definition = reader.string(value, "definition")
                definitionLine = value.line
                valid = valid && definition != nil
            case "host":
                if value.isNull { break }
                guard let text = reader.string(value, "host") else { valid = false; break }
                guard Self.isHostName(text) else {
                    log.error(reader.file, value.line, "host '\(text)' must be a host name such as api.example.com "
                              + "(no scheme, port or path; no wildcards)")
                    valid = false
                    break
                }
                host = text.lowercased()
            case "base_path":
                if value.isNull { break }
                guard let text = value.text else {
                    log.error(reader.file, value.line, "base_path must be a string such as 'v1' or 'shop/v2'")
                    valid = false
                    break
                }
                // `/v1/`, `v1` and `/v1` are the same base path; `/`, `` and API Gateway's `(none)` are
                // no base path at all.
                let segments = text == "(none)" ? [] : text.split(separator: "/").map(String.init)
                if let bad = segments.first(where: { segment in
                    segment.contains { $0 == "{" || $0 == "}" || $0 == "?" || $0 == "#" || $0 == "%" || $0.isWhitespace }
                }) {
                    log.error(reader.file, value.line, "base_path segment '\(bad)' may not contain braces, '?', '#', "
                              + "'%' or spaces")
                    valid = false
                    break
                }
                if text.contains("//") {
                    log.error(reader.file, value.line, "base_path '\(text)' has an empty segment")
                    valid = false
                    break
                }
                basePath = segments
            case "stage":
                if value.isNull { break }
                mappedStage = reader.string(value, "stage")
                mappedStageLine = value.line
                valid = valid && mappedStage != nil
            case "stages":
                sawStages = true
                guard let stageEntries = reader.mapping(value, "stages") else { valid = false; break }
                for (stageKey, stageValue) in stageEntries {
                    guard let stageName = stageKey.text,
                          Self.isName(stageName, extraCharacters: "_-") || stageName == Stage.defaultStageName else {
                        log.error(reader.file, stageKey.line, "stage name '\(stageKey.text ?? "?")' may only contain "
                                  + "letters, digits, '_' and '-' (or be $default)")
                        valid = false
                        continue
                    }
                    guard let stage = stage(stageValue, name: stageName, line: stageKey.line, reader) else {
                        valid = false
                        continue
                    }
                    stages.append(stage)
                }
            default:
                reader.unknownKey(key, in: "an API")
            }
        }
        guard let name else {
            if valid { log.error(reader.file, node.line, "an API needs a 'name'") }
            return nil
        }
        guard let definition else {
            if valid { log.error(reader.file, node.line, "API '\(name)' needs a 'definition' (an OpenAPI or Swagger file)") }
            return nil
        }
        guard valid else { return nil }
        if stages.isEmpty {
            log.error(reader.file, node.line, "API '\(name)' needs at least one stage"
                      + (sawStages ? "" : " ('stages: { prod: {} }')"))
            return nil
        }
        if let mappedStage {
            if !stages.contains(where: { $0.name == mappedStage }) {
                log.error(reader.file, mappedStageLine, "stage '\(mappedStage)' is not one of API '\(name)''s stages "
                          + "(\(stages.map(\.name).joined(separator: ", ")))")
                return nil
            }
            let unreachable = stages.filter { $0.name != mappedStage }
            if let first = unreachable.first {
                log.warning(reader.file, first.line, "stage '\(first.name)' of API '\(name)' is not reachable: "
                            + "'stage: \(mappedStage)' maps every URL of this API to stage \(mappedStage)")
            }
        }
        return APIEntry(name: name, line: node.line, definition: definition, definitionLine: definitionLine,
                        host: host, basePath: basePath, mappedStage: mappedStage, mappedStageLine: mappedStageLine,
                        stages: stages)
    }

    private func stage(_ node: Node, name: String, line: Int, _ reader: ConfigReader) -> StageEntry? {
        guard let entries = reader.mapping(node, "stage '\(name)'") else { return nil }
        var stage = StageEntry(name: name, line: line)
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "variables":
                guard let variables = stageVariables(value, "variables", reader) else { valid = false; continue }
                stage.variables = variables
            case "canary":
                guard let canary = canary(value, stage: name, reader) else { valid = false; continue }
                stage.canary = canary
                stage.canaryLine = key.line
            case "throttling":
                stage.throttle = ThrottleReader(reader: reader).throttle(value, "stages.\(name).throttling")
                valid = valid && stage.throttle != nil
            case "method_settings":
                guard let settings = reader.mapping(value, "stages.\(name).method_settings") else { valid = false; continue }
                for (methodKey, methodValue) in settings {
                    let what = "stages.\(name).method_settings '\(methodKey.text ?? "?")'"
                    guard let entries = reader.mapping(methodValue, what) else { valid = false; continue }
                    var setting = MethodSettingsEntry(key: MethodKey(text: methodKey.text ?? "", line: methodKey.line))
                    for (settingKey, settingValue) in entries {
                        switch settingKey.text ?? "" {
                        case "throttling":
                            setting.throttle = ThrottleReader(reader: reader).throttle(settingValue, "\(what) throttling")
                            valid = valid && setting.throttle != nil
                        case "caching":
                            setting.caching = CacheReader(reader: reader).methodCaching(settingValue, "\(what) caching")
                            valid = valid && setting.caching != nil
                        case "detailed_metrics":
                            setting.detailedMetrics = reader.boolean(settingValue, "\(what) detailed_metrics")
                            valid = valid && setting.detailedMetrics != nil
                        default:
                            reader.unknownKey(settingKey, in: what)
                        }
                    }
                    stage.methodSettings.append(setting)
                }
            case "detailed_metrics":
                if let enabled = reader.boolean(value, "stages.\(name).detailed_metrics") {
                    stage.detailedMetrics = enabled
                } else {
                    valid = false
                }
            case "access_log":
                stage.accessLog = AccessLogReader(reader: reader).accessLog(value, "stages.\(name).access_log")
                valid = valid && stage.accessLog != nil
            case "cache":
                if let cache = CacheReader(reader: reader).stageCache(value, "stages.\(name).cache") {
                    stage.cache = cache
                } else {
                    valid = false
                }
            default:
                reader.unknownKey(key, in: "stage '\(name)'")
            }
        }
        return valid ? stage : nil
    }

    /// Stage variables: names of letters, digits and `_`, string values.
    private func stageVariables(_ node: Node, _ what: String, _ reader: ConfigReader) -> [String: String]? {
        guard let pairs = reader.mapping(node, what) else { return nil }
        var variables: [String: String] = [:]
        var valid = true
        for (variableKey, variableValue) in pairs {
            guard let variableName = variableKey.text, Self.isName(variableName, extraCharacters: "_") else {
                log.error(reader.file, variableKey.line, "stage variable name '\(variableKey.text ?? "?")' may "
                          + "only contain letters, digits and '_'")
                valid = false
                continue
            }
            guard let variableText = variableValue.text else {
                log.error(reader.file, variableValue.line, "stage variable '\(variableName)' must be a "
                          + "string, not \(variableValue.kindName)")
                valid = false
                continue
            }
            variables[variableName] = variableText
        }
        return valid ? variables : nil
    }

    /// `canary: {definition, percent_traffic, stage_variable_overrides, use_stage_cache}` (API
    /// Gateway's `canarySettings`, with the canary's definition as a file).
    private func canary(_ node: Node, stage: String, _ reader: ConfigReader) -> CanaryRelease? {
        let what = "stages.\(stage).canary"
        guard let entries = reader.mapping(node, what) else { return nil }
        var definition: String?
        var percent: Double?
        var overrides: [String: String] = [:]
        var useStageCache = false
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "definition":
                definition = reader.string(value, "\(what).definition")
                valid = valid && definition != nil
            case "percent_traffic":
                guard let text = value.text, let number = Double(text), number.isFinite, (0...100).contains(number) else {
                    log.error(reader.file, value.line, "\(what).percent_traffic must be a number from 0.0 to 100.0, "
                              + "not '\(value.text ?? value.kindName)'")
                    valid = false
                    continue
                }
                percent = number
            case "stage_variable_overrides":
                guard let variables = stageVariables(value, "\(what).stage_variable_overrides", reader) else {
                    valid = false
                    continue
                }
                overrides = variables
            case "use_stage_cache":
                guard let flag = reader.boolean(value, "\(what).use_stage_cache") else { valid = false; continue }
                useStageCache = flag
            default:
                reader.unknownKey(key, in: what)
                valid = false
            }
        }
        guard valid else { return nil }
        guard let definition, let percent else {
            log.error(reader.file, node.line, "\(what) needs 'definition' (the canary's API definition) and "
                      + "'percent_traffic'")
            return nil
        }
        return CanaryRelease(source: nil, definitionPath: definition, percentTraffic: percent,
                             stageVariableOverrides: overrides, useStageCache: useStageCache)
    }

    /// Two APIs may share a (host, base path) only when neither maps a stage and their stages
    /// differ: otherwise one URL would mean two things (API Gateway refuses the same). URLs whose
    /// prefixes merely nest (base path `v1` and a default-space stage named `v1`) are allowed, with
    /// a warning: the longer prefix wins where both match.
    private func checkMappings(_ entries: [APIEntry], file: String) {
        struct Claim {
            var api: String
            var line: Int
            var mapped: Bool
            var stage: String
        }
        var claims: [String: [Claim]] = [:]
        for entry in entries {
            let key = "\(entry.host ?? "")|\(entry.basePath.joined(separator: "/"))"
            let place = Self.describePlace(host: entry.host, basePath: entry.basePath)
            for existing in claims[key] ?? [] {
                if existing.mapped || entry.mappedStage != nil {
                    log.error(file, entry.line, "API '\(entry.name)' is mapped to \(place), which API '\(existing.api)' "
                              + "(line \(existing.line)) already maps\(existing.mapped ? " to stage \(existing.stage)" : "")")
                    break
                }
                if let clash = entry.stages.first(where: { $0.name == existing.stage }) {
                    log.error(file, clash.line, "stage '\(clash.name)' of API '\(entry.name)' at \(place) is already "
                              + "mapped by API '\(existing.api)' (line \(existing.line))")
                }
            }
            if let mapped = entry.mappedStage {
                claims[key, default: []].append(Claim(api: entry.name, line: entry.line, mapped: true, stage: mapped))
            } else {
                for stage in entry.stages {
                    claims[key, default: []].append(Claim(api: entry.name, line: entry.line, mapped: false,
                                                          stage: stage.name))
                }
            }
        }

        // Nested prefixes across APIs: warn once per pair.
        struct Mount {
            var api: String
            var host: String?
            var prefix: [String]
        }
        var mounts: [Mount] = []
        for entry in entries {
            if let mapped = entry.mappedStage {
                mounts.append(Mount(api: entry.name, host: entry.host, prefix: entry.urlPrefix(stage: mapped)))
            } else {
                for stage in entry.stages {
                    mounts.append(Mount(api: entry.name, host: entry.host, prefix: entry.urlPrefix(stage: stage.name)))
                }
            }
        }
        var warned: Set<String> = []
        for inner in mounts {
            for outer in mounts where outer.api != inner.api && outer.host == inner.host
                && outer.prefix.count < inner.prefix.count && Array(inner.prefix.prefix(outer.prefix.count)) == outer.prefix {
                guard warned.insert("\(inner.api)|\(outer.api)").inserted,
                      let line = entries.first(where: { $0.name == inner.api })?.line else { continue }
                log.warning(file, line, "URLs under /\(inner.prefix.joined(separator: "/")) of API '\(inner.api)' "
                            + "also fall under /\(outer.prefix.joined(separator: "/")) of API '\(outer.api)'; "
                            + "where both match, API '\(inner.api)' (the longer prefix) answers")
            }
        }
    }

    private static func describePlace(host: String?, basePath: [String]) -> String {
        let path = basePath.isEmpty ? "no base path" : "base path /\(basePath.joined(separator: "/"))"
        return host.map { "host \($0), \(path)" } ?? "the default host, \(path)"
    }

    // MARK: Definitions and routes

    /// Puts the admin endpoints' changes into the entries: a stage's definition from the
    /// history, its canary set or removed.
    private func applyOverrides(_ entries: inout [APIEntry], configPath: String) {
        for change in overrides {
            guard let api = entries.firstIndex(where: { $0.name == change.api }),
                  let stage = entries[api].stages.firstIndex(where: { $0.name == change.stage }) else {
                log.warning(configPath, 1, "the admin change to stage '\(change.api)/\(change.stage)' no longer "
                            + "applies: the configuration has no such stage")
                continue
            }
            if let definition = change.definition { entries[api].stages[stage].definitionOverride = definition }
            // A canary sluice.yaml gives, replaced or removed: its file is read all the same, as a
            // part of the deployment (its id is the files', whatever the admin endpoints changed).
            if change.canary != nil, let written = entries[api].stages[stage].canary, written.source == nil {
                let path = Self.join(folderOf: configPath, written.definitionPath)
                if case .failure(let error) = readInput(path) {
                    log.error(configPath, entries[api].stages[stage].canaryLine,
                              "cannot read API definition '\(path)': " + error.message)
                }
            }
            entries[api].stages[stage].variables.merge(change.variables) { $1 }
            switch change.canary {
            case .none: break
            case .removed: entries[api].stages[stage].canary = nil
            case .set(let release): entries[api].stages[stage].canary = release
            }
        }
    }

    /// One API object of the deployment: an entry of `apis:` with the stages that serve one
    /// definition. An entry usually makes one; a stage that serves another definition (a
    /// rollback) makes one of its own, and so does each canary, whose routes go to the canary
    /// table.
    private struct BuildUnit {
        var entry: APIEntry
        var stages: [StageEntry]
        /// From the deployment history; nil: the entry's definition file (or, for a canary, the
        /// canary's `definition` file).
        var source: DefinitionSource?
        var definitionPath: String
        /// For a canary: the name of the stage it is the canary of.
        var canaryOf: String?
    }

    private func buildUnits(_ entries: [APIEntry], configPath: String) -> [BuildUnit] {
        var units: [BuildUnit] = []
        var canaries: [BuildUnit] = []
        for entry in entries {
            let path = Self.join(folderOf: configPath, entry.definition)
            let fromFile = entry.stages.filter { $0.definitionOverride == nil }
            if !fromFile.isEmpty {
                units.append(BuildUnit(entry: entry, stages: fromFile, source: nil, definitionPath: path))
            } else if case .failure(let error) = readInput(path) {
                // Every stage serves another definition; the file is read all the same, as a
                // part of the deployment (its id, its record).
                log.error(configPath, entry.definitionLine, "cannot read API definition '\(path)': " + error.message)
            }
            for stage in entry.stages {
                if let source = stage.definitionOverride {
                    units.append(BuildUnit(entry: entry, stages: [stage], source: source, definitionPath: source.path))
                }
                guard let canary = stage.canary else { continue }
                var twin = stage
                twin.canary = nil
                twin.definitionOverride = nil
                twin.variables.merge(canary.stageVariableOverrides) { $1 }
                if !canary.useStageCache {
                    twin.cache = nil
                    twin.methodSettings = twin.methodSettings.map { setting in
                        var setting = setting
                        setting.caching = nil
                        return setting
                    }
                }
                canaries.append(BuildUnit(entry: entry, stages: [twin], source: canary.source,
                                          definitionPath: canary.source?.path
                                              ?? Self.join(folderOf: configPath, canary.definitionPath),
                                          canaryOf: stage.name))
            }
        }
        return units + canaries
    }

    private func buildAPIs(_ entries: [APIEntry], configPath: String, into deployment: inout Deployment) {
        var imported: [String: ImportedDefinition?] = [:]
        var builder = RouteTableBuilder()
        var canaryBuilder = RouteTableBuilder()
        var operationLines: [(file: String, line: Int)] = []
        // HTTP and Lambda integrations, compiled once every stage has its index.
        var pending: [(operation: Int, integration: ImportedIntegration, stages: [IntegrationCompiler.StageContext])] = []

        for entry in entries { deployment.definitionFiles[entry.name] = Self.join(folderOf: configPath, entry.definition) }
        for unit in buildUnits(entries, configPath: configPath) {
            let entry = unit.entry
            let definitionPath = unit.definitionPath
            let importKey = (unit.source?.deploymentID ?? "") + "\u{0}" + definitionPath
            if imported[importKey] == nil {
                imported[importKey] = importDefinition(definitionPath, source: unit.source,
                                                       line: unit.canaryOf.flatMap { name in
                                                           unit.stages.first { $0.name == name }?.canaryLine
                                                       } ?? entry.definitionLine,
                                                       configPath: configPath, limits: deployment.limits)
            }
            guard let definition = imported[importKey] ?? nil else { continue }
            let operations = definition.operations

            let apiIndex = deployment.apis.count
            deployment.apis.append(API(name: entry.name, host: entry.host,
                                       basePath: entry.basePath.isEmpty ? nil : entry.basePath.joined(separator: "/"),
                                       mappedStage: entry.mappedStage, definitionFile: definitionPath,
                                       apiKeySource: definition.apiKeySource))
            deployment.apis[apiIndex].definitionHash = unit.source.map { Self.textHash($0.text) }
                ?? textHashes[definitionPath] ?? 0
            deployment.apis[apiIndex].resourcePolicy = definition.resourcePolicy
            deployment.apis[apiIndex].cors = definition.cors
            deployment.apis[apiIndex].gatewayResponses = definition.gatewayResponses
            deployment.apis[apiIndex].binaryMediaTypes = definition.binaryMediaTypes
            deployment.apis[apiIndex].minimumCompressionSizeBytes = definition.minimumCompressionSizeBytes
            let firstAuthorizer = deployment.authorizers.count
            for var authorizer in definition.authorizers {
                authorizer.api = apiIndex
                deployment.authorizers.append(authorizer)
            }
            var stageIndices: [String: Int] = [:]
            for stage in unit.stages {
                stageIndices[stage.name] = deployment.stages.count
                deployment.stages.append(Stage(api: apiIndex, name: stage.name, variables: stage.variables,
                                               throttle: stage.throttle, cache: stage.cache,
                                               accessLog: stage.accessLog))
                deployment.stages[deployment.stages.count - 1].deploymentID = unit.source?.deploymentID
                if let primaryName = unit.canaryOf {
                    // The canary's own stage: its primary was built before every canary.
                    let twin = deployment.stages.count - 1
                    if let primary = deployment.stages.indices.first(where: { index in
                        deployment.stages[index].canaryOf < 0 && deployment.stages[index].name == primaryName
                            && deployment.apis[deployment.stages[index].api].name == entry.name
                    }), let release = entries.first(where: { $0.name == entry.name })?
                        .stages.first(where: { $0.name == primaryName })?.canary {
                        deployment.stages[twin].canaryOf = primary
                        deployment.stages[primary].canary = StageCanary(
                            stage: twin, basisPoints: Int((release.percentTraffic * 100).rounded()),
                            percentTraffic: release.percentTraffic, useStageCache: release.useStageCache,
                            stageVariableOverrides: release.stageVariableOverrides,
                            deploymentID: release.source?.deploymentID, definitionPath: definitionPath)
                    }
                }
            }
            let stageContexts = unit.stages.map { stage in
                IntegrationCompiler.StageContext(index: stageIndices[stage.name]!, name: stage.name, apiName: entry.name,
                                                 variables: stage.variables)
            }
            let firstOperation = deployment.operations.count
            for operation in operations {
                var integration = Integration.unsupported("not compiled")
                if case .ready(let ready) = operation.integration {
                    integration = ready
                    // With binary media types, a MOCK's answer may be decoded per request (by its
                    // Accept): it is made per request.
                    if case .mock(var mock) = ready, !definition.binaryMediaTypes.isEmpty {
                        mock.isDynamic = true
                        integration = .mock(mock)
                    }
                } else {
                    pending.append((deployment.operations.count, operation.integration, stageContexts))
                }
                deployment.operations.append(Operation(api: apiIndex, resourcePath: operation.pattern.description,
                                                       method: operation.method.description,
                                                       pathParameterNames: operation.pattern.parameterNames,
                                                       integration: integration, apiKeyRequired: operation.apiKeyRequired))
                deployment.operations[deployment.operations.count - 1].cacheKeyParameters = operation.cacheKeyParameters
                var authorization = operation.authorization
                if case .authorizer(let local, let scopes) = authorization {
                    authorization = .authorizer(firstAuthorizer + local, scopes: scopes)
                }
                deployment.operations[deployment.operations.count - 1].authorization = authorization
                deployment.operations[deployment.operations.count - 1].requestValidation = operation.requestValidation
                operationLines.append((definitionPath, operation.line))
            }
            let reader = ConfigReader(file: configPath, log: log)
            for stage in unit.stages {
                let stageIndex = stageIndices[stage.name]!
                deployment.stages[stageIndex].detailedMetrics = stage.detailedMetrics
                var named: Set<Int> = []
                for setting in stage.methodSettings {
                    // A canary, or a stage serving a recorded deployment (a rollback), may lack a
                    // method the stage's settings name: skipped there (with a word for a rollback).
                    if (unit.canaryOf != nil || unit.source != nil) && !setting.key.names(api: apiIndex, in: deployment) {
                        if unit.canaryOf == nil {
                            log.warning(configPath, setting.key.line, "stages.\(stage.name).method_settings "
                                        + "'\(setting.key.text)': the stage serves deployment "
                                        + "\(unit.source?.deploymentID ?? ""), which has no such method; skipped")
                        }
                        continue
                    }
                    guard let operation = setting.key.operation(api: apiIndex, in: deployment, reader: reader,
                                                                what: "stages.\(stage.name).method_settings") else { continue }
                    guard named.insert(operation).inserted else {
                        log.error(configPath, setting.key.line, "stages.\(stage.name).method_settings names "
                                  + "'\(setting.key.text)' twice")
                        continue
                    }
                    if let enabled = setting.detailedMetrics {
                        deployment.stages[stageIndex].methodDetailedMetrics.append(
                            MethodDetailedMetrics(operation: operation, enabled: enabled))
                    }
                    if let caching = setting.caching {
                        deployment.stages[stageIndex].methodCaching.append(
                            MethodCaching(operation: operation, enabled: caching.enabled, ttlSeconds: caching.ttlSeconds))
                        if deployment.stages[stageIndex].cache == nil {
                            log.warning(configPath, setting.key.line, "stages.\(stage.name).method_settings "
                                        + "'\(setting.key.text)' caching: the stage has no cache; it has no effect")
                        }
                    }
                    guard let throttle = setting.throttle else { continue }
                    deployment.stages[stageIndex].methodThrottles.append(MethodThrottle(operation: operation, throttle: throttle))
                }
            }

            // Where this API's URLs live: one mount for a mapped stage, else one per stage.
            // (A mapped stage lives in one unit; the others' stages are unreachable, as warned.)
            let mounts: [(prefix: [String], stage: Int)] = entry.mappedStage.map { mapped in
                stageIndices[mapped].map { [(entry.urlPrefix(stage: mapped), $0)] } ?? []
            } ?? unit.stages.map { (entry.urlPrefix(stage: $0.name), stageIndices[$0.name]!) }
            for stage in unit.stages {
                deployment.stages[stageIndices[stage.name]!].urlPrefix = entry.urlPrefix(stage: stage.name)
            }

            var reported: Set<String> = []
            for mount in mounts {
                let isCanary = unit.canaryOf != nil
                if isCanary {
                    canaryBuilder.mount(host: entry.host, prefix: mount.prefix, stage: mount.stage)
                } else {
                    builder.mount(host: entry.host, prefix: mount.prefix, stage: mount.stage)
                }
                for (offset, operation) in operations.enumerated() {
                    let target = RouteTarget(operation: firstOperation + offset, stage: mount.stage)
                    let clash = isCanary
                        ? canaryBuilder.add(host: entry.host, prefix: mount.prefix, pattern: operation.pattern,
                                            method: operation.method, target: target)
                        : builder.add(host: entry.host, prefix: mount.prefix, pattern: operation.pattern,
                                      method: operation.method, target: target)
                    guard let conflict = clash else { continue }
                    report(conflict, deployment: deployment, operationLines: operationLines, configPath: configPath,
                           entries: entries, reported: &reported)
                }
            }
        }
        deployment.routes = builder.build()
        deployment.canaryRoutes = canaryBuilder.build()

        let compiler = IntegrationCompiler(log: log, resolver: resolver, configPath: configPath,
                                           staticHosts: staticHosts, lambdaFunctions: lambdaFunctions)
        let stageCount = deployment.stages.count
        for item in pending {
            switch item.integration {
            case .ready(let ready):
                deployment.operations[item.operation].integration = ready
            case .http(let spec):
                deployment.operations[item.operation].integration = compiler.compile(spec, stages: item.stages,
                                                                                     stageCount: stageCount)
            case .lambda(let spec):
                deployment.operations[item.operation].integration = compiler.compile(spec, stages: item.stages,
                                                                                     stageCount: stageCount)
            }
        }
        for index in deployment.authorizers.indices {
            let authorizer = deployment.authorizers[index]
            guard authorizer.kind == .token || authorizer.kind == .request else { continue }
            deployment.authorizers[index].function = compiler.authorizerFunction(
                authorizer.functionURI, file: authorizer.file, line: authorizer.line,
                label: "the Lambda authorizer '\(authorizer.name)'")
        }
        deployment.upstreams = compiler.upstreams
    }

    private func report(_ conflict: RouteConflict, deployment: Deployment, operationLines: [(file: String, line: Int)],
                        configPath: String, entries: [APIEntry], reported: inout Set<String>) {
        let winner = deployment.operations[conflict.winner.operation]
        let loser = deployment.operations[conflict.loser.operation]
        if winner.api == loser.api {
            // The same definition says the same thing twice (`/pets/{id}` and `/pets/{petId}` both
            // with GET, or `/pets` and `/pets/`). Reported once, not once per stage.
            let first = min(conflict.winner.operation, conflict.loser.operation)
            let second = max(conflict.winner.operation, conflict.loser.operation)
            guard reported.insert("operations \(first) \(second)").inserted else { return }
            let location = operationLines[second]
            let other = deployment.operations[first]
            log.error(location.file, location.line, "\(deployment.operations[second].method) "
                      + "\(deployment.operations[second].resourcePath) matches the same requests as "
                      + "\(other.method) \(other.resourcePath) (line \(operationLines[first].line))")
            return
        }
        let loserStage = deployment.stages[conflict.loser.stage]
        let winnerStage = deployment.stages[conflict.winner.stage]
        let key = "stages \(conflict.loser.stage) \(conflict.winner.stage)"
        guard reported.insert(key).inserted else { return }
        let loserAPI = deployment.apis[loser.api].name
        let line = entries.first { $0.name == loserAPI }?.line ?? 0
        log.warning(configPath, line, "\(loser.method) \(loser.resourcePath) of API '\(loserAPI)' stage "
                    + "'\(loserStage.name)' is shadowed by API '\(deployment.apis[winner.api].name)' stage "
                    + "'\(winnerStage.name)' (same URL); further shadowed routes between them are not listed")
    }

    /// Reads and imports a definition: from the disk (an input of this deployment), or from
    /// the deployment history (`source`). `line`: where sluice.yaml names it.
    private func importDefinition(_ definitionPath: String, source: DefinitionSource?, line: Int, configPath: String,
                                  limits: Limits) -> ImportedDefinition? {
        let text: String
        if let source {
            text = source.text
        } else {
            switch readInput(definitionPath) {
            case .success(let contents): text = contents
            case .failure(let error):
                log.error(configPath, line, "cannot read API definition '\(definitionPath)': " + error.message)
                return nil
            }
        }
        log.register(file: definitionPath)
        guard let document = YAMLSupport.parse(text, file: definitionPath, log: log) else { return nil }
        var importer = OpenAPIImport(file: definitionPath, log: log, limits: limits)
        return importer.read(document)
    }

    static func textHash(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }

    /// `definition` relative to the folder of the configuration file, as the user would write it
    /// on the command line: `deploy/sluice.yaml` + `petstore.yaml` → `deploy/petstore.yaml`.
    static func join(folderOf configPath: String, _ relative: String) -> String {
        if relative.hasPrefix("/") { return relative }
        guard let slash = configPath.lastIndex(of: "/") else { return relative }
        var name = Substring(relative)
        while name.hasPrefix("./") { name = name.dropFirst(2) }
        return String(configPath[...slash]) + name
    }

    private static func isName(_ text: String, extraCharacters: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                               || extraCharacters.unicodeScalars.contains(scalar))
        }
    }

    /// Letters, digits, `-` and `.`, in labels that are not empty: a DNS name, or an IPv4 address.
    private static func isHostName(_ text: String) -> Bool {
        guard isName(text, extraCharacters: "-.") else { return false }
        return !text.split(separator: ".", omittingEmptySubsequences: false).contains { $0.isEmpty }
    }
}
