import SluiceConfig
import SluiceTLS
import Testing

@Suite struct CertificateTests {
    @Test func aMatchingChainAndKeyLoadWithTheLeafsExpiry() throws {
        for (chain, key) in [(Fixtures.ecdsaCertificate, Fixtures.ecdsaKey), (Fixtures.rsaCertificate, Fixtures.rsaKey)] {
            let atEpoch = try TLSServerContext.inspect(chainPEM: chain, keyPEM: key, nowEpochSeconds: 0).get()
            #expect(atEpoch.chainCount == 1)
            // Made on 2026-12-04 for 100 years.
            #expect(atEpoch.secondsUntilExpiry > 4_900_000_000)
            let later = try TLSServerContext.inspect(chainPEM: chain, keyPEM: key,
                                                     nowEpochSeconds: atEpoch.secondsUntilExpiry - 5 * 86_400).get()
            #expect(later.secondsUntilExpiry == 5 * 86_400)
        }
    }

    @Test func aChainWithAnIntermediateCountsIt() throws {
        let chain = Fixtures.ecdsaCertificate + Array("\n".utf8) + Fixtures.rsaCertificate
        let summary = try TLSServerContext.inspect(chainPEM: chain, keyPEM: Fixtures.ecdsaKey, nowEpochSeconds: 0).get()
        #expect(summary.chainCount == 2)
    }

    @Test func aKeyOfAnotherCertificateIsRefused() {
        let result = TLSServerContext.inspect(chainPEM: Fixtures.ecdsaCertificate, keyPEM: Fixtures.rsaKey, nowEpochSeconds: 0)
        guard case .failure(let error) = result else {
            Issue.record("a mismatched key was accepted")
            return
        }
        #expect(error.message.hasPrefix("the private key does not match the certificate"))
    }

    @Test func textThatIsNoPEMIsRefused() {
        for (chain, key, expected) in [
            (Array("not a certificate".utf8), Fixtures.ecdsaKey, "no PEM certificate could be read"),
            (Fixtures.ecdsaCertificate, Array("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".utf8),
             "no PEM private key could be read"),
            ([], [], "no PEM certificate could be read"),
        ] {
            let result = TLSServerContext.inspect(chainPEM: chain, keyPEM: key, nowEpochSeconds: 0)
            guard case .failure(let error) = result else {
                Issue.record("accepted: \(expected)")
                continue
            }
            #expect(error.message.hasPrefix(expected))
        }
    }

    @Test func aCertificateWhoseBase64IsDamagedIsRefused() {
        var chain = Fixtures.ecdsaCertificate
        // A character in the middle of the base64 body.
        chain[200] = UInt8(ascii: "!")
        let result = TLSServerContext.inspect(chainPEM: chain, keyPEM: Fixtures.ecdsaKey, nowEpochSeconds: 0)
        guard case .failure = result else {
            Issue.record("a damaged certificate was accepted")
            return
        }
    }

    @Test func everySecurityPolicyMakesAContext() throws {
        for policy in TLSSecurityPolicy.allCases {
            let files = CertificateFiles(chainPath: "c.pem", keyPath: "c.key", chainPEM: Fixtures.rsaCertificate,
                                         keyPEM: Fixtures.rsaKey)
            _ = try TLSServerContext(ListenerTLS(certificate: files, policy: policy))
        }
    }

    @Test func aContextRefusesAMismatchedKey() {
        let files = CertificateFiles(chainPath: "c.pem", keyPath: "c.key", chainPEM: Fixtures.rsaCertificate,
                                     keyPEM: Fixtures.ecdsaKey)
        #expect(throws: TLSError.self) { try TLSServerContext(ListenerTLS(certificate: files)) }
    }
}
