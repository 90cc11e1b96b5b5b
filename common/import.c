/*
 * import.c -- customers.csv, vehicles.csv and events.csv into a store.
 *
 * The one idea: nothing is written until every row of every file has been
 * read and judged.  Phase 1 parses the files (libcsv, fed one physical line
 * at a time so that a row's report names the line it starts on), checks
 * each cell, and keeps each row in memory as its fields (16 bytes each in
 * one pool, text copied into an arena that this import owns, since a
 * change only borrows; the big arrays ask for huge pages, since page
 * faults were a third of the time).  External ids of this import live in small
 * open-addressing hash tables; records already in the store are found with
 * jp_txn_find_ext in one read transaction.  Then references are resolved,
 * rows already in the store are compared with it (only the fields that
 * differ are kept), and a write order is fixed in which every reference
 * exists before it is written and new keys mostly come in key order, which
 * LMDB appends (s_order).  Phase 2 writes that order,
 * JP_IMPORT_TXN_ROWS changes per transaction: a killed import leaves whole
 * transactions, and running it again finds those rows unchanged.
 *
 * Rules chosen here beyond import-format.md (each has a test):
 *  - Instants (created_at, delivered_at, at) lie between 1990-01-01 local
 *    and now + 1 day (the day absorbs wrong clocks and time zones).
 *    Delivery is not compared with the customer's created_at: DMS exports
 *    create the customer row after the sale.
 *  - birthday: before the local day of created_at (jp_parse_date itself
 *    refuses years before 1900).
 *  - complaint_contact and complaint_resolved: `at` not before the `at` of
 *    the complaint they belong to, which must be a complaint event of this
 *    store (from events.csv or the store; one already in the store is
 *    judged by the store's record, whatever its row in events.csv says).
 *  - Every rule jp_txn_write enforces is judged here, in phase 1, so that
 *    a dry run's verdict is the real run's.
 *  - phone is required for owners: a customer with a row in vehicles.csv
 *    or a vehicle in the store (unless the store already has the phone).
 *    A vehicle row whose customer is only in the store, without a phone,
 *    is refused for the same reason.
 *  - A row is reported once, with its first fault (in column order).
 *  - A row whose number of cells differs from the header's is refused.
 *  - A repeated ext_id (VIN in vehicles.csv) refuses the later row, naming
 *    the line of the first.
 *  - An event already in the store with other values is refused: events
 *    are never edited.  Customers and vehicles get an update of the fields
 *    that differ; an empty optional cell never clears a stored value.
 *  - referred_by chains are written referrer first; a cycle is refused.
 *  - With partial, a row that refers to a refused row of this import (one
 *    that is not already in the store) is refused too, saying so.
 *  - File-level faults stop the import whatever `partial` says, since the
 *    rows cannot be read: an unknown, repeated or missing required column,
 *    an empty file, malformed quoting.
 *  - customers.csv may carry `note` (the schema gives customers one).
 */
#include "import.h"
#include "file.h"
#include "validate.h"

#include <assert.h>
#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_CELLS 64           /* cells in one row */
#define S_QUOTE_MAX 32           /* bytes of a value quoted in a report */
#define S_HUGE ((size_t)2 << 20) /* a huge page: size and alignment of mappings */
#define S_BLOCK (2 * S_HUGE)     /* arena block, bytes */
#define S_DAY_MS 86400000LL      /* one day, ms */
#define S_MILEAGE_MAX 9999999    /* km on an odometer */

enum { S_CUST, S_VEH, S_EV, S_NFILES };

/* What a row becomes. */
enum { S_NEW = 1, S_UPDATE, S_SAME, S_BAD };

/* How a cell becomes a value. */
enum {
    C_STR = 1,
    C_ENUM,
    C_INT,
    C_MONEY,
    C_TIME,
    C_DATE,
    C_PHONE,
    C_IDNUM,
    C_VIN,
    C_REF,
    C_KIND
};

typedef struct {
    const char *name; /* header name */
    uint8_t fid;      /* field it fills (JP_F_*); unused for C_KIND */
    uint8_t how;      /* C_* */
    bool required;    /* in the header, and non-empty on every row */
    int64_t lo, hi;   /* C_INT: accepted range */
} s_col_t;

static const s_col_t s_cust_cols[] = {
    {"ext_id", JP_F_EXT_ID, C_STR, true},
    {"name", JP_F_NAME, C_STR, true},
    {"phone", JP_F_PHONE, C_PHONE, false},
    {"id_number", JP_F_ID_NUMBER, C_IDNUM, false},
    {"gender", JP_F_GENDER, C_ENUM, false},
    {"birthday", JP_F_BIRTHDAY, C_DATE, false},
    {"district", JP_F_DISTRICT, C_STR, false},
    {"source", JP_F_SOURCE, C_ENUM, false},
    {"grade", JP_F_GRADE, C_ENUM, false},
    {"created_at", JP_F_CREATED_AT, C_TIME, true},
    {"referred_by", JP_F_REFERRED_BY, C_REF, false},
    {"note", JP_F_NOTE, C_STR, false},
    {NULL},
};

static const s_col_t s_veh_cols[] = {
    {"vin", JP_F_VIN, C_VIN, true},
    {"customer_ext_id", JP_F_CUSTOMER, C_REF, true},
    {"model", JP_F_MODEL, C_STR, true},
    {"plate", JP_F_PLATE, C_STR, false},
    {"delivered_at", JP_F_DELIVERED_AT, C_TIME, true},
    {"price", JP_F_PRICE, C_MONEY, false},
    {"sale_kind", JP_F_SALE_KIND, C_ENUM, false},
    {NULL},
};

static const s_col_t s_ev_cols[] = {
    {"ext_id", JP_F_EXT_ID, C_STR, true},
    {"customer_ext_id", JP_F_CUSTOMER, C_REF, true},
    {"kind", 0, C_KIND, true},
    {"at", JP_F_AT, C_TIME, true},
    {"vin", JP_F_VIN, C_VIN, false},
    {"service_type", JP_F_SERVICE_TYPE, C_ENUM, false},
    {"mileage", JP_F_MILEAGE, C_INT, false, 0, S_MILEAGE_MAX},
    {"amount", JP_F_AMOUNT, C_MONEY, false},
    {"channel", JP_F_CHANNEL, C_ENUM, false},
    {"purpose", JP_F_PURPOSE, C_STR, false},
    {"severity", JP_F_SEVERITY, C_ENUM, false},
    {"subject", JP_F_SUBJECT, C_ENUM, false},
    {"complaint_ext_id", JP_F_COMPLAINT, C_REF, false},
    {"satisfaction", JP_F_SATISFACTION, C_INT, false, 1, 5},
    {"repurchase", JP_F_REPURCHASE, C_ENUM, false},
    {"recommend", JP_F_RECOMMEND, C_ENUM, false},
    {"referred_ext_id", JP_F_REFERRED, C_REF, false},
    {"reason", JP_F_REASON, C_ENUM, false},
    {"grade", JP_F_GRADE, C_ENUM, false},
    {"note", JP_F_NOTE, C_STR, false},
    {NULL},
};

static const s_col_t *const s_cols[S_NFILES] = {s_cust_cols, s_veh_cols, s_ev_cols};
static const jp_kind_t s_file_kind[S_NFILES] = {JP_K_CUSTOMER, JP_K_VEHICLE, JP_K_NONE};
static const int s_file_ext[S_NFILES] = {JP_EXT_CUSTOMER, JP_EXT_VEHICLE, JP_EXT_EVENT};

/* One field of a row, smaller than a jp_fval_t (rows are many). */
typedef struct {
    uint8_t fid;  /* JP_F_* */
    uint8_t type; /* JP_T_* */
    uint32_t n;   /* STR, and REF until resolved: bytes at u.p */
    union {
        int64_t i;          /* INT, TIME, DATE, MONEY, ENUM */
        const char *p;      /* STR: text; REF until resolved: the ext id */
        const jp_id_t *ref; /* REF once resolved (a row's id, or in the arena) */
    } u;
} s_fv_t;

