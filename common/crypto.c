/*
 * crypto.c -- SHA-256, the store's Ed25519 key and batch signatures, on
 * OpenSSL 3 EVP.
 *
 * The one idea: hashing is on the hot path (every change of every import
 * is hashed into the chain, hundreds of thousands a second), so the SHA-256
 * implementation is fetched from the provider once per process and each
 * thread keeps one digest context that it re-initialises per hash.  A quick
 * measurement on the target machine (200-byte inputs) gave about 2.3 M/s
 * for EVP_Q_digest (a fetch per call), 4.4 M/s for EVP_Digest with the
 * pre-fetched md (a context allocated per call) and 5.1 M/s for a reused
 * context, so the reused context is what jp_sha256 does.  Signing and
 * verifying are rare (once per batch) and keep the simple form.
 *
 * The private key file is the only secret on a store's disk: it is created
 * with O_EXCL and mode 0600 so that it is never overwritten nor briefly
 * world-readable, and loading refuses a file other users can reach.
 */
#include "crypto.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A PEM PKCS#8 Ed25519 key is about 120 bytes; anything far larger is not one. */
#define S_KEY_FILE_MAX 16384

struct jp_sha {
    EVP_MD_CTX *ctx; /* initialised with SHA-256, ready for updates */
};

struct jp_key {
    EVP_PKEY *pkey;          /* the Ed25519 private key */
    uint8_t pub[JP_PUB_LEN]; /* its raw public key, cached at creation */
};

static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static EVP_MD *s_md;            /* SHA-256, fetched once; NULL if the fetch failed */
static pthread_key_t s_ctx_key; /* each thread's reusable EVP_MD_CTX */
static int s_ctx_key_ok;        /* 1 if s_ctx_key was created */

static void
s_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void
s_init(void)
{
    s_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    s_ctx_key_ok = pthread_key_create(&s_ctx_key, s_ctx_free) == 0;
}

/* The SHA-256 md, or NULL if OpenSSL has none (broken installation). */
static const EVP_MD *
s_sha256_md(void)
{
    pthread_once(&s_once, s_init);
    return s_md;
}

/* This thread's digest context, created on first use; NULL if that fails. */
static EVP_MD_CTX *
s_thread_ctx(void)
{
    if (!s_ctx_key_ok)
        return NULL;
    EVP_MD_CTX *ctx = pthread_getspecific(s_ctx_key);
    if (ctx)
        return ctx;
    ctx = EVP_MD_CTX_new();
    if (!ctx)
        return NULL;
    if (pthread_setspecific(s_ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int
jp_sha256(const void *p, size_t n, uint8_t out[JP_HASH_LEN])
{
    assert(p || n == 0);
    const EVP_MD *md = s_sha256_md();
    if (!md)
        return JP_ECRYPTO;
    EVP_MD_CTX *ctx = s_thread_ctx();
    if (ctx) {
        unsigned int len = 0;
        if (EVP_DigestInit_ex2(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, p, n) != 1 ||
            EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != JP_HASH_LEN) {
            ERR_clear_error();
            return JP_ECRYPTO;
        }
        return 0;
    }
    /* No per-thread context: the slower form that allocates one per call. */
    unsigned int len = 0;
    if (EVP_Digest(p, n, out, &len, md, NULL) != 1 || len != JP_HASH_LEN) {
        ERR_clear_error();
        return JP_ECRYPTO;
    }
    return 0;
}

int
jp_sha_new(jp_sha_t **self_p)
{
    assert(self_p);
    *self_p = NULL;
    const EVP_MD *md = s_sha256_md();
    if (!md)
        return JP_ECRYPTO;
    jp_sha_t *self = calloc(1, sizeof *self);
    if (!self)
        return JP_ENOMEM;
    self->ctx = EVP_MD_CTX_new();
    if (!self->ctx) {
        free(self);
        return JP_ENOMEM;
    }
    if (EVP_DigestInit_ex2(self->ctx, md, NULL) != 1) {
        ERR_clear_error();
        jp_sha_destroy(&self);
        return JP_ECRYPTO;
    }
    *self_p = self;
    return 0;
}

int
jp_sha_update(jp_sha_t *self, const void *p, size_t n)
{
    assert(self);
    assert(p || n == 0);
    if (EVP_DigestUpdate(self->ctx, p, n) != 1) {
        ERR_clear_error();
        return JP_ECRYPTO;
    }
    return 0;
}

int
jp_sha_final(jp_sha_t *self, uint8_t out[JP_HASH_LEN])
{
    assert(self);
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(self->ctx, out, &len) != 1 || len != JP_HASH_LEN) {
        ERR_clear_error();
        return JP_ECRYPTO;
    }
    /* Ready for the next digest, as the header promises. */
    if (EVP_DigestInit_ex2(self->ctx, s_sha256_md(), NULL) != 1) {
        ERR_clear_error();
        return JP_ECRYPTO;
    }
    return 0;
}

void
jp_sha_destroy(jp_sha_t **self_p)
{
    assert(self_p);
    jp_sha_t *self = *self_p;
    if (!self)
        return;
    EVP_MD_CTX_free(self->ctx);
    free(self);
    *self_p = NULL;
}

/* Wrap pkey (taking ownership) in a jp_key_t with its public key cached. */
static int
s_key_wrap(EVP_PKEY *pkey, jp_key_t **self_p)
{
    jp_key_t *self = calloc(1, sizeof *self);
    if (!self) {
        EVP_PKEY_free(pkey);
        return JP_ENOMEM;
    }
    self->pkey = pkey;
    size_t len = JP_PUB_LEN;
    if (EVP_PKEY_get_raw_public_key(pkey, self->pub, &len) != 1 || len != JP_PUB_LEN) {
        ERR_clear_error();
        jp_key_destroy(&self);
        return JP_ECRYPTO;
    }
    *self_p = self;
    return 0;
}

int
jp_key_generate(jp_key_t **self_p, jp_err_t *err)
{
    assert(self_p);
    *self_p = NULL;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!pkey) {
        ERR_clear_error();
        return jp_err_set(err, JP_ECRYPTO, "cannot generate an Ed25519 key (OpenSSL)");
    }
    int rc = s_key_wrap(pkey, self_p);
    if (rc)
        return jp_err_set(err, rc, "cannot generate an Ed25519 key: %s", jp_strerror(rc));
    return 0;
}

/* Write all n bytes to fd, retrying short writes and EINTR. */
static int
s_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int
jp_secret_write(const char *path, const void *data, size_t n, jp_err_t *err)
{
    /* O_EXCL: never replace a key (that would orphan every batch signed with it). */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        return jp_err_set(err, e == EEXIST ? JP_EEXIST : JP_EIO,
                          "cannot create key file %s: %s%s", path, strerror(e),
                          e == EEXIST ? " (refusing to overwrite an existing key)" : "");
    }
    if (s_write_all(fd, data, n) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path); /* a truncated key file would only fail later, less clearly */
        return jp_err_set(err, JP_EIO, "cannot write key file %s: %s", path, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(path);
        return jp_err_set(err, JP_EIO, "cannot write key file %s: %s", path, strerror(e));
    }
    return 0;
}

