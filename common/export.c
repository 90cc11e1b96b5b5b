/*
 * export.c -- writer and bounded reader of the export file (export.h,
 * docs/EXPORT.md).
 *
 * The records use only five msgpack forms (array, uint, str, bin, nil),
 * so both sides are written by hand here rather than through msgpack-c:
 * the reader then decides every limit itself.  It works through one fixed
 * buffer that always holds a whole record when one is there (a record is
 * at most S_MAX_RECORD bytes, checked from the lengths before they are
 * used), and hashes the bytes it consumes in large runs for END's file
 * hash.
 */
#include "export.h"

#include "codec.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_MAX_RECORD (JP_MAX_CHANGE + 256) /* bytes of the largest record */
#define S_BUF (4u << 20)                   /* reader and writer buffer */

static const char s_tag[14] = "jipan-state-1"; /* and a NUL */

static void
s_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
s_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

size_t
jp_export_msg(const jp_xhdr_t *h, const jp_xend_t *e, uint8_t out[JP_EXPORT_MSG_LEN])
{
    memcpy(out, s_tag, 14);
    s_be16(out + 14, h->store);
    s_be64(out + 16, e->pos);
    s_be64(out + 24, h->ms);
    s_be64(out + 32, e->entries);
    memcpy(out + 40, e->head, JP_HASH_LEN);
    if (e->has_digest)
        memcpy(out + 72, e->digest, JP_HASH_LEN);
    else
        memset(out + 72, 0, JP_HASH_LEN);
    memcpy(out + 104, e->file_hash, JP_HASH_LEN);
    return JP_EXPORT_MSG_LEN;
}

const char *
jp_export_kind_name(uint8_t kind)
{
    return kind == JP_XK_GROUP ? "group" : kind == JP_XK_STORE ? "store" : "?";
}

/* ---- writer ------------------------------------------------------------------ */

struct jp_xw {
    int fd;                    /* the file, O_EXCL */
    char *path;                /* to remove it when not finished */
    uint8_t *buf;              /* S_BUF bytes of pending output */
    size_t len;                /* bytes pending */
    jp_sha_t *sha;             /* over every byte written */
    jp_xhdr_t hdr;             /* as written */
    uint64_t entries;          /* ENTRY records written */
    uint8_t head[JP_HASH_LEN]; /* hash of the last entry's change */
    int err;                   /* first write error (errno), sticky */
    bool done;                 /* END written and synced */
};

