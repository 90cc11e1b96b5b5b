/*
 * db.c -- the LMDB layer: record states, change logs and indexes of one
 * environment, written together in one transaction.
 *
 * The one idea: jp_txn_write() (a local edit) and jp_txn_apply() (a change
 * from elsewhere) differ only in how they check and complete the change;
 * both end in s_commit_change(), which merges, appends the log entry,
 * moves the head, updates the indexes and stores the new state.  Indexes
 * are a function of the record state alone (never of the change), so that
 * every node that holds the same states holds the same indexes, whatever
 * order the changes came in.
 *
 * Refusals (JP_EPERM, JP_EINVAL, JP_ENOTFOUND, JP_EDUP, JP_ECHAIN,
 * JP_EFUTURE from the checks) happen before the first put and leave the
 * transaction usable.  A failure after the first put (map full, an LMDB
 * error) marks the transaction broken: jp_txn_commit() then aborts it and
 * returns that failure, so a half-written change can never be committed.
 *
 * The environment is opened with MDB_NOTLS: read transactions are not tied
 * to a thread, so a daemon may hand them between threads and a thread may
 * hold a read transaction while it writes.  There is one writer per process
 * (LMDB's writer lock covers other processes); the write path uses scratch
 * buffers and records kept in jp_db_t so that a change costs no malloc once
 * they have grown.  Durability is LMDB's default: a commit is synced.
 *
 * Index keys longer than LMDB's key limit (511 bytes in Debian's build) are
 * cut to that limit, when written and when looked up alike; empty strings
 * are not indexed (LMDB refuses empty keys).
 */
#include "db.h"
#include "codec.h"
#include "db_int.h"
#include "export.h"
#include "validate.h"

#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define S_DEFAULT_MAP_MIB ((size_t)64 * 1024) /* 64 GiB; the file grows as used */
#define S_MAXDBS 32                           /* named databases, with room */
#define S_KEYBUF 512                          /* bytes of an index key buffer */
#define S_HEAD_LEN (8 + JP_HASH_LEN + 8)      /* seq | hash | hlc */
#define S_LOGKEY_LEN 10                       /* store u16 | seq u64 */
#define S_NODE_VERSION 1                      /* layout of meta "node" */

/* The named databases, in jp_db_t.dbi[] order. */
enum {
    S_META,
    S_HEADS,
    S_REC,
    S_LOG,
    S_IX_EXT,
    S_IX_PHONE,
    S_IX_IDNUM,
    S_IX_VIN,
    S_IX_PLATE,
    S_IX_NAME,
    S_IX_CUST,
    S_TB0, /* the jp_table_t tables follow, in that order */
    S_NDBI = S_TB0 + JP_TB_COUNT
};

static const struct {
    const char *name; /* LMDB name */
    unsigned flags;   /* mdb_dbi_open flags besides MDB_CREATE */
} s_dbis[S_NDBI] = {
    [S_META] = {"meta", 0},
    [S_HEADS] = {"heads", 0},
    [S_REC] = {"rec", 0},
    [S_LOG] = {"log", 0},
    [S_IX_EXT] = {"ix_ext", 0},
    [S_IX_PHONE] = {"ix_phone", MDB_DUPSORT | MDB_DUPFIXED},
    [S_IX_IDNUM] = {"ix_idnum", MDB_DUPSORT | MDB_DUPFIXED},
    [S_IX_VIN] = {"ix_vin", MDB_DUPSORT | MDB_DUPFIXED},
    [S_IX_PLATE] = {"ix_plate", MDB_DUPSORT | MDB_DUPFIXED},
    [S_IX_NAME] = {"ix_name", MDB_DUPSORT | MDB_DUPFIXED},
    [S_IX_CUST] = {"ix_cust", 0},
    [S_TB0 + JP_TB_SYNC] = {"sync", 0},
    [S_TB0 + JP_TB_GLOG] = {"glog", 0},
    [S_TB0 + JP_TB_BATCH] = {"batch", 0},
    [S_TB0 + JP_TB_RCPT] = {"rcpt", 0},
    [S_TB0 + JP_TB_KEYS] = {"keys", 0},
    [S_TB0 + JP_TB_PEERS] = {"peers", 0},
    [S_TB0 + JP_TB_GREC] = {"grec", 0},
};

/* The index entries a record state has, one slot each. */
enum {
    S_X_PHONE,
    S_X_IDNUM,
    S_X_NAME,
    S_X_VIN,
    S_X_PLATE,
    S_X_EXT,
    S_X_CUST,  /* timeline: a vehicle's or event's customer; a link's link_b */
    S_X_CUST2, /* timeline: a link's link_a (a link is in both timelines) */
    S_X_N
};

typedef struct {
    int which;           /* S_IX_* database */
    size_t n;            /* bytes of k */
    uint8_t k[S_KEYBUF]; /* the key */
} s_ixkey_t;

/* The index entries of two states of one record, copied out of LMDB's
 * pages before the first put (a put may move or reuse those pages). */
typedef struct {
    bool has[2][S_X_N];      /* [0] old state, [1] new state: entry exists */
    s_ixkey_t key[2][S_X_N]; /* its key */
} s_ixdiff_t;

struct jp_db {
    MDB_env *env;        /* the environment */
    MDB_dbi dbi[S_NDBI]; /* named database handles, S_* order */
    size_t maxkey;       /* LMDB's key size limit, bytes */
    jp_node_t node;      /* node identity, valid when node_ok */
    bool node_ok;        /* node holds what meta says (committed or in this txn) */
    bool lean;           /* meta "lean": only the phone and ID number indexes */
    jp_idgen_t idgen;    /* ids of this node, seeded with node.store */
    jp_hlc_t last_hlc;   /* greatest hlc made or seen here */
    jp_buf_t chbuf;      /* write path: the encoded change */
    jp_buf_t recbuf;     /* write path: the encoded record state */
    jp_record_t old;     /* write path: state before the change */
    jp_record_t cur;     /* write path: state after the merge */
    jp_change_t in;      /* apply path: the decoded remote change */
    s_ixdiff_t ix;       /* write path: index entries before and after */
};

/* The last key of an append-mostly database, learnt once per transaction.
 * It may be past the real last key (after a delete), never before it. */
typedef struct {
    bool known;    /* k/empty are loaded */
    bool empty;    /* the database has no key */
    size_t n;      /* bytes of k */
    uint8_t k[64]; /* last key (rec: 16 bytes, log: 10, ix_cust: 40, ix_ext: 3+) */
} s_last_t;

/* The base this thread has a write transaction open on: threads write one
 * at a time (LMDB's writer lock), but a second writer in the same thread
 * would wait on that lock for ever. */
static _Thread_local const jp_db_t *s_writer;

struct jp_txn {
    jp_db_t *db;         /* owner */
    MDB_txn *t;          /* the LMDB transaction */
    bool write;          /* a write transaction */
    bool meta;           /* it set the node or the index set (undone by an abort) */
    int broken;          /* 0, or the JP_E* of a write that failed half-way */
    s_last_t rec_last;   /* last key of rec, to use MDB_APPEND */
    s_last_t log_last;   /* last key of log, to use MDB_APPEND */
    s_last_t ext_last;   /* last key of ix_ext, to use MDB_APPEND */
    s_last_t cust_last;  /* last key of ix_cust, to use MDB_APPEND */
    bool head_ok;        /* head holds heads[head_store] as of this txn */
    bool head_dirty;     /* head is newer than heads: put it before commit */
    uint16_t head_store; /* store of the cached head */
    jp_head_t head;      /* one store's log position, kept across writes */
    jp_id_t ref_ok[2];   /* last customer [0] and complaint [1] a ref was checked to */
    bool glog_ok;        /* glog_len holds the group log's length */
    uint64_t glog_len;   /* the group log's length, counted by glog_append */
};

/* ---- small helpers ----------------------------------------------------- */

/* Translate an LMDB (or errno) code into JP_E*, once, here. */
static int
s_mdb(int rc, jp_err_t *err, const char *what)
{
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return jp_err_set(err, JP_ENOTFOUND, "%s: not found", what);
    if (rc == MDB_MAP_FULL || rc == ENOSPC)
        return jp_err_set(err, JP_EFULL, "%s: %s", what, mdb_strerror(rc));
    /* LMDB has no checksums: these are what a damaged page looks like to
     * it (and MDB_BAD_TXN what every call after one returns). */
    if (rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND || rc == MDB_BAD_TXN ||
        rc == MDB_INVALID || rc == MDB_BAD_DBI || rc == MDB_INCOMPATIBLE)
        return jp_err_set(err, JP_EDAMAGED, "%s: the database file is damaged (%s)", what,
                          mdb_strerror(rc));
    return jp_err_set(err, JP_EDB, "%s: %s", what, mdb_strerror(rc));
}

static MDB_dbi
s_dbi(const jp_txn_t *txn, int which)
{
    return txn->db->dbi[which];
}

/* Borrowed value of key in database which. */
static int
s_get(jp_txn_t *txn, int which, const void *k, size_t kn, MDB_val *v)
{
    MDB_val key = {kn, (void *)k};
    return s_mdb(mdb_get(txn->t, s_dbi(txn, which), &key, v), NULL, "get");
}

static void
s_logkey(uint8_t k[S_LOGKEY_LEN], uint16_t store, uint64_t seq)
{
    jp_be16_put(k, store);
    jp_be64_put(k + 2, seq);
}

/* A record's kind from the first bytes of its encoding, array(3)[1, kind,
 * ...] (codec.h), without decoding the rest; -1 if they are not that. */
static int
s_rec_kind(const MDB_val *v)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 3 || p[0] != 0x93 || p[1] != JP_CODEC_VERSION ||
        p[2] >= JP_K_COUNT || p[2] == JP_K_NONE)
        return -1;
    return p[2];
}

static const char *
s_idtext(const jp_id_t *id, char out[JP_ID_TEXT_LEN + 1])
{
    jp_id_format(id, out);
    return out;
}

/* ---- heads --------------------------------------------------------------- */

/* The cached head goes to the heads database (before a commit, before
 * another store's head is cached, before heads is scanned). */
static int
s_head_flush(jp_txn_t *txn)
{
    if (!txn->head_dirty)
        return 0;
    uint8_t k[2], v[S_HEAD_LEN];
    jp_be16_put(k, txn->head_store);
    jp_be64_put(v, txn->head.seq);
    memcpy(v + 8, txn->head.head, JP_HASH_LEN);
    jp_be64_put(v + 8 + JP_HASH_LEN, txn->head.hlc);
    MDB_val key = {sizeof k, k}, val = {sizeof v, v};
    int rc = mdb_put(txn->t, s_dbi(txn, S_HEADS), &key, &val, 0);
    if (rc) {
        txn->broken = s_mdb(rc, NULL, "heads");
        return txn->broken;
    }
    txn->head_dirty = false;
    return 0;
}

/* A store's log position.  A write transaction keeps the last one it read
 * or wrote in memory: a run of writes by one store then costs no heads
 * lookups and one put at commit. */
