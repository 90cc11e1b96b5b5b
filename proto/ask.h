/*
 * ask.h -- questions to the server: connect over CURVE, HELLO, then QUERY
 * and its ANSWER as often as wanted, BYE.  What analysts' and auditors'
 * tools (jipan-query) and a store asking for figures beyond its own copy
 * use.
 */
#ifndef JP_ASK_H
#define JP_ASK_H

#include "curve.h"
#include "err.h"
#include "msg.h"

#include <stdint.h>

#define JP_ASK_MAX_EPS 4     /* endpoints in one jp_ask_t */
#define JP_ASK_EP_LEN 512    /* bytes of one, its NUL included */
#define JP_ASK_HELLO_MS 5000 /* a WELCOME awaited when another endpoint may answer */

/* Split text, endpoints separated by commas, into ep: their count, or 0
 * if one is empty or too long or there are more than JP_ASK_MAX_EPS.
 * What jp_ask_t's endpoint and a store's --server take. */
int jp_ask_endpoints(const char *text, char ep[JP_ASK_MAX_EPS][JP_ASK_EP_LEN]);

typedef struct {
    const char *endpoint;      /* tcp://host:port, or up to 4 separated by commas:
                                * the primary's and its standby's, tried in order */
    const uint8_t *server_key; /* the server's Curve public key, 32 bytes (pinned) */
    const jp_curve_t *key;     /* the client's Curve key pair */
    uint16_t store;            /* the client's store, 0 if not a store */
    int timeout_ms;            /* per answer; 0: 15 s */
} jp_ask_t;

/* An analyst's or auditor's tool's way to the server, as given on its
 * command line or in the environment: the key pair from keyfile into *k,
 * the server's key (64 hex digits or Z85) into skey, and a filled with
 * them (borrowing k, skey and server).  JP_EINVAL when one of the three
 * is missing or the server key is not a key, with err naming the options
 * and their variables ($JIPAN_QUERY_KEY, $JIPAN_SERVER, $JIPAN_SERVER_KEY);
 * JP_ENOTFOUND or JP_EIO from the key file. */
int jp_ask_setup(jp_ask_t *a, const char *keyfile, const char *server,
                 const char *server_key, jp_curve_t *k, uint8_t skey[32], jp_err_t *err);

/* A session for several questions: jp_ask_open connects and says HELLO
 * (a refused key or a silent server fail here; with several endpoints,
 * the first that welcomes within 5 s), jp_ask_query asks one question and
 * waits for its ANSWER, jp_ask_close says BYE. */
typedef struct jp_asker jp_asker_t;
int jp_ask_open(const jp_ask_t *a, jp_asker_t **s, jp_err_t *err);
int jp_ask_query(jp_asker_t *s, const char *what, const char *const *args, int nargs,
                 char **body, size_t *n, jp_err_t *err);
void jp_ask_close(jp_asker_t **s);

/* The session's messages themselves, for a client that streams (the
 * standby's follower, server/standby.h): jp_ask_send sends m;
 * jp_ask_recv waits for the next message into m (borrowing from the
 * session until the next receive), an ERROR turned into err as above;
 * jp_ask_welcome is the WELCOME that opened the session. */
int jp_ask_send(jp_asker_t *s, const jp_msg_t *m, jp_err_t *err);
int jp_ask_recv(jp_asker_t *s, jp_msg_t *m, jp_err_t *err);
const jp_msg_t *jp_ask_welcome(const jp_asker_t *s);

/* One question in a session of its own: ask what with args (n pairs of
 * key, value) and return the ANSWER body (malloc'd, NUL-terminated, *n
 * bytes); with several endpoints, one that does not answer (or does not
 * admit the key) gives way to the next.  Refusals come back as the
 * server's error: JP_EPERM (forbidden, identity, revoked) or JP_EINVAL
 * (malformed), with the server's words in err; JP_EIO when the server does
 * not answer in time (not running, or the key is not admitted: CURVE
 * refusals are silent on the wire). */
int jp_ask(const jp_ask_t *a, const char *what, const char *const *args, int nargs,
           char **body, size_t *n, jp_err_t *err);

#endif
