/*
 * test_proto.c -- the message codec against its specification and against
 * hostile bytes.
 *
 * proto/PROTOCOL.md is read at run time: every message row of section 3
 * (type, name, element names and types), every error code of section 4 and
 * every limit of section 6 must match the codec, and the codec may know no
 * message or code the document lacks.  Element types are checked on the
 * bytes themselves with msgpack-c's own unpacker, an implementation
 * independent of ours; every sample is also compared byte for byte with the
 * same message packed by msgpack-c in the test.  Then: round trips, every
 * truncation, oversize lengths, wrong counts and types, trailing bytes,
 * unknown types, seeded random byte flips, and lists of 1,000 changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "id.h"
#include "msg.h"
#include "record.h"
#include "schema.h"

/* ---- The document ------------------------------------------------------ */

#define DOC_MAX 64
#define DOC_ELEMS 9 /* elements after the type in the longest row (WELCOME) */

typedef struct {
    int type;       /* the type column */
    char name[32];  /* the name column */
    unsigned n;     /* elements after the type */
    char el[DOC_ELEMS][32]; /* element names */
    char ty[DOC_ELEMS][64]; /* element types as written ("array of change") */
} doc_msg_t;

typedef struct {
    doc_msg_t msg[DOC_MAX]; /* section 3 rows */
    unsigned nmsg;
    struct {
        int code;      /* the code column */
        char name[64]; /* the name column */
    } err[DOC_MAX];    /* section 4 rows */
    unsigned nerr;
    struct {
        char what[160]; /* first column */
        char limit[64]; /* second column */
    } lim[DOC_MAX];     /* section 6 rows */
    unsigned nlim;
} doc_t;

static doc_t s_doc;

static char *
s_trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Split a table row into at most max trimmed cells; returns the count. */
static unsigned
s_cells(char *line, char **cell, unsigned max)
{
    unsigned n = 0;
    char *p = strchr(line, '|');
    while (p && n < max) {
        char *q = strchr(p + 1, '|');
        if (!q)
            break;
        *q = '\0';
        cell[n++] = s_trim(p + 1);
        p = q;
    }
    return n;
}

/* The `name type` spans of an elements cell. */
static void
s_elements(doc_msg_t *m, const char *cell)
{
    const char *p = cell;
    while ((p = strchr(p, '`'))) {
        const char *q = strchr(p + 1, '`');
        assert_non_null(q);
        char span[128];
        snprintf(span, sizeof span, "%.*s", (int)(q - p - 1), p + 1);
        char *sp = strchr(span, ' ');
        assert_non_null(sp);
        *sp = '\0';
        assert_true(m->n < DOC_ELEMS);
        snprintf(m->el[m->n], sizeof m->el[0], "%.31s", span);
        snprintf(m->ty[m->n], sizeof m->ty[0], "%.63s", sp + 1);
        m->n++;
        p = q + 1;
    }
}

