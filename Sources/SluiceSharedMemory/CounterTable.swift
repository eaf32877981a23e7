import Atomics

/// Per-writer 64-bit counters in a zone: one row per writer (a worker slot), each row padded to
/// whole cache lines so that writers never share a line. Each row has exactly one writing
/// process, so an update is a relaxed load plus a relaxed store — no read-modify-write, no lock
/// bus traffic on the request path. Readers (the admin endpoint) sum the rows; a sum may miss an
/// update in flight, never tear one.
public final class CounterTable: @unchecked Sendable {
    public static let magic: UInt64 = 0x534C_4355_434E_5452  // "SLCUCNTR"
    public static let layoutVersion: UInt32 = 1

    @usableFromInline let rowCount: Int
    @usableFromInline let countersPerRow: Int
    /// Words per row, rounded up to a multiple of 8 (one 64-byte cache line).
    @usableFromInline let rowStrideWords: Int
    @usableFromInline let zone: Zone

    public init(name: String, rows: Int, countersPerRow: Int) throws(ZoneError) {
        precondition(rows > 0 && countersPerRow > 0)
        rowCount = rows
        self.countersPerRow = countersPerRow
        rowStrideWords = (countersPerRow + 7) / 8 * 8
        zone = try Zone(name: name, magic: CounterTable.magic, layoutVersion: CounterTable.layoutVersion,
                        payloadBytes: rows * rowStrideWords * 8)
    }

    /// Adds `amount` to a counter of `row`. Only the row's own writer may call this.
    @inlinable
    public func add(row: Int, counter: Int, _ amount: UInt64 = 1) {
        let word = zone.word(index(row: row, counter: counter))
        word.store(word.load(ordering: .relaxed) &+ amount, ordering: .relaxed)
    }

    /// Subtracts `amount` (for gauges such as open connections). Only the row's writer may call this.
    @inlinable
    public func subtract(row: Int, counter: Int, _ amount: UInt64 = 1) {
        let word = zone.word(index(row: row, counter: counter))
        word.store(word.load(ordering: .relaxed) &- amount, ordering: .relaxed)
    }

    /// Sets a counter of `row` (for gauges). Only the row's writer may call this.
    @inlinable
    public func set(row: Int, counter: Int, _ value: UInt64) {
        zone.word(index(row: row, counter: counter)).store(value, ordering: .relaxed)
    }

    /// For tests: words per row after padding.
    public var rowStrideWordsForTesting: Int { rowStrideWords }

    public func load(row: Int, counter: Int) -> UInt64 {
        zone.word(index(row: row, counter: counter)).load(ordering: .relaxed)
    }

    /// The sum of a counter over every row.
    public func sum(counter: Int) -> UInt64 {
        var total: UInt64 = 0
        for row in 0..<rowCount { total &+= load(row: row, counter: counter) }
        return total
    }

    @inlinable
    func index(row: Int, counter: Int) -> Int {
        precondition(row >= 0 && row < rowCount && counter >= 0 && counter < countersPerRow)
        return row * rowStrideWords + counter
    }
}