static void
s_flush(jp_xw_t *w)
{
    size_t off = 0;
    if (w->len && !w->err)
        jp_sha_update(w->sha, w->buf, w->len);
    while (off < w->len && !w->err) {
        ssize_t n = write(w->fd, w->buf + off, w->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            w->err = n < 0 ? errno : EIO;
        else
            off += (size_t)n;
    }
    w->len = 0;
}

/* Room for n more bytes (n <= S_MAX_RECORD). */
static uint8_t *
s_room(jp_xw_t *w, size_t n)
{
    if (w->len + n > S_BUF)
        s_flush(w);
    return w->buf + w->len;
}

static void
s_put(jp_xw_t *w, const void *p, size_t n)
{
    memcpy(s_room(w, n), p, n);
    w->len += n;
}

static void
s_arr(jp_xw_t *w, unsigned n)
{
    uint8_t b = (uint8_t)(0x90 | n); /* every record has < 16 elements */
    s_put(w, &b, 1);
}

static void
s_uint(jp_xw_t *w, uint64_t v)
{
    uint8_t b[9];
    size_t n;
    if (v < 128) {
        b[0] = (uint8_t)v;
        n = 1;
    } else if (v <= 0xff) {
        b[0] = 0xcc;
        b[1] = (uint8_t)v;
        n = 2;
    } else if (v <= 0xffff) {
        b[0] = 0xcd;
        s_be16(b + 1, (uint16_t)v);
        n = 3;
    } else if (v <= 0xffffffffu) {
        b[0] = 0xce;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (uint8_t)(v >> (24 - 8 * i));
        n = 5;
    } else {
        b[0] = 0xcf;
        s_be64(b + 1, v);
        n = 9;
    }
    s_put(w, b, n);
}

static void
s_bin(jp_xw_t *w, const void *p, size_t n)
{
    uint8_t b[5];
    size_t hn;
    if (n <= 0xff) {
        b[0] = 0xc4;
        b[1] = (uint8_t)n;
        hn = 2;
    } else if (n <= 0xffff) {
        b[0] = 0xc5;
        s_be16(b + 1, (uint16_t)n);
        hn = 3;
    } else {
        b[0] = 0xc6;
        for (int i = 0; i < 4; i++)
            b[1 + i] = (uint8_t)(n >> (24 - 8 * i));
        hn = 5;
    }
    s_put(w, b, hn);
    s_put(w, p, n);
}

static void
s_str(jp_xw_t *w, const char *s)
{
    size_t n = strlen(s);
    assert(n <= JP_EXPORT_MAX_TEXT);
    uint8_t b[2];
    if (n < 32) {
        b[0] = (uint8_t)(0xa0 | n);
        s_put(w, b, 1);
    } else {
        b[0] = 0xd9;
        b[1] = (uint8_t)n;
        s_put(w, b, 2);
    }
    s_put(w, s, n);
}

int
jp_xw_open(jp_xw_t **self_p, const char *path, const jp_xhdr_t *h, jp_err_t *err)
{
    assert(self_p && path && h);
    *self_p = NULL;
    if (strlen(h->group) > JP_EXPORT_MAX_TEXT || strlen(h->tz) > JP_EXPORT_MAX_TEXT)
        return jp_err_set(err, JP_EINVAL, "group or time zone name too long");
    jp_xw_t *w = calloc(1, sizeof *w);
    if (!w || !(w->buf = malloc(S_BUF)) || !(w->path = strdup(path)) ||
        jp_sha_new(&w->sha)) {
        if (w) {
            free(w->buf);
            free(w->path);
            jp_sha_destroy(&w->sha);
        }
        free(w);
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        free(w->buf);
        free(w->path);
        jp_sha_destroy(&w->sha);
        free(w);
        return jp_err_set(err, e == EEXIST ? JP_EEXIST : JP_EIO, "cannot create %s: %s",
                          path, strerror(e));
    }
    w->hdr = *h;
    s_arr(w, 10);
    s_uint(w, JP_XR_HEADER);
    s_str(w, JP_EXPORT_MAGIC);
    s_uint(w, JP_EXPORT_VERSION);
    s_uint(w, h->kind);
    s_str(w, h->group);
    s_str(w, h->tz);
    s_uint(w, h->store);
    s_uint(w, h->from);
    s_uint(w, h->to);
    s_uint(w, h->ms);
    *self_p = w;
    return 0;
}

int
jp_xw_key(jp_xw_t *w, uint16_t store, const uint8_t pub[JP_PUB_LEN])
{
    s_arr(w, 3);
    s_uint(w, JP_XR_KEY);
    s_uint(w, store);
    s_bin(w, pub, JP_PUB_LEN);
    return w->err ? JP_EIO : 0;
}

int
jp_xw_anchor(jp_xw_t *w, uint16_t store, uint64_t seq, const uint8_t hash[JP_HASH_LEN])
{
    s_arr(w, 4);
    s_uint(w, JP_XR_ANCHOR);
    s_uint(w, store);
    s_uint(w, seq);
    s_bin(w, hash, JP_HASH_LEN);
    return w->err ? JP_EIO : 0;
}

int
jp_xw_entry(jp_xw_t *w, uint64_t pos, uint16_t store, uint64_t seq, const uint8_t *p,
            size_t n)
{
    if (n > JP_MAX_CHANGE)
        return JP_ETOOBIG;
    s_arr(w, 5);
    s_uint(w, JP_XR_ENTRY);
    s_uint(w, pos);
    s_uint(w, store);
    s_uint(w, seq);
    s_bin(w, p, n);
    w->entries++;
    jp_sha256(p, n, w->head);
    return w->err ? JP_EIO : 0;
}

int
jp_xw_batch(jp_xw_t *w, uint16_t store, uint64_t first, uint64_t last, uint64_t ms,
            const uint8_t pub[JP_PUB_LEN], const uint8_t sig[JP_SIG_LEN])
{
    s_arr(w, 7);
    s_uint(w, JP_XR_BATCH);
    s_uint(w, store);
    s_uint(w, first);
    s_uint(w, last);
    s_uint(w, ms);
    s_bin(w, pub, JP_PUB_LEN);
    s_bin(w, sig, JP_SIG_LEN);
    return w->err ? JP_EIO : 0;
}

int
jp_xw_receipt(jp_xw_t *w, uint16_t store, uint64_t seq, uint64_t ms,
              const uint8_t sig[JP_SIG_LEN])
{
    s_arr(w, 5);
    s_uint(w, JP_XR_RECEIPT);
    s_uint(w, store);
    s_uint(w, seq);
    s_uint(w, ms);
    s_bin(w, sig, JP_SIG_LEN);
    return w->err ? JP_EIO : 0;
}

int
jp_xw_end(jp_xw_t *w, uint64_t pos, const uint8_t *digest, const jp_key_t *key,
          jp_err_t *err)
{
    jp_xend_t e = {.pos = pos, .entries = w->entries, .has_digest = digest != NULL};
    memcpy(e.head, w->head, JP_HASH_LEN);
    if (digest)
        memcpy(e.digest, digest, JP_HASH_LEN);
    s_flush(w); /* the file hash covers every byte written so far */
    if (w->err)
        return jp_err_set(err, JP_EIO, "writing %s: %s", w->path, strerror(w->err));
    int rc = jp_sha_final(w->sha, e.file_hash);
    if (rc)
        return jp_err_set(err, rc, "SHA-256 failed");
    uint8_t msg[JP_EXPORT_MSG_LEN];
    jp_export_msg(&w->hdr, &e, msg);
    jp_key_public(key, e.pub);
    if ((rc = jp_key_sign(key, msg, sizeof msg, e.sig)))
        return jp_err_set(err, rc, "signing the export failed");
    s_arr(w, 8);
    s_uint(w, JP_XR_END);
    s_uint(w, e.pos);
    s_uint(w, e.entries);
    s_bin(w, e.head, JP_HASH_LEN);
    if (digest) {
        s_bin(w, e.digest, JP_HASH_LEN);
    } else {
        uint8_t nil = 0xc0;
        s_put(w, &nil, 1);
    }
    s_bin(w, e.file_hash, JP_HASH_LEN);
    s_bin(w, e.pub, JP_PUB_LEN);
    s_bin(w, e.sig, JP_SIG_LEN);
    s_flush(w);
    if (!w->err && fsync(w->fd) != 0)
        w->err = errno;
    if (w->err)
        return jp_err_set(err, JP_EIO, "writing %s: %s", w->path, strerror(w->err));
    w->done = true;
    return 0;
}

void
jp_xw_close(jp_xw_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jp_xw_t *w = *self_p;
    close(w->fd);
    if (!w->done)
        unlink(w->path);
    jp_sha_destroy(&w->sha);
    free(w->buf);
    free(w->path);
    free(w);
    *self_p = NULL;
}

/* ---- reader ------------------------------------------------------------------ */

struct jp_xr {
    FILE *f;
    uint8_t *buf;  /* cap bytes */
    size_t cap;    /* S_BUF, less for a small file (>= 2 records) */
    size_t lo, hi; /* unread bytes are buf[lo..hi) */
    size_t hashed; /* buf[0..hashed) went into sha already */
    uint64_t base; /* file offset of buf[0] */
    uint64_t size; /* file size */
    bool eof;      /* fread reached the end */
    bool ended;    /* END was read */
    jp_sha_t *sha; /* over every byte before END */
    uint8_t file_hash[JP_HASH_LEN];
};

/* Keep at least S_MAX_RECORD bytes buffered unless the file ends first. */
static int
s_fill(jp_xr_t *r)
{
    if (r->hi - r->lo >= S_MAX_RECORD || r->eof)
        return 0;
    /* Hash what was consumed, then slide the rest to the front. */
    if (r->lo > r->hashed && jp_sha_update(r->sha, r->buf + r->hashed, r->lo - r->hashed))
        return JP_ECRYPTO;
    memmove(r->buf, r->buf + r->lo, r->hi - r->lo);
    r->base += r->lo;
    r->hi -= r->lo;
    r->lo = r->hashed = 0;
    while (!r->eof) {
        if (r->hi == r->cap) {
            if (r->cap >= 2 * S_MAX_RECORD)
                break;
            /* sized to a small file that has grown since: two records */
            uint8_t *b = realloc(r->buf, 2 * S_MAX_RECORD);
            if (!b)
                return JP_ENOMEM;
            r->buf = b;
            r->cap = 2 * S_MAX_RECORD;
        }
        size_t n = fread(r->buf + r->hi, 1, r->cap - r->hi, r->f);
        r->hi += n;
        if (n == 0) {
            if (ferror(r->f))
                return JP_EIO;
            r->eof = true;
        }
    }
    return 0;
}

int
jp_xr_open(jp_xr_t **self_p, const char *path, jp_err_t *err)
{
    assert(self_p && path);
    *self_p = NULL;
    jp_xr_t *r = calloc(1, sizeof *r);
    if (!r || jp_sha_new(&r->sha)) {
        free(r);
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    }
    *self_p = r;
    if (!(r->f = fopen(path, "rb"))) {
        int e = errno;
        jp_xr_close(self_p);
        return jp_err_set(err, e == ENOENT ? JP_ENOTFOUND : JP_EIO, "cannot open %s: %s",
                          path, strerror(e));
    }
    struct stat st;
    if (fstat(fileno(r->f), &st) == 0)
        r->size = (uint64_t)st.st_size;
    /* A small file needs no large buffer: its bytes and one more, to see
     * the end (s_fill makes room for two records if it grows).  A larger
     * one reads through a buffer of two records at least. */
    r->cap = r->size + 1 < S_BUF ? (size_t)r->size + 1 : S_BUF;
    if (r->cap < 2 * S_MAX_RECORD && r->size + 1 > S_MAX_RECORD)
        r->cap = 2 * S_MAX_RECORD;
    if (!(r->buf = malloc(r->cap))) {
        jp_xr_close(self_p);
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    }
    return 0;
}

void
jp_xr_close(jp_xr_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jp_xr_t *r = *self_p;
    if (r->f)
        fclose(r->f);
    jp_sha_destroy(&r->sha);
    free(r->buf);
    free(r);
    *self_p = NULL;
}

uint64_t
jp_xr_offset(const jp_xr_t *r)
{
    return r->base + r->lo;
}

uint64_t
jp_xr_size(const jp_xr_t *r)
{
    return r->size;
}

void
jp_xr_file_hash(const jp_xr_t *r, uint8_t out[JP_HASH_LEN])
{
    memcpy(out, r->file_hash, JP_HASH_LEN);
}

/* A cursor over one record's bytes. */
typedef struct {
    const uint8_t *p, *end;
    int rc;   /* first failure, sticky */
    bool cut; /* it was that the bytes ran out */
} s_cur_t;

static uint64_t
s_getn(s_cur_t *c, size_t n)
{
    if (c->rc || (size_t)(c->end - c->p) < n) {
        if (!c->rc)
            c->cut = true;
        c->rc = c->rc ? c->rc : JP_ECORRUPT;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | c->p[i];
    c->p += n;
    return v;
}

static unsigned
s_rarr(s_cur_t *c)
{
    uint64_t b = s_getn(c, 1);
    if (b >= 0x90 && b <= 0x9f)
        return (unsigned)(b & 0x0f);
    if (b == 0xdc)
        return (unsigned)s_getn(c, 2);
    if (!c->rc)
        c->rc = JP_ECORRUPT;
    return 0;
}

static uint64_t
s_ruint(s_cur_t *c)
{
    uint64_t b = s_getn(c, 1);
    if (c->rc)
        return 0;
    if (b < 0x80)
        return b;
    switch (b) {
    case 0xcc:
        return s_getn(c, 1);
    case 0xcd:
        return s_getn(c, 2);
    case 0xce:
        return s_getn(c, 4);
    case 0xcf:
        return s_getn(c, 8);
    }
    c->rc = JP_ECORRUPT;
    return 0;
}

static uint16_t
s_ru16(s_cur_t *c)
{
    uint64_t v = s_ruint(c);
    if (v > 0xffff && !c->rc)
        c->rc = JP_ECORRUPT;
    return (uint16_t)v;
}

/* A bin of at most max bytes; its bytes borrow from the buffer. */
static const uint8_t *
s_rbin(s_cur_t *c, size_t max, size_t *n)
{
    uint64_t b = s_getn(c, 1), len = 0;
    if (b == 0xc4)
        len = s_getn(c, 1);
    else if (b == 0xc5)
        len = s_getn(c, 2);
    else if (b == 0xc6)
        len = s_getn(c, 4);
    else if (!c->rc)
        c->rc = JP_ECORRUPT;
    if (c->rc)
        return NULL;
    if (len > max) {
        c->rc = JP_ETOOBIG;
        return NULL;
    }
    if ((uint64_t)(c->end - c->p) < len) {
        c->rc = JP_ECORRUPT;
        c->cut = true;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += len;
    *n = (size_t)len;
    return p;
}

/* A bin of exactly n bytes into out. */
static void
s_rfix(s_cur_t *c, uint8_t *out, size_t n)
{
    size_t got = 0;
    const uint8_t *p = s_rbin(c, n, &got);
    if (p && got != n)
        c->rc = JP_ECORRUPT;
    if (p && !c->rc)
        memcpy(out, p, n);
}

static void
s_rstr(s_cur_t *c, char *out, size_t cap)
{
    uint64_t b = s_getn(c, 1), len = 0;
    if (b >= 0xa0 && b <= 0xbf)
        len = b & 0x1f;
    else if (b == 0xd9)
        len = s_getn(c, 1);
    else if (b == 0xda)
        len = s_getn(c, 2);
    else if (!c->rc)
        c->rc = JP_ECORRUPT;
    if (c->rc)
        return;
    if (len >= cap) {
        c->rc = JP_ETOOBIG;
        return;
    }
    if ((uint64_t)(c->end - c->p) < len) {
        c->rc = JP_ECORRUPT;
        c->cut = true;
        return;
    }
    memcpy(out, c->p, len);
    out[len] = '\0';
    c->p += len;
}

int
jp_change_peek(const uint8_t *p, size_t n, jp_chead_t *out)
{
    s_cur_t c = {p, p + n, 0, false};
    if (s_rarr(&c) != 9 || c.rc)
        return JP_ECORRUPT;
    uint64_t v = s_ruint(&c);
    if (!c.rc && v != JP_CODEC_VERSION)
        return JP_EVERSION;
    out->store = s_ru16(&c);
    out->seq = s_ruint(&c);
    out->hlc = s_ruint(&c);
    size_t bn = 0;
    const uint8_t *id = s_rbin(&c, 16, &bn);
    if (id && bn != 16)
        c.rc = JP_ECORRUPT;
    if (id && bn == 16)
        memcpy(out->id.b, id, 16);
    out->kind = (uint8_t)s_ruint(&c);
    uint64_t b = s_getn(&c, 1), len = 0;
    if (b >= 0xa0 && b <= 0xbf)
        len = b & 0x1f;
    else if (b == 0xd9)
        len = s_getn(&c, 1);
    else if (!c.rc)
        c.rc = JP_ECORRUPT;
    if (!c.rc && (uint64_t)(c.end - c.p) < len)
        c.rc = JP_ECORRUPT;
    if (!c.rc)
        c.p += len;
    s_rfix(&c, out->prev, JP_HASH_LEN);
    return c.rc ? JP_ECORRUPT : 0;
}

static const char *
s_type_name(int t)
{
    static const char *const names[] = {"?",     "HEADER", "KEY",     "ANCHOR",
                                        "ENTRY", "BATCH",  "RECEIPT", "END"};
    return t >= 1 && t <= 7 ? names[t] : names[0];
}

int
jp_xr_next(jp_xr_t *r, jp_xrec_t *rec, jp_err_t *err)
{
    int rc = s_fill(r);
    if (rc)
        return jp_err_set(err, rc, "reading the export: %s", strerror(errno));
    uint64_t off = jp_xr_offset(r);
    if (r->lo == r->hi)
        return r->ended ? 0
                        : jp_err_set(err, JP_ECORRUPT,
                                     "the file ends at byte %llu without its END record "
                                     "(truncated)",
                                     (unsigned long long)off);
    if (r->ended)
        return jp_err_set(err, JP_ECORRUPT, "byte %llu: data after the END record",
                          (unsigned long long)off);
    s_cur_t c = {r->buf + r->lo, r->buf + r->hi, 0, false};
    unsigned n = s_rarr(&c);
    uint64_t type = c.rc ? 0 : s_ruint(&c);
    memset(rec, 0, sizeof *rec);
    rec->type = (uint8_t)type;
    rec->offset = off;
    static const unsigned want[8] = {0, 10, 3, 4, 5, 7, 5, 8};
    if (!c.rc && (type < 1 || type > 7))
        return jp_err_set(err, JP_ECORRUPT, "byte %llu: unknown record type %llu",
                          (unsigned long long)off, (unsigned long long)type);
    if (!c.rc && off == 0 && type != JP_XR_HEADER)
        return jp_err_set(err, JP_ECORRUPT,
                          "not an export file: it does not start "
                          "with a HEADER record");
    if (!c.rc && n != want[type])
        return jp_err_set(err, JP_ECORRUPT,
                          "byte %llu: a %s record has %u elements, not %u",
                          (unsigned long long)off, s_type_name((int)type), n, want[type]);
    size_t bn = 0;
    switch (c.rc ? 0 : type) {
    case JP_XR_HEADER: {
        char magic[16];
        s_rstr(&c, magic, sizeof magic);
        if (!c.rc && strcmp(magic, JP_EXPORT_MAGIC) != 0)
            return jp_err_set(err, JP_ECORRUPT, "not an export file (magic '%s')", magic);
        uint64_t v = s_ruint(&c);
        if (!c.rc && v != JP_EXPORT_VERSION)
            return jp_err_set(err, JP_EVERSION,
                              "export format version %llu; this program reads version %d",
                              (unsigned long long)v, JP_EXPORT_VERSION);
        jp_xhdr_t *h = &rec->u.hdr;
        h->kind = (uint8_t)s_ruint(&c);
        s_rstr(&c, h->group, sizeof h->group);
        s_rstr(&c, h->tz, sizeof h->tz);
        h->store = s_ru16(&c);
        h->from = s_ruint(&c);
        h->to = s_ruint(&c);
        h->ms = s_ruint(&c);
        if (!c.rc && h->kind != JP_XK_GROUP && h->kind != JP_XK_STORE)
            return jp_err_set(err, JP_ECORRUPT, "unknown export kind %u", h->kind);
        break;
    }
    case JP_XR_KEY:
        rec->u.key.store = s_ru16(&c);
        s_rfix(&c, rec->u.key.pub, JP_PUB_LEN);
        break;
    case JP_XR_ANCHOR:
        rec->u.anchor.store = s_ru16(&c);
        rec->u.anchor.seq = s_ruint(&c);
        s_rfix(&c, rec->u.anchor.hash, JP_HASH_LEN);
        break;
    case JP_XR_ENTRY:
        rec->u.entry.pos = s_ruint(&c);
        rec->u.entry.store = s_ru16(&c);
        rec->u.entry.seq = s_ruint(&c);
        rec->u.entry.p = s_rbin(&c, JP_MAX_CHANGE, &bn);
        rec->u.entry.n = bn;
        break;
    case JP_XR_BATCH:
        rec->u.batch.store = s_ru16(&c);
        rec->u.batch.first = s_ruint(&c);
        rec->u.batch.last = s_ruint(&c);
        rec->u.batch.ms = s_ruint(&c);
        s_rfix(&c, rec->u.batch.pub, JP_PUB_LEN);
        s_rfix(&c, rec->u.batch.sig, JP_SIG_LEN);
        break;
    case JP_XR_RECEIPT:
        rec->u.receipt.store = s_ru16(&c);
        rec->u.receipt.seq = s_ruint(&c);
        rec->u.receipt.ms = s_ruint(&c);
        s_rfix(&c, rec->u.receipt.sig, JP_SIG_LEN);
        break;
    case JP_XR_END: {
        jp_xend_t *e = &rec->u.end;
        e->pos = s_ruint(&c);
        e->entries = s_ruint(&c);
        s_rfix(&c, e->head, JP_HASH_LEN);
        if (!c.rc && c.p < c.end && *c.p == 0xc0) {
            c.p++;
        } else {
            s_rfix(&c, e->digest, JP_HASH_LEN);
            e->has_digest = true;
        }
        s_rfix(&c, e->file_hash, JP_HASH_LEN);
        s_rfix(&c, e->pub, JP_PUB_LEN);
        s_rfix(&c, e->sig, JP_SIG_LEN);
        break;
    }
    }
    if (c.rc == JP_ETOOBIG)
        return jp_err_set(err, JP_ETOOBIG,
                          "byte %llu: a %s record has a value over its "
                          "size limit",
                          (unsigned long long)off, s_type_name((int)type));
    /* The buffer holds a whole record unless the file ends first: bytes
     * running out with the file read to its end is a cut file. */
    if (c.rc && c.cut && r->eof)
        return jp_err_set(err, JP_ECORRUPT,
                          "the file ends at byte %llu, inside the %s record that starts "
                          "at byte %llu (truncated)",
                          (unsigned long long)(r->base + r->hi),
                          type >= 1 && type <= 7 ? s_type_name((int)type) : "last",
                          (unsigned long long)off);
    if (c.rc)
        return jp_err_set(err, JP_ECORRUPT,
                          "byte %llu: a malformed or truncated %s record",
                          (unsigned long long)off, s_type_name((int)type));
    size_t used = (size_t)(c.p - (r->buf + r->lo));
    if (type == JP_XR_END) {
        /* The file hash: every byte before this record. */
        if (r->lo > r->hashed &&
            jp_sha_update(r->sha, r->buf + r->hashed, r->lo - r->hashed))
            return jp_err_set(err, JP_ECRYPTO, "SHA-256 failed");
        r->hashed = r->lo + used;
        if (jp_sha_final(r->sha, r->file_hash))
            return jp_err_set(err, JP_ECRYPTO, "SHA-256 failed");
        r->ended = true;
    }
    r->lo += used;
    if (r->ended)
        r->hashed = r->lo;
    return 1;
}
