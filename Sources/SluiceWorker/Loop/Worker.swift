import SluiceCORS
import SluiceCache
import SluiceConfig
import SluiceHTTP1
import SluiceLambda
import SluiceMetrics
import SluicePipeline
import SluicePolicy
import SluiceRouter
import SluiceSharedMemory
import SluiceThrottle
import SluiceTLS
import SluiceURing

/// What the supervisor hands a worker process it forks.
public struct WorkerContext {
    /// The worker slot (its CPU), which names it in logs.
    public var slot: Int
    /// Its row in every per-writer shared table (counters, metrics, cache arenas): the slot
    /// plus `slots × lane`, where the lane is its configuration generation's, so that a worker
    /// of the old generation draining next to the new one of its slot never shares a row.
    public var writer: Int
    public var tuning: WorkerTuning
    /// The slot's listening sockets, one per `listen` entry (in its order), inherited from the
    /// supervisor and shared by every worker forked into this slot.
    public var listeners: [Int32]
    public var deployment: Deployment
    public var counters: WorkerCounters
    /// Answers, latencies and cache results per stage (and for unrouted requests, after the
    /// stages), and per method of the stages with detailed metrics.
    public var stageMetrics: ScopedMetrics
    public var methodMetrics: ScopedMetrics
    public var methodGroups: MethodMetricGroups
    /// The port of each listener (for X-Forwarded-Port).
    public var listenPorts: [Int]
    /// The throttle buckets and quota counters every worker shares, and this worker's rejection
    /// counters.
    public var gate: Gate
    public var rejections: RejectionCounters
    /// Each stage's response cache (nil without one).
    public var caches: [CacheZones?]
    /// A test's kernel and clock (`RingSimulator`); nil to run on io_uring.
    public var simulator: RingSimulator?
    /// The session-ticket keys every worker shares (with a TLS listener); nil: each TLS context
    /// keeps its own.
    public var ticketKeys: TLSTicketKeys?
    /// Handshakes per TLS version and cipher, per worker (with a TLS listener).
    public var tlsCounters: TLSCounters?
    /// Each `jwt_issuers` entry's signing keys as the coordinator last published them.
    public var keySets: SharedDocuments?
    /// Lambda authorizers' results, shared by every worker (nil when none keeps results).
    public var authorizerCache: CacheZones?

    public init(slot: Int, tuning: WorkerTuning, listeners: [Int32], deployment: Deployment, counters: WorkerCounters,
                stageMetrics: ScopedMetrics, methodMetrics: ScopedMetrics, methodGroups: MethodMetricGroups,
                listenPorts: [Int], gate: Gate, rejections: RejectionCounters, caches: [CacheZones?]) {
        self.stageMetrics = stageMetrics
        self.methodMetrics = methodMetrics
        self.methodGroups = methodGroups
        self.caches = caches
        self.gate = gate
        self.rejections = rejections
        self.listenPorts = listenPorts
        self.slot = slot
        writer = slot
        self.tuning = tuning
        self.listeners = listeners
        self.deployment = deployment
        self.counters = counters
    }
}

/// One worker: one io_uring ring and nothing else — no threads, no epoll. It accepts on its slot's
/// listener (multishot), receives into a provided buffer ring (multishot), answers each request
/// as far as it can before the next completion, and sends from per-connection output buffers.
/// The loop reaps a batch of completions, runs them, then submits everything they queued at once.
public final class Worker {
    static let outputBufferBytes = 16_384
    static let tickNanoseconds: Int64 = 250_000_000
    static let lingerNanoseconds: Int64 = 2_000_000_000

