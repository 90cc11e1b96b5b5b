/*
 * card.c -- what a service adviser sees of a customer: the timeline, the
 * card class, and one readable line per event.
 *
 * The timeline comes from the ix_cust index (vehicles by delivery, events
 * by time).  The class is the statistics engine's (common/stats.h), as of
 * now, for the whole person (every row sharing a phone or ID number) over
 * every record this store holds: the same rules as `report`, so a card
 * never disagrees with the counts.
 */
#include "card.h"

#include "i18n.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "validate.h"

static int
s_push(cli_timeline_t *tl, const jp_id_t *id, const jp_record_t *r)
{
    if (tl->n == tl->cap) {
        int cap = tl->cap ? tl->cap * 2 : 32;
        cli_entry_t *e = realloc(tl->e, (size_t)cap * sizeof *e);
        if (!e)
            return JP_ENOMEM;
        tl->e = e;
        tl->cap = cap;
    }
    cli_entry_t *e = &tl->e[tl->n++];
    e->id = *id;
    e->kind = r->kind;
    e->at = jp_record_int(r, r->kind == JP_K_VEHICLE ? JP_F_DELIVERED_AT : JP_F_AT, 0);
    e->deleted = jp_record_deleted(r);
    return 0;
}

typedef struct {
    jp_txn_t *txn;       /* read transaction */
    cli_timeline_t *tl;  /* being filled */
    const jp_id_t *cust; /* whose timeline */
    bool deleted_only;   /* the --all scan: only tombstoned records */
} s_load_t;

/* Add the other end of a live link to the rows to load. */
static void
s_follow(cli_timeline_t *tl, const jp_id_t *link, const jp_record_t *r)
{
    if (jp_record_deleted(r))
        return; /* unlinked */
    for (unsigned f = JP_F_LINK_A; f <= JP_F_LINK_B; f++) {
        const jp_id_t *other = jp_record_ref(r, f);
        bool seen = !other;
        for (int i = 0; i < tl->nrows && !seen; i++)
            seen = jp_id_cmp(&tl->row[i], other) == 0;
        if (!seen && tl->nrows < CLI_MAX_LINKED) {
            tl->row[tl->nrows] = *other;
            tl->link[tl->nrows] = *link;
            tl->nrows++;
        }
    }
}

static int
s_on_record(void *arg, const jp_id_t *id)
{
    s_load_t *l = arg;
    jp_record_t r;
    if (jp_txn_get(l->txn, id, &r) != 0)
        return 0;
    if (r.kind == JP_K_LINK) {
        if (!l->deleted_only)
            s_follow(l->tl, id, &r);
        return 0;
    }
    if (l->deleted_only) {
        const jp_id_t *cust = jp_record_ref(&r, JP_F_CUSTOMER);
        if (!jp_record_deleted(&r) || !cust || jp_id_cmp(cust, l->cust) != 0)
            return 0;
        for (int i = 0; i < l->tl->n; i++) {
            if (jp_id_cmp(&l->tl->e[i].id, id) == 0)
                return 0;
        }
    }
    return s_push(l->tl, id, &r);
}

static int
s_entry_cmp(const void *a, const void *b)
{
    const cli_entry_t *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return jp_id_cmp(&x->id, &y->id);
}

int
cli_timeline_load(jp_txn_t *txn, const jp_id_t *cust, bool all, cli_timeline_t *tl)
{
    s_load_t l = {txn, tl, cust, false};
    int rc;
    tl->row[0] = *cust;
    memset(&tl->link[0], 0, sizeof tl->link[0]);
    tl->nrows = 1;
    /* Rows found through links are appended to row[] as they are met. */
    for (int i = 0; i < tl->nrows; i++) {
        l.cust = &tl->row[i];
        rc = jp_txn_timeline(txn, l.cust, s_on_record, &l);
        if (rc < 0 && rc != JP_ENOTFOUND)
            return rc;
    }
    if (all) {
        l.deleted_only = true;
        for (int i = 0; i < tl->nrows; i++) {
            l.cust = &tl->row[i];
            rc = jp_txn_each_record(txn, s_on_record, &l);
            if (rc < 0)
                return rc;
        }
    }
    if (tl->n > 1) /* e is NULL for an empty timeline */
        qsort(tl->e, (size_t)tl->n, sizeof *tl->e, s_entry_cmp);
    return 0;
}

void
cli_timeline_free(cli_timeline_t *tl)
{
    free(tl->e);
    tl->e = NULL;
    tl->n = tl->cap = 0;
}

int64_t
cli_last_visit(const cli_timeline_t *tl)
{
    int64_t last = INT64_MIN;
    for (int i = 0; i < tl->n; i++) {
        if (tl->e[i].kind == JP_K_SERVICE && !tl->e[i].deleted && tl->e[i].at > last)
            last = tl->e[i].at;
    }
    return last;
}

