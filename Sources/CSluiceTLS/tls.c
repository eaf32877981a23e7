#include "CSluiceTLS.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

static void write_reason(char *error, int capacity, const char *what) {
    if (capacity <= 0) return;
    unsigned long code = ERR_peek_last_error();
    char detail[256] = "";
    if (code != 0) ERR_error_string_n(code, detail, sizeof detail);
    ERR_clear_error();
    if (detail[0] != 0) {
        snprintf(error, (size_t)capacity, "%s (%s)", what, detail);
    } else {
        snprintf(error, (size_t)capacity, "%s", what);
    }
}

void sluice_tls_last_error(char *error, int error_capacity) {
    write_reason(error, error_capacity, "TLS error");
}

// Reads every certificate of a PEM chain; the leaf first. Returns how many, 0 on none.
static int read_chain(const char *pem, size_t length, X509 **leaf, STACK_OF(X509) *rest) {
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return 0;
    int count = 0;
    for (;;) {
        X509 *certificate = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (certificate == NULL) break;
        if (count == 0) {
            *leaf = certificate;
        } else if (rest == NULL || !sk_X509_push(rest, certificate)) {
            X509_free(certificate);
        }
        count++;
    }
    // The loop ends on "no start line" at the end of the text: not an error.
    unsigned long last = ERR_peek_last_error();
    if (ERR_GET_REASON(last) == PEM_R_NO_START_LINE) ERR_clear_error();
    BIO_free(bio);
    return count;
}

static EVP_PKEY *read_key(const char *pem, size_t length) {
    BIO *bio = BIO_new_mem_buf(pem, (int)length);
    if (bio == NULL) return NULL;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return key;
}

int sluice_tls_inspect(const char *chain_pem, size_t chain_length, const char *key_pem, size_t key_length,
                       int64_t *not_after, int *chain_count, char *error, int error_capacity) {
    X509 *leaf = NULL;
    STACK_OF(X509) *rest = sk_X509_new_null();
    int count = read_chain(chain_pem, chain_length, &leaf, rest);
    int status = -1;
    EVP_PKEY *key = NULL;
    if (count == 0 || leaf == NULL) {
        write_reason(error, error_capacity, "no PEM certificate could be read");
        goto done;
    }
    if (ERR_peek_error() != 0) {
        write_reason(error, error_capacity, "the certificate chain does not parse");
        goto done;
    }
    key = read_key(key_pem, key_length);
    if (key == NULL) {
        write_reason(error, error_capacity, "no PEM private key could be read");
        goto done;
    }
    if (X509_check_private_key(leaf, key) != 1) {
        write_reason(error, error_capacity, "the private key does not match the certificate (the first in the chain)");
        goto done;
    }
    const ASN1_TIME *end = X509_get0_notAfter(leaf);
    struct tm when;
    if (end == NULL || ASN1_TIME_to_tm(end, &when) != 1) {
        write_reason(error, error_capacity, "the certificate's notAfter cannot be read");
        goto done;
    }
    *not_after = (int64_t)timegm(&when);
    *chain_count = count;
    status = 0;
done:
    EVP_PKEY_free(key);
    X509_free(leaf);
    sk_X509_pop_free(rest, X509_free);
    return status;
}

static const unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

