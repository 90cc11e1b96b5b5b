/*
 * reports.c -- the server's reports: who may read which scope, the bases
 * the figures come from, and the reports computed ahead.
 *
 * Three threads meet here (serve.c has the picture):
 *   the reporter  computes a report or a churn warning list from a held
 *                 base (srv_report); it alone touches base
 *   the refresher reloads the live base after merges, at most once a
 *                 second, and computes the group's and every region's
 *                 report ahead with it (s_refresher)
 *   the main      answers a report as of now from those at once
 *                 (srv_reports_ahead); the merger says when the group log
 *                 grew (srv_reports_merged)
 * Everything they share is under mu.
 */
#include "server.h"

#include "msg.h"
#include "report.h"
#include "series.h"
#include "stats.h"
#include "validate.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define S_LIVE_MAX_AGE_MS 60000 /* a live base older than this is reloaded */
#define S_BACKGROUND_NICE 10    /* the refresher's niceness: it yields */
#define S_MAX_CODES 4096        /* store codes an at-risk list names */

/* A report computed ahead, with the live base: the group's and each
 * region's, as JSON (what most queries as of now ask for). */
#define S_MAX_VIEWS 32
typedef struct {
    char scope[JP_MSG_MAX_TEXT + 1]; /* "group", "region:<name>" */
    char *json;                      /* the ANSWER body */
} s_view_t;

struct srv_reports {
    jp_db_t *db;
    /* The base the reports compute from (reporter thread only).  A
     * report as of a given instant loads one and keeps it while nothing
     * is merged; a report as of now takes the live base, which the
     * refresher thread reloads after merges (s_refresher), so that no
     * report waits for a load while stores sync. */
    jp_base_t *base;
    int64_t base_asof;
    uint64_t base_pos; /* group log length when it was loaded */
    bool base_live;    /* loaded by the refresher, as of its load */
    pthread_t refresher;
    bool refresher_on;
    pthread_mutex_t mu; /* guards the fields below */
    pthread_cond_t cv;
    bool stop;         /* the refresher ends */
    bool live_wanted;  /* a report as of now was asked: keep a live base */
    uint64_t want_pos; /* the group log's length after the last merge */
    bool refresh;      /* reload even if nothing was merged (the base aged) */
    jp_base_t *next;   /* a fresher live base, for the reporter to take */
    int64_t next_asof;
    uint64_t next_pos;
    s_view_t views[S_MAX_VIEWS]; /* computed ahead, with the last live base */
    int nviews;
    int64_t views_asof;
};

/* The value of QUERY argument name, NUL-terminated into out; false if absent. */
static bool
s_arg(const jp_msg_t *m, const char *name, char *out, size_t cap)
{
    for (uint32_t i = 0; i < m->query.args.n; i++) {
        const jp_msg_str_t *k = &m->query.args.v[i].key, *v = &m->query.args.v[i].val;
        if (k->n == strlen(name) && memcmp(k->p, name, k->n) == 0 && v->n < cap) {
            memcpy(out, v->p, v->n);
            out[v->n] = '\0';
            return true;
        }
    }
    return false;
}

typedef struct {
    const char *region; /* NULL: every store */
    jp_scope_t *scope;
    int n;
} s_region_t;

static int
s_region_store(void *arg, const srv_peer_t *p)
{
    s_region_t *r = arg;
    if (!r->region || strcmp(p->region, r->region) == 0) {
        jp_scope_add(r->scope, p->store);
        r->n++;
    }
    return 0;
}

/* Resolve scope text to stores, and check the principal may read it
 * (PROTOCOL.md: group and auditor everything, region its region, store
 * its store).  listed, when not NULL, gets the stores an answer lists:
 * the scope's, and for the group the enrolled stores (the group's scope
 * is every store number, so that nothing of the base is left out).
 * Returns 0 or a protocol error code, with why. */
