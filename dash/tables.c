/*
 * tables.c -- the server's answers as the dashboard's tables.
 *
 * Which figures there are, their order and their words come from the one
 * list the store's report is built from (report.h, jp_stats_figures), so
 * the dashboard says what `jipan-store report` says, in the catalog's
 * language (po/): 首保回厂率, 1小时内联系率, 忠诚客户 ...  The values come
 * from the server's JSON, looked up by each figure's section and name.
 */
#include "dash.h"

#include "i18n.h"
#include "report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L(en, zh, e) ((en) ? (e) : (zh))

/* The report's figures, values aside (every one, the cohort's too). */
static size_t
s_figures(const jp_figure_t **out)
{
    static jp_figure_t f[256];
    static size_t n;
    if (!n) {
        jp_stats_t none = {.filtered = true};
        n = jp_stats_figures(&none, f, sizeof f / sizeof f[0]);
    }
    *out = f;
    return n;
}

const json_t *
dash_report_value(const json_t *report, const char *section, const char *name)
{
    const json_t *v = json_object_get(report, section);
    char key[96];
    const char *dot;
    while (v && (dot = strchr(name, '.'))) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - name), name);
        v = json_object_get(v, key);
        name = dot + 1;
    }
    return v ? json_object_get(v, name) : NULL;
}

/* Hundredths of a JSON number with two decimals (59.81 -> 5981). */
static int64_t
s_hundredths(const json_t *v)
{
    return (int64_t)llround(json_number_value(v) * 100.0);
}

/* A figure's value cell: a rate's percentage, a count, an index, yuan. */
static int
s_value(dash_table_t *t, uint8_t type, const json_t *v)
{
    switch (type) {
    case JP_FIG_RATE: {
        const json_t *pct = json_object_get(v, "pct");
        return dash_table_fixed(t, pct ? s_hundredths(pct) : 0, !json_is_number(pct));
    }
    case JP_FIG_FIXED:
        return dash_table_fixed(t, json_is_number(v) ? s_hundredths(v) : 0,
                                !json_is_number(v));
    case JP_FIG_MONEY: /* fen, shown as yuan */
        return dash_table_fixed(t, json_integer_value(v), !json_is_integer(v));
    default:
        return json_is_integer(v) ? dash_table_int(t, json_integer_value(v))
                                  : dash_table_empty(t);
    }
}

/* A table of n columns with these heads; NULL when out of memory. */
static dash_table_t *
s_new(const char *id, const char *title, const char *const *heads, int n)
{
    dash_table_t *t = dash_table_new(id, title, n);
    for (int i = 0; t && i < n; i++)
        if (dash_table_head(t, i, heads[i]))
            dash_table_destroy(&t);
    return t;
}

dash_table_t *
dash_figures_table(const json_t *report, bool en)
{
    const char *const heads[] = {L(en, "板块", "Section"), L(en, "指标", "Figure"),
                                 L(en, "分子", "Numerator"), L(en, "分母", "Denominator"),
                                 L(en, "数值", "Value")};
    const jp_figure_t *f;
    size_t n = s_figures(&f);
    dash_table_t *t = s_new("figures", L(en, "指标", "Figures"), heads, 5);
    int rc = t ? 0 : JP_ENOMEM;
    char key[128];
    for (size_t i = 0; i < n && !rc; i++) {
        const json_t *v = dash_report_value(report, f[i].section, f[i].name);
        if (!v && strcmp(f[i].section, "cohort") == 0)
            continue; /* no filter, no cohort figure */
        snprintf(key, sizeof key, "%s.%s", f[i].section, f[i].name);
        rc = dash_table_row(t, key) ||
             dash_table_text(t, jp_tr(jp_section_title(f[i].section))) ||
             dash_table_text(t, jp_tr(f[i].label));
        if (rc)
            break;
        if (f[i].type == JP_FIG_RATE) {
            const json_t *num = json_object_get(v, "num"),
                         *den = json_object_get(v, "den");
            rc = (json_is_integer(num) ? dash_table_int(t, json_integer_value(num))
                                       : dash_table_empty(t)) ||
                 (json_is_integer(den) ? dash_table_int(t, json_integer_value(den))
                                       : dash_table_empty(t));
        } else {
            rc = dash_table_empty(t) || dash_table_empty(t);
        }
        rc = rc || s_value(t, f[i].type, v);
    }
    if (rc)
        dash_table_destroy(&t);
    return t;
}

