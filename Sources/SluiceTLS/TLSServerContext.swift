import CSluiceTLS
import Glibc
import SluiceConfig

/// Why a certificate, a key or a context was refused, in OpenSSL's words.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// An OpenSSL server context: a TLS listener's (its default certificate, if it has one, and the
/// custom domains it selects among by SNI) or a custom domain's (its certificate, and the
/// truststore of mutual TLS). Built in each worker from the PEM bytes the configuration carries;
/// every connection of the listener is made from it. Protocol versions and ciphers follow the
/// security policy; ALPN is `http/1.1`.
public final class TLSServerContext {
    let context: OpaquePointer
    /// The shared session-ticket keys the context reads, and the domains it selects among (kept
    /// alive with it).
    let ticketKeys: TLSTicketKeys?
    let domains: TLSDomains?

    /// A listener's context. `ticketKeys`: the keys every worker shares, so that a session
    /// resumes on any of them; nil leaves OpenSSL's own keys, private to this context.
    /// `listener`: its position in `listen`; sessions resume only on the listener that made them
    /// (listeners differ in certificate and policy).
    public convenience init(_ settings: ListenerTLS, listener: Int = 0, domains: TLSDomains? = nil,
                            ticketKeys: TLSTicketKeys? = nil) throws(TLSError) {
        try self.init(certificate: settings.certificate, policy: settings.policy,
                      sessionContext: "sluice-listener-\(listener)", domains: domains, ticketKeys: ticketKeys)
        if let domains, sluice_tls_serve_domains(context, domains.table, settings.certificate == nil ? 1 : 0) != 0 {
            throw TLSError("cannot serve the custom domains")
        }
    }

