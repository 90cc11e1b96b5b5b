/*
 * stats.h -- the loyalty statistics of docs/REPORTS.md, exactly as
 * metrics.md defines them, and the store's daily work list.
 *
 * One engine for the store (its own scope, offline) and the server (group,
 * region and store scopes).  It works in two steps:
 *
 *   jp_base_load()      one pass over every record of the environment as
 *                       of the instant D: compact arrays of customer rows,
 *                       sales and events, people resolved across stores,
 *                       each person's events in one contiguous run, each
 *                       VIN's service visits in another.  Independent of
 *                       the transaction once loaded.
 *   jp_stats_compute()  every figure for one scope (a set of store
 *                       numbers) from those arrays.  The server loads once
 *                       and computes per region and per store.
 *
 * The engine knows nothing about regions: the caller turns "region X" into
 * its stores.  A record's store is the store field of its id.
 *
 * Rates are numerator / denominator with the percentage rounded half away
 * from zero to two decimals, kept as an integer number of hundredths; a
 * zero denominator means "n/a".
 */
#ifndef JP_STATS_H
#define JP_STATS_H

#include "db.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JP_DAY_MS 86400000LL /* one day, ms: "N days" is N x 86,400 s */

/* ---- scope ------------------------------------------------------------- */

/* A set of store numbers, one bit per store (8 KiB). */
typedef struct {
    uint64_t bits[65536 / 64]; /* bit s set: store s is in the scope */
} jp_scope_t;

void jp_scope_clear(jp_scope_t *s);            /* no store */
void jp_scope_all(jp_scope_t *s);              /* every store: the group */
void jp_scope_add(jp_scope_t *s, uint16_t st); /* add store st */

static inline bool
jp_scope_has(const jp_scope_t *s, uint16_t st)
{
    return (s->bits[st >> 6] >> (st & 63)) & 1u;
}

/* ---- numbers ----------------------------------------------------------- */

/* A rate: num / den; pct is 100 x num / den in hundredths, rounded half
 * away from zero (5981 is 59.81%); meaningless when den is 0 (n/a). */
typedef struct {
    int64_t num; /* numerator */
    int64_t den; /* denominator; 0: n/a */
    int64_t pct; /* percentage in hundredths */
} jp_rate_t;

/* A value with two decimals that may be n/a (a median, an index). */
typedef struct {
    bool na;   /* no value: nothing to take it over */
    int64_t v; /* value in hundredths, rounded half away from zero */
} jp_fixed_t;

/* num / den in hundredths, rounded half away from zero; den > 0. */
int64_t jp_round2(int64_t num, int64_t den);

/* Fill a rate from num and den. */
jp_rate_t jp_rate(int64_t num, int64_t den);

/* ---- people ------------------------------------------------------------ */

/* What identifies one customer row as a person. */
typedef struct {
    char phone[16]; /* E.164, "" when none */
    char idnum[19]; /* upper-cased ID number, "" when none */
} jp_person_key_t;

/* Resolve n customer rows into people: rows sharing a phone or an ID
 * number are one person, transitively; a row with neither is a person of
 * its own.  Writes person numbers 0..count-1 into person[n], numbered in
 * the order of each person's first row; returns the count (>= 0) or
 * JP_ENOMEM. */
int64_t jp_people_resolve(const jp_person_key_t *keys, size_t n, uint32_t *person);

/* ---- the loaded records ------------------------------------------------ */

typedef struct jp_base jp_base_t;

/* Load every live record of the environment as of asof_ms (D): rows
 * created, sales delivered and events that happened after D are left out,
 * as are deleted records and events of unknown customers (service visits
 * still count for their VIN).  Caller owns *out (jp_base_destroy).
 * Returns 0, JP_ENOMEM, or a database error. */
int jp_base_load(jp_txn_t *txn, int64_t asof_ms, jp_base_t **out, jp_err_t *err);
void jp_base_destroy(jp_base_t **self_p);

/* What was loaded. */
int64_t jp_base_asof(const jp_base_t *b);
size_t jp_base_rows(const jp_base_t *b);   /* customer rows */
size_t jp_base_people(const jp_base_t *b); /* people */
size_t jp_base_events(const jp_base_t *b); /* sales and events */

/* ---- cohort filters ---------------------------------------------------- */

typedef struct jp_filter jp_filter_t;

/* Parse a filter such as "daily_km 5..500, age_days >213, visits >=4"
 * (grammar in docs/REPORTS.md).  On a bad filter returns JP_EINVAL with
 * err saying what is wrong and at which column.  Caller owns *out. */
int jp_filter_parse(const char *expr, jp_filter_t **out, jp_err_t *err);
void jp_filter_destroy(jp_filter_t **self_p);
const char *jp_filter_text(const jp_filter_t *f); /* as given */

/* ---- the figures ------------------------------------------------------- */

enum { JP_GRADES = 6 };  /* O H A B C potential (schema order) */
enum { JP_REASONS = 6 }; /* price product competitor service financing other */

