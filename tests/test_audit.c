/*
 * test_audit.c -- the export file and the auditor's checks, in process.
 *
 * A group is built with the real db layer: two stores write customers in
 * their own LMDB environments; a server environment applies their batches
 * as the server does (jp_txn_apply, the group log, the store's batch
 * signature, a receipt signed by the server's key) and the digest after
 * every batch is noted.  Its export is written with the export writer.
 * Then: it verifies; each way of tampering (a flipped byte, a removed
 * entry, a swap, a duplicated batch, a wrong key, a changed seq -- the
 * file re-signed by the server's key, so only the entry checks can find
 * it) is named at the right entry; every single flipped byte and every
 * truncation of the file is caught without a crash; replay at every batch
 * boundary and as of every batch's time gives the digest the server had.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest.h"
#include "audit.h"
#include "codec.h"
#include "db.h"
#include "export.h"

#define NB 12 /* batches */

typedef struct {
    char dir[64];
    jp_db_t *srv, *st[3];
    jp_key_t *ksrv, *kst[3], *evil;
    uint64_t len[NB + 1];                /* group log length after batch i */
    uint8_t digest[NB + 1][JP_HASH_LEN]; /* server digest after batch i */
    uint64_t ms[NB + 1];                 /* batch i's accepted ms */
    char file[128];                      /* the export */
    uint64_t end_pos;
} w_t;

static w_t W;

static int
s_rm(const char *p, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(p);
}

static jp_db_t *
s_env(const char *name, uint16_t store)
{
    char d[128];
    snprintf(d, sizeof d, "%s/%s", W.dir, name);
    assert_int_equal(mkdir(d, 0700), 0);
    jp_db_t *db = NULL;
    assert_int_equal(jp_db_open(&db, d, 64, NULL), 0);
    jp_txn_t *t;
    jp_node_t n = {.store = store};
    snprintf(n.group, sizeof n.group, "G");
    snprintf(n.tz, sizeof n.tz, "Asia/Shanghai");
    assert_int_equal(jp_db_begin(db, true, &t, NULL), 0);
    assert_int_equal(jp_txn_node_set(t, &n), 0);
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
    return db;
}

/* Store s writes k customers (or renames earlier ones). */
static void
s_write(int s, int k, int round)
{
    static jp_id_t made[3][64];
    static int nmade[3];
    jp_txn_t *t;
    char name[32];
    assert_int_equal(jp_db_begin(W.st[s], true, &t, NULL), 0);
    for (int i = 0; i < k; i++) {
        jp_change_t ch;
        memset(&ch, 0, sizeof ch);
        ch.author = "t";
        ch.author_len = 1;
        ch.kind = JP_K_CUSTOMER;
        int n = snprintf(name, sizeof name, "n%d-%d-%d", s, round, i);
        if (round % 3 == 2 && nmade[s] > 0) {
            ch.id = made[s][i % nmade[s]];
        } else {
            ch.id = jp_db_new_id(W.st[s]);
            made[s][nmade[s]++ % 64] = ch.id;
            jp_change_set_str(&ch, JP_F_EXT_ID, name, (size_t)n);
            jp_change_set_int(&ch, JP_F_CREATED_AT, 1700000000000);
        }
        jp_change_set_str(&ch, JP_F_NAME, name, (size_t)n);
        assert_int_equal(jp_txn_write(t, &ch, NULL), 0);
    }
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
}

/* The server accepts store s's changes after what it holds, as one batch. */
static void
s_push(int s, int b)
{
    jp_txn_t *st, *sv;
    jp_head_t hs, hv;
    assert_int_equal(jp_db_begin(W.st[s], false, &st, NULL), 0);
    assert_int_equal(jp_db_begin(W.srv, true, &sv, NULL), 0);
    assert_int_equal(jp_txn_head(st, (uint16_t)s, &hs), 0);
    assert_int_equal(jp_txn_head(sv, (uint16_t)s, &hv), 0);
    uint64_t first = hv.seq + 1, pos;
    for (uint64_t q = first; q <= hs.seq; q++) {
        const uint8_t *p;
        size_t n;
        assert_int_equal(jp_txn_log_get(st, (uint16_t)s, q, &p, &n), 0);
        jp_chead_t ch;
        assert_int_equal(jp_txn_apply(sv, p, n, NULL), 0);
        assert_int_equal(jp_change_peek(p, n, &ch), 0);
        assert_int_equal(jp_txn_glog_append(sv, (uint16_t)s, q, &ch.id, &pos), 0);
    }
    W.ms[b] = 1700000000000ull + (uint64_t)b * 1000;
    jp_batch_t bt = {.store = (uint16_t)s, .first = first, .last = hs.seq, .ms = W.ms[b]};
    uint8_t msg[JP_BATCH_MSG_LEN];
    jp_batch_msg((uint16_t)s, first, hs.seq, hs.head, msg);
    assert_int_equal(jp_key_sign(W.kst[s], msg, sizeof msg, bt.sig), 0);
    jp_key_public(W.kst[s], bt.pub);
    assert_int_equal(jp_txn_batch_put(sv, &bt), 0);
    jp_receipt_t r = {.store = (uint16_t)s, .seq = hs.seq, .ms = W.ms[b]};
    jp_receipt_msg((uint16_t)s, hs.seq, r.ms, hs.head, msg);
    assert_int_equal(jp_key_sign(W.ksrv, msg, sizeof msg, r.sig), 0);
    assert_int_equal(jp_txn_receipt_put(sv, &r), 0);
    assert_int_equal(jp_txn_commit(&sv, NULL), 0);
    jp_txn_abort(&st);
    assert_int_equal(jp_db_begin(W.srv, false, &sv, NULL), 0);
    assert_int_equal(jp_txn_glog_len(sv, &W.len[b]), 0);
    assert_int_equal(jp_txn_digest(sv, W.digest[b]), 0);
    jp_txn_abort(&sv);
}

typedef struct {
    jp_txn_t *t;
    jp_xw_t *w;
} s_exp_t;