/* One data row.  Its fields are fv[f0 .. f0 + nf) of the pool.  A row
 * refers to at most two records: [0] its customer (referred_by for a
 * customer), [1] an event's complaint or referred customer. */
typedef struct {
    jp_id_t id;        /* the record: found in the store, or new */
    const char *key;   /* ext_id (VIN for a vehicle) in the arena, or NULL */
    int64_t at;        /* created_at, delivered_at or at, unix ms; 0 if unset */
    int32_t dep[2];    /* row index a reference resolved to in this import, or -1 */
    uint32_t keyn;     /* bytes of key */
    uint32_t line;     /* physical line the row starts on */
    uint32_t f0;       /* first field in the pool */
    uint8_t nf;        /* fields in the pool */
    uint8_t file;      /* S_CUST, S_VEH, S_EV */
    uint8_t kind;      /* JP_K_* (0 until an event's kind is read) */
    uint8_t act;       /* S_NEW, S_UPDATE, S_SAME, S_BAD */
    uint8_t refcol[2]; /* 1-based cell of a reference, 0 if none */
    uint8_t reffid[2]; /* its field (JP_F_CUSTOMER ...) */
    bool inst;         /* the record is already in the store */
    bool owner;        /* customer: a vehicle row names it */
    bool phone;        /* customer: the row has a phone */
    uint8_t mark;      /* write-order walk: 0 new, 1 on the path, 2 placed */
} s_row_t;

/* One slot of an ext id table. */
typedef struct {
    const char *key; /* the row's key (NUL-terminated, in the arena) */
    uint32_t row;    /* row index + 1; 0 is empty */
    uint32_t hash;   /* hash of key: probes and rehashes touch no row */
} s_slot_t;

/* ext id -> row index of one file: open addressing, linear probing. */
typedef struct {
    s_slot_t *slot; /* cap slots */
    uint32_t cap;   /* slots, a power of two (0 before the first add) */
    uint32_t n;     /* keys held */
} s_map_t;

/* One line of the report. */
typedef struct {
    const char *text; /* in the arena, without newline */
    uint32_t line;    /* physical line */
    uint32_t seq;     /* order of discovery, for a stable sort */
    uint8_t file;     /* S_* */
} s_rep_t;

typedef struct s_block {
    struct s_block *next; /* older block */
    size_t used;          /* bytes handed out */
    size_t cap;           /* bytes in data */
    size_t mapped;        /* bytes of the mapping, this header included */
    char data[];          /* the bytes */
} s_block_t;

/* What the header of one file said. */
typedef struct {
    const char *name;          /* basename, for reports */
    const s_col_t *cols;       /* its column table */
    int ncells;                /* header cells */
    int8_t colof[S_MAX_CELLS]; /* cell -> column table index, -1 ignored */
    int8_t cellof[JP_F_COUNT]; /* field -> cell, -1 if absent */
    int kindcell;              /* cell of events.csv `kind`, -1 */
    bool header;               /* the header row has been read */
} s_file_t;

/* Per-row scratch of s_row(). */
typedef struct {
    int64_t bday; /* birthday, days */
    int bdaycol;  /* its 1-based cell, 0 if none */
    int keycol;   /* 1-based cell of the key, 0 if none */
} s_rowtmp_t;

typedef struct {
    jp_db_t *db;                   /* the store */
    const jp_import_opts_t *opts;  /* what the caller asked */
    jp_txn_t *rtxn;                /* phase 1 read transaction */
    uint64_t snap;                 /* its jp_txn_number: the store phase 1 judged */
    uint16_t store;                /* this store's number */
    int64_t t_min, t_max;          /* accepted instants, unix ms */
    int fatal;                     /* JP_E* that stops the import, 0 if none */
    s_block_t *arena;              /* newest block of the arena */
    size_t block;                  /* bytes its first block should hold */
    s_row_t *rows;                 /* every data row of every file */
    size_t nrows, caprows;         /* rows used, allocated */
    s_fv_t *fv;                    /* the rows' fields */
    size_t nfv, capfv;             /* fields used, allocated */
    s_map_t map[S_NFILES];         /* ext ids of this import per file */
    s_rep_t *rep;                  /* report lines */
    size_t nrep, caprep;           /* lines used, allocated */
    uint32_t *order;               /* write order, row indexes */
    size_t norder;                 /* entries of order */
    s_file_t files[S_NFILES];      /* header of each file */
    int cur;                       /* file being read, S_* */
    char *cell;                    /* bytes of the row's cells, NUL after each */
    size_t celllen, cellcap;       /* bytes used, allocated */
    uint32_t celloff[S_MAX_CELLS]; /* offset of each cell in cell */
    uint32_t celln[S_MAX_CELLS];   /* bytes of each cell */
    int ncells;                    /* cells of the row so far */
    bool toomany;                  /* the row has more than S_MAX_CELLS cells */
    uint32_t line;                 /* physical line being fed to libcsv */
    uint32_t rowline;              /* line the current row started on */
    bool inrow;                    /* a row has started and not ended */
    jp_record_t rec;               /* a stored record being compared */
    jp_record_t tmp;               /* a stored record looked at on the side */
    jp_change_t ch;                /* phase 2: the change being written */
} s_imp_t;

/* ---- memory -------------------------------------------------------------- */

/* Small arrays (the report, a row's cells): realloc, doubling. */
static int
s_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return JP_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

/* Bytes of the mapping that holds n: whole huge pages from one huge page
 * up, whole small pages below (a small import's files would otherwise
 * cost the zeroing of 2 MiB pages they never fill). */
static size_t
s_map_round(size_t n)
{
    if (n >= S_HUGE)
        return (n + S_HUGE - 1) & ~(S_HUGE - 1);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return n ? (n + page - 1) & ~(page - 1) : page;
}

/* The big arrays (rows, fields, the arena) live in anonymous mappings
 * sized to the files.  From a huge page up they are aligned and sized in
 * huge pages and advised to use them: touched lazily, one fault per 2 MiB
 * where the kernel grants it (a 4 KiB fault cost more than a row's
 * parsing), and grown by mremap without copying.  Returns a mapping of
 * s_map_round(n) bytes, or NULL. */
static void *
s_map(size_t n)
{
    size_t bytes = s_map_round(n);
    if (bytes < S_HUGE) {
        void *m =
            mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return m == MAP_FAILED ? NULL : m;
    }
    size_t len = bytes + S_HUGE;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    uintptr_t a = ((uintptr_t)m + S_HUGE - 1) & ~(uintptr_t)(S_HUGE - 1);
    if (a > (uintptr_t)m)
        munmap(m, a - (uintptr_t)m);
    if ((uintptr_t)m + len > a + bytes)
        munmap((void *)(a + bytes), (uintptr_t)m + len - (a + bytes));
    madvise((void *)a, bytes, MADV_HUGEPAGE); /* a hint: failure is harmless */
    return (void *)a;
}

static void
s_unmap(void *p, size_t cap, size_t elem)
{
    if (p)
        munmap(p, s_map_round(cap * elem));
}

/* Room for need elements in the mapped array *p of *cap elements: at
 * first exactly what was asked (the files' rows), then doubling. */
static int
s_mgrow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : need;
    while (n < need)
        n *= 2;
    size_t old = *p ? s_map_round(*cap * elem) : 0, bytes = s_map_round(n * elem);
    void *q;
    if (old >= S_HUGE) {
        q = mremap(*p, old, bytes, MREMAP_MAYMOVE);
        if (q == MAP_FAILED)
            q = NULL;
        else
            madvise(q, bytes, MADV_HUGEPAGE);
    } else if ((q = s_map(bytes)) && *p) {
        /* small pages to a new mapping (huge-aligned once it is big) */
        memcpy(q, *p, *cap * elem);
        munmap(*p, old);
    }
    if (!q)
        return JP_ENOMEM;
    *p = q;
    *cap = bytes / elem;
    return 0;
}

