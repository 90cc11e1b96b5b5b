/*
 * main.c -- jipan-store: global options, the command table, and what every
 * command shares (messages, exit codes, option handling, opening the store).
 *
 * Each command is one function that parses its own argv with getopt_long
 * and returns an exit code: 0 ok, 1 refused or invalid input, 2 usage, 3
 * internal or I/O error (disk full included), 4 the store's file is damaged
 * (also after a crash inside LMDB, caught by cli_guard).  Messages go to stderr as
 * "jipan-store: <command>: <message>" and never repeat a phone or an ID
 * number: values that may be personal data are described, not quoted.
 */
#include "store.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "i18n.h"
#include "validate.h"

typedef struct {
    const char *name; /* as typed */
    cli_cmd_fn fn;    /* runs it */
    const char *help; /* one line for `jipan-store --help` */
} s_cmd_t;

static const s_cmd_t s_cmds[] = {
    {"init", cmd_init, N_("create a store: directory, identity and signing key")},
    {"import", cmd_import, N_("import customers, vehicles and events from CSV files")},
    {"add", cmd_add, N_("add a customer, a vehicle or an event")},
    {"update", cmd_update, N_("change or clear fields of a customer or a vehicle")},
    {"delete", cmd_delete, N_("delete a record (writes a tombstone)")},
    {"find", cmd_find, N_("find customers by phone, VIN, plate, id, ext:ID or name")},
    {"show", cmd_show, N_("a customer's card and timeline")},
    {"log", cmd_log, N_("this store's changes")},
    {"verify", cmd_verify, N_("verify the hash chain of every log in the store")},
    {"status", cmd_status, N_("identity, log position, record counts, file size")},
    {"digest", cmd_digest, N_("the state digest (SHA-256 over every record)")},
    {"unlink", cmd_unlink, N_("undo a wrong link of two customer rows as one person")},
    {"keys", cmd_keys, N_("this store's public keys, for enrolment at the server")},
    {"sync", cmd_sync, N_("one sync with the group server: push, then pull")},
    {"run", cmd_run, N_("the sync daemon: sync every few seconds, reconnecting")},
    {"backup", cmd_backup, N_("hot copy of the store while it works")},
    {"report", cmd_report, N_("loyalty statistics of this store, offline")},
    {"today", cmd_today, N_("the work list due today: calls, reminders, follow-ups")},
    {"export", cmd_export, N_("this store's signed log and receipts, for the auditors")},
    {"repair", cmd_repair, N_("mend a log whose changes carry an undecodable author")},
    {"web", cmd_web, N_("the counter's screens in a browser, on 127.0.0.1")},
    {"web-user", cmd_web_user, N_("add, change or remove a user of the web screens")},
};

static void
s_usage(FILE *out)
{
    fprintf(out, _("usage: %s [-d DIR] [-u NAME] COMMAND [OPTIONS]\n"
                   "\n"
                   "The store's customer base, offline.\n"
                   "\n"
                   "global options:\n"
                   "  -d, --dir DIR    store directory (default: $JIPAN_STORE_DIR or "
                   "./jipan-store-data)\n"
                   "  -u, --user NAME  author of changes (default: $JIPAN_USER, else the "
                   "login name)\n"
                   "  -h, --help       this text\n"
                   "\ncommands:\n"),
            CLI_PROG);
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        fprintf(out, "  %-8s %s\n", s_cmds[i].name, jp_tr(s_cmds[i].help));
    fprintf(out,
            _("\n`%s COMMAND --help` describes a command.\n"
              "\nexit codes (every command): 0 done; 1 refused: invalid input, no such\n"
              "record or file, a verification fault; 2 bad command line; 3 internal\n"
              "or I/O error, disk full, no answer from the server; 4 the store's file\n"
              "is damaged (restore it: deploy/README.md).\n"),
            CLI_PROG);
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
    case JP_EDAMAGED:
        return CLI_DAMAGED;
    default:
        return CLI_INTERNAL;
    }
}

#define S_RESTORE                                                                        \
    "restore the last backup (deploy/README.md, \"A damaged store file\"); "             \
    "`" CLI_PROG " verify --deep` tells what is still readable"