static int
s_read_doc(void **state)
{
    (void)state;
    FILE *f = fopen(JP_SOURCE_DIR "/proto/PROTOCOL.md", "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    int section = 0;
    memset(&s_doc, 0, sizeof s_doc);
    while (getline(&line, &cap, f) > 0) {
        char *cell[8];
        if (strncmp(line, "## ", 3) == 0) {
            section = atoi(line + 3);
            continue;
        }
        if (line[0] != '|')
            continue;
        unsigned nc = s_cells(line, cell, 8);
        if (nc < 2 || cell[0][0] == '-' || strcmp(cell[0], "type") == 0 ||
            strcmp(cell[0], "code") == 0 || strcmp(cell[0], "what") == 0)
            continue;
        if (section == 3 && nc == 4 && s_doc.nmsg < DOC_MAX) {
            doc_msg_t *m = &s_doc.msg[s_doc.nmsg++];
            m->type = atoi(cell[0]);
            snprintf(m->name, sizeof m->name, "%.31s", cell[1]);
            s_elements(m, cell[3]);
        } else if (section == 4 && nc == 4 && s_doc.nerr < DOC_MAX) {
            s_doc.err[s_doc.nerr].code = atoi(cell[0]);
            snprintf(s_doc.err[s_doc.nerr++].name, sizeof s_doc.err[0].name, "%.63s",
                     cell[1]);
        } else if (section == 6 && nc == 2 && s_doc.nlim < DOC_MAX) {
            snprintf(s_doc.lim[s_doc.nlim].what, sizeof s_doc.lim[0].what, "%.159s",
                     cell[0]);
            snprintf(s_doc.lim[s_doc.nlim++].limit, sizeof s_doc.lim[0].limit, "%.63s",
                     cell[1]);
        }
    }
    free(line);
    fclose(f);
    return 0;
}

/* ---- Samples: a message and the bytes msgpack-c packs for it ---------- */

static char s_big[256];      /* 128 x "é": a max-size, multi-byte text */
static char s_keys[16][256]; /* 16 distinct max-size keys */
static char s_body[8192];    /* a larger JSON-ish body */

static void
s_init_texts(void)
{
    for (int i = 0; i < 128; i++)
        memcpy(s_big + 2 * i, "\xc3\xa9", 2);
    for (int k = 0; k < 16; k++) {
        memset(s_keys[k], 'k', sizeof s_keys[k]);
        s_keys[k][255] = (char)('a' + k);
    }
    for (size_t i = 0; i < sizeof s_body; i++)
        s_body[i] = "{\"n\": 12345}"[i % 12];
}

static jp_msg_str_t
s_text(int v, const char *typical)
{
    if (v == 0)
        return (jp_msg_str_t){s_big, sizeof s_big};
    if (v == 1)
        return (jp_msg_str_t){"", 0};
    return (jp_msg_str_t){typical, strlen(typical)};
}

/* Byte j of change i of a sample list. */
static uint8_t
s_cbyte(unsigned i, size_t j)
{
    return (uint8_t)(i * 31 + j * 7 + 1);
}

static const size_t s_clen0[] = {JP_MSG_MAX_CHANGE, 0, 100};
static const size_t s_clen2[] = {10, 20};

static unsigned
s_nchanges(int v, const size_t **lens)
{
    *lens = v == 0 ? s_clen0 : s_clen2;
    return v == 0 ? 3 : v == 1 ? 0 : 2;
}

static uint64_t
s_estore(int v, unsigned i)
{
    return v == 0 ? UINT16_MAX : 3 + i; /* a store number: 16 bits */
}

typedef struct {
    jp_msg_t m;    /* the message */
    jp_buf_t wire; /* its encoding, packed by msgpack-c */
} sample_t;

static int
s_sbuf_write(void *data, const char *buf, size_t len)
{
    return jp_buf_append(data, buf, len) ? -1 : 0;
}

static void
s_pk_str(msgpack_packer *pk, jp_msg_str_t s)
{
    msgpack_pack_str_with_body(pk, s.p, s.n);
}

/* Fill a sample of type t: v 0 = max values, 1 = zeros and empties,
 * 2 = typical, distinct values (so that swapped elements show). */
static void
s_sample(int t, int v, sample_t *s)
{
    jp_msg_t *m = &s->m;
    msgpack_packer pk;
    memset(s, 0, sizeof *s);
    msgpack_packer_init(&pk, &s->wire, s_sbuf_write);
    m->type = t;
#define UV(k) (v == 0 ? UINT64_MAX : v == 1 ? 0 : 1000u + (k))
#define PU(x) msgpack_pack_uint64(&pk, x)
#define PB(p, n) msgpack_pack_bin_with_body(&pk, p, n)
    uint8_t h[JP_SIG_LEN];
    memset(h, v == 0 ? 0xff : v == 1 ? 0 : 0x5a, sizeof h);
    const size_t *lens;
    unsigned nc = s_nchanges(v, &lens);
    msgpack_pack_array(&pk, 1 + jp_msg_elements(t));
    PU((uint64_t)t);
    switch (t) {
    case JP_MSG_HELLO:
        m->hello.min_version = UV(1), m->hello.max_version = UV(2);
        m->hello.store = UV(3), m->hello.agent = s_text(v, "jipan-store 0.1");
        PU(UV(1)), PU(UV(2)), PU(UV(3)), s_pk_str(&pk, m->hello.agent);
        break;
    case JP_MSG_WELCOME:
        m->welcome.version = UV(1), m->welcome.acked_seq = UV(2);
        m->welcome.group_pos = UV(3), m->welcome.server_ms = UV(4);
        m->welcome.credit = UV(5), m->welcome.max_batch = UV(6), m->welcome.term = UV(7);
        memcpy(m->welcome.server_pub, h, 32), memcpy(m->welcome.acked_head, h + 1, 32);
        PU(UV(1)), PB(h, 32), PU(UV(2)), PB(h + 1, 32), PU(UV(3)), PU(UV(4));
        PU(UV(5)), PU(UV(6)), PU(UV(7));
        break;
    case JP_MSG_RETURNED:
        m->returned.own_seq = UV(1), m->returned.recovering = v % 2;
        PU(UV(1)), v % 2 ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
        break;
    case JP_MSG_PUSH:
    case JP_MSG_RETURN:
    case JP_MSG_CHANGES:
    case JP_MSG_RECORDS:
        if (t == JP_MSG_PUSH)
            PU(UV(1)), PU(UV(2)), PU(UV(3)), PU(UV(4));
        else if (t == JP_MSG_CHANGES)
            PU(UV(1)), PU(UV(2));
        msgpack_pack_array(&pk, nc);
        for (unsigned i = 0; i < nc; i++) {
            uint8_t *c = malloc(lens[i] + 1);
            for (size_t j = 0; j < lens[i]; j++)
                c[j] = s_cbyte(i, j);
            if (t != JP_MSG_PUSH && t != JP_MSG_RETURN)
                msgpack_pack_array(&pk, 3), PU(s_estore(v, i)), PU(s_estore(v, i) * 5);
            PB(c, lens[i]);
            free(c);
        }
        if (t != JP_MSG_PUSH)
            v == 1 ? msgpack_pack_false(&pk) : msgpack_pack_true(&pk);
        if (t == JP_MSG_CHANGES)
            PU(UV(3)), PB(h + 1, 32);
        if (t != JP_MSG_RETURN)
            PB(h, 64);
        /* the list's bytes come from the frame: decode it to point at them */
        assert_int_equal(jp_msg_decode(s->wire.data, s->wire.len, m, NULL), 0);
        break;
    case JP_MSG_RECEIPT:
        m->receipt.batch = UV(1), m->receipt.store = UV(2), m->receipt.seq = UV(3);
        m->receipt.server_ms = UV(4);
        memcpy(m->receipt.head, h, 32), memcpy(m->receipt.sig, h, 64);
        PU(UV(1)), PU(UV(2)), PU(UV(3)), PB(h, 32), PU(UV(4)), PB(h, 64);
        break;
    case JP_MSG_PULL:
        m->pull.after_pos = UV(1), m->pull.credit = UV(2), m->pull.own = v != 1;
        PU(UV(1)), PU(UV(2));
        v == 1 ? msgpack_pack_false(&pk) : msgpack_pack_true(&pk);
        break;
    case JP_MSG_CREDIT:
        m->credit.credit = UV(1);
        PU(UV(1));
        break;
    case JP_MSG_VIEW:
        memcpy(m->view.after, h + 3, 16);
        PB(h + 3, 16);
        break;
    case JP_MSG_VIEWIDS:
    case JP_MSG_FETCH: {
        static uint8_t ids[3][48];
        memset(ids[v], 0x30 + v, sizeof ids[v]);
        jp_msg_str_t l = {(const char *)ids[v], v == 1 ? 0 : v == 0 ? 48 : 32};
        if (t == JP_MSG_FETCH) {
            m->fetch.ids = l;
            PB(l.p, l.n);
            break;
        }
        memcpy(m->viewids.after, h + 2, 16);
        m->viewids.ids = l, m->viewids.more = v != 1, m->viewids.view_pos = UV(1);
        memcpy(m->viewids.sig, h, 64);
        PB(h + 2, 16), PB(l.p, l.n);
        v == 1 ? msgpack_pack_false(&pk) : msgpack_pack_true(&pk);
        PU(UV(1)), PB(h, 64);
        break;
    }
    case JP_MSG_SIGNED: { /* none, one or two of each */
        static uint8_t bs[3][2 * JP_MSG_SIGNED_BATCH], rs[3][2 * JP_MSG_SIGNED_RECEIPT];
        memset(bs[v], 0x40 + v, sizeof bs[v]);
        memset(rs[v], 0x50 + v, sizeof rs[v]);
        unsigned k = v == 1 ? 0 : v == 0 ? 2 : 1;
        m->sigs.batches = (jp_msg_str_t){(const char *)bs[v], k * JP_MSG_SIGNED_BATCH};
        m->sigs.receipts = (jp_msg_str_t){(const char *)rs[v], (2 - k) * JP_MSG_SIGNED_RECEIPT};
        PB(m->sigs.batches.p, m->sigs.batches.n), PB(m->sigs.receipts.p, m->sigs.receipts.n);
        break;
    }
    case JP_MSG_PING:
    case JP_MSG_PONG:
        m->ping.ms = UV(1);
        PU(UV(1));
        break;
    case JP_MSG_QUERY:
        m->query.id = UV(1), m->query.what = s_text(v, "report");
        PU(UV(1)), s_pk_str(&pk, m->query.what);
        if (v == 0) {
            m->query.args.n = 16;
            for (int k = 0; k < 16; k++) {
                m->query.args.v[k].key = (jp_msg_str_t){s_keys[k], 256};
                m->query.args.v[k].val = (jp_msg_str_t){s_big, sizeof s_big};
            }
        } else if (v == 2) {
            m->query.args.n = 2;
            m->query.args.v[0].key = (jp_msg_str_t){"scope", 5};
            m->query.args.v[0].val = (jp_msg_str_t){"store:12", 8};
            m->query.args.v[1].key = (jp_msg_str_t){"as_of", 5};
            m->query.args.v[1].val = (jp_msg_str_t){"2024-05-01", 10};
        }
        msgpack_pack_map(&pk, m->query.args.n);
        for (uint32_t k = 0; k < m->query.args.n; k++)
            s_pk_str(&pk, m->query.args.v[k].key), s_pk_str(&pk, m->query.args.v[k].val);
        break;
    case JP_MSG_ANSWER:
        m->answer.id = UV(1);
        m->answer.body =
            v == 0 ? (jp_msg_str_t){s_body, sizeof s_body} : s_text(v, "{\"ok\": true}");
        PU(UV(1)), s_pk_str(&pk, m->answer.body);
        break;
    case JP_MSG_BYE:
        m->bye.reason = s_text(v, "shutting down");
        s_pk_str(&pk, m->bye.reason);
        break;
    case JP_MSG_ERROR:
        m->error.code = v == 0 ? INT64_MAX : v == 1 ? INT64_MIN : -5;
        m->error.ref = UV(1), m->error.message = s_text(v, "chain: seq gap at 12");
        msgpack_pack_int64(&pk, m->error.code), PU(UV(1));
        s_pk_str(&pk, m->error.message);
        break;
    default:
        fail_msg("no sample for message type %d", t);
    }
#undef UV
#undef PU
#undef PB
}

static bool
s_str_eq(jp_msg_str_t a, jp_msg_str_t b)
{
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

static bool
s_list_eq(const jp_msg_list_t *a, const jp_msg_list_t *b)
{
    return a->count == b->count && a->len == b->len &&
           (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Every element of a and b equal. */
static bool
s_equal(const jp_msg_t *a, const jp_msg_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case JP_MSG_HELLO:
        return a->hello.min_version == b->hello.min_version &&
               a->hello.max_version == b->hello.max_version &&
               a->hello.store == b->hello.store &&
               s_str_eq(a->hello.agent, b->hello.agent);
    case JP_MSG_WELCOME:
        return memcmp(&a->welcome, &b->welcome, sizeof a->welcome) == 0;
    case JP_MSG_PUSH:
        return a->push.batch == b->push.batch && a->push.store == b->push.store &&
               a->push.first_seq == b->push.first_seq &&
               a->push.last_seq == b->push.last_seq &&
               s_list_eq(&a->push.changes, &b->push.changes) &&
               memcmp(a->push.sig, b->push.sig, JP_SIG_LEN) == 0;
    case JP_MSG_RETURN:
        return s_list_eq(&a->ret.changes, &b->ret.changes) && a->ret.done == b->ret.done;
    case JP_MSG_RETURNED:
        return a->returned.own_seq == b->returned.own_seq &&
               a->returned.recovering == b->returned.recovering;
    case JP_MSG_RECEIPT:
        return memcmp(&a->receipt, &b->receipt, sizeof a->receipt) == 0;
    case JP_MSG_PULL:
        return memcmp(&a->pull, &b->pull, sizeof a->pull) == 0;
    case JP_MSG_CHANGES:
        return a->changes.from_pos == b->changes.from_pos &&
               a->changes.to_pos == b->changes.to_pos &&
               s_list_eq(&a->changes.entries, &b->changes.entries) &&
               a->changes.more == b->changes.more &&
               a->changes.view_count == b->changes.view_count &&
               memcmp(a->changes.view_hash, b->changes.view_hash, JP_HASH_LEN) == 0 &&
               memcmp(a->changes.sig, b->changes.sig, JP_SIG_LEN) == 0;
    case JP_MSG_RECORDS:
        return s_list_eq(&a->records.entries, &b->records.entries) &&
               a->records.more == b->records.more &&
               memcmp(a->records.sig, b->records.sig, JP_SIG_LEN) == 0;
    case JP_MSG_VIEW:
        return memcmp(a->view.after, b->view.after, 16) == 0;
    case JP_MSG_VIEWIDS:
        return memcmp(a->viewids.after, b->viewids.after, 16) == 0 &&
               s_str_eq(a->viewids.ids, b->viewids.ids) &&
               a->viewids.more == b->viewids.more &&
               a->viewids.view_pos == b->viewids.view_pos &&
               memcmp(a->viewids.sig, b->viewids.sig, JP_SIG_LEN) == 0;
    case JP_MSG_FETCH:
        return s_str_eq(a->fetch.ids, b->fetch.ids);
    case JP_MSG_SIGNED:
        return s_str_eq(a->sigs.batches, b->sigs.batches) &&
               s_str_eq(a->sigs.receipts, b->sigs.receipts);
    case JP_MSG_CREDIT:
        return a->credit.credit == b->credit.credit;
    case JP_MSG_PING:
        return a->ping.ms == b->ping.ms;
    case JP_MSG_PONG:
        return a->pong.ms == b->pong.ms;
    case JP_MSG_QUERY:
        if (a->query.id != b->query.id || !s_str_eq(a->query.what, b->query.what) ||
            a->query.args.n != b->query.args.n)
            return false;
        for (uint32_t i = 0; i < a->query.args.n; i++)
            if (!s_str_eq(a->query.args.v[i].key, b->query.args.v[i].key) ||
                !s_str_eq(a->query.args.v[i].val, b->query.args.v[i].val))
                return false;
        return true;
    case JP_MSG_ANSWER:
        return a->answer.id == b->answer.id && s_str_eq(a->answer.body, b->answer.body);
    case JP_MSG_BYE:
        return s_str_eq(a->bye.reason, b->bye.reason);
    case JP_MSG_ERROR:
        return a->error.code == b->error.code && a->error.ref == b->error.ref &&
               s_str_eq(a->error.message, b->error.message);
    }
    return false;
}

/* Every type the codec knows, from its own name table. */
static unsigned
s_known_types(int *types)
{
    unsigned n = 0;
    for (int t = 0; t < 256; t++)
        if (jp_msg_type_name(t))
            types[n++] = t;
    return n;
}

/* Decode a private, exact-size copy, so that ASan sees any read past n. */
static int
s_decode_copy(const uint8_t *p, size_t n, int *type)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, p, n);
    jp_msg_t m;
    int rc = jp_msg_decode(c, n, &m, NULL);
    if (type)
        *type = m.type;
    free(c);
    return rc;
}

/* ---- Document against codec -------------------------------------------- */

/* The msgpack object o has the type written ty in the document. */
static void
s_check_type(const char *ty, const msgpack_object *o, const char *ctx)
{
    char word[64];
    sscanf(ty, "%63s", word);
    if (strcmp(word, "uint") == 0) {
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            fail_msg("%s: not a uint", ctx);
    } else if (strcmp(word, "int") == 0) {
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
            o->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)
            fail_msg("%s: not an int", ctx);
    } else if (strcmp(word, "str") == 0) {
        if (o->type != MSGPACK_OBJECT_STR)
            fail_msg("%s: not a str", ctx);
    } else if (strcmp(word, "bool") == 0) {
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            fail_msg("%s: not a bool", ctx);
    } else if (!strcmp(word, "hash") || !strcmp(word, "pub") || !strcmp(word, "sig") ||
               !strcmp(word, "change") || !strcmp(word, "bin")) {
        uint32_t want = word[0] == 'h' || word[0] == 'p' ? 32 : word[0] == 's' ? 64 : 0;
        if (o->type != MSGPACK_OBJECT_BIN || (want && o->via.bin.size != want))
            fail_msg("%s: not a %s", ctx, word);
    } else if (strcmp(word, "map") == 0) {
        if (o->type != MSGPACK_OBJECT_MAP)
            fail_msg("%s: not a map", ctx);
        assert_non_null(strstr(ty, "(str → str)"));
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            s_check_type("str", &o->via.map.ptr[i].key, ctx);
            s_check_type("str", &o->via.map.ptr[i].val, ctx);
        }
    } else if (strcmp(word, "array") == 0) {
        if (o->type != MSGPACK_OBJECT_ARRAY)
            fail_msg("%s: not an array", ctx);
        const char *of = strstr(ty, " of ");
        assert_non_null(of);
        of += 4;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            const msgpack_object *e = &o->via.array.ptr[i];
            if (of[0] != '[') {
                s_check_type(of, e, ctx);
                continue;
            }
            /* "[store uint, change]": an array of those, by their last word */
            char parts[128];
            snprintf(parts, sizeof parts, "%s", of + 1);
            char *save = NULL, *part = strtok_r(parts, ",]", &save);
            uint32_t k = 0;
            if (e->type != MSGPACK_OBJECT_ARRAY)
                fail_msg("%s: entry not an array", ctx);
            for (; part; part = strtok_r(NULL, ",]", &save), k++) {
                char *t = s_trim(part), *last = strrchr(t, ' ');
                if (k >= e->via.array.size)
                    fail_msg("%s: entry too short", ctx);
                s_check_type(last ? last + 1 : t, &e->via.array.ptr[k], ctx);
            }
            if (k != e->via.array.size)
                fail_msg("%s: entry of %u elements, doc has %u", ctx, e->via.array.size,
                         k);
        }
    } else {
        fail_msg("%s: the test does not know the type '%s'", ctx, word);
    }
}

