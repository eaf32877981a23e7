import SluiceHTTP1

// API Gateway's Lambda proxy event (AWS_PROXY), written as a stream.
//
// The worker POSTs the event to a Lambda Runtime Interface Emulator with `Transfer-Encoding:
// chunked`, so nothing here computes the event's total length: the request body is escaped or
// base64-encoded piece by piece as it arrives and is never held whole. The event is written in
// three steps, each into the worker's fixed-size output buffers through a `ByteSink`:
//
//     let state = LambdaEvent.writePrefix(…, body: .text, to: &sink)   // … ,"body":"
//     LambdaEvent.writeBodyChunk(piece, state: &state, to: &sink)      // as often as pieces come
//     LambdaEvent.writeSuffix(state: &state, to: &sink)                // ","isBase64Encoded":false}
//
// A request without a body passes `body: .none` and goes straight from the prefix to the suffix,
// which writes `"body":null` (format 1.0) or leaves `body` out (format 2.0, as HTTP APIs do).
//
// Nothing on this path allocates: the request's parts are ranges into the bytes its head was
// parsed from, values that come from the configuration are prepared once as JSON text
// (`LambdaEventContext`), and grouping repeated headers and query parameters by name sorts index
// arrays kept in a reusable `LambdaEventScratch`.

/// API Gateway's two Lambda proxy payload formats (`payloadFormatVersion`).
public enum LambdaPayloadFormat: UInt8, Sendable, Equatable {
    /// `1.0`: REST APIs' event (and HTTP APIs' when asked for), with `multiValueHeaders` and
    /// `multiValueQueryStringParameters`.
    case version1
    /// `2.0`: HTTP APIs' event: `rawPath`, `rawQueryString`, `cookies`, comma-joined values.
    case version2

    /// The format `payloadFormatVersion` names, or nil for another value.
    public init?(payloadFormatVersion: String) {
        switch payloadFormatVersion {
        case "1.0": self = .version1
        case "2.0": self = .version2
        default: return nil
        }
    }
}

/// How the request body goes into the event.
public enum LambdaBodyEncoding: UInt8, Sendable, Equatable {
    /// No body: `"body":null` (1.0) or no `body` member (2.0); `isBase64Encoded` is false.
    case none
    /// The body as a JSON string, invalid UTF-8 replaced by U+FFFD; `isBase64Encoded` is false.
    case text
    /// The body base64-encoded (binary media types); `isBase64Encoded` is true.
    case base64
}

/// A stage variable, as `stageVariables` lists it.
public struct LambdaStageVariable: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// What the event says about the operation and the stage: everything that comes from the
/// configuration, prepared once at load as JSON text. One per (integration, stage).
public struct LambdaEventContext: Sendable {
    /// The account id API Gateway puts in `requestContext.accountId` when none is configured: the
    /// placeholder AWS's own examples use.
    public static let placeholderAccountID = "123456789012"

    public let format: LambdaPayloadFormat
    /// How many path parameters the route has: `writePrefix` takes exactly this many values.
    public var pathParameterCount: Int { pathParameterNames.count }

    // JSON string contents (escaped, without quotes), or whole JSON values where noted.
    let resourcePath: [UInt8]
    let routeKey: [UInt8]
    let stage: [UInt8]
    let apiID: [UInt8]
    let deploymentID: [UInt8]
    let accountID: [UInt8]
    let resourceID: [UInt8]?
    let pathParameterNames: [[UInt8]]
    /// `{"name":"value",…}`, or empty when the stage has no variables.
    let stageVariablesObject: [UInt8]
    let forwardedProto: [UInt8]?
    let forwardedPort: [UInt8]?
    /// Bytes of all the prepared values, for `LambdaEvent.prefixBytesMax`.
    let configByteCount: Int

    /// - Parameters:
    ///   - format: the payload format.
    ///   - resourcePath: the resource as the definition writes it, `/pets/{petId}` (`resource` and
    ///     `requestContext.resourcePath` in 1.0).
    ///   - routeKey: the route key of 2.0 (`GET /pets/{petId}`, `ANY /{proxy+}` or `$default`).
    ///   - stage: the stage name.
    ///   - stageVariables: the stage's variables, in the order to write them.
    ///   - apiID: `requestContext.apiId`.
    ///   - deploymentID: `requestContext.deploymentId` (1.0).
    ///   - accountID: `requestContext.accountId`.
    ///   - resourceID: `requestContext.resourceId` (1.0); null when nil.
    ///   - pathParameterNames: the route's path parameter names (`petId`, `proxy` for `{proxy+}`), in
    ///     the order `writePrefix` receives their values.
    ///   - forwardedProto, forwardedPort: when set, the event carries `X-Forwarded-For` (the client's
    ///     own value, if any, followed by the source IP), `X-Forwarded-Port` and
    ///     `X-Forwarded-Proto` as API Gateway adds them, in place of any the client sent. When nil,
    ///     the client's headers are passed as they are and none is added.
    public init(
        format: LambdaPayloadFormat, resourcePath: String, routeKey: String = "$default", stage: String,
        stageVariables: [LambdaStageVariable] = [], apiID: String, deploymentID: String = "",
        accountID: String = LambdaEventContext.placeholderAccountID, resourceID: String? = nil,
        pathParameterNames: [String] = [], forwardedProto: String? = nil, forwardedPort: String? = nil
    ) {
        self.format = format
        self.resourcePath = JSONText.escaped(resourcePath)
        self.routeKey = JSONText.escaped(routeKey)
        self.stage = JSONText.escaped(stage)
        self.apiID = JSONText.escaped(apiID)
        self.deploymentID = JSONText.escaped(deploymentID)
        self.accountID = JSONText.escaped(accountID)
        self.resourceID = resourceID.map(JSONText.escaped)
        self.pathParameterNames = pathParameterNames.map(JSONText.escaped)
        var object: [UInt8] = []
        if !stageVariables.isEmpty {
            object.append(0x7B)
            for (index, variable) in stageVariables.enumerated() {
                if index > 0 { object.append(0x2C) }
                object.append(0x22)
                object.append(contentsOf: JSONText.escaped(variable.name))
                object.append(contentsOf: Array("\":\"".utf8))
                object.append(contentsOf: JSONText.escaped(variable.value))
                object.append(0x22)
            }
            object.append(0x7D)
        }
        stageVariablesObject = object
        self.forwardedProto = forwardedProto.map(JSONText.escaped)
        self.forwardedPort = forwardedPort.map(JSONText.escaped)
        configByteCount = self.resourcePath.count + self.routeKey.count + self.stage.count + self.apiID.count
            + self.deploymentID.count + self.accountID.count + (self.resourceID?.count ?? 0)
            + self.pathParameterNames.reduce(0) { $0 + $1.count + 8 } + object.count
            + (self.forwardedProto?.count ?? 0) + (self.forwardedPort?.count ?? 0)
    }
}

