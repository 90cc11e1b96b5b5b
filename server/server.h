/*
 * server.h -- jipan-server: what its parts share.
 *
 * The server is one process: a ROUTER socket for the clients and, beside
 * it, the ZAP handler that admits them, both polled by the main thread's
 * loop (serve.c), which hands merges and reports to threads of their own
 * (serve.c, reports.c).  Its state is one LMDB environment (db.h) holding the
 * group base, every store's log, the group log, the batches and receipts,
 * and the enrolled keys and stores (this file's entries).  Enrolment and
 * revocation (main.c) are separate processes writing the same environment;
 * the loop reads a key's entry on every message, so a revocation takes
 * effect on live sessions at the next message, and a sweep every 250 ms
 * tells idle sessions.
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include "buf.h"
#include "crypto.h"
#include "curve.h"
#include "db.h"
#include "err.h"
#include "msg.h"
#include "share.h"

#include <stdbool.h>
#include <stdint.h>

#define SRV_PROG "jipan-server"
#define SRV_KEY_FILE "server.key"  /* Ed25519: receipts and the server's own batches */
#define SRV_CURVE_FILE "curve.key" /* Curve key pair of the ROUTER socket */
#define SRV_FOLLOW_FILE "standby.key" /* a standby's own Curve key, to follow with */
/* A primary's word on its standby, for `status`: "jipan-standby-1 POS MS
 * CONNECTED DEGRADED" (serve.c, s_note_standby). */
#define SRV_STANDBY_STATE "standby.state"

/* The configuration file (deploy/jipan-server.conf documents it). */
typedef struct {
    char endpoint[256];      /* ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:7700 */
    char data[1024];         /* data directory: LMDB environment and keys */
    char group[64];          /* the dealer group's name */
    char tz[64];             /* the group's time zone (IANA) */
    uint32_t max_batch;      /* bytes of changes in one PUSH or CHANGES */
    uint32_t credit;         /* PUSH batches a client may have unanswered */
    uint32_t overlap_days;   /* key rotation: days the old key stays valid */
    uint32_t map_mib;        /* LMDB map size, MiB (0: the default, 64 GiB) */
    uint32_t sync_standby;   /* 1: a RECEIPT waits for the standby (hold.h) */
    uint32_t sync_wait_ms;   /* ... this long at most, then receipts go without it */
    jp_share_conf_t sharing; /* [sharing]: what each store may see (share.h) */
    struct {                 /* [standby]: the pair of servers (standby.h) */
        char primary[256];   /* the primary's endpoint; "" for a primary */
        char primary_key[128]; /* the primary's Curve public key (hex or Z85) */
        char peer[256];        /* on a primary: its standby's endpoint (the fence) */
    } standby;
} srv_conf_t;

int srv_conf_load(srv_conf_t *conf, const char *path, jp_err_t *err);

/* A principal's role. */
typedef enum {
    SRV_ROLE_STORE = 1,   /* store:<n>: writes its own log, reads its store */
    SRV_ROLE_REGION = 2,  /* region:<name>: reads its region's figures */
    SRV_ROLE_GROUP = 3,   /* group: reads everything */
    SRV_ROLE_AUDITOR = 4, /* auditor: reads everything, writes nothing */
    SRV_ROLE_STANDBY = 5, /* standby: follows the whole group log (standby.h) */
} srv_role_t;

/* An enrolled Curve key (keys table, keyed by the 32-byte public key).
 * Stored as: version u8 (1) | role u8 | store be16 | sign pub 32 |
 * enrolled ms be64 | expires ms be64 | revoked ms be64 | region len u8 |
 * region bytes. */
typedef struct {
    uint8_t role;             /* srv_role_t */
    uint16_t store;           /* SRV_ROLE_STORE: the store */
    uint8_t sign[JP_PUB_LEN]; /* SRV_ROLE_STORE: its Ed25519 batch key */
    uint64_t enrolled_ms;     /* when enrolled */
    uint64_t expires_ms;      /* 0, or when it stops being valid (rotation) */
    uint64_t revoked_ms;      /* 0, or when revoked */
    char region[64];          /* SRV_ROLE_REGION: the region */
} srv_key_t;

int srv_key_get(jp_txn_t *txn, const uint8_t curve[32], srv_key_t *out);
int srv_key_put(jp_txn_t *txn, const uint8_t curve[32], const srv_key_t *k);
/* Whether k may be used at now_ms; if not, why (for messages). */
bool srv_key_valid(const srv_key_t *k, uint64_t now_ms, const char **why);
/* "store:3", "region:惠州", "group", "auditor". */
void srv_principal(const srv_key_t *k, char *out, size_t cap);

/* A store of the group (peers table, keyed by store be16).  Stored as:
 * version u8 (1) | enrolled ms be64 | last batch ms be64 | then code,
 * name, region each as len u8 | bytes. */