/* n bytes from the arena; NULL (and im->fatal) when memory runs out.  The
 * first block is sized to the files (im->block), each later one twice the
 * one before, up to S_BLOCK. */
static char *
s_alloc(s_imp_t *im, size_t n)
{
    s_block_t *b = im->arena;
    n = (n + 7) & ~(size_t)7;
    if (!b || b->cap - b->used < n) {
        size_t want = im->block < S_BLOCK ? im->block : S_BLOCK;
        if (b)
            want = b->cap * 2 < S_BLOCK ? b->cap * 2 : S_BLOCK;
        size_t mapped = s_map_round(sizeof *b + (n > want ? n : want));
        b = s_map(mapped);
        if (!b) {
            im->fatal = JP_ENOMEM;
            return NULL;
        }
        b->next = im->arena;
        b->used = 0;
        b->cap = mapped - sizeof *b;
        b->mapped = mapped;
        im->arena = b;
    }
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

/* A NUL-terminated copy of p[0..n) in the arena. */
static const char *
s_dup(s_imp_t *im, const char *p, size_t n)
{
    char *q = s_alloc(im, n + 1);
    if (q) {
        memcpy(q, p, n);
        q[n] = '\0';
    }
    return q;
}

/* ---- the ext id tables ------------------------------------------------------ */

static uint32_t
s_hash(const char *p, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

/* Row index of key p[0..n) in m, or -1. */
static int32_t
s_map_find(const s_map_t *m, const char *p, size_t n)
{
    if (!m->cap)
        return -1;
    uint32_t h = s_hash(p, n);
    for (uint32_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        const s_slot_t *s = &m->slot[i];
        if (!s->row)
            return -1;
        if (s->hash == h && memcmp(s->key, p, n) == 0 && s->key[n] == '\0')
            return (int32_t)(s->row - 1);
    }
}

static void
s_map_put(s_map_t *m, const char *key, uint32_t row, uint32_t h)
{
    uint32_t i = h & (m->cap - 1);
    while (m->slot[i].row)
        i = (i + 1) & (m->cap - 1);
    m->slot[i] = (s_slot_t){key, row + 1, h};
    m->n++;
}

/* Make m hold keys keys at most half full, so probes stay short. */
static int
s_map_reserve(s_map_t *m, size_t keys)
{
    if (keys * 2 <= m->cap)
        return 0;
    uint32_t cap = m->cap ? m->cap : 16;
    while (cap < keys * 2)
        cap *= 2;
    s_slot_t *old = m->slot;
    uint32_t oldcap = m->cap;
    m->slot = calloc(cap, sizeof *m->slot);
    if (!m->slot) {
        m->slot = old;
        return JP_ENOMEM;
    }
    m->cap = cap;
    m->n = 0;
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i].row)
            s_map_put(m, old[i].key, old[i].row - 1, old[i].hash);
    free(old);
    return 0;
}

/* Add row (its key not yet in m). */
static int
s_map_add(s_imp_t *im, s_map_t *m, uint32_t row)
{
    if (s_map_reserve(m, (size_t)m->n + 1))
        return JP_ENOMEM;
    const s_row_t *r = &im->rows[row];
    s_map_put(m, r->key, row, s_hash(r->key, r->keyn));
    return 0;
}

/* ---- reports ------------------------------------------------------------------ */

