import Atomics

/// A ring of bytes in a zone that every process may write, for values larger than a word (the
/// response cache's entries). Writers reserve contiguous space by compare-and-swap on one
/// position word, which only grows: space is reused in the order it was reserved, so the oldest
/// bytes are the ones overwritten. Nobody waits for anybody: a reader copies bytes out and then
/// checks that no later reservation has reached them; if one has, what it copied is discarded.
/// A writer killed halfway leaves only reserved bytes that nothing points to.
public final class ByteArena: @unchecked Sendable {
    public static let magic: UInt64 = 0x534C_4355_4152_4E41  // "SLCUARNA"
    /// The position word sits alone on its cache line before the bytes.
    static let bytesOffset = 64

    public let capacity: Int
    @usableFromInline let zone: Zone
    @usableFromInline let bytes: UnsafeMutablePointer<UInt8>

    public init(name: String, capacity: Int) throws(ZoneError) {
        precondition(capacity > 0)
        self.capacity = capacity
        zone = try Zone(name: name, magic: ByteArena.magic, layoutVersion: 1,
                        payloadBytes: ByteArena.bytesOffset + capacity)
        bytes = (zone.base + Zone.headerBytes + ByteArena.bytesOffset).assumingMemoryBound(to: UInt8.self)
    }

    /// How far reservations have reached: the next position to reserve.
    public var head: UInt64 { zone.word(0).load(ordering: .acquiring) }

    /// Reserves `count` contiguous bytes and returns their position (which only grows, and maps to
    /// offset `position % capacity`); nil when `count` is more than the whole arena. Space that
    /// would wrap around the end is skipped.
    public func reserve(_ count: Int) -> UInt64? {
        guard count > 0, count <= capacity else { return nil }
        let size = UInt64(capacity)
        var head = zone.word(0).load(ordering: .relaxed)
        while true {
            var start = head
            let offset = Int(start % size)
            if offset + count > capacity { start += size - UInt64(offset) }
            let result = zone.word(0).weakCompareExchange(expected: head, desired: start + UInt64(count),
                                                          ordering: .acquiringAndReleasing)
            if result.exchanged { return start }
            head = result.original
        }
    }

    /// Copies `source` into reserved space at `position + offset`.
    public func write(_ source: Span<UInt8>, at position: UInt64, offset: Int) {
        let start = Int(position % UInt64(capacity)) + offset
        precondition(offset >= 0 && start + source.count <= capacity)
        source.withUnsafeBufferPointer { buffer in
            if let address = buffer.baseAddress { (bytes + start).update(from: address, count: buffer.count) }
        }
    }

    /// Whether the bytes reserved at `position` are as they were written: no reservation made
    /// since has come round to them (the first byte to be reused is the one at `position`).
    @inlinable
    public func isIntact(_ position: UInt64) -> Bool {
        atomicMemoryFence(ordering: .acquiring)
        return zone.word(0).load(ordering: .relaxed) <= position + UInt64(capacity)
    }

    /// Lends `range` of the bytes at `position` to `body`, then checks they were intact while it
    /// read them: nil when they were not, and whatever `body` made of them must be dropped.
    @inlinable
    public func withBytes<R>(at position: UInt64, range: Range<Int>, _ body: (Span<UInt8>) -> R) -> R? {
        let start = Int(position % UInt64(capacity)) + range.lowerBound
        guard range.lowerBound >= 0, start + range.count <= capacity,
              zone.word(0).load(ordering: .acquiring) <= position + UInt64(capacity) else { return nil }
        let result = body(UnsafeBufferPointer(start: bytes + start, count: range.count).span)
        return isIntact(position) ? result : nil
    }
}
