/*
 * main.c -- jipan-audit: verify an export, replay it to any instant,
 * follow one record's history.  A thin shell over common/audit.h.
 *
 * Exit codes (every command): 0 verified / done, 1 verification failed
 * (or the replayed digest differs from the signed one), 2 usage, 3 I/O or
 * internal error.  Progress goes to stderr when it is a terminal (or with
 * --progress); results to stdout, as text or, with --format json, as one
 * JSON object.
 */
#include "audit.h"
#include "export.h"
#include "file.h"
#include "report.h"
#include "schema.h"
#include "stats.h"
#include "validate.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "jipan-audit"

enum { A_OK = 0, A_FAILED = 1, A_USAGE = 2, A_IO = 3 };

typedef struct {
    const char *cmd; /* for messages */
    bool json;       /* --format json */
    bool progress;   /* progress lines on stderr */
} a_run_t;

static int __attribute__((format(printf, 2, 3)))
a_usage_error(const a_run_t *r, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, PROG ": %s: ", r->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `" PROG " %s --help`)\n", r->cmd);
    return A_USAGE;
}

static int
a_fail(const a_run_t *r, int rc, const jp_err_t *err)
{
    fprintf(stderr, PROG ": %s: %s\n", r->cmd,
            err && err->msg[0] ? err->msg : jp_strerror(rc));
    switch (rc) {
    case JP_EINVAL:
        return A_USAGE;
    case JP_ECHAIN:
    case JP_ESIG:
    case JP_ECORRUPT:
    case JP_ETOOBIG:
    case JP_EVERSION:
    case JP_EPERM:
    case JP_EFUTURE:
        return A_FAILED;
    default:
        return A_IO;
    }
}

static void
a_progress(void *arg, uint64_t done, uint64_t total)
{
    const a_run_t *r = arg;
    if (!r->progress || total == 0)
        return;
    fprintf(stderr, "\r%s: %3llu%% (%llu of %llu MiB)", r->cmd,
            (unsigned long long)(done * 100 / total), (unsigned long long)(done >> 20),
            (unsigned long long)(total >> 20));
    if (done >= total)
        fputc('\n', stderr);
    fflush(stderr);
}

static int
a_format(a_run_t *r, const char *f)
{
    if (!strcmp(f, "json"))
        r->json = true;
    else if (strcmp(f, "text") != 0)
        return a_usage_error(r, "--format must be text or json");
    return 0;
}

static void
a_print_json(json_t *j)
{
    char *t = j ? jp_json_text(j) : NULL;
    if (t)
        puts(t);
    free(t);
    json_decref(j);
}

static void
a_hex(const uint8_t *p, size_t n, char *out)
{
    jp_hex(p, n, out);
}

static void
a_iso(int64_t ms, char *out, size_t cap)
{
    jp_format_iso(ms, out, cap);
}

/* ---- verify ------------------------------------------------------------------ */

static const char a_verify_usage[] =
    "usage: " PROG " verify FILE [--store-keys FILE]... [--store-export FILE]...\n"
    "                   [--server-key HEX] [--format text|json] [--progress]\n"
    "\n"
    "Verify an export end to end: every store's hash chain (gapless seqs, prev\n"
    "hashes), every batch signature against the store's key, that each change\n"
    "is written as its own store, every server receipt against the logged\n"
    "change, the positions, and the END record (the exporter's signature over\n"
    "the state digest, the head and the file's hash).  The first bad entry is\n"
    "named: position, store, seq and what is wrong.\n"
    "\n"
    "The store keys are those the export lists unless pinned: without a\n"
    "store's key file the verdict says it rests on the listed keys.\n"
    "\n"
    "  --store-keys FILE    a store's key file (`jipan-store keys --attest FILE`,\n"
    "                       taken from the store, not from the server): every\n"
    "                       key the export lists for that store must be in it;\n"
    "                       repeat for several stores\n"
    "  --store-export FILE  a store's own export (`jipan-store export`): its\n"
    "                       log must match the group log, and every change the\n"
    "                       server signed a receipt for must be in it; repeat\n"
    "                       for several stores\n"
    "  --server-key HEX     the server's receipt key as the auditor knows it\n"
    "                       (`jipan-server keys`): the export must carry it\n"
    "  --format FMT         text (default) or json\n"
    "  --progress           progress on stderr even when it is not a terminal\n"
    "\n"
    "Exit: 0 verified, 1 verification failed, 2 usage, 3 I/O error.\n";

