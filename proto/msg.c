/*
 * msg.c -- encoder and bounded decoder of the sync protocol messages.
 *
 * One table per message (s_spec) lists its elements: kind, member of
 * jp_msg_t, limit, and name as PROTOCOL.md spells it.  The decoder and the
 * encoder both walk that table, so they cannot disagree with each other, and
 * tests/test_proto.c checks the table against the document.
 *
 * Decoding uses a small msgpack reader of its own rather than msgpack_unpack:
 * a cursor with an end pointer, no allocation, and the lists of changes stay
 * where they are in the frame.  Every length is checked first against its
 * limit (JP_ETOOBIG) and then against the bytes left (JP_ECORRUPT) before a
 * byte of it is read, so a lying header costs nothing.  Encoding uses
 * msgpack-c's packer, which picks the smallest forms, into a jp_buf_t.
 */
#include "msg.h"
#include "codec.h"
#include "validate.h"

#include <msgpack.h>
#include <stdint.h>
#include <string.h>

/* Kinds of element. */
enum { E_UINT = 1, E_INT, E_BOOL, E_STR, E_FIXED, E_IDS, E_CHANGES, E_ENTRIES, E_ARGS };

#define MAX_ELEMS 9 /* elements after the type in the longest message (WELCOME) */

typedef struct {
    uint8_t kind;     /* E_* */
    uint16_t off;     /* offset of the member in jp_msg_t */
    uint32_t size;    /* E_STR, E_IDS: most bytes; E_FIXED: exact bytes */
    const char *name; /* as PROTOCOL.md spells it; NULL ends the list */
    uint32_t rec;     /* E_IDS: the bytes of one record (a bin of whole ones) */
} elem_t;

typedef struct {
    const char *name;    /* "HELLO" */
    elem_t e[MAX_ELEMS]; /* elements after the type, in wire order */
} spec_t;

/* clang-format off */
#define F(kind, member, size, name) {kind, offsetof(jp_msg_t, member), size, name, 0}
#define R(member, rec, max, name) {E_IDS, offsetof(jp_msg_t, member), (max) * (rec), name, rec}
/* clang-format on */
#define U(member, name) F(E_UINT, member, 0, name)
#define S(member, max, name) F(E_STR, member, max, name)
#define H(member, len, name) F(E_FIXED, member, len, name)
#define I(member, name) R(member, 16u, JP_MSG_MAX_IDS, name)

static const spec_t s_tab_hello = {
    "HELLO",
    {U(hello.min_version, "min_version"), U(hello.max_version, "max_version"),
     U(hello.store, "store"), S(hello.agent, JP_MSG_MAX_TEXT, "agent")}};
static const spec_t s_tab_welcome = {
    "WELCOME",
    {U(welcome.version, "version"), H(welcome.server_pub, JP_PUB_LEN, "server_pub"),
     U(welcome.acked_seq, "acked_seq"), H(welcome.acked_head, JP_HASH_LEN, "acked_head"),
     U(welcome.group_pos, "group_pos"), U(welcome.server_ms, "server_ms"),
     U(welcome.credit, "credit"), U(welcome.max_batch, "max_batch"),
     U(welcome.term, "term")}};
static const spec_t s_tab_push = {
    "PUSH",
    {U(push.batch, "batch"), U(push.store, "store"), U(push.first_seq, "first_seq"),
     U(push.last_seq, "last_seq"), F(E_CHANGES, push.changes, 0, "changes"),
     H(push.sig, JP_SIG_LEN, "sig")}};
static const spec_t s_tab_receipt = {
    "RECEIPT",
    {U(receipt.batch, "batch"), U(receipt.store, "store"), U(receipt.seq, "seq"),
     H(receipt.head, JP_HASH_LEN, "head"), U(receipt.server_ms, "server_ms"),
     H(receipt.sig, JP_SIG_LEN, "sig")}};
