/// Turns imported HTTP, HTTP_PROXY and AWS_PROXY integrations into their compiled form, one target
/// per stage: stage variables substituted, URIs parsed, Lambda functions looked up in
/// `lambda_functions`, and every upstream resolved and given an index in `Deployment.upstreams`
/// (one per distinct `scheme://host:port`, so that operations and stages share connection pools).
///
/// What cannot work for a stage is reported against the line to fix: an error when the stage can
/// never work (a missing stage variable, a URI that is not a URL after substitution, a host that
/// does not resolve), a warning and a nil target (the worker answers 500) where API Gateway, too,
/// would fail only at run time (an unmapped Lambda function, a stage variable missing from a
/// request parameter mapping, https).
final class IntegrationCompiler {
    /// What a stage contributes to its targets.
    struct StageContext {
        /// Index into `Deployment.stages`.
        var index: Int
        var name: String
        var apiName: String
        var variables: [String: String]

        /// `petstore/prod`, as messages name a stage.
        var label: String { "\(apiName)/\(name)" }
    }

    /// One address of an `upstreams.resolve` entry; `port` nil keeps the upstream's port.
    struct StaticAddress {
        var host: String
        var isIPv6: Bool
        var port: UInt16?
    }

    private let log: DiagnosticLog
    private let resolver: HostResolver
    private let configPath: String
    /// `upstreams.resolve`, by lowercased host name.
    private let staticHosts: [String: [StaticAddress]]
    /// `lambda_functions`, by the most specific lookup key of each entry.
    private let lambdaFunctions: [String: LambdaEndpoint]

    private(set) var upstreams: [Upstream] = []
    private var upstreamIndices: [String: Int] = [:]
    /// Resolution results by `host:port`, so that a name is looked up once.
    private var resolutions: [String: Result<[ResolvedAddress], HostResolutionError>] = [:]
    /// Messages already reported (`file:line:message`): a definition used by two APIs, or an
    /// integration without stage variables, would otherwise repeat them.
    private var reported: Set<String> = []
    /// The `host:port`s whose failure to resolve has been reported.
    private var unresolvedReported: Set<String> = []

    init(log: DiagnosticLog, resolver: HostResolver, configPath: String, staticHosts: [String: [StaticAddress]],
         lambdaFunctions: [String: LambdaEndpoint]) {
        self.log = log
        self.resolver = resolver
        self.configPath = configPath
        self.staticHosts = staticHosts
        self.lambdaFunctions = lambdaFunctions
    }

    // MARK: HTTP and HTTP_PROXY

    func compile(_ spec: HTTPIntegrationSpec, stages: [StageContext], stageCount: Int) -> Integration {
        var targets = [HTTPTarget?](repeating: nil, count: stageCount)
        for stage in stages {
            targets[stage.index] = target(spec, stage: stage)
        }
        return .http(HTTPIntegration(isProxy: spec.isProxy, method: spec.method,
                                     timeoutMilliseconds: spec.timeoutMilliseconds, targets: targets,
                                     responses: spec.responses, responseForStatus: spec.responseForStatus,
                                     requestTemplates: spec.requestTemplates))
    }

    private func target(_ spec: HTTPIntegrationSpec, stage: StageContext) -> HTTPTarget? {
        guard let uri = substitute(spec.uri, stage: stage, file: spec.file, line: spec.uriLine, label: spec.label)
        else { return nil }
        // Messages name the stage only when the stage made a difference.
        let prefix = uri == spec.uri ? "\(spec.label): " : "\(spec.label): stage '\(stage.label)': "
        let url: UpstreamURL
        let path: [URIPiece]
        switch UpstreamIntegrationImport.parseTarget(uri) {
        case .failure(let problem):
            error(spec.file, spec.uriLine, prefix + "the integration URI '\(uri)' is not a URL: \(problem.message)")
            return nil
        case .success(let parsed):
            (url, path) = parsed
        }
        let tls = url.scheme == "https"
            ? UpstreamTLS(serverName: spec.tlsConfig.serverName ?? url.host, verify: !spec.tlsConfig.skipVerification)
            : nil
        guard let upstream = upstreamIndex(url, tls: tls, file: spec.file, line: spec.uriLine, prefix: prefix)
        else { return nil }

        var parameters: [ParameterMapping] = []
        for parameter in spec.parameters {
            let source: ParameterSource
            switch parameter.source {
            case .ready(let ready): source = ready
            case .stageName: source = .literal(stage.name)
            case .apiName: source = .literal(stage.apiName)
            case .stageVariable(let name):
                guard let value = stage.variables[name] else {
                    warning(spec.file, parameter.line, "\(spec.label): stage '\(stage.label)' has no stage variable "
                            + "'\(name)'; request parameter '\(parameter.key)' is not sent")
                    continue
                }
                source = .literal(value)
            }
            parameters.append(ParameterMapping(target: parameter.target, source: source))
        }
        return HTTPTarget(upstream: upstream, hostHeader: url.hostHeader, path: path,
                          query: UpstreamURL.queryParameters(url.query), parameters: parameters)
    }

