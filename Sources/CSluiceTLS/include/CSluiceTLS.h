// OpenSSL for Sluice's TLS module: what Swift cannot import directly (macros, variadic calls) and
// the few multi-step set-ups that read better in C. The per-record calls (SSL_read, SSL_write, the
// BIO pair's zero-copy reads) are OpenSSL's own functions and are called from Swift as they are.
#ifndef CSLUICE_TLS_H
#define CSLUICE_TLS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>

// Protocol versions a server context accepts: TLS1_VERSION ... TLS1_3_VERSION.
// `ciphers12`: the TLS 1.2 (and older) cipher list; TLS 1.3 suites are OpenSSL's defaults.
// Certificate chain and key are PEM in memory (the leaf first, then its intermediates); a NULL
// chain makes a context without a certificate (a listener that serves only its domains' names).
// `session_context`: sessions resume only where it is the same (1 to 32 bytes).
// Returns the context, or NULL with a reason in `error`.
SSL_CTX *sluice_tls_server_context(const char *chain_pem, size_t chain_length,
                                   const char *key_pem, size_t key_length,
                                   int min_version, int max_version, const char *ciphers12,
                                   const char *session_context, char *error, int error_capacity);

// Mutual TLS: a client must present a certificate that chains to one in `truststore_pem`; the
// handshake of one that does not is refused. 0, or -1 with a reason in `error`.
int sluice_tls_require_client_certificates(SSL_CTX *context, const char *truststore_pem, size_t length,
                                           char *error, int error_capacity);

// How many certificates a truststore (PEM) holds; -1 with a reason when it holds none or does
// not parse.
int sluice_tls_truststore_count(const char *pem, size_t length, char *error, int error_capacity);

// The custom domain names a worker's TLS listeners serve, each with its own context: a
// handshake's server name (SNI) selects one, with its certificate, protocol versions, ciphers
// and client-certificate requirement. Made once per worker; lives as long as it.
typedef struct sluice_tls_domains sluice_tls_domains;
sluice_tls_domains *sluice_tls_domains_new(int count);
void sluice_tls_domains_free(sluice_tls_domains *domains);
// `name` lowercase, or "*.suffix"; `ciphers12` as for the context. 0 or -1 (out of memory).
int sluice_tls_domains_set(sluice_tls_domains *domains, int index, const char *name, SSL_CTX *context,
                           const char *ciphers12);
// Makes `listener` select among `domains` by server name; a handshake for any other name (or
// none) keeps the listener's own context, or is refused (unrecognized_name) when `refuse_unknown`.
int sluice_tls_serve_domains(SSL_CTX *listener, sluice_tls_domains *domains, int refuse_unknown);
// The domain a handshake selected (its index), or -1.
int sluice_tls_selected_domain(SSL *ssl);

// What `check` says about a certificate chain and its key (PEM in memory): 0 when they load and
// the key matches the leaf, with the leaf's notAfter (seconds since the epoch) and how many
// certificates the chain holds; -1 with a reason in `error` otherwise.
int sluice_tls_inspect(const char *chain_pem, size_t chain_length, const char *key_pem, size_t key_length,
                       int64_t *not_after, int *chain_count, char *error, int error_capacity);

// A server-side connection over a BIO pair: OpenSSL's side is attached to the SSL; the network
// side is returned in `network`. `inbound` and `outbound` bound the bytes each direction holds.
// NULL on failure (out of memory).
SSL *sluice_tls_accepting(SSL_CTX *context, size_t inbound, size_t outbound, BIO **network);

// Session-ticket keys every worker shares: a region of shared memory the supervisor maps before it
// forks. New tickets are made with keys[current % 3]; tickets made with the previous key are still
// taken (and renewed). Rotation writes the key after the current one, then advances `current`.
typedef struct {
    uint8_t name[16];
    uint8_t aes[32];
    uint8_t hmac[32];
} sluice_ticket_key;

typedef struct {
    uint64_t current;
    sluice_ticket_key keys[3];
} sluice_ticket_keys;

// Fills keys[0] with random bytes and sets `current` to 0 (before any worker reads it). 0 or -1.
int sluice_tls_init_ticket_keys(sluice_ticket_keys *keys);
// Fills the next key and makes it current. 0 or -1 (no randomness: the keys stay as they were).
int sluice_tls_rotate_ticket_keys(sluice_ticket_keys *keys);
// Makes `context` issue and take tickets with the shared keys; sessions live `lifetime` seconds.
int sluice_tls_share_ticket_keys(SSL_CTX *context, const sluice_ticket_keys *keys, long lifetime);

// The client certificate of a mutual-TLS handshake, as API Gateway's
// $context.identity.clientCert has it, written one field after another into `out`: subjectDN and
// issuerDN (RFC 2253), serialNumber (hex bytes joined by ':'), validity.notBefore and notAfter
// ("May 28 12:30:02 2019 GMT"), and the PEM; each field's length in `lengths`. Returns the bytes
// written, 0 without a client certificate, -1 when `capacity` is too small.
int sluice_tls_client_certificate(SSL *ssl, char *out, int capacity, int lengths[6]);

// A client context for HTTPS upstreams: TLS 1.2 and 1.3, ALPN http/1.1, certificates verified
// against `ca_pem` (PEM CA certificates) or, when it is NULL, the system's CA bundle; `verify` 0
// checks nothing (API Gateway's tlsConfig.insecureSkipVerification). NULL with a reason in `error`.
SSL_CTX *sluice_tls_client_context(const char *ca_pem, size_t ca_length, int verify, char *error, int error_capacity);

// Where a worker keeps the last session of each upstream, to resume it on the next connection.
SSL_SESSION **sluice_tls_session_slots(int count);

// A client-side connection over a BIO pair (as `sluice_tls_accepting`), with SNI `server_name`
// (left out for an IP address), the certificate checked against that name when `verify_name`,
// and the session of `*session_slot` resumed; new sessions are kept there. NULL on failure.
SSL *sluice_tls_connecting(SSL_CTX *context, size_t inbound, size_t outbound, BIO **network,
                           const char *server_name, int verify_name, SSL_SESSION **session_slot);

// Why the peer's certificate was not accepted ("certificate has expired"), or NULL when it was.
const char *sluice_tls_verify_failure(SSL *ssl);

// SSL_get_error's classes, as Sluice acts on them.
enum {
    SLUICE_TLS_OK = 0,
    SLUICE_TLS_WANT_READ = 1,
    SLUICE_TLS_WANT_WRITE = 2,
    SLUICE_TLS_CLOSED = 3,   // the peer sent close_notify
    SLUICE_TLS_FAILED = 4,   // a protocol error or a refused handshake: close
};
int sluice_tls_error_class(SSL *ssl, int result);

// The reason for the last failure on this thread's OpenSSL error queue (and clears the queue).
void sluice_tls_last_error(char *error, int error_capacity);

// The negotiated version and cipher names ("TLSv1.3", "TLS_AES_128_GCM_SHA256"): static strings.
const char *sluice_tls_version_name(SSL *ssl);
const char *sluice_tls_cipher_name(SSL *ssl);
int sluice_tls_session_reused(SSL *ssl);
// The negotiated protocol version (0x0303 for TLS 1.2) and cipher (its IANA number, 0x1301 for
// TLS_AES_128_GCM_SHA256).
int sluice_tls_version_id(SSL *ssl);
int sluice_tls_cipher_id(SSL *ssl);

#endif
