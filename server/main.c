/*
 * main.c -- jipan-server: the group's server and its operator commands.
 *
 *   init     create the data directory, the group's environment and keys
 *   keys     print the server's public keys (what stores pin)
 *   enroll   admit a store's key, or an analyst's or auditor's
 *   revoke   refuse a key from now on, live sessions included
 *   stores   the enrolled stores and keys, with their log positions
 *   status   log position, stores' last sync and lag, disk use
 *   backup   hot copy of the environment while the server runs
 *   run      serve
 *   export   the group log as a signed file for the auditors (export.c)
 *
 * Every command reads the configuration file (-c, default
 * /etc/jipan/jipan-server.conf).  Exit codes: 0 done, 1 refused or bad
 * input, 2 usage, 3 internal or I/O error.
 */
#include "recover.h"
#include "server.h"
#include "standby.h"
#include "view.h"

#include "file.h"
#include "validate.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_DEFAULT_CONF "/etc/jipan/jipan-server.conf"

enum { S_OK = 0, S_REFUSED = 1, S_USAGE = 2, S_INTERNAL = 3 };

typedef struct {
    const char *conf_path;
    srv_conf_t conf;
    const char *cmd;
} s_run_t;

static int
s_exit_for(int rc)
{
    switch (rc) {
    case 0:
        return S_OK;
    case JP_EINVAL:
    case JP_ENOTFOUND:
    case JP_EEXIST:
    case JP_EPERM:
    case JP_ECHAIN:
    case JP_ESIG:
        return S_REFUSED;
    default:
        return S_INTERNAL;
    }
}

static int
s_fail(s_run_t *r, int rc, const jp_err_t *err)
{
    fprintf(stderr, SRV_PROG ": %s: %s\n", r->cmd,
            err && err->msg[0] ? err->msg : jp_strerror(rc));
    return s_exit_for(rc);
}

static int
s_usage_error(s_run_t *r, const char *msg)
{
    fprintf(stderr, SRV_PROG ": %s: %s (see `" SRV_PROG " %s --help`)\n", r->cmd, msg,
            r->cmd);
    return S_USAGE;
}

static void
s_path(char *out, size_t cap, const s_run_t *r, const char *file)
{
    snprintf(out, cap, "%s/%s", r->conf.data, file);
}

static int
s_open(s_run_t *r, jp_db_t **db, jp_err_t *err)
{
    struct stat st;
    if (stat(r->conf.data, &st) != 0)
        return jp_err_set(err, JP_ENOTFOUND,
                          "data directory %s does not exist: run `" SRV_PROG
                          " init` first",
                          r->conf.data);
    return jp_db_open(db, r->conf.data, r->conf.map_mib, err);
}

/* ---- init, keys -------------------------------------------------------------- */

static void
s_print_keys(s_run_t *r)
{
    char path[1100];
    jp_curve_t c;
    jp_key_t *k = NULL;
    s_path(path, sizeof path, r, SRV_CURVE_FILE);
    if (jp_curve_load(&c, path, NULL) == 0) {
        char hex[2 * 32 + 1];
        jp_curve_hex(c.pub, hex);
        printf("curve   %s   (stores pin this: `jipan-store sync --server-key`)\n", hex);
    }
    s_path(path, sizeof path, r, SRV_KEY_FILE);
    if (jp_key_load(&k, path, NULL) == 0) {
        uint8_t pub[JP_PUB_LEN];
        char hex[2 * JP_PUB_LEN + 1];
        jp_key_public(k, pub);
        jp_hex(pub, sizeof pub, hex);
        printf("receipt %s   (signs receipts and the server's own changes)\n", hex);
        jp_key_destroy(&k);
    }
    s_path(path, sizeof path, r, SRV_FOLLOW_FILE);
    if (jp_curve_load(&c, path, NULL) == 0) {
        char hex[2 * 32 + 1];
        jp_curve_hex(c.pub, hex);
        printf("standby %s   (as a standby it follows with this: `enroll --role standby` "
               "at the primary)\n",
               hex);
    }
    memset(&c, 0, sizeof c);
}

/* Whether curve (or sign, when given) is one of the server's own public
 * keys: an auditor refuses a store key equal to the server's, so enrolment
 * refuses it first. */
static bool
s_is_server_key(s_run_t *r, const uint8_t *curve, const uint8_t *sign)
{
    char path[1100];
    bool same = false;
    jp_curve_t c;
    s_path(path, sizeof path, r, SRV_CURVE_FILE);
    uint8_t raw[32];
    if (jp_curve_load(&c, path, NULL) == 0 && jp_curve_parse(c.pub, raw))
        same = memcmp(raw, curve, sizeof raw) == 0;
    memset(&c, 0, sizeof c);
    jp_key_t *k = NULL;
    s_path(path, sizeof path, r, SRV_KEY_FILE);
    if (sign && jp_key_load(&k, path, NULL) == 0) {
        uint8_t pub[JP_PUB_LEN];
        jp_key_public(k, pub);
        same = same || memcmp(pub, sign, JP_PUB_LEN) == 0;
        jp_key_destroy(&k);
    }
    return same;
}

/* `COMMAND --help`: print usage and return true. */
static bool
s_help(int argc, char **argv, const char *usage)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return true;
    }
    return false;
}

