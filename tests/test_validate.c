/*
 * test_validate.c -- every rule of validate.c with values that pass and
 * values that fail, and the reason each failure gives.
 *
 * Every parser is fed from a heap copy of exactly n bytes with no NUL after
 * it, so AddressSanitizer catches any read past the end of the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "validate.h"

/* A heap copy of s without its NUL; the caller frees it. */
static char *
s_exact(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    return p;
}

/* Each helper returns the parser's result and its reason (or NULL). */

static int
phone(const char *s, char out[JP_PHONE_MAX], const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_phone_normalize(p, strlen(s), out, reason);
    free(p);
    return rc;
}

static int
idnum(const char *s, char out[19], const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_idnum_check(p, strlen(s), out, reason);
    free(p);
    return rc;
}

static int
vin(const char *s, char out[18], const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_vin_check(p, strlen(s), out, reason);
    free(p);
    return rc;
}

static int
date(const char *s, int64_t *days, const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_parse_date(p, strlen(s), days, reason);
    free(p);
    return rc;
}

static int
instant(const char *s, int64_t *ms, const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_parse_instant(p, strlen(s), ms, reason);
    free(p);
    return rc;
}

static int
asof(const char *s, int64_t *ms, const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_parse_asof(p, strlen(s), ms, reason);
    free(p);
    return rc;
}

static int
money(const char *s, int64_t *fen, const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_parse_money(p, strlen(s), fen, reason);
    free(p);
    return rc;
}

static int
integer(const char *s, int64_t lo, int64_t hi, int64_t *v, const char **reason)
{
    char *p = s_exact(s);
    *reason = NULL;
    int rc = jp_parse_int(p, strlen(s), lo, hi, v, reason);
    free(p);
    return rc;
}

static void
test_phone_good(void **state)
{
    (void)state;
    const char *good[] = {
        "13812348000",     "+8613812348000",    "8613812348000",
        "008613812348000", "+86 138 1234 8000", "+86-138-1234-8000",
        "138-1234-8000",   " 138 1234 8000 ",   "0086 138 1234 8000",
    };
    char out[JP_PHONE_MAX];
    const char *reason;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        memset(out, 'z', sizeof out);
        if (phone(good[i], out, &reason) != 0)
            fail_msg("phone form %zu refused: %s", i, reason);
        assert_string_equal(out, "+8613812348000");
    }
    /* Every second digit 3-9 is a mobile prefix. */
    for (char c = '3'; c <= '9'; c++) {
        char in[] = "1X012345678";
        in[1] = c;
        assert_int_equal(phone(in, out, &reason), 0);
        assert_int_equal(out[4], c);
    }
}

static void
test_phone_bad(void **state)
{
    (void)state;
    struct {
        const char *in;
        const char *reason;
    } bad[] = {
        {"1381234800", "mobile number must have 11 digits"},
        {"138123480001", "mobile number must have 11 digits"},
        {"+861381234800", "mobile number must have 11 digits"},
        {"86138123480", "mobile number must start with 13-19"}, /* 11 digits, no prefix */
        {"12812348000", "mobile number must start with 13-19"},
        {"10012348000", "mobile number must start with 13-19"},
        {"23812348000", "mobile number must start with 13-19"},
        {"138abcd8000",
         "mobile number may contain only digits, spaces, dashes and a leading +"},
        {"138.1234.8000",
         "mobile number may contain only digits, spaces, dashes and a leading +"},
        {"138+12348000",
         "mobile number may contain only digits, spaces, dashes and a leading +"},
        {"+1 202 555 0123", "only mainland China mobile numbers (+86) are accepted"},
        {"", "mobile number is empty"},
        {" - ", "mobile number is empty"},
        {"1381234800012345678901234567890", "mobile number must have 11 digits"},
    };
    char out[JP_PHONE_MAX];
    const char *reason;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (phone(bad[i].in, out, &reason) != -1)
            fail_msg("phone case %zu accepted", i);
        assert_non_null(reason);
        assert_string_equal(reason, bad[i].reason);
        /* The number itself is never in the reason. */
        assert_null(strstr(reason, "1381"));
        assert_null(strstr(reason, "1234"));
    }
}

