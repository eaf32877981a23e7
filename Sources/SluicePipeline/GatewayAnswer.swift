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
    /// A Lambda authorizer could not be invoked, timed out, or its emulator failed.
    case authorizerFailure
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
    /// A body an IAM-signed request must hash came chunked (SigV4 signs a known length): 411.
    case lengthRequired
    /// No request template matches the request's Content-Type and the integration's
    /// passthroughBehavior passes nothing through: 415.
    case unsupportedMediaType
    /// A mapping template's output is larger than the worker's template buffers: 500.
    case templateTooLarge
    /// Request validation: a required query parameter or header is missing or blank (the
    /// message names them, per request), or the body does not match its model.
    case badRequestParameters
    case badRequestBody

    // Authorization (SluiceAuth): IAM (Signature Version 4).
    /// The `Authorization` header is not a complete SigV4 one, or `X-Amz-Date` is missing.
    case incompleteSignature
    /// The signature (or its scope, or the payload's hash) does not match.
    case invalidSignature
    /// The request's time is more than five minutes from the gateway's.
    case signatureExpired
    /// An access key or session token the gateway does not know.
    case unrecognizedClient
    /// Temporary credentials past their expiry.
    case expiredToken

    // JWT authorizers of REST APIs (Cognito user pools): 401 for a missing or invalid token.
    case unauthorized
    case tokenExpired
    // JWT authorizers of HTTP APIs: 401 with a `www-authenticate` challenge saying why, and 403
    // when the token lacks the route's scopes.
    case jwtMissing
    case jwtMalformed
    case jwtInvalidSignature
    case jwtExpired
    case jwtNotYetValid
    case jwtInvalidIssuer
    case jwtInvalidAudience
    case jwtInsufficientScope

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
        case .authorizerConfigurationError, .authorizerFailure, .apiConfigurationError, .reservedHeaderMapped: 500
        case .explicitDeny, .accessDenied: 403
        case .misdirectedRequest: 421
        case .lengthRequired: 411
        case .unsupportedMediaType: 415
        case .templateTooLarge: 500
        case .badRequestParameters, .badRequestBody: 400
        case .incompleteSignature, .invalidSignature, .signatureExpired, .unrecognizedClient, .expiredToken: 403
        case .unauthorized, .tokenExpired, .jwtMissing, .jwtMalformed, .jwtInvalidSignature, .jwtExpired, .jwtNotYetValid,
             .jwtInvalidIssuer, .jwtInvalidAudience: 401
        case .jwtInsufficientScope: 403
        }
    }

    /// Header lines the answer carries besides the gateway's own (an HTTP API's JWT challenge).
    public var headers: [(name: String, value: String)] {
        let challenge: String
        switch self {
        case .jwtMissing: return [("www-authenticate", "Bearer")]
        case .jwtMalformed: challenge = "the token is malformed"
        case .jwtInvalidSignature: challenge = "the token's signature is invalid"
        case .jwtExpired: challenge = "the token has expired"
        case .jwtNotYetValid: challenge = "the token is not valid yet"
        case .jwtInvalidIssuer: challenge = "the token has an invalid issuer"
        case .jwtInvalidAudience: challenge = "the token does not have a valid audience"
        case .jwtInsufficientScope:
            return [("www-authenticate", #"Bearer error="insufficient_scope" error_description="the token does not "#
                     + #"have the required scope""#)]
        default: return []
        }
        return [("www-authenticate", #"Bearer error="invalid_token" error_description=""# + challenge + #"""#)]
    }

    /// API Gateway's body: the message as JSON (some of its answers put a space after the colon,
    /// the access-denied ones spell `Message`, and a misconfigured authorizer's is null).
    public var body: String {
        switch self {
        case .internalServerError, .badGateway, .endpointTimeout, .apiConfigurationError, .reservedHeaderMapped,
             .templateTooLarge:
            #"{"message": ""# + message + #""}"#
        case .authorizerConfigurationError, .authorizerFailure: #"{"message": null}"#
        case .badRequestParameters, .badRequestBody: #"{"message": ""# + message + #""}"#
        case .explicitDeny, .accessDenied: #"{"Message":""# + message + #""}"#
        default: #"{"message":""# + message + #""}"#
        }
    }

    /// The message of `body`, for the access log's `$context.error.message`.
    public var message: String {
        switch self {
        case .missingAuthenticationToken: "Missing Authentication Token"
        case .internalServerError, .badGateway, .apiConfigurationError, .reservedHeaderMapped, .templateTooLarge:
            "Internal server error"
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
        case .authorizerConfigurationError, .authorizerFailure: "null"
        case .explicitDeny: "User is not authorized to access this resource with an explicit deny"
        case .accessDenied: "User is not authorized to access this resource"
        case .misdirectedRequest: "Misdirected Request"
        case .lengthRequired: "Length Required"
        case .unsupportedMediaType: "Unsupported Media Type"
        case .badRequestParameters: "Missing required request parameters"
        case .badRequestBody: "Invalid request body"
        case .incompleteSignature:
            "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters, and either a "
                + "'X-Amz-Date' header or a 'Date' header."
        case .invalidSignature:
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
                + "Access Key and signing method. Consult the service documentation for details."
        case .signatureExpired: "Signature expired: the request's time is more than 5 minutes from the gateway's."
        case .unrecognizedClient: "The security token included in the request is invalid."
        case .expiredToken: "The security token included in the request is expired"
        case .unauthorized, .jwtMissing, .jwtMalformed, .jwtInvalidSignature, .jwtExpired, .jwtNotYetValid,
             .jwtInvalidIssuer, .jwtInvalidAudience: "Unauthorized"
        case .tokenExpired: "The incoming token has expired"
        case .jwtInsufficientScope: "Forbidden"
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
        case .authorizerFailure: "AUTHORIZER_FAILURE"
        case .explicitDeny, .accessDenied: "ACCESS_DENIED"
        case .apiConfigurationError, .reservedHeaderMapped: "API_CONFIGURATION_ERROR"
        case .lengthRequired: "DEFAULT_4XX"
        case .unsupportedMediaType: "UNSUPPORTED_MEDIA_TYPE"
        case .badRequestParameters: "BAD_REQUEST_PARAMETERS"
        case .badRequestBody: "BAD_REQUEST_BODY"
        case .templateTooLarge: "DEFAULT_5XX"
        case .incompleteSignature, .invalidSignature, .signatureExpired, .unrecognizedClient: "INVALID_SIGNATURE"
        case .expiredToken: "EXPIRED_TOKEN"
        case .unauthorized, .tokenExpired, .jwtMissing, .jwtMalformed, .jwtInvalidSignature, .jwtExpired, .jwtNotYetValid,
             .jwtInvalidIssuer, .jwtInvalidAudience: "UNAUTHORIZED"
        case .jwtInsufficientScope: "ACCESS_DENIED"
        }
    }

    public var errorType: String? {
        switch self {
        case .missingAuthenticationToken: "MissingAuthenticationTokenException"
        case .forbidden: "ForbiddenException"
        case .tooManyRequests: "TooManyRequestsException"
        case .limitExceeded: "LimitExceededException"
        case .authorizerConfigurationError: "AuthorizerConfigurationException"
        case .authorizerFailure: "AuthorizerFailureException"
        case .explicitDeny, .accessDenied: "AccessDeniedException"
        case .reservedHeaderMapped: "InternalServerErrorException"
        case .unsupportedMediaType: "UnsupportedMediaTypeException"
        case .badRequestParameters, .badRequestBody: "BadRequestException"
        case .incompleteSignature: "IncompleteSignatureException"
        case .invalidSignature, .signatureExpired: "InvalidSignatureException"
        case .unrecognizedClient: "UnrecognizedClientException"
        case .expiredToken: "ExpiredTokenException"
        case .unauthorized, .tokenExpired, .jwtMissing, .jwtMalformed, .jwtInvalidSignature, .jwtExpired, .jwtNotYetValid,
             .jwtInvalidIssuer, .jwtInvalidAudience: "UnauthorizedException"
        case .jwtInsufficientScope: "ForbiddenException"
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
