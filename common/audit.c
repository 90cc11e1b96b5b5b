/*
 * audit.c -- verify, replay and history over an export file (audit.h).
 *
 * The one idea of verify: a store's changes are authenticated backwards.
 * Entries wait in their store's window until a BATCH record whose
 * signature verifies closes it; that signature proves the hash of the
 * batch's last change, whose prev proves the one before, down to the last
 * change already proven.  Walking the window from the top, the first
 * change whose hash is not what its successor commits to is the altered
 * one; a batch whose signature fails stays in the window and is judged by
 * the next good one (its changes intact: the signature was forged; one
 * changed: that change was).  Structure -- positions, gapless seqs, each
 * change written as its own store, batches and receipts in their places
 * -- is checked as each record arrives.
 */
#include "audit.h"

#include "attest.h"
#include "codec.h"
#include "record.h"
#include "report.h"
#include "validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_WINDOW (4u << 20) /* unauthenticated changes one store may have */
#define S_PROGRESS_EVERY 65536  /* entries between progress calls */
#define S_REPLAY_TXN 50000      /* entries per replay transaction */

/* ---- verify: state -------------------------------------------------------- */

typedef struct {
    uint64_t index, pos, seq;
    uint8_t hash[JP_HASH_LEN]; /* SHA-256 of the change */
    uint8_t prev[JP_HASH_LEN]; /* what it says the one before hashes to */
} s_pend_t;

/* A batch whose signature did not verify, waiting for judgement. */
typedef struct {
    uint64_t first, last, index, pos;
    bool bad_key; /* signed by a key that is not the store's */
} s_failb_t;

/* A store's own export, for the cross-check. */
typedef struct {
    const char *file;
    uint64_t from; /* seq of hash[0] */
    uint64_t n;    /* seqs held */
    uint8_t (*hash)[JP_HASH_LEN];
    struct {
        uint64_t seq, ms;
        uint8_t sig[JP_SIG_LEN];
    } * rc; /* its receipts */
    size_t nrc;
    uint8_t server_key[JP_PUB_LEN];
    bool has_server_key;
    uint8_t (*keys)[JP_PUB_LEN]; /* the store's own keys */
    int nkeys;
    uint64_t ms; /* when exported */
} s_view_t;

typedef struct {
    uint16_t id;       /* the store's number */
    bool broken;       /* a fault was found: no more checks */
    bool seen;         /* has entries here */
    uint64_t next_seq; /* seq due next */
    uint64_t last_seq; /* of the last entry, 0 none */
    uint64_t last_pos; /* its position */
    uint8_t last_hash[JP_HASH_LEN];
    uint64_t base_seq; /* last authenticated change (or anchor) */
    uint8_t base_hash[JP_HASH_LEN];
    s_pend_t *pend; /* the window: changes after base_seq */
    size_t npend, cappend;
    s_failb_t *fail; /* failed batches in the window, ascending */
    size_t nfail, capfail;
    struct {
        uint64_t index, pos, seq;
    } * rfail; /* receipts that failed over a change of the window */
    size_t nrfail, caprfail;
    uint8_t (*keys)[JP_PUB_LEN]; /* KEY records of this store */
    int nkeys;
    uint8_t (*pins)[JP_PUB_LEN]; /* its keys as its key files state them */
    int npins;
    const char *pin_file; /* the (last) key file, NULL: not pinned */
    s_view_t *view;       /* its own export, when given */
} s_st_t;

typedef struct {
    jp_averify_t *out;
    const jp_averify_opts_t *o;
    s_st_t **st;   /* the stores seen, open addressing by id (NULL: empty) */
    size_t capst;  /* slots (a power of 2, 0 before the first store) */
    s_st_t **byid; /* the same stores, in the order seen; sorted by id at the end */
    size_t nst;    /* how many */
    uint8_t server_key[JP_PUB_LEN];
    bool have_server_key;
    uint64_t index;            /* entries read */
    uint64_t expect_pos;       /* position due next */
    int last_type;             /* previous record's type */
    uint16_t last_store;       /* its store, for BATCH/RECEIPT placement */
    uint64_t last_seq;         /* its seq */
    uint64_t pos_alt;          /* after a position fault: also due next, when only
                                  the faulty entry's position was changed (0: none) */
    uint64_t pos_hole;         /* ... and the position it skipped, which may still
                                  come (two entries swapped) */
    uint8_t head[JP_HASH_LEN]; /* hash of the last entry's change */
    s_view_t *views;
    int nviews;
    bool hdr_bad;          /* the header contradicts itself (named once) */
    bool keys_done;        /* the KEY records are read and judged */
    bool hash_bad;         /* END's file hash is not the file's */
    uint64_t batch_ms;     /* accepted time of the previous BATCH (group) */
    uint64_t batch_ms_pos; /* its position */
    uint16_t batch_ms_store;
    int rc; /* out of memory, sticky */
} s_ver_t;

static void __attribute__((format(printf, 7, 8)))
s_fault(s_ver_t *v, uint64_t index, uint64_t pos, uint16_t store, uint64_t seq, int code,
        const char *fmt, ...)
{
    jp_averify_t *out = v->out;
    out->nfaults++;
    if (out->nfaults > 1 && index >= out->first.index)
        return;
    jp_afault_t *f = &out->first;
    f->index = index;
    f->pos = pos;
    f->store = store;
    f->seq = seq;
    f->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->what, sizeof f->what, fmt, ap);
    va_end(ap);
}

/* The stores a file names are few (a group's dealers) and their numbers
 * sparse: a small table, grown by doubling, keeps verify's cost that of
 * the file and not of the 65,536 numbers a store may have. */
static size_t
s_slot(const s_ver_t *v, uint16_t store)
{
    uint32_t h = store * 2654435769u; /* Fibonacci hashing: numbers 16 apart spread */
    size_t mask = v->capst - 1, i = (h ^ h >> 16) & mask;
    while (v->st[i] && v->st[i]->id != store)
        i = (i + 1) & mask;
    return i;
}

/* The store's state, NULL when the file has not named it. */
static s_st_t *
s_find(const s_ver_t *v, uint16_t store)
{
    return v->capst ? v->st[s_slot(v, store)] : NULL;
}

static int
s_grow(s_ver_t *v)
{
    size_t cap = v->capst ? v->capst * 2 : 16;
    s_st_t **st = calloc(cap, sizeof *st);
    s_st_t **byid = realloc(v->byid, cap / 2 * sizeof *byid);
    if (!st || !byid) {
        free(st);
        if (byid)
            v->byid = byid;
        return JP_ENOMEM;
    }
    free(v->st);
    v->st = st;
    v->capst = cap;
    v->byid = byid;
    for (size_t i = 0; i < v->nst; i++)
        v->st[s_slot(v, v->byid[i]->id)] = v->byid[i];
    return 0;
}

/* The store's state, created on first use (NULL: out of memory). */
static s_st_t *
s_store(s_ver_t *v, uint16_t store)
{
    s_st_t *s = s_find(v, store);
    if (s)
        return s;
    /* at most half full: probes stay short */
    if (v->nst + 1 > v->capst / 2 && s_grow(v)) {
        v->rc = JP_ENOMEM;
        return NULL;
    }
    if (!(s = calloc(1, sizeof *s))) {
        v->rc = JP_ENOMEM;
        return NULL;
    }
    s->id = store;
    s->next_seq = 1;
    v->st[s_slot(v, store)] = s;
    v->byid[v->nst++] = s;
    return s;
}

static int
s_id_cmp(const void *x, const void *y)
{
    const s_st_t *a = *(s_st_t *const *)x, *b = *(s_st_t *const *)y;
    return (a->id > b->id) - (a->id < b->id);
}

