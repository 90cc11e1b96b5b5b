/*
 * db.h -- the LMDB layer: one environment per store (and one for the
 * server), holding the record states, every change log it has, and the
 * indexes the store needs.
 *
 * The one rule: a record's state and the change that made it are written in
 * the same LMDB transaction.  jp_txn_write() (a local edit) and
 * jp_txn_apply() (a change from elsewhere) both append the change to the
 * log, merge it into the record and update the indexes, inside the caller's
 * write transaction; the caller commits or aborts.  A crash anywhere leaves
 * the environment at a transaction boundary.
 *
 * Named databases (keys big-endian):
 *   meta      "node" -> node identity (msgpack, see db.c)
 *   heads     store u16 -> [seq u64 | head hash 32 | last hlc u64]
 *   rec       id 16 -> record state (codec.h)
 *   log       store u16 | seq u64 -> encoded change (codec.h)
 *   ix_ext    store u16 | class u8 | ext text -> id 16   (class: 1 customer
 *             ext_id, 2 vehicle VIN, 3 event ext_id)
 *   ix_phone  E.164 -> ids (dupsort)
 *   ix_idnum  ID number -> ids (dupsort)
 *   ix_vin    VIN -> ids of vehicles and service visits (dupsort)
 *   ix_plate  plate -> vehicle ids (dupsort)
 *   ix_name   name -> customer ids (dupsort)
 *   ix_cust   customer id 16 | at ms u64 | record id 16 -> "" (the timeline:
 *             the customer's vehicles by delivery and events by time)
 * An index entry exists exactly while the record is not deleted and the
 * field is set; every merge keeps them so.
 */
#ifndef JP_DB_H
#define JP_DB_H

#include "crypto.h"
#include "err.h"
#include "record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct jp_db jp_db_t;
typedef struct jp_txn jp_txn_t;

/* Who this environment belongs to. */
typedef struct {
    uint16_t store;  /* store number, 1..65535; 0 = the group server */
    char code[32];   /* short store code, e.g. "HZ01" */
    char name[128];  /* store name */
    char region[64]; /* region the store belongs to */
    char group[64];  /* dealer group */
    char tz[64];     /* group time zone, IANA name */
} jp_node_t;

/* A store's log position. */
typedef struct {
    uint64_t seq;              /* last seq, 0 if none */
    uint8_t head[JP_HASH_LEN]; /* hash of that change, zeros if none */
    jp_hlc_t hlc;              /* its hlc */
} jp_head_t;

typedef enum {
    JP_IX_PHONE = 1,
    JP_IX_IDNUM,
    JP_IX_VIN,
    JP_IX_PLATE,
    JP_IX_NAME,
} jp_index_t;

/* Open (creating if needed) the environment in directory dir, which must
 * exist.  map_mib is the LMDB map size in MiB (0: the default, 64 GiB;
 * the file grows only as used). */
int jp_db_open(jp_db_t **self_p, const char *dir, size_t map_mib, jp_err_t *err);
void jp_db_close(jp_db_t **self_p);

/* What to do when LMDB's own consistency checks fail (an assertion inside
 * LMDB: a damaged page).  fn gets LMDB's words and must not return (it
 * ends the process); the default (NULL) is LMDB's: print and abort.  For
 * every environment this process opens from now on. */
typedef void (*jp_db_damage_fn)(const char *msg);
void jp_db_on_damage(jp_db_damage_fn fn);

/* Begin a transaction.  One write transaction at a time per process. */
int jp_db_begin(jp_db_t *self, bool write, jp_txn_t **txn_p, jp_err_t *err);
int jp_txn_commit(jp_txn_t **txn_p, jp_err_t *err); /* JP_EFULL when full */
void jp_txn_abort(jp_txn_t **txn_p);                /* NULL-safe */

/* The LMDB transaction number: a read transaction's is that of the last
 * commit it sees; a write transaction's is one more than the last commit.
 * So a write transaction whose number is a read's + 1 knows that nothing
 * was committed in between, by any process. */
uint64_t jp_txn_number(const jp_txn_t *txn);

/* A fresh record id for this node (time-ordered). */
jp_id_t jp_db_new_id(jp_db_t *self);

