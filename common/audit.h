/*
 * audit.h -- what jipan-audit does, as a library: verify an export file,
 * replay it into a fresh LMDB environment, follow one record's history.
 *
 * verify reads the file once, in order, with memory bounded by the
 * number of stores and the changes of the batches not yet authenticated.
 * Each store's chain is authenticated backwards from its signed batch
 * heads: a batch signature proves the hash of its last change, that
 * change's prev proves the one before, and so on; so when a change's
 * bytes differ from what its successor (or its batch's signature)
 * commits to, that change is the one named.  Every fault is counted and
 * the first one in file order is kept, with its position, store and seq.
 */
#ifndef JP_AUDIT_H
#define JP_AUDIT_H

#include "db.h"
#include "export.h"

#include <stdbool.h>
#include <stdint.h>

/* One thing wrong. */
typedef struct {
    uint64_t index; /* ENTRY record number in the file (1-based); for a
                       fault of another record, that of the entry before
                       it; 0 for the header and keys */
    uint64_t pos;   /* the position it concerns (0: none) */
    uint16_t store; /* the store it concerns */
    uint64_t seq;   /* the seq it concerns (0: none) */
    int code;       /* JP_ECHAIN, JP_ESIG, JP_ECORRUPT, JP_EPERM, ... */
    char what[400]; /* what is wrong, in words */
} jp_afault_t;

/* Progress: bytes of the file read so far of total. */
typedef void (*jp_aprogress_fn)(void *arg, uint64_t done, uint64_t total);

typedef struct {
    const uint8_t *server_key;      /* pinned receipt key of the server, or NULL */
    const char *const *store_files; /* stores' own exports to cross-check */
    int nstore_files;
    const char *const *key_files; /* stores' key files (attest.h): the keys
                                     pinned for those stores */
    int nkey_files;
    jp_aprogress_fn progress; /* may be NULL */
    void *arg;
} jp_averify_opts_t;

typedef struct {
    jp_xhdr_t hdr;               /* the file's header */
    uint64_t entries;            /* ENTRY records */
    uint64_t batches;            /* BATCH records, signatures verified */
    uint64_t receipts;           /* RECEIPT records */
    uint64_t stores;             /* stores with entries */
    uint64_t bytes;              /* file size */
    uint64_t change_bytes;       /* bytes of the changes */
    bool ended;                  /* END was read */
    bool end_ok;                 /* its signature and file hash verify */
    bool has_digest;             /* END publishes a state digest */
    uint8_t digest[JP_HASH_LEN]; /* that digest */
    uint64_t end_pos;            /* END's position */
    uint8_t signer[JP_PUB_LEN];  /* END's key */
    int crosschecked;            /* store exports compared */
    int key_files;               /* store key files read */
    uint64_t key_stores;         /* stores (not the server) with KEY records */
    uint64_t pinned;             /* of them, pinned by a key file: the rest
                                    rest on the keys as the export lists them */
    bool server_pinned;          /* the server key was checked against one not
                                    from the export (--server-key, or a store
                                    export's pinned key) */
    uint64_t nfaults;            /* faults found */
    jp_afault_t first;           /* the first one in file order */
} jp_averify_t;

/* Verify the export at path.  Returns 0 when the file was read (out says
 * whether it verified: nfaults == 0), JP_ENOTFOUND / JP_EIO when it (or a
 * store export or key file) cannot be read, JP_ENOMEM.  A key file that
 * reads but does not check (form, signature, group) is a fault.  With a
 * key file for a store, every KEY the export lists for it must be in the
 * file; a store KEY equal to the server's is a fault always; a key found
 * wrong is not the store's, so each batch it signed is a fault too. */
int jp_audit_verify(const char *path, const jp_averify_opts_t *o, jp_averify_t *out,
                    jp_err_t *err);

/* ---- replay -------------------------------------------------------------- */

typedef struct {
    bool by_time;             /* stop by accepted time, else by position */
    uint64_t at_pos;          /* last position to apply (by position) */
    int64_t as_of;            /* unix ms (by time): entries whose batch was
                                 accepted at or before it, as the longest
                                 such prefix of the log */
    jp_aprogress_fn progress; /* may be NULL */
    void *arg;
} jp_areplay_opts_t;

typedef struct {
    jp_xhdr_t hdr;               /* the file's header */
    uint64_t applied;            /* entries applied */
    uint64_t pos;                /* last position applied (0: none) */
    uint8_t digest[JP_HASH_LEN]; /* state digest of the replayed environment */
    bool at_end;                 /* pos is END's position */
    bool has_signed;             /* END publishes a digest for pos */
    bool match;                  /* ... and it equals ours */
    int64_t pos_ms;              /* accepted time of the last batch applied */
} jp_areplay_t;

/* Replay the group export at path into the environment db (fresh, empty;
 * the caller opens and closes it): every entry up to the stop, in log
 * order, with jp_txn_apply.  JP_EINVAL for a range export that does not
 * start at position 1 (its earlier state is not in the file), or for a
 * stop past the end; apply failures as jp_txn_apply returns them, with
 * the position in err. */
int jp_audit_replay(const char *path, jp_db_t *db, const jp_areplay_opts_t *o,
                    jp_areplay_t *out, jp_err_t *err);

/* ---- history ------------------------------------------------------------- */

/* One field of one change of the history. */
typedef struct {
    uint8_t field;   /* JP_F_* */
    bool had;        /* the record had a value before */
    jp_val_t before; /* it (when had) */
    jp_val_t after;  /* the change's value */
    bool taken;      /* the merge took it (false: an older stamp lost) */
} jp_ahfield_t;

/* One change of the history; values borrow from the history's memory,
 * valid until jp_audit_history returns. */
typedef struct {
    uint64_t pos; /* position in the export */
    const jp_change_t *ch;
    uint64_t accepted_ms; /* when its batch was accepted (0: unknown) */
    int nf;
    jp_ahfield_t f[JP_MAX_FIELDS];
} jp_ahist_t;

typedef int (*jp_ahist_fn)(void *arg, const jp_ahist_t *h);

/* Every change of record id in the export at path, and, when id is a
 * customer, of the customer rows linked to it (link records, kind link,
 * link_a/link_b) and of those links, in log order; cb for each.  *count
 * is how many.  Reads the file twice (links may come after the rows). */
int jp_audit_history(const char *path, const jp_id_t *id, jp_ahist_fn cb, void *arg,
                     uint64_t *count, jp_err_t *err);

#endif