static int
cmd_verify(a_run_t *r, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"store-export", required_argument, NULL, 's'},
                                       {"store-keys", required_argument, NULL, 'K'},
                                       {"server-key", required_argument, NULL, 'k'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"progress", no_argument, NULL, 'p'},
                                       {0}};
    const char *files[64];
    int nfiles = 0, nkfiles = 0, o;
    const char **kfiles = calloc((size_t)argc, sizeof *kfiles); /* <= argc of them */
    if (!kfiles)
        return a_fail(r, JP_ENOMEM, NULL);
    uint8_t key[JP_PUB_LEN];
    bool have_key = false;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (o) {
        case 'h':
            free(kfiles);
            fputs(a_verify_usage, stdout);
            return A_OK;
        case 's':
            if (nfiles == 64) {
                free(kfiles);
                return a_usage_error(r, "at most 64 --store-export files");
            }
            files[nfiles++] = optarg;
            break;
        case 'K':
            kfiles[nkfiles++] = optarg;
            break;
        case 'k':
            if (strlen(optarg) != 64 || jp_unhex(optarg, key, JP_PUB_LEN)) {
                free(kfiles);
                return a_usage_error(r, "--server-key needs 64 hex digits");
            }
            have_key = true;
            break;
        case 'f':
            if (a_format(r, optarg)) {
                free(kfiles);
                return A_USAGE;
            }
            break;
        case 'p':
            r->progress = true;
            break;
        default:
            free(kfiles);
            return a_usage_error(r, "unknown option or missing value");
        }
    }
    if (optind + 1 != argc) {
        free(kfiles);
        return a_usage_error(r, "give one export FILE");
    }
    const char *file = argv[optind];
    jp_averify_opts_t opts = {.server_key = have_key ? key : NULL,
                              .store_files = files,
                              .nstore_files = nfiles,
                              .key_files = kfiles,
                              .nkey_files = nkfiles,
                              .progress = a_progress,
                              .arg = r};
    jp_averify_t v;
    jp_err_t err = {0};
    int rc = jp_file_check_regular(file, "export file", &err);
    if (rc == 0)
        rc = jp_audit_verify(file, &opts, &v, &err);
    free(kfiles);
    if (rc)
        return a_fail(r, rc, &err);
    bool ok = v.nfaults == 0;
    /* What a verdict rests on: store keys pinned by the stores' own files,
     * or as the export lists them. */
    uint64_t unpinned = v.key_stores - v.pinned;
    if (v.hdr.tz[0])
        jp_tz_set(v.hdr.tz);
    char digest[2 * JP_HASH_LEN + 1] = "", signer[2 * JP_PUB_LEN + 1], when[48];
    if (v.has_digest)
        a_hex(v.digest, JP_HASH_LEN, digest);
    a_hex(v.signer, JP_PUB_LEN, signer);
    a_iso((int64_t)v.hdr.ms, when, sizeof when);
    if (r->json) {
        json_t *j = json_pack(
            "{s:s, s:b, s:s, s:s, s:s, s:i, s:I, s:I, s:s, s:I, s:I, s:I, "
            "s:I, s:I, s:b, s:I, s:i, s:I}",
            "file", file, "verified", ok, "kind", jp_export_kind_name(v.hdr.kind),
            "group", v.hdr.group, "tz", v.hdr.tz, "store", (int)v.hdr.store, "from",
            (json_int_t)v.hdr.from, "to", (json_int_t)v.hdr.to, "created", when,
            "entries", (json_int_t)v.entries, "stores", (json_int_t)v.stores, "batches",
            (json_int_t)v.batches, "receipts", (json_int_t)v.receipts, "bytes",
            (json_int_t)v.bytes, "end_ok", v.end_ok, "end_pos", (json_int_t)v.end_pos,
            "store_exports", v.crosschecked, "faults", (json_int_t)v.nfaults);
        if (j) {
            json_object_set_new(j, "store_key_files", json_integer(v.key_files));
            json_object_set_new(j, "stores_pinned", json_integer((json_int_t)v.pinned));
            json_object_set_new(j, "stores_unpinned", json_integer((json_int_t)unpinned));
            json_object_set_new(j, "server_key_pinned", json_boolean(v.server_pinned));
        }
        if (j && v.has_digest)
            json_object_set_new(j, "digest", json_string(digest));
        if (j && v.ended)
            json_object_set_new(j, "signer", json_string(signer));
        if (j && !ok)
            json_object_set_new(
                j, "first_fault",
                json_pack("{s:I, s:i, s:I, s:s, s:s}", "pos", (json_int_t)v.first.pos,
                          "store", (int)v.first.store, "seq", (json_int_t)v.first.seq,
                          "error", jp_strerror(v.first.code), "what", v.first.what));
        a_print_json(j);
    } else {
        printf("%s: %s export of group %s (time zone %s), ", file,
               jp_export_kind_name(v.hdr.kind), v.hdr.group, v.hdr.tz);
        if (v.hdr.kind == JP_XK_STORE)
            printf("store %u, seqs ", v.hdr.store);
        else
            printf("positions ");
        printf("%llu..%llu, made %s\n", (unsigned long long)v.hdr.from,
               (unsigned long long)v.hdr.to, when);
        printf("  %llu changes of %llu stores, %llu batches, %llu receipts, %.1f MiB\n",
               (unsigned long long)v.entries, (unsigned long long)v.stores,
               (unsigned long long)v.batches, (unsigned long long)v.receipts,
               v.bytes / 1048576.0);
        if (v.ended)
            printf("  END %s, signed by %.16s...; state digest at %llu: %s\n",
                   v.end_ok ? "verifies" : "does NOT verify", signer,
                   (unsigned long long)v.end_pos,
                   v.has_digest ? digest : "none published");
        if (v.crosschecked)
            printf("  cross-checked against %d store export%s\n", v.crosschecked,
                   v.crosschecked == 1 ? "" : "s");
        if (v.key_stores)
            printf("  store keys: %llu of %llu stores pinned by their key files\n",
                   (unsigned long long)v.pinned, (unsigned long long)v.key_stores);
        if (ok && unpinned == 0 && v.server_pinned) {
            printf("VERIFIED\n");
        } else if (ok) {
            char stores[96] = "";
            if (unpinned)
                snprintf(stores, sizeof stores, "the keys of %llu store%s (--store-keys)",
                         (unsigned long long)unpinned, unpinned == 1 ? "" : "s");
            printf("VERIFIED, resting on keys as the export lists them, not pinned: "
                   "%s%s%s; a server that signed with keys of its own would pass\n",
                   v.server_pinned ? "" : "the server's (--server-key)",
                   !v.server_pinned && unpinned ? " and " : "", stores);
        } else {
            printf("FAILED: %llu fault%s; the first:\n  %s\n",
                   (unsigned long long)v.nfaults, v.nfaults == 1 ? "" : "s",
                   v.first.what);
            fprintf(stderr, PROG ": verify: %s\n", v.first.what);
        }
    }
    return ok ? A_OK : A_FAILED;
}

