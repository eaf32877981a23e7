import SluiceHTTP1
import Testing

@Suite("Trace context: traceparent and X-Amzn-Trace-Id")
struct TraceContextTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func aValidTraceparentIsRead() {
        let value = Self.bytes("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        let trace = TraceContext.parseTraceparent(value.span)
        #expect(trace == TraceContext(high: 0x4bf9_2f35_77b3_4da6, low: 0xa3ce_929d_0e0e_4736,
                                      parent: 0x00f0_67aa_0ba9_02b7, sampled: true))
        var line: [UInt8] = []
        trace?.appendTraceparentLine(to: &line)
        #expect(String(decoding: line, as: UTF8.self)
                == "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n")
    }

    @Test(arguments: [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",           // short
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          // version ff
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",          // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",          // zero parent
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",          // uppercase
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",    // version 00 with more
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          // separator
        "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          // not hex
    ])
    func brokenTraceparentsAreIgnored(_ text: String) {
        #expect(TraceContext.parseTraceparent(Self.bytes(text).span) == nil)
    }

    @Test func aLaterVersionMayCarryMoreFields() {
        let value = Self.bytes("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more")
        #expect(TraceContext.parseTraceparent(value.span)?.sampled == false)
    }

    @Test func anAmazonTraceIdIsTheSameTraceId() {
        let value = Self.bytes("Self=1-aaaa; Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        let trace = TraceContext.parseAmazon(value.span)
        #expect(trace == TraceContext(high: 0x5759_e988_bd86_2e3f, low: 0xe1be_46a9_9427_2793,
                                      parent: 0x5399_5c3f_42cd_8ad8, sampled: true))
        var id: [UInt8] = []
        trace?.appendTraceID(to: &id)
        #expect(String(decoding: id, as: UTF8.self) == "5759e988bd862e3fe1be46a994272793")
        var line: [UInt8] = []
        trace?.appendAmazonValue(to: &line)
        #expect(String(decoding: line, as: UTF8.self)
                == "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
        #expect(line.count <= 74)
        #expect(TraceContext.parseAmazon(Self.bytes("Root=1-5759e988-bd862e3fe1be46a99427279").span) == nil)
        #expect(TraceContext.parseAmazon(Self.bytes("Parent=53995c3f42cd8ad8").span) == nil)
        #expect(TraceContext.parseAmazon(Self.bytes("Root=1-5759e988-bd862e3fe1be46a99427279x").span) == nil)
    }

    @Test func newTracesCarryTheirSecondAndDiffer() {
        var ids = TraceIDs(seed: 42)
        let first = ids.newTrace(epochSeconds: 0x5759_e988)
        let second = ids.newTrace(epochSeconds: 0x5759_e988)
        #expect(first.high >> 32 == 0x5759_e988)
        #expect(first != second)
        #expect(first.sampled && first.parent != 0)
        var line: [UInt8] = []
        first.appendTraceparentLine(to: &line)
        let text = String(decoding: line.dropFirst(13).dropLast(2), as: UTF8.self)
        #expect(TraceContext.parseTraceparent(Array(text.utf8).span) == first)
    }
}
