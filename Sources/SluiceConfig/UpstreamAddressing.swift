
/// Looks up upstream host names when a configuration is loaded, so that the worker only ever
/// connects to numeric addresses. Numeric hosts and `upstreams.resolve` entries never reach it.
public struct HostResolver: Sendable {
    /// The addresses of `name` (a DNS name, never a numeric literal), each with `port`; or why there
    /// are none.
    public var resolve: @Sendable (_ name: String, _ port: UInt16) -> Result<[ResolvedAddress], HostResolutionError>

    public init(resolve: @escaping @Sendable (_ name: String, _ port: UInt16)
                -> Result<[ResolvedAddress], HostResolutionError>) {
        self.resolve = resolve
    }

    /// Looks nothing up: every name gets no addresses and no error. For validating a configuration
    /// where its upstreams' names cannot be resolved (an offline CI job); never for serving.
    public static let skip = HostResolver { _, _ in .success([]) }
}

/// Why a host name has no address, as the resolver says it (`Name or service not known`).
public struct HostResolutionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// An absolute `http://` or `https://` URL as integration URIs and `lambda_functions` write them,
/// split into what the worker needs. No normalisation beyond lowercasing scheme and host: the path
/// and query are sent as written (they must already be percent-encoded).
struct UpstreamURL: Equatable {
    var scheme: String
    /// Lowercased; an IPv6 literal without brackets.
    var host: String
    var isIPv6Literal: Bool
    /// As written, or the scheme's default.
    var port: UInt16
    var hasExplicitPort: Bool
    /// From the first `/` up to `?` or `#`; `/` when the URL has none.
    var path: String
    /// After `?`, up to `#`; nil when there is no `?`.
    var query: String?
    /// Whether a `#fragment` was written (it is never sent).
    var hasFragment: Bool

    /// `host`, or `host:port` when the port is not the scheme's default; IPv6 in brackets.
    var hostHeader: String {
        let name = isIPv6Literal ? "[\(host)]" : host
        return hasExplicitPort && port != Self.defaultPort(scheme) ? "\(name):\(port)" : name
    }

    static func defaultPort(_ scheme: String) -> UInt16 { scheme == "https" ? 443 : 80 }

    /// Parses `text`; the error is a sentence fragment for messages ("the port must be …").
    static func parse(_ text: String) -> Result<UpstreamURL, URLProblem> {
        guard let separator = text.firstRange(of: "://") else {
            return .failure(URLProblem("it does not start with http:// or https://"))
        }
        let scheme = text[..<separator.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            return .failure(URLProblem("the scheme must be http or https, not '\(text[..<separator.lowerBound])'"))
        }
        let rest = text[separator.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if authority.contains("@") {
            return .failure(URLProblem("user information ('user@') is not supported"))
        }

        var hostText: Substring
        var portText: Substring?
        var isIPv6 = false
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(URLProblem("missing ']' after the IPv6 address"))
            }
            hostText = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return .failure(URLProblem("expected ':PORT' after ']'")) }
                portText = after.dropFirst()
            }
            isIPv6 = true
            guard hostText.contains(":"), IPAddress(parsing: hostText) != nil else {
                return .failure(URLProblem("'\(hostText)' is not an IPv6 address"))
            }
        } else if let colon = authority.firstIndex(of: ":") {
            hostText = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        } else {
            hostText = authority
        }
        guard !hostText.isEmpty else { return .failure(URLProblem("it has no host")) }
        if !isIPv6 && !isHostName(hostText) {
            return .failure(URLProblem("'\(hostText)' is not a host name"))
        }

        var port = defaultPort(scheme)
        if let portText {
            guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let number = Int(portText), (1...65_535).contains(number) else {
                return .failure(URLProblem("the port must be a number between 1 and 65535, not '\(portText)'"))
            }
            port = UInt16(number)
        }

        var remainder = rest[authorityEnd...]
        var hasFragment = false
        if let hash = remainder.firstIndex(of: "#") {
            hasFragment = true
            remainder = remainder[..<hash]
        }
        var path = remainder
        var query: String?
        if let question = remainder.firstIndex(of: "?") {
            path = remainder[..<question]
            query = String(remainder[remainder.index(after: question)...])
        }
        let target = String(path) + (query ?? "")
        if let bad = target.unicodeScalars.first(where: { $0.value <= 0x20 || $0.value >= 0x7F }) {
            let shown = bad.value == 0x20 ? "a space" : "'\(bad.escaped(asASCII: true))'"
            return .failure(URLProblem("its path or query contains \(shown), which must be percent-encoded"))
        }
        return .success(UpstreamURL(scheme: scheme, host: hostText.lowercased(), isIPv6Literal: isIPv6, port: port,
                                    hasExplicitPort: portText != nil, path: path.isEmpty ? "/" : String(path),
                                    query: query, hasFragment: hasFragment))
    }

    /// Letters, digits, `-`, `_` and `.`, in labels that are not empty: a DNS name or an IPv4
    /// address. (`_` is not valid in host names but occurs in real internal ones.)
    static func isHostName(_ text: Substring) -> Bool {
        !text.isEmpty && !text.hasPrefix(".") && !text.contains("..")
            && text.unicodeScalars.allSatisfy { scalar in
                scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                                   || scalar == "-" || scalar == "." || scalar == "_")
            }
    }

    /// Whether `host` is an IPv4 literal (a numeric host needs no resolver).
    static func isIPv4Literal(_ host: String) -> Bool {
        !host.contains(":") && IPAddress(parsing: Substring(host)) != nil
    }

    /// The path split into literal pieces and `{name}` / `{name+}` parameters.
    static func pieces(ofPath path: String) -> Result<[URIPiece], URLProblem> {
        var pieces: [URIPiece] = []
        var literal = ""
        var index = path.startIndex
        while index < path.endIndex {
            let character = path[index]
            if character == "{" {
                guard let close = path[index...].firstIndex(of: "}") else {
                    return .failure(URLProblem("its path has a '{' without '}'"))
                }
                var name = path[path.index(after: index)..<close]
                if name.hasSuffix("+") { name = name.dropLast() }
                guard PathVariableScan.isParameterName(name) else {
                    return .failure(URLProblem("'{\(path[path.index(after: index)..<close])}' in its path is not a "
                                               + "path parameter"))
                }
                if !literal.isEmpty { pieces.append(.literal(literal)) }
                literal = ""
                pieces.append(.parameter(String(name)))
                index = path.index(after: close)
                continue
            }
            if character == "}" { return .failure(URLProblem("its path has a '}' without '{'")) }
            literal.append(character)
            index = path.index(after: index)
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return .success(pieces)
    }

    /// The query split at `&` into `name=value` pairs, as written; empty pieces are dropped.
    static func queryParameters(_ query: String?) -> [QueryParameter] {
        guard let query else { return [] }
        return query.split(separator: "&").map { pair in
            if let equals = pair.firstIndex(of: "=") {
                return QueryParameter(name: String(pair[..<equals]), value: String(pair[pair.index(after: equals)...]))
            }
            return QueryParameter(name: String(pair), value: nil)
        }
    }
}

