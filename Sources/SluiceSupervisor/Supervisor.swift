import SluiceCache
import SluiceConfig
import SluiceCoordinator
import SluiceHTTP1
import SluiceMetrics
import SluiceSharedMemory
import SluiceThrottle
import SluiceTLS
import SluiceURing
import SluiceWorker

/// The supervisor: loads nothing itself (it is handed a compiled deployment), maps the shared
/// zones, opens one SO_REUSEPORT listener per worker slot plus the admin listener, forks the
/// coordinator and the workers, and then only watches: it forks a dead worker again into its
/// slot, serves the admin endpoints, and on SIGTERM/SIGINT drains everything and exits 0.
/// It is single-threaded and never starts a thread, so forking is safe at any time.
public final class Supervisor {
    static let tickNanoseconds: Int64 = 100_000_000
    /// A worker that dies sooner than this after starting counts as crashing; its next start
    /// waits longer each time, up to `respawnDelayMaxNanoseconds`.
    static let quickDeathNanoseconds: Int64 = 1_000_000_000
    static let respawnDelayMaxNanoseconds: Int64 = 10_000_000_000

    struct Child {
        var pid: Int32 = 0
        var startedAt: Int64 = 0
        var quickDeaths = 0
        var restarts: UInt64 = 0
        var respawnAt: Int64 = -1
    }

    let deployment: Deployment
    /// What this build is (`sluice_build_info`).
    let build: BuildFacts
    let buildLabels: PrometheusLabels
    let slots: [WorkerTuning]
    let processID = Process.id
    /// Per worker slot, one listening socket per `listen` entry.
    var listeners: [[Int32]] = []
    var adminListener: Int32 = -1
    /// The session-ticket keys of the TLS listeners, shared by every worker, and when they rotate next.
    var ticketKeys: TLSTicketKeys?
    /// The issuers' signing keys, published for the workers (nil without `jwt_issuers`).
    var keyFetcher: KeyFetcher?
    /// Lambda authorizers' results, shared by every worker (nil when none keeps results).
    var authorizerCache: CacheZones?
    var tlsCounters: TLSCounters?
    var ticketKeysRotateAt: Int64 = 0
    var counters: WorkerCounters!
    /// Answers, latencies and cache results per stage (then the unrouted requests), and per
    /// method of the stages with detailed metrics.
    var stageMetrics: ScopedMetrics!
    var methodMetrics: ScopedMetrics!
    var methodGroups: MethodMetricGroups!
    /// The `/metrics` page, kept between scrapes, and every series' labels, rendered once: per
    /// worker slot, per group, per rejection row; the cache's only for the stages with a cache
    /// and the methods it serves.
    var metricsPage = PrometheusText()
    var slotFacts: [WorkerSlotFacts] = []
    var slotLabels: WorkerCounters.Labels!
    var stageLabels: [PrometheusLabels] = []
    var methodLabels: [PrometheusLabels] = []
    var stageCacheLabels: [PrometheusLabels?] = []
    var methodCacheLabels: [PrometheusLabels?] = []
    var rejectionLabels: [PrometheusLabels] = []
    /// Throttle buckets and quota counters (shared with every worker and the coordinator), the
    /// workers' rejection counters, and the journal that keeps quota counts across restarts.
    var gate: Gate!
    var rejections: RejectionCounters!
    var journal: QuotaJournal!
    /// Each stage's response cache (nil without one), shared by every worker.
    var caches: [CacheZones?] = []
    var workers: [Child]
    var coordinator = Child()
    var signalFD: Int32 = -1
    var signalBuffer: ByteSlab!
    var ring: Ring!
    var admin: AdminServer!
    var draining = false
    /// A stop was asked for (SIGTERM, SIGINT, `POST /admin/drain`): `/healthz` and `/readyz`
    /// answer 503 from now on, and the drain begins at `drainBeginsAt` (after `drain_delay_ms`).
    var stopRequested = false
    var drainBeginsAt: Int64 = 0
    var coordinatorStopped = false
    var drainDeadline: Int64 = 0
    var finished = false
    let loadedEpochSeconds = Clock.realtimeNanoseconds() / 1_000_000_000
    var refusedReloads: UInt64 = 0