    /// The worker's row in the shared tables (`WorkerContext.writer`): every counter, metric and
    /// cache write names it.
    let slot: Int
    /// How its log lines name it: `sluice-w` and its worker slot.
    let name: String
    /// `StandardError.failedWrites` as last added to the worker's counters.
    var logFailuresCounted = StandardError.failedWrites
    /// The listening sockets, one per `listen` entry; each listener's TLS context (nil: plain)
    /// and what it tells upstreams (`X-Forwarded-Proto` and `X-Forwarded-Port` lines).
    let listeners: [Int32]
    let listenerContexts: [TLSServerContext?]
    let forwardingLines: [[UInt8]]
    /// The TLS sessions of connections accepted on TLS listeners, by connection slot.
    let tls: TLSConnections
    /// Each upstream's TLS client context (nil: plain HTTP), and its name for logs.
    let upstreamTLS: [TLSClientContext?]
    let upstreamNames: [String]
    /// When each upstream's last TLS failure was logged (`now`), 0 before the first.
    var upstreamTLSFailureLoggedAt: [Int64]
    /// The custom domain names (lowercase), and which require mutual TLS.
    let domainNames: [[UInt8]]
    let domainsRequireClientCertificates: [Bool]
    /// Mutual TLS: each client connection's verified certificate, as text (`$context.identity.
    /// clientCert.*`), and where its fields lie; empty when no domain asks for certificates.
    let clientCertificates: ByteSlab
    var clientCertificateFields: [ClientCertificateFields]
    /// Where each connection's `clientCert` object for Lambda events lies in its slot (empty: none).
    var clientCertificateObjects: [Range<Int>]
    static let clientCertificateBytesMax = 32_768
    let ring: Ring
    /// The loop's clock: the system's, or a simulated ring's. The worker reads time only here.
    let clock: LoopClock
    let receiveBuffers: ProvidedBuffers
    /// Unparsed request bytes that did not arrive in one receive buffer, per connection.
    let carry: ByteSlab
    /// Response bytes waiting to be sent, per connection.
    let output: ByteSlab
    let control: ByteSlab
    /// Each client's address as text, for X-Forwarded-For, filled on its first proxied request.
    let peerAddresses: ByteSlab
    let counters: WorkerCounters
    let tlsCounters: TLSCounters?
    /// Per stage (the metrics group of requests no API answered comes after the stages'), and
    /// per method of the stages with detailed metrics (`methodGroups` numbers them).
    let stageMetrics: ScopedMetrics
    let unroutedGroup: Int
    let methodMetrics: ScopedMetrics
    let methodGroups: MethodMetricGroups
    let gate: Gate
    let rejections: RejectionCounters
    /// Each API key's name, for the Lambda event's `apiKeyId`.
    let apiKeyNames: [[UInt8]]
    /// The stage caches (nil for stages without one), by stage; each operation's cache key
    /// parameters.
    let cachePolicies: [StageCachePolicy?]
    let cacheParameters: [[CompiledCacheParameter]]
    /// The key of the request being looked up.
    let cacheKeys: ByteSlab
    /// Answers being captured to fill the cache: key, header lines, body; and the free slots.
    let captures: ByteSlab
    var freeCaptures: [Int32]
    /// Requests waiting for another request's fill, looked at again every millisecond.
    var cacheWaiters: [Int32] = []
    var spareCacheWaiters: [Int32] = []
    var cacheTimerArmed = false
    /// Access logs (AccessLogging.swift): the files, each stage's file (-1: none) and format, and
    /// the texts of the requests being logged, one slot per client connection.
    var accessLogs: [AccessLogFile]
    let stageAccessLogs: [Int32]
    let stageAccessLogFormats: [AccessLogSettings?]
    let requestTexts: ByteSlab
    let stageNames: [[UInt8]]
    let stageAPINames: [[UInt8]]
    /// `$context.deploymentId`.
    let deploymentID: [UInt8]
    /// By stage: the id of the deployment whose definition it serves (`Stage.deploymentID`).
    let stageDeploymentIDs: [[UInt8]]
    let operationPaths: [[UInt8]]
    let answerMessages: [[UInt8]]
    let answerResponseTypes: [[UInt8]]
    var traceIDs: TraceIDs
    /// Requests begun and not yet answered, for the in-flight gauge.
    var requestsInFlight = 0
    /// The steps of each operation (Pipeline.swift).
    let plan: PipelinePlan
    /// Each API's resource policy, compiled (nil: none); each stage's API; how many path segments
    /// come before a stage's resource path (base path, stage); and the policy step's scratch.
    let policies: [PolicyEvaluator?]
    /// Authorizers and IAM (Authorization.swift).
    var authorization: AuthorizationState
    /// Requests held whole for a step that needs their body (WholeBody.swift).
    var wholeBody: WholeBodyState
    /// Mapping templates (Templating.swift).
    var templating: TemplatingState
    /// Compressed bodies and answers (Compression.swift).
    let compression: CompressionState
    /// Request validation (Validation.swift).
    var validating: ValidationState
    /// Each API's CORS policy (nil: none), and the most bytes one adds to a response head.
    let corsPolicies: [CORSPolicy?]
    let corsLinesBytesMax: Int
    let stageAPIs: [Int32]
    let resourcePathPrefixSegments: [Int32]
    var policyResource: [UInt8] = []
    let trustedProxyHops: Int
    let routes: RouteTable
    /// The canaries' routes; by stage, the share of its requests its canary serves (hundredths of
    /// a percent) and the canary's stage; the dice (xorshift) that picks them.
    let canaryRoutes: RouteTable
    let canaryShares: [Int32]
    let canaryStages: [Int32]
    /// By stage: the stage a canary's own stage is the canary of, or -1.
    let canaryOf: [Int32]
    let hasCanaries: Bool
    var canaryDice: UInt64
    let operations: [Operation]
    let catalog: ResponseCatalog
    /// Gateway response headers read from each request (GatewayResponses.swift), and what each
    /// client's request captured for them.
    let gatewayValues: GatewayResponseValues
    let gatewayCaptures: ByteSlab
    let limits: Limits
    let drainTimeoutNanoseconds: Int64

