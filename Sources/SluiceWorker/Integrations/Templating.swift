import SluiceConfig
import SluiceHTTP1
import SluiceJSON
import SluicePipeline
import SluiceTemplates
import SluiceURing

/// Where one value a template reads comes from in the request: the pipeline's one evaluator of
/// request values, resolved at start.
enum TemplateSource {
    case value(RequestValue)
    /// `$input.params('name')`: the route's path parameter (index, or -1), else the query
    /// parameter, else the header.
    case parameter(path: Int, query: [UInt8], header: [UInt8])
    /// A stage variable: index into `TemplatingState.stageVariables` of the request's stage.
    case stageVariable(Int)
}

/// A compiled template with the sources of what it reads.
struct BoundTemplate {
    let template: Template
    let sources: [TemplateSource]
    /// `Content-Type: <the template's content type>\r\n`.
    let contentTypeLine: [UInt8]
}

/// One integration response of a MOCK rendered per request.
struct MockAnswer {
    let status: Int
    let contentHandling: ContentHandling?
    /// Its static headers as lines (a static Content-Type among them replaces the template's).
    let headerLines: [UInt8]
    let hasContentType: Bool
    let templates: [MappingTemplate]
    let bound: [BoundTemplate]
    /// By template: whether its content type is one of the API's binary media types.
    let binaryTemplates: [Bool]
}

/// An HTTP (non-proxy) integration's request templates.
struct HTTPRequestTemplates {
    let selection: RequestTemplates
    let bound: [BoundTemplate]
}

/// What an HTTP integration's request templates and content handling make of a request.
enum RequestBody {
    /// The client's body goes as it is.
    case passthrough
    /// The gateway made the body to send.
    case replaced(BodyReplacement)
    /// The step waits for the body, or refuses.
    case outcome(StepOutcome)
}

/// A body the gateway sends in place of the client's.
enum BodyReplacement {
    /// The renderer's output, made by this template.
    case template(BoundTemplate)
    /// The client's body, converted (`contentHandling`): in `TemplatingState.converted`.
    case converted
}

/// An HTTP (non-proxy) integration's response templates and content handling, by integration
/// response.
struct HTTPResponseTemplates {
    let templates: [[MappingTemplate]]
    let bound: [[BoundTemplate]]
    let contentHandling: [ContentHandling?]
}

/// A MOCK integration whose templates use Velocity (MockImport).
struct DynamicMock {
    let requestTemplates: RequestTemplates
    let bound: [BoundTemplate]
    let responseForStatus: [Int]
    let answers: [MockAnswer]
}

/// Mapping templates in the worker: the renderer, each operation's templated MOCK, and what
/// templates read of stages.
struct TemplatingState {
    var renderer: TemplateRenderer
    /// By operation: its MOCK, when rendered per request; its HTTP integration's request
    /// templates, when it has some (or refuses requests without one).
    let mocks: [DynamicMock?]
    let httpRequests: [HTTPRequestTemplates?]
    let httpResponses: [HTTPResponseTemplates?]
    /// The stage variables templates read, by name, and their values by stage; and every stage's
    /// variables for templates that enumerate them.
    let stageVariableNames: [String]
    let stageVariables: [[[UInt8]?]]
    let allStageVariables: [[(name: [UInt8], value: [UInt8])]]
    /// Each operation's path parameter names, for `$input.params()`.
    let pathParameterNames: [[[UInt8]]]
    /// Where a value is written before the renderer takes it, and decoded.
    let scratch: ByteSlab
    var decoded: [UInt8] = []
    static let scratchBytes = 65_536
    /// By client connection, for HTTP integrations with response templates: the request's head,
    /// kept for the exchange (what the templates read of the request, long after its bytes are
    /// gone). Pages are touched only by the connections that use them.
    let requestHeads: ByteSlab
    /// By API: its binary media types.
    let binaryTypes: [BinaryMediaTypes]
    /// A body converted to or from base64.
    var converted: [UInt8] = []