// ALPN: Sluice speaks HTTP/1.1. A client that offers ALPN without it is refused (RFC 7301 §3.2);
// one that offers none is served.
static int select_protocol(SSL *ssl, const unsigned char **out, unsigned char *out_length,
                           const unsigned char *offered, unsigned int offered_length, void *argument) {
    (void)ssl;
    (void)argument;
    unsigned char *selected = NULL;
    if (SSL_select_next_proto(&selected, out_length, http11, sizeof http11, offered, offered_length)
        != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX *sluice_tls_server_context(const char *chain_pem, size_t chain_length,
                                   const char *key_pem, size_t key_length,
                                   int min_version, int max_version, const char *ciphers12,
                                   const char *session_context, char *error, int error_capacity) {
    SSL_CTX *context = SSL_CTX_new(TLS_server_method());
    X509 *leaf = NULL;
    STACK_OF(X509) *rest = sk_X509_new_null();
    EVP_PKEY *key = NULL;
    if (context == NULL || rest == NULL) {
        write_reason(error, error_capacity, "cannot create a TLS context");
        goto failed;
    }
    if (chain_pem != NULL && read_chain(chain_pem, chain_length, &leaf, rest) == 0) {
        write_reason(error, error_capacity, "no PEM certificate could be read");
        goto failed;
    }
    if (chain_pem != NULL && (key = read_key(key_pem, key_length)) == NULL) {
        write_reason(error, error_capacity, "no PEM private key could be read");
        goto failed;
    }
    if (chain_pem != NULL && (SSL_CTX_use_certificate(context, leaf) != 1 || SSL_CTX_use_PrivateKey(context, key) != 1
                              || SSL_CTX_check_private_key(context) != 1)) {
        write_reason(error, error_capacity, "the private key does not match the certificate");
        goto failed;
    }
    if (SSL_CTX_set_session_id_context(context, (const unsigned char *)session_context,
                                       (unsigned int)strlen(session_context)) != 1) {
        write_reason(error, error_capacity, "cannot set the session context");
        goto failed;
    }
    while (sk_X509_num(rest) > 0) {
        X509 *intermediate = sk_X509_shift(rest);
        // The context takes ownership of what it adds.
        if (SSL_CTX_add_extra_chain_cert(context, intermediate) != 1) {
            X509_free(intermediate);
            write_reason(error, error_capacity, "cannot add an intermediate certificate");
            goto failed;
        }
    }
    if (SSL_CTX_set_min_proto_version(context, min_version) != 1
        || SSL_CTX_set_max_proto_version(context, max_version) != 1) {
        write_reason(error, error_capacity, "cannot set the protocol versions");
        goto failed;
    }
    if (ciphers12 != NULL && ciphers12[0] != 0 && SSL_CTX_set_cipher_list(context, ciphers12) != 1) {
        write_reason(error, error_capacity, "cannot set the cipher list");
        goto failed;
    }
    // No renegotiation (TLS 1.2 and older), the server's cipher order, no compression.
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE
                        | SSL_OP_NO_COMPRESSION);
    // Read and write buffers go back to OpenSSL's free list while a connection is idle.
    SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(context, select_protocol, NULL);
    X509_free(leaf);
    EVP_PKEY_free(key);
    sk_X509_pop_free(rest, X509_free);
    return context;
failed:
    X509_free(leaf);
    EVP_PKEY_free(key);
    sk_X509_pop_free(rest, X509_free);
    SSL_CTX_free(context);
    return NULL;
}

// A session of `context` over a new BIO pair: the inner BIO's buffer holds what OpenSSL writes
// (outbound), the outer one's what the network side writes (inbound); the outer is returned.
static SSL *paired_session(SSL_CTX *context, size_t inbound, size_t outbound, BIO **network) {
    SSL *ssl = SSL_new(context);
    if (ssl == NULL) return NULL;
    BIO *inner = NULL;
    BIO *outer = NULL;
    if (BIO_new_bio_pair(&inner, outbound, &outer, inbound) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_bio(ssl, inner, inner);
    *network = outer;
    return ssl;
}

SSL *sluice_tls_accepting(SSL_CTX *context, size_t inbound, size_t outbound, BIO **network) {
    SSL *ssl = paired_session(context, inbound, outbound, network);
    if (ssl != NULL) SSL_set_accept_state(ssl);
    return ssl;
}

int sluice_tls_error_class(SSL *ssl, int result) {
    switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_NONE: return SLUICE_TLS_OK;
    case SSL_ERROR_WANT_READ: return SLUICE_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return SLUICE_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return SLUICE_TLS_CLOSED;
    default: return SLUICE_TLS_FAILED;
    }
}

const char *sluice_tls_version_name(SSL *ssl) { return SSL_get_version(ssl); }

const char *sluice_tls_cipher_name(SSL *ssl) { return SSL_get_cipher_name(ssl); }

int sluice_tls_session_reused(SSL *ssl) { return SSL_session_reused(ssl); }

int sluice_tls_init_ticket_keys(sluice_ticket_keys *keys) {
    memset(keys, 0, sizeof *keys);
    if (RAND_bytes((unsigned char *)&keys->keys[0], (int)sizeof keys->keys[0]) != 1) return -1;
    __atomic_store_n(&keys->current, 0, __ATOMIC_RELEASE);
    return 0;
}

int sluice_tls_rotate_ticket_keys(sluice_ticket_keys *keys) {
    uint64_t current = __atomic_load_n(&keys->current, __ATOMIC_ACQUIRE);
    sluice_ticket_key *next = &keys->keys[(current + 1) % 3];
    // The slot written is the one before the previous key: no worker uses it any more.
    if (RAND_bytes((unsigned char *)next, (int)sizeof *next) != 1) return -1;
    __atomic_store_n(&keys->current, current + 1, __ATOMIC_RELEASE);
    return 0;
}

static int ticket_keys_index = -1;

static int ticket_key_callback(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher,
                               EVP_MAC_CTX *mac, int encrypt) {
    const sluice_ticket_keys *keys = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticket_keys_index);
    if (keys == NULL) return -1;
    uint64_t current = __atomic_load_n(&keys->current, __ATOMIC_ACQUIRE);
    const sluice_ticket_key *key = NULL;
    if (encrypt) {
        key = &keys->keys[current % 3];
        memcpy(name, key->name, 16);
        if (RAND_bytes(iv, 16) != 1) return -1;
        if (EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, key->aes, iv) != 1) return -1;
    } else {
        const sluice_ticket_key *previous = &keys->keys[(current + 2) % 3];
        if (memcmp(name, keys->keys[current % 3].name, 16) == 0) {
            key = &keys->keys[current % 3];
        } else if (current > 0 && memcmp(name, previous->name, 16) == 0) {
            key = previous;
        } else {
            return 0;  // unknown or expired: a full handshake
        }
        if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), NULL, key->aes, iv) != 1) return -1;
    }
    OSSL_PARAM parameters[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key->hmac, sizeof key->hmac),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(mac, parameters) != 1) return -1;
    // A resumed session always gets a new ticket (2: "renew"): TLS 1.3 clients use a ticket
    // once (RFC 8446 §C.4), and OpenSSL sends none after a resumption told only "valid" (1).
    return encrypt ? 1 : 2;
}