    /// Client connections in [0, clientSlots), upstream connections after them.
    var connections: [Connection]
    let clientSlots: Int
    var freeUpstreams: [Int32]
    /// Idle upstream connections per upstream, most recently used last.
    var pools: [[Int32]]
    let poolIdleMax: Int
    /// Connections open per upstream, and the most allowed.
    var upstreamOpen: [Int]
    let upstreamConnectionsMax: Int
    let poolIdleNanoseconds: Int64
    let upstreamAddresses: SocketAddresses
    var upstreamAddressIndex: [Int]
    let targets: [CompiledTarget]
    let lambdaTargets: [CompiledLambdaTarget]
    let proxyTargets: ProxyTargets
    /// Lambda invocations in flight, one slot each (LambdaProxy.swift), and their state.
    let invocations: ByteSlab
    let invocationLayout: InvocationLayout
    var invocationStates: [Invocation]
    var freeInvocations: [Int32]
    var functionAnswer = FunctionAnswer()
    var eventScratch: LambdaEventScratch
    /// A request's path parameter values as ranges into its head, for the event.
    var eventPathValues: [Range<Int>] = []
    /// Small text rendered for one request (its id, for the event).
    let textScratch: ByteSlab
    /// The error log's rate limit (ErrorLog.swift).
    var errorLog = ErrorLog()
    /// The evaluator's own scratch (RequestValues.swift): a value it renders before escaping it.
    let valueScratch: ByteSlab
    var responseHead: ResponseHead
    /// For each receive buffer held by a paused connection: the next one it holds (or -1) and
    /// how many bytes it carries. A buffer is held by one connection at a time.
    var heldNext: [Int32]
    var heldBytes: [Int32]
    /// A connection holding more buffers than this is closed: one client must not drain the
    /// ring that every connection of the worker receives into.
    let heldPerConnectionMax: Int
    /// Held buffers over all connections: at most half the ring, so that paused clients can
    /// never take away the buffers everyone else receives into.
    var heldTotal = 0
    let heldTotalMax: Int
    /// Connections whose receive ended with ENOBUFS, to be armed again once buffers are free.
    /// Arming them at once would fail at once, in a loop.
    var starved: [Int32] = []
    var freeConnections: [Int32]
    var deadlines: DeadlineLists
    var openConnections = 0
    var head: RequestHead
    var match = RouteMatch()
    /// The path of the head being parsed with its dot-segments resolved (Exchange.swift).
    var resolvedPath: [UInt8] = []
    /// Heads and routes of requests that wait (Pipeline.swift), and the free slots.
    var parkedHeads: [ParkedHead]
    var freeParkedHeads: [Int32]
    static let parkedHeadSlotsMax = 256
    var dateLine = DateLine()
    var requestIDHigh: UInt64
    var requestIDCounter: UInt64 = 0
    var now: Int64 = 0
    /// The wall clock at the same turn of the loop.
    var epochNanoseconds: Int64 = 0
    /// Per listener: its multishot accept is in flight.
    var acceptArmed: [Bool]
    /// Out of descriptors: accepting again at once would fail at once, so wait for a tick.
    var acceptPaused = false
    var draining = false
    /// When a drain closes the keep-alive connections that are still idle.
    var idleCloseAt: Int64 = 0
    var drainDeadline: Int64 = 0
    var finished = false
    let signalFD: Int32

