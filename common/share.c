/*
 * share.c -- the sharing rules of share.h over a snapshot of the base.
 *
 * The one idea: a record is visible to a store for a reason of its own
 * ("primary": the store wrote it, it is of a person the store has a row
 * of, it is a visit of a VIN the store sold or serviced), or because a
 * record visible to the store refers to it.  References only go from
 * events and sales to customers and complaints, and from complaints to
 * customers, so "refers to" is followed at most S_DEPTH steps back from the
 * record asked about, over a backwards index; every other question is a
 * binary search in a sorted array (records by id, (person, store) and
 * (VIN, store) pairs).  A link's delta recomputes, for the rows of the one
 * person it joins, whether that person has a row of the store with the link
 * and without it, and asks the same questions under both answers.
 */
#include "share.h"

#include "record.h"
#include "schema.h"

#include <assert.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define S_NONE UINT32_MAX
#define S_NREF 3  /* references followed: customer, complaint, referral's lead */
#define S_DEPTH 3 /* longest reference chain: contact -> complaint -> customer */

typedef struct {
    jp_id_t id;
    uint8_t kind;         /* JP_K_* */
    bool deleted;         /* a tombstone */
    uint16_t store;       /* the store that wrote it (the id's) */
    uint32_t ref[S_NREF]; /* indexes of the records it refers to, S_NONE */
    uint32_t vin;         /* VIN number (sale, service visit), S_NONE */
    uint32_t la, lb;      /* link: indexes of its two rows, S_NONE */
    uint32_t person;      /* live customer row: its person (a row index) */
} s_rec_t;

typedef struct {
    uint32_t key;   /* person or VIN number */
    uint16_t store; /* a store with a live row of the person / sale or visit of the VIN */
} s_pair_t;

struct jp_share {
    jp_share_conf_t conf;
    s_rec_t *rec;      /* records in id order */
    size_t n;          /* records */
    uint16_t *sregion; /* [65536]: region number of each store, 0 none */
    s_pair_t *pst;     /* (person, store), sorted, unique */
    size_t npst;
    s_pair_t *vst; /* (VIN, store), sorted, unique */
    size_t nvst;
    uint32_t *rev0; /* [n + 1]: start of each record's referrers in rev */
    uint32_t *rev;  /* indexes of the records referring to each record */
    uint32_t *adj0; /* [n + 1]: start of each row's links in adj */
    uint32_t *adj;  /* indexes of the links touching each row */
};

/* ---- rules and configuration ---------------------------------------------- */

static const char *const s_rule_words[] = {NULL, "linked", "region", "group"};

int
jp_share_rule_parse(const char *word, jp_share_rule_t *out)
{
    for (int r = JP_SHARE_LINKED; r <= JP_SHARE_GROUP; r++) {
        if (!strcmp(word, s_rule_words[r])) {
            *out = (jp_share_rule_t)r;
            return 0;
        }
    }
    return JP_EINVAL;
}

const char *
jp_share_rule_name(jp_share_rule_t rule)
{
    return rule >= JP_SHARE_LINKED && rule <= JP_SHARE_GROUP ? s_rule_words[rule] : "?";
}

void
jp_share_conf_init(jp_share_conf_t *c)
{
    memset(c, 0, sizeof *c);
    c->rule = JP_SHARE_LINKED;
}

