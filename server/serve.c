/*
 * serve.c -- the server's loop: admit clients (ZAP), verify and merge
 * their batches, stream the group log back, answer queries.
 *
 * The main thread polls the ROUTER the clients talk to, and the REP
 * socket on inproc://zeromq.zap.01 that libzmq asks, during each CURVE
 * handshake, whether the client's key may in (RFC 27).  The ZAP reply
 * names the key's principal as User-Id and carries the key itself as the
 * metadata property X-Key, so every message that arrives says which key
 * sent it; the principal of a message is read from there, never from the
 * message.
 *
 * Four threads, so that nothing a client waits for sits behind a merge:
 *   main       handshakes, sessions, PULL streams, status, and the reports
 *              computed ahead; it forwards what the workers answer
 *   merger     PUSHes, one at a time in arrival order (the only writer)
 *   reporter   reports computed from a held base (reports.c)
 *   refresher  reloads the live base after merges and computes the
 *              group's and regions' reports ahead (reports.c)
 * The workers get their jobs over inproc pipes (s_hand) and never touch
 * a session or the ROUTER; all read LMDB in their own read transactions.
 *
 * No client can stop the group: the main thread never waits on a peer.
 * Every send on the ROUTER is non-blocking; a client whose queue is full
 * (it does not read) loses its session and is muted for a while.  A
 * session exists only from WELCOME, a key and a principal have a few at
 * most, and the ROUTER's monitor ends one when its connection closes.
 *
 * A PUSH is checked in full before anything is written, then applied,
 * appended to the group log, linked and receipted in one LMDB transaction;
 * the RECEIPT is sent after the commit.  A crash before the commit loses
 * the batch and no receipt was sent: the store resends it.
 */
#include "server.h"

#include "codec.h"
#include "export.h"
#include "msg.h"
#include "record.h"
#include "recover.h"
#include "standby.h"
#include "hold.h"
#include "validate.h"
#include "view.h"
#include "vouch.h"

#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_MAX_SESSIONS JP_MSG_MAX_SESSIONS     /* live sessions, at most */
#define S_KEY_SESSIONS JP_MSG_MAX_KEY_SESSIONS /* sessions of one key (PROTOCOL.md 5) */
#define S_PRINCIPAL_SESSIONS JP_MSG_MAX_PRINCIPAL_SESSIONS /* of one principal */
#define S_SWEEP_MS 250                                     /* revocation sweep */
#define S_MUTES 64        /* connections muted at once, at most */
#define S_MUTE_MS 1000    /* how long a connection that does not read is muted */
#define S_ZAP_BURST 64    /* ZAP requests answered between two polls */
#define S_MAX_RID 256     /* bytes of a ZeroMQ routing id */
#define S_ROUTER_BURST 16 /* client messages read between two polls */
#define S_MAX_HELD 64     /* PUSHes waiting their turn, at most */
#define S_MAX_REPORTS 64  /* reports waiting for the reporter, at most */

/* A session: from WELCOME to BYE, the close of its connection, or its
 * end for not reading.  Only a HELLO answered by WELCOME makes one. */
typedef struct {
    uint8_t rid[S_MAX_RID]; /* ROUTER routing id */
    size_t rid_n;
    uint8_t key[32];      /* the client's Curve key */
    srv_key_t k;          /* its entry, as of the last message */
    char who[96];         /* its principal (srv_principal), as of WELCOME */
    int fd;               /* its connection's socket (ZMQ_SRCFD), -1 unknown */
    uint64_t born;        /* when it began (s->births): the oldest ends first */
    bool revoked;         /* ERROR revoked sent: nothing more is processed */
    uint8_t end;          /* srv_end_t: not NONE, it ends at the next reap */
    bool pulling;         /* a PULL stream is open */
    uint64_t pull_pos;    /* last group log position sent */
    uint64_t pull_credit; /* CHANGES still allowed */
    bool pull_own;        /* the stream includes the client store's own changes */
    uint64_t pull_goal;   /* the stream's end waits for a view of this position */
    uint64_t pull_since;  /* when the stream began to wait for a newer view, 0 */
    srv_snap_t *snap;     /* what the store may see, from its PULL on (view.h) */
    uint32_t pushes;      /* PUSHes with the merger, not yet answered */
    /* A standby's stream (standby.h): it never ends; each CHANGES sent is
     * acknowledged by a CREDIT once the standby has committed it. */
    uint64_t sent[JP_MSG_MAX_CREDIT]; /* to_pos of the CHANGES not acknowledged */
    uint32_t nsent, sent_head;
    uint64_t acked_pos; /* the standby holds the group log up to here */
} s_sess_t;

/* A connection whose queue was full: what it sends is discarded unread
 * until `until_ms`, so that a client that floods and does not read costs
 * the main thread a read, not a key lookup, a decode and an answer. */
typedef struct {
    uint8_t rid[S_MAX_RID]; /* ROUTER routing id */
    size_t rid_n;           /* 0: the entry is free */
    uint64_t until_ms;      /* monotonic */
} s_mute_t;

/* Session x as a client (main thread). */
#define S_CLIENT(s, x)                                                                   \
    (&(srv_client_t){(s)->router, &(s)->out, (x)->rid, (x)->rid_n, (x)->key, &(x)->k,    \
                     &(x)->end})

/* A thread that takes work off the main thread: a PUSH to merge, a report
 * to compute.  The main thread hands it jobs over an inproc pipe (PAIR);
 * the worker sends its replies back on the same pipe, framed as on the
 * ROUTER, and an empty message when a job is done (s_worker). */
typedef struct s_srv s_srv_t;
typedef struct {
    s_srv_t *s;
    const char *name;
    void (*handle)(s_srv_t *, srv_client_t *, const jp_msg_t *);
    void *pipe, *end; /* the main thread's end, the worker's end */
    jp_buf_t out;     /* the worker's encoding buffer */
    pthread_t thread;
    bool on;
    int pending;      /* jobs handed over and not yet done (main thread) */
    uint64_t busy_us; /* time spent on jobs (worker thread; read after it ends) */
} s_worker_t;

struct s_srv {
    const srv_conf_t *conf;
    void *ctx, *router, *zap;
    jp_db_t *db;
    jp_key_t *key; /* receipts and the server's own batches */
    uint8_t pub[JP_PUB_LEN];
    jp_buf_t out;   /* encoded outgoing message */
    void *mon;      /* the ROUTER's monitor: connections that closed */
    s_sess_t *sess; /* S_MAX_SESSIONS */
    int nsess;
    uint64_t births;           /* sessions begun since start */
    uint64_t dropped;          /* sessions ended because the client did not read */
    s_mute_t mute[S_MUTES];    /* connections that do not read, for a while */
    uint64_t batches, changes; /* accepted since start, for the log (merger) */
    s_worker_t merger;         /* PUSHes, one at a time, in order */
    s_worker_t reporter;       /* reports computed from a base */
    atomic_bool stopping;      /* workers drop what they have not begun */
    jp_record_t old;           /* a record's state before a change (merger) */
    jp_id_t *touched;          /* customers a batch changed (merger) */
    size_t ntouched, captouched;
    srv_reports_t *reports; /* the held and live bases, reports ahead */
    srv_view_t *view;       /* what each store may see (view.h) */
    srv_follow_t *follow;   /* a standby's follower of the primary (standby.h) */
    srv_watch_t *watch;     /* a primary's look at its partner's term (standby.h) */
    atomic_bool standby;    /* a standby, not promoted: stores are refused */
    atomic_bool fenced;     /* a superseded primary: stores are refused */
    _Atomic uint64_t term;  /* this base's (PROTOCOL.md, "Terms") */
    uint8_t partner_pub[32]; /* the partner's Curve key (the group's) */
    _Atomic uint64_t log_len; /* group log length, as the merger last committed it */
    srv_hold_t *hold;         /* answers waiting for a synchronous standby (hold.h) */
    bool sync_degraded;       /* the standby did not acknowledge in time: not waited for */
    struct {                  /* what SRV_STANDBY_STATE last said (main thread) */
        bool seen, on, degraded;
        uint64_t pos, ms;
    } sb;
};

static volatile sig_atomic_t s_stop;

static uint64_t
s_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* The length of the UTF-8 character at p (n bytes left), 0 if p does not
 * start a well-formed one. */
static size_t
s_utf8_len(const unsigned char *p, size_t n)
{
    size_t len = p[0] < 0x80                    ? 1
                 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
                 : p[0] >= 0xe0 && p[0] <= 0xef ? 3
                 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4
                                                : 0;
    if (len == 0 || len > n)
        return 0;
    return jp_utf8_valid((const char *)p, len) ? len : 0;
}

/* line, escaped, to out (cap bytes, NUL-terminated): see srv_log. */
static void
s_escape(const char *line, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)line;
    size_t n = strlen(line), o = 0;
    while (n > 0 && o + 8 < cap) {
        size_t len = s_utf8_len(p, n);
        if (len == 1 && p[0] >= 0x20 && p[0] != 0x7f && p[0] != '\\') {
            out[o++] = (char)p[0];
        } else if (len == 1 && p[0] == '\\') {
            out[o++] = '\\';
            out[o++] = '\\';
        } else if (len == 1 && p[0] == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else if (len == 2 && p[0] == 0xc2 && p[1] < 0xa0) { /* C1: U+0080..U+009F */
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", p[1]);
        } else if (len > 1) {
            memcpy(out + o, p, len);
            o += len;
        } else { /* a control character, or a byte that is not UTF-8 */
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[0]);
            len = 1;
        }
        p += len;
        n -= len;
    }
    out[o] = '\0';
}

static void
s_vlog(const char *fmt, va_list ap)
{
    char line[2048], safe[4 * sizeof line], ts[32];
    vsnprintf(line, sizeof line, fmt, ap);
    s_escape(line, safe, sizeof safe);
    time_t now = time(NULL);
    struct tm tm;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    /* One write: one line, whichever thread logs. */
    fprintf(stderr, "%s " SRV_PROG ": %s\n", ts, safe);
}

/* One line to stderr (the journal under systemd): never personal data. */
void
srv_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vlog(fmt, ap);
    va_end(ap);
}

#define S_LOG_PEER_PER_S 100 /* lines a second that peers can cause */

static pthread_mutex_t s_log_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t s_log_second;   /* the second the count is of (monotonic) */
static unsigned s_log_lines;    /* peers' lines written in it */
static uint64_t s_log_unlogged; /* peers' lines not written since the last one */

void
srv_log_peer(const char *fmt, ...)
{
    uint64_t sec = s_us() / 1000000u, unlogged = 0;
    bool write = false;
    pthread_mutex_lock(&s_log_mu);
    if (sec != s_log_second) {
        s_log_second = sec;
        s_log_lines = 0;
    }
    if (s_log_lines < S_LOG_PEER_PER_S) {
        s_log_lines++;
        write = true;
        unlogged = s_log_unlogged;
        s_log_unlogged = 0;
    } else {
        s_log_unlogged++;
    }
    pthread_mutex_unlock(&s_log_mu);
    if (!write)
        return;
    if (unlogged)
        srv_log("(%llu lines about clients not logged: more than %d a second)",
                (unsigned long long)unlogged, S_LOG_PEER_PER_S);
    va_list ap;
    va_start(ap, fmt);
    s_vlog(fmt, ap);
    va_end(ap);
}

/* ---- sessions -------------------------------------------------------------- */

/* The live session of routing id rid, or NULL. */
static s_sess_t *
s_sess_find(s_srv_t *s, const uint8_t *rid, size_t n)
{
    for (int i = 0; i < s->nsess; i++)
        if (s->sess[i].rid_n == n && memcmp(s->sess[i].rid, rid, n) == 0 &&
            !s->sess[i].end)
            return &s->sess[i];
    return NULL;
}

static const char *
s_end_name(int end)
{
    switch (end) {
    case SRV_END_BYE:
        return "BYE";
    case SRV_END_CLOSED:
        return "its connection closed";
    case SRV_END_SLOW:
        return "it does not read (its queue is full)";
    case SRV_END_REPLACED:
        return "a newer session of its key or principal";
    default:
        return "?";
    }
}

/* Mute the connection of routing id rid (see s_mute_t): its entry, or the
 * one that ends first. */