    public init(context: WorkerContext) throws(SystemError) {
        let tuning = context.tuning
        slot = context.writer
        name = "sluice-w\(context.slot)"
        listeners = context.listeners
        acceptArmed = Array(repeating: false, count: context.listeners.count)
        let listenerSettings = context.deployment.listeners
        precondition(listenerSettings.count == context.listeners.count && context.listenPorts.count == context.listeners.count,
                     "one socket and port per listen entry")
        do {
            let hasTLS = listenerSettings.contains { $0.tls != nil }
            let domains = hasTLS && !context.deployment.domains.isEmpty
                ? try TLSDomains(context.deployment.domains, ticketKeys: context.ticketKeys) : nil
            listenerContexts = try listenerSettings.indices.map { listener throws(TLSError) in
                try listenerSettings[listener].tls.map { settings throws(TLSError) in
                    try TLSServerContext(settings, listener: listener, domains: domains, ticketKeys: context.ticketKeys)
                }
            }
            let authorities = context.deployment.upstreamCertificateAuthorities
            upstreamTLS = try context.deployment.upstreams.map { upstream throws(TLSError) in
                try upstream.tls.map { settings throws(TLSError) in
                    try TLSClientContext(caPEM: authorities, verify: settings.verify, serverName: settings.serverName)
                }
            }
        } catch {
            throw SystemError("TLS: \(error.message)", errno: 0)
        }
        authorization = try AuthorizationState(deployment: context.deployment, documents: context.keySets,
                                               resultCache: context.authorizerCache)
        wholeBody = try WholeBodyState(limits: context.deployment.limits)
        compression = try CompressionState(deployment: context.deployment, bodyBufferBytes: wholeBody.buffers.slotBytes)
        templating = try TemplatingState(deployment: context.deployment, limits: context.deployment.limits,
                                         clientSlots: context.tuning.maxConnections)
        validating = try ValidationState(deployment: context.deployment, clientSlots: tuning.maxConnections)
        upstreamNames = context.deployment.upstreams.map(\.description)
        upstreamTLSFailureLoggedAt = Array(repeating: Int64.min / 2, count: context.deployment.upstreams.count)
        domainNames = context.deployment.domains.map { Array($0.name.utf8) }
        domainsRequireClientCertificates = context.deployment.domains.map { $0.truststore != nil }
        let mutualTLS = context.deployment.domains.contains { $0.truststore != nil }
        clientCertificates = try ByteSlab(slotCount: mutualTLS ? context.tuning.maxConnections : 1,
                                          slotBytes: mutualTLS ? Worker.clientCertificateBytesMax : 1)
        clientCertificateFields = Array(repeating: ClientCertificateFields(),
                                        count: mutualTLS ? context.tuning.maxConnections : 0)
        clientCertificateObjects = Array(repeating: 0..<0, count: mutualTLS ? context.tuning.maxConnections : 0)
        forwardingLines = listenerSettings.indices.map { listener in
            Array("X-Forwarded-Proto: \(listenerSettings[listener].scheme)\r\nX-Forwarded-Port: \(context.listenPorts[listener])\r\n".utf8)
        }
        counters = context.counters
        tlsCounters = context.tlsCounters
        stageMetrics = context.stageMetrics
        unroutedGroup = context.deployment.stages.count
        methodMetrics = context.methodMetrics
        methodGroups = context.methodGroups
        gate = context.gate
        rejections = context.rejections
        apiKeyNames = context.deployment.apiKeys.map { Array($0.name.utf8) }
        let stages = context.deployment.stages
        cachePolicies = stages.indices.map { stage in
            guard let settings = stages[stage].cache, let zones = context.caches[stage] else { return nil }
            return StageCachePolicy(stage: stages[stage], settings: settings, zones: zones,
                                    operations: context.deployment.operations)
        }
        cacheParameters = context.deployment.operations.map { $0.cacheKeyParameters.map(CompiledCacheParameter.init) }
        let headBytesMax = context.deployment.limits.request.headBytesMax
        cacheKeys = try ByteSlab(slotCount: 1, slotBytes: 2 * headBytesMax + 64)
        let entryBytesMax = stages.compactMap(\.cache).map(\.entryBytesMax).max() ?? 0
        let captureSlots = entryBytesMax > 0 ? Worker.captureSlots : 1
        captures = try ByteSlab(slotCount: captureSlots, slotBytes: 2 * headBytesMax + 64 + entryBytesMax)
        freeCaptures = entryBytesMax > 0 ? (0..<Int32(captureSlots)).reversed() : []
        cacheWaiters.reserveCapacity(tuning.maxConnections)
        spareCacheWaiters.reserveCapacity(tuning.maxConnections)
        limits = context.deployment.limits
        drainTimeoutNanoseconds = Int64(context.deployment.drainTimeoutMilliseconds) * 1_000_000
        routes = context.deployment.routes
        plan = PipelinePlan(deployment: context.deployment)
        policies = context.deployment.apis.map { api in api.resourcePolicy.map(PolicyEvaluator.init) }
        stageAPIs = stages.map { Int32($0.api) }
        resourcePathPrefixSegments = stages.map { Int32($0.urlPrefix.count) }
        trustedProxyHops = context.deployment.trustedProxyHops
        policyResource.reserveCapacity(context.deployment.limits.request.headBytesMax + 256)
        operations = context.deployment.operations
        corsPolicies = context.deployment.apis.map { api in api.cors.map(CORSPolicy.init) }
        corsLinesBytesMax = corsPolicies.compactMap { $0?.addedBytesMax }.max() ?? 0
        catalog = ResponseCatalog(deployment: context.deployment, corsPolicies: corsPolicies,
                                  compressor: compression.compressor)
        if let simulator = context.simulator {
            ring = Ring(simulator: simulator)
        } else {
            ring = try Ring(entries: tuning.ringEntries)
        }
        gatewayValues = GatewayResponseValues(deployment: context.deployment, catalog: catalog, apiKeyNames: apiKeyNames)
        let captureBytes = gatewayValues.capturesMax * GatewayResponseValues.slotStride
        gatewayCaptures = try ByteSlab(slotCount: captureBytes > 0 ? tuning.maxConnections : 1,
                                       slotBytes: max(1, captureBytes))
        clock = ring.clock
        receiveBuffers = try ProvidedBuffers(ring: ring, groupID: 0, count: tuning.recvBuffers,
                                             bufferBytes: tuning.recvBufferBytes)
        // A carried head is at most headBytesMax; one more receive buffer must fit behind it.
        let deployment = context.deployment
        clientSlots = tuning.maxConnections
        let pool = deployment.upstreamPool
        let upstreamSlots = min(65_536, deployment.upstreams.count * pool.connectionsMax)
        let slotCount = clientSlots + upstreamSlots
        // A carried head is at most headBytesMax; one more receive buffer must fit behind it.
        carry = try ByteSlab(slotCount: slotCount, slotBytes: limits.request.headBytesMax + tuning.recvBufferBytes)
        // An output slot takes a whole request or response head plus the gateway's own lines.
        output = try ByteSlab(slotCount: slotCount,
                              slotBytes: max(Worker.outputBufferBytes,
                                             catalog.headBytesMax + 256 + corsLinesBytesMax + gatewayValues.linesBytesMax,
                                             limits.request.headBytesMax + 2048 + corsLinesBytesMax))
        peerAddresses = try ByteSlab(slotCount: clientSlots, slotBytes: 64)
        freeUpstreams = (Int32(clientSlots)..<Int32(slotCount)).reversed()
        poolIdleMax = pool.idleConnectionsMax
        upstreamOpen = Array(repeating: 0, count: deployment.upstreams.count)
        upstreamConnectionsMax = pool.connectionsMax
        poolIdleNanoseconds = Int64(pool.idleTimeoutMilliseconds) * 1_000_000
        pools = deployment.upstreams.map { _ in
            var idle: [Int32] = []
            idle.reserveCapacity(pool.idleConnectionsMax)
            return idle
        }
        // The first resolved address of each upstream; -1 for a host that did not resolve.
        let resolved = deployment.upstreams.compactMap(\.addresses.first)
        upstreamAddresses = try SocketAddresses(resolved.map { (host: $0.host, port: $0.port) })
        var nextAddress = 0
        upstreamAddressIndex = deployment.upstreams.map { upstream in
            guard !upstream.addresses.isEmpty else { return -1 }
            nextAddress += 1
            return nextAddress - 1
        }
        proxyTargets = ProxyTargets(deployment: deployment, listenPorts: context.listenPorts)
        targets = proxyTargets.targets
        lambdaTargets = proxyTargets.lambdaTargets
        // With mutual TLS, an event may carry the client certificate's object (at most two thirds
        // of its slot).
        let certificateObjectBytesMax = mutualTLS ? 2 * Worker.clientCertificateBytesMax / 3 + 64 : 0
        // Lambda authorizers' events: a REQUEST event is the proxy event with the method ARN and
        // identity sources in front (each at most the head, JSON-escaped); a TOKEN event is smaller.
        // An event may carry the authorizer's output (`requestContext.authorizer`).
        let authorizerObjectBytesMax = context.deployment.authorizers.isEmpty ? 0 : AuthorizationState.objectBytesMax
        var requestBytesMaxes: [Int] = lambdaTargets.map {
            $0.requestBytesMax(headBytesMax: headBytesMax) + certificateObjectBytesMax + authorizerObjectBytesMax
        }
        if authorization.lambda.contains(where: { $0 != nil }) {
            let authorizerFields = 2 * 6 * headBytesMax + 1_024
            requestBytesMaxes.append(authorizerFields)
            for contexts in proxyTargets.authorizerEventContexts {
                for context in contexts {
                    let event = LambdaEvent.prefixBytesMax(headByteCount: headBytesMax, requestIDByteCount: 36,
                                                           sourceIPByteCount: Invocation.sourceIPBytesMax,
                                                           context: context)
                    requestBytesMaxes.append(event + authorizerFields + certificateObjectBytesMax)
                }
            }
        }
        let requestBytesMax = requestBytesMaxes.max()
        invocationLayout = InvocationLayout(requestBytesMax: requestBytesMax ?? 0)
        let invocationCount = requestBytesMax == nil ? 0 : limits.lambdaInvocationsMax
        invocations = try ByteSlab(slotCount: max(1, invocationCount),
                                   slotBytes: invocationCount == 0 ? 1 : invocationLayout.slotBytes)
        invocationStates = Array(repeating: Invocation(), count: invocationCount)
        freeInvocations = (0..<Int32(invocationCount)).reversed()
        eventScratch = LambdaEventScratch(headersMax: limits.request.headersMax,
                                          queryParametersMax: limits.request.headBytesMax / 2)
        eventPathValues.reserveCapacity(max(deployment.routes.parametersMax, deployment.canaryRoutes.parametersMax))
        textScratch = try ByteSlab(slotCount: 1, slotBytes: 64 + LambdaEvent.traceIDBytesMax)
        valueScratch = try ByteSlab(slotCount: 1, slotBytes: 64)
        responseHead = ResponseHead(headersCapacity: limits.request.headersMax)
        control = try ByteSlab(slotCount: 1, slotBytes: max(Signals.recordBytes, 128))
        connections = Array(repeating: Connection(), count: slotCount)
        let anyTLS = listenerContexts.contains { $0 != nil } || upstreamTLS.contains { $0 != nil }
        tls = TLSConnections(slotCount: anyTLS ? slotCount : 0, receiveBufferBytes: tuning.recvBufferBytes)
        heldNext = Array(repeating: -1, count: tuning.recvBuffers)
        heldBytes = Array(repeating: 0, count: tuning.recvBuffers)
        heldTotalMax = max(2, tuning.recvBuffers / 2)
        // What a multishot receive took before the cancel of a pause landed: the kernel may run
        // it at submission and again in the wait of one io_uring_enter, up to 32 buffers each.
        // After a pause a connection receives one buffer at a time, so this bounds it.
        heldPerConnectionMax = min(heldTotalMax, max(128, tuning.recvBuffers / 8))
        starved.reserveCapacity(tuning.maxConnections)
        freeConnections = (0..<Int32(tuning.maxConnections)).reversed()
        deadlines = DeadlineLists(capacity: slotCount, integrationTimeouts: proxyTargets.timeoutsMilliseconds.count)
        head = RequestHead(headersCapacity: limits.request.headersMax)
        resolvedPath.reserveCapacity(limits.request.headBytesMax)
        let parametersCapacity = max(16, deployment.routes.parametersMax, deployment.canaryRoutes.parametersMax)
        let headersCapacity = context.deployment.limits.request.headersMax
        match = RouteMatch(parametersCapacity: parametersCapacity)
        let parkedSlots = min(tuning.maxConnections, Worker.parkedHeadSlotsMax)
        parkedHeads = (0..<parkedSlots).map { _ in
            ParkedHead(head: RequestHead(headersCapacity: headersCapacity),
                       match: RouteMatch(parametersCapacity: parametersCapacity))
        }
        freeParkedHeads = (0..<Int32(parkedSlots)).reversed()
        requestIDHigh = Random.word()
        let logs = try Worker.openAccessLogs(stages)
        accessLogs = logs.files
        stageAccessLogs = logs.byStage
        stageAccessLogFormats = stages.map(\.accessLog)
        requestTexts = try ByteSlab(slotCount: accessLogs.isEmpty ? 1 : clientSlots,
                                    slotBytes: accessLogs.isEmpty ? 1 : RequestTexts.slotBytes)
        stageNames = stages.map { Array($0.name.utf8) }
        stageAPINames = stages.map { Array(deployment.apis[$0.api].name.utf8) }
        deploymentID = Array(deployment.id.utf8)
        stageDeploymentIDs = stages.map { Array(($0.deploymentID ?? deployment.id).utf8) }
        canaryRoutes = deployment.canaryRoutes
        canaryShares = stages.map { Int32($0.canary?.basisPoints ?? 0) }
        canaryStages = stages.map { Int32($0.canary?.stage ?? -1) }
        canaryOf = stages.map { Int32($0.canaryOf) }
        hasCanaries = stages.contains { $0.canary != nil }
        canaryDice = Random.word() | 1
        operationPaths = deployment.operations.map { Array($0.resourcePath.utf8) }
        answerMessages = GatewayAnswer.allCases.map { Array($0.message.utf8) }
        answerResponseTypes = GatewayAnswer.allCases.map { Array($0.responseType.utf8) }
        traceIDs = TraceIDs(seed: Random.word())
        // A simulated worker takes no signals: blocking them would block them for its test's thread.
        signalFD = context.simulator != nil ? -1
            : try Signals.makeSignalFD([SignalNumber.terminate, SignalNumber.interrupt, SignalNumber.user1])
    }