/// One request's parts: ranges into the bytes its head was parsed from (`RequestHead` holds all
/// of them), plus the time. Plain values, so the worker fills one per request without allocating.
public struct LambdaRequestParts: Sendable, Equatable {
    /// The method token.
    public var method: Range<Int>
    /// The path as received, with the stage (or custom-domain base path) in front:
    /// `requestContext.path` in 1.0, `rawPath` and `requestContext.http.path` in 2.0.
    public var requestPath: Range<Int>
    /// The path after the stage (or base path): 1.0's `path`. An empty range is written as `/`.
    public var path: Range<Int>
    /// The query after `?`, raw (still percent-encoded); empty when none.
    public var query: Range<Int>
    /// The `Host` value: `requestContext.domainName`; its first label is `domainPrefix`.
    public var host: Range<Int>
    public var version: HTTPVersion
    /// When the request arrived: `requestTimeEpoch` / `timeEpoch`, and the text of `requestTime`.
    public var requestTimeEpochMilliseconds: Int
    /// The API key the request was admitted with (1.0's `identity.apiKey`); nil for none.
    public var apiKey: Range<Int>?

    public init(method: Range<Int>, requestPath: Range<Int>, path: Range<Int>, query: Range<Int>,
                host: Range<Int>, version: HTTPVersion, requestTimeEpochMilliseconds: Int, apiKey: Range<Int>? = nil) {
        self.apiKey = apiKey
        self.method = method
        self.requestPath = requestPath
        self.path = path
        self.query = query
        self.host = host
        self.version = version
        self.requestTimeEpochMilliseconds = requestTimeEpochMilliseconds
    }

    /// The parts of a parsed request head. `stagePrefixByteCount` is the length of the stage (or
    /// base path) prefix of its path: 5 for `/prod` in `/prod/pets`.
    public init(head: RequestHead, stagePrefixByteCount: Int, requestTimeEpochMilliseconds: Int,
                apiKey: Range<Int>? = nil) {
        precondition(stagePrefixByteCount >= 0 && stagePrefixByteCount <= head.path.count,
                     "the stage prefix is longer than the path")
        self.init(method: head.methodName, requestPath: head.path,
                  path: (head.path.lowerBound + stagePrefixByteCount)..<head.path.upperBound,
                  query: head.query, host: head.host, version: head.version,
                  requestTimeEpochMilliseconds: requestTimeEpochMilliseconds, apiKey: apiKey)
    }
}

/// Index arrays the event writer sorts to group repeated header and query names, kept from
/// request to request so that writing an event does not allocate. One per worker is enough.
public struct LambdaEventScratch: Sendable {
    struct Group: Sendable {
        /// Where the group's entries start in the sorted order array, and how many there are.
        var start: Int32
        var count: Int32
    }

    struct QueryParameter: Sendable {
        var name: Range<Int>
        var value: Range<Int>
    }

    var headerOrder: [Int32] = []
    var headerGroups: [Group] = []
    var queryParameters: [QueryParameter] = []
    var queryOrder: [Int32] = []
    var queryGroups: [Group] = []

    /// Capacities for the largest request the limits allow: `headersMax` header fields, and as
    /// many query parameters as the head's byte limit can hold (`name&` is 2 bytes). A request
    /// beyond them still works; the arrays grow once.
    public init(headersMax: Int = 100, queryParametersMax: Int = 5_120) {
        headerOrder.reserveCapacity(headersMax)
        headerGroups.reserveCapacity(headersMax)
        queryParameters.reserveCapacity(queryParametersMax)
        queryOrder.reserveCapacity(queryParametersMax)
        queryGroups.reserveCapacity(queryParametersMax)
    }
}

/// Where a streamed body stands between pieces: the encoding chosen by `writePrefix`, a UTF-8
/// sequence split across pieces (text) or up to two bytes waiting for a 3-byte group (base64).
public struct BodyEncoderState: Sendable, Equatable {
    public let encoding: LambdaBodyEncoding
    let format: LambdaPayloadFormat
    var escaper = JSONStringEscaper()
    var base64 = Base64Encoder()
    /// Body bytes received so far.
    public internal(set) var bodyByteCount = 0
    public internal(set) var isFinished = false

    init(encoding: LambdaBodyEncoding, format: LambdaPayloadFormat) {
        self.encoding = encoding
        self.format = format
    }

    /// Bytes the next piece spends on opening the body (`"body":"`) before its own.
    var openingBytes: Int { bodyByteCount == 0 ? Piece.bodyStart.count : 0 }

    /// The most bytes `writeBodyChunk` writes for a piece of `inputByteCount` bytes.
    public func chunkOutputBytesMax(inputByteCount: Int) -> Int {
        switch encoding {
        case .none: 0
        case .text:
            openingBytes + inputByteCount * JSONStringEscaper.outputBytesPerInputByteMax
                + JSONStringEscaper.pendingOutputBytesMax
        case .base64: openingBytes + (Int(base64.carryCount) + inputByteCount) / 3 * 4
        }
    }

    /// The largest piece `writeBodyChunk` can take now without writing more than `outputByteCapacity`
    /// bytes: how much of a received buffer to hand over when the output buffer has that much room.
    public func chunkInputBytesMax(outputByteCapacity: Int) -> Int {
        switch encoding {
        case .none: 0
        case .text:
            max(0, (outputByteCapacity - openingBytes - JSONStringEscaper.pendingOutputBytesMax)
                / JSONStringEscaper.outputBytesPerInputByteMax)
        case .base64: max(0, (outputByteCapacity - openingBytes) / 4 * 3 - Int(base64.carryCount))
        }
    }

    /// The most bytes `writeSuffix` writes.
    public static let suffixBytesMax = 64
}

public enum LambdaEvent {
    /// Writes the event up to the body: everything before `"body"`. Returns the state that the
    /// body's pieces and the suffix continue from: the first piece that holds a byte opens the
    /// body (`"body":"`), and a body that stays empty is written as none (`"body":null` in 1.0,
    /// left out in 2.0), as API Gateway writes an empty body whatever its framing.
    ///
    /// - Parameters:
    ///   - request: the request's parts, as ranges into `head`.
    ///   - head: the bytes the request head was parsed from.
    ///   - headers: the request's header fields (ranges into `head`), all of them, in order.
    ///   - pathParameterValues: the values of `context`'s path parameters, in the same order,
    ///     as ranges into `head` (still percent-encoded, as the path was received).
    ///   - requestID: `requestContext.requestId` (the `x-amzn-RequestId` the client receives).
    ///   - extendedRequestID: 1.0's `requestContext.extendedRequestId` (the `x-amz-apigw-id` the
    ///     client receives); `requestID` when empty.
    ///   - sourceIP: the client's address as text.
    ///   - apiKeyID: the admitted key's id (its configured name), 1.0's `identity.apiKeyId`;
    ///     not read when `request.apiKey` is nil. Without a key, `identity` has neither `apiKey`
    ///     nor `apiKeyId`, as API Gateway sends it.
    ///   - traceID: when not empty, the `X-Amzn-Trace-Id` value the event's headers carry in place
    ///     of any the client sent, as API Gateway adds it (at most `traceIDBytesMax` bytes, or a
    ///     range of the head).
    ///   - context: the operation and stage.
    ///   - body: whether and how the body follows.
    ///   - scratch: reused sort arrays.
    public static func writePrefix<Sink: ByteSink>(
        request: LambdaRequestParts, head: Span<UInt8>, headers: [HeaderField],
        pathParameterValues: [Range<Int>], requestID: Span<UInt8>, extendedRequestID: Span<UInt8> = Span(),
        sourceIP: Span<UInt8>, apiKeyID: Span<UInt8> = Span(), traceID: Span<UInt8> = Span(),
        clientCertificate: Span<UInt8> = Span(), authorizer: Span<UInt8> = Span(), context: LambdaEventContext,
        body: LambdaBodyEncoding, scratch: inout LambdaEventScratch, to sink: inout Sink
    ) -> BodyEncoderState {
        precondition(pathParameterValues.count == context.pathParameterCount,
                     "one value per path parameter of the route")
        let forwarding = context.forwardedProto != nil || context.forwardedPort != nil
        let version2 = context.format == .version2
        groupHeaders(head, headers, excludingForwarded: forwarding, excludingCookies: version2,
                     excludingTrace: !traceID.isEmpty, scratch: &scratch)
        groupQueryParameters(head, request.query, scratch: &scratch)
        let userAgent = lastValue(of: .userAgent, head, headers)

        switch context.format {
        case .version1:
            writeVersion1Prefix(request: request, head: head, headers: headers,
                                pathParameterValues: pathParameterValues, requestID: requestID,
                                extendedRequestID: extendedRequestID.isEmpty ? requestID : extendedRequestID,
                                sourceIP: sourceIP, apiKeyID: apiKeyID, userAgent: userAgent, traceID: traceID,
                                clientCertificate: clientCertificate, authorizer: authorizer, context: context,
                                body: body, scratch: scratch, to: &sink)
        case .version2:
            writeVersion2Prefix(request: request, head: head, headers: headers,
                                pathParameterValues: pathParameterValues, requestID: requestID,
                                sourceIP: sourceIP, userAgent: userAgent, traceID: traceID,
                                clientCertificate: clientCertificate, authorizer: authorizer, context: context,
                                body: body, scratch: scratch, to: &sink)
        }
        return BodyEncoderState(encoding: body, format: context.format)
    }