/* The stores seen in ascending order of number, as the faults are judged. */
static void
s_sort_stores(s_ver_t *v)
{
    if (v->nst > 1)
        qsort(v->byid, v->nst, sizeof *v->byid, s_id_cmp);
}

static void
s_store_free(s_st_t *s)
{
    if (!s)
        return;
    free(s->pend);
    free(s->fail);
    free(s->rfail);
    free(s->keys);
    free(s->pins);
    free(s);
}

static void
s_short(const uint8_t *p, char out[17])
{
    jp_hex(p, 8, out);
}

/* A failed batch judged: why, unless its key was the fault. */
static void
s_fault_batch(s_ver_t *v, uint16_t store, const s_failb_t *f, const char *why)
{
    if (f->bad_key)
        s_fault(
            v, f->index, f->pos, store, f->last, JP_ESIG,
            "position %llu, store %u batch %llu..%llu: signed by a key that is not one "
            "of store %u's keys",
            (unsigned long long)f->pos, store, (unsigned long long)f->first,
            (unsigned long long)f->last, store);
    else
        s_fault(v, f->index, f->pos, store, f->last, JP_ESIG,
                "position %llu, store %u batch %llu..%llu: %s",
                (unsigned long long)f->pos, store, (unsigned long long)f->first,
                (unsigned long long)f->last, why);
}

static void
s_fault_receipt(s_ver_t *v, uint16_t store, uint64_t index, uint64_t pos, uint64_t seq)
{
    s_fault(v, index, pos, store, seq, JP_ESIG,
            "position %llu, store %u seq %llu: the server's receipt does not verify "
            "against this change (the receipt was altered, or the change before the "
            "server signed it)",
            (unsigned long long)pos, store, (unsigned long long)seq);
}

/* The window judged: each receipt that failed over one of its changes is a
 * fault, but for one over the change named altered (it fails because of
 * that change, and that is one fault). */
static void
s_judge_receipts(s_ver_t *v, uint16_t store, s_st_t *s, uint64_t named)
{
    for (size_t i = 0; i < s->nrfail; i++)
        if (s->rfail[i].seq != named)
            s_fault_receipt(v, store, s->rfail[i].index, s->rfail[i].pos,
                            s->rfail[i].seq);
    s->nrfail = 0;
}

/* The window from the top down, against expected hash of its top (proven
 * when proven is true).  Judges failed batches on the way.  Clears it. */
static void
s_walk(s_ver_t *v, uint16_t store, s_st_t *s, uint64_t cover_lo, bool proven)
{
    uint8_t expected[JP_HASH_LEN];
    if (s->npend == 0)
        return;
    memcpy(expected, s->pend[s->npend - 1].hash, JP_HASH_LEN);
    size_t fi = s->nfail;
    bool broke = false;
    uint64_t named = 0;
    for (size_t i = s->npend; i-- > 0;) {
        s_pend_t *p = &s->pend[i];
        if (memcmp(p->hash, expected, JP_HASH_LEN) != 0) {
            s_fault(v, p->index, p->pos, store, p->seq, JP_ECHAIN,
                    "position %llu, store %u seq %llu: its bytes are not the change that "
                    "seq %llu's prev hash commits to (altered)",
                    (unsigned long long)p->pos, store, (unsigned long long)p->seq,
                    (unsigned long long)p->seq + 1);
            broke = true;
            named = p->seq;
            /* Below the altered change nothing is proven, but a batch
             * signature that fails there is a fault of its own (the one
             * ending at this change fails because of it: not again). */
            for (; fi > 0; fi--)
                if (s->fail[fi - 1].last < p->seq)
                    s_fault_batch(v, store, &s->fail[fi - 1],
                                  "its signature does not verify over its last change "
                                  "(the change or the signature was altered)");
            break;
        }
        while (fi > 0 && s->fail[fi - 1].last > p->seq)
            fi--;
        if (fi > 0 && s->fail[fi - 1].last == p->seq) {
            s_failb_t *f = &s->fail[fi - 1];
            if (proven)
                s_fault_batch(v, store, f,
                              "its signature does not verify (re-signed or "
                              "forged; the changes themselves are intact)");
            if (f->first < cover_lo)
                cover_lo = f->first;
            fi--;
        }
        if (p->seq < cover_lo) {
            s_fault(v, p->index, p->pos, store, p->seq, JP_ESIG,
                    "position %llu, store %u seq %llu: no signed batch in the export "
                    "covers it",
                    (unsigned long long)p->pos, store, (unsigned long long)p->seq);
            broke = true;
            break;
        }
        memcpy(expected, p->prev, JP_HASH_LEN);
    }
    if (!broke && memcmp(expected, s->base_hash, JP_HASH_LEN) != 0) {
        s_pend_t *p = &s->pend[0];
        s_fault(v, p->index, p->pos, store, p->seq, JP_ECHAIN,
                "position %llu, store %u seq %llu: its prev hash is not the hash of seq "
                "%llu before it",
                (unsigned long long)p->pos, store, (unsigned long long)p->seq,
                (unsigned long long)s->base_seq);
    }
    s->base_seq = s->pend[s->npend - 1].seq;
    memcpy(s->base_hash, s->pend[s->npend - 1].hash, JP_HASH_LEN);
    s->npend = s->nfail = 0;
    s_judge_receipts(v, store, s, named);
}

/* End of file: what is still unproven in a store's window.  Nothing
 * proves its top, so the chain is checked as it stands, from the top down:
 * the first broken link names the change below it; every batch whose
 * signature failed is a fault of its own, but for the one ending at the
 * change named (it fails because of that change). */
static void
s_unproven(s_ver_t *v, uint16_t store, s_st_t *s)
{
    if (s->npend == 0 || s->broken)
        return;
    if (s->nfail == 0) {
        s_pend_t *p = &s->pend[0];
        s_fault(v, p->index, p->pos, store, p->seq, JP_ESIG,
                "position %llu, store %u seq %llu: no signed batch in the export covers "
                "it (its batch record is missing)",
                (unsigned long long)p->pos, store, (unsigned long long)p->seq);
        s_judge_receipts(v, store, s, 0);
        return;
    }
    uint64_t named = 0; /* seq of the change named altered */
    for (size_t i = s->npend - 1; i > 0 && !named; i--) {
        if (memcmp(s->pend[i].prev, s->pend[i - 1].hash, JP_HASH_LEN) != 0) {
            s_pend_t *p = &s->pend[i - 1];
            s_fault(v, p->index, p->pos, store, p->seq, JP_ECHAIN,
                    "position %llu, store %u seq %llu: its bytes are not the change that "
                    "seq %llu's prev hash commits to (altered)",
                    (unsigned long long)p->pos, store, (unsigned long long)p->seq,
                    (unsigned long long)p->seq + 1);
            named = p->seq;
        }
    }
    if (!named && memcmp(s->pend[0].prev, s->base_hash, JP_HASH_LEN) != 0) {
        s_pend_t *p = &s->pend[0];
        s_fault(v, p->index, p->pos, store, p->seq, JP_ECHAIN,
                "position %llu, store %u seq %llu: its prev hash is not the hash of seq "
                "%llu before it",
                (unsigned long long)p->pos, store, (unsigned long long)p->seq,
                (unsigned long long)s->base_seq);
        named = p->seq;
    }
    for (size_t i = 0; i < s->nfail; i++)
        if (s->fail[i].last != named)
            s_fault_batch(v, store, &s->fail[i],
                          "its signature does not verify over its last change (the "
                          "change or the signature was altered)");
    s_judge_receipts(v, store, s, named);
}

/* ---- verify: records -------------------------------------------------------- */

