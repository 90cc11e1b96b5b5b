/*
 * db_int.h -- the few internals of db.c that repair.c needs: a check and
 * writes that bypass jp_txn_write's path.  Not part of the API; only
 * common/ includes it.
 */
#ifndef JP_DB_INT_H
#define JP_DB_INT_H

#include "codec.h"
#include "db.h"

#include <lmdb.h>

/* The JP_E* of a write that failed half-way in txn, or 0. */
int jp_txn_broken(const jp_txn_t *txn);

/* What jp_txn_write refuses of a change's author and text (JP_ETOOBIG,
 * JP_EINVAL), with the record and field named in err. */
int jp_txn_check_text(const jp_change_t *ch, jp_err_t *err);

/* Apply the decoded change ch (encoded p[0..n)) as a replay of a log
 * accepted before: no text rule, no clock bound; part: of a log held in
 * part (another store's, under a sharing rule), no chain check. */
int jp_txn_replay(jp_txn_t *txn, const uint8_t *p, size_t n, const jp_change_t *ch, bool part,
                  jp_err_t *err);

/* Overwrite store's log entry at seq with p[0..n), as it is (no checks,
 * no head move).  A failure breaks txn. */
int jp_txn_log_rewrite(jp_txn_t *txn, uint16_t store, uint64_t seq, const uint8_t *p,
                       size_t n, jp_err_t *err);

/* Set store's head hash to hash, its seq and hlc kept. */
int jp_txn_head_rehash(jp_txn_t *txn, uint16_t store, const uint8_t hash[JP_HASH_LEN]);

/* Delete store's pushed batches from seq from on.  A failure breaks txn. */
int jp_txn_batch_drop(jp_txn_t *txn, uint16_t store, uint64_t from, jp_err_t *err);

/* A cursor over rec (id 16 -> state) in txn; the caller closes it. */
int jp_txn_rec_cursor(jp_txn_t *txn, MDB_cursor **cur, jp_err_t *err);

/* An LMDB code as JP_E*, with what named in err. */
int jp_db_mdb_err(int rc, jp_err_t *err, const char *what);

#endif
