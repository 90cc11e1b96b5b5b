/*
 * report.h -- the statistics and the work list as JSON and CSV (the store
 * and the server render alike), and the one list of figures every format
 * is built from.
 *
 * docs/REPORTS.md documents the JSON schema ("jipan.stats/1",
 * "jipan.today/1") and the CSV tables.
 */
#ifndef JP_REPORT_H
#define JP_REPORT_H

#include "stats.h"

#include <jansson.h>
#include <stdio.h>

typedef enum {
    JP_FIG_COUNT = 1, /* an integer count */
    JP_FIG_RATE,      /* numerator, denominator, percentage */
    JP_FIG_FIXED,     /* a value with two decimals, or n/a */
    JP_FIG_MONEY,     /* fen */
} jp_fig_type_t;

/* One figure of the report. */
typedef struct {
    const char *section; /* "base", "loyalty", ... (JSON top-level key) */
    const char *name;    /* key within the section; '.' nests ("satisfaction.5") */
    const char *label;   /* words for the text report */
    uint8_t type;        /* jp_fig_type_t */
    int64_t count;       /* COUNT; MONEY in fen */
    jp_rate_t rate;      /* RATE */
    jp_fixed_t fixed;    /* FIXED */
} jp_figure_t;

/* The figures of s in report order (the regional table apart).  Writes at
 * most cap into out; returns how many there are. */
size_t jp_stats_figures(const jp_stats_t *s, jp_figure_t *out, size_t cap);

/* "59.81" from 5981 hundredths; "-0.50"; "n/a" when na. */
void jp_format_hundredths(int64_t v, bool na, char *out, size_t cap);

/* The ISO 8601 local instant with offset: "2026-06-30T23:59:59.999+08:00". */
void jp_format_iso(int64_t ms, char *out, size_t cap);

/* The report as a JSON object (schema jipan.stats/1).  scope is a label
 * for people ("store 7", "group"); stores lists the scope's stores (NULL:
 * left out); filter may be NULL.  Caller owns the reference; NULL when out
 * of memory. */
json_t *jp_stats_json(const jp_stats_t *s, const char *scope, const jp_scope_t *stores,
                      const jp_filter_t *filter);

/* One figure's value as the report's JSON has it: an integer (count,
 * money in fen), a number with two decimals or null (fixed), or
 * {"num", "den", "pct"} (rate).  Caller owns; NULL when out of memory. */
json_t *jp_figure_json(const jp_figure_t *f);

/* Serialise as the tools print it: 2-space indent, reals with up to 15
 * significant digits.  Caller frees; NULL when out of memory. */
char *jp_json_text(const json_t *j);

/* A CSV table of the report: "figures" (section, figure, numerator,
 * denominator, value) or "regional" (district and the six counts).
 * JP_EINVAL for another name, JP_EIO on a write error. */
int jp_stats_csv(const jp_stats_t *s, const char *table, FILE *out);

/* The work list as JSON (schema jipan.today/1) and CSV; phones masked. */
json_t *jp_worklist_json(const jp_worklist_t *w, const char *scope);
int jp_worklist_csv(const jp_worklist_t *w, FILE *out);

/* A store's code ("HZ01") for the at-risk list, or NULL when unknown. */
typedef const char *(*jp_store_code_fn)(void *arg, uint16_t store);

/* The churn warning list of a scope as JSON (schema jipan.at_risk/1) and
 * CSV (store, store_code, customer, name, phone, first_sale,
 * last_purchase, last_visit); phones masked.  code may be NULL (every
 * store_code null / empty).  JSON: caller owns; NULL when out of memory.
 * CSV: JP_EIO on a write error. */
json_t *jp_at_risk_json(const jp_at_risk_list_t *l, const char *scope,
                        jp_store_code_fn code, void *arg);
int jp_at_risk_csv(const jp_at_risk_list_t *l, jp_store_code_fn code, void *arg,
                   FILE *out);

/* The text report's title of a section ("base" -> "size of the base") and
 * of a work-list kind, as msgids: jp_tr() (i18n.h) gives the reader's. */
const char *jp_section_title(const char *section);
const char *jp_due_title(jp_due_kind_t k);

/* Words for a work-list line's details ("grade H, last contact ..."), as
 * JSON and CSV carry them; _tr in the reader's language (i18n.h). */
void jp_due_details(const jp_due_t *d, char *out, size_t cap);
void jp_due_details_tr(const jp_due_t *d, char *out, size_t cap);

#endif