    init(deployment: Deployment, limits: Limits, clientSlots: Int) throws(SystemError) {
        renderer = TemplateRenderer(outputBytesMax: limits.bufferedBodyBytesMax, workBytesMax: 2 * limits.bufferedBodyBytesMax)
        var names: [String] = []
        func bind(_ mapping: MappingTemplate, _ operation: Operation) -> BoundTemplate {
            let sources = mapping.template.externals.map { external -> TemplateSource in
                switch external {
                case .context(let name): return .value(Self.contextValue(name))
                case .stageVariable(let name):
                    if !names.contains(name) { names.append(name) }
                    return .stageVariable(names.firstIndex(of: name)!)
                case .parameter(let name):
                    return .parameter(path: operation.pathParameterNames.firstIndex(of: name) ?? -1,
                                      query: Array(name.utf8), header: Array(name.lowercased().utf8))
                case .pathParameter(let name):
                    return .parameter(path: operation.pathParameterNames.firstIndex(of: name) ?? -1, query: [], header: [])
                case .queryParameter(let name): return .value(.query(Array(name.utf8)))
                case .header(let name): return .value(.header(Array(name.lowercased().utf8)))
                }
            }
            return BoundTemplate(template: mapping.template, sources: sources,
                                 contentTypeLine: ResponseHead.headerLine("Content-Type", mapping.contentType))
        }
        mocks = deployment.operations.map { operation in
            guard case .mock(let mock) = operation.integration, mock.isDynamic else { return nil }
            let answers = mock.integrationResponses.map { response in
                var lines: [UInt8] = []
                var hasContentType = false
                for header in response.headers {
                    if header.name.lowercased() == "content-type" {
                        hasContentType = true
                        lines += ResponseHead.headerLine("Content-Type", header.value)
                    } else {
                        lines += ReservedResponseHeaders.line(header.name, header.value) ?? []
                    }
                }
                return MockAnswer(status: response.statusCode, contentHandling: response.contentHandling,
                                  headerLines: lines, hasContentType: hasContentType,
                                  templates: response.compiledTemplates,
                                  bound: response.compiledTemplates.map { bind($0, operation) },
                                  binaryTemplates: response.compiledTemplates.map { mapping in
                                      let contentType = Array(mapping.contentType.utf8)
                                      return deployment.apis[operation.api].binaryMediaTypes.matches(contentType.span)
                                  })
            }
            return DynamicMock(requestTemplates: mock.requestTemplates,
                               bound: mock.requestTemplates.templates.map { bind($0, operation) },
                               responseForStatus: mock.responseForStatus, answers: answers)
        }
        httpRequests = deployment.operations.map { operation in
            guard case .http(let http) = operation.integration, !http.isProxy,
                  !http.requestTemplates.templates.isEmpty || http.requestTemplates.passthrough == .never
                    || http.requestTemplates.contentHandling != nil else { return nil }
            return HTTPRequestTemplates(selection: http.requestTemplates,
                                        bound: http.requestTemplates.templates.map { bind($0, operation) })
        }
        httpResponses = deployment.operations.map { operation in
            // Answers are gathered for their templates, and for conversions: by contentHandling,
            // or (with binary media types) by the request's Accept.
            guard case .http(let http) = operation.integration, !http.isProxy,
                  http.responses.contains(where: { !$0.templates.isEmpty || $0.contentHandling != nil })
                    || !deployment.apis[operation.api].binaryMediaTypes.isEmpty else { return nil }
            return HTTPResponseTemplates(templates: http.responses.map(\.templates),
                                         bound: http.responses.map { $0.templates.map { bind($0, operation) } },
                                         contentHandling: http.responses.map(\.contentHandling))
        }
        stageVariableNames = names
        stageVariables = deployment.stages.map { stage in names.map { stage.variables[$0].map { Array($0.utf8) } } }
        allStageVariables = deployment.stages.map { stage in
            stage.variables.sorted { $0.key < $1.key }.map { (Array($0.key.utf8), Array($0.value.utf8)) }
        }
        pathParameterNames = deployment.operations.map { $0.pathParameterNames.map { Array($0.utf8) } }
        scratch = try ByteSlab(slotCount: 1, slotBytes: Self.scratchBytes)
        decoded.reserveCapacity(Self.scratchBytes)
        binaryTypes = deployment.apis.map(\.binaryMediaTypes)
        converted.reserveCapacity(2 * limits.bufferedBodyBytesMax + 4)
        let heldHeads = httpResponses.contains { $0 != nil }
        requestHeads = try ByteSlab(slotCount: heldHeads ? clientSlots : 1,
                                    slotBytes: heldHeads ? limits.request.headBytesMax : 1)
    }

    /// `$context.NAME` as a request value: a variable, or an authorizer's claim or context value.
    static func contextValue(_ name: String) -> RequestValue {
        if let variable = ContextVariable(rawValue: name) { return .context(variable) }
        let claims = "authorizer.claims."
        if name.hasPrefix(claims) { return .claim(Array(name.dropFirst(claims.count).utf8)) }
        let authorizer = "authorizer."
        if name.hasPrefix(authorizer) { return .authorizer(Array(name.dropFirst(authorizer.count).utf8)) }
        // Loading warned: it renders as nothing.
        return .literal([])
    }
}

