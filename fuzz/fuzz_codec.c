/*
 * fuzz_codec.c -- the change and record decoders (common/codec.c).
 *
 * Every input goes to both decoders.  A refusal must be one of the
 * documented codes with a message.  What is accepted must be the one
 * canonical form: re-encoding it gives the input back byte for byte
 * (codec.h).  An accepted change is also merged into an empty record,
 * whose state must round-trip the same way, as a store's LMDB would hold it.
 */
#include "codec.h"
#include "fuzz.h"

#include <string.h>

static void
s_check_refusal(int rc, const jp_err_t *err, const char *what)
{
    FUZZ_CHECK(rc == JP_ECORRUPT || rc == JP_ETOOBIG || rc == JP_EVERSION,
               "%s decode returned %d", what, rc);
    FUZZ_CHECK(err->msg[0] != '\0', "%s refused (%d) without a message", what, rc);
}

/* r encodes to exactly want[0..n), and that decodes back to the same. */
static void
s_record_round_trip(const jp_record_t *r, const uint8_t *want, size_t n)
{
    jp_buf_t b = {0};
    FUZZ_CHECK(jp_record_encode(r, &b) == 0, "record encode failed");
    if (want) {
        FUZZ_CHECK(b.len == n && memcmp(b.data, want, n) == 0,
                   "accepted record re-encodes to %zu bytes, not its %zu", b.len, n);
    } else {
        jp_record_t back;
        jp_err_t err = {0};
        int rc = jp_record_decode(b.data, b.len, &r->id, &back, &err);
        FUZZ_CHECK(rc == 0, "an encoded record does not decode: %s", err.msg);
        jp_buf_t again = {0};
        FUZZ_CHECK(jp_record_encode(&back, &again) == 0, "record encode failed");
        FUZZ_CHECK(again.len == b.len && memcmp(again.data, b.data, b.len) == 0,
                   "a record's state does not survive decode and encode");
        jp_buf_free(&again);
    }
    jp_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jp_err_t err = {0};
    jp_change_t ch;
    int rc = jp_change_decode(data, size, &ch, &err);
    if (rc == 0) {
        jp_buf_t b = {0};
        FUZZ_CHECK(jp_change_encode(&ch, &b) == 0, "change encode failed");
        FUZZ_CHECK(b.len == size && memcmp(b.data, data, size) == 0,
                   "accepted change re-encodes to %zu bytes, not its %zu", b.len, size);
        jp_buf_free(&b);
        jp_record_t r;
        jp_record_init(&r, &ch.id);
        FUZZ_CHECK(jp_merge(&r, &ch) >= 0,
                   "a change does not merge into an empty record");
        s_record_round_trip(&r, NULL, 0);
    } else {
        s_check_refusal(rc, &err, "change");
    }

    static const jp_id_t id = {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
    jp_record_t r;
    memset(&err, 0, sizeof err);
    rc = jp_record_decode(data, size, &id, &r, &err);
    if (rc == 0)
        s_record_round_trip(&r, data, size);
    else
        s_check_refusal(rc, &err, "record");
    return 0;
}
