import SluiceCrypto
import SluiceHTTP1

/// An access key that may sign requests: its id, its secret and, for temporary credentials,
/// the session token the request must carry. Secrets stay in memory only; nothing prints them.
public struct SigV4Credential: Sendable {
    public var accessKeyID: [UInt8]
    /// `AWS4` followed by the secret access key: the first HMAC's key.
    var signingSecret: [UInt8]
    public var sessionToken: [UInt8]?
    /// Temporary credentials expire (Unix seconds); nil for long-term keys.
    public var expiresEpochSeconds: Int64?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil,
                expiresEpochSeconds: Int64? = nil) {
        self.accessKeyID = Array(accessKeyID.utf8)
        signingSecret = Array("AWS4\(secretAccessKey)".utf8)
        self.sessionToken = sessionToken.map { Array($0.utf8) }
        self.expiresEpochSeconds = expiresEpochSeconds
    }
}

/// Why a signed request was refused, as API Gateway tells the caller.
public enum SigV4Failure: Error, Sendable, Equatable {
    /// No `Authorization` header: 403 MissingAuthenticationTokenException.
    case missing
    /// An `Authorization` header that is not a complete SigV4 one, or no `X-Amz-Date`: 403
    /// IncompleteSignatureException.
    case incomplete
    /// An access key or session token Sluice does not know: 403 UnrecognizedClientException.
    case unrecognizedClient
    /// The credentials' session has expired: 403 ExpiredTokenException.
    case expiredToken
    /// The request's time is more than five minutes from the gateway's: 403 InvalidSignatureException.
    case expired
    /// The signature, its scope or the payload's hash does not match: 403 InvalidSignatureException.
    case mismatch
}

/// The parts of a request that Signature Version 4 covers, as ranges into the head's bytes.
public struct SigV4Request {
    public var method: Range<Int>
    /// The path as sent, without the query.
    public var path: Range<Int>
    /// The query after `?`, or nil.
    public var query: Range<Int>?
    public var headers: [HeaderField]

    public init(method: Range<Int>, path: Range<Int>, query: Range<Int>?, headers: [HeaderField]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }
}

/// Checks AWS Signature Version 4 (`AWS4-HMAC-SHA256` in the `Authorization` header) for one
/// service and region, against a set of credentials. One per worker: its buffers are reserved
/// once and reused, and each credential's signing key is kept for its day, so a request costs
/// two SHA-256s of its canonical forms, one of its body and one HMAC.
public struct SigV4Verifier {
    public static let algorithm: [UInt8] = Array("AWS4-HMAC-SHA256".utf8)
    static let terminator: [UInt8] = Array("aws4_request".utf8)
    /// Five minutes either way, as AWS allows.
    public static let skewSecondsMax: Int64 = 300

    public let region: [UInt8]
    public let service: [UInt8]
    public let credentials: [SigV4Credential]
    /// Credential index by access key id's hash (open addressing; -1 empty).
    private let index: [Int32]

    private var canonical: [UInt8] = []
    private var stringToSign: [UInt8] = []
    private var digest: [UInt8] = []
    private var mac: [UInt8] = []
    private var names: [Range<Int>] = []
    private var pairs: [(name: Range<Int>, value: Range<Int>)] = []
    private var encodedQuery: [UInt8] = []
    /// By credential: the day (YYYYMMDD as a number) its `signingKeys` entry was derived for.
    private var signingDays: [Int]
    private var signingKeys: [[UInt8]]

    public init(region: String, service: String = "execute-api", credentials: [SigV4Credential],
                headBytesMax: Int = 10_240) {
        self.region = Array(region.utf8)
        self.service = Array(service.utf8)
        self.credentials = credentials
        var slots = 8
        while slots < credentials.count * 2 { slots *= 2 }
        var index = [Int32](repeating: -1, count: slots)
        for (offset, credential) in credentials.enumerated() {
            var slot = Int(HTTPBytes.fnv1a(credential.accessKeyID.span) & UInt64(slots - 1))
            while index[slot] >= 0 { slot = (slot + 1) & (slots - 1) }
            index[slot] = Int32(offset)
        }
        self.index = index
        signingDays = Array(repeating: -1, count: credentials.count)
        signingKeys = credentials.map { _ in
            var key: [UInt8] = []
            key.reserveCapacity(32)
            return key
        }
        // Room for the largest head's canonical forms: the path encoded three bytes per byte.
        canonical.reserveCapacity(4 * headBytesMax + 1_024)
        stringToSign.reserveCapacity(256)
        encodedQuery.reserveCapacity(3 * headBytesMax)
        digest.reserveCapacity(32)
        mac.reserveCapacity(32)
        names.reserveCapacity(128)
        pairs.reserveCapacity(256)
    }

