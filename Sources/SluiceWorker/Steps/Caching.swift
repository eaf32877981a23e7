import SluiceCache
import SluiceConfig
import SluiceCrypto
import SluiceHTTP1
import SluiceMetrics
import SluiceThrottle
import SluiceURing

/// A stage's response cache as a worker uses it (Sources/SluiceCache holds the shared part).
struct StageCachePolicy {
    let index: CacheIndex
    /// By operation: how long an answer is kept, in nanoseconds; 0 when the method is not cached
    /// on this stage (another API's, not enabled, or a TTL of 0).
    let ttlNanoseconds: [Int64]
    /// By operation: what names it in a key — its method and resource path, hashed — rather than
    /// its index, so that a reload that adds or moves routes keeps the stage's entries meaning the
    /// same methods (the zone is the stage's own, so the stage need not be in the key).
    let operationKeys: [UInt64]
    let fillWaitNanoseconds: Int64
    /// The largest answer kept: its header lines and body together.
    let entryBytesMax: Int
    /// Who may refresh an entry with `Cache-Control: max-age=0`, and what the others get.
    let requireAuthorization: Bool
    let unauthorized: UnauthorizedCacheControl

    init(stage: Stage, settings: StageCache, zones: CacheZones, operations: [Operation]) {
        index = CacheIndex(zones: zones)
        ttlNanoseconds = operations.indices.map { operation in
            Int64(stage.cacheTTLSeconds(operation: operation, in: operations)) * 1_000_000_000
        }
        operationKeys = operations.map { operation in
            let name = Array("\(operation.method) \(operation.resourcePath)".utf8)
            return HTTPBytes.fnv1a(name.span)
        }
        fillWaitNanoseconds = Int64(settings.fillWaitMilliseconds) * 1_000_000
        entryBytesMax = settings.entryBytesMax
        requireAuthorization = settings.requireAuthorization
        unauthorized = settings.unauthorized
    }
}

/// A cache key parameter ready for the request path: names as bytes.
struct CompiledCacheParameter {
    enum Kind: UInt8 {
        case query = 1
        case header
        case path
    }

    var kind: Kind
    /// The query parameter's name, or the header's name in lowercase.
    var name: [UInt8]
    var pathIndex: Int

    init(_ parameter: CacheKeyParameter) {
        switch parameter {
        case .query(let name): self.init(kind: .query, name: Array(name.utf8), pathIndex: 0)
        case .header(let name): self.init(kind: .header, name: Array(name.lowercased().utf8), pathIndex: 0)
        case .path(let index): self.init(kind: .path, name: [], pathIndex: index)
        }
    }

    init(kind: Kind, name: [UInt8], pathIndex: Int) {
        self.kind = kind
        self.name = name
        self.pathIndex = pathIndex
    }
}

/// What the cache step decided for a request.
enum CacheStep {
    /// Not a cached method, or no room to fill: the integration answers, as without a cache.
    case uncached
    /// A hit; `warn` when the request asked for a refresh it may not make, and the stage says to
    /// tell it so.
    case hit(CachedEntry, warn: Bool)
    /// The request asked for a refresh it may not make, and the stage refuses it (403).
    case forbidden
    /// A miss this request fills: the integration answers and the answer is kept.
    case filling
    /// Another request fills this key: wait for it (`fill_wait_ms` at most).
    case wait
}

/// What the cache step leaves the request to.
enum CacheOutcome {
    /// To the integration (filling the cache, or not cached).
    case integration
    /// Answered: from the cache (`Worker.answeredByStep`) or refused (a prepared response).
    case answered(Int)
    /// Admitted, but waiting (the pipeline resumes at the cache step).
    case parked
}

