/*
 * test_server.c -- a real jipan-server process on 127.0.0.1, spoken to
 * with the raw protocol over CURVE, refusing what it must refuse.
 *
 * The fixture initialises a server, makes store 1 (a real LMDB store with
 * a log of real changes), enrols its keys, and starts `jipan-server run`.
 * Each test sends something that must be refused and checks the answer's
 * error code, then that nothing was written: the group log length and the
 * state digest (QUERY status) are what they were.  Accepted pushes and
 * the replayed batch come first in the order the tests run, so "nothing
 * written" is measured against a non-empty group base.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "ask.h"
#include "codec.h"
#include "crypto.h"
#include "curve.h"
#include "db.h"
#include "msg.h"

#define SERVER JP_BINARY_DIR "/server/jipan-server"
#define NCHANGES 40
#define MAX_BATCH 131072 /* the server's max_batch (bytes) */

typedef struct {
    char dir[64];
    char conf[128];
    char endpoint[64];
    pid_t pid;
    jp_db_t *store;         /* store 1's environment */
    jp_key_t *sign;         /* store 1's signing key */
    jp_curve_t curve;       /* store 1's Curve key */
    uint8_t server_key[32]; /* the server's Curve key */
    jp_curve_t analyst;     /* an analyst's key (principal group): the attacker */
    jp_curve_t standby;     /* a standby server's key (role standby) */
    char log[128];          /* the server's stderr */
    void *ctx;
    jp_buf_t buf;
} fx_t;

static fx_t F; /* one server for the whole file: group setup runs once */

/* Children a test forked (flooders, connectors): killed at teardown if a
 * failed assertion left them. */
static pid_t s_kids[16];
static int s_nkids;

static void
s_kids_kill(void)
{
    for (int i = 0; i < s_nkids; i++)
        if (kill(s_kids[i], SIGKILL) == 0)
            waitpid(s_kids[i], NULL, 0);
    s_nkids = 0;
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int
s_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Read one "name HEX" line of a command's output into out. */
static int
s_read_hex(const char *cmd, const char *name, uint8_t *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    char line[512];
    int rc = -1;
    while (p && fgets(line, sizeof line, p)) {
        char hex[200];
        if (!strncmp(line, name, strlen(name)) &&
            sscanf(line + strlen(name), "%199s", hex) == 1 && jp_unhex(hex, out, n) == 0)
            rc = 0;
    }
    if (p)
        pclose(p);
    return rc;
}

/* Write n customers at store 1 (seqs continue). */
static void
s_write_customers(int n, int from)
{
    jp_txn_t *t;
    assert_int_equal(jp_db_begin(F.store, true, &t, NULL), 0);
    for (int i = 0; i < n; i++) {
        jp_change_t ch;
        memset(&ch, 0, sizeof ch);
        ch.id = jp_db_new_id(F.store);
        ch.kind = JP_K_CUSTOMER;
        ch.author = "t";
        ch.author_len = 1;
        char name[32], ext[32];
        snprintf(name, sizeof name, "客户%d", from + i);
        snprintf(ext, sizeof ext, "C%d", from + i);
        jp_change_set_str(&ch, JP_F_EXT_ID, ext, strlen(ext));
        jp_change_set_str(&ch, JP_F_NAME, name, strlen(name));
        jp_change_set_int(&ch, JP_F_CREATED_AT, 1700000000000LL + i);
        jp_err_t err;
        int rc = jp_txn_write(t, &ch, &err);
        if (rc) {
            fprintf(stderr, "write: %s\n", err.msg);
            jp_txn_abort(&t);
        }
        assert_int_equal(rc, 0);
    }
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
}

static int
s_setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    snprintf(F.dir, sizeof F.dir, "/tmp/jp-test-server.XXXXXX");
    if (!mkdtemp(F.dir))
        return -1;
    int port = 18000 + getpid() % 1000;
    snprintf(F.endpoint, sizeof F.endpoint, "tcp://127.0.0.1:%d", port);
    snprintf(F.conf, sizeof F.conf, "%s/server.conf", F.dir);
    FILE *f = fopen(F.conf, "w");
    if (!f)
        return -1;
    fprintf(f,
            "[server]\nendpoint = %s\ndata = %s/srv\ngroup = 测试集团\n"
            "timezone = Asia/Shanghai\ncredit = 4\nmax_batch = %d\n",
            F.endpoint, F.dir, MAX_BATCH);
    fclose(f);
    if (s_sh(SERVER " -c %s init >/dev/null", F.conf) != 0)
        return -1;
    char cmd[512];
    snprintf(cmd, sizeof cmd, SERVER " -c %s keys", F.conf);
    if (s_read_hex(cmd, "curve", F.server_key, 32))
        return -1;

    /* Store 1: an environment, keys, enrolment. */
    char sdir[128];
    snprintf(sdir, sizeof sdir, "%s/store1", F.dir);
    mkdir(sdir, 0700);
    jp_txn_t *t;
    jp_node_t node = {.store = 1};
    strcpy(node.code, "HZ01");
    strcpy(node.region, "惠州");
    strcpy(node.group, "测试集团");
    strcpy(node.tz, "Asia/Shanghai");
    if (jp_db_open(&F.store, sdir, 0, NULL) || jp_db_begin(F.store, true, &t, NULL) ||
        jp_txn_node_set(t, &node) || jp_txn_commit(&t, NULL))
        return -1;
    jp_db_close(&F.store); /* reopen: the id generator takes the store number */
    if (jp_db_open(&F.store, sdir, 0, NULL))
        return -1;
    if (jp_key_generate(&F.sign, NULL) || jp_curve_generate(&F.curve, NULL))
        return -1;
    uint8_t pub[32];
    char sign_hex[65], curve_hex[65];
    jp_key_public(F.sign, pub);
    jp_hex(pub, 32, sign_hex);
    jp_curve_hex(F.curve.pub, curve_hex);
    if (s_sh(SERVER " -c %s enroll --store 1 --code HZ01 --name 一店 --region 惠州 "
                    "--curve %s --sign %s >/dev/null",
             F.conf, curve_hex, sign_hex) != 0)
        return -1;

    /* An analyst's key: any enrolled key may misbehave. */
    if (jp_curve_generate(&F.analyst, NULL))
        return -1;
    jp_curve_hex(F.analyst.pub, curve_hex);
    if (s_sh(SERVER " -c %s enroll --role group --curve %s >/dev/null", F.conf,
             curve_hex))
        return -1;

    if (jp_curve_generate(&F.standby, NULL))
        return -1;
    jp_curve_hex(F.standby.pub, curve_hex);
    if (s_sh(SERVER " -c %s enroll --role standby --curve %s >/dev/null", F.conf,
             curve_hex))
        return -1;

    snprintf(F.log, sizeof F.log, "%s/server.log", F.dir);
    F.pid = fork();
    if (F.pid == 0) {
        freopen("/dev/null", "w", stdout);
        freopen(F.log, "w", stderr);
        execl(SERVER, SERVER, "-c", F.conf, "run", (char *)NULL);
        _exit(127);
    }
    F.ctx = zmq_ctx_new();
    usleep(300 * 1000); /* the socket binds at once; the first HELLO waits anyway */
    return F.pid > 0 ? 0 : -1;
}

static uint64_t
s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* SIGTERM the server; true if it exited, with status 0, within ms. */
static bool
s_stop_server(int ms)
{
    kill(F.pid, SIGTERM);
    for (uint64_t end = s_ms() + (uint64_t)ms; s_ms() < end; usleep(10 * 1000)) {
        int st;
        if (waitpid(F.pid, &st, WNOHANG) == F.pid) {
            F.pid = 0;
            return WIFEXITED(st) && WEXITSTATUS(st) == 0;
        }
    }
    return false;
}

