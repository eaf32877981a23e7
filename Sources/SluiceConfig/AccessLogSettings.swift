import Yams

// A stage's access log:
//
//     stages:
//       prod:
//         access_log:
//           path: /var/log/sluice/petstore-prod.log
//           format: json            # or clf, or a format of your own with $context variables
//           buffer_kb: 1024         # per worker, twice; lines that find both full are dropped and counted

/// A piece of a compiled format: bytes written as they are, or a variable's value.
public enum AccessLogPart: Equatable, Sendable {
    case literal([UInt8])
    case variable(ContextVariable)
    /// `$context.authorizer.claims.NAME`: a claim of the request's verified token.
    case claim([UInt8])
    /// `$context.authorizer.NAME`: a Lambda authorizer's context value, or `principalId`.
    case authorizer([UInt8])
}

/// How values are escaped so that no request can break a line or forge a field.
public enum AccessLogEscaping: Sendable {
    /// Inside a JSON string: `"`, `\` and control bytes as JSON escapes (`\"`, `\\`, `\u00XX`).
    case json
    /// `"`, `\`, control bytes and bytes above 0x7E as `\xHH`, as nginx does.
    case text
}

public struct AccessLogSettings: Sendable {
    /// Where lines go, as written (relative to the working directory, like `state_dir`).
    public var path: String
    public var parts: [AccessLogPart]
    public var escaping: AccessLogEscaping
    /// Each worker's buffer for the lines of this file, written in the background.
    public var bufferBytes: Int

    public init(path: String, parts: [AccessLogPart], escaping: AccessLogEscaping, bufferBytes: Int = AccessLogSettings.defaultBufferBytes) {
        self.path = path
        self.parts = parts
        self.escaping = escaping
        self.bufferBytes = bufferBytes
    }

    /// 1 MB: about 10 ms of lines at 100,000 requests/s, time enough for the kernel's writer
    /// thread to be scheduled on a machine whose every core is busy serving.
    public static let defaultBufferBytes = 1 << 20

    /// The presets' formats.
    public static let presets: [String: String] = [
        "json": #"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","#
            + #""requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","#
            + #""resourcePath":"$context.resourcePath","path":"$context.path","status":"$context.status","#
            + #""protocol":"$context.protocol","responseLength":"$context.responseLength","#
            + #""responseLatency":"$context.responseLatency","integrationLatency":"$context.integrationLatency","#
            + #""integrationStatus":"$context.integration.status","apiKeyId":"$context.identity.apiKeyId","#
            + #""errorMessage":"$context.error.message","traceId":"$context.traceId"}"#,
        "clf": #"$context.identity.sourceIp - - [$context.requestTime] "$context.httpMethod $context.path "#
            + #"$context.protocol" $context.status $context.responseLength $context.requestId"#,
    ]

    /// Compiles a format: `$context.NAME` variables among literal bytes. Returns the unknown or
    /// refused name when there is one.
    public static func compile(_ format: String) -> Result<[AccessLogPart], FormatError> {
        let bytes = Array(format.utf8)
        let marker = Array("$context.".utf8)
        var parts: [AccessLogPart] = []
        var literal: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard index + marker.count <= bytes.count, Array(bytes[index..<(index + marker.count)]) == marker else {
                literal.append(bytes[index])
                index += 1
                continue
            }
            var end = index + marker.count
            while end < bytes.count, Self.isNameByte(bytes[end]) { end += 1 }
            // A name does not end with a dot: `$context.status.` is the status, then a dot.
            while end > index + marker.count, bytes[end - 1] == 0x2E { end -= 1 }
            let name = String(decoding: bytes[(index + marker.count)..<end], as: UTF8.self)
            if name == "identity.apiKey" { return .failure(.keyValue) }
            let claimPrefix = "authorizer.claims."
            let authorizerPrefix = "authorizer."
            if name.hasPrefix(authorizerPrefix) && name.count > authorizerPrefix.count {
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = []
                if name.hasPrefix(claimPrefix) && name.count > claimPrefix.count {
                    parts.append(.claim(Array(name.utf8.dropFirst(claimPrefix.utf8.count))))
                } else {
                    parts.append(.authorizer(Array(name.utf8.dropFirst(authorizerPrefix.utf8.count))))
                }
                index = end
                continue
            }
            guard let variable = ContextVariable(rawValue: name) else { return .failure(.unknown(name)) }
            if !literal.isEmpty { parts.append(.literal(literal)) }
            literal = []
            parts.append(.variable(variable))
            index = end
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        guard parts.contains(where: { if case .literal = $0 { false } else { true } }) else { return .failure(.noVariables) }
        return .success(parts)
    }

    public enum FormatError: Error, Equatable {
        case unknown(String)
        case keyValue
        case noVariables
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2E, 0x5F: true
        default: false
        }
    }
}

/// Reads `access_log:` mappings.
struct AccessLogReader {
    let reader: ConfigReader

    func accessLog(_ node: Node, _ what: String) -> AccessLogSettings? {
        guard let entries = reader.mapping(node, what) else { return nil }
        var path: String?
        var format = "json"
        var formatLine = node.line
        var bufferBytes = AccessLogSettings.defaultBufferBytes
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "path":
                path = reader.string(value, "\(what).path")
                if path?.isEmpty == true {
                    reader.log.error(reader.file, value.line, "\(what).path must not be empty")
                    path = nil
                }
                valid = valid && path != nil
            case "format":
                if let text = reader.string(value, "\(what).format") {
                    format = text
                    formatLine = value.line
                } else { valid = false }
            case "buffer_kb":
                if let kilobytes = reader.integer(value, "\(what).buffer_kb", in: 16...65_536) {
                    bufferBytes = kilobytes << 10
                } else { valid = false }
            default:
                reader.unknownKey(key, in: what)
            }
        }
        guard valid else { return nil }
        guard let path else {
            reader.log.error(reader.file, node.line, "\(what) needs a 'path' (the file lines are appended to)")
            return nil
        }
        let preset = AccessLogSettings.presets[format.lowercased()]
        switch AccessLogSettings.compile(preset ?? format) {
        case .success(let parts):
            let json = (preset ?? format).first(where: { !$0.isWhitespace }) == "{"
            return AccessLogSettings(path: path, parts: parts, escaping: json ? .json : .text, bufferBytes: bufferBytes)
        case .failure(.unknown(let name)):
            reader.log.error(reader.file, formatLine, "\(what).format: unknown variable '$context.\(name)' (known: "
                             + ContextVariable.allCases.map { "$context." + $0.rawValue }.joined(separator: ", ") + ")")
        case .failure(.keyValue):
            reader.log.error(reader.file, formatLine, "\(what).format: API key values are never logged; use "
                             + "$context.identity.apiKeyId")
        case .failure(.noVariables):
            reader.log.error(reader.file, formatLine, "\(what).format must be json, clf, or a format with "
                             + "$context variables")
        }
        return nil
    }
}
