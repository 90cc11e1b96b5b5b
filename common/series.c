/*
 * series.c -- the figures month by month from one loaded base.
 *
 * The one idea: the base as of an earlier instant D' is a filter of the
 * base as of D, not a new load.  Events after D' go; a row's existence is
 * taken again over the events that stay, and rows that do not exist yet
 * go; every index (an event's row, a contact's complaint, a referral's
 * lead, complaint slots) follows the move through old -> new maps.  The
 * runs (each person's rows and events, each VIN's visits) keep the order
 * they had, because filtering keeps the relative order of what stays, so
 * they are rebuilt by counting, without a sort.  People can only split
 * when rows go (a later row may be what joined two earlier ones): a
 * person whose rows are all still there is one person, the others are
 * resolved again over what remains of them.  People are then numbered in
 * the order of their first row, as jp_people_resolve numbers them.
 * Interned VINs and districts stay as they are: a VIN or district that
 * nothing refers to any more counts for nothing.
 */
#include "series.h"

#include "report.h"
#include "stats_int.h"
#include "validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A copy of n elements of size, at least one element allocated. */
static void *
s_dup(const void *p, size_t n, size_t size)
{
    void *q = malloc((n ? n : 1) * size);
    if (q && n)
        memcpy(q, p, n * size);
    return q;
}

/* The events at or before D, and the old -> new event map. */
static int
s_keep_events(const jp_base_t *b, jp_base_t *n, uint32_t *emap)
{
    n->ev = malloc((b->nev ? b->nev : 1) * sizeof *n->ev);
    if (!n->ev)
        return JP_ENOMEM;
    for (size_t i = 0; i < b->nev; i++) {
        if (b->ev[i].at <= n->asof) {
            emap[i] = (uint32_t)n->nev;
            n->ev[n->nev++] = b->ev[i];
        } else {
            emap[i] = S_NONE;
        }
    }
    return 0;
}

/* The rows that exist by D (created, or an event of theirs, at or before
 * it), existence taken over the events that stay; the old -> new row map. */
static int
s_keep_rows(const jp_base_t *b, jp_base_t *n, uint32_t *rmap)
{
    int64_t *exist = malloc((b->nrows ? b->nrows : 1) * sizeof *exist);
    n->rows = malloc((b->nrows ? b->nrows : 1) * sizeof *n->rows);
    if (!exist || !n->rows) {
        free(exist);
        return JP_ENOMEM;
    }
    for (size_t i = 0; i < b->nrows; i++)
        exist[i] = b->rows[i].created;
    for (size_t i = 0; i < n->nev; i++) {
        const s_ev_t *e = &n->ev[i];
        if (e->row != S_NONE && e->at < exist[e->row])
            exist[e->row] = e->at;
    }
    for (size_t i = 0; i < b->nrows; i++) {
        if (exist[i] <= n->asof) {
            rmap[i] = (uint32_t)n->nrows;
            n->rows[n->nrows] = b->rows[i];
            n->rows[n->nrows++].exist = exist[i];
        } else {
            rmap[i] = S_NONE;
        }
    }
    free(exist);
    return 0;
}

/* Events' rows, references and complaint slots in the new numbering.  An
 * event kept is at or before D, so its row exists by D and is kept. */
static void
s_remap_events(jp_base_t *n, const uint32_t *emap, const uint32_t *rmap)
{
    for (size_t i = 0; i < n->nev; i++) {
        s_ev_t *e = &n->ev[i];
        if (e->row != S_NONE)
            e->row = rmap[e->row];
        if (e->kind == JP_K_COMPLAINT)
            e->aux = n->ncomplaints++;
        else if (e->kind == JP_K_COMPLAINT_CONTACT || e->kind == JP_K_COMPLAINT_RESOLVED)
            e->aux = e->aux == S_NONE ? S_NONE : emap[e->aux];
        else if (e->kind == JP_K_REFERRAL)
            e->aux = e->aux == S_NONE ? S_NONE : rmap[e->aux];
    }
}

static int
s_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The people of the rows kept: each old person's kept rows are one
 * person when all are kept, else resolved again among themselves; then
 * numbered by first row. */
