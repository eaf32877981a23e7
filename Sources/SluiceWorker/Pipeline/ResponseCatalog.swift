import SluiceCompression
import SluiceConfig
import SluiceCORS
import SluiceHTTP1
import SluicePipeline

/// Every response a worker can answer without an upstream, prepared once at start: status line,
/// static headers and `Content-Length` in `head`, the body in `body`. Per request the worker adds
/// only `Date`, `x-amzn-RequestId` and, when needed, `Connection`.
struct PreparedResponse {
    var status: Int
    var head: [UInt8]
    var body: [UInt8]
    /// A gateway response whose template is rendered per answer (`GatewayResponseValues.templates`):
    /// `head` has no `Content-Length` and `body` is empty.
    var rendersBody = false
}

struct ResponseCatalog {
    /// Indexed by operation, then one per `GatewayAnswer` after them, then each API's own shape
    /// of every answer (for APIs with gateway responses), then each CORS API's preflight answer,
    /// then static MOCKs' compressed answers.
    private(set) var responses: [PreparedResponse] = []
    let operationCount: Int
    /// The longest `head`, to know how much output space a response needs at least.
    private(set) var headBytesMax = 0
    /// By response index: the gateway answer it is (a raw value), or -1.
    private var answers: [Int16] = []
    /// By API: where its shaped answers start, or -1 when it shapes none.
    private var shapedBase: [Int32] = []
    /// By API: its preflight answer, or -1 without CORS.
    private var preflights: [Int32] = []
    /// By operation: where a static MOCK's compressed forms are (gzip, then deflate), for an API
    /// that compresses answers as large as its body (Compression.swift); -1 for none.
    private var compressedForms: [Int32] = []

    init(deployment: Deployment, corsPolicies: [CORSPolicy?], compressor: Compressor) {
        operationCount = deployment.operations.count
        for operation in deployment.operations {
            switch operation.integration {
            case .mock(let mock):
                responses.append(ResponseCatalog.prepare(mock.response))
            case .unsupported:
                responses.append(ResponseCatalog.prepare(answer: .internalServerError))
            case .http, .lambdaProxy: responses.append(ResponseCatalog.prepare(answer: .internalServerError))
            }
        }
        answers = Array(repeating: -1, count: responses.count)
        for answer in GatewayAnswer.allCases {
            responses.append(ResponseCatalog.prepare(answer: answer))
            answers.append(Int16(answer.rawValue))
        }
        for api in deployment.apis {
            guard !api.gatewayResponses.isEmpty else {
                shapedBase.append(-1)
                continue
            }
            shapedBase.append(Int32(responses.count))
            for answer in GatewayAnswer.allCases {
                responses.append(ResponseCatalog.prepare(answer: answer, shapedBy: api.gatewayResponses))
                answers.append(Int16(answer.rawValue))
            }
        }
        for policy in corsPolicies {
            guard let policy else {
                preflights.append(-1)
                continue
            }
            preflights.append(Int32(responses.count))
            // 204, the methods, headers and max age; the response writer adds the origin line.
            responses.append(PreparedResponse(status: 204, head: ResponseHead.statusLine(204) + policy.preflightLines,
                                              body: []))
            answers.append(-1)
        }
        // A static MOCK's answer is compressed once, here, in both codings.
        compressedForms = Array(repeating: -1, count: operationCount)
        for (index, operation) in deployment.operations.enumerated() {
            guard case .mock(let mock) = operation.integration, !mock.isDynamic, operation.api < deployment.apis.count,
                  let minimum = deployment.apis[operation.api].minimumCompressionSizeBytes,
                  let forms = ResponseCatalog.compressedForms(of: mock.response, minimumBytes: minimum, compressor: compressor)
            else { continue }
            compressedForms[index] = Int32(responses.count)
            responses.append(forms.gzip)
            responses.append(forms.deflate)
            answers.append(-1)
            answers.append(-1)
        }
        headBytesMax = responses.map(\.head.count).max() ?? 0
    }

    func index(of answer: GatewayAnswer) -> Int { operationCount + answer.rawValue }

    /// An operation's static MOCK answer compressed with `coding`, when it has one; else `response`.
    func compressed(_ response: Int, _ coding: ContentCoding) -> Int {
        guard coding != .identity, response < operationCount, compressedForms[response] >= 0 else { return response }
        return Int(compressedForms[response]) + (coding == .gzip ? 0 : 1)
    }

    /// The response to send for `response` to a request of `api` (-1: none): the API's own
    /// shape of a gateway answer when its gateway responses give one, else `response` itself.
    func shaped(_ response: Int, api: Int) -> Int {
        guard api >= 0, shapedBase[api] >= 0, let answer = answer(at: response) else { return response }
        return Int(shapedBase[api]) + answer.rawValue
    }

    /// The preflight answer of a CORS API, or nil.
    func preflight(api: Int) -> Int? {
        let index = preflights[api]
        return index >= 0 ? Int(index) : nil
    }

    /// The gateway's answer a response index stands for; nil for an operation's own (a mock's)
    /// and for preflights.
    func answer(at index: Int) -> GatewayAnswer? {
        guard index >= 0, index < answers.count else { return nil }
        return GatewayAnswer(rawValue: Int(answers[index]))
    }

    subscript(index: Int) -> PreparedResponse { responses[index] }