    /// Writes one piece of the body as it arrived: JSON-escaped (text) or base64-encoded. A UTF-8
    /// sequence or a base64 group cut by the piece's end is carried in `state` to the next piece.
    public static func writeBodyChunk<Sink: ByteSink>(
        _ bytes: Span<UInt8>, state: inout BodyEncoderState, to sink: inout Sink
    ) {
        precondition(!state.isFinished, "body piece after the suffix")
        precondition(state.encoding != .none, "body piece for an event written without a body")
        guard !bytes.isEmpty else { return }
        if state.bodyByteCount == 0 { sink.append(Piece.bodyStart.span) }
        state.bodyByteCount += bytes.count
        switch state.encoding {
        case .text: state.escaper.append(bytes, to: &sink)
        case .base64: state.base64.append(bytes, to: &sink)
        case .none: break
        }
    }

    /// Ends the body (flushing a carried UTF-8 sequence as U+FFFD, or the last base64 group with
    /// its padding) and closes the event: `","isBase64Encoded":false}` and the like.
    public static func writeSuffix<Sink: ByteSink>(state: inout BodyEncoderState, to sink: inout Sink) {
        precondition(!state.isFinished, "the event's suffix was already written")
        state.isFinished = true
        switch state.bodyByteCount == 0 ? .none : state.encoding {
        case .none:
            sink.append(state.format == .version1 ? Piece.nullBodyEnd.span : Piece.noBodyEnd.span)
        case .text:
            state.escaper.finish(to: &sink)
            sink.append(Piece.textBodyEnd.span)
        case .base64:
            state.base64.finish(to: &sink)
            sink.append(Piece.base64BodyEnd.span)
        }
    }

    /// An upper bound on the bytes `writePrefix` writes for a request whose head is
    /// `headByteCount` bytes long (request line and fields; every range it is given lies within
    /// them), so that a worker can size its output buffers once at start. The bound holds for the
    /// most hostile head: every byte escaped to its longest form, every header and query name
    /// distinct and one byte long. For an exact figure, write the prefix into a `ByteCounter`.
    public static func prefixBytesMax(
        headByteCount: Int, requestIDByteCount: Int, sourceIPByteCount: Int, context: LambdaEventContext
    ) -> Int {
        // Per head byte: a byte is written at most 3 times (a `User-Agent` value: `headers`,
        // `multiValueHeaders`, `identity`; a path byte: `path`, `requestContext.path`, a path
        // parameter), each time as at most 3 bytes (an invalid byte becomes U+FFFD; the only
        // control a head may hold is HTAB, 2 bytes; `%01` decodes to 6 bytes from 3). The JSON
        // around the shortest query parameter (`a&`, 2 bytes, a distinct name) adds 14 bytes, 10
        // per head byte with its name written twice, the worst case; the tests' hostile heads stay
        // under 9.3. 16 leaves room.
        16 * headByteCount + 2 * context.configByteCount
            + 9 * (requestIDByteCount + sourceIPByteCount) + 2 * (traceIDBytesMax + 32) + 2048
    }

    /// The `clientCert` object of a mutual-TLS request, as API Gateway writes it in both formats
    /// (1.0: `requestContext.identity.clientCert`; 2.0: `requestContext.authentication.clientCert`),
    /// for `writePrefix`'s `clientCertificate`. Written once per connection.
    public static func writeClientCertificate<Sink: ByteSink>(
        pem: Span<UInt8>, subjectDN: Span<UInt8>, issuerDN: Span<UInt8>, serialNumber: Span<UInt8>,
        notBefore: Span<UInt8>, notAfter: Span<UInt8>, to sink: inout Sink
    ) {
        sink.append(Piece.clientCertPem.span)
        JSONText.appendString(pem, to: &sink)
        sink.append(Piece.clientCertSubjectDN.span)
        JSONText.appendString(subjectDN, to: &sink)
        sink.append(Piece.clientCertIssuerDN.span)
        JSONText.appendString(issuerDN, to: &sink)
        sink.append(Piece.clientCertSerialNumber.span)
        JSONText.appendString(serialNumber, to: &sink)
        sink.append(Piece.clientCertNotBefore.span)
        JSONText.appendString(notBefore, to: &sink)
        sink.append(Piece.clientCertNotAfter.span)
        JSONText.appendString(notAfter, to: &sink)
        sink.append(Piece.closeTwoObjects.span)
    }

    /// The longest `traceID` that is not a range of the head: one Sluice writes, such as
    /// `Root=1-5f84c7a5-2b4c5d6e7f8091a2b3c4d5e6;Parent=53995c3f42cd8ad8;Sampled=1` (74 bytes).
    public static let traceIDBytesMax = 96

    // MARK: - Format 1.0