int sluice_tls_share_ticket_keys(SSL_CTX *context, const sluice_ticket_keys *keys, long lifetime) {
    if (ticket_keys_index < 0) {
        ticket_keys_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (ticket_keys_index < 0) return -1;
    }
    if (SSL_CTX_set_ex_data(context, ticket_keys_index, (void *)keys) != 1) return -1;
    if (SSL_CTX_set_tlsext_ticket_key_evp_cb(context, ticket_key_callback) != 1) return -1;
    // Tickets carry the sessions: no server-side cache to fill, per worker, that another worker
    // could not read.
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_timeout(context, lifetime);
    return 0;
}

int sluice_tls_truststore_count(const char *pem, size_t length, char *error, int error_capacity) {
    X509 *first = NULL;
    STACK_OF(X509) *rest = sk_X509_new_null();
    int count = read_chain(pem, length, &first, rest);
    X509_free(first);
    sk_X509_pop_free(rest, X509_free);
    if (count == 0) {
        write_reason(error, error_capacity, "no PEM certificate could be read");
        return -1;
    }
    return count;
}

int sluice_tls_require_client_certificates(SSL_CTX *context, const char *truststore_pem, size_t length,
                                           char *error, int error_capacity) {
    X509 *first = NULL;
    STACK_OF(X509) *rest = sk_X509_new_null();
    int count = read_chain(truststore_pem, length, &first, rest);
    X509_STORE *store = SSL_CTX_get_cert_store(context);
    STACK_OF(X509_NAME) *names = sk_X509_NAME_new_null();
    int status = -1;
    if (count == 0 || names == NULL) {
        write_reason(error, error_capacity, "no PEM certificate could be read from the truststore");
        goto done;
    }
    if (sk_X509_unshift(rest, first) == 0) goto done;
    first = NULL;
    for (int i = 0; i < sk_X509_num(rest); i++) {
        X509 *authority = sk_X509_value(rest, i);
        if (X509_STORE_add_cert(store, authority) != 1) {
            write_reason(error, error_capacity, "cannot add a truststore certificate");
            goto done;
        }
        // The names a client is told to pick its certificate by (CertificateRequest).
        X509_NAME *name = X509_NAME_dup(X509_get_subject_name(authority));
        if (name == NULL || !sk_X509_NAME_push(names, name)) {
            X509_NAME_free(name);
            goto done;
        }
    }
    SSL_CTX_set_client_CA_list(context, names);
    names = NULL;
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    status = 0;
done:
    X509_free(first);
    sk_X509_pop_free(rest, X509_free);
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return status;
}

