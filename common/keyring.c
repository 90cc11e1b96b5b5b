/*
 * keyring.c -- the keys file and the ring file of keyring.h.
 *
 * The one idea: the file is the truth and memory is its index.  Opening
 * reads every slot into an array sorted by owner (a lookup is a binary
 * search); every write takes the file's lock, re-reads it if another
 * process wrote since (the header's generation), changes one slot in place
 * with pwrite, bumps the generation and syncs, all before it returns.
 */
#include "keyring.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAGIC "jipan-keys-1\0\0\0\0"
#define S_RING_MAGIC "jipan-ring-1\0\0\0\0"
#define S_HEAD 64      /* header bytes of keys */
#define S_SLOT 64      /* bytes of a slot */
#define S_WRAPPED 40   /* a 32-byte key wrapped by RFC 3394 */
#define S_RING_HEAD 16 /* header bytes of keys.ring */
#define S_RING_ENT 36  /* generation u32 + key 32 */
#define S_MAX_RINGS 1024

enum { S_FREE = 0, S_LIVE = 1, S_ERASED = 2 };

typedef struct {
    jp_id_t owner;              /* whose key */
    uint8_t state;              /* S_LIVE or S_ERASED */
    uint32_t ring;              /* generation of the ring key wrapping it */
    uint64_t slot;              /* slot number in the file */
    uint8_t wrapped[S_WRAPPED]; /* the key, wrapped; zeros when erased */
} s_ent_t;

typedef struct {
    uint32_t gen;                 /* generation, 1, 2, ... */
    uint8_t key[JP_SEAL_KEY_LEN]; /* the ring key */
} s_ring_t;

struct jp_keyring {
    int fd;             /* keys, read-write */
    int rfd;            /* keys.ring, read-write */
    uint64_t gen;       /* the header's generation when last read */
    s_ent_t *ent;       /* held owners, sorted by owner */
    size_t n, cap;      /* entries used, allocated */
    uint64_t *free;     /* free slot numbers */
    size_t nfree, fcap; /* used, allocated */
    uint64_t nslots;    /* slots in the file */
    s_ring_t *ring;     /* ring keys, oldest first */
    size_t nring;       /* how many */
};

static void
s_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void
s_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t
s_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static int
s_io(jp_err_t *err, const char *what)
{
    return jp_err_set(err, errno == ENOSPC ? JP_EFULL : JP_EIO, "keys: %s: %s", what,
                      strerror(errno));
}

static int
s_pwrite(int fd, const void *p, size_t n, off_t at)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = pwrite(fd, b, n, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w, n -= (size_t)w, at += w;
    }
    return 0;
}

static int
s_pread(int fd, void *p, size_t n, off_t at)
{
    uint8_t *b = p;
    while (n) {
        ssize_t r = pread(fd, b, n, at);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        b += r, n -= (size_t)r, at += r;
    }
    return 0;
}

/* RFC 3394 key wrap of a 32-byte key under ring (enc) or its unwrap. */
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static EVP_CIPHER *s_kw; /* AES-256-WRAP, fetched once; NULL if none */

static void
s_init(void)
{
    s_kw = EVP_CIPHER_fetch(NULL, "AES-256-WRAP", NULL);
}

static int
s_wrap(const uint8_t ring[JP_SEAL_KEY_LEN], bool enc, const uint8_t *in, size_t n,
       uint8_t *out, size_t want)
{
    pthread_once(&s_once, s_init);
    EVP_CIPHER *c = s_kw;
    EVP_CIPHER_CTX *ctx = c ? EVP_CIPHER_CTX_new() : NULL;
    int len = 0, fin = 0, ok = c && ctx;
    if (ok) {
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        ok = EVP_CipherInit_ex2(ctx, c, ring, NULL, enc, NULL) == 1 &&
             EVP_CipherUpdate(ctx, out, &len, in, (int)n) == 1 &&
             EVP_CipherFinal_ex(ctx, out + len, &fin) == 1 && (size_t)(len + fin) == want;
    }
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        OPENSSL_cleanse(out, want);
    }
    return ok ? 0 : JP_ECRYPTO;
}