static int
s_exp_entry(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_exp_t *x = arg;
    assert_int_equal(kn, 8);
    assert_int_equal(vn, 10);
    uint64_t pos = 0, seq = 0;
    for (int i = 0; i < 8; i++) {
        pos = pos << 8 | k[i];
        seq = seq << 8 | v[2 + i];
    }
    uint16_t store = (uint16_t)(v[0] << 8 | v[1]);
    const uint8_t *p;
    size_t n;
    jp_batch_t b;
    assert_int_equal(jp_txn_log_get(x->t, store, seq, &p, &n), 0);
    assert_int_equal(jp_xw_entry(x->w, pos, store, seq, p, n), 0);
    if (jp_txn_batch_find(x->t, store, seq, &b) == 0 && b.last == seq) {
        assert_int_equal(jp_xw_batch(x->w, store, b.first, b.last, b.ms, b.pub, b.sig),
                         0);
        const void *rv;
        size_t rn;
        jp_receipt_t r;
        assert_int_equal(jp_txn_tb_get(x->t, JP_TB_RCPT, v, 10, &rv, &rn), 0);
        assert_int_equal(jp_receipt_decode(v, 10, rv, rn, &r), 0);
        assert_int_equal(jp_xw_receipt(x->w, store, seq, r.ms, r.sig), 0);
    }
    return 0;
}