typedef struct {
    uint16_t store;
    char code[32];
    char name[128];
    char region[64];
    uint64_t enrolled_ms;
    uint64_t last_ms; /* when its last batch was accepted, 0 never */
} srv_peer_t;

int srv_peer_get(jp_txn_t *txn, uint16_t store, srv_peer_t *out);
/* Call fn with every enrolled store, in store order; what fn returns, if
 * not 0, stops the walk and is returned. */
int srv_peers_each(jp_txn_t *txn, int (*fn)(void *arg, const srv_peer_t *p), void *arg);
int srv_peer_put(jp_txn_t *txn, const srv_peer_t *p);

/* Link customer rows that share a phone or an ID number with the rows
 * already here (link.c): called for each customer a batch changed, inside
 * the batch's transaction; the links are the server's own changes (store
 * 0).  *wrote counts the changes written. */
int srv_link_customer(jp_txn_t *txn, const jp_id_t *customer, unsigned *wrote,
                      jp_err_t *err);
/* The deterministic id of the link between customers a < b. */
jp_id_t srv_link_id(const jp_id_t *a, const jp_id_t *b);

/* Run the server until SIGINT or SIGTERM (serve.c). */
int srv_serve(const srv_conf_t *conf, jp_err_t *err);

/* Sign and record the server's own changes seqs first..last (store 0) as
 * one batch, in txn (serve.c, also used by enrolment). */
int srv_sign_own(jp_txn_t *txn, const jp_key_t *key, uint64_t first, uint64_t last,
                 jp_err_t *err);

/* `jipan-server export` (export.c): argv[0] is "export"; returns the exit
 * code (0 written, 1 bad range, 2 usage, 3 I/O). */
int srv_export(const srv_conf_t *conf, int argc, char **argv);

/* ---- the serving loop's parts (serve.c, reports.c) ---------------------- */

/* A client as the code that answers it sees it: who it is and where its
 * replies go.  The main thread sends on the ROUTER; a worker thread sends
 * the same two frames ([routing id][message]) on its pipe, and the main
 * thread forwards them (serve.c). */
typedef struct {
    void *sock;         /* the ROUTER, or a worker's pipe */
    jp_buf_t *out;      /* the sending thread's encoding buffer */
    const uint8_t *rid; /* ROUTER routing id */
    size_t rid_n;
    const uint8_t *key; /* its Curve key, 32 bytes */
    const srv_key_t *k; /* its key entry, as of the message */
    uint8_t *end;       /* main thread: set to an srv_end_t when a send fails */
} srv_client_t;

/* Why a session ends (besides revocation, which keeps it until its
 * connection closes: every message gets ERROR revoked). */
typedef enum {
    SRV_END_NONE = 0,
    SRV_END_BYE = 1,     /* the client said BYE */
    SRV_END_CLOSED = 2,  /* its connection closed (or the ROUTER lost the peer) */
    SRV_END_SLOW = 3,    /* it does not read: its queue on the ROUTER is full */
    SRV_END_REPLACED = 4 /* its key or principal opened one session too many */
} srv_end_t;

/* Send m to client c, never waiting: on the ROUTER, a peer whose queue is
 * full (it does not read) or that is gone is not sent to, and *c->end says
 * so; -1 then.  An ERROR with the reason (logged, never personal data); an
 * ANSWER to query id. */
int srv_send(srv_client_t *c, const jp_msg_t *m);
int srv_error(srv_client_t *c, int code, uint64_t ref, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void srv_answer(srv_client_t *c, uint64_t id, const char *body, size_t n);

/* One line to stderr (the journal under systemd), from any thread.  What
 * the line holds is escaped (control characters, backslashes, bytes that
 * are not UTF-8 as \xNN; C1 controls as \u00NN), so that text a peer sent
 * cannot forge or colour a line.  srv_log_peer() is for lines a peer can
 * cause at will (refusals, sessions): past 100 a second they are counted,
 * not written, and the count is logged. */
void srv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void srv_log_peer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The reports (reports.c): start the refresher, stop it and free all. */
typedef struct srv_reports srv_reports_t;
int srv_reports_start(srv_reports_t **r, jp_db_t *db, jp_err_t *err);
void srv_reports_stop(srv_reports_t **r);
/* The merger: the group log grew to pos. */
void srv_reports_merged(srv_reports_t *r, uint64_t pos);
/* The main thread: answer a report computed ahead at once; false if the
 * query asks for something else (the reporter answers it then). */
bool srv_reports_ahead(srv_reports_t *r, srv_client_t *c, const jp_msg_t *m,
                       jp_txn_t *txn);
/* The reporter: a report or a churn warning list (QUERY at_risk) computed
 * from a held base. */
void srv_report(srv_reports_t *r, srv_client_t *c, const jp_msg_t *m);

#endif
