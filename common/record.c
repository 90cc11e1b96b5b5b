/*
 * record.c -- field values, change builders, and the merge.
 *
 * The merge is last-writer-wins per field, ordered by (hlc, store).  It is
 * a pure function of the record and the change, and commutative and
 * idempotent over any set of changes, because each slot ends up holding the
 * value of the greatest stamp seen, whatever the order they arrived in.
 */
#include "record.h"
#include "validate.h"
#include "err.h"

#include <stdio.h>
#include <string.h>

void
jp_record_init(jp_record_t *r, const jp_id_t *id)
{
    memset(r, 0, sizeof *r);
    r->id = *id;
}

int
jp_merge(jp_record_t *r, const jp_change_t *ch)
{
    if (jp_id_cmp(&r->id, &ch->id) != 0)
        return JP_EINVAL;
    if (r->kind != JP_K_NONE && r->kind != ch->kind)
        return JP_EINVAL;
    r->kind = ch->kind;

    int changed = 0;
    for (unsigned i = 0; i < ch->nfields; i++) {
        const jp_fval_t *fv = &ch->f[i];
        jp_slot_t *s = &r->f[fv->id];
        if (s->set && !jp_stamp_gt(ch->hlc, ch->store, s->hlc, s->store))
            continue;
        s->set = true;
        s->hlc = ch->hlc;
        s->store = ch->store;
        s->v = fv->v;
        changed++;
    }
    return changed;
}

bool
jp_record_deleted(const jp_record_t *r)
{
    const jp_slot_t *s = &r->f[JP_F_DELETED];
    return s->set && s->v.type == JP_T_BOOL && s->v.u.b;
}

int64_t
jp_record_int(const jp_record_t *r, unsigned fid, int64_t fallback)
{
    if (fid >= JP_F_COUNT)
        return fallback;
    const jp_slot_t *s = &r->f[fid];
    if (!s->set || s->v.type == 0 || s->v.type == JP_T_STR || s->v.type == JP_T_REF)
        return fallback;
    return s->v.type == JP_T_BOOL ? (int64_t)s->v.u.b : s->v.u.i;
}

const char *
jp_record_str(const jp_record_t *r, unsigned fid, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    out[0] = '\0';
    if (fid >= JP_F_COUNT)
        return out;
    const jp_slot_t *s = &r->f[fid];
    if (!s->set || s->v.type != JP_T_STR)
        return out;
    jp_text_show(s->v.u.s.p, s->v.u.s.n, out, cap);
    return out;
}

const jp_id_t *
jp_record_ref(const jp_record_t *r, unsigned fid)
{
    if (fid >= JP_F_COUNT)
        return NULL;
    const jp_slot_t *s = &r->f[fid];
    return s->set && s->v.type == JP_T_REF ? &s->v.u.ref : NULL;
}

bool
jp_val_eq(const jp_val_t *a, const jp_val_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case 0:
        return true;
    case JP_T_BOOL:
        return a->u.b == b->u.b;
    case JP_T_REF:
        return jp_id_cmp(&a->u.ref, &b->u.ref) == 0;
    case JP_T_STR:
        return a->u.s.n == b->u.s.n && memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
    default:
        return a->u.i == b->u.i;
    }
}

/* The slot for fid in ch, inserted in order if absent. */
static jp_val_t *
s_change_slot(jp_change_t *ch, unsigned fid)
{
    unsigned i = 0;
    while (i < ch->nfields && ch->f[i].id < fid)
        i++;
    if (i < ch->nfields && ch->f[i].id == fid)
        return &ch->f[i].v;
    memmove(&ch->f[i + 1], &ch->f[i], (ch->nfields - i) * sizeof ch->f[0]);
    ch->nfields++;
    ch->f[i].id = (uint8_t)fid;
    memset(&ch->f[i].v, 0, sizeof ch->f[i].v);
    return &ch->f[i].v;
}

void
jp_change_set_str(jp_change_t *ch, unsigned fid, const char *p, size_t n)
{
    jp_val_t *v = s_change_slot(ch, fid);
    v->type = JP_T_STR;
    v->u.s.p = p;
    v->u.s.n = (uint32_t)n;
}

void
jp_change_set_int(jp_change_t *ch, unsigned fid, int64_t i)
{
    const jp_field_def_t *f = jp_field_def(fid);
    jp_val_t *v = s_change_slot(ch, fid);
    v->type = f ? f->type : JP_T_INT;
    v->u.i = i;
}

void
jp_change_set_ref(jp_change_t *ch, unsigned fid, const jp_id_t *id)
{
    jp_val_t *v = s_change_slot(ch, fid);
    v->type = JP_T_REF;
    v->u.ref = *id;
}

void
jp_change_set_bool(jp_change_t *ch, unsigned fid, bool b)
{
    jp_val_t *v = s_change_slot(ch, fid);
    v->type = JP_T_BOOL;
    v->u.b = b;
}

void
jp_change_set_nil(jp_change_t *ch, unsigned fid)
{
    jp_val_t *v = s_change_slot(ch, fid);
    v->type = 0;
}

const jp_fval_t *
jp_change_get(const jp_change_t *ch, unsigned fid)
{
    for (unsigned i = 0; i < ch->nfields; i++) {
        if (ch->f[i].id == fid)
            return &ch->f[i];
    }
    return NULL;
}

void
jp_val_text(const jp_field_def_t *f, const jp_val_t *v, bool full, char *out, size_t cap)
{
    char tmp[JP_MAX_STR + 1];
    if (cap == 0)
        return;
    out[0] = '\0';
    switch (v->type) {
    case 0:
        snprintf(out, cap, "(cleared)");
        break;
    case JP_T_STR:
        jp_text_show(v->u.s.p, v->u.s.n, tmp, sizeof tmp);
        if (!full && f && f->id == JP_F_PHONE)
            jp_phone_mask(tmp, out, cap);
        else if (!full && f && f->id == JP_F_ID_NUMBER)
            jp_idnum_mask(tmp, out, cap);
        else
            snprintf(out, cap, "%s", tmp);
        break;
    case JP_T_INT:
        snprintf(out, cap, "%lld", (long long)v->u.i);
        break;
    case JP_T_TIME: {
        char t[17];
        jp_format_instant(v->u.i, t);
        snprintf(out, cap, "%s", t);
        break;
    }
    case JP_T_DATE: {
        char d[11];
        jp_format_date(v->u.i, d);
        snprintf(out, cap, "%s", d);
        break;
    }
    case JP_T_MONEY: {
        char m[24];
        jp_format_money(v->u.i, m);
        snprintf(out, cap, "%s", m);
        break;
    }
    case JP_T_ENUM: {
        const char *w = f ? jp_enum_word(f, (unsigned)v->u.i) : NULL;
        if (w)
            snprintf(out, cap, "%s", w);
        else
            snprintf(out, cap, "#%lld", (long long)v->u.i);
        break;
    }
    case JP_T_REF: {
        char id[JP_ID_TEXT_LEN + 1];
        jp_id_format(&v->u.ref, id);
        snprintf(out, cap, "%s", id);
        break;
    }
    case JP_T_BOOL:
        snprintf(out, cap, "%s", v->u.b ? "true" : "false");
        break;
    default:
        snprintf(out, cap, "?");
    }
}
