import Yams

/// Parsing YAML and JSON into Yams nodes, and the small typed readers the loaders share.
///
/// Both sluice.yaml and the API definitions go through Yams' composer, which keeps each node's
/// line (`Node.mark`): that is what lets every diagnostic name its FILE:LINE. JSON is read as YAML
/// (JSON is, almost, a subset of YAML 1.2); `parse` papers over the one difference real exports
/// hit, tabs.
enum YAMLSupport {
    /// Parses one document. Reports a syntax error with its line and returns nil.
    static func parse(_ text: String, file: String, log: DiagnosticLog) -> Node? {
        var source = text
        // JSON allows tabs wherever it allows spaces; YAML refuses them as indentation. A raw tab
        // cannot occur inside a JSON string (it must be escaped as \t), so in a JSON document
        // every tab is whitespace and can become a space without moving any line.
        if looksLikeJSON(text) && text.utf8.contains(UInt8(ascii: "\t")) {
            source = String(decoding: text.utf8.map { $0 == UInt8(ascii: "\t") ? UInt8(ascii: " ") : $0 },
                            as: UTF8.self)
        }
        do {
            guard let node = try Yams.compose(yaml: source) else {
                log.error(file, 1, "the file is empty")
                return nil
            }
            return node
        } catch let error as YamlError {
            report(error, text: source, file: file, log: log)
            return nil
        } catch {
            log.error(file, 0, "cannot parse: \(error)")
            return nil
        }
    }

    /// Whether the document starts (after whitespace and a byte order mark) with `{` or `[`.
    static func looksLikeJSON(_ text: String) -> Bool {
        for scalar in text.unicodeScalars {
            switch scalar {
            case " ", "\t", "\n", "\r", "\u{FEFF}": continue
            case "{", "[": return true
            default: return false
            }
        }
        return false
    }

    private static func report(_ error: YamlError, text: String, file: String, log: DiagnosticLog) {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            var message = "invalid YAML: \(problem)"
            if let context {
                message += " (\(context.text) at line \(context.mark.line))"
            }
            log.error(file, mark.line, message)
        case .reader(let problem, let offset, _, _):
            // The offset counts Characters from the start of the text.
            var line = 1
            if let offset {
                for character in text.prefix(offset) where character.isNewline { line += 1 }
            }
            log.error(file, offset == nil ? 0 : line, "cannot read the text: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let key = duplicates.first ?? "?"
            let first = context.mark.line
            if let again = repeatedKeyLine(text: text, after: context.mark) {
                log.error(file, again, "duplicate key '\(key)' (first at line \(first))")
            } else {
                log.error(file, first, "duplicate key '\(key)' in this mapping")
            }
        default:
            log.error(file, 0, "cannot parse: \(error)")
        }
    }

    /// Yams reports a duplicate key at its first occurrence; the user wants the second one. Looks
    /// for the same key text at the same column further down.
    private static func repeatedKeyLine(text: String, after mark: Mark) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard mark.line >= 1, mark.line <= lines.count else { return nil }
        func keyText(_ line: Substring) -> Substring? {
            let scalars = line.unicodeScalars
            guard let start = scalars.index(scalars.startIndex, offsetBy: mark.column - 1,
                                            limitedBy: scalars.endIndex) else { return nil }
            let rest = Substring(scalars[start...])
            guard let colon = rest.firstIndex(of: ":") else { return nil }
            let key = rest[..<colon]
            return key.isEmpty || key.first == " " ? nil : key
        }
        guard let first = keyText(lines[mark.line - 1]) else { return nil }
        for index in mark.line..<lines.count where keyText(lines[index]) == first {
            return index + 1
        }
        return nil
    }
}

extension Node {
    /// The 1-based line where this node starts, or 0 if unknown.
    var line: Int { mark?.line ?? 0 }

    /// The scalar's text, or nil for a mapping or sequence. A null scalar gives nil too.
    var text: String? {
        guard case .scalar(let scalar) = self, !isNull else { return nil }
        return scalar.string
    }