/* When the complaint was first contacted and resolved (INT64_MIN: not
 * yet), from the complaint_contact and complaint_resolved entries. */
static void
s_complaint_state(jp_txn_t *txn, const cli_timeline_t *tl, const jp_id_t *complaint,
                  int64_t *contacted, int64_t *resolved)
{
    *contacted = *resolved = INT64_MIN;
    for (int i = 0; i < tl->n; i++) {
        const cli_entry_t *e = &tl->e[i];
        jp_record_t r;
        if (e->deleted ||
            (e->kind != JP_K_COMPLAINT_CONTACT && e->kind != JP_K_COMPLAINT_RESOLVED))
            continue;
        if (jp_txn_get(txn, &e->id, &r) != 0)
            continue;
        const jp_id_t *of = jp_record_ref(&r, JP_F_COMPLAINT);
        if (!of || jp_id_cmp(of, complaint) != 0)
            continue;
        int64_t *slot = e->kind == JP_K_COMPLAINT_CONTACT ? contacted : resolved;
        if (*slot == INT64_MIN || e->at < *slot)
            *slot = e->at;
    }
}

void
cli_card_class(jp_txn_t *txn, const jp_record_t *cust, const cli_timeline_t *tl,
               char *out, size_t cap)
{
    static const char *const words[JP_CLASSES] = {
        NW_("class", "loyal"), NW_("class", "effective"), NW_("class", "deal"),
        NW_("class", "data-only")};
    jp_base_t *b = NULL;
    jp_scope_t *all = malloc(sizeof *all);
    jp_standing_t st;
    (void)tl; /* the engine reads the whole person, not this row's timeline */
    snprintf(out, cap, "-");
    if (!all)
        return;
    jp_scope_all(all);
    if (jp_base_load_customer(txn, (int64_t)jp_now_ms(), &cust->id, &b, NULL) == 0 &&
        jp_stats_standing(b, all, &cust->id, &st) == 0) {
        if (st.cls >= 0)
            snprintf(out, cap, "%s", jp_tr_word("class", words[st.cls]));
        else if (st.grade && st.defeated)
            snprintf(out, cap, "%s", _("defeated"));
        else if (st.grade)
            snprintf(out, cap, _("grade %s"),
                     jp_enum_word(jp_field_def(JP_F_GRADE), st.grade));
    }
    jp_base_destroy(&b);
    free(all);
}

