/*
 * ask.h -- one question to the server: connect over CURVE, HELLO, QUERY,
 * the ANSWER, BYE.  What analysts' and auditors' tools (jipan-query) and a
 * store asking for figures beyond its own copy use.
 */
#ifndef JP_ASK_H
#define JP_ASK_H

#include "curve.h"
#include "err.h"

#include <stdint.h>

typedef struct {
    const char *endpoint;      /* tcp://host:port */
    const uint8_t *server_key; /* the server's Curve public key, 32 bytes (pinned) */
    const jp_curve_t *key;     /* the client's Curve key pair */
    uint16_t store;            /* the client's store, 0 if not a store */
    int timeout_ms;            /* per answer; 0: 15 s */
} jp_ask_t;

/* Ask what with args (n pairs of key, value) and return the ANSWER body
 * (malloc'd, NUL-terminated, *n bytes).  Refusals come back as the
 * server's error: JP_EPERM (forbidden, identity, revoked) or JP_EINVAL
 * (malformed), with the server's words in err; JP_EIO when the server does
 * not answer in time (not running, or the key is not admitted: CURVE
 * refusals are silent on the wire). */
int jp_ask(const jp_ask_t *a, const char *what, const char *const *args, int nargs,
           char **body, size_t *n, jp_err_t *err);

#endif
