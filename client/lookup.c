/*
 * lookup.c -- turning what a person types into record ids.
 *
 * At the counter a customer is named by whatever is at hand: the record id,
 * the old system's id (`ext:...`), a mobile number, or the VIN of a car.
 * Every such text goes through the same checks as stored values (a phone
 * is normalised before it is looked up), and a reference must land on
 * exactly one live record: two customers sharing a phone are listed, never
 * guessed between.  Messages describe the text ("that phone") instead of
 * repeating it, since it may be personal data.
 */
#include "store.h"

#include <jansson.h>

#include <string.h>

#include "validate.h"

#define S_RAW_CAP 1024 /* index hits read before mapping them to customers */

typedef struct {
    jp_id_t *ids; /* where hits go */
    int n;        /* hits so far */
    int cap;      /* room in ids */
} s_hits_t;

static int
s_collect(void *arg, const jp_id_t *id)
{
    s_hits_t *h = arg;
    if (h->n >= h->cap)
        return 1; /* enough: stop the walk */
    h->ids[h->n++] = *id;
    return 0;
}

int
cli_customer_of(jp_txn_t *txn, const jp_id_t *id, jp_id_t *out)
{
    jp_record_t r;
    int rc = jp_txn_get(txn, id, &r);
    if (rc)
        return rc;
    if (r.kind == JP_K_CUSTOMER) {
        *out = *id;
        return 0;
    }
    const jp_id_t *cust = jp_record_ref(&r, JP_F_CUSTOMER);
    if (!cust)
        return JP_ENOTFOUND;
    *out = *cust;
    return 0;
}

/* True if id is a live customer. */
static bool
s_live_customer(jp_txn_t *txn, const jp_id_t *id)
{
    jp_record_t r;
    return jp_txn_get(txn, id, &r) == 0 && r.kind == JP_K_CUSTOMER &&
           !jp_record_deleted(&r);
}

int
cli_customers_in(jp_txn_t *txn, jp_index_t ix, const char *key, bool prefix, jp_id_t *out,
                 int cap)
{
    static jp_id_t raw[S_RAW_CAP];
    s_hits_t h = {raw, 0, S_RAW_CAP};
    int n = 0;
    int rc = jp_txn_find(txn, ix, key, strlen(key), prefix, s_collect, &h);
    if (rc < 0 && rc != JP_ENOTFOUND)
        return rc;
    for (int i = 0; i < h.n && n < cap; i++) {
        jp_id_t cust;
        if (cli_customer_of(txn, &raw[i], &cust) != 0 || !s_live_customer(txn, &cust))
            continue;
        bool seen = false;
        for (int j = 0; j < n && !seen; j++)
            seen = jp_id_cmp(&out[j], &cust) == 0;
        if (!seen)
            out[n++] = cust;
    }
    return n;
}

/* Live vehicles under a VIN (service visits share the index). */
static int
s_vehicles_by_vin(jp_txn_t *txn, const char *vin, jp_id_t *out, int cap)
{
    jp_id_t raw[64];
    s_hits_t h = {raw, 0, 64};
    int n = 0;
    int rc = jp_txn_find(txn, JP_IX_VIN, vin, strlen(vin), false, s_collect, &h);
    if (rc < 0 && rc != JP_ENOTFOUND)
        return rc;
    for (int i = 0; i < h.n && n < cap; i++) {
        jp_record_t r;
        if (jp_txn_get(txn, &raw[i], &r) == 0 && r.kind == JP_K_VEHICLE &&
            !jp_record_deleted(&r))
            out[n++] = raw[i];
    }
    return n;
}

/* Check that id names a live record of the wanted kind. */
static int
s_check(cli_t *c, jp_txn_t *txn, cli_ref_t want, const char *what, const jp_id_t *id)
{
    jp_record_t r;
    int rc = jp_txn_get(txn, id, &r);
    if (rc == JP_ENOTFOUND)
        return cli_fail(c, CLI_REFUSED, "%s: no record with that id", what);
    if (rc)
        return cli_fail_rc(c, rc, what);
    if (jp_record_deleted(&r))
        return cli_fail(c, CLI_REFUSED, "%s: that record is deleted", what);
    if (want == CLI_REF_CUSTOMER && r.kind != JP_K_CUSTOMER)
        return cli_fail(c, CLI_REFUSED, "%s: that record is a %s, not a customer", what,
                        jp_kind_name(r.kind));
    if (want == CLI_REF_COMPLAINT && r.kind != JP_K_COMPLAINT)
        return cli_fail(c, CLI_REFUSED, "%s: that record is a %s, not a complaint", what,
                        jp_kind_name(r.kind));
    return CLI_OK;
}

