/*
 * view_numbers.c -- a test's oracle: the phone and ID numbers of every
 * customer row of a base, each marked with whether a store's sharing rule
 * gives it (common/share.h), so that a test can grep a store's raw files
 * for what it must and must not hold.
 *
 *     jipan-view-numbers DATA_DIR STORE RULE STORE:REGION...
 *
 * prints "1 NUMBER" (given) or "0 NUMBER" for each number of each
 * customer row, phones in E.164 as stored, ID numbers upper-cased.
 */
#include "db.h"
#include "record.h"
#include "share.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    jp_txn_t *txn;
    jp_share_t *share;
    uint16_t store;
} s_run_t;

static void
s_print(const jp_record_t *r, int f, bool given)
{
    const jp_slot_t *sl = &r->f[f];
    if (sl->set && sl->v.type == JP_T_STR && sl->v.u.s.n)
        printf("%d %.*s\n", given, (int)sl->v.u.s.n, sl->v.u.s.p);
}

static int
s_each(void *arg, const jp_id_t *id)
{
    s_run_t *x = arg;
    jp_record_t r;
    bool given = false;
    int rc = jp_txn_get(x->txn, id, &r);
    if (rc || r.kind != JP_K_CUSTOMER)
        return rc;
    if ((rc = jp_share_visible(x->share, x->store, id, &given)))
        return rc;
    s_print(&r, JP_F_PHONE, given);
    s_print(&r, JP_F_ID_NUMBER, given);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr,
                "usage: jipan-view-numbers DATA_DIR STORE RULE STORE:REGION...\n");
        return 2;
    }
    jp_share_conf_t conf;
    jp_share_conf_init(&conf);
    const char *why;
    jp_share_store_t st[64];
    int n = 0;
    for (int i = 4; i < argc && n < 64; i++, n++) {
        char *colon = strchr(argv[i], ':');
        if (!colon)
            return 2;
        *colon = 0;
        st[n] = (jp_share_store_t){(uint16_t)atoi(argv[i]), colon + 1};
    }
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    s_run_t x = {.store = (uint16_t)atoi(argv[2])};
    int rc = jp_share_conf_set(&conf, "rule", argv[3], &why);
    if (!rc)
        rc = jp_db_open(&db, argv[1], 0, &err);
    if (!rc)
        rc = jp_db_begin(db, false, &x.txn, &err);
    if (!rc)
        rc = jp_share_load(&x.share, x.txn, &conf, st, (size_t)n, &err);
    if (!rc)
        rc = jp_txn_each_record(x.txn, s_each, &x);
    if (rc)
        fprintf(stderr, "jipan-view-numbers: %s\n",
                err.msg[0] ? err.msg : jp_strerror(rc));
    jp_share_destroy(&x.share);
    jp_txn_abort(&x.txn);
    jp_db_close(&db);
    return rc ? 1 : 0;
}