static int
s_teardown(void **state)
{
    (void)state;
    if (F.pid > 0 && !s_stop_server(5000)) {
        kill(F.pid, SIGKILL);
        waitpid(F.pid, NULL, 0);
    }
    s_kids_kill();
    s_sh("tail -n 40 %s >&2", F.log);
    /* Not zmq_ctx_term: a failed assertion leaves a socket open, and
     * term would wait for it for ever. */
    if (F.ctx)
        zmq_ctx_shutdown(F.ctx);
    jp_db_close(&F.store);
    jp_key_destroy(&F.sign);
    jp_buf_free(&F.buf);
    nftw(F.dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- a raw client ------------------------------------------------------------ */

/* A DEALER with key k, not connected yet. */
static void *
s_socket(const jp_curve_t *k)
{
    void *s = zmq_socket(F.ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, F.server_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 40);
    return s;
}

static void *
s_connect(const jp_curve_t *k)
{
    void *s = s_socket(k);
    assert_int_equal(zmq_connect(s, F.endpoint), 0);
    return s;
}

static void
s_send(void *s, const jp_msg_t *m)
{
    assert_int_equal(jp_msg_send(s, m, &F.buf, 0), 0);
}

/* The next message within ms, decoded into m (borrowing from *frame);
 * false on silence. */
static bool
s_recv(void *s, zmq_msg_t *frame, jp_msg_t *m, int ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return false;
    assert_true(zmq_msg_recv(frame, s, 0) >= 0);
    jp_err_t err;
    assert_int_equal(jp_msg_decode(zmq_msg_data(frame), zmq_msg_size(frame), m, &err), 0);
    return true;
}

/* Expect an ERROR with code, within 5 s; prints its message. */
static void
s_expect_error(void *s, int code)
{
    zmq_msg_t f;
    jp_msg_t m;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &m, 5000));
    if (m.type != JP_MSG_ERROR || m.error.code != code)
        fprintf(stderr, "wanted ERROR %d, got %s %lld\n", code, jp_msg_type_name(m.type),
                m.type == JP_MSG_ERROR ? (long long)m.error.code : 0LL);
    assert_int_equal(m.type, JP_MSG_ERROR);
    assert_int_equal(m.error.code, code);
    assert_true(m.error.message.n > 0);
    print_message("    refused as expected: %.*s\n", (int)m.error.message.n,
                  m.error.message.p);
    zmq_msg_close(&f);
}

/* HELLO as store; returns the WELCOME's acked seq. */
static uint64_t
s_hello(void *s, uint64_t store)
{
    jp_msg_t m = {.type = JP_MSG_HELLO};
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    m.hello.store = store;
    s_send(s, &m);
    zmq_msg_t f;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &m, 5000));
    assert_int_equal(m.type, JP_MSG_WELCOME);
    uint64_t acked = m.welcome.acked_seq;
    zmq_msg_close(&f);
    return acked;
}

/* group_pos and digest from QUERY status, on a session of its own. */
static void
s_status(uint64_t *pos, char digest[65])
{
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    jp_msg_t m = {.type = JP_MSG_QUERY};
    m.query.id = 7;
    m.query.what.p = "status";
    m.query.what.n = 6;
    s_send(s, &m);
    zmq_msg_t f;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &m, 5000));
    assert_int_equal(m.type, JP_MSG_ANSWER);
    char body[512];
    snprintf(body, sizeof body, "%.*s", (int)m.answer.body.n, m.answer.body.p);
    unsigned long long p;
    assert_int_equal(
        sscanf(body, "{\"group_pos\":%llu,\"digest\":\"%64[0-9a-f]\"", &p, digest), 2);
    *pos = p;
    zmq_msg_close(&f);
    zmq_close(s);
}

/* A PUSH of store 1's changes first..last, as encoded in its log (or the
 * given bytes for the last one), signed with key. */
static void
s_push(void *s, uint64_t claim, uint64_t first, uint64_t last, const uint8_t *lastp,
       size_t lastn, const jp_key_t *key)
{
    jp_txn_t *t;
    assert_int_equal(jp_db_begin(F.store, false, &t, NULL), 0);
    jp_msg_t m = {.type = JP_MSG_PUSH};
    m.push.batch = first;
    m.push.store = claim;
    m.push.first_seq = first;
    m.push.last_seq = last;
    jp_msg_builder_t b;
    jp_buf_reset(&F.buf);
    assert_int_equal(jp_msg_begin(&b, &F.buf, &m, (uint32_t)(last - first + 1)), 0);
    const uint8_t *p = NULL;
    size_t n = 0;
    for (uint64_t q = first; q <= last; q++) {
        if (q == last && lastp) {
            p = lastp;
            n = lastn;
        } else {
            assert_int_equal(jp_txn_log_get(t, 1, q, &p, &n), 0);
        }
        assert_int_equal(jp_msg_add_change(&b, p, n), 0);
    }
    uint8_t h[32], msg[JP_BATCH_MSG_LEN];
    jp_sha256(p, n, h);
    jp_batch_msg((uint16_t)claim, first, last, h, msg);
    assert_int_equal(jp_key_sign(key, msg, sizeof msg, m.push.sig), 0);
    assert_int_equal(jp_msg_end(&b, &m), 0);
    jp_txn_abort(&t);
    assert_true(zmq_send(s, F.buf.data, F.buf.len, 0) >= 0);
}

static void
s_expect_receipt(void *s, uint64_t seq)
{
    zmq_msg_t f;
    jp_msg_t m;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &m, 10000));
    if (m.type == JP_MSG_ERROR)
        fprintf(stderr, "ERROR %lld: %.*s\n", (long long)m.error.code,
                (int)m.error.message.n, m.error.message.p);
    assert_int_equal(m.type, JP_MSG_RECEIPT);
    assert_int_equal(m.receipt.seq, seq);
    zmq_msg_close(&f);
}

/* The server's state must not move across a refusal. */
typedef struct {
    uint64_t pos;
    char digest[65];
} snap_t;

static snap_t
s_snap(void)
{
    snap_t x;
    s_status(&x.pos, x.digest);
    return x;
}

static void
s_unchanged(const snap_t *before)
{
    snap_t now = s_snap();
    assert_int_equal(now.pos, before->pos);
    assert_string_equal(now.digest, before->digest);
}

/* An encoded change of store 1 at seq, with prev, hlc and a name. */
static void
s_forge(jp_buf_t *out, uint16_t store, uint64_t seq, const uint8_t prev[32], jp_hlc_t hlc)
{
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.store = store;
    ch.seq = seq;
    ch.hlc = hlc;
    ch.id = jp_db_new_id(F.store);
    ch.kind = JP_K_CUSTOMER;
    ch.author = "x";
    ch.author_len = 1;
    memcpy(ch.prev, prev, 32);
    jp_change_set_str(&ch, JP_F_EXT_ID, "F1", 2);
    jp_change_set_str(&ch, JP_F_NAME, "伪造", strlen("伪造"));
    jp_buf_reset(out);
    assert_int_equal(jp_change_encode(&ch, out), 0);
}

/* The head of store 1 as the server holds it (= seq pushed so far). */
static void
s_head_at(uint64_t seq, uint8_t out[32])
{
    jp_txn_t *t;
    const uint8_t *p;
    size_t n;
    assert_int_equal(jp_db_begin(F.store, false, &t, NULL), 0);
    assert_int_equal(jp_txn_log_get(t, 1, seq, &p, &n), 0);
    jp_sha256(p, n, out);
    jp_txn_abort(&t);
}

/* ---- the tests, in order -------------------------------------------------------- */

static void
t_accept_and_replay(void **state)
{
    (void)state;
    s_write_customers(NCHANGES, 0);
    void *s = s_connect(&F.curve);
    assert_int_equal(s_hello(s, 1), 0);
    s_push(s, 1, 1, NCHANGES / 2, NULL, 0, F.sign);
    s_push(s, 1, NCHANGES / 2 + 1, NCHANGES, NULL, 0, F.sign);
    s_expect_receipt(s, NCHANGES / 2);
    s_expect_receipt(s, NCHANGES);
    snap_t before = s_snap();
    assert_int_equal(before.pos, NCHANGES);

    /* The same first batch again: a duplicate, receipted at the current
     * position, nothing written. */
    s_push(s, 1, 1, NCHANGES / 2, NULL, 0, F.sign);
    s_expect_receipt(s, NCHANGES);
    s_unchanged(&before);
    zmq_close(s);
}

