import SluiceJSON

/// A Lambda authorizer's answer, compiled once when it arrives into a compact form that every
/// request it authorizes reads without parsing JSON again (the form the result cache keeps):
///
///     u8 form (0 policy, 1 simple) | u8 isAuthorized (simple)
///     u16 + principalId | u16 + usageIdentifierKey
///     u16 statements, each: u8 effect (0 Allow, 1 Deny) | u8 NotResource | u16 resources, each u16 + pattern
///     u16 context values, each: u16 + key | u8 kind (0 string, 1 number, 2 true, 3 false) | u16 + value
///
/// Lengths are little-endian; strings are decoded (escapes resolved). Statements whose `Action`
/// (or `NotAction`) does not cover `execute-api:Invoke` are left out: they cannot apply.
public enum AuthorizerResult {
    public enum Failure: Error, Sendable, Equatable {
        /// Not an answer API Gateway accepts (no principalId, no policy, a context value that is an
        /// object or a list, …): AUTHORIZER_CONFIGURATION_ERROR.
        case malformed
    }

    public enum ValueKind: UInt8, Sendable {
        case string, number, trueLiteral, falseLiteral
    }

    static let principalIDName: [UInt8] = Array("principalId".utf8)
    static let policyDocumentName: [UInt8] = Array("policyDocument".utf8)
    static let contextName: [UInt8] = Array("context".utf8)
    static let usageKeyName: [UInt8] = Array("usageIdentifierKey".utf8)
    static let isAuthorizedName: [UInt8] = Array("isAuthorized".utf8)
    static let statementName: [UInt8] = Array("Statement".utf8)
    static let effectName: [UInt8] = Array("Effect".utf8)
    static let actionName: [UInt8] = Array("Action".utf8)
    static let notActionName: [UInt8] = Array("NotAction".utf8)
    static let resourceName: [UInt8] = Array("Resource".utf8)
    static let notResourceName: [UInt8] = Array("NotResource".utf8)
    static let allow: [UInt8] = Array("Allow".utf8)
    static let deny: [UInt8] = Array("Deny".utf8)
    static let invokeAction: [UInt8] = Array("execute-api:Invoke".utf8)

    /// Compiles a function's answer into `output` (replacing what it held). `simple`: HTTP APIs'
    /// `{"isAuthorized": …, "context": …}`; otherwise an IAM policy with its principal.
    public static func compile(_ answer: Span<UInt8>, simple: Bool, into output: inout [UInt8]) -> Result<Void, Failure> {
        output.removeAll(keepingCapacity: true)
        guard let document = JSONScanner.document(answer), document.kind == .object else { return .failure(.malformed) }
        var principal: JSONScanner.Value?
        var policy: JSONScanner.Value?
        var context: JSONScanner.Value?
        var usageKey: JSONScanner.Value?
        var authorized: Bool?
        var members = JSONMembers(document.range)
        while let (key, value) = members.next(answer) {
            if JSONScanner.string(answer, key, equals: principalIDName.span) {
                principal = value
            } else if JSONScanner.string(answer, key, equals: policyDocumentName.span) {
                policy = value
            } else if JSONScanner.string(answer, key, equals: contextName.span) {
                context = value
            } else if JSONScanner.string(answer, key, equals: usageKeyName.span) {
                usageKey = value
            } else if JSONScanner.string(answer, key, equals: isAuthorizedName.span) {
                switch value.kind {
                case .trueLiteral: authorized = true
                case .falseLiteral: authorized = false
                default: return .failure(.malformed)
                }
            }
        }
        if simple {
            guard let authorized else { return .failure(.malformed) }
            output.append(1)
            output.append(authorized ? 1 : 0)
        } else {
            output.append(0)
            output.append(0)
        }
        // The principal: a string (a number is taken as its text).
        if let principal, principal.kind == .string || principal.kind == .number {
            guard appendString(answer, principal, to: &output) else { return .failure(.malformed) }
        } else if simple {
            appendLength(0, to: &output)
        } else {
            return .failure(.malformed)
        }
        if let usageKey, usageKey.kind == .string {
            guard appendString(answer, usageKey, to: &output) else { return .failure(.malformed) }
        } else {
            appendLength(0, to: &output)
        }
        if simple {
            appendLength(0, to: &output)
        } else {
            guard let policy, policy.kind == .object,
                  appendStatements(answer, policy, to: &output) else { return .failure(.malformed) }
        }
        // The context: strings, numbers and booleans only.
        let countAt = output.count
        appendLength(0, to: &output)
        var count = 0
        if let context, context.kind != .null {
            guard context.kind == .object else { return .failure(.malformed) }
            var entries = JSONMembers(context.range, depth: 2)
            while let (key, value) = entries.next(answer) {
                let kind: ValueKind
                switch value.kind {
                case .string: kind = .string
                case .number: kind = .number
                case .trueLiteral: kind = .trueLiteral
                case .falseLiteral: kind = .falseLiteral
                case .null: continue
                default: return .failure(.malformed)
                }
                guard appendString(answer, key, to: &output) else { return .failure(.malformed) }
                output.append(kind.rawValue)
                guard appendString(answer, value, to: &output) else { return .failure(.malformed) }
                count += 1
            }
        }
        guard count <= 0xFFFF else { return .failure(.malformed) }
        output[countAt] = UInt8(count & 0xFF)
        output[countAt + 1] = UInt8(count >> 8)
        return .success(())
    }

