/*
 * test_codec.c -- changes and record states survive a round trip byte for
 * byte, and bad bytes (truncated, flipped, non-canonical, out of schema)
 * are refused with a code and a message, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

static char s_long[JP_MAX_STR + 1];

/* A change of kind k with every field the kind carries, of every type. */
static void
s_full_change(jp_change_t *ch, jp_kind_t k, uint64_t seq)
{
    memset(ch, 0, sizeof *ch);
    ch->store = 65535;
    ch->seq = seq;
    ch->hlc = ((jp_hlc_t)1767225600000ull << 16) | 7;
    for (int i = 0; i < 16; i++)
        ch->id.b[i] = (uint8_t)(i * 17 + k);
    ch->kind = (uint8_t)k;
    ch->author = "服务顾问小李";
    ch->author_len = (uint32_t)strlen(ch->author);
    memset(ch->prev, 0xee, sizeof ch->prev);
    for (unsigned fid = 0; fid < JP_F_COUNT; fid++) {
        const jp_field_def_t *f = jp_field_def(fid);
        if (!jp_kind_has(k, f))
            continue;
        switch (f->type) {
        case JP_T_STR:
            if (fid == JP_F_NOTE)
                jp_change_set_str(ch, fid, s_long, JP_MAX_STR);
            else
                jp_change_set_str(ch, fid, "惠城区 A-1", strlen("惠城区 A-1"));
            break;
        case JP_T_ENUM:
            jp_change_set_int(ch, fid, 1);
            break;
        case JP_T_REF:
            jp_change_set_ref(ch, fid, &ch->id);
            break;
        case JP_T_BOOL:
            jp_change_set_bool(ch, fid, fid % 2);
            break;
        case JP_T_MONEY:
            jp_change_set_int(ch, fid, -123456789012);
            break;
        default:
            jp_change_set_int(ch, fid, INT64_MIN + (int64_t)fid);
            break;
        }
    }
}

static void
s_assert_change_eq(const jp_change_t *a, const jp_change_t *b)
{
    assert_int_equal(a->store, b->store);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->hlc, b->hlc);
    assert_memory_equal(a->id.b, b->id.b, 16);
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->author_len, b->author_len);
    assert_memory_equal(a->author, b->author, a->author_len);
    assert_memory_equal(a->prev, b->prev, 32);
    assert_int_equal(a->nfields, b->nfields);
    for (unsigned i = 0; i < a->nfields; i++) {
        assert_int_equal(a->f[i].id, b->f[i].id);
        assert_true(jp_val_eq(&a->f[i].v, &b->f[i].v));
    }
}

static void
test_change_round_trip_every_kind(void **state)
{
    (void)state;
    for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++) {
        jp_change_t ch, back;
        s_full_change(&ch, (jp_kind_t)k, UINT64_MAX);
        jp_change_set_nil(&ch, JP_F_DELETED); /* a cleared field */
        jp_buf_t b = {0}, again = {0};
        jp_err_t err = {0};
        assert_int_equal(jp_change_encode(&ch, &b), 0);
        assert_int_equal(jp_change_decode(b.data, b.len, &back, &err), 0);
        s_assert_change_eq(&ch, &back);
        assert_int_equal(jp_change_encode(&back, &again), 0);
        assert_int_equal(again.len, b.len);
        assert_memory_equal(again.data, b.data, b.len);
        jp_buf_free(&b);
        jp_buf_free(&again);
    }
}

static void
test_record_round_trip(void **state)
{
    (void)state;
    jp_change_t ch;
    s_full_change(&ch, JP_K_CUSTOMER, 1);
    jp_record_t r, back;
    jp_record_init(&r, &ch.id);
    assert_true(jp_merge(&r, &ch) > 0);
    jp_buf_t b = {0}, again = {0};
    jp_err_t err = {0};
    assert_int_equal(jp_record_encode(&r, &b), 0);
    assert_int_equal(jp_record_decode(b.data, b.len, &ch.id, &back, &err), 0);
    assert_int_equal(back.kind, JP_K_CUSTOMER);
    for (unsigned f = 0; f < JP_F_COUNT; f++) {
        assert_int_equal(back.f[f].set, r.f[f].set);
        if (r.f[f].set) {
            assert_int_equal(back.f[f].hlc, r.f[f].hlc);
            assert_int_equal(back.f[f].store, r.f[f].store);
            assert_true(jp_val_eq(&back.f[f].v, &r.f[f].v));
        }
    }
    assert_int_equal(jp_record_encode(&back, &again), 0);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    /* Every truncation of a state is refused too. */
    for (size_t n = 0; n < b.len; n++)
        assert_int_not_equal(jp_record_decode(b.data, n, &ch.id, &back, &err), 0);
    jp_buf_free(&b);
    jp_buf_free(&again);
}

