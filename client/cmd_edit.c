/*
 * cmd_edit.c -- add, update, delete: the store's hand edits.
 *
 * Each command is one change in one write transaction: the values are
 * parsed and checked (fields.c), references resolved, the few rules that
 * span records are checked here (the ones the import checks too: unique
 * external ids and VINs, a delivery not before its customer was created, a
 * complaint's contact or resolution not before the complaint), and then
 * jp_txn_write() logs, merges and indexes.  Anything refused aborts the
 * transaction, so a refused edit leaves no trace in the log.
 */
#include "card.h"

#include <stdlib.h>
#include <string.h>

#include "validate.h"

static const char s_update_usage[] =
    "usage: " CLI_PROG " update ID [--FIELD VALUE]... [--clear FIELD]...\n"
    "\n"
    "Change or clear fields of a customer or a vehicle.  ID is the record id,\n"
    "or ext:EXTID (a customer's external id, or a vehicle's VIN).  Fields and\n"
    "values are those of `add` (see `" CLI_PROG " add --help`); a required field\n"
    "cannot be cleared.  Events cannot be edited: delete and add again.\n"
    "\n"
    "options:\n"
    "  --FIELD VALUE   set a field (e.g. --phone 13800138000, --plate 粤L12345)\n"
    "  --clear FIELD   remove a field's value\n"
    "  -h, --help      this text\n";

static const char s_delete_usage[] =
    "usage: " CLI_PROG " delete ID\n"
    "\n"
    "Delete a record: writes its tombstone.  The record and its history stay\n"
    "in the log (`show --all` still lists it); it leaves every index and\n"
    "report.  ID is the record id or ext:EXTID.\n"
    "\n"
    "options:\n"
    "  -h, --help   this text\n";

/* `add --help`: the kinds and their fields come from the schema table. */
static void
s_add_help(FILE *out)
{
    fprintf(out,
            "usage: " CLI_PROG " add KIND [--FIELD VALUE]...\n"
            "\n"
            "Add a record and print its id.  Values are checked as in the import:\n"
            "phones are normalised (+86...), ID numbers and VINs checksummed, times\n"
            "are ISO 8601 (2026-03-01, 2026-03-01T09:30, ...+08:00), money in yuan\n"
            "(1234.50).  References (--customer, --complaint, --referred,\n"
            "--referred-by) take a record id, ext:EXTID, or a mobile number or VIN\n"
            "naming exactly one customer.  Defaults: created_at and at are now,\n"
            "ext_id is the new record's id.  '-' may replace '_' in field names.\n"
            "\n"
            "kinds and their fields (* required):\n");
    for (int k = JP_K_CUSTOMER; k < JP_K_COUNT; k++) {
        if (k == JP_K_LINK)
            continue;
        fprintf(out, "  %s:", jp_kind_name((jp_kind_t)k));
        for (unsigned id = 1; id < JP_F_COUNT; id++) {
            const jp_field_def_t *f = jp_field_def(id);
            if (id == JP_F_LINK_A || id == JP_F_LINK_B || !jp_kind_has((jp_kind_t)k, f))
                continue;
            bool dflt = id == JP_F_EXT_ID || id == JP_F_CREATED_AT || id == JP_F_AT;
            fprintf(out, " %s%s", f->name, (f->required >> k) & 1u && !dflt ? "*" : "");
            if (f->words) {
                fputs("=", out);
                for (unsigned w = 0; f->words[w]; w++)
                    fprintf(out, "%s%s", w ? "|" : "", f->words[w]);
            }
        }
        fputc('\n', out);
    }
    fprintf(out, "\noptions:\n  -h, --help   this text\n");
}

/* Parse a command's field options (and --clear for update) into fs;
 * returns CLI_CONTINUE when parsing went through. */
static int
s_parse_args(cli_t *c, int argc, char **argv, bool update, cli_fields_t *fs, bool *help)
{
    static const struct option clear[] = {{"clear", required_argument, NULL, 'c'},
                                          {NULL, 0, NULL, 0}};
    struct option *opts = cli_field_longopts(update ? clear : NULL);
    int o, rc = CLI_CONTINUE;
    if (!opts)
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    *help = false;
    cli_getopt_reset();
    while (rc == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o >= CLI_FIELD_OPT) {
            rc = cli_fields_add(c, fs, jp_field_def((unsigned)(o - CLI_FIELD_OPT)),
                                optarg);
        } else if (o == 'c' && update) {
            const jp_field_def_t *f = cli_field_named(optarg);
            rc = f ? cli_fields_add(c, fs, f, NULL)
                   : cli_usage_error(c, "--clear: no field called '%.40s'", optarg);
        } else if (o == 'h') {
            *help = true;
            rc = CLI_OK;
        } else {
            rc = cli_std_opt(c, o, argv, "");
        }
    }
    free(opts);
    return rc;
}

