import SluiceAuth
import SluiceCache
import SluiceConfig
import SluiceHTTP1
import SluiceJSON
import SluiceLambda
import SluicePipeline
import SluicePolicy
import SluiceSharedMemory
import SluiceURing

/// How one operation is authorized, compiled for the request path.
enum MethodAuthorizationStep {
    case open
    case iam
    /// A JWT or Cognito authorizer (`AuthorizationState.authorizers` index).
    case jwt(Int)
    /// A Lambda authorizer (`AuthorizationState.lambda` index).
    case lambda(Int)
    case refused
}

/// A JWT or Cognito user pool authorizer, compiled.
struct CompiledAuthorizer {
    let kind: Authorizer.Kind
    /// The header its token is in, lowercase.
    let tokenHeader: [UInt8]
    let issuers: [[UInt8]]
    /// By issuer: its `jwt_issuers` index, which is its slot of the shared key sets.
    let issuerSlots: [Int]
    let audiences: [[UInt8]]
    let leewaySeconds: Int64

    /// What a token failure answers: HTTP APIs (JWT authorizers) say why in a challenge, REST
    /// APIs (user pools) answer 401 Unauthorized, or that the token expired.
    func answer(_ failure: JWTFailure) -> GatewayAnswer {
        guard kind == .jwt else { return failure == .expired ? .tokenExpired : .unauthorized }
        switch failure {
        case .malformed: return .jwtMalformed
        case .algorithm, .unknownKey, .signature: return .jwtInvalidSignature
        case .expired: return .jwtExpired
        case .notYetValid: return .jwtNotYetValid
        case .issuer: return .jwtInvalidIssuer
        case .audience: return .jwtInvalidAudience
        case .scope: return .jwtInsufficientScope
        }
    }

    var missing: GatewayAnswer { kind == .jwt ? .jwtMissing : .unauthorized }
}

/// One verified token, kept until it expires (at most five minutes): a repeated token costs a
/// hash and a comparison, not a signature check. Its bytes and decoded claims are in the
/// entry's slot of `TokenCache.storage`. An entry a request still reads (its claims, for the
/// integration or the access log) is pinned and not replaced.
struct TokenEntry {
    var hash: UInt64 = 0
    var authorizer: Int32 = -1
    var tokenLength: Int32 = 0
    var claimsLength: Int32 = 0
    var pins: Int32 = 0
    /// Unix seconds; the entry is dead from then on.
    var validUntil: Int64 = 0
}

struct TokenCache {
    static let entryCount = 1_024
    /// Entries a token may occupy: its hash's and the next ones.
    static let probes = 8
    /// A verified token is trusted this long at most (then checked again), whatever its `exp`.
    static let lifetimeSecondsMax: Int64 = 300

    var entries = [TokenEntry](repeating: TokenEntry(), count: TokenCache.entryCount)
    let storage: ByteSlab

    init(tokenBytesMax: Int) throws(SystemError) {
        storage = try ByteSlab(slotCount: TokenCache.entryCount, slotBytes: 2 * tokenBytesMax)
    }

    static func hash(_ token: Span<UInt8>, authorizer: Int) -> UInt64 {
        HTTPBytes.fnv1a(token) &+ UInt64(authorizer) &* 0x9E37_79B9_7F4A_7C15
    }

    /// The live entry for `token` under `authorizer`, or nil.
    func lookup(_ token: Span<UInt8>, hash: UInt64, authorizer: Int, now: Int64) -> Int? {
        let mask = TokenCache.entryCount - 1
        for probe in 0..<TokenCache.probes {
            let slot = (Int(truncatingIfNeeded: hash) &+ probe) & mask
            let entry = entries[slot]
            guard entry.hash == hash, entry.authorizer == Int32(authorizer), Int(entry.tokenLength) == token.count,
                  now < entry.validUntil else { continue }
            let same = storage.withBytes(slot: slot, range: 0..<token.count) { stored in
                var offset = 0
                while offset < token.count {
                    if stored[offset] != token[offset] { return false }
                    offset += 1
                }
                return true
            }
            if same { return slot }
        }
        return nil
    }

