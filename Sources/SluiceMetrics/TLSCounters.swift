import SluiceSharedMemory

/// TLS handshakes on the listeners per protocol version and per cipher, per worker: a zone the
/// supervisor maps before it forks; a worker writes its own row only (as in `WorkerCounters`). Versions and ciphers are
/// those API Gateway's security policies allow (`TLSSecurityPolicy`), by their IANA numbers; any
/// other cipher is counted as `other`.
public final class TLSCounters: @unchecked Sendable {
    public static let versions: [(id: Int, name: String)] = [
        (0x0301, "TLSv1"), (0x0302, "TLSv1.1"), (0x0303, "TLSv1.2"), (0x0304, "TLSv1.3"),
    ]
    public static let ciphers: [(id: Int, name: String)] = [
        (0x1301, "TLS_AES_128_GCM_SHA256"), (0x1302, "TLS_AES_256_GCM_SHA384"),
        (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
        (0xC02B, "ECDHE-ECDSA-AES128-GCM-SHA256"), (0xC02F, "ECDHE-RSA-AES128-GCM-SHA256"),
        (0xC023, "ECDHE-ECDSA-AES128-SHA256"), (0xC027, "ECDHE-RSA-AES128-SHA256"),
        (0xC02C, "ECDHE-ECDSA-AES256-GCM-SHA384"), (0xC030, "ECDHE-RSA-AES256-GCM-SHA384"),
        (0xC024, "ECDHE-ECDSA-AES256-SHA384"), (0xC028, "ECDHE-RSA-AES256-SHA384"),
        (0x009C, "AES128-GCM-SHA256"), (0x003C, "AES128-SHA256"), (0x009D, "AES256-GCM-SHA384"),
        (0x003D, "AES256-SHA256"),
        (0xC009, "ECDHE-ECDSA-AES128-SHA"), (0xC013, "ECDHE-RSA-AES128-SHA"), (0xC00A, "ECDHE-ECDSA-AES256-SHA"),
        (0xC014, "ECDHE-RSA-AES256-SHA"), (0x002F, "AES128-SHA"), (0x0035, "AES256-SHA"),
    ]
    /// Columns: the versions, the ciphers, then `other` cipher.
    static var columns: Int { versions.count + ciphers.count + 1 }
    /// Lines the page writes per worker.
    public static var linesPerWorker: Int { columns }

    let table: CounterTable
    let slotCount: Int
    let lanes: Int

    /// Rows as `WorkerCounters`' are: a worker slot's row in each writer lane.
    public init(slots: Int, lanes: Int = 1) throws(ZoneError) {
        slotCount = slots
        self.lanes = lanes
        table = try CounterTable(name: "tls-counters", rows: slots * lanes, countersPerRow: Self.columns)
    }

    func total(slot: Int, column: Int) -> UInt64 {
        var sum: UInt64 = 0
        for lane in 0..<lanes { sum &+= table.load(row: lane * slotCount + slot, counter: column) }
        return sum
    }

    /// A handshake completed with `version` and `cipher` (IANA numbers).
    public func count(slot: Int, version: Int, cipher: Int) {
        if let column = Self.versions.firstIndex(where: { $0.id == version }) {
            table.add(row: slot, counter: column)
        }
        let cipherColumn = Self.ciphers.firstIndex { $0.id == cipher } ?? Self.ciphers.count
        table.add(row: slot, counter: Self.versions.count + cipherColumn)
    }

    static let versionLabels = versions.map { PrometheusLabels([("version", $0.name)]) }
    static let cipherLabels = ciphers.map { PrometheusLabels([("cipher", $0.name)]) } + [PrometheusLabels([("cipher", "other")])]

    public func write(to page: inout PrometheusText, slots: [WorkerSlotFacts], labels: WorkerCounters.Labels) {
        page.family("sluice_worker_tls_versions_total", type: "counter",
                    help: "TLS handshakes completed on the listeners, per worker and protocol version.")
        for (position, facts) in slots.enumerated() {
            for (column, version) in Self.versionLabels.enumerated() {
                page.sample("sluice_worker_tls_versions_total", labels.worker[position], version,
                            value: total(slot: facts.slot, column: column))
            }
        }
        page.family("sluice_worker_tls_ciphers_total", type: "counter",
                    help: "TLS handshakes completed on the listeners, per worker and cipher (OpenSSL's names).")
        for (position, facts) in slots.enumerated() {
            for (offset, cipher) in Self.cipherLabels.enumerated() {
                page.sample("sluice_worker_tls_ciphers_total", labels.worker[position], cipher,
                            value: total(slot: facts.slot, column: Self.versions.count + offset))
            }
        }
    }
}
