/*
 * test_import.c -- jp_import on real LMDB stores in a temp directory: a
 * small data set with every event kind (counts, references, timelines,
 * normalised values), re-import (nothing written), a changed row (one
 * update of the differing field), dry runs, partial imports, and one
 * refused row per validation rule, asserting the exact report line and
 * that nothing was written.  No report or error ever carries a phone or
 * ID number.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "db.h"
#include "import.h"
#include "validate.h"

#define CUST_H                                                                           \
    "ext_id,name,phone,id_number,gender,birthday,district,source,grade,created_at,"      \
    "referred_by,note"
#define VEH_H "vin,customer_ext_id,model,plate,delivered_at,price,sale_kind"
#define EV_H                                                                             \
    "ext_id,customer_ext_id,kind,at,vin,service_type,mileage,amount,channel,purpose,"    \
    "severity,subject,complaint_ext_id,satisfaction,repurchase,recommend,"               \
    "referred_ext_id,reason,grade,note"

typedef struct {
    char dir[64];         /* mkdtemp result */
    char store[96];       /* dir/store: the LMDB environment */
    char path[3][96];     /* customers.csv, vehicles.csv, events.csv */
    jp_db_t *db;          /* open on store */
    char *report;         /* report of the last run (malloc) */
    jp_import_stats_t st; /* stats of the last run */
    jp_err_t err;         /* err of the last run */
} fx_t;

/* Personal values used by the tests: no report may carry any of them. */
static char s_id1[19], s_badid[19];
static const char *const s_phones[] = {"13800138000", "13900139000", "13700137000",
                                       "1380013800", "0013900139000"};

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    jp_txn_t *t = NULL;
    jp_node_t node;
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/jp-test-import-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->store, sizeof f->store, "%s/store", f->dir);
    snprintf(f->path[0], sizeof f->path[0], "%s/customers.csv", f->dir);
    snprintf(f->path[1], sizeof f->path[1], "%s/vehicles.csv", f->dir);
    snprintf(f->path[2], sizeof f->path[2], "%s/events.csv", f->dir);
    if (mkdir(f->store, 0700) || jp_db_open(&f->db, f->store, 0, NULL))
        return -1;
    if (jp_db_begin(f->db, true, &t, NULL))
        return -1;
    memset(&node, 0, sizeof node);
    node.store = 7;
    strcpy(node.code, "HZ01");
    strcpy(node.name, "Huizhou 1");
    strcpy(node.region, "South");
    strcpy(node.group, "Test Group");
    strcpy(node.tz, "Asia/Shanghai");
    if (jp_txn_node_set(t, &node) || jp_txn_commit(&t, NULL))
        return -1;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fx_t *f = *state;
    jp_db_close(&f->db);
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f->report);
    free(f);
    return 0;
}

/* ---- building CSV text ---------------------------------------------------- */

typedef struct {
    char *p;    /* text, NUL-terminated */
    size_t n;   /* bytes */
    size_t cap; /* allocated */
} sb_t;

static void
sb_add(sb_t *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void
sb_str(sb_t *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* One CSV row for header: kv is "column=value;column=value"; columns not
 * named are empty; values with a comma, quote or line break are quoted. */
static void
s_row(sb_t *b, const char *header, const char *kv)
{
    const char *h = header;
    bool first = true;
    while (*h) {
        const char *e = strchr(h, ',');
        size_t hn = e ? (size_t)(e - h) : strlen(h);
        const char *val = NULL;
        size_t vn = 0;
        for (const char *k = kv; k && *k;) {
            const char *semi = strchr(k, ';');
            size_t kn = semi ? (size_t)(semi - k) : strlen(k);
            const char *eq = memchr(k, '=', kn);
            assert_non_null(eq);
            if ((size_t)(eq - k) == hn && memcmp(k, h, hn) == 0) {
                val = eq + 1;
                vn = kn - hn - 1;
            }
            k = semi ? semi + 1 : NULL;
        }
        if (!first)
            sb_str(b, ",");
        first = false;
        if (val &&
            (memchr(val, ',', vn) || memchr(val, '"', vn) || memchr(val, '\n', vn))) {
            sb_str(b, "\"");
            for (size_t i = 0; i < vn; i++)
                sb_add(b, val[i] == '"' ? "\"\"" : &val[i], val[i] == '"' ? 2 : 1);
            sb_str(b, "\"");
        } else if (val) {
            sb_add(b, val, vn);
        }
        h = e ? e + 1 : h + hn;
    }
    sb_str(b, "\n");
}

/* A CSV text: header, then one row per kv string, up to NULL (malloc). */
static char *
s_csv(const char *header, ...)
{
    sb_t b = {0};
    va_list ap;
    sb_str(&b, header);
    sb_str(&b, "\n");
    va_start(ap, header);
    for (const char *kv = va_arg(ap, const char *); kv; kv = va_arg(ap, const char *))
        s_row(&b, header, kv);
    va_end(ap);
    return b.p;
}

static void
s_write(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
    assert_int_equal(fclose(fp), 0);
}

/* A valid VIN from a 6-digit serial. */
static void
s_vin(unsigned serial, char out[18])
{
    snprintf(out, 18, "LSVAB4A20NA%06u", serial % 1000000);
    out[8] = jp_vin_check_digit(out);
}

/* ---- running an import ------------------------------------------------------------ */

static void
s_no_personal(const char *text)
{
    for (size_t i = 0; i < sizeof s_phones / sizeof *s_phones; i++)
        assert_null(strstr(text, s_phones[i]));
    assert_null(strstr(text, s_id1));
    assert_null(strstr(text, s_badid));
}

typedef struct {
    bool partial;        /* opts.partial */
    bool ignore_unknown; /* opts.ignore_unknown */
    bool dry_run;        /* opts.dry_run */
} run_opts_t;

/* Write the texts given (NULL: no such file) and import them. */
static int
s_run_opts(fx_t *f, const char *cust, const char *veh, const char *ev, run_opts_t ro)
{
    const char *texts[3] = {cust, veh, ev};
    for (int i = 0; i < 3; i++)
        if (texts[i])
            s_write(f->path[i], texts[i]);
    size_t len = 0;
    free(f->report);
    f->report = NULL;
    FILE *rep = open_memstream(&f->report, &len);
    assert_non_null(rep);
    jp_import_opts_t o = {
        .customers = cust ? f->path[0] : NULL,
        .vehicles = veh ? f->path[1] : NULL,
        .events = ev ? f->path[2] : NULL,
        .partial = ro.partial,
        .ignore_unknown = ro.ignore_unknown,
        .dry_run = ro.dry_run,
        .author = "importer",
        .report = rep,
    };
    int rc = jp_import(f->db, &o, &f->st, &f->err);
    fclose(rep);
    s_no_personal(f->report);
    s_no_personal(f->err.msg);
    return rc;
}

static int
s_run(fx_t *f, const char *cust, const char *veh, const char *ev)
{
    return s_run_opts(f, cust, veh, ev, (run_opts_t){false, false, false});
}

static uint64_t
s_counts(fx_t *f, uint64_t out[JP_K_COUNT])
{
    jp_txn_t *t;
    uint64_t changes, tmp[JP_K_COUNT];
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_counts(t, out ? out : tmp, &changes), 0);
    jp_err_t err;
    assert_int_equal(jp_txn_verify_chain(t, 7, &err), 0);
    jp_txn_abort(&t);
    return changes;
}

/* The import refuses exactly one row, reported as line; nothing written. */
static void
s_expect(fx_t *f, const char *cust, const char *veh, const char *ev, const char *line)
{
    uint64_t before = s_counts(f, NULL);
    int rc = s_run(f, cust, veh, ev);
    if (rc != JP_EINVAL || strcmp(f->report, line) != 0)
        fprintf(stderr, "rc %d\nreport: %swanted: %s\nerr: %s\n", rc, f->report, line,
                f->err.msg);
    assert_int_equal(rc, JP_EINVAL);
    assert_string_equal(f->report, line);
    /* err names the count and the first line (without its newline) */
    char first[512];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(line, "\n"), line);
    assert_non_null(strstr(f->err.msg, first));
    assert_non_null(strstr(f->err.msg, "nothing imported"));
    assert_int_equal(s_counts(f, NULL), before);
    assert_int_equal(f->st.created + f->st.updated + f->st.txns, 0);
}

