import SluiceConfig
import SluiceHTTP1
import SluicePipeline

/// Every response a worker can answer without an upstream, prepared once at start: status line,
/// static headers and `Content-Length` in `head`, the body in `body`. Per request the worker adds
/// only `Date`, `x-amzn-RequestId` and, when needed, `Connection`.
struct PreparedResponse {
    var status: Int
    var head: [UInt8]
    var body: [UInt8]
}

struct ResponseCatalog {
    /// Indexed by operation, then one per `GatewayAnswer` after them.
    private(set) var responses: [PreparedResponse] = []
    let operationCount: Int
    /// The longest `head`, to know how much output space a response needs at least.
    private(set) var headBytesMax = 0

    init(deployment: Deployment) {
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
        for answer in GatewayAnswer.allCases {
            responses.append(ResponseCatalog.prepare(answer: answer))
        }
        headBytesMax = responses.map(\.head.count).max() ?? 0
    }

    func index(of answer: GatewayAnswer) -> Int { operationCount + answer.rawValue }

    /// The gateway's answer a response index stands for; nil for an operation's own (a mock's).
    func answer(at index: Int) -> GatewayAnswer? { GatewayAnswer(rawValue: index - operationCount) }

    subscript(index: Int) -> PreparedResponse { responses[index] }

    static func prepare(_ mock: MockResponse) -> PreparedResponse {
        var head = ResponseHead.statusLine(mock.status)
        // 204 and 304 end at their head (RFC 9110 §6.4.1): a body or a Content-Length there
        // would be read by the client as the start of the next response.
        let hasBody = mock.status != 204 && mock.status != 304
        if hasBody {
            head += ResponseHead.headerLine("Content-Type", mock.contentType ?? "application/json")
        }
        for header in mock.headers {
            head += ResponseHead.headerLine(header.name, header.value)
        }
        if hasBody {
            head += ResponseHead.headerLine("Content-Length", String(mock.body.count))
        }
        return PreparedResponse(status: mock.status, head: head, body: hasBody ? mock.body : [])
    }

    static func prepare(answer: GatewayAnswer) -> PreparedResponse {
        let body = Array(answer.body.utf8)
        var head = ResponseHead.statusLine(answer.status)
        head += ResponseHead.headerLine("Content-Type", "application/json")
        if let errorType = answer.errorType {
            head += ResponseHead.headerLine("x-amzn-ErrorType", errorType)
        }
        head += ResponseHead.headerLine("Content-Length", String(body.count))
        return PreparedResponse(status: answer.status, head: head, body: body)
    }
}
