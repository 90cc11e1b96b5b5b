/*
 * seal.h -- personal fields sealed under a per-person key, and the keyed
 * blind indexes that find them without their plaintext.
 *
 * Crypto-shredding (issue "A person's personal data can be erased"): the
 * personal fields of a customer (name, phone, ID number, birthday) and the
 * free text that can hold them (note, purpose) are kept in changes, states
 * and exports only sealed: encrypted and authenticated under a key of the
 * person's own, which lives outside the log (keyring.h).  Erasing the
 * person destroys the key; every byte of the log stays, so every hash
 * chain and signature still verifies, but nobody can read the fields any
 * more.
 *
 * A sealed value (JP_SEAL_OVERHEAD bytes more than the plaintext):
 *
 *   offset  bytes  content
 *   0       1      version, 0x01
 *   1       16     owner: the customer row whose key sealed it (an event's
 *                  note is sealed under its customer's key)
 *   17      12     nonce, random
 *   29      n      ciphertext: ChaCha20-Poly1305 (RFC 8439) of the value's
 *                  own canonical msgpack encoding (a str, or a date's int)
 *   29+n    16     tag
 *
 * The associated data binds the value to its place, so a sealed value
 * cannot be moved to another record or field and still open:
 *   "jipan-seal-1" NUL (13 bytes) | owner (16) | record id (16) | field u8
 *
 * Keys are 32 random bytes (OpenSSL's RAND_bytes); a nonce is random too,
 * which is safe for a key that seals a person's few fields over its life
 * (2^-32 collision odds only after some 2^32 seals of one key).
 *
 * A blind index is HMAC-SHA256 under a 32-byte secret of the node (never
 * in the log, never sent), over a domain byte and the normalised value
 * (E.164 phone, upper-case ID number, the name as written), cut to 16
 * bytes.  It answers "which rows have this phone" for the one who holds
 * the secret, and is a stranger's noise: indexes keep blind values, never
 * the plaintext.
 *
 * Every function is thread-safe and allocates nothing; plaintext buffers
 * are the caller's (cleanse them with jp_seal_cleanse when done).
 */
#ifndef JP_SEAL_H
#define JP_SEAL_H

#include "err.h"
#include "id.h"

#include <stddef.h>
#include <stdint.h>

#define JP_SEAL_KEY_LEN 32
#define JP_SEAL_VERSION 0x01
#define JP_SEAL_NONCE_LEN 12
#define JP_SEAL_TAG_LEN 16
#define JP_SEAL_HEAD_LEN (1 + 16 + JP_SEAL_NONCE_LEN)         /* 29 */
#define JP_SEAL_OVERHEAD (JP_SEAL_HEAD_LEN + JP_SEAL_TAG_LEN) /* 45 */
#define JP_BLIND_LEN 16
#define JP_BLIND_SECRET_LEN 32

/* A new random key (also used for a blind-index secret). */
int jp_seal_key_new(uint8_t key[JP_SEAL_KEY_LEN]);

/* Seal n bytes of pt (a value's canonical msgpack) for field `field` of
 * record `rec`, under owner's key.  Writes n + JP_SEAL_OVERHEAD bytes to
 * out (cap at least that: JP_ETOOBIG otherwise).  *outlen gets the
 * length.  JP_ECRYPTO if OpenSSL fails. */
int jp_seal(const uint8_t key[JP_SEAL_KEY_LEN], const jp_id_t *owner, const jp_id_t *rec,
            unsigned field, const void *pt, size_t n, uint8_t *out, size_t cap,
            size_t *outlen);

/* The owner a sealed value names (whose key opens it).  JP_ECORRUPT when
 * the bytes are not a sealed value of this version. */
int jp_seal_owner(const void *sealed, size_t n, jp_id_t *owner);

/* Open a sealed value of field `field` of record `rec`: the plaintext
 * (n - JP_SEAL_OVERHEAD bytes) into out.  JP_ECORRUPT, with why, when the
 * bytes are not a sealed value or do not open under key for that place
 * (a wrong key, another record or field, a changed byte); out is then
 * cleansed.  JP_ETOOBIG when cap is short. */
int jp_unseal(const uint8_t key[JP_SEAL_KEY_LEN], const jp_id_t *rec, unsigned field,
              const void *sealed, size_t n, uint8_t *out, size_t cap, size_t *outlen,
              jp_err_t *err);

/* What a blind index is of (its domain byte). */
typedef enum {
    JP_BLIND_PHONE = 1, /* E.164 phone */
    JP_BLIND_IDNUM = 2, /* ID number, upper case */
    JP_BLIND_NAME = 3,  /* full name as written */
} jp_blind_kind_t;

/* The blind index of n bytes of a normalised value under secret. */
int jp_blind(const uint8_t secret[JP_BLIND_SECRET_LEN], jp_blind_kind_t kind,
             const void *value, size_t n, uint8_t out[JP_BLIND_LEN]);

/* Overwrite n bytes with zeros in a way the compiler keeps. */
void jp_seal_cleanse(void *p, size_t n);

#endif