static const spec_t s_tab_pull = {"PULL",
                                  {U(pull.after_pos, "after_pos"),
                                   U(pull.credit, "credit"),
                                   F(E_BOOL, pull.own, 0, "own")}};
static const spec_t s_tab_changes = {
    "CHANGES",
    {U(changes.from_pos, "from_pos"), U(changes.to_pos, "to_pos"),
     F(E_ENTRIES, changes.entries, 0, "entries"), F(E_BOOL, changes.more, 0, "more"),
     U(changes.view_count, "view_count"), H(changes.view_hash, JP_HASH_LEN, "view_hash"),
     H(changes.sig, JP_SIG_LEN, "sig")}};
static const spec_t s_tab_view = {"VIEW", {H(view.after, 16, "after")}};
static const spec_t s_tab_viewids = {
    "VIEWIDS",
    {H(viewids.after, 16, "after"), I(viewids.ids, "ids"),
     F(E_BOOL, viewids.more, 0, "more"), U(viewids.view_pos, "view_pos"),
     H(viewids.sig, JP_SIG_LEN, "sig")}};
static const spec_t s_tab_fetch = {"FETCH", {I(fetch.ids, "ids")}};
static const spec_t s_tab_records = {"RECORDS",
                                     {F(E_ENTRIES, records.entries, 0, "entries"),
                                      F(E_BOOL, records.more, 0, "more"),
                                      H(records.sig, JP_SIG_LEN, "sig")}};
static const spec_t s_tab_return = {
    "RETURN", {F(E_CHANGES, ret.changes, 0, "changes"), F(E_BOOL, ret.done, 0, "done")}};
static const spec_t s_tab_returned = {
    "RETURNED",
    {U(returned.own_seq, "own_seq"), F(E_BOOL, returned.recovering, 0, "recovering")}};
static const spec_t s_tab_sigs = {
    "SIGNED",
    {R(sigs.batches, JP_MSG_SIGNED_BATCH, JP_MSG_MAX_CHANGES, "batches"),
     R(sigs.receipts, JP_MSG_SIGNED_RECEIPT, JP_MSG_MAX_CHANGES, "receipts")}};
static const spec_t s_tab_credit = {"CREDIT", {U(credit.credit, "credit")}};
static const spec_t s_tab_ping = {"PING", {U(ping.ms, "ms")}};
static const spec_t s_tab_pong = {"PONG", {U(pong.ms, "ms")}};
static const spec_t s_tab_query = {"QUERY",
                                   {U(query.id, "id"),
                                    S(query.what, JP_MSG_MAX_TEXT, "what"),
                                    F(E_ARGS, query.args, 0, "args")}};
static const spec_t s_tab_answer = {
    "ANSWER", {U(answer.id, "id"), S(answer.body, JP_MSG_MAX_FRAME, "body")}};
static const spec_t s_tab_bye = {"BYE", {S(bye.reason, JP_MSG_MAX_TEXT, "reason")}};
static const spec_t s_tab_error = {"ERROR",
                                   {F(E_INT, error.code, 0, "code"), U(error.ref, "ref"),
                                    S(error.message, JP_MSG_MAX_TEXT, "message")}};

#undef F
#undef U
#undef S
#undef H
#undef I
#undef R

_Static_assert(JP_MSG_MAX_CHANGES <= UINT32_MAX, "list counts are uint32_t");
_Static_assert(JP_MSG_MAX_CHANGE == JP_MAX_CHANGE, "one change limit, in codec.h too");

