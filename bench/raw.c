/*
 * raw.c -- the baseline every write benchmark compares against: LMDB
 * appending records with nothing else to do.
 */
#include "raw.h"

#include <lmdb.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_CHECK(expr)                                                                    \
    do {                                                                                 \
        int rc_ = (expr);                                                                \
        if (rc_) {                                                                       \
            fprintf(stderr, "%s: %s\n", #expr, mdb_strerror(rc_));                       \
            exit(3);                                                                     \
        }                                                                                \
    } while (0)

double
jp_bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void
jp_bench_sort(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, s_cmp);
}

double
jp_bench_pct(const double *v, int n, int p)
{
    int k = (p * n + 99) / 100;
    return v[k < 1 ? 0 : k - 1];
}

double
jp_bench_median(const double *v, int n)
{
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Put n records of size bytes with 16-byte keys, per transactions of
 * per_txn; in key order with MDB_APPEND, or scattered: the same keys in an
 * order that jumps across the whole key range, each put finding its place
 * (what an index of random values sees).  Seconds taken, commits included. */
static double
s_raw_put(const char *dir, size_t n, size_t size, size_t per_txn, bool scattered)
{
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    uint8_t key[16] = {0};
    uint8_t *val = malloc(size ? size : 1);
    if (!val)
        exit(3);
    memset(val, 0xa5, size);
    S_CHECK(mdb_env_create(&env));
    S_CHECK(mdb_env_set_maxdbs(env, 4));
    S_CHECK(mdb_env_set_mapsize(env, (size_t)64 << 30));
    S_CHECK(mdb_env_open(env, dir, 0, 0600));
    double t0 = jp_bench_now();
    for (size_t i = 0; i < n;) {
        S_CHECK(mdb_txn_begin(env, NULL, 0, &t));
        S_CHECK(mdb_dbi_open(t, "raw", MDB_CREATE, &dbi));
        for (size_t j = 0; j < per_txn && i < n; j++, i++) {
            /* i times an odd constant is a permutation of the 64-bit keys */
            uint64_t k = scattered ? (uint64_t)i * 0x9e3779b97f4a7c15ull : (uint64_t)i;
            for (int b = 15; b >= 8; b--) /* big-endian, in the low half */
                key[b] = (uint8_t)(k >> (8 * (15 - b)));
            MDB_val kv = {sizeof key, key}, v = {size, val};
            S_CHECK(mdb_put(t, dbi, &kv, &v, scattered ? 0 : MDB_APPEND));
        }
        S_CHECK(mdb_txn_commit(t));
    }
    double secs = jp_bench_now() - t0;
    mdb_env_close(env);
    free(val);
    return secs;
}

double
jp_bench_raw_append(const char *dir, size_t n, size_t size, size_t per_txn)
{
    return s_raw_put(dir, n, size, per_txn, false);
}

double
jp_bench_raw_scattered(const char *dir, size_t n, size_t size, size_t per_txn)
{
    return s_raw_put(dir, n, size, per_txn, true);
}
