/*
 * test_share.c -- the sharing rules (share.h) on a real group base: four
 * stores (1 and 2 in 惠州, 3 and 4 in 深圳) write real changes in their own
 * LMDB environments, a server environment applies their logs and writes
 * its links, as the server does.  The world: a person at stores 1 and 3
 * (one phone), a person at stores 2, 4 and 3 (an ID number, then a phone:
 * linked transitively), a VIN sold at store 1 and serviced at stores 2 and
 * 3, a VIN sold at store 4 and serviced at store 1, a referral at store 1
 * of a lead registered at store 2, a complaint with its contact at store 3
 * of the shared person, a link undone, a deleted row, a voided visit.
 *
 * Every rule's view of every store, and every link's delta, is checked
 * against a brute-force computation written here from share.h's words
 * (people by repeated relabelling, references followed to a fixed point),
 * which shares no code with share.c; a few facts are also checked by name
 * so that the two cannot agree on a wrong reading.  The view digest is
 * checked against a digest computed here from jp_txn_get and
 * jp_record_encode.
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
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "db.h"
#include "lib/node.h"
#include "share.h"

#define NST 4    /* stores 1..4 */
#define MAXR 256 /* records in the world */

typedef struct {
    char dir[64];
    jp_db_t *db[NST + 1]; /* [0]: the server, [s]: store s */
    int n;                /* counter for ext ids */
} fx_t;

/* The world's records by name. */
typedef struct {
    jp_id_t c1a, c1b, c2a, c2b, c2c, c3, c4, c5, c6, c7, c8, c9, c10;
    jp_id_t v1, v2, s1_2, s1_3, s2_1, s2_4, svoid, ref, cpl, cct, ev3b;
    jp_id_t l1, l2, l3, l4, l10;
} world_t;

static int
setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/jp-test-share-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    for (int s = 0; s <= NST; s++) {
        if (!(f->db[s] = jp_test_open_node(f->dir, "n", s)))
            return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *f = *state;
    for (int s = 0; s <= NST; s++)
        jp_db_close(&f->db[s]);
    jp_test_rm_tree(f->dir);
    free(f);
    return 0;
}

/* ---- writing ------------------------------------------------------------- */

static jp_id_t
s_write(fx_t *f, int node, jp_change_t *ch)
{
    jp_err_t err;
    jp_txn_t *t;
    char ext[24];
    ch->id = jp_db_new_id(f->db[node]);
    if (ch->kind != JP_K_VEHICLE && ch->kind != JP_K_LINK) {
        snprintf(ext, sizeof ext, "X%d", ++f->n);
        jp_change_set_str(ch, JP_F_EXT_ID, ext, strlen(ext));
    }
    ch->author = "tester";
    ch->author_len = 6;
    jp_err_clear(&err);
    assert_int_equal(jp_db_begin(f->db[node], true, &t, NULL), 0);
    int rc = jp_txn_write(t, ch, &err);
    if (rc)
        fail_msg("write: %s", err.msg);
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
    return ch->id;
}

static jp_id_t
s_cust(fx_t *f, int store, const char *phone, const char *idnum)
{
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.kind = JP_K_CUSTOMER;
    jp_change_set_str(&ch, JP_F_NAME, "李四", strlen("李四"));
    if (phone)
        jp_change_set_str(&ch, JP_F_PHONE, phone, strlen(phone));
    if (idnum)
        jp_change_set_str(&ch, JP_F_ID_NUMBER, idnum, strlen(idnum));
    jp_change_set_int(&ch, JP_F_CREATED_AT, 1700000000000LL);
    return s_write(f, store, &ch);
}

static jp_id_t
s_sale(fx_t *f, int store, const jp_id_t *cust, const char *vin)
{
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.kind = JP_K_VEHICLE;
    jp_change_set_str(&ch, JP_F_VIN, vin, strlen(vin));
    jp_change_set_ref(&ch, JP_F_CUSTOMER, cust);
    jp_change_set_str(&ch, JP_F_MODEL, "Sedan", 5);
    jp_change_set_int(&ch, JP_F_DELIVERED_AT, 19700);
    return s_write(f, store, &ch);
}

