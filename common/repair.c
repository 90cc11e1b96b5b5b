/*
 * repair.c -- the two slow, whole-log tools of jipan-store: verify --deep
 * (replay every log into a scratch environment and compare every record)
 * and repair (rewrite the unacknowledged changes whose author no node can
 * accept).  Both are kept out of db.c because they run rarely and only
 * by an operator's hand; they read through db.h's public API and write
 * through the few hooks of db_int.h, so db.c's write path stays the only
 * code that knows the transaction's layout.
 */
#include "repair.h"
#include "codec.h"
#include "db_int.h"
#include "validate.h"

#include <assert.h>
#include <lmdb.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* ---- repairing a log whose authors cannot be decoded ------------------------- */

/* The author to write instead of a[0..n): at most JP_MAX_AUTHOR bytes cut
 * at a character boundary, control characters as '?'; "unknown" when
 * nothing of it is text.  Returns the bytes written to out. */
static size_t
s_fix_author(const char *a, size_t n, char out[JP_MAX_AUTHOR])
{
    size_t m = n < JP_MAX_AUTHOR ? n : JP_MAX_AUTHOR;
    if (m < n) {
        while (m > 0 && ((uint8_t)a[m] & 0xC0) == 0x80)
            m--;
    }
    for (size_t i = 0; i < m; i++) {
        uint8_t c = (uint8_t)a[i];
        out[i] = c < 0x20 || c == 0x7F ? '?' : a[i];
        if (c == 0xC2 && i + 1 < m && (uint8_t)a[i + 1] >= 0x80 &&
            (uint8_t)a[i + 1] <= 0x9F) {
            out[i] = '?'; /* a C1 control: two bytes, two '?' */
            out[++i] = '?';
        }
    }
    const char *why;
    if (m == 0 || jp_text_check(out, m, false, &why)) {
        memcpy(out, "unknown", 7);
        m = 7;
    }
    return m;
}

/* Rewrite the change p[0..n) (the layout of codec.h) with the author
 * fixed and prev replaced, into out.  The other bytes are kept as they
 * are.  JP_ECORRUPT when p is not a change with an author and a prev. */
static int
s_rewrite_change(const uint8_t *p, size_t n, const uint8_t prev[JP_HASH_LEN],
                 jp_buf_t *out)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc = JP_ECORRUPT;
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, (const char *)p, n, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != n || u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 9)
        goto done;
    const msgpack_object *a = u.data.via.array.ptr;
    if (a[6].type != MSGPACK_OBJECT_STR || a[7].type != MSGPACK_OBJECT_BIN ||
        a[7].via.bin.size != JP_HASH_LEN)
        goto done;
    /* Both point into p (msgpack-c does not copy what it unpacks). */
    const uint8_t *ab = (const uint8_t *)a[6].via.str.ptr;
    uint32_t an = a[6].via.str.size;
    size_t ah = an < 32 ? 1 : an < 256 ? 2 : an < 65536 ? 3 : 5;
    const uint8_t *pb = (const uint8_t *)a[7].via.bin.ptr;
    if (ab < p + ah || ab + an + 2 != pb || pb + JP_HASH_LEN > p + n)
        goto done;
    char fixed[JP_MAX_AUTHOR];
    size_t fn = s_fix_author((const char *)ab, an, fixed);
    uint8_t hdr[2] = {0xa0 | (uint8_t)fn, 0};
    size_t hn = 1;
    if (fn >= 32)
        hdr[0] = 0xd9, hdr[1] = (uint8_t)fn, hn = 2;
    jp_buf_reset(out);
    if (jp_buf_append(out, p, (size_t)(ab - ah - p)) || jp_buf_append(out, hdr, hn) ||
        jp_buf_append(out, fixed, fn) || jp_buf_append(out, "\xc4\x20", 2) ||
        jp_buf_append(out, prev, JP_HASH_LEN) ||
        jp_buf_append(out, pb + JP_HASH_LEN, (size_t)(p + n - pb - JP_HASH_LEN))) {
        rc = JP_ENOMEM;
        goto done;
    }
    rc = 0;
done:
    msgpack_unpacked_destroy(&u);
    return rc;
}

