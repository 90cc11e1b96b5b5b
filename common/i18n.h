/*
 * i18n.h -- the words people read, in their language: GNU gettext over
 * the catalog po/zh_CN.po (简体中文 first, English the source).
 *
 * A program calls jp_i18n_init() first thing in main.  The language is
 * the locale's (LANG, LC_ALL, LC_MESSAGES, LANGUAGE as gettext reads
 * them): `LANG=zh_CN.UTF-8 jipan-store report` prints 首保回厂率 where
 * `LANG=C` prints "first-maintenance return rate".  The catalog is read
 * from $JIPAN_LOCALEDIR if set, else the installed one, else the build
 * tree's (so the programs speak Chinese before they are installed).
 *
 * What is translated: help texts, the text report and work list, and the
 * reasons input is refused.  What is not: JSON and CSV (their keys are
 * the schema of docs/REPORTS.md), the log and the protocol, and the words
 * of the data itself.
 *
 * Marking: _("text") translates at run time; N_("text") marks a string
 * for the catalog where it is defined (a table) and jp_tr() translates it
 * where it is shown.  `cmake --build build --target jipan-pot` extracts
 * the marked strings into po/jipan.pot; msgmerge brings po/zh_CN.po up to
 * date.
 */
#ifndef JP_I18N_H
#define JP_I18N_H

#include <libintl.h>
#include <locale.h>
#include <stdbool.h>
#include <stddef.h>

#define JP_TEXTDOMAIN "jipan"

#define _(s) dgettext(JP_TEXTDOMAIN, s)
#define N_(s) s
/* A word of the schema (an enum value, a record kind), marked with its
 * field as the catalog's context: "service" is 维修保养 as a kind and
 * 售后服务 as a complaint's subject.  jp_tr_word() translates it. */
#define NW_(ctx, s) s

/* Set the locale from the environment and bind the catalog. */
void jp_i18n_init(void);

/* A marked string in the reader's language (the empty string stays
 * empty: gettext would give the catalog's header).  The text report's
 * indented labels ("  loyal") are msgids with their indentation. */
const char *jp_tr(const char *msgid);

/* A schema word in the reader's language, looked up in context ctx (its
 * field's name, or "kind", "class"); the word itself when the catalog has
 * none. */
const char *jp_tr_word(const char *ctx, const char *word);

/* A reason of validate.h in the reader's language: its own msgid, or a
 * range ("must be between 1 and 5") rebuilt from its translated form, in
 * buf.  Returns buf or a string of the catalog. */
const char *jp_tr_reason(const char *reason, char *buf, size_t cap);

/* The calling thread's words in Chinese (zh) or in English, whatever the
 * process's locale, until jp_i18n_leave(): the web pages render in the
 * language their reader chose.  Chinese needs the zh_CN.UTF-8 locale on
 * the machine; without it the words stay English (jp_i18n_zh_ok()). */
typedef struct {
    locale_t was; /* the thread's locale before; restored by leave */
    bool set;     /* a locale was put in place */
} jp_i18n_scope_t;
void jp_i18n_enter(jp_i18n_scope_t *scope, bool zh);
void jp_i18n_leave(jp_i18n_scope_t *scope);
bool jp_i18n_zh_ok(void);

/* True when messages come out in Chinese (the catalog is in use). */
bool jp_i18n_zh(void);

#endif
