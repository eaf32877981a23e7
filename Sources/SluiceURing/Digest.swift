import CSluiceLinux

/// SHA-256 from libcrypto (Debian's libssl): API keys are configured as their SHA-256 and the
/// worker hashes the key each request presents, allocating nothing.
public enum SHA256 {
    /// The digest of `bytes` as four words, each read big-endian from 8 bytes of the digest, so
    /// that `words.0` holds its first 8 bytes in order.
    public static func digest(_ bytes: Span<UInt8>) -> (UInt64, UInt64, UInt64, UInt64) {
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        bytes.withUnsafeBufferPointer { input in
            withUnsafeMutableBytes(of: &words) { output in
                sluice_sha256(input.baseAddress, input.count, output.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        return (UInt64(bigEndian: words.0), UInt64(bigEndian: words.1), UInt64(bigEndian: words.2),
                UInt64(bigEndian: words.3))
    }
}
