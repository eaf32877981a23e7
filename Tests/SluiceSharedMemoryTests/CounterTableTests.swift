import Foundation
import SluiceMetrics
import SluiceSharedMemory
import SluiceURing
import Testing

@Suite struct CounterTableTests {
    @Test func zoneHeaderRecordsMagicVersionAndSize() throws {
        let zone = try Zone(name: "test", magic: 0xABCD, layoutVersion: 3, payloadBytes: 4096)
        #expect(zone.matches(magic: 0xABCD, layoutVersion: 3))
        #expect(!zone.matches(magic: 0xABCD, layoutVersion: 4))
        #expect(!zone.matches(magic: 0xABCE, layoutVersion: 3))
        #expect(zone.recordedByteCount == Zone.headerBytes + 4096)
    }

    @Test func rowsAreIndependentAndPaddedToCacheLines() throws {
        let table = try CounterTable(name: "test", rows: 3, countersPerRow: 5)
        #expect(table.rowStrideWordsForTesting == 8)
        table.add(row: 0, counter: 4, 7)
        table.add(row: 2, counter: 4, 5)
        table.add(row: 1, counter: 0)
        #expect(table.load(row: 0, counter: 4) == 7)
        #expect(table.load(row: 1, counter: 4) == 0)
        #expect(table.sum(counter: 4) == 12)
        #expect(table.sum(counter: 0) == 1)
        table.subtract(row: 0, counter: 4, 2)
        table.set(row: 2, counter: 4, 1)
        #expect(table.sum(counter: 4) == 6)
    }

    /// Each writer thread writes its own row, the reader sums them. Threads, not forked children:
    /// a child forked from the test runner's many threads can deadlock on a lock held at the fork.
    @Test func writersElsewhereAreSeenByTheReader() throws {
        let counters = try WorkerCounters(slots: 2)
        let iterations: UInt64 = 200_000
        let done = DispatchSemaphore(value: 0)
        for slot in 0..<2 {
            Thread.detachNewThread {
                for _ in 0..<iterations { counters.add(slot: slot, .requests) }
                done.signal()
            }
        }
        done.wait()
        done.wait()
        #expect(counters.table.sum(counter: WorkerCounter.requests.rawValue) == 2 * iterations)
        #expect(counters.load(slot: 0, .requests) == iterations)
    }

    @Test func prometheusTextHasOneFamilyHeaderAndEverySlot() throws {
        let counters = try WorkerCounters(slots: 2)
        counters.add(slot: 1, .requests, 3)
        counters.add(slot: 1, .responses4xx, 2)
        let slots = [WorkerSlotFacts(slot: 0, cpu: 0, restarts: 0, up: true),
                     WorkerSlotFacts(slot: 1, cpu: 1, restarts: 2, up: false)]
        var page = PrometheusText()
        counters.write(to: &page, slots: slots, labels: WorkerCounters.Labels(slots: slots), draining: false)
        let text = page.text
        #expect(text.contains("sluice_worker_requests_total{worker=\"1\"} 3\n"))
        #expect(text.contains("sluice_worker_responses_total{worker=\"1\",code=\"4xx\"} 2\n"))
        #expect(text.contains("sluice_worker_restarts_total{worker=\"1\"} 2\n"))
        #expect(text.contains("sluice_worker_up{worker=\"1\",cpu=\"1\"} 0\n"))
        let typeLines = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE sluice_worker_requests_total") }
        #expect(typeLines.count == 1)
    }

    @Test func labelValuesAreEscaped() {
        #expect(PrometheusLabels.escape("a\"b\\c\nd") == "a\\\"b\\\\c\\nd")
        var page = PrometheusText()
        page.sample("x", PrometheusLabels([("a", "1\n"), ("b", "")]), PrometheusLabels([("le", "+Inf")]), value: 0)
        page.sample("y", .none, PrometheusLabels([("code", "2xx")]), value: 18_446_744_073_709_551_615)
        page.sampleSeconds("z", .none, nanoseconds: 60_003_150_000)
        page.sampleSeconds("z", .none, nanoseconds: 7)
        #expect(page.text == "x{a=\"1\\n\",b=\"\",le=\"+Inf\"} 0\ny{code=\"2xx\"} 18446744073709551615\n"
                + "z 60.003150000\nz 0.000000007\n")
        // A cleared page keeps nothing.
        page.clear()
        page.sample("w", value: 10)
        #expect(page.text == "w 10\n")
    }
}

@Suite struct LatencyHistogramTests {
    static let labels = [PrometheusLabels([("api", "a"), ("stage", "prod")]), PrometheusLabels([("api", ""), ("stage", "")])]

    static func page(_ write: (inout PrometheusText) -> Void) -> String {
        var page = PrometheusText()
        write(&page)
        return page.text
    }

