/*
 * view.h -- the store's side of its view: what it holds of the other
 * stores' records, brought to what its sharing rule gives it
 * (PROTOCOL.md 3, "The view"; the rules are common/share.h).
 *
 * A pull's last CHANGES tells the store its view: how many records of
 * other stores the rule gives it, and the SHA-256 of their ids in id
 * order.  The store compares that with what it holds (cli_view_matches).
 * If they differ -- a link that gave it a person's earlier records, an
 * unlink, a rule made narrower or wider, a store moved to another region
 * -- it asks for the list (VIEW, VIEWIDS), removes in one transaction
 * what it may no longer hold (cli_view_settle: the states, their index
 * entries and their changes), and fetches what it lacks (FETCH, RECORDS),
 * every answer signed by the server (proto/vouch.h) and verified before
 * anything of it is applied.  Afterwards the two must match, or the
 * round fails.  A record first received by a later change (cli_view_seen)
 * is fetched whole after the stream, the view matching or not.
 *
 * The sync table keeps, for `status`: "held_rule" ("group" when the
 * server says the store's rule gives it the whole log, else "view"),
 * "removed" (records removed so far, be64) and "removed_at" (unix ms of
 * the last removal, be64).
 */
#ifndef CLI_VIEW_H
#define CLI_VIEW_H

#include "msg.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    jp_id_t *ids; /* the server's view, as VIEWIDS gave it */
    size_t n, cap;
    uint64_t pos;     /* the group log position of that view */
    jp_id_t *missing; /* held nowhere here: to fetch */
    size_t nmissing;  /* of them */
    size_t next;      /* the next one to ask for */
    jp_id_t *partial; /* first seen here by a change that did not create it */
    size_t npartial, cappartial;
    uint8_t fetch[JP_HASH_LEN]; /* SHA-256 of the FETCH in flight's ids */
    uint64_t removed, removed_changes, fetched;
} cli_view_t;

/* What this store holds of other stores: count and SHA-256 of the ids. */
int cli_view_held(jp_txn_t *txn, uint16_t own, uint64_t *count,
                  uint8_t hash[JP_HASH_LEN]);

/* Whether the held records are the view a CHANGES announced (*match). */
int cli_view_matches(cli_t *c, uint64_t count, const uint8_t hash[JP_HASH_LEN],
                     bool *match);

/* A change of another store the stream brings, before it is applied: if
 * its record is not held here and the change is not the one that created
 * it (a record that became visible, and a later change of it came in the
 * stream), the record's earlier changes are fetched after the stream. */
int cli_view_seen(cli_t *c, cli_view_t *v, jp_txn_t *txn, const uint8_t *p, size_t n);

/* After a stream whose view matched: the FETCH of the partial records, if
 * any (false: nothing to fetch). */
bool cli_view_fetch_partial(cli_view_t *v, jp_msg_t *fetch);

/* Take one VIEWIDS (its signature checked by the caller). */
int cli_view_add(cli_t *c, cli_view_t *v, const jp_msg_t *m);

/* With the whole list: remove what is held and not in it (one
 * transaction), and list what is in it and not held, with the partial
 * records it has. */
int cli_view_settle(cli_t *c, cli_view_t *v);

/* The next FETCH (false: nothing left to fetch). */
bool cli_view_next_fetch(cli_view_t *v, jp_msg_t *fetch);

/* Apply one RECORDS (its signature checked by the caller), in one
 * transaction. */
int cli_view_records(cli_t *c, cli_view_t *v, const jp_msg_t *m);

/* Note in the sync table whether the store holds the whole log ("group")
 * or a view; *was: what it held before (NULL if nothing was noted). */
int cli_view_note_rule(cli_t *c, bool group, bool *was_group, bool *noted);

/* Forget a list asked before (the partial records are kept). */
void cli_view_restart(cli_view_t *v);
void cli_view_free(cli_view_t *v);

#endif
