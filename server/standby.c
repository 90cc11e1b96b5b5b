/*
 * standby.c -- a standby server follows the primary's group log
 * (standby.h).
 */
#include "standby.h"

#include "ask.h"
#include "codec.h"
#include "export.h"
#include "vouch.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_POS_KEY "standby"
#define S_PUB_KEY "standby.pub" /* the primary's receipt key, pinned */
#define S_PROMOTED_KEY "promoted"
#define S_TERM_KEY "term"
#define S_FENCE_KEY "fenced"
#define S_REJOIN_KEY "rejoined"
#define S_WATCH_MS 5000 /* between two looks at the partner */
#define S_LOOK_MS 2000  /* a look's wait for the partner's WELCOME */
#define S_IDLE_MS 200   /* between two PULLs once caught up */
#define S_RETRY_MS 1000 /* between two tries to reach the primary */
#define S_CREDIT 4      /* CHANGES the primary may send ahead */

struct srv_follow {
    jp_db_t *db;
    const char *endpoint; /* the primary's */
    jp_curve_t key;
    uint8_t primary[32]; /* its Curve key */
    jp_buf_t sigs;       /* the SIGNED before the next CHANGES: batches | receipts */
    size_t nbatch;       /* bytes of batches at the start of sigs */
    srv_follow_cb merged;
    void *arg;
    pthread_t thread;
    atomic_bool stop;
};

/* Faults in what the primary sent stop the follower; a lost connection
 * is tried again. */
enum { S_LOST = 1, S_FAULT = 2 };

/* Sleep ms, or less if stop is set meanwhile (seen within 50 ms). */
static void
s_nap(atomic_bool *stop, int ms)
{
    for (int t = 0; t < ms && !atomic_load(stop); t += 50)
        nanosleep(&(struct timespec){0, 50 * 1000000L}, NULL);
}

static int
s_fault(jp_err_t *err, const char *why)
{
    jp_err_set(err, JP_ECHAIN, "%s", why);
    return S_FAULT;
}

/* A mark of two be64 in the sync table: *a and *b. */
static int
s_mark_get(jp_txn_t *txn, const char *key, uint64_t *a, uint64_t *b)
{
    const void *v;
    size_t n;
    int rc = jp_txn_tb_get(txn, JP_TB_SYNC, key, strlen(key), &v, &n);
    if (rc)
        return rc;
    if (n != 16)
        return JP_ECORRUPT;
    *a = jp_be64_get(v);
    *b = jp_be64_get((const uint8_t *)v + 8);
    return 0;
}

int
srv_follow_pos(jp_txn_t *txn, srv_follow_pos_t *out)
{
    return s_mark_get(txn, S_POS_KEY, &out->primary_len, &out->seen_ms);
}

/* A mark of two be64: a and b. */
static int
s_mark(jp_txn_t *txn, const char *key, uint64_t a, uint64_t b)
{
    uint8_t v[16];
    jp_be64_put(v, a);
    jp_be64_put(v + 8, b);
    return jp_txn_tb_put(txn, JP_TB_SYNC, key, strlen(key), v, sizeof v);
}

static int
s_pos_put(jp_txn_t *txn, uint64_t primary_len)
{
    return s_mark(txn, S_POS_KEY, primary_len, jp_now_ms());
}

static bool
s_has(jp_txn_t *txn, const char *key)
{
    const void *v;
    size_t n;
    return jp_txn_tb_get(txn, JP_TB_SYNC, key, strlen(key), &v, &n) == 0;
}

bool
srv_promoted(jp_txn_t *txn)
{
    return s_has(txn, S_PROMOTED_KEY);
}

bool
srv_rejoined(jp_txn_t *txn)
{
    return s_has(txn, S_REJOIN_KEY);
}

uint64_t
srv_term(jp_txn_t *txn)
{
    const void *v;
    size_t n;
    if (jp_txn_tb_get(txn, JP_TB_SYNC, S_TERM_KEY, strlen(S_TERM_KEY), &v, &n) || n != 8)
        return 1;
    return jp_be64_get(v);
}

int
srv_term_put(jp_txn_t *txn, uint64_t term)
{
    uint8_t v[8];
    jp_be64_put(v, term);
    return jp_txn_tb_put(txn, JP_TB_SYNC, S_TERM_KEY, strlen(S_TERM_KEY), v, sizeof v);
}

int
srv_promote(jp_txn_t *txn, uint64_t now_ms)
{
    int rc = srv_term_put(txn, srv_term(txn) + 1);
    if (rc == 0 && srv_rejoined(txn))
        rc = jp_txn_tb_del(txn, JP_TB_SYNC, S_REJOIN_KEY, strlen(S_REJOIN_KEY));
    return rc ? rc : s_mark(txn, S_PROMOTED_KEY, now_ms, srv_term(txn));
}