int
jp_share_conf_set(jp_share_conf_t *c, const char *name, const char *val, const char **why)
{
    jp_share_rule_t rule;
    if (jp_share_rule_parse(val, &rule)) {
        *why = "the rule is one of linked, region, group";
        return JP_EINVAL;
    }
    if (!strcmp(name, "rule")) {
        c->rule = (uint8_t)rule;
        return 0;
    }
    if (strncmp(name, "store.", 6) != 0) {
        *why = "unknown setting (rule = WORD, or store.N = WORD for one store)";
        return JP_EINVAL;
    }
    const char *p = name + 6;
    unsigned long st = 0;
    if (!*p || strlen(p) > 5)
        st = 0;
    else
        for (; *p >= '0' && *p <= '9'; p++)
            st = st * 10 + (unsigned long)(*p - '0');
    if (*p || st < 1 || st > 65535) {
        *why = "store.N needs a store number 1..65535";
        return JP_EINVAL;
    }
    for (unsigned i = 0; i < c->n; i++) {
        if (c->over[i].store == st) {
            *why = "this store's rule is given twice";
            return JP_EINVAL;
        }
    }
    if (c->n == JP_SHARE_MAX_OVERRIDES) {
        *why = "more than 256 per-store rules";
        return JP_EINVAL;
    }
    c->over[c->n].store = (uint16_t)st;
    c->over[c->n].rule = (uint8_t)rule;
    c->n++;
    return 0;
}

jp_share_rule_t
jp_share_conf_rule(const jp_share_conf_t *c, uint16_t store)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->over[i].store == store)
            return (jp_share_rule_t)c->over[i].rule;
    }
    return (jp_share_rule_t)c->rule;
}

/* ---- loading ----------------------------------------------------------------- */

/* What the load keeps per record until references are resolved. */
typedef struct {
    jp_id_t ref[S_NREF]; /* zero id: none */
    jp_id_t la, lb;      /* link ends, zero: none */
    char *vin;           /* malloc'd, NULL: none */
} s_raw_t;

typedef struct {
    jp_txn_t *txn;
    jp_share_t *s;
    s_raw_t *raw;
    size_t cap;
} s_load_t;

static bool
s_id_zero(const jp_id_t *id)
{
    static const jp_id_t zero;
    return memcmp(id, &zero, sizeof zero) == 0;
}

static int
s_on_record(void *arg, const jp_id_t *id)
{
    s_load_t *l = arg;
    jp_share_t *s = l->s;
    if (s->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 1024;
        s_rec_t *rec = realloc(s->rec, cap * sizeof *rec);
        if (!rec)
            return JP_ENOMEM;
        s->rec = rec;
        s_raw_t *raw = realloc(l->raw, cap * sizeof *raw);
        if (!raw)
            return JP_ENOMEM;
        l->raw = raw;
        l->cap = cap;
    }
    jp_record_t r;
    int rc = jp_txn_get(l->txn, id, &r);
    if (rc)
        return rc;
    s_rec_t *e = &s->rec[s->n];
    s_raw_t *w = &l->raw[s->n];
    memset(e, 0, sizeof *e);
    memset(w, 0, sizeof *w);
    e->id = *id;
    e->kind = r.kind;
    e->deleted = jp_record_deleted(&r);
    e->store = jp_id_store(id);
    e->vin = e->la = e->lb = e->person = S_NONE;
    for (int k = 0; k < S_NREF; k++)
        e->ref[k] = S_NONE;
    s->n++;
    if (r.kind == JP_K_LINK) {
        const jp_id_t *a = jp_record_ref(&r, JP_F_LINK_A),
                      *b = jp_record_ref(&r, JP_F_LINK_B);
        if (a)
            w->la = *a;
        if (b)
            w->lb = *b;
        return 0;
    }
    if (r.kind == JP_K_CUSTOMER)
        return 0; /* referred_by is not followed (share.h) */
    static const unsigned fid[S_NREF] = {JP_F_CUSTOMER, JP_F_COMPLAINT, JP_F_REFERRED};
    for (int k = 0; k < S_NREF; k++) {
        const jp_id_t *ref = jp_record_ref(&r, fid[k]);
        if (ref)
            w->ref[k] = *ref;
    }
    if (r.kind == JP_K_VEHICLE || r.kind == JP_K_SERVICE) {
        char vin[JP_MAX_STR + 1];
        jp_record_str(&r, JP_F_VIN, vin, sizeof vin);
        if (vin[0] && !(w->vin = strdup(vin)))
            return JP_ENOMEM;
    }
    return 0;
}

_Static_assert(offsetof(s_rec_t, id) == 0 && S_NONE == UINT32_MAX,
               "jp_id_find reads the id at the start of a record, UINT32_MAX if absent");