/* The table of each type, NULL for the types the protocol does not have. */
static const spec_t *const s_specs[128] = {
    [JP_MSG_HELLO] = &s_tab_hello,     [JP_MSG_WELCOME] = &s_tab_welcome,
    [JP_MSG_PUSH] = &s_tab_push,       [JP_MSG_RECEIPT] = &s_tab_receipt,
    [JP_MSG_PULL] = &s_tab_pull,       [JP_MSG_CHANGES] = &s_tab_changes,
    [JP_MSG_CREDIT] = &s_tab_credit,   [JP_MSG_VIEW] = &s_tab_view,
    [JP_MSG_VIEWIDS] = &s_tab_viewids, [JP_MSG_FETCH] = &s_tab_fetch,
    [JP_MSG_RECORDS] = &s_tab_records, [JP_MSG_RETURN] = &s_tab_return,
    [JP_MSG_RETURNED] = &s_tab_returned, [JP_MSG_SIGNED] = &s_tab_sigs,
    [JP_MSG_PING] = &s_tab_ping,
    [JP_MSG_PONG] = &s_tab_pong,       [JP_MSG_QUERY] = &s_tab_query,
    [JP_MSG_ANSWER] = &s_tab_answer,   [JP_MSG_BYE] = &s_tab_bye,
    [JP_MSG_ERROR] = &s_tab_error,
};

static const spec_t *
s_spec(int type)
{
    return type >= 0 && type < 128 ? s_specs[type] : NULL;
}

static unsigned
s_nelem(const spec_t *s)
{
    unsigned n = 0;
    while (n < MAX_ELEMS && s->e[n].name)
        n++;
    return n;
}

const char *
jp_msg_type_name(int type)
{
    const spec_t *s = s_spec(type);
    return s ? s->name : NULL;
}

unsigned
jp_msg_elements(int type)
{
    const spec_t *s = s_spec(type);
    return s ? s_nelem(s) : 0;
}

const char *
jp_msg_element_name(int type, unsigned i)
{
    const spec_t *s = s_spec(type);
    return s && i < s_nelem(s) ? s->e[i].name : NULL;
}

/* The names column of section 4. */
static const char *const s_perr_names[] = {
    [JP_PERR_INTERNAL] = "internal",
    [JP_PERR_MALFORMED] = "malformed",
    [JP_PERR_UNKNOWN] = "unknown message",
    [JP_PERR_VERSION] = "version",
    [JP_PERR_NO_HELLO] = "no hello",
    [JP_PERR_IDENTITY] = "identity",
    [JP_PERR_CHAIN] = "chain",
    [JP_PERR_SIGNATURE] = "signature",
    [JP_PERR_FUTURE] = "future",
    [JP_PERR_FORBIDDEN] = "forbidden",
    [JP_PERR_REVOKED] = "revoked",
    [JP_PERR_BUSY] = "busy",
    [JP_PERR_FULL] = "full",
};

const char *
jp_perr_name(int code)
{
    if (code < 0 || (size_t)code >= sizeof s_perr_names / sizeof s_perr_names[0])
        return NULL;
    return s_perr_names[code];
}

int
jp_msg_perr(int rc)
{
    switch (rc) {
    case JP_ECORRUPT:
    case JP_ETOOBIG:
        return JP_PERR_MALFORMED;
    case JP_EVERSION:
        return JP_PERR_UNKNOWN;
    default:
        return JP_PERR_INTERNAL;
    }
}

/* ---- Reading ---------------------------------------------------------- */

/* A bounded msgpack reader. */
typedef struct {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last byte that may be read */
    jp_err_t *err;      /* where a failure is told, or NULL */
    const char *msg;    /* message being read, for err */
    const char *what;   /* element being read, for err */
} cur_t;

static int
s_fail(const cur_t *c, int code, const char *why)
{
    return jp_err_set(c->err, code, "%s %s: %s", c->msg, c->what, why);
}

static size_t
s_left(const cur_t *c)
{
    return (size_t)(c->end - c->p);
}

static int
s_tag(cur_t *c, uint8_t *t)
{
    if (c->p >= c->end)
        return s_fail(c, JP_ECORRUPT, "truncated");
    *t = *c->p++;
    return 0;
}

/* A big-endian unsigned of w bytes. */
static int
s_be(cur_t *c, unsigned w, uint64_t *v)
{
    if (s_left(c) < w)
        return s_fail(c, JP_ECORRUPT, "truncated");
    uint64_t x = 0;
    for (unsigned i = 0; i < w; i++)
        x = x << 8 | *c->p++;
    *v = x;
    return 0;
}

