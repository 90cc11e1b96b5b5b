/*
 * ahead.h -- the counter's figures computed ahead: the store's loyalty
 * report and today's work list, kept current by a thread of their own so
 * that the pages that show them answer at once.
 *
 * Computing either means loading the store's whole base (seconds at a
 * million records), which a page cannot wait for on every view.  The
 * thread loads the base once and computes both from it, and does it
 * again whenever the store's file moved (the LMDB transaction number of
 * a read: any commit, by any process -- the sync daemon's pulls
 * included), when poked after the pages' own writes, and at least every
 * CLI_AHEAD_MAX_AGE_MS, because "today" and "past 1 hour" move with the
 * clock.
 *
 * A page takes the current snapshot with cli_ahead_take(): one computed
 * from the base as it is now, waiting (up to a bound) for the
 * computation in flight when the base has just moved, so that a call
 * marked done is gone from the list the next page shows.  Snapshots are
 * reference-counted: a page reads one while the thread makes the next.
 * A snapshot keeps the base it was computed from (the work list's lines
 * point into it), so two bases may be in memory for a moment.
 */
#ifndef CLI_AHEAD_H
#define CLI_AHEAD_H

#include "db.h"
#include "err.h"
#include "stats.h"

#include <stdint.h>

#define CLI_AHEAD_MAX_AGE_MS 60000 /* a snapshot is remade at least this often */
#define CLI_AHEAD_WAIT_MS 30000    /* the longest a page waits for one */

typedef struct cli_ahead cli_ahead_t;

/* One computation: the base of txn number `txn` at `asof`. */
typedef struct {
    uint64_t txn;       /* LMDB transaction number it was computed from */
    int64_t asof;       /* D, unix ms */
    int64_t took_ms;    /* how long the load and the two computations took */
    jp_stats_t stats;   /* the store's loyalty report */
    jp_worklist_t work; /* today's work list */
} cli_ahead_snap_t;

/* Start the thread over db for the store's own scope; the first snapshot
 * is computed in the background.  Caller owns *self_p. */
int cli_ahead_start(cli_ahead_t **self_p, jp_db_t *db, uint16_t store, jp_err_t *err);
/* Stop the thread and free every snapshot (none may still be taken). */
void cli_ahead_stop(cli_ahead_t **self_p);

/* The base was just written: compute again now. */
void cli_ahead_poke(cli_ahead_t *self);

/* The snapshot of the base as it is, into *snap (borrowed until
 * cli_ahead_give).  JP_EIO with why when the computation failed, or none
 * came in CLI_AHEAD_WAIT_MS. */
int cli_ahead_take(cli_ahead_t *self, const cli_ahead_snap_t **snap, jp_err_t *err);
void cli_ahead_give(cli_ahead_t *self, const cli_ahead_snap_t **snap);

#endif