/* An event of kind by cust at store; vin, complaint, lead when not NULL. */
static jp_id_t
s_event(fx_t *f, int store, jp_kind_t kind, const jp_id_t *cust, const char *vin,
        const jp_id_t *complaint, const jp_id_t *lead)
{
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.kind = (uint8_t)kind;
    jp_change_set_ref(&ch, JP_F_CUSTOMER, cust);
    jp_change_set_int(&ch, JP_F_AT, 1710000000000LL + f->n);
    if (vin) {
        jp_change_set_str(&ch, JP_F_VIN, vin, strlen(vin));
        jp_change_set_int(&ch, JP_F_SERVICE_TYPE, 2);
    }
    if (kind == JP_K_CONTACT || kind == JP_K_COMPLAINT_CONTACT)
        jp_change_set_int(&ch, JP_F_CHANNEL, 1);
    if (kind == JP_K_COMPLAINT) {
        jp_change_set_int(&ch, JP_F_SEVERITY, 1);
        jp_change_set_int(&ch, JP_F_SUBJECT, 2);
    }
    if (complaint)
        jp_change_set_ref(&ch, JP_F_COMPLAINT, complaint);
    if (lead)
        jp_change_set_ref(&ch, JP_F_REFERRED, lead);
    return s_write(f, store, &ch);
}

static void
s_delete(fx_t *f, int node, const jp_id_t *id, jp_kind_t kind)
{
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.kind = (uint8_t)kind;
    ch.id = *id;
    jp_change_set_bool(&ch, JP_F_DELETED, true);
    jp_err_t err;
    jp_txn_t *t;
    ch.author = "tester";
    ch.author_len = 6;
    assert_int_equal(jp_db_begin(f->db[node], true, &t, NULL), 0);
    int rc = jp_txn_write(t, &ch, &err);
    if (rc)
        fail_msg("delete: %s", err.msg);
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
}

/* The server's link of rows a < b (as server/link.c writes it). */
static jp_id_t
s_link(fx_t *f, const jp_id_t *x, const jp_id_t *y)
{
    const jp_id_t *a = jp_id_cmp(x, y) < 0 ? x : y, *b = a == x ? y : x;
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.kind = JP_K_LINK;
    jp_change_set_ref(&ch, JP_F_LINK_A, a);
    jp_change_set_ref(&ch, JP_F_LINK_B, b);
    return s_write(f, 0, &ch);
}

/* Apply the changes of store from's log that node to lacks. */
static void
s_ship(fx_t *f, int from, int to)
{
    jp_txn_t *ts, *td;
    jp_head_t hs, hd;
    jp_err_t err;
    assert_int_equal(jp_db_begin(f->db[from], false, &ts, NULL), 0);
    assert_int_equal(jp_txn_head(ts, (uint16_t)from, &hs), 0);
    assert_int_equal(jp_db_begin(f->db[to], true, &td, NULL), 0);
    assert_int_equal(jp_txn_head(td, (uint16_t)from, &hd), 0);
    for (uint64_t q = hd.seq + 1; q <= hs.seq; q++) {
        const uint8_t *p;
        size_t n;
        assert_int_equal(jp_txn_log_get(ts, (uint16_t)from, q, &p, &n), 0);
        if (jp_txn_apply(td, p, n, &err))
            fail_msg("apply: %s", err.msg);
    }
    jp_txn_abort(&ts);
    assert_int_equal(jp_txn_commit(&td, NULL), 0);
}

static void
s_ship_all(fx_t *f)
{
    for (int s = 1; s <= NST; s++)
        s_ship(f, s, 0);
}