    private static func writeVersion1Prefix<Sink: ByteSink>(
        request: LambdaRequestParts, head: Span<UInt8>, headers: [HeaderField],
        pathParameterValues: [Range<Int>], requestID: Span<UInt8>, extendedRequestID: Span<UInt8>,
        sourceIP: Span<UInt8>, apiKeyID: Span<UInt8>, userAgent: Range<Int>?, traceID: Span<UInt8>,
        clientCertificate: Span<UInt8>, authorizer: Span<UInt8>, context: LambdaEventContext,
        body: LambdaBodyEncoding, scratch: LambdaEventScratch, to sink: inout Sink
    ) {
        sink.append(Piece.v1Resource.span)
        sink.append(context.resourcePath.span)
        sink.append(Piece.v1Path.span)
        if request.path.isEmpty {
            sink.append(0x2F)
        } else {
            appendEscaped(head, request.path, to: &sink)
        }
        sink.append(Piece.v1HTTPMethod.span)
        appendEscaped(head, request.method, to: &sink)
        sink.append(0x22)

        // headers, multiValueHeaders
        let forwarding = context.forwardedProto != nil || context.forwardedPort != nil
        let hasHeaders = !scratch.headerGroups.isEmpty || forwarding || !traceID.isEmpty
        sink.append(Piece.v1Headers.span)
        if hasHeaders {
            writeHeaderObject(head, headers, scratch: scratch, multiValue: false, lowercaseNames: false,
                              sourceIP: sourceIP, traceID: traceID, context: context, to: &sink)
        } else {
            sink.append(Piece.null.span)
        }
        sink.append(Piece.v1MultiValueHeaders.span)
        if hasHeaders {
            writeHeaderObject(head, headers, scratch: scratch, multiValue: true, lowercaseNames: false,
                              sourceIP: sourceIP, traceID: traceID, context: context, to: &sink)
        } else {
            sink.append(Piece.null.span)
        }

        // queryStringParameters, multiValueQueryStringParameters
        sink.append(Piece.v1QueryStringParameters.span)
        if scratch.queryGroups.isEmpty {
            sink.append(Piece.null.span)
        } else {
            writeQueryObject(head, scratch: scratch, style: .lastValue, to: &sink)
        }
        sink.append(Piece.v1MultiValueQueryStringParameters.span)
        if scratch.queryGroups.isEmpty {
            sink.append(Piece.null.span)
        } else {
            writeQueryObject(head, scratch: scratch, style: .allValues, to: &sink)
        }

        // pathParameters, stageVariables
        sink.append(Piece.v1PathParameters.span)
        if pathParameterValues.isEmpty {
            sink.append(Piece.null.span)
        } else {
            writePathParameters(head, pathParameterValues, context: context, decoded: false, to: &sink)
        }
        sink.append(Piece.v1StageVariables.span)
        if context.stageVariablesObject.isEmpty {
            sink.append(Piece.null.span)
        } else {
            sink.append(context.stageVariablesObject.span)
        }

        // requestContext
        sink.append(Piece.requestContext.span)
        if !authorizer.isEmpty {
            sink.append(Piece.authorizer.span)
            sink.append(authorizer)
            sink.append(Piece.comma.span)
        }
        sink.append(Piece.v1AccountID.span)
        writeAccountAPIAndDomain(head, request, context: context, to: &sink)
        sink.append(Piece.v1ExtendedRequestID.span)
        appendEscaped(extendedRequestID, to: &sink)
        sink.append(Piece.v1ContextHTTPMethod.span)
        appendEscaped(head, request.method, to: &sink)
        sink.append(Piece.v1IdentityUpToAccountID.span)
        if let apiKey = request.apiKey {
            sink.append(Piece.v1IdentityAPIKey.span)
            JSONText.appendString(head, apiKey, to: &sink)
            sink.append(Piece.v1IdentityAPIKeyID.span)
            JSONText.appendString(apiKeyID, to: &sink)
        }
        sink.append(Piece.v1IdentityUpToSourceIP.span)
        appendEscaped(sourceIP, to: &sink)
        sink.append(Piece.v1IdentityUserAgent.span)
        if let userAgent {
            JSONText.appendString(head, userAgent, to: &sink)
        } else {
            sink.append(Piece.null.span)
        }
        if !clientCertificate.isEmpty {
            sink.append(Piece.v1ClientCert.span)
            sink.append(clientCertificate)
        }
        sink.append(Piece.v1IdentityEndContextPath.span)
        appendEscaped(head, request.requestPath, to: &sink)
        sink.append(Piece.v1Protocol.span)
        sink.append(request.version == .http10 ? Piece.http10.span : Piece.http11.span)
        sink.append(Piece.v1RequestID.span)
        appendEscaped(requestID, to: &sink)
        sink.append(Piece.v1RequestTime.span)
        JSONText.appendCommonLogTime(epochMilliseconds: request.requestTimeEpochMilliseconds, to: &sink)
        sink.append(Piece.v1RequestTimeEpoch.span)
        JSONText.appendDecimal(request.requestTimeEpochMilliseconds, to: &sink)
        sink.append(Piece.v1ResourceID.span)
        if let resourceID = context.resourceID {
            sink.append(0x22)
            sink.append(resourceID.span)
            sink.append(0x22)
        } else {
            sink.append(Piece.null.span)
        }
        sink.append(Piece.v1ResourcePath.span)
        sink.append(context.resourcePath.span)
        sink.append(Piece.v1Stage.span)
        sink.append(context.stage.span)
        sink.append(Piece.quoteCloseObject.span)

    }

    // MARK: - Format 2.0

    private static func writeVersion2Prefix<Sink: ByteSink>(
        request: LambdaRequestParts, head: Span<UInt8>, headers: [HeaderField],
        pathParameterValues: [Range<Int>], requestID: Span<UInt8>, sourceIP: Span<UInt8>,
        userAgent: Range<Int>?, traceID: Span<UInt8>, clientCertificate: Span<UInt8>, authorizer: Span<UInt8>,
        context: LambdaEventContext, body: LambdaBodyEncoding, scratch: LambdaEventScratch, to sink: inout Sink
    ) {
        sink.append(Piece.v2Version.span)
        sink.append(context.routeKey.span)
        sink.append(Piece.v2RawPath.span)
        appendEscaped(head, request.requestPath, to: &sink)
        sink.append(Piece.v2RawQueryString.span)
        appendEscaped(head, request.query, to: &sink)
        sink.append(0x22)

        writeCookies(head, headers, to: &sink)

        let forwarding = context.forwardedProto != nil || context.forwardedPort != nil
        if !scratch.headerGroups.isEmpty || forwarding || !traceID.isEmpty {
            sink.append(Piece.v2Headers.span)
            writeHeaderObject(head, headers, scratch: scratch, multiValue: false, lowercaseNames: true,
                              sourceIP: sourceIP, traceID: traceID, context: context, to: &sink)
        }
        if !scratch.queryGroups.isEmpty {
            sink.append(Piece.v2QueryStringParameters.span)
            writeQueryObject(head, scratch: scratch, style: .commaJoined, to: &sink)
        }
        if !pathParameterValues.isEmpty {
            sink.append(Piece.v2PathParameters.span)
            writePathParameters(head, pathParameterValues, context: context, decoded: true, to: &sink)
        }
        if !context.stageVariablesObject.isEmpty {
            sink.append(Piece.v2StageVariables.span)
            sink.append(context.stageVariablesObject.span)
        }

        sink.append(Piece.requestContext.span)
        if !authorizer.isEmpty {
            sink.append(Piece.authorizer.span)
            sink.append(authorizer)
            sink.append(Piece.comma.span)
        }
        sink.append(Piece.v2AccountID.span)
        writeAccountAPIAndDomain(head, request, context: context, to: &sink)
        sink.append(Piece.v2HTTPMethod.span)
        appendEscaped(head, request.method, to: &sink)
        sink.append(Piece.v2HTTPPath.span)
        appendEscaped(head, request.requestPath, to: &sink)
        sink.append(Piece.v2HTTPProtocol.span)
        sink.append(request.version == .http10 ? Piece.http10.span : Piece.http11.span)
        sink.append(Piece.v2HTTPSourceIP.span)
        appendEscaped(sourceIP, to: &sink)
        sink.append(Piece.v2HTTPUserAgent.span)
        if let userAgent {
            JSONText.appendString(head, userAgent, to: &sink)
        } else {
            sink.append(Piece.null.span)
        }
        if !clientCertificate.isEmpty {
            // `requestContext.authentication.clientCert`, closed by the `}` that starts requestId.
            sink.append(Piece.v2AuthenticationClientCert.span)
            sink.append(clientCertificate)
        }
        sink.append(Piece.v2RequestID.span)
        appendEscaped(requestID, to: &sink)
        sink.append(Piece.v2RouteKey.span)
        sink.append(context.routeKey.span)
        sink.append(Piece.v2Stage.span)
        sink.append(context.stage.span)
        sink.append(Piece.v2Time.span)
        JSONText.appendCommonLogTime(epochMilliseconds: request.requestTimeEpochMilliseconds, to: &sink)
        sink.append(Piece.v2TimeEpoch.span)
        JSONText.appendDecimal(request.requestTimeEpochMilliseconds, to: &sink)
        sink.append(Piece.closeObjectComma.span)

    }

