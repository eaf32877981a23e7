import CSluiceTLS
import SluiceSharedMemory

/// The session-ticket keys every worker issues and takes tickets with, in shared memory: a
/// session resumed on any worker, whichever worker began it. The supervisor makes them before it
/// forks and rotates them every `rotationSeconds`; a ticket stays good for two periods (made with
/// the current key, or the one before, which renews it).
public final class TLSTicketKeys: @unchecked Sendable {
    /// A key is current this long, then taken for as long again.
    public static let rotationSeconds: Int64 = 3_600
    static let magic: UInt64 = 0x534C_5449_434B_4554  // "SLTICKET"

    let zone: Zone
    var keys: UnsafeMutablePointer<sluice_ticket_keys> {
        zone.payloadAddress.assumingMemoryBound(to: sluice_ticket_keys.self)
    }

    public init() throws(TLSError) {
        do {
            zone = try Zone(name: "tls-tickets", magic: Self.magic, layoutVersion: 1,
                            payloadBytes: MemoryLayout<sluice_ticket_keys>.size)
        } catch {
            throw TLSError(error.description)
        }
        guard sluice_tls_init_ticket_keys(keys) == 0 else { throw TLSError("no randomness for session-ticket keys") }
    }

    /// Makes a new key current; false when no randomness was to be had (the keys stay).
    @discardableResult
    public func rotate() -> Bool {
        sluice_tls_rotate_ticket_keys(keys) == 0
    }
}
