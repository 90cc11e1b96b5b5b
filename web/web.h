/*
 * web.h -- the web front's machinery: an embedded HTTP server
 * (libmicrohttpd) bound to loopback, the users file, sign-in, sessions,
 * CSRF tokens, HTML escaping and the security headers every answer
 * carries.  The pages themselves belong to the program that serves them
 * (the store's counter in client/cmd_web.c, the group's dashboard in
 * web/dash.c):
 * they register one handler that gets a request and fills an answer.
 *
 * What the module guarantees, so that a page cannot forget it:
 *  - every answer carries Content-Security-Policy "default-src 'self'"
 *    (no inline script or style, nothing from another origin),
 *    X-Content-Type-Options, Referrer-Policy, X-Frame-Options and
 *    Cache-Control: no-store (cards hold personal data);
 *  - a page handler is called only for a signed-in user; everything else
 *    is sent to /login;
 *  - every POST carries the session's CSRF token (field "csrf"), else it is
 *    refused with 403 before the handler runs;
 *  - text put into a page goes through jp_web_esc (or jp_web_printf's
 *    %s, which escapes).
 *
 * Users file: one user a line, "NAME:ROLE:HASH", HASH being libsodium's
 * crypto_pwhash_str (Argon2id) string; lines starting with '#' are kept
 * as they are.  NAME is 1..32 of [A-Za-z0-9._-]; ROLE is 1..16 of [a-z].
 * The file is rewritten whole (a temporary file, then rename) with mode
 * 0600.  Passwords are 8..128 bytes.
 *
 * Sessions live in the server's memory (a restart signs everyone out):
 * a random 256-bit id in the cookie "jp_session" (HttpOnly,
 * SameSite=Strict, Path=/), a random 256-bit CSRF token, an idle timeout.
 *
 * All functions return 0 or a negative JP_E* code; where an err is taken,
 * it says what went wrong in words.
 */
#ifndef JP_WEB_H
#define JP_WEB_H

#include "buf.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JP_WEB_NAME_MAX 32     /* user name, bytes */
#define JP_WEB_ROLE_MAX 16     /* role, bytes */
#define JP_WEB_PASS_MIN 8      /* password, bytes */
#define JP_WEB_PASS_MAX 128    /* password, bytes */
#define JP_WEB_BODY_MAX 65536  /* a request body, bytes: a form, never a file */
#define JP_WEB_PARAMS_MAX 64   /* fields of one form or query */
#define JP_WEB_SESSIONS_MAX 64 /* sessions held at once; the oldest goes */
#define JP_WEB_IDLE_MS (8LL * 3600 * 1000) /* a session idle this long ends */

/* --- the users file --- */

/* Add user name with role and password (hashed with Argon2id) to the file
 * at path, creating it.  JP_EEXIST if the name is there, JP_EINVAL for a
 * bad name, role or password (err says which). */
int jp_web_user_add(const char *path, const char *name, const char *role,
                    const char *password, jp_err_t *err);

/* Replace the password of user name.  JP_ENOTFOUND if there is none. */
int jp_web_user_passwd(const char *path, const char *name, const char *password,
                       jp_err_t *err);

/* Remove user name.  JP_ENOTFOUND if there is none. */
int jp_web_user_remove(const char *path, const char *name, jp_err_t *err);

/* Check name and password against the file; on success the user's role
 * into role (JP_WEB_ROLE_MAX + 1 bytes).  JP_EPERM for an unknown name or
 * a wrong password alike (a sign-in page must not tell which). */
int jp_web_user_check(const char *path, const char *name, const char *password,
                      char *role);

/* Read a password from standard input: one line, not echoed on a
 * terminal (a "password: " prompt on stderr then), into out (cap bytes:
 * JP_WEB_PASS_MAX + 2).  JP_EINVAL when there is none or it is too long.
 * The caller checks its length and wipes out after use. */
int jp_web_read_password(char *out, size_t cap, jp_err_t *err);