static int
cmd_init(s_run_t *r, int argc, char **argv)
{
    if (s_help(argc, argv,
               "usage: " SRV_PROG " [-c FILE] init\n\n"
               "Create the group's data directory (the configuration's `data`, mode\n"
               "0700): its LMDB environment with the group's identity and time zone,\n"
               "the server's Ed25519 key (server.key) and Curve key pair (curve.key),\n"
               "and the Curve key it follows a primary with as a standby (standby.key),\n"
               "all mode 0600.  Prints the public keys.  Refuses a directory that\n"
               "holds a group already.\n"))
        return S_OK;
    jp_err_t err = {0};
    char path[1100];
    if (mkdir(r->conf.data, 0700) != 0 && errno != EEXIST) {
        jp_err_set(&err, JP_EIO, "cannot create %s: %s", r->conf.data, strerror(errno));
        return s_fail(r, JP_EIO, &err);
    }
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    jp_key_t *key = NULL;
    jp_node_t node;
    int rc = jp_db_open(&db, r->conf.data, r->conf.map_mib, &err);
    if (rc)
        return s_fail(r, rc, &err);
    if ((rc = jp_db_begin(db, true, &txn, &err)))
        goto done;
    if (jp_txn_node_get(txn, &node) == 0) {
        rc = jp_err_set(&err, JP_EEXIST, "%s already holds a group (%s)", r->conf.data,
                        node.group);
        goto done;
    }
    memset(&node, 0, sizeof node);
    node.store = 0;
    snprintf(node.code, sizeof node.code, "SERVER");
    snprintf(node.name, sizeof node.name, "%s", r->conf.group);
    snprintf(node.group, sizeof node.group, "%s", r->conf.group);
    snprintf(node.tz, sizeof node.tz, "%s", r->conf.tz);
    if ((rc = jp_txn_node_set(txn, &node))) {
        jp_err_set(&err, rc, "cannot write the node identity");
        goto done;
    }
    /* The server serves no counter screens: it keeps only the indexes
     * linking needs (db.h, jp_txn_set_lean). */
    if ((rc = jp_txn_set_lean(txn, &err)))
        goto done;
    s_path(path, sizeof path, r, SRV_KEY_FILE);
    if ((rc = jp_key_generate(&key, &err)) || (rc = jp_key_save(key, path, &err)))
        goto done;
    jp_curve_t c;
    s_path(path, sizeof path, r, SRV_CURVE_FILE);
    if ((rc = jp_curve_generate(&c, &err)) || (rc = jp_curve_save(&c, path, &err)))
        goto done;
    /* Its own key to follow a primary with, should it be a standby. */
    s_path(path, sizeof path, r, SRV_FOLLOW_FILE);
    if ((rc = jp_curve_generate(&c, &err)) || (rc = jp_curve_save(&c, path, &err)))
        goto done;
    memset(&c, 0, sizeof c);
    rc = jp_txn_commit(&txn, &err);
done:
    jp_txn_abort(&txn);
    jp_key_destroy(&key);
    jp_db_close(&db);
    if (rc)
        return s_fail(r, rc, &err);
    printf("group %s initialised in %s\n", r->conf.group, r->conf.data);
    s_print_keys(r);
    return S_OK;
}

static int
cmd_keys(s_run_t *r, int argc, char **argv)
{
    if (s_help(argc, argv,
               "usage: " SRV_PROG " [-c FILE] keys\n\n"
               "Print the server's public keys: the Curve key every store pins\n"
               "(`jipan-store sync --server-key`, `jipan-query --server-key`) and the\n"
               "key that signs receipts and the server's own changes.\n"))
        return S_OK;
    s_print_keys(r);
    return S_OK;
}

/* ---- enroll, revoke ------------------------------------------------------------- */

typedef struct {
    uint16_t store;      /* the store whose keys are looked for */
    const uint8_t *keep; /* the new key: left alone */
    uint8_t (*out)[32];  /* the other live keys found */
    int n, cap;
    uint64_t now;
} s_walk_t;

static int
s_walk_store_keys(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    (void)v;
    (void)vn;
    s_walk_t *w = arg;
    (void)kn;
    return w->n == w->cap ? 1 : (memcpy(w->out[w->n++], k, 32), 0);
}

/* Every enrolled key of a store other than keep that is still valid. */
static int
s_store_keys(jp_txn_t *txn, uint16_t store, const uint8_t *keep, uint8_t (*out)[32],
             int cap)
{
    uint8_t all[1024][32];
    s_walk_t w = {store, keep, all, 0, 1024, jp_now_ms()};
    int rc = jp_txn_tb_each(txn, JP_TB_KEYS, NULL, 0, s_walk_store_keys, &w);
    if (rc < 0)
        return rc;
    int n = 0;
    for (int i = 0; i < w.n && n < cap; i++) {
        srv_key_t k;
        const char *why;
        if (keep && memcmp(all[i], keep, 32) == 0)
            continue;
        if (srv_key_get(txn, all[i], &k) == 0 && k.role == SRV_ROLE_STORE &&
            k.store == store && srv_key_valid(&k, w.now, &why))
            memcpy(out[n++], all[i], 32);
    }
    return n;
}

static const char s_enroll_usage[] =
    "usage: " SRV_PROG " enroll --store N --code CODE --name NAME --region REGION\n"
    "                    --curve KEY --sign HEX [--rotate]\n"
    "       " SRV_PROG " enroll --role group|auditor|region:NAME|standby --curve KEY\n"
    "\n"
    "Admit a key.  A store's two public keys are what `jipan-store keys` prints\n"
    "at the store: --curve (the Curve key it connects with, 64 hex digits; Z85\n"
    "is accepted too) and --sign (the Ed25519 key it signs its batches with,\n"
    "64 hex digits).  Analysts and auditors are not stores: they get a role\n"
    "and a Curve key only.  A standby server follows the group log with the\n"
    "key `jipan-server keys` prints as `standby` on it (deploy/README.md).\n"
    "\n"
    "  --rotate   the store already has a key: the old keys stay valid for the\n"
    "             configured overlap window (overlap_days), then expire\n";