static void
test_every_truncation_fails(void **state)
{
    (void)state;
    jp_change_t ch, back;
    s_full_change(&ch, JP_K_SURVEY, 42);
    jp_buf_t b = {0};
    assert_int_equal(jp_change_encode(&ch, &b), 0);
    for (size_t n = 0; n < b.len; n++) {
        /* A heap copy of exactly n bytes: ASan sees any read past them. */
        uint8_t *p = malloc(n ? n : 1);
        memcpy(p, b.data, n);
        jp_err_t err = {0};
        int rc = jp_change_decode(p, n, &back, &err);
        assert_int_equal(rc, JP_ECORRUPT);
        assert_true(err.msg[0] != '\0');
        free(p);
    }
    jp_buf_free(&b);
}

static void
test_random_flips_never_crash(void **state)
{
    (void)state;
    jp_change_t ch, back;
    s_full_change(&ch, JP_K_SERVICE, 9);
    jp_buf_t b = {0};
    assert_int_equal(jp_change_encode(&ch, &b), 0);
    uint8_t *p = malloc(b.len);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int accepted = 0;
    for (int i = 0; i < 5000; i++) {
        memcpy(p, b.data, b.len);
        int flips = 1 + i % 3;
        for (int k = 0; k < flips; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            p[x % b.len] ^= (uint8_t)(1u << (x >> 32) % 8);
        }
        jp_err_t err = {0};
        if (jp_change_decode(p, b.len, &back, &err) == 0) {
            /* What still decodes is canonical: it re-encodes to itself. */
            jp_buf_t again = {0};
            assert_int_equal(jp_change_encode(&back, &again), 0);
            assert_int_equal(again.len, b.len);
            assert_memory_equal(again.data, p, b.len);
            jp_buf_free(&again);
            accepted++;
        }
    }
    /* Flips inside text or numbers still decode; most others must not. */
    assert_true(accepted < 5000);
    free(p);
    jp_buf_free(&b);
}

