/*
 * codec.c -- msgpack encoding of changes and record states.
 *
 * Encoding goes through msgpack-c's packer, which always picks the
 * smallest form, into a jp_buf_t.  Decoding uses a small bounded reader
 * (a cursor and an end pointer): every length is checked against the bytes
 * that remain before it is used, and text and ids are borrowed from the
 * input.  Canonical form is checked as the bytes are read, without a second
 * encoding: every integer and every str, bin, array and map header must be
 * in the smallest form msgpack-c packs it in, map keys and field entries
 * must ascend, and nothing may follow.  With those, decode(encode(x)) is
 * the only byte form either decoder accepts, so one change has exactly one
 * SHA-256 and one state one digest (fuzz/fuzz_codec.c checks the round
 * trip on every input it gets through).
 */
#include "codec.h"

#include <msgpack.h>
#include <string.h>

#define S_MAX_AUTHOR 128

/* ---- encoding ---------------------------------------------------------- */

static int
s_write(void *data, const char *p, size_t n)
{
    return jp_buf_append(data, p, n) == 0 ? 0 : -1;
}

static int
s_pack_val(msgpack_packer *pk, const jp_val_t *v)
{
    switch (v->type) {
    case 0:
        return msgpack_pack_nil(pk);
    case JP_T_STR:
        if (msgpack_pack_str(pk, v->u.s.n))
            return -1;
        return msgpack_pack_str_body(pk, v->u.s.p, v->u.s.n);
    case JP_T_REF:
        if (msgpack_pack_bin(pk, 16))
            return -1;
        return msgpack_pack_bin_body(pk, v->u.ref.b, 16);
    case JP_T_BOOL:
        return v->u.b ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case JP_T_ENUM:
        return msgpack_pack_uint64(pk, (uint64_t)v->u.i);
    default:
        return msgpack_pack_int64(pk, v->u.i);
    }
}

int
jp_change_encode(const jp_change_t *ch, jp_buf_t *out)
{
    size_t start = out->len;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, s_write);
    int rc = msgpack_pack_array(&pk, 9);
    rc |= msgpack_pack_uint64(&pk, JP_CODEC_VERSION);
    rc |= msgpack_pack_uint64(&pk, ch->store);
    rc |= msgpack_pack_uint64(&pk, ch->seq);
    rc |= msgpack_pack_uint64(&pk, ch->hlc);
    rc |= msgpack_pack_bin(&pk, 16);
    rc |= msgpack_pack_bin_body(&pk, ch->id.b, 16);
    rc |= msgpack_pack_uint64(&pk, ch->kind);
    rc |= msgpack_pack_str(&pk, ch->author_len);
    rc |= msgpack_pack_str_body(&pk, ch->author, ch->author_len);
    rc |= msgpack_pack_bin(&pk, 32);
    rc |= msgpack_pack_bin_body(&pk, ch->prev, 32);
    rc |= msgpack_pack_map(&pk, ch->nfields);
    for (unsigned i = 0; i < ch->nfields && rc == 0; i++) {
        rc |= msgpack_pack_uint64(&pk, ch->f[i].id);
        rc |= s_pack_val(&pk, &ch->f[i].v);
    }
    if (rc) {
        out->len = start;
        return JP_ENOMEM;
    }
    return 0;
}

int
jp_record_encode(const jp_record_t *r, jp_buf_t *out)
{
    size_t start = out->len;
    unsigned n = 0;
    for (unsigned f = 0; f < JP_F_COUNT; f++)
        n += r->f[f].set;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, s_write);
    int rc = msgpack_pack_array(&pk, 3);
    rc |= msgpack_pack_uint64(&pk, JP_CODEC_VERSION);
    rc |= msgpack_pack_uint64(&pk, r->kind);
    rc |= msgpack_pack_array(&pk, n);
    for (unsigned f = 0; f < JP_F_COUNT && rc == 0; f++) {
        const jp_slot_t *s = &r->f[f];
        if (!s->set)
            continue;
        rc |= msgpack_pack_array(&pk, 4);
        rc |= msgpack_pack_uint64(&pk, f);
        rc |= msgpack_pack_uint64(&pk, s->hlc);
        rc |= msgpack_pack_uint64(&pk, s->store);
        rc |= s_pack_val(&pk, &s->v);
    }
    if (rc) {
        out->len = start;
        return JP_ENOMEM;
    }
    return 0;
}

