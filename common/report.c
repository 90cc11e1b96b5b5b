/*
 * report.c -- the statistics as JSON and CSV, from one list of figures.
 *
 * jp_stats_figures() is the only place that names the figures: the JSON
 * object, the CSV "figures" table and the store's text report are all
 * built by walking it, so the three cannot disagree about what a figure
 * is called or which number it shows.  A rate is always the triple
 * numerator, denominator, percentage; a zero denominator is null in JSON,
 * an empty cell in CSV and "n/a" on screen.
 */
#include "report.h"

#include "i18n.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "validate.h"

static const char *const s_grades[JP_GRADES] = {"O", "H", "A", "B", "C", "potential"};
/* Appending figures: the list, its capacity and the count so far. */
typedef struct {
    jp_figure_t *out;
    size_t cap, n;
    const char *section;
} s_list_t;

static void
s_put(s_list_t *l, const char *name, const char *label, jp_fig_type_t type, int64_t count,
      const jp_rate_t *rate, const jp_fixed_t *fixed)
{
    if (l->n < l->cap) {
        jp_figure_t *f = &l->out[l->n];
        memset(f, 0, sizeof *f);
        f->section = l->section;
        f->name = name;
        f->label = label;
        f->type = (uint8_t)type;
        f->count = count;
        if (rate)
            f->rate = *rate;
        if (fixed)
            f->fixed = *fixed;
    }
    l->n++;
}

static void
s_count(s_list_t *l, const char *name, const char *label, int64_t v)
{
    s_put(l, name, label, JP_FIG_COUNT, v, NULL, NULL);
}

static void
s_rate(s_list_t *l, const char *name, const char *label, jp_rate_t r)
{
    s_put(l, name, label, JP_FIG_RATE, 0, &r, NULL);
}

static void
s_fixed(s_list_t *l, const char *name, const char *label, jp_fixed_t v)
{
    s_put(l, name, label, JP_FIG_FIXED, 0, NULL, &v);
}

static void
s_base(const jp_stats_t *s, s_list_t *l)
{
    static const char *const pn[JP_GRADES] = {"prospects.O", "prospects.H",
                                              "prospects.A", "prospects.B",
                                              "prospects.C", "prospects.potential"};
    static const char *const on[JP_GRADES] = {
        "open_prospects.O", "open_prospects.H", "open_prospects.A",
        "open_prospects.B", "open_prospects.C", "open_prospects.potential"};
    static const char *const pl[JP_GRADES] = {N_("  grade O"), N_("  grade H"),
                                              N_("  grade A"), N_("  grade B"),
                                              N_("  grade C"), N_("  potential")};
    static const char *const ol[JP_GRADES] = {
        N_("  open, grade O"), N_("  open, grade H"), N_("  open, grade A"),
        N_("  open, grade B"), N_("  open, grade C"), N_("  open, potential")};
    static const char *const cn[JP_CLASSES] = {
        "owner_class.loyal", "owner_class.effective", "owner_class.deal",
        "owner_class.data_only"};
    static const char *const cl[JP_CLASSES] = {N_("  loyal"), N_("  effective"),
                                               N_("  deal"), N_("  data-only")};
    l->section = "base";
    s_count(l, "customers", "customers (people in scope)", s->people);
    s_count(l, "owners", "owners", s->owners);
    for (int c = 0; c < JP_CLASSES; c++)
        s_count(l, cn[c], cl[c], s->owner_class[c]);
    s_count(l, "prospects.total", "prospects (defeated included)", s->prospects);
    for (int g = 0; g < JP_GRADES; g++)
        s_count(l, pn[g], pl[g], s->prospects_grade[g]);
    for (int g = 0; g < JP_GRADES; g++)
        s_count(l, on[g], ol[g], s->open_grade[g]);
    s_count(l, "defeated", "defeated prospects", s->defeated);
    s_count(l, "vip", "VIP (>= 3 referrals in 365 days)", s->vip);
}

