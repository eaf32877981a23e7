import Yams

/// An API's resource policy (`x-amazon-apigateway-policy`), as read from its definition: who may
/// invoke which methods of which stages, by source address. SluicePolicy compiles it for the
/// request path.
public struct ResourcePolicy: Sendable, Equatable {
    public var statements: [PolicyStatement]

    public init(statements: [PolicyStatement]) {
        self.statements = statements
    }
}

/// One statement of a resource policy.
public struct PolicyStatement: Sendable, Equatable {
    public enum Effect: Sendable, Equatable {
        case allow
        case deny
    }

    public var effect: Effect
    /// Whether the statement applies to every caller (`Principal: "*"`, `{"AWS": "*"}`, or a
    /// `NotPrincipal`). Callers are anonymous to Sluice (it has no IAM yet), so a statement for
    /// particular IAM principals applies to none: its Allow grants nothing, its Deny refuses no one.
    public var anyPrincipal: Bool
    /// `Action` patterns (`execute-api:Invoke`, `execute-api:*`, `*`), or `NotAction` when `notAction`.
    public var actions: [String]
    public var notAction: Bool
    /// `Resource` patterns reduced to the part after the API id: `STAGE/METHOD/PATH` with `*` and
    /// `?` wildcards (`execute-api:/*/GET/pets` → `*/GET/pets`); `NotResource` when `notResource`.
    public var resources: [String]
    public var notResource: Bool
    /// `Condition`: every entry must hold.
    public var conditions: [PolicyCondition]
    /// Where the statement is, for messages.
    public var line: Int

    public init(effect: Effect, anyPrincipal: Bool, actions: [String], notAction: Bool = false,
                resources: [String], notResource: Bool = false, conditions: [PolicyCondition] = [], line: Int = 0) {
        self.effect = effect
        self.anyPrincipal = anyPrincipal
        self.actions = actions
        self.notAction = notAction
        self.resources = resources
        self.notResource = notResource
        self.conditions = conditions
        self.line = line
    }
}

/// One condition of a statement.
public enum PolicyCondition: Sendable, Equatable {
    /// `IpAddress` (or `NotIpAddress` when `negated`) on `aws:SourceIp`: the caller's address is
    /// (is not) in one of the networks.
    case sourceIP(negated: Bool, networks: [IPNetwork])
    /// A condition Sluice cannot evaluate (another key or operator): it is taken to hold for a
    /// Deny and not to hold for an Allow, so that it can only ever refuse (fail closed).
    case unsupported(String)
}

/// An IPv4 or IPv6 network (`10.0.0.0/8`, `2001:db8::/32`, or one address). IPv4 is kept as an
/// IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), so that one comparison serves both families.
public struct IPNetwork: Sendable, Equatable, CustomStringConvertible {
    public var address: IPAddress
    /// Leading bits that must match, 0–128 (an IPv4 prefix plus 96).
    public var prefixLength: Int

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public func contains(_ candidate: IPAddress) -> Bool {
        let high = Self.mask(bits: prefixLength)
        let low = Self.mask(bits: prefixLength - 64)
        return candidate.high & high == address.high & high && candidate.low & low == address.low & low
    }

    /// The first `bits` bits set, of a 64-bit half (0 and 64 included).
    static func mask(bits: Int) -> UInt64 {
        if bits <= 0 { return 0 }
        if bits >= 64 { return ~0 }
        return ~(UInt64.max >> UInt64(bits))
    }

    /// Parses `ADDRESS` or `ADDRESS/PREFIX`; nil when it is neither.
    public init?(parsing text: Substring) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parsing: parts[0]) else { return nil }
        let bitsMax = address.isIPv4 ? 32 : 128
        var prefix = bitsMax
        if parts.count == 2 {
            guard let value = Int(parts[1]), value >= 0, value <= bitsMax, parts[1].allSatisfy(\.isASCII) else {
                return nil
            }
            prefix = value
        }
        self.init(address: address, prefixLength: address.isIPv4 ? prefix + 96 : prefix)
    }

    public var description: String {
        address.isIPv4 ? "\(address)/\(prefixLength - 96)" : "\(address)/\(prefixLength)"
    }
}

