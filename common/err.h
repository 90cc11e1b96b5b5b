/*
 * err.h -- error codes and the error context every jipan call can fill.
 *
 * Functions return 0 on success or a negative JP_E* code.  Where the caller
 * needs to tell a person what went wrong (what, where, why), it passes a
 * jp_err_t; the callee writes one sentence into it.  Messages never carry
 * personal data (phone numbers, ID numbers): they name the file, line,
 * column, record id or field instead.
 */
#ifndef JP_ERR_H
#define JP_ERR_H

#include <stddef.h>

enum {
    JP_OK = 0,
    JP_EINVAL = -1,    /* bad input from a user, a file or a peer */
    JP_ECORRUPT = -2,  /* malformed or truncated bytes */
    JP_ETOOBIG = -3,   /* a length or count above its limit */
    JP_EVERSION = -4,  /* unknown format or protocol version */
    JP_ENOTFOUND = -5, /* no such record, key or file */
    JP_EEXIST = -6,    /* already exists */
    JP_ECHAIN = -7,    /* hash chain or seq does not continue */
    JP_ESIG = -8,      /* signature does not verify */
    JP_EFUTURE = -9,   /* hlc too far ahead of the local clock */
    JP_EPERM = -10,    /* not allowed: writing as another store, editing an event */
    JP_EIO = -11,      /* file system error (errno in the message) */
    JP_EFULL = -12,    /* LMDB map full or disk full */
    JP_EDB = -13,      /* other LMDB error */
    JP_ENOMEM = -14,   /* allocation failed */
    JP_ECRYPTO = -15,  /* OpenSSL failure */
    JP_EDUP = -16,     /* duplicate: already applied, ignored */
    JP_EDAMAGED =
        -17, /* an environment's file is damaged (LMDB's pages, a stored state) */
};

/* One error: its code and one sentence for a person. */
typedef struct {
    int code;      /* JP_E* of the failure, 0 when clear */
    char msg[512]; /* what, where, why; no personal data */
} jp_err_t;

/* Static words for a code ("hash chain broken"). */
const char *jp_strerror(int code);

/* Fill err (if not NULL) and return code, so callers can write
 * `return jp_err_set(err, JP_EINVAL, "line %d: ...", n);`.  */
int jp_err_set(jp_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clear err (if not NULL). */
void jp_err_clear(jp_err_t *err);

#endif
