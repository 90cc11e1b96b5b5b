/*
 * crypto.h -- SHA-256 of changes, the store's Ed25519 key, batch signatures.
 *
 * Each store's log is a hash chain: change n carries in `prev` the SHA-256
 * of the encoded change n-1 (32 zero bytes for seq 1), so altering,
 * removing or reordering any entry breaks every hash after it.  A batch of
 * changes is signed once: the signature covers the store, the seq range
 * and the hash of its last change (the chain head), which through the
 * chain commits to every change in it.
 *
 * Keys are Ed25519 through OpenSSL 3 EVP.  The private key file is PEM
 * (PKCS#8), created with mode 0600; the public key is 32 raw bytes, shown
 * to people as 64 hex characters.
 */
#ifndef JP_CRYPTO_H
#define JP_CRYPTO_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define JP_HASH_LEN 32
#define JP_PUB_LEN 32
#define JP_SIG_LEN 64

/* SHA-256 of n bytes. */
int jp_sha256(const void *p, size_t n, uint8_t out[JP_HASH_LEN]);

/* An incremental SHA-256 (for state digests); opaque. */
typedef struct jp_sha jp_sha_t;
int jp_sha_new(jp_sha_t **self_p);
int jp_sha_update(jp_sha_t *self, const void *p, size_t n);
int jp_sha_final(jp_sha_t *self, uint8_t out[JP_HASH_LEN]); /* then reusable */
void jp_sha_destroy(jp_sha_t **self_p);

/* A private Ed25519 key; opaque. */
typedef struct jp_key jp_key_t;

/* Generate a new key. */
int jp_key_generate(jp_key_t **self_p, jp_err_t *err);
/* Write the private key to path (mode 0600, refuses to overwrite). */
int jp_key_save(const jp_key_t *self, const char *path, jp_err_t *err);
/* Read a private key; refuses a file readable by group or others. */
int jp_key_load(jp_key_t **self_p, const char *path, jp_err_t *err);
void jp_key_destroy(jp_key_t **self_p);
/* The 32-byte public key. */
void jp_key_public(const jp_key_t *self, uint8_t pub[JP_PUB_LEN]);
/* Sign n bytes. */
int jp_key_sign(const jp_key_t *self, const void *msg, size_t n, uint8_t sig[JP_SIG_LEN]);
/* 0 if sig is pub's signature of msg, JP_ESIG otherwise. */
int jp_sig_verify(const uint8_t pub[JP_PUB_LEN], const void *msg, size_t n,
                  const uint8_t sig[JP_SIG_LEN]);

/* The bytes a batch signature covers (fixed layout, 64 bytes):
 * "jipan-batch-1\0" (14) | store be16 | first seq be64 | last seq be64 |
 * head hash (32) -- see docs/FORMAT.md. */
#define JP_BATCH_MSG_LEN 64
size_t jp_batch_msg(uint16_t store, uint64_t first, uint64_t last,
                    const uint8_t head[JP_HASH_LEN], uint8_t out[JP_BATCH_MSG_LEN]);

/* The bytes a server receipt signature covers (same layout, 64 bytes):
 * "jipan-rcpt-1\0\0" (14) | store be16 | seq be64 | server_ms be64 |
 * head hash (32).  The distinct tags keep a receipt from ever reading as a
 * batch, and the reverse. */
#define JP_RECEIPT_MSG_LEN 64
size_t jp_receipt_msg(uint16_t store, uint64_t seq, uint64_t server_ms,
                      const uint8_t head[JP_HASH_LEN], uint8_t out[JP_RECEIPT_MSG_LEN]);

/* A secret file: written with mode 0600 and O_EXCL (never overwritten);
 * read only if no one but its owner may read it, at most max bytes, into
 * a malloc'd NUL-terminated *out (the caller cleanses and frees it). */
int jp_secret_write(const char *path, const void *data, size_t n, jp_err_t *err);
int jp_secret_read(const char *path, char **out, size_t *len, size_t max, jp_err_t *err);

/* Hex of n bytes into out[2n+1]; parse 2n hex characters (JP_EINVAL). */
void jp_hex(const uint8_t *p, size_t n, char *out);
int jp_unhex(const char *s, uint8_t *out, size_t n);
/* The value of one hex digit (either case), or -1. */
int jp_hexval(char c);

#endif
