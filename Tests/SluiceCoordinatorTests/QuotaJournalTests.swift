import Glibc
import SluiceConfig
import SluiceThrottle
import Testing
@testable import SluiceCoordinator

@Suite("Quota journal")
struct QuotaJournalTests {
    static let day = 20_000

    func deployment(stateDirectory: String = "/tmp", period: QuotaPeriodSetting = .day) -> Deployment {
        var deployment = Deployment(stateDirectory: stateDirectory)
        deployment.apis = [API(name: "api", definitionFile: "api.yaml")]
        deployment.operations = [Operation(api: 0, resourcePath: "/a", method: "GET", integration: .unsupported("test"),
                                           apiKeyRequired: true)]
        deployment.stages = [Stage(api: 0, name: "prod")]
        deployment.usagePlans = [
            UsagePlan(name: "gold\tplan", stages: [PlanStage(stage: 0)], quota: QuotaSettings(limit: 100, period: period)),
            UsagePlan(name: "free", stages: [PlanStage(stage: 0)]),
        ]
        deployment.apiKeys = [
            APIKey(name: "alice%1", digest: Array(repeating: 1, count: 32), plans: [0]),
            APIKey(name: "bob", digest: Array(repeating: 2, count: 32), plans: [0]),
            APIKey(name: "carol", digest: Array(repeating: 3, count: 32), plans: [1]),
        ]
        return deployment
    }

    func counters(_ deployment: Deployment) throws -> (QuotaJournal, QuotaCounters) {
        let plan = ThrottlePlan(deployment: deployment)
        let gate = Gate(plan: plan, zones: try ThrottleZones(plan: plan))
        return (QuotaJournal(deployment: deployment, plan: plan), gate.quotas)
    }

    @Test func countsRoundTripByPlanAndKeyName() throws {
        let (journal, quotas) = try counters(deployment())
        quotas.set(0, period: Self.day, count: 42)
        let bytes = journal.encode(quotas)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("sluice-quota-journal 1\ngold%09plan\talice%251\tDAY\t0\t20000\t42\nend\t1\t"))
        let entries = try QuotaJournal.decode(bytes).get()
        #expect(entries == [QuotaJournal.Entry(plan: "gold\tplan", key: "alice%1", period: .day, offset: 0,
                                               periodIndex: Self.day, count: 42)])
        let (restored, fresh) = try counters(deployment())
        #expect(restored.apply(entries, to: fresh) == 1)
        #expect(fresh.used(0, period: Self.day) == 42)
        #expect(fresh.used(1, period: Self.day) == 0)
        // A plan whose period changed does not take old counts.
        let (weekly, weeklyCounters) = try counters(deployment(period: .week))
        #expect(weekly.apply(entries, to: weeklyCounters) == 0)
    }

    @Test func anyDamageIsDetected() throws {
        let (journal, quotas) = try counters(deployment())
        quotas.set(0, period: Self.day, count: 42)
        quotas.set(1, period: Self.day, count: 7)
        let good = journal.encode(quotas)
        #expect((try? QuotaJournal.decode(good).get())?.count == 2)
        var damaged: [[UInt8]] = [[], Array("garbage".utf8), Array(good.dropLast()), Array(good.dropLast(9))]
        // Every truncation, and a changed digit anywhere.
        for length in stride(from: 0, to: good.count, by: 7) { damaged.append(Array(good.prefix(length))) }
        if let digit = good.firstIndex(of: UInt8(ascii: "4")) {
            var changed = good
            changed[digit] = UInt8(ascii: "5")
            damaged.append(changed)
        }
        var withoutEntry = Array(String(decoding: good, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false))
        withoutEntry.remove(at: 1)
        damaged.append(Array(withoutEntry.joined(separator: "\n").utf8))
        for bytes in damaged {
            guard case .failure = QuotaJournal.decode(bytes) else {
                Issue.record("accepted: \(String(decoding: bytes, as: UTF8.self))")
                continue
            }
        }
    }

    @Test func restoreSetsACorruptJournalAside() throws {
        var template = Array("/tmp/sluice-journal-XXXXXX".utf8CString)
        let folder = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        defer {
            for name in ["quotas.journal", "quotas.journal.corrupt-77", "quotas.journal.corrupt-77-1"] { unlink(folder + "/" + name) }
            rmdir(folder)
        }
        let (journal, quotas) = try counters(deployment(stateDirectory: folder))
        #expect(journal.restore(into: quotas, epochSeconds: 77).lines == [])
        quotas.set(1, period: Self.day, count: 9)
        try journal.save(quotas)
        let (again, fresh) = try counters(deployment(stateDirectory: folder))
        #expect(again.restore(into: fresh, epochSeconds: 77).lines == ["\(folder)/quotas.journal: restored the quota counts of 1 key(s)"])
        #expect(fresh.used(1, period: Self.day) == 9)

        let file = fopen(folder + "/quotas.journal", "w")
        fputs("sluice-quota-journal 1\nfree\tbob", file)
        fclose(file)
        let (broken, empty) = try counters(deployment(stateDirectory: folder))
        let restored = broken.restore(into: empty, epochSeconds: 77)
        #expect(restored.unreadable)
        let lines = restored.lines
        #expect(lines.first?.contains("the quota journal is corrupt (it is truncated") == true)
        #expect(lines.last == "\(folder)/quotas.journal: kept as \(folder)/quotas.journal.corrupt-77")
        #expect(access(folder + "/quotas.journal.corrupt-77", F_OK) == 0)
        #expect(access(folder + "/quotas.journal", F_OK) != 0)
        #expect(empty.used(1, period: Self.day) == 0)
        // A later corrupt journal does not replace the one kept before.
        let second = fopen(folder + "/quotas.journal", "w")
        fputs("garbage", second)
        fclose(second)
        #expect(broken.restore(into: empty, epochSeconds: 77).lines.last == "\(folder)/quotas.journal: kept as \(folder)/quotas.journal.corrupt-77-1")
        #expect(access(folder + "/quotas.journal.corrupt-77", F_OK) == 0)
    }
}
