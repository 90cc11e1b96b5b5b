/*
 * link.c -- one customer across stores.
 *
 * Customer rows that share a normalised phone or an ID number are one
 * person (docs/FORMAT.md, metrics.md "People").  When a batch creates a
 * customer or changes its phone or ID number, the server links the row to
 * the smallest other row that shares either, with a link record of its own
 * (kind link, link_a the smaller id: the canonical one, link_b the other).
 * Links form a star around the first row of a person, so each new row
 * costs one link however many rows the person has.
 *
 * The link's id is a function of the pair (srv_link_id), so the server
 * never links the same pair twice, and a link that someone undid (a
 * tombstone written by an authorised user with `jipan-store unlink`) is not
 * made again: its id is taken.
 */
#include "server.h"

#include "record.h"
#include "schema.h"

#include <string.h>

jp_id_t
srv_link_id(const jp_id_t *a, const jp_id_t *b)
{
    /* ms of the later row | store 0 | 8 bytes of SHA-256(a | b). */
    uint8_t both[32], h[JP_HASH_LEN];
    memcpy(both, a->b, 16);
    memcpy(both + 16, b->b, 16);
    jp_sha256(both, sizeof both, h);
    const jp_id_t *later = jp_id_cmp(a, b) > 0 ? a : b;
    jp_id_t id;
    memcpy(id.b, later->b, 6);
    id.b[6] = id.b[7] = 0;
    memcpy(id.b + 8, h, 8);
    return id;
}

typedef struct {
    jp_txn_t *txn;
    const jp_id_t *self;
    jp_id_t min; /* smallest other customer row with the key */
    bool found;
} s_near_t;

static int
s_near(void *arg, const jp_id_t *id)
{
    s_near_t *n = arg;
    if (jp_id_cmp(id, n->self) == 0 || (n->found && jp_id_cmp(id, &n->min) >= 0))
        return 0;
    jp_record_t r;
    if (jp_txn_get(n->txn, id, &r) || r.kind != JP_K_CUSTOMER)
        return 0;
    n->min = *id;
    n->found = true;
    return 0;
}

static int
s_link(jp_txn_t *txn, const jp_id_t *c, const jp_id_t *other, unsigned *wrote,
       jp_err_t *err)
{
    const jp_id_t *a = jp_id_cmp(c, other) < 0 ? c : other;
    const jp_id_t *b = a == c ? other : c;
    jp_id_t lid = srv_link_id(a, b);
    jp_record_t r;
    if (jp_txn_get(txn, &lid, &r) == 0)
        return 0; /* linked already, or unlinked by a person: leave it */
    jp_change_t ch;
    memset(&ch, 0, sizeof ch);
    ch.id = lid;
    ch.kind = JP_K_LINK;
    ch.author = "server";
    ch.author_len = 6;
    jp_change_set_ref(&ch, JP_F_LINK_A, a);
    jp_change_set_ref(&ch, JP_F_LINK_B, b);
    int rc = jp_txn_write(txn, &ch, err);
    if (rc == 0)
        (*wrote)++;
    return rc;
}

int
srv_link_customer(jp_txn_t *txn, const jp_id_t *customer, unsigned *wrote, jp_err_t *err)
{
    jp_record_t r;
    int rc = jp_txn_get(txn, customer, &r);
    if (rc || r.kind != JP_K_CUSTOMER || jp_record_deleted(&r))
        return 0;
    /* Copy the keys out: the record's text borrows from pages the writes
     * below may move. */
    char key[2][JP_MAX_STR + 1];
    static const unsigned fid[2] = {JP_F_PHONE, JP_F_ID_NUMBER};
    static const jp_index_t ix[2] = {JP_IX_PHONE, JP_IX_IDNUM};
    for (int i = 0; i < 2; i++)
        jp_record_str(&r, fid[i], key[i], sizeof key[i]);
    for (int i = 0; i < 2; i++) {
        if (!key[i][0])
            continue;
        s_near_t n = {.txn = txn, .self = customer};
        if ((rc = jp_txn_find(txn, ix[i], key[i], strlen(key[i]), false, s_near, &n)) < 0)
            return jp_err_set(err, rc, "link: index read failed");
        if (n.found && (rc = s_link(txn, customer, &n.min, wrote, err)))
            return rc;
    }
    return 0;
}
