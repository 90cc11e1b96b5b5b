/*
 * series.h -- the figures month by month (the dashboard's trends): every
 * figure of the report at the end of each of the last N months, from one
 * loaded base.
 *
 * A base as of D holds every sale and event at or before D and every
 * customer row that exists by D (stats.h).  The base as of an earlier
 * instant D' holds a subset of it: the events at or before D', the rows
 * that exist by D', the people those rows make.  jp_base_at derives it in
 * memory, in time linear in the base (the runs keep their order; only the
 * people whose rows are not all there yet are resolved again), instead
 * of a second pass over the records: a point of a series costs what
 * jp_stats_compute costs, not what jp_base_load does.  The derived base
 * gives the same figures as jp_base_load at D' over the same records (a
 * test compares every figure of every month with a report as of that
 * month's end).
 *
 * Months are civil months in the group's time zone (jp_tz_set): a month's
 * point is as of its last day's last millisecond, as a report --as-of
 * YYYY-MM-DD of that day; the last point is D itself (the month so far).
 *
 * The JSON schema "jipan.series/1" is documented in docs/REPORTS.md.
 */
#ifndef JP_SERIES_H
#define JP_SERIES_H

#include "stats.h"

#include <jansson.h>

#define JP_SERIES_MAX 36 /* months in one series */

/* The base as of asof_ms, derived from b (asof_ms <= jp_base_asof(b)).
 * Caller owns *out (jp_base_destroy).  JP_EINVAL when asof_ms is after
 * b's instant; JP_ENOMEM. */
int jp_base_at(const jp_base_t *b, int64_t asof_ms, jp_base_t **out);

/* Each month's figures. */
typedef struct {
    int n;                         /* months */
    char month[JP_SERIES_MAX][16]; /* "2026-06" */
    jp_stats_t st[JP_SERIES_MAX];  /* [0] the oldest; districts left out */
} jp_series_t;

/* The figures of scope at the ends of the n months (1..JP_SERIES_MAX)
 * that end with the month of jp_base_asof(b), the last one as of b's
 * instant.  filter may be NULL.  Returns 0, JP_EINVAL for a bad n,
 * JP_ENOMEM. */
int jp_series_compute(const jp_base_t *b, const jp_scope_t *scope,
                      const jp_filter_t *filter, int n, jp_series_t *out);
void jp_series_free(jp_series_t *s);

/* The series as JSON (schema jipan.series/1): scope is a label for
 * people, as jp_stats_json's.  Caller owns; NULL when out of memory. */
json_t *jp_series_json(const jp_series_t *s, const char *scope);

#endif