static int
s_head_get(jp_txn_t *txn, uint16_t store, jp_head_t *out)
{
    if (txn->head_ok && txn->head_store == store) {
        *out = txn->head;
        return 0;
    }
    int rc = s_head_flush(txn);
    if (rc)
        return rc;
    uint8_t k[2];
    MDB_val v;
    jp_be16_put(k, store);
    memset(out, 0, sizeof *out);
    rc = s_get(txn, S_HEADS, k, sizeof k, &v);
    if (rc && rc != JP_ENOTFOUND)
        return rc;
    if (rc == 0) {
        if (v.mv_size != S_HEAD_LEN)
            return JP_EDAMAGED;
        const uint8_t *p = v.mv_data;
        out->seq = jp_be64_get(p);
        memcpy(out->head, p + 8, JP_HASH_LEN);
        out->hlc = jp_be64_get(p + 8 + JP_HASH_LEN);
    }
    if (txn->write) {
        txn->head_ok = true;
        txn->head_store = store;
        txn->head = *out;
    }
    return 0;
}

/* ---- node identity --------------------------------------------------------
 *
 * meta "node" is a msgpack array(7):
 *   [ layout version:uint (=1), store:uint, code:str, name:str, region:str,
 *     group:str, tz:str ]
 * Strings are the jp_node_t fields up to their NUL; a string that would not
 * fit its field (with the NUL) makes the value corrupt.
 */

static int
s_pack_str(msgpack_packer *pk, const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        return JP_EINVAL; /* not NUL-terminated */
    if (msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n))
        return JP_ENOMEM;
    return 0;
}

static int
s_unpack_str(const msgpack_object *o, char *out, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
        return JP_EDAMAGED;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return 0;
}

static int
s_node_decode(const MDB_val *v, jp_node_t *out)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc = JP_EDAMAGED;
    jp_node_t node;
    memset(&node, 0, sizeof node);
    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, v->mv_data, v->mv_size, &off) != MSGPACK_UNPACK_SUCCESS ||
        off != v->mv_size)
        goto fail;
    const msgpack_object *o = &u.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1)
        goto fail;
    const msgpack_object *a = o->via.array.ptr;
    if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 != S_NODE_VERSION) {
        rc = JP_EVERSION;
        goto fail;
    }
    if (o->via.array.size != 7 || a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        a[1].via.u64 > UINT16_MAX)
        goto fail;
    node.store = (uint16_t)a[1].via.u64;
    if (s_unpack_str(&a[2], node.code, sizeof node.code) ||
        s_unpack_str(&a[3], node.name, sizeof node.name) ||
        s_unpack_str(&a[4], node.region, sizeof node.region) ||
        s_unpack_str(&a[5], node.group, sizeof node.group) ||
        s_unpack_str(&a[6], node.tz, sizeof node.tz))
        goto fail;
    *out = node;
    rc = 0;
fail:
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* Read the node identity from meta in t (JP_ENOTFOUND if unset). */
static int
s_node_read(MDB_txn *t, MDB_dbi meta, jp_node_t *out)
{
    MDB_val key = {4, "node"}, v;
    int rc = s_mdb(mdb_get(t, meta, &key, &v), NULL, "node");
    return rc ? rc : s_node_decode(&v, out);
}

/* Make db->node current for the write path, reseeding the id generator
 * when the store number is new to it. */
static int
s_node_load(jp_txn_t *txn)
{
    jp_db_t *db = txn->db;
    if (db->node_ok)
        return 0;
    int rc = s_node_read(txn->t, s_dbi(txn, S_META), &db->node);
    if (rc)
        return rc;
    if (db->idgen.store != db->node.store)
        jp_idgen_init(&db->idgen, db->node.store);
    db->node_ok = true;
    return 0;
}

int
jp_txn_node_get(jp_txn_t *txn, jp_node_t *out)
{
    assert(txn && out);
    return s_node_read(txn->t, s_dbi(txn, S_META), out);
}