/// An IPv6 address as two 64-bit halves; IPv4 addresses are IPv4-mapped (`::ffff:a.b.c.d`).
public struct IPAddress: Sendable, Equatable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public init(ipv4: UInt32) {
        high = 0
        low = 0xFFFF_0000_0000 | UInt64(ipv4)
    }

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }

    /// Dotted IPv4 or RFC 4291 IPv6 text (with `::`, and a dotted IPv4 tail).
    public init?(parsing text: Substring) {
        let bytes = Array(text.utf8)
        guard let address = Self.parse(bytes.span) else { return nil }
        self = address
    }

    /// Parses an address from bytes without allocating (X-Forwarded-For values on the request
    /// path); nil for anything that is not exactly one address.
    public static func parse(_ text: Span<UInt8>) -> IPAddress? {
        var colon = false
        for index in 0..<text.count where text[index] == UInt8(ascii: ":") {
            colon = true
            break
        }
        if !colon {
            guard let value = parseIPv4(text, from: 0, to: text.count) else { return nil }
            return IPAddress(ipv4: value)
        }
        var groups = InlineArray<8, UInt16>(repeating: 0)
        var count = 0
        var gap = -1
        var position = 0
        if text.count >= 2 && text[0] == UInt8(ascii: ":") && text[1] == UInt8(ascii: ":") {
            gap = 0
            position = 2
        }
        while position < text.count {
            var end = position
            var dotted = false
            while end < text.count && text[end] != UInt8(ascii: ":") {
                if text[end] == UInt8(ascii: ".") { dotted = true }
                end += 1
            }
            if dotted {
                // A dotted IPv4 tail takes the last two groups.
                guard end == text.count, count <= 6, let value = parseIPv4(text, from: position, to: end) else {
                    return nil
                }
                groups[count] = UInt16(value >> 16)
                groups[count + 1] = UInt16(value & 0xFFFF)
                count += 2
                position = end
                break
            }
            guard end > position, end - position <= 4, count < 8 else { return nil }
            var group: UInt16 = 0
            for index in position..<end {
                guard let digit = hexDigit(text[index]) else { return nil }
                group = group << 4 | UInt16(digit)
            }
            groups[count] = group
            count += 1
            position = end
            if position + 1 < text.count && text[position + 1] == UInt8(ascii: ":") {
                guard gap < 0 else { return nil }
                gap = count
                position += 2
            } else if position < text.count {
                position += 1
                guard position < text.count else { return nil }
            }
        }
        if gap >= 0 {
            guard count < 8 else { return nil }
            // Move the groups after the gap to the end; zeros fill the gap.
            let shift = 8 - count
            var index = count - 1
            while index >= gap {
                groups[index + shift] = groups[index]
                groups[index] = 0
                index -= 1
            }
        } else if count != 8 {
            return nil
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<4 { high = high << 16 | UInt64(groups[index]) }
        for index in 4..<8 { low = low << 16 | UInt64(groups[index]) }
        return IPAddress(high: high, low: low)
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func parseIPv4(_ text: Span<UInt8>, from start: Int, to end: Int) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var position = start
        while octets < 4 {
            var octet: UInt32 = 0
            var digits = 0
            while position < end && text[position] >= UInt8(ascii: "0") && text[position] <= UInt8(ascii: "9") {
                octet = octet * 10 + UInt32(text[position] - UInt8(ascii: "0"))
                digits += 1
                position += 1
                if digits > 3 { return nil }
            }
            // No leading zeros (`010` is octal to some parsers): inet_pton refuses them too.
            guard digits > 0, octet <= 255, digits == 1 || text[position - digits] != UInt8(ascii: "0") else {
                return nil
            }
            value = value << 8 | octet
            octets += 1
            if octets < 4 {
                guard position < end, text[position] == UInt8(ascii: ".") else { return nil }
                position += 1
            }
        }
        return position == end ? value : nil
    }

    public var description: String {
        if isIPv4 {
            let value = UInt32(truncatingIfNeeded: low)
            return "\(value >> 24).\(value >> 16 & 0xFF).\(value >> 8 & 0xFF).\(value & 0xFF)"
        }
        var groups: [String] = []
        for half in [high, low] {
            for shift in stride(from: 48, through: 0, by: -16) {
                groups.append(String((half >> UInt64(shift)) & 0xFFFF, radix: 16))
            }
        }
        return groups.joined(separator: ":")
    }
}

