/*
 * test_db.c -- the LMDB layer on real environments in a temp directory:
 * node identity, local writes and their refusals, indexes kept in step
 * with merges (updates, tombstones), the timeline, the ext index, chain
 * verification against bytes corrupted with raw LMDB, applying another
 * store's changes (in order, out of order, twice, from the future) until
 * both digests agree, a map that fills up, and a throughput figure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "db.h"
#include "repair.h"

#define DAY_MS 86400000LL
#define T0 1700000000000LL /* a fixed instant, unix ms */

typedef struct {
    char dir[64]; /* mkdtemp result */
    char a[96];   /* dir/a: store 1 */
    char b[96];   /* dir/b: store 2 */
    jp_db_t *da;  /* open on a */
    jp_db_t *db;  /* open on b, when a test needs it */
    jp_txn_t *t;  /* the running transaction; teardown aborts it when a failed
                     assertion left it open */
} fixture_t;

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Open dir as store number store, setting its node identity if new. */
static jp_db_t *
s_open(const char *dir, uint16_t store, size_t map_mib)
{
    jp_db_t *d = NULL;
    jp_txn_t *t = NULL;
    jp_err_t err;
    jp_node_t node;
    jp_err_clear(&err);
    int rc = jp_db_open(&d, dir, map_mib, &err);
    if (rc) {
        fprintf(stderr, "open %s: %s\n", dir, err.msg);
        return NULL;
    }
    assert_int_equal(jp_db_begin(d, true, &t, NULL), 0);
    if (jp_txn_node_get(t, &node) == JP_ENOTFOUND) {
        memset(&node, 0, sizeof node);
        node.store = store;
        snprintf(node.code, sizeof node.code, "ST%02u", store);
        snprintf(node.name, sizeof node.name, "Store %u", store);
        strcpy(node.region, "East");
        strcpy(node.group, "Test Group");
        strcpy(node.tz, "Asia/Shanghai");
        assert_int_equal(jp_txn_node_set(t, &node), 0);
    }
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
    return d;
}

static int
setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/jp-test-db-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->a, sizeof f->a, "%s/a", f->dir);
    snprintf(f->b, sizeof f->b, "%s/b", f->dir);
    if (mkdir(f->a, 0700) || mkdir(f->b, 0700))
        return -1;
    f->da = s_open(f->a, 1, 0);
    *state = f;
    return f->da ? 0 : -1;
}

