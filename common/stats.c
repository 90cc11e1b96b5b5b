/*
 * stats.c -- the statistics engine: every figure of metrics.md from one
 * pass over the records.
 *
 * The one idea: load once into flat arrays, then answer every question by
 * walking short contiguous runs.  jp_base_load() reads each live record
 * once and keeps a fixed-size entry per customer row and per sale or event
 * (text goes to one string pool); then it resolves references by binary
 * search (LMDB hands records over in id order), unites rows into people
 * (jp_people_resolve), and sorts index arrays so that each person's events
 * are one run ordered by time, and each VIN's service visits another.
 * jp_stats_compute() then walks people, sales and complaints once each,
 * keeping only the events of the scope's stores except where metrics.md
 * says "at any store of the group" (the VIN runs).
 *
 * Every window edge is written as metrics.md states it: "trailing N days"
 * is D - N days < t <= D, "within N days after X" is X <= t <= X + N days,
 * "more than N days before D" is t < D - N days.
 *
 * Nothing may depend on when stores imported or synced (metrics.md "Ties"):
 * every run is ordered by time, then store number, then record id, and
 * "the latest" is the last of its run.  Within one store, ids are that
 * store's own write order, a property of the records themselves.  A row
 * exists from the earliest of its created_at and its own events
 * ("Existence"): rows are loaded whatever their created_at, and those with
 * nothing at or before D are dropped once the events are known.
 */
#include "stats.h"
#include "stats_int.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define S_HOUR_MS 3600000LL

/* Enum indexes of schema.c (1-based; field numbers and word orders are
 * part of the storage format and never change). */
enum { S_MAJOR = 1, S_MINOR = 2 };
enum { S_REP_HIGH = 1, S_REP_MID = 2, S_REP_LOW = 3 };
enum { S_REC_VERY = 1, S_REC_POSSIBLE = 2, S_REC_UNLIKELY = 3 };
enum { S_GRADE_O = 1, S_GRADE_H, S_GRADE_A, S_GRADE_B, S_GRADE_C, S_GRADE_POTENTIAL };
enum { S_FIRST_MAINTENANCE = 1 };


/* ---- small helpers ----------------------------------------------------- */

static int
s_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *np = realloc(*p, c * elem);
    if (!np)
        return JP_ENOMEM;
    *p = np;
    *cap = c;
    return 0;
}

int64_t
jp_round2(int64_t num, int64_t den)
{
    assert(den != 0);
    __int128 n = (__int128)num * 100, d = den;
    bool neg = (n < 0) != (d < 0);
    if (n < 0)
        n = -n;
    if (d < 0)
        d = -d;
    __int128 q = (2 * n + d) / (2 * d); /* floor(|x| + 1/2) */
    return (int64_t)(neg ? -q : q);
}

jp_rate_t
jp_rate(int64_t num, int64_t den)
{
    jp_rate_t r = {num, den, 0};
    if (den)
        r.pct = jp_round2(num * 100, den);
    return r;
}

static jp_fixed_t
s_fixed(int64_t num, int64_t den)
{
    jp_fixed_t f = {den == 0, 0};
    if (den)
        f.v = jp_round2(num, den);
    return f;
}

void
jp_scope_clear(jp_scope_t *s)
{
    memset(s->bits, 0, sizeof s->bits);
}

void
jp_scope_all(jp_scope_t *s)
{
    memset(s->bits, 0xff, sizeof s->bits);
}

void
jp_scope_add(jp_scope_t *s, uint16_t st)
{
    s->bits[st >> 6] |= 1ull << (st & 63);
}

const char *
jp_class_name(jp_class_t c)
{
    static const char *const names[JP_CLASSES] = {"loyal", "effective", "deal",
                                                  "data_only"};
    return c < JP_CLASSES ? names[c] : "none";
}

/* ---- people ------------------------------------------------------------ */

/* One identifying key of a row: 'p' phone or 'i' ID number. */
typedef struct {
    char k[20];   /* type letter, then the key */
    uint32_t row; /* row index */
} s_key_t;

static int
s_key_cmp(const void *a, const void *b)
{
    const s_key_t *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static uint32_t
s_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]]; /* path halving */
        x = parent[x];
    }
    return x;
}

/* The smaller root wins, so a person's root is its first row. */
static void
s_unite(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = s_find(parent, a);
    b = s_find(parent, b);
    if (a < b)
        parent[b] = a;
    else if (b < a)
        parent[a] = b;
}

int64_t
jp_people_resolve(const jp_person_key_t *keys, size_t n, uint32_t *person)
{
    assert(keys || n == 0);
    assert(n < S_NONE);
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent);
    s_key_t *k = malloc((2 * n + 1) * sizeof *k);
    size_t nk = 0;
    int64_t count = 0;
    if (!parent || !k) {
        free(parent);
        free(k);
        return JP_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        parent[i] = (uint32_t)i;
        if (keys[i].phone[0]) {
            snprintf(k[nk].k, sizeof k[nk].k, "p%.16s", keys[i].phone);
            k[nk++].row = (uint32_t)i;
        }
        if (keys[i].idnum[0]) {
            snprintf(k[nk].k, sizeof k[nk].k, "i%.18s", keys[i].idnum);
            k[nk++].row = (uint32_t)i;
        }
    }
    /* Equal keys sort next to each other: unite each with its neighbour. */
    qsort(k, nk, sizeof *k, s_key_cmp);
    for (size_t i = 1; i < nk; i++) {
        if (strcmp(k[i].k, k[i - 1].k) == 0)
            s_unite(parent, k[i].row, k[i - 1].row);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t r = s_find(parent, (uint32_t)i);
        person[i] = r == i ? (uint32_t)count++ : person[r];
    }
    free(parent);
    free(k);
    return count;
}

/* ---- loading ----------------------------------------------------------- */

/* Copy n bytes into the pool; the offset of the NUL-terminated copy. */
static int
s_pool_add(jp_base_t *b, const char *p, size_t n, uint32_t *off)
{
    if (n == 0) {
        *off = 0;
        return 0;
    }
    if (b->npool + n + 1 > UINT32_MAX ||
        s_grow((void **)&b->pool, &b->cappool, b->npool + n + 1, 1))
        return JP_ENOMEM;
    memcpy(b->pool + b->npool, p, n);
    b->pool[b->npool + n] = '\0';
    *off = (uint32_t)b->npool;
    b->npool += n + 1;
    return 0;
}

/* A text field of r into the pool ("" when unset). */
static int
s_pool_field(jp_base_t *b, const jp_record_t *r, unsigned fid, uint32_t *off)
{
    const jp_slot_t *s = &r->f[fid];
    if (!s->set || s->v.type != JP_T_STR) {
        *off = 0;
        return 0;
    }
    return s_pool_add(b, s->v.u.s.p, s->v.u.s.n, off);
}

static uint8_t
s_small(const jp_record_t *r, unsigned fid, int64_t max)
{
    int64_t v = jp_record_int(r, fid, 0);
    return v >= 1 && v <= max ? (uint8_t)v : 0;
}

static int
s_add_row(jp_base_t *b, const jp_id_t *id, const jp_record_t *r)
{
    /* A row created after D may exist at D through its own events (a late
     * migration); s_exist decides once the events are loaded. */
    int64_t created = jp_record_int(r, JP_F_CREATED_AT, S_NEVER);
    if (s_grow((void **)&b->rows, &b->caprows, b->nrows + 1, sizeof *b->rows))
        return JP_ENOMEM;
    s_row_t *w = &b->rows[b->nrows];
    memset(w, 0, sizeof *w);
    w->id = *id;
    w->created = w->exist = created;
    w->store = jp_id_store(id);
    w->grade = s_small(r, JP_F_GRADE, JP_GRADES);
    int64_t bd = jp_record_int(r, JP_F_BIRTHDAY, INT64_MIN);
    w->birthday = bd > INT32_MIN && bd <= INT32_MAX ? (int32_t)bd : INT32_MIN;
    if (s_pool_field(b, r, JP_F_NAME, &w->name) ||
        s_pool_field(b, r, JP_F_PHONE, &w->phone) ||
        s_pool_field(b, r, JP_F_ID_NUMBER, &w->idnum) ||
        s_pool_field(b, r, JP_F_DISTRICT, &w->dist))
        return JP_ENOMEM;
    b->nrows++;
    return 0;
}

static int
s_add_event(jp_base_t *b, const jp_id_t *id, const jp_record_t *r)
{
    bool sale = r->kind == JP_K_VEHICLE;
    int64_t at = jp_record_int(r, sale ? JP_F_DELIVERED_AT : JP_F_AT, S_NEVER);
    const jp_id_t *cust = jp_record_ref(r, JP_F_CUSTOMER);
    if (at > b->asof || !cust)
        return 0; /* after D, as if it had not happened yet */
    if (s_grow((void **)&b->ev, &b->capev, b->nev + 1, sizeof *b->ev))
        return JP_ENOMEM;
    s_ev_t *e = &b->ev[b->nev];
    memset(e, 0, sizeof *e);
    e->id = *id;
    e->cust = *cust;
    e->at = at;
    e->amount = jp_record_int(r, sale ? JP_F_PRICE : JP_F_AMOUNT, 0);
    e->mileage = jp_record_int(r, JP_F_MILEAGE, -1);
    e->row = e->vin = e->aux = S_NONE;
    e->store = jp_id_store(id);
    e->kind = r->kind;
    const jp_id_t *ref = NULL;
    switch (r->kind) {
    case JP_K_VEHICLE:
    case JP_K_SERVICE:
        if (s_pool_field(b, r, JP_F_VIN, &e->vin))
            return JP_ENOMEM;
        e->e1 = s_small(r, JP_F_SERVICE_TYPE, 255);
        break;
    case JP_K_COMPLAINT:
        e->e1 = s_small(r, JP_F_SEVERITY, 2);
        e->e2 = s_small(r, JP_F_SUBJECT, 3);
        break;
    case JP_K_COMPLAINT_CONTACT:
    case JP_K_COMPLAINT_RESOLVED:
        ref = jp_record_ref(r, JP_F_COMPLAINT);
        break;
    case JP_K_SURVEY:
        e->e1 = s_small(r, JP_F_SATISFACTION, 5);
        e->e2 = s_small(r, JP_F_REPURCHASE, 3);
        e->e3 = s_small(r, JP_F_RECOMMEND, 3);
        break;
    case JP_K_REFERRAL:
        ref = jp_record_ref(r, JP_F_REFERRED);
        break;
    case JP_K_DEFEAT:
        e->e1 = s_small(r, JP_F_REASON, JP_REASONS);
        break;
    case JP_K_GRADE:
        e->e1 = s_small(r, JP_F_GRADE, JP_GRADES);
        break;
    default:
        break;
    }
    if (ref)
        e->ref = *ref;
    b->nev++;
    return 0;
}

