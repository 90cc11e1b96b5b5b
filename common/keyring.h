/*
 * keyring.h -- the custody of the per-person keys of seal.h, apart from
 * the log: a node's keys file, and erasure that really destroys a key.
 *
 * Why not LMDB: LMDB writes copy-on-write, and a page it frees keeps its
 * old bytes until it is reused, so a key deleted from an LMDB table would
 * still be in the file.  Crypto-shredding needs the one copy of a key to
 * be overwritten, so the keys live in a file of fixed slots that an
 * erasure overwrites in place (and fsyncs) -- on a file system that writes
 * in place (ext4, xfs; not btrfs or zfs, whose copy-on-write defeats any
 * overwrite: deploy/README.md).
 *
 * Two files in the node's directory, both mode 0600:
 *
 *   keys       a 64-byte header, then 64-byte slots:
 *                header  "jipan-keys-1" NUL x4 (16) | generation u64 be
 *                        (bumped by every write, so other processes
 *                        know to re-read) | 40 zero bytes
 *                slot    state u8 (0 free, 1 live, 2 erased) | ring
 *                        generation u32 be (the ring key that wraps it) |
 *                        3 zero bytes | owner id (16) | wrapped key (40)
 *              A live slot's key is wrapped (AES-256 key wrap, RFC 3394)
 *              under a ring key; an erased slot keeps only its owner (so
 *              that "erased" differs from "not received"), its key bytes
 *              zero.
 *   keys.ring  the ring keys: "jipan-ring-1" NUL x4 (16), then entries of
 *              generation u32 be | key (32), oldest first.
 *
 * Backups: a backup of `keys` is useless without the ring key of its
 * slots.  jp_keyring_rotate() makes a new ring key, rewraps every live
 * slot under it and keeps only the newest `keep` ring keys; so a key
 * erased today is unreadable in every backup once `keep` rotations have
 * passed (the backups' retention), even though the backup's own file
 * still holds its wrapped bytes.
 *
 * Several processes may share a node (a sync daemon beside the counter's
 * screens): writes take an exclusive flock on `keys` and bump the
 * generation; a lookup that misses re-reads the file if the generation
 * moved.  Writes are durable (fdatasync) before they return, so a caller
 * that commits an LMDB transaction using a key after jp_keyring_put()
 * never holds a sealed value without its key.
 */
#ifndef JP_KEYRING_H
#define JP_KEYRING_H

#include "err.h"
#include "id.h"
#include "seal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JP_KEYRING_FILE "keys"
#define JP_KEYRING_RING_FILE "keys.ring"

typedef struct jp_keyring jp_keyring_t;

/* Open (create with create) the keys of the node directory dir.  Refuses
 * files other users may read, a file of another format, a slot whose ring
 * key is missing (JP_ECORRUPT with why), and JP_ENOTFOUND without create
 * when there are none.  Caller owns *self_p. */
int jp_keyring_open(jp_keyring_t **self_p, const char *dir, bool create, jp_err_t *err);
void jp_keyring_close(jp_keyring_t **self_p); /* NULL-safe, nulls *self_p */

/* What the ring knows of owner. */
typedef enum {
    JP_KEY_NONE = 0,   /* never held */
    JP_KEY_LIVE = 1,   /* held: key filled in */
    JP_KEY_ERASED = 2, /* held once, destroyed */
} jp_key_state_t;

/* owner's key into key (when live).  Returns the state, or a negative
 * JP_E* (an I/O error re-reading the file). */
int jp_keyring_get(jp_keyring_t *self, const jp_id_t *owner,
                   uint8_t key[JP_SEAL_KEY_LEN]);

/* Keep key for owner (durable on return).  Putting the same key again is
 * a no-op; a different key for a live owner is JP_EEXIST; an erased owner
 * is JP_EPERM (an erasure is final). */
int jp_keyring_put(jp_keyring_t *self, const jp_id_t *owner,
                   const uint8_t key[JP_SEAL_KEY_LEN], jp_err_t *err);

/* A new random key for owner, kept, into key.  JP_EEXIST if owner has one. */
int jp_keyring_make(jp_keyring_t *self, const jp_id_t *owner,
                    uint8_t key[JP_SEAL_KEY_LEN], jp_err_t *err);

/* Destroy owner's key: its slot overwritten in place and synced.  Erasing
 * an owner never held records the erasure (so a key arriving later is
 * refused); erasing twice is a no-op. */
int jp_keyring_erase(jp_keyring_t *self, const jp_id_t *owner, jp_err_t *err);

/* A new ring key: every live slot rewrapped under it, then only the newest
 * keep (at least 1) ring keys kept.  Durable on return. */
int jp_keyring_rotate(jp_keyring_t *self, unsigned keep, jp_err_t *err);

/* Counts of live and erased slots, and the ring keys kept. */
typedef struct {
    uint64_t live;   /* keys held */
    uint64_t erased; /* keys destroyed */
    uint32_t rings;  /* ring keys kept */
    uint32_t ring;   /* the current ring key's generation */
} jp_keyring_stat_t;
int jp_keyring_stat(jp_keyring_t *self, jp_keyring_stat_t *out);

#endif
