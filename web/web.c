/*
 * web.c -- the HTTP server under the web pages: libmicrohttpd with one
 * internal thread, the sign-in and sessions, CSRF, and the headers every
 * answer carries.
 *
 * The one idea: a page handler never sees a request that is not signed in
 * or a POST without the session's CSRF token; those are settled here,
 * before it runs, so that no page can forget them.  Forms are read whole
 * (at most JP_WEB_BODY_MAX bytes) and decoded here, so a handler reads
 * fields by name.
 */
#include "web.h"
#include "crypto.h"
#include "i18n.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_TOKEN_LEN 32 /* bytes of a session id or CSRF token: 256 bits */
#define S_HEX_LEN (2 * S_TOKEN_LEN)

/* One signed-in session. */
typedef struct {
    char id[S_HEX_LEN + 1];   /* the cookie's value; "" when the slot is free */
    char csrf[S_HEX_LEN + 1]; /* the token every form of the session carries */
    char user[JP_WEB_NAME_MAX + 1];
    char role[JP_WEB_ROLE_MAX + 1];
    int64_t seen_ms; /* last request, monotonic ms */
} s_session_t;

struct jp_web {
    jp_web_conf_t conf;                        /* as given */
    struct MHD_Daemon *mhd;                    /* the server */
    uint16_t port;                             /* bound */
    s_session_t sessions[JP_WEB_SESSIONS_MAX]; /* touched by the one thread only */
};

/* One field of a form or query. */
typedef struct {
    char *name;  /* decoded, owned */
    char *value; /* decoded, owned */
} s_param_t;

struct jp_web_req {
    jp_web_t *web;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    jp_buf_t body;                       /* the POST body as received */
    bool body_too_big;                   /* more than JP_WEB_BODY_MAX */
    s_param_t params[JP_WEB_PARAMS_MAX]; /* decoded body fields */
    int nparams;
    s_session_t *session; /* NULL: not signed in */
    char lang[3];         /* "zh" or "en" */
};

static int64_t
s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_random_hex(char out[S_HEX_LEN + 1])
{
    unsigned char raw[S_TOKEN_LEN];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, S_HEX_LEN + 1, raw, sizeof raw);
    sodium_memzero(raw, sizeof raw);
}

/* Equal tokens, in time that does not depend on where they differ. */
static bool
s_token_eq(const char *a, const char *b)
{
    return a && b && strlen(a) == S_HEX_LEN && strlen(b) == S_HEX_LEN &&
           sodium_memcmp(a, b, S_HEX_LEN) == 0;
}

/* --- escaping and page building --- */

int
jp_web_raw(jp_buf_t *b, const char *s)
{
    return jp_buf_append(b, s, strlen(s));
}

int
jp_web_esc(jp_buf_t *b, const char *s)
{
    int rc = 0;
    for (const char *p = s; *p && !rc; p++) {
        switch (*p) {
        case '&':
            rc = jp_web_raw(b, "&amp;");
            break;
        case '<':
            rc = jp_web_raw(b, "&lt;");
            break;
        case '>':
            rc = jp_web_raw(b, "&gt;");
            break;
        case '"':
            rc = jp_web_raw(b, "&quot;");
            break;
        case '\'':
            rc = jp_web_raw(b, "&#39;");
            break;
        default:
            rc = jp_buf_append(b, p, 1);
        }
    }
    return rc;
}

int
jp_web_printf(jp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char num[64];
    int rc = 0;
    va_start(ap, fmt);
    for (const char *p = fmt; *p && !rc; p++) {
        if (*p != '%') {
            const char *q = strchr(p, '%');
            size_t n = q ? (size_t)(q - p) : strlen(p);
            rc = jp_buf_append(b, p, n);
            p += n - 1;
            continue;
        }
        p++;
        if (*p == 's') {
            const char *s = va_arg(ap, const char *);
            rc = jp_web_esc(b, s ? s : "");
        } else if (*p == 'd') {
            snprintf(num, sizeof num, "%d", va_arg(ap, int));
            rc = jp_web_raw(b, num);
        } else if (strncmp(p, "lld", 3) == 0) {
            snprintf(num, sizeof num, "%lld", va_arg(ap, long long));
            rc = jp_web_raw(b, num);
            p += 2;
        } else if (strncmp(p, "zu", 2) == 0) {
            snprintf(num, sizeof num, "%zu", va_arg(ap, size_t));
            rc = jp_web_raw(b, num);
            p++;
        } else if (*p == 'c') {
            char ch = (char)va_arg(ap, int);
            rc = jp_buf_append(b, &ch, 1);
        } else if (*p == '%') {
            rc = jp_web_raw(b, "%");
        } else {
            rc = JP_EINVAL; /* a conversion this printf does not know */
            break;
        }
    }
    va_end(ap);
    return rc;
}

