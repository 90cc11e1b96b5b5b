/*
 * share.h -- the sharing rules: which records of the group base a store
 * may see (its view), and the digest of that view.
 *
 * 客户信息保密: a store sees its own customers; the group sees the
 * consolidated base.  The server's configuration names a rule for every
 * store ([sharing] in deploy/jipan-server.conf):
 *
 *   linked  (the default) the store's view is
 *           - every record the store wrote (its id's store is the store);
 *           - every customer row of a person linked to one of the store's
 *             live customer rows (a person: rows joined by the server's
 *             live links, transitively), and every vehicle and event of
 *             those rows;
 *           - the service visits at any store of a VIN the store sold or
 *             serviced (a live sale or visit of its own with that VIN):
 *             metrics.md's "at any store of the group" rules match by VIN;
 *           - every record a record of the view refers to (an event's or a
 *             sale's customer, a contact's or resolution's complaint, a
 *             referral's lead), so that no reference of the view dangles;
 *           - the links between rows of those people (so that the store can
 *             recompute its own view: it needs the person's links), and a
 *             link's tombstone while either end is a row of the view by the
 *             rules above.
 *   region  every record written by a store of the store's region, plus the
 *           linked set.
 *   group   everything.
 * A customer's referred_by is not followed (a mutable row may name a
 * customer the store does not see); a tombstoned row does not join a
 * person (the stores that held it through the person remove it), and a
 * tombstoned sale or visit does not open a VIN to its store (a voided
 * visit is still seen by the stores its VIN is open to: its tombstone
 * voids their copy).
 *
 * The engine works on a snapshot: jp_share_load() reads every record once
 * into compact sorted arrays (records by id, people, the stores of each
 * person and each VIN, references backwards), so that each question below
 * is a few binary searches, never a scan of the base.
 *
 * The sync enforces it (server/view.h holds the server's snapshots,
 * client/view.h the store's side, proto/PROTOCOL.md the wire): a PULL
 * streams the entries of the view, every batch signed for the one store
 * (proto/vouch.h); the stream ends with the view's ids' count and hash,
 * and a store that holds anything else lists the view, removes what it
 * may no longer hold and fetches what it lacks.  Convergence: a store's
 * state digest equals `jipan-server view-digest --store N`
 * (jp_share_view_digest()).  jp_share_link_delta() answers, for one link,
 * what its appearance or its undoing changes for a store (tests, and a
 * finer backfill than the view's list to come).
 */
#ifndef JP_SHARE_H
#define JP_SHARE_H

#include "db.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    JP_SHARE_LINKED = 1, /* own records, linked people, VIN visits */
    JP_SHARE_REGION = 2, /* the region's stores, plus linked */
    JP_SHARE_GROUP = 3,  /* everything */
} jp_share_rule_t;

/* "linked", "region", "group" <-> the rule; parse returns JP_EINVAL for
 * any other word. */
int jp_share_rule_parse(const char *word, jp_share_rule_t *out);
const char *jp_share_rule_name(jp_share_rule_t rule);

#define JP_SHARE_MAX_OVERRIDES 256 /* per-store rules in one configuration */

/* The configuration: a default rule and per-store overrides. */
typedef struct {
    uint8_t rule; /* jp_share_rule_t of every store without an override */
    uint16_t n;   /* entries used in over[] */
    struct {
        uint16_t store; /* store number */
        uint8_t rule;   /* its rule */
    } over[JP_SHARE_MAX_OVERRIDES];
} jp_share_conf_t;

/* The default configuration: rule linked, no overrides. */
void jp_share_conf_init(jp_share_conf_t *c);
/* One setting of the [sharing] section: `rule = WORD` or `store.N = WORD`.
 * JP_EINVAL with why (static text) for an unknown name, a bad store
 * number, a store given twice, an unknown word or too many overrides;
 * the configuration is unchanged then. */
int jp_share_conf_set(jp_share_conf_t *c, const char *name, const char *val,
                      const char **why);
/* The rule of store. */
jp_share_rule_t jp_share_conf_rule(const jp_share_conf_t *c, uint16_t store);

/* An enrolled store and its region (borrowed for the call). */
typedef struct {
    uint16_t store;
    const char *region;
} jp_share_store_t;

typedef struct jp_share jp_share_t;

/* Read every record of txn's environment (the group base) into a snapshot,
 * with the enrolled stores and the configuration (both copied).  A store
 * not among stores has no region (rule region gives it the linked set).
 * Returns 0, JP_ENOMEM, or the read's error.  Caller owns *self_p. */
int jp_share_load(jp_share_t **self_p, jp_txn_t *txn, const jp_share_conf_t *conf,
                  const jp_share_store_t *stores, size_t nstores, jp_err_t *err);
void jp_share_destroy(jp_share_t **self_p); /* NULL-safe, nulls *self_p */

/* Records in the snapshot. */
size_t jp_share_count(const jp_share_t *self);

/* Whether store may see record id, under its configured rule: *out.
 * JP_ENOTFOUND if id is not in the snapshot.  O(log n) per reference the
 * record has (a record is seen through its referrers too). */
int jp_share_visible(const jp_share_t *self, uint16_t store, const jp_id_t *id,
                     bool *out);

/* Call cb with every record id of store's view, in id order, until cb
 * returns non-zero (which is returned). */
int jp_share_each_visible(const jp_share_t *self, uint16_t store, jp_id_cb cb, void *arg);

/* The records whose visibility to store hangs on the link record link:
 * visible with the link live, not visible without it, in id order.  When
 * the link appears these are the store's backfill (the person's earlier
 * records); when it is undone, what the store must remove.  The same set
 * either way, whatever the link's state in the snapshot.  JP_ENOTFOUND if
 * link is not a link of the snapshot. */
int jp_share_link_delta(const jp_share_t *self, uint16_t store, const jp_id_t *link,
                        jp_id_cb cb, void *arg);

/* The state digest of store's view: jp_txn_digest() over exactly the
 * records of the view (txn: the environment the snapshot was loaded from,
 * unchanged since).  Under rule group it is the server's whole digest. */
int jp_share_view_digest(const jp_share_t *self, jp_txn_t *txn, uint16_t store,
                         uint8_t out[JP_HASH_LEN]);

#endif
