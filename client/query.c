/*
 * query.c -- jipan-query: the group's and the regions' analysts, and
 * auditors, ask the server for figures with their own enrolled keys.
 *
 *   jipan-query keygen FILE
 *   jipan-query [--key FILE --server EP --server-key HEX] report [options]
 *   jipan-query [...] at-risk [--scope S] [--as-of D] [--format F]
 *                             [--offset N] [--limit N]
 *   jipan-query [...] series [--scope S] [--as-of D] [--months N] [--filter F]
 *   jipan-query [...] status
 *
 * The key, server and server key may also come from $JIPAN_QUERY_KEY,
 * $JIPAN_SERVER and $JIPAN_SERVER_KEY.  Exit codes: 0 answered, 1 refused
 * (forbidden scope, unknown key, bad argument), 2 usage, 3 no answer or
 * I/O.
 */
#include "ask.h"
#include "curve.h"
#include "store.h"

#include <csv.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Q_PROG "jipan-query"
#define Q_MAX_COLS 16 /* columns of a CSV table printed as text */

enum { Q_OK = 0, Q_REFUSED = 1, Q_USAGE = 2, Q_FAILED = 3 };

static void
s_usage(FILE *out)
{
    fputs(
        "usage: " Q_PROG " keygen FILE\n"
        "       " Q_PROG " [--key FILE] [--server EP] [--server-key HEX] report\n"
        "                  [--scope group|region:NAME|store:N] [--as-of DATE|INSTANT]\n"
        "                  [--filter EXPR] [--format text|json|csv] [--table "
        "figures|regional]\n"
        "       " Q_PROG " [--key FILE] [--server EP] [--server-key HEX] at-risk\n"
        "                  [--scope S] [--as-of DATE|INSTANT] [--format text|json|csv]\n"
        "                  [--offset N] [--limit N]\n"
        "       " Q_PROG " [--key FILE] [--server EP] [--server-key HEX] series\n"
        "                  [--scope S] [--as-of DATE|INSTANT] [--months N] [--filter "
        "EXPR]\n"
        "       " Q_PROG " [--key FILE] [--server EP] [--server-key HEX] status\n"
        "\n"
        "Ask the group server for loyalty figures with an analyst's or auditor's\n"
        "own key.  keygen makes the key pair (mode 0600) and prints the public key\n"
        "the operator enrols: `jipan-server enroll --role region:惠州 --curve HEX`.\n"
        "What a key may read follows its role: group and auditor everything, a\n"
        "region its region's stores, a store itself.  The figures and their JSON\n"
        "schema are docs/REPORTS.md; filters are its cohort grammar.  at-risk\n"
        "lists the owners at risk of leaving (the churn warning) of every store\n"
        "in scope, each with the store responsible, phones masked (--offset and\n"
        "--limit: a part of it; an answer holds at most 4 MiB).  series gives\n"
        "every figure at the end of each of the last N months (default 24, at most\n"
        "36; the last one as of --as-of), as JSON (docs/REPORTS.md).\n"
        "\n"
        "  --key FILE        the key pair ($JIPAN_QUERY_KEY)\n"
        "  --server EP       e.g. tcp://group.example.cn:7700 ($JIPAN_SERVER); the\n"
        "                    primary's and the standby's, separated by a comma, are\n"
        "                    tried in order\n"
        "  --server-key HEX  the server's Curve key, `jipan-server keys` "
        "($JIPAN_SERVER_KEY)\n"
        "  --scope S         default: the key's own (group, its region, its store)\n"
        "  --timeout SECONDS wait this long for each answer (default 15)\n",
        out);
}

static int
s_fail(int code, const char *what, const char *msg)
{
    fprintf(stderr, Q_PROG ": %s: %s\n", what, msg);
    return code;
}

