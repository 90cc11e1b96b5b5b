/*
 * cmd_find.c -- find: the counter's search box.
 *
 * `find` guesses what was typed (a mobile number, a VIN, a record id, an
 * external id, a plate, else the start of a name) and lists the matching
 * customers.  Phones are masked unless --full: the screen faces the shop
 * floor.
 */
#include "card.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

#define S_FIND_CAP 100 /* customers listed by find */

static const char s_find_usage[] =
    "usage: " CLI_PROG " find [--full] TEXT\n"
    "\n"
    "Find customers.  TEXT is taken as, in this order: a record id (26\n"
    "characters); ext:EXTID; a resident ID number (18 characters: 17 digits\n"
    "and a digit or X); a mobile number (digits, +86); a VIN (17\n"
    "characters); a plate (粤L12345, or letters and digits); otherwise the\n"
    "start of a name.  Lists id, name, phone (masked), district, grade or card\n"
    "class, vehicles and the last service visit.  Exit 1 when nothing matches.\n"
    "\n"
    "options:\n"
    "  --full       show full phone numbers\n"
    "  -h, --help   this text\n";

/* The provinces' one-character abbreviations that start a plate. */
static const char *const s_provinces[] = {
    "京", "津", "沪", "渝", "冀", "豫", "云", "辽", "黑", "湘", "皖", "鲁",
    "新", "苏", "浙", "赣", "鄂", "桂", "甘", "晋", "蒙", "陕", "吉", "闽",
    "贵", "粤", "青", "藏", "川", "宁", "琼", "使", "领", NULL};

/* Looks like a plate: a province character then a letter, or a letter,
 * digits and letters (5 to 8 characters) with at least one digit. */
static bool
s_plate_like(const char *s)
{
    for (int i = 0; s_provinces[i]; i++) {
        size_t n = strlen(s_provinces[i]);
        if (strncmp(s, s_provinces[i], n) == 0)
            return isalpha((unsigned char)s[n]) != 0;
    }
    size_t n = strlen(s);
    bool digit = false;
    if (n < 5 || n > 8 || !isalpha((unsigned char)s[0]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]))
            return false;
        digit |= isdigit((unsigned char)s[i]) != 0;
    }
    return digit;
}

/* Digits with an optional +, spaces and dashes: meant as a phone. */
static bool
s_phone_like(const char *s)
{
    int digits = 0;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (*p != '+' && *p != ' ' && *p != '-')
            return false;
    }
    return digits >= 7;
}

/* Plates as stored and as typed may differ in case and spacing: the key as
 * typed first, then upper-cased without spaces, dots and dashes. */
static int
s_find_plate(jp_txn_t *txn, const char *text, jp_id_t *ids, int cap)
{
    char norm[64];
    size_t k = 0;
    int n = cli_customers_in(txn, JP_IX_PLATE, text, false, ids, cap);
    if (n != 0)
        return n;
    for (const char *p = text; *p && k + 1 < sizeof norm; p++) {
        if (*p == ' ' || *p == '-' || *p == '.')
            continue;
        norm[k++] = (char)toupper((unsigned char)*p);
    }
    norm[k] = '\0';
    return strcmp(norm, text) ? cli_customers_in(txn, JP_IX_PLATE, norm, false, ids, cap)
                              : 0;
}

/* Customers found under an index key; a library failure is reported. */
static int
s_in(cli_t *c, jp_txn_t *txn, jp_index_t ix, const char *key, bool prefix, jp_id_t *ids,
     int cap, int *ec)
{
    int n = cli_customers_in(txn, ix, key, prefix, ids, cap);
    if (n < 0)
        *ec = cli_fail_rc(c, n, NULL);
    return n < 0 ? -1 : n;
}

int
cli_find_ids(cli_t *c, jp_txn_t *txn, const char *text, jp_id_t *ids, int cap, int *ec)
{
    size_t n = strlen(text);
    const char *reason;
    char norm[32];
    jp_id_t id, cust;
    jp_record_t r;

    if ((n == JP_ID_TEXT_LEN && jp_id_parse(text, &id) == 0) ||
        strncmp(text, "ext:", 4) == 0) {
        if (strncmp(text, "ext:", 4) == 0 &&
            (*ec = cli_resolve(c, txn, CLI_REF_ANY, "ext", text, &id)))
            return -1;
        if (cli_customer_of(txn, &id, &cust) != 0 || jp_txn_get(txn, &cust, &r) != 0 ||
            jp_record_deleted(&r))
            return 0;
        ids[0] = cust;
        return 1;
    }
    if (n == 18 && strspn(text, "0123456789") >= 17 &&
        strspn(text + 17, "0123456789Xx") == 1) {
        if (jp_idnum_check(text, n, norm, &reason) != 0) {
            *ec = cli_fail(c, CLI_REFUSED, "not an ID number: %s", reason);
            return -1;
        }
        return s_in(c, txn, JP_IX_IDNUM, norm, false, ids, cap, ec);
    }
    if (s_phone_like(text)) {
        if (jp_phone_normalize(text, n, norm, &reason) != 0) {
            *ec = cli_fail(c, CLI_REFUSED, "not a mobile number: %s", reason);
            return -1;
        }
        return s_in(c, txn, JP_IX_PHONE, norm, false, ids, cap, ec);
    }
    if (n == 17 && strspn(text, "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"
                                "abcdefghjklmnprstuvwxyz") == 17) {
        for (size_t i = 0; i < 17; i++)
            norm[i] = (char)toupper((unsigned char)text[i]);
        norm[17] = '\0';
        int k = s_in(c, txn, JP_IX_VIN, norm, false, ids, cap, ec);
        if (k != 0)
            return k;
    }
    if (s_plate_like(text)) {
        int k = s_find_plate(txn, text, ids, cap);
        if (k < 0)
            *ec = cli_fail_rc(c, k, NULL);
        if (k != 0)
            return k < 0 ? -1 : k;
    }
    return s_in(c, txn, JP_IX_NAME, text, true, ids, cap, ec);
}

