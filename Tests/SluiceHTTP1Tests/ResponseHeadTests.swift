import SluiceHTTP1
import Testing

@Suite struct ResponseHeadTests {
    @Test func dateLineIsIMFFixdate() {
        var line = DateLine()
        #expect(String(decoding: line.bytes, as: UTF8.self) == "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n")
        line.update(epochSeconds: 784_111_777)  // RFC 9110's example.
        #expect(String(decoding: line.bytes, as: UTF8.self) == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
        line.update(epochSeconds: 951_782_400)  // A leap day.
        #expect(String(decoding: line.bytes, as: UTF8.self) == "Date: Tue, 29 Feb 2000 00:00:00 GMT\r\n")
        line.update(epochSeconds: 1_795_219_199)
        #expect(String(decoding: line.bytes, as: UTF8.self) == "Date: Fri, 20 Nov 2026 23:59:59 GMT\r\n")
        #expect(line.bytes.count == DateLine.byteCount)
    }

    @Test func decimalAndHex() {
        for value in [0, 7, 10, 99, 100, 12_345, 10_485_760, Int.max] {
            var bytes: [UInt8] = []
            ResponseHead.appendDecimal(value, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == String(value))
        }
        var hex: [UInt8] = []
        ResponseHead.appendHex(0xBEEF, digits: 8, to: &hex)
        #expect(String(decoding: hex, as: UTF8.self) == "0000beef")
    }

    @Test func statusLines() {
        #expect(String(decoding: ResponseHead.statusLine(413), as: UTF8.self) == "HTTP/1.1 413 Content Too Large\r\n")
        #expect(String(decoding: ResponseHead.statusLine(299), as: UTF8.self) == "HTTP/1.1 299 \r\n")
    }
}