/* --- a request, as a page handler sees it --- */

typedef struct jp_web_req jp_web_req_t;

const char *jp_web_method(const jp_web_req_t *req); /* "GET", "POST" */
const char *jp_web_path(const jp_web_req_t *req);   /* "/card", no query */
/* A form field (POST body) or query argument (GET), decoded; NULL if
 * absent.  Borrowed until the handler returns. */
const char *jp_web_param(const jp_web_req_t *req, const char *name);
const char *jp_web_user(const jp_web_req_t *req); /* signed-in user's name */
const char *jp_web_role(const jp_web_req_t *req); /* and role */
const char *jp_web_csrf(const jp_web_req_t *req); /* the token forms carry */
/* The language asked for: "zh" (the default) or "en" (cookie jp_lang). */
const char *jp_web_lang(const jp_web_req_t *req);
bool jp_web_en(const jp_web_req_t *req);

/* --- building a page --- */

/* Append s, HTML-escaped (& < > " ' become entities). */
int jp_web_esc(jp_buf_t *b, const char *s);
/* Append raw markup (a literal of the page, never data). */
int jp_web_raw(jp_buf_t *b, const char *s);
/* printf into b where every %s argument is escaped; other conversions
 * (%d, %lld, %zu, %c, %%) as printf.  Only these conversions, no widths
 * on %s. */
int jp_web_printf(jp_buf_t *b, const char *fmt, ...);
/* A hidden input with the request's CSRF token, for every form. */
int jp_web_csrf_field(jp_buf_t *b, const jp_web_req_t *req);

/* What a handler answers. */
typedef struct {
    int status;         /* HTTP status; 0 means 200 */
    const char *type;   /* Content-Type; NULL means text/html; charset=utf-8 */
    jp_buf_t body;      /* the body; freed by the server */
    char location[512]; /* with status 303: where to go (a path of ours) */
    char filename[128]; /* not "": a download of that name (Content-Disposition:
                           attachment); [A-Za-z0-9._-] only */
} jp_web_answer_t;

/* A page: fill ans; return 0, or a JP_E* code for a 500 (logged without
 * personal data: the handler must not put any in the code's sense).  It
 * runs in the reader's language (jp_i18n_enter, i18n.h): jp_tr gives the
 * catalog's words in it. */
typedef int (*jp_web_page_fn)(void *app, jp_web_req_t *req, jp_web_answer_t *ans);

/* --- the server --- */

typedef struct {
    const char *listen;     /* IPv4 address to bind; NULL: 127.0.0.1 */
    uint16_t port;          /* 0: any free port (see jp_web_port) */
    const char *users_path; /* the users file */
    const char *title;      /* shown on the sign-in page */
    jp_web_page_fn page;    /* every path but /login, /logout, /lang, /static */
    void *app;              /* passed to page */
    /* Static files: path (e.g. "/static/style.css"), type, bytes. */
    const struct jp_web_static {
        const char *path;
        const char *type;
        const char *data;
    } * statics;
} jp_web_conf_t;

typedef struct jp_web jp_web_t;

/* Start serving (one thread: pages run one at a time, which is what the
 * single LMDB environment of a store wants).  The configuration's strings
 * are borrowed for the server's life. */
int jp_web_start(const jp_web_conf_t *conf, jp_web_t **self_p, jp_err_t *err);
/* The port bound (the one chosen when conf->port was 0). */
uint16_t jp_web_port(const jp_web_t *self);
/* Stop and free; NULL-safe, nulls the pointer. */
void jp_web_stop(jp_web_t **self_p);

/* A program that serves until SIGINT or SIGTERM: jp_web_signals_block
 * blocks both in the calling thread, so in every thread started after it
 * (which inherit the mask), and ignores SIGPIPE; jp_web_signals_wait then
 * returns when one of them comes. */
void jp_web_signals_block(void);
void jp_web_signals_wait(void);

#endif