static int
s_keygen(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        s_usage(argc == 2 ? stdout : stderr);
        return argc == 2 ? Q_OK : Q_USAGE;
    }
    jp_curve_t k;
    jp_err_t err;
    int rc = jp_curve_generate(&k, &err);
    if (!rc)
        rc = jp_curve_save(&k, argv[1], &err);
    if (rc)
        return s_fail(rc == JP_EEXIST ? Q_REFUSED : Q_FAILED, "keygen", err.msg);
    char hex[65];
    jp_curve_hex(k.pub, hex);
    memset(&k, 0, sizeof k);
    printf("%s\n", hex);
    return Q_OK;
}

/* ---- text output: the CSV figures as an aligned table ---------------------- */

typedef struct {
    cli_table_t *t;
    const char *cell[Q_MAX_COLS];
    char *buf[Q_MAX_COLS];
    int col;
    int rc;
} s_rows_t;

static void
s_on_field(void *p, size_t n, void *arg)
{
    s_rows_t *r = arg;
    if (r->col < Q_MAX_COLS) {
        char *c = malloc(n + 1);
        if (c) {
            memcpy(c, p, n);
            c[n] = '\0';
        }
        free(r->buf[r->col]);
        r->buf[r->col] = c;
        r->cell[r->col] = c;
    }
    r->col++;
}

static void
s_on_row(int ch, void *arg)
{
    (void)ch;
    s_rows_t *r = arg;
    if (!r->t) {
        r->t = cli_table_new(r->col < Q_MAX_COLS ? r->col : Q_MAX_COLS, r->cell);
        if (!r->t)
            r->rc = JP_ENOMEM;
    } else if (!r->rc) {
        r->rc = cli_table_add(r->t, r->cell, false);
    }
    r->col = 0;
}

static int
s_print_csv_table(const char *body, size_t n)
{
    struct csv_parser p;
    s_rows_t r = {0};
    if (csv_init(&p, CSV_APPEND_NULL) != 0)
        return JP_ENOMEM;
    if (csv_parse(&p, body, n, s_on_field, s_on_row, &r) != n)
        r.rc = JP_ECORRUPT;
    csv_fini(&p, s_on_field, s_on_row, &r);
    csv_free(&p);
    if (!r.rc && r.t)
        cli_table_print(r.t, stdout);
    cli_table_destroy(&r.t);
    for (int i = 0; i < Q_MAX_COLS; i++)
        free(r.buf[i]);
    return r.rc;
}