static int
teardown(void **state)
{
    fixture_t *f = *state;
    jp_txn_abort(&f->t);
    jp_db_close(&f->da);
    jp_db_close(&f->db);
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- change builders ----------------------------------------------------- */

static void
s_change(jp_change_t *ch, const jp_id_t *id, jp_kind_t kind)
{
    memset(ch, 0, sizeof *ch);
    ch->id = *id;
    ch->kind = (uint8_t)kind;
    ch->author = "tester";
    ch->author_len = 6;
}

/* Write a new customer; phone may be NULL.  Strings must outlive the call. */
static int
s_customer(jp_db_t *d, jp_txn_t *t, jp_id_t *id, const char *ext, const char *name,
           const char *phone, jp_err_t *err)
{
    jp_change_t ch;
    *id = jp_db_new_id(d);
    s_change(&ch, id, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_EXT_ID, ext, strlen(ext));
    jp_change_set_str(&ch, JP_F_NAME, name, strlen(name));
    if (phone)
        jp_change_set_str(&ch, JP_F_PHONE, phone, strlen(phone));
    jp_change_set_int(&ch, JP_F_CREATED_AT, T0);
    return jp_txn_write(t, &ch, err);
}

static int
s_vehicle(jp_db_t *d, jp_txn_t *t, jp_id_t *id, const jp_id_t *cust, const char *vin,
          const char *plate, int64_t delivered, jp_err_t *err)
{
    jp_change_t ch;
    *id = jp_db_new_id(d);
    s_change(&ch, id, JP_K_VEHICLE);
    jp_change_set_str(&ch, JP_F_VIN, vin, strlen(vin));
    jp_change_set_ref(&ch, JP_F_CUSTOMER, cust);
    jp_change_set_str(&ch, JP_F_MODEL, "Sedan X", 7);
    if (plate)
        jp_change_set_str(&ch, JP_F_PLATE, plate, strlen(plate));
    jp_change_set_int(&ch, JP_F_DELIVERED_AT, delivered);
    return jp_txn_write(t, &ch, err);
}

/* A contact event (ext_id, customer, at, channel). */
static int
s_contact(jp_db_t *d, jp_txn_t *t, jp_id_t *id, const jp_id_t *cust, const char *ext,
          int64_t at, jp_err_t *err)
{
    jp_change_t ch;
    *id = jp_db_new_id(d);
    s_change(&ch, id, JP_K_CONTACT);
    jp_change_set_str(&ch, JP_F_EXT_ID, ext, strlen(ext));
    jp_change_set_ref(&ch, JP_F_CUSTOMER, cust);
    jp_change_set_int(&ch, JP_F_AT, at);
    jp_change_set_int(&ch, JP_F_CHANNEL, 1);
    return jp_txn_write(t, &ch, err);
}

/* Set one text field of an existing record. */
static int
s_set_str(jp_txn_t *t, const jp_id_t *id, jp_kind_t kind, unsigned fid, const char *v,
          jp_err_t *err)
{
    jp_change_t ch;
    s_change(&ch, id, kind);
    jp_change_set_str(&ch, fid, v, strlen(v));
    return jp_txn_write(t, &ch, err);
}

static int
s_delete(jp_txn_t *t, const jp_id_t *id, jp_kind_t kind, jp_err_t *err)
{
    jp_change_t ch;
    s_change(&ch, id, kind);
    jp_change_set_bool(&ch, JP_F_DELETED, true);
    return jp_txn_write(t, &ch, err);
}

/* ---- collecting ids ------------------------------------------------------ */

typedef struct {
    int n;          /* ids seen */
    jp_id_t id[16]; /* the first 16 of them */
} ids_t;

static int
s_collect(void *arg, const jp_id_t *id)
{
    ids_t *ids = arg;
    if (ids->n < 16)
        ids->id[ids->n] = *id;
    ids->n++;
    return 0;
}

static ids_t
s_find(jp_txn_t *t, jp_index_t ix, const char *key, bool prefix)
{
    ids_t ids = {0};
    assert_int_equal(jp_txn_find(t, ix, key, strlen(key), prefix, s_collect, &ids), 0);
    return ids;
}

static uint64_t
s_changes(jp_txn_t *t)
{
    uint64_t kinds[JP_K_COUNT], changes;
    assert_int_equal(jp_txn_counts(t, kinds, &changes), 0);
    return changes;
}

static void
s_digest(jp_db_t *d, uint8_t out[JP_HASH_LEN])
{
    jp_txn_t *t;
    assert_int_equal(jp_db_begin(d, false, &t, NULL), 0);
    assert_int_equal(jp_txn_digest(t, out), 0);
    jp_txn_abort(&t);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_node(void **state)
{
    fixture_t *f = *state;
    jp_node_t node;
    jp_err_t err;

    /* A fresh environment has no identity, and refuses local writes. */
    jp_db_t *d = NULL;
    assert_int_equal(jp_db_open(&d, f->b, 0, &err), 0);
    assert_int_equal(jp_db_begin(d, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_node_get(f->t, &node), JP_ENOTFOUND);
    jp_id_t id;
    assert_int_equal(s_customer(d, f->t, &id, "C1", "Zhang San", NULL, &err),
                     JP_ENOTFOUND);
    jp_txn_abort(&f->t);
    jp_db_close(&d);
    assert_null(d);

    /* The identity survives a reopen; the store number cannot change. */
    jp_db_close(&f->da);
    f->da = s_open(f->a, 1, 0);
    assert_non_null(f->da);
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_node_get(f->t, &node), 0);
    assert_int_equal(node.store, 1);
    assert_string_equal(node.code, "ST01");
    assert_string_equal(node.tz, "Asia/Shanghai");
    strcpy(node.name, "Store One, renamed");
    assert_int_equal(jp_txn_node_set(f->t, &node), 0);
    node.store = 9;
    assert_int_equal(jp_txn_node_set(f->t, &node), JP_EEXIST);
    assert_int_equal(jp_txn_commit(&f->t, NULL), 0);
    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_node_get(f->t, &node), 0);
    assert_int_equal(node.store, 1);
    assert_string_equal(node.name, "Store One, renamed");
    jp_txn_abort(&f->t);

    /* New ids carry the store number. */
    id = jp_db_new_id(f->da);
    assert_int_equal(jp_id_store(&id), 1);
}

static void
test_write_get(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_id_t c, v, e;
    jp_record_t r;
    char buf[64];

    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(
        s_customer(f->da, f->t, &c, "C1", "Zhang San", "+8613800138000", &err), 0);
    assert_int_equal(
        s_vehicle(f->da, f->t, &v, &c, "LSVAA4182E2123456", "ZJ-A12345", T0, &err), 0);
    assert_int_equal(s_contact(f->da, f->t, &e, &c, "E1", T0 + DAY_MS, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);

    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_get(f->t, &c, &r), 0);
    assert_int_equal(r.kind, JP_K_CUSTOMER);
    assert_string_equal(jp_record_str(&r, JP_F_NAME, buf, sizeof buf), "Zhang San");
    assert_string_equal(jp_record_str(&r, JP_F_PHONE, buf, sizeof buf), "+8613800138000");
    assert_int_equal(jp_record_int(&r, JP_F_CREATED_AT, 0), T0);
    assert_int_equal(r.f[JP_F_NAME].store, 1);
    assert_false(jp_record_deleted(&r));

    assert_int_equal(jp_txn_get(f->t, &v, &r), 0);
    assert_int_equal(r.kind, JP_K_VEHICLE);
    assert_memory_equal(jp_record_ref(&r, JP_F_CUSTOMER), &c, sizeof c);
    assert_string_equal(jp_record_str(&r, JP_F_PLATE, buf, sizeof buf), "ZJ-A12345");

    assert_int_equal(jp_txn_get(f->t, &e, &r), 0);
    assert_int_equal(r.kind, JP_K_CONTACT);
    assert_int_equal(jp_record_int(&r, JP_F_AT, 0), T0 + DAY_MS);

    jp_id_t none = jp_db_new_id(f->da);
    assert_int_equal(jp_txn_get(f->t, &none, &r), JP_ENOTFOUND);

    uint64_t kinds[JP_K_COUNT], changes;
    assert_int_equal(jp_txn_counts(f->t, kinds, &changes), 0);
    assert_int_equal(changes, 3);
    assert_int_equal(kinds[JP_K_CUSTOMER], 1);
    assert_int_equal(kinds[JP_K_VEHICLE], 1);
    assert_int_equal(kinds[JP_K_CONTACT], 1);
    assert_int_equal(kinds[JP_K_SERVICE], 0);

    jp_head_t h;
    assert_int_equal(jp_txn_head(f->t, 1, &h), 0);
    assert_int_equal(h.seq, 3);
    const uint8_t *p;
    size_t n;
    uint8_t hash[JP_HASH_LEN];
    assert_int_equal(jp_txn_log_get(f->t, 1, 3, &p, &n), 0);
    assert_int_equal(jp_sha256(p, n, hash), 0);
    assert_memory_equal(hash, h.head, JP_HASH_LEN);
    assert_int_equal(jp_txn_log_get(f->t, 1, 4, &p, &n), JP_ENOTFOUND);
    assert_int_equal(jp_txn_head(f->t, 7, &h), 0);
    assert_int_equal(h.seq, 0);

    uint16_t stores[4];
    assert_int_equal(jp_txn_stores(f->t, stores, 4), 1);
    assert_int_equal(stores[0], 1);
    assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), 0);

    ids_t all = {0};
    assert_int_equal(jp_txn_each_record(f->t, s_collect, &all), 0);
    assert_int_equal(all.n, 3);
    assert_true(jp_id_cmp(&all.id[0], &all.id[1]) < 0);
    jp_txn_abort(&f->t);
}

