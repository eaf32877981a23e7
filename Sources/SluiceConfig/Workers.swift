import Yams

/// The accepted range of each per-worker setting. Powers of two where the kernel or a ring mask
/// needs them.
enum WorkerRanges {
    static let ringEntries = 8...32_768
    static let recvBuffers = 1...32_768
    static let recvBufferBytes = 512...1_048_576
    static let maxConnections = 1...1_048_576
    /// More workers than this is a typo, not a plan.
    static let count = 1...1_024
}

/// `workers.defaults` or one `workers.per_cpu` entry: only the keys that were written.
struct TuningOverrides {
    var ringEntries: Int?
    var recvBuffers: Int?
    var recvBufferBytes: Int?
    var maxConnections: Int?

    func applied(to tuning: WorkerTuning) -> WorkerTuning {
        var result = tuning
        if let ringEntries { result.ringEntries = ringEntries }
        if let recvBuffers { result.recvBuffers = recvBuffers }
        if let recvBufferBytes { result.recvBufferBytes = recvBufferBytes }
        if let maxConnections { result.maxConnections = maxConnections }
        return result
    }
}

/// Reads `workers:` and resolves it against the CPUs this process may run on.
struct WorkersSection {
    let reader: ConfigReader

    func resolve(_ node: Node?, allowedCPUs: [Int]) -> WorkerPlan? {
        var count: Int?
        var countLine = 0
        var cpus: [(cpu: Int, line: Int)]?
        var defaults = TuningOverrides()
        var perCPU: [(cpu: Int, line: Int, overrides: TuningOverrides)] = []
        var valid = true

        if let node, let entries = reader.mapping(node, "workers") {
            for (key, value) in entries {
                switch key.text ?? "" {
                case "count":
                    countLine = value.line
                    if value.text == "auto" { break }
                    if let number = reader.integer(value, "workers.count", in: WorkerRanges.count) {
                        count = number
                    } else {
                        valid = false
                    }
                case "cpus":
                    if value.text == "auto" { break }
                    guard case .sequence(let list) = value else {
                        reader.log.error(reader.file, value.line,
                                         "workers.cpus must be 'auto' or a list of CPU numbers, not \(value.kindName)")
                        valid = false
                        break
                    }
                    var listed: [(cpu: Int, line: Int)] = []
                    var seen: Set<Int> = []
                    for item in list {
                        guard let cpu = reader.integer(item, "a CPU number", in: 0...65_535) else {
                            valid = false
                            continue
                        }
                        if !allowedCPUs.contains(cpu) {
                            reader.log.error(reader.file, item.line,
                                             "CPU \(cpu) is not available to this process (allowed: "
                                             + "\(Self.describe(allowedCPUs)))")
                            valid = false
                            continue
                        }
                        if !seen.insert(cpu).inserted {
                            reader.log.warning(reader.file, item.line,
                                               "CPU \(cpu) is listed twice; two workers will share it")
                        }
                        listed.append((cpu, item.line))
                    }
                    if list.isEmpty {
                        reader.log.error(reader.file, value.line, "workers.cpus must list at least one CPU")
                        valid = false
                    }
                    cpus = listed
                case "defaults":
                    guard let overrides = tuning(value, "workers.defaults") else {
                        valid = false
                        break
                    }
                    defaults = overrides
                case "per_cpu":
                    guard let cpuEntries = reader.mapping(value, "workers.per_cpu") else {
                        valid = false
                        break
                    }
                    for (cpuKey, cpuValue) in cpuEntries {
                        guard let cpuText = cpuKey.text, let cpu = ConfigReader.parseInteger(cpuText), cpu >= 0 else {
                            reader.log.error(reader.file, cpuKey.line,
                                             "workers.per_cpu keys must be CPU numbers, not '\(cpuKey.text ?? "?")'")
                            valid = false
                            continue
                        }
                        guard let overrides = tuning(cpuValue, "workers.per_cpu.\(cpu)") else {
                            valid = false
                            continue
                        }
                        perCPU.append((cpu, cpuKey.line, overrides))
                    }
                default:
                    reader.unknownKey(key, in: "workers")
                }
            }
        }
        guard valid else { return nil }

        let pinned: [Int] = cpus.map { $0.map(\.cpu) } ?? allowedCPUs
        guard !pinned.isEmpty else {
            reader.log.error(reader.file, countLine, "no CPU is available to run workers on")
            return nil
        }
        // With an explicit CPU list, `count: auto` means one worker per listed CPU; otherwise one
        // per CPU the process may run on. A count larger than the list wraps around it.
        let workerCount = count ?? pinned.count
        let base = defaults.applied(to: WorkerTuning(cpu: 0))
        var slots: [WorkerTuning] = []
        slots.reserveCapacity(workerCount)
        for index in 0..<workerCount {
            var slot = base
            slot.cpu = pinned[index % pinned.count]
            for entry in perCPU where entry.cpu == slot.cpu {
                slot = entry.overrides.applied(to: slot)
            }
            slots.append(slot)
        }
        let usedCPUs = Set(slots.map(\.cpu))
        for entry in perCPU where !usedCPUs.contains(entry.cpu) {
            reader.log.warning(reader.file, entry.line,
                               "workers.per_cpu.\(entry.cpu) applies to no worker (workers run on CPUs "
                               + "\(Self.describe(Array(usedCPUs).sorted())))")
        }
        return WorkerPlan(slots: slots)
    }

    /// Reads one tuning mapping; nil when any value is invalid (each is reported).
    private func tuning(_ node: Node, _ section: String) -> TuningOverrides? {
        guard let entries = reader.mapping(node, section) else { return nil }
        var overrides = TuningOverrides()
        var valid = true
        for (key, value) in entries {
            let name = key.text ?? ""
            let what = "\(section).\(name)"
            switch name {
            case "ring_entries":
                overrides.ringEntries = reader.powerOfTwo(value, what, in: WorkerRanges.ringEntries)
                valid = valid && overrides.ringEntries != nil
            case "recv_buffers":
                overrides.recvBuffers = reader.powerOfTwo(value, what, in: WorkerRanges.recvBuffers)
                valid = valid && overrides.recvBuffers != nil
            case "recv_buffer_bytes":
                overrides.recvBufferBytes = reader.integer(value, what, in: WorkerRanges.recvBufferBytes, unit: "bytes")
                valid = valid && overrides.recvBufferBytes != nil
            case "max_connections":
                overrides.maxConnections = reader.integer(value, what, in: WorkerRanges.maxConnections)
                valid = valid && overrides.maxConnections != nil
            default:
                reader.unknownKey(key, in: section)
            }
        }
        return valid ? overrides : nil
    }

    /// `0-3,6`: CPU numbers as the kernel's cpu lists spell them.
    static func describe(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        while index < cpus.count {
            var last = index
            while last + 1 < cpus.count && cpus[last + 1] == cpus[last] + 1 { last += 1 }
            parts.append(last == index ? "\(cpus[index])" : "\(cpus[index])-\(cpus[last])")
            index = last + 1
        }
        return parts.isEmpty ? "none" : parts.joined(separator: ",")
    }
}