static int
setup(void **state)
{
    (void)state;
    memset(&W, 0, sizeof W);
    /* tmpfs when there is one: the writer syncs each export it writes. */
    snprintf(W.dir, sizeof W.dir, "%s/jp-test-audit.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(W.dir));
    W.srv = s_env("srv", 0);
    W.st[1] = s_env("s1", 1);
    W.st[2] = s_env("s2", 2);
    assert_int_equal(jp_key_generate(&W.ksrv, NULL), 0);
    assert_int_equal(jp_key_generate(&W.kst[1], NULL), 0);
    assert_int_equal(jp_key_generate(&W.kst[2], NULL), 0);
    assert_int_equal(jp_key_generate(&W.evil, NULL), 0);
    for (int b = 1; b <= NB; b++) {
        int s = b % 2 ? 1 : 2;
        s_write(s, 3 + b % 4, b);
        s_push(s, b);
    }
    /* The export of the whole log, as jipan-server export writes it. */
    snprintf(W.file, sizeof W.file, "%s/g.jpx", W.dir);
    W.end_pos = W.len[NB];
    jp_xhdr_t h = {.kind = JP_XK_GROUP, .from = 1, .to = W.end_pos, .ms = W.ms[NB] + 1};
    snprintf(h.group, sizeof h.group, "G");
    snprintf(h.tz, sizeof h.tz, "Asia/Shanghai");
    s_exp_t x = {0};
    uint8_t pub[JP_PUB_LEN];
    assert_int_equal(jp_xw_open(&x.w, W.file, &h, NULL), 0);
    for (int s = 0; s < 3; s++) {
        jp_key_public(s ? W.kst[s] : W.ksrv, pub);
        assert_int_equal(jp_xw_key(x.w, (uint16_t)s, pub), 0);
    }
    assert_int_equal(jp_db_begin(W.srv, false, &x.t, NULL), 0);
    assert_int_equal(jp_txn_tb_each(x.t, JP_TB_GLOG, NULL, 0, s_exp_entry, &x), 0);
    jp_txn_abort(&x.t);
    assert_int_equal(jp_xw_end(x.w, W.end_pos, W.digest[NB], W.ksrv, NULL), 0);
    jp_xw_close(&x.w);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    jp_db_close(&W.srv);
    jp_db_close(&W.st[1]);
    jp_db_close(&W.st[2]);
    jp_key_destroy(&W.ksrv);
    jp_key_destroy(&W.kst[1]);
    jp_key_destroy(&W.kst[2]);
    jp_key_destroy(&W.evil);
    nftw(W.dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- tampering: read every record, change one thing, write and re-sign ---- */

typedef struct {
    jp_xrec_t r;
    uint8_t *p; /* an entry's change, owned */
} s_rec_t;

static size_t
s_load(s_rec_t *out, size_t cap)
{
    jp_xr_t *xr = NULL;
    size_t n = 0;
    assert_int_equal(jp_xr_open(&xr, W.file, NULL), 0);
    while (n < cap && jp_xr_next(xr, &out[n].r, NULL) > 0) {
        out[n].p = NULL;
        if (out[n].r.type == JP_XR_ENTRY) {
            out[n].p = malloc(out[n].r.u.entry.n);
            memcpy(out[n].p, out[n].r.u.entry.p, out[n].r.u.entry.n);
            out[n].r.u.entry.p = out[n].p;
        }
        n++;
    }
    jp_xr_close(&xr);
    return n;
}

static void
s_save(const char *path, s_rec_t *rs, size_t n)
{
    jp_xw_t *w = NULL;
    unlink(path);
    assert_int_equal(jp_xw_open(&w, path, &rs[0].r.u.hdr, NULL), 0);
    for (size_t i = 1; i < n; i++) {
        const jp_xrec_t *r = &rs[i].r;
        switch (r->type) {
        case JP_XR_KEY:
            jp_xw_key(w, r->u.key.store, r->u.key.pub);
            break;
        case JP_XR_ENTRY:
            jp_xw_entry(w, r->u.entry.pos, r->u.entry.store, r->u.entry.seq, r->u.entry.p,
                        r->u.entry.n);
            break;
        case JP_XR_BATCH:
            jp_xw_batch(w, r->u.batch.store, r->u.batch.first, r->u.batch.last,
                        r->u.batch.ms, r->u.batch.pub, r->u.batch.sig);
            break;
        case JP_XR_RECEIPT:
            jp_xw_receipt(w, r->u.receipt.store, r->u.receipt.seq, r->u.receipt.ms,
                          r->u.receipt.sig);
            break;
        case JP_XR_END:
            assert_int_equal(jp_xw_end(w, r->u.end.pos, r->u.end.digest, W.ksrv, NULL),
                             0);
            break;
        }
    }
    jp_xw_close(&w);
}

static void
s_free(s_rec_t *rs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(rs[i].p);
}

static size_t
s_find_entry(s_rec_t *rs, size_t n, uint64_t pos)
{
    for (size_t i = 0; i < n; i++)
        if (rs[i].r.type == JP_XR_ENTRY && rs[i].r.u.entry.pos == pos)
            return i;
    fail_msg("no entry at %llu", (unsigned long long)pos);
    return 0;
}

static size_t
s_find_batch(s_rec_t *rs, size_t n, int which)
{
    for (size_t i = 0; i < n; i++)
        if (rs[i].r.type == JP_XR_BATCH && --which == 0)
            return i;
    fail_msg("no batch");
    return 0;
}

static void
s_verify(const char *path, jp_averify_t *v)
{
    assert_int_equal(jp_audit_verify(path, NULL, v, NULL), 0);
}

#define S_CAP 1024

static void
test_untouched_verifies(void **state)
{
    (void)state;
    jp_averify_t v;
    s_verify(W.file, &v);
    if (v.nfaults)
        fail_msg("%s", v.first.what);
    assert_int_equal(v.entries, W.end_pos);
    assert_int_equal(v.batches, NB);
    assert_int_equal(v.receipts, NB);
    assert_true(v.end_ok);
    assert_memory_equal(v.digest, W.digest[NB], JP_HASH_LEN);
    /* Read and written again unchanged: still verifies (the tamper harness
     * itself changes nothing). */
    static s_rec_t rs[S_CAP];
    size_t n = s_load(rs, S_CAP);
    char out[160];
    snprintf(out, sizeof out, "%s/same.jpx", W.dir);
    s_save(out, rs, n);
    s_free(rs, n);
    s_verify(out, &v);
    assert_int_equal(v.nfaults, 0);
}

/* Tamper with one thing; the first fault must be at pos/store/seq. */
static void
s_expect(const char *what, s_rec_t *rs, size_t n, uint64_t pos, uint16_t store,
         uint64_t seq, int code)
{
    char out[160];
    jp_averify_t v;
    snprintf(out, sizeof out, "%s/bad.jpx", W.dir);
    s_save(out, rs, n);
    s_verify(out, &v);
    if (v.nfaults == 0)
        fail_msg("%s: not found", what);
    if (v.first.pos != pos || v.first.store != store || v.first.seq != seq ||
        v.first.code != code)
        fail_msg(
            "%s: named pos %llu store %u seq %llu (%s), not pos %llu store %u seq %llu: "
            "%s",
            what, (unsigned long long)v.first.pos, v.first.store,
            (unsigned long long)v.first.seq, jp_strerror(v.first.code),
            (unsigned long long)pos, store, (unsigned long long)seq, v.first.what);
}

static void
test_flip_a_value(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP];
    size_t n = s_load(rs, S_CAP);
    /* Every entry but the last of its store: its successor names it.  The
     * last ones: its batch's signature does. */
    for (uint64_t pos = 1; pos <= W.end_pos; pos++) {
        size_t i = s_find_entry(rs, n, pos);
        jp_xentry_t *e = &rs[i].r.u.entry;
        rs[i].p[e->n - 2] ^= 0x01; /* inside the name's text */
        char what[64];
        snprintf(what, sizeof what, "flip at %llu", (unsigned long long)pos);
        jp_averify_t v;
        char out[160];
        snprintf(out, sizeof out, "%s/bad.jpx", W.dir);
        s_save(out, rs, n);
        s_verify(out, &v);
        assert_true(v.nfaults > 0);
        assert_int_equal(v.first.store, e->store);
        assert_int_equal(v.first.seq, e->seq);
        assert_int_equal(v.first.pos, pos);
        rs[i].p[e->n - 2] ^= 0x01;
    }
    s_free(rs, n);
}

static void
test_drop_swap_dup_seq(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP], save[S_CAP];
    size_t n = s_load(rs, S_CAP);
    memcpy(save, rs, sizeof(s_rec_t) * n);

    /* Drop entry 5 (not a batch's last). */
    size_t i = s_find_entry(rs, n, 5);
    if (rs[i + 1].r.type != JP_XR_ENTRY)
        i = s_find_entry(rs, n, 4);
    jp_xentry_t e = rs[i].r.u.entry;
    memmove(&rs[i], &rs[i + 1], (n - i - 1) * sizeof *rs);
    s_expect("drop", rs, n - 1, e.pos, e.store, e.seq, JP_ECHAIN);
    memcpy(rs, save, sizeof(s_rec_t) * n);

    /* Swap two entries of one batch: the first is named missing. */
    i = s_find_entry(rs, n, e.pos);
    s_rec_t t = rs[i];
    rs[i] = rs[i + 1];
    rs[i + 1] = t;
    s_expect("swap", rs, n, e.pos, e.store, e.seq, JP_ECHAIN);
    memcpy(rs, save, sizeof(s_rec_t) * n);

    /* Duplicate batch 3: entries, batch, receipt, right after it. */
    static s_rec_t dup[S_CAP];
    size_t b = s_find_batch(rs, n, 3);
    jp_xrec_t br = rs[b].r;
    size_t start = b;
    while (rs[start - 1].r.type == JP_XR_ENTRY &&
           rs[start - 1].r.u.entry.seq >= br.u.batch.first)
        start--;
    size_t len = b + 2 - start, m = 0;
    for (size_t k = 0; k < b + 2; k++)
        dup[m++] = rs[k];
    for (size_t k = start; k < b + 2; k++)
        dup[m++] = rs[k];
    for (size_t k = b + 2; k < n; k++)
        dup[m++] = rs[k];
    assert_int_equal(m, n + len);
    s_expect("duplicate batch", dup, m, rs[start].r.u.entry.pos, br.u.batch.store,
             br.u.batch.first, JP_ECHAIN);

    /* A seq changed inside a change. */
    i = s_find_entry(rs, n, 7);
    jp_change_t ch;
    jp_buf_t buf = {0};
    assert_int_equal(jp_change_decode(rs[i].p, rs[i].r.u.entry.n, &ch, NULL), 0);
    ch.seq += 1;
    assert_int_equal(jp_change_encode(&ch, &buf), 0);
    const uint8_t *keep = rs[i].r.u.entry.p;
    size_t keepn = rs[i].r.u.entry.n;
    rs[i].r.u.entry.p = buf.data;
    rs[i].r.u.entry.n = buf.len;
    s_expect("seq", rs, n, 7, rs[i].r.u.entry.store, rs[i].r.u.entry.seq, JP_EPERM);
    rs[i].r.u.entry.p = keep;
    rs[i].r.u.entry.n = keepn;
    jp_buf_free(&buf);
    s_free(rs, n);
}

static void
test_wrong_key(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP];
    size_t n = s_load(rs, S_CAP);
    size_t b = s_find_batch(rs, n, 4);
    jp_xrec_t *br = &rs[b].r;
    const jp_xentry_t *last = &rs[b - 1].r.u.entry;
    uint8_t head[JP_HASH_LEN], msg[JP_BATCH_MSG_LEN], sig[JP_SIG_LEN], pub[JP_PUB_LEN];
    jp_sha256(last->p, last->n, head);
    jp_batch_msg(br->u.batch.store, br->u.batch.first, br->u.batch.last, head, msg);
    assert_int_equal(jp_key_sign(W.evil, msg, sizeof msg, sig), 0);
    memcpy(br->u.batch.sig, sig, JP_SIG_LEN);
    s_expect("re-signed, same key named", rs, n, last->pos, br->u.batch.store,
             br->u.batch.last, JP_ESIG);
    jp_key_public(W.evil, pub);
    memcpy(br->u.batch.pub, pub, JP_PUB_LEN);
    s_expect("re-signed with its own key", rs, n, last->pos, br->u.batch.store,
             br->u.batch.last, JP_ESIG);
    s_free(rs, n);
}

