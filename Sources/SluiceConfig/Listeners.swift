import Yams

/// One address the gateway serves, plain or with TLS (`listen`).
public struct Listener: Sendable, Hashable {
    public var address: ListenAddress
    /// nil: plain HTTP.
    public var tls: ListenerTLS?

    public init(address: ListenAddress, tls: ListenerTLS? = nil) {
        self.address = address
        self.tls = tls
    }

    /// `http` or `https`, for `X-Forwarded-Proto` and the startup line.
    public var scheme: String { tls == nil ? "http" : "https" }
}

/// A TLS listener's default certificate and the protocol versions and ciphers it accepts. A
/// handshake whose server name (SNI) is one of `domains` gets that domain's certificate and
/// policy instead; one for any other name (or none) gets the default certificate, or is refused
/// when the listener has none.
public struct ListenerTLS: Sendable, Hashable {
    public var certificate: CertificateFiles?
    public var policy: TLSSecurityPolicy

    public init(certificate: CertificateFiles?, policy: TLSSecurityPolicy = .tls12) {
        self.certificate = certificate
        self.policy = policy
    }
}

/// A custom domain name (API Gateway's `domainName`): its certificate and security policy, and
/// for mutual TLS the certificate authorities its clients' certificates must chain to. Which APIs
/// it serves is said by each API's `host` (and `base_path`, `stage`) mapping.
public struct DomainName: Sendable, Hashable {
    /// Lowercase; `*.example.com` matches one label in front of `example.com`.
    public var name: String
    public var certificate: CertificateFiles
    public var policy: TLSSecurityPolicy
    /// Mutual TLS: the truststore (PEM bundle of CA certificates); nil without.
    public var truststore: Truststore?

    public init(name: String, certificate: CertificateFiles, policy: TLSSecurityPolicy = .tls12,
                truststore: Truststore? = nil) {
        self.name = name
        self.certificate = certificate
        self.policy = policy
        self.truststore = truststore
    }

    /// Whether `host` (lowercase, without a port) is this domain.
    public func matches(_ host: String) -> Bool {
        guard name.hasPrefix("*.") else { return host == name }
        let suffix = name.dropFirst(1)
        guard host.hasSuffix(suffix) else { return false }
        let label = host.dropLast(suffix.count)
        return !label.isEmpty && !label.contains(".")
    }
}

/// A mutual-TLS truststore: CA certificates, PEM, read at load.
public struct Truststore: Sendable, Hashable {
    public var path: String
    public var pem: [UInt8]

    public init(path: String, pem: [UInt8]) {
        self.path = path
        self.pem = pem
    }
}

/// A certificate chain and its private key, PEM, read at load: a worker never opens a file.
public struct CertificateFiles: Sendable, Hashable {
    /// As written (relative paths resolved against the configuration's folder), for messages.
    public var chainPath: String
    public var keyPath: String
    /// The leaf certificate first, then its intermediates.
    public var chainPEM: [UInt8]
    public var keyPEM: [UInt8]

    public init(chainPath: String, keyPath: String, chainPEM: [UInt8], keyPEM: [UInt8]) {
        self.chainPath = chainPath
        self.keyPath = keyPath
        self.chainPEM = chainPEM
        self.keyPEM = keyPEM
    }
}

/// API Gateway's security policies for custom domain names: the oldest protocol version a client
/// may use, and the TLS 1.2-and-older ciphers offered (TLS 1.3's three suites are always offered).
public enum TLSSecurityPolicy: String, Sendable, Hashable, CaseIterable {
    /// TLS 1.0 to 1.3 (API Gateway's default for edge-optimized and regional endpoints).
    case tls10 = "TLS_1_0"
    /// TLS 1.2 and 1.3.
    case tls12 = "TLS_1_2"
    /// TLS 1.3 only.
    case tls13 = "SecurityPolicy_TLS13_1_3_2025_09"

    /// The oldest version accepted: 0x0301 (TLS 1.0), 0x0303 (1.2) or 0x0304 (1.3).
    public var minimumVersion: Int {
        switch self {
        case .tls10: 0x0301
        case .tls12: 0x0303
        case .tls13: 0x0304
        }
    }

    /// OpenSSL's names of the TLS 1.2 (and older) ciphers, the server's order of preference, as
    /// API Gateway's tables list them for the policy.
    public var ciphers12: String {
        let tls12 = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA256",
                     "ECDHE-RSA-AES128-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                     "ECDHE-ECDSA-AES256-SHA384", "ECDHE-RSA-AES256-SHA384", "AES128-GCM-SHA256", "AES128-SHA256",
                     "AES256-GCM-SHA384", "AES256-SHA256"]
        switch self {
        case .tls13, .tls12:
            return tls12.joined(separator: ":")
        case .tls10:
            // TLS 1.0 and 1.1 sign with SHA-1, which OpenSSL 3 refuses above security level 0.
            let legacy = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA",
                          "ECDHE-RSA-AES256-SHA", "AES128-SHA", "AES256-SHA"]
            return (tls12 + legacy).joined(separator: ":") + ":@SECLEVEL=0"
        }
    }
}

