import ArgumentParser
import SluiceTemplates
import SluiceURing
import Yams

/// `sluice template`: renders a mapping template with values given on the command line, as the
/// gateway would for a request that carried them — to try a template without deploying it.
struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Render a mapping template (Velocity, as API Gateway runs it) with the values given.")

    @Argument(help: "The template file (or, with --cases, a JSON file of cases).")
    var file: String

    @Option(help: "A file whose content is the request body ($input.body, json, path).")
    var body: String?

    @Option(name: .customLong("param"), help: "A parameter: path.NAME=VALUE, querystring.NAME=VALUE or header.NAME=VALUE.")
    var parameters: [String] = []

    @Option(name: .customLong("context"), help: "A $context value: NAME=VALUE (identity.sourceIp=10.0.0.1).")
    var contextValues: [String] = []

    @Option(name: .customLong("stage-variable"), help: "A stage variable: NAME=VALUE.")
    var stageVariables: [String] = []

    @Flag(help: "FILE is a JSON array of cases ({template, body, params: {path, querystring, header}, context, stageVariables}); print one line per case: 'ok ' and the output in hex, or 'error'.")
    var cases = false

    func run() throws {
        let text = try read(file)
        var renderer = TemplateRenderer(outputBytesMax: 1 << 20, workBytesMax: 1 << 22)
        if cases {
            try runCases(String(decoding: text, as: UTF8.self), &renderer)
            return
        }
        let template: Template
        do {
            template = try TemplateCompiler.compile(String(decoding: text, as: UTF8.self)) { warning in
                printError("\(file):\(warning.line):\(warning.column): warning: \(warning.message)")
            }
        } catch {
            printError("\(file):\(error.line):\(error.column): error: \(error.message)")
            throw ExitCode(1)
        }
        var sample = TemplateSample(body: try body.map(read) ?? [])
        for parameter in parameters {
            guard let (name, value) = split(parameter), let dot = name.firstIndex(of: "."),
                  let kind = Self.kind(String(name[..<dot])) else {
                printError("sluice: --param takes path.NAME=VALUE, querystring.NAME=VALUE or header.NAME=VALUE")
                throw ExitCode(2)
            }
            sample.parameters.append((kind, String(name[name.index(after: dot)...]), value))
        }
        for entry in contextValues {
            guard let (name, value) = split(entry) else { throw ValidationError("--context takes NAME=VALUE") }
            sample.context[name] = value
        }
        for entry in stageVariables {
            guard let (name, value) = split(entry) else { throw ValidationError("--stage-variable takes NAME=VALUE") }
            sample.stageVariables.append((name, value))
        }
        guard sample.render(template, with: &renderer) == .rendered else {
            printError("sluice: the output is larger than 1 MiB")
            throw ExitCode(1)
        }
        StandardOutput.write(renderer.output)
        if let status = renderer.statusOverride { printError("responseOverride.status: \(status)") }
    }

    static func kind(_ name: String) -> TemplateRenderer.ParameterKind? {
        switch name {
        case "path": .path
        case "querystring": .querystring
        case "header": .header
        default: nil
        }
    }

    private func split(_ entry: String) -> (String, String)? {
        guard let equals = entry.firstIndex(of: "=") else { return nil }
        return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
    }

    private func read(_ path: String) throws -> [UInt8] {
        switch SystemServices.readFile(path, bytesMax: 16 << 20) {
        case .success(let bytes): return bytes
        case .failure(let failure):
            printError("sluice: \(path): \(failure.message)")
            throw ExitCode(1)
        }
    }

    /// The differential test's batch: many cases, one process.
    private func runCases(_ json: String, _ renderer: inout TemplateRenderer) throws {
        guard let list = try Yams.load(yaml: json) as? [[String: Any]] else {
            throw ValidationError("--cases takes a JSON array of objects")
        }
        var lines = ""
        for item in list {
            var sample = TemplateSample(body: Array(((item["body"] as? String) ?? "").utf8))
            let params = item["params"] as? [String: Any] ?? [:]
            for kindName in ["path", "querystring", "header"] {
                for (name, value) in (params[kindName] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                    sample.parameters.append((Self.kind(kindName)!, name, "\(value)"))
                }
            }
            for (name, value) in item["context"] as? [String: Any] ?? [:] { sample.context[name] = "\(value)" }
            for (name, value) in (item["stageVariables"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
                sample.stageVariables.append((name, "\(value)"))
            }
            guard let text = item["template"] as? String, let template = try? TemplateCompiler.compile(text),
                  sample.render(template, with: &renderer) == .rendered else {
                lines += "error\n"
                continue
            }
            lines += "ok " + renderer.output.map { byte in
                let digits = Array("0123456789abcdef")
                return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
            }.joined() + "\n"
        }
        StandardOutput.write(Array(lines.utf8))
    }
}