static void
s_mute(s_srv_t *s, const uint8_t *rid, size_t n)
{
    s_mute_t *m = &s->mute[0];
    for (int i = 0; i < S_MUTES; i++) {
        s_mute_t *e = &s->mute[i];
        if (e->rid_n == n && memcmp(e->rid, rid, n) == 0) {
            m = e;
            break;
        }
        if (e->until_ms < m->until_ms)
            m = e;
    }
    memcpy(m->rid, rid, n);
    m->rid_n = n;
    m->until_ms = s_us() / 1000 + S_MUTE_MS;
}

static bool
s_muted(s_srv_t *s, const uint8_t *rid, size_t n)
{
    uint64_t now = s_us() / 1000;
    for (int i = 0; i < S_MUTES; i++) {
        const s_mute_t *e = &s->mute[i];
        if (e->rid_n == n && e->until_ms > now && memcmp(e->rid, rid, n) == 0)
            return true;
    }
    return false;
}

/* Forget the sessions that ended. */
static void
s_reap(s_srv_t *s)
{
    for (int i = s->nsess - 1; i >= 0; i--) {
        s_sess_t *x = &s->sess[i];
        if (!x->end)
            continue;
        if (x->end == SRV_END_SLOW) {
            s->dropped++;
            s_mute(s, x->rid, x->rid_n);
        }
        srv_log_peer("%s: session ended: %s", x->who, s_end_name(x->end));
        srv_snap_give(&x->snap);
        *x = s->sess[--s->nsess];
    }
}

/* Room for a session of key / principal who: the oldest of the key's
 * sessions, or else of the principal's, ends if it has too many (a store
 * that reconnects before its old connection is seen to close must not be
 * refused).  False if the table is full. */
static bool
s_sess_room(s_srv_t *s, const uint8_t key[32], const char *who)
{
    for (int pass = 0; pass < 2; pass++) {
        s_sess_t *oldest = NULL;
        int count = 0;
        for (int i = 0; i < s->nsess; i++) {
            s_sess_t *x = &s->sess[i];
            if (x->end ||
                (pass == 0 ? memcmp(x->key, key, 32) != 0 : strcmp(x->who, who) != 0))
                continue;
            count++;
            if (!oldest || x->born < oldest->born)
                oldest = x;
        }
        if ((unsigned)count >= (pass == 0 ? S_KEY_SESSIONS : S_PRINCIPAL_SESSIONS)) {
            jp_msg_t bye = {.type = JP_MSG_BYE};
            bye.bye.reason.p = "replaced by a newer session of this key or principal";
            bye.bye.reason.n = strlen(bye.bye.reason.p);
            srv_send(S_CLIENT(s, oldest), &bye);
            oldest->end = SRV_END_REPLACED;
        }
    }
    s_reap(s);
    return (unsigned)s->nsess < S_MAX_SESSIONS;
}

/* Send to client c, never waiting: a peer whose queue is full does not
 * read, and loses its session; one the ROUTER no longer knows is gone. */
