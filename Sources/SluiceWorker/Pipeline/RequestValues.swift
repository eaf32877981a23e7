import SluiceConfig
import SluiceHTTP1
import SluiceJSON
import SluiceLambda
import SluicePipeline
import SluicePolicy
import SluiceURing

/// A value read from a request by API Gateway's names (`method.request.*`, `$context.*`,
/// `$stageVariables.*`, a static `'value'`): compiled once at load, and read by one evaluator
/// (`Worker.appendValue`) for parameter mappings, the Lambda event and access logs alike.
enum RequestValue {
    /// `method.request.path.NAME`: the route's parameter as received (still percent-encoded).
    case pathParameter(Int)
    /// `method.request.querystring.NAME`, by its raw (percent-encoded) name.
    case query([UInt8])
    /// `method.request.header.NAME`, by its lowercased name.
    case header([UInt8])
    /// A static value, a stage variable (resolved for the stage), or a context variable that is
    /// fixed for the operation and stage.
    case literal([UInt8])
    case context(ContextVariable)
    /// `context.authorizer.claims.NAME`: a claim of the request's verified token, by name.
    case claim([UInt8])
    /// `context.authorizer.NAME`: a Lambda authorizer's context value (or `principalId`).
    case authorizer([UInt8])

    /// The compiled form of a mapping's source, for an operation of `apiName` on `stage`.
    init(_ source: ParameterSource, stage: String, resourcePath: String, apiName: String) {
        switch source {
        case .pathParameter(let index): self = .pathParameter(index)
        // Multi-value sources map their first value: one header or query parameter is written.
        case .query(let name), .multiValueQuery(let name): self = .query(Array(name.utf8))
        case .header(let name), .multiValueHeader(let name): self = .header(Array(name.lowercased().utf8))
        case .literal(let text): self = .literal(Array(text.utf8))
        case .context(.stage): self = .literal(Array(stage.utf8))
        case .context(.resourcePath): self = .literal(Array(resourcePath.utf8))
        case .context(.apiId): self = .literal(Array(apiName.utf8))
        case .context(let variable): self = .context(variable)
        case .claim(let name): self = .claim(Array(name.utf8))
        case .authorizer(let name): self = .authorizer(Array(name.utf8))
        }
    }
}

/// How a value is written where it goes.
enum ValueEscaping {
    /// As it is: a header's value.
    case none
    /// Into an upstream URL's query: what came from the request's URL goes as it came (already
    /// percent-encoded); anything else is percent-encoded, so that a header's `&`, `#` or space
    /// cannot add parameters or end the query.
    case urlQuery
    /// Into an upstream URL's path: the request's path and its parameters go as they came (their
    /// dot-segments are resolved before routing; a greedy parameter keeps its `/`); any other
    /// value is percent-encoded whole — a query value decoded first — and a value that is only
    /// `.` or `..` has its dots encoded too, so that no value (`?p=../../admin`, `?p=a?x=1`)
    /// can change the upstream's path or add a query.
    case urlPath
    /// Into a text access-log line: `"`, `\`, control bytes and bytes above 0x7E as `\xHH`, so
    /// that a value cannot end its field or its line; nothing as `-`.
    case logText
    /// Into a JSON access-log line: JSON string content; nothing as `-`.
    case json

    var isLog: Bool { self == .logText || self == .json }
}

/// The request's own texts that `$context` reads: from its head while the head is at hand, from
/// the copies its record keeps (access logs) once it is gone.
enum RequestText {
    case path, userAgent, host, method
}

extension Worker {
    static let noBytes: [UInt8] = []
    static let nullText: [UInt8] = Array("null".utf8)
    static let dash: UInt8 = 0x2D
    static let http11Text: [UInt8] = Array("HTTP/1.1".utf8)
    static let http10Text: [UInt8] = Array("HTTP/1.0".utf8)
    static let userAgentName: [UInt8] = Array("user-agent".utf8)