static void
test_indexes(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_id_t c1, c2, c3, v;
    ids_t ids;

    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(
        s_customer(f->da, f->t, &c1, "C1", "Wang Wei", "+8613800000001", &err), 0);
    assert_int_equal(
        s_customer(f->da, f->t, &c2, "C2", "Wang Fang", "+8613800000002", &err), 0);
    assert_int_equal(s_customer(f->da, f->t, &c3, "C3", "Li Na", "+8613800000001", &err),
                     0);
    assert_int_equal(
        s_vehicle(f->da, f->t, &v, &c1, "LSVAA4182E2123456", "ZJ-A1", T0, &err), 0);

    /* Exact and prefix lookups, shared keys. */
    ids = s_find(f->t, JP_IX_PHONE, "+8613800000001", false);
    assert_int_equal(ids.n, 2);
    ids = s_find(f->t, JP_IX_PHONE, "+861380000000", false);
    assert_int_equal(ids.n, 0);
    ids = s_find(f->t, JP_IX_PHONE, "+861380000000", true);
    assert_int_equal(ids.n, 3);
    ids = s_find(f->t, JP_IX_NAME, "Wang", true);
    assert_int_equal(ids.n, 2);
    ids = s_find(f->t, JP_IX_NAME, "Li Na", false);
    assert_int_equal(ids.n, 1);
    assert_memory_equal(&ids.id[0], &c3, sizeof c3);
    ids = s_find(f->t, JP_IX_VIN, "LSVAA4182E2123456", false);
    assert_int_equal(ids.n, 1);
    assert_memory_equal(&ids.id[0], &v, sizeof v);
    ids = s_find(f->t, JP_IX_PLATE, "ZJ-A1", false);
    assert_int_equal(ids.n, 1);

    /* A phone change moves the entry. */
    assert_int_equal(
        s_set_str(f->t, &c2, JP_K_CUSTOMER, JP_F_PHONE, "+8613900000009", &err), 0);
    ids = s_find(f->t, JP_IX_PHONE, "+8613800000002", false);
    assert_int_equal(ids.n, 0);
    ids = s_find(f->t, JP_IX_PHONE, "+8613900000009", false);
    assert_int_equal(ids.n, 1);
    assert_memory_equal(&ids.id[0], &c2, sizeof c2);
    /* ... and the name did not move. */
    ids = s_find(f->t, JP_IX_NAME, "Wang Fang", false);
    assert_int_equal(ids.n, 1);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);

    /* Persisted: the same after a reopen. */
    jp_db_close(&f->da);
    f->da = s_open(f->a, 1, 0);
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    ids = s_find(f->t, JP_IX_PHONE, "+8613800000002", false);
    assert_int_equal(ids.n, 0);
    ids = s_find(f->t, JP_IX_PHONE, "+8613900000009", false);
    assert_int_equal(ids.n, 1);

    /* A tombstone takes the record out of every index. */
    jp_id_t e, out;
    assert_int_equal(s_contact(f->da, f->t, &e, &c1, "E1", T0, &err), 0);
    assert_int_equal(jp_txn_find_ext(f->t, 1, JP_EXT_CUSTOMER, "C1", 2, &out), 0);
    assert_int_equal(s_delete(f->t, &c1, JP_K_CUSTOMER, &err), 0);
    assert_int_equal(s_delete(f->t, &v, JP_K_VEHICLE, &err), 0);
    assert_int_equal(s_delete(f->t, &e, JP_K_CONTACT, &err), 0);
    ids = s_find(f->t, JP_IX_PHONE, "+8613800000001", false);
    assert_int_equal(ids.n, 1);
    assert_memory_equal(&ids.id[0], &c3, sizeof c3);
    ids = s_find(f->t, JP_IX_NAME, "Wang Wei", false);
    assert_int_equal(ids.n, 0);
    ids = s_find(f->t, JP_IX_VIN, "LSVAA4182E2123456", false);
    assert_int_equal(ids.n, 0);
    ids = s_find(f->t, JP_IX_PLATE, "ZJ-A1", false);
    assert_int_equal(ids.n, 0);
    assert_int_equal(jp_txn_find_ext(f->t, 1, JP_EXT_CUSTOMER, "C1", 2, &out),
                     JP_ENOTFOUND);
    assert_int_equal(
        jp_txn_find_ext(f->t, 1, JP_EXT_VEHICLE, "LSVAA4182E2123456", 17, &out),
        JP_ENOTFOUND);
    assert_int_equal(jp_txn_find_ext(f->t, 1, JP_EXT_EVENT, "E1", 2, &out), JP_ENOTFOUND);
    ids = (ids_t){0};
    assert_int_equal(jp_txn_timeline(f->t, &c1, s_collect, &ids), 0);
    assert_int_equal(ids.n, 0);
    /* The record itself stays, marked deleted; deleting again is a no-op. */
    jp_record_t r;
    assert_int_equal(jp_txn_get(f->t, &c1, &r), 0);
    assert_true(jp_record_deleted(&r));
    assert_int_equal(s_delete(f->t, &c1, JP_K_CUSTOMER, &err), JP_EDUP);
    assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
}

static void
test_refusals(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_id_t c, e, v, x;
    jp_change_t ch;
    jp_head_t h0, h1;

    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(
        s_customer(f->da, f->t, &c, "C1", "Zhao Liu", "+8613800000001", &err), 0);
    assert_int_equal(s_contact(f->da, f->t, &e, &c, "E1", T0, &err), 0);
    uint64_t before = s_changes(f->t);
    assert_int_equal(jp_txn_head(f->t, 1, &h0), 0);

    /* An event is never edited ... */
    assert_int_equal(s_set_str(f->t, &e, JP_K_CONTACT, JP_F_NOTE, "changed", &err),
                     JP_EPERM);
    assert_non_null(strstr(err.msg, "never edited"));
    s_change(&ch, &e, JP_K_CONTACT);
    jp_change_set_int(&ch, JP_F_AT, T0 + 1);
    jp_change_set_bool(&ch, JP_F_DELETED, true);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_EPERM);

    /* A create without a required field. */
    x = jp_db_new_id(f->da);
    s_change(&ch, &x, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_EXT_ID, "C9", 2);
    jp_change_set_int(&ch, JP_F_CREATED_AT, T0);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_EINVAL);
    assert_non_null(strstr(err.msg, "name"));

    /* A field the kind does not carry, a wrong type, an enum out of range. */
    jp_change_set_str(&ch, JP_F_NAME, "Qian Qi", 7);
    jp_change_set_str(&ch, JP_F_MODEL, "Sedan", 5);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_EINVAL);
    s_change(&ch, &c, JP_K_CUSTOMER);
    jp_change_set_int(&ch, JP_F_GENDER, 7);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_EINVAL);

    /* An update of an unknown record; a kind that differs from the record's. */
    assert_int_equal(
        s_set_str(f->t, &x, JP_K_CUSTOMER, JP_F_PHONE, "+8613800000003", &err),
        JP_ENOTFOUND);
    assert_int_equal(s_set_str(f->t, &c, JP_K_VEHICLE, JP_F_PLATE, "ZJ-B1", &err),
                     JP_EINVAL);

    /* A change that changes nothing. */
    assert_int_equal(s_set_str(f->t, &c, JP_K_CUSTOMER, JP_F_NAME, "Zhao Liu", &err),
                     JP_EDUP);
    s_change(&ch, &c, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_NAME, "Zhao Liu", 8);
    jp_change_set_str(&ch, JP_F_PHONE, "+8613800000001", 14);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_EDUP);

    /* A ref to an unknown record, and to a record of the wrong kind. */
    jp_id_t ghost = jp_db_new_id(f->da);
    assert_int_equal(
        s_vehicle(f->da, f->t, &v, &ghost, "LSVAA4182E2000001", NULL, T0, &err),
        JP_ENOTFOUND);
    assert_int_equal(s_vehicle(f->da, f->t, &v, &e, "LSVAA4182E2000001", NULL, T0, &err),
                     JP_EINVAL);

    /* None of it wrote anything. */
    assert_int_equal(s_changes(f->t), before);
    assert_int_equal(jp_txn_head(f->t, 1, &h1), 0);
    assert_memory_equal(&h0, &h1, sizeof h0);
    jp_record_t r;
    assert_int_equal(jp_txn_get(f->t, &x, &r), JP_ENOTFOUND);

    /* The transaction is still good: a real change goes through, carrying
     * only the field that changed. */
    s_change(&ch, &c, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_NAME, "Zhao Liu", 8);
    jp_change_set_str(&ch, JP_F_PHONE, "+8613800000002", 14);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), 0);
    assert_int_equal(ch.nfields, 1);
    assert_int_equal(ch.f[0].id, JP_F_PHONE);
    assert_int_equal(ch.seq, h0.seq + 1);
    assert_memory_equal(ch.prev, h0.head, JP_HASH_LEN);
    assert_true(ch.hlc > h0.hlc);
    /* An event can be deleted. */
    assert_int_equal(s_delete(f->t, &e, JP_K_CONTACT, &err), 0);
    assert_int_equal(s_changes(f->t), before + 2);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
}