static void
test_doc_messages(void **state)
{
    (void)state;
    int types[256];
    unsigned nknown = s_known_types(types);
    assert_true(s_doc.nmsg >= 13);
    for (unsigned r = 0; r < s_doc.nmsg; r++) {
        const doc_msg_t *d = &s_doc.msg[r];
        const char *name = jp_msg_type_name(d->type);
        if (!name || strcmp(name, d->name) != 0)
            fail_msg("PROTOCOL.md type %d is %s, the codec says %s", d->type, d->name,
                     name ? name : "unknown");
        if (jp_msg_elements(d->type) != d->n)
            fail_msg("%s: PROTOCOL.md lists %u elements, the codec %u", d->name, d->n,
                     jp_msg_elements(d->type));
        for (unsigned i = 0; i < d->n; i++)
            if (strcmp(jp_msg_element_name(d->type, i), d->el[i]) != 0)
                fail_msg("%s element %u: PROTOCOL.md %s, the codec %s", d->name, i + 1,
                         d->el[i], jp_msg_element_name(d->type, i));
        /* the bytes, read by msgpack-c: the count and each element's type */
        for (int v = 0; v < 3; v++) {
            sample_t s;
            jp_buf_t out = {0};
            s_sample(d->type, v, &s);
            assert_int_equal(jp_msg_encode(&s.m, &out), 0);
            msgpack_unpacked u;
            size_t off = 0;
            msgpack_unpacked_init(&u);
            assert_int_equal(
                msgpack_unpack_next(&u, (const char *)out.data, out.len, &off),
                MSGPACK_UNPACK_SUCCESS);
            assert_int_equal(off, out.len);
            assert_int_equal(u.data.type, MSGPACK_OBJECT_ARRAY);
            if (u.data.via.array.size != 1 + d->n)
                fail_msg("%s: encoded %u elements, PROTOCOL.md says 1 + %u", d->name,
                         u.data.via.array.size, d->n);
            assert_int_equal(u.data.via.array.ptr[0].type,
                             MSGPACK_OBJECT_POSITIVE_INTEGER);
            assert_int_equal(u.data.via.array.ptr[0].via.u64, d->type);
            assert_true(out.data[1] == d->type); /* a positive fixint after the header */
            for (unsigned i = 0; i < d->n; i++) {
                char ctx[96];
                snprintf(ctx, sizeof ctx, "%s %s (sample %d)", d->name, d->el[i], v);
                s_check_type(d->ty[i], &u.data.via.array.ptr[1 + i], ctx);
            }
            msgpack_unpacked_destroy(&u);
            jp_buf_free(&out);
            jp_buf_free(&s.wire);
        }
    }
    /* and no message in the codec that the document lacks */
    for (unsigned k = 0; k < nknown; k++) {
        bool found = false;
        for (unsigned r = 0; r < s_doc.nmsg; r++)
            found |= s_doc.msg[r].type == types[k];
        if (!found)
            fail_msg("the codec knows type %d (%s), PROTOCOL.md does not", types[k],
                     jp_msg_type_name(types[k]));
    }
    assert_int_equal(nknown, s_doc.nmsg);
}

