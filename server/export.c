/*
 * export.c -- `jipan-server export`: the group log, or a range of it, as an
 * export file for the auditors (docs/EXPORT.md).
 *
 * Everything comes from one LMDB read transaction, so the file is the log
 * as of one moment while the server keeps working.  A range always ends
 * at the end of a batch (the signature of a cut batch could not be
 * checked), and names, for every store it holds, the hash of the store's
 * change just before the range (an ANCHOR).  The state digest in END is
 * the live state's when the export reaches the end of the log; for an
 * earlier end the server replays its own log to that position in a
 * scratch environment and publishes that state's digest.
 */
#include "server.h"

#include "audit.h"
#include "export.h"
#include "validate.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char s_usage[] =
    "usage: " SRV_PROG " export [--from POS] [--to POS] [--since INSTANT]\n"
    "                    [--until INSTANT] -o FILE\n"
    "\n"
    "Write the group log (every change the server accepted, in arrival order,\n"
    "with the stores' batch signatures, the server's receipts, the public keys\n"
    "needed, and the server's signed state digest at the last position) to\n"
    "FILE, for `jipan-audit verify` and `jipan-audit replay`.  Runs beside the\n"
    "server: the file is the log as of one moment.  Format: docs/EXPORT.md.\n"
    "\n"
    "  --from POS         first group log position (default 1)\n"
    "  --to POS           last position (default: the end); moved forward to the\n"
    "                     end of the batch it falls in\n"
    "  --since INSTANT    from the first change accepted at or after INSTANT\n"
    "  --until INSTANT    up to the last change accepted at or before INSTANT\n"
    "                     (ISO 8601; a date alone means the end of that day)\n"
    "  -o, --output FILE  the export (must not exist)\n"
    "\n"
    "Only an export from position 1 can be replayed; a later start is for\n"
    "verifying a span.  Exit: 0 written, 1 bad range, 2 usage, 3 I/O.\n";

static uint64_t
s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* (store, seq) at group position pos. */
static int
s_glog_at(jp_txn_t *txn, uint64_t pos, uint16_t *store, uint64_t *seq)
{
    uint8_t k[8];
    const void *v;
    size_t n;
    for (int i = 0; i < 8; i++)
        k[i] = (uint8_t)(pos >> (56 - 8 * i));
    int rc = jp_txn_tb_get(txn, JP_TB_GLOG, k, 8, &v, &n);
    if (rc)
        return rc;
    if (n != 10)
        return JP_ECORRUPT;
    const uint8_t *b = v;
    *store = (uint16_t)(b[0] << 8 | b[1]);
    *seq = s_get64(b + 2);
    return 0;
}

/* When the entry at pos was accepted: its batch's ms. */
static int
s_accepted(jp_txn_t *txn, uint64_t pos, uint64_t *ms)
{
    uint16_t store;
    uint64_t seq;
    jp_batch_t b;
    int rc = s_glog_at(txn, pos, &store, &seq);
    if (!rc)
        rc = jp_txn_batch_find(txn, store, seq, &b);
    if (!rc)
        *ms = b.ms;
    return rc;
}

typedef struct {
    uint16_t store;
    uint8_t pub[JP_PUB_LEN];
} s_key_t;

typedef struct {
    s_key_t *k;
    size_t n, cap;
    int rc;
} s_keys_t;

static int
s_key_cmp(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    if (x->store != y->store)
        return x->store < y->store ? -1 : 1;
    return memcmp(x->pub, y->pub, JP_PUB_LEN);
}

static int
s_collect_key(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_keys_t *ks = arg;
    jp_batch_t b;
    if ((ks->rc = jp_batch_decode(k, kn, v, vn, &b)))
        return 1;
    if (b.store == 0)
        return 0; /* the server's own: its one key is written first */
    for (size_t i = ks->n; i-- > 0 && ks->k[i].store == b.store;)
        if (!memcmp(ks->k[i].pub, b.pub, JP_PUB_LEN))
            return 0;
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 64;
        void *p = realloc(ks->k, cap * sizeof *ks->k);
        if (!p) {
            ks->rc = JP_ENOMEM;
            return 1;
        }
        ks->k = p;
        ks->cap = cap;
    }
    ks->k[ks->n].store = b.store;
    memcpy(ks->k[ks->n].pub, b.pub, JP_PUB_LEN);
    ks->n++;
    return 0;
}

