/*
 * validate.c -- checks and normalisation of what people type: phone
 * numbers, resident ID numbers, VINs, dates, instants, money, integers.
 *
 * Every parser takes (s, n) -- a field cut out of a CSV line or a command
 * line, not NUL-terminated -- and reads no byte at or past s[n].  A refusal
 * comes with a reason that names the rule, never the value: the value may
 * be a phone or ID number, which must not reach logs or error messages.
 *
 * Civil dates are counted in days since 1970-01-01 with our own proleptic
 * Gregorian arithmetic, so date-only values never depend on a time zone.
 * Only the step between a local wall-clock time and an instant goes
 * through the C library (mktime with tm_isdst = -1, after jp_tz_set), which
 * knows the zone's rules, DST included.
 *
 * Choices the header leaves open:
 * - Fractional seconds: up to 9 digits are accepted and truncated to the
 *   millisecond (exports from old systems often carry microseconds);
 *   more than 9 digits are refused.
 * - Offsets: "Z", "+HH:MM", "+HHMM", "+HH" and the same with '-', at most
 *   14 hours.  Seconds 60 (leap seconds) and hour 24 are refused.
 * - Years: 1900-9999 for dates and instants.
 * - jp_parse_int's range reason names the bounds; it lives in a
 *   thread-local buffer, valid until the thread's next jp_parse_int call.
 */
#include "validate.h"
#include "err.h"
#include "i18n.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define S_YEAR_MIN 1900
#define S_YEAR_MAX 9999
#define S_MONEY_MAX_FEN 1000000000000LL /* 1e12 fen = 10 000 000 000 yuan */

static int
s_fail(const char **reason, const char *why)
{
    if (reason)
        *reason = why;
    return -1;
}

static int
s_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

static char
s_upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

/* Floor division, for instants before 1970. */
static int64_t
s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

/* ---------------------------------------------------------------------------
 * Civil calendar
 */

static int
s_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
s_month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && s_is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of a valid proleptic Gregorian date.  Counted from
 * 0000-03-01 so that the leap day ends each 4/100/400-year cycle. */
static int64_t
s_days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2)
        y--;
    int64_t era = s_floor_div(y, 400);
    int64_t yoe = y - era * 400;                         /* 0..399 */
    int64_t mp = (m + 9) % 12;                           /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1;            /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* 0..146096 */
    return era * 146097 + doe - 719468;                  /* 719468: 0000-03-01 .. 1970 */
}

/* The inverse of s_days_from_civil. */
static void
s_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 719468;
    int64_t era = s_floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* March = 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* n digits at s as a number; -1 if any is not a digit. */
static int64_t
s_digits(const char *s, size_t n)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s_isdigit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* "YYYY-MM-DD" at s (10 bytes available), checked against the calendar. */
static int
s_date10(const char *s, int *y, int *m, int *d, const char **reason)
{
    if (s[4] != '-' || s[7] != '-')
        return s_fail(reason, "date must be YYYY-MM-DD");
    int64_t yy = s_digits(s, 4), mm = s_digits(s + 5, 2), dd = s_digits(s + 8, 2);
    if (yy < 0 || mm < 0 || dd < 0)
        return s_fail(reason, "date must be YYYY-MM-DD");
    if (yy < S_YEAR_MIN || yy > S_YEAR_MAX)
        return s_fail(reason, "year must be between 1900 and 9999");
    if (mm < 1 || mm > 12)
        return s_fail(reason, "month must be between 01 and 12");
    if (dd < 1 || dd > s_month_days(yy, (int)mm))
        return s_fail(reason, "day does not exist in that month");
    *y = (int)yy;
    *m = (int)mm;
    *d = (int)dd;
    return 0;
}

/* Seconds since the epoch of a local wall-clock time in the process zone. */
static int
s_local_to_unix(int y, int m, int d, int hh, int mi, int ss, int64_t *t)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mi;
    tm.tm_sec = ss;
    tm.tm_isdst = -1; /* let the zone's rules decide, DST included */
    errno = 0;
    time_t r = mktime(&tm);
    if (r == (time_t)-1 && errno != 0)
        return -1;
    *t = (int64_t)r;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Phone numbers
 */