static int
cmd_enroll(s_run_t *r, int argc, char **argv)
{
    static const struct option lo[] = {
        {"help", no_argument, NULL, 'h'},         {"store", required_argument, NULL, 's'},
        {"code", required_argument, NULL, 'C'},   {"name", required_argument, NULL, 'n'},
        {"region", required_argument, NULL, 'R'}, {"curve", required_argument, NULL, 'k'},
        {"sign", required_argument, NULL, 'S'},   {"role", required_argument, NULL, 'r'},
        {"rotate", no_argument, NULL, 'o'},       {0}};
    const char *store = NULL, *code = "", *name = "", *region = NULL, *curve = NULL,
               *sign = NULL, *role = NULL;
    bool rotate = false;
    int o;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (o) {
        case 'h':
            fputs(s_enroll_usage, stdout);
            return S_OK;
        case 's':
            store = optarg;
            break;
        case 'C':
            code = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'R':
            region = optarg;
            break;
        case 'k':
            curve = optarg;
            break;
        case 'S':
            sign = optarg;
            break;
        case 'r':
            role = optarg;
            break;
        case 'o':
            rotate = true;
            break;
        default:
            return s_usage_error(r, "unknown option");
        }
    }
    uint8_t ck[32];
    if (!curve || !jp_curve_parse(curve, ck))
        return s_usage_error(r, "--curve needs the Curve public key (64 hex digits, from "
                                "`jipan-store keys`)");
    srv_key_t k = {.enrolled_ms = jp_now_ms()};
    srv_peer_t peer = {0};
    if (store) {
        int64_t n;
        const char *why;
        if (role)
            return s_usage_error(r, "--store and --role exclude each other");
        if (jp_parse_int(store, strlen(store), 1, 65535, &n, &why))
            return s_usage_error(r, "--store needs a store number 1..65535");
        if (!sign || jp_unhex(sign, k.sign, JP_PUB_LEN) != 0 || strlen(sign) != 64)
            return s_usage_error(r, "--sign needs the store's 64-hex-digit signing key");
        if (!region || !*region)
            return s_usage_error(r, "--region is required for a store");
        k.role = SRV_ROLE_STORE;
        k.store = (uint16_t)n;
        peer.store = k.store;
        peer.enrolled_ms = k.enrolled_ms;
        if (strlen(code) >= sizeof peer.code || strlen(name) >= sizeof peer.name ||
            strlen(region) >= sizeof peer.region)
            return s_usage_error(r, "--code, --name or --region is too long");
        strcpy(peer.code, code);
        strcpy(peer.name, name);
        strcpy(peer.region, region);
    } else if (role && !strcmp(role, "group")) {
        k.role = SRV_ROLE_GROUP;
    } else if (role && !strcmp(role, "auditor")) {
        k.role = SRV_ROLE_AUDITOR;
    } else if (role && !strcmp(role, "standby")) {
        k.role = SRV_ROLE_STANDBY;
    } else if (role && !strncmp(role, "region:", 7) && role[7] &&
               strlen(role + 7) < sizeof k.region) {
        k.role = SRV_ROLE_REGION;
        strcpy(k.region, role + 7);
    } else {
        return s_usage_error(
            r, "give --store N (a store) or --role group|auditor|region:NAME|standby");
    }

    jp_err_t err = {0};
    if (s_is_server_key(r, ck, k.role == SRV_ROLE_STORE ? k.sign : NULL))
        return s_usage_error(r, "that key is the server's own: a store or analyst "
                                "enrols the keys its own program generated");
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    int rc = s_open(r, &db, &err);
    if (rc)
        return s_fail(r, rc, &err);
    if ((rc = jp_db_begin(db, true, &txn, &err)))
        goto done;
    srv_key_t old;
    if (srv_key_get(txn, ck, &old) == 0) {
        rc = jp_err_set(&err, JP_EEXIST, "key %s is enrolled already (revoke it first)",
                        curve);
        goto done;
    }
    if (k.role == SRV_ROLE_STORE) {
        uint8_t others[64][32];
        int n = s_store_keys(txn, k.store, ck, others, 64);
        if (n < 0) {
            rc = n;
            goto done;
        }
        if (n > 0 && !rotate) {
            rc = jp_err_set(&err, JP_EEXIST,
                            "store %u has a live key already: use --rotate to replace it "
                            "with an overlap window, or revoke it first",
                            k.store);
            goto done;
        }
        uint64_t expires = k.enrolled_ms + (uint64_t)r->conf.overlap_days * 86400000ull;
        for (int i = 0; i < n; i++) {
            if ((rc = srv_key_get(txn, others[i], &old)))
                goto done;
            if (!old.expires_ms || old.expires_ms > expires)
                old.expires_ms = expires;
            if ((rc = srv_key_put(txn, others[i], &old)))
                goto done;
        }
        srv_peer_t was;
        if (srv_peer_get(txn, k.store, &was) == 0) {
            peer.enrolled_ms = was.enrolled_ms;
            peer.last_ms = was.last_ms;
        }
        if ((rc = srv_peer_put(txn, &peer)))
            goto done;
        if (n > 0)
            printf("store %u: %d old key(s) expire in %u day(s)\n", k.store, n,
                   r->conf.overlap_days);
    }
    if ((rc = srv_key_put(txn, ck, &k)) || (rc = jp_txn_commit(&txn, &err)))
        goto done;
    char who[96];
    srv_principal(&k, who, sizeof who);
    printf("enrolled %s as %s\n", curve, who);
