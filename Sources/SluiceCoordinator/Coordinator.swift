import SluiceConfig
import SluiceThrottle
import SluiceURing

/// The coordinator process: it keeps the quota counts durable. Each second it writes the
/// journal (`QuotaJournal`) when a count changed, and once more when the supervisor stops it;
/// it is forked again like a worker if it dies. Quota periods roll over by themselves: a
/// counter word holds the period it counts, and the first request of a new period starts it
/// again from 0 in the workers' own compare-and-swap.
public final class Coordinator {
    static let flushNanoseconds: Int64 = 1_000_000_000
    static let signalToken: UInt64 = 1
    static let tickToken: UInt64 = 2

    let journal: QuotaJournal
    let quotas: QuotaCounters
    /// The journal last written (or restored), so that an unchanged second writes nothing.
    var written: [UInt8] = []
    /// A failing write is reported once until a write succeeds again.
    var failing = false

    public init(deployment: Deployment, gate: Gate) {
        journal = QuotaJournal(deployment: deployment, plan: gate.plan)
        quotas = gate.quotas
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public func run() -> Int32 {
        do {
            let signalFD = try Signals.makeSignalFD([SignalNumber.terminate, SignalNumber.interrupt])
            let ring = try Ring(entries: 8)
            let buffer = try ByteSlab(slotCount: 1, slotBytes: max(Signals.recordBytes, 128))
            ring.read(fileDescriptor: signalFD, slab: buffer, slot: 0, range: 0..<Signals.recordBytes,
                      userData: Coordinator.signalToken)
            let keepsJournal = journal.isNeeded
            if keepsJournal {
                written = journal.encode(quotas)
                ring.timeout(nanoseconds: Coordinator.flushNanoseconds, userData: Coordinator.tickToken)
            }
            while true {
                try ring.submitAndReap()
                for completion in ring.completions {
                    switch completion.userData {
                    case Coordinator.signalToken:
                        if completion.result > 0 {
                            if keepsJournal { flush() }
                            return 0
                        }
                        ring.read(fileDescriptor: signalFD, slab: buffer, slot: 0, range: 0..<Signals.recordBytes,
                                  userData: Coordinator.signalToken)
                    case Coordinator.tickToken:
                        flush()
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
            if !failing { StandardError.write("sluice-coord: cannot write the quota journal: \(error); retrying each second") }
            failing = true
        }
    }
}