/* ---- report, at-risk, status
 * ------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"key", required_argument, NULL, 'k'},
                                       {"server", required_argument, NULL, 's'},
                                       {"server-key", required_argument, NULL, 'K'},
                                       {"scope", required_argument, NULL, 'S'},
                                       {"as-of", required_argument, NULL, 'a'},
                                       {"filter", required_argument, NULL, 'f'},
                                       {"format", required_argument, NULL, 'F'},
                                       {"table", required_argument, NULL, 't'},
                                       {"timeout", required_argument, NULL, 'T'},
                                       {"months", required_argument, NULL, 'm'},
                                       {"offset", required_argument, NULL, 'o'},
                                       {"limit", required_argument, NULL, 'l'},
                                       {0}};
    const char *keyfile = getenv("JIPAN_QUERY_KEY"), *server = getenv("JIPAN_SERVER"),
               *server_key = getenv("JIPAN_SERVER_KEY");
    const char *args[2 * 6];
    int nargs = 0;
    const char *format = "text", *table = "figures";
    int timeout_s = 15;
    if (argc >= 2 && !strcmp(argv[1], "keygen"))
        return s_keygen(argc - 1, argv + 1);
    int o;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (o) {
        case 'h':
            s_usage(stdout);
            return Q_OK;
        case 'k':
            keyfile = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'K':
            server_key = optarg;
            break;
        case 'S':
            args[2 * nargs] = "scope", args[2 * nargs++ + 1] = optarg;
            break;
        case 'a':
            args[2 * nargs] = "as_of", args[2 * nargs++ + 1] = optarg;
            break;
        case 'f':
            args[2 * nargs] = "filter", args[2 * nargs++ + 1] = optarg;
            break;
        case 'F':
            format = optarg;
            break;
        case 't':
            table = optarg;
            break;
        case 'm':
            args[2 * nargs] = "months", args[2 * nargs++ + 1] = optarg;
            break;
        case 'o':
            args[2 * nargs] = "offset", args[2 * nargs++ + 1] = optarg;
            break;
        case 'l':
            args[2 * nargs] = "limit", args[2 * nargs++ + 1] = optarg;
            break;
        case 'T':
            timeout_s = atoi(optarg);
            if (timeout_s < 1 || timeout_s > 3600)
                return s_fail(Q_USAGE, "usage", "--timeout needs 1..3600 seconds");
            break;
        default:
            s_usage(stderr);
            return Q_USAGE;
        }
        if (nargs > 4)
            return s_fail(Q_USAGE, "usage", "give each option once");
    }
    if (optind != argc - 1 ||
        (strcmp(argv[optind], "report") && strcmp(argv[optind], "at-risk") &&
         strcmp(argv[optind], "series") && strcmp(argv[optind], "status"))) {
        s_usage(stderr);
        return Q_USAGE;
    }
    const char *what = argv[optind];
    /* The command's words; the protocol's (PROTOCOL.md) are at_risk. */
    bool at_risk = !strcmp(what, "at-risk"), tabular = at_risk || !strcmp(what, "report");
    if (at_risk) {
        for (int i = 0; i < nargs; i++)
            if (!strcmp(args[2 * i], "filter"))
                return s_fail(Q_USAGE, what, "takes no --filter");
        if (strcmp(table, "figures"))
            return s_fail(Q_USAGE, what, "takes no --table: the list is one table");
    }
    for (int i = 0; i < nargs; i++) {
        if (!strcmp(args[2 * i], "months") && strcmp(what, "series"))
            return s_fail(Q_USAGE, what, "takes no --months (series does)");
        if ((!strcmp(args[2 * i], "offset") || !strcmp(args[2 * i], "limit")) && !at_risk)
            return s_fail(Q_USAGE, what, "takes no --offset or --limit (at-risk does)");
    }
    if (!strcmp(what, "series")) {
        if (strcmp(table, "figures"))
            return s_fail(Q_USAGE, what, "takes no --table");
        format = "json"; /* the series is JSON only */
    }
    if (strcmp(format, "text") && strcmp(format, "json") && strcmp(format, "csv"))
        return s_fail(Q_USAGE, what, "--format must be text, json or csv");
    uint8_t skey[32];
    jp_curve_t k;
    jp_err_t err;
    jp_ask_t a;
    int rc = jp_ask_setup(&a, keyfile, server, server_key, &k, skey, &err);
    if (rc)
        return s_fail(rc == JP_ENOTFOUND || rc == JP_EINVAL ? Q_USAGE : Q_FAILED, what,
                      err.msg);
    if (tabular) {
        args[2 * nargs] = "format";
        args[2 * nargs++ + 1] = strcmp(format, "json") ? "csv" : "json";
    }
    if (!strcmp(what, "report")) {
        args[2 * nargs] = "table";
        args[2 * nargs++ + 1] = table;
    }
    a.timeout_ms = timeout_s * 1000;
    char *body = NULL;
    size_t n;
    rc = jp_ask(&a, at_risk ? "at_risk" : what, args, nargs, &body, &n, &err);
    memset(&k, 0, sizeof k);
    if (rc)
        return s_fail(rc == JP_EPERM || rc == JP_EINVAL ? Q_REFUSED : Q_FAILED, what,
                      err.msg);
    if (tabular && !strcmp(format, "text"))
        rc = s_print_csv_table(body, n);
    else
        fwrite(body, 1, n, stdout);
    free(body);
    return rc ? s_fail(Q_FAILED, what, "the answer is not a table") : Q_OK;
}
