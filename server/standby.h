/*
 * standby.h -- a standby server: it follows the primary's group log.
 *
 * A server whose configuration has a [standby] section (primary, the
 * primary's endpoint; primary_key, its Curve key) is the group's standby.
 * It holds the group's own keys (server.key, curve.key: copied from the
 * primary, so that stores and auditors know it), and a key of its own to
 * follow with (standby.key, enrolled at the primary with `--role
 * standby`).  Its follower thread connects to the primary over the
 * existing CURVE protocol -- nothing new listens on the primary -- and
 * pulls the whole group log as a store pulls its part (PROTOCOL.md, PULL:
 * a standby is sent every entry, the server's own among them):
 *
 *   - every CHANGES must carry the primary's signature (vouch.h, for store
 *     0), under the receipt key pinned at the first WELCOME;
 *   - every change is applied with the chain check of its store (the
 *     standby holds every store's whole log: a gap, a changed prev or a
 *     changed old change stops it), and appended to its group log at the
 *     position the primary gave it, so positions are the primary's;
 *   - one transaction a CHANGES; the reports computed ahead are told.
 *
 * What it does not hold: the stores' batch signatures and the server's
 * receipts (an auditor's export is taken at the primary).  While a
 * standby, the server answers analysts' questions (QUERY) from its own
 * base and refuses every store's PUSH, RETURN and PULL ("a standby:
 * sync with the primary").  `jipan-server promote` marks its base
 * promoted: the follower stops and the server serves stores, as the
 * primary did (deploy/README.md: failover).
 *
 * Position and lag are kept in the sync table ("standby": the primary's
 * group log length as last seen, be64; when, ms be64) for `status`.
 */
#ifndef SRV_STANDBY_H
#define SRV_STANDBY_H

#include "curve.h"
#include "db.h"
#include "err.h"
#include "server.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct srv_follow srv_follow_t;

/* Called on the follower's thread after each applied CHANGES with the
 * group log's new length. */
typedef void (*srv_follow_cb)(void *arg, uint64_t glog_len);

/* Start following conf's primary with key (the standby's own), writing
 * to db.  Connection failures are retried (logged once while they last);
 * a fault in what the primary sends stops the follower (logged; the
 * server serves analysts on from what it holds). */
int srv_follow_start(srv_follow_t **self, jp_db_t *db, const srv_conf_t *conf,
                     const jp_curve_t *key, srv_follow_cb merged, void *arg, jp_err_t *err);
void srv_follow_stop(srv_follow_t **self); /* NULL-safe; waits for the thread */
/* Tell the follower to stop, without waiting: it applies nothing more
 * (a CHANGES it is applying at that moment is committed or dropped
 * whole); srv_follow_stop then joins it. */
void srv_follow_halt(srv_follow_t *self);

/* What the standby knows of the primary (JP_ENOTFOUND: never reached). */
typedef struct {
    uint64_t primary_len; /* the primary's group log length, last seen */
    uint64_t seen_ms;     /* when */
} srv_follow_pos_t;
int srv_follow_pos(jp_txn_t *txn, srv_follow_pos_t *out);

/* The promotion mark (jipan-server promote): a promoted base is a primary
 * whatever its configuration says. */
bool srv_promoted(jp_txn_t *txn);
int srv_promote(jp_txn_t *txn, uint64_t now_ms);

#endif