    init(certificate: CertificateFiles?, policy: TLSSecurityPolicy, sessionContext: String, domains: TLSDomains?,
         ticketKeys: TLSTicketKeys?) throws(TLSError) {
        var error = [CChar](repeating: 0, count: 512)
        let chainPEM = certificate?.chainPEM ?? []
        let keyPEM = certificate?.keyPEM ?? []
        let hasCertificate = certificate != nil
        let made: OpaquePointer? = chainPEM.withUnsafeBufferPointer { chain in
            keyPEM.withUnsafeBufferPointer { key in
                chain.withMemoryRebound(to: CChar.self) { chain in
                    key.withMemoryRebound(to: CChar.self) { key in
                        sluice_tls_server_context(hasCertificate ? chain.baseAddress : nil, chain.count,
                                                  key.baseAddress, key.count,
                                                  Int32(policy.minimumVersion), Int32(TLS1_3_VERSION),
                                                  policy.ciphers12, sessionContext, &error, Int32(error.count))
                    }
                }
            }
        }
        guard let made else { throw TLSError(Self.text(error)) }
        context = made
        self.ticketKeys = ticketKeys
        self.domains = domains
        if let ticketKeys,
           sluice_tls_share_ticket_keys(made, ticketKeys.keys, 2 * Int(TLSTicketKeys.rotationSeconds)) != 0 {
            throw TLSError("cannot install the shared session-ticket keys")
        }
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// Checks a chain and key as `check` reports them: they load, the key matches the leaf, and
    /// how long the leaf has left (against `nowEpochSeconds`).
    public static func inspect(chainPEM: [UInt8], keyPEM: [UInt8], nowEpochSeconds: Int64)
        -> Result<CertificateSummary, TLSError> {
        var error = [CChar](repeating: 0, count: 512)
        var notAfter: Int64 = 0
        var count: Int32 = 0
        let status = chainPEM.withUnsafeBufferPointer { chain in
            keyPEM.withUnsafeBufferPointer { key in
                chain.withMemoryRebound(to: CChar.self) { chain in
                    key.withMemoryRebound(to: CChar.self) { key in
                        sluice_tls_inspect(chain.baseAddress, chain.count, key.baseAddress, key.count,
                                           &notAfter, &count, &error, Int32(error.count))
                    }
                }
            }
        }
        guard status == 0 else { return .failure(TLSError(text(error))) }
        return .success(CertificateSummary(chainCount: Int(count), secondsUntilExpiry: notAfter - nowEpochSeconds))
    }

    static func text(_ characters: [CChar]) -> String {
        let bytes = characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The custom domain names every TLS listener of a worker serves, one context each (certificate,
/// policy, mutual TLS). Sessions resume only within the domain that began them, so that a
/// session without a client certificate never resumes on a domain that requires one.
public final class TLSDomains {
    let table: OpaquePointer
    let contexts: [TLSServerContext]

    public init(_ domains: [DomainName], ticketKeys: TLSTicketKeys?) throws(TLSError) {
        guard let table = sluice_tls_domains_new(Int32(domains.count)) else { throw TLSError("out of memory") }
        self.table = table
        var contexts: [TLSServerContext] = []
        for (index, domain) in domains.enumerated() {
            let context = try TLSServerContext(certificate: domain.certificate, policy: domain.policy,
                                               sessionContext: "sluice-domain-\(index)", domains: nil,
                                               ticketKeys: ticketKeys)
            if let truststore = domain.truststore {
                var error = [CChar](repeating: 0, count: 512)
                let status = truststore.pem.withUnsafeBufferPointer { pem in
                    pem.withMemoryRebound(to: CChar.self) { pem in
                        sluice_tls_require_client_certificates(context.context, pem.baseAddress, pem.count,
                                                               &error, Int32(error.count))
                    }
                }
                guard status == 0 else { throw TLSError("\(domain.name): \(TLSServerContext.text(error))") }
            }
            guard sluice_tls_domains_set(table, Int32(index), domain.name, context.context, domain.policy.ciphers12) == 0 else {
                throw TLSError("out of memory")
            }
            contexts.append(context)
        }
        self.contexts = contexts
    }

    deinit {
        // The contexts (and the listeners that select among them) go first.
        sluice_tls_domains_free(table)
    }

    /// How many CA certificates a truststore holds, for `check`.
    public static func inspectTruststore(_ pem: [UInt8]) -> Result<Int, TLSError> {
        var error = [CChar](repeating: 0, count: 512)
        let count = pem.withUnsafeBufferPointer { pem in
            pem.withMemoryRebound(to: CChar.self) { pem in
                sluice_tls_truststore_count(pem.baseAddress, pem.count, &error, Int32(error.count))
            }
        }
        guard count > 0 else { return .failure(TLSError(TLSServerContext.text(error))) }
        return .success(Int(count))
    }
}

/// The client side, for one HTTPS upstream: certificates verified against the configured CA
/// certificates (or the system's), the name checked and sent as SNI, and the upstream's last
/// session kept so that the next connection resumes it.
public final class TLSClientContext {
    let context: OpaquePointer
    /// The host name sent as SNI and (with verification) checked against the certificate.
    let serverName: [CChar]
    let verify: Bool
    /// The upstream's last session (a slot C owns), resumed by its next connection.
    let sessionSlot: UnsafeMutablePointer<OpaquePointer?>

    /// `caPEM`: the CA certificates to verify against; nil for the system's bundle.
    /// `verify` false accepts any certificate (tlsConfig.insecureSkipVerification).
    public init(caPEM: [UInt8]?, verify: Bool, serverName: String) throws(TLSError) {
        var error = [CChar](repeating: 0, count: 512)
        let made: OpaquePointer?
        if let caPEM {
            made = caPEM.withUnsafeBufferPointer { pem in
                pem.withMemoryRebound(to: CChar.self) { pem in
                    sluice_tls_client_context(pem.baseAddress, pem.count, verify ? 1 : 0, &error, Int32(error.count))
                }
            }
        } else {
            made = sluice_tls_client_context(nil, 0, verify ? 1 : 0, &error, Int32(error.count))
        }
        guard let made else { throw TLSError(TLSServerContext.text(error)) }
        guard let slots = sluice_tls_session_slots(1) else {
            SSL_CTX_free(made)
            throw TLSError("out of memory")
        }
        context = made
        sessionSlot = slots
        self.verify = verify
        self.serverName = Array(serverName.utf8CString)
    }

    deinit {
        if let session = sessionSlot.pointee { SSL_SESSION_free(session) }
        free(sessionSlot)
        SSL_CTX_free(context)
    }
}