static int
s_uint(cur_t *c, uint64_t *v)
{
    uint8_t t = 0;
    int rc = s_tag(c, &t);
    if (rc)
        return rc;
    if (t <= 0x7f) {
        *v = t;
        return 0;
    }
    if (t >= 0xcc && t <= 0xcf)
        return s_be(c, 1u << (t - 0xcc), v);
    return s_fail(c, JP_ECORRUPT, "not a uint");
}

/* Any integer form (msgpack-c writes a positive int64 as a uint). */
static int
s_int(cur_t *c, int64_t *v)
{
    uint8_t t = 0;
    uint64_t u = 0;
    int rc = s_tag(c, &t);
    if (rc)
        return rc;
    if (t <= 0x7f || t >= 0xe0) {
        *v = (int8_t)t;
        return 0;
    }
    if (t >= 0xcc && t <= 0xcf) {
        if ((rc = s_be(c, 1u << (t - 0xcc), &u)))
            return rc;
        if (u > INT64_MAX)
            return s_fail(c, JP_ECORRUPT, "int out of range");
        *v = (int64_t)u;
        return 0;
    }
    if (t >= 0xd0 && t <= 0xd3) {
        unsigned bits = 8u << (t - 0xd0);
        if ((rc = s_be(c, bits / 8, &u)))
            return rc;
        if (bits < 64 && (u >> (bits - 1)))
            u |= ~0ull << bits; /* sign-extend */
        memcpy(v, &u, sizeof u);
        return 0;
    }
    return s_fail(c, JP_ECORRUPT, "not an int");
}

static int
s_bool(cur_t *c, bool *v)
{
    uint8_t t = 0;
    int rc = s_tag(c, &t);
    if (rc)
        return rc;
    if (t != 0xc2 && t != 0xc3)
        return s_fail(c, JP_ECORRUPT, "not a bool");
    *v = t == 0xc3;
    return 0;
}

/* A str (is_str) or bin of at most max bytes; *p borrows from the input. */
static int
s_raw(cur_t *c, bool is_str, size_t max, const uint8_t **p, size_t *n)
{
    uint8_t t = 0;
    uint64_t len = 0;
    int rc = s_tag(c, &t);
    if (rc)
        return rc;
    if (is_str && t >= 0xa0 && t <= 0xbf)
        len = t & 0x1f;
    else if (is_str && t >= 0xd9 && t <= 0xdb)
        rc = s_be(c, 1u << (t - 0xd9), &len);
    else if (!is_str && t >= 0xc4 && t <= 0xc6)
        rc = s_be(c, 1u << (t - 0xc4), &len);
    else
        return s_fail(c, JP_ECORRUPT, is_str ? "not a str" : "not a bin");
    if (rc)
        return rc;
    if (len > max)
        return s_fail(c, JP_ETOOBIG, "longer than its limit");
    if (len > s_left(c))
        return s_fail(c, JP_ECORRUPT, "truncated");
    *p = c->p;
    *n = (size_t)len;
    c->p += len;
    return 0;
}

static int
s_str(cur_t *c, size_t max, jp_msg_str_t *s)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    int rc = s_raw(c, true, max, &p, &n);
    if (rc)
        return rc;
    if (!jp_utf8_valid((const char *)p, n))
        return s_fail(c, JP_ECORRUPT, "not UTF-8");
    s->p = (const char *)p;
    s->n = n;
    return 0;
}