static void
test_doc_errors(void **state)
{
    (void)state;
    assert_true(s_doc.nerr >= 13);
    for (unsigned r = 0; r < s_doc.nerr; r++) {
        const char *name = jp_perr_name(s_doc.err[r].code);
        if (!name || strcmp(name, s_doc.err[r].name) != 0)
            fail_msg("PROTOCOL.md error %d is '%s', the codec says '%s'",
                     s_doc.err[r].code, s_doc.err[r].name, name ? name : "nothing");
    }
    unsigned nknown = 0;
    for (int code = -300; code < 300; code++) {
        if (!jp_perr_name(code))
            continue;
        nknown++;
        bool found = false;
        for (unsigned r = 0; r < s_doc.nerr; r++)
            found |= s_doc.err[r].code == code;
        if (!found)
            fail_msg("the codec knows error %d, PROTOCOL.md does not", code);
    }
    assert_int_equal(nknown, s_doc.nerr);
    /* the spot checks the enum's names against the document by number */
    assert_string_equal(jp_perr_name(JP_PERR_MALFORMED), "malformed");
    assert_string_equal(jp_perr_name(JP_PERR_UNKNOWN), "unknown message");
    assert_string_equal(jp_perr_name(JP_PERR_FULL), "full");
    /* decoder failures map to the codes section 2 names */
    assert_int_equal(jp_msg_perr(JP_ECORRUPT), JP_PERR_MALFORMED);
    assert_int_equal(jp_msg_perr(JP_ETOOBIG), JP_PERR_MALFORMED);
    assert_int_equal(jp_msg_perr(JP_EVERSION), JP_PERR_UNKNOWN);
    assert_int_equal(jp_msg_perr(JP_ENOMEM), JP_PERR_INTERNAL);
}

/* The first number of a limit cell, times its unit. */
static uint64_t
s_limit_value(const char *s)
{
    while (*s && (*s < '0' || *s > '9'))
        s++;
    uint64_t v = 0;
    for (; (*s >= '0' && *s <= '9') || *s == ','; s++)
        if (*s != ',')
            v = v * 10 + (uint64_t)(*s - '0');
    if (strstr(s, "MiB"))
        v *= 1024 * 1024;
    else if (strstr(s, "KiB"))
        v *= 1024;
    else if (strstr(s, "minute"))
        v *= 60 * 1000;
    return v;
}

static void
test_doc_limits(void **state)
{
    (void)state;
    static const struct {
        const char *what; /* the row's first column, exactly */
        uint64_t value;   /* the #define */
    } want[] = {
        {"frame", JP_MSG_MAX_FRAME},
        {"one change", JP_MSG_MAX_CHANGE},
        {"batch (`max_batch`)", JP_MSG_MAX_BATCH},
        {"changes per batch or CHANGES", JP_MSG_MAX_CHANGES},
        {"record ids in one VIEWIDS or FETCH", JP_MSG_MAX_IDS},
        {"ids the server answers in one FETCH", JP_MSG_MAX_FETCH},
        {"credit", JP_MSG_MAX_CREDIT},
        {"`agent`, `what`, each `args` key and value, `reason`, error `message`",
         JP_MSG_MAX_TEXT},
        {"`args` pairs", JP_MSG_MAX_ARGS},
        {"hlc ahead of the server clock", JP_MSG_MAX_AHEAD_MS},
        {"sessions of one key", JP_MSG_MAX_KEY_SESSIONS},
        {"sessions of one principal", JP_MSG_MAX_PRINCIPAL_SESSIONS},
        {"sessions in all", JP_MSG_MAX_SESSIONS},
        {"messages queued to one client", JP_MSG_MAX_QUEUED},
    };
    size_t nwant = sizeof want / sizeof want[0];
    assert_int_equal(s_doc.nlim, nwant);
    for (unsigned r = 0; r < s_doc.nlim; r++) {
        size_t k = 0;
        while (k < nwant && strcmp(want[k].what, s_doc.lim[r].what) != 0)
            k++;
        if (k == nwant)
            fail_msg("PROTOCOL.md limit '%s' has no #define", s_doc.lim[r].what);
        if (s_limit_value(s_doc.lim[r].limit) != want[k].value)
            fail_msg("limit '%s': PROTOCOL.md %s, msg.h %llu", want[k].what,
                     s_doc.lim[r].limit, (unsigned long long)want[k].value);
    }
    assert_int_equal(JP_MSG_MAX_AHEAD_MS, JP_HLC_MAX_SKEW_MS);
}

/* ---- Round trips ------------------------------------------------------- */

/* The list of a PUSH or CHANGES sample holds exactly the sample's changes. */
static void
s_check_list(const sample_t *s, int v)
{
    const size_t *lens;
    unsigned nc = s_nchanges(v, &lens), i = 0;
    jp_msg_iter_t it;
    const uint8_t *p;
    size_t n;
    uint64_t store, pos;
    int rc;
    bool push = s->m.type == JP_MSG_PUSH;
    jp_msg_iter_init(&it, push                          ? &s->m.push.changes
                          : s->m.type == JP_MSG_RECORDS ? &s->m.records.entries
                                                        : &s->m.changes.entries);
    while ((rc = push ? jp_msg_next_change(&it, &p, &n)
                      : jp_msg_next_entry(&it, &store, &pos, &p, &n)) > 0) {
        assert_true(i < nc);
        assert_int_equal(n, lens[i]);
        for (size_t j = 0; j < n; j++)
            assert_int_equal(p[j], s_cbyte(i, j));
        if (!push)
            assert_true(store == s_estore(v, i) && pos == s_estore(v, i) * 5);
        i++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, nc);
}

static void
test_round_trip(void **state)
{
    (void)state;
    int types[256];
    unsigned nt = s_known_types(types);
    for (unsigned k = 0; k < nt; k++) {
        for (int v = 0; v < 3; v++) {
            sample_t s;
            jp_buf_t out = {0}, again = {0};
            jp_msg_t d;
            jp_err_t err;
            s_sample(types[k], v, &s);
            assert_int_equal(jp_msg_encode(&s.m, &out), 0);
            /* our bytes are msgpack-c's bytes */
            assert_int_equal(out.len, s.wire.len);
            assert_memory_equal(out.data, s.wire.data, out.len);
            assert_int_equal(jp_msg_decode(out.data, out.len, &d, &err), 0);
            if (!s_equal(&s.m, &d))
                fail_msg("%s sample %d differs after a round trip",
                         jp_msg_type_name(types[k]), v);
            if (types[k] == JP_MSG_PUSH || types[k] == JP_MSG_CHANGES ||
                types[k] == JP_MSG_RECORDS)
                s_check_list(&s, v);
            assert_int_equal(jp_msg_encode(&d, &again), 0);
            assert_memory_equal(again.data, out.data, out.len);
            jp_buf_free(&out);
            jp_buf_free(&again);
            jp_buf_free(&s.wire);
        }
    }
}

