import SluiceHTTP1
import Testing

@Suite struct ReservedResponseHeadersTests {
    static let remapped = ["Authorization", "Connection", "Content-Length", "Content-MD5", "Date", "Expect", "Host",
                           "Max-Forwards", "Proxy-Authenticate", "Server", "Trailer", "Upgrade", "User-Agent",
                           "WWW-Authenticate", "x-amzn-RequestId"]
    static let dropped = ["Transfer-Encoding", "Keep-Alive", "Proxy-Connection", "TE"]

    func disposition(_ name: String) -> ReservedResponseHeaders.Disposition {
        let bytes = Array(("X: 1\r\n" + name).utf8)
        return ReservedResponseHeaders.disposition(of: bytes.span, 6..<bytes.count)
    }

    @Test func everyReservedNameInAnyCase() {
        for name in Self.remapped {
            for spelling in [name, name.lowercased(), name.uppercased()] {
                #expect(disposition(spelling) == .remap, "\(spelling)")
                #expect(ReservedResponseHeaders.disposition(of: spelling) == .remap, "\(spelling)")
                #expect(ReservedResponseHeaders.line(spelling, "v") == Array("x-amzn-Remapped-\(spelling): v\r\n".utf8))
                #expect(ReservedResponseHeaders.linePrefix(spelling) == Array("x-amzn-Remapped-\(spelling): ".utf8))
            }
        }
        for name in Self.dropped {
            for spelling in [name, name.lowercased(), name.uppercased()] {
                #expect(disposition(spelling) == .drop, "\(spelling)")
                #expect(ReservedResponseHeaders.line(spelling, "v") == nil)
                #expect(ReservedResponseHeaders.linePrefix(spelling) == nil)
            }
        }
        #expect(ReservedResponseHeaders.names.count == Self.remapped.count + Self.dropped.count)
    }

    @Test func otherNamesPass() {
        for name in ["Content-Type", "X-Custom", "Set-Cookie", "Dates", "Hos", "Content-Lengths", "ETag", "", "T",
                     "Access-Control-Allow-Origin", "x-amzn-Remapped-Date", "Transfer-Encodings"] {
            #expect(disposition(name) == .pass, "\(name)")
            #expect(ReservedResponseHeaders.line(name, "v") == Array("\(name): v\r\n".utf8))
        }
    }
}