typedef enum {
    JP_CLASS_LOYAL = 0,
    JP_CLASS_EFFECTIVE,
    JP_CLASS_DEAL,
    JP_CLASS_DATA_ONLY,
    JP_CLASSES
} jp_class_t;

/* One district of the regional table. */
typedef struct {
    char name[64];     /* district; "" for owners without one */
    int64_t now[3];    /* quality, potential, general owners at D */
    int64_t before[3]; /* the same at D - 365 days */
} jp_district_t;

typedef struct {
    int64_t asof;   /* D, unix ms */
    int64_t people; /* customers (people) in scope */

    /* size of the base */
    int64_t owners;
    int64_t prospects;                  /* every prospect, defeated included */
    int64_t prospects_grade[JP_GRADES]; /* by current grade, defeated included */
    int64_t open_grade[JP_GRADES];      /* by current grade, not defeated */
    int64_t defeated;                   /* prospects currently defeated */
    int64_t owner_class[JP_CLASSES];    /* owners by class at D */
    int64_t vip;                        /* >= 3 referrals in trailing 365 days */

    /* loyalty */
    jp_rate_t repeat_purchase; /* owners with >= 2 sales / owners */
    int64_t surveyed;          /* people with a survey in trailing 365 days */
    jp_rate_t satisfaction[5]; /* [level - 1] / surveyed */
    jp_rate_t csat;            /* level 4 or 5 / surveyed */
    jp_rate_t repurchase[3];   /* high, mid, low / surveyed */
    jp_rate_t recommend[3];    /* very likely, possible, unlikely / surveyed */
    jp_fixed_t net_recommend;  /* very likely % - unlikely %, rounded once */
    jp_fixed_t loyalty_index;  /* 0..100, rounded once */
    jp_fixed_t index_part[3];  /* component means: satisfaction, repurchase,
                                  recommendation */
    int64_t revenue_people;    /* people with revenue > 0 (trailing 365 d) */
    int64_t revenue_fen;       /* their total revenue, fen */
    int64_t top_n[2];          /* ceil(2.5% n), ceil(20% n) */
    jp_rate_t top_share[2];    /* their revenue / total revenue */
    int64_t cross_store;       /* purchases at >= 2 stores (ever) */

    /* retention and churn */
    jp_rate_t first_maintenance; /* deliveries in (D-456, D-91] returned */
    jp_rate_t six_month;         /* delivered <= D-182, visit in (D-182, D] */
    jp_rate_t retention;         /* prior-active owners retained */
    jp_rate_t churn;             /* first sale < D-365, no purchase since */
    int64_t at_risk;             /* churn warning list size */

    /* complaints opened in trailing 365 days */
    int64_t complaints;
    int64_t complaint_severity[2]; /* major, minor */
    int64_t complaint_subject[3];  /* sales, service, product */
    int64_t complaint_cross[2][3]; /* [major, minor][sales, service, product] */
    jp_rate_t contact_1h;          /* first contact <= 60 min after opening */
    jp_rate_t resolution;          /* resolved at or before D */
    jp_fixed_t resolve_hours;      /* median hours over resolved */
    jp_rate_t return_after[2][3];  /* complaints of (D-730, D-365]:
                                      [major, minor][within 24 h, later,
                                      unresolved] whose customer bought again */

    /* referrals and the funnel */
    jp_rate_t referrals;               /* converted / referrals made */
    int64_t funnel_created;            /* prospects created in the window */
    jp_rate_t funnel_converted;        /* / created */
    jp_rate_t funnel_defeated;         /* / created */
    int64_t funnel_open[JP_GRADES];    /* still open, by current grade */
    int64_t defeat_reason[JP_REASONS]; /* the funnel's defeated, by reason */
    int64_t defeat_reason_none;        /* ... whose defeat had no reason */

    /* follow-up discipline */
    jp_rate_t day3;      /* deliveries in (D-365, D-7] contacted in 3 days */
    jp_rate_t day7;      /* ... in 7 days */
    jp_rate_t quarterly; /* owners delivered >= 182 d ago, contact in 91 d */

    /* regional concentration, districts in byte order of their names */
    size_t ndistricts;
    jp_district_t *districts; /* owned: jp_stats_free */

    /* the cohort filter, when one was given */
    bool filtered;
    jp_rate_t filter; /* matching vehicles / vehicles in scope */
} jp_stats_t;

/* Every figure for the stores in scope.  filter may be NULL.  Caller frees
 * out with jp_stats_free.  Returns 0 or JP_ENOMEM. */
int jp_stats_compute(const jp_base_t *b, const jp_scope_t *scope,
                     const jp_filter_t *filter, jp_stats_t *out);
void jp_stats_free(jp_stats_t *s);

/* Load and compute in one call: txn, scope, D and the group's time zone
 * (IANA name, set for the process with jp_tz_set; NULL keeps the current
 * one).  JP_EINVAL for an unknown zone. */