int
cli_fail_err(cli_t *c, int rc, const jp_err_t *err)
{
    const char *msg = err && err->msg[0] ? err->msg : jp_strerror(rc);
    if (rc == JP_EDAMAGED)
        return cli_fail(c, CLI_DAMAGED,
                        "%s: the store's file %s/" CLI_DATA_FILE
                        " is damaged; " S_RESTORE,
                        msg, c->dir);
    return cli_fail(c, cli_exit_for(rc), "%s", msg);
}

int
cli_fail_rc(cli_t *c, int rc, const char *what)
{
    if (rc == JP_EDAMAGED)
        return cli_fail(c, CLI_DAMAGED,
                        "%s%sthe store's file %s/" CLI_DATA_FILE
                        " is damaged; " S_RESTORE,
                        what ? what : "", what ? ": " : "", c->dir);
    if (what)
        return cli_fail(c, cli_exit_for(rc), "%s: %s", what, jp_strerror(rc));
    return cli_fail(c, cli_exit_for(rc), "%s", jp_strerror(rc));
}

/* ---- the crash guard ------------------------------------------------------
 *
 * The message is made before any signal can come: a handler may only
 * write(2) and _exit(2). */

static char s_crash_msg[4400];   /* the whole message, NUL-terminated */
static size_t s_crash_len;       /* its bytes */
static char s_altstack[1 << 16]; /* a stack for the handler (the fault may be
                                    a stack that ran out) */

static void
s_crash(int sig)
{
    static const char bus[] = " (SIGBUS)\n", segv[] = " (SIGSEGV)\n", lmdb[] = "\n";
    ssize_t w = write(STDERR_FILENO, s_crash_msg, s_crash_len);
    const char *tail = sig == SIGBUS ? bus : sig == SIGSEGV ? segv : lmdb;
    w = write(STDERR_FILENO, tail, strlen(tail));
    (void)w;
    _exit(CLI_DAMAGED);
}

static void
s_crash_lmdb(const char *msg)
{
    ssize_t w = write(STDERR_FILENO, "LMDB: ", 6);
    w = write(STDERR_FILENO, msg, strlen(msg));
    w = write(STDERR_FILENO, "\n", 1);
    (void)w;
    s_crash(0);
}

void
cli_guard(const cli_t *c)
{
    int n = snprintf(s_crash_msg, sizeof s_crash_msg,
                     CLI_PROG ": %s: stopped reading the store's file %s/" CLI_DATA_FILE
                              ": it is damaged (or its disk failed); nothing more was "
                              "written; " S_RESTORE,
                     c->cmd ? c->cmd : "error", c->dir);
    s_crash_len = n < 0                            ? 0
                  : (size_t)n < sizeof s_crash_msg ? (size_t)n
                                                   : sizeof s_crash_msg - 1;
    stack_t ss = {.ss_sp = s_altstack, .ss_size = sizeof s_altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_crash;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    jp_db_on_damage(s_crash_lmdb);
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
    if (access(key, F_OK) != 0 && errno == EACCES)
        return cli_fail(c, CLI_REFUSED,
                        "%s: permission denied: the store belongs to another user; run "
                        "the command as that user (e.g. `sudo -u jipan " CLI_PROG
                        " ...`)",
                        c->dir);
    if (access(key, F_OK) != 0)
        return cli_fail(c, CLI_REFUSED,
                        "%s is not an initialised store (run `" CLI_PROG " init`)",
                        c->dir);
    cli_guard(c);
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

    jp_i18n_init();
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

int
cli_author_check(cli_t *c)
{
    const char *a = cli_author(c), *why;
    size_t n = strlen(a);
    /* Where the name came from, for the message; never the name itself. */
    const char *from =
        getenv("JIPAN_USER") && c->user == getenv("JIPAN_USER") ? "$JIPAN_USER" : "-u";
    if (n > JP_MAX_AUTHOR)
        return cli_fail(c, CLI_REFUSED,
                        "%s: the user name is %zu bytes, at most %d (a Chinese character "
                        "takes 3); nothing written",
                        from, n, JP_MAX_AUTHOR);
    if (jp_text_check(a, n, false, &why))
        return cli_fail(c, CLI_REFUSED, "%s: the user name %s; nothing written", from,
                        why);
    return CLI_OK;
}
