/*
 * curve.c -- CurveZMQ key files and shared socket options.
 */
#include "curve.h"

#include "crypto.h"

#include <openssl/crypto.h>

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define S_FILE_MAX 256 /* bytes of a key file, at most */

int
jp_curve_generate(jp_curve_t *out, jp_err_t *err)
{
    assert(out);
    if (zmq_curve_keypair(out->pub, out->sec) != 0)
        return jp_err_set(err, JP_ECRYPTO, "cannot make a Curve key pair: %s",
                          zmq_strerror(errno));
    return 0;
}

int
jp_curve_save(const jp_curve_t *k, const char *path, jp_err_t *err)
{
    char text[S_FILE_MAX];
    int n = snprintf(text, sizeof text, "public %s\nsecret %s\n", k->pub, k->sec);
    int rc = jp_secret_write(path, text, (size_t)n, err);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

bool
jp_curve_parse(const char *s, uint8_t raw[32])
{
    uint8_t tmp[32];
    if (!raw)
        raw = tmp;
    if (s && strlen(s) == 2 * 32)
        return jp_unhex(s, raw, 32) == 0;
    return s && strlen(s) == JP_Z85_KEY_LEN && zmq_z85_decode(raw, s) != NULL;
}

void
jp_curve_hex(const char *z85, char out[2 * 32 + 1])
{
    uint8_t raw[32];
    if (jp_curve_parse(z85, raw))
        jp_hex(raw, 32, out);
    else
        out[0] = '\0';
}

void
jp_curve_text(const uint8_t raw[32], char out[JP_Z85_KEY_LEN + 1])
{
    zmq_z85_encode(out, raw, 32);
}

int
jp_curve_load(jp_curve_t *out, const char *path, jp_err_t *err)
{
    char *text = NULL;
    size_t n;
    int rc = jp_secret_read(path, &text, &n, S_FILE_MAX, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    /* Exactly the two lines jp_curve_save writes. */
    if (sscanf(text, "public %40s secret %40s", out->pub, out->sec) != 2 ||
        !jp_curve_parse(out->pub, NULL) || !jp_curve_parse(out->sec, NULL))
        rc = jp_err_set(err, JP_ECORRUPT, "key file %s is not a Curve key pair", path);
    OPENSSL_cleanse(text, n);
    free(text);
    return rc;
}

int
jp_sock_common(void *sock, jp_err_t *err)
{
    int linger = 0, ivl = 5000, ttl = 15000, timeout = 15000;
    /* PROTOCOL.md 1: a frame over 4 MiB ends the connection.  libzmq
     * checks the frame as it travels, a CURVE MESSAGE command: "\x07MESSAGE"
     * (8 bytes), a nonce (8), the box's MAC (16) and flags (1) around the
     * message (tests/test_server.c checks both sides of the limit). */
    int64_t max = JP_MSG_MAX_FRAME + 33;
    if (zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TTL, &ttl, sizeof ttl) ||
        zmq_setsockopt(sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout) ||
        zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof max))
        return jp_err_set(err, JP_EINVAL, "socket options: %s", zmq_strerror(errno));
    return 0;
}

int
jp_msg_send(void *sock, const jp_msg_t *m, jp_buf_t *scratch, int flags)
{
    jp_buf_reset(scratch);
    int rc = jp_msg_encode(m, scratch);
    if (rc)
        return rc;
    return zmq_send(sock, scratch->data, scratch->len, flags) < 0 ? -1 : 0;
}

void *
jp_auth_monitor(void *ctx, void *sock)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://jp-auth-%p", sock);
    if (zmq_socket_monitor(sock, ep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
        return NULL;
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    if (mon && zmq_connect(mon, ep) != 0) {
        zmq_close(mon);
        mon = NULL;
    }
    if (!mon)
        zmq_socket_monitor(sock, NULL, 0);
    return mon;
}

bool
jp_auth_refused(void *mon)
{
    /* An event is two frames: event u16 | value u32, then the endpoint. */
    zmq_msg_t f;
    bool refused = false;
    zmq_msg_init(&f);
    if (zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) >= 0 && zmq_msg_size(&f) >= 6) {
        uint16_t event;
        memcpy(&event, zmq_msg_data(&f), 2);
        refused = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    }
    while (zmq_msg_more(&f) && zmq_msg_recv(&f, mon, ZMQ_DONTWAIT) >= 0)
        ;
    zmq_msg_close(&f);
    return refused;
}

void
jp_auth_monitor_close(void *sock, void *mon)
{
    if (!mon)
        return;
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(mon);
}
