import SluiceConfig
import SluiceCoordinator
import SluiceThrottle
import SluiceURing

/// Reload (SIGHUP, `POST /admin/reload`): the configuration is loaded and compiled again; if it
/// has errors, the one in force goes on serving and the errors are reported. Otherwise a new
/// generation of workers starts on the same listening sockets (never closed, so no queued
/// connection is lost). Once every new worker has its accept armed, the old generation drains:
/// it stops accepting, answers the requests it has (the next answer on each keep-alive
/// connection says `Connection: close`) and exits by its drain timeout, and the coordinator is
/// started again with the new configuration. Should a new worker die before it accepts, or not
/// be accepting within `handoverNanosecondsMax`, the reload is undone: the old generation never
/// stopped serving.
extension Supervisor {
    static let handoverNanosecondsMax: Int64 = 4_000_000_000

    enum ReloadOutcome {
        /// The new generation is starting; the outcome is known at the end of the handover.
        case starting(generation: Int)
        /// Every lane holds a generation still running, or a handover is under way: applied as
        /// soon as that is over.
        case pending
        case refused([String])
    }

    /// Reloads now; `trigger` says what asked, for the log. `changes`: the admin endpoints'
    /// changes to stages to load with (nil: those in force).
    func reload(trigger: String, changes: StageChanges? = nil) -> ReloadOutcome {
        let outcome = attemptReload(trigger: trigger, changes: changes)
        switch outcome {
        case .starting(let number):
            StandardError.write("sluice: \(trigger): generation \(number) (deployment \(current.deployment.id)) "
                                + "starting; generation \(handover?.number ?? 0) serves until it accepts")
        case .pending where changes != nil:
            break
        case .pending:
            pendingReload = true
            StandardError.write("sluice: \(trigger): the reload waits for the running generations "
                                + "(a handover, or \(Generation.lanes) draining) to finish")
        case .refused(let problems):
            refused(problems, trigger: trigger)
        }
        return outcome
    }

    func refused(_ problems: [String], trigger: String) {
        refusedReloads += 1
        lastReloadApplied = false
        for problem in problems { StandardError.write("sluice: \(trigger): \(problem)") }
        StandardError.write("sluice: \(trigger): reload refused; still serving generation \(current.number)")
        // Those waiting for a handover under way get its outcome, not this one's.
        guard handover == nil else { return }
        admin.answerReloads(status: 400, body: #"{"reloaded":false,"generation":\#(current.number),"errors":["#
                            + problems.map(AdminUsage.json).joined(separator: ",") + "]}")
    }

    func attemptReload(trigger: String, changes requested: StageChanges?) -> ReloadOutcome {
        guard !stopRequested && !draining else { return .refused(["the gateway is stopping"]) }
        guard let reloader else { return .refused(["this gateway cannot load its configuration again"]) }
        // (A stage change is not queued: `stageAnswer` says to try again.)
        guard handover == nil, let lane = freeLane() else { return .pending }
        var changes = requested ?? stageChanges
        var result = reloader(changes.overrides)
        if requested == nil, !changes.overrides.isEmpty {
            // New files are a new deployment, which replaces what the admin endpoints set (also
            // when the files no longer load with those changes).
            var plain: LoadResult?
            if result.deployment == nil { plain = reloader([]) }
            if let id = result.deployment?.id ?? plain?.deployment?.id, id != changes.base {
                StandardError.write("sluice: \(trigger): the configuration's files changed: the admin changes to "
                                    + "\(changes.overrides.count) stage(s) no longer apply")
                changes = StageChanges()
                result = plain ?? reloader([])
            }
        }
        if requested != nil, let loaded = result.deployment, loaded.id != current.deployment.id {
            // A stage change is made on what is served, not on files edited since.
            return .refused(["the configuration's files changed since the last reload: reload them first, then "
                             + "change the stage"])
        }
        var problems = result.diagnostics.map(\.description)
        guard let deployment = result.deployment else { return .refused(problems) }
        guard !strict || result.warnings.isEmpty else {
            return .refused(problems + ["--strict: the configuration has warnings"])
        }
        problems = result.warnings.map(\.description)
        for warning in problems { StandardError.write("sluice: reload: \(warning)") }
        if let change = restartOnlyChange(to: deployment) { return .refused([change]) }
        if let refusal = MemoryPlan(deployment).refusal(memoryBytes: SystemServices.memoryBytes()) {
            return .refused([refusal])
        }
        do {
            try Supervisor.checkAccessLogs(deployment)
            try Supervisor.checkRings(deployment)
        } catch {
            return .refused(["\(error)"])
        }
        let generation: Generation
        do {
            generation = try Generation(number: current.number + 1, lane: lane, deployment: deployment, previous: current)
        } catch {
            return .refused(["cannot map the new configuration's shared memory: \(error)"])
        }
        guard metricsPageBytesMax(generation) <= metricsPageCapacity else {
            return .refused(["the new configuration's /metrics page could outgrow the admin listener's buffers; "
                             + "restart to apply it"])
        }
        changes.base = deployment.id
        handoverChanges = changes
        handoverInputs = result.inputs
        handoverTrigger = trigger
        begin(generation)
        return .starting(generation: generation.number)
    }

