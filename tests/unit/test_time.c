/* test_time.c - cmocka tests for mw_time: RFC 3339, epoch ms, durations */

/*
 * Table-driven: each valid timestamp has its expected UTC microsecond value
 * (cross-checked against Python's datetime), each invalid one must return -1
 * and leave the output untouched. jansson is routed through cmocka's
 * test_malloc/test_free so a leaked json_t fails the test.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_time.h"

#define SENTINEL INT64_C(0x5a5a5a5a5a5a5a5a)

/* ------------------------------------------------------------------------ */
/* Fixture: jansson allocations tracked by cmocka                           */
/* ------------------------------------------------------------------------ */

#include "cmocka_json.h"

static int teardown(void **state)
{
    (void)state;
    return 0;
}

static int parse(const char *s, mw_time_t *out)
{
    return mw_time_parse_rfc3339(s, strlen(s), out);
}

/* ------------------------------------------------------------------------ */
/* RFC 3339                                                                 */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *text;
    mw_time_t want;
} valid_cases[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"1970-01-01T00:00:00.000001Z", 1},
    {"2022-02-08T06:22:28.351Z", INT64_C(1644301348351000)},
    {"2022-02-08T06:22:28.351z", INT64_C(1644301348351000)},
    {"2022-02-08t06:22:28.351Z", INT64_C(1644301348351000)},
    {"2022-02-08 06:22:28.351Z", INT64_C(1644301348351000)},
    {"2022-02-08T06:22:28.351+00:00", INT64_C(1644301348351000)},
    {"2022-02-08T06:22:28.351-00:00", INT64_C(1644301348351000)},
    {"2022-02-08T06:22:28.351+0000", INT64_C(1644301348351000)},
    {"2022-02-08T06:22:28.351840Z", INT64_C(1644301348351840)},
    /* Azure: 7 digits, truncated (not rounded) to microseconds. */
    {"2022-02-08T06:22:28.3518405+00:00", INT64_C(1644301348351840)},
    {"2022-02-08T06:22:28.3518409Z", INT64_C(1644301348351840)},
    {"2022-02-08T06:22:28.351840999Z", INT64_C(1644301348351840)},
    {"2022-02-08T06:22:28.3Z", INT64_C(1644301348300000)},
    {"2022-02-08T06:22:28.35Z", INT64_C(1644301348350000)},
    {"2022-02-08T06:22:28Z", INT64_C(1644301348000000)},
    /* Offsets convert to UTC. */
    {"2022-02-08T08:22:28+02:00", INT64_C(1644301348000000)},
    {"2022-02-08T08:22:28+0200", INT64_C(1644301348000000)},
    {"2022-02-08T01:07:28+05:30", INT64_C(1644262648000000)},
    {"2021-12-31T19:00:00-05:00", INT64_C(1640995200000000)},
    {"2021-12-31T19:00:00-0500", INT64_C(1640995200000000)},
    {"2022-01-01T23:59:00+23:59", INT64_C(1640995200000000)},
    /* Leap years. */
    {"2024-02-29T00:00:00Z", INT64_C(1709164800000000)},
    {"2000-02-29T12:00:00Z", INT64_C(951825600000000)},
    {"1900-03-01T00:00:00Z", INT64_C(-2203891200000000)},
    /* Before the epoch. */
    {"1969-12-31T23:59:59.500Z", INT64_C(-500000)},
    {"1969-12-31T23:59:59.999999Z", -1},
    {"1969-07-20T20:17:40Z", INT64_C(-14182940000000)},
    /* Range ends. */
    {"0000-01-01T00:00:00Z", MW_TIME_MIN},
    {"0001-01-01T00:00:00Z", INT64_C(-62135596800000000)},
    {"9999-12-31T23:59:59.999999Z", MW_TIME_MAX},
    {"9999-12-31T23:59:59.9999999Z", MW_TIME_MAX},
    {"0000-01-01T01:00:00+01:00", MW_TIME_MIN},
    {"0000-02-29T00:00:00Z", MW_TIME_MIN + 59 * INT64_C(86400000000)},
};