static uint32_t
s_find(const jp_share_t *s, const jp_id_t *id)
{
    return jp_id_find(s->rec, s->n, sizeof *s->rec, id);
}

static uint32_t
s_resolve(const jp_share_t *s, const jp_id_t *id)
{
    return s_id_zero(id) ? S_NONE : s_find(s, id);
}

static int
s_pair_cmp(const void *a, const void *b)
{
    const s_pair_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->store > y->store) - (x->store < y->store);
}

/* Sort and drop duplicates; returns the count kept. */
static size_t
s_pairs_unique(s_pair_t *p, size_t n)
{
    if (n == 0)
        return 0;
    qsort(p, n, sizeof *p, s_pair_cmp);
    size_t k = 1;
    for (size_t i = 1; i < n; i++) {
        if (s_pair_cmp(&p[i], &p[k - 1]) != 0)
            p[k++] = p[i];
    }
    return k;
}

static bool
s_pair_has(const s_pair_t *p, size_t n, uint32_t key, uint16_t store)
{
    s_pair_t want = {key, store};
    return bsearch(&want, p, n, sizeof *p, s_pair_cmp) != NULL;
}

static uint32_t
s_root(uint32_t *up, uint32_t i)
{
    while (up[i] != i) {
        up[i] = up[up[i]];
        i = up[i];
    }
    return i;
}

static bool
s_live_row(const jp_share_t *s, uint32_t i)
{
    return i != S_NONE && s->rec[i].kind == JP_K_CUSTOMER && !s->rec[i].deleted;
}

/* A compressed sparse row index over n records: for each i < m, to[i] is
 * listed under from[i], in i's order. */
static int
s_csr(size_t n, const uint32_t *from, const uint32_t *to, size_t m, uint32_t **start_p,
      uint32_t **list_p)
{
    uint32_t *start = calloc(n + 1, sizeof *start);
    uint32_t *list = malloc((m ? m : 1) * sizeof *list);
    uint32_t *fill = calloc(n + 1, sizeof *fill);
    if (!start || !list || !fill) {
        free(start), free(list), free(fill);
        return JP_ENOMEM;
    }
    for (size_t i = 0; i < m; i++)
        start[from[i] + 1]++;
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    for (size_t i = 0; i < m; i++)
        list[start[from[i]] + fill[from[i]]++] = to[i];
    free(fill);
    *start_p = start;
    *list_p = list;
    return 0;
}

static int
s_vin_cmp(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;
    return strcmp(*x, *y);
}

/* VIN text -> numbers (distinct VINs in order), and the (VIN, store) pairs
 * of live sales and visits. */
static int
s_build_vins(jp_share_t *s, s_raw_t *raw)
{
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++)
        m += raw[i].vin != NULL;
    char **v = malloc((m ? m : 1) * sizeof *v);
    s->vst = malloc((m ? m : 1) * sizeof *s->vst);
    if (!v || !s->vst) {
        free(v);
        return JP_ENOMEM;
    }
    m = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (raw[i].vin)
            v[m++] = raw[i].vin;
    }
    qsort(v, m, sizeof *v, s_vin_cmp);
    size_t nd = 0;
    for (size_t i = 0; i < m; i++) {
        if (nd == 0 || strcmp(v[i], v[nd - 1]) != 0)
            v[nd++] = v[i];
    }
    size_t np = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!raw[i].vin)
            continue;
        char **hit = bsearch(&raw[i].vin, v, nd, sizeof *v, s_vin_cmp);
        assert(hit);
        s->rec[i].vin = (uint32_t)(hit - v);
        /* A voided visit still travels by its VIN (its tombstone must reach
         * the stores that hold it), but opens the VIN to no store. */
        if (!s->rec[i].deleted)
            s->vst[np++] = (s_pair_t){s->rec[i].vin, s->rec[i].store};
    }
    s->nvst = s_pairs_unique(s->vst, np);
    free(v);
    return 0;
}

