import SluiceHTTP1
import SluiceLambda
import SluiceMetrics
import SluiceTLS
import SluiceURing

/// A connection accepted on a TLS listener: the same exchange as a plain one, with OpenSSL
/// between the socket and the connection's slots. Ciphertext comes in through the receive
/// buffers (held, like plaintext, while reading is paused) and is decrypted into the carry slot,
/// where requests are parsed as they are from a plain connection's carry. Answers are written in
/// plaintext into the output slot as always; a record's worth at a time is encrypted and its
/// ciphertext sent from the session's own buffer. Plaintext counts as sent (and the output slot
/// drains, the peer resumes, a stream goes on) when all of its ciphertext is.
extension Worker {
    /// Ciphertext arrived in receive buffer `bufferID`.
    func tlsReceived(_ index: Int, bufferID: UInt16, byteCount: Int) {
        // After the last answer (or once it is decided), what the client still sends is dropped,
        // as a plain connection drops it: nothing is read any more.
        if connections[index].lingering || connections[index].tlsFailed || connections[index].closeAfterFlush { return }
        guard tls.absorb(slot: index, buffers: receiveBuffers, id: bufferID, byteCount: byteCount) else {
            abort(index)
            return
        }
        tlsAdvance(index)
        afterInput(index)
    }

    /// Runs the handshake until it is done, then decrypts what is at hand.
    func tlsAdvance(_ index: Int) {
        if !tls.isHandshakeDone(slot: index) {
            switch tls.handshake(slot: index) {
            case .done where connections[index].role == .upstream:
                break
            case .done:
                counters.add(slot: slot, tls.isResumed(slot: index) ? .tlsHandshakesResumed : .tlsHandshakesFull)
                counters.add(slot: slot, .tlsConnectionsOpen)
                if let tlsCounters {
                    let negotiated = tls.negotiatedIDs(slot: index)
                    tlsCounters.count(slot: slot, version: negotiated.version, cipher: negotiated.cipher)
                }
                if !clientCertificateFields.isEmpty { keepClientCertificate(index) }
            case .wantsInput, .wantsOutput:
                return
            case .closed:
                tlsFailed(index, reason: "the peer closed during the handshake")
                return
            case .failed(let reason):
                tlsFailed(index, reason: reason)
                return
            }
        }
        tlsReadPlaintext(index)
    }

    /// Decrypts into the carry slot and parses, until OpenSSL needs more ciphertext or the
    /// connection stops reading (output backed up, an upstream answering, closing). What stays in
    /// OpenSSL is read when reading resumes (`resumeReading`).
    func tlsReadPlaintext(_ index: Int) {
        while connections[index].isOpen && !connections[index].closing && !connections[index].receivePaused
                && !waitsForUpstream(index) && !connections[index].closeAfterFlush && !connections[index].lingering
                && !connections[index].tlsFailed && tls.isHandshakeDone(slot: index) {
            let filled = connections[index].carryCount
            if connections[index].role == .client { moveToBodyBuffer(index) }
            let (slab, slot) = carryLocation(index)
            guard filled < slab.slotBytes else {
                // A carried head never fills the slot (the parser refuses it at its limit first),
                // nor does a whole body its buffer (it was measured first).
                abort(index)
                return
            }
            let generation = connections[index].generation
            let (count, progress) = tls.read(slot: index, into: slab, slot: slot, range: filled..<slab.slotBytes)
            if count > 0 {
                connections[index].carryCount = filled + count
                consumeCarry(index)
                // What it parsed may have ended the connection, and another taken its slot.
                guard connections[index].isOpen, connections[index].generation == generation else { return }
            }
            switch progress {
            case .done:
                continue
            case .wantsInput, .wantsOutput:
                return
            case .closed:
                peerClosed(index)
                return
            case .failed(let reason):
                tlsFailed(index, reason: reason)
                return
            }
        }
    }