static int
s_send_frames(srv_client_t *c, const void *p, size_t n)
{
    if (zmq_send(c->sock, c->rid, c->rid_n, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(c->sock, p, n, ZMQ_DONTWAIT) < 0) {
        if (c->end && !*c->end)
            *c->end = errno == EAGAIN ? SRV_END_SLOW : SRV_END_CLOSED;
        return -1;
    }
    return 0;
}

int
srv_send(srv_client_t *c, const jp_msg_t *m)
{
    jp_buf_reset(c->out);
    int rc = jp_msg_encode(m, c->out);
    if (rc) {
        srv_log("cannot encode a %s: %s", jp_msg_type_name(m->type), jp_strerror(rc));
        return -1;
    }
    return s_send_frames(c, c->out->data, c->out->len);
}

int
srv_error(srv_client_t *c, int code, uint64_t ref, const char *fmt, ...)
{
    char text[JP_MSG_MAX_TEXT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    /* Cut at a character boundary: the message must stay UTF-8. */
    size_t n = strlen(text);
    while (n > 0 && !jp_utf8_valid(text, n))
        n--;
    jp_msg_t m = {.type = JP_MSG_ERROR};
    m.error.code = code;
    m.error.ref = ref;
    m.error.message.p = text;
    m.error.message.n = n;
    char who[96];
    srv_principal(c->k, who, sizeof who);
    srv_log_peer("%s: refused (%s): %.*s", who, jp_perr_name(code), (int)n, text);
    return srv_send(c, &m);
}

void
srv_answer(srv_client_t *c, uint64_t id, const char *body, size_t n)
{
    jp_msg_t a = {.type = JP_MSG_ANSWER};
    a.answer.id = id;
    a.answer.body.p = body;
    a.answer.body.n = n;
    if (n + 64 > JP_MSG_MAX_FRAME) {
        srv_error(c, JP_PERR_INTERNAL, id, "the answer (%zu bytes) exceeds a frame", n);
        return;
    }
    srv_send(c, &a);
}

/* ---- the ZAP handler --------------------------------------------------------- */

/* Append a ZMTP metadata property (name len u8, name, value len be32,
 * value). */
static size_t
s_meta_prop(uint8_t *p, const char *name, const char *val)
{
    size_t nn = strlen(name), vn = strlen(val);
    p[0] = (uint8_t)nn;
    memcpy(p + 1, name, nn);
    p[1 + nn] = (uint8_t)(vn >> 24);
    p[2 + nn] = (uint8_t)(vn >> 16);
    p[3 + nn] = (uint8_t)(vn >> 8);
    p[4 + nn] = (uint8_t)vn;
    memcpy(p + 5 + nn, val, vn);
    return 5 + nn + vn;
}

/* Answer one ZAP request; false if none was waiting. */
static bool
s_zap(s_srv_t *s)
{
    /* Request: version, request id, domain, address, identity, mechanism,
     * credentials (CURVE: the client's 32-byte public key). */
    zmq_msg_t f[8];
    int n = 0, more = 1;
    while (more && n < 8) {
        zmq_msg_init(&f[n]);
        if (zmq_msg_recv(&f[n], s->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&f[n]);
            more = 0;
            break;
        }
        more = zmq_msg_more(&f[n]);
        n++;
    }
    while (more) { /* more frames than any request has: drain them */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        if (zmq_msg_recv(&extra, s->zap, 0) < 0)
            more = 0;
        else
            more = zmq_msg_more(&extra);
        zmq_msg_close(&extra);
    }
    const char *status = "400", *text = "malformed ZAP request";
    char user[96] = "";
    uint8_t meta[128];
    size_t metan = 0;
    if (n == 7 && zmq_msg_size(&f[5]) == 5 &&
        memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 && zmq_msg_size(&f[6]) == 32) {
        const uint8_t *key = zmq_msg_data(&f[6]);
        srv_key_t k;
        const char *why = "not enrolled";
        jp_txn_t *txn;
        int rc = jp_db_begin(s->db, false, &txn, NULL);
        if (rc == 0) {
            rc = srv_key_get(txn, key, &k);
            jp_txn_abort(&txn);
        }
        char z[JP_Z85_KEY_LEN + 1], hex[2 * 32 + 1];
        jp_curve_text(key, z);
        jp_hex(key, 32, hex);
        if (rc == 0 && srv_key_valid(&k, jp_now_ms(), &why)) {
            status = "200";
            text = "OK";
            srv_principal(&k, user, sizeof user);
            metan = s_meta_prop(meta, "X-Key", z);
        } else {
            status = "400";
            text = rc && rc != JP_ENOTFOUND ? "key lookup failed" : why;
            /* The key is public: naming it helps the operator. */
            srv_log_peer("refused a connection from key %s: %s", hex, text);
        }
    }
    if (n >= 2) {
        zmq_send(s->zap, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(s->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        zmq_send(s->zap, status, 3, ZMQ_SNDMORE);
        zmq_send(s->zap, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(s->zap, user, strlen(user), ZMQ_SNDMORE);
        zmq_send(s->zap, meta, metan, 0);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return n > 0;
}

/* ---- PUSH -------------------------------------------------------------------- */

/* The time a batch is accepted at: now, or the time of the batch before it
 * in the group log if the clock has gone back since (an NTP step, a
 * restart on a wrong clock).  The auditor refuses accepted times that run
 * backwards (docs/EXPORT.md), so an honest server never writes them.  Call
 * before the batch's entries are appended. */
static uint64_t
s_batch_ms(jp_txn_t *txn)
{
    uint64_t now = jp_now_ms(), len;
    const void *v;
    size_t vn;
    uint8_t k[8];
    jp_batch_t b;
    if (jp_txn_glog_len(txn, &len) || len == 0)
        return now;
    jp_be64_put(k, len);
    if (jp_txn_tb_get(txn, JP_TB_GLOG, k, sizeof k, &v, &vn) || vn != 10)
        return now;
    const uint8_t *e = v; /* store be16 | seq be64 */
    if (jp_txn_batch_find(txn, jp_be16_get(e), jp_be64_get(e + 2), &b))
        return now;
    return b.ms > now ? b.ms : now;
}

int
srv_sign_own(jp_txn_t *txn, const jp_key_t *key, uint64_t first, uint64_t last,
             jp_err_t *err)
{
    jp_head_t h;
    int rc = jp_txn_head(txn, 0, &h);
    if (rc)
        return jp_err_set(err, rc, "server log head unreadable");
    jp_batch_t b = {.store = 0, .first = first, .last = last, .ms = s_batch_ms(txn)};
    uint8_t msg[JP_BATCH_MSG_LEN];
    jp_batch_msg(0, first, last, h.head, msg);
    jp_key_public(key, b.pub);
    if ((rc = jp_key_sign(key, msg, sizeof msg, b.sig)))
        return jp_err_set(err, rc, "signing the server's batch failed");
    for (uint64_t q = first; q <= last; q++) {
        uint64_t pos;
        const uint8_t *p;
        size_t n;
        jp_chead_t ch;
        if ((rc = jp_txn_log_get(txn, 0, q, &p, &n)) || (rc = jp_change_peek(p, n, &ch)))
            return jp_err_set(err, rc, "server log seq %llu unreadable",
                              (unsigned long long)q);
        if ((rc = jp_txn_glog_append(txn, 0, q, &ch.id, &pos)))
            return jp_err_set(err, rc, "group log append failed");
    }
    if ((rc = jp_txn_batch_put(txn, &b)))
        return jp_err_set(err, rc, "batch record failed");
    return 0;
}

static int
s_touch(s_srv_t *s, const jp_id_t *id)
{
    if (s->ntouched == s->captouched) {
        size_t cap = s->captouched ? s->captouched * 2 : 1024;
        jp_id_t *p = realloc(s->touched, cap * sizeof *p);
        if (!p)
            return JP_ENOMEM;
        s->touched = p;
        s->captouched = cap;
    }
    s->touched[s->ntouched++] = *id;
    return 0;
}

/* Protocol error for a JP_E* from applying or committing. */
static int
s_perr_for(int rc)
{
    switch (rc) {
    case JP_ECHAIN:
        return JP_PERR_CHAIN;
    case JP_EFUTURE:
        return JP_PERR_FUTURE;
    case JP_ECORRUPT:
    case JP_ETOOBIG:
    case JP_EINVAL:
        return JP_PERR_MALFORMED;
    case JP_EFULL:
        return JP_PERR_FULL;
    default:
        return JP_PERR_INTERNAL;
    }
}

/* A change that creates a record (none here by its id) must be as a store
 * writes one (docs/FORMAT.md): its id names the writing store, and it
 * carries every field a new record of its kind needs.  JP_EINVAL (ERROR
 * malformed) if not. */
static int
s_check_create(const jp_change_t *ch, jp_err_t *err)
{
    if (jp_id_store(&ch->id) != ch->store)
        return jp_err_set(err, JP_EINVAL,
                          "store %u seq %llu: creates a record whose id is of store %u",
                          ch->store, (unsigned long long)ch->seq, jp_id_store(&ch->id));
    for (unsigned fid = 0; fid < JP_F_COUNT; fid++) {
        const jp_field_def_t *d = jp_field_def(fid);
        const jp_fval_t *f = jp_change_get(ch, fid);
        if (((d->required >> ch->kind) & 1u) && (!f || f->v.type == 0))
            return jp_err_set(
                err, JP_EINVAL, "store %u seq %llu: a new %s needs field %s", ch->store,
                (unsigned long long)ch->seq, jp_kind_name(ch->kind), d->name);
    }
    return 0;
}

/* Restored: finish taking the server's own log back if every store has
 * returned (recover.h), in the merger's transaction. */
static int
s_recover_try(s_srv_t *s, jp_txn_t *txn, jp_err_t *err)
{
    srv_recover_stat_t st;
    int rc = srv_recover_try(txn, s->key, false, &st, err);
    if (rc == 0 && st.finished)
        srv_log("recovered: %llu of the server's own changes returned by the stores, "
                "%llu dropped%s%s, %llu links made for what was merged since the backup",
                (unsigned long long)st.applied, (unsigned long long)st.dropped,
                st.why[0] ? ": " : "", st.why, (unsigned long long)st.links);
    return rc;
}

/* RETURN, on the merger thread: a store gives a restored server back the
 * server's own changes it holds (PROTOCOL.md 3, recover.h). */
static void
s_return(s_srv_t *s, srv_client_t *c, const jp_msg_t *m)
{
    if (c->k->role != SRV_ROLE_STORE) {
        srv_error(c, JP_PERR_IDENTITY, 0, "only a store returns the server's changes");
        return;
    }
    jp_txn_t *txn;
    jp_err_t err;
    uint64_t own = 0, glen = 0;
    bool recovering = false;
    unsigned conflicts = 0;
    int rc = jp_db_begin(s->db, true, &txn, &err);
    if (rc == 0)
        rc = srv_recover_keep(txn, c->k->store, &m->ret.changes, m->ret.done, &own,
                              &recovering, &conflicts, &err);
    if (rc == 0 && recovering && m->ret.done)
        rc = s_recover_try(s, txn, &err);
    if (rc == 0)
        rc = jp_txn_glog_len(txn, &glen);
    if (rc == 0)
        rc = jp_txn_commit(&txn, &err);
    jp_txn_abort(&txn);
    if (rc) {
        srv_error(c, s_perr_for(rc), 0, "return: %s", err.msg);
        return;
    }
    if (conflicts)
        srv_log("store %u returned %u of the server's changes unlike another store's "
                "(the first one returned is kept)",
                c->k->store, conflicts);
    if (recovering) {
        atomic_store(&s->log_len, glen);
        srv_reports_merged(s->reports, glen);
        srv_view_merged(s->view, glen);
    }
    jp_msg_t a = {.type = JP_MSG_RETURNED};
    a.returned.own_seq = own;
    a.returned.recovering = recovering;
    srv_send(c, &a);
}

/* A PUSH, on the merger thread (s_worker): batches are merged one at a
 * time, in the order they arrived. */
static void
s_push(s_srv_t *s, srv_client_t *c, const jp_msg_t *m)
{
    if (m->type == JP_MSG_RETURN) { /* the merger's other job */
        s_return(s, c, m);
        return;
    }
    const uint64_t bno = m->push.batch;
    if (c->k->role != SRV_ROLE_STORE) {
        srv_error(c, JP_PERR_IDENTITY, bno, "only a store's key may push");
        return;
    }
    const uint16_t store = c->k->store;
    if (m->push.store != store) {
        srv_error(c, JP_PERR_IDENTITY, bno,
                  "this key is store %u's, the batch claims store %llu", store,
                  (unsigned long long)m->push.store);
        return;
    }
    if (m->push.changes.count == 0 || m->push.first_seq == 0 ||
        m->push.last_seq - m->push.first_seq + 1 != m->push.changes.count) {
        srv_error(c, JP_PERR_CHAIN, bno, "seqs %llu..%llu do not match %u changes",
                  (unsigned long long)m->push.first_seq,
                  (unsigned long long)m->push.last_seq, m->push.changes.count);
        return;
    }

    /* 1. The signature is the store's: it covers the hash of the last
     * change, which through the chain commits to every change before. */
    jp_msg_iter_t it;
    const uint8_t *p = NULL, *lastp = NULL;
    size_t n = 0, lastn = 0;
    jp_msg_iter_init(&it, &m->push.changes);
    while (jp_msg_next_change(&it, &p, &n) > 0) {
        lastp = p;
        lastn = n;
    }
    uint8_t head[JP_HASH_LEN], bmsg[JP_BATCH_MSG_LEN];
    jp_sha256(lastp, lastn, head);
    jp_batch_msg(store, m->push.first_seq, m->push.last_seq, head, bmsg);
    if (jp_sig_verify(c->k->sign, bmsg, sizeof bmsg, m->push.sig) != 0) {
        srv_error(c, JP_PERR_SIGNATURE, bno,
                  "batch %llu..%llu: the signature is not store %u's enrolled key's",
                  (unsigned long long)m->push.first_seq,
                  (unsigned long long)m->push.last_seq, store);
        return;
    }

    /* 2. One pass, in one transaction with the group log and the receipt:
     * every change decodes, is this store's, has the next seq, continues
     * the chain (jp_txn_apply_decoded), and is merged.  The first fault
     * aborts the transaction: nothing of the batch is written. */
    jp_change_t ch;
    jp_err_t err;
    jp_txn_t *txn = NULL;
    int rc = jp_db_begin(s->db, true, &txn, &err);
    if (rc) {
        srv_error(c, s_perr_for(rc), bno, "%s", err.msg);
        return;
    }
    const uint64_t accepted_ms = s_batch_ms(txn);
    /* The key may have been revoked while the batch waited its turn: the
     * entry read in this transaction is the one that counts. */
    srv_key_t now_k;
    const char *why = "no longer enrolled";
    if (srv_key_get(txn, c->key, &now_k) != 0 ||
        !srv_key_valid(&now_k, jp_now_ms(), &why)) {
        jp_txn_abort(&txn);
        srv_error(c, JP_PERR_REVOKED, bno, "this key is %s: batch not accepted", why);
        return;
    }
    jp_head_t h;
    if ((rc = jp_txn_head(txn, store, &h)))
        goto internal;
    if (m->push.first_seq > h.seq + 1) {
        jp_txn_abort(&txn);
        srv_error(c, JP_PERR_CHAIN, bno,
                  "a gap: batch starts at seq %llu, accepted up to %llu",
                  (unsigned long long)m->push.first_seq, (unsigned long long)h.seq);
        return;
    }
    s->ntouched = 0;
    unsigned fresh = 0;
    uint64_t seq = m->push.first_seq;
    jp_msg_iter_init(&it, &m->push.changes);
    for (; jp_msg_next_change(&it, &p, &n) > 0; seq++) {
        int code = 0;
        if (jp_change_decode(p, n, &ch, &err))
            code = JP_PERR_MALFORMED;
        else if (ch.store != store)
            code = JP_PERR_IDENTITY,
            jp_err_set(&err, JP_EPERM,
                       "written as store %u: store %u writes only as itself", ch.store,
                       store);
        else if (ch.seq != seq)
            code = JP_PERR_CHAIN,
            jp_err_set(&err, JP_ECHAIN, "it says seq %llu", (unsigned long long)ch.seq);
        if (code) {
            jp_txn_abort(&txn);
            srv_error(c, code, bno, "change %llu: %s", (unsigned long long)seq, err.msg);
            return;
        }
        /* Only a change that would not do as a create (an update, or a
         * forgery) costs a lookup of its record. */
        jp_err_t cerr;
        bool bad_create = s_check_create(&ch, &cerr) != 0 &&
                          jp_txn_get(txn, &ch.id, &s->old) == JP_ENOTFOUND;
        rc = jp_txn_apply_decoded(txn, p, n, &ch, &err);
        if (rc == JP_EDUP)
            continue; /* a resent change: harmless */
        if (rc == 0 && bad_create) {
            rc = JP_EINVAL;
            err = cerr;
        }
        if (rc) {
            jp_txn_abort(&txn);
            srv_error(c, s_perr_for(rc), bno, "%s", err.msg);
            return;
        }
        fresh++;
        uint64_t pos;
        if ((rc = jp_txn_glog_append(txn, store, seq, &ch.id, &pos)))
            goto internal;
        /* A customer whose phone or ID number changed is linked below. */
        if (ch.kind == JP_K_CUSTOMER &&
            (jp_change_get(&ch, JP_F_PHONE) || jp_change_get(&ch, JP_F_ID_NUMBER) ||
             jp_change_get(&ch, JP_F_DELETED)) &&
            (rc = s_touch(s, &ch.id)))
            goto internal;
    }
    if ((rc = jp_txn_head(txn, store, &h)))
        goto internal;
    uint64_t now = accepted_ms;
    if (fresh) {
        jp_batch_t b = {.store = store,
                        .first = m->push.first_seq,
                        .last = m->push.last_seq,
                        .ms = now};
        memcpy(b.sig, m->push.sig, JP_SIG_LEN);
        memcpy(b.pub, c->k->sign, JP_PUB_LEN);
        if ((rc = jp_txn_batch_put(txn, &b)))
            goto internal;
        /* One customer across stores: link the rows this batch changed --
         * unless the server is restored and has not its own log back yet
         * (recover.h: it links them when it has). */
        jp_head_t own;
        unsigned wrote = 0;
        srv_recover_t rm;
        bool recovering = srv_recover_get(txn, &rm) == 0;
        if ((rc = jp_txn_head(txn, 0, &own)))
            goto internal;
        for (size_t i = 0; !recovering && i < s->ntouched; i++)
            if ((rc = srv_link_customer(txn, &s->touched[i], &wrote, &err)))
                goto internal_err;
        if (recovering && (rc = s_recover_try(s, txn, &err)))
            goto internal_err;
        if (wrote && (rc = srv_sign_own(txn, s->key, own.seq + 1, own.seq + wrote, &err)))
            goto internal_err;
        srv_peer_t peer;
        if (srv_peer_get(txn, store, &peer) == 0) {
            peer.last_ms = now;
            if ((rc = srv_peer_put(txn, &peer)))
                goto internal;
        }
        if ((rc = jp_txn_head(txn, store, &h)))
            goto internal;
    }
    uint64_t glen = 0;
    if (fresh && (rc = jp_txn_glog_len(txn, &glen)))
        goto internal;
    jp_receipt_t r = {.store = store, .seq = h.seq, .ms = now};
    uint8_t rmsg[JP_RECEIPT_MSG_LEN];
    jp_receipt_msg(store, h.seq, now, h.head, rmsg);
    if ((rc = jp_key_sign(s->key, rmsg, sizeof rmsg, r.sig)))
        goto internal;
    if (fresh && (rc = jp_txn_receipt_put(txn, &r)))
        goto internal;
    if ((rc = jp_txn_commit(&txn, &err))) {
        srv_error(c, s_perr_for(rc), bno, "%s", err.msg);
        return;
    }
    s->batches += fresh > 0;
    s->changes += fresh;
    if (fresh) {
        atomic_store(&s->log_len, glen); /* before the answer: hold.h's need */
        srv_reports_merged(s->reports, glen);
        srv_view_merged(s->view, glen);
    }

    jp_msg_t a = {.type = JP_MSG_RECEIPT};
    a.receipt.batch = bno;
    a.receipt.store = store;
    a.receipt.seq = h.seq;
    memcpy(a.receipt.head, h.head, JP_HASH_LEN);
    a.receipt.server_ms = now;
    memcpy(a.receipt.sig, r.sig, JP_SIG_LEN);
    srv_send(c, &a);
    return;

internal:
    jp_err_set(&err, rc, "%s", jp_strerror(rc));
internal_err:
    jp_txn_abort(&txn);
    srv_error(c, s_perr_for(rc), bno, "batch not accepted: %s", err.msg);
}

/* ---- PULL -------------------------------------------------------------------- */

#define S_VIEW_WAIT_MS 10000 /* a stream's end waits this long for a newer view */
#define S_VIEW_POLL_MS 20    /* and looks this often */
#define S_GOAL_SCAN 4096     /* entries past its view a PULL judges, at most */
#define S_MAX_PICK (JP_MSG_MAX_CHANGES / 16)

typedef struct {
    jp_txn_t *txn;
    uint16_t client;        /* the client's store */
    bool skip_own;          /* its own changes are not sent (it has them) */
    const srv_snap_t *snap; /* judge by this view; NULL: rule group, all */
    uint64_t maxbytes;
    uint64_t end; /* last position the stream may cover */
    uint64_t pos; /* last position covered */
    uint32_t count;
    uint64_t bytes;
    const uint8_t *p[S_MAX_PICK]; /* the entries picked */
    size_t n[S_MAX_PICK];
    uint16_t store[S_MAX_PICK];
    uint64_t at[S_MAX_PICK]; /* their positions */
    int rc;
} s_pick_t;

/* Add a change to the pick; false when it is full. */
static bool
s_pick_add(s_pick_t *pk, uint16_t store, uint64_t pos, const uint8_t *p, size_t n)
{
    if (pk->count == S_MAX_PICK || (pk->count && pk->bytes + n + 24 > pk->maxbytes))
        return false;
    pk->p[pk->count] = p;
    pk->n[pk->count] = n;
    pk->store[pk->count] = store;
    pk->at[pk->count] = pos;
    pk->count++;
    pk->bytes += n + 24;
    return true;
}

static int
s_pick(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_pick_t *pk = arg;
    if (kn != 8 || vn != 10) {
        pk->rc = JP_ECORRUPT;
        return 1;
    }
    uint64_t pos = jp_be64_get(k);
    if (pos > pk->end)
        return 1;
    uint16_t store = jp_be16_get(v);
    uint64_t seq = jp_be64_get(v + 2);
    if (!(pk->skip_own && store == pk->client)) {
        const uint8_t *p;
        size_t n;
        jp_chead_t h;
        int rc = jp_txn_log_get(pk->txn, store, seq, &p, &n);
        if (!rc && pk->snap && store != pk->client)
            rc = jp_change_peek(p, n, &h);
        if (rc) {
            pk->rc = rc;
            return 1;
        }
        if ((!pk->snap || store == pk->client ||
             srv_snap_visible(pk->snap, pk->client, &h.id)) &&
            !s_pick_add(pk, store, pos, p, n))
            return 1;
    }
    pk->pos = pos;
    return 0;
}

/* Encode the picked entries as m (CHANGES or RECORDS) into s->out, signed
 * for store (vouch.h).  0 or the encoder's code. */
static int
s_pick_encode(s_srv_t *s, const s_pick_t *pk, jp_msg_t *m, uint16_t store,
              const uint8_t *fetch_hash)
{
    jp_msg_builder_t b;
    jp_buf_reset(&s->out);
    int rc = jp_msg_begin(&b, &s->out, m, pk->count);
    for (uint32_t i = 0; i < pk->count; i++)
        rc = jp_msg_add_entry(&b, pk->store[i], pk->at[i], pk->p[i], pk->n[i]);
    rc = jp_msg_end(&b, m);
    return rc ? rc : jp_vouch_sign(&s->out, 0, store, fetch_hash, s->key);
}

/* The view a stream's end is judged by: the session's, or a newer one if
 * the group log has grown past it since the PULL (a link a push made);
 * false while it waits for the viewer to load that one. */
static bool
s_view_ready(s_srv_t *s, s_sess_t *x)
{
    if (srv_snap_pos(x->snap) >= x->pull_goal)
        return true;
    srv_snap_t *n = srv_view_take(s->view);
    if (srv_snap_pos(n) > srv_snap_pos(x->snap)) {
        srv_snap_give(&x->snap);
        x->snap = n;
        x->pull_since = 0;
        return srv_snap_pos(x->snap) >= x->pull_goal || s_view_ready(s, x);
    }
    srv_snap_give(&n);
    uint64_t now = jp_now_ms();
    if (!x->pull_since) {
        x->pull_since = now;
        srv_view_want(s->view, x->pull_goal);
    }
    return now - x->pull_since >= S_VIEW_WAIT_MS;
}

/* A standby's SIGNED before its CHANGES: the batch signatures that end
 * at, and the receipts given at, the entries picked (PROTOCOL.md, PULL).
 * Nothing is sent when there are none; -1 if the send failed. */
static int
s_send_sigs(s_srv_t *s, s_sess_t *x, jp_txn_t *txn, const s_pick_t *pk)
{
    static uint8_t bs[S_MAX_PICK * JP_MSG_SIGNED_BATCH], rs[S_MAX_PICK * JP_MSG_SIGNED_RECEIPT];
    size_t nb = 0, nr = 0;
    for (uint32_t i = 0; i < pk->count; i++) {
        jp_chead_t h;
        jp_batch_t b;
        const void *v;
        size_t vn;
        uint8_t k[10];
        if (jp_change_peek(pk->p[i], pk->n[i], &h))
            continue;
        if (jp_txn_batch_find(txn, h.store, h.seq, &b) == 0 && b.last == h.seq) {
            uint8_t *q = bs + nb++ * JP_MSG_SIGNED_BATCH;
            jp_be16_put(q, b.store);
            jp_be64_put(q + 2, b.first);
            jp_be64_put(q + 10, b.last);
            jp_be64_put(q + 18, b.ms);
            memcpy(q + 26, b.pub, JP_PUB_LEN);
            memcpy(q + 58, b.sig, JP_SIG_LEN);
        }
        jp_be16_put(k, h.store);
        jp_be64_put(k + 2, h.seq);
        jp_receipt_t r;
        if (jp_txn_tb_get(txn, JP_TB_RCPT, k, sizeof k, &v, &vn) == 0 &&
            jp_receipt_decode(k, sizeof k, v, vn, &r) == 0) {
            uint8_t *q = rs + nr++ * JP_MSG_SIGNED_RECEIPT;
            jp_be16_put(q, r.store);
            jp_be64_put(q + 2, r.seq);
            jp_be64_put(q + 10, r.ms);
            memcpy(q + 18, r.sig, JP_SIG_LEN);
        }
    }
    if (nb == 0 && nr == 0)
        return 0;
    jp_msg_t m = {.type = JP_MSG_SIGNED};
    m.sigs.batches = (jp_msg_str_t){(const char *)bs, nb * JP_MSG_SIGNED_BATCH};
    m.sigs.receipts = (jp_msg_str_t){(const char *)rs, nr * JP_MSG_SIGNED_RECEIPT};
    return srv_send(S_CLIENT(s, x), &m);
}

/* Send x the next CHANGES of its stream; false if it has nothing to send. */
static bool
s_pump(s_srv_t *s, s_sess_t *x)
{
    if (!x->pulling || x->pull_credit == 0 || x->revoked || x->end)
        return false;
    bool standby = x->k.role == SRV_ROLE_STANDBY;
    if (standby && x->pull_pos >= atomic_load(&s->log_len))
        return false; /* caught up: its stream waits for the log to grow */
    bool group = standby || srv_snap_rule(x->snap, x->k.store) == JP_SHARE_GROUP;
    jp_txn_t *txn;
    jp_err_t err;
    if (jp_db_begin(s->db, false, &txn, &err)) {
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, 0, "pull: %s", err.msg);
        return false;
    }
    uint64_t len;
    static s_pick_t pk; /* large; one at a time */
    pk.count = 0;
    pk.bytes = 0;
    pk.rc = 0;
    pk.txn = txn;
    pk.client = x->k.store;
    pk.skip_own = !x->pull_own;
    pk.snap = group ? NULL : x->snap;
    pk.maxbytes = s->conf->max_batch;
    pk.pos = x->pull_pos;
    int rc = jp_txn_glog_len(txn, &len);
    pk.end = group ? len : srv_snap_pos(x->snap);
    if (rc == 0 && x->pull_pos < pk.end) {
        uint8_t k[8];
        jp_be64_put(k, x->pull_pos + 1);
        rc = jp_txn_tb_each(txn, JP_TB_GLOG, k, 8, s_pick, &pk);
        if (rc > 0)
            rc = pk.rc;
    }
    jp_msg_t m = {.type = JP_MSG_CHANGES};
    m.changes.from_pos = x->pull_pos + 1;
    m.changes.to_pos = pk.pos;
    m.changes.more = pk.pos < pk.end;
    if (standby && rc == 0) { /* its stream never ends: nothing new, nothing sent */
        if (pk.count == 0) {
            jp_txn_abort(&txn);
            return false;
        }
        m.changes.more = true;
    }
    /* The end waits for the view of the log as it was at the PULL; when a
     * newer view comes, the stream goes on to its position. */
    if (rc == 0 && !m.changes.more && !group) {
        if (!s_view_ready(s, x)) {
            if (pk.count == 0) {
                jp_txn_abort(&txn);
                return false;
            }
            m.changes.more = true;
        } else if (srv_snap_pos(x->snap) > pk.pos) {
            m.changes.more = true;
        }
    }
    if (rc == 0 && !m.changes.more) {
        if (group) {
            m.changes.view_count = UINT64_MAX; /* the store holds the whole log */
        } else {
            const jp_id_t *ids;
            size_t n;
            rc = srv_snap_view(x->snap, x->k.store, &ids, &n, m.changes.view_hash);
            m.changes.view_count = n;
        }
    }
    if (rc == 0 && standby && s_send_sigs(s, x, txn, &pk) < 0) {
        jp_txn_abort(&txn);
        return false;
    }
    if (rc == 0)
        rc = s_pick_encode(s, &pk, &m, x->k.store, NULL);
    jp_txn_abort(&txn);
    if (rc) {
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, 0, "pull: %s", jp_strerror(rc));
        x->pulling = false;
        return false;
    }
    if (s_send_frames(S_CLIENT(s, x), s->out.data, s->out.len) < 0)
        return false;
    x->pull_pos = pk.pos;
    x->pull_credit--;
    if (standby && x->nsent < JP_MSG_MAX_CREDIT) {
        x->sent[(x->sent_head + x->nsent) % JP_MSG_MAX_CREDIT] = pk.pos;
        x->nsent++;
    }
    if (!m.changes.more)
        x->pulling = false;
    return true;
}

/* VIEW: the ids of the store's view, after `after`, from the PULL's view. */
static void
s_view(s_srv_t *s, s_sess_t *x, const jp_msg_t *m)
{
    if (x->k.role != SRV_ROLE_STORE) {
        srv_error(S_CLIENT(s, x), JP_PERR_FORBIDDEN, 0, "only a store has a view");
        return;
    }
    if (!x->snap) {
        srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, 0, "VIEW comes after a PULL");
        return;
    }
    const jp_id_t *ids;
    size_t n, i = 0;
    jp_msg_t a = {.type = JP_MSG_VIEWIDS};
    uint8_t hash[JP_HASH_LEN];
    int rc = srv_snap_view(x->snap, x->k.store, &ids, &n, hash);
    if (!rc) {
        jp_id_t after;
        memcpy(after.b, m->view.after, 16);
        /* the first id past after: a binary search */
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (jp_id_cmp(&ids[mid], &after) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        i = lo;
        size_t k = n - i < JP_MSG_MAX_IDS ? n - i : JP_MSG_MAX_IDS;
        memcpy(a.viewids.after, m->view.after, 16);
        a.viewids.ids = (jp_msg_str_t){(const char *)(ids + i), k * 16};
        a.viewids.more = i + k < n;
        a.viewids.view_pos = srv_snap_pos(x->snap);
        jp_buf_reset(&s->out);
        rc = jp_msg_encode(&a, &s->out);
        if (!rc)
            rc = jp_vouch_sign(&s->out, 0, x->k.store, NULL, s->key);
    }
    if (rc) {
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, 0, "view: %s", jp_strerror(rc));
        return;
    }
    s_send_frames(S_CLIENT(s, x), s->out.data, s->out.len);
}

typedef struct {
    s_srv_t *s;
    s_sess_t *x;
    s_pick_t *pk;
    const uint8_t *fetch_hash;
} s_fetch_t;

/* Send what the pick holds as a RECORDS (more: others follow). */
static int
s_fetch_flush(s_fetch_t *f, bool more)
{
    jp_msg_t a = {.type = JP_MSG_RECORDS};
    a.records.more = more;
    int rc = s_pick_encode(f->s, f->pk, &a, f->x->k.store, f->fetch_hash);
    if (rc)
        return rc;
    if (s_send_frames(S_CLIENT(f->s, f->x), f->s->out.data, f->s->out.len) < 0)
        return JP_EIO;
    f->pk->count = 0;
    f->pk->bytes = 0;
    return 0;
}

static int
s_fetch_pos(void *arg, uint64_t pos)
{
    s_fetch_t *f = arg;
    uint16_t store;
    uint64_t seq;
    const uint8_t *p;
    size_t n;
    int rc = jp_txn_glog_get(f->pk->txn, pos, &store, &seq);
    if (!rc)
        rc = jp_txn_log_get(f->pk->txn, store, seq, &p, &n);
    if (!rc && !s_pick_add(f->pk, store, pos, p, n)) {
        rc = s_fetch_flush(f, true);
        if (!rc)
            s_pick_add(f->pk, store, pos, p, n);
    }
    return rc;
}

/* FETCH: every change of the records asked that the store may see. */
static void
s_fetch(s_srv_t *s, s_sess_t *x, const jp_msg_t *m)
{
    size_t n = m->fetch.ids.n / 16;
    if (x->k.role != SRV_ROLE_STORE) {
        srv_error(S_CLIENT(s, x), JP_PERR_FORBIDDEN, 0, "only a store fetches records");
        return;
    }
    if (!x->snap) {
        srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, 0, "FETCH comes after a PULL");
        return;
    }
    if (n > JP_MSG_MAX_FETCH) {
        srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, 0, "FETCH of %zu ids: at most %u", n,
                  JP_MSG_MAX_FETCH);
        return;
    }
    uint8_t fh[JP_HASH_LEN];
    jp_sha256(m->fetch.ids.p, m->fetch.ids.n, fh);
    jp_txn_t *txn;
    static s_pick_t pk;
    memset(&pk, 0, offsetof(s_pick_t, p));
    pk.maxbytes = s->conf->max_batch;
    int rc = jp_db_begin(s->db, false, &txn, NULL);
    pk.txn = txn;
    s_fetch_t f = {s, x, &pk, fh};
    for (size_t i = 0; i < n && !rc; i++) {
        jp_id_t id;
        memcpy(id.b, m->fetch.ids.p + 16 * i, 16);
        /* what the store may not see is not sent: its view then differs */
        if (srv_snap_visible(x->snap, x->k.store, &id))
            rc = jp_txn_glog_of(txn, &id, s_fetch_pos, &f);
    }
    if (!rc)
        rc = s_fetch_flush(&f, false);
    jp_txn_abort(&txn);
    if (rc && rc != JP_EIO)
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, 0, "fetch: %s", jp_strerror(rc));
}