/* ---- decoding ---------------------------------------------------------- */

typedef struct {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last byte */
    const char *what;   /* "change" or "record", for messages */
    jp_err_t *err;
    bool loose; /* a length or integer not in its smallest form was read */
} s_rd_t;

static int
s_fail(s_rd_t *rd, int code, const char *why)
{
    return jp_err_set(rd->err, code, "%s: %s", rd->what, why);
}

static int
s_need(s_rd_t *rd, size_t n)
{
    return (size_t)(rd->end - rd->p) >= n ? 0 : JP_ECORRUPT;
}

static uint64_t
s_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A container or string header: its length, for the tag families given. */
static int
s_len(s_rd_t *rd, uint8_t fix_lo, uint8_t fix_hi, uint8_t t8, uint8_t t16, uint8_t t32,
      uint32_t *n)
{
    if (s_need(rd, 1))
        return JP_ECORRUPT;
    uint8_t t = *rd->p;
    int w;
    if (t >= fix_lo && t <= fix_hi) {
        *n = t - fix_lo;
        rd->p++;
        return 0;
    }
    if (t8 && t == t8)
        w = 1;
    else if (t == t16)
        w = 2;
    else if (t == t32)
        w = 4;
    else
        return JP_EINVAL; /* not this type */
    if (s_need(rd, 1 + (size_t)w))
        return JP_ECORRUPT;
    *n = (uint32_t)s_be(rd->p + 1, w);
    rd->p += 1 + w;
    /* Canonical: the smallest form that holds n, as msgpack-c packs it
     * (a fix form up to its limit, then 8-bit where the type has one,
     * 16-bit, 32-bit). */
    uint32_t below = w == 1   ? (fix_hi >= fix_lo ? (uint32_t)(fix_hi - fix_lo) + 1 : 0)
                     : w == 2 ? (t8 ? 256u : (uint32_t)(fix_hi - fix_lo) + 1)
                              : 65536u;
    if (*n < below)
        rd->loose = true;
    return 0;
}

static int
s_array(s_rd_t *rd, uint32_t *n)
{
    int rc = s_len(rd, 0x90, 0x9f, 0, 0xdc, 0xdd, n);
    if (rc == 0 && *n > (size_t)(rd->end - rd->p)) /* each element >= 1 byte */
        return JP_ECORRUPT;
    return rc;
}

static int
s_map(s_rd_t *rd, uint32_t *n)
{
    int rc = s_len(rd, 0x80, 0x8f, 0, 0xde, 0xdf, n);
    if (rc == 0 && *n > (size_t)(rd->end - rd->p) / 2)
        return JP_ECORRUPT;
    return rc;
}

/* Borrow a str or bin body of length n. */
static int
s_body(s_rd_t *rd, uint32_t n, const uint8_t **p)
{
    if (s_need(rd, n))
        return JP_ECORRUPT;
    *p = rd->p;
    rd->p += n;
    return 0;
}

static int
s_str(s_rd_t *rd, const uint8_t **p, uint32_t *n)
{
    int rc = s_len(rd, 0xa0, 0xbf, 0xd9, 0xda, 0xdb, n);
    return rc ? rc : s_body(rd, *n, p);
}

static int
s_bin(s_rd_t *rd, const uint8_t **p, uint32_t *n)
{
    int rc = s_len(rd, 1, 0, 0xc4, 0xc5, 0xc6, n); /* no fix form */
    return rc ? rc : s_body(rd, *n, p);
}