int
jp_txn_node_set(jp_txn_t *txn, const jp_node_t *node)
{
    assert(txn && txn->write && node);
    jp_db_t *db = txn->db;
    if (txn->broken)
        return txn->broken;
    jp_node_t cur;
    int rc = s_node_read(txn->t, s_dbi(txn, S_META), &cur);
    if (rc == 0 && cur.store != node->store)
        return JP_EEXIST; /* a store number never changes: its log is under it */
    if (rc && rc != JP_ENOTFOUND)
        return rc;

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc = JP_ENOMEM;
    if (msgpack_pack_array(&pk, 7) || msgpack_pack_uint8(&pk, S_NODE_VERSION) ||
        msgpack_pack_uint16(&pk, node->store))
        goto fail;
    if ((rc = s_pack_str(&pk, node->code, sizeof node->code)) ||
        (rc = s_pack_str(&pk, node->name, sizeof node->name)) ||
        (rc = s_pack_str(&pk, node->region, sizeof node->region)) ||
        (rc = s_pack_str(&pk, node->group, sizeof node->group)) ||
        (rc = s_pack_str(&pk, node->tz, sizeof node->tz)))
        goto fail;
    MDB_val key = {4, "node"}, v = {sb.size, sb.data};
    rc = s_mdb(mdb_put(txn->t, s_dbi(txn, S_META), &key, &v, 0), NULL, "node");
    if (rc) {
        txn->broken = rc;
        goto fail;
    }
    db->node = *node;
    db->node_ok = true; /* until this transaction aborts */
    txn->meta = true;
    if (db->idgen.store != node->store)
        jp_idgen_init(&db->idgen, node->store);
fail:
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- environment and transactions -------------------------------------- */

#define S_MIN_FREE ((uint64_t)1 << 20) /* bytes free below which a disk is full */

/* Bytes free for this user on the file system holding path; UINT64_MAX if
 * unknown. */
static uint64_t
s_disk_free(const char *path)
{
    struct statvfs vfs;
    if (!path || statvfs(path, &vfs) != 0)
        return UINT64_MAX;
    return (uint64_t)vfs.f_bavail * vfs.f_frsize;
}

/* A write that failed with EIO or ENOSPC: the disk being full is the
 * usual cause (LMDB reports a short write as EIO), and the one a person
 * can act on, so say so when the file system has no room left. */
static int
s_write_failed(jp_db_t *db, int rc, jp_err_t *err, const char *what)
{
    const char *dir = NULL;
    if ((rc == EIO || rc == ENOSPC) && mdb_env_get_path(db->env, &dir) == 0 &&
        (rc == ENOSPC || s_disk_free(dir) < S_MIN_FREE))
        return jp_err_set(err, JP_EFULL,
                          "%s: disk full: the file system of %s has no space left (%llu "
                          "KiB free); nothing of this transaction was written: free "
                          "space and run it again",
                          what, dir ? dir : "the store",
                          (unsigned long long)(s_disk_free(dir) >> 10));
    return s_mdb(rc, err, what);
}

static jp_db_damage_fn s_on_damage; /* jp_db_on_damage's fn, or NULL */

void
jp_db_on_damage(jp_db_damage_fn fn)
{
    s_on_damage = fn;
}

/* LMDB's assertion callback (LMDB aborts when it returns). */
static void
s_mdb_assert(MDB_env *env, const char *msg)
{
    (void)env;
    if (s_on_damage)
        s_on_damage(msg);
}

int
jp_db_open(jp_db_t **self_p, const char *dir, size_t map_mib, jp_err_t *err)
{
    assert(self_p && dir);
    *self_p = NULL;
    int rc;
    MDB_txn *t = NULL;
    MDB_cursor *cur = NULL;
    jp_db_t *self = calloc(1, sizeof *self);
    if (!self)
        return jp_err_set(err, JP_ENOMEM, "open %s: out of memory", dir);
    if (!map_mib)
        map_mib = S_DEFAULT_MAP_MIB;
    if (map_mib > (SIZE_MAX >> 20)) {
        rc = jp_err_set(err, JP_EINVAL, "open %s: map size %zu MiB too large", dir,
                        map_mib);
        goto fail;
    }
    /* A new environment on a full disk: LMDB maps its lock file and
     * writes to the mapping, which a file system without room answers
     * with SIGBUS; refuse before that. */
    char dfile[4200];
    snprintf(dfile, sizeof dfile, "%s/lock.mdb", dir);
    if (access(dfile, F_OK) != 0 && s_disk_free(dir) < S_MIN_FREE) {
        rc = jp_err_set(err, JP_EFULL,
                        "open %s: disk full: %llu KiB free, a new store needs at least "
                        "%llu KiB; no environment was created",
                        dir, (unsigned long long)(s_disk_free(dir) >> 10),
                        (unsigned long long)(S_MIN_FREE >> 10));
        goto fail;
    }
    if ((rc = mdb_env_create(&self->env)) ||
        (rc = mdb_env_set_assert(self->env, s_mdb_assert)) ||
        (rc = mdb_env_set_maxdbs(self->env, S_MAXDBS)) ||
        (rc = mdb_env_set_mapsize(self->env, map_mib << 20)) ||
        (rc = mdb_env_open(self->env, dir, MDB_NOTLS, 0600))) {
        char what[300];
        snprintf(what, sizeof what, "open LMDB environment %s", dir);
        rc = s_mdb(rc, err, what);
        goto fail;
    }
    int dead;
    mdb_reader_check(self->env, &dead); /* free slots of crashed readers */
    self->maxkey = (size_t)mdb_env_get_maxkeysize(self->env);
    if (self->maxkey > S_KEYBUF)
        self->maxkey = S_KEYBUF;

    if ((rc = mdb_txn_begin(self->env, NULL, 0, &t))) {
        rc = s_mdb(rc, err, "open: begin");
        goto fail;
    }
    for (int i = 0; i < S_NDBI; i++) {
        rc = mdb_dbi_open(t, s_dbis[i].name, s_dbis[i].flags | MDB_CREATE, &self->dbi[i]);
        if (rc) {
            char what[64];
            snprintf(what, sizeof what, "open database %s", s_dbis[i].name);
            rc = s_mdb(rc, err, what);
            goto fail;
        }
    }
    rc = s_node_read(t, self->dbi[S_META], &self->node);
    if (rc == 0)
        self->node_ok = true;
    else if (rc != JP_ENOTFOUND) {
        rc = jp_err_set(err, rc, "open %s: the node identity in meta is unreadable", dir);
        goto fail;
    }
    {
        MDB_val lk = {4, "lean"}, lv;
        self->lean = mdb_get(t, self->dbi[S_META], &lk, &lv) == 0 && lv.mv_size == 1 &&
                     ((const uint8_t *)lv.mv_data)[0] == 1;
    }
    /* Before jp_txn_node_set, ids carry store 0; the write path refuses
     * to write until the node is set. */
    jp_idgen_init(&self->idgen, self->node_ok ? self->node.store : 0);

    /* The hlc continues above everything this node has made or seen. */
    MDB_val k, v;
    if ((rc = mdb_cursor_open(t, self->dbi[S_HEADS], &cur))) {
        rc = s_mdb(rc, err, "open: heads");
        goto fail;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (v.mv_size != S_HEAD_LEN) {
            rc = jp_err_set(err, JP_EDAMAGED, "open %s: a heads entry is %zu bytes", dir,
                            v.mv_size);
            goto fail;
        }
        jp_hlc_t h = jp_be64_get((const uint8_t *)v.mv_data + 8 + JP_HASH_LEN);
        if (h > self->last_hlc)
            self->last_hlc = h;
    }
    if (rc != MDB_NOTFOUND) {
        rc = s_mdb(rc, err, "open: heads");
        goto fail;
    }
    mdb_cursor_close(cur);
    cur = NULL;
    rc = mdb_txn_commit(t);
    t = NULL;
    if (rc) {
        rc = s_mdb(rc, err, "open: commit");
        goto fail;
    }
    *self_p = self;
    return 0;

fail:
    if (cur)
        mdb_cursor_close(cur);
    if (t)
        mdb_txn_abort(t);
    jp_db_close(&self);
    return rc;
}

void
jp_db_close(jp_db_t **self_p)
{
    assert(self_p);
    jp_db_t *self = *self_p;
    if (!self)
        return;
    assert(s_writer != self); /* end the write transaction first */
    if (self->env)
        mdb_env_close(self->env);
    jp_buf_free(&self->chbuf);
    jp_buf_free(&self->recbuf);
    free(self);
    *self_p = NULL;
}

int
jp_db_begin(jp_db_t *self, bool write, jp_txn_t **txn_p, jp_err_t *err)
{
    assert(self && txn_p);
    /* A second writer in the same thread would wait on LMDB's lock for
     * ever; that is a programming error, not a runtime one. */
    assert(!(write && s_writer == self));
    jp_txn_t *txn = calloc(1, sizeof *txn);
    if (!txn)
        return jp_err_set(err, JP_ENOMEM, "begin: out of memory");
    txn->db = self;
    txn->write = write;
    int rc = mdb_txn_begin(self->env, NULL, write ? 0 : MDB_RDONLY, &txn->t);
    if (rc) {
        free(txn);
        return s_mdb(rc, err, "begin transaction");
    }
    if (write)
        s_writer = self;
    *txn_p = txn;
    return 0;
}

/* Whether meta says lean, as committed (after an abort). */
static void
s_lean_reread(jp_txn_t *txn)
{
    MDB_txn *t;
    MDB_val k = {4, "lean"}, v;
    jp_db_t *db = txn->db;
    if (mdb_txn_begin(db->env, NULL, MDB_RDONLY, &t) == 0) {
        db->lean = mdb_get(t, db->dbi[S_META], &k, &v) == 0 && v.mv_size == 1 &&
                   ((const uint8_t *)v.mv_data)[0] == 1;
        mdb_txn_abort(t);
    }
}

/* What a write transaction that did not commit leaves behind in jp_db_t. */
static void
s_txn_end(jp_txn_t *txn, bool committed)
{
    if (txn->write) {
        s_writer = NULL;
        /* Only such a transaction writes to the jp_db_t after LMDB's
         * writer lock is let go (another thread may be writing then). */
        if (!committed && txn->meta) {
            txn->db->node_ok = false; /* a node_set in it is undone: reread */
            s_lean_reread(txn);       /* and a set_lean */
        }
    }
    free(txn);
}

int
jp_txn_commit(jp_txn_t **txn_p, jp_err_t *err)
{
    assert(txn_p && *txn_p);
    jp_txn_t *txn = *txn_p;
    *txn_p = NULL;
    int rc;
    if (txn->broken) {
        mdb_txn_abort(txn->t);
        rc =
            jp_err_set(err, txn->broken,
                       "commit refused: a write in this transaction failed half-way (%s)",
                       jp_strerror(txn->broken));
    } else if ((rc = s_head_flush(txn))) {
        mdb_txn_abort(txn->t);
        rc = jp_err_set(err, rc, "commit refused: heads could not be written (%s)",
                        jp_strerror(rc));
    } else {
        rc = mdb_txn_commit(txn->t);
        if (rc)
            rc = s_write_failed(txn->db, rc, err, "commit");
    }
    s_txn_end(txn, rc == 0);
    return rc;
}

void
jp_txn_abort(jp_txn_t **txn_p)
{
    if (!txn_p || !*txn_p)
        return;
    jp_txn_t *txn = *txn_p;
    *txn_p = NULL;
    mdb_txn_abort(txn->t);
    s_txn_end(txn, false);
}

uint64_t
jp_txn_number(const jp_txn_t *txn)
{
    assert(txn);
    return (uint64_t)mdb_txn_id(txn->t);
}

jp_id_t
jp_db_new_id(jp_db_t *self)
{
    assert(self);
    return jp_id_next(&self->idgen, jp_now_ms());
}

int
jp_txn_head(jp_txn_t *txn, uint16_t store, jp_head_t *out)
{
    assert(txn && out);
    return s_head_get(txn, store, out);
}

/* ---- puts ---------------------------------------------------------------- */

/* Whether k is past the last key of database which (learnt once per
 * transaction and then kept up to date by s_put_ordered). */
static int
s_after_last(jp_txn_t *txn, int which, s_last_t *last, const uint8_t *k, size_t kn,
             bool *after)
{
    if (!last->known) {
        MDB_cursor *cur;
        MDB_val lk, lv;
        int rc = mdb_cursor_open(txn->t, s_dbi(txn, which), &cur);
        if (rc)
            return rc;
        rc = mdb_cursor_get(cur, &lk, &lv, MDB_LAST);
        mdb_cursor_close(cur);
        if (rc == MDB_NOTFOUND) {
            last->empty = true;
        } else if (rc) {
            return rc;
        } else {
            last->empty = false;
            last->n = lk.mv_size < sizeof last->k ? lk.mv_size : sizeof last->k;
            memcpy(last->k, lk.mv_data, last->n);
        }
        last->known = true;
    }
    *after = last->empty;
    if (!*after) {
        size_t m = kn < last->n ? kn : last->n;
        int c = memcmp(k, last->k, m);
        *after = c > 0 || (c == 0 && kn > last->n);
    }
    return 0;
}

/* Put into a database of one value a key, with MDB_APPEND when the key is
 * past the last one: new time-ordered ids and a store's next seq usually
 * are, and appending skips the search and fills pages instead of splitting
 * them in half. */
static int
s_put_ordered(jp_txn_t *txn, int which, s_last_t *last, const uint8_t *k, size_t kn,
              const void *v, size_t vn)
{
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    bool after;
    int rc = s_after_last(txn, which, last, k, kn, &after);
    if (rc)
        return rc;
    rc = mdb_put(txn->t, s_dbi(txn, which), &key, &val, after ? MDB_APPEND : 0);
    if (rc == 0 && after && kn <= sizeof last->k) {
        last->empty = false;
        last->n = kn;
        memcpy(last->k, k, kn);
    } else if (rc == 0 && after) {
        last->known = false; /* cannot hold it: learn it again next time */
    }
    return rc;
}

/* ---- indexes --------------------------------------------------------------- */

/* Text of field fid if set to a non-empty string. */
static bool
s_str(const jp_record_t *r, unsigned fid, const char **p, size_t *n)
{
    const jp_slot_t *s = &r->f[fid];
    if (!s->set || s->v.type != JP_T_STR || s->v.u.s.n == 0)
        return false;
    *p = s->v.u.s.p;
    *n = s->v.u.s.n;
    return true;
}

static size_t
s_cut(const jp_db_t *db, size_t n)
{
    return n < db->maxkey ? n : db->maxkey;
}

/* Key of index slot x for state r; false when r has no entry there. */
static bool
s_ix_key(const jp_db_t *db, const jp_record_t *r, int x, s_ixkey_t *out)
{
    static const struct {
        int which;    /* database */
        unsigned fid; /* field it indexes */
    } text[] = {
        [S_X_PHONE] = {S_IX_PHONE, JP_F_PHONE},
        [S_X_IDNUM] = {S_IX_IDNUM, JP_F_ID_NUMBER},
        [S_X_NAME] = {S_IX_NAME, JP_F_NAME},
        [S_X_VIN] = {S_IX_VIN, JP_F_VIN},
        [S_X_PLATE] = {S_IX_PLATE, JP_F_PLATE},
    };
    const char *p;
    size_t n;
    if (r->kind == JP_K_NONE || jp_record_deleted(r))
        return false;
    if (x < S_X_EXT) {
        /* The schema lets only the right kinds carry these fields. */
        if (!s_str(r, text[x].fid, &p, &n))
            return false;
        out->which = text[x].which;
        out->n = s_cut(db, n);
        memcpy(out->k, p, out->n);
        return true;
    }
    if (x == S_X_EXT) {
        unsigned fid, cls;
        if (r->kind == JP_K_CUSTOMER)
            fid = JP_F_EXT_ID, cls = JP_EXT_CUSTOMER;
        else if (r->kind == JP_K_VEHICLE)
            fid = JP_F_VIN, cls = JP_EXT_VEHICLE;
        else if (jp_kind_is_event(r->kind))
            fid = JP_F_EXT_ID, cls = JP_EXT_EVENT;
        else
            return false;
        if (!s_str(r, fid, &p, &n))
            return false;
        /* Keyed by the store whose write of the field won: a function of
         * the state, so every node agrees. */
        out->which = S_IX_EXT;
        jp_be16_put(out->k, r->f[fid].store);
        out->k[2] = (uint8_t)cls;
        n = s_cut(db, n + 3) - 3;
        memcpy(out->k + 3, p, n);
        out->n = n + 3;
        return true;
    }
    /* S_X_CUST, S_X_CUST2: the timeline, customer | at | id.  A link is at
     * time 0, so it comes first in both customers' timelines. */
    unsigned atf = 0, cf = JP_F_CUSTOMER;
    if (r->kind == JP_K_LINK)
        cf = x == S_X_CUST ? JP_F_LINK_B : JP_F_LINK_A;
    else if (x == S_X_CUST2)
        return false;
    else if (r->kind == JP_K_VEHICLE)
        atf = JP_F_DELIVERED_AT;
    else if (jp_kind_is_event(r->kind))
        atf = JP_F_AT;
    else
        return false;
    const jp_id_t *c = jp_record_ref(r, cf);
    if (!c)
        return false;
    int64_t at = atf ? jp_record_int(r, atf, 0) : 0;
    out->which = S_IX_CUST;
    memcpy(out->k, c->b, 16);
    jp_be64_put(out->k + 16, at > 0 ? (uint64_t)at : 0);
    memcpy(out->k + 24, r->id.b, 16);
    out->n = 40;
    return true;
}

static int
s_ix_del(jp_txn_t *txn, const s_ixkey_t *x, const jp_id_t *id)
{
    MDB_val key = {x->n, (void *)x->k}, val = {16, (void *)id->b};
    MDB_dbi dbi = s_dbi(txn, x->which);
    int rc;
    if (x->which == S_IX_CUST) {
        rc = mdb_del(txn->t, dbi, &key, NULL);
    } else if (x->which == S_IX_EXT) {
        /* Only this record's entry: another record may have taken the
         * external id since (it then owns the entry). */
        MDB_val cur;
        rc = mdb_get(txn->t, dbi, &key, &cur);
        if (rc == 0 && cur.mv_size == 16 && memcmp(cur.mv_data, id->b, 16) == 0)
            rc = mdb_del(txn->t, dbi, &key, NULL);
    } else {
        rc = mdb_del(txn->t, dbi, &key, &val);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The timeline and the external ids have one value a key, and an import
 * writes them mostly in key order: those go through s_put_ordered. */
static int
s_ix_put(jp_txn_t *txn, const s_ixkey_t *x, const jp_id_t *id)
{
    MDB_val key = {x->n, (void *)x->k}, val = {16, (void *)id->b};
    int rc;
    if (x->which == S_IX_CUST)
        rc = s_put_ordered(txn, S_IX_CUST, &txn->cust_last, x->k, x->n, id->b, 0);
    else if (x->which == S_IX_EXT)
        rc = s_put_ordered(txn, S_IX_EXT, &txn->ext_last, x->k, x->n, id->b, 16);
    else
        rc = mdb_put(txn->t, s_dbi(txn, x->which), &key, &val, 0);
    return rc == MDB_KEYEXIST ? 0 : rc;
}

static void
s_ix_prepare(const jp_db_t *db, const jp_record_t *old, const jp_record_t *cur,
             s_ixdiff_t *d)
{
    for (int x = 0; x < S_X_N; x++) {
        bool keep = !db->lean || x == S_X_PHONE || x == S_X_IDNUM;
        d->has[0][x] = keep && s_ix_key(db, old, x, &d->key[0][x]);
        d->has[1][x] = keep && s_ix_key(db, cur, x, &d->key[1][x]);
    }
}

/* Bring the indexes of record id from the old entries to the new ones. */
static int
s_ix_update(jp_txn_t *txn, const s_ixdiff_t *d, const jp_id_t *id)
{
    for (int x = 0; x < S_X_N; x++) {
        const s_ixkey_t *a = &d->key[0][x], *b = &d->key[1][x];
        bool ha = d->has[0][x], hb = d->has[1][x];
        if (ha && hb && a->which == b->which && a->n == b->n &&
            memcmp(a->k, b->k, a->n) == 0)
            continue;
        int rc;
        if (ha && (rc = s_ix_del(txn, a, id)))
            return rc;
        if (hb && (rc = s_ix_put(txn, b, id)))
            return rc;
    }
    return 0;
}

/* ---- the common write path ------------------------------------------------ */

/* Load id's state into r; *exists false (and r empty) if it has none. */
static int
s_load(jp_txn_t *txn, const jp_id_t *id, jp_record_t *r, bool *exists, jp_err_t *err)
{
    MDB_val v;
    char t[JP_ID_TEXT_LEN + 1];
    bool after;
    /* A new id past the last key cannot be there: no need to look. */
    int rc = s_after_last(txn, S_REC, &txn->rec_last, id->b, 16, &after);
    if (rc)
        return s_mdb(rc, err, "rec: last key");
    rc = after ? JP_ENOTFOUND : s_get(txn, S_REC, id->b, 16, &v);
    if (rc == JP_ENOTFOUND) {
        jp_record_init(r, id);
        *exists = false;
        return 0;
    }
    if (rc)
        return jp_err_set(err, rc, "record %s: read failed", s_idtext(id, t));
    jp_err_t derr;
    jp_err_clear(&derr);
    rc = jp_record_decode(v.mv_data, v.mv_size, id, r, &derr);
    if (rc == JP_ECORRUPT || rc == JP_ETOOBIG)
        rc = JP_EDAMAGED;
    if (rc)
        return jp_err_set(err, rc, "record %s: stored state does not decode: %s",
                          s_idtext(id, t), derr.msg);
    *exists = true;
    return 0;
}

/* Merge ch (encoded as enc[n], hashing to hash) into db->old, which holds
 * the record's state (exists: it was stored), and write the log entry, the
 * head, the indexes and the new state. */
static int
s_commit_change(jp_txn_t *txn, const jp_change_t *ch, const uint8_t *enc, size_t n,
                const uint8_t hash[JP_HASH_LEN], bool exists, jp_err_t *err)
{
    jp_db_t *db = txn->db;
    char t[JP_ID_TEXT_LEN + 1];
    memcpy(&db->cur, &db->old, sizeof db->cur);
    if (!exists)
        db->cur.kind = ch->kind;
    int changed = jp_merge(&db->cur, ch);
    if (changed < 0)
        return jp_err_set(err, JP_EINVAL,
                          "store %u seq %llu: record %s is a %s, the change is for a %s",
                          ch->store, (unsigned long long)ch->seq, s_idtext(&ch->id, t),
                          jp_kind_name(db->old.kind), jp_kind_name(ch->kind));
    /* An older change than every field of the state is logged but alters
     * nothing; a first change always stores the record. */
    bool store_rec = changed > 0 || !exists;
    jp_buf_reset(&db->recbuf);
    int rc = store_rec ? jp_record_encode(&db->cur, &db->recbuf) : 0;
    if (rc)
        return jp_err_set(err, rc, "record %s: state does not encode",
                          s_idtext(&ch->id, t));
    /* old's and cur's text may borrow from rec's pages: take what the
     * indexes need before the first put. */
    if (store_rec)
        s_ix_prepare(db, &db->old, &db->cur, &db->ix);

    /* From here on a failure leaves the transaction half-written. */
    const char *what = "log";
    uint8_t lk[S_LOGKEY_LEN];
    s_logkey(lk, ch->store, ch->seq);
    if ((rc = s_put_ordered(txn, S_LOG, &txn->log_last, lk, sizeof lk, enc, n)))
        goto fail;

    what = "heads";
    jp_head_t head;
    if ((rc = s_head_get(txn, ch->store, &head))) /* caches ch->store's head */
        goto fail;
    if (ch->seq > head.seq) { /* a vouched change may come after later ones */
        txn->head.seq = ch->seq;
        memcpy(txn->head.head, hash, JP_HASH_LEN);
        txn->head.hlc = ch->hlc;
        txn->head_dirty = true;
    }

    if (store_rec) {
        what = "index";
        if ((rc = s_ix_update(txn, &db->ix, &ch->id)))
            goto fail;
        what = "rec";
        if ((rc = s_put_ordered(txn, S_REC, &txn->rec_last, ch->id.b, 16, db->recbuf.data,
                                db->recbuf.len)))
            goto fail;
    }
    return 0;

fail:;
    char msg[96];
    snprintf(msg, sizeof msg, "store %u seq %llu: write %s", ch->store,
             (unsigned long long)ch->seq, what);
    rc = s_mdb(rc, err, msg);
    txn->broken = rc;
    return rc;
}

/* ---- local edits ------------------------------------------------------------ */

/* The kind a ref field must point to (JP_K_NONE: any). */
static jp_kind_t
s_ref_kind(unsigned fid)
{
    switch (fid) {
    case JP_F_REFERRED_BY:
    case JP_F_CUSTOMER:
    case JP_F_REFERRED:
    case JP_F_LINK_A:
    case JP_F_LINK_B:
        return JP_K_CUSTOMER;
    case JP_F_COMPLAINT:
        return JP_K_COMPLAINT;
    default:
        return JP_K_NONE;
    }
}

/* Each field is known, carried by the kind, of its type (or nil), in range. */
static int
s_check_fields(const jp_change_t *ch, jp_err_t *err)
{
    char t[JP_ID_TEXT_LEN + 1];
    const char *kn = jp_kind_name(ch->kind);
    if (ch->nfields > JP_MAX_FIELDS)
        return jp_err_set(err, JP_EINVAL, "record %s: %u fields", s_idtext(&ch->id, t),
                          ch->nfields);
    for (unsigned i = 0; i < ch->nfields; i++) {
        const jp_fval_t *f = &ch->f[i];
        const jp_field_def_t *d = jp_field_def(f->id);
        if (!d || !jp_kind_has(ch->kind, d))
            return jp_err_set(err, JP_EINVAL, "record %s: a %s has no field %u (%s)",
                              s_idtext(&ch->id, t), kn, f->id, d ? d->name : "unknown");
        if (i > 0 && f->id <= ch->f[i - 1].id)
            return jp_err_set(err, JP_EINVAL, "record %s: fields not ascending at %s",
                              s_idtext(&ch->id, t), d->name);
        if (f->v.type == 0)
            continue;
        if (f->v.type != d->type)
            return jp_err_set(err, JP_EINVAL, "record %s: field %s has the wrong type",
                              s_idtext(&ch->id, t), d->name);
        if (d->type == JP_T_ENUM &&
            (f->v.u.i < 1 || f->v.u.i > 255 || !jp_enum_word(d, (unsigned)f->v.u.i)))
            return jp_err_set(err, JP_EINVAL, "record %s: field %s: no word %lld",
                              s_idtext(&ch->id, t), d->name, (long long)f->v.u.i);
        if (d->type == JP_T_STR && f->v.u.s.n > JP_MAX_STR)
            return jp_err_set(err, JP_ETOOBIG,
                              "record %s: field %s: %u bytes, at most %d",
                              s_idtext(&ch->id, t), d->name, f->v.u.s.n, JP_MAX_STR);
    }
    return 0;
}

/* The author and the text fields of a change from anywhere: what
 * docs/FORMAT.md allows, so that every node can decode and show it. */
static int
s_check_text(const jp_change_t *ch, jp_err_t *err)
{
    char t[JP_ID_TEXT_LEN + 1];
    const char *why;
    if (ch->author_len > JP_MAX_AUTHOR)
        return jp_err_set(err, JP_ETOOBIG,
                          "record %s: the author (user name) is %u bytes, at most %d",
                          s_idtext(&ch->id, t), ch->author_len, JP_MAX_AUTHOR);
    if (jp_text_check(ch->author, ch->author_len, false, &why))
        return jp_err_set(err, JP_EINVAL, "record %s: the author (user name) %s",
                          s_idtext(&ch->id, t), why);
    for (unsigned i = 0; i < ch->nfields; i++) {
        const jp_fval_t *f = &ch->f[i];
        if (f->v.type == JP_T_STR &&
            jp_text_check(f->v.u.s.p, f->v.u.s.n, f->id == JP_F_NOTE, &why))
            return jp_err_set(err, JP_EINVAL, "record %s: field %s %s",
                              s_idtext(&ch->id, t), jp_field_def(f->id)->name, why);
    }
    return 0;
}

/* A ref field points to an existing record of the right kind. */
static int
s_check_ref(jp_txn_t *txn, const jp_change_t *ch, const jp_fval_t *f, jp_err_t *err)
{
    char t[JP_ID_TEXT_LEN + 1], u[JP_ID_TEXT_LEN + 1];
    const char *fname = jp_field_def(f->id)->name;
    jp_kind_t want = s_ref_kind(f->id);
    /* Records are never removed, so a ref checked once in this transaction
     * stays good: a run of events of one customer looks it up once. */
    jp_id_t *ok = want == JP_K_CUSTOMER    ? &txn->ref_ok[0]
                  : want == JP_K_COMPLAINT ? &txn->ref_ok[1]
                                           : NULL;
    if (ok && jp_id_cmp(ok, &f->v.u.ref) == 0)
        return 0;
    MDB_val v;
    int rc = s_get(txn, S_REC, f->v.u.ref.b, 16, &v);
    if (rc == JP_ENOTFOUND)
        return jp_err_set(err, JP_ENOTFOUND,
                          "record %s: field %s refers to %s, which is not here",
                          s_idtext(&ch->id, t), fname, s_idtext(&f->v.u.ref, u));
    if (rc)
        return jp_err_set(err, rc, "record %s: field %s: read failed",
                          s_idtext(&ch->id, t), fname);
    int k = s_rec_kind(&v);
    if (k < 0)
        return jp_err_set(err, JP_EDAMAGED, "record %s: stored state is malformed",
                          s_idtext(&f->v.u.ref, u));
    if (want != JP_K_NONE && k != (int)want)
        return jp_err_set(err, JP_EINVAL,
                          "record %s: field %s refers to %s, a %s, not a %s",
                          s_idtext(&ch->id, t), fname, s_idtext(&f->v.u.ref, u),
                          jp_kind_name((jp_kind_t)k), jp_kind_name(want));
    if (ok)
        *ok = f->v.u.ref;
    return 0;
}

/*
 * Fields the record already has with the same value are dropped from ch
 * before it is logged: per-field last-writer-wins then keeps a concurrent
 * edit of another field at another store, which re-sending an unchanged
 * value with a newer stamp would overwrite.  So on return ch holds what was
 * written (and its store, seq, hlc and prev).
 */
int
jp_txn_write(jp_txn_t *txn, jp_change_t *ch, jp_err_t *err)
{
    assert(txn && txn->write && ch);
    jp_db_t *db = txn->db;
    char t[JP_ID_TEXT_LEN + 1];
    if (txn->broken)
        return jp_err_set(err, txn->broken, "transaction already failed: abort it");
    int rc = s_node_load(txn);
    if (rc == JP_ENOTFOUND)
        return jp_err_set(err, JP_ENOTFOUND,
                          "this store is not initialised (no node identity)");
    if (rc)
        return jp_err_set(err, rc, "node identity unreadable");
    if (ch->kind <= JP_K_NONE || ch->kind >= JP_K_COUNT)
        return jp_err_set(err, JP_EINVAL, "record %s: unknown kind %u",
                          s_idtext(&ch->id, t), ch->kind);
    if (jp_id_is_zero(&ch->id))
        return jp_err_set(err, JP_EINVAL, "a change needs a record id");
    if ((rc = s_check_fields(ch, err)) || (rc = s_check_text(ch, err)))
        return rc;

    bool exists;
    if ((rc = s_load(txn, &ch->id, &db->old, &exists, err)))
        return rc;
    uint64_t keep = 0; /* bit i: ch->f[i] alters the state */
    if (exists) {
        if (db->old.kind != ch->kind)
            return jp_err_set(err, JP_EINVAL, "record %s is a %s, not a %s",
                              s_idtext(&ch->id, t), jp_kind_name(db->old.kind),
                              jp_kind_name(ch->kind));
        if (jp_kind_is_event(ch->kind)) {
            for (unsigned i = 0; i < ch->nfields; i++) {
                const jp_fval_t *f = &ch->f[i];
                if (f->id != JP_F_DELETED || f->v.type != JP_T_BOOL || !f->v.u.b)
                    return jp_err_set(err, JP_EPERM,
                                      "record %s is a %s event: events are never edited, "
                                      "only deleted",
                                      s_idtext(&ch->id, t), jp_kind_name(ch->kind));
            }
        }
        for (unsigned i = 0; i < ch->nfields; i++) {
            const jp_slot_t *s = &db->old.f[ch->f[i].id];
            if (!s->set || !jp_val_eq(&s->v, &ch->f[i].v))
                keep |= 1ull << i;
        }
        if (!keep)
            return jp_err_set(err, JP_EDUP, "record %s: nothing to change",
                              s_idtext(&ch->id, t));
    } else {
        /* A create carries every required field; a change carrying none of
         * them was meant for a record that is not here. */
        unsigned have = 0, need = 0;
        const char *missing = NULL;
        for (unsigned fid = 0; fid < JP_F_COUNT; fid++) {
            const jp_field_def_t *d = jp_field_def(fid);
            if (!((d->required >> ch->kind) & 1u))
                continue;
            need++;
            const jp_fval_t *f = jp_change_get(ch, fid);
            if (f && f->v.type != 0)
                have++;
            else if (!missing)
                missing = d->name;
        }
        if (have == 0 && need > 0)
            return jp_err_set(err, JP_ENOTFOUND, "record %s is not here",
                              s_idtext(&ch->id, t));
        if (missing)
            return jp_err_set(err, JP_EINVAL, "record %s: a new %s needs field %s",
                              s_idtext(&ch->id, t), jp_kind_name(ch->kind), missing);
        keep = ch->nfields >= 64 ? ~0ull : (1ull << ch->nfields) - 1;
    }
    for (unsigned i = 0; i < ch->nfields; i++) {
        const jp_fval_t *f = &ch->f[i];
        if ((keep >> i & 1) && f->v.type == JP_T_REF &&
            (rc = s_check_ref(txn, ch, f, err)))
            return rc;
    }

    /* Accepted: drop the unchanged fields and complete the change. */
    unsigned j = 0;
    for (unsigned i = 0; i < ch->nfields; i++) {
        if (keep >> i & 1)
            ch->f[j++] = ch->f[i];
    }
    ch->nfields = (uint8_t)j;
    jp_head_t head;
    if ((rc = s_head_get(txn, db->node.store, &head)))
        return jp_err_set(err, rc, "store %u: heads entry unreadable", db->node.store);
    ch->store = db->node.store;
    ch->seq = head.seq + 1;
    memcpy(ch->prev, head.head, JP_HASH_LEN);
    ch->hlc = jp_hlc_tick(&db->last_hlc, jp_now_ms());

    jp_buf_reset(&db->chbuf);
    if ((rc = jp_change_encode(ch, &db->chbuf)))
        return jp_err_set(err, rc, "record %s: change does not encode",
                          s_idtext(&ch->id, t));
    if (db->chbuf.len > JP_MAX_CHANGE)
        return jp_err_set(err, JP_ETOOBIG,
                          "record %s: the change is %zu bytes, at most %d",
                          s_idtext(&ch->id, t), db->chbuf.len, JP_MAX_CHANGE);
    uint8_t hash[JP_HASH_LEN];
    if ((rc = jp_sha256(db->chbuf.data, db->chbuf.len, hash)))
        return jp_err_set(err, rc, "SHA-256 failed");
    return s_commit_change(txn, ch, db->chbuf.data, db->chbuf.len, hash, exists, err);
}

/* ---- remote changes ----------------------------------------------------------- */

/* What s_apply checks besides the change's bytes. */
enum {
    S_TEXT = 1,  /* refuse what jp_txn_write would refuse of author and text */
    S_CLOCK = 2, /* refuse an hlc too far ahead */
    S_CHAIN = 4, /* the change continues its store's chain here */
};
static int s_apply(jp_txn_t *txn, const uint8_t *p, size_t n, const jp_change_t *ch,
                   int checks, jp_err_t *err);

int
jp_txn_apply(jp_txn_t *txn, const uint8_t *p, size_t n, jp_err_t *err)
{
    assert(txn && txn->write && p);
    if (txn->broken)
        return jp_err_set(err, txn->broken, "transaction already failed: abort it");
    int rc = jp_change_decode(p, n, &txn->db->in, err);
    return rc ? rc : s_apply(txn, p, n, &txn->db->in, S_CLOCK | S_CHAIN, err);
}

/* Apply a decoded change.  S_TEXT: refuse what jp_txn_write would refuse
 * of its author and text (a change offered to the group); without it, a
 * change the group already accepted is taken as it was (a pull, a replay:
 * refusing it then would stop every later change).  S_CLOCK: refuse an
 * hlc too far ahead (not for a replay of a log held here).  S_CHAIN: the
 * change continues its store's chain; without it (a vouched change, a
 * part of a log) only a change already at its (store, seq) is checked. */
static int
s_apply(jp_txn_t *txn, const uint8_t *p, size_t n, const jp_change_t *ch, int checks,
        jp_err_t *err)
{
    bool text = checks & S_TEXT, clock = checks & S_CLOCK;
    assert(txn && txn->write && p && ch);
    jp_db_t *db = txn->db;
    int rc;
    if (txn->broken)
        return jp_err_set(err, txn->broken, "transaction already failed: abort it");
    unsigned store = ch->store;
    unsigned long long seq = ch->seq;
    if (ch->seq == 0)
        return jp_err_set(err, JP_ECORRUPT, "store %u seq 0: seqs start at 1", store);
    jp_err_t terr;
    if (text && (rc = s_check_text(ch, &terr)))
        return jp_err_set(err, rc, "store %u seq %llu: %s", store, seq, terr.msg);
    jp_head_t head;
    if ((rc = s_head_get(txn, ch->store, &head)))
        return jp_err_set(err, rc, "store %u: heads entry unreadable", store);
    if (!(checks & S_CHAIN) || ch->seq <= head.seq) {
        uint8_t lk[S_LOGKEY_LEN];
        MDB_val v;
        s_logkey(lk, ch->store, ch->seq);
        rc = s_get(txn, S_LOG, lk, sizeof lk, &v);
        if (rc == 0 && v.mv_size == n && memcmp(v.mv_data, p, n) == 0)
            return jp_err_set(err, JP_EDUP, "store %u seq %llu: already here", store,
                              seq);
        if (rc && rc != JP_ENOTFOUND)
            return jp_err_set(err, rc, "store %u seq %llu: log read failed", store, seq);
        if (rc == 0 || (checks & S_CHAIN))
            return jp_err_set(
                err, JP_ECHAIN,
                "store %u seq %llu: differs from the change already here at that seq",
                store, seq);
    } else if (ch->seq == head.seq + 1) {
        if (memcmp(ch->prev, head.head, JP_HASH_LEN) != 0)
            return jp_err_set(err, JP_ECHAIN,
                              "store %u seq %llu: prev hash does not match seq %llu",
                              store, seq, seq - 1);
    } else {
        return jp_err_set(err, JP_ECHAIN,
                          "store %u seq %llu: a gap, the last change here is seq %llu",
                          store, seq, (unsigned long long)head.seq);
    }
    jp_hlc_t hlc = db->last_hlc;
    uint64_t now = jp_now_ms();
    if (jp_hlc_observe(&hlc, ch->hlc, now) && clock)
        return jp_err_set(
            err, JP_EFUTURE,
            "store %u seq %llu: its clock is %llu ms ahead of ours (at most %u)", store,
            seq, (unsigned long long)(jp_hlc_ms(ch->hlc) - now), JP_HLC_MAX_SKEW_MS);
    uint8_t hash[JP_HASH_LEN];
    if ((rc = jp_sha256(p, n, hash)))
        return jp_err_set(err, rc, "SHA-256 failed");
    bool exists;
    if ((rc = s_load(txn, &ch->id, &db->old, &exists, err)))
        return rc;
    if ((rc = s_commit_change(txn, ch, p, n, hash, exists, err)))
        return rc;
    db->last_hlc = hlc;
    return 0;
}

int
jp_txn_apply_decoded(jp_txn_t *txn, const uint8_t *p, size_t n, const jp_change_t *ch,
                     jp_err_t *err)
{
    return s_apply(txn, p, n, ch, S_TEXT | S_CLOCK | S_CHAIN, err);
}

int
jp_txn_apply_vouched(jp_txn_t *txn, const uint8_t *p, size_t n, jp_err_t *err)
{
    assert(txn && txn->write && p);
    if (txn->broken)
        return jp_err_set(err, txn->broken, "transaction already failed: abort it");
    int rc = jp_change_decode(p, n, &txn->db->in, err);
    return rc ? rc : s_apply(txn, p, n, &txn->db->in, S_CLOCK, err);
}

/* ---- forgetting what a store may no longer hold ------------------------------ */

int
jp_txn_forget(jp_txn_t *txn, const jp_id_t *ids, size_t n, uint16_t keep,
              uint64_t *changes, jp_err_t *err)
{
    assert(txn && txn->write && (ids || n == 0) && changes);
    jp_db_t *db = txn->db;
    char t[JP_ID_TEXT_LEN + 1];
    int rc;
    *changes = 0;
    if (txn->broken)
        return jp_err_set(err, txn->broken, "transaction already failed: abort it");
    if (n == 0)
        return 0;
    /* The states and their index entries. */
    jp_record_t none;
    for (size_t i = 0; i < n; i++) {
        bool exists;
        if ((rc = s_load(txn, &ids[i], &db->old, &exists, err)))
            return rc;
        if (!exists)
            continue;
        jp_record_init(&none, &ids[i]);
        s_ix_prepare(db, &db->old, &none, &db->ix);
        MDB_val key = {16, (void *)ids[i].b};
        if ((rc = s_ix_update(txn, &db->ix, &ids[i])) ||
            (rc = mdb_del(txn->t, s_dbi(txn, S_REC), &key, NULL))) {
            txn->broken = rc = s_mdb(rc, err, "forget");
            return jp_err_set(err, rc, "record %s: could not be removed",
                              s_idtext(&ids[i], t));
        }
    }
    /* Their changes, in every log but keep's. */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(txn->t, s_dbi(txn, S_LOG), &cur)))
        return s_mdb(rc, err, "log");
    MDB_val k, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (k.mv_size != S_LOGKEY_LEN) {
            rc = JP_EDAMAGED;
            break;
        }
        uint16_t st = jp_be16_get(k.mv_data);
        if (st == keep) { /* skip keep's whole log */
            uint8_t next[2];
            if (keep == UINT16_MAX)
                break;
            jp_be16_put(next, (uint16_t)(keep + 1));
            MDB_val nk = {sizeof next, next};
            rc = mdb_cursor_get(cur, &nk, &v, MDB_SET_RANGE);
            k = nk;
            continue;
        }
        jp_chead_t h;
        if (jp_change_peek(v.mv_data, v.mv_size, &h) == 0 &&
            jp_id_find(ids, n, sizeof *ids, &h.id) != UINT32_MAX) {
            if ((rc = mdb_cursor_del(cur, 0)))
                break;
            (*changes)++;
        }
        /* After a delete, MDB_NEXT gives the entry that followed it. */
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        txn->broken = rc = rc == JP_EDAMAGED ? rc : s_mdb(rc, NULL, "log");
        return jp_err_set(err, rc, "removing changes from the log failed");
    }
    return 0;
}