    /// Verifies the request whose head is `bytes` and whose whole body is `body`. Returns the
    /// credential that signed it, or why it is refused.
    public mutating func verify(_ bytes: Span<UInt8>, _ request: SigV4Request, body: Span<UInt8>,
                                nowEpochSeconds: Int64) -> Result<Int, SigV4Failure> {
        guard let authorization = field(bytes, request.headers, SigV4Verifier.authorizationName) else {
            return .failure(.missing)
        }
        guard let parts = SigV4Authorization(bytes, authorization) else { return .failure(.incomplete) }
        guard let dateField = field(bytes, request.headers, SigV4Verifier.dateName),
              let time = SigV4Verifier.amzDate(bytes.extracting(dateField)) else { return .failure(.incomplete) }
        guard let credential = credential(bytes.extracting(parts.accessKey)) else {
            return .failure(.unrecognizedClient)
        }
        let token = field(bytes, request.headers, SigV4Verifier.securityTokenName)
        if let expected = credentials[credential].sessionToken {
            guard let token, HTTPBytes.equals(bytes, token, expected.span) else { return .failure(.unrecognizedClient) }
        } else if token != nil {
            return .failure(.unrecognizedClient)
        }
        if let expires = credentials[credential].expiresEpochSeconds, nowEpochSeconds >= expires {
            return .failure(.expiredToken)
        }
        guard abs(time.epochSeconds - nowEpochSeconds) <= SigV4Verifier.skewSecondsMax else {
            return .failure(.expired)
        }
        // The scope: the request's day, this region and service.
        let dateText = bytes.extracting(dateField)
        guard parts.day.count == 8, HTTPBytes.equals(bytes, parts.day, dateText.extracting(0..<8)),
              HTTPBytes.equals(bytes, parts.region, region.span),
              HTTPBytes.equals(bytes, parts.service, service.span),
              HTTPBytes.equals(bytes, parts.terminator, SigV4Verifier.terminator.span) else {
            return .failure(.mismatch)
        }
        guard canonicalRequest(bytes, request, signedHeaders: parts.signedHeaders, body: body) else {
            return .failure(.mismatch)
        }
        // The string to sign.
        stringToSign.removeAll(keepingCapacity: true)
        stringToSign.append(contentsOf: SigV4Verifier.algorithm)
        stringToSign.append(0x0A)
        for offset in 0..<dateText.count { stringToSign.append(dateText[offset]) }
        stringToSign.append(0x0A)
        let scope = bytes.extracting(parts.day.lowerBound..<parts.terminator.upperBound)
        for offset in 0..<scope.count { stringToSign.append(scope[offset]) }
        stringToSign.append(0x0A)
        // Local copies share the buffers (nothing is allocated) and can lend spans.
        let canonicalText = canonical
        SHA256.digest(canonicalText.span, into: &digest)
        SigV4Verifier.appendHex(digest, to: &stringToSign)
        // The signature.
        signingKey(credential, day: time.day, dayText: dateText.extracting(0..<8))
        let key = signingKeys[credential]
        let text = stringToSign
        HMACSHA256.mac(key: key.span, data: text.span, into: &mac)
        return SigV4Verifier.matchesHex(mac, bytes.extracting(parts.signature)) ? .success(credential)
            : .failure(.mismatch)
    }