static void
s_world(fx_t *f, world_t *w)
{
    /* A person at stores 1 and 3 by phone; a row of store 2 with that phone,
     * linked, then deleted. */
    w->c1a = s_cust(f, 1, "+8613800000001", NULL);
    w->c1b = s_cust(f, 3, "+8613800000001", NULL);
    w->c10 = s_cust(f, 2, "+8613800000001", NULL);
    /* A person at stores 2 and 4 by ID number, and 3 by 4's phone. */
    w->c2a = s_cust(f, 2, NULL, "11010519491231002X");
    w->c2b = s_cust(f, 4, "+8613800000002", "11010519491231002X");
    w->c2c = s_cust(f, 3, "+8613800000002", NULL);
    /* VIN1 sold at 1, serviced at 2 and 3 by their own customers. */
    w->c3 = s_cust(f, 1, "+8613800000003", NULL);
    w->c4 = s_cust(f, 2, "+8613800000004", NULL);
    w->c5 = s_cust(f, 3, "+8613800000005", NULL);
    w->v1 = s_sale(f, 1, &w->c3, "LVIN0000000000001");
    w->s1_2 = s_event(f, 2, JP_K_SERVICE, &w->c4, "LVIN0000000000001", NULL, NULL);
    w->s1_3 = s_event(f, 3, JP_K_SERVICE, &w->c5, "LVIN0000000000001", NULL, NULL);
    /* VIN2 sold at 4, serviced at 1 and 4; a voided visit of it at 2. */
    w->c6 = s_cust(f, 4, "+8613800000006", NULL);
    w->v2 = s_sale(f, 4, &w->c6, "LVIN0000000000002");
    w->s2_4 = s_event(f, 4, JP_K_SERVICE, &w->c6, "LVIN0000000000002", NULL, NULL);
    w->s2_1 = s_event(f, 1, JP_K_SERVICE, &w->c3, "LVIN0000000000002", NULL, NULL);
    w->svoid = s_event(f, 2, JP_K_SERVICE, &w->c4, "LVIN0000000000002", NULL, NULL);
    s_delete(f, 2, &w->svoid, JP_K_SERVICE);
    /* A lead at store 2, referred at store 1. */
    w->c7 = s_cust(f, 2, "+8613800000007", NULL);
    s_ship(f, 2, 1);
    w->ref = s_event(f, 1, JP_K_REFERRAL, &w->c3, NULL, NULL, &w->c7);
    /* A complaint of the shared person at store 3, with its contact. */
    w->cpl = s_event(f, 3, JP_K_COMPLAINT, &w->c1b, NULL, NULL, NULL);
    w->cct = s_event(f, 3, JP_K_COMPLAINT_CONTACT, &w->c1b, NULL, &w->cpl, NULL);
    w->ev3b = s_event(f, 3, JP_K_CONTACT, &w->c1b, NULL, NULL, NULL);
    /* A pair at stores 1 and 4 whose link someone undid. */
    w->c8 = s_cust(f, 1, "+8613800000008", NULL);
    w->c9 = s_cust(f, 4, "+8613800000008", NULL);
    s_ship_all(f);
    w->l1 = s_link(f, &w->c1a, &w->c1b);
    w->l10 = s_link(f, &w->c1a, &w->c10);
    w->l2 = s_link(f, &w->c2a, &w->c2b);
    w->l3 = s_link(f, &w->c2b, &w->c2c);
    w->l4 = s_link(f, &w->c8, &w->c9);
    s_delete(f, 0, &w->l4, JP_K_LINK);
    s_delete(f, 2, &w->c10, JP_K_CUSTOMER);
    s_ship(f, 2, 0);
}

static const jp_share_store_t s_stores[NST] = {
    {1, "惠州"}, {2, "惠州"}, {3, "深圳"}, {4, "深圳"}};

/* ---- the brute force ------------------------------------------------------- */

typedef struct {
    jp_id_t id;
    int kind, store;
    bool deleted;
    jp_id_t ref[3]; /* customer, complaint, lead; zero none */
    bool has[3];
    jp_id_t la, lb;
    char vin[32];
} bf_rec_t;

typedef struct {
    bf_rec_t r[MAXR];
    int n;
    jp_txn_t *txn;
} bf_t;