/* "Model 粤L12345; Model2" for the vehicles column. */
static void
s_vehicles_cell(jp_txn_t *txn, const cli_timeline_t *tl, char *out, size_t cap)
{
    char model[256], plate[64];
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < tl->n && k + 1 < cap; i++) {
        jp_record_t r;
        if (tl->e[i].kind != JP_K_VEHICLE || tl->e[i].deleted ||
            jp_txn_get(txn, &tl->e[i].id, &r) != 0)
            continue;
        jp_record_str(&r, JP_F_MODEL, model, sizeof model);
        jp_record_str(&r, JP_F_PLATE, plate, sizeof plate);
        k += (size_t)snprintf(out + k, cap - k, "%s%s%s%s", k ? "; " : "", model,
                              plate[0] ? " " : "", plate);
    }
}

/* One row of the find table. */
static int
s_find_row(cli_t *c, jp_txn_t *txn, const jp_id_t *id, bool full, cli_table_t *t)
{
    jp_record_t r;
    cli_timeline_t tl = {0};
    char idt[JP_ID_TEXT_LEN + 1], name[256], phone[32], district[128], cls[32];
    char vehicles[512], last[17] = "-";
    int rc = jp_txn_get(txn, id, &r);
    if (rc)
        return rc;
    rc = cli_timeline_load(txn, id, false, &tl);
    if (rc)
        return rc;
    jp_id_format(id, idt);
    jp_record_str(&r, JP_F_NAME, name, sizeof name);
    jp_record_str(&r, JP_F_DISTRICT, district, sizeof district);
    phone[0] = '\0';
    if (r.f[JP_F_PHONE].set && r.f[JP_F_PHONE].v.type)
        jp_val_text(jp_field_def(JP_F_PHONE), &r.f[JP_F_PHONE].v, full, phone,
                    sizeof phone);
    cli_card_class(txn, &r, &tl, cls, sizeof cls);
    s_vehicles_cell(txn, &tl, vehicles, sizeof vehicles);
    int64_t lv = cli_last_visit(&tl);
    if (lv != INT64_MIN)
        jp_format_instant(lv, last);
    cli_timeline_free(&tl);
    (void)c;
    const char *cells[] = {idt, name, phone, district, cls, vehicles, last};
    return cli_table_add(t, cells, false);
}

int
cmd_find(cli_t *c, int argc, char **argv)
{
    static const struct option opts[] = {
        CLI_STD_LONGOPTS, {"full", no_argument, NULL, 'f'}, {NULL, 0, NULL, 0}};
    static const char *const head[] = {"id",          "name",     "phone",     "district",
                                       "grade/class", "vehicles", "last visit"};
    bool full = false;
    int o, ec = CLI_CONTINUE;
    jp_txn_t *txn = NULL;
    cli_table_t *t = NULL;
    jp_id_t *ids = NULL;
    jp_err_t err;

    cli_getopt_reset();
    while (ec == CLI_CONTINUE &&
           (o = getopt_long(argc, argv, CLI_STD_SHORT, opts, NULL)) != -1) {
        if (o == 'f')
            full = true;
        else
            ec = cli_std_opt(c, o, argv, s_find_usage);
    }
    if (ec != CLI_CONTINUE)
        return ec;
    if (optind != argc - 1 || !argv[optind][0])
        return cli_usage_error(c, optind >= argc ? "find what?"
                                                 : "one TEXT only "
                                                   "(quote it)");
    if ((ec = cli_open(c)))
        return ec;
    jp_err_clear(&err);
    ids = calloc(S_FIND_CAP, sizeof *ids);
    t = cli_table_new(7, head);
    if (!ids || !t) {
        ec = cli_fail(c, CLI_INTERNAL, "out of memory");
        goto done;
    }
    int rc = jp_db_begin(c->db, false, &txn, &err);
    if (rc) {
        ec = cli_fail_err(c, rc, &err);
        goto done;
    }
    int n = cli_find_ids(c, txn, argv[optind], ids, S_FIND_CAP, &ec);
    if (n < 0)
        goto done;
    if (n == 0) {
        ec = cli_fail(c, CLI_REFUSED, "no customer found");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        rc = s_find_row(c, txn, &ids[i], full, t);
        if (rc) {
            ec = cli_fail_rc(c, rc, NULL);
            goto done;
        }
    }
    cli_table_print(t, stdout);
    if (n == S_FIND_CAP)
        fprintf(stderr, CLI_PROG ": find: only the first %d shown; narrow the search\n",
                S_FIND_CAP);
    ec = CLI_OK;
done:
    jp_txn_abort(&txn);
    cli_table_destroy(&t);
    free(ids);
    return ec;
}
