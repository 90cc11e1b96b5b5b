/*
 * bench_raw.c -- jipan-bench-raw: the raw LMDB append baseline on its own,
 * for benchmarks driven by scripts (bench/sync.sh): as many records of the
 * same average size as the measured run wrote, appended in the same run.
 */
#include "raw.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
main(int argc, char **argv)
{
    bool scattered = argc == 6 && strcmp(argv[5], "scattered") == 0;
    if ((argc != 5 && !scattered) || strcmp(argv[1], "--help") == 0) {
        fputs("usage: jipan-bench-raw DIR RECORDS SIZE PER_TXN [scattered]\n"
              "\n"
              "Append RECORDS records of SIZE bytes (sequential 16-byte keys,\n"
              "MDB_APPEND) into a fresh LMDB environment in DIR (created), PER_TXN a\n"
              "transaction; print the seconds and the records/s.  With `scattered`,\n"
              "put the same keys in an order that jumps across the key range,\n"
              "without MDB_APPEND: the cost of inserting at random places.\n",
              argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    long long n = atoll(argv[2]), size = atoll(argv[3]), per = atoll(argv[4]);
    if (n <= 0 || size <= 0 || per <= 0 || (mkdir(argv[1], 0700) != 0)) {
        fprintf(stderr, "jipan-bench-raw: bad arguments or %s exists\n", argv[1]);
        return 2;
    }
    double secs = (scattered ? jp_bench_raw_scattered : jp_bench_raw_append)(
        argv[1], (size_t)n, (size_t)size, (size_t)per);
    printf("raw %s %lld records of %lld bytes: %.3f s, %.0f records/s\n",
           scattered ? "scattered put" : "append", n, size, secs, (double)n / secs);
    return 0;
}