static int
s_add(jp_base_t *b, const jp_id_t *id, const jp_record_t *r)
{
    if (jp_record_deleted(r))
        return 0;
    if (r->kind == JP_K_CUSTOMER)
        return s_add_row(b, id, r);
    if (r->kind == JP_K_VEHICLE || jp_kind_is_event((jp_kind_t)r->kind))
        return s_add_event(b, id, r);
    return 0; /* links: people are resolved by phone and ID number here */
}

typedef struct {
    jp_txn_t *txn;
    jp_base_t *b;
} s_load_t;

static int
s_on_record(void *arg, const jp_id_t *id)
{
    s_load_t *l = arg;
    jp_record_t r;
    int rc = jp_txn_get(l->txn, id, &r);
    if (rc)
        return rc;
    return s_add(l->b, id, &r);
}

static int
s_row_cmp(const void *a, const void *b)
{
    return jp_id_cmp(&((const s_row_t *)a)->id, &((const s_row_t *)b)->id);
}

static int
s_ev_cmp(const void *a, const void *b)
{
    return jp_id_cmp(&((const s_ev_t *)a)->id, &((const s_ev_t *)b)->id);
}

/* Sort unless already in id order (LMDB gives key order). */
static void
s_sort_ids(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
    const char *p = base;
    for (size_t i = 1; i < n; i++) {
        if (cmp(p + (i - 1) * size, p + i * size) > 0) {
            qsort(base, n, size, cmp);
            return;
        }
    }
}

_Static_assert(offsetof(s_row_t, id) == 0 && offsetof(s_ev_t, id) == 0,
               "jp_id_find reads the id at the start of an element");
_Static_assert(S_NONE == UINT32_MAX, "jp_id_find returns UINT32_MAX when absent");

static uint32_t
s_row_of(const jp_base_t *b, const jp_id_t *id)
{
    return jp_id_find(b->rows, b->nrows, sizeof *b->rows, id);
}

static uint32_t
s_ev_of(const jp_base_t *b, const jp_id_t *id)
{
    return jp_id_find(b->ev, b->nev, sizeof *b->ev, id);
}

/* Sort key for grouping indexes: (group, time, index). */
typedef struct {
    uint32_t group; /* person or VIN */
    uint32_t idx;   /* row or event index (id order) */
    int64_t when;   /* s_when(created or at, store) */
} s_gkey_t;

/* Time, then store, in one sortable number: at one instant the greater
 * store comes last (it is "the latest"), then the greater id of that
 * store (idx), never the order stores imported or synced in, which only
 * the ids' time part would reflect.  Instants within 2^47 ms (4,000 years)
 * of 1970 leave 16 bits for the store; the rest (S_NEVER) clamp. */
static int64_t
s_when(int64_t at, uint16_t store)
{
    if (at >= INT64_MAX / 65536)
        return INT64_MAX;
    if (at <= INT64_MIN / 65536)
        return INT64_MIN;
    return at * 65536 + store;
}

static int
s_gkey_cmp(const void *a, const void *b)
{
    const s_gkey_t *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->when != y->when)
        return x->when < y->when ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Group n keys into CSR arrays: start[ngroups + 1] and idx[n]. */
static int
s_csr(s_gkey_t *k, size_t n, uint32_t ngroups, uint32_t **start, uint32_t **idx)
{
    *start = calloc((size_t)ngroups + 1, sizeof **start);
    *idx = malloc((n ? n : 1) * sizeof **idx);
    if (!*start || !*idx)
        return JP_ENOMEM;
    qsort(k, n, sizeof *k, s_gkey_cmp);
    for (size_t i = 0; i < n; i++) {
        (*start)[k[i].group + 1]++;
        (*idx)[i] = k[i].idx;
    }
    for (uint32_t g = 0; g < ngroups; g++)
        (*start)[g + 1] += (*start)[g];
    return 0;
}

/* Pairs (pool offset, index) by text, then index; arg is the base. */
static int
s_off_cmp(const void *a, const void *b, void *arg)
{
    const jp_base_t *base = arg;
    const uint32_t *x = a, *y = b;
    int c = strcmp(base->pool + x[0], base->pool + y[0]);
    return c ? c : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Intern strings: sort pairs (pool offset, owner index) by text, then
 * replace each pair's offset with its string's 1-based number; the
 * distinct offsets go to *out, in byte order of the text. */
static int
s_intern(jp_base_t *b, uint32_t (*pairs)[2], size_t n, uint32_t **out, uint32_t *count)
{
    qsort_r(pairs, n, sizeof *pairs, s_off_cmp, b);
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out)
        return JP_ENOMEM;
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(b->pool + pairs[i][0], b->pool + (*out)[*count - 1]) != 0)
            (*out)[(*count)++] = pairs[i][0];
        pairs[i][0] = *count;
    }
    return 0;
}

/* Districts: rows' pool offsets become indexes + 1 into b->dists. */
static int
s_intern_districts(jp_base_t *b)
{
    size_t n = 0;
    uint32_t(*pairs)[2] = malloc((b->nrows + 1) * sizeof *pairs);
    if (!pairs)
        return JP_ENOMEM;
    for (size_t i = 0; i < b->nrows; i++) {
        if (b->rows[i].dist) {
            pairs[n][0] = b->rows[i].dist;
            pairs[n++][1] = (uint32_t)i;
        }
    }
    int rc = s_intern(b, pairs, n, &b->dists, &b->ndists);
    for (size_t i = 0; i < n && !rc; i++)
        b->rows[pairs[i][1]].dist = pairs[i][0];
    free(pairs);
    return rc;
}

/* VINs of sales and visits: pool offsets become indexes 0.. (S_NONE when
 * empty). */
static int
s_intern_vins(jp_base_t *b)
{
    size_t n = 0;
    uint32_t(*pairs)[2] = malloc((b->nev + 1) * sizeof *pairs);
    if (!pairs)
        return JP_ENOMEM;
    for (size_t i = 0; i < b->nev; i++) {
        s_ev_t *e = &b->ev[i];
        if (e->vin != S_NONE && e->vin != 0) {
            pairs[n][0] = e->vin;
            pairs[n++][1] = (uint32_t)i;
        } else {
            e->vin = S_NONE;
        }
    }
    int rc = s_intern(b, pairs, n, &b->vins, &b->nvins);
    for (size_t i = 0; i < n && !rc; i++)
        b->ev[pairs[i][1]].vin = pairs[i][0] - 1;
    free(pairs);
    return rc;
}

/* Each event's customer row. */
static void
s_resolve_rows(jp_base_t *b)
{
    for (size_t i = 0; i < b->nev; i++)
        b->ev[i].row = s_row_of(b, &b->ev[i].cust);
}

/* Existence: a row is in the base from the earliest of its created_at and
 * its own events (all at or before D here).  Rows with nothing at or
 * before D are dropped, and the events' row indexes follow the move
 * (none of them was such a row's). */
static int
s_exist(jp_base_t *b)
{
    for (size_t i = 0; i < b->nev; i++) {
        const s_ev_t *e = &b->ev[i];
        if (e->row != S_NONE && e->at < b->rows[e->row].exist)
            b->rows[e->row].exist = e->at;
    }
    size_t late = 0;
    for (size_t i = 0; i < b->nrows; i++)
        late += b->rows[i].exist > b->asof;
    if (!late)
        return 0;
    uint32_t *moved = malloc(b->nrows * sizeof *moved);
    if (!moved)
        return JP_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < b->nrows; i++) {
        moved[i] = (uint32_t)n;
        if (b->rows[i].exist <= b->asof)
            b->rows[n++] = b->rows[i];
    }
    b->nrows = n;
    for (size_t i = 0; i < b->nev; i++) {
        if (b->ev[i].row != S_NONE)
            b->ev[i].row = moved[b->ev[i].row];
    }
    free(moved);
    return 0;
}

/* References: a contact's or resolution's complaint, a referral's lead;
 * complaint slots. */
static void
s_resolve_refs(jp_base_t *b)
{
    for (size_t i = 0; i < b->nev; i++) {
        s_ev_t *e = &b->ev[i];
        if (e->kind == JP_K_COMPLAINT) {
            e->aux = b->ncomplaints++;
        } else if (e->kind == JP_K_COMPLAINT_CONTACT ||
                   e->kind == JP_K_COMPLAINT_RESOLVED) {
            uint32_t c = s_ev_of(b, &e->ref);
            e->aux = c != S_NONE && b->ev[c].kind == JP_K_COMPLAINT ? c : S_NONE;
        } else if (e->kind == JP_K_REFERRAL) {
            e->aux = s_row_of(b, &e->ref);
        }
    }
}

