/*
 * validate.h -- checks and normalisation of what people type.
 *
 * Phone numbers (mainland mobile, stored E.164), 18-character resident ID
 * numbers (GB 11643 checksum), VINs (ISO 3779 check digit, as used in
 * China: position 9), dates and instants (ISO 8601), money (yuan with up to
 * two decimals, kept as fen).  Each check fills a reason that never repeats
 * the value itself: the value may be personal data.
 */
#ifndef JP_VALIDATE_H
#define JP_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JP_PHONE_MAX 16 /* "+86" + 11 digits + NUL fits */

/* Mainland mobile: "1[3-9]" + 9 digits, optionally "+86", "86" or "0086"
 * before it, spaces and dashes ignored.  Writes "+861..." into out.
 * Returns 0, or -1 with a reason ("must have 11 digits", ...). */
int jp_phone_normalize(const char *s, size_t n, char out[JP_PHONE_MAX],
                       const char **reason);

/* 18-character resident ID: 17 digits + check character (0-9 or X,
 * case-insensitive), a valid birth date in positions 7-14, checksum per
 * GB 11643-1999.  Writes the upper-cased form into out[19]. */
int jp_idnum_check(const char *s, size_t n, char out[19], const char **reason);

/* VIN: 17 characters of 0-9 A-Z without I, O, Q (case-insensitive), check
 * digit (position 9, 0-9 or X) per ISO 3779 / GB 16735.  Writes the
 * upper-cased form into out[18]. */
int jp_vin_check(const char *s, size_t n, char out[18], const char **reason);

/* The check character a VIN should have at position 9 ('0'-'9' or 'X'),
 * computed from the other 16 (for generators and tests); 0 if invalid. */
char jp_vin_check_digit(const char vin[17]);

/* The check character of the first 17 digits of an ID number. */
char jp_idnum_check_char(const char id17[17]);

/* The group's time zone: an IANA name ("Asia/Shanghai").  Sets TZ for this
 * process; every local-time conversion below uses it. */
int jp_tz_set(const char *name);

/* Civil date "YYYY-MM-DD" -> days since 1970-01-01. */
int jp_parse_date(const char *s, size_t n, int64_t *days, const char **reason);

/* ISO 8601 instant -> unix ms.  Accepts "YYYY-MM-DD" (00:00 local),
 * "YYYY-MM-DDTHH:MM[:SS[.fff]]" (local), the same with 'Z' or "+08:00",
 * and a space instead of 'T'.  Fractional seconds beyond 3 digits (up to
 * 9) are truncated to the millisecond; offsets may also be "+HHMM", "+HH". */
int jp_parse_instant(const char *s, size_t n, int64_t *ms, const char **reason);

/* "YYYY-MM-DD" as an as-of instant: the last millisecond of that local day.
 * Anything else as jp_parse_instant. */
int jp_parse_asof(const char *s, size_t n, int64_t *ms, const char **reason);

/* Yuan "12345", "12345.6", "12345.67" -> fen; no sign, no exponent. */
int jp_parse_money(const char *s, size_t n, int64_t *fen, const char **reason);

/* Decimal integer within [lo, hi].  The range reason ("must be between
 * 1 and 5") is in a thread-local buffer, valid until the next call. */
int jp_parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *v,
                 const char **reason);

/* Format unix ms as local "YYYY-MM-DD HH:MM" into out[17]; days as
 * "YYYY-MM-DD" into out[11]; fen as "12345.67" into out[24]. */
void jp_format_instant(int64_t ms, char out[17]);
void jp_format_date(int64_t days, char out[11]);
void jp_format_money(int64_t fen, char out[24]);

/* Local civil date (days since epoch) of an instant, in the group's zone. */
int64_t jp_local_day(int64_t ms);

/* Well-formed UTF-8: no overlong forms, surrogates, or code points past
 * U+10FFFF.  Reads exactly n bytes. */
bool jp_utf8_valid(const char *s, size_t n);

/* Text a person may type into a field or a user name: well-formed UTF-8
 * (as jp_utf8_valid) without control characters: no C0 control (NUL,
 * BEL, ESC, tab and line ends included), no DEL, no C1 control
 * (U+0080..U+009F), since a terminal obeys them when the text is shown.
 * lines: tab, line feed and carriage return are allowed (free text that
 * keeps its line breaks: the note).
 * Returns 0, or -1 with a reason naming the first fault and its byte
 * offset ("control character U+001B at byte 3"; the reason is in a
 * thread-local buffer, valid until the next call). */
int jp_text_check(const char *s, size_t n, bool lines, const char **reason);

/* Text for a screen: p[0..n) into out (NUL-terminated, cut to cap at a
 * character's end), each control character jp_text_check refuses (NUL,
 * tab and line ends included) as '?', so that text stored before that
 * check can neither drive the terminal nor cut itself short. */
void jp_text_show(const char *p, size_t n, char *out, size_t cap);

/* Masked forms for display to staff: "138****8000", "4413**********123X". */
void jp_phone_mask(const char *e164, char *out, size_t cap);
/* The ID number's first 4 and last 4 characters, the rest as '*'. */
void jp_idnum_mask(const char *id, char *out, size_t cap);

#endif
