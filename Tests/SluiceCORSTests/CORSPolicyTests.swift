import SluiceConfig
import Testing
@testable import SluiceCORS

struct CORSPolicyTests {
    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func match(_ policy: CORSPolicy, _ origin: String) -> Int {
        let bytes = Array(origin.utf8)
        return policy.match(origin: bytes.span)
    }

    @Test func listedOriginsAreEchoedAndVaryOnOrigin() {
        let policy = CORSPolicy(CORSSettings(allowOrigins: ["https://a.example", "https://b.example:8443"],
                                             allowMethods: ["GET", "POST"], allowHeaders: ["authorization", "content-type"],
                                             exposeHeaders: ["x-total"], maxAgeSeconds: 600, allowCredentials: true))
        #expect(match(policy, "https://a.example") == 0)
        #expect(match(policy, "HTTPS://B.EXAMPLE:8443") == 1)
        #expect(match(policy, "https://a.example.evil") == -1)
        #expect(match(policy, "https://b.example") == -1)
        #expect(match(policy, "") == -1)
        #expect(text(policy.originLines[1]) == "Access-Control-Allow-Origin: https://b.example:8443\r\n")
        #expect(text(policy.responseLines) == "Access-Control-Allow-Credentials: true\r\n"
                + "Access-Control-Expose-Headers: x-total\r\nVary: Origin\r\n")
        #expect(text(policy.preflightLines) == "Access-Control-Allow-Methods: GET,POST\r\n"
                + "Access-Control-Allow-Headers: authorization,content-type\r\nAccess-Control-Max-Age: 600\r\n")
    }

    @Test func anyOrigin() {
        let policy = CORSPolicy(CORSSettings(allowOrigins: ["*"], allowMethods: ["*"]))
        #expect(match(policy, "https://whoever.example") == 0)
        #expect(text(policy.originLines[0]) == "Access-Control-Allow-Origin: *\r\n")
        #expect(policy.responseLines.isEmpty)
    }

    @Test func corsHeaderNames() {
        for (name, expected) in [("Access-Control-Allow-Origin", true), ("access-control-max-age", true),
                                 ("Access-Control-", false), ("Content-Type", false)] {
            let bytes = Array(name.utf8)
            #expect(CORSPolicy.isCORSHeader(bytes.span) == expected, "\(name)")
        }
    }
}