static int
s_people(jp_base_t *b)
{
    jp_person_key_t *keys = malloc((b->nrows + 1) * sizeof *keys);
    uint32_t *person = malloc((b->nrows + 1) * sizeof *person);
    int rc = JP_ENOMEM;
    if (!keys || !person)
        goto done;
    for (size_t i = 0; i < b->nrows; i++) {
        snprintf(keys[i].phone, sizeof keys[i].phone, "%s", b->pool + b->rows[i].phone);
        snprintf(keys[i].idnum, sizeof keys[i].idnum, "%s", b->pool + b->rows[i].idnum);
    }
    int64_t n = jp_people_resolve(keys, b->nrows, person);
    if (n < 0)
        goto done;
    b->npeople = (uint32_t)n;
    for (size_t i = 0; i < b->nrows; i++)
        b->rows[i].person = person[i];
    rc = 0;
done:
    free(keys);
    free(person);
    return rc;
}

/* The runs: each person's rows and events, each VIN's service visits. */
static int
s_group(jp_base_t *b)
{
    size_t n = b->nrows > b->nev ? b->nrows : b->nev;
    s_gkey_t *k = malloc((n + 1) * sizeof *k);
    int rc = JP_ENOMEM;
    if (!k)
        return rc;
    for (size_t i = 0; i < b->nrows; i++)
        k[i] = (s_gkey_t){b->rows[i].person, (uint32_t)i,
                          s_when(b->rows[i].created, b->rows[i].store)};
    if ((rc = s_csr(k, b->nrows, b->npeople, &b->prow0, &b->prow)))
        goto done;
    n = 0;
    for (size_t i = 0; i < b->nev; i++) {
        if (b->ev[i].row != S_NONE)
            k[n++] = (s_gkey_t){b->rows[b->ev[i].row].person, (uint32_t)i,
                                s_when(b->ev[i].at, b->ev[i].store)};
    }
    if ((rc = s_csr(k, n, b->npeople, &b->pev0, &b->pev)))
        goto done;
    n = 0;
    for (size_t i = 0; i < b->nev; i++) {
        if (b->ev[i].kind == JP_K_SERVICE && b->ev[i].vin != S_NONE)
            k[n++] = (s_gkey_t){b->ev[i].vin, (uint32_t)i,
                                s_when(b->ev[i].at, b->ev[i].store)};
    }
    rc = s_csr(k, n, b->nvins, &b->vsvc0, &b->vsvc);
done:
    free(k);
    return rc;
}

static int
s_finish(jp_base_t *b)
{
    int rc;
    s_sort_ids(b->rows, b->nrows, sizeof *b->rows, s_row_cmp);
    s_sort_ids(b->ev, b->nev, sizeof *b->ev, s_ev_cmp);
    if (b->nrows >= S_NONE || b->nev >= S_NONE)
        return JP_ETOOBIG;
    s_resolve_rows(b);
    if ((rc = s_exist(b)))
        return rc;
    s_resolve_refs(b);
    if ((rc = s_intern_districts(b)) || (rc = s_intern_vins(b)) || (rc = s_people(b)))
        return rc;
    return s_group(b);
}

static int
s_base_new(int64_t asof, jp_base_t **out)
{
    jp_base_t *b = calloc(1, sizeof *b);
    if (!b)
        return JP_ENOMEM;
    b->asof = asof;
    if (s_grow((void **)&b->pool, &b->cappool, 1, 1)) {
        free(b);
        return JP_ENOMEM;
    }
    b->pool[0] = '\0';
    b->npool = 1;
    *out = b;
    return 0;
}

int
jp_base_load(jp_txn_t *txn, int64_t asof_ms, jp_base_t **out, jp_err_t *err)
{
    assert(txn && out);
    jp_base_t *b;
    int rc = s_base_new(asof_ms, &b);
    if (rc)
        return jp_err_set(err, rc, "statistics: out of memory");
    s_load_t l = {txn, b};
    rc = jp_txn_each_record(txn, s_on_record, &l);
    if (rc == 0)
        rc = s_finish(b);
    if (rc) {
        jp_base_destroy(&b);
        return jp_err_set(err, rc, "statistics: loading the records: %s",
                          jp_strerror(rc));
    }
    *out = b;
    return 0;
}

void
jp_base_destroy(jp_base_t **self_p)
{
    jp_base_t *b = *self_p;
    if (!b)
        return;
    free(b->rows);
    free(b->ev);
    free(b->pool);
    free(b->prow0);
    free(b->prow);
    free(b->pev0);
    free(b->pev);
    free(b->vins);
    free(b->vsvc0);
    free(b->vsvc);
    free(b->dists);
    free(b);
    *self_p = NULL;
}

int64_t
jp_base_asof(const jp_base_t *b)
{
    return b->asof;
}

size_t
jp_base_rows(const jp_base_t *b)
{
    return b->nrows;
}

size_t
jp_base_people(const jp_base_t *b)
{
    return b->npeople;
}

size_t
jp_base_events(const jp_base_t *b)
{
    return b->nev;
}

/* ---- cohort filters ---------------------------------------------------- */

enum {
    S_FLD_DAILY_KM,
    S_FLD_AGE_DAYS,
    S_FLD_VISITS,
    S_FLD_SPEND_365,
    S_FLD_STORE,
    S_FLD_CLASS, /* the first text field */
    S_FLD_DISTRICT,
    S_FLD_COUNT
};
static const char *const s_fld_names[S_FLD_COUNT] = {
    "daily_km", "age_days", "visits", "spend_365", "store", "class", "district"};

enum {
    S_OP_RANGE,
    S_OP_LT,
    S_OP_LE,
    S_OP_GT,
    S_OP_GE,
    S_OP_EQ,
    S_OP_NE,
    S_OP_IN,
    S_OP_OUT
};

#define S_MAX_CONDS 32 /* conditions in one filter */
#define S_MAX_WORDS 16 /* words of one class or district condition */
#define S_MAX_WORD 64  /* bytes of one word, NUL included */

typedef struct {
    uint8_t field; /* S_FLD_* */
    uint8_t op;    /* S_OP_* */
    double lo, hi; /* bounds: RANGE lo..hi, comparisons lo */
    int nwords;    /* IN / OUT: words */
    char words[S_MAX_WORDS][S_MAX_WORD];
} s_cond_t;

struct jp_filter {
    char *text;              /* as given, owned */
    int n;                   /* conditions */
    s_cond_t c[S_MAX_CONDS]; /* all must hold */
};

/* Parsing state: the text and the position in bytes. */
typedef struct {
    const char *s; /* the whole filter */
    size_t i;      /* current byte */
    jp_err_t *err; /* where messages go */
} s_cur_t;

/* Column of byte i for people: 1-based, counting characters, not bytes. */
static int
s_col(const char *s, size_t i)
{
    int col = 1;
    for (size_t k = 0; k < i && s[k]; k++)
        col += ((unsigned char)s[k] & 0xC0) != 0x80;
    return col;
}

static void
s_ws(s_cur_t *c)
{
    while (c->s[c->i] == ' ' || c->s[c->i] == '\t')
        c->i++;
}

static int
s_perr(s_cur_t *c, size_t at, const char *what)
{
    return jp_err_set(c->err, JP_EINVAL, "filter: column %d: %s", s_col(c->s, at), what);
}

/* A decimal number: digits, optionally '.' and digits, optionally a
 * leading '-'. */
static int
s_number(s_cur_t *c, double *v, const char *after)
{
    char buf[64], msg[96];
    size_t start = c->i, k = c->i;
    if (c->s[k] == '-')
        k++;
    size_t d0 = k;
    while (c->s[k] >= '0' && c->s[k] <= '9')
        k++;
    if (c->s[k] == '.' && c->s[k + 1] >= '0' && c->s[k + 1] <= '9') {
        k++;
        while (c->s[k] >= '0' && c->s[k] <= '9')
            k++;
    }
    if (k == d0 || k - start >= sizeof buf) {
        snprintf(msg, sizeof msg, "expected a number %s", after);
        return s_perr(c, start, msg);
    }
    memcpy(buf, c->s + start, k - start);
    buf[k - start] = '\0';
    *v = strtod(buf, NULL);
    c->i = k;
    return 0;
}

static int
s_numeric_cond(s_cur_t *c, s_cond_t *k)
{
    static const struct {
        const char *op; /* as typed */
        uint8_t code;   /* S_OP_* */
    } ops[] = {{"<=", S_OP_LE}, {">=", S_OP_GE}, {"!=", S_OP_NE}, {"==", S_OP_EQ},
               {"<", S_OP_LT},  {">", S_OP_GT},  {"=", S_OP_EQ}};
    char after[48];
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].op);
        if (strncmp(c->s + c->i, ops[i].op, n) == 0) {
            c->i += n;
            s_ws(c);
            k->op = ops[i].code;
            snprintf(after, sizeof after, "after '%s'", ops[i].op);
            return s_number(c, &k->lo, after);
        }
    }
    snprintf(after, sizeof after, "or a comparison after %s", s_fld_names[k->field]);
    if (s_number(c, &k->lo, after))
        return JP_EINVAL;
    s_ws(c);
    if (strncmp(c->s + c->i, "..", 2) != 0) {
        k->op = S_OP_EQ;
        return 0;
    }
    size_t at = c->i;
    c->i += 2;
    s_ws(c);
    if (s_number(c, &k->hi, "after '..'"))
        return JP_EINVAL;
    k->op = S_OP_RANGE;
    if (k->lo > k->hi)
        return s_perr(c, at, "empty range: the lower bound comes first (5..500)");
    return 0;
}

/* Words separated by '|' up to ',' or the end, spaces around them
 * trimmed. */
