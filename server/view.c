/*
 * view.c -- snapshots of the sharing rules for the PULL streams (view.h).
 */
#include "view.h"

#include "crypto.h"
#include "server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define S_VIEW_GAP_MS 200   /* between two loads, at least */
#define S_VIEW_NICE 10      /* the viewer yields to the main thread and the merger */
#define S_VIEW_SLOW_MS 1000 /* a load this long is logged */
#define S_MAX_STORES 4096   /* enrolled stores read into one snapshot */

typedef struct {
    uint16_t store;
    jp_id_t *ids; /* the view's ids of other stores, in id order */
    size_t n;
    uint8_t hash[JP_HASH_LEN];
} s_cache_t;

struct srv_snap {
    srv_view_t *view;
    int refs; /* under view->mu */
    jp_share_t *share;
    uint64_t pos;
    s_cache_t *cache; /* one per store asked, main thread only */
    size_t ncache;
};

struct srv_view {
    jp_db_t *db;
    const jp_share_conf_t *conf;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool on, stop;
    uint64_t merged; /* group log length the merger reported */
    uint64_t want;   /* a position a stream waits for a view of */
    srv_snap_t *cur;
};

typedef struct {
    jp_share_store_t st[S_MAX_STORES];
    char reg[S_MAX_STORES][64];
    size_t n;
} s_stores_t;

static int
s_collect(void *arg, const srv_peer_t *p)
{
    s_stores_t *x = arg;
    if (x->n == S_MAX_STORES)
        return JP_ETOOBIG;
    snprintf(x->reg[x->n], sizeof x->reg[x->n], "%s", p->region);
    x->st[x->n] = (jp_share_store_t){p->store, x->reg[x->n]};
    x->n++;
    return 0;
}

int
srv_share_load(jp_txn_t *txn, const jp_share_conf_t *conf, jp_share_t **out,
               jp_err_t *err)
{
    s_stores_t *st = calloc(1, sizeof *st);
    int rc = st ? 0 : jp_err_set(err, JP_ENOMEM, "out of memory");
    if (!rc && (rc = srv_peers_each(txn, s_collect, st)))
        jp_err_set(err, rc, "more than %d enrolled stores", S_MAX_STORES);
    if (!rc)
        rc = jp_share_load(out, txn, conf, st->st, st->n, err);
    free(st);
    return rc;
}

/* A snapshot as of now. */
static int
s_load(srv_view_t *v, srv_snap_t **out, jp_err_t *err)
{
    srv_snap_t *s = calloc(1, sizeof *s);
    jp_txn_t *txn = NULL;
    int rc = s ? jp_db_begin(v->db, false, &txn, err) : JP_ENOMEM;
    if (!rc && (rc = jp_txn_glog_len(txn, &s->pos)))
        jp_err_set(err, rc, "group log unreadable");
    if (!rc)
        rc = srv_share_load(txn, v->conf, &s->share, err);
    jp_txn_abort(&txn);
    if (rc && s) {
        jp_share_destroy(&s->share);
        free(s);
        s = NULL;
    }
    if (s) {
        s->view = v;
        s->refs = 1;
    }
    *out = s;
    return rc;
}

static void
s_free(srv_snap_t *s)
{
    for (size_t i = 0; i < s->ncache; i++)
        free(s->cache[i].ids);
    free(s->cache);
    jp_share_destroy(&s->share);
    free(s);
}

static void *
s_viewer(void *arg)
{
    srv_view_t *v = arg;
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), S_VIEW_NICE);
    pthread_mutex_lock(&v->mu);
    while (!v->stop) {
        /* Loads are on demand: a merge alone costs no snapshot. */
        if (v->want <= v->cur->pos || v->merged <= v->cur->pos) {
            pthread_cond_wait(&v->cv, &v->mu);
            continue;
        }
        pthread_mutex_unlock(&v->mu);
        srv_snap_t *s;
        jp_err_t err = {0};
        uint64_t t0 = jp_now_ms();
        int rc = s_load(v, &s, &err);
        if (rc)
            srv_log("loading what each store may see failed: %s", err.msg);
        else if (jp_now_ms() - t0 >= S_VIEW_SLOW_MS)
            srv_log("what each store may see: %zu records loaded in %llu ms",
                    jp_share_count(s->share), (unsigned long long)(jp_now_ms() - t0));
        pthread_mutex_lock(&v->mu);
        if (!rc) {
            srv_snap_t *old = v->cur;
            v->cur = s;
            if (--old->refs == 0)
                s_free(old);
        }
        if (!v->stop) { /* merges come in bursts */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += S_VIEW_GAP_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&v->cv, &v->mu, &until);
        }
    }
    pthread_mutex_unlock(&v->mu);
    return NULL;
}