static const s_ring_t *
s_ring(const jp_keyring_t *k, uint32_t gen)
{
    for (size_t i = 0; i < k->nring; i++)
        if (k->ring[i].gen == gen)
            return &k->ring[i];
    return NULL;
}

static int
s_cmp(const void *a, const void *b)
{
    return jp_id_cmp(&((const s_ent_t *)a)->owner, &((const s_ent_t *)b)->owner);
}

static s_ent_t *
s_find(const jp_keyring_t *k, const jp_id_t *owner)
{
    s_ent_t key = {.owner = *owner};
    return k->n ? bsearch(&key, k->ent, k->n, sizeof *k->ent, s_cmp) : NULL;
}

static void
s_forget(jp_keyring_t *k)
{
    if (k->ent)
        OPENSSL_cleanse(k->ent, k->cap * sizeof *k->ent);
    if (k->ring)
        OPENSSL_cleanse(k->ring, k->nring * sizeof *k->ring);
    free(k->ent), free(k->free), free(k->ring);
    k->ent = NULL, k->free = NULL, k->ring = NULL;
    k->n = k->cap = k->nfree = k->fcap = k->nring = 0;
    k->nslots = 0;
}

static int
s_push_free(jp_keyring_t *k, uint64_t slot)
{
    if (k->nfree == k->fcap) {
        size_t c = k->fcap ? 2 * k->fcap : 64;
        uint64_t *p = realloc(k->free, c * sizeof *p);
        if (!p)
            return JP_ENOMEM;
        k->free = p, k->fcap = c;
    }
    k->free[k->nfree++] = slot;
    return 0;
}

