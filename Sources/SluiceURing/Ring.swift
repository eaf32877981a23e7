import CSluiceLinux
import Glibc

/// One completion, copied out of the completion queue so that the queue can be advanced for the
/// whole batch before any of them is acted on ("reap, then run").
public struct Completion: Sendable {
    public var userData: UInt64
    /// The operation's result: a byte count, a file descriptor, or `-errno`.
    public var result: Int32
    public var flags: UInt32

    public init(userData: UInt64, result: Int32, flags: UInt32) {
        self.userData = userData
        self.result = result
        self.flags = flags
    }

    /// More completions will follow for the same multishot submission.
    public var hasMore: Bool { flags & IORING_CQE_F_MORE != 0 }

    /// What the result means: the one place a worker's completions are sorted by errno.
    @inline(__always)
    public var outcome: CompletionOutcome {
        result >= 0 ? .done(result) : CompletionOutcome(errno: -result)
    }

    /// The provided buffer the kernel picked for a receive, if it picked one.
    public var bufferID: UInt16? {
        guard flags & IORING_CQE_F_BUFFER != 0 else { return nil }
        return UInt16(truncatingIfNeeded: flags >> IORING_CQE_BUFFER_SHIFT)
    }
}

/// A completion's result as its handler acts on it (SwiftNIO triages errno the same way: retry,
/// would-block, closed, crash).
public enum CompletionOutcome: Equatable, Sendable {
    /// Success: the byte count, descriptor or zero the operation returned.
    case done(Int32)
    /// Nothing happened and the operation may be submitted again (EINTR, EAGAIN).
    case retry
    /// A receive found the provided-buffer ring empty (ENOBUFS): arm it again once buffers are back.
    case noBuffers
    /// The operation was cancelled (ECANCELED), or its timer fired (ETIME).
    case canceled
    /// Out of file descriptors (EMFILE, ENFILE): accepting must pause.
    case outOfDescriptors
    /// The peer or the network ended it (ECONNRESET, EPIPE, ECONNREFUSED, …), or another
    /// operating error: the connection is done. A descriptor or address the worker got wrong
    /// (EBADF, EFAULT, ENOTSOCK) is a bug: it lands here too in release builds, after a debug
    /// build's assertion has said so.
    case failed(Int32)

    public init(errno: Int32) {
        switch errno {
        case EINTR, EAGAIN: self = .retry
        case ENOBUFS: self = .noBuffers
        case ECANCELED, ETIME: self = .canceled
        case EMFILE, ENFILE: self = .outOfDescriptors
        case EBADF, EFAULT, ENOTSOCK:
            assertionFailure("io_uring operation on a descriptor or buffer the worker got wrong: errno \(errno)")
            self = .failed(errno)
        default: self = .failed(errno)
        }
    }
}

/// An io_uring instance: the only place in Sluice that submits I/O. It lives at a stable heap
/// address (liburing keeps pointers into it), is used by exactly one thread, and is never copied.
/// A ring made with `init(simulator:)` hands its submissions to a test's `RingSimulator` instead.
public final class Ring {
    private let ring: UnsafeMutablePointer<io_uring>
    /// The test's kernel, for a simulated ring; nil for a real one.
    public let simulator: RingSimulator?
    /// Timespecs handed to the kernel with timeout submissions; each timeout owns one slot, which
    /// stays valid until the submission is consumed.
    private let timespecs: UnsafeMutablePointer<__kernel_timespec>
    private let timespecCount: Int
    private var nextTimespec = 0
    /// Scratch for io_uring_peek_batch_cqe.
    private let cqePointers: UnsafeMutablePointer<UnsafeMutablePointer<io_uring_cqe>?>
    private let cqePointerCount: Int
    /// Completions copied out of the queue in the current batch.
    public private(set) var completions: [Completion]
    /// Whether the kernel granted IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN.
    public let defersTaskRun: Bool
    public let entries: Int

    /// Creates a ring with `entries` submission slots and four times as many completion slots.
    public init(entries: Int) throws(SystemError) {
        precondition(entries > 0 && entries & (entries - 1) == 0, "ring entries must be a power of two")
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        simulator = nil
        var flagsUsed: Int32 = 0
        let result = sluice_queue_init(ring, UInt32(entries), &flagsUsed)
        guard result == 0 else {
            ring.deallocate()
            throw SystemError("io_uring_queue_init", result: result)
        }
        defersTaskRun = UInt32(flagsUsed) & IORING_SETUP_DEFER_TASKRUN != 0
        self.entries = entries
        timespecCount = 64
        timespecs = .allocate(capacity: timespecCount)
        timespecs.initialize(repeating: __kernel_timespec(), count: timespecCount)
        cqePointerCount = entries * 4
        cqePointers = .allocate(capacity: cqePointerCount)
        cqePointers.initialize(repeating: nil, count: cqePointerCount)
        completions = []
        completions.reserveCapacity(entries * 4)
    }