static void
s_status(s_srv_t *s, s_sess_t *x, const jp_msg_t *m, jp_txn_t *txn)
{
    uint64_t len = 0;
    jp_txn_glog_len(txn, &len);
    uint8_t d[JP_HASH_LEN];
    char hex[2 * JP_HASH_LEN + 1] = "";
    if (jp_txn_digest(txn, d) == 0)
        jp_hex(d, sizeof d, hex);
    int live = 0;
    for (int i = 0; i < s->nsess; i++)
        live += !s->sess[i].end;
    char body[512];
    int n = snprintf(body, sizeof body,
                     "{\"group_pos\":%llu,\"digest\":\"%s\",\"sessions\":%d,"
                     "\"dropped\":%llu}",
                     (unsigned long long)len, hex, live, (unsigned long long)s->dropped);
    srv_answer(S_CLIENT(s, x), m->query.id, body, (size_t)n);
}

static int
s_peer_json(void *arg, const srv_peer_t *p)
{
    json_t *o = json_pack("{s:i, s:s, s:s, s:s}", "store", (json_int_t)p->store, "code",
                          p->code, "name", p->name, "region", p->region);
    return o && json_array_append_new(arg, o) == 0 ? 0 : JP_ENOMEM;
}

/* The group's stores (number, code, name, region): not personal data, for
 * any principal, so that screens name a store by its code. */