static int
s_bf_add(void *arg, const jp_id_t *id)
{
    bf_t *b = arg;
    jp_record_t r;
    assert_true(b->n < MAXR);
    assert_int_equal(jp_txn_get(b->txn, id, &r), 0);
    bf_rec_t *e = &b->r[b->n++];
    memset(e, 0, sizeof *e);
    e->id = *id;
    e->kind = r.kind;
    e->store = jp_id_store(id);
    e->deleted = jp_record_deleted(&r);
    static const unsigned fid[3] = {JP_F_CUSTOMER, JP_F_COMPLAINT, JP_F_REFERRED};
    if (r.kind != JP_K_CUSTOMER && r.kind != JP_K_LINK) {
        for (int k = 0; k < 3; k++) {
            const jp_id_t *p = jp_record_ref(&r, fid[k]);
            if (p) {
                e->ref[k] = *p;
                e->has[k] = true;
            }
        }
    }
    if (r.kind == JP_K_LINK) {
        e->la = *jp_record_ref(&r, JP_F_LINK_A);
        e->lb = *jp_record_ref(&r, JP_F_LINK_B);
    }
    if (r.kind == JP_K_VEHICLE || r.kind == JP_K_SERVICE)
        jp_record_str(&r, JP_F_VIN, e->vin, sizeof e->vin);
    return 0;
}

static int
s_bf_at(const bf_t *b, const jp_id_t *id)
{
    for (int i = 0; i < b->n; i++) {
        if (!jp_id_cmp(&b->r[i].id, id))
            return i;
    }
    return -1;
}

static const char *
s_region(int store)
{
    for (int i = 0; i < NST; i++) {
        if (s_stores[i].store == store)
            return s_stores[i].region;
    }
    return NULL;
}

/* vis[i]: record i is in store's view under rule; link forced (live 1,
 * undone 0) or as it is (-1). */
static void
s_bf_view(const bf_t *b, int store, jp_share_rule_t rule, const jp_id_t *link, int force,
          bool *vis)
{
    int label[MAXR];
    bool live[MAXR], prim[MAXR];
    for (int i = 0; i < b->n; i++) {
        label[i] = i;
        live[i] = b->r[i].kind == JP_K_CUSTOMER && !b->r[i].deleted;
    }
    /* People: relabel with the smaller label across every joining link
     * until nothing moves. */
    for (bool moved = true; moved;) {
        moved = false;
        for (int i = 0; i < b->n; i++) {
            const bf_rec_t *e = &b->r[i];
            if (e->kind != JP_K_LINK)
                continue;
            bool on = !e->deleted;
            if (link && !jp_id_cmp(link, &e->id) && force >= 0)
                on = force;
            int a = s_bf_at(b, &e->la), c = s_bf_at(b, &e->lb);
            if (!on || a < 0 || c < 0 || !live[a] || !live[c] || label[a] == label[c])
                continue;
            int m = label[a] < label[c] ? label[a] : label[c];
            label[a] = label[c] = m;
            moved = true;
        }
    }
    bool pstore[MAXR] = {0}; /* by label: the person has a live row of store */
    for (int i = 0; i < b->n; i++)
        if (live[i] && b->r[i].store == store)
            pstore[label[i]] = true;
    for (int i = 0; i < b->n; i++) {
        const bf_rec_t *e = &b->r[i];
        bool p = rule == JP_SHARE_GROUP || e->store == store;
        if (rule == JP_SHARE_REGION && e->store && s_region(e->store) &&
            !strcmp(s_region(e->store), s_region(store)))
            p = true;
        if (e->kind == JP_K_CUSTOMER && live[i] && pstore[label[i]])
            p = true;
        if (e->kind != JP_K_CUSTOMER && e->kind != JP_K_LINK && e->has[0]) {
            int c = s_bf_at(b, &e->ref[0]);
            if (c >= 0 && live[c] && pstore[label[c]])
                p = true;
        }
        if (e->kind == JP_K_SERVICE && e->vin[0]) {
            for (int k = 0; k < b->n; k++) {
                const bf_rec_t *o = &b->r[k];
                if ((o->kind == JP_K_VEHICLE || o->kind == JP_K_SERVICE) && !o->deleted &&
                    o->store == store && !strcmp(o->vin, e->vin))
                    p = true;
            }
        }
        prim[i] = p;
    }
    /* Links: by their rows' own reasons. */
    for (int i = 0; i < b->n; i++) {
        const bf_rec_t *e = &b->r[i];
        vis[i] = prim[i] && e->kind != JP_K_LINK;
        if (e->kind == JP_K_LINK) {
            int a = s_bf_at(b, &e->la), c = s_bf_at(b, &e->lb);
            vis[i] = rule == JP_SHARE_GROUP || (a >= 0 && prim[a]) || (c >= 0 && prim[c]);
        }
    }
    /* What the view refers to, to a fixed point. */
    for (bool grew = true; grew;) {
        grew = false;
        for (int i = 0; i < b->n; i++) {
            if (!vis[i])
                continue;
            for (int k = 0; k < 3; k++) {
                int t = b->r[i].has[k] ? s_bf_at(b, &b->r[i].ref[k]) : -1;
                if (t >= 0 && !vis[t])
                    vis[t] = grew = true;
            }
        }
    }
}