static void
test_phone_mask(void **state)
{
    (void)state;
    char out[32];
    jp_phone_mask("+8613812348000", out, sizeof out);
    assert_string_equal(out, "138****8000");
    jp_phone_mask("13812348000", out, sizeof out);
    assert_string_equal(out, "138****8000");
    /* A short buffer truncates, NUL-terminated. */
    jp_phone_mask("+8613812348000", out, 5);
    assert_string_equal(out, "138*");
    /* Something that is not a mobile number is hidden entirely. */
    jp_phone_mask("12345", out, sizeof out);
    assert_string_equal(out, "*****");

    jp_idnum_mask("11010519491231002X", out, sizeof out);
    assert_string_equal(out, "1101**********002X");
}

static void
test_idnum(void **state)
{
    (void)state;
    char out[19];
    const char *reason;
    /* Worked by hand with the GB 11643 weights: 11010519491231002 sums to
     * 167, 167 mod 11 = 2 -> 'X'; 44030419900307124 sums to 246, mod 11 =
     * 4 -> '8'. */
    assert_int_equal(jp_idnum_check_char("11010519491231002"), 'X');
    assert_int_equal(jp_idnum_check_char("44030419900307124"), '8');
    assert_int_equal(idnum("11010519491231002X", out, &reason), 0);
    assert_string_equal(out, "11010519491231002X");
    assert_int_equal(idnum("440304199003071248", out, &reason), 0);
    assert_string_equal(out, "440304199003071248");
    /* Lower-case x is accepted and upper-cased. */
    assert_int_equal(idnum("11010519491231002x", out, &reason), 0);
    assert_string_equal(out, "11010519491231002X");

    /* Wrong check character. */
    assert_int_equal(idnum("110105194912310021", out, &reason), -1);
    assert_string_equal(reason, "ID number check character does not match");
    assert_int_equal(idnum("440304199003071247", out, &reason), -1);
    assert_string_equal(reason, "ID number check character does not match");

    /* Birth dates that do not exist, each with a correct check character so
     * that only the date is wrong. */
    const char *dates[] = {"19491331", "19490230", "19000229", "18991231", "19490000"};
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++) {
        char id[19] = "110105";
        memcpy(id + 6, dates[i], 8);
        memcpy(id + 14, "002", 3);
        id[17] = jp_idnum_check_char(id);
        id[18] = '\0';
        if (idnum(id, out, &reason) != -1)
            fail_msg("birth date %zu accepted", i);
        assert_string_equal(reason, "ID number has an invalid birth date");
    }
    /* 2000-02-29 exists. */
    char leap[19] = "11010520000229002";
    leap[17] = jp_idnum_check_char(leap);
    leap[18] = '\0';
    assert_int_equal(idnum(leap, out, &reason), 0);

    /* Born in the future: tomorrow's date, computed from the clock. */
    time_t tomorrow = time(NULL) + 2 * 86400;
    struct tm tm;
    assert_non_null(localtime_r(&tomorrow, &tm));
    char fut[64]; /* room for any year the compiler can imagine */
    snprintf(fut, sizeof fut, "110105%04d%02d%02d002", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
    fut[17] = jp_idnum_check_char(fut);
    fut[18] = '\0';
    assert_int_equal(idnum(fut, out, &reason), -1);
    assert_string_equal(reason, "ID number has a birth date in the future");

    /* Lengths and characters. */
    assert_int_equal(idnum("11010519491231002", out, &reason), -1);
    assert_string_equal(reason, "ID number must have 18 characters");
    assert_int_equal(idnum("11010519491231002X1", out, &reason), -1);
    assert_string_equal(reason, "ID number must have 18 characters");
    assert_int_equal(idnum("", out, &reason), -1);
    assert_string_equal(reason, "ID number must have 18 characters");
    assert_int_equal(idnum("1101051949123100XX", out, &reason), -1);
    assert_string_equal(reason, "ID number must be 17 digits followed by a digit or X");
    assert_int_equal(idnum("11010519491231002Y", out, &reason), -1);
    assert_string_equal(reason, "ID number must be 17 digits followed by a digit or X");
    assert_null(strstr(reason, "1101"));
    assert_int_equal(jp_idnum_check_char("1101051949123100A"), 0);
}