/* Any msgpack integer; *neg set when it is negative. */
static int
s_int(s_rd_t *rd, uint64_t *u, bool *neg)
{
    if (s_need(rd, 1))
        return JP_ECORRUPT;
    uint8_t t = *rd->p;
    *neg = false;
    if (t <= 0x7f) {
        *u = t;
        rd->p++;
        return 0;
    }
    if (t >= 0xe0) {
        *u = (uint64_t)(int64_t)(int8_t)t;
        *neg = true;
        rd->p++;
        return 0;
    }
    int w;
    bool is_signed;
    switch (t) {
    case 0xcc:
        w = 1;
        is_signed = false;
        break;
    case 0xcd:
        w = 2;
        is_signed = false;
        break;
    case 0xce:
        w = 4;
        is_signed = false;
        break;
    case 0xcf:
        w = 8;
        is_signed = false;
        break;
    case 0xd0:
        w = 1;
        is_signed = true;
        break;
    case 0xd1:
        w = 2;
        is_signed = true;
        break;
    case 0xd2:
        w = 4;
        is_signed = true;
        break;
    case 0xd3:
        w = 8;
        is_signed = true;
        break;
    default:
        return JP_EINVAL;
    }
    if (s_need(rd, 1 + (size_t)w))
        return JP_ECORRUPT;
    uint64_t v = s_be(rd->p + 1, w);
    rd->p += 1 + w;
    if (is_signed) {
        int64_t sv;
        switch (w) {
        case 1:
            sv = (int8_t)v;
            break;
        case 2:
            sv = (int16_t)v;
            break;
        case 4:
            sv = (int32_t)v;
            break;
        default:
            sv = (int64_t)v;
            break;
        }
        *neg = sv < 0;
        v = (uint64_t)sv;
        /* Canonical: signed forms only for negatives below the next
         * smaller form's range (msgpack-c's pack_int64). */
        int64_t lo = w == 1 ? -32 : w == 2 ? -128 : w == 4 ? -32768 : -2147483648LL;
        if (sv >= lo)
            rd->loose = true;
    } else if (v <= (w == 1 ? 0x7fu : w == 2 ? 0xffu : w == 4 ? 0xffffu : 0xffffffffu)) {
        rd->loose = true; /* an unsigned form wider than the value needs */
    }
    *u = v;
    return 0;
}

static int
s_uint(s_rd_t *rd, uint64_t max, uint64_t *u, const char *name)
{
    bool neg;
    int rc = s_int(rd, u, &neg);
    if (rc == JP_ECORRUPT)
        return s_fail(rd, JP_ECORRUPT, "truncated");
    if (rc || neg)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: %s is not an unsigned integer",
                          rd->what, name);
    if (*u > max)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: %s out of range", rd->what, name);
    return 0;
}

static int
s_fixed_bin(s_rd_t *rd, size_t want, uint8_t *out, const char *name)
{
    const uint8_t *p = NULL;
    uint32_t n = 0;
    int rc = s_bin(rd, &p, &n);
    if (rc == JP_ECORRUPT)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: truncated in %s", rd->what, name);
    if (rc || n != want)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: %s must be bin of %zu bytes",
                          rd->what, name, want);
    memcpy(out, p, want);
    return 0;
}

static const char *
s_type_word(uint8_t type)
{
    switch (type) {
    case JP_T_STR:
        return "str";
    case JP_T_REF:
        return "bin 16";
    case JP_T_BOOL:
        return "bool";
    case JP_T_ENUM:
        return "uint";
    default:
        return "int";
    }
}