    public init(deployment: Deployment, build: BuildFacts = BuildFacts(version: "", commit: "", swift: "")) {
        self.deployment = deployment
        self.build = build
        buildLabels = PrometheusLabels([("version", build.version), ("commit", build.commit), ("swift", build.swift)])
        slots = deployment.workers.slots
        workers = Array(repeating: Child(), count: deployment.workers.slots.count)
    }

    /// Runs until drained. Returns the exit status.
    public func run() -> Int32 {
        do {
            try start()
        } catch {
            StandardError.write("sluice: \(error)")
            return 1
        }
        while !finished {
            do {
                try ring.submitAndReap()
            } catch {
                StandardError.write("sluice: supervisor ring: \(error)")
                stopEverything()
                return 1
            }
            for completion in ring.completions { dispatch(completion) }
        }
        saveJournal()
        return 0
    }

    /// The last word on quota counts: written once every worker has stopped counting.
    func saveJournal() {
        guard journal.isNeeded else { return }
        do {
            try journal.save(gate.quotas)
        } catch {
            StandardError.write("sluice: cannot write the quota journal: \(error); counts of the last second are lost")
        }
    }

    /// Maps the throttle zones and restores the quota counts, before anyone is forked.
    func prepareThrottles() throws {
        let plan = ThrottlePlan(deployment: deployment)
        gate = Gate(plan: plan, zones: try ThrottleZones(plan: plan))
        rejections = try RejectionCounters(plan: plan, stageCount: deployment.stages.count, slots: slots.count)
        rejectionLabels = RejectionCounters.rowLabels(plan: plan, deployment: deployment)
        journal = QuotaJournal(deployment: deployment, plan: plan)
        guard journal.isNeeded else { return }
        do {
            try Files.makeFolder(deployment.stateDirectory)
        } catch {
            StandardError.write("sluice: warning: state_dir: \(error); quota counts will not survive a restart")
        }
        let now = Int(Clock.realtimeNanoseconds() / 1_000_000_000)
        for line in journal.restore(into: gate.quotas, epochSeconds: now) { StandardError.write("sluice: \(line)") }
    }

    /// Every access-log file can be opened (each worker opens its own): said now, once, rather
    /// than by workers failing one after another.
    func checkAccessLogs() throws(SystemError) {
        for stage in deployment.stages {
            guard let log = stage.accessLog else { continue }
            do {
                Files.close(try Files.openForAppending(log.path))
            } catch {
                throw SystemError("access log of stage '\(stage.name)' of API '\(deployment.apis[stage.api].name)': "
                                  + error.call, errno: error.errno)
            }
        }
    }