    static func prepare(_ mock: MockResponse) -> PreparedResponse {
        var head = ResponseHead.statusLine(mock.status)
        // 204 and 304 end at their head (RFC 9110 §6.4.1): a body or a Content-Length there
        // would be read by the client as the start of the next response.
        let hasBody = mock.status != 204 && mock.status != 304
        if hasBody {
            head += ResponseHead.headerLine("Content-Type", mock.contentType ?? "application/json")
        }
        // Mapped names that frame the response or that the gateway writes go remapped, or not at all.
        for header in mock.headers {
            head += ReservedResponseHeaders.line(header.name, header.value) ?? []
        }
        if hasBody {
            head += ResponseHead.headerLine("Content-Length", String(mock.body.count))
        }
        return PreparedResponse(status: mock.status, head: head, body: hasBody ? mock.body : [])
    }

    /// A MOCK's answer with its body compressed, as gzip and as deflate: nil when API Gateway
    /// would not compress it (no body, under the minimum, a `Content-Encoding` of its own).
    static func compressedForms(of mock: MockResponse, minimumBytes: Int, compressor: Compressor)
        -> (gzip: PreparedResponse, deflate: PreparedResponse)? {
        guard mock.status != 204, mock.status != 206, mock.status != 304, !mock.body.isEmpty,
              mock.body.count >= minimumBytes,
              !mock.headers.contains(where: { ["content-encoding", "content-range"].contains($0.name.lowercased()) })
        else { return nil }
        func form(_ coding: ContentCoding) -> PreparedResponse? {
            guard compressor.compress(mock.body.span, as: coding) else { return nil }
            var compressed = mock
            compressed.body = Array(compressor.output[0..<compressor.outputCount])
            compressed.headers.append(ResponseHeader(name: "Content-Encoding", value: coding == .gzip ? "gzip" : "deflate"))
            compressed.headers.append(ResponseHeader(name: "Vary", value: "Accept-Encoding"))
            return prepare(compressed)
        }
        guard let gzip = form(.gzip), let deflate = form(.deflate) else { return nil }
        return (gzip, deflate)
    }

    /// A gateway answer as an API's gateway responses shape it: the entry for its response type,
    /// else the API's DEFAULT_4XX or DEFAULT_5XX, else as API Gateway sends it.
    /// The gateway response that shapes `answer`: its own type's, else DEFAULT_4XX or DEFAULT_5XX.
    static func shape(of answer: GatewayAnswer, in settings: [GatewayResponseSettings]) -> GatewayResponseSettings? {
        let fallback = answer.status < 500 ? "DEFAULT_4XX" : "DEFAULT_5XX"
        return settings.first { $0.responseType == answer.responseType } ?? settings.first { $0.responseType == fallback }
    }

    /// Where `api`'s shape of `answer` is, or nil when the API shapes no answer.
    func shapedIndex(of answer: GatewayAnswer, api: Int) -> Int? {
        shapedBase[api] >= 0 ? Int(shapedBase[api]) + answer.rawValue : nil
    }

    /// The answer as the API's gateway responses shape it. Headers mapped from the request are
    /// not here: the response writer adds them (GatewayResponses.swift), and a mapped
    /// Content-Type replaces the template's.
    static func prepare(answer: GatewayAnswer, shapedBy settings: [GatewayResponseSettings]) -> PreparedResponse {
        guard let shape = shape(of: answer, in: settings) else {
            return prepare(answer: answer)
        }
        let status = shape.statusCode ?? answer.status
        // A template that is not plain text is rendered per answer ($context, stage variables,
        // the request's parameters).
        let rendersBody = shape.compiledTemplate.map { !$0.isStatic } ?? false
        let body = rendersBody ? [] : shape.template.map { Array($0.template.utf8) } ?? Array(answer.body.utf8)
        var head = ResponseHead.statusLine(status)
        let hasBody = status != 204 && status != 304
        // A mapped Content-Type replaces the template's; names that frame the response or that
        // the gateway writes are sent under API Gateway's remapped names; Transfer-Encoding never.
        var contentType = shape.template?.contentType ?? "application/json"
        var lines: [UInt8] = []
        for header in shape.headers {
            if header.name.lowercased() == "content-type" {
                contentType = header.value
            } else {
                lines += ReservedResponseHeaders.line(header.name, header.value) ?? []
            }
        }
        let mapsContentType = shape.mappedHeaders.contains { $0.name.lowercased() == "content-type" }
        if hasBody && !mapsContentType { head += ResponseHead.headerLine("Content-Type", contentType) }
        if let errorType = answer.errorType { head += ResponseHead.headerLine("x-amzn-ErrorType", errorType) }
        for header in answer.headers { head += ResponseHead.headerLine(header.name, header.value) }
        head += lines
        if hasBody && !rendersBody { head += ResponseHead.headerLine("Content-Length", String(body.count)) }
        return PreparedResponse(status: status, head: head, body: hasBody ? body : [], rendersBody: hasBody && rendersBody)
    }

    static func prepare(answer: GatewayAnswer) -> PreparedResponse {
        let body = Array(answer.body.utf8)
        var head = ResponseHead.statusLine(answer.status)
        head += ResponseHead.headerLine("Content-Type", "application/json")
        if let errorType = answer.errorType {
            head += ResponseHead.headerLine("x-amzn-ErrorType", errorType)
        }
        for header in answer.headers { head += ResponseHead.headerLine(header.name, header.value) }
        head += ResponseHead.headerLine("Content-Length", String(body.count))
        return PreparedResponse(status: answer.status, head: head, body: body)
    }
}
