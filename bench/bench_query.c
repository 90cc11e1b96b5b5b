/*
 * bench_query.c -- jipan-bench-query: how long a group analyst waits for
 * a report from a running server, typically while stores push to it.
 *
 * It asks the same question over and over, two ways in turn:
 *   session   one CurveZMQ session kept open, a QUERY and its ANSWER each
 *             (an analyst's tool that stays connected)
 *   one-shot  a new session each time: connect, CURVE handshake, HELLO,
 *             QUERY, ANSWER, BYE (what one `jipan-query` run does, without
 *             starting a process)
 * and prints p50, p99 and the maximum of each, in milliseconds.  It asks
 * until every --while process has exited (at least --min times), or
 * --count times when no --while is given.
 */
#include "ask.h"
#include "raw.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_MAX_WAIT 16  /* --while processes */
#define S_MAX_N 100000 /* questions of each kind, at most */

static void
s_print(const char *what, double *v, int n)
{
    if (n == 0) {
        printf("%-9s no answers\n", what);
        return;
    }
    jp_bench_sort(v, n);
    printf("%-9s %5d answers  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms\n", what, n,
           jp_bench_pct(v, n, 50), jp_bench_pct(v, n, 99), v[n - 1]);
}

static bool
s_any_alive(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        if (kill(pids[i], 0) == 0)
            return true;
    return false;
}

static void
s_usage(FILE *f)
{
    fputs("usage: jipan-bench-query --key FILE --server ENDPOINT --server-key HEX\n"
          "                         [--scope SCOPE] [--count N | --while PID... [--min "
          "N]]\n"
          "                         [--interval-ms MS]\n"
          "Asks the server for a report as of now, over one kept session and over a\n"
          "new session each time, and prints p50, p99 and max of the wait of each.\n"
          "  --scope SCOPE     group (default), region:NAME or store:N\n"
          "  --count N         ask N times each way (default 100)\n"
          "  --while PID       ask until this process has exited (repeatable)\n"
          "  --min N           with --while: at least N times each way (default 10)\n"
          "  --interval-ms MS  pause between two questions (default 20)\n",
          f);
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
                                         {"server", required_argument, NULL, 's'},
                                         {"server-key", required_argument, NULL, 'z'},
                                         {"scope", required_argument, NULL, 'c'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"while", required_argument, NULL, 'w'},
                                         {"min", required_argument, NULL, 'm'},
                                         {"interval-ms", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *keyfile = NULL, *server = NULL, *server_key = NULL, *scope = "group";
    int count = 100, min = 10, interval = 20, nwait = 0, c;
    pid_t wait_for[S_MAX_WAIT];
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keyfile = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'z':
            server_key = optarg;
            break;
        case 'c':
            scope = optarg;
            break;
        case 'n':
            count = atoi(optarg);
            break;
        case 'm':
            min = atoi(optarg);
            break;
        case 'i':
            interval = atoi(optarg);
            break;
        case 'w':
            if (nwait == S_MAX_WAIT || atoi(optarg) <= 0) {
                fprintf(stderr, "jipan-bench-query: --while: at most %d process ids\n",
                        S_MAX_WAIT);
                return 2;
            }
            wait_for[nwait++] = (pid_t)atoi(optarg);
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    uint8_t skey[32];
    if (!keyfile || !server || !server_key || optind != argc || count < 1 ||
        count > S_MAX_N || min < 1 || min > S_MAX_N || interval < 0) {
        s_usage(stderr);
        return 2;
    }
    if (!jp_curve_parse(server_key, skey)) {
        fprintf(stderr, "jipan-bench-query: --server-key: not a Curve key\n");
        return 2;
    }
    jp_curve_t key;
    jp_err_t err;
    if (jp_curve_load(&key, keyfile, &err)) {
        fprintf(stderr, "jipan-bench-query: %s\n", err.msg);
        return 1;
    }
    jp_ask_t a = {
        .endpoint = server, .server_key = skey, .key = &key, .timeout_ms = 60000};
    const char *args[] = {"scope", scope, "format", "json"};
    jp_asker_t *session;
    if (jp_ask_open(&a, &session, &err)) {
        fprintf(stderr, "jipan-bench-query: %s\n", err.msg);
        return 1;
    }
    double *kept = malloc(S_MAX_N * sizeof *kept),
           *fresh = malloc(S_MAX_N * sizeof *fresh);
    int n = 0, rc = 0;
    while (kept && fresh && n < S_MAX_N &&
           (nwait ? n < min || s_any_alive(wait_for, nwait) : n < count)) {
        char *body;
        size_t len;
        double t0 = jp_bench_now();
        if ((rc = jp_ask_query(session, "report", args, 2, &body, &len, &err)))
            break;
        free(body);
        double t1 = jp_bench_now();
        if ((rc = jp_ask(&a, "report", args, 2, &body, &len, &err)))
            break;
        free(body);
        kept[n] = (t1 - t0) * 1e3;
        fresh[n++] = (jp_bench_now() - t1) * 1e3;
        nanosleep(&(struct timespec){interval / 1000, (long)(interval % 1000) * 1000000},
                  NULL);
    }
    jp_ask_close(&session);
    memset(&key, 0, sizeof key);
    if (rc)
        fprintf(stderr, "jipan-bench-query: after %d answers: %s\n", n, err.msg);
    else if (kept && fresh) {
        s_print("session", kept, n);
        s_print("one-shot", fresh, n);
    }
    free(kept);
    free(fresh);
    return rc || !kept || !fresh ? 1 : 0;
}