int
srv_fence_get(jp_txn_t *txn, srv_fence_t *out)
{
    return s_mark_get(txn, S_FENCE_KEY, &out->term, &out->ms);
}

int
srv_fence_put(jp_txn_t *txn, uint64_t term, uint64_t now_ms)
{
    return s_mark(txn, S_FENCE_KEY, term, now_ms);
}

srv_as_t
srv_as(jp_txn_t *txn, const srv_conf_t *conf)
{
    srv_fence_t f;
    if (srv_fence_get(txn, &f) == 0)
        return SRV_AS_FENCED;
    if (srv_promoted(txn))
        return SRV_AS_PRIMARY;
    return conf->standby.primary[0] || srv_rejoined(txn) ? SRV_AS_STANDBY : SRV_AS_PRIMARY;
}

const char *
srv_partner(const srv_conf_t *conf)
{
    if (conf->standby.primary[0])
        return conf->standby.primary;
    return conf->standby.peer[0] ? conf->standby.peer : NULL;
}

void
srv_partner_key(const srv_conf_t *conf, const uint8_t own[32], uint8_t out[32])
{
    if (!conf->standby.primary_key[0] || !jp_curve_parse(conf->standby.primary_key, out))
        memcpy(out, own, 32);
}

/* Pin the primary's receipt key at the first WELCOME; refuse another.
 * Take its term; refuse a primary whose term is below this base's (a
 * superseded one). */
static int
s_pin(srv_follow_t *f, const uint8_t pub[JP_PUB_LEN], uint64_t term, jp_err_t *err)
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
    uint64_t mine = srv_term(txn);
    if (term < mine) {
        jp_txn_abort(&txn);
        jp_err_set(err, JP_ECHAIN,
                   "the primary %s has term %llu, this standby %llu: a superseded primary",
                   f->endpoint, (unsigned long long)term, (unsigned long long)mine);
        return S_FAULT;
    }
    if (rc == JP_ENOTFOUND)
        rc = jp_txn_tb_put(txn, JP_TB_SYNC, S_PUB_KEY, strlen(S_PUB_KEY), pub, JP_PUB_LEN);
    if (rc == 0 && term > mine)
        rc = srv_term_put(txn, term);
    if (rc == 0)
        rc = jp_txn_commit(&txn, err);
    jp_txn_abort(&txn);
    return rc ? S_LOST : 0;
}

/* Keep a SIGNED for the CHANGES that follows it. */
static int
s_keep_sigs(srv_follow_t *f, const jp_msg_t *m)
{
    jp_buf_reset(&f->sigs);
    f->nbatch = m->sigs.batches.n;
    if (jp_buf_append(&f->sigs, m->sigs.batches.p, m->sigs.batches.n) ||
        jp_buf_append(&f->sigs, m->sigs.receipts.p, m->sigs.receipts.n))
        return JP_ENOMEM;
    return 0;
}

typedef struct {
    jp_txn_t *txn;
    uint16_t store;
    const uint8_t *pub;
    bool found;
} s_keyfind_t;

static int
s_keyfind(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    (void)v, (void)vn;
    s_keyfind_t *x = arg;
    srv_key_t key;
    if (kn == 32 && srv_key_get(x->txn, k, &key) == 0 && key.role == SRV_ROLE_STORE &&
        key.store == x->store && memcmp(key.sign, x->pub, JP_PUB_LEN) == 0)
        return x->found = true, 1;
    return 0;
}

/* Whether pub signs store's batches: the server's (store 0), or a key
 * enrolled here for the store, revoked since or not (old batches).  A
 * scan of the enrolled keys: a batch is up to max_batch of changes, so a
 * CHANGES carries a few signatures at most. */
static bool
s_signs_for(jp_txn_t *txn, uint16_t store, const uint8_t *pub,
            const uint8_t server[JP_PUB_LEN])
{
    if (store == 0)
        return memcmp(pub, server, JP_PUB_LEN) == 0;
    s_keyfind_t x = {txn, store, pub, false};
    return jp_txn_tb_each(txn, JP_TB_KEYS, NULL, 0, s_keyfind, &x) >= 0 && x.found;
}

/* The hash of store's change seq, as this base holds it. */
static int
s_hash_at(jp_txn_t *txn, uint16_t store, uint64_t seq, uint8_t out[JP_HASH_LEN])
{
    const uint8_t *p;
    size_t n;
    int rc = jp_txn_log_get(txn, store, seq, &p, &n);
    return rc ? rc : jp_sha256(p, n, out);
}