static void
test_timeline_ext(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_id_t c, other, v, e1, e2, e3, out;

    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(s_customer(f->da, f->t, &c, "C1", "Sun Ba", NULL, &err), 0);
    assert_int_equal(s_customer(f->da, f->t, &other, "C2", "Zhou Jiu", NULL, &err), 0);
    /* Written out of time order on purpose. */
    assert_int_equal(s_contact(f->da, f->t, &e3, &c, "E3", T0 + 4 * DAY_MS, &err), 0);
    assert_int_equal(
        s_vehicle(f->da, f->t, &v, &c, "LSVAA4182E2123456", NULL, T0 + 3 * DAY_MS, &err),
        0);
    assert_int_equal(s_contact(f->da, f->t, &e1, &c, "E1", T0 + 1 * DAY_MS, &err), 0);
    assert_int_equal(s_contact(f->da, f->t, &e2, &c, "E2", T0 + 2 * DAY_MS, &err), 0);
    jp_id_t eo;
    assert_int_equal(s_contact(f->da, f->t, &eo, &other, "E9", T0, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);

    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    ids_t ids = {0};
    assert_int_equal(jp_txn_timeline(f->t, &c, s_collect, &ids), 0);
    assert_int_equal(ids.n, 4);
    assert_memory_equal(&ids.id[0], &e1, sizeof e1);
    assert_memory_equal(&ids.id[1], &e2, sizeof e2);
    assert_memory_equal(&ids.id[2], &v, sizeof v);
    assert_memory_equal(&ids.id[3], &e3, sizeof e3);
    ids = (ids_t){0};
    assert_int_equal(jp_txn_timeline(f->t, &other, s_collect, &ids), 0);
    assert_int_equal(ids.n, 1);

    assert_int_equal(jp_txn_find_ext(f->t, 1, JP_EXT_CUSTOMER, "C2", 2, &out), 0);
    assert_memory_equal(&out, &other, sizeof out);
    assert_int_equal(
        jp_txn_find_ext(f->t, 1, JP_EXT_VEHICLE, "LSVAA4182E2123456", 17, &out), 0);
    assert_memory_equal(&out, &v, sizeof out);
    assert_int_equal(jp_txn_find_ext(f->t, 1, JP_EXT_EVENT, "E2", 2, &out), 0);
    assert_memory_equal(&out, &e2, sizeof out);
    /* Class and store are part of the key. */
    assert_int_equal(jp_txn_find_ext(f->t, 1, JP_EXT_EVENT, "C2", 2, &out), JP_ENOTFOUND);
    assert_int_equal(jp_txn_find_ext(f->t, 2, JP_EXT_CUSTOMER, "C2", 2, &out),
                     JP_ENOTFOUND);
    jp_txn_abort(&f->t);
}

/* Replace the value of log (store, seq) with edit(value) through raw LMDB;
 * the jipan environment must be closed. */
typedef void (*edit_fn)(uint8_t *p, size_t n);

static void
s_raw_edit(const char *dir, uint16_t store, uint64_t seq, edit_fn edit)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    uint8_t k[10], copy[JP_MAX_CHANGE];
    k[0] = (uint8_t)(store >> 8);
    k[1] = (uint8_t)store;
    for (int i = 0; i < 8; i++)
        k[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
    MDB_val key = {sizeof k, k}, v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "log", 0, &dbi), 0);
    assert_int_equal(mdb_get(t, dbi, &key, &v), 0);
    assert_true(v.mv_size <= sizeof copy);
    memcpy(copy, v.mv_data, v.mv_size);
    edit(copy, v.mv_size);
    v.mv_data = copy;
    assert_int_equal(mdb_put(t, dbi, &key, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

/* Change one letter of the author: still a valid change, another hash. */
static void
s_edit_author(uint8_t *p, size_t n)
{
    uint8_t *a = memmem(p, n, "tester", 6);
    assert_non_null(a);
    a[0] = 'T';
}

/* Break the outer array header: no longer decodes. */
static void
s_edit_header(uint8_t *p, size_t n)
{
    assert_true(n > 0);
    p[0] = 0x92;
}

static void
s_verify_msg(fixture_t *f, int code, const char *msg)
{
    jp_txn_t *t;
    jp_err_t err;
    f->da = s_open(f->a, 1, 0);
    assert_non_null(f->da);
    assert_int_equal(jp_db_begin(f->da, false, &t, NULL), 0);
    jp_err_clear(&err);
    int rc = jp_txn_verify_chain(t, 1, &err);
    printf("  verify: %s\n", err.msg);
    assert_int_equal(rc, code);
    assert_int_equal(strncmp(err.msg, msg, strlen(msg)), 0);
    jp_txn_abort(&t);
    jp_db_close(&f->da);
}

static void
test_verify_chain(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_id_t c, e;

    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    for (int i = 0; i < 10; i++) {
        char ext[16];
        snprintf(ext, sizeof ext, "C%d", i);
        assert_int_equal(s_customer(f->da, f->t, &c, ext, "Wu Shi", NULL, &err), 0);
    }
    assert_int_equal(s_contact(f->da, f->t, &e, &c, "E1", T0, &err), 0);
    assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), 0);
    assert_int_equal(jp_txn_verify_chain(f->t, 5, &err),
                     0); /* no log: nothing to fault */
    jp_txn_abort(&f->t);
    jp_db_close(&f->da);

    /* The last entry altered: its hash no longer matches the head. */
    s_raw_edit(f->a, 1, 11, s_edit_author);
    s_verify_msg(f, JP_ECHAIN, "store 1 seq 11: hash does not match the head");
    /* An entry in the middle altered: the next one's prev names it. */
    s_raw_edit(f->a, 1, 7, s_edit_author);
    s_verify_msg(f, JP_ECHAIN, "store 1 seq 8: prev hash does not match seq 7");
    /* An earlier entry made undecodable. */
    s_raw_edit(f->a, 1, 3, s_edit_header);
    s_verify_msg(f, JP_ECORRUPT, "store 1 seq 3: does not decode");
    f->da = s_open(f->a, 1, 0);
}