    static func appendStatements(_ answer: Span<UInt8>, _ policy: JSONScanner.Value, to output: inout [UInt8]) -> Bool {
        var statements: JSONScanner.Value?
        var members = JSONMembers(policy.range, depth: 2)
        while let (key, value) = members.next(answer) {
            if JSONScanner.string(answer, key, equals: statementName.span) { statements = value }
        }
        guard let statements else { return false }
        let countAt = output.count
        appendLength(0, to: &output)
        var count = 0
        func one(_ statement: JSONScanner.Value) -> Bool {
            guard statement.kind == .object else { return false }
            var effect: UInt8?
            var actions: JSONScanner.Value?
            var notAction = false
            var resources: JSONScanner.Value?
            var notResource = false
            var fields = JSONMembers(statement.range, depth: 4)
            while let (key, value) = fields.next(answer) {
                if JSONScanner.string(answer, key, equals: effectName.span) {
                    // IAM spells them `Allow` and `Deny`, nothing else.
                    guard value.kind == .string else { return false }
                    if JSONScanner.string(answer, value, equals: allow.span) {
                        effect = 0
                    } else if JSONScanner.string(answer, value, equals: deny.span) {
                        effect = 1
                    } else {
                        return false
                    }
                } else if JSONScanner.string(answer, key, equals: actionName.span) {
                    actions = value
                } else if JSONScanner.string(answer, key, equals: notActionName.span) {
                    actions = value
                    notAction = true
                } else if JSONScanner.string(answer, key, equals: resourceName.span) {
                    resources = value
                } else if JSONScanner.string(answer, key, equals: notResourceName.span) {
                    resources = value
                    notResource = true
                }
            }
            guard let effect, let actions, let resources else { return false }
            // Does the statement speak of invoking the API?
            var actionMatches = false
            var valid = true
            forEachString(answer, actions, depth: 5) { action in
                guard let action else { return valid = false }
                var text: [UInt8] = []
                JSONScanner.appendContent(answer, action, to: &text)
                if Glob.matches(text.span, invokeAction.span, ignoringCase: true) { actionMatches = true }
            }
            guard valid else { return false }
            guard actionMatches != notAction else { return true }
            output.append(effect)
            output.append(notResource ? 1 : 0)
            let resourcesAt = output.count
            appendLength(0, to: &output)
            var resourceCount = 0
            forEachString(answer, resources, depth: 5) { resource in
                guard let resource, appendString(answer, resource, to: &output) else { return valid = false }
                resourceCount += 1
            }
            guard valid, resourceCount <= 0xFFFF else { return false }
            output[resourcesAt] = UInt8(resourceCount & 0xFF)
            output[resourcesAt + 1] = UInt8(resourceCount >> 8)
            count += 1
            return true
        }
        switch statements.kind {
        case .object:
            guard one(statements) else { return false }
        case .array:
            var elements = JSONElements(statements.range, depth: 3)
            while let statement = elements.next(answer) {
                guard one(statement) else { return false }
            }
        default:
            return false
        }
        guard count <= 0xFFFF else { return false }
        output[countAt] = UInt8(count & 0xFF)
        output[countAt + 1] = UInt8(count >> 8)
        return true
    }

    /// Calls `body` with each string of a string-or-list value (nil for an element that is not one).
    static func forEachString(_ answer: Span<UInt8>, _ value: JSONScanner.Value, depth: Int,
                              _ body: (JSONScanner.Value?) -> Void) {
        switch value.kind {
        case .string: body(value)
        case .array:
            var elements = JSONElements(value.range, depth: depth)
            while let element = elements.next(answer) { body(element.kind == .string ? element : nil) }
        default: body(nil)
        }
    }

    static func appendLength(_ length: Int, to output: inout [UInt8]) {
        output.append(UInt8(length & 0xFF))
        output.append(UInt8(length >> 8))
    }

