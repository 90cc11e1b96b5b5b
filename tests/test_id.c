/*
 * test_id.c -- ids (order, text form), the hybrid logical clock, and the
 * consistency of the schema table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "id.h"
#include "schema.h"

static void
test_id_layout(void **state)
{
    (void)state;
    jp_idgen_t g;
    jp_idgen_init(&g, 0x1234);
    jp_id_t a = jp_id_next(&g, 1700000000123ull);
    assert_int_equal(jp_id_ms(&a), 1700000000123ull);
    assert_int_equal(jp_id_store(&a), 0x1234);
    assert_false(jp_id_is_zero(&a));
}

static void
test_id_monotonic(void **state)
{
    (void)state;
    jp_idgen_t g;
    jp_idgen_init(&g, 7);
    jp_id_t prev = jp_id_next(&g, 5000);
    /* The same millisecond, then a clock that steps back: still ascending. */
    for (int i = 0; i < 10000; i++) {
        uint64_t ms = i < 5000 ? 5000 : 4000;
        jp_id_t next = jp_id_next(&g, ms);
        assert_true(jp_id_cmp(&prev, &next) < 0);
        prev = next;
    }
}

static void
test_id_text_round_trip(void **state)
{
    (void)state;
    jp_idgen_t g;
    jp_idgen_init(&g, 65535);
    char text[JP_ID_TEXT_LEN + 1], prev_text[JP_ID_TEXT_LEN + 1] = "";
    for (int i = 0; i < 1000; i++) {
        jp_id_t id = jp_id_next(&g, 1700000000000ull + (uint64_t)i * 7919u);
        jp_id_format(&id, text);
        assert_int_equal(strlen(text), JP_ID_TEXT_LEN);
        /* Text sorts like the bytes. */
        assert_true(strcmp(prev_text, text) < 0);
        strcpy(prev_text, text);
        jp_id_t back;
        assert_int_equal(jp_id_parse(text, &back), 0);
        assert_int_equal(jp_id_cmp(&id, &back), 0);
    }
}

static void
test_id_text_edges(void **state)
{
    (void)state;
    jp_id_t all1, zero, back;
    memset(all1.b, 0xff, sizeof all1.b);
    memset(zero.b, 0, sizeof zero.b);
    char text[JP_ID_TEXT_LEN + 1];

    jp_id_format(&all1, text);
    assert_string_equal(text, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
    assert_int_equal(jp_id_parse(text, &back), 0);
    assert_memory_equal(back.b, all1.b, 16);

    jp_id_format(&zero, text);
    assert_string_equal(text, "00000000000000000000000000");

    /* Lower case, and O / I / L read as 0 / 1 / 1. */
    assert_int_equal(jp_id_parse("0000000000000000000000000o", &back), 0);
    assert_true(jp_id_is_zero(&back));
    assert_int_equal(jp_id_parse("0000000000000000000000000l", &back), 0);
    assert_int_equal(back.b[15], 1);
    assert_int_equal(jp_id_parse("7zzzzzzzzzzzzzzzzzzzzzzzzz", &back), 0);
    assert_memory_equal(back.b, all1.b, 16);

    /* Refusals: overflow, wrong length, bad characters. */
    assert_int_equal(jp_id_parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ", &back), JP_EINVAL);
    assert_int_equal(jp_id_parse("0000000000000000000000000", &back), JP_EINVAL);
    assert_int_equal(jp_id_parse("000000000000000000000000000", &back), JP_EINVAL);
    assert_int_equal(jp_id_parse("0000000000000000000000000U", &back), JP_EINVAL);
    assert_int_equal(jp_id_parse("000000000000000000000000-0", &back), JP_EINVAL);
    assert_int_equal(jp_id_parse(NULL, &back), JP_EINVAL);
}

static void
test_hlc(void **state)
{
    (void)state;
    jp_hlc_t last = 0;
    jp_hlc_t a = jp_hlc_tick(&last, 1000);
    assert_int_equal(jp_hlc_ms(a), 1000);
    /* Same ms, then a clock going back: the logical part moves on. */
    jp_hlc_t b = jp_hlc_tick(&last, 1000);
    jp_hlc_t c = jp_hlc_tick(&last, 900);
    assert_true(a < b && b < c);
    assert_int_equal(jp_hlc_ms(c), 1000);

    /* A remote clock ahead within the skew is taken in. */
    jp_hlc_t remote = (jp_hlc_t)(1000 + 60000) << 16;
    assert_int_equal(jp_hlc_observe(&last, remote, 1000), 0);
    assert_int_equal(last, remote);
    jp_hlc_t d = jp_hlc_tick(&last, 1000);
    assert_true(d > remote);

    /* Exactly at the limit is accepted, one ms past it refused. */
    jp_hlc_t edge = (jp_hlc_t)(1000 + JP_HLC_MAX_SKEW_MS) << 16;
    assert_int_equal(jp_hlc_observe(&last, edge, 1000), 0);
    jp_hlc_t far = (jp_hlc_t)(1000 + JP_HLC_MAX_SKEW_MS + 1) << 16;
    jp_hlc_t before = last;
    assert_int_equal(jp_hlc_observe(&last, far, 1000), JP_EFUTURE);
    assert_int_equal(last, before);
}

static void
test_schema_table(void **state)
{
    (void)state;
    for (unsigned id = 0; id < JP_F_COUNT; id++) {
        const jp_field_def_t *f = jp_field_def(id);
        assert_non_null(f);
        assert_int_equal(f->id, id);
        assert_true((f->required & ~f->kinds) == 0);
        assert_true((f->type == JP_T_ENUM) == (f->words != NULL));
        for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++) {
            if (jp_kind_has((jp_kind_t)k, f))
                assert_ptr_equal(jp_field_by_name((jp_kind_t)k, f->name), f);
        }
    }
    assert_null(jp_field_def(JP_F_COUNT));
    for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++)
        assert_int_equal(jp_kind_by_name(jp_kind_name((jp_kind_t)k)), k);
    assert_int_equal(jp_kind_by_name("sale"), JP_K_NONE);
    assert_true(jp_kind_is_event(JP_K_SERVICE));
    assert_false(jp_kind_is_event(JP_K_VEHICLE));
    assert_false(jp_kind_is_event(JP_K_LINK));

    const jp_field_def_t *g = jp_field_by_name(JP_K_CUSTOMER, "grade");
    assert_int_equal(jp_enum_index(g, "potential", 9), 6);
    assert_int_equal(jp_enum_index(g, "pot", 3), 0);
    assert_string_equal(jp_enum_word(g, 1), "O");
    assert_null(jp_enum_word(g, 7));
    assert_null(jp_field_by_name(JP_K_SERVICE, "severity"));
}

