import CSluiceLinux
import Glibc

/// A provided-buffer ring: `count` buffers of `bufferBytes` registered with a ring under one group
/// id. The kernel picks a buffer for each receive; the worker lends its bytes out through
/// `withBytes` and gives it back with `recycle`, and `publish` makes every buffer recycled since
/// the last call visible to the kernel at once.
public final class ProvidedBuffers {
    public let groupID: UInt16
    public let count: Int
    public let bufferBytes: Int
    @usableFromInline let memory: UnsafeMutablePointer<UInt8>
    /// The kernel's ring of buffers; nil with a simulated ring, whose buffers are handed out
    /// from `simulatedFree` instead.
    private let bufferRing: UnsafeMutablePointer<io_uring_buf_ring>?
    private var simulatedFree: [UInt16] = []
    private var simulatedRecycled: [UInt16] = []
    private let mask: Int32
    private var pendingRecycles: Int32 = 0
    /// Buffers currently lent to the worker (picked by the kernel, not yet recycled).
    public private(set) var lentCount = 0

    public init(ring: Ring, groupID: UInt16, count: Int, bufferBytes: Int) throws(SystemError) {
        precondition(count > 0 && count <= 32768 && count & (count - 1) == 0, "buffer count must be a power of two")
        precondition(bufferBytes > 0)
        self.groupID = groupID
        self.count = count
        self.bufferBytes = bufferBytes
        guard let raw = sluice_map_lazy(count * bufferBytes) else {
            throw SystemError("mmap receive buffers", errno: errno)
        }
        memory = raw.bindMemory(to: UInt8.self, capacity: count * bufferBytes)
        mask = io_uring_buf_ring_mask(UInt32(count))
        if let simulator = ring.simulator {
            bufferRing = nil
            simulatedFree = (0..<UInt16(count)).map { $0 }
            simulator.buffers = self
            return
        }
        var error: Int32 = 0
        guard let registered = ring.withRawRing({ sluice_setup_buf_ring($0, UInt32(count), Int32(groupID), &error) }) else {
            sluice_unmap(raw, count * bufferBytes)
            throw SystemError("io_uring_register_buf_ring", result: error)
        }
        bufferRing = registered
        for id in 0..<count {
            io_uring_buf_ring_add(bufferRing, memory + id * bufferBytes, UInt32(bufferBytes), UInt16(id), mask, Int32(id))
        }
        io_uring_buf_ring_advance(bufferRing, Int32(count))
    }

    deinit {
        // A real ring's buffers live as long as the process (the kernel holds them); a
        // simulated ring's go with it.
        if bufferRing == nil { sluice_unmap(memory, count * bufferBytes) }
    }

    /// Lends the first `byteCount` bytes of buffer `id` to `body`. The span must not escape.
    @inlinable
    public func withBytes<R>(id: UInt16, byteCount: Int, _ body: (Span<UInt8>) -> R) -> R {
        precondition(Int(id) < count && byteCount >= 0 && byteCount <= bufferBytes)
        let buffer = UnsafeBufferPointer(start: memory + Int(id) * bufferBytes, count: byteCount)
        return body(buffer.span)
    }

    /// Lends the first `byteCount` bytes of buffer `id` as raw memory, for a C library that reads
    /// them in place (OpenSSL, in SluiceTLS). The pointer must not escape `body`.
    public func withUnsafeBytes<R>(id: UInt16, byteCount: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        precondition(Int(id) < count && byteCount >= 0 && byteCount <= bufferBytes)
        return body(UnsafeRawBufferPointer(start: memory + Int(id) * bufferBytes, count: byteCount))
    }

    /// Records that the kernel handed buffer `id` to the worker.
    public func lend(id: UInt16) {
        lentCount += 1
    }

    /// Gives buffer `id` back; it becomes visible to the kernel at the next `publish`.
    public func recycle(id: UInt16) {
        precondition(Int(id) < count)
        lentCount -= 1
        guard let bufferRing else { return simulatedRecycled.append(id) }
        io_uring_buf_ring_add(bufferRing, memory + Int(id) * bufferBytes, UInt32(bufferBytes), id, mask, pendingRecycles)
        pendingRecycles += 1
    }

    /// Publishes every buffer recycled since the last call.
    public func publish() {
        guard let bufferRing else {
            simulatedFree += simulatedRecycled
            return simulatedRecycled.removeAll()
        }
        guard pendingRecycles > 0 else { return }
        io_uring_buf_ring_advance(bufferRing, pendingRecycles)
        pendingRecycles = 0
    }

    /// Copies `range` of buffer `id` into `slab` at `offset` of `slot`.
    public func copy(id: UInt16, range: Range<Int>, to slab: ByteSlab, slot: Int, offset: Int) {
        precondition(Int(id) < count && range.lowerBound >= 0 && range.upperBound <= bufferBytes)
        let source = memory + Int(id) * bufferBytes + range.lowerBound
        slab.copyIn(from: UnsafeRawPointer(source), byteCount: range.count, slot: slot, offset: offset)
    }
}

extension ProvidedBuffers {
    /// A simulated receive picks the buffer published longest ago, as the kernel does; nil when
    /// none is free.
    func takeForSimulatedReceive() -> UInt16? {
        simulatedFree.isEmpty ? nil : simulatedFree.removeFirst()
    }

    func fillForSimulatedReceive(id: UInt16, from source: UnsafePointer<UInt8>, byteCount: Int) {
        precondition(Int(id) < count && byteCount <= bufferBytes)
        (memory + Int(id) * bufferBytes).update(from: source, count: byteCount)
    }
}

extension Ring {
    /// Runs `body` with liburing's ring; for setup calls inside this module only.
    func withRawRing<R>(_ body: (UnsafeMutablePointer<io_uring>) -> R) -> R {
        body(rawRing)
    }
}
