/*
 * users.c -- the web front's users file: names, roles and Argon2id
 * password hashes (libsodium's crypto_pwhash_str), managed by the operator
 * with `jipan-store web-user`.
 *
 * The file is small (a store has a handful of advisers), so every change
 * reads it whole and writes it whole to a temporary file renamed over the
 * old one: a crash leaves the old file or the new one.  The check hashes
 * even for an unknown name, so that the time of a failed sign-in does not
 * tell whether the name exists.
 */
#include "web.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define S_LINE_MAX 512 /* one line of the file, bytes */
#define S_USERS_MAX 1000

static int
s_init(void)
{
    return sodium_init() < 0 ? JP_ECRYPTO : 0;
}

static bool
s_name_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= JP_WEB_NAME_MAX &&
           strspn(s,
                  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
               n;
}

static bool
s_role_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= JP_WEB_ROLE_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz") == n;
}

static int
s_pass_ok(const char *p, jp_err_t *err)
{
    size_t n = strlen(p);
    if (n < JP_WEB_PASS_MIN || n > JP_WEB_PASS_MAX)
        return jp_err_set(err, JP_EINVAL, "a password has %d to %d bytes (this one %zu)",
                          JP_WEB_PASS_MIN, JP_WEB_PASS_MAX, n);
    return 0;
}

/* The lines of the file (none if it does not exist yet). */
typedef struct {
    char *line[S_USERS_MAX]; /* owned, without the newline */
    int n;
} s_lines_t;

static void
s_lines_free(s_lines_t *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->line[i]);
    l->n = 0;
}

static int
s_read(const char *path, s_lines_t *l, jp_err_t *err)
{
    char buf[S_LINE_MAX + 2];
    int lineno = 0;
    FILE *f = fopen(path, "r");
    l->n = 0;
    if (!f)
        return errno == ENOENT ? 0
                               : jp_err_set(err, JP_EIO, "%s: %s", path, strerror(errno));
    while (fgets(buf, sizeof buf, f)) {
        lineno++;
        size_t n = strlen(buf);
        if (n && buf[n - 1] == '\n')
            buf[--n] = '\0';
        else if (!feof(f))
            goto toolong;
        if (l->n == S_USERS_MAX) {
            fclose(f);
            s_lines_free(l);
            return jp_err_set(err, JP_ETOOBIG, "%s: more than %d lines", path,
                              S_USERS_MAX);
        }
        if (!(l->line[l->n] = strdup(buf))) {
            fclose(f);
            s_lines_free(l);
            return jp_err_set(err, JP_ENOMEM, "out of memory");
        }
        l->n++;
    }
    fclose(f);
    return 0;
toolong:
    fclose(f);
    s_lines_free(l);
    return jp_err_set(err, JP_EINVAL, "%s:%d: line longer than %d bytes", path, lineno,
                      S_LINE_MAX);
}

static int
s_write(const char *path, const s_lines_t *l, jp_err_t *err)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return jp_err_set(err, JP_EIO, "%s: %s", tmp, strerror(errno));
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return jp_err_set(err, JP_EIO, "%s: %s", tmp, strerror(errno));
    }
    for (int i = 0; i < l->n; i++)
        fprintf(f, "%s\n", l->line[i]);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        unlink(tmp);
        return jp_err_set(err, JP_EIO, "%s: %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return jp_err_set(err, JP_EIO, "%s: %s", path, strerror(errno));
    }
    return 0;
}

/* The line of user name, or -1.  Fields into role and hash when given. */
static int
s_find(const s_lines_t *l, const char *name, char *role, const char **hash)
{
    size_t nl = strlen(name);
    for (int i = 0; i < l->n; i++) {
        const char *s = l->line[i];
        if (s[0] == '#' || strncmp(s, name, nl) != 0 || s[nl] != ':')
            continue;
        const char *r = s + nl + 1, *c = strchr(r, ':');
        if (!c || (size_t)(c - r) > JP_WEB_ROLE_MAX)
            continue;
        if (role)
            snprintf(role, JP_WEB_ROLE_MAX + 1, "%.*s", (int)(c - r), r);
        if (hash)
            *hash = c + 1;
        return i;
    }
    return -1;
}

/* "name:role:hash" for password, malloc'd into *out. */
static int
s_make_line(const char *name, const char *role, const char *password, char **out,
            jp_err_t *err)
{
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return jp_err_set(err, JP_ENOMEM, "Argon2id: out of memory");
    size_t n = strlen(name) + strlen(role) + strlen(hash) + 3;
    if (!(*out = malloc(n)))
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    snprintf(*out, n, "%s:%s:%s", name, role, hash);
    return 0;
}

