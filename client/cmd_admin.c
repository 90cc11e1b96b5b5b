/*
 * cmd_admin.c -- log, verify, status, digest: looking at the store itself
 * rather than at its customers.
 *
 * These are read-only.  The log shows what this store wrote, with phone
 * and ID numbers masked like every other screen; verify walks every chain
 * held here; the digest is the same SHA-256 over the state that the server
 * and the auditor compute, so two copies can be compared by eye.
 */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "crypto.h"
#include "repair.h"
#include "validate.h"

static const char s_log_usage[] =
    "usage: " CLI_PROG " log [--from SEQ] [--limit N]\n"
    "\n"
    "This store's changes, oldest first: seq, hlc time, author, kind, record\n"
    "id, and the fields set (phone and ID numbers masked).\n"
    "\n"
    "options:\n"
    "  --from SEQ   start at this seq (default 1)\n"
    "  --limit N    at most N changes (default: all)\n"
    "  -h, --help   this text\n";

static const char s_verify_usage[] =
    "usage: " CLI_PROG " verify [--deep]\n"
    "\n"
    "Verify the hash chain of every store's log held here: gapless seqs, each\n"
    "change's prev hash, the head, and that every change's record exists.\n"
    "With --deep, then replay every log into a scratch store (in $TMPDIR, as\n"
    "large as the store, removed after) and compare every record's state with\n"
    "the replay's: what LMDB, which has no checksums, cannot see itself.\n"
    "Exit 0 whole, 1 a fault (the first of each chain, the records that\n"
    "differ), 4 the store's file is too damaged to read.\n"
    "\n"
    "options:\n"
    "  --deep       also check every record against a replay of the logs\n"
    "  -h, --help   this text\n";

static const char s_status_usage[] =
    "usage: " CLI_PROG " status\n"
    "\n"
    "The store's identity, its public key, its log position, record counts\n"
    "by kind, the size of the LMDB file and the directory.\n"
    "\n"
    "options:\n"
    "  -h, --help   this text\n";

static const char s_digest_usage[] =
    "usage: " CLI_PROG " digest\n"
    "\n"
    "The state digest: SHA-256 over every record's state in id order, equal\n"
    "wherever the same changes were applied.\n"
    "\n"
    "options:\n"
    "  -h, --help   this text\n";

/* Parse a command that takes no arguments besides the standard options. */
static int
s_no_args(cli_t *c, int argc, char **argv, const char *usage)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS, {NULL, 0, NULL, 0}};
    int o, ec = CLI_CONTINUE;
    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1)
        ec = cli_std_opt(c, o, argv, usage);
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument");
    return CLI_CONTINUE;
}

/* Open the store and begin a read transaction. */
static int
s_read(cli_t *c, jp_txn_t **txn_p)
{
    jp_err_t err;
    int ec = cli_open(c);
    if (ec)
        return ec;
    jp_err_clear(&err);
    int rc = jp_db_begin(c->db, false, txn_p, &err);
    return rc ? cli_fail_err(c, rc, &err) : CLI_OK;
}

/* An hlc as local time with milliseconds, and its logical counter. */
static void
s_hlc_text(jp_hlc_t h, char *out, size_t cap)
{
    uint64_t ms = jp_hlc_ms(h);
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char day[32];
    localtime_r(&s, &tm);
    strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
    if (h & 0xFFFF)
        snprintf(out, cap, "%s.%03u+%u", day, (unsigned)(ms % 1000),
                 (unsigned)(h & 0xFFFF));
    else
        snprintf(out, cap, "%s.%03u", day, (unsigned)(ms % 1000));
}

/* text padded with spaces to width terminal cells. */
static void
s_pad(const char *text, int width)
{
    fputs(text, stdout);
    for (int n = width - cli_width(text); n > 0; n--)
        fputc(' ', stdout);
}

/* One change as a line.  Columns are fixed so that a long log streams. */
static void
s_print_change(const jp_change_t *ch)
{
    char when[48], author[128], id[JP_ID_TEXT_LEN + 1], v[JP_MAX_STR + 1];
    s_hlc_text(ch->hlc, when, sizeof when);
    jp_text_show(ch->author, ch->author_len, author, sizeof author);
    jp_id_format(&ch->id, id);
    printf("%8llu  ", (unsigned long long)ch->seq);
    s_pad(when, 25);
    s_pad(author, 12);
    fputs("  ", stdout);
    s_pad(jp_kind_name((jp_kind_t)ch->kind), 19);
    printf("%s ", id);
    for (unsigned i = 0; i < ch->nfields; i++) {
        const jp_field_def_t *f = jp_field_def(ch->f[i].id);
        jp_val_text(f, &ch->f[i].v, false, v, sizeof v);
        bool quote = strchr(v, ' ') != NULL;
        printf(" %s=%s%s%s", f ? f->name : "?", quote ? "\"" : "", v, quote ? "\"" : "");
    }
    fputc('\n', stdout);
}