int
jp_secret_read(const char *path, char **out, size_t *len, size_t max, jp_err_t *err)
{
    int rc;
    char *buf = NULL;
    size_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return jp_err_set(err, e == ENOENT ? JP_ENOTFOUND : JP_EIO,
                          "cannot open key file %s: %s", path, strerror(e));
    }
    /* fstat on the open descriptor: the mode checked is the file read. */
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        rc = jp_err_set(err, JP_EIO, "cannot stat key file %s: %s", path, strerror(e));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = jp_err_set(err, JP_EINVAL, "key file %s is not a regular file", path);
        goto fail;
    }
    if (st.st_mode & 0077) {
        rc = jp_err_set(err, JP_EPERM,
                        "key file %s is %s by others (mode %04o); chmod 600 it", path,
                        (st.st_mode & 0044) ? "readable" : "accessible",
                        (unsigned)(st.st_mode & 07777));
        goto fail;
    }
    if (st.st_size <= 0 || (size_t)st.st_size > max) {
        rc = jp_err_set(err, JP_ECORRUPT, "key file %s is not a key file (%s)", path,
                        st.st_size <= 0 ? "empty" : "too large");
        goto fail;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = jp_err_set(err, JP_ENOMEM, "cannot read key file %s: out of memory", path);
        goto fail;
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            rc =
                jp_err_set(err, JP_EIO, "cannot read key file %s: %s", path, strerror(e));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
    *out = buf;
    *len = n;
    return 0;

fail:
    if (buf) {
        OPENSSL_cleanse(buf, n);
        free(buf);
    }
    close(fd);
    return rc;
}

int
jp_key_save(const jp_key_t *self, const char *path, jp_err_t *err)
{
    assert(self && path);
    int rc = 0;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) {
        rc = jp_err_set(err, JP_ENOMEM, "cannot save key file %s: out of memory", path);
        goto fail;
    }
    /* PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY") in OpenSSL 3. */
    if (PEM_write_bio_PrivateKey(bio, self->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
        ERR_clear_error();
        rc = jp_err_set(err, JP_ECRYPTO, "cannot encode the key for %s (OpenSSL)", path);
        goto fail;
    }
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(bio, &pem);
    if (pem_len <= 0 || !pem) {
        rc = jp_err_set(err, JP_ECRYPTO, "cannot encode the key for %s (OpenSSL)", path);
        goto fail;
    }
    if ((rc = jp_secret_write(path, pem, (size_t)pem_len, err)))
        goto fail;
    OPENSSL_cleanse(pem, (size_t)pem_len);
    BIO_free(bio);
    return 0;

fail:
    if (bio) {
        char *p = NULL;
        long len = BIO_get_mem_data(bio, &p);
        if (p && len > 0)
            OPENSSL_cleanse(p, (size_t)len);
        BIO_free(bio);
    }
    return rc;
}