/* ---- reads --------------------------------------------------------------------- */

int
jp_txn_get(jp_txn_t *txn, const jp_id_t *id, jp_record_t *out)
{
    assert(txn && id && out);
    MDB_val v;
    int rc = s_get(txn, S_REC, id->b, 16, &v);
    if (rc)
        return rc;
    rc = jp_record_decode(v.mv_data, v.mv_size, id, out, NULL);
    /* A state this program wrote that no longer decodes: the file. */
    return rc == JP_ECORRUPT || rc == JP_ETOOBIG ? JP_EDAMAGED : rc;
}

int
jp_txn_log_get(jp_txn_t *txn, uint16_t store, uint64_t seq, const uint8_t **p, size_t *n)
{
    assert(txn && p && n);
    uint8_t lk[S_LOGKEY_LEN];
    MDB_val v;
    s_logkey(lk, store, seq);
    int rc = s_get(txn, S_LOG, lk, sizeof lk, &v);
    if (rc)
        return rc;
    *p = v.mv_data;
    *n = v.mv_size;
    return 0;
}

int
jp_txn_find_ext(jp_txn_t *txn, uint16_t store, int cls, const char *ext, size_t n,
                jp_id_t *out)
{
    assert(txn && out && (ext || !n));
    uint8_t k[S_KEYBUF];
    MDB_val v;
    if (n == 0)
        return JP_ENOTFOUND; /* empty ext ids are not indexed */
    jp_be16_put(k, store);
    k[2] = (uint8_t)cls;
    n = s_cut(txn->db, n + 3) - 3;
    memcpy(k + 3, ext, n);
    int rc = s_get(txn, S_IX_EXT, k, n + 3, &v);
    if (rc)
        return rc;
    if (v.mv_size != 16)
        return JP_EDAMAGED;
    memcpy(out->b, v.mv_data, 16);
    return 0;
}

