import SluiceConfig
import SluiceHTTP1
import SluiceCrypto
import SluiceURing

/// One deployment: a configuration as it was loaded (its input files, whole), for rollbacks and
/// canaries from the history.
struct DeploymentRecord {
    var id: String
    /// One more than the record before it: the history's order (wall-clock seconds may tie or
    /// step back).
    var sequence: Int = 0
    var createdEpochSeconds: Int64
    /// SHA-256 of the inputs (each path, a zero byte, its text, a zero byte), hex.
    var sha256: String
    /// What made it: `start`, `SIGHUP`, `POST /admin/reload`.
    var description: String
    var inputs: [(path: String, text: String)]
    /// Each API's definition file, by API name.
    var definitions: [(api: String, path: String)]

    /// API `api`'s definition in this deployment.
    func definition(api: String) -> DefinitionSource? {
        guard let path = definitions.first(where: { $0.api == api })?.path,
              let text = inputs.first(where: { $0.path == path })?.text else { return nil }
        return DefinitionSource(deploymentID: id, path: path, text: text)
    }

    /// The text of input `path`, as this deployment read it.
    func input(_ path: String) -> DefinitionSource? {
        inputs.first { $0.path == path }.map { DefinitionSource(deploymentID: id, path: $0.path, text: $0.text) }
    }
}

/// The last `keep` deployments, newest last: in memory, and in `state_dir/deployments` (one
/// file each, written atomically) when the state folder is in use, so that a restart keeps them.
/// Loading the same files again is the same deployment (its id is made of them): it moves to the
/// end rather than being recorded twice.
final class DeploymentHistory {
    static let header = "sluice-deployment 1"
    static let suffix = ".deployment"

    let folder: String?
    var keep: Int
    private(set) var records: [DeploymentRecord] = []

    init(folder: String?, keep: Int) {
        self.folder = folder
        self.keep = keep
    }

    /// Reads the recorded deployments back; a file that cannot be read is reported and skipped.
    func restore() -> [String] {
        guard let folder else { return [] }
        var lines: [String] = []
        let names: [String]
        do {
            names = try Files.list(folder).filter { $0.hasSuffix(DeploymentHistory.suffix) }
        } catch {
            return ["\(folder): \(error); the deployment history starts empty"]
        }
        for name in names {
            let path = folder + "/" + name
            do {
                guard let bytes = try Files.read(path, bytesMax: LoaderEnvironment.fileBytesMax * 4),
                      let record = DeploymentHistory.decode(bytes), name == record.id + DeploymentHistory.suffix,
                      !records.contains(where: { $0.id == record.id }) else {
                    lines.append("\(path): not a deployment record; skipped")
                    continue
                }
                records.append(record)
            } catch {
                lines.append("\(path): \(error); skipped")
            }
        }
        records.sort { $0.sequence < $1.sequence }
        trim()
        return lines
    }

    func record(id: String) -> DeploymentRecord? { records.first { $0.id == id } }

    /// The deployment recorded before `id`.
    func record(before id: String) -> DeploymentRecord? {
        guard let position = records.firstIndex(where: { $0.id == id }), position > 0 else { return nil }
        return records[position - 1]
    }

