/*
 * card.h -- a customer's timeline and what the counter screens derive from
 * it: the vehicles, the last visit, the card class or prospect grade, and
 * one line of details per entry.
 */
#ifndef CLI_CARD_H
#define CLI_CARD_H

#include "store.h"

/* One entry of a customer's timeline. */
typedef struct {
    jp_id_t id;   /* the vehicle or event */
    uint8_t kind; /* JP_K_* */
    int64_t at;   /* unix ms: an event's at, a vehicle's delivery */
    bool deleted; /* voided by a tombstone (listed only with --all) */
} cli_entry_t;

#define CLI_MAX_LINKED 32 /* rows of one person followed through links */

/* A customer's vehicles and events, oldest first. */
typedef struct {
    cli_entry_t *e; /* entries, owned */
    int n;          /* used */
    int cap;        /* allocated */
    /* The person's rows: [0] the customer asked for, then every row linked
     * to it (at other stores, or duplicates), transitively; link[i] is the
     * link record that brought row[i] in (zero for row 0). */
    jp_id_t row[CLI_MAX_LINKED];
    jp_id_t link[CLI_MAX_LINKED];
    int nrows;
} cli_timeline_t;

/* Load the timeline of customer cust and of every row linked to it (the
 * server's link records: one person across stores); with all, deleted
 * entries too (a scan of every record, since the timeline index holds live
 * ones only).  Returns 0 or a JP_E* code. */
int cli_timeline_load(jp_txn_t *txn, const jp_id_t *cust, bool all, cli_timeline_t *tl);
void cli_timeline_free(cli_timeline_t *tl);

/* The card class of an owner ("loyal", "effective", "deal", "data-only")
 * or a prospect's state ("grade H", "defeated"), as of now, from the
 * definitions of metrics.md over this store's copy of the records. */
void cli_card_class(jp_txn_t *txn, const jp_record_t *cust, const cli_timeline_t *tl,
                    char *out, size_t cap);

/* Time of the latest live service visit, or INT64_MIN. */
int64_t cli_last_visit(const cli_timeline_t *tl);

/* One line of details for a timeline entry (service type, mileage,
 * amount; channel and purpose; a complaint's severity, subject and when it
 * was contacted and resolved; survey scores; ...). */
void cli_entry_details(jp_txn_t *txn, const cli_timeline_t *tl, const jp_record_t *r,
                       char *out, size_t cap);

#endif
