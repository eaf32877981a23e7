import SluiceHTTP1
import SluiceTemplates
import Yams

/// A mapping template compiled at load, keyed by the content type it is for.
public struct MappingTemplate: Sendable, Equatable {
    /// The media type, lowercased, without parameters (`application/json`).
    public var contentType: String
    public var template: Template

    public init(contentType: String, template: Template) {
        self.contentType = contentType
        self.template = template
    }
}

/// `passthroughBehavior`: what happens to a request whose content type has no request template.
public enum PassthroughBehavior: String, Sendable {
    /// The body goes to the integration as it is (API Gateway's default).
    case whenNoMatch = "WHEN_NO_MATCH"
    /// Passed through only when the integration has no request template at all; 415 otherwise.
    case whenNoTemplates = "WHEN_NO_TEMPLATES"
    /// 415 Unsupported Media Type whenever no template matches.
    case never = "NEVER"
}

/// An integration's request templates and its passthrough behaviour.
public struct RequestTemplates: Sendable {
    public var templates: [MappingTemplate]
    public var passthrough: PassthroughBehavior
    /// The integration's `contentHandling`: how the request's body is converted.
    public var contentHandling: ContentHandling?

    public init(templates: [MappingTemplate] = [], passthrough: PassthroughBehavior = .whenNoMatch,
                contentHandling: ContentHandling? = nil) {
        self.templates = templates
        self.passthrough = passthrough
        self.contentHandling = contentHandling
    }

    public enum Selection: Equatable, Sendable {
        case template(Int)
        case passthrough
        case unsupportedMediaType
    }

    /// The template for a request of `contentType` (its Content-Type header; nil without one,
    /// which API Gateway takes as `application/json`).
    public func select(contentType: Span<UInt8>?) -> Selection {
        if !templates.isEmpty {
            for (index, candidate) in templates.enumerated()
            where MappingTemplates.mediaType(contentType, is: candidate.contentType) {
                return .template(index)
            }
        }
        switch passthrough {
        case .whenNoMatch: return .passthrough
        case .whenNoTemplates: return templates.isEmpty ? .passthrough : .unsupportedMediaType
        case .never: return .unsupportedMediaType
        }
    }
}

/// Response templates choose by the request's `Accept`: the first template whose content type
/// the client accepts, else `application/json`, else the first (API Gateway's rule).
public enum MappingTemplates {
    static let defaultMediaType = Array("application/json".utf8)

    /// Whether the media type of a Content-Type value (`application/json; charset=utf-8`) is
    /// `expected` (lowercase). No value counts as `application/json`.
    public static func mediaType(_ value: Span<UInt8>?, is expected: String) -> Bool {
        var matches = true
        expected.utf8.withContiguousStorageIfAvailable { expectedBytes in
            guard let value else {
                matches = expectedBytes.elementsEqual(defaultMediaType)
                return
            }
            var end = 0
            while end < value.count && value[end] != UInt8(ascii: ";") { end += 1 }
            let range = HTTPBytes.trimmingWhitespace(value, 0..<end)
            guard range.count == expectedBytes.count else {
                matches = false
                return
            }
            for offset in 0..<range.count where HTTPBytes.lowercased(value[range.lowerBound + offset]) != expectedBytes[offset] {
                matches = false
                return
            }
        }
        return matches
    }

    /// The response template to use for a request whose `Accept` is `accept`: the first
    /// template whose type the list names (exactly or by `type/*`), else `application/json`,
    /// else the first. Nil when there is none.
    public static func selectResponse(_ templates: [MappingTemplate], accept: Span<UInt8>?) -> Int? {
        guard !templates.isEmpty else { return nil }
        if let accept {
            for (index, candidate) in templates.enumerated() where accepts(accept, candidate.contentType) {
                return index
            }
        }
        return templates.firstIndex { $0.contentType == "application/json" } ?? 0
    }

