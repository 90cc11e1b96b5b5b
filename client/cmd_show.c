/*
 * cmd_show.c -- show: the screen a service adviser opens when the customer
 * walks in.
 *
 * The card (who the customer is), the vehicles (what they drive and where
 * it was bought), then the timeline: every sale and event, oldest first,
 * with the store that recorded it.  Deleted records are left out, or with
 * --all listed and marked, since the log keeps them.
 */
#include "card.h"
#include "i18n.h"

#include <stdlib.h>
#include <string.h>

#include "validate.h"

static const char s_show_usage[] =
    "usage: " CLI_PROG " show [--newest-first] [--all] [--full] ID|PHONE|VIN|ext:EXTID\n"
    "\n"
    "A customer's card (name, phone, gender, birthday, district, source, grade,\n"
    "created, referred by), vehicles, and timeline of sales and events with\n"
    "the store of each entry, oldest first.\n"
    "\n"
    "options:\n"
    "  --newest-first   the timeline newest first\n"
    "  --all            include deleted records (marked deleted)\n"
    "  --full           show full phone and ID numbers\n"
    "  -h, --help       this text\n";

/* Options of one run of show. */
typedef struct {
    bool newest_first; /* timeline newest first */
    bool all;          /* include deleted records */
    bool full;         /* unmasked phone and ID number */
} s_opts_t;

/* A card line "label  value" when the field is set. */
static int
s_card_field(cli_table_t *t, const char *label, const jp_record_t *r, unsigned fid,
             bool full)
{
    char v[JP_MAX_STR + 1];
    if (!r->f[fid].set || !r->f[fid].v.type)
        return 0;
    const jp_field_def_t *def = jp_field_def(fid);
    jp_val_text(def, &r->f[fid].v, full, v, sizeof v);
    const char *cells[] = {label, def->type == JP_T_ENUM ? jp_tr_word(def->name, v) : v};
    return cli_table_add(t, cells, false);
}

static int
s_card_line(cli_table_t *t, const char *label, const char *value)
{
    const char *cells[] = {label, value};
    return cli_table_add(t, cells, false);
}

/* The card: who the customer is. */
static int
s_print_card(cli_t *c, jp_txn_t *txn, const jp_record_t *r, const cli_timeline_t *tl,
             const s_opts_t *o)
{
    char v[512], name[256], when[17], store[16], cls[32];
    jp_record_t ref;
    int rc = 0;
    cli_table_t *t = cli_table_new(2, NULL);
    if (!t)
        return JP_ENOMEM;
    jp_id_format(&r->id, v);
    rc |= s_card_line(t, _("customer"), v);
    rc |= s_card_field(t, _("name"), r, JP_F_NAME, o->full);
    rc |= s_card_field(t, _("phone"), r, JP_F_PHONE, o->full);
    rc |= s_card_field(t, _("ID number"), r, JP_F_ID_NUMBER, o->full);
    rc |= s_card_field(t, _("gender"), r, JP_F_GENDER, o->full);
    rc |= s_card_field(t, _("birthday"), r, JP_F_BIRTHDAY, o->full);
    rc |= s_card_field(t, _("district"), r, JP_F_DISTRICT, o->full);
    rc |= s_card_field(t, _("source"), r, JP_F_SOURCE, o->full);
    rc |= s_card_field(t, _("grade"), r, JP_F_GRADE, o->full);
    cli_card_class(txn, r, tl, cls, sizeof cls);
    rc |= s_card_line(t, _("class"), cls);
    jp_format_instant(jp_record_int(r, JP_F_CREATED_AT, 0), when);
    cli_store_label(c, jp_id_store(&r->id), store, sizeof store);
    snprintf(v, sizeof v, _("%s at %s"), when, store);
    rc |= s_card_line(t, _("created"), v);
    const jp_id_t *by = jp_record_ref(r, JP_F_REFERRED_BY);
    if (by && jp_txn_get(txn, by, &ref) == 0) {
        char idt[JP_ID_TEXT_LEN + 1];
        jp_id_format(by, idt);
        snprintf(v, sizeof v, "%s (%s)",
                 jp_record_str(&ref, JP_F_NAME, name, sizeof name), idt);
        rc |= s_card_line(t, _("referred by"), v);
    }
    for (int i = 1; i < tl->nrows; i++) {
        /* The same person's rows elsewhere: how a store sees its
         * customer's visits at every store of the group. */
        char id[JP_ID_TEXT_LEN + 1], lid[JP_ID_TEXT_LEN + 1], line[128];
        jp_id_format(&tl->row[i], id);
        jp_id_format(&tl->link[i], lid);
        cli_store_label(c, jp_id_store(&tl->row[i]), store, sizeof store);
        snprintf(line, sizeof line, _("%s at %s (link %s)"), id, store, lid);
        rc |= s_card_line(t, _("same person"), line);
    }
    rc |= s_card_field(t, _("ext id"), r, JP_F_EXT_ID, o->full);
    rc |= s_card_field(t, _("note"), r, JP_F_NOTE, o->full);
    if (jp_record_deleted(r))
        rc |= s_card_line(t, _("deleted"), _("yes"));
    if (!rc)
        cli_table_print(t, stdout);
    cli_table_destroy(&t);
    return rc ? JP_ENOMEM : 0;
}