extension Worker {
    static let contentTypeName: [UInt8] = Array("content-type".utf8)
    static let acceptName: [UInt8] = Array("accept".utf8)
    static let statusCodeKey: [UInt8] = Array("statusCode".utf8)

    /// Hands the renderer what `bound` reads of the request: its values, and, for templates that
    /// enumerate them, every parameter and stage variable. `body` is the request's body, or nil
    /// when the template does not read it.
    func bindRequest(_ bound: BoundTemplate, _ index: Int, _ bytes: Span<UInt8>, body: Range<Int>?) {
        let template = bound.template
        templating.renderer.begin(template)
        if let body { templating.renderer.setBody(bytes.extracting(body)) }
        let stage = match.stage
        for (position, source) in bound.sources.enumerated() {
            switch source {
            case .stageVariable(let variable):
                if let value = templating.stageVariables[stage][variable] {
                    templating.renderer.setExternal(position, value.span)
                }
            case .value(let value):
                let written = templating.scratch.write(slot: 0, offset: 0) { writer in
                    appendValue(value, index, head: bytes, headAtHand: true, escaping: .none, to: &writer)
                }
                let decode: Bool = if case .value(.query) = source { true } else { false }
                if written.byteCount > 0 {
                    templating.scratch.withBytes(slot: 0, range: 0..<written.byteCount) { value in
                        setDecoded(position, value, decode: decode)
                    }
                }
            case .parameter(let path, let query, let header):
                var length = 0
                var decode = true
                if path >= 0 && path < match.pathParameters.count {
                    length = templating.scratch.write(slot: 0, offset: 0) { writer in
                        writer.append(bytes.extracting(head.path).extracting(match.pathParameters[path]))
                    }.byteCount
                } else if !query.isEmpty, let found = QueryString.value(of: query, in: bytes.extracting(head.query)) {
                    length = templating.scratch.write(slot: 0, offset: 0) { writer in
                        writer.append(bytes.extracting(head.query).extracting(found))
                    }.byteCount
                } else if !header.isEmpty, let found = head.value(ofHeader: header.span, in: bytes) {
                    decode = false
                    length = templating.scratch.write(slot: 0, offset: 0) { writer in writer.append(bytes.extracting(found)) }.byteCount
                } else {
                    continue
                }
                templating.scratch.withBytes(slot: 0, range: 0..<length) { value in setDecoded(position, value, decode: decode) }
            }
        }
        if template.readsAllParameters { addParameters(index, bytes) }
        if template.readsAllStageVariables {
            for variable in templating.allStageVariables[stage] {
                templating.renderer.addStageVariable(name: variable.name.span, value: variable.value.span)
            }
        }
    }

    /// `bindRequest` with the body as `awaitContent` found it (nil: the template does not read it).
    func bindContent(_ bound: BoundTemplate, _ index: Int, _ bytes: Span<UInt8>, _ content: RequestContent?) {
        switch content {
        case .bytes(let range)?: bindRequest(bound, index, bytes, body: range)
        case nil: bindRequest(bound, index, bytes, body: nil)
        case .decoded?:
            bindRequest(bound, index, bytes, body: nil)
            let decoded = compression.decompressor.output
            templating.renderer.setBody(decoded.span.extracting(0..<compression.decompressor.outputCount))
        }
    }

    /// A value from the URL goes to templates percent-decoded, as API Gateway gives them.
    private func setDecoded(_ position: Int, _ value: Span<UInt8>, decode: Bool) {
        guard decode, PercentDecoding.needsDecoding(value) else {
            templating.renderer.setExternal(position, value)
            return
        }
        templating.decoded.removeAll(keepingCapacity: true)
        PercentDecoding.decode(value, into: &templating.decoded)
        // A local copy shares the buffer (no allocation) and can lend a span.
        let decoded = templating.decoded
        templating.renderer.setExternal(position, decoded.span)
    }

    /// Every path parameter, query parameter and header, for `$input.params()`.
    private func addParameters(_ index: Int, _ bytes: Span<UInt8>) {
        let path = bytes.extracting(head.path)
        let names = templating.pathParameterNames[match.operation]
        for (position, range) in match.pathParameters.enumerated() where position < names.count {
            templating.decoded.removeAll(keepingCapacity: true)
            PercentDecoding.decode(path.extracting(range), into: &templating.decoded)
            let decoded = templating.decoded
            let name = names[position]
            templating.renderer.addParameter(.path, name: name.span, value: decoded.span)
        }
        let query = bytes.extracting(head.query)
        var start = 0
        while start < query.count {
            var end = start
            while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
            var equals = start
            while equals < end && query[equals] != UInt8(ascii: "=") { equals += 1 }
            if equals > start {
                templating.decoded.removeAll(keepingCapacity: true)
                PercentDecoding.decode(query.extracting(start..<equals), into: &templating.decoded)
                let nameEnd = templating.decoded.count
                if equals < end { PercentDecoding.decode(query.extracting((equals + 1)..<end), into: &templating.decoded) }
                let decoded = templating.decoded
                templating.renderer.addParameter(.querystring, name: decoded.span.extracting(0..<nameEnd),
                                                 value: decoded.span.extracting(nameEnd..<decoded.count))
            }
            start = end + 1
        }
        for field in head.headers {
            templating.renderer.addParameter(.header, name: bytes.extracting(field.name), value: bytes.extracting(field.value))
        }
    }