static int
s_text_cond(s_cur_t *c, s_cond_t *k)
{
    k->op = S_OP_IN;
    if (strncmp(c->s + c->i, "!=", 2) == 0) {
        k->op = S_OP_OUT;
        c->i += 2;
    } else if (strncmp(c->s + c->i, "==", 2) == 0) {
        c->i += 2;
    } else if (c->s[c->i] == '=') {
        c->i++;
    }
    for (;;) {
        s_ws(c);
        size_t start = c->i, end;
        while (c->s[c->i] && c->s[c->i] != ',' && c->s[c->i] != '|')
            c->i++;
        for (end = c->i; end > start && (c->s[end - 1] == ' ' || c->s[end - 1] == '\t');)
            end--;
        if (end == start)
            return s_perr(c, start,
                          k->field == S_FLD_CLASS
                              ? "expected a class (loyal, effective, deal, "
                                "data_only)"
                              : "expected a district name");
        if (k->nwords == S_MAX_WORDS || end - start >= S_MAX_WORD)
            return s_perr(c, start, "too many or too long words in one condition");
        char *w = k->words[k->nwords++];
        memcpy(w, c->s + start, end - start);
        w[end - start] = '\0';
        if (k->field == S_FLD_CLASS) {
            if (strcmp(w, "data-only") == 0)
                strcpy(w, "data_only");
            int cls = 0;
            while (cls < JP_CLASSES && strcmp(w, jp_class_name((jp_class_t)cls)) != 0)
                cls++;
            if (cls == JP_CLASSES)
                return s_perr(c, start,
                              "unknown class (loyal, effective, deal, data_only)");
        }
        if (c->s[c->i] != '|')
            return 0;
        c->i++;
    }
}

static int
s_cond(s_cur_t *c, s_cond_t *k)
{
    char msg[160];
    s_ws(c);
    size_t start = c->i;
    while ((c->s[c->i] >= 'a' && c->s[c->i] <= 'z') || c->s[c->i] == '_' ||
           (c->s[c->i] >= '0' && c->s[c->i] <= '9'))
        c->i++;
    size_t n = c->i - start;
    if (n == 0)
        return s_perr(c, start,
                      "expected a field (daily_km, age_days, visits, spend_365, store, "
                      "class, district)");
    int f = 0;
    while (f < S_FLD_COUNT && !(strlen(s_fld_names[f]) == n &&
                                strncmp(s_fld_names[f], c->s + start, n) == 0))
        f++;
    if (f == S_FLD_COUNT) {
        snprintf(msg, sizeof msg,
                 "unknown field '%.*s' (daily_km, age_days, visits, spend_365, store, "
                 "class, district)",
                 (int)(n < 32 ? n : 32), c->s + start);
        return s_perr(c, start, msg);
    }
    memset(k, 0, sizeof *k);
    k->field = (uint8_t)f;
    s_ws(c);
    int rc = f < S_FLD_CLASS ? s_numeric_cond(c, k) : s_text_cond(c, k);
    if (rc)
        return rc;
    s_ws(c);
    if (c->s[c->i] && c->s[c->i] != ',') {
        snprintf(msg, sizeof msg, "expected ',' or the end after the condition on %s",
                 s_fld_names[f]);
        return s_perr(c, c->i, msg);
    }
    return 0;
}

int
jp_filter_parse(const char *expr, jp_filter_t **out, jp_err_t *err)
{
    assert(expr && out);
    jp_filter_t *f = calloc(1, sizeof *f);
    if (!f || !(f->text = strdup(expr))) {
        free(f);
        return jp_err_set(err, JP_ENOMEM, "filter: out of memory");
    }
    s_cur_t c = {expr, 0, err};
    int rc = 0;
    s_ws(&c);
    if (!expr[c.i])
        rc = s_perr(&c, c.i, "empty filter");
    while (!rc) {
        if (f->n == S_MAX_CONDS) {
            rc = s_perr(&c, c.i, "more than 32 conditions");
            break;
        }
        if ((rc = s_cond(&c, &f->c[f->n++])))
            break;
        if (!expr[c.i])
            break;
        c.i++; /* the ',' */
    }
    if (rc) {
        jp_filter_destroy(&f);
        return rc;
    }
    *out = f;
    return 0;
}

void
jp_filter_destroy(jp_filter_t **self_p)
{
    if (!*self_p)
        return;
    free((*self_p)->text);
    free(*self_p);
    *self_p = NULL;
}

const char *
jp_filter_text(const jp_filter_t *f)
{
    return f->text;
}

/* A vehicle's fields for the filter. */
typedef struct {
    bool km_known;         /* a reading after the delivery exists */
    double v[S_FLD_CLASS]; /* numeric fields by S_FLD_* */
    int cls;               /* owner's class, -1 none */
    const char *district;  /* owner's district, "" none */
} s_vfields_t;

static bool
s_cond_holds(const s_cond_t *k, const s_vfields_t *f)
{
    if (k->field < S_FLD_CLASS) {
        if (k->field == S_FLD_DAILY_KM && !f->km_known)
            return false; /* unknown never matches */
        double v = f->v[k->field];
        switch (k->op) {
        case S_OP_RANGE:
            return v >= k->lo && v <= k->hi;
        case S_OP_LT:
            return v < k->lo;
        case S_OP_LE:
            return v <= k->lo;
        case S_OP_GT:
            return v > k->lo;
        case S_OP_GE:
            return v >= k->lo;
        case S_OP_EQ:
            return v == k->lo;
        default:
            return v != k->lo;
        }
    }
    const char *have = k->field == S_FLD_CLASS
                           ? (f->cls < 0 ? "" : jp_class_name((jp_class_t)f->cls))
                           : f->district;
    bool in = false;
    for (int i = 0; i < k->nwords && !in; i++)
        in = strcmp(have, k->words[i]) == 0;
    return k->op == S_OP_IN ? in : !in;
}

static bool
s_filter_holds(const jp_filter_t *flt, const s_vfields_t *f)
{
    for (int i = 0; i < flt->n; i++) {
        if (!s_cond_holds(&flt->c[i], f))
            return false;
    }
    return true;
}

/* ---- computing --------------------------------------------------------- */

/* What one computation shares. */
typedef struct {
    const jp_base_t *b;
    const jp_scope_t *sc;
    int64_t D;           /* as of */
    int64_t *contact;    /* [ncomplaints] first contact in scope, S_NEVER */
    int64_t *resolved;   /* [ncomplaints] resolution in scope, S_NEVER */
    int64_t *first_sale; /* [npeople] first sale in scope, S_NEVER */
    int8_t *cls;         /* [npeople] class at D, -1 not an owner */
    uint32_t *dist;      /* [npeople] district index + 1, 0 none */
} s_ctx_t;

static inline bool
s_in(const s_ctx_t *x, const s_ev_t *e)
{
    return jp_scope_has(x->sc, e->store);
}

static inline bool
s_is_purchase(const s_ev_t *e)
{
    return e->kind == JP_K_VEHICLE || e->kind == JP_K_INSURANCE ||
           e->kind == JP_K_PACKAGE || (e->kind == JP_K_SERVICE && e->amount > 0);
}

/* t in the trailing window (T - days, T]. */
static inline bool
s_trailing(int64_t t, int64_t T, int64_t days)
{
    return t > T - days * JP_DAY_MS && t <= T;
}

#define S_EVENTS(x, p, e)                                                                \
    for (uint32_t i_ = (x)->b->pev0[p], e_ = (x)->b->pev0[(p) + 1]; i_ < e_; i_++)       \
        for (const s_ev_t *e = &(x)->b->ev[(x)->b->pev[i_]]; e; e = NULL)

/* An owner's class as of T (T <= D), from the events in scope up to T;
 * -1 when the person has no sale in scope by T. */
static int
s_class_at(const s_ctx_t *x, uint32_t p, int64_t T)
{
    int64_t first_sale = S_NEVER;
    int purchases = 0;
    bool serviced = false, open = false;
    S_EVENTS(x, p, e)
    {
        if (!s_in(x, e) || e->at > T)
            continue;
        if (s_is_purchase(e) && s_trailing(e->at, T, 730))
            purchases++;
        if (e->kind == JP_K_VEHICLE && e->at < first_sale)
            first_sale = e->at;
        if (e->kind == JP_K_SERVICE && s_trailing(e->at, T, 365))
            serviced = true;
        /* Unresolved at T: no resolution at or before T. */
        if (e->kind == JP_K_COMPLAINT && s_trailing(e->at, T, 365) &&
            x->resolved[e->aux] > T)
            open = true;
    }
    if (first_sale == S_NEVER)
        return -1;
    if (purchases >= 3 && !open)
        return JP_CLASS_LOYAL;
    if (serviced)
        return JP_CLASS_EFFECTIVE;
    if (s_trailing(first_sale, T, 365))
        return JP_CLASS_DEAL;
    return JP_CLASS_DATA_ONLY;
}

/* One person's facts at D, from the scope's rows and events. */
typedef struct {
    bool in_scope;         /* a row or an event in scope */
    int64_t first_created; /* earliest row in scope exists from, S_NEVER */
    uint32_t last_row;     /* latest created row in scope, S_NONE */
    uint32_t dist;         /* district of the latest row having one */
    int sales;             /* sales (ever, <= D) */
    int64_t first_sale;    /* S_NEVER */
    int64_t last_purchase; /* INT64_MIN none */
    int64_t last_visit;    /* latest service visit, INT64_MIN none */
    bool bought_prior;     /* a purchase in (D-730, D-365] */
    bool bought_365;       /* ... in (D-365, D] */
    bool bought_182;       /* ... in (D-182, D] */
    bool bought_mid;       /* ... in (D-365, D-182] */
    int stores;            /* distinct stores of purchases: 0, 1, 2 = more */
    uint16_t store1;       /* the first of them */
    int64_t revenue;       /* fen, purchases in (D-365, D] */
    int referrals;         /* made in (D-365, D] */
    bool contact_91;       /* a contact in (D-91, D] */
    int64_t last_contact;  /* INT64_MIN none */
    uint8_t grade;         /* current grade, 0 none */
    int64_t grade_at;      /* its moment */
    bool defeated;         /* latest grade-setting moment or defeat is a defeat */
    uint8_t reason;        /* of the latest defeat */
    bool surveyed;         /* a survey in (D-365, D] */
    uint8_t sat, rep, rec; /* the latest one's answers */
} s_sum_t;

