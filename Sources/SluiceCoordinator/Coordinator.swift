import SluiceConfig
import SluiceURing

/// The coordinator process. Later it owns quotas: period roll-over and the durable journal in
/// `state_dir`. For now it starts, waits for the supervisor's SIGTERM and exits, and is forked
/// again like a worker if it dies.
public final class Coordinator {
    let deployment: Deployment

    public init(deployment: Deployment) {
        self.deployment = deployment
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public func run() -> Int32 {
        do {
            let signalFD = try Signals.makeSignalFD([SignalNumber.terminate, SignalNumber.interrupt])
            let ring = try Ring(entries: 8)
            let buffer = try ByteSlab(slotCount: 1, slotBytes: max(Signals.recordBytes, 128))
            ring.read(fileDescriptor: signalFD, slab: buffer, slot: 0, range: 0..<Signals.recordBytes, userData: 1)
            while true {
                try ring.submitAndReap()
                for completion in ring.completions where completion.userData == 1 {
                    if completion.result > 0 { return 0 }
                    ring.read(fileDescriptor: signalFD, slab: buffer, slot: 0, range: 0..<Signals.recordBytes, userData: 1)
                }
            }
        } catch {
            StandardError.write("sluice-coord: \(error)")
            return 1
        }
    }
}