done:
    jp_txn_abort(&txn);
    jp_db_close(&db);
    return rc ? s_fail(r, rc, &err) : S_OK;
}

static const char s_revoke_usage[] =
    "usage: " SRV_PROG " revoke (--curve KEY | --store N)\n"
    "\n"
    "Refuse a key from now on: new connections are refused, and a session open\n"
    "with it is answered ERROR revoked at its next message (and within 250 ms\n"
    "when idle).  --store revokes every key of that store.  What the key sent\n"
    "before stays accepted: its batches remain verifiable.\n";

static int
cmd_revoke(s_run_t *r, int argc, char **argv)
{
    static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                       {"curve", required_argument, NULL, 'k'},
                                       {"store", required_argument, NULL, 's'},
                                       {0}};
    const char *curve = NULL, *store = NULL;
    int o;
    while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (o == 'h') {
            fputs(s_revoke_usage, stdout);
            return S_OK;
        } else if (o == 'k')
            curve = optarg;
        else if (o == 's')
            store = optarg;
        else
            return s_usage_error(r, "unknown option");
    }
    uint8_t keys[64][32];
    int n = 0;
    int64_t sn = 0;
    const char *why;
    if (curve) {
        if (!jp_curve_parse(curve, keys[0]))
            return s_usage_error(r, "--curve needs a Curve public key (64 hex digits)");
        n = 1;
    } else if (!store || jp_parse_int(store, strlen(store), 1, 65535, &sn, &why)) {
        return s_usage_error(r, "give --curve KEY or --store N");
    }
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    int rc = s_open(r, &db, &err);
    if (rc)
        return s_fail(r, rc, &err);
    if ((rc = jp_db_begin(db, true, &txn, &err)))
        goto done;
    if (!curve && (n = s_store_keys(txn, (uint16_t)sn, NULL, keys, 64)) <= 0) {
        rc = n < 0 ? n
                   : jp_err_set(&err, JP_ENOTFOUND, "store %lld has no live key",
                                (long long)sn);
        goto done;
    }
    uint64_t now = jp_now_ms();
    for (int i = 0; i < n; i++) {
        srv_key_t k;
        if ((rc = srv_key_get(txn, keys[i], &k))) {
            jp_err_set(&err, rc, "key %s is not enrolled", curve ? curve : "?");
            goto done;
        }
        if (!k.revoked_ms)
            k.revoked_ms = now;
        if ((rc = srv_key_put(txn, keys[i], &k)))
            goto done;
        char z[2 * 32 + 1], who[96];
        jp_hex(keys[i], 32, z);
        srv_principal(&k, who, sizeof who);
        printf("revoked %s (%s)\n", z, who);
    }
    rc = jp_txn_commit(&txn, &err);
done:
    jp_txn_abort(&txn);
    jp_db_close(&db);
    return rc ? s_fail(r, rc, &err) : S_OK;
}

/* ---- stores, status ------------------------------------------------------------- */

typedef struct {
    jp_txn_t *txn;
    uint64_t now;
} s_list_t;

static int
s_list_key(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    (void)kn;
    (void)v;
    (void)vn;
    s_list_t *l = arg;
    srv_key_t key;
    char z[2 * 32 + 1], who[96], state[64];
    const char *why;
    if (srv_key_get(l->txn, k, &key))
        return 0;
    jp_hex(k, 32, z);
    srv_principal(&key, who, sizeof who);
    if (srv_key_valid(&key, l->now, &why)) {
        if (key.expires_ms) {
            char t[17];
            jp_format_instant((int64_t)key.expires_ms, t);
            snprintf(state, sizeof state, "live until %s", t);
        } else {
            snprintf(state, sizeof state, "live");
        }
    } else {
        snprintf(state, sizeof state, "%s", why);
    }
    printf("  key %s  %-16s %s\n", z, who, state);
    return 0;
}

static int
s_list_peer(void *arg, const srv_peer_t *p)
{
    s_list_t *l = arg;
    jp_head_t h;
    if (jp_txn_head(l->txn, p->store, &h))
        return 0;
    char last[17] = "never";
    if (p->last_ms)
        jp_format_instant((int64_t)p->last_ms, last);
    printf("store %-5u %-8s %-12s seq %-10llu last batch %s  %s\n", p->store, p->code,
           p->region, (unsigned long long)h.seq, last, p->name);
    return 0;
}

static int
cmd_stores(s_run_t *r, int argc, char **argv)
{
    if (s_help(
            argc, argv,
            "usage: " SRV_PROG " stores\n\nThe enrolled stores (number, code, region, "
            "accepted log position,\nlast batch, name) and every enrolled key with its "
            "principal and state."
            "\n"))
        return S_OK;
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    int rc = s_open(r, &db, &err);
    if (rc || (rc = jp_db_begin(db, false, &txn, &err)))
        goto done;
    s_list_t l = {txn, jp_now_ms()};
    if ((rc = srv_peers_each(txn, s_list_peer, &l)) == 0) {
        printf("keys:\n");
        rc = jp_txn_tb_each(txn, JP_TB_KEYS, NULL, 0, s_list_key, &l);
    }
done:
    jp_txn_abort(&txn);
    jp_db_close(&db);
    return rc ? s_fail(r, rc, &err) : S_OK;
}

/* status, recovering: the stores that have not returned. */
static int
s_list_waiting(void *arg, const srv_peer_t *p)
{
    if (!srv_recover_returned(arg, p->store))
        printf(" %s", p->code);
    return 0;
}

