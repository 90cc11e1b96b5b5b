/*
 * test_dash.c -- the dashboard's tables without a server or a browser:
 * a table written as CSV (quoting, the byte-order mark, numbers as the
 * page writes them), as HTML (escaping, data-key, the row limit) and as a
 * workbook (a zip with a sheet per table, whatever the titles); the
 * server's JSON as the figures and regional tables.
 */
#include "dash.h"

#include "report.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *
s_text(jp_buf_t *b)
{
    jp_buf_append(b, "", 1);
    b->len--;
    return (const char *)b->data;
}

/* A small table: two rows, every kind of cell. */
static dash_table_t *
s_table(const char *title)
{
    dash_table_t *t = dash_table_new("demo", title, 4);
    assert_non_null(t);
    assert_int_equal(dash_table_head(t, 0, "名称, \"甲\""), 0);
    assert_int_equal(dash_table_head(t, 1, "n"), 0);
    assert_int_equal(dash_table_head(t, 2, "pct"), 0);
    assert_int_equal(dash_table_head(t, 3, "none"), 0);
    assert_int_equal(dash_table_row(t, "k.1"), 0);
    assert_int_equal(dash_table_text(t, "a,b\n<c>"), 0);
    assert_int_equal(dash_table_int(t, -42), 0);
    assert_int_equal(dash_table_fixed(t, 5981, false), 0);
    assert_int_equal(dash_table_fixed(t, 0, true), 0);
    assert_int_equal(dash_table_text(t, "too many"), JP_EINVAL); /* the row is full */
    assert_int_equal(dash_table_row(t, "k\"2"), 0);
    assert_int_equal(dash_table_text(t, "x"), 0); /* the rest stays empty */
    return t;
}

static void
test_csv(void **state)
{
    (void)state;
    dash_table_t *t = s_table("t");
    jp_buf_t b = {0};
    assert_int_equal(dash_table_csv(t, &b), 0);
    assert_string_equal(s_text(&b), "\xEF\xBB\xBF"
                                    "\"名称, \"\"甲\"\"\",\"n\",\"pct\",\"none\"\r\n"
                                    "\"a,b\n<c>\",\"-42\",\"59.81\",\"\"\r\n"
                                    "\"x\",\"\",\"\",\"\"\r\n");
    jp_buf_free(&b);
    dash_table_destroy(&t);
    assert_null(t);
}

static void
test_html(void **state)
{
    (void)state;
    dash_table_t *t = s_table("t");
    jp_buf_t b = {0};
    assert_int_equal(dash_table_html(t, &b, "c", 0), 0);
    const char *h = s_text(&b);
    assert_non_null(strstr(h, "<table id=\"t-demo\" class=\"c\"><thead><tr>"
                              "<th>名称, &quot;甲&quot;</th>"));
    assert_non_null(strstr(h, "<tr data-key=\"k.1\"><th>a,b\n&lt;c&gt;</th>"
                              "<td class=\"num\">-42</td><td class=\"num\">59.81</td>"
                              "<td class=\"num\">—</td></tr>"));
    assert_non_null(strstr(h, "<tr data-key=\"k&quot;2\">"));
    jp_buf_reset(&b);
    assert_int_equal(dash_table_html(t, &b, "c", 1), 0); /* the first row only */
    h = s_text(&b);
    assert_non_null(strstr(h, "k.1"));
    assert_null(strstr(h, "k&quot;2"));
    jp_buf_free(&b);
    dash_table_destroy(&t);
}

static void
test_xlsx(void **state)
{
    (void)state;
    /* Titles Excel would refuse as sheet names: too long, []:*?/\ in
     * them, the same twice. */
    dash_table_t *t[3] = {
        s_table("区域集中度区域集中度区域集中度区域集中度区域集中度区域集中度区域集中度"),
        s_table("a/b:c*?[d]\\e"), s_table("a/b:c*?[d]\\e")};
    jp_buf_t b = {0};
    jp_err_t err;
    jp_err_clear(&err);
    assert_int_equal(dash_tables_xlsx(t, 3, &b, &err), 0);
    assert_true(b.len > 1000);
    assert_memory_equal(b.data, "PK\x03\x04", 4);
    /* Zip entry names are stored as they are. */
    assert_non_null(memmem(b.data, b.len, "xl/worksheets/sheet3.xml", 24));
    assert_non_null(memmem(b.data, b.len, "xl/sharedStrings.xml", 20));
    jp_buf_free(&b);
    for (int i = 0; i < 3; i++)
        dash_table_destroy(&t[i]);
}

/* A report's JSON as the server writes it, from figures set here. */
static json_t *
s_report(void)
{
    jp_stats_t st = {0};
    st.people = 120;
    st.first_maintenance = jp_rate(43, 68);
    st.churn = jp_rate(0, 0);
    st.loyalty_index = (jp_fixed_t){false, 6356};
    st.revenue_fen = 1423293300;
    jp_district_t d[2] = {{.name = "惠城区", .now = {3, 2, 1}, .before = {1, 1, 1}},
                          {.name = "", .now = {1, 0, 0}, .before = {0, 0, 2}}};
    st.districts = d;
    st.ndistricts = 2;
    json_t *j = jp_stats_json(&st, "group", NULL, NULL);
    assert_non_null(j);
    return j;
}

/* t's CSV has the line (or the cells) want. */
static void
s_row(dash_table_t *t, const char *want)
{
    jp_buf_t b = {0};
    assert_int_equal(dash_table_csv(t, &b), 0);
    const char *csv = s_text(&b);
    if (!strstr(csv, want))
        fail_msg("no line %s in\n%s", want, csv);
    jp_buf_free(&b);
}

static void
test_figures(void **state)
{
    (void)state;
    json_t *j = s_report();
    dash_table_t *t = dash_figures_table(j, true);
    assert_non_null(t);
    size_t n = jp_stats_figures(&(jp_stats_t){0}, NULL, 0);
    assert_int_equal(dash_table_rows(t), n); /* no cohort without a filter */
    s_row(t, "\"size of the base\",\"customers (people in scope)\",\"\",\"\",\"120\"");
    s_row(t, "\"first-maintenance return rate\",\"43\",\"68\",\"63.24\"");
    s_row(t, "\"churn rate\",\"0\",\"0\",\"\"");
    s_row(t, "\"loyalty index (0-100)\",\"\",\"\",\"63.56\"");
    s_row(t, "\"14232933.00\"");
    assert_string_equal(dash_figure_label("retention.churn"), "churn rate");
    assert_null(dash_figure_label("retention.nothing"));
    dash_table_destroy(&t);
    json_decref(j);
}

static void
test_regional(void **state)
{
    (void)state;
    json_t *j = s_report();
    dash_table_t *t = dash_regional_table(j, false);
    assert_non_null(t);
    assert_int_equal(dash_table_rows(t), 3); /* two districts and the total */
    s_row(t, "\"惠城区\",\"3\",\"2\",\"1\",\"1\",\"1\",\"1\",\"2\",\"1\",\"0\"");
    s_row(t, "\"（未填区县）\",\"1\",\"0\",\"0\",\"0\",\"0\",\"2\",\"1\",\"0\",\"-2\"");
    s_row(t, "\"合计\",\"4\",\"2\",\"1\",\"1\",\"1\",\"3\",\"3\",\"1\",\"-2\"");
    dash_table_destroy(&t);
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv),      cmocka_unit_test(test_html),
        cmocka_unit_test(test_xlsx),     cmocka_unit_test(test_figures),
        cmocka_unit_test(test_regional),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