/* ---- replay ------------------------------------------------------------------ */

static const char a_replay_usage[] =
    "usage: " PROG " replay FILE (--as-of INSTANT | --at-pos N) [--db DIR]\n"
    "                   [--report [--store N]] [--format text|json] [--progress]\n"
    "\n"
    "Rebuild the group's state from a group export (`jipan-server export`\n"
    "from position 1) in a fresh LMDB environment, applying the changes in\n"
    "group log order with the same merge as the server, and print its state\n"
    "digest.  At the export's last position the digest must equal the one the\n"
    "server signed: this is checked and said.\n"
    "\n"
    "  --as-of INSTANT  the server's state at that instant: every change whose\n"
    "                   batch the server accepted at or before it (ISO 8601 in\n"
    "                   the group's time zone; a date alone is the end of it)\n"
    "  --at-pos N       the state after group log position N (0: empty)\n"
    "  --db DIR         build the environment in DIR (created, must be empty)\n"
    "                   and keep it; default: a temporary one, removed\n"
    "  --report         also the loyalty statistics as of the instant (or the\n"
    "                   export's time with --at-pos), computed from the\n"
    "                   replayed state by the same engine as the server's\n"
    "  --store N        the statistics of store N only (default: the group)\n"
    "  --format FMT     text (default) or json\n"
    "\n"
    "Exit: 0 done (and the digest matches where one is signed), 1 the digest\n"
    "differs or a change does not apply, 2 usage, 3 I/O error.\n";

