import SluiceConfig
import Testing

/// `listen:` with TLS entries. The certificate inspector is a stand-in (SluiceTLS's is tested in
/// SluiceTLSTests): it accepts "CERT"/"KEY" and says how long the certificate has by its text.
@Suite struct ListenerTests {
    static let inspector: @Sendable ([UInt8], [UInt8]) -> Result<CertificateSummary, FileReadError> = { chain, key in
        let chainText = String(decoding: chain, as: UTF8.self)
        guard String(decoding: key, as: UTF8.self) == "KEY" else { return .failure(FileReadError("the key does not match")) }
        switch chainText {
        case "CERT": return .success(CertificateSummary(chainCount: 1, secondsUntilExpiry: 365 * 86_400))
        case "SOON": return .success(CertificateSummary(chainCount: 1, secondsUntilExpiry: 3 * 86_400 + 5))
        case "OLD": return .success(CertificateSummary(chainCount: 1, secondsUntilExpiry: -1))
        default: return .failure(FileReadError("no PEM certificate could be read"))
        }
    }

    func load(_ config: String, files: [String: String] = ["tls/cert.pem": "CERT", "tls/key.pem": "KEY"]) -> LoadResult {
        var written = files
        written["conf/sluice.yaml"] = config
        let all = written
        let environment = LoaderEnvironment(readFile: { path in
            guard let text = all[path] else { return .failure(FileReadError("No such file or directory")) }
            return .success(Array(text.utf8))
        }, allowedCPUs: testCPUs, resolver: testResolver, inspectCertificate: Self.inspector, inspectTruststore: { pem in
            String(decoding: pem, as: UTF8.self) == "CA" ? .success(1) : .failure(FileReadError("no PEM certificate could be read"))
        })
        return ConfigLoader.load(path: "conf/sluice.yaml", environment: environment)
    }

    /// The diagnostics, less the warning that no API is configured (these tests configure none).
    func problems(_ result: LoadResult) -> [String] {
        result.lines.filter { !$0.contains("no APIs are configured") }
    }

    @Test func oneAddressIsOnePlainListener() throws {
        let deployment = try #require(load("listen: \"127.0.0.1:8080\"\n").deployment)
        #expect(deployment.listeners == [Listener(address: ListenAddress(host: "127.0.0.1", port: 8080))])
    }

    @Test func plainAndTLSListenersSideBySide() throws {
        let result = load("""
            listen:
              - "127.0.0.1:8080"
              - address: "0.0.0.0:8443"
                tls: {certificate: ../tls/cert.pem, key: ../tls/key.pem, security_policy: TLS_1_0}
              - address: "[::]:9443"
                tls:
                  certificate: /abs/cert.pem
                  key: /abs/key.pem
            """, files: ["conf/../tls/cert.pem": "CERT", "conf/../tls/key.pem": "KEY", "/abs/cert.pem": "CERT",
                         "/abs/key.pem": "KEY"])
        let deployment = try #require(result.deployment, "\(problems(result))")
        #expect(deployment.listeners.count == 3)
        #expect(deployment.listeners[0].tls == nil && deployment.listeners[0].scheme == "http")
        let second = try #require(deployment.listeners[1].tls)
        #expect(deployment.listeners[1].address == ListenAddress(host: "0.0.0.0", port: 8443))
        #expect(second.policy == .tls10)
        #expect(second.certificate?.chainPath == "conf/../tls/cert.pem")
        #expect(second.certificate?.chainPEM == Array("CERT".utf8) && second.certificate?.keyPEM == Array("KEY".utf8))
        let third = try #require(deployment.listeners[2].tls)
        #expect(third.policy == .tls12)
        #expect(deployment.listeners[2].address.isIPv6 && deployment.listeners[2].scheme == "https")
        #expect(problems(result).isEmpty)
    }