/* Pack a change by hand, element by element, to build bad ones. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} hand_t;

static void
s_hand_head(hand_t *h, unsigned elements, uint64_t version, uint64_t store, uint64_t kind)
{
    msgpack_sbuffer_init(&h->sb);
    msgpack_packer_init(&h->pk, &h->sb, msgpack_sbuffer_write);
    static const uint8_t id[16] = {1}, prev[32] = {0};
    msgpack_pack_array(&h->pk, elements);
    msgpack_pack_uint64(&h->pk, version);
    msgpack_pack_uint64(&h->pk, store);
    msgpack_pack_uint64(&h->pk, 1);
    msgpack_pack_uint64(&h->pk, 1);
    msgpack_pack_bin(&h->pk, 16);
    msgpack_pack_bin_body(&h->pk, id, 16);
    msgpack_pack_uint64(&h->pk, kind);
    msgpack_pack_str(&h->pk, 1);
    msgpack_pack_str_body(&h->pk, "u", 1);
    msgpack_pack_bin(&h->pk, 32);
    msgpack_pack_bin_body(&h->pk, prev, 32);
}

static int
s_hand_decode(hand_t *h, jp_err_t *err)
{
    jp_change_t ch;
    int rc = jp_change_decode((const uint8_t *)h->sb.data, h->sb.size, &ch, err);
    msgpack_sbuffer_destroy(&h->sb);
    return rc;
}

static void
test_refusals(void **state)
{
    (void)state;
    hand_t h;
    jp_err_t err;

    /* A good hand-made change decodes (the helper itself is right). */
    s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_uint64(&h.pk, JP_F_NAME);
    msgpack_pack_str(&h.pk, 2);
    msgpack_pack_str_body(&h.pk, "ab", 2);
    assert_int_equal(s_hand_decode(&h, &err), 0);

    /* Unknown version. */
    s_hand_head(&h, 9, 2, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 0);
    assert_int_equal(s_hand_decode(&h, &err), JP_EVERSION);

    /* Wrong element count. */
    s_hand_head(&h, 10, 1, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 0);
    msgpack_pack_nil(&h.pk);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);

    /* Store past 65535, kind out of range, kind 0. */
    s_hand_head(&h, 9, 1, 65536, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 0);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    s_hand_head(&h, 9, 1, 3, JP_K_COUNT);
    msgpack_pack_map(&h.pk, 0);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    s_hand_head(&h, 9, 1, 3, 0);
    msgpack_pack_map(&h.pk, 0);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);

    /* A field of the wrong type, named in the message. */
    s_hand_head(&h, 9, 1, 3, JP_K_VEHICLE);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_uint64(&h.pk, JP_F_MODEL);
    msgpack_pack_uint64(&h.pk, 5);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "model"));

    /* Unknown field; a field the kind does not carry. */
    s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_uint64(&h.pk, JP_F_COUNT);
    msgpack_pack_nil(&h.pk);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    s_hand_head(&h, 9, 1, 3, JP_K_SERVICE);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_uint64(&h.pk, JP_F_SEVERITY);
    msgpack_pack_uint64(&h.pk, 1);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "severity"));

    /* Keys out of order, and repeated. */
    s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 2);
    msgpack_pack_uint64(&h.pk, JP_F_PHONE);
    msgpack_pack_nil(&h.pk);
    msgpack_pack_uint64(&h.pk, JP_F_NAME);
    msgpack_pack_nil(&h.pk);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 2);
    msgpack_pack_uint64(&h.pk, JP_F_NAME);
    msgpack_pack_nil(&h.pk);
    msgpack_pack_uint64(&h.pk, JP_F_NAME);
    msgpack_pack_nil(&h.pk);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);

    /* Enum index 0 and past the last word. */
    for (uint64_t e = 0; e <= 7; e += 7) {
        s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
        msgpack_pack_map(&h.pk, 1);
        msgpack_pack_uint64(&h.pk, JP_F_GRADE);
        msgpack_pack_uint64(&h.pk, e);
        assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    }

    /* Text over the limit. */
    s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_uint64(&h.pk, JP_F_NAME);
    msgpack_pack_str(&h.pk, JP_MAX_STR + 1);
    msgpack_pack_str_body(&h.pk, s_long, JP_MAX_STR + 1);
    assert_int_equal(s_hand_decode(&h, &err), JP_ETOOBIG);

    /* A ref that is not 16 bytes. */
    s_hand_head(&h, 9, 1, 3, JP_K_VEHICLE);
    msgpack_pack_map(&h.pk, 1);
    msgpack_pack_uint64(&h.pk, JP_F_CUSTOMER);
    msgpack_pack_bin(&h.pk, 15);
    msgpack_pack_bin_body(&h.pk, s_long, 15);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);

    /* Trailing bytes. */
    s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
    msgpack_pack_map(&h.pk, 0);
    msgpack_pack_nil(&h.pk);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "trailing"));

    /* A non-minimal integer (seq 1 written as a uint64) is the same change
     * in another byte form: refused, so that a change has exactly one hash. */
    jp_change_t ch;
    s_full_change(&ch, JP_K_CUSTOMER, 1);
    ch.store = 3;
    jp_buf_t good = {0}, bad = {0};
    assert_int_equal(jp_change_encode(&ch, &good), 0);
    assert_int_equal(good.data[3], 0x01); /* array, version, store, seq */
    static const uint8_t seq64[9] = {0xcf, 0, 0, 0, 0, 0, 0, 0, 1};
    jp_buf_append(&bad, good.data, 3);
    jp_buf_append(&bad, seq64, sizeof seq64);
    jp_buf_append(&bad, good.data + 4, good.len - 4);
    assert_int_equal(jp_change_decode(good.data, good.len, &ch, &err), 0);
    assert_int_equal(jp_change_decode(bad.data, bad.len, &ch, &err), JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "canonical"));
    jp_buf_free(&good);
    jp_buf_free(&bad);

    /* Longer than any change may be. */
    uint8_t *big = calloc(1, JP_MAX_CHANGE + 1);
    assert_int_equal(jp_change_decode(big, JP_MAX_CHANGE + 1, &ch, &err), JP_ETOOBIG);
    free(big);
}

/* Canonical form is checked as the bytes are read: every length and
 * integer must be in the smallest form msgpack-c packs it in.  Each row is
 * one field value's bytes; the boundary values in their smallest form
 * decode, one form wider is refused as not canonical. */
