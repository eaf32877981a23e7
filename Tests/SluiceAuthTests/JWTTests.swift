import SluiceAuth
import SluiceCrypto
import Testing

@Suite struct JWTTests {
    static let keySet: KeySet = {
        guard case .success(let set) = KeySet.parse(Array(JWTVectors.jwks.utf8)) else { fatalError("the vectors' JWKS parses") }
        return set
    }()

    func verify(_ token: String, audiences: [String] = ["client-a"], issuer: String = JWTVectors.issuer,
                now: Int64 = JWTVectors.now, leeway: Int64 = 0) -> Result<Int64, JWTFailure> {
        var verifier = JWTVerifier()
        let bytes = Array(token.utf8)
        return verifier.verify(bytes.span, issuers: [Array(issuer.utf8)], audiences: audiences.map { Array($0.utf8) },
                               nowEpochSeconds: now, leewaySeconds: leeway) { _ in JWTTests.keySet }
            .map(\.expires)
    }

    @Test func theKeySetKeepsTheSigningKeysItCanUse() {
        // RSA 2048, P-256, P-384, P-521; not the 1024-bit RSA key nor the symmetric one.
        #expect(Self.keySet.keys.map { String(decoding: $0.id, as: UTF8.self) } == ["rsa1", "ec256", "ec384", "ec521"])
        #expect(Self.keySet.skipped == 2)
        #expect(Self.keySet.keys[0].key.bits == 2048)
        #expect(Self.keySet.keys[3].key.bits == 521)
    }

    @Test func validTokensOfEveryAlgorithm() {
        for token in [JWTVectors.validRs256, JWTVectors.validEs256, JWTVectors.validEs384, JWTVectors.validEs512] {
            #expect(verify(token) == .success(JWTVectors.now + 3600))
        }
        // An audience list, and an access token's client_id without aud.
        #expect(verify(JWTVectors.audList) == .success(JWTVectors.now + 3600))
        #expect(verify(JWTVectors.clientId) == .success(JWTVectors.now + 3600))
        // No audiences configured (a user pool): any audience.
        #expect(verify(JWTVectors.wrongAud, audiences: []) == .success(JWTVectors.now + 3600))
    }

    @Test func theClaimsAreKeptDecoded() {
        var verifier = JWTVerifier()
        let bytes = Array(JWTVectors.validRs256.utf8)
        _ = verifier.verify(bytes.span, issuers: [Array(JWTVectors.issuer.utf8)], audiences: [],
                            nowEpochSeconds: JWTVectors.now, leewaySeconds: 0) { _ in JWTTests.keySet }
        let claims = String(decoding: verifier.claims, as: UTF8.self)
        #expect(claims.contains(#""sub":"user-1""#))
        let read = verifier.claims
        let check1 = JWTVerifier.holdsScope(read.span, anyOf: [Array("write".utf8)])
        #expect(check1)
        let check2 = JWTVerifier.holdsScope(read.span, anyOf: [Array("admin".utf8), Array("read".utf8)])
        #expect(check2)
        let check3 = JWTVerifier.holdsScope(read.span, anyOf: [Array("admin".utf8)])
        #expect(!check3)
        let check4 = JWTVerifier.holdsScope(read.span, anyOf: [Array("rea".utf8)])
        #expect(!check4)
    }