/* The kind named on the command line ('-' for '_'), events and the two
 * mutable kinds only. */
static jp_kind_t
s_kind_arg(const char *s)
{
    char k[32];
    if (strlen(s) >= sizeof k)
        return JP_K_NONE;
    snprintf(k, sizeof k, "%s", s);
    for (char *p = k; *p; p++) {
        if (*p == '-')
            *p = '_';
    }
    jp_kind_t kind = jp_kind_by_name(k);
    return kind == JP_K_LINK ? JP_K_NONE : kind;
}

/* An external id (class cls) or VIN must not name another live record. */
static int
s_unique(cli_t *c, jp_txn_t *txn, int cls, const jp_fval_t *fv, const jp_id_t *self,
         const char *what)
{
    jp_id_t other;
    jp_record_t r;
    if (!fv || fv->v.type != JP_T_STR)
        return CLI_OK;
    int rc = jp_txn_find_ext(txn, c->node.store, cls, fv->v.u.s.p, fv->v.u.s.n, &other);
    if (rc == JP_ENOTFOUND)
        return CLI_OK;
    if (rc)
        return cli_fail_rc(c, rc, what);
    if (jp_id_cmp(&other, self) == 0)
        return CLI_OK;
    if (jp_txn_get(txn, &other, &r) == 0 && jp_record_deleted(&r))
        return CLI_OK;
    char id[JP_ID_TEXT_LEN + 1];
    jp_id_format(&other, id);
    return cli_fail(c, CLI_REFUSED, "%s: already used by record %s", what, id);
}

/* The value of an int-like field after ch: the change's, else old's. */
static int64_t
s_after(const jp_change_t *ch, const jp_record_t *old, unsigned fid)
{
    const jp_fval_t *fv = jp_change_get(ch, fid);
    if (fv)
        return fv->v.type ? fv->v.u.i : INT64_MIN;
    return old ? jp_record_int(old, fid, INT64_MIN) : INT64_MIN;
}

/* True if customer id owns a live vehicle. */
static bool
s_owns_vehicle(jp_txn_t *txn, const jp_id_t *id)
{
    cli_timeline_t tl = {0};
    bool owns = false;
    if (cli_timeline_load(txn, id, false, &tl) == 0) {
        for (int i = 0; i < tl.n && !owns; i++)
            owns = tl.e[i].kind == JP_K_VEHICLE && !tl.e[i].deleted;
    }
    cli_timeline_free(&tl);
    return owns;
}

/* The rules across fields and records that the import applies too. */
static int
s_check_rules(cli_t *c, jp_txn_t *txn, const jp_change_t *ch, const jp_record_t *old)
{
    jp_record_t r;
    if (ch->kind == JP_K_CUSTOMER) {
        int64_t bday = s_after(ch, old, JP_F_BIRTHDAY);
        int64_t created = s_after(ch, old, JP_F_CREATED_AT);
        if (bday != INT64_MIN && created != INT64_MIN && bday >= jp_local_day(created))
            return cli_fail(c, CLI_REFUSED, "--birthday: must be before created_at");
        const jp_fval_t *ph = jp_change_get(ch, JP_F_PHONE);
        if (old && ph && !ph->v.type && s_owns_vehicle(txn, &ch->id))
            return cli_fail(c, CLI_REFUSED,
                            "--clear phone: the customer owns a vehicle, and an owner "
                            "needs a phone number");
    }
    if (ch->kind == JP_K_VEHICLE) {
        const jp_fval_t *cust = jp_change_get(ch, JP_F_CUSTOMER);
        if (cust && cust->v.type == JP_T_REF &&
            jp_txn_get(txn, &cust->v.u.ref, &r) == 0 &&
            !(r.f[JP_F_PHONE].set && r.f[JP_F_PHONE].v.type == JP_T_STR))
            return cli_fail(c, CLI_REFUSED,
                            "--customer: that customer has no phone number, which an "
                            "owner needs (add it with `update`)");
    }
    if (ch->kind == JP_K_COMPLAINT_CONTACT || ch->kind == JP_K_COMPLAINT_RESOLVED) {
        const jp_fval_t *cp = jp_change_get(ch, JP_F_COMPLAINT);
        int64_t at = s_after(ch, NULL, JP_F_AT);
        if (cp && jp_txn_get(txn, &cp->v.u.ref, &r) == 0 &&
            at < jp_record_int(&r, JP_F_AT, INT64_MIN))
            return cli_fail(c, CLI_REFUSED, "--at: before the complaint was opened");
    }
    return CLI_OK;
}

