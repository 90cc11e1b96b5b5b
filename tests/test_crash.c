/*
 * test_crash.c -- an import killed with SIGKILL at random moments leaves
 * the store at a transaction boundary, and running it again completes it.
 *
 * The test writes a data set large enough that an import takes a while
 * (customers, one vehicle each, and as many events, with referral chains
 * and complaints followed up), times one uninterrupted import in a child
 * process, then for each of several delays spread over that time imports
 * into a fresh store in a child and kills it.  After each kill: the log's
 * chain verifies, every record has a change and every change its record,
 * and the number of changes is a whole number of S_TXN_ROWS
 * transactions (or all of them).  Then the import runs again to the end:
 * counts by kind equal the uninterrupted import's, and a third import
 * writes nothing.  (Record ids are random per store, so digests are
 * compared only within one store.)
 *
 * JP_CRASH_CUSTOMERS sets the size (default 60000 customers, so 180000
 * rows); JP_CRASH_RUNS the number of kills (default 5).  The import rate
 * of the uninterrupted run is printed (a release build with
 * JP_CRASH_CUSTOMERS=133334 JP_CRASH_RUNS=0 measures 400,000 records).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codec.h"
#include "db.h"
#include "import.h"
#include "validate.h"

#define STORE 7
#define S_TXN_ROWS 15000 /* small transactions: many boundaries to kill across */

typedef struct {
    char dir[64];    /* mkdtemp result */
    char csv[3][96]; /* customers.csv, vehicles.csv, events.csv */
    unsigned ncust;  /* customers in the data set */
    size_t rows;     /* rows of the three files */
} fx_t;

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the data set -------------------------------------------------------- */

static void
s_vin(unsigned serial, char out[18])
{
    /* 8 characters, the check digit, year, plant, then a 6-digit serial */
    snprintf(out, 18, "LFV2A21K0PA%06u", serial % 1000000);
    out[8] = jp_vin_check_digit(out);
}

static const char *
s_day(unsigned i, unsigned offset_days, char out[11])
{
    /* days from 2015-01-01, wrapping within about eight years */
    int64_t base;
    assert_int_equal(jp_parse_date("2015-01-01", 10, &base, NULL), 0);
    jp_format_date(base + (int64_t)((i * 7u) % 2900u) + offset_days, out);
    return out;
}

static void
s_generate(fx_t *f)
{
    static const char *const grades[] = {"", "O", "H", "A", "B", "C", "potential"};
    static const char *const sources[] = {"walk_in",  "phone",      "referral",
                                          "internet", "exhibition", "other"};
    FILE *c = fopen(f->csv[0], "w"), *v = fopen(f->csv[1], "w"),
         *e = fopen(f->csv[2], "w");
    assert_true(c && v && e);
    fputs("ext_id,name,phone,gender,district,source,grade,created_at,referred_by\n", c);
    fputs("vin,customer_ext_id,model,plate,delivered_at,price,sale_kind\n", v);
    fputs("ext_id,customer_ext_id,kind,at,vin,service_type,mileage,amount,channel,"
          "purpose,severity,subject,complaint_ext_id,note\n",
          e);
    char d1[11], d2[11], vin[18], ref[16];
    for (unsigned i = 0; i < f->ncust; i++) {
        /* every tenth customer was referred by the next one down the file */
        ref[0] = '\0';
        if (i % 10 == 3 && i + 1 < f->ncust)
            snprintf(ref, sizeof ref, "C%06u", i + 1);
        fprintf(c, "C%06u,客户%u,139%08u,%s,惠城区,%s,%s,%s,%s\n", i, i, i,
                i % 2 ? "M" : "F", sources[i % 6], grades[i % 7], s_day(i, 0, d1), ref);
        s_vin(i, vin);
        fprintf(v, "%s,C%06u,Model %c,粤L%05u,%s,%u.%02u,%s\n", vin, i, 'A' + i % 5,
                i % 100000, s_day(i, 3, d2), 90000 + i % 50000, i % 100,
                i % 3 ? "new" : "replacement");
        /* events: a service visit, a contact, a complaint and its resolution */
        switch (i % 4) {
        case 0:
            fprintf(e, "E%06u,C%06u,service,%sT10:00,%s,periodic,%u,%u.50,,,,,,\n", i, i,
                    s_day(i, 60, d2), vin, 1000 + i % 30000, i % 2000);
            break;
        case 1:
            fprintf(e, "E%06u,C%06u,contact,%sT09:30,,,,,phone,day3,,,,\"call, ok\"\n", i,
                    i, s_day(i, 6, d2));
            break;
        case 2:
            fprintf(e, "E%06u,C%06u,complaint,%sT11:00,,,,,,,major,service,,\n", i, i,
                    s_day(i, 30, d2));
            break;
        case 3: /* resolves the complaint of the row before, same day as it or later */
            fprintf(e, "E%06u,C%06u,complaint_resolved,%sT12:00,,,,,,,,,E%06u,\n", i,
                    i - 1, s_day(i - 1, 31, d2), i - 1);
            break;
        }
    }
    assert_int_equal(fclose(c), 0);
    assert_int_equal(fclose(v), 0);
    assert_int_equal(fclose(e), 0);
    f->rows = (size_t)f->ncust * 3;
}