/* The export's bytes, whole, into b (cap bytes: more than the file). */
static size_t
s_read_export(uint8_t *b, size_t cap)
{
    FILE *f = fopen(W.file, "rb");
    assert_non_null(f);
    size_t n = fread(b, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

static void
test_every_byte_and_truncation(void **state)
{
    (void)state;
    static uint8_t b[1 << 16];
    size_t n = s_read_export(b, sizeof b);
    char out[160];
    snprintf(out, sizeof out, "%s/byte.jpx", W.dir);
    jp_averify_t v;
    for (size_t i = 0; i < n; i += 3) {
        for (int pass = 0; pass < 2; pass++) {
            FILE *f = fopen(out, "wb");
            if (pass == 0) {
                b[i] ^= 0x20;
                fwrite(b, 1, n, f);
                b[i] ^= 0x20;
            } else {
                fwrite(b, 1, i, f);
            }
            fclose(f);
            s_verify(out, &v);
            if (v.nfaults == 0)
                fail_msg("%s at byte %zu not caught", pass ? "truncation" : "flip", i);
        }
    }
}

static void
test_replay_positions_and_times(void **state)
{
    (void)state;
    char d[160];
    for (int b = 0; b <= NB; b++) {
        for (int by_time = 0; by_time < 2; by_time++) {
            snprintf(d, sizeof d, "%s/r%d-%d", W.dir, b, by_time);
            assert_int_equal(mkdir(d, 0700), 0);
            jp_db_t *db = NULL;
            assert_int_equal(jp_db_open(&db, d, 64, NULL), 0);
            jp_areplay_opts_t o = {.at_pos = W.len[b]};
            if (by_time) {
                o.by_time = true;
                o.as_of = b ? (int64_t)W.ms[b] : (int64_t)W.ms[1] - 1;
            }
            jp_areplay_t r;
            jp_err_t err = {0};
            int rc = jp_audit_replay(W.file, db, &o, &r, &err);
            if (rc)
                fail_msg("replay: %s", err.msg);
            assert_int_equal(r.pos, W.len[b]);
            if (b == 0) {
                jp_txn_t *t;
                uint8_t empty[JP_HASH_LEN];
                assert_int_equal(jp_db_begin(db, false, &t, NULL), 0);
                assert_int_equal(jp_txn_digest(t, empty), 0);
                jp_txn_abort(&t);
                assert_memory_equal(r.digest, empty, JP_HASH_LEN);
            } else {
                assert_memory_equal(r.digest, W.digest[b], JP_HASH_LEN);
            }
            assert_int_equal(r.match, b == NB);
            jp_db_close(&db);
        }
    }
    /* Past the end: refused. */
    snprintf(d, sizeof d, "%s/past", W.dir);
    assert_int_equal(mkdir(d, 0700), 0);
    jp_db_t *db = NULL;
    assert_int_equal(jp_db_open(&db, d, 64, NULL), 0);
    jp_areplay_opts_t o = {.at_pos = W.end_pos + 1};
    jp_areplay_t r;
    assert_int_equal(jp_audit_replay(W.file, db, &o, &r, NULL), JP_EINVAL);
    jp_db_close(&db);
}

/* ---- faults named at their entry, each one counted ------------------------- */

/* Verify rs as saved (END re-signed by the server: only the entry checks
 * can find what was changed); the faults and the first one. */
static void
s_check(s_rec_t *rs, size_t n, jp_averify_t *v)
{
    char out[160];
    snprintf(out, sizeof out, "%s/bad.jpx", W.dir);
    s_save(out, rs, n);
    s_verify(out, v);
}

/* Sign the batch record at rs[b] again with key, over its last change. */
static void
s_resign(s_rec_t *rs, size_t b, jp_key_t *key, bool set_pub)
{
    jp_xrec_t *br = &rs[b].r;
    const jp_xentry_t *last = &rs[b - 1].r.u.entry;
    uint8_t head[JP_HASH_LEN], msg[JP_BATCH_MSG_LEN];
    jp_sha256(last->p, last->n, head);
    jp_batch_msg(br->u.batch.store, br->u.batch.first, br->u.batch.last, head, msg);
    assert_int_equal(jp_key_sign(key, msg, sizeof msg, br->u.batch.sig), 0);
    if (set_pub)
        jp_key_public(key, br->u.batch.pub);
}

/* A receipt that does not verify, on an intact change: named at the
 * position of that change, not at position 0. */
static void
test_receipt_fault_named_at_its_entry(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP];
    size_t n = s_load(rs, S_CAP);
    size_t b = s_find_batch(rs, n, 5);
    assert_int_equal(rs[b + 1].r.type, JP_XR_RECEIPT);
    rs[b + 1].r.u.receipt.sig[7] ^= 0x10;
    const jp_xentry_t *e = &rs[b - 1].r.u.entry;
    jp_averify_t v;
    s_check(rs, n, &v);
    assert_int_equal(v.nfaults, 1);
    assert_int_equal(v.first.pos, e->pos);
    assert_int_equal(v.first.store, e->store);
    assert_int_equal(v.first.seq, e->seq);
    assert_int_equal(v.first.code, JP_ESIG);
    char want[32];
    snprintf(want, sizeof want, "position %llu,", (unsigned long long)e->pos);
    if (!strstr(v.first.what, want))
        fail_msg("not named at %s: %s", want, v.first.what);
    s_free(rs, n);
}

/* A file cut inside a record, or between two, is refused as truncated at
 * the byte where it ends: one fault, not the unsigned changes before it. */
static void
test_truncation_named_at_its_byte(void **state)
{
    (void)state;
    FILE *f = fopen(W.file, "rb");
    assert_non_null(f);
    static uint8_t b[1 << 16];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    uint64_t off = 0;
    assert_int_equal(jp_xr_open(&xr, W.file, NULL), 0);
    while (jp_xr_next(xr, &r, NULL) > 0)
        if (r.type == JP_XR_ENTRY && r.u.entry.pos == 10)
            off = r.offset;
    jp_xr_close(&xr);
    assert_true(off > 0 && off + 40 < n);
    char out[160], want[64];
    snprintf(out, sizeof out, "%s/cut.jpx", W.dir);
    const uint64_t cuts[] = {off + 1, off + 3, off + 30, off};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        unlink(out);
        f = fopen(out, "wb");
        fwrite(b, 1, cuts[i], f);
        fclose(f);
        jp_averify_t v;
        s_verify(out, &v);
        snprintf(want, sizeof want, "byte %llu", (unsigned long long)cuts[i]);
        if (v.nfaults != 1 || !strstr(v.first.what, want) ||
            !strstr(v.first.what, "truncated"))
            fail_msg("cut at %llu: %llu faults, the first: %s",
                     (unsigned long long)cuts[i], (unsigned long long)v.nfaults,
                     v.first.what);
        assert_int_equal(v.first.code, JP_ECORRUPT);
    }
}

