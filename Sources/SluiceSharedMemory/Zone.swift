import Atomics
import CSluiceLinux
import Glibc

/// A shared-memory zone: one `MAP_SHARED` mapping made by the supervisor before it forks, so that
/// every worker, the coordinator and any worker forked again later see the same bytes. It starts
/// with a header (magic, layout version, size) and holds only plain fixed-size values — never
/// Swift references or pointers, which mean nothing in another process.
public final class Zone: @unchecked Sendable {
    /// Bytes reserved for the header at the start of every zone.
    public static let headerBytes = 64

    public let name: String
    public let byteCount: Int
    @usableFromInline let base: UnsafeMutableRawPointer

    /// Maps a new zone of `payloadBytes` after the header and writes the header.
    public init(name: String, magic: UInt64, layoutVersion: UInt32, payloadBytes: Int) throws(ZoneError) {
        precondition(payloadBytes >= 0)
        self.name = name
        byteCount = Zone.headerBytes + payloadBytes
        guard let mapped = sluice_map_shared(byteCount) else {
            throw ZoneError.mapFailed(name: name, errno: errno)
        }
        base = mapped
        base.storeBytes(of: magic, toByteOffset: 0, as: UInt64.self)
        base.storeBytes(of: layoutVersion, toByteOffset: 8, as: UInt32.self)
        base.storeBytes(of: UInt64(byteCount), toByteOffset: 16, as: UInt64.self)
    }

    deinit {
        sluice_unmap(base, byteCount)
    }

    public var magic: UInt64 { base.load(fromByteOffset: 0, as: UInt64.self) }
    public var layoutVersion: UInt32 { base.load(fromByteOffset: 8, as: UInt32.self) }
    public var recordedByteCount: Int { Int(base.load(fromByteOffset: 16, as: UInt64.self)) }

    /// Whether the header says this zone holds `magic` in `layoutVersion` at this size; a zone
    /// kept across a reload is re-attached only when it does.
    public func matches(magic: UInt64, layoutVersion: UInt32) -> Bool {
        self.magic == magic && self.layoutVersion == layoutVersion && recordedByteCount == byteCount
    }

    /// The payload's address, for an unsafe module that hands the zone to C (SluiceTLS's
    /// session-ticket keys). Valid as long as the zone lives, in every process that inherited it.
    public var payloadAddress: UnsafeMutableRawPointer { base.advanced(by: Zone.headerBytes) }

    /// An atomic view of the 64-bit word at `wordIndex` of the payload.
    @inlinable
    func word(_ wordIndex: Int) -> UnsafeAtomic<UInt64> {
        let address = base.advanced(by: Zone.headerBytes + wordIndex * 8)
        return UnsafeAtomic(at: address.assumingMemoryBound(to: UInt64.AtomicRepresentation.self))
    }
}

public enum ZoneError: Error, CustomStringConvertible, Equatable {
    case mapFailed(name: String, errno: Int32)

    public var description: String {
        switch self {
        case .mapFailed(let name, let errno):
            "cannot map shared-memory zone \(name): \(String(cString: strerror(errno)))"
        }
    }
}
