import SluiceConfig
import SluiceThrottle
import SluiceURing

/// The coordinator process: it keeps the quota counts durable. Every half second it writes the
/// journal (`QuotaJournal`) when a count changed, and once more when the supervisor stops it —
/// which the supervisor does only after the last worker has stopped counting. It is forked again
/// like a worker if it dies. Should the supervisor die instead, the workers drain on their own
/// (their parent-death signal), and the coordinator goes on writing until they can have finished. Quota periods roll over by themselves: a
/// counter word holds the period it counts, and the first request of a new period starts it
/// again from 0 in the workers' own compare-and-swap.
public final class Coordinator {
    /// Half a second, so that with the time a write takes, at most a second of counts is lost
    /// to `kill -9`.
    static let flushNanoseconds: Int64 = 500_000_000
    static let signalToken: UInt64 = 1
    static let tickToken: UInt64 = 2

    let journal: QuotaJournal
    let quotas: QuotaCounters
    let supervisor: Int32
    /// How long workers may drain after the supervisor is gone: drain_timeout_ms plus a second.
    let orphanedNanoseconds: Int64
    /// The journal last written, so that an unchanged interval writes nothing. Empty at start: a
    /// coordinator started again after a crash writes what its predecessor may not have.
    var written: [UInt8] = []
    /// A failing write is reported once until a write succeeds again.
    var failing = false

    /// The issuers' signing keys, refreshed on each tick (nil without `jwt_issuers`).
    let keys: KeyFetcher?

    public init(deployment: Deployment, gate: Gate, keys: KeyFetcher? = nil, supervisor: Int32) {
        self.keys = keys
        journal = QuotaJournal(deployment: deployment, plan: gate.plan)
        quotas = gate.quotas
        self.supervisor = supervisor
        orphanedNanoseconds = Int64(deployment.drainTimeoutMilliseconds) * 1_000_000 + 1_000_000_000
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public func run() -> Int32 {
        do {
            // SIGUSR1 (log rotation, maybe sent to every sluice process) is taken and ignored.
            let signalFD = try Signals.makeSignalFD([SignalNumber.terminate, SignalNumber.interrupt, SignalNumber.user1])
            let ring = try Ring(entries: 8)
            let buffer = try ByteSlab(slotCount: 1, slotBytes: max(Signals.recordBytes, 128))
            ring.read(fileDescriptor: signalFD, slab: buffer, slot: 0, range: 0..<Signals.recordBytes,
                      userData: Coordinator.signalToken)
            let keepsJournal = journal.isNeeded
            if keepsJournal || keys != nil {
                ring.timeout(nanoseconds: Coordinator.flushNanoseconds, userData: Coordinator.tickToken)
            }
            // Set when the supervisor is gone: write on until then, then stop.
            var stopAt: Int64 = -1
            while true {
                try ring.submitAndReap()
                for completion in ring.completions {
                    switch completion.userData {
                    case Coordinator.signalToken:
                        if completion.result > 0 && Signals.number(in: buffer) != SignalNumber.user1 {
                            if keepsJournal { flush() }
                            guard keepsJournal && Process.parentID != supervisor else { return 0 }
                            if stopAt < 0 { stopAt = Clock.monotonicCoarseNanoseconds() + orphanedNanoseconds }
                        }
                        ring.read(fileDescriptor: signalFD, slab: buffer, slot: 0, range: 0..<Signals.recordBytes,
                                  userData: Coordinator.signalToken)
                    case Coordinator.tickToken:
                        if keepsJournal { flush() }
                        keys?.tick(nowSeconds: Clock.monotonicCoarseNanoseconds() / 1_000_000_000)
                        if stopAt >= 0 && Clock.monotonicCoarseNanoseconds() >= stopAt { return 0 }
                        ring.timeout(nanoseconds: Coordinator.flushNanoseconds, userData: Coordinator.tickToken)
                    default:
                        break
                    }
                }
            }
        } catch {
            StandardError.write("sluice-coord: \(error)")
            return 1
        }
    }

    /// Writes the journal if a count changed since the last write.
    func flush() {
        let bytes = journal.encode(quotas)
        guard bytes != written else { return }
        do {
            try Files.replace(journal.path, with: bytes)
            written = bytes
            if failing { StandardError.write("sluice-coord: \(journal.path): written again") }
            failing = false
        } catch {
            if !failing { StandardError.write("sluice-coord: cannot write the quota journal: \(error); retrying every half second") }
            failing = true
        }
    }
}
