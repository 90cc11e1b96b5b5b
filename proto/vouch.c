/*
 * vouch.c -- the server's signature over CHANGES, VIEWIDS and RECORDS.
 */
#include "vouch.h"

#include "id.h"

#include <assert.h>
#include <string.h>

#define S_TAG "jipan-vouch-2" /* with its NUL: 14 bytes */

static int
s_put(jp_sha_t *h, const void *p, size_t n)
{
    return jp_sha_update(h, p, n);
}

static int
s_u8(jp_sha_t *h, uint8_t v)
{
    return s_put(h, &v, 1);
}

static int
s_be(jp_sha_t *h, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    return s_put(h, b, (size_t)bytes);
}

static int
s_entries(jp_sha_t *h, const jp_msg_list_t *l)
{
    jp_msg_iter_t it;
    uint64_t store, pos;
    const uint8_t *p;
    size_t n;
    uint8_t ch[JP_HASH_LEN];
    int rc = s_be(h, l->count, 4);
    jp_msg_iter_init(&it, l);
    while (!rc && (rc = jp_msg_next_entry(&it, &store, &pos, &p, &n)) > 0) {
        if (store > UINT16_MAX)
            return JP_ECORRUPT;
        rc = jp_sha256(p, n, ch);
        rc = rc ? rc : s_be(h, store, 2);
        rc = rc ? rc : s_be(h, pos, 8);
        rc = rc ? rc : s_put(h, ch, sizeof ch);
    }
    return rc;
}

int
jp_vouch_digest(const jp_msg_t *m, uint16_t store, const uint8_t fetch_hash[JP_HASH_LEN],
                uint8_t out[JP_HASH_LEN])
{
    if (m->type != JP_MSG_CHANGES && m->type != JP_MSG_VIEWIDS &&
        m->type != JP_MSG_RECORDS)
        return JP_EINVAL;
    jp_sha_t *h;
    int rc = jp_sha_new(&h);
    if (rc)
        return rc;
    rc = s_put(h, S_TAG, sizeof S_TAG);
    rc = rc ? rc : s_u8(h, (uint8_t)m->type);
    rc = rc ? rc : s_be(h, store, 2);
    switch (m->type) {
    case JP_MSG_CHANGES:
        rc = rc ? rc : s_be(h, m->changes.from_pos, 8);
        rc = rc ? rc : s_be(h, m->changes.to_pos, 8);
        rc = rc ? rc : s_u8(h, m->changes.more);
        rc = rc ? rc : s_be(h, m->changes.view_count, 8);
        rc = rc ? rc : s_put(h, m->changes.view_hash, JP_HASH_LEN);
        rc = rc ? rc : s_entries(h, &m->changes.entries);
        break;
    case JP_MSG_VIEWIDS:
        rc = rc ? rc : s_put(h, m->viewids.after, 16);
        rc = rc ? rc : s_u8(h, m->viewids.more);
        rc = rc ? rc : s_be(h, m->viewids.view_pos, 8);
        rc = rc ? rc : s_be(h, m->viewids.ids.n / 16, 4);
        if (!rc && m->viewids.ids.n)
            rc = s_put(h, m->viewids.ids.p, m->viewids.ids.n);
        break;
    default:
        assert(fetch_hash);
        rc = rc ? rc : s_put(h, fetch_hash, JP_HASH_LEN);
        rc = rc ? rc : s_u8(h, m->records.more);
        rc = rc ? rc : s_entries(h, &m->records.entries);
        break;
    }
    rc = rc ? rc : jp_sha_final(h, out);
    jp_sha_destroy(&h);
    return rc;
}

int
jp_vouch_sign(jp_buf_t *out, size_t start, uint16_t store,
              const uint8_t fetch_hash[JP_HASH_LEN], const jp_key_t *key)
{
    assert(out->len >= start + JP_SIG_LEN);
    jp_msg_t m;
    uint8_t d[JP_HASH_LEN];
    int rc = jp_msg_decode(out->data + start, out->len - start, &m, NULL);
    rc = rc ? rc : jp_vouch_digest(&m, store, fetch_hash, d);
    return rc ? rc : jp_key_sign(key, d, sizeof d, out->data + out->len - JP_SIG_LEN);
}

int
jp_vouch_check(const jp_msg_t *m, uint16_t store, const uint8_t fetch_hash[JP_HASH_LEN],
               const uint8_t server_pub[JP_PUB_LEN], jp_err_t *err)
{
    uint8_t d[JP_HASH_LEN];
    int rc = jp_vouch_digest(m, store, fetch_hash, d);
    if (rc)
        return jp_err_set(err, rc, "%s: its entries do not walk",
                          jp_msg_type_name(m->type));
    const uint8_t *sig = m->type == JP_MSG_CHANGES   ? m->changes.sig
                         : m->type == JP_MSG_VIEWIDS ? m->viewids.sig
                                                     : m->records.sig;
    if (jp_sig_verify(server_pub, d, sizeof d, sig))
        return jp_err_set(
            err, JP_ESIG,
            "%s: the server's signature does not verify (altered on the way, "
            "or not from the pinned server)",
            jp_msg_type_name(m->type));
    return 0;
}