/* The kept SIGNED, checked against the changes just applied, and kept
 * with them: the auditors' export of this base then verifies. */
static int
s_apply_sigs(srv_follow_t *f, jp_txn_t *txn, const uint8_t server[JP_PUB_LEN],
             jp_err_t *err)
{
    uint8_t head[JP_HASH_LEN], msg[JP_BATCH_MSG_LEN];
    char what[200];
    for (size_t at = 0; at < f->nbatch; at += JP_MSG_SIGNED_BATCH) {
        const uint8_t *q = f->sigs.data + at;
        jp_batch_t b = {.store = jp_be16_get(q)};
        b.first = jp_be64_get(q + 2);
        b.last = jp_be64_get(q + 10);
        b.ms = jp_be64_get(q + 18);
        memcpy(b.pub, q + 26, JP_PUB_LEN);
        memcpy(b.sig, q + 58, JP_SIG_LEN);
        snprintf(what, sizeof what, "the batch signature of store %u seq %llu..%llu", b.store,
                 (unsigned long long)b.first, (unsigned long long)b.last);
        if (b.first < 1 || b.first > b.last || s_hash_at(txn, b.store, b.last, head))
            return s_fault(err, strcat(what, " names a change this standby lacks"));
        jp_batch_msg(b.store, b.first, b.last, head, msg);
        if (!s_signs_for(txn, b.store, b.pub, server) ||
            jp_sig_verify(b.pub, msg, sizeof msg, b.sig))
            return s_fault(err, strcat(what, " does not verify by an enrolled key"));
        if (jp_txn_batch_put(txn, &b))
            return S_LOST;
    }
    for (size_t at = f->nbatch; at < f->sigs.len; at += JP_MSG_SIGNED_RECEIPT) {
        const uint8_t *q = f->sigs.data + at;
        jp_receipt_t r = {.store = jp_be16_get(q)};
        r.seq = jp_be64_get(q + 2);
        r.ms = jp_be64_get(q + 10);
        memcpy(r.sig, q + 18, JP_SIG_LEN);
        snprintf(what, sizeof what, "the receipt of store %u seq %llu", r.store,
                 (unsigned long long)r.seq);
        if (s_hash_at(txn, r.store, r.seq, head))
            return s_fault(err, strcat(what, " names a change this standby lacks"));
        jp_receipt_msg(r.store, r.seq, r.ms, head, msg);
        if (jp_sig_verify(server, msg, sizeof msg, r.sig))
            return s_fault(err, strcat(what, " does not verify by the primary's key"));
        if (jp_txn_receipt_put(txn, &r))
            return S_LOST;
    }
    jp_buf_reset(&f->sigs);
    f->nbatch = 0;
    return 0;
}

/* Apply one CHANGES: every entry at the next position, its store's chain
 * continued, with the SIGNED kept before it.  *len: the group log's
 * length, moved on. */
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
    if (out == 0)
        out = s_apply_sigs(f, txn, pub, err);
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
    const jp_msg_t *w = jp_ask_welcome(as);
    memcpy(pub, w->welcome.server_pub, JP_PUB_LEN);
    jp_buf_reset(&f->sigs); /* a SIGNED of a session lost is sent again */
    f->nbatch = 0;
    int rc = s_pin(f, pub, w->welcome.term, err);
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
            if (in.type == JP_MSG_SIGNED) {
                if (s_keep_sigs(f, &in))
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
        s_nap(&f->stop, S_IDLE_MS);
    }
    return 0;
}

static void *
s_follow(void *arg)
{
    srv_follow_t *f = arg;
    bool unreached = false;
    while (!atomic_load(&f->stop)) {
        /* Short waits: a stop (promotion, shutdown) is seen within them. */
        jp_ask_t a = {f->endpoint, f->primary, &f->key, 0, S_LOOK_MS};
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
        s_nap(&f->stop, S_RETRY_MS);
    }
    return NULL;
}

int
srv_follow_start(srv_follow_t **self, jp_db_t *db, const char *endpoint,
                 const uint8_t pub[32], const jp_curve_t *key, srv_follow_cb merged,
                 void *arg, jp_err_t *err)
{
    srv_follow_t *f = calloc(1, sizeof *f);
    if (!f)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    f->db = db;
    f->endpoint = endpoint;
    memcpy(f->primary, pub, 32);
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
    jp_buf_free(&f->sigs);
    free(f);
    *self = NULL;
}

/* ---- the partner's term, the watch, rejoining --------------------------------- */

