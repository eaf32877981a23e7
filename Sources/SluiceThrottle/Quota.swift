import SluiceConfig
import SluiceHTTP1
import SluiceSharedMemory

/// A usage plan's quota: at most `limit` requests per key in each period. Periods follow UTC;
/// `offset` is the day a period starts, as API Gateway's QuotaSettings define it: for WEEK, 0 is
/// Sunday … 6 Saturday; for MONTH, 0 is the 1st … 27 the 28th; for DAY it must be 0.
public struct Quota: Sendable, Equatable {
    public var limit: Int
    public var period: QuotaPeriodSetting
    public var offset: Int

    public init(_ settings: QuotaSettings) {
        self.init(limit: settings.limit, period: settings.period, offset: settings.offset)
    }

    public init(limit: Int, period: QuotaPeriodSetting, offset: Int = 0) {
        self.limit = limit
        self.period = period
        self.offset = offset
    }

    /// The number of the period that holds `epochSeconds`: periods are counted from the first one
    /// that starts on or after 1970-01-01 00:00 UTC, minus one, so every instant since the epoch
    /// has a period ≥ 0 (with offset 0: days, weeks or months since the epoch).
    public func periodIndex(epochSeconds: Int) -> Int {
        let days = floorDivide(epochSeconds, 86_400)
        switch period {
        case .day:
            return days
        case .week:
            // 1970-01-01 was a Thursday (day 4 when Sunday is 0).
            return floorDivide(days + 4 - offset + 7, 7)
        case .month:
            let date = DateLine.civilDate(daysSinceEpoch: days)
            let months = (date.year - 1970) * 12 + (date.month - 1)
            return date.day - 1 >= offset ? months + 1 : months
        }
    }

    /// When period `index` starts, in epoch seconds (UTC).
    public func periodStart(_ index: Int) -> Int {
        switch period {
        case .day:
            return index * 86_400
        case .week:
            return ((index - 1) * 7 - 4 + offset) * 86_400
        case .month:
            let months = index - 1
            let year = 1970 + floorDivide(months, 12)
            let month = months - floorDivide(months, 12) * 12 + 1
            return (DateLine.daysSinceEpoch(year: year, month: month, day: 1) + offset) * 86_400
        }
    }

    private func floorDivide(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

}

/// Quota counters shared by every worker: one word per (plan, key), holding the period it
/// counts (high 24 bits) and the requests admitted in it (low 40 bits). The first request of a new
/// period starts the count again, in the same compare-and-swap, so a period rolls over exactly
/// on every worker without waiting for the coordinator.
public struct QuotaCounters: Sendable {
    public static let countBits: UInt64 = 40
    public static let countMask: UInt64 = (1 << countBits) - 1
    public static let periodMask: UInt64 = (1 << 24) - 1

    public let words: SharedWords

    public init(words: SharedWords) {
        self.words = words
    }

    /// The word for `count` requests in `period`.
    @inlinable
    public static func word(period: Int, count: Int) -> UInt64 {
        (UInt64(truncatingIfNeeded: period) & periodMask) << countBits | (UInt64(count) & countMask)
    }

    /// The requests counted in `period` by a word (0 when the word counts another period).
    @inlinable
    public static func count(of word: UInt64, period: Int) -> Int {
        word >> countBits == UInt64(truncatingIfNeeded: period) & periodMask ? Int(word & countMask) : 0
    }

    /// Counts one request against `counter` in `period`, unless `limit` requests were counted in
    /// it already: false then. A word already counting a later period keeps counting that one: a
    /// request whose clock read was a moment behind another worker's (at midnight), or a wall
    /// clock stepped back, must not start an old period again over the new one.
    @inlinable
    public func consume(_ counter: Int, period: Int, limit: Int) -> Bool {
        var word = words.load(counter)
        let requested = UInt64(truncatingIfNeeded: period) & QuotaCounters.periodMask
        while true {
            let counting = max(requested, word >> QuotaCounters.countBits)
            let used = word >> QuotaCounters.countBits == counting ? Int(word & QuotaCounters.countMask) : 0
            guard used < limit else { return false }
            let result = words.compareExchange(counter, expected: word, desired: QuotaCounters.word(period: Int(counting), count: used + 1))
            if result.exchanged { return true }
            word = result.original
        }
    }

    /// The requests counted against `counter` in `period`.
    public func used(_ counter: Int, period: Int) -> Int {
        QuotaCounters.count(of: words.load(counter), period: period)
    }

    /// Adds `count` requests to `counter` in `period` (counted by workers of a configuration
    /// that has since been reloaded). A word counting an earlier period starts `period`; one
    /// counting a later period is left alone.
    public func add(_ counter: Int, period: Int, count: Int) {
        guard count > 0 else { return }
        var word = words.load(counter)
        let added = UInt64(truncatingIfNeeded: period) & QuotaCounters.periodMask
        while true {
            let counting = word >> QuotaCounters.countBits
            guard counting <= added else { return }
            let used = counting == added ? Int(word & QuotaCounters.countMask) : 0
            let result = words.compareExchange(counter, expected: word,
                                               desired: QuotaCounters.word(period: period, count: used + count))
            if result.exchanged { return }
            word = result.original
        }
    }

    /// Sets the count of `counter` in `period` (a reset, or a count restored from the journal).
    public func set(_ counter: Int, period: Int, count: Int) {
        words.store(counter, QuotaCounters.word(period: period, count: count))
    }
}
