/*
 * main.c -- jipan-web, the group's dashboard for regional analysts and
 * auditors: holds an enrolled analyst key, asks the group server over
 * CURVE, serves the figures to browsers on 127.0.0.1 (dash.h).
 *
 *   jipan-web [--key FILE --server EP --server-key HEX] --users FILE
 *             [--listen ADDR] [--port N] [--chart-js FILE] [--timeout S]
 *   jipan-web user add|passwd|remove NAME [--role ROLE] --users FILE
 *
 * The key, server and server key may come from $JIPAN_QUERY_KEY,
 * $JIPAN_SERVER and $JIPAN_SERVER_KEY as for jipan-query, the users file
 * from $JIPAN_WEB_USERS.  Exit codes: 0 done, 1 refused, 2 usage, 3 no
 * answer or I/O.
 */
#include "dash.h"

#include "curve.h"
#include "i18n.h"
#include "validate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define W_PROG "jipan-web"
#define W_DEFAULT_PORT 8480
#define W_CHART_JS "/usr/share/javascript/chart.js/chart.min.js"
#define W_CHART_MAX (4 << 20) /* bytes of Chart.js read */

enum { W_DONE = 0, W_REFUSED = 1, W_USAGE = 2, W_FAILED = 3 };

static void
s_usage(FILE *out)
{
    fputs("usage: " W_PROG " [--key FILE] [--server EP] [--server-key HEX] --users FILE\n"
          "                 [--listen ADDR] [--port N] [--chart-js FILE] [--timeout S]\n"
          "       " W_PROG " user add NAME [--role ROLE] --users FILE\n"
          "       " W_PROG " user passwd NAME --users FILE\n"
          "       " W_PROG " user remove NAME --users FILE\n"
          "\n"
          "The group's dashboard: serve the server's loyalty figures to browsers\n"
          "(简体中文, English on the page's switch): the group, each region and each\n"
          "store with drill-down, every figure with numerator, denominator and rate,\n"
          "the regional table, 24 months of trends, the churn warning list, the\n"
          "cohort filter, downloads as Excel and CSV.  It asks the server with one\n"
          "analyst's or auditor's key (`jipan-query keygen`, enrolled with\n"
          "`jipan-server enroll --role ...`): what the pages show is what the server\n"
          "lets that key read.  People sign in with a name and password from the\n"
          "users file (Argon2id hashes; `" W_PROG " user add`).  Runs until SIGINT\n"
          "or SIGTERM.\n"
          "\n"
          "  --key FILE        the analyst's key pair ($JIPAN_QUERY_KEY)\n"
          "  --server EP       the group server, tcp://HOST:PORT ($JIPAN_SERVER); the\n"
          "                    primary's and the standby's, separated by a comma,\n"
          "                    are tried in order\n"
          "  --server-key HEX  the server's Curve key ($JIPAN_SERVER_KEY)\n"
          "  --users FILE      who may sign in ($JIPAN_WEB_USERS)\n"
          "  --listen ADDR     IPv4 address to bind (default 127.0.0.1: this machine "
          "only)\n"
          "  --port N          TCP port (default 8480; 0: any free port, printed)\n"
          "  --chart-js FILE   Chart.js (default " W_CHART_JS ",\n"
          "                    Debian's libjs-chart.js; the pages' charts need it)\n"
          "  --timeout S       wait this long for each answer of the server (default "
          "60)\n"
          "  --role ROLE       a user's role, shown on the pages (default analyst)\n",
          out);
}

static int
s_fail(int code, const char *what, const char *msg)
{
    fprintf(stderr, W_PROG ": %s: %s\n", what, msg);
    return code;
}

static int
s_user(int argc, char **argv, const char *users, const char *role)
{
    char pass[JP_WEB_PASS_MAX + 2];
    jp_err_t err;
    int rc;
    if (argc != 2)
        return s_fail(W_USAGE, "user", "give add, passwd or remove, and a user name");
    const char *verb = argv[0], *name = argv[1];
    if (strcmp(verb, "add") && strcmp(verb, "passwd") && strcmp(verb, "remove"))
        return s_fail(W_USAGE, "user", "add, passwd or remove");
    if (!users)
        return s_fail(W_USAGE, "user", "needs --users FILE (or $JIPAN_WEB_USERS)");
    jp_err_clear(&err);
    if (!strcmp(verb, "remove")) {
        rc = jp_web_user_remove(users, name, &err);
    } else {
        if (jp_web_read_password(pass, sizeof pass, &err))
            return s_fail(W_REFUSED, "user", err.msg);
        rc = !strcmp(verb, "add") ? jp_web_user_add(users, name, role, pass, &err)
                                  : jp_web_user_passwd(users, name, pass, &err);
        explicit_bzero(pass, sizeof pass);
    }
    if (rc)
        return s_fail(rc == JP_EIO ? W_FAILED : W_REFUSED, "user", err.msg);
    printf("%s: %s %s\n", users, verb, name);
    return W_DONE;
}

