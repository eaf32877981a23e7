import SluiceCompression
import SluiceConfig
import SluiceHTTP1
import SluicePipeline
import SluiceURing

/// Payload compression as API Gateway does it (docs/compression.md). A request's compressed body
/// (`Content-Encoding: gzip` or `deflate`) is decoded before the steps that read it — request
/// validation, mapping templates — on every API. An API with
/// `x-amazon-apigateway-minimum-compression-size` compresses an integration's answer of at least
/// that many bytes (after its template) when the request's `Accept-Encoding` ranks gzip or
/// deflate first and the integration did not encode the answer itself. Gateway responses are
/// never compressed.
///
/// Bodies are coded whole, in one call, on zlib streams set up once: nothing is allocated per
/// request. The room is a body buffer's: a larger answer goes uncompressed, a request body that
/// decodes to more than `limits.buffered_body_bytes` is 413.
struct CompressionState {
    let compressor: Compressor
    let decompressor: Decompressor
    /// Per API: an answer of at least this many bytes is compressed; -1 for an API that does not
    /// compress.
    let minimumBytes: [Int32]
    /// The largest compressed body an answer may carry: what a body buffer holds.
    let compressedBytesMax: Int
    /// The connection whose request's body the decompressor's output holds (-1: none).
    let decodedFor = DecodedBody()

    final class DecodedBody {
        var connection = -1
        var request: UInt64 = 0
    }

    /// zlib's level: its fastest, as nginx's `gzip_comp_level` defaults to (JSON still shrinks
    /// four- to tenfold).
    static let level = 1

    init(deployment: Deployment, bodyBufferBytes: Int) throws(SystemError) {
        guard let compressor = Compressor(level: Self.level, inputBytesMax: bodyBufferBytes),
              let decompressor = Decompressor(outputBytesMax: deployment.limits.bufferedBodyBytesMax) else {
            throw SystemError("zlib: cannot set up its streams", errno: 0)
        }
        self.compressor = compressor
        self.decompressor = decompressor
        minimumBytes = deployment.apis.map { api in api.minimumCompressionSizeBytes.map(Int32.init) ?? -1 }
        compressedBytesMax = bodyBufferBytes
    }

    /// The header lines of a compressed answer.
    static func lines(_ coding: ContentCoding) -> [UInt8] {
        coding == .deflate ? deflateLines : gzipLines
    }

    static let gzipLines: [UInt8] = Array("Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n".utf8)
    static let deflateLines: [UInt8] = Array("Content-Encoding: deflate\r\nVary: Accept-Encoding\r\n".utf8)
    static let contentEncodingName: [UInt8] = Array("content-encoding".utf8)
    static let contentRangeName: [UInt8] = Array("content-range".utf8)
    static let acceptEncodingName: [UInt8] = Array("accept-encoding".utf8)
    static let contentEncodingLine: [UInt8] = Array("Content-Encoding:".utf8)
    static let contentRangeLine: [UInt8] = Array("Content-Range:".utf8)
}

/// A request body as the steps read it: where it is in the request's bytes, or decoded (in the
/// decompressor's output).
enum RequestContent {
    case bytes(Range<Int>)
    case decoded
}

/// What a step that reads the body learns (as `BodyWait`, with the body decoded).
enum ContentWait {
    case ready(RequestContent)
    case wait
    case refuse(GatewayAnswer)
}

extension Worker {
    // MARK: Request bodies

    /// The request's body, whole and decoded from its `Content-Encoding`: a body in an unknown
    /// coding, or one that is not what its coding says, is 415 (API Gateway's answer); one that decodes to
    /// more than `limits.buffered_body_bytes` is 413.
    func awaitContent(_ index: Int, _ bytes: Span<UInt8>) -> ContentWait {
        let body: Range<Int>
        switch awaitBody(index, bytes) {
        case .ready(let range): body = range
        case .wait: return .wait
        case .refuse(let answer): return .refuse(answer)
        }
        // An empty body has nothing to decode, whatever its coding says.
        guard !body.isEmpty, let encoding = head.value(ofHeader: CompressionState.contentEncodingName.span, in: bytes) else {
            return .ready(.bytes(body))
        }
        // Two Content-Encoding fields are two codings applied (RFC 9110 §8.4): not decodable here.
        guard contentEncodingFields(bytes) == 1, let coding = ContentCoding.ofContent(bytes.extracting(encoding)) else {
            return .refuse(.unsupportedMediaType)
        }
        if coding == .identity { return .ready(.bytes(body)) }
        // Decoded once per request: the steps after the first read the decoder's output again
        // (the same connection's same request: its id tells it from the one before).
        let request = connections[index].request.id
        if connections[index].request.contentDecoded && compression.decodedFor.connection == index
            && compression.decodedFor.request == request {
            return .ready(.decoded)
        }
        switch compression.decompressor.decompress(bytes.extracting(body), coding) {
        case .decoded:
            compression.decodedFor.connection = index
            compression.decodedFor.request = request
            connections[index].request.contentDecoded = true
            return .ready(.decoded)
        case .malformed: return .refuse(.unsupportedMediaType)
        case .tooLarge: return .refuse(.bodyTooLarge)
        }
    }

