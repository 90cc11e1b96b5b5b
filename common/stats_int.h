/*
 * stats_int.h -- the layout of a loaded base (jp_base_t), shared by the
 * engine (stats.c) and the series (series.c), which derives the base as
 * of an earlier instant from a loaded one.  Not part of the API; only
 * common/ includes it.
 */
#ifndef JP_STATS_INT_H
#define JP_STATS_INT_H

#include "stats.h"

#define S_NONE UINT32_MAX /* no row, no VIN, no slot */
#define S_NEVER INT64_MAX /* no such instant */

/* One customer row. */
typedef struct {
    jp_id_t id;       /* record id */
    int64_t created;  /* created_at, unix ms (may be after D) */
    int64_t exist;    /* in the base from: min(created, its own events) */
    uint32_t person;  /* person number (jp_people_resolve) */
    uint32_t name;    /* pool offset of the name */
    uint32_t phone;   /* pool offset of the E.164 phone ("" none) */
    uint32_t idnum;   /* pool offset of the ID number ("" none) */
    uint32_t dist;    /* district: index + 1 into b->dists, 0 none; while
                         loading, its pool offset */
    int32_t birthday; /* civil day, INT32_MIN none */
    uint16_t store;   /* store of the id */
    uint8_t grade;    /* grade column: 1..6, 0 none */
} s_row_t;

/* One sale (a vehicle record) or event. */
typedef struct {
    jp_id_t id;      /* record id */
    jp_id_t cust;    /* the customer row it is of */
    jp_id_t ref;     /* complaint (contact, resolution) or lead (referral) */
    int64_t at;      /* unix ms: event at, sale delivered_at */
    int64_t amount;  /* fen: amount, or a sale's price; 0 when empty */
    int64_t mileage; /* km at a service visit, -1 none */
    uint32_t row;    /* index of cust in rows, S_NONE unknown */
    uint32_t vin;    /* VIN index (sale, service), S_NONE; pool offset
                        while loading */
    uint32_t aux;    /* complaint: its slot; contact/resolution: the
                        complaint's event index; referral: the lead's row;
                        S_NONE otherwise */
    uint16_t store;  /* store of the id */
    uint8_t kind;    /* JP_K_* */
    uint8_t e1;      /* service type, severity, satisfaction, reason, grade */
    uint8_t e2;      /* subject, repurchase */
    uint8_t e3;      /* recommend */
} s_ev_t;

struct jp_base {
    int64_t asof;  /* D */
    s_row_t *rows; /* customer rows, id order */
    size_t nrows, caprows;
    s_ev_t *ev; /* sales and events, id order */
    size_t nev, capev;
    char *pool; /* NUL-terminated strings; offset 0 is "" */
    size_t npool, cappool;
    uint32_t npeople;     /* people */
    uint32_t *prow0;      /* [npeople + 1]: start of each person's rows */
    uint32_t *prow;       /* row indexes by person, created, store, id */
    uint32_t *pev0;       /* [npeople + 1]: start of each person's events */
    uint32_t *pev;        /* event indexes by person, at, store, id */
    uint32_t nvins;       /* distinct VINs */
    uint32_t *vins;       /* [nvins] pool offsets */
    uint32_t *vsvc0;      /* [nvins + 1]: start of each VIN's service visits */
    uint32_t *vsvc;       /* service event indexes by VIN, at, store, id */
    uint32_t ndists;      /* distinct districts */
    uint32_t *dists;      /* [ndists] pool offsets, byte order of the names */
    uint32_t ncomplaints; /* complaint events (slots) */
};

#endif