/* A header whose kind says store export, with store 0: the header is
 * named, once, not every entry. */
static void
test_header_kind_named(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP];
    size_t n = s_load(rs, S_CAP);
    rs[0].r.u.hdr.kind = JP_XK_STORE;
    jp_averify_t v;
    s_check(rs, n, &v);
    if (v.nfaults != 1 || !strstr(v.first.what, "HEADER"))
        fail_msg("%llu faults, the first: %s", (unsigned long long)v.nfaults,
                 v.first.what);
    assert_int_equal(v.first.index, 0);
    assert_int_equal(v.first.pos, 0);
    s_free(rs, n);
}

/* The records of batch k: its entries, the BATCH and the RECEIPT, as
 * [*lo, *hi). */
static void
s_block(s_rec_t *rs, size_t n, int k, size_t *lo, size_t *hi)
{
    size_t b = s_find_batch(rs, n, k);
    *hi = b + 2;
    *lo = b;
    while (*lo > 0 && rs[*lo - 1].r.type == JP_XR_ENTRY)
        (*lo)--;
}

/* Two stores' batches swapped, positions renumbered, END re-signed: the
 * chains hold, but the later batch's accepted time runs backwards. */
static void
test_swapped_batches_named(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP], sw[S_CAP];
    size_t n = s_load(rs, S_CAP), lo3, hi3, lo4, hi4, m = 0;
    s_block(rs, n, 3, &lo3, &hi3);
    s_block(rs, n, 4, &lo4, &hi4);
    assert_int_equal(hi3, lo4);
    assert_int_not_equal(rs[hi3 - 2].r.u.batch.store, rs[hi4 - 2].r.u.batch.store);
    for (size_t i = 0; i < lo3; i++)
        sw[m++] = rs[i];
    for (size_t i = lo4; i < hi4; i++)
        sw[m++] = rs[i];
    for (size_t i = lo3; i < hi3; i++)
        sw[m++] = rs[i];
    for (size_t i = hi4; i < n; i++)
        sw[m++] = rs[i];
    assert_int_equal(m, n);
    uint64_t pos = 1, named = 0;
    for (size_t i = 0; i < m; i++) {
        if (sw[i].r.type != JP_XR_ENTRY)
            continue;
        sw[i].r.u.entry.pos = pos++;
        if (sw[i + 1].r.type == JP_XR_BATCH &&
            sw[i + 1].r.u.batch.last == rs[hi3 - 2].r.u.batch.last &&
            sw[i + 1].r.u.batch.store == rs[hi3 - 2].r.u.batch.store)
            named = sw[i].r.u.entry.pos;
    }
    jp_averify_t v;
    s_check(sw, m, &v);
    if (v.nfaults != 1)
        fail_msg("%llu faults, the first: %s", (unsigned long long)v.nfaults,
                 v.nfaults ? v.first.what : "none");
    assert_int_equal(v.first.pos, named);
    assert_int_equal(v.first.store, rs[hi3 - 2].r.u.batch.store);
    assert_int_equal(v.first.seq, rs[hi3 - 2].r.u.batch.last);
    if (!strstr(v.first.what, "accepted"))
        fail_msg("%s", v.first.what);
    s_free(rs, n);
}

/* Every bad batch signature is a fault of its own, whether a good batch
 * of the store follows it or not; and a change altered without END
 * re-signed is one fault, not two. */
static void
test_every_fault_counted(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP];
    size_t n = s_load(rs, S_CAP);
    jp_averify_t v;
    /* Store 2's batches 4, 6, ... 12 (to the end): five faults. */
    for (int k = 4; k <= NB; k += 2)
        s_resign(rs, s_find_batch(rs, n, k), W.evil, false);
    s_check(rs, n, &v);
    size_t b4 = s_find_batch(rs, n, 4);
    if (v.nfaults != (NB - 4) / 2 + 1)
        fail_msg("%llu faults for %d bad batches, the first: %s",
                 (unsigned long long)v.nfaults, (NB - 4) / 2 + 1, v.first.what);
    assert_int_equal(v.first.pos, rs[b4 - 1].r.u.entry.pos);
    /* The same with their keys replaced too: five, each by a wrong key. */
    for (int k = 4; k <= NB; k += 2)
        s_resign(rs, s_find_batch(rs, n, k), W.evil, true);
    s_check(rs, n, &v);
    assert_int_equal(v.nfaults, (NB - 4) / 2 + 1);
    assert_non_null(strstr(v.first.what, "not one of store 2's keys"));
    s_free(rs, n);
    /* Store 1's batches 1 and 3 bad, 5 good: two faults. */
    n = s_load(rs, S_CAP);
    s_resign(rs, s_find_batch(rs, n, 1), W.evil, false);
    s_resign(rs, s_find_batch(rs, n, 3), W.evil, false);
    s_check(rs, n, &v);
    assert_int_equal(v.nfaults, 2);
    s_free(rs, n);
    /* A byte of a change flipped in the file as the server wrote it (END
     * not re-signed): the change is the one fault. */
    FILE *f = fopen(W.file, "rb");
    assert_non_null(f);
    static uint8_t b[1 << 16];
    size_t len = fread(b, 1, sizeof b, f);
    fclose(f);
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    uint64_t next = 0; /* the record after position 6's: the change ends before it */
    bool after6 = false;
    assert_int_equal(jp_xr_open(&xr, W.file, NULL), 0);
    while (jp_xr_next(xr, &r, NULL) > 0 && !next) {
        if (after6)
            next = r.offset;
        after6 = r.type == JP_XR_ENTRY && r.u.entry.pos == 6;
    }
    jp_xr_close(&xr);
    assert_true(next > 2);
    b[next - 2] ^= 0x01;
    char out[160];
    snprintf(out, sizeof out, "%s/flip.jpx", W.dir);
    f = fopen(out, "wb");
    fwrite(b, 1, len, f);
    fclose(f);
    s_verify(out, &v);
    if (v.nfaults != 1 || v.first.pos != 6)
        fail_msg("%llu faults, the first: %s", (unsigned long long)v.nfaults,
                 v.first.what);
}

