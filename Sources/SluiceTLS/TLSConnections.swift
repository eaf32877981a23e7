import CSluiceTLS
import Glibc
import SluiceURing

/// The TLS side of a worker's connections, one slot per connection slot: OpenSSL's handshake and
/// records over a BIO pair per connection, so that no OpenSSL call touches a socket. Ciphertext
/// the worker receives is copied into the pair; the plaintext comes out into the worker's own
/// slabs (the connection's carry slot); plaintext from its output slot goes in, and the ciphertext
/// is sent straight from the pair's buffer, which stays put until the send completes. No blocking
/// call and no thread: every step answers at once with what it needs next.
public final class TLSConnections {
    /// The most plaintext one `write` takes: one TLS record's worth.
    public static let recordPlaintextMax = 16_384
    /// What one record adds at most (header, explicit IV, MAC or tag, padding), with room for the
    /// session tickets TLS 1.3 sends after the handshake.
    static let outboundBytes = recordPlaintextMax + 4_096

    private var sessions: [OpaquePointer?]
    private var networks: [OpaquePointer?]
    /// Bytes the network side of a pair holds before OpenSSL reads them: one receive buffer. A
    /// connection takes a buffer in only once OpenSSL has read the last one (what it cannot
    /// decrypt yet, a part of a record, it keeps in its own buffer); while it cannot (reading
    /// paused, an upstream answering), later buffers wait, held.
    let inboundBytes: Int

    public init(slotCount: Int, receiveBufferBytes: Int) {
        sessions = Array(repeating: nil, count: slotCount)
        networks = Array(repeating: nil, count: slotCount)
        inboundBytes = receiveBufferBytes
    }

    deinit {
        for slot in sessions.indices { end(slot: slot) }
    }

    /// What a step asks for next.
    public enum Progress: Equatable {
        /// It completed (the handshake), or produced what it could (a read).
        case done
        /// It waits for more ciphertext from the peer.
        case wantsInput
        /// It waits for ciphertext to be sent, to make room in the pair.
        case wantsOutput
        /// The peer ended the session (close_notify).
        case closed
        /// A protocol error or a refused handshake: OpenSSL's reason. Close the connection once
        /// the alert (if any) in `outboundCount` is sent.
        case failed(String)
    }

    /// Starts a server-side session for `slot`; false if OpenSSL could not allocate one.
    public func begin(slot: Int, context: TLSServerContext) -> Bool {
        precondition(sessions[slot] == nil, "one TLS session per connection slot")
        var network: OpaquePointer?
        let session = sluice_tls_accepting(context.context, inboundBytes, Self.outboundBytes, &network)
        return install(slot: slot, session: session, network: network)
    }

    private func install(slot: Int, session: OpaquePointer?, network: OpaquePointer?) -> Bool {
        guard let session, let network else {
            ERR_clear_error()
            return false
        }
        sessions[slot] = session
        networks[slot] = network
        return true
    }

    /// Starts a client-side session for `slot` (an upstream connection that just connected);
    /// false if OpenSSL could not allocate one.
    public func beginClient(slot: Int, context: TLSClientContext) -> Bool {
        precondition(sessions[slot] == nil, "one TLS session per connection slot")
        var network: OpaquePointer?
        let session = context.serverName.withUnsafeBufferPointer { name in
            sluice_tls_connecting(context.context, inboundBytes, Self.outboundBytes, &network, name.baseAddress,
                                  context.verify ? 1 : 0, context.sessionSlot)
        }
        return install(slot: slot, session: session, network: network)
    }

    /// Why the peer's certificate was refused ("certificate has expired"), or nil.
    public func verifyFailure(slot: Int) -> String? {
        guard let session = sessions[slot], let reason = sluice_tls_verify_failure(session) else { return nil }
        return String(cString: reason)
    }

    /// Frees the slot's session (the connection closed).
    public func end(slot: Int) {
        guard let session = sessions[slot] else { return }
        SSL_free(session)
        if let network = networks[slot] { BIO_free(network) }
        sessions[slot] = nil
        networks[slot] = nil
    }

    public func isActive(slot: Int) -> Bool { sessions[slot] != nil }

    public func isHandshakeDone(slot: Int) -> Bool {
        guard let session = sessions[slot] else { return false }
        return SSL_is_init_finished(session) == 1
    }