/* Read both files into memory (the lock held, or at open). */
static int
s_load(jp_keyring_t *k, jp_err_t *err)
{
    s_forget(k);
    struct stat st;
    uint8_t h[S_HEAD];
    if (fstat(k->rfd, &st) != 0)
        return s_io(err, "keys.ring");
    if (st.st_size < S_RING_HEAD || (st.st_size - S_RING_HEAD) % S_RING_ENT ||
        (st.st_size - S_RING_HEAD) / S_RING_ENT > S_MAX_RINGS)
        return jp_err_set(err, JP_ECORRUPT, "keys.ring: %lld bytes is not a ring file",
                          (long long)st.st_size);
    k->nring = (size_t)(st.st_size - S_RING_HEAD) / S_RING_ENT;
    if (k->nring && !(k->ring = calloc(k->nring, sizeof *k->ring)))
        return JP_ENOMEM;
    uint8_t rb[S_RING_ENT];
    if (s_pread(k->rfd, h, S_RING_HEAD, 0) != 0)
        return s_io(err, "keys.ring");
    if (memcmp(h, S_RING_MAGIC, S_RING_HEAD) != 0)
        return jp_err_set(err, JP_EVERSION,
                          "keys.ring: not a jipan ring file (version 1)");
    for (size_t i = 0; i < k->nring; i++) {
        if (s_pread(k->rfd, rb, S_RING_ENT, S_RING_HEAD + (off_t)i * S_RING_ENT) != 0)
            return s_io(err, "keys.ring");
        k->ring[i].gen = (uint32_t)s_get_be(rb, 4);
        memcpy(k->ring[i].key, rb + 4, JP_SEAL_KEY_LEN);
        if (k->ring[i].gen == 0) { /* zeroed by a rotation cut short: the end */
            k->nring = i;
            break;
        }
    }
    OPENSSL_cleanse(rb, sizeof rb);

    if (fstat(k->fd, &st) != 0)
        return s_io(err, "keys");
    if (st.st_size < S_HEAD || (st.st_size - S_HEAD) % S_SLOT)
        return jp_err_set(err, JP_ECORRUPT, "keys: %lld bytes is not a keys file",
                          (long long)st.st_size);
    if (s_pread(k->fd, h, S_HEAD, 0) != 0)
        return s_io(err, "keys");
    if (memcmp(h, S_MAGIC, 16) != 0)
        return jp_err_set(err, JP_EVERSION, "keys: not a jipan keys file (version 1)");
    k->gen = s_get_be(h + 16, 8);
    k->nslots = (uint64_t)(st.st_size - S_HEAD) / S_SLOT;
    enum { CHUNK = 1024 };
    uint8_t *buf = malloc(CHUNK * S_SLOT);
    if (!buf)
        return JP_ENOMEM;
    int rc = 0;
    for (uint64_t s0 = 0; s0 < k->nslots && !rc; s0 += CHUNK) {
        size_t m = k->nslots - s0 < CHUNK ? (size_t)(k->nslots - s0) : CHUNK;
        if (s_pread(k->fd, buf, m * S_SLOT, S_HEAD + (off_t)s0 * S_SLOT) != 0) {
            rc = s_io(err, "keys");
            break;
        }
        for (size_t i = 0; i < m && !rc; i++) {
            const uint8_t *s = buf + i * S_SLOT;
            uint64_t slot = s0 + i;
            if (s[0] == S_FREE) {
                rc = s_push_free(k, slot);
                continue;
            }
            if (s[0] != S_LIVE && s[0] != S_ERASED) {
                rc = jp_err_set(err, JP_ECORRUPT, "keys: slot %llu: state %u",
                                (unsigned long long)slot, s[0]);
                break;
            }
            if (k->n == k->cap) {
                size_t c = k->cap ? 2 * k->cap : 256;
                s_ent_t *p = realloc(k->ent, c * sizeof *p);
                if (!p) {
                    rc = JP_ENOMEM;
                    break;
                }
                k->ent = p, k->cap = c;
            }
            s_ent_t *e = &k->ent[k->n++];
            memset(e, 0, sizeof *e);
            e->state = s[0];
            e->ring = (uint32_t)s_get_be(s + 1, 4);
            e->slot = slot;
            memcpy(e->owner.b, s + 8, 16);
            memcpy(e->wrapped, s + 24, S_WRAPPED);
            if (e->state == S_LIVE && !s_ring(k, e->ring))
                rc = jp_err_set(err, JP_ECORRUPT,
                                "keys: slot %llu is wrapped under ring key %u, which "
                                "keys.ring does not hold",
                                (unsigned long long)slot, e->ring);
        }
    }
    OPENSSL_cleanse(buf, CHUNK * S_SLOT);
    free(buf);
    if (rc)
        return rc;
    if (k->n)
        qsort(k->ent, k->n, sizeof *k->ent, s_cmp);
    for (size_t i = 1; i < k->n; i++)
        if (jp_id_cmp(&k->ent[i - 1].owner, &k->ent[i].owner) == 0)
            return jp_err_set(err, JP_ECORRUPT, "keys: one owner in slots %llu and %llu",
                              (unsigned long long)k->ent[i - 1].slot,
                              (unsigned long long)k->ent[i].slot);
    return 0;
}

/* Re-read if another process wrote since (the lock held, or not). */
static int
s_refresh(jp_keyring_t *k, jp_err_t *err)
{
    uint8_t g[8];
    if (s_pread(k->fd, g, 8, 16) != 0)
        return s_io(err, "keys");
    return s_get_be(g, 8) == k->gen ? 0 : s_load(k, err);
}

static int
s_open_file(const char *dir, const char *name, bool create, const void *magic,
            size_t mlen, int *fd_out, jp_err_t *err)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return jp_err_set(err, JP_EINVAL, "keys: directory name too long");
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT && create) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0 && (s_pwrite(fd, magic, mlen, 0) != 0 || fdatasync(fd) != 0)) {
            int e = errno;
            close(fd), unlink(path);
            errno = e;
            return s_io(err, name);
        }
    }
    if (fd < 0) {
        if (errno == ENOENT)
            return jp_err_set(err, JP_ENOTFOUND, "keys: %s: no such file", path);
        return s_io(err, name);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return jp_err_set(err, JP_EINVAL, "keys: %s is not a regular file", path);
    }
    if (st.st_mode & 077) {
        close(fd);
        return jp_err_set(err, JP_EPERM,
                          "keys: %s may be read by other users (mode %03o); "
                          "chmod 600 it",
                          path, (unsigned)(st.st_mode & 0777));
    }
    *fd_out = fd;
    return 0;
}

