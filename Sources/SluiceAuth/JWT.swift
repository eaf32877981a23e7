import SluiceCrypto
import SluiceJSON

/// Why a bearer token was refused.
public enum JWTFailure: Error, Sendable, Equatable {
    /// Not three base64url parts of JSON objects (RFC 7519 §7.2), or larger than the verifier takes.
    case malformed
    /// `alg` is none, an HMAC (whose secret would be the issuer's public key), or one Sluice does
    /// not verify; or the header has `crit` extensions.
    case algorithm
    /// No key of the issuer's has the token's `kid` (the keys may have rotated: worth a refresh).
    case unknownKey
    case signature
    /// `exp` has passed (or there is none).
    case expired
    /// `nbf` or `iat` is in the future.
    case notYetValid
    /// `iss` is not one of the authorizer's issuers.
    case issuer
    /// Neither `aud` nor `client_id` is one of the authorizer's audiences.
    case audience
    /// The token holds none of the scopes the method requires.
    case scope
}

/// What a token's claims say that the checks need.
struct ClaimSummary {
    var issuer = -1
    var hasAudience = false
    var audienceMatches = false
    var clientIDMatches = false
    var expires: Int64?
    var notBefore: Int64?
    var issuedAt: Int64?
}

/// Verifies JWS-signed JWTs (RFC 7515 compact form, RFC 7519 claims) against issuers' key sets.
/// One per worker: its buffers are reserved once for the largest token it takes.
public struct JWTVerifier {
    public let tokenBytesMax: Int
    private var header: [UInt8] = []
    /// The decoded claims of the last token verified.
    public private(set) var claims: [UInt8] = []
    private var signature: [UInt8] = []

    public init(tokenBytesMax: Int = 8_192) {
        self.tokenBytesMax = tokenBytesMax
        header.reserveCapacity(tokenBytesMax)
        claims.reserveCapacity(tokenBytesMax)
        signature.reserveCapacity(tokenBytesMax)
    }

    /// Verifies `token`: its structure, algorithm, issuer (one of `issuers`; `keys(i)` gives the
    /// i-th issuer's key set), signature, times (with `leeway` seconds either way) and audience
    /// (one of `audiences`, unless empty). Returns the issuer's index and the token's `exp`; the
    /// decoded claims are then in `claims`.
    public mutating func verify(_ token: Span<UInt8>, issuers: [[UInt8]], audiences: [[UInt8]],
                                nowEpochSeconds now: Int64, leewaySeconds leeway: Int64,
                                keys: (Int) -> KeySet?) -> Result<(issuer: Int, expires: Int64), JWTFailure> {
        guard token.count <= tokenBytesMax else { return .failure(.malformed) }
        var firstDot = -1
        var secondDot = -1
        for offset in 0..<token.count where token[offset] == UInt8(ascii: ".") {
            if firstDot < 0 {
                firstDot = offset
            } else if secondDot < 0 {
                secondDot = offset
            } else {
                return .failure(.malformed)
            }
        }
        guard firstDot > 0, secondDot > firstDot + 1,
              Base64URL.decode(token.extracting(0..<firstDot), into: &header),
              Base64URL.decode(token.extracting((firstDot + 1)..<secondDot), into: &claims),
              Base64URL.decode(token.extracting((secondDot + 1)..<token.count), into: &signature) else {
            return .failure(.malformed)
        }
        // The header: alg and kid.
        let headerText = header
        let headerBytes = headerText.span
        guard let headerObject = JSONScanner.document(headerBytes), headerObject.kind == .object else {
            return .failure(.malformed)
        }
        var algorithm: JWTAlgorithm?
        var keyID: Range<Int>?
        var members = JSONMembers(headerObject.range)
        while let (key, value) = members.next(headerBytes) {
            if JSONScanner.string(headerBytes, key, equals: JWTVerifier.algName.span) {
                guard let named = JWTAlgorithm.named(headerBytes, value) else { return .failure(.algorithm) }
                algorithm = named
            } else if JSONScanner.string(headerBytes, key, equals: JWTVerifier.kidName.span) {
                guard value.kind == .string, !value.hasEscapes else { return .failure(.unknownKey) }
                keyID = value.content
            } else if JSONScanner.string(headerBytes, key, equals: JWTVerifier.critName.span) {
                return .failure(.algorithm)
            }
        }
        guard let algorithm else { return .failure(.algorithm) }
        // The claims: the issuer first, whose keys verify the signature.
        let claimText = claims
        let claimBytes = claimText.span
        guard let summary = JWTVerifier.summarize(claimBytes, issuers: issuers, audiences: audiences) else {
            return .failure(.malformed)
        }
        guard summary.issuer >= 0 else { return .failure(.issuer) }
        guard let keyID, let set = keys(summary.issuer),
              let key = set.key(headerBytes.extracting(keyID), for: algorithm) else { return .failure(.unknownKey) }
        let signatureText = signature
        guard key.verifies(signatureText.span, of: token.extracting(0..<secondDot), digestBits: algorithm.digestBits) else {
            return .failure(.signature)
        }
        // Times are compared as `now - leeway` and `now + leeway`: a claim near Int64's ends cannot
        // overflow them (the clock and the leeway are small).
        guard let expires = summary.expires, now - leeway < expires else { return .failure(.expired) }
        if let notBefore = summary.notBefore, notBefore > now + leeway { return .failure(.notYetValid) }
        if let issuedAt = summary.issuedAt, issuedAt > now + leeway { return .failure(.notYetValid) }
        if !audiences.isEmpty {
            let matches = summary.hasAudience ? summary.audienceMatches : summary.clientIDMatches
            guard matches else { return .failure(.audience) }
        }
        return .success((summary.issuer, expires))
    }

