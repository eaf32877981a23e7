import ArgumentParser
import SluiceConfig
import SluiceSupervisor
import SluiceURing

/// `sluice serve` and `sluice check` (see DESIGN.md §1).
struct Sluice: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A self-hosted API gateway data plane that runs Amazon API Gateway definitions.",
        version: Version.facts.description,
        subcommands: [Serve.self, Check.self, TemplateCommand.self],
        defaultSubcommand: Serve.self)
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway in the foreground (the built-in demo configuration without -c).")

    @Option(name: [.short, .customLong("config")], help: "The sluice.yaml to serve.")
    var config: String?

    @Flag(help: "Refuse to serve a configuration with warnings, as `check --strict` does.")
    var strict = false

    func run() throws {
        let environment = LoaderEnvironment.system
        // Run again on each reload (SIGHUP): the files are read, names resolved and everything
        // compiled anew.
        let load: ([StageOverride]) -> LoadResult = { [config] overrides in
            config.map { ConfigLoader.load(path: $0, environment: environment, overrides: overrides) }
                ?? ConfigLoader.loadDemo(allowedCPUs: environment.allowedCPUs, resolver: environment.resolver)
        }
        let result = load([])
        for diagnostic in result.diagnostics { printError(diagnostic.description) }
        guard let deployment = result.deployment else {
            printError("sluice: the configuration has errors; not serving")
            throw ExitCode(1)
        }
        guard !strict || result.warnings.isEmpty else {
            printError("sluice: --strict: the configuration has warnings; not serving")
            throw ExitCode(1)
        }
        if config == nil { printError("sluice: serving the built-in demo configuration (use -c FILE for your own)") }
        // No thread has been started: the supervisor forks from here.
        printError("sluice: \(Version.facts.description)")
        let status = Supervisor(deployment: deployment, inputs: result.inputs, build: Version.facts, strict: strict,
                                reloader: load).run()
        throw ExitCode(status)
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a configuration and its API definitions; print FILE:LINE: message for each problem.")

    @Option(name: [.short, .customLong("config")], help: "The sluice.yaml to check.")
    var config: String

    @Flag(help: "Treat every warning as an error (exit 1): for CI, where nothing should answer 500 by surprise.")
    var strict = false

    func run() throws {
        let result = ConfigLoader.load(path: config, environment: .system)
        for diagnostic in result.diagnostics {
            var diagnostic = diagnostic
            if strict { diagnostic.severity = .error }
            print(diagnostic.description)
        }
        guard let deployment = result.deployment, !(strict && !result.warnings.isEmpty) else { throw ExitCode(1) }
        // The access logs the workers will write: each must open (created if missing).
        var unwritable = false
        for stage in deployment.stages {
            guard let log = stage.accessLog else { continue }
            do {
                try Files.checkAppendable(log.path)
            } catch {
                print("\(config): error: access log of stage '\(stage.name)' of API '\(deployment.apis[stage.api].name)': "
                      + "\(error)")
                unwritable = true
            }
        }
        if unwritable { throw ExitCode(1) }
        // The memory it takes, and whether this machine has it.
        let memory = MemoryPlan(deployment)
        print("\(config): \(memory.summary)")
        if let refusal = memory.refusal(memoryBytes: SystemServices.memoryBytes()) {
            print("\(config): error: \(refusal)")
            throw ExitCode(1)
        }
        print("\(config): OK: \(deployment.apis.count) API(s), \(deployment.stages.count) stage(s), "
              + "\(deployment.operations.count) operation(s), \(deployment.workers.slots.count) worker(s)")
    }
}

func printError(_ line: String) {
    StandardError.write(line)
}

Sluice.main()