/* Walk database which from key (all of it if n is 0) while keys start with
 * key[0..plen), calling cb with the id at offset idoff of the key, or the
 * value when idoff < 0.  exact: only key itself (its duplicates). */
static int
s_scan(jp_txn_t *txn, int which, const void *key, size_t n, size_t plen, bool exact,
       int idoff, jp_id_cb cb, void *arg)
{
    MDB_cursor *cur;
    MDB_val k = {n, (void *)key}, v;
    int rc = mdb_cursor_open(txn->t, s_dbi(txn, which), &cur);
    if (rc)
        return s_mdb(rc, NULL, "cursor");
    MDB_cursor_op op = n == 0 ? MDB_FIRST : exact ? MDB_SET_KEY : MDB_SET_RANGE;
    for (rc = mdb_cursor_get(cur, &k, &v, op); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, exact ? MDB_NEXT_DUP : MDB_NEXT)) {
        if (plen && (k.mv_size < plen || memcmp(k.mv_data, key, plen) != 0))
            break;
        jp_id_t id;
        const uint8_t *src = idoff < 0 ? v.mv_data : (const uint8_t *)k.mv_data + idoff;
        if (idoff >= 0 ? k.mv_size < (size_t)idoff + 16 : v.mv_size < 16) {
            rc = JP_EDAMAGED;
            goto done;
        }
        memcpy(id.b, src, 16);
        if ((rc = cb(arg, &id)))
            goto done;
    }
    rc = rc == MDB_NOTFOUND ? 0 : s_mdb(rc, NULL, "cursor");