    /// Runs until drained; returns the process exit status.
    public func run() -> Int32 {
        start()
        do {
            // The accept is in the kernel: say so, for the supervisor to retire the worker this
            // one replaces on a reload.
            try ring.submit()
            counters.set(slot: slot, .accepting, 1)
            while try turn() {}
        } catch {
            StandardError.write("\(name): \(error)")
            return 1
        }
        return 0
    }

    /// Arms the listener, the signals and the tick.
    public func start() {
        refreshClock()
        armAccept()
        armSignal()
        ring.timeout(nanoseconds: Worker.tickNanoseconds, userData: Token.make(.tick))
    }

    /// One turn of the loop: submit what the last turn queued, wait for completions, run them.
    /// Returns false once the loop is over: drained, and (after a drain, the loop turns on until
    /// then) the last access-log lines written.
    public func turn() throws(SystemError) -> Bool {
        flushAccessLogs()
        try ring.submitAndReap()
        refreshClock()
        for completion in ring.completions {
            dispatch(completion)
        }
        receiveBuffers.publish()
        rearmStarved()
        counters.set(slot: slot, .receiveBuffersLent, UInt64(receiveBuffers.lentCount))
        counters.set(slot: slot, .requestsInFlight, UInt64(max(0, requestsInFlight)))
        counters.add(slot: slot, .loopTurns)
        counters.add(slot: slot, .completions, UInt64(ring.completions.count))
        if draining && !finished && drained { finished = true }
        return !finished || accessLogsBusy
    }