    @Test func mistakesAreErrorsAtTheirLines() {
        let result = load("""
            listen:
              - address: "127.0.0.1:8443"
                tls: {certificate: missing.pem, key: ../tls/key.pem}
              - address: "127.0.0.1:8444"
                tls: {certificate: ../tls/cert.pem, key: ../tls/key.pem, security_policy: TLS_1_1}
              - address: "127.0.0.1:8445"
                tls: {certificate: ../tls/cert.pem}
              - tls: {certificate: ../tls/cert.pem, key: ../tls/key.pem}
              - address: "127.0.0.1:8446"
                tls: {certificate: ../tls/key.pem, key: ../tls/key.pem}
                port: 1
              - "nowhere"
            """, files: ["conf/../tls/cert.pem": "CERT", "conf/../tls/key.pem": "KEY"])
        #expect(result.deployment == nil)
        #expect(problems(result) == [
            "conf/sluice.yaml:3: error: cannot read the certificate conf/missing.pem: No such file or directory",
            "conf/sluice.yaml:5: error: listen.tls.security_policy: 'TLS_1_1' is not one of TLS_1_0, TLS_1_2, "
                + "SecurityPolicy_TLS13_1_3_2025_09",
            "conf/sluice.yaml:7: error: listen.tls needs both 'certificate' (a PEM chain) and 'key' (its PEM private key), "
                + "or neither (then only the domains' names are served)",
            "conf/sluice.yaml:8: error: a listen entry needs 'address'",
            "conf/sluice.yaml:10: error: certificate conf/../tls/key.pem with key conf/../tls/key.pem: "
                + "no PEM certificate could be read",
            "conf/sluice.yaml:11: error: unknown key 'port' in listen",
            "conf/sluice.yaml:12: error: listen: 'nowhere': the port must be a number between 0 and 65535",
        ])
    }

    @Test func certificatesCloseToExpiryOrExpiredAreWarnings() throws {
        let result = load("""
            listen:
              - address: "127.0.0.1:8443"
                tls: {certificate: ../tls/soon.pem, key: ../tls/key.pem}
              - address: "127.0.0.1:8444"
                tls: {certificate: ../tls/old.pem, key: ../tls/key.pem}
            """, files: ["conf/../tls/soon.pem": "SOON", "conf/../tls/old.pem": "OLD", "conf/../tls/key.pem": "KEY"])
        #expect(result.deployment != nil)
        #expect(problems(result) == [
            "conf/sluice.yaml:3: warning: certificate conf/../tls/soon.pem expires in 3 day(s)",
            "conf/sluice.yaml:5: warning: certificate conf/../tls/old.pem has expired",
        ])
    }

    @Test func withoutAnInspectorNoCertificateIsAccepted() {
        let result = loadConfig("""
            listen:
              - address: "127.0.0.1:8443"
                tls: {certificate: cert.pem, key: key.pem}
            """, definitions: ["cert.pem": "CERT", "key.pem": "KEY"])
        #expect(result.deployment == nil)
        #expect(problems(result) == ["sluice.yaml:3: error: certificate cert.pem with key key.pem: certificates cannot be "
                                 + "checked here (no TLS library)"])
    }

    @Test func anEmptyListIsAnError() {
        #expect(problems(load("listen: []\n")) == ["conf/sluice.yaml:1: error: listen must name at least one address"])
    }

    @Test func domainsWithTheirCertificatesPoliciesAndTruststores() throws {
        let result = load("""
            listen:
              - address: "0.0.0.0:8443"
                tls: {}
            domains:
              - {name: API.Example.com, certificate: ../tls/cert.pem, key: ../tls/key.pem}
              - name: "*.example.org"
                certificate: ../tls/cert.pem
                key: ../tls/key.pem
                security_policy: TLS_1_0
                mutual_tls: {truststore: ../tls/ca.pem}
            """, files: ["conf/../tls/cert.pem": "CERT", "conf/../tls/key.pem": "KEY", "conf/../tls/ca.pem": "CA"])
        let deployment = try #require(result.deployment, "\(result.lines)")
        #expect(deployment.listeners[0].tls == ListenerTLS(certificate: nil))
        #expect(deployment.domains.map(\.name) == ["api.example.com", "*.example.org"])
        #expect(deployment.domains[0].truststore == nil && deployment.domains[0].policy == .tls12)
        #expect(deployment.domains[1].policy == .tls10)
        #expect(deployment.domains[1].truststore == Truststore(path: "conf/../tls/ca.pem", pem: Array("CA".utf8)))
        #expect(problems(result).isEmpty)
        let wildcard = deployment.domains[1]
        #expect(wildcard.matches("a.example.org") && !wildcard.matches("a.b.example.org") && !wildcard.matches("example.org"))
        #expect(deployment.domains[0].matches("api.example.com") && !deployment.domains[0].matches("x.api.example.com"))
    }

    @Test func brokenDomainsAreErrorsAtTheirLines() {
        let result = load("""
            listen:
              - address: "0.0.0.0:8443"
                tls: {}
            domains:
              - {name: "a..example.com", certificate: ../tls/cert.pem, key: ../tls/key.pem}
              - {name: "b.*.example.com", certificate: ../tls/cert.pem, key: ../tls/key.pem}
              - {name: c.example.com, certificate: ../tls/cert.pem}
              - {certificate: ../tls/cert.pem, key: ../tls/key.pem}
              - {name: d.example.com, certificate: ../tls/cert.pem, key: ../tls/key.pem, mutual_tls: {truststore: ../tls/cert.pem}}
              - {name: e.example.com, certificate: ../tls/cert.pem, key: ../tls/key.pem, mutual_tls: {}}
              - {name: f.example.com, certificate: ../tls/cert.pem, key: ../tls/key.pem, security_policy: TLS_9}
              - {name: g.example.com, certificate: ../tls/cert.pem, key: ../tls/key.pem}
              - {name: G.example.com, certificate: ../tls/cert.pem, key: ../tls/key.pem}
            """, files: ["conf/../tls/cert.pem": "CERT", "conf/../tls/key.pem": "KEY"])
        #expect(result.deployment == nil)
        #expect(problems(result) == [
            "conf/sluice.yaml:5: error: domains.name: 'a..example.com' is not a host name (letters, digits, '-' and '.'; "
                + "'*.' only as the first label)",
            "conf/sluice.yaml:6: error: domains.name: 'b.*.example.com' is not a host name (letters, digits, '-' and '.'; "
                + "'*.' only as the first label)",
            "conf/sluice.yaml:7: error: domain c.example.com needs 'certificate' (a PEM chain) and 'key' (its PEM private key)",
            "conf/sluice.yaml:8: error: a domains entry needs 'name'",
            "conf/sluice.yaml:9: error: truststore conf/../tls/cert.pem: no PEM certificate could be read",
            "conf/sluice.yaml:10: error: domains.mutual_tls needs 'truststore' (a PEM bundle of CA certificates)",
            "conf/sluice.yaml:11: error: domains.security_policy: 'TLS_9' is not one of TLS_1_0, TLS_1_2, "
                + "SecurityPolicy_TLS13_1_3_2025_09",
            "conf/sluice.yaml:13: error: domain g.example.com is named twice",
        ])
    }

    @Test func aListenerWithoutACertificateNeedsDomainsAndDomainsNeedATLSListener() {
        #expect(problems(load("""
            listen:
              - address: "0.0.0.0:8443"
                tls: {}
            """)) == ["conf/sluice.yaml:1: error: a TLS listener without a certificate serves only the names in domains:, "
                      + "and none is named"])
        let result = load("""
            listen: "0.0.0.0:8080"
            domains:
              - {name: a.example.com, certificate: ../tls/cert.pem, key: ../tls/key.pem}
            """, files: ["conf/../tls/cert.pem": "CERT", "conf/../tls/key.pem": "KEY"])
        #expect(result.deployment != nil)
        #expect(problems(result) == ["conf/sluice.yaml:2: warning: domains: no TLS listener serves them (add tls to a listen entry)"])
    }
}