done:
    mdb_cursor_close(cur);
    return rc;
}

int
jp_txn_find(jp_txn_t *txn, jp_index_t ix, const char *key, size_t n, bool prefix,
            jp_id_cb cb, void *arg)
{
    assert(txn && cb && (key || !n));
    int which;
    switch (ix) {
    case JP_IX_PHONE:
        which = S_IX_PHONE;
        break;
    case JP_IX_IDNUM:
        which = S_IX_IDNUM;
        break;
    case JP_IX_VIN:
        which = S_IX_VIN;
        break;
    case JP_IX_PLATE:
        which = S_IX_PLATE;
        break;
    case JP_IX_NAME:
        which = S_IX_NAME;
        break;
    default:
        return JP_EINVAL;
    }
    n = s_cut(txn->db, n);
    if (n == 0 && !prefix)
        return 0; /* empty values are not indexed */
    return s_scan(txn, which, key, n, n, !prefix, -1, cb, arg);
}

int
jp_txn_timeline(jp_txn_t *txn, const jp_id_t *customer, jp_id_cb cb, void *arg)
{
    assert(txn && customer && cb);
    return s_scan(txn, S_IX_CUST, customer->b, 16, 16, false, 24, cb, arg);
}

int
jp_txn_each_record(jp_txn_t *txn, jp_id_cb cb, void *arg)
{
    assert(txn && cb);
    return s_scan(txn, S_REC, NULL, 0, 0, false, 0, cb, arg);
}

int
jp_txn_stores(jp_txn_t *txn, uint16_t *out, int cap)
{
    assert(txn && (out || cap == 0));
    MDB_cursor *cur;
    MDB_val k, v;
    int count = 0;
    int rc = s_head_flush(txn);
    if (rc)
        return rc;
    rc = mdb_cursor_open(txn->t, s_dbi(txn, S_HEADS), &cur);
    if (rc)
        return s_mdb(rc, NULL, "cursor");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && count < cap;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 2) {
            rc = JP_EDAMAGED;
            goto done;
        }
        out[count++] = jp_be16_get(k.mv_data);
    }
    rc = rc == 0 || rc == MDB_NOTFOUND ? count : s_mdb(rc, NULL, "cursor");
done:
    mdb_cursor_close(cur);
    return rc;
}

/* A store's log: whole (part false: seqs 1..head, each continuing the
 * last), or a part of it (gaps allowed; a change right after a held one
 * must continue it).  *held: the changes walked. */