    /// What a reload cannot change, because the supervisor made it once at start: the listening
    /// sockets (their addresses, and which are TLS), the admin listener, the number of workers,
    /// and `state_dir` (the journal the coordinator keeps).
    func restartOnlyChange(to deployment: Deployment) -> String? {
        let old = current.deployment
        if deployment.workers.slots.count != slotCount {
            return "workers: \(deployment.workers.slots.count) instead of \(slotCount); restart to apply it"
        }
        if deployment.listeners.map(\.address) != old.listeners.map(\.address)
            || deployment.listeners.map(\.scheme) != old.listeners.map(\.scheme) {
            return "listen: the listeners changed (addresses or TLS); restart to apply it"
        }
        if deployment.admin != old.admin { return "admin: the admin address changed; restart to apply it" }
        if deployment.stateDirectory != old.stateDirectory { return "state_dir changed; restart to apply it" }
        if stateFolder == nil && (deployment.stateDirectoryConfigured || QuotaJournal(
            deployment: deployment, plan: ThrottlePlan(deployment: deployment)).isNeeded) {
            return "state_dir: the new configuration needs the state folder (written, or a quota), which is locked and "
                + "checked at start; restart to apply it"
        }
        return nil
    }

    /// A lane no generation with workers uses.
    func freeLane() -> Int? {
        let used = Set(generations.map(\.lane))
        return (0..<Generation.lanes).first { !used.contains($0) }
    }

    /// Starts `generation`'s workers next to the old generation's, which go on serving until
    /// every new one accepts (`advanceHandover`).
    func begin(_ generation: Generation) {
        let old = current!
        let now = Clock.monotonicCoarseNanoseconds()
        handover = old
        handoverDeadline = now + Supervisor.handoverNanosecondsMax
        current = generation
        setSlotLabels()
        for slot in 0..<slotCount {
            generation.workers[slot].restarts = old.workers[slot].restarts
            counters.set(slot: generation.writer(slot), .accepting, 0)
            do {
                try openListeners(slot: slot)
                try forkWorker(generation, slot: slot, now: now)
            } catch {
                StandardError.write("sluice: cannot fork worker \(slot): \(error)")
                undoHandover(because: "worker \(slot) could not be forked (\(error))")
                return
            }
        }
    }