/* Copy store's log entries first..last from src and apply them to dst;
 * returns the first failure. */
static int
s_ship(jp_db_t *src, jp_db_t *dst, uint16_t store, uint64_t first, uint64_t last,
       jp_err_t *err)
{
    jp_txn_t *ts, *td;
    int rc = 0;
    assert_int_equal(jp_db_begin(src, false, &ts, NULL), 0);
    assert_int_equal(jp_db_begin(dst, true, &td, NULL), 0);
    for (uint64_t s = first; s <= last && !rc; s++) {
        const uint8_t *p;
        size_t n;
        assert_int_equal(jp_txn_log_get(ts, store, s, &p, &n), 0);
        rc = jp_txn_apply(td, p, n, err);
    }
    jp_txn_abort(&ts);
    if (rc)
        jp_txn_abort(&td);
    else
        assert_int_equal(jp_txn_commit(&td, err), 0);
    return rc;
}

static uint64_t
s_seq(jp_db_t *d, uint16_t store)
{
    jp_txn_t *t;
    jp_head_t h;
    assert_int_equal(jp_db_begin(d, false, &t, NULL), 0);
    assert_int_equal(jp_txn_head(t, store, &h), 0);
    jp_txn_abort(&t);
    return h.seq;
}

/* What a store written before authors were checked holds: the changes
 * seq from..last of store 1 rewritten with author[seq - from] (encoded as
 * they come, no limit), each prev re-chained, the head moved; raw LMDB,
 * the environment closed. */
static void
s_raw_authors(const char *dir, uint64_t from, uint64_t last, const char *const *author)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi log, heads;
    uint8_t k[10], prev[JP_HASH_LEN], copy[JP_MAX_CHANGE];
    uint64_t hlc = 0;
    jp_change_t ch;
    jp_buf_t b = {0};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &t), 0);
    assert_int_equal(mdb_dbi_open(t, "log", 0, &log), 0);
    assert_int_equal(mdb_dbi_open(t, "heads", 0, &heads), 0);
    for (uint64_t seq = from - 1; seq <= last; seq++) {
        jp_be16_put(k, 1);
        jp_be64_put(k + 2, seq);
        MDB_val key = {sizeof k, k}, v;
        assert_int_equal(mdb_get(t, log, &key, &v), 0);
        if (seq == from - 1) {
            assert_int_equal(jp_sha256(v.mv_data, v.mv_size, prev), 0);
            continue;
        }
        memcpy(copy, v.mv_data, v.mv_size);
        assert_int_equal(jp_change_decode(copy, v.mv_size, &ch, NULL), 0);
        ch.author = author[seq - from];
        ch.author_len = (uint32_t)strlen(ch.author);
        memcpy(ch.prev, prev, JP_HASH_LEN);
        hlc = ch.hlc;
        jp_buf_reset(&b);
        assert_int_equal(jp_change_encode(&ch, &b), 0);
        assert_int_equal(jp_sha256(b.data, b.len, prev), 0);
        v.mv_data = b.data;
        v.mv_size = b.len;
        assert_int_equal(mdb_put(t, log, &key, &v, 0), 0);
    }
    uint8_t hk[2], hv[8 + JP_HASH_LEN + 8];
    jp_be16_put(hk, 1);
    jp_be64_put(hv, last);
    memcpy(hv + 8, prev, JP_HASH_LEN);
    jp_be64_put(hv + 8 + JP_HASH_LEN, hlc);
    MDB_val key = {sizeof hk, hk}, v = {sizeof hv, hv};
    assert_int_equal(mdb_put(t, heads, &key, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(t), 0);
    mdb_env_close(env);
    jp_buf_free(&b);
}

/* An author over 128 bytes or with control characters, and a change over
 * 64 KiB, are refused by the writer; a log that already holds such
 * changes (an older program wrote them) is repaired: authors cut, chain
 * re-linked, states untouched, and another node then takes the log. */