/* Node identity; JP_ENOTFOUND before jp_txn_node_set (an uninitialised
 * store). */
int jp_txn_node_get(jp_txn_t *txn, jp_node_t *out);
int jp_txn_node_set(jp_txn_t *txn, const jp_node_t *node);

/* Log position of store (zeros if it has no changes here). */
int jp_txn_head(jp_txn_t *txn, uint16_t store, jp_head_t *out);

/* A local edit.  The caller fills id, kind, author and fields; this fills
 * store, seq, hlc and prev, then logs, merges and indexes.  Refuses
 * (changing nothing): an update of an event (JP_EPERM), a create without a
 * required field or with a field the kind does not carry (JP_EINVAL), an
 * update of an unknown record or a ref to one (JP_ENOTFOUND), a kind that
 * differs from the record's (JP_EINVAL), an author longer than
 * JP_MAX_AUTHOR bytes or a change that encodes to more than JP_MAX_CHANGE
 * (JP_ETOOBIG), an author or a text field that is not UTF-8 or holds a
 * control character (jp_text_check, JP_EINVAL).  A change that would alter
 * nothing (every field already has that value) is not written: returns
 * JP_EDUP. */
int jp_txn_write(jp_txn_t *txn, jp_change_t *ch, jp_err_t *err);

/* A change written elsewhere (encoded bytes).  It must continue its
 * store's chain here: seq = head.seq + 1 and prev = head.head (else
 * JP_ECHAIN); a change already here with the same hash returns JP_EDUP and
 * writes nothing; an hlc too far ahead of the local clock is JP_EFUTURE.
 * For changes the group has accepted (a store's pull, a replay): their
 * text is taken as it is, since refusing one would stop every later
 * change; screens show control characters as '?' (jp_text_show). */
int jp_txn_apply(jp_txn_t *txn, const uint8_t *p, size_t n, jp_err_t *err);
/* The same, for a change the caller has just decoded from p[n] with
 * jp_change_decode (ch borrows from p): saves decoding it twice.  This is
 * the server's merge of a store's push, the door into the group: an
 * author or a text field that jp_txn_write would refuse is refused here
 * too (JP_ETOOBIG, JP_EINVAL), so no change of a store that skipped the
 * checks gets in. */
int jp_txn_apply_decoded(jp_txn_t *txn, const uint8_t *p, size_t n, const jp_change_t *ch,
                         jp_err_t *err);

/* A change of another store that the group server vouched for (a signed
 * CHANGES or RECORDS, PROTOCOL.md): a store under a sharing rule holds a
 * subset of the other stores' logs, so their chains have gaps and only
 * the server's signature says the change is the group's.  No chain check;
 * a change already here at its (store, seq) with the same bytes returns
 * JP_EDUP, with other bytes JP_ECHAIN; an hlc too far ahead is
 * JP_EFUTURE.  The store's head moves only forward. */
int jp_txn_apply_vouched(jp_txn_t *txn, const uint8_t *p, size_t n, jp_err_t *err);

/* Remove what a store may no longer hold (its sharing rule stopped
 * giving it): the states of the n records ids (sorted by id; ids not here
 * are skipped), their index entries, and their changes in every log but
 * store keep's (its own chain stays whole).  *changes: log entries
 * removed.  Heads are left as they are. */
int jp_txn_forget(jp_txn_t *txn, const jp_id_t *ids, size_t n, uint16_t keep,
                  uint64_t *changes, jp_err_t *err);

/* A record's state; JP_ENOTFOUND if never written.  Text borrows from
 * LMDB: valid until the transaction ends or the next write in it. */
int jp_txn_get(jp_txn_t *txn, const jp_id_t *id, jp_record_t *out);

/* Record id by external id: class 1 customer ext_id, 2 vehicle VIN,
 * 3 event ext_id, within store. */
enum { JP_EXT_CUSTOMER = 1, JP_EXT_VEHICLE = 2, JP_EXT_EVENT = 3 };
int jp_txn_find_ext(jp_txn_t *txn, uint16_t store, int cls, const char *ext, size_t n,
                    jp_id_t *out);

/* Call cb for every id under key in index ix (prefix: every key starting
 * with it), until cb returns non-zero (which is returned). */
