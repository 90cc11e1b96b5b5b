/*
 * standby.c -- a standby server follows the primary's group log
 * (standby.h).
 */
#include "standby.h"

#include "ask.h"
#include "codec.h"
#include "export.h"
#include "vouch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_POS_KEY "standby"
#define S_PUB_KEY "standby.pub" /* the primary's receipt key, pinned */
#define S_PROMOTED_KEY "promoted"
#define S_IDLE_MS 200   /* between two PULLs once caught up */
#define S_RETRY_MS 1000 /* between two tries to reach the primary */
#define S_CREDIT 4      /* CHANGES the primary may send ahead */

struct srv_follow {
    jp_db_t *db;
    const srv_conf_t *conf;
    jp_curve_t key;
    uint8_t primary[32]; /* its Curve key */
    srv_follow_cb merged;
    void *arg;
    pthread_t thread;
    atomic_bool stop;
};

/* Faults in what the primary sent stop the follower; a lost connection
 * is tried again. */
enum { S_LOST = 1, S_FAULT = 2 };

static void
s_nap(srv_follow_t *f, int ms)
{
    for (int t = 0; t < ms && !atomic_load(&f->stop); t += 50)
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
}

static int
s_fault(jp_err_t *err, const char *why)
{
    jp_err_set(err, JP_ECHAIN, "%s", why);
    return S_FAULT;
}

int
srv_follow_pos(jp_txn_t *txn, srv_follow_pos_t *out)
{
    const void *v;
    size_t n;
    int rc = jp_txn_tb_get(txn, JP_TB_SYNC, S_POS_KEY, strlen(S_POS_KEY), &v, &n);
    if (rc)
        return rc;
    if (n != 16)
        return JP_ECORRUPT;
    out->primary_len = jp_be64_get(v);
    out->seen_ms = jp_be64_get((const uint8_t *)v + 8);
    return 0;
}

static int
s_pos_put(jp_txn_t *txn, uint64_t primary_len)
{
    uint8_t v[16];
    jp_be64_put(v, primary_len);
    jp_be64_put(v + 8, jp_now_ms());
    return jp_txn_tb_put(txn, JP_TB_SYNC, S_POS_KEY, strlen(S_POS_KEY), v, sizeof v);
}

bool
srv_promoted(jp_txn_t *txn)
{
    const void *v;
    size_t n;
    return jp_txn_tb_get(txn, JP_TB_SYNC, S_PROMOTED_KEY, strlen(S_PROMOTED_KEY), &v, &n) ==
           0;
}

int
srv_promote(jp_txn_t *txn, uint64_t now_ms)
{
    uint8_t v[8];
    jp_be64_put(v, now_ms);
    return jp_txn_tb_put(txn, JP_TB_SYNC, S_PROMOTED_KEY, strlen(S_PROMOTED_KEY), v,
                         sizeof v);
}

/* Pin the primary's receipt key at the first WELCOME; refuse another. */
static int
s_pin(srv_follow_t *f, const uint8_t pub[JP_PUB_LEN], jp_err_t *err)
{
    jp_txn_t *txn;
    int rc = jp_db_begin(f->db, true, &txn, err);
    if (rc)
        return S_LOST;
    const void *v;
    size_t n;
    rc = jp_txn_tb_get(txn, JP_TB_SYNC, S_PUB_KEY, strlen(S_PUB_KEY), &v, &n);
    if (rc == 0 && (n != JP_PUB_LEN || memcmp(v, pub, JP_PUB_LEN) != 0)) {
        jp_txn_abort(&txn);
        return s_fault(err, "the primary's receipt key is not the one pinned at the "
                            "first WELCOME");
    }
    if (rc == JP_ENOTFOUND)
        rc = jp_txn_tb_put(txn, JP_TB_SYNC, S_PUB_KEY, strlen(S_PUB_KEY), pub, JP_PUB_LEN);
    if (rc == 0)
        rc = jp_txn_commit(&txn, err);
    jp_txn_abort(&txn);
    return rc ? S_LOST : 0;
}

