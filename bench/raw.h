/*
 * raw.h -- the raw LMDB append baseline the benchmarks report ratios to.
 */
#ifndef JP_BENCH_RAW_H
#define JP_BENCH_RAW_H

#include <stddef.h>

/* Monotonic seconds. */
double jp_bench_now(void);

/* Append n records of size bytes with sequential 16-byte keys and
 * MDB_APPEND into a fresh environment in dir (which must exist), per_txn
 * records a transaction; the seconds taken, commits included. */
double jp_bench_raw_append(const char *dir, size_t n, size_t size, size_t per_txn);

#endif