static void
s_on_key(s_ver_t *v, const jp_xrec_t *r)
{
    if (v->keys_done && v->index == 0) {
        s_fault(v, 0, 0, r->u.key.store, 0, JP_ECORRUPT,
                "byte %llu: a KEY record after the ANCHOR records",
                (unsigned long long)r->offset);
        return;
    }
    if (v->index > 0) {
        s_fault(v, v->index, 0, r->u.key.store, 0, JP_ECORRUPT,
                "byte %llu: a KEY record after the entries began",
                (unsigned long long)r->offset);
        return;
    }
    s_st_t *s = s_store(v, r->u.key.store);
    if (!s)
        return;
    void *k = realloc(s->keys, (size_t)(s->nkeys + 1) * JP_PUB_LEN);
    if (!k) {
        v->rc = JP_ENOMEM;
        return;
    }
    s->keys = k;
    memcpy(s->keys[s->nkeys++], r->u.key.pub, JP_PUB_LEN);
    if (r->u.key.store == 0) {
        char a[17], b[17];
        if (v->o && v->o->server_key)
            v->out->server_pinned = true;
        if (v->o && v->o->server_key &&
            memcmp(v->o->server_key, r->u.key.pub, JP_PUB_LEN) != 0) {
            s_short(r->u.key.pub, a);
            s_short(v->o->server_key, b);
            s_fault(v, 0, 0, 0, 0, JP_ESIG,
                    "the export's server key %s... is not the pinned server key %s...", a,
                    b);
        }
        if (v->have_server_key && memcmp(v->server_key, r->u.key.pub, JP_PUB_LEN) != 0) {
            s_fault(v, 0, 0, 0, 0, JP_ECORRUPT, "the export lists two server keys");
        }
        memcpy(v->server_key, r->u.key.pub, JP_PUB_LEN);
        v->have_server_key = true;
    }
}

static bool
s_has_key(const s_st_t *s, const uint8_t *pub)
{
    for (int i = 0; i < s->nkeys; i++)
        if (memcmp(s->keys[i], pub, JP_PUB_LEN) == 0)
            return true;
    return false;
}

static bool
s_pinned(const s_st_t *s, const uint8_t *pub)
{
    for (int i = 0; i < s->npins; i++)
        if (memcmp(s->pins[i], pub, JP_PUB_LEN) == 0)
            return true;
    return false;
}

/* The KEY records are all read: a store key that is the server's, or that
 * a store's key file does not hold, is a fault and not the store's (its
 * batches then fail as signed by another key). */
static void
s_keys_done(s_ver_t *v)
{
    jp_averify_t *out = v->out;
    char a[17];
    v->keys_done = true;
    s_sort_stores(v);
    for (size_t j = 0; j < v->nst; j++) {
        s_st_t *s = v->byid[j];
        unsigned st = s->id;
        if (st == 0 || s->nkeys == 0)
            continue;
        out->key_stores++;
        if (s->pin_file)
            out->pinned++;
        int kept = 0;
        for (int i = 0; i < s->nkeys; i++) {
            s_short(s->keys[i], a);
            if (v->have_server_key && !memcmp(s->keys[i], v->server_key, JP_PUB_LEN)) {
                s_fault(v, 0, 0, (uint16_t)st, 0, JP_ESIG,
                        "the export lists the server's own key %s... as a key of store "
                        "%u: a store never holds the server's key (what the server signs "
                        "would pass as the store's)",
                        a, st);
                continue;
            }
            if (s->pin_file && !s_pinned(s, s->keys[i])) {
                s_fault(v, 0, 0, (uint16_t)st, 0, JP_ESIG,
                        "the export lists key %s... for store %u, which store %u's key "
                        "file %s does not hold (not the store's key)",
                        a, st, st, s->pin_file);
                continue;
            }
            memmove(s->keys[kept++], s->keys[i], JP_PUB_LEN);
        }
        s->nkeys = kept;
    }
}

/* A store's key file: its keys pinned for that store. */
static int
s_pin_load(s_ver_t *v, const char *file, jp_err_t *err)
{
    jp_attest_t a;
    jp_err_t e = {0};
    int rc = jp_attest_read(file, &a, &e);
    if (rc == JP_ENOTFOUND || rc == JP_EIO)
        return jp_err_set(err, rc, "%s", e.msg);
    if (rc) {
        s_fault(v, 0, 0, 0, 0, rc, "the store key file %s", e.msg);
        return 0;
    }
    v->out->key_files++;
    if (strcmp(a.group, v->out->hdr.group) != 0) {
        s_fault(v, 0, 0, a.store, 0, JP_EINVAL,
                "the store key file %s is store %u's of group %s; the export is of "
                "group %s",
                file, a.store, a.group, v->out->hdr.group);
        return 0;
    }
    s_st_t *s = s_store(v, a.store);
    if (!s)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    void *p = realloc(s->pins, (size_t)(s->npins + a.nkeys) * JP_PUB_LEN);
    if (!p)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    s->pins = p;
    for (int i = 0; i < a.nkeys; i++)
        if (!s_pinned(s, a.keys[i]))
            memcpy(s->pins[s->npins++], a.keys[i], JP_PUB_LEN);
    s->pin_file = file;
    return 0;
}

static void
s_on_anchor(s_ver_t *v, const jp_xrec_t *r)
{
    uint16_t store = r->u.anchor.store;
    s_st_t *s = s_store(v, store);
    if (!s)
        return;
    if (v->index > 0 || s->seen || s->base_seq) {
        s_fault(v, v->index, 0, store, r->u.anchor.seq, JP_ECORRUPT,
                "byte %llu: an ANCHOR of store %u out of place",
                (unsigned long long)r->offset, store);
        return;
    }
    s->base_seq = r->u.anchor.seq;
    memcpy(s->base_hash, r->u.anchor.hash, JP_HASH_LEN);
    s->next_seq = s->base_seq + 1;
}