    /// An HTTP integration's request: the template for its Content-Type renders the body the
    /// upstream gets; without one, `passthroughBehavior` passes the client's or answers 415. The
    /// integration's `contentHandling` converts the body first (the template reads it converted).
    func requestBody(_ index: Int, _ bytes: Span<UInt8>, _ templates: HTTPRequestTemplates) -> RequestBody {
        let selection: RequestTemplates.Selection
        let contentType = head.value(ofHeader: Worker.contentTypeName.span, in: bytes)
        if let contentType {
            selection = templates.selection.select(contentType: bytes.extracting(contentType))
        } else {
            selection = templates.selection.select(contentType: nil)
        }
        var binary = false
        if let contentType, let api = requestAPI(index) {
            binary = templating.binaryTypes[api].matches(bytes.extracting(contentType))
        }
        let conversion = PayloadConversion.request(binary: binary, handling: templates.selection.contentHandling)
        switch selection {
        case .passthrough:
            guard conversion != .none else { return .passthrough }
            switch awaitContent(index, bytes) {
            case .wait: return .outcome(.wait)
            case .refuse(let answer): return .outcome(.refuse(answer))
            case .ready(let content):
                guard withContent(content, in: bytes, { body in convert(body, conversion) }) else {
                    return .outcome(.refuse(.internalServerError))
                }
                return .replaced(.converted)
            }
        case .unsupportedMediaType:
            return .outcome(.refuse(.unsupportedMediaType))
        case .template(let chosen):
            let bound = templates.bound[chosen]
            var content: RequestContent?
            if bound.template.readsBody {
                switch awaitContent(index, bytes) {
                case .wait: return .outcome(.wait)
                case .refuse(let answer): return .outcome(.refuse(answer))
                case .ready(let body): content = body
                }
            }
            if let content, conversion != .none {
                guard withContent(content, in: bytes, { body in convert(body, conversion) }) else {
                    return .outcome(.refuse(.internalServerError))
                }
                bindRequest(bound, index, bytes, body: nil)
                let converted = templating.converted
                templating.renderer.setBody(converted.span)
            } else {
                bindContent(bound, index, bytes, content)
            }
            guard templating.renderer.render(bound.template) == .rendered else { return .outcome(.refuse(.templateTooLarge)) }
            return .replaced(.template(bound))
        }
    }

    /// How the answer to `client` is converted, by API Gateway's table: the integration's answer
    /// is binary when its Content-Type (`contentType` in `bytes`) is a binary media type.
    func answerConversion(client: Int, contentType: Range<Int>?, in bytes: Span<UInt8>,
                          handling: ContentHandling?) -> PayloadConversion {
        var binary = false
        if let contentType, let api = requestAPI(client) {
            binary = templating.binaryTypes[api].matches(bytes.extracting(contentType))
        }
        return PayloadConversion.response(binary: binary, wantsBinary: connections[client].request.wantsBinary,
                                          handling: handling)
    }

    /// The API of the routed request, by its stage; nil when it has none.
    func requestAPI(_ index: Int) -> Int? {
        let group = Int(connections[index].request.group)
        return group >= 0 ? Int(stageAPIs[group]) : nil
    }

    /// Whether the first media type of the request's `Accept` is one of its API's binary media
    /// types.
    func wantsBinary(_ bytes: Span<UInt8>) -> Bool {
        guard match.stage >= 0 else { return false }
        let types = templating.binaryTypes[Int(stageAPIs[match.stage])]
        guard !types.isEmpty, let accept = head.value(ofHeader: Worker.acceptName.span, in: bytes) else { return false }
        return types.matches(bytes.extracting(accept))
    }

    /// Converts `body` into `templating.converted`; false when it is not base64 to decode.
    func convert(_ body: Span<UInt8>, _ conversion: PayloadConversion) -> Bool {
        templating.converted.removeAll(keepingCapacity: true)
        switch conversion {
        case .none:
            for offset in 0..<body.count { templating.converted.append(body[offset]) }
            return true
        case .base64Encode:
            Base64.encode(body, into: &templating.converted)
            return true
        case .base64Decode:
            return Base64.decode(body, into: &templating.converted)
        }
    }