static void
t_unenrolled_key(void **state)
{
    (void)state;
    jp_curve_t stranger;
    assert_int_equal(jp_curve_generate(&stranger, NULL), 0);
    void *s = s_socket(&stranger);
    void *mon = NULL;
    /* The handshake fails in the ZAP handler: a monitor, attached before
     * the connection starts so that it cannot miss the event, sees it. */
    assert_int_equal(
        zmq_socket_monitor(s, "inproc://mon-unenrolled", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
        0);
    mon = zmq_socket(F.ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, "inproc://mon-unenrolled"), 0);
    assert_int_equal(zmq_connect(s, F.endpoint), 0);
    jp_msg_t m = {.type = JP_MSG_HELLO};
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    m.hello.store = 1;
    s_send(s, &m);
    zmq_msg_t f;
    zmq_msg_init(&f);
    zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 5000), 1);
    assert_true(zmq_msg_recv(&f, mon, 0) >= 0);
    uint16_t event;
    uint32_t status;
    memcpy(&event, zmq_msg_data(&f), 2);
    memcpy(&status, (uint8_t *)zmq_msg_data(&f) + 2, 4);
    assert_int_equal(event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(status, 400); /* the ZAP handler's refusal */
    zmq_msg_close(&f);
    /* And no WELCOME ever comes. */
    jp_msg_t in;
    zmq_msg_init(&f);
    assert_false(s_recv(s, &f, &in, 500));
    zmq_msg_close(&f);
    zmq_socket_monitor(s, NULL, 0);
    zmq_close(mon);
    zmq_close(s);
}

static void
t_claims_another_store(void **state)
{
    (void)state;
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    /* HELLO as store 2 with store 1's key. */
    jp_msg_t m = {.type = JP_MSG_HELLO};
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    m.hello.store = 2;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_IDENTITY);
    /* A PUSH claiming store 2. */
    s_hello(s, 1);
    s_write_customers(2, 100);
    s_push(s, 2, NCHANGES + 1, NCHANGES + 2, NULL, 0, F.sign);
    s_expect_error(s, JP_PERR_IDENTITY);
    /* A batch that says store 1 but carries a change written as store 2. */
    uint8_t prev[32];
    s_head_at(NCHANGES, prev);
    jp_buf_t forged = {0};
    s_forge(&forged, 2, NCHANGES + 1, prev, (jp_hlc_t)jp_now_ms() << 16);
    s_push(s, 1, NCHANGES + 1, NCHANGES + 1, forged.data, forged.len, F.sign);
    s_expect_error(s, JP_PERR_IDENTITY);
    jp_buf_free(&forged);
    s_unchanged(&before);
    zmq_close(s);
}

static void
t_broken_chain(void **state)
{
    (void)state;
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    /* A gap: starts after what the server holds + 1. */
    s_push(s, 1, NCHANGES + 2, NCHANGES + 2, NULL, 0, F.sign);
    s_expect_error(s, JP_PERR_CHAIN);
    /* Continues the seq but not the hash. */
    uint8_t wrong[32] = {1, 2, 3};
    jp_buf_t forged = {0};
    s_forge(&forged, 1, NCHANGES + 1, wrong, (jp_hlc_t)jp_now_ms() << 16);
    s_push(s, 1, NCHANGES + 1, NCHANGES + 1, forged.data, forged.len, F.sign);
    s_expect_error(s, JP_PERR_CHAIN);
    /* An old seq with other bytes than the accepted ones. */
    uint8_t prev[32];
    s_head_at(NCHANGES - 1, prev);
    s_forge(&forged, 1, NCHANGES, prev, (jp_hlc_t)jp_now_ms() << 16);
    s_push(s, 1, NCHANGES, NCHANGES, forged.data, forged.len, F.sign);
    s_expect_error(s, JP_PERR_CHAIN);
    jp_buf_free(&forged);
    s_unchanged(&before);
    zmq_close(s);
}

static void
t_bad_signature(void **state)
{
    (void)state;
    snap_t before = s_snap();
    jp_key_t *other;
    assert_int_equal(jp_key_generate(&other, NULL), 0);
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    s_push(s, 1, NCHANGES + 1, NCHANGES + 2, NULL, 0, other);
    s_expect_error(s, JP_PERR_SIGNATURE);
    jp_key_destroy(&other);
    s_unchanged(&before);
    zmq_close(s);
}

static void
t_future_hlc(void **state)
{
    (void)state;
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    uint8_t prev[32];
    s_head_at(NCHANGES, prev);
    jp_buf_t forged = {0};
    s_forge(&forged, 1, NCHANGES + 1, prev, (jp_hlc_t)(jp_now_ms() + 3600 * 1000) << 16);
    s_push(s, 1, NCHANGES + 1, NCHANGES + 1, forged.data, forged.len, F.sign);
    s_expect_error(s, JP_PERR_FUTURE);
    jp_buf_free(&forged);
    s_unchanged(&before);
    zmq_close(s);
}

static void
t_malformed(void **state)
{
    (void)state;
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    /* Before HELLO. */
    jp_msg_t m = {.type = JP_MSG_PING};
    m.ping.ms = 1;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_NO_HELLO);
    s_hello(s, 1);
    static const uint8_t junk[] = {0x93, 0x10, 0xc4, 0xff}; /* PUSH, truncated bin */
    assert_true(zmq_send(s, junk, sizeof junk, 0) >= 0);
    s_expect_error(s, JP_PERR_MALFORMED);
    static const uint8_t unknown[] = {0x91, 0x5a}; /* [90]: no such type */
    assert_true(zmq_send(s, unknown, sizeof unknown, 0) >= 0);
    s_expect_error(s, JP_PERR_UNKNOWN);
    static const uint8_t notarray[] = {0xa3, 'a', 'b', 'c'};
    assert_true(zmq_send(s, notarray, sizeof notarray, 0) >= 0);
    s_expect_error(s, JP_PERR_MALFORMED);
    /* A RECEIPT is the server's to send. */
    jp_msg_t r = {.type = JP_MSG_RECEIPT};
    s_send(s, &r);
    s_expect_error(s, JP_PERR_UNKNOWN);
    /* The session still works: PING, PONG. */
    s_send(s, &m);
    zmq_msg_t f;
    jp_msg_t in;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &in, 5000));
    assert_int_equal(in.type, JP_MSG_PONG);
    zmq_msg_close(&f);
    s_unchanged(&before);
    zmq_close(s);
}

/* PROTOCOL.md 4: a client may have `credit` batches unanswered (4 here);
 * a PUSH beyond that is refused busy, nothing written, and the client
 * goes on once its receipts are in. */
static void
t_push_credit(void **state)
{
    (void)state;
    s_write_customers(30, 1000);
    jp_txn_t *t;
    jp_head_t head;
    assert_int_equal(jp_db_begin(F.store, false, &t, NULL), 0);
    assert_int_equal(jp_txn_head(t, 1, &head), 0);
    jp_txn_abort(&t);
    void *s = s_connect(&F.curve);
    const uint64_t first = s_hello(s, 1) + 1, last = head.seq;
    assert_true(last - first >= 20);
    /* One-change batches all at once, without waiting for a receipt. */
    for (uint64_t q = first; q <= last; q++)
        s_push(s, 1, q, q, NULL, 0, F.sign);
    int receipts = 0, busy = 0;
    uint64_t acked = first - 1;
    for (uint64_t q = first; q <= last; q++) {
        zmq_msg_t f;
        jp_msg_t m;
        zmq_msg_init(&f);
        assert_true(s_recv(s, &f, &m, 10000));
        if (m.type == JP_MSG_RECEIPT) {
            receipts++;
            acked = m.receipt.seq;
        } else {
            /* busy, or the gap after a batch refused busy */
            assert_int_equal(m.type, JP_MSG_ERROR);
            busy += m.error.code == JP_PERR_BUSY;
        }
        zmq_msg_close(&f);
    }
    assert_true(receipts >= 4);
    assert_true(busy >= 1);
    assert_true(acked < last);
    /* One batch at a time, the rest goes through. */
    for (uint64_t q = acked + 1; q <= last; q++) {
        s_push(s, 1, q, q, NULL, 0, F.sign);
        s_expect_receipt(s, q);
    }
    zmq_close(s);
}