static void
s_loyalty(const jp_stats_t *s, s_list_t *l)
{
    static const char *const sn[5] = {"satisfaction.1", "satisfaction.2",
                                      "satisfaction.3", "satisfaction.4",
                                      "satisfaction.5"};
    static const char *const sl[5] = {N_("  1 very dissatisfied"), N_("  2 dissatisfied"),
                                      N_("  3 neutral"), N_("  4 satisfied"),
                                      N_("  5 very satisfied")};
    static const char *const rn[3] = {"repurchase_intent.high", "repurchase_intent.mid",
                                      "repurchase_intent.low"};
    static const char *const rl[3] = {N_("repurchase intent high (> 70%)"),
                                      N_("  mid (30-70%)"), N_("  low (< 30%)")};
    static const char *const mn[3] = {"recommendation.very_likely",
                                      "recommendation.possible",
                                      "recommendation.unlikely"};
    static const char *const ml[3] = {N_("recommendation very likely"), N_("  possible"),
                                      N_("  unlikely")};
    l->section = "loyalty";
    s_rate(l, "repeat_purchase", "repeat-purchase rate", s->repeat_purchase);
    s_count(l, "surveyed", "surveyed customers (365 days)", s->surveyed);
    for (int i = 4; i >= 0; i--)
        s_rate(l, sn[i], sl[i], s->satisfaction[i]);
    s_rate(l, "satisfaction.csat", "CSAT (4 or 5)", s->csat);
    for (int i = 0; i < 3; i++)
        s_rate(l, rn[i], rl[i], s->repurchase[i]);
    for (int i = 0; i < 3; i++)
        s_rate(l, mn[i], ml[i], s->recommend[i]);
    s_fixed(l, "recommendation.net", "net recommendation (points)", s->net_recommend);
    s_fixed(l, "loyalty_index.value", "loyalty index (0-100)", s->loyalty_index);
    s_fixed(l, "loyalty_index.satisfaction", "  satisfaction component",
            s->index_part[0]);
    s_fixed(l, "loyalty_index.repurchase", "  repurchase component", s->index_part[1]);
    s_fixed(l, "loyalty_index.recommendation", "  recommendation component",
            s->index_part[2]);
    s_count(l, "value_concentration.customers", "customers with revenue (365 days)",
            s->revenue_people);
    s_put(l, "value_concentration.revenue_fen", "  revenue (yuan)", JP_FIG_MONEY,
          s->revenue_fen, NULL, NULL);
    s_count(l, "value_concentration.top_2_5.customers", "  top 2.5%: customers",
            s->top_n[0]);
    s_rate(l, "value_concentration.top_2_5.share", "  top 2.5%: share of revenue",
           s->top_share[0]);
    s_count(l, "value_concentration.top_20.customers", "  top 20%: customers",
            s->top_n[1]);
    s_rate(l, "value_concentration.top_20.share", "  top 20%: share of revenue",
           s->top_share[1]);
    s_count(l, "cross_store_customers", "cross-store customers", s->cross_store);
}

static void
s_retention(const jp_stats_t *s, s_list_t *l)
{
    l->section = "retention";
    s_rate(l, "first_maintenance_return", "first-maintenance return rate",
           s->first_maintenance);
    s_rate(l, "six_month_return", "6-month return rate", s->six_month);
    s_rate(l, "retention_12m", "12-month retention", s->retention);
    s_rate(l, "churn", "churn rate", s->churn);
    s_count(l, "at_risk", "at-risk owners (churn warning)", s->at_risk);
}

