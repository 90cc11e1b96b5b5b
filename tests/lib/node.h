/*
 * tests/lib/node.h -- what the cmocka tests that build several stores'
 * LMDB files share: a store's environment with its node record, and the
 * removal of a test's temp dir.  Include after <cmocka.h>.
 */
#ifndef JP_TEST_NODE_H
#define JP_TEST_NODE_H

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "db.h"

static int
s_node_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* Remove dir and everything below it. */
static inline void
jp_test_rm_tree(const char *dir)
{
    nftw(dir, s_node_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new environment dir/<prefix><store> (64 MiB map) whose node is store
 * number store, code STnn, time zone Asia/Shanghai; NULL if it cannot be
 * made. */
static inline jp_db_t *
jp_test_open_node(const char *dir, const char *prefix, int store)
{
    char path[256];
    jp_db_t *d = NULL;
    jp_txn_t *t = NULL;
    jp_node_t node;
    snprintf(path, sizeof path, "%s/%s%d", dir, prefix, store);
    if (mkdir(path, 0700) || jp_db_open(&d, path, 64, NULL))
        return NULL;
    assert_int_equal(jp_db_begin(d, true, &t, NULL), 0);
    memset(&node, 0, sizeof node);
    node.store = (uint16_t)store;
    snprintf(node.code, sizeof node.code, "ST%02d", store);
    strcpy(node.tz, "Asia/Shanghai");
    assert_int_equal(jp_txn_node_set(t, &node), 0);
    assert_int_equal(jp_txn_commit(&t, NULL), 0);
    return d;
}

#endif
