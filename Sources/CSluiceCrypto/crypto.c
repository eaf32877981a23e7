// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but EVP allocates a
// context per call; the low-level calls hash in a stack context.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CSluiceCrypto.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>
#include <string.h>

void sluice_sha256(const void *data, size_t length, uint8_t *digest) {
    SHA256_CTX context;
    SHA256_Init(&context);
    SHA256_Update(&context, data, length);
    SHA256_Final(digest, &context);
}

void sluice_hmac_sha256(const void *key, size_t key_length, const void *data, size_t length, uint8_t *mac) {
    uint8_t block[64];
    uint8_t inner[32];
    memset(block, 0, sizeof block);
    if (key_length > sizeof block) {
        sluice_sha256(key, key_length, block);
    } else if (key_length > 0) {
        memcpy(block, key, key_length);
    }
    uint8_t pad[64];
    SHA256_CTX context;
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x36;
    SHA256_Init(&context);
    SHA256_Update(&context, pad, sizeof pad);
    SHA256_Update(&context, data, length);
    SHA256_Final(inner, &context);
    for (int i = 0; i < 64; i++) pad[i] = block[i] ^ 0x5c;
    SHA256_Init(&context);
    SHA256_Update(&context, pad, sizeof pad);
    SHA256_Update(&context, inner, sizeof inner);
    SHA256_Final(mac, &context);
}

static EVP_PKEY *key_from_params(const char *type, OSSL_PARAM_BLD *builder) {
    EVP_PKEY *key = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(builder);
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && context && EVP_PKEY_fromdata_init(context) == 1) {
        if (EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) key = NULL;
    }
    EVP_PKEY_CTX_free(context);
    OSSL_PARAM_free(params);
    return key;
}

void *sluice_rsa_public_key(const uint8_t *modulus, size_t modulus_length, const uint8_t *exponent,
                            size_t exponent_length) {
    BIGNUM *n = BN_bin2bn(modulus, (int)modulus_length, NULL);
    BIGNUM *e = BN_bin2bn(exponent, (int)exponent_length, NULL);
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    EVP_PKEY *key = NULL;
    if (n && e && builder && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, e)) {
        key = key_from_params("RSA", builder);
    }
    OSSL_PARAM_BLD_free(builder);
    BN_free(n);
    BN_free(e);
    return key;
}

void *sluice_ec_public_key(int curve_bits, const uint8_t *x, size_t x_length, const uint8_t *y, size_t y_length) {
    const char *group;
    size_t size;
    switch (curve_bits) {
    case 256: group = "prime256v1"; size = 32; break;
    case 384: group = "secp384r1"; size = 48; break;
    case 521: group = "secp521r1"; size = 66; break;
    default: return NULL;
    }
    if (x_length != size || y_length != size) return NULL;
    uint8_t point[1 + 2 * 66];
    point[0] = 0x04;
    memcpy(point + 1, x, size);
    memcpy(point + 1 + size, y, size);
    OSSL_PARAM_BLD *builder = OSSL_PARAM_BLD_new();
    EVP_PKEY *key = NULL;
    if (builder && OSSL_PARAM_BLD_push_utf8_string(builder, OSSL_PKEY_PARAM_GROUP_NAME, group, 0)
        && OSSL_PARAM_BLD_push_octet_string(builder, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * size)) {
        key = key_from_params("EC", builder);
    }
    OSSL_PARAM_BLD_free(builder);
    return key;
}

int sluice_public_key_bits(void *key) { return EVP_PKEY_get_bits((EVP_PKEY *)key); }

void sluice_public_key_free(void *key) { EVP_PKEY_free((EVP_PKEY *)key); }

int sluice_verify(void *key, int ec, int digest_bits, const uint8_t *data, size_t length, const uint8_t *signature,
                  size_t signature_length) {
    const EVP_MD *digest;
    switch (digest_bits) {
    case 256: digest = EVP_sha256(); break;
    case 384: digest = EVP_sha384(); break;
    case 512: digest = EVP_sha512(); break;
    default: return -1;
    }
    unsigned char *der = NULL;
    int der_length = 0;
    const uint8_t *checked = signature;
    size_t checked_length = signature_length;
    if (ec) {
        // JWS (RFC 7518 §3.4) writes r and s side by side, each the curve's size; OpenSSL wants DER.
        size_t half = (size_t)(EVP_PKEY_get_bits((EVP_PKEY *)key) + 7) / 8;
        if (signature_length != 2 * half) return 0;
        ECDSA_SIG *pair = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(signature, (int)half, NULL);
        BIGNUM *s = BN_bin2bn(signature + half, (int)half, NULL);
        if (!pair || !r || !s || ECDSA_SIG_set0(pair, r, s) != 1) {
            ECDSA_SIG_free(pair);
            BN_free(r);
            BN_free(s);
            return -1;
        }
        der_length = i2d_ECDSA_SIG(pair, &der);
        ECDSA_SIG_free(pair);
        if (der_length <= 0) return -1;
        checked = der;
        checked_length = (size_t)der_length;
    }
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    int result = -1;
    if (context && EVP_DigestVerifyInit(context, NULL, digest, NULL, (EVP_PKEY *)key) == 1) {
        result = EVP_DigestVerify(context, checked, checked_length, data, length) == 1 ? 1 : 0;
    }
    EVP_MD_CTX_free(context);
    OPENSSL_free(der);
    return result;
}