    /// Keeps a verified token and its claims; returns its entry, or nil when every entry it may
    /// take is pinned (the request goes on without its claims kept).
    mutating func insert(_ token: Span<UInt8>, claims: [UInt8], hash: UInt64, authorizer: Int, validUntil: Int64,
                         now: Int64) -> Int? {
        guard token.count + claims.count <= storage.slotBytes else { return nil }
        let mask = TokenCache.entryCount - 1
        var chosen = -1
        for probe in 0..<TokenCache.probes {
            let slot = (Int(truncatingIfNeeded: hash) &+ probe) & mask
            let entry = entries[slot]
            guard entry.pins == 0 else { continue }
            if entry.validUntil <= now {
                chosen = slot
                break
            }
            if chosen < 0 || entry.validUntil < entries[chosen].validUntil { chosen = slot }
        }
        guard chosen >= 0 else { return nil }
        _ = storage.write(slot: chosen, offset: 0) { writer in
            writer.append(token)
            writer.append(claims)
        }
        entries[chosen] = TokenEntry(hash: hash, authorizer: Int32(authorizer), tokenLength: Int32(token.count),
                                     claimsLength: Int32(claims.count), pins: 0, validUntil: validUntil)
        return chosen
    }
}

/// The worker's authorization state: the compiled authorizers, the verifiers with their
/// buffers, the issuers' key sets as last read from shared memory, and the verified tokens.
struct AuthorizationState {
    let methods: [MethodAuthorizationStep]
    /// By operation: the scopes its authorizer requires (any one), empty for none.
    let scopes: [[[UInt8]]]
    let authorizers: [CompiledAuthorizer]
    var sigV4: SigV4Verifier
    /// IAM credentials' identities for `$context.identity.*`, by credential.
    let credentialARNs: [[UInt8]]
    let credentialPrincipals: [[UInt8]]
    let credentialKeyIDs: [[UInt8]]
    var jwt: JWTVerifier
    var tokens: TokenCache
    /// By `jwt_issuers` entry: its keys, the version of the shared document they were read from,
    /// and when this worker last asked for a refresh (Unix seconds).
    var keySets: [KeySet?]
    var keyVersions: [UInt64]
    var refreshAskedAt: [Int64]
    let documents: SharedDocuments?
    var documentScratch: [UInt8] = []
    /// A request's `requestContext.authorizer` object for its AWS_PROXY event, rendered here.
    let objectScratch: ByteSlab
    /// A result's context escaped at its longest (six bytes a byte), and the object around it.
    static let objectBytesMax = 6 * resultBytesMax + 1_024

    // Lambda authorizers (LambdaAuthorization.swift), by `Deployment.authorizers` index (nil for
    // the others); the results every worker shares; the compiled results requests read, one
    // slot each while they run; scratch for keys, answers and method ARNs; each stage's ARN
    // prefix (`arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/`) and path prefix length.
    let lambda: [CompiledLambdaAuthorizer?]
    let resultCache: CacheIndex?
    let results: ByteSlab
    var resultLengths: [Int32]
    var freeResults: [Int32]
    var keyScratch: [UInt8] = []
    var answerScratch: [UInt8] = []
    var arnScratch: [UInt8] = []
    let arnPrefixes: [[UInt8]]
    let stagePrefixByteCounts: [Int]
    static let resultSlots = 256
    static let resultBytesMax = 16_384

    static let tokenBytesMax = 8_192
    /// A worker asks for an issuer's keys again at most this often when tokens name unknown keys.
    static let refreshIntervalSeconds: Int64 = 10

