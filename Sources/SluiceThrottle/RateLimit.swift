import SluiceSharedMemory

/// A throttle — API Gateway's (rate, burst) token bucket — kept as GCRA keeps it: one word, the
/// bucket's theoretical arrival time (TAT) on the monotonic clock, which every process of the
/// machine reads alike. A request arriving at `now` is admitted when the TAT is no more than the
/// tolerance ahead of `now`, and moves the TAT one interval further (from `now` when the bucket
/// has been idle). A full bucket so admits `burst` requests at once, and over any window W at most
/// `burst + W × rate` requests are admitted; a client that keeps under the rate is never refused.
///
/// Times are kept in ticks of 1/16 ns, so that the interval of a high rate (1 s / 300,000 is
/// 3,333.33 ns) is rounded by at most 1/16 ns — up, so the bound above holds — instead of by
/// up to a whole nanosecond. A TAT of 2⁶³ ticks is 18 years of uptime.
public struct RateLimit: Sendable, Equatable {
    public static let ticksPerNanosecond: Int64 = 16

    /// Ticks between requests at the steady rate: 1 s / rate, rounded up.
    public let intervalTicks: Int64
    /// How far the TAT may run ahead of now: (burst − 1) intervals.
    public let toleranceTicks: Int64
    /// A rate or a burst of 0 admits nothing.
    public let refusesAll: Bool

    /// `ratePerSecond` may be fractional (API Gateway's `rateLimit` is a double); `burst` is the
    /// bucket's size in requests.
    public init(ratePerSecond: Double, burst: Int) {
        precondition(ratePerSecond >= 0 && burst >= 0)
        refusesAll = ratePerSecond == 0 || burst == 0
        let ticksPerSecond = Double(1_000_000_000 * RateLimit.ticksPerNanosecond)
        let interval = refusesAll ? 1 : max(1, (ticksPerSecond / ratePerSecond).rounded(.up))
        // Capped well below Int64.max, so that a TAT plus an interval cannot overflow.
        intervalTicks = Int64(min(interval, Double(Int64.max / 4)))
        let tolerance = intervalTicks.multipliedReportingOverflow(by: Int64(max(0, burst - 1)))
        toleranceTicks = refusesAll ? 0 : tolerance.overflow ? Int64.max / 4 : min(tolerance.partialValue, Int64.max / 4)
    }

    /// The interval in whole nanoseconds (rounded up).
    public var intervalNanoseconds: Int64 {
        (intervalTicks + RateLimit.ticksPerNanosecond - 1) / RateLimit.ticksPerNanosecond
    }

    /// `now` (nanoseconds) in ticks.
    @inlinable
    public static func ticks(_ nanoseconds: Int64) -> Int64 { nanoseconds &* ticksPerNanosecond }

    /// The TAT after admitting a request at `now` (both in ticks), or nil when it is refused.
    @inlinable
    public func admitting(tat: Int64, now: Int64) -> Int64? {
        guard !refusesAll else { return nil }
        let start = max(tat, now)
        guard start - now <= toleranceTicks else { return nil }
        return start + intervalTicks
    }
}

/// Throttle buckets shared by every worker: one `SharedWords` word per bucket.
public struct ThrottleBuckets: Sendable {
    public let words: SharedWords

    public init(words: SharedWords) {
        self.words = words
    }

    /// Admits one request at `now` against `bucket`, or refuses it. Exact across processes: the
    /// decision and the update are one compare-and-swap, retried if another worker got there first.
    @inlinable
    public func admit(_ limit: RateLimit, bucket: Int, now nanoseconds: Int64) -> Bool {
        let now = RateLimit.ticks(nanoseconds)
        var tat = Int64(bitPattern: words.load(bucket))
        while true {
            guard let next = limit.admitting(tat: tat, now: now) else { return false }
            let result = words.compareExchange(bucket, expected: UInt64(bitPattern: tat), desired: UInt64(bitPattern: next))
            if result.exchanged { return true }
            tat = Int64(bitPattern: result.original)
        }
    }

    /// Takes back one admission from `bucket`, when a later limit refused the request: the TAT
    /// moves back one interval, but not behind `now` (an idle bucket is full already).
    @inlinable
    public func refund(_ limit: RateLimit, bucket: Int, now nanoseconds: Int64) {
        guard !limit.refusesAll else { return }
        let now = RateLimit.ticks(nanoseconds)
        var tat = Int64(bitPattern: words.load(bucket))
        while tat > now {
            let earlier = max(now, tat - limit.intervalTicks)
            let result = words.compareExchange(bucket, expected: UInt64(bitPattern: tat), desired: UInt64(bitPattern: earlier))
            if result.exchanged { return }
            tat = Int64(bitPattern: result.original)
        }
    }
}
