/*
 * ask.c -- a session of questions to the server (see ask.h).
 */
#include "ask.h"

#include "msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* Receive and decode one message within ms into m (borrowing from frame). */
static int
s_recv(void *sock, void *mon, zmq_msg_t *frame, jp_msg_t *m, int ms, jp_err_t *err)
{
    zmq_pollitem_t it[2] = {{sock, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
    int n = zmq_poll(it, mon ? 2 : 1, ms);
    if (n > 0 && mon && (it[1].revents & ZMQ_POLLIN) && !(it[0].revents & ZMQ_POLLIN) &&
        jp_auth_refused(mon))
        return jp_err_set(err, JP_EPERM, "%s", JP_AUTH_REFUSED_TEXT);
    if (n <= 0 || !(it[0].revents & ZMQ_POLLIN))
        return jp_err_set(err, JP_EIO,
                          "no answer from the server in %d s: is it running, and is this "
                          "key enrolled?",
                          ms / 1000);
    if (zmq_msg_recv(frame, sock, 0) < 0)
        return jp_err_set(err, JP_EIO, "receive: %s", zmq_strerror(errno));
    int rc = jp_msg_decode(zmq_msg_data(frame), zmq_msg_size(frame), m, err);
    if (rc)
        return rc;
    if (m->type == JP_MSG_ERROR) {
        int code = (int)m->error.code;
        rc = code == JP_PERR_FORBIDDEN || code == JP_PERR_IDENTITY ||
                     code == JP_PERR_REVOKED
                 ? JP_EPERM
             : code == JP_PERR_MALFORMED ? JP_EINVAL
                                         : JP_EIO;
        return jp_err_set(err, rc, "the server refused (%s): %.*s",
                          jp_perr_name(code) ? jp_perr_name(code) : "?",
                          (int)m->error.message.n, m->error.message.p);
    }
    return 0;
}

struct jp_asker {
    void *ctx, *sock, *mon;
    jp_buf_t out;
    zmq_msg_t frame;
    int ms;
    uint64_t next_id;
    jp_msg_t welcome; /* its byte strings copied: fixed-size fields only */
};

void
jp_ask_close(jp_asker_t **sp)
{
    jp_asker_t *s = *sp;
    if (!s)
        return;
    if (s->sock && s->next_id > 1) { /* a session was opened: say goodbye */
        jp_msg_t m = {.type = JP_MSG_BYE};
        m.bye.reason.p = "done";
        m.bye.reason.n = 4;
        jp_msg_send(s->sock, &m, &s->out, 0);
    }
    zmq_msg_close(&s->frame);
    jp_auth_monitor_close(s->sock, s->mon);
    if (s->sock)
        zmq_close(s->sock);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    jp_buf_free(&s->out);
    free(s);
    *sp = NULL;
}

/* A session with the one server at endpoint, its WELCOME awaited
 * hello_ms. */
static int
s_open_one(const jp_ask_t *a, const char *endpoint, int hello_ms, jp_asker_t **sp,
           jp_err_t *err)
{
    jp_asker_t *s = calloc(1, sizeof *s);
    *sp = NULL;
    if (!s)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    zmq_msg_init(&s->frame);
    s->ms = a->timeout_ms ? a->timeout_ms : 15000;
    s->ctx = zmq_ctx_new();
    s->sock = s->ctx ? zmq_socket(s->ctx, ZMQ_DEALER) : NULL;
    s->mon = s->sock ? jp_auth_monitor(s->ctx, s->sock) : NULL;
    int rc;
    jp_msg_t m = {.type = JP_MSG_HELLO}, in;
    if (!s->sock) {
        rc = jp_err_set(err, JP_EIO, "socket: %s", zmq_strerror(errno));
        goto fail;
    }
    if ((rc = jp_sock_common(s->sock, err)))
        goto fail;
    if (zmq_setsockopt(s->sock, ZMQ_CURVE_SERVERKEY, a->server_key, 32) ||
        zmq_setsockopt(s->sock, ZMQ_CURVE_PUBLICKEY, a->key->pub, JP_Z85_KEY_LEN) ||
        zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, a->key->sec, JP_Z85_KEY_LEN) ||
        zmq_connect(s->sock, endpoint)) {
        rc = jp_err_set(err, JP_EINVAL, "cannot connect to '%s': %s", endpoint,
                        zmq_strerror(errno));
        goto fail;
    }
    m.hello.min_version = m.hello.max_version = JP_PROTO_VERSION;
    m.hello.store = a->store;
    m.hello.agent.p = "jipan-ask/1";
    m.hello.agent.n = strlen(m.hello.agent.p);
    if (jp_msg_send(s->sock, &m, &s->out, 0)) {
        rc = jp_err_set(err, JP_EIO, "send: %s", zmq_strerror(errno));
        goto fail;
    }
    if ((rc = s_recv(s->sock, s->mon, &s->frame, &in, hello_ms ? hello_ms : s->ms, err)))
        goto fail;
    if (in.type != JP_MSG_WELCOME) {
        rc = jp_err_set(err, JP_EIO, "the server answered HELLO with %s",
                        jp_msg_type_name(in.type));
        goto fail;
    }
    s->welcome = in;
    s->next_id = 1;
    *sp = s;
    return 0;
fail:
    jp_ask_close(&s);
    return rc;
}

int
jp_ask_endpoints(const char *text, char ep[JP_ASK_MAX_EPS][JP_ASK_EP_LEN])
{
    int n = 0;
    for (const char *p = text; *p;) {
        const char *q = strchr(p, ',');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (n == JP_ASK_MAX_EPS || len == 0 || len >= JP_ASK_EP_LEN)
            return 0;
        memcpy(ep[n], p, len);
        ep[n++][len] = '\0';
        p += len + (q != NULL);
    }
    return n;
}

/* a's endpoints into ep: their count, 0 (err set) if they do not read as
 * such; *hello_ms: how long each waits for its WELCOME (0, the answer
 * timeout, when there is only one). */
static int
s_endpoints(const jp_ask_t *a, char ep[JP_ASK_MAX_EPS][JP_ASK_EP_LEN], int *hello_ms,
            jp_err_t *err)
{
    int n = jp_ask_endpoints(a->endpoint, ep);
    if (n == 0)
        jp_err_set(err, JP_EINVAL, "'%s': not an endpoint, or more than %d separated by commas",
                   a->endpoint, JP_ASK_MAX_EPS);
    *hello_ms = n <= 1 ? 0
                : a->timeout_ms && a->timeout_ms < JP_ASK_HELLO_MS ? a->timeout_ms
                                                                   : JP_ASK_HELLO_MS;
    return n;
}

int
jp_ask_open(const jp_ask_t *a, jp_asker_t **sp, jp_err_t *err)
{
    char ep[JP_ASK_MAX_EPS][JP_ASK_EP_LEN];
    int ms, n = s_endpoints(a, ep, &ms, err), rc = JP_EINVAL;
    *sp = NULL;
    /* The primary's and the standby's: the first that welcomes. */
    for (int i = 0; i < n; i++)
        if ((rc = s_open_one(a, ep[i], ms, sp, err)) == 0)
            break;
    return rc;
}

int
jp_ask_query(jp_asker_t *s, const char *what, const char *const *args, int nargs,
             char **body, size_t *n, jp_err_t *err)
{
    jp_msg_t m = {.type = JP_MSG_QUERY}, in;
    *body = NULL;
    *n = 0;
    if (nargs < 0 || (unsigned)nargs > JP_MSG_MAX_ARGS)
        return jp_err_set(err, JP_EINVAL, "too many query arguments");
    m.query.id = s->next_id++;
    m.query.what.p = what;
    m.query.what.n = strlen(what);
    m.query.args.n = (uint32_t)nargs;
    for (int i = 0; i < nargs; i++) {
        m.query.args.v[i].key.p = args[2 * i];
        m.query.args.v[i].key.n = strlen(args[2 * i]);
        m.query.args.v[i].val.p = args[2 * i + 1];
        m.query.args.v[i].val.n = strlen(args[2 * i + 1]);
    }
    int rc = jp_msg_send(s->sock, &m, &s->out, 0);
    if (rc)
        return jp_err_set(err, rc == -1 ? JP_EIO : JP_EINVAL, "query not sent: %s",
                          rc == -1 ? zmq_strerror(errno)
                                   : "an argument is too long or not UTF-8");
    zmq_msg_close(&s->frame);
    zmq_msg_init(&s->frame);
    if ((rc = s_recv(s->sock, s->mon, &s->frame, &in, s->ms, err)))
        return rc;
    if (in.type != JP_MSG_ANSWER)
        return jp_err_set(err, JP_EIO, "the server answered QUERY with %s",
                          jp_msg_type_name(in.type));
    if (in.answer.id != m.query.id)
        return jp_err_set(err, JP_EIO, "the server answered query %llu, not %llu",
                          (unsigned long long)in.answer.id,
                          (unsigned long long)m.query.id);
    if (!(*body = malloc(in.answer.body.n + 1)))
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    memcpy(*body, in.answer.body.p, in.answer.body.n);
    (*body)[in.answer.body.n] = '\0';
    *n = in.answer.body.n;
    return 0;
}

int
jp_ask(const jp_ask_t *a, const char *what, const char *const *args, int nargs,
       char **body, size_t *n, jp_err_t *err)
{
    jp_asker_t *s;
    *body = NULL;
    *n = 0;
    char ep[JP_ASK_MAX_EPS][JP_ASK_EP_LEN];
    int ms, neps = s_endpoints(a, ep, &ms, err), rc = JP_EINVAL;
    /* One that does not answer, or does not admit the key, gives way to
     * the next (a primary lost in the middle of the question). */
    for (int i = 0; i < neps; i++) {
        rc = s_open_one(a, ep[i], ms, &s, err);
        if (rc == 0)
            rc = jp_ask_query(s, what, args, nargs, body, n, err);
        jp_ask_close(&s);
        if (rc != JP_EIO && !(rc == JP_EPERM && !strcmp(err->msg, JP_AUTH_REFUSED_TEXT)))
            break;
    }
    return rc;
}

int
jp_ask_setup(jp_ask_t *a, const char *keyfile, const char *server, const char *server_key,
             jp_curve_t *k, uint8_t skey[32], jp_err_t *err)
{
    if (!keyfile || !server || !server_key)
        return jp_err_set(err, JP_EINVAL,
                          "needs --key, --server and --server-key (or $JIPAN_QUERY_KEY, "
                          "$JIPAN_SERVER, $JIPAN_SERVER_KEY)");
    if (!jp_curve_parse(server_key, skey))
        return jp_err_set(err, JP_EINVAL,
                          "--server-key needs the server's Curve key (64 hex digits)");
    int rc = jp_curve_load(k, keyfile, err);
    if (rc)
        return rc;
    *a = (jp_ask_t){.endpoint = server, .server_key = skey, .key = k};
    return 0;
}

int
jp_ask_send(jp_asker_t *s, const jp_msg_t *m, jp_err_t *err)
{
    if (jp_msg_send(s->sock, m, &s->out, 0))
        return jp_err_set(err, JP_EIO, "send %s: %s", jp_msg_type_name(m->type),
                          zmq_strerror(errno));
    return 0;
}

int
jp_ask_recv(jp_asker_t *s, jp_msg_t *m, jp_err_t *err)
{
    zmq_msg_close(&s->frame);
    zmq_msg_init(&s->frame);
    return s_recv(s->sock, s->mon, &s->frame, m, s->ms, err);
}

const jp_msg_t *
jp_ask_welcome(const jp_asker_t *s)
{
    return &s->welcome;
}
