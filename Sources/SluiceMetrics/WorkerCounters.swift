import SluiceSharedMemory

/// The counters each worker keeps in shared memory, one row per worker slot. The raw values are
/// the row's column numbers: append new counters at the end.
public enum WorkerCounter: Int, CaseIterable, Sendable {
    case requests
    case responses1xx
    case responses2xx
    case responses3xx
    case responses4xx
    case responses5xx
    case connectionsAccepted
    case connectionsOpen
    case connectionsRefused
    case badRequests
    case receiveBuffersLent
    /// Requests whose head was read and whose response is not complete yet.
    case requestsInFlight
    /// Turns of the worker's loop (one wait in io_uring_enter each), and completions handled.
    case loopTurns
    case completions
    case accessLogLines
    case accessLogLinesDropped
    /// TLS handshakes completed in full or resumed from a session ticket, and refused or
    /// abandoned ones (a bad ClientHello, no shared version or cipher, a timeout); TLS
    /// connections open now.
    case tlsHandshakesFull
    case tlsHandshakesResumed
    case tlsHandshakesFailed
    case tlsConnectionsOpen
    /// Lines the worker could not write to stderr (the error log), dropped.
    case logWriteFailures
    /// 1 once the worker's accept is armed, 0 again when it drains (the supervisor waits for it
    /// before retiring the worker a reload replaces).
    case accepting

    /// The response-class counter for a status code.
    @inlinable
    public static func responseClass(status: Int) -> WorkerCounter {
        switch status {
        case ..<200: .responses1xx
        case ..<300: .responses2xx
        case ..<400: .responses3xx
        case ..<500: .responses4xx
        default: .responses5xx
        }
    }
}

/// The supervisor maps this zone before forking. A worker writes its own row only: its slot
/// plus `slots × lane`, where the lane is its configuration generation's (`WriterLanes`), so that
/// an old generation's worker draining next to the new one of its slot writes a row of its own.
public final class WorkerCounters: @unchecked Sendable {
    public let table: CounterTable
    public let slotCount: Int
    public let lanes: Int

    public init(slots: Int, lanes: Int = 1) throws(ZoneError) {
        slotCount = slots
        self.lanes = lanes
        table = try CounterTable(name: "worker-counters", rows: slots * lanes, countersPerRow: WorkerCounter.allCases.count)
    }

    @inlinable
    public func add(slot: Int, _ counter: WorkerCounter, _ amount: UInt64 = 1) {
        table.add(row: slot, counter: counter.rawValue, amount)
    }

    @inlinable
    public func subtract(slot: Int, _ counter: WorkerCounter, _ amount: UInt64 = 1) {
        table.subtract(row: slot, counter: counter.rawValue, amount)
    }

    @inlinable
    public func set(slot: Int, _ counter: WorkerCounter, _ value: UInt64) {
        table.set(row: slot, counter: counter.rawValue, value)
    }

    public func load(slot: Int, _ counter: WorkerCounter) -> UInt64 {
        table.load(row: slot, counter: counter.rawValue)
    }

    /// A worker slot's counter summed over its lanes: what every process of that slot counted.
    public func total(slot: Int, _ counter: WorkerCounter) -> UInt64 {
        var sum: UInt64 = 0
        for lane in 0..<lanes { sum &+= table.load(row: lane * slotCount + slot, counter: counter.rawValue) }
        return sum
    }
}