/* Add a report line "file:line: text". */
static void s_report(s_imp_t *im, int file, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_report(s_imp_t *im, int file, uint32_t line, const char *fmt, ...)
{
    char msg[600];
    int len = snprintf(msg, sizeof msg, "%s:%u: ", im->files[file].name, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + len, sizeof msg - (size_t)len, fmt, ap);
    va_end(ap);
    if (s_grow((void **)&im->rep, &im->caprep, im->nrep + 1, sizeof *im->rep)) {
        im->fatal = JP_ENOMEM;
        return;
    }
    const char *text = s_dup(im, msg, strlen(msg));
    if (!text)
        return;
    im->rep[im->nrep] = (s_rep_t){text, line, (uint32_t)im->nrep, (uint8_t)file};
    im->nrep++;
}

/* Name of the column at 1-based cell col of file, or NULL. */
static const char *
s_colname(const s_imp_t *im, int file, int col)
{
    const s_file_t *f = &im->files[file];
    if (col < 1 || col > f->ncells || f->colof[col - 1] < 0)
        return NULL;
    return f->cols[f->colof[col - 1]].name;
}

/* Refuse row r (once: its first fault is the one reported), at 1-based
 * cell col (0: the row as a whole).  Returns -1. */
static int s_reject(s_imp_t *im, s_row_t *r, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
s_reject(s_imp_t *im, s_row_t *r, int col, const char *fmt, ...)
{
    if (r->act == S_BAD)
        return -1;
    r->act = S_BAD;
    char why[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    const char *name = s_colname(im, r->file, col);
    if (col > 0 && name)
        s_report(im, r->file, r->line, "column %d (%s): %s", col, name, why);
    else if (col > 0)
        s_report(im, r->file, r->line, "column %d: %s", col, why);
    else
        s_report(im, r->file, r->line, "%s", why);
    return -1;
}

/* A value for a report: at most S_QUOTE_MAX bytes, cut at a character
 * boundary, control characters shown as '?'.  Never used for phone or ID
 * number cells. */
static const char *
s_quote(const char *p, size_t n, char out[S_QUOTE_MAX + 4])
{
    size_t m = n;
    if (m > S_QUOTE_MAX) {
        m = S_QUOTE_MAX;
        while (m > 0 && ((uint8_t)p[m] & 0xC0) == 0x80)
            m--;
    }
    for (size_t i = 0; i < m; i++)
        out[i] = (uint8_t)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
    if (m < n) {
        memcpy(out + m, "...", 3);
        m += 3;
    }
    out[m] = '\0';
    return out;
}

/* ---- cells ----------------------------------------------------------------------- */

/* "M, F": the words of an enum field, for a report. */
static void
s_words(const jp_field_def_t *d, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (unsigned i = 0; d->words && d->words[i]; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", d->words[i]);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
}

static int
s_push(s_imp_t *im, s_row_t *r, const s_fv_t *v)
{
    if (s_mgrow((void **)&im->fv, &im->capfv, im->nfv + 1, sizeof *im->fv)) {
        im->fatal = JP_ENOMEM;
        return -1;
    }
    im->fv[im->nfv++] = *v;
    r->nf++;
    return 0;
}

/* Text (or an unresolved reference) p[0..n), copied into the arena. */
static int
s_text(s_imp_t *im, s_fv_t *v, uint8_t type, const char *p, size_t n)
{
    const char *q = s_dup(im, p, n);
    if (!q)
        return -1;
    v->type = type;
    v->u.p = q;
    v->n = (uint32_t)n;
    return 0;
}

/* Read cell k (column c) of row r.  0, or -1 when the row is refused. */
static int
s_cell(s_imp_t *im, s_row_t *r, s_rowtmp_t *t, const s_col_t *c, int k)
{
    const char *p = im->cell + im->celloff[k];
    size_t n = im->celln[k];
    const jp_field_def_t *d = jp_field_def(c->fid);
    const char *why = NULL;
    char q[S_QUOTE_MAX + 4];
    s_fv_t v = {c->fid, 0, 0, {0}};
    int64_t x;
    int col = k + 1;

    if (r->file == S_EV && !jp_kind_has(r->kind, d)) {
        if (n == 0)
            return 0;
        return s_reject(im, r, col, "column '%s' does not apply to kind '%s'", c->name,
                        jp_kind_name(r->kind));
    }
    if (n == 0) {
        if (c->required)
            return s_reject(im, r, col, "is required");
        if (r->file == S_EV && (d->required >> r->kind & 1u))
            return s_reject(im, r, col, "is required for kind '%s'",
                            jp_kind_name(r->kind));
        return 0; /* not set */
    }
    if (n > JP_MAX_STR)
        return s_reject(im, r, col, "is longer than %d bytes", JP_MAX_STR);

    switch (c->how) {
    case C_STR:
        if (jp_text_check(p, n, c->fid == JP_F_NOTE, &why))
            return s_reject(im, r, col, "%s", why);
        if (s_text(im, &v, JP_T_STR, p, n))
            return -1;
        if (c->fid == JP_F_EXT_ID) {
            r->key = v.u.p;
            r->keyn = v.n;
            t->keycol = col;
        }
        break;
    case C_ENUM: {
        unsigned i = jp_enum_index(d, p, n);
        if (!i) {
            char words[200];
            s_words(d, words, sizeof words);
            return s_reject(im, r, col, "unknown word '%s' (one of %s)", s_quote(p, n, q),
                            words);
        }
        v.type = JP_T_ENUM;
        v.u.i = i;
        break;
    }
    case C_INT:
        if (jp_parse_int(p, n, c->lo, c->hi, &x, &why))
            return s_reject(im, r, col, "%s", why);
        v.type = JP_T_INT;
        v.u.i = x;
        break;
    case C_MONEY:
        if (jp_parse_money(p, n, &x, &why))
            return s_reject(im, r, col, "%s", why);
        v.type = JP_T_MONEY;
        v.u.i = x;
        break;
    case C_TIME:
        if (jp_parse_instant(p, n, &x, &why))
            return s_reject(im, r, col, "%s", why);
        if (x < im->t_min)
            return s_reject(im, r, col, "is before 1990-01-01");
        if (x > im->t_max)
            return s_reject(im, r, col, "is in the future");
        v.type = JP_T_TIME;
        v.u.i = x;
        r->at = x;
        break;
    case C_DATE:
        if (jp_parse_date(p, n, &x, &why))
            return s_reject(im, r, col, "%s", why);
        v.type = JP_T_DATE;
        v.u.i = x;
        t->bday = x;
        t->bdaycol = col;
        break;
    case C_PHONE: {
        char e164[JP_PHONE_MAX];
        if (jp_phone_normalize(p, n, e164, &why))
            return s_reject(im, r, col, "%s", why);
        if (s_text(im, &v, JP_T_STR, e164, strlen(e164)))
            return -1;
        r->phone = true;
        break;
    }
    case C_IDNUM: {
        char id[19];
        if (jp_idnum_check(p, n, id, &why))
            return s_reject(im, r, col, "%s", why);
        if (s_text(im, &v, JP_T_STR, id, 18))
            return -1;
        break;
    }
    case C_VIN: {
        char vin[18];
        if (jp_vin_check(p, n, vin, &why))
            return s_reject(im, r, col, "%s", why);
        if (s_text(im, &v, JP_T_STR, vin, 17))
            return -1;
        if (r->file == S_VEH) {
            r->key = v.u.p;
            r->keyn = 17;
            t->keycol = col;
        }
        break;
    }
    case C_REF: {
        int slot = c->fid == JP_F_COMPLAINT || c->fid == JP_F_REFERRED;
        if (jp_text_check(p, n, false, &why))
            return s_reject(im, r, col, "%s", why);
        /* the ext id, until every row is read and it can be resolved */
        if (s_text(im, &v, JP_T_REF, p, n))
            return -1;
        r->refcol[slot] = (uint8_t)col;
        r->reffid[slot] = c->fid;
        break;
    }
    default:
        assert(!"column kind");
        return -1;
    }
    return s_push(im, r, &v);
}

/* The kind of an events.csv row, from its `kind` cell. */
static int
s_event_kind(s_imp_t *im, s_row_t *r)
{
    s_file_t *f = &im->files[S_EV];
    int k = f->kindcell;
    const char *p = im->cell + im->celloff[k];
    size_t n = im->celln[k];
    char q[S_QUOTE_MAX + 4];
    if (n == 0)
        return s_reject(im, r, k + 1, "is required");
    jp_kind_t kind = jp_kind_by_name(p); /* the cell is NUL-terminated */
    if (strlen(p) != n || !jp_kind_is_event(kind))
        return s_reject(im, r, k + 1, "unknown kind '%s'", s_quote(p, n, q));
    r->kind = (uint8_t)kind;
    /* A field the kind needs must at least have a column. */
    for (unsigned fid = 0; fid < JP_F_COUNT; fid++) {
        const jp_field_def_t *d = jp_field_def(fid);
        if (!(d->required >> kind & 1u) || f->cellof[fid] >= 0)
            continue;
        const char *col = d->name;
        for (int i = 0; f->cols[i].name; i++)
            if (f->cols[i].how != C_KIND && f->cols[i].fid == fid)
                col = f->cols[i].name;
        return s_reject(im, r, 0, "kind '%s' needs column '%s', which the file lacks",
                        jp_kind_name(kind), col);
    }
    return 0;
}

/* A data row is complete in im->cell: judge it and keep it. */
static void
s_row(s_imp_t *im)
{
    s_file_t *f = &im->files[im->cur];
    if (s_mgrow((void **)&im->rows, &im->caprows, im->nrows + 1, sizeof *im->rows)) {
        im->fatal = JP_ENOMEM;
        return;
    }
    uint32_t idx = (uint32_t)im->nrows++;
    s_row_t *r = &im->rows[idx];
    memset(r, 0, sizeof *r);
    r->line = im->rowline;
    r->f0 = (uint32_t)im->nfv;
    r->file = (uint8_t)im->cur;
    r->kind = (uint8_t)s_file_kind[im->cur];
    r->act = S_NEW;
    r->dep[0] = r->dep[1] = -1;
    s_rowtmp_t t = {0, 0, 0};

    if (im->toomany || im->ncells != f->ncells) {
        s_reject(im, r, 0, "has %s%d cells, the header %d",
                 im->toomany ? "more than " : "", im->ncells, f->ncells);
        return;
    }
    if (im->cur == S_EV && s_event_kind(im, r))
        return;
    for (int k = 0; k < im->ncells && r->act != S_BAD && !im->fatal; k++) {
        int ci = f->colof[k];
        if (ci >= 0 && f->cols[ci].how != C_KIND)
            s_cell(im, r, &t, &f->cols[ci], k);
    }
    if (im->fatal)
        return;
    if (t.bdaycol && r->at && t.bday >= jp_local_day(r->at))
        s_reject(im, r, t.bdaycol, "birthday must be before created_at");

    /* The key goes in even when another cell failed, so that rows naming
     * this one are told that it was refused rather than that it is unknown. */
    if (r->key) {
        char q[S_QUOTE_MAX + 4];
        int32_t first = s_map_find(&im->map[im->cur], r->key, r->keyn);
        if (first >= 0) {
            s_reject(im, r, t.keycol, "%s '%s' repeats line %u",
                     im->cur == S_VEH ? "VIN" : "ext_id", s_quote(r->key, r->keyn, q),
                     im->rows[first].line);
            r->key = NULL;
        } else if (s_map_add(im, &im->map[im->cur], idx)) {
            im->fatal = JP_ENOMEM;
        }
    }
}

/* The header row is complete in im->cell: map its cells to columns. */
static void
s_header(s_imp_t *im)
{
    s_file_t *f = &im->files[im->cur];
    uint32_t line = im->rowline;
    char q[S_QUOTE_MAX + 4];
    f->header = true;
    if (im->toomany) {
        s_report(im, im->cur, line, "more than %d columns", S_MAX_CELLS);
        im->fatal = JP_EINVAL;
        return;
    }
    f->ncells = im->ncells;
    int seen[32];
    for (int i = 0; i < 32; i++)
        seen[i] = -1;
    for (int k = 0; k < im->ncells; k++) {
        const char *name = im->cell + im->celloff[k];
        size_t n = im->celln[k];
        int ci = -1;
        for (int i = 0; f->cols[i].name; i++) {
            if (strlen(f->cols[i].name) == n && memcmp(f->cols[i].name, name, n) == 0) {
                ci = i;
                break;
            }
        }
        f->colof[k] = (int8_t)ci;
        if (ci < 0) {
            if (!im->opts->ignore_unknown) {
                s_report(im, im->cur, line, "column %d: unknown column '%s'", k + 1,
                         s_quote(name, n, q));
                im->fatal = JP_EINVAL;
            }
            continue;
        }
        if (seen[ci] >= 0) {
            s_report(im, im->cur, line, "column %d: column '%s' repeats column %d", k + 1,
                     f->cols[ci].name, seen[ci] + 1);
            im->fatal = JP_EINVAL;
            continue;
        }
        seen[ci] = k;
        if (f->cols[ci].how == C_KIND)
            f->kindcell = k;
        else
            f->cellof[f->cols[ci].fid] = (int8_t)k;
    }
    for (int i = 0; f->cols[i].name; i++) {
        if (f->cols[i].required && seen[i] < 0) {
            s_report(im, im->cur, line, "missing required column '%s'", f->cols[i].name);
            im->fatal = JP_EINVAL;
        }
    }
}

/* ---- libcsv callbacks -------------------------------------------------------- */

static void
s_csv_cell(void *s, size_t n, void *data)
{
    s_imp_t *im = data;
    if (!im->inrow) { /* a row that began after a bare CR on the same line */
        im->inrow = true;
        im->rowline = im->line;
    }
    if (im->fatal)
        return;
    if (im->ncells == S_MAX_CELLS) {
        im->toomany = true;
        return;
    }
    if (s_grow((void **)&im->cell, &im->cellcap, im->celllen + n + 1, 1)) {
        im->fatal = JP_ENOMEM;
        return;
    }
    if (n)
        memcpy(im->cell + im->celllen, s, n);
    im->cell[im->celllen + n] = '\0';
    im->celloff[im->ncells] = (uint32_t)im->celllen;
    im->celln[im->ncells] = (uint32_t)n;
    im->ncells++;
    im->celllen += n + 1;
}

static void
s_csv_row(int c, void *data)
{
    s_imp_t *im = data;
    (void)c;
    if (!im->fatal && im->ncells > 0) {
        if (!im->files[im->cur].header)
            s_header(im);
        else
            s_row(im);
    }
    im->ncells = 0;
    im->celllen = 0;
    im->toomany = false;
    im->inrow = false;
}

/* Only spaces, tabs and line ends: libcsv skips such a line. */
static bool
s_blank(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return false;
    return true;
}

/* Map the file at path (read-only, pages loaded at once); an empty file
 * gives NULL and 0. */
static int
s_map_file(const char *path, const char *what, const char **buf, size_t *len,
           jp_err_t *err)
{
    struct stat st;
    *buf = NULL;
    *len = 0;
    int fd = jp_file_open_read(path, what, err);
    if (fd < 0)
        return fd;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return jp_err_set(err, JP_EIO, "%s: %s", path, strerror(e));
    }
    if (st.st_size > 0) {
        void *p =
            mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return jp_err_set(err, JP_EIO, "%s: %s", path, strerror(e));
        }
        *buf = p;
        *len = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

/* Lines in buf[0..len): an upper bound on its rows. */
static size_t
s_lines(const char *buf, size_t len)
{
    size_t n = 1;
    if (len == 0) /* an empty file is not mapped: buf is NULL, and NULL + 0 is UB */
        return n;
    for (const char *p = buf, *end = buf + len; p < end; n++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break;
        p = nl + 1;
    }
    return n;
}

/* Parse file `which` (buf[0..len)) into rows.  Returns 0, or the JP_E*
 * that stops the import (the report says why). */
static int
s_parse_file(s_imp_t *im, int which, const char *buf, size_t len)
{
    s_file_t *f = &im->files[which];
    struct csv_parser csv;
    if (csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return im->fatal = JP_ENOMEM;
    im->cur = which;
    im->line = 0;
    im->inrow = false;
    im->ncells = 0;
    im->celllen = 0;
    im->toomany = false;

    const char *p = buf, *end = len ? buf + len : buf; /* empty: buf is NULL */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* spreadsheets write a UTF-8 byte order mark */
    while (p < end && !im->fatal) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *q = nl ? nl + 1 : end;
        im->line++;
        if (!im->inrow && !s_blank(p, q)) {
            im->inrow = true;
            im->rowline = im->line;
        }
        size_t n = (size_t)(q - p);
        if (csv_parse(&csv, p, n, s_csv_cell, s_csv_row, im) != n) {
            if (csv_error(&csv) == CSV_EPARSE)
                s_report(im, which, im->line,
                         "malformed CSV: a quote inside an unquoted cell, or text after "
                         "a closing quote");
            else
                s_report(im, which, im->line, "CSV: %s", csv_strerror(csv_error(&csv)));
            im->fatal = csv_error(&csv) == CSV_EPARSE ? JP_EINVAL : JP_ENOMEM;
        }
        p = q;
    }
    if (!im->fatal && csv_fini(&csv, s_csv_cell, s_csv_row, im) != 0) {
        s_report(im, which, im->rowline,
                 "malformed CSV: a quoted cell is not closed by the end of the file");
        im->fatal = JP_EINVAL;
    }
    if (!im->fatal && !f->header) {
        s_report(im, which, 1, "the file is empty: no header row");
        im->fatal = JP_EINVAL;
    }
    csv_free(&csv);
    return im->fatal;
}

/* ---- references, the store, the order ------------------------------------------ */

/* A customer or complaint named by ext ext[0..n) in file `file`: in this
 * import (*dep = its row) or in the store (*dep = -1).  JP_ENOTFOUND if
 * neither. */
static int
s_lookup(s_imp_t *im, int file, const char *ext, size_t n, int32_t *dep, jp_id_t *id)
{
    int32_t i = s_map_find(&im->map[file], ext, n);
    *dep = i;
    if (i >= 0) {
        *id = im->rows[i].id;
        return 0;
    }
    return jp_txn_find_ext(im->rtxn, im->store, s_file_ext[file], ext, n, id);
}

static s_fv_t *
s_field(s_imp_t *im, const s_row_t *r, unsigned fid)
{
    for (uint32_t i = r->f0; i < r->f0 + r->nf; i++)
        if (im->fv[i].fid == fid)
            return &im->fv[i];
    return NULL;
}

/* The value of a field, as the record layer holds it. */
static jp_val_t
s_val(const s_fv_t *f)
{
    jp_val_t v;
    memset(&v, 0, sizeof v);
    v.type = f->type;
    if (f->type == JP_T_STR) {
        v.u.s.p = f->u.p;
        v.u.s.n = f->n;
    } else if (f->type == JP_T_REF) {
        v.u.ref = *f->u.ref;
    } else {
        v.u.i = f->u.i;
    }
    return v;
}

/* Resolve the references of row r to record ids and check what they
 * point to. */
static int
s_resolve(s_imp_t *im, s_row_t *r)
{
    char q[S_QUOTE_MAX + 4];
    for (int slot = 0; slot < 2; slot++) {
        if (!r->refcol[slot])
            continue;
        unsigned fid = r->reffid[slot];
        bool complaint = fid == JP_F_COMPLAINT;
        s_fv_t *fv = s_field(im, r, fid);
        assert(fv && fv->type == JP_T_REF);
        const char *ext = fv->u.p;
        size_t n = fv->n;
        int col = r->refcol[slot];
        jp_id_t id;
        int32_t dep;
        int rc = s_lookup(im, complaint ? S_EV : S_CUST, ext, n, &dep, &id);
        if (rc == JP_ENOTFOUND)
            return s_reject(im, r, col, "no %s '%s' in %s or the store",
                            complaint ? "complaint" : "customer", s_quote(ext, n, q),
                            im->files[complaint ? S_EV : S_CUST].name);
        if (rc) {
            im->fatal = rc;
            return -1;
        }
        r->dep[slot] = dep;
        if (complaint) {
            int64_t at = 0;
            int kind;
            /* A complaint row already in the store is judged by the
             * store's record, which the write will refer to: the row
             * itself may say another kind (it is refused for that). */
            if (dep >= 0 && !im->rows[dep].inst) {
                kind = im->rows[dep].kind;
                at = im->rows[dep].at;
            } else {
                if ((rc = jp_txn_get(im->rtxn, &id, &im->tmp))) {
                    im->fatal = rc;
                    return -1;
                }
                kind = im->tmp.kind;
                at = jp_record_int(&im->tmp, JP_F_AT, 0);
            }
            if (kind != JP_K_COMPLAINT)
                return s_reject(im, r, col, "'%s' is a %s event, not a complaint",
                                s_quote(ext, n, q), jp_kind_name((jp_kind_t)kind));
            if (at && r->at && r->at < at) {
                const s_file_t *f = &im->files[S_EV];
                return s_reject(im, r, f->cellof[JP_F_AT] + 1,
                                "is before the complaint '%s' it belongs to",
                                s_quote(ext, n, q));
            }
        } else if (r->file == S_VEH) {
            if (dep >= 0) {
                im->rows[dep].owner = true;
            } else {
                /* Only in the store: it must already have its phone. */
                if ((rc = jp_txn_get(im->rtxn, &id, &im->tmp))) {
                    im->fatal = rc;
                    return -1;
                }
                const jp_slot_t *s = &im->tmp.f[JP_F_PHONE];
                if (!s->set || s->v.type != JP_T_STR || s->v.u.s.n == 0)
                    return s_reject(im, r, col,
                                    "customer '%s' has no phone number in the store, "
                                    "which an owner needs",
                                    s_quote(ext, n, q));
            }
        }
        if (dep >= 0) {
            fv->u.ref = &im->rows[dep].id; /* rows no longer move */
        } else {
            jp_id_t *keep = (jp_id_t *)s_alloc(im, sizeof *keep);
            if (!keep)
                return -1;
            *keep = id;
            fv->u.ref = keep;
        }
        fv->n = 0;
    }
    return 0;
}

/* Timeline walk: stop at the first vehicle. */
static int
s_tl_vehicle(void *arg, const jp_id_t *id)
{
    s_imp_t *im = arg;
    int rc = jp_txn_get(im->rtxn, id, &im->tmp);
    if (rc)
        return rc;
    return im->tmp.kind == JP_K_VEHICLE && !jp_record_deleted(&im->tmp) ? 1 : 0;
}

/* A customer row without phone: refuse it if it is an owner.  im->rec
 * holds its stored state when r->inst. */
static int
s_owner_phone(s_imp_t *im, s_row_t *r)
{
    const s_file_t *f = &im->files[S_CUST];
    int col = f->cellof[JP_F_PHONE] + 1; /* 0 when there is no phone column */
    const char *where = NULL;
    if (r->inst) {
        const jp_slot_t *s = &im->rec.f[JP_F_PHONE];
        if (s->set && s->v.type == JP_T_STR && s->v.u.s.n > 0)
            return 0; /* the store has it, and an empty cell clears nothing */
    }
    if (r->owner) {
        where = "in vehicles.csv";
    } else if (r->inst) {
        int rc = jp_txn_timeline(im->rtxn, &r->id, s_tl_vehicle, im);
        if (rc < 0) {
            im->fatal = rc;
            return -1;
        }
        if (rc == 1)
            where = "in the store";
    }
    if (!where)
        return 0;
    if (col)
        return s_reject(im, r, col, "is required for an owner (a vehicle %s)", where);
    return s_reject(im, r, 0,
                    "phone is required for an owner (a vehicle %s), and the "
                    "file has no phone column",
                    where);
}

/* Row r is in the store (its state in im->rec): keep only the fields that
 * differ.  An event must match entirely. */
static void
s_compare(s_imp_t *im, s_row_t *r)
{
    char q[S_QUOTE_MAX + 4];
    const jp_record_t *rec = &im->rec;
    uint32_t j = r->f0;
    int diff = -1;
    for (uint32_t i = r->f0; i < r->f0 + r->nf; i++) {
        const s_fv_t *fv = &im->fv[i];
        const jp_slot_t *s = &rec->f[fv->fid];
        jp_val_t v = s_val(fv);
        if (s->set && jp_val_eq(&s->v, &v))
            continue;
        if (diff < 0)
            diff = fv->fid;
        im->fv[j++] = *fv;
    }
    r->nf = (uint8_t)(j - r->f0);
    if (r->file != S_EV) {
        r->act = r->nf ? S_UPDATE : S_SAME;
        return;
    }
    const s_file_t *f = &im->files[S_EV];
    int keycol = f->cellof[JP_F_EXT_ID] + 1;
    if (rec->kind != r->kind)
        s_reject(im, r, keycol, "event '%s' is already in the store as a %s event",
                 s_quote(r->key, r->keyn, q), jp_kind_name((jp_kind_t)rec->kind));
    else if (r->nf)
        s_reject(im, r, f->cellof[diff] + 1,
                 "event '%s' is already in the store with another %s; events are never "
                 "edited",
                 s_quote(r->key, r->keyn, q), jp_field_def((unsigned)diff)->name);
    else
        r->act = S_SAME;
}

static void
s_order_add(s_imp_t *im, uint32_t i)
{
    im->order[im->norder++] = i;
}

/* Customers go referrer first; a cycle of new customers is refused. */
static int
s_order_customers(s_imp_t *im, uint32_t lo, uint32_t hi)
{
    uint32_t *path = malloc((hi - lo + 1) * sizeof *path);
    if (!path && hi > lo)
        return JP_ENOMEM;
    for (uint32_t i = lo; i < hi; i++) {
        size_t np = 0;
        int32_t j = (int32_t)i;
        while (j >= 0 && im->rows[j].mark == 0) {
            s_row_t *r = &im->rows[j];
            r->mark = 1;
            path[np++] = (uint32_t)j;
            int32_t d = r->dep[0];
            j = d >= 0 && !im->rows[d].inst ? d : -1;
        }
        if (j >= 0 && im->rows[j].mark == 1) {
            for (size_t k = 0; k < np; k++) {
                s_row_t *r = &im->rows[path[k]];
                if (path[k] == (uint32_t)j)
                    j = -1; /* from here on the path is the cycle */
                if (j < 0)
                    s_reject(im, r, r->refcol[0],
                             "referred_by leads back to this customer (a cycle)");
            }
        }
        while (np > 0) {
            uint32_t k = path[--np];
            im->rows[k].mark = 2;
            s_order_add(im, k);
        }
    }
    free(path);
    return 0;
}

/* A row of a block, as s_order sorts them. */
typedef struct {
    int64_t at;   /* the row's time */
    uint32_t row; /* its index */
    bool late;    /* it belongs to a complaint: after the complaint at the same time */
} s_place_t;

static int
s_place_cmp(const void *a, const void *b)
{
    const s_place_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    if (x->late != y->late)
        return x->late ? 1 : -1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* The write order: the customers (referrer first), then the vehicles and
 * events by customer in that order, block by block, and by time within a
 * block; block 0, first, holds the rows of customers already in the store,
 * and a row that belongs to a complaint of a later block goes in that one.
 * New records get their ids in this order, so that the new ids, and the
 * timeline keys (customer | at | id) of new customers, come after every key
 * written before them: LMDB appends them instead of inserting. */
static int
s_order(s_imp_t *im)
{
    uint32_t ncust = 0;
    while (ncust < im->nrows && im->rows[ncust].file == S_CUST)
        ncust++;
    uint32_t nother = (uint32_t)im->nrows - ncust;
    im->order = malloc((im->nrows + 1) * sizeof *im->order);
    uint32_t *start = calloc((size_t)ncust + 2, sizeof *start);
    uint32_t *blk =
        calloc(im->nrows + 1, sizeof *blk); /* each row's block, 0 until set */
    s_place_t *pl = malloc(((size_t)nother + 1) * sizeof *pl);
    int rc = JP_ENOMEM;
    if (!im->order || !start || !blk || !pl)
        goto done;
    if ((rc = s_order_customers(im, 0, ncust)))
        goto done;
    uint32_t nblk = (uint32_t)im->norder + 1;
    for (uint32_t b = 1; b < nblk; b++)
        blk[im->order[b - 1]] = b;

    /* Each row's block, complaints' before what belongs to them; then the
     * rows bucketed by block (start[b] .. start[b + 1]) and sorted. */
    for (int late = 0; late < 2; late++) {
        for (uint32_t i = ncust; i < im->nrows; i++) {
            const s_row_t *r = &im->rows[i];
            if ((r->reffid[1] == JP_F_COMPLAINT) != late)
                continue;
            int32_t c = r->dep[0], k = late ? r->dep[1] : -1;
            blk[i] = c >= 0 ? blk[c] : 0;
            if (k >= 0 && blk[k] > blk[i])
                blk[i] = blk[k];
            start[blk[i] + 1]++;
        }
    }
    for (uint32_t b = 1; b <= nblk; b++)
        start[b] += start[b - 1];
    for (uint32_t i = ncust; i < im->nrows; i++) {
        const s_row_t *r = &im->rows[i];
        pl[start[blk[i]]++] = (s_place_t){r->at, i, r->reffid[1] == JP_F_COMPLAINT};
    }
    /* start[b] is now where block b + 1 begins. */
    for (uint32_t b = 0, from = 0; b < nblk; from = start[b++]) {
        qsort(pl + from, start[b] - from, sizeof *pl, s_place_cmp);
        for (uint32_t k = from; k < start[b]; k++)
            s_order_add(im, pl[k].row);
    }
    for (size_t o = 0; o < im->norder; o++) {
        s_row_t *r = &im->rows[im->order[o]];
        if (r->key && !r->inst)
            r->id = jp_db_new_id(im->db);
    }
    rc = 0;
done:
    free(start);
    free(blk);
    free(pl);
    return rc;
}

/* With partial: refuse the rows that refer to a refused row of this import
 * (in write order, so that refusals travel along chains). */
static void
s_cascade(s_imp_t *im)
{
    char q[S_QUOTE_MAX + 4];
    for (size_t o = 0; o < im->norder; o++) {
        s_row_t *r = &im->rows[im->order[o]];
        for (int slot = 0; slot < 2 && r->act != S_BAD; slot++) {
            int32_t d = r->dep[slot];
            if (d < 0 || im->rows[d].act != S_BAD || im->rows[d].inst)
                continue;
            const s_row_t *t = &im->rows[d];
            unsigned fid = r->reffid[slot];
            const char *w = fid == JP_F_REFERRED_BY ? "referring customer"
                            : fid == JP_F_COMPLAINT ? "complaint"
                            : fid == JP_F_REFERRED  ? "referred customer"
                                                    : "customer";
            s_reject(im, r, r->refcol[slot], "%s '%s' (%s:%u) was rejected", w,
                     s_quote(t->key, t->keyn, q), im->files[t->file].name, t->line);
        }
    }
}

static int
s_rep_cmp(const void *a, const void *b)
{
    const s_rep_t *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Phase 1 after parsing: ids, references, the store, the order. */
static int
s_plan(s_imp_t *im)
{
    int rc;
    /* Rows already in the store get their ids here, new ones in s_order. */
    for (size_t i = 0; i < im->nrows; i++) {
        s_row_t *r = &im->rows[i];
        if (!r->key)
            continue;
        rc = jp_txn_find_ext(im->rtxn, im->store, s_file_ext[r->file], r->key, r->keyn,
                             &r->id);
        if (rc == 0)
            r->inst = true;
        else if (rc != JP_ENOTFOUND)
            return rc;
    }
    for (size_t i = 0; i < im->nrows && !im->fatal; i++)
        if (im->rows[i].act != S_BAD)
            s_resolve(im, &im->rows[i]);
    for (size_t i = 0; i < im->nrows && !im->fatal; i++) {
        s_row_t *r = &im->rows[i];
        if (r->act == S_BAD)
            continue;
        if (r->inst && (rc = jp_txn_get(im->rtxn, &r->id, &im->rec)))
            return rc;
        if (r->file == S_CUST && !r->phone && s_owner_phone(im, r))
            continue;
        if (r->inst)
            s_compare(im, r);
    }
    if (im->fatal)
        return im->fatal;

    if ((rc = s_order(im)))
        return rc;
    if (im->opts->partial)
        s_cascade(im);
    return im->fatal;
}

/* ---- phase 2 ---------------------------------------------------------------------- */

static void
s_build(s_imp_t *im, const s_row_t *r)
{
    jp_change_t *ch = &im->ch;
    const char *author = im->opts->author ? im->opts->author : "import";
    ch->nfields = 0;
    ch->id = r->id;
    ch->kind = r->kind;
    ch->author = author;
    ch->author_len = (uint32_t)strlen(author);
    for (uint32_t i = r->f0; i < r->f0 + r->nf; i++) {
        const s_fv_t *f = &im->fv[i];
        switch (f->type) {
        case JP_T_STR:
            jp_change_set_str(ch, f->fid, f->u.p, f->n);
            break;
        case JP_T_REF:
            jp_change_set_ref(ch, f->fid, f->u.ref);
            break;
        default:
            jp_change_set_int(ch, f->fid, f->u.i);
            break;
        }
    }
}

/* Another writer (an import, an edit, a sync) may have committed since
 * phase 1 read the store: then a row judged new may have been created by
 * it.  Such a row stops the import before its transaction commits, so
 * that no record is written twice; what was committed before is whole
 * transactions, which the same import run again finds unchanged. */
static int
s_still_new(s_imp_t *im, jp_txn_t *txn, const s_row_t *r, jp_err_t *err)
{
    char q[S_QUOTE_MAX + 4];
    jp_id_t other;
    if (r->act != S_NEW || !r->key)
        return 0;
    int rc =
        jp_txn_find_ext(txn, im->store, s_file_ext[r->file], r->key, r->keyn, &other);
    if (rc == JP_ENOTFOUND)
        return 0;
    if (rc)
        return jp_err_set(err, rc, "%s:%u: %s: could not look it up again: %s",
                          im->files[r->file].name, r->line,
                          r->file == S_VEH ? "vin" : "ext_id", jp_strerror(rc));
    return jp_err_set(err, JP_EEXIST,
                      "%s:%u: %s '%s' was written to the store by another writer (a "
                      "second import?) after this import checked the files; stopped "
                      "before writing it twice.  Run the same import again when the "
                      "other has finished: it writes only what is missing",
                      im->files[r->file].name, r->line,
                      r->file == S_VEH ? "vin" : "ext_id", s_quote(r->key, r->keyn, q));
}

static int
s_write(s_imp_t *im, jp_import_stats_t *st, jp_err_t *err)
{
    jp_txn_t *txn = NULL;
    jp_err_t werr = {0, ""};
    size_t intxn = 0, pending[2] = {0, 0}; /* created, updated in the open txn */
    size_t txn_rows = im->opts->txn_rows ? im->opts->txn_rows : JP_IMPORT_TXN_ROWS;
    uint64_t expect = im->snap + 1; /* the next write's number if no one else wrote */
    bool recheck = false;
    int rc = 0;
    for (size_t o = 0; o < im->norder; o++) {
        const s_row_t *r = &im->rows[im->order[o]];
        if (r->act != S_NEW && r->act != S_UPDATE) {
            if (r->act == S_SAME)
                st->unchanged++;
            continue;
        }
        if (!txn) {
            if ((rc = jp_db_begin(im->db, true, &txn, err)))
                goto fail;
            recheck = recheck || jp_txn_number(txn) != expect;
        }
        if (recheck && (rc = s_still_new(im, txn, r, err)))
            goto fail;
        s_build(im, r);
        rc = jp_txn_write(txn, &im->ch, &werr);
        if (rc == JP_EDUP) {
            st->unchanged++; /* changed back by someone else since phase 1 */
            continue;
        }
        if (rc) {
            rc = jp_err_set(err, rc, "%s:%u: not written: %s", im->files[r->file].name,
                            r->line, werr.msg);
            goto fail;
        }
        pending[r->act == S_NEW ? 0 : 1]++;
        if (++intxn == txn_rows) {
            if ((rc = jp_txn_commit(&txn, err)))
                goto fail;
            st->txns++;
            st->created += pending[0];
            st->updated += pending[1];
            pending[0] = pending[1] = 0;
            intxn = 0;
            expect++;
        }
    }
    if (txn) {
        if ((rc = jp_txn_commit(&txn, err)))
            goto fail;
        st->txns++;
        st->created += pending[0];
        st->updated += pending[1];
    }
    return 0;
fail:
    jp_txn_abort(&txn);
    return rc;
}

/* ---- the import ----------------------------------------------------------------------
 */

static double
s_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
s_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void
s_free(s_imp_t *im)
{
    jp_txn_abort(&im->rtxn);
    while (im->arena) {
        s_block_t *b = im->arena;
        im->arena = b->next;
        munmap(b, b->mapped);
    }
    for (int i = 0; i < S_NFILES; i++)
        free(im->map[i].slot);
    s_unmap(im->rows, im->caprows, sizeof *im->rows);
    s_unmap(im->fv, im->capfv, sizeof *im->fv);
    free(im->rep);
    free(im->order);
    free(im->cell);
    free(im);
}

int
jp_import(jp_db_t *db, const jp_import_opts_t *opts, jp_import_stats_t *stats,
          jp_err_t *err)
{
    assert(db && opts);
    jp_import_stats_t st;
    memset(&st, 0, sizeof st);
    jp_err_clear(err);
    const char *paths[S_NFILES] = {opts->customers, opts->vehicles, opts->events};
    const char *bufs[S_NFILES] = {NULL, NULL, NULL}; /* the files, mapped */
    size_t lens[S_NFILES] = {0, 0, 0};               /* their bytes */
    static const char *const names[S_NFILES] = {"customers.csv", "vehicles.csv",
                                                "events.csv"};
    int rc;
    const char *author = opts->author ? opts->author : "import", *why;
    /* Every change carries the author: refused here, before any file is
     * read, rather than by the first write. */
    if (strlen(author) > JP_MAX_AUTHOR)
        return jp_err_set(err, JP_ETOOBIG,
                          "import: the user name is %zu bytes, at most %d; nothing "
                          "imported",
                          strlen(author), JP_MAX_AUTHOR);
    if (jp_text_check(author, strlen(author), false, &why))
        return jp_err_set(err, JP_EINVAL, "import: the user name %s; nothing imported",
                          why);
    s_imp_t *im = calloc(1, sizeof *im);
    if (!im)
        return jp_err_set(err, JP_ENOMEM, "import: out of memory");
    im->db = db;
    im->opts = opts;
    for (int i = 0; i < S_NFILES; i++) {
        s_file_t *f = &im->files[i];
        f->name = paths[i] ? s_basename(paths[i]) : names[i];
        f->cols = s_cols[i];
        f->kindcell = -1;
        memset(f->cellof, -1, sizeof f->cellof);
        memset(f->colof, -1, sizeof f->colof);
    }
    why = NULL;
    if (jp_parse_instant("1990-01-01", 10, &im->t_min, &why)) {
        rc = jp_err_set(err, JP_EINVAL, "import: %s", why);
        goto done;
    }
    im->t_max = (int64_t)jp_now_ms() + S_DAY_MS;

    if ((rc = jp_db_begin(db, false, &im->rtxn, err)))
        goto done;
    im->snap = jp_txn_number(im->rtxn);
    jp_node_t node;
    if ((rc = jp_txn_node_get(im->rtxn, &node))) {
        rc = jp_err_set(err, rc,
                        "import: this store is not initialised (no node identity)");
        goto done;
    }
    im->store = node.store;
    double t0 = s_secs();

    /* Phase 1: customers first, so that vehicles and events can name them.
     * Rows and fields get their room at once: a row per line at most, a
     * field per known column at most. */
    size_t maxrows = 0, maxfields = 0;
    for (int i = 0; i < S_NFILES; i++) {
        if (!paths[i])
            continue;
        static const char *const what[S_NFILES] = {"--customers", "--vehicles",
                                                   "--events"};
        if ((rc = s_map_file(paths[i], what[i], &bufs[i], &lens[i], err)))
            goto done;
        size_t lines = s_lines(bufs[i], lens[i]), ncols = 0;
        while (s_cols[i][ncols].name)
            ncols++;
        maxrows += lines;
        maxfields += lines * ncols;
        /* the cells' text and a NUL each, or a report line */
        im->block += lens[i] + lines * (ncols + 64);
        if (s_map_reserve(&im->map[i], lines)) {
            rc = jp_err_set(err, JP_ENOMEM, "import: out of memory");
            goto done;
        }
    }
    if (s_mgrow((void **)&im->rows, &im->caprows, maxrows, sizeof *im->rows) ||
        s_mgrow((void **)&im->fv, &im->capfv, maxfields, sizeof *im->fv)) {
        rc = jp_err_set(err, JP_ENOMEM, "import: out of memory");
        goto done;
    }
    for (int i = 0; i < S_NFILES && !im->fatal; i++) {
        if (paths[i])
            s_parse_file(im, i, bufs[i], lens[i]);
        if (bufs[i])
            munmap((void *)bufs[i], lens[i]);
        bufs[i] = NULL;
    }
    if (!im->fatal && (rc = s_plan(im)) && !im->fatal)
        im->fatal = rc;
    jp_txn_abort(&im->rtxn);
    st.read_s = s_secs() - t0;

    size_t rejected = 0;
    for (size_t i = 0; i < im->nrows; i++)
        rejected += im->rows[i].act == S_BAD;
    st.rows = im->nrows;
    st.rejected = rejected;
    if (im->nrep > 0) {
        qsort(im->rep, im->nrep, sizeof *im->rep, s_rep_cmp);
        for (size_t i = 0; opts->report && i < im->nrep; i++)
            fprintf(opts->report, "%s\n", im->rep[i].text);
        if (opts->report)
            fflush(opts->report);
    }
    if (im->fatal == JP_ENOMEM) {
        rc = jp_err_set(err, JP_ENOMEM, "import: out of memory");
        goto done;
    }
    if (im->fatal) {
        rc =
            im->nrep
                ? jp_err_set(err, im->fatal, "%s; nothing imported", im->rep[0].text)
                : jp_err_set(err, im->fatal, "import failed: %s", jp_strerror(im->fatal));
        goto done;
    }
    if (rejected && !opts->partial) {
        rc =
            jp_err_set(err, JP_EINVAL, "%zu row%s rejected; nothing imported (first: %s)",
                       rejected, rejected == 1 ? "" : "s", im->rep[0].text);
        goto done;
    }
    if (opts->dry_run) {
        for (size_t i = 0; i < im->nrows; i++) {
            uint8_t a = im->rows[i].act;
            st.created += a == S_NEW;
            st.updated += a == S_UPDATE;
            st.unchanged += a == S_SAME;
        }
        rc = 0;
    } else {
        t0 = s_secs();
        rc = s_write(im, &st, err);
        st.write_s = s_secs() - t0;
    }
    if (rc == 0 && rejected)
        rc =
            jp_err_set(err, JP_EINVAL, "%zu row%s rejected; the other %zu %s (first: %s)",
                       rejected, rejected == 1 ? "" : "s", im->nrows - rejected,
                       opts->dry_run ? "are good" : "imported", im->rep[0].text);
done:
    for (int i = 0; i < S_NFILES; i++)
        if (bufs[i])
            munmap((void *)bufs[i], lens[i]);
    if (stats)
        *stats = st;
    s_free(im);
    return rc;
}