/// What `check` learns of a certificate chain and its key (from SluiceTLS, through the
/// loader's environment).
public struct CertificateSummary: Sendable, Hashable {
    /// How many certificates the chain holds, the leaf included.
    public var chainCount: Int
    /// Seconds until the leaf expires (negative once it has).
    public var secondsUntilExpiry: Int64

    public init(chainCount: Int, secondsUntilExpiry: Int64) {
        self.chainCount = chainCount
        self.secondsUntilExpiry = secondsUntilExpiry
    }
}

/// Reads `listen:`: one address (`"0.0.0.0:8080"`), or a list of addresses and mappings
/// `{address, tls: {certificate, key, security_policy}}`; and `domains:`, a list of
/// `{name, certificate, key, security_policy, mutual_tls: {truststore}}`.
struct ListenersSection {
    let reader: ConfigReader
    let environment: LoaderEnvironment
    let configPath: String

    /// A certificate expiring sooner than this gets a warning.
    static let expiryWarningSeconds: Int64 = 30 * 86_400

    func read(_ node: Node) -> [Listener]? {
        if case .sequence(let items) = node {
            guard !items.isEmpty else {
                reader.log.error(reader.file, node.line, "listen must name at least one address")
                return nil
            }
            var listeners: [Listener] = []
            var valid = true
            for item in items {
                if let listener = listener(item) { listeners.append(listener) } else { valid = false }
            }
            return valid ? listeners : nil
        }
        return listener(node).map { [$0] }
    }

    private func listener(_ node: Node) -> Listener? {
        if node.entries == nil { return address(node, "listen").map { Listener(address: $0) } }
        guard let entries = reader.mapping(node, "a listen entry") else { return nil }
        var address: ListenAddress?
        var addressSeen = false
        var tlsNode: Node?
        for (key, value) in entries {
            switch key.text ?? "" {
            case "address":
                addressSeen = true
                address = self.address(value, "listen.address")
            case "tls":
                tlsNode = value
            default:
                reader.unknownKey(key, in: "listen")
            }
        }
        if !addressSeen { reader.log.error(reader.file, node.line, "a listen entry needs 'address'") }
        guard let address else { return nil }
        guard let tlsNode else { return Listener(address: address) }
        guard let tls = tls(tlsNode) else { return nil }
        return Listener(address: address, tls: tls)
    }

    /// A listen address (`listen` entries, `admin`); reports and returns nil when it is not one.
    func address(_ node: Node, _ what: String) -> ListenAddress? {
        guard let text = reader.string(node, what) else { return nil }
        switch ListenAddress.parse(text) {
        case .success(let address): return address
        case .failure(let error):
            reader.log.error(reader.file, node.line, "\(what): \(error.message)")
            return nil
        }
    }

    private func tls(_ node: Node) -> ListenerTLS? {
        guard let entries = reader.mapping(node, "listen.tls") else { return nil }
        var chainNode: Node?
        var keyNode: Node?
        var policy: TLSSecurityPolicy? = .tls12
        for (key, value) in entries {
            switch key.text ?? "" {
            case "certificate": chainNode = value
            case "key": keyNode = value
            case "security_policy": policy = self.policy(value, "listen.tls.security_policy")
            default: reader.unknownKey(key, in: "listen.tls")
            }
        }
        guard let policy else { return nil }
        if chainNode == nil && keyNode == nil {
            // Only the domains' certificates: a handshake for any other name is refused.
            return ListenerTLS(certificate: nil, policy: policy)
        }
        guard let chainNode, let keyNode else {
            reader.log.error(reader.file, node.line, "listen.tls needs both 'certificate' (a PEM chain) and 'key' "
                             + "(its PEM private key), or neither (then only the domains' names are served)")
            return nil
        }
        guard let certificate = certificate(chain: chainNode, key: keyNode) else { return nil }
        return ListenerTLS(certificate: certificate, policy: policy)
    }

    private func policy(_ node: Node, _ what: String) -> TLSSecurityPolicy? {
        guard let text = reader.string(node, what) else { return nil }
        guard let named = TLSSecurityPolicy(rawValue: text) else {
            let names = TLSSecurityPolicy.allCases.map(\.rawValue).joined(separator: ", ")
            reader.log.error(reader.file, node.line, "\(what): '\(text)' is not one of \(names)")
            return nil
        }
        return named
    }

    /// `domains:`: each custom domain name once; its certificate checked as a listener's is.
    func domains(_ node: Node) -> [DomainName]? {
        guard case .sequence(let items) = node else {
            if node.isNull { return [] }
            reader.log.error(reader.file, node.line, "domains must be a list of {name, certificate, key, ...}")
            return nil
        }
        var domains: [DomainName] = []
        var valid = true
        for item in items {
            guard let domain = domain(item) else {
                valid = false
                continue
            }
            if domains.contains(where: { $0.name == domain.name }) {
                reader.log.error(reader.file, item.line, "domain \(domain.name) is named twice")
                valid = false
            }
            domains.append(domain)
        }
        return valid ? domains : nil
    }