    init(deployment: Deployment, documents: SharedDocuments?, resultCache: CacheZones?) throws(SystemError) {
        let issuers = deployment.jwtIssuers
        lambda = deployment.authorizers.enumerated().map { index, authorizer in
            CompiledLambdaAuthorizer(authorizer, index: index, stages: deployment.stages)
        }
        self.resultCache = resultCache.map(CacheIndex.init)
        objectScratch = try ByteSlab(slotCount: 1, slotBytes: deployment.authorizers.isEmpty ? 1 : AuthorizationState.objectBytesMax)
        let hasLambda = lambda.contains { $0 != nil }
        results = try ByteSlab(slotCount: hasLambda ? AuthorizationState.resultSlots : 1,
                               slotBytes: hasLambda ? AuthorizationState.resultBytesMax : 1)
        resultLengths = Array(repeating: 0, count: hasLambda ? AuthorizationState.resultSlots : 0)
        freeResults = hasLambda ? (0..<Int32(AuthorizationState.resultSlots)).reversed() : []
        let headBytesMax = deployment.limits.request.headBytesMax
        keyScratch.reserveCapacity(headBytesMax + 64)
        answerScratch.reserveCapacity(AuthorizationState.resultBytesMax)
        arnScratch.reserveCapacity(headBytesMax + 256)
        arnPrefixes = deployment.stages.map { stage in
            Array("arn:aws:execute-api:\(deployment.aws.region):\(deployment.aws.accountID):\(deployment.apis[stage.api].name)/\(stage.name)/".utf8)
        }
        stagePrefixByteCounts = deployment.stages.map { stage in stage.urlPrefix.reduce(0) { $0 + 1 + $1.utf8.count } }
        methods = deployment.operations.map { operation in
            switch operation.authorization {
            case .none: .open
            case .iam: .iam
            case .authorizer(let index, _):
                deployment.authorizers[index].kind == .token || deployment.authorizers[index].kind == .request
                    ? .lambda(index) : .jwt(index)
            case .unenforced: .refused
            }
        }
        scopes = deployment.operations.map { operation in
            if case .authorizer(_, let names) = operation.authorization { return names.map { Array($0.utf8) } }
            return []
        }
        authorizers = deployment.authorizers.map { authorizer in
            let slots = authorizer.issuers.map { issuer in issuers.firstIndex { $0.issuer == issuer } ?? -1 }
            let leeway = slots.map { $0 >= 0 ? issuers[$0].leewaySeconds : 0 }.max() ?? 0
            return CompiledAuthorizer(kind: authorizer.kind, tokenHeader: Array(authorizer.tokenHeader.utf8),
                                      issuers: authorizer.issuers.map { Array($0.utf8) }, issuerSlots: slots,
                                      audiences: authorizer.audiences.map { Array($0.utf8) },
                                      leewaySeconds: Int64(leeway))
        }
        let credentials = deployment.iamCredentials
        sigV4 = SigV4Verifier(region: deployment.aws.region, credentials: credentials.map {
            SigV4Credential(accessKeyID: $0.accessKeyID, secretAccessKey: $0.secretAccessKey,
                            sessionToken: $0.sessionToken, expiresEpochSeconds: $0.expiresEpochSeconds)
        }, headBytesMax: deployment.limits.request.headBytesMax)
        credentialARNs = credentials.map { Array($0.userARN.utf8) }
        credentialPrincipals = credentials.map { Array($0.principalID.utf8) }
        credentialKeyIDs = credentials.map { Array($0.accessKeyID.utf8) }
        jwt = JWTVerifier(tokenBytesMax: AuthorizationState.tokenBytesMax)
        tokens = try TokenCache(tokenBytesMax: deployment.authorizers.isEmpty ? 1 : AuthorizationState.tokenBytesMax)
        keySets = issuers.map { issuer in
            issuer.initialKeys.flatMap { try? KeySet.parse($0).get() }
        }
        keyVersions = Array(repeating: 0, count: issuers.count)
        refreshAskedAt = Array(repeating: Int64.min / 2, count: issuers.count)
        self.documents = documents
    }

    /// Reads an issuer's keys again if the coordinator published a newer version.
    mutating func updateKeys(_ slot: Int) {
        guard let documents, slot >= 0 else { return }
        let version = documents.version(slot)
        guard version != keyVersions[slot], version != 0 else { return }
        guard let read = documents.read(slot, into: &documentScratch) else { return }
        keyVersions[slot] = read
        if case .success(let set) = KeySet.parse(documentScratch) { keySets[slot] = set }
    }