/// Pipeline step 8: the stage cache (one zone per stage). The key is the operation (its method
/// and resource path), the cache's generation and the values of the integration's
/// `cacheKeyParameters`; other parameters do not vary it, as on API Gateway.
extension Worker {
    /// Fills a worker keeps at once; a miss beyond them goes to the integration uncached.
    static let captureSlots = 64
    /// `pending.response` of a request a step answered itself (from the cache, a rendered MOCK):
    /// the response was written when the step ran.
    static let answeredByStep = -2
    static let cacheWaitPollNanoseconds: Int64 = 1_000_000
    /// After a fill is given up, requests for its key go straight to the integration for this
    /// long — time enough for every waiting request (they look every millisecond) — before one
    /// claims it again.
    static let passNanoseconds: Int64 = 20_000_000
    /// Added to a cached answer when the request's `max-age=0` was not honoured
    /// (`SUCCEED_WITH_RESPONSE_HEADER`).
    static let rangeName: [UInt8] = Array("range".utf8)
    static let ageLinePrefix: [UInt8] = Array("Age: ".utf8)

    /// The stored header lines' `Age` field, if the upstream sent one: the line (from the byte
    /// after the line feed before it to its own line feed) and its value in seconds (nil when it
    /// is not a number). A tight loop over the bytes, looking closer only after a line feed: it
    /// runs on every hit.
    static func ageLine(in lines: Span<UInt8>) -> (line: Range<Int>, seconds: Int?)? {
        var index = 0
        let last = lines.count - 5
        while index <= last {
            if lines[index] == 0x0A && lines[index + 1] | 0x20 == 0x61 && lines[index + 2] | 0x20 == 0x67
                && lines[index + 3] | 0x20 == 0x65 && lines[index + 4] == 0x3A {
                var end = index + 5
                var seconds: Int? = nil
                while end < lines.count && lines[end] != 0x0A {
                    let byte = lines[end]
                    if byte >= 0x30 && byte <= 0x39 {
                        // RFC 9111 §1.2.2: a value too large to hold is 2^31, as caches send it.
                        seconds = min(2_147_483_648, (seconds ?? 0) * 10 + Int(byte - 0x30))
                    } else if byte != 0x20 && byte != 0x09 && byte != 0x0D {
                        seconds = nil
                        break
                    }
                    end += 1
                }
                while end < lines.count && lines[end] != 0x0A { end += 1 }
                return (index + 1..<min(end + 1, lines.count), seconds)
            }
            index += 1
        }
        return nil
    }
    static let refreshRefusedLine: [UInt8] = Array(
        "Warning: 199 - \"Cache-Control: max-age=0 ignored: not authorized to refresh the cache\"\r\n".utf8)

    /// The cache step for the matched request, in front of its integration.
    func cacheOutcome(_ index: Int, _ bytes: Span<UInt8>) -> CacheOutcome {
        let stage = match.stage
        switch cacheStep(index, bytes, operation: match.operation, stage: stage) {
        case .wait:
            waitForFill(index)
            return .parked
        case .forbidden:
            connections[index].cacheWaitUntil = 0
            return .answered(catalog.index(of: .forbidden))
        case .hit(let entry, let warn):
            // Answering ends the request, and with it the connection's metrics groups.
            let methodGroup = connections[index].request.methodGroup
            if answerFromCache(index, entry: entry, stage: stage, warn: warn) {
                countCache(stage: stage, methodGroup: methodGroup, hit: true)
                connections[index].cacheWaitUntil = 0
                return .answered(Worker.answeredByStep)
            }
            if connections[index].outputEnd > 0 && canWait(index) {
                // Output from earlier answers leaves too little room: wait for it to drain.
                return .parked
            }
            // The cache came round to the entry since the lookup.
            countCache(stage: stage, methodGroup: connections[index].request.methodGroup, hit: false)
            connections[index].cacheWaitUntil = 0
            return .integration
        case .uncached, .filling:
            connections[index].cacheWaitUntil = 0
            return .integration
        }
    }

    /// Counts a cached method's request answered from the cache or not, per stage and per method
    /// with detailed metrics.
    func countCache(stage: Int, methodGroup: Int32, hit: Bool) {
        let group = Int(methodGroup)
        if hit {
            stageMetrics.cache.hit(slot: slot, group: stage)
            if group >= 0 { methodMetrics.cache.hit(slot: slot, group: group) }
        } else {
            stageMetrics.cache.miss(slot: slot, group: stage)
            if group >= 0 { methodMetrics.cache.miss(slot: slot, group: group) }
        }
    }