int
jp_web_csrf_field(jp_buf_t *b, const jp_web_req_t *req)
{
    return jp_web_printf(b, "<input type=\"hidden\" name=\"csrf\" value=\"%s\">",
                         jp_web_csrf(req));
}

/* --- the request --- */

const char *
jp_web_method(const jp_web_req_t *req)
{
    return req->method;
}

const char *
jp_web_path(const jp_web_req_t *req)
{
    return req->path;
}

const char *
jp_web_param(const jp_web_req_t *req, const char *name)
{
    if (strcmp(req->method, "POST") == 0) {
        for (int i = 0; i < req->nparams; i++) {
            if (strcmp(req->params[i].name, name) == 0)
                return req->params[i].value;
        }
        return NULL;
    }
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *
jp_web_user(const jp_web_req_t *req)
{
    return req->session ? req->session->user : "";
}

const char *
jp_web_role(const jp_web_req_t *req)
{
    return req->session ? req->session->role : "";
}

const char *
jp_web_csrf(const jp_web_req_t *req)
{
    return req->session ? req->session->csrf : "";
}

const char *
jp_web_lang(const jp_web_req_t *req)
{
    return req->lang;
}

bool
jp_web_en(const jp_web_req_t *req)
{
    return strcmp(req->lang, "en") == 0;
}

/* Decode n bytes of application/x-www-form-urlencoded text, malloc'd;
 * *nul set when it held a NUL byte (%00). */
static char *
s_urldecode(const char *s, size_t n, bool *nul)
{
    char *out = malloc(n + 1);
    size_t k = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n && jp_hexval(s[i + 1]) >= 0 &&
                   jp_hexval(s[i + 2]) >= 0) {
            out[k++] = (char)(jp_hexval(s[i + 1]) * 16 + jp_hexval(s[i + 2]));
            i += 2;
        } else {
            out[k++] = s[i];
        }
    }
    out[k] = '\0';
    if (strlen(out) != k)
        *nul = true;
    return out;
}

/* Split the body into fields.  JP_ETOOBIG past JP_WEB_PARAMS_MAX;
 * a NUL byte in a field (decoded %00) is refused as JP_EINVAL. */