/* An array (or a map) header: its count, at most max. */
static int
s_hdr(cur_t *c, bool is_map, uint32_t max, uint32_t *n)
{
    uint8_t t = 0;
    uint64_t len = 0;
    int rc = s_tag(c, &t);
    if (rc)
        return rc;
    if ((t & 0xf0) == (is_map ? 0x80 : 0x90))
        len = t & 0x0f;
    else if (t == (is_map ? 0xde : 0xdc))
        rc = s_be(c, 2, &len);
    else if (t == (is_map ? 0xdf : 0xdd))
        rc = s_be(c, 4, &len);
    else
        return s_fail(c, JP_ECORRUPT, is_map ? "not a map" : "not an array");
    if (rc)
        return rc;
    if (len > max)
        return s_fail(c, JP_ETOOBIG, "more elements than its limit");
    /* every element takes at least one byte: a cheap check before looping */
    if (len > s_left(c))
        return s_fail(c, JP_ECORRUPT, "truncated");
    *n = (uint32_t)len;
    return 0;
}

/* One element of a PUSH list: a change. */
static int
s_change(cur_t *c, const uint8_t **p, size_t *n)
{
    return s_raw(c, false, JP_MSG_MAX_CHANGE, p, n);
}

/* One element of a CHANGES or RECORDS list: [store, pos, change]. */
static int
s_entry(cur_t *c, uint64_t *store, uint64_t *pos, const uint8_t **p, size_t *n)
{
    uint32_t k = 0;
    int rc = s_hdr(c, false, UINT32_MAX, &k);
    if (rc)
        return rc;
    if (k != 3)
        return s_fail(c, JP_ECORRUPT, "entry is not [store, pos, change]");
    if ((rc = s_uint(c, store)) || (rc = s_uint(c, pos)))
        return rc;
    if (*store > UINT16_MAX)
        return s_fail(c, JP_ECORRUPT, "entry store above 65,535");
    return s_change(c, p, n);
}

/* A list of changes or entries: check every element, keep the bytes. */
static int
s_list(cur_t *c, int kind, jp_msg_list_t *l)
{
    uint32_t n = 0;
    int rc = s_hdr(c, false, JP_MSG_MAX_CHANGES, &n);
    if (rc)
        return rc;
    l->p = c->p;
    for (uint32_t i = 0; i < n && !rc; i++) {
        const uint8_t *p;
        size_t len;
        uint64_t store, pos;
        rc = kind == E_CHANGES ? s_change(c, &p, &len)
                               : s_entry(c, &store, &pos, &p, &len);
    }
    l->len = (size_t)(c->p - l->p);
    l->count = n;
    return rc;
}

static bool
s_str_eq(const jp_msg_str_t *a, const jp_msg_str_t *b)
{
    return a->n == b->n && (a->n == 0 || memcmp(a->p, b->p, a->n) == 0);
}

static int
s_args(cur_t *c, jp_msg_args_t *a)
{
    uint32_t n = 0;
    int rc = s_hdr(c, true, JP_MSG_MAX_ARGS, &n);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < n; i++) {
        if ((rc = s_str(c, JP_MSG_MAX_TEXT, &a->v[i].key)) ||
            (rc = s_str(c, JP_MSG_MAX_TEXT, &a->v[i].val)))
            return rc;
        for (uint32_t j = 0; j < i; j++)
            if (s_str_eq(&a->v[i].key, &a->v[j].key))
                return s_fail(c, JP_ECORRUPT, "repeated key");
    }
    a->n = n;
    return 0;
}

static int
s_get(cur_t *c, const elem_t *e, jp_msg_t *m)
{
    void *f = (char *)m + e->off;
    const uint8_t *p = NULL;
    size_t n = 0;
    int rc;
    switch (e->kind) {
    case E_UINT:
        return s_uint(c, f);
    case E_INT:
        return s_int(c, f);
    case E_BOOL:
        return s_bool(c, f);
    case E_STR:
        return s_str(c, e->size, f);
    case E_FIXED:
        /* any length is read as "wrong size", never as too big */
        if ((rc = s_raw(c, false, SIZE_MAX, &p, &n)))
            return rc;
        if (n != e->size)
            return s_fail(c, JP_ECORRUPT, "wrong length");
        memcpy(f, p, n);
        return 0;
    case E_IDS:
        if ((rc = s_raw(c, false, e->size, &p, &n)))
            return rc;
        if (n % e->rec)
            return s_fail(c, JP_ECORRUPT,
                          e->rec == 16 ? "not a whole number of 16-byte ids"
                                       : "not a whole number of records");
        *(jp_msg_str_t *)f = (jp_msg_str_t){(const char *)p, n};
        return 0;
    case E_CHANGES:
    case E_ENTRIES:
        return s_list(c, e->kind, f);
    case E_ARGS:
        return s_args(c, f);
    }
    return s_fail(c, JP_ECORRUPT, "unknown element kind");
}