    /// Whether a waiting request has waited `fill_wait_ms` (counted from its first wait).
    func hasWaitedEnough(_ index: Int, policy: StageCachePolicy, now: Int64) -> Bool {
        if connections[index].cacheWaitUntil == 0 {
            connections[index].cacheWaitUntil = now + policy.fillWaitNanoseconds
            return policy.fillWaitNanoseconds == 0
        }
        return now >= connections[index].cacheWaitUntil
    }

    func cacheStep(_ index: Int, _ bytes: Span<UInt8>, operation: Int, stage: Int) -> CacheStep {
        guard let policy = cachePolicies[stage] else { return .uncached }
        let ttl = policy.ttlNanoseconds[operation]
        guard ttl > 0 else { return .uncached }
        // Requests with a body are not answered from the cache (their body would have to wait).
        switch head.framing {
        case .none, .length(0): break
        default: return .uncached
        }
        // A range request neither reads nor fills the cache: its answer (a 206, or the whole
        // entity) would be replayed to requests that asked for something else.
        if HeaderNames.value(of: Worker.rangeName, in: head.headers, bytes: bytes) != nil { return .uncached }
        guard let keyLength = writeCacheKey(bytes, operation: operation, operationKey: policy.operationKeys[operation],
                                              generation: policy.index.generation)
        else { return .uncached }
        let now = clock.monotonicNanoseconds()
        // `Cache-Control: max-age=0` asks for a fresh answer: granted to a request with a key
        // of a plan covering the stage (or to any, without require_authorization).
        var warn = false
        let refresh = asksForRefresh(bytes)
        let refreshing = refresh && (!policy.requireAuthorization || presentsStageKey(bytes, stage: stage))
        if refresh && !refreshing {
            switch policy.unauthorized {
            case .failWith403: return .forbidden
            case .succeedWithResponseHeader: warn = true
            case .succeedWithoutResponseHeader: break
            }
        }
        let (hash, found) = cacheKeys.withBytes(slot: 0, range: 0..<keyLength) { key in
            let hash = CacheIndex.hash(key)
            return (hash, refreshing ? CacheLookup.miss : policy.index.lookup(hash: hash, key: key, now: now))
        }
        switch found {
        case .hit(let entry):
            return .hit(entry, warn: warn)
        case .filling:
            // With no slot to wait in, the request goes on to the integration at once.
            if canWait(index) && !hasWaitedEnough(index, policy: policy, now: now) { return .wait }
            countCache(stage: stage, methodGroup: connections[index].request.methodGroup, hit: false)
            return .uncached
        case .pass:
            countCache(stage: stage, methodGroup: connections[index].request.methodGroup, hit: false)
            return .uncached
        case .miss:
            break
        }
        guard let capture = freeCaptures.popLast() else {
            countCache(stage: stage, methodGroup: connections[index].request.methodGroup, hit: false)
            return .uncached
        }
        // A refresh fills without a claim: others keep the entry there is until it is replaced.
        let deadline = now + policy.fillWaitNanoseconds
        let claim = refreshing ? FillClaim.claimed : policy.index.claimFill(hash: hash, now: now, deadline: deadline)
        guard claim == .claimed else {
            freeCaptures.append(capture)
            if claim == .taken && canWait(index) && !hasWaitedEnough(index, policy: policy, now: now) { return .wait }
            countCache(stage: stage, methodGroup: connections[index].request.methodGroup, hit: false)
            return .uncached
        }
        countCache(stage: stage, methodGroup: connections[index].request.methodGroup, hit: false)
        cacheKeys.withBytes(slot: 0, range: 0..<keyLength) { key in
            _ = captures.write(slot: Int(capture), offset: 0) { writer in writer.append(key) }
        }
        connections[index].capture = capture
        connections[index].capturing = false
        connections[index].cacheClaimed = !refreshing
        connections[index].cacheDeadline = deadline
        connections[index].cacheStage = Int32(stage)
        connections[index].cacheHash = hash
        connections[index].cacheTTL = ttl
        connections[index].cacheKeyLength = Int32(keyLength)
        connections[index].cacheHeadLength = 0
        connections[index].cacheBodyLength = 0
        return .filling
    }

