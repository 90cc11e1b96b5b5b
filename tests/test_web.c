/*
 * test_web.c -- the web module's pieces that need no browser: the HTML
 * escaper and its printf, and the users file (names, roles, passwords,
 * Argon2id hashes, add / passwd / remove / check, comments kept).
 */
#include "web.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char s_dir[64];
static char s_path[128];

static int
s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/jp-test-web.XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_path, sizeof s_path, "%s/web-users", s_dir);
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    unlink(s_path);
    rmdir(s_dir);
    return 0;
}

/* The buffer's text, NUL-terminated (the buffer keeps its length). */
static const char *
s_text(jp_buf_t *b)
{
    jp_buf_append(b, "", 1);
    b->len--;
    return (const char *)b->data;
}

static void
test_escape(void **state)
{
    (void)state;
    jp_buf_t b = {0};
    assert_int_equal(jp_web_esc(&b, "<a href=\"x\">'&'</a> 王"), 0);
    assert_string_equal(s_text(&b),
                        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; 王");
    jp_buf_free(&b);
}

static void
test_printf(void **state)
{
    (void)state;
    jp_buf_t b = {0};
    assert_int_equal(jp_web_printf(&b, "<td>%s</td><td>%d %lld %zu %c 100%%</td>",
                                   "<script>", -3, (long long)1234567890123, (size_t)7,
                                   'x'),
                     0);
    assert_string_equal(s_text(&b),
                        "<td>&lt;script&gt;</td><td>-3 1234567890123 7 x 100%</td>");
    jp_buf_reset(&b);
    /* NULL prints as empty; an unknown conversion is refused. */
    assert_int_equal(jp_web_printf(&b, "[%s]", (const char *)NULL), 0);
    assert_string_equal(s_text(&b), "[]");
    assert_int_equal(jp_web_printf(&b, "%f", 1.0), JP_EINVAL);
    jp_buf_free(&b);
}

static void
test_users(void **state)
{
    (void)state;
    char role[JP_WEB_ROLE_MAX + 1];
    jp_err_t err;
    struct stat st;

    jp_err_clear(&err);
    assert_int_equal(jp_web_user_add(s_path, "bad name", "adviser", "password1", &err),
                     JP_EINVAL);
    assert_int_equal(jp_web_user_add(s_path, "ada", "Adviser", "password1", &err),
                     JP_EINVAL);
    assert_int_equal(jp_web_user_add(s_path, "ada", "adviser", "short", &err), JP_EINVAL);
    assert_non_null(strstr(err.msg, "8 to 128 bytes"));
    assert_int_not_equal(access(s_path, F_OK), 0); /* nothing written */

    assert_int_equal(jp_web_user_add(s_path, "ada", "adviser", "password1", &err), 0);
    assert_int_equal(jp_web_user_add(s_path, "ada", "manager", "password2", &err),
                     JP_EEXIST);
    assert_int_equal(stat(s_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* A comment the operator wrote stays through rewrites. */
    FILE *f = fopen(s_path, "a");
    assert_non_null(f);
    fputs("# the counter's advisers\n", f);
    fclose(f);

    assert_int_equal(jp_web_user_check(s_path, "ada", "password1", role), 0);
    assert_string_equal(role, "adviser");
    assert_int_equal(jp_web_user_check(s_path, "ada", "password2", role), JP_EPERM);
    assert_int_equal(jp_web_user_check(s_path, "bob", "password1", role), JP_EPERM);
    assert_int_equal(jp_web_user_check(s_path, "ada:adviser", "password1", role),
                     JP_EPERM);

    assert_int_equal(jp_web_user_passwd(s_path, "ada", "password3", &err), 0);
    assert_int_equal(jp_web_user_check(s_path, "ada", "password1", role), JP_EPERM);
    assert_int_equal(jp_web_user_check(s_path, "ada", "password3", role), 0);
    assert_int_equal(jp_web_user_passwd(s_path, "bob", "password3", &err), JP_ENOTFOUND);

    /* The file holds the hash, never the password. */
    char line[512] = "";
    f = fopen(s_path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_int_equal(strncmp(line, "ada:adviser:$argon2id$", 22), 0);
    assert_null(strstr(line, "password3"));

    assert_int_equal(jp_web_user_remove(s_path, "bob", &err), JP_ENOTFOUND);
    assert_int_equal(jp_web_user_remove(s_path, "ada", &err), 0);
    assert_int_equal(jp_web_user_check(s_path, "ada", "password3", role), JP_EPERM);
    f = fopen(s_path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, "# the counter's advisers\n");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_printf),
        cmocka_unit_test_setup_teardown(test_users, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
