/// The request methods Sluice distinguishes. API Gateway routes only the first seven; any other
/// syntactically valid method token is `.other` and finds no route.
public enum HTTPMethod: UInt8, Sendable, CaseIterable {
    case get, head, post, put, delete, patch, options, connect, trace, other

    /// The method's name as API Gateway spells it in OpenAPI (`get`, `post`, …), lowercased.
    public var openAPIName: String {
        switch self {
        case .get: "get"
        case .head: "head"
        case .post: "post"
        case .put: "put"
        case .delete: "delete"
        case .patch: "patch"
        case .options: "options"
        case .connect: "connect"
        case .trace: "trace"
        case .other: "other"
        }
    }
}

public enum HTTPVersion: UInt8, Sendable {
    case http10, http11
}

/// How the request body is delimited (RFC 9112 §6.3).
public enum BodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
}

/// One header field, as ranges into the bytes the head was parsed from.
public struct HeaderField: Equatable, Sendable {
    public var name: Range<Int>
    public var value: Range<Int>

    public init(name: Range<Int>, value: Range<Int>) {
        self.name = name
        self.value = value
    }
}

/// Why a request was refused; each maps to the status the client receives. After any of these the
/// connection is closed, since the framing of what follows cannot be trusted.
public enum RequestError: Error, Equatable, Sendable {
    /// 400: malformed syntax, smuggling attempts, forbidden characters.
    case badRequest
    /// 431: request line and headers over `headBytesMax`, or more than `headersMax` fields.
    case headTooLarge
    /// 413: body over `bodyBytesMax`.
    case bodyTooLarge
    /// 501: a transfer coding other than `chunked`.
    case notImplemented
    /// 505: an HTTP major version other than 1.
    case versionNotSupported
    /// 417: an `Expect` other than `100-continue`.
    case expectationFailed
    /// 408: the head did not arrive within the header timeout.
    case timeout

    public var status: Int {
        switch self {
        case .badRequest: 400
        case .headTooLarge: 431
        case .bodyTooLarge: 413
        case .notImplemented: 501
        case .versionNotSupported: 505
        case .expectationFailed: 417
        case .timeout: 408
        }
    }
}

/// Limits enforced while parsing. All are settings (`limits:` in sluice.yaml).
public struct RequestLimits: Sendable, Equatable {
    /// Request line plus header fields plus the blank line, in bytes (API Gateway: 10,240).
    public var headBytesMax: Int
    /// Number of header fields.
    public var headersMax: Int
    /// Body bytes after transfer decoding (API Gateway: 10 MB).
    public var bodyBytesMax: Int

    public init(headBytesMax: Int = 10_240, headersMax: Int = 100, bodyBytesMax: Int = 10_485_760) {
        self.headBytesMax = headBytesMax
        self.headersMax = headersMax
        self.bodyBytesMax = bodyBytesMax
    }
}

/// A parsed request head. Every range indexes the byte buffer the head was parsed from, which the
/// caller keeps alive while it uses the head. One value is reused for every request on a worker:
/// `headers` keeps its capacity, so parsing does not allocate in steady state.
public struct RequestHead: Sendable, Equatable {
    public var method: HTTPMethod = .get
    public var methodName: Range<Int> = 0..<0
    /// The whole request-target as sent.
    public var target: Range<Int> = 0..<0
    /// The path of the target (origin-form up to `?`; for absolute-form, the path after the authority).
    public var path: Range<Int> = 0..<0
    /// The query after `?`, without it; empty when there is none.
    public var query: Range<Int> = 0..<0
    public var version: HTTPVersion = .http11
    /// The `Host` field value (or the authority of an absolute-form target); empty when absent.
    public var host: Range<Int> = 0..<0
    public var headers: [HeaderField] = []
    public var framing: BodyFraming = .none
    /// Whether the connection may stay open after this exchange (version default plus `Connection`).
    public var keepAlive: Bool = true
    /// `Expect: 100-continue` was sent.
    public var expectsContinue: Bool = false
    /// Bytes from the first byte given to the parser through the blank line that ends the head:
    /// the request line and fields, plus any empty lines before the request line, which RFC 9112
    /// §2.2 says to skip (and an empty chunked body the head took in: `absorbEmptyChunkedBody`).
    /// Bytes from here on are the body or the next request.
    public var headLength: Int = 0

    public init(headersCapacity: Int = 100) {
        headers.reserveCapacity(headersCapacity)
    }

    /// A chunked body that is all at hand and empty (`0\r\n\r\n`, with any chunk extensions or
    /// trailer fields) is no body: the head takes its bytes in and the request goes on bodyless,
    /// so an upstream gets `Content-Length: 0` and a function a null body, as API Gateway sends
    /// them. `bytes` starts where the head does. A body with data, not all here yet, or malformed
    /// stays chunked, for the body's reader.
    public mutating func absorbEmptyChunkedBody(_ bytes: Span<UInt8>) {
        guard framing == .chunked else { return }
        var decoder = ChunkedBodyDecoder(bodyBytesMax: 0)
        let step = decoder.decode(bytes.extracting(headLength..<bytes.count))
        guard step.state == .done else { return }
        headLength += step.consumed
        framing = .length(0)
    }
}