    static let cacheControl: [UInt8] = Array("cache-control".utf8)
    static let maxAgeZero: [UInt8] = Array("max-age=0".utf8)

    /// Whether a `Cache-Control` field of the request has the directive `max-age=0`.
    func asksForRefresh(_ bytes: Span<UInt8>) -> Bool {
        for field in head.headers
        where HTTPBytes.equalsIgnoringCase(bytes, field.name, lowercased: Worker.cacheControl.span) {
            var start = field.value.lowerBound
            let end = field.value.upperBound
            while start < end {
                var stop = start
                while stop < end && bytes[stop] != UInt8(ascii: ",") { stop += 1 }
                let directive = HTTPBytes.trimmingWhitespace(bytes, start..<stop)
                if HTTPBytes.equalsIgnoringCase(bytes, directive, lowercased: Worker.maxAgeZero.span) { return true }
                start = stop + 1
            }
        }
        return false
    }

    /// Whether the request's `x-api-key` is an enabled key of a usage plan covering `stage`.
    func presentsStageKey(_ bytes: Span<UInt8>, stage: Int) -> Bool {
        guard let value = apiKeyValue(bytes) else { return false }
        return gate.plan.keyCovers(KeyDigest(SHA256.digest(bytes.extracting(value))), stage: stage)
    }

    /// Writes the request's cache key into the key slot; nil when it does not fit.
    func writeCacheKey(_ bytes: Span<UInt8>, operation: Int, operationKey: UInt64, generation: UInt64) -> Int? {
        let written = cacheKeys.write(slot: 0, offset: 0) { writer in
            Worker.appendWord(generation, bytes: 8, to: &writer)
            Worker.appendWord(operationKey, bytes: 8, to: &writer)
            // The method too: an ANY operation's methods do not share entries.
            writer.append(head.method.rawValue)
            for parameter in cacheParameters[operation] {
                writer.append(parameter.kind.rawValue)
                switch parameter.kind {
                case .query:
                    appendQueryValues(named: parameter.name, bytes, to: &writer)
                case .header:
                    for field in head.headers
                    where HTTPBytes.equalsIgnoringCase(bytes, field.name, lowercased: parameter.name.span) {
                        writer.append(0xFE)
                        Worker.appendWord(UInt64(field.value.count), bytes: 4, to: &writer)
                        writer.append(bytes.extracting(field.value))
                    }
                case .path:
                    if parameter.pathIndex < match.pathParameters.count {
                        let range = match.pathParameters[parameter.pathIndex]
                        let start = head.path.lowerBound
                        writer.append(0xFE)
                        Worker.appendWord(UInt64(range.count), bytes: 4, to: &writer)
                        writer.append(bytes.extracting((start + range.lowerBound)..<(start + range.upperBound)))
                    }
                }
                // Ends the parameter; every value before it is a 0xFE byte and a length, so the
                // end cannot be mistaken for a value.
                writer.append(0xFF)
            }
        }
        return written.overflowed ? nil : written.byteCount
    }

    /// Every value of query parameter `name` (raw, as received), length-prefixed.
    func appendQueryValues(named name: [UInt8], _ bytes: Span<UInt8>, to writer: inout SlabWriter) {
        var start = head.query.lowerBound
        let end = head.query.upperBound
        while start < end {
            var stop = start
            while stop < end && bytes[stop] != UInt8(ascii: "&") { stop += 1 }
            var equals = start
            while equals < stop && bytes[equals] != UInt8(ascii: "=") { equals += 1 }
            if HTTPBytes.equals(bytes, start..<equals, name.span) {
                let value = equals < stop ? (equals + 1)..<stop : stop..<stop
                writer.append(0xFE)
                Worker.appendWord(UInt64(value.count), bytes: 4, to: &writer)
                writer.append(bytes.extracting(value))
            }
            start = stop + 1
        }
    }

    static func appendWord(_ value: UInt64, bytes count: Int, to writer: inout SlabWriter) {
        for byte in 0..<count { writer.append(UInt8(truncatingIfNeeded: value >> (UInt64(byte) * 8))) }
    }