    /// The canonical request (the spec's `CanonicalRequest`) into `canonical`. False when the
    /// payload's declared hash is not the body's, or the signed headers leave out `host`.
    private mutating func canonicalRequest(_ bytes: Span<UInt8>, _ request: SigV4Request, signedHeaders: Range<Int>,
                                           body: Span<UInt8>) -> Bool {
        canonical.removeAll(keepingCapacity: true)
        let method = bytes.extracting(request.method)
        for offset in 0..<method.count { canonical.append(method[offset]) }
        canonical.append(0x0A)
        appendCanonicalPath(bytes.extracting(request.path))
        canonical.append(0x0A)
        if let query = request.query { appendCanonicalQuery(bytes.extracting(query)) }
        canonical.append(0x0A)
        // Each signed header, in the order the signer listed them (lowercase, sorted and each
        // once, as SigV4 requires: a name listed twice would hash its values twice): its values
        // joined by commas, each trimmed and with runs of spaces made one.
        var hasHost = false
        var previous = signedHeaders.lowerBound..<signedHeaders.lowerBound
        var start = signedHeaders.lowerBound
        while start < signedHeaders.upperBound {
            var end = start
            while end < signedHeaders.upperBound && bytes[end] != UInt8(ascii: ";") { end += 1 }
            guard end > start, SigV4Verifier.isLowercaseName(bytes, start..<end),
                  previous.isEmpty || SigV4Verifier.precedes(bytes, previous, start..<end) else { return false }
            previous = start..<end
            let name = bytes.extracting(start..<end)
            if HTTPBytes.equals(bytes, start..<end, SigV4Verifier.hostName.span) { hasHost = true }
            for offset in 0..<name.count { canonical.append(name[offset]) }
            canonical.append(UInt8(ascii: ":"))
            var first = true
            for header in request.headers where HTTPBytes.equalsIgnoringCase(bytes, header.name, lowercased: name) {
                if !first { canonical.append(UInt8(ascii: ",")) }
                first = false
                appendCollapsed(bytes.extracting(header.value))
            }
            canonical.append(0x0A)
            start = end + 1
        }
        guard hasHost, bytes[signedHeaders.upperBound - 1] != UInt8(ascii: ";") else { return false }
        canonical.append(0x0A)
        for offset in signedHeaders { canonical.append(bytes[offset]) }
        canonical.append(0x0A)
        SHA256.digest(body, into: &digest)
        if let declared = field(bytes, request.headers, SigV4Verifier.contentSHA256Name),
           !SigV4Verifier.matchesHex(digest, bytes.extracting(declared)) {
            return false
        }
        SigV4Verifier.appendHex(digest, to: &canonical)
        return true
    }

    static func isLowercaseName(_ bytes: Span<UInt8>, _ range: Range<Int>) -> Bool {
        for offset in range {
            let byte = bytes[offset]
            guard HTTPBytes.isTokenByte(byte), !(byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) else { return false }
        }
        return true
    }

    /// Whether `left` sorts strictly before `right`, bytewise.
    static func precedes(_ bytes: Span<UInt8>, _ left: Range<Int>, _ right: Range<Int>) -> Bool {
        var offset = 0
        while offset < left.count && offset < right.count {
            let a = bytes[left.lowerBound + offset]
            let b = bytes[right.lowerBound + offset]
            if a != b { return a < b }
            offset += 1
        }
        return left.count < right.count
    }

    /// The path as AWS canonicalizes it for services other than S3: empty segments dropped, and
    /// each byte but the unreserved ones and `/` percent-encoded (so escapes the client sent are
    /// encoded again).
    private mutating func appendCanonicalPath(_ path: Span<UInt8>) {
        canonical.append(UInt8(ascii: "/"))
        var wroteSegment = false
        var start = 0
        while start < path.count {
            while start < path.count && path[start] == UInt8(ascii: "/") { start += 1 }
            var end = start
            while end < path.count && path[end] != UInt8(ascii: "/") { end += 1 }
            guard end > start else { break }
            if wroteSegment { canonical.append(UInt8(ascii: "/")) }
            for offset in start..<end { SigV4Verifier.appendEncoded(path[offset], to: &canonical) }
            wroteSegment = true
            start = end
        }
        if wroteSegment && path.count > 0 && path[path.count - 1] == UInt8(ascii: "/") {
            canonical.append(UInt8(ascii: "/"))
        }
    }

    /// The query's parameters decoded, encoded again as AWS does, and sorted by name then value.
    private mutating func appendCanonicalQuery(_ query: Span<UInt8>) {
        encodedQuery.removeAll(keepingCapacity: true)
        pairs.removeAll(keepingCapacity: true)
        var start = 0
        while start <= query.count {
            var end = start
            while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
            if end > start {
                var equals = start
                while equals < end && query[equals] != UInt8(ascii: "=") { equals += 1 }
                let nameStart = encodedQuery.count
                appendReencoded(query.extracting(start..<equals))
                let valueStart = encodedQuery.count
                if equals < end { appendReencoded(query.extracting((equals + 1)..<end)) }
                pairs.append((nameStart..<valueStart, valueStart..<encodedQuery.count))
            }
            start = end + 1
        }
        // Insertion sort: queries are short, and it needs no buffer.
        if pairs.count > 1 {
            for next in 1..<pairs.count {
                let pair = pairs[next]
                var slot = next
                while slot > 0 && precedes(pair, pairs[slot - 1]) {
                    pairs[slot] = pairs[slot - 1]
                    slot -= 1
                }
                pairs[slot] = pair
            }
        }
        for (offset, pair) in pairs.enumerated() {
            if offset > 0 { canonical.append(UInt8(ascii: "&")) }
            for index in pair.name { canonical.append(encodedQuery[index]) }
            canonical.append(UInt8(ascii: "="))
            for index in pair.value { canonical.append(encodedQuery[index]) }
        }
    }