/* Apply one CHANGES: every entry at the next position, its store's chain
 * continued.  *len: the group log's length, moved on. */
static int
s_apply(srv_follow_t *f, const jp_msg_t *m, const uint8_t pub[JP_PUB_LEN], uint64_t *len,
        jp_err_t *err)
{
    if (jp_vouch_check(m, 0, NULL, pub, err))
        return S_FAULT;
    if (m->changes.from_pos != *len + 1)
        return s_fault(err, "the primary's stream does not start after this standby's "
                            "group log");
    jp_txn_t *txn;
    if (jp_db_begin(f->db, true, &txn, err))
        return S_LOST;
    if (atomic_load(&f->stop)) { /* promoted meanwhile: the merger writes now */
        jp_txn_abort(&txn);
        return 0;
    }
    jp_msg_iter_t it;
    jp_msg_iter_init(&it, &m->changes.entries);
    uint64_t store, pos, at = *len;
    const uint8_t *p;
    size_t n;
    int rc, out = 0;
    while (out == 0 && (rc = jp_msg_next_entry(&it, &store, &pos, &p, &n)) > 0) {
        jp_chead_t h;
        jp_err_t e;
        char what[600];
        uint64_t got;
        if (pos != at + 1 || jp_change_peek(p, n, &h) || h.store != store) {
            snprintf(what, sizeof what, "entry at position %llu is not the next one (%llu)",
                     (unsigned long long)pos, (unsigned long long)at + 1);
            out = s_fault(err, what);
        } else if ((rc = jp_txn_apply(txn, p, n, &e))) {
            snprintf(what, sizeof what, "position %llu, store %u seq %llu: %s",
                     (unsigned long long)pos, h.store, (unsigned long long)h.seq, e.msg);
            out = rc == JP_EFULL ? S_LOST : s_fault(err, what);
        } else if ((rc = jp_txn_glog_append(txn, h.store, h.seq, &h.id, &got)) ||
                   got != pos) {
            out = rc ? S_LOST : s_fault(err, "the group log here is not the primary's");
        }
        at++;
    }
    if (out == 0 && rc < 0)
        out = s_fault(err, "a CHANGES whose entries do not walk");
    if (out == 0 && m->changes.to_pos != at)
        out = s_fault(err, "the primary skipped positions of its log to a standby");
    if (out == 0 && s_pos_put(txn, m->changes.to_pos))
        out = S_LOST;
    if (out == 0 && jp_txn_commit(&txn, err))
        out = S_LOST;
    jp_txn_abort(&txn);
    if (out == 0) {
        *len = at;
        if (f->merged && at > m->changes.from_pos - 1)
            f->merged(f->arg, at);
    }
    return out;
}