/* A primary's standby as the running server last wrote it (serve.c). */
static void
s_print_standby(s_run_t *r, uint64_t len)
{
    char path[1100], at[17];
    unsigned long long pos, ms;
    int on, degraded;
    s_path(path, sizeof path, r, SRV_STANDBY_STATE);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    int got = fscanf(f, "jipan-standby-1 %llu %llu %d %d", &pos, &ms, &on, &degraded);
    fclose(f);
    if (got != 4)
        return;
    jp_format_instant((int64_t)ms, at);
    if (on)
        printf("standby     holds the group log to %llu at %s (lag %llu)%s\n", pos, at,
               len > pos ? (unsigned long long)(len - pos) : 0ULL,
               degraded ? "; receipts do not wait for it until it has caught up"
                        : r->conf.sync_standby ? "; receipts wait for it" : "");
    else
        printf("standby     not connected since %s (it held the group log to %llu)\n", at,
               pos);
}

static int
cmd_status(s_run_t *r, int argc, char **argv)
{
    bool digest = argc > 1 && !strcmp(argv[1], "--digest");
    if (s_help(
            argc, argv,
            "usage: " SRV_PROG " status [--digest]\n\nThe group log position, each "
            "store's accepted position and last sync,\nrecords, disk use; --digest adds "
            "the state digest (reads every record)."
            "\n"))
        return S_OK;
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    int rc = s_open(r, &db, &err);
    if (rc || (rc = jp_db_begin(db, false, &txn, &err)))
        goto done;
    uint64_t len, counts[JP_K_COUNT], changes, used, map;
    jp_node_t node;
    if ((rc = jp_txn_node_get(txn, &node)) || (rc = jp_txn_glog_len(txn, &len)) ||
        (rc = jp_txn_counts(txn, counts, &changes)) || (rc = jp_db_size(db, &used, &map)))
        goto done;
    uint64_t people = counts[JP_K_CUSTOMER], events = 0;
    for (int k = JP_K_SERVICE; k < JP_K_COUNT; k++)
        if (k != JP_K_LINK)
            events += counts[k];
    printf("group       %s (time zone %s)\n", node.group, node.tz);
    printf("group log   %llu changes\n", (unsigned long long)len);
    srv_as_t as = srv_as(txn, &r->conf);
    const char *partner = srv_partner(&r->conf);
    unsigned long long term = (unsigned long long)srv_term(txn);
    srv_follow_pos_t fp;
    srv_fence_t fence;
    char seen[17];
    if (as == SRV_AS_STANDBY && srv_follow_pos(txn, &fp) == 0) {
        jp_format_instant((int64_t)fp.seen_ms, seen);
        printf("role        standby of %s: the primary's log had %llu changes at %s "
               "(lag %llu), term %llu\n",
               partner, (unsigned long long)fp.primary_len, seen,
               (unsigned long long)(fp.primary_len > len ? fp.primary_len - len : 0), term);
    } else if (as == SRV_AS_STANDBY) {
        printf("role        standby of %s: not reached yet\n", partner);
    } else if (as == SRV_AS_FENCED && srv_fence_get(txn, &fence) == 0) {
        jp_format_instant((int64_t)fence.ms, seen);
        printf("role        fenced: a superseded primary (term %llu); %s has term %llu "
               "since %s: `" SRV_PROG " rejoin` makes this server its standby\n",
               term, partner ? partner : "the partner", (unsigned long long)fence.term, seen);
    } else {
        printf("role        primary%s, term %llu%s%s\n",
               srv_promoted(txn) ? " (promoted standby)" : "", term,
               partner ? "; its standby: " : "", partner ? partner : "");
        s_print_standby(r, len);
    }
    printf("records     %llu customers, %llu vehicles, %llu events, %llu links\n",
           (unsigned long long)people, (unsigned long long)counts[JP_K_VEHICLE],
           (unsigned long long)events, (unsigned long long)counts[JP_K_LINK]);
    printf("disk        %.1f MiB used of a %.0f GiB map\n", used / 1048576.0,
           map / 1073741824.0);
    if (digest) {
        uint8_t d[JP_HASH_LEN];
        char hex[2 * JP_HASH_LEN + 1];
        if ((rc = jp_txn_digest(txn, d)))
            goto done;
        jp_hex(d, sizeof d, hex);
        printf("digest      %s\n", hex);
    }
    srv_recover_t rm;
    if (srv_recover_get(txn, &rm) == 0) {
        char since[17];
        jp_format_instant((int64_t)rm.since_ms, since);
        printf("recovering  restored %s from a backup of group log %llu changes, own "
               "seq %llu:\n            no links made until every store has synced; "
               "not yet:",
               since, (unsigned long long)rm.glog_len, (unsigned long long)rm.own_seq);
        if ((rc = srv_peers_each(txn, s_list_waiting, txn)))
            goto done;
        printf("\n");
    }
    printf("stores:\n");
    s_list_t l = {txn, jp_now_ms()};
    rc = srv_peers_each(txn, s_list_peer, &l);
done:
    jp_txn_abort(&txn);
    jp_db_close(&db);
    return rc ? s_fail(r, rc, &err) : S_OK;
}