    // MARK: AWS_PROXY

    func compile(_ spec: LambdaIntegrationSpec, stages: [StageContext], stageCount: Int) -> Integration {
        var targets = [LambdaTarget?](repeating: nil, count: stageCount)
        for stage in stages {
            targets[stage.index] = target(spec, stage: stage)
        }
        return .lambdaProxy(LambdaProxyIntegration(payloadFormatVersion: spec.payloadFormatVersion,
                                                   timeoutMilliseconds: spec.timeoutMilliseconds, targets: targets))
    }

    private func target(_ spec: LambdaIntegrationSpec, stage: StageContext) -> LambdaTarget? {
        guard let uri = substitute(spec.uri, stage: stage, file: spec.file, line: spec.uriLine, label: spec.label)
        else { return nil }
        let prefix = uri == spec.uri ? "\(spec.label): " : "\(spec.label): stage '\(stage.label)': "
        let function: LambdaFunctionReference
        switch LambdaFunctionReference.fromIntegrationURI(uri) {
        case .failure(let problem):
            // Only a URI with stage variables gets here (the importer checked the others): the stage
            // made it wrong.
            error(spec.file, spec.uriLine, prefix + "the AWS_PROXY URI '\(uri)' is not a Lambda function: "
                  + problem.message)
            return nil
        case .success(let reference):
            function = reference
        }
        guard let endpoint = function.lookupKeys.lazy.compactMap({ self.lambdaFunctions[$0] }).first else {
            warning(spec.file, spec.uriLine, prefix + "Lambda function '\(function.description)' is not in "
                    + "lambda_functions; answers 500")
            return nil
        }
        let entryPrefix = "lambda_functions '\(endpoint.key)': "
        let tls = endpoint.url.scheme == "https" ? UpstreamTLS(serverName: endpoint.url.host, verify: true) : nil
        guard let upstream = upstreamIndex(endpoint.url, tls: tls, file: configPath, line: endpoint.line,
                                           prefix: entryPrefix)
        else { return nil }
        return LambdaTarget(upstream: upstream, hostHeader: endpoint.url.hostHeader, functionName: function.name,
                            invocationPath: endpoint.invocationPath)
    }

    /// A Lambda authorizer's function (`authorizerUri`), as an AWS_PROXY function is found; nil
    /// (with a warning) when it cannot be invoked here.
    func authorizerFunction(_ uri: String, file: String, line: Int, label: String) -> LambdaTarget? {
        guard !uri.contains("${") else {
            warning(file, line, "\(label): authorizerUri '\(uri)' uses stage variables, which Sluice does not "
                    + "substitute in authorizers; the methods it protects answer 500 (AuthorizerConfigurationException)")
            return nil
        }
        let function: LambdaFunctionReference
        switch LambdaFunctionReference.fromIntegrationURI(uri) {
        case .failure(let problem):
            warning(file, line, "\(label): authorizerUri '\(uri)' is not a Lambda function: \(problem.message); the "
                    + "methods it protects answer 500 (AuthorizerConfigurationException)")
            return nil
        case .success(let reference):
            function = reference
        }
        guard let endpoint = function.lookupKeys.lazy.compactMap({ self.lambdaFunctions[$0] }).first else {
            warning(file, line, "\(label): Lambda function '\(function.description)' is not in lambda_functions; the "
                    + "methods it protects answer 500 (AuthorizerConfigurationException)")
            return nil
        }
        let tls = endpoint.url.scheme == "https" ? UpstreamTLS(serverName: endpoint.url.host, verify: true) : nil
        guard let upstream = upstreamIndex(endpoint.url, tls: tls, file: configPath, line: endpoint.line,
                                           prefix: "lambda_functions '\(endpoint.key)': ")
        else { return nil }
        return LambdaTarget(upstream: upstream, hostHeader: endpoint.url.hostHeader, functionName: function.name,
                            invocationPath: endpoint.invocationPath)
    }