typedef int (*jp_id_cb)(void *arg, const jp_id_t *id);
int jp_txn_find(jp_txn_t *txn, jp_index_t ix, const char *key, size_t n, bool prefix,
                jp_id_cb cb, void *arg);

/* A customer's vehicles and events, oldest first. */
int jp_txn_timeline(jp_txn_t *txn, const jp_id_t *customer, jp_id_cb cb, void *arg);

/* Every record id in key order (for reports and digests). */
int jp_txn_each_record(jp_txn_t *txn, jp_id_cb cb, void *arg);

/* The encoded change (store, seq); borrowed like jp_txn_get. */
int jp_txn_log_get(jp_txn_t *txn, uint16_t store, uint64_t seq, const uint8_t **p,
                   size_t *n);

/* Walk store's log from seq 1: every change decodes, seqs are gapless,
 * each prev is the hash of the one before, the head matches heads, and
 * every change's record exists.  The first fault is named in err. */
int jp_txn_verify_chain(jp_txn_t *txn, uint16_t store, jp_err_t *err);
/* The same for another store's log held in part (a sharing rule gives
 * this store some of that store's changes, vouched by the server): every
 * change held decodes, is at its (store, seq) and has its record, and a
 * change right after a held one continues it; gaps are allowed.  *held:
 * changes held; *whole: they are all of 1..head (the chain is whole). */
int jp_txn_verify_part(jp_txn_t *txn, uint16_t store, uint64_t *held, bool *whole,
                       jp_err_t *err);

/* verify --deep and the log repair (jp_txn_verify_deep, jp_txn_log_repair)
 * are declared in repair.h. */

/* Stores that have a log here, ascending; returns the count (<= cap). */
int jp_txn_stores(jp_txn_t *txn, uint16_t *out, int cap);

/* SHA-256 over every (id, state) in key order: equal states, equal
 * digests, wherever computed. */
int jp_txn_digest(jp_txn_t *txn, uint8_t out[JP_HASH_LEN]);
/* The same digest over only the records keep(arg, id) is true for (the
 * view of a store, share.h): a store holding exactly those records in
 * those states has this digest. */
typedef bool (*jp_keep_cb)(void *arg, const jp_id_t *id);
int jp_txn_digest_of(jp_txn_t *txn, jp_keep_cb keep, void *arg, uint8_t out[JP_HASH_LEN]);

/* Record counts by kind (out[JP_K_COUNT]) and the number of changes. */
int jp_txn_counts(jp_txn_t *txn, uint64_t out[JP_K_COUNT], uint64_t *changes);

/* ---- tables: what sync, the server and the audit keep beside the records --
 *
 * Plain key -> value tables, keys compared as bytes (big-endian numbers sort
 * in order).  What each holds is defined by the code that owns it:
 *   sync   a store's sync state (sync.c): pull cursor, pinned server keys
 *   glog   the group log: position u64 -> store u16 | seq u64 (server)
 *   batch  signed batches: store u16 | last seq u64 -> first seq u64 |
 *          signature 64 | unix ms u64 (server: every batch it accepted;
 *          store: every batch it pushed)
 *   rcpt   receipts: store u16 | seq u64 -> server ms u64 | signature 64
 *          (store: the server's receipts; server: the ones it issued)
 *   keys   the server's enrolled keys: Curve public key 32 -> entry
 *   peers  the server's stores: store u16 -> entry
 *   grec   the group log by record: record id 16 | position u64 -> ""
 *          (server: the changes of one record, for a store's backfill)
 * Values are borrowed like jp_txn_get's. */
typedef enum {
    JP_TB_SYNC,
    JP_TB_GLOG,
    JP_TB_BATCH,
    JP_TB_RCPT,
    JP_TB_KEYS,
    JP_TB_PEERS,
    JP_TB_GREC,
    JP_TB_COUNT
} jp_table_t;

int jp_txn_tb_get(jp_txn_t *txn, jp_table_t tb, const void *k, size_t kn, const void **v,
                  size_t *vn); /* JP_ENOTFOUND if absent */
int jp_txn_tb_put(jp_txn_t *txn, jp_table_t tb, const void *k, size_t kn, const void *v,
                  size_t vn);
int jp_txn_tb_del(jp_txn_t *txn, jp_table_t tb, const void *k, size_t kn);

