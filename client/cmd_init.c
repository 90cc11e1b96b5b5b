/*
 * cmd_init.c -- init and import: bringing a store into being and filling it
 * from the old system.
 *
 * init writes the store's identity and creates its Ed25519 key beside the
 * LMDB environment; the key file is also the mark that a directory is an
 * initialised store (cli_open checks it), so init refuses when it exists.
 * import is the CSV import of import-format.md (common/import.c) with a
 * summary for the person running it.
 */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "import.h"
#include "validate.h"

static const char s_init_usage[] =
    "usage: " CLI_PROG " init --store N --code CODE --name NAME --region REGION\n"
    "                   --group GROUP [--tz ZONE]\n"
    "\n"
    "Create the store in DIR (-d; mode 0700 if it does not exist): its\n"
    "identity and its Ed25519 signing key (DIR/" CLI_KEY_FILE ", mode 0600).\n"
    "Prints the store's public key (hex) for enrolment at the group server.\n"
    "Refuses a directory that already holds a store.\n"
    "\n"
    "options:\n"
    "  --store N        store number, 1..65535, unique in the group\n"
    "  --code CODE      short store code (e.g. HZ01)\n"
    "  --name NAME      store name\n"
    "  --region REGION  region the store belongs to\n"
    "  --group GROUP    dealer group\n"
    "  --tz ZONE        the group's time zone (default Asia/Shanghai)\n"
    "  -h, --help       this text\n";

static const char s_import_usage[] =
    "usage: " CLI_PROG " import [--customers F] [--vehicles F] [--events F]\n"
    "                     [--partial] [--ignore-unknown-columns] [--dry-run]\n"
    "\n"
    "Import CSV files (UTF-8, header row; see docs for the columns).  Rejected\n"
    "rows are listed on stderr with file, line, column and reason.  By default\n"
    "nothing is written when any row is rejected.  Importing the same files\n"
    "again changes nothing.  Exit 1 when rows were rejected.\n"
    "\n"
    "options:\n"
    "  --customers F               customers.csv\n"
    "  --vehicles F                vehicles.csv\n"
    "  --events F                  events.csv\n"
    "  --partial                   write the good rows even if some are rejected\n"
    "  --ignore-unknown-columns    ignore columns the format does not know\n"
    "  --dry-run                   check only, write nothing\n"
    "  -h, --help                  this text\n";

/* Copy an option's text into a node field, refusing what does not fit. */
static int
s_text_opt(cli_t *c, const char *opt, const char *v, char *out, size_t cap)
{
    if (!v || !*v)
        return cli_usage_error(c, "%s is required", opt);
    if (strlen(v) >= cap)
        return cli_fail(c, CLI_REFUSED, "%s: longer than %zu bytes", opt, cap - 1);
    memcpy(out, v, strlen(v) + 1);
    return CLI_OK;
}