static const char *const invalid_cases[] = {
    "",
    "2022",
    "2022-02-08",                      /* date only */
    "2022-02-08T06:22",                /* no seconds */
    "2022-02-08T06:22:28",             /* no zone */
    "2022-02-08T06:22:28.351",         /* no zone */
    "2022-02-08T06:22:28.Z",           /* empty fraction */
    "2022-02-08T06:22:28.1234567890Z", /* 10 fraction digits */
    "2022-02-08T06:22:28,351Z",        /* comma fraction */
    "2022-02-08X06:22:28Z",            /* bad separator */
    "2022-02-08T06:22:28ZZ",           /* trailing garbage */
    "2022-02-08T06:22:28Z ",
    " 2022-02-08T06:22:28Z",
    "2022-02-08T06:22:28+02:00x",
    "2022-02-08T06:22:28+02", /* short offset */
    "2022-02-08T06:22:28+2:00",
    "2022-02-08T06:22:28+02:0",
    "2022-02-08T06:22:28+24:00", /* offset hour */
    "2022-02-08T06:22:28+02:60", /* offset minute */
    "2022-02-08T06:22:28 +02:00",
    "2022-02-08T06:22:28UTC",
    "2022-02-08T06:22:60Z", /* leap second */
    "2016-12-31T23:59:60Z",
    "2022-02-08T24:00:00Z",
    "2022-02-08T06:60:00Z",
    "2022-00-08T06:22:28Z",
    "2022-13-08T06:22:28Z",
    "2022-02-00T06:22:28Z",
    "2022-01-32T06:22:28Z",
    "2022-04-31T06:22:28Z",
    "2023-02-29T00:00:00Z", /* not a leap year */
    "1900-02-29T00:00:00Z", /* century, not leap */
    "2024-02-30T00:00:00Z",
    "22-02-08T06:22:28Z",
    "+2022-02-08T06:22:28Z",
    "-0001-01-01T00:00:00Z",
    "12022-02-08T06:22:28Z",
    "2022-2-08T06:22:28Z",
    "2022-02-8T06:22:28Z",
    "2022-02-08T6:22:28Z",
    "2022/02/08T06:22:28Z",
    "2022-02-08T06-22-28Z",
    "2022-02-08T06:22:28.-1Z",
    "0000-01-01T00:00:00+00:01", /* UTC before year 0 */
    "9999-12-31T23:59:59-00:01", /* UTC after year 9999 */
    "1644301348351",
};

static void test_parse_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        mw_time_t t = SENTINEL;
        int rc = parse(valid_cases[i].text, &t);
        if (rc != 0 || t != valid_cases[i].want)
            print_error("case %zu: %s\n", i, valid_cases[i].text);
        assert_int_equal(rc, 0);
        assert_int_equal(t, valid_cases[i].want);
    }
}

static void test_parse_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof invalid_cases / sizeof invalid_cases[0]; i++) {
        mw_time_t t = SENTINEL;
        int rc = parse(invalid_cases[i], &t);
        if (rc != -1)
            print_error("case %zu accepted: \"%s\"\n", i, invalid_cases[i]);
        assert_int_equal(rc, -1);
        assert_int_equal(t, SENTINEL); /* untouched on error */
    }
}

static void test_parse_len_is_authoritative(void **state)
{
    static const char embedded[] = "2022-02-08T06:22:28Z\0junk";
    static const char nul_inside[] = "2022-02-08T06:22\0:28Z";
    /* Not NUL-terminated: the zone is followed by more bytes we don't pass. */
    static const char prefix[] = "2022-02-08T06:22:28Z2022";
    mw_time_t t = SENTINEL;

    (void)state;
    assert_int_equal(mw_time_parse_rfc3339(embedded, sizeof embedded - 1, &t), -1);
    assert_int_equal(mw_time_parse_rfc3339(embedded, 21, &t), -1);
    assert_int_equal(mw_time_parse_rfc3339(nul_inside, sizeof nul_inside - 1, &t), -1);
    assert_int_equal(t, SENTINEL);

    assert_int_equal(mw_time_parse_rfc3339(embedded, 20, &t), 0);
    assert_int_equal(t, INT64_C(1644301348000000));
    t = SENTINEL;
    assert_int_equal(mw_time_parse_rfc3339(prefix, 20, &t), 0);
    assert_int_equal(t, INT64_C(1644301348000000));

    /* Every proper prefix of a valid string is invalid. */
    {
        static const char full[] = "2022-02-08T06:22:28.3518405+00:00";
        for (size_t n = 0; n < sizeof full - 1; n++) {
            t = SENTINEL;
            assert_int_equal(mw_time_parse_rfc3339(full, n, &t), -1);
        }
    }
}

