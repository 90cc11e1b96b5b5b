/*
 * fields.c -- field values between the command line and the record model.
 *
 * `add` and `update` take one option per field of the schema table
 * (--name, --service-type, ...), and both parse the values here, with the
 * same validate.h checks the CSV import uses, so that a value typed at the
 * counter and a value imported from the old system are held to one rule.
 * The other direction, a stored value as text for people (masked phone and
 * ID numbers, enum words, dates, yuan), is here too.
 */
#include "store.h"

#include "i18n.h"

#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* Field options spelled with '-' ("service-type"), built once. */
static char s_dash[JP_F_COUNT][32];

/* Fields people edit: everything but the tombstone and the server's links. */
static bool
s_editable(const jp_field_def_t *f)
{
    return f && f->id != JP_F_DELETED && f->id != JP_F_LINK_A && f->id != JP_F_LINK_B;
}

/* "--service-type" for messages. */
static const char *
s_opt(const jp_field_def_t *f, char *buf, size_t cap)
{
    snprintf(buf, cap, "--%s", f->name);
    for (char *p = buf; *p; p++) {
        if (*p == '_')
            *p = '-';
    }
    return buf;
}

struct option *
cli_field_longopts(const struct option *extra)
{
    static const struct option std[] = {CLI_STD_LONGOPTS};
    size_t nstd = sizeof std / sizeof std[0], nextra = 0, k = 0;
    while (extra && extra[nextra].name)
        nextra++;
    struct option *o = calloc(nstd + nextra + 2 * JP_F_COUNT + 1, sizeof *o);
    if (!o)
        return NULL;
    for (size_t i = 0; i < nstd; i++)
        o[k++] = std[i];
    for (size_t i = 0; i < nextra; i++)
        o[k++] = extra[i];
    for (unsigned id = 0; id < JP_F_COUNT; id++) {
        const jp_field_def_t *f = jp_field_def(id);
        if (!s_editable(f))
            continue;
        o[k++] =
            (struct option){f->name, required_argument, NULL, CLI_FIELD_OPT + (int)id};
        if (strchr(f->name, '_')) {
            snprintf(s_dash[id], sizeof s_dash[id], "%s", f->name);
            for (char *p = s_dash[id]; *p; p++) {
                if (*p == '_')
                    *p = '-';
            }
            o[k++] = (struct option){s_dash[id], required_argument, NULL,
                                     CLI_FIELD_OPT + (int)id};
        }
    }
    return o;
}

const jp_field_def_t *
cli_field_named(const char *name)
{
    char n[64];
    snprintf(n, sizeof n, "%s", name);
    for (char *p = n; *p; p++) {
        if (*p == '-')
            *p = '_';
    }
    for (unsigned id = 0; id < JP_F_COUNT; id++) {
        const jp_field_def_t *f = jp_field_def(id);
        if (s_editable(f) && strcmp(f->name, n) == 0)
            return f;
    }
    return NULL;
}

int
cli_fields_add(cli_t *c, cli_fields_t *fs, const jp_field_def_t *f, const char *text)
{
    char opt[48];
    for (int i = 0; i < fs->n; i++) {
        if (fs->def[i] == f)
            return cli_usage_error(c, "%s given twice", s_opt(f, opt, sizeof opt));
    }
    fs->def[fs->n] = f;
    fs->text[fs->n] = text;
    fs->n++;
    return CLI_CONTINUE;
}

/* Text a person typed: not empty, not too long, well-formed UTF-8 (no
 * overlong forms, no surrogates), no control characters (jp_text_check,
 * as every change is checked again when written). */
static const char *
s_text_problem(const char *s, size_t n)
{
    const char *why;
    if (n == 0)
        return N_("is empty (use --clear to remove a value)");
    if (n > JP_MAX_STR)
        return N_("is longer than 1024 bytes");
    if (jp_text_check(s, n, false, &why))
        return why;
    return NULL;
}

/* The import's bounds on instants: from 1990-01-01 local to a day from
 * now (the day absorbs wrong clocks and time zones). */
static const char *
s_instant_problem(int64_t ms)
{
    int64_t lo;
    const char *why;
    if (jp_parse_instant("1990-01-01", 10, &lo, &why) == 0 && ms < lo)
        return N_("is before 1990-01-01");
    if (ms > (int64_t)jp_now_ms() + CLI_DAY_MS)
        return N_("is in the future");
    return NULL;
}

/* The integer range of an INT field. */
static void
s_int_range(const jp_field_def_t *f, int64_t *lo, int64_t *hi)
{
    *lo = 0;
    *hi = INT32_MAX;
    if (f->id == JP_F_SATISFACTION) {
        *lo = 1;
        *hi = 5;
    } else if (f->id == JP_F_MILEAGE) {
        *hi = 9999999; /* odometers have seven digits */
    }
}

