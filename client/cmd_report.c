/*
 * cmd_report.c -- report and today: the store's loyalty statistics and its
 * daily work list, offline, over this store's own scope.
 *
 * Both are thin shells over the engine of common/stats.h: open the store,
 * load the records as of D in one read transaction, compute for the scope
 * {this store}, and render.  JSON and CSV come from common/report.c (the
 * server writes the same); the text form is drawn here with the
 * CJK-aware tables of display.c.  Phones appear only masked, in the work
 * list.
 */
#include "store.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "stats.h"
#include "validate.h"

#define S_DEFAULT_TZ "Asia/Shanghai" /* metrics.md: the group's default zone */

static const char s_report_usage[] =
    "usage: " CLI_PROG " report [--as-of DATE|INSTANT] [--format text|json|csv]\n"
    "                   [--table figures|regional] [--filter EXPR]\n"
    "\n"
    "The loyalty statistics of this store's customers (docs/REPORTS.md):\n"
    "size of the base, loyalty, retention and churn, complaints, referrals\n"
    "and the prospect funnel, follow-up discipline, and owners by district\n"
    "now and a year before.  Computed offline from this store's records.\n"
    "\n"
    "options:\n"
    "  --as-of WHEN      the instant D: a date means the end of that day in the\n"
    "                    group's time zone (default: now)\n"
    "  --format FMT      text (default), json, or csv\n"
    "  --table NAME      with csv: figures (default) or regional\n"
    "  --filter EXPR     count the vehicles matching a cohort filter, e.g.\n"
    "                    'daily_km 5..500, age_days >213, visits >=4'\n"
    "  --scope SCOPE     ask the group server instead (network needed): the\n"
    "                    figures it computes over the group's base for store:N;\n"
    "                    json (default) or csv; a store key reads its own store\n"
    "                    only\n"
    "  -h, --help        this text\n";

static const char s_today_usage[] =
    "usage: " CLI_PROG " today [--as-of DATE|INSTANT] [--format text|json|csv]\n"
    "\n"
    "What is due today at this store: day-3 and day-7 calls not yet made,\n"
    "first-maintenance reminders, insurance renewals, birthdays, prospect\n"
    "follow-ups by grade, complaints past one hour without a first contact,\n"
    "and owners at risk of leaving.  Phones are masked.\n"
    "\n"
    "options:\n"
    "  --as-of WHEN      the instant D (default: now); a date means its end\n"
    "  --format FMT      text (default), json, or csv\n"
    "  -h, --help        this text\n";

enum { S_FMT_TEXT, S_FMT_JSON, S_FMT_CSV };

/* Options of one run. */
typedef struct {
    const char *asof;   /* as typed, NULL: now */
    int format;         /* S_FMT_* */
    const char *table;  /* csv table */
    const char *filter; /* filter expression, NULL: none */
    const char *scope;  /* ask the server for this scope, NULL: offline */
    bool format_set;    /* --format given */
} s_opts_t;

static int
s_parse(cli_t *c, int argc, char **argv, bool report, s_opts_t *o)
{
    static const struct option longopts[] = {CLI_STD_LONGOPTS,
                                             {"as-of", required_argument, NULL, 'a'},
                                             {"format", required_argument, NULL, 'f'},
                                             {"table", required_argument, NULL, 't'},
                                             {"filter", required_argument, NULL, 'F'},
                                             {"scope", required_argument, NULL, 'S'},
                                             {NULL, 0, NULL, 0}};
    const char *usage = report ? s_report_usage : s_today_usage;
    int opt;
    memset(o, 0, sizeof *o);
    o->table = "figures";
    cli_getopt_reset();
    while ((opt = getopt_long(argc, argv, CLI_STD_SHORT, longopts, NULL)) != -1) {
        if (opt == 'a') {
            o->asof = optarg;
        } else if (report && opt == 'S') {
            o->scope = optarg;
        } else if (opt == 'f') {
            o->format_set = true;
            if (strcmp(optarg, "text") == 0)
                o->format = S_FMT_TEXT;
            else if (strcmp(optarg, "json") == 0)
                o->format = S_FMT_JSON;
            else if (strcmp(optarg, "csv") == 0)
                o->format = S_FMT_CSV;
            else
                return cli_usage_error(c, "--format must be text, json or csv");
        } else if (report && opt == 't') {
            if (strcmp(optarg, "figures") != 0 && strcmp(optarg, "regional") != 0)
                return cli_usage_error(c, "--table must be figures or regional");
            o->table = optarg;
        } else if (report && opt == 'F') {
            o->filter = optarg;
        } else {
            int rc = cli_std_opt(c, opt == 't' || opt == 'F' || opt == 'S' ? '?' : opt,
                                 argv, usage);
            if (rc != CLI_CONTINUE)
                return rc;
        }
    }
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument");
    return CLI_CONTINUE;
}