/* A frame of exactly JP_MSG_MAX_FRAME bytes passes; one more byte does not. */
static void
test_frame_limit(void **state)
{
    (void)state;
    /* [65, 0, str32 body]: 1 + 1 + 1 + 5 bytes of headers */
    size_t nbody = JP_MSG_MAX_FRAME - 8;
    char *body = malloc(nbody + 1);
    assert_non_null(body);
    memset(body, 'x', nbody + 1);
    jp_msg_t m = {.type = JP_MSG_ANSWER}, d;
    m.answer.body = (jp_msg_str_t){body, nbody};
    jp_buf_t out = {0};
    assert_int_equal(jp_msg_encode(&m, &out), 0);
    assert_int_equal(out.len, JP_MSG_MAX_FRAME);
    assert_int_equal(jp_msg_decode(out.data, out.len, &d, NULL), 0);
    assert_int_equal(d.answer.body.n, nbody);
    /* one byte more: the encoder refuses and leaves out as it was */
    m.answer.body.n = nbody + 1;
    assert_int_equal(jp_msg_encode(&m, &out), JP_ETOOBIG);
    assert_int_equal(out.len, JP_MSG_MAX_FRAME);
    /* and the decoder refuses such a frame before reading it */
    assert_int_equal(jp_buf_append(&out, "x", 1), 0);
    assert_int_equal(jp_msg_decode(out.data, out.len, &d, NULL), JP_ETOOBIG);
    jp_buf_free(&out);
    free(body);
}

/* ---- Hostile input ----------------------------------------------------- */

static void
test_truncations(void **state)
{
    (void)state;
    int types[256];
    unsigned nt = s_known_types(types);
    for (unsigned k = 0; k < nt; k++) {
        for (int v = 0; v < 3; v++) {
            sample_t s;
            s_sample(types[k], v, &s);
            /* each cut ends where the allocation ends, so that ASan sees a read
             * past it; one allocation for all cuts keeps this fast */
            uint8_t *buf = malloc(s.wire.len);
            assert_non_null(buf);
            for (size_t n = 0; n < s.wire.len; n++) {
                jp_msg_t m;
                uint8_t *cut = buf + s.wire.len - n;
                memcpy(cut, s.wire.data, n);
                int rc = jp_msg_decode(cut, n, &m, NULL);
                if (rc != JP_ECORRUPT)
                    fail_msg("%s sample %d cut to %zu of %zu bytes: %d",
                             jp_msg_type_name(types[k]), v, n, s.wire.len, rc);
            }
            free(buf);
            /* and one byte more is trailing garbage */
            assert_int_equal(jp_buf_append(&s.wire, "\xc0", 1), 0);
            assert_int_equal(s_decode_copy(s.wire.data, s.wire.len, NULL), JP_ECORRUPT);
            jp_buf_free(&s.wire);
        }
    }
}

typedef struct {
    const char *what; /* the case */
    const char *hex;  /* the frame */
    int rc;           /* what decoding must return */
} bad_t;

static size_t
s_unhex(const char *hex, uint8_t *out)
{
    size_t n = 0;
    for (const char *p = hex; p[0] && p[1]; p += 2) {
        while (*p == ' ')
            p++;
        unsigned b;
        assert_int_equal(sscanf(p, "%2x", &b), 1);
        out[n++] = (uint8_t)b;
    }
    return n;
}

static void
s_bad_frames(const bad_t *cases, size_t ncases)
{
    for (size_t i = 0; i < ncases; i++) {
        uint8_t f[512];
        size_t n = s_unhex(cases[i].hex, f);
        int rc = s_decode_copy(f, n, NULL);
        if (rc != cases[i].rc)
            fail_msg("%s: %d, expected %d", cases[i].what, rc, cases[i].rc);
    }
}

/* Runs of zero bytes in the vectors below (each with its leading space). */
#define Z16 " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
#define Z31                                                                              \
    " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " \
    "00 00 00 00"
#define Z32                                                                              \
    " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 " \
    "00 00 00 00 00"

static void
test_malformed(void **state)
{
    (void)state;
    static const bad_t cases[] = {
        {"valid PING", "92 30 05", 0},
        {"valid ERROR, negative int8 code", "94 7f d0 fb 00 a0", 0},
        {"valid ERROR, int64 code", "94 7f d3 ff ff ff ff ff ff ff fb 00 a0", 0},
        {"valid PONG, uint64 form of 5", "92 31 cf 00 00 00 00 00 00 00 05", 0},
        {"empty frame", "", JP_ECORRUPT},
        {"not an array", "81 a1 61 01", JP_ECORRUPT},
        {"empty array", "90", JP_ECORRUPT},
        {"PING without ms", "91 30", JP_ECORRUPT},
        {"PING with two", "93 30 05 06", JP_ECORRUPT},
        {"HELLO with 5 elements", "96 01 01 01 00 a0 a0", JP_ECORRUPT},
        {"type as uint8", "92 cc 30 05", JP_ECORRUPT},
        {"type negative", "92 ff 05", JP_ECORRUPT},
        {"ms as str", "92 30 a1 35", JP_ECORRUPT},
        {"ms negative", "92 30 ff", JP_ECORRUPT},
        {"ms as int8", "92 30 d0 05", JP_ECORRUPT},
        {"ms nil", "92 30 c0", JP_ECORRUPT},
        {"ms as float", "92 30 ca 00 00 00 00", JP_ECORRUPT},
        {"code above int64", "94 7f cf 80 00 00 00 00 00 00 00 00 a0", JP_ECORRUPT},
        {"agent as bin", "95 01 01 01 00 c4 00", JP_ECORRUPT},
        {"agent overlong UTF-8", "95 01 01 01 00 a2 c0 af", JP_ECORRUPT},
        {"agent surrogate", "95 01 01 01 00 a3 ed a0 80", JP_ECORRUPT},
        {"agent cut UTF-8", "95 01 01 01 00 a2 61 e2", JP_ECORRUPT},
        {"agent above U+10FFFF", "95 01 01 01 00 a4 f4 90 80 80", JP_ECORRUPT},
        {"agent valid 4-byte UTF-8", "95 01 01 01 00 a4 f0 9f 9a 97", 0},
        {"CHANGES more as uint", "98 21 00 00 90 00 00 c4 20" Z32 " c4 40" Z32 Z32,
         JP_ECORRUPT},
        {"CHANGES entry of 2",
         "98 21 00 00 91 92 01 c4 00 c2 00 c4 20" Z32 " c4 40" Z32 Z32, JP_ECORRUPT},
        {"CHANGES entry store as str",
         "98 21 00 00 91 93 a0 00 c4 00 c2 00 c4 20" Z32 " c4 40" Z32 Z32, JP_ECORRUPT},
        {"CHANGES change as str",
         "98 21 00 00 91 93 01 00 a0 c2 00 c4 20" Z32 " c4 40" Z32 Z32, JP_ECORRUPT},
        {"CHANGES valid",
         "98 21 00 00 91 93 01 02 c4 00 c2 00 c4 20" Z32 " c4 40" Z32 Z32, 0},
        {"CHANGES entry store 65,536",
         "98 21 00 00 91 93 ce 00 01 00 00 02 c4 00 c2 00 c4 20" Z32 " c4 40" Z32 Z32,
         JP_ECORRUPT},
        {"CHANGES view_hash short", "98 21 00 00 90 c2 00 c4 1f" Z31 " c4 40" Z32 Z32,
         JP_ECORRUPT},
        {"VIEWIDS ids of 17 bytes",
         "96 24 c4 10" Z16 " c4 11" Z16 " 00 c2 00 c4 40" Z32 Z32, JP_ECORRUPT},
        {"VIEWIDS valid", "96 24 c4 10" Z16 " c4 10" Z16 " c2 00 c4 40" Z32 Z32, 0},
        {"FETCH ids as str", "92 25 a0", JP_ECORRUPT},
        {"FETCH valid", "92 25 c4 00", 0},
        {"QUERY args as array", "94 40 00 a0 90", JP_ECORRUPT},
        {"QUERY repeated key", "94 40 00 a0 82 a1 61 a0 a1 61 a0", JP_ECORRUPT},
        {"QUERY value uint", "94 40 00 a0 81 a1 61 01", JP_ECORRUPT},
        {"QUERY valid", "94 40 00 a0 82 a1 61 a0 a1 62 a0", 0},
        {"trailing byte", "92 30 05 00", JP_ECORRUPT},
        {"two messages", "92 30 05 92 30 05", JP_ECORRUPT},
        {"unknown type 0", "91 00", JP_EVERSION},
        {"unknown type 3", "92 03 05", JP_EVERSION},
        {"unknown type 50, 15 elements",
         "9f 32 00 00 00 00 00 00 00 00 00 00 00 00 00 00", JP_EVERSION},
        {"unknown type 125", "93 7d 01 02", JP_EVERSION},
    };
    s_bad_frames(cases, sizeof cases / sizeof cases[0]);

    /* a hash, a key or a signature of any other length */
    for (int len = 0; len < 70; len++) {
        jp_buf_t f = {0};
        msgpack_packer pk;
        uint8_t z[70] = {0};
        msgpack_packer_init(&pk, &f, s_sbuf_write);
        msgpack_pack_array(&pk, 7);
        msgpack_pack_uint8(&pk, JP_MSG_RECEIPT);
        msgpack_pack_uint8(&pk, 0), msgpack_pack_uint8(&pk, 0),
            msgpack_pack_uint8(&pk, 0);
        msgpack_pack_bin_with_body(&pk, z, (size_t)len); /* head */
        msgpack_pack_uint8(&pk, 0);
        msgpack_pack_bin_with_body(&pk, z, JP_SIG_LEN);
        assert_int_equal(s_decode_copy(f.data, f.len, NULL), len == 32 ? 0 : JP_ECORRUPT);
        jp_buf_reset(&f);
        msgpack_pack_array(&pk, 7);
        msgpack_pack_uint8(&pk, JP_MSG_RECEIPT);
        msgpack_pack_uint8(&pk, 0), msgpack_pack_uint8(&pk, 0),
            msgpack_pack_uint8(&pk, 0);
        msgpack_pack_bin_with_body(&pk, z, 32);
        msgpack_pack_uint8(&pk, 0);
        msgpack_pack_bin_with_body(&pk, z, (size_t)len); /* sig */
        assert_int_equal(s_decode_copy(f.data, f.len, NULL), len == 64 ? 0 : JP_ECORRUPT);
        jp_buf_free(&f);
    }

    /* an unknown type is reported with its number, for the ERROR 3 */
    int type = 0;
    assert_int_equal(s_decode_copy((const uint8_t *)"\x92\x03\x05", 3, &type),
                     JP_EVERSION);
    assert_int_equal(type, 3);
    assert_int_equal(jp_msg_perr(JP_EVERSION), 3);
}

