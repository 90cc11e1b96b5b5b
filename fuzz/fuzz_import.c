/*
 * fuzz_import.c -- the CSV import (common/import.c): parse and check of
 * the three files against a real LMDB store, in dry-run mode.
 *
 * The store lives in /dev/shm (or /tmp) and holds a small base imported
 * once at start, so that rows can name customers and vehicles that exist
 * in the store as well as in the files.  An input is
 *
 *     flags byte | customers.csv | NUL | vehicles.csv | NUL | events.csv
 *
 * (a part absent when the input has fewer NULs: that file is not given;
 * flags bit 0 partial, bit 1 ignore unknown columns).  Each run must end
 * in 0 or a refusal with a message, and change nothing in the store: a
 * dry run writes nothing, whatever the input.
 */
#include "db.h"
#include "fuzz.h"
#include "import.h"

#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[64];     /* mkdtemp: the store and the files */
static char s_file[3][96]; /* customers.csv, vehicles.csv, events.csv */
static jp_db_t *s_db;      /* the store, open for the whole run */
static uint64_t s_changes; /* its log length after the base import */
static FILE *s_null;       /* where the reports go */

static const char *const s_base[3] = {
    "ext_id,name,phone,id_number,birthday,district,source,grade,created_at,referred_by\n"
    "CB-1,孙建华,13800012345,441302199806120005,1998-06-12,惠阳区,internet,A,"
    "2026-05-12T10:00:00+08:00,\n"
    "CB-2,胡伟,13900012345,,1980-07-11,博罗县,walk_in,A,2025-02-04T10:00:00+08:00,CB-1\n",
    "vin,customer_ext_id,model,plate,delivered_at,price,sale_kind\n"
    "LSVMXD633NA000000,CB-2,RAV4 荣放,粤LT9574,2026-02-17,143519,replacement\n",
    "ext_id,customer_ext_id,kind,at,vin,service_type,mileage,amount,channel,purpose\n"
    "EB-1,CB-1,contact,2026-05-26T17:31:00+08:00,,,,,phone,follow_up\n",
};

static void
s_put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "cannot create %s", path);
    FUZZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n, "cannot write %s", path);
    fclose(f);
}

static uint64_t
s_log_length(void)
{
    jp_txn_t *t = NULL;
    uint64_t counts[JP_K_COUNT], changes = 0;
    FUZZ_CHECK(jp_db_begin(s_db, false, &t, NULL) == 0, "read txn");
    FUZZ_CHECK(jp_txn_counts(t, counts, &changes) == 0, "counts");
    jp_txn_abort(&t);
    return changes;
}

static int
s_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void
s_cleanup(void)
{
    jp_db_close(&s_db);
    if (s_null)
        fclose(s_null);
    nftw(s_dir, s_rm, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(s_dir, sizeof s_dir, "%s/jp-fuzz-import-XXXXXX", tmp);
    FUZZ_CHECK(mkdtemp(s_dir) != NULL, "mkdtemp %s", s_dir);
    static const char *const names[3] = {"customers.csv", "vehicles.csv", "events.csv"};
    for (int i = 0; i < 3; i++)
        snprintf(s_file[i], sizeof s_file[i], "%s/%s", s_dir, names[i]);
    char store[96];
    snprintf(store, sizeof store, "%s/store", s_dir);
    jp_err_t err = {0};
    FUZZ_CHECK(mkdir(store, 0700) == 0, "mkdir %s", store);
    FUZZ_CHECK(jp_db_open(&s_db, store, 0, &err) == 0, "open: %s", err.msg);
    atexit(s_cleanup);
    jp_txn_t *t = NULL;
    jp_node_t node;
    memset(&node, 0, sizeof node);
    node.store = 7;
    strcpy(node.code, "HZ01");
    strcpy(node.name, "惠州一店");
    strcpy(node.region, "惠州");
    strcpy(node.group, "粤东集团");
    strcpy(node.tz, "Asia/Shanghai");
    FUZZ_CHECK(jp_db_begin(s_db, true, &t, &err) == 0, "begin: %s", err.msg);
    FUZZ_CHECK(jp_txn_node_set(t, &node) == 0, "node");
    FUZZ_CHECK(jp_txn_commit(&t, &err) == 0, "commit: %s", err.msg);
    for (int i = 0; i < 3; i++)
        s_put(s_file[i], (const uint8_t *)s_base[i], strlen(s_base[i]));
    jp_import_opts_t o = {.customers = s_file[0],
                          .vehicles = s_file[1],
                          .events = s_file[2],
                          .author = "fuzz"};
    jp_import_stats_t st;
    FUZZ_CHECK(jp_import(s_db, &o, &st, &err) == 0, "base import: %s", err.msg);
    s_changes = s_log_length();
    s_null = fopen("/dev/null", "w");
    FUZZ_CHECK(s_null != NULL, "/dev/null");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *p = data + 1, *end = data + size;
    const char *paths[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3 && p <= end; i++) {
        const uint8_t *nul = p < end ? memchr(p, 0, (size_t)(end - p)) : NULL;
        const uint8_t *q = nul ? nul : end;
        s_put(s_file[i], p, (size_t)(q - p));
        paths[i] = s_file[i];
        if (!nul)
            break;
        p = nul + 1;
    }
    jp_import_opts_t o = {.customers = paths[0],
                          .vehicles = paths[1],
                          .events = paths[2],
                          .partial = flags & 1,
                          .ignore_unknown = flags & 2,
                          .dry_run = true,
                          .author = "fuzz",
                          .report = s_null};
    jp_import_stats_t st;
    jp_err_t err = {0};
    int rc = jp_import(s_db, &o, &st, &err);
    FUZZ_CHECK(rc == 0 || err.msg[0], "refused (%d) without a message", rc);
    FUZZ_CHECK(rc == 0 || rc == JP_EINVAL || rc == JP_ETOOBIG || rc == JP_ECORRUPT,
               "import returned %d: %s", rc, err.msg);
    FUZZ_CHECK(st.rejected <= st.rows, "%zu rejected of %zu rows", st.rejected, st.rows);
    FUZZ_CHECK(st.txns == 0, "a dry run committed %zu transactions", st.txns);
    FUZZ_CHECK(s_log_length() == s_changes, "a dry run changed the store's log");
    return 0;
}