/* ---- store keys pinned by the stores' own key files ------------------------ */

/* Verify path with the key files of the stores in pins[] (0-terminated). */
static void
s_verify_pinned(const char *path, const char *const *files, int nfiles, jp_averify_t *v)
{
    jp_averify_opts_t o = {.key_files = files, .nkey_files = nfiles};
    jp_err_t err = {0};
    if (jp_audit_verify(path, &o, v, &err))
        fail_msg("verify: %s", err.msg);
}

/* Store s's key file at path, of group g, with its own key and extra. */
static void
s_attest(const char *path, int s, const char *g, jp_key_t *extra)
{
    jp_attest_t a = {.store = (uint16_t)s, .ms = 1700000000000, .nkeys = 1};
    snprintf(a.group, sizeof a.group, "%s", g);
    jp_key_public(W.kst[s], a.keys[0]);
    if (extra)
        jp_key_public(extra, a.keys[a.nkeys++]);
    unlink(path);
    assert_int_equal(jp_attest_write(path, &a, W.kst[s], NULL), 0);
}

/* Insert KEY (store, pub of key) after the KEY records; re-sign store's
 * batches with key (its key in each); END is re-signed by s_save. */
static size_t
s_forge_key(s_rec_t *rs, size_t n, uint16_t store, jp_key_t *key, bool replace)
{
    size_t at = 1;
    while (rs[at].r.type == JP_XR_KEY)
        at++;
    if (replace) {
        for (size_t i = 1; i < at; i++)
            if (rs[i].r.u.key.store == store)
                jp_key_public(key, rs[i].r.u.key.pub);
    } else {
        memmove(&rs[at + 1], &rs[at], (n - at) * sizeof *rs);
        memset(&rs[at], 0, sizeof rs[at]);
        rs[at].r.type = JP_XR_KEY;
        rs[at].r.u.key.store = store;
        jp_key_public(key, rs[at].r.u.key.pub);
        n++;
    }
    for (size_t i = 0; i < n; i++)
        if (rs[i].r.type == JP_XR_BATCH && rs[i].r.u.batch.store == store)
            s_resign(rs, i, key, true);
    return n;
}

static void
test_store_keys_pinned(void **state)
{
    (void)state;
    char k1[160], k2[160], kx[160], out[160];
    snprintf(k1, sizeof k1, "%s/1.keys", W.dir);
    snprintf(k2, sizeof k2, "%s/2.keys", W.dir);
    snprintf(kx, sizeof kx, "%s/x.keys", W.dir);
    snprintf(out, sizeof out, "%s/bad.jpx", W.dir);
    s_attest(k1, 1, "G", NULL);
    s_attest(k2, 2, "G", W.kst[1]); /* a key it holds but never used: fine */
    const char *both[] = {k1, k2};
    jp_averify_t v;

    /* Untouched: verifies, both stores pinned; without files, none. */
    s_verify_pinned(W.file, both, 2, &v);
    if (v.nfaults)
        fail_msg("%s", v.first.what);
    assert_int_equal(v.key_stores, 2);
    assert_int_equal(v.pinned, 2);
    assert_int_equal(v.key_files, 2);
    s_verify(W.file, &v);
    assert_int_equal(v.nfaults, 0);
    assert_int_equal(v.pinned, 0);

    /* The server lists its own key as a second key of store 2, or in place
     * of store 2's, and signs store 2's batches with it: unpinned this
     * verifies (what it rests on is said), pinned it is the KEY record and
     * each of the NB / 2 batches it signed. */
    static s_rec_t rs[S_CAP + 1];
    for (int replace = 0; replace < 2; replace++) {
        size_t n = s_load(rs, S_CAP);
        size_t m = s_forge_key(rs, n, 2, W.evil, replace);
        s_save(out, rs, m);
        s_verify(out, &v);
        assert_int_equal(v.nfaults, 0);
        assert_int_equal(v.pinned, 0);
        s_verify_pinned(out, both, 2, &v);
        if (v.nfaults != 1 + NB / 2 || v.first.store != 2 || v.first.index != 0 ||
            !strstr(v.first.what, "not the store's key"))
            fail_msg("%s: %llu faults, the first: %s", replace ? "replaced" : "added",
                     (unsigned long long)v.nfaults, v.first.what);
        /* Only store 1 pinned: store 2's forgery rests on the listed keys. */
        s_verify_pinned(out, both, 1, &v);
        assert_int_equal(v.nfaults, 0);
        assert_int_equal(v.pinned, 1);
        s_free(rs, n);
    }

    /* The server's own key as a key of store 2: a fault, pinned or not. */
    size_t n = s_load(rs, S_CAP);
    size_t m = s_forge_key(rs, n, 2, W.ksrv, false);
    s_save(out, rs, m);
    s_verify(out, &v);
    if (v.nfaults != 1 + NB / 2 || !strstr(v.first.what, "server's own key"))
        fail_msg("%llu faults, the first: %s", (unsigned long long)v.nfaults,
                 v.first.what);
    s_free(rs, n);

    /* A key file of another group, altered, or not one: a fault naming it. */
    s_attest(kx, 1, "H", NULL);
    s_verify_pinned(W.file, (const char *[]){kx}, 1, &v);
    assert_int_equal(v.nfaults, 1);
    assert_non_null(strstr(v.first.what, "of group H"));
    FILE *f = fopen(k1, "r+b");
    assert_non_null(f);
    fseek(f, 25, SEEK_SET); /* the G of "group G" */
    fputc('X', f);
    fclose(f);
    s_verify_pinned(W.file, (const char *[]){k1}, 1, &v);
    assert_int_equal(v.nfaults, 1);
    assert_int_equal(v.first.code, JP_ESIG);
    assert_non_null(strstr(v.first.what, "1.keys"));
    s_verify_pinned(W.file, (const char *[]){W.file}, 1, &v);
    assert_int_equal(v.nfaults, 1);
    assert_non_null(strstr(v.first.what, "not a store key file"));
    jp_err_t err = {0};
    jp_averify_opts_t o = {.key_files = (const char *[]){"/nonexistent.keys"},
                           .nkey_files = 1};
    assert_int_equal(jp_audit_verify(W.file, &o, &v, &err), JP_ENOTFOUND);
}