    /// Takes `byteCount` bytes of receive buffer `id` in as ciphertext. False when they do not
    /// fit: the peer sent more than the session could read, which only happens when plaintext
    /// was left unread (the caller closes the connection).
    public func absorb(slot: Int, buffers: ProvidedBuffers, id: UInt16, byteCount: Int) -> Bool {
        guard let network = networks[slot] else { return false }
        return buffers.withUnsafeBytes(id: id, byteCount: byteCount) { bytes in
            var offset = 0
            while offset < bytes.count {
                var space: UnsafeMutablePointer<CChar>?
                let available = Int(BIO_nwrite0(network, &space))
                guard available > 0, let start = space else { return false }
                let count = min(available, bytes.count - offset)
                UnsafeMutableRawPointer(start).copyMemory(from: bytes.baseAddress! + offset, byteCount: count)
                guard BIO_nwrite(network, &space, Int32(count)) == count else { return false }
                offset += count
            }
            return true
        }
    }

    /// Drives the handshake as far as the bytes at hand allow.
    public func handshake(slot: Int) -> Progress {
        guard let session = sessions[slot] else { return .failed("no TLS session") }
        let result = SSL_do_handshake(session)
        if result == 1 { return .done }
        return progress(session, result)
    }

    /// Decrypts into `range` of `slot` of `slab`: how many plaintext bytes, and what stops it
    /// (`.done` when the range is full).
    public func read(slot: Int, into slab: ByteSlab, slot destination: Int, range: Range<Int>) -> (count: Int, progress: Progress) {
        guard let session = sessions[slot] else { return (0, .failed("no TLS session")) }
        var total = 0
        while total < range.count {
            let result = slab.withUnsafeMutableBytes(slot: destination, range: range.lowerBound + total..<range.upperBound) { space in
                SSL_read(session, space.baseAddress, Int32(min(space.count, Int(Int32.max))))
            }
            if result <= 0 { return (total, progress(session, result)) }
            total += Int(result)
        }
        return (total, .done)
    }

    /// What one record adds at most to its plaintext: a header, an explicit IV, a MAC or tag,
    /// padding (AES-CBC with SHA-384 is the largest, under TLS_1_0).
    static let recordOverheadMax = 256

    /// Whether a record of `recordPlaintextMax` fits behind the ciphertext waiting in the pair.
    public func hasRoomForRecord(slot: Int) -> Bool {
        outboundCount(slot: slot) + Self.recordPlaintextMax + Self.recordOverheadMax <= Self.outboundBytes
    }

    /// Encrypts `range` of `slot` of `slab` (at most `recordPlaintextMax` bytes, and only when
    /// `hasRoomForRecord`, so that its record always fits the pair). Returns the progress:
    /// `.done` when all of it was taken.
    public func write(slot: Int, from slab: ByteSlab, slot source: Int, range: Range<Int>) -> Progress {
        guard let session = sessions[slot] else { return .failed("no TLS session") }
        precondition(range.count <= Self.recordPlaintextMax && !range.isEmpty)
        let result = slab.withUnsafeMutableBytes(slot: source, range: range) { bytes in
            SSL_write(session, bytes.baseAddress, Int32(bytes.count))
        }
        if result == Int32(range.count) { return .done }
        return progress(session, result)
    }

    /// Ciphertext waiting to be sent.
    public func outboundCount(slot: Int) -> Int {
        guard let network = networks[slot] else { return 0 }
        return Int(BIO_ctrl_pending(network))
    }

    /// Submits a send of the ciphertext waiting at the front of the pair (its contiguous part);
    /// returns how many bytes. They stay in the pair until `sent` consumes them.
    public func sendOutbound(slot: Int, ring: Ring, socket: Int32, userData: UInt64) -> Int {
        guard let network = networks[slot] else { return 0 }
        var start: UnsafeMutablePointer<CChar>?
        let available = Int(BIO_nread0(network, &start))
        guard available > 0, let start else { return 0 }
        ring.send(socket: socket, bytes: UnsafeRawBufferPointer(start: start, count: available), userData: userData)
        return available
    }

    /// `byteCount` bytes of ciphertext went out.
    public func sent(slot: Int, byteCount: Int) {
        guard let network = networks[slot] else { return }
        var start: UnsafeMutablePointer<CChar>?
        _ = BIO_nread(network, &start, Int32(byteCount))
    }

    /// The custom domain (index into the deployment's `domains`) the handshake selected, or -1.
    public func domain(slot: Int) -> Int {
        guard let session = sessions[slot] else { return -1 }
        return Int(sluice_tls_selected_domain(session))
    }