static int
s_people(const jp_base_t *b, jp_base_t *n, const uint32_t *rmap)
{
    int rc = JP_ENOMEM;
    uint32_t *local = malloc((n->nrows ? n->nrows : 1) * sizeof *local);
    uint32_t *lbase = malloc(((size_t)b->npeople + 1) * sizeof *lbase);
    uint32_t *label = NULL, *sub = NULL, *subp = NULL;
    jp_person_key_t *keys = NULL;
    size_t nlabels = 0, cap = 0;
    if (!local || !lbase)
        goto done;
    for (uint32_t p = 0; p < b->npeople; p++) {
        uint32_t r0 = b->prow0[p], r1 = b->prow0[p + 1], kept = 0;
        lbase[p] = (uint32_t)nlabels;
        for (uint32_t k = r0; k < r1; k++)
            kept += rmap[b->prow[k]] != S_NONE;
        if (kept == r1 - r0) {
            for (uint32_t k = r0; k < r1; k++)
                local[rmap[b->prow[k]]] = 0;
            nlabels++;
            continue;
        }
        if (kept == 0)
            continue;
        if (kept > cap) {
            cap = kept * 2;
            free(sub), free(subp), free(keys);
            sub = malloc(cap * sizeof *sub);
            subp = malloc(cap * sizeof *subp);
            keys = malloc(cap * sizeof *keys);
            if (!sub || !subp || !keys)
                goto done;
        }
        /* The kept rows in row order, as jp_people_resolve is given them
         * at a load (its numbers here are only local). */
        uint32_t m = 0;
        for (uint32_t k = r0; k < r1; k++)
            if (rmap[b->prow[k]] != S_NONE)
                sub[m++] = rmap[b->prow[k]];
        qsort(sub, m, sizeof *sub, s_u32_cmp);
        for (uint32_t i = 0; i < m; i++) {
            const s_row_t *r = &n->rows[sub[i]];
            snprintf(keys[i].phone, sizeof keys[i].phone, "%s", n->pool + r->phone);
            snprintf(keys[i].idnum, sizeof keys[i].idnum, "%s", n->pool + r->idnum);
        }
        int64_t c = jp_people_resolve(keys, m, subp);
        if (c < 0)
            goto done;
        for (uint32_t i = 0; i < m; i++)
            local[sub[i]] = subp[i];
        nlabels += (size_t)c;
    }
    label = malloc((nlabels ? nlabels : 1) * sizeof *label);
    if (!label)
        goto done;
    memset(label, 0xff, (nlabels ? nlabels : 1) * sizeof *label);
    n->npeople = 0;
    for (size_t i = 0; i < n->nrows; i++) {
        uint32_t l = lbase[n->rows[i].person] + local[i];
        if (label[l] == S_NONE)
            label[l] = n->npeople++;
        n->rows[i].person = label[l];
    }
    rc = 0;
done:
    free(local);
    free(lbase);
    free(label);
    free(sub);
    free(subp);
    free(keys);
    return rc;
}

/* CSR runs of the new base from the old ones: walk each old run in order
 * and append what is kept to its new group, so each new run keeps the
 * old run's order.  map: old index -> new (S_NONE dropped); group_of:
 * the new group of a new index. */
typedef uint32_t (*s_group_fn)(const jp_base_t *n, uint32_t idx);

static int
s_runs(const uint32_t *start, const uint32_t *idx, uint32_t ngroups_old,
       const uint32_t *map, const jp_base_t *n, s_group_fn group_of, uint32_t ngroups,
       uint32_t **nstart, uint32_t **nidx)
{
    size_t total = start[ngroups_old];
    *nstart = calloc((size_t)ngroups + 2, sizeof **nstart);
    *nidx = malloc((total ? total : 1) * sizeof **nidx);
    if (!*nstart || !*nidx)
        return JP_ENOMEM;
    uint32_t *s = *nstart;
    for (size_t k = 0; k < total; k++)
        if (map[idx[k]] != S_NONE)
            s[group_of(n, map[idx[k]]) + 1]++;
    for (uint32_t g = 0; g < ngroups; g++)
        s[g + 1] += s[g];
    uint32_t *pos = s_dup(s, ngroups + 1, sizeof *pos);
    if (!pos)
        return JP_ENOMEM;
    for (size_t k = 0; k < total; k++) {
        uint32_t v = map[idx[k]];
        if (v != S_NONE)
            (*nidx)[pos[group_of(n, v)]++] = v;
    }
    free(pos);
    return 0;
}

static uint32_t
s_row_person(const jp_base_t *n, uint32_t row)
{
    return n->rows[row].person;
}

static uint32_t
s_ev_person(const jp_base_t *n, uint32_t ev)
{
    return n->rows[n->ev[ev].row].person;
}

static uint32_t
s_ev_vin(const jp_base_t *n, uint32_t ev)
{
    return n->ev[ev].vin;
}

int
jp_base_at(const jp_base_t *b, int64_t asof_ms, jp_base_t **out)
{
    *out = NULL;
    if (asof_ms > b->asof)
        return JP_EINVAL;
    jp_base_t *n = calloc(1, sizeof *n);
    uint32_t *emap = malloc((b->nev ? b->nev : 1) * sizeof *emap);
    uint32_t *rmap = malloc((b->nrows ? b->nrows : 1) * sizeof *rmap);
    int rc = JP_ENOMEM;
    if (!n || !emap || !rmap)
        goto done;
    n->asof = asof_ms;
    n->npool = n->cappool = b->npool;
    n->nvins = b->nvins;
    n->ndists = b->ndists;
    if (!(n->pool = s_dup(b->pool, b->npool, 1)) ||
        !(n->vins = s_dup(b->vins, b->nvins, sizeof *b->vins)) ||
        !(n->dists = s_dup(b->dists, b->ndists, sizeof *b->dists)))
        goto done;
    if ((rc = s_keep_events(b, n, emap)) || (rc = s_keep_rows(b, n, rmap)))
        goto done;
    n->capev = n->nev ? n->nev : 1;
    n->caprows = n->nrows ? n->nrows : 1;
    s_remap_events(n, emap, rmap);
    if ((rc = s_people(b, n, rmap)))
        goto done;
    rc = s_runs(b->prow0, b->prow, b->npeople, rmap, n, s_row_person, n->npeople,
                &n->prow0, &n->prow);
    if (!rc)
        rc = s_runs(b->pev0, b->pev, b->npeople, emap, n, s_ev_person, n->npeople,
                    &n->pev0, &n->pev);
    if (!rc)
        rc = s_runs(b->vsvc0, b->vsvc, b->nvins, emap, n, s_ev_vin, n->nvins, &n->vsvc0,
                    &n->vsvc);
done:
    free(emap);
    free(rmap);
    if (rc)
        jp_base_destroy(&n);
    *out = n;
    return rc;
}

