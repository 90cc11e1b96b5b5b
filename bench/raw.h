/*
 * raw.h -- the raw LMDB append baseline the benchmarks report ratios to,
 * and the clock and percentiles they share.
 */
#ifndef JP_BENCH_RAW_H
#define JP_BENCH_RAW_H

#include <stddef.h>

/* Monotonic seconds. */
double jp_bench_now(void);

/* Sort v[0..n) ascending; then the p-th percentile (0..100, nearest rank)
 * or the median of what is sorted. */
void jp_bench_sort(double *v, int n);
double jp_bench_pct(const double *sorted, int n, int p);
double jp_bench_median(const double *sorted, int n);

/* Append n records of size bytes with sequential 16-byte keys and
 * MDB_APPEND into a fresh environment in dir (which must exist), per_txn
 * records a transaction; the seconds taken, commits included. */
double jp_bench_raw_append(const char *dir, size_t n, size_t size, size_t per_txn);

/* The same keys put in a scattered order, without MDB_APPEND: what
 * inserting index entries of random values costs. */
double jp_bench_raw_scattered(const char *dir, size_t n, size_t size, size_t per_txn);

#endif
