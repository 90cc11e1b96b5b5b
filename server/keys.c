/*
 * keys.c -- the server's enrolled keys and stores, and its configuration.
 */
#include "server.h"

#include "buf.h"

#include "validate.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_KEY_VERSION 1
#define S_KEY_FIXED (1 + 1 + 2 + JP_PUB_LEN + 8 + 8 + 8 + 1)
#define S_PEER_VERSION 1

/* Copy a length-prefixed string at *p (n bytes left) into out[cap]. */
static int
s_take_str(const uint8_t **p, size_t *n, char *out, size_t cap)
{
    if (*n < 1 || (size_t)(*p)[0] + 1 > *n || (*p)[0] >= cap)
        return JP_ECORRUPT;
    size_t len = (*p)[0];
    memcpy(out, *p + 1, len);
    out[len] = '\0';
    *p += 1 + len;
    *n -= 1 + len;
    return 0;
}

static size_t
s_give_str(uint8_t *p, const char *s)
{
    size_t len = strlen(s);
    if (len > 255)
        len = 255;
    p[0] = (uint8_t)len;
    memcpy(p + 1, s, len);
    return 1 + len;
}

int
srv_key_get(jp_txn_t *txn, const uint8_t curve[32], srv_key_t *out)
{
    const void *v;
    size_t n;
    int rc = jp_txn_tb_get(txn, JP_TB_KEYS, curve, 32, &v, &n);
    if (rc)
        return rc;
    const uint8_t *p = v;
    if (n < S_KEY_FIXED || p[0] != S_KEY_VERSION)
        return JP_ECORRUPT;
    memset(out, 0, sizeof *out);
    out->role = p[1];
    out->store = (uint16_t)(p[2] << 8 | p[3]);
    memcpy(out->sign, p + 4, JP_PUB_LEN);
    out->enrolled_ms = jp_be64_get(p + 4 + JP_PUB_LEN);
    out->expires_ms = jp_be64_get(p + 12 + JP_PUB_LEN);
    out->revoked_ms = jp_be64_get(p + 20 + JP_PUB_LEN);
    p += S_KEY_FIXED - 1;
    n -= S_KEY_FIXED - 1;
    return s_take_str(&p, &n, out->region, sizeof out->region);
}

int
srv_key_put(jp_txn_t *txn, const uint8_t curve[32], const srv_key_t *k)
{
    uint8_t v[S_KEY_FIXED + 64];
    v[0] = S_KEY_VERSION;
    v[1] = k->role;
    v[2] = (uint8_t)(k->store >> 8);
    v[3] = (uint8_t)k->store;
    memcpy(v + 4, k->sign, JP_PUB_LEN);
    jp_be64_put(v + 4 + JP_PUB_LEN, k->enrolled_ms);
    jp_be64_put(v + 12 + JP_PUB_LEN, k->expires_ms);
    jp_be64_put(v + 20 + JP_PUB_LEN, k->revoked_ms);
    size_t n = S_KEY_FIXED - 1 + s_give_str(v + S_KEY_FIXED - 1, k->region);
    return jp_txn_tb_put(txn, JP_TB_KEYS, curve, 32, v, n);
}

bool
srv_key_valid(const srv_key_t *k, uint64_t now_ms, const char **why)
{
    if (k->revoked_ms && k->revoked_ms <= now_ms) {
        *why = "revoked";
        return false;
    }
    if (k->expires_ms && k->expires_ms <= now_ms) {
        *why = "expired (replaced by a newer key)";
        return false;
    }
    return true;
}

void
srv_principal(const srv_key_t *k, char *out, size_t cap)
{
    switch (k->role) {
    case SRV_ROLE_STORE:
        snprintf(out, cap, "store:%u", k->store);
        break;
    case SRV_ROLE_REGION:
        snprintf(out, cap, "region:%s", k->region);
        break;
    case SRV_ROLE_GROUP:
        snprintf(out, cap, "group");
        break;
    case SRV_ROLE_AUDITOR:
        snprintf(out, cap, "auditor");
        break;
    case SRV_ROLE_STANDBY:
        snprintf(out, cap, "standby");
        break;
    default:
        snprintf(out, cap, "unknown");
    }
}