/* The key file's form: what is written reads back; every line checked. */
static void
test_key_file_form(void **state)
{
    (void)state;
    char p[160];
    snprintf(p, sizeof p, "%s/form.keys", W.dir);
    s_attest(p, 2, "审计集团", W.evil);
    jp_attest_t a;
    jp_err_t err = {0};
    assert_int_equal(jp_attest_read(p, &a, &err), 0);
    assert_int_equal(a.store, 2);
    assert_int_equal(a.nkeys, 2);
    assert_string_equal(a.group, "审计集团");
    uint8_t pub[JP_PUB_LEN];
    jp_key_public(W.kst[2], pub);
    assert_memory_equal(a.keys[0], pub, JP_PUB_LEN);
    /* Overwriting is refused. */
    jp_attest_t b = a;
    assert_int_equal(jp_attest_write(p, &b, W.kst[2], NULL), JP_EEXIST);
    /* Every byte changed, and every cut, is refused (none reads as a file). */
    FILE *f = fopen(p, "rb");
    static char t[JP_ATTEST_MAX_FILE];
    size_t n = fread(t, 1, sizeof t, f);
    fclose(f);
    char q[160];
    snprintf(q, sizeof q, "%s/form2.keys", W.dir);
    for (size_t i = 0; i < n; i++) {
        for (int pass = 0; pass < 2; pass++) {
            f = fopen(q, "wb");
            if (pass == 0) {
                t[i] ^= 0x01;
                fwrite(t, 1, n, f);
                t[i] ^= 0x01;
            } else {
                fwrite(t, 1, i, f);
            }
            fclose(f);
            int rc = jp_attest_read(q, &a, &err);
            if (rc == 0)
                fail_msg("%s at byte %zu read as a key file", pass ? "cut" : "flip", i);
        }
    }
}

/* ---- one alteration, one fault ------------------------------------------- */

/* The file's bytes, and the offset of every record (offs[n] = size). */
static size_t
s_bytes(uint8_t *b, size_t cap, uint64_t *offs, uint8_t *types, size_t *nrec)
{
    FILE *f = fopen(W.file, "rb");
    assert_non_null(f);
    size_t n = fread(b, 1, cap, f);
    fclose(f);
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    size_t k = 0;
    assert_int_equal(jp_xr_open(&xr, W.file, NULL), 0);
    while (jp_xr_next(xr, &r, NULL) > 0) {
        types[k] = r.type;
        offs[k++] = r.offset;
    }
    jp_xr_close(&xr);
    offs[k] = n;
    *nrec = k;
    return n;
}

/* Write b[0..n) without the bytes [cut_lo, cut_hi), then extra; verify. */
static void
s_raw(const uint8_t *b, size_t n, uint64_t cut_lo, uint64_t cut_hi, const void *extra,
      size_t en, jp_averify_t *v)
{
    char out[160];
    snprintf(out, sizeof out, "%s/raw.jpx", W.dir);
    FILE *f = fopen(out, "wb");
    fwrite(b, 1, cut_lo, f);
    fwrite(b + cut_hi, 1, n - cut_hi, f);
    if (en)
        fwrite(extra, 1, en, f);
    fclose(f);
    s_verify(out, v);
}

static void
s_one(const char *what, const jp_averify_t *v)
{
    if (v->nfaults != 1)
        fail_msg("%s: %llu faults, the first: %s", what, (unsigned long long)v->nfaults,
                 v->nfaults ? v->first.what : "none");
}