/* References, people and the backwards indexes, once every record is in. */
static int
s_build(jp_share_t *s, s_raw_t *raw)
{
    int rc = JP_ENOMEM;
    size_t n = s->n, nref = 0, nlink = 0;
    uint32_t *up = malloc((n ? n : 1) * sizeof *up);
    uint32_t *rf = malloc((n * S_NREF + 1) * sizeof *rf),
             *rt = malloc((n * S_NREF + 1) * sizeof *rt);
    uint32_t *af = malloc((2 * n + 1) * sizeof *af),
             *at = malloc((2 * n + 1) * sizeof *at);
    if (!up || !rf || !rt || !af || !at)
        goto done;
    for (size_t i = 0; i < n; i++) {
        s_rec_t *e = &s->rec[i];
        up[i] = (uint32_t)i;
        for (int k = 0; k < S_NREF; k++) {
            if ((e->ref[k] = s_resolve(s, &raw[i].ref[k])) != S_NONE) {
                rf[nref] = e->ref[k];
                rt[nref++] = (uint32_t)i;
            }
        }
        if (e->kind != JP_K_LINK)
            continue;
        e->la = s_resolve(s, &raw[i].la);
        e->lb = s_resolve(s, &raw[i].lb);
        for (int k = 0; k < 2; k++) {
            uint32_t end = k ? e->lb : e->la;
            if (end != S_NONE && s->rec[end].kind == JP_K_CUSTOMER) {
                af[nlink] = end;
                at[nlink++] = (uint32_t)i;
            }
        }
    }
    /* People: live rows joined by live links; the smaller root wins, so a
     * person's number is its first row. */
    for (size_t i = 0; i < n; i++) {
        const s_rec_t *e = &s->rec[i];
        if (e->kind != JP_K_LINK || e->deleted || !s_live_row(s, e->la) ||
            !s_live_row(s, e->lb))
            continue;
        uint32_t a = s_root(up, e->la), b = s_root(up, e->lb);
        if (a != b)
            up[a > b ? a : b] = a < b ? a : b;
    }
    size_t np = 0;
    s->pst = malloc((n ? n : 1) * sizeof *s->pst);
    if (!s->pst)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (!s_live_row(s, (uint32_t)i))
            continue;
        s->rec[i].person = s_root(up, (uint32_t)i);
        s->pst[np++] = (s_pair_t){s->rec[i].person, s->rec[i].store};
    }
    s->npst = s_pairs_unique(s->pst, np);
    if ((rc = s_csr(n, rf, rt, nref, &s->rev0, &s->rev)) ||
        (rc = s_csr(n, af, at, nlink, &s->adj0, &s->adj)) || (rc = s_build_vins(s, raw)))
        goto done;
    rc = 0;
done:
    free(up), free(rf), free(rt), free(af), free(at);
    return rc;
}

int
jp_share_load(jp_share_t **self_p, jp_txn_t *txn, const jp_share_conf_t *conf,
              const jp_share_store_t *stores, size_t nstores, jp_err_t *err)
{
    assert(self_p && txn && conf && (stores || nstores == 0));
    jp_share_t *s = calloc(1, sizeof *s);
    s_load_t l = {.txn = txn, .s = s};
    int rc = JP_ENOMEM;
    if (!s || !(s->sregion = calloc(65536, sizeof *s->sregion)))
        goto fail;
    s->conf = *conf;
    /* Regions by number: the first store of each region names it. */
    for (size_t i = 0; i < nstores; i++) {
        uint16_t num = (uint16_t)(i + 1);
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(stores[j].region, stores[i].region)) {
                num = s->sregion[stores[j].store];
                break;
            }
        }
        if (stores[i].region[0])
            s->sregion[stores[i].store] = num;
    }
    if ((rc = jp_txn_each_record(txn, s_on_record, &l))) {
        jp_err_set(err, rc, "sharing: cannot read the base: %s", jp_strerror(rc));
        goto fail;
    }
    if ((rc = s_build(s, l.raw))) {
        jp_err_set(err, rc, "sharing: out of memory for %zu records", s->n);
        goto fail;
    }
    for (size_t i = 0; i < s->n; i++)
        free(l.raw[i].vin);
    free(l.raw);
    *self_p = s;
    return 0;