static void
a_rmdir(const char *dir)
{
    char p[1100];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static int
a_read_header(const char *file, jp_xhdr_t *h, jp_err_t *err)
{
    jp_xr_t *xr = NULL;
    jp_xrec_t rec;
    int rc = jp_xr_open(&xr, file, err);
    if (rc == 0) {
        rc = jp_xr_next(xr, &rec, err);
        if (rc == 1 && rec.type == JP_XR_HEADER)
            *h = rec.u.hdr, rc = 0;
        else if (rc >= 0)
            rc = jp_err_set(err, JP_ECORRUPT, "%s is not an export file", file);
    }
    jp_xr_close(&xr);
    return rc;
}

static void
a_print_report(const jp_stats_t *s, const char *scope)
{
    jp_figure_t f[256];
    size_t n = jp_stats_figures(s, f, 256);
    char when[48], val[64];
    jp_format_iso(s->asof, when, sizeof when);
    printf("loyalty report, %s, as of %s\n", scope, when);
    for (size_t i = 0; i < n && i < 256; i++) {
        switch (f[i].type) {
        case JP_FIG_RATE: {
            char pct[32];
            jp_format_hundredths(f[i].rate.pct, f[i].rate.den == 0, pct, sizeof pct);
            snprintf(val, sizeof val, "%lld / %lld  %s%s", (long long)f[i].rate.num,
                     (long long)f[i].rate.den, pct, f[i].rate.den ? "%" : "");
            break;
        }
        case JP_FIG_FIXED:
            jp_format_hundredths(f[i].fixed.v, f[i].fixed.na, val, sizeof val);
            break;
        case JP_FIG_MONEY:
            jp_format_money(f[i].count, val);
            break;
        default:
            snprintf(val, sizeof val, "%lld", (long long)f[i].count);
        }
        printf("  %-10s %-44s %s\n", f[i].section, f[i].label, val);
    }
}

static int
cmd_replay(a_run_t *r, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"as-of", required_argument, NULL, 'a'},
                                       {"at-pos", required_argument, NULL, 'n'},
                                       {"db", required_argument, NULL, 'd'},
                                       {"report", no_argument, NULL, 'r'},
                                       {"store", required_argument, NULL, 's'},
                                       {"format", required_argument, NULL, 'f'},
                                       {"progress", no_argument, NULL, 'p'},
                                       {0}};
    const char *as_of = NULL, *at_pos = NULL, *dbdir = NULL, *store = NULL, *why;
    bool report = false;
    int o;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (o) {
        case 'h':
            fputs(a_replay_usage, stdout);
            return A_OK;
        case 'a':
            as_of = optarg;
            break;
        case 'n':
            at_pos = optarg;
            break;
        case 'd':
            dbdir = optarg;
            break;
        case 'r':
            report = true;
            break;
        case 's':
            store = optarg;
            break;
        case 'f':
            if (a_format(r, optarg))
                return A_USAGE;
            break;
        case 'p':
            r->progress = true;
            break;
        default:
            return a_usage_error(r, "unknown option or missing value");
        }
    }
    if (optind + 1 != argc)
        return a_usage_error(r, "give one export FILE");
    if (!as_of == !at_pos)
        return a_usage_error(r, "give --as-of INSTANT or --at-pos N");
    if (store && !report)
        return a_usage_error(r, "--store is for --report");
    const char *file = argv[optind];
    jp_err_t err = {0};
    jp_xhdr_t h;
    int rc = jp_file_check_regular(file, "export file", &err);
    if (rc == 0)
        rc = a_read_header(file, &h, &err);
    if (rc)
        return a_fail(r, rc, &err);
    if (h.tz[0] && jp_tz_set(h.tz) != 0)
        return a_fail(
            r, JP_EINVAL,
            (jp_err_set(&err, JP_EINVAL, "unknown time zone %s in the export", h.tz),
             &err));
    jp_areplay_opts_t opts = {.progress = a_progress, .arg = r};
    int64_t v;
    int64_t scope_store = 0;
    if (as_of) {
        if (jp_parse_asof(as_of, strlen(as_of), &opts.as_of, &why))
            return a_usage_error(r, "--as-of: %s", why);
        opts.by_time = true;
    } else if (jp_parse_int(at_pos, strlen(at_pos), 0, INT64_MAX, &v, &why)) {
        return a_usage_error(r, "--at-pos: %s", why);
    } else {
        opts.at_pos = (uint64_t)v;
    }
    if (store && jp_parse_int(store, strlen(store), 0, 65535, &scope_store, &why))
        return a_usage_error(r, "--store: %s", why);
    char tmp[] = "/tmp/jipan-audit.XXXXXX";
    const char *dir = dbdir;
    if (dbdir) {
        if (mkdir(dbdir, 0700) != 0 && errno != EEXIST) {
            jp_err_set(&err, JP_EIO, "cannot create %s: %s", dbdir, strerror(errno));
            return a_fail(r, JP_EIO, &err);
        }
        char p[1100];
        snprintf(p, sizeof p, "%s/data.mdb", dbdir);
        if (access(p, F_OK) == 0)
            return a_usage_error(r,
                                 "--db %s holds an environment already: give an empty "
                                 "directory",
                                 dbdir);
    } else if (!(dir = mkdtemp(tmp))) {
        jp_err_set(&err, JP_EIO, "temporary directory: %s", strerror(errno));
        return a_fail(r, JP_EIO, &err);
    }
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    jp_areplay_t out;
    jp_stats_t stats;
    bool have_stats = false;
    jp_scope_t *scope = NULL;
    int ec;
    if ((rc = jp_db_open(&db, dir, 0, &err)) ||
        (rc = jp_audit_replay(file, db, &opts, &out, &err))) {
        ec = a_fail(r, rc, &err);
        goto done;
    }
    int64_t asof_ms = opts.by_time ? opts.as_of : (int64_t)h.ms;
    char label[32] = "group";
    if (report) {
        if (!(scope = calloc(1, sizeof *scope))) {
            ec = a_fail(r, JP_ENOMEM, NULL);
            goto done;
        }
        if (store) {
            jp_scope_add(scope, (uint16_t)scope_store);
            snprintf(label, sizeof label, "store %lld", (long long)scope_store);
        } else {
            jp_scope_all(scope);
        }
        if ((rc = jp_db_begin(db, false, &txn, &err)) ||
            (rc = jp_stats_run(txn, scope, asof_ms, NULL, NULL, &stats, &err))) {
            ec = a_fail(r, rc, &err);
            goto done;
        }
        have_stats = true;
    }
    char hex[2 * JP_HASH_LEN + 1], when[48] = "";
    a_hex(out.digest, JP_HASH_LEN, hex);
    if (opts.by_time)
        a_iso(opts.as_of, when, sizeof when);
    const char *verdict = out.has_signed
                              ? (out.match ? "equals the server's signed digest"
                                           : "DIFFERS from the server's signed "
                                             "digest")
                              : "no signed digest at this position";
    if (r->json) {
        json_t *j =
            json_pack("{s:s, s:I, s:I, s:s, s:b, s:b}", "file", file, "pos",
                      (json_int_t)out.pos, "applied", (json_int_t)out.applied, "digest",
                      hex, "signed", out.has_signed, "match", out.match);
        if (j && opts.by_time)
            json_object_set_new(j, "as_of", json_string(when));
        if (j && dbdir)
            json_object_set_new(j, "db", json_string(dbdir));
        if (j && have_stats)
            json_object_set_new(j, "stats", jp_stats_json(&stats, label, scope, NULL));
        a_print_json(j);
    } else {
        if (opts.by_time)
            printf("as of %s: ", when);
        printf("replayed %llu changes, positions 1..%llu of %llu\n",
               (unsigned long long)out.applied, (unsigned long long)out.pos,
               (unsigned long long)h.to);
        printf("digest %s\n%s\n", hex, verdict);
        if (dbdir)
            printf("state kept in %s\n", dbdir);
        if (have_stats)
            a_print_report(&stats, label);
    }
    if (out.has_signed && !out.match)
        fprintf(stderr,
                PROG ": replay: the replayed state differs from the one the server "
                     "signed at position %llu\n",
                (unsigned long long)out.pos);
    ec = out.has_signed && !out.match ? A_FAILED : A_OK;
