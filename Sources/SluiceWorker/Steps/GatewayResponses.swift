import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceTemplates
import SluiceURing

/// One header line of a shaped gateway answer whose value is read per request.
struct GatewayLine {
    enum Value {
        /// Read from the request when its head was at hand: slot `n` of its captures.
        case captured(Int)
        /// Known when the answer is written (`$context.requestId`, `error.*`, …).
        case context(ContextVariable)
        /// Stage variable `n` of `GatewayResponseValues.stageVariables`, for the request's stage.
        case stageVariable(Int)
    }

    /// `Name: ` (or `x-amzn-Remapped-Name: `).
    var prefix: [UInt8]
    var value: Value
}

/// A gateway response's template, rendered per answer, and where each value it reads comes from.
struct GatewayTemplate {
    enum Source {
        case value(GatewayLine.Value)
        /// `$input.params('NAME')`: the path parameter, else the query parameter, else the header.
        case firstOf(GatewayLine.Value, GatewayLine.Value, GatewayLine.Value)
        /// A value a gateway response does not have (an authorizer's context, a name Sluice
        /// does not provide): it renders as nothing.
        case nothing
    }

    let template: Template
    let sources: [Source]
}

/// The gateway responses' mapped headers (`gatewayresponse.header.NAME: method.request.header.X`),
/// compiled at start. A request of an API with such headers has what they read of it captured
/// when its head is parsed (a gateway answer may be written long after its head is gone: an
/// integration timeout), into its slot of `Worker.gatewayCaptures`; the rest is read when the
/// answer is written. Both go through the one evaluator of request values.
struct GatewayResponseValues {
    /// A captured value longer than this is cut.
    static let valueBytesMax = 1_024
    static let slotStride = 2 + valueBytesMax
    /// Values to capture, by operation, then one list per API for requests no resource answers
    /// (empty when the API maps nothing from the request).
    let captures: [[RequestValue]]
    let operationCount: Int
    /// By catalog response index: the lines its answer adds (empty for most), and its template
    /// when it renders one per answer.
    let lines: [[GatewayLine]]
    let templates: [GatewayTemplate?]
    /// By stage: the values of the stage variables the lines read.
    let stageVariables: [[[UInt8]]]
    /// The most captures one request makes, and the most bytes lines add to one head.
    let capturesMax: Int
    let linesBytesMax: Int

    init(deployment: Deployment, catalog: ResponseCatalog, apiKeyNames: [[UInt8]]) {
        var variableNames: [String] = []
        var captureSources: [[GatewayResponseSource]] = []
        var lines = Array(repeating: [GatewayLine](), count: catalog.responses.count)
        var templates = [GatewayTemplate?](repeating: nil, count: catalog.responses.count)
        var linesBytesMax = 0
        // Any answer-time `$context` value is at most this long (ids, times, names, messages).
        let namesMax = (deployment.apis.map(\.name.utf8.count) + deployment.stages.map(\.name.utf8.count)
                        + deployment.operations.map(\.resourcePath.utf8.count) + apiKeyNames.map(\.count)).max() ?? 0
        let contextBytesMax = 256 + namesMax
        for (api, settings) in deployment.apis.enumerated() {
            var sources: [GatewayResponseSource] = []
            for answer in GatewayAnswer.allCases {
                guard let shape = ResponseCatalog.shape(of: answer, in: settings.gatewayResponses),
                      let response = catalog.shapedIndex(of: answer, api: api) else { continue }
                var bytes = 0
                for mapping in shape.mappedHeaders {
                    guard let prefix = ReservedResponseHeaders.linePrefix(mapping.name) else { continue }
                    let value: GatewayLine.Value
                    switch mapping.source {
                    case .stageVariable(let variable):
                        if !variableNames.contains(variable) { variableNames.append(variable) }
                        value = .stageVariable(variableNames.firstIndex(of: variable)!)
                        bytes += deployment.stages.map { $0.variables[variable]?.utf8.count ?? 0 }.max() ?? 0
                    case .context(let variable) where !Self.readsTheHead(variable):
                        value = .context(variable)
                        bytes += contextBytesMax
                    default:
                        if !sources.contains(mapping.source) { sources.append(mapping.source) }
                        value = .captured(sources.firstIndex(of: mapping.source)!)
                        bytes += Self.valueBytesMax
                    }
                    lines[response].append(GatewayLine(prefix: prefix, value: value))
                    bytes += prefix.count + 2
                }
                linesBytesMax = max(linesBytesMax, bytes)
                guard let template = shape.compiledTemplate, catalog[response].rendersBody else { continue }
                func value(_ source: GatewayResponseSource) -> GatewayLine.Value {
                    if case .stageVariable(let variable) = source {
                        if !variableNames.contains(variable) { variableNames.append(variable) }
                        return .stageVariable(variableNames.firstIndex(of: variable)!)
                    }
                    if case .context(let variable) = source, !Self.readsTheHead(variable) { return .context(variable) }
                    if !sources.contains(source) { sources.append(source) }
                    return .captured(sources.firstIndex(of: source)!)
                }
                let templateSources = template.externals.map { external -> GatewayTemplate.Source in
                    switch external {
                    case .context(let name):
                        return ContextVariable(rawValue: name).map { .value(value(.context($0))) } ?? .nothing
                    case .stageVariable(let name): return .value(value(.stageVariable(name)))
                    case .pathParameter(let name): return .value(value(.pathParameter(name)))
                    case .queryParameter(let name): return .value(value(.query(name)))
                    case .header(let name): return .value(value(.header(name)))
                    case .parameter(let name):
                        return .firstOf(value(.pathParameter(name)), value(.query(name)), value(.header(name)))
                    }
                }
                templates[response] = GatewayTemplate(template: template, sources: templateSources)
            }
            captureSources.append(sources)
        }
        let apis = deployment.apis
        captures = deployment.operations.map { operation in
            captureSources[operation.api].map { Self.compile($0, operation: operation, api: apis[operation.api]) }
        } + captureSources.indices.map { api in captureSources[api].map { Self.compile($0, operation: nil, api: apis[api]) } }
        operationCount = deployment.operations.count
        self.lines = lines
        self.templates = templates
        stageVariables = deployment.stages.map { stage in
            variableNames.map { name in
                // A value that could break the header line is not sent.
                let value = Array((stage.variables[name] ?? "").utf8)
                return value.allSatisfy { $0 == 9 || ($0 >= 0x20 && $0 != 0x7F) } ? value : []
            }
        }
        capturesMax = captureSources.map(\.count).max() ?? 0
        self.linesBytesMax = linesBytesMax
    }