dash_table_t *
dash_regional_table(const json_t *report, bool en)
{
    static const char *const tiers[3] = {"quality", "potential", "general"};
    const char *const heads[] = {L(en, "区县", "District"),
                                 L(en, "优质（今）", "Quality (now)"),
                                 L(en, "潜力（今）", "Potential (now)"),
                                 L(en, "一般（今）", "General (now)"),
                                 L(en, "优质（一年前）", "Quality (a year ago)"),
                                 L(en, "潜力（一年前）", "Potential (a year ago)"),
                                 L(en, "一般（一年前）", "General (a year ago)"),
                                 L(en, "优质增减", "Quality change"),
                                 L(en, "潜力增减", "Potential change"),
                                 L(en, "一般增减", "General change")};
    dash_table_t *t =
        s_new("regional", L(en, "区域集中度", "Regional concentration"), heads, 10);
    int rc = t ? 0 : JP_ENOMEM;
    const json_t *a = json_object_get(report, "regional"), *d;
    int64_t total[2][3] = {{0}};
    size_t i;
    json_array_foreach(a, i, d)
    {
        if (rc)
            break;
        const char *name = json_string_value(json_object_get(d, "district"));
        int64_t v[2][3];
        for (int k = 0; k < 3; k++) {
            v[0][k] =
                json_integer_value(json_object_get(json_object_get(d, "now"), tiers[k]));
            v[1][k] = json_integer_value(
                json_object_get(json_object_get(d, "year_ago"), tiers[k]));
            total[0][k] += v[0][k];
            total[1][k] += v[1][k];
        }
        rc = dash_table_row(t, name ? name : "") ||
             dash_table_text(t, name ? name : L(en, "（未填区县）", "(no district)"));
        for (int w = 0; w < 2 && !rc; w++)
            for (int k = 0; k < 3 && !rc; k++)
                rc = dash_table_int(t, v[w][k]);
        for (int k = 0; k < 3 && !rc; k++)
            rc = dash_table_int(t, v[0][k] - v[1][k]);
    }
    if (!rc)
        rc = dash_table_row(t, "total") || dash_table_text(t, L(en, "合计", "Total"));
    for (int w = 0; w < 2 && !rc; w++)
        for (int k = 0; k < 3 && !rc; k++)
            rc = dash_table_int(t, total[w][k]);
    for (int k = 0; k < 3 && !rc; k++)
        rc = dash_table_int(t, total[0][k] - total[1][k]);
    if (rc)
        dash_table_destroy(&t);
    return t;
}

/* The label of figure section.name, in the reader's language. */
static const jp_figure_t *
s_figure(const char *section, const char *name)
{
    const jp_figure_t *f;
    size_t n = s_figures(&f);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].section, section) && !strcmp(f[i].name, name))
            return &f[i];
    return NULL;
}

const char *
dash_figure_label(const char *key)
{
    const jp_figure_t *f;
    size_t n = s_figures(&f), sl;
    for (size_t i = 0; i < n; i++) {
        sl = strlen(f[i].section);
        if (!strncmp(key, f[i].section, sl) && key[sl] == '.' &&
            !strcmp(key + sl + 1, f[i].name))
            return jp_tr(f[i].label);
    }
    return NULL;
}

static int
s_series_row(dash_table_t *t, const json_t *fig, const char *key, bool en)
{
    const char *sec = json_string_value(json_object_get(fig, "section"));
    const char *name = json_string_value(json_object_get(fig, "name"));
    const jp_figure_t *f = sec && name ? s_figure(sec, name) : NULL;
    if (!f)
        return 0; /* a figure this dashboard does not know: left out */
    (void)en;
    int rc = dash_table_row(t, key) || dash_table_text(t, jp_tr(f->label));
    const json_t *vals = json_object_get(fig, "values"), *v;
    size_t i;
    json_array_foreach(vals, i, v)
    {
        if (rc || (int)i + 1 >= dash_table_cols(t))
            break;
        rc = s_value(t, f->type, v);
    }
    return rc ? JP_ENOMEM : 0;
}