static void
s_sum_rows(const s_ctx_t *x, uint32_t p, s_sum_t *s)
{
    const jp_base_t *b = x->b;
    for (uint32_t i = b->prow0[p]; i < b->prow0[p + 1]; i++) {
        const s_row_t *r = &b->rows[b->prow[i]];
        if (!jp_scope_has(x->sc, r->store))
            continue;
        s->in_scope = true;
        if (r->exist < s->first_created)
            s->first_created = r->exist;
        s->last_row = b->prow[i]; /* rows run by created, store, id */
        if (r->dist)
            s->dist = r->dist;
        /* The grade column is dated at created_at (after D it has not
         * been set yet); rows come first, so a grade event at the same
         * instant replaces it below. */
        if (r->grade && r->created <= x->D) {
            s->grade = r->grade;
            s->grade_at = r->created;
        }
    }
}

static void
s_sum_purchase(const s_ctx_t *x, const s_ev_t *e, s_sum_t *s)
{
    int64_t D = x->D;
    if (e->at > s->last_purchase)
        s->last_purchase = e->at;
    if (e->at > D - 730 * JP_DAY_MS && e->at <= D - 365 * JP_DAY_MS)
        s->bought_prior = true;
    if (s_trailing(e->at, D, 365)) {
        s->bought_365 = true;
        s->revenue += e->amount > 0 ? e->amount : 0;
        if (s_trailing(e->at, D, 182))
            s->bought_182 = true;
        else
            s->bought_mid = true;
    }
    if (s->stores == 0) {
        s->stores = 1;
        s->store1 = e->store;
    } else if (e->store != s->store1) {
        s->stores = 2;
    }
}

static void
s_summarise(const s_ctx_t *x, uint32_t p, s_sum_t *s)
{
    int64_t D = x->D, defeat_at = INT64_MIN;
    memset(s, 0, sizeof *s);
    s->first_created = s->first_sale = S_NEVER;
    s->last_purchase = s->last_contact = s->grade_at = s->last_visit = INT64_MIN;
    s->last_row = S_NONE;
    s_sum_rows(x, p, s);
    S_EVENTS(x, p, e)
    {
        if (!s_in(x, e))
            continue;
        s->in_scope = true;
        if (s_is_purchase(e))
            s_sum_purchase(x, e, s);
        switch (e->kind) {
        case JP_K_VEHICLE:
            s->sales++;
            if (e->at < s->first_sale)
                s->first_sale = e->at;
            break;
        case JP_K_SERVICE:
            s->last_visit = e->at;
            break;
        case JP_K_REFERRAL:
            s->referrals += s_trailing(e->at, D, 365);
            break;
        case JP_K_CONTACT:
            s->contact_91 |= s_trailing(e->at, D, 91);
            s->last_contact = e->at;
            break;
        case JP_K_GRADE:
            if (e->e1 && e->at >= s->grade_at) { /* an event wins a tie */
                s->grade = e->e1;
                s->grade_at = e->at;
            }
            break;
        case JP_K_DEFEAT:
            defeat_at = e->at; /* events run by time: the last is the latest */
            s->reason = e->e1;
            break;
        case JP_K_SURVEY:
            if (e->e1 && e->e2 && e->e3 && s_trailing(e->at, D, 365)) {
                s->surveyed = true;
                s->sat = e->e1, s->rep = e->e2, s->rec = e->e3;
            }
            break;
        default:
            break;
        }
    }
    /* A defeat wins a tie with a grade-setting moment. */
    s->defeated = defeat_at != INT64_MIN && defeat_at >= s->grade_at;
}

/* Survey answers into the loyalty figures' sums. */
typedef struct {
    int64_t n;         /* surveyed people */
    int64_t sat[5];    /* by level */
    int64_t rep[3];    /* high, mid, low */
    int64_t rec[3];    /* very likely, possible, unlikely */
    int64_t points[3]; /* component points: satisfaction, repurchase, recommend */
} s_survey_t;

static void
s_tally_survey(const s_sum_t *s, s_survey_t *v)
{
    static const int64_t band[4] = {0, 100, 50, 0}; /* by enum index */
    v->n++;
    v->sat[s->sat - 1]++;
    v->rep[s->rep - 1]++;
    v->rec[s->rec - 1]++;
    v->points[0] += (s->sat - 1) * 25; /* (level - 1) / 4 x 100 */
    v->points[1] += band[s->rep];
    v->points[2] += band[s->rec];
}

static void
s_tally_prospect(const s_sum_t *s, jp_stats_t *o)
{
    o->prospects++;
    o->prospects_grade[s->grade - 1]++;
    if (s->defeated)
        o->defeated++;
    else
        o->open_grade[s->grade - 1]++;
}

/* The funnel: the person's earliest row in scope was created in the
 * trailing year and they have a grade in scope. */
static void
s_tally_funnel(const s_ctx_t *x, const s_sum_t *s, int64_t *created, int64_t *conv,
               int64_t *def, jp_stats_t *o)
{
    if (!s->grade || !s_trailing(s->first_created, x->D, 365))
        return;
    (*created)++;
    if (s->sales > 0) {
        (*conv)++;
    } else if (s->defeated) {
        (*def)++;
        if (s->reason)
            o->defeat_reason[s->reason - 1]++;
        else
            o->defeat_reason_none++;
    } else {
        o->funnel_open[s->grade - 1]++;
    }
}

/* The churn warning: an owner whose first sale is more than 182 days
 * before D, with no purchase in (D-182, D] but one in (D-365, D-182]. */
static bool
s_at_risk(const s_ctx_t *x, const s_sum_t *s)
{
    return s->sales > 0 && s->first_sale < x->D - 182 * JP_DAY_MS && !s->bought_182 &&
           s->bought_mid;
}

/* Counters of the owner figures before they become rates. */
typedef struct {
    int64_t repeat, prior, retained, churn_den, churn, quarterly_den, quarterly;
} s_owner_t;

static void
s_tally_owner(const s_ctx_t *x, const s_sum_t *s, int cls, s_owner_t *w, jp_stats_t *o)
{
    int64_t D = x->D;
    o->owners++;
    o->owner_class[cls]++;
    w->repeat += s->sales >= 2;
    if (s->bought_prior) {
        w->prior++;
        w->retained += s->bought_365;
    }
    if (s->first_sale < D - 365 * JP_DAY_MS) {
        w->churn_den++;
        w->churn += !s->bought_365;
    }
    o->at_risk += s_at_risk(x, s);
    if (s->first_sale <= D - 182 * JP_DAY_MS) {
        w->quarterly_den++;
        w->quarterly += s->contact_91;
    }
}

static int
s_i64_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

/* Value concentration over the revenues (> 0) of n people. */
static void
s_concentration(int64_t *rev, int64_t n, jp_stats_t *o)
{
    int64_t total = 0, top[2] = {0, 0};
    qsort(rev, (size_t)n, sizeof *rev, s_i64_desc);
    o->top_n[0] = (n + 39) / 40; /* ceil(2.5% x n) */
    o->top_n[1] = (n + 4) / 5;   /* ceil(20% x n) */
    for (int64_t i = 0; i < n; i++) {
        total += rev[i];
        for (int k = 0; k < 2; k++)
            top[k] += i < o->top_n[k] ? rev[i] : 0;
    }
    o->revenue_people = n;
    o->revenue_fen = total;
    for (int k = 0; k < 2; k++)
        o->top_share[k] = jp_rate(top[k], total);
}

/* Walk every person once: base size, classes, loyalty, churn. */
static int
s_people_pass(s_ctx_t *x, jp_stats_t *o)
{
    const jp_base_t *b = x->b;
    s_survey_t sv = {0};
    s_owner_t w = {0};
    int64_t nrev = 0, fc = 0, fconv = 0, fdef = 0;
    int64_t *rev = malloc(((size_t)b->npeople + 1) * sizeof *rev);
    if (!rev)
        return JP_ENOMEM;
    for (uint32_t p = 0; p < b->npeople; p++) {
        s_sum_t s;
        s_summarise(x, p, &s);
        x->first_sale[p] = s.first_sale;
        x->dist[p] = s.dist;
        x->cls[p] = -1;
        if (!s.in_scope)
            continue;
        o->people++;
        if (s.sales > 0) {
            x->cls[p] = (int8_t)s_class_at(x, p, x->D);
            s_tally_owner(x, &s, x->cls[p], &w, o);
        } else if (s.grade) {
            s_tally_prospect(&s, o);
        }
        s_tally_funnel(x, &s, &fc, &fconv, &fdef, o);
        o->vip += s.referrals >= 3;
        o->cross_store += s.stores >= 2;
        if (s.surveyed)
            s_tally_survey(&s, &sv);
        if (s.revenue > 0)
            rev[nrev++] = s.revenue;
    }
    o->repeat_purchase = jp_rate(w.repeat, o->owners);
    o->retention = jp_rate(w.retained, w.prior);
    o->churn = jp_rate(w.churn, w.churn_den);
    o->quarterly = jp_rate(w.quarterly, w.quarterly_den);
    o->funnel_created = fc;
    o->funnel_converted = jp_rate(fconv, fc);
    o->funnel_defeated = jp_rate(fdef, fc);
    o->surveyed = sv.n;
    for (int i = 0; i < 5; i++)
        o->satisfaction[i] = jp_rate(sv.sat[i], sv.n);
    o->csat = jp_rate(sv.sat[3] + sv.sat[4], sv.n);
    for (int i = 0; i < 3; i++) {
        o->repurchase[i] = jp_rate(sv.rep[i], sv.n);
        o->recommend[i] = jp_rate(sv.rec[i], sv.n);
        o->index_part[i] = s_fixed(sv.points[i], sv.n);
    }
    o->net_recommend = s_fixed(100 * (sv.rec[0] - sv.rec[2]), sv.n);
    o->loyalty_index = s_fixed(sv.points[0] + sv.points[1] + sv.points[2], 3 * sv.n);
    s_concentration(rev, nrev, o);
    free(rev);
    return 0;
}

