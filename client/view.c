/*
 * view.c -- bringing what the store holds to its view (view.h).
 */
#include "view.h"

#include "codec.h"
#include "crypto.h"
#include "export.h"
#include "id.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint16_t own;
    uint64_t count;
    jp_sha_t *sha;
    jp_id_t *ids; /* NULL: count and hash only */
    size_t n, cap;
} s_walk_t;

static int
s_walk(void *arg, const jp_id_t *id)
{
    s_walk_t *w = arg;
    if (jp_id_store(id) == w->own)
        return 0;
    w->count++;
    if (w->sha)
        return jp_sha_update(w->sha, id->b, 16);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 1024;
        jp_id_t *p = realloc(w->ids, cap * sizeof *p);
        if (!p)
            return JP_ENOMEM;
        w->ids = p;
        w->cap = cap;
    }
    w->ids[w->n++] = *id;
    return 0;
}

int
cli_view_held(jp_txn_t *txn, uint16_t own, uint64_t *count, uint8_t hash[JP_HASH_LEN])
{
    s_walk_t w = {.own = own};
    int rc = jp_sha_new(&w.sha);
    if (!rc)
        rc = jp_txn_each_record(txn, s_walk, &w);
    if (!rc)
        rc = jp_sha_final(w.sha, hash);
    jp_sha_destroy(&w.sha);
    *count = w.count;
    return rc;
}