/// Reads `x-amazon-apigateway-policy` into a `ResourcePolicy`: an IAM policy document (an object,
/// or the same as a JSON string, as exports carry it). Statements and conditions Sluice cannot
/// evaluate are kept in a form that can only refuse, with a warning.
struct ResourcePolicyImport {
    let file: String
    let log: DiagnosticLog
    /// A policy given as a JSON string has its own line numbers: messages point at the string.
    var stringLine: Int?

    init(file: String, log: DiagnosticLog, stringLine: Int? = nil) {
        self.file = file
        self.log = log
        self.stringLine = stringLine
    }

    /// Nil when an error was reported.
    func read(_ node: Node) -> ResourcePolicy? {
        if let text = node.text, case .scalar = node {
            // Exports from API Gateway's console carry the policy as a JSON string.
            guard stringLine == nil, let parsed = (try? Yams.compose(yaml: text)) ?? nil else {
                log.error(file, at(node.line), "x-amazon-apigateway-policy is a string that is not a JSON policy document")
                return nil
            }
            return ResourcePolicyImport(file: file, log: log, stringLine: node.line).read(parsed)
        }
        guard let fields = node.entries else {
            log.error(file, at(node.line), "x-amazon-apigateway-policy must be a policy document (a mapping), not "
                      + node.kindName)
            return nil
        }
        guard let statementNode = fields.first(where: { $0.key.text == "Statement" })?.value else {
            log.error(file, at(node.line), "x-amazon-apigateway-policy has no Statement")
            return nil
        }
        let statementNodes: [Node]
        if case .sequence(let list) = statementNode { statementNodes = Array(list) } else { statementNodes = [statementNode] }
        var statements: [PolicyStatement] = []
        for statement in statementNodes {
            guard let read = readStatement(statement) else { return nil }
            statements.append(read)
        }
        return ResourcePolicy(statements: statements)
    }

