import SluiceCrypto
import SluiceJSON

/// The signature algorithms Sluice verifies (RFC 7518 §3.1): RSASSA-PKCS1-v1_5 and ECDSA.
/// `none`, the HMAC ones (whose key would be the issuer's public key) and any other are refused.
public enum JWTAlgorithm: UInt8, Sendable, CaseIterable {
    case rs256, rs384, rs512, es256, es384, es512

    public var name: String {
        switch self {
        case .rs256: "RS256"
        case .rs384: "RS384"
        case .rs512: "RS512"
        case .es256: "ES256"
        case .es384: "ES384"
        case .es512: "ES512"
        }
    }

    var nameBytes: [UInt8] { Array(name.utf8) }
    static let names: [[UInt8]] = allCases.map(\.nameBytes)

    public var digestBits: Int {
        switch self {
        case .rs256, .es256: 256
        case .rs384, .es384: 384
        case .rs512, .es512: 512
        }
    }

    public var isEC: Bool { rawValue >= JWTAlgorithm.es256.rawValue }

    /// The curve an ECDSA algorithm signs on (ES512 is P-521).
    var curveBits: Int {
        switch self {
        case .es256: 256
        case .es384: 384
        case .es512: 521
        default: 0
        }
    }

    static func named(_ bytes: Span<UInt8>, _ value: JSONScanner.Value) -> JWTAlgorithm? {
        for algorithm in allCases {
            let name = names[Int(algorithm.rawValue)]
            if JSONScanner.string(bytes, value, equals: name.span) { return algorithm }
        }
        return nil
    }
}

/// An issuer's signing keys (a JWK Set, RFC 7517 §5), ready to verify with. Built when keys are
/// loaded or refreshed, never on the request path.
public struct KeySet: Sendable {
    public struct Key: Sendable {
        public var id: [UInt8]
        public var key: PublicKey
        /// The algorithm the JWK restricts itself to (`alg`), if any.
        public var algorithm: JWTAlgorithm?
    }

    public var keys: [Key]
    /// Keys the set holds that Sluice cannot use (encryption keys, symmetric keys, other curves,
    /// RSA under 2048 bits), for messages.
    public var skipped: Int

    public init(keys: [Key] = [], skipped: Int = 0) {
        self.keys = keys
        self.skipped = skipped
    }

    /// The key named `id` that may verify `algorithm`'s signatures.
    public func key(_ id: Span<UInt8>, for algorithm: JWTAlgorithm) -> PublicKey? {
        for entry in keys where entry.id.count == id.count {
            var same = true
            for offset in 0..<id.count where entry.id[offset] != id[offset] {
                same = false
                break
            }
            guard same else { continue }
            if let restricted = entry.algorithm, restricted != algorithm { return nil }
            switch entry.key.kind {
            case .rsa: return algorithm.isEC ? nil : entry.key
            case .ec: return algorithm.isEC && entry.key.bits == algorithm.curveBits ? entry.key : nil
            }
        }
        return nil
    }

    public struct ParseError: Error, Sendable {
        public var message: String
    }

    /// Parses a JWKS document: `{"keys": [...]}`.
    public static func parse(_ json: [UInt8]) -> Result<KeySet, ParseError> {
        let bytes = json.span
        guard let document = JSONScanner.document(bytes), document.kind == .object else {
            return .failure(ParseError(message: "not a JSON object (a JWKS is {\"keys\": [...]})"))
        }
        var members = JSONMembers(document.range)
        var list: JSONScanner.Value?
        while let (key, value) = members.next(bytes) {
            let keysName = Array("keys".utf8)
            if JSONScanner.string(bytes, key, equals: keysName.span) { list = value }
        }
        guard let list, list.kind == .array else {
            return .failure(ParseError(message: "no \"keys\" list"))
        }
        var set = KeySet()
        var elements = JSONElements(list.range)
        while let element = elements.next(bytes) {
            if let key = Self.key(bytes, element) { set.keys.append(key) } else { set.skipped += 1 }
        }
        return .success(set)
    }

    /// One JWK, if it is a signing key Sluice can use.
    static func key(_ bytes: Span<UInt8>, _ value: JSONScanner.Value) -> Key? {
        guard value.kind == .object else { return nil }
        var fields: [String: [UInt8]] = [:]
        var members = JSONMembers(value.range, depth: 2)
        while let (key, member) = members.next(bytes) {
            guard member.kind == .string else { continue }
            var name: [UInt8] = []
            JSONScanner.appendContent(bytes, key, to: &name)
            var text: [UInt8] = []
            JSONScanner.appendContent(bytes, member, to: &text)
            fields[String(decoding: name, as: UTF8.self)] = text
        }
        func decoded(_ name: String) -> [UInt8]? {
            guard let text = fields[name] else { return nil }
            var output: [UInt8] = []
            return Base64URL.decode(text.span, into: &output) ? output : nil
        }
        if let use = fields["use"], use != Array("sig".utf8) { return nil }
        guard let id = fields["kid"] else { return nil }
        var algorithm: JWTAlgorithm?
        if let alg = fields["alg"] {
            guard let known = JWTAlgorithm.allCases.first(where: { $0.nameBytes == alg }) else { return nil }
            algorithm = known
        }
        switch fields["kty"].map({ String(decoding: $0, as: UTF8.self) }) {
        case "RSA":
            guard let modulus = decoded("n"), let exponent = decoded("e"),
                  let key = PublicKey(rsaModulus: modulus, exponent: exponent), key.bits >= 2_048 else { return nil }
            if let algorithm, algorithm.isEC { return nil }
            return Key(id: id, key: key, algorithm: algorithm)
        case "EC":
            let curves = ["P-256": 256, "P-384": 384, "P-521": 521]
            guard let curveName = fields["crv"], let bits = curves[String(decoding: curveName, as: UTF8.self)],
                  let x = decoded("x"), let y = decoded("y"),
                  let key = PublicKey(ecCurveBits: bits, x: x, y: y) else { return nil }
            if let algorithm, !algorithm.isEC || algorithm.curveBits != bits { return nil }
            return Key(id: id, key: key, algorithm: algorithm)
        default:
            return nil
        }
    }
}