    static let algName: [UInt8] = Array("alg".utf8)
    static let kidName: [UInt8] = Array("kid".utf8)
    static let critName: [UInt8] = Array("crit".utf8)
    static let issName: [UInt8] = Array("iss".utf8)
    static let audName: [UInt8] = Array("aud".utf8)
    static let clientIDName: [UInt8] = Array("client_id".utf8)
    static let expName: [UInt8] = Array("exp".utf8)
    static let nbfName: [UInt8] = Array("nbf".utf8)
    static let iatName: [UInt8] = Array("iat".utf8)
    static let scopeName: [UInt8] = Array("scope".utf8)
    static let scpName: [UInt8] = Array("scp".utf8)

    /// Reads the registered claims the checks need; nil when the claims are not a JSON object or
    /// a time claim is not a number.
    static func summarize(_ bytes: Span<UInt8>, issuers: [[UInt8]], audiences: [[UInt8]]) -> ClaimSummary? {
        guard let object = JSONScanner.document(bytes), object.kind == .object else { return nil }
        var summary = ClaimSummary()
        var members = JSONMembers(object.range)
        while let (key, value) = members.next(bytes) {
            if JSONScanner.string(bytes, key, equals: issName.span) {
                for (index, issuer) in issuers.enumerated() where JSONScanner.string(bytes, value, equals: issuer.span) {
                    summary.issuer = index
                }
            } else if JSONScanner.string(bytes, key, equals: audName.span) {
                summary.hasAudience = true
                if value.kind == .array {
                    var elements = JSONElements(value.range, depth: 2)
                    while !summary.audienceMatches, let element = elements.next(bytes) {
                        summary.audienceMatches = matchesAny(bytes, element, audiences)
                    }
                } else {
                    summary.audienceMatches = matchesAny(bytes, value, audiences)
                }
            } else if JSONScanner.string(bytes, key, equals: clientIDName.span) {
                summary.clientIDMatches = matchesAny(bytes, value, audiences)
            } else if JSONScanner.string(bytes, key, equals: expName.span) {
                guard let time = JSONScanner.integer(bytes, value) else { return nil }
                summary.expires = time
            } else if JSONScanner.string(bytes, key, equals: nbfName.span) {
                guard let time = JSONScanner.integer(bytes, value) else { return nil }
                summary.notBefore = time
            } else if JSONScanner.string(bytes, key, equals: iatName.span) {
                guard let time = JSONScanner.integer(bytes, value) else { return nil }
                summary.issuedAt = time
            }
        }
        return summary
    }

    static func matchesAny(_ bytes: Span<UInt8>, _ value: JSONScanner.Value, _ candidates: [[UInt8]]) -> Bool {
        for candidate in candidates where JSONScanner.string(bytes, value, equals: candidate.span) { return true }
        return false
    }

    /// Whether verified claims hold one of `scopes`: in `scope` (space-separated, as OAuth and
    /// Cognito access tokens carry them) or `scp` (a list, or space-separated).
    public static func holdsScope(_ claims: Span<UInt8>, anyOf scopes: [[UInt8]]) -> Bool {
        guard let object = JSONScanner.document(claims), object.kind == .object else { return false }
        var members = JSONMembers(object.range)
        while let (key, value) = members.next(claims) {
            guard JSONScanner.string(claims, key, equals: scopeName.span)
                    || JSONScanner.string(claims, key, equals: scpName.span) else { continue }
            if value.kind == .array {
                var elements = JSONElements(value.range, depth: 2)
                while let element = elements.next(claims) {
                    if element.kind == .string && spaceSeparated(claims, element.content, holdsAnyOf: scopes) { return true }
                }
            } else if value.kind == .string && !value.hasEscapes {
                if spaceSeparated(claims, value.content, holdsAnyOf: scopes) { return true }
            }
        }
        return false
    }

    static func spaceSeparated(_ bytes: Span<UInt8>, _ range: Range<Int>, holdsAnyOf scopes: [[UInt8]]) -> Bool {
        var start = range.lowerBound
        while start < range.upperBound {
            var end = start
            while end < range.upperBound && bytes[end] != 0x20 { end += 1 }
            for scope in scopes where scope.count == end - start {
                var same = true
                for offset in 0..<scope.count where bytes[start + offset] != scope[offset] {
                    same = false
                    break
                }
                if same { return true }
            }
            start = end + 1
        }
        return false
    }
}