int
jp_txn_log_repair(jp_txn_t *txn, uint16_t store, uint64_t acked, uint64_t *from,
                  uint64_t *count, jp_err_t *err)
{
    assert(txn && from && count);
    jp_change_t ch;
    jp_err_t derr;
    jp_head_t head;
    jp_buf_t nb = {0};
    uint8_t prev[JP_HASH_LEN];
    const uint8_t *p;
    size_t n;
    int rc;
    *from = *count = 0;
    if ((rc = jp_txn_broken(txn)))
        return jp_err_set(err, rc, "transaction already failed: abort it");
    if ((rc = jp_txn_head(txn, store, &head)))
        return jp_err_set(err, rc, "store %u: heads entry unreadable", store);
    /* The first change that cannot be decoded or would be refused. */
    uint64_t seq;
    for (seq = 1; seq <= head.seq; seq++) {
        if ((rc = jp_txn_log_get(txn, store, seq, &p, &n)))
            return jp_err_set(err, rc, "store %u seq %llu: %s", store,
                              (unsigned long long)seq,
                              rc == JP_ENOTFOUND ? "missing from the log" : "unreadable");
        jp_err_clear(&derr);
        if (jp_change_decode(p, n, &ch, &derr) != 0 || jp_txn_check_text(&ch, &derr) != 0)
            break;
        if ((rc = jp_sha256(p, n, prev)))
            return jp_err_set(err, rc, "SHA-256 failed");
    }
    if (seq > head.seq)
        return jp_err_set(err, JP_ENOTFOUND,
                          "store %u: every change of the log decodes; nothing to repair",
                          store);
    if (seq <= acked)
        return jp_err_set(err, JP_EPERM,
                          "store %u seq %llu: the server has acknowledged it (up to seq "
                          "%llu), so it cannot be rewritten here",
                          store, (unsigned long long)seq, (unsigned long long)acked);
    *from = seq;
    if (seq == 1)
        memset(prev, 0, sizeof prev);
    for (; seq <= head.seq; seq++) {
        if ((rc = jp_txn_log_get(txn, store, seq, &p, &n))) {
            rc = jp_err_set(err, rc, "store %u seq %llu: unreadable", store,
                            (unsigned long long)seq);
            goto done;
        }
        if ((rc = s_rewrite_change(p, n, prev, &nb))) {
            rc = jp_err_set(err, rc,
                            "store %u seq %llu: not a change this repair can mend (only "
                            "its author can be rewritten)",
                            store, (unsigned long long)seq);
            goto done;
        }
        jp_err_clear(&derr);
        if ((rc = jp_change_decode(nb.data, nb.len, &ch, &derr)) ||
            (rc = jp_txn_check_text(&ch, &derr))) {
            rc = jp_err_set(err, rc,
                            "store %u seq %llu: still refused once its author is "
                            "rewritten: %s",
                            store, (unsigned long long)seq, derr.msg);
            goto done;
        }
        if (ch.store != store || ch.seq != seq) {
            rc = jp_err_set(err, JP_ECHAIN, "store %u seq %llu: the change says seq %llu",
                            store, (unsigned long long)seq, (unsigned long long)ch.seq);
            goto done;
        }
        if ((rc = jp_sha256(nb.data, nb.len, prev))) {
            rc = jp_err_set(err, rc, "SHA-256 failed");
            goto done;
        }
        if ((rc = jp_txn_log_rewrite(txn, store, seq, nb.data, nb.len, err)))
            goto done;
        ++*count;
    }
    /* The head moves to the new last hash; the batches pushed from the
     * repaired seq on were signed over the old hashes, and refused. */
    if ((rc = jp_txn_head_rehash(txn, store, prev))) {
        rc = jp_err_set(err, rc, "store %u: heads entry unreadable", store);
        goto done;
    }
    rc = jp_txn_batch_drop(txn, store, *from, err);
done:
    jp_buf_free(&nb);
    return rc;
}

/* ---- verify --deep: every state against a replay of the logs ------------------ */

#define S_REPLAY_TXN 100000 /* changes a scratch transaction holds */