static void
s_stores(s_srv_t *s, s_sess_t *x, const jp_msg_t *m, jp_txn_t *txn)
{
    json_t *list = json_array();
    char *body = NULL;
    if (list && srv_peers_each(txn, s_peer_json, list) == 0)
        body = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    if (!body) {
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, m->query.id, "stores: out of memory");
        return;
    }
    srv_answer(S_CLIENT(s, x), m->query.id, body, strlen(body));
    free(body);
}

/* ---- workers ----------------------------------------------------------------- */

/* A message handed to a worker, with the client it came from. */
typedef struct {
    uint8_t rid[S_MAX_RID];
    size_t rid_n;
    uint8_t key[32];
    srv_key_t k;
    zmq_msg_t frame;
    /* The pipe orders the handover; this flag, stored before the job is
     * sent and loaded after it is received, says so to ThreadSanitizer,
     * which cannot see into libzmq. */
    atomic_bool handed;
} s_job_t;

/* A worker's loop: one job at a time, in the order handed over; a NULL
 * job ends it.  Once the server is stopping, jobs not begun are dropped
 * (their clients resend: nothing was answered). */
static void *
s_worker(void *arg)
{
    s_worker_t *w = arg;
    for (;;) {
        s_job_t *job;
        int n = zmq_recv(w->end, &job, sizeof job, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (int)sizeof job || !job)
            break;
        (void)atomic_load_explicit(&job->handed, memory_order_acquire);
        jp_msg_t m;
        jp_err_t err;
        if (!atomic_load(&w->s->stopping) &&
            jp_msg_decode(zmq_msg_data(&job->frame), zmq_msg_size(&job->frame), &m,
                          &err) == 0) {
            srv_client_t c = {w->end,   &w->out, job->rid, job->rid_n,
                              job->key, &job->k, NULL};
            uint64_t t0 = s_us();
            w->handle(w->s, &c, &m);
            w->busy_us += s_us() - t0;
        }
        zmq_msg_close(&job->frame);
        free(job);
        zmq_send(w->end, "", 0, 0); /* done */
    }
    return NULL;
}

/* Hand session x's message (frame, moved) to worker w; -1 if it could
 * not (the client was told). */
static int
s_hand(s_srv_t *s, s_worker_t *w, s_sess_t *x, uint64_t ref, zmq_msg_t *frame)
{
    s_job_t *job = malloc(sizeof *job);
    if (!job) {
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, ref, "out of memory");
        return -1;
    }
    memcpy(job->rid, x->rid, x->rid_n);
    job->rid_n = x->rid_n;
    memcpy(job->key, x->key, 32);
    job->k = x->k;
    zmq_msg_init(&job->frame);
    zmq_msg_move(&job->frame, frame);
    atomic_store_explicit(&job->handed, true, memory_order_release);
    if (zmq_send(w->pipe, &job, sizeof job, 0) != (int)sizeof job) {
        zmq_msg_close(&job->frame);
        free(job);
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, ref, "%s: %s", w->name,
                  zmq_strerror(errno));
        return -1;
    }
    w->pending++;
    return 0;
}

/* ---- a synchronous standby (hold.h) ------------------------------------------ */

#define S_HOLD_CAP 65536 /* answers held at most: past that, the standby is not waited for */

/* Send the held answers the standby now holds (all: every one). */
static void
s_release(s_srv_t *s, uint64_t acked, bool all)
{
    srv_held_t h;
    while (srv_hold_take(s->hold, acked, all, &h)) {
        s_sess_t *x = s_sess_find(s, h.rid, h.rid_n);
        if (x && x->pushes > 0)
            x->pushes--;
        srv_client_t c = {s->router, NULL, h.rid, h.rid_n, NULL, NULL, x ? &x->end : NULL};
        s_send_frames(&c, h.body, h.n);
        srv_held_done(&h);
    }
}

/* Whether a merger's answer waits for the standby (then it is held).
 * Answers keep their order: once one is held, the later ones are too. */
static bool
s_hold(s_srv_t *s, zmq_msg_t *rid, zmq_msg_t *body)
{
    if (!s->conf->sync_standby || atomic_load(&s->standby))
        return false;
    if (s->sync_degraded) {
        s_release(s, 0, true);
        return false;
    }
    int rc = srv_hold_put(s->hold, zmq_msg_data(rid), zmq_msg_size(rid), zmq_msg_data(body),
                          zmq_msg_size(body), atomic_load(&s->log_len), jp_now_ms(),
                          S_HOLD_CAP);
    if (rc) {
        s->sync_degraded = true;
        srv_log("synchronous standby: %s: receipts no longer wait for it",
                rc == JP_EFULL ? "too far behind" : "out of memory");
        s_release(s, 0, true);
        return false;
    }
    return true;
}

/* Every sweep: held answers older than sync_wait_ms go out without the
 * standby (it is down or slow: the configured degradation), and a standby
 * that has caught up is waited for again. */
static void
s_hold_sweep(s_srv_t *s)
{
    if (!s->conf->sync_standby)
        return;
    uint64_t oldest = srv_hold_oldest_ms(s->hold), len = atomic_load(&s->log_len);
    if (oldest && jp_now_ms() - oldest >= s->conf->sync_wait_ms) {
        s->sync_degraded = true;
        srv_log("synchronous standby: no acknowledgement in %u ms: receipts no longer wait "
                "for it until it has caught up",
                s->conf->sync_wait_ms);
        s_release(s, 0, true);
    }
    if (!s->sync_degraded)
        return;
    for (int i = 0; i < s->nsess; i++)
        if (s->sess[i].k.role == SRV_ROLE_STANDBY && !s->sess[i].end &&
            s->sess[i].pulling && s->sess[i].acked_pos >= len) {
            s->sync_degraded = false;
            srv_log("synchronous standby: caught up at %llu: receipts wait for it again",
                    (unsigned long long)len);
            return;
        }
}

/* A standby's CREDIT: it has committed its oldest CHANGES not acknowledged. */
static void
s_standby_ack(s_srv_t *s, s_sess_t *x)
{
    if (x->nsent == 0)
        return;
    uint64_t to = x->sent[x->sent_head];
    x->sent_head = (x->sent_head + 1) % JP_MSG_MAX_CREDIT;
    x->nsent--;
    if (to > x->acked_pos)
        x->acked_pos = to;
    if (s->conf->sync_standby && !s->sync_degraded)
        s_release(s, x->acked_pos, false);
}

/* Send on to the clients what worker w answered; count the jobs done.  A
 * merger's answer (RECEIPT or ERROR: one a PUSH) gives its client a credit
 * back before the client can see it. */
static void
s_forward(s_srv_t *s, s_worker_t *w)
{
    for (;;) {
        zmq_msg_t rid, body;
        zmq_msg_init(&rid);
        if (zmq_msg_recv(&rid, w->pipe, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&rid);
            return;
        }
        if (!zmq_msg_more(&rid)) { /* a job done */
            w->pending--;
            zmq_msg_close(&rid);
            continue;
        }
        zmq_msg_init(&body);
        zmq_msg_recv(&body, w->pipe, 0); /* the pair arrives whole */
        if (w == &s->merger && s_hold(s, &rid, &body)) {
            zmq_msg_close(&rid);
            zmq_msg_close(&body);
            continue;
        }
        s_sess_t *x = s_sess_find(s, zmq_msg_data(&rid), zmq_msg_size(&rid));
        if (w == &s->merger && x && x->pushes > 0)
            x->pushes--;
        /* Never waiting: a client that does not read loses its session.
         * One whose session ended is still answered if it can be. */
        srv_client_t c = {s->router, NULL, zmq_msg_data(&rid), zmq_msg_size(&rid),
                          NULL,      NULL, x ? &x->end : NULL};
        s_send_frames(&c, zmq_msg_data(&body), zmq_msg_size(&body));
        zmq_msg_close(&rid);
        zmq_msg_close(&body);
    }
}