    /// Records a loaded deployment; returns a problem to report when it could not be written
    /// (it is kept in memory all the same).
    func add(_ deployment: Deployment, inputs: [(path: String, text: String)], description: String) -> String? {
        records.removeAll { $0.id == deployment.id }
        var hashed: [UInt8] = []
        // In path order, as the id is made.
        for input in inputs.sorted(by: { $0.path < $1.path }) {
            hashed += Array(input.path.utf8) + [0] + Array(input.text.utf8) + [0]
        }
        var digest: [UInt8] = []
        SHA256.digest(hashed.span, into: &digest)
        let record = DeploymentRecord(
            id: deployment.id, sequence: (records.map(\.sequence).max() ?? 0) + 1,
            createdEpochSeconds: Clock.realtimeNanoseconds() / 1_000_000_000,
            sha256: digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(), description: description,
            inputs: inputs,
            definitions: deployment.definitionFiles.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        records.append(record)
        let problem = write(record)
        trim()
        return problem
    }

    private func write(_ record: DeploymentRecord) -> String? {
        guard let folder else { return nil }
        do {
            try Files.makeFolder(folder)
            try Files.replace(folder + "/" + record.id + DeploymentHistory.suffix, with: DeploymentHistory.encode(record))
            return nil
        } catch {
            return "cannot record deployment \(record.id) in \(folder): \(error)"
        }
    }

    private func trim() {
        while records.count > keep {
            let dropped = records.removeFirst()
            if let folder { try? Files.remove(folder + "/" + dropped.id + DeploymentHistory.suffix) }
        }
    }

    // MARK: The record file

    /// `sluice-deployment 1`, then `id`, `created`, `sha256`, `description` and `api` lines
    /// (tab-separated, names percent-encoded), then each input as a `file PATH BYTES` line and
    /// its bytes, then `end`.
    static func encode(_ record: DeploymentRecord) -> [UInt8] {
        var text = header + "\n"
        text += "id\t\(record.id)\nsequence\t\(record.sequence)\ncreated\t\(record.createdEpochSeconds)\n"
        text += "sha256\t\(record.sha256)\n"
        text += "description\t\(escaped(record.description))\n"
        for definition in record.definitions { text += "api\t\(escaped(definition.api))\t\(escaped(definition.path))\n" }
        var bytes = Array(text.utf8)
        for input in record.inputs {
            let body = Array(input.text.utf8)
            bytes += Array("file\t\(escaped(input.path))\t\(body.count)\n".utf8) + body + [UInt8(ascii: "\n")]
        }
        return bytes + Array("end\n".utf8)
    }

    static func decode(_ bytes: [UInt8]) -> DeploymentRecord? {
        var position = 0
        func line() -> String? {
            guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
            defer { position = end + 1 }
            return String(decoding: bytes[position..<end], as: UTF8.self)
        }
        guard line() == header else { return nil }
        var record = DeploymentRecord(id: "", createdEpochSeconds: 0, sha256: "", description: "", inputs: [],
                                      definitions: [])
        while let text = line() {
            let fields = text.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch fields.first {
            case "id" where fields.count == 2:
                // Six lowercase letters and digits, as the loader makes them (it names the file).
                guard fields[1].utf8.count == 6, fields[1].utf8.allSatisfy({ ("a"..."z").contains(Character(UnicodeScalar($0)))
                    || ("0"..."9").contains(Character(UnicodeScalar($0))) }) else { return nil }
                record.id = fields[1]
            case "sequence" where fields.count == 2: record.sequence = Int(fields[1]) ?? 0
            case "created" where fields.count == 2: record.createdEpochSeconds = Int64(fields[1]) ?? 0
            case "sha256" where fields.count == 2: record.sha256 = fields[1]
            case "description" where fields.count == 2: record.description = unescaped(fields[1])
            case "api" where fields.count == 3: record.definitions.append((unescaped(fields[1]), unescaped(fields[2])))
            case "file" where fields.count == 3:
                guard let count = Int(fields[2]), count >= 0, count < bytes.count - position,
                      bytes[position + count] == UInt8(ascii: "\n") else { return nil }
                record.inputs.append((unescaped(fields[1]),
                                      String(decoding: bytes[position..<position + count], as: UTF8.self)))
                position += count + 1
            case "end":
                return record.id.isEmpty ? nil : record
            default:
                return nil
            }
        }
        return nil
    }

    /// A field made safe for a line (`PercentDecoding.fieldEscaped`), and read back; a field
    /// that does not decode is kept as written (the record's checks refuse what matters).
    static func escaped(_ text: String) -> String { PercentDecoding.fieldEscaped(text) }

    static func unescaped(_ text: String) -> String { PercentDecoding.decode(Substring(text)) ?? text }
}