static void test_parse_null_args(void **state)
{
    mw_time_t t = SENTINEL;

    (void)state;
    assert_int_equal(mw_time_parse_rfc3339(NULL, 0, &t), -1);
    assert_int_equal(mw_time_parse_rfc3339(NULL, 20, &t), -1);
    assert_int_equal(mw_time_parse_rfc3339("2022-02-08T06:22:28Z", 20, NULL), -1);
    assert_int_equal(t, SENTINEL);
}

/* Every day of 0000..9999 agrees with a naive day counter. */
static void test_parse_every_day(void **state)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t day_index = 0;

    (void)state;
    for (int y = 0; y <= 9999; y++) {
        int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        for (int m = 1; m <= 12; m++) {
            int n = mdays[m - 1] + (m == 2 && leap);
            for (int d = 1; d <= n; d++, day_index++) {
                /* Sample every day of a few years, else one day a month. */
                if (d == 1 || y == 1969 || y == 1970 || y == 2000 || y == 2100) {
                    char text[64];
                    mw_time_t t = SENTINEL;
                    snprintf(text, sizeof text, "%04d-%02d-%02dT00:00:00Z", y, m, d);
                    assert_int_equal(parse(text, &t), 0);
                    assert_int_equal(t, MW_TIME_MIN + day_index * INT64_C(86400000000));
                }
            }
            /* Day after the last is always rejected. */
            {
                char text[64];
                mw_time_t t;
                snprintf(text, sizeof text, "%04d-%02d-%02dT00:00:00Z", y, m, n + 1);
                assert_int_equal(parse(text, &t), -1);
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Epoch milliseconds and JSON                                              */
/* ------------------------------------------------------------------------ */

static void test_epoch_ms(void **state)
{
    mw_time_t t = SENTINEL;

    (void)state;
    assert_int_equal(mw_time_from_epoch_ms(0.0, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(mw_time_from_epoch_ms(1644301348351.0, &t), 0);
    assert_int_equal(t, INT64_C(1644301348351000));
    assert_int_equal(mw_time_from_epoch_ms(1644301348351.5, &t), 0);
    assert_int_equal(t, INT64_C(1644301348351500));
    assert_int_equal(mw_time_from_epoch_ms(1.001, &t), 0); /* 1000.9999... */
    assert_int_equal(t, 1001);
    assert_int_equal(mw_time_from_epoch_ms(0.0004, &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(mw_time_from_epoch_ms(0.0006, &t), 0);
    assert_int_equal(t, 1);
    assert_int_equal(mw_time_from_epoch_ms(-0.0006, &t), 0);
    assert_int_equal(t, -1);
    assert_int_equal(mw_time_from_epoch_ms(-500.0, &t), 0);
    assert_int_equal(t, -500000);
    assert_int_equal(mw_time_from_epoch_ms(-14182940000000.0, &t), 0);
    assert_int_equal(t, INT64_C(-14182940000000000));
    assert_int_equal(mw_time_from_epoch_ms(-62167219200000.0, &t), 0);
    assert_int_equal(t, MW_TIME_MIN);
    assert_int_equal(mw_time_from_epoch_ms(253402300799999.0, &t), 0);
    assert_int_equal(t, MW_TIME_MAX - 999);
    assert_int_equal(mw_time_from_epoch_ms(253402300799999.5, &t), 0);
    assert_int_equal(t, MW_TIME_MAX - 499);
    assert_int_equal(mw_time_from_epoch_ms(-62167219199999.5, &t), 0);
    assert_int_equal(t, MW_TIME_MIN + 500);
    /* Whole milliseconds stay exact across the whole range. */
    for (int64_t ms = MW_TIME_MIN / 1000; ms <= MW_TIME_MAX / 1000;
         ms += INT64_C(3999999999937)) {
        assert_int_equal(mw_time_from_epoch_ms((double)ms, &t), 0);
        assert_int_equal(t, ms * 1000);
    }
}

static void test_epoch_ms_invalid(void **state)
{
    static const double bad[] = {
        NAN,
        -NAN,
        INFINITY,
        -INFINITY,
        -62167219200000.5, /* just before year 0 */
        -62167219201000.0,
        253402300800000.0, /* year 10000 */
        1e300,
        -1e300,
        9.3e15,
        -9.3e15,
        1e19,
    };
    mw_time_t t = SENTINEL;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(mw_time_from_epoch_ms(bad[i], &t), -1);
        assert_int_equal(t, SENTINEL);
    }
    assert_int_equal(mw_time_from_epoch_ms(0.0, NULL), -1);
}

static void test_from_json(void **state)
{
    mw_time_t t = SENTINEL;
    json_t *v;

    (void)state;
    v = json_string("2022-02-08T06:22:28.3518405+00:00");
    assert_int_equal(mw_time_from_json(v, &t), 0);
    assert_int_equal(t, INT64_C(1644301348351840));
    assert_int_equal(v->refcount, 1); /* borrowed, untouched */
    json_decref(v);

    v = json_integer(1644301348351);
    assert_int_equal(mw_time_from_json(v, &t), 0);
    assert_int_equal(t, INT64_C(1644301348351000));
    json_decref(v);

    v = json_integer(-1);
    assert_int_equal(mw_time_from_json(v, &t), 0);
    assert_int_equal(t, -1000);
    json_decref(v);

    v = json_real(1644301348351.25);
    assert_int_equal(mw_time_from_json(v, &t), 0);
    assert_int_equal(t, INT64_C(1644301348351250));
    json_decref(v);

    /* A string with an embedded NUL: jansson keeps the length. */
    v = json_stringn("2022-02-08T06:22:28Z\0", 21);
    t = SENTINEL;
    assert_int_equal(mw_time_from_json(v, &t), -1);
    assert_int_equal(t, SENTINEL);
    json_decref(v);
}

static void test_from_json_invalid(void **state)
{
    mw_time_t t = SENTINEL;
    json_t *bad[] = {
        json_null(),
        json_true(),
        json_false(),
        json_object(),
        json_array(),
        json_string(""),
        json_string("2022-02-08"),
        json_string("1644301348351"),
        json_integer(253402300800000), /* year 10000 */
        json_integer(-62167219200001), /* before year 0 */
        json_integer(INT64_MAX),
        json_integer(INT64_MIN),
        json_real(1e300),
    };

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_non_null(bad[i]);
        assert_int_equal(mw_time_from_json(bad[i], &t), -1);
        assert_int_equal(t, SENTINEL);
        json_decref(bad[i]);
    }
    assert_int_equal(mw_time_from_json(NULL, &t), -1);
    {
        json_t *v = json_integer(0);
        assert_int_equal(mw_time_from_json(v, NULL), -1);
        json_decref(v);
    }
}

/* ------------------------------------------------------------------------ */
/* Formatting                                                               */
/* ------------------------------------------------------------------------ */

static void check_format(mw_time_t t, const char *want)
{
    char buf[MW_TIME_FORMAT_SIZE];
    mw_time_t back = SENTINEL;
    int n = mw_time_format(t, buf, sizeof buf);

    assert_int_equal(n, (int)strlen(want));
    assert_string_equal(buf, want);
    /* Round trip. */
    assert_int_equal(parse(buf, &back), 0);
    assert_int_equal(back, t);
}

static void test_format(void **state)
{
    (void)state;
    check_format(0, "1970-01-01T00:00:00.000Z");
    check_format(INT64_C(1644301348351000), "2022-02-08T06:22:28.351Z");
    check_format(INT64_C(1644301348351840), "2022-02-08T06:22:28.351840Z");
    check_format(INT64_C(1644301348000001), "2022-02-08T06:22:28.000001Z");
    check_format(INT64_C(1709164800000000), "2024-02-29T00:00:00.000Z");
    check_format(-1, "1969-12-31T23:59:59.999999Z");
    check_format(-500000, "1969-12-31T23:59:59.500Z");
    check_format(INT64_C(-14182940000000), "1969-07-20T20:17:40.000Z");
    check_format(MW_TIME_MIN, "0000-01-01T00:00:00.000Z");
    check_format(MW_TIME_MAX, "9999-12-31T23:59:59.999999Z");
    check_format(MW_TIME_MAX - 999, "9999-12-31T23:59:59.999Z");
}

static void test_format_round_trip(void **state)
{
    /* Parse -> format -> parse over the valid table. */
    (void)state;
    for (size_t i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
        char buf[MW_TIME_FORMAT_SIZE];
        mw_time_t t, back;
        assert_int_equal(parse(valid_cases[i].text, &t), 0);
        assert_true(mw_time_format(t, buf, sizeof buf) > 0);
        assert_int_equal(parse(buf, &back), 0);
        assert_int_equal(back, t);
    }
    /* Format -> parse over a spread of values, including odd microseconds. */
    for (mw_time_t t = MW_TIME_MIN; t <= MW_TIME_MAX - INT64_C(7777777777777);
         t += INT64_C(7777777777777)) {
        char buf[MW_TIME_FORMAT_SIZE];
        mw_time_t back = SENTINEL;
        int n = mw_time_format(t, buf, sizeof buf);
        assert_int_equal(n, t % 1000 == 0 ? 24 : 27);
        assert_int_equal(n, (int)strlen(buf));
        assert_int_equal(parse(buf, &back), 0);
        assert_int_equal(back, t);
    }
}

static void test_format_errors(void **state)
{
    char buf[MW_TIME_FORMAT_SIZE];

    (void)state;
    memset(buf, 'x', sizeof buf);
    assert_int_equal(mw_time_format(MW_TIME_MIN - 1, buf, sizeof buf), -1);
    assert_string_equal(buf, "");
    assert_int_equal(mw_time_format(MW_TIME_MAX + 1, buf, sizeof buf), -1);
    assert_int_equal(mw_time_format(INT64_MIN, buf, sizeof buf), -1);
    assert_int_equal(mw_time_format(INT64_MAX, buf, sizeof buf), -1);
    assert_int_equal(mw_time_format(0, NULL, 64), -1);
    assert_int_equal(mw_time_format(0, buf, 0), -1);

    /* "1970-01-01T00:00:00.000Z" is 24 bytes: needs 25. */
    memset(buf, 'x', sizeof buf);
    assert_int_equal(mw_time_format(0, buf, 24), -1);
    assert_string_equal(buf, "");
    assert_int_equal(mw_time_format(0, buf, 25), 24);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    /* 6-digit form is 27 bytes: needs 28. */
    assert_int_equal(mw_time_format(1, buf, 27), -1);
    assert_int_equal(mw_time_format(1, buf, 28), 27);
}

/* ------------------------------------------------------------------------ */
/* Durations                                                                */
/* ------------------------------------------------------------------------ */

static void test_duration_parse(void **state)
{
    static const struct {
        const char *text;
        mw_time_t want;
    } cases[] = {
        {"0s", 0},
        {"0us", 0},
        {"1us", 1},
        {"750us", 750},
        {"1ms", 1000},
        {"500ms", 500000},
        {"1s", 1000000},
        {"45s", 45000000},
        {"1m", 60000000},
        {"30m", INT64_C(1800000000)},
        {"1h", INT64_C(3600000000)},
        {"24h", INT64_C(86400000000)},
        {"1d", INT64_C(86400000000)},
        {"7d", INT64_C(604800000000)},
        {"007s", 7000000},
        {"9223372036854775807us", INT64_MAX},
        {"9223372036854775ms", INT64_C(9223372036854775000)},
        {"106751991d", INT64_C(106751991) * INT64_C(86400000000)},
        {"2562047788h", INT64_C(2562047788) * INT64_C(3600000000)},
        {"153722867280m", INT64_C(153722867280) * INT64_C(60000000)},
        {"9223372036854s", INT64_C(9223372036854000000)},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mw_time_t d = SENTINEL;
        if (mw_duration_parse(cases[i].text, &d) != 0 || d != cases[i].want)
            print_error("case %zu: %s\n", i, cases[i].text);
        assert_int_equal(mw_duration_parse(cases[i].text, &d), 0);
        assert_int_equal(d, cases[i].want);
    }
}

static void test_duration_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "s",
        "ms",
        "10",
        "10x",
        "10S",
        "10M",
        "10sec",
        "10 s",
        " 10s",
        "10s ",
        "+10s",
        "-10s",
        "1.5s",
        "1e3ms",
        "1h30m",
        "10ss",
        "10mss",
        "10u",
        "10ns",
        "0x10s",
        "10d\n",
        "9223372036854775808us",  /* INT64_MAX + 1 */
        "99999999999999999999us", /* digits overflow */
        "9223372036854776ms",     /* multiply overflow */
        "106751992d",             /* INT64_MAX is 106751991d4h0m54s */
        "2562047789h",
        "153722867281m",
        "9223372036855s",
    };
    mw_time_t d = SENTINEL;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (mw_duration_parse(bad[i], &d) != -1)
            print_error("case %zu accepted: \"%s\"\n", i, bad[i]);
        assert_int_equal(mw_duration_parse(bad[i], &d), -1);
        assert_int_equal(d, SENTINEL);
    }
    assert_int_equal(mw_duration_parse(NULL, &d), -1);
    assert_int_equal(mw_duration_parse("1s", NULL), -1);
}

static void test_duration_format(void **state)
{
    static const struct {
        mw_time_t d;
        const char *want;
    } cases[] = {
        {0, "0s"},
        {1, "1us"},
        {500, "500us"},
        {1500, "1500us"},
        {1000, "1ms"},
        {250000, "250ms"},
        {999000, "999ms"},
        {1000000, "1s"},
        {1500000, "1.5s"},
        {1250000, "1.25s"},
        {1005000, "1.005s"},
        {1000500, "1s"}, /* sub-millisecond part truncated */
        {35000000, "35s"},
        {59999000, "59.999s"},
        {60000000, "1m"},
        {61500000, "1m1s"}, /* sub-second part dropped from 1 minute */
        {INT64_C(252000000), "4m12s"},
        {INT64_C(3600000000), "1h"},
        {INT64_C(3720000000), "1h2m"},
        {INT64_C(3605000000), "1h0m5s"},
        {INT64_C(3723000000), "1h2m3s"},
        {INT64_C(86400000000), "1d"},
        {INT64_C(183600000000), "2d3h"},
        {INT64_C(172805000000), "2d0h0m5s"},
        {-1500000, "-1.5s"},
        {-250000, "-250ms"},
        {-7, "-7us"},
        {INT64_C(-252000000), "-4m12s"},
        {INT64_MAX, "106751991d4h0m54s"},
        {INT64_MIN, "-106751991d4h0m54s"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[MW_DURATION_FORMAT_SIZE];
        int n = mw_duration_format(cases[i].d, buf, sizeof buf);
        if (n < 0 || strcmp(buf, cases[i].want) != 0)
            print_error("case %zu: got \"%s\"\n", i, buf);
        assert_int_equal(n, (int)strlen(cases[i].want));
        assert_string_equal(buf, cases[i].want);
    }
}

static void test_duration_format_errors(void **state)
{
    char buf[8];

    (void)state;
    assert_int_equal(mw_duration_format(0, NULL, 8), -1);
    assert_int_equal(mw_duration_format(0, buf, 0), -1);
    memset(buf, 'x', sizeof buf);
    assert_int_equal(mw_duration_format(0, buf, 2), -1); /* "0s" needs 3 */
    assert_string_equal(buf, "");
    assert_int_equal(mw_duration_format(0, buf, 3), 2);
    assert_string_equal(buf, "0s");
    assert_int_equal(mw_duration_format(INT64_C(3723000000), buf, 6), -1);
    assert_int_equal(mw_duration_format(INT64_C(3723000000), buf, 7), 6);
    assert_string_equal(buf, "1h2m3s");
}

/* Single-unit strings from the parser format back to the same value. */
static void test_duration_parse_format(void **state)
{
    static const char *const texts[] = {
        "0s", "1us", "500us", "250ms", "35s", "1m", "30m", "1h", "1d",
    };

    (void)state;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char buf[MW_DURATION_FORMAT_SIZE];
        mw_time_t d;
        assert_int_equal(mw_duration_parse(texts[i], &d), 0);
        assert_true(mw_duration_format(d, buf, sizeof buf) > 0);
        assert_string_equal(buf, texts[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_len_is_authoritative, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_null_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_every_day, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_ms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_ms_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_json_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_parse_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_format_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duration_parse_format, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