    /// A string's decoded content (a literal's text) with its length first; false past 65,535 bytes.
    static func appendString(_ answer: Span<UInt8>, _ value: JSONScanner.Value, to output: inout [UInt8]) -> Bool {
        let lengthAt = output.count
        appendLength(0, to: &output)
        JSONScanner.appendContent(answer, value, to: &output)
        let length = output.count - lengthAt - 2
        guard length <= 0xFFFF else { return false }
        output[lengthAt] = UInt8(length & 0xFF)
        output[lengthAt + 1] = UInt8(length >> 8)
        return true
    }
}

/// Reads a compiled result (`AuthorizerResult`) in place.
public struct AuthorizerResultReader {
    public let isSimple: Bool
    public let isAuthorized: Bool
    public let principal: Range<Int>
    public let usageKey: Range<Int>
    let statementsStart: Int
    let contextStart: Int

    /// Nil when `bytes` is not a compiled result (a bug, or a cache entry cut short).
    public init?(_ bytes: Span<UInt8>) {
        guard bytes.count >= 2 else { return nil }
        isSimple = bytes[0] == 1
        isAuthorized = bytes[1] == 1
        var offset = 2
        guard let principal = AuthorizerResultReader.string(bytes, &offset),
              let usageKey = AuthorizerResultReader.string(bytes, &offset) else { return nil }
        self.principal = principal
        self.usageKey = usageKey
        statementsStart = offset
        guard let statements = AuthorizerResultReader.length(bytes, &offset) else { return nil }
        for _ in 0..<statements {
            offset += 2
            guard let resources = AuthorizerResultReader.length(bytes, &offset) else { return nil }
            for _ in 0..<resources {
                guard AuthorizerResultReader.string(bytes, &offset) != nil else { return nil }
            }
        }
        guard offset <= bytes.count - 2 else { return nil }
        contextStart = offset
    }

    static func length(_ bytes: Span<UInt8>, _ offset: inout Int) -> Int? {
        guard offset + 2 <= bytes.count else { return nil }
        let value = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8
        offset += 2
        return value
    }

    static func string(_ bytes: Span<UInt8>, _ offset: inout Int) -> Range<Int>? {
        guard let length = length(bytes, &offset), offset + length <= bytes.count else { return nil }
        defer { offset += length }
        return offset..<(offset + length)
    }

    /// The policy's verdict for `methodARN` (an explicit Deny wins, then any Allow); a simple
    /// answer's `isAuthorized`.
    public func decide(_ bytes: Span<UInt8>, methodARN: Span<UInt8>) -> PolicyDecision {
        if isSimple { return isAuthorized ? .allow : .implicitDeny }
        var offset = statementsStart
        let statements = AuthorizerResultReader.length(bytes, &offset) ?? 0
        var allowed = false
        for _ in 0..<statements {
            let effect = bytes[offset]
            let notResource = bytes[offset + 1] == 1
            offset += 2
            let resources = AuthorizerResultReader.length(bytes, &offset) ?? 0
            var matched = false
            for _ in 0..<resources {
                guard let pattern = AuthorizerResultReader.string(bytes, &offset) else { return .implicitDeny }
                if !matched && Glob.matches(bytes.extracting(pattern), methodARN) { matched = true }
            }
            guard matched != notResource else { continue }
            if effect == 1 { return .explicitDeny }
            allowed = true
        }
        return allowed ? .allow : .implicitDeny
    }

    /// Calls `body` with each context entry: its key, kind and value.
    public func forEachContext(_ bytes: Span<UInt8>,
                               _ body: (Range<Int>, AuthorizerResult.ValueKind, Range<Int>) -> Void) {
        var offset = contextStart
        let count = AuthorizerResultReader.length(bytes, &offset) ?? 0
        for _ in 0..<count {
            guard let key = AuthorizerResultReader.string(bytes, &offset), offset < bytes.count else { return }
            let kind = AuthorizerResult.ValueKind(rawValue: bytes[offset]) ?? .string
            offset += 1
            guard let value = AuthorizerResultReader.string(bytes, &offset) else { return }
            body(key, kind, value)
        }
    }

    /// The context value named `name`, if any.
    public func context(_ bytes: Span<UInt8>, named name: Span<UInt8>) -> (AuthorizerResult.ValueKind, Range<Int>)? {
        var found: (AuthorizerResult.ValueKind, Range<Int>)?
        forEachContext(bytes) { key, kind, value in
            guard found == nil, key.count == name.count else { return }
            for offset in 0..<name.count where bytes[key.lowerBound + offset] != name[offset] { return }
            found = (kind, value)
        }
        return found
    }
}
