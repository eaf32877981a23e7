import CSluiceLinux
import Glibc

/// `slotCount` fixed-size byte slots in one mapping that the kernel commits only when touched:
/// per-connection input carry-over and output buffers are sized once at start for the worker's
/// maximum connection count, yet cost memory only for connections that use them.
public final class ByteSlab {
    public let slotBytes: Int
    public let slotCount: Int
    @usableFromInline let base: UnsafeMutablePointer<UInt8>

    public init(slotCount: Int, slotBytes: Int) throws(SystemError) {
        precondition(slotCount > 0 && slotBytes > 0)
        self.slotCount = slotCount
        self.slotBytes = slotBytes
        guard let raw = sluice_map_lazy(slotCount * slotBytes) else {
            throw SystemError("mmap byte slab", errno: errno)
        }
        base = raw.bindMemory(to: UInt8.self, capacity: slotCount * slotBytes)
    }

    deinit {
        sluice_unmap(base, slotCount * slotBytes)
    }

    @usableFromInline func address(slot: Int, offset: Int) -> UnsafeMutablePointer<UInt8> {
        precondition(slot >= 0 && slot < slotCount && offset >= 0 && offset <= slotBytes)
        return base + slot * slotBytes + offset
    }

    /// Lends `range` of `slot` to `body`. The span must not escape.
    @inlinable
    public func withBytes<R>(slot: Int, range: Range<Int>, _ body: (Span<UInt8>) -> R) -> R {
        precondition(slot >= 0 && slot < slotCount && range.lowerBound >= 0 && range.upperBound <= slotBytes)
        let buffer = UnsafeBufferPointer(start: base + slot * slotBytes + range.lowerBound, count: range.count)
        return body(buffer.span)
    }

    /// Lets `body` append to `slot` from `offset` up to the end of the slot; returns what `body`
    /// returned and the number of bytes appended. Bytes that do not fit are dropped and
    /// `writer.overflowed` is set, so the caller can tell.
    @inlinable
    public func write<R>(slot: Int, offset: Int, _ body: (inout SlabWriter) -> R) -> (result: R, byteCount: Int, overflowed: Bool) {
        precondition(slot >= 0 && slot < slotCount && offset >= 0 && offset <= slotBytes)
        var writer = SlabWriter(start: base + slot * slotBytes + offset, capacity: slotBytes - offset)
        let result = body(&writer)
        return (result, writer.count, writer.overflowed)
    }

    /// Gives a slot's memory back to the kernel (its bytes read as zeros afterwards), for slots
    /// that are large and rarely filled. `slotBytes` must be a multiple of the page size.
    public func discard(slot: Int) {
        precondition(slot >= 0 && slot < slotCount && slotBytes % 4_096 == 0)
        _ = madvise(base + slot * slotBytes, slotBytes, MADV_DONTNEED)
    }

    /// Moves `range` of `slot` to `offset` of the same slot (the ranges may overlap).
    public func move(slot: Int, range: Range<Int>, to offset: Int) {
        precondition(range.lowerBound >= 0 && range.upperBound <= slotBytes && offset + range.count <= slotBytes)
        let start = base + slot * slotBytes
        memmove(start + offset, start + range.lowerBound, range.count)
    }

    /// Replaces `range` of the first `filled` bytes of `slot` with `bytes` (no longer than
    /// `range`), moving what follows to close the gap; returns the new filled count.
    public func replace(slot: Int, range: Range<Int>, filled: Int, with bytes: [UInt8]) -> Int {
        precondition(range.lowerBound >= 0 && range.upperBound <= filled && filled <= slotBytes
                     && bytes.count <= range.count)
        let start = base + slot * slotBytes
        bytes.withUnsafeBufferPointer { source in
            if let address = source.baseAddress { memcpy(start + range.lowerBound, address, source.count) }
        }
        memmove(start + range.lowerBound + bytes.count, start + range.upperBound, filled - range.upperBound)
        return filled - range.count + bytes.count
    }

    /// Copies bytes from another slot (possibly of another slab) into this one.
    public func copy(from source: ByteSlab, slot sourceSlot: Int, range: Range<Int>, toSlot slot: Int, offset: Int) {
        precondition(range.lowerBound >= 0 && range.upperBound <= source.slotBytes)
        copyIn(from: UnsafeRawPointer(source.address(slot: sourceSlot, offset: range.lowerBound)),
               byteCount: range.count, slot: slot, offset: offset)
    }

    /// Lends `range` of `slot` as raw memory, for a C library that reads or fills it in place
    /// (OpenSSL, in SluiceTLS). The pointer must not escape `body`.
    public func withUnsafeMutableBytes<R>(slot: Int, range: Range<Int>, _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        precondition(range.lowerBound >= 0 && range.upperBound <= slotBytes)
        return body(UnsafeMutableRawBufferPointer(start: address(slot: slot, offset: range.lowerBound), count: range.count))
    }

    /// A copy of `range` of `slot` (for a simulated ring, which keeps what was sent).
    func copyOut(slot: Int, range: Range<Int>) -> [UInt8] {
        precondition(range.lowerBound >= 0 && range.upperBound <= slotBytes)
        return Array(UnsafeBufferPointer(start: address(slot: slot, offset: range.lowerBound), count: range.count))
    }

    func copyIn(from source: UnsafeRawPointer, byteCount: Int, slot: Int, offset: Int) {
        precondition(offset >= 0 && offset + byteCount <= slotBytes)
        memcpy(address(slot: slot, offset: offset), source, byteCount)
    }
}

/// Appends bytes into a slot of a `ByteSlab`, bounds-checked: bytes past the end are dropped and
/// `overflowed` is set. Only `ByteSlab.write` creates one, for the duration of its closure.
public struct SlabWriter {
    @usableFromInline let start: UnsafeMutablePointer<UInt8>
    public let capacity: Int
    @usableFromInline var _count = 0
    public var count: Int { _count }
    @usableFromInline var _overflowed = false
    public var overflowed: Bool { _overflowed }

    @usableFromInline
    init(start: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.start = start
        self.capacity = capacity
    }

    @inlinable
    public var freeCapacity: Int { capacity - _count }

    /// Takes back what was appended after the first `count` bytes (a line that turned out to
    /// have nothing to say).
    @inlinable
    public mutating func truncate(to count: Int) {
        precondition(count >= 0 && count <= _count)
        _count = count
    }

    @inlinable
    public mutating func append(_ byte: UInt8) {
        guard _count < capacity else {
            _overflowed = true
            return
        }
        start[_count] = byte
        _count += 1
    }

    @inlinable
    public mutating func append(_ bytes: Span<UInt8>) {
        guard bytes.count <= capacity - _count else {
            _overflowed = true
            return
        }
        bytes.withUnsafeBufferPointer { source in
            if let address = source.baseAddress {
                (start + _count).update(from: address, count: source.count)
            }
        }
        _count += bytes.count
    }

    @inlinable
    public mutating func append(_ bytes: [UInt8]) {
        append(bytes.span)
    }

    @inlinable
    public mutating func append(_ bytes: [UInt8], range: Range<Int>) {
        append(bytes.span.extracting(range))
    }
}