static void
test_author_repair(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_id_t c[4];
    jp_change_t ch;
    char *huge = malloc(100001);
    char long_cn[3 * 43 + 1] = "";
    assert_non_null(huge);
    memset(huge, 'a', 100000);
    huge[100000] = '\0';
    for (int i = 0; i < 43; i++)
        strcat(long_cn, "\xe5\xbc\xa0"); /* 张 */

    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    for (int i = 0; i < 4; i++) {
        char ext[8];
        snprintf(ext, sizeof ext, "C%d", i);
        assert_int_equal(s_customer(f->da, f->t, &c[i], ext, "Wu Shi", NULL, &err), 0);
    }
    /* The writer refuses, and the transaction goes on. */
    jp_id_t x = jp_db_new_id(f->da);
    s_change(&ch, &x, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_NAME, "Li", 2);
    jp_change_set_int(&ch, JP_F_CREATED_AT, T0);
    ch.author = long_cn;
    ch.author_len = (uint32_t)strlen(long_cn);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_ETOOBIG);
    assert_non_null(strstr(err.msg, "129 bytes, at most 128"));
    ch.author = huge;
    ch.author_len = 100000;
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_ETOOBIG);
    ch.author = "clerk\x1b[2J";
    ch.author_len = 9;
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_EINVAL);
    assert_non_null(strstr(err.msg, "U+001B"));
    s_change(&ch, &x, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_NAME, "Li\x07", 3);
    jp_change_set_int(&ch, JP_F_CREATED_AT, T0);
    assert_int_equal(jp_txn_write(f->t, &ch, &err), JP_EINVAL);
    assert_non_null(strstr(err.msg, "field name has a control character (U+0007)"));
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    assert_int_equal(s_seq(f->da, 1), 4);

    uint8_t before[JP_HASH_LEN], after[JP_HASH_LEN];
    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_digest(f->t, before), 0);
    jp_txn_abort(&f->t);
    jp_db_close(&f->da);

    /* Seq 2 by a 129-byte name, seq 3 by a 100,000-byte one (a change
     * over 64 KiB), seq 4 by a fine one after them. */
    const char *const authors[] = {long_cn, huge, "tester"};
    s_raw_authors(f->a, 2, 4, authors);
    f->da = s_open(f->a, 1, 0);
    assert_non_null(f->da);
    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), JP_ETOOBIG);
    jp_txn_abort(&f->t);

    uint64_t from, count;
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_log_repair(f->t, 1, 2, &from, &count, &err), JP_EPERM);
    assert_int_equal(jp_txn_log_repair(f->t, 1, 1, &from, &count, &err), 0);
    assert_int_equal(from, 2);
    assert_int_equal(count, 3);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);

    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), 0);
    const uint8_t *p;
    size_t n;
    assert_int_equal(jp_txn_log_get(f->t, 1, 2, &p, &n), 0);
    assert_int_equal(jp_change_decode(p, n, &ch, &err), 0);
    assert_int_equal(ch.author_len, 126); /* 42 characters: cut at one's end */
    assert_memory_equal(ch.author, long_cn, 126);
    assert_int_equal(jp_txn_log_get(f->t, 1, 3, &p, &n), 0);
    assert_int_equal(jp_change_decode(p, n, &ch, &err), 0);
    assert_int_equal(ch.author_len, 128);
    assert_int_equal(jp_txn_digest(f->t, after), 0);
    assert_memory_equal(before, after, JP_HASH_LEN);
    jp_txn_abort(&f->t);

    /* Nothing left to repair; another node takes the whole log. */
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_log_repair(f->t, 1, 0, &from, &count, &err), JP_ENOTFOUND);
    jp_txn_abort(&f->t);
    f->db = s_open(f->b, 2, 0);
    assert_non_null(f->db);
    assert_int_equal(s_ship(f->da, f->db, 1, 1, 4, &err), 0);
    assert_int_equal(jp_db_begin(f->db, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_digest(f->t, after), 0);
    assert_memory_equal(before, after, JP_HASH_LEN);
    jp_txn_abort(&f->t);
    free(huge);
}

/* A change pushed to the group (jp_txn_apply_decoded, the server's merge)
 * with a control character in a text field is refused like a local one;
 * one the group already holds (jp_txn_apply, a pull) is taken. */
static void
test_apply_text(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_change_t ch;
    jp_buf_t b = {0};
    jp_id_t id = jp_db_new_id(f->da);
    s_change(&ch, &id, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_NAME, "Zhang\x1b[2J", 9);
    jp_change_set_int(&ch, JP_F_CREATED_AT, T0);
    ch.store = 9;
    ch.seq = 1;
    ch.hlc = (uint64_t)T0 << 16;
    assert_int_equal(jp_change_encode(&ch, &b), 0);
    jp_change_t in;
    assert_int_equal(jp_change_decode(b.data, b.len, &in, &err), 0);
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_apply_decoded(f->t, b.data, b.len, &in, &err), JP_EINVAL);
    assert_non_null(strstr(err.msg, "store 9 seq 1"));
    assert_non_null(strstr(err.msg, "U+001B"));
    jp_txn_abort(&f->t);
    assert_int_equal(s_seq(f->da, 9), 0);
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_apply(f->t, b.data, b.len, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    assert_int_equal(s_seq(f->da, 9), 1);
    jp_buf_free(&b);
}