int
jp_msg_decode(const uint8_t *p, size_t n, jp_msg_t *out, jp_err_t *err)
{
    cur_t c = {p, p, err, "message", "frame"};
    const spec_t *s;
    uint32_t count = 0;
    uint8_t t = 0;
    int rc;

    memset(out, 0, sizeof *out);
    jp_err_clear(err);
    if (n == 0)
        return s_fail(&c, JP_ECORRUPT, "empty");
    if (n > JP_MSG_MAX_FRAME)
        return s_fail(&c, JP_ETOOBIG, "frame over 4 MiB");
    c.end = p + n;
    if ((rc = s_hdr(&c, false, UINT32_MAX, &count)))
        return rc;
    if (count == 0)
        return s_fail(&c, JP_ECORRUPT, "empty array");
    c.what = "type";
    if ((rc = s_tag(&c, &t)))
        return rc;
    if (t > 0x7f)
        return s_fail(&c, JP_ECORRUPT, "not a positive fixint");
    if (!(s = s_spec(t))) {
        out->type = t;
        return jp_err_set(err, JP_EVERSION, "unknown message type %u", t);
    }
    c.msg = s->name;
    unsigned ne = s_nelem(s);
    if (count != 1 + ne) {
        jp_err_set(err, JP_ECORRUPT, "%s: %u elements, expected %u", s->name,
                   (unsigned)count, 1 + ne);
        rc = JP_ECORRUPT;
        goto fail;
    }
    for (unsigned i = 0; i < ne; i++) {
        c.what = s->e[i].name;
        if ((rc = s_get(&c, &s->e[i], out)))
            goto fail;
    }
    if (c.p != c.end) {
        rc = jp_err_set(err, JP_ECORRUPT, "%s: trailing bytes after the array", s->name);
        goto fail;
    }
    out->type = t;
    return 0;
fail:
    memset(out, 0, sizeof *out);
    out->type = t;
    return rc;
}

/* ---- Lists ------------------------------------------------------------- */

void
jp_msg_iter_init(jp_msg_iter_t *it, const jp_msg_list_t *list)
{
    it->p = list->p;
    it->end = list->p ? list->p + list->len : NULL;
    it->left = list->count;
}

int
jp_msg_next_change(jp_msg_iter_t *it, const uint8_t **p, size_t *n)
{
    if (it->left == 0)
        return it->p == it->end ? 0 : JP_ECORRUPT;
    cur_t c = {it->p, it->end, NULL, "PUSH", "changes"};
    int rc = s_change(&c, p, n);
    if (rc)
        return rc;
    it->p = c.p;
    it->left--;
    return 1;
}

int
jp_msg_next_entry(jp_msg_iter_t *it, uint64_t *store, uint64_t *pos, const uint8_t **p,
                  size_t *n)
{
    if (it->left == 0)
        return it->p == it->end ? 0 : JP_ECORRUPT;
    cur_t c = {it->p, it->end, NULL, "CHANGES", "entries"};
    int rc = s_entry(&c, store, pos, p, n);
    if (rc)
        return rc;
    it->p = c.p;
    it->left--;
    return 1;
}

/* ---- Writing ----------------------------------------------------------- */

/* The packer's sink: appends to a jp_buf_t, remembers the first failure. */
typedef struct {
    jp_buf_t *out; /* where the bytes go */
    int rc;        /* 0, or JP_ENOMEM once an append failed */
} wr_t;