    // MARK: Answering from the cache

    /// Writes a cached answer's head and as much of its body as fits, and streams the rest. False
    /// when the entry is gone by now (the cache came round to it) or does not fit: nothing is
    /// written, and the integration answers instead.
    func answerFromCache(_ index: Int, entry: CachedEntry, stage: Int, warn: Bool) -> Bool {
        guard let policy = cachePolicies[stage] else { return false }
        if !connections[index].sendInFlight { compactOutput(index) }
        let outputEnd = connections[index].outputEnd
        guard output.slotBytes - outputEnd >= entry.headLength + 512 + corsLinesBytesMax else { return false }
        let keepAlive = connections[index].request.pending.keepAlive && !draining
        let http10 = connections[index].request.pending.http10
        let withBody = !connections[index].request.pending.omitBody
        let requestID = connections[index].request.id
        // The loop's clock of this turn is close enough for whole seconds.
        let ageNanoseconds = policy.ttlNanoseconds[match.operation] - (entry.expiresAt - now)
        // Entries hold answers as the integration sent them: one is compressed per hit when the
        // request asks for it (Compression.swift).
        var coding = ContentCoding.identity
        if withBody && connections[index].request.answerCoding != .identity {
            let none = Worker.noBytes
            let decided = policy.index.withBytes(of: entry, range: entry.headRange) { lines in
                answerCoding(index, status: entry.status, bodyBytes: entry.bodyLength, lines: lines, moreLines: none.span)
            }
            guard let decided else { return false }
            if decided != .identity {
                guard let compressed = policy.index.withBytes(of: entry, range: entry.bodyRange, { body in
                    compressAnswer(body, decided)
                }) else { return false }
                if compressed { coding = decided }
            }
        }
        let compressed = compression.compressor.output
        let compressedBody = compressed.span.extracting(0..<(coding == .identity ? 0 : compression.compressor.outputCount))
        let codingLines = coding == .identity ? Worker.noBytes : CompressionState.lines(coding)
        let bodyLength = coding == .identity ? entry.bodyLength : compressedBody.count
        var bodyCopied = 0
        let written = output.write(slot: index, offset: outputEnd) { writer -> Bool in
            // The status line and header lines as the first client got them, but for the
            // upstream's Age, which grows by the time the entry spent here (RFC 9111 §4.2.3).
            var age = Int(max(0, ageNanoseconds) / 1_000_000_000)
            let copied: Void? = policy.index.withBytes(of: entry, range: entry.headRange) { lines in
                guard let upstream = Worker.ageLine(in: lines) else { return writer.append(lines) }
                writer.append(lines.extracting(0..<upstream.line.lowerBound))
                writer.append(lines.extracting(upstream.line.upperBound..<lines.count))
                age = min(2_147_483_648, age + (upstream.seconds ?? 0))
            }
            if warn { writer.append(Worker.refreshRefusedLine) }
            // How long ago the entry was stored, in whole seconds (RFC 9111 §5.1).
            writer.append(Worker.ageLinePrefix)
            ResponseHead.appendDecimal(age, to: &writer)
            writer.append(ResponseHead.crlf)
            writer.append(codingLines)
            writer.append(ResponseHead.contentLengthPrefix)
            ResponseHead.appendDecimal(bodyLength, to: &writer)
            writer.append(ResponseHead.crlf)
            // Only integrations' answers are kept, so a hit carries the request's trace as they do.
            endResponseHead(index, requestID: requestID, keepAlive: keepAlive, http10: http10, traced: true,
                            to: &writer)
            guard copied != nil else { return false }
            guard withBody && entry.bodyLength > 0 else { return true }
            if coding != .identity {
                bodyCopied = min(bodyLength, writer.freeCapacity)
                writer.append(compressedBody.extracting(0..<bodyCopied))
                return true
            }
            let piece = min(entry.bodyLength, writer.freeCapacity)
            let start = entry.bodyRange.lowerBound
            let body: Void? = policy.index.withBytes(of: entry, range: start..<(start + piece)) { bytes in writer.append(bytes) }
            bodyCopied = piece
            return body != nil
        }
        guard written.result, !written.overflowed else { return false }
        // The rest of a compressed body waits in a body buffer (none free: the integration answers).
        if coding != .identity && bodyCopied < bodyLength && !queueRest(index, of: compressedBody, from: bodyCopied) {
            return false
        }
        connections[index].outputEnd += written.byteCount
        connections[index].request.record.responseBytes = withBody ? bodyLength : 0
        countResponse(index, status: entry.status)
        connections[index].request.id = 0
        requestAnswered(index)
        connections[index].request.pending.keepAlive = keepAlive
        if !keepAlive { connections[index].closeAfterFlush = true }
        if withBody && coding == .identity && bodyCopied < entry.bodyLength {
            connections[index].streamingCacheStage = Int32(stage)
            connections[index].streamingEntry = entry
            connections[index].streamingOffset = bodyCopied
        }
        return true
    }

