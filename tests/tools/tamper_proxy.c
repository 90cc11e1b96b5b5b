/*
 * tamper_proxy.c -- a test's man in the middle: it holds the server's
 * Curve key pair, so a store connects to it as to its server, and relays
 * one store's messages to the real server with the store's own Curve key;
 * on the way back it alters the first CHANGES that carries entries, as
 * the mode says, and relays the rest untouched:
 *
 *     jipan-tamper-proxy MODE LISTEN SERVER SERVER_CURVE_FILE STORE_CURVE_FILE
 *
 *   sig     one bit of the server's signature flipped
 *   entry   one byte of the first entry's change flipped
 *   insert  a change of a customer the store may not see (one the proxy
 *           makes up, of another store) added after the first entry
 *   drop    the last entry left out
 *
 * It prints "tampered" on stdout once it has altered a message.  A test of
 * the store's refusal (share_sync.sh); never part of a deployment.
 */
#include "codec.h"
#include "curve.h"
#include "msg.h"
#include "vouch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int
s_alter(const char *mode, const uint8_t *p, size_t n, jp_buf_t *out)
{
    jp_msg_t m;
    if (jp_msg_decode(p, n, &m, NULL) || m.type != JP_MSG_CHANGES ||
        m.changes.entries.count == 0)
        return 0;
    jp_buf_reset(out);
    if (!strcmp(mode, "sig")) {
        jp_buf_append(out, p, n);
        out->data[n - 1] ^= 0x01;
        return 1;
    }
    /* Rebuild the list: the entries as they were, but for the one altered. */
    jp_msg_iter_t it;
    uint64_t store, pos;
    const uint8_t *c;
    size_t cn;
    uint32_t count = m.changes.entries.count;
    uint32_t want = !strcmp(mode, "insert") ? count + 1
                    : !strcmp(mode, "drop") ? count - 1
                                            : count;
    jp_msg_builder_t b;
    jp_msg_begin(&b, out, &m, want);
    jp_msg_iter_init(&it, &m.changes.entries);
    for (uint32_t i = 0; jp_msg_next_entry(&it, &store, &pos, &c, &cn) > 0; i++) {
        if (!strcmp(mode, "drop") && i == count - 1)
            break;
        uint8_t copy[JP_MSG_MAX_CHANGE];
        memcpy(copy, c, cn);
        if (!strcmp(mode, "entry") && i == 0)
            copy[cn / 2] ^= 0x01;
        jp_msg_add_entry(&b, store, pos, copy, cn);
        if (!strcmp(mode, "insert") && i == 0) {
            jp_change_t ch = {.store = 65000, .seq = 1, .kind = JP_K_CUSTOMER};
            ch.hlc = (jp_hlc_t)jp_now_ms() << 16;
            ch.id.b[0] = 0x01, ch.id.b[6] = 0xfd, ch.id.b[7] = 0xe8; /* store 65000 */
            ch.author = "intruder", ch.author_len = 8;
            jp_change_set_str(&ch, JP_F_NAME, "王某", strlen("王某"));
            jp_change_set_str(&ch, JP_F_PHONE, "+8613700000999", 14);
            jp_change_set_str(&ch, JP_F_EXT_ID, "X1", 2);
            jp_change_set_int(&ch, JP_F_CREATED_AT, (int64_t)jp_now_ms());
            jp_buf_t forged = {0};
            if (jp_change_encode(&ch, &forged) == 0)
                jp_msg_add_entry(&b, ch.store, pos, forged.data, forged.len);
            jp_buf_free(&forged);
        }
    }
    if (jp_msg_end(&b, &m))
        return -1;
    return 1;
}

int
main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(
            stderr,
            "usage: jipan-tamper-proxy MODE LISTEN SERVER SERVER_CURVE STORE_CURVE\n");
        return 2;
    }
    const char *mode = argv[1];
    jp_curve_t srv, st;
    jp_err_t err;
    if (jp_curve_load(&srv, argv[4], &err) || jp_curve_load(&st, argv[5], &err)) {
        fprintf(stderr, "jipan-tamper-proxy: %s\n", err.msg);
        return 1;
    }
    void *ctx = zmq_ctx_new();
    void *front = zmq_socket(ctx, ZMQ_ROUTER), *back = zmq_socket(ctx, ZMQ_DEALER);
    int one = 1;
    if (jp_sock_common(front, &err) || jp_sock_common(back, &err) ||
        zmq_setsockopt(front, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(front, ZMQ_CURVE_SECRETKEY, srv.sec, JP_Z85_KEY_LEN) ||
        zmq_setsockopt(back, ZMQ_CURVE_SERVERKEY, srv.pub, JP_Z85_KEY_LEN) ||
        zmq_setsockopt(back, ZMQ_CURVE_PUBLICKEY, st.pub, JP_Z85_KEY_LEN) ||
        zmq_setsockopt(back, ZMQ_CURVE_SECRETKEY, st.sec, JP_Z85_KEY_LEN) ||
        zmq_bind(front, argv[2]) || zmq_connect(back, argv[3])) {
        fprintf(stderr, "jipan-tamper-proxy: sockets: %s\n", zmq_strerror(errno));
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    uint8_t rid[256];
    size_t ridn = 0;
    bool done = false;
    jp_buf_t out = {0};
    for (int rounds = 0; rounds < 100000; rounds++) {
        zmq_pollitem_t items[] = {{front, 0, ZMQ_POLLIN, 0}, {back, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, 60000) <= 0)
            break; /* a minute of quiet: the test is over */
        zmq_msg_t f;
        if (items[0].revents & ZMQ_POLLIN) {
            zmq_msg_init(&f);
            zmq_msg_recv(&f, front, 0);
            ridn = zmq_msg_size(&f) < sizeof rid ? zmq_msg_size(&f) : sizeof rid;
            memcpy(rid, zmq_msg_data(&f), ridn);
            zmq_msg_close(&f);
            zmq_msg_init(&f);
            zmq_msg_recv(&f, front, 0);
            zmq_msg_send(&f, back, 0);
        }
        if (items[1].revents & ZMQ_POLLIN) {
            zmq_msg_init(&f);
            zmq_msg_recv(&f, back, 0);
            int alt = done ? 0 : s_alter(mode, zmq_msg_data(&f), zmq_msg_size(&f), &out);
            zmq_send(front, rid, ridn, ZMQ_SNDMORE);
            if (alt > 0) {
                zmq_send(front, out.data, out.len, 0);
                done = true;
                printf("tampered\n");
                fflush(stdout);
            } else {
                zmq_msg_send(&f, front, 0);
            }
            zmq_msg_close(&f);
        }
    }
    jp_buf_free(&out);
    zmq_close(front);
    zmq_close(back);
    zmq_ctx_term(ctx);
    return 0;
}