    // MARK: - Headers

    /// Sorts the indexes of the header fields that go into the event by (name ignoring case,
    /// position) and records the groups of equal names, ordered by their first appearance.
    /// Sorting keeps this O(n log n) whatever the number of fields.
    static func groupHeaders(
        _ head: Span<UInt8>, _ headers: [HeaderField], excludingForwarded: Bool, excludingCookies: Bool,
        excludingTrace: Bool, scratch: inout LambdaEventScratch
    ) {
        scratch.headerOrder.removeAll(keepingCapacity: true)
        scratch.headerGroups.removeAll(keepingCapacity: true)
        for index in headers.indices {
            let name = headers[index].name
            if excludingCookies && KnownHeader.cookie.matches(head, name) { continue }
            if excludingForwarded && KnownHeader.isForwarded(head, name) { continue }
            if excludingTrace && KnownHeader.amazonTraceID.matches(head, name) { continue }
            if OmittedEventHeaders.contains(head, name) { continue }
            scratch.headerOrder.append(Int32(truncatingIfNeeded: index))
        }
        heapSort(&scratch.headerOrder) { a, b in
            let order = compareIgnoringCase(head, headers[Int(a)].name, headers[Int(b)].name)
            return order < 0 || (order == 0 && a < b)
        }
        var start = 0
        let order = scratch.headerOrder
        while start < order.count {
            var end = start + 1
            while end < order.count
                && compareIgnoringCase(head, headers[Int(order[start])].name, headers[Int(order[end])].name) == 0 {
                end += 1
            }
            scratch.headerGroups.append(.init(start: Int32(start), count: Int32(end - start)))
            start = end
        }
        heapSort(&scratch.headerGroups) { a, b in order[Int(a.start)] < order[Int(b.start)] }
    }

    /// Writes `{"Name":"last value",…}` (1.0 `headers`), `{"Name":["v1","v2"],…}` (1.0
    /// `multiValueHeaders`) or `{"name":"v1,v2",…}` (2.0 `headers`, names lowercased), then
    /// `X-Amzn-Trace-Id` when there is a `traceID`, then the `X-Forwarded-*` fields when the
    /// context adds them. A group's name is spelled as its first field spells it.
    private static func writeHeaderObject<Sink: ByteSink>(
        _ head: Span<UInt8>, _ headers: [HeaderField], scratch: LambdaEventScratch, multiValue: Bool,
        lowercaseNames: Bool, sourceIP: Span<UInt8>, traceID: Span<UInt8>, context: LambdaEventContext,
        to sink: inout Sink
    ) {
        sink.append(0x7B)
        var first = true
        for group in scratch.headerGroups {
            if !first { sink.append(0x2C) }
            first = false
            let start = Int(group.start)
            let end = start + Int(group.count)
            let nameRange = headers[Int(scratch.headerOrder[start])].name
            sink.append(0x22)
            if lowercaseNames {
                appendLowercased(head, nameRange, to: &sink)
            } else {
                appendEscaped(head, nameRange, to: &sink)
            }
            sink.append(Piece.colon.span)
            if multiValue {
                sink.append(0x5B)
                for position in start..<end {
                    if position > start { sink.append(0x2C) }
                    JSONText.appendString(head, headers[Int(scratch.headerOrder[position])].value, to: &sink)
                }
                sink.append(0x5D)
            } else if lowercaseNames {
                // 2.0: the values joined with commas, as HTTP APIs send them.
                sink.append(0x22)
                var escaper = JSONStringEscaper()
                for position in start..<end {
                    if position > start { escaper.append(byte: 0x2C, to: &sink) }
                    escaper.append(head, headers[Int(scratch.headerOrder[position])].value, to: &sink)
                }
                escaper.finish(to: &sink)
                sink.append(0x22)
            } else {
                JSONText.appendString(head, headers[Int(scratch.headerOrder[end - 1])].value, to: &sink)
            }
        }
        if !traceID.isEmpty {
            if !first { sink.append(0x2C) }
            first = false
            sink.append(lowercaseNames ? Piece.amazonTraceIDLower.span : Piece.amazonTraceID.span)
            if multiValue { sink.append(0x5B) }
            JSONText.appendString(traceID, to: &sink)
            if multiValue { sink.append(0x5D) }
        }
        guard context.forwardedProto != nil || context.forwardedPort != nil else {
            sink.append(0x7D)
            return
        }
        if !first { sink.append(0x2C) }
        // X-Forwarded-For: what the client sent, then the address it connected from.
        sink.append(lowercaseNames ? Piece.forwardedForLower.span : Piece.forwardedFor.span)
        if multiValue { sink.append(0x5B) }
        sink.append(0x22)
        var escaper = JSONStringEscaper()
        for field in headers where KnownHeader.forwardedFor.matches(head, field.name) && !field.value.isEmpty {
            escaper.append(head, field.value, to: &sink)
            escaper.append(byte: 0x2C, to: &sink)
            escaper.append(byte: 0x20, to: &sink)
        }
        escaper.append(sourceIP, to: &sink)
        escaper.finish(to: &sink)
        sink.append(0x22)
        if multiValue { sink.append(0x5D) }
        if let port = context.forwardedPort {
            sink.append(0x2C)
            sink.append(lowercaseNames ? Piece.forwardedPortLower.span : Piece.forwardedPort.span)
            if multiValue { sink.append(0x5B) }
            sink.append(0x22)
            sink.append(port.span)
            sink.append(0x22)
            if multiValue { sink.append(0x5D) }
        }
        if let proto = context.forwardedProto {
            sink.append(0x2C)
            sink.append(lowercaseNames ? Piece.forwardedProtoLower.span : Piece.forwardedProto.span)
            if multiValue { sink.append(0x5B) }
            sink.append(0x22)
            sink.append(proto.span)
            sink.append(0x22)
            if multiValue { sink.append(0x5D) }
        }
        sink.append(0x7D)
    }

