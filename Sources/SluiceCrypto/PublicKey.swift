import CSluiceCrypto

/// A public key that checks signatures (libcrypto): an issuer's RSA or EC key from its JWKS.
/// Built when keys are loaded, never on the request path.
public final class PublicKey: @unchecked Sendable {
    public enum Kind: Sendable, Equatable {
        case rsa
        case ec
    }

    public let kind: Kind
    /// The RSA modulus's or the EC curve's size.
    public let bits: Int
    // An EVP_PKEY, owned; libcrypto's verification only reads it, so workers may share it.
    private let key: OpaquePointer

    /// An RSA key from its modulus and public exponent, big-endian; nil when they make none.
    public convenience init?(rsaModulus modulus: [UInt8], exponent: [UInt8]) {
        let key = modulus.withUnsafeBufferPointer { n in
            exponent.withUnsafeBufferPointer { e in
                sluice_rsa_public_key(n.baseAddress, n.count, e.baseAddress, e.count)
            }
        }
        guard let key else { return nil }
        self.init(kind: .rsa, key: OpaquePointer(key))
    }

    /// An EC key on P-256, P-384 or P-521 (`curveBits` 256, 384, 521) from its point's coordinates.
    public convenience init?(ecCurveBits curveBits: Int, x: [UInt8], y: [UInt8]) {
        let key = x.withUnsafeBufferPointer { x in
            y.withUnsafeBufferPointer { y in
                sluice_ec_public_key(Int32(curveBits), x.baseAddress, x.count, y.baseAddress, y.count)
            }
        }
        guard let key else { return nil }
        self.init(kind: .ec, key: OpaquePointer(key))
    }

    private init(kind: Kind, key: OpaquePointer) {
        self.kind = kind
        self.key = key
        bits = Int(sluice_public_key_bits(UnsafeMutableRawPointer(key)))
    }

    deinit { sluice_public_key_free(UnsafeMutableRawPointer(key)) }

    /// Whether `signature` signs `data` with this key over SHA-`digestBits` (256, 384, 512):
    /// RSASSA-PKCS1-v1_5 for an RSA key, ECDSA with JWS's `r || s` for an EC key.
    public func verifies(_ signature: Span<UInt8>, of data: Span<UInt8>, digestBits: Int) -> Bool {
        data.withUnsafeBufferPointer { data in
            signature.withUnsafeBufferPointer { signature in
                sluice_verify(UnsafeMutableRawPointer(key), kind == .ec ? 1 : 0, Int32(digestBits), data.baseAddress,
                              data.count, signature.baseAddress, signature.count) == 1
            }
        }
    }
}
