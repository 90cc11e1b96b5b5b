/*
 * ahead.c -- the counter's report and work list, computed ahead (ahead.h).
 *
 * One thread, one mutex, one condition variable that says both "there is
 * work" (to the thread) and "there is a new snapshot" (to the pages).  The
 * thread never holds the mutex while it computes.
 */
#include "ahead.h"

#include "validate.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_POLL_MS 1000 /* how often the thread looks for other processes' commits */

typedef struct {
    cli_ahead_snap_t pub; /* what the pages read; first, so a pub pointer is ours */
    jp_base_t *base;      /* what it was computed from: the work list's names,
                           * phones and VINs point into it */
    int refs;             /* pages reading it, plus one while it is current */
} s_snap_t;

struct cli_ahead {
    jp_db_t *db;         /* the store, shared with the pages (LMDB is thread-safe) */
    uint16_t store;      /* the scope: this store */
    pthread_t thread;    /* the computing thread */
    pthread_mutex_t mu;  /* guards everything below */
    pthread_cond_t cv;   /* work for the thread, or a new snapshot for the pages */
    s_snap_t *cur;       /* the latest snapshot, or NULL before the first */
    bool poked;          /* compute again now */
    bool stop;           /* the thread is to end */
    uint64_t failed_txn; /* the base the last failed computation read, 0: none */
    jp_err_t failure;    /* why it failed */
};