/* ---- checks ------------------------------------------------------------------ */

typedef struct {
    jp_id_t ids[MAXR];
    int n;
} ids_t;

static int
s_collect(void *arg, const jp_id_t *id)
{
    ids_t *x = arg;
    assert_true(x->n < MAXR);
    x->ids[x->n++] = *id;
    return 0;
}

static bool
s_sees(const jp_share_t *sh, int store, const jp_id_t *id)
{
    bool v;
    assert_int_equal(jp_share_visible(sh, (uint16_t)store, id, &v), 0);
    return v;
}

/* The digest of the records vis[] names, framed as jp_txn_digest frames. */
static void
s_bf_digest(const bf_t *b, jp_txn_t *txn, const bool *vis, uint8_t out[JP_HASH_LEN])
{
    jp_sha_t *sha;
    jp_buf_t buf = {0};
    assert_int_equal(jp_sha_new(&sha), 0);
    for (int i = 0; i < b->n; i++) {
        if (!vis[i])
            continue;
        jp_record_t r;
        assert_int_equal(jp_txn_get(txn, &b->r[i].id, &r), 0);
        jp_buf_reset(&buf);
        assert_int_equal(jp_record_encode(&r, &buf), 0);
        uint8_t len[4] = {(uint8_t)(buf.len >> 24), (uint8_t)(buf.len >> 16),
                          (uint8_t)(buf.len >> 8), (uint8_t)buf.len};
        jp_sha_update(sha, b->r[i].id.b, 16);
        jp_sha_update(sha, len, 4);
        jp_sha_update(sha, buf.data, buf.len);
    }
    assert_int_equal(jp_sha_final(sha, out), 0);
    jp_sha_destroy(&sha);
    jp_buf_free(&buf);
}

/* Every store's view, and every link's delta, against the brute force,
 * under conf (whose rules the brute force reads from rule_of). */