struct sluice_tls_domain_entry {
    char name[256];
    SSL_CTX *context;
    char *ciphers12;
};

struct sluice_tls_domains {
    int count;
    struct sluice_tls_domain_entry entries[];
};

typedef struct {
    sluice_tls_domains *domains;
    int refuse_unknown;
} sluice_tls_listener;

static int selected_domain_index = -1;

sluice_tls_domains *sluice_tls_domains_new(int count) {
    sluice_tls_domains *domains = calloc(1, sizeof *domains + (size_t)count * sizeof domains->entries[0]);
    if (domains != NULL) domains->count = count;
    return domains;
}

void sluice_tls_domains_free(sluice_tls_domains *domains) {
    if (domains == NULL) return;
    for (int i = 0; i < domains->count; i++) free(domains->entries[i].ciphers12);
    free(domains);
}

int sluice_tls_domains_set(sluice_tls_domains *domains, int index, const char *name, SSL_CTX *context,
                           const char *ciphers12) {
    if (index < 0 || index >= domains->count || strlen(name) >= sizeof domains->entries[0].name) return -1;
    struct sluice_tls_domain_entry *entry = &domains->entries[index];
    snprintf(entry->name, sizeof entry->name, "%s", name);
    entry->context = context;
    entry->ciphers12 = strdup(ciphers12);
    return entry->ciphers12 == NULL ? -1 : 0;
}

// The host_name of a server_name extension (RFC 6066 §3), lowercased into `name`; 0 when there is none.
static int server_name(const unsigned char *extension, size_t length, char *name, size_t capacity) {
    if (length < 5) return 0;
    size_t list = ((size_t)extension[0] << 8) | extension[1];
    if (list + 2 != length || extension[2] != TLSEXT_NAMETYPE_host_name) return 0;
    size_t count = ((size_t)extension[3] << 8) | extension[4];
    if (count == 0 || count + 5 > length || count >= capacity) return 0;
    for (size_t i = 0; i < count; i++) {
        unsigned char c = extension[5 + i];
        if (c == 0) return 0;
        name[i] = (char)((c >= 'A' && c <= 'Z') ? c + 32 : c);
    }
    name[count] = 0;
    return 1;
}

static int lookup_domain(const sluice_tls_domains *domains, const char *name) {
    for (int i = 0; i < domains->count; i++) {
        if (strcmp(domains->entries[i].name, name) == 0) return i;
    }
    // A wildcard covers one label: a.example.com under *.example.com, not a.b.example.com.
    const char *dot = strchr(name, '.');
    if (dot == NULL || dot == name) return -1;
    for (int i = 0; i < domains->count; i++) {
        const char *pattern = domains->entries[i].name;
        if (pattern[0] == '*' && pattern[1] == '.' && strcmp(pattern + 1, dot) == 0) return i;
    }
    return -1;
}