    /// The client certificate's fields (mutual TLS), in API Gateway's order and form, written
    /// into `range` of `slot` of `slab`: their lengths, or nil without a certificate (or when
    /// they do not fit).
    public func clientCertificate(slot: Int, into slab: ByteSlab, slot destination: Int, range: Range<Int>)
        -> ClientCertificateFields? {
        guard let session = sessions[slot] else { return nil }
        var lengths: (Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0)
        let written = slab.withUnsafeMutableBytes(slot: destination, range: range) { space in
            withUnsafeMutableBytes(of: &lengths) { lengthBytes in
                sluice_tls_client_certificate(session, space.baseAddress?.assumingMemoryBound(to: CChar.self),
                                              Int32(space.count), lengthBytes.baseAddress?.assumingMemoryBound(to: Int32.self))
            }
        }
        guard written > 0 else { return nil }
        return ClientCertificateFields(lengths: lengths)
    }

    /// Appends the negotiated protocol version ("TLSv1.3") or cipher ("TLS_AES_128_GCM_SHA256").
    public func withNegotiated<R>(_ field: NegotiatedField, slot: Int, _ body: (Span<UInt8>) -> R) -> R? {
        guard let session = sessions[slot], SSL_is_init_finished(session) == 1 else { return nil }
        let text = field == .version ? sluice_tls_version_name(session) : sluice_tls_cipher_name(session)
        guard let text else { return nil }
        let buffer = UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: strlen(text))
        return body(buffer.span)
    }

    public enum NegotiatedField { case version, cipher }

    /// Queues the session's close_notify (the connection is closing after its last answer).
    public func shutdown(slot: Int) {
        guard let session = sessions[slot] else { return }
        if SSL_shutdown(session) < 0 { ERR_clear_error() }
    }

    /// The negotiated protocol version and cipher, as IANA numbers (0x0304, 0x1302).
    public func negotiatedIDs(slot: Int) -> (version: Int, cipher: Int) {
        guard let session = sessions[slot] else { return (0, 0) }
        return (Int(sluice_tls_version_id(session)), Int(sluice_tls_cipher_id(session)))
    }

    /// Whether the peer sent close_notify (a TLS close, not only a TCP one).
    public func receivedCloseNotify(slot: Int) -> Bool {
        guard let session = sessions[slot] else { return false }
        return SSL_get_shutdown(session) & Int32(SSL_RECEIVED_SHUTDOWN) != 0
    }

    /// Whether the handshake resumed a session (from a ticket).
    public func isResumed(slot: Int) -> Bool {
        guard let session = sessions[slot] else { return false }
        return sluice_tls_session_reused(session) == 1
    }

    private func progress(_ session: OpaquePointer, _ result: Int32) -> Progress {
        switch sluice_tls_error_class(session, result) {
        case Int32(SLUICE_TLS_WANT_READ): return .wantsInput
        case Int32(SLUICE_TLS_WANT_WRITE): return .wantsOutput
        case Int32(SLUICE_TLS_CLOSED): return .closed
        default:
            var error = [CChar](repeating: 0, count: 256)
            sluice_tls_last_error(&error, Int32(error.count))
            return .failed(TLSServerContext.text(error))
        }
    }
}

/// Where each field of a client certificate lies in the bytes `clientCertificate` wrote.
public struct ClientCertificateFields: Sendable {
    public enum Field: Int, CaseIterable, Sendable {
        case subjectDN, issuerDN, serialNumber, notBefore, notAfter, pem
    }

    /// Each field's length, in `Field` order (a tuple: no storage of its own to allocate).
    var lengths: (Int32, Int32, Int32, Int32, Int32, Int32)

    public init() {
        lengths = (0, 0, 0, 0, 0, 0)
    }

    init(lengths: (Int32, Int32, Int32, Int32, Int32, Int32)) {
        self.lengths = lengths
    }

    /// Where `field` lies, from the start of what was written.
    public func range(of field: Field) -> Range<Int> {
        var start = 0
        var length = 0
        for position in 0...field.rawValue {
            start += length
            length = Int(Self.length(lengths, position))
        }
        return start..<(start + length)
    }

    private static func length(_ lengths: (Int32, Int32, Int32, Int32, Int32, Int32), _ position: Int) -> Int32 {
        switch position {
        case 0: lengths.0
        case 1: lengths.1
        case 2: lengths.2
        case 3: lengths.3
        case 4: lengths.4
        default: lengths.5
        }
    }
}
