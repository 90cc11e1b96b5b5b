/*
 * vouch.h -- the server's signature over what it sends a store.
 *
 * Under a sharing rule (common/share.h) a store holds only part of the
 * other stores' logs, so it cannot check their chains; the group server
 * vouches for every CHANGES, VIEWIDS and RECORDS message instead, and the
 * store verifies the signature with the pinned server key (WELCOME's
 * server_pub) before it applies anything.  PROTOCOL.md section 3,
 * "Vouched messages", is the specification:
 *
 *   sig = Ed25519(server key, SHA-256(V)), where V is
 *     "jipan-vouch-2\0" (14 bytes) | type u8 | store be16, then
 *     CHANGES  from_pos be64 | to_pos be64 | more u8 | view_count be64 |
 *              view_hash (32) | entries
 *     VIEWIDS  after (16) | more u8 | view_pos be64 | count be32 | the ids
 *     RECORDS  SHA-256 of the FETCH's ids (32) | more u8 | entries
 *   entries = count be32 | for each: store be16 | pos be64 |
 *             SHA-256 of the change's bytes (32)
 *   and store is the store the message is sent to.
 *
 * A signature binds the entries to their group log positions and to the
 * one store, so an entry changed, added, dropped or moved, or a message
 * meant for another store, fails; a RECORDS answers exactly one FETCH.
 */
#ifndef JP_VOUCH_H
#define JP_VOUCH_H

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "msg.h"

#include <stdint.h>

/* The digest of V for m (CHANGES, VIEWIDS or RECORDS) sent to store; for
 * RECORDS, fetch_hash is the SHA-256 of the FETCH's ids (else ignored).
 * JP_EINVAL for another type, JP_ECORRUPT for a list that does not walk. */
int jp_vouch_digest(const jp_msg_t *m, uint16_t store,
                    const uint8_t fetch_hash[JP_HASH_LEN], uint8_t out[JP_HASH_LEN]);

/* Server: sign the message encoded at out->data[start..len) in place (its
 * sig, the last element, is the frame's last 64 bytes). */
int jp_vouch_sign(jp_buf_t *out, size_t start, uint16_t store,
                  const uint8_t fetch_hash[JP_HASH_LEN], const jp_key_t *key);

/* Store: 0 if m's sig is server_pub's vouch, JP_ESIG (with why) if not. */
int jp_vouch_check(const jp_msg_t *m, uint16_t store,
                   const uint8_t fetch_hash[JP_HASH_LEN],
                   const uint8_t server_pub[JP_PUB_LEN], jp_err_t *err);

#endif