/* Replay every log of src into the scratch environment dst. */
static int
s_replay(jp_txn_t *src, jp_db_t *dst, uint64_t *changes, jp_err_t *err)
{
    uint16_t *stores = calloc(65536, sizeof *stores);
    jp_change_t *ch = calloc(1, sizeof *ch);
    jp_txn_t *w = NULL;
    size_t intxn = 0;
    int rc = 0;
    if (!stores || !ch) {
        rc = jp_err_set(err, JP_ENOMEM, "verify: out of memory");
        goto done;
    }
    int ns = jp_txn_stores(src, stores, 65536);
    if (ns < 0) {
        rc = jp_err_set(err, ns, "heads: %s", jp_strerror(ns));
        goto done;
    }
    jp_node_t node;
    uint16_t own = jp_txn_node_get(src, &node) == 0 ? node.store : 0;
    for (int i = 0; i < ns; i++) {
        jp_head_t head;
        if ((rc = jp_txn_head(src, stores[i], &head))) {
            rc = jp_err_set(err, rc, "store %u: heads entry unreadable", stores[i]);
            goto done;
        }
        for (uint64_t seq = 1; seq <= head.seq; seq++) {
            const uint8_t *p;
            size_t n;
            jp_err_t derr;
            rc = jp_txn_log_get(src, stores[i], seq, &p, &n);
            if (rc == JP_ENOTFOUND && stores[i] != own)
                continue; /* a part of another store's log (a sharing rule) */
            if (rc) {
                rc = jp_err_set(
                    err, rc, "store %u seq %llu: %s", stores[i], (unsigned long long)seq,
                    rc == JP_ENOTFOUND ? "missing from the log" : "unreadable");
                goto done;
            }
            jp_err_clear(&derr);
            if ((rc = jp_change_decode(p, n, ch, &derr))) {
                rc = jp_err_set(err, rc, "store %u seq %llu: does not decode: %s",
                                stores[i], (unsigned long long)seq, derr.msg);
                goto done;
            }
            if (!w && (rc = jp_db_begin(dst, true, &w, err)))
                goto done;
            jp_err_clear(&derr);
            if ((rc = jp_txn_replay(w, p, n, ch, stores[i] != own, &derr))) {
                rc = jp_err_set(err, rc, "replay: %s", derr.msg);
                goto done;
            }
            ++*changes;
            if (++intxn == S_REPLAY_TXN) {
                if ((rc = jp_txn_commit(&w, err)))
                    goto done;
                intxn = 0;
            }
        }
    }
    if (w)
        rc = jp_txn_commit(&w, err);
done:
    jp_txn_abort(&w);
    free(ch);
    free(stores);
    return rc;
}

int
jp_txn_verify_deep(jp_txn_t *txn, const char *scratch, jp_deep_t *out, jp_err_t *err)
{
    assert(txn && scratch && out);
    jp_db_t *dst = NULL;
    jp_txn_t *r = NULL;
    MDB_cursor *ca = NULL, *cb = NULL;
    memset(out, 0, sizeof *out);
    int rc = jp_db_open(&dst, scratch, 0, err);
    if (rc)
        return rc;
    if ((rc = s_replay(txn, dst, &out->changes, err)))
        goto done;
    if ((rc = jp_db_begin(dst, false, &r, err)))
        goto done;
    if ((rc = jp_txn_rec_cursor(txn, &ca, err)) || (rc = jp_txn_rec_cursor(r, &cb, err)))
        goto done;
    /* Both in key order: a merge of the two. */
    MDB_val ka, va, kb, vb;
    int ra = mdb_cursor_get(ca, &ka, &va, MDB_FIRST);
    int rb = mdb_cursor_get(cb, &kb, &vb, MDB_FIRST);
    while (ra == 0 || rb == 0) {
        int cmp;
        if (ra != 0)
            cmp = 1;
        else if (rb != 0)
            cmp = -1;
        else if (ka.mv_size != 16 || kb.mv_size != 16)
            cmp = ka.mv_size != 16 ? -1 : 1;
        else
            cmp = memcmp(ka.mv_data, kb.mv_data, 16);
        const MDB_val *k = cmp <= 0 ? &ka : &kb;
        int what =
            cmp < 0   ? JP_DEEP_EXTRA
            : cmp > 0 ? JP_DEEP_MISSING
            : va.mv_size != vb.mv_size || memcmp(va.mv_data, vb.mv_data, va.mv_size)
                ? JP_DEEP_DIFFERS
                : 0;
        if (cmp <= 0)
            out->records++;
        if (what) {
            if (out->nbad < JP_DEEP_SHOW) {
                memset(&out->bad[out->nbad], 0, sizeof out->bad[0]);
                memcpy(out->bad[out->nbad].id.b, k->mv_data,
                       k->mv_size < 16 ? k->mv_size : 16);
                out->bad[out->nbad].what = what;
            }
            out->nbad++;
        }
        if (cmp <= 0)
            ra = mdb_cursor_get(ca, &ka, &va, MDB_NEXT);
        if (cmp >= 0)
            rb = mdb_cursor_get(cb, &kb, &vb, MDB_NEXT);
    }
    if ((ra != 0 && ra != MDB_NOTFOUND) || (rb != 0 && rb != MDB_NOTFOUND)) {
        rc = jp_db_mdb_err(ra != MDB_NOTFOUND ? ra : rb, err, "rec cursor");
        goto done;
    }
    rc = 0;
done:
    if (ca)
        mdb_cursor_close(ca);
    if (cb)
        mdb_cursor_close(cb);
    jp_txn_abort(&r);
    jp_db_close(&dst);
    return rc;
}