int
cmd_log(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS,
                                         {"from", required_argument, NULL, 'f'},
                                         {"limit", required_argument, NULL, 'l'},
                                         {NULL, 0, NULL, 0}};
    int64_t from = 1, limit = 0;
    const char *reason;
    jp_txn_t *txn = NULL;
    jp_change_t *ch = NULL;
    jp_head_t head;
    jp_err_t err;
    int o, rc, ec = CLI_CONTINUE;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'f' &&
            jp_parse_int(optarg, strlen(optarg), 1, INT64_MAX, &from, &reason) != 0)
            ec = cli_usage_error(c, "--from: %s", reason);
        else if (o == 'l' &&
                 jp_parse_int(optarg, strlen(optarg), 1, INT64_MAX, &limit, &reason) != 0)
            ec = cli_usage_error(c, "--limit: %s", reason);
        else if (o != 'f' && o != 'l')
            ec = cli_std_opt(c, o, argv, s_log_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument");
    if ((ec = s_read(c, &txn)))
        return ec;
    ch = calloc(1, sizeof *ch);
    if (!ch) {
        ec = cli_fail(c, CLI_INTERNAL, "out of memory");
        goto done;
    }
    if ((rc = jp_txn_head(txn, c->node.store, &head))) {
        ec = cli_fail_rc(c, rc, NULL);
        goto done;
    }
    ec = CLI_OK;
    for (uint64_t seq = (uint64_t)from; seq <= head.seq; seq++) {
        const uint8_t *p;
        size_t n;
        if (limit && seq - (uint64_t)from >= (uint64_t)limit)
            break;
        jp_err_clear(&err);
        if ((rc = jp_txn_log_get(txn, c->node.store, seq, &p, &n))) {
            if (!err.msg[0])
                jp_err_set(&err, rc, "seq %llu: %s", (unsigned long long)seq,
                           jp_strerror(rc));
            ec = rc == JP_ENOTFOUND ? cli_fail_rc(c, JP_EDAMAGED, "log")
                                    : cli_fail_err(c, rc, &err);
            goto done;
        }
        if ((rc = jp_change_decode(p, n, ch, &err))) {
            /* Say so and go on: the changes after it are readable. */
            printf("%8llu  (this change cannot be decoded: %s)\n",
                   (unsigned long long)seq, err.msg);
            ec = CLI_REFUSED;
            continue;
        }
        s_print_change(ch);
    }
    if (ec)
        cli_fail(c, ec,
                 "some changes cannot be decoded: `" CLI_PROG
                 " verify` says why; an author too long is mended by `" CLI_PROG
                 " repair`");
done:
    jp_txn_abort(&txn);
    free(ch);
    return ec;
}

/* Remove the scratch environment of verify --deep. */
static void
s_scratch_rm(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

/* verify --deep after the chains: replay them all, compare every state. */
static int
s_verify_deep(cli_t *c, jp_txn_t *txn)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], id[JP_ID_TEXT_LEN + 1];
    jp_deep_t *d = calloc(1, sizeof *d);
    jp_err_t err;
    if (!d)
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    snprintf(dir, sizeof dir, "%s/jipan-verify.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        free(d);
        return cli_fail(c, CLI_INTERNAL, "--deep: cannot make a scratch directory %s: %s",
                        dir, strerror(errno));
    }
    jp_err_clear(&err);
    int rc = jp_txn_verify_deep(txn, dir, d, &err);
    s_scratch_rm(dir);
    int ec = CLI_OK;
    if (rc) {
        ec = cli_fail_err(c, rc, &err);
    } else if (d->nbad == 0) {
        printf("deep ok: %llu records, each the replay of its log (%llu changes)\n",
               (unsigned long long)d->records, (unsigned long long)d->changes);
    } else {
        static const char *const what[] = {
            "", "its state differs from the replay of its log",
            "the log writes it, the store has no state for it",
            "the store holds a state no change of the log writes"};
        for (uint64_t i = 0; i < d->nbad && i < JP_DEEP_SHOW; i++) {
            jp_id_format(&d->bad[i].id, id);
            printf("record %s: %s\n", id, what[d->bad[i].what]);
        }
        if (d->nbad > JP_DEEP_SHOW)
            printf("... and %llu more\n", (unsigned long long)(d->nbad - JP_DEEP_SHOW));
        printf("deep FAULT: %llu of %llu records are not the replay of the log\n",
               (unsigned long long)d->nbad, (unsigned long long)d->records);
        ec = cli_fail(
            c, CLI_REFUSED,
            "%llu records are not what the log says: the store's file %s/" CLI_DATA_FILE
            " is damaged; restore the last backup (deploy/README.md, \"A damaged "
            "store file\")",
            (unsigned long long)d->nbad, c->dir);
    }
    free(d);
    return ec;
}