/* First contact and resolution of every complaint, from the scope's
 * complaint_contact and complaint_resolved events. */
static void
s_complaint_state(s_ctx_t *x)
{
    const jp_base_t *b = x->b;
    for (uint32_t i = 0; i < b->ncomplaints; i++)
        x->contact[i] = x->resolved[i] = S_NEVER;
    for (size_t i = 0; i < b->nev; i++) {
        const s_ev_t *e = &b->ev[i];
        if ((e->kind != JP_K_COMPLAINT_CONTACT && e->kind != JP_K_COMPLAINT_RESOLVED) ||
            e->aux == S_NONE || !s_in(x, e))
            continue;
        int64_t *slot = e->kind == JP_K_COMPLAINT_CONTACT ? x->contact : x->resolved;
        uint32_t k = b->ev[e->aux].aux;
        if (e->at < slot[k])
            slot[k] = e->at;
    }
}

/* A purchase in scope by person p with from <= t <= to. */
static bool
s_bought_between(const s_ctx_t *x, uint32_t p, int64_t from, int64_t to)
{
    S_EVENTS(x, p, e)
    {
        if (s_in(x, e) && s_is_purchase(e) && e->at >= from && e->at <= to)
            return true;
    }
    return false;
}

static int
s_i64_asc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int
s_complaints_pass(s_ctx_t *x, jp_stats_t *o)
{
    const jp_base_t *b = x->b;
    int64_t D = x->D, n = 0, in_hour = 0, nres = 0;
    int64_t ret[2][3][2] = {{{0}}}; /* severity, state, {returned, all} */
    int64_t *dur = malloc(((size_t)b->ncomplaints + 1) * sizeof *dur);
    if (!dur)
        return JP_ENOMEM;
    for (size_t i = 0; i < b->nev; i++) {
        const s_ev_t *e = &b->ev[i];
        if (e->kind != JP_K_COMPLAINT || e->row == S_NONE || !s_in(x, e))
            continue;
        int64_t contact = x->contact[e->aux], res = x->resolved[e->aux];
        if (s_trailing(e->at, D, 365)) {
            n++;
            if (e->e1)
                o->complaint_severity[e->e1 - 1]++;
            if (e->e2)
                o->complaint_subject[e->e2 - 1]++;
            if (e->e1 && e->e2)
                o->complaint_cross[e->e1 - 1][e->e2 - 1]++;
            /* Never contacted is missed; exactly 60:00 is in time. */
            in_hour += contact != S_NEVER && contact - e->at <= S_HOUR_MS;
            if (res != S_NEVER)
                dur[nres++] = res - e->at;
        } else if (e->at > D - 730 * JP_DAY_MS && e->at <= D - 365 * JP_DAY_MS && e->e1) {
            int state = res == S_NEVER ? 2 : res - e->at <= 24 * S_HOUR_MS ? 0 : 1;
            uint32_t p = b->rows[e->row].person;
            int64_t(*cell)[2] = &ret[e->e1 - 1][state];
            (*cell)[1]++;
            (*cell)[0] += s_bought_between(x, p, e->at, e->at + 365 * JP_DAY_MS);
        }
    }
    o->complaints = n;
    o->contact_1h = jp_rate(in_hour, n);
    o->resolution = jp_rate(nres, n);
    qsort(dur, (size_t)nres, sizeof *dur, s_i64_asc);
    /* Hours are ms / 3,600,000; an even count takes the mean of the middle
     * two, (a + b) / 2 / 3,600,000, rounded once. */
    if (nres == 0)
        o->resolve_hours = s_fixed(0, 0);
    else if (nres % 2)
        o->resolve_hours = s_fixed(dur[nres / 2], S_HOUR_MS);
    else
        o->resolve_hours = s_fixed(dur[nres / 2 - 1] + dur[nres / 2], 2 * S_HOUR_MS);
    for (int sv = 0; sv < 2; sv++) {
        for (int st = 0; st < 3; st++)
            o->return_after[sv][st] = jp_rate(ret[sv][st][0], ret[sv][st][1]);
    }
    free(dur);
    return 0;
}

static void
s_referrals_pass(const s_ctx_t *x, jp_stats_t *o)
{
    const jp_base_t *b = x->b;
    int64_t n = 0, conv = 0;
    for (size_t i = 0; i < b->nev; i++) {
        const s_ev_t *e = &b->ev[i];
        if (e->kind != JP_K_REFERRAL || e->row == S_NONE || !s_in(x, e) ||
            !s_trailing(e->at, x->D, 365))
            continue;
        n++;
        if (e->aux == S_NONE)
            continue; /* the lead is not known here */
        int64_t fs = x->first_sale[b->rows[e->aux].person];
        conv += fs != S_NEVER && fs >= e->at && fs <= e->at + 365 * JP_DAY_MS;
    }
    o->referrals = jp_rate(conv, n);
}

/* A contact in scope by person p with from <= t <= to. */
static bool
s_contacted_between(const s_ctx_t *x, uint32_t p, int64_t from, int64_t to)
{
    S_EVENTS(x, p, e)
    {
        if (e->kind == JP_K_CONTACT && s_in(x, e) && e->at >= from && e->at <= to)
            return true;
    }
    return false;
}

/* A vehicle's filter fields, its VIN's visits counted at any store. */
static void
s_vehicle_fields(const s_ctx_t *x, const s_ev_t *v, s_vfields_t *f)
{
    const jp_base_t *b = x->b;
    int64_t visits = 0, spend = 0, km = -1, km_at = 0;
    uint32_t p = b->rows[v->row].person;
    if (v->vin != S_NONE) {
        for (uint32_t i = b->vsvc0[v->vin]; i < b->vsvc0[v->vin + 1]; i++) {
            const s_ev_t *s = &b->ev[b->vsvc[i]];
            visits++;
            if (s_trailing(s->at, x->D, 365))
                spend += s->amount;
            if (s->mileage >= 0) { /* runs by time: the last is the latest */
                km = s->mileage;
                km_at = s->at;
            }
        }
    }
    memset(f, 0, sizeof *f);
    f->km_known = km >= 0 && km_at > v->at;
    if (f->km_known)
        f->v[S_FLD_DAILY_KM] = (double)km / ((double)(km_at - v->at) / JP_DAY_MS);
    f->v[S_FLD_AGE_DAYS] = (double)(x->D - v->at) / JP_DAY_MS;
    f->v[S_FLD_VISITS] = (double)visits;
    f->v[S_FLD_SPEND_365] = (double)spend / 100.0;
    f->v[S_FLD_STORE] = v->store;
    f->cls = x->cls[p];
    f->district = x->dist[p] ? b->pool + b->dists[x->dist[p] - 1] : "";
}

/* A service visit of the VIN at any store with from <= t <= to (first
 * maintenance only, if first). */
static bool
s_visited(const jp_base_t *b, uint32_t vin, int64_t from, int64_t to, bool first)
{
    if (vin == S_NONE)
        return false;
    for (uint32_t i = b->vsvc0[vin]; i < b->vsvc0[vin + 1]; i++) {
        const s_ev_t *s = &b->ev[b->vsvc[i]];
        if (s->at >= from && s->at <= to && (!first || s->e1 == S_FIRST_MAINTENANCE))
            return true;
    }
    return false;
}

/* Walk every sale once: first maintenance, 6-month return, day-3 and
 * day-7 calls, the cohort filter. */
static void
s_vehicles_pass(const s_ctx_t *x, const jp_filter_t *flt, jp_stats_t *o)
{
    const jp_base_t *b = x->b;
    int64_t D = x->D, fm[2] = {0}, six[2] = {0}, d3[2] = {0}, d7[2] = {0}, fl[2] = {0};
    for (size_t i = 0; i < b->nev; i++) {
        const s_ev_t *v = &b->ev[i];
        if (v->kind != JP_K_VEHICLE || v->row == S_NONE || !s_in(x, v))
            continue;
        uint32_t p = b->rows[v->row].person;
        if (v->at > D - 456 * JP_DAY_MS && v->at <= D - 91 * JP_DAY_MS) {
            fm[1]++;
            fm[0] += s_visited(b, v->vin, v->at, v->at + 91 * JP_DAY_MS, true);
        }
        if (v->at <= D - 182 * JP_DAY_MS) {
            six[1]++;
            six[0] += s_visited(b, v->vin, D - 182 * JP_DAY_MS + 1, D, false);
        }
        if (v->at > D - 365 * JP_DAY_MS && v->at <= D - 7 * JP_DAY_MS) {
            d3[1]++;
            d7[1]++;
            d3[0] += s_contacted_between(x, p, v->at, v->at + 3 * JP_DAY_MS);
            d7[0] += s_contacted_between(x, p, v->at, v->at + 7 * JP_DAY_MS);
        }
        if (flt) {
            s_vfields_t f;
            s_vehicle_fields(x, v, &f);
            fl[1]++;
            fl[0] += s_filter_holds(flt, &f);
        }
    }
    o->first_maintenance = jp_rate(fm[0], fm[1]);
    o->six_month = jp_rate(six[0], six[1]);
    o->day3 = jp_rate(d3[0], d3[1]);
    o->day7 = jp_rate(d7[0], d7[1]);
    o->filtered = flt != NULL;
    o->filter = jp_rate(fl[0], fl[1]);
}

