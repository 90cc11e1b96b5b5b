/*
 * attest.h -- a store's key file: the public keys a store signs its
 * batches with, as the store itself states them, signed by its current
 * key (docs/EXPORT.md, "Store key files").
 *
 * The auditor takes the file from the store, not from the server, and
 * gives it to `jipan-audit verify --store-keys`: every KEY record the
 * export lists for that store must then be one of these keys, so a server
 * that lists a key of its own for a store, or replaces the store's key,
 * and re-signs the store's batches with it, is found.
 *
 * The file is text, one item a line, each line ending in LF:
 *
 *   jipan-store-keys 1
 *   group GROUP            (1..64 bytes of UTF-8, no control characters)
 *   store N                (1..65535)
 *   made MS                (unix ms)
 *   key HEX                (64 hex digits; 1..JP_ATTEST_MAX_KEYS lines; the
 *                           first is the current key)
 *   sig HEX                (128 hex digits)
 *
 * sig is Ed25519 by the first key over every byte before the "sig" line.
 */
#ifndef JP_ATTEST_H
#define JP_ATTEST_H

#include "crypto.h"
#include "err.h"
#include "export.h"

#include <stdint.h>

#define JP_ATTEST_MAX_KEYS 16   /* keys a file may hold */
#define JP_ATTEST_MAX_FILE 4096 /* bytes of a file */

typedef struct {
    char group[JP_EXPORT_MAX_TEXT + 1];           /* the dealer group */
    uint16_t store;                               /* 1..65535 */
    uint64_t ms;                                  /* when it was made, unix ms */
    int nkeys;                                    /* 1..JP_ATTEST_MAX_KEYS */
    uint8_t keys[JP_ATTEST_MAX_KEYS][JP_PUB_LEN]; /* keys[0]: the current key */
} jp_attest_t;

/* Write a's file to path (refuses to overwrite: JP_EEXIST), signed by key,
 * whose public key must be a->keys[0] (asserted).  JP_EINVAL for a group
 * name the format cannot carry, JP_EIO with errno's words. */
int jp_attest_write(const char *path, const jp_attest_t *a, const jp_key_t *key,
                    jp_err_t *err);

/* Read and check the file at path into out: its form, line by line, and
 * its signature by its first key.  JP_ENOTFOUND / JP_EIO when it cannot
 * be read; JP_ECORRUPT (a line not in the form, named by its number),
 * JP_ETOOBIG (over JP_ATTEST_MAX_FILE bytes or JP_ATTEST_MAX_KEYS keys),
 * JP_EVERSION (another version), JP_ESIG (the signature fails). */
int jp_attest_read(const char *path, jp_attest_t *out, jp_err_t *err);

#endif