    /// Whether an `Accept` list names `mediaType` exactly or by its `type/*`.
    static func accepts(_ accept: Span<UInt8>, _ mediaType: String) -> Bool {
        let wanted = Array(mediaType.utf8)
        var start = 0
        while start < accept.count {
            var end = start
            while end < accept.count && accept[end] != UInt8(ascii: ",") { end += 1 }
            var itemEnd = start
            while itemEnd < end && accept[itemEnd] != UInt8(ascii: ";") { itemEnd += 1 }
            let item = HTTPBytes.trimmingWhitespace(accept, start..<itemEnd)
            if item.count == wanted.count,
               (0..<item.count).allSatisfy({ HTTPBytes.lowercased(accept[item.lowerBound + $0]) == wanted[$0] }) {
                return true
            }
            // `image/*` names every image type (not `*/*`, which would always pick the first).
            if item.count >= 2, accept[item.upperBound - 1] == UInt8(ascii: "*"), accept[item.upperBound - 2] == UInt8(ascii: "/"),
               item.count - 1 <= wanted.count, item.lowerBound < item.upperBound - 2,
               (0..<(item.count - 1)).allSatisfy({ HTTPBytes.lowercased(accept[item.lowerBound + $0]) == wanted[$0] }) {
                return true
            }
            start = end + 1
        }
        return false
    }
}

/// Compiles the templates of a definition, reporting errors at their line.
struct TemplateReader {
    let file: String
    let log: DiagnosticLog

    /// The file line of `templateLine` (1-based) of the template held by `node`: a block scalar
    /// (`|`, `>`) starts on the line after its key.
    private func fileLine(_ node: Node, _ templateLine: Int) -> Int {
        if case .scalar(let scalar) = node, scalar.style == .literal || scalar.style == .folded {
            return node.line + templateLine
        }
        return node.line + templateLine - 1
    }

    /// Compiles the template held by `node`; nil (reported) when it does not compile.
    func compile(_ node: Node, label: String, what: String) -> Template? {
        let text = node.text ?? ""
        do {
            let template = try TemplateCompiler.compile(text) { warning in
                log.warning(file, fileLine(node, warning.line), "\(label): \(what), column \(warning.column): \(warning.message)")
            }
            for external in template.externals {
                if case .context(let name) = external, !Self.knownContext(name) {
                    log.warning(file, node.line, "\(label): \(what) reads $context.\(name), which Sluice does not "
                                + "provide; it renders as nothing")
                }
            }
            return template
        } catch {
            log.error(file, fileLine(node, error.line), "\(label): \(what), column \(error.column): \(error.message)")
            return nil
        }
    }

    /// `requestTemplates` or `responseTemplates`: a mapping of content type to template. Nil
    /// when an error was reported.
    func read(_ node: Node?, label: String, what: String) -> [MappingTemplate]? {
        guard let node, !node.isNull else { return [] }
        guard let pairs = node.entries else {
            log.error(file, node.line, "\(label): \(what) must be a mapping of content type to template")
            return nil
        }
        var templates: [MappingTemplate] = []
        var valid = true
        for (typeNode, templateNode) in pairs {
            guard let contentType = typeNode.text?.trimmingWhitespace.lowercased(), !contentType.isEmpty,
                  contentType.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                log.error(file, typeNode.line, "\(label): '\(typeNode.text ?? "?")' is not a content type")
                valid = false
                continue
            }
            guard let template = compile(templateNode, label: label, what: "the \(contentType) template") else {
                valid = false
                continue
            }
            templates.append(MappingTemplate(contentType: contentType, template: template))
        }
        return valid ? templates : nil
    }

    /// Compiles every request and response template of an integration Sluice does not render
    /// (yet), so that a broken one is still an error at its line. False when one was reported.
    func compileAll(_ integration: [(key: Node, value: Node)], label: String) -> Bool {
        var valid = read(integration.first { $0.key.text == "requestTemplates" }?.value, label: label,
                         what: "requestTemplates") != nil
        for (_, response) in integration.first(where: { $0.key.text == "responses" })?.value.entries ?? [] {
            let templates = response.entries?.first { $0.key.text == "responseTemplates" }?.value
            if read(templates, label: label, what: "responseTemplates") == nil { valid = false }
        }
        return valid
    }

    /// `passthroughBehavior` (any case); nil when reported.
    func passthrough(_ node: Node?, label: String) -> PassthroughBehavior? {
        guard let node, let text = node.text else { return .whenNoMatch }
        guard let behavior = PassthroughBehavior(rawValue: text.uppercased()) else {
            log.error(file, node.line, "\(label): passthroughBehavior must be WHEN_NO_MATCH, WHEN_NO_TEMPLATES or NEVER, "
                      + "not '\(text)'")
            return nil
        }
        return behavior
    }

    /// The `$context` names a template may read: the variables Sluice provides, and an
    /// authorizer's claims and context.
    static func knownContext(_ name: String) -> Bool {
        ContextVariable(rawValue: name) != nil || name.hasPrefix("authorizer.")
    }
}
