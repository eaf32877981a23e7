import CSluiceLinux
import Glibc

/// The clocks the loops read: coarse ones are a vDSO read, cheap enough for every batch.
public enum Clock {
    /// Monotonic time in nanoseconds, at the kernel tick's resolution (1–4 ms).
    public static func monotonicCoarseNanoseconds() -> Int64 { sluice_monotonic_coarse_ns() }
    /// Monotonic time in nanoseconds, precise (for latency measurements).
    public static func monotonicNanoseconds() -> Int64 { sluice_monotonic_ns() }
    /// Wall-clock time in nanoseconds since the epoch (for `Date` headers).
    public static func realtimeNanoseconds() -> Int64 { sluice_realtime_ns() }
    /// Blocks the calling process for a while (at start only: never in a loop that serves).
    public static func sleep(nanoseconds: Int64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while Glibc.nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// The clocks a loop reads: the system's (`Clock`), or the hand-advanced one of a simulated
/// ring. A loop that reads time only through this can be tested without waiting.
public struct LoopClock {
    let simulator: RingSimulator?

    @inline(__always)
    public func monotonicCoarseNanoseconds() -> Int64 {
        if let simulator { return simulator.now }
        return Clock.monotonicCoarseNanoseconds()
    }

    @inline(__always)
    public func monotonicNanoseconds() -> Int64 {
        if let simulator { return simulator.now }
        return Clock.monotonicNanoseconds()
    }

    @inline(__always)
    public func realtimeNanoseconds() -> Int64 {
        if let simulator { return simulator.epochNanoseconds }
        return Clock.realtimeNanoseconds()
    }
}

/// Socket calls made outside the ring: rare ones, at connection start and end.
public enum Socket {
    public static func close(_ fd: Int32) {
        _ = Glibc.close(fd)
    }

    /// Sends FIN after the last response; the socket keeps receiving until the peer closes.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_WR))
    }

    /// Ends both directions: operations in flight on the socket complete (with 0 or an error), so
    /// the code waiting for them closes it.
    public static func shutdown(_ fd: Int32) {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Opens a listening TCP socket; `reusePort` lets every worker slot bind the same port.
    public static func listen(host: String, port: Int, reusePort: Bool, backlog: Int = 4096) throws(SystemError) -> Int32 {
        let fd = sluice_tcp_listen(host, Int32(port), reusePort ? 1 : 0, Int32(backlog))
        guard fd >= 0 else { throw SystemError("listen on \(host):\(port)", result: fd) }
        return fd
    }

    /// Whether another socket listens on `host:port` now (a bind without SO_REUSEPORT fails);
    /// TIME_WAIT connections of an earlier process do not count.
    public static func isListenedOn(host: String, port: Int) -> Bool {
        sluice_tcp_listen(host, Int32(port), 0, -1) == -EADDRINUSE
    }

    public static func localPort(_ fd: Int32) -> Int { Int(sluice_local_port(fd)) }
}

/// Signals delivered as readable events on a file descriptor, so a loop can wait for them in the
/// ring like any other completion.
public enum Signals {
    /// Blocks `signals` for this process and returns a signalfd for them.
    public static func makeSignalFD(_ signals: [Int32]) throws(SystemError) -> Int32 {
        let fd = signals.withUnsafeBufferPointer { sluice_signalfd($0.baseAddress, Int32($0.count)) }
        guard fd >= 0 else { throw SystemError("signalfd", result: fd) }
        return fd
    }

    /// Reads one pending signal from a nonblocking signalfd: its number, or nil if none is pending.
    public static func readPending(_ fd: Int32) -> Int32? {
        let signal = sluice_read_signal(fd)
        return signal > 0 ? signal : nil
    }

    /// The byte size of one signalfd record.
    public static var recordBytes: Int { Int(sluice_signalfd_siginfo_size()) }

    /// The signal number of a record read into slot 0 of `slab`: `ssi_signo`, its first 32-bit field.
    public static func number(in slab: ByteSlab) -> Int32 {
        slab.withBytes(slot: 0, range: 0..<4) { bytes in
            Int32(bytes[0]) | Int32(bytes[1]) << 8 | Int32(bytes[2]) << 16 | Int32(bytes[3]) << 24
        }
    }
}

public enum Random {
    /// 64 bits from the kernel's random source.
    public static func word() -> UInt64 {
        var value: UInt64 = 0
        let result = sluice_getrandom(&value, 8)
        precondition(result == 0, "getrandom failed")
        return value
    }
}

/// Log lines to standard error; one write per line so lines from several processes do not mix.
public enum StandardError {
    /// Lines this process could not write whole (the reader of stderr gone, a full disk): each
    /// is dropped, never fatal, and counted here for the metrics.
    public nonisolated(unsafe) static var failedWrites: UInt64 = 0

    public static func write(_ message: String) {
        var line = message
        line += "\n"
        let whole = line.withUTF8 { bytes in writeAll(2, bytes) }
        if !whole { failedWrites &+= 1 }
    }
}

/// Bytes to standard output (`sluice template`'s rendering).
public enum StandardOutput {
    public static func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in writeAll(1, buffer) }
    }
}