static jp_id_t
s_find(fx_t *f, int cls, const char *ext)
{
    jp_txn_t *t;
    jp_id_t id;
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_find_ext(t, 7, cls, ext, strlen(ext), &id), 0);
    jp_txn_abort(&t);
    return id;
}

/* ---- the good data set ------------------------------------------------------------- */

static char s_v[4][18]; /* VINs: V1..V3 sold here, [0] serviced only */

static char *
s_good_customers(void)
{
    char c1[300];
    snprintf(c1, sizeof c1,
             "ext_id=C1;name=张三;phone=13800138000;id_number=%s;gender=M;"
             "birthday=1985-06-12;district=惠城区;source=walk_in;created_at=2020-03-01",
             s_id1);
    return s_csv(CUST_H, c1,
                 "ext_id=C2;name=李四;phone=139-0013-9000;gender=F;district=惠阳区;"
                 "source=referral;created_at=2021-05-10T10:00:00+08:00;referred_by=C1;"
                 "note=likes \"quotes\", and commas",
                 /* a prospect without phone, referred by a customer further down */
                 "ext_id=C3;name=王五;grade=H;created_at=2024-01-05 09:30;referred_by=C4",
                 "ext_id=C4;name=赵六;phone=+86 137 0013 7000;source=exhibition;grade=A;"
                 "created_at=2023-07-01",
                 NULL);
}

static char *
s_good_vehicles(void)
{
    /* column order is free */
    const char *h = "customer_ext_id,delivered_at,vin,model,plate,price,sale_kind";
    char r1[200], r2[200], r3[200];
    snprintf(r1, sizeof r1,
             "vin=%s;customer_ext_id=C1;model=Model A;plate=粤L12345;"
             "delivered_at=2020-03-15;price=158000.00;sale_kind=new",
             s_v[1]);
    snprintf(r2, sizeof r2,
             "vin=%s;customer_ext_id=C2;model=Model B;delivered_at=2021-06-01;"
             "price=99800;sale_kind=replacement",
             s_v[2]);
    /* lower case: stored upper-cased */
    char low[18];
    for (int i = 0; i < 18; i++)
        low[i] =
            (char)(s_v[3][i] >= 'A' && s_v[3][i] <= 'Z' ? s_v[3][i] + 32 : s_v[3][i]);
    snprintf(r3, sizeof r3,
             "vin=%s;customer_ext_id=C1;model=Model C;delivered_at=2023-02-01;"
             "sale_kind=additional",
             low);
    return s_csv(h, r1, r2, r3, NULL);
}

static char *
s_good_events(void)
{
    char e1[200], e12[200];
    snprintf(e1, sizeof e1,
             "ext_id=E1;customer_ext_id=C1;kind=service;at=2020-06-01T10:00;vin=%s;"
             "service_type=first_maintenance;mileage=3000;amount=0",
             s_v[1]);
    snprintf(e12, sizeof e12,
             "ext_id=E12;customer_ext_id=C2;kind=service;at=2022-01-01T10:00;vin=%s;"
             "service_type=repair;amount=880.5",
             s_v[0]);
    return s_csv(
        EV_H, e1,
        "ext_id=E2;customer_ext_id=C1;kind=contact;at=2020-03-18T09:00;channel=phone;"
        "purpose=day3",
        /* the contact comes before its complaint in the file */
        "ext_id=E4;customer_ext_id=C2;kind=complaint_contact;at=2021-07-01T10:30;"
        "complaint_ext_id=E3;channel=phone",
        "ext_id=E3;customer_ext_id=C2;kind=complaint;at=2021-07-01T10:00;severity=major;"
        "subject=service;note=noise",
        "ext_id=E5;customer_ext_id=C2;kind=complaint_resolved;at=2021-07-02T10:00;"
        "complaint_ext_id=E3",
        "ext_id=E6;customer_ext_id=C1;kind=survey;at=2020-07-01;satisfaction=5;"
        "repurchase=high;recommend=very_likely",
        "ext_id=E7;customer_ext_id=C1;kind=referral;at=2021-05-10;referred_ext_id=C2",
        "ext_id=E8;customer_ext_id=C1;kind=insurance;at=2021-03-15;amount=3500",
        "ext_id=E9;customer_ext_id=C1;kind=package;at=2021-03-15;amount=1200.50",
        "ext_id=E10;customer_ext_id=C3;kind=grade;at=2024-01-20;grade=A",
        "ext_id=E11;customer_ext_id=C3;kind=defeat;at=2024-02-01;reason=price", e12,
        NULL);
}

static void
s_import_good(fx_t *f)
{
    char *c = s_good_customers(), *v = s_good_vehicles(), *e = s_good_events();
    int rc = s_run(f, c, v, e);
    if (rc)
        fprintf(stderr, "%s\n%s", f->err.msg, f->report);
    assert_int_equal(rc, 0);
    free(c);
    free(v);
    free(e);
}

/* ---- good imports ------------------------------------------------------------------ */

typedef struct {
    jp_txn_t *t;     /* read transaction */
    jp_id_t ids[32]; /* timeline entries */
    int64_t at[32];  /* their time */
    int n;           /* entries */
} tl_t;