static int
s_parse_body(jp_web_req_t *req)
{
    const char *p = (const char *)req->body.data, *end = p + req->body.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        if (stop > p) {
            if (req->nparams == JP_WEB_PARAMS_MAX)
                return JP_ETOOBIG;
            s_param_t *pa = &req->params[req->nparams];
            const char *ne = eq ? eq : stop;
            bool nul = false;
            pa->name = s_urldecode(p, (size_t)(ne - p), &nul);
            pa->value =
                eq ? s_urldecode(eq + 1, (size_t)(stop - eq - 1), &nul) : strdup("");
            req->nparams++;
            if (!pa->name || !pa->value)
                return JP_ENOMEM;
            if (nul)
                return JP_EINVAL;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

static void
s_req_free(jp_web_req_t *req)
{
    for (int i = 0; i < req->nparams; i++) {
        free(req->params[i].name);
        free(req->params[i].value);
    }
    jp_buf_free(&req->body);
    free(req);
}

/* --- sessions --- */

static s_session_t *
s_session_find(jp_web_t *web, const char *id)
{
    int64_t now = s_now_ms();
    if (!id)
        return NULL;
    for (int i = 0; i < JP_WEB_SESSIONS_MAX; i++) {
        s_session_t *s = &web->sessions[i];
        if (!s->id[0] || !s_token_eq(s->id, id))
            continue;
        if (now - s->seen_ms > JP_WEB_IDLE_MS) {
            sodium_memzero(s, sizeof *s);
            return NULL;
        }
        s->seen_ms = now;
        return s;
    }
    return NULL;
}

static s_session_t *
s_session_new(jp_web_t *web, const char *user, const char *role)
{
    s_session_t *s = &web->sessions[0];
    for (int i = 0; i < JP_WEB_SESSIONS_MAX; i++) {
        if (!web->sessions[i].id[0]) {
            s = &web->sessions[i];
            break;
        }
        if (web->sessions[i].seen_ms < s->seen_ms)
            s = &web->sessions[i];
    }
    s_random_hex(s->id);
    s_random_hex(s->csrf);
    snprintf(s->user, sizeof s->user, "%s", user);
    snprintf(s->role, sizeof s->role, "%s", role);
    s->seen_ms = s_now_ms();
    return s;
}

/* --- answers --- */

static enum MHD_Result
s_send(jp_web_req_t *req, int status, const char *type, const void *data, size_t n,
       enum MHD_ResponseMemoryMode mode, const char *location, const char *cookie,
       const char *filename)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(n, (void *)data, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type ? type : "text/html; charset=utf-8");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; form-action 'self'; "
                            "frame-ancestors 'none'; base-uri 'none'");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (location)
        MHD_add_response_header(r, "Location", location);
    if (cookie)
        MHD_add_response_header(r, "Set-Cookie", cookie);
    if (filename && filename[0]) {
        char disp[200];
        snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", filename);
        MHD_add_response_header(r, "Content-Disposition", disp);
    }
    enum MHD_Result ok = MHD_queue_response(req->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result
s_redirect(jp_web_req_t *req, const char *to, const char *cookie)
{
    return s_send(req, 303, "text/plain; charset=utf-8", "", 0, MHD_RESPMEM_PERSISTENT,
                  to, cookie, NULL);
}

static enum MHD_Result
s_plain(jp_web_req_t *req, int status, const char *text)
{
    return s_send(req, status, "text/plain; charset=utf-8", text, strlen(text),
                  MHD_RESPMEM_PERSISTENT, NULL, NULL, NULL);
}

/* Send b (handed over to the server). */
static enum MHD_Result
s_send_buf(jp_web_req_t *req, int status, const char *type, jp_buf_t *b,
           const char *cookie, const char *filename)
{
    enum MHD_Result ok = s_send(req, status, type, b->data ? (void *)b->data : "", b->len,
                                MHD_RESPMEM_MUST_COPY, NULL, cookie, filename);
    jp_buf_free(b);
    return ok;
}

/* --- the sign-in page --- */

static const char *
s_l(const jp_web_req_t *req, const char *zh, const char *en)
{
    return jp_web_en(req) ? en : zh;
}

/* The sign-in form.  Before a session there is no session token, so the
 * form carries a token also set as a SameSite=Strict cookie (jp_pre): a
 * page of another site can neither read it nor send the cookie along. */
static enum MHD_Result
s_login_page(jp_web_req_t *req, int status, const char *msg)
{
    char token[S_HEX_LEN + 1], cookie[160];
    jp_buf_t b = {0};
    /* A token the browser holds already is kept: a second tab, or a
     * request the browser makes on its own, must not spoil the form. */
    const char *held = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, "jp_pre");
    if (held && strlen(held) == S_HEX_LEN &&
        strspn(held, "0123456789abcdef") == S_HEX_LEN)
        snprintf(token, sizeof token, "%s", held);
    else
        s_random_hex(token);
    snprintf(cookie, sizeof cookie, "jp_pre=%s; HttpOnly; SameSite=Strict; Path=/login",
             token);
    int rc = jp_web_printf(
        &b,
        "<!DOCTYPE html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
        "<title>%s</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>"
        "<body class=\"login\"><main><h1>%s</h1>",
        jp_web_en(req) ? "en" : "zh-CN", s_l(req, "登录", "Sign in"),
        req->web->conf.title ? req->web->conf.title : "jipan");
    if (msg)
        rc |= jp_web_printf(&b, "<p class=\"error\" id=\"error\">%s</p>", msg);
    rc |= jp_web_printf(
        &b,
        "<form method=\"post\" action=\"/login\">"
        "<input type=\"hidden\" name=\"pre\" value=\"%s\">"
        "<label>%s <input name=\"user\" id=\"user\" autocomplete=\"username\" "
        "required></label>"
        "<label>%s <input name=\"password\" id=\"password\" type=\"password\" "
        "autocomplete=\"current-password\" required></label>"
        "<button type=\"submit\" id=\"signin\">%s</button></form>"
        "<p class=\"lang\"><a href=\"/lang?to=zh\">简体中文</a> · "
        "<a href=\"/lang?to=en\">English</a></p></main></body></html>",
        token, s_l(req, "用户名", "User"), s_l(req, "密码", "Password"),
        s_l(req, "登录", "Sign in"));
    if (rc) {
        jp_buf_free(&b);
        return s_plain(req, 500, "out of memory");
    }
    return s_send_buf(req, status, NULL, &b, cookie, NULL);
}

static enum MHD_Result
s_login_post(jp_web_req_t *req)
{
    char role[JP_WEB_ROLE_MAX + 1], cookie[200];
    const char *pre = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, "jp_pre");
    const char *user = jp_web_param(req, "user");
    const char *pass = jp_web_param(req, "password");
    if (!s_token_eq(pre, jp_web_param(req, "pre")))
        return s_login_page(req, 403,
                            s_l(req, "登录表单已过期，请重新登录。",
                                "The sign-in form has expired; sign in again."));
    if (!user || !pass ||
        jp_web_user_check(req->web->conf.users_path, user, pass, role) != 0)
        return s_login_page(
            req, 403, s_l(req, "用户名或密码错误。", "Wrong user name or password."));
    s_session_t *s = s_session_new(req->web, user, role);
    snprintf(cookie, sizeof cookie, "jp_session=%s; HttpOnly; SameSite=Strict; Path=/",
             s->id);
    return s_redirect(req, "/", cookie);
}