done:
    if (have_stats)
        jp_stats_free(&stats);
    free(scope);
    jp_txn_abort(&txn);
    jp_db_close(&db);
    if (!dbdir)
        a_rmdir(dir);
    return ec;
}

/* ---- history ----------------------------------------------------------------- */

static const char a_history_usage[] =
    "usage: " PROG " history FILE RECORD_ID [--full] [--format text|json]\n"
    "\n"
    "Every change of one record in the export, in log order: position, store,\n"
    "seq, hlc, wall time, author, and each field before and after.  For a\n"
    "customer, also the changes of the customer rows linked to it (link\n"
    "records) and of those links.  Phone and ID numbers are masked unless\n"
    "--full.\n"
    "\n"
    "Exit: 0 done (even when nothing was found), 2 usage, 3 I/O error; 1 when\n"
    "the file is malformed.\n";

typedef struct {
    a_run_t *r;
    bool full;
    json_t *arr; /* json: the changes */
} a_hist_t;

static void
a_val_text(unsigned fid, bool had, const jp_val_t *v, bool full, char *out, size_t cap)
{
    if (had)
        jp_val_text(jp_field_def(fid), v, full, out, cap);
    else
        snprintf(out, cap, "(unset)");
}

static int
a_hist_cb(void *arg, const jp_ahist_t *h)
{
    a_hist_t *a = arg;
    const jp_change_t *ch = h->ch;
    char id[JP_ID_TEXT_LEN + 1], wall[48], acc[48] = "";
    jp_id_format(&ch->id, id);
    a_iso((int64_t)jp_hlc_ms(ch->hlc), wall, sizeof wall);
    if (h->accepted_ms)
        a_iso((int64_t)h->accepted_ms, acc, sizeof acc);
    json_t *fields = a->r->json ? json_array() : NULL;
    if (!a->r->json)
        printf("pos %llu  store %u seq %llu  hlc %llu (%s)  by %.*s  %s %s%s%s\n",
               (unsigned long long)h->pos, ch->store, (unsigned long long)ch->seq,
               (unsigned long long)ch->hlc, wall, (int)ch->author_len, ch->author,
               jp_kind_name(ch->kind), id, acc[0] ? "  accepted " : "", acc);
    for (int i = 0; i < h->nf; i++) {
        const jp_ahfield_t *f = &h->f[i];
        const jp_field_def_t *d = jp_field_def(f->field);
        char b[JP_MAX_STR + 64], af[JP_MAX_STR + 64];
        a_val_text(f->field, f->had, &f->before, a->full, b, sizeof b);
        a_val_text(f->field, true, &f->after, a->full, af, sizeof af);
        if (a->r->json)
            json_array_append_new(fields, json_pack("{s:s, s:s, s:s, s:b}", "field",
                                                    d ? d->name : "?", "before", b,
                                                    "after", af, "taken", f->taken));
        else
            printf("    %-14s %s -> %s%s\n", d ? d->name : "?", b, af,
                   f->taken ? "" : "   (not taken: a later write holds the field)");
    }
    if (a->r->json) {
        json_t *o = json_pack("{s:I, s:i, s:I, s:I, s:s, s:s%, s:s, s:s, s:o}", "pos",
                              (json_int_t)h->pos, "store", (int)ch->store, "seq",
                              (json_int_t)ch->seq, "hlc", (json_int_t)ch->hlc, "wall",
                              wall, "author", ch->author, (size_t)ch->author_len, "kind",
                              jp_kind_name(ch->kind), "record", id, "fields", fields);
        if (o && acc[0])
            json_object_set_new(o, "accepted", json_string(acc));
        json_array_append_new(a->arr, o);
    }
    return 0;
}