dash_table_t *
dash_series_table(const json_t *series, const char *const *keys, bool en)
{
    const json_t *months = json_object_get(series, "months"),
                 *figs = json_object_get(series, "figures");
    size_t nm = json_array_size(months), i;
    if (nm + 1 > DASH_TABLE_COLS)
        nm = DASH_TABLE_COLS - 1;
    dash_table_t *t =
        dash_table_new("series", L(en, "月度趋势", "Month by month"), (int)nm + 1);
    int rc = t ? dash_table_head(t, 0, L(en, "指标", "Figure")) : JP_ENOMEM;
    for (i = 0; i < nm && !rc; i++)
        rc = dash_table_head(t, (int)i + 1, json_string_value(json_array_get(months, i)));
    char key[128];
    const json_t *fig;
    for (size_t k = 0; !rc && (keys ? keys[k] != NULL : k < json_array_size(figs)); k++) {
        if (!keys) {
            fig = json_array_get(figs, k);
            snprintf(key, sizeof key, "%s.%s",
                     json_string_value(json_object_get(fig, "section")),
                     json_string_value(json_object_get(fig, "name")));
            rc = s_series_row(t, fig, key, en);
            continue;
        }
        json_array_foreach(figs, i, fig)
        {
            snprintf(key, sizeof key, "%s.%s",
                     json_string_value(json_object_get(fig, "section")),
                     json_string_value(json_object_get(fig, "name")));
            if (!strcmp(key, keys[k])) {
                rc = s_series_row(t, fig, key, en);
                break;
            }
        }
    }
    if (rc)
        dash_table_destroy(&t);
    return t;
}

/* "2026-06-30T23:59:59.999+08:00" -> "2026-06-30"; "" for null. */
static int
s_day(dash_table_t *t, const json_t *v)
{
    const char *s = json_string_value(v);
    char day[16];
    snprintf(day, sizeof day, "%.10s", s ? s : "");
    return dash_table_text(t, day);
}

dash_table_t *
dash_at_risk_table(const json_t *list, bool en)
{
    const char *const heads[] = {L(en, "门店", "Store"),
                                 L(en, "客户", "Customer"),
                                 L(en, "电话", "Phone"),
                                 L(en, "首次购车", "First sale"),
                                 L(en, "最近购买", "Last purchase"),
                                 L(en, "最近回厂", "Last visit"),
                                 L(en, "客户编号", "Customer id")};
    dash_table_t *t = s_new("at_risk", L(en, "流失预警", "Churn warning"), heads, 7);
    if (t && dash_at_risk_rows(t, list))
        dash_table_destroy(&t);
    return t;
}

int
dash_at_risk_rows(dash_table_t *t, const json_t *list)
{
    int rc = 0;
    const json_t *items = json_object_get(list, "items"), *it;
    size_t i;
    json_array_foreach(items, i, it)
    {
        if (rc)
            break;
        const char *code = json_string_value(json_object_get(it, "store_code"));
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *phone = json_string_value(json_object_get(it, "phone"));
        const char *cid = json_string_value(json_object_get(it, "customer"));
        char store[48];
        if (code)
            snprintf(store, sizeof store, "%s", code);
        else
            snprintf(store, sizeof store, "%lld",
                     (long long)json_integer_value(json_object_get(it, "store")));
        rc = dash_table_row(t, cid) || dash_table_text(t, store) ||
             dash_table_text(t, name ? name : "") ||
             dash_table_text(t, phone ? phone : "") ||
             s_day(t, json_object_get(it, "first_sale")) ||
             s_day(t, json_object_get(it, "last_purchase")) ||
             s_day(t, json_object_get(it, "last_visit")) ||
             dash_table_text(t, cid ? cid : "");
    }
    return rc ? JP_ENOMEM : 0;
}