/* Fill the customer of an event from what else was given: a complaint's
 * contact belongs to the complaint's customer, a service visit to the
 * owner of its VIN.  If both are given they must agree. */
static int
s_derive_customer(cli_t *c, jp_txn_t *txn, jp_change_t *ch)
{
    const jp_fval_t *cust = jp_change_get(ch, JP_F_CUSTOMER);
    const jp_fval_t *cp = jp_change_get(ch, JP_F_COMPLAINT);
    jp_id_t owner;
    if (cp && cp->v.type == JP_T_REF) {
        if (cli_customer_of(txn, &cp->v.u.ref, &owner) != 0)
            return CLI_OK;
        if (!cust) {
            jp_change_set_ref(ch, JP_F_CUSTOMER, &owner);
        } else if (jp_id_cmp(&cust->v.u.ref, &owner) != 0) {
            return cli_fail(c, CLI_REFUSED,
                            "--complaint: that complaint is another customer's");
        }
        return CLI_OK;
    }
    const jp_fval_t *vin = jp_change_get(ch, JP_F_VIN);
    if (!cust && ch->kind == JP_K_SERVICE && vin && vin->v.type == JP_T_STR) {
        char v[18];
        jp_id_t ids[2];
        snprintf(v, sizeof v, "%.*s", (int)vin->v.u.s.n, vin->v.u.s.p);
        if (cli_customers_in(txn, JP_IX_VIN, v, false, ids, 2) == 1)
            jp_change_set_ref(ch, JP_F_CUSTOMER, &ids[0]);
    }
    return CLI_OK;
}

/* Every required field of a create is there, else say which option. */
static int
s_check_required(cli_t *c, const jp_change_t *ch)
{
    for (unsigned id = 0; id < JP_F_COUNT; id++) {
        const jp_field_def_t *f = jp_field_def(id);
        if (((f->required >> ch->kind) & 1u) && !jp_change_get(ch, id)) {
            char opt[40];
            snprintf(opt, sizeof opt, "%s", f->name);
            for (char *p = opt; *p; p++) {
                if (*p == '_')
                    *p = '-';
            }
            return cli_usage_error(c, "a %s needs --%s", jp_kind_name(ch->kind), opt);
        }
    }
    return CLI_OK;
}

/* Write ch and commit; prints the failure. *txn_p is ended either way. */
static int
s_write_commit(cli_t *c, jp_txn_t **txn_p, jp_change_t *ch, bool *unchanged)
{
    jp_err_t err;
    jp_err_clear(&err);
    const char *author = cli_author(c);
    ch->author = author;
    ch->author_len = (uint32_t)strlen(author);
    int rc = jp_txn_write(*txn_p, ch, &err);
    if (rc == JP_EDUP && unchanged) {
        *unchanged = true;
        jp_txn_abort(txn_p);
        return CLI_OK;
    }
    if (rc) {
        jp_txn_abort(txn_p);
        return cli_fail_err(c, rc, &err);
    }
    rc = jp_txn_commit(txn_p, &err);
    if (rc)
        return cli_fail_err(c, rc, &err);
    return CLI_OK;
}

/* Open the store and begin its write transaction. */
static int
s_begin(cli_t *c, jp_txn_t **txn_p)
{
    jp_err_t err;
    int ec = cli_author_check(c);
    if (ec || (ec = cli_open(c)))
        return ec;
    jp_err_clear(&err);
    int rc = jp_db_begin(c->db, true, txn_p, &err);
    return rc ? cli_fail_err(c, rc, &err) : CLI_OK;
}

