/*
 * record.h -- values, changes, record state, and the merge.
 *
 * A change is one local write: (store, seq, hlc, record id, kind, author,
 * prev hash, fields set).  A record's state keeps, for every field ever
 * written, the value with the greatest (hlc, store) stamp.  jp_merge() is a
 * pure function of (state, change): applying any set of changes in any
 * order, any number of times, gives the same state, and so the same bytes
 * once encoded (codec.h).  Events are written once: the writer refuses to
 * edit them (JP_EPERM in db.c); merge itself treats every kind alike, which
 * is what keeps it order-free.  Deletion is the JP_F_DELETED field set true.
 *
 * Text and id values are borrowed: they point into the buffer they were
 * decoded from or that the caller built them in, and live as long as it.
 */
#ifndef JP_RECORD_H
#define JP_RECORD_H

#include "id.h"
#include "schema.h"

#include <stdbool.h>
#include <stdint.h>

/* A field's value.  type 0 is nil: the field was cleared. */
typedef struct {
    uint8_t type; /* JP_T_*, or 0 for nil */
    union {
        int64_t i;   /* INT, TIME (ms), DATE (days), MONEY (fen), ENUM (index) */
        bool b;      /* BOOL */
        jp_id_t ref; /* REF */
        struct {
            const char *p; /* borrowed, not NUL-terminated */
            uint32_t n;    /* bytes */
        } s;               /* STR */
    } u;
} jp_val_t;

/* One field set by a change. */
typedef struct {
    uint8_t id; /* JP_F_* */
    jp_val_t v;
} jp_fval_t;

#define JP_MAX_AUTHOR 128 /* bytes of a change's author (docs/FORMAT.md) */

typedef struct {
    uint16_t store;             /* store that wrote it (0 = group server) */
    uint64_t seq;               /* 1, 2, 3... per store, gapless */
    jp_hlc_t hlc;               /* when, in the group's causal order */
    jp_id_t id;                 /* the record it writes */
    uint8_t kind;               /* JP_K_* of that record */
    const char *author;         /* borrowed: who made the change (user name) */
    uint32_t author_len;        /* bytes of author */
    uint8_t prev[32];           /* SHA-256 of the store's previous change; 0s for seq 1 */
    uint8_t nfields;            /* entries used in f[] */
    jp_fval_t f[JP_MAX_FIELDS]; /* ascending, unique field ids */
} jp_change_t;

/* One field of a record's state. */
typedef struct {
    bool set;       /* written at least once (nil counts: it was cleared) */
    uint16_t store; /* stamp: the writer's store */
    jp_hlc_t hlc;   /* stamp: the writer's hlc */
    jp_val_t v;     /* current value */
} jp_slot_t;

typedef struct {
    jp_id_t id;
    uint8_t kind;            /* JP_K_*, JP_K_NONE for a record not yet seen */
    jp_slot_t f[JP_F_COUNT]; /* indexed by field id */
} jp_record_t;

/* Start an empty record with the given id. */
void jp_record_init(jp_record_t *r, const jp_id_t *id);

/* Merge ch into r: every field of ch whose (hlc, store) is greater than the
 * slot's stamp replaces it.  Returns the number of slots that changed (0: the
 * change was already there or older), or JP_EINVAL if ch is for another id
 * or another kind than r. */
int jp_merge(jp_record_t *r, const jp_change_t *ch);

/* True when (h1, s1) > (h2, s2): the last-writer-wins order. */
static inline bool
jp_stamp_gt(jp_hlc_t h1, uint16_t s1, jp_hlc_t h2, uint16_t s2)
{
    return h1 != h2 ? h1 > h2 : s1 > s2;
}

/* Accessors for code that reads records (NULL / fallback when unset). */
bool jp_record_deleted(const jp_record_t *r);
int64_t jp_record_int(const jp_record_t *r, unsigned fid, int64_t fallback);
/* Text into out (NUL-terminated, cut to cap at a character's end, control
 * characters as '?': jp_text_show); returns out, "" if unset. */
const char *jp_record_str(const jp_record_t *r, unsigned fid, char *out, size_t cap);
/* Pointer to the ref, or NULL if unset or nil. */
const jp_id_t *jp_record_ref(const jp_record_t *r, unsigned fid);

/* Values equal (same type and content). */
bool jp_val_eq(const jp_val_t *a, const jp_val_t *b);

/* Change builders: set a field in ch (keeps f[] sorted; replaces an earlier
 * set of the same field).  Strings are borrowed. */
void jp_change_set_str(jp_change_t *ch, unsigned fid, const char *p, size_t n);
void jp_change_set_int(jp_change_t *ch, unsigned fid,
                       int64_t v); /* INT TIME DATE MONEY ENUM by field type */
void jp_change_set_ref(jp_change_t *ch, unsigned fid, const jp_id_t *id);
void jp_change_set_bool(jp_change_t *ch, unsigned fid, bool b);
void jp_change_set_nil(jp_change_t *ch, unsigned fid);
const jp_fval_t *jp_change_get(const jp_change_t *ch, unsigned fid);

/* A value as text for people (f: its field, may be NULL): enum words,
 * dates, instants and money in the group's zone, ids; "(cleared)" for nil;
 * phone and ID number masked unless full. */
void jp_val_text(const jp_field_def_t *f, const jp_val_t *v, bool full, char *out,
                 size_t cap);

#endif