/* ext:X, looked up in this store's external ids. */
static int
s_resolve_ext(cli_t *c, jp_txn_t *txn, cli_ref_t want, const char *what, const char *ext,
              jp_id_t *out)
{
    size_t n = strlen(ext);
    int rc = JP_ENOTFOUND;
    uint16_t st = c->node.store;
    if (n == 0)
        return cli_fail(c, CLI_REFUSED, "%s: ext: needs an external id after it", what);
    if (want == CLI_REF_CUSTOMER || want == CLI_REF_ANY)
        rc = jp_txn_find_ext(txn, st, JP_EXT_CUSTOMER, ext, n, out);
    if (rc == JP_ENOTFOUND && (want == CLI_REF_COMPLAINT || want == CLI_REF_ANY))
        rc = jp_txn_find_ext(txn, st, JP_EXT_EVENT, ext, n, out);
    if (rc == JP_ENOTFOUND && want == CLI_REF_ANY) {
        char vin[18];
        const char *reason;
        if (jp_vin_check(ext, n, vin, &reason) == 0)
            rc = jp_txn_find_ext(txn, st, JP_EXT_VEHICLE, vin, strlen(vin), out);
    }
    if (rc == JP_ENOTFOUND)
        return cli_fail(c, CLI_REFUSED, "%s: no record with that external id here", what);
    if (rc)
        return cli_fail_rc(c, rc, what);
    return s_check(c, txn, want, what, out);
}

/* Exactly one of n candidates, or a message saying why not. */
static int
s_one(cli_t *c, const char *what, const char *by, const jp_id_t *ids, int n, jp_id_t *out)
{
    if (n < 0)
        return cli_fail_rc(c, n, what);
    if (n == 0)
        return cli_fail(c, CLI_REFUSED, "%s: no customer has that %s", what, by);
    if (n > 1) {
        char a[JP_ID_TEXT_LEN + 1], b[JP_ID_TEXT_LEN + 1];
        jp_id_format(&ids[0], a);
        jp_id_format(&ids[1], b);
        return cli_fail(c, CLI_REFUSED,
                        "%s: %d customers have that %s (%s, %s%s); give the record id",
                        what, n, by, a, b, n > 2 ? ", ..." : "");
    }
    *out = ids[0];
    return CLI_OK;
}

int
cli_resolve(cli_t *c, jp_txn_t *txn, cli_ref_t want, const char *what, const char *text,
            jp_id_t *out)
{
    size_t n = strlen(text);
    const char *reason;
    char norm[32];
    jp_id_t ids[8];

    if (n == JP_ID_TEXT_LEN && jp_id_parse(text, out) == 0)
        return s_check(c, txn, want, what, out);
    if (strncmp(text, "ext:", 4) == 0)
        return s_resolve_ext(c, txn, want, what, text + 4, out);
    if (want == CLI_REF_COMPLAINT)
        return cli_fail(c, CLI_REFUSED, "%s: give the complaint's record id or ext:ID",
                        what);
    if (jp_phone_normalize(text, n, norm, &reason) == 0) {
        int k = cli_customers_in(txn, JP_IX_PHONE, norm, false, ids, 8);
        return s_one(c, what, "phone", ids, k, out);
    }
    if (n == 18 && jp_idnum_check(text, n, norm, &reason) == 0) {
        int k = cli_customers_in(txn, JP_IX_IDNUM, norm, false, ids, 8);
        return s_one(c, what, "ID number", ids, k, out);
    }
    if (jp_vin_check(text, n, norm, &reason) == 0) {
        if (want == CLI_REF_ANY) {
            int k = s_vehicles_by_vin(txn, norm, ids, 8);
            if (k == 1) {
                *out = ids[0];
                return CLI_OK;
            }
            if (k > 1)
                return cli_fail(c, CLI_REFUSED,
                                "%s: %d vehicles have that VIN; give the record id", what,
                                k);
            return cli_fail(c, CLI_REFUSED, "%s: no vehicle has that VIN", what);
        }
        int k = cli_customers_in(txn, JP_IX_VIN, norm, false, ids, 8);
        return s_one(c, what, "VIN", ids, k, out);
    }
    return cli_fail(c, CLI_REFUSED,
                    "%s: not a record id, ext:ID, mobile number, ID number or VIN", what);
}

/* The other stores' codes, as the last sync learnt them (the sync
 * table's "stores", the server's `stores` answer); read once. */
static struct {
    bool loaded;
    json_t *list; /* [{"store": N, "code": "..."}], or NULL */
} s_codes;

static void
s_codes_free(void)
{
    json_decref(s_codes.list);
    s_codes.list = NULL;
}

static const char *
s_code_of(const cli_t *c, uint16_t store)
{
    if (!s_codes.loaded && c->db) {
        jp_txn_t *txn;
        const void *v;
        size_t n;
        s_codes.loaded = true;
        if (jp_db_begin(c->db, false, &txn, NULL) == 0) {
            if (jp_txn_tb_get(txn, JP_TB_SYNC, "stores", 6, &v, &n) == 0)
                s_codes.list = json_loadb(v, n, 0, NULL);
            jp_txn_abort(&txn);
        }
        if (s_codes.list)
            atexit(s_codes_free);
    }
    size_t i;
    json_t *o;
    json_array_foreach(s_codes.list, i, o)
    {
        json_t *num = json_object_get(o, "store"), *code = json_object_get(o, "code");
        if (json_integer_value(num) == store && json_string_length(code) > 0)
            return json_string_value(code);
    }
    return NULL;
}

void
cli_store_label(const cli_t *c, uint16_t store, char *out, size_t cap)
{
    const char *code;
    if (store == c->node.store && c->node.code[0])
        snprintf(out, cap, "%s", c->node.code);
    else if (store == 0)
        snprintf(out, cap, "group");
    else if ((code = s_code_of(c, store)))
        snprintf(out, cap, "%s", code);
    else
        snprintf(out, cap, "#%u", (unsigned)store);
}