/* Append a new ring key (the lock held). */
static int
s_ring_add(jp_keyring_t *k, jp_err_t *err)
{
    if (k->nring >= S_MAX_RINGS)
        return jp_err_set(err, JP_ETOOBIG, "keys.ring: %d ring keys kept", S_MAX_RINGS);
    s_ring_t r = {.gen = k->nring ? k->ring[k->nring - 1].gen + 1 : 1};
    int rc = jp_seal_key_new(r.key);
    if (rc)
        return rc;
    uint8_t b[S_RING_ENT];
    s_be32(b, r.gen);
    memcpy(b + 4, r.key, JP_SEAL_KEY_LEN);
    if (s_pwrite(k->rfd, b, sizeof b, S_RING_HEAD + (off_t)k->nring * S_RING_ENT) != 0 ||
        fdatasync(k->rfd) != 0)
        rc = s_io(err, "keys.ring");
    OPENSSL_cleanse(b, sizeof b);
    if (!rc) {
        s_ring_t *p = realloc(k->ring, (k->nring + 1) * sizeof *p);
        if (!p)
            rc = JP_ENOMEM;
        else
            (k->ring = p)[k->nring++] = r;
    }
    OPENSSL_cleanse(&r, sizeof r);
    return rc;
}

static int
s_lock(jp_keyring_t *k, jp_err_t *err)
{
    while (flock(k->fd, LOCK_EX) != 0)
        if (errno != EINTR)
            return s_io(err, "lock");
    int rc = s_refresh(k, err);
    if (rc)
        flock(k->fd, LOCK_UN);
    return rc;
}

/* Write slot e, bump the generation, sync, unlock. */
static int
s_commit(jp_keyring_t *k, const s_ent_t *e, jp_err_t *err)
{
    uint8_t s[S_SLOT] = {0}, g[8];
    int rc = 0;
    if (e) {
        s[0] = e->state;
        s_be32(s + 1, e->ring);
        memcpy(s + 8, e->owner.b, 16);
        memcpy(s + 24, e->wrapped, S_WRAPPED);
        if (s_pwrite(k->fd, s, S_SLOT, S_HEAD + (off_t)e->slot * S_SLOT) != 0)
            rc = s_io(err, "write");
    }
    s_be64(g, k->gen + 1);
    if (!rc && (s_pwrite(k->fd, g, 8, 16) != 0 || fdatasync(k->fd) != 0))
        rc = s_io(err, "sync");
    if (!rc)
        k->gen++;
    OPENSSL_cleanse(s, sizeof s);
    flock(k->fd, LOCK_UN);
    return rc;
}

int
jp_keyring_open(jp_keyring_t **self_p, const char *dir, bool create, jp_err_t *err)
{
    assert(self_p && dir);
    *self_p = NULL;
    jp_keyring_t *k = calloc(1, sizeof *k);
    if (!k)
        return JP_ENOMEM;
    k->fd = k->rfd = -1;
    uint8_t head[S_HEAD] = S_MAGIC;
    int rc = s_open_file(dir, JP_KEYRING_FILE, create, head, sizeof head, &k->fd, err);
    if (!rc)
        rc = s_open_file(dir, JP_KEYRING_RING_FILE, create, S_RING_MAGIC, S_RING_HEAD,
                         &k->rfd, err);
    if (!rc && (rc = s_lock(k, err)) == 0) {
        if (k->nring == 0 && (rc = s_ring_add(k, err)) == 0)
            rc = s_commit(k, NULL, err);
        else
            flock(k->fd, LOCK_UN);
    }
    if (rc) {
        jp_keyring_close(&k);
        return rc;
    }
    *self_p = k;
    return 0;
}

void
jp_keyring_close(jp_keyring_t **self_p)
{
    assert(self_p);
    jp_keyring_t *k = *self_p;
    if (!k)
        return;
    s_forget(k);
    if (k->fd >= 0)
        close(k->fd);
    if (k->rfd >= 0)
        close(k->rfd);
    free(k);
    *self_p = NULL;
}