/* The directory: created 0700 if missing, else it must be a directory. */
static int
s_make_dir(cli_t *c)
{
    struct stat st;
    if (mkdir(c->dir, 0700) == 0)
        return CLI_OK;
    if (errno != EEXIST)
        return cli_fail(c, CLI_INTERNAL, "%s: cannot create: %s", c->dir,
                        strerror(errno));
    if (stat(c->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail(c, CLI_REFUSED, "%s exists and is not a directory", c->dir);
    return CLI_OK;
}

/* Everything of init after the options: directory, environment, key,
 * identity.  The key is saved before the identity is committed; a failed
 * commit removes it again, so a retry starts clean. */
static int
s_init(cli_t *c, const jp_node_t *node)
{
    char path[4096], hex[2 * JP_PUB_LEN + 1];
    uint8_t pub[JP_PUB_LEN];
    jp_node_t old;
    jp_key_t *key = NULL;
    jp_txn_t *txn = NULL;
    jp_err_t err;
    bool saved = false;
    int rc, ec;

    jp_err_clear(&err);
    if ((ec = s_make_dir(c)))
        return ec;
    cli_path(c, CLI_KEY_FILE, path, sizeof path);
    if (access(path, F_OK) == 0)
        return cli_fail(c, CLI_REFUSED, "%s is already an initialised store", c->dir);
    cli_guard(c);
    if ((rc = jp_db_open(&c->db, c->dir, 0, &err)) ||
        (rc = jp_db_begin(c->db, true, &txn, &err)))
        goto fail;
    rc = jp_txn_node_get(txn, &old);
    if (rc == 0) {
        jp_txn_abort(&txn);
        return cli_fail(c, CLI_REFUSED, "%s is already store %u (%s)", c->dir,
                        (unsigned)old.store, old.code);
    }
    if (rc != JP_ENOTFOUND)
        goto fail;
    if ((rc = jp_key_generate(&key, &err)) || (rc = jp_key_save(key, path, &err)))
        goto fail;
    saved = true;
    if ((rc = jp_txn_node_set(txn, node)) || (rc = jp_txn_commit(&txn, &err)))
        goto fail;
    jp_key_public(key, pub);
    jp_hex(pub, sizeof pub, hex);
    printf("%s\n", hex);
    fprintf(stderr, CLI_PROG ": init: store %u (%s) initialised in %s\n",
            (unsigned)node->store, node->code, c->dir);
    jp_key_destroy(&key);
    return CLI_OK;
fail:
    jp_txn_abort(&txn);
    if (saved)
        unlink(path);
    jp_key_destroy(&key);
    return cli_fail_err(c, rc, &err);
}

int
cmd_init(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS,
                                         {"store", required_argument, NULL, 's'},
                                         {"code", required_argument, NULL, 'c'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"region", required_argument, NULL, 'r'},
                                         {"group", required_argument, NULL, 'g'},
                                         {"tz", required_argument, NULL, 't'},
                                         {NULL, 0, NULL, 0}};
    const char *store = NULL, *code = NULL, *name = NULL, *region = NULL, *group = NULL,
               *tz = "Asia/Shanghai", *reason = NULL;
    jp_node_t node;
    int64_t n;
    int o, ec = CLI_CONTINUE;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        switch (o) {
        case 's':
            store = optarg;
            break;
        case 'c':
            code = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 't':
            tz = optarg;
            break;
        default:
            ec = cli_std_opt(c, o, argv, s_init_usage);
        }
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument");
    memset(&node, 0, sizeof node);
    if (!store)
        return cli_usage_error(c, "--store is required");
    if (jp_parse_int(store, strlen(store), 1, 65535, &n, &reason) != 0)
        return cli_fail(c, CLI_REFUSED, "--store: %s (1..65535)", reason);
    node.store = (uint16_t)n;
    if ((ec = s_text_opt(c, "--code", code, node.code, sizeof node.code)) ||
        (ec = s_text_opt(c, "--name", name, node.name, sizeof node.name)) ||
        (ec = s_text_opt(c, "--region", region, node.region, sizeof node.region)) ||
        (ec = s_text_opt(c, "--group", group, node.group, sizeof node.group)) ||
        (ec = s_text_opt(c, "--tz", tz, node.tz, sizeof node.tz)))
        return ec;
    if (jp_tz_set(node.tz) != 0)
        return cli_fail(c, CLI_REFUSED, "--tz: unknown time zone '%s'", node.tz);
    return s_init(c, &node);
}

static double
s_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
cmd_import(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_STD_LONGOPTS,
        {"customers", required_argument, NULL, 'C'},
        {"vehicles", required_argument, NULL, 'V'},
        {"events", required_argument, NULL, 'E'},
        {"partial", no_argument, NULL, 'p'},
        {"ignore-unknown-columns", no_argument, NULL, 'i'},
        {"dry-run", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    jp_import_opts_t io = {0};
    jp_import_stats_t st = {0};
    jp_err_t err;
    int o, ec = CLI_CONTINUE;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        switch (o) {
        case 'C':
            io.customers = optarg;
            break;
        case 'V':
            io.vehicles = optarg;
            break;
        case 'E':
            io.events = optarg;
            break;
        case 'p':
            io.partial = true;
            break;
        case 'i':
            io.ignore_unknown = true;
            break;
        case 'n':
            io.dry_run = true;
            break;
        default:
            ec = cli_std_opt(c, o, argv, s_import_usage);
        }
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind < argc)
        return cli_usage_error(c, "unexpected argument (files go with --customers, "
                                  "--vehicles, --events)");
    if (!io.customers && !io.vehicles && !io.events)
        return cli_usage_error(c, "no file to import");
    if ((ec = cli_author_check(c)) || (ec = cli_open(c)))
        return ec;
    io.author = cli_author(c);
    io.report = stderr;
    jp_err_clear(&err);
    double t0 = s_seconds();
    int rc = jp_import(c->db, &io, &st, &err);
    double secs = s_seconds() - t0;
    if ((rc && rc != JP_EINVAL) || (rc && st.rows == 0))
        return cli_fail_err(c, rc, &err); /* no row read: no figures to show */
    printf("rows %zu, created %zu, updated %zu, unchanged %zu, rejected %zu, "
           "%.2f s, %.0f records/s%s\n",
           st.rows, st.created, st.updated, st.unchanged, st.rejected, secs,
           secs > 0 ? (double)st.rows / secs : 0.0,
           io.dry_run ? " (dry run: nothing written)" : "");
    if (rc || st.rejected) {
        if (err.msg[0])
            cli_fail(c, CLI_REFUSED, "%s", err.msg);
        else
            cli_fail(c, CLI_REFUSED, "%zu rows rejected%s", st.rejected,
                     io.partial ? "" : "; nothing written");
        return CLI_REFUSED;
    }
    return CLI_OK;
}
