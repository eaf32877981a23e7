import SluiceHTTP1
import Testing

@Suite struct DotSegmentsTests {
    func resolve(_ path: String) -> String? {
        var output: [UInt8] = []
        let bytes = Array(path.utf8)
        return DotSegments.resolve(bytes.span, into: &output) ? String(decoding: output, as: UTF8.self) : nil
    }

    func present(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        return DotSegments.present(in: bytes.span)
    }

    @Test(arguments: [
        ("/a/b/c", "/a/b/c"), ("/a/./b", "/a/b"), ("/a/../b", "/b"), ("/a/b/..", "/a/"), ("/a/b/.", "/a/b/"),
        ("/a/%2e%2e/b", "/b"), ("/a/.%2E/b", "/b"), ("/a/%2E./b", "/b"), ("/a/%2e/b", "/a/b"),
        ("/a/x/../../b", "/b"), ("/a/..", "/"), ("/.", "/"), ("//a/../b", "//b"), ("/a//../b", "/a/b"),
        // Not dot-segments: three dots, dots inside a segment, an encoded slash, a bad escape.
        ("/a/.../b", "/a/.../b"), ("/a/..b/c", "/a/..b/c"), ("/a/b../c", "/a/b../c"), ("/a/..%2fb", "/a/..%2fb"),
        ("/a/%2/b", "/a/%2/b"), ("/a/%2e%2e%2e/b", "/a/%2e%2e%2e/b"),
    ])
    func resolvesAsRFC3986Says(_ path: String, _ expected: String) {
        #expect(resolve(path) == expected)
        #expect(present(path) == (path != expected))
    }

    @Test(arguments: ["/..", "/../a", "/a/../..", "/%2e%2e/a", "/a/b/../../../c"])
    func aPathAboveItsRootIsRefused(_ path: String) {
        #expect(present(path))
        #expect(resolve(path) == nil)
    }

    @Test func pathsWithoutDotSegmentsAreNotTouched() {
        for path in ["/", "/prod/pets/7", "/a.b/c.d", "/a/.hidden", "/%2e%2ex", "/a/%41"] {
            #expect(!present(path), "\(path)")
        }
    }
}