static int
cmd_backup(s_run_t *r, int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        puts("usage: " SRV_PROG " backup DIR\n\nA consistent hot copy of the group's "
             "environment into DIR (created; must\nnot hold one already), taken while "
             "the server runs.  Restore: stop the\nserver, `" SRV_PROG " restore DIR`, start "
             "it (deploy/README.md).");
        return argc == 2 ? S_OK : S_USAGE;
    }
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    if (mkdir(argv[1], 0700) != 0 && errno != EEXIST) {
        jp_err_set(&err, JP_EIO, "cannot create %s: %s", argv[1], strerror(errno));
        return s_fail(r, JP_EIO, &err);
    }
    int rc = s_open(r, &db, &err);
    if (!rc)
        rc = jp_db_copy(db, argv[1], &err);
    jp_db_close(&db);
    if (rc)
        return s_fail(r, rc, &err);
    printf("copied to %s/data.mdb\n", argv[1]);
    return S_OK;
}

/* Refuse while another process has the environment open: LMDB's lock
 * file is locked by every process using it (a write lock on its first
 * byte succeeds only when none does).  *fd: the file, held until done. */
static int
s_lock_alone(s_run_t *r, int *fd, jp_err_t *err)
{
    char path[1100];
    s_path(path, sizeof path, r, "lock.mdb");
    *fd = open(path, O_RDWR | O_CLOEXEC);
    if (*fd < 0)
        return errno == ENOENT ? 0 : jp_err_set(err, JP_EIO, "%s: %s", path, strerror(errno));
    struct flock l = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    if (fcntl(*fd, F_SETLK, &l) != 0)
        return jp_err_set(err, JP_EPERM,
                          "the server (or another " SRV_PROG " command) has %s open: "
                          "stop it first",
                          r->conf.data);
    return 0;
}

/* Copy from to to (created, synced). */
static int
s_copy_file(const char *from, const char *to, jp_err_t *err)
{
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = 0;
    if (in < 0)
        return jp_err_set(err, JP_ENOTFOUND, "%s: %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        rc = jp_err_set(err, JP_EIO, "%s: %s", to, strerror(errno));
    static char buf[1 << 16];
    for (ssize_t n; rc == 0 && (n = read(in, buf, sizeof buf)) != 0;) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = jp_err_set(err, JP_EIO, "reading %s: %s", from, strerror(errno));
        for (ssize_t done = 0; rc == 0 && done < n;) {
            ssize_t w = write(out, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                rc = jp_err_set(err, errno == ENOSPC ? JP_EFULL : JP_EIO, "writing %s: %s",
                                to, strerror(errno));
            else
                done += w;
        }
    }
    if (rc == 0 && fsync(out) != 0)
        rc = jp_err_set(err, JP_EIO, "syncing %s: %s", to, strerror(errno));
    if (out >= 0)
        close(out);
    close(in);
    if (rc && out >= 0)
        unlink(to);
    return rc;
}

static int
cmd_restore(s_run_t *r, int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help")) {
        puts("usage: " SRV_PROG " restore DIR\n\nPut the backup DIR/data.mdb (`" SRV_PROG
             " backup DIR`) in place of the data\ndirectory's, the server stopped.  The "
             "restored server takes back from the\nstores the changes it wrote itself "
             "after the backup (the links), and makes\nno new ones until every enrolled "
             "store has synced once (`status` says\nwhich have; `recovered` ends it "
             "without the others).  deploy/README.md.");
        return argc == 2 ? S_OK : S_USAGE;
    }
    jp_err_t err = {0};
    char from[1100], tmp[1100], to[1100];
    snprintf(from, sizeof from, "%s/data.mdb", argv[1]);
    s_path(tmp, sizeof tmp, r, "data.mdb.restore");
    s_path(to, sizeof to, r, "data.mdb");
    int fd = -1;
    int rc = jp_file_check_regular(from, "backup", &err);
    if (rc == 0)
        rc = s_lock_alone(r, &fd, &err);
    if (rc == 0)
        rc = s_copy_file(from, tmp, &err);
    if (rc == 0 && rename(tmp, to) != 0)
        rc = jp_err_set(&err, JP_EIO, "%s: %s", to, strerror(errno));
    if (fd >= 0)
        close(fd); /* the copy is in place: LMDB may open it */
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    srv_recover_t m = {0};
    if (rc == 0 && (rc = s_open(r, &db, &err)) == 0 &&
        (rc = jp_db_begin(db, true, &txn, &err)) == 0 &&
        (rc = srv_recover_begin(txn, jp_now_ms(), &err)) == 0 &&
        (rc = srv_recover_get(txn, &m)) == 0)
        rc = jp_txn_commit(&txn, &err);
    jp_txn_abort(&txn);
    jp_db_close(&db);
    if (rc)
        return s_fail(r, rc, &err);
    printf("restored from %s: group log %llu changes, the server's own log seq %llu.\n"
           "Start the server: as the stores sync, it takes back its own later changes "
           "from them\nand makes no links until every store has (`" SRV_PROG
           " status`).\n",
           from, (unsigned long long)m.glog_len, (unsigned long long)m.own_seq);
    return S_OK;
}