static void
s_on_entry(s_ver_t *v, const jp_xrec_t *r)
{
    const jp_xentry_t *e = &r->u.entry;
    jp_averify_t *out = v->out;
    uint64_t ix = ++v->index;
    out->entries++;
    out->change_bytes += e->n;
    v->last_type = JP_XR_ENTRY;
    v->last_store = e->store;
    v->last_seq = e->seq;
    /* Positions are labels: one wrong label is one fault, so after a
     * mismatch the next entry may also continue from the position that was
     * due, or fill it (two entries swapped). */
    uint64_t due = v->expect_pos;
    bool pos_ok = e->pos == due, hole = false;
    if (!pos_ok && v->pos_alt && e->pos == v->pos_alt)
        pos_ok = true;
    else if (!pos_ok && v->pos_hole && e->pos == v->pos_hole)
        pos_ok = hole = true;
    v->pos_alt = v->pos_hole = 0;
    if (!pos_ok) {
        v->pos_alt = due + 1;
        v->pos_hole = due;
    }
    if (!hole)
        v->expect_pos = e->pos + 1;
    uint8_t hash[JP_HASH_LEN];
    jp_sha256(e->p, e->n, hash);
    memcpy(v->head, hash, JP_HASH_LEN);
    s_st_t *s = s_store(v, e->store);
    if (!s)
        return;
    if (!s->seen) {
        s->seen = true;
        out->stores++;
    }
    if (out->hdr.kind == JP_XK_STORE && e->store != out->hdr.store && !v->hdr_bad) {
        s_fault(v, ix, e->pos, e->store, e->seq, JP_EPERM,
                "position %llu: a change of store %u in store %u's own export",
                (unsigned long long)e->pos, e->store, out->hdr.store);
        s->broken = true;
        return;
    }
    if (s->broken)
        return;
    jp_chead_t h;
    int rc = jp_change_peek(e->p, e->n, &h);
    if (rc) {
        s_fault(v, ix, e->pos, e->store, e->seq, JP_ECORRUPT,
                "position %llu, store %u seq %llu: the change does not decode",
                (unsigned long long)e->pos, e->store, (unsigned long long)e->seq);
        s->broken = true;
        return;
    }
    if (h.store != e->store || h.seq != e->seq) {
        s_fault(
            v, ix, e->pos, e->store, e->seq, JP_EPERM,
            "position %llu: the entry says store %u seq %llu, but the change is written "
            "as store %u seq %llu",
            (unsigned long long)e->pos, e->store, (unsigned long long)e->seq, h.store,
            (unsigned long long)h.seq);
        s->broken = true;
        return;
    }
    if (e->seq != s->next_seq) {
        if (e->seq < s->next_seq)
            s_fault(
                v, ix, e->pos, e->store, e->seq, JP_ECHAIN,
                "position %llu, store %u seq %llu: appears again (the store's log is at "
                "seq %llu here): a duplicate, or moved",
                (unsigned long long)e->pos, e->store, (unsigned long long)e->seq,
                (unsigned long long)s->next_seq - 1);
        else
            s_fault(
                v, ix, due, e->store, s->next_seq, JP_ECHAIN,
                "store %u seq %llu is missing (removed, or moved later): position %llu "
                "holds seq %llu",
                e->store, (unsigned long long)s->next_seq, (unsigned long long)e->pos,
                (unsigned long long)e->seq);
        s->broken = true;
        return;
    }
    if (!pos_ok && ix == 1)
        s_fault(v, ix, e->pos, e->store, e->seq, JP_ECHAIN,
                "position %llu, store %u seq %llu: the first entry, but the HEADER's "
                "from is %llu (the header or this entry's position was altered)",
                (unsigned long long)e->pos, e->store, (unsigned long long)e->seq,
                (unsigned long long)due);
    else if (!pos_ok)
        s_fault(v, ix, e->pos, e->store, e->seq, JP_ECHAIN,
                "position %llu, store %u seq %llu: comes where position %llu is due "
                "(entries removed, inserted or reordered)",
                (unsigned long long)e->pos, e->store, (unsigned long long)e->seq,
                (unsigned long long)due);
    s_pend_t *p;
    if (s->npend == s->cappend) {
        if (s->npend >= S_MAX_WINDOW) {
            s_fault(v, ix, e->pos, e->store, e->seq, JP_ESIG,
                    "position %llu, store %u seq %llu: over %u changes without a signed "
                    "batch",
                    (unsigned long long)e->pos, e->store, (unsigned long long)e->seq,
                    S_MAX_WINDOW);
            s->broken = true;
            return;
        }
        size_t cap = s->cappend ? s->cappend * 2 : 256;
        void *np = realloc(s->pend, cap * sizeof *s->pend);
        if (!np) {
            v->rc = JP_ENOMEM;
            return;
        }
        s->pend = np;
        s->cappend = cap;
    }
    p = &s->pend[s->npend++];
    p->index = ix;
    p->pos = e->pos;
    p->seq = e->seq;
    memcpy(p->hash, hash, JP_HASH_LEN);
    memcpy(p->prev, h.prev, JP_HASH_LEN);
    memcpy(s->last_hash, p->hash, JP_HASH_LEN);
    s->last_seq = e->seq;
    s->last_pos = e->pos;
    s->next_seq = e->seq + 1;

    s_view_t *w = s->view;
    if (w) {
        if (e->seq >= w->from && e->seq - w->from < w->n) {
            if (memcmp(w->hash[e->seq - w->from], p->hash, JP_HASH_LEN) != 0)
                s_fault(
                    v, ix, e->pos, e->store, e->seq, JP_ECHAIN,
                    "position %llu, store %u seq %llu: differs from the change at that "
                    "seq in the store's own export %s",
                    (unsigned long long)e->pos, e->store, (unsigned long long)e->seq,
                    w->file);
        } else if (e->seq >= w->from + w->n && w->ms >= out->hdr.ms) {
            s_fault(v, ix, e->pos, e->store, e->seq, JP_EPERM,
                    "position %llu, store %u seq %llu: not in the store's own log, which "
                    "ends at seq %llu (exported later, %s): invented",
                    (unsigned long long)e->pos, e->store, (unsigned long long)e->seq,
                    (unsigned long long)(w->from + w->n - 1), w->file);
        }
    }
}

static void
s_on_batch(s_ver_t *v, const jp_xrec_t *r)
{
    uint16_t store = r->u.batch.store;
    uint64_t first = r->u.batch.first, last = r->u.batch.last;
    int lt = v->last_type;
    v->last_type = JP_XR_BATCH;
    s_st_t *s = s_store(v, store);
    if (!s)
        return;
    if (lt == JP_XR_ENTRY && v->last_store == store && v->last_seq < last && !s->broken) {
        s_fault(
            v, v->index, v->expect_pos, store, s->next_seq, JP_ECHAIN,
            "store %u seq %llu is missing (removed): the batch %llu..%llu that signed it "
            "follows seq %llu at position %llu",
            store, (unsigned long long)s->next_seq, (unsigned long long)first,
            (unsigned long long)last, (unsigned long long)v->last_seq,
            (unsigned long long)v->expect_pos - 1);
        s->broken = true;
        /* The removed entries held positions too: the next entry may come
         * that many later without another fault. */
        v->pos_alt = v->expect_pos + (last - v->last_seq);
        return;
    }
    if (s->broken)
        return; /* its later records are not judged */
    if (lt != JP_XR_ENTRY || v->last_store != store || v->last_seq != last) {
        uint64_t after = v->index ? v->expect_pos - 1 : 0;
        s_fault(v, v->index, after, store, last, JP_ECORRUPT,
                "byte %llu, after position %llu: the batch %llu..%llu of store %u does "
                "not follow its last change (moved, duplicated or its change removed)",
                (unsigned long long)r->offset, (unsigned long long)after,
                (unsigned long long)first, (unsigned long long)last, store);
        s->broken = true;
        return;
    }
    if (s->broken)
        return;
    s_pend_t *top = &s->pend[s->npend - 1];
    if (first < 1 || first > last) {
        s_fault(v, v->index, top->pos, store, last, JP_ECORRUPT,
                "position %llu: a batch of store %u from seq %llu to %llu",
                (unsigned long long)top->pos, store, (unsigned long long)first,
                (unsigned long long)last);
        s->broken = true;
        return;
    }
    v->out->batches++;
    /* The server logs a batch in the transaction that accepts it, with its
     * time then: in a group export the accepted times never run back. */
    if (v->out->hdr.kind == JP_XK_GROUP && !v->hdr_bad) {
        if (r->u.batch.ms < v->batch_ms) {
            char a[48], b[48];
            jp_format_iso((int64_t)r->u.batch.ms, a, sizeof a);
            jp_format_iso((int64_t)v->batch_ms, b, sizeof b);
            s_fault(v, v->index, top->pos, store, last, JP_ECHAIN,
                    "position %llu, store %u batch %llu..%llu: accepted at %s, before "
                    "the batch ahead of it in the log (store %u's at position %llu, "
                    "accepted at %s): batches moved or reordered",
                    (unsigned long long)top->pos, store, (unsigned long long)first,
                    (unsigned long long)last, a, v->batch_ms_store,
                    (unsigned long long)v->batch_ms_pos, b);
        }
        v->batch_ms = r->u.batch.ms;
        v->batch_ms_pos = top->pos;
        v->batch_ms_store = store;
    }
    bool bad_key = !s_has_key(s, r->u.batch.pub);
    uint8_t msg[JP_BATCH_MSG_LEN];
    jp_batch_msg(store, first, last, s->last_hash, msg);
    /* A key the store's key file holds but the export does not list: the
     * KEY record was removed, one fault; the key is the store's still. */
    if (bad_key && s->pin_file && s_pinned(s, r->u.batch.pub) &&
        !(v->have_server_key && !memcmp(r->u.batch.pub, v->server_key, JP_PUB_LEN)) &&
        jp_sig_verify(r->u.batch.pub, msg, sizeof msg, r->u.batch.sig) == 0) {
        char a[17];
        s_short(r->u.batch.pub, a);
        s_fault(v, v->index, top->pos, store, last, JP_ECORRUPT,
                "position %llu, store %u batch %llu..%llu: signed by key %s..., which "
                "store %u's key file %s holds but the export does not list (its KEY "
                "record removed)",
                (unsigned long long)top->pos, store, (unsigned long long)first,
                (unsigned long long)last, a, store, s->pin_file);
        void *k = realloc(s->keys, (size_t)(s->nkeys + 1) * JP_PUB_LEN);
        if (!k) {
            v->rc = JP_ENOMEM;
            return;
        }
        s->keys = k;
        memcpy(s->keys[s->nkeys++], r->u.batch.pub, JP_PUB_LEN);
        bad_key = false;
    }
    bool ok =
        !bad_key && jp_sig_verify(r->u.batch.pub, msg, sizeof msg, r->u.batch.sig) == 0;
    if (ok) {
        s_walk(v, store, s, first, true);
        return;
    }
    if (s->nfail == s->capfail) {
        size_t cap = s->capfail ? s->capfail * 2 : 8;
        void *np = realloc(s->fail, cap * sizeof *s->fail);
        if (!np) {
            v->rc = JP_ENOMEM;
            return;
        }
        s->fail = np;
        s->capfail = cap;
    }
    s->fail[s->nfail++] = (s_failb_t){first, last, v->index, top->pos, bad_key};
}

