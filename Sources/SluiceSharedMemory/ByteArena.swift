import Atomics

/// A ring of bytes in a zone that every process may write, for values larger than a word (the
/// response cache's entries). Writers reserve contiguous space by compare-and-swap on one
/// position word, which only grows: space is reused in the order it was reserved, so the oldest
/// bytes are the ones overwritten. Nobody waits for anybody: a reader copies bytes out and then
/// checks that no later reservation has reached them; if one has, what it copied is discarded.
///
/// Each writer (a worker slot) announces where it is writing before it reserves, and nobody
/// reserves a whole lap past a write in progress: a writer that is descheduled halfway through
/// its copy cannot land its late bytes on newer entries. A writer killed halfway leaves reserved
/// bytes that nothing points to, and its announcement is cleared when its slot is forked again.
public final class ByteArena: @unchecked Sendable {
    public static let magic: UInt64 = 0x534C_4355_4152_4E41  // "SLCUARNA"

    public let capacity: Int
    public let writerCount: Int
    /// Bytes before the ring: the position word, then one word per writer, in whole cache lines.
    let bytesOffset: Int
    @usableFromInline let zone: Zone
    @usableFromInline let bytes: UnsafeMutablePointer<UInt8>

    public init(name: String, capacity: Int, writers: Int) throws(ZoneError) {
        precondition(capacity > 0 && writers > 0)
        self.capacity = capacity
        writerCount = writers
        bytesOffset = (1 + writers + 7) / 8 * 64
        zone = try Zone(name: name, magic: ByteArena.magic, layoutVersion: 2, payloadBytes: bytesOffset + capacity)
        bytes = (zone.base + Zone.headerBytes + bytesOffset).assumingMemoryBound(to: UInt8.self)
    }

    /// How far reservations have reached: the next position to reserve.
    public var head: UInt64 { zone.word(0).load(ordering: .acquiring) }

    /// Reserves `count` contiguous bytes for `writer` and returns their position (which only
    /// grows, and maps to offset `position % capacity`); nil when `count` is more than the whole
    /// arena, or when the space would reach a lap past another writer's write in progress. Space
    /// that would wrap around the end is skipped. The writer must `finish` when it has written.
    public func reserve(_ count: Int, writer: Int) -> UInt64? {
        precondition(writer >= 0 && writer < writerCount)
        guard count > 0, count <= capacity else { return nil }
        let size = UInt64(capacity)
        let announcement = zone.word(1 + writer)
        var head = zone.word(0).load(ordering: .acquiring)
        while true {
            // Announced first (as a lower bound of where this writer will write), so that no
            // other writer can lap it between its reservation and its announcement.
            announcement.store(head + 1, ordering: .sequentiallyConsistent)
            var start = head
            let offset = Int(start % size)
            if offset + count > capacity { start += size - UInt64(offset) }
            let end = start + UInt64(count)
            for other in 0..<writerCount where other != writer {
                let inProgress = zone.word(1 + other).load(ordering: .sequentiallyConsistent)
                if inProgress != 0 && end > inProgress - 1 + size {
                    announcement.store(0, ordering: .releasing)
                    return nil
                }
            }
            let result = zone.word(0).weakCompareExchange(expected: head, desired: end,
                                                          ordering: .sequentiallyConsistent)
            if result.exchanged {
                // The reservation is visible before any byte written into it.
                atomicMemoryFence(ordering: .releasing)
                return start
            }
            head = result.original
        }
    }

    /// Ends `writer`'s write: its space may be lapped again.
    public func finish(writer: Int) {
        zone.word(1 + writer).store(0, ordering: .releasing)
    }

    /// Clears the announcement of a writer that died (the supervisor, before it forks the slot
    /// again).
    public func clear(writer: Int) {
        zone.word(1 + writer).store(0, ordering: .sequentiallyConsistent)
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