    private func precedes(_ left: (name: Range<Int>, value: Range<Int>), _ right: (name: Range<Int>, value: Range<Int>)) -> Bool {
        let order = compare(left.name, right.name)
        return order != 0 ? order < 0 : compare(left.value, right.value) < 0
    }

    private func compare(_ left: Range<Int>, _ right: Range<Int>) -> Int {
        var offset = 0
        while offset < left.count && offset < right.count {
            let a = encodedQuery[left.lowerBound + offset]
            let b = encodedQuery[right.lowerBound + offset]
            if a != b { return a < b ? -1 : 1 }
            offset += 1
        }
        return left.count - right.count
    }

    /// Percent-decodes `text` (a malformed escape stays as it is) and encodes it AWS's way.
    private mutating func appendReencoded(_ text: Span<UInt8>) {
        var offset = 0
        while offset < text.count {
            var byte = text[offset]
            if byte == UInt8(ascii: "%"), offset + 2 < text.count,
               let high = HTTPBytes.hexValue(text[offset + 1]), let low = HTTPBytes.hexValue(text[offset + 2]) {
                byte = UInt8(high << 4 | low)
                offset += 2
            }
            SigV4Verifier.appendEncoded(byte, to: &encodedQuery, keepingSlash: false)
            offset += 1
        }
    }

    private mutating func appendCollapsed(_ value: Span<UInt8>) {
        var pendingSpace = false
        var wrote = false
        for offset in 0..<value.count {
            let byte = value[offset]
            if byte == 0x20 || byte == 0x09 {
                pendingSpace = wrote
                continue
            }
            if pendingSpace { canonical.append(0x20) }
            pendingSpace = false
            canonical.append(byte)
            wrote = true
        }
    }

    /// The signing key for `day`, derived once per credential and day.
    private mutating func signingKey(_ credential: Int, day: Int, dayText: Span<UInt8>) {
        guard signingDays[credential] != day else { return }
        // Once a day per credential: these may allocate.
        var dateKey: [UInt8] = []
        var regionKey: [UInt8] = []
        var serviceKey: [UInt8] = []
        var signingKey: [UInt8] = []
        let secret = credentials[credential].signingSecret
        HMACSHA256.mac(key: secret.span, data: dayText, into: &dateKey)
        HMACSHA256.mac(key: dateKey.span, data: region.span, into: &regionKey)
        HMACSHA256.mac(key: regionKey.span, data: service.span, into: &serviceKey)
        HMACSHA256.mac(key: serviceKey.span, data: SigV4Verifier.terminator.span, into: &signingKey)
        signingKeys[credential] = signingKey
        signingDays[credential] = day
    }

    private func credential(_ accessKey: Span<UInt8>) -> Int? {
        let mask = index.count - 1
        var slot = Int(HTTPBytes.fnv1a(accessKey) & UInt64(mask))
        while index[slot] >= 0 {
            let candidate = Int(index[slot])
            let id = credentials[candidate].accessKeyID
            if HTTPBytes.equals(accessKey, 0..<accessKey.count, id.span) { return candidate }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private func field(_ bytes: Span<UInt8>, _ headers: [HeaderField], _ name: [UInt8]) -> Range<Int>? {
        for header in headers where HTTPBytes.equalsIgnoringCase(bytes, header.name, lowercased: name.span) {
            return HTTPBytes.trimmingWhitespace(bytes, header.value)
        }
        return nil
    }

    // MARK: Encoding

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    /// Whether `hex` is the lowercase hex of `bytes`, compared in constant time.
    static func matchesHex(_ bytes: [UInt8], _ hex: Span<UInt8>) -> Bool {
        guard hex.count == bytes.count * 2 else { return false }
        var difference: UInt8 = 0
        for (offset, byte) in bytes.enumerated() {
            difference |= hex[2 * offset] ^ hexDigits[Int(byte >> 4)]
            difference |= hex[2 * offset + 1] ^ hexDigits[Int(byte & 0x0F)]
        }
        return difference == 0
    }

    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
             UInt8(ascii: "~"):
            true
        default: false
        }
    }