static int
s_tl_cb(void *arg, const jp_id_t *id)
{
    tl_t *tl = arg;
    jp_record_t r;
    assert_true(tl->n < 32);
    assert_int_equal(jp_txn_get(tl->t, id, &r), 0);
    tl->ids[tl->n] = *id;
    tl->at[tl->n] = r.kind == JP_K_VEHICLE ? jp_record_int(&r, JP_F_DELIVERED_AT, -1)
                                           : jp_record_int(&r, JP_F_AT, -1);
    tl->n++;
    return 0;
}

static int
s_timeline(fx_t *f, const char *cust)
{
    tl_t tl = {0};
    jp_id_t c = s_find(f, JP_EXT_CUSTOMER, cust);
    assert_int_equal(jp_db_begin(f->db, false, &tl.t, NULL), 0);
    assert_int_equal(jp_txn_timeline(tl.t, &c, s_tl_cb, &tl), 0);
    for (int i = 1; i < tl.n; i++)
        assert_true(tl.at[i - 1] <= tl.at[i]);
    jp_txn_abort(&tl.t);
    return tl.n;
}

static void
test_good_set(void **state)
{
    fx_t *f = *state;
    uint64_t k[JP_K_COUNT];
    s_import_good(f);
    assert_string_equal(f->report, "");
    assert_int_equal(f->st.rows, 19);
    assert_int_equal(f->st.rejected, 0);
    assert_int_equal(f->st.created, 19);
    assert_int_equal(f->st.updated + f->st.unchanged, 0);
    assert_int_equal(f->st.txns, 1);
    assert_int_equal(s_counts(f, k), 19);
    assert_int_equal(k[JP_K_CUSTOMER], 4);
    assert_int_equal(k[JP_K_VEHICLE], 3);
    for (int kind = JP_K_SERVICE; kind <= JP_K_GRADE; kind++)
        assert_int_equal(k[kind], kind == JP_K_SERVICE ? 2 : 1);

    /* timelines: C1 has V1, V3, E1, E2, E6, E7, E8, E9 */
    assert_int_equal(s_timeline(f, "C1"), 8);
    assert_int_equal(s_timeline(f, "C2"), 5);
    assert_int_equal(s_timeline(f, "C3"), 2);
    assert_int_equal(s_timeline(f, "C4"), 0);

    jp_id_t c1 = s_find(f, JP_EXT_CUSTOMER, "C1"), c2 = s_find(f, JP_EXT_CUSTOMER, "C2");
    jp_id_t c3 = s_find(f, JP_EXT_CUSTOMER, "C3"), c4 = s_find(f, JP_EXT_CUSTOMER, "C4");
    jp_id_t e3 = s_find(f, JP_EXT_EVENT, "E3"), e4 = s_find(f, JP_EXT_EVENT, "E4");
    jp_id_t e7 = s_find(f, JP_EXT_EVENT, "E7"), v1 = s_find(f, JP_EXT_VEHICLE, s_v[1]);
    jp_id_t v3 = s_find(f, JP_EXT_VEHICLE, s_v[3]), e12 = s_find(f, JP_EXT_EVENT, "E12");
    jp_id_t e9 = s_find(f, JP_EXT_EVENT, "E9");
    jp_txn_t *t;
    jp_record_t r;
    char buf[128];
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_get(t, &c1, &r), 0);
    assert_string_equal(jp_record_str(&r, JP_F_PHONE, buf, sizeof buf), "+8613800138000");
    assert_string_equal(jp_record_str(&r, JP_F_ID_NUMBER, buf, sizeof buf), s_id1);
    assert_string_equal(jp_record_str(&r, JP_F_NAME, buf, sizeof buf), "张三");
    assert_int_equal(jp_record_int(&r, JP_F_GENDER, 0), 1);
    int64_t days;
    assert_int_equal(jp_parse_date("1985-06-12", 10, &days, NULL), 0);
    assert_int_equal(jp_record_int(&r, JP_F_BIRTHDAY, 0), days);
    assert_int_equal(jp_txn_get(t, &c2, &r), 0);
    assert_string_equal(jp_record_str(&r, JP_F_PHONE, buf, sizeof buf), "+8613900139000");
    assert_memory_equal(jp_record_ref(&r, JP_F_REFERRED_BY), &c1, sizeof c1);
    assert_string_equal(jp_record_str(&r, JP_F_NOTE, buf, sizeof buf),
                        "likes \"quotes\", and commas");
    int64_t ms;
    assert_int_equal(jp_parse_instant("2021-05-10T02:00:00Z", 20, &ms, NULL), 0);
    assert_int_equal(jp_record_int(&r, JP_F_CREATED_AT, 0), ms);
    assert_int_equal(jp_txn_get(t, &c3, &r), 0);
    assert_memory_equal(jp_record_ref(&r, JP_F_REFERRED_BY), &c4, sizeof c4);
    assert_false(r.f[JP_F_PHONE].set); /* a prospect needs none */
    assert_int_equal(jp_txn_get(t, &c4, &r), 0);
    assert_string_equal(jp_record_str(&r, JP_F_PHONE, buf, sizeof buf), "+8613700137000");
    assert_int_equal(jp_txn_get(t, &v1, &r), 0);
    assert_memory_equal(jp_record_ref(&r, JP_F_CUSTOMER), &c1, sizeof c1);
    assert_int_equal(jp_record_int(&r, JP_F_PRICE, 0), 15800000);
    assert_int_equal(jp_txn_get(t, &v3, &r), 0);
    assert_string_equal(jp_record_str(&r, JP_F_VIN, buf, sizeof buf), s_v[3]);
    assert_false(r.f[JP_F_PRICE].set);
    assert_int_equal(jp_txn_get(t, &e4, &r), 0);
    assert_int_equal(r.kind, JP_K_COMPLAINT_CONTACT);
    assert_memory_equal(jp_record_ref(&r, JP_F_COMPLAINT), &e3, sizeof e3);
    assert_memory_equal(jp_record_ref(&r, JP_F_CUSTOMER), &c2, sizeof c2);
    assert_int_equal(jp_txn_get(t, &e7, &r), 0);
    assert_memory_equal(jp_record_ref(&r, JP_F_REFERRED), &c2, sizeof c2);
    assert_int_equal(jp_txn_get(t, &e9, &r), 0);
    assert_int_equal(jp_record_int(&r, JP_F_AMOUNT, 0), 120050);
    assert_int_equal(jp_txn_get(t, &e12, &r), 0);
    assert_string_equal(jp_record_str(&r, JP_F_VIN, buf, sizeof buf), s_v[0]);
    assert_int_equal(jp_record_int(&r, JP_F_AMOUNT, 0), 88050);
    /* every change names the importer */
    const uint8_t *p;
    size_t n;
    jp_change_t ch;
    assert_int_equal(jp_txn_log_get(t, 7, 1, &p, &n), 0);
    assert_int_equal(jp_change_decode(p, n, &ch, NULL), 0);
    assert_int_equal(ch.author_len, 8);
    assert_memory_equal(ch.author, "importer", 8);
    jp_txn_abort(&t);
}