static void
test_apply(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    jp_id_t a1, a2, b1, bv, be;
    uint8_t da[JP_HASH_LEN], db[JP_HASH_LEN];

    f->db = s_open(f->b, 2, 0);
    assert_non_null(f->db);

    /* Each store registers its own customers. */
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(
        s_customer(f->da, f->t, &a1, "A1", "Chen Yi", "+8613800000001", &err), 0);
    assert_int_equal(
        s_customer(f->da, f->t, &a2, "A2", "Chen Er", "+8613800000002", &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    assert_int_equal(jp_db_begin(f->db, true, &f->t, NULL), 0);
    assert_int_equal(
        s_customer(f->db, f->t, &b1, "B1", "Lin San", "+8613800000003", &err), 0);
    assert_int_equal(
        s_vehicle(f->db, f->t, &bv, &b1, "LSVAA4182E2000003", "ZJ-B3", T0, &err), 0);
    assert_int_equal(s_contact(f->db, f->t, &be, &b1, "BE1", T0, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);

    /* Out of order: a gap is refused, nothing is written. */
    assert_int_equal(s_ship(f->db, f->da, 2, 2, 2, &err), JP_ECHAIN);
    printf("  gap: %s\n", err.msg);
    assert_non_null(strstr(err.msg, "store 2 seq 2: a gap"));
    assert_int_equal(s_seq(f->da, 2), 0);

    /* In order: both directions. */
    assert_int_equal(s_ship(f->db, f->da, 2, 1, 3, &err), 0);
    assert_int_equal(s_ship(f->da, f->db, 1, 1, 2, &err), 0);
    s_digest(f->da, da);
    s_digest(f->db, db);
    assert_memory_equal(da, db, JP_HASH_LEN);

    /* Again: duplicates, ignored. */
    assert_int_equal(s_ship(f->db, f->da, 2, 1, 1, &err), JP_EDUP);
    assert_int_equal(s_ship(f->db, f->da, 2, 3, 3, &err), JP_EDUP);

    /* Concurrent edits of one customer at both stores, then exchanged:
     * the states, and so the digests and indexes, agree. */
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(
        s_set_str(f->t, &a1, JP_K_CUSTOMER, JP_F_PHONE, "+8613811111111", &err), 0);
    assert_int_equal(s_set_str(f->t, &b1, JP_K_CUSTOMER, JP_F_DISTRICT, "Xihu", &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    assert_int_equal(jp_db_begin(f->db, true, &f->t, NULL), 0);
    assert_int_equal(
        s_set_str(f->t, &a1, JP_K_CUSTOMER, JP_F_PHONE, "+8613822222222", &err), 0);
    assert_int_equal(s_set_str(f->t, &a1, JP_K_CUSTOMER, JP_F_NAME, "Chen Yi Jr", &err),
                     0);
    assert_int_equal(s_delete(f->t, &be, JP_K_CONTACT, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    s_digest(f->da, da);
    s_digest(f->db, db);
    assert_memory_not_equal(da, db, JP_HASH_LEN);
    assert_int_equal(s_ship(f->db, f->da, 2, 4, s_seq(f->db, 2), &err), 0);
    assert_int_equal(s_ship(f->da, f->db, 1, 3, s_seq(f->da, 1), &err), 0);
    s_digest(f->da, da);
    s_digest(f->db, db);
    assert_memory_equal(da, db, JP_HASH_LEN);

    jp_db_t *both[2] = {f->da, f->db};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(jp_db_begin(both[i], false, &f->t, NULL), 0);
        jp_record_t r;
        char buf[32];
        assert_int_equal(jp_txn_get(f->t, &a1, &r), 0);
        /* store 2 wrote later (greater hlc) or ties broken by store */
        assert_string_equal(jp_record_str(&r, JP_F_NAME, buf, sizeof buf), "Chen Yi Jr");
        const char *won = jp_record_str(&r, JP_F_PHONE, buf, sizeof buf);
        const char *lost =
            strcmp(won, "+8613811111111") == 0 ? "+8613822222222" : "+8613811111111";
        assert_int_equal(s_find(f->t, JP_IX_PHONE, won, false).n, 1);
        assert_int_equal(s_find(f->t, JP_IX_PHONE, lost, false).n, 0);
        assert_int_equal(s_find(f->t, JP_IX_PHONE, "+8613800000001", false).n, 0);
        ids_t ids = {0};
        assert_int_equal(jp_txn_timeline(f->t, &b1, s_collect, &ids), 0);
        assert_int_equal(ids.n, 1); /* the vehicle; the contact is deleted */
        jp_id_t out;
        assert_int_equal(jp_txn_find_ext(f->t, 2, JP_EXT_CUSTOMER, "B1", 2, &out), 0);
        assert_int_equal(jp_txn_find_ext(f->t, 1, JP_EXT_CUSTOMER, "A2", 2, &out), 0);
        uint16_t stores[4];
        assert_int_equal(jp_txn_stores(f->t, stores, 4), 2);
        assert_int_equal(stores[0], 1);
        assert_int_equal(stores[1], 2);
        assert_int_equal(jp_txn_stores(f->t, stores, 1), 1);
        assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), 0);
        assert_int_equal(jp_txn_verify_chain(f->t, 2, &err), 0);
        jp_txn_abort(&f->t);
    }

    /* A forged change that claims a prev it does not continue. */
    jp_change_t ch;
    jp_buf_t buf = {0};
    jp_id_t x = jp_db_new_id(f->da);
    s_change(&ch, &x, JP_K_CUSTOMER);
    jp_change_set_str(&ch, JP_F_EXT_ID, "F1", 2);
    jp_change_set_str(&ch, JP_F_NAME, "Fu Ture", 7);
    jp_change_set_int(&ch, JP_F_CREATED_AT, T0);
    ch.store = 2;
    ch.seq = s_seq(f->db, 2) + 1;
    ch.hlc = (jp_hlc_t)jp_now_ms() << 16;
    memset(ch.prev, 0xab, sizeof ch.prev);
    assert_int_equal(jp_change_encode(&ch, &buf), 0);
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_apply(f->t, buf.data, buf.len, &err), JP_ECHAIN);
    assert_non_null(strstr(err.msg, "prev hash does not match"));

    /* A store's first change, an hour in the future. */
    ch.store = 3;
    ch.seq = 1;
    memset(ch.prev, 0, sizeof ch.prev);
    ch.hlc = (jp_hlc_t)(jp_now_ms() + 3600 * 1000) << 16;
    jp_buf_reset(&buf);
    assert_int_equal(jp_change_encode(&ch, &buf), 0);
    assert_int_equal(jp_txn_apply(f->t, buf.data, buf.len, &err), JP_EFUTURE);
    printf("  future: %s\n", err.msg);
    /* ... and the same within the skew allowed. */
    ch.hlc = (jp_hlc_t)(jp_now_ms() + 60 * 1000) << 16;
    jp_buf_reset(&buf);
    assert_int_equal(jp_change_encode(&ch, &buf), 0);
    assert_int_equal(jp_txn_apply(f->t, buf.data, buf.len, &err), 0);
    /* A local write afterwards is stamped after it. */
    assert_int_equal(s_set_str(f->t, &a2, JP_K_CUSTOMER, JP_F_DISTRICT, "Binjiang", &err),
                     0);
    jp_head_t h;
    assert_int_equal(jp_txn_head(f->t, 1, &h), 0);
    assert_true(h.hlc > ch.hlc);
    /* Garbage does not decode. */
    assert_int_equal(jp_txn_apply(f->t, buf.data, buf.len - 1, &err), JP_ECORRUPT);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    jp_buf_free(&buf);
}

/* The lean index set: the same state and digest as a full environment fed
 * the same changes, the phone index kept, the counter screens' indexes
 * not; chosen only before the first record, and remembered. */
static void
test_lean(void **state)
{
    fixture_t *f = *state;
    char dir[128];
    jp_id_t c1, c2, v1, e1;
    jp_err_t err;
    snprintf(dir, sizeof dir, "%s/lean", f->dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    jp_db_t *lean = s_open(dir, 9, 0);
    assert_non_null(lean);
    assert_false(jp_db_lean(lean));
    assert_int_equal(jp_db_begin(lean, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_set_lean(f->t, &err), 0);
    jp_txn_abort(&f->t);
    assert_false(jp_db_lean(lean)); /* an abort undoes it */
    assert_int_equal(jp_db_begin(lean, true, &f->t, NULL), 0);
    assert_int_equal(jp_txn_set_lean(f->t, &err), 0);
    assert_int_equal(jp_txn_commit(&f->t, NULL), 0);
    assert_true(jp_db_lean(lean));

    /* Store 1 (full) writes; the lean environment applies its log. */
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    assert_int_equal(s_customer(f->da, f->t, &c1, "C1", "王伟", "+8613800138000", &err),
                     0);
    assert_int_equal(s_customer(f->da, f->t, &c2, "C2", "李娜", "+8613900139000", &err),
                     0);
    assert_int_equal(
        s_vehicle(f->da, f->t, &v1, &c1, "LFV2A21K0G3012345", "粤L12345", T0, &err), 0);
    assert_int_equal(s_contact(f->da, f->t, &e1, &c1, "E1", T0 + DAY_MS, &err), 0);
    assert_int_equal(jp_txn_set_lean(f->t, &err), JP_EEXIST); /* records already */
    assert_int_equal(jp_txn_commit(&f->t, NULL), 0);

    jp_txn_t *ta, *tl;
    jp_head_t h;
    assert_int_equal(jp_db_begin(f->da, false, &ta, NULL), 0);
    assert_int_equal(jp_db_begin(lean, true, &tl, NULL), 0);
    assert_int_equal(jp_txn_head(ta, 1, &h), 0);
    for (uint64_t q = 1; q <= h.seq; q++) {
        const uint8_t *p;
        size_t n;
        assert_int_equal(jp_txn_log_get(ta, 1, q, &p, &n), 0);
        assert_int_equal(jp_txn_apply(tl, p, n, &err), 0);
    }
    assert_int_equal(jp_txn_commit(&tl, NULL), 0);
    jp_db_close(&lean);
    lean = s_open(dir, 9, 0);
    assert_non_null(lean);
    assert_true(jp_db_lean(lean)); /* meta remembers it */
    assert_int_equal(jp_db_begin(lean, false, &tl, NULL), 0);

    uint8_t da[JP_HASH_LEN], dl[JP_HASH_LEN];
    assert_int_equal(jp_txn_digest(ta, da), 0);
    assert_int_equal(jp_txn_digest(tl, dl), 0);
    assert_memory_equal(da, dl, JP_HASH_LEN);
    assert_int_equal(s_find(tl, JP_IX_PHONE, "+8613800138000", false).n, 1);
    assert_int_equal(s_find(ta, JP_IX_NAME, "王伟", false).n, 1);
    assert_int_equal(s_find(tl, JP_IX_NAME, "王伟", false).n, 0);
    assert_int_equal(s_find(tl, JP_IX_VIN, "LFV2A21K0G3012345", false).n, 0);
    ids_t ids = {0};
    assert_int_equal(jp_txn_timeline(tl, &c1, s_collect, &ids), 0);
    assert_int_equal(ids.n, 0);
    assert_int_equal(jp_txn_timeline(ta, &c1, s_collect, &ids), 0);
    assert_int_equal(ids.n, 2);
    jp_txn_abort(&ta);
    jp_txn_abort(&tl);
    jp_db_close(&lean);
}

static void
test_map_full(void **state)
{
    fixture_t *f = *state;
    jp_err_t err;
    uint64_t committed = 0;
    int rc = 0;

    f->db = s_open(f->b, 2, 1); /* 1 MiB */
    assert_non_null(f->db);
    char name[600];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    for (int batch = 0; batch < 10000 && !rc; batch++) {
        assert_int_equal(jp_db_begin(f->db, true, &f->t, NULL), 0);
        int i;
        for (i = 0; i < 20 && !rc; i++) {
            char ext[32];
            jp_id_t id;
            snprintf(ext, sizeof ext, "C%d-%d", batch, i);
            rc = s_customer(f->db, f->t, &id, ext, name, NULL, &err);
        }
        if (rc) {
            assert_int_equal(rc, JP_EFULL);
            /* The broken transaction refuses to commit. */
            assert_int_equal(jp_txn_commit(&f->t, &err), JP_EFULL);
            assert_null(f->t);
            break;
        }
        rc = jp_txn_commit(&f->t, &err);
        if (rc == 0)
            committed += (uint64_t)i;
    }
    assert_int_equal(rc, JP_EFULL);
    printf("  map full after %llu changes: %s\n", (unsigned long long)committed, err.msg);
    assert_true(committed > 100);
    jp_db_close(&f->db);

    /* Everything committed is there, and nothing else. */
    f->db = s_open(f->b, 2, 1);
    assert_non_null(f->db);
    assert_int_equal(jp_db_begin(f->db, false, &f->t, NULL), 0);
    assert_int_equal(jp_txn_verify_chain(f->t, 2, &err), 0);
    uint64_t kinds[JP_K_COUNT], changes;
    assert_int_equal(jp_txn_counts(f->t, kinds, &changes), 0);
    assert_int_equal(changes, committed);
    assert_int_equal(kinds[JP_K_CUSTOMER], committed);
    jp_txn_abort(&f->t);
}

static void
test_throughput(void **state)
{
    fixture_t *f = *state;
    enum { N = 100000 };
    jp_err_t err;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(jp_db_begin(f->da, true, &f->t, NULL), 0);
    for (int i = 0; i < N; i++) {
        char ext[16], name[32], phone[16];
        jp_id_t id;
        snprintf(ext, sizeof ext, "C%07d", i);
        snprintf(name, sizeof name, "Customer %d", (i * 7919) % N);
        snprintf(phone, sizeof phone, "+86138%08d",
                 (int)((long long)i * 104729 % 100000000));
        int rc = s_customer(f->da, f->t, &id, ext, name, phone, &err);
        if (rc)
            fail_msg("write %d: %s", i, err.msg);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(jp_txn_commit(&f->t, &err), 0);
    struct timespec t2;
    clock_gettime(CLOCK_MONOTONIC, &t2);
    double w = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double c = (double)(t2.tv_sec - t1.tv_sec) + (double)(t2.tv_nsec - t1.tv_nsec) / 1e9;
    printf("  throughput: %d customers in one txn: %.0f writes/s (%.3f s), commit %.3f s"
#ifdef __SANITIZE_ADDRESS__
           " [sanitizer build]"
#endif
           "\n",
           N, N / w, w, c);

    assert_int_equal(jp_db_begin(f->da, false, &f->t, NULL), 0);
    uint64_t kinds[JP_K_COUNT], changes;
    assert_int_equal(jp_txn_counts(f->t, kinds, &changes), 0);
    assert_int_equal(changes, N);
    assert_int_equal(kinds[JP_K_CUSTOMER], N);
    assert_int_equal(jp_txn_verify_chain(f->t, 1, &err), 0);
    jp_txn_abort(&f->t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_node, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeline_ext, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_author_repair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_throughput, setup, teardown),
    };
    /* JP_TEST_FILTER=test_throughput runs one test (for profiling). */
    if (getenv("JP_TEST_FILTER"))
        cmocka_set_test_filter(getenv("JP_TEST_FILTER"));
    return cmocka_run_group_tests_name("db", tests, NULL, NULL);
}