static void
s_on_receipt(s_ver_t *v, const jp_xrec_t *r)
{
    uint16_t store = r->u.receipt.store;
    uint64_t seq = r->u.receipt.seq;
    int lt = v->last_type;
    v->last_type = JP_XR_RECEIPT;
    v->out->receipts++;
    s_st_t *s = s_store(v, store);
    if (!s)
        return;
    if (s->broken)
        return; /* its later records are not judged */
    if ((lt != JP_XR_ENTRY && lt != JP_XR_BATCH) || v->last_store != store ||
        v->last_seq != seq) {
        uint64_t after = v->index ? v->expect_pos - 1 : 0;
        s_fault(v, v->index, after, store, seq, JP_ECORRUPT,
                "byte %llu, after position %llu: the receipt for store %u seq %llu does "
                "not follow that change",
                (unsigned long long)r->offset, (unsigned long long)after, store,
                (unsigned long long)seq);
        return;
    }
    uint64_t pos = s->last_pos;
    if (!v->have_server_key) {
        s_fault(v, v->index, pos, store, seq, JP_ESIG,
                "position %llu: a receipt, but the export holds no server key",
                (unsigned long long)pos);
        return;
    }
    uint8_t msg[JP_RECEIPT_MSG_LEN];
    jp_receipt_msg(store, seq, r->u.receipt.ms, s->last_hash, msg);
    if (jp_sig_verify(v->server_key, msg, sizeof msg, r->u.receipt.sig) == 0)
        return;
    if (s->npend == 0) { /* its change is proven: the receipt is the fault */
        s_fault_receipt(v, store, v->index, pos, seq);
        return;
    }
    /* Its change is not proven yet: judged with the window. */
    if (s->nrfail == s->caprfail) {
        size_t cap = s->caprfail ? s->caprfail * 2 : 8;
        void *np = realloc(s->rfail, cap * sizeof *s->rfail);
        if (!np) {
            v->rc = JP_ENOMEM;
            return;
        }
        s->rfail = np;
        s->caprfail = cap;
    }
    s->rfail[s->nrfail].index = v->index;
    s->rfail[s->nrfail].pos = pos;
    s->rfail[s->nrfail].seq = seq;
    s->nrfail++;
}

static void
s_on_end(s_ver_t *v, jp_xr_t *xr, const jp_xrec_t *r)
{
    const jp_xend_t *e = &r->u.end;
    jp_averify_t *out = v->out;
    out->ended = true;
    out->end_pos = e->pos;
    out->has_digest = e->has_digest;
    memcpy(out->digest, e->digest, JP_HASH_LEN);
    memcpy(out->signer, e->pub, JP_PUB_LEN);
    uint8_t fh[JP_HASH_LEN];
    jp_xr_file_hash(xr, fh);
    uint8_t msg[JP_EXPORT_MSG_LEN];
    jp_export_msg(&out->hdr, e, msg);
    /* The signer must be the server (group) or the store (store export). */
    bool key_ok =
        out->hdr.kind == JP_XK_GROUP
            ? v->have_server_key && !memcmp(v->server_key, e->pub, JP_PUB_LEN)
            : s_find(v, out->hdr.store) && s_has_key(s_find(v, out->hdr.store), e->pub);
    bool sig_ok = key_ok && jp_sig_verify(e->pub, msg, sizeof msg, e->sig) == 0;
    bool hash_ok = memcmp(fh, e->file_hash, JP_HASH_LEN) == 0;
    out->end_ok = sig_ok && hash_ok;
    uint64_t ix = v->index + 1; /* after every entry */
    v->hash_bad = !hash_ok;
    /* END is one record: one fault at most, for the first thing wrong.  Its
     * counts and head disagreeing with the entries follow from entries
     * removed or added, which the entries name when they can: those are
     * judged here only when nothing was found before. */
    const char *who = out->hdr.kind == JP_XK_GROUP ? "server" : "store";
    char why[300] = "";
    int code = JP_ESIG, more = 0;
    uint64_t last = v->expect_pos - 1;
    uint8_t head[JP_HASH_LEN] = {0};
    if (out->entries)
        memcpy(head, v->head, JP_HASH_LEN);
    if (v->hdr_bad)
        ; /* the header was named: its signature cannot be judged by it */
    else if (!key_ok)
        snprintf(why, sizeof why, "it is signed by a key that is not the %s's", who);
    else if (!sig_ok)
        snprintf(why, sizeof why,
                 "its signature (state digest, head, file hash) does not verify");
    if (out->nfaults == 0) {
        char c[200] = "";
        if (e->entries != out->entries)
            snprintf(c, sizeof c,
                     "it counts %llu entries, the file holds %llu (entries removed or "
                     "added)",
                     (unsigned long long)e->entries, (unsigned long long)out->entries);
        else if (out->entries && e->pos != last)
            snprintf(c, sizeof c, "its position is %llu, the last entry's %llu",
                     (unsigned long long)e->pos, (unsigned long long)last);
        else if (memcmp(head, e->head, JP_HASH_LEN) != 0)
            snprintf(c, sizeof c, "its head is not the hash of the last entry's change");
        if (c[0] && why[0])
            more = 1;
        else if (c[0])
            snprintf(why, sizeof why, "%s", c), code = JP_ECHAIN;
        if (out->entries && out->hdr.to != last && e->pos == last)
            s_fault(v, 0, 0, 0, 0, JP_ECHAIN,
                    "the HEADER says the export ends at position %llu, its entries and "
                    "END at %llu (the header was altered)",
                    (unsigned long long)out->hdr.to, (unsigned long long)last);
    }
    if (why[0])
        s_fault(v, ix, e->pos, 0, 0, code, "the END record: %s%s", why,
                more ? " (and its counts or head disagree with the entries)" : "");
}

/* ---- verify: store exports for the cross-check -------------------------------- */

static void
s_view_free(s_view_t *w)
{
    free(w->hash);
    free(w->rc);
    free(w->keys);
}