static void
s_complaints(const jp_stats_t *s, s_list_t *l)
{
    static const char *const rn[2][3] = {
        {"return_after.major.within_24h", "return_after.major.later",
         "return_after.major.unresolved"},
        {"return_after.minor.within_24h", "return_after.minor.later",
         "return_after.minor.unresolved"}};
    static const char *const rl[2][3] = {
        {N_("return after complaint: major, resolved in 24 h"),
         N_("  major, resolved later"), N_("  major, unresolved")},
        {N_("  minor, resolved in 24 h"), N_("  minor, resolved later"),
         N_("  minor, unresolved")}};
    static const char *const cn[2][3] = {
        {"crossed.major.sales", "crossed.major.service", "crossed.major.product"},
        {"crossed.minor.sales", "crossed.minor.service", "crossed.minor.product"}};
    static const char *const cl[2][3] = {
        {N_("  major about sales"), N_("  major about service"),
         N_("  major about the product")},
        {N_("  minor about sales"), N_("  minor about service"),
         N_("  minor about the product")}};
    l->section = "complaints";
    s_count(l, "count", "complaints (365 days)", s->complaints);
    s_count(l, "severity.major", "  major", s->complaint_severity[0]);
    s_count(l, "severity.minor", "  minor", s->complaint_severity[1]);
    s_count(l, "subject.sales", "  about sales", s->complaint_subject[0]);
    s_count(l, "subject.service", "  about service", s->complaint_subject[1]);
    s_count(l, "subject.product", "  about the product", s->complaint_subject[2]);
    for (int sv = 0; sv < 2; sv++) {
        for (int sj = 0; sj < 3; sj++)
            s_count(l, cn[sv][sj], cl[sv][sj], s->complaint_cross[sv][sj]);
    }
    s_rate(l, "contact_1h", "1-hour contact rate", s->contact_1h);
    s_rate(l, "resolution", "resolution rate", s->resolution);
    s_fixed(l, "time_to_resolve_hours", "median hours to resolve", s->resolve_hours);
    for (int sv = 0; sv < 2; sv++) {
        for (int st = 0; st < 3; st++)
            s_rate(l, rn[sv][st], rl[sv][st], s->return_after[sv][st]);
    }
}

static void
s_funnel(const jp_stats_t *s, s_list_t *l)
{
    static const char *const on[JP_GRADES] = {"open.O", "open.H", "open.A",
                                              "open.B", "open.C", "open.potential"};
    static const char *const ol[JP_GRADES] = {N_("  still open, grade O"),
                                              N_("  grade H"),
                                              N_("  grade A"),
                                              N_("  grade B"),
                                              N_("  grade C"),
                                              N_("  potential")};
    static const char *const rn[JP_REASONS] = {
        "defeat_reasons.price",   "defeat_reasons.product",   "defeat_reasons.competitor",
        "defeat_reasons.service", "defeat_reasons.financing", "defeat_reasons.other"};
    static const char *const rl[JP_REASONS] = {
        N_("  defeated for price"), N_("  for the product"), N_("  for a competitor"),
        N_("  for service"),        N_("  for financing"),   N_("  for another reason")};
    l->section = "referrals";
    s_count(l, "made", "referrals made (365 days)", s->referrals.den);
    s_rate(l, "converted", "referrals converted", s->referrals);
    l->section = "funnel";
    s_count(l, "created", "prospects created (365 days)", s->funnel_created);
    s_rate(l, "converted", "conversion rate", s->funnel_converted);
    s_rate(l, "defeated", "defeat rate", s->funnel_defeated);
    for (int g = 0; g < JP_GRADES; g++)
        s_count(l, on[g], ol[g], s->funnel_open[g]);
    for (int r = 0; r < JP_REASONS; r++)
        s_count(l, rn[r], rl[r], s->defeat_reason[r]);
    s_count(l, "defeat_reasons.none", "  with no reason given", s->defeat_reason_none);
}

size_t
jp_stats_figures(const jp_stats_t *s, jp_figure_t *out, size_t cap)
{
    assert(s && (out || cap == 0));
    s_list_t l = {out, cap, 0, NULL};
    s_base(s, &l);
    s_loyalty(s, &l);
    s_retention(s, &l);
    s_complaints(s, &l);
    s_funnel(s, &l);
    l.section = "follow_up";
    s_rate(&l, "day3", "day-3 call rate", s->day3);
    s_rate(&l, "day7", "day-7 call rate", s->day7);
    s_rate(&l, "quarterly", "quarterly contact rate", s->quarterly);
    if (s->filtered) {
        l.section = "cohort";
        s_rate(&l, "matched", "vehicles matching the filter", s->filter);
    }
    return l.n;
}

