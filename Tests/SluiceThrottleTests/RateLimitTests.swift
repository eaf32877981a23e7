import SluiceSharedMemory
import Testing
@testable import SluiceConfig
import SluiceThrottle

@Suite("Throttle buckets (GCRA)")
struct RateLimitTests {
    static let second: Int64 = 1_000_000_000

    func buckets(_ count: Int = 4) throws -> ThrottleBuckets {
        ThrottleBuckets(words: try SharedWords(name: "test-buckets", count: count))
    }

    @Test func aFullBucketAdmitsItsBurstAtOnceThenOneMorePerInterval() throws {
        let limit = RateLimit(ratePerSecond: 200, burst: 50)
        let buckets = try buckets()
        let now: Int64 = 10 * Self.second
        let admitted = (0..<100).filter { _ in buckets.admit(limit, bucket: 0, now: now) }.count
        #expect(admitted == 50)
        #expect(!buckets.admit(limit, bucket: 0, now: now + limit.intervalNanoseconds - 1))
        #expect(buckets.admit(limit, bucket: 0, now: now + limit.intervalNanoseconds))
        #expect(!buckets.admit(limit, bucket: 0, now: now + limit.intervalNanoseconds))
        // Other buckets are untouched.
        #expect(buckets.admit(limit, bucket: 1, now: now))
    }

    @Test func fiveTimesTheRateForFiveSecondsAdmitsRateTimesWindowPlusBurst() throws {
        let limit = RateLimit(ratePerSecond: 200, burst: 50)
        let buckets = try buckets()
        let start: Int64 = 100 * Self.second
        var admitted = 0
        // 1,000 requests a second, evenly spaced, for 5 s.
        for step in 0..<5_000 {
            if buckets.admit(limit, bucket: 0, now: start + Int64(step) * 1_000_000) { admitted += 1 }
        }
        #expect(admitted >= 200 * 5 + 50 - 1 && admitted <= 200 * 5 + 50)
    }

    @Test func aClientUnderTheRateIsNeverRefused() throws {
        let limit = RateLimit(ratePerSecond: 100, burst: 1)
        let buckets = try buckets()
        var now: Int64 = Self.second
        for _ in 0..<10_000 {
            #expect(buckets.admit(limit, bucket: 0, now: now))
            now += limit.intervalNanoseconds
        }
    }

    @Test func fractionalRatesAndZeroLimits() throws {
        let slow = RateLimit(ratePerSecond: 0.5, burst: 1)
        #expect(slow.intervalNanoseconds == 2 * Self.second)
        let buckets = try buckets()
        #expect(buckets.admit(slow, bucket: 0, now: Self.second))
        #expect(!buckets.admit(slow, bucket: 0, now: 2 * Self.second))
        #expect(buckets.admit(slow, bucket: 0, now: 3 * Self.second))
        #expect(!buckets.admit(RateLimit(ratePerSecond: 0, burst: 10), bucket: 1, now: Self.second))
        #expect(!buckets.admit(RateLimit(ratePerSecond: 10, burst: 0), bucket: 2, now: Self.second))
        // A huge burst does not overflow.
        let huge = RateLimit(ratePerSecond: 1e-6, burst: Int.max)
        #expect(buckets.admit(huge, bucket: 3, now: Self.second))
        #expect(buckets.admit(huge, bucket: 3, now: Self.second))
    }

    @Test func aRefundGivesTheAdmissionBack() throws {
        let limit = RateLimit(ratePerSecond: 10, burst: 2)
        let buckets = try buckets()
        let now = Self.second
        #expect(buckets.admit(limit, bucket: 0, now: now))
        #expect(buckets.admit(limit, bucket: 0, now: now))
        #expect(!buckets.admit(limit, bucket: 0, now: now))
        buckets.refund(limit, bucket: 0, now: now)
        #expect(buckets.admit(limit, bucket: 0, now: now))
        // Refunding an idle bucket does not fill it beyond its burst.
        buckets.refund(limit, bucket: 1, now: now)
        buckets.refund(limit, bucket: 1, now: now)
        #expect((0..<5).filter { _ in buckets.admit(limit, bucket: 1, now: now) }.count == 2)
    }

    @Test func concurrentAdmissionsNeverExceedTheBound() async throws {
        let limit = RateLimit(ratePerSecond: 1_000, burst: 100)
        let buckets = try buckets()
        let start: Int64 = 50 * Self.second
        // Four threads hammer one bucket over the same simulated second, each at 4× the rate.
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    (0..<4_000).filter { buckets.admit(limit, bucket: 0, now: start + Int64($0) * 250_000) }.count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted <= 1_000 + 100)
        #expect(admitted >= 1_000)
    }
}

@Suite("Quota periods and counters")
struct QuotaTests {
    static let day = 86_400

    @Test func dayPeriodsFollowUTCMidnight() {
        let quota = Quota(limit: 10, period: .day)
        let midnight = 20_779 * Self.day  // 2026-11-22 00:00 UTC
        #expect(quota.periodIndex(epochSeconds: midnight - 1) == 20_778)
        #expect(quota.periodIndex(epochSeconds: midnight) == 20_779)
        #expect(quota.periodStart(20_779) == midnight)
    }