static void
test_vin(void **state)
{
    (void)state;
    char out[18];
    const char *reason;
    /* The textbook example (check digit X) and the all-ones VIN (89 mod 11 = 1). */
    assert_int_equal(jp_vin_check_digit("1M8GDM9A_KP042788"), 'X');
    assert_int_equal(vin("1M8GDM9AXKP042788", out, &reason), 0);
    assert_string_equal(out, "1M8GDM9AXKP042788");
    assert_int_equal(vin("11111111111111111", out, &reason), 0);
    /* Lower case is accepted and upper-cased. */
    assert_int_equal(vin("1m8gdm9axkp042788", out, &reason), 0);
    assert_string_equal(out, "1M8GDM9AXKP042788");

    /* A VIN generated with jp_vin_check_digit, and every wrong digit for it. */
    char gen[18] = "LFV2A21K?97123456";
    gen[8] = jp_vin_check_digit(gen);
    assert_true((gen[8] >= '0' && gen[8] <= '9') || gen[8] == 'X');
    assert_int_equal(vin(gen, out, &reason), 0);
    const char digits[] = "0123456789X";
    for (size_t i = 0; i < sizeof digits - 1; i++) {
        if (digits[i] == gen[8])
            continue;
        char wrong[18];
        memcpy(wrong, gen, sizeof wrong);
        wrong[8] = digits[i];
        assert_int_equal(vin(wrong, out, &reason), -1);
        assert_string_equal(reason, "VIN check digit (position 9) does not match");
    }

    assert_int_equal(vin("1M8GDM9A1KP042788", out, &reason), -1);
    assert_string_equal(reason, "VIN check digit (position 9) does not match");
    assert_int_equal(vin("1M8GDM9AAKP042788", out, &reason), -1);
    assert_string_equal(reason, "VIN check digit (position 9) must be 0-9 or X");
    assert_int_equal(vin("1M8GDM9AXKP04278I", out, &reason), -1);
    assert_string_equal(reason, "VIN must not contain the letters I, O or Q");
    assert_int_equal(vin("1M8GDM9AXKo042788", out, &reason), -1);
    assert_string_equal(reason, "VIN must not contain the letters I, O or Q");
    assert_int_equal(vin("QM8GDM9AXKP042788", out, &reason), -1);
    assert_string_equal(reason, "VIN must not contain the letters I, O or Q");
    assert_int_equal(vin("1M8GDM9AXKP04278-", out, &reason), -1);
    assert_string_equal(reason, "VIN may contain only digits and letters");
    assert_int_equal(vin("1M8GDM9AXKP04278", out, &reason), -1);
    assert_string_equal(reason, "VIN must have 17 characters");
    assert_int_equal(vin("1M8GDM9AXKP0427880", out, &reason), -1);
    assert_string_equal(reason, "VIN must have 17 characters");
    assert_int_equal(jp_vin_check_digit("1M8GDM9AXKP04278O"), 0);
}

static void
test_dates(void **state)
{
    (void)state;
    int64_t d;
    const char *reason;
    assert_int_equal(date("1970-01-01", &d, &reason), 0);
    assert_int_equal(d, 0);
    assert_int_equal(date("2024-02-29", &d, &reason), 0);
    assert_int_equal(d, 19782);
    assert_int_equal(date("1900-01-01", &d, &reason), 0);
    assert_int_equal(d, -25567);
    assert_int_equal(date("2000-02-29", &d, &reason), 0);

    assert_int_equal(date("2023-02-29", &d, &reason), -1);
    assert_string_equal(reason, "day does not exist in that month");
    assert_int_equal(date("1900-02-29", &d, &reason), -1); /* not a leap year */
    assert_string_equal(reason, "day does not exist in that month");
    assert_int_equal(date("2024-04-31", &d, &reason), -1);
    assert_string_equal(reason, "day does not exist in that month");
    assert_int_equal(date("2024-13-01", &d, &reason), -1);
    assert_string_equal(reason, "month must be between 01 and 12");
    assert_int_equal(date("2024-00-10", &d, &reason), -1);
    assert_string_equal(reason, "month must be between 01 and 12");
    assert_int_equal(date("1899-12-31", &d, &reason), -1);
    assert_string_equal(reason, "year must be between 1900 and 9999");
    const char *forms[] = {"2024-2-29",  "2024/02/29", "20240229",        "2024-02-29 ",
                           "2024-02-2x", "",           "2024-02-29T00:00"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (date(forms[i], &d, &reason) != -1)
            fail_msg("date form %zu accepted", i);
        assert_string_equal(reason, "date must be YYYY-MM-DD");
    }

    /* Format and parse agree on every day from 1900 to 2200. */
    char text[11];
    for (int64_t day = -25567; day < 84006; day++) {
        jp_format_date(day, text);
        int64_t back;
        if (date(text, &back, &reason) != 0 || back != day)
            fail_msg("day %lld formats as %s", (long long)day, text);
    }
    jp_format_date(19782, text);
    assert_string_equal(text, "2024-02-29");
}

