import CSluiceCrypto

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

extension SHA256 {
    /// The digest of `bytes` into `digest` (its 32 bytes replace what it held; with the capacity
    /// reserved, nothing is allocated).
    public static func digest(_ bytes: Span<UInt8>, into digest: inout [UInt8]) {
        digest.removeAll(keepingCapacity: true)
        digest.append(contentsOf: repeatElement(0, count: 32))
        bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { output in
                sluice_sha256(input.baseAddress, input.count, output.baseAddress!)
            }
        }
    }
}

/// HMAC-SHA256 (RFC 2104), allocating nothing: SigV4's key derivation and signature.
public enum HMACSHA256 {
    /// The MAC of `data` under `key` into `mac` (its 32 bytes replace what it held).
    public static func mac(key: Span<UInt8>, data: Span<UInt8>, into mac: inout [UInt8]) {
        var result: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        key.withUnsafeBufferPointer { key in
            data.withUnsafeBufferPointer { data in
                withUnsafeMutableBytes(of: &result) { output in
                    sluice_hmac_sha256(key.baseAddress, key.count, data.baseAddress, data.count,
                                       output.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        mac.removeAll(keepingCapacity: true)
        withUnsafeBytes(of: &result) { mac.append(contentsOf: $0) }
    }
}