static void
test_reimport_unchanged(void **state)
{
    fx_t *f = *state;
    uint8_t d1[JP_HASH_LEN], d2[JP_HASH_LEN];
    jp_txn_t *t;
    s_import_good(f);
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_digest(t, d1), 0);
    jp_txn_abort(&t);
    s_import_good(f);
    assert_int_equal(f->st.created, 0);
    assert_int_equal(f->st.updated, 0);
    assert_int_equal(f->st.unchanged, 19);
    assert_int_equal(f->st.txns, 0);
    assert_int_equal(s_counts(f, NULL), 19);
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_digest(t, d2), 0);
    jp_txn_abort(&t);
    assert_memory_equal(d1, d2, sizeof d1);
}

/* The write order groups rows by customer and time, and new ids follow it:
 * an import that adds events to a stored customer, a new customer with its
 * own, and a complaint contact by one customer on another's later complaint
 * comes in whole, each timeline in time order, each new id past the last. */
static void
test_write_order(void **state)
{
    fx_t *f = *state;
    s_import_good(f);
    jp_id_t before = s_find(f, JP_EXT_EVENT, "E12");
    char *c = s_csv(CUST_H, "ext_id=C9;name=Sun;created_at=2020-05-01", NULL);
    char *e = s_csv(
        EV_H,
        "ext_id=E24;customer_ext_id=C1;kind=complaint_contact;at=2022-03-01T11:00;"
        "complaint_ext_id=E21;channel=phone",
        "ext_id=E20;customer_ext_id=C1;kind=contact;at=2022-02-01;channel=sms",
        "ext_id=E23;customer_ext_id=C9;kind=contact;at=2021-01-01;channel=sms",
        "ext_id=E21;customer_ext_id=C9;kind=complaint;at=2022-03-01T10:00;"
        "severity=minor;subject=service",
        "ext_id=E22;customer_ext_id=C9;kind=insurance;at=2020-06-01;amount=900", NULL);
    int rc = s_run(f, c, NULL, e);
    if (rc)
        fprintf(stderr, "%s\n%s", f->err.msg, f->report);
    assert_int_equal(rc, 0);
    assert_int_equal(f->st.created, 6);
    assert_int_equal(s_timeline(f, "C1"), 10);
    assert_int_equal(s_timeline(f, "C9"), 3);
    /* new ids: the customer, then by customer (stored ones first) and time;
     * E24 goes with the complaint it belongs to */
    static const char *const order[] = {"E20", "E22", "E23", "E21", "E24"};
    jp_id_t prev = s_find(f, JP_EXT_CUSTOMER, "C9");
    assert_true(jp_id_cmp(&before, &prev) < 0);
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        jp_id_t id = s_find(f, JP_EXT_EVENT, order[i]);
        assert_true(jp_id_cmp(&prev, &id) < 0);
        prev = id;
    }
    free(c);
    free(e);
}

static void
test_changed_row(void **state)
{
    fx_t *f = *state;
    s_import_good(f);
    /* C2 moves district; C1's district cell is left empty, which clears
     * nothing. */
    char *c = s_csv(CUST_H,
                    "ext_id=C1;name=张三;phone=13800138000;gender=M;birthday=1985-06-12;"
                    "source=walk_in;created_at=2020-03-01",
                    "ext_id=C2;name=李四;phone=139-0013-9000;gender=F;district=博罗县;"
                    "source=referral;created_at=2021-05-10T10:00:00+08:00;referred_by=C1;"
                    "note=likes \"quotes\", and commas",
                    NULL);
    assert_int_equal(s_run(f, c, NULL, NULL), 0);
    free(c);
    assert_int_equal(f->st.created, 0);
    assert_int_equal(f->st.updated, 1);
    assert_int_equal(f->st.unchanged, 1);
    assert_int_equal(f->st.txns, 1);
    assert_int_equal(s_counts(f, NULL), 20);

    jp_txn_t *t;
    const uint8_t *p;
    size_t n;
    jp_change_t ch;
    jp_record_t r;
    char buf[64];
    jp_id_t c1 = s_find(f, JP_EXT_CUSTOMER, "C1"), c2 = s_find(f, JP_EXT_CUSTOMER, "C2");
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_log_get(t, 7, 20, &p, &n), 0);
    assert_int_equal(jp_change_decode(p, n, &ch, NULL), 0);
    assert_memory_equal(&ch.id, &c2, sizeof c2);
    assert_int_equal(ch.nfields, 1);
    assert_int_equal(ch.f[0].id, JP_F_DISTRICT);
    assert_int_equal(jp_txn_get(t, &c2, &r), 0);
    assert_string_equal(jp_record_str(&r, JP_F_DISTRICT, buf, sizeof buf), "博罗县");
    assert_int_equal(jp_txn_get(t, &c1, &r), 0);
    assert_string_equal(jp_record_str(&r, JP_F_DISTRICT, buf, sizeof buf), "惠城区");
    jp_txn_abort(&t);
}

static void
test_dry_run(void **state)
{
    fx_t *f = *state;
    char *c = s_good_customers(), *v = s_good_vehicles(), *e = s_good_events();
    assert_int_equal(s_run_opts(f, c, v, e, (run_opts_t){false, false, true}), 0);
    assert_int_equal(f->st.created, 19);
    assert_int_equal(f->st.txns, 0);
    assert_int_equal(s_counts(f, NULL), 0);
    free(c);
    free(v);
    free(e);
}

/* BOM, CRLF, a quoted cell over two lines and a blank line: the report
 * still names physical lines. */
static void
test_bom_crlf_lines(void **state)
{
    fx_t *f = *state;
    const char *text = "\xEF\xBB\xBF" CUST_H "\r\n"
                       "C1,Zhang,13800138000,,,,,,,2020-03-01,,\"two\r\nlines\"\r\n"
                       "\r\n"
                       "C2,Li,1380013800,,,,,,,2020-03-01,,\r\n";
    s_expect(f, text, NULL, NULL,
             "customers.csv:5: column 3 (phone): mobile number must have 11 digits\n");
    /* fixed, it imports, and the note keeps its line break */
    const char *good = "\xEF\xBB\xBF" CUST_H "\r\n"
                       "C1,Zhang,13800138000,,,,,,,2020-03-01,,\"two\r\nlines\"\r\n";
    assert_int_equal(s_run(f, good, NULL, NULL), 0);
    jp_txn_t *t;
    jp_record_t r;
    char buf[64];
    jp_id_t c1 = s_find(f, JP_EXT_CUSTOMER, "C1");
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_get(t, &c1, &r), 0);
    /* stored as it came; on screen (jp_record_str) the line break is "??" */
    const jp_slot_t *note = &r.f[JP_F_NOTE];
    assert_int_equal(note->v.type, JP_T_STR);
    assert_int_equal(note->v.u.s.n, 10);
    assert_memory_equal(note->v.u.s.p, "two\r\nlines", 10);
    assert_string_equal(jp_record_str(&r, JP_F_NOTE, buf, sizeof buf), "two??lines");
    jp_txn_abort(&t);
}