    /// Writes `value` of the request on connection `index`. `head` is the request head's bytes
    /// when `headAtHand` (a step or an integration writing it), otherwise ignored: the request is
    /// answered and its texts are read from its record (an access-log line). A value the request
    /// does not have writes nothing (a log writes `-`).
    func appendValue(_ value: RequestValue, _ index: Int, head bytes: Span<UInt8>, headAtHand: Bool,
                     escaping: ValueEscaping, to writer: inout SlabWriter) {
        let start = writer.count
        switch value {
        case .pathParameter(let parameter):
            if headAtHand && parameter < match.pathParameters.count {
                appendEscaped(bytes.extracting(head.path).extracting(match.pathParameters[parameter]), escaping,
                              fromURL: true, to: &writer)
            }
        case .query(let name):
            if headAtHand, let found = QueryString.value(of: name, in: bytes.extracting(head.query)) {
                let value = bytes.extracting(head.query).extracting(found)
                if escaping == .urlPath {
                    appendDecodedForPath(value, to: &writer)
                } else {
                    appendEscaped(value, escaping, fromURL: true, to: &writer)
                }
            }
        case .header(let name):
            if headAtHand, let found = head.value(ofHeader: name.span, in: bytes) {
                appendEscaped(bytes.extracting(found), escaping, to: &writer)
            }
        case .literal(let literal):
            appendEscaped(literal.span, escaping, to: &writer)
        case .context(let variable):
            appendContext(variable, index, head: bytes, headAtHand: headAtHand, escaping: escaping, to: &writer)
        case .claim(let name):
            appendClaim(name, index, escaping: escaping, to: &writer)
        case .authorizer(let name):
            appendAuthorizerValue(name, index, escaping: escaping, to: &writer)
        }
        if escaping.isLog && writer.count == start { writer.append(Worker.dash) }
    }