/* The vehicles: VIN, model, plate, delivered, price, sale kind. */
static int
s_print_vehicles(cli_t *c, jp_txn_t *txn, const cli_timeline_t *tl)
{
    const char *head[] = {"  VIN",    _("model"), _("plate"), _("delivered"),
                          _("price"), _("sale"),  _("store")};
    char vin[32], model[256], plate[64], when[17], price[32], kind[32], store[16];
    int rc = 0, n = 0;
    cli_table_t *t = cli_table_new(7, head);
    if (!t)
        return JP_ENOMEM;
    for (int i = 0; i < tl->n && !rc; i++) {
        jp_record_t r;
        if (tl->e[i].kind != JP_K_VEHICLE || jp_txn_get(txn, &tl->e[i].id, &r) != 0)
            continue;
        snprintf(vin, sizeof vin, "  %s", "");
        jp_record_str(&r, JP_F_VIN, vin + 2, sizeof vin - 2);
        jp_record_str(&r, JP_F_MODEL, model, sizeof model);
        jp_record_str(&r, JP_F_PLATE, plate, sizeof plate);
        jp_format_instant(tl->e[i].at, when);
        when[10] = '\0'; /* the day is enough */
        price[0] = kind[0] = '\0';
        if (r.f[JP_F_PRICE].set && r.f[JP_F_PRICE].v.type)
            jp_val_text(jp_field_def(JP_F_PRICE), &r.f[JP_F_PRICE].v, false, price,
                        sizeof price);
        if (r.f[JP_F_SALE_KIND].set && r.f[JP_F_SALE_KIND].v.type) {
            jp_val_text(jp_field_def(JP_F_SALE_KIND), &r.f[JP_F_SALE_KIND].v, false, kind,
                        sizeof kind);
            const char *w = jp_tr_word("sale_kind", kind);
            if (w != kind)
                snprintf(kind, sizeof kind, "%s", w);
        }
        if (tl->e[i].deleted)
            snprintf(kind + strlen(kind), sizeof kind - strlen(kind), "%s",
                     _(" (deleted)"));
        cli_store_label(c, jp_id_store(&tl->e[i].id), store, sizeof store);
        const char *cells[] = {vin, model, plate, when, price, kind, store};
        rc = cli_table_add(t, cells, tl->e[i].deleted);
        n++;
    }
    printf(_("\nvehicles (%d)\n"), n);
    if (!rc && n)
        cli_table_print(t, stdout);
    cli_table_destroy(&t);
    return rc;
}

/* The timeline: date, store, kind, details. */
static int
s_print_timeline(cli_t *c, jp_txn_t *txn, const cli_timeline_t *tl, const s_opts_t *o)
{
    const char *head[] = {_("  date"), _("store"), _("kind"), _("details")};
    char date[32], store[16], kind[48], details[2048];
    int rc = 0;
    cli_table_t *t = cli_table_new(4, head);
    if (!t)
        return JP_ENOMEM;
    for (int k = 0; k < tl->n && !rc; k++) {
        const cli_entry_t *e = &tl->e[o->newest_first ? tl->n - 1 - k : k];
        jp_record_t r;
        if (jp_txn_get(txn, &e->id, &r) != 0)
            continue;
        snprintf(date, sizeof date, "  %s", "");
        jp_format_instant(e->at, date + 2);
        cli_store_label(c, jp_id_store(&e->id), store, sizeof store);
        snprintf(kind, sizeof kind, "%s%s",
                 e->kind == JP_K_VEHICLE
                     ? _("sale")
                     : jp_tr_word("kind", jp_kind_name((jp_kind_t)e->kind)),
                 e->deleted ? _(" (deleted)") : "");
        cli_entry_details(txn, tl, &r, details, sizeof details);
        const char *cells[] = {date, store, kind, details};
        rc = cli_table_add(t, cells, e->deleted);
    }
    printf(o->newest_first ? _("\ntimeline (%d, newest first)\n")
                           : _("\ntimeline (%d, oldest first)\n"),
           tl->n);
    if (!rc && tl->n)
        cli_table_print(t, stdout);
    cli_table_destroy(&t);
    return rc;
}