static int
s_verify_log(jp_txn_t *txn, uint16_t store, bool part, uint64_t *held, jp_err_t *err)
{
    assert(txn);
    MDB_cursor *cur;
    uint8_t lk[S_LOGKEY_LEN], prev[JP_HASH_LEN] = {0};
    uint64_t expect = 1;
    *held = 0;
    jp_change_t ch;
    jp_err_t derr;
    char t[JP_ID_TEXT_LEN + 1];
    int rc = mdb_cursor_open(txn->t, s_dbi(txn, S_LOG), &cur);
    if (rc)
        return s_mdb(rc, err, "log cursor");
    s_logkey(lk, store, 1);
    MDB_val k = {sizeof lk, lk}, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), expect++, ++*held) {
        const uint8_t *kp = k.mv_data;
        if (k.mv_size < 2 || jp_be16_get(kp) != store)
            break;
        if (k.mv_size != S_LOGKEY_LEN) {
            rc = jp_err_set(err, JP_EDAMAGED, "store %u: a log key of %zu bytes", store,
                            k.mv_size);
            goto done;
        }
        unsigned long long seq = jp_be64_get(kp + 2);
        bool after_gap = part && seq > expect;
        if (after_gap)
            expect = seq; /* a part: what comes after a gap starts afresh */
        if (seq != expect) {
            rc = jp_err_set(err, JP_ECHAIN,
                            "store %u seq %llu: missing, the next here is seq %llu",
                            store, (unsigned long long)expect, seq);
            goto done;
        }
        jp_err_clear(&derr);
        if ((rc = jp_change_decode(v.mv_data, v.mv_size, &ch, &derr))) {
            rc = jp_err_set(err, rc, "store %u seq %llu: does not decode: %s", store, seq,
                            derr.msg);
            goto done;
        }
        if (ch.store != store || ch.seq != seq) {
            rc = jp_err_set(err, JP_ECHAIN,
                            "store %u seq %llu: the change says store %u seq %llu", store,
                            seq, ch.store, (unsigned long long)ch.seq);
            goto done;
        }
        if (!after_gap && memcmp(ch.prev, prev, JP_HASH_LEN) != 0) {
            if (seq == 1)
                rc = jp_err_set(err, JP_ECHAIN, "store %u seq 1: prev hash is not zero",
                                store);
            else
                rc = jp_err_set(err, JP_ECHAIN,
                                "store %u seq %llu: prev hash does not match seq %llu",
                                store, seq, seq - 1);
            goto done;
        }
        MDB_val rv;
        rc = s_get(txn, S_REC, ch.id.b, 16, &rv);
        if (rc) {
            rc = jp_err_set(err, rc, "store %u seq %llu: its record %s is %s", store, seq,
                            s_idtext(&ch.id, t),
                            rc == JP_ENOTFOUND ? "missing" : "unreadable");
            goto done;
        }
        if ((rc = jp_sha256(v.mv_data, v.mv_size, prev))) {
            rc = jp_err_set(err, rc, "SHA-256 failed");
            goto done;
        }
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        rc = s_mdb(rc, err, "log cursor");
        goto done;
    }
    jp_head_t head;
    if ((rc = s_head_get(txn, store, &head))) {
        rc = jp_err_set(err, rc, "store %u: heads entry unreadable", store);
        goto done;
    }
    unsigned long long last = expect - 1;
    if (part && head.seq > last) {
        rc = 0; /* the head is past what is held here */
        goto done;
    }
    if (head.seq != last) {
        rc = jp_err_set(err, JP_ECHAIN,
                        "store %u: the head is seq %llu, the log ends at seq %llu", store,
                        (unsigned long long)head.seq, last);
        goto done;
    }
    if (memcmp(head.head, prev, JP_HASH_LEN) != 0) {
        rc = jp_err_set(err, JP_ECHAIN, "store %u seq %llu: hash does not match the head",
                        store, last);
        goto done;
    }
    rc = 0;
done:
    mdb_cursor_close(cur);
    return rc;
}

int
jp_txn_verify_chain(jp_txn_t *txn, uint16_t store, jp_err_t *err)
{
    uint64_t held;
    return s_verify_log(txn, store, false, &held, err);
}

int
jp_txn_verify_part(jp_txn_t *txn, uint16_t store, uint64_t *held, bool *whole, jp_err_t *err)
{
    jp_head_t head;
    int rc = s_verify_log(txn, store, true, held, err);
    if (!rc && (rc = s_head_get(txn, store, &head)))
        return jp_err_set(err, rc, "store %u: heads entry unreadable", store);
    *whole = !rc && *held == head.seq;
    return rc;
}

int
jp_txn_digest(jp_txn_t *txn, uint8_t out[JP_HASH_LEN])
{
    return jp_txn_digest_of(txn, NULL, NULL, out);
}

int
jp_txn_digest_of(jp_txn_t *txn, jp_keep_cb keep, void *arg, uint8_t out[JP_HASH_LEN])
{
    assert(txn && out);
    jp_sha_t *sha = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc = jp_sha_new(&sha);
    if (rc)
        return rc;
    if ((rc = mdb_cursor_open(txn->t, s_dbi(txn, S_REC), &cur))) {
        rc = s_mdb(rc, NULL, "cursor");
        goto done;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t len[4] = {(uint8_t)(v.mv_size >> 24), (uint8_t)(v.mv_size >> 16),
                          (uint8_t)(v.mv_size >> 8), (uint8_t)v.mv_size};
        if (k.mv_size != 16 || v.mv_size > UINT32_MAX) {
            rc = JP_EDAMAGED;
            goto done;
        }
        if (keep) {
            jp_id_t id;
            memcpy(id.b, k.mv_data, 16);
            if (!keep(arg, &id))
                continue;
        }
        if ((rc = jp_sha_update(sha, k.mv_data, 16)) ||
            (rc = jp_sha_update(sha, len, 4)) ||
            (rc = jp_sha_update(sha, v.mv_data, v.mv_size)))
            goto done;
    }
    if (rc != MDB_NOTFOUND) {
        rc = s_mdb(rc, NULL, "cursor");
        goto done;
    }
    rc = jp_sha_final(sha, out);
done:
    if (cur)
        mdb_cursor_close(cur);
    jp_sha_destroy(&sha);
    return rc;
}

int
jp_txn_counts(jp_txn_t *txn, uint64_t out[JP_K_COUNT], uint64_t *changes)
{
    assert(txn && out && changes);
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_stat st;
    memset(out, 0, sizeof(uint64_t) * JP_K_COUNT);
    int rc = mdb_stat(txn->t, s_dbi(txn, S_LOG), &st);
    if (rc)
        return s_mdb(rc, NULL, "stat");
    *changes = st.ms_entries;
    if ((rc = mdb_cursor_open(txn->t, s_dbi(txn, S_REC), &cur)))
        return s_mdb(rc, NULL, "cursor");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int kind = s_rec_kind(&v);
        if (kind < 0) {
            rc = JP_EDAMAGED;
            goto done;
        }
        out[kind]++;
    }
    rc = rc == MDB_NOTFOUND ? 0 : s_mdb(rc, NULL, "cursor");
done:
    mdb_cursor_close(cur);
    return rc;
}

/* ---- tables ---------------------------------------------------------------- */

static int
s_tb_put(jp_txn_t *txn, jp_table_t tb, const void *k, size_t kn, const void *v, size_t vn,
         unsigned flags)
{
    assert(txn && txn->write && tb < JP_TB_COUNT);
    if (txn->broken)
        return txn->broken;
    MDB_val key = {kn, (void *)k}, val = {vn, (void *)v};
    int rc = mdb_put(txn->t, s_dbi(txn, S_TB0 + (int)tb), &key, &val, flags);
    if (rc)
        txn->broken = rc = s_mdb(rc, NULL, s_dbis[S_TB0 + tb].name);
    return rc;
}

int
jp_txn_tb_get(jp_txn_t *txn, jp_table_t tb, const void *k, size_t kn, const void **v,
              size_t *vn)
{
    assert(txn && tb < JP_TB_COUNT && v && vn);
    MDB_val val;
    int rc = s_get(txn, S_TB0 + (int)tb, k, kn, &val);
    if (rc == 0) {
        *v = val.mv_data;
        *vn = val.mv_size;
    }
    return rc;
}

int
jp_txn_tb_put(jp_txn_t *txn, jp_table_t tb, const void *k, size_t kn, const void *v,
              size_t vn)
{
    return s_tb_put(txn, tb, k, kn, v, vn, 0);
}

int
jp_txn_tb_del(jp_txn_t *txn, jp_table_t tb, const void *k, size_t kn)
{
    assert(txn && txn->write && tb < JP_TB_COUNT);
    MDB_val key = {kn, (void *)k};
    int rc = mdb_del(txn->t, s_dbi(txn, S_TB0 + (int)tb), &key, NULL);
    return rc == MDB_NOTFOUND ? JP_ENOTFOUND : s_mdb(rc, NULL, "delete");
}

int
jp_txn_tb_each(jp_txn_t *txn, jp_table_t tb, const void *from, size_t fn, jp_kv_cb cb,
               void *arg)
{
    assert(txn && tb < JP_TB_COUNT && cb);
    MDB_cursor *cur;
    MDB_val k = {fn, (void *)from}, v;
    int rc = mdb_cursor_open(txn->t, s_dbi(txn, S_TB0 + (int)tb), &cur);
    if (rc)
        return s_mdb(rc, NULL, "cursor");
    for (rc = mdb_cursor_get(cur, &k, &v, from && fn ? MDB_SET_RANGE : MDB_FIRST);
         rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if ((rc = cb(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size)))
            goto done;
    }
    rc = rc == MDB_NOTFOUND ? 0 : s_mdb(rc, NULL, "cursor");
done:
    mdb_cursor_close(cur);
    return rc;
}

int
jp_txn_tb_last(jp_txn_t *txn, jp_table_t tb, void *k, size_t cap, size_t *kn)
{
    assert(txn && tb < JP_TB_COUNT && kn);
    MDB_cursor *cur;
    MDB_val key, v;
    int rc = mdb_cursor_open(txn->t, s_dbi(txn, S_TB0 + (int)tb), &cur);
    if (rc)
        return s_mdb(rc, NULL, "cursor");
    rc = mdb_cursor_get(cur, &key, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc)
        return s_mdb(rc, NULL, "last key");
    if (key.mv_size > cap)
        return JP_ETOOBIG;
    memcpy(k, key.mv_data, key.mv_size);
    *kn = key.mv_size;
    return 0;
}

int
jp_txn_glog_len(jp_txn_t *txn, uint64_t *len)
{
    if (txn->glog_ok) { /* counted by glog_append in this transaction */
        *len = txn->glog_len;
        return 0;
    }
    uint8_t k[8];
    size_t kn = 0;
    int rc = jp_txn_tb_last(txn, JP_TB_GLOG, k, sizeof k, &kn);
    *len = 0;
    if (rc == JP_ENOTFOUND)
        return 0;
    if (rc == 0 && kn != 8)
        return JP_ECORRUPT;
    if (rc == 0)
        *len = jp_be64_get(k);
    return rc;
}

int
jp_txn_glog_append(jp_txn_t *txn, uint16_t store, uint64_t seq, const jp_id_t *id,
                   uint64_t *pos)
{
    assert(pos && id);
    int rc;
    /* The length is learnt once per transaction, then counted here. */
    if (!txn->glog_ok) {
        if ((rc = jp_txn_glog_len(txn, &txn->glog_len)))
            return rc;
        txn->glog_ok = true;
    }
    uint8_t k[8], v[S_LOGKEY_LEN], rk[24];
    jp_be64_put(k, txn->glog_len + 1);
    s_logkey(v, store, seq);
    if ((rc = s_tb_put(txn, JP_TB_GLOG, k, sizeof k, v, sizeof v, MDB_APPEND)))
        return rc;
    memcpy(rk, id->b, 16);
    memcpy(rk + 16, k, 8);
    if ((rc = s_tb_put(txn, JP_TB_GREC, rk, sizeof rk, "", 0, 0)))
        return rc;
    *pos = ++txn->glog_len;
    return 0;
}

int
jp_txn_glog_get(jp_txn_t *txn, uint64_t pos, uint16_t *store, uint64_t *seq)
{
    uint8_t k[8];
    const void *v;
    size_t vn;
    jp_be64_put(k, pos);
    int rc = jp_txn_tb_get(txn, JP_TB_GLOG, k, sizeof k, &v, &vn);
    if (rc)
        return rc;
    if (vn != S_LOGKEY_LEN)
        return JP_ECORRUPT;
    *store = jp_be16_get(v);
    *seq = jp_be64_get((const uint8_t *)v + 2);
    return 0;
}