    /// Whether a `$context` variable reads the request's head (so a gateway answer must capture it).
    static func readsTheHead(_ variable: ContextVariable) -> Bool {
        switch variable {
        case .path, .userAgent, .domainName, .domainPrefix, .httpMethod: true
        default: false
        }
    }

    static func compile(_ source: GatewayResponseSource, operation: Operation?, api: API) -> RequestValue {
        switch source {
        case .pathParameter(let name):
            guard let index = operation?.pathParameterNames.firstIndex(of: name) else { return .literal([]) }
            return .pathParameter(index)
        case .query(let name): return .query(Array(name.utf8))
        case .header(let name): return .header(Array(name.lowercased().utf8))
        case .context(let variable): return .context(variable)
        // Stage variables are read per stage when the answer is written.
        case .stageVariable: return .literal([])
        }
    }

    /// The values request `operation` (or, for a request no resource answers, one of `api`)
    /// captures.
    func captures(operation: Int, api: Int) -> [RequestValue] {
        operation >= 0 ? captures[operation] : captures[operationCount + api]
    }
}

extension Worker {
    /// Captures what the gateway responses of the request's API read of its head.
    func captureGatewayValues(_ index: Int, _ bytes: Span<UInt8>, operation: Int, stage: Int) {
        let values = gatewayValues.captures(operation: operation, api: Int(stageAPIs[stage]))
        for (position, value) in values.enumerated() {
            let offset = position * GatewayResponseValues.slotStride
            let written = gatewayCaptures.write(slot: index, offset: offset + 2) { writer in
                appendValue(value, index, head: bytes, headAtHand: true, escaping: .none, to: &writer)
            }
            let length = min(written.byteCount, GatewayResponseValues.valueBytesMax)
            _ = gatewayCaptures.write(slot: index, offset: offset) { writer in
                writer.append(UInt8(length >> 8))
                writer.append(UInt8(length & 0xFF))
            }
        }
    }

    /// The mapped header lines of a shaped gateway answer (`response`, a catalog index).
    func appendGatewayLines(_ index: Int, response: Int, to writer: inout SlabWriter) {
        let lines = gatewayValues.lines[response]
        guard !lines.isEmpty else { return }
        let stage = Int(connections[index].request.record.stage)
        for line in lines {
            let lineStart = writer.count
            writer.append(line.prefix)
            let valueStart = writer.count
            appendGatewayValue(line.value, index, stage: stage, to: &writer)
            // A value the request does not have sends no header, as an absent source sends no
            // parameter in a request mapping.
            if writer.count == valueStart {
                writer.truncate(to: lineStart)
            } else {
                writer.append(ResponseHead.crlf)
            }
        }
    }

    /// A value of a shaped gateway answer: captured with the request's head, known now, or the
    /// stage's.
    func appendGatewayValue(_ value: GatewayLine.Value, _ index: Int, stage: Int, to writer: inout SlabWriter) {
        switch value {
        case .captured(let position):
            let offset = position * GatewayResponseValues.slotStride
            let length = gatewayCaptures.withBytes(slot: index, range: offset..<(offset + 2)) { bytes in
                Int(bytes[0]) << 8 | Int(bytes[1])
            }
            gatewayCaptures.withBytes(slot: index, range: (offset + 2)..<(offset + 2 + length)) { writer.append($0) }
        case .context(let variable):
            let noHead = Worker.noBytes
            appendValue(.context(variable), index, head: noHead.span, headAtHand: false, escaping: .none, to: &writer)
        case .stageVariable(let variable):
            if stage >= 0 { writer.append(gatewayValues.stageVariables[stage][variable]) }
        }
    }

    /// Renders the template of the shaped gateway answer `response` into the renderer's output;
    /// false when it grew past its bound.
    func renderGatewayTemplate(_ index: Int, response: Int) -> Bool {
        guard let gateway = gatewayValues.templates[response] else { return false }
        let stage = Int(connections[index].request.record.stage)
        templating.renderer.begin(gateway.template)
        for (position, source) in gateway.sources.enumerated() {
            var written = 0
            switch source {
            case .nothing:
                continue
            case .value(let value):
                written = templating.scratch.write(slot: 0, offset: 0) { writer in
                    appendGatewayValue(value, index, stage: stage, to: &writer)
                }.byteCount
            case .firstOf(let path, let query, let header):
                written = templating.scratch.write(slot: 0, offset: 0) { writer in
                    appendGatewayValue(path, index, stage: stage, to: &writer)
                    if writer.count == 0 { appendGatewayValue(query, index, stage: stage, to: &writer) }
                    if writer.count == 0 { appendGatewayValue(header, index, stage: stage, to: &writer) }
                }.byteCount
            }
            guard written > 0 else { continue }
            templating.scratch.withBytes(slot: 0, range: 0..<written) { templating.renderer.setExternal(position, $0) }
        }
        return templating.renderer.render(gateway.template) == .rendered
    }
}