static int
s_scope(jp_txn_t *txn, const srv_key_t *k, const char *text, jp_scope_t *out,
        jp_scope_t *listed, char *label, size_t cap, const char **why)
{
    jp_scope_clear(out);
    if (!strcmp(text, "group")) {
        if (k->role != SRV_ROLE_GROUP && k->role != SRV_ROLE_AUDITOR)
            return *why = "only group and auditor keys read the group's figures",
                   JP_PERR_FORBIDDEN;
        jp_scope_all(out);
        if (listed) {
            s_region_t all = {NULL, listed, 0};
            jp_scope_clear(listed);
            srv_peers_each(txn, s_region_store, &all);
        }
        snprintf(label, cap, "group");
        return 0;
    }
    if (!strncmp(text, "region:", 7) && text[7]) {
        const char *region = text + 7;
        if (k->role == SRV_ROLE_STORE ||
            (k->role == SRV_ROLE_REGION && strcmp(k->region, region) != 0))
            return *why = "this key may not read that region's figures",
                   JP_PERR_FORBIDDEN;
        s_region_t r = {region, out, 0};
        srv_peers_each(txn, s_region_store, &r);
        if (r.n == 0)
            return *why = "no store of the group is in that region", JP_PERR_MALFORMED;
        if (listed)
            memcpy(listed, out, sizeof *out);
        snprintf(label, cap, "region %s", region);
        return 0;
    }
    int64_t n;
    const char *bad;
    if (!strncmp(text, "store:", 6) &&
        jp_parse_int(text + 6, strlen(text + 6), 1, 65535, &n, &bad) == 0) {
        srv_peer_t p;
        if (srv_peer_get(txn, (uint16_t)n, &p) != 0)
            return *why = "no such store in the group", JP_PERR_MALFORMED;
        if ((k->role == SRV_ROLE_STORE && k->store != n) ||
            (k->role == SRV_ROLE_REGION && strcmp(k->region, p.region) != 0))
            return *why = "this key may not read that store's figures", JP_PERR_FORBIDDEN;
        jp_scope_add(out, (uint16_t)n);
        if (listed)
            memcpy(listed, out, sizeof *out);
        snprintf(label, cap, "store %u %s", p.store, p.code);
        return 0;
    }
    return *why = "scope must be group, region:NAME or store:N", JP_PERR_MALFORMED;
}

/* The principal's own scope, when a query names none. */
static void
s_default_scope(const srv_key_t *k, char *out, size_t cap)
{
    if (k->role == SRV_ROLE_STORE)
        snprintf(out, cap, "store:%u", k->store);
    else if (k->role == SRV_ROLE_REGION)
        snprintf(out, cap, "region:%s", k->region);
    else
        snprintf(out, cap, "group");
}

static void
s_views_free(s_view_t *v, int *n)
{
    for (int i = 0; i < *n; i++)
        free(v[i].json);
    *n = 0;
}

typedef struct {
    char names[S_MAX_VIEWS][64]; /* distinct regions */
    int n;
} s_regions_t;

static int
s_region_name(void *arg, const srv_peer_t *p)
{
    s_regions_t *r = arg;
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->names[i], p->region))
            return 0;
    if (r->n < S_MAX_VIEWS - 1)
        snprintf(r->names[r->n++], sizeof r->names[0], "%s", p->region);
    return 0;
}

/* The group's and every region's report from base b, as JSON, into
 * views (the refresher's thread: nothing here is shared). */
static int
s_views_compute(jp_txn_t *txn, const jp_base_t *b, s_view_t *views, int *nviews)
{
    static __thread jp_scope_t scope, listed; /* 8 KiB each */
    s_regions_t *r = calloc(1, sizeof *r);
    if (!r)
        return JP_ENOMEM;
    int rc = srv_peers_each(txn, s_region_name, r);
    /* The scopes and labels as s_report resolves them, for a key that
     * may read everything: the answers are the ones it would compute. */
    const srv_key_t all = {.role = SRV_ROLE_GROUP};
    for (int i = -1; i < r->n && rc == 0; i++) {
        char label[JP_MSG_MAX_TEXT + 64];
        const char *why;
        s_view_t *v = &views[*nviews];
        if (i < 0)
            snprintf(v->scope, sizeof v->scope, "group");
        else
            snprintf(v->scope, sizeof v->scope, "region:%s", r->names[i]);
        if (s_scope(txn, &all, v->scope, &scope, &listed, label, sizeof label, &why))
            continue; /* cannot happen: the region has a store */
        jp_stats_t st;
        if ((rc = jp_stats_compute(b, &scope, NULL, &st)))
            break;
        json_t *j = jp_stats_json(&st, label, &listed, NULL);
        v->json = j ? jp_json_text(j) : NULL;
        json_decref(j);
        jp_stats_free(&st);
        if (!v->json)
            rc = JP_ENOMEM;
        else
            (*nviews)++;
    }
    free(r);
    return rc;
}