static void
test_canonical_forms(void **state)
{
    (void)state;
    static const struct {
        unsigned field;
        uint8_t bytes[40];
        size_t n;
        bool ok;
    } rows[] = {
        /* integers (created_at, an int64 time) */
        {JP_F_CREATED_AT, {0x7f}, 1, true},
        {JP_F_CREATED_AT, {0xcc, 0x7f}, 2, false},        /* 127 as uint8 */
        {JP_F_CREATED_AT, {0xcc, 0x80}, 2, true},         /* 128 */
        {JP_F_CREATED_AT, {0xcd, 0x00, 0xff}, 3, false},  /* 255 as uint16 */
        {JP_F_CREATED_AT, {0xcd, 0x01, 0x00}, 3, true},   /* 256 */
        {JP_F_CREATED_AT, {0xce, 0, 0, 0xff, 0xff}, 5, false},
        {JP_F_CREATED_AT, {0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 9, false},
        {JP_F_CREATED_AT, {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9, true},
        {JP_F_CREATED_AT, {0xd0, 0x05}, 2, false},        /* a positive, signed */
        {JP_F_CREATED_AT, {0xe0}, 1, true},               /* -32 */
        {JP_F_CREATED_AT, {0xd0, 0xe0}, 2, false},        /* -32 as int8 */
        {JP_F_CREATED_AT, {0xd0, 0xdf}, 2, true},         /* -33 */
        {JP_F_CREATED_AT, {0xd1, 0xff, 0x80}, 3, false},  /* -128 as int16 */
        {JP_F_CREATED_AT, {0xd1, 0xff, 0x7f}, 3, true},   /* -129 */
        {JP_F_CREATED_AT, {0xd2, 0xff, 0xff, 0x80, 0x00}, 5, false},
        {JP_F_CREATED_AT, {0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0}, 9, false},
        {JP_F_CREATED_AT, {0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff}, 9, true},
        /* strings (name): fixstr to 31 bytes, str8 from 32 */
        {JP_F_NAME, {0xa3, 'a', 'b', 'c'}, 4, true},
        {JP_F_NAME, {0xd9, 0x03, 'a', 'b', 'c'}, 5, false},
        {JP_F_NAME, {0xda, 0x00, 0x03, 'a', 'b', 'c'}, 6, false},
        {JP_F_NAME, {0xdb, 0x00, 0x00, 0x00, 0x03, 'a', 'b', 'c'}, 8, false},
    };
    jp_err_t err;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        hand_t h;
        s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
        msgpack_pack_map(&h.pk, 1);
        msgpack_pack_uint64(&h.pk, rows[i].field);
        msgpack_sbuffer_write(&h.sb, (const char *)rows[i].bytes, rows[i].n);
        int rc = s_hand_decode(&h, &err);
        if (rows[i].ok != (rc == 0))
            fprintf(stderr, "row %zu: rc %d (%s)\n", i, rc, err.msg);
        assert_int_equal(rc, rows[i].ok ? 0 : JP_ECORRUPT);
        if (!rows[i].ok)
            assert_non_null(strstr(err.msg, "canonical"));
    }
    /* A 32-byte name takes str8; the same name as str16 is refused. */
    for (int wide = 0; wide < 2; wide++) {
        hand_t h;
        s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
        msgpack_pack_map(&h.pk, 1);
        msgpack_pack_uint64(&h.pk, JP_F_NAME);
        static const uint8_t str8[2] = {0xd9, 32}, str16[3] = {0xda, 0, 32};
        msgpack_sbuffer_write(&h.sb, (const char *)(wide ? str16 : str8), wide ? 3 : 2);
        msgpack_sbuffer_write(&h.sb, s_long, 32);
        assert_int_equal(s_hand_decode(&h, &err), wide ? JP_ECORRUPT : 0);
    }
    /* A map of one field written as a map16. */
    hand_t h;
    s_hand_head(&h, 9, 1, 3, JP_K_CUSTOMER);
    static const uint8_t map16[3] = {0xde, 0, 1};
    msgpack_sbuffer_write(&h.sb, (const char *)map16, 3);
    msgpack_pack_uint64(&h.pk, JP_F_NAME);
    msgpack_pack_str(&h.pk, 1);
    msgpack_pack_str_body(&h.pk, "a", 1);
    assert_int_equal(s_hand_decode(&h, &err), JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "canonical"));
}

static int
s_setup(void **state)
{
    (void)state;
    for (int i = 0; i < JP_MAX_STR; i++)
        s_long[i] = (char)('a' + i % 26);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_change_round_trip_every_kind),
        cmocka_unit_test(test_record_round_trip),
        cmocka_unit_test(test_every_truncation_fails),
        cmocka_unit_test(test_random_flips_never_crash),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_canonical_forms),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
