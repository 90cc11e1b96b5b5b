/*
 * test_merge.c -- the merge is order-free and idempotent.
 *
 * A few hundred random changes over a few dozen records (customers and
 * vehicles edited many times by four stores with clashing clocks, events
 * written once, clears and tombstones) are applied in many random orders,
 * with random duplicates; every order must give byte-identical encoded
 * states, and each state must equal an independent oracle: per field, the
 * value of the change with the greatest (hlc, store).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "record.h"

#define NREC 24
#define NCH 400
#define NPERM 40

static const char *const s_words[] = {
    "张三",           "李四",   "王五",     "惠城区", "南山区", "+8613800138000",
    "+8613900139000", "凯美瑞", "粤L12345", "",       "a note"};

static uint64_t s_state = 88172645463325252ull;

static uint64_t
s_rand(void)
{
    s_state ^= s_state << 13;
    s_state ^= s_state >> 7;
    s_state ^= s_state << 17;
    return s_state;
}

typedef struct {
    jp_change_t ch;
} item_t;

static jp_id_t s_ids[NREC];
static jp_kind_t s_kinds[NREC];
static item_t s_items[NCH];
static int s_nitems;

/* A random value of field f's type. */
static void
s_random_value(jp_change_t *ch, const jp_field_def_t *f)
{
    if (s_rand() % 10 == 0 && f->id != JP_F_DELETED) {
        jp_change_set_nil(ch, f->id);
        return;
    }
    switch (f->type) {
    case JP_T_STR: {
        const char *w = s_words[s_rand() % (sizeof s_words / sizeof s_words[0])];
        jp_change_set_str(ch, f->id, w, strlen(w));
        break;
    }
    case JP_T_ENUM: {
        unsigned n = 0;
        while (f->words[n])
            n++;
        jp_change_set_int(ch, f->id, 1 + (int64_t)(s_rand() % n));
        break;
    }
    case JP_T_REF:
        jp_change_set_ref(ch, f->id, &s_ids[s_rand() % NREC]);
        break;
    case JP_T_BOOL:
        jp_change_set_bool(ch, f->id, s_rand() % 2);
        break;
    default:
        jp_change_set_int(ch, f->id, (int64_t)(s_rand() % 2000) - 1000);
        break;
    }
}

/* Stamps repeat their ms often and their (hlc, store) never, as at real
 * stores (a store's hlc only grows). */
static bool
s_stamp_taken(jp_hlc_t hlc, uint16_t store)
{
    for (int i = 0; i < s_nitems; i++) {
        if (s_items[i].ch.hlc == hlc && s_items[i].ch.store == store)
            return true;
    }
    return false;
}

static void
s_build(void)
{
    for (int r = 0; r < NREC; r++) {
        memset(&s_ids[r], 0, sizeof s_ids[r]);
        s_ids[r].b[0] = 1;
        s_ids[r].b[15] = (uint8_t)r;
        s_kinds[r] = r < 10   ? JP_K_CUSTOMER
                     : r < 16 ? JP_K_VEHICLE
                              : (jp_kind_t)(JP_K_SERVICE + r % 11);
    }
    s_nitems = 0;
    /* Events: one create each. */
    for (int r = 16; r < NREC; r++) {
        jp_change_t *ch = &s_items[s_nitems].ch;
        memset(ch, 0, sizeof *ch);
        ch->id = s_ids[r];
        ch->kind = (uint8_t)s_kinds[r];
        ch->store = (uint16_t)(1 + r % 4);
        ch->hlc = (jp_hlc_t)(100 + r) << 16;
        for (unsigned fid = 1; fid < JP_F_COUNT; fid++) {
            const jp_field_def_t *f = jp_field_def(fid);
            if (jp_kind_has(s_kinds[r], f) && s_rand() % 3)
                s_random_value(ch, f);
        }
        s_nitems++;
    }
    /* Customers and vehicles: many overlapping edits. */
    while (s_nitems < NCH) {
        int r = (int)(s_rand() % 16);
        jp_change_t *ch = &s_items[s_nitems].ch;
        memset(ch, 0, sizeof *ch);
        ch->id = s_ids[r];
        ch->kind = (uint8_t)s_kinds[r];
        do {
            ch->store = (uint16_t)(1 + s_rand() % 4);
            ch->hlc = (jp_hlc_t)(s_rand() % 40) << 16 | (s_rand() % 3);
        } while (s_stamp_taken(ch->hlc, ch->store));
        int nf = 1 + (int)(s_rand() % 4);
        for (int k = 0; k < nf; k++) {
            unsigned fid = (unsigned)(s_rand() % JP_F_COUNT);
            const jp_field_def_t *f = jp_field_def(fid);
            if (jp_kind_has(s_kinds[r], f))
                s_random_value(ch, f);
        }
        if (ch->nfields)
            s_nitems++;
    }
}