/* One value of field def, into v (nil allowed). */
static int
s_value(s_rd_t *rd, const jp_field_def_t *f, jp_val_t *v)
{
    if (s_need(rd, 1))
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: truncated in field %u (%s)",
                          rd->what, f->id, f->name);
    memset(v, 0, sizeof *v);
    uint8_t t = *rd->p;
    if (t == 0xc0) {
        rd->p++;
        return 0;
    }
    int rc = JP_EINVAL;
    switch (f->type) {
    case JP_T_STR: {
        const uint8_t *p = NULL;
        uint32_t n = 0;
        rc = s_str(rd, &p, &n);
        if (rc == 0 && n > JP_MAX_STR)
            return jp_err_set(rd->err, JP_ETOOBIG,
                              "%s: field %u (%s) longer than %d bytes", rd->what, f->id,
                              f->name, JP_MAX_STR);
        v->u.s.p = (const char *)p;
        v->u.s.n = n;
        break;
    }
    case JP_T_REF: {
        const uint8_t *p = NULL;
        uint32_t n = 0;
        rc = s_bin(rd, &p, &n);
        if (rc == 0 && n != 16)
            rc = JP_EINVAL;
        if (rc == 0)
            memcpy(v->u.ref.b, p, 16);
        break;
    }
    case JP_T_BOOL:
        if (t == 0xc2 || t == 0xc3) {
            v->u.b = t == 0xc3;
            rd->p++;
            rc = 0;
        }
        break;
    default: {
        uint64_t u = 0;
        bool neg;
        rc = s_int(rd, &u, &neg);
        if (rc == 0 && f->type == JP_T_ENUM) {
            unsigned count = 0;
            while (f->words[count])
                count++;
            if (neg || u == 0 || u > count)
                return jp_err_set(rd->err, JP_ECORRUPT,
                                  "%s: field %u (%s) enum value out of range", rd->what,
                                  f->id, f->name);
        } else if (rc == 0 && !neg && u > INT64_MAX) {
            return jp_err_set(rd->err, JP_ECORRUPT, "%s: field %u (%s) overflows int64",
                              rd->what, f->id, f->name);
        }
        v->u.i = (int64_t)u;
        break;
    }
    }
    if (rc == JP_ECORRUPT)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: truncated in field %u (%s)",
                          rd->what, f->id, f->name);
    if (rc)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: field %u (%s) must be %s", rd->what,
                          f->id, f->name, s_type_word(f->type));
    v->type = f->type;
    return 0;
}

/* The field id that follows, checked against the schema and the kind. */
static int
s_field_id(s_rd_t *rd, uint8_t kind, int prev, const jp_field_def_t **f)
{
    uint64_t id = 0;
    int rc = s_uint(rd, 255, &id, "field number");
    if (rc)
        return rc;
    *f = jp_field_def((unsigned)id);
    if (!*f)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: unknown field %u", rd->what,
                          (unsigned)id);
    if (!jp_kind_has((jp_kind_t)kind, *f))
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: field %u (%s) does not apply to %s",
                          rd->what, (unsigned)id, (*f)->name, jp_kind_name(kind));
    if ((int)id <= prev)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: field %u out of order or repeated",
                          rd->what, (unsigned)id);
    return 0;
}

static int
s_version(s_rd_t *rd)
{
    uint64_t v;
    int rc = s_uint(rd, UINT64_MAX, &v, "version");
    if (rc)
        return rc;
    if (v != JP_CODEC_VERSION)
        return jp_err_set(rd->err, JP_EVERSION, "%s: unknown version %llu", rd->what,
                          (unsigned long long)v);
    return 0;
}

static int
s_kind(s_rd_t *rd, uint8_t *kind)
{
    uint64_t k;
    int rc = s_uint(rd, JP_K_COUNT - 1, &k, "kind");
    if (rc)
        return rc;
    if (k == JP_K_NONE)
        return jp_err_set(rd->err, JP_ECORRUPT, "%s: kind 0", rd->what);
    *kind = (uint8_t)k;
    return 0;
}