    /// The session cannot go on. A client's: its alert (if OpenSSL wrote one) goes out, then the
    /// connection closes, without an answer of ours. An upstream's: the exchange fails with 502,
    /// and the reason is logged (a certificate that does not verify, and why).
    func tlsFailed(_ index: Int, reason: String) {
        if connections[index].role == .upstream {
            // Once a second per upstream at most: a misconfigured upstream under load must not
            // flood the log (the 502s are counted in the metrics).
            let upstream = Int(connections[index].upstream)
            if now - upstreamTLSFailureLoggedAt[upstream] >= 1_000_000_000 {
                upstreamTLSFailureLoggedAt[upstream] = now
                let verification = tls.verifyFailure(slot: index).map { " (\($0))" } ?? ""
                StandardError.write("\(name): upstream \(upstreamNames[upstream]): TLS failed: \(reason)\(verification)")
            }
            upstreamFailed(index, answer: .badGateway, cause: .tls)
            return
        }
        if !tls.isHandshakeDone(slot: index) { counters.add(slot: slot, .tlsHandshakesFailed) }
        connections[index].tlsFailed = true
        connections[index].closeAfterFlush = true
        connections[index].carryCount = 0
    }

    /// `flush` for a TLS connection: sends waiting ciphertext, or encrypts the next record's
    /// worth of the output and sends that. With nothing left to send, ends as a plain connection
    /// does, after queueing close_notify when the connection closes after its answer.
    func tlsFlush(_ index: Int) {
        var connection = connections[index]
        // Session tickets or the end of a handshake flight may still wait: the record goes out
        // behind them, in the same send.
        if connection.tlsPlaintextInFlight == 0 && !connection.tlsFailed && connection.outputEnd > connection.outputStart
            && tls.hasRoomForRecord(slot: index) && tls.isHandshakeDone(slot: index) {
            let start = connection.outputStart
            let end = min(connection.outputEnd, start + TLSConnections.recordPlaintextMax)
            switch tls.write(slot: index, from: output, slot: index, range: start..<end) {
            case .done:
                connections[index].tlsPlaintextInFlight = end - start
                // The last answer before closing: its close_notify goes in the same send.
                if end == connection.outputEnd && connection.closeAfterFlush && !connection.isStreaming
                    && !connection.tlsShutdownQueued && !connection.lingering && !connection.tlsTruncated {
                    connections[index].tlsShutdownQueued = true
                    tls.shutdown(slot: index)
                }
            case .wantsInput, .wantsOutput, .closed, .failed:
                // The pair has room for one record whenever `hasRoomForRecord` says so.
                tlsFailed(index, reason: "a record could not be written")
                if connections[index].role == .upstream { return }
            }
        }
        if tls.outboundCount(slot: index) > 0 {
            _ = tls.sendOutbound(slot: index, ring: ring, socket: connection.fd,
                                 userData: Token.make(.send, connection: index, generation: connection.generation))
            connections[index].sendInFlight = true
            return
        }
        connection = connections[index]
        if connection.tlsFailed {
            abort(index)
            return
        }
        if connection.closeAfterFlush && !connection.lingering && !connection.tlsShutdownQueued
            && !connection.tlsTruncated && tls.isHandshakeDone(slot: index) {
            connections[index].tlsShutdownQueued = true
            tls.shutdown(slot: index)
            if tls.outboundCount(slot: index) > 0 {
                tlsFlush(index)
                return
            }
        }
        flushed(index)
    }

    /// `byteCount` bytes of ciphertext went out. Returns the plaintext that now counts as sent
    /// (0 while ciphertext of it is still waiting).
    func tlsSent(_ index: Int, byteCount: Int) -> Int {
        tls.sent(slot: index, byteCount: byteCount)
        // A handshake flight larger than the session's buffer goes on once there is room.
        if !tls.isHandshakeDone(slot: index) && !connections[index].tlsFailed { tlsAdvance(index) }
        guard tls.outboundCount(slot: index) == 0 else { return 0 }
        let plaintext = connections[index].tlsPlaintextInFlight
        connections[index].tlsPlaintextInFlight = 0
        return plaintext
    }

    /// The connection closes: its handshake counted in the open gauge.
    func tlsReleased(_ index: Int) {
        if connections[index].role == .client && tls.isHandshakeDone(slot: index) {
            counters.subtract(slot: slot, .tlsConnectionsOpen)
        }
        tls.end(slot: index)
        if connections[index].role == .client && !clientCertificateFields.isEmpty {
            clientCertificateFields[index] = ClientCertificateFields()
            clientCertificateObjects[index] = 0..<0
        }
    }

