import CSluiceTLS
import SluiceConfig

/// Why a certificate, a key or a context was refused, in OpenSSL's words.
public struct TLSError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A TLS listener's OpenSSL context: its certificate chain and key, the protocol versions and
/// ciphers of its security policy, ALPN `http/1.1`. Built in each worker from the PEM bytes the
/// configuration carries; every connection of the listener is made from it.
public final class TLSServerContext {
    let context: OpaquePointer
    /// The shared session-ticket keys the context reads (kept alive with it).
    let ticketKeys: TLSTicketKeys?

    /// `ticketKeys`: the keys every worker shares, so that a session resumes on any of them;
    /// nil leaves OpenSSL's own keys, private to this context.
    public init(_ settings: ListenerTLS, ticketKeys: TLSTicketKeys? = nil) throws(TLSError) {
        let policy = settings.policy
        var error = [CChar](repeating: 0, count: 512)
        let made: OpaquePointer? = settings.certificate.chainPEM.withUnsafeBufferPointer { chain in
            settings.certificate.keyPEM.withUnsafeBufferPointer { key in
                chain.withMemoryRebound(to: CChar.self) { chain in
                    key.withMemoryRebound(to: CChar.self) { key in
                        sluice_tls_server_context(chain.baseAddress, chain.count, key.baseAddress, key.count,
                                                  Int32(policy.minimumVersion), Int32(TLS1_3_VERSION),
                                                  policy.ciphers12, &error, Int32(error.count))
                    }
                }
            }
        }
        guard let made else { throw TLSError(Self.text(error)) }
        context = made
        self.ticketKeys = ticketKeys
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