/* "one of: a, b, c" for an enum error. */
static void
s_words(const jp_field_def_t *f, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (unsigned i = 0; f->words[i] && k + 1 < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? ", " : "", f->words[i]);
}

/* One value into ch.  norm holds normalised text that ch borrows. */
static int
s_parse_one(cli_t *c, jp_txn_t *txn, jp_kind_t kind, const jp_field_def_t *f,
            const char *text, char norm[32], jp_change_t *ch)
{
    char opt[48], words[256];
    const char *reason = NULL;
    size_t n;
    int64_t v = 0;
    int rc = 0;

    s_opt(f, opt, sizeof opt);
    if (!text) {
        if ((f->required >> kind) & 1u)
            return cli_fail(c, CLI_REFUSED, "--clear %s: a %s must have one", f->name,
                            jp_kind_name(kind));
        jp_change_set_nil(ch, f->id);
        return CLI_OK;
    }
    n = strlen(text);
    switch (f->type) {
    case JP_T_STR:
        if (f->id == JP_F_PHONE) {
            rc = jp_phone_normalize(text, n, norm, &reason);
        } else if (f->id == JP_F_ID_NUMBER) {
            rc = jp_idnum_check(text, n, norm, &reason);
        } else if (f->id == JP_F_VIN) {
            rc = jp_vin_check(text, n, norm, &reason);
        } else {
            reason = s_text_problem(text, n);
            rc = reason ? -1 : 0;
            if (!rc)
                jp_change_set_str(ch, f->id, text, n);
            break;
        }
        if (!rc)
            jp_change_set_str(ch, f->id, norm, strlen(norm));
        break;
    case JP_T_INT: {
        int64_t lo, hi;
        s_int_range(f, &lo, &hi);
        rc = jp_parse_int(text, n, lo, hi, &v, &reason);
        if (!rc)
            jp_change_set_int(ch, f->id, v);
        break;
    }
    case JP_T_TIME:
        rc = jp_parse_instant(text, n, &v, &reason);
        if (!rc && (reason = s_instant_problem(v)))
            rc = -1;
        if (!rc)
            jp_change_set_int(ch, f->id, v);
        break;
    case JP_T_DATE:
        rc = jp_parse_date(text, n, &v, &reason);
        if (!rc && v < CLI_DAY_1900) {
            rc = -1;
            reason = N_("is before 1900-01-01");
        }
        if (!rc)
            jp_change_set_int(ch, f->id, v);
        break;
    case JP_T_MONEY:
        rc = jp_parse_money(text, n, &v, &reason);
        if (!rc)
            jp_change_set_int(ch, f->id, v);
        break;
    case JP_T_ENUM: {
        unsigned ix = jp_enum_index(f, text, n);
        if (!ix) {
            s_words(f, words, sizeof words);
            /* enum words are not personal data; still, quote only a word */
            return cli_fail(c, CLI_REFUSED, "%s: must be one of %s", opt, words);
        }
        jp_change_set_int(ch, f->id, ix);
        break;
    }
    case JP_T_REF: {
        jp_id_t id;
        cli_ref_t want = f->id == JP_F_COMPLAINT ? CLI_REF_COMPLAINT : CLI_REF_CUSTOMER;
        int ec = cli_resolve(c, txn, want, opt, text, &id);
        if (ec)
            return ec;
        jp_change_set_ref(ch, f->id, &id);
        break;
    }
    default:
        return cli_fail(c, CLI_USAGE, "%s cannot be set here", opt);
    }
    if (rc)
    {
        char why[160];
        return cli_fail(c, CLI_REFUSED, "%s: %s", opt,
                        jp_tr_reason(reason ? reason : N_("invalid value"), why, sizeof why));
    }
    return CLI_OK;
}

int
cli_fields_parse(cli_t *c, jp_txn_t *txn, jp_kind_t kind, const cli_fields_t *fs,
                 cli_valbuf_t *vb, jp_change_t *ch)
{
    char opt[48];
    for (int i = 0; i < fs->n; i++) {
        const jp_field_def_t *f = fs->def[i];
        if (!jp_kind_has(kind, f))
            return cli_usage_error(c, "%s does not apply to a %s",
                                   s_opt(f, opt, sizeof opt), jp_kind_name(kind));
        int ec = s_parse_one(c, txn, kind, f, fs->text[i], vb->norm[f->id], ch);
        if (ec)
            return ec;
    }
    return CLI_OK;
}