int
jp_phone_normalize(const char *s, size_t n, char out[JP_PHONE_MAX], const char **reason)
{
    assert(s || n == 0);
    /* Room for "0086" + 11 digits and a few more, so that a slightly long
     * number is still told "must have 11 digits" rather than "too long". */
    char dig[24];
    size_t nd = 0;
    int plus = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ' ' || c == '-')
            continue;
        if (c == '+' && nd == 0 && !plus) {
            plus = 1;
            continue;
        }
        if (!s_isdigit(c))
            return s_fail(reason,
                          "mobile number may contain only digits, spaces, dashes and a "
                          "leading +");
        if (nd == sizeof dig)
            return s_fail(reason, "mobile number must have 11 digits");
        dig[nd++] = c;
    }
    if (nd == 0)
        return s_fail(reason, "mobile number is empty");

    const char *p = dig;
    if (plus) {
        if (nd < 2 || p[0] != '8' || p[1] != '6')
            return s_fail(reason,
                          "only mainland China mobile numbers (+86) are accepted");
        p += 2;
        nd -= 2;
    } else if (nd > 11 && memcmp(p, "0086", 4) == 0) {
        p += 4;
        nd -= 4;
    } else if (nd > 11 && memcmp(p, "86", 2) == 0) {
        p += 2;
        nd -= 2;
    }
    if (nd != 11)
        return s_fail(reason, "mobile number must have 11 digits");
    if (p[0] != '1' || p[1] < '3')
        return s_fail(reason, "mobile number must start with 13-19");
    memcpy(out, "+86", 3);
    memcpy(out + 3, p, 11);
    out[14] = '\0';
    return 0;
}

/* Copy s into out with all but the first `front` and last `back`
 * characters replaced by '*'; a value too short to keep `full` characters
 * is hidden entirely. */
static void
s_mask(const char *s, size_t full, size_t front, size_t back, char *out, size_t cap)
{
    if (cap == 0)
        return;
    size_t len = strlen(s), o = 0;
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        bool show = len >= full && (i < front || i >= len - back);
        out[o++] = show ? s[i] : '*';
    }
    out[o] = '\0';
}

void
jp_phone_mask(const char *e164, char *out, size_t cap)
{
    assert(e164 && out);
    /* The usual "138****8000": 3 in front, 4 at the end of 11 digits. */
    s_mask(strncmp(e164, "+86", 3) == 0 ? e164 + 3 : e164, 11, 3, 4, out, cap);
}

void
jp_idnum_mask(const char *id, char *out, size_t cap)
{
    assert(id && out);
    s_mask(id, 18, 4, 4, out, cap);
}

/* ---------------------------------------------------------------------------
 * Resident ID numbers (GB 11643-1999)
 */

char
jp_idnum_check_char(const char id17[17])
{
    static const int w[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static const char map[] = "10X98765432";
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (!s_isdigit(id17[i]))
            return 0;
        sum += (id17[i] - '0') * w[i];
    }
    return map[sum % 11];
}

int
jp_idnum_check(const char *s, size_t n, char out[19], const char **reason)
{
    assert(s || n == 0);
    if (n != 18)
        return s_fail(reason, "ID number must have 18 characters");
    for (int i = 0; i < 17; i++)
        if (!s_isdigit(s[i]))
            return s_fail(reason, "ID number must be 17 digits followed by a digit or X");
    char last = s_upper(s[17]);
    if (!s_isdigit(last) && last != 'X')
        return s_fail(reason, "ID number must be 17 digits followed by a digit or X");

    /* Birth date YYYYMMDD in positions 7-14. */
    int64_t y = s_digits(s + 6, 4), m = s_digits(s + 10, 2), d = s_digits(s + 12, 2);
    if (y < S_YEAR_MIN || m < 1 || m > 12 || d < 1 || d > s_month_days(y, (int)m))
        return s_fail(reason, "ID number has an invalid birth date");
    int64_t today = jp_local_day((int64_t)time(NULL) * 1000);
    if (s_days_from_civil(y, (int)m, (int)d) > today)
        return s_fail(reason, "ID number has a birth date in the future");

    if (jp_idnum_check_char(s) != last)
        return s_fail(reason, "ID number check character does not match");
    memcpy(out, s, 17);
    out[17] = last;
    out[18] = '\0';
    return 0;
}

/* ---------------------------------------------------------------------------
 * VINs (ISO 3779, check digit in position 9 as GB 16735 requires)
 */

/* The ISO 3779 value of a VIN character, upper or lower case; -1 if the
 * character cannot appear in a VIN (I, O, Q, anything not 0-9 A-Z). */
static int
s_vin_value(char c)
{
    /* A-Z; 0 marks I, O and Q. */
    static const signed char letters[26] = {
        1, 2, 3, 4, 5, 6, 7, 8, 0, /* A-I */
        1, 2, 3, 4, 5, 0, 7, 0, 9, /* J-R */
        2, 3, 4, 5, 6, 7, 8, 9,    /* S-Z */
    };
    if (s_isdigit(c))
        return c - '0';
    c = s_upper(c);
    if (c < 'A' || c > 'Z' || letters[c - 'A'] == 0)
        return -1;
    return letters[c - 'A'];
}