/* Load a store's own export (which must verify on its own). */
static int
s_view_load(s_ver_t *v, const char *file, s_view_t *w, jp_err_t *err)
{
    jp_averify_t sub;
    int rc = jp_audit_verify(file, NULL, &sub, err);
    if (rc)
        return rc;
    memset(w, 0, sizeof *w);
    w->file = file;
    if (sub.hdr.kind != JP_XK_STORE) {
        s_fault(v, 0, 0, 0, 0, JP_EINVAL, "%s is not a store's own export", file);
        return 1;
    }
    if (sub.nfaults) {
        s_fault(v, 0, sub.first.pos, sub.first.store, sub.first.seq, sub.first.code,
                "the store export %s does not verify: %s", file, sub.first.what);
        return 1;
    }
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    size_t caprc = 0;
    uint16_t store = sub.hdr.store;
    w->ms = sub.hdr.ms;
    w->from = sub.hdr.from;
    if ((rc = jp_xr_open(&xr, file, err)))
        return rc;
    uint64_t cap = sub.entries;
    if (cap && !(w->hash = malloc(cap * JP_HASH_LEN))) {
        rc = JP_ENOMEM;
        goto done;
    }
    while ((rc = jp_xr_next(xr, &r, err)) > 0) {
        if (r.type == JP_XR_ENTRY && w->n < cap) {
            jp_sha256(r.u.entry.p, r.u.entry.n, w->hash[w->n++]);
        } else if (r.type == JP_XR_KEY && r.u.key.store == 0) {
            memcpy(w->server_key, r.u.key.pub, JP_PUB_LEN);
            w->has_server_key = true;
        } else if (r.type == JP_XR_KEY && r.u.key.store == store) {
            void *k = realloc(w->keys, (size_t)(w->nkeys + 1) * JP_PUB_LEN);
            if (!k) {
                rc = JP_ENOMEM;
                goto done;
            }
            w->keys = k;
            memcpy(w->keys[w->nkeys++], r.u.key.pub, JP_PUB_LEN);
        } else if (r.type == JP_XR_RECEIPT) {
            if (w->nrc == caprc) {
                caprc = caprc ? caprc * 2 : 64;
                void *np = realloc(w->rc, caprc * sizeof *w->rc);
                if (!np) {
                    rc = JP_ENOMEM;
                    goto done;
                }
                w->rc = np;
            }
            w->rc[w->nrc].seq = r.u.receipt.seq;
            w->rc[w->nrc].ms = r.u.receipt.ms;
            memcpy(w->rc[w->nrc].sig, r.u.receipt.sig, JP_SIG_LEN);
            w->nrc++;
        }
    }
    if (rc == 0) {
        s_st_t *s = s_store(v, store);
        if (!s)
            rc = JP_ENOMEM;
        else
            s->view = w;
    }
done:
    jp_xr_close(&xr);
    if (rc == 0)
        v->out->crosschecked++;
    return rc < 0 ? rc : 0;
}

/* After the group export: what the stores' exports say the server holds. */
static void
s_view_finish(s_ver_t *v, uint16_t store, s_st_t *s)
{
    s_view_t *w = s->view;
    jp_averify_t *out = v->out;
    char a[17], b[17];
    if (w->has_server_key && v->have_server_key)
        out->server_pinned = true;
    if (w->has_server_key && v->have_server_key &&
        memcmp(w->server_key, v->server_key, JP_PUB_LEN) != 0) {
        s_short(w->server_key, a);
        s_short(v->server_key, b);
        s_fault(
            v, 0, 0, store, 0, JP_ESIG,
            "store %u pinned the server key %s..., the group export is signed by %s...",
            store, a, b);
    }
    for (int i = 0; i < w->nkeys; i++)
        if (s->pin_file && !s_pinned(s, w->keys[i])) {
            s_short(w->keys[i], a);
            s_fault(v, 0, 0, store, 0, JP_ESIG,
                    "store %u's own export %s is signed by key %s..., which its key file "
                    "%s does not hold",
                    store, w->file, a, s->pin_file);
        } else if (!s_has_key(s, w->keys[i])) {
            s_short(w->keys[i], a);
            s_fault(
                v, 0, 0, store, 0, JP_ESIG,
                "store %u's own key %s... is not among the group export's keys for it",
                store, a);
        }
    uint64_t held = s->seen ? s->next_seq - 1 : s->base_seq;
    for (size_t i = 0; i < w->nrc; i++) {
        uint64_t seq = w->rc[i].seq;
        if (seq <= held || w->rc[i].ms > out->hdr.ms)
            continue;
        char t[17];
        jp_format_instant((int64_t)w->rc[i].ms, t);
        s_fault(
            v, v->index + 1, 0, store, held + 1, JP_ECHAIN,
            "store %u seq %llu..%llu: the server signed a receipt for them (at %s) but "
            "the group log does not hold them (dropped)",
            store, (unsigned long long)held + 1, (unsigned long long)seq, t);
        break;
    }
}

/* ---- verify ----------------------------------------------------------------------- */

int
jp_audit_verify(const char *path, const jp_averify_opts_t *o, jp_averify_t *out,
                jp_err_t *err)
{
    memset(out, 0, sizeof *out);
    s_ver_t v = {.out = out, .o = o};
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    jp_err_t lerr = {0};
    int rc;
    if (!err)
        err = &lerr; /* the reader's words name the faults it finds */
    if ((rc = jp_xr_open(&xr, path, err)))
        goto done;
    out->bytes = jp_xr_size(xr);
    if (o && o->nstore_files > 0) {
        if (!(v.views = calloc((size_t)o->nstore_files, sizeof *v.views))) {
            rc = jp_err_set(err, JP_ENOMEM, "out of memory");
            goto done;
        }
    }
    /* The header first: the views need to know nothing of it. */
    rc = jp_xr_next(xr, &r, err);
    if (rc <= 0 || r.type != JP_XR_HEADER) {
        if (rc < 0 && rc != JP_EIO) {
            s_fault(&v, 0, 0, 0, 0, rc, "%s", err ? err->msg : "not an export file");
            rc = 0;
        } else if (rc == 0) {
            s_fault(&v, 0, 0, 0, 0, JP_ECORRUPT, "the file is empty");
        }
        goto done;
    }
    out->hdr = r.u.hdr;
    v.expect_pos = r.u.hdr.from;
    if ((r.u.hdr.kind == JP_XK_GROUP) != (r.u.hdr.store == 0)) {
        /* Everything after depends on the kind: name the header, once. */
        s_fault(&v, 0, 0, r.u.hdr.store, 0, JP_ECORRUPT,
                "the HEADER (byte 0) says kind %u (a %s export) with store %u: a group "
                "export is store 0's, a store export one store's (1..65535); the header "
                "was altered",
                r.u.hdr.kind, jp_export_kind_name(r.u.hdr.kind), r.u.hdr.store);
        v.hdr_bad = true;
    }
    for (int i = 0; o && i < o->nkey_files; i++)
        if ((rc = s_pin_load(&v, o->key_files[i], err)) < 0)
            goto done;
    for (int i = 0; o && i < o->nstore_files; i++) {
        if ((rc = s_view_load(&v, o->store_files[i], &v.views[v.nviews], err)) < 0)
            goto done;
        v.nviews++; /* loaded or not, freed at the end */
    }
    rc = 0;
    uint64_t next_progress = S_PROGRESS_EVERY;
    while (v.rc == 0 && (rc = jp_xr_next(xr, &r, err)) > 0) {
        if (r.type != JP_XR_KEY && !v.keys_done)
            s_keys_done(&v);
        switch (r.type) {
        case JP_XR_HEADER:
            s_fault(&v, v.index, 0, 0, 0, JP_ECORRUPT, "byte %llu: a second HEADER",
                    (unsigned long long)r.offset);
            break;
        case JP_XR_KEY:
            s_on_key(&v, &r);
            break;
        case JP_XR_ANCHOR:
            s_on_anchor(&v, &r);
            break;
        case JP_XR_ENTRY:
            s_on_entry(&v, &r);
            break;
        case JP_XR_BATCH:
            s_on_batch(&v, &r);
            break;
        case JP_XR_RECEIPT:
            s_on_receipt(&v, &r);
            break;
        case JP_XR_END:
            s_on_end(&v, xr, &r);
            break;
        }
        if (o && o->progress && v.index >= next_progress) {
            o->progress(o->arg, jp_xr_offset(xr), out->bytes);
            next_progress = v.index + S_PROGRESS_EVERY;
        }
    }
    if (v.rc) {
        rc = jp_err_set(err, v.rc, "out of memory");
        goto done;
    }
    if (!v.keys_done)
        s_keys_done(&v);
    bool cut = rc < 0 && !out->ended; /* bytes after END: the rest was read */
    if (rc < 0) {
        if (rc == JP_EIO)
            goto done;
        /* Malformed or truncated: a verification failure at that byte.
         * What the rest of the file would have proven is not judged. */
        s_fault(&v, v.index + 1, v.expect_pos, 0, 0, rc, "%s", err->msg);
        rc = 0;
    }
    s_sort_stores(&v);
    for (size_t j = 0; j < v.nst && !cut; j++) {
        s_st_t *s = v.byid[j];
        s_unproven(&v, s->id, s);
        if (s->view)
            s_view_finish(&v, s->id, s);
    }
    /* A file hash that differs is the consequence of whatever was altered;
     * it is the fault only when the records show nothing. */
    if (v.hash_bad && out->nfaults == 0)
        s_fault(&v, v.index + 1, out->end_pos, 0, 0, JP_ESIG,
                "the file's bytes are not those the %s signed (altered after export; "
                "the checks found no single record to blame)",
                out->hdr.kind == JP_XK_GROUP ? "server" : "store");
    if (!out->ended && out->nfaults == 0)
        s_fault(&v, v.index + 1, 0, 0, 0, JP_ECORRUPT, "the export has no END record");
    if (o && o->progress)
        o->progress(o->arg, out->bytes, out->bytes);
done:
    jp_xr_close(&xr);
    for (size_t j = 0; j < v.nst; j++)
        s_store_free(v.byid[j]);
    free(v.byid);
    free(v.st);
    for (int i = 0; i < v.nviews; i++)
        s_view_free(&v.views[i]);
    free(v.views);
    return rc;
}