int
cmd_verify(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_STD_LONGOPTS, {"deep", no_argument, NULL, 'D'}, {NULL, 0, NULL, 0}};
    char hex[2 * JP_HASH_LEN + 1];
    jp_txn_t *txn = NULL;
    uint16_t *stores = NULL;
    jp_head_t head;
    jp_err_t err;
    bool deep = false;
    int o, ec = CLI_CONTINUE;
    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'D')
            deep = true;
        else
            ec = cli_std_opt(c, o, argv, s_verify_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument");
    if ((ec = s_read(c, &txn)))
        return ec;
    stores = calloc(65536, sizeof *stores);
    if (!stores) {
        ec = cli_fail(c, CLI_INTERNAL, "out of memory");
        goto done;
    }
    int n = jp_txn_stores(txn, stores, 65536);
    if (n < 0) {
        ec = cli_fail_rc(c, n, "heads");
        goto done;
    }
    if (n == 0)
        printf("no changes here yet\n");
    ec = CLI_OK;
    for (int i = 0; i < n; i++) {
        jp_err_clear(&err);
        /* This store's own chain is whole; another store's is what the
         * sharing rule gives this store of it, vouched by the server. */
        uint64_t held = 0;
        bool whole = true, own = stores[i] == c->node.store;
        int rc = own ? jp_txn_verify_chain(txn, stores[i], &err)
                     : jp_txn_verify_part(txn, stores[i], &held, &whole, &err);
        if (rc == 0)
            rc = jp_txn_head(txn, stores[i], &head);
        if (rc == JP_EDAMAGED) {
            /* LMDB itself could not read on: the rest of this
             * transaction would only say so again. */
            printf("chain FAULT: store %u\n", (unsigned)stores[i]);
            ec = cli_fail_err(c, rc, &err);
            goto done;
        }
        if (rc) {
            if (err.msg[0] && stores[i] == c->node.store && strstr(err.msg, "author"))
                cli_fail(c, CLI_REFUSED,
                         "store %u: %s (a user name too long for the log; `" CLI_PROG
                         " repair` mends it, see deploy/README.md)",
                         (unsigned)stores[i], err.msg);
            else
                cli_fail(c, CLI_REFUSED,
                         "store %u: %s: the log is not as written; unless it was "
                         "altered on purpose the store's file is damaged: restore the "
                         "last backup (deploy/README.md, \"A damaged store file\")",
                         (unsigned)stores[i], err.msg[0] ? err.msg : jp_strerror(rc));
            printf("chain FAULT: store %u\n", (unsigned)stores[i]);
            ec = cli_exit_for(rc) == CLI_INTERNAL ? CLI_INTERNAL : CLI_REFUSED;
            continue;
        }
        jp_hex(head.head, JP_HASH_LEN, hex);
        if (whole)
            printf("chain ok: store %u, %llu changes, head %s\n", (unsigned)stores[i],
                   (unsigned long long)head.seq, hex);
        else
            printf("part ok: store %u, %llu of its %llu changes (what the sharing rule "
                   "gives this store, vouched by the server)\n",
                   (unsigned)stores[i], (unsigned long long)held,
                   (unsigned long long)head.seq);
    }
    if (deep && ec == CLI_OK)
        ec = s_verify_deep(c, txn);
    else if (deep)
        printf("deep: not run, a chain is not whole\n");
done:
    jp_txn_abort(&txn);
    free(stores);
    return ec;
}

/* Human size: "12.3 MiB". */
static void
s_size(long long bytes, char *out, size_t cap)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

