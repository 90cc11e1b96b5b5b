/*
 * import.h -- the three CSV files of import-format.md into a store.
 *
 * Two phases.  First every row of every file is parsed (libcsv) and
 * validated: required columns, enum words, phone, ID number checksum, VIN
 * check digit, dates and their order (nothing in the future, a birthday
 * before the customer's creation, a complaint's contact and resolution not
 * before the complaint; a delivery may precede the customer row, which old
 * DMS exports often create after the sale), and that
 * every referenced ext_id exists in the files or the store.  Every rejected
 * row is reported with file, line, column and reason, never its personal
 * data.  Then, if nothing was rejected (or the user accepts partial
 * imports), the good rows are written as changes, JP_IMPORT_TXN_ROWS (or
 * opts->txn_rows) per LMDB transaction: a killed import leaves a prefix of whole
 * transactions and running it again completes it.
 *
 * Rows carry their own external ids, so a second import of the same files
 * writes nothing; a row whose values changed writes one update of the
 * fields that differ.
 */
#ifndef JP_IMPORT_H
#define JP_IMPORT_H

#include "db.h"

#include <stdbool.h>
#include <stdio.h>

#define JP_IMPORT_TXN_ROWS 250000

typedef struct {
    const char *customers; /* path of customers.csv, or NULL */
    const char *vehicles;  /* path of vehicles.csv, or NULL */
    const char *events;    /* path of events.csv, or NULL */
    bool partial;          /* write the good rows even if some are rejected */
    bool ignore_unknown;   /* ignore unknown columns instead of refusing */
    bool dry_run;          /* validate only */
    const char *author;    /* who imports (goes into every change) */
    size_t txn_rows;       /* changes per transaction; 0: JP_IMPORT_TXN_ROWS */
    FILE *report;          /* rejected rows, one line each (NULL: none) */
} jp_import_opts_t;

typedef struct {
    size_t rows;      /* data rows read */
    size_t rejected;  /* rows refused */
    size_t created;   /* records created */
    size_t updated;   /* records updated (fields that differ) */
    size_t unchanged; /* rows already in the store as they are */
    size_t txns;      /* transactions committed */
    double read_s;    /* seconds reading and checking the files (phase 1) */
    double write_s;   /* seconds writing and committing (phase 2) */
} jp_import_stats_t;

/* Import; 0 when done, JP_EINVAL when rows were rejected and nothing was
 * written (or only the good rows, with opts->partial).  err names the
 * first problem and the count. */
int jp_import(jp_db_t *db, const jp_import_opts_t *opts, jp_import_stats_t *stats,
              jp_err_t *err);

#endif