    /// How many `Content-Encoding` fields the request's head has.
    func contentEncodingFields(_ bytes: Span<UInt8>) -> Int {
        var fields = 0
        for field in head.headers where HTTPBytes.equalsIgnoringCase(bytes, field.name,
                                                                      lowercased: CompressionState.contentEncodingName.span) {
            fields += 1
        }
        return fields
    }

    /// Runs `read` on the request's body as `awaitContent` found it.
    func withContent<Result>(_ content: RequestContent, in bytes: Span<UInt8>,
                             _ read: (Span<UInt8>) -> Result) -> Result {
        switch content {
        case .bytes(let range): return read(bytes.extracting(range))
        case .decoded:
            let decoded = compression.decompressor.output
            return read(decoded.span.extracting(0..<compression.decompressor.outputCount))
        }
    }

    /// An HTTP or HTTP_PROXY integration's request whose body came compressed: the upstream gets
    /// it decoded (API Gateway sends no Content-Encoding upstream), as the converted body.
    func decodedForUpstream(_ index: Int, _ bytes: Span<UInt8>) -> RequestBody {
        guard let encoding = head.value(ofHeader: CompressionState.contentEncodingName.span, in: bytes) else {
            return .passthrough
        }
        // One field saying identity: nothing to decode (and no need for the body whole).
        guard contentEncodingFields(bytes) > 1 || ContentCoding.ofContent(bytes.extracting(encoding)) != .identity else { return .passthrough }
        switch awaitContent(index, bytes) {
        case .wait: return .outcome(.wait)
        case .refuse(let answer): return .outcome(.refuse(answer))
        case .ready(let content):
            guard case .decoded = content else { return .passthrough }  // an empty body, or identity
            _ = withContent(content, in: bytes) { body in convert(body, .none) }
            return .replaced(.converted)
        }
    }

    // MARK: Answers

    /// At a request's first step: the coding its answer may be compressed in (`Accept-Encoding`),
    /// when its API compresses.
    func noteAnswerCoding(_ index: Int, _ bytes: Span<UInt8>) {
        connections[index].request.answerCoding = .identity
        guard match.stage >= 0 else { return }
        let minimum = compression.minimumBytes[Int(stageAPIs[match.stage])]
        guard minimum >= 0, !connections[index].request.pending.omitBody,
              let accept = head.value(ofHeader: CompressionState.acceptEncodingName.span, in: bytes),
              let coding = ContentCoding.preferred(acceptEncoding: bytes.extracting(accept)) else { return }
        connections[index].request.answerCoding = coding
        connections[index].request.compressFromBytes = minimum
    }

    /// The coding to send an integration's answer to `index` in: gzip or deflate when the request
    /// asked for it, the answer has a body of at least the API's minimum, and its header lines
    /// (`lines`, and `moreLines`) do not say it is encoded already; identity otherwise.
    func answerCoding(_ index: Int, status: Int, bodyBytes: Int, lines: Span<UInt8>,
                      moreLines: Span<UInt8>) -> ContentCoding {
        let request = connections[index].request
        // A part of a representation (206, Content-Range) is never recoded: its ranges count the
        // uncompressed bytes.
        guard request.answerCoding != .identity, status != 204, status != 206, status != 304, !request.pending.omitBody,
              bodyBytes > 0, bodyBytes >= Int(request.compressFromBytes), bodyBytes <= compression.compressedBytesMax,
              !Self.namesHeader(lines, CompressionState.contentEncodingLine.span),
              !Self.namesHeader(moreLines, CompressionState.contentEncodingLine.span),
              !Self.namesHeader(lines, CompressionState.contentRangeLine.span),
              !Self.namesHeader(moreLines, CompressionState.contentRangeLine.span) else { return .identity }
        return request.answerCoding
    }

    /// Compresses `body` into the compressor's output; false when its compressed form would not
    /// fit a body buffer (the answer then goes uncompressed).
    func compressAnswer(_ body: Span<UInt8>, _ coding: ContentCoding) -> Bool {
        compression.compressor.compress(body, as: coding)
            && compression.compressor.outputCount <= compression.compressedBytesMax
    }

