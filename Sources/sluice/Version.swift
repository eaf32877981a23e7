import SluiceSupervisor

/// What this build is: `sluice --version`, and `sluice_build_info` on `/metrics`.
enum Version {
    static let number = "0.3.0"

    static var facts: BuildFacts {
        BuildFacts(version: number, commit: buildCommit, swift: swiftVersion)
    }

    /// The compiler the build was made with (as `#if compiler` can tell it).
    static var swiftVersion: String {
        #if compiler(>=6.4)
        "6.4+"
        #elseif compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #else
        "6.1"
        #endif
    }
}