/* ---- the series -------------------------------------------------------- */

static int
s_days_in_month(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

int
jp_series_compute(const jp_base_t *b, const jp_scope_t *scope, const jp_filter_t *filter,
                  int n, jp_series_t *out)
{
    memset(out, 0, sizeof *out);
    if (n < 1 || n > JP_SERIES_MAX)
        return JP_EINVAL;
    time_t t = (time_t)(b->asof / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return JP_EINVAL;
    int64_t ends[JP_SERIES_MAX];
    int last = (tm.tm_year + 1900) * 12 + tm.tm_mon; /* months since year 0 */
    for (int i = 0; i < n; i++) {
        int mi = last - (n - 1 - i), y = mi / 12, m = mi % 12 + 1;
        snprintf(out->month[i], sizeof out->month[i], "%04d-%02d", y % 10000, m);
        if (i == n - 1) {
            ends[i] = b->asof;
            continue;
        }
        char day[16];
        const char *why;
        snprintf(day, sizeof day, "%04d-%02d-%02d", y % 10000, m, s_days_in_month(y, m));
        if (jp_parse_asof(day, strlen(day), &ends[i], &why))
            return JP_EINVAL;
    }
    /* Newest first: each month's base derives from the next one's, which
     * is smaller than b. */
    jp_base_t *cur = NULL;
    int rc = 0;
    for (int i = n - 1; i >= 0 && !rc; i--) {
        jp_base_t *nb = NULL;
        const jp_base_t *from = cur ? cur : b;
        if (ends[i] < from->asof && (rc = jp_base_at(from, ends[i], &nb)))
            break;
        rc = jp_stats_compute(nb ? nb : from, scope, filter, &out->st[i]);
        if (!rc) {
            free(out->st[i].districts); /* the regional table is the report's */
            out->st[i].districts = NULL;
            out->st[i].ndistricts = 0;
            out->n++;
        }
        if (nb) {
            jp_base_destroy(&cur);
            cur = nb;
        }
    }
    jp_base_destroy(&cur);
    if (rc) {
        jp_series_free(out);
        return rc;
    }
    out->n = n;
    return 0;
}

void
jp_series_free(jp_series_t *s)
{
    for (int i = 0; i < JP_SERIES_MAX; i++)
        jp_stats_free(&s->st[i]);
    s->n = 0;
}

json_t *
jp_series_json(const jp_series_t *s, const char *scope)
{
    static const char *const types[] = {"", "count", "rate", "fixed", "money"};
    char when[48];
    json_t *root = NULL, *months = NULL, *asof = NULL, *figs = NULL;
    jp_figure_t *f[JP_SERIES_MAX] = {0};
    size_t nf = s->n ? jp_stats_figures(&s->st[0], NULL, 0) : 0;
    for (int i = 0; i < s->n; i++) {
        if (!(f[i] = calloc(nf ? nf : 1, sizeof *f[i])))
            goto fail;
        jp_stats_figures(&s->st[i], f[i], nf);
    }
    jp_format_iso(s->n ? s->st[s->n - 1].asof : 0, when, sizeof when);
    root = json_pack("{ss ss ss}", "schema", "jipan.series/1", "scope",
                     scope ? scope : "", "as_of", when);
    if (!root || json_object_set_new(root, "months", months = json_array()) ||
        json_object_set_new(root, "as_of_ms", asof = json_array()) ||
        json_object_set_new(root, "figures", figs = json_array()))
        goto fail;
    for (int i = 0; i < s->n; i++) {
        if (json_array_append_new(months, json_string(s->month[i])) ||
            json_array_append_new(asof, json_integer(s->st[i].asof)))
            goto fail;
    }
    for (size_t k = 0; k < nf; k++) {
        json_t *vals = json_array();
        json_t *one =
            json_pack("{ss ss ss so}", "section", f[0][k].section, "name", f[0][k].name,
                      "type", types[f[0][k].type], "values", vals);
        if (!one || json_array_append_new(figs, one))
            goto fail;
        for (int i = 0; i < s->n; i++)
            if (json_array_append_new(vals, jp_figure_json(&f[i][k])))
                goto fail;
    }
    for (int i = 0; i < s->n; i++)
        free(f[i]);
    return root;
fail:
    for (int i = 0; i < s->n; i++)
        free(f[i]);
    json_decref(root);
    return NULL;
}