static void
test_oversize(void **state)
{
    (void)state;
    static const bad_t cases[] = {
        {"agent str32 of 4 GiB, no bytes", "95 01 01 01 00 db ff ff ff ff", JP_ETOOBIG},
        {"agent str16 of 257, no bytes", "95 01 01 01 00 da 01 01", JP_ETOOBIG},
        {"array32 of 4 Gi elements", "dd ff ff ff ff 30", JP_ECORRUPT},
        {"changes array32 of 65,537", "97 10 01 01 01 01 dd 00 01 00 01", JP_ETOOBIG},
        {"changes array32 of 65,536, no bytes", "97 10 01 01 01 01 dd 00 01 00 00",
         JP_ECORRUPT},
        {"change bin32 of 65,537", "97 10 01 01 01 01 91 c6 00 01 00 01", JP_ETOOBIG},
        {"change bin32 of 4 GiB", "97 10 01 01 01 01 91 c6 ff ff ff ff", JP_ETOOBIG},
        {"entries array16 of 65,535, no bytes", "98 21 00 00 dc ff ff", JP_ECORRUPT},
        {"entry change of 65,537", "98 21 00 00 91 93 01 00 c6 00 01 00 01", JP_ETOOBIG},
        {"VIEWIDS ids of 65,537", "96 24 c4 10" Z16 " c6 00 10 00 10", JP_ETOOBIG},
        {"args map32 of 17", "94 40 00 a0 df 00 00 00 11", JP_ETOOBIG},
        {"args key str32 of 300", "94 40 00 a0 81 db 00 00 01 2c", JP_ETOOBIG},
        {"head bin32 of 4 GiB", "97 11 00 00 00 c6 ff ff ff ff", JP_ECORRUPT},
        {"body str32 of 4 GiB", "93 41 00 db ff ff ff ff", JP_ETOOBIG},
    };
    s_bad_frames(cases, sizeof cases / sizeof cases[0]);

    /* real bytes over each text limit, both ways */
    char text[JP_MSG_MAX_TEXT + 1];
    memset(text, 'a', sizeof text);
    jp_msg_t m = {.type = JP_MSG_HELLO};
    jp_buf_t out = {0};
    m.hello.agent = (jp_msg_str_t){text, sizeof text};
    assert_int_equal(jp_msg_encode(&m, &out), JP_ETOOBIG);
    assert_int_equal(out.len, 0);
    m.hello.agent.n--;
    assert_int_equal(jp_msg_encode(&m, &out), 0);
    /* patch the str8 length 256 -> the bytes of 257 would need str16 */
    uint8_t frame[300] = {0x95, 0x01, 0x01, 0x01, 0x00, 0xda, 0x01, 0x01};
    size_t n = 8;
    memcpy(frame + n, text, sizeof text);
    assert_int_equal(s_decode_copy(frame, n + sizeof text, NULL), JP_ETOOBIG);
    jp_buf_reset(&out);

    m = (jp_msg_t){.type = JP_MSG_QUERY};
    m.query.args.n = JP_MSG_MAX_ARGS + 1;
    assert_int_equal(jp_msg_encode(&m, &out), JP_ETOOBIG);
    m.query.args.n = 1;
    m.query.args.v[0].val = (jp_msg_str_t){text, sizeof text};
    assert_int_equal(jp_msg_encode(&m, &out), JP_ETOOBIG);
    m.query.args.n = 2;
    m.query.args.v[0].val.n = 1;
    assert_int_equal(jp_msg_encode(&m, &out), JP_EINVAL); /* two empty keys */
    m = (jp_msg_t){.type = JP_MSG_BYE};
    m.bye.reason = (jp_msg_str_t){"\xff", 1};
    assert_int_equal(jp_msg_encode(&m, &out), JP_EINVAL);
    m.type = 77;
    assert_int_equal(jp_msg_encode(&m, &out), JP_EINVAL);
    assert_int_equal(out.len, 0);
    jp_buf_free(&out);
}

/* xorshift64*: the same bytes on every run. */
static uint64_t
s_rand(uint64_t *x)
{
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

/* Decoded from hostile bytes: the lists walk to their end, and the message
 * encodes and decodes again to the same thing. */
static void
s_survivor(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n);
    jp_msg_t m, again;
    jp_buf_t out = {0};
    const uint8_t *cp;
    size_t cn;
    uint64_t store, pos;
    int rc;
    assert_non_null(c);
    memcpy(c, p, n);
    assert_int_equal(jp_msg_decode(c, n, &m, NULL), 0);
    if (m.type == JP_MSG_PUSH || m.type == JP_MSG_CHANGES || m.type == JP_MSG_RECORDS) {
        jp_msg_iter_t it;
        uint32_t k = 0;
        const jp_msg_list_t *l = m.type == JP_MSG_PUSH      ? &m.push.changes
                                 : m.type == JP_MSG_RECORDS ? &m.records.entries
                                                            : &m.changes.entries;
        jp_msg_iter_init(&it, l);
        while ((rc = m.type == JP_MSG_PUSH
                         ? jp_msg_next_change(&it, &cp, &cn)
                         : jp_msg_next_entry(&it, &store, &pos, &cp, &cn)) > 0)
            k++;
        assert_int_equal(rc, 0);
        assert_int_equal(k, l->count);
    }
    assert_int_equal(jp_msg_encode(&m, &out), 0);
    assert_true(out.len <= n);
    assert_int_equal(jp_msg_decode(out.data, out.len, &again, NULL), 0);
    assert_true(s_equal(&m, &again));
    jp_buf_free(&out);
    free(c);
}