/* ---- one refused row per rule ----------------------------------------------------- */

#define C1_OK "ext_id=C1;name=Zhang;phone=13800138000;created_at=2020-03-01"

static void
test_bad_phone(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK,
                    "ext_id=C2;name=Li;phone=1380013800;created_at=2020-03-01", NULL);
    s_expect(f, c, NULL, NULL,
             "customers.csv:3: column 3 (phone): mobile number must have 11 digits\n");
    free(c);
    c = s_csv(CUST_H, "ext_id=C2;name=Li;phone=+44 13900139000;created_at=2020-03-01",
              NULL);
    s_expect(f, c, NULL, NULL,
             "customers.csv:2: column 3 (phone): only mainland China mobile numbers "
             "(+86) are accepted\n");
    free(c);
}

static void
test_owner_needs_phone(void **state)
{
    fx_t *f = *state;
    char vrow[120];
    snprintf(vrow, sizeof vrow,
             "vin=%s;customer_ext_id=C2;model=X;delivered_at=2021-01-01", s_v[1]);
    char *c = s_csv(CUST_H, C1_OK, "ext_id=C2;name=Li;created_at=2020-03-01", NULL);
    char *v = s_csv(VEH_H, vrow, NULL);
    s_expect(f, c, v, NULL,
             "customers.csv:3: column 3 (phone): is required for an owner (a vehicle in "
             "vehicles.csv)\n");
    /* without vehicles it is a prospect and imports */
    assert_int_equal(s_run(f, c, NULL, NULL), 0);
    assert_int_equal(f->st.created, 2);
    /* a vehicle for it later, from vehicles.csv alone, is refused */
    s_expect(f, NULL, v, NULL,
             "vehicles.csv:2: column 2 (customer_ext_id): customer 'C2' has no phone "
             "number in the store, which an owner needs\n");
    free(c);
    free(v);
}

static void
test_bad_id_number(void **state)
{
    fx_t *f = *state;
    char row[200];
    snprintf(row, sizeof row,
             "ext_id=C1;name=Zhang;phone=13800138000;id_number=%s;created_at=2020-03-01",
             s_badid);
    char *c = s_csv(CUST_H, row, NULL);
    s_expect(f, c, NULL, NULL,
             "customers.csv:2: column 4 (id_number): ID number check character does not "
             "match\n");
    free(c);
}

static void
test_bad_vin(void **state)
{
    fx_t *f = *state;
    char vin[18], row[160];
    strcpy(vin, s_v[1]);
    vin[8] = vin[8] == '1' ? '2' : '1';
    snprintf(row, sizeof row, "vin=%s;customer_ext_id=C1;model=X;delivered_at=2021-01-01",
             vin);
    char *c = s_csv(CUST_H, C1_OK, NULL);
    char *v = s_csv(VEH_H, row, NULL);
    s_expect(f, c, v, NULL,
             "vehicles.csv:2: column 1 (vin): VIN check digit (position 9) does not "
             "match\n");
    free(v);
    /* a service visit's VIN is checked the same way */
    snprintf(row, sizeof row,
             "ext_id=E1;customer_ext_id=C1;kind=service;at=2021-01-01;vin=%s;"
             "service_type=repair",
             vin);
    char *e = s_csv(EV_H, row, NULL);
    s_expect(
        f, c, NULL, e,
        "events.csv:2: column 5 (vin): VIN check digit (position 9) does not match\n");
    free(c);
    free(e);
}

static void
test_bad_date(void **state)
{
    fx_t *f = *state;
    const char *why = NULL;
    int64_t x;
    char want[300];
    assert_int_not_equal(jp_parse_date("1985-02-30", 10, &x, &why), 0);
    snprintf(want, sizeof want, "customers.csv:2: column 6 (birthday): %s\n", why);
    char *c = s_csv(CUST_H, C1_OK ";birthday=1985-02-30", NULL);
    s_expect(f, c, NULL, NULL, want);
    free(c);
    assert_int_not_equal(jp_parse_instant("2020-3-1", 8, &x, &why), 0);
    snprintf(want, sizeof want, "customers.csv:2: column 10 (created_at): %s\n", why);
    c = s_csv(CUST_H, "ext_id=C1;name=Zhang;created_at=2020-3-1", NULL);
    s_expect(f, c, NULL, NULL, want);
    free(c);
    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=contact;at=yesterday;"
                    "channel=sms",
                    NULL);
    assert_int_not_equal(jp_parse_instant("yesterday", 9, &x, &why), 0);
    snprintf(want, sizeof want, "events.csv:2: column 4 (at): %s\n", why);
    c = s_csv(CUST_H, C1_OK, NULL);
    s_expect(f, c, NULL, e, want);
    free(c);
    free(e);
}

