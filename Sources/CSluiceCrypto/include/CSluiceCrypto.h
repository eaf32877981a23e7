#ifndef CSLUICE_CRYPTO_H
#define CSLUICE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

// libcrypto (Debian's libssl) for the gateway's own crypto: digests and MACs that allocate
// nothing (SigV4, API keys, token cache keys), and public keys that verify JWT signatures.

// SHA-256 of `length` bytes into `digest` (32 bytes).
void sluice_sha256(const void *data, size_t length, uint8_t *digest);
// HMAC-SHA256 (RFC 2104) of `data` under `key` into `mac` (32 bytes), on stack contexts.
void sluice_hmac_sha256(const void *key, size_t key_length, const void *data, size_t length, uint8_t *mac);

// A public key for signature checks (an EVP_PKEY), or NULL when the parts do not make one.
// RSA from its modulus and exponent (big-endian); EC from the curve (256, 384 or 521 bits)
// and the point's coordinates (big-endian, each the curve's size).
void *sluice_rsa_public_key(const uint8_t *modulus, size_t modulus_length, const uint8_t *exponent,
                            size_t exponent_length);
void *sluice_ec_public_key(int curve_bits, const uint8_t *x, size_t x_length, const uint8_t *y, size_t y_length);
// The key's size in bits (RSA modulus, EC curve).
int sluice_public_key_bits(void *key);
void sluice_public_key_free(void *key);
// 1 when `signature` signs `data` under `key`: RSASSA-PKCS1-v1_5 (`ec` 0) or ECDSA with the
// signature as JWS writes it, r and s side by side (`ec` 1), over SHA-`digest_bits` (256, 384,
// 512). 0 when it does not, -1 on a malformed input.
int sluice_verify(void *key, int ec, int digest_bits, const uint8_t *data, size_t length, const uint8_t *signature,
                  size_t signature_length);

#endif
