import SluiceHTTP1

/// A resource path template as API Gateway writes it: `/pets/{petId}`, `/files/{proxy+}`, `/`.
///
/// Parsing is done once, at load time, so that the configuration can report a broken template
/// with its file and line, and so that the route tree only ever sees well-formed segments.
public struct RoutePattern: Sendable, Hashable, CustomStringConvertible {
    /// One segment of a resource path.
    public enum Segment: Sendable, Hashable {
        /// Matches exactly these bytes (case-sensitive, compared with the raw, still
        /// percent-encoded request path).
        case literal(String)
        /// `{name}`: matches one non-empty segment.
        case parameter(String)
        /// `{name+}`: matches one or more remaining segments; only ever the last segment.
        case greedy(String)
    }

    /// The segments after the leading `/`; empty for the root resource `/`.
    public let segments: [Segment]

    /// The names of the path parameters, in the order they appear in the path. A match reports
    /// the parameters' value ranges in this same order.
    public var parameterNames: [String] {
        segments.compactMap { segment in
            switch segment {
            case .literal: nil
            case .parameter(let name), .greedy(let name): name
            }
        }
    }

    /// The template written back in API Gateway's spelling, normalised (no trailing slash).
    public var description: String {
        if segments.isEmpty { return "/" }
        var text = ""
        for segment in segments {
            switch segment {
            case .literal(let literal): text += "/" + literal
            case .parameter(let name): text += "/{" + name + "}"
            case .greedy(let name): text += "/{" + name + "+}"
            }
        }
        return text
    }

    /// Builds a pattern from segments that are already known to be valid.
    public init(segments: [Segment]) {
        self.segments = segments
    }

    /// Parses a resource path template.
    ///
    /// Accepted: a leading `/`; segments that are either literal text or a whole `{name}` /
    /// `{name+}`; one trailing `/`, which is ignored (API Gateway's resources have none). Refused:
    /// empty segments (`//`), braces that do not enclose a whole segment, a greedy parameter that
    /// is not the last segment, and a parameter name used twice.
    public init(parsing path: String) throws(RoutePatternError) {
        guard path.hasPrefix("/") else {
            throw RoutePatternError("resource path '\(path)' must start with '/'")
        }
        var body = Substring(path.dropFirst())
        if body.hasSuffix("/") { body = body.dropLast() }
        if body.isEmpty {
            self.segments = []
            return
        }
        var segments: [Segment] = []
        var names: Set<String> = []
        let parts = body.split(separator: "/", omittingEmptySubsequences: false)
        for (index, part) in parts.enumerated() {
            if part.isEmpty {
                throw RoutePatternError("resource path '\(path)' has an empty segment ('//')")
            }
            let hasOpen = part.contains("{")
            let hasClose = part.contains("}")
            if !hasOpen && !hasClose {
                segments.append(.literal(String(part)))
                continue
            }
            // A variable must be the whole segment: API Gateway has no partial variables such as
            // `file.{ext}`, and neither has Sluice.
            guard part.first == "{", part.last == "}", part.count >= 3 else {
                throw RoutePatternError(
                    "resource path '\(path)': segment '\(part)' must be literal text or a whole {parameter}")
            }
            var name = part.dropFirst().dropLast()
            guard !name.contains("{"), !name.contains("}") else {
                throw RoutePatternError("resource path '\(path)': unbalanced braces in segment '\(part)'")
            }
            let isGreedy = name.hasSuffix("+")
            if isGreedy { name = name.dropLast() }
            guard !name.isEmpty, !name.contains("+") else {
                throw RoutePatternError("resource path '\(path)': invalid parameter name in segment '\(part)'")
            }
            let nameText = String(name)
            guard names.insert(nameText).inserted else {
                throw RoutePatternError("resource path '\(path)': parameter '\(nameText)' is used twice")
            }
            if isGreedy {
                guard index == parts.count - 1 else {
                    throw RoutePatternError(
                        "resource path '\(path)': greedy parameter {\(nameText)+} must be the last segment")
                }
                segments.append(.greedy(nameText))
            } else {
                segments.append(.parameter(nameText))
            }
        }
        self.segments = segments
    }
}

/// Why a resource path template was refused; `message` is meant for the user, as is.
public struct RoutePatternError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Which request method a route answers: one method, or API Gateway's `ANY`
/// (`x-amazon-apigateway-any-method`), which answers every routable method the resource does not
/// define itself.
public enum RouteMethod: Sendable, Hashable, CustomStringConvertible {
    case exact(HTTPMethod)
    case any

    /// The methods API Gateway routes: `ANY` covers exactly these seven.
    public static let routableMethods: [HTTPMethod] = [.get, .head, .post, .put, .delete, .patch, .options]

    /// Reads an OpenAPI operation key (`get`, `post`, …) or `x-amazon-apigateway-any-method`.
    /// Returns nil for anything API Gateway does not route (`trace`, unknown keys).
    public init?(openAPIKey key: String) {
        if key == "x-amazon-apigateway-any-method" {
            self = .any
            return
        }
        guard let method = Self.routableMethods.first(where: { $0.openAPIName == key }) else {
            return nil
        }
        self = .exact(method)
    }

    /// `GET`, `POST`, … or `ANY`, as API Gateway's console and logs spell it.
    public var description: String {
        switch self {
        case .exact(let method): method.openAPIName.uppercased()
        case .any: "ANY"
        }
    }

    /// The slot of this method in a node's method table: the routable methods first, in
    /// `HTTPMethod` order, then `ANY`.
    var slot: Int {
        switch self {
        case .exact(let method):
            precondition(Int(method.rawValue) < RouteTable.exactMethodSlots, "\(method) is not routable")
            return Int(method.rawValue)
        case .any:
            return RouteTable.anyMethodSlot
        }
    }
}