    private func readStatement(_ node: Node) -> PolicyStatement? {
        guard let fields = node.entries else {
            log.error(file, at(node.line), "a policy Statement must be a mapping, not \(node.kindName)")
            return nil
        }
        func field(_ name: String) -> Node? { fields.first { $0.key.text == name }?.value }
        let effect: PolicyStatement.Effect
        switch field("Effect")?.text {
        case "Allow": effect = .allow
        case "Deny": effect = .deny
        default:
            log.error(file, at(field("Effect")?.line ?? node.line), "a policy Statement's Effect must be Allow or Deny")
            return nil
        }
        var anyPrincipal = false
        if let principal = field("Principal") {
            if principal.text == "*" {
                anyPrincipal = true
            } else if let aws = principal.entries?.first(where: { $0.key.text == "AWS" })?.value {
                anyPrincipal = strings(aws)?.contains("*") ?? false
            }
            if !anyPrincipal {
                log.warning(file, at(principal.line), "this policy statement names IAM principals, which Sluice cannot "
                            + "identify yet: it applies to no request")
            }
        } else if field("NotPrincipal") != nil {
            // Callers are anonymous to Sluice (no IAM yet), never one of the principals named.
            anyPrincipal = true
        } else {
            log.error(file, at(node.line), "a policy Statement needs a Principal")
            return nil
        }
        let notAction = field("Action") == nil && field("NotAction") != nil
        guard let actionNode = field("Action") ?? field("NotAction"), let actions = strings(actionNode) else {
            log.error(file, at(node.line), "a policy Statement needs an Action (a string or a list of strings)")
            return nil
        }
        let notResource = field("Resource") == nil && field("NotResource") != nil
        guard let resourceNode = field("Resource") ?? field("NotResource"), let resourceTexts = strings(resourceNode) else {
            log.error(file, at(node.line), "a policy Statement needs a Resource (a string or a list of strings)")
            return nil
        }
        var resources: [String] = []
        for text in resourceTexts {
            guard let resource = Self.resourcePattern(text) else {
                log.error(file, at(resourceNode.line), "policy Resource '\(text)' is not an execute-api ARN "
                          + "(arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH or execute-api:/STAGE/METHOD/PATH)")
                return nil
            }
            resources.append(resource)
        }
        var conditions: [PolicyCondition] = []
        if let condition = field("Condition") {
            guard let operators = condition.entries else {
                log.error(file, at(condition.line), "a policy Condition must be a mapping")
                return nil
            }
            for (operatorNode, keys) in operators {
                let name = operatorNode.text ?? ""
                for (keyNode, values) in keys.entries ?? [] {
                    let key = keyNode.text ?? ""
                    let isIP = name == "IpAddress" || name == "NotIpAddress"
                    guard isIP, key.lowercased() == "aws:sourceip" else {
                        log.warning(file, at(keyNode.line), "policy condition \(name) on \(key) cannot be evaluated by "
                                    + "Sluice: it is taken to hold for a Deny and not to hold for an Allow")
                        conditions.append(.unsupported("\(name) \(key)"))
                        continue
                    }
                    guard let texts = strings(values) else {
                        log.error(file, at(values.line), "\(name) aws:SourceIp must be an address or a list of them")
                        return nil
                    }
                    var networks: [IPNetwork] = []
                    for text in texts {
                        guard let network = IPNetwork(parsing: Substring(text)) else {
                            log.error(file, at(values.line), "'\(text)' is not an IPv4 or IPv6 address or CIDR block")
                            return nil
                        }
                        networks.append(network)
                    }
                    conditions.append(.sourceIP(negated: name == "NotIpAddress", networks: networks))
                }
                if keys.entries == nil {
                    log.error(file, at(keys.line), "policy condition \(name) must map condition keys to values")
                    return nil
                }
            }
        }
        return PolicyStatement(effect: effect, anyPrincipal: anyPrincipal, actions: actions, notAction: notAction,
                               resources: resources, notResource: notResource, conditions: conditions,
                               line: node.line)
    }

    private func at(_ line: Int) -> Int { stringLine ?? line }

    /// A string, or a list of strings.
    private func strings(_ node: Node) -> [String]? {
        if case .sequence(let list) = node {
            var texts: [String] = []
            for item in list {
                guard let text = item.text, case .scalar = item else { return nil }
                texts.append(text)
            }
            return texts
        }
        guard let text = node.text, case .scalar = node else { return nil }
        return [text]
    }

    /// The part of an execute-api resource ARN after the API id: what a request's
    /// `STAGE/METHOD/PATH` is matched against. The region, account and API id are not compared:
    /// the policy is the API's own, wherever it runs. `*` and `arn:aws:execute-api:*:*:*` (an
    /// API id of `*` and nothing after it) match every request.
    static func resourcePattern(_ text: String) -> String? {
        if text == "*" { return "*" }
        if let rest = text.dropPrefix("execute-api:/") { return rest }
        let fields = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "arn", fields[2] == "execute-api" else { return nil }
        let tail = fields[5]
        guard let slash = tail.firstIndex(of: "/") else {
            return tail.hasSuffix("*") ? "*" : nil
        }
        if tail[..<slash].hasSuffix("*") && !tail[..<slash].isEmpty && tail[tail.index(after: slash)...].isEmpty {
            return "*"
        }
        return String(tail[tail.index(after: slash)...])
    }
}
