import Atomics

/// Documents one process publishes and every other reads: each slot holds the latest version of
/// one document (an issuer's signing keys) of at most `documentBytesMax` bytes, behind a
/// sequence lock. The publisher (one process at a time: the supervisor before it forks, then the
/// coordinator) bumps the sequence to odd, writes, and bumps it to even; a reader copies the
/// bytes and keeps them only if the sequence was even and unchanged around the copy. Readers
/// check a slot's version with one load, so they look often and copy rarely.
///
/// Any process may also ask for a slot to be published again soon (`requestRefresh`): a worker
/// that meets a token signed by a key it does not know.
public final class SharedDocuments: @unchecked Sendable {
    public static let magic: UInt64 = 0x534C_4355_444F_4353  // "SLCUDOCS"
    /// Words before each slot's bytes: sequence, length, refresh request; a cache line.
    static let headerWords = 8

    public let slotCount: Int
    public let documentBytesMax: Int
    let slotWords: Int
    let zone: Zone

    public init(name: String, slots: Int, documentBytesMax: Int) throws(ZoneError) {
        precondition(slots >= 0 && documentBytesMax > 0)
        slotCount = slots
        self.documentBytesMax = documentBytesMax
        slotWords = SharedDocuments.headerWords + (documentBytesMax + 7) / 8
        zone = try Zone(name: name, magic: SharedDocuments.magic, layoutVersion: 1,
                        payloadBytes: max(1, slots * slotWords) * 8)
    }

    @inline(__always)
    func base(_ slot: Int) -> Int {
        precondition(slot >= 0 && slot < slotCount)
        return slot * slotWords
    }

    /// The slot's version: 0 before anything was published, then even and growing.
    public func version(_ slot: Int) -> UInt64 {
        zone.word(base(slot)).load(ordering: .acquiring)
    }

    /// Publishes `bytes` (at most `documentBytesMax`) as the slot's new version. One publisher at
    /// a time.
    public func publish(_ slot: Int, _ bytes: [UInt8]) {
        precondition(bytes.count <= documentBytesMax)
        let start = base(slot)
        let sequence = zone.word(start)
        let begun = sequence.load(ordering: .relaxed) | 1
        sequence.store(begun, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        zone.word(start + 1).store(UInt64(bytes.count), ordering: .relaxed)
        let destination = zone.base.advanced(by: Zone.headerBytes + (start + SharedDocuments.headerWords) * 8)
        bytes.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        sequence.store(begun &+ 1, ordering: .releasing)
    }

    /// Copies the slot's latest complete version into `output`; returns its version, or nil when
    /// nothing was published yet or the publisher was writing (try again later).
    public func read(_ slot: Int, into output: inout [UInt8]) -> UInt64? {
        let start = base(slot)
        let sequence = zone.word(start)
        let before = sequence.load(ordering: .acquiring)
        guard before != 0, before & 1 == 0 else { return nil }
        let length = Int(zone.word(start + 1).load(ordering: .relaxed))
        guard length <= documentBytesMax else { return nil }
        let source = zone.base.advanced(by: Zone.headerBytes + (start + SharedDocuments.headerWords) * 8)
        output = length == 0 ? [] : [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: source, byteCount: length)
            count = length
        }
        atomicMemoryFence(ordering: .acquiring)
        return sequence.load(ordering: .relaxed) == before ? before : nil
    }

    /// Asks the publisher for a fresh version of the slot.
    public func requestRefresh(_ slot: Int) {
        zone.word(base(slot) + 2).store(1, ordering: .relaxed)
    }

    /// Whether a refresh was asked for since the last call (which clears the request).
    public func takeRefreshRequest(_ slot: Int) -> Bool {
        zone.word(base(slot) + 2).exchange(0, ordering: .relaxed) != 0
    }
}
