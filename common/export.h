/*
 * export.h -- the export file: a log as a self-contained msgpack stream
 * that an auditor verifies and replays on their own (docs/EXPORT.md).
 *
 * A file is a sequence of records, each one msgpack array whose first
 * element is its type:
 *
 *   HEADER  [1, "jipan-export", 1, kind, group, tz, store, from, to, ms]
 *   KEY     [2, store, pub bin(32)]                (store 0: the server)
 *   ANCHOR  [3, store, seq, hash bin(32)]          (range exports)
 *   ENTRY   [4, pos, store, seq, change bin]
 *   BATCH   [5, store, first, last, ms, pub bin(32), sig bin(64)]
 *   RECEIPT [6, store, seq, ms, sig bin(64)]
 *   END     [7, pos, entries, head bin(32), digest bin(32)|nil,
 *            file hash bin(32), pub bin(32), sig bin(64)]
 *
 * HEADER comes first, then the KEYs and ANCHORs, then the ENTRYs in log
 * order, each BATCH right after the entry of its last seq and each
 * RECEIPT right after the entry (or batch) of its seq, and END last.  END
 * is signed (jp_export_msg) by the exporter's key: the server's for a
 * group export, the store's for a store export; the file hash is SHA-256
 * of every byte before END.
 *
 * The writer emits msgpack's smallest forms.  The reader is bounded: it
 * reads through a fixed buffer, checks every length against the limits
 * below before using it, and returns JP_ECORRUPT (malformed or truncated),
 * JP_ETOOBIG (a length over its limit) or JP_EVERSION (not this format's
 * version) with the byte offset in the message.
 */
#ifndef JP_EXPORT_H
#define JP_EXPORT_H

#include "crypto.h"
#include "err.h"
#include "id.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JP_EXPORT_MAGIC "jipan-export"
#define JP_EXPORT_VERSION 1
#define JP_EXPORT_MAX_TEXT 64 /* bytes of group and tz */

enum {
    JP_XR_HEADER = 1,
    JP_XR_KEY = 2,
    JP_XR_ANCHOR = 3,
    JP_XR_ENTRY = 4,
    JP_XR_BATCH = 5,
    JP_XR_RECEIPT = 6,
    JP_XR_END = 7,
};

/* What was exported. */
enum {
    JP_XK_GROUP = 1, /* the server's group log: positions are group positions */
    JP_XK_STORE = 2, /* one store's own log: positions are that store's seqs */
};

typedef struct {
    uint8_t kind;                       /* JP_XK_* */
    char group[JP_EXPORT_MAX_TEXT + 1]; /* dealer group */
    char tz[JP_EXPORT_MAX_TEXT + 1];    /* group time zone, IANA */
    uint16_t store;                     /* 0 for a group export, else the store */
    uint64_t from, to;                  /* position range exported (inclusive);
                                           from = to + 1 when empty */
    uint64_t ms;                        /* when the export was made, unix ms */
} jp_xhdr_t;

typedef struct {
    uint64_t pos;     /* group position (group export) or seq (store export) */
    uint16_t store;   /* writer of the change, as the entry says */
    uint64_t seq;     /* its seq, as the entry says */
    const uint8_t *p; /* the encoded change (codec.h); borrowed until the
                         next jp_xr_next */
    size_t n;         /* its bytes, <= JP_MAX_CHANGE */
} jp_xentry_t;

typedef struct {
    uint64_t pos;                   /* position of the export's last entry */
    uint64_t entries;               /* ENTRY records in the file */
    uint8_t head[JP_HASH_LEN];      /* SHA-256 of the last entry's change, 0s if none */
    bool has_digest;                /* a state digest is published */
    uint8_t digest[JP_HASH_LEN];    /* state digest after position pos (db.h) */
    uint8_t file_hash[JP_HASH_LEN]; /* SHA-256 of every byte before END */
    uint8_t pub[JP_PUB_LEN];        /* the signer's key */
    uint8_t sig[JP_SIG_LEN];        /* signature of jp_export_msg() */
} jp_xend_t;