int
srv_partner_term(const char *endpoint, const uint8_t pub[32], const jp_curve_t *key,
                 int timeout_ms, uint64_t *term, jp_err_t *err)
{
    jp_ask_t a = {endpoint, pub, key, 0, timeout_ms};
    jp_asker_t *as = NULL;
    int rc = jp_ask_open(&a, &as, err);
    if (rc == 0)
        *term = jp_ask_welcome(as)->welcome.term;
    jp_ask_close(&as);
    return rc;
}

struct srv_watch {
    jp_db_t *db;
    jp_asker_t *as; /* the session with the partner, kept between looks */
    const char *endpoint;
    uint8_t pub[32];
    jp_curve_t key;
    srv_fenced_cb fenced;
    void *arg;
    pthread_t thread;
    atomic_bool stop;
};

/* One look at the partner: a fresh WELCOME on the session kept open (a
 * HELLO again, PROTOCOL.md), or on a new one if there is none.  One
 * session for the watch's life keeps the partner's log to a line. */
static int
s_look(srv_watch_t *w, uint64_t *term, jp_err_t *err)
{
    if (!w->as) {
        jp_ask_t a = {w->endpoint, w->pub, &w->key, 0, S_LOOK_MS};
        int rc = jp_ask_open(&a, &w->as, err);
        if (rc == 0)
            *term = jp_ask_welcome(w->as)->welcome.term;
        return rc;
    }
    jp_msg_t m = {.type = JP_MSG_HELLO}, in;
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    m.hello.agent.p = "jipan-server/watch";
    m.hello.agent.n = strlen(m.hello.agent.p);
    int rc = jp_ask_send(w->as, &m, err);
    while (rc == 0 && (rc = jp_ask_recv(w->as, &in, err)) == 0 && in.type != JP_MSG_WELCOME)
        if (in.type != JP_MSG_PING && in.type != JP_MSG_PONG)
            rc = jp_err_set(err, JP_EIO, "the partner answered HELLO with %s",
                            jp_msg_type_name(in.type));
    if (rc == 0)
        *term = in.welcome.term;
    else
        jp_ask_close(&w->as); /* the next look opens a new one */
    return rc;
}

bool
srv_fence_if_above(jp_db_t *db, const char *endpoint, uint64_t theirs)
{
    jp_txn_t *txn;
    if (jp_db_begin(db, true, &txn, NULL))
        return false;
    uint64_t mine = srv_term(txn);
    srv_fence_t fc;
    bool above = theirs > mine && srv_fence_get(txn, &fc) == JP_ENOTFOUND;
    if (above && (srv_fence_put(txn, theirs, jp_now_ms()) || jp_txn_commit(&txn, NULL)))
        above = false;
    jp_txn_abort(&txn);
    if (above)
        srv_log("fenced: the partner %s is the group's primary (term %llu, this server's "
                "%llu): this server serves no store any more; `" SRV_PROG
                " rejoin` makes it that primary's standby",
                endpoint, (unsigned long long)theirs, (unsigned long long)mine);
    return above;
}

static void *
s_watch(void *arg)
{
    srv_watch_t *w = arg;
    bool unreached = false;
    while (!atomic_load(&w->stop)) { /* the first look was the server's, at its start */
        s_nap(&w->stop, S_WATCH_MS);
        if (atomic_load(&w->stop))
            break;
        uint64_t term = 0;
        jp_err_t err = {0};
        if (s_look(w, &term, &err) == 0) {
            unreached = false;
            if (srv_fence_if_above(w->db, w->endpoint, term)) {
                w->fenced(w->arg);
                break;
            }
        } else if (!unreached) {
            srv_log("partner %s not reached: %s (looking every %d s)", w->endpoint, err.msg,
                    S_WATCH_MS / 1000);
            unreached = true;
        }
    }
    jp_ask_close(&w->as);
    return NULL;
}

int
srv_watch_start(srv_watch_t **self, jp_db_t *db, const char *endpoint, const uint8_t pub[32],
                const jp_curve_t *key, srv_fenced_cb fenced, void *arg, jp_err_t *err)
{
    srv_watch_t *w = calloc(1, sizeof *w);
    if (!w)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    *w = (srv_watch_t){.db = db, .endpoint = endpoint, .key = *key, .fenced = fenced,
                       .arg = arg};
    memcpy(w->pub, pub, 32);
    atomic_init(&w->stop, false);
    if (pthread_create(&w->thread, NULL, s_watch, w)) {
        free(w);
        return jp_err_set(err, JP_ENOMEM, "cannot start the watch of the partner");
    }
    *self = w;
    return 0;
}