int
jp_key_load(jp_key_t **self_p, const char *path, jp_err_t *err)
{
    assert(self_p && path);
    *self_p = NULL;
    int rc = 0;
    char *buf = NULL;
    size_t len = 0;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;

    if ((rc = jp_secret_read(path, &buf, &len, S_KEY_FILE_MAX, err)))
        goto fail;
    bio = BIO_new_mem_buf(buf, (int)len);
    if (!bio) {
        rc = jp_err_set(err, JP_ENOMEM, "cannot read key file %s: out of memory", path);
        goto fail;
    }
    pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (!pkey || EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
        ERR_clear_error();
        rc = jp_err_set(err, JP_ECORRUPT, "key file %s is not an Ed25519 private key",
                        path);
        goto fail;
    }
    rc = s_key_wrap(pkey, self_p);
    pkey = NULL; /* owned by *self_p now, or freed */
    if (rc) {
        jp_err_set(err, rc, "cannot load key file %s: %s", path, jp_strerror(rc));
        goto fail;
    }
    BIO_free(bio);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return 0;

fail:
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    if (buf) {
        OPENSSL_cleanse(buf, len);
        free(buf);
    }
    return rc;
}

void
jp_key_destroy(jp_key_t **self_p)
{
    assert(self_p);
    jp_key_t *self = *self_p;
    if (!self)
        return;
    EVP_PKEY_free(self->pkey);
    free(self);
    *self_p = NULL;
}

void
jp_key_public(const jp_key_t *self, uint8_t pub[JP_PUB_LEN])
{
    assert(self);
    memcpy(pub, self->pub, JP_PUB_LEN);
}

int
jp_key_sign(const jp_key_t *self, const void *msg, size_t n, uint8_t sig[JP_SIG_LEN])
{
    assert(self);
    assert(msg || n == 0);
    int rc = JP_ECRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return JP_ENOMEM;
    /* Ed25519 hashes internally: no md, one-shot DigestSign. */
    size_t len = JP_SIG_LEN;
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, self->pkey) == 1 &&
        EVP_DigestSign(ctx, sig, &len, msg, n) == 1 && len == JP_SIG_LEN)
        rc = 0;
    else
        ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    return rc;
}

int
jp_sig_verify(const uint8_t pub[JP_PUB_LEN], const void *msg, size_t n,
              const uint8_t sig[JP_SIG_LEN])
{
    assert(pub && sig);
    assert(msg || n == 0);
    /* The contract is "0 or JP_ESIG": any failure, even an allocation, is
     * a signature we could not verify, and the caller must not accept it. */
    int rc = JP_ESIG;
    EVP_MD_CTX *ctx = NULL;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, JP_PUB_LEN);
    if (!pkey)
        goto done;
    ctx = EVP_MD_CTX_new();
    if (!ctx)
        goto done;
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) != 1)
        goto done;
    if (EVP_DigestVerify(ctx, sig, JP_SIG_LEN, msg, n) == 1)
        rc = 0;
done:
    if (rc)
        ERR_clear_error();
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return rc;
}

static void
s_put_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

/* Both signed messages: a 14-byte domain tag (NULs included), a store,
 * two 64-bit numbers and a hash.  The tag keeps these bytes from ever
 * meaning anything else a key might sign. */
static size_t
s_signed_msg(const char tag[14], uint16_t store, uint64_t a, uint64_t b,
             const uint8_t head[JP_HASH_LEN], uint8_t out[64])
{
    memcpy(out, tag, 14);
    s_put_be(out + 14, store, 2);
    s_put_be(out + 16, a, 8);
    s_put_be(out + 24, b, 8);
    memcpy(out + 32, head, JP_HASH_LEN);
    return 64;
}

size_t
jp_batch_msg(uint16_t store, uint64_t first, uint64_t last,
             const uint8_t head[JP_HASH_LEN], uint8_t out[JP_BATCH_MSG_LEN])
{
    return s_signed_msg("jipan-batch-1", store, first, last, head, out);
}

size_t
jp_receipt_msg(uint16_t store, uint64_t seq, uint64_t server_ms,
               const uint8_t head[JP_HASH_LEN], uint8_t out[JP_RECEIPT_MSG_LEN])
{
    return s_signed_msg("jipan-rcpt-1\0", store, seq, server_ms, head, out);
}

void
jp_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int
jp_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
jp_unhex(const char *s, uint8_t *out, size_t n)
{
    assert(s);
    /* Checked character by character, so a short string stops at its NUL
     * (not a hex digit) and nothing past it is read. */
    for (size_t i = 0; i < n; i++) {
        int hi = jp_hexval(s[2 * i]);
        if (hi < 0)
            return JP_EINVAL;
        int lo = jp_hexval(s[2 * i + 1]);
        if (lo < 0)
            return JP_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
