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

/// The supervisor: handed a compiled deployment (and a way to load the configuration again), it
/// maps the shared zones, opens one SO_REUSEPORT listener per worker slot plus the admin
/// listener, forks the coordinator and the workers, and then only watches: it forks a dead worker
/// again into its slot, serves the admin endpoints, reloads on SIGHUP or `POST /admin/reload`
/// (a new generation of workers on the same listeners; `Generation`), and on SIGTERM/SIGINT
/// drains everything and exits 0. It is single-threaded and never starts a thread, so forking
/// is safe at any time.
public final class Supervisor {
    static let tickNanoseconds: Int64 = 100_000_000
    /// A worker that dies sooner than this after starting counts as crashing; its next start
    /// waits longer each time, up to `respawnDelayMaxNanoseconds`.
    static let quickDeathNanoseconds: Int64 = 1_000_000_000
    static let respawnDelayMaxNanoseconds: Int64 = 10_000_000_000

    typealias Child = Generation.Child

    /// The configuration in force; during a reload's handover, the one it replaces (serving
    /// until every new worker accepts); and the ones draining after a reload.
    var current: Generation!
    var handover: Generation?
    var handoverDeadline: Int64 = 0
    /// What the reload under way brings with it: the stage changes, its files, what asked.
    var handoverChanges = StageChanges()
    var handoverInputs: [(path: String, text: String)] = []
    var handoverTrigger = ""
    var retiring: [Generation] = []

    /// Every generation with workers.
    var generations: [Generation] { [current!] + (handover.map { [$0] } ?? []) + retiring }
    /// Loads the configuration again for a reload (nil: reloading is refused).
    let reloader: (([StageOverride]) -> LoadResult)?
    let firstInputs: [(path: String, text: String)]
    /// The deployments recorded (`GET /admin/deployments`), and the admin endpoints' changes
    /// to stages in force.
    var history: DeploymentHistory!
    var stageChanges = StageChanges()
    /// The state folder, when it is used (`lockStateDirectory`).
    var stateFolder: String?
    /// `serve --strict`: a reloaded configuration with warnings is refused too.
    let strict: Bool
    /// What this build is (`sluice_build_info`).
    let build: BuildFacts
    let buildLabels: PrometheusLabels
    /// Fixed for the supervisor's life: the listeners are per worker slot.
    let slotCount: Int
    let processID = Process.id
    /// Per worker slot, one listening socket per `listen` entry; created once, kept across
    /// reloads. A slot whose worker is backing off after crashes has its sockets closed (-1)
    /// until its next start, so that the kernel gives new connections to the other workers.
    var listeners: [[Int32]] = []
    /// Each `listen` entry's host and bound port (the kernel's choice for port 0).
    var listenAddresses: [(host: String, port: Int)] = []
    var adminListener: Int32 = -1
    /// The session-ticket keys of the TLS listeners, shared by every worker, and when they rotate next.
    var ticketKeys: TLSTicketKeys?
    var tlsCounters: TLSCounters?
    var ticketKeysRotateAt: Int64 = 0
    /// Per-worker counters: a row per worker slot and lane (`Generation.lanes`).
    var counters: WorkerCounters!
    /// The `/metrics` page, kept between scrapes, and the per-worker labels, rendered once.
    var metricsPage = PrometheusText()
    var slotFacts: [WorkerSlotFacts] = []
    var slotLabels: WorkerCounters.Labels!
    var coordinator = Child()
    /// Coordinators of earlier generations, stopped by a reload and not reaped yet.
    var retiredCoordinators: [Int32] = []
    var signalFD: Int32 = -1
    var signalBuffer: ByteSlab!
    var ring: Ring!
    var admin: AdminServer!
    /// What the admin listener's answer buffers hold: a reload whose `/metrics` page could be
    /// larger is refused.
    var metricsPageCapacity = 0
    var draining = false
    /// A stop was asked for (SIGTERM, SIGINT, `POST /admin/drain`): `/healthz` and `/readyz`
    /// answer 503 from now on, and the drain begins at `drainBeginsAt` (after `drain_delay_ms`).
    var stopRequested = false
    var drainBeginsAt: Int64 = 0
    var coordinatorStopped = false
    var drainDeadline: Int64 = 0
    var finished = false
    /// Reloads applied and refused, whether the last one was applied, and a SIGHUP that waits
    /// for a lane (every lane had a generation draining).
    var appliedReloads: UInt64 = 0
    var refusedReloads: UInt64 = 0
    var lastReloadApplied = true
    var pendingReload = false
    /// The lock on `state_dir` (-1 when the folder is not used); closed in every child.
    var stateLock: Int32 = -1
    /// Quota journals found unreadable at start and kept aside.
    var unreadableJournals: UInt64 = 0