/* Chart.js's bytes (caller frees), NULL when the file cannot be read. */
static char *
s_read_chart(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = malloc(W_CHART_MAX + 1);
    size_t n = p ? fread(p, 1, W_CHART_MAX, f) : 0;
    bool whole = p && feof(f) && !ferror(f);
    fclose(f);
    if (!whole || n == 0 || memchr(p, '\0', n)) {
        free(p);
        return NULL;
    }
    p[n] = '\0';
    return p;
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"key", required_argument, NULL, 'k'},
                                       {"server", required_argument, NULL, 's'},
                                       {"server-key", required_argument, NULL, 'K'},
                                       {"users", required_argument, NULL, 'U'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"chart-js", required_argument, NULL, 'c'},
                                       {"timeout", required_argument, NULL, 'T'},
                                       {"role", required_argument, NULL, 'r'},
                                       {0}};
    const char *keyfile = getenv("JIPAN_QUERY_KEY"), *server = getenv("JIPAN_SERVER"),
               *server_key = getenv("JIPAN_SERVER_KEY"),
               *users = getenv("JIPAN_WEB_USERS");
    const char *listen = "127.0.0.1", *chart = W_CHART_JS, *role = "analyst", *why;
    int64_t port = W_DEFAULT_PORT, timeout_s = 60;
    int o;
    jp_i18n_init();
    if (argc >= 2 && !strcmp(argv[1], "user")) {
        /* user VERB NAME, options anywhere (getopt moves the words last) */
        while ((o = getopt_long(argc - 1, argv + 1, "h", lo, NULL)) != -1) {
            if (o == 'U')
                users = optarg;
            else if (o == 'r')
                role = optarg;
            else if (o == 'h')
                return s_usage(stdout), W_DONE;
            else
                return s_fail(W_USAGE, "user", "takes --users and --role only");
        }
        return s_user(argc - 1 - optind, argv + 1 + optind, users, role);
    }
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (o) {
        case 'h':
            s_usage(stdout);
            return W_DONE;
        case 'k':
            keyfile = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'K':
            server_key = optarg;
            break;
        case 'U':
            users = optarg;
            break;
        case 'l':
            listen = optarg;
            break;
        case 'c':
            chart = optarg;
            break;
        case 'r':
            role = optarg;
            break;
        case 'p':
            if (jp_parse_int(optarg, strlen(optarg), 0, 65535, &port, &why))
                return s_fail(W_USAGE, "--port", why);
            break;
        case 'T':
            if (jp_parse_int(optarg, strlen(optarg), 1, 3600, &timeout_s, &why))
                return s_fail(W_USAGE, "--timeout", why);
            break;
        default:
            s_usage(stderr);
            return W_USAGE;
        }
    }
    if (optind != argc)
        return s_fail(W_USAGE, "usage", "unexpected argument (see --help)");
    if (!users)
        return s_fail(W_USAGE, "usage", "needs --users FILE (or $JIPAN_WEB_USERS)");
    if (access(users, R_OK) != 0)
        return s_fail(W_REFUSED, users,
                      "no users file (add a user with `" W_PROG " user add NAME --users "
                      "FILE`)");
    uint8_t skey[32];
    jp_curve_t k;
    jp_err_t err;
    jp_err_clear(&err);
    dash_conf_t conf = {0};
    int rc = jp_ask_setup(&conf.ask, keyfile, server, server_key, &k, skey, &err);
    if (rc)
        return s_fail(rc == JP_ENOTFOUND || rc == JP_EINVAL ? W_USAGE : W_FAILED, "usage",
                      err.msg);
    conf.ask.timeout_ms = (int)timeout_s * 1000;
    char *chart_js = s_read_chart(chart);
    conf.chart_js = chart_js;
    if (!chart_js)
        fprintf(stderr,
                W_PROG ": %s: cannot be read: the pages show no charts (apt-get install "
                       "libjs-chart.js)\n",
                chart);
    /* Before any thread starts (ZeroMQ's, the web server's). */
    jp_web_signals_block();
    dash_t *d = NULL;
    jp_web_t *web = NULL;
    if ((rc = dash_new(&conf, &d, &err))) {
        free(chart_js);
        explicit_bzero(&k, sizeof k);
        return s_fail(rc == JP_EPERM ? W_REFUSED : W_FAILED, server, err.msg);
    }
    jp_web_conf_t wc = {.listen = listen,
                        .port = (uint16_t)port,
                        .users_path = users,
                        .title = "jipan 集团驾驶舱",
                        .page = dash_page,
                        .app = d,
                        .statics = dash_statics(d)};
    if ((rc = jp_web_start(&wc, &web, &err))) {
        dash_destroy(&d);
        free(chart_js);
        explicit_bzero(&k, sizeof k);
        return s_fail(W_FAILED, "web", err.msg);
    }
    printf("serving the dashboard of %s on http://%s:%u/\n", dash_own_scope(d), listen,
           jp_web_port(web));
    fflush(stdout);
    if (!jp_i18n_zh_ok())
        fprintf(stderr,
                W_PROG ": no zh_CN.UTF-8 locale on this machine: the figures' words "
                       "stay in English (deploy/README.md, \"Chinese\")\n");
    jp_web_signals_wait();
    jp_web_stop(&web);
    dash_destroy(&d);
    free(chart_js);
    explicit_bzero(&k, sizeof k);
    return W_DONE;
}