    /// The body sent in place of the client's.
    func replacementBody(_ replaced: BodyReplacement) -> [UInt8] {
        switch replaced {
        case .template: templating.renderer.output
        case .converted: templating.converted
        }
    }

    /// A MOCK rendered per request: the request template (chosen by Content-Type) gives the
    /// integration status, which chooses the integration response, whose template (chosen by
    /// Accept) gives the body.
    func templatedMockStep(_ index: Int, _ bytes: Span<UInt8>, _ mock: DynamicMock) -> StepOutcome {
        var status = Worker.mockDefaultStatus
        let selection: RequestTemplates.Selection
        if let contentType = head.value(ofHeader: Worker.contentTypeName.span, in: bytes) {
            selection = mock.requestTemplates.select(contentType: bytes.extracting(contentType))
        } else {
            selection = mock.requestTemplates.select(contentType: nil)
        }
        switch selection {
        case .unsupportedMediaType:
            return .refuse(.unsupportedMediaType)
        case .passthrough:
            // The body is the integration request: its statusCode, if it has one, is the status.
            switch awaitContent(index, bytes) {
            case .wait: return .wait
            case .refuse(let answer): return .refuse(answer)
            case .ready(let content):
                status = withContent(content, in: bytes) { body in Worker.integrationStatus(body) } ?? status
            }
        case .template(let chosen):
            let bound = mock.bound[chosen]
            var content: RequestContent?
            if bound.template.readsBody {
                switch awaitContent(index, bytes) {
                case .wait: return .wait
                case .refuse(let answer): return .refuse(answer)
                case .ready(let body): content = body
                }
            }
            bindContent(bound, index, bytes, content)
            guard templating.renderer.render(bound.template) == .rendered else { return .refuse(.templateTooLarge) }
            let rendered = templating.renderer.output
            status = Worker.integrationStatus(rendered.span) ?? status
        }
        guard status >= 100 && status <= 599 else { return .refuse(.internalServerError) }
        let chosen = mock.responseForStatus[status - 100]
        guard chosen >= 0 else { return .refuse(.internalServerError) }
        let answer = mock.answers[chosen]
        let chosenTemplate: Int?
        if let accept = head.value(ofHeader: Worker.acceptName.span, in: bytes) {
            chosenTemplate = MappingTemplates.selectResponse(answer.templates, accept: bytes.extracting(accept))
        } else {
            chosenTemplate = MappingTemplates.selectResponse(answer.templates, accept: nil)
        }
        guard let template = chosenTemplate else {
            return answerRendered(index, status: answer.status, lines: answer.headerLines,
                                  contentTypeLine: answer.hasContentType ? nil : Worker.jsonContentTypeLine, rendered: false,
                                  converted: false)
        }
        let bound = answer.bound[template]
        bindRequest(bound, index, bytes, body: nil)
        guard templating.renderer.render(bound.template) == .rendered else { return .refuse(.templateTooLarge) }
        let conversion = PayloadConversion.response(binary: answer.binaryTemplates[template],
                                                    wantsBinary: connections[index].request.wantsBinary,
                                                    handling: answer.contentHandling)
        if conversion != .none {
            let output = templating.renderer.output
            guard convert(output.span, conversion) else { return .refuse(.internalServerError) }
        }
        return answerRendered(index, status: templating.renderer.statusOverride ?? answer.status, lines: answer.headerLines,
                              contentTypeLine: answer.hasContentType ? nil : bound.contentTypeLine, rendered: true,
                              converted: conversion != .none)
    }

    /// A MOCK's status when its integration request names none (as at load time).
    static let mockDefaultStatus = 200

    /// The integration status a MOCK's integration request names: its top-level `statusCode`
    /// (a number, or a string of digits); nil when it names none.
    static func integrationStatus(_ json: Span<UInt8>) -> Int? {
        guard let document = JSONScanner.document(json), document.kind == .object else { return nil }
        var members = JSONMembers(document.range)
        var status: Int?
        while let (key, value) = members.next(json) {
            guard JSONScanner.string(json, key, equals: statusCodeKey.span) else { continue }
            switch value.kind {
            case .number:
                status = JSONScanner.integer(json, value).flatMap { Int(exactly: $0) }
            case .string:
                var digits = 0
                var number = 0
                for offset in value.content where digits < 4 {
                    let byte = json[offset]
                    guard byte >= 0x30 && byte <= 0x39 else { digits = 5; break }
                    number = number * 10 + Int(byte - 0x30)
                    digits += 1
                }
                status = digits > 0 && digits < 4 ? number : nil
            default:
                status = nil
            }
        }
        return status
    }