/* Several questions in one session (jp_ask_open/query/close): each answer
 * is the one asked for, and a refused question leaves the session open. */
static void
t_questions_in_one_session(void **state)
{
    (void)state;
    jp_ask_t a = {.endpoint = F.endpoint,
                  .server_key = F.server_key,
                  .key = &F.curve,
                  .store = 1,
                  .timeout_ms = 10000};
    jp_asker_t *q;
    jp_err_t err;
    char *body;
    size_t n;
    assert_int_equal(jp_ask_open(&a, &q, &err), 0);
    const char *own[] = {"scope", "store:1"};
    const char *group[] = {"scope", "group"};
    for (int round = 0; round < 2; round++) {
        assert_int_equal(jp_ask_query(q, "status", NULL, 0, &body, &n, &err), 0);
        assert_non_null(strstr(body, "\"group_pos\":"));
        free(body);
        /* Its own store's figures: the reporter thread answers. */
        assert_int_equal(jp_ask_query(q, "report", own, 1, &body, &n, &err), 0);
        assert_non_null(strstr(body, "\"schema\""));
        free(body);
        /* The group's: refused, and the session goes on. */
        assert_int_equal(jp_ask_query(q, "report", group, 1, &body, &n, &err), JP_EPERM);
        assert_null(body);
        assert_non_null(strstr(err.msg, "forbidden"));
    }
    jp_ask_close(&q);
    assert_null(q);
}

static void
t_revoked_live_session(void **state)
{
    (void)state;
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    char hex[65];
    jp_curve_hex(F.curve.pub, hex);
    assert_int_equal(s_sh(SERVER " -c %s revoke --curve %s >/dev/null", F.conf, hex), 0);
    /* The open session is told at once, without sending anything. */
    s_expect_error(s, JP_PERR_REVOKED);
    /* And whatever it sends now is refused, nothing written. */
    s_push(s, 1, NCHANGES + 1, NCHANGES + 2, NULL, 0, F.sign);
    s_expect_error(s, JP_PERR_REVOKED);
    zmq_close(s);
    /* A new connection with the revoked key gets no WELCOME. */
    s = s_connect(&F.curve);
    jp_msg_t m = {.type = JP_MSG_HELLO};
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    m.hello.store = 1;
    s_send(s, &m);
    zmq_msg_t f;
    jp_msg_t in;
    zmq_msg_init(&f);
    assert_false(s_recv(s, &f, &in, 1500));
    zmq_msg_close(&f);
    zmq_close(s);
    /* Enrolled again under a new key, the store goes on from where it was. */
    jp_curve_t fresh;
    assert_int_equal(jp_curve_generate(&fresh, NULL), 0);
    uint8_t pub[32];
    char sign_hex[65], curve_hex[65];
    jp_key_public(F.sign, pub);
    jp_hex(pub, 32, sign_hex);
    jp_curve_hex(fresh.pub, curve_hex);
    assert_int_equal(s_sh(SERVER " -c %s enroll --store 1 --code HZ01 --region 惠州 "
                                 "--curve %s --sign %s >/dev/null",
                          F.conf, curve_hex, sign_hex),
                     0);
    F.curve = fresh;
    s_unchanged(&before);
}

/* docs/FORMAT.md: a change that creates a record is refused unless its id
 * is of the writing store and it carries the fields a new record needs
 * (here created_at); nothing is written.  A store's own writes pass. */
static void
t_create_as_a_store(void **state)
{
    (void)state;
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    const uint64_t acked = s_hello(s, 1);
    uint8_t prev[32];
    s_head_at(acked, prev);
    jp_buf_t forged = {0};
    /* No created_at (s_forge writes ext_id and a name only). */
    s_forge(&forged, 1, acked + 1, prev, (jp_hlc_t)jp_now_ms() << 16);
    s_push(s, 1, acked + 1, acked + 1, forged.data, forged.len, F.sign);
    s_expect_error(s, JP_PERR_MALFORMED);
    /* Everything a customer needs, but an id of store 2. */
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.store = 1;
    ch.seq = acked + 1;
    ch.hlc = (jp_hlc_t)jp_now_ms() << 16;
    ch.id = jp_db_new_id(F.store);
    ch.id.b[7] = 2;
    ch.kind = JP_K_CUSTOMER;
    ch.author = "x";
    ch.author_len = 1;
    memcpy(ch.prev, prev, 32);
    jp_change_set_str(&ch, JP_F_EXT_ID, "F2", 2);
    jp_change_set_int(&ch, JP_F_CREATED_AT, 1700000000000LL);
    jp_buf_reset(&forged);
    assert_int_equal(jp_change_encode(&ch, &forged), 0);
    s_push(s, 1, acked + 1, acked + 1, forged.data, forged.len, F.sign);
    s_expect_error(s, JP_PERR_MALFORMED);
    jp_buf_free(&forged);
    s_unchanged(&before);
    zmq_close(s);
}

/* PROTOCOL.md 3, 6: a PUSH whose changes exceed WELCOME's max_batch (and one
 * over the 1 MiB of section 6) is refused, nothing written; the same changes
 * in batches within it go through. */
static void
t_over_max_batch(void **state)
{
    (void)state;
    s_write_customers(11000, 20000);
    jp_txn_t *t;
    jp_head_t head;
    assert_int_equal(jp_db_begin(F.store, false, &t, NULL), 0);
    assert_int_equal(jp_txn_head(t, 1, &head), 0);
    jp_txn_abort(&t);
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    const uint64_t first = s_hello(s, 1) + 1;
    /* Over max_batch, under 1 MiB; then over 1 MiB. */
    const uint64_t lasts[] = {first + 1499, head.seq};
    for (int i = 0; i < 2; i++) {
        s_push(s, 1, first, lasts[i], NULL, 0, F.sign);
        print_message("    a PUSH of %llu changes, a %zu-byte frame (max_batch %d)\n",
                      (unsigned long long)(lasts[i] - first + 1), F.buf.len, MAX_BATCH);
        assert_true(F.buf.len > (i ? 1024u * 1024 : (size_t)MAX_BATCH) + 64);
        s_expect_error(s, JP_PERR_MALFORMED);
        s_unchanged(&before);
    }
    for (uint64_t q = first; q <= head.seq; q += 300) {
        uint64_t last = q + 299 < head.seq ? q + 299 : head.seq;
        s_push(s, 1, q, last, NULL, 0, F.sign);
        assert_true(F.buf.len < MAX_BATCH);
        s_expect_receipt(s, last);
    }
    zmq_close(s);
}

/* The body of QUERY status on a session of its own (analyst's key). */
static void
s_status_body(char *body, size_t cap)
{
    void *s = s_connect(&F.analyst);
    s_hello(s, 0);
    jp_msg_t m = {.type = JP_MSG_QUERY};
    m.query.id = 8;
    m.query.what.p = "status";
    m.query.what.n = 6;
    s_send(s, &m);
    zmq_msg_t f;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &m, 5000));
    assert_int_equal(m.type, JP_MSG_ANSWER);
    snprintf(body, cap, "%.*s", (int)m.answer.body.n, m.answer.body.p);
    zmq_msg_close(&f);
    zmq_close(s);
}