/* Call cb for each entry with key >= from (every entry: from NULL), in key
 * order, until cb returns non-zero (which is returned). */
typedef int (*jp_kv_cb)(void *arg, const uint8_t *k, size_t kn, const uint8_t *v,
                        size_t vn);
int jp_txn_tb_each(jp_txn_t *txn, jp_table_t tb, const void *from, size_t fn, jp_kv_cb cb,
                   void *arg);

/* The last key of tb, copied into k (cap bytes); JP_ENOTFOUND if tb is
 * empty. */
int jp_txn_tb_last(jp_txn_t *txn, jp_table_t tb, void *k, size_t cap, size_t *kn);

/* Append (store, seq), a change of record id, to the group log; *pos is its
 * position (1, 2, ...).  The grec table gets (id, pos). */
int jp_txn_glog_append(jp_txn_t *txn, uint16_t store, uint64_t seq, const jp_id_t *id,
                       uint64_t *pos);
/* The group log entry at pos: its store and seq (JP_ENOTFOUND past the end). */
int jp_txn_glog_get(jp_txn_t *txn, uint64_t pos, uint16_t *store, uint64_t *seq);
/* Call cb with the group log positions of record id's changes, in order,
 * until cb returns non-zero (which is returned). */
typedef int (*jp_pos_cb)(void *arg, uint64_t pos);
int jp_txn_glog_of(jp_txn_t *txn, const jp_id_t *id, jp_pos_cb cb, void *arg);
/* Index the group log by record (grec) if it is not: a base written before
 * grec existed.  *added: entries written (0 when it was already indexed). */
int jp_txn_glog_index(jp_txn_t *txn, uint64_t *added, jp_err_t *err);
/* Length of the group log. */
int jp_txn_glog_len(jp_txn_t *txn, uint64_t *len);

/* A signed batch: the store's signature of jp_batch_msg(store, first, last,
 * hash of change last), by the key pub, accepted (server) or sent (store)
 * at ms.  Kept in table batch. */
typedef struct {
    uint16_t store;
    uint64_t first, last;
    uint8_t sig[JP_SIG_LEN];
    uint64_t ms;
    uint8_t pub[JP_PUB_LEN];
} jp_batch_t;

int jp_txn_batch_put(jp_txn_t *txn, const jp_batch_t *b);
/* The batch of store that holds seq (JP_ENOTFOUND if none). */
int jp_txn_batch_find(jp_txn_t *txn, uint16_t store, uint64_t seq, jp_batch_t *out);
/* Decode a batch table entry (key and value as jp_txn_tb_each gives them). */
int jp_batch_decode(const uint8_t *k, size_t kn, const uint8_t *v, size_t vn,
                    jp_batch_t *out);

/* A server receipt: the server accepted store's changes up to seq, whose
 * hash is head, at ms; sig is the server's signature of jp_receipt_msg().
 * Kept in table rcpt (head is not stored: it is the log's). */
typedef struct {
    uint16_t store;
    uint64_t seq;
    uint64_t ms;
    uint8_t sig[JP_SIG_LEN];
} jp_receipt_t;

int jp_txn_receipt_put(jp_txn_t *txn, const jp_receipt_t *r);
int jp_receipt_decode(const uint8_t *k, size_t kn, const uint8_t *v, size_t vn,
                      jp_receipt_t *out);

/* The lean index set, for the group server and replays: only the phone
 * and ID number indexes (what linking needs) are kept; no timeline, name,
 * VIN, plate or external-id index (the counter screens' indexes, which
 * such an environment never serves).  Written to meta, so every program
 * opening the environment keeps the same set; only before the first
 * record (JP_EEXIST after).  State and digests are the same either way. */
int jp_txn_set_lean(jp_txn_t *txn, jp_err_t *err);
bool jp_db_lean(const jp_db_t *self);

/* LMDB's hot copy of the environment into directory dir (which must exist
 * and be empty), consistent as of one moment, while writers go on. */
int jp_db_copy(jp_db_t *self, const char *dir, jp_err_t *err);
/* Bytes the environment's data file uses (pages in use). */
int jp_db_size(jp_db_t *self, uint64_t *used, uint64_t *mapsize);

#endif
