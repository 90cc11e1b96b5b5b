/*
 * err.c -- error words and the error context.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

const char *
jp_strerror(int code)
{
    switch (code) {
    case JP_OK:
        return "success";
    case JP_EINVAL:
        return "invalid input";
    case JP_ECORRUPT:
        return "malformed or truncated data";
    case JP_ETOOBIG:
        return "too large";
    case JP_EVERSION:
        return "unknown version";
    case JP_ENOTFOUND:
        return "not found";
    case JP_EEXIST:
        return "already exists";
    case JP_ECHAIN:
        return "hash chain broken";
    case JP_ESIG:
        return "signature does not verify";
    case JP_EFUTURE:
        return "clock too far in the future";
    case JP_EPERM:
        return "not permitted";
    case JP_EIO:
        return "input/output error";
    case JP_EFULL:
        return "database or disk full";
    case JP_EDB:
        return "database error";
    case JP_ENOMEM:
        return "out of memory";
    case JP_ECRYPTO:
        return "cryptography error";
    case JP_EDUP:
        return "duplicate, already applied";
    case JP_EDAMAGED:
        return "the database file is damaged";
    default:
        return "unknown error";
    }
}

int
jp_err_set(jp_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void
jp_err_clear(jp_err_t *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
