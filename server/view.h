/*
 * view.h -- what each store may see, at the server: snapshots of the
 * sharing rules (common/share.h) kept current for the PULL streams.
 *
 * The viewer thread loads a jp_share_t snapshot of the group base when a
 * stream waits for one newer than the last (at most every S_VIEW_GAP_MS,
 * at nice 10 like the refresher), as of one group log position, with the enrolled stores
 * and their regions read in the same transaction.  The main thread takes the newest one
 * for a store's PULL and keeps it (a reference) for the whole stream and the VIEW and
 * FETCH that follow it, so that every answer of one pull is judged by one snapshot: a
 * stream ends at the snapshot's position, and what comes after waits for the next pull
 * (PROTOCOL.md, PULL).
 *
 * A store's view as the protocol tells it (CHANGES view_count and
 * view_hash, VIEWIDS) is the ids of the view that are not the store's
 * own, in id order: the store compares it with the other stores' records
 * it holds.  It is computed once per snapshot and store, on first use.
 *
 * Threads: srv_view_take and srv_snap_give from any thread (a mutex);
 * everything else on a snapshot from one thread at a time (the main one).
 */
#ifndef SRV_VIEW_H
#define SRV_VIEW_H

#include "db.h"
#include "err.h"
#include "share.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct srv_view srv_view_t;
typedef struct srv_snap srv_snap_t;

/* jp_share_load() of txn's base with the stores enrolled in it. */
int srv_share_load(jp_txn_t *txn, const jp_share_conf_t *conf, jp_share_t **out,
                   jp_err_t *err);

/* Load the first snapshot (now, on the caller's thread) and start the
 * viewer.  conf is borrowed for the viewer's life. */
int srv_view_start(srv_view_t **self_p, jp_db_t *db, const jp_share_conf_t *conf,
                   jp_err_t *err);
void srv_view_stop(srv_view_t **self_p); /* NULL-safe; waits for the viewer */
/* The merger: the group log grew to pos. */
void srv_view_merged(srv_view_t *self, uint64_t pos);
/* The main thread: a stream waits for a view of the log up to pos (the
 * viewer loads one when the merges have reached it; never for merges
 * alone, so that a merge with nobody pulling costs no snapshot). */
void srv_view_want(srv_view_t *self, uint64_t pos);
/* The newest snapshot, with a reference the caller gives back. */
srv_snap_t *srv_view_take(srv_view_t *self);
void srv_snap_give(srv_snap_t **snap_p); /* NULL-safe, nulls *snap_p */

/* The group log position the snapshot is of. */
uint64_t srv_snap_pos(const srv_snap_t *snap);
/* The rule of store. */
jp_share_rule_t srv_snap_rule(const srv_snap_t *snap, uint16_t store);
/* Whether store may see record id (false for a record the snapshot does
 * not know: one created after it). */
bool srv_snap_visible(const srv_snap_t *snap, uint16_t store, const jp_id_t *id);
/* Whether a change of record id may concern store: the record is visible
 * to it, or the snapshot does not know it yet (a newer view may give it). */
bool srv_snap_may_see(const srv_snap_t *snap, uint16_t store, const jp_id_t *id);

/* store's view as the protocol tells it: *ids (n of them, borrowed from
 * the snapshot), their SHA-256 in *hash.  JP_ENOMEM. */
int srv_snap_view(srv_snap_t *snap, uint16_t store, const jp_id_t **ids, size_t *n,
                  uint8_t hash[JP_HASH_LEN]);

#endif