/// Writes all of `bytes` to `descriptor`; stops at the first failure (a closed pipe or a full disk
/// is not worth more than the line). Whether every byte was written.
@discardableResult
private func writeAll(_ descriptor: Int32, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
    var offset = 0
    while offset < bytes.count {
        let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 && errno == EINTR { continue }
        if written <= 0 { return false }
        offset += written
    }
    return true
}

/// Process management for the supervisor and the processes it forks.
public enum Process {
    /// Ignores SIGPIPE in this process: a write to a closed pipe or socket fails with EPIPE
    /// instead of killing it (a log reader that went away must not stop the gateway).
    public static func ignoreBrokenPipes() {
        _ = Glibc.signal(SIGPIPE, SIG_IGN)
    }

    /// Forks; returns 0 in the child and the child's pid in the parent.
    public static func fork() throws(SystemError) -> Int32 {
        let pid = sluice_fork()
        guard pid >= 0 else { throw SystemError("fork", errno: errno) }
        return pid
    }

    /// In a freshly forked child: default signal dispositions, nothing blocked, SIGPIPE ignored,
    /// normal scheduling (not the supervisor's batch), and SIGTERM when the supervisor dies so
    /// that no process outlives it. A parent that died before the death signal was armed is
    /// caught by comparing the parent pid.
    public static func prepareChild(name: String, parent: Int32) {
        sluice_reset_signals()
        _ = sluice_schedule_normally()
        _ = sluice_set_parent_death_signal(SIGTERM)
        if getppid() != parent { _exit(0) }
        _ = sluice_set_process_name(name)
    }

    public static func pin(toCPU cpu: Int) throws(SystemError) {
        let result = sluice_pin_to_cpu(Int32(cpu))
        guard result == 0 else { throw SystemError("sched_setaffinity(\(cpu))", result: result) }
    }

    /// Schedules the calling process as a batch task: when it wakes (an admin request, a signal,
    /// its tick) it does not preempt the task running on that CPU — a pinned worker — but waits
    /// for the scheduler's next turn, a few milliseconds at most. Children inherit it until
    /// `prepareChild` schedules them normally again.
    public static func scheduleAsBatch() throws(SystemError) {
        let result = sluice_schedule_as_batch()
        guard result == 0 else { throw SystemError("sched_setscheduler(SCHED_BATCH)", result: result) }
    }

    public static func setName(_ name: String) {
        _ = sluice_set_process_name(name)
    }

    public static var id: Int32 { getpid() }
    public static var parentID: Int32 { getppid() }

    public static func signal(_ pid: Int32, _ signal: Int32) {
        _ = kill(pid, signal)
    }

    /// Waits for child `pid` to exit; returns its wait status (-1 when it is not a child).
    @discardableResult
    public static func waitForChild(_ pid: Int32) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return status
    }

    /// Reaps one exited child without waiting: its pid and whether it exited normally with
    /// status 0, or nil when no child has exited.
    public static func reapChild() -> (pid: Int32, status: Int32)? {
        var status: Int32 = 0
        let pid = waitpid(-1, &status, WNOHANG)
        guard pid > 0 else { return nil }
        return (pid, status)
    }

    /// Ends a forked child without running the parent's exit handlers or flushing its buffers.
    public static func exitChild(_ code: Int32) -> Never {
        _exit(code)
    }

    /// The CPUs this process may run on.
    public static func allowedCPUs() -> [Int] {
        var cpus = [Int32](repeating: 0, count: 1024)
        let count = cpus.withUnsafeMutableBufferPointer { sluice_allowed_cpus($0.baseAddress, Int32($0.count)) }
        return count > 0 ? cpus[0..<Int(count)].map(Int.init) : []
    }

    /// Raises the soft limit on open descriptors to the hard limit; returns the limit now in force.
    public static func raiseOpenFileLimit() throws(SystemError) -> Int {
        let result = sluice_raise_open_file_limit()
        guard result >= 0 else { throw SystemError("setrlimit(RLIMIT_NOFILE)", errno: Int32(-result)) }
        return result
    }

    /// Server CPU time consumed by `pid` so far, in clock ticks (for benchmarks).
    public static func cpuTicks(_ pid: Int32) -> Int { Int(sluice_process_cpu_ticks(pid)) }
}

public enum SignalNumber {
    public static let terminate = SIGTERM
    public static let interrupt = SIGINT
    public static let child = SIGCHLD
    public static let hangUp = SIGHUP
    public static let user1 = SIGUSR1
    public static let kill = SIGKILL
}

extension Socket {
    /// Writes the peer's address as text into slot `slot` of `slab`; returns its length (0 if unknown).
    /// The peer's address as an IPv6 address's two halves (IPv4 mapped to `::ffff:a.b.c.d`); nil
    /// when the socket has none (it was reset).
    public static func peerIP(_ fd: Int32) -> (high: UInt64, low: UInt64)? {
        var high: UInt64 = 0
        var low: UInt64 = 0
        guard sluice_peer_ip(fd, &high, &low) == 0 else { return nil }
        return (high, low)
    }

    public static func peerAddress(_ fd: Int32, into slab: ByteSlab, slot: Int) -> Int {
        let capacity = min(slab.slotBytes, 64)
        let text = UnsafeMutableRawPointer(slab.address(slot: slot, offset: 0)).assumingMemoryBound(to: CChar.self)
        let length = sluice_peer_address(fd, text, Int32(capacity))
        return length > 0 ? Int(length) : 0
    }
}
