/*
 * recover.h -- a server restored from a backup takes its own log back.
 *
 * The server writes changes of its own (store 0: the links of one customer
 * across stores, link.c).  A backup holds them up to the moment it was
 * taken; the stores hold the ones after it, as they pulled them.  A server
 * that made new links after a restore would write other changes at those
 * seqs, and every store holding the old ones would refuse them (a chain
 * fault of store 0).  So a restored server first takes its own changes
 * back from the stores (PROTOCOL.md, RETURN), and writes nothing of its
 * own until it has:
 *
 *   1. `jipan-server restore DIR` installs the backup and marks the base
 *      *recovering* (srv_recover_begin): the group log's length and the
 *      server's own head at the backup.
 *   2. While recovering, the server merges pushes as always but makes no
 *      links; its WELCOME to a store that has not returned yet says
 *      group_pos 0, so the store knows, returns the server's changes it
 *      holds after the server's own head (srv_recover_keep: kept aside,
 *      not applied), says it is done, and pulls again from the start.
 *   3. Once every enrolled store has returned (or an operator says
 *      `jipan-server recovered`), srv_recover_try applies the returned
 *      changes in seq order, each checked as the server's own linker
 *      would make it: a link whose id is the pair's, between two customer
 *      rows here that share a phone or an ID number, continuing the
 *      chain.  A link whose rows have not been pushed back yet waits for
 *      the next merge; the first one that is wrong (a store lied, or two
 *      disagreed) ends the returned run there.  Then the server links
 *      what was merged since the backup, as it would have, and the mark
 *      is cleared.
 *
 * Everything lives in the server's sync table (db.h), so that a restart
 * during the recovery goes on where it was:
 *   "recover"            glog length u64 | own seq u64 | since ms u64 (be)
 *   "recover.s" store    "" : the store has returned (be16)
 *   "recover.c" seq      a returned change's bytes (be64)
 *
 * Every function runs inside the caller's transaction (the merger's, or
 * the command's), and writes only in a write transaction.
 */
#ifndef SRV_RECOVER_H
#define SRV_RECOVER_H

#include "crypto.h"
#include "db.h"
#include "err.h"
#include "msg.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t glog_len; /* the group log's length at the backup */
    uint64_t own_seq;  /* the server's own head at the backup */
    uint64_t since_ms; /* when the restore was made */
} srv_recover_t;

/* The mark, if the server is recovering (else JP_ENOTFOUND). */
int srv_recover_get(jp_txn_t *txn, srv_recover_t *out);

/* Mark the base (just restored) recovering. */
int srv_recover_begin(jp_txn_t *txn, uint64_t now_ms, jp_err_t *err);

/* Whether store has returned what it holds (true when not recovering). */
bool srv_recover_returned(jp_txn_t *txn, uint16_t store);

/* A RETURN of store: keep its changes aside (those after the server's own
 * head, of store 0, that decode; a seq another store returned already is
 * kept as the first said, and the disagreement logged by the caller:
 * *conflicts), and if done, note the store has returned.  *own_seq: the
 * server's own head with the returned changes that follow it gaplessly.
 * Not recovering: nothing kept, *recovering false. */
int srv_recover_keep(jp_txn_t *txn, uint16_t store, const jp_msg_list_t *changes, bool done,
                     uint64_t *own_seq, bool *recovering, unsigned *conflicts,
                     jp_err_t *err);

/* What srv_recover_try did. */
typedef struct {
    bool finished;     /* the recovery ended (the mark is cleared) */
    uint64_t applied;  /* returned changes applied to the server's own log */
    uint64_t dropped;  /* returned changes not applied (after a wrong one) */
    uint64_t links;    /* links made afresh for what was merged since */
    uint16_t waiting;  /* stores that have not returned yet (not forced) */
    char why[600];     /* why the returned run ended early, "" if it did not */
} srv_recover_stat_t;

/* When every enrolled store has returned, or force: apply the returned
 * changes, link what was merged since the backup, clear the mark.  With
 * force, returned links whose rows are not here are dropped rather than
 * waited for.  Not recovering: nothing, st->finished false. */
int srv_recover_try(jp_txn_t *txn, const jp_key_t *key, bool force, srv_recover_stat_t *st,
                    jp_err_t *err);

#endif
