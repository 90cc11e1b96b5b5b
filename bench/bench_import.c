/*
 * bench_import.c -- jipan-bench-import: how fast a store imports, against
 * what LMDB itself can append on the same machine in the same run.
 *
 * Each round imports the three CSV files into a fresh store (parse,
 * validate, build the changes, hash the chain, write log, state and
 * indexes, commit), then appends the same number of records of the same
 * average size into a fresh LMDB database with MDB_APPEND, in transactions
 * of the same size: the floor under any design that stores those records.
 * The ratio of the two is the figure to watch; the machine is noisy, so
 * each figure is the median of the rounds.
 *
 * A second baseline appends as many entries as the import left in all
 * its databases (a change, a state and the index entries of each record),
 * of their average size: the floor under this store's layout, which
 * writes several entries a record.
 */
#include "import.h"
#include "raw.h"

#include <lmdb.h>

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double
s_median(double *v, int n)
{
    jp_bench_sort(v, n);
    return jp_bench_median(v, n);
}

static void
s_rmrf(const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "jipan-bench-import: could not remove %s\n", dir);
}

#define S_CHECK(expr)                                                                    \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_) {                                                                       \
            fprintf(stderr, "jipan-bench-import: %s: %s\n", #expr, mdb_strerror(rc_));   \
            exit(3);                                                                     \
        }                                                                                \
    } while (0)

/* What an import left in the store at dir: the records and the bytes of
 * their states, and every entry of every database (log, states, indexes,
 * heads) with the bytes of its key and value. */
typedef struct {
    size_t records, rec_bytes;
    size_t entries, entry_bytes;
} s_size_t;

static void
s_db_size(MDB_txn *t, const char *name, s_size_t *out)
{
    MDB_dbi dbi;
    MDB_cursor *cur;
    MDB_val k, v;
    S_CHECK(mdb_dbi_open(t, name, 0, &dbi));
    S_CHECK(mdb_cursor_open(t, dbi, &cur));
    bool rec = strcmp(name, "rec") == 0;
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
        out->entries++;
        out->entry_bytes += k.mv_size + v.mv_size;
        if (rec) {
            out->records++;
            out->rec_bytes += v.mv_size;
        }
    }
    mdb_cursor_close(cur);
}

static void
s_store_size(const char *dir, s_size_t *out)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi main;
    MDB_cursor *cur;
    MDB_val k, v;
    memset(out, 0, sizeof *out);
    S_CHECK(mdb_env_create(&env));
    S_CHECK(mdb_env_set_maxdbs(env, 64));
    S_CHECK(mdb_env_open(env, dir, MDB_RDONLY, 0600));
    S_CHECK(mdb_txn_begin(env, NULL, MDB_RDONLY, &t));
    S_CHECK(mdb_dbi_open(t, NULL, 0, &main));
    S_CHECK(mdb_cursor_open(t, main, &cur));
    for (int op = MDB_FIRST; mdb_cursor_get(cur, &k, &v, op) == 0; op = MDB_NEXT) {
        char name[64];
        if (k.mv_size >= sizeof name)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = '\0';
        s_db_size(t, name, out);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(t);
    mdb_env_close(env);
}

static void
s_usage(FILE *f)
{
    fputs("usage: jipan-bench-import --data DIR [--rounds N]\n"
          "\n"
          "Imports DIR/customers.csv, vehicles.csv and events.csv into a fresh store\n"
          "N times (default 3), and appends as many records of the same average size\n"
          "into raw LMDB in the same run; prints the median of each and their ratio.\n",
          f);
}

int
main(int argc, char **argv)
{
    const char *data = NULL;
    int rounds = 3;
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"rounds", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (!data || rounds < 1 || rounds > 99) {
        s_usage(stderr);
        return 2;
    }
    char cust[4200], veh[4200], ev[4200];
    snprintf(cust, sizeof cust, "%s/customers.csv", data);
    snprintf(veh, sizeof veh, "%s/vehicles.csv", data);
    snprintf(ev, sizeof ev, "%s/events.csv", data);

    double imp[99], raw[99], rawent[99];
    s_size_t sz = {0};
    jp_import_stats_t st = {0};
    for (int r = 0; r < rounds; r++) {
        char dir[] = "/tmp/jipan-bench-XXXXXX";
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 3;
        }
        char store[64], rawdir[64], entdir[64];
        snprintf(store, sizeof store, "%s/store", dir);
        snprintf(rawdir, sizeof rawdir, "%s/raw", dir);
        snprintf(entdir, sizeof entdir, "%s/entries", dir);
        if (mkdir(store, 0700) || mkdir(rawdir, 0700) || mkdir(entdir, 0700)) {
            perror("mkdir");
            return 3;
        }
        jp_err_t err = {0};
        jp_db_t *db = NULL;
        jp_txn_t *txn = NULL;
        jp_node_t node = {.store = 1,
                          .code = "BENCH",
                          .name = "bench",
                          .region = "r",
                          .group = "g",
                          .tz = "Asia/Shanghai"};
        if (jp_db_open(&db, store, 0, &err) || jp_db_begin(db, true, &txn, &err) ||
            jp_txn_node_set(txn, &node) || jp_txn_commit(&txn, &err)) {
            fprintf(stderr, "jipan-bench-import: store: %s\n", err.msg);
            return 3;
        }
        jp_import_opts_t o = {.customers = cust,
                              .vehicles = veh,
                              .events = ev,
                              .author = "bench",
                              .report = stderr};
        memset(&st, 0, sizeof st);
        double t0 = jp_bench_now();
        int rc = jp_import(db, &o, &st, &err);
        imp[r] = jp_bench_now() - t0;
        jp_db_close(&db);
        if (rc) {
            fprintf(stderr, "jipan-bench-import: import: %s\n", err.msg);
            return 1;
        }
        s_store_size(store, &sz);
        raw[r] = jp_bench_raw_append(rawdir, sz.records, sz.rec_bytes / sz.records,
                                     JP_IMPORT_TXN_ROWS);
        size_t each = sz.entry_bytes / sz.entries; /* the raw keys are 16 bytes */
        rawent[r] = jp_bench_raw_append(entdir, sz.entries, each > 16 ? each - 16 : 0,
                                        JP_IMPORT_TXN_ROWS);
        printf("round %d: import %.3f s (read and check %.3f s, write %.3f s), "
               "raw append %.3f s, of as many entries %.3f s\n",
               r + 1, imp[r], st.read_s, st.write_s, raw[r], rawent[r]);
        fflush(stdout);
        s_rmrf(dir);
    }
    double ti = s_median(imp, rounds), tr = s_median(raw, rounds),
           te = s_median(rawent, rounds);
    printf("records          %zu (rows %zu: created %zu), %zu bytes per record state\n",
           sz.records, st.rows, st.created, sz.rec_bytes / sz.records);
    printf("LMDB entries     %zu (%.2f a record: change, state, index entries), "
           "%zu bytes each with the key\n",
           sz.entries, (double)sz.entries / (double)sz.records,
           sz.entry_bytes / sz.entries);
    printf("import           %.3f s  %10.0f records/s  (median of %d)\n", ti,
           (double)sz.records / ti, rounds);
    printf("raw LMDB append  %.3f s  %10.0f records/s  (median of %d)\n", tr,
           (double)sz.records / tr, rounds);
    printf("  of as many entries as the import wrote  %.3f s  (median of %d)\n", te,
           rounds);
    printf("import / raw     %.1f%%  (against as many entries: %.1f%%)\n",
           100.0 * tr / ti, 100.0 * te / ti);
    return 0;
}
