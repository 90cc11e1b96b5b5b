/*
 * seal.c -- sealed personal fields (ChaCha20-Poly1305) and blind indexes
 * (HMAC-SHA256), on OpenSSL 3 EVP.
 *
 * Sealing sits on the import's and the merge's hot path (a few fields of
 * every customer), so the cipher is fetched once per process and each
 * thread keeps one cipher context that it re-initialises per value, as
 * crypto.c does for SHA-256.
 */
#include "seal.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <assert.h>
#include <pthread.h>
#include <string.h>

#define S_AAD_TAG "jipan-seal-1" /* and its NUL: 13 bytes */
#define S_AAD_LEN (13 + 16 + 16 + 1)

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *s_cipher;    /* ChaCha20-Poly1305, fetched once; NULL if none */
static EVP_MD *s_md;            /* SHA-256 for the HMAC */
static pthread_key_t s_ctx_key; /* each thread's reusable EVP_CIPHER_CTX */
static int s_ctx_key_ok;        /* 1 if s_ctx_key was created */

static void
s_ctx_free(void *ctx)
{
    EVP_CIPHER_CTX_free(ctx);
}

static void
s_init(void)
{
    s_cipher = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
    s_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    s_ctx_key_ok = pthread_key_create(&s_ctx_key, s_ctx_free) == 0;
}

/* This thread's cipher context, or NULL (no cipher, or out of memory). */
static EVP_CIPHER_CTX *
s_ctx(void)
{
    pthread_once(&s_once, s_init);
    if (!s_cipher || !s_ctx_key_ok)
        return NULL;
    EVP_CIPHER_CTX *ctx = pthread_getspecific(s_ctx_key);
    if (ctx)
        return ctx;
    if (!(ctx = EVP_CIPHER_CTX_new()))
        return NULL;
    if (pthread_setspecific(s_ctx_key, ctx) != 0) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void
s_aad(uint8_t aad[S_AAD_LEN], const uint8_t owner[16], const jp_id_t *rec, unsigned field)
{
    memcpy(aad, S_AAD_TAG, 13); /* the tag's NUL included */
    memcpy(aad + 13, owner, 16);
    memcpy(aad + 29, rec->b, 16);
    aad[45] = (uint8_t)field;
}

int
jp_seal_key_new(uint8_t key[JP_SEAL_KEY_LEN])
{
    if (RAND_bytes(key, JP_SEAL_KEY_LEN) != 1) {
        ERR_clear_error();
        return JP_ECRYPTO;
    }
    return 0;
}

int
jp_seal(const uint8_t key[JP_SEAL_KEY_LEN], const jp_id_t *owner, const jp_id_t *rec,
        unsigned field, const void *pt, size_t n, uint8_t *out, size_t cap,
        size_t *outlen)
{
    assert(key && owner && rec && (pt || n == 0) && out && outlen && field < 256);
    if (n > (size_t)INT32_MAX || cap < n + JP_SEAL_OVERHEAD)
        return JP_ETOOBIG;
    EVP_CIPHER_CTX *ctx = s_ctx();
    if (!ctx)
        return JP_ECRYPTO;
    uint8_t aad[S_AAD_LEN], *nonce = out + 17, *ct = out + JP_SEAL_HEAD_LEN;
    out[0] = JP_SEAL_VERSION;
    memcpy(out + 1, owner->b, 16);
    if (RAND_bytes(nonce, JP_SEAL_NONCE_LEN) != 1)
        goto fail;
    s_aad(aad, owner->b, rec, field);
    int len = 0;
    if (EVP_EncryptInit_ex2(ctx, s_cipher, key, nonce, NULL) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &len, aad, sizeof aad) != 1 ||
        (n && EVP_EncryptUpdate(ctx, ct, &len, pt, (int)n) != 1) ||
        EVP_EncryptFinal_ex(ctx, ct + n, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, JP_SEAL_TAG_LEN, ct + n) != 1)
        goto fail;
    *outlen = n + JP_SEAL_OVERHEAD;
    return 0;
fail:
    ERR_clear_error();
    OPENSSL_cleanse(out, cap < n + JP_SEAL_OVERHEAD ? cap : n + JP_SEAL_OVERHEAD);
    return JP_ECRYPTO;
}