    /// `$context.NAME`: every variable Sluice knows, from the one place each is kept.
    func appendContext(_ variable: ContextVariable, _ index: Int, head bytes: Span<UInt8>, headAtHand: Bool,
                       escaping: ValueEscaping, to writer: inout SlabWriter) {
        let record = connections[index].request.record
        switch variable {
        case .requestId:
            Worker.appendRequestID(high: requestIDHigh, low: record.requestID, to: &writer)
        case .extendedRequestId:
            Worker.appendExtendedRequestID(high: requestIDHigh, low: record.requestID, to: &writer)
        case .apiId:
            if record.stage >= 0 { appendEscaped(stageAPINames[Int(record.stage)], escaping, to: &writer) }
        case .deploymentId:
            appendEscaped(record.stage >= 0 ? stageDeploymentIDs[Int(record.stage)] : deploymentID, escaping, to: &writer)
        case .isCanaryRequest:
            guard record.stage >= 0 else { break }
            let stage = Int(record.stage)
            if canaryStages[stage] >= 0 || canaryOf[stage] >= 0 {
                appendEscaped(connections[index].request.canary ? Worker.trueText : Worker.falseText, escaping, to: &writer)
            }
        case .stage:
            if record.stage >= 0 { appendEscaped(stageNames[Int(record.stage)], escaping, to: &writer) }
        case .domainName:
            withRequestText(.host, index, bytes, headAtHand) { appendEscaped($0, escaping, to: &writer) }
        case .domainPrefix:
            withRequestText(.host, index, bytes, headAtHand) { host in
                appendEscaped(host.extracting(HTTPBytes.firstLabel(host, 0..<host.count)), escaping, to: &writer)
            }
        case .httpMethod:
            withRequestText(.method, index, bytes, headAtHand) { appendEscaped($0, escaping, to: &writer) }
        case .resourcePath:
            // A request under a stage that no resource answers has no resource path.
            if record.operation >= 0 { appendEscaped(operationPaths[Int(record.operation)], escaping, to: &writer) }
        case .path:
            withRequestText(.path, index, bytes, headAtHand) { appendEscaped($0, escaping, fromURL: true, to: &writer) }
        case .protocol:
            writer.append(connections[index].request.pending.http10 ? Worker.http10Text.span : Worker.http11Text.span)
        case .sourceIp:
            // An IPv6 address has colons, which a URL path may hold as they are.
            let length = peerAddressLength(index)
            peerAddresses.withBytes(slot: index, range: 0..<length) { address in writer.append(address) }
        case .userAgent:
            withRequestText(.userAgent, index, bytes, headAtHand) { appendEscaped($0, escaping, to: &writer) }
        case .requestTime:
            // Its characters (`/`, `:`, space, `+`) are percent-encoded in a URL.
            let length = valueScratch.write(slot: 0, offset: 0) { time in
                JSONText.appendCommonLogTime(epochMilliseconds: record.epochMilliseconds, to: &time)
            }.byteCount
            valueScratch.withBytes(slot: 0, range: 0..<length) { appendEscaped($0, escaping, to: &writer) }
        case .requestTimeEpoch:
            ResponseHead.appendDecimal(record.epochMilliseconds, to: &writer)
        case .apiKeyId:
            if record.apiKey >= 0 { appendEscaped(apiKeyNames[Int(record.apiKey)], escaping, to: &writer) }
        case .clientCertPem: appendClientCertificate(.pem, index, escaping, to: &writer)
        case .clientCertSubjectDN: appendClientCertificate(.subjectDN, index, escaping, to: &writer)
        case .clientCertIssuerDN: appendClientCertificate(.issuerDN, index, escaping, to: &writer)
        case .clientCertSerialNumber: appendClientCertificate(.serialNumber, index, escaping, to: &writer)
        case .clientCertNotBefore: appendClientCertificate(.notBefore, index, escaping, to: &writer)
        case .clientCertNotAfter: appendClientCertificate(.notAfter, index, escaping, to: &writer)
        case .tlsVersion, .tlsCipher:
            guard connections[index].secure else { return }
            _ = tls.withNegotiated(variable == .tlsVersion ? .version : .cipher, slot: index) { text in
                appendEscaped(text, escaping, to: &writer)
            }
        case .userArn, .caller, .user, .accessKey:
            let credential = Int(record.iamCredential)
            guard credential >= 0 else { return }
            switch variable {
            case .userArn: appendEscaped(authorization.credentialARNs[credential], escaping, to: &writer)
            case .accessKey: appendEscaped(authorization.credentialKeyIDs[credential], escaping, to: &writer)
            default: appendEscaped(authorization.credentialPrincipals[credential], escaping, to: &writer)
            }
        case .authorizeStatus:
            if record.authorizeStatus > 0 { ResponseHead.appendDecimal(Int(record.authorizeStatus), to: &writer) }
        case .authorizeLatency:
            if record.authorizeNanoseconds >= 0 {
                ResponseHead.appendDecimal(Int(record.authorizeNanoseconds / 1_000_000), to: &writer)
            }
        case .authorizeError:
            guard record.authorizeError >= 0, let answer = GatewayAnswer(rawValue: Int(record.authorizeError)) else { return }
            appendEscaped(answerMessages[answer.rawValue], escaping, to: &writer)
        case .traceId:
            record.trace.appendTraceID(to: &writer)
        case .xrayTraceId:
            record.trace.appendAmazonRoot(to: &writer)
        case .status:
            if record.status > 0 { ResponseHead.appendDecimal(Int(record.status), to: &writer) }
        case .responseLength:
            ResponseHead.appendDecimal(record.responseBytes, to: &writer)
        case .responseLatency:
            ResponseHead.appendDecimal(Int(record.latencyNanoseconds / 1_000_000), to: &writer)
        case .integrationLatency, .integrationLatencyDotted:
            if record.integrationNanoseconds >= 0 {
                ResponseHead.appendDecimal(Int(record.integrationNanoseconds / 1_000_000), to: &writer)
            }
        case .integrationStatus, .integrationStatusDotted:
            if record.integrationStatus > 0 { ResponseHead.appendDecimal(Int(record.integrationStatus), to: &writer) }
        case .errorValidationErrorString:
            let length = Int(record.validationErrorLength)
            if length > 0 {
                validating.details.withBytes(slot: index, range: 0..<length) { appendEscaped($0, escaping, to: &writer) }
            }
        case .errorMessage, .errorMessageString, .errorResponseType:
            guard record.answer >= 0, let answer = GatewayAnswer(rawValue: Int(record.answer)) else { return }
            switch variable {
            case .errorMessage:
                appendEscaped(answerMessages[answer.rawValue], escaping, to: &writer)
            case .errorMessageString where answer == .authorizerConfigurationError || answer == .authorizerFailure:
                // API Gateway's message for these is null, not a string.
                writer.append(Worker.nullText)
            case .errorMessageString:
                // A JSON string; inside a JSON line its quotes are escaped like any value's.
                let quote: [UInt8] = escaping == .json ? [0x5C, 0x22] : [0x22]
                writer.append(quote)
                appendEscaped(answerMessages[answer.rawValue], escaping == .json ? .logText : escaping, to: &writer)
                writer.append(quote)
            default:
                appendEscaped(answerResponseTypes[answer.rawValue], escaping, to: &writer)
            }
        }
    }

