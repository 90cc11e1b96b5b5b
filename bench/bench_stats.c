/*
 * bench_stats.c -- jipan-bench-stats: how long the full group report takes
 * over a store or server environment, against a plain scan of the same
 * LMDB in the same run.
 *
 * Three figures, each over --rounds rounds (p50 and p99):
 *   scan     a cursor over every record state (the floor: reading the base)
 *   report   what a query costs today: load the base as of D, compute the
 *            group's figures (jp_base_load + jp_stats_compute)
 *   compute  the figures from a base already in memory (what a server
 *            keeping the loaded base between queries pays per query)
 *   at-risk  the group's churn warning list from that base (QUERY at_risk:
 *            every store's own list)
 */
#include "raw.h"
#include "stats.h"
#include "validate.h"

#include <lmdb.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Seconds to walk every record state with a raw LMDB cursor. */
static double
s_scan(const char *dir, size_t *records, size_t *bytes)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    double t0 = jp_bench_now();
    if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 32) ||
        mdb_env_open(env, dir, MDB_RDONLY, 0600) ||
        mdb_txn_begin(env, NULL, MDB_RDONLY, &t) || mdb_dbi_open(t, "rec", 0, &dbi) ||
        mdb_cursor_open(t, dbi, &cur)) {
        fprintf(stderr, "jipan-bench-stats: cannot open %s\n", dir);
        exit(3);
    }
    *records = *bytes = 0;
    unsigned sum = 0;
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        (*records)++;
        *bytes += v.mv_size;
        sum += ((const unsigned char *)v.mv_data)[v.mv_size - 1]; /* touch the value */
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(t);
    mdb_env_close(env);
    if (sum == 1u) /* keeps the loop from being optimised away */
        fputc(' ', stderr);
    return jp_bench_now() - t0;
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {{"db", required_argument, NULL, 'd'},
                                       {"rounds", required_argument, NULL, 'r'},
                                       {"as-of", required_argument, NULL, 'a'},
                                       {"help", no_argument, NULL, 'h'},
                                       {0}};
    const char *dir = NULL, *asof_text = "2026-10-31", *why;
    int rounds = 5, o;
    while ((o = getopt_long(argc, argv, "d:r:a:h", lo, NULL)) != -1) {
        if (o == 'd')
            dir = optarg;
        else if (o == 'r')
            rounds = atoi(optarg);
        else if (o == 'a')
            asof_text = optarg;
        else {
            fputs("usage: jipan-bench-stats --db DIR [--rounds N] [--as-of DATE]\n\n"
                  "Times the group report over the environment in DIR (a store's or the\n"
                  "server's) against a plain cursor scan of its records, same run.\n",
                  o == 'h' ? stdout : stderr);
            return o == 'h' ? 0 : 2;
        }
    }
    if (!dir || rounds < 1 || rounds > 1000) {
        fputs("jipan-bench-stats: --db DIR is required; --rounds 1..1000\n", stderr);
        return 2;
    }
    int64_t asof;
    if (jp_tz_set("Asia/Shanghai") ||
        jp_parse_asof(asof_text, strlen(asof_text), &asof, &why)) {
        fprintf(stderr, "jipan-bench-stats: --as-of: bad date\n");
        return 2;
    }
    jp_db_t *db;
    jp_err_t err;
    if (jp_db_open(&db, dir, 0, &err)) {
        fprintf(stderr, "jipan-bench-stats: %s\n", err.msg);
        return 3;
    }
    double *scan = calloc((size_t)rounds, sizeof *scan),
           *rep = calloc((size_t)rounds, sizeof *rep),
           *comp = calloc((size_t)rounds, sizeof *comp),
           *risk = calloc((size_t)rounds, sizeof *risk);
    jp_scope_t *all = calloc(1, sizeof *all);
    jp_scope_all(all);
    size_t records = 0, bytes = 0, people = 0, events = 0;
    for (int r = 0; r < rounds; r++) {
        scan[r] = s_scan(dir, &records, &bytes);
        jp_txn_t *txn;
        jp_base_t *base = NULL;
        jp_stats_t st;
        double t0 = jp_bench_now();
        if (jp_db_begin(db, false, &txn, &err) || jp_base_load(txn, asof, &base, &err)) {
            fprintf(stderr, "jipan-bench-stats: %s\n", err.msg);
            return 3;
        }
        double t1 = jp_bench_now();
        if (jp_stats_compute(base, all, NULL, &st))
            return 3;
        double t2 = jp_bench_now();
        jp_stats_free(&st);
        rep[r] = t2 - t0;
        /* compute alone, again, on the loaded base */
        double t3 = jp_bench_now();
        if (jp_stats_compute(base, all, NULL, &st))
            return 3;
        comp[r] = jp_bench_now() - t3;
        jp_stats_free(&st);
        jp_at_risk_list_t l;
        double t4 = jp_bench_now();
        if (jp_at_risk_compute(base, all, &l))
            return 3;
        risk[r] = jp_bench_now() - t4;
        jp_at_risk_free(&l);
        people = jp_base_people(base);
        events = jp_base_events(base);
        jp_base_destroy(&base);
        jp_txn_abort(&txn);
        printf(
            "round %d: scan %.3f s, load %.3f s + compute %.3f s, compute again %.3f s, "
            "at-risk list %.3f s\n",
            r + 1, scan[r], t1 - t0, t2 - t1, comp[r], risk[r]);
    }
    jp_bench_sort(scan, rounds);
    jp_bench_sort(rep, rounds);
    jp_bench_sort(comp, rounds);
    jp_bench_sort(risk, rounds);
    printf("base: %zu records (%zu MiB of states), %zu people, %zu sales and events\n",
           records, bytes >> 20, people, events);
    printf("plain scan          p50 %8.1f ms  p99 %8.1f ms\n",
           1e3 * jp_bench_pct(scan, rounds, 50), 1e3 * jp_bench_pct(scan, rounds, 99));
    printf("group report        p50 %8.1f ms  p99 %8.1f ms  (%.1fx the scan)\n",
           1e3 * jp_bench_pct(rep, rounds, 50), 1e3 * jp_bench_pct(rep, rounds, 99),
           jp_bench_pct(rep, rounds, 50) / jp_bench_pct(scan, rounds, 50));
    printf("compute, base held  p50 %8.1f ms  p99 %8.1f ms  (%.2fx the scan)\n",
           1e3 * jp_bench_pct(comp, rounds, 50), 1e3 * jp_bench_pct(comp, rounds, 99),
           jp_bench_pct(comp, rounds, 50) / jp_bench_pct(scan, rounds, 50));
    printf("at-risk, base held  p50 %8.1f ms  p99 %8.1f ms  (%.2fx the scan)\n",
           1e3 * jp_bench_pct(risk, rounds, 50), 1e3 * jp_bench_pct(risk, rounds, 99),
           jp_bench_pct(risk, rounds, 50) / jp_bench_pct(scan, rounds, 50));
    free(scan);
    free(risk);
    free(rep);
    free(comp);
    free(all);
    jp_db_close(&db);
    return 0;
}
