import SluiceHTTP1

/// The gateway's own answers, with API Gateway's status, body and `x-amzn-ErrorType`.
public enum GatewayAnswer: Int, Sendable, CaseIterable {
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
    /// An authorizer failed or is not configured; also every request to a method protected by an
    /// authorizer Sluice does not enforce yet (fail closed).
    case authorizerConfigurationError
    /// A resource policy denies the request explicitly.
    case explicitDeny
    /// A resource policy exists and allows nothing the request matches.
    case accessDenied
    /// The API asks for something Sluice cannot do yet (a request validator): every request of
    /// the method is refused rather than served unchecked.
    case apiConfigurationError
    /// An integration maps a request header that frames the request (`Content-Length`,
    /// `Transfer-Encoding`): API Gateway refuses every request of the method.
    case reservedHeaderMapped
    /// On a TLS connection, the request's Host names a custom domain other than the one its
    /// handshake selected (SNI); or, on a plain connection, a domain that requires mutual TLS.
    /// Its certificate, policy or client-certificate check would be bypassed.
    case misdirectedRequest

    public var status: Int {
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
        case .authorizerConfigurationError, .apiConfigurationError, .reservedHeaderMapped: 500
        case .explicitDeny, .accessDenied: 403
        case .misdirectedRequest: 421
        }
    }

    /// API Gateway's body: the message as JSON (some of its answers put a space after the colon,
    /// the access-denied ones spell `Message`, and a misconfigured authorizer's is null).
    public var body: String {
        switch self {
        case .internalServerError, .badGateway, .endpointTimeout, .apiConfigurationError, .reservedHeaderMapped:
            #"{"message": ""# + message + #""}"#
        case .authorizerConfigurationError: #"{"message": null}"#
        case .explicitDeny, .accessDenied: #"{"Message":""# + message + #""}"#
        default: #"{"message":""# + message + #""}"#
        }
    }

    /// The message of `body`, for the access log's `$context.error.message`.
    public var message: String {
        switch self {
        case .missingAuthenticationToken: "Missing Authentication Token"
        case .internalServerError, .badGateway, .apiConfigurationError, .reservedHeaderMapped: "Internal server error"
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
        case .authorizerConfigurationError: "null"
        case .explicitDeny: "User is not authorized to access this resource with an explicit deny"
        case .accessDenied: "User is not authorized to access this resource"
        case .misdirectedRequest: "Misdirected Request"
        }
    }

    /// API Gateway's gateway response type, for `$context.error.responseType`.
    public var responseType: String {
        switch self {
        case .missingAuthenticationToken: "MISSING_AUTHENTICATION_TOKEN"
        case .internalServerError, .notImplemented, .versionNotSupported, .serviceUnavailable: "DEFAULT_5XX"
        case .badRequest, .requestTimeout, .headTooLarge, .expectationFailed, .misdirectedRequest: "DEFAULT_4XX"
        case .bodyTooLarge: "REQUEST_TOO_LARGE"
        case .badGateway, .functionFailed: "INTEGRATION_FAILURE"
        case .endpointTimeout: "INTEGRATION_TIMEOUT"
        case .forbidden: "INVALID_API_KEY"
        case .tooManyRequests: "THROTTLED"
        case .limitExceeded: "QUOTA_EXCEEDED"
        case .authorizerConfigurationError: "AUTHORIZER_CONFIGURATION_ERROR"
        case .explicitDeny, .accessDenied: "ACCESS_DENIED"
        case .apiConfigurationError, .reservedHeaderMapped: "API_CONFIGURATION_ERROR"
        }
    }

    public var errorType: String? {
        switch self {
        case .missingAuthenticationToken: "MissingAuthenticationTokenException"
        case .forbidden: "ForbiddenException"
        case .tooManyRequests: "TooManyRequestsException"
        case .limitExceeded: "LimitExceededException"
        case .authorizerConfigurationError: "AuthorizerConfigurationException"
        case .explicitDeny, .accessDenied: "AccessDeniedException"
        case .reservedHeaderMapped: "InternalServerErrorException"
        default: nil
        }
    }

    public init(_ error: RequestError) {
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