fail:
    if (s) {
        for (size_t i = 0; i < s->n; i++)
            free(l.raw[i].vin);
    }
    free(l.raw);
    jp_share_destroy(&s);
    if (rc == JP_ENOMEM && err && !err->code)
        jp_err_set(err, rc, "sharing: out of memory");
    return rc;
}

void
jp_share_destroy(jp_share_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    jp_share_t *s = *self_p;
    free(s->rec), free(s->sregion), free(s->pst), free(s->vst);
    free(s->rev0), free(s->rev), free(s->adj0), free(s->adj);
    free(s);
    *self_p = NULL;
}

size_t
jp_share_count(const jp_share_t *self)
{
    return self->n;
}

/* ---- questions ----------------------------------------------------------------- */

/* One store's question, optionally with the people of some rows answered
 * otherwise (a link's delta). */
typedef struct {
    const jp_share_t *s;
    uint16_t store;
    jp_share_rule_t rule;
    uint16_t region;      /* the store's region number, 0 none */
    const uint32_t *hrow; /* sorted row indexes whose answer is hhas[] */
    const bool *hhas;     /* their person has a live row of the store */
    size_t nh;
} s_q_t;

static void
s_q_init(s_q_t *q, const jp_share_t *s, uint16_t store)
{
    memset(q, 0, sizeof *q);
    q->s = s;
    q->store = store;
    q->rule = jp_share_conf_rule(&s->conf, store);
    q->region = s->sregion[store];
}

static int
s_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Whether row i is of a person who has a live row of the store. */
static bool
s_person_has(const s_q_t *q, uint32_t i)
{
    if (q->nh) {
        const uint32_t *hit = bsearch(&i, q->hrow, q->nh, sizeof i, s_u32_cmp);
        if (hit)
            return q->hhas[hit - q->hrow];
    }
    uint32_t p = q->s->rec[i].person;
    return p != S_NONE && s_pair_has(q->s->pst, q->s->npst, p, q->store);
}

/* Written by a store of the view's own stores (the store; its region). */
static bool
s_home(const s_q_t *q, const s_rec_t *e)
{
    if (e->store == q->store)
        return true;
    return q->rule == JP_SHARE_REGION && q->region && e->store &&
           q->s->sregion[e->store] == q->region;
}

static bool
s_primary(const s_q_t *q, uint32_t i)
{
    const jp_share_t *s = q->s;
    const s_rec_t *e = &s->rec[i];
    if (q->rule == JP_SHARE_GROUP)
        return true;
    if (e->kind == JP_K_LINK) {
        for (int k = 0; k < 2; k++) {
            uint32_t end = k ? e->lb : e->la;
            if (end != S_NONE && s->rec[end].kind == JP_K_CUSTOMER && s_primary(q, end))
                return true;
        }
        return false;
    }
    if (s_home(q, e))
        return true;
    if (e->kind == JP_K_CUSTOMER)
        return e->person != S_NONE && s_person_has(q, i);
    uint32_t c = e->ref[0];
    if (c != S_NONE && s->rec[c].kind == JP_K_CUSTOMER && s->rec[c].person != S_NONE &&
        s_person_has(q, c))
        return true;
    return e->kind == JP_K_SERVICE && e->vin != S_NONE &&
           s_pair_has(s->vst, s->nvst, e->vin, q->store);
}

/* Primary, or referred to by a record visible within depth more steps. */
static bool
s_visible(const s_q_t *q, uint32_t i, int depth)
{
    if (s_primary(q, i))
        return true;
    if (depth == 0 || q->s->rec[i].kind == JP_K_LINK)
        return false;
    for (uint32_t k = q->s->rev0[i]; k < q->s->rev0[i + 1]; k++) {
        if (s_visible(q, q->s->rev[k], depth - 1))
            return true;
    }
    return false;
}