static void
test_dates_in_order(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK ";birthday=2020-03-01", NULL);
    s_expect(
        f, c, NULL, NULL,
        "customers.csv:2: column 6 (birthday): birthday must be before created_at\n");
    free(c);
    const char *why = NULL;
    int64_t days;
    char want[200];
    assert_int_not_equal(jp_parse_date("1899-12-31", 10, &days, &why), 0);
    snprintf(want, sizeof want, "customers.csv:2: column 6 (birthday): %s\n", why);
    c = s_csv(CUST_H, C1_OK ";birthday=1899-12-31", NULL);
    s_expect(f, c, NULL, NULL, want);
    free(c);

    c = s_csv(CUST_H, C1_OK, NULL);
    char row[200];
    snprintf(row, sizeof row, "vin=%s;customer_ext_id=C1;model=X;delivered_at=1989-12-31",
             s_v[1]);
    char *v = s_csv(VEH_H, row, NULL);
    s_expect(f, c, v, NULL,
             "vehicles.csv:2: column 5 (delivered_at): is before 1990-01-01\n");
    free(v);
    snprintf(row, sizeof row, "vin=%s;customer_ext_id=C1;model=X;delivered_at=2999-01-01",
             s_v[1]);
    v = s_csv(VEH_H, row, NULL);
    s_expect(f, c, v, NULL,
             "vehicles.csv:2: column 5 (delivered_at): is in the future\n");
    free(v);

    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=contact;at=2099-01-01T10:00;"
                    "channel=sms",
                    NULL);
    s_expect(f, c, NULL, e, "events.csv:2: column 4 (at): is in the future\n");
    free(e);

    /* a resolution before its complaint, from the file and from the store */
    e = s_csv(EV_H,
              "ext_id=E1;customer_ext_id=C1;kind=complaint;at=2021-07-01T10:00;"
              "severity=minor;subject=sales",
              "ext_id=E2;customer_ext_id=C1;kind=complaint_resolved;at=2021-07-01T09:59;"
              "complaint_ext_id=E1",
              NULL);
    s_expect(f, c, NULL, e,
             "events.csv:3: column 4 (at): is before the complaint 'E1' it belongs to\n");
    free(e);
    e = s_csv(EV_H,
              "ext_id=E1;customer_ext_id=C1;kind=complaint;at=2021-07-01T10:00;"
              "severity=minor;subject=sales",
              NULL);
    assert_int_equal(s_run(f, c, NULL, e), 0);
    free(e);
    e = s_csv(EV_H,
              "ext_id=E2;customer_ext_id=C1;kind=complaint_contact;at=2021-06-30;"
              "complaint_ext_id=E1",
              NULL);
    s_expect(f, NULL, NULL, e,
             "events.csv:2: column 4 (at): is before the complaint 'E1' it belongs to\n");
    free(e);
    free(c);
}

static void
test_unknown_customer(void **state)
{
    fx_t *f = *state;
    char row[200];
    snprintf(row, sizeof row,
             "vin=%s;customer_ext_id=C99;model=X;delivered_at=2021-01-01", s_v[1]);
    char *c = s_csv(CUST_H, C1_OK, NULL);
    char *v = s_csv(VEH_H, row, NULL);
    s_expect(f, c, v, NULL,
             "vehicles.csv:2: column 2 (customer_ext_id): no customer 'C99' in "
             "customers.csv or the store\n");
    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=referral;at=2021-01-01;"
                    "referred_ext_id=C98",
                    NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 17 (referred_ext_id): no customer 'C98' in "
             "customers.csv or the store\n");
    /* a customer already in the store is found there */
    assert_int_equal(s_run(f, c, NULL, NULL), 0);
    snprintf(row, sizeof row, "vin=%s;customer_ext_id=C1;model=X;delivered_at=2021-01-01",
             s_v[1]);
    free(v);
    v = s_csv(VEH_H, row, NULL);
    assert_int_equal(s_run(f, NULL, v, NULL), 0);
    assert_int_equal(f->st.created, 1);
    free(c);
    free(v);
    free(e);
}

static void
test_unknown_complaint(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK, NULL);
    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=complaint_contact;at=2021-01-01;"
                    "complaint_ext_id=E99",
                    NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 13 (complaint_ext_id): no complaint 'E99' in "
             "events.csv or the store\n");
    free(e);
    e = s_csv(EV_H,
              "ext_id=E1;customer_ext_id=C1;kind=contact;at=2021-01-01;channel=visit",
              "ext_id=E2;customer_ext_id=C1;kind=complaint_resolved;at=2021-01-02;"
              "complaint_ext_id=E1",
              NULL);
    s_expect(f, c, NULL, e,
             "events.csv:3: column 13 (complaint_ext_id): 'E1' is a contact event, not a "
             "complaint\n");
    free(e);
    free(c);
}

static void
test_unknown_word(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK ";gender=X", NULL);
    s_expect(f, c, NULL, NULL,
             "customers.csv:2: column 5 (gender): unknown word 'X' (one of M, F)\n");
    free(c);
    c = s_csv(CUST_H, C1_OK, NULL);
    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=contact;at=2021-01-01;"
                    "channel=carrier pigeon",
                    NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 9 (channel): unknown word 'carrier pigeon' (one of "
             "phone, dm, visit, sms, email, wechat)\n");
    free(e);
    e = s_csv(EV_H, "ext_id=E1;customer_ext_id=C1;kind=visit;at=2021-01-01", NULL);
    s_expect(f, c, NULL, e, "events.csv:2: column 3 (kind): unknown kind 'visit'\n");
    free(e);
    /* a long word is quoted cut to 32 bytes */
    e = s_csv(EV_H,
              "ext_id=E1;customer_ext_id=C1;kind=contact;at=2021-01-01;"
              "channel=abcdefghijklmnopqrstuvwxyz0123456789",
              NULL);
    s_expect(
        f, c, NULL, e,
        "events.csv:2: column 9 (channel): unknown word "
        "'abcdefghijklmnopqrstuvwxyz012345...' (one of phone, dm, visit, sms, email, "
        "wechat)\n");
    free(e);
    free(c);
}

static void
test_satisfaction_range(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK, NULL);
    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=survey;at=2021-01-01;"
                    "satisfaction=6;repurchase=mid;recommend=possible",
                    NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 14 (satisfaction): must be between 1 and 5\n");
    free(e);
    char row[200];
    snprintf(row, sizeof row,
             "ext_id=E1;customer_ext_id=C1;kind=service;at=2021-01-01;vin=%s;"
             "service_type=periodic;mileage=-5",
             s_v[1]);
    e = s_csv(EV_H, row, NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 7 (mileage): must be between 0 and 9999999\n");
    free(e);
    free(c);
}

static void
test_required_cells(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, "ext_id=C1;phone=13800138000;created_at=2020-03-01", NULL);
    s_expect(f, c, NULL, NULL, "customers.csv:2: column 2 (name): is required\n");
    free(c);
    c = s_csv(CUST_H, C1_OK, NULL);
    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=survey;at=2021-01-01;"
                    "satisfaction=4;recommend=possible",
                    NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 15 (repurchase): is required for kind 'survey'\n");
    free(e);
    /* a kind whose column the file lacks altogether */
    e = strdup("ext_id,customer_ext_id,kind,at\n"
               "E1,C1,defeat,2021-01-01\n");
    s_expect(f, c, NULL, e,
             "events.csv:2: kind 'defeat' needs column 'reason', which the file lacks\n");
    free(e);
    /* a row with too few cells */
    e = strdup("ext_id,customer_ext_id,kind,at\n"
               "E1,C1,grade\n");
    s_expect(f, c, NULL, e, "events.csv:2: has 3 cells, the header 4\n");
    free(e);
    free(c);
}

static void
test_unknown_column(void **state)
{
    fx_t *f = *state;
    const char *text = CUST_H ",foo\n"
                              "C1,Zhang,13800138000,,,,,,,2020-03-01,,,bar\n";
    s_expect(f, text, NULL, NULL, "customers.csv:1: column 13: unknown column 'foo'\n");
    assert_int_equal(s_run_opts(f, text, NULL, NULL, (run_opts_t){false, true, false}),
                     0);
    assert_int_equal(f->st.created, 1);
}