    /// Copies the next piece of a cached body into the output. False when the cache came round
    /// to the entry meanwhile: the answer cannot be finished, and the connection is closed.
    func continueCachedBody(_ index: Int, from start: Int, count: Int) -> Bool {
        let entry = connections[index].streamingEntry
        guard let policy = cachePolicies[Int(connections[index].streamingCacheStage)] else { return false }
        let bodyStart = entry.bodyRange.lowerBound
        let outputEnd = connections[index].outputEnd
        let copied = policy.index.withBytes(of: entry, range: (bodyStart + start)..<(bodyStart + start + count)) { piece in
            output.write(slot: index, offset: outputEnd) { writer in writer.append(piece) }.byteCount
        }
        guard copied == count else { return false }
        connections[index].outputEnd += count
        return true
    }

    // MARK: Filling

    /// The upstream's answer head is out: keep its status line and header lines as the client got
    /// them (not the framing or the gateway's own fields), when the answer is one to keep (2xx,
    /// with a length or chunked, not too large); give the claim up otherwise. `lines` is where they
    /// are in `slab`'s `slot` (the client's output slot, or the body buffer an answer gathers in).
    func startCapture(client: Int, status: Int, from slab: ByteSlab, slot source: Int, lines: Range<Int>,
                      framing: ResponseFraming, discard: Bool) {
        let capture = Int(connections[client].capture)
        guard capture >= 0 else { return }
        let policy = cachePolicies[Int(connections[client].cacheStage)]!
        let keyLength = Int(connections[client].cacheKeyLength)
        // A 206 holds part of an entity: never one to replay.
        var cacheable = (200..<300).contains(status) && status != 206 && !discard && lines.count <= policy.entryBytesMax
            && keyLength + lines.count <= captures.slotBytes
        switch framing {
        case .length(let length): cacheable = cacheable && lines.count + length <= policy.entryBytesMax
        case .chunked: break
        case .none, .untilClose: cacheable = false
        }
        guard cacheable else {
            endFill(client, keep: false)
            return
        }
        captures.copy(from: slab, slot: source, range: lines, toSlot: capture, offset: keyLength)
        connections[client].cacheStatus = Int32(status)
        connections[client].cacheHeadLength = Int32(lines.count)
        connections[client].capturing = true
    }

    /// Keeps a piece of the answer's body (decoded from chunks). An answer that grows past
    /// `entry_bytes_max` is not kept.
    func captureBody(client: Int, _ piece: Span<UInt8>) {
        guard connections[client].capturing else { return }
        let policy = cachePolicies[Int(connections[client].cacheStage)]!
        let offset = Int(connections[client].cacheKeyLength) + Int(connections[client].cacheHeadLength)
            + Int(connections[client].cacheBodyLength)
        let entryLength = Int(connections[client].cacheHeadLength) + Int(connections[client].cacheBodyLength) + piece.count
        guard entryLength <= policy.entryBytesMax, offset + piece.count <= captures.slotBytes else {
            endFill(client, keep: false)
            return
        }
        _ = captures.write(slot: Int(connections[client].capture), offset: offset) { writer in writer.append(piece) }
        connections[client].cacheBodyLength += Int32(piece.count)
    }

