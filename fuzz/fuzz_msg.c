/*
 * fuzz_msg.c -- the sync protocol's message decoder (proto/msg.c), as the
 * server and the stores run it on every frame a peer sends.
 *
 * A refusal must be one of the three codes msg.h documents, with a
 * message.  An accepted message's lists must walk to their end without
 * error (the decoder checked them), each change in them goes through the
 * change decoder as a receiver would, and the message must re-encode: the
 * encoder takes back whatever the decoder accepts, and decoding that gives
 * the same bytes again (msgpack forms other than the smallest may come in;
 * what goes out is one form).
 */
#include "codec.h"
#include "fuzz.h"
#include "msg.h"
#include "vouch.h"

#include <string.h>

static void
s_walk(const jp_msg_t *m)
{
    jp_msg_iter_t it;
    const uint8_t *p;
    size_t n;
    int rc;
    uint32_t seen = 0;
    if (m->type == JP_MSG_PUSH) {
        jp_msg_iter_init(&it, &m->push.changes);
        while ((rc = jp_msg_next_change(&it, &p, &n)) > 0) {
            jp_change_t ch;
            jp_err_t err = {0};
            int drc = jp_change_decode(p, n, &ch, &err);
            FUZZ_CHECK(drc == 0 || err.msg[0], "change refused (%d) without a message",
                       drc);
            seen++;
        }
        FUZZ_CHECK(rc == 0, "a decoded PUSH's list fails to walk: %d", rc);
        FUZZ_CHECK(seen == m->push.changes.count, "PUSH walked %u of %u changes", seen,
                   m->push.changes.count);
    } else if (m->type == JP_MSG_CHANGES || m->type == JP_MSG_RECORDS) {
        const jp_msg_list_t *l =
            m->type == JP_MSG_CHANGES ? &m->changes.entries : &m->records.entries;
        jp_msg_iter_init(&it, l);
        uint64_t store, pos;
        while ((rc = jp_msg_next_entry(&it, &store, &pos, &p, &n)) > 0) {
            jp_change_t ch;
            jp_err_t err = {0};
            int drc = jp_change_decode(p, n, &ch, &err);
            FUZZ_CHECK(drc == 0 || err.msg[0], "change refused (%d) without a message",
                       drc);
            seen++;
        }
        FUZZ_CHECK(rc == 0, "a decoded %s's list fails to walk: %d",
                   jp_msg_type_name(m->type), rc);
        FUZZ_CHECK(seen == l->count, "%s walked %u of %u entries", jp_msg_type_name(m->type),
                   seen, l->count);
        /* the vouch walks what the decoder accepted */
        uint8_t d[JP_HASH_LEN], fh[JP_HASH_LEN] = {0};
        FUZZ_CHECK(jp_vouch_digest(m, 1, fh, d) == 0, "a decoded %s does not vouch",
                   jp_msg_type_name(m->type));
    } else if (m->type == JP_MSG_VIEWIDS || m->type == JP_MSG_FETCH) {
        size_t ids = m->type == JP_MSG_VIEWIDS ? m->viewids.ids.n : m->fetch.ids.n;
        FUZZ_CHECK(ids % 16 == 0 && ids <= JP_MSG_MAX_IDS * 16u, "%zu bytes of ids", ids);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jp_msg_t m;
    jp_err_t err = {0};
    int rc = jp_msg_decode(data, size, &m, &err);
    if (rc) {
        FUZZ_CHECK(rc == JP_ECORRUPT || rc == JP_ETOOBIG || rc == JP_EVERSION,
                   "decode returned %d", rc);
        FUZZ_CHECK(err.msg[0] != '\0', "refused (%d) without a message", rc);
        FUZZ_CHECK(jp_msg_perr(rc) != JP_PERR_INTERNAL, "refusal %d maps to internal",
                   rc);
        return 0;
    }
    FUZZ_CHECK(jp_msg_type_name(m.type) != NULL, "accepted unknown type %d", m.type);
    s_walk(&m);

    jp_buf_t once = {0}, twice = {0};
    rc = jp_msg_encode(&m, &once);
    FUZZ_CHECK(rc == 0, "an accepted %s does not re-encode: %d", jp_msg_type_name(m.type),
               rc);
    jp_msg_t back;
    rc = jp_msg_decode(once.data, once.len, &back, &err);
    FUZZ_CHECK(rc == 0, "a re-encoded %s does not decode: %s", jp_msg_type_name(m.type),
               err.msg);
    FUZZ_CHECK(back.type == m.type, "type %d came back as %d", m.type, back.type);
    FUZZ_CHECK(jp_msg_encode(&back, &twice) == 0, "second encode failed");
    FUZZ_CHECK(twice.len == once.len && memcmp(twice.data, once.data, once.len) == 0,
               "%s: encode(decode(encode(m))) differs from encode(m)",
               jp_msg_type_name(m.type));
    jp_buf_free(&once);
    jp_buf_free(&twice);
    return 0;
}
