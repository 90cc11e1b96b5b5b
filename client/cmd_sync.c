/*
 * cmd_sync.c -- the store's side of the sync protocol (proto/PROTOCOL.md):
 * `keys`, `sync` (once), `run` (the daemon), `backup`.
 *
 * A round: HELLO, WELCOME (where the server stands for this store), then
 * at once both directions: PUSH the changes after the server's acked seq,
 * several batches in flight up to the server's credit, each RECEIPT
 * verified against the pinned receipt key and kept; and PULL the group
 * log after this store's cursor, each CHANGES applied with the cursor in
 * one transaction, one CREDIT back for each.  When both are done: BYE.  A
 * store in sync costs HELLO, WELCOME, one empty CHANGES, BYE.
 *
 * What the store keeps in its sync table:
 *   "endpoint"    the server's endpoint (text)
 *   "server_key"  the server's Curve key, pinned at the first sync (text)
 *   "receipt_key" the server's receipt key, pinned at the first WELCOME
 *   "cursor"      the group log position pulled up to (be64)
 *   "term"        the highest term a WELCOME gave (be64; PROTOCOL.md,
 *                 "Terms"): a server with a lower one is superseded
 */
#include "store.h"

#include "ask.h"
#include "attest.h"
#include "codec.h"
#include "crypto.h"
#include "curve.h"
#include "msg.h"
#include "validate.h"
#include "view.h"
#include "vouch.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_CURVE_FILE "curve.key"
#define S_TIMEOUT_MS 15000 /* silence that ends a round (PROTOCOL.md 3) */
#define S_PULL_CREDIT 8    /* CHANGES in flight */
#define S_AGENT "jipan-store/1"

typedef struct {
    cli_t *c;
    void *ctx, *sock;
    void *mon;     /* the socket's handshake refusals */
    jp_key_t *key; /* this store's signing key */
    jp_buf_t out;  /* outgoing message */
    uint8_t receipt_key[JP_PUB_LEN];
    /* counters of one round, for the summary line */
    uint64_t pushed, pulled;
    uint64_t returned; /* the server's own changes given back to it (RETURN) */
    int perr; /* protocol error the server answered, 0 if none */
    int wait_ms;  /* silence that ends a round: S_TIMEOUT_MS, or less for a HELLO */
    int hello_ms; /* the HELLO's: less when another endpoint may answer */
    bool silent;  /* the last receive timed out */
    bool superseded; /* the server's term is below one this store has seen */
    bool quiet;
    bool no_push, no_pull; /* --pull-only, --push-only */
    bool recovering;       /* restored from a backup: own changes come back first */
    bool daemon;           /* `run`: rounds for ever */
    struct {
        const uint8_t *p;
        size_t n;
    } * chp; /* the changes of the batch being built (JP_MSG_MAX_CHANGES) */
} s_sync_t;

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* ---- keys ------------------------------------------------------------------ */

/* This store's Curve key pair, created on first use. */
static int
s_curve(cli_t *c, jp_curve_t *k, bool *created)
{
    char path[1024];
    jp_err_t err;
    cli_path(c, S_CURVE_FILE, path, sizeof path);
    int rc = jp_curve_load(k, path, &err);
    *created = false;
    if (rc == JP_ENOTFOUND) {
        if ((rc = jp_curve_generate(k, &err)) == 0 &&
            (rc = jp_curve_save(k, path, &err)) == 0)
            *created = true;
    }
    return rc ? cli_fail_err(c, rc, &err) : CLI_OK;
}

static const char s_keys_usage[] =
    "usage: " CLI_PROG " keys [--next | --switch | --attest FILE]\n"
    "\n"
    "Print this store's public keys: what the group's operator enrols with\n"
    "`jipan-server enroll --store N --curve HEX --sign HEX ...`.  The Curve key\n"
    "pair (DIR/" S_CURVE_FILE ", mode 0600) is made on first use.\n"
    "\n"
    "Key rotation, with an overlap window:\n"
    "  --next     make the next key pair (DIR/*.next) and print the enrolment\n"
    "             command with --rotate; the operator runs it, which admits the\n"
    "             new keys at once and lets the old ones expire after the\n"
    "             server's overlap window (overlap_days)\n"
    "  --switch   start using the next keys (the old ones are kept as\n"
    "             DIR/*.old-<time>); do this within the window\n"
    "\n"
    "For the auditor:\n"
    "  --attest FILE  write the store's key file (which must not exist): its\n"
    "             group, its number and every signing key it holds (the\n"
    "             current one, the next and the old ones), signed by the\n"
    "             current key.  Hand it to the auditor yourself, not through\n"
    "             the server: `jipan-audit verify --store-keys FILE` then\n"
    "             refuses any other key the group export lists for this store.\n"
    "             Format: docs/EXPORT.md.\n";

/* Print the public keys of the pair in key_file/curve_file. */
static int
s_print_keys(cli_t *c, const char *key_file, const char *curve_file, bool rotate)
{
    jp_curve_t k;
    jp_key_t *key = NULL;
    jp_err_t err;
    char path[1024], hex[2 * JP_PUB_LEN + 1], curve_hex[2 * 32 + 1];
    uint8_t pub[JP_PUB_LEN];
    cli_path(c, curve_file, path, sizeof path);
    int rc = jp_curve_load(&k, path, &err);
    if (!rc) {
        cli_path(c, key_file, path, sizeof path);
        rc = jp_key_load(&key, path, &err);
    }
    if (rc)
        return cli_fail_err(c, rc, &err);
    jp_curve_hex(k.pub, curve_hex);
    memset(&k, 0, sizeof k);
    jp_key_public(key, pub);
    jp_key_destroy(&key);
    jp_hex(pub, sizeof pub, hex);
    printf("store  %u\ncode   %s\nregion %s\ncurve  %s\nsign   %s\n", c->node.store,
           c->node.code, c->node.region, curve_hex, hex);
    printf("\nenrol with:\n  jipan-server enroll --store %u --code %s --region %s "
           "--curve %s --sign %s%s\n",
           c->node.store, c->node.code, c->node.region, curve_hex, hex,
           rotate ? " --rotate" : "");
    return CLI_OK;
}

/* The public key of the key file name in the store's directory into a's
 * list (a duplicate is listed once). */
static int
s_attest_add(cli_t *c, jp_attest_t *a, const char *name, jp_err_t *err)
{
    char path[1024];
    jp_key_t *key = NULL;
    uint8_t pub[JP_PUB_LEN];
    cli_path(c, name, path, sizeof path);
    int rc = jp_key_load(&key, path, err);
    if (rc)
        return rc;
    jp_key_public(key, pub);
    jp_key_destroy(&key);
    for (int i = 0; i < a->nkeys; i++)
        if (!memcmp(a->keys[i], pub, JP_PUB_LEN))
            return 0;
    if (a->nkeys == JP_ATTEST_MAX_KEYS)
        return jp_err_set(err, JP_ETOOBIG,
                          "over %d signing keys in %s (old ones included): remove the "
                          "oldest " CLI_KEY_FILE
                          ".old-* files the server no longer lists",
                          JP_ATTEST_MAX_KEYS, c->dir);
    memcpy(a->keys[a->nkeys++], pub, JP_PUB_LEN);
    return 0;
}