/* The refresher: after merges (at most once a second), load the base as
 * of now from a fresh read transaction and hand it to the main thread.
 * LMDB read transactions run in any thread (MDB_NOTLS); the base is
 * touched by the reporter only once handed over. */
static void *
s_refresher(void *arg)
{
    srv_reports_t *r = arg;
    uint64_t loaded = 0; /* group log length of the last load */
    /* Bulk work behind the scenes: it yields the CPU to the main thread
     * (handshakes, answers) and the merger when the machine is busy. */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), S_BACKGROUND_NICE);
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        if (r->want_pos == loaded && !r->refresh) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        r->refresh = false;
        pthread_mutex_unlock(&r->mu);
        jp_txn_t *txn = NULL;
        jp_base_t *b = NULL;
        uint64_t pos = 0;
        int64_t asof = (int64_t)jp_now_ms();
        jp_err_t err;
        uint64_t t0 = jp_now_ms();
        s_view_t views[S_MAX_VIEWS];
        int nviews = 0;
        int rc = jp_db_begin(r->db, false, &txn, &err);
        if (!rc && !(rc = jp_txn_glog_len(txn, &pos)))
            rc = jp_base_load(txn, asof, &b, &err);
        if (!rc && (rc = s_views_compute(txn, b, views, &nviews)))
            s_views_free(views, &nviews);
        jp_txn_abort(&txn);
        if (rc)
            srv_log("refreshing the live base failed: %s", jp_strerror(rc));
        uint64_t took = jp_now_ms() - t0;
        pthread_mutex_lock(&r->mu);
        loaded = pos;
        if (!rc) {
            jp_base_destroy(&r->next);
            r->next = b;
            r->next_asof = asof;
            r->next_pos = pos;
            /* The reports computed ahead are answered from the main
             * thread at once (s_ahead); the base waits for the reporter. */
            s_views_free(r->views, &r->nviews);
            memcpy(r->views, views, sizeof views[0] * (size_t)nviews);
            r->nviews = nviews;
            r->views_asof = asof;
        }
        /* A second at least between loads: merges come in bursts. */
        if (!r->stop && took < 1000) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&r->cv, &r->mu, &until);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Tell the refresher the group log grew to pos (merger thread).  Until
 * someone asks for a report as of now, there is nothing to keep fresh. */