static int
s_unwrap(const jp_keyring_t *k, const s_ent_t *e, uint8_t key[JP_SEAL_KEY_LEN])
{
    const s_ring_t *r = s_ring(k, e->ring);
    return r ? s_wrap(r->key, false, e->wrapped, S_WRAPPED, key, JP_SEAL_KEY_LEN)
             : JP_ECORRUPT;
}

int
jp_keyring_get(jp_keyring_t *self, const jp_id_t *owner, uint8_t key[JP_SEAL_KEY_LEN])
{
    assert(self && owner && key);
    const s_ent_t *e = s_find(self, owner);
    if (!e) {
        int rc = s_refresh(self, NULL);
        if (rc)
            return rc;
        if (!(e = s_find(self, owner)))
            return JP_KEY_NONE;
    }
    if (e->state == S_ERASED)
        return JP_KEY_ERASED;
    int rc = s_unwrap(self, e, key);
    return rc ? rc : JP_KEY_LIVE;
}

/* Insert a new entry for owner in a free slot or a new one (lock held). */
static s_ent_t *
s_insert(jp_keyring_t *k, const jp_id_t *owner)
{
    if (k->n == k->cap) {
        size_t c = k->cap ? 2 * k->cap : 256;
        s_ent_t *p = realloc(k->ent, c * sizeof *p);
        if (!p)
            return NULL;
        k->ent = p, k->cap = c;
    }
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (jp_id_cmp(&k->ent[mid].owner, owner) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&k->ent[lo + 1], &k->ent[lo], (k->n - lo) * sizeof *k->ent);
    k->n++;
    s_ent_t *e = &k->ent[lo];
    memset(e, 0, sizeof *e);
    e->owner = *owner;
    e->slot = k->nfree ? k->free[--k->nfree] : k->nslots++;
    return e;
}

static int
s_put(jp_keyring_t *k, const jp_id_t *owner, const uint8_t key[JP_SEAL_KEY_LEN],
      jp_err_t *err)
{
    int rc = s_lock(k, err);
    if (rc)
        return rc;
    s_ent_t *e = s_find(k, owner);
    if (e) {
        uint8_t have[JP_SEAL_KEY_LEN];
        if (e->state == S_ERASED)
            rc = jp_err_set(err, JP_EPERM, "keys: that person's key was erased");
        else if (!(rc = s_unwrap(k, e, have)))
            rc = CRYPTO_memcmp(have, key, JP_SEAL_KEY_LEN) == 0
                     ? 0
                     : jp_err_set(err, JP_EEXIST, "keys: that person already has a key");
        OPENSSL_cleanse(have, sizeof have);
        flock(k->fd, LOCK_UN);
        return rc;
    }
    const s_ring_t *r = &k->ring[k->nring - 1];
    uint8_t w[S_WRAPPED];
    if ((rc = s_wrap(r->key, true, key, JP_SEAL_KEY_LEN, w, S_WRAPPED))) {
        flock(k->fd, LOCK_UN);
        return rc;
    }
    if (!(e = s_insert(k, owner))) {
        flock(k->fd, LOCK_UN);
        return JP_ENOMEM;
    }
    e->state = S_LIVE;
    e->ring = r->gen;
    memcpy(e->wrapped, w, S_WRAPPED);
    rc = s_commit(k, e, err);
    if (rc) /* the slot may or may not be on disk: read the truth back */
        s_load(k, NULL);
    return rc;
}

int
jp_keyring_put(jp_keyring_t *self, const jp_id_t *owner,
               const uint8_t key[JP_SEAL_KEY_LEN], jp_err_t *err)
{
    assert(self && owner && key);
    return s_put(self, owner, key, err);
}

int
jp_keyring_make(jp_keyring_t *self, const jp_id_t *owner, uint8_t key[JP_SEAL_KEY_LEN],
                jp_err_t *err)
{
    assert(self && owner && key);
    int rc = jp_seal_key_new(key);
    if (!rc && (rc = s_put(self, owner, key, err)))
        OPENSSL_cleanse(key, JP_SEAL_KEY_LEN);
    return rc;
}