    /// A ring whose kernel is `simulator`: nothing reaches io_uring.
    public init(simulator: RingSimulator) {
        self.simulator = simulator
        ring = .allocate(capacity: 1)
        ring.initialize(to: io_uring())
        defersTaskRun = false
        entries = 256
        timespecCount = 1
        timespecs = .allocate(capacity: 1)
        timespecs.initialize(to: __kernel_timespec())
        cqePointerCount = 1
        cqePointers = .allocate(capacity: 1)
        cqePointers.initialize(to: nil)
        completions = []
    }

    /// The clock the ring's loop reads: the system's, or the simulator's.
    public var clock: LoopClock { LoopClock(simulator: simulator) }

    deinit {
        if simulator == nil { io_uring_queue_exit(ring) }
        ring.deallocate()
        timespecs.deallocate()
        cqePointers.deallocate()
    }

    var rawRing: UnsafeMutablePointer<io_uring> { ring }

    /// The ring's file descriptor (visible in /proc/PID/fdinfo as an io_uring).
    public var fileDescriptor: Int32 { simulator == nil ? ring.pointee.ring_fd : -1 }

    /// A free submission slot, submitting what is queued first when the queue is full.
    private func submissionSlot() -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        _ = io_uring_submit(ring)
        guard let sqe = io_uring_get_sqe(ring) else {
            preconditionFailure("io_uring submission queue stays full after submit")
        }
        return sqe
    }

    /// For submissions prepared in other files of this module.
    func submissionSlotForExtensions() -> UnsafeMutablePointer<io_uring_sqe> { submissionSlot() }

    // MARK: Submissions

    /// Accepts connections on `listener` until cancelled or an error ends it.
    public func multishotAccept(listener: Int32, userData: UInt64) {
        if let simulator { return simulator.submit(.accept(listener: listener), userData: userData) }
        let sqe = submissionSlot()
        io_uring_prep_multishot_accept(sqe, listener, nil, nil, Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Receives into buffers picked from `buffers` until the peer closes, an error occurs, or the
    /// buffer ring runs dry (`-ENOBUFS`).
    public func multishotReceive(socket: Int32, buffers: ProvidedBuffers, userData: UInt64) {
        if let simulator { return simulator.submit(.receive(socket: socket, multishot: true), userData: userData) }
        let sqe = submissionSlot()
        io_uring_prep_recv_multishot(sqe, socket, nil, 0, 0)
        sqe.pointee.flags |= UInt8(1 << IOSQE_BUFFER_SELECT_BIT)
        sqe.pointee.buf_group = buffers.groupID
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Receives once into a buffer picked from `buffers`: one buffer at most, for connections
    /// whose reading is flow-controlled.
    public func receiveOnce(socket: Int32, buffers: ProvidedBuffers, userData: UInt64) {
        if let simulator { return simulator.submit(.receive(socket: socket, multishot: false), userData: userData) }
        let sqe = submissionSlot()
        io_uring_prep_recv(sqe, socket, nil, 0, 0)
        sqe.pointee.flags |= UInt8(1 << IOSQE_BUFFER_SELECT_BIT)
        sqe.pointee.buf_group = buffers.groupID
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Sends `range` of slot `slot` of `slab`. The bytes must stay untouched until it completes.
    public func send(socket: Int32, slab: ByteSlab, slot: Int, range: Range<Int>, userData: UInt64) {
        if let simulator {
            let bytes = slab.copyOut(slot: slot, range: range)
            return simulator.submit(.send(socket: socket, bytes: bytes), userData: userData)
        }
        let sqe = submissionSlot()
        let start = slab.address(slot: slot, offset: range.lowerBound)
        io_uring_prep_send(sqe, socket, start, range.count, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Sends bytes that a C library keeps (OpenSSL's ciphertext, in SluiceTLS). They must stay
    /// where they are, untouched, until the send completes.
    public func send(socket: Int32, bytes: UnsafeRawBufferPointer, userData: UInt64) {
        if let simulator {
            return simulator.submit(.send(socket: socket, bytes: Array(bytes.bindMemory(to: UInt8.self))),
                                    userData: userData)
        }
        let sqe = submissionSlot()
        io_uring_prep_send(sqe, socket, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Receives once into `range` of slot `slot` of `slab` (for low-volume sockets like admin).
    public func receive(socket: Int32, slab: ByteSlab, slot: Int, range: Range<Int>, userData: UInt64) {
        if let simulator {
            return simulator.submit(.receiveInto(socket: socket, byteCount: range.count), userData: userData)
        }
        let sqe = submissionSlot()
        let start = slab.address(slot: slot, offset: range.lowerBound)
        io_uring_prep_recv(sqe, socket, start, range.count, 0)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Reads into `range` of slot `slot` of `slab` (used for small control reads like signalfd).
    public func read(fileDescriptor: Int32, slab: ByteSlab, slot: Int, range: Range<Int>, userData: UInt64) {
        if let simulator {
            return simulator.submit(.read(fileDescriptor: fileDescriptor, byteCount: range.count), userData: userData)
        }
        let sqe = submissionSlot()
        let start = slab.address(slot: slot, offset: range.lowerBound)
        io_uring_prep_read(sqe, fileDescriptor, start, UInt32(range.count), 0)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Writes `range` of slot `slot` of `slab` at the end of a file opened for appending (the
    /// kernel runs a write that would block in its own worker thread, never in this loop). The
    /// bytes must stay untouched until it completes.
    public func append(fileDescriptor: Int32, slab: ByteSlab, slot: Int, range: Range<Int>, userData: UInt64) {
        if let simulator {
            let bytes = slab.copyOut(slot: slot, range: range)
            return simulator.submit(.append(fileDescriptor: fileDescriptor, bytes: bytes), userData: userData)
        }
        let sqe = submissionSlot()
        let start = slab.address(slot: slot, offset: range.lowerBound)
        // Offset -1: the file's own position, which O_APPEND keeps at its end.
        io_uring_prep_write(sqe, fileDescriptor, start, UInt32(range.count), UInt64.max)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Cancels every operation in flight on `fileDescriptor`.
    public func cancelAll(fileDescriptor: Int32, userData: UInt64) {
        if let simulator { return simulator.submit(.cancelAll(fileDescriptor: fileDescriptor), userData: userData) }
        let sqe = submissionSlot()
        io_uring_prep_cancel_fd(sqe, fileDescriptor, UInt32(IORING_ASYNC_CANCEL_ALL))
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Cancels the operation submitted with `target`.
    public func cancel(userData target: UInt64, userData: UInt64) {
        if let simulator { return simulator.submit(.cancel(target: target), userData: userData) }
        let sqe = submissionSlot()
        io_uring_prep_cancel64(sqe, target, 0)
        io_uring_sqe_set_data64(sqe, userData)
    }

    /// Completes with `-ETIME` after `nanoseconds`, or earlier when cancelled. The kernel reads the
    /// timespec when the submission is consumed; each call takes the next of `timespecCount`
    /// slots, so that many timeouts may wait between two submissions.
    public func timeout(nanoseconds: Int64, userData: UInt64) {
        if let simulator {
            return simulator.submit(.timeout(deadline: simulator.now + nanoseconds), userData: userData)
        }
        let spec = timespecs + nextTimespec
        nextTimespec = (nextTimespec + 1) % timespecCount
        spec.pointee.tv_sec = nanoseconds / 1_000_000_000
        spec.pointee.tv_nsec = nanoseconds % 1_000_000_000
        let sqe = submissionSlot()
        io_uring_prep_timeout(sqe, spec, 0, 0)
        io_uring_sqe_set_data64(sqe, userData)
    }

    // MARK: Completions

    /// Submits everything queued and waits until at least one completion is ready, then copies
    /// every ready completion into `completions` and advances the queue once for the batch.
    /// Returns the number reaped. EINTR is not an error: it returns with what is there.
    @discardableResult
    public func submitAndReap() throws(SystemError) -> Int {
        if simulator != nil { return reap() }
        let submitted = io_uring_submit_and_wait(ring, 1)
        if submitted < 0 && submitted != -EINTR && submitted != -EAGAIN && submitted != -EBUSY {
            throw SystemError("io_uring_submit_and_wait", result: submitted)
        }
        return reap()
    }

    /// Submits what is queued without waiting.
    public func submit() throws(SystemError) {
        if simulator != nil { return }
        let submitted = io_uring_submit(ring)
        if submitted < 0 && submitted != -EINTR && submitted != -EAGAIN && submitted != -EBUSY {
            throw SystemError("io_uring_submit", result: submitted)
        }
    }

    /// Copies every ready completion into `completions` (replacing the previous batch) and
    /// advances the completion queue once per chunk of `cqePointerCount`.
    @discardableResult
    public func reap() -> Int {
        completions.removeAll(keepingCapacity: true)
        if let simulator {
            simulator.reap(into: &completions)
            return completions.count
        }
        while true {
            let count = Int(io_uring_peek_batch_cqe(ring, cqePointers, UInt32(cqePointerCount)))
            for index in 0..<count {
                let cqe = cqePointers[index]!
                completions.append(Completion(userData: cqe.pointee.user_data, result: cqe.pointee.res,
                                              flags: cqe.pointee.flags))
            }
            if count > 0 { io_uring_cq_advance(ring, UInt32(count)) }
            if count < cqePointerCount { break }
        }
        return completions.count
    }
}