/* One session with the primary: PULLs until stopped or the session fails. */
static int
s_session(srv_follow_t *f, jp_asker_t *as, jp_err_t *err)
{
    uint8_t pub[JP_PUB_LEN];
    memcpy(pub, jp_ask_welcome(as)->welcome.server_pub, JP_PUB_LEN);
    int rc = s_pin(f, pub, err);
    if (rc)
        return rc;
    while (!atomic_load(&f->stop)) {
        jp_txn_t *txn;
        uint64_t len = 0;
        if (jp_db_begin(f->db, false, &txn, err))
            return S_LOST;
        rc = jp_txn_glog_len(txn, &len);
        jp_txn_abort(&txn);
        if (rc)
            return S_LOST;
        jp_msg_t m = {.type = JP_MSG_PULL};
        m.pull.after_pos = len;
        m.pull.credit = S_CREDIT;
        m.pull.own = true;
        if (jp_ask_send(as, &m, err))
            return S_LOST;
        /* The primary keeps a standby's stream open: new entries come as
         * they are merged.  Silence is asked about with a PING; three
         * silences running, and the primary is lost. */
        int silent = 0;
        for (bool more = true; more && !atomic_load(&f->stop);) {
            jp_msg_t in;
            if ((rc = jp_ask_recv(as, &in, err))) {
                if (rc == JP_EIO && ++silent < 3) {
                    jp_msg_t ping = {.type = JP_MSG_PING};
                    ping.ping.ms = jp_now_ms();
                    if (jp_ask_send(as, &ping, err))
                        return S_LOST;
                    continue;
                }
                return rc == JP_EPERM ? S_FAULT : S_LOST;
            }
            silent = 0;
            if (in.type == JP_MSG_PONG)
                continue;
            if (in.type == JP_MSG_PING) {
                jp_msg_t pong = {.type = JP_MSG_PONG};
                pong.pong.ms = in.ping.ms;
                if (jp_ask_send(as, &pong, err))
                    return S_LOST;
                continue;
            }
            if (in.type != JP_MSG_CHANGES) {
                jp_err_set(err, JP_ECHAIN, "the primary sent %s to its standby",
                           jp_msg_type_name(in.type));
                return S_FAULT;
            }
            if ((rc = s_apply(f, &in, pub, &len, err)))
                return rc;
            if (atomic_load(&f->stop))
                break;
            more = in.changes.more;
            /* Committed: the CREDIT is also the acknowledgement a
             * synchronous primary waits for before its RECEIPTs. */
            jp_msg_t c = {.type = JP_MSG_CREDIT};
            c.credit.credit = 1;
            if (more && jp_ask_send(as, &c, err))
                return S_LOST;
        }
        s_nap(f, S_IDLE_MS);
    }
    return 0;
}

static void *
s_follow(void *arg)
{
    srv_follow_t *f = arg;
    uint8_t skey[32];
    jp_curve_parse(f->conf->standby.primary_key, skey);
    bool unreached = false;
    while (!atomic_load(&f->stop)) {
        /* Short waits: a stop (promotion, shutdown) is seen within them. */
        jp_ask_t a = {f->conf->standby.primary, skey, &f->key, 0, 2000};
        jp_asker_t *as = NULL;
        jp_err_t err = {0};
        int rc = jp_ask_open(&a, &as, &err);
        if (rc == 0) {
            if (unreached)
                srv_log("standby: following the primary %s again", a.endpoint);
            unreached = false;
            rc = s_session(f, as, &err);
            jp_ask_close(&as);
            if (rc == S_FAULT) {
                srv_log("standby: stopped following: %s", err.msg);
                return NULL;
            }
            if (rc && !atomic_load(&f->stop))
                srv_log("standby: lost the primary %s: %s (retrying)", a.endpoint,
                        err.msg);
        } else if (!unreached) {
            srv_log("standby: cannot reach the primary %s: %s (retrying every %d s)",
                    a.endpoint, err.msg, S_RETRY_MS / 1000);
            unreached = true;
        }
        s_nap(f, S_RETRY_MS);
    }
    return NULL;
}

int
srv_follow_start(srv_follow_t **self, jp_db_t *db, const srv_conf_t *conf,
                 const jp_curve_t *key, srv_follow_cb merged, void *arg, jp_err_t *err)
{
    srv_follow_t *f = calloc(1, sizeof *f);
    if (!f)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    f->db = db;
    f->conf = conf;
    f->key = *key;
    f->merged = merged;
    f->arg = arg;
    atomic_init(&f->stop, false);
    if (pthread_create(&f->thread, NULL, s_follow, f)) {
        free(f);
        return jp_err_set(err, JP_ENOMEM, "cannot start the standby's follower thread");
    }
    *self = f;
    return 0;
}

void
srv_follow_halt(srv_follow_t *f)
{
    if (f)
        atomic_store(&f->stop, true);
}

void
srv_follow_stop(srv_follow_t **self)
{
    srv_follow_t *f = *self;
    if (!f)
        return;
    atomic_store(&f->stop, true);
    pthread_join(f->thread, NULL);
    memset(&f->key, 0, sizeof f->key);
    free(f);
    *self = NULL;
}