    /// The `requestContext` values both formats share, in the same order: the account id, then
    /// `apiId`, (1.0 only) `deploymentId`, `domainName` and `domainPrefix`.
    private static func writeAccountAPIAndDomain<Sink: ByteSink>(
        _ head: Span<UInt8>, _ request: LambdaRequestParts, context: LambdaEventContext, to sink: inout Sink
    ) {
        sink.append(context.accountID.span)
        sink.append(Piece.apiID.span)
        sink.append(context.apiID.span)
        if context.format == .version1 {
            sink.append(Piece.deploymentID.span)
            sink.append(context.deploymentID.span)
        }
        sink.append(Piece.domainName.span)
        appendEscaped(head, request.host, to: &sink)
        sink.append(Piece.domainPrefix.span)
        appendEscaped(head, HTTPBytes.firstLabel(head, request.host), to: &sink)
    }

    /// 2.0's `"cookies":[…],`: every `Cookie` field split at `;`, each cookie trimmed; left out
    /// when there are none.
    private static func writeCookies<Sink: ByteSink>(_ head: Span<UInt8>, _ headers: [HeaderField], to sink: inout Sink) {
        var count = 0
        for field in headers where KnownHeader.cookie.matches(head, field.name) {
            var position = field.value.lowerBound
            let end = field.value.upperBound
            while position <= end {
                var stop = position
                while stop < end && head[stop] != 0x3B { stop += 1 }
                let cookie = HTTPBytes.trimmingWhitespace(head, position..<stop)
                if !cookie.isEmpty {
                    sink.append(count == 0 ? Piece.v2Cookies.span : Piece.comma.span)
                    JSONText.appendString(head, cookie, to: &sink)
                    count += 1
                }
                position = stop + 1
            }
        }
        if count > 0 { sink.append(Piece.closeArray.span) }
    }

    /// The value of the last field named `name`, or nil.
    static func lastValue(of name: KnownHeader, _ head: Span<UInt8>, _ headers: [HeaderField]) -> Range<Int>? {
        var index = headers.count - 1
        while index >= 0 {
            if name.matches(head, headers[index].name) { return headers[index].value }
            index -= 1
        }
        return nil
    }

    // MARK: - Query string

    /// Splits the query at `&` into parameters (`name=value`, or `name` alone with an empty
    /// value; empty pieces are skipped) and groups them by decoded name, as for headers.
    static func groupQueryParameters(_ head: Span<UInt8>, _ query: Range<Int>, scratch: inout LambdaEventScratch) {
        scratch.queryParameters.removeAll(keepingCapacity: true)
        scratch.queryOrder.removeAll(keepingCapacity: true)
        scratch.queryGroups.removeAll(keepingCapacity: true)
        var position = query.lowerBound
        while position < query.upperBound {
            var stop = position
            var equals = -1
            while stop < query.upperBound && head[stop] != 0x26 {
                if equals < 0 && head[stop] == 0x3D { equals = stop }
                stop += 1
            }
            if stop > position {
                let parameter = equals < 0
                    ? LambdaEventScratch.QueryParameter(name: position..<stop, value: stop..<stop)
                    : LambdaEventScratch.QueryParameter(name: position..<equals, value: (equals + 1)..<stop)
                scratch.queryOrder.append(Int32(truncatingIfNeeded: scratch.queryParameters.count))
                scratch.queryParameters.append(parameter)
            }
            position = stop + 1
        }
        let parameters = scratch.queryParameters
        heapSort(&scratch.queryOrder) { a, b in
            let order = compareDecoded(head, parameters[Int(a)].name, parameters[Int(b)].name)
            return order < 0 || (order == 0 && a < b)
        }
        let order = scratch.queryOrder
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count
                && compareDecoded(head, parameters[Int(order[start])].name, parameters[Int(order[end])].name) == 0 {
                end += 1
            }
            scratch.queryGroups.append(.init(start: Int32(start), count: Int32(end - start)))
            start = end
        }
        heapSort(&scratch.queryGroups) { a, b in order[Int(a.start)] < order[Int(b.start)] }
    }

    enum QueryStyle { case lastValue, allValues, commaJoined }

    /// Writes the query parameters as an object of decoded names to decoded values: the last value
    /// (1.0 `queryStringParameters`), all of them (`multiValueQueryStringParameters`), or all
    /// joined with commas (2.0 `queryStringParameters`).
    private static func writeQueryObject<Sink: ByteSink>(
        _ head: Span<UInt8>, scratch: LambdaEventScratch, style: QueryStyle, to sink: inout Sink
    ) {
        sink.append(0x7B)
        for (groupIndex, group) in scratch.queryGroups.enumerated() {
            if groupIndex > 0 { sink.append(0x2C) }
            let start = Int(group.start)
            let end = start + Int(group.count)
            appendDecodedString(head, scratch.queryParameters[Int(scratch.queryOrder[start])].name,
                                plusIsSpace: true, to: &sink)
            sink.append(0x3A)
            switch style {
            case .lastValue:
                appendDecodedString(head, scratch.queryParameters[Int(scratch.queryOrder[end - 1])].value,
                                    plusIsSpace: true, to: &sink)
            case .allValues:
                sink.append(0x5B)
                for position in start..<end {
                    if position > start { sink.append(0x2C) }
                    appendDecodedString(head, scratch.queryParameters[Int(scratch.queryOrder[position])].value,
                                        plusIsSpace: true, to: &sink)
                }
                sink.append(0x5D)
            case .commaJoined:
                sink.append(0x22)
                var escaper = JSONStringEscaper()
                for position in start..<end {
                    if position > start { escaper.append(byte: 0x2C, to: &sink) }
                    appendDecoded(head, scratch.queryParameters[Int(scratch.queryOrder[position])].value,
                                  plusIsSpace: true, escaper: &escaper, to: &sink)
                }
                escaper.finish(to: &sink)
                sink.append(0x22)
            }
        }
        sink.append(0x7D)
    }

    private static func writePathParameters<Sink: ByteSink>(
        _ head: Span<UInt8>, _ values: [Range<Int>], context: LambdaEventContext, decoded: Bool,
        to sink: inout Sink
    ) {
        sink.append(0x7B)
        for index in values.indices {
            if index > 0 { sink.append(0x2C) }
            sink.append(0x22)
            let name = context.pathParameterNames[index]
            sink.append(name.span)
            sink.append(Piece.colon.span)
            if decoded {
                appendDecodedString(head, values[index], plusIsSpace: false, to: &sink)
            } else {
                JSONText.appendString(head, values[index], to: &sink)
            }
        }
        sink.append(0x7D)
    }

    // MARK: - Bytes

    private static func appendEscaped<Sink: ByteSink>(_ bytes: Span<UInt8>, _ range: Range<Int>, to sink: inout Sink) {
        var escaper = JSONStringEscaper()
        escaper.append(bytes, range, to: &sink)
        escaper.finish(to: &sink)
    }

    private static func appendEscaped<Sink: ByteSink>(_ bytes: Span<UInt8>, to sink: inout Sink) {
        appendEscaped(bytes, 0..<bytes.count, to: &sink)
    }

    /// Header names are tokens (the request parser accepts nothing else), so lowercasing them
    /// needs no escaping; anything else is escaped all the same, to be safe.
    private static func appendLowercased<Sink: ByteSink>(_ head: Span<UInt8>, _ range: Range<Int>, to sink: inout Sink) {
        var escaper = JSONStringEscaper()
        for index in range { escaper.append(byte: HTTPBytes.lowercased(head[index]), to: &sink) }
        escaper.finish(to: &sink)
    }

    /// Appends the percent-decoded `head[range]` as a JSON string, quotes included.
    private static func appendDecodedString<Sink: ByteSink>(
        _ head: Span<UInt8>, _ range: Range<Int>, plusIsSpace: Bool, to sink: inout Sink
    ) {
        sink.append(0x22)
        var escaper = JSONStringEscaper()
        appendDecoded(head, range, plusIsSpace: plusIsSpace, escaper: &escaper, to: &sink)
        escaper.finish(to: &sink)
        sink.append(0x22)
    }

    private static func appendDecoded<Sink: ByteSink>(
        _ head: Span<UInt8>, _ range: Range<Int>, plusIsSpace: Bool, escaper: inout JSONStringEscaper,
        to sink: inout Sink
    ) {
        var decoder = PercentDecoder(range, plusIsSpace: plusIsSpace)
        while let byte = decoder.next(head) { escaper.append(byte: byte, to: &sink) }
    }

    /// Compares `head[a]` and `head[b]` ignoring ASCII case: negative, zero or positive.
    static func compareIgnoringCase(_ head: Span<UInt8>, _ a: Range<Int>, _ b: Range<Int>) -> Int {
        let shorter = min(a.count, b.count)
        var offset = 0
        while offset < shorter {
            let x = HTTPBytes.lowercased(head[a.lowerBound + offset])
            let y = HTTPBytes.lowercased(head[b.lowerBound + offset])
            if x != y { return x < y ? -1 : 1 }
            offset += 1
        }
        return a.count - b.count
    }

    /// Compares the percent-decoded `head[a]` and `head[b]` (query names, `+` as space).
    static func compareDecoded(_ head: Span<UInt8>, _ a: Range<Int>, _ b: Range<Int>) -> Int {
        var left = PercentDecoder(a, plusIsSpace: true)
        var right = PercentDecoder(b, plusIsSpace: true)
        while true {
            let x = left.next(head)
            let y = right.next(head)
            switch (x, y) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case let (x?, y?): if x != y { return x < y ? -1 : 1 }
            }
        }
    }

    /// Sorts in place with heapsort: O(n log n), no allocation (the standard library's sort may
    /// allocate a buffer).
    static func heapSort<Element>(_ elements: inout [Element], by less: (Element, Element) -> Bool) {
        let count = elements.count
        guard count > 1 else { return }
        func siftDown(_ elements: inout [Element], _ start: Int, _ end: Int) {
            var root = start
            while true {
                var child = 2 * root + 1
                if child >= end { return }
                if child + 1 < end && less(elements[child], elements[child + 1]) { child += 1 }
                if !less(elements[root], elements[child]) { return }
                elements.swapAt(root, child)
                root = child
            }
        }
        var start = count / 2 - 1
        while start >= 0 {
            siftDown(&elements, start, count)
            start -= 1
        }
        var end = count - 1
        while end > 0 {
            elements.swapAt(0, end)
            siftDown(&elements, 0, end)
            end -= 1
        }
    }
}