    /// A claim of the request's verified token: a string's decoded text, any other value's JSON
    /// text; nothing when the request has no token or the token no such claim. Control bytes a
    /// claim may hold cannot end a header line: written as they are only into JSON, else as spaces
    /// (a header) or escaped (a log).
    func appendClaim(_ name: [UInt8], _ index: Int, escaping: ValueEscaping, to writer: inout SlabWriter) {
        let entry = Int(connections[index].request.record.token)
        guard entry >= 0 else { return }
        let stored = authorization.tokens.entries[entry]
        let range = Int(stored.tokenLength)..<Int(stored.tokenLength + stored.claimsLength)
        authorization.tokens.storage.withBytes(slot: entry, range: range) { claims in
            guard let object = JSONScanner.document(claims), object.kind == .object else { return }
            var members = JSONMembers(object.range)
            while let (key, value) = members.next(claims) {
                guard JSONScanner.string(claims, key, equals: name.span) else { continue }
                if value.kind == .string && escaping == .json {
                    // Already JSON string content, escapes and all.
                    writer.append(claims.extracting(value.content))
                    return
                }
                var bytes = UnescapedBytes(value.kind == .string ? value.content : value.range)
                while let byte = bytes.next(claims) {
                    switch escaping {
                    case .none: writer.append(byte < 0x20 || byte == 0x7F ? 0x20 : byte)
                    case .urlQuery, .urlPath: URLBytes.appendEncoded(byte, encodingDots: false, to: &writer)
                    case .logText, .json: appendEscaped(CollectionOfOne(byte).span, escaping, to: &writer)
                    }
                }
                return
            }
        }
    }

    /// A Lambda authorizer's context value for the request (a string's text, a number's or a
    /// boolean's as written), or its `principalId`; nothing without one.
    func appendAuthorizerValue(_ name: [UInt8], _ index: Int, escaping: ValueEscaping, to writer: inout SlabWriter) {
        let slot = Int(connections[index].request.record.authorizerResult)
        guard slot >= 0 else { return }
        let length = Int(authorization.resultLengths[slot])
        authorization.results.withBytes(slot: slot, range: 0..<length) { result in
            guard let reader = AuthorizerResultReader(result) else { return }
            let range: Range<Int>
            if name == Worker.principalIDName {
                range = reader.principal
            } else if let (_, value) = reader.context(result, named: name.span) {
                range = value
            } else {
                return
            }
            let text = result.extracting(range)
            if escaping == .none {
                // A header's value: no byte may end its line.
                for offset in 0..<text.count {
                    writer.append(text[offset] < 0x20 || text[offset] == 0x7F ? 0x20 : text[offset])
                }
            } else {
                appendEscaped(text, escaping, to: &writer)
            }
        }
    }

    /// Lends `body` one of the request's own texts (empty when the request has none).
    func withRequestText(_ text: RequestText, _ index: Int, _ bytes: Span<UInt8>, _ headAtHand: Bool,
                         _ body: (Span<UInt8>) -> Void) {
        if headAtHand {
            switch text {
            case .path: body(bytes.extracting(head.path))
            case .host: body(bytes.extracting(head.host))
            case .method: body(bytes.extracting(head.methodName))
            case .userAgent:
                let agent = HeaderNames.value(of: Worker.userAgentName, in: head.headers, bytes: bytes)
                body(bytes.extracting(agent ?? 0..<0))
            }
            return
        }
        let record = connections[index].request.record
        let (offset, count): (Int, Int16) = switch text {
        case .path: (0, record.pathLength)
        case .userAgent: (RequestTexts.agentOffset, record.agentLength)
        case .host: (RequestTexts.hostOffset, record.hostLength)
        case .method: (RequestTexts.methodOffset, record.methodLength)
        }
        requestTexts.withBytes(slot: index, range: offset..<(offset + Int(count)), body)
    }