/* A number of QUERY status, -1 if absent. */
static long long
s_status_num(const char *name)
{
    char body[512], key[64];
    s_status_body(body, sizeof body);
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(body, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

/* PROTOCOL.md 2: what a peer sends is escaped before it is logged: a
 * QUERY `what` with a newline and an escape sequence forges no log line. */
static void
t_log_escaped(void **state)
{
    (void)state;
    void *s = s_connect(&F.analyst);
    s_hello(s, 0);
    static const char what[] = "rep\nFORGED LINE \x1b[2J\xc2\x9b";
    jp_msg_t m = {.type = JP_MSG_QUERY};
    m.query.id = 9;
    m.query.what.p = what;
    m.query.what.n = sizeof what - 1;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_MALFORMED);
    zmq_close(s);
    FILE *f = fopen(F.log, "r");
    assert_non_null(f);
    static char log[1 << 20];
    size_t n = fread(log, 1, sizeof log - 1, f);
    fclose(f);
    log[n] = 0;
    assert_non_null(strstr(log, "FORGED LINE")); /* it was logged... */
    assert_null(strstr(log, "\nFORGED"));        /* ...on the line it belongs to */
    assert_null(strchr(log, '\x1b'));
    assert_null(strstr(log, "\xc2\x9b"));
}

/* A message on a fresh session of key k (store: its HELLO's), answered by
 * an ERROR with code. */
static void
s_refused(const jp_curve_t *k, uint64_t store, const jp_msg_t *m, int code)
{
    void *s = s_connect(k);
    s_hello(s, store);
    s_send(s, m);
    s_expect_error(s, code);
    zmq_close(s);
}

/* PROTOCOL.md 1, 2: a frame over 4 MiB ends the connection unanswered; one
 * of 4 MiB is read (and refused, not being a message); a message of two
 * frames is malformed; a PULL after the end of the group log is refused
 * (2^64-1 does not wrap to the start). */
static void
t_frame_limits(void **state)
{
    (void)state;
    snap_t before = s_snap();
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    static uint8_t big[JP_MSG_MAX_FRAME + 1];
    assert_true(zmq_send(s, big, JP_MSG_MAX_FRAME, 0) >= 0);
    s_expect_error(s, JP_PERR_MALFORMED);
    /* Two frames. */
    jp_msg_t m = {.type = JP_MSG_PING};
    jp_buf_reset(&F.buf);
    assert_int_equal(jp_msg_encode(&m, &F.buf), 0);
    assert_true(zmq_send(s, F.buf.data, F.buf.len, ZMQ_SNDMORE) >= 0);
    assert_true(zmq_send(s, F.buf.data, F.buf.len, 0) >= 0);
    s_expect_error(s, JP_PERR_MALFORMED);
    /* After the end of the log. */
    m = (jp_msg_t){.type = JP_MSG_PULL};
    m.pull.after_pos = UINT64_MAX;
    m.pull.credit = 1;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_CHAIN);
    m.pull.after_pos = before.pos + 1;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_CHAIN);
    /* At its end: an empty CHANGES. */
    m.pull.after_pos = before.pos;
    s_send(s, &m);
    zmq_msg_t f;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &m, 5000));
    assert_int_equal(m.type, JP_MSG_CHANGES);
    assert_int_equal(m.changes.to_pos, before.pos);
    assert_int_equal(m.changes.entries.count, 0);
    assert_false(m.changes.more);
    zmq_msg_close(&f);
    /* One byte over: the server closes the connection, says nothing. */
    assert_int_equal(zmq_socket_monitor(s, "inproc://mon-frame", ZMQ_EVENT_DISCONNECTED),
                     0);
    void *mon = zmq_socket(F.ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, "inproc://mon-frame"), 0);
    assert_true(zmq_send(s, big, JP_MSG_MAX_FRAME + 1, 0) >= 0);
    zmq_pollitem_t it = {mon, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, 5000), 1);
    zmq_msg_init(&f);
    assert_true(zmq_msg_recv(&f, mon, 0) >= 0);
    uint16_t event;
    memcpy(&event, zmq_msg_data(&f), 2);
    assert_int_equal(event, ZMQ_EVENT_DISCONNECTED);
    zmq_msg_close(&f);
    while (zmq_msg_init(&f) == 0 && zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) >= 0)
        zmq_msg_close(&f);
    zmq_msg_close(&f);
    jp_msg_t in;
    zmq_msg_init(&f);
    assert_false(s_recv(s, &f, &in, 500));
    zmq_msg_close(&f);
    zmq_socket_monitor(s, NULL, 0);
    zmq_close(mon);
    zmq_close(s);
    s_unchanged(&before);
}

/* PROTOCOL.md 3, 5: what was left undefined.  Credit over 64 is refused;
 * (a CREDIT with no stream is ignored: the stream may just have ended);
 * only a store's key pulls the log; a second HELLO gets a fresh WELCOME; a
 * message after BYE is one before HELLO; an unknown query argument is
 * refused, and so is an argument of another query (series' months on a
 * report, a report's format on a series) or months out of range. */
static void
t_edges_defined(void **state)
{
    (void)state;
    snap_t before = s_snap();
    jp_msg_t m = {.type = JP_MSG_PULL};
    m.pull.credit = JP_MSG_MAX_CREDIT + 1;
    s_refused(&F.curve, 1, &m, JP_PERR_MALFORMED);
    /* CREDIT with no stream; CREDIT past 64 on a stream opened with none. */
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    m = (jp_msg_t){.type = JP_MSG_CREDIT};
    m.credit.credit = 1;
    s_send(s, &m); /* ignored: the PING is the next answered */
    m = (jp_msg_t){.type = JP_MSG_PING};
    m.ping.ms = 77;
    s_send(s, &m);
    zmq_msg_t f;
    zmq_msg_init(&f);
    assert_true(s_recv(s, &f, &m, 5000));
    assert_int_equal(m.type, JP_MSG_PONG);
    assert_int_equal(m.pong.ms, 77);
    zmq_msg_close(&f);
    m = (jp_msg_t){.type = JP_MSG_PULL};
    m.pull.credit = 0;
    s_send(s, &m);
    m = (jp_msg_t){.type = JP_MSG_CREDIT};
    m.credit.credit = JP_MSG_MAX_CREDIT + 1;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_MALFORMED);
    /* A second HELLO: a WELCOME again, the session goes on. */
    s_hello(s, 1);
    /* After BYE, as before HELLO. */
    m = (jp_msg_t){.type = JP_MSG_BYE};
    m.bye.reason.p = "done";
    m.bye.reason.n = 4;
    s_send(s, &m);
    m = (jp_msg_t){.type = JP_MSG_PING};
    s_send(s, &m);
    s_expect_error(s, JP_PERR_NO_HELLO);
    zmq_close(s);
    /* An analyst's key does not pull the group log. */
    m = (jp_msg_t){.type = JP_MSG_PULL};
    m.pull.credit = 1;
    s_refused(&F.analyst, 0, &m, JP_PERR_FORBIDDEN);
    /* The view (PROTOCOL.md 3, "The view"): a store's only, after a PULL,
     * at most 1,024 ids a FETCH. */
    m = (jp_msg_t){.type = JP_MSG_VIEW};
    s_refused(&F.analyst, 0, &m, JP_PERR_FORBIDDEN);
    s_refused(&F.curve, 1, &m, JP_PERR_MALFORMED);
    static uint8_t ids[16 * (JP_MSG_MAX_FETCH + 1)];
    m = (jp_msg_t){.type = JP_MSG_FETCH};
    m.fetch.ids = (jp_msg_str_t){(const char *)ids, 16};
    s_refused(&F.analyst, 0, &m, JP_PERR_FORBIDDEN);
    s_refused(&F.curve, 1, &m, JP_PERR_MALFORMED);
    s = s_connect(&F.curve);
    s_hello(s, 1);
    jp_msg_t pull = {.type = JP_MSG_PULL};
    s_send(s, &pull); /* credit 0: a stream, and its view, with nothing sent */
    m.fetch.ids.n = sizeof ids;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_MALFORMED);
    zmq_close(s);
    /* Unknown arguments. */
    m = (jp_msg_t){.type = JP_MSG_QUERY};
    m.query.id = 3;
    m.query.what.p = "report";
    m.query.what.n = 6;
    m.query.args.n = 1;
    m.query.args.v[0].key.p = "scop";
    m.query.args.v[0].key.n = 4;
    m.query.args.v[0].val.p = "group";
    m.query.args.v[0].val.n = 5;
    s_refused(&F.analyst, 0, &m, JP_PERR_MALFORMED);
    m.query.what.p = "status";
    s_refused(&F.analyst, 0, &m, JP_PERR_MALFORMED);
    /* series takes months, not format; report takes format, not months;
     * months outside 1..36. */
    m.query.what.p = "series";
    m.query.args.v[0].key.p = "format";
    m.query.args.v[0].key.n = 6;
    m.query.args.v[0].val.p = "csv";
    m.query.args.v[0].val.n = 3;
    s_refused(&F.analyst, 0, &m, JP_PERR_MALFORMED);
    m.query.what.p = "report";
    m.query.args.v[0].key.p = "months";
    m.query.args.v[0].val.p = "12";
    m.query.args.v[0].val.n = 2;
    s_refused(&F.analyst, 0, &m, JP_PERR_MALFORMED);
    m.query.what.p = "series";
    m.query.args.v[0].val.p = "37";
    s_refused(&F.analyst, 0, &m, JP_PERR_MALFORMED);
    s_unchanged(&before);
}