/* A phone or ID number that several customer rows share: when the
 * server has linked them as one person, that person (this store's row if
 * one is, else the first); *found false when they are not one person. */
static int
s_person(cli_t *c, jp_txn_t *txn, const char *text, jp_id_t *out, bool *found)
{
    char norm[32];
    const char *why;
    jp_id_t ids[CLI_MAX_LINKED];
    cli_timeline_t tl = {0};
    size_t n = strlen(text);
    int k = 0;
    *found = false;
    if (jp_phone_normalize(text, n, norm, &why) == 0)
        k = cli_customers_in(txn, JP_IX_PHONE, norm, false, ids, CLI_MAX_LINKED);
    else if (jp_idnum_check(text, n, norm, &why) == 0)
        k = cli_customers_in(txn, JP_IX_IDNUM, norm, false, ids, CLI_MAX_LINKED);
    if (k < 2)
        return k < 0 ? k : 0;
    int rc = cli_timeline_load(txn, &ids[0], false, &tl);
    if (rc)
        return rc;
    bool one = true;
    for (int i = 1; i < k && one; i++) {
        bool in = false;
        for (int j = 0; j < tl.nrows && !in; j++)
            in = jp_id_cmp(&tl.row[j], &ids[i]) == 0;
        one = in;
    }
    cli_timeline_free(&tl);
    if (!one)
        return 0;
    *out = ids[0];
    for (int i = 0; i < k; i++) {
        if (jp_id_store(&ids[i]) == c->node.store) {
            *out = ids[i];
            break;
        }
    }
    *found = true;
    return 0;
}

/* The customer that text names; deleted ones only with --all. */
static int
s_resolve(cli_t *c, jp_txn_t *txn, const char *text, bool all, jp_id_t *out)
{
    jp_id_t id;
    jp_record_t r;
    if (strlen(text) != JP_ID_TEXT_LEN || jp_id_parse(text, &id) != 0) {
        bool found;
        int rc = s_person(c, txn, text, out, &found);
        if (rc)
            return cli_fail_rc(c, rc, "customer");
        if (found)
            return CLI_OK;
        return cli_resolve(c, txn, CLI_REF_CUSTOMER, "customer", text, out);
    }
    /* A vehicle's or an event's id opens its customer. */
    if (cli_customer_of(txn, &id, out) != 0 || jp_txn_get(txn, out, &r) != 0 ||
        r.kind != JP_K_CUSTOMER)
        return cli_fail(c, CLI_REFUSED, "no customer with that id");
    if (jp_record_deleted(&r) && !all)
        return cli_fail(c, CLI_REFUSED, "that customer is deleted (--all shows it)");
    return CLI_OK;
}

int
cmd_show(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS,
                                         {"newest-first", no_argument, NULL, 'n'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"full", no_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    s_opts_t so = {0};
    cli_timeline_t tl = {0};
    jp_record_t *r = NULL;
    jp_txn_t *txn = NULL;
    jp_err_t err;
    jp_id_t id;
    int o, rc, ec = CLI_CONTINUE;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'n')
            so.newest_first = true;
        else if (o == 'a')
            so.all = true;
        else if (o == 'f')
            so.full = true;
        else
            ec = cli_std_opt(c, o, argv, s_show_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind != argc - 1)
        return cli_usage_error(c, optind >= argc ? "show whom?" : "one customer only");
    if ((ec = cli_open(c)))
        return ec;
    jp_err_clear(&err);
    r = calloc(1, sizeof *r);
    if (!r)
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    rc = jp_db_begin(c->db, false, &txn, &err);
    if (rc) {
        ec = cli_fail_err(c, rc, &err);
        goto done;
    }
    if ((ec = s_resolve(c, txn, argv[optind], so.all, &id)))
        goto done;
    if ((rc = jp_txn_get(txn, &id, r)) ||
        (rc = cli_timeline_load(txn, &id, so.all, &tl)) ||
        (rc = s_print_card(c, txn, r, &tl, &so)) ||
        (rc = s_print_vehicles(c, txn, &tl)) ||
        (rc = s_print_timeline(c, txn, &tl, &so))) {
        ec = cli_fail_rc(c, rc, NULL);
        goto done;
    }
    ec = CLI_OK;
done:
    cli_timeline_free(&tl);
    jp_txn_abort(&txn);
    free(r);
    return ec;
}