int
cmd_status(cli_t *c, int argc, char **argv)
{
    char hex[2 * JP_HASH_LEN + 1], when[48], path[4096], size[32], real[PATH_MAX];
    uint64_t counts[JP_K_COUNT] = {0}, changes = 0;
    jp_txn_t *txn = NULL;
    jp_key_t *key = NULL;
    jp_head_t head;
    jp_err_t err;
    struct stat st;
    int rc;
    int ec = s_no_args(c, argc, argv, s_status_usage);
    if (ec != CLI_CONTINUE)
        return ec;
    if ((ec = s_read(c, &txn)))
        return ec;
    if ((rc = jp_txn_head(txn, c->node.store, &head)) ||
        (rc = jp_txn_counts(txn, counts, &changes))) {
        ec = cli_fail_rc(c, rc, NULL);
        goto done;
    }
    printf("store      %u (%s) %s\n", (unsigned)c->node.store, c->node.code,
           c->node.name);
    printf("region     %s\n", c->node.region);
    printf("group      %s\n", c->node.group);
    printf("time zone  %s\n", c->node.tz);
    cli_path(c, CLI_KEY_FILE, path, sizeof path);
    jp_err_clear(&err);
    if (jp_key_load(&key, path, &err) == 0) {
        uint8_t pub[JP_PUB_LEN];
        char phex[2 * JP_PUB_LEN + 1];
        jp_key_public(key, pub);
        jp_hex(pub, sizeof pub, phex);
        printf("public key %s\n", phex);
        jp_key_destroy(&key);
    } else {
        printf("public key unreadable: %s\n", err.msg[0] ? err.msg : "error");
    }
    jp_hex(head.head, JP_HASH_LEN, hex);
    if (head.seq) {
        s_hlc_text(head.hlc, when, sizeof when);
        printf("log        seq %llu, head %s, last change %s\n",
               (unsigned long long)head.seq, hex, when);
    } else {
        printf("log        empty\n");
    }
    cli_sync_status(c, txn, head.seq);
    printf("changes    %llu (all stores held here)\n", (unsigned long long)changes);
    printf("records   ");
    for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++)
        printf(" %s %llu%s", jp_kind_name((jp_kind_t)k), (unsigned long long)counts[k],
               k + 1 < JP_K_COUNT ? "," : "\n");
    cli_path(c, CLI_DATA_FILE, path, sizeof path);
    if (stat(path, &st) == 0) {
        s_size((long long)st.st_size, size, sizeof size);
        printf("lmdb file  %s (%lld bytes)\n", size, (long long)st.st_size);
    }
    printf("directory  %s\n", realpath(c->dir, real) ? real : c->dir);
    ec = CLI_OK;
done:
    jp_txn_abort(&txn);
    return ec;
}

int
cmd_digest(cli_t *c, int argc, char **argv)
{
    uint8_t d[JP_HASH_LEN];
    char hex[2 * JP_HASH_LEN + 1];
    jp_txn_t *txn = NULL;
    int ec = s_no_args(c, argc, argv, s_digest_usage);
    if (ec != CLI_CONTINUE)
        return ec;
    if ((ec = s_read(c, &txn)))
        return ec;
    int rc = jp_txn_digest(txn, d);
    jp_txn_abort(&txn);
    if (rc)
        return cli_fail_rc(c, rc, NULL);
    jp_hex(d, sizeof d, hex);
    printf("%s\n", hex);
    return CLI_OK;
}

static const char s_repair_usage[] =
    "usage: " CLI_PROG " repair\n"
    "\n"
    "Mend this store's log when `verify` finds a change whose author cannot be\n"
    "decoded (a user name over 128 bytes or with control characters, written\n"
    "by a version that did not check it), which every sync then refuses.\n"
    "From that change to the last one, each change is rewritten with its\n"
    "author cut to 128 bytes (control characters as '?') and its hash chain\n"
    "re-linked; records, fields and times stay as they are.  Only changes the\n"
    "server has not acknowledged can be rewritten, and the server has never\n"
    "acknowledged such a change.  Stop the sync daemon first; make a backup\n"
    "(`" CLI_PROG " backup`) if in doubt.  Exit 0 repaired, 1 nothing to repair\n"
    "or not repairable (the reason is printed).\n"
    "\n"
    "options:\n"
    "  -h, --help   this text\n";

int
cmd_repair(cli_t *c, int argc, char **argv)
{
    jp_txn_t *txn = NULL;
    jp_err_t err;
    uint64_t acked = 0, from = 0, count = 0;
    uint8_t k[10];
    size_t kn = 0;
    int ec = s_no_args(c, argc, argv, s_repair_usage);
    if (ec != CLI_CONTINUE)
        return ec;
    if ((ec = cli_open(c)))
        return ec;
    jp_err_clear(&err);
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    /* The server's last receipt for this store: what it has accepted. */
    rc = jp_txn_tb_last(txn, JP_TB_RCPT, k, sizeof k, &kn);
    if (rc == 0 && kn == sizeof k && jp_be16_get(k) == c->node.store)
        acked = jp_be64_get(k + 2);
    else if (rc && rc != JP_ENOTFOUND)
        goto fail;
    if ((rc = jp_txn_log_repair(txn, c->node.store, acked, &from, &count, &err)))
        goto fail;
    if ((rc = jp_txn_commit(&txn, &err)))
        goto fail;
    printf("repaired store %u: seq %llu to %llu (%llu changes) rewritten with their "
           "authors cut to %d bytes; `" CLI_PROG " verify` and sync now take them\n",
           (unsigned)c->node.store, (unsigned long long)from,
           (unsigned long long)(from + count - 1), (unsigned long long)count,
           JP_MAX_AUTHOR);
    return CLI_OK;
fail:
    jp_txn_abort(&txn);
    return cli_fail_err(c, rc, &err);
}