void
jp_format_hundredths(int64_t v, bool na, char *out, size_t cap)
{
    if (na) {
        snprintf(out, cap, "n/a");
        return;
    }
    uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    snprintf(out, cap, "%s%llu.%02llu", v < 0 ? "-" : "", (unsigned long long)(a / 100),
             (unsigned long long)(a % 100));
}

void
jp_format_iso(int64_t ms, char *out, size_t cap)
{
    int64_t sec = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        snprintf(out, cap, "%lld", (long long)ms);
        return;
    }
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+', text[160]; /* room for any int the format takes */
    if (off < 0)
        off = -off;
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%c%02ld:%02ld",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, (int)(ms - sec * 1000), sign, off / 60, off % 60);
    size_t n = strlen(text); /* cut to cap, as snprintf would */
    if (cap == 0)
        return;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, text, n);
    out[n] = '\0';
}

/* ---- JSON -------------------------------------------------------------- */

/* A number with two decimals: exact in the text jp_json_text writes. */
static json_t *
s_json_hundredths(int64_t v)
{
    return json_real((double)v / 100.0);
}

json_t *
jp_figure_json(const jp_figure_t *f)
{
    switch (f->type) {
    case JP_FIG_RATE:
        return json_pack("{sI sI so}", "num", (json_int_t)f->rate.num, "den",
                         (json_int_t)f->rate.den, "pct",
                         f->rate.den ? s_json_hundredths(f->rate.pct) : json_null());
    case JP_FIG_FIXED:
        return f->fixed.na ? json_null() : s_json_hundredths(f->fixed.v);
    default:
        return json_integer((json_int_t)f->count);
    }
}

/* Set obj[path] = v, creating the objects a dotted path names. */
static int
s_json_set(json_t *obj, const char *path, json_t *v)
{
    char key[96];
    const char *dot;
    while ((dot = strchr(path, '.'))) {
        snprintf(key, sizeof key, "%.*s", (int)(dot - path), path);
        json_t *sub = json_object_get(obj, key);
        if (!sub) {
            sub = json_object();
            if (json_object_set_new(obj, key, sub))
                goto fail;
        }
        obj = sub;
        path = dot + 1;
    }
    return json_object_set_new(obj, path, v);
fail:
    json_decref(v);
    return -1;
}