static int
s_tier(int cls)
{
    return cls == JP_CLASS_LOYAL ? 0 : cls == JP_CLASS_DATA_ONLY ? 2 : 1;
}

/* Owners by district and tier at D and at D - 365 days (each person's
 * current district). */
static int
s_regional(const s_ctx_t *x, jp_stats_t *o)
{
    const jp_base_t *b = x->b;
    size_t nd = (size_t)b->ndists + 1; /* slot 0: no district */
    jp_district_t *d = calloc(nd, sizeof *d);
    if (!d)
        return JP_ENOMEM;
    for (uint32_t p = 0; p < b->npeople; p++) {
        int before = s_class_at(x, p, x->D - 365 * JP_DAY_MS);
        if (x->cls[p] >= 0)
            d[x->dist[p]].now[s_tier(x->cls[p])]++;
        if (before >= 0)
            d[x->dist[p]].before[s_tier(before)]++;
    }
    /* Named districts in byte order, then owners without one. */
    o->districts = calloc(nd, sizeof *o->districts);
    if (!o->districts) {
        free(d);
        return JP_ENOMEM;
    }
    for (size_t k = 1; k <= nd; k++) {
        size_t i = k % nd;
        int64_t any = 0;
        for (int t = 0; t < 3; t++)
            any += d[i].now[t] + d[i].before[t];
        if (!any)
            continue;
        jp_district_t *out = &o->districts[o->ndistricts++];
        *out = d[i];
        snprintf(out->name, sizeof out->name, "%s", i ? b->pool + b->dists[i - 1] : "");
    }
    free(d);
    return 0;
}

static int
s_ctx_new(s_ctx_t *x, const jp_base_t *b, const jp_scope_t *sc)
{
    memset(x, 0, sizeof *x);
    x->b = b;
    x->sc = sc;
    x->D = b->asof;
    size_t np = (size_t)b->npeople + 1, nc = (size_t)b->ncomplaints + 1;
    x->contact = malloc(nc * sizeof *x->contact);
    x->resolved = malloc(nc * sizeof *x->resolved);
    x->first_sale = malloc(np * sizeof *x->first_sale);
    x->cls = malloc(np * sizeof *x->cls);
    x->dist = malloc(np * sizeof *x->dist);
    if (!x->contact || !x->resolved || !x->first_sale || !x->cls || !x->dist)
        return JP_ENOMEM;
    s_complaint_state(x);
    return 0;
}

static void
s_ctx_free(s_ctx_t *x)
{
    free(x->contact);
    free(x->resolved);
    free(x->first_sale);
    free(x->cls);
    free(x->dist);
}

int
jp_stats_compute(const jp_base_t *b, const jp_scope_t *scope, const jp_filter_t *filter,
                 jp_stats_t *out)
{
    assert(b && scope && out);
    s_ctx_t x;
    memset(out, 0, sizeof *out);
    out->asof = b->asof;
    int rc = s_ctx_new(&x, b, scope);
    if (!rc)
        rc = s_people_pass(&x, out);
    if (!rc)
        rc = s_complaints_pass(&x, out);
    if (!rc) {
        s_referrals_pass(&x, out);
        s_vehicles_pass(&x, filter, out);
        rc = s_regional(&x, out);
    }
    s_ctx_free(&x);
    if (rc)
        jp_stats_free(out);
    return rc;
}

void
jp_stats_free(jp_stats_t *s)
{
    free(s->districts);
    s->districts = NULL;
    s->ndistricts = 0;
}

int
jp_stats_run(jp_txn_t *txn, const jp_scope_t *scope, int64_t asof_ms, const char *tz,
             const jp_filter_t *filter, jp_stats_t *out, jp_err_t *err)
{
    jp_base_t *b = NULL;
    if (tz && jp_tz_set(tz) != 0)
        return jp_err_set(err, JP_EINVAL, "statistics: unknown time zone %.64s", tz);
    int rc = jp_base_load(txn, asof_ms, &b, err);
    if (rc)
        return rc;
    rc = jp_stats_compute(b, scope, filter, out);
    jp_base_destroy(&b);
    if (rc)
        return jp_err_set(err, rc, "statistics: out of memory");
    return 0;
}

/* ---- one customer's standing (the counter screens) --------------------- */

#define S_MAX_LINKED 256 /* rows of one person followed by the card */

typedef struct {
    jp_id_t ids[S_MAX_LINKED]; /* rows found so far */
    int n;                     /* used */
} s_linked_t;

static int
s_on_linked(void *arg, const jp_id_t *id)
{
    s_linked_t *l = arg;
    for (int i = 0; i < l->n; i++) {
        if (jp_id_cmp(&l->ids[i], id) == 0)
            return 0;
    }
    if (l->n < S_MAX_LINKED)
        l->ids[l->n++] = *id;
    return 0;
}

static int
s_on_timeline(void *arg, const jp_id_t *id)
{
    return s_on_record(arg, id);
}

int
jp_base_load_customer(jp_txn_t *txn, int64_t asof_ms, const jp_id_t *customer,
                      jp_base_t **out, jp_err_t *err)
{
    assert(txn && customer && out);
    jp_base_t *b;
    s_linked_t *l = calloc(1, sizeof *l);
    int rc = l ? s_base_new(asof_ms, &b) : JP_ENOMEM;
    if (rc) {
        free(l);
        return jp_err_set(err, rc, "statistics: out of memory");
    }
    s_load_t ld = {txn, b};
    l->ids[l->n++] = *customer;
    /* Breadth first over shared phones and ID numbers: the whole person. */
    for (int i = 0; i < l->n && !rc; i++) {
        jp_record_t r;
        if (jp_txn_get(txn, &l->ids[i], &r) != 0 || r.kind != JP_K_CUSTOMER)
            continue;
        if ((rc = s_add(b, &l->ids[i], &r)) || jp_record_deleted(&r))
            continue;
        const jp_slot_t *ph = &r.f[JP_F_PHONE], *in = &r.f[JP_F_ID_NUMBER];
        char key[JP_MAX_STR + 1];
        if (ph->set && ph->v.type == JP_T_STR) {
            snprintf(key, sizeof key, "%.*s", (int)ph->v.u.s.n, ph->v.u.s.p);
            rc = jp_txn_find(txn, JP_IX_PHONE, key, strlen(key), false, s_on_linked, l);
        }
        if (!rc && in->set && in->v.type == JP_T_STR) {
            snprintf(key, sizeof key, "%.*s", (int)in->v.u.s.n, in->v.u.s.p);
            rc = jp_txn_find(txn, JP_IX_IDNUM, key, strlen(key), false, s_on_linked, l);
        }
        if (rc == JP_ENOTFOUND)
            rc = 0;
    }
    for (int i = 0; i < l->n && !rc; i++) {
        rc = jp_txn_timeline(txn, &l->ids[i], s_on_timeline, &ld);
        if (rc == JP_ENOTFOUND)
            rc = 0;
    }
    free(l);
    if (!rc)
        rc = s_finish(b);
    if (rc) {
        jp_base_destroy(&b);
        return jp_err_set(err, rc, "statistics: loading a customer: %s", jp_strerror(rc));
    }
    *out = b;
    return 0;
}

int
jp_stats_standing(const jp_base_t *b, const jp_scope_t *scope, const jp_id_t *customer,
                  jp_standing_t *out)
{
    assert(b && scope && customer && out);
    s_ctx_t x;
    s_sum_t s;
    memset(out, 0, sizeof *out);
    out->cls = -1;
    uint32_t row = s_row_of(b, customer);
    if (row == S_NONE)
        return JP_ENOTFOUND;
    int rc = s_ctx_new(&x, b, scope);
    if (!rc) {
        uint32_t p = b->rows[row].person;
        s_summarise(&x, p, &s);
        if (s.sales > 0) {
            out->cls = s_class_at(&x, p, x.D);
        } else if (s.grade) {
            out->grade = s.grade;
            out->defeated = s.defeated;
        }
    }
    s_ctx_free(&x);
    return rc;
}

/* ---- the daily work list ----------------------------------------------- */

const char *
jp_due_name(jp_due_kind_t k)
{
    static const char *const names[JP_DUE_KINDS] = {
        "day3",     "day7",      "first_maintenance", "renewal",
        "birthday", "follow_up", "complaint",         "at_risk"};
    return k < JP_DUE_KINDS ? names[k] : "unknown";
}

/* Civil date <-> days since 1970-01-01 (proleptic Gregorian). */
static int64_t
s_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
s_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool
s_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The first anniversary of day (same month and day; 29 February falls on
 * the 28th in other years) on or after today; *years since day. */
static int64_t
s_next_anniversary(int64_t day, int64_t today, int64_t *years)
{
    int64_t y0, ty;
    int m, d, tm, td;
    s_civil_from_days(day, &y0, &m, &d);
    s_civil_from_days(today, &ty, &tm, &td);
    for (int64_t y = ty;; y++) {
        int dd = m == 2 && d == 29 && !s_leap(y) ? 28 : d;
        int64_t a = s_days_from_civil(y, m, dd);
        if (a >= today) {
            *years = y - y0;
            return a;
        }
    }
}

typedef struct {
    const s_ctx_t *x;
    jp_worklist_t *w;
    size_t cap;
} s_wl_t;