    @Test func weekPeriodsStartOnTheOffsetDay() {
        // 2026-11-22 is a Sunday, 2026-11-23 a Monday.
        let sunday = 20_779 * Self.day
        let sundayWeeks = Quota(limit: 10, period: .week, offset: 0)
        #expect(sundayWeeks.periodIndex(epochSeconds: sunday) == sundayWeeks.periodIndex(epochSeconds: sunday - 1) + 1)
        #expect(sundayWeeks.periodStart(sundayWeeks.periodIndex(epochSeconds: sunday + 3 * Self.day)) == sunday)
        let mondayWeeks = Quota(limit: 10, period: .week, offset: 1)
        let monday = sunday + Self.day
        #expect(mondayWeeks.periodIndex(epochSeconds: monday) == mondayWeeks.periodIndex(epochSeconds: sunday) + 1)
        #expect(mondayWeeks.periodStart(mondayWeeks.periodIndex(epochSeconds: sunday)) == monday - 7 * Self.day)
        // The epoch itself (a Thursday) is in period ≥ 0 whatever the offset.
        for offset in 0...6 {
            #expect(Quota(limit: 1, period: .week, offset: offset).periodIndex(epochSeconds: 0) >= 0)
        }
    }

    @Test func monthPeriodsStartOnTheOffsetDayOfTheMonth() {
        let december = 20_788 * Self.day  // 2026-12-01
        let months = Quota(limit: 10, period: .month)
        #expect(months.periodIndex(epochSeconds: december) == months.periodIndex(epochSeconds: december - 1) + 1)
        #expect(months.periodStart(months.periodIndex(epochSeconds: december + 10 * Self.day)) == december)
        let fromThe15th = Quota(limit: 10, period: .month, offset: 14)
        let fifteenth = december + 14 * Self.day
        #expect(fromThe15th.periodIndex(epochSeconds: fifteenth) == fromThe15th.periodIndex(epochSeconds: fifteenth - 1) + 1)
        #expect(fromThe15th.periodStart(fromThe15th.periodIndex(epochSeconds: december)) == fifteenth - 30 * Self.day)
        // Year boundary.
        let january = 20_819 * Self.day  // 2027-01-01
        #expect(months.periodStart(months.periodIndex(epochSeconds: january + 5)) == january)
    }

    @Test func everyInstantLiesInItsPeriod() {
        for period in QuotaPeriodSetting.allCases {
            for offset in 0...period.offsetMax {
                let quota = Quota(limit: 1, period: period, offset: offset)
                var seconds = 0
                while seconds < 60 * 366 * Self.day {
                    let index = quota.periodIndex(epochSeconds: seconds)
                    #expect(quota.periodStart(index) <= seconds && seconds < quota.periodStart(index + 1),
                            "\(period) offset \(offset) at \(seconds)")
                    seconds += 7_919 * 13  // about 1.2 days, prime-ish steps
                }
            }
        }
    }

    @Test func countersCountToTheLimitAndStartAgainInANewPeriod() throws {
        let counters = QuotaCounters(words: try SharedWords(name: "test-quota", count: 2))
        for _ in 0..<3 { #expect(counters.consume(0, period: 7, limit: 3)) }
        #expect(!counters.consume(0, period: 7, limit: 3))
        #expect(counters.used(0, period: 7) == 3)
        #expect(counters.used(0, period: 8) == 0)
        #expect(counters.consume(0, period: 8, limit: 3))
        #expect(counters.used(0, period: 8) == 1)
        #expect(counters.used(1, period: 8) == 0)
        counters.set(1, period: 8, count: 3)
        #expect(!counters.consume(1, period: 8, limit: 3))
        #expect(!counters.consume(0, period: 9, limit: 0))
    }

    @Test func aRequestReadingAnEarlierPeriodCountsInTheLaterOneAWordAlreadyHolds() throws {
        let counters = QuotaCounters(words: try SharedWords(name: "test-quota", count: 1))
        for _ in 0..<2 { #expect(counters.consume(0, period: 8, limit: 3)) }
        // A worker whose clock read 23:59:59.999 while another had started the next day.
        #expect(counters.consume(0, period: 7, limit: 3))
        #expect(counters.used(0, period: 8) == 3)
        #expect(!counters.consume(0, period: 7, limit: 3))
        #expect(counters.consume(0, period: 9, limit: 3))
    }

    @Test func highRatesKeepTheBoundWithinAFractionOfANanosecond() throws {
        // 1 s / 300,000 = 3,333.33 ns: whole nanoseconds (3,333) would admit 30 too many a second.
        let limit = RateLimit(ratePerSecond: 300_000, burst: 1_000)
        let buckets = ThrottleBuckets(words: try SharedWords(name: "test-buckets", count: 2))
        let start: Int64 = 50 * RateLimitTests.second
        var admitted = 0
        // Every 1,000 ns for one second: ten times the rate.
        for step in 0..<1_000_000 where buckets.admit(limit, bucket: 0, now: start + Int64(step) * 1_000) {
            admitted += 1
        }
        // Rounding the interval up by under 1/16 ns (53,334 ticks) costs about 4 admissions a second.
        #expect(admitted <= 1_000 + 300_000 && admitted >= 1_000 + 300_000 - 10, "\(admitted)")
        // A client just under the rate (every 3,334 ns) is never refused, even with burst 1.
        let strict = RateLimit(ratePerSecond: 300_000, burst: 1)
        var now = 200 * RateLimitTests.second
        var refused = 0
        for _ in 0..<100_000 {
            if !buckets.admit(strict, bucket: 1, now: now) { refused += 1 }
            now += 3_334
        }
        #expect(refused == 0)
    }
}