/* ---- stores ----------------------------------------------------------------- */

static void
s_store_init(const char *path)
{
    jp_db_t *db = NULL;
    jp_txn_t *t = NULL;
    jp_node_t node;
    nftw(path, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(jp_db_open(&db, path, 0, NULL), 0);
    assert_int_equal(jp_db_begin(db, true, &t, NULL), 0);
    memset(&node, 0, sizeof node);
    node.store = STORE;
    strcpy(node.code, "HZ01");
    strcpy(node.tz, "Asia/Shanghai");
    assert_int_equal(jp_txn_node_set(t, &node), 0);
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
    jp_db_close(&db);
}

static int
s_import_opts(fx_t *f, const char *store, bool dry_run, jp_import_stats_t *st,
              jp_err_t *err)
{
    jp_db_t *db = NULL;
    int rc = jp_db_open(&db, store, 0, err);
    if (rc)
        return rc;
    jp_import_opts_t o = {
        .customers = f->csv[0],
        .vehicles = f->csv[1],
        .events = f->csv[2],
        .author = "crash-test",
        .txn_rows = S_TXN_ROWS,
        .dry_run = dry_run,
        .report = stderr,
    };
    rc = jp_import(db, &o, st, err);
    jp_db_close(&db);
    return rc;
}

static int
s_import(fx_t *f, const char *store, jp_import_stats_t *st, jp_err_t *err)
{
    return s_import_opts(f, store, false, st, err);
}

/* Import into store in a child; kill it after delay seconds (< 0: never).
 * Returns the seconds the child lived. */
static double
s_child(fx_t *f, const char *store, bool dry_run, double delay, bool *killed)
{
    fflush(NULL);
    double t0 = s_now();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        jp_err_t err;
        jp_import_stats_t st;
        int rc = s_import_opts(f, store, dry_run, &st, &err);
        if (rc)
            fprintf(stderr, "child import: %s\n", err.msg);
        _exit(rc ? 1 : 0);
    }
    int status;
    *killed = false;
    if (delay >= 0) {
        struct timespec ts = {(time_t)delay,
                              (long)((delay - (double)(time_t)delay) * 1e9)};
        nanosleep(&ts, NULL);
        *killed = kill(pid, SIGKILL) == 0;
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    double lived = s_now() - t0;
    if (WIFSIGNALED(status))
        assert_int_equal(WTERMSIG(status), SIGKILL);
    else
        assert_int_equal(WEXITSTATUS(status), 0);
    *killed = WIFSIGNALED(status);
    return lived;
}

static int
s_id_cmp(const void *a, const void *b)
{
    return jp_id_cmp(a, b);
}

/* The store after a kill: a consistent prefix of whole transactions.
 * Returns the number of changes. */
static uint64_t
s_check_store(const char *store, size_t total)
{
    jp_db_t *db = NULL;
    jp_txn_t *t = NULL;
    jp_err_t err;
    jp_head_t head;
    uint64_t counts[JP_K_COUNT], changes, sum = 0;
    assert_int_equal(jp_db_open(&db, store, 0, NULL), 0);
    assert_int_equal(jp_db_begin(db, false, &t, NULL), 0);
    if (jp_txn_verify_chain(t, STORE, &err) != 0)
        fail_msg("chain: %s", err.msg);
    assert_int_equal(jp_txn_head(t, STORE, &head), 0);
    assert_int_equal(jp_txn_counts(t, counts, &changes), 0);
    assert_int_equal(head.seq, changes);
    for (int k = 0; k < JP_K_COUNT; k++)
        sum += counts[k];
    /* a fresh store and only creates: one change per record, whole
     * transactions of S_TXN_ROWS, or everything */
    assert_int_equal(sum, changes);
    assert_true(changes % S_TXN_ROWS == 0 || changes == total);

    jp_id_t *ids = malloc((changes + 1) * sizeof *ids);
    assert_non_null(ids);
    for (uint64_t seq = 1; seq <= changes; seq++) {
        const uint8_t *p;
        size_t n;
        jp_change_t ch;
        jp_record_t r;
        assert_int_equal(jp_txn_log_get(t, STORE, seq, &p, &n), 0);
        assert_int_equal(jp_change_decode(p, n, &ch, NULL), 0);
        ids[seq - 1] = ch.id;
        /* every change's record exists */
        assert_int_equal(jp_txn_get(t, &ch.id, &r), 0);
        assert_int_equal(r.kind, ch.kind);
    }
    /* The changes name distinct records, each of which exists, and there
     * are as many records as changes: so every record has its change.
     * (Counting rather than walking rec with jp_txn_each_record, which
     * UBSan flags for a memcmp with NULL in db.c's s_scan.) */
    qsort(ids, changes, sizeof *ids, s_id_cmp);
    for (uint64_t i = 1; i < changes; i++)
        assert_int_not_equal(jp_id_cmp(&ids[i - 1], &ids[i]), 0);
    free(ids);
    jp_txn_abort(&t);
    jp_db_close(&db);
    return changes;
}

static void
s_counts(const char *store, uint64_t out[JP_K_COUNT], uint64_t *changes,
         uint8_t digest[JP_HASH_LEN])
{
    jp_db_t *db = NULL;
    jp_txn_t *t = NULL;
    assert_int_equal(jp_db_open(&db, store, 0, NULL), 0);
    assert_int_equal(jp_db_begin(db, false, &t, NULL), 0);
    assert_int_equal(jp_txn_counts(t, out, changes), 0);
    assert_int_equal(jp_txn_digest(t, digest), 0);
    jp_txn_abort(&t);
    jp_db_close(&db);
}

static void
test_kill_and_resume(void **state)
{
    fx_t *f = *state;
    char ref[128], store[128];
    uint64_t want[JP_K_COUNT], got[JP_K_COUNT], nref, n;
    uint8_t dref[JP_HASH_LEN], d1[JP_HASH_LEN], d2[JP_HASH_LEN];
    bool killed;
    const char *env = getenv("JP_CRASH_RUNS");
    int runs = env ? atoi(env) : 5;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    printf("seed %u, %zu rows\n", seed, f->rows);

    /* one uninterrupted import, timed */
    snprintf(ref, sizeof ref, "%s/ref", f->dir);
    s_store_init(ref);
    double full = s_child(f, ref, false, -1, &killed);
    assert_false(killed);
    s_counts(ref, want, &nref, dref);
    assert_int_equal(nref, f->rows);
    assert_int_equal(want[JP_K_CUSTOMER], f->ncust);
    assert_int_equal(want[JP_K_VEHICLE], f->ncust);
    printf("uninterrupted import: %.2f s, %.0f records/s\n", full,
           (double)f->rows / full);
    /* phase 1 alone, so that most kills land while writing */
    snprintf(store, sizeof store, "%s/killed", f->dir);
    s_store_init(store);
    double check = s_child(f, store, true, -1, &killed);
    if (check > full)
        check = full;
    printf("validation alone: %.2f s\n", check);

    for (int i = 0; i < runs; i++) {
        /* the first kill while validating, the others spread over the
         * writing, jittered within each slice */
        double jitter = (double)rand() / RAND_MAX, delay;
        if (i == 0 && runs > 1)
            delay = check * (0.2 + 0.6 * jitter);
        else
            delay = check + (full - check) * ((double)(i - (runs > 1)) + jitter) /
                                (double)(runs - (runs > 1));
        s_store_init(store);
        s_child(f, store, false, delay, &killed);
        uint64_t before = s_check_store(store, f->rows);
        printf("run %d: killed %s after %.2f s: %llu changes\n", i, killed ? "yes" : "no",
               delay, (unsigned long long)before);

        /* again, to the end */
        jp_import_stats_t st;
        jp_err_t err;
        if (s_import(f, store, &st, &err))
            fail_msg("resume: %s", err.msg);
        assert_int_equal(st.rejected, 0);
        assert_int_equal(st.created + before, f->rows);
        assert_int_equal(st.unchanged, before);
        assert_int_equal(st.updated, 0);
        assert_int_equal(s_check_store(store, f->rows), f->rows);
        s_counts(store, got, &n, d1);
        assert_int_equal(n, nref);
        assert_memory_equal(got, want, sizeof got);

        if (i == runs - 1) {
            /* a third import changes nothing */
            if (s_import(f, store, &st, &err))
                fail_msg("third import: %s", err.msg);
            assert_int_equal(st.created + st.updated, 0);
            assert_int_equal(st.unchanged, f->rows);
            assert_int_equal(st.txns, 0);
            s_counts(store, got, &n, d2);
            assert_int_equal(n, nref);
            assert_memory_equal(d1, d2, sizeof d1);
        }
    }
    (void)dref;
}

static int
setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/jp-test-crash-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->csv[0], sizeof f->csv[0], "%s/customers.csv", f->dir);
    snprintf(f->csv[1], sizeof f->csv[1], "%s/vehicles.csv", f->dir);
    snprintf(f->csv[2], sizeof f->csv[2], "%s/events.csv", f->dir);
    const char *env = getenv("JP_CRASH_CUSTOMERS");
    f->ncust = env ? (unsigned)atoi(env) : 60000;
    if (f->ncust < 4 || f->ncust > 999999)
        return -1;
    *state = f;
    s_generate(f);
    return 0;
}

static int
teardown(void **state)
{
    fx_t *f = *state;
    nftw(f->dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

int
main(void)
{
    if (jp_tz_set("Asia/Shanghai") != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill_and_resume, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
