/*
 * recover.c -- a server restored from a backup takes its own log back
 * (recover.h).
 */
#include "recover.h"

#include "codec.h"
#include "export.h"
#include "record.h"
#include "schema.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MARK "recover"
#define S_MARK_LEN 7
#define S_DONE "recover.s" /* + store be16 */
#define S_KEPT "recover.c" /* + seq be64 */
#define S_TAG_LEN 9

static size_t
s_key(uint8_t *k, const char *tag, uint64_t v, unsigned bytes)
{
    memcpy(k, tag, S_TAG_LEN);
    if (bytes == 2)
        jp_be16_put(k + S_TAG_LEN, (uint16_t)v);
    else
        jp_be64_put(k + S_TAG_LEN, v);
    return S_TAG_LEN + bytes;
}

int
srv_recover_get(jp_txn_t *txn, srv_recover_t *out)
{
    const void *v;
    size_t n;
    int rc = jp_txn_tb_get(txn, JP_TB_SYNC, S_MARK, S_MARK_LEN, &v, &n);
    if (rc)
        return rc;
    if (n != 24)
        return JP_ECORRUPT;
    const uint8_t *p = v;
    out->glog_len = jp_be64_get(p);
    out->own_seq = jp_be64_get(p + 8);
    out->since_ms = jp_be64_get(p + 16);
    return 0;
}

/* Collect the keys under tag, so that they can be deleted after the walk. */
typedef struct {
    struct {
        uint8_t k[S_TAG_LEN + 8];
        size_t n;
    } *k;
    size_t n, cap;
} s_keys_t;

static int
s_collect(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    (void)v, (void)vn;
    s_keys_t *ks = arg;
    if (kn < S_TAG_LEN || memcmp(k, "recover.", 8) != 0)
        return 1;
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        void *p = realloc(ks->k, cap * sizeof *ks->k);
        if (!p)
            return JP_ENOMEM;
        ks->k = p;
        ks->cap = cap;
    }
    ks->k[ks->n].n = kn < sizeof ks->k[0].k ? kn : sizeof ks->k[0].k;
    memcpy(ks->k[ks->n].k, k, ks->k[ks->n].n);
    ks->n++;
    return 0;
}

/* Delete the mark and everything kept with it. */
static int
s_clear(jp_txn_t *txn)
{
    s_keys_t ks = {0};
    int rc = jp_txn_tb_each(txn, JP_TB_SYNC, "recover.", 8, s_collect, &ks);
    if (rc == 1)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < ks.n; i++) {
        rc = jp_txn_tb_del(txn, JP_TB_SYNC, ks.k[i].k, ks.k[i].n);
        if (rc == JP_ENOTFOUND)
            rc = 0;
    }
    free(ks.k);
    if (rc == 0 && (rc = jp_txn_tb_del(txn, JP_TB_SYNC, S_MARK, S_MARK_LEN)) == JP_ENOTFOUND)
        rc = 0;
    return rc;
}

int
srv_recover_begin(jp_txn_t *txn, uint64_t now_ms, jp_err_t *err)
{
    jp_head_t own;
    uint64_t len;
    int rc = s_clear(txn);
    if (rc == 0)
        rc = jp_txn_glog_len(txn, &len);
    if (rc == 0)
        rc = jp_txn_head(txn, 0, &own);
    if (rc)
        return jp_err_set(err, rc, "reading the restored base failed");
    uint8_t v[24];
    jp_be64_put(v, len);
    jp_be64_put(v + 8, own.seq);
    jp_be64_put(v + 16, now_ms);
    if ((rc = jp_txn_tb_put(txn, JP_TB_SYNC, S_MARK, S_MARK_LEN, v, sizeof v)))
        return jp_err_set(err, rc, "marking the restored base failed");
    return 0;
}

bool
srv_recover_returned(jp_txn_t *txn, uint16_t store)
{
    srv_recover_t m;
    if (srv_recover_get(txn, &m))
        return true;
    uint8_t k[S_TAG_LEN + 8];
    const void *v;
    size_t n;
    return jp_txn_tb_get(txn, JP_TB_SYNC, k, s_key(k, S_DONE, store, 2), &v, &n) == 0;
}

/* The returned change kept at seq (JP_ENOTFOUND: none). */
static int
s_kept(jp_txn_t *txn, uint64_t seq, const void **v, size_t *n)
{
    uint8_t k[S_TAG_LEN + 8];
    return jp_txn_tb_get(txn, JP_TB_SYNC, k, s_key(k, S_KEPT, seq, 8), v, n);
}

/* The server's own head with the kept changes that follow it gaplessly. */
static uint64_t
s_own_reach(jp_txn_t *txn, uint64_t seq)
{
    const void *v;
    size_t n;
    while (s_kept(txn, seq + 1, &v, &n) == 0)
        seq++;
    return seq;
}