static const char *
s_type_word(unsigned t)
{
    static const char *const w[] = {
        [JP_T_STR] = "str",   [JP_T_INT] = "int",     [JP_T_TIME] = "time",
        [JP_T_DATE] = "date", [JP_T_MONEY] = "money", [JP_T_ENUM] = "enum",
        [JP_T_REF] = "ref",   [JP_T_BOOL] = "bool"};
    return t < sizeof w / sizeof w[0] && w[t] ? w[t] : "?";
}

/* The row docs/FORMAT.md must have for field f, as the code defines it. */
static void
s_field_row(const jp_field_def_t *f, char *out, size_t cap)
{
    int n =
        snprintf(out, cap, "| %u | `%s` | %s | ", f->id, f->name, s_type_word(f->type));
    const char *sep = "";
    for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++) {
        if (!jp_kind_has((jp_kind_t)k, f))
            continue;
        n += snprintf(out + n, cap - (size_t)n, "%s%s%s", sep, jp_kind_name((jp_kind_t)k),
                      (f->required >> k) & 1 ? "*" : "");
        sep = ", ";
    }
    n += snprintf(out + n, cap - (size_t)n, " |");
    for (unsigned i = 0; f->words && f->words[i]; i++)
        n += snprintf(out + n, cap - (size_t)n, "%s%u `%s`", i ? ", " : " ", i + 1,
                      f->words[i]);
    snprintf(out + n, cap - (size_t)n, " |");
}

/* docs/FORMAT.md documents every field and kind exactly as schema.c has
 * them, and nothing else: the document and the code cannot drift apart. */
static void
test_format_doc_matches_schema(void **state)
{
    (void)state;
    FILE *f = fopen(JP_SOURCE_DIR "/docs/FORMAT.md", "r");
    assert_non_null(f);
    static char doc[1 << 16];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = '\0';

    char row[1024];
    for (unsigned id = 0; id < JP_F_COUNT; id++) {
        s_field_row(jp_field_def(id), row, sizeof row);
        if (!strstr(doc, row))
            fail_msg("docs/FORMAT.md lacks or differs on the row: %s", row);
    }
    for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++) {
        snprintf(row, sizeof row, "| %d | `%s` |", k, jp_kind_name((jp_kind_t)k));
        if (!strstr(doc, row))
            fail_msg("docs/FORMAT.md lacks the kind row: %s", row);
    }
    /* No row for a field or kind number the code does not have. */
    snprintf(row, sizeof row, "\n| %d | `", JP_F_COUNT);
    assert_null(strstr(doc, row));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_layout),
        cmocka_unit_test(test_id_monotonic),
        cmocka_unit_test(test_id_text_round_trip),
        cmocka_unit_test(test_id_text_edges),
        cmocka_unit_test(test_hlc),
        cmocka_unit_test(test_schema_table),
        cmocka_unit_test(test_format_doc_matches_schema),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