static int
s_write(void *data, const char *buf, size_t len)
{
    wr_t *w = data;
    if (w->rc == 0)
        w->rc = jp_buf_append(w->out, buf, len);
    return w->rc ? -1 : 0;
}

static int
s_check_str(const jp_msg_str_t *s, size_t max)
{
    if (s->n > max)
        return JP_ETOOBIG;
    if (s->n && (!s->p || !jp_utf8_valid(s->p, s->n)))
        return JP_EINVAL;
    return 0;
}

/* A list about to be copied: count within the limit, and exactly count
 * well-formed elements in its bytes. */
static int
s_check_list(int kind, const jp_msg_list_t *l)
{
    if (l->count > JP_MSG_MAX_CHANGES)
        return JP_ETOOBIG;
    if (l->len && !l->p)
        return JP_EINVAL;
    jp_msg_iter_t it;
    const uint8_t *p;
    size_t n;
    uint64_t store, pos;
    int rc;
    jp_msg_iter_init(&it, l);
    do
        rc = kind == E_CHANGES ? jp_msg_next_change(&it, &p, &n)
                               : jp_msg_next_entry(&it, &store, &pos, &p, &n);
    while (rc > 0);
    return rc;
}

static int
s_put(msgpack_packer *pk, const elem_t *e, const jp_msg_t *m)
{
    const void *f = (const char *)m + e->off;
    const jp_msg_str_t *s = f;
    const jp_msg_list_t *l = f;
    const jp_msg_args_t *a = f;
    int rc;
    switch (e->kind) {
    case E_UINT:
        return msgpack_pack_uint64(pk, *(const uint64_t *)f), 0;
    case E_INT:
        return msgpack_pack_int64(pk, *(const int64_t *)f), 0;
    case E_BOOL:
        if (*(const bool *)f)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return 0;
    case E_STR:
        if ((rc = s_check_str(s, e->size)))
            return rc;
        msgpack_pack_str_with_body(pk, s->p, s->n);
        return 0;
    case E_FIXED:
        return msgpack_pack_bin_with_body(pk, f, e->size), 0;
    case E_IDS:
        if (s->n > e->size)
            return JP_ETOOBIG;
        if (s->n % e->rec || (s->n && !s->p))
            return JP_EINVAL;
        msgpack_pack_bin_with_body(pk, s->p, s->n);
        return 0;
    case E_CHANGES:
    case E_ENTRIES:
        if ((rc = s_check_list(e->kind, l)))
            return rc;
        msgpack_pack_array(pk, l->count);
        s_write(pk->data, (const char *)l->p, l->len);
        return 0;
    case E_ARGS:
        if (a->n > JP_MSG_MAX_ARGS)
            return JP_ETOOBIG;
        msgpack_pack_map(pk, a->n);
        for (uint32_t i = 0; i < a->n; i++) {
            for (uint32_t j = 0; j < i; j++)
                if (s_str_eq(&a->v[i].key, &a->v[j].key))
                    return JP_EINVAL;
            if ((rc = s_check_str(&a->v[i].key, JP_MSG_MAX_TEXT)) ||
                (rc = s_check_str(&a->v[i].val, JP_MSG_MAX_TEXT)))
                return rc;
            msgpack_pack_str_with_body(pk, a->v[i].key.p, a->v[i].key.n);
            msgpack_pack_str_with_body(pk, a->v[i].val.p, a->v[i].val.n);
        }
        return 0;
    }
    return JP_EINVAL;
}

/* Elements [from, to) of m's table, then any append failure. */
static int
s_put_range(msgpack_packer *pk, const spec_t *s, const jp_msg_t *m, unsigned from,
            unsigned to)
{
    int rc = 0;
    for (unsigned i = from; i < to && !rc; i++)
        rc = s_put(pk, &s->e[i], m);
    return rc ? rc : ((wr_t *)pk->data)->rc;
}