int
srv_recover_keep(jp_txn_t *txn, uint16_t store, const jp_msg_list_t *changes, bool done,
                 uint64_t *own_seq, bool *recovering, unsigned *conflicts, jp_err_t *err)
{
    jp_head_t own;
    srv_recover_t m;
    *conflicts = 0;
    int rc = jp_txn_head(txn, 0, &own);
    if (rc)
        return jp_err_set(err, rc, "the server's own log head is unreadable");
    *recovering = srv_recover_get(txn, &m) == 0;
    if (!*recovering) {
        *own_seq = own.seq;
        return 0;
    }
    jp_msg_iter_t it;
    const uint8_t *p;
    size_t n;
    jp_msg_iter_init(&it, changes);
    while ((rc = jp_msg_next_change(&it, &p, &n)) > 0) {
        jp_chead_t h;
        if (jp_change_peek(p, n, &h) || h.store != 0)
            return jp_err_set(err, JP_EINVAL,
                              "RETURN holds a change that is not one of the server's own");
        if (h.seq <= own.seq)
            continue; /* the server has it */
        uint8_t k[S_TAG_LEN + 8];
        const void *v;
        size_t vn;
        if (s_kept(txn, h.seq, &v, &vn) == 0) {
            *conflicts += vn != n || memcmp(v, p, n) != 0;
            continue;
        }
        if ((rc = jp_txn_tb_put(txn, JP_TB_SYNC, k, s_key(k, S_KEPT, h.seq, 8), p, n)))
            return jp_err_set(err, rc, "keeping a returned change failed");
    }
    if (rc < 0)
        return jp_err_set(err, rc, "RETURN: its changes do not decode");
    if (done) {
        uint8_t k[S_TAG_LEN + 8];
        if ((rc = jp_txn_tb_put(txn, JP_TB_SYNC, k, s_key(k, S_DONE, store, 2), "", 0)))
            return jp_err_set(err, rc, "noting a store's return failed");
    }
    *own_seq = s_own_reach(txn, own.seq);
    return 0;
}

/* Stores that have not returned. */
typedef struct {
    jp_txn_t *txn;
    uint16_t waiting;
} s_wait_t;

static int
s_waiting(void *arg, const srv_peer_t *p)
{
    s_wait_t *w = arg;
    w->waiting += !srv_recover_returned(w->txn, p->store);
    return 0;
}

/* Whether customer rows a and b share a phone or an ID number, or one of
 * those fields has changed since hlc (then they may have when linked). */
static bool
s_kin(const jp_record_t *a, const jp_record_t *b, jp_hlc_t hlc)
{
    static const unsigned fid[2] = {JP_F_PHONE, JP_F_ID_NUMBER};
    for (int i = 0; i < 2; i++) {
        const jp_slot_t *x = &a->f[fid[i]], *y = &b->f[fid[i]];
        if (x->hlc > hlc || y->hlc > hlc)
            return true;
        if (x->v.type == JP_T_STR && jp_val_eq(&x->v, &y->v) && x->v.u.s.n > 0)
            return true;
    }
    return false;
}

/* Check a returned change as the server's linker would have made it:
 * 0 good, 1 its rows are not here (yet), -1 wrong (why says). */
static int
s_check(jp_txn_t *txn, const uint8_t *p, size_t n, uint64_t seq, char *why, size_t cap)
{
    jp_change_t ch;
    jp_err_t err;
    if (jp_change_decode(p, n, &ch, &err) || ch.store != 0 || ch.seq != seq) {
        snprintf(why, cap, "seq %llu does not decode as the server's own change",
                 (unsigned long long)seq);
        return -1;
    }
    const jp_fval_t *fa = jp_change_get(&ch, JP_F_LINK_A), *fb = jp_change_get(&ch, JP_F_LINK_B);
    if (ch.kind != JP_K_LINK || !fa || !fb || fa->v.type != JP_T_REF ||
        fb->v.type != JP_T_REF || jp_id_cmp(&fa->v.u.ref, &fb->v.u.ref) >= 0) {
        snprintf(why, cap, "seq %llu is not a link as the server makes them",
                 (unsigned long long)seq);
        return -1;
    }
    jp_id_t lid = srv_link_id(&fa->v.u.ref, &fb->v.u.ref);
    if (memcmp(lid.b, ch.id.b, sizeof lid.b) != 0) {
        snprintf(why, cap, "seq %llu: the link's id is not its pair's", (unsigned long long)seq);
        return -1;
    }
    jp_record_t *r = malloc(2 * sizeof *r);
    if (!r)
        return 1;
    int ra = jp_txn_get(txn, &fa->v.u.ref, &r[0]), rb = jp_txn_get(txn, &fb->v.u.ref, &r[1]);
    int verdict = 0;
    if (ra == JP_ENOTFOUND || rb == JP_ENOTFOUND || ra || rb)
        verdict = 1;
    else if (r[0].kind != JP_K_CUSTOMER || r[1].kind != JP_K_CUSTOMER ||
             !s_kin(&r[0], &r[1], ch.hlc)) {
        snprintf(why, cap, "seq %llu links rows that do not share a phone or an ID number",
                 (unsigned long long)seq);
        verdict = -1;
    }
    free(r);
    return verdict;
}