    static func appendEncoded(_ byte: UInt8, to out: inout [UInt8], keepingSlash: Bool = true) {
        if isUnreserved(byte) || (keepingSlash && byte == UInt8(ascii: "/")) {
            out.append(byte)
        } else {
            out.append(UInt8(ascii: "%"))
            out.append(upperHexDigits[Int(byte >> 4)])
            out.append(upperHexDigits[Int(byte & 0x0F)])
        }
    }

    /// `YYYYMMDDTHHMMSSZ`: the time in Unix seconds and the day as the number YYYYMMDD.
    static func amzDate(_ text: Span<UInt8>) -> (epochSeconds: Int64, day: Int)? {
        guard text.count == 16, text[8] == UInt8(ascii: "T"), text[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for offset in range {
                guard HTTPBytes.isDigit(text[offset]) else { return nil }
                value = value * 10 + Int(text[offset] - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        let days = DateLine.daysSinceEpoch(year: year, month: month, day: day)
        return (Int64(days) * 86_400 + Int64(hour * 3_600 + minute * 60 + second), year * 10_000 + month * 100 + day)
    }


    static let authorizationName: [UInt8] = Array("authorization".utf8)
    static let dateName: [UInt8] = Array("x-amz-date".utf8)
    static let securityTokenName: [UInt8] = Array("x-amz-security-token".utf8)
    static let contentSHA256Name: [UInt8] = Array("x-amz-content-sha256".utf8)
    static let hostName: [UInt8] = Array("host".utf8)
}

/// `AWS4-HMAC-SHA256 Credential=KEY/DAY/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
/// Signature=HEX`, as ranges into the head.
struct SigV4Authorization {
    var accessKey: Range<Int>
    var day: Range<Int>
    var region: Range<Int>
    var service: Range<Int>
    var terminator: Range<Int>
    var signedHeaders: Range<Int>
    var signature: Range<Int>

    static let credentialKey: [UInt8] = Array("Credential".utf8)
    static let signedHeadersKey: [UInt8] = Array("SignedHeaders".utf8)
    static let signatureKey: [UInt8] = Array("Signature".utf8)

    init?(_ bytes: Span<UInt8>, _ value: Range<Int>) {
        let algorithm = SigV4Verifier.algorithm
        guard value.count > algorithm.count,
              HTTPBytes.equals(bytes, value.lowerBound..<(value.lowerBound + algorithm.count), algorithm.span),
              bytes[value.lowerBound + algorithm.count] == 0x20 else { return nil }
        var credential: Range<Int>?
        var signed: Range<Int>?
        var signature: Range<Int>?
        var start = value.lowerBound + algorithm.count
        while start < value.upperBound {
            while start < value.upperBound && (bytes[start] == 0x20 || bytes[start] == UInt8(ascii: ",")) { start += 1 }
            var end = start
            while end < value.upperBound && bytes[end] != UInt8(ascii: ",") { end += 1 }
            var equals = start
            while equals < end && bytes[equals] != UInt8(ascii: "=") { equals += 1 }
            guard equals < end else {
                if end > start { return nil }
                break
            }
            let item = (equals + 1)..<HTTPBytes.trimmingWhitespace(bytes, (equals + 1)..<end).upperBound
            let key = start..<equals
            if HTTPBytes.equals(bytes, key, Self.credentialKey.span) {
                credential = item
            } else if HTTPBytes.equals(bytes, key, Self.signedHeadersKey.span) {
                signed = item
            } else if HTTPBytes.equals(bytes, key, Self.signatureKey.span) {
                signature = item
            }
            start = end
        }
        guard let credential, let signed, let signature, !signed.isEmpty, !signature.isEmpty else { return nil }
        // KEY/DAY/REGION/SERVICE/aws4_request: the slashes found from the right, so that
        // nothing but the key can hold one.
        var slashes = (0, 0, 0, 0)
        var found = 0
        var offset = credential.upperBound - 1
        while offset >= credential.lowerBound && found < 4 {
            if bytes[offset] == UInt8(ascii: "/") {
                switch found {
                case 0: slashes.3 = offset
                case 1: slashes.2 = offset
                case 2: slashes.1 = offset
                default: slashes.0 = offset
                }
                found += 1
            }
            offset -= 1
        }
        guard found == 4, slashes.0 > credential.lowerBound else { return nil }
        accessKey = credential.lowerBound..<slashes.0
        day = (slashes.0 + 1)..<slashes.1
        region = (slashes.1 + 1)..<slashes.2
        service = (slashes.2 + 1)..<slashes.3
        terminator = (slashes.3 + 1)..<credential.upperBound
        signedHeaders = signed
        self.signature = signature
    }
}