    /// What of `body` did not fit the output slot (from `copied` on) waits in a body buffer, to
    /// be copied into the output as sends make room. False when it is too large for one or none
    /// is free (neither a free one nor the one the answer was gathered in).
    func queueRest(_ index: Int, of body: Span<UInt8>, from copied: Int) -> Bool {
        guard body.count - copied <= wholeBody.buffers.slotBytes else { return false }
        var buffer: Int32
        if let free = wholeBody.free.popLast() {
            buffer = free
        } else if connections[index].answerBuffer >= 0 {
            // None free: the buffer a gathered answer was held in is done with once its head is
            // written, and takes the rest (a copy toward its start, safe when `body` is in it).
            buffer = connections[index].answerBuffer
            connections[index].answerBuffer = -1
        } else {
            return false
        }
        _ = wholeBody.buffers.write(slot: Int(buffer), offset: 0) { writer in
            writer.append(body.extracting(copied..<body.count))
        }
        connections[index].streamingBuffer = buffer
        connections[index].streamingOffset = 0
        connections[index].streamingEnd = body.count - copied
        return true
    }
}

extension Worker {
    /// `answerResponse` of an HTTP integration's answer gathered only to be compressed.
    static let gatheredToCompress: Int32 = -2

    /// An upstream's answer (`responseHead`) that will be compressed is gathered whole in a body
    /// buffer first: its status line and header lines (`lines`), then its body as it arrives.
    /// Only an answer with a Content-Length (of at least the API's minimum, fitting a body
    /// buffer) is: a chunked or larger one, or one when no body buffer is free, is relayed as it
    /// comes, uncompressed. The cache keeps the answer as the upstream sent it.
    func gatherToCompress(_ index: Int, client: Int, status: Int, bytes: Span<UInt8>,
                          lines: (inout SlabWriter) -> Void) -> AnswerBuffering {
        guard connections[client].request.answerCoding != .identity, (200...599).contains(status), status != 204,
              status != 206, status != 304, case .length(let length) = responseHead.framing, length > 0,
              length >= Int(connections[client].request.compressFromBytes),
              HeaderNames.value(of: CompressionState.contentEncodingName, in: responseHead.headers, bytes: bytes) == nil,
              HeaderNames.value(of: CompressionState.contentRangeName, in: responseHead.headers, bytes: bytes) == nil,
              let buffer = wholeBody.free.popLast() else { return .relay }
        let written = wholeBody.buffers.write(slot: Int(buffer), offset: 0) { writer in lines(&writer) }
        guard !written.overflowed, written.byteCount + length <= wholeBody.buffers.slotBytes else {
            wholeBody.free.append(buffer)
            return .relay
        }
        connections[client].answerBuffer = buffer
        connections[client].answerConversion = .none
        connections[client].answerHeadLength = 0
        connections[client].answerLinesLength = Int32(written.byteCount)
        connections[client].answerBodyLength = 0
        connections[client].answerResponse = Worker.gatheredToCompress
        connections[index].bufferingAnswer = true
        if connections[client].capture >= 0 {
            startCapture(client: client, status: status, from: wholeBody.buffers, slot: Int(buffer),
                         lines: 0..<written.byteCount, framing: responseHead.framing, discard: false)
        }
        return .buffering
    }

    /// The gathered answer is whole: written compressed (or, when its compressed form does not
    /// fit, as it is). Nil when answered; else the answer to give instead.
    func writeGatheredAnswer(client: Int) -> GatewayAnswer? {
        let buffer = Int(connections[client].answerBuffer)
        let linesEnd = Int(connections[client].answerLinesLength)
        let bodyEnd = linesEnd + Int(connections[client].answerBodyLength)
        return wholeBody.buffers.withBytes(slot: buffer, range: 0..<bodyEnd) { bytes -> GatewayAnswer? in
            // The status line ("HTTP/1.1 200 OK\r\n") comes first.
            var statusEnd = 0
            while statusEnd < linesEnd && bytes[statusEnd] != 0x0A { statusEnd += 1 }
            statusEnd += 1
            var status = 0
            for offset in 9..<12 { status = status * 10 + Int(bytes[offset] &- 0x30) }
            return writeRendered(client, status: status, statusLine: bytes.extracting(0..<statusEnd),
                                 lines: bytes.extracting(statusEnd..<linesEnd), contentTypeLine: nil,
                                 body: bytes.extracting(linesEnd..<bodyEnd), overrides: false, traced: true,
                                 compressible: true)
        }
    }
}