static int
s_worker_start(s_srv_t *s, s_worker_t *w, const char *name,
               void (*handle)(s_srv_t *, srv_client_t *, const jp_msg_t *), jp_err_t *err)
{
    char ep[64];
    int zero = 0;
    snprintf(ep, sizeof ep, "inproc://jipan-%s", name);
    w->s = s;
    w->name = name;
    w->handle = handle;
    w->pipe = zmq_socket(s->ctx, ZMQ_PAIR);
    w->end = zmq_socket(s->ctx, ZMQ_PAIR);
    /* No high-water mark: the main thread bounds what it hands over, and
     * a worker must never block on its replies (the main thread might be
     * blocked handing it a job). */
    if (!w->pipe || !w->end || zmq_setsockopt(w->pipe, ZMQ_SNDHWM, &zero, sizeof zero) ||
        zmq_setsockopt(w->pipe, ZMQ_RCVHWM, &zero, sizeof zero) ||
        zmq_setsockopt(w->end, ZMQ_SNDHWM, &zero, sizeof zero) ||
        zmq_setsockopt(w->end, ZMQ_RCVHWM, &zero, sizeof zero) ||
        zmq_setsockopt(w->pipe, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_setsockopt(w->end, ZMQ_LINGER, &zero, sizeof zero) || zmq_bind(w->pipe, ep) ||
        zmq_connect(w->end, ep))
        return jp_err_set(err, JP_EIO, "%s pipe: %s", name, zmq_strerror(errno));
    if (pthread_create(&w->thread, NULL, s_worker, w))
        return jp_err_set(err, JP_EIO, "cannot start the %s thread", name);
    w->on = true;
    return 0;
}

/* End worker w: it finishes the job it is on and drops the others. */
static void
s_worker_stop(s_worker_t *w)
{
    if (w->on) {
        s_job_t *none = NULL;
        zmq_send(w->pipe, &none, sizeof none, 0);
        pthread_join(w->thread, NULL);
        w->on = false;
    }
    if (w->pipe)
        zmq_close(w->pipe);
    if (w->end)
        zmq_close(w->end);
    w->pipe = w->end = NULL;
    jp_buf_free(&w->out);
}

/* ---- QUERY: which thread answers ----------------------------------------------- */

/* The arguments each query takes (PROTOCOL.md 3): any other is refused. */
static const char *const s_report_args[] = {"scope",  "as_of", "filter",
                                            "format", "table", NULL};
static const char *const s_at_risk_args[] = {"scope",  "as_of", "format",
                                             "offset", "limit", NULL};
static const char *const s_series_args[] = {"scope", "as_of", "filter", "months", NULL};
static const char *const s_no_args[] = {NULL};

static void
s_query(s_srv_t *s, s_sess_t *x, const jp_msg_t *m, zmq_msg_t *frame)
{
    const jp_msg_str_t *w = &m->query.what;
    void (*fn)(s_srv_t *, s_sess_t *, const jp_msg_t *, jp_txn_t *) = NULL;
    bool at_risk = w->n == 7 && memcmp(w->p, "at_risk", 7) == 0;
    bool series = w->n == 6 && memcmp(w->p, "series", 6) == 0;
    bool report = at_risk || series || (w->n == 6 && memcmp(w->p, "report", 6) == 0);
    if (w->n == 6 && memcmp(w->p, "status", 6) == 0)
        fn = s_status;
    else if (w->n == 6 && memcmp(w->p, "stores", 6) == 0)
        fn = s_stores;
    if (!fn && !report) {
        srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, m->query.id,
                  "unknown query '%.*s' (report, series, at_risk, status, stores)",
                  (int)(w->n > 32 ? 32 : w->n), w->p);
        return;
    }
    const char *const *known = at_risk  ? s_at_risk_args
                               : series ? s_series_args
                               : report ? s_report_args
                                        : s_no_args;
    for (uint32_t i = 0; i < m->query.args.n; i++) {
        const jp_msg_str_t *k = &m->query.args.v[i].key;
        int j = 0;
        while (known[j] &&
               !(strlen(known[j]) == k->n && memcmp(known[j], k->p, k->n) == 0))
            j++;
        if (!known[j]) {
            srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, m->query.id,
                      "%.*s takes %s; not '%.*s'", (int)w->n, w->p,
                      at_risk  ? "scope, as_of, format, offset, limit"
                      : series ? "scope, as_of, filter, months"
                      : report ? "scope, as_of, filter, format, table"
                               : "no argument",
                      (int)(k->n > 32 ? 32 : k->n), k->p);
            return;
        }
    }
    jp_txn_t *txn;
    if (jp_db_begin(s->db, false, &txn, NULL)) {
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, m->query.id, "query: database");
        return;
    }
    bool done = true;
    if (fn)
        fn(s, x, m, txn);
    else
        done = srv_reports_ahead(s->reports, S_CLIENT(s, x), m, txn);
    jp_txn_abort(&txn);
    if (done)
        return;
    if (s->reporter.pending >= S_MAX_REPORTS)
        srv_error(S_CLIENT(s, x), JP_PERR_BUSY, m->query.id,
                  "%d reports are waiting: ask again shortly", s->reporter.pending);
    else
        s_hand(s, &s->reporter, x, m->query.id, frame);
}

/* ---- a message ------------------------------------------------------------------ */

/* HELLO from c (a session's, or a connection without one): the session
 * begins, or begins again, at the WELCOME.  The connection's socket (fd)
 * lets its close end the session. */
static void
s_hello(s_srv_t *s, s_sess_t *c, bool live, const jp_msg_t *m, int fd)
{
    if (m->hello.min_version > JP_PROTO_VERSION ||
        m->hello.max_version < JP_PROTO_VERSION) {
        srv_error(S_CLIENT(s, c), JP_PERR_VERSION, 0,
                  "this server speaks version %d only", JP_PROTO_VERSION);
        return;
    }
    bool is_store = c->k.role == SRV_ROLE_STORE;
    if (m->hello.store != (is_store ? c->k.store : 0)) {
        srv_error(S_CLIENT(s, c), JP_PERR_IDENTITY, 0,
                  "this key is %s%u's, HELLO says store %llu",
                  is_store ? "store " : "not a store's: ", is_store ? c->k.store : 0,
                  (unsigned long long)m->hello.store);
        return;
    }
    jp_txn_t *txn;
    jp_head_t h = {0};
    uint64_t len = 0;
    int rc = jp_db_begin(s->db, false, &txn, NULL);
    if (rc == 0) {
        if (is_store)
            rc = jp_txn_head(txn, c->k.store, &h);
        if (rc == 0)
            rc = jp_txn_glog_len(txn, &len);
        /* Restored and taking its own log back (recover.h): a store that
         * has not returned what it holds is told 0, so that it does. */
        if (rc == 0 && is_store && !srv_recover_returned(txn, c->k.store))
            len = 0;
        jp_txn_abort(&txn);
    }
    if (rc) {
        srv_error(S_CLIENT(s, c), JP_PERR_INTERNAL, 0, "hello: %s", jp_strerror(rc));
        return;
    }
    s_sess_t *x = c;
    if (!live) {
        char who[96];
        srv_principal(&c->k, who, sizeof who);
        if (!s_sess_room(s, c->key, who)) {
            srv_error(S_CLIENT(s, c), JP_PERR_BUSY, 0,
                      "the server has %u sessions: try again later", S_MAX_SESSIONS);
            return;
        }
        x = &s->sess[s->nsess++];
        *x = *c;
        memcpy(x->who, who, sizeof who);
        x->fd = fd;
        x->born = ++s->births;
    }
    jp_msg_t a = {.type = JP_MSG_WELCOME};
    a.welcome.version = JP_PROTO_VERSION;
    memcpy(a.welcome.server_pub, s->pub, JP_PUB_LEN);
    a.welcome.acked_seq = h.seq;
    memcpy(a.welcome.acked_head, h.head, JP_HASH_LEN);
    a.welcome.group_pos = len;
    a.welcome.server_ms = jp_now_ms();
    a.welcome.credit = s->conf->credit;
    a.welcome.max_batch = s->conf->max_batch;
    a.welcome.term = atomic_load(&s->term);
    x->pulling = false;
    /* A partner's watch says HELLO again every 5 s (standby.h): not a line each. */
    if (!live || x->k.role != SRV_ROLE_STANDBY)
        srv_log_peer("%s: session %s (acked seq %llu, group log %llu)", x->who,
                     live ? "begun again" : "opened", (unsigned long long)h.seq,
                     (unsigned long long)len);
    srv_send(S_CLIENT(s, x), &a);
}

/* Re-read x's key entry: a revocation by another process shows here. */
static bool
s_still_valid(s_srv_t *s, s_sess_t *x)
{
    jp_txn_t *txn;
    const char *why = "revoked";
    int rc = jp_db_begin(s->db, false, &txn, NULL);
    if (rc == 0) {
        rc = srv_key_get(txn, x->key, &x->k);
        jp_txn_abort(&txn);
    }
    if (rc == 0 && srv_key_valid(&x->k, jp_now_ms(), &why))
        return true;
    if (!x->revoked) {
        x->revoked = true;
        x->pulling = false;
        srv_error(S_CLIENT(s, x), JP_PERR_REVOKED, 0, "this key is %s",
                  rc ? "no longer enrolled" : why);
    }
    return false;
}

typedef struct {
    jp_txn_t *txn;
    const srv_snap_t *snap;
    uint16_t client;
    uint64_t end;
    uint64_t last; /* position of the last change that may concern client, 0 */
    uint32_t left; /* entries the scan may still read */
} s_goal_t;

static int
s_goal_at(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_goal_t *g = arg;
    if (kn != 8 || vn != 10 || jp_be64_get(k) > g->end)
        return 1;
    if (g->left-- == 0) { /* too far behind to judge: wait for it all */
        g->last = g->end;
        return 1;
    }
    uint16_t store = jp_be16_get(v);
    const uint8_t *p;
    size_t n;
    jp_chead_t h;
    if (store == 0 || jp_txn_log_get(g->txn, store, jp_be64_get(v + 2), &p, &n) ||
        jp_change_peek(p, n, &h))
        g->last = jp_be64_get(k);
    else if (store == g->client
                 ? h.kind == JP_K_LINK || h.kind == JP_K_VEHICLE || h.kind == JP_K_SERVICE
                 : srv_snap_may_see(g->snap, g->client, &h.id))
        g->last = jp_be64_get(k);
    return 0;
}

/* The position a stream's end must be judged at: the last change in
 * (the view's position, len] that may change what the store sees or
 * holds -- a link (a push of this round may have made it, and it gives
 * the store a person's records), a change of a record it sees or of one
 * the view does not know yet, its own unlink, sale or visit (a person
 * parted, a VIN opened) -- or the view's own position if there is none
 * (its other own changes, changes of records it does not see): then the
 * stream need not wait for a newer view.  Past S_GOAL_SCAN entries it
 * waits for one rather than read on (the main thread must not scan the
 * log), which also keeps the range short: a load is asked for only then
 * or for a change that concerns the store (asking one at every PULL kept
 * the viewer loading without end and starved a storm of handshakes:
 * test_server's 5,000 connections, 1,050 answered beside test_crash). */
static uint64_t
s_goal(s_srv_t *s, const s_sess_t *x, uint64_t len)
{
    s_goal_t g = {NULL, x->snap, x->k.store, len, 0, S_GOAL_SCAN};
    uint64_t from = srv_snap_pos(x->snap);
    if (from >= len)
        return from;
    if (jp_db_begin(s->db, false, &g.txn, NULL))
        return len;
    uint8_t k[8];
    jp_be64_put(k, from + 1);
    jp_txn_tb_each(g.txn, JP_TB_GLOG, k, 8, s_goal_at, &g);
    jp_txn_abort(&g.txn);
    return g.last > from ? g.last : from;
}

/* PULL: a store's stream of the group log (PROTOCOL.md 3). */
static void
s_pull(s_srv_t *s, s_sess_t *x, const jp_msg_t *m)
{
    bool standby = x->k.role == SRV_ROLE_STANDBY; /* it follows all of it */
    if (x->k.role != SRV_ROLE_STORE && !standby) {
        srv_error(S_CLIENT(s, x), JP_PERR_FORBIDDEN, 0,
                  "only a store's key may pull the group log (%s reads by QUERY)",
                  x->who);
        return;
    }
    if (m->pull.credit > JP_MSG_MAX_CREDIT) {
        srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, 0, "PULL credit %llu: at most %u",
                  (unsigned long long)m->pull.credit, JP_MSG_MAX_CREDIT);
        return;
    }
    jp_txn_t *txn;
    uint64_t len = 0;
    int rc = jp_db_begin(s->db, false, &txn, NULL);
    if (rc == 0) {
        rc = jp_txn_glog_len(txn, &len);
        jp_txn_abort(&txn);
    }
    if (rc) {
        srv_error(S_CLIENT(s, x), JP_PERR_INTERNAL, 0, "pull: %s", jp_strerror(rc));
        return;
    }
    if (m->pull.after_pos > len) {
        srv_error(S_CLIENT(s, x), JP_PERR_CHAIN, 0,
                  "after_pos %llu is beyond the group log (%llu entries)",
                  (unsigned long long)m->pull.after_pos, (unsigned long long)len);
        return;
    }
    x->pulling = true;
    x->pull_pos = m->pull.after_pos;
    x->pull_own = m->pull.own || standby;
    x->nsent = x->sent_head = 0;
    if (standby)
        x->acked_pos = m->pull.after_pos; /* it holds what it pulls after */
    x->pull_credit = m->pull.credit;
    x->pull_since = 0;
    srv_snap_give(&x->snap);
    x->snap = srv_view_take(s->view);
    x->pull_goal = standby || srv_snap_rule(x->snap, x->k.store) == JP_SHARE_GROUP
                       ? 0
                       : s_goal(s, x, len);
}

