import SluiceConfig
import SluiceHTTP1
import SluiceThrottle
import SluiceURing

/// The quota counts kept durable in `state_dir/quotas.journal`: the coordinator replaces the
/// file every half second when a count changed, the supervisor once more after the last worker has
/// stopped, and the supervisor restores it before it forks anyone.
///
/// The file is text, one line per counted (plan, key), then a line with the entry count and a
/// checksum (FNV-1a, 64 bits) of everything before it:
///
///     sluice-quota-journal 1
///     gold<TAB>alice<TAB>DAY<TAB>0<TAB>20413<TAB>1234
///     end<TAB>1<TAB>5c1e…
///
/// Entries name plans and keys, not indices, so a changed configuration keeps the counts of the
/// plans and keys it still has (with the same period and offset). A journal that does not end
/// with a matching checksum is reported and set aside, never half-read.
public struct QuotaJournal: Sendable {
    public static let fileName = "quotas.journal"
    static let header = "sluice-quota-journal 1"
    /// A journal can hold one line per subscription; far beyond that is not ours.
    static let bytesMax = 256 << 20

    public let path: String
    let plan: ThrottlePlan
    let deployment: Deployment

    public init(deployment: Deployment, plan: ThrottlePlan) {
        path = deployment.stateDirectory.hasSuffix("/")
            ? deployment.stateDirectory + QuotaJournal.fileName : deployment.stateDirectory + "/" + QuotaJournal.fileName
        self.plan = plan
        self.deployment = deployment
    }

    /// Whether any key is in a plan with a quota; otherwise there is nothing to keep.
    public var isNeeded: Bool {
        plan.subscriptionPlan.contains { plan.planQuota[Int($0)] != nil }
    }

    public struct Entry: Equatable, Sendable {
        public var plan: String
        public var key: String
        public var period: QuotaPeriodSetting
        public var offset: Int
        /// The period counted (as the counter word holds it) and its count.
        public var periodIndex: Int
        public var count: Int
    }

    // MARK: Writing

    /// The counters' present values, by plan and key name: what a journal holds, and what a
    /// reload carries into a new configuration's counters (`apply`).
    public func entries(_ quotas: QuotaCounters) -> [Entry] {
        var entries: [Entry] = []
        for subscription in 0..<plan.subscriptionCount {
            let planIndex = Int(plan.subscriptionPlan[subscription])
            guard let quota = plan.planQuota[planIndex] else { continue }
            let word = quotas.words.load(subscription)
            guard word != 0 else { continue }
            entries.append(Entry(plan: deployment.usagePlans[planIndex].name,
                                 key: deployment.apiKeys[Int(plan.subscriptionKey[subscription])].name,
                                 period: quota.period, offset: quota.offset,
                                 periodIndex: Int(word >> QuotaCounters.countBits),
                                 count: Int(word & QuotaCounters.countMask)))
        }
        return entries
    }

    /// The journal for the counters' present values.
    public func encode(_ quotas: QuotaCounters) -> [UInt8] {
        var text = QuotaJournal.header + "\n"
        let entries = entries(quotas)
        for entry in entries {
            text += "\(PercentDecoding.fieldEscaped(entry.plan))\t\(PercentDecoding.fieldEscaped(entry.key))\t"
                + "\(entry.period.rawValue)\t\(entry.offset)\t\(entry.periodIndex)\t\(entry.count)\n"
        }
        var bytes = Array(text.utf8)
        let checksum = HTTPBytes.fnv1a(bytes.span)
        bytes += Array("end\t\(entries.count)\t\(String(checksum, radix: 16))\n".utf8)
        return bytes
    }

    /// Writes the journal (atomically: the old one stays whole until the new one is).
    public func save(_ quotas: QuotaCounters) throws(SystemError) {
        try Files.replace(path, with: encode(quotas))
    }

    // MARK: Reading

    public enum ReadError: Error, Equatable, CustomStringConvertible {
        case corrupt(String)

        public var description: String {
            switch self {
            case .corrupt(let reason): reason
            }
        }
    }