    func refreshClock() {
        now = clock.monotonicCoarseNanoseconds()
        epochNanoseconds = clock.realtimeNanoseconds()
        dateLine.update(epochSeconds: Int(epochNanoseconds / 1_000_000_000))
    }

    func dispatch(_ completion: Completion) {
        guard let kind = Token.kind(completion.userData) else { return }
        switch kind {
        case .accept: onAccept(completion)
        case .receive: onReceive(completion)
        case .send: onSend(completion)
        case .tick: onTick()
        case .signal: onSignal(completion)
        case .connect: onConnect(completion)
        case .cacheWait: onCacheWait()
        case .logWrite: onLogWrite(completion)
        case .cancel: break
        }
    }

    // MARK: Accepting

    /// Arms the multishot accept of every listener that has none in flight.
    func armAccept() {
        for listener in listeners.indices where !acceptArmed[listener] {
            ring.multishotAccept(listener: listeners[listener], userData: Token.make(.accept, connection: listener))
            acceptArmed[listener] = true
        }
    }

    func onAccept(_ completion: Completion) {
        let listener = Token.connection(completion.userData)
        guard listener < listeners.count else { return }
        if !completion.hasMore { acceptArmed[listener] = false }
        switch completion.outcome {
        case .done(let fd):
            open(fd: fd, listener: listener)
        case .outOfDescriptors:
            // The connection stays in the backlog until a descriptor frees; retrying now would
            // fail again at once, in a loop.
            counters.add(slot: slot, .connectionsRefused)
            acceptPaused = true
        case .retry, .noBuffers, .canceled, .failed:
            // A connection reset while it waited to be accepted, or the accept was cancelled.
            break
        }
        if !acceptArmed[listener] && !acceptPaused && !draining { armAccept() }
    }