/* A message from the connection of routing id rid, whose socket is fd;
 * frames: how many the message had (one is right). */
static void
s_message(s_srv_t *s, const uint8_t *rid, size_t ridn, zmq_msg_t *frame, int frames)
{
    const char *z = zmq_msg_gets(frame, "X-Key");
    uint8_t key[32];
    if (!z || !jp_curve_parse(z, key))
        return; /* not through our ZAP handler: cannot happen with CURVE on */
    s_sess_t *x = s_sess_find(s, rid, ridn), c;
    if (x && memcmp(x->key, key, 32) != 0) {
        x->end = SRV_END_CLOSED; /* a routing id reused by another key's connection */
        x = NULL;
    }
    bool live = x != NULL;
    if (!live) { /* no session: answered from the key alone */
        memset(&c, 0, sizeof c);
        memcpy(c.rid, rid, ridn);
        c.rid_n = ridn;
        memcpy(c.key, key, 32);
        c.fd = -1;
        x = &c;
    }
    if (x->revoked) {
        /* PROTOCOL.md 5: every message of a revoked session gets this. */
        srv_error(S_CLIENT(s, x), JP_PERR_REVOKED, 0,
                  "this key was revoked: nothing more is accepted");
        return;
    }
    if (!s_still_valid(s, x))
        return;
    if (frames != 1) {
        srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, 0,
                  "a message is one frame, this one had %d", frames);
        return;
    }

    jp_msg_t m;
    jp_err_t err;
    int rc = jp_msg_decode(zmq_msg_data(frame), zmq_msg_size(frame), &m, &err);
    if (rc) {
        srv_error(S_CLIENT(s, x), jp_msg_perr(rc), 0, "%s", err.msg);
        return;
    }
    /* A standby serves no store (standby.h): its HELLO is refused, so that
     * a store with both endpoints moves on to the other; a session begun
     * before a promotion's end cannot be, but is refused the same. */
    bool standby = atomic_load(&s->standby);
    if ((standby || atomic_load(&s->fenced)) && x->k.role == SRV_ROLE_STORE &&
        m.type != JP_MSG_PING && m.type != JP_MSG_PONG && m.type != JP_MSG_BYE &&
        m.type != JP_MSG_QUERY) {
        srv_error(S_CLIENT(s, x), JP_PERR_FORBIDDEN, m.type == JP_MSG_PUSH ? m.push.batch : 0,
                  standby ? "this server is the group's standby (read-only): sync with the "
                            "primary"
                          : "this server is a superseded primary (read-only): sync with the "
                            "group's primary");
        return;
    }
    if (m.type == JP_MSG_HELLO) {
        s_hello(s, x, live, &m, zmq_msg_get(frame, ZMQ_SRCFD));
        return;
    }
    if (!live) {
        srv_error(S_CLIENT(s, x), JP_PERR_NO_HELLO, 0, "send HELLO first");
        if (x->end == SRV_END_SLOW)
            s_mute(s, rid, ridn);
        return;
    }
    switch (m.type) {
    case JP_MSG_PUSH:
        /* PROTOCOL.md 3: at most max_batch bytes of changes, as WELCOME said. */
        if (m.push.changes.len > s->conf->max_batch)
            srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, m.push.batch,
                      "batch of %zu bytes of changes: max_batch is %u",
                      m.push.changes.len, s->conf->max_batch);
        /* PROTOCOL.md 3: at most `credit` batches unanswered. */
        else if (x->pushes >= s->conf->credit)
            srv_error(S_CLIENT(s, x), JP_PERR_BUSY, m.push.batch,
                      "%u batches in flight already: wait for their receipts", x->pushes);
        else if (s_hand(s, &s->merger, x, m.push.batch, frame) == 0)
            x->pushes++;
        break;
    case JP_MSG_RETURN:
        /* As a PUSH: at most max_batch bytes, within the credit, merged in order. */
        if (m.ret.changes.len > s->conf->max_batch)
            srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, 0,
                      "RETURN of %zu bytes of changes: max_batch is %u",
                      m.ret.changes.len, s->conf->max_batch);
        else if (x->pushes >= s->conf->credit)
            srv_error(S_CLIENT(s, x), JP_PERR_BUSY, 0,
                      "%u batches in flight already: wait for their answers", x->pushes);
        else if (s_hand(s, &s->merger, x, 0, frame) == 0)
            x->pushes++;
        break;
    case JP_MSG_PULL:
        s_pull(s, x, &m);
        break;
    case JP_MSG_CREDIT:
        /* With no stream open, ignored: the stream may have ended (more
         * false) while this CREDIT was on the wire. */
        if (!x->pulling)
            break;
        if (m.credit.credit > JP_MSG_MAX_CREDIT - x->pull_credit) {
            srv_error(S_CLIENT(s, x), JP_PERR_MALFORMED, 0,
                      "CREDIT %llu: the stream would have more than %u",
                      (unsigned long long)m.credit.credit, JP_MSG_MAX_CREDIT);
            break;
        }
        x->pull_credit += m.credit.credit;
        /* A standby's is also its acknowledgement, one a CHANGES sent. */
        for (uint64_t i = 0; x->k.role == SRV_ROLE_STANDBY && i < m.credit.credit; i++)
            s_standby_ack(s, x);
        break;
    case JP_MSG_VIEW:
        s_view(s, x, &m);
        break;
    case JP_MSG_FETCH:
        s_fetch(s, x, &m);
        break;
    case JP_MSG_PING: {
        jp_msg_t a = {.type = JP_MSG_PONG};
        a.pong.ms = m.ping.ms;
        srv_send(S_CLIENT(s, x), &a);
        break;
    }
    case JP_MSG_PONG:
        break;
    case JP_MSG_QUERY:
        if (x->k.role == SRV_ROLE_STANDBY)
            srv_error(S_CLIENT(s, x), JP_PERR_FORBIDDEN, m.query.id,
                      "a standby's key follows the group log; it does not ask");
        else
            s_query(s, x, &m, frame);
        break;
    case JP_MSG_BYE:
        x->end = SRV_END_BYE;
        break;
    default:
        srv_error(S_CLIENT(s, x), JP_PERR_UNKNOWN, 0,
                  "%s is not a message a client sends", jp_msg_type_name(m.type));
    }
}

/* Read what has arrived, a burst at a time.  Nothing here waits on a
 * merge or a report: PUSHes go to the merger, which takes them one at a
 * time in the order they came (a client's PUSHes keep their order), and
 * reports to the reporter; a handshake, a pull, a status or a report
 * computed ahead is answered at once.  When S_MAX_HELD PUSHes wait, the
 * ROUTER is left unread (s_poll) and TCP holds the clients back. */
static void
s_router(s_srv_t *s)
{
    uint8_t rid[S_MAX_RID];
    for (int i = 0; i < S_ROUTER_BURST && s->merger.pending < S_MAX_HELD; i++) {
        int n = zmq_recv(s->router, rid, sizeof rid, ZMQ_DONTWAIT);
        if (n < 0)
            break;
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, s->router, 0) < 0) {
            zmq_msg_close(&frame);
            break;
        }
        /* A multi-frame message is malformed: read all of it, answer the
         * first frame's sender (the parts arrive together). */
        int frames = 1;
        for (bool more = zmq_msg_more(&frame); more; frames++) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            more = zmq_msg_recv(&part, s->router, 0) >= 0 && zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        if ((size_t)n <= sizeof rid && !s_muted(s, rid, (size_t)n))
            s_message(s, rid, (size_t)n, &frame, frames);
        /* else a routing id longer than ours: cannot answer it */
        zmq_msg_close(&frame);
    }
}

/* Sessions whose connection closed end (the ROUTER's monitor tells). */
static void
s_closed(s_srv_t *s)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, s->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        zmq_msg_init(&addr);
        if (zmq_msg_more(&ev))
            zmq_msg_recv(&addr, s->mon, 0);
        if (zmq_msg_size(&ev) == 6) {
            uint16_t event;
            int32_t fd;
            memcpy(&event, zmq_msg_data(&ev), 2);
            memcpy(&fd, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
            for (int i = 0; event == ZMQ_EVENT_DISCONNECTED && i < s->nsess; i++)
                if (s->sess[i].fd == fd && !s->sess[i].end)
                    s->sess[i].end = SRV_END_CLOSED;
        }
        zmq_msg_close(&ev);
        zmq_msg_close(&addr);
    }
}

/* A standby's follower tells what it applied, as the merger does. */
static void
s_followed(void *arg, uint64_t glen)
{
    s_srv_t *s = arg;
    srv_reports_merged(s->reports, glen);
    srv_view_merged(s->view, glen);
}

/* The key this server asks its partner with (standby.key). */
static int
s_own_follow_key(const s_srv_t *s, jp_curve_t *key, jp_err_t *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", s->conf->data, SRV_FOLLOW_FILE);
    return jp_curve_load(key, path, err);
}

static int
s_follow_start(s_srv_t *s, jp_err_t *err)
{
    jp_curve_t key;
    int rc = s_own_follow_key(s, &key, err);
    if (rc == 0)
        rc = srv_follow_start(&s->follow, s->db, srv_partner(s->conf), s->partner_pub, &key,
                              s_followed, s, err);
    memset(&key, 0, sizeof key);
    return rc;
}

/* The watch's word: a partner with a higher term fenced this server. */
static void
s_fenced(void *arg)
{
    s_srv_t *s = arg;
    atomic_store(&s->fenced, true);
}

/* A primary with a partner watches its term (standby.h), in a thread
 * with SIGINT and SIGTERM blocked: the main thread's poll must get them. */