    /// During a handover: retires the old generation once every new worker accepts, or undoes
    /// the reload when a new worker died or the time is up.
    func advanceHandover(now: Int64) {
        guard let old = handover else { return }
        let generation = current!
        if let slot = generation.workers.indices.first(where: { generation.workers[$0].pid == 0 }) {
            undoHandover(because: "worker \(slot) of the new configuration exited as it started")
            return
        }
        let accepting = (0..<slotCount).allSatisfy { counters.load(slot: generation.writer($0), .accepting) == 1 }
        guard accepting else {
            if now >= handoverDeadline {
                undoHandover(because: "the new workers were not accepting within "
                             + "\(Supervisor.handoverNanosecondsMax / 1_000_000_000) s")
            }
            return
        }
        handover = nil
        // Its quota counts were carried into new counters: what it counts from now on is added
        // when it has ended (`ended`).
        old.quotaHandover = generation.carriedQuotas
        retire(old, now: now)
        // The old coordinator writes the journal once more as it stops; the new one writes the
        // new configuration's counts from its first tick.
        if coordinator.pid > 0 {
            Process.signal(coordinator.pid, SignalNumber.terminate)
            retiredCoordinators.append(coordinator.pid)
        }
        coordinator.pid = 0
        do {
            try forkCoordinator(now: now)
        } catch {
            StandardError.write("sluice: cannot fork the coordinator: \(error)")
            coordinator.respawnAt = now + Supervisor.quickDeathNanoseconds
        }
        appliedReloads += 1
        lastReloadApplied = true
        stageChanges = handoverChanges
        saveStageChanges()
        history.keep = generation.deployment.deploymentHistory
        if generation.deployment.id != old.deployment.id || history.record(id: generation.deployment.id) == nil,
           let problem = history.add(generation.deployment, inputs: handoverInputs, description: handoverTrigger) {
            StandardError.write("sluice: warning: \(problem)")
        }
        handoverInputs = []
        StandardError.write("sluice: reloaded: generation \(generation.number), deployment \(generation.deployment.id)")
        logServed(generation.deployment)
        admin.answerReloads(status: 200, body: #"{"reloaded":true,"generation":\#(generation.number),"deploymentId":"#
                            + AdminUsage.json(generation.deployment.id) + "}")
    }

    /// The new generation did not take over: it is sent to drain (whatever it accepted is
    /// answered) and the old one, which never stopped, is in force again.
    func undoHandover(because reason: String) {
        guard let old = handover else { return }
        let failed = current!
        handover = nil
        current = old
        // Its workers that died meanwhile start again.
        let now = Clock.monotonicCoarseNanoseconds()
        for slot in old.workers.indices where old.workers[slot].pid == 0 && old.workers[slot].respawnAt < 0 {
            old.workers[slot].respawnAt = now
        }
        setSlotLabels()
        retire(failed, now: Clock.monotonicCoarseNanoseconds())
        refused([reason], trigger: "reload")
    }

    /// Sends a generation's workers to drain; it is dropped once they have exited.
    func retire(_ generation: Generation, now: Int64) {
        generation.killAt = now + Int64(generation.deployment.drainTimeoutMilliseconds) * 1_000_000
            + Supervisor.quickDeathNanoseconds
        for child in generation.workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.terminate) }
        retiring.append(generation)
    }

    /// A retired generation's last worker has exited: what it counted against quotas after its
    /// counts were carried into new counters is added to the generation in force.
    func ended(_ generation: Generation) {
        guard let handover = generation.quotaHandover else { return }
        current.journal.addCounted(after: handover, upTo: generation.journal.entries(generation.gate.quotas),
                                   into: current.gate.quotas)
    }

    /// `POST /admin/reload`: answered when the outcome is known — 200 with the generation now in
    /// force, 400 with the problems when it was refused or undone (the old configuration still
    /// serves), 202 when it waits for running generations. Nil: the answer comes later.
    func reloadAnswer() -> AdminUsage.Answer? {
        switch reload(trigger: "POST /admin/reload") {
        case .starting:
            return nil
        case .pending:
            return AdminUsage.Answer(status: 202, body: #"{"reloaded":false,"pending":true,"generation":\#(current.number)}"#)
        case .refused:
            return nil  // answered by `refused`, with every waiting request
        }
    }
}