    /// Answers a request now (a MOCK), with the response template's body (`converted`: as
    /// `templating.converted` holds it) and override headers when `rendered`: see `writeRendered`.
    func answerRendered(_ index: Int, status: Int, lines: [UInt8], contentTypeLine: [UInt8]?, rendered: Bool,
                        converted: Bool) -> StepOutcome {
        let output = converted ? templating.converted : templating.renderer.output
        let failure = rendered ? writeRendered(index, status: status, lines: lines.span, contentTypeLine: contentTypeLine,
                                               body: output.span, overrides: true, traced: false, compressible: true)
            : writeRendered(index, status: status, lines: lines.span, contentTypeLine: contentTypeLine, body: nil,
                            overrides: false, traced: false)
        if let failure { return .refuse(failure) }
        connections[index].request.id = 0
        requestAnswered(index)
        connections[index].request.pending.response = Worker.answeredByStep
        if !connections[index].request.pending.keepAlive { connections[index].closeAfterFlush = true }
        return .done
    }

    /// Writes an answer made now: the status line (`statusLine`, or the standard one of
    /// `status`), the given header lines (less those the response template's `responseOverride`
    /// headers replace, with `overrides`), those override headers, Content-Length, the gateway's
    /// own lines, and `body` (nil: none), streamed from a body buffer when it does not fit the
    /// output slot. An integration's answer (`compressible`) is compressed when the request and
    /// its API ask for it (Compression.swift). Nil when written; else the answer to give instead
    /// (nothing was written).
    func writeRendered(_ index: Int, status: Int, statusLine: Span<UInt8>? = nil, lines: Span<UInt8>,
                       contentTypeLine: [UInt8]?, body: Span<UInt8>?, overrides: Bool, traced: Bool,
                       compressible: Bool = false) -> GatewayAnswer? {
        let overrideLines = overrides ? templating.renderer.responseHeaderLines : []
        if compressible, let body {
            let coding = answerCoding(index, status: status, bodyBytes: body.count, lines: lines,
                                      moreLines: overrideLines.span)
            if coding != .identity && compressAnswer(body, coding) {
                let compressed = compression.compressor.output
                let codingLines = CompressionState.lines(coding)
                return writeAnswer(index, status: status, statusLine: statusLine, lines: lines,
                                   overrideLines: overrideLines.span, contentTypeLine: contentTypeLine,
                                   body: compressed.span.extracting(0..<compression.compressor.outputCount),
                                   codingLines: codingLines.span, traced: traced)
            }
        }
        let identity = Worker.noBytes
        return writeAnswer(index, status: status, statusLine: statusLine, lines: lines, overrideLines: overrideLines.span,
                           contentTypeLine: contentTypeLine, body: body, codingLines: identity.span, traced: traced)
    }

    /// `writeRendered`'s writer, with the body as it goes out and the lines that say how it is coded.
    private func writeAnswer(_ index: Int, status: Int, statusLine: Span<UInt8>?, lines: Span<UInt8>,
                             overrideLines: Span<UInt8>, contentTypeLine: [UInt8]?, body: Span<UInt8>?,
                             codingLines: Span<UInt8>, traced: Bool) -> GatewayAnswer? {
        if !connections[index].sendInFlight { compactOutput(index) }
        // 204 and 304 end at their head.
        let bodyBytes = status == 204 || status == 304 ? 0 : (body?.count ?? 0)
        let keepAlive = connections[index].request.pending.keepAlive && !draining
            && !(connections[index].request.expectsContinue && !connections[index].request.continueSent)
        let http10 = connections[index].request.pending.http10
        let withBody = !connections[index].request.pending.omitBody && bodyBytes > 0
        let requestID = connections[index].request.id
        let outputEnd = connections[index].outputEnd
        var copied = 0
        let written = output.write(slot: index, offset: outputEnd) { writer in
            if let statusLine { writer.append(statusLine) } else { writer.append(Worker.statusLines[status - 100]) }
            if body != nil && status != 204 && status != 304, let contentTypeLine,
               !Self.namesHeader(overrideLines, contentTypeLine.span) {
                writer.append(contentTypeLine)
            }
            Self.appendLines(lines, lessThoseIn: overrideLines, to: &writer)
            writer.append(overrideLines)
            writer.append(codingLines)
            if status != 204 && status != 304 {
                writer.append(ResponseHead.contentLengthPrefix)
                ResponseHead.appendDecimal(bodyBytes, to: &writer)
                writer.append(ResponseHead.crlf)
            }
            endResponseHead(index, requestID: requestID, keepAlive: keepAlive, http10: http10, traced: traced,
                            to: &writer)
            guard withBody, let body else { return }
            copied = min(bodyBytes, writer.freeCapacity)
            writer.append(body.extracting(0..<copied))
        }
        guard !written.overflowed else { return .templateTooLarge }
        if withBody, let body, copied < bodyBytes {
            guard bodyBytes - copied <= wholeBody.buffers.slotBytes else { return .templateTooLarge }
            // The rest waits in a body buffer, copied into the output as sends make room.
            guard queueRest(index, of: body, from: copied) else { return .serviceUnavailable }
        }
        connections[index].outputEnd += written.byteCount
        connections[index].answerStarted = true
        connections[index].request.record.responseBytes = withBody ? bodyBytes : 0
        countResponse(index, status: status)
        connections[index].request.pending.keepAlive = keepAlive
        return nil
    }