/* Open the store, set the zone, read D and load the records as of D. */
/* Load this store's base as of --as-of (default now), and its scope: the
 * store alone.  The caller frees both. */
static int
s_load(cli_t *c, const s_opts_t *o, jp_base_t **base, jp_scope_t **scope)
{
    jp_err_t err;
    jp_txn_t *txn = NULL;
    int64_t asof = (int64_t)jp_now_ms();
    const char *why;
    int rc = cli_open(c);
    if (rc)
        return rc;
    if (!c->node.tz[0] && jp_tz_set(S_DEFAULT_TZ) != 0)
        return cli_fail(c, CLI_INTERNAL, "unknown time zone " S_DEFAULT_TZ);
    if (o->asof && jp_parse_asof(o->asof, strlen(o->asof), &asof, &why) != 0)
        return cli_usage_error(c, "--as-of: %s", why);
    jp_err_clear(&err);
    rc = jp_db_begin(c->db, false, &txn, &err);
    if (!rc)
        rc = jp_base_load(txn, asof, base, &err);
    jp_txn_abort(&txn);
    /* Every id the load reads comes from the store's own record table: one
     * that is then not found, or does not decode, is a damaged file. */
    if (rc == JP_ENOTFOUND || rc == JP_ECORRUPT)
        rc = JP_EDAMAGED;
    if (rc)
        return cli_fail_err(c, rc, &err);
    if (!(*scope = calloc(1, sizeof **scope)))
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    jp_scope_add(*scope, c->node.store);
    return CLI_OK;
}

/* "store 7 HZ01": in the schema's words for JSON (tr false), in the
 * reader's for text. */
static void
s_scope_label(const cli_t *c, bool tr, char *out, size_t cap)
{
    snprintf(out, cap, tr ? _("store %u %s") : "store %u %s", c->node.store,
             c->node.code);
}

/* ---- text -------------------------------------------------------------- */

static void
s_fig_text(const jp_figure_t *f, char *value, size_t vcap, char *of, size_t ocap)
{
    of[0] = '\0';
    switch (f->type) {
    case JP_FIG_RATE:
        jp_format_hundredths(f->rate.pct, f->rate.den == 0, value, vcap);
        if (f->rate.den)
            snprintf(value + strlen(value), vcap - strlen(value), "%%");
        snprintf(of, ocap, "%lld / %lld", (long long)f->rate.num, (long long)f->rate.den);
        break;
    case JP_FIG_FIXED:
        jp_format_hundredths(f->fixed.v, f->fixed.na, value, vcap);
        break;
    case JP_FIG_MONEY: {
        char m[24];
        jp_format_money(f->count, m);
        snprintf(value, vcap, "%s", m);
        break;
    }
    default:
        snprintf(value, vcap, "%lld", (long long)f->count);
    }
}