/* PROTOCOL.md 5: only BYE, a transport error or revocation end a session.
 * A store that says nothing for over a minute (ZMTP heartbeats keep its
 * connection up) still has its session: its PULL is answered, not refused
 * as before HELLO.  Waits 65 s. */
static void
t_idle_session_kept(void **state)
{
    (void)state;
    void *s = s_connect(&F.curve);
    s_hello(s, 1);
    zmq_msg_t f;
    jp_msg_t m;
    zmq_msg_init(&f);
    assert_false(s_recv(s, &f, &m, 65000)); /* nothing comes unasked */
    m = (jp_msg_t){.type = JP_MSG_PULL};
    m.pull.credit = 1;
    s_send(s, &m);
    assert_true(s_recv(s, &f, &m, 5000));
    if (m.type == JP_MSG_ERROR)
        fprintf(stderr, "idle session refused: ERROR %lld %.*s\n",
                (long long)m.error.code, (int)m.error.message.n, m.error.message.p);
    assert_int_equal(m.type, JP_MSG_CHANGES);
    zmq_msg_close(&f);
    zmq_close(s);
}

/* PROTOCOL.md 1: keys are given as 64 hex digits (Z85 accepted), and the
 * enrolment's help says so. */
static void
t_enroll_help_says_hex(void **state)
{
    (void)state;
    FILE *p = popen(SERVER " enroll --help", "r");
    assert_non_null(p);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    assert_int_equal(pclose(p), 0);
    const char *curve = strstr(out, "--curve (");
    assert_non_null(curve);
    assert_true(
        strncmp(curve, "--curve (the Curve key it connects with, 64 hex digits",
                strlen("--curve (the Curve key it connects with, 64 hex digits")) == 0);
}

/* PROTOCOL.md 5: a key has at most 8 sessions; its ninth HELLO ends the
 * oldest, which is told BYE; the others go on. */
static void
t_sessions_per_key(void **state)
{
    (void)state;
    void *s[JP_MSG_MAX_KEY_SESSIONS + 1];
    for (unsigned i = 0; i <= JP_MSG_MAX_KEY_SESSIONS; i++) {
        s[i] = s_connect(&F.analyst);
        s_hello(s[i], 0);
    }
    zmq_msg_t f;
    jp_msg_t m;
    zmq_msg_init(&f);
    assert_true(s_recv(s[0], &f, &m, 2000));
    assert_int_equal(m.type, JP_MSG_BYE);
    print_message("    the oldest session: BYE %.*s\n", (int)m.bye.reason.n,
                  m.bye.reason.p);
    zmq_msg_close(&f);
    m = (jp_msg_t){.type = JP_MSG_PING};
    s_send(s[0], &m);
    s_expect_error(s[0], JP_PERR_NO_HELLO);
    for (unsigned i = 1; i <= JP_MSG_MAX_KEY_SESSIONS; i++) {
        s_send(s[i], &m);
        zmq_msg_init(&f);
        assert_true(s_recv(s[i], &f, &m, 2000));
        assert_int_equal(m.type, JP_MSG_PONG);
        zmq_msg_close(&f);
        m = (jp_msg_t){.type = JP_MSG_PING};
    }
    for (unsigned i = 0; i <= JP_MSG_MAX_KEY_SESSIONS; i++)
        zmq_close(s[i]);
}

/* ---- misbehaving peers ---------------------------------------------------------- */

#define S_SLOW 2000 /* ms: a round trip not answered by then counts as this */
/* ms: a new connection's WELCOME during a storm of handshakes, which it
 * waits behind in arrival order (up to 2 s seen on 2 cores, old code and
 * new alike); the lock-out this guards against lasted 60 s. */
#define S_SLOW_STORM 10000

/* A good store's round trips, ms. */
typedef struct {
    double ms[4096];
    int n;
} lat_t;

static void
s_lat_add(lat_t *l, double ms)
{
    if (l->n < (int)(sizeof l->ms / sizeof l->ms[0]))
        l->ms[l->n++] = ms;
}

static int
s_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_p99(lat_t *l)
{
    assert_true(l->n > 0);
    qsort(l->ms, (size_t)l->n, sizeof l->ms[0], s_dbl_cmp);
    return l->ms[(l->n * 99 + 99) / 100 - 1];
}

/* The next message within S_SLOW; its round trip since t0 into l.  False
 * (and S_SLOW into l) if none came or it is not of type `type`. */
static bool
s_timed_in(void *s, lat_t *l, uint64_t t0, int type, jp_msg_t *m, zmq_msg_t *f, int slow)
{
    bool ok = s_recv(s, f, m, slow) && m->type == type;
    s_lat_add(l, ok ? (double)(s_ms() - t0) : slow);
    return ok;
}

static bool
s_timed(void *s, lat_t *l, uint64_t t0, int type, jp_msg_t *m, zmq_msg_t *f)
{
    return s_timed_in(s, l, t0, type, m, f, S_SLOW);
}

/* The good store (store 1) while the server is attacked. */
typedef struct {
    void *sock;   /* its session's connection */
    int rounds;   /* syncs done on it */
    int from;     /* the next customer number it writes */
    lat_t hello;  /* new connection to WELCOME, ms */
    lat_t trips;  /* round trips on a session: PUSH, PULL, PING */
    lat_t *now;   /* where trips go: trips, or a later phase's */
    uint64_t pos; /* group_pos of its last WELCOME: it pulls after it */
} good_t;

/* One sync of the good store: every fifth on a new connection (its
 * handshake and HELLO timed apart: under a storm of handshakes it waits
 * its turn for libzmq's crypto), then a PUSH of two new changes and its
 * RECEIPT, a PULL and its CHANGES, five PINGs, each round trip timed. */