static enum MHD_Result
s_static(jp_web_req_t *req)
{
    for (const struct jp_web_static *st = req->web->conf.statics; st && st->path; st++) {
        if (strcmp(st->path, req->path) == 0)
            return s_send(req, 200, st->type, st->data, strlen(st->data),
                          MHD_RESPMEM_PERSISTENT, NULL, NULL, NULL);
    }
    return s_plain(req, 404, "not found");
}

/* The whole request is in: settle sign-in and CSRF, then the page. */
static enum MHD_Result
s_dispatch(jp_web_req_t *req)
{
    jp_web_t *web = req->web;
    bool post = strcmp(req->method, "POST") == 0;
    const char *lang = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, "jp_lang");
    snprintf(req->lang, sizeof req->lang, "%s",
             lang && strcmp(lang, "en") == 0 ? "en" : "zh");
    if (!post && strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
        return s_plain(req, 405, "method not allowed");
    if (req->body_too_big)
        return s_plain(req, 413, "form too large");
    if (post) {
        int rc = s_parse_body(req);
        if (rc)
            return s_plain(req, 400,
                           rc == JP_ETOOBIG ? "too many form fields" : "malformed form");
    }
    if (strncmp(req->path, "/static/", 8) == 0)
        return s_static(req);
    if (strcmp(req->path, "/favicon.ico") == 0)
        return s_plain(req, 404, "not found");
    if (strcmp(req->path, "/lang") == 0) {
        const char *to = jp_web_param(req, "to");
        char cookie[80];
        snprintf(cookie, sizeof cookie, "jp_lang=%s; SameSite=Strict; Path=/",
                 to && strcmp(to, "en") == 0 ? "en" : "zh");
        return s_redirect(req, "/", cookie);
    }
    req->session = s_session_find(
        web, MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, "jp_session"));
    if (strcmp(req->path, "/login") == 0)
        return post ? s_login_post(req) : s_login_page(req, 200, NULL);
    if (!req->session)
        return s_redirect(req, "/login", NULL);
    if (post && !s_token_eq(jp_web_param(req, "csrf"), req->session->csrf))
        return s_plain(req, 403,
                       s_l(req, "表单已过期（CSRF 校验失败），请返回并重新打开页面。",
                           "The form has expired (CSRF check failed); go back and "
                           "open the page again."));
    if (strcmp(req->path, "/logout") == 0) {
        if (!post)
            return s_plain(req, 405, "sign out with the button");
        sodium_memzero(req->session, sizeof *req->session);
        return s_redirect(req, "/login",
                          "jp_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    }
    /* The page in its reader's language: the catalog's words (po/) come
     * out in it on this thread while the page is made. */
    jp_web_answer_t ans = {0};
    jp_i18n_scope_t words;
    jp_i18n_enter(&words, !jp_web_en(req));
    int rc = web->conf.page(web->conf.app, req, &ans);
    jp_i18n_leave(&words);
    if (rc) {
        jp_buf_free(&ans.body);
        fprintf(stderr, "jipan web: %s %s: %s\n", req->method, req->path,
                jp_strerror(rc));
        return s_plain(req, 500, "internal error (see the server's log)");
    }
    if (ans.status == 303) {
        jp_buf_free(&ans.body);
        return s_redirect(req, ans.location[0] == '/' ? ans.location : "/", NULL);
    }
    return s_send_buf(req, ans.status ? ans.status : 200, ans.type, &ans.body, NULL,
                      ans.filename);
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_size,
         void **con_cls)
{
    jp_web_t *web = cls;
    jp_web_req_t *req = *con_cls;
    (void)version;
    if (!req) {
        if (!(req = calloc(1, sizeof *req)))
            return MHD_NO;
        req->web = web;
        req->conn = conn;
        req->method = method;
        req->path = url;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_size) {
        if (req->body.len + *upload_size > JP_WEB_BODY_MAX)
            req->body_too_big = true;
        else if (jp_buf_append(&req->body, upload_data, *upload_size) != 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    return s_dispatch(req);
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    if (*con_cls)
        s_req_free(*con_cls);
    *con_cls = NULL;
}

int
jp_web_start(const jp_web_conf_t *conf, jp_web_t **self_p, jp_err_t *err)
{
    struct sockaddr_in sin = {0};
    jp_web_t *self;
    *self_p = NULL;
    if (sodium_init() < 0)
        return jp_err_set(err, JP_ECRYPTO, "libsodium did not start");
    sin.sin_family = AF_INET;
    sin.sin_port = htons(conf->port);
    if (inet_pton(AF_INET, conf->listen ? conf->listen : "127.0.0.1", &sin.sin_addr) != 1)
        return jp_err_set(err, JP_EINVAL, "--listen: not an IPv4 address");
    if (!(self = calloc(1, sizeof *self)))
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    self->conf = *conf;
    self->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, conf->port, NULL, NULL,
        s_access, self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
    if (!self->mhd) {
        free(self);
        return jp_err_set(err, JP_EIO, "cannot listen on %s:%u",
                          conf->listen ? conf->listen : "127.0.0.1", conf->port);
    }
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(self->mhd, MHD_DAEMON_INFO_BIND_PORT);
    self->port = di ? di->port : conf->port;
    *self_p = self;
    return 0;
}

uint16_t
jp_web_port(const jp_web_t *self)
{
    return self->port;
}

void
jp_web_stop(jp_web_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    MHD_stop_daemon((*self_p)->mhd);
    sodium_memzero((*self_p)->sessions, sizeof(*self_p)->sessions);
    free(*self_p);
    *self_p = NULL;
}

static sigset_t s_stop_signals;

void
jp_web_signals_block(void)
{
    sigemptyset(&s_stop_signals);
    sigaddset(&s_stop_signals, SIGINT);
    sigaddset(&s_stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &s_stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void
jp_web_signals_wait(void)
{
    int sig;
    while (sigwait(&s_stop_signals, &sig) != 0)
        ;
}