/* ---- replay ---------------------------------------------------------------------- */

/* The last position whose entries were all accepted at or before as_of. */
static int
s_cut(const char *path, int64_t as_of, uint64_t *cut, int64_t *cut_ms, jp_err_t *err)
{
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    int rc = jp_xr_open(&xr, path, err);
    if (rc)
        return rc;
    /* first position still waiting for its batch, per store */
    uint64_t *wait = calloc(65536, sizeof *wait);
    uint64_t best = UINT64_MAX, last = 0;
    int64_t ms = 0;
    if (!wait) {
        jp_xr_close(&xr);
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    }
    while ((rc = jp_xr_next(xr, &r, err)) > 0) {
        if (r.type == JP_XR_ENTRY) {
            if (!wait[r.u.entry.store])
                wait[r.u.entry.store] = r.u.entry.pos;
            last = r.u.entry.pos;
        } else if (r.type == JP_XR_BATCH) {
            uint64_t w = wait[r.u.batch.store];
            wait[r.u.batch.store] = 0;
            if ((int64_t)r.u.batch.ms > as_of) {
                if (w && w - 1 < best)
                    best = w - 1;
            } else if (w && w <= best && (int64_t)r.u.batch.ms > ms) {
                ms = (int64_t)r.u.batch.ms;
            }
        }
    }
    for (unsigned s = 0; s < 65536; s++)
        if (wait[s] && wait[s] - 1 < best)
            best = wait[s] - 1; /* no batch: no accepted time */
    free(wait);
    jp_xr_close(&xr);
    if (rc < 0)
        return rc;
    *cut = best == UINT64_MAX ? last : best;
    *cut_ms = ms;
    return 0;
}

int
jp_audit_replay(const char *path, jp_db_t *db, const jp_areplay_opts_t *o,
                jp_areplay_t *out, jp_err_t *err)
{
    memset(out, 0, sizeof *out);
    jp_xr_t *xr = NULL;
    jp_txn_t *txn = NULL;
    jp_xrec_t r;
    int rc = jp_xr_open(&xr, path, err);
    if (rc)
        return rc;
    if ((rc = jp_xr_next(xr, &r, err)) <= 0 || r.type != JP_XR_HEADER) {
        rc = rc < 0 ? rc : jp_err_set(err, JP_ECORRUPT, "%s is not an export file", path);
        goto done;
    }
    out->hdr = r.u.hdr;
    if (r.u.hdr.kind != JP_XK_GROUP) {
        rc = jp_err_set(err, JP_EINVAL,
                        "replay reads a group export (jipan-server export); "
                        "this is store %u's own log",
                        r.u.hdr.store);
        goto done;
    }
    if (r.u.hdr.from > 1 && r.u.hdr.from <= r.u.hdr.to) {
        rc = jp_err_set(
            err, JP_EINVAL,
            "this export starts at position %llu: the state before it is not in "
            "the file, so it cannot be replayed (export from position 1)",
            (unsigned long long)r.u.hdr.from);
        goto done;
    }
    uint64_t stop = 0;
    if (o->by_time) {
        if ((rc = s_cut(path, o->as_of, &stop, &out->pos_ms, err)))
            goto done;
    } else {
        stop = o->at_pos;
        if (stop > r.u.hdr.to) {
            rc = jp_err_set(err, JP_EINVAL,
                            "position %llu is past the export's end (%llu)",
                            (unsigned long long)stop, (unsigned long long)r.u.hdr.to);
            goto done;
        }
    }
    uint64_t in_txn = 0;
    if ((rc = jp_db_begin(db, true, &txn, err)))
        goto done;
    /* A fresh replay keeps only the indexes linking needs: the state and
     * its digest are the same, the counter screens' indexes are not
     * wanted here (JP_EEXIST: not fresh, it keeps what it has). */
    if (!jp_db_lean(db) && (rc = jp_txn_set_lean(txn, NULL)) && rc != JP_EEXIST)
        goto done;
    while ((rc = jp_xr_next(xr, &r, err)) > 0) {
        if (r.type == JP_XR_END) {
            out->at_end = out->pos == r.u.end.pos;
            out->has_signed = out->at_end && r.u.end.has_digest;
            memcpy(out->digest, r.u.end.digest, JP_HASH_LEN); /* compared below */
            continue;
        }
        if (r.type != JP_XR_ENTRY || r.u.entry.pos > stop)
            continue;
        rc = jp_txn_apply(txn, r.u.entry.p, r.u.entry.n, err);
        if (rc) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err ? err->msg : "");
            jp_err_set(err, rc, "position %llu: %s (run `jipan-audit verify` first)",
                       (unsigned long long)r.u.entry.pos, m);
            goto done;
        }
        out->applied++;
        out->pos = r.u.entry.pos;
        if (++in_txn == S_REPLAY_TXN) {
            if ((rc = jp_txn_commit(&txn, err)) ||
                (rc = jp_db_begin(db, true, &txn, err)))
                goto done;
            in_txn = 0;
            if (o->progress)
                o->progress(o->arg, jp_xr_offset(xr), jp_xr_size(xr));
        }
    }
    if (rc < 0)
        goto done;
    if ((rc = jp_txn_commit(&txn, err)))
        goto done;
    uint8_t signed_digest[JP_HASH_LEN];
    memcpy(signed_digest, out->digest, JP_HASH_LEN);
    if ((rc = jp_db_begin(db, false, &txn, err)) ||
        (rc = jp_txn_digest(txn, out->digest)))
        goto done;
    out->match = out->has_signed && memcmp(signed_digest, out->digest, JP_HASH_LEN) == 0;
    if (o->progress)
        o->progress(o->arg, jp_xr_size(xr), jp_xr_size(xr));