    // MARK: Shared

    /// `text` with the stage's variables substituted; reports and returns nil when one is missing.
    private func substitute(_ text: String, stage: StageContext, file: String, line: Int, label: String) -> String? {
        switch StageVariableText.substitute(text, stage.variables) {
        case .success(let substituted):
            return substituted
        case .failure(let missing):
            let names = missing.names.map { "'\($0)'" }.joined(separator: ", ")
            let noun = missing.names.count == 1 ? "variable" : "variables"
            error(file, line, "\(label): stage '\(stage.label)' has no stage \(noun) \(names) (the integration URI "
                  + "uses ${stageVariables.\(missing.names[0])}); set it under stages.\(stage.name).variables")
            return nil
        }
    }

    /// The index of the upstream `url` names, created (and resolved) at its first use. A host that
    /// does not resolve is a warning, not an error: a real export must load wherever it is
    /// checked (DESIGN.md §1), and its requests answer 502 until the name resolves at a restart.
    private func upstreamIndex(_ url: UpstreamURL, tls: UpstreamTLS?, file: String, line: Int, prefix: String) -> Int? {
        // Integrations that check the same upstream differently keep apart pools.
        let checks = tls.map { " \($0.serverName) \($0.verify)" } ?? ""
        let key = "\(url.scheme)://\(url.host):\(url.port)\(checks)"
        if let index = upstreamIndices[key] { return index }
        let hostKey = "\(url.host):\(url.port)"
        let resolution = resolutions[hostKey] ?? resolve(url)
        resolutions[hostKey] = resolution
        switch resolution {
        case .failure(let problem):
            // Once, at the first use: every other use of the host fails the same way.
            if unresolvedReported.insert(hostKey).inserted {
                warning(file, line, prefix + "upstream host '\(url.host)' does not resolve (\(problem.message)); "
                        + "requests to it answer 502 until it resolves (map it under upstreams.resolve)")
            }
            upstreamIndices[key] = upstreams.count
            upstreams.append(Upstream(scheme: url.scheme, host: url.host, port: url.port, addresses: [], tls: tls))
            return upstreams.count - 1
        case .success(let addresses):
            upstreamIndices[key] = upstreams.count
            upstreams.append(Upstream(scheme: url.scheme, host: url.host, port: url.port, addresses: addresses, tls: tls))
            return upstreams.count - 1
        }
    }

    private func resolve(_ url: UpstreamURL) -> Result<[ResolvedAddress], HostResolutionError> {
        if url.isIPv6Literal { return .success([ResolvedAddress(host: url.host, port: url.port, isIPv6: true)]) }
        if UpstreamURL.isIPv4Literal(url.host) {
            return .success([ResolvedAddress(host: url.host, port: url.port, isIPv6: false)])
        }
        if let fixed = staticHosts[url.host] {
            return .success(fixed.map { ResolvedAddress(host: $0.host, port: $0.port ?? url.port, isIPv6: $0.isIPv6) })
        }
        return resolver.resolve(url.host, url.port)
    }

    private func error(_ file: String, _ line: Int, _ message: String) {
        guard reported.insert("\(file):\(line):e:\(message)").inserted else { return }
        log.error(file, line, message)
    }

    private func warning(_ file: String, _ line: Int, _ message: String) {
        guard reported.insert("\(file):\(line):w:\(message)").inserted else { return }
        log.warning(file, line, message)
    }
}