    /// The fill is over: keep the captured answer when `keep` (and it was being captured).
    func endFill(_ client: Int, keep: Bool) {
        let capture = Int(connections[client].capture)
        guard capture >= 0 else { return }
        let connection = connections[client]
        let policy = cachePolicies[Int(connection.cacheStage)]!
        let now = clock.monotonicNanoseconds()
        var stored = false
        if keep && connection.capturing {
            let keyEnd = Int(connection.cacheKeyLength)
            let headEnd = keyEnd + Int(connection.cacheHeadLength)
            let bodyEnd = headEnd + Int(connection.cacheBodyLength)
            stored = captures.withBytes(slot: capture, range: 0..<bodyEnd) { bytes in
                policy.index.store(hash: connection.cacheHash, key: bytes.extracting(0..<keyEnd),
                                   status: Int(connection.cacheStatus), head: bytes.extracting(keyEnd..<headEnd),
                                   body: bytes.extracting(headEnd..<bodyEnd), now: now,
                                   expiresAt: now + connection.cacheTTL, writer: slot)
            }
        }
        releaseFill(client, stored: stored, now: now)
    }

    /// A function's answer is complete in its invocation slot (`lines`: the status and header
    /// lines, `body`): kept when the client's request fills the cache and it is one to keep.
    func keepFunctionAnswer(client: Int, slot invocation: Int, status: Int, lines: Range<Int>, body: Range<Int>) {
        let capture = Int(connections[client].capture)
        guard capture >= 0 else { return }
        let connection = connections[client]
        let policy = cachePolicies[Int(connection.cacheStage)]!
        let now = clock.monotonicNanoseconds()
        var stored = false
        if (200..<300).contains(status) && status != 204 && status != 206 && !connection.request.pending.omitBody
            && lines.count + body.count <= policy.entryBytesMax {
            stored = captures.withBytes(slot: capture, range: 0..<Int(connection.cacheKeyLength)) { key in
                invocations.withBytes(slot: invocation, range: lines.lowerBound..<body.upperBound) { answer in
                    let bodyStart = body.lowerBound - lines.lowerBound
                    return policy.index.store(hash: connection.cacheHash, key: key, status: status,
                                              head: answer.extracting(0..<lines.count),
                                              body: answer.extracting(bodyStart..<(bodyStart + body.count)), now: now,
                                              expiresAt: now + connection.cacheTTL, writer: slot)
                }
            }
        }
        releaseFill(client, stored: stored, now: now)
    }

    /// Ends a fill: a claim whose answer was not kept is given up, so that the requests waiting
    /// for it (and those arriving for a moment) go to the integration at once.
    func releaseFill(_ client: Int, stored: Bool, now: Int64) {
        let connection = connections[client]
        if !stored && connection.cacheClaimed, let policy = cachePolicies[Int(connection.cacheStage)] {
            policy.index.abandonFill(hash: connection.cacheHash, deadline: connection.cacheDeadline, now: now,
                                     passUntil: now + Worker.passNanoseconds)
        }
        freeCaptures.append(connection.capture)
        connections[client].capture = -1
        connections[client].capturing = false
        connections[client].cacheClaimed = false
        connections[client].cacheStage = -1
    }

    // MARK: Waiting

    /// A request waits for another's fill: it looks again every millisecond.
    func waitForFill(_ index: Int) {
        guard !connections[index].queuedForFill else { return }
        connections[index].queuedForFill = true
        cacheWaiters.append(Int32(index))
        if !cacheTimerArmed {
            cacheTimerArmed = true
            ring.timeout(nanoseconds: Worker.cacheWaitPollNanoseconds, userData: Token.make(.cacheWait))
        }
    }

    func onCacheWait() {
        cacheTimerArmed = false
        swap(&cacheWaiters, &spareCacheWaiters)
        for waiter in spareCacheWaiters {
            let index = Int(waiter)
            connections[index].queuedForFill = false
            guard connections[index].isOpen, !connections[index].closing, connections[index].request.isWaiting else { continue }
            resumeReading(index)
            afterInput(index)
        }
        spareCacheWaiters.removeAll(keepingCapacity: true)
    }
}