/* Append to out, with sep before anything but the first piece. */
static void s_cat(char *out, size_t cap, const char *sep, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
s_cat(char *out, size_t cap, const char *sep, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    if (n && n + 1 < cap)
        n += (size_t)snprintf(out + n, cap - n, "%s", sep);
    if (n + 1 >= cap)
        return;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* A field's value as text ("" when unset). */
static const char *
s_field(const jp_record_t *r, unsigned fid, char *buf, size_t cap)
{
    buf[0] = '\0';
    const jp_field_def_t *def = jp_field_def(fid);
    if (r->f[fid].set && r->f[fid].v.type) {
        jp_val_text(def, &r->f[fid].v, false, buf, cap);
        const char *w = def->type == JP_T_ENUM ? jp_tr_word(def->name, buf) : buf;
        if (w != buf) /* the word in the reader's language */
            snprintf(buf, cap, "%s", w);
    }
    return buf;
}

/* "35 min", "5 h", "3 days" */
static void
s_span(int64_t ms, char *out, size_t cap)
{
    int64_t min = ms / 60000;
    if (min < 120)
        snprintf(out, cap, _("%lld min"), (long long)min);
    else if (min < 48 * 60)
        snprintf(out, cap, _("%lld h"), (long long)(min / 60));
    else
        snprintf(out, cap, _("%lld days"), (long long)(min / (24 * 60)));
}

static void
s_complaint_details(jp_txn_t *txn, const cli_timeline_t *tl, const jp_record_t *r,
                    char *out, size_t cap)
{
    char a[64], b[64], span[32];
    int64_t at = jp_record_int(r, JP_F_AT, 0), contacted, resolved;
    s_cat(out, cap, ", ", "%s %s", s_field(r, JP_F_SEVERITY, a, sizeof a),
          s_field(r, JP_F_SUBJECT, b, sizeof b));
    s_complaint_state(txn, tl, &r->id, &contacted, &resolved);
    if (contacted == INT64_MIN) {
        s_cat(out, cap, ", ", _("not contacted"));
    } else {
        s_span(contacted - at, span, sizeof span);
        s_cat(out, cap, ", ", _("contacted after %s%s"), span,
              contacted - at > 3600000 ? _(" (over 1 h)") : "");
    }
    if (resolved == INT64_MIN) {
        s_cat(out, cap, ", ", _("unresolved"));
    } else {
        s_span(resolved - at, span, sizeof span);
        s_cat(out, cap, ", ", _("resolved after %s"), span);
    }
}

/* "complaint of 2026-03-01 10:00" for its contacts and resolution. */
static void
s_of_complaint(jp_txn_t *txn, const jp_record_t *r, char *out, size_t cap)
{
    jp_record_t cp;
    const jp_id_t *id = jp_record_ref(r, JP_F_COMPLAINT);
    char when[17];
    if (id && jp_txn_get(txn, id, &cp) == 0) {
        jp_format_instant(jp_record_int(&cp, JP_F_AT, 0), when);
        s_cat(out, cap, ", ", _("complaint of %s"), when);
    }
}

void
cli_entry_details(jp_txn_t *txn, const cli_timeline_t *tl, const jp_record_t *r,
                  char *out, size_t cap)
{
    char a[JP_MAX_STR + 1], b[64], cc[64];
    out[0] = '\0';
    switch (r->kind) {
    case JP_K_VEHICLE:
        s_cat(out, cap, ", ", _("sale: %s"), s_field(r, JP_F_MODEL, a, sizeof a));
        if (*s_field(r, JP_F_PLATE, b, sizeof b))
            s_cat(out, cap, " ", "%s", b);
        s_cat(out, cap, ", ", _("VIN %s"), s_field(r, JP_F_VIN, a, sizeof a));
        if (*s_field(r, JP_F_PRICE, b, sizeof b))
            s_cat(out, cap, ", ", _("%s yuan"), b);
        if (*s_field(r, JP_F_SALE_KIND, b, sizeof b))
            s_cat(out, cap, ", ", "%s", b);
        break;
    case JP_K_SERVICE:
        s_cat(out, cap, ", ", "%s", s_field(r, JP_F_SERVICE_TYPE, b, sizeof b));
        if (*s_field(r, JP_F_MILEAGE, b, sizeof b))
            s_cat(out, cap, ", ", _("%s km"), b);
        if (*s_field(r, JP_F_AMOUNT, b, sizeof b))
            s_cat(out, cap, ", ", _("%s yuan"), b);
        s_cat(out, cap, ", ", _("VIN %s"), s_field(r, JP_F_VIN, a, sizeof a));
        break;
    case JP_K_CONTACT:
        s_cat(out, cap, ", ", "%s", s_field(r, JP_F_CHANNEL, b, sizeof b));
        if (*s_field(r, JP_F_PURPOSE, a, sizeof a))
            s_cat(out, cap, ", ", "%s", a);
        break;
    case JP_K_COMPLAINT:
        s_complaint_details(txn, tl, r, out, cap);
        break;
    case JP_K_COMPLAINT_CONTACT:
        if (*s_field(r, JP_F_CHANNEL, b, sizeof b))
            s_cat(out, cap, ", ", "%s", b);
        s_of_complaint(txn, r, out, cap);
        break;
    case JP_K_COMPLAINT_RESOLVED:
        s_of_complaint(txn, r, out, cap);
        break;
    case JP_K_SURVEY:
        s_cat(out, cap, ", ", _("satisfaction %s/5, repurchase %s, recommend %s"),
              s_field(r, JP_F_SATISFACTION, a, sizeof a),
              s_field(r, JP_F_REPURCHASE, b, sizeof b),
              s_field(r, JP_F_RECOMMEND, cc, sizeof cc));
        break;
    case JP_K_REFERRAL: {
        jp_record_t lead;
        const jp_id_t *id = jp_record_ref(r, JP_F_REFERRED);
        if (id && jp_txn_get(txn, id, &lead) == 0)
            s_cat(out, cap, ", ", _("lead %s"),
                  jp_record_str(&lead, JP_F_NAME, a, sizeof a));
        break;
    }
    case JP_K_INSURANCE:
    case JP_K_PACKAGE:
        if (*s_field(r, JP_F_AMOUNT, b, sizeof b))
            s_cat(out, cap, ", ", _("%s yuan"), b);
        break;
    case JP_K_DEFEAT:
        s_cat(out, cap, ", ", _("reason %s"), s_field(r, JP_F_REASON, b, sizeof b));
        break;
    case JP_K_GRADE:
        s_cat(out, cap, ", ", _("grade -> %s"), s_field(r, JP_F_GRADE, b, sizeof b));
        break;
    default:
        break;
    }
    if (*s_field(r, JP_F_NOTE, a, sizeof a))
        s_cat(out, cap, "; ", _("note: %s"), a);
}
