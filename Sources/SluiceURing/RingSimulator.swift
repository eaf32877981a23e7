import CSluiceLinux
import Glibc

/// The kernel's side of a ring and the loop's clock, played by a test (as SwiftNIO's
/// EmbeddedEventLoop and TigerBeetle's simulator do): a `Ring` made with `Ring(simulator:)`
/// records what the loop submits here instead of handing it to io_uring, and reaps the
/// completions the test decides — the bytes a peer sends, how much of a send goes out, a reset,
/// a dry buffer ring — at the time the test sets. Cancellations and timeouts complete as the
/// kernel would complete them; everything else completes only when the test says so.
///
/// Descriptors are the test's: it hands the loop real sockets that nobody connects (so that a
/// loop closing one closes only its own), and the loop's reads and writes never reach them.
public final class RingSimulator {
    /// What the loop asked for.
    public enum Operation: Equatable, Sendable {
        case accept(listener: Int32)
        /// A receive into the provided buffers: multishot, or one buffer at most.
        case receive(socket: Int32, multishot: Bool)
        /// A receive into the loop's own memory (admin sockets).
        case receiveInto(socket: Int32, byteCount: Int)
        /// The bytes of a send, copied when it was submitted.
        case send(socket: Int32, bytes: [UInt8])
        case read(fileDescriptor: Int32, byteCount: Int)
        case append(fileDescriptor: Int32, bytes: [UInt8])
        case connect(socket: Int32)
        case timeout(deadline: Int64)
        case cancel(target: UInt64)
        case cancelAll(fileDescriptor: Int32)

        /// The descriptor the operation works on, if it works on one.
        public var descriptor: Int32? {
            switch self {
            case .accept(let fd), .receive(let fd, _), .receiveInto(let fd, _), .send(let fd, _),
                 .read(let fd, _), .append(let fd, _), .connect(let fd), .cancelAll(let fd):
                fd
            case .timeout, .cancel: nil
            }
        }
    }

    public struct Submission: Sendable {
        public var operation: Operation
        public var userData: UInt64
    }

    /// Operations submitted and not completed yet, oldest first (a multishot one stays until
    /// it completes without `IORING_CQE_F_MORE`).
    public private(set) var inFlight: [Submission] = []
    /// Completions the loop reaps at its next turn.
    var ready: [Completion] = []
    /// The monotonic clock, which moves only when the test advances it.
    public private(set) var now: Int64
    /// The wall clock at `now`.
    public var epochNanoseconds: Int64 { epochOffset + now }
    let epochOffset: Int64
    /// The provided buffers registered with the simulated ring.
    var buffers: ProvidedBuffers?

    /// - Parameters:
    ///   - now: where the monotonic clock starts.
    ///   - epochNanoseconds: the wall clock at `now` (default: 2026-12-01T00:00:00Z).
    public init(now: Int64 = 1_000_000_000_000, epochNanoseconds: Int64 = 1_796_083_200_000_000_000) {
        self.now = now
        epochOffset = epochNanoseconds - now
    }

    // MARK: The loop's side (through Ring)

    func submit(_ operation: Operation, userData: UInt64) {
        switch operation {
        case .cancel(let target):
            let position = inFlight.firstIndex { $0.userData == target }
            if let position {
                inFlight.remove(at: position)
                ready.append(Completion(userData: target, result: -ECANCELED, flags: 0))
            }
            ready.append(Completion(userData: userData, result: position == nil ? -ENOENT : 0, flags: 0))
        case .cancelAll(let fd):
            var cancelled: Int32 = 0
            inFlight.removeAll { submission in
                guard submission.operation.descriptor == fd else { return false }
                ready.append(Completion(userData: submission.userData, result: -ECANCELED, flags: 0))
                cancelled += 1
                return true
            }
            ready.append(Completion(userData: userData, result: cancelled == 0 ? -ENOENT : cancelled, flags: 0))
        default:
            inFlight.append(Submission(operation: operation, userData: userData))
        }
    }

    /// The completions for the loop's next turn.
    func reap(into completions: inout [Completion]) {
        completions.append(contentsOf: ready)
        ready.removeAll()
    }

    // MARK: The test's side

    /// Whether the loop's next turn has completions to run.
    public var hasCompletions: Bool { !ready.isEmpty }