/// Percent-decodes a range as API Gateway decodes query parameters: `%XX` is the byte XX, `+` is a
/// space (in the query only), and a `%` not followed by two hex digits stays as it is.
struct PercentDecoder {
    private var position: Int
    private let end: Int
    private let plusIsSpace: Bool

    init(_ range: Range<Int>, plusIsSpace: Bool) {
        position = range.lowerBound
        end = range.upperBound
        self.plusIsSpace = plusIsSpace
    }

    mutating func next(_ bytes: Span<UInt8>) -> UInt8? {
        guard position < end else { return nil }
        let byte = bytes[position]
        position += 1
        if byte == 0x2B && plusIsSpace { return 0x20 }
        if byte == 0x25 && position + 2 <= end,
           let high = HTTPBytes.hexValue(bytes[position]), let low = HTTPBytes.hexValue(bytes[position + 1]) {
            position += 2
            return UInt8(truncatingIfNeeded: high << 4 | low)
        }
        return byte
    }
}

/// Request header names the event writer looks for.
enum KnownHeader {
    case userAgent, cookie, forwardedFor, forwardedPort, forwardedProto, amazonTraceID

    func matches(_ head: Span<UInt8>, _ name: Range<Int>) -> Bool {
        switch self {
        case .userAgent: HTTPBytes.equalsIgnoringCase(head, name, lowercased: Lowercased.userAgent.span)
        case .cookie: HTTPBytes.equalsIgnoringCase(head, name, lowercased: Lowercased.cookie.span)
        case .forwardedFor: HTTPBytes.equalsIgnoringCase(head, name, lowercased: Lowercased.forwardedFor.span)
        case .forwardedPort: HTTPBytes.equalsIgnoringCase(head, name, lowercased: Lowercased.forwardedPort.span)
        case .forwardedProto: HTTPBytes.equalsIgnoringCase(head, name, lowercased: Lowercased.forwardedProto.span)
        case .amazonTraceID: HTTPBytes.equalsIgnoringCase(head, name, lowercased: Lowercased.amazonTraceID.span)
        }
    }

    static func isForwarded(_ head: Span<UInt8>, _ name: Range<Int>) -> Bool {
        name.count >= 15 && (forwardedFor.matches(head, name) || forwardedPort.matches(head, name)
            || forwardedProto.matches(head, name))
    }

    private enum Lowercased {
        static let userAgent: [UInt8] = Array("user-agent".utf8)
        static let cookie: [UInt8] = Array("cookie".utf8)
        static let forwardedFor: [UInt8] = Array("x-forwarded-for".utf8)
        static let forwardedPort: [UInt8] = Array("x-forwarded-port".utf8)
        static let forwardedProto: [UInt8] = Array("x-forwarded-proto".utf8)
        static let amazonTraceID: [UInt8] = Array("x-amzn-trace-id".utf8)
    }
}

/// The fixed JSON between the values, prepared once.
private enum Piece {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static let null = bytes("null")
    static let colon = bytes("\":")
    static let comma = bytes(",")
    static let quoteCloseObject = bytes("\"},")
    static let closeObjectComma = bytes("},")
    static let closeArray = bytes("]")
    static let http10 = bytes("HTTP/1.0")
    static let http11 = bytes("HTTP/1.1")
    static let apiID = bytes("\",\"apiId\":\"")
    static let deploymentID = bytes("\",\"deploymentId\":\"")
    static let domainName = bytes("\",\"domainName\":\"")
    static let domainPrefix = bytes("\",\"domainPrefix\":\"")