int
cmd_add(cli_t *c, int argc, char **argv)
{
    cli_fields_t fs = {0};
    cli_valbuf_t *vb = calloc(1, sizeof *vb);
    jp_change_t *ch = calloc(1, sizeof *ch);
    jp_txn_t *txn = NULL;
    bool help;
    int ec;

    if (!vb || !ch) {
        ec = cli_fail(c, CLI_INTERNAL, "out of memory");
        goto done;
    }
    ec = s_parse_args(c, argc, argv, false, &fs, &help);
    if (help)
        s_add_help(stdout);
    if (ec != CLI_CONTINUE)
        goto done;
    if (optind != argc - 1) {
        ec = cli_usage_error(c,
                             optind >= argc ? "which kind of record?" : "one KIND only");
        goto done;
    }
    jp_kind_t kind = s_kind_arg(argv[optind]);
    if (kind == JP_K_NONE) {
        ec = cli_usage_error(c, "unknown kind of record");
        goto done;
    }
    if ((ec = s_begin(c, &txn)))
        goto done;

    ch->id = jp_db_new_id(c->db);
    ch->kind = (uint8_t)kind;
    if ((ec = cli_fields_parse(c, txn, kind, &fs, vb, ch)))
        goto done;
    if (kind == JP_K_CUSTOMER && !jp_change_get(ch, JP_F_CREATED_AT))
        jp_change_set_int(ch, JP_F_CREATED_AT, (int64_t)jp_now_ms());
    if (jp_kind_is_event(kind) && !jp_change_get(ch, JP_F_AT))
        jp_change_set_int(ch, JP_F_AT, (int64_t)jp_now_ms());
    if ((kind == JP_K_CUSTOMER || jp_kind_is_event(kind)) &&
        !jp_change_get(ch, JP_F_EXT_ID)) {
        jp_id_format(&ch->id, vb->id_text);
        jp_change_set_str(ch, JP_F_EXT_ID, vb->id_text, JP_ID_TEXT_LEN);
    }
    if ((ec = s_derive_customer(c, txn, ch)) || (ec = s_check_required(c, ch)))
        goto done;
    int cls = kind == JP_K_CUSTOMER ? JP_EXT_CUSTOMER : JP_EXT_EVENT;
    if (kind == JP_K_VEHICLE)
        ec = s_unique(c, txn, JP_EXT_VEHICLE, jp_change_get(ch, JP_F_VIN), &ch->id,
                      "--vin");
    else
        ec = s_unique(c, txn, cls, jp_change_get(ch, JP_F_EXT_ID), &ch->id, "--ext-id");
    if (ec || (ec = s_check_rules(c, txn, ch, NULL)))
        goto done;
    if ((ec = s_write_commit(c, &txn, ch, NULL)))
        goto done;
    char id[JP_ID_TEXT_LEN + 1];
    jp_id_format(&ch->id, id);
    fprintf(c->out ? c->out : stdout, "%s\n", id);
done:
    jp_txn_abort(&txn);
    free(ch);
    free(vb);
    return ec;
}

int
cmd_update(cli_t *c, int argc, char **argv)
{
    cli_fields_t fs = {0};
    cli_valbuf_t *vb = calloc(1, sizeof *vb);
    jp_change_t *ch = calloc(1, sizeof *ch);
    jp_record_t *old = calloc(1, sizeof *old);
    jp_txn_t *txn = NULL;
    jp_id_t id;
    bool help, unchanged = false;
    int ec;

    if (!vb || !ch || !old) {
        ec = cli_fail(c, CLI_INTERNAL, "out of memory");
        goto done;
    }
    ec = s_parse_args(c, argc, argv, true, &fs, &help);
    if (help)
        fputs(s_update_usage, stdout);
    if (ec != CLI_CONTINUE)
        goto done;
    if (optind != argc - 1) {
        ec = cli_usage_error(c, optind >= argc ? "which record?" : "one ID only");
        goto done;
    }
    if (fs.n == 0) {
        ec = cli_usage_error(c, "nothing to change: give --FIELD VALUE or --clear");
        goto done;
    }
    if ((ec = s_begin(c, &txn)) ||
        (ec = cli_resolve(c, txn, CLI_REF_ANY, "ID", argv[optind], &id)))
        goto done;
    int rc = jp_txn_get(txn, &id, old);
    if (rc) {
        ec = cli_fail_rc(c, rc, NULL);
        goto done;
    }
    if (jp_kind_is_event((jp_kind_t)old->kind)) {
        ec = cli_fail(c, CLI_REFUSED,
                      "events cannot be edited; void it with `delete` and add a new one");
        goto done;
    }
    if (old->kind != JP_K_CUSTOMER && old->kind != JP_K_VEHICLE) {
        ec = cli_fail(c, CLI_REFUSED, "a %s record cannot be edited here",
                      jp_kind_name((jp_kind_t)old->kind));
        goto done;
    }
    ch->id = id;
    ch->kind = old->kind;
    if ((ec = cli_fields_parse(c, txn, (jp_kind_t)old->kind, &fs, vb, ch)))
        goto done;
    if (old->kind == JP_K_VEHICLE)
        ec = s_unique(c, txn, JP_EXT_VEHICLE, jp_change_get(ch, JP_F_VIN), &id, "--vin");
    else
        ec = s_unique(c, txn, JP_EXT_CUSTOMER, jp_change_get(ch, JP_F_EXT_ID), &id,
                      "--ext-id");
    if (ec || (ec = s_check_rules(c, txn, ch, old)))
        goto done;
    if ((ec = s_write_commit(c, &txn, ch, &unchanged)))
        goto done;
    char text[JP_ID_TEXT_LEN + 1];
    jp_id_format(&id, text);
    if (unchanged)
        fprintf(stderr, CLI_PROG ": update: nothing changed, the record already has "
                                 "these values\n");
    printf("%s\n", text);
done:
    jp_txn_abort(&txn);
    free(old);
    free(ch);
    free(vb);
    return ec;
}