    /// The entries of a journal, or why it cannot be trusted.
    public static func decode(_ bytes: [UInt8]) -> Result<[Entry], ReadError> {
        guard let text = String(validating: bytes, as: UTF8.self) else { return .failure(.corrupt("not UTF-8 text")) }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(header) else { return .failure(.corrupt("it does not start with '\(header)'")) }
        guard text.hasSuffix("\n"), lines.count >= 3 else { return .failure(.corrupt("it is truncated")) }
        let endLine = lines[lines.count - 2]
        let endFields = endLine.split(separator: "\t", omittingEmptySubsequences: false)
        guard endFields.count == 3, endFields[0] == "end", let expectedCount = Int(endFields[1]),
              let expectedChecksum = UInt64(endFields[2], radix: 16) else {
            return .failure(.corrupt("it is truncated (no end line)"))
        }
        let bodyLength = bytes.count - endLine.utf8.count - 1
        guard HTTPBytes.fnv1a(bytes.span.extracting(0..<bodyLength)) == expectedChecksum else {
            return .failure(.corrupt("its checksum does not match"))
        }
        var entries: [Entry] = []
        for (number, line) in lines[1..<(lines.count - 2)].enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 6, let planName = PercentDecoding.decode(fields[0]), let keyName = PercentDecoding.decode(fields[1]),
                  let period = QuotaPeriodSetting(rawValue: String(fields[2])), let offset = Int(fields[3]),
                  let periodIndex = Int(fields[4]), periodIndex >= 0, let count = Int(fields[5]), count >= 0,
                  UInt64(periodIndex) <= QuotaCounters.periodMask, UInt64(count) <= QuotaCounters.countMask else {
                return .failure(.corrupt("line \(number + 2) is not an entry"))
            }
            entries.append(Entry(plan: planName, key: keyName, period: period, offset: offset, periodIndex: periodIndex,
                                 count: count))
        }
        guard entries.count == expectedCount else { return .failure(.corrupt("it has \(entries.count) entries, not \(expectedCount)")) }
        return .success(entries)
    }

    /// Sets the counters from the journal's entries that still mean the same quota: the same
    /// plan and key, the plan's period and offset unchanged. Returns how many it set.
    public func apply(_ entries: [Entry], to quotas: QuotaCounters) -> Int {
        var applied = 0
        for entry in entries {
            guard let subscription = subscription(of: entry) else { continue }
            quotas.set(subscription, period: entry.periodIndex, count: entry.count)
            applied += 1
        }
        return applied
    }

    /// Adds to the counters what was counted under an earlier configuration after its counts
    /// were carried over (`handover`: its counts then; `final`: its counts at its end).
    public func addCounted(after handover: [Entry], upTo final: [Entry], into quotas: QuotaCounters) {
        for entry in final {
            guard let subscription = subscription(of: entry) else { continue }
            let before = handover.first {
                $0.plan == entry.plan && $0.key == entry.key && $0.periodIndex == entry.periodIndex
            }?.count ?? 0
            quotas.add(subscription, period: entry.periodIndex, count: entry.count - before)
        }
    }

    /// The counter of an entry's plan and key, when the plan's quota still has its period and
    /// offset.
    func subscription(of entry: Entry) -> Int? {
        guard let planIndex = deployment.usagePlans.firstIndex(where: { $0.name == entry.plan }),
              let keyIndex = deployment.apiKeys.firstIndex(where: { $0.name == entry.key }),
              let quota = plan.planQuota[planIndex], quota.period == entry.period, quota.offset == entry.offset
        else { return nil }
        let subscription = plan.subscription(key: keyIndex, plan: planIndex)
        return subscription >= 0 ? subscription : nil
    }

    /// What `restore` did: the lines to log, and whether the journal could not be read or
    /// trusted (and was moved aside).
    public struct Restored: Equatable, Sendable {
        public var lines: [String]
        public var unreadable: Bool
    }

    /// Restores the counters from the journal, when there is one. A journal that cannot be read
    /// or trusted (corrupt, not a regular file) is moved aside (`quotas.journal.corrupt-EPOCHSECONDS`,
    /// never over an earlier one) and reported; counting starts from 0.
    public func restore(into quotas: QuotaCounters, epochSeconds: Int) -> Restored {
        let problem: String
        do {
            guard let bytes = try Files.read(path, bytesMax: QuotaJournal.bytesMax) else {
                return Restored(lines: [], unreadable: false)
            }
            switch QuotaJournal.decode(bytes) {
            case .success(let entries):
                let applied = apply(entries, to: quotas)
                return Restored(lines: ["\(path): restored the quota counts of \(applied) key(s)"], unreadable: false)
            case .failure(let error):
                problem = "the quota journal is corrupt (\(error))"
            }
        } catch {
            problem = "cannot read the quota journal (\(error))"
        }
        var lines = ["\(path): \(problem); quota counts start from 0"]
        do {
            let aside = try Files.keepAside(path, as: "\(path).corrupt-\(epochSeconds)")
            lines.append("\(path): kept as \(aside)")
        } catch {
            lines.append("\(path): cannot keep it aside (\(error)); it will be replaced")
        }
        return Restored(lines: lines, unreadable: true)
    }
}