static void
test_random_flips(void **state)
{
    (void)state;
    int types[256];
    unsigned nt = s_known_types(types), tries = 0, ok = 0;
    uint64_t seed = 0x6a6970616e31ull;
    for (unsigned k = 0; k < nt; k++) {
        for (int v = 0; v < 3; v++) {
            sample_t s;
            s_sample(types[k], v, &s);
            uint8_t *f = malloc(s.wire.len);
            assert_non_null(f);
            for (int i = 0; i < 160; i++, tries++) {
                memcpy(f, s.wire.data, s.wire.len);
                int flips = 1 + (int)(s_rand(&seed) % 4);
                for (int j = 0; j < flips; j++) {
                    /* most flips in the headers, where lengths and types live */
                    size_t span = s.wire.len < 64 || j % 2 ? s.wire.len : 64;
                    f[s_rand(&seed) % span] ^= (uint8_t)(1 + s_rand(&seed) % 255);
                }
                int rc = s_decode_copy(f, s.wire.len, NULL);
                if (rc == 0) {
                    ok++;
                    s_survivor(f, s.wire.len);
                } else if (rc != JP_ECORRUPT && rc != JP_ETOOBIG && rc != JP_EVERSION) {
                    fail_msg("flip %u: unexpected %d", tries, rc);
                }
            }
            free(f);
            jp_buf_free(&s.wire);
        }
    }
    /* random short frames behind a plausible header */
    uint8_t g[48];
    for (int i = 0; i < 3000; i++, tries++) {
        size_t n = (size_t)(s_rand(&seed) % sizeof g);
        for (size_t j = 0; j < n; j++)
            g[j] = (uint8_t)s_rand(&seed);
        if (n > 1 && i % 2)
            g[0] = (uint8_t)(0x91 + s_rand(&seed) % 8), g[1] = (uint8_t)types[i % nt];
        int rc = s_decode_copy(g, n, NULL);
        if (rc == 0)
            ok++, s_survivor(g, n);
        else
            assert_true(rc == JP_ECORRUPT || rc == JP_ETOOBIG || rc == JP_EVERSION);
    }
    assert_true(tries > 9000);
    print_message("%u mutated frames, %u still decoded\n", tries, ok);
}

/* ---- Lists and builders ------------------------------------------------ */