static void
test_missing_column(void **state)
{
    fx_t *f = *state;
    s_expect(f, "ext_id,name,phone\nC1,Zhang,13800138000\n", NULL, NULL,
             "customers.csv:1: missing required column 'created_at'\n");
    s_expect(f, "ext_id,name,created_at,name\nC1,Zhang,2020-01-01,Zhang\n", NULL, NULL,
             "customers.csv:1: column 4: column 'name' repeats column 2\n");
    s_expect(f, "", NULL, NULL, "customers.csv:1: the file is empty: no header row\n");
}

/* An empty file, of each of the three: refused with its name and line 1,
 * nothing written.  An empty file is not mapped (the reader gets a NULL
 * buffer of 0 bytes), which the line count and the parser once offset:
 * clang's UBSan (the fuzz build) flags NULL + 0 as undefined. */
static void
test_empty_files(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK, NULL);
    s_expect(f, "", NULL, NULL, "customers.csv:1: the file is empty: no header row\n");
    s_expect(f, c, "", NULL, "vehicles.csv:1: the file is empty: no header row\n");
    s_expect(f, c, NULL, "", "events.csv:1: the file is empty: no header row\n");
    free(c);
}

static void
test_duplicate_ext_id(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK, "ext_id=C2;name=Li;created_at=2020-03-01",
                    "ext_id=C1;name=Wang;created_at=2020-03-01", NULL);
    s_expect(f, c, NULL, NULL,
             "customers.csv:4: column 1 (ext_id): ext_id 'C1' repeats line 2\n");
    free(c);
    c = s_csv(CUST_H, C1_OK, NULL);
    char r1[160], r2[160];
    snprintf(r1, sizeof r1, "vin=%s;customer_ext_id=C1;model=X;delivered_at=2021-01-01",
             s_v[1]);
    snprintf(r2, sizeof r2, "vin=%s;customer_ext_id=C1;model=Y;delivered_at=2021-02-01",
             s_v[1]);
    char *v = s_csv(VEH_H, r1, r2, NULL);
    char want[200];
    snprintf(want, sizeof want,
             "vehicles.csv:3: column 1 (vin): VIN '%s' repeats line 2\n", s_v[1]);
    s_expect(f, c, v, NULL, want);
    free(v);
    free(c);
}

static void
test_not_applicable(void **state)
{
    fx_t *f = *state;
    char row[200];
    snprintf(row, sizeof row,
             "ext_id=E1;customer_ext_id=C1;kind=service;at=2021-01-01;vin=%s;"
             "service_type=periodic;severity=major",
             s_v[1]);
    char *c = s_csv(CUST_H, C1_OK, NULL);
    char *e = s_csv(EV_H, row, NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 11 (severity): column 'severity' does not apply to "
             "kind 'service'\n");
    free(e);
    free(c);
}

static void
test_malformed_csv(void **state)
{
    fx_t *f = *state;
    s_expect(f,
             CUST_H "\n"
                    "C1,Zhang,13800138000,,,,,,,2020-03-01,,\n"
                    "C2,\"Li,13900139000,,,,,,,2020-03-01,,\n"
                    "C3,Wang,,,,,,,,2020-03-01,,\n",
             NULL, NULL,
             "customers.csv:3: malformed CSV: a quoted cell is not closed by the end of "
             "the file\n");
    s_expect(f,
             CUST_H "\n"
                    "C1,Zhang,13800138000,,,,,,,2020-03-01,,\n"
                    "C2,\"Li\"x,,,,,,,,2020-03-01,,\n",
             NULL, NULL,
             "customers.csv:3: malformed CSV: a quote inside an unquoted cell, or text "
             "after a closing quote\n");
    /* malformed CSV stops the import even when partial imports are accepted */
    assert_int_equal(s_run_opts(f,
                                CUST_H "\n"
                                       "C1,Zhang,13800138000,,,,,,,2020-03-01,,\n"
                                       "C2,Li\"si,,,,,,,,2020-03-01,,\n",
                                NULL, NULL, (run_opts_t){true, false, false}),
                     JP_EINVAL);
    assert_int_equal(s_counts(f, NULL), 0);
}

static void
test_referral_cycle(void **state)
{
    fx_t *f = *state;
    char *c =
        s_csv(CUST_H, C1_OK, "ext_id=C2;name=Li;created_at=2020-03-01;referred_by=C3",
              "ext_id=C3;name=Wang;created_at=2020-03-01;referred_by=C2", NULL);
    assert_int_equal(s_run(f, c, NULL, NULL), JP_EINVAL);
    assert_string_equal(
        f->report, "customers.csv:3: column 11 (referred_by): referred_by leads back "
                   "to this customer (a cycle)\n"
                   "customers.csv:4: column 11 (referred_by): referred_by leads back "
                   "to this customer (a cycle)\n");
    assert_non_null(strstr(f->err.msg, "2 rows rejected; nothing imported"));
    assert_int_equal(s_counts(f, NULL), 0);
    free(c);
}

static void
test_event_never_edited(void **state)
{
    fx_t *f = *state;
    char *c = s_csv(CUST_H, C1_OK, NULL);
    char *e = s_csv(EV_H,
                    "ext_id=E1;customer_ext_id=C1;kind=contact;at=2021-01-01;"
                    "channel=phone",
                    NULL);
    assert_int_equal(s_run(f, c, NULL, e), 0);
    free(e);
    e = s_csv(EV_H,
              "ext_id=E1;customer_ext_id=C1;kind=contact;at=2021-01-01;"
              "channel=sms",
              NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 9 (channel): event 'E1' is already in the store with "
             "another channel; events are never edited\n");
    free(e);
    e = s_csv(EV_H, "ext_id=E1;customer_ext_id=C1;kind=grade;at=2021-01-01;grade=B",
              NULL);
    s_expect(f, c, NULL, e,
             "events.csv:2: column 1 (ext_id): event 'E1' is already in the store as a "
             "contact event\n");
    free(e);
    free(c);
}