    /// Moves the clock on; each timeout due by then completes with `-ETIME`.
    public func advance(nanoseconds: Int64) {
        now += nanoseconds
        inFlight.removeAll { submission in
            guard case .timeout(let deadline) = submission.operation, deadline <= now else { return false }
            ready.append(Completion(userData: submission.userData, result: -ETIME, flags: 0))
            return true
        }
    }

    /// Completes an operation in flight with `result` (a count, a descriptor or `-errno`). With
    /// `more`, a multishot operation stays in flight.
    public func complete(_ userData: UInt64, result: Int32, more: Bool = false, flags: UInt32 = 0) {
        guard let position = inFlight.firstIndex(where: { $0.userData == userData }) else {
            preconditionFailure("no operation in flight with user data \(userData)")
        }
        if !more { inFlight.remove(at: position) }
        ready.append(Completion(userData: userData, result: result, flags: flags | (more ? IORING_CQE_F_MORE : 0)))
    }

    /// The oldest operation in flight that `matches`.
    public func first(where matches: (Operation) -> Bool) -> Submission? {
        inFlight.first { matches($0.operation) }
    }

    /// A client connects: the listener's accept completes with `socket`.
    public func accept(_ socket: Int32) {
        guard let accept = first(where: { if case .accept = $0 { true } else { false } }) else {
            preconditionFailure("no accept in flight")
        }
        complete(accept.userData, result: socket, more: true)
    }

    /// The peer of `socket` sends `bytes`, `chunk` bytes (at most a buffer) per receive. Returns
    /// how many bytes the loop received: fewer when its receive is not armed, when a receive
    /// of one buffer completes, or when the buffer ring runs dry (the receive then ends with
    /// `-ENOBUFS`, as the kernel ends it).
    @discardableResult
    public func send(_ bytes: [UInt8], to socket: Int32, chunk: Int = .max) -> Int {
        guard let buffers else { preconditionFailure("no provided buffers registered") }
        var sent = 0
        while sent < bytes.count {
            guard let receive = receiveInFlight(socket) else { break }
            guard case .receive(_, let multishot) = receive.operation else { break }
            guard let id = buffers.takeForSimulatedReceive() else {
                complete(receive.userData, result: -ENOBUFS)
                break
            }
            let count = min(chunk, buffers.bufferBytes, bytes.count - sent)
            bytes.withUnsafeBufferPointer { source in
                buffers.fillForSimulatedReceive(id: id, from: source.baseAddress! + sent, byteCount: count)
            }
            sent += count
            let flags = IORING_CQE_F_BUFFER | UInt32(id) << IORING_CQE_BUFFER_SHIFT
            complete(receive.userData, result: Int32(count), more: multishot, flags: flags)
            if !multishot { break }
        }
        return sent
    }

    /// The peer of `socket` closes (its receive completes with 0), or resets it (`errno`).
    public func close(_ socket: Int32, errno: Int32 = 0) {
        guard let receive = receiveInFlight(socket) else { return }
        complete(receive.userData, result: -errno)
    }

    /// The oldest send in flight on `socket`, its bytes and user data.
    public func sendInFlight(_ socket: Int32) -> Submission? {
        first { if case .send(socket, _) = $0 { true } else { false } }
    }

    /// The oldest send on `socket` goes out: `byteCount` of its bytes (all by default), or it
    /// fails with `errno`. Returns the bytes that went out.
    @discardableResult
    public func completeSend(_ socket: Int32, byteCount: Int? = nil, errno: Int32 = 0) -> [UInt8] {
        guard let send = sendInFlight(socket), case .send(_, let bytes) = send.operation else {
            preconditionFailure("no send in flight on \(socket)")
        }
        if errno != 0 {
            complete(send.userData, result: -errno)
            return []
        }
        let count = min(byteCount ?? bytes.count, bytes.count)
        complete(send.userData, result: Int32(count))
        return Array(bytes[..<count])
    }

    /// The sockets the loop is connecting, oldest first.
    public var connecting: [Int32] {
        inFlight.compactMap { if case .connect(let fd) = $0.operation { fd } else { nil } }
    }

    /// The connect on `socket` succeeds, or fails with `errno`.
    public func completeConnect(_ socket: Int32, errno: Int32 = 0) {
        guard let connect = first(where: { $0 == .connect(socket: socket) }) else {
            preconditionFailure("no connect in flight on \(socket)")
        }
        complete(connect.userData, result: -errno)
    }

    func receiveInFlight(_ socket: Int32) -> Submission? {
        first { if case .receive(socket, _) = $0 { true } else { false } }
    }
}