    private func domain(_ node: Node) -> DomainName? {
        guard let entries = reader.mapping(node, "a domains entry") else { return nil }
        var name: String?
        var chainNode: Node?
        var keyNode: Node?
        var policy: TLSSecurityPolicy? = .tls12
        var truststore: Truststore?
        var valid = true
        for (key, value) in entries {
            switch key.text ?? "" {
            case "name":
                name = reader.string(value, "domains.name").map { $0.lowercased() }
                if let text = name, !Self.isDomainName(text) {
                    reader.log.error(reader.file, value.line, "domains.name: '\(text)' is not a host name "
                                     + "(letters, digits, '-' and '.'; '*.' only as the first label)")
                    valid = false
                }
            case "certificate": chainNode = value
            case "key": keyNode = value
            case "security_policy": policy = self.policy(value, "domains.security_policy")
            case "mutual_tls":
                truststore = mutualTLS(value)
                valid = valid && truststore != nil
            default: reader.unknownKey(key, in: "domains")
            }
        }
        guard let name else {
            reader.log.error(reader.file, node.line, "a domains entry needs 'name'")
            return nil
        }
        guard let chainNode, let keyNode else {
            reader.log.error(reader.file, node.line, "domain \(name) needs 'certificate' (a PEM chain) and 'key' (its PEM private key)")
            return nil
        }
        guard valid, let policy, let certificate = certificate(chain: chainNode, key: keyNode) else { return nil }
        return DomainName(name: name, certificate: certificate, policy: policy, truststore: truststore)
    }

    private func mutualTLS(_ node: Node) -> Truststore? {
        guard let entries = reader.mapping(node, "domains.mutual_tls") else { return nil }
        var truststore: Truststore?
        var seen = false
        for (key, value) in entries {
            switch key.text ?? "" {
            case "truststore":
                seen = true
                guard let text = reader.string(value, "domains.mutual_tls.truststore") else { continue }
                let path = Loader.join(folderOf: configPath, text)
                switch environment.readFile(path) {
                case .failure(let error):
                    reader.log.error(reader.file, value.line, "cannot read the truststore \(path): \(error.message)")
                case .success(let bytes):
                    switch environment.inspectTruststore(bytes) {
                    case .failure(let error):
                        reader.log.error(reader.file, value.line, "truststore \(path): \(error.message)")
                    case .success:
                        truststore = Truststore(path: path, pem: bytes)
                    }
                }
            default:
                reader.unknownKey(key, in: "domains.mutual_tls")
            }
        }
        if !seen { reader.log.error(reader.file, node.line, "domains.mutual_tls needs 'truststore' (a PEM bundle of CA certificates)") }
        return truststore
    }

    /// Letters, digits and hyphens in dot-separated labels; `*` only as a whole first label.
    static func isDomainName(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, text.utf8.count <= 253 else { return false }
        for (position, label) in labels.enumerated() {
            if position == 0 && label == "*" { continue }
            guard !label.isEmpty, label.utf8.count <= 63,
                  label.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) })
            else { return false }
        }
        return true
    }

    /// Reads both files and has them inspected: unreadable, unparsable or mismatched is an error
    /// at the certificate's line; expiring within 30 days (or expired) a warning.
    private func certificate(chain chainNode: Node, key keyNode: Node) -> CertificateFiles? {
        guard let chainText = reader.string(chainNode, "listen.tls.certificate"),
              let keyText = reader.string(keyNode, "listen.tls.key") else { return nil }
        let chainPath = Loader.join(folderOf: configPath, chainText)
        let keyPath = Loader.join(folderOf: configPath, keyText)
        let chain: [UInt8]
        let key: [UInt8]
        switch environment.readFile(chainPath) {
        case .success(let bytes): chain = bytes
        case .failure(let error):
            reader.log.error(reader.file, chainNode.line, "cannot read the certificate \(chainPath): \(error.message)")
            return nil
        }
        switch environment.readFile(keyPath) {
        case .success(let bytes): key = bytes
        case .failure(let error):
            reader.log.error(reader.file, keyNode.line, "cannot read the private key \(keyPath): \(error.message)")
            return nil
        }
        switch environment.inspectCertificate(chain, key) {
        case .failure(let error):
            reader.log.error(reader.file, chainNode.line, "certificate \(chainPath) with key \(keyPath): \(error.message)")
            return nil
        case .success(let summary):
            if summary.secondsUntilExpiry < 0 {
                reader.log.warning(reader.file, chainNode.line, "certificate \(chainPath) has expired")
            } else if summary.secondsUntilExpiry < Self.expiryWarningSeconds {
                let days = summary.secondsUntilExpiry / 86_400
                reader.log.warning(reader.file, chainNode.line, "certificate \(chainPath) expires in \(days) day(s)")
            }
        }
        return CertificateFiles(chainPath: chainPath, keyPath: keyPath, chainPEM: chain, keyPEM: key)
    }
}
