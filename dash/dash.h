/*
 * dash.h -- jipan-web, the group's dashboard: an analyst's enrolled key,
 * one kept CURVE session to the group server (proto/ask.h), and pages
 * served to browsers through web/ (sign-in, sessions, CSRF, escaping).
 *
 * The dashboard has no way into the figures but the protocol: every page
 * asks the server (QUERY report, series, at_risk, stores) with the one
 * key it holds, so what a page may show is what the server lets that key
 * read (PROTOCOL.md: group and auditor every scope, a region key its
 * region and its stores, a store key itself).  A scope the key may not
 * read is the server's refusal, shown as 403; nothing is kept from one
 * key's answers for another.
 *
 * Three parts, each a file:
 *   ask.c     the session to the server (opened at start, opened again
 *             once when a question finds it dead), the answers as JSON,
 *             the group's stores and the key's own scope, the series
 *             kept a few minutes per scope
 *   tables.c  the server's JSON as the dashboard's tables (table.h): the
 *             figures with numerator, denominator and rate, the regional
 *             table, the months of a series, the churn warning list
 *   pages.c   the pages, the downloads (CSV, XLSX), the static files
 *
 * The pages run on web/'s one thread, one at a time: the session is used
 * by one request at a time.
 */
#ifndef DASH_H
#define DASH_H

#include "ask.h"
#include "err.h"
#include "table.h"
#include "web.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define DASH_STORES_MAX 4096 /* the group's stores the dashboard names */
#define DASH_SCOPE_MAX 96    /* "group", "region:<name>", "store:<n>" */

/* One of the group's stores (QUERY stores). */
typedef struct {
    uint16_t store;  /* number */
    char code[32];   /* "HZ01" */
    char name[128];  /* "惠州1号店" */
    char region[64]; /* "惠州" */
} dash_store_t;

typedef struct {
    jp_ask_t ask;         /* server, its pinned key, the analyst's key */
    const char *chart_js; /* Chart.js (its bytes), NULL: pages without charts */
} dash_conf_t;

typedef struct dash dash_t;

/* --- ask.c --- */

/* Connect, learn the group's stores and the key's own scope.  The
 * configuration is borrowed for the dashboard's life.  JP_EIO when the
 * server does not answer; JP_EPERM when it refuses the key. */
int dash_new(const dash_conf_t *conf, dash_t **out, jp_err_t *err);
void dash_destroy(dash_t **self_p);

/* The key's own scope ("group", "region:惠州", "store:3") and what its
 * role reads: true for the group's scope (a group or auditor key). */
const char *dash_own_scope(const dash_t *d);
bool dash_reads_group(const dash_t *d);
/* Chart.js as configured, NULL without. */
const char *dash_chart_js(const dash_t *d);

/* The group's stores, in store order. */
size_t dash_stores(const dash_t *d, const dash_store_t **out);
const dash_store_t *dash_store_get(const dash_t *d, uint16_t store);

/* Ask what with args (n pairs) and parse the answer: *out is the JSON
 * (caller owns).  The server's refusals: JP_EPERM (forbidden) and
 * JP_EINVAL (a bad scope, filter ...) with the server's words in err;
 * JP_EIO when it does not answer (the session is opened again once). */
int dash_ask(dash_t *d, const char *what, const char *const *args, int n, json_t **out,
             jp_err_t *err);

/* The 24-month series of scope (QUERY series), kept for 5 minutes per
 * scope (32 scopes; then the oldest goes): the charts, the trend table
 * and the downloads of a scope ask the server once in that time.
 * Borrowed until the next question.  Errors as dash_ask. */
int dash_series(dash_t *d, const char *scope, const json_t **out, jp_err_t *err);

/* --- tables.c --- */

/* The figures of a report (jipan.stats/1) in report order: section,
 * figure, numerator, denominator, value (a rate's percentage, a count, an
 * index, yuan); row keys "section.name".  Words in the catalog's language
 * of the calling thread (jp_i18n_enter). */
dash_table_t *dash_figures_table(const json_t *report, bool en);

/* The regional concentration table: district, quality / potential /
 * general owners now and a year before, and the change of each; a total
 * row last. */
dash_table_t *dash_regional_table(const json_t *report, bool en);

/* A series (jipan.series/1) as a table: a row per figure (keys as the
 * figures table; a rate's percentage), a column per month.  keys, when
 * not NULL, is a NULL-terminated list of the figures to keep, in that
 * order. */
dash_table_t *dash_series_table(const json_t *series, const char *const *keys, bool en);

/* The churn warning list (jipan.at_risk/1): store, customer, phone
 * (masked by the server), first sale, last purchase, last visit; and the
 * rows of a further part of it (QUERY at_risk's offset) appended. */
dash_table_t *dash_at_risk_table(const json_t *list, bool en);
int dash_at_risk_rows(dash_table_t *t, const json_t *list);

/* The words of figure key ("retention.churn"), translated; NULL if the
 * dashboard does not know it. */
const char *dash_figure_label(const char *key);

/* A figure's JSON value in a report: section, then the dotted name;
 * NULL when absent (borrowed). */
const json_t *dash_report_value(const json_t *report, const char *section,
                                const char *name);

/* --- pages.c --- */

/* The page handler for web.h (app is the dash_t) and the static files
 * (style, script, Chart.js when configured). */
int dash_page(void *app, jp_web_req_t *req, jp_web_answer_t *ans);
const struct jp_web_static *dash_statics(const dash_t *d);

#endif