int
cli_view_matches(cli_t *c, uint64_t count, const uint8_t hash[JP_HASH_LEN], bool *match)
{
    jp_txn_t *txn;
    jp_err_t err;
    uint64_t have;
    uint8_t h[JP_HASH_LEN];
    int rc = jp_db_begin(c->db, false, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    rc = cli_view_held(txn, c->node.store, &have, h);
    jp_txn_abort(&txn);
    if (rc)
        return cli_fail_rc(c, rc, "reading what this store holds");
    *match = have == count && memcmp(h, hash, JP_HASH_LEN) == 0;
    return CLI_OK;
}

/* Whether ch created its record: it carries the field every create of its
 * kind carries and no later change sets (a customer's created_at, a
 * link's link_a, a vehicle's or an event's customer). */
static bool
s_creates(const jp_change_t *ch)
{
    unsigned f = ch->kind == JP_K_CUSTOMER ? JP_F_CREATED_AT
                 : ch->kind == JP_K_LINK   ? JP_F_LINK_A
                                           : JP_F_CUSTOMER;
    return jp_change_get(ch, f) != NULL;
}

int
cli_view_seen(cli_t *c, cli_view_t *v, jp_txn_t *txn, const uint8_t *p, size_t n)
{
    jp_chead_t h;
    jp_record_t r;
    if (jp_change_peek(p, n, &h) || jp_txn_get(txn, &h.id, &r) != JP_ENOTFOUND)
        return CLI_OK; /* held (or malformed: the apply says so) */
    static jp_change_t ch;
    if (jp_change_decode(p, n, &ch, NULL) || s_creates(&ch))
        return CLI_OK;
    if (v->npartial == v->cappartial) {
        size_t cap = v->cappartial ? 2 * v->cappartial : 64;
        jp_id_t *q = realloc(v->partial, cap * sizeof *q);
        if (!q)
            return cli_fail(c, CLI_INTERNAL, "out of memory");
        v->partial = q;
        v->cappartial = cap;
    }
    v->partial[v->npartial++] = h.id;
    return CLI_OK;
}

bool
cli_view_fetch_partial(cli_view_t *v, jp_msg_t *fetch)
{
    if (!v->npartial)
        return false;
    free(v->missing);
    v->missing = v->partial;
    v->nmissing = v->npartial;
    v->partial = NULL;
    v->npartial = v->cappartial = v->next = 0;
    return cli_view_next_fetch(v, fetch);
}

int
cli_view_add(cli_t *c, cli_view_t *v, const jp_msg_t *m)
{
    size_t k = m->viewids.ids.n / 16;
    if (v->n && m->viewids.view_pos != v->pos)
        return cli_fail(
            c, CLI_REFUSED, "the server's view moved from position %llu to %llu",
            (unsigned long long)v->pos, (unsigned long long)m->viewids.view_pos);
    v->pos = m->viewids.view_pos;
    if (v->n + k > v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (cap < v->n + k)
            cap *= 2;
        jp_id_t *p = realloc(v->ids, cap * sizeof *p);
        if (!p)
            return cli_fail(c, CLI_INTERNAL, "out of memory");
        v->ids = p;
        v->cap = cap;
    }
    for (size_t i = 0; i < k; i++) {
        jp_id_t id;
        memcpy(id.b, m->viewids.ids.p + 16 * i, 16);
        if ((v->n && jp_id_cmp(&id, &v->ids[v->n - 1]) <= 0) ||
            jp_id_store(&id) == c->node.store)
            return cli_fail(
                c, CLI_REFUSED,
                "the server's view is not a list of other stores' ids in order");
        v->ids[v->n++] = id;
    }
    return CLI_OK;
}

/* Note a removal in the sync table, for `status`. */
static int
s_note_removal(jp_txn_t *txn, uint64_t records)
{
    const void *p;
    size_t n;
    uint64_t total = records;
    if (jp_txn_tb_get(txn, JP_TB_SYNC, "removed", 7, &p, &n) == 0 && n == 8)
        total += jp_be64_get(p);
    uint8_t a[8], b[8];
    jp_be64_put(a, total);
    jp_be64_put(b, jp_now_ms());
    int rc = jp_txn_tb_put(txn, JP_TB_SYNC, "removed", 7, a, 8);
    return rc ? rc : jp_txn_tb_put(txn, JP_TB_SYNC, "removed_at", 10, b, 8);
}

int
cli_view_settle(cli_t *c, cli_view_t *v)
{
    jp_txn_t *txn;
    jp_err_t err;
    s_walk_t w = {.own = c->node.store};
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    if ((rc = jp_txn_each_record(txn, s_walk, &w))) {
        jp_txn_abort(&txn);
        free(w.ids);
        return cli_fail_rc(c, rc, "reading what this store holds");
    }
    /* Both in id order: a merge.  Extras are compacted into w.ids. */
    size_t i = 0, j = 0, extra = 0;
    free(v->missing);
    v->missing = malloc((v->n + v->npartial + 1) * sizeof *v->missing);
    v->nmissing = v->next = 0;
    if (!v->missing) {
        jp_txn_abort(&txn);
        free(w.ids);
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    }
    while (i < w.n || j < v->n) {
        int cmp = i == w.n ? 1 : j == v->n ? -1 : jp_id_cmp(&w.ids[i], &v->ids[j]);
        if (cmp < 0)
            w.ids[extra++] = w.ids[i++];
        else if (cmp > 0)
            v->missing[v->nmissing++] = v->ids[j++];
        else
            i++, j++;
    }
    /* The partial records the view still has: their earlier changes. */
    for (size_t k = 0; k < v->npartial; k++)
        if (jp_id_find(v->ids, v->n, sizeof *v->ids, &v->partial[k]) != UINT32_MAX)
            v->missing[v->nmissing++] = v->partial[k];
    v->npartial = 0;
    uint64_t changes = 0;
    if (extra && !(rc = jp_txn_forget(txn, w.ids, extra, c->node.store, &changes, &err)))
        rc = s_note_removal(txn, extra);
    if (!rc && extra)
        rc = jp_txn_commit(&txn, &err);
    jp_txn_abort(&txn);
    free(w.ids);
    if (rc)
        return cli_fail(c, cli_exit_for(rc),
                        "removing what this store may no longer hold: %s",
                        err.msg[0] ? err.msg : jp_strerror(rc));
    v->removed += extra;
    v->removed_changes += changes;
    return CLI_OK;
}

bool
cli_view_next_fetch(cli_view_t *v, jp_msg_t *fetch)
{
    if (v->next >= v->nmissing)
        return false;
    size_t k = v->nmissing - v->next;
    if (k > JP_MSG_MAX_FETCH)
        k = JP_MSG_MAX_FETCH;
    memset(fetch, 0, sizeof *fetch);
    fetch->type = JP_MSG_FETCH;
    fetch->fetch.ids = (jp_msg_str_t){(const char *)(v->missing + v->next), k * 16};
    jp_sha256(fetch->fetch.ids.p, fetch->fetch.ids.n, v->fetch);
    v->next += k;
    return true;
}

int
cli_view_records(cli_t *c, cli_view_t *v, const jp_msg_t *m)
{
    jp_txn_t *txn;
    jp_err_t err;
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    jp_msg_iter_t it;
    const uint8_t *p;
    size_t n;
    uint64_t store, pos;
    jp_msg_iter_init(&it, &m->records.entries);
    while ((rc = jp_msg_next_entry(&it, &store, &pos, &p, &n)) > 0) {
        if (store == c->node.store)
            continue; /* its own changes it has */
        rc = jp_txn_apply_vouched(txn, p, n, &err);
        if (rc == JP_EDUP)
            continue;
        if (rc) {
            jp_txn_abort(&txn);
            return cli_fail(c, cli_exit_for(rc), "fetched records: %s", err.msg);
        }
        v->fetched++;
    }
    if (rc || (rc = jp_txn_commit(&txn, &err))) {
        jp_txn_abort(&txn);
        return cli_fail(c, cli_exit_for(rc), "applying fetched records: %s",
                        jp_strerror(rc));
    }
    return CLI_OK;
}

int
cli_view_note_rule(cli_t *c, bool group, bool *was_group, bool *noted)
{
    jp_txn_t *txn;
    jp_err_t err;
    const void *p;
    size_t n;
    int rc = jp_db_begin(c->db, true, &txn, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    *noted = jp_txn_tb_get(txn, JP_TB_SYNC, "held_rule", 9, &p, &n) == 0;
    *was_group = *noted && n == 5 && memcmp(p, "group", 5) == 0;
    if (!*noted || *was_group != group) {
        rc = jp_txn_tb_put(txn, JP_TB_SYNC, "held_rule", 9, group ? "group" : "view",
                           group ? 5 : 4);
        if (!rc)
            rc = jp_txn_commit(&txn, &err);
    }
    jp_txn_abort(&txn);
    return rc ? cli_fail_rc(c, rc, "sync state") : CLI_OK;
}

void
cli_view_restart(cli_view_t *v)
{
    free(v->ids);
    free(v->missing);
    v->ids = v->missing = NULL;
    v->n = v->cap = v->nmissing = v->next = 0;
    v->pos = 0;
}

void
cli_view_free(cli_view_t *v)
{
    free(v->ids);
    free(v->missing);
    free(v->partial);
    memset(v, 0, sizeof *v);
}