    /// - Parameters:
    ///   - inputs: the files `deployment` was loaded from (`LoadResult.inputs`), for its record
    ///     in the deployment history.
    ///   - reloader: loads the configuration again, with the admin endpoints' changes to stages.
    public init(deployment: Deployment, inputs: [(path: String, text: String)] = [],
                build: BuildFacts = BuildFacts(version: "", commit: "", swift: ""),
                strict: Bool = false, reloader: (([StageOverride]) -> LoadResult)? = nil) {
        self.build = build
        firstInputs = inputs
        self.strict = strict
        self.reloader = reloader
        buildLabels = PrometheusLabels([("version", build.version), ("commit", build.commit), ("swift", build.swift)])
        slotCount = deployment.workers.slots.count
        firstDeployment = deployment
    }

    /// The deployment `start` makes generation 1 of.
    let firstDeployment: Deployment

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
        guard let current, current.journal.isNeeded else { return }
        do {
            try current.journal.save(current.gate.quotas)
        } catch {
            StandardError.write("sluice: cannot write the quota journal: \(error); counts of the last second are lost")
        }
    }

    /// `state_dir`, when it is used (written in the configuration, or holding a quota journal):
    /// created and locked against a second gateway, before any port is bound. A folder that
    /// cannot be written is an error: quotas would lose their durability silently.
    func lockStateDirectory(_ deployment: Deployment) throws(SystemError) {
        let journal = QuotaJournal(deployment: deployment, plan: ThrottlePlan(deployment: deployment))
        guard deployment.stateDirectoryConfigured || journal.isNeeded else { return }
        let folder = deployment.stateDirectory
        do {
            try Files.makeFolder(folder)
        } catch {
            throw SystemError("state_dir \(folder): \(error); not starting", errno: 0)
        }
        let lockPath = folder.hasSuffix("/") ? folder + "sluice.lock" : folder + "/sluice.lock"
        let lock: Int32?
        do {
            lock = try Files.lockExclusively(lockPath)
        } catch {
            throw SystemError("state_dir \(folder): \(error); not starting", errno: 0)
        }
        guard let lock else {
            throw SystemError("state_dir \(folder) is in use by another Sluice (\(lockPath) is locked); not starting",
                              errno: 0)
        }
        stateLock = lock
        stateFolder = folder.hasSuffix("/") ? String(folder.dropLast()) : folder
    }

    /// The deployment history and the admin endpoints' changes to stages, read back from the
    /// state folder: changes made on the files being served apply again (the configuration is
    /// loaded once more with them); changes made on other files are dropped.
    func restoreHistory(_ deployment: Deployment) -> Deployment {
        history = DeploymentHistory(folder: stateFolder.map { $0 + "/deployments" }, keep: deployment.deploymentHistory)
        for line in history.restore() { StandardError.write("sluice: warning: \(line)") }
        guard let stateFolder, let reloader else { return deployment }
        let path = stateFolder + "/stages"
        let bytes: [UInt8]?
        do {
            bytes = try Files.read(path, bytesMax: 16 << 20)
        } catch {
            StandardError.write("sluice: warning: \(path): \(error); the admin changes to stages are dropped")
            return deployment
        }
        guard let bytes else { return deployment }
        guard let changes = StageChanges.decode(bytes, history: history) else {
            StandardError.write("sluice: warning: \(path) cannot be read back (or names a deployment no longer "
                                + "recorded); the admin changes to stages are dropped")
            return deployment
        }
        guard !changes.overrides.isEmpty else { return deployment }
        guard changes.base == deployment.id else {
            StandardError.write("sluice: the configuration's files changed since the admin changes to "
                                + "\(changes.overrides.count) stage(s); they no longer apply")
            return deployment
        }
        let result = reloader(changes.overrides)
        for diagnostic in result.diagnostics { StandardError.write("sluice: \(diagnostic)") }
        guard let changed = result.deployment, changed.id == deployment.id,
              !strict || result.warnings.isEmpty else {
            StandardError.write("sluice: the admin changes to stages no longer load; they are dropped")
            return deployment
        }
        stageChanges = changes
        StandardError.write("sluice: the admin changes to \(changes.overrides.count) stage(s) apply again")
        return changed
    }

    /// Writes the admin endpoints' changes to stages to the state folder (when it is used).
    func saveStageChanges() {
        guard let stateFolder else { return }
        do {
            try Files.replace(stateFolder + "/stages", with: StageChanges.encode(stageChanges))
        } catch {
            StandardError.write("sluice: warning: cannot keep the changes to stages: \(error); a restart forgets them")
        }
    }

    /// The quota counts restored from the journal and the journal proven writable, before
    /// anyone is forked.
    func restoreQuotas(_ generation: Generation) throws(SystemError) {
        let journal = generation.journal
        guard journal.isNeeded else { return }
        let now = Int(Clock.realtimeNanoseconds() / 1_000_000_000)
        let restored = journal.restore(into: generation.gate.quotas, epochSeconds: now)
        for line in restored.lines { StandardError.write("sluice: \(line)") }
        if restored.unreadable { unreadableJournals += 1 }
        do {
            try journal.save(generation.gate.quotas)
        } catch {
            throw SystemError("cannot write the quota journal \(journal.path): \(error); not starting", errno: 0)
        }
    }

    /// Every access-log file can be opened (each worker opens its own): said now, once, rather
    /// than by workers failing one after another.
    static func checkAccessLogs(_ deployment: Deployment) throws(SystemError) {
        for stage in deployment.stages {
            guard let log = stage.accessLog else { continue }
            do {
                // Without blocking: a FIFO nobody reads is an error, not a hung supervisor.
                try Files.checkAppendable(log.path)
            } catch {
                throw SystemError("access log of stage '\(stage.name)' of API '\(deployment.apis[stage.api].name)': "
                                  + error.call, errno: error.errno)
            }
        }
    }

    /// A worker setting this kernel cannot honour would make every worker fail as it starts:
    /// proven here, once, before anything is forked.
    static func checkRings(_ deployment: Deployment) throws(SystemError) {
        for entries in Set(deployment.workers.slots.map(\.ringEntries)).sorted() {
            do {
                _ = try Ring(entries: entries)
            } catch {
                throw SystemError("workers: ring_entries \(entries): this kernel cannot set up such a ring (\(error)); "
                                  + "not starting", errno: 0)
            }
        }
    }

    func start() throws {
        var deployment = firstDeployment
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
        try Supervisor.checkAccessLogs(deployment)
        // Each worker process needs a descriptor per connection: raise the soft limit (often
        // 1024) to the hard one, and say so when even that is short of max_connections.
        let openFilesMax = try Process.raiseOpenFileLimit()
        let connectionsMax = deployment.workers.slots.map(\.maxConnections).max() ?? 0
        if openFilesMax < connectionsMax + 64 {
            StandardError.write("sluice: warning: the open-file limit (\(openFilesMax)) is below max_connections "
                                + "(\(connectionsMax)); workers refuse connections beyond it")
        }
        if let refusal = MemoryPlan(deployment).refusal(memoryBytes: SystemServices.memoryBytes()) {
            throw SystemError("\(refusal); not starting", errno: 0)
        }
        try Supervisor.checkRings(deployment)
        try lockStateDirectory(deployment)
        deployment = restoreHistory(deployment)
        // The listeners share their ports with SO_REUSEPORT, which would as well let this process
        // share them with another gateway already serving there: refuse instead. The workers of
        // a supervisor killed outright close their listeners within moments (their parent-death
        // signal): a restart right after waits for that, up to two seconds.
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
        // The admin listener first: it is bound without SO_REUSEPORT, so of two gateways started
        // at the same moment (both past the probe), the second fails here, before it takes a
        // share of the gateway's ports.
        adminListener = try Socket.listen(host: deployment.admin.host, port: Int(deployment.admin.port), reusePort: false,
                                          backlog: 128)
        // Slot 0 binds first; with port 0 the kernel picks one, and every other slot binds it too.
        var ports = deployment.listeners.map { Int($0.address.port) }
        for _ in 0..<slotCount {
            var sockets: [Int32] = []
            for (position, listener) in deployment.listeners.enumerated() {
                let fd = try Socket.listen(host: listener.address.host, port: ports[position], reusePort: true)
                ports[position] = Socket.localPort(fd)
                sockets.append(fd)
            }
            listeners.append(sockets)
        }
        listenAddresses = zip(deployment.listeners, ports).map { ($0.address.host, $1) }
        counters = try WorkerCounters(slots: slotCount, lanes: Generation.lanes)
        if deployment.listeners.contains(where: { $0.tls != nil }) {
            ticketKeys = try TLSTicketKeys()
            tlsCounters = try TLSCounters(slots: slotCount, lanes: Generation.lanes)
            ticketKeysRotateAt = Clock.monotonicCoarseNanoseconds() + TLSTicketKeys.rotationSeconds * 1_000_000_000
        }
        let generation = try Generation(number: 1, lane: 0, deployment: deployment, previous: nil)
        current = generation
        try restoreQuotas(generation)
        if let problem = history.add(deployment, inputs: firstInputs, description: "start") {
            StandardError.write("sluice: warning: \(problem)")
        }
        setSlotLabels()
        let adminPort = Socket.localPort(adminListener)
        for (position, listener) in deployment.listeners.enumerated() {
            StandardError.write("sluice: listener \(position): \(listener.scheme) \(hostText(listener.address)):\(ports[position])")
        }
        logServed(deployment)
        StandardError.write("sluice: listening \(hostText(deployment.listen)):\(ports[0]) admin \(hostText(deployment.admin)):\(adminPort) workers \(slotCount)")

        ring = try Ring(entries: 256)
        signalBuffer = try ByteSlab(slotCount: 1, slotBytes: max(Signals.recordBytes, 128))
        let now = Clock.monotonicCoarseNanoseconds()
        try forkCoordinator(now: now)
        for slot in 0..<slotCount { try forkWorker(generation, slot: slot, now: now) }
        // Room for twice the page this configuration makes, so that a reload that adds routes
        // or stages need not be refused for it (the buffers are mapped lazily).
        metricsPageCapacity = 2 * metricsPageBytesMax(generation)
        admin = try AdminServer(ring: ring, listener: adminListener, responseBytesMax: metricsPageCapacity + 1024)
        admin.start()
        armSignal()
        ring.timeout(nanoseconds: Supervisor.tickNanoseconds, userData: SupervisorToken.tick.rawValue)
    }

    /// What is served: each API, its stages and its routes.
    func logServed(_ deployment: Deployment) {
        for (index, api) in deployment.apis.enumerated() {
            let stages = deployment.stages.filter { $0.api == index }.map(\.name)
            let routes = deployment.operations.filter { $0.api == index }.count
            StandardError.write("sluice: api \(api.name): stages \(stages.joined(separator: ", ")); \(routes) route(s)")
        }
    }

    /// The `worker` and `cpu` labels of the per-worker series, from the generation in force.
    func setSlotLabels() {
        slotFacts = (0..<slotCount).map {
            WorkerSlotFacts(slot: $0, cpu: current.slots[$0].cpu, restarts: 0, up: false)
        }
        slotLabels = WorkerCounters.Labels(slots: slotFacts)
    }

    /// An upper bound on the `/metrics` page, so that the admin listener's buffers hold it
    /// whatever the configuration: every series of every group present, each line with the
    /// longest labels, a 20-digit value and room for the family's name and one more label.
    func metricsPageBytesMax(_ generation: Generation) -> Int {
        let labelBytes = (generation.stageLabels + generation.methodLabels + generation.rejectionLabels)
            .map(\.rendered.count).max() ?? 0
        let lineBytes = 192 + max(64, labelBytes)
        // Three histograms per group (request, integration, authorizer), each its buckets, +Inf, sum
        // and count.
        let histogramLines = 3 * (LatencyHistograms.boundsNanoseconds.count + 3)
        let perGroup = RequestCounters.classCount + histogramLines + 2
        let lines = slotCount * (32 + TLSCounters.linesPerWorker)
            + (generation.stageLabels.count + generation.methodLabels.count) * perGroup
            + generation.rejectionLabels.count * 3 + 32
        // HELP and TYPE lines: fewer than 64 families of at most 512 bytes each.
        return lines * lineBytes + 64 * 512
    }

    func hostText(_ address: ListenAddress) -> String {
        address.isIPv6 ? "[\(address.host)]" : address.host
    }

    // MARK: Forking

    /// Clears what a worker that is gone leaves in its row: its gauges would otherwise stay at
    /// their last values, and a worker killed while writing a cache entry must not hold the
    /// arena back. Only for a row whose worker has exited (or before its first fork).
    func clearRow(_ generation: Generation, slot: Int) {
        let writer = generation.writer(slot)
        counters.set(slot: writer, .connectionsOpen, 0)
        counters.set(slot: writer, .receiveBuffersLent, 0)
        counters.set(slot: writer, .requestsInFlight, 0)
        counters.set(slot: writer, .tlsConnectionsOpen, 0)
        for zones in generation.caches { zones?.arena.clear(writer: writer) }
        generation.authorizerCache?.arena.clear(writer: writer)
    }

    func forkWorker(_ generation: Generation, slot: Int, now: Int64) throws {
        clearRow(generation, slot: slot)
        let pid = try Process.fork()
        if pid == 0 {
            runWorker(generation, slot: slot)
        }
        generation.workers[slot].pid = pid
        generation.workers[slot].startedAt = now
        generation.workers[slot].respawnAt = -1
    }

    /// The child side of a worker fork; never returns.
    func runWorker(_ generation: Generation, slot: Int) -> Never {
        Process.prepareChild(name: "sluice-w\(slot)", parent: processID)
        closeInheritedDescriptors(keeping: listeners[slot])
        let tuning = generation.slots[slot]
        do {
            try Process.pin(toCPU: tuning.cpu)
        } catch {
            StandardError.write("sluice-w\(slot): \(error)")
        }
        var context = WorkerContext(slot: slot, tuning: tuning, listeners: listeners[slot],
                                    deployment: generation.deployment, counters: counters,
                                    stageMetrics: generation.stageMetrics, methodMetrics: generation.methodMetrics,
                                    methodGroups: generation.methodGroups,
                                    listenPorts: listeners[slot].map(Socket.localPort),
                                    gate: generation.gate, rejections: generation.rejections, caches: generation.caches)
        context.writer = generation.writer(slot)
        context.ticketKeys = ticketKeys
        context.tlsCounters = tlsCounters
        context.keySets = generation.keyFetcher?.documents
        context.authorizerCache = generation.authorizerCache
        do {
            let worker = try Worker(context: context)
            Process.exitChild(worker.run())
        } catch {
            StandardError.write("sluice-w\(slot): cannot start: \(error)")
            Process.exitChild(1)
        }
    }

    func forkCoordinator(now: Int64) throws {
        // During a handover the coordinator serves the generation in force until it ends.
        let generation = handover ?? current!
        let pid = try Process.fork()
        if pid == 0 {
            Process.prepareChild(name: "sluice-coord", parent: processID)
            closeInheritedDescriptors(keeping: [])
            Process.exitChild(Coordinator(deployment: generation.deployment, gate: generation.gate,
                                          keys: generation.keyFetcher, supervisor: processID).run())
        }
        coordinator.pid = pid
        coordinator.startedAt = now
        coordinator.respawnAt = -1
    }

    /// A child keeps only what it uses: its own slot's listeners.
    func closeInheritedDescriptors(keeping kept: [Int32]) {
        for fd in listeners.joined() where fd >= 0 && !kept.contains(fd) { Socket.close(fd) }
        Socket.close(adminListener)
        Socket.close(signalFD)
        if stateLock >= 0 { Files.close(stateLock) }
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
                _ = reload(trigger: "SIGHUP")
            case SignalNumber.user1:
                // Log rotation: every worker opens its access logs again.
                for generation in generations {
                    for child in generation.workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.user1) }
                }
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
            if let position = retiredCoordinators.firstIndex(of: pid) {
                retiredCoordinators.remove(at: position)
                continue
            }
            if let slot = current.workers.firstIndex(where: { $0.pid == pid }) {
                current.workers[slot].pid = 0
                clearRow(current, slot: slot)
                // A new worker that dies during a handover undoes the reload (`advanceHandover`).
                if !draining && handover == nil {
                    scheduleRespawn(&current.workers[slot], now: now)
                    let delay = current.workers[slot].respawnAt - now
                    if delay > 0 {
                        StandardError.write("sluice: worker \(slot) (pid \(pid)) exited with status \(status) again; "
                                            + "starting it in \(delay / 1_000_000) ms, its connections going to the "
                                            + "other workers meanwhile")
                        closeListeners(slot: slot)
                    } else {
                        StandardError.write("sluice: worker \(slot) (pid \(pid)) exited with status \(status); starting it again")
                    }
                }
                continue
            }
            // A worker of an earlier generation, done draining (or of the one a handover
            // replaces: the new generation takes over).
            for generation in retiring + (handover.map { [$0] } ?? []) {
                guard let slot = generation.workers.firstIndex(where: { $0.pid == pid }) else { continue }
                generation.workers[slot].pid = 0
                clearRow(generation, slot: slot)
            }
        }
        for generation in retiring where !generation.hasWorkers { ended(generation) }
        retiring.removeAll { !$0.hasWorkers }
        advanceHandover(now: now)
        respawnDue(now: now)
        if draining { stopCoordinatorOnceWorkersStopped() }
        if draining && allChildrenGone { finished = true }
    }

    /// The coordinator writes the quota journal a last time when it stops, so it is asked to
    /// stop only once no worker is left to count.
    func stopCoordinatorOnceWorkersStopped() {
        guard !coordinatorStopped, coordinator.pid > 0, !generations.contains(where: \.hasWorkers) else { return }
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
        let generation = current!
        for slot in generation.workers.indices
        where generation.workers[slot].pid == 0 && generation.workers[slot].respawnAt >= 0
            && generation.workers[slot].respawnAt <= now {
            generation.workers[slot].restarts += 1
            do {
                try openListeners(slot: slot)
                try forkWorker(generation, slot: slot, now: now)
            } catch {
                StandardError.write("sluice: cannot fork worker \(slot): \(error)")
                generation.workers[slot].respawnAt = now + Supervisor.quickDeathNanoseconds
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

    /// Takes a slot's sockets out of the SO_REUSEPORT group while its worker backs off: the
    /// kernel then spreads new connections over the other workers' sockets. Connections already
    /// queued on them are reset (or, with `net.ipv4.tcp_migrate_req=1`, moved to another socket
    /// of the group by the kernel) rather than waiting out the backoff.
    func closeListeners(slot: Int) {
        // With no other slot serving, the sockets stay: the connections wait for the restart.
        guard (0..<slotCount).contains(where: { $0 != slot && listeners[$0].allSatisfy { $0 >= 0 } }) else { return }
        for position in listeners[slot].indices where listeners[slot][position] >= 0 {
            Socket.close(listeners[slot][position])
            listeners[slot][position] = -1
        }
    }

    /// Binds a slot's sockets again (after `closeListeners`), before its worker is forked.
    func openListeners(slot: Int) throws(SystemError) {
        for position in listeners[slot].indices where listeners[slot][position] < 0 {
            let address = listenAddresses[position]
            listeners[slot][position] = try Socket.listen(host: address.host, port: address.port, reusePort: true)
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
        // Earlier generations past their drain timeout (plus a grace second for the workers' own
        // deadline) are stopped outright.
        for generation in retiring where now >= generation.killAt {
            for child in generation.workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.kill) }
        }
        advanceHandover(now: now)
        if pendingReload && handover == nil && freeLane() != nil {
            pendingReload = false
            _ = reload(trigger: "reload (waited for the running generations)")
        }
        if stopRequested && !draining && now >= drainBeginsAt { beginDrain() }
        if draining && now >= drainDeadline {
            // Past the drain timeout (plus a grace second for the workers' own deadline); the
            // coordinator gets one more second for its last write.
            for generation in generations {
                for child in generation.workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.kill) }
            }
            if now >= drainDeadline + Supervisor.quickDeathNanoseconds {
                for pid in [coordinator.pid] + retiredCoordinators where pid > 0 { Process.signal(pid, SignalNumber.kill) }
            }
        }
        if !finished { ring.timeout(nanoseconds: Supervisor.tickNanoseconds, userData: SupervisorToken.tick.rawValue) }
    }

    var allChildrenGone: Bool {
        coordinator.pid == 0 && retiredCoordinators.isEmpty && !generations.contains(where: \.hasWorkers)
    }

    /// A stop: the health checks fail at once, so that a load balancer stops sending; the
    /// gateway goes on serving for `drain_delay_ms`, then drains. A second stop while it waits
    /// drains at once.
    func requestStop() {
        let delay = current.deployment.drainDelayMilliseconds
        guard !stopRequested, delay > 0 else {
            stopRequested = true
            beginDrain()
            return
        }
        stopRequested = true
        drainBeginsAt = Clock.monotonicCoarseNanoseconds() + Int64(delay) * 1_000_000
        StandardError.write("sluice: stopping: /healthz and /readyz answer 503; serving for \(delay) ms more, then draining")
    }

    /// Whether the worker in `slot` serves: it runs, and is not dying as soon as it starts.
    func isServing(_ slot: Int, now: Int64) -> Bool {
        let child = current.workers[slot]
        return child.pid > 0 && (child.quickDeaths == 0 || now - child.startedAt >= Supervisor.quickDeathNanoseconds)
    }

    /// Liveness: some worker serves, and no stop was asked for.
    var isHealthy: Bool {
        let now = Clock.monotonicCoarseNanoseconds()
        return !stopRequested && !draining && (0..<slotCount).contains { isServing($0, now: now) }
    }

    /// Readiness: the configuration is loaded (it is, in a running supervisor), every worker
    /// serves, and no stop was asked for.
    var isReady: Bool {
        let now = Clock.monotonicCoarseNanoseconds()
        return !stopRequested && !draining && (0..<slotCount).allSatisfy { isServing($0, now: now) }
    }

    func beginDrain() {
        guard !draining else { return }
        draining = true
        pendingReload = false
        if let old = handover {
            // The reload under way is dropped; every generation drains.
            handover = nil
            retire(old, now: Clock.monotonicCoarseNanoseconds())
            admin.answerReloads(status: 400, body: #"{"reloaded":false,"errors":["the gateway is stopping"]}"#)
        }
        StandardError.write("sluice: draining")
        // New connections are refused from now on; the workers close their copies too.
        for fd in listeners.joined() where fd >= 0 { Socket.close(fd) }
        drainDeadline = Clock.monotonicCoarseNanoseconds() + Int64(current.deployment.drainTimeoutMilliseconds) * 1_000_000
            + Supervisor.quickDeathNanoseconds
        for generation in generations {
            for child in generation.workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.terminate) }
        }
        stopCoordinatorOnceWorkersStopped()
        if allChildrenGone { finished = true }
    }

    /// The supervisor cannot go on (its ring failed): everything stops at once, and the quota
    /// counts are written as they are.
    func stopEverything() {
        for generation in generations {
            for child in generation.workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.kill) }
        }
        if coordinator.pid > 0 { Process.signal(coordinator.pid, SignalNumber.kill) }
        saveJournal()
    }

    // MARK: Admin

    /// `DELETE /admin/cache/{api}/{stage}` (API Gateway's FlushStageCache): every entry of the
    /// stage's cache stops matching at once, in every worker.
    func flushCache(path: Substring) -> AdminUsage.Answer {
        let deployment = current.deployment
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let api = PercentDecoding.decode(parts[0]), let stageName = PercentDecoding.decode(parts[1]),
              let stage = deployment.stages.indices.first(where: {
                  deployment.stages[$0].canaryOf < 0 && deployment.stages[$0].name == stageName
                      && deployment.apis[deployment.stages[$0].api].name == api
              }) else {
            return AdminUsage.Answer(status: 404, body: #"{"message":"no such stage: write /admin/cache/{api}/{stage}"}"#)
        }
        guard let zones = current.caches[stage] else {
            return AdminUsage.Answer(status: 404, body: #"{"message":"the stage has no cache"}"#)
        }
        CacheIndex(zones: zones).flush()
        return AdminUsage.Answer(status: 202, body: #"{"message":"flushed"}"#)
    }

    static let reloadResultLabels = [PrometheusLabels([("result", "applied")]), PrometheusLabels([("result", "refused")])]

    /// Writes the `/metrics` page into `metricsPage`.
    func writeMetricsPage() {
        let generation = current!
        for slot in slotFacts.indices {
            slotFacts[slot].restarts = generation.workers[slot].restarts
            slotFacts[slot].up = generation.workers[slot].pid > 0
        }
        metricsPage.clear()
        counters.write(to: &metricsPage, slots: slotFacts, labels: slotLabels, draining: draining)
        tlsCounters?.write(to: &metricsPage, slots: slotFacts, labels: slotLabels)
        generation.stageMetrics.requests.write(to: &metricsPage, labels: generation.stageLabels)
        generation.stageMetrics.latencies.write(to: &metricsPage, labels: generation.stageLabels)
        generation.rejections.write(to: &metricsPage, labels: generation.rejectionLabels)
        generation.stageMetrics.cache.write(to: &metricsPage, labels: generation.stageCacheLabels)
        if !generation.methodLabels.isEmpty {
            generation.methodMetrics.requests.write(to: &metricsPage, labels: generation.methodLabels)
            generation.methodMetrics.latencies.write(to: &metricsPage, labels: generation.methodLabels)
            generation.methodMetrics.cache.write(to: &metricsPage, labels: generation.methodCacheLabels)
        }
        metricsPage.family("sluice_build_info", type: "gauge", help: "The build serving: its version, commit and Swift.")
        metricsPage.sample("sluice_build_info", buildLabels, value: 1)
        metricsPage.family("sluice_coordinator_restarts_total", type: "counter",
                           help: "Times the supervisor forked the coordinator again.")
        metricsPage.sample("sluice_coordinator_restarts_total", value: coordinator.restarts)
        metricsPage.family("sluice_config_generation", type: "gauge",
                           help: "The generation of the configuration in force: 1 at start, one more per applied reload.")
        metricsPage.sample("sluice_config_generation", value: UInt64(generation.number))
        metricsPage.family("sluice_config_loaded_timestamp_seconds", type: "gauge",
                           help: "When the configuration in force was loaded.")
        metricsPage.sample("sluice_config_loaded_timestamp_seconds", value: UInt64(max(0, generation.loadedEpochSeconds)))
        metricsPage.family("sluice_config_reloads_total", type: "counter",
                           help: "Reloads (SIGHUP, POST /admin/reload), by result.")
        metricsPage.sample("sluice_config_reloads_total", Supervisor.reloadResultLabels[0], value: appliedReloads)
        metricsPage.sample("sluice_config_reloads_total", Supervisor.reloadResultLabels[1], value: refusedReloads)
        metricsPage.family("sluice_config_last_reload_successful", type: "gauge",
                           help: "0 when the last reload was refused (the configuration in force is the one before it).")
        metricsPage.sample("sluice_config_last_reload_successful", value: lastReloadApplied ? 1 : 0)
        metricsPage.family("sluice_quota_journal_unreadable_total", type: "counter",
                           help: "Quota journals found corrupt or unreadable at start, kept aside (counts began from 0).")
        metricsPage.sample("sluice_quota_journal_unreadable_total", value: unreadableJournals)
        metricsPage.family("sluice_supervisor_log_write_failures_total", type: "counter",
                           help: "Log lines the supervisor could not write to stderr (its reader gone, a full disk), dropped.")
        metricsPage.sample("sluice_supervisor_log_write_failures_total", value: StandardError.failedWrites)
        metricsPage.family("sluice_generations_draining", type: "gauge",
                           help: "Earlier configuration generations whose workers are still finishing requests.")
        metricsPage.sample("sluice_generations_draining", value: UInt64(retiring.count))
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