    static let v1Resource = bytes("{\"resource\":\"")
    static let v1Path = bytes("\",\"path\":\"")
    static let v1HTTPMethod = bytes("\",\"httpMethod\":\"")
    static let v1Headers = bytes(",\"headers\":")
    static let v1MultiValueHeaders = bytes(",\"multiValueHeaders\":")
    static let v1QueryStringParameters = bytes(",\"queryStringParameters\":")
    static let v1MultiValueQueryStringParameters = bytes(",\"multiValueQueryStringParameters\":")
    static let v1PathParameters = bytes(",\"pathParameters\":")
    static let v1StageVariables = bytes(",\"stageVariables\":")
    static let requestContext = bytes(",\"requestContext\":{")
    static let authorizer = bytes("\"authorizer\":")
    static let v1AccountID = bytes("\"accountId\":\"")
    static let v1ExtendedRequestID = bytes("\",\"extendedRequestId\":\"")
    static let v1ContextHTTPMethod = bytes("\",\"httpMethod\":\"")
    static let v1IdentityUpToAccountID = bytes("\",\"identity\":{\"accessKey\":null,\"accountId\":null")
    static let v1IdentityAPIKey = bytes(",\"apiKey\":")
    static let v1IdentityAPIKeyID = bytes(",\"apiKeyId\":")
    static let v1IdentityUpToSourceIP = bytes(
        ",\"caller\":null,\"cognitoAuthenticationProvider\":null,\"cognitoAuthenticationType\":null,\"cognitoIdentityId\":null,"
            + "\"cognitoIdentityPoolId\":null,\"principalOrgId\":null,\"sourceIp\":\"")
    static let v1IdentityUserAgent = bytes("\",\"user\":null,\"userAgent\":")
    static let v1IdentityEndContextPath = bytes(",\"userArn\":null},\"path\":\"")
    static let v1ClientCert = bytes(",\"clientCert\":")
    static let clientCertPem = bytes("{\"clientCertPem\":")
    static let clientCertSubjectDN = bytes(",\"subjectDN\":")
    static let clientCertIssuerDN = bytes(",\"issuerDN\":")
    static let clientCertSerialNumber = bytes(",\"serialNumber\":")
    static let clientCertNotBefore = bytes(",\"validity\":{\"notBefore\":")
    static let clientCertNotAfter = bytes(",\"notAfter\":")
    static let closeTwoObjects = bytes("}}")
    static let v2AuthenticationClientCert = bytes("},\"authentication\":{\"clientCert\":")
    static let v1Protocol = bytes("\",\"protocol\":\"")
    static let v1RequestID = bytes("\",\"requestId\":\"")
    static let v1RequestTime = bytes("\",\"requestTime\":\"")
    static let v1RequestTimeEpoch = bytes("\",\"requestTimeEpoch\":")
    static let v1ResourceID = bytes(",\"resourceId\":")
    static let v1ResourcePath = bytes(",\"resourcePath\":\"")
    static let v1Stage = bytes("\",\"stage\":\"")

    static let v2Version = bytes("{\"version\":\"2.0\",\"routeKey\":\"")
    static let v2RawPath = bytes("\",\"rawPath\":\"")
    static let v2RawQueryString = bytes("\",\"rawQueryString\":\"")
    static let v2Cookies = bytes(",\"cookies\":[")
    static let v2Headers = bytes(",\"headers\":")
    static let v2QueryStringParameters = bytes(",\"queryStringParameters\":")
    static let v2PathParameters = bytes(",\"pathParameters\":")
    static let v2StageVariables = bytes(",\"stageVariables\":")
    static let v2AccountID = bytes("\"accountId\":\"")
    static let v2HTTPMethod = bytes("\",\"http\":{\"method\":\"")
    static let v2HTTPPath = bytes("\",\"path\":\"")
    static let v2HTTPProtocol = bytes("\",\"protocol\":\"")
    static let v2HTTPSourceIP = bytes("\",\"sourceIp\":\"")
    static let v2HTTPUserAgent = bytes("\",\"userAgent\":")
    static let v2RequestID = bytes("},\"requestId\":\"")
    static let v2RouteKey = bytes("\",\"routeKey\":\"")
    static let v2Stage = bytes("\",\"stage\":\"")
    static let v2Time = bytes("\",\"time\":\"")
    static let v2TimeEpoch = bytes("\",\"timeEpoch\":")

    static let forwardedFor = bytes("\"X-Forwarded-For\":")
    static let forwardedPort = bytes("\"X-Forwarded-Port\":")
    static let forwardedProto = bytes("\"X-Forwarded-Proto\":")
    static let forwardedForLower = bytes("\"x-forwarded-for\":")
    static let amazonTraceID = bytes("\"X-Amzn-Trace-Id\":")
    static let amazonTraceIDLower = bytes("\"x-amzn-trace-id\":")
    static let forwardedPortLower = bytes("\"x-forwarded-port\":")
    static let forwardedProtoLower = bytes("\"x-forwarded-proto\":")

    static let bodyStart = bytes("\"body\":\"")
    static let nullBodyEnd = bytes("\"body\":null,\"isBase64Encoded\":false}")
    static let noBodyEnd = bytes("\"isBase64Encoded\":false}")
    static let textBodyEnd = bytes("\",\"isBase64Encoded\":false}")
    static let base64BodyEnd = bytes("\",\"isBase64Encoded\":true}")
}

extension LambdaBodyEncoding {
    /// How payload format 2.0 (HTTP APIs) carries a request body whose `Content-Type` value is
    /// `contentType` (empty when the request has none): as text when the media type is textual —
    /// `text/*`, JSON, XML, JavaScript or a form (`application/x-www-form-urlencoded`), `+json` and
    /// `+xml` suffixes included — and base64-encoded otherwise, as HTTP APIs treat anything they
    /// cannot tell is text as binary. Format 1.0 (REST APIs) passes bodies as text until binary
    /// media types are configured.
    public static func version2(contentType: Span<UInt8>) -> LambdaBodyEncoding {
        var end = 0
        while end < contentType.count && contentType[end] != 0x3B { end += 1 }  // up to ";"
        while end > 0 && (contentType[end - 1] == 0x20 || contentType[end - 1] == 0x09) { end -= 1 }
        var start = 0
        while start < end && (contentType[start] == 0x20 || contentType[start] == 0x09) { start += 1 }
        let mediaType = contentType.extracting(start..<end)
        if hasPrefix(mediaType, TextualMediaTypes.text) { return .text }
        for whole in TextualMediaTypes.whole where equalsIgnoringCase(mediaType, whole) { return .text }
        for suffix in TextualMediaTypes.suffixes where hasSuffix(mediaType, suffix) { return .text }
        return .base64
    }

    private static func hasPrefix(_ bytes: Span<UInt8>, _ lowercased: [UInt8]) -> Bool {
        guard bytes.count >= lowercased.count else { return false }
        return equalsIgnoringCase(bytes.extracting(0..<lowercased.count), lowercased)
    }

    private static func hasSuffix(_ bytes: Span<UInt8>, _ lowercased: [UInt8]) -> Bool {
        guard bytes.count >= lowercased.count else { return false }
        return equalsIgnoringCase(bytes.extracting(bytes.count - lowercased.count..<bytes.count), lowercased)
    }

    private static func equalsIgnoringCase(_ bytes: Span<UInt8>, _ lowercased: [UInt8]) -> Bool {
        guard bytes.count == lowercased.count else { return false }
        for index in bytes.indices where HTTPBytes.lowercased(bytes[index]) != lowercased[index] { return false }
        return true
    }
}

/// The media types format 2.0 passes as text, lowercased.
private enum TextualMediaTypes {
    static let text: [UInt8] = Array("text/".utf8)
    static let whole: [[UInt8]] = ["application/json", "application/xml", "application/javascript",
                                   "application/x-www-form-urlencoded"].map { Array($0.utf8) }
    static let suffixes: [[UInt8]] = ["+json", "+xml"].map { Array($0.utf8) }
}