static int
cmd_recovered(s_run_t *r, int argc, char **argv)
{
    if (s_help(argc, argv,
               "usage: " SRV_PROG " recovered\n\nEnd a restored server's recovery now, "
               "without the stores that have not\nsynced since the restore: it applies "
               "what the others returned and links\nwhat was merged since.  A store that "
               "held later links of the server's\nthen refuses the new ones (a chain "
               "fault of store 0): deploy/README.md.\n"))
        return S_OK;
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    jp_key_t *key = NULL;
    char path[1100];
    srv_recover_stat_t st = {0};
    s_path(path, sizeof path, r, SRV_KEY_FILE);
    int rc = s_open(r, &db, &err);
    if (rc == 0)
        rc = jp_key_load(&key, path, &err);
    if (rc == 0)
        rc = jp_db_begin(db, true, &txn, &err);
    srv_recover_t m;
    if (rc == 0 && srv_recover_get(txn, &m) == JP_ENOTFOUND)
        rc = jp_err_set(&err, JP_ENOTFOUND, "the server is not recovering from a restore");
    if (rc == 0)
        rc = srv_recover_try(txn, key, true, &st, &err);
    if (rc == 0)
        rc = jp_txn_commit(&txn, &err);
    jp_txn_abort(&txn);
    jp_key_destroy(&key);
    jp_db_close(&db);
    if (rc)
        return s_fail(r, rc, &err);
    printf("recovered: %llu of the server's own changes returned, %llu dropped%s%s%s; "
           "%llu links made;\n%u stores had not synced since the restore\n",
           (unsigned long long)st.applied, (unsigned long long)st.dropped,
           st.why[0] ? " (" : "", st.why, st.why[0] ? ")" : "", (unsigned long long)st.links,
           st.waiting);
    return S_OK;
}

static int
cmd_promote(s_run_t *r, int argc, char **argv)
{
    if (s_help(argc, argv,
               "usage: " SRV_PROG " promote\n\nMake this standby the group's primary: "
               "it stops following and serves\nthe stores (a running server within "
               "a quarter of a second), its term one more than\nthe old primary's, which "
               "fences itself when it sees it.  Do it only when\nthe old primary is down: "
               "deploy/README.md, failover.\n"))
        return S_OK;
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    int rc = s_open(r, &db, &err);
    if (rc == 0)
        rc = jp_db_begin(db, true, &txn, &err);
    if (rc == 0 && srv_promoted(txn))
        rc = jp_err_set(&err, JP_EEXIST, "this standby is promoted already");
    if (rc == 0 && srv_as(txn, &r->conf) != SRV_AS_STANDBY)
        rc = jp_err_set(&err, JP_EINVAL,
                        "this server is not a standby (no [standby] primary in %s, and "
                        "not rejoined)",
                        r->conf_path);
    /* Links the old primary made that this standby had not followed yet
     * may be at stores: take them back before making any (recover.h). */
    if (rc == 0)
        rc = srv_recover_begin(txn, jp_now_ms(), &err);
    if (rc == 0)
        rc = srv_promote(txn, jp_now_ms());
    if (rc == 0)
        rc = jp_txn_commit(&txn, &err);
    jp_txn_abort(&txn);
    jp_db_close(&db);
    if (rc)
        return s_fail(r, rc, &err);
    puts("promoted: this server is the group's primary now; it takes back from the "
         "stores\nthe links the old primary made that it had not followed, as after "
         "a restore\n(`status`)");
    return S_OK;
}

static int
cmd_rejoin(s_run_t *r, int argc, char **argv)
{
    if (s_help(argc, argv,
               "usage: " SRV_PROG " rejoin\n\nMake this superseded primary (`status`: "
               "fenced) the standby of its\npartner, the group's primary now.  The server "
               "stopped: its base is set\naside as DATA/superseded-<time>.mdb (for the "
               "auditor; its later changes\nare at the stores, which push them to the new "
               "primary), and a new base,\nwith the same enrolled keys and stores, "
               "follows the primary's group log\nfrom the start when it runs.  "
               "deploy/README.md, failover.\n"))
        return S_OK;
    jp_err_t err = {0};
    char aside[1200];
    int fd = -1;
    int rc = s_lock_alone(r, &fd, &err);
    if (fd >= 0)
        close(fd); /* before LMDB opens it: closing drops this process's locks */
    if (rc == 0)
        rc = srv_rejoin(&r->conf, aside, sizeof aside, &err);
    if (rc)
        return s_fail(r, rc, &err);
    printf("rejoined: this server is the standby of %s now; run it and it follows the\n"
           "group log from the start (`status`).  The old base: %s\n",
           srv_partner(&r->conf), aside);
    return S_OK;
}

static int
cmd_run(s_run_t *r, int argc, char **argv)
{
    if (s_help(argc, argv,
               "usage: " SRV_PROG
               " run\n\nServe the stores on the configured endpoint until "
               "SIGTERM or SIGINT.\nTells systemd when ready (Type=notify)."
               "\n"))
        return S_OK;
    jp_err_t err = {0};
    int rc = srv_serve(&r->conf, &err);
    return rc ? s_fail(r, rc, &err) : S_OK;
}

/* ---- view-digest --------------------------------------------------------------- */

typedef struct {
    uint64_t counts[JP_K_COUNT]; /* records of the view by kind */
    jp_txn_t *txn;
} s_view_count_t;

static int
s_count_visible(void *arg, const jp_id_t *id)
{
    s_view_count_t *c = arg;
    jp_record_t rec;
    int rc = jp_txn_get(c->txn, id, &rec);
    if (rc == 0 && rec.kind < JP_K_COUNT)
        c->counts[rec.kind]++;
    return rc;
}