    /// `~`, `null` or nothing at all (`key:`), unquoted.
    var isNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain else { return false }
        switch scalar.string {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// The mapping's entries in document order, or nil when this is not a mapping.
    var entries: [(key: Node, value: Node)]? {
        guard case .mapping(let mapping) = self else { return nil }
        return mapping.map { (key: $0.key, value: $0.value) }
    }

    /// A short name for the node's kind, for messages.
    var kindName: String {
        switch self {
        case .scalar: isNull ? "null" : "a scalar"
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        }
    }
}

/// Reads typed values out of sluice.yaml, reporting anything malformed against the file.
struct ConfigReader {
    let file: String
    let log: DiagnosticLog

    /// The mapping's entries; reports and returns nil when the node is not a mapping.
    func mapping(_ node: Node, _ what: String) -> [(key: Node, value: Node)]? {
        if let entries = node.entries { return entries }
        if node.isNull { return [] }
        log.error(file, node.line, "\(what) must be a mapping, not \(node.kindName)")
        return nil
    }

    /// A non-empty scalar's text; reports and returns nil otherwise.
    func string(_ node: Node, _ what: String) -> String? {
        if let text = node.text, !text.isEmpty { return text }
        log.error(file, node.line, "\(what) must be a non-empty string")
        return nil
    }

    /// A decimal integer in `range` (underscores allowed as digit separators, as in `10_000`).
    func integer(_ node: Node, _ what: String, in range: ClosedRange<Int>, unit: String = "") -> Int? {
        let suffix = unit.isEmpty ? "" : " \(unit)"
        guard let text = node.text, let value = Self.parseInteger(text) else {
            log.error(file, node.line, "\(what) must be an integer between \(range.lowerBound) and "
                      + "\(range.upperBound)\(suffix), not '\(node.text ?? node.kindName)'")
            return nil
        }
        guard range.contains(value) else {
            log.error(file, node.line, "\(what) must be between \(range.lowerBound) and \(range.upperBound)"
                      + "\(suffix), not \(value)")
            return nil
        }
        return value
    }

    /// `true` or `false`.
    func boolean(_ node: Node, _ what: String) -> Bool? {
        switch node.text {
        case "true": return true
        case "false": return false
        default:
            log.error(file, node.line, "\(what) must be true or false, not '\(node.text ?? node.kindName)'")
            return nil
        }
    }

    /// A power of two in `range`.
    func powerOfTwo(_ node: Node, _ what: String, in range: ClosedRange<Int>) -> Int? {
        guard let value = integer(node, what, in: range) else { return nil }
        guard value & (value - 1) == 0 else {
            log.error(file, node.line, "\(what) must be a power of two between \(range.lowerBound) and "
                      + "\(range.upperBound), not \(value)")
            return nil
        }
        return value
    }

    func unknownKey(_ key: Node, in section: String) {
        let name = key.text ?? "?"
        let place = section.isEmpty ? "" : " in \(section)"
        // An error, not a warning: a misspelt key (`lisen:`) would otherwise leave a default in
        // force that the user believes they changed.
        log.error(file, key.line, "unknown key '\(name)'\(place)")
    }

    func notSupportedYet(_ key: Node, _ name: String) {
        log.warning(file, key.line, "'\(name)' is not supported yet and is ignored")
    }

    /// Decimal digits with an optional sign and `_` separators; nothing else (no hex, no `1:30`).
    static func parseInteger(_ text: String) -> Int? {
        var digits = text
        var negative = false
        if digits.hasPrefix("-") || digits.hasPrefix("+") {
            negative = digits.hasPrefix("-")
            digits.removeFirst()
        }
        guard !digits.isEmpty, digits.first != "_", digits.last != "_",
              digits.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "_") }) else { return nil }
        guard let magnitude = Int(digits.filter { $0 != "_" }) else { return nil }
        return negative ? -magnitude : magnitude
    }
}
