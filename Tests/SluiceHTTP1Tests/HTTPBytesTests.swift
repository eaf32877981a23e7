import Testing
@testable import SluiceHTTP1

@Suite("Byte helpers")
struct HTTPBytesTests {
    @Test func tokenBytesAreExactlyRFC9110Tchar() {
        let tchar = Set(bytes("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        for byte in UInt8.min...UInt8.max {
            #expect(HTTPBytes.isTokenByte(byte) == tchar.contains(byte), "byte \(byte)")
        }
    }

    @Test func fieldValueBytes() {
        for byte in UInt8.min...UInt8.max {
            let expected = byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
            #expect(HTTPBytes.isFieldValueByte(byte) == expected, "byte \(byte)")
        }
    }

    @Test func hexValues() {
        #expect(HTTPBytes.hexValue(UInt8(ascii: "0")) == 0)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "9")) == 9)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "a")) == 10)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "F")) == 15)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "g")) == nil)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "G")) == nil)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "/")) == nil)
        #expect(HTTPBytes.hexValue(UInt8(ascii: ":")) == nil)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "@")) == nil)
        #expect(HTTPBytes.hexValue(UInt8(ascii: "`")) == nil)
    }

    @Test func lowercasingTouchesOnlyLetters() {
        for byte in UInt8.min...UInt8.max {
            let expected = (byte >= 0x41 && byte <= 0x5A) ? byte + 0x20 : byte
            #expect(HTTPBytes.lowercased(byte) == expected, "byte \(byte)")
        }
    }

    @Test func caseInsensitiveComparison() {
        let input = bytes("xxContent-LENGTHyy")
        let name = bytes("content-length")
        #expect(ArrayBytes.equalsIgnoringCase(input, 2..<16, lowercased: name))
        #expect(!ArrayBytes.equalsIgnoringCase(input, 2..<15, lowercased: name))
        #expect(!ArrayBytes.equalsIgnoringCase(input, 1..<15, lowercased: name))
        // `@` and `[` sit next to the letters; they must not fold onto `` ` `` and `{`.
        let near = bytes("@[")
        let folded = bytes("`{")
        #expect(!ArrayBytes.equalsIgnoringCase(near, 0..<2, lowercased: folded))
        let other = bytes("CONTENT-length")
        #expect(ArrayBytes.equalsIgnoringCase(input, 2..<16, other, 0..<14))
        #expect(!ArrayBytes.equalsIgnoringCase(input, 2..<16, other, 0..<13))
        #expect(!ArrayBytes.equals(input, 2..<16, other))
        #expect(ArrayBytes.equals(other, 0..<7, bytes("CONTENT")))
    }

    @Test func trimming() {
        let input = bytes(" \t a b \t ")
        #expect(ArrayBytes.trimmingWhitespace(input, 0..<input.count) == 3..<6)
        let blank = bytes(" \t ")
        #expect(ArrayBytes.trimmingWhitespace(blank, 0..<3).isEmpty)
    }

    @Test func fieldListElements() {
        let input = bytes("a, b ,,\tc ,")
        var iterator = FieldListIterator(0..<input.count)
        var elements: [String] = []
        while let element = iterator.next(in: input.span) { elements.append(text(input, element)) }
        #expect(elements == ["a", "b", "", "c", ""])

        let empty: [UInt8] = []
        var none = FieldListIterator(0..<0)
        #expect(none.next(in: empty) == 0..<0)
        #expect(none.next(in: empty) == nil)
    }
}

@Suite struct PercentDecodingTests {
    @Test func decodesAndRefusesBrokenEscapes() {
        #expect(PercentDecoding.decode("a%20b%2Fc%e2%82%ac") == "a b/c€")
        #expect(PercentDecoding.decode("a+b") == "a+b")
        #expect(PercentDecoding.decode("a+b", plusAsSpace: true) == "a b")
        #expect(PercentDecoding.decode("100%") == nil)
        #expect(PercentDecoding.decode("%4") == nil)
        #expect(PercentDecoding.decode("%zz") == nil)
        #expect(PercentDecoding.decode("%ff") == nil)      // not UTF-8
        #expect(PercentDecoding.decode("") == "")
    }
}