/* The customers changed by the stores since pos from (for the relink). */
typedef struct {
    jp_txn_t *txn;
    uint64_t end;
    jp_id_t *ids;
    size_t n, cap;
    int rc;
} s_since_t;

static int
s_since(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_since_t *s = arg;
    if (kn != 8 || vn != 10 || jp_be64_get(k) > s->end)
        return 1;
    uint16_t store = jp_be16_get(v);
    const uint8_t *p;
    size_t n;
    jp_chead_t h;
    if (store == 0 || jp_txn_log_get(s->txn, store, jp_be64_get(v + 2), &p, &n) ||
        jp_change_peek(p, n, &h) || h.kind != JP_K_CUSTOMER)
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        jp_id_t *q = realloc(s->ids, cap * sizeof *q);
        if (!q)
            return s->rc = JP_ENOMEM;
        s->ids = q;
        s->cap = cap;
    }
    s->ids[s->n++] = h.id;
    return 0;
}

/* Link what the stores merged since the backup, as the merge would have. */
static int
s_relink(jp_txn_t *txn, const jp_key_t *key, uint64_t from, uint64_t *links, jp_err_t *err)
{
    s_since_t s = {.txn = txn};
    jp_head_t own;
    int rc = jp_txn_glog_len(txn, &s.end);
    if (rc == 0)
        rc = jp_txn_head(txn, 0, &own);
    uint8_t k[8];
    jp_be64_put(k, from + 1);
    if (rc == 0 && (rc = jp_txn_tb_each(txn, JP_TB_GLOG, k, 8, s_since, &s)) == 1)
        rc = 0;
    if (rc == 0)
        rc = s.rc;
    unsigned wrote = 0;
    for (size_t i = 0; rc == 0 && i < s.n; i++)
        rc = srv_link_customer(txn, &s.ids[i], &wrote, err);
    free(s.ids);
    if (rc)
        return err->msg[0] ? rc : jp_err_set(err, rc, "relinking after the restore failed");
    if (wrote && (rc = srv_sign_own(txn, key, own.seq + 1, own.seq + wrote, err)))
        return rc;
    *links = wrote;
    return 0;
}

int
srv_recover_try(jp_txn_t *txn, const jp_key_t *key, bool force, srv_recover_stat_t *st,
                jp_err_t *err)
{
    memset(st, 0, sizeof *st);
    srv_recover_t m;
    int rc = srv_recover_get(txn, &m);
    if (rc)
        return rc == JP_ENOTFOUND ? 0 : jp_err_set(err, rc, "the recovery mark is unreadable");
    s_wait_t w = {txn, 0};
    if ((rc = srv_peers_each(txn, s_waiting, &w)))
        return jp_err_set(err, rc, "reading the stores failed");
    st->waiting = w.waiting;
    if (w.waiting && !force)
        return 0;
    jp_head_t own;
    if ((rc = jp_txn_head(txn, 0, &own)))
        return jp_err_set(err, rc, "the server's own log head is unreadable");
    uint64_t first = own.seq + 1, seq = first, applied = 0;
    bool wrong = false, wait = false;
    for (;; seq++) {
        const void *v;
        size_t n;
        if (s_kept(txn, seq, &v, &n))
            break;
        /* Copy: applying writes to the same environment. */
        uint8_t *c = malloc(n ? n : 1);
        if (!c)
            return jp_err_set(err, JP_ENOMEM, "out of memory");
        memcpy(c, v, n);
        int verdict = s_check(txn, c, n, seq, st->why, sizeof st->why);
        if (verdict == 1 && !force) {
            free(c);
            wait = true; /* its rows are still to be pushed back: the next merge */
            break;
        }
        if (verdict == 1)
            snprintf(st->why, sizeof st->why,
                     "seq %llu links rows that were never pushed back",
                     (unsigned long long)seq);
        if (verdict) {
            free(c);
            wrong = true;
            break;
        }
        jp_err_t e;
        rc = jp_txn_apply(txn, c, n, &e);
        free(c);
        if (rc) {
            snprintf(st->why, sizeof st->why, "seq %llu: %s", (unsigned long long)seq, e.msg);
            wrong = true;
            break;
        }
        applied++;
    }
    if (applied && (rc = srv_sign_own(txn, key, first, first + applied - 1, err)))
        return rc;
    st->applied = first + applied - 1 - m.own_seq; /* by this call and earlier ones */
    if (wait)
        return 0;
    const void *v;
    size_t n;
    for (; wrong && s_kept(txn, seq, &v, &n) == 0; seq++) /* count what is dropped */
        st->dropped++;
    if ((rc = s_relink(txn, key, m.glog_len, &st->links, err)))
        return rc;
    if ((rc = s_clear(txn)))
        return jp_err_set(err, rc, "clearing the recovery mark failed");
    st->finished = true;
    return 0;
}