static void
test_instants_shanghai(void **state)
{
    (void)state;
    assert_int_equal(jp_tz_set("Asia/Shanghai"), 0);
    int64_t ms;
    const char *reason;
    const int64_t want = 1709280000000; /* 2024-03-01T08:00:00Z */
    const char *same[] = {
        "2024-03-01T08:00:00Z",      "2024-03-01T08:00Z",       "2024-03-01 08:00:00z",
        "2024-03-01T16:00:00+08:00", "2024-03-01T16:00+0800",   "2024-03-01T16:00:00+08",
        "2024-03-01T03:00:00-05:00", "2024-03-01T03:00-0500",   "2024-03-01T16:00:00",
        "2024-03-01 16:00",          "2024-03-01T16:00:00.000", "2024-03-01T13:30+05:30",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        if (instant(same[i], &ms, &reason) != 0)
            fail_msg("instant form %zu refused: %s", i, reason);
        if (ms != want)
            fail_msg("instant form %zu: %lld", i, (long long)ms);
    }
    /* Milliseconds; more digits are truncated to the millisecond. */
    assert_int_equal(instant("2024-03-01T08:00:00.123Z", &ms, &reason), 0);
    assert_int_equal(ms, want + 123);
    assert_int_equal(instant("2024-03-01T08:00:00.5Z", &ms, &reason), 0);
    assert_int_equal(ms, want + 500);
    assert_int_equal(instant("2024-03-01T08:00:00.123987Z", &ms, &reason), 0);
    assert_int_equal(ms, want + 123);
    assert_int_equal(instant("2024-03-01T16:00:00.999999999", &ms, &reason), 0);
    assert_int_equal(ms, want + 999);
    assert_int_equal(instant("2024-03-01T08:00:00.1234567891Z", &ms, &reason), -1);
    assert_string_equal(reason, "fractional seconds may have at most 9 digits");
    /* Before 1970 the milliseconds still count forward. */
    assert_int_equal(instant("1969-12-31T23:59:59.500Z", &ms, &reason), 0);
    assert_int_equal(ms, -500);

    /* A bare date is local midnight: 2024-02-29T16:00Z. */
    assert_int_equal(instant("2024-03-01", &ms, &reason), 0);
    assert_int_equal(ms, 1709222400000);
    /* As of a date: the last millisecond of that local day. */
    assert_int_equal(asof("2024-03-01", &ms, &reason), 0);
    assert_int_equal(ms, 1709308799999);
    assert_int_equal(asof("2024-03-01T16:00:00+08:00", &ms, &reason), 0);
    assert_int_equal(ms, want);
    assert_int_equal(asof("2024-03-32", &ms, &reason), -1);
    assert_string_equal(reason, "day does not exist in that month");

    /* Refusals. */
    struct {
        const char *in;
        const char *reason;
    } bad[] = {
        {"2024-03-01T24:00", "hour must be between 00 and 23"},
        {"2024-03-01T23:60", "minute must be between 00 and 59"},
        {"2024-03-01T23:59:60", "second must be between 00 and 59"},
        {"2024-03-01T16:00+15:00", "time zone offset must be between -14:00 and +14:00"},
        {"2024-03-01T16:00+08:60", "time zone offset must be between -14:00 and +14:00"},
        {"2024-03-01T16:00+8", "time zone offset must be Z, +HH:MM, +HHMM or -HH:MM"},
        {"2024-03-01T16:00+08:0", "time zone offset must be Z, +HH:MM, +HHMM or -HH:MM"},
        {"2024-02-30T16:00", "day does not exist in that month"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (instant(bad[i].in, &ms, &reason) != -1)
            fail_msg("instant case %zu accepted", i);
        assert_string_equal(reason, bad[i].reason);
    }
    const char *forms[] = {"2024-03-01T",
                           "2024-03-01T16",
                           "2024-03-01T16:0",
                           "2024-03-01T16:00:",
                           "2024-03-01T16:00:0",
                           "2024-03-01T16:00:00.",
                           "2024-03-01X16:00",
                           "2024-03-01T16:00ZZ",
                           "2024-03-01T16:00 ",
                           "",
                           "2024"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (instant(forms[i], &ms, &reason) != -1)
            fail_msg("instant form %zu accepted", i);
        assert_non_null(reason);
    }

    /* Formatting and the local day follow the zone. */
    char text[17];
    jp_format_instant(want, text);
    assert_string_equal(text, "2024-03-01 16:00");
    jp_format_instant(1709308799999, text);
    assert_string_equal(text, "2024-03-01 23:59");
    assert_int_equal(jp_local_day(1709308799999), 19783);     /* 2024-03-01 */
    assert_int_equal(jp_local_day(1709308799999 + 1), 19784); /* 2024-03-02 */
    assert_int_equal(jp_local_day(-1), 0); /* 1970-01-01 07:59:59.999 local */
}

static void
test_instants_dst_and_utc(void **state)
{
    (void)state;
    int64_t ms;
    const char *reason;
    assert_int_equal(jp_tz_set("America/New_York"), 0);
    /* Summer (EDT, -4) and winter (EST, -5) wall clocks. */
    assert_int_equal(instant("2024-07-01T12:00", &ms, &reason), 0);
    assert_int_equal(ms, 1719849600000);
    assert_int_equal(instant("2024-01-15 12:00:00", &ms, &reason), 0);
    assert_int_equal(ms, 1705338000000);
    /* An explicit offset does not depend on the zone. */
    assert_int_equal(instant("2024-03-01T08:00:00Z", &ms, &reason), 0);
    assert_int_equal(ms, 1709280000000);
    /* The as-of day on the spring-forward day still ends at 23:59:59.999 EDT. */
    assert_int_equal(asof("2024-03-10", &ms, &reason), 0);
    assert_int_equal(ms, 1710129599999); /* 2024-03-11T03:59:59.999Z */

    assert_int_equal(jp_tz_set("UTC"), 0);
    assert_int_equal(instant("2024-03-01 08:00", &ms, &reason), 0);
    assert_int_equal(ms, 1709280000000);
    assert_int_equal(jp_local_day(-1), -1);
    assert_int_equal(jp_local_day(0), 0);
    assert_int_equal(jp_local_day(-86400001), -2);

    /* Unknown zones are refused, and the previous zone stays. */
    assert_int_equal(jp_tz_set("Asia/Shangai"), JP_EINVAL);
    assert_int_equal(jp_tz_set(""), JP_EINVAL);
    assert_int_equal(jp_tz_set("Asia"), JP_EINVAL);
    assert_int_equal(jp_tz_set("../etc/passwd"), JP_EINVAL);
    assert_int_equal(instant("2024-03-01 08:00", &ms, &reason), 0);
    assert_int_equal(ms, 1709280000000);
}

static void
test_money(void **state)
{
    (void)state;
    int64_t fen;
    const char *reason;
    struct {
        const char *in;
        int64_t fen;
    } good[] = {
        {"12", 1200},
        {"12.5", 1250},
        {"12.34", 1234},
        {"0", 0},
        {"0.05", 5},
        {"007.10", 710},
        {"10000000000", 1000000000000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (money(good[i].in, &fen, &reason) != 0)
            fail_msg("money case %zu refused: %s", i, reason);
        assert_int_equal(fen, good[i].fen);
    }
    struct {
        const char *in;
        const char *reason;
    } bad[] = {
        {"12.345", "amount may have at most 2 decimals"},
        {"-1", "amount must not be negative"},
        {"", "amount is empty"},
        {"10000000000.01", "amount must be at most 10000000000.00 yuan"},
        {"99999999999999999999999", "amount must be at most 10000000000.00 yuan"},
        {"12.", "amount must be yuan with up to 2 decimals, like 1234.56"},
        {".5", "amount must be yuan with up to 2 decimals, like 1234.56"},
        {"+12", "amount must be yuan with up to 2 decimals, like 1234.56"},
        {"1e3", "amount must be yuan with up to 2 decimals, like 1234.56"},
        {"1,000", "amount must be yuan with up to 2 decimals, like 1234.56"},
        {"12.3a", "amount must be yuan with up to 2 decimals, like 1234.56"},
        {" 12", "amount must be yuan with up to 2 decimals, like 1234.56"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (money(bad[i].in, &fen, &reason) != -1)
            fail_msg("money case %zu accepted", i);
        assert_string_equal(reason, bad[i].reason);
    }

    char text[24];
    jp_format_money(1234, text);
    assert_string_equal(text, "12.34");
    jp_format_money(5, text);
    assert_string_equal(text, "0.05");
    jp_format_money(-150, text);
    assert_string_equal(text, "-1.50");
    jp_format_money(INT64_MIN, text);
    assert_string_equal(text, "-92233720368547758.08");
    /* Parse and format agree. */
    for (int64_t f = 0; f < 100000; f += 37) {
        jp_format_money(f, text);
        assert_int_equal(money(text, &fen, &reason), 0);
        assert_int_equal(fen, f);
    }
}

static void
test_int(void **state)
{
    (void)state;
    int64_t v;
    const char *reason;
    assert_int_equal(integer("42", 1, 100, &v, &reason), 0);
    assert_int_equal(v, 42);
    assert_int_equal(integer("-5", -10, 10, &v, &reason), 0);
    assert_int_equal(v, -5);
    assert_int_equal(integer("-9223372036854775808", INT64_MIN, INT64_MAX, &v, &reason),
                     0);
    assert_true(v == INT64_MIN);
    assert_int_equal(integer("9223372036854775807", INT64_MIN, INT64_MAX, &v, &reason),
                     0);
    assert_true(v == INT64_MAX);

    assert_int_equal(integer("0", 1, 5, &v, &reason), -1);
    assert_string_equal(reason, "must be between 1 and 5");
    assert_int_equal(integer("6", 1, 5, &v, &reason), -1);
    assert_string_equal(reason, "must be between 1 and 5");
    assert_int_equal(integer("-11", -10, 10, &v, &reason), -1);
    assert_string_equal(reason, "must be between -10 and 10");
    assert_int_equal(integer("9223372036854775808", INT64_MIN, INT64_MAX, &v, &reason),
                     -1);
    assert_string_equal(reason,
                        "must be between -9223372036854775808 and 9223372036854775807");
    assert_int_equal(integer("99999999999999999999999", 0, 10, &v, &reason), -1);
    assert_string_equal(reason, "must be between 0 and 10");
    assert_int_equal(integer("", 0, 10, &v, &reason), -1);
    assert_string_equal(reason, "number is empty");
    const char *forms[] = {"-", "+5", "5a", "1.0", " 5", "--5"};
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        if (integer(forms[i], -10, 10, &v, &reason) != -1)
            fail_msg("int form %zu accepted", i);
        assert_string_equal(reason, "must be a whole number");
    }
}

/* Text fields and user names: no C0 control, DEL or C1 control; the note
 * keeps its line breaks and tabs. */
static void
test_text(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(jp_text_check("张三 Zhang", 11, false, &why), 0);
    assert_int_equal(jp_text_check("", 0, false, &why), 0);
    assert_int_equal(jp_text_check("a\x1b[2J", 5, false, &why), -1);
    assert_string_equal(why, "has a control character (U+001B) at byte 2");
    assert_int_equal(jp_text_check("ab\0c", 4, false, &why), -1);
    assert_string_equal(why, "has a control character (U+0000) at byte 3");
    assert_int_equal(jp_text_check("\x07", 1, true, &why), -1);
    assert_int_equal(jp_text_check("x\x7f", 2, false, &why), -1);
    assert_int_equal(jp_text_check("x\xc2\x9b", 3, false, &why), -1);
    assert_string_equal(why, "has a control character (U+009B) at byte 2");
    assert_int_equal(jp_text_check("\xc2\xa0", 2, false, &why), 0); /* U+00A0 is text */
    assert_int_equal(jp_text_check("two\r\nlines\t.", 12, false, &why), -1);
    assert_int_equal(jp_text_check("two\r\nlines\t.", 12, true, &why), 0);
    assert_int_equal(jp_text_check("\xff", 1, false, &why), -1);
    assert_string_equal(why, "is not valid UTF-8");

    /* On screen: controls as '?', a NUL no longer cuts the text, a cut
     * keeps whole characters. */
    char out[16];
    jp_text_show("a\x1b[2J\0b\xc2\x9b\n", 10, out, sizeof out);
    assert_string_equal(out, "a?[2J?b??");
    jp_text_show("\xe5\xbc\xa0\xe4\xb8\x89", 6, out, 6);
    assert_string_equal(out, "\xe5\xbc\xa0");
    jp_text_show("ok", 2, out, sizeof out);
    assert_string_equal(out, "ok");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phone_good),
        cmocka_unit_test(test_phone_bad),
        cmocka_unit_test(test_phone_mask),
        cmocka_unit_test(test_idnum),
        cmocka_unit_test(test_vin),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_instants_shanghai),
        cmocka_unit_test(test_instants_dst_and_utc),
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