    /// Takes an accepted connection. One accepted while draining (before the accept's cancel
    /// landed) is served too: on a reload the connection reached the gateway, and its answer
    /// says `Connection: close`.
    func open(fd: Int32, listener: Int) {
        guard let index = freeConnections.popLast().map(Int.init) else {
            counters.add(slot: slot, .connectionsRefused)
            Socket.close(fd)
            return
        }
        connections[index].open(fd: fd, limits: limits.request)
        connections[index].listener = UInt8(listener)
        if let context = listenerContexts[listener] {
            guard tls.begin(slot: index, context: context) else {
                // OpenSSL could not allocate a session: as if out of connection slots.
                counters.add(slot: slot, .connectionsRefused)
                connections[index].reset()
                freeConnections.append(Int32(index))
                Socket.close(fd)
                return
            }
            connections[index].secure = true
        }
        openConnections += 1
        counters.add(slot: slot, .connectionsAccepted)
        counters.add(slot: slot, .connectionsOpen)
        armReceive(index)
        deadlines.schedule(index, in: .header, deadline: now + Int64(limits.headerTimeoutMilliseconds) * 1_000_000)
    }

    func rearmStarved() {
        guard !starved.isEmpty, receiveBuffers.lentCount < receiveBuffers.count else { return }
        for index in starved {
            connections[Int(index)].starved = false
            rearmReceiveIfNeeded(Int(index))
        }
        starved.removeAll(keepingCapacity: true)
    }

    func armReceive(_ index: Int) {
        let connection = connections[index]
        let token = Token.make(.receive, connection: index, generation: connection.generation)
        if connection.flowControlled {
            ring.receiveOnce(socket: connection.fd, buffers: receiveBuffers, userData: token)
        } else {
            ring.multishotReceive(socket: connection.fd, buffers: receiveBuffers, userData: token)
        }
        connections[index].receiveArmed = true
    }

    // MARK: Closing

    /// Closes at once: cancels what is in flight, and frees the slot when nothing is.
    func abort(_ index: Int) {
        guard connections[index].isOpen, !connections[index].closing else { return }
        let peer = Int(connections[index].peer)
        if peer >= 0 {
            connections[index].peer = -1
            connections[peer].peer = -1
            if connections[index].role == .client {
                // An upstream connection left mid-exchange cannot be used again.
                abort(peer)
            } else {
                connections[peer].peer = Int32(index)
                connections[index].peer = Int32(peer)
                upstreamFailed(index, answer: .badGateway, cause: .closed)
                return
            }
        }
        connections[index].closing = true
        deadlines.remove(index)
        if connections[index].hasOperationsInFlight {
            if !connections[index].cancelRequested {
                connections[index].cancelRequested = true
                ring.cancelAll(fileDescriptor: connections[index].fd, userData: Token.make(.cancel))
            }
            return
        }
        release(index)
    }

    func release(_ index: Int) {
        dropHeld(index)
        if connections[index].role == .client {
            releaseParkedHead(index)
            endBodyWait(index)
            releaseBodyBuffer(index)
            releaseAnswerBuffer(index)
            releaseInvocation(index)
            // A Lambda authorizer's result this request was to fill: the others stop waiting.
            abandonClaim(hash: connections[index].authorizerHash, deadline: connections[index].authorizerClaim)
            endFill(index, keep: false)
            let started = connections[index].request.startedNanoseconds
            if started > 0 {
                // Closed before its response was complete: its line still goes to the log.
                _ = endRecord(index, started: started)
            }
        }
        // A rendered body still streaming (to a client, or to an upstream) frees its buffer.
        endStreamingBuffer(index)
        Socket.close(connections[index].fd)
        if connections[index].secure { tlsReleased(index) }
        let role = connections[index].role
        let upstream = connections[index].upstream
        if connections[index].pooled {
            let upstream = Int(upstream)
            if let position = pools[upstream].firstIndex(of: Int32(index)) { pools[upstream].remove(at: position) }
        }
        connections[index].reset()
        deadlines.remove(index)
        if role == .upstream {
            upstreamOpen[Int(upstream)] -= 1
            freeUpstreams.append(Int32(index))
            return
        }
        freeConnections.append(Int32(index))
        openConnections -= 1
        counters.subtract(slot: slot, .connectionsOpen)
    }

    /// After the final response is out: half-close, and keep reading until the client closes, so
    /// that unread request bytes do not turn our close into a reset that destroys the response.
    func linger(_ index: Int) {
        connections[index].lingering = true
        Socket.shutdownWrite(connections[index].fd)
        deadlines.schedule(index, in: .linger, deadline: now + Worker.lingerNanoseconds)
        if !connections[index].receiveArmed { armReceive(index) }
    }

    // MARK: Timers, signals, draining