static void
s_deadline(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

/* The transaction number of the base as it is now; 0 if it cannot be read. */
static uint64_t
s_txn_now(jp_db_t *db)
{
    jp_txn_t *txn = NULL;
    if (jp_db_begin(db, false, &txn, NULL) != 0)
        return 0;
    uint64_t n = jp_txn_number(txn);
    jp_txn_abort(&txn);
    return n;
}

static void
s_snap_free(s_snap_t *s)
{
    if (!s)
        return;
    jp_stats_free(&s->pub.stats);
    jp_worklist_free(&s->pub.work);
    jp_base_destroy(&s->base);
    free(s);
}

static void
s_unref(s_snap_t *s)
{
    if (s && --s->refs == 0)
        s_snap_free(s);
}

/* Load the base once and compute both; *out on success. */
static int
s_compute(cli_ahead_t *a, s_snap_t **out, uint64_t *txn_out, jp_err_t *err)
{
    jp_txn_t *txn = NULL;
    jp_base_t *base = NULL;
    jp_scope_t *scope = calloc(1, sizeof *scope);
    s_snap_t *s = calloc(1, sizeof *s);
    uint64_t t0 = jp_now_ms();
    int rc = scope && s ? 0 : JP_ENOMEM;
    if (!rc && !(rc = jp_db_begin(a->db, false, &txn, err))) {
        *txn_out = s->pub.txn = jp_txn_number(txn);
        s->pub.asof = (int64_t)jp_now_ms();
        rc = jp_base_load(txn, s->pub.asof, &base, err);
        jp_txn_abort(&txn);
    }
    if (!rc) {
        jp_scope_add(scope, a->store);
        if ((rc = jp_stats_compute(base, scope, NULL, &s->pub.stats)) == 0 &&
            (rc = jp_worklist_compute(base, scope, &s->pub.work)) != 0)
            jp_stats_free(&s->pub.stats);
    }
    free(scope);
    if (rc) {
        jp_base_destroy(&base);
        free(s);
        if (!err->msg[0])
            jp_err_set(err, rc, "%s", jp_strerror(rc));
        return rc;
    }
    s->pub.took_ms = (int64_t)(jp_now_ms() - t0);
    s->base = base;
    s->refs = 1;
    *out = s;
    return 0;
}

/* A snapshot that no longer answers for the base: another transaction,
 * another day, or older than the longest age. */
static bool
s_stale(const s_snap_t *s, uint64_t txn, int64_t now)
{
    return !s || s->pub.txn != txn || jp_local_day(s->pub.asof) != jp_local_day(now) ||
           now - s->pub.asof >= CLI_AHEAD_MAX_AGE_MS;
}

static void *
s_run(void *arg)
{
    cli_ahead_t *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stop) {
        pthread_mutex_unlock(&a->mu);
        uint64_t now_txn = s_txn_now(a->db);
        pthread_mutex_lock(&a->mu);
        bool need = a->poked || (s_stale(a->cur, now_txn, (int64_t)jp_now_ms()) &&
                                 a->failed_txn != now_txn);
        if (!need) {
            struct timespec ts;
            s_deadline(&ts, S_POLL_MS);
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
            continue;
        }
        a->poked = false;
        pthread_mutex_unlock(&a->mu);
        s_snap_t *s = NULL;
        uint64_t read_txn = now_txn;
        jp_err_t err;
        jp_err_clear(&err);
        int rc = s_compute(a, &s, &read_txn, &err);
        pthread_mutex_lock(&a->mu);
        if (rc) {
            a->failed_txn = read_txn ? read_txn : now_txn;
            a->failure = err;
        } else {
            s_unref(a->cur);
            a->cur = s;
            a->failed_txn = 0;
        }
        pthread_cond_broadcast(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

int
cli_ahead_start(cli_ahead_t **self_p, jp_db_t *db, uint16_t store, jp_err_t *err)
{
    assert(self_p && db);
    cli_ahead_t *a = calloc(1, sizeof *a);
    if (!a)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    a->db = db;
    a->store = store;
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    int e = pthread_create(&a->thread, NULL, s_run, a);
    if (e) {
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a);
        return jp_err_set(err, JP_EIO, "the figures' thread: %s", strerror(e));
    }
    *self_p = a;
    return 0;
}

void
cli_ahead_stop(cli_ahead_t **self_p)
{
    assert(self_p);
    cli_ahead_t *a = *self_p;
    if (!a)
        return;
    pthread_mutex_lock(&a->mu);
    a->stop = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    assert(!a->cur || a->cur->refs == 1);
    s_unref(a->cur);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
    *self_p = NULL;
}

void
cli_ahead_poke(cli_ahead_t *self)
{
    assert(self);
    pthread_mutex_lock(&self->mu);
    self->poked = true;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

int
cli_ahead_take(cli_ahead_t *self, const cli_ahead_snap_t **snap, jp_err_t *err)
{
    assert(self && snap);
    *snap = NULL;
    uint64_t now_txn = s_txn_now(self->db);
    struct timespec ts;
    s_deadline(&ts, CLI_AHEAD_WAIT_MS);
    int rc = 0;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        s_snap_t *c = self->cur;
        int64_t now = (int64_t)jp_now_ms();
        /* The age bound is the thread's; a page takes any snapshot of the
         * base as it is, of today. */
        if (c && c->pub.txn >= now_txn &&
            jp_local_day(c->pub.asof) == jp_local_day(now)) {
            c->refs++;
            *snap = &c->pub;
            break;
        }
        if (self->failed_txn && self->failed_txn >= now_txn) {
            rc = jp_err_set(err, JP_EIO, "the figures could not be computed: %s",
                            self->failure.msg);
            break;
        }
        self->poked = true;
        pthread_cond_broadcast(&self->cv);
        if (pthread_cond_timedwait(&self->cv, &self->mu, &ts) == ETIMEDOUT) {
            rc = jp_err_set(err, JP_EIO, "the figures were not ready in %d s",
                            CLI_AHEAD_WAIT_MS / 1000);
            break;
        }
    }
    pthread_mutex_unlock(&self->mu);
    return rc;
}

void
cli_ahead_give(cli_ahead_t *self, const cli_ahead_snap_t **snap)
{
    assert(self && snap);
    if (!*snap)
        return;
    pthread_mutex_lock(&self->mu);
    s_unref((s_snap_t *)(void *)*snap);
    pthread_mutex_unlock(&self->mu);
    *snap = NULL;
}