    @Test func bucketsAreCumulativeAndSumIsInSecondsPerStage() throws {
        let histograms = try LatencyHistograms(slots: 2, groups: 2)
        histograms.observe(slot: 0, group: 0, .request, nanoseconds: 50_000)         // ≤ 100 µs
        histograms.observe(slot: 1, group: 0, .request, nanoseconds: 100_000)        // ≤ 100 µs (bounds are inclusive)
        histograms.observe(slot: 1, group: 0, .request, nanoseconds: 3_000_000)      // ≤ 5 ms
        histograms.observe(slot: 0, group: 0, .request, nanoseconds: 60_000_000_000) // +Inf
        histograms.observe(slot: 0, group: 0, .integration, nanoseconds: 1_500_000_000)
        histograms.observe(slot: 1, group: 1, .request, nanoseconds: 1_000)
        let text = Self.page { histograms.write(to: &$0, labels: Self.labels) }
        let prod = #"api="a",stage="prod""#
        #expect(text.contains("sluice_request_duration_seconds_bucket{\(prod),le=\"0.0001\"} 2\n"))
        #expect(text.contains("sluice_request_duration_seconds_bucket{\(prod),le=\"0.0025\"} 2\n"))
        #expect(text.contains("sluice_request_duration_seconds_bucket{\(prod),le=\"0.005\"} 3\n"))
        #expect(text.contains("sluice_request_duration_seconds_bucket{\(prod),le=\"30\"} 3\n"))
        #expect(text.contains("sluice_request_duration_seconds_bucket{\(prod),le=\"+Inf\"} 4\n"))
        #expect(text.contains("sluice_request_duration_seconds_sum{\(prod)} 60.003150000\n"))
        #expect(text.contains("sluice_request_duration_seconds_count{\(prod)} 4\n"))
        #expect(text.contains("sluice_integration_duration_seconds_bucket{\(prod),le=\"1\"} 0\n"))
        #expect(text.contains("sluice_integration_duration_seconds_bucket{\(prod),le=\"2.5\"} 1\n"))
        #expect(text.contains("# TYPE sluice_integration_duration_seconds histogram\n"))
        #expect(text.contains(#"sluice_request_duration_seconds_count{api="",stage=""} 1"#))
        // A group with no observation has no series.
        #expect(!text.contains(#"sluice_integration_duration_seconds_count{api="",stage=""}"#))
    }

    @Test func answersAreCountedPerStageAndClass() throws {
        let counters = try RequestCounters(slots: 2, groups: 2)
        counters.count(slot: 0, group: 0, status: 200)
        counters.count(slot: 1, group: 0, status: 204)
        counters.count(slot: 1, group: 0, status: 429)
        counters.count(slot: 0, group: 1, status: 403)
        let text = Self.page { counters.write(to: &$0, labels: Self.labels) }
        #expect(text.contains(#"sluice_requests_total{api="a",stage="prod",code="2xx"} 2"#))
        #expect(text.contains(#"sluice_requests_total{api="a",stage="prod",code="4xx"} 1"#))
        #expect(text.contains(#"sluice_requests_total{api="a",stage="prod",code="5xx"} 0"#))
        #expect(text.contains(#"sluice_requests_total{api="",stage="",code="4xx"} 1"#))
    }

    @Test func methodScopeTablesAreTheirOwnFamilies() throws {
        let method = try ScopedMetrics(slots: 2, groups: 2, scope: .method)
        let labels = [PrometheusLabels([("api", "a"), ("stage", "prod"), ("resource", "/pets"), ("method", "GET")]),
                      PrometheusLabels([("api", "a"), ("stage", "prod"), ("resource", "/pets"), ("method", "POST")])]
        method.requests.count(slot: 1, group: 1, status: 201)
        method.latencies.observe(slot: 0, group: 0, .integration, nanoseconds: 2_000_000)
        method.cache.hit(slot: 0, group: 0)
        method.cache.miss(slot: 1, group: 0)
        method.cache.miss(slot: 1, group: 1)
        let post = #"api="a",stage="prod",resource="/pets",method="POST""#
        let get = #"api="a",stage="prod",resource="/pets",method="GET""#
        let requests = Self.page { method.requests.write(to: &$0, labels: labels) }
        #expect(requests.contains("# TYPE sluice_method_requests_total counter\n"))
        #expect(requests.contains("sluice_method_requests_total{\(post),code=\"2xx\"} 1\n"))
        #expect(!requests.contains("sluice_requests_total"))
        let latencies = Self.page { method.latencies.write(to: &$0, labels: labels) }
        #expect(latencies.contains("sluice_method_integration_duration_seconds_bucket{\(get),le=\"0.0025\"} 1\n"))
        #expect(latencies.contains("# TYPE sluice_method_request_duration_seconds histogram\n"))
        // Only groups with labels (cached methods) have cache series.
        let cache = Self.page { method.cache.write(to: &$0, labels: [labels[0], nil]) }
        #expect(cache.contains("sluice_method_cache_requests_total{\(get),result=\"hit\"} 1\n"))
        #expect(cache.contains("sluice_method_cache_requests_total{\(get),result=\"miss\"} 1\n"))
        #expect(!cache.contains("POST"))
    }
}