    func start() throws {
        // Signals are blocked and read from a signalfd from here on; children unblock them.
        signalFD = try Signals.makeSignalFD([SignalNumber.terminate, SignalNumber.interrupt, SignalNumber.child,
                                             SignalNumber.hangUp, SignalNumber.user1])
        Process.setName("sluice-sup")
        // A log line written after the reader of stderr has gone is dropped, not fatal.
        Process.ignoreBrokenPipes()
        // Scrapes, health checks and respawns wait for a worker's turn to end rather than
        // preempting it; the workers and the coordinator it forks are scheduled normally.
        do {
            try Process.scheduleAsBatch()
        } catch {
            StandardError.write("sluice: warning: \(error); the supervisor may preempt workers when it wakes")
        }
        try checkAccessLogs()
        // Each worker process needs a descriptor per connection: raise the soft limit (often
        // 1024) to the hard one, and say so when even that is short of max_connections.
        let openFilesMax = try Process.raiseOpenFileLimit()
        let connectionsMax = slots.map(\.maxConnections).max() ?? 0
        if openFilesMax < connectionsMax + 64 {
            StandardError.write("sluice: warning: the open-file limit (\(openFilesMax)) is below max_connections "
                                + "(\(connectionsMax)); workers refuse connections beyond it")
        }
        // The listeners share their ports with SO_REUSEPORT, which would as well let this process
        // share them with another gateway already serving there: refuse instead.
        // A worker setting this kernel cannot honour would make every worker fail as it starts:
        // proven here, once, before anything is forked.
        for entries in Set(slots.map(\.ringEntries)).sorted() {
            do {
                _ = try Ring(entries: entries)
            } catch {
                throw SystemError("workers: ring_entries \(entries): this kernel cannot set up such a ring (\(error)); "
                                  + "not starting", errno: 0)
            }
        }
        // The workers of a supervisor killed outright close their listeners within moments (their
        // parent-death signal): a restart right after waits for that, up to two seconds.
        for address in deployment.listeners.map(\.address) + [deployment.admin] where address.port != 0 {
            var attempts = 0
            while Socket.isListenedOn(host: address.host, port: Int(address.port)) {
                attempts += 1
                guard attempts < 20 else {
                    throw SystemError("\(address) is already served by another process (another Sluice?); not starting",
                                      errno: 0)
                }
                Clock.sleep(nanoseconds: 100_000_000)
            }
        }
        // Slot 0 binds first; with port 0 the kernel picks one, and every other slot binds it too.
        var ports = deployment.listeners.map { Int($0.address.port) }
        for _ in slots {
            var sockets: [Int32] = []
            for (position, listener) in deployment.listeners.enumerated() {
                let fd = try Socket.listen(host: listener.address.host, port: ports[position], reusePort: true)
                ports[position] = Socket.localPort(fd)
                sockets.append(fd)
            }
            listeners.append(sockets)
        }
        adminListener = try Socket.listen(host: deployment.admin.host, port: Int(deployment.admin.port), reusePort: false,
                                          backlog: 128)
        counters = try WorkerCounters(slots: slots.count)
        if deployment.listeners.contains(where: { $0.tls != nil }) {
            ticketKeys = try TLSTicketKeys()
            tlsCounters = try TLSCounters(slots: slots.count)
            ticketKeysRotateAt = Clock.monotonicCoarseNanoseconds() + TLSTicketKeys.rotationSeconds * 1_000_000_000
        }
        try prepareMetrics()
        try prepareThrottles()
        if deployment.authorizers.contains(where: { $0.function != nil && $0.resultTTLSeconds > 0 }) {
            authorizerCache = try CacheZones(name: "authorizers", capacityBytes: 8 << 20, writers: slots.count)
        }
        if !deployment.jwtIssuers.isEmpty {
            let fetcher = try KeyFetcher(issuers: deployment.jwtIssuers)
            fetcher.start(nowSeconds: Clock.monotonicCoarseNanoseconds() / 1_000_000_000)
            keyFetcher = fetcher
        }
        caches = try deployment.stages.indices.map { stage throws(ZoneError) in
            guard let cache = deployment.stages[stage].cache else { return nil }
            return try CacheZones(name: "cache-\(stage)", capacityBytes: cache.capacityBytes, writers: slots.count)
        }
        let adminPort = Socket.localPort(adminListener)
        for (position, listener) in deployment.listeners.enumerated() {
            StandardError.write("sluice: listener \(position): \(listener.scheme) \(hostText(listener.address)):\(ports[position])")
        }
        // What is served: each API, its stages and its routes.
        for (index, api) in deployment.apis.enumerated() {
            let stages = deployment.stages.filter { $0.api == index }.map(\.name)
            let routes = deployment.operations.filter { $0.api == index }.count
            StandardError.write("sluice: api \(api.name): stages \(stages.joined(separator: ", ")); \(routes) route(s)")
        }
        StandardError.write("sluice: listening \(hostText(deployment.listen)):\(ports[0]) admin \(hostText(deployment.admin)):\(adminPort) workers \(slots.count)")

        ring = try Ring(entries: 256)
        signalBuffer = try ByteSlab(slotCount: 1, slotBytes: max(Signals.recordBytes, 128))
        let now = Clock.monotonicCoarseNanoseconds()
        try forkCoordinator(now: now)
        for slot in slots.indices { try forkWorker(slot: slot, now: now) }
        admin = try AdminServer(ring: ring, listener: adminListener, responseBytesMax: metricsPageBytesMax() + 1024)
        admin.start()
        armSignal()
        ring.timeout(nanoseconds: Supervisor.tickNanoseconds, userData: SupervisorToken.tick.rawValue)
    }

