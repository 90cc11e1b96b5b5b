/*
 * i18n.c -- binding the gettext catalog (i18n.h).
 */
#include "i18n.h"

#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef JP_LOCALEDIR_INSTALL
#define JP_LOCALEDIR_INSTALL "/usr/local/share/locale"
#endif
#ifndef JP_LOCALEDIR_BUILD
#define JP_LOCALEDIR_BUILD ""
#endif

/* dir holds our zh_CN catalog. */
static int
s_has_catalog(const char *dir)
{
    char path[4096];
    if (!dir || !dir[0])
        return 0;
    snprintf(path, sizeof path, "%s/zh_CN/LC_MESSAGES/" JP_TEXTDOMAIN ".mo", dir);
    return access(path, R_OK) == 0;
}

void
jp_i18n_init(void)
{
    setlocale(LC_ALL, "");
    /* Numbers stay as the formats define them, whatever the locale. */
    setlocale(LC_NUMERIC, "C");
    const char *dir = getenv("JIPAN_LOCALEDIR");
    if (!dir || !dir[0])
        dir = s_has_catalog(JP_LOCALEDIR_INSTALL) ? JP_LOCALEDIR_INSTALL
                                                  : JP_LOCALEDIR_BUILD;
    if (dir[0])
        bindtextdomain(JP_TEXTDOMAIN, dir);
    bind_textdomain_codeset(JP_TEXTDOMAIN, "UTF-8");
}

const char *
jp_tr(const char *msgid)
{
    return msgid[0] ? _(msgid) : msgid;
}

const char *
jp_tr_word(const char *ctx, const char *word)
{
    char key[128]; /* gettext's context form: "ctx" EOT "word" */
    if (!word || !word[0] ||
        (size_t)snprintf(key, sizeof key, "%s\004%s", ctx, word) >= sizeof key)
        return word;
    const char *t = _(key);
    return t == key || strcmp(t, key) == 0 ? word : t;
}

const char *
jp_tr_reason(const char *reason, char *buf, size_t cap)
{
    long long lo, hi;
    char tail;
    if (sscanf(reason, "must be between %lld and %lld%c", &lo, &hi, &tail) == 2) {
        snprintf(buf, cap, _("must be between %lld and %lld"), lo, hi);
        return buf;
    }
    return jp_tr(reason);
}

bool
jp_i18n_zh(void)
{
    /* gettext("") is the catalog's header when a catalog is in use. */
    return _("")[0] != '\0';
}

static pthread_once_t s_loc_once = PTHREAD_ONCE_INIT;
static locale_t s_loc_zh, s_loc_en; /* made once, kept for the process */

static void
s_loc_init(void)
{
    s_loc_zh = newlocale(LC_MESSAGES_MASK | LC_CTYPE_MASK, "zh_CN.UTF-8", (locale_t)0);
    s_loc_en = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

bool
jp_i18n_zh_ok(void)
{
    pthread_once(&s_loc_once, s_loc_init);
    return s_loc_zh != (locale_t)0;
}

void
jp_i18n_enter(jp_i18n_scope_t *scope, bool zh)
{
    pthread_once(&s_loc_once, s_loc_init);
    locale_t l = zh ? s_loc_zh : s_loc_en;
    scope->set = l != (locale_t)0;
    scope->was = scope->set ? uselocale(l) : (locale_t)0;
}

void
jp_i18n_leave(jp_i18n_scope_t *scope)
{
    if (scope->set)
        uselocale(scope->was);
    scope->set = false;
}