int
srv_view_start(srv_view_t **self_p, jp_db_t *db, const jp_share_conf_t *conf,
               jp_err_t *err)
{
    srv_view_t *v = calloc(1, sizeof *v);
    if (!v)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    v->db = db;
    v->conf = conf;
    pthread_mutex_init(&v->mu, NULL);
    pthread_cond_init(&v->cv, NULL);
    int rc = s_load(v, &v->cur, err);
    if (!rc && pthread_create(&v->thread, NULL, s_viewer, v))
        rc = jp_err_set(err, JP_ENOMEM, "cannot start the viewer thread");
    v->on = rc == 0;
    *self_p = v;
    return rc;
}

void
srv_view_stop(srv_view_t **self_p)
{
    srv_view_t *v = *self_p;
    if (!v)
        return;
    if (v->on) {
        pthread_mutex_lock(&v->mu);
        v->stop = true;
        pthread_cond_broadcast(&v->cv);
        pthread_mutex_unlock(&v->mu);
        pthread_join(v->thread, NULL);
    }
    if (v->cur && --v->cur->refs == 0)
        s_free(v->cur);
    pthread_cond_destroy(&v->cv);
    pthread_mutex_destroy(&v->mu);
    free(v);
    *self_p = NULL;
}

void
srv_view_merged(srv_view_t *self, uint64_t pos)
{
    pthread_mutex_lock(&self->mu);
    if (pos > self->merged) {
        self->merged = pos;
        if (self->want > self->cur->pos)
            pthread_cond_signal(&self->cv);
    }
    pthread_mutex_unlock(&self->mu);
}

void
srv_view_want(srv_view_t *self, uint64_t pos)
{
    pthread_mutex_lock(&self->mu);
    if (pos > self->want) {
        self->want = pos;
        pthread_cond_signal(&self->cv);
    }
    pthread_mutex_unlock(&self->mu);
}

srv_snap_t *
srv_view_take(srv_view_t *self)
{
    pthread_mutex_lock(&self->mu);
    srv_snap_t *s = self->cur;
    s->refs++;
    pthread_mutex_unlock(&self->mu);
    return s;
}

void
srv_snap_give(srv_snap_t **snap_p)
{
    srv_snap_t *s = *snap_p;
    if (!s)
        return;
    srv_view_t *v = s->view;
    pthread_mutex_lock(&v->mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&v->mu);
    if (last)
        s_free(s);
    *snap_p = NULL;
}

uint64_t
srv_snap_pos(const srv_snap_t *snap)
{
    return snap->pos;
}

jp_share_rule_t
srv_snap_rule(const srv_snap_t *snap, uint16_t store)
{
    return jp_share_conf_rule(snap->view->conf, store);
}

bool
srv_snap_visible(const srv_snap_t *snap, uint16_t store, const jp_id_t *id)
{
    bool yes = false;
    return jp_share_visible(snap->share, store, id, &yes) == 0 && yes;
}

bool
srv_snap_may_see(const srv_snap_t *snap, uint16_t store, const jp_id_t *id)
{
    bool yes = false;
    int rc = jp_share_visible(snap->share, store, id, &yes);
    return rc == JP_ENOTFOUND || (rc == 0 && yes);
}

typedef struct {
    s_cache_t *c;
    size_t cap;
    jp_sha_t *sha;
} s_collect_ids_t;

static int
s_collect_id(void *arg, const jp_id_t *id)
{
    s_collect_ids_t *x = arg;
    if (jp_id_store(id) == x->c->store)
        return 0;
    if (x->c->n == x->cap) {
        size_t cap = x->cap ? 2 * x->cap : 1024;
        jp_id_t *p = realloc(x->c->ids, cap * sizeof *p);
        if (!p)
            return JP_ENOMEM;
        x->c->ids = p;
        x->cap = cap;
    }
    x->c->ids[x->c->n++] = *id;
    return jp_sha_update(x->sha, id->b, 16);
}

int
srv_snap_view(srv_snap_t *snap, uint16_t store, const jp_id_t **ids, size_t *n,
              uint8_t hash[JP_HASH_LEN])
{
    s_cache_t *c = NULL;
    for (size_t i = 0; i < snap->ncache && !c; i++)
        if (snap->cache[i].store == store)
            c = &snap->cache[i];
    if (!c) {
        s_cache_t *p = realloc(snap->cache, (snap->ncache + 1) * sizeof *p);
        if (!p)
            return JP_ENOMEM;
        snap->cache = p;
        s_collect_ids_t x = {&p[snap->ncache], 0, NULL};
        memset(x.c, 0, sizeof *x.c);
        x.c->store = store;
        int rc = jp_sha_new(&x.sha);
        if (!rc)
            rc = jp_share_each_visible(snap->share, store, s_collect_id, &x);
        if (!rc)
            rc = jp_sha_final(x.sha, x.c->hash);
        jp_sha_destroy(&x.sha);
        if (rc) {
            free(x.c->ids);
            return rc;
        }
        c = &snap->cache[snap->ncache++];
    }
    *ids = c->ids;
    *n = c->n;
    memcpy(hash, c->hash, JP_HASH_LEN);
    return 0;
}