static void
s_good_sync(good_t *g)
{
    jp_msg_t m;
    zmq_msg_t f;
    zmq_msg_init(&f);
    uint64_t t0;
    if (!g->sock || g->rounds++ % 5 == 0) {
        if (g->sock)
            zmq_close(g->sock);
        g->sock = s_connect(&F.curve);
        m = (jp_msg_t){.type = JP_MSG_HELLO};
        m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
        m.hello.store = 1;
        t0 = s_ms();
        s_send(g->sock, &m);
        if (!s_timed_in(g->sock, &g->hello, t0, JP_MSG_WELCOME, &m, &f,
                        g->now ? S_SLOW_STORM : S_SLOW))
            goto fail;
        g->pos = m.welcome.group_pos;
    }
    lat_t *l = g->now ? g->now : &g->trips;
    /* Where the server is for it: a PUSH of nothing new is receipted at
     * once with its acked seq. */
    jp_txn_t *t;
    jp_head_t head;
    assert_int_equal(jp_db_begin(F.store, false, &t, NULL), 0);
    assert_int_equal(jp_txn_head(t, 1, &head), 0);
    jp_txn_abort(&t);
    s_write_customers(2, g->from);
    g->from += 2;
    t0 = s_ms();
    s_push(g->sock, 1, head.seq + 1, head.seq + 2, NULL, 0, F.sign);
    if (!s_timed(g->sock, l, t0, JP_MSG_RECEIPT, &m, &f) || m.receipt.seq != head.seq + 2)
        goto fail;
    m = (jp_msg_t){.type = JP_MSG_PULL};
    m.pull.after_pos = g->pos;
    m.pull.credit = 1;
    t0 = s_ms();
    s_send(g->sock, &m);
    if (!s_timed(g->sock, l, t0, JP_MSG_CHANGES, &m, &f))
        goto fail;
    for (int i = 0; i < 5; i++) {
        m = (jp_msg_t){.type = JP_MSG_PING};
        m.ping.ms = (uint64_t)i;
        t0 = s_ms();
        s_send(g->sock, &m);
        if (!s_timed(g->sock, l, t0, JP_MSG_PONG, &m, &f))
            goto fail;
    }
    zmq_msg_close(&f);
    return;
fail: /* the session is lost: the next sync opens another */
    zmq_msg_close(&f);
    zmq_close(g->sock);
    g->sock = NULL;
    g->rounds = 0;
}

static void
s_good_end(good_t *g)
{
    if (g->sock)
        zmq_close(g->sock);
    g->sock = NULL;
}

/* Whether fd has something to read now. */
static bool
s_ready(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

/* A DEALER of key k in context ctx, connected to the server. */
static void *
s_dealer(void *ctx, const jp_curve_t *k)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, F.server_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 40);
    return s;
}

/* A child process that floods the server with PINGs as key k and never
 * reads: a HELLO first if hello, then up to n PINGs as fast as the server
 * takes them.  It writes the count it sent to *done_fd when the flood is
 * over (all sent, or none taken for 2 s) and stays connected until
 * killed.  Its own ZeroMQ context: none is shared across fork. */
static pid_t
s_flooder(const jp_curve_t *k, bool hello, int n, int *done_fd)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        s_kids[s_nkids++] = pid;
        close(p[1]);
        *done_fd = p[0];
        return pid;
    }
    close(p[0]);
    if (nice(19) < 0) /* as s_connector's */
        _exit(1);
    void *ctx = zmq_ctx_new();
    void *s = s_dealer(ctx, k);
    int one = 1, small = 4096;
    zmq_setsockopt(s, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof small);
    zmq_connect(s, F.endpoint);
    jp_buf_t b = {0};
    jp_msg_t m = {.type = JP_MSG_HELLO};
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    if (hello)
        jp_msg_send(s, &m, &b, 0);
    m = (jp_msg_t){.type = JP_MSG_PING};
    m.ping.ms = 1;
    jp_buf_reset(&b);
    jp_msg_encode(&m, &b);
    int sent = 0;
    for (uint64_t stalled = 0; sent < n;) {
        if (zmq_send(s, b.data, b.len, ZMQ_DONTWAIT) >= 0) {
            sent++;
            stalled = 0;
        } else if (!stalled) {
            stalled = s_ms();
        } else if (s_ms() - stalled > 2000) {
            break;
        } else {
            usleep(200);
        }
    }
    if (write(p[1], &sent, sizeof sent) != sizeof sent)
        _exit(1);
    for (;;)
        pause();
}

/* PROTOCOL.md 1: a peer that never reads loses its session, never the
 * group.  Two analysts' connections flood PINGs and read nothing, one
 * without HELLO, one after it; meanwhile and after, a good store syncs
 * with its round trips' p99 under 100 ms, and a new handshake is answered
 * once the flooders are gone. */
static void
t_storm_never_reads(void **state)
{
    (void)state;
    int d[2], sent[2] = {0, 0};
    s_flooder(&F.analyst, false, 300000, &d[0]);
    s_flooder(&F.analyst, true, 300000, &d[1]);
    static good_t g;
    static lat_t late; /* round trips after the flood (the queues full) */
    memset(&g, 0, sizeof g);
    late.n = 0;
    g.from = 50000;
    int over = 0;
    for (uint64_t end = s_ms() + 40000; s_ms() < end && late.n < 200;) {
        g.now = over == 2 ? &late : NULL;
        s_good_sync(&g);
        for (int i = 0; i < 2; i++)
            if (!sent[i] && s_ready(d[i]) &&
                read(d[i], &sent[i], sizeof sent[i]) == sizeof sent[i])
                over++;
    }
    s_good_end(&g);
    double p99 = s_p99(&g.trips), p99_late = late.n ? s_p99(&late) : S_SLOW;
    double hello = s_p99(&g.hello);
    print_message("    flooders sent %d and %d PINGs, reading nothing; the good store's "
                  "p99 over %d round trips: %.1f ms during the flood, %.1f ms over %d "
                  "after it; p99 of %d new connections to WELCOME: %.1f ms\n",
                  sent[0], sent[1], g.trips.n, p99, p99_late, late.n, g.hello.n, hello);
    s_kids_kill();
    close(d[0]);
    close(d[1]);
    long long dropped = s_status_num("dropped");
    print_message("    sessions dropped for not reading: %lld\n", dropped);
    assert_int_equal(over, 2);
    assert_true(p99 < 100);
    assert_true(p99_late < 100);
    assert_true(hello < S_SLOW);
    assert_true(dropped >= 1);
    /* Gone, they leave a server that answers a new handshake. */
    memset(&g, 0, sizeof g);
    g.from = 60000;
    s_good_sync(&g);
    s_good_end(&g);
    assert_int_equal(g.hello.n, 1);
    assert_true(g.hello.ms[0] < S_SLOW);
    assert_int_equal(g.trips.n, 7);
}

/* A child process with n connections of key k, half of them sending a
 * PING without HELLO, half a HELLO; it writes to *done_fd how many got an
 * answer (20 s at most), then closes them all when *go_fd is written. */
static pid_t
s_connector(const jp_curve_t *k, int n, int *done_fd, int *go_fd)
{
    int d[2], g[2];
    assert_int_equal(pipe(d), 0);
    assert_int_equal(pipe(g), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid > 0) {
        s_kids[s_nkids++] = pid;
        close(d[1]);
        close(g[0]);
        *done_fd = d[0];
        *go_fd = g[1];
        return pid;
    }
    close(d[0]);
    close(g[1]);
    /* The attacker's own CPU (its side of 1,000 CURVE handshakes) is on
     * its machines, not the server's: here it yields to the server. */
    if (nice(19) < 0)
        _exit(1);
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 16);
    void **socks = calloc((size_t)n, sizeof *socks);
    zmq_pollitem_t *it = calloc((size_t)n, sizeof *it);
    jp_buf_t hello = {0}, ping = {0};
    jp_msg_t m = {.type = JP_MSG_HELLO};
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    jp_msg_encode(&m, &hello);
    m = (jp_msg_t){.type = JP_MSG_PING};
    jp_msg_encode(&m, &ping);
    for (int i = 0; i < n; i++) {
        socks[i] = s_dealer(ctx, k);
        zmq_connect(socks[i], F.endpoint);
        jp_buf_t *b = i % 2 ? &hello : &ping;
        zmq_send(socks[i], b->data, b->len, ZMQ_DONTWAIT);
        it[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
    }
    /* Poll the ones not answered yet, it[0..left). */
    int answered = 0, left = n;
    for (uint64_t end = s_ms() + 20000; left > 0 && s_ms() < end;) {
        if (zmq_poll(it, left, 100) <= 0)
            continue;
        for (int i = left - 1; i >= 0; i--) {
            if (!(it[i].revents & ZMQ_POLLIN))
                continue;
            answered++;
            it[i] = it[--left];
        }
    }
    char c;
    if (write(d[1], &answered, sizeof answered) != sizeof answered ||
        read(g[0], &c, 1) != 1)
        _exit(1);
    for (int i = 0; i < n; i++)
        zmq_close(socks[i]);
    zmq_ctx_term(ctx);
    _exit(0);
}

