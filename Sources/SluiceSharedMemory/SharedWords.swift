import Atomics

/// 64-bit words in a zone that every process may update, by compare-and-swap: state that must be
/// exact across workers without a lock, such as a throttle bucket's theoretical arrival time or a
/// quota's count. Words are packed: two workers contend on a word only when they update the same
/// bucket or counter, which is the point of sharing it.
public final class SharedWords: @unchecked Sendable {
    public static let magic: UInt64 = 0x534C_4355_5744_5253  // "SLCUWDRS"

    public let count: Int
    @usableFromInline let zone: Zone

    /// A zone of `count` words, all zero.
    public init(name: String, count: Int, layoutVersion: UInt32 = 1) throws(ZoneError) {
        precondition(count >= 0)
        self.count = count
        zone = try Zone(name: name, magic: SharedWords.magic, layoutVersion: layoutVersion,
                        payloadBytes: max(1, count) * 8)
    }

    @inlinable
    public func load(_ index: Int) -> UInt64 {
        precondition(index >= 0 && index < count)
        return zone.word(index).load(ordering: .relaxed)
    }

    /// Replaces word `index` with `desired` if it still holds `expected`. Returns whether it did,
    /// and the value it held.
    @inlinable
    public func compareExchange(_ index: Int, expected: UInt64, desired: UInt64) -> (exchanged: Bool, original: UInt64) {
        precondition(index >= 0 && index < count)
        return zone.word(index).weakCompareExchange(expected: expected, desired: desired, ordering: .relaxed)
    }

    /// Sets word `index` (restoring saved state, resetting a counter).
    public func store(_ index: Int, _ value: UInt64) {
        precondition(index >= 0 && index < count)
        zone.word(index).store(value, ordering: .relaxed)
    }

    /// Adds `amount` to word `index` (wrapping) and returns the new value.
    @discardableResult
    public func add(_ index: Int, _ amount: UInt64) -> UInt64 {
        precondition(index >= 0 && index < count)
        return zone.word(index).wrappingIncrementThenLoad(by: amount, ordering: .acquiringAndReleasing)
    }

    /// For sequence locks over several words: loads before this fence are done before loads
    /// after it.
    @inlinable
    public static func acquireFence() { atomicMemoryFence(ordering: .acquiring) }

    /// Stores before this fence are visible before stores after it.
    @inlinable
    public static func releaseFence() { atomicMemoryFence(ordering: .releasing) }
}