/// Why a URL was refused.
struct URLProblem: Error, Equatable {
    var message: String

    init(_ message: String) {
        self.message = message
    }
}

/// `${stageVariables.NAME}` in integration URIs, as API Gateway substitutes them.
enum StageVariableText {
    static let opening = "${stageVariables."

    /// The names referenced, in order, repeated as often as they occur.
    static func references(in text: String) -> [String] {
        var names: [String] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: opening) {
            let after = rest[start.upperBound...]
            guard let close = after.firstIndex(of: "}") else { break }
            names.append(String(after[..<close]))
            rest = after[after.index(after: close)...]
        }
        return names
    }

    /// `text` with every reference replaced by the variable's value, or the names that `variables`
    /// lacks (in order, once each).
    static func substitute(_ text: String, _ variables: [String: String]) -> Result<String, MissingStageVariables> {
        var result = ""
        var missing: [String] = []
        var rest = Substring(text)
        while let start = rest.firstRange(of: opening) {
            let after = rest[start.upperBound...]
            guard let close = after.firstIndex(of: "}") else { break }
            result += rest[..<start.lowerBound]
            let name = String(after[..<close])
            if let value = variables[name] {
                result += value
            } else if !missing.contains(name) {
                missing.append(name)
            }
            rest = after[after.index(after: close)...]
        }
        result += rest
        return missing.isEmpty ? .success(result) : .failure(MissingStageVariables(names: missing))
    }
}

struct MissingStageVariables: Error {
    var names: [String]
}

/// Finds `{name}` / `{name+}` path variables in an integration URI's text, skipping `${...}`
/// (stage variables and AWS variables), which are not path variables.
enum PathVariableScan {
    static func names(in uri: String) -> [String] {
        var names: [String] = []
        let scalars = Array(uri.unicodeScalars)
        var index = 0
        // A `{` in the host is a broken URI, reported when the URI is parsed; placeholders in the
        // query are filled like the path's, as API Gateway fills them; the fragment is not sent.
        while index < scalars.count {
            if scalars[index] == "#" { break }
            if scalars[index] == "$", index + 1 < scalars.count, scalars[index + 1] == "{" {
                while index < scalars.count && scalars[index] != "}" { index += 1 }
                index += 1
                continue
            }
            if scalars[index] == "{" {
                var end = index + 1
                while end < scalars.count && scalars[end] != "}" && scalars[end] != "{" { end += 1 }
                guard end < scalars.count, scalars[end] == "}" else { index += 1; continue }
                var name = String(String.UnicodeScalarView(scalars[(index + 1)..<end]))
                if name.hasSuffix("+") { name.removeLast() }
                if isParameterName(Substring(name)) && !names.contains(name) { names.append(name) }
                index = end + 1
                continue
            }
            index += 1
        }
        return names
    }

    /// API Gateway's parameter names: letters, digits, `_`, `-` and `.`.
    static func isParameterName(_ name: Substring) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar)
                               || scalar == "_" || scalar == "-" || scalar == ".")
        }
    }
}