static void
test_one_fault_each(void **state)
{
    (void)state;
    static uint8_t b[1 << 16];
    static uint64_t offs[S_CAP];
    static uint8_t types[S_CAP];
    size_t nrec, n = s_bytes(b, sizeof b, offs, types, &nrec);
    jp_averify_t v;

    /* An entry in the middle of a batch removed, END as the server wrote
     * it: the missing seq, not also END's count and file hash. */
    size_t k = 0;
    for (size_t i = 1; i + 1 < nrec && !k; i++)
        if (types[i] == JP_XR_ENTRY && types[i + 1] == JP_XR_ENTRY && i > 8)
            k = i;
    s_raw(b, n, offs[k], offs[k + 1], NULL, 0, &v);
    s_one("entry removed", &v);
    assert_non_null(strstr(v.first.what, "is missing"));

    /* Bytes after END: one fault, at that byte. */
    s_raw(b, n, n, n, "\x91\x07", 2, &v);
    s_one("bytes after END", &v);
    assert_non_null(strstr(v.first.what, "after the END record"));

    /* END's entry count changed: its signature and its count, one record. */
    size_t e = nrec - 1;
    assert_int_equal(types[e], JP_XR_END);
    static uint8_t c[1 << 16];
    memcpy(c, b, n);
    /* [0x98, 7, pos, entries, ...]: pos < 128 is one byte, as is entries */
    assert_true(W.end_pos < 128);
    c[offs[e] + 3] ^= 0x01;
    char out[160];
    snprintf(out, sizeof out, "%s/raw.jpx", W.dir);
    FILE *f = fopen(out, "wb");
    fwrite(c, 1, n, f);
    fclose(f);
    s_verify(out, &v);
    s_one("END count", &v);
    assert_non_null(strstr(v.first.what, "the END record"));

    /* The last change of a batch altered (re-signed): that change, not
     * also its batch signature and the server's receipt over it. */
    static s_rec_t rs[S_CAP];
    size_t m = s_load(rs, S_CAP);
    size_t b5 = s_find_batch(rs, m, 5);
    jp_xentry_t *last = &rs[b5 - 1].r.u.entry;
    rs[b5 - 1].p[last->n - 2] ^= 0x01;
    s_check(rs, m, &v);
    s_one("last change of a batch", &v);
    assert_int_equal(v.first.pos, last->pos);
    assert_non_null(strstr(v.first.what, "altered"));
    s_free(rs, m);

    /* One entry's position label changed (re-signed): that entry only. */
    m = s_load(rs, S_CAP);
    rs[s_find_entry(rs, m, 9)].r.u.entry.pos = 40;
    s_check(rs, m, &v);
    s_one("position label", &v);
    assert_int_equal(v.first.pos, 40);
    s_free(rs, m);

    /* The HEADER's last position changed (re-signed): the header. */
    m = s_load(rs, S_CAP);
    rs[0].r.u.hdr.to += 3;
    s_check(rs, m, &v);
    s_one("header to", &v);
    assert_int_equal(v.first.index, 0);
    assert_non_null(strstr(v.first.what, "HEADER"));
    s_free(rs, m);

    /* Store 2's KEY record removed (re-signed): pinned, that is one fault,
     * the key being the store's by its key file; unpinned, each batch it
     * signed is signed by a key the export does not list. */
    char k2[160];
    snprintf(k2, sizeof k2, "%s/2.keys", W.dir);
    s_attest(k2, 2, "G", NULL);
    m = s_load(rs, S_CAP);
    size_t at = 0;
    for (size_t i = 1; i < m && !at; i++)
        if (rs[i].r.type == JP_XR_KEY && rs[i].r.u.key.store == 2)
            at = i;
    memmove(&rs[at], &rs[at + 1], (m - at - 1) * sizeof *rs);
    s_check(rs, m - 1, &v);
    assert_int_equal(v.nfaults, NB / 2);
    snprintf(out, sizeof out, "%s/bad.jpx", W.dir);
    s_verify_pinned(out, (const char *[]){k2}, 1, &v);
    s_one("KEY removed, pinned", &v);
    assert_non_null(strstr(v.first.what, "KEY record removed"));
    m--;
    s_free(rs, m);
}

typedef struct {
    unsigned n;     /* callbacks */
    unsigned timed; /* of those with an accepted time */
} s_hist_t;

static int
s_on_hist(void *arg, const jp_ahist_t *h)
{
    s_hist_t *c = arg;
    c->n++;
    c->timed += h->accepted_ms != 0;
    return 0;
}

/* A record's history with its batches' accepted times, and of an export
 * whose BATCH records were removed: the same changes, no times, and no
 * sort of the absent batch list (a NULL array handed to qsort). */
static void
test_history_without_batches(void **state)
{
    (void)state;
    static s_rec_t rs[S_CAP];
    size_t n = s_load(rs, S_CAP);
    jp_change_t ch;
    size_t e = s_find_entry(rs, n, 1);
    assert_int_equal(jp_change_decode(rs[e].r.u.entry.p, rs[e].r.u.entry.n, &ch, NULL),
                     0);
    jp_id_t id = ch.id;
    s_hist_t c = {0};
    uint64_t count = 0;
    assert_int_equal(jp_audit_history(W.file, &id, s_on_hist, &c, &count, NULL), 0);
    assert_true(count > 0);
    assert_int_equal(c.n, count);
    assert_int_equal(c.timed, count);

    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (rs[i].r.type == JP_XR_BATCH) {
            free(rs[i].p);
            continue;
        }
        rs[kept++] = rs[i];
    }
    char out[160];
    snprintf(out, sizeof out, "%s/nobatch.jpx", W.dir);
    s_save(out, rs, kept);
    s_free(rs, kept);
    s_hist_t c2 = {0};
    uint64_t count2 = 0;
    assert_int_equal(jp_audit_history(out, &id, s_on_hist, &c2, &count2, NULL), 0);
    assert_int_equal(count2, count);
    assert_int_equal(c2.n, count);
    assert_int_equal(c2.timed, 0);
}

/* The reader sizes its buffer to a small file; a file that grows after it
 * was opened (an export still being written) is read whole all the same. */
static void
test_reader_file_grows(void **state)
{
    (void)state;
    static uint8_t all[1 << 16];
    size_t n = s_read_export(all, sizeof all);
    assert_true(n > 4096);
    size_t records = 0;
    jp_xr_t *xr = NULL;
    jp_xrec_t r;
    assert_int_equal(jp_xr_open(&xr, W.file, NULL), 0);
    while (jp_xr_next(xr, &r, NULL) > 0)
        records++;
    jp_xr_close(&xr);

    char path[160];
    snprintf(path, sizeof path, "%s/growing.jpx", W.dir);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    assert_int_equal(fwrite(all, 1, 100, out), 100);
    assert_int_equal(fflush(out), 0);
    assert_int_equal(jp_xr_open(&xr, path, NULL), 0); /* sized to 100 bytes */
    assert_int_equal(fwrite(all + 100, 1, n - 100, out), n - 100);
    assert_int_equal(fclose(out), 0);
    size_t got = 0;
    jp_err_t err = {0};
    int rc;
    while ((rc = jp_xr_next(xr, &r, &err)) > 0)
        got++;
    if (rc < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(got, records);
    jp_xr_close(&xr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untouched_verifies),
        cmocka_unit_test(test_history_without_batches),
        cmocka_unit_test(test_reader_file_grows),
        cmocka_unit_test(test_flip_a_value),
        cmocka_unit_test(test_drop_swap_dup_seq),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_every_byte_and_truncation),
        cmocka_unit_test(test_replay_positions_and_times),
        cmocka_unit_test(test_receipt_fault_named_at_its_entry),
        cmocka_unit_test(test_truncation_named_at_its_byte),
        cmocka_unit_test(test_header_kind_named),
        cmocka_unit_test(test_swapped_batches_named),
        cmocka_unit_test(test_every_fault_counted),
        cmocka_unit_test(test_store_keys_pinned),
        cmocka_unit_test(test_key_file_form),
        cmocka_unit_test(test_one_fault_each),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