static int
s_name_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The store's key file for the auditor: every signing key it holds. */
static int
s_keys_attest(cli_t *c, const char *out)
{
    jp_attest_t a = {.store = c->node.store, .ms = jp_now_ms()};
    jp_err_t err = {0};
    jp_key_t *key = NULL;
    char path[1024], *old[JP_ATTEST_MAX_KEYS + 1];
    int nold = 0, rc;
    snprintf(a.group, sizeof a.group, "%s", c->node.group);
    /* The current key first (it signs the file), then the next, then the
     * old ones, oldest first. */
    if ((rc = s_attest_add(c, &a, CLI_KEY_FILE, &err)))
        goto fail;
    cli_path(c, CLI_KEY_FILE ".next", path, sizeof path);
    if (access(path, F_OK) == 0 && (rc = s_attest_add(c, &a, CLI_KEY_FILE ".next", &err)))
        goto fail;
    DIR *d = opendir(c->dir);
    if (!d) {
        rc = jp_err_set(&err, JP_EIO, "cannot read %s: %s", c->dir, strerror(errno));
        goto fail;
    }
    struct dirent *de;
    while ((de = readdir(d)) && nold <= JP_ATTEST_MAX_KEYS)
        if (!strncmp(de->d_name, CLI_KEY_FILE ".old-", sizeof CLI_KEY_FILE + 4) &&
            !(old[nold++] = strdup(de->d_name)))
            break;
    closedir(d);
    qsort(old, (size_t)nold, sizeof *old, s_name_cmp);
    for (int i = 0; i < nold && rc == 0; i++)
        rc = old[i] ? s_attest_add(c, &a, old[i], &err)
                    : jp_err_set(&err, JP_ENOMEM, "out of memory");
    for (int i = 0; i < nold; i++)
        free(old[i]);
    if (rc)
        goto fail;
    cli_path(c, CLI_KEY_FILE, path, sizeof path);
    if ((rc = jp_key_load(&key, path, &err)) ||
        (rc = jp_attest_write(out, &a, key, &err)))
        goto fail;
    jp_key_destroy(&key);
    printf("wrote store %u's key file %s: %d signing key%s, signed by the current one\n",
           a.store, out, a.nkeys, a.nkeys == 1 ? "" : "s");
    for (int i = 0; i < a.nkeys; i++) {
        char hex[2 * JP_PUB_LEN + 1];
        jp_hex(a.keys[i], JP_PUB_LEN, hex);
        printf("  key %s\n", hex);
    }
    return CLI_OK;
fail:
    jp_key_destroy(&key);
    return cli_fail_err(c, rc, &err);
}

/* Make the next pair, unless there is one already. */
static int
s_keys_next(cli_t *c)
{
    char path[1024];
    jp_err_t err;
    int rc = 0;
    cli_path(c, CLI_KEY_FILE ".next", path, sizeof path);
    if (access(path, F_OK) != 0) {
        jp_key_t *key = NULL;
        if ((rc = jp_key_generate(&key, &err)) == 0)
            rc = jp_key_save(key, path, &err);
        jp_key_destroy(&key);
    }
    cli_path(c, S_CURVE_FILE ".next", path, sizeof path);
    if (!rc && access(path, F_OK) != 0) {
        jp_curve_t k;
        if ((rc = jp_curve_generate(&k, &err)) == 0)
            rc = jp_curve_save(&k, path, &err);
        memset(&k, 0, sizeof k);
    }
    return rc ? cli_fail_err(c, rc, &err)
              : s_print_keys(c, CLI_KEY_FILE ".next", S_CURVE_FILE ".next", true);
}

/* The next pair becomes the pair; the old one is kept, renamed. */
static int
s_keys_switch(cli_t *c)
{
    static const char *const files[2] = {CLI_KEY_FILE, S_CURVE_FILE};
    char next[1100], cur[1024], old[1100];
    for (int i = 0; i < 2; i++) {
        snprintf(old, sizeof old, "%s.next", files[i]);
        cli_path(c, old, next, sizeof next - 8);
        if (access(next, F_OK) != 0)
            return cli_fail(c, CLI_REFUSED, "no next keys: run `keys --next` first");
    }
    unsigned long long ms = (unsigned long long)jp_now_ms();
    for (int i = 0; i < 2; i++) {
        cli_path(c, files[i], cur, sizeof cur);
        snprintf(old, sizeof old, "%s.old-%llu", cur, ms);
        snprintf(next, sizeof next, "%s.next", cur);
        if ((access(cur, F_OK) == 0 && rename(cur, old) != 0) || rename(next, cur) != 0)
            return cli_fail(c, CLI_INTERNAL, "cannot switch %s: %s", files[i],
                            strerror(errno));
    }
    printf("switched to the next keys; the old ones are kept as *.old-%llu\n", ms);
    return CLI_OK;
}

int
cmd_keys(cli_t *c, int argc, char **argv)
{
    int o, ec = CLI_CONTINUE;
    bool next = false, sw = false;
    const char *attest = NULL;
    static const struct option opts[] = {CLI_STD_LONGOPTS,
                                         {"next", no_argument, NULL, 'n'},
                                         {"switch", no_argument, NULL, 's'},
                                         {"attest", required_argument, NULL, 'a'},
                                         {NULL, 0, NULL, 0}};
    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'n')
            next = true;
        else if (o == 's')
            sw = true;
        else if (o == 'a')
            attest = optarg;
        else
            ec = cli_std_opt(c, o, argv, s_keys_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (next + sw + (attest != NULL) > 1)
        return cli_usage_error(c, "--next, --switch and --attest exclude each other");
    if ((ec = cli_open(c)))
        return ec;
    jp_curve_t k;
    bool created;
    if (next)
        ec = s_keys_next(c);
    else if (sw)
        ec = s_keys_switch(c);
    else if (attest)
        ec = s_keys_attest(c, attest);
    else if ((ec = s_curve(c, &k, &created)) == CLI_OK)
        ec = s_print_keys(c, CLI_KEY_FILE, S_CURVE_FILE, false);
    memset(&k, 0, sizeof k);
    cli_close(c);
    return ec;
}

/* ---- the sync table ------------------------------------------------------------ */