int
jp_share_visible(const jp_share_t *self, uint16_t store, const jp_id_t *id, bool *out)
{
    assert(self && id && out);
    uint32_t i = s_find(self, id);
    if (i == S_NONE)
        return JP_ENOTFOUND;
    s_q_t q;
    s_q_init(&q, self, store);
    *out = s_visible(&q, i, S_DEPTH);
    return 0;
}

int
jp_share_each_visible(const jp_share_t *self, uint16_t store, jp_id_cb cb, void *arg)
{
    assert(self && cb);
    s_q_t q;
    s_q_init(&q, self, store);
    for (size_t i = 0; i < self->n; i++) {
        if (!s_visible(&q, (uint32_t)i, S_DEPTH))
            continue;
        int rc = cb(arg, &self->rec[i].id);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- a link's delta -------------------------------------------------------------- */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} s_vec_t;

static int
s_push(s_vec_t *v, uint32_t x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        uint32_t *p = realloc(v->v, cap * sizeof *p);
        if (!p)
            return JP_ENOMEM;
        v->v = p;
        v->cap = cap;
    }
    v->v[v->n++] = x;
    return 0;
}

/* Whether link l joins its rows: live (or the link asked about, with it). */
static bool
s_joins(const jp_share_t *s, uint32_t l, uint32_t link, bool with)
{
    const s_rec_t *e = &s->rec[l];
    if (l == link)
        return with && s_live_row(s, e->la) && s_live_row(s, e->lb);
    return !e->deleted && s_live_row(s, e->la) && s_live_row(s, e->lb);
}

/* The rows reachable from start over joining links, appended to out;
 * mark[] (one per record) notes the rows taken. */
static int
s_component(const jp_share_t *s, uint32_t start, uint32_t link, bool with, uint8_t *mark,
            uint8_t bit, s_vec_t *out)
{
    if (!s_live_row(s, start) || (mark[start] & bit))
        return 0;
    size_t from = out->n;
    mark[start] |= bit;
    int rc = s_push(out, start);
    for (size_t k = from; rc == 0 && k < out->n; k++) {
        uint32_t row = out->v[k];
        for (uint32_t a = s->adj0[row]; rc == 0 && a < s->adj0[row + 1]; a++) {
            uint32_t l = s->adj[a];
            if (!s_joins(s, l, link, with))
                continue;
            uint32_t other = s->rec[l].la == row ? s->rec[l].lb : s->rec[l].la;
            if (!(mark[other] & bit)) {
                mark[other] |= bit;
                rc = s_push(out, other);
            }
        }
    }
    return rc;
}

/* For each row of rows (one person with the link), whether its person has
 * a live row of store, with or without the link: has[] in the rows'
 * order. */
static int
s_hypothesis(const jp_share_t *s, const s_vec_t *rows, uint32_t link, bool with,
             uint16_t store, uint8_t *mark, bool *has)
{
    s_vec_t comp = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rows->n; i++) {
        uint32_t r = rows->v[i];
        if (mark[r] & 2)
            continue;
        comp.n = 0;
        if ((rc = s_component(s, r, link, with, mark, 2, &comp)))
            break;
        bool any = false;
        for (size_t k = 0; k < comp.n; k++)
            any |= s->rec[comp.v[k]].store == store;
        for (size_t k = 0; k < comp.n; k++) {
            const uint32_t *hit =
                bsearch(&comp.v[k], rows->v, rows->n, sizeof *rows->v, s_u32_cmp);
            assert(hit);
            has[hit - rows->v] = any;
        }
    }
    for (size_t i = 0; i < rows->n; i++)
        mark[rows->v[i]] &= (uint8_t)~2;
    free(comp.v);
    return rc;
}

/* Every record whose visibility may hang on the people of rows: the rows,
 * their links, what refers to them (S_DEPTH steps) and what those refer to
 * (S_DEPTH steps). */