static int select_domain(SSL *ssl, int *alert, void *argument) {
    const sluice_tls_listener *listener = argument;
    const unsigned char *extension = NULL;
    size_t length = 0;
    char name[256];
    int index = -1;
    if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &extension, &length) == 1
        && server_name(extension, length, name, sizeof name)) {
        index = lookup_domain(listener->domains, name);
    }
    if (index < 0) {
        if (!listener->refuse_unknown) return SSL_CLIENT_HELLO_SUCCESS;
        *alert = SSL_AD_UNRECOGNIZED_NAME;
        return SSL_CLIENT_HELLO_ERROR;
    }
    const struct sluice_tls_domain_entry *entry = &listener->domains->entries[index];
    // The domain's context: its certificate, session context (sessions do not cross domains),
    // and then what SSL_set_SSL_CTX does not carry over by itself.
    if (SSL_set_SSL_CTX(ssl, entry->context) != entry->context
        || SSL_set_min_proto_version(ssl, SSL_CTX_get_min_proto_version(entry->context)) != 1
        || SSL_set_cipher_list(ssl, entry->ciphers12) != 1) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_CLIENT_HELLO_ERROR;
    }
    SSL_set_options(ssl, SSL_CTX_get_options(entry->context));
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(entry->context), NULL);
    SSL_set_ex_data(ssl, selected_domain_index, (void *)(intptr_t)(index + 1));
    return SSL_CLIENT_HELLO_SUCCESS;
}

int sluice_tls_serve_domains(SSL_CTX *listener_context, sluice_tls_domains *domains, int refuse_unknown) {
    if (selected_domain_index < 0) {
        selected_domain_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
        if (selected_domain_index < 0) return -1;
    }
    sluice_tls_listener *listener = malloc(sizeof *listener);
    if (listener == NULL) return -1;
    listener->domains = domains;
    listener->refuse_unknown = refuse_unknown;
    SSL_CTX_set_client_hello_cb(listener_context, select_domain, listener);
    return 0;
}

int sluice_tls_selected_domain(SSL *ssl) {
    if (selected_domain_index < 0) return -1;
    return (int)(intptr_t)SSL_get_ex_data(ssl, selected_domain_index) - 1;
}

// Appends what `bio` holds to `out` at `*used`; its length, or -1 when it does not fit.
static int take_bio(BIO *bio, char *out, int capacity, int *used) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    if (length < 0 || *used + length > capacity) return -1;
    memcpy(out + *used, data, (size_t)length);
    *used += (int)length;
    (void)BIO_reset(bio);
    return (int)length;
}

int sluice_tls_client_certificate(SSL *ssl, char *out, int capacity, int lengths[6]) {
    X509 *certificate = SSL_get0_peer_certificate(ssl);
    if (certificate == NULL) return 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL) return -1;
    int used = 0;
    int status = 0;
    X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
    if ((lengths[0] = take_bio(bio, out, capacity, &used)) < 0) status = -1;
    X509_NAME_print_ex(bio, X509_get_issuer_name(certificate), 0, XN_FLAG_RFC2253);
    if (status == 0 && (lengths[1] = take_bio(bio, out, capacity, &used)) < 0) status = -1;
    const ASN1_INTEGER *serial = X509_get0_serialNumber(certificate);
    for (int i = 0; status == 0 && i < serial->length; i++) {
        BIO_printf(bio, i == 0 ? "%02x" : ":%02x", serial->data[i]);
    }
    if (status == 0 && (lengths[2] = take_bio(bio, out, capacity, &used)) < 0) status = -1;
    ASN1_TIME_print(bio, X509_get0_notBefore(certificate));
    if (status == 0 && (lengths[3] = take_bio(bio, out, capacity, &used)) < 0) status = -1;
    ASN1_TIME_print(bio, X509_get0_notAfter(certificate));
    if (status == 0 && (lengths[4] = take_bio(bio, out, capacity, &used)) < 0) status = -1;
    PEM_write_bio_X509(bio, certificate);
    if (status == 0 && (lengths[5] = take_bio(bio, out, capacity, &used)) < 0) status = -1;
    BIO_free(bio);
    ERR_clear_error();
    return status < 0 ? -1 : used;
}

