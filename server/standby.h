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
 *   - before each CHANGES, a SIGNED brings the batch signatures that end
 *     at its entries and the receipts given at them: each is checked
 *     against the change it names (a batch by one of its store's enrolled
 *     keys, a receipt by the primary's) and kept in the same transaction,
 *     so that an auditor's export taken here verifies as the primary's.
 *
 * While a standby, the server answers analysts' questions (QUERY) from
 * its own base and refuses every store's PUSH, RETURN and PULL ("a
 * standby: sync with the primary").  `jipan-server promote` marks its base
 * promoted: the follower stops and the server serves stores, as the
 * primary did (deploy/README.md: failover).
 *
 * Position and lag are kept in the sync table ("standby": the primary's
 * group log length as last seen, be64; when, ms be64) for `status`.
 *
 * Terms, fencing and rejoining (PROTOCOL.md, "Terms: a primary
 * superseded").  Every base has a term (sync table "term", be64; absent:
 * 1).  The follower takes its primary's from each WELCOME; promotion makes
 * it one more.  A server's *partner* is the other of the pair: the
 * primary a standby follows ([standby] primary), or the standby of a
 * primary ([standby] peer); it is asked with the server's own standby.key
 * (enrolled at the partner with `--role standby`) under the group's Curve
 * key, which both hold.  A primary with a partner asks its term before it
 * serves (srv_partner_term) and every 5 s while it runs (srv_watch_*); a
 * higher term fences it for good ("fenced": the partner's term, be64;
 * when, ms be64): it then serves analysts only, as a standby does.
 * `jipan-server rejoin` (srv_rejoin) sets a fenced base aside and starts a
 * new one that follows the partner from the start ("rejoined": a standby
 * whatever the configuration says, until promoted).
 *
 * The split-brain rule (deploy/README.md, failover): promotion is an
 * operator's act, done only when the primary is known down.  Should it
 * come back, it fences itself at its first look at the promoted partner
 * (at its start, or within 5 s), and every store that has synced with the
 * new primary refuses it by its lower term.  While the two cannot reach
 * each other and both run, a store that never reached the new primary may
 * still push to the old one: what it pushed stays in its own log, and the
 * new primary's WELCOME (a lower acked seq) has it pushed again there.
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

/* Start following the primary at endpoint (pub: its Curve key) with key
 * (the standby's own), writing to db.  Connection failures are retried
 * (logged once while they last); a fault in what the primary sends stops
 * the follower (logged; the server serves analysts on from what it
 * holds).  endpoint is borrowed for the follower's life. */
int srv_follow_start(srv_follow_t **self, jp_db_t *db, const char *endpoint,
                     const uint8_t pub[32], const jp_curve_t *key, srv_follow_cb merged,
                     void *arg, jp_err_t *err);
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
 * whatever its configuration says, its term one more than its primary's. */
bool srv_promoted(jp_txn_t *txn);
int srv_promote(jp_txn_t *txn, uint64_t now_ms);

/* The base's term (1 if never set). */
uint64_t srv_term(jp_txn_t *txn);
int srv_term_put(jp_txn_t *txn, uint64_t term);

/* The fence, if a partner with a higher term was seen (else JP_ENOTFOUND). */
typedef struct {
    uint64_t term; /* the partner's */
    uint64_t ms;   /* when it was seen */
} srv_fence_t;
int srv_fence_get(jp_txn_t *txn, srv_fence_t *out);
int srv_fence_put(jp_txn_t *txn, uint64_t term, uint64_t now_ms);

/* What a base is, by its marks and its configuration. */
typedef enum {
    SRV_AS_PRIMARY, /* serves the stores */
    SRV_AS_STANDBY, /* follows its partner; analysts only */
    SRV_AS_FENCED,  /* a superseded primary; analysts only */
} srv_as_t;
srv_as_t srv_as(jp_txn_t *txn, const srv_conf_t *conf);
bool srv_rejoined(jp_txn_t *txn);

/* The partner's endpoint (NULL: none), and its Curve key: [standby]
 * primary_key if given, else own (the group's, which both hold). */
const char *srv_partner(const srv_conf_t *conf);
void srv_partner_key(const srv_conf_t *conf, const uint8_t own[32], uint8_t out[32]);

/* One look at the partner: its term, from the WELCOME it gives key. */
int srv_partner_term(const char *endpoint, const uint8_t pub[32], const jp_curve_t *key,
                     int timeout_ms, uint64_t *term, jp_err_t *err);

/* The partner at endpoint has term theirs: if it is above db's, write the
 * fence (once) and log it.  True if db was fenced now. */
bool srv_fence_if_above(jp_db_t *db, const char *endpoint, uint64_t theirs);

/* The watch of a primary with a partner: every 5 s, its term; one above
 * db's writes the fence (logged) and calls fenced, then the watch ends.
 * endpoint is borrowed for the watch's life. */
typedef struct srv_watch srv_watch_t;
typedef void (*srv_fenced_cb)(void *arg);
int srv_watch_start(srv_watch_t **self, jp_db_t *db, const char *endpoint,
                    const uint8_t pub[32], const jp_curve_t *key, srv_fenced_cb fenced,
                    void *arg, jp_err_t *err);
void srv_watch_stop(srv_watch_t **self); /* NULL-safe; waits for the thread */

/* jipan-server rejoin, the server stopped: move conf's fenced base to
 * DATA/superseded-<UTC time>.mdb (named in aside) and make a new one with
 * its identity, its enrolled keys and stores, the fence's term and the
 * rejoined mark: a standby of the partner that follows from position 0. */
int srv_rejoin(const srv_conf_t *conf, char *aside, size_t cap, jp_err_t *err);

#endif
