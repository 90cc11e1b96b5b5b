/*
 * repair.h -- verify --deep and the log repair: whole-log tools over a
 * db.h transaction, run by an operator (jipan-store verify --deep,
 * jipan-store repair).  Their code is in repair.c.
 */
#ifndef JP_REPAIR_H
#define JP_REPAIR_H

#include "db.h"

/* The way out for a log that holds a change no node can decode or would
 * accept because of its author (written before the author was checked:
 * longer than JP_MAX_AUTHOR bytes, or with control characters).  From the
 * first such change of store's log to its head, every change is rewritten
 * with its author cut to JP_MAX_AUTHOR bytes (control characters as '?')
 * and its prev hash re-chained; nothing else of a change changes, and no
 * record state does (a state holds no author).  The head moves to the new
 * hash and the store's pushed batches from there on are dropped (they were
 * signed over the old hashes).  Only for changes no server has
 * acknowledged: acked is the store's last acknowledged seq, and a fault at
 * or below it is JP_EPERM.  *from is the first seq rewritten, *count how
 * many; JP_ENOTFOUND when every change is good; a change whose other parts
 * are at fault is refused (JP_ECORRUPT or its decoding error) and the
 * caller aborts. */
int jp_txn_log_repair(jp_txn_t *txn, uint16_t store, uint64_t acked, uint64_t *from,
                      uint64_t *count, jp_err_t *err);

/* What verify --deep found. */
enum { JP_DEEP_DIFFERS = 1, JP_DEEP_MISSING = 2, JP_DEEP_EXTRA = 3 };
#define JP_DEEP_SHOW 20 /* faults kept with their record id */
typedef struct {
    uint64_t changes; /* changes replayed */
    uint64_t records; /* records in the environment */
    uint64_t nbad;    /* records at fault */
    struct {
        jp_id_t id;      /* the record */
        int what;        /* JP_DEEP_DIFFERS: its state is not its log's replay;
                            MISSING: the log writes it, it is not here;
                            EXTRA: it is here, no change of the log writes it */
    } bad[JP_DEEP_SHOW]; /* the first faults, by id */
} jp_deep_t;

/* Replay every log held here, in seq order, into a new environment in
 * the directory scratch (which must exist and be empty; the caller
 * removes it), then compare every record's state with the replay's, byte
 * for byte (the encoding is canonical).  Changes are taken as they were
 * accepted (no text rule or clock bound).  Returns 0 when the comparison
 * ran (out says what it found), or the code of what stopped it (a change
 * that does not decode: run jp_txn_verify_chain first). */
int jp_txn_verify_deep(jp_txn_t *txn, const char *scratch, jp_deep_t *out, jp_err_t *err);

#endif