static int session_slot_index = -1;

// A client session (TLS 1.3: from a ticket the server sent after the handshake) replaces the
// upstream's last one.
static int keep_client_session(SSL *ssl, SSL_SESSION *session) {
    SSL_SESSION **slot = SSL_get_ex_data(ssl, session_slot_index);
    if (slot == NULL) return 0;
    if (*slot != NULL) SSL_SESSION_free(*slot);
    *slot = session;
    return 1;  // the reference is kept
}

static const unsigned char offered_protocols[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

SSL_CTX *sluice_tls_client_context(const char *ca_pem, size_t ca_length, int verify, char *error, int error_capacity) {
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) {
        write_reason(error, error_capacity, "cannot create a TLS context");
        return NULL;
    }
    if (session_slot_index < 0) session_slot_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
    SSL_CTX_set_options(context, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(context, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_protos(context, offered_protocols, sizeof offered_protocols);
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(context, keep_client_session);
    if (verify) {
        int loaded;
        if (ca_pem != NULL) {
            X509 *first = NULL;
            STACK_OF(X509) *rest = sk_X509_new_null();
            loaded = read_chain(ca_pem, ca_length, &first, rest) > 0;
            X509_STORE *store = SSL_CTX_get_cert_store(context);
            if (first != NULL && X509_STORE_add_cert(store, first) != 1) loaded = 0;
            for (int i = 0; loaded && i < sk_X509_num(rest); i++) {
                if (X509_STORE_add_cert(store, sk_X509_value(rest, i)) != 1) loaded = 0;
            }
            X509_free(first);
            sk_X509_pop_free(rest, X509_free);
        } else {
            loaded = SSL_CTX_set_default_verify_paths(context) == 1;
        }
        if (!loaded) {
            write_reason(error, error_capacity, "cannot load the CA certificates");
            SSL_CTX_free(context);
            return NULL;
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    } else {
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
    }
    return context;
}

SSL_SESSION **sluice_tls_session_slots(int count) {
    return calloc(count > 0 ? (size_t)count : 1, sizeof(SSL_SESSION *));
}

SSL *sluice_tls_connecting(SSL_CTX *context, size_t inbound, size_t outbound, BIO **network,
                           const char *server_name, int verify_name, SSL_SESSION **session_slot) {
    SSL *ssl = paired_session(context, inbound, outbound, network);
    if (ssl == NULL) return NULL;
    SSL_set_connect_state(ssl);
    // SNI carries a host name, never an address (RFC 6066 §3).
    ASN1_OCTET_STRING *address = a2i_IPADDRESS(server_name);
    if (address == NULL) {
        SSL_set_tlsext_host_name(ssl, server_name);
        if (verify_name) SSL_set1_host(ssl, server_name);
    } else {
        ASN1_OCTET_STRING_free(address);
        if (verify_name) X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name);
    }
    ERR_clear_error();
    SSL_set_ex_data(ssl, session_slot_index, session_slot);
    if (*session_slot != NULL) SSL_set_session(ssl, *session_slot);
    return ssl;
}

const char *sluice_tls_verify_failure(SSL *ssl) {
    long result = SSL_get_verify_result(ssl);
    return result == X509_V_OK ? NULL : X509_verify_cert_error_string(result);
}

int sluice_tls_version_id(SSL *ssl) { return SSL_version(ssl); }

int sluice_tls_cipher_id(SSL *ssl) {
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    return cipher == NULL ? 0 : (int)(SSL_CIPHER_get_protocol_id(cipher) & 0xFFFF);
}