int
jp_seal_owner(const void *sealed, size_t n, jp_id_t *owner)
{
    const uint8_t *s = sealed;
    if (n < JP_SEAL_OVERHEAD || s[0] != JP_SEAL_VERSION)
        return JP_ECORRUPT;
    memcpy(owner->b, s + 1, 16);
    return 0;
}

int
jp_unseal(const uint8_t key[JP_SEAL_KEY_LEN], const jp_id_t *rec, unsigned field,
          const void *sealed, size_t n, uint8_t *out, size_t cap, size_t *outlen,
          jp_err_t *err)
{
    assert(key && rec && (sealed || n == 0) && outlen && field < 256);
    const uint8_t *s = sealed;
    if (n < JP_SEAL_OVERHEAD)
        return jp_err_set(err, JP_ECORRUPT,
                          "sealed value: %zu bytes, under the %d of its frame", n,
                          JP_SEAL_OVERHEAD);
    if (s[0] != JP_SEAL_VERSION)
        return jp_err_set(err, JP_ECORRUPT, "sealed value: version %u, not %u", s[0],
                          JP_SEAL_VERSION);
    size_t m = n - JP_SEAL_OVERHEAD;
    if (cap < m)
        return JP_ETOOBIG;
    EVP_CIPHER_CTX *ctx = s_ctx();
    if (!ctx)
        return JP_ECRYPTO;
    uint8_t aad[S_AAD_LEN], tag[JP_SEAL_TAG_LEN];
    s_aad(aad, s + 1, rec, field);
    memcpy(tag, s + JP_SEAL_HEAD_LEN + m, JP_SEAL_TAG_LEN);
    int len = 0;
    if (EVP_DecryptInit_ex2(ctx, s_cipher, key, s + 17, NULL) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &len, aad, sizeof aad) != 1 ||
        (m && EVP_DecryptUpdate(ctx, out, &len, s + JP_SEAL_HEAD_LEN, (int)m) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, JP_SEAL_TAG_LEN, tag) != 1 ||
        EVP_DecryptFinal_ex(ctx, out + m, &len) != 1) {
        ERR_clear_error();
        if (m)
            OPENSSL_cleanse(out, m);
        return jp_err_set(err, JP_ECORRUPT,
                          "sealed value of field %u does not open under its key "
                          "(a wrong key, another record or field, or a changed byte)",
                          field);
    }
    *outlen = m;
    return 0;
}

int
jp_blind(const uint8_t secret[JP_BLIND_SECRET_LEN], jp_blind_kind_t kind,
         const void *value, size_t n, uint8_t out[JP_BLIND_LEN])
{
    assert(secret && (value || n == 0) && out);
    pthread_once(&s_once, s_init);
    if (!s_md)
        return JP_ECRYPTO;
    uint8_t d = (uint8_t)kind, mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    /* HMAC over the domain byte then the value: one call over a joined
     * buffer would need a copy; the streaming interface needs a context
     * per thread.  The value is short, so the copy is the simpler. */
    uint8_t buf[1 + 1024];
    if (n > sizeof buf - 1)
        return JP_ETOOBIG;
    buf[0] = d;
    if (n)
        memcpy(buf + 1, value, n);
    if (!HMAC(s_md, secret, JP_BLIND_SECRET_LEN, buf, n + 1, mac, &len) ||
        len < JP_BLIND_LEN) {
        ERR_clear_error();
        OPENSSL_cleanse(buf, n + 1);
        return JP_ECRYPTO;
    }
    memcpy(out, mac, JP_BLIND_LEN);
    OPENSSL_cleanse(buf, n + 1);
    OPENSSL_cleanse(mac, sizeof mac);
    return 0;
}

void
jp_seal_cleanse(void *p, size_t n)
{
    OPENSSL_cleanse(p, n);
}