static int
cmd_history(a_run_t *r, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"full", no_argument, NULL, 'F'},
                                       {"format", required_argument, NULL, 'f'},
                                       {0}};
    a_hist_t a = {.r = r};
    int o;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (o == 'h') {
            fputs(a_history_usage, stdout);
            return A_OK;
        } else if (o == 'F') {
            a.full = true;
        } else if (o == 'f') {
            if (a_format(r, optarg))
                return A_USAGE;
        } else {
            return a_usage_error(r, "unknown option or missing value");
        }
    }
    if (optind + 2 != argc)
        return a_usage_error(r, "give an export FILE and a RECORD_ID");
    jp_id_t id;
    if (jp_id_parse(argv[optind + 1], &id))
        return a_usage_error(r, "RECORD_ID must be a record id (26 characters)");
    jp_err_t err = {0};
    jp_xhdr_t h;
    int rc = jp_file_check_regular(argv[optind], "export file", &err);
    if (rc == 0)
        rc = a_read_header(argv[optind], &h, &err);
    if (rc)
        return a_fail(r, rc, &err);
    if (h.tz[0])
        jp_tz_set(h.tz);
    uint64_t count = 0;
    if (r->json)
        a.arr = json_array();
    else
        printf("history of %s in %s\n", argv[optind + 1], argv[optind]);
    rc = jp_audit_history(argv[optind], &id, a_hist_cb, &a, &count, &err);
    if (rc) {
        json_decref(a.arr);
        return a_fail(r, rc, &err);
    }
    if (r->json)
        a_print_json(json_pack("{s:s, s:s, s:I, s:o}", "file", argv[optind], "record",
                               argv[optind + 1], "count", (json_int_t)count, "changes",
                               a.arr));
    else
        printf("%llu change%s\n", (unsigned long long)count, count == 1 ? "" : "s");
    return A_OK;
}