static int
s_print_regional(const jp_stats_t *s)
{
    static const char *const words[] = {N_("district"),
                                        N_("quality"),
                                        N_("potential"),
                                        N_("general"),
                                        N_("| year ago: quality"),
                                        N_("potential"),
                                        N_("general")};
    const char *head[7];
    for (int k = 0; k < 7; k++)
        head[k] = jp_tr(words[k]);
    cli_table_t *t = cli_table_new(7, head);
    char n[6][24];
    int rc = t ? 0 : JP_ENOMEM;
    for (size_t i = 0; i < s->ndistricts && !rc; i++) {
        const jp_district_t *d = &s->districts[i];
        for (int k = 0; k < 3; k++) {
            snprintf(n[k], sizeof n[k], "%lld", (long long)d->now[k]);
            snprintf(n[3 + k], sizeof n[3 + k], "%s%lld", k == 0 ? "| " : "",
                     (long long)d->before[k]);
        }
        const char *cells[] = {
            d->name[0] ? d->name : _("(none)"), n[0], n[1], n[2], n[3], n[4], n[5]};
        rc = cli_table_add(t, cells, false);
    }
    if (!rc) {
        printf("\n%s\n", _("regional concentration (owners by district)"));
        cli_table_print(t, stdout);
    }
    cli_table_destroy(&t);
    return rc;
}

static int
s_print_report(const cli_t *c, const jp_stats_t *s, const jp_filter_t *flt)
{
    static const char *const sections[] = {"base",       "loyalty",   "retention",
                                           "complaints", "referrals", "funnel",
                                           "follow_up",  "cohort"};
    char when[48], scope[64], value[48], of[64];
    size_t n = jp_stats_figures(s, NULL, 0);
    jp_figure_t *f = calloc(n, sizeof *f);
    int rc = f ? 0 : JP_ENOMEM;
    if (rc)
        return rc;
    jp_stats_figures(s, f, n);
    jp_format_iso(s->asof, when, sizeof when);
    s_scope_label(c, true, scope, sizeof scope);
    printf(_("loyalty report, %s, as of %s\n"), scope, when);
    for (size_t k = 0; k < sizeof sections / sizeof sections[0] && !rc; k++) {
        cli_table_t *t = cli_table_new(3, NULL);
        if (!t) {
            rc = JP_ENOMEM;
            break;
        }
        int rows = 0;
        for (size_t i = 0; i < n && !rc; i++) {
            if (strcmp(f[i].section, sections[k]) != 0)
                continue;
            s_fig_text(&f[i], value, sizeof value, of, sizeof of);
            const char *cells[] = {jp_tr(f[i].label), value, of};
            rc = cli_table_add(t, cells, false);
            rows++;
        }
        if (!rc && rows) {
            printf("\n%s", jp_tr(jp_section_title(sections[k])));
            if (strcmp(sections[k], "cohort") == 0 && flt)
                printf(": %s", jp_filter_text(flt));
            printf("\n");
            cli_table_print(t, stdout);
        }
        cli_table_destroy(&t);
    }
    free(f);
    return rc ? rc : s_print_regional(s);
}

static int
s_print_today(const cli_t *c, const jp_worklist_t *w)
{
    const char *head[] = {_("due"), _("customer"), _("phone"), "VIN", _("details")};
    char day[11], scope[64], phone[32], det[256];
    int rc = 0;
    jp_format_date(w->today, day);
    s_scope_label(c, true, scope, sizeof scope);
    printf(dngettext(JP_TEXTDOMAIN, "work list, %s, %s: %zu item\n",
                     "work list, %s, %s: %zu items\n", w->n),
           scope, day, w->n);
    for (int k = 0; k < JP_DUE_KINDS && !rc; k++) {
        if (!w->count[k])
            continue;
        cli_table_t *t = cli_table_new(5, head);
        if (!t)
            return JP_ENOMEM;
        for (size_t i = 0; i < w->n && !rc; i++) {
            const jp_due_t *d = &w->items[i];
            if (d->kind != k)
                continue;
            jp_format_date(d->due_day, day);
            phone[0] = '\0';
            if (d->phone[0])
                jp_phone_mask(d->phone, phone, sizeof phone);
            jp_due_details_tr(d, det, sizeof det);
            const char *cells[] = {day, d->name, phone, d->vin, det};
            rc = cli_table_add(t, cells, false);
        }
        if (!rc) {
            printf("\n%s (%zu)\n", jp_tr(jp_due_title((jp_due_kind_t)k)), w->count[k]);
            cli_table_print(t, stdout);
        }
        cli_table_destroy(&t);
    }
    return rc;
}

/* ---- output ------------------------------------------------------------ */