char
jp_vin_check_digit(const char vin[17])
{
    static const int w[17] = {8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    for (int i = 0; i < 17; i++) {
        if (i == 8)
            continue; /* the check digit itself (weight 0) */
        int v = s_vin_value(vin[i]);
        if (v < 0)
            return 0;
        sum += v * w[i];
    }
    int r = sum % 11;
    return r == 10 ? 'X' : (char)('0' + r);
}

int
jp_vin_check(const char *s, size_t n, char out[18], const char **reason)
{
    assert(s || n == 0);
    if (n != 17)
        return s_fail(reason, "VIN must have 17 characters");
    for (int i = 0; i < 17; i++) {
        char c = s_upper(s[i]);
        if (c == 'I' || c == 'O' || c == 'Q')
            return s_fail(reason, "VIN must not contain the letters I, O or Q");
        if (s_vin_value(c) < 0)
            return s_fail(reason, "VIN may contain only digits and letters");
        out[i] = c;
    }
    out[17] = '\0';
    if (!s_isdigit(out[8]) && out[8] != 'X')
        return s_fail(reason, "VIN check digit (position 9) must be 0-9 or X");
    if (jp_vin_check_digit(out) != out[8])
        return s_fail(reason, "VIN check digit (position 9) does not match");
    return 0;
}

/* ---------------------------------------------------------------------------
 * Time zone, dates, instants
 */

int
jp_tz_set(const char *name)
{
    assert(name);
    /* glibc falls back to UTC, silently, for a zone it cannot find: check
     * that the name is a zone file, so that a typo is an error. */
    if (name[0] == '\0' || name[0] == '/' || strstr(name, ".."))
        return JP_EINVAL;
    const char *dir = getenv("TZDIR");
    if (!dir || !dir[0])
        dir = "/usr/share/zoneinfo";
    char path[512];
    struct stat st; /* a directory ("Asia") is no zone either */
    int len = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof path || stat(path, &st) != 0 ||
        !S_ISREG(st.st_mode))
        return JP_EINVAL;
    if (setenv("TZ", name, 1) != 0)
        return JP_ENOMEM;
    tzset();
    return 0;
}

int
jp_parse_date(const char *s, size_t n, int64_t *days, const char **reason)
{
    assert(s || n == 0);
    if (n != 10)
        return s_fail(reason, "date must be YYYY-MM-DD");
    int y, m, d;
    if (s_date10(s, &y, &m, &d, reason) != 0)
        return -1;
    *days = s_days_from_civil(y, m, d);
    return 0;
}