/* The state after positions 1..to, by replaying the log in a scratch
 * environment. */
static int
s_digest_at(jp_txn_t *txn, uint64_t to, uint8_t out[JP_HASH_LEN], jp_err_t *err)
{
    char dir[] = "/tmp/jipan-export.XXXXXX", path[64];
    jp_db_t *db = NULL;
    jp_txn_t *w = NULL;
    int rc;
    if (!mkdtemp(dir))
        return jp_err_set(err, JP_EIO, "scratch directory: %s", strerror(errno));
    if ((rc = jp_db_open(&db, dir, 0, err)) || (rc = jp_db_begin(db, true, &w, err)))
        goto done;
    for (uint64_t pos = 1; pos <= to; pos++) {
        uint16_t store;
        uint64_t seq;
        const uint8_t *p;
        size_t n;
        if ((rc = s_glog_at(txn, pos, &store, &seq)) ||
            (rc = jp_txn_log_get(txn, store, seq, &p, &n))) {
            jp_err_set(err, rc, "group log position %llu unreadable",
                       (unsigned long long)pos);
            goto done;
        }
        if ((rc = jp_txn_apply(w, p, n, err)))
            goto done;
        if (pos % 50000 == 0 &&
            ((rc = jp_txn_commit(&w, err)) || (rc = jp_db_begin(db, true, &w, err))))
            goto done;
    }
    if ((rc = jp_txn_commit(&w, err)) || (rc = jp_db_begin(db, false, &w, err)))
        goto done;
    rc = jp_txn_digest(w, out);
done:
    jp_txn_abort(&w);
    jp_db_close(&db);
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    rmdir(dir);
    return rc;
}

typedef struct {
    const srv_conf_t *conf;
    jp_db_t *db;
    jp_txn_t *txn;
    jp_key_t *key;
    jp_xw_t *w;
    s_keys_t keys;
    uint64_t *first; /* first seq in range per store (65536) */
    uint64_t batches, receipts, anchors;
} s_exp_t;

static int
s_parse_pos(const char *s, uint64_t *out)
{
    int64_t v;
    const char *why;
    if (jp_parse_int(s, strlen(s), 0, INT64_MAX, &v, &why))
        return -1;
    *out = (uint64_t)v;
    return 0;
}

