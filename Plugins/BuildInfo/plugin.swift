import Foundation
import PackagePlugin

/// Writes `BuildInfo.generated.swift` before every build of the target that uses it: the commit
/// the build is made from (`git rev-parse`, or `unknown` outside a clone), for `sluice --version`
/// and `sluice_build_info`.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "Generated")
        let file = output.appending(path: "BuildInfo.generated.swift").path
        let repository = context.package.directoryURL.path
        let script = """
            mkdir -p '\(output.path)'
            commit=$(git -C '\(repository)' rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
            line="let buildCommit = \\"$commit\\""
            [ -f '\(file)' ] && [ "$(cat '\(file)')" = "$line" ] || printf '%s\\n' "$line" > '\(file)'
            """
        return [.prebuildCommand(displayName: "Build info (commit)", executable: URL(filePath: "/bin/sh"),
                                 arguments: ["-c", script], outputFilesDirectory: output)]
    }
}