static int
s_peer_decode(uint16_t store, const uint8_t *p, size_t n, srv_peer_t *out)
{
    int rc;
    if (n < 17 || p[0] != S_PEER_VERSION)
        return JP_ECORRUPT;
    memset(out, 0, sizeof *out);
    out->store = store;
    out->enrolled_ms = jp_be64_get(p + 1);
    out->last_ms = jp_be64_get(p + 9);
    p += 17;
    n -= 17;
    if ((rc = s_take_str(&p, &n, out->code, sizeof out->code)) ||
        (rc = s_take_str(&p, &n, out->name, sizeof out->name)) ||
        (rc = s_take_str(&p, &n, out->region, sizeof out->region)))
        return rc;
    return 0;
}

int
srv_peer_get(jp_txn_t *txn, uint16_t store, srv_peer_t *out)
{
    uint8_t k[2] = {(uint8_t)(store >> 8), (uint8_t)store};
    const void *v;
    size_t n;
    int rc = jp_txn_tb_get(txn, JP_TB_PEERS, k, 2, &v, &n);
    return rc ? rc : s_peer_decode(store, v, n, out);
}

typedef struct {
    int (*fn)(void *arg, const srv_peer_t *p);
    void *arg;
} s_peers_each_t;

static int
s_peer_each(void *arg, const uint8_t *k, size_t kn, const uint8_t *v, size_t vn)
{
    s_peers_each_t *e = arg;
    srv_peer_t p;
    if (kn != 2 || s_peer_decode(jp_be16_get(k), v, vn, &p) != 0)
        return 0; /* not an entry this version reads */
    return e->fn(e->arg, &p);
}

int
srv_peers_each(jp_txn_t *txn, int (*fn)(void *arg, const srv_peer_t *p), void *arg)
{
    s_peers_each_t e = {fn, arg};
    return jp_txn_tb_each(txn, JP_TB_PEERS, NULL, 0, s_peer_each, &e);
}

int
srv_peer_put(jp_txn_t *txn, const srv_peer_t *x)
{
    uint8_t k[2] = {(uint8_t)(x->store >> 8), (uint8_t)x->store};
    uint8_t v[17 + 3 * 256];
    v[0] = S_PEER_VERSION;
    jp_be64_put(v + 1, x->enrolled_ms);
    jp_be64_put(v + 9, x->last_ms);
    size_t n = 17;
    n += s_give_str(v + n, x->code);
    n += s_give_str(v + n, x->name);
    n += s_give_str(v + n, x->region);
    return jp_txn_tb_put(txn, JP_TB_PEERS, k, 2, v, n);
}

/* ---- configuration --------------------------------------------------------- */

/* The handler notes why it stopped; srv_conf_load adds where (inih returns
 * the line of the first setting the handler refused). */
typedef struct {
    srv_conf_t *conf;
    char why[256];
} s_ini_t;

static int
s_copy(s_ini_t *x, const char *name, char *out, size_t cap, const char *val)
{
    if (strlen(val) >= cap) {
        snprintf(x->why, sizeof x->why, "%s is longer than %zu bytes", name, cap - 1);
        return 0;
    }
    strcpy(out, val);
    return 1;
}

static int
s_number(s_ini_t *x, const char *name, uint32_t *out, const char *val, int64_t lo,
         int64_t hi)
{
    int64_t v;
    const char *why;
    if (jp_parse_int(val, strlen(val), lo, hi, &v, &why)) {
        snprintf(x->why, sizeof x->why, "%s: %s", name, why);
        return 0;
    }
    *out = (uint32_t)v;
    return 1;
}