int
srv_export(const srv_conf_t *conf, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"from", required_argument, NULL, 'f'},
                                       {"to", required_argument, NULL, 't'},
                                       {"since", required_argument, NULL, 's'},
                                       {"until", required_argument, NULL, 'u'},
                                       {"output", required_argument, NULL, 'o'},
                                       {0}};
    const char *out_path = NULL, *since = NULL, *until = NULL;
    uint64_t from = 1, to = UINT64_MAX;
    bool have_from = false, have_to = false;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
        switch (o) {
        case 'h':
            fputs(s_usage, stdout);
            return 0;
        case 'f':
            if (s_parse_pos(optarg, &from) || from == 0)
                goto usage_pos;
            have_from = true;
            break;
        case 't':
            if (s_parse_pos(optarg, &to))
                goto usage_pos;
            have_to = true;
            break;
        case 's':
            since = optarg;
            break;
        case 'u':
            until = optarg;
            break;
        case 'o':
            out_path = optarg;
            break;
        default:
            fprintf(stderr,
                    SRV_PROG ": export: unknown option or missing value (see `" SRV_PROG
                             " export --help`)\n");
            return 2;
        }
    }
    if (!out_path || optind != argc) {
        fprintf(stderr,
                SRV_PROG ": export: give -o FILE and no other argument (see `" SRV_PROG
                         " export --help`)\n");
        return 2;
    }
    if ((since && have_from) || (until && have_to)) {
        fprintf(stderr, SRV_PROG ": export: --since replaces --from and --until replaces "
                                 "--to: give one of each pair\n");
        return 2;
    }

    s_exp_t x = {.conf = conf};
    jp_err_t err = {0};
    jp_node_t node;
    char path[1100];
    uint64_t len = 0, pos;
    uint8_t pub[JP_PUB_LEN], digest[JP_HASH_LEN];
    int rc, ec = 3;
    if ((rc = jp_db_open(&x.db, conf->data, conf->map_mib, &err)))
        goto fail;
    snprintf(path, sizeof path, "%s/%s", conf->data, SRV_KEY_FILE);
    if ((rc = jp_key_load(&x.key, path, &err)))
        goto fail;
    jp_key_public(x.key, pub);
    if ((rc = jp_db_begin(x.db, false, &x.txn, &err)) ||
        (rc = jp_txn_node_get(x.txn, &node)) || (rc = jp_txn_glog_len(x.txn, &len)))
        goto fail;
    if (node.tz[0] && jp_tz_set(node.tz) != 0) {
        rc = jp_err_set(&err, JP_EINVAL, "unknown time zone %s", node.tz);
        goto fail;
    }
    /* Instants to positions: accepted times follow the log's order. */
    int64_t since_ms = 0, until_ms = 0;
    const char *why;
    if ((since && jp_parse_instant(since, strlen(since), &since_ms, &why)) ||
        (until && jp_parse_asof(until, strlen(until), &until_ms, &why))) {
        fprintf(stderr, SRV_PROG ": export: --since/--until: %s\n", why);
        ec = 2;
        goto out;
    }
    if (since || until) {
        uint64_t new_from = len + 1, new_to = 0;
        for (pos = 1; pos <= len; pos++) {
            uint64_t ms;
            if ((rc = s_accepted(x.txn, pos, &ms)))
                goto fail;
            if (since && new_from > len && (int64_t)ms >= since_ms)
                new_from = pos;
            if (until && (int64_t)ms > until_ms)
                break;
            new_to = pos;
        }
        if (since)
            from = new_from;
        if (until)
            to = new_to;
    }
    if (to == UINT64_MAX)
        to = len;
    if (to > len || from > to + 1) {
        rc = jp_err_set(
            &err, JP_EINVAL, "positions %llu..%llu are not in the group log (1..%llu)",
            (unsigned long long)from, (unsigned long long)to, (unsigned long long)len);
        goto fail;
    }
    /* End on a batch boundary. */
    if (to >= from) {
        uint16_t store, s2;
        uint64_t seq, q2;
        jp_batch_t b;
        if ((rc = s_glog_at(x.txn, to, &store, &seq)) ||
            (rc = jp_txn_batch_find(x.txn, store, seq, &b)))
            goto fail;
        while (seq < b.last && to < len) {
            if ((rc = s_glog_at(x.txn, ++to, &s2, &q2)))
                goto fail;
            if (s2 == store)
                seq = q2;
        }
    }
    /* Stores in the range and their first seqs, for the anchors. */
    if (!(x.first = calloc(65536, sizeof *x.first))) {
        rc = JP_ENOMEM;
        goto fail;
    }
    for (pos = from; pos <= to; pos++) {
        uint16_t store;
        uint64_t seq;
        if ((rc = s_glog_at(x.txn, pos, &store, &seq)))
            goto fail;
        if (!x.first[store])
            x.first[store] = seq;
    }
    if ((rc = jp_txn_tb_each(x.txn, JP_TB_BATCH, NULL, 0, s_collect_key, &x.keys)) < 0 ||
        (rc = x.keys.rc))
        goto fail;
    qsort(x.keys.k, x.keys.n, sizeof *x.keys.k, s_key_cmp);

    jp_xhdr_t h = {
        .kind = JP_XK_GROUP, .store = 0, .from = from, .to = to, .ms = jp_now_ms()};
    snprintf(h.group, sizeof h.group, "%.*s", JP_EXPORT_MAX_TEXT, node.group);
    snprintf(h.tz, sizeof h.tz, "%.*s", JP_EXPORT_MAX_TEXT, node.tz);
    if ((rc = jp_xw_open(&x.w, out_path, &h, &err)))
        goto fail;
    if ((rc = jp_xw_key(x.w, 0, pub)))
        goto io;
    for (size_t i = 0; i < x.keys.n; i++)
        if ((rc = jp_xw_key(x.w, x.keys.k[i].store, x.keys.k[i].pub)))
            goto io;
    for (unsigned s = 0; s < 65536; s++) {
        const uint8_t *p;
        size_t n;
        uint8_t hash[JP_HASH_LEN];
        if (x.first[s] <= 1)
            continue;
        if ((rc = jp_txn_log_get(x.txn, (uint16_t)s, x.first[s] - 1, &p, &n)))
            goto fail;
        jp_sha256(p, n, hash);
        if ((rc = jp_xw_anchor(x.w, (uint16_t)s, x.first[s] - 1, hash)))
            goto io;
        x.anchors++;
    }
    bool tty = isatty(2);
    for (pos = from; pos <= to; pos++) {
        uint16_t store;
        uint64_t seq;
        const uint8_t *p;
        size_t n;
        const void *v;
        size_t vn;
        jp_batch_t b;
        if ((rc = s_glog_at(x.txn, pos, &store, &seq)) ||
            (rc = jp_txn_log_get(x.txn, store, seq, &p, &n)))
            goto fail;
        if ((rc = jp_xw_entry(x.w, pos, store, seq, p, n)))
            goto io;
        rc = jp_txn_batch_find(x.txn, store, seq, &b);
        if (rc == 0 && b.last == seq) {
            if ((rc = jp_xw_batch(x.w, store, b.first, b.last, b.ms, b.pub, b.sig)))
                goto io;
            x.batches++;
        } else if (rc && rc != JP_ENOTFOUND) {
            goto fail;
        }
        uint8_t k[10];
        k[0] = (uint8_t)(store >> 8);
        k[1] = (uint8_t)store;
        for (int i = 0; i < 8; i++)
            k[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
        rc = jp_txn_tb_get(x.txn, JP_TB_RCPT, k, sizeof k, &v, &vn);
        if (rc == 0) {
            jp_receipt_t r;
            if ((rc = jp_receipt_decode(k, sizeof k, v, vn, &r)))
                goto fail;
            if ((rc = jp_xw_receipt(x.w, store, seq, r.ms, r.sig)))
                goto io;
            x.receipts++;
        } else if (rc != JP_ENOTFOUND) {
            goto fail;
        }
        if (tty && (pos - from) % 1000000 == 999999)
            fprintf(stderr, "export: %llu of %llu changes\r",
                    (unsigned long long)(pos - from + 1),
                    (unsigned long long)(to - from + 1));
    }
    if (to == len)
        rc = jp_txn_digest(x.txn, digest);
    else
        rc = s_digest_at(x.txn, to, digest, &err);
    if (rc || (rc = jp_xw_end(x.w, to, digest, x.key, &err)))
        goto fail;
    char hex[2 * JP_HASH_LEN + 1];
    jp_hex(digest, sizeof digest, hex);
    printf(
        "exported group log positions %llu..%llu of %llu: %llu changes, %llu batches, "
        "%llu receipts, %zu store keys, %llu anchors\nto %s\nstate digest at %llu: %s\n",
        (unsigned long long)from, (unsigned long long)to, (unsigned long long)len,
        (unsigned long long)(to >= from ? to - from + 1 : 0),
        (unsigned long long)x.batches, (unsigned long long)x.receipts, x.keys.n,
        (unsigned long long)x.anchors, out_path, (unsigned long long)to, hex);
    ec = 0;
    goto out;
usage_pos:
    fprintf(stderr, SRV_PROG ": export: --from and --to need a position (1, 2, ...)\n");
    return 2;
io:
    jp_err_set(&err, rc, "writing %s failed", out_path);
fail:
    fprintf(stderr, SRV_PROG ": export: %s\n", err.msg[0] ? err.msg : jp_strerror(rc));
    ec = rc == JP_EINVAL || rc == JP_EEXIST ? 1 : 3;
out:
    jp_xw_close(&x.w);
    jp_txn_abort(&x.txn);
    jp_key_destroy(&x.key);
    jp_db_close(&x.db);
    free(x.first);
    free(x.keys.k);
    return ec;
}