/* Parse an instant; *date_only tells whether it was a bare date. */
static int
s_instant(const char *s, size_t n, int64_t *ms, int *date_only, const char **reason)
{
    static const char *form = N_("instant must be YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.fff]] "
                                 "with an optional Z or +HH:MM");
    if (n < 10)
        return s_fail(reason, form);
    int y, m, d;
    if (s_date10(s, &y, &m, &d, reason) != 0)
        return -1;
    *date_only = n == 10;
    if (n == 10) {
        int64_t t;
        if (s_local_to_unix(y, m, d, 0, 0, 0, &t) != 0)
            return s_fail(reason, "instant is out of range");
        *ms = t * 1000;
        return 0;
    }

    size_t i = 10;
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ')
        return s_fail(reason, form);
    i++;
    if (n - i < 5 || s[i + 2] != ':')
        return s_fail(reason, form);
    int64_t hh = s_digits(s + i, 2), mi = s_digits(s + i + 3, 2), ss = 0, frac = 0;
    if (hh < 0 || mi < 0)
        return s_fail(reason, form);
    i += 5;
    if (i < n && s[i] == ':') {
        if (n - i < 3 || (ss = s_digits(s + i + 1, 2)) < 0)
            return s_fail(reason, form);
        i += 3;
        if (i < n && (s[i] == '.' || s[i] == ',')) {
            i++;
            size_t nf = 0;
            while (i < n && s_isdigit(s[i])) {
                if (nf == 9)
                    return s_fail(reason, "fractional seconds may have at most 9 digits");
                if (nf < 3)
                    frac = frac * 10 + (s[i] - '0');
                nf++;
                i++;
            }
            if (nf == 0)
                return s_fail(reason, form);
            for (; nf < 3; nf++)
                frac *= 10;
        }
    }
    if (hh > 23)
        return s_fail(reason, "hour must be between 00 and 23");
    if (mi > 59)
        return s_fail(reason, "minute must be between 00 and 59");
    if (ss > 59)
        return s_fail(reason, "second must be between 00 and 59");

    if (i == n) { /* no zone: local time */
        int64_t t;
        if (s_local_to_unix(y, m, d, (int)hh, (int)mi, (int)ss, &t) != 0)
            return s_fail(reason, "instant is out of range");
        *ms = t * 1000 + frac;
        return 0;
    }

    int64_t off = 0; /* seconds east of UTC */
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        off = 0;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        const char *z = s + i + 1;
        size_t zn = n - i - 1;
        int64_t oh, om = 0;
        if (zn == 2) {
            oh = s_digits(z, 2);
        } else if (zn == 4) {
            oh = s_digits(z, 2);
            om = s_digits(z + 2, 2);
        } else if (zn == 5 && z[2] == ':') {
            oh = s_digits(z, 2);
            om = s_digits(z + 3, 2);
        } else {
            return s_fail(reason, "time zone offset must be Z, +HH:MM, +HHMM or -HH:MM");
        }
        if (oh < 0 || om < 0)
            return s_fail(reason, "time zone offset must be Z, +HH:MM, +HHMM or -HH:MM");
        if (oh > 14 || om > 59 || (oh == 14 && om > 0))
            return s_fail(reason, "time zone offset must be between -14:00 and +14:00");
        off = sign * (oh * 3600 + om * 60);
    } else {
        return s_fail(reason, form);
    }
    int64_t t = s_days_from_civil(y, m, d) * 86400 + hh * 3600 + mi * 60 + ss - off;
    *ms = t * 1000 + frac;
    return 0;
}

int
jp_parse_instant(const char *s, size_t n, int64_t *ms, const char **reason)
{
    assert(s || n == 0);
    int date_only;
    return s_instant(s, n, ms, &date_only, reason);
}