static int
s_on_ini(void *arg, const char *section, const char *name, const char *val)
{
    s_ini_t *x = arg;
    srv_conf_t *c = x->conf;
    if (!section[0]) {
        snprintf(x->why, sizeof x->why,
                 "'%.64s' is outside any section: put the settings under a [server] "
                 "line",
                 name);
        return 0;
    }
    if (!strcmp(section, "sharing")) {
        const char *why;
        if (strcmp(name, "rule") != 0 && strncmp(name, "store.", 6) != 0) {
            snprintf(x->why, sizeof x->why,
                     "unknown setting '%s' in [sharing] (rule = WORD, or store.N = WORD)",
                     name);
            return 0;
        }
        if (jp_share_conf_set(&c->sharing, name, val, &why) == 0)
            return 1;
        snprintf(x->why, sizeof x->why, "[sharing] %s: %s", name, why);
        return 0;
    }
    if (!strcmp(section, "standby")) {
        if (!strcmp(name, "primary"))
            return s_copy(x, name, c->standby.primary, sizeof c->standby.primary, val);
        if (!strcmp(name, "peer"))
            return s_copy(x, name, c->standby.peer, sizeof c->standby.peer, val);
        if (!strcmp(name, "primary_key")) {
            uint8_t raw[32];
            if (!jp_curve_parse(val, raw)) {
                snprintf(x->why, sizeof x->why,
                         "[standby] primary_key: not a Curve key (64 hex digits, from "
                         "the primary's `jipan-server keys`)");
                return 0;
            }
            return s_copy(x, name, c->standby.primary_key, sizeof c->standby.primary_key,
                          val);
        }
        snprintf(x->why, sizeof x->why,
                 "unknown setting '%s' in [standby] (primary, primary_key, peer)", name);
        return 0;
    }
    if (strcmp(section, "server") != 0) {
        snprintf(x->why, sizeof x->why, "unknown section [%s]", section);
        return 0;
    }
    if (!strcmp(name, "endpoint"))
        return s_copy(x, name, c->endpoint, sizeof c->endpoint, val);
    if (!strcmp(name, "data"))
        return s_copy(x, name, c->data, sizeof c->data, val);
    if (!strcmp(name, "group"))
        return s_copy(x, name, c->group, sizeof c->group, val);
    if (!strcmp(name, "timezone"))
        return s_copy(x, name, c->tz, sizeof c->tz, val);
    if (!strcmp(name, "max_batch"))
        return s_number(x, name, &c->max_batch, val, 65536 + 64, JP_MSG_MAX_BATCH);
    if (!strcmp(name, "credit"))
        return s_number(x, name, &c->credit, val, 1, JP_MSG_MAX_CREDIT);
    if (!strcmp(name, "overlap_days"))
        return s_number(x, name, &c->overlap_days, val, 0, 365);
    if (!strcmp(name, "sync_standby")) {
        if (!strcmp(val, "on") || !strcmp(val, "off")) {
            c->sync_standby = !strcmp(val, "on");
            return 1;
        }
        snprintf(x->why, sizeof x->why, "sync_standby: on or off, not '%.32s'", val);
        return 0;
    }
    if (!strcmp(name, "sync_wait_ms"))
        return s_number(x, name, &c->sync_wait_ms, val, 10, 60000);
    if (!strcmp(name, "map_mib"))
        return s_number(x, name, &c->map_mib, val, 1, 16 * 1024 * 1024);
    snprintf(x->why, sizeof x->why, "unknown setting '%s'", name);
    return 0;
}

int
srv_conf_load(srv_conf_t *conf, const char *path, jp_err_t *err)
{
    memset(conf, 0, sizeof *conf);
    strcpy(conf->endpoint, "tcp://127.0.0.1:7700");
    strcpy(conf->data, "/var/lib/jipan-server");
    strcpy(conf->tz, "Asia/Shanghai");
    conf->max_batch = JP_MSG_MAX_BATCH;
    conf->credit = 16;
    conf->overlap_days = 7;
    conf->sync_wait_ms = 1000;
    jp_share_conf_init(&conf->sharing);
    FILE *f = fopen(path, "r");
    if (!f)
        return jp_err_set(err, errno == ENOENT ? JP_ENOTFOUND : JP_EIO,
                          "cannot read configuration %s: %s", path, strerror(errno));
    s_ini_t x = {.conf = conf};
    int line = ini_parse_file(f, s_on_ini, &x);
    fclose(f);
    if (line > 0)
        return jp_err_set(err, JP_EINVAL, "%s:%d: %s", path, line,
                          x.why[0] ? x.why : "not a setting (name = value)");
    if (!conf->group[0])
        return jp_err_set(err, JP_EINVAL,
                          "%s: 'group' (the dealer group's name) is required", path);
    if (!conf->standby.primary[0] != !conf->standby.primary_key[0])
        return jp_err_set(err, JP_EINVAL,
                          "%s: [standby] needs both primary and primary_key", path);
    if (conf->standby.primary[0] && conf->standby.peer[0])
        return jp_err_set(err, JP_EINVAL,
                          "%s: [standby] has primary (this server is the standby) and peer "
                          "(this server is the primary): give one",
                          path);
    if (jp_tz_set(conf->tz))
        return jp_err_set(err, JP_EINVAL, "%s: timezone '%s' is not a known time zone",
                          path, conf->tz);
    return 0;
}