static void
test_push_1000(void **state)
{
    (void)state;
    enum { N = 1000 };
    uint64_t seed = 42;
    static uint8_t bytes[N][1200];
    static size_t lens[N];
    jp_buf_t out = {0};
    jp_msg_builder_t b;
    jp_msg_t m = {.type = JP_MSG_PUSH}, d;
    m.push.batch = 9, m.push.store = 12, m.push.first_seq = 1001, m.push.last_seq = 2000;
    memset(m.push.sig, 0xab, sizeof m.push.sig);
    assert_int_equal(jp_buf_append(&out, "prefix", 6), 0); /* the builder appends */
    assert_int_equal(jp_msg_begin(&b, &out, &m, N), 0);
    for (int i = 0; i < N; i++) {
        lens[i] = (size_t)(s_rand(&seed) % (i % 100 == 0 ? 1 : sizeof bytes[0]));
        for (size_t j = 0; j < lens[i]; j++)
            bytes[i][j] = (uint8_t)s_rand(&seed);
        assert_int_equal(jp_msg_add_change(&b, bytes[i], lens[i]), 0);
    }
    assert_int_equal(jp_msg_end(&b, &m), 0);
    assert_memory_equal(out.data, "prefix", 6);
    assert_int_equal(jp_msg_decode(out.data + 6, out.len - 6, &d, NULL), 0);
    assert_int_equal(d.push.changes.count, N);
    assert_int_equal(d.push.store, 12);
    assert_int_equal(d.push.last_seq, 2000);
    assert_memory_equal(d.push.sig, m.push.sig, JP_SIG_LEN);

    jp_msg_iter_t it;
    const uint8_t *p;
    size_t n;
    int i = 0, rc;
    jp_msg_iter_init(&it, &d.push.changes);
    while ((rc = jp_msg_next_change(&it, &p, &n)) > 0) {
        assert_true(i < N);
        assert_int_equal(n, lens[i]);
        assert_memory_equal(p, bytes[i], n);
        i++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, N);
    assert_int_equal(jp_msg_next_change(&it, &p, &n), 0); /* stays at the end */

    /* the same as CHANGES entries, each with its store */
    jp_buf_t ch = {0};
    jp_msg_t c = {.type = JP_MSG_CHANGES}, dc;
    c.changes.from_pos = 5, c.changes.to_pos = 5 + N, c.changes.more = true;
    assert_int_equal(jp_msg_begin(&b, &ch, &c, N), 0);
    for (i = 0; i < N; i++)
        assert_int_equal(
            jp_msg_add_entry(&b, (uint64_t)i * 7, (uint64_t)i + 5, bytes[i], lens[i]), 0);
    assert_int_equal(jp_msg_end(&b, &c), 0);
    assert_int_equal(jp_msg_decode(ch.data, ch.len, &dc, NULL), 0);
    assert_true(dc.changes.more);
    uint64_t store, pos;
    jp_msg_iter_init(&it, &dc.changes.entries);
    for (i = 0; (rc = jp_msg_next_entry(&it, &store, &pos, &p, &n)) > 0; i++) {
        assert_int_equal(store, (uint64_t)i * 7);
        assert_int_equal(pos, (uint64_t)i + 5);
        assert_int_equal(n, lens[i]);
        assert_memory_equal(p, bytes[i], n);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(i, N);
    jp_buf_free(&ch);
    jp_buf_free(&out);
}

static void
test_builder_limits(void **state)
{
    (void)state;
    jp_buf_t out = {0};
    jp_msg_builder_t b;
    jp_msg_t m = {.type = JP_MSG_PUSH}, d;
    static uint8_t big[JP_MSG_MAX_CHANGE + 1];

    /* the most changes a batch may carry, all empty */
    assert_int_equal(jp_msg_begin(&b, &out, &m, JP_MSG_MAX_CHANGES), 0);
    for (uint32_t i = 0; i < JP_MSG_MAX_CHANGES; i++)
        assert_int_equal(jp_msg_add_change(&b, NULL, 0), 0);
    assert_int_equal(jp_msg_end(&b, &m), 0);
    assert_int_equal(jp_msg_decode(out.data, out.len, &d, NULL), 0);
    assert_int_equal(d.push.changes.count, JP_MSG_MAX_CHANGES);
    jp_buf_reset(&out);
    assert_int_equal(jp_msg_begin(&b, &out, &m, JP_MSG_MAX_CHANGES + 1), JP_ETOOBIG);
    assert_int_equal(out.len, 0);

    /* a change over 64 KiB; after it every call fails, out is as it was */
    assert_int_equal(jp_buf_append(&out, "keep", 4), 0);
    assert_int_equal(jp_msg_begin(&b, &out, &m, 2), 0);
    assert_int_equal(jp_msg_add_change(&b, big, JP_MSG_MAX_CHANGE), 0);
    assert_int_equal(jp_msg_add_change(&b, big, JP_MSG_MAX_CHANGE + 1), JP_ETOOBIG);
    assert_int_equal(out.len, 4);
    assert_int_equal(jp_msg_add_change(&b, big, 1), JP_ETOOBIG);
    assert_int_equal(jp_msg_end(&b, &m), JP_ETOOBIG);
    assert_int_equal(out.len, 4);

    /* more 64 KiB changes than a 4 MiB frame holds */
    int rc = 0;
    uint32_t i = 0;
    assert_int_equal(jp_msg_begin(&b, &out, &m, 100), 0);
    for (; i < 100 && (rc = jp_msg_add_change(&b, big, JP_MSG_MAX_CHANGE)) == 0; i++)
        ;
    assert_int_equal(rc, JP_ETOOBIG);
    assert_int_equal(i, 63);
    assert_int_equal(out.len, 4);

    /* misuse: too many, too few, the wrong kind, the wrong message */
    assert_int_equal(jp_msg_begin(&b, &out, &m, 1), 0);
    assert_int_equal(jp_msg_add_change(&b, big, 1), 0);
    assert_int_equal(jp_msg_add_change(&b, big, 1), JP_EINVAL);
    assert_int_equal(out.len, 4);
    assert_int_equal(jp_msg_begin(&b, &out, &m, 2), 0);
    assert_int_equal(jp_msg_add_change(&b, big, 1), 0);
    assert_int_equal(jp_msg_end(&b, &m), JP_EINVAL);
    assert_int_equal(jp_msg_begin(&b, &out, &m, 1), 0);
    assert_int_equal(jp_msg_add_entry(&b, 1, 1, big, 1), JP_EINVAL);
    jp_msg_t hello = {.type = JP_MSG_HELLO};
    assert_int_equal(jp_msg_begin(&b, &out, &hello, 0), JP_EINVAL);
    assert_int_equal(out.len, 4);
    jp_buf_free(&out);
}

/* A list handed to the encoder or iterator by hand is checked, not trusted. */
static void
test_list_bytes(void **state)
{
    (void)state;
    static const uint8_t two[] = {0xc4, 0x01, 0xaa, 0xc4, 0x00};
    jp_msg_list_t l = {two, sizeof two, 3};
    jp_msg_iter_t it;
    const uint8_t *p;
    size_t n;
    jp_msg_iter_init(&it, &l);
    assert_int_equal(jp_msg_next_change(&it, &p, &n), 1);
    assert_int_equal(n, 1);
    assert_int_equal(p[0], 0xaa);
    assert_int_equal(jp_msg_next_change(&it, &p, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(jp_msg_next_change(&it, &p, &n), JP_ECORRUPT); /* count 3 */
    l.count = 1;
    jp_msg_iter_init(&it, &l);
    assert_int_equal(jp_msg_next_change(&it, &p, &n), 1);
    assert_int_equal(jp_msg_next_change(&it, &p, &n), JP_ECORRUPT); /* bytes left */

    jp_msg_t m = {.type = JP_MSG_PUSH};
    jp_buf_t out = {0};
    m.push.changes = l;
    assert_int_equal(jp_msg_encode(&m, &out), JP_ECORRUPT);
    m.push.changes.count = 2;
    assert_int_equal(jp_msg_encode(&m, &out), 0);
    jp_buf_reset(&out);
    m = (jp_msg_t){.type = JP_MSG_CHANGES};
    m.changes.entries =
        (jp_msg_list_t){two, sizeof two, 2}; /* not [store, pos, change] */
    assert_int_equal(jp_msg_encode(&m, &out), JP_ECORRUPT);
    assert_int_equal(out.len, 0);
    jp_buf_free(&out);
}

/* The signed receipt bytes, field by field, and a signature over them. */
static void
test_receipt_msg(void **state)
{
    (void)state;
    uint8_t head[JP_HASH_LEN], msg[JP_RECEIPT_MSG_LEN], batch[JP_BATCH_MSG_LEN];
    for (int i = 0; i < JP_HASH_LEN; i++)
        head[i] = (uint8_t)(0xa0 + i);
    assert_int_equal(
        jp_receipt_msg(0x0102, 0x1122334455667788ull, 0x0000018f00000001ull, head, msg),
        64);
    static const uint8_t want[32] = {'j',  'i',  'p',  'a',  'n',  '-',  'r',  'c',
                                     'p',  't',  '-',  '1',  0,    0,    0x01, 0x02,
                                     0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                                     0x00, 0x00, 0x01, 0x8f, 0x00, 0x00, 0x00, 0x01};
    assert_memory_equal(msg, want, 32);
    assert_memory_equal(msg + 32, head, 32);
    /* never the bytes of a batch with the same numbers */
    jp_batch_msg(0x0102, 0x1122334455667788ull, 0x0000018f00000001ull, head, batch);
    assert_memory_not_equal(msg, batch, 14);

    jp_key_t *key = NULL;
    uint8_t pub[JP_PUB_LEN], sig[JP_SIG_LEN];
    assert_int_equal(jp_key_generate(&key, NULL), 0);
    jp_key_public(key, pub);
    assert_int_equal(jp_key_sign(key, msg, sizeof msg, sig), 0);
    assert_int_equal(jp_sig_verify(pub, msg, sizeof msg, sig), 0);
    msg[20] ^= 1; /* another seq */
    assert_int_equal(jp_sig_verify(pub, msg, sizeof msg, sig), JP_ESIG);
    jp_key_destroy(&key);
}

/* docs/FORMAT.md's example change: the hex block after "### Example" and
 * the hash the text gives.  It decodes, its id is of its store and of its
 * hlc's instant, it carries every field a new record of its kind needs,
 * and its hash is the one printed. */
static void
test_format_example(void **state)
{
    (void)state;
    FILE *f = fopen(JP_SOURCE_DIR "/docs/FORMAT.md", "r");
    assert_non_null(f);
    char line[512], hash_hex[65] = "";
    uint8_t bytes[1024];
    size_t n = 0;
    int phase = 0; /* 0 before the example, 1 before its block, 2 in it, 3 after */
    while (fgets(line, sizeof line, f)) {
        if (phase == 0 && strncmp(line, "### Example", 11) == 0)
            phase = 1;
        else if ((phase == 1 || phase == 2) && strncmp(line, "```", 3) == 0)
            phase++;
        else if (phase == 2)
            for (char *p = line; *p;) {
                unsigned v;
                int used;
                if (sscanf(p, " %2x%n", &v, &used) != 1)
                    break;
                assert_true(n < sizeof bytes);
                bytes[n++] = (uint8_t)v;
                p += used;
            }
        else if (phase == 3 && strstr(line, "`") && !hash_hex[0]) {
            const char *q = strchr(line, '`');
            if (q && strspn(q + 1, "0123456789abcdef") == 64)
                snprintf(hash_hex, sizeof hash_hex, "%.64s", q + 1);
        }
    }
    fclose(f);
    assert_int_equal(phase, 3);
    assert_true(n > 0);
    jp_change_t ch;
    jp_err_t err;
    if (jp_change_decode(bytes, n, &ch, &err))
        fail_msg("FORMAT.md's example does not decode: %s", err.msg);
    assert_int_equal(jp_id_store(&ch.id), ch.store);
    assert_int_equal(jp_id_ms(&ch.id), ch.hlc >> 16);
    for (unsigned fid = 0; fid < JP_F_COUNT; fid++)
        if ((jp_field_def(fid)->required >> ch.kind) & 1u)
            if (!jp_change_get(&ch, fid))
                fail_msg("FORMAT.md's example lacks %s, required on create",
                         jp_field_def(fid)->name);
    uint8_t h[JP_HASH_LEN];
    char hex[2 * JP_HASH_LEN + 1];
    assert_int_equal(jp_sha256(bytes, n, h), 0);
    jp_hex(h, sizeof h, hex);
    assert_string_equal(hex, hash_hex);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doc_messages), cmocka_unit_test(test_doc_errors),
        cmocka_unit_test(test_doc_limits),   cmocka_unit_test(test_format_example),
        cmocka_unit_test(test_round_trip),   cmocka_unit_test(test_frame_limit),
        cmocka_unit_test(test_truncations),  cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_oversize),     cmocka_unit_test(test_random_flips),
        cmocka_unit_test(test_push_1000),    cmocka_unit_test(test_builder_limits),
        cmocka_unit_test(test_list_bytes),   cmocka_unit_test(test_receipt_msg),
    };
    s_init_texts();
    return cmocka_run_group_tests(tests, s_read_doc, NULL);
}