int jp_stats_run(jp_txn_t *txn, const jp_scope_t *scope, int64_t asof_ms, const char *tz,
                 const jp_filter_t *filter, jp_stats_t *out, jp_err_t *err);

/* ---- one customer (the counter screens) -------------------------------- */

/* Load only what one customer's standing needs: the rows that are the same
 * person (followed through the phone and ID number indexes, up to 256
 * rows) and their timelines.  Caller owns *out. */
int jp_base_load_customer(jp_txn_t *txn, int64_t asof_ms, const jp_id_t *customer,
                          jp_base_t **out, jp_err_t *err);

/* A person's card class or prospect state at D in scope. */
typedef struct {
    int cls;       /* jp_class_t of an owner; -1 when not an owner in scope */
    uint8_t grade; /* a prospect's current grade 1..6 (O..potential), 0 none */
    bool defeated; /* a prospect currently defeated */
} jp_standing_t;

/* The standing of the person of customer row `customer`, by the same rules
 * as jp_stats_compute.  JP_ENOTFOUND when the row was not loaded. */
int jp_stats_standing(const jp_base_t *b, const jp_scope_t *scope,
                      const jp_id_t *customer, jp_standing_t *out);

/* Words for enums, as in JSON and on screen. */
const char *jp_class_name(jp_class_t c); /* "loyal" "effective" "deal" "data_only" */

/* ---- the daily work list ----------------------------------------------- */

typedef enum {
    JP_DUE_DAY3 = 0,    /* day-3 call not yet made */
    JP_DUE_DAY7,        /* day-7 call not yet made */
    JP_DUE_FIRST_MAINT, /* first-maintenance reminder */
    JP_DUE_RENEWAL,     /* insurance renewal: delivery anniversary soon */
    JP_DUE_BIRTHDAY,    /* birthday in the next 7 days */
    JP_DUE_FOLLOW_UP,   /* prospect follow-up by grade cadence */
    JP_DUE_COMPLAINT,   /* complaint past 1 hour without first contact */
    JP_DUE_AT_RISK,     /* owner on the churn warning list */
    JP_DUE_KINDS
} jp_due_kind_t;

/* One line of the work list.  Text points into the base: valid while the
 * base lives.  phone is the full E.164 number: mask it before showing it. */
typedef struct {
    uint8_t kind;      /* jp_due_kind_t */
    jp_id_t customer;  /* the customer row to call (latest in scope) */
    jp_id_t record;    /* the vehicle, complaint or customer it is about */
    int64_t due_day;   /* local civil day it is due (days since epoch) */
    int64_t since;     /* unix ms of what started it (delivery, opening,
                          last contact...) */
    int64_t extra;     /* kind-specific: grade index (follow-up), years
                          (renewal), age (birthday), 0 otherwise */
    const char *name;  /* customer name */
    const char *phone; /* E.164, "" when none: mask before display */
    const char *vin;   /* the vehicle's VIN, "" when none */
} jp_due_t;

typedef struct {
    int64_t today;   /* local civil day of D */
    size_t n;        /* items */
    jp_due_t *items; /* owned, ordered by kind, due day, customer */
    size_t count[JP_DUE_KINDS];
} jp_worklist_t;

/* What is due at D for the stores in scope (the rules of docs/REPORTS.md).
 * The time zone must be set (jp_tz_set).  Returns 0 or JP_ENOMEM. */
int jp_worklist_compute(const jp_base_t *b, const jp_scope_t *scope, jp_worklist_t *out);
void jp_worklist_free(jp_worklist_t *w);
const char *jp_due_name(jp_due_kind_t k); /* "day3", "birthday", ... */

/* ---- the churn warning list at any scope ------------------------------ */

/* One owner at risk, on the list of the store responsible for him. */
typedef struct {
    uint16_t store;        /* the store responsible: whose own list has him */
    jp_id_t customer;      /* the person's latest row at that store */
    int64_t first_sale;    /* unix ms, at that store */
    int64_t last_purchase; /* unix ms, at that store, in (D-365, D-182] */
    int64_t last_visit;    /* latest service visit at that store, INT64_MIN none */
    const char *name;      /* of that row; points into the base */
    const char *phone;     /* E.164 of that row, "" none: mask before display */
} jp_at_risk_t;

typedef struct {
    int64_t asof;        /* D */
    size_t n;            /* items */
    jp_at_risk_t *items; /* owned; by store, then customer id */
} jp_at_risk_list_t;

/* The at-risk owners (retention.at_risk) of every store in scope, each on
 * its own store's list exactly as that store's work list (`today`) has
 * them: the union of the stores' lists, one item per store and person.
 * Text points into the base: valid while the base lives.  Returns 0 or
 * JP_ENOMEM. */
int jp_at_risk_compute(const jp_base_t *b, const jp_scope_t *scope,
                       jp_at_risk_list_t *out);
void jp_at_risk_free(jp_at_risk_list_t *l);

#endif