static int
s_candidates(const jp_share_t *s, const s_vec_t *rows, s_vec_t *out)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < rows->n; i++) {
        uint32_t r = rows->v[i];
        rc = s_push(out, r);
        for (uint32_t a = s->adj0[r]; rc == 0 && a < s->adj0[r + 1]; a++)
            rc = s_push(out, s->adj[a]);
    }
    /* Backwards: what refers to the rows, then to those. */
    size_t from = 0;
    for (int d = 0; rc == 0 && d < S_DEPTH; d++) {
        size_t to = out->n;
        for (size_t k = from; rc == 0 && k < to; k++) {
            uint32_t x = out->v[k];
            for (uint32_t a = s->rev0[x]; rc == 0 && a < s->rev0[x + 1]; a++)
                rc = s_push(out, s->rev[a]);
        }
        from = to;
    }
    /* Forwards: what those refer to. */
    from = 0;
    for (int d = 0; rc == 0 && d < S_DEPTH; d++) {
        size_t to = out->n;
        for (size_t k = from; rc == 0 && k < to; k++) {
            const s_rec_t *e = &s->rec[out->v[k]];
            for (int j = 0; rc == 0 && j < S_NREF; j++) {
                if (e->ref[j] != S_NONE)
                    rc = s_push(out, e->ref[j]);
            }
        }
        from = to;
    }
    if (rc)
        return rc;
    qsort(out->v, out->n, sizeof *out->v, s_u32_cmp);
    size_t k = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (k == 0 || out->v[i] != out->v[k - 1])
            out->v[k++] = out->v[i];
    }
    out->n = k;
    return 0;
}

int
jp_share_link_delta(const jp_share_t *self, uint16_t store, const jp_id_t *link,
                    jp_id_cb cb, void *arg)
{
    assert(self && link && cb);
    uint32_t l = s_find(self, link);
    if (l == S_NONE || self->rec[l].kind != JP_K_LINK)
        return JP_ENOTFOUND;
    s_vec_t rows = {0}, cand = {0};
    bool *with = NULL, *without = NULL;
    uint8_t *mark = calloc(self->n ? self->n : 1, 1);
    int rc = JP_ENOMEM;
    if (!mark)
        goto done;
    /* The person the link makes (with it, both ends' rows are one). */
    if ((rc = s_component(self, self->rec[l].la, l, true, mark, 1, &rows)) ||
        (rc = s_component(self, self->rec[l].lb, l, true, mark, 1, &rows)))
        goto done;
    qsort(rows.v, rows.n, sizeof *rows.v, s_u32_cmp);
    rc = JP_ENOMEM;
    if (!(with = calloc(rows.n + 1, sizeof *with)) ||
        !(without = calloc(rows.n + 1, sizeof *without)))
        goto done;
    if ((rc = s_hypothesis(self, &rows, l, true, store, mark, with)) ||
        (rc = s_hypothesis(self, &rows, l, false, store, mark, without)) ||
        (rc = s_candidates(self, &rows, &cand)))
        goto done;
    s_q_t qw, qo;
    s_q_init(&qw, self, store);
    qw.hrow = rows.v;
    qw.nh = rows.n;
    qo = qw;
    qw.hhas = with;
    qo.hhas = without;
    for (size_t i = 0; i < cand.n; i++) {
        uint32_t x = cand.v[i];
        if (s_visible(&qw, x, S_DEPTH) && !s_visible(&qo, x, S_DEPTH) &&
            (rc = cb(arg, &self->rec[x].id)))
            goto done;
    }
    rc = 0;
done:
    free(rows.v), free(cand.v), free(with), free(without), free(mark);
    return rc;
}

/* ---- the view's digest ------------------------------------------------------------- */

static bool
s_keep(void *arg, const jp_id_t *id)
{
    const s_q_t *q = arg;
    uint32_t i = s_find(q->s, id);
    return i != S_NONE && s_visible(q, i, S_DEPTH);
}

int
jp_share_view_digest(const jp_share_t *self, jp_txn_t *txn, uint16_t store,
                     uint8_t out[JP_HASH_LEN])
{
    assert(self && txn && out);
    s_q_t q;
    s_q_init(&q, self, store);
    return jp_txn_digest_of(txn, s_keep, &q, out);
}
