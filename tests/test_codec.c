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
        {JP_F_CREATED_AT, {0xcc, 0x7f}, 2, false},       /* 127 as uint8 */
        {JP_F_CREATED_AT, {0xcc, 0x80}, 2, true},        /* 128 */
        {JP_F_CREATED_AT, {0xcd, 0x00, 0xff}, 3, false}, /* 255 as uint16 */
        {JP_F_CREATED_AT, {0xcd, 0x01, 0x00}, 3, true},  /* 256 */
        {JP_F_CREATED_AT, {0xce, 0, 0, 0xff, 0xff}, 5, false},
        {JP_F_CREATED_AT, {0xcf, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, 9, false},
        {JP_F_CREATED_AT, {0xcf, 0, 0, 0, 1, 0, 0, 0, 0}, 9, true},
        {JP_F_CREATED_AT, {0xd0, 0x05}, 2, false},       /* a positive, signed */
        {JP_F_CREATED_AT, {0xe0}, 1, true},              /* -32 */
        {JP_F_CREATED_AT, {0xd0, 0xe0}, 2, false},       /* -32 as int8 */
        {JP_F_CREATED_AT, {0xd0, 0xdf}, 2, true},        /* -33 */
        {JP_F_CREATED_AT, {0xd1, 0xff, 0x80}, 3, false}, /* -128 as int16 */
        {JP_F_CREATED_AT, {0xd1, 0xff, 0x7f}, 3, true},  /* -129 */
        {JP_F_CREATED_AT, {0xd2, 0xff, 0xff, 0x80, 0x00}, 5, false},
        {JP_F_CREATED_AT, {0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0}, 9, false},
        {JP_F_CREATED_AT,
         {0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff},
         9,
         true},
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

/* ---- every element in every other form ---------------------------------
 * A small msgpack walker over canonical bytes: for each integer and each
 * str, bin, array or map header it lists every other form that holds the
 * same value (a wider unsigned or signed integer, str8 where fixstr fits,
 * array16 where fixarray fits...), so that a test can splice each one in
 * and check that the decoder refuses it. */

typedef struct {
    uint8_t b[9]; /* one form's bytes: the tag and its payload */
    size_t n;
} form_t;

/* The integer forms that hold v (neg: v is an int64 below zero). */
static size_t
s_int_forms(uint64_t v, bool neg, form_t *out)
{
    size_t k = 0;
    int64_t sv = (int64_t)v;
    static const uint8_t utag[4] = {0xcc, 0xcd, 0xce, 0xcf};
    static const uint8_t stag[4] = {0xd0, 0xd1, 0xd2, 0xd3};
    if (!neg && v <= 0x7f)
        out[k++] = (form_t){{(uint8_t)v}, 1};
    if (neg && sv >= -32)
        out[k++] = (form_t){{(uint8_t)sv}, 1};
    for (int i = 0; i < 4; i++) {
        int w = 1 << i;
        uint64_t umax = w == 8 ? UINT64_MAX : (1ull << (8 * w)) - 1;
        int64_t smax = w == 8 ? INT64_MAX : (int64_t)((1ull << (8 * w - 1)) - 1);
        int64_t smin = -smax - 1;
        if (!neg && v <= umax) {
            out[k] = (form_t){{utag[i]}, 1 + (size_t)w};
            for (int j = 0; j < w; j++)
                out[k].b[1 + j] = (uint8_t)(v >> (8 * (w - 1 - j)));
            k++;
        }
        if ((neg && sv >= smin) || (!neg && v <= (uint64_t)smax)) {
            out[k] = (form_t){{stag[i]}, 1 + (size_t)w};
            for (int j = 0; j < w; j++)
                out[k].b[1 + j] = (uint8_t)((uint64_t)sv >> (8 * (w - 1 - j)));
            k++;
        }
    }
    return k;
}

/* The header forms of a family (fix range or none, then 8/16/32-bit tags;
 * 0 where the family has no such tag) that hold length n. */
static size_t
s_len_forms(uint32_t n, uint8_t fix, uint32_t fixmax, uint8_t t8, uint8_t t16,
            uint8_t t32, form_t *out)
{
    size_t k = 0;
    if (fix && n <= fixmax)
        out[k++] = (form_t){{(uint8_t)(fix | n)}, 1};
    if (t8 && n <= 0xff)
        out[k++] = (form_t){{t8, (uint8_t)n}, 2};
    if (n <= 0xffff)
        out[k++] = (form_t){{t16, (uint8_t)(n >> 8), (uint8_t)n}, 3};
    out[k++] = (form_t){
        {t32, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n}, 5};
    return k;
}

/* The element at p: its forms, the bytes of its head (*head) and of the
 * body that follows the head and belongs to it (*body: str and bin). */
static size_t
s_forms_at(const uint8_t *p, size_t *head, size_t *body, form_t *out)
{
    uint8_t t = p[0];
    uint64_t v = 0;
    *body = 0;
    if (t <= 0x7f || t >= 0xe0) {
        *head = 1;
        return s_int_forms(t <= 0x7f ? t : (uint64_t)(int64_t)(int8_t)t, t >= 0xe0, out);
    }
    if (t >= 0xcc && t <= 0xd3) {
        int w = 1 << ((t - 0xcc) % 4);
        for (int j = 0; j < w; j++)
            v = v << 8 | p[1 + j];
        bool neg = false;
        if (t >= 0xd0) {
            int64_t sv = w == 1   ? (int8_t)v
                         : w == 2 ? (int16_t)v
                         : w == 4 ? (int32_t)v
                                  : (int64_t)v;
            neg = sv < 0;
            v = (uint64_t)sv;
        }
        *head = 1 + (size_t)w;
        return s_int_forms(v, neg, out);
    }
    if (t == 0xc0 || t == 0xc2 || t == 0xc3) {
        *head = 1;
        return 0;
    }
    uint32_t n;
    if ((t & 0xf0) == 0x90 || (t & 0xf0) == 0x80) {
        *head = 1;
        n = t & 0x0f;
    } else if ((t & 0xe0) == 0xa0) {
        *head = 1;
        n = t & 0x1f;
    } else {
        int w = (t == 0xc4 || t == 0xd9)                             ? 1
                : (t == 0xc5 || t == 0xda || t == 0xdc || t == 0xde) ? 2
                                                                     : 4;
        n = 0;
        for (int j = 0; j < w; j++)
            n = n << 8 | p[1 + j];
        *head = 1 + (size_t)w;
    }
    if ((t & 0xf0) == 0x90 || t == 0xdc || t == 0xdd)
        return s_len_forms(n, 0x90, 15, 0, 0xdc, 0xdd, out);
    if ((t & 0xf0) == 0x80 || t == 0xde || t == 0xdf)
        return s_len_forms(n, 0x80, 15, 0, 0xde, 0xdf, out);
    *body = n;
    if ((t & 0xe0) == 0xa0 || (t >= 0xd9 && t <= 0xdb))
        return s_len_forms(n, 0xa0, 31, 0xd9, 0xda, 0xdb, out);
    return s_len_forms(n, 0, 0, 0xc4, 0xc5, 0xc6, out);
}

typedef int (*decode_fn)(const uint8_t *p, size_t n, const jp_id_t *id, jp_err_t *err);

/* Every element of the canonical bytes b in every other form: refused as
 * not canonical.  Returns the number of forms tried. */
static size_t
s_refuse_every_other_form(const jp_buf_t *b, const jp_id_t *id, decode_fn decode)
{
    jp_err_t err;
    size_t tried = 0;
    assert_int_equal(decode(b->data, b->len, id, &err), 0);
    for (size_t at = 0; at < b->len;) {
        form_t forms[12];
        size_t head, body;
        size_t nf = s_forms_at(b->data + at, &head, &body, forms);
        for (size_t i = 0; i < nf; i++) {
            if (forms[i].n == head && memcmp(forms[i].b, b->data + at, head) == 0)
                continue; /* the canonical form itself */
            jp_buf_t bad = {0};
            jp_buf_append(&bad, b->data, at);
            jp_buf_append(&bad, forms[i].b, forms[i].n);
            jp_buf_append(&bad, b->data + at + head, b->len - at - head);
            int rc = decode(bad.data, bad.len, id, &err);
            if (rc != JP_ECORRUPT || !strstr(err.msg, "canonical"))
                fprintf(stderr,
                        "offset %zu: tag 0x%02x as 0x%02x (%zu bytes): rc %d (%s)\n", at,
                        b->data[at], forms[i].b[0], forms[i].n, rc,
                        rc ? err.msg : "accepted");
            assert_int_equal(rc, JP_ECORRUPT);
            assert_non_null(strstr(err.msg, "canonical"));
            jp_buf_free(&bad);
            tried++;
        }
        at += head + body;
    }
    return tried;
}

static int
s_decode_change(const uint8_t *p, size_t n, const jp_id_t *id, jp_err_t *err)
{
    (void)id;
    jp_change_t ch;
    return jp_change_decode(p, n, &ch, err);
}

static int
s_decode_record(const uint8_t *p, size_t n, const jp_id_t *id, jp_err_t *err)
{
    jp_record_t r;
    return jp_record_decode(p, n, id, &r, err);
}

/* decode(encode(x)) is the only form accepted: every integer, length and
 * header of a change and of a record state, written in any other form
 * msgpack allows for the same value, is refused. */
static void
test_every_other_form_refused(void **state)
{
    (void)state;
    size_t tried = 0;
    for (jp_kind_t k = JP_K_CUSTOMER; k < JP_K_COUNT; k++) {
        jp_change_t ch;
        s_full_change(&ch, k, 300 + k);
        jp_buf_t b = {0};
        assert_int_equal(jp_change_encode(&ch, &b), 0);
        tried += s_refuse_every_other_form(&b, &ch.id, s_decode_change);
        jp_record_t r;
        jp_record_init(&r, &ch.id);
        assert_true(jp_merge(&r, &ch) > 0);
        jp_buf_reset(&b);
        assert_int_equal(jp_record_encode(&r, &b), 0);
        tried += s_refuse_every_other_form(&b, &ch.id, s_decode_record);
        jp_buf_free(&b);
    }
    /* Small stamps and values, where every integer has the most other
     * forms: hlc 5 and store 1 fit a positive fixint. */
    jp_id_t id = {{7}};
    jp_record_t r;
    jp_record_init(&r, &id);
    r.kind = JP_K_CUSTOMER;
    r.f[JP_F_NAME] = (jp_slot_t){true, 1, 5, {JP_T_STR, {.s = {"ab", 2}}}};
    r.f[JP_F_GRADE] = (jp_slot_t){true, 1, 5, {JP_T_ENUM, {.i = 2}}};
    r.f[JP_F_CREATED_AT] = (jp_slot_t){true, 1, 5, {JP_T_TIME, {.i = -3}}};
    r.f[JP_F_NOTE] = (jp_slot_t){true, 2, 6, {0, {.i = 0}}};
    jp_buf_t b = {0};
    assert_int_equal(jp_record_encode(&r, &b), 0);
    tried += s_refuse_every_other_form(&b, &id, s_decode_record);

    /* A record with hlc 5 written as a uint16: twelve bytes for a state
     * the encoder writes in ten.  Two byte forms would give one state two
     * digests. */
    static const uint8_t hlc16[] = {0x93, 0x01, 0x01, 0x91, 0x94, JP_F_NAME,
                                    0xcd, 0x00, 0x05, 0x01, 0xa1, 'a'};
    jp_err_t err;
    jp_record_t back;
    assert_int_equal(jp_record_decode(hlc16, sizeof hlc16, &id, &back, &err),
                     JP_ECORRUPT);
    assert_non_null(strstr(err.msg, "canonical"));
    jp_buf_free(&b);
    assert_true(tried > 1000);
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
        cmocka_unit_test(test_every_other_form_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, NULL);
}