static const char s_unlink_usage[] =
    "usage: " CLI_PROG " [-u NAME] unlink LINK_ID\n"
    "\n"
    "Undo a wrong link: the group server linked two customer rows as one\n"
    "person (same phone or ID number) and they are not.  `show` lists a\n"
    "customer's links as \"same person ... (link ID)\".  The unlink is a change\n"
    "of its own, signed into this store's log with the author (-u), synced to\n"
    "every store, and visible in `jipan-audit history`; the server does not\n"
    "link that pair again.\n";

/* Write a tombstone on the record argv names: delete (any record but a
 * link) or unlink (a link only, given by its id). */
static int
s_tombstone(cli_t *c, int argc, char **argv, bool link)
{
    static const struct option opts[] = {CLI_STD_LONGOPTS, {NULL, 0, NULL, 0}};
    jp_change_t *ch = NULL;
    jp_txn_t *txn = NULL;
    jp_record_t r;
    jp_id_t id;
    int o, ec = CLI_CONTINUE;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1)
        ec = cli_std_opt(c, o, argv, link ? s_unlink_usage : s_delete_usage);
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind != argc - 1)
        return cli_usage_error(c, optind >= argc ? "which record?" : "one ID only");
    if (link &&
        (strlen(argv[optind]) != JP_ID_TEXT_LEN || jp_id_parse(argv[optind], &id) != 0))
        return cli_usage_error(c, "give the link's ID (26 characters, from `show`)");
    ch = calloc(1, sizeof *ch);
    if (!ch)
        return cli_fail(c, CLI_INTERNAL, "out of memory");
    if ((ec = s_begin(c, &txn)) ||
        (!link && (ec = cli_resolve(c, txn, CLI_REF_ANY, "ID", argv[optind], &id))))
        goto done;
    int rc = jp_txn_get(txn, &id, &r);
    if (rc || (link && r.kind != JP_K_LINK)) {
        ec = link ? cli_fail(c, CLI_REFUSED, "%s is not a link", argv[optind])
                  : cli_fail_rc(c, rc, NULL);
        goto done;
    }
    if (!link && r.kind == JP_K_LINK) {
        ec = cli_fail(c, CLI_REFUSED,
                      "links are the group server's: undo a wrong one with `unlink`");
        goto done;
    }
    if (link && jp_record_deleted(&r)) {
        ec = cli_fail(c, CLI_REFUSED, "link %s is undone already", argv[optind]);
        goto done;
    }
    ch->id = id;
    ch->kind = r.kind;
    jp_change_set_bool(ch, JP_F_DELETED, true);
    if ((ec = s_write_commit(c, &txn, ch, NULL)))
        goto done;
    char text[JP_ID_TEXT_LEN + 1];
    jp_id_format(&id, text);
    if (link)
        printf("unlinked %s\n", text);
    else
        printf("deleted %s %s\n", jp_kind_name((jp_kind_t)r.kind), text);
done:
    jp_txn_abort(&txn);
    free(ch);
    return ec;
}

int
cmd_delete(cli_t *c, int argc, char **argv)
{
    return s_tombstone(c, argc, argv, false);
}

int
cmd_unlink(cli_t *c, int argc, char **argv)
{
    return s_tombstone(c, argc, argv, true);
}