    /// The client's address as text in its `peerAddresses` slot, looked up on first use.
    func peerAddressLength(_ index: Int) -> Int {
        if connections[index].peerAddressLength == 0 {
            connections[index].peerAddressLength = Socket.peerAddress(connections[index].fd, into: peerAddresses,
                                                                      slot: index)
        }
        return connections[index].peerAddressLength
    }

    /// A query value (percent-encoded as received) into an upstream path: decoded, then encoded
    /// whole, dots too when it is only `.` or `..`.
    func appendDecodedForPath(_ value: Span<UInt8>, to writer: inout SlabWriter) {
        var decodedCount = 0
        var allDots = true
        URLBytes.forEachDecoded(value) { byte in
            decodedCount += 1
            allDots = allDots && byte == 0x2E
        }
        let dotsOnly = allDots && decodedCount > 0 && decodedCount <= 2
        URLBytes.forEachDecoded(value) { byte in URLBytes.appendEncoded(byte, encodingDots: dotsOnly, to: &writer) }
    }

    func appendEscaped(_ text: [UInt8], _ escaping: ValueEscaping, to writer: inout SlabWriter) {
        appendEscaped(text.span, escaping, to: &writer)
    }

    func appendEscaped(_ text: Span<UInt8>, _ escaping: ValueEscaping, fromURL: Bool = false,
                       to writer: inout SlabWriter) {
        switch escaping {
        case .none:
            writer.append(text)
        case .urlQuery, .urlPath:
            guard !fromURL else { return writer.append(text) }
            let dotsOnly = escaping == .urlPath && (text.count == 1 || text.count == 2)
                && text[0] == 0x2E && text[text.count - 1] == 0x2E
            for index in text.indices {
                URLBytes.appendEncoded(text[index], encodingDots: dotsOnly, to: &writer)
            }
        case .logText:
            for index in text.indices {
                let byte = text[index]
                if byte < 0x20 || byte > 0x7E || byte == 0x22 || byte == 0x5C {
                    writer.append(0x5C)
                    writer.append(0x78)
                    writer.append(URLBytes.upperHex(byte >> 4))
                    writer.append(URLBytes.upperHex(byte & 0xF))
                } else {
                    writer.append(byte)
                }
            }
        case .json:
            JSONText.appendStringContent(text, to: &writer)
        }
    }
}

/// RFC 3986 §2.3: the bytes a URL carries as they are; every other byte is percent-encoded.
enum URLBytes {
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: true
        default: false
        }
    }

    static func upperHex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? nibble + 48 : nibble + 55 }

    /// A byte as a URL carries it: as it is when unreserved (a dot only unless `encodingDots`),
    /// else `%XX` with uppercase digits (RFC 3986 §2.1).
    @inline(__always)
    static func appendEncoded(_ byte: UInt8, encodingDots: Bool, to writer: inout SlabWriter) {
        if isUnreserved(byte) && !(encodingDots && byte == 0x2E) {
            writer.append(byte)
        } else {
            writer.append(0x25)
            writer.append(upperHex(byte >> 4))
            writer.append(upperHex(byte & 0xF))
        }
    }

    /// Calls `body` with each byte of `value` with its `%XX` sequences decoded (a `%` without
    /// two hex digits stands for itself).
    static func forEachDecoded(_ value: Span<UInt8>, _ body: (UInt8) -> Void) {
        var index = 0
        while index < value.count {
            let byte = value[index]
            if byte == 0x25 && index + 2 < value.count, let high = PercentDecoding.hexValue(value[index + 1]),
               let low = PercentDecoding.hexValue(value[index + 2]) {
                body(high << 4 | low)
                index += 3
            } else {
                body(byte)
                index += 1
            }
        }
    }
}