static json_t *
s_json_regional(const jp_stats_t *s)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->ndistricts; i++) {
        const jp_district_t *d = &s->districts[i];
        json_t *row = json_pack(
            "{ss? s{sIsIsI} s{sIsIsI}}", "district", d->name[0] ? d->name : NULL, "now",
            "quality", (json_int_t)d->now[0], "potential", (json_int_t)d->now[1],
            "general", (json_int_t)d->now[2], "year_ago", "quality",
            (json_int_t)d->before[0], "potential", (json_int_t)d->before[1], "general",
            (json_int_t)d->before[2]);
        if (json_array_append_new(a, row)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *
jp_stats_json(const jp_stats_t *s, const char *scope, const jp_scope_t *stores,
              const jp_filter_t *filter)
{
    char when[48];
    size_t n = jp_stats_figures(s, NULL, 0);
    jp_figure_t *f = calloc(n, sizeof *f);
    json_t *root = json_object();
    if (!f || !root)
        goto fail;
    jp_stats_figures(s, f, n);
    jp_format_iso(s->asof, when, sizeof when);
    if (json_object_set_new(root, "schema", json_string("jipan.stats/1")) ||
        json_object_set_new(root, "as_of", json_string(when)) ||
        json_object_set_new(root, "as_of_ms", json_integer(s->asof)) ||
        json_object_set_new(root, "scope", json_string(scope ? scope : "")))
        goto fail;
    if (stores) {
        json_t *a = json_array();
        if (json_object_set_new(root, "stores", a))
            goto fail;
        for (uint32_t st = 0; st < 65536; st++) {
            if (jp_scope_has(stores, (uint16_t)st) &&
                json_array_append_new(a, json_integer(st)))
                goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *sec = json_object_get(root, f[i].section);
        if (!sec && json_object_set_new(root, f[i].section, sec = json_object()))
            goto fail;
        if (s_json_set(sec, f[i].name, jp_figure_json(&f[i])))
            goto fail;
    }
    if (filter && json_object_set_new(json_object_get(root, "cohort"), "filter",
                                      json_string(jp_filter_text(filter))))
        goto fail;
    if (json_object_set_new(root, "regional", s_json_regional(s)))
        goto fail;
    free(f);
    return root;
fail:
    free(f);
    json_decref(root);
    return NULL;
}

char *
jp_json_text(const json_t *j)
{
    return json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
}

/* ---- CSV --------------------------------------------------------------- */

/* A cell, quoted when it holds a comma, a quote or a line break. */
static void
s_cell(FILE *out, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(last ? '\n' : ',', out);
}

static void
s_csv_figure(FILE *out, const jp_figure_t *f)
{
    char name[128], a[32] = "", b[32] = "", v[40] = "";
    snprintf(name, sizeof name, "%s", f->name);
    switch (f->type) {
    case JP_FIG_RATE:
        snprintf(a, sizeof a, "%lld", (long long)f->rate.num);
        snprintf(b, sizeof b, "%lld", (long long)f->rate.den);
        if (f->rate.den)
            jp_format_hundredths(f->rate.pct, false, v, sizeof v);
        break;
    case JP_FIG_FIXED:
        if (!f->fixed.na)
            jp_format_hundredths(f->fixed.v, false, v, sizeof v);
        break;
    default:
        snprintf(v, sizeof v, "%lld", (long long)f->count);
        break;
    }
    s_cell(out, f->section, false);
    s_cell(out, name, false);
    s_cell(out, a, false);
    s_cell(out, b, false);
    s_cell(out, v, true);
}

int
jp_stats_csv(const jp_stats_t *s, const char *table, FILE *out)
{
    if (strcmp(table, "figures") == 0) {
        size_t n = jp_stats_figures(s, NULL, 0);
        jp_figure_t *f = calloc(n, sizeof *f);
        if (!f)
            return JP_ENOMEM;
        jp_stats_figures(s, f, n);
        fputs("section,figure,numerator,denominator,value\n", out);
        for (size_t i = 0; i < n; i++)
            s_csv_figure(out, &f[i]);
        free(f);
    } else if (strcmp(table, "regional") == 0) {
        fputs("district,quality,potential,general,quality_year_ago,potential_year_ago,"
              "general_year_ago\n",
              out);
        for (size_t i = 0; i < s->ndistricts; i++) {
            const jp_district_t *d = &s->districts[i];
            s_cell(out, d->name, false);
            fprintf(out, "%lld,%lld,%lld,%lld,%lld,%lld\n", (long long)d->now[0],
                    (long long)d->now[1], (long long)d->now[2], (long long)d->before[0],
                    (long long)d->before[1], (long long)d->before[2]);
        }
    } else {
        return JP_EINVAL;
    }
    return ferror(out) ? JP_EIO : 0;
}

/* ---- the work list ----------------------------------------------------- */

const char *
jp_section_title(const char *section)
{
    static const char *const t[][2] = {{"base", N_("size of the base")},
                                       {"loyalty", N_("loyalty")},
                                       {"retention", N_("retention and churn")},
                                       {"complaints", N_("complaints")},
                                       {"referrals", N_("referrals")},
                                       {"funnel", N_("prospect funnel")},
                                       {"follow_up", N_("follow-up discipline")},
                                       {"cohort", N_("cohort filter")}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (strcmp(t[i][0], section) == 0)
            return t[i][1];
    return section;
}

const char *
jp_due_title(jp_due_kind_t k)
{
    static const char *const t[JP_DUE_KINDS] = {
        N_("day-3 calls not yet made"),
        N_("day-7 calls not yet made"),
        N_("first-maintenance reminders"),
        N_("insurance renewals (delivery anniversary within 30 days)"),
        N_("birthdays within 7 days"),
        N_("prospect follow-ups due"),
        N_("complaints past 1 hour without a first contact"),
        N_("owners at risk (no purchase in 182 days)")};
    return (unsigned)k < JP_DUE_KINDS ? t[k] : "";
}

/* The details in the schema's words (tr false) or the reader's. */
static void
s_due_details(const jp_due_t *d, bool tr, char *out, size_t cap)
{
#define S_TR(fmt) (tr ? _(fmt) : (fmt))
    char when[17];
    jp_format_instant(d->since, when);
    switch (d->kind) {
    case JP_DUE_DAY3:
    case JP_DUE_DAY7:
    case JP_DUE_FIRST_MAINT:
        snprintf(out, cap, S_TR("delivered %.10s"), when);
        break;
    case JP_DUE_RENEWAL:
        snprintf(out, cap, S_TR("delivered %.10s, year %lld"), when, (long long)d->extra);
        break;
    case JP_DUE_BIRTHDAY:
        snprintf(out, cap, S_TR("turns %lld"), (long long)d->extra);
        break;
    case JP_DUE_FOLLOW_UP:
        snprintf(out, cap, S_TR("grade %s, last contact %s"),
                 d->extra >= 1 && d->extra <= JP_GRADES ? s_grades[d->extra - 1] : "?",
                 when);
        break;
    case JP_DUE_COMPLAINT:
        snprintf(out, cap, S_TR("opened %s"), when);
        break;
    case JP_DUE_AT_RISK:
        snprintf(out, cap, S_TR("last purchase %.10s"), when);
        break;
    default:
        out[0] = '\0';
    }
#undef S_TR
}

void
jp_due_details(const jp_due_t *d, char *out, size_t cap)
{
    s_due_details(d, false, out, cap);
}

void
jp_due_details_tr(const jp_due_t *d, char *out, size_t cap)
{
    s_due_details(d, true, out, cap);
}

json_t *
jp_worklist_json(const jp_worklist_t *w, const char *scope)
{
    char day[11], phone[32], cid[JP_ID_TEXT_LEN + 1], rid[JP_ID_TEXT_LEN + 1], since[48],
        det[256];
    json_t *counts = json_object(), *items = json_array();
    jp_format_date(w->today, day);
    json_t *root =
        json_pack("{ss ss ss so so}", "schema", "jipan.today/1", "scope",
                  scope ? scope : "", "today", day, "counts", counts, "items", items);
    if (!root)
        return NULL;
    for (int k = 0; k < JP_DUE_KINDS; k++) {
        if (json_object_set_new(counts, jp_due_name((jp_due_kind_t)k),
                                json_integer((json_int_t)w->count[k])))
            goto fail;
    }
    for (size_t i = 0; i < w->n; i++) {
        const jp_due_t *d = &w->items[i];
        jp_format_date(d->due_day, day);
        jp_id_format(&d->customer, cid);
        jp_id_format(&d->record, rid);
        phone[0] = '\0';
        if (d->phone[0])
            jp_phone_mask(d->phone, phone, sizeof phone);
        jp_format_iso(d->since, since, sizeof since);
        jp_due_details(d, det, sizeof det);
        json_t *it =
            json_pack("{ss ss ss ss ss ss? ss? ss sI ss}", "kind",
                      jp_due_name((jp_due_kind_t)d->kind), "due", day, "customer", cid,
                      "record", rid, "name", d->name, "phone", phone[0] ? phone : NULL,
                      "vin", d->vin[0] ? d->vin : NULL, "since", since, "extra",
                      (json_int_t)d->extra, "details", det);
        if (json_array_append_new(items, it))
            goto fail;
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}

int
jp_worklist_csv(const jp_worklist_t *w, FILE *out)
{
    char day[11], phone[32], cid[JP_ID_TEXT_LEN + 1], det[256];
    fputs("kind,due,customer,name,phone,vin,details\n", out);
    for (size_t i = 0; i < w->n; i++) {
        const jp_due_t *d = &w->items[i];
        jp_format_date(d->due_day, day);
        jp_id_format(&d->customer, cid);
        phone[0] = '\0';
        if (d->phone[0])
            jp_phone_mask(d->phone, phone, sizeof phone);
        jp_due_details(d, det, sizeof det);
        s_cell(out, jp_due_name((jp_due_kind_t)d->kind), false);
        s_cell(out, day, false);
        s_cell(out, cid, false);
        s_cell(out, d->name, false);
        s_cell(out, phone, false);
        s_cell(out, d->vin, false);
        s_cell(out, det, true);
    }
    return ferror(out) ? JP_EIO : 0;
}

/* ---- the churn warning list -------------------------------------------- */

/* An instant as ISO 8601 text, or JSON null for none. */
static json_t *
s_json_when(int64_t ms)
{
    char when[48];
    if (ms == INT64_MIN)
        return json_null();
    jp_format_iso(ms, when, sizeof when);
    return json_string(when);
}

json_t *
jp_at_risk_json(const jp_at_risk_list_t *l, const char *scope, jp_store_code_fn code,
                void *arg)
{
    char when[48], phone[32], cid[JP_ID_TEXT_LEN + 1];
    json_t *items = json_array();
    jp_format_iso(l->asof, when, sizeof when);
    json_t *root = json_pack("{ss ss ss sI so}", "schema", "jipan.at_risk/1", "scope",
                             scope ? scope : "", "as_of", when, "count", (json_int_t)l->n,
                             "items", items);
    if (!root)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        const jp_at_risk_t *r = &l->items[i];
        jp_id_format(&r->customer, cid);
        phone[0] = '\0';
        if (r->phone[0])
            jp_phone_mask(r->phone, phone, sizeof phone);
        json_t *it = json_pack(
            "{sI ss? ss ss ss? so so so}", "store", (json_int_t)r->store, "store_code",
            code ? code(arg, r->store) : NULL, "customer", cid, "name", r->name, "phone",
            phone[0] ? phone : NULL, "first_sale", s_json_when(r->first_sale),
            "last_purchase", s_json_when(r->last_purchase), "last_visit",
            s_json_when(r->last_visit));
        if (json_array_append_new(items, it))
            goto fail;
    }
    return root;
fail:
    json_decref(root);
    return NULL;
}

int
jp_at_risk_csv(const jp_at_risk_list_t *l, jp_store_code_fn code, void *arg, FILE *out)
{
    char phone[32], cid[JP_ID_TEXT_LEN + 1], st[8], first[48], last[48], visit[48];
    fputs("store,store_code,customer,name,phone,first_sale,last_purchase,last_visit\n",
          out);
    for (size_t i = 0; i < l->n; i++) {
        const jp_at_risk_t *r = &l->items[i];
        snprintf(st, sizeof st, "%u", r->store);
        jp_id_format(&r->customer, cid);
        phone[0] = visit[0] = '\0';
        if (r->phone[0])
            jp_phone_mask(r->phone, phone, sizeof phone);
        jp_format_iso(r->first_sale, first, sizeof first);
        jp_format_iso(r->last_purchase, last, sizeof last);
        if (r->last_visit != INT64_MIN)
            jp_format_iso(r->last_visit, visit, sizeof visit);
        const char *sc = code ? code(arg, r->store) : NULL;
        s_cell(out, st, false);
        s_cell(out, sc ? sc : "", false);
        s_cell(out, cid, false);
        s_cell(out, r->name, false);
        s_cell(out, phone, false);
        s_cell(out, first, false);
        s_cell(out, last, false);
        s_cell(out, visit, true);
    }
    return ferror(out) ? JP_EIO : 0;
}
