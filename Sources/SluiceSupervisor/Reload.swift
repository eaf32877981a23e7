import SluiceConfig
import SluiceURing

/// Reload (SIGHUP, `POST /admin/reload`): the configuration is loaded and compiled again; if it
/// has errors, the one in force goes on serving and the errors are reported. Otherwise a new
/// generation of workers starts on the same listening sockets (never closed, so no queued
/// connection is lost), and the old generation drains: it stops accepting, answers the requests
/// it has (the next answer on each keep-alive connection says `Connection: close`) and exits by
/// its drain timeout. The coordinator is started again with the new configuration.
extension Supervisor {
    enum ReloadOutcome {
        case applied(generation: Int, deploymentID: String)
        /// Every lane holds a generation still draining: applied as soon as one has finished.
        case pending
        case refused([String])
    }

    /// Reloads now; `trigger` says what asked, for the log.
    func reload(trigger: String) -> ReloadOutcome {
        let outcome = attemptReload()
        switch outcome {
        case .applied(let number, let id):
            appliedReloads += 1
            lastReloadApplied = true
            StandardError.write("sluice: \(trigger): reloaded: generation \(number), deployment \(id)")
        case .pending:
            pendingReload = true
            StandardError.write("sluice: \(trigger): \(Generation.lanes) generations are running; "
                                + "the reload waits for the oldest to finish draining")
        case .refused(let problems):
            refusedReloads += 1
            lastReloadApplied = false
            for problem in problems { StandardError.write("sluice: \(trigger): \(problem)") }
            StandardError.write("sluice: \(trigger): reload refused; still serving generation \(current.number)")
        }
        return outcome
    }

    func attemptReload() -> ReloadOutcome {
        guard !stopRequested && !draining else { return .refused(["the gateway is stopping"]) }
        guard let reloader else { return .refused(["this gateway cannot load its configuration again"]) }
        guard let lane = freeLane() else { return .pending }
        let result = reloader()
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
        replace(with: generation)
        return .applied(generation: generation.number, deploymentID: deployment.id)
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
        return nil
    }

    /// A lane no generation with workers uses.
    func freeLane() -> Int? {
        let used = Set(([current!] + retiring).map(\.lane))
        return (0..<Generation.lanes).first { !used.contains($0) }
    }

    /// Starts `generation`'s workers and coordinator, then sends the old generation to drain.
    func replace(with generation: Generation) {
        let old = current!
        let now = Clock.monotonicCoarseNanoseconds()
        current = generation
        setSlotLabels()
        for slot in 0..<slotCount {
            generation.workers[slot].restarts = old.workers[slot].restarts
            do {
                try openListeners(slot: slot)
                try forkWorker(generation, slot: slot, now: now)
            } catch {
                StandardError.write("sluice: cannot fork worker \(slot): \(error)")
                generation.workers[slot].respawnAt = now + Supervisor.quickDeathNanoseconds
            }
        }
        // The old workers stop accepting once the new ones are there; the connections queued on
        // the shared sockets meanwhile go to the new ones.
        old.killAt = now + Int64(old.deployment.drainTimeoutMilliseconds) * 1_000_000 + Supervisor.quickDeathNanoseconds
        for child in old.workers where child.pid > 0 { Process.signal(child.pid, SignalNumber.terminate) }
        if old.hasWorkers { retiring.append(old) }
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
        logServed(generation.deployment)
    }
}

extension Supervisor {
    /// `POST /admin/reload`: 200 with the generation now in force, 202 when the reload waits for
    /// a lane, 400 with the problems when it was refused (the old configuration still serves).
    func reloadAnswer() -> AdminUsage.Answer {
        switch reload(trigger: "POST /admin/reload") {
        case .applied(let number, let id):
            return AdminUsage.Answer(status: 200, body: #"{"reloaded":true,"generation":\#(number),"deploymentId":"#
                                     + AdminUsage.json(id) + "}")
        case .pending:
            return AdminUsage.Answer(status: 202, body: #"{"reloaded":false,"pending":true,"generation":\#(current.number)}"#)
        case .refused(let problems):
            return AdminUsage.Answer(status: 400, body: #"{"reloaded":false,"generation":\#(current.number),"errors":["#
                                     + problems.map(AdminUsage.json).joined(separator: ",") + "]}")
        }
    }
}