int
jp_web_user_add(const char *path, const char *name, const char *role,
                const char *password, jp_err_t *err)
{
    s_lines_t *l = calloc(1, sizeof *l);
    int rc;
    if (!l)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    if ((rc = s_init())) {
        jp_err_set(err, rc, "libsodium did not start");
        goto fail;
    }
    if (!s_name_ok(name)) {
        rc = jp_err_set(err, JP_EINVAL,
                        "a user name has 1 to %d letters, digits, '.', '_' or '-'",
                        JP_WEB_NAME_MAX);
        goto fail;
    }
    if (!s_role_ok(role)) {
        rc = jp_err_set(err, JP_EINVAL, "a role has 1 to %d lower-case letters",
                        JP_WEB_ROLE_MAX);
        goto fail;
    }
    if ((rc = s_pass_ok(password, err)) || (rc = s_read(path, l, err)))
        goto fail;
    if (s_find(l, name, NULL, NULL) >= 0) {
        rc = jp_err_set(err, JP_EEXIST, "user %s exists already", name);
        goto fail;
    }
    if (l->n == S_USERS_MAX) {
        rc = jp_err_set(err, JP_ETOOBIG, "%s: more than %d lines", path, S_USERS_MAX);
        goto fail;
    }
    if ((rc = s_make_line(name, role, password, &l->line[l->n], err)))
        goto fail;
    l->n++;
    rc = s_write(path, l, err);
fail:
    s_lines_free(l);
    free(l);
    return rc;
}

int
jp_web_user_passwd(const char *path, const char *name, const char *password,
                   jp_err_t *err)
{
    s_lines_t *l = calloc(1, sizeof *l);
    char role[JP_WEB_ROLE_MAX + 1], *line = NULL;
    int rc, i;
    if (!l)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    if ((rc = s_init())) {
        jp_err_set(err, rc, "libsodium did not start");
        goto fail;
    }
    if ((rc = s_pass_ok(password, err)) || (rc = s_read(path, l, err)))
        goto fail;
    if ((i = s_find(l, name, role, NULL)) < 0) {
        rc = jp_err_set(err, JP_ENOTFOUND, "no user %s in %s", name, path);
        goto fail;
    }
    if ((rc = s_make_line(name, role, password, &line, err)))
        goto fail;
    free(l->line[i]);
    l->line[i] = line;
    rc = s_write(path, l, err);
fail:
    s_lines_free(l);
    free(l);
    return rc;
}

int
jp_web_user_remove(const char *path, const char *name, jp_err_t *err)
{
    s_lines_t *l = calloc(1, sizeof *l);
    int rc, i;
    if (!l)
        return jp_err_set(err, JP_ENOMEM, "out of memory");
    if ((rc = s_read(path, l, err)))
        goto fail;
    if ((i = s_find(l, name, NULL, NULL)) < 0) {
        rc = jp_err_set(err, JP_ENOTFOUND, "no user %s in %s", name, path);
        goto fail;
    }
    free(l->line[i]);
    memmove(&l->line[i], &l->line[i + 1], (size_t)(l->n - i - 1) * sizeof l->line[0]);
    l->n--;
    rc = s_write(path, l, err);
fail:
    s_lines_free(l);
    free(l);
    return rc;
}

int
jp_web_user_check(const char *path, const char *name, const char *password, char *role)
{
    /* A hash of a password nobody has, to spend the same time on an
     * unknown name as on a known one. */
    static char dummy[crypto_pwhash_STRBYTES];
    s_lines_t *l = calloc(1, sizeof *l);
    const char *hash = NULL;
    jp_err_t err;
    int rc = JP_EPERM;
    if (!l || s_init())
        goto fail;
    if (!dummy[0] && crypto_pwhash_str(dummy, "-", 1, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        goto fail;
    jp_err_clear(&err);
    if (s_read(path, l, &err) != 0 || !s_name_ok(name) ||
        s_find(l, name, role, &hash) < 0)
        hash = NULL;
    if (crypto_pwhash_str_verify(hash ? hash : dummy, password, strlen(password)) == 0 &&
        hash)
        rc = 0;
fail:
    if (l)
        s_lines_free(l);
    free(l);
    return rc;
}

int
jp_web_read_password(char *out, size_t cap, jp_err_t *err)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "password: ");
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *got = fgets(out, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fputc('\n', stderr);
    }
    if (!got)
        return jp_err_set(err, JP_EINVAL, "no password on standard input");
    size_t n = strlen(out);
    if (n && out[n - 1] == '\n')
        out[--n] = '\0';
    else if (n == cap - 1)
        return jp_err_set(err, JP_EINVAL, "password longer than %d bytes",
                          JP_WEB_PASS_MAX);
    return 0;
}