void
srv_reports_merged(srv_reports_t *r, uint64_t pos)
{
    if (!r->refresher_on)
        return;
    pthread_mutex_lock(&r->mu);
    if (r->live_wanted) {
        r->want_pos = pos;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
}

/* Ask the refresher for a fresh live base even if nothing was merged. */
static void
s_refresh(srv_reports_t *r)
{
    pthread_mutex_lock(&r->mu);
    r->live_wanted = true;
    r->refresh = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* The base for a report as of asof (live: as of now, whatever is fresh);
 * loads synchronously when nothing held fits (reporter thread). */
static int
s_base_for(srv_reports_t *r, jp_txn_t *txn, bool live, int64_t *asof, bool *held,
           jp_err_t *err)
{
    uint64_t pos = 0;
    int rc = jp_txn_glog_len(txn, &pos);
    if (rc)
        return rc;
    if (live && r->refresher_on) {
        pthread_mutex_lock(&r->mu);
        if (r->next) {
            jp_base_destroy(&r->base);
            r->base = r->next;
            r->base_asof = r->next_asof;
            r->base_pos = r->next_pos;
            r->base_live = true;
            r->next = NULL;
        }
        pthread_mutex_unlock(&r->mu);
    }
    *held =
        r->base && (live ? r->base_live : r->base_asof == *asof && r->base_pos == pos);
    if (*held && live && r->refresher_on &&
        (int64_t)jp_now_ms() - r->base_asof > S_LIVE_MAX_AGE_MS) {
        /* Nothing merged, but "now" moved on: windows end later.  This
         * answer still comes from the held base (its as_of says so); the
         * next ones from a fresh one. */
        s_refresh(r);
    }
    if (*held) {
        *asof = r->base_asof; /* live: the instant the base was loaded */
        return 0;
    }
    jp_base_destroy(&r->base);
    rc = jp_base_load(txn, *asof, &r->base, err);
    r->base_asof = *asof;
    r->base_pos = pos;
    r->base_live = live;
    if (live && r->refresher_on)
        s_refresh(r); /* kept fresh from now on, the group's and regions'
                         reports computed ahead with each load */
    return rc;
}

/* A report query's arguments, defaults filled in. */
typedef struct {
    char scope[JP_MSG_MAX_TEXT + 1], asof[JP_MSG_MAX_TEXT + 1];
    char filter[JP_MSG_MAX_TEXT + 1], format[16], table[16], months[16];
    char offset[24], limit[24];
} s_rargs_t;

static void
s_rargs(const jp_msg_t *m, const srv_key_t *k, s_rargs_t *a)
{
    *a = (s_rargs_t){.format = "json", .table = "figures"};
    if (!s_arg(m, "scope", a->scope, sizeof a->scope))
        s_default_scope(k, a->scope, sizeof a->scope);
    s_arg(m, "as_of", a->asof, sizeof a->asof);
    s_arg(m, "filter", a->filter, sizeof a->filter);
    s_arg(m, "format", a->format, sizeof a->format);
    s_arg(m, "table", a->table, sizeof a->table);
    s_arg(m, "months", a->months, sizeof a->months);
    s_arg(m, "offset", a->offset, sizeof a->offset);
    s_arg(m, "limit", a->limit, sizeof a->limit);
}

/* Whether the QUERY is `what`. */
static bool
s_is(const jp_msg_t *m, const char *what)
{
    return m->query.what.n == strlen(what) &&
           !memcmp(m->query.what.p, what, m->query.what.n);
}

/* A report as of now that the refresher computed ahead (the group's or a
 * region's, JSON, no filter): answered by the main thread at once, never
 * behind a merge or another report.  False if the query is not one of
 * those; the reporter answers it then, errors included. */
bool
srv_reports_ahead(srv_reports_t *r, srv_client_t *c, const jp_msg_t *m, jp_txn_t *txn)
{
    static jp_scope_t scope; /* 8 KiB, main thread only */
    s_rargs_t a;
    char label[JP_MSG_MAX_TEXT + 64];
    const char *why;
    if (!s_is(m, "report"))
        return false;
    s_rargs(m, c->k, &a);
    if (a.asof[0] || a.filter[0] || strcmp(a.format, "json") != 0 ||
        s_scope(txn, c->k, a.scope, &scope, NULL, label, sizeof label, &why) != 0)
        return false;
    uint64_t t0 = jp_now_ms();
    bool found = false;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->nviews && !found; i++) {
        if (strcmp(r->views[i].scope, a.scope) != 0)
            continue;
        srv_answer(c, m->query.id, r->views[i].json, strlen(r->views[i].json));
        found = true;
    }
    if (found && (int64_t)jp_now_ms() - r->views_asof > S_LIVE_MAX_AGE_MS) {
        r->refresh = true; /* "now" moved on: the next answers from a fresh load */
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (found) {
        char who[96];
        srv_principal(c->k, who, sizeof who);
        srv_log("%s: report %s in %llu ms (computed ahead)", who, label,
                (unsigned long long)(jp_now_ms() - t0));
    }
    return found;
}

/* The group's store codes, by store number (peers come in store order). */
typedef struct {
    uint16_t store[S_MAX_CODES]; /* enrolled stores, ascending */
    char code[S_MAX_CODES][32];  /* their codes */
    int n;
} s_codes_t;

static int
s_code_add(void *arg, const srv_peer_t *p)
{
    s_codes_t *c = arg;
    if (c->n < S_MAX_CODES && (c->n == 0 || p->store > c->store[c->n - 1])) {
        c->store[c->n] = p->store;
        snprintf(c->code[c->n++], sizeof c->code[0], "%s", p->code);
    }
    return 0;
}

static const char *
s_code_of(void *arg, uint16_t store)
{
    const s_codes_t *c = arg;
    int lo = 0, hi = c->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (c->store[mid] == store)
            return c->code[mid];
        if (c->store[mid] < store)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The churn warning list of a scope from the held base (reporter
 * thread), each store named by its code: the body, or NULL when out of
 * memory. */
static char *
s_at_risk_body(const srv_reports_t *r, const jp_scope_t *scope, s_codes_t *codes,
               const char *label, const char *format, int64_t offset, int64_t limit,
               size_t *n, int *rc)
{
    jp_at_risk_list_t l, part;
    char *body = NULL;
    *n = 0;
    if ((*rc = jp_at_risk_compute(r->base, scope, &l)))
        return NULL;
    /* The part asked for (offset, limit); count stays the whole list's. */
    part = l;
    part.items += (size_t)offset < l.n ? (size_t)offset : l.n;
    part.n = l.n - (size_t)(part.items - l.items);
    if (limit >= 0 && (size_t)limit < part.n)
        part.n = (size_t)limit;
    if (!strcmp(format, "json")) {
        json_t *j = jp_at_risk_json(&part, label, s_code_of, codes);
        if (j && json_object_set_new(j, "count", json_integer((json_int_t)l.n)))
            json_decref(j), j = NULL;
        body = j ? jp_json_text(j) : NULL;
        json_decref(j);
        *n = body ? strlen(body) : 0;
    } else {
        FILE *f = open_memstream(&body, n);
        if (f) {
            jp_at_risk_csv(&part, s_code_of, codes, f);
            fclose(f);
        }
    }
    jp_at_risk_free(&l);
    *rc = body ? 0 : JP_ENOMEM;
    return body;
}

/* The figures month by month from the held base (reporter thread): the
 * body, or NULL with *rc. */
static char *
s_series_body(const srv_reports_t *r, const jp_scope_t *scope, const jp_filter_t *filter,
              int months, const char *label, size_t *n, int *rc)
{
    static jp_series_t s; /* 36 reports' figures, reporter thread only */
    char *body = NULL;
    *n = 0;
    if ((*rc = jp_series_compute(r->base, scope, filter, months, &s)))
        return NULL;
    json_t *j = jp_series_json(&s, label);
    body = j ? jp_json_text(j) : NULL;
    json_decref(j);
    jp_series_free(&s);
    *n = body ? strlen(body) : 0;
    *rc = body ? 0 : JP_ENOMEM;
    return body;
}

/* A report, a series or a churn warning list computed from a base, on the
 * reporter thread. */
void
srv_report(srv_reports_t *r, srv_client_t *c, const jp_msg_t *m)
{
    const uint64_t qid = m->query.id;
    static jp_scope_t scope, listed; /* 8 KiB each, reporter thread only */
    static s_codes_t codes;          /* 136 KiB, reporter thread only */
    const bool at_risk = s_is(m, "at_risk"), series = s_is(m, "series");
    s_rargs_t a;
    char label[JP_MSG_MAX_TEXT + 64];
    const char *why;
    s_rargs(m, c->k, &a);
    int64_t asof = (int64_t)jp_now_ms();
    if (a.asof[0] && jp_parse_asof(a.asof, strlen(a.asof), &asof, &why)) {
        srv_error(c, JP_PERR_MALFORMED, qid, "as_of: %s", why);
        return;
    }
    if (strcmp(a.format, "json") && strcmp(a.format, "csv")) {
        srv_error(c, JP_PERR_MALFORMED, qid, "format must be json or csv");
        return;
    }
    int64_t months = 24, offset = 0, limit = -1;
    if (a.offset[0] &&
        jp_parse_int(a.offset, strlen(a.offset), 0, INT32_MAX, &offset, &why)) {
        srv_error(c, JP_PERR_MALFORMED, qid, "offset: %s", why);
        return;
    }
    if (a.limit[0] &&
        jp_parse_int(a.limit, strlen(a.limit), 1, INT32_MAX, &limit, &why)) {
        srv_error(c, JP_PERR_MALFORMED, qid, "limit: %s", why);
        return;
    }
    if (series && a.months[0] &&
        jp_parse_int(a.months, strlen(a.months), 1, JP_SERIES_MAX, &months, &why)) {
        srv_error(c, JP_PERR_MALFORMED, qid, "months: %s", why);
        return;
    }
    jp_err_t err = {0};
    jp_filter_t *filter = NULL;
    if (a.filter[0] && jp_filter_parse(a.filter, &filter, &err)) {
        srv_error(c, JP_PERR_MALFORMED, qid, "filter: %s", err.msg);
        return;
    }
    jp_txn_t *txn;
    int rc = jp_db_begin(r->db, false, &txn, &err);
    int code =
        rc ? JP_PERR_INTERNAL
           : s_scope(txn, c->k, a.scope, &scope, &listed, label, sizeof label, &why);
    if (code) {
        jp_txn_abort(&txn);
        jp_filter_destroy(&filter);
        srv_error(c, code, qid, "scope %s: %s", a.scope, rc ? err.msg : why);
        return;
    }
    jp_stats_t st;
    uint64_t t0 = jp_now_ms();
    bool cached;
    rc = s_base_for(r, txn, !a.asof[0], &asof, &cached, &err);
    if (!rc && at_risk) {
        codes.n = 0;
        srv_peers_each(txn, s_code_add, &codes);
    }
    jp_txn_abort(&txn); /* the base holds what the figures need */
    char who[96];
    srv_principal(c->k, who, sizeof who);
    if (at_risk) {
        size_t len = 0;
        char *body = rc ? NULL
                        : s_at_risk_body(r, &scope, &codes, label, a.format, offset,
                                         limit, &len, &rc);
        if (rc) {
            srv_error(c, JP_PERR_INTERNAL, qid, "at_risk: %s",
                      err.msg[0] ? err.msg : jp_strerror(rc));
            return;
        }
        srv_log("%s: at_risk %s in %llu ms%s", who, label,
                (unsigned long long)(jp_now_ms() - t0), cached ? " (base held)" : "");
        srv_answer(c, qid, body, len);
        free(body);
        return;
    }
    if (series) {
        size_t len = 0;
        char *body =
            rc ? NULL : s_series_body(r, &scope, filter, (int)months, label, &len, &rc);
        jp_filter_destroy(&filter);
        if (rc) {
            srv_error(c, JP_PERR_INTERNAL, qid, "series: %s",
                      err.msg[0] ? err.msg : jp_strerror(rc));
            return;
        }
        srv_log("%s: series %s, %d months in %llu ms%s", who, label, (int)months,
                (unsigned long long)(jp_now_ms() - t0), cached ? " (base held)" : "");
        srv_answer(c, qid, body, len);
        free(body);
        return;
    }
    if (!rc)
        rc = jp_stats_compute(r->base, &scope, filter, &st);
    if (rc) {
        jp_filter_destroy(&filter);
        srv_error(c, JP_PERR_INTERNAL, qid, "report: %s",
                  err.msg[0] ? err.msg : jp_strerror(rc));
        return;
    }
    char *body = NULL;
    size_t n = 0;
    if (!strcmp(a.format, "json")) {
        json_t *j = jp_stats_json(&st, label, &listed, filter);
        body = j ? jp_json_text(j) : NULL;
        json_decref(j);
        n = body ? strlen(body) : 0;
    } else {
        FILE *f = open_memstream(&body, &n);
        if (f && jp_stats_csv(&st, a.table, f) != 0) {
            fclose(f);
            free(body);
            body = NULL;
            jp_stats_free(&st);
            jp_filter_destroy(&filter);
            srv_error(c, JP_PERR_MALFORMED, qid, "table must be figures or regional");
            return;
        }
        if (f)
            fclose(f);
    }
    jp_stats_free(&st);
    jp_filter_destroy(&filter);
    srv_log("%s: report %s in %llu ms%s", who, label,
            (unsigned long long)(jp_now_ms() - t0), cached ? " (base held)" : "");
    if (!body) {
        srv_error(c, JP_PERR_INTERNAL, qid, "report: out of memory");
        return;
    }
    srv_answer(c, qid, body, n);
    free(body);
}

int
srv_reports_start(srv_reports_t **rp, jp_db_t *db, jp_err_t *err)
{
    srv_reports_t *r = calloc(1, sizeof *r);
    if (!(*rp = r))
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    r->db = db;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    /* Without the refresher, reports as of now load their base each time. */
    r->refresher_on = pthread_create(&r->refresher, NULL, s_refresher, r) == 0;
    return 0;
}

void
srv_reports_stop(srv_reports_t **rp)
{
    srv_reports_t *r = *rp;
    if (!r)
        return;
    if (r->refresher_on) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->refresher, NULL);
    }
    jp_base_destroy(&r->base);
    jp_base_destroy(&r->next);
    s_views_free(r->views, &r->nviews);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
    *rp = NULL;
}
