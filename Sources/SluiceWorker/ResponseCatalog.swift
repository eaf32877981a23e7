import SluiceConfig
import SluiceHTTP1

/// Every response a worker can answer without an upstream, prepared once at start: status line,
/// static headers and `Content-Length` in `head`, the body in `body`. Per request the worker adds
/// only `Date`, `x-amzn-RequestId` and, when needed, `Connection`.
struct PreparedResponse {
    var status: Int
    var head: [UInt8]
    var body: [UInt8]
}

/// The gateway's own answers, with API Gateway's status, body and `x-amzn-ErrorType`.
enum GatewayAnswer: Int, CaseIterable {
    case missingAuthenticationToken
    case internalServerError
    case badRequest
    case requestTimeout
    case bodyTooLarge
    case headTooLarge
    case expectationFailed
    case notImplemented
    case versionNotSupported
    case badGateway
    case endpointTimeout
    case serviceUnavailable
    /// A Lambda function failed, on an HTTP API (payload format 2.0).
    case functionFailed
    /// Missing, unknown or disabled API key.
    case forbidden
    /// A throttle refused the request.
    case tooManyRequests
    /// The key's quota is used up.
    case limitExceeded

    var status: Int {
        switch self {
        case .missingAuthenticationToken: 403
        case .internalServerError: 500
        case .badRequest: 400
        case .requestTimeout: 408
        case .bodyTooLarge: 413
        case .headTooLarge: 431
        case .expectationFailed: 417
        case .notImplemented: 501
        case .versionNotSupported: 505
        case .badGateway: 502
        case .endpointTimeout: 504
        case .serviceUnavailable: 503
        case .functionFailed: 500
        case .forbidden: 403
        case .tooManyRequests, .limitExceeded: 429
        }
    }

    /// API Gateway's body: the message as JSON (some of its answers put a space after the colon).
    var body: String {
        switch self {
        case .internalServerError, .badGateway, .endpointTimeout: #"{"message": ""# + message + #""}"#
        default: #"{"message":""# + message + #""}"#
        }
    }

    /// The message of `body`, for the access log's `$context.error.message`.
    var message: String {
        switch self {
        case .missingAuthenticationToken: "Missing Authentication Token"
        case .internalServerError, .badGateway: "Internal server error"
        case .badRequest: "Bad Request"
        case .requestTimeout: "Request Timeout"
        case .bodyTooLarge: "Request Too Long"
        case .headTooLarge: "Request Header Fields Too Large"
        case .expectationFailed: "Expectation Failed"
        case .notImplemented: "Not Implemented"
        case .versionNotSupported: "HTTP Version Not Supported"
        case .endpointTimeout: "Endpoint request timed out"
        case .serviceUnavailable: "Service Unavailable"
        case .functionFailed: "Internal Server Error"
        case .forbidden: "Forbidden"
        case .tooManyRequests: "Too Many Requests"
        case .limitExceeded: "Limit Exceeded"
        }
    }

    /// API Gateway's gateway response type, for `$context.error.responseType`.
    var responseType: String {
        switch self {
        case .missingAuthenticationToken: "MISSING_AUTHENTICATION_TOKEN"
        case .internalServerError, .notImplemented, .versionNotSupported, .serviceUnavailable: "DEFAULT_5XX"
        case .badRequest, .requestTimeout, .headTooLarge, .expectationFailed: "DEFAULT_4XX"
        case .bodyTooLarge: "REQUEST_TOO_LARGE"
        case .badGateway, .functionFailed: "INTEGRATION_FAILURE"
        case .endpointTimeout: "INTEGRATION_TIMEOUT"
        case .forbidden: "INVALID_API_KEY"
        case .tooManyRequests: "THROTTLED"
        case .limitExceeded: "QUOTA_EXCEEDED"
        }
    }

    var errorType: String? {
        switch self {
        case .missingAuthenticationToken: "MissingAuthenticationTokenException"
        case .forbidden: "ForbiddenException"
        case .tooManyRequests: "TooManyRequestsException"
        case .limitExceeded: "LimitExceededException"
        default: nil
        }
    }

    init(_ error: RequestError) {
        switch error {
        case .badRequest: self = .badRequest
        case .headTooLarge: self = .headTooLarge
        case .bodyTooLarge: self = .bodyTooLarge
        case .notImplemented: self = .notImplemented
        case .versionNotSupported: self = .versionNotSupported
        case .expectationFailed: self = .expectationFailed
        case .timeout: self = .requestTimeout
        }
    }
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