static int
s_watch_start(s_srv_t *s, jp_err_t *err)
{
    if (!srv_partner(s->conf) || s->watch)
        return 0;
    jp_curve_t key;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = s_own_follow_key(s, &key, err);
    if (rc == 0)
        rc = srv_watch_start(&s->watch, s->db, srv_partner(s->conf), s->partner_pub, &key,
                             s_fenced, s, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    memset(&key, 0, sizeof key);
    return rc;
}

/* A primary with a partner looks at its term before it serves anyone: a
 * machine that comes back after its standby was promoted fences itself
 * here.  A partner it cannot reach is no reason not to serve (the stores
 * that synced with a promoted one refuse this server by its term). */
static void
s_first_look(s_srv_t *s)
{
    const char *ep = srv_partner(s->conf);
    jp_curve_t key;
    jp_err_t err = {0};
    uint64_t theirs = 0;
    int rc = s_own_follow_key(s, &key, &err);
    if (rc == 0)
        rc = srv_partner_term(ep, s->partner_pub, &key, 2000, &theirs, &err);
    memset(&key, 0, sizeof key);
    if (rc)
        srv_log("partner %s not reached: %s: serving as the group's primary (term %llu)", ep,
                err.msg, (unsigned long long)atomic_load(&s->term));
    else if (srv_fence_if_above(s->db, ep, theirs))
        atomic_store(&s->fenced, true);
}

/* A standby promoted (jipan-server promote, another process): it stops
 * following, serves the stores, and watches its partner. */
static void
s_check_promoted(s_srv_t *s)
{
    jp_txn_t *txn;
    if (!atomic_load(&s->standby) || jp_db_begin(s->db, false, &txn, NULL))
        return;
    bool promoted = srv_promoted(txn);
    uint64_t term = srv_term(txn);
    jp_txn_abort(&txn);
    if (!promoted)
        return;
    srv_follow_halt(s->follow); /* joined when the server stops */
    atomic_store(&s->term, term);
    atomic_store(&s->standby, false);
    srv_log("promoted: this server is the group's primary now (term %llu), and serves the "
            "stores",
            (unsigned long long)term);
    jp_err_t err = {0};
    if (s_watch_start(s, &err))
        srv_log("the partner's watch did not start: %s", err.msg);
}

/* What `status` tells of the standby, for a primary that has had one:
 * SRV_STANDBY_STATE rewritten (whole, by a rename) when the standby comes
 * or goes or its degradation changes, and when its position moves, at
 * most once a second.  A small file rather than the base: the main thread
 * never waits for the merger's write lock. */
static void
s_note_standby(s_srv_t *s)
{
    bool on = false;
    uint64_t pos = 0, now = jp_now_ms();
    for (int i = 0; i < s->nsess; i++) {
        const s_sess_t *x = &s->sess[i];
        if (x->k.role == SRV_ROLE_STANDBY && x->pulling && !x->end) {
            on = true;
            pos = x->acked_pos > pos ? x->acked_pos : pos;
        }
    }
    if (!on && !s->sb.seen)
        return;
    bool flip = !s->sb.seen || on != s->sb.on || s->sync_degraded != s->sb.degraded;
    if (!flip && (pos == s->sb.pos || now - s->sb.ms < 1000))
        return;
    char path[1100], tmp[1110];
    snprintf(path, sizeof path, "%s/%s", s->conf->data, SRV_STANDBY_STATE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "jipan-standby-1 %llu %llu %d %d\n", (unsigned long long)pos,
            (unsigned long long)now, on, s->conf->sync_standby && s->sync_degraded);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return;
    s->sb.seen = true;
    s->sb.on = on;
    s->sb.degraded = s->sync_degraded;
    s->sb.pos = pos;
    s->sb.ms = now;
}

/* Tell the revoked sessions at once. */
static void
s_sweep(s_srv_t *s)
{
    s_check_promoted(s);
    if (!atomic_load(&s->standby))
        s_note_standby(s);
    for (int i = s->nsess - 1; i >= 0; i--) {
        s_sess_t *x = &s->sess[i];
        if (!x->revoked && !x->end)
            s_still_valid(s, x);
    }
}

/* ---- set-up --------------------------------------------------------------------- */

static int
s_open(s_srv_t *s, const srv_conf_t *conf, jp_err_t *err)
{
    char path[1100];
    int rc;
    jp_curve_t curve;
    s->conf = conf;
    if ((rc = jp_db_open(&s->db, conf->data, conf->map_mib, err)))
        return rc;
    /* A base written before the group log was indexed by record (a
     * store's backfill reads that index) gets it once. */
    jp_txn_t *txn;
    uint64_t added = 0;
    if ((rc = jp_db_begin(s->db, true, &txn, err)))
        return rc;
    if ((rc = jp_txn_glog_index(txn, &added, err)) || (rc = jp_txn_commit(&txn, err))) {
        jp_txn_abort(&txn);
        return rc;
    }
    if (added)
        srv_log("indexed the group log by record: %llu entries",
                (unsigned long long)added);
    if ((rc = srv_hold_new(&s->hold)))
        return jp_err_set(err, rc, "out of memory");
    /* The log's length; a standby until promoted, a primary until fenced
     * (standby.h). */
    uint64_t len0 = 0;
    if ((rc = jp_db_begin(s->db, false, &txn, err)))
        return rc;
    jp_txn_glog_len(txn, &len0);
    srv_as_t as = srv_as(txn, conf);
    atomic_store(&s->term, srv_term(txn));
    jp_txn_abort(&txn);
    atomic_store(&s->log_len, len0);
    atomic_store(&s->standby, as == SRV_AS_STANDBY);
    atomic_store(&s->fenced, as == SRV_AS_FENCED);
    snprintf(path, sizeof path, "%s/%s", conf->data, SRV_STANDBY_STATE);
    unlink(path); /* a past run's word on a standby: this run writes its own */
    if (as == SRV_AS_STANDBY)
        srv_log("a standby: following the primary %s, read-only for the stores",
                srv_partner(conf));
    if (as == SRV_AS_FENCED)
        srv_log("fenced: a superseded primary, read-only for the stores (`" SRV_PROG
                " rejoin`)");
    snprintf(path, sizeof path, "%s/%s", conf->data, SRV_KEY_FILE);
    if ((rc = jp_key_load(&s->key, path, err)))
        return rc;
    jp_key_public(s->key, s->pub);
    snprintf(path, sizeof path, "%s/%s", conf->data, SRV_CURVE_FILE);
    if ((rc = jp_curve_load(&curve, path, err)))
        return rc;
    uint8_t own[32];
    jp_curve_parse(curve.pub, own);
    srv_partner_key(conf, own, s->partner_pub);
    if (as == SRV_AS_PRIMARY && srv_partner(conf))
        s_first_look(s);
    if (!(s->sess = calloc(S_MAX_SESSIONS, sizeof *s->sess)))
        return jp_err_set(err, JP_ENOMEM, "out of memory");

    s->ctx = zmq_ctx_new();
    /* Four I/O threads: CURVE handshakes are libzmq's work, done on the
     * thread of the connection; spread over more threads, a storm of them
     * holds up less of the sessions' traffic (the good store's p99 during
     * 5,000 handshakes: 84-98 ms with two, 48-69 ms with four, on this
     * project's 2-core test machine; tests/test_server.c). */
    if (s->ctx)
        zmq_ctx_set(s->ctx, ZMQ_IO_THREADS, 4);
    s->zap = zmq_socket(s->ctx, ZMQ_REP);
    s->router = zmq_socket(s->ctx, ZMQ_ROUTER);
    if (!s->ctx || !s->zap || !s->router)
        return jp_err_set(err, JP_EIO, "ZeroMQ: %s", zmq_strerror(errno));
    /* The ZAP handler must be bound before the ROUTER accepts anyone. */
    if (zmq_bind(s->zap, "inproc://zeromq.zap.01"))
        return jp_err_set(err, JP_EIO, "ZAP handler: %s", zmq_strerror(errno));
    /* A listen backlog as deep as the session table: a burst of
     * connections must not wait out TCP's SYN retries. */
    int one = 1, hwm = JP_MSG_MAX_QUEUED, backlog = S_MAX_SESSIONS;
    if ((rc = jp_sock_common(s->router, err)))
        return rc;
    if (zmq_setsockopt(s->router, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(s->router, ZMQ_CURVE_SECRETKEY, curve.sec, JP_Z85_KEY_LEN) ||
        zmq_setsockopt(s->router, ZMQ_ZAP_DOMAIN, "jipan", 5) ||
        zmq_setsockopt(s->router, ZMQ_ROUTER_MANDATORY, &one, sizeof one) ||
        zmq_setsockopt(s->router, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
        zmq_setsockopt(s->router, ZMQ_BACKLOG, &backlog, sizeof backlog))
        return jp_err_set(err, JP_EIO, "socket options: %s", zmq_strerror(errno));
    memset(&curve, 0, sizeof curve);
    /* A connection's close ends its session: the monitor says which
     * socket closed (the session knows its own, ZMQ_SRCFD).  Its queue has
     * no limit: libzmq must never wait to tell us. */
    int zero = 0;
    if (zmq_socket_monitor(s->router, "inproc://jipan-router-monitor",
                           ZMQ_EVENT_DISCONNECTED) ||
        !(s->mon = zmq_socket(s->ctx, ZMQ_PAIR)) ||
        zmq_setsockopt(s->mon, ZMQ_RCVHWM, &zero, sizeof zero) ||
        zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof zero) ||
        zmq_connect(s->mon, "inproc://jipan-router-monitor"))
        return jp_err_set(err, JP_EIO, "socket monitor: %s", zmq_strerror(errno));
    if (zmq_bind(s->router, conf->endpoint))
        return jp_err_set(err, JP_EIO, "cannot listen on %s: %s", conf->endpoint,
                          zmq_strerror(errno));
    return 0;
}

static void
s_close(s_srv_t *s)
{
    if (s->mon) {
        zmq_socket_monitor(s->router, NULL, 0);
        zmq_close(s->mon);
    }
    if (s->router)
        zmq_close(s->router);
    if (s->zap)
        zmq_close(s->zap);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    jp_key_destroy(&s->key);
    jp_db_close(&s->db);
    jp_buf_free(&s->out);
    srv_hold_free(&s->hold);
    free(s->sess);
    free(s->touched);
}

/* The reporter's job: a report computed from a base. */
static void
s_report(s_srv_t *s, srv_client_t *c, const jp_msg_t *m)
{
    srv_report(s->reports, c, m);
}

/* The threads that take work off the main thread, with SIGINT and SIGTERM
 * blocked in them: the main thread's poll is the one they must wake. */
static int
s_threads_start(s_srv_t *s, jp_err_t *err)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = srv_reports_start(&s->reports, s->db, err);
    if (!rc)
        rc = srv_view_start(&s->view, s->db, &s->conf->sharing, err);
    if (!rc)
        rc = s_worker_start(s, &s->merger, "merger", s_push, err);
    if (!rc)
        rc = s_worker_start(s, &s->reporter, "reporter", s_report, err);
    if (!rc && atomic_load(&s->standby))
        rc = s_follow_start(s, err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!rc && !atomic_load(&s->standby) && !atomic_load(&s->fenced))
        rc = s_watch_start(s, err);
    return rc;
}

static void
s_threads_stop(s_srv_t *s)
{
    atomic_store(&s->stopping, true);
    srv_follow_stop(&s->follow);
    srv_watch_stop(&s->watch);
    s_worker_stop(&s->merger);
    s_worker_stop(&s->reporter);
    srv_reports_stop(&s->reports);
    for (int i = 0; i < s->nsess; i++)
        srv_snap_give(&s->sess[i].snap);
    srv_view_stop(&s->view);
}

int
srv_serve(const srv_conf_t *conf, jp_err_t *err)
{
    s_srv_t s = {0};
    int rc = s_open(&s, conf, err);
    if (rc) {
        s_close(&s);
        return rc;
    }
    if ((rc = s_threads_start(&s, err))) {
        s_threads_stop(&s);
        s_close(&s);
        return rc;
    }
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    srv_log("listening on %s", conf->endpoint);
    sd_notify(0, "READY=1\nSTATUS=listening");
    printf("listening on %s\n", conf->endpoint);
    fflush(stdout);

    uint64_t last_sweep = jp_now_ms();
    while (!s_stop) {
        /* Streams with credit keep the loop from sleeping. */
        bool busy = false, waiting = false;
        uint64_t log_len = atomic_load(&s.log_len);
        for (int i = 0; i < s.nsess; i++) {
            bool on = s.sess[i].pulling && s.sess[i].pull_credit > 0;
            /* a standby's stream waits for the log to grow */
            if (s.sess[i].k.role == SRV_ROLE_STANDBY && s.sess[i].pull_pos >= log_len)
                on = false;
            busy |= on && !s.sess[i].pull_since;
            waiting |= on && s.sess[i].pull_since; /* for a newer view */
        }
        zmq_pollitem_t items[] = {
            {s.zap, 0, ZMQ_POLLIN, 0},
            {s.router, 0, s.merger.pending < S_MAX_HELD ? ZMQ_POLLIN : 0, 0},
            {s.merger.pipe, 0, ZMQ_POLLIN, 0},
            {s.reporter.pipe, 0, ZMQ_POLLIN, 0},
            {s.mon, 0, ZMQ_POLLIN, 0},
        };
        int n = zmq_poll(items, 5, busy ? 0 : waiting ? S_VIEW_POLL_MS : S_SWEEP_MS);
        if (n < 0 && errno != EINTR) {
            rc = jp_err_set(err, JP_EIO, "poll: %s", zmq_strerror(errno));
            break;
        }
        /* The order matters: libzmq tells the monitor of a connection's
         * close before it closes the socket, so before the ZAP request of
         * any connection accepted on that socket number after it; reading
         * the monitor after the ZAP and before the ROUTER, a session never
         * ends by the close of its socket number's former connection. */
        for (int i = 0; i < S_ZAP_BURST && s_zap(&s); i++)
            ;
        s_closed(&s);
        if (n > 0 && (items[2].revents & ZMQ_POLLIN))
            s_forward(&s, &s.merger);
        if (n > 0 && (items[3].revents & ZMQ_POLLIN))
            s_forward(&s, &s.reporter);
        if (n > 0 && (items[1].revents & ZMQ_POLLIN))
            s_router(&s);
        for (int i = s.nsess - 1; i >= 0; i--)
            s_pump(&s, &s.sess[i]);
        uint64_t now = jp_now_ms();
        if (now - last_sweep >= S_SWEEP_MS) {
            s_sweep(&s);
            s_hold_sweep(&s);
            last_sweep = now;
        }
        s_reap(&s);
    }
    sd_notify(0, "STOPPING=1");
    s_threads_stop(&s);
    srv_log("stopping: %llu batches, %llu changes accepted since start in %.3f s of work",
            (unsigned long long)s.batches, (unsigned long long)s.changes,
            s.merger.busy_us / 1e6);
    s_close(&s);
    return rc;
}