static int
s_due(s_wl_t *l, jp_due_kind_t kind, uint32_t row, const jp_id_t *record, int64_t due,
      int64_t since, int64_t extra, uint32_t vin)
{
    const jp_base_t *b = l->x->b;
    if (s_grow((void **)&l->w->items, &l->cap, l->w->n + 1, sizeof *l->w->items))
        return JP_ENOMEM;
    const s_row_t *r = &b->rows[row];
    l->w->items[l->w->n++] = (jp_due_t){
        .kind = (uint8_t)kind,
        .customer = r->id,
        .record = *record,
        .due_day = due,
        .since = since,
        .extra = extra,
        .name = b->pool + r->name,
        .phone = b->pool + r->phone,
        .vin = vin == S_NONE ? "" : b->pool + b->vins[vin],
    };
    l->w->count[kind]++;
    return 0;
}

/* Calls after a delivery, first maintenance, renewal. */
static int
s_due_vehicle(s_wl_t *l, const s_ev_t *v)
{
    const s_ctx_t *x = l->x;
    int64_t today = l->w->today, dd = jp_local_day(v->at), age = today - dd, years;
    uint32_t p = x->b->rows[v->row].person;
    int rc = 0;
    if (age >= 1 && age <= 6 && !s_contacted_between(x, p, v->at, x->D))
        rc = s_due(l, JP_DUE_DAY3, v->row, &v->id,
                   jp_local_day(v->at + 3 * JP_DAY_MS - 1), v->at, 0, v->vin);
    if (!rc && age >= 4 && age <= 13 &&
        !s_contacted_between(x, p, v->at + 3 * JP_DAY_MS + 1, x->D))
        rc = s_due(l, JP_DUE_DAY7, v->row, &v->id,
                   jp_local_day(v->at + 7 * JP_DAY_MS - 1), v->at, 0, v->vin);
    if (!rc && age >= 75 && age <= 91 && !s_visited(x->b, v->vin, v->at, x->D, true))
        rc = s_due(l, JP_DUE_FIRST_MAINT, v->row, &v->id, dd + 75, v->at, 0, v->vin);
    int64_t a = s_next_anniversary(dd, today, &years);
    if (!rc && years >= 1 && a - today < 30)
        rc = s_due(l, JP_DUE_RENEWAL, v->row, &v->id, a, v->at, years, v->vin);
    return rc;
}

/* The birthday of the person's latest row in scope that has one. */
static int
s_due_birthday(s_wl_t *l, uint32_t p)
{
    const jp_base_t *b = l->x->b;
    uint32_t row = S_NONE;
    int64_t years;
    for (uint32_t i = b->prow0[p]; i < b->prow0[p + 1]; i++) {
        const s_row_t *r = &b->rows[b->prow[i]];
        if (jp_scope_has(l->x->sc, r->store) && r->birthday != INT32_MIN)
            row = b->prow[i];
    }
    if (row == S_NONE)
        return 0;
    int64_t a = s_next_anniversary(b->rows[row].birthday, l->w->today, &years);
    if (a - l->w->today >= 7)
        return 0;
    return s_due(l, JP_DUE_BIRTHDAY, row, &b->rows[row].id, a, 0, years, S_NONE);
}

/* Birthdays, prospect follow-ups, at-risk owners. */
static int
s_due_person(s_wl_t *l, uint32_t p)
{
    static const int cadence[JP_GRADES + 1] = {0, 0, 2, 4, 7, 15, 0}; /* by grade */
    const s_ctx_t *x = l->x;
    s_sum_t s;
    s_summarise(x, p, &s);
    if (!s.in_scope || s.last_row == S_NONE)
        return 0;
    const jp_id_t *id = &x->b->rows[s.last_row].id;
    int rc = s_due_birthday(l, p);
    if (!rc && s.sales == 0 && s.grade && !s.defeated && cadence[s.grade]) {
        int64_t last = s.last_contact != INT64_MIN ? s.last_contact : s.grade_at;
        int64_t due = jp_local_day(last) + cadence[s.grade];
        if (due <= l->w->today)
            rc = s_due(l, JP_DUE_FOLLOW_UP, s.last_row, id, due, last, s.grade, S_NONE);
    }
    if (!rc && s_at_risk(x, &s))
        rc = s_due(l, JP_DUE_AT_RISK, s.last_row, id, l->w->today, s.last_purchase, 0,
                   S_NONE);
    return rc;
}

static int
s_due_cmp(const void *a, const void *b)
{
    const jp_due_t *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->due_day != y->due_day)
        return x->due_day < y->due_day ? -1 : 1;
    int c = jp_id_cmp(&x->customer, &y->customer);
    return c ? c : jp_id_cmp(&x->record, &y->record);
}

int
jp_worklist_compute(const jp_base_t *b, const jp_scope_t *scope, jp_worklist_t *out)
{
    assert(b && scope && out);
    s_ctx_t x;
    memset(out, 0, sizeof *out);
    out->today = jp_local_day(b->asof);
    s_wl_t l = {&x, out, 0};
    int rc = s_ctx_new(&x, b, scope);
    for (size_t i = 0; i < b->nev && !rc; i++) {
        const s_ev_t *e = &b->ev[i];
        if (e->row == S_NONE || !s_in(&x, e))
            continue;
        if (e->kind == JP_K_VEHICLE)
            rc = s_due_vehicle(&l, e);
        else if (e->kind == JP_K_COMPLAINT && e->at <= x.D - S_HOUR_MS &&
                 x.contact[e->aux] == S_NEVER && x.resolved[e->aux] == S_NEVER)
            rc = s_due(&l, JP_DUE_COMPLAINT, e->row, &e->id,
                       jp_local_day(e->at + S_HOUR_MS), e->at, 0, S_NONE);
    }
    for (uint32_t p = 0; p < b->npeople && !rc; p++)
        rc = s_due_person(&l, p);
    s_ctx_free(&x);
    if (rc) {
        jp_worklist_free(out);
        return rc;
    }
    if (out->n > 1) /* items is NULL when nothing is due */
        qsort(out->items, out->n, sizeof *out->items, s_due_cmp);
    return 0;
}

void
jp_worklist_free(jp_worklist_t *w)
{
    free(w->items);
    memset(w, 0, sizeof *w);
}

/* ---- the churn warning list at any scope ------------------------------- */

/* Add st to the n distinct stores in out (room for one more); the new
 * count. */
static size_t
s_store_once(uint16_t st, uint16_t *out, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (out[k] == st)
            return n;
    }
    out[n] = st;
    return n + 1;
}

/* The distinct stores in scope of person p's rows and events into out,
 * which has room for one per row and event; how many there are. */
static size_t
s_person_stores(const jp_base_t *b, const jp_scope_t *sc, uint32_t p, uint16_t *out)
{
    size_t n = 0;
    for (uint32_t i = b->prow0[p]; i < b->prow0[p + 1]; i++) {
        uint16_t st = b->rows[b->prow[i]].store;
        if (jp_scope_has(sc, st))
            n = s_store_once(st, out, n);
    }
    for (uint32_t i = b->pev0[p]; i < b->pev0[p + 1]; i++) {
        uint16_t st = b->ev[b->pev[i]].store;
        if (jp_scope_has(sc, st))
            n = s_store_once(st, out, n);
    }
    return n;
}

static int
s_risk_cmp(const void *a, const void *b)
{
    const jp_at_risk_t *x = a, *y = b;
    if (x->store != y->store)
        return x->store < y->store ? -1 : 1;
    return jp_id_cmp(&x->customer, &y->customer);
}

int
jp_at_risk_compute(const jp_base_t *b, const jp_scope_t *scope, jp_at_risk_list_t *out)
{
    assert(b && scope && out);
    memset(out, 0, sizeof *out);
    out->asof = b->asof;
    /* Each store's own list, as its work list has it: the scope of one
     * store at a time, one bit set in a scope of our own. */
    jp_scope_t *one = calloc(1, sizeof *one);
    uint16_t *st = NULL; /* the person's stores: one per row and event at most */
    size_t cap = 0, stcap = 0;
    int rc = one ? 0 : JP_ENOMEM;
    s_ctx_t x = {.b = b, .sc = one, .D = b->asof};
    for (uint32_t p = 0; p < b->npeople && !rc; p++) {
        size_t most = (b->prow0[p + 1] - b->prow0[p]) + (b->pev0[p + 1] - b->pev0[p]);
        if (s_grow((void **)&st, &stcap, most + 1, sizeof *st)) {
            rc = JP_ENOMEM;
            break;
        }
        size_t total = s_person_stores(b, scope, p, st);
        for (size_t k = 0; k < total && !rc; k++) {
            s_sum_t s;
            jp_scope_add(one, st[k]);
            s_summarise(&x, p, &s);
            one->bits[st[k] >> 6] = 0;
            if (!s.in_scope || s.last_row == S_NONE || !s_at_risk(&x, &s))
                continue;
            if (s_grow((void **)&out->items, &cap, out->n + 1, sizeof *out->items)) {
                rc = JP_ENOMEM;
                break;
            }
            const s_row_t *r = &b->rows[s.last_row];
            out->items[out->n++] = (jp_at_risk_t){
                .store = st[k],
                .customer = r->id,
                .first_sale = s.first_sale,
                .last_purchase = s.last_purchase,
                .last_visit = s.last_visit,
                .name = b->pool + r->name,
                .phone = b->pool + r->phone,
            };
        }
    }
    free(one);
    free(st);
    if (rc) {
        jp_at_risk_free(out);
        return rc;
    }
    if (out->n > 1)
        qsort(out->items, out->n, sizeof *out->items, s_risk_cmp);
    return 0;
}

void
jp_at_risk_free(jp_at_risk_list_t *l)
{
    free(l->items);
    memset(l, 0, sizeof *l);
}