/* ---- main -------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int (*fn)(a_run_t *, int, char **);
    const char *help;
} a_cmd_t;

static const a_cmd_t a_cmds[] = {
    {"verify", cmd_verify,
     "check chains, signatures, receipts; name the first bad entry"},
    {"replay", cmd_replay, "rebuild the state at an instant or position; its digest"},
    {"history", cmd_history, "every change of one record (and its linked rows)"},
};

static void
a_usage(FILE *out)
{
    fprintf(
        out,
        "usage: " PROG " COMMAND [OPTIONS]\n\n"
        "The auditor's tool: reads an export of the group log (`jipan-server\n"
        "export`) or of a store's log (`jipan-store export`), offline.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof a_cmds / sizeof a_cmds[0]; i++)
        fprintf(out, "  %-8s %s\n", a_cmds[i].name, a_cmds[i].help);
    fprintf(out,
            "\n`" PROG " COMMAND --help` describes a command; docs/EXPORT.md the file.\n"
            "Exit codes: 0 verified, 1 verification failed, 2 usage, 3 I/O error.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        a_usage(stderr);
        return A_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        a_usage(stdout);
        return A_OK;
    }
    for (size_t i = 0; i < sizeof a_cmds / sizeof a_cmds[0]; i++) {
        if (strcmp(argv[1], a_cmds[i].name) != 0)
            continue;
        a_run_t r = {.cmd = a_cmds[i].name, .progress = isatty(2) != 0};
        opterr = 0;
        optind = 1;
        return a_cmds[i].fn(&r, argc - 1, argv + 1);
    }
    fprintf(stderr, PROG ": unknown command '%.32s' (see `" PROG " --help`)\n", argv[1]);
    return A_USAGE;
}