    func onTick() {
        // Error-log lines stderr refused since the last tick (the count is the process's own,
        // inherited from the supervisor at fork: only what this worker adds is counted).
        if StandardError.failedWrites != logFailuresCounted {
            counters.add(slot: slot, .logWriteFailures, StandardError.failedWrites &- logFailuresCounted)
            logFailuresCounted = StandardError.failedWrites
        }
        if acceptPaused {
            acceptPaused = false
            if !draining { armAccept() }
        }
        expire(.header) { index in
            // A TLS handshake that did not finish in time has nobody to answer: close.
            if self.connections[index].secure && !self.tls.isHandshakeDone(slot: index) {
                self.counters.add(slot: self.slot, .tlsHandshakesFailed)
                self.abort(index)
                return
            }
            // The head did not arrive in time: 408, then close. If the client does not read the
            // 408 either, the idle timeout ends the connection.
            self.respondAndClose(index, answer: .requestTimeout)
            self.scheduleTimer(index)
        }
        expire(.idle) { index in self.abort(index) }
        expire(.linger) { index in self.abort(index) }
        expire(.pool) { index in self.abort(index) }
        for list in 0..<proxyTargets.timeoutsMilliseconds.count {
            expire(.integration(list)) { index in self.upstreamFailed(index, answer: .endpointTimeout, cause: .timedOut) }
        }
        if draining && now >= idleCloseAt {
            for index in connections.indices where connections[index].isOpen && connections[index].isIdle {
                abort(index)
            }
        }
        if draining && now >= drainDeadline {
            for index in connections.indices where connections[index].isOpen { abort(index) }
        }
        if !finished { ring.timeout(nanoseconds: Worker.tickNanoseconds, userData: Token.make(.tick)) }
    }

    private func expire(_ list: DeadlineLists.List, _ action: (Int) -> Void) {
        while let index = deadlines.firstExpired(in: list, now: now) {
            deadlines.remove(index)
            action(index)
        }
    }

    func armSignal() {
        guard signalFD >= 0 else { return }
        ring.read(fileDescriptor: signalFD, slab: control, slot: 0, range: 0..<Signals.recordBytes,
                  userData: Token.make(.signal))
    }

    func onSignal(_ completion: Completion) {
        guard case .done(let count) = completion.outcome, count > 0 else {
            if completion.outcome != .canceled { armSignal() }
            return
        }
        if Signals.number(in: control) == SignalNumber.user1 {
            reopenAccessLogs()
        } else {
            beginDrain()
        }
        armSignal()
    }

    /// Stop accepting, close idle keep-alive connections, let requests in flight finish, and exit
    /// when the last connection is gone or the drain timeout passes.
    func beginDrain() {
        guard !draining else { return }
        draining = true
        counters.set(slot: slot, .accepting, 0)
        drainDeadline = now + drainTimeoutNanoseconds
        for listener in listeners.indices where acceptArmed[listener] {
            ring.cancel(userData: Token.make(.accept, connection: listener), userData: Token.make(.cancel))
        }
        // With every copy of the listener closed (the supervisor closes its own), the kernel
        // refuses new connections instead of queueing them for nobody.
        for listener in listeners { Socket.close(listener) }
        // Idle keep-alive connections are closed after a grace: a request already on its way on
        // one is answered (with `Connection: close`) rather than cut off by the close.
        idleCloseAt = now + min(Worker.idleCloseGraceNanoseconds, drainTimeoutNanoseconds)
    }

    /// Whether a drain is over: no connection left, and no accept armed (its cancel's last
    /// completion seen, so that no connection it took is left unserved); or past the deadline,
    /// where connections whose cancellations are still in flight cannot hold the exit back.
    var drained: Bool {
        (openConnections == 0 && !acceptArmed.contains(true)) || now >= drainDeadline + Worker.tickNanoseconds * 4
    }

    static let trueText = Array("true".utf8)
    static let falseText = Array("false".utf8)

    /// Looks the request's route up. A request of a stage with a canary goes to the canary's
    /// routes `percentTraffic` of the time (decided once: a request that waits keeps its route),
    /// whether or not the stage's own definition has the route.
    func lookUpRoute(_ index: Int, _ bytes: Span<UInt8>) -> Bool {
        let host = bytes.extracting(head.host)
        let path = bytes.extracting(head.path)
        let found = routes.lookup(host: host, path: path, method: head.method, into: &match)
        connections[index].request.canary = false
        guard hasCanaries else { return found }
        let stage = found ? match.stage : match.enclosingStage
        guard stage >= 0, canaryShares[stage] > 0 else { return found }
        canaryDice ^= canaryDice << 13
        canaryDice ^= canaryDice >> 7
        canaryDice ^= canaryDice << 17
        guard Int32(truncatingIfNeeded: canaryDice % 10_000) < canaryShares[stage] else { return found }
        connections[index].request.canary = true
        let twin = Int(canaryStages[stage])
        // Only the canary's own routes: a match elsewhere in the canary table (another stage's
        // canary, by backtracking) is a miss within this one.
        if canaryRoutes.lookup(host: host, path: path, method: head.method, into: &match), match.stage == twin {
            return true
        }
        match.enclosingStage = twin
        return false
    }

    /// The routes a request was looked up in: its stage's, or its stage's canary's.
    func routes(_ index: Int) -> RouteTable {
        connections[index].request.canary ? canaryRoutes : routes
    }

    /// How long a drain leaves idle keep-alive connections open for a request already sent.
    static let idleCloseGraceNanoseconds: Int64 = 500_000_000
}
