/*
 * main.c -- jipan-store: global options, the command table, and what every
 * command shares (messages, exit codes, option handling, opening the store).
 *
 * Each command is one function that parses its own argv with getopt_long
 * and returns an exit code: 0 ok, 1 refused or invalid input, 2 usage, 3
 * internal or I/O error.  Messages go to stderr as
 * "jipan-store: <command>: <message>" and never repeat a phone or an ID
 * number: values that may be personal data are described, not quoted.
 */
#include "store.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "validate.h"

typedef struct {
    const char *name; /* as typed */
    cli_cmd_fn fn;    /* runs it */
    const char *help; /* one line for `jipan-store --help` */
} s_cmd_t;

static const s_cmd_t s_cmds[] = {
    {"init", cmd_init, "create a store: directory, identity and signing key"},
    {"import", cmd_import, "import customers, vehicles and events from CSV files"},
    {"add", cmd_add, "add a customer, a vehicle or an event"},
    {"update", cmd_update, "change or clear fields of a customer or a vehicle"},
    {"delete", cmd_delete, "delete a record (writes a tombstone)"},
    {"find", cmd_find, "find customers by phone, VIN, plate, id, ext:ID or name"},
    {"show", cmd_show, "a customer's card and timeline"},
    {"log", cmd_log, "this store's changes"},
    {"verify", cmd_verify, "verify the hash chain of every log in the store"},
    {"status", cmd_status, "identity, log position, record counts, file size"},
    {"digest", cmd_digest, "the state digest (SHA-256 over every record)"},
    {"unlink", cmd_unlink, "undo a wrong link of two customer rows as one person"},
    {"keys", cmd_keys, "this store's public keys, for enrolment at the server"},
    {"sync", cmd_sync, "one sync with the group server: push, then pull"},
    {"run", cmd_run, "the sync daemon: sync every few seconds, reconnecting"},
    {"backup", cmd_backup, "hot copy of the store while it works"},
    {"report", cmd_report, "loyalty statistics of this store, offline"},
    {"today", cmd_today, "the work list due today: calls, reminders, follow-ups"},
    {"export", cmd_export, "this store's signed log and receipts, for the auditors"},
    {"web", cmd_web, "the counter's screens in a browser, on 127.0.0.1"},
    {"web-user", cmd_web_user, "add, change or remove a user of the web screens"},
};

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: " CLI_PROG " [-d DIR] [-u NAME] COMMAND [OPTIONS]\n"
                 "\n"
                 "The store's customer base, offline.\n"
                 "\n"
                 "global options:\n"
                 "  -d, --dir DIR    store directory (default: $JIPAN_STORE_DIR or "
                 "./jipan-store-data)\n"
                 "  -u, --user NAME  author of changes (default: $JIPAN_USER, else the "
                 "login name)\n"
                 "  -h, --help       this text\n"
                 "\ncommands:\n");
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        fprintf(out, "  %-8s %s\n", s_cmds[i].name, s_cmds[i].help);
    fprintf(out, "\n`" CLI_PROG " COMMAND --help` describes a command.\n");
}

int
cli_fail(cli_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    FILE *to = c->msg ? c->msg : stderr;
    if (!c->msg)
        fprintf(to, CLI_PROG ": %s: ", c->cmd ? c->cmd : "error");
    va_start(ap, fmt);
    vfprintf(to, fmt, ap);
    va_end(ap);
    fputc('\n', to);
    return code;
}

int
cli_exit_for(int rc)
{
    switch (rc) {
    case JP_OK:
        return CLI_OK;
    case JP_EINVAL:
    case JP_ENOTFOUND:
    case JP_EEXIST:
    case JP_ECHAIN:
    case JP_ESIG:
    case JP_EFUTURE:
    case JP_EPERM:
    case JP_EDUP:
    case JP_ECORRUPT:
    case JP_ETOOBIG:
    case JP_EVERSION:
        return CLI_REFUSED;
    default:
        return CLI_INTERNAL;
    }
}

int
cli_fail_err(cli_t *c, int rc, const jp_err_t *err)
{
    if (err && err->msg[0])
        return cli_fail(c, cli_exit_for(rc), "%s", err->msg);
    return cli_fail(c, cli_exit_for(rc), "%s", jp_strerror(rc));
}

int
cli_usage_error(cli_t *c, const char *fmt, ...)
{
    va_list ap;
    if (c->msg) {
        /* A screen's form, not a command line: no pointer to --help. */
        va_start(ap, fmt);
        vfprintf(c->msg, fmt, ap);
        va_end(ap);
        fputc('\n', c->msg);
        return CLI_USAGE;
    }
    fprintf(stderr, CLI_PROG ": %s: ", c->cmd ? c->cmd : "usage");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (c->cmd)
        fprintf(stderr, " (see `" CLI_PROG " %s --help`)\n", c->cmd);
    else
        fprintf(stderr, " (see `" CLI_PROG " --help`)\n");
    return CLI_USAGE;
}