    /// Mutual TLS: the verified client certificate's fields, then its `clientCert` object for
    /// Lambda events, in the connection's slot of `clientCertificates`. The raw fields take at most
    /// a third of the slot, so that the object (JSON-escaped, at most twice as long) fits after them.
    func keepClientCertificate(_ index: Int) {
        let rawBytesMax = clientCertificates.slotBytes / 3
        guard let fields = tls.clientCertificate(slot: index, into: clientCertificates, slot: index,
                                                 range: 0..<rawBytesMax) else {
            clientCertificateFields[index] = ClientCertificateFields()
            clientCertificateObjects[index] = 0..<0
            return
        }
        clientCertificateFields[index] = fields
        let rawEnd = fields.range(of: .pem).upperBound
        let objectLength = clientCertificates.withBytes(slot: index, range: 0..<rawEnd) { raw in
            clientCertificates.write(slot: index, offset: rawEnd) { writer in
                LambdaEvent.writeClientCertificate(
                    pem: raw.extracting(fields.range(of: .pem)), subjectDN: raw.extracting(fields.range(of: .subjectDN)),
                    issuerDN: raw.extracting(fields.range(of: .issuerDN)),
                    serialNumber: raw.extracting(fields.range(of: .serialNumber)),
                    notBefore: raw.extracting(fields.range(of: .notBefore)),
                    notAfter: raw.extracting(fields.range(of: .notAfter)), to: &writer)
            }.byteCount
        }
        clientCertificateObjects[index] = rawEnd..<(rawEnd + objectLength)
    }

    /// `$context.identity.clientCert.*`: a field of the client certificate the connection's
    /// handshake verified; nothing without one.
    func appendClientCertificate(_ field: ClientCertificateFields.Field, _ index: Int, _ escaping: ValueEscaping,
                                 to writer: inout SlabWriter) {
        guard !clientCertificateFields.isEmpty else { return }
        let range = clientCertificateFields[index].range(of: field)
        guard !range.isEmpty else { return }
        clientCertificates.withBytes(slot: index, range: range) { appendEscaped($0, escaping, to: &writer) }
    }

    /// An upstream connection to an `https` upstream is connected: its handshake begins (the
    /// request waits in its output slot until the handshake is done).
    func tlsConnected(_ index: Int, context: TLSClientContext) -> Bool {
        guard tls.beginClient(slot: index, context: context) else { return false }
        connections[index].secure = true
        tlsAdvance(index)
        // A handshake that failed at once has ended the exchange (and freed the slot).
        return connections[index].isOpen && !connections[index].closing
    }

    /// Whether the request must not be served on this connection: on TLS, its Host names a
    /// custom domain other than the one the handshake selected (or none was); on plain HTTP, a
    /// domain that requires mutual TLS. Served, it would bypass that domain's certificate, policy
    /// or client-certificate check.
    func isMisdirected(_ index: Int, _ bytes: Span<UInt8>) -> Bool {
        guard !domainNames.isEmpty else { return false }
        let host = bytes.extracting(head.host)
        let hostDomain = domain(named: host.extracting(0..<HTTPBytes.hostEnd(host)))
        guard hostDomain >= 0 else { return false }
        if connections[index].secure { return hostDomain != tls.domain(slot: index) }
        return domainsRequireClientCertificates[hostDomain]
    }

    /// The custom domain `host` names (exactly, or under a `*.` wildcard's one label), or -1.
    func domain(named host: Span<UInt8>) -> Int {
        var wildcard = -1
        for (position, name) in domainNames.enumerated() {
            let pattern = name.span
            if pattern.count >= 2 && pattern[0] == UInt8(ascii: "*") {
                // `*.example.com`: one label, then `.example.com`.
                let suffix = pattern.count - 1
                guard host.count > suffix, wildcard < 0 else { continue }
                let label = host.count - suffix
                var matches = true
                for offset in 0..<label where host[offset] == UInt8(ascii: ".") { matches = false }
                if matches && HTTPBytes.equalsIgnoringCase(host, label..<host.count, lowercased: pattern.extracting(1...)) {
                    wildcard = position
                }
            } else if HTTPBytes.equalsIgnoringCase(host, 0..<host.count, lowercased: pattern) {
                return position
            }
        }
        return wildcard
    }
}
