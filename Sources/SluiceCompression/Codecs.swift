import CSluiceZlib
import SluiceHTTP1

// One of the unsafe modules (tools/tidy): zlib's streams are C objects held as raw pointers, and
// bodies are lent to it through buffer pointers; nothing unsafe leaves this file.

/// Whole-body gzip and deflate (zlib framing, RFC 9110 §8.4.1) for one worker: streams set up
/// once, then reset per body, so nothing is allocated per request. Not for use from more than
/// one thread.
public final class Compressor {
    private let gzip: UnsafeMutableRawPointer
    private let zlib: UnsafeMutableRawPointer
    /// The last compressed body: its first `outputCount` bytes.
    public private(set) var output: [UInt8]
    public private(set) var outputCount = 0

    /// Streams at `level` (1–9) and room for the compressed form of up to `inputBytesMax` bytes;
    /// nil when zlib cannot set them up.
    public init?(level: Int, inputBytesMax: Int) {
        guard let gzip = sluice_deflater_new(1, Int32(level)) else { return nil }
        guard let zlib = sluice_deflater_new(0, Int32(level)) else {
            sluice_deflater_free(gzip)
            return nil
        }
        self.gzip = gzip
        self.zlib = zlib
        output = [UInt8](repeating: 0, count: max(sluice_deflate_bound(gzip, inputBytesMax),
                                                  sluice_deflate_bound(zlib, inputBytesMax)))
    }

    deinit {
        sluice_deflater_free(gzip)
        sluice_deflater_free(zlib)
    }

    /// Compresses `input` with `coding` (gzip or deflate) into `output`; false when it is
    /// larger than the room set up for.
    public func compress(_ input: Span<UInt8>, as coding: ContentCoding) -> Bool {
        let stream: UnsafeMutableRawPointer
        switch coding {
        case .gzip: stream = gzip
        case .deflate: stream = zlib
        case .identity: return false
        }
        let written = input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                sluice_deflate(stream, input.baseAddress, input.count, output.baseAddress, output.count)
            }
        }
        outputCount = max(0, written)
        return written >= 0
    }
}

/// Whole-body gzip and deflate decoding for one worker, into room of a fixed size: a body that
/// decodes to more is refused, never grown into (a small body can decode to gigabytes).
public final class Decompressor {
    private let framed: UnsafeMutableRawPointer
    private let raw: UnsafeMutableRawPointer
    /// The last decoded body: its first `outputCount` bytes.
    public private(set) var output: [UInt8]
    public private(set) var outputCount = 0

    public enum Outcome: Equatable {
        case decoded
        /// Not a stream of the coding named (or bytes after its end).
        case malformed
        /// Decodes to more than `outputBytesMax`.
        case tooLarge
    }

    public init?(outputBytesMax: Int) {
        guard let framed = sluice_inflater_new(0) else { return nil }
        guard let raw = sluice_inflater_new(1) else {
            sluice_inflater_free(framed)
            return nil
        }
        self.framed = framed
        self.raw = raw
        output = [UInt8](repeating: 0, count: outputBytesMax)
    }

    deinit {
        sluice_inflater_free(framed)
        sluice_inflater_free(raw)
    }

    private func inflate(_ input: Span<UInt8>, with stream: UnsafeMutableRawPointer) -> Int {
        input.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { output in
                sluice_inflate(stream, input.baseAddress, input.count, output.baseAddress, output.count)
            }
        }
    }

    /// Decodes `input`, sent with `coding`, into `output`. A gzip body must carry gzip's
    /// header; a deflate body may be zlib-framed (as RFC 9110 defines it) or a bare deflate
    /// stream (as some clients send it), told apart by zlib's header check.
    public func decompress(_ input: Span<UInt8>, _ coding: ContentCoding) -> Outcome {
        let stream: UnsafeMutableRawPointer
        switch coding {
        case .identity: return .malformed
        case .gzip:
            guard input.count >= 2, input[0] == 0x1F, input[1] == 0x8B else { return .malformed }
            stream = framed
        case .deflate:
            let zlibHeader = input.count >= 2 && input[0] & 0x0F == 8 && (Int(input[0]) << 8 | Int(input[1])) % 31 == 0
            stream = zlibHeader ? framed : raw
        }
        var written = inflate(input, with: stream)
        // A bare deflate stream passes zlib's header check one time in about 500: tried bare too.
        if written == -1 && coding == .deflate && stream == framed { written = inflate(input, with: raw) }
        outputCount = max(0, written)
        switch written {
        case -2: return .tooLarge
        case ..<0: return .malformed
        default: return .decoded
        }
    }
}