static int
s_print_json(cli_t *c, json_t *j)
{
    char *text = j ? jp_json_text(j) : NULL;
    json_decref(j);
    if (!text)
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    puts(text);
    free(text);
    return CLI_OK;
}

/* report --scope: the server computes; its JSON or CSV is printed. */
static int
s_ask(cli_t *c, const s_opts_t *o)
{
    if (o->format_set && o->format == S_FMT_TEXT)
        return cli_usage_error(c, "--scope answers come as json or csv");
    const char *args[10];
    int n = 0;
    args[2 * n] = "scope", args[2 * n++ + 1] = o->scope;
    args[2 * n] = "format", args[2 * n++ + 1] = o->format == S_FMT_CSV ? "csv" : "json";
    args[2 * n] = "table", args[2 * n++ + 1] = o->table;
    if (o->asof)
        args[2 * n] = "as_of", args[2 * n++ + 1] = o->asof;
    if (o->filter)
        args[2 * n] = "filter", args[2 * n++ + 1] = o->filter;
    int rc = cli_open(c);
    if (rc)
        return rc;
    char *body = NULL;
    size_t len;
    if ((rc = cli_ask_server(c, "report", args, n, &body, &len)) == CLI_OK)
        fwrite(body, 1, len, stdout);
    free(body);
    return rc;
}

int
cmd_report(cli_t *c, int argc, char **argv)
{
    s_opts_t o;
    jp_err_t err;
    jp_filter_t *flt = NULL;
    jp_base_t *base = NULL;
    jp_scope_t *scope = NULL;
    jp_stats_t s = {0};
    char label[64];
    int rc = s_parse(c, argc, argv, true, &o);
    if (rc != CLI_CONTINUE)
        return rc;
    jp_err_clear(&err);
    if (o.filter && jp_filter_parse(o.filter, &flt, &err) != 0)
        return cli_usage_error(c, "%s", err.msg);
    if (o.scope) {
        jp_filter_destroy(&flt);
        return s_ask(c, &o);
    }
    if ((rc = s_load(c, &o, &base, &scope)))
        goto done;
    if (jp_stats_compute(base, scope, flt, &s) != 0) {
        rc = cli_fail(c, CLI_INTERNAL, "out of memory");
        goto done;
    }
    s_scope_label(c, false, label, sizeof label);
    if (o.format == S_FMT_JSON)
        rc = s_print_json(c, jp_stats_json(&s, label, scope, flt));
    else if (o.format == S_FMT_CSV)
        rc = jp_stats_csv(&s, o.table, stdout) ? cli_fail(c, CLI_INTERNAL, "write error")
                                               : CLI_OK;
    else if (s_print_report(c, &s, flt) != 0)
        rc = cli_fail(c, CLI_INTERNAL, "out of memory");
done:
    jp_stats_free(&s);
    free(scope);
    jp_base_destroy(&base);
    jp_filter_destroy(&flt);
    return rc;
}

int
cmd_today(cli_t *c, int argc, char **argv)
{
    s_opts_t o;
    jp_base_t *base = NULL;
    jp_scope_t *scope = NULL;
    jp_worklist_t w = {0};
    char label[64];
    int rc = s_parse(c, argc, argv, false, &o);
    if (rc != CLI_CONTINUE)
        return rc;
    if ((rc = s_load(c, &o, &base, &scope)))
        goto done;
    if (jp_worklist_compute(base, scope, &w) != 0) {
        rc = cli_fail(c, CLI_INTERNAL, "out of memory");
        goto done;
    }
    s_scope_label(c, false, label, sizeof label);
    if (o.format == S_FMT_JSON)
        rc = s_print_json(c, jp_worklist_json(&w, label));
    else if (o.format == S_FMT_CSV)
        rc = jp_worklist_csv(&w, stdout) ? cli_fail(c, CLI_INTERNAL, "write error")
                                         : CLI_OK;
    else if (s_print_today(c, &w) != 0)
        rc = cli_fail(c, CLI_INTERNAL, "out of memory");
done:
    jp_worklist_free(&w);
    free(scope);
    jp_base_destroy(&base);
    return rc;
}