    /// Asks the coordinator for an issuer's keys again (a token named a key it does not know).
    mutating func askForKeys(_ slot: Int, now: Int64) {
        guard let documents, slot >= 0, now - refreshAskedAt[slot] >= AuthorizationState.refreshIntervalSeconds else { return }
        refreshAskedAt[slot] = now
        documents.requestRefresh(slot)
    }
}

extension Worker {
    static let bearerPrefix: [UInt8] = Array("bearer ".utf8)

    /// Step 4: the method's authorizer or IAM. Records what it decided for the access log.
    func authorizerStep(_ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        // A step that waits (a Lambda authorizer's invocation) runs again: its time counts from
        // the first run.
        if connections[index].request.authorizeStartedNanoseconds == 0 {
            connections[index].request.authorizeStartedNanoseconds = clock.monotonicNanoseconds()
        }
        let started = connections[index].request.authorizeStartedNanoseconds
        let outcome: StepOutcome
        switch authorization.methods[match.operation] {
        case .open: return .proceed
        case .refused: outcome = .refuse(.authorizerConfigurationError)
        case .iam: outcome = iamStep(index, bytes)
        case .jwt(let authorizer): outcome = tokenStep(index, bytes, authorizer: authorizer)
        case .lambda(let authorizer): outcome = lambdaStep(index, bytes, authorizer: authorizer)
        }
        switch outcome {
        case .wait: return outcome
        case .refuse(let answer):
            connections[index].request.record.authorizeStatus = Int16(answer.status)
            connections[index].request.record.authorizeError = Int16(answer.rawValue)
            rejections.countAuthorization(slot: slot, stage: match.stage)
        case .proceed, .done:
            connections[index].request.record.authorizeStatus = 200
        }
        let elapsed = clock.monotonicNanoseconds() - started
        connections[index].request.record.authorizeNanoseconds = elapsed
        stageMetrics.latencies.observe(slot: slot, group: match.stage, .authorizer, nanoseconds: elapsed)
        let methodGroup = Int(connections[index].request.methodGroup)
        if methodGroup >= 0 { methodMetrics.latencies.observe(slot: slot, group: methodGroup, .authorizer, nanoseconds: elapsed) }
        return outcome
    }

    /// IAM: Signature Version 4 over the request and its whole body, which must be at hand: a
    /// body still arriving is waited for (WholeBody.swift).
    func iamStep(_ index: Int, _ bytes: Span<UInt8>) -> StepOutcome {
        let bodyRange: Range<Int>
        switch awaitBody(index, bytes) {
        case .ready(let range): bodyRange = range
        case .wait: return .wait
        case .refuse(let answer): return .refuse(answer)
        }
        let request = SigV4Request(method: head.methodName, path: head.path,
                                   query: head.query.isEmpty ? nil : head.query, headers: head.headers)
        let body = bytes.extracting(bodyRange)
        switch authorization.sigV4.verify(bytes, request, body: body, nowEpochSeconds: epochNanoseconds / 1_000_000_000) {
        case .success(let credential):
            connections[index].request.record.iamCredential = Int16(credential)
            return .proceed
        case .failure(let failure):
            switch failure {
            case .missing: return .refuse(.missingAuthenticationToken)
            case .incomplete: return .refuse(.incompleteSignature)
            case .unrecognizedClient: return .refuse(.unrecognizedClient)
            case .expiredToken: return .refuse(.expiredToken)
            case .expired: return .refuse(.signatureExpired)
            case .mismatch: return .refuse(.invalidSignature)
            }
        }
    }