static void
test_partial(void **state)
{
    fx_t *f = *state;
    char r1[160], r2[160];
    snprintf(r1, sizeof r1, "vin=%s;customer_ext_id=C1;model=X;delivered_at=2021-01-01",
             s_v[1]);
    snprintf(r2, sizeof r2, "vin=%s;customer_ext_id=C2;model=Y;delivered_at=2021-02-01",
             s_v[2]);
    char *c =
        s_csv(CUST_H, C1_OK, "ext_id=C2;name=Li;phone=1380013800;created_at=2020-03-01",
              "ext_id=C3;name=Wang;created_at=2020-03-01;referred_by=C2",
              "ext_id=C4;name=Zhao;created_at=2020-03-01", NULL);
    char *v = s_csv(VEH_H, r1, r2, NULL);
    char *e =
        s_csv(EV_H, "ext_id=E1;customer_ext_id=C2;kind=contact;at=2021-01-01;channel=sms",
              "ext_id=E2;customer_ext_id=C1;kind=contact;at=2021-01-01;channel=sms",
              "ext_id=E3;customer_ext_id=C1;kind=referral;at=2021-01-01;"
              "referred_ext_id=C2",
              NULL);
    /* all-or-nothing first */
    assert_int_equal(s_run(f, c, v, e), JP_EINVAL);
    assert_string_equal(f->report,
                        "customers.csv:3: column 3 (phone): mobile number must have 11 "
                        "digits\n");
    assert_int_equal(s_counts(f, NULL), 0);

    assert_int_equal(s_run_opts(f, c, v, e, (run_opts_t){true, false, false}), JP_EINVAL);
    assert_string_equal(
        f->report,
        "customers.csv:3: column 3 (phone): mobile number must have 11 digits\n"
        "customers.csv:4: column 11 (referred_by): referring customer 'C2' "
        "(customers.csv:3) was rejected\n"
        "vehicles.csv:3: column 2 (customer_ext_id): customer 'C2' (customers.csv:3) was "
        "rejected\n"
        "events.csv:2: column 2 (customer_ext_id): customer 'C2' (customers.csv:3) was "
        "rejected\n"
        "events.csv:4: column 17 (referred_ext_id): referred customer 'C2' "
        "(customers.csv:3) was rejected\n");
    assert_non_null(strstr(f->err.msg, "5 rows rejected; the other 4 imported"));
    assert_int_equal(f->st.rows, 9);
    assert_int_equal(f->st.rejected, 5);
    assert_int_equal(f->st.created, 4);
    uint64_t k[JP_K_COUNT];
    assert_int_equal(s_counts(f, k), 4);
    assert_int_equal(k[JP_K_CUSTOMER], 2);
    assert_int_equal(k[JP_K_VEHICLE], 1);
    assert_int_equal(k[JP_K_CONTACT], 1);
    free(c);

    /* C2 fixed: the rest comes in, what is there stays */
    c = s_csv(CUST_H, C1_OK, "ext_id=C2;name=Li;phone=13900139000;created_at=2020-03-01",
              "ext_id=C3;name=Wang;created_at=2020-03-01;referred_by=C2",
              "ext_id=C4;name=Zhao;created_at=2020-03-01", NULL);
    assert_int_equal(s_run(f, c, v, e), 0);
    assert_int_equal(f->st.created, 5);
    assert_int_equal(f->st.unchanged, 4);
    assert_int_equal(s_counts(f, NULL), 9);
    free(c);
    free(v);
    free(e);
}

/* The import's memory is sized to its files and grows past that: a small
 * file whose report outgrows the first arena block (each rejected row's
 * line is longer than the row), and a file of several blocks' text, every
 * byte of which must come back from the store. */
static void
test_memory_grows(void **state)
{
    fx_t *f = *state;
    enum { NBAD = 4000, NGOOD = 12000, NOTE = 640 };
    sb_t e = {0}, c = {0};
    char row[NOTE + 128];
    sb_str(&e, "ext_id,customer_ext_id,kind,at,channel\n");
    for (int i = 0; i < NBAD; i++) {
        snprintf(row, sizeof row, "E%d,C1,contact,2021-01-01,x\n", i);
        sb_str(&e, row);
    }
    char *c1 = s_csv(CUST_H, C1_OK, NULL);
    assert_int_equal(s_run_opts(f, c1, NULL, e.p, (run_opts_t){true, false, false}),
                     JP_EINVAL);
    assert_int_equal(f->st.rows, NBAD + 1);
    assert_int_equal(f->st.rejected, NBAD);
    size_t lines = 0;
    for (const char *p = f->report; (p = strchr(p, '\n')); p++)
        lines++;
    assert_int_equal(lines, NBAD);
    snprintf(row, sizeof row,
             "events.csv:%d: column 5 (channel): unknown word 'x' (one of phone, dm, "
             "visit, sms, email, wechat)\n",
             NBAD + 1);
    assert_string_equal(f->report + strlen(f->report) - strlen(row), row);
    free(c1);

    /* about 8 MiB of notes: more than one arena block */
    char note[NOTE + 1];
    sb_str(&c, CUST_H "\n");
    for (int i = 0; i < NGOOD; i++) {
        for (int j = 0; j < NOTE; j++)
            note[j] = (char)('a' + (i + j) % 26);
        note[NOTE] = '\0';
        snprintf(row, sizeof row, "G%d,Name%d,,,,,,,,2020-03-01,,%s\n", i, i, note);
        sb_str(&c, row);
    }
    assert_int_equal(s_run(f, c.p, NULL, NULL), 0);
    assert_int_equal(f->st.created, NGOOD);
    jp_txn_t *t;
    jp_record_t rec;
    assert_int_equal(jp_db_begin(f->db, false, &t, NULL), 0);
    for (int i = 0; i < NGOOD; i += 997) {
        char ext[16];
        jp_id_t id;
        snprintf(ext, sizeof ext, "G%d", i);
        assert_int_equal(jp_txn_find_ext(t, 7, JP_EXT_CUSTOMER, ext, strlen(ext), &id),
                         0);
        assert_int_equal(jp_txn_get(t, &id, &rec), 0);
        for (int j = 0; j < NOTE; j++)
            note[j] = (char)('a' + (i + j) % 26);
        assert_true(rec.f[JP_F_NOTE].set);
        assert_int_equal(rec.f[JP_F_NOTE].v.u.s.n, NOTE);
        assert_memory_equal(rec.f[JP_F_NOTE].v.u.s.p, note, NOTE);
    }
    jp_txn_abort(&t);
    free(c.p);
    free(e.p);
}

int
main(void)
{
    if (jp_tz_set("Asia/Shanghai") != 0)
        return 1;
    char id17[18] = "44130219850612001";
    memcpy(s_id1, id17, 17);
    s_id1[17] = jp_idnum_check_char(id17);
    memcpy(s_badid, s_id1, 19);
    s_badid[17] = s_id1[17] == '1' ? '2' : '1';
    for (int i = 0; i < 4; i++)
        s_vin(100 + (unsigned)i, s_v[i]);

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reimport_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_row, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bom_crlf_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_phone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_owner_needs_phone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_id_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_vin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_date, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dates_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_customer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_complaint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_word, setup, teardown),
        cmocka_unit_test_setup_teardown(test_satisfaction_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_ext_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_applicable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_csv, setup, teardown),
        cmocka_unit_test_setup_teardown(test_referral_cycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_never_edited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_grows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