static int
s_get_text(jp_txn_t *txn, const char *name, char *out, size_t cap)
{
    const void *v;
    size_t n;
    out[0] = '\0';
    int rc = jp_txn_tb_get(txn, JP_TB_SYNC, name, strlen(name), &v, &n);
    if (rc)
        return rc;
    if (n >= cap)
        return JP_ECORRUPT;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static int
s_put_text(jp_txn_t *txn, const char *name, const void *v, size_t n)
{
    return jp_txn_tb_put(txn, JP_TB_SYNC, name, strlen(name), v, n);
}

static uint64_t
s_cursor(jp_txn_t *txn)
{
    const void *v;
    size_t n;
    return jp_txn_tb_get(txn, JP_TB_SYNC, "cursor", 6, &v, &n) == 0 && n == 8
               ? jp_be64_get(v)
               : 0;
}

static int
s_put_cursor(jp_txn_t *txn, uint64_t pos)
{
    uint8_t v[8];
    jp_be64_put(v, pos);
    return s_put_text(txn, "cursor", v, 8);
}

/* ---- one round ------------------------------------------------------------------- */

static void __attribute__((format(printf, 2, 3))) s_say(s_sync_t *s, const char *fmt, ...)
{
    if (s->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* What the store must hear even with -q: its holdings changed. */
static void __attribute__((format(printf, 2, 3)))
s_tell(s_sync_t *s, const char *fmt, ...)
{
    (void)s;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static int
s_send(s_sync_t *s, const jp_msg_t *m)
{
    int rc = jp_msg_send(s->sock, m, &s->out, 0);
    if (rc)
        return cli_fail(s->c, CLI_INTERNAL, "cannot send %s: %s",
                        jp_msg_type_name(m->type),
                        rc < 0 && rc != -1 ? jp_strerror(rc) : zmq_strerror(errno));
    return 0;
}

/* Open a stream of the group log after position cursor. */
static int
s_pull(s_sync_t *s, uint64_t cursor)
{
    jp_msg_t m = {.type = JP_MSG_PULL};
    m.pull.after_pos = cursor;
    m.pull.credit = S_PULL_CREDIT;
    m.pull.own = s->recovering;
    return s_send(s, &m);
}

/* Receive one message into *frame and decode it into m; CLI_REFUSED on
 * silence past the timeout (the round is over; the caller reconnects). */
static int
s_recv(s_sync_t *s, zmq_msg_t *frame, jp_msg_t *m)
{
    zmq_pollitem_t it[2] = {{s->sock, 0, ZMQ_POLLIN, 0}, {s->mon, 0, ZMQ_POLLIN, 0}};
    int wait = s->wait_ms ? s->wait_ms : S_TIMEOUT_MS;
    uint64_t until = jp_now_ms() + (uint64_t)wait;
    for (;;) {
        if (s_stop)
            return cli_fail(s->c, CLI_REFUSED, "interrupted");
        int64_t left = (int64_t)(until - jp_now_ms());
        if (left <= 0) {
            s->silent = true;
            return cli_fail(s->c, CLI_REFUSED, "no answer from the server in %d s (offline?)",
                            wait / 1000);
        }
        int n = zmq_poll(it, s->mon ? 2 : 1, left > 500 ? 500 : (long)left);
        if (n < 0 && errno != EINTR)
            return cli_fail(s->c, CLI_INTERNAL, "poll: %s", zmq_strerror(errno));
        if (n > 0 && (it[0].revents & ZMQ_POLLIN))
            break;
        if (n > 0 && (it[1].revents & ZMQ_POLLIN) && jp_auth_refused(s->mon)) {
            /* run retries with backoff: the operator may enrol it yet */
            return cli_fail(s->c, CLI_REFUSED, JP_AUTH_REFUSED_TEXT);
        }
    }
    if (zmq_msg_recv(frame, s->sock, 0) < 0)
        return cli_fail(s->c, CLI_INTERNAL, "receive: %s", zmq_strerror(errno));
    jp_err_t err;
    int rc = jp_msg_decode(zmq_msg_data(frame), zmq_msg_size(frame), m, &err);
    if (rc)
        return cli_fail(s->c, CLI_INTERNAL, "the server sent a bad message: %s", err.msg);
    if (m->type == JP_MSG_ERROR) {
        char text[512];
        s->perr = (int)m->error.code;
        /* The server's words, shown safely; an author no node can decode
         * is this store's to mend. */
        jp_text_show(m->error.message.p, m->error.message.n, text, sizeof text);
        return cli_fail(
            s->c, CLI_REFUSED, "server refused (%s): %s%s",
            jp_perr_name((int)m->error.code) ? jp_perr_name((int)m->error.code) : "?",
            text,
            strstr(text, "author") ? " (`" CLI_PROG
                                     " repair` mends this store's log: deploy/README.md)"
                                   : "");
    }
    return 0;
}

/* Build and send the PUSH of changes *next.. (at most max_batch bytes). */
static int
s_push_batch(s_sync_t *s, uint64_t *next, uint64_t head, uint64_t max_batch, uint64_t bno)
{
    cli_t *c = s->c;
    jp_txn_t *txn;
    jp_err_t err;
    int rc = jp_db_begin(c->db, false, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    /* First find what fits, then build: the list's length comes first.
     * The changes' bytes stay where LMDB has them until the abort. */
    uint64_t bytes = 0, last = *next - 1;
    const uint8_t *p = NULL;
    size_t n = 0;
    if (!s->chp && !(s->chp = malloc(JP_MSG_MAX_CHANGES * sizeof *s->chp))) {
        jp_txn_abort(&txn);
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    }
    while (last < head && last - *next + 1 < JP_MSG_MAX_CHANGES) {
        if ((rc = jp_txn_log_get(txn, c->node.store, last + 1, &p, &n)))
            goto fail;
        if (n > JP_MAX_CHANGE) {
            /* Only a user name that was never checked makes one so big. */
            jp_txn_abort(&txn);
            return cli_fail(c, CLI_REFUSED,
                            "seq %llu is %zu bytes, over the %d a change may have: no "
                            "server takes it; `" CLI_PROG " repair` mends this store's "
                            "log (deploy/README.md)",
                            (unsigned long long)(last + 1), n, JP_MAX_CHANGE);
        }
        if (bytes && bytes + n + 5 > max_batch)
            break;
        s->chp[last + 1 - *next].p = p;
        s->chp[last + 1 - *next].n = n;
        bytes += n + 5;
        last++;
    }
    jp_msg_t m = {.type = JP_MSG_PUSH};
    m.push.batch = bno;
    m.push.store = c->node.store;
    m.push.first_seq = *next;
    m.push.last_seq = last;
    jp_msg_builder_t b;
    jp_buf_reset(&s->out);
    jp_msg_begin(&b, &s->out, &m, (uint32_t)(last - *next + 1));
    uint8_t hash[JP_HASH_LEN], msg[JP_BATCH_MSG_LEN];
    for (uint64_t i = 0; i <= last - *next; i++) {
        p = s->chp[i].p;
        n = s->chp[i].n;
        jp_msg_add_change(&b, p, n);
    }
    jp_sha256(p, n, hash);
    jp_batch_msg(c->node.store, *next, last, hash, msg);
    if ((rc = jp_key_sign(s->key, msg, sizeof msg, m.push.sig)) ||
        (rc = jp_msg_end(&b, &m)))
        goto fail;
    jp_txn_abort(&txn);
    if (zmq_send(s->sock, s->out.data, s->out.len, 0) < 0)
        return cli_fail(c, CLI_INTERNAL, "cannot send a batch: %s", zmq_strerror(errno));
    s->pushed += last - *next + 1;
    *next = last + 1;
    return 0;
fail:
    jp_txn_abort(&txn);
    return cli_fail(c, cli_exit_for(rc), "batch from seq %llu: %s",
                    (unsigned long long)*next, jp_strerror(rc));
}

/* RETURN the server's own changes this store holds from seq *seq on, up to
 * max_batch bytes (none for *seq 0: the question whether it recovers);
 * done: none, the last RETURN. */
static int
s_return_send(s_sync_t *s, uint64_t *seq, uint64_t max_batch, bool done)
{
    cli_t *c = s->c;
    jp_txn_t *txn;
    jp_err_t err;
    jp_head_t h;
    int rc = jp_db_begin(c->db, false, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    if (!s->chp && !(s->chp = malloc(JP_MSG_MAX_CHANGES * sizeof *s->chp))) {
        jp_txn_abort(&txn);
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    }
    uint32_t k = 0;
    uint64_t bytes = 0;
    if ((rc = jp_txn_head(txn, 0, &h)))
        goto fail;
    for (; !done && *seq > 0 && *seq <= h.seq && k < JP_MSG_MAX_CHANGES; ++*seq) {
        const uint8_t *p;
        size_t n;
        if ((rc = jp_txn_log_get(txn, 0, *seq, &p, &n)) == JP_ENOTFOUND)
            continue; /* a part of the server's log: another store holds it */
        if (rc)
            goto fail;
        if (k && bytes + n + 5 > max_batch)
            break;
        s->chp[k].p = p;
        s->chp[k++].n = n;
        bytes += n + 5;
    }
    jp_msg_t m = {.type = JP_MSG_RETURN};
    m.ret.done = done;
    jp_msg_builder_t b;
    jp_buf_reset(&s->out);
    jp_msg_begin(&b, &s->out, &m, k);
    for (uint32_t i = 0; i < k; i++)
        jp_msg_add_change(&b, s->chp[i].p, s->chp[i].n);
    if ((rc = jp_msg_end(&b, &m)))
        goto fail;
    jp_txn_abort(&txn);
    if (zmq_send(s->sock, s->out.data, s->out.len, 0) < 0)
        return cli_fail(c, CLI_INTERNAL, "cannot send a RETURN: %s", zmq_strerror(errno));
    s->returned += k;
    return 0;
fail:
    jp_txn_abort(&txn);
    return cli_fail(c, cli_exit_for(rc), "returning the server's changes: %s",
                    jp_strerror(rc));
}

/* Wait for the RETURNED that answers a RETURN (PINGs answered meanwhile). */
static int
s_returned(s_sync_t *s, zmq_msg_t *frame, jp_msg_t *in)
{
    for (;;) {
        zmq_msg_close(frame);
        zmq_msg_init(frame);
        int ec = s_recv(s, frame, in);
        if (ec)
            return ec;
        if (in->type == JP_MSG_RETURNED)
            return 0;
        if (in->type != JP_MSG_PING)
            return cli_fail(s->c, CLI_REFUSED, "the server answered RETURN with %s",
                            jp_msg_type_name(in->type));
        jp_msg_t m = {.type = JP_MSG_PONG};
        m.pong.ms = in->ping.ms;
        if ((ec = s_send(s, &m)))
            return ec;
    }
}

/* A server restored from a backup takes back the changes it wrote itself
 * after it (its links), which this store holds (PROTOCOL.md, RETURN): ask
 * whether it is recovering, give it what it lacks, say it is done. */
static int
s_give_back(s_sync_t *s, uint64_t max_batch)
{
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    jp_msg_t in;
    uint64_t seq = 0;
    int ec = s_return_send(s, &seq, max_batch, false); /* seq 0: an empty question */
    if (!ec)
        ec = s_returned(s, &frame, &in);
    if (!ec && in.returned.recovering) {
        seq = in.returned.own_seq + 1;
        jp_txn_t *txn;
        jp_head_t h = {0};
        if (jp_db_begin(s->c->db, false, &txn, NULL) == 0) {
            jp_txn_head(txn, 0, &h);
            jp_txn_abort(&txn);
        }
        while (!ec && seq <= h.seq) {
            ec = s_return_send(s, &seq, max_batch, false);
            if (!ec)
                ec = s_returned(s, &frame, &in);
        }
        if (!ec)
            ec = s_return_send(s, &seq, max_batch, true);
        if (!ec)
            ec = s_returned(s, &frame, &in);
        if (!ec)
            s_tell(s, "the server was restored from a backup: returned %llu of the "
                      "changes it had made (its log now reaches seq %llu)\n",
                   (unsigned long long)s->returned, (unsigned long long)in.returned.own_seq);
    }
    zmq_msg_close(&frame);
    return ec;
}

/* A RECEIPT: it must be signed by the pinned key and name our own hash. */
static int
s_receipt(s_sync_t *s, const jp_msg_t *m)
{
    cli_t *c = s->c;
    uint8_t rmsg[JP_RECEIPT_MSG_LEN];
    jp_receipt_msg(c->node.store, m->receipt.seq, m->receipt.server_ms, m->receipt.head,
                   rmsg);
    if (m->receipt.store != c->node.store ||
        jp_sig_verify(s->receipt_key, rmsg, sizeof rmsg, m->receipt.sig) != 0)
        return cli_fail(c, CLI_REFUSED,
                        "a receipt for seq %llu is not signed by the pinned server key",
                        (unsigned long long)m->receipt.seq);
    jp_txn_t *txn;
    jp_err_t err;
    jp_head_t own;
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    const uint8_t *p;
    size_t n;
    uint8_t h[JP_HASH_LEN];
    if ((rc = jp_txn_head(txn, c->node.store, &own)) || m->receipt.seq > own.seq ||
        (m->receipt.seq &&
         ((rc = jp_txn_log_get(txn, c->node.store, m->receipt.seq, &p, &n)) ||
          (jp_sha256(p, n, h), memcmp(h, m->receipt.head, JP_HASH_LEN))))) {
        jp_txn_abort(&txn);
        return cli_fail(
            c, CLI_REFUSED,
            "the server's receipt for seq %llu does not match this store's log",
            (unsigned long long)m->receipt.seq);
    }
    jp_receipt_t r = {
        .store = c->node.store, .seq = m->receipt.seq, .ms = m->receipt.server_ms};
    memcpy(r.sig, m->receipt.sig, JP_SIG_LEN);
    if (m->receipt.seq && (rc = jp_txn_receipt_put(txn, &r)))
        goto fail;
    if ((rc = jp_txn_commit(&txn, &err)))
        return cli_fail_err(c, rc, &err);
    return 0;
fail:
    jp_txn_abort(&txn);
    return cli_fail_rc(c, rc, "keeping a receipt");
}

/* A CHANGES: every entry merged, and the cursor, in one transaction. */
static int
s_changes(s_sync_t *s, const jp_msg_t *m, uint64_t *cursor, cli_view_t *v)
{
    cli_t *c = s->c;
    jp_err_t verr;
    if (jp_vouch_check(m, c->node.store, NULL, s->receipt_key, &verr))
        return cli_fail(c, CLI_REFUSED, "nothing applied: %s", verr.msg);
    if (m->changes.from_pos != *cursor + 1 || m->changes.to_pos < *cursor)
        return cli_fail(c, CLI_REFUSED, "the server sent positions %llu..%llu after %llu",
                        (unsigned long long)m->changes.from_pos,
                        (unsigned long long)m->changes.to_pos,
                        (unsigned long long)*cursor);
    jp_txn_t *txn;
    jp_err_t err;
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    jp_msg_iter_t it;
    jp_msg_iter_init(&it, &m->changes.entries);
    const uint8_t *p;
    size_t n;
    uint64_t store, pos;
    while ((rc = jp_msg_next_entry(&it, &store, &pos, &p, &n)) > 0) {
        /* Its own chain stays whole; the others' come in part, vouched. */
        if (store != c->node.store && (rc = cli_view_seen(c, v, txn, p, n))) {
            jp_txn_abort(&txn);
            return rc;
        }
        rc = store == c->node.store ? jp_txn_apply(txn, p, n, &err)
                                    : jp_txn_apply_vouched(txn, p, n, &err);
        if (rc == JP_EDUP)
            continue;
        if (rc) {
            jp_txn_abort(&txn);
            return cli_fail(c, cli_exit_for(rc), "group log after %llu: %s",
                            (unsigned long long)*cursor, err.msg);
        }
        s->pulled++;
    }
    if ((rc = s_put_cursor(txn, m->changes.to_pos)) || (rc = jp_txn_commit(&txn, &err))) {
        jp_txn_abort(&txn);
        return cli_fail(c, cli_exit_for(rc), "applying pulled changes: %s",
                        jp_strerror(rc));
    }
    *cursor = m->changes.to_pos;
    return 0;
}

/* The position check of WELCOME, and the receipt key pin. */
static int
s_welcome(s_sync_t *s, const jp_msg_t *w, jp_head_t *own, uint64_t *cursor)
{
    cli_t *c = s->c;
    jp_txn_t *txn;
    jp_err_t err;
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    *cursor = s_cursor(txn);
    if ((rc = jp_txn_head(txn, c->node.store, own)))
        goto fail;
    /* A primary whose standby was promoted while it was away: this store
     * has synced with the new one, and gives the old one nothing. */
    const void *v;
    size_t n;
    uint64_t seen = jp_txn_tb_get(txn, JP_TB_SYNC, "term", 4, &v, &n) == 0 && n == 8
                        ? jp_be64_get(v)
                        : 0;
    if (w->welcome.term < seen) {
        jp_txn_abort(&txn);
        s->superseded = true;
        return cli_fail(c, CLI_REFUSED,
                        "the server is a superseded primary (its term %llu; this store has "
                        "synced with term %llu): deploy/README.md, failover",
                        (unsigned long long)w->welcome.term, (unsigned long long)seen);
    }
    if (w->welcome.term > seen) {
        uint8_t t[8];
        jp_be64_put(t, w->welcome.term);
        if ((rc = s_put_text(txn, "term", t, 8)))
            goto fail;
    }
    /* Restored from a backup older than what the server holds: the round
     * pulls this store's own lost changes back (PULL own) before anything
     * else; they must continue its chain, or jp_txn_apply refuses them. */
    s->recovering = w->welcome.acked_seq > own->seq;
    if (s->recovering)
        s_say(s,
              "the server holds seq %llu of this store, which has %llu (restored from a "
              "backup): pulling its own changes back\n",
              (unsigned long long)w->welcome.acked_seq, (unsigned long long)own->seq);
    if (w->welcome.acked_seq && !s->recovering) {
        const uint8_t *p;
        size_t pn;
        uint8_t h[JP_HASH_LEN];
        if ((rc = jp_txn_log_get(txn, c->node.store, w->welcome.acked_seq, &p, &pn)))
            goto fail;
        jp_sha256(p, pn, h);
        if (memcmp(h, w->welcome.acked_head, JP_HASH_LEN) != 0) {
            jp_txn_abort(&txn);
            return cli_fail(
                c, CLI_REFUSED,
                "the logs have diverged at seq %llu: the server's copy differs",
                (unsigned long long)w->welcome.acked_seq);
        }
    }
    rc = jp_txn_tb_get(txn, JP_TB_SYNC, "receipt_key", 11, &v, &n);
    if (rc == 0 &&
        (n != JP_PUB_LEN || memcmp(v, w->welcome.server_pub, JP_PUB_LEN) != 0)) {
        jp_txn_abort(&txn);
        return cli_fail(
            c, CLI_REFUSED,
            "the server's receipt key is not the one pinned at the first sync");
    }
    if (rc == JP_ENOTFOUND &&
        (rc = s_put_text(txn, "receipt_key", w->welcome.server_pub, JP_PUB_LEN)))
        goto fail;
    if (rc && rc != JP_ENOTFOUND)
        goto fail;
    memcpy(s->receipt_key, w->welcome.server_pub, JP_PUB_LEN);
    if ((rc = jp_txn_commit(&txn, &err)))
        return cli_fail_err(c, rc, &err);
    return 0;
fail:
    jp_txn_abort(&txn);
    return cli_fail_rc(c, rc, "sync state");
}

/* The group's store codes, for this store's screens (cli_store_label):
 * asked when something was pulled (a new store may have come) or when
 * none are kept yet, so that a round in sync stays one exchange. */
static int
s_learn_stores(s_sync_t *s, zmq_msg_t *frame)
{
    cli_t *c = s->c;
    jp_txn_t *txn;
    jp_err_t err;
    const void *v;
    size_t n;
    int rc = jp_db_begin(c->db, false, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    bool have = jp_txn_tb_get(txn, JP_TB_SYNC, "stores", 6, &v, &n) == 0;
    jp_txn_abort(&txn);
    if (have && !s->pulled)
        return 0;
    jp_msg_t m = {.type = JP_MSG_QUERY}, in;
    m.query.id = 1;
    m.query.what.p = "stores";
    m.query.what.n = 6;
    int ec = s_send(s, &m);
    if (ec)
        return ec;
    zmq_msg_close(frame);
    zmq_msg_init(frame);
    do {
        if ((ec = s_recv(s, frame, &in)))
            return ec;
    } while (in.type == JP_MSG_CHANGES || in.type == JP_MSG_PONG); /* late stragglers */
    if (in.type != JP_MSG_ANSWER)
        return cli_fail(c, CLI_REFUSED, "the server answered a stores query with %s",
                        jp_msg_type_name(in.type));
    if ((rc = jp_db_begin(c->db, true, &txn, &err)))
        return cli_fail_err(c, rc, &err);
    if ((rc = s_put_text(txn, "stores", in.answer.body.p, in.answer.body.n)) ||
        (rc = jp_txn_commit(&txn, &err))) {
        jp_txn_abort(&txn);
        return cli_fail(c, cli_exit_for(rc), "keeping the store list: %s",
                        jp_strerror(rc));
    }
    return 0;
}

/* ---- the view: what the sharing rule gives this store (view.h) ------------ */

static int
s_view_ask(s_sync_t *s, const uint8_t after[16])
{
    jp_msg_t m = {.type = JP_MSG_VIEW};
    memcpy(m.view.after, after, 16);
    return s_send(s, &m);
}

/* A stream's last CHANGES: compare what is held with the view it tells,
 * and if they differ ask for the view's ids (*viewing).  Under rule group
 * the store holds the whole log: one that held only a view before pulls
 * it all again (*pulling, *cursor 0). */
static int
s_view_begin(s_sync_t *s, const jp_msg_t *last, cli_view_t *v, uint64_t *cursor,
             bool *pulling, bool *viewing)
{
    cli_t *c = s->c;
    bool group = last->changes.view_count == UINT64_MAX, was_group, noted, match;
    int ec = cli_view_note_rule(c, group, &was_group, &noted);
    if (ec)
        return ec;
    if (group) {
        if (noted && !was_group && *cursor > 0) {
            s_say(s, "the sharing rule now gives this store the whole group log: "
                     "pulling it from the start\n");
            *cursor = 0;
            *pulling = true;
            return s_pull(s, 0);
        }
        v->npartial = 0; /* the whole log came in order */
        return CLI_OK;
    }
    if ((ec = cli_view_matches(c, last->changes.view_count, last->changes.view_hash,
                               &match)))
        return ec;
    jp_msg_t f;
    if (match) {
        *viewing = cli_view_fetch_partial(v, &f);
        return *viewing ? s_send(s, &f) : CLI_OK;
    }
    cli_view_restart(v);
    *viewing = true;
    static const uint8_t zero[16];
    return s_view_ask(s, zero);
}

/* A VIEWIDS or RECORDS while bringing the held records to the view. */
static int
s_view_step(s_sync_t *s, const jp_msg_t *in, cli_view_t *v, uint64_t count,
            const uint8_t hash[JP_HASH_LEN], bool *viewing)
{
    cli_t *c = s->c;
    jp_err_t err;
    int ec;
    bool ids = in->type == JP_MSG_VIEWIDS;
    if (jp_vouch_check(in, c->node.store, ids ? NULL : v->fetch, s->receipt_key, &err))
        return cli_fail(c, CLI_REFUSED, "nothing applied: %s", err.msg);
    if (ids) {
        if ((ec = cli_view_add(c, v, in)))
            return ec;
        if (in->viewids.more)
            return s_view_ask(s, v->ids[v->n - 1].b);
        if (v->n != count)
            return cli_fail(c, CLI_REFUSED,
                            "the server's view lists %zu records, not %llu", v->n,
                            (unsigned long long)count);
        if ((ec = cli_view_settle(c, v)))
            return ec;
        if (v->removed)
            s_tell(s,
                   "removed %llu records of other stores (%llu changes): this store's "
                   "sharing rule no longer gives them to it\n",
                   (unsigned long long)v->removed,
                   (unsigned long long)v->removed_changes);
    } else {
        if ((ec = cli_view_records(c, v, in)))
            return ec;
        if (in->records.more)
            return CLI_OK;
    }
    jp_msg_t f;
    if (cli_view_next_fetch(v, &f))
        return s_send(s, &f);
    /* All asked: what is held must now be the view. */
    bool match;
    *viewing = false;
    if ((ec = cli_view_matches(c, count, hash, &match)))
        return ec;
    if (v->fetched)
        s_say(s,
              "received %llu earlier changes of %zu records the sharing rule now gives "
              "this store\n",
              (unsigned long long)v->fetched, v->nmissing);
    s->pulled += v->fetched;
    if (!match)
        return cli_fail(
            c, CLI_REFUSED,
            "what this store holds is not the view the server announced "
            "(%llu records), even after fetching: sync again; if it stays so, "
            "see deploy/README.md",
            (unsigned long long)count);
    return CLI_OK;
}

/* One round over the connected socket. */
static int
s_round(s_sync_t *s)
{
    cli_t *c = s->c;
    jp_msg_t m = {.type = JP_MSG_HELLO}, in;
    zmq_msg_t frame;
    cli_view_t view = {0}; /* freed at done: every path goes there */
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    m.hello.store = c->node.store;
    m.hello.agent.p = S_AGENT;
    m.hello.agent.n = strlen(S_AGENT);
    s->pushed = s->pulled = 0;
    s->perr = 0;
    s->silent = false;
    s->superseded = false;
    int ec = s_send(s, &m);
    if (ec)
        return ec;
    zmq_msg_init(&frame);
    s->wait_ms = s->hello_ms;
    ec = s_recv(s, &frame, &in);
    s->wait_ms = 0;
    if (ec)
        goto done;
    if (in.type != JP_MSG_WELCOME) {
        ec = cli_fail(c, CLI_REFUSED, "the server answered HELLO with %s",
                      jp_msg_type_name(in.type));
        goto done;
    }
    jp_head_t own;
    uint64_t cursor = 0, group_pos = in.welcome.group_pos;
    uint64_t credit = in.welcome.credit ? in.welcome.credit : 1;
    uint64_t max_batch = in.welcome.max_batch;
    uint64_t acked = in.welcome.acked_seq;
    if (max_batch > JP_MSG_MAX_BATCH || max_batch < JP_MSG_MAX_CHANGE + 64)
        max_batch = JP_MSG_MAX_BATCH;
    if ((ec = s_welcome(s, &in, &own, &cursor)))
        goto done;
    /* A group log shorter than what this store pulled, or empty: the
     * server may be restored from a backup, and taking its own log back. */
    if ((cursor > group_pos || group_pos == 0) && (ec = s_give_back(s, max_batch)))
        goto done;
    if (cursor > group_pos) {
        /* The server's group log is shorter than what this store pulled:
         * the server was restored from a backup, and positions after it
         * may now hold other changes.  Pull it all again; what is here
         * already is skipped as duplicates. */
        s_say(s,
              "the server's group log (%llu) is behind this store's cursor (%llu): "
              "the server was restored; pulling again from the start\n",
              (unsigned long long)group_pos, (unsigned long long)cursor);
        cursor = 0;
    }
    uint64_t next = s->no_push || s->recovering ? own.seq + 1 : acked + 1, bno = 0,
             inflight = 0;
    /* Every round pulls, if only its last CHANGES: it says what this
     * store's sharing rule gives it (the view), which may change with
     * nothing new in the log (a rule, a region). */
    bool pulling = !s->no_pull || s->recovering;
    bool viewing = false; /* bringing the held records to the view */
    uint64_t view_count = 0;
    uint8_t view_hash[JP_HASH_LEN];
    /* The server merges PUSHes on their own thread and streams the log
     * meanwhile, so a stream may end before this round's batches are
     * merged, without the changes they caused there (links).  After the
     * last RECEIPT, one more PULL brings those. */
    bool pull_after = next <= own.seq && !s->no_pull;
    if (pulling && (ec = s_pull(s, cursor)))
        goto done;
    while (!s_stop &&
           (next <= own.seq || inflight > 0 || pulling || pull_after || viewing)) {
        if (pull_after && !pulling && !viewing && inflight == 0 && next > own.seq) {
            if ((ec = s_pull(s, cursor)))
                goto done;
            pulling = true;
            pull_after = false;
        }
        while (inflight < credit && next <= own.seq) {
            if ((ec = s_push_batch(s, &next, own.seq, max_batch, ++bno)))
                goto done;
            inflight++;
        }
        zmq_msg_close(&frame);
        zmq_msg_init(&frame);
        if ((ec = s_recv(s, &frame, &in)))
            goto done;
        if (in.type == JP_MSG_RECEIPT) {
            if ((ec = s_receipt(s, &in)))
                goto done;
            acked = in.receipt.seq;
            inflight--;
        } else if (in.type == JP_MSG_CHANGES) {
            if ((ec = s_changes(s, &in, &cursor, &view)))
                goto done;
            pulling = in.changes.more;
            if (pulling) {
                m.type = JP_MSG_CREDIT;
                m.credit.credit = 1;
                if ((ec = s_send(s, &m)))
                    goto done;
            } else if ((ec = s_view_begin(s, &in, &view, &cursor, &pulling, &viewing))) {
                goto done;
            }
            view_count = in.changes.view_count;
            memcpy(view_hash, in.changes.view_hash, JP_HASH_LEN);
        } else if (in.type == JP_MSG_VIEWIDS || in.type == JP_MSG_RECORDS) {
            if (!viewing) {
                ec = cli_fail(c, CLI_REFUSED, "the server sent %s unasked",
                              jp_msg_type_name(in.type));
                goto done;
            }
            if ((ec = s_view_step(s, &in, &view, view_count, view_hash, &viewing)))
                goto done;
        } else if (in.type == JP_MSG_PING) {
            m.type = JP_MSG_PONG;
            m.pong.ms = in.ping.ms;
            if ((ec = s_send(s, &m)))
                goto done;
        }
    }
    if (s_stop) {
        ec = cli_fail(c, CLI_REFUSED, "interrupted");
        goto done;
    }
    if ((ec = s_learn_stores(s, &frame)))
        goto done;
    m.type = JP_MSG_BYE;
    m.bye.reason.p = "done";
    m.bye.reason.n = 4;
    s_send(s, &m);
    if (!s->daemon || s->pushed || s->pulled) /* the daemon: only rounds that moved */
        s_say(s,
              "synced: pushed %llu (server holds seq %llu), pulled %llu (cursor %llu)\n",
              (unsigned long long)s->pushed, (unsigned long long)acked,
              (unsigned long long)s->pulled, (unsigned long long)cursor);
    ec = CLI_OK;
done:
    cli_view_free(&view);
    zmq_msg_close(&frame);
    return ec;
}

/* ---- connection ---------------------------------------------------------------- */

static void
s_disconnect(s_sync_t *s)
{
    jp_auth_monitor_close(s->sock, s->mon);
    s->mon = NULL;
    if (s->sock)
        zmq_close(s->sock);
    s->sock = NULL;
}

static int
s_connect(s_sync_t *s, const char *endpoint, const uint8_t server_key[32],
          const jp_curve_t *k)
{
    jp_err_t err;
    s->sock = zmq_socket(s->ctx, ZMQ_DEALER);
    if (!s->sock)
        return cli_fail(s->c, CLI_INTERNAL, "socket: %s", zmq_strerror(errno));
    int ivl = 1000, max = 60000;
    if (jp_sock_common(s->sock, &err))
        return cli_fail_err(s->c, JP_EINVAL, &err);
    if (zmq_setsockopt(s->sock, ZMQ_CURVE_SERVERKEY, server_key, 32) ||
        zmq_setsockopt(s->sock, ZMQ_CURVE_PUBLICKEY, k->pub, JP_Z85_KEY_LEN) ||
        zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, k->sec, JP_Z85_KEY_LEN) ||
        zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) ||
        zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL_MAX, &max, sizeof max))
        return cli_fail(s->c, CLI_INTERNAL, "socket options: %s", zmq_strerror(errno));
    s->mon = jp_auth_monitor(s->ctx, s->sock);
    if (zmq_connect(s->sock, endpoint))
        return cli_fail(s->c, CLI_USAGE, "cannot connect to '%s': %s", endpoint,
                        zmq_strerror(errno));
    return 0;
}

/* Endpoint and server key: from the options, pinned on first use; else as
 * pinned.  The key is kept as its 32 bytes. */
static int
s_target(cli_t *c, const char *ep_opt, const char *key_opt, char *ep, size_t epcap,
         uint8_t key[32])
{
    jp_txn_t *txn;
    jp_err_t err;
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    char was_ep[512];
    uint8_t opt[32];
    const void *v;
    size_t n;
    bool have_key =
        jp_txn_tb_get(txn, JP_TB_SYNC, "server_key", 10, &v, &n) == 0 && n == 32;
    if (have_key)
        memcpy(key, v, 32);
    bool have_ep = s_get_text(txn, "endpoint", was_ep, sizeof was_ep) == 0;
    int ec = CLI_OK;
    if (key_opt && !jp_curve_parse(key_opt, opt))
        ec = cli_usage_error(c,
                             "--server-key needs the server's Curve key (64 hex digits)");
    else if (key_opt && have_key && memcmp(opt, key, 32) != 0)
        ec = cli_fail(
            c, CLI_REFUSED,
            "--server-key differs from the key pinned at the first sync; a store "
            "talks to one server (re-pin with a new store directory)");
    else if (!key_opt && !have_key)
        ec = cli_usage_error(
            c, "the first sync needs --server-key (from `jipan-server keys`)");
    else if (!ep_opt && !have_ep)
        ec = cli_usage_error(c, "the first sync needs --server ENDPOINT");
    else if (ep_opt && strlen(ep_opt) >= epcap)
        ec = cli_usage_error(c, "--server: endpoint too long");
    if (ec == CLI_OK) {
        snprintf(ep, epcap, "%s", ep_opt ? ep_opt : was_ep);
        if (!have_key)
            memcpy(key, opt, 32);
        if ((!have_key && (rc = s_put_text(txn, "server_key", key, 32))) ||
            (ep_opt && (rc = s_put_text(txn, "endpoint", ep, strlen(ep)))) ||
            (rc = jp_txn_commit(&txn, &err)))
            ec = cli_fail_rc(c, rc, "sync state");
    }
    jp_txn_abort(&txn);
    return ec;
}

/* The endpoints a store syncs with: the pinned text, one or several
 * separated by commas (the primary's and the standby's, in the order
 * tried), and the one that answered last (sync table "endpoint.at"). */
typedef struct {
    char ep[JP_ASK_MAX_EPS][JP_ASK_EP_LEN];
    int n, at;
} s_eps_t;

static int
s_eps(cli_t *c, const char *text, s_eps_t *e)
{
    memset(e, 0, sizeof *e);
    if (!text[0])
        return cli_usage_error(c, "--server: no endpoint");
    if ((e->n = jp_ask_endpoints(text, e->ep)) == 0)
        return cli_usage_error(c, "--server: at most 4 endpoints, separated by commas");
    jp_txn_t *txn;
    const void *v;
    size_t vn;
    if (jp_db_begin(c->db, false, &txn, NULL) == 0) {
        if (jp_txn_tb_get(txn, JP_TB_SYNC, "endpoint.at", 11, &v, &vn) == 0 && vn == 1 &&
            *(const uint8_t *)v < e->n)
            e->at = *(const uint8_t *)v;
        jp_txn_abort(&txn);
    }
    return 0;
}

/* One round with the first endpoint that serves this store: from the one
 * that answered last, moving on when one is silent at HELLO or refuses as
 * the group's standby (PROTOCOL.md, PULL: a standby). */
static int
s_round_at(s_sync_t *s, s_eps_t *e, const uint8_t key[32], const jp_curve_t *k)
{
    int ec = CLI_OK;
    for (int tries = 0; tries < e->n && !s_stop; tries++) {
        int i = (e->at + tries) % e->n;
        s->hello_ms = e->n > 1 ? 5000 : 0;
        if (!s->sock && (ec = s_connect(s, e->ep[i], key, k)))
            return ec;
        ec = s_round(s);
        bool moved = e->n > 1 && ec != CLI_OK &&
                     (s->perr == JP_PERR_FORBIDDEN || s->superseded ||
                      (s->silent && s->pushed == 0));
        if (ec == CLI_OK && i != e->at) {
            jp_txn_t *txn;
            uint8_t at = (uint8_t)i;
            if (jp_db_begin(s->c->db, true, &txn, NULL) == 0) {
                if (jp_txn_tb_put(txn, JP_TB_SYNC, "endpoint.at", 11, &at, 1) ||
                    jp_txn_commit(&txn, NULL))
                    jp_txn_abort(&txn);
            }
            e->at = i;
        }
        if (!moved)
            return ec;
        s_disconnect(s);
        s_tell(s, "%s does not serve this store now: trying %s\n", e->ep[i],
               e->ep[(i + 1) % e->n]);
    }
    return ec;
}

static const char s_sync_usage[] =
    "usage: " CLI_PROG " sync [--server ENDPOINT] [--server-key KEY]\n"
    "       " CLI_PROG
    " run [--server ENDPOINT] [--server-key KEY] [--interval SECONDS]\n"
    "\n"
    "sync: one round with the group server: push this store's changes the\n"
    "server has not acknowledged, pull the group's changes this store has not\n"
    "seen, then stop.  Exit 0 when in sync, 1 when refused or offline.\n"
    "\n"
    "run: the sync daemon: a round every --interval seconds (default 2), with\n"
    "reconnection and backoff (1 s doubling to 60 s) while the server is away.\n"
    "Stops on SIGTERM or SIGINT.\n"
    "\n"
    "The first sync needs both options; they are then kept in the store, and\n"
    "the server's key stays pinned: a different key is refused.  --server may\n"
    "name up to 4 endpoints separated by commas (the primary's, then the\n"
    "standby's): a HELLO unanswered for 5 s, or refused by a standby, moves\n"
    "the store to the next, and it keeps to the one that answered.\n"
    "\n"
    "  --server ENDPOINT   e.g. tcp://group.example.cn:7700\n"
    "  --server-key KEY    the server's Curve key (`jipan-server keys`)\n"
    "  --push-only         push, do not pull (e.g. to measure the upload)\n"
    "  --pull-only         pull, do not push\n"
    "  -q, --quiet         no summary line\n";

static int
s_sync_main(cli_t *c, int argc, char **argv, bool daemon)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS,
                                         {"server", required_argument, NULL, 'S'},
                                         {"server-key", required_argument, NULL, 'K'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"push-only", no_argument, NULL, 'P'},
                                         {"pull-only", no_argument, NULL, 'L'},
                                         {NULL, 0, NULL, 0}};
    const char *ep_opt = NULL, *key_opt = NULL, *why;
    int64_t interval = 2;
    bool quiet = false, push_only = false, pull_only = false;
    int o, ec = CLI_CONTINUE;
    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT "q", opts, NULL)) != -1) {
        if (o == 'S')
            ep_opt = optarg;
        else if (o == 'K')
            key_opt = optarg;
        else if (o == 'q')
            quiet = true;
        else if (o == 'P')
            push_only = true;
        else if (o == 'L')
            pull_only = true;
        else if (o == 'i' &&
                 jp_parse_int(optarg, strlen(optarg), 1, 3600, &interval, &why))
            ec = cli_usage_error(c, "--interval: %s", why);
        else if (o != 'i')
            ec = cli_std_opt(c, o, argv, s_sync_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument");
    if ((ec = cli_open(c)))
        return ec;
    if (push_only && pull_only) {
        cli_close(c);
        return cli_usage_error(c, "--push-only and --pull-only exclude each other");
    }
    s_sync_t s = {.c = c,
                  .quiet = quiet,
                  .no_push = pull_only,
                  .no_pull = push_only,
                  .daemon = daemon};
    jp_curve_t k;
    bool created;
    char ep[512], path[1024];
    uint8_t key[32];
    jp_err_t err;
    if ((ec = s_curve(c, &k, &created)) ||
        (ec = s_target(c, ep_opt, key_opt, ep, sizeof ep, key)))
        goto done;
    cli_path(c, CLI_KEY_FILE, path, sizeof path);
    int rc = jp_key_load(&s.key, path, &err);
    if (rc) {
        ec = cli_fail_err(c, rc, &err);
        goto done;
    }
    s.ctx = zmq_ctx_new();
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    s_eps_t eps;
    if ((ec = s_eps(c, ep, &eps)))
        goto done;
    if (!daemon) {
        ec = s_round_at(&s, &eps, key, &k);
        goto done;
    }
    /* The daemon: rounds for ever, backing off while they fail. */
    unsigned backoff = 1000;
    srand((unsigned)(jp_now_ms() ^ (uint64_t)getpid()));
    while (!s_stop) {
        ec = s_round_at(&s, &eps, key, &k);
        if (ec == CLI_USAGE)
            goto done;
        if (s.perr == JP_PERR_REVOKED || s.perr == JP_PERR_IDENTITY ||
            s.perr == JP_PERR_CHAIN || s.perr == JP_PERR_SIGNATURE ||
            s.perr == JP_PERR_VERSION)
            goto done; /* refusals a retry cannot cure: an operator must act */
        unsigned wait = (unsigned)interval * 1000;
        if (ec) {
            s_disconnect(&s); /* a fresh connection and HELLO next time */
            wait = backoff + (unsigned)(rand() % (int)(backoff / 4 + 1));
            backoff = backoff >= 30000 ? 60000 : backoff * 2;
        } else {
            backoff = 1000;
        }
        for (unsigned t = 0; t < wait && !s_stop; t += 100)
            usleep(100 * 1000);
    }
    ec = CLI_OK;
done:
    memset(&k, 0, sizeof k);
    s_disconnect(&s);
    if (s.ctx)
        zmq_ctx_term(s.ctx);
    jp_key_destroy(&s.key);
    jp_buf_free(&s.out);
    free(s.chp);
    cli_close(c);
    return ec;
}

int
cmd_sync(cli_t *c, int argc, char **argv)
{
    return s_sync_main(c, argc, argv, false);
}

int
cmd_run(cli_t *c, int argc, char **argv)
{
    return s_sync_main(c, argc, argv, true);
}

/* ---- backup ---------------------------------------------------------------------- */

static const char s_backup_usage[] =
    "usage: " CLI_PROG " backup DIR\n"
    "\n"
    "A consistent hot copy of the store's environment into DIR (created if\n"
    "needed; it must not hold a copy already), while the store works and syncs.\n"
    "Restore: stop the daemon, copy DIR/data.mdb over the store directory's,\n"
    "start again; the next sync pushes and pulls what the copy lacks.\n";

int
cmd_backup(cli_t *c, int argc, char **argv)
{
    int o, ec = CLI_CONTINUE;
    static const struct option opts[] = {CLI_STD_LONGOPTS, {NULL, 0, NULL, 0}};
    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1)
        ec = cli_std_opt(c, o, argv, s_backup_usage);
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind + 1 != argc)
        return cli_usage_error(c, "give the directory to copy into");
    const char *dir = argv[optind];
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return cli_fail(c, CLI_INTERNAL, "cannot create %s: %s", dir, strerror(errno));
    if ((ec = cli_open(c)))
        return ec;
    jp_err_t err;
    int rc = jp_db_copy(c->db, dir, &err);
    ec = rc ? cli_fail_err(c, rc, &err) : CLI_OK;
    if (!rc)
        printf("copied to %s/" CLI_DATA_FILE "\n", dir);
    cli_close(c);
    return ec;
}