/* The end of every write: the frame limit, and rollback on failure. */
static int
s_settle(jp_buf_t *out, size_t start, int rc)
{
    if (!rc && out->len - start > JP_MSG_MAX_FRAME)
        rc = JP_ETOOBIG;
    if (rc)
        out->len = start;
    return rc;
}

int
jp_msg_encode(const jp_msg_t *m, jp_buf_t *out)
{
    const spec_t *s = s_spec(m->type);
    if (!s)
        return JP_EINVAL;
    size_t start = out->len;
    unsigned n = s_nelem(s);
    wr_t w = {out, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, s_write);
    msgpack_pack_array(&pk, 1 + n);
    msgpack_pack_uint8(&pk, (uint8_t)m->type);
    return s_settle(out, start, s_put_range(&pk, s, m, 0, n));
}

/* ---- Builders ---------------------------------------------------------- */

static int
s_bfail(jp_msg_builder_t *b, int rc)
{
    rc = s_settle(b->out, b->start, rc);
    b->rc = rc;
    return rc;
}

/* Index of the list element in a PUSH or CHANGES table. */
static unsigned
s_list_index(const spec_t *s)
{
    unsigned i = 0;
    while (s->e[i].kind != E_CHANGES && s->e[i].kind != E_ENTRIES)
        i++;
    return i;
}

int
jp_msg_begin(jp_msg_builder_t *b, jp_buf_t *out, const jp_msg_t *m, uint32_t count)
{
    memset(b, 0, sizeof *b);
    b->out = out;
    b->start = out->len;
    b->type = m->type;
    b->count = count;
    if (m->type != JP_MSG_PUSH && m->type != JP_MSG_RETURN && m->type != JP_MSG_CHANGES &&
        m->type != JP_MSG_RECORDS)
        return s_bfail(b, JP_EINVAL);
    if (count > JP_MSG_MAX_CHANGES)
        return s_bfail(b, JP_ETOOBIG);
    const spec_t *s = s_spec(m->type);
    wr_t w = {out, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, s_write);
    msgpack_pack_array(&pk, 1 + s_nelem(s));
    msgpack_pack_uint8(&pk, (uint8_t)m->type);
    int rc = s_put_range(&pk, s, m, 0, s_list_index(s));
    msgpack_pack_array(&pk, count);
    return s_bfail(b, rc ? rc : w.rc);
}

static int
s_add(jp_msg_builder_t *b, bool entry, uint64_t store, uint64_t pos, const uint8_t *p,
      size_t n)
{
    if (b->rc)
        return b->rc;
    bool bare = b->type == JP_MSG_PUSH || b->type == JP_MSG_RETURN; /* no [store, pos] */
    if (bare == entry || b->added >= b->count || (n && !p))
        return s_bfail(b, JP_EINVAL);
    if (n > JP_MSG_MAX_CHANGE)
        return s_bfail(b, JP_ETOOBIG);
    wr_t w = {b->out, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, s_write);
    if (entry) {
        msgpack_pack_array(&pk, 3);
        msgpack_pack_uint64(&pk, store);
        msgpack_pack_uint64(&pk, pos);
    }
    msgpack_pack_bin_with_body(&pk, p, n);
    b->added++;
    return s_bfail(b, w.rc);
}

int
jp_msg_add_change(jp_msg_builder_t *b, const uint8_t *p, size_t n)
{
    return s_add(b, false, 0, 0, p, n);
}

int
jp_msg_add_entry(jp_msg_builder_t *b, uint64_t store, uint64_t pos, const uint8_t *p,
                 size_t n)
{
    return s_add(b, true, store, pos, p, n);
}

int
jp_msg_end(jp_msg_builder_t *b, const jp_msg_t *m)
{
    if (b->rc)
        return b->rc;
    if (m->type != b->type || b->added != b->count)
        return s_bfail(b, JP_EINVAL);
    const spec_t *s = s_spec(m->type);
    wr_t w = {b->out, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &w, s_write);
    return s_bfail(b, s_put_range(&pk, s, m, s_list_index(s) + 1, s_nelem(s)));
}