int
jp_parse_asof(const char *s, size_t n, int64_t *ms, const char **reason)
{
    assert(s || n == 0);
    int date_only;
    int64_t t;
    if (s_instant(s, n, &t, &date_only, reason) != 0)
        return -1;
    if (date_only) {
        int y, m, d;
        s_date10(s, &y, &m, &d, NULL); /* checked by s_instant */
        if (s_local_to_unix(y, m, d, 23, 59, 59, &t) != 0)
            return s_fail(reason, "instant is out of range");
        t = t * 1000 + 999;
    }
    *ms = t;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Numbers
 */

int
jp_parse_money(const char *s, size_t n, int64_t *fen, const char **reason)
{
    assert(s || n == 0);
    if (n == 0)
        return s_fail(reason, "amount is empty");
    if (s[0] == '-')
        return s_fail(reason, "amount must not be negative");
    static const char *form = N_("amount must be yuan with up to 2 decimals, like 1234.56");
    int64_t yuan = 0;
    size_t i = 0;
    for (; i < n && s_isdigit(s[i]); i++) {
        yuan = yuan * 10 + (s[i] - '0');
        if (yuan > S_MONEY_MAX_FEN / 100)
            return s_fail(reason, "amount must be at most 10000000000.00 yuan");
    }
    if (i == 0)
        return s_fail(reason, form);
    int64_t cents = 0;
    if (i < n) {
        if (s[i] != '.')
            return s_fail(reason, form);
        size_t nd = n - i - 1;
        if (nd == 0)
            return s_fail(reason, form);
        if (nd > 2)
            return s_fail(reason, "amount may have at most 2 decimals");
        for (size_t k = 0; k < 2; k++) {
            cents *= 10;
            if (k < nd) {
                if (!s_isdigit(s[i + 1 + k]))
                    return s_fail(reason, form);
                cents += s[i + 1 + k] - '0';
            }
        }
    }
    int64_t v = yuan * 100 + cents;
    if (v > S_MONEY_MAX_FEN)
        return s_fail(reason, "amount must be at most 10000000000.00 yuan");
    *fen = v;
    return 0;
}

int
jp_parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *v,
             const char **reason)
{
    assert(s || n == 0);
    assert(lo <= hi);
    static _Thread_local char range[80];
    if (n == 0)
        return s_fail(reason, "number is empty");
    size_t i = 0;
    int neg = s[0] == '-';
    if (neg)
        i++;
    if (i == n)
        return s_fail(reason, "must be a whole number");
    /* Accumulate the magnitude; anything past 2^63 is out of every range. */
    uint64_t mag = 0;
    int over = 0;
    for (; i < n; i++) {
        if (!s_isdigit(s[i]))
            return s_fail(reason, "must be a whole number");
        unsigned dgt = (unsigned)(s[i] - '0');
        if (mag > (UINT64_MAX - dgt) / 10 || mag * 10 + dgt > (uint64_t)INT64_MAX + 1)
            over = 1;
        else
            mag = mag * 10 + dgt;
    }
    int64_t x = 0;
    if (!over) {
        if (neg)
            x = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
        else if (mag > (uint64_t)INT64_MAX)
            over = 1;
        else
            x = (int64_t)mag;
    }
    if (over || x < lo || x > hi) {
        snprintf(range, sizeof range, "must be between %lld and %lld", (long long)lo,
                 (long long)hi);
        return s_fail(reason, range);
    }
    *v = x;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Formatting
 */

/* v as exactly width decimal digits at p (v is within range). */
static void
s_put_dec(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* "YYYY-MM-DD" at p, or '#'s for a year outside 0-9999 (no real record). */
static void
s_put_date(char *p, int64_t y, int m, int d)
{
    if (y < 0 || y > 9999) {
        memcpy(p, "####-##-##", 10);
        return;
    }
    s_put_dec(p, y, 4);
    p[4] = '-';
    s_put_dec(p + 5, m, 2);
    p[7] = '-';
    s_put_dec(p + 8, d, 2);
}

void
jp_format_instant(int64_t ms, char out[17])
{
    time_t t = (time_t)s_floor_div(ms, 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm)) {
        memcpy(out, "####-##-## ##:##", 17);
        return;
    }
    s_put_date(out, (int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    out[10] = ' ';
    s_put_dec(out + 11, tm.tm_hour, 2);
    out[13] = ':';
    s_put_dec(out + 14, tm.tm_min, 2);
    out[16] = '\0';
}

void
jp_format_date(int64_t days, char out[11])
{
    int64_t y;
    int m, d;
    s_civil_from_days(days, &y, &m, &d);
    s_put_date(out, y, m, d);
    out[10] = '\0';
}

void
jp_format_money(int64_t fen, char out[24])
{
    /* The magnitude in unsigned, so that INT64_MIN has one too. */
    uint64_t mag = fen < 0 ? (uint64_t)0 - (uint64_t)fen : (uint64_t)fen;
    snprintf(out, 24, "%s%llu.%02llu", fen < 0 ? "-" : "",
             (unsigned long long)(mag / 100), (unsigned long long)(mag % 100));
}

int64_t
jp_local_day(int64_t ms)
{
    time_t t = (time_t)s_floor_div(ms, 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return s_floor_div(ms, 86400000); /* out of the C library's range: UTC */
    return s_days_from_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

bool
jp_utf8_valid(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s, *end = p + n;
    while (p < end) {
        uint8_t c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t len;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if (c >= 0xE0 && c <= 0xEF)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if (c >= 0xF0 && c <= 0xF4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if ((size_t)(end - p) < len)
            return false;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += len;
    }
    return true;
}

int
jp_text_check(const char *s, size_t n, bool lines, const char **reason)
{
    static _Thread_local char why[80];
    const uint8_t *p = (const uint8_t *)s;
    if (!jp_utf8_valid(s, n)) {
        *reason = "is not valid UTF-8";
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned cp = p[i];
        if (cp == 0xC2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F)
            cp = p[i + 1]; /* U+0080..U+009F, the C1 controls */
        else if ((cp >= 0x20 && cp != 0x7F) ||
                 (lines && (cp == '\t' || cp == '\n' || cp == '\r')))
            continue;
        snprintf(why, sizeof why, "has a control character (U+%04X) at byte %zu", cp,
                 i + 1);
        *reason = why;
        return -1;
    }
    return 0;
}

void
jp_text_show(const char *p, size_t n, char *out, size_t cap)
{
    const uint8_t *s = (const uint8_t *)p;
    size_t k = 0, i = 0;
    if (cap == 0)
        return;
    while (i < n) {
        uint8_t c = s[i];
        size_t len = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (len > n - i)
            len = n - i;
        bool ctl = c < 0x20 || c == 0x7F || (c == 0xC2 && len == 2 && s[i + 1] <= 0x9F);
        size_t w = ctl ? 1 : len;
        if (k + w + 1 > cap)
            break; /* whole characters only */
        if (ctl)
            out[k] = '?';
        else
            memcpy(out + k, s + i, len);
        k += w;
        i += len;
    }
    out[k] = '\0';
}