    @Test func brokenTokensAreRefusedForTheirReason() {
        #expect(verify(JWTVectors.expired) == .failure(.expired))
        #expect(verify(JWTVectors.noExp) == .failure(.expired))
        #expect(verify(JWTVectors.validRs256, now: JWTVectors.now + 3600) == .failure(.expired))
        #expect(verify(JWTVectors.validRs256, now: JWTVectors.now + 3600, leeway: 5) == .success(JWTVectors.now + 3600))
        #expect(verify(JWTVectors.futureNbf) == .failure(.notYetValid))
        #expect(verify(JWTVectors.futureNbf, leeway: 60) == .success(JWTVectors.now + 3600))
        #expect(verify(JWTVectors.futureIat) == .failure(.notYetValid))
        #expect(verify(JWTVectors.wrongAud) == .failure(.audience))
        #expect(verify(JWTVectors.wrongIss) == .failure(.issuer))
        #expect(verify(JWTVectors.validRs256, issuer: "https://issuer.example/other") == .failure(.issuer))
        #expect(verify(JWTVectors.unknownKid) == .failure(.unknownKey))
        #expect(verify(JWTVectors.smallKey) == .failure(.unknownKey))
        #expect(verify(JWTVectors.ecWrongCurve) == .failure(.unknownKey))
        #expect(verify(JWTVectors.rs384Restricted) == .failure(.unknownKey))
        #expect(verify(JWTVectors.algNone) == .failure(.algorithm))
        #expect(verify(JWTVectors.hs256PublicKey) == .failure(.algorithm))
        #expect(verify(JWTVectors.tampered) == .failure(.signature))
        #expect(verify("abc") == .failure(.malformed))
        #expect(verify("a.b.c.d.e") == .failure(.malformed))
        #expect(verify(JWTVectors.validRs256 + "=") == .failure(.malformed))
        #expect(verify(String(repeating: "a", count: 9_000)) == .failure(.malformed))
    }

    @Test func hostileTimesNeitherCrashNorPass() {
        func token(_ claims: String) -> String {
            let header = String(decoding: Base64URL.encode(Array(#"{"alg":"RS256","kid":"rsa1"}"#.utf8)), as: UTF8.self)
            let payload = String(decoding: Base64URL.encode(Array(claims.utf8)), as: UTF8.self)
            return "\(header).\(payload).AA"
        }
        let issuer = JWTVectors.issuer
        #expect(verify(token(#"{"iss":"\#(issuer)","exp":9223372036854775808}"#)) == .failure(.malformed))
        #expect(verify(token(#"{"iss":"\#(issuer)","exp":-9223372036854775809}"#)) == .failure(.malformed))
        #expect(verify(token(#"{"iss":"\#(issuer)","exp":9223372036854775807}"#)) == .failure(.signature))
        #expect(verify(token(#"{"iss":"\#(issuer)","exp":1e30}"#)) == .failure(.malformed))
    }

    /// RFC 7515 appendix A.2 (RS256) and A.3 (ES256): the signatures verify with the RFC's keys.
    @Test func rfc7515AppendixSignatures() throws {
        func decoded(_ text: String) -> [UInt8] {
            var output: [UInt8] = []
            let check5 = Base64URL.decode(Array(text.utf8).span, into: &output)
            #expect(check5)
            return output
        }
        let rsa = try #require(PublicKey(
            rsaModulus: decoded("ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"),
            exponent: decoded("AQAB")))
        let rsaSigned = Array("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ".utf8)
        let rsaSignature = decoded("cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw")
        let check6 = rsa.verifies(rsaSignature.span, of: rsaSigned.span, digestBits: 256)
        #expect(check6)
        var altered = rsaSignature
        altered[10] ^= 1
        let check7 = rsa.verifies(altered.span, of: rsaSigned.span, digestBits: 256)
        #expect(!check7)

        let ec = try #require(PublicKey(ecCurveBits: 256, x: decoded("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"),
                                        y: decoded("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0")))
        let ecSigned = Array("eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ".utf8)
        let ecSignature = decoded("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
        let check8 = ec.verifies(ecSignature.span, of: ecSigned.span, digestBits: 256)
        #expect(check8)
        let check9 = ec.verifies(ecSignature.span, of: rsaSigned.span, digestBits: 256)
        #expect(!check9)
    }

    @Test func base64URLRoundTrips() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 37 + 11) }
            let encoded = Base64URL.encode(bytes)
            var decoded: [UInt8] = []
            let check10 = Base64URL.decode(encoded.span, into: &decoded)
            #expect(check10)
            #expect(decoded == bytes)
        }
        var output: [UInt8] = []
        let check11 = Base64URL.decode(Array("ab=".utf8).span, into: &output)
        #expect(!check11)
        let check12 = Base64URL.decode(Array("a".utf8).span, into: &output)
        #expect(!check12)
        let check13 = Base64URL.decode(Array("a+b/".utf8).span, into: &output)
        #expect(!check13)
        // Bits left over that are not zero: not what any encoder writes.
        let check14 = Base64URL.decode(Array("AB".utf8).span, into: &output)
        #expect(!check14)
    }
}
