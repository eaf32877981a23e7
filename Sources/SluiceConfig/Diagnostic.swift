/// One problem found while loading a configuration, pointing at the file and line to fix.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public enum Severity: Sendable, Hashable {
        /// The configuration cannot be served.
        case error
        /// The configuration can be served, but something in it is ignored or answers 500.
        case warning
    }

    /// The file as the user named it: the path given to `ConfigLoader.load`, or an API definition
    /// path joined to that file's folder.
    public var file: String
    /// 1-based line; 0 when the problem concerns the file as a whole (it cannot be read).
    public var line: Int
    public var severity: Severity
    public var message: String

    public init(file: String, line: Int, severity: Severity, message: String) {
        self.file = file
        self.line = line
        self.severity = severity
        self.message = message
    }

    /// `FILE:LINE: error: message` or `FILE:LINE: warning: message`, the format compilers use, so
    /// that editors and CI annotate the line.
    public var description: String {
        "\(file):\(line): \(severity == .error ? "error" : "warning"): \(message)"
    }
}

/// Collects diagnostics while loading. Files are numbered in the order they are first reported
/// or registered, so that the final list can be sorted into file order, then line order.
final class DiagnosticLog {
    private(set) var entries: [(fileOrder: Int, sequence: Int, diagnostic: Diagnostic)] = []
    private var fileOrder: [String: Int] = [:]

    /// Gives `file` its place in the output order; later calls for the same file change nothing.
    func register(file: String) {
        if fileOrder[file] == nil { fileOrder[file] = fileOrder.count }
    }

    func error(_ file: String, _ line: Int, _ message: String) {
        add(Diagnostic(file: file, line: line, severity: .error, message: message))
    }

    func warning(_ file: String, _ line: Int, _ message: String) {
        add(Diagnostic(file: file, line: line, severity: .warning, message: message))
    }

    var hasErrors: Bool { entries.contains { $0.diagnostic.severity == .error } }

    /// The diagnostics in file order, then line order; diagnostics on the same line keep the order
    /// in which they were found.
    var sorted: [Diagnostic] {
        entries.sorted { lhs, rhs in
            if lhs.fileOrder != rhs.fileOrder { return lhs.fileOrder < rhs.fileOrder }
            if lhs.diagnostic.line != rhs.diagnostic.line { return lhs.diagnostic.line < rhs.diagnostic.line }
            return lhs.sequence < rhs.sequence
        }.map(\.diagnostic)
    }

    private func add(_ diagnostic: Diagnostic) {
        register(file: diagnostic.file)
        entries.append((fileOrder[diagnostic.file]!, entries.count, diagnostic))
    }
}