    /// Appends the header lines of `lines` whose names `overrides` does not name.
    static func appendLines(_ lines: Span<UInt8>, lessThoseIn overrides: Span<UInt8>, to writer: inout SlabWriter) {
        guard !overrides.isEmpty else {
            writer.append(lines)
            return
        }
        var start = 0
        while start < lines.count {
            var end = start
            while end < lines.count && lines[end] != 0x0A { end += 1 }
            let line = lines.extracting(start..<min(end + 1, lines.count))
            if !namesHeader(overrides, line) { writer.append(line) }
            start = end + 1
        }
    }

    /// Whether one of the header lines `lines` has the name of the header line `line`.
    static func namesHeader(_ lines: Span<UInt8>, _ line: Span<UInt8>) -> Bool {
        var nameEnd = 0
        while nameEnd < line.count && line[nameEnd] != 0x3A { nameEnd += 1 }
        var start = 0
        while start < lines.count {
            var same = start + nameEnd < lines.count && lines[start + nameEnd] == 0x3A
            var offset = 0
            while same && offset < nameEnd {
                same = TemplateRenderer.lowercased(lines[start + offset]) == TemplateRenderer.lowercased(line[offset])
                offset += 1
            }
            if same { return true }
            while start < lines.count && lines[start] != 0x0A { start += 1 }
            start += 1
        }
        return false
    }

    // MARK: HTTP integrations' response templates

    /// An HTTP integration whose integration responses have templates keeps the request's head
    /// for the exchange, in its connection's slot of `requestHeads`.
    func holdRequestForAnswer(_ index: Int, _ bytes: Span<UInt8>) {
        let headLength = head.headLength
        _ = templating.requestHeads.write(slot: index, offset: 0) { writer in
            writer.append(bytes.extracting(0..<headLength))
        }
        connections[index].answerHeadLength = Int32(headLength)
        connections[index].answerLinesLength = 0
        connections[index].answerBodyLength = 0
        connections[index].answerResponse = -1
    }

    /// The exchange is over: the held head is let go, and the answer buffer is free.
    func releaseAnswerBuffer(_ index: Int) {
        connections[index].answerHeadLength = 0
        connections[index].answerResponse = -1
        let buffer = connections[index].answerBuffer
        guard buffer >= 0 else { return }
        wholeBody.free.append(buffer)
        connections[index].answerBuffer = -1
    }

    enum AnswerBuffering {
        /// The selected integration response has no template: the answer is relayed.
        case relay
        /// The upstream's body is gathered in a body buffer, to be rendered once whole.
        case buffering
        /// No body buffer is free.
        case refuse(GatewayAnswer)
    }

    /// Whether the integration response `selected` of an answer to `client` is rendered or its
    /// body converted: then a body buffer takes the request's head, the answer's header lines
    /// and, as it arrives, the upstream's body.
    func beginBufferedAnswer(_ index: Int, client: Int, selected: Int, conversion: PayloadConversion,
                             lines: (inout SlabWriter) -> Void) -> AnswerBuffering {
        let headLength = Int(connections[client].answerHeadLength)
        guard headLength > 0, let responses = templating.httpResponses[Int(connections[client].request.record.operation)],
              selected < responses.templates.count,
              !responses.templates[selected].isEmpty || conversion != .none else { return .relay }
        connections[client].answerConversion = conversion
        guard let buffer = wholeBody.free.popLast() else { return .refuse(.serviceUnavailable) }
        connections[client].answerBuffer = buffer
        wholeBody.buffers.copy(from: templating.requestHeads, slot: client, range: 0..<headLength, toSlot: Int(buffer),
                               offset: 0)
        let written = wholeBody.buffers.write(slot: Int(buffer), offset: headLength) { writer in lines(&writer) }
        connections[client].answerLinesLength = Int32(written.byteCount)
        connections[client].answerResponse = Int32(selected)
        connections[index].bufferingAnswer = true
        return .buffering
    }