static int
cmd_view_digest(s_run_t *r, int argc, char **argv)
{
    static const char usage[] =
        "usage: " SRV_PROG " view-digest --store N\n\n"
        "The state digest of the records store N may see under its sharing rule\n"
        "([sharing] in the configuration), computed as the store computes its own\n"
        "(`jipan-store status --digest`), with the view's record counts.  Under\n"
        "rule group it is the whole base's digest (`" SRV_PROG " status --digest`).\n";
    if (s_help(argc, argv, usage))
        return S_OK;
    if (argc != 3 || strcmp(argv[1], "--store") != 0)
        return s_usage_error(r, "give --store N");
    int64_t store;
    const char *why;
    if (jp_parse_int(argv[2], strlen(argv[2]), 1, 65535, &store, &why))
        return s_usage_error(r, "--store needs a store number 1..65535");
    jp_err_t err = {0};
    jp_db_t *db = NULL;
    jp_txn_t *txn = NULL;
    jp_share_t *share = NULL;
    int rc = s_open(r, &db, &err);
    if (rc || (rc = jp_db_begin(db, false, &txn, &err)))
        goto done;
    srv_peer_t peer;
    if (srv_peer_get(txn, (uint16_t)store, &peer)) {
        rc = jp_err_set(&err, JP_ENOTFOUND, "store %d is not enrolled", (int)store);
        goto done;
    }
    if ((rc = srv_share_load(txn, &r->conf.sharing, &share, &err)))
        goto done;
    uint8_t d[JP_HASH_LEN];
    char hex[2 * JP_HASH_LEN + 1];
    s_view_count_t c = {.txn = txn};
    if ((rc = jp_share_view_digest(share, txn, (uint16_t)store, d)) ||
        (rc = jp_share_each_visible(share, (uint16_t)store, s_count_visible, &c)))
        goto done;
    jp_hex(d, sizeof d, hex);
    uint64_t events = 0;
    for (int k = JP_K_SERVICE; k < JP_K_COUNT; k++)
        if (k != JP_K_LINK)
            events += c.counts[k];
    printf("store       %d %s (region %s)\n", (int)store, peer.code, peer.region);
    printf("rule        %s\n",
           jp_share_rule_name(jp_share_conf_rule(&r->conf.sharing, (uint16_t)store)));
    printf(
        "records     %llu customers, %llu vehicles, %llu events, %llu links (of %zu)\n",
        (unsigned long long)c.counts[JP_K_CUSTOMER],
        (unsigned long long)c.counts[JP_K_VEHICLE], (unsigned long long)events,
        (unsigned long long)c.counts[JP_K_LINK], jp_share_count(share));
    printf("digest      %s\n", hex);
done:
    jp_share_destroy(&share);
    jp_txn_abort(&txn);
    jp_db_close(&db);
    return rc ? s_fail(r, rc, &err) : S_OK;
}

static int
cmd_export(s_run_t *r, int argc, char **argv)
{
    return srv_export(&r->conf, argc, argv);
}

/* ---- main ------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int (*fn)(s_run_t *, int, char **);
    const char *help;
} s_cmd_t;

static const s_cmd_t s_cmds[] = {
    {"init", cmd_init, "create the data directory, the group's environment and keys"},
    {"keys", cmd_keys, "print the server's public keys (stores pin the Curve key)"},
    {"enroll", cmd_enroll, "admit a store's keys, or an analyst's or auditor's key"},
    {"revoke", cmd_revoke, "refuse a key from now on, live sessions included"},
    {"stores", cmd_stores, "the enrolled stores and keys"},
    {"status", cmd_status, "group log position, stores' last sync, disk use"},
    {"backup", cmd_backup, "hot copy of the environment while the server runs"},
    {"restore", cmd_restore, "put a backup in place; take the server's links back"},
    {"recovered", cmd_recovered, "end a restore's recovery without the stores left"},
    {"promote", cmd_promote, "make this standby the group's primary"},
    {"rejoin", cmd_rejoin, "make this superseded primary the new one's standby"},
    {"run", cmd_run, "serve (the daemon)"},
    {"export", cmd_export, "the group log as a signed file for the auditors"},
    {"view-digest", cmd_view_digest, "the state digest of what one store may see"},
};

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: " SRV_PROG " [-c FILE] COMMAND [OPTIONS]\n\n"
                 "The dealer group's server: admits the stores' keys, merges their\n"
                 "change logs into the group base, serves the group's figures.\n\n"
                 "  -c, --config FILE  configuration (default " S_DEFAULT_CONF
                 ", or $JIPAN_SERVER_CONF)\n"
                 "  -h, --help         this text\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_cmds / sizeof s_cmds[0]; i++)
        fprintf(out, "  %-11s %s\n", s_cmds[i].name, s_cmds[i].help);
    fprintf(out, "\n`" SRV_PROG " COMMAND --help` describes a command; "
                 "deploy/README.md is the operator's guide.\n");
}

int
main(int argc, char **argv)
{
    s_run_t r = {.conf_path = getenv("JIPAN_SERVER_CONF"), .cmd = "error"};
    if (!r.conf_path)
        r.conf_path = S_DEFAULT_CONF;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            s_usage(stdout);
            return S_OK;
        }
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            r.conf_path = argv[++i];
            continue;
        }
        fprintf(stderr, SRV_PROG ": unknown option %s\n", argv[i]);
        s_usage(stderr);
        return S_USAGE;
    }
    if (i == argc) {
        s_usage(stderr);
        return S_USAGE;
    }
    for (size_t c = 0; c < sizeof s_cmds / sizeof s_cmds[0]; c++) {
        if (strcmp(argv[i], s_cmds[c].name) != 0)
            continue;
        r.cmd = s_cmds[c].name;
        bool help = i + 1 < argc && !strcmp(argv[i + 1], "--help");
        jp_err_t err = {0};
        if (!help) {
            int rc = jp_file_check_regular(r.conf_path, "configuration", &err);
            if (rc == 0)
                rc = srv_conf_load(&r.conf, r.conf_path, &err);
            if (rc)
                return s_fail(&r, rc, &err);
        }
        optind = 1;
        return s_cmds[c].fn(&r, argc - i, argv + i);
    }
    fprintf(stderr, SRV_PROG ": unknown command '%s'\n", argv[i]);
    s_usage(stderr);
    return S_USAGE;
}