/* PROTOCOL.md 5: sessions begin at WELCOME, are bounded per key, and end
 * when their connection closes.  5,000 connections of one analyst's key,
 * half of them never saying HELLO: every one is answered, a good store
 * is answered meanwhile and syncs after with p99 under 100 ms, the session
 * table holds a few of them, and none once they are closed.  During the
 * storm the good store shares 2 cores with five processes computing
 * handshakes (five Curve25519 operations each), so its round trips and new
 * connections wait their turn: p99 15-147 ms over 9 runs here, 872 ms once
 * on the CI machine, WELCOME up to 2 s.  What this guards against is the
 * lock-out (no answer for 60 s), so both are bounded at S_SLOW_STORM. */
static void
t_storm_connections(void **state)
{
    (void)state;
    enum { KIDS = 5, PER = 1000 };
    pid_t pid[KIDS];
    int done[KIDS], go[KIDS], answered[KIDS] = {0};
    bool over[KIDS] = {false};
    uint64_t t0 = s_ms();
    for (int i = 0; i < KIDS; i++)
        pid[i] = s_connector(&F.analyst, PER, &done[i], &go[i]);
    /* While they connect: libzmq's handshakes take the CPU (five Curve25519
     * operations each), the good store waits its turn but is answered. */
    static good_t g;
    static lat_t storm;
    memset(&g, 0, sizeof g);
    storm.n = 0;
    g.from = 80000;
    g.now = &storm;
    int nover = 0;
    for (uint64_t end = s_ms() + 30000; nover < KIDS && s_ms() < end;) {
        s_good_sync(&g);
        for (int i = 0; i < KIDS; i++)
            if (!over[i] && s_ready(done[i]) &&
                read(done[i], &answered[i], sizeof answered[i]) == sizeof answered[i]) {
                over[i] = true;
                nover++;
            }
    }
    uint64_t took = s_ms() - t0;
    /* Then with the 5,000 connections held open. */
    int storm_hellos = g.hello.n;
    double storm_hello = s_p99(&g.hello);
    g.now = NULL;
    g.hello.n = 0;
    for (int i = 0; i < 30; i++)
        s_good_sync(&g);
    s_good_end(&g);
    int total = 0;
    for (int i = 0; i < KIDS; i++)
        total += answered[i];
    double p99 = s_p99(&g.trips), hello = s_p99(&g.hello), p99_storm = s_p99(&storm);
    long long sessions = s_status_num("sessions");
    print_message("    %d connections of one key, %d answered in %llu ms; meanwhile the "
                  "good store's p99 over %d round trips: %.1f ms, of %d new connections "
                  "to WELCOME: %.1f ms\n",
                  KIDS * PER, total, (unsigned long long)took, storm.n, p99_storm,
                  storm_hellos, storm_hello);
    print_message("    with them open: the good store's p99 over %d round trips %.1f ms, "
                  "of %d new connections to WELCOME %.1f ms; sessions: %lld\n",
                  g.trips.n, p99, g.hello.n, hello, sessions);
    for (int i = 0; i < KIDS; i++) {
        if (write(go[i], "x", 1) != 1)
            kill(pid[i], SIGKILL);
        waitpid(pid[i], NULL, 0);
        close(done[i]);
        close(go[i]);
    }
    s_nkids = 0;
    assert_int_equal(nover, KIDS);
    assert_int_equal(total, KIDS * PER);
    assert_true(storm.n > 0 && p99_storm < S_SLOW_STORM);
    assert_true(storm_hello < S_SLOW_STORM);
    assert_true(p99 < 100);
    assert_true(hello < 100);
    /* The key's 8 (the asking one among them), and the good store's last
     * connections if their close is not through yet. */
    assert_true(sessions >= 1 && sessions <= JP_MSG_MAX_KEY_SESSIONS + 2);
    /* Closed, they hold nothing: the only session is the one asking. */
    for (uint64_t end = s_ms() + 5000;
         (sessions = s_status_num("sessions")) != 1 && s_ms() < end;)
        usleep(100 * 1000);
    assert_int_equal(sessions, 1);
}

/* A standby's CREDIT is also its acknowledgement (PROTOCOL.md, PULL): a
 * CREDIT of 2^64-1 is refused as too much, and acknowledges nothing -- the
 * server answers the next question at once (it once counted that many
 * acknowledgements on its main thread, and stopped). */
static void
t_standby_huge_credit(void **state)
{
    (void)state;
    void *s = s_connect(&F.standby);
    s_hello(s, 0);
    jp_msg_t m = {.type = JP_MSG_PULL};
    m.pull.credit = 1;
    s_send(s, &m);
    m = (jp_msg_t){.type = JP_MSG_CREDIT};
    m.credit.credit = UINT64_MAX;
    s_send(s, &m);
    s_expect_error(s, JP_PERR_MALFORMED);
    assert_true(s_status_num("sessions") >= 1); /* answered: the main thread goes on */
    zmq_close(s);
}

/* SIGTERM stops the server while a peer that never reads is connected. */
static void
t_sigterm_while_flooded(void **state)
{
    (void)state;
    int d, sent = 0;
    s_flooder(&F.analyst, true, 300000, &d);
    struct pollfd p = {d, POLLIN, 0};
    if (poll(&p, 1, 30000) == 1 && read(d, &sent, sizeof sent) != sizeof sent)
        sent = -1;
    uint64_t t0 = s_ms();
    bool stopped = s_stop_server(5000);
    print_message("    after %d PINGs unread: %s in %llu ms\n", sent,
                  stopped ? "stopped" : "still running",
                  (unsigned long long)(s_ms() - t0));
    s_kids_kill();
    close(d);
    assert_true(stopped);
}

/* $JP_TEST_ONLY, if set: run only the tests whose names match this glob;
 * $JP_TEST_SKIP: skip those matching it (tests/CMakeLists.txt runs the
 * storms, t_storm_*, apart: they measure latency and need the cores). */
int
main(void)
{
    const char *only = getenv("JP_TEST_ONLY"), *skip = getenv("JP_TEST_SKIP");
    if (only && *only)
        cmocka_set_test_filter(only);
    if (skip && *skip)
        cmocka_set_skip_filter(skip);
    signal(SIGPIPE, SIG_IGN);
    /* 5,000 connections: the server and this process need the fds. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_accept_and_replay),
        cmocka_unit_test(t_idle_session_kept),
        cmocka_unit_test(t_unenrolled_key),
        cmocka_unit_test(t_claims_another_store),
        cmocka_unit_test(t_broken_chain),
        cmocka_unit_test(t_bad_signature),
        cmocka_unit_test(t_future_hlc),
        cmocka_unit_test(t_malformed),
        cmocka_unit_test(t_push_credit),
        cmocka_unit_test(t_over_max_batch),
        cmocka_unit_test(t_create_as_a_store),
        cmocka_unit_test(t_questions_in_one_session),
        cmocka_unit_test(t_log_escaped),
        cmocka_unit_test(t_frame_limits),
        cmocka_unit_test(t_edges_defined),
        cmocka_unit_test(t_enroll_help_says_hex),
        cmocka_unit_test(t_sessions_per_key),
        cmocka_unit_test(t_revoked_live_session),
        cmocka_unit_test(t_standby_huge_credit),
        cmocka_unit_test(t_storm_never_reads),
        cmocka_unit_test(t_storm_connections),
        cmocka_unit_test(t_sigterm_while_flooded),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