/* ---- asking the server ------------------------------------------------------------- */

int
cli_ask_server(cli_t *c, const char *what, const char *const *args, int nargs,
               char **body, size_t *n)
{
    jp_curve_t k;
    bool created;
    char ep[512];
    uint8_t key[32];
    int ec = s_curve(c, &k, &created);
    if (ec)
        return ec;
    if ((ec = s_target(c, NULL, NULL, ep, sizeof ep, key))) {
        memset(&k, 0, sizeof k);
        return ec;
    }
    jp_ask_t a = {.endpoint = ep, .server_key = key, .key = &k, .store = c->node.store};
    jp_err_t err;
    int rc = jp_ask(&a, what, args, nargs, body, n, &err);
    memset(&k, 0, sizeof k);
    return rc ? cli_fail_err(c, rc, &err) : CLI_OK;
}

/* ---- status --------------------------------------------------------------------------
 */

void
cli_sync_status(cli_t *c, jp_txn_t *txn, uint64_t own_seq)
{
    char ep[512];
    const void *v;
    size_t n;
    if (s_get_text(txn, "endpoint", ep, sizeof ep) != 0) {
        printf("sync       never synced\n");
        return;
    }
    bool pinned =
        jp_txn_tb_get(txn, JP_TB_SYNC, "server_key", 10, &v, &n) == 0 && n == 32;
    char key[2 * 32 + 1] = "";
    if (pinned)
        jp_hex(v, 32, key);
    printf("server     %s, key %.16s... pinned\n", ep, key);
    uint8_t k[16];
    size_t kn;
    jp_receipt_t r = {0};
    if (jp_txn_tb_last(txn, JP_TB_RCPT, k, sizeof k, &kn) == 0 &&
        jp_txn_tb_get(txn, JP_TB_RCPT, k, kn, &v, &n) == 0 &&
        jp_receipt_decode(k, kn, v, n, &r) == 0 && r.store == c->node.store) {
        char when[17];
        jp_format_instant((int64_t)r.ms, when);
        printf(
            "acked      seq %llu of %llu (%llu not yet at the server), last receipt %s\n",
            (unsigned long long)r.seq, (unsigned long long)own_seq,
            (unsigned long long)(own_seq - r.seq), when);
    } else {
        printf("acked      nothing yet (%llu changes not yet at the server)\n",
               (unsigned long long)own_seq);
    }
    printf("pulled     group log up to position %llu\n",
           (unsigned long long)s_cursor(txn));
    /* What the sharing rule gives this store, as it holds it (view.h). */
    uint64_t others = 0, all = 0, removed = 0, at = 0;
    uint8_t h[JP_HASH_LEN];
    uint64_t counts[JP_K_COUNT], changes;
    if (cli_view_held(txn, c->node.store, &others, h) == 0 &&
        jp_txn_counts(txn, counts, &changes) == 0) {
        for (int kind = 0; kind < JP_K_COUNT; kind++)
            all += counts[kind];
        bool group = jp_txn_tb_get(txn, JP_TB_SYNC, "held_rule", 9, &v, &n) == 0 &&
                     n == 5 && memcmp(v, "group", 5) == 0;
        printf("holds      %llu records of this store, %llu of other stores (%s)\n",
               (unsigned long long)(all - others), (unsigned long long)others,
               group ? "rule group: the whole group log"
                     : "what its sharing rule gives it: its people, their records at "
                       "other stores, its VINs' visits");
    }
    if (jp_txn_tb_get(txn, JP_TB_SYNC, "removed", 7, &v, &n) == 0 && n == 8)
        removed = jp_be64_get(v);
    if (jp_txn_tb_get(txn, JP_TB_SYNC, "removed_at", 10, &v, &n) == 0 && n == 8)
        at = jp_be64_get(v);
    if (removed) {
        char when[17];
        jp_format_instant((int64_t)at, when);
        printf("removed    %llu records the sharing rule stopped giving, last %s\n",
               (unsigned long long)removed, when);
    }
}