/* Merge every change of record r, in the order given, into a fresh state. */
static void
s_state_of(int r, const int *order, int n, jp_record_t *out)
{
    jp_record_init(out, &s_ids[r]);
    for (int i = 0; i < n; i++) {
        const jp_change_t *ch = &s_items[order[i]].ch;
        if (jp_id_cmp(&ch->id, &s_ids[r]) == 0)
            assert_true(jp_merge(out, ch) >= 0);
    }
}

static void
s_shuffle_with_dups(int *order, int *n)
{
    int k = 0;
    for (int i = 0; i < s_nitems; i++) {
        int copies = 1 + (s_rand() % 4 == 0) + (s_rand() % 8 == 0);
        for (int c = 0; c < copies; c++)
            order[k++] = i;
    }
    for (int i = k - 1; i > 0; i--) {
        int j = (int)(s_rand() % (uint64_t)(i + 1));
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    *n = k;
}

static void
test_any_order_same_bytes(void **state)
{
    (void)state;
    s_build();
    static int order[NCH * 3];
    static jp_buf_t first[NREC];
    for (int p = 0; p < NPERM; p++) {
        int n;
        s_shuffle_with_dups(order, &n);
        for (int r = 0; r < NREC; r++) {
            jp_record_t rec;
            s_state_of(r, order, n, &rec);
            jp_buf_t b = {0};
            assert_int_equal(jp_record_encode(&rec, &b), 0);
            if (p == 0) {
                first[r] = b;
                continue;
            }
            assert_int_equal(b.len, first[r].len);
            assert_memory_equal(b.data, first[r].data, b.len);
            jp_buf_free(&b);
        }
    }
    for (int r = 0; r < NREC; r++)
        jp_buf_free(&first[r]);
}

static void
test_state_is_the_greatest_stamp(void **state)
{
    (void)state;
    s_build();
    int order[NCH];
    for (int i = 0; i < s_nitems; i++)
        order[i] = s_nitems - 1 - i; /* any order */
    for (int r = 0; r < NREC; r++) {
        jp_record_t rec;
        s_state_of(r, order, s_nitems, &rec);
        for (unsigned fid = 0; fid < JP_F_COUNT; fid++) {
            /* The oracle: scan every change for the greatest stamp. */
            const jp_fval_t *best = NULL;
            const jp_change_t *bch = NULL;
            for (int i = 0; i < s_nitems; i++) {
                const jp_change_t *ch = &s_items[i].ch;
                const jp_fval_t *fv = jp_change_get(ch, fid);
                if (jp_id_cmp(&ch->id, &s_ids[r]) || !fv)
                    continue;
                if (!bch || jp_stamp_gt(ch->hlc, ch->store, bch->hlc, bch->store)) {
                    best = fv;
                    bch = ch;
                }
            }
            const jp_slot_t *s = &rec.f[fid];
            assert_int_equal(s->set, best != NULL);
            if (best) {
                assert_int_equal(s->hlc, bch->hlc);
                assert_int_equal(s->store, bch->store);
                assert_true(jp_val_eq(&s->v, &best->v));
            }
        }
    }
}

static jp_change_t
s_change(jp_hlc_t hlc, uint16_t store, const char *name)
{
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    memset(ch.id.b, 7, 16);
    ch.kind = JP_K_CUSTOMER;
    ch.hlc = hlc;
    ch.store = store;
    if (name)
        jp_change_set_str(&ch, JP_F_NAME, name, strlen(name));
    return ch;
}

static void
test_rules(void **state)
{
    (void)state;
    jp_record_t r;
    char buf[32];
    jp_change_t a = s_change(10, 1, "old"), b = s_change(20, 1, "new");
    jp_record_init(&r, &a.id);
    assert_int_equal(jp_merge(&r, &b), 1);
    assert_int_equal(jp_merge(&r, &a), 0); /* older after newer: no-op */
    assert_int_equal(jp_merge(&r, &b), 0); /* again: no-op */
    assert_string_equal(jp_record_str(&r, JP_F_NAME, buf, sizeof buf), "new");

    /* Equal hlc: the higher store wins, whichever comes first. */
    jp_change_t s2 = s_change(30, 2, "store2"), s5 = s_change(30, 5, "store5");
    jp_record_init(&r, &a.id);
    jp_merge(&r, &s5);
    assert_int_equal(jp_merge(&r, &s2), 0);
    assert_string_equal(jp_record_str(&r, JP_F_NAME, buf, sizeof buf), "store5");
    jp_record_init(&r, &a.id);
    jp_merge(&r, &s2);
    assert_int_equal(jp_merge(&r, &s5), 1);
    assert_string_equal(jp_record_str(&r, JP_F_NAME, buf, sizeof buf), "store5");

    /* A tombstone outlives an older write; a clear keeps its stamp. */
    jp_change_t del = s_change(50, 1, NULL);
    jp_change_set_bool(&del, JP_F_DELETED, true);
    jp_change_set_nil(&del, JP_F_NAME);
    jp_record_init(&r, &a.id);
    jp_merge(&r, &del);
    assert_int_equal(jp_merge(&r, &b), 0);
    assert_true(jp_record_deleted(&r));
    assert_true(r.f[JP_F_NAME].set);
    assert_int_equal(r.f[JP_F_NAME].v.type, 0);
    assert_string_equal(jp_record_str(&r, JP_F_NAME, buf, sizeof buf), "");

    /* Another kind or another id is refused and changes nothing. */
    jp_change_t v = s_change(60, 1, NULL);
    v.kind = JP_K_VEHICLE;
    jp_change_set_str(&v, JP_F_MODEL, "x", 1);
    assert_int_equal(jp_merge(&r, &v), JP_EINVAL);
    jp_change_t other = s_change(70, 1, "other");
    other.id.b[0] = 9;
    assert_int_equal(jp_merge(&r, &other), JP_EINVAL);
    assert_int_equal(r.kind, JP_K_CUSTOMER);
}

static void
test_change_builders(void **state)
{
    (void)state;
    jp_change_t ch = s_change(1, 1, NULL);
    jp_change_set_int(&ch, JP_F_GRADE, 3);
    jp_change_set_str(&ch, JP_F_NAME, "a", 1);
    jp_change_set_int(&ch, JP_F_CREATED_AT, 5);
    jp_change_set_str(&ch, JP_F_NAME, "bb", 2); /* replaces, stays sorted */
    assert_int_equal(ch.nfields, 3);
    assert_int_equal(ch.f[0].id, JP_F_NAME);
    assert_int_equal(ch.f[1].id, JP_F_GRADE);
    assert_int_equal(ch.f[2].id, JP_F_CREATED_AT);
    assert_int_equal(ch.f[0].v.u.s.n, 2);
    assert_int_equal(ch.f[1].v.type, JP_T_ENUM);
    assert_int_equal(ch.f[2].v.type, JP_T_TIME);
    assert_null(jp_change_get(&ch, JP_F_PHONE));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_order_same_bytes),
        cmocka_unit_test(test_state_is_the_greatest_stamp),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_change_builders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
