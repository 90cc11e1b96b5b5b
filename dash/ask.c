/*
 * ask.c -- the dashboard's one session to the group server: questions
 * over a kept CURVE session (proto/ask.h), the answers parsed as JSON,
 * and what the dashboard learns once at start: the group's stores and
 * the scope its key reads by default (the answer to a report without a
 * scope names it).
 */
#include "dash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_SERIES_KEEP_MS (5 * 60 * 1000) /* a series is asked again after this */
#define S_SERIES_KEPT 32                 /* scopes whose series are kept */

struct dash {
    dash_conf_t conf;
    jp_asker_t *s;                        /* NULL: opened at the next question */
    char own[DASH_SCOPE_MAX];             /* the key's own scope */
    dash_store_t stores[DASH_STORES_MAX]; /* in store order */
    size_t nstores;
    struct {
        char scope[DASH_SCOPE_MAX];
        int64_t at_ms; /* when it was asked, monotonic */
        json_t *j;     /* the answer; NULL: an empty slot */
    } series[S_SERIES_KEPT];
};

static int
s_ask_once(dash_t *d, const char *what, const char *const *args, int n, char **body,
           size_t *len, jp_err_t *err)
{
    int rc = 0;
    if (!d->s && (rc = jp_ask_open(&d->conf.ask, &d->s, err)))
        return rc;
    rc = jp_ask_query(d->s, what, args, n, body, len, err);
    if (rc == JP_EIO) /* a dead or confused session: a fresh one next time */
        jp_ask_close(&d->s);
    return rc;
}

int
dash_ask(dash_t *d, const char *what, const char *const *args, int n, json_t **out,
         jp_err_t *err)
{
    char *body = NULL;
    size_t len = 0;
    *out = NULL;
    bool had = d->s != NULL;
    int rc = s_ask_once(d, what, args, n, &body, &len, err);
    if (rc == JP_EIO && had) /* the kept session may have died while idle */
        rc = s_ask_once(d, what, args, n, &body, &len, err);
    if (rc)
        return rc;
    json_error_t je;
    *out = json_loadb(body, len, 0, &je);
    free(body);
    if (!*out)
        return jp_err_set(err, JP_EIO, "the server's answer to %s is not JSON: %s", what,
                          je.text);
    return 0;
}

/* The scope a report's label names: "group", "region 惠州", "store 3 HZ01". */
static int
s_own(dash_t *d, const char *label, jp_err_t *err)
{
    unsigned st;
    if (!strcmp(label, "group"))
        snprintf(d->own, sizeof d->own, "group");
    else if (!strncmp(label, "region ", 7) && label[7])
        snprintf(d->own, sizeof d->own, "region:%.80s", label + 7);
    else if (sscanf(label, "store %u", &st) == 1)
        snprintf(d->own, sizeof d->own, "store:%u", st);
    else
        return jp_err_set(err, JP_EIO, "the server's report names an unknown scope");
    return 0;
}

static int
s_stores(dash_t *d, const json_t *a, jp_err_t *err)
{
    size_t i;
    json_t *v;
    if (!json_is_array(a))
        return jp_err_set(err, JP_EIO, "the server's store list is not a list");
    d->nstores = 0;
    json_array_foreach(a, i, v)
    {
        json_int_t st = json_integer_value(json_object_get(v, "store"));
        const char *code = json_string_value(json_object_get(v, "code"));
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *region = json_string_value(json_object_get(v, "region"));
        if (st < 1 || st > 65535 || d->nstores == DASH_STORES_MAX)
            continue;
        dash_store_t *s = &d->stores[d->nstores++];
        s->store = (uint16_t)st;
        snprintf(s->code, sizeof s->code, "%s", code ? code : "");
        snprintf(s->name, sizeof s->name, "%s", name ? name : "");
        snprintf(s->region, sizeof s->region, "%s", region ? region : "");
    }
    return 0;
}

int
dash_new(const dash_conf_t *conf, dash_t **out, jp_err_t *err)
{
    dash_t *d = calloc(1, sizeof *d);
    json_t *j = NULL;
    *out = NULL;
    if (!d)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    d->conf = *conf;
    int rc = dash_ask(d, "stores", NULL, 0, &j, err);
    if (!rc)
        rc = s_stores(d, j, err);
    json_decref(j);
    j = NULL;
    if (!rc)
        rc = dash_ask(d, "report", NULL, 0, &j, err);
    if (!rc)
        rc = s_own(d,
                   json_string_value(json_object_get(j, "scope"))
                       ? json_string_value(json_object_get(j, "scope"))
                       : "",
                   err);
    json_decref(j);
    if (rc) {
        dash_destroy(&d);
        return rc;
    }
    *out = d;
    return 0;
}

void
dash_destroy(dash_t **self_p)
{
    dash_t *d = *self_p;
    if (!d)
        return;
    for (int i = 0; i < S_SERIES_KEPT; i++)
        json_decref(d->series[i].j);
    jp_ask_close(&d->s);
    free(d);
    *self_p = NULL;
}

const char *
dash_own_scope(const dash_t *d)
{
    return d->own;
}

bool
dash_reads_group(const dash_t *d)
{
    return strcmp(d->own, "group") == 0;
}

const char *
dash_chart_js(const dash_t *d)
{
    return d->conf.chart_js;
}

size_t
dash_stores(const dash_t *d, const dash_store_t **out)
{
    *out = d->stores;
    return d->nstores;
}

const dash_store_t *
dash_store_get(const dash_t *d, uint16_t store)
{
    for (size_t i = 0; i < d->nstores; i++)
        if (d->stores[i].store == store)
            return &d->stores[i];
    return NULL;
}

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
dash_series(dash_t *d, const char *scope, const json_t **out, jp_err_t *err)
{
    int64_t now = s_now_ms();
    int slot = 0;
    for (int i = 0; i < S_SERIES_KEPT; i++) {
        if (d->series[i].j && !strcmp(d->series[i].scope, scope) &&
            now - d->series[i].at_ms < S_SERIES_KEEP_MS) {
            *out = d->series[i].j;
            return 0;
        }
        /* Where a new answer goes: this scope's old one, else an empty
         * slot, else the oldest. */
        if (d->series[slot].j && strcmp(d->series[slot].scope, scope) &&
            (!d->series[i].j || !strcmp(d->series[i].scope, scope) ||
             d->series[i].at_ms < d->series[slot].at_ms))
            slot = i;
    }
    const char *args[] = {"scope", scope};
    json_t *j;
    int rc = dash_ask(d, "series", args, 1, &j, err);
    if (rc)
        return rc;
    json_decref(d->series[slot].j);
    snprintf(d->series[slot].scope, sizeof d->series[slot].scope, "%s", scope);
    d->series[slot].at_ms = now;
    d->series[slot].j = j;
    *out = j;
    return 0;
}