    /// A JWT or user pool authorizer: the token from its header (`Bearer ` or bare), from the
    /// worker's verified tokens or verified now, then the method's scopes.
    func tokenStep(_ index: Int, _ bytes: Span<UInt8>, authorizer: Int) -> StepOutcome {
        let compiled = authorization.authorizers[authorizer]
        guard let field = HeaderNames.value(of: compiled.tokenHeader, in: head.headers, bytes: bytes) else {
            return .refuse(compiled.missing)
        }
        var token = HTTPBytes.trimmingWhitespace(bytes, field)
        let prefix = Worker.bearerPrefix
        if token.count > prefix.count,
           HTTPBytes.equalsIgnoringCase(bytes, token.lowerBound..<(token.lowerBound + prefix.count), lowercased: prefix.span) {
            token = HTTPBytes.trimmingWhitespace(bytes, (token.lowerBound + prefix.count)..<token.upperBound)
        }
        guard !token.isEmpty else { return .refuse(compiled.missing) }
        let tokenBytes = bytes.extracting(token)
        let now = epochNanoseconds / 1_000_000_000
        let hash = TokenCache.hash(tokenBytes, authorizer: authorizer)
        var entry = authorization.tokens.lookup(tokenBytes, hash: hash, authorizer: authorizer, now: now)
        if entry == nil {
            for slot in compiled.issuerSlots { authorization.updateKeys(slot) }
            let keySets = authorization.keySets
            let verified = authorization.jwt.verify(
                tokenBytes, issuers: compiled.issuers, audiences: compiled.audiences, nowEpochSeconds: now,
                leewaySeconds: compiled.leewaySeconds) { issuer in
                    let slot = compiled.issuerSlots[issuer]
                    return slot >= 0 ? keySets[slot] : nil
                }
            switch verified {
            case .failure(let failure):
                if failure == .unknownKey {
                    for slot in compiled.issuerSlots { authorization.askForKeys(slot, now: now) }
                }
                return .refuse(compiled.answer(failure))
            case .success(let token):
                // `expires` may be near Int64.max: the sum saturates.
                let (leewayed, overflow) = token.expires.addingReportingOverflow(compiled.leewaySeconds)
                let validUntil = min(overflow ? Int64.max : leewayed, now + TokenCache.lifetimeSecondsMax)
                let claims = authorization.jwt.claims
                entry = authorization.tokens.insert(tokenBytes, claims: claims, hash: hash, authorizer: authorizer,
                                                    validUntil: validUntil, now: now)
                if entry == nil {
                    // Every entry it could take is read by a request in flight: without a kept
                    // entry the request would reach its integration without its claims.
                    return .refuse(.serviceUnavailable)
                }
            }
        }
        guard let entry else { return .refuse(compiled.missing) }
        let scopes = authorization.scopes[match.operation]
        if !scopes.isEmpty {
            let stored = authorization.tokens.entries[entry]
            let claimsRange = Int(stored.tokenLength)..<Int(stored.tokenLength + stored.claimsLength)
            let holds = authorization.tokens.storage.withBytes(slot: entry, range: claimsRange) { claims in
                JWTVerifier.holdsScope(claims, anyOf: scopes)
            }
            guard holds else { return .refuse(compiled.answer(.scope)) }
        }
        pinToken(index, entry: entry)
        return .proceed
    }

    /// The request reads the token's claims until it ends.
    func pinToken(_ index: Int, entry: Int) {
        unpinToken(index)
        authorization.tokens.entries[entry].pins += 1
        connections[index].request.record.token = Int32(entry)
    }

    /// The request is over: what it held of the authorizer's (a verified token, a Lambda
    /// authorizer's result) is given back.
    func releaseAuthorization(_ index: Int) {
        unpinToken(index)
        let result = connections[index].request.record.authorizerResult
        if result >= 0 {
            authorization.freeResults.append(result)
            connections[index].request.record.authorizerResult = -1
        }
    }

    func unpinToken(_ index: Int) {
        let entry = Int(connections[index].request.record.token)
        guard entry >= 0 else { return }
        authorization.tokens.entries[entry].pins -= 1
        connections[index].request.record.token = -1
    }
}