static void
s_check_conf(fx_t *f, const jp_share_conf_t *conf)
{
    jp_txn_t *txn;
    jp_share_t *sh = NULL;
    jp_err_t err = {0};
    static bf_t b;
    assert_int_equal(jp_db_begin(f->db[0], false, &txn, NULL), 0);
    assert_int_equal(jp_share_load(&sh, txn, conf, s_stores, NST, &err), 0);
    b.n = 0;
    b.txn = txn;
    assert_int_equal(jp_txn_each_record(txn, s_bf_add, &b), 0);
    assert_int_equal((int)jp_share_count(sh), b.n);
    for (int st = 1; st <= NST; st++) {
        jp_share_rule_t rule = jp_share_conf_rule(conf, (uint16_t)st);
        bool vis[MAXR], v2[MAXR];
        s_bf_view(&b, st, rule, NULL, -1, vis);
        ids_t all = {.n = 0};
        assert_int_equal(jp_share_each_visible(sh, (uint16_t)st, s_collect, &all), 0);
        int k = 0;
        for (int i = 0; i < b.n; i++) {
            if (s_sees(sh, st, &b.r[i].id) != vis[i])
                fail_msg("store %d rule %s: record %d (kind %s, store %d) is %s, the "
                         "brute force says %s",
                         st, jp_share_rule_name(rule), i, jp_kind_name(b.r[i].kind),
                         b.r[i].store, vis[i] ? "hidden" : "visible",
                         vis[i] ? "visible" : "hidden");
            if (vis[i]) {
                assert_true(k < all.n);
                assert_int_equal(jp_id_cmp(&all.ids[k++], &b.r[i].id), 0);
            }
        }
        assert_int_equal(k, all.n);
        uint8_t d1[JP_HASH_LEN], d2[JP_HASH_LEN];
        assert_int_equal(jp_share_view_digest(sh, txn, (uint16_t)st, d1), 0);
        s_bf_digest(&b, txn, vis, d2);
        assert_memory_equal(d1, d2, JP_HASH_LEN);
        if (rule == JP_SHARE_GROUP) {
            assert_int_equal(jp_txn_digest(txn, d2), 0);
            assert_memory_equal(d1, d2, JP_HASH_LEN);
        }
        /* Each link: visible with it, hidden without it. */
        for (int l = 0; l < b.n; l++) {
            if (b.r[l].kind != JP_K_LINK)
                continue;
            s_bf_view(&b, st, rule, &b.r[l].id, 1, vis);
            s_bf_view(&b, st, rule, &b.r[l].id, 0, v2);
            ids_t d = {.n = 0};
            assert_int_equal(
                jp_share_link_delta(sh, (uint16_t)st, &b.r[l].id, s_collect, &d), 0);
            int m = 0;
            for (int i = 0; i < b.n; i++) {
                if (!(vis[i] && !v2[i]))
                    continue;
                if (m >= d.n || jp_id_cmp(&d.ids[m], &b.r[i].id))
                    fail_msg("store %d rule %s link %d: record %d (kind %s, store %d) "
                             "missing from the delta",
                             st, jp_share_rule_name(rule), l, i,
                             jp_kind_name(b.r[i].kind), b.r[i].store);
                m++;
            }
            assert_int_equal(m, d.n);
        }
    }
    jp_share_destroy(&sh);
    assert_null(sh);
    jp_txn_abort(&txn);
}

static void
test_rules_against_brute_force(void **state)
{
    fx_t *f = *state;
    world_t w;
    s_world(f, &w);
    jp_share_conf_t c;
    for (int r = JP_SHARE_LINKED; r <= JP_SHARE_GROUP; r++) {
        jp_share_conf_init(&c);
        c.rule = (uint8_t)r;
        s_check_conf(f, &c);
    }
    /* Mixed: store 2 sees its region, store 4 the group, the rest linked. */
    const char *why;
    jp_share_conf_init(&c);
    assert_int_equal(jp_share_conf_set(&c, "store.2", "region", &why), 0);
    assert_int_equal(jp_share_conf_set(&c, "store.4", "group", &why), 0);
    s_check_conf(f, &c);
}