    func prepareMetrics() throws(ZoneError) {
        let stages = deployment.stages
        slotFacts = slots.indices.map { WorkerSlotFacts(slot: $0, cpu: slots[$0].cpu, restarts: 0, up: false) }
        slotLabels = WorkerCounters.Labels(slots: slotFacts)
        stageMetrics = try ScopedMetrics(slots: slots.count, groups: stages.count + 1, scope: .stage)
        stageLabels = stages.map { PrometheusLabels([("api", deployment.apis[$0.api].name), ("stage", $0.name)]) }
            + [PrometheusLabels([("api", ""), ("stage", "")])]
        stageCacheLabels = stages.indices.map { stages[$0].cache != nil ? stageLabels[$0] : nil }
        let groups = MethodMetricGroups(deployment: deployment)
        methodGroups = groups
        methodMetrics = try ScopedMetrics(slots: slots.count, groups: groups.count, scope: .method)
        methodLabels = groups.labels(deployment).map(PrometheusLabels.init)
        methodCacheLabels = groups.members.indices.map { group in
            let member = groups.members[group]
            let cached = stages[member.stage].cacheTTLSeconds(operation: member.operation, in: deployment.operations) > 0
            return cached ? methodLabels[group] : nil
        }
    }

    /// An upper bound on the `/metrics` page, so that the admin listener's buffers hold it
    /// whatever the configuration: every series of every group present, each line with the
    /// longest labels, a 20-digit value and room for the family's name and one more label.
    func metricsPageBytesMax() -> Int {
        let labelBytes = (stageLabels + methodLabels + rejectionLabels).map(\.rendered.count).max() ?? 0
        let lineBytes = 192 + max(64, labelBytes)
        let histogramLines = 2 * (LatencyHistograms.boundsNanoseconds.count + 3)
        let perGroup = RequestCounters.classCount + histogramLines + 2
        let lines = slots.count * (32 + TLSCounters.linesPerWorker) + (stageLabels.count + methodLabels.count) * perGroup + rejectionLabels.count * 3 + 32
        // HELP and TYPE lines: fewer than 64 families of at most 512 bytes each.
        return lines * lineBytes + 64 * 512
    }

    func hostText(_ address: ListenAddress) -> String {
        address.isIPv6 ? "[\(address.host)]" : address.host
    }

    // MARK: Forking

    func forkWorker(slot: Int, now: Int64) throws {
        // Gauges of a dead worker would otherwise stay at its last values.
        counters.set(slot: slot, .connectionsOpen, 0)
        counters.set(slot: slot, .receiveBuffersLent, 0)
        // A worker that died writing a cache entry must not hold the arena back.
        for zones in caches { zones?.arena.clear(writer: slot) }
        let pid = try Process.fork()
        if pid == 0 {
            runWorker(slot: slot)
        }
        workers[slot].pid = pid
        workers[slot].startedAt = now
        workers[slot].respawnAt = -1
    }

    /// The child side of a worker fork; never returns.
    func runWorker(slot: Int) -> Never {
        Process.prepareChild(name: "sluice-w\(slot)", parent: processID)
        closeInheritedDescriptors(keeping: listeners[slot])
        let tuning = slots[slot]
        do {
            try Process.pin(toCPU: tuning.cpu)
        } catch {
            StandardError.write("sluice-w\(slot): \(error)")
        }
        var context = WorkerContext(slot: slot, tuning: tuning, listeners: listeners[slot], deployment: deployment,
                                    counters: counters, stageMetrics: stageMetrics, methodMetrics: methodMetrics,
                                    methodGroups: methodGroups,
                                    listenPorts: listeners[slot].map(Socket.localPort),
                                    gate: gate, rejections: rejections, caches: caches)
        context.ticketKeys = ticketKeys
        context.tlsCounters = tlsCounters
        context.keySets = keyFetcher?.documents
        context.authorizerCache = authorizerCache
        do {
            let worker = try Worker(context: context)
            Process.exitChild(worker.run())
        } catch {
            StandardError.write("sluice-w\(slot): cannot start: \(error)")
            Process.exitChild(1)
        }
    }

    func forkCoordinator(now: Int64) throws {
        let pid = try Process.fork()
        if pid == 0 {
            Process.prepareChild(name: "sluice-coord", parent: processID)
            closeInheritedDescriptors(keeping: [])
            Process.exitChild(Coordinator(deployment: deployment, gate: gate, keys: keyFetcher, supervisor: processID).run())
        }
        coordinator.pid = pid
        coordinator.startedAt = now
        coordinator.respawnAt = -1
    }