    /// Adds a piece of the upstream's body to the answer buffer; false when it does not fit.
    func bufferAnswer(client: Int, _ bytes: Span<UInt8>) -> Bool {
        let buffer = Int(connections[client].answerBuffer)
        let offset = Int(connections[client].answerHeadLength + connections[client].answerLinesLength
                         + connections[client].answerBodyLength)
        guard offset + bytes.count <= wholeBody.buffers.slotBytes else { return false }
        _ = wholeBody.buffers.write(slot: buffer, offset: offset) { writer in writer.append(bytes) }
        connections[client].answerBodyLength += Int32(bytes.count)
        return true
    }

    /// The upstream's body is whole: the response template renders the client's answer, with
    /// `$input.body` the upstream's body and `$input.params()` the request's (its head parsed
    /// again from the buffer). Nil when answered; else the answer to give instead.
    func renderBufferedAnswer(client: Int) -> GatewayAnswer? {
        if connections[client].answerResponse == Worker.gatheredToCompress { return writeGatheredAnswer(client: client) }
        let buffer = Int(connections[client].answerBuffer)
        let operation = Int(connections[client].request.record.operation)
        let selected = Int(connections[client].answerResponse)
        guard buffer >= 0, selected >= 0, let responses = templating.httpResponses[operation],
              let target = connections[client].peer >= 0 ? Int(connections[Int(connections[client].peer)].target) : nil
        else { return .internalServerError }
        let headLength = Int(connections[client].answerHeadLength)
        let linesEnd = headLength + Int(connections[client].answerLinesLength)
        let bodyEnd = linesEnd + Int(connections[client].answerBodyLength)
        return wholeBody.buffers.withBytes(slot: buffer, range: 0..<bodyEnd) { bytes -> GatewayAnswer? in
            // The request's head and route, as when it arrived.
            var parser = RequestHeadParser(limits: limits.request)
            guard case .complete = parser.parse(bytes.extracting(0..<headLength), into: &head),
                  routes(client).lookup(host: bytes.extracting(head.host), path: bytes.extracting(head.path),
                                        method: head.method, into: &match),
                  match.operation == operation else { return .internalServerError }
            let chosen: Int?
            if let accept = head.value(ofHeader: Worker.acceptName.span, in: bytes) {
                chosen = MappingTemplates.selectResponse(responses.templates[selected], accept: bytes.extracting(accept))
            } else {
                chosen = MappingTemplates.selectResponse(responses.templates[selected], accept: nil)
            }
            let response = targets[target].responses[selected]
            let conversion = connections[client].answerConversion
            guard let chosen else {
                // No template: the answer's body, converted.
                guard convert(bytes.extracting(linesEnd..<bodyEnd), conversion) else { return .internalServerError }
                let converted = templating.converted
                return writeRendered(client, status: response.status, lines: bytes.extracting(headLength..<linesEnd),
                                     contentTypeLine: nil, body: converted.span, overrides: false, traced: true,
                                     compressible: true)
            }
            let bound = responses.bound[selected][chosen]
            if conversion != .none {
                // The template reads the body converted.
                guard convert(bytes.extracting(linesEnd..<bodyEnd), conversion) else { return .internalServerError }
                bindRequest(bound, client, bytes, body: nil)
                let converted = templating.converted
                templating.renderer.setBody(converted.span)
            } else {
                bindRequest(bound, client, bytes, body: linesEnd..<bodyEnd)
            }
            guard templating.renderer.render(bound.template) == .rendered else { return .templateTooLarge }
            let rendered = templating.renderer.output
            return writeRendered(client, status: templating.renderer.statusOverride ?? response.status,
                                 lines: bytes.extracting(headLength..<linesEnd), contentTypeLine: bound.contentTypeLine,
                                 body: rendered.span, overrides: true, traced: true, compressible: true)
        }
    }

    /// Copies the next piece of a rendered body from its body buffer into the output.
    func continueBufferedBody(_ index: Int, from start: Int, count: Int) {
        let buffer = Int(connections[index].streamingBuffer)
        output.copy(from: wholeBody.buffers, slot: buffer, range: start..<(start + count), toSlot: index,
                    offset: connections[index].outputEnd)
        connections[index].outputEnd += count
    }

    /// The rendered body is all in the output (or the connection closes): its buffer is free.
    func endStreamingBuffer(_ index: Int) {
        let buffer = connections[index].streamingBuffer
        guard buffer >= 0 else { return }
        wholeBody.free.append(buffer)
        connections[index].streamingBuffer = -1
    }
}
