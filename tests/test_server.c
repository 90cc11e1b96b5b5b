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
#include <sys/stat.h>
#include <sys/wait.h>
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

typedef struct {
    char dir[64];
    char conf[128];
    char endpoint[64];
    pid_t pid;
    jp_db_t *store;         /* store 1's environment */
    jp_key_t *sign;         /* store 1's signing key */
    jp_curve_t curve;       /* store 1's Curve key */
    uint8_t server_key[32]; /* the server's Curve key */
    void *ctx;
    jp_buf_t buf;
} fx_t;

static fx_t F; /* one server for the whole file: group setup runs once */

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
            "timezone = Asia/Shanghai\ncredit = 4\n",
            F.endpoint, F.dir);
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

    F.pid = fork();
    if (F.pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(SERVER, SERVER, "-c", F.conf, "run", (char *)NULL);
        _exit(127);
    }
    F.ctx = zmq_ctx_new();
    usleep(300 * 1000); /* the socket binds at once; the first HELLO waits anyway */
    return F.pid > 0 ? 0 : -1;
}

static int
s_teardown(void **state)
{
    (void)state;
    if (F.pid > 0) {
        kill(F.pid, SIGTERM);
        int st;
        waitpid(F.pid, &st, 0);
    }
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

static void *
s_connect(const jp_curve_t *k)
{
    void *s = zmq_socket(F.ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, F.server_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, 40);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 40);
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
    m.hello.min_version = m.hello.max_version = 1;
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
    void *s = s_connect(&stranger);
    void *mon = NULL;
    /* The handshake fails in the ZAP handler: a monitor sees it. */
    assert_int_equal(
        zmq_socket_monitor(s, "inproc://mon-unenrolled", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
        0);
    mon = zmq_socket(F.ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(mon, "inproc://mon-unenrolled"), 0);
    jp_msg_t m = {.type = JP_MSG_HELLO};
    m.hello.min_version = m.hello.max_version = 1;
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
    m.hello.min_version = m.hello.max_version = 1;
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
    m.hello.min_version = m.hello.max_version = 1;
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

int
main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_accept_and_replay),
        cmocka_unit_test(t_unenrolled_key),
        cmocka_unit_test(t_claims_another_store),
        cmocka_unit_test(t_broken_chain),
        cmocka_unit_test(t_bad_signature),
        cmocka_unit_test(t_future_hlc),
        cmocka_unit_test(t_malformed),
        cmocka_unit_test(t_push_credit),
        cmocka_unit_test(t_questions_in_one_session),
        cmocka_unit_test(t_revoked_live_session),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