    /// A child keeps only what it uses: its own slot's listeners.
    func closeInheritedDescriptors(keeping kept: [Int32]) {
        for fd in listeners.joined() where !kept.contains(fd) { Socket.close(fd) }
        Socket.close(adminListener)
        Socket.close(signalFD)
        if let ring { Socket.close(ring.fileDescriptor) }
        admin?.closeConnections()
    }

    // MARK: Events

    func dispatch(_ completion: Completion) {
        switch SupervisorToken(rawValue: completion.userData & SupervisorToken.mask) {
        case .signal: onSignal(completion)
        case .tick: onTick()
        case .adminAccept, .adminReceive, .adminSend: admin.handle(completion, supervisor: self)
        case .cancel, .none: break
        }
    }

    func armSignal() {
        ring.read(fileDescriptor: signalFD, slab: signalBuffer, slot: 0, range: 0..<Signals.recordBytes,
                  userData: SupervisorToken.signal.rawValue)
    }

    func onSignal(_ completion: Completion) {
        if completion.result > 0 {
            switch Signals.number(in: signalBuffer) {
            case SignalNumber.terminate, SignalNumber.interrupt:
                requestStop()
            case SignalNumber.child:
                reapChildren()
            case SignalNumber.hangUp:
                refusedReloads += 1
                StandardError.write("sluice: SIGHUP: configuration reload is not supported yet; restart to apply a new configuration")
            case SignalNumber.user1:
                // Log rotation: every worker opens its access logs again.
                for child in workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.user1) }
            default:
                break
            }
        }
        // Several signals may be pending; a signalfd read returns one each.
        armSignal()
    }

    func reapChildren() {
        let now = Clock.monotonicCoarseNanoseconds()
        while let (pid, status) = Process.reapChild() {
            if pid == coordinator.pid {
                coordinator.pid = 0
                if !draining {
                    StandardError.write("sluice: coordinator (pid \(pid)) exited with status \(status); starting it again")
                    scheduleRespawn(&coordinator, now: now)
                }
                continue
            }
            guard let slot = workers.firstIndex(where: { $0.pid == pid }) else { continue }
            workers[slot].pid = 0
            if !draining {
                StandardError.write("sluice: worker \(slot) (pid \(pid)) exited with status \(status); starting it again")
                scheduleRespawn(&workers[slot], now: now)
            }
        }
        respawnDue(now: now)
        if draining { stopCoordinatorOnceWorkersStopped() }
        if draining && allChildrenGone { finished = true }
    }

    /// The coordinator writes the quota journal a last time when it stops, so it is asked to
    /// stop only once no worker is left to count.
    func stopCoordinatorOnceWorkersStopped() {
        guard !coordinatorStopped, coordinator.pid > 0, workers.allSatisfy({ $0.pid == 0 }) else { return }
        coordinatorStopped = true
        Process.signal(coordinator.pid, SignalNumber.terminate)
    }

    func scheduleRespawn(_ child: inout Child, now: Int64) {
        if now - child.startedAt < Supervisor.quickDeathNanoseconds {
            child.quickDeaths += 1
        } else {
            child.quickDeaths = 0
        }
        // The first death is answered at once; a child that keeps dying waits 0.2 s, 0.4 s, … 10 s.
        let delay = child.quickDeaths <= 1
            ? 0 : min(Supervisor.respawnDelayMaxNanoseconds, 100_000_000 << min(child.quickDeaths - 1, 10))
        child.respawnAt = now + delay
    }

    func respawnDue(now: Int64) {
        guard !draining else { return }
        for slot in workers.indices where workers[slot].pid == 0 && workers[slot].respawnAt >= 0 && workers[slot].respawnAt <= now {
            workers[slot].restarts += 1
            do {
                try forkWorker(slot: slot, now: now)
            } catch {
                StandardError.write("sluice: cannot fork worker \(slot): \(error)")
                workers[slot].respawnAt = now + Supervisor.quickDeathNanoseconds
            }
        }
        if coordinator.pid == 0 && coordinator.respawnAt >= 0 && coordinator.respawnAt <= now {
            coordinator.restarts += 1
            do {
                try forkCoordinator(now: now)
            } catch {
                StandardError.write("sluice: cannot fork the coordinator: \(error)")
                coordinator.respawnAt = now + Supervisor.quickDeathNanoseconds
            }
        }
    }

    func onTick() {
        let now = Clock.monotonicCoarseNanoseconds()
        // SIGCHLD can coalesce; reaping here too makes sure no exit goes unnoticed. Reaping also
        // forks the children whose respawn time has come.
        reapChildren()
        admin.onTick(now: now)
        if let ticketKeys, now >= ticketKeysRotateAt {
            ticketKeysRotateAt = now + TLSTicketKeys.rotationSeconds * 1_000_000_000
            if !ticketKeys.rotate() { StandardError.write("sluice: warning: session-ticket keys not rotated (no randomness)") }
        }
        if stopRequested && !draining && now >= drainBeginsAt { beginDrain() }
        if draining && now >= drainDeadline {
            // Past the drain timeout (plus a grace second for the workers' own deadline); the
            // coordinator gets one more second for its last write.
            for child in workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.kill) }
            if coordinator.pid > 0 && now >= drainDeadline + Supervisor.quickDeathNanoseconds {
                Process.signal(coordinator.pid, SignalNumber.kill)
            }
        }
        if !finished { ring.timeout(nanoseconds: Supervisor.tickNanoseconds, userData: SupervisorToken.tick.rawValue) }
    }

    var allChildrenGone: Bool { coordinator.pid == 0 && workers.allSatisfy { $0.pid == 0 } }

    /// A stop: the health checks fail at once, so that a load balancer stops sending; the
    /// gateway goes on serving for `drain_delay_ms`, then drains. A second stop while it waits
    /// drains at once.
    func requestStop() {
        guard !stopRequested, deployment.drainDelayMilliseconds > 0 else {
            stopRequested = true
            beginDrain()
            return
        }
        stopRequested = true
        drainBeginsAt = Clock.monotonicCoarseNanoseconds() + Int64(deployment.drainDelayMilliseconds) * 1_000_000
        StandardError.write("sluice: stopping: /healthz and /readyz answer 503; serving for "
                            + "\(deployment.drainDelayMilliseconds) ms more, then draining")
    }

    /// Whether the worker in `slot` serves: it runs, and is not dying as soon as it starts.
    func isServing(_ slot: Int, now: Int64) -> Bool {
        let child = workers[slot]
        return child.pid > 0 && (child.quickDeaths == 0 || now - child.startedAt >= Supervisor.quickDeathNanoseconds)
    }

    /// Liveness: some worker serves, and no stop was asked for.
    var isHealthy: Bool {
        let now = Clock.monotonicCoarseNanoseconds()
        return !stopRequested && !draining && workers.indices.contains { isServing($0, now: now) }
    }

    /// Readiness: the configuration is loaded (it is, in a running supervisor), every worker
    /// serves, and no stop was asked for.
    var isReady: Bool {
        let now = Clock.monotonicCoarseNanoseconds()
        return !stopRequested && !draining && workers.indices.allSatisfy { isServing($0, now: now) }
    }

    func beginDrain() {
        guard !draining else { return }
        draining = true
        StandardError.write("sluice: draining")
        // New connections are refused from now on; the workers close their copies too.
        for fd in listeners.joined() { Socket.close(fd) }
        drainDeadline = Clock.monotonicCoarseNanoseconds() + Int64(deployment.drainTimeoutMilliseconds) * 1_000_000
            + Supervisor.quickDeathNanoseconds
        for child in workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.terminate) }
        stopCoordinatorOnceWorkersStopped()
        if allChildrenGone { finished = true }
    }

    /// The supervisor cannot go on (its ring failed): everything stops at once, and the quota
    /// counts are written as they are.
    func stopEverything() {
        for child in workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.kill) }
        if coordinator.pid > 0 { Process.signal(coordinator.pid, SignalNumber.kill) }
        saveJournal()
    }

    // MARK: Admin

    /// `DELETE /admin/cache/{api}/{stage}` (API Gateway's FlushStageCache): every entry of the
    /// stage's cache stops matching at once, in every worker.
    func flushCache(path: Substring) -> AdminUsage.Answer {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let api = PercentDecoding.decode(parts[0]), let stageName = PercentDecoding.decode(parts[1]),
              let stage = deployment.stages.indices.first(where: {
                  deployment.stages[$0].name == stageName && deployment.apis[deployment.stages[$0].api].name == api
              }) else {
            return AdminUsage.Answer(status: 404, body: #"{"message":"no such stage: write /admin/cache/{api}/{stage}"}"#)
        }
        guard let zones = caches[stage] else {
            return AdminUsage.Answer(status: 404, body: #"{"message":"the stage has no cache"}"#)
        }
        CacheIndex(zones: zones).flush()
        return AdminUsage.Answer(status: 202, body: #"{"message":"flushed"}"#)
    }

    static let reloadResultLabels = [PrometheusLabels([("result", "applied")]), PrometheusLabels([("result", "refused")])]

    /// Writes the `/metrics` page into `metricsPage`.
    func writeMetricsPage() {
        for slot in slotFacts.indices {
            slotFacts[slot].restarts = workers[slot].restarts
            slotFacts[slot].up = workers[slot].pid > 0
        }
        metricsPage.clear()
        counters.write(to: &metricsPage, slots: slotFacts, labels: slotLabels, draining: draining)
        tlsCounters?.write(to: &metricsPage, slots: slotFacts, labels: slotLabels)
        stageMetrics.requests.write(to: &metricsPage, labels: stageLabels)
        stageMetrics.latencies.write(to: &metricsPage, labels: stageLabels)
        rejections.write(to: &metricsPage, labels: rejectionLabels)
        stageMetrics.cache.write(to: &metricsPage, labels: stageCacheLabels)
        if !methodLabels.isEmpty {
            methodMetrics.requests.write(to: &metricsPage, labels: methodLabels)
            methodMetrics.latencies.write(to: &metricsPage, labels: methodLabels)
            methodMetrics.cache.write(to: &metricsPage, labels: methodCacheLabels)
        }
        metricsPage.family("sluice_build_info", type: "gauge", help: "The build serving: its version, commit and Swift.")
        metricsPage.sample("sluice_build_info", buildLabels, value: 1)
        metricsPage.family("sluice_coordinator_restarts_total", type: "counter",
                           help: "Times the supervisor forked the coordinator again.")
        metricsPage.sample("sluice_coordinator_restarts_total", value: coordinator.restarts)
        // The configuration in force: loaded once at start (reload on SIGHUP is not supported
        // yet, so every SIGHUP is a refused reload).
        metricsPage.family("sluice_config_generation", type: "gauge",
                           help: "The generation of the configuration in force; 1 is the one loaded at start.")
        metricsPage.sample("sluice_config_generation", value: 1)
        metricsPage.family("sluice_config_loaded_timestamp_seconds", type: "gauge",
                           help: "When the configuration in force was loaded.")
        metricsPage.sample("sluice_config_loaded_timestamp_seconds", value: UInt64(max(0, loadedEpochSeconds)))
        metricsPage.family("sluice_config_reloads_total", type: "counter", help: "Reload requests (SIGHUP), by result.")
        metricsPage.sample("sluice_config_reloads_total", Supervisor.reloadResultLabels[0], value: 0)
        metricsPage.sample("sluice_config_reloads_total", Supervisor.reloadResultLabels[1], value: refusedReloads)
    }
}

/// What a build is: `sluice --version` and `sluice_build_info`.
public struct BuildFacts: Sendable {
    public var version: String
    public var commit: String
    public var swift: String

    public init(version: String, commit: String, swift: String) {
        self.version = version
        self.commit = commit
        self.swift = swift
    }

    /// `sluice 0.3.0 (commit 0123456789ab, Swift 6.3)`.
    public var description: String { "sluice \(version) (commit \(commit), Swift \(swift))" }
}

enum SupervisorToken: UInt64 {
    case signal = 1
    case tick
    case adminAccept
    case adminReceive
    case adminSend
    case cancel

    /// The kind lives in the low byte; admin tokens carry a connection slot above it.
    static let mask: UInt64 = 0xFF
}