void
cli_getopt_reset(void)
{
    optind = 0; /* 0 makes glibc reinitialise, permutation included */
    opterr = 0; /* we print our own messages */
}

/* The option as typed, without an "=value" tail, for messages. */
static void
s_option_text(char **argv, int o, char *out, size_t cap)
{
    const char *arg = optind > 0 ? argv[optind - 1] : NULL;
    if (arg && strncmp(arg, "--", 2) == 0) {
        size_t n = strcspn(arg, "=");
        snprintf(out, cap, "%.*s", (int)(n < 64 ? n : 64), arg);
    } else {
        snprintf(out, cap, "-%c", o > 32 && o < 127 ? o : '?');
    }
}

int
cli_std_opt(cli_t *c, int o, char **argv, const char *usage)
{
    char opt[80];
    switch (o) {
    case 'h':
        fputs(usage, stdout);
        return CLI_OK;
    case 'd':
        c->dir = optarg;
        return CLI_CONTINUE;
    case 'u':
        c->user = optarg;
        return CLI_CONTINUE;
    case ':':
        s_option_text(argv, optopt, opt, sizeof opt);
        return cli_usage_error(c, "option %s needs a value", opt);
    case '?':
    default:
        s_option_text(argv, optopt, opt, sizeof opt);
        return cli_usage_error(c, "unknown option %s", opt);
    }
}

void
cli_path(const cli_t *c, const char *file, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", c->dir, file);
}

int
cli_open(cli_t *c)
{
    char key[4096];
    jp_err_t err;
    jp_txn_t *txn = NULL;
    struct stat st;
    int rc;

    if (c->db) /* open already: the web front keeps one open */
        return CLI_OK;
    jp_err_clear(&err);
    /* The key file is the mark of an initialised store; checking it first
     * keeps a mistyped --dir from growing an empty LMDB environment. */
    cli_path(c, CLI_KEY_FILE, key, sizeof key);
    if (stat(c->dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_fail(c, CLI_REFUSED,
                        "%s: no such store directory (run `" CLI_PROG " init`)", c->dir);
    if (access(key, F_OK) != 0)
        return cli_fail(c, CLI_REFUSED,
                        "%s is not an initialised store (run `" CLI_PROG " init`)",
                        c->dir);
    rc = jp_db_open(&c->db, c->dir, 0, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    rc = jp_db_begin(c->db, false, &txn, &err);
    if (rc)
        goto fail;
    rc = jp_txn_node_get(txn, &c->node);
    jp_txn_abort(&txn);
    if (rc == JP_ENOTFOUND) {
        cli_close(c);
        return cli_fail(c, CLI_REFUSED,
                        "%s has no store identity (run `" CLI_PROG " init`)", c->dir);
    }
    if (rc)
        goto fail;
    if (c->node.tz[0] && jp_tz_set(c->node.tz) != 0) {
        cli_close(c);
        return cli_fail(c, CLI_INTERNAL, "unknown time zone %s", c->node.tz);
    }
    return CLI_OK;
fail:
    cli_close(c);
    return cli_fail_err(c, rc, &err);
}

void
cli_close(cli_t *c)
{
    jp_db_close(&c->db);
}

/* The login name, for changes when neither -u nor $JIPAN_USER says. */
static const char *
s_login_name(void)
{
    const char *name = getlogin();
    if (name && *name)
        return name;
    struct passwd *pw = getpwuid(geteuid());
    return pw && pw->pw_name ? pw->pw_name : "unknown";
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS, {NULL, 0, NULL, 0}};
    cli_t c = {0};
    int o, rc;

    c.dir = getenv("JIPAN_STORE_DIR");
    if (!c.dir || !*c.dir)
        c.dir = "./jipan-store-data";
    c.user = getenv("JIPAN_USER");

    /* '+' stops at the command: what follows is the command's to parse. */
    opterr = 0;
    while ((o = getopt_long(argc, argv, "+" CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'h') {
            s_usage(stdout);
            return CLI_OK;
        }
        rc = cli_std_opt(&c, o, argv, "");
        if (rc != CLI_CONTINUE)
            return rc;
    }
    if (optind >= argc) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++) {
        if (strcmp(s_cmds[i].name, name) == 0) {
            c.cmd = s_cmds[i].name;
            rc = s_cmds[i].fn(&c, argc - optind, argv + optind);
            cli_close(&c);
            return rc;
        }
    }
    /* Repeat the word only when it cannot be someone's number. */
    if (strspn(name, "abcdefghijklmnopqrstuvwxyz_-") == strlen(name))
        fprintf(stderr,
                CLI_PROG ": unknown command '%.40s' (see `" CLI_PROG " --help`)\n", name);
    else
        fprintf(stderr, CLI_PROG ": unknown command (see `" CLI_PROG " --help`)\n");
    return CLI_USAGE;
}

const char *
cli_author(cli_t *c)
{
    if (!c->user || !*c->user)
        c->user = s_login_name();
    return c->user;
}