int
jp_change_decode(const uint8_t *p, size_t n, jp_change_t *ch, jp_err_t *err)
{
    if (n > JP_MAX_CHANGE)
        return jp_err_set(err, JP_ETOOBIG, "change: %zu bytes, limit %d", n,
                          JP_MAX_CHANGE);
    s_rd_t rd = {p, p + n, "change", err};
    uint32_t len;
    int rc = s_array(&rd, &len);
    if (rc || len != 9)
        return jp_err_set(err, JP_ECORRUPT, "change: not an array of 9 elements");
    if ((rc = s_version(&rd)))
        return rc;
    uint64_t u = 0;
    memset(ch, 0, offsetof(jp_change_t, f));
    if ((rc = s_uint(&rd, UINT16_MAX, &u, "store")))
        return rc;
    ch->store = (uint16_t)u;
    if ((rc = s_uint(&rd, UINT64_MAX, &ch->seq, "seq")))
        return rc;
    if ((rc = s_uint(&rd, UINT64_MAX, &ch->hlc, "hlc")))
        return rc;
    if ((rc = s_fixed_bin(&rd, 16, ch->id.b, "id")))
        return rc;
    if ((rc = s_kind(&rd, &ch->kind)))
        return rc;
    const uint8_t *ap;
    rc = s_str(&rd, &ap, &ch->author_len);
    if (rc)
        return jp_err_set(err, JP_ECORRUPT, "change: author must be str");
    if (ch->author_len > S_MAX_AUTHOR)
        return jp_err_set(err, JP_ETOOBIG, "change: author longer than %d bytes",
                          S_MAX_AUTHOR);
    ch->author = (const char *)ap;
    if ((rc = s_fixed_bin(&rd, 32, ch->prev, "prev")))
        return rc;
    uint32_t nf;
    rc = s_map(&rd, &nf);
    if (rc)
        return jp_err_set(err, JP_ECORRUPT, "change: fields must be a map");
    if (nf > JP_MAX_FIELDS)
        return jp_err_set(err, JP_ECORRUPT, "change: %u fields, at most %d", nf,
                          JP_MAX_FIELDS);
    int prev = -1;
    for (uint32_t i = 0; i < nf; i++) {
        const jp_field_def_t *f;
        if ((rc = s_field_id(&rd, ch->kind, prev, &f)))
            return rc;
        prev = f->id;
        ch->f[i].id = f->id;
        if ((rc = s_value(&rd, f, &ch->f[i].v)))
            return rc;
    }
    ch->nfields = (uint8_t)nf;
    if (rd.p != rd.end)
        return jp_err_set(err, JP_ECORRUPT, "change: %td trailing bytes", rd.end - rd.p);
    /* With the fields ascending (checked above) and every length and
     * integer in its smallest form, the bytes are the ones jp_change_encode
     * writes: one change, one byte form, one hash. */
    if (rd.loose)
        return jp_err_set(
            err, JP_ECORRUPT,
            "change: not in canonical form (non-minimal integer or length)");
    return 0;
}

int
jp_record_decode(const uint8_t *p, size_t n, const jp_id_t *id, jp_record_t *r,
                 jp_err_t *err)
{
    s_rd_t rd = {p, p + n, "record", err};
    uint32_t len;
    int rc = s_array(&rd, &len);
    if (rc || len != 3)
        return jp_err_set(err, JP_ECORRUPT, "record: not an array of 3 elements");
    if ((rc = s_version(&rd)))
        return rc;
    jp_record_init(r, id);
    if ((rc = s_kind(&rd, &r->kind)))
        return rc;
    uint32_t nf;
    rc = s_array(&rd, &nf);
    if (rc || nf > JP_F_COUNT)
        return jp_err_set(err, JP_ECORRUPT, "record: bad field list");
    int prev = -1;
    for (uint32_t i = 0; i < nf; i++) {
        uint32_t four;
        rc = s_array(&rd, &four);
        if (rc || four != 4)
            return jp_err_set(err, JP_ECORRUPT,
                              "record: field entry %u is not an array of 4", i);
        const jp_field_def_t *f;
        if ((rc = s_field_id(&rd, r->kind, prev, &f)))
            return rc;
        prev = f->id;
        jp_slot_t *s = &r->f[f->id];
        uint64_t store;
        if ((rc = s_uint(&rd, UINT64_MAX, &s->hlc, "hlc")))
            return rc;
        if ((rc = s_uint(&rd, UINT16_MAX, &store, "store")))
            return rc;
        s->store = (uint16_t)store;
        if ((rc = s_value(&rd, f, &s->v)))
            return rc;
        s->set = true;
    }
    if (rd.p != rd.end)
        return jp_err_set(err, JP_ECORRUPT, "record: %td trailing bytes", rd.end - rd.p);
    /* The same rule as a change's: a state digest (and the equality of two
     * nodes' states) is over these bytes, so a state has one form. */
    if (rd.loose)
        return jp_err_set(
            err, JP_ECORRUPT,
            "record: not in canonical form (non-minimal integer or length)");
    return 0;
}
