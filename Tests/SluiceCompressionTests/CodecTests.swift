import Testing
import SluiceHTTP1
@testable import SluiceCompression

@Suite("gzip and deflate codecs")
struct CodecTests {
    static let body = Array(#"{"type": "dog", "price": 249.99}"#.utf8)
    // Python's gzip.compress(body, mtime=0), zlib.compress(body) and a bare deflate stream.
    static let gzipped: [UInt8] = [
        0x1F, 0x8B, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xAB, 0x56, 0x2A, 0xA9, 0x2C, 0x48, 0x55, 0xB2,
        0x52, 0x50, 0x4A, 0xC9, 0x4F, 0x57, 0xD2, 0x51, 0x50, 0x2A, 0x28, 0xCA, 0x4C, 0x06, 0xF1, 0x8D, 0x4C, 0x2C,
        0xF5, 0x2C, 0x2D, 0x6B, 0x01, 0x43, 0x7E, 0xC5, 0x80, 0x20, 0x00, 0x00, 0x00,
    ]
    static let zlibFramed: [UInt8] = [
        0x78, 0x9C, 0xAB, 0x56, 0x2A, 0xA9, 0x2C, 0x48, 0x55, 0xB2, 0x52, 0x50, 0x4A, 0xC9, 0x4F, 0x57, 0xD2, 0x51,
        0x50, 0x2A, 0x28, 0xCA, 0x4C, 0x06, 0xF1, 0x8D, 0x4C, 0x2C, 0xF5, 0x2C, 0x2D, 0x6B, 0x01, 0x9E, 0x1A, 0x09,
        0x13,
    ]
    static let bare: [UInt8] = Array(zlibFramed[2..<(zlibFramed.count - 4)])

    @Test func decodesWhatOtherEncodersWrote() throws {
        let decompressor = try #require(Decompressor(outputBytesMax: 1024))
        #expect(decompressor.decompress(Self.gzipped, .gzip) == .decoded)
        #expect(Array(decompressor.output[0..<decompressor.outputCount]) == Self.body)
        #expect(decompressor.decompress(Self.zlibFramed, .deflate) == .decoded)
        #expect(Array(decompressor.output[0..<decompressor.outputCount]) == Self.body)
        // Some clients send deflate without zlib's framing.
        #expect(decompressor.decompress(Self.bare, .deflate) == .decoded)
        #expect(Array(decompressor.output[0..<decompressor.outputCount]) == Self.body)
    }

    @Test func refusesWhatIsNotOneWholeStreamOfTheCoding() throws {
        let decompressor = try #require(Decompressor(outputBytesMax: 1024))
        // Plain text named gzip, a zlib stream named gzip, a cut stream, bytes after the end, a
        // corrupted checksum, nothing at all.
        #expect(decompressor.decompress(Self.body, .gzip) == .malformed)
        #expect(decompressor.decompress(Self.zlibFramed, .gzip) == .malformed)
        #expect(decompressor.decompress(Array(Self.gzipped[0..<30]), .gzip) == .malformed)
        #expect(decompressor.decompress((Self.gzipped + [0x41]), .gzip) == .malformed)
        var corrupted = Self.gzipped
        corrupted[corrupted.count - 6] ^= 0xFF
        #expect(decompressor.decompress(corrupted, .gzip) == .malformed)
        #expect(decompressor.decompress([UInt8](), .gzip) == .malformed)
        #expect(decompressor.decompress(Self.body, .deflate) == .malformed)
        // Still good for the next body.
        #expect(decompressor.decompress(Self.gzipped, .gzip) == .decoded)
    }

    @Test func refusesABodyThatDecodesToMoreThanItsRoom() throws {
        let compressor = try #require(Compressor(level: 6, inputBytesMax: 1 << 20))
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        #expect(compressor.compress(zeros, as: .gzip))
        // About a kilobyte that decodes to a megabyte.
        #expect(compressor.outputCount < 2048)
        let bomb = Array(compressor.output[0..<compressor.outputCount])
        let small = try #require(Decompressor(outputBytesMax: 4096))
        #expect(small.decompress(bomb, .gzip) == .tooLarge)
        let exact = try #require(Decompressor(outputBytesMax: 1 << 20))
        #expect(exact.decompress(bomb, .gzip) == .decoded)
        #expect(exact.outputCount == 1 << 20)
    }

    @Test func roundTripsBothCodingsAndAnEmptyBody() throws {
        let compressor = try #require(Compressor(level: 1, inputBytesMax: 4096))
        let decompressor = try #require(Decompressor(outputBytesMax: 4096))
        var text = [UInt8]()
        for index in 0..<300 { text += Array("line \(index) of a body\n".utf8) }
        text = Array(text[0..<4096])
        for coding in [ContentCoding.gzip, .deflate] {
            #expect(compressor.compress(text, as: coding))
            #expect(compressor.outputCount < text.count / 2)
            let compressed = Array(compressor.output[0..<compressor.outputCount])
            if coding == .gzip { #expect(compressed[0] == 0x1F && compressed[1] == 0x8B) }
            if coding == .deflate { #expect(compressed[0] == 0x78) }
            #expect(decompressor.decompress(compressed, coding) == .decoded)
            #expect(Array(decompressor.output[0..<decompressor.outputCount]) == text)
            #expect(compressor.compress([UInt8](), as: coding))
            #expect(decompressor.decompress(Array(compressor.output[0..<compressor.outputCount]), coding) == .decoded)
            #expect(decompressor.outputCount == 0)
        }
        // Random bytes do not compress, and still fit the room set up (deflate's bound).
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(compressor.compress(noise, as: .gzip))
        #expect(decompressor.decompress(Array(compressor.output[0..<compressor.outputCount]), .gzip) == .decoded)
        #expect(Array(decompressor.output[0..<decompressor.outputCount]) == noise)
        // More than the room was set up for, if it does not compress, is refused.
        let more = noise + noise
        #expect(!compressor.compress(more, as: .gzip))
    }
}

@Suite("Accept-Encoding and Content-Encoding")
struct ContentCodingTests {
    func preferred(_ value: String) -> ContentCoding? {
        ContentCoding.preferred(acceptEncoding: Array(value.utf8).span)
    }

    @Test func choosesTheHighestRankedCodingWhenTheGatewayWritesIt() {
        #expect(preferred("gzip") == .gzip)
        #expect(preferred("deflate") == .deflate)
        #expect(preferred("gzip, deflate, br") == .gzip)
        #expect(preferred("deflate,gzip") == .deflate)
        #expect(preferred("deflate;q=0.5, gzip;q=1.0") == .gzip)
        #expect(preferred("gzip;q=1.0, identity; q=0.5, *;q=0") == .gzip)
        #expect(preferred("GZIP") == .gzip)
        #expect(preferred("x-gzip") == .gzip)
        #expect(preferred(" deflate ;  q=0.9 ,br;q=0.8") == .deflate)
    }

    @Test func answersUncompressedOtherwise() {
        // API Gateway: the first-ranked coding must be one it supports.
        #expect(preferred("br, gzip;q=0.5") == nil)
        #expect(preferred("br;q=1, gzip") == nil)
        #expect(preferred("*") == nil)
        #expect(preferred("") == nil)
        #expect(preferred("identity") == nil)
        #expect(preferred("gzip;q=0") == nil)
        #expect(preferred("gzip;q=0.000, deflate;q=0") == nil)
        // A malformed weight drops its element, not the header.
        #expect(preferred("gzip;q=2, deflate") == .deflate)
        #expect(preferred("gzip;q=0.12345") == nil)
        #expect(preferred("gzip;q=abc") == nil)
        #expect(preferred("identity;q=0.5, gzip;q=0.7") == .gzip)
    }

    @Test func readsARequestsContentEncoding() {
        func coding(_ value: String) -> ContentCoding? { ContentCoding.ofContent(Array(value.utf8).span) }
        #expect(coding("gzip") == .gzip)
        #expect(coding(" Deflate ") == .deflate)
        #expect(coding("identity") == .identity)
        #expect(coding("") == .identity)
        #expect(coding("br") == nil)
        #expect(coding("gzip, gzip") == nil)
        #expect(coding("compress") == nil)
    }
}

// Span arguments cannot go through #expect's expansion: these take arrays.
extension Compressor {
    func compress(_ bytes: [UInt8], as coding: ContentCoding) -> Bool { compress(bytes.span, as: coding) }
}

extension Decompressor {
    func decompress(_ bytes: [UInt8], _ coding: ContentCoding) -> Outcome { decompress(bytes.span, coding) }
}