void
srv_watch_stop(srv_watch_t **self)
{
    srv_watch_t *w = *self;
    if (!w)
        return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    memset(&w->key, 0, sizeof w->key);
    free(w);
    *self = NULL;
}

/* The tables a base holds outside the group log: its enrolled keys and
 * stores, kept as key | value pairs (their lengths before them, be64). */
typedef struct {
    jp_buf_t *out;
    int rc;
} s_keep_t;

static int
s_keep_kv(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_keep_t *x = arg;
    uint8_t len[16];
    jp_be64_put(len, kn);
    jp_be64_put(len + 8, vn);
    if (jp_buf_append(x->out, len, 16) || jp_buf_append(x->out, k, kn) ||
        jp_buf_append(x->out, v, vn))
        return x->rc = JP_ENOMEM, 1;
    return 0;
}

static int
s_put_kvs(jp_txn_t *txn, jp_table_t tb, const jp_buf_t *b)
{
    for (size_t at = 0; at + 16 <= b->len;) {
        uint64_t kn = jp_be64_get(b->data + at), vn = jp_be64_get(b->data + at + 8);
        const uint8_t *k = b->data + at + 16;
        int rc = jp_txn_tb_put(txn, tb, k, kn, k + kn, vn);
        if (rc)
            return rc;
        at += 16 + kn + vn;
    }
    return 0;
}

int
srv_rejoin(const srv_conf_t *conf, char *aside, size_t cap, jp_err_t *err)
{
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    jp_node_t node;
    srv_fence_t fence = {0};
    jp_buf_t keys = {0}, peers = {0};
    s_keep_t kk = {&keys, 0}, kp = {&peers, 0};
    int rc = jp_db_open(&db, conf->data, conf->map_mib, err);
    if (rc == 0 && (rc = jp_db_begin(db, false, &txn, err)) == 0) {
        if (srv_as(txn, conf) != SRV_AS_FENCED)
            rc = jp_err_set(err, JP_EINVAL,
                            "this server is not fenced (`status`): only a primary "
                            "superseded by its partner rejoins");
        else if (!srv_partner(conf))
            rc = jp_err_set(err, JP_EINVAL, "no partner in [standby] (peer or primary)");
        else if ((rc = jp_txn_node_get(txn, &node)) || (rc = srv_fence_get(txn, &fence)))
            jp_err_set(err, rc, "reading the base: %s", jp_strerror(rc));
        else if (jp_txn_tb_each(txn, JP_TB_KEYS, NULL, 0, s_keep_kv, &kk) < 0 || kk.rc ||
                 jp_txn_tb_each(txn, JP_TB_PEERS, NULL, 0, s_keep_kv, &kp) < 0 || kp.rc)
            rc = jp_err_set(err, JP_ENOMEM, "reading the enrolled keys and stores");
    }
    jp_txn_abort(&txn);
    jp_db_close(&db);
    char from[1100], stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", gmtime(&now));
    snprintf(from, sizeof from, "%s/data.mdb", conf->data);
    snprintf(aside, cap, "%s/superseded-%s.mdb", conf->data, stamp);
    bool moved = false;
    if (rc == 0 && !(moved = rename(from, aside) == 0))
        rc = jp_err_set(err, JP_EIO, "%s: %s", aside, strerror(errno));
    /* A new base: the same identity, keys and stores; the partner's term;
     * a standby that follows from the start. */
    if (rc == 0 && (rc = jp_db_open(&db, conf->data, conf->map_mib, err)) == 0 &&
        (rc = jp_db_begin(db, true, &txn, err)) == 0) {
        if ((rc = jp_txn_node_set(txn, &node)) == 0 && (rc = jp_txn_set_lean(txn, err)) == 0 &&
            (rc = s_put_kvs(txn, JP_TB_KEYS, &keys)) == 0 &&
            (rc = s_put_kvs(txn, JP_TB_PEERS, &peers)) == 0 &&
            (rc = srv_term_put(txn, fence.term)) == 0 &&
            (rc = s_mark(txn, S_REJOIN_KEY, jp_now_ms(), fence.term)) == 0)
            rc = jp_txn_commit(&txn, err);
        else if (!err->msg[0])
            jp_err_set(err, rc, "writing the new base: %s", jp_strerror(rc));
    }
    jp_txn_abort(&txn);
    jp_db_close(&db);
    jp_buf_free(&keys);
    jp_buf_free(&peers);
    /* No new base: the old one goes back where it was, fenced as before. */
    if (rc && moved && rename(aside, from) != 0) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        jp_err_set(err, rc, "%s; the old base is %s (put it back as %s)", why, aside, from);
    }
    return rc;
}