typedef struct {
    const jp_id_t *id;
    jp_pos_cb cb;
    void *arg;
    bool past; /* the walk went past the record's entries */
} s_grec_walk_t;

static int
s_grec_step(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    (void)v;
    (void)vn;
    s_grec_walk_t *w = arg;
    if (kn != 24)
        return JP_ECORRUPT;
    if (memcmp(k, w->id->b, 16) != 0) {
        w->past = true;
        return 1;
    }
    return w->cb(w->arg, jp_be64_get(k + 16));
}

int
jp_txn_glog_of(jp_txn_t *txn, const jp_id_t *id, jp_pos_cb cb, void *arg)
{
    s_grec_walk_t w = {id, cb, arg, false};
    int rc = jp_txn_tb_each(txn, JP_TB_GREC, id->b, 16, s_grec_step, &w);
    return w.past ? 0 : rc;
}

typedef struct {
    jp_txn_t *txn;
    uint64_t added;
    jp_err_t *err;
} s_gindex_t;

static int
s_gindex_step(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_gindex_t *g = arg;
    if (kn != 8 || vn != S_LOGKEY_LEN)
        return jp_err_set(g->err, JP_ECORRUPT, "glog: an entry of %zu/%zu bytes", kn, vn);
    const uint8_t *p;
    size_t n;
    jp_chead_t h;
    uint16_t store = jp_be16_get(v);
    uint64_t seq = jp_be64_get(v + 2);
    int rc = jp_txn_log_get(g->txn, store, seq, &p, &n);
    if (rc || (rc = jp_change_peek(p, n, &h)))
        return jp_err_set(g->err, rc == JP_ENOTFOUND ? JP_EDAMAGED : rc,
                          "glog position %llu: store %u seq %llu unreadable",
                          (unsigned long long)jp_be64_get(k), store,
                          (unsigned long long)seq);
    uint8_t rk[24];
    memcpy(rk, h.id.b, 16);
    memcpy(rk + 16, k, 8);
    if ((rc = s_tb_put(g->txn, JP_TB_GREC, rk, sizeof rk, "", 0, 0)))
        return jp_err_set(g->err, rc, "grec: write failed");
    g->added++;
    return 0;
}

int
jp_txn_glog_index(jp_txn_t *txn, uint64_t *added, jp_err_t *err)
{
    assert(txn && txn->write && added);
    *added = 0;
    uint8_t k[24];
    size_t kn;
    uint64_t len;
    int rc = jp_txn_tb_last(txn, JP_TB_GREC, k, sizeof k, &kn);
    if (rc != JP_ENOTFOUND)
        return rc ? jp_err_set(err, rc, "grec: unreadable") : 0;
    if ((rc = jp_txn_glog_len(txn, &len)) || len == 0)
        return rc;
    s_gindex_t g = {txn, 0, err};
    rc = jp_txn_tb_each(txn, JP_TB_GLOG, NULL, 0, s_gindex_step, &g);
    *added = g.added;
    return rc;
}

int
jp_db_copy(jp_db_t *self, const char *dir, jp_err_t *err)
{
    assert(self && dir);
    char what[300];
    snprintf(what, sizeof what, "hot copy to %s", dir);
    return s_mdb(mdb_env_copy2(self->env, dir, MDB_CP_COMPACT), err, what);
}

int
jp_db_size(jp_db_t *self, uint64_t *used, uint64_t *mapsize)
{
    MDB_envinfo info;
    MDB_stat st;
    int rc = mdb_env_info(self->env, &info);
    if (!rc)
        rc = mdb_env_stat(self->env, &st);
    if (rc)
        return s_mdb(rc, NULL, "environment info");
    *used = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
    *mapsize = info.me_mapsize;
    return 0;
}

/* ---- batches and receipts ---------------------------------------------------- */

#define S_BATCH_VLEN (8 + JP_SIG_LEN + 8 + JP_PUB_LEN)
#define S_RCPT_VLEN (8 + JP_SIG_LEN)

int
jp_txn_batch_put(jp_txn_t *txn, const jp_batch_t *b)
{
    uint8_t k[S_LOGKEY_LEN], v[S_BATCH_VLEN];
    s_logkey(k, b->store, b->last);
    jp_be64_put(v, b->first);
    memcpy(v + 8, b->sig, JP_SIG_LEN);
    jp_be64_put(v + 8 + JP_SIG_LEN, b->ms);
    memcpy(v + 16 + JP_SIG_LEN, b->pub, JP_PUB_LEN);
    return jp_txn_tb_put(txn, JP_TB_BATCH, k, sizeof k, v, sizeof v);
}

int
jp_batch_decode(const uint8_t *k, size_t kn, const uint8_t *v, size_t vn, jp_batch_t *out)
{
    if (kn != S_LOGKEY_LEN || vn != S_BATCH_VLEN)
        return JP_ECORRUPT;
    out->store = jp_be16_get(k);
    out->last = jp_be64_get(k + 2);
    out->first = jp_be64_get(v);
    memcpy(out->sig, v + 8, JP_SIG_LEN);
    out->ms = jp_be64_get(v + 8 + JP_SIG_LEN);
    memcpy(out->pub, v + 16 + JP_SIG_LEN, JP_PUB_LEN);
    return out->first >= 1 && out->first <= out->last ? 0 : JP_ECORRUPT;
}

typedef struct {
    jp_batch_t *out;
    int rc;
} s_bfind_t;

static int
s_batch_first(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_bfind_t *f = arg;
    f->rc = jp_batch_decode(k, kn, v, vn, f->out);
    return 1; /* only the first entry at or after the key */
}

int
jp_txn_batch_find(jp_txn_t *txn, uint16_t store, uint64_t seq, jp_batch_t *out)
{
    uint8_t k[S_LOGKEY_LEN];
    s_logkey(k, store, seq);
    s_bfind_t f = {out, JP_ENOTFOUND};
    int rc = jp_txn_tb_each(txn, JP_TB_BATCH, k, sizeof k, s_batch_first, &f);
    if (rc < 0)
        return rc;
    if (f.rc)
        return f.rc;
    return out->store == store && out->first <= seq ? 0 : JP_ENOTFOUND;
}

int
jp_txn_receipt_put(jp_txn_t *txn, const jp_receipt_t *r)
{
    uint8_t k[S_LOGKEY_LEN], v[S_RCPT_VLEN];
    s_logkey(k, r->store, r->seq);
    jp_be64_put(v, r->ms);
    memcpy(v + 8, r->sig, JP_SIG_LEN);
    return jp_txn_tb_put(txn, JP_TB_RCPT, k, sizeof k, v, sizeof v);
}

int
jp_receipt_decode(const uint8_t *k, size_t kn, const uint8_t *v, size_t vn,
                  jp_receipt_t *out)
{
    if (kn != S_LOGKEY_LEN || vn != S_RCPT_VLEN)
        return JP_ECORRUPT;
    out->store = jp_be16_get(k);
    out->seq = jp_be64_get(k + 2);
    out->ms = jp_be64_get(v);
    memcpy(out->sig, v + 8, JP_SIG_LEN);
    return 0;
}

/* ---- the lean index set ------------------------------------------------------ */

int
jp_txn_set_lean(jp_txn_t *txn, jp_err_t *err)
{
    assert(txn && txn->write);
    MDB_stat st;
    int rc = mdb_stat(txn->t, s_dbi(txn, S_REC), &st);
    if (rc)
        return s_mdb(rc, err, "rec");
    if (st.ms_entries > 0)
        return jp_err_set(err, JP_EEXIST,
                          "the index set is chosen before the first record (%zu here)",
                          (size_t)st.ms_entries);
    MDB_val k = {4, "lean"}, v = {1, "\x01"};
    if ((rc = mdb_put(txn->t, s_dbi(txn, S_META), &k, &v, 0)))
        return txn->broken = s_mdb(rc, err, "meta lean");
    txn->db->lean = true; /* a commit keeps it; see s_txn_end for an abort */
    txn->meta = true;
    return 0;
}

bool
jp_db_lean(const jp_db_t *self)
{
    return self->lean;
}

/* ---- internal hooks for repair.c (db_int.h) ---------------------------------- */

int
jp_txn_broken(const jp_txn_t *txn)
{
    assert(txn);
    return txn->broken;
}

int
jp_txn_check_text(const jp_change_t *ch, jp_err_t *err)
{
    return s_check_text(ch, err);
}

int
jp_txn_replay(jp_txn_t *txn, const uint8_t *p, size_t n, const jp_change_t *ch, bool part,
              jp_err_t *err)
{
    return s_apply(txn, p, n, ch, part ? 0 : S_CHAIN, err);
}

int
jp_txn_log_rewrite(jp_txn_t *txn, uint16_t store, uint64_t seq, const uint8_t *p,
                   size_t n, jp_err_t *err)
{
    assert(txn && txn->write && p);
    uint8_t lk[S_LOGKEY_LEN];
    s_logkey(lk, store, seq);
    MDB_val key = {sizeof lk, lk}, val = {n, (void *)p};
    int rc = mdb_put(txn->t, s_dbi(txn, S_LOG), &key, &val, 0);
    return rc ? (txn->broken = s_mdb(rc, err, "log")) : 0;
}

int
jp_txn_head_rehash(jp_txn_t *txn, uint16_t store, const uint8_t hash[JP_HASH_LEN])
{
    assert(txn && txn->write);
    jp_head_t head;
    int rc = s_head_get(txn, store, &head);
    if (rc)
        return rc;
    memcpy(txn->head.head, hash, JP_HASH_LEN);
    txn->head_dirty = true;
    return 0;
}

int
jp_txn_batch_drop(jp_txn_t *txn, uint16_t store, uint64_t from, jp_err_t *err)
{
    assert(txn && txn->write);
    MDB_cursor *cur;
    uint8_t lk[S_LOGKEY_LEN];
    int rc;
    if ((rc = mdb_cursor_open(txn->t, s_dbi(txn, S_TB0 + JP_TB_BATCH), &cur)))
        return txn->broken = s_mdb(rc, err, "batch");
    s_logkey(lk, store, from);
    MDB_val bk = {sizeof lk, lk}, bv;
    for (rc = mdb_cursor_get(cur, &bk, &bv, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &bk, &bv, MDB_NEXT)) {
        if (bk.mv_size != S_LOGKEY_LEN || jp_be16_get(bk.mv_data) != store)
            break;
        if ((rc = mdb_cursor_del(cur, 0)))
            break;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : (txn->broken = s_mdb(rc, err, "batch"));
}

int
jp_txn_rec_cursor(jp_txn_t *txn, MDB_cursor **cur, jp_err_t *err)
{
    assert(txn && cur);
    int rc = mdb_cursor_open(txn->t, s_dbi(txn, S_REC), cur);
    return rc ? s_mdb(rc, err, "rec cursor") : 0;
}

int
jp_db_mdb_err(int rc, jp_err_t *err, const char *what)
{
    return s_mdb(rc, err, what);
}