extension Worker {
    static let claimsObjectStart: [UInt8] = Array(#"{"claims":{"#.utf8)
    static let jwtObjectStart: [UInt8] = Array(#"{"jwt":{"claims":{"#.utf8)
    static let jwtObjectEnd: [UInt8] = Array(#"},"scopes":null}}"#.utf8)
    static let lambdaObjectStart: [UInt8] = Array(#"{"lambda":{"#.utf8)
    static let principalObjectStart: [UInt8] = Array(#"{"principalId":""#.utf8)
    static let integrationLatencyField: [UInt8] = Array(#"","integrationLatency":0"#.utf8)
    static let quoteColonQuote: [UInt8] = Array(#"":""#.utf8)
    static let quoteColon: [UInt8] = Array(#"":"#.utf8)

    /// The request's `requestContext.authorizer` for its AWS_PROXY event, at the start of
    /// `authorization.objectScratch`; returns its length (0: the request has no authorizer's
    /// output, or it does not fit). A verified token's claims as strings: 1.0 `{"claims":{…}}`,
    /// 2.0 `{"jwt":{"claims":{…},"scopes":null}}`; a Lambda authorizer's principal and context:
    /// 1.0 `{"principalId":…,"integrationLatency":0,…}`, 2.0 `{"lambda":{…}}`.
    func writeAuthorizerObject(_ client: Int, version2: Bool) -> Int {
        let record = connections[client].request.record
        if record.token >= 0 {
            let entry = Int(record.token)
            let stored = authorization.tokens.entries[entry]
            let range = Int(stored.tokenLength)..<Int(stored.tokenLength + stored.claimsLength)
            let written = authorization.tokens.storage.withBytes(slot: entry, range: range) { claims in
                authorization.objectScratch.write(slot: 0, offset: 0) { writer in
                    writer.append(version2 ? Worker.jwtObjectStart : Worker.claimsObjectStart)
                    if let object = JSONScanner.document(claims), object.kind == .object {
                        var members = JSONMembers(object.range)
                        var first = true
                        while let (key, value) = members.next(claims) {
                            if !first { writer.append(UInt8(ascii: ",")) }
                            first = false
                            writer.append(claims.extracting(key.range))
                            writer.append(UInt8(ascii: ":"))
                            if value.kind == .string {
                                writer.append(claims.extracting(value.range))
                            } else {
                                writer.append(0x22)
                                JSONText.appendStringContent(claims.extracting(value.range), to: &writer)
                                writer.append(0x22)
                            }
                        }
                    }
                    writer.append(version2 ? Worker.jwtObjectEnd : Worker.closeTwoObjects)
                }
            }
            return written.overflowed ? 0 : written.byteCount
        }
        let slot = Int(record.authorizerResult)
        guard slot >= 0 else { return 0 }
        let length = Int(authorization.resultLengths[slot])
        let written = authorization.results.withBytes(slot: slot, range: 0..<length) { result in
            authorization.objectScratch.write(slot: 0, offset: 0) { writer in
                guard let reader = AuthorizerResultReader(result) else { return }
                var first = true
                if version2 {
                    writer.append(Worker.lambdaObjectStart)
                } else {
                    writer.append(Worker.principalObjectStart)
                    JSONText.appendStringContent(result.extracting(reader.principal), to: &writer)
                    writer.append(Worker.integrationLatencyField)
                    first = false
                }
                reader.forEachContext(result) { key, kind, value in
                    // 1.0 writes the principal and latency itself: a context key of the same name
                    // would stand for them.
                    let principal = Worker.principalIDName
                    let latency = Worker.integrationLatencyName
                    if !version2 && (HTTPBytes.equals(result, key, principal.span)
                                     || HTTPBytes.equals(result, key, latency.span)) { return }
                    if !first { writer.append(UInt8(ascii: ",")) }
                    first = false
                    writer.append(0x22)
                    JSONText.appendStringContent(result.extracting(key), to: &writer)
                    // 1.0 gives every context value as a string, as REST APIs do; 2.0 keeps its type.
                    if kind == .string || !version2 {
                        writer.append(Worker.quoteColonQuote)
                        JSONText.appendStringContent(result.extracting(value), to: &writer)
                        writer.append(0x22)
                    } else {
                        writer.append(Worker.quoteColon)
                        writer.append(result.extracting(value))
                    }
                }
                writer.append(version2 ? Worker.closeTwoObjects : Worker.closeObject)
            }
        }
        return written.overflowed ? 0 : written.byteCount
    }

    static let integrationLatencyName: [UInt8] = Array("integrationLatency".utf8)

    static let closeObject: [UInt8] = Array("}".utf8)
    static let closeTwoObjects: [UInt8] = Array("}}".utf8)
}