done:
    jp_txn_abort(&txn);
    jp_xr_close(&xr);
    return rc;
}

/* ---- history --------------------------------------------------------------------- */

typedef struct {
    jp_id_t *ids;
    size_t n, cap;
} s_idset_t;

static bool
s_idset_has(const s_idset_t *s, const jp_id_t *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (jp_id_cmp(&s->ids[i], id) == 0)
            return true;
    return false;
}

static int
s_idset_add(s_idset_t *s, const jp_id_t *id)
{
    if (s_idset_has(s, id))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        void *p = realloc(s->ids, cap * sizeof *s->ids);
        if (!p)
            return JP_ENOMEM;
        s->ids = p;
        s->cap = cap;
    }
    s->ids[s->n++] = *id;
    return 1;
}

typedef struct {
    jp_id_t id, a, b; /* a link record and the two rows */
} s_link_t;

typedef struct {
    uint16_t store;
    uint64_t first, last, ms;
} s_bt_t;

static int
s_bt_cmp(const void *x, const void *y)
{
    const s_bt_t *a = x, *b = y;
    if (a->store != b->store)
        return a->store < b->store ? -1 : 1;
    return a->last < b->last ? -1 : a->last > b->last;
}

/* The record states of the history, with the change bytes they borrow. */
typedef struct {
    jp_record_t *rec;
    size_t n, cap;
    uint8_t **bytes;
    size_t nbytes, capbytes;
} s_hstate_t;

int
jp_audit_history(const char *path, const jp_id_t *id, jp_ahist_fn cb, void *arg,
                 uint64_t *count, jp_err_t *err)
{
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    s_idset_t set = {0};
    s_link_t *links = NULL;
    size_t nlinks = 0, caplinks = 0;
    s_bt_t *bt = NULL;
    size_t nbt = 0, capbt = 0;
    s_hstate_t hs = {0};
    jp_change_t *ch = malloc(sizeof *ch);
    jp_ahist_t *h = malloc(sizeof *h);
    int rc = 0;
    *count = 0;
    if (!ch || !h || s_idset_add(&set, id) < 0) {
        rc = jp_err_set(err, JP_ENOMEM, "out of memory");
        goto done;
    }
    /* Pass 1: the links and the batches' accepted times. */
    if ((rc = jp_xr_open(&xr, path, err)))
        goto done;
    while ((rc = jp_xr_next(xr, &r, err)) > 0) {
        if (r.type == JP_XR_BATCH) {
            if (nbt == capbt) {
                capbt = capbt ? capbt * 2 : 1024;
                void *p = realloc(bt, capbt * sizeof *bt);
                if (!p)
                    goto nomem;
                bt = p;
            }
            bt[nbt++] =
                (s_bt_t){r.u.batch.store, r.u.batch.first, r.u.batch.last, r.u.batch.ms};
            continue;
        }
        jp_chead_t hd;
        if (r.type != JP_XR_ENTRY || jp_change_peek(r.u.entry.p, r.u.entry.n, &hd) ||
            hd.kind != JP_K_LINK || jp_change_decode(r.u.entry.p, r.u.entry.n, ch, NULL))
            continue;
        const jp_fval_t *a = jp_change_get(ch, JP_F_LINK_A),
                        *b = jp_change_get(ch, JP_F_LINK_B);
        if (!a || !b || a->v.type != JP_T_REF || b->v.type != JP_T_REF)
            continue;
        if (nlinks == caplinks) {
            caplinks = caplinks ? caplinks * 2 : 64;
            void *p = realloc(links, caplinks * sizeof *links);
            if (!p)
                goto nomem;
            links = p;
        }
        links[nlinks++] = (s_link_t){ch->id, a->v.u.ref, b->v.u.ref};
    }
    jp_xr_close(&xr);
    if (rc < 0)
        goto done;
    if (nbt > 1) /* no BATCH records: bt is NULL, which qsort may not be given */
        qsort(bt, nbt, sizeof *bt, s_bt_cmp);
    for (bool grew = true; grew;) {
        grew = false;
        for (size_t i = 0; i < nlinks; i++) {
            if (!s_idset_has(&set, &links[i].a) && !s_idset_has(&set, &links[i].b))
                continue;
            int g = s_idset_add(&set, &links[i].a) | s_idset_add(&set, &links[i].b) |
                    s_idset_add(&set, &links[i].id);
            if (g < 0)
                goto nomem;
            grew |= g > 0;
        }
    }
    /* Pass 2: the changes of those records, merged as they come. */
    if ((rc = jp_xr_open(&xr, path, err)))
        goto done;
    while ((rc = jp_xr_next(xr, &r, err)) > 0) {
        if (r.type != JP_XR_ENTRY ||
            jp_change_decode(r.u.entry.p, r.u.entry.n, ch, NULL) ||
            !s_idset_has(&set, &ch->id))
            continue;
        /* Keep the bytes: the states borrow their text. */
        if (hs.nbytes == hs.capbytes) {
            hs.capbytes = hs.capbytes ? hs.capbytes * 2 : 64;
            void *p = realloc(hs.bytes, hs.capbytes * sizeof *hs.bytes);
            if (!p)
                goto nomem;
            hs.bytes = p;
        }
        uint8_t *copy = malloc(r.u.entry.n);
        if (!copy)
            goto nomem;
        memcpy(copy, r.u.entry.p, r.u.entry.n);
        hs.bytes[hs.nbytes++] = copy;
        if (jp_change_decode(copy, r.u.entry.n, ch, NULL))
            continue;
        jp_record_t *rec = NULL;
        for (size_t i = 0; i < hs.n; i++)
            if (jp_id_cmp(&hs.rec[i].id, &ch->id) == 0)
                rec = &hs.rec[i];
        if (!rec) {
            if (hs.n == hs.cap) {
                hs.cap = hs.cap ? hs.cap * 2 : 16;
                void *p = realloc(hs.rec, hs.cap * sizeof *hs.rec);
                if (!p)
                    goto nomem;
                hs.rec = p;
            }
            rec = &hs.rec[hs.n++];
            jp_record_init(rec, &ch->id);
        }
        memset(h, 0, sizeof *h);
        h->pos = r.u.entry.pos;
        h->ch = ch;
        s_bt_t key = {ch->store, 0, ch->seq, 0};
        size_t lo = 0, hi = nbt;
        while (lo < hi) { /* the first batch of the store with last >= seq */
            size_t mid = (lo + hi) / 2;
            if (s_bt_cmp(&bt[mid], &key) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo < nbt && bt[lo].store == ch->store && bt[lo].first <= ch->seq)
            h->accepted_ms = bt[lo].ms;
        jp_record_t before = *rec;
        if (jp_merge(rec, ch) < 0)
            continue; /* another kind under the same id: not this record's */
        for (unsigned i = 0; i < ch->nfields; i++) {
            jp_ahfield_t *f = &h->f[h->nf++];
            unsigned fid = ch->f[i].id;
            f->field = (uint8_t)fid;
            f->had = before.f[fid].set;
            f->before = before.f[fid].v;
            f->after = ch->f[i].v;
            f->taken = rec->f[fid].set && rec->f[fid].hlc == ch->hlc &&
                       rec->f[fid].store == ch->store;
        }
        (*count)++;
        if ((rc = cb(arg, h)))
            goto done;
    }
    goto done;
nomem:
    rc = jp_err_set(err, JP_ENOMEM, "out of memory");
done:
    jp_xr_close(&xr);
    for (size_t i = 0; i < hs.nbytes; i++)
        free(hs.bytes[i]);
    free(hs.bytes);
    free(hs.rec);
    free(set.ids);
    free(links);
    free(bt);
    free(ch);
    free(h);
    return rc < 0 ? rc : 0;
}