int
jp_keyring_erase(jp_keyring_t *self, const jp_id_t *owner, jp_err_t *err)
{
    assert(self && owner);
    int rc = s_lock(self, err);
    if (rc)
        return rc;
    s_ent_t *e = s_find(self, owner);
    if (e && e->state == S_ERASED) {
        flock(self->fd, LOCK_UN);
        return 0;
    }
    if (!e && !(e = s_insert(self, owner))) {
        flock(self->fd, LOCK_UN);
        return JP_ENOMEM;
    }
    e->state = S_ERASED;
    e->ring = 0;
    OPENSSL_cleanse(e->wrapped, S_WRAPPED);
    rc = s_commit(self, e, err);
    if (rc)
        s_load(self, NULL);
    return rc;
}

int
jp_keyring_rotate(jp_keyring_t *self, unsigned keep, jp_err_t *err)
{
    assert(self);
    if (keep < 1)
        keep = 1;
    int rc = s_lock(self, err);
    if (rc)
        return rc;
    if ((rc = s_ring_add(self, err))) {
        flock(self->fd, LOCK_UN);
        return rc;
    }
    const s_ring_t *nr = &self->ring[self->nring - 1];
    uint8_t key[JP_SEAL_KEY_LEN], s[S_SLOT];
    for (size_t i = 0; i < self->n && !rc; i++) {
        s_ent_t *e = &self->ent[i];
        if (e->state != S_LIVE || e->ring == nr->gen)
            continue;
        if ((rc = s_unwrap(self, e, key)) ||
            (rc = s_wrap(nr->key, true, key, JP_SEAL_KEY_LEN, e->wrapped, S_WRAPPED)))
            break;
        e->ring = nr->gen;
        memset(s, 0, sizeof s);
        s[0] = e->state;
        s_be32(s + 1, e->ring);
        memcpy(s + 8, e->owner.b, 16);
        memcpy(s + 24, e->wrapped, S_WRAPPED);
        if (s_pwrite(self->fd, s, S_SLOT, S_HEAD + (off_t)e->slot * S_SLOT) != 0)
            rc = s_io(err, "write");
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(s, sizeof s);
    if (!rc && fdatasync(self->fd) != 0)
        rc = s_io(err, "sync");
    /* Every live slot is under the newest ring key now: drop the oldest
     * beyond keep by moving the kept ones to the front in place and
     * zeroing what follows, so that the dropped keys' bytes are gone. */
    if (!rc && self->nring > keep) {
        size_t drop = self->nring - keep;
        uint8_t b[S_RING_ENT];
        for (size_t i = 0; i < keep && !rc; i++) {
            self->ring[i] = self->ring[drop + i];
            s_be32(b, self->ring[i].gen);
            memcpy(b + 4, self->ring[i].key, JP_SEAL_KEY_LEN);
            if (s_pwrite(self->rfd, b, sizeof b, S_RING_HEAD + (off_t)i * S_RING_ENT) !=
                0)
                rc = s_io(err, "keys.ring");
        }
        memset(b, 0, sizeof b);
        for (size_t i = keep; i < self->nring && !rc; i++)
            if (s_pwrite(self->rfd, b, sizeof b, S_RING_HEAD + (off_t)i * S_RING_ENT) !=
                0)
                rc = s_io(err, "keys.ring");
        if (!rc && (fdatasync(self->rfd) != 0 ||
                    ftruncate(self->rfd, S_RING_HEAD + (off_t)keep * S_RING_ENT) != 0 ||
                    fdatasync(self->rfd) != 0))
            rc = s_io(err, "keys.ring");
        OPENSSL_cleanse(self->ring + keep, drop * sizeof *self->ring);
        self->nring = keep;
    }
    int crc = s_commit(self, NULL, rc ? NULL : err);
    if (rc || crc)
        s_load(self, NULL);
    return rc ? rc : crc;
}

int
jp_keyring_stat(jp_keyring_t *self, jp_keyring_stat_t *out)
{
    assert(self && out);
    int rc = s_refresh(self, NULL);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < self->n; i++)
        self->ent[i].state == S_LIVE ? out->live++ : out->erased++;
    out->rings = (uint32_t)self->nring;
    out->ring = self->nring ? self->ring[self->nring - 1].gen : 0;
    return 0;
}