/* One record as read. */
typedef struct {
    uint8_t type;    /* JP_XR_* */
    uint64_t offset; /* byte offset of the record in the file */
    union {
        jp_xhdr_t hdr;
        struct {
            uint16_t store;
            uint8_t pub[JP_PUB_LEN];
        } key;
        struct {
            uint16_t store;
            uint64_t seq;              /* seq of the store's change before the range */
            uint8_t hash[JP_HASH_LEN]; /* its hash */
        } anchor;
        jp_xentry_t entry;
        struct {
            uint16_t store;
            uint64_t first, last; /* seqs the signature covers */
            uint64_t ms;          /* accepted (group) or signed (store), unix ms */
            uint8_t pub[JP_PUB_LEN];
            uint8_t sig[JP_SIG_LEN];
        } batch;
        struct {
            uint16_t store;
            uint64_t seq; /* accepted up to this seq */
            uint64_t ms;  /* server time of the receipt */
            uint8_t sig[JP_SIG_LEN];
        } receipt;
        jp_xend_t end;
    } u;
} jp_xrec_t;

/* The bytes END's signature covers (136 bytes): "jipan-state-1\0" (14) |
 * store be16 | pos be64 | export ms be64 | entries be64 | head (32) |
 * digest (32, zeros when none) | file hash (32). */
#define JP_EXPORT_MSG_LEN 136
size_t jp_export_msg(const jp_xhdr_t *h, const jp_xend_t *e,
                     uint8_t out[JP_EXPORT_MSG_LEN]);

/* ---- writer -------------------------------------------------------------- */

typedef struct jp_xw jp_xw_t;

/* Create path (refuses to overwrite an existing file: JP_EEXIST) and write
 * the header.  Caller owns *self_p. */
int jp_xw_open(jp_xw_t **self_p, const char *path, const jp_xhdr_t *h, jp_err_t *err);
int jp_xw_key(jp_xw_t *self, uint16_t store, const uint8_t pub[JP_PUB_LEN]);
int jp_xw_anchor(jp_xw_t *self, uint16_t store, uint64_t seq,
                 const uint8_t hash[JP_HASH_LEN]);
int jp_xw_entry(jp_xw_t *self, uint64_t pos, uint16_t store, uint64_t seq,
                const uint8_t *p, size_t n);
int jp_xw_batch(jp_xw_t *self, uint16_t store, uint64_t first, uint64_t last, uint64_t ms,
                const uint8_t pub[JP_PUB_LEN], const uint8_t sig[JP_SIG_LEN]);
int jp_xw_receipt(jp_xw_t *self, uint16_t store, uint64_t seq, uint64_t ms,
                  const uint8_t sig[JP_SIG_LEN]);
/* Write END: pos, the state digest (NULL: none), signed with key; the
 * entry count, head and file hash are the writer's own.  Then flush and
 * fsync.  JP_EIO with errno's words on a write failure. */
int jp_xw_end(jp_xw_t *self, uint64_t pos, const uint8_t *digest, const jp_key_t *key,
              jp_err_t *err);
/* Close (NULL-safe).  A file closed before jp_xw_end is removed. */
void jp_xw_close(jp_xw_t **self_p);

/* ---- reader -------------------------------------------------------------- */

typedef struct jp_xr jp_xr_t;

/* Open path for reading.  Caller owns *self_p. */
int jp_xr_open(jp_xr_t **self_p, const char *path, jp_err_t *err);
/* The next record: 1 when one was read into rec, 0 at the end of the file,
 * or a negative code (err says what and at which byte).  Anything after
 * END is JP_ECORRUPT. */
int jp_xr_next(jp_xr_t *self, jp_xrec_t *rec, jp_err_t *err);
/* SHA-256 of every byte before the END record just read (valid once
 * jp_xr_next has returned END). */
void jp_xr_file_hash(const jp_xr_t *self, uint8_t out[JP_HASH_LEN]);
/* Bytes consumed so far, and the file's size. */
uint64_t jp_xr_offset(const jp_xr_t *self);
uint64_t jp_xr_size(const jp_xr_t *self);
void jp_xr_close(jp_xr_t **self_p);

/* The head of an encoded change (codec.h), read without validating its
 * fields: what verification needs, fast.  JP_ECORRUPT if those elements
 * are malformed, JP_EVERSION for another change version. */
typedef struct {
    uint16_t store;            /* writer */
    uint64_t seq;              /* its seq */
    uint64_t hlc;              /* its hlc */
    jp_id_t id;                /* the record it writes */
    uint8_t kind;              /* JP_K_* */
    uint8_t prev[JP_HASH_LEN]; /* hash of the writer's previous change */
} jp_chead_t;
int jp_change_peek(const uint8_t *p, size_t n, jp_chead_t *out);

/* "group" / "store". */
const char *jp_export_kind_name(uint8_t kind);

#endif