/* The readings by name: what each store sees under linked, region, group. */
static void
test_linked_by_name(void **state)
{
    fx_t *f = *state;
    world_t w;
    s_world(f, &w);
    jp_txn_t *txn;
    jp_share_t *sh = NULL;
    jp_share_conf_t c;
    jp_share_conf_init(&c);
    assert_int_equal(jp_db_begin(f->db[0], false, &txn, NULL), 0);
    assert_int_equal(jp_share_load(&sh, txn, &c, s_stores, NST, NULL), 0);
    /* Store 1: its person's row at 3 with his complaint, its contact and
     * another contact there; the visits of its VIN1 at 2 and 3 with the
     * rows that made them; the lead at 2; the links of its rows. */
    const jp_id_t *yes1[] = {&w.c1a,  &w.c1b,  &w.cpl, &w.cct, &w.ev3b, &w.s1_2, &w.c4,
                             &w.s1_3, &w.c5,   &w.c7,  &w.ref, &w.l1,   &w.l10,  &w.v1,
                             &w.s2_1, &w.s2_4, &w.c6,  &w.l4,  &w.c8,   &w.svoid};
    for (size_t i = 0; i < sizeof yes1 / sizeof *yes1; i++)
        assert_true(s_sees(sh, 1, yes1[i]));
    /* Not: the other person, VIN2's sale at 4 (only visits come by VIN),
     * the deleted row of 2, the row at 4 whose link was undone.  (The
     * voided visit of VIN2 at 2 is seen: its tombstone voids store 1's
     * copy.) */
    const jp_id_t *no1[] = {&w.c2a, &w.c2b, &w.c2c, &w.l2, &w.l3, &w.v2, &w.c10, &w.c9};
    for (size_t i = 0; i < sizeof no1 / sizeof *no1; i++)
        assert_false(s_sees(sh, 1, no1[i]));
    /* Store 2: the person at 4 and (transitively) at 3, both links; its
     * deleted row, but no longer the person that row was linked to. */
    assert_true(s_sees(sh, 2, &w.c2b) && s_sees(sh, 2, &w.c2c) && s_sees(sh, 2, &w.l2) &&
                s_sees(sh, 2, &w.l3) && s_sees(sh, 2, &w.c10) && s_sees(sh, 2, &w.l10));
    assert_false(s_sees(sh, 2, &w.c1a) || s_sees(sh, 2, &w.c1b) || s_sees(sh, 2, &w.cpl));
    /* VIN1 serviced at 2: the sale at 1 is not a visit; the visit at 3 is. */
    assert_true(s_sees(sh, 2, &w.s1_3));
    assert_false(s_sees(sh, 2, &w.v1));
    /* The delta of store 1's link to store 3: the person's row at 3 and
     * its complaint, contact and other contact, nothing else. */
    ids_t d = {.n = 0};
    assert_int_equal(jp_share_link_delta(sh, 1, &w.l1, s_collect, &d), 0);
    assert_int_equal(d.n, 4);
    /* The undone link would bring store 1 the row at 4 (c9). */
    d.n = 0;
    assert_int_equal(jp_share_link_delta(sh, 1, &w.l4, s_collect, &d), 0);
    assert_int_equal(d.n, 1);
    assert_int_equal(jp_id_cmp(&d.ids[0], &w.c9), 0);
    assert_int_equal(jp_share_link_delta(sh, 1, &w.c1a, s_collect, &d), JP_ENOTFOUND);
    jp_share_destroy(&sh);
    /* Region: store 1 sees store 2's rows, not store 3's other customers. */
    c.rule = JP_SHARE_REGION;
    assert_int_equal(jp_share_load(&sh, txn, &c, s_stores, NST, NULL), 0);
    assert_true(s_sees(sh, 1, &w.c2a) && s_sees(sh, 1, &w.c10) && s_sees(sh, 1, &w.l2));
    assert_false(s_sees(sh, 1, &w.c2c) || s_sees(sh, 1, &w.c2b));
    assert_true(s_sees(sh, 3, &w.c2b) && s_sees(sh, 3, &w.c6));
    jp_share_destroy(&sh);
    jp_txn_abort(&txn);
}

static void
test_conf(void **state)
{
    (void)state;
    jp_share_conf_t c;
    const char *why = NULL;
    jp_share_conf_init(&c);
    assert_int_equal(jp_share_conf_rule(&c, 7), JP_SHARE_LINKED);
    assert_int_equal(jp_share_conf_set(&c, "rule", "group", &why), 0);
    assert_int_equal(jp_share_conf_set(&c, "store.7", "linked", &why), 0);
    assert_int_equal(jp_share_conf_rule(&c, 7), JP_SHARE_LINKED);
    assert_int_equal(jp_share_conf_rule(&c, 8), JP_SHARE_GROUP);
    static const char *bad[][2] = {
        {"rule", "all"},          {"rule", ""},         {"store.0", "group"},
        {"store.65536", "group"}, {"store.x", "group"}, {"store.", "group"},
        {"store.7", "region"},    {"stores", "group"},  {"store.1a", "group"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        jp_share_conf_t before = c;
        why = NULL;
        assert_int_equal(jp_share_conf_set(&c, bad[i][0], bad[i][1], &why), JP_EINVAL);
        assert_non_null(why);
        assert_memory_equal(&before, &c, sizeof c);
    }
    jp_share_rule_t r;
    assert_int_equal(jp_share_rule_parse("region", &r), 0);
    assert_int_equal(r, JP_SHARE_REGION);
    assert_string_equal(jp_share_rule_name(JP_SHARE_GROUP), "group");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rules_against_brute_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_by_name, setup, teardown),
        cmocka_unit_test(test_conf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
