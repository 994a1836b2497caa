/* mw_time.c - RFC 3339 / epoch-ms parsing and formatting of event times */

/*
 * Design. A time is an int64_t count of microseconds since the Unix epoch in
 * UTC (mw_time_t); durations use the same type. Calendar conversion is done
 * here with Howard Hinnant's days_from_civil / civil_from_days algorithms on
 * the proleptic Gregorian calendar, never with timegm(), mktime(), gmtime()
 * or anything locale- or TZ-dependent, so results do not depend on the
 * process environment and are the same on every host.
 *
 * Invariant: every mw_time_t this module hands out lies in
 * [MW_TIME_MIN, MW_TIME_MAX] (UTC years 0000..9999). Parsers enforce it, so
 * mw_time_format() can always print what they produced, and all intermediate
 * arithmetic stays far away from int64_t overflow (|t| < 2^58).
 *
 * Parsers are strict: input is accepted only if it matches the documented
 * grammar byte for byte; anything else (trailing bytes, embedded NUL, missing
 * zone, leap seconds) is an error, and on error the output is left untouched.
 */

#include "mw_time.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Constants                                                                */
/* ------------------------------------------------------------------------ */

#define US_PER_MS INT64_C(1000)
#define US_PER_SEC INT64_C(1000000)
#define US_PER_MIN (60 * US_PER_SEC)
#define US_PER_HOUR (60 * US_PER_MIN)
#define US_PER_DAY (24 * US_PER_HOUR)

/* Epoch-millisecond bounds matching MW_TIME_MIN / MW_TIME_MAX. */
#define MS_MIN (MW_TIME_MIN / US_PER_MS)
#define MS_MAX (MW_TIME_MAX / US_PER_MS)

/* ------------------------------------------------------------------------ */
/* Calendar arithmetic (proleptic Gregorian, no libc)                      */
/* ------------------------------------------------------------------------ */

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return mdays[m - 1];
}

/* Days since 1970-01-01 of the civil date y-m-d (m 1..12, d 1..31). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;                                   /* [0, 399] */
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil(). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;                                      /* [0, 146096] */
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int in_range(int64_t t)
{
    return t >= MW_TIME_MIN && t <= MW_TIME_MAX;
}

/* ------------------------------------------------------------------------ */
/* RFC 3339 parsing                                                         */
/* ------------------------------------------------------------------------ */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Read exactly `n` decimal digits at s[*pos] (bounded by len) into *v and
 * advance *pos. Returns 0, or -1 if fewer than n digits are there.
 */
static int read_digits(const char *s, size_t len, size_t *pos, int n, int *v)
{
    int acc = 0;

    if (len - *pos < (size_t)n)
        return -1;
    for (int i = 0; i < n; i++) {
        char c = s[*pos + (size_t)i];
        if (!is_digit(c))
            return -1;
        acc = acc * 10 + (c - '0');
    }
    *pos += (size_t)n;
    *v = acc;
    return 0;
}

/* Consume the single byte `c` at s[*pos]. Returns 0, or -1 if absent. */
static int expect(const char *s, size_t len, size_t *pos, char c)
{
    if (*pos >= len || s[*pos] != c)
        return -1;
    (*pos)++;
    return 0;
}

int mw_time_parse_rfc3339(const char *s, size_t len, mw_time_t *out)
{
    size_t pos = 0;
    int year, mon, day, hour, min, sec;
    int64_t frac_us = 0;
    int64_t offset_us = 0;
    int64_t t;

    if (s == NULL || out == NULL)
        return -1;

    /* Date: YYYY-MM-DD */
    if (read_digits(s, len, &pos, 4, &year) < 0 || expect(s, len, &pos, '-') < 0 ||
        read_digits(s, len, &pos, 2, &mon) < 0 || expect(s, len, &pos, '-') < 0 ||
        read_digits(s, len, &pos, 2, &day) < 0)
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
        return -1;

    /* Separator: 'T', 't' or ' ' (RFC 3339 section 5.6 note). */
    if (pos >= len || (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' '))
        return -1;
    pos++;

    /* Time: HH:MM:SS, no leap second. */
    if (read_digits(s, len, &pos, 2, &hour) < 0 || expect(s, len, &pos, ':') < 0 ||
        read_digits(s, len, &pos, 2, &min) < 0 || expect(s, len, &pos, ':') < 0 ||
        read_digits(s, len, &pos, 2, &sec) < 0)
        return -1;
    if (hour > 23 || min > 59 || sec > 59)
        return -1;

    /* Fraction: '.' then 1..9 digits; keep the first 6 (truncate). */
    if (pos < len && s[pos] == '.') {
        int ndigits = 0;
        pos++;
        while (pos < len && is_digit(s[pos])) {
            if (ndigits < 6)
                frac_us = frac_us * 10 + (s[pos] - '0');
            ndigits++;
            pos++;
        }
        if (ndigits < 1 || ndigits > 9)
            return -1;
        for (int i = ndigits; i < 6; i++)
            frac_us *= 10;
    }

    /* Zone: Z, z, +HH:MM, -HH:MM, +HHMM or -HHMM. */
    if (pos >= len)
        return -1; /* missing zone: local time is ambiguous */
    if (s[pos] == 'Z' || s[pos] == 'z') {
        pos++;
    } else if (s[pos] == '+' || s[pos] == '-') {
        int sign = s[pos] == '-' ? -1 : 1;
        int oh, om;
        pos++;
        if (read_digits(s, len, &pos, 2, &oh) < 0)
            return -1;
        if (pos < len && s[pos] == ':')
            pos++;
        if (read_digits(s, len, &pos, 2, &om) < 0)
            return -1;
        if (oh > 23 || om > 59)
            return -1;
        offset_us = sign * ((int64_t)oh * US_PER_HOUR + (int64_t)om * US_PER_MIN);
    } else {
        return -1;
    }
    if (pos != len)
        return -1; /* trailing bytes, including an embedded NUL */

    /* local = UTC + offset, so UTC = local - offset. */
    t = days_from_civil(year, mon, day) * US_PER_DAY + (int64_t)hour * US_PER_HOUR +
        (int64_t)min * US_PER_MIN + (int64_t)sec * US_PER_SEC + frac_us - offset_us;
    if (!in_range(t))
        return -1;
    *out = t;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Epoch milliseconds and JSON                                              */
/* ------------------------------------------------------------------------ */

/* Round a double in (-2^62, 2^62) half away from zero, without libm. */
static int64_t round_to_int(double x)
{
    int64_t i = (int64_t)x;     /* truncates toward zero */
    double rem = x - (double)i; /* exact: the fractional part of x */

    if (rem >= 0.5)
        i++;
    else if (rem <= -0.5)
        i--;
    return i;
}

int mw_time_from_epoch_ms(double ms, mw_time_t *out)
{
    int64_t whole;
    double frac;
    int64_t t;

    if (out == NULL || !isfinite(ms))
        return -1;
    /* Coarse bound first so the conversions to int64_t are defined. */
    if (ms < (double)MS_MIN - 1.0 || ms > (double)MS_MAX + 1.0)
        return -1;
    /*
     * Scale the whole and fractional milliseconds apart: ms * 1000.0 would
     * need up to 58 significant bits near year 9999 and lose microseconds,
     * whereas both parts here are exact and only the fraction is rounded.
     */
    whole = (int64_t)ms;
    frac = ms - (double)whole;
    t = whole * US_PER_MS + round_to_int(frac * 1000.0);
    if (!in_range(t))
        return -1;
    *out = t;
    return 0;
}

int mw_time_from_json(const json_t *v, mw_time_t *out)
{
    if (v == NULL || out == NULL)
        return -1;

    if (json_is_string(v))
        return mw_time_parse_rfc3339(json_string_value(v), json_string_length(v), out);
    if (json_is_integer(v)) {
        json_int_t ms = json_integer_value(v);
        if (ms < MS_MIN || ms > MS_MAX)
            return -1;
        *out = (mw_time_t)ms * US_PER_MS;
        return 0;
    }
    if (json_is_real(v))
        return mw_time_from_epoch_ms(json_real_value(v), out);
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Formatting helpers                                                       */
/* ------------------------------------------------------------------------ */

/*
 * Copy the `n`-byte text in tmp (n from snprintf, may be negative) to buf if
 * it fits with its NUL. Returns n, or -1 with buf emptied.
 */
static int emit(const char *tmp, int n, char *buf, size_t size)
{
    if (n < 0 || (size_t)n >= size) {
        if (size > 0)
            buf[0] = '\0';
        return -1;
    }
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}

int mw_time_format(mw_time_t t, char *buf, size_t size)
{
    char tmp[MW_TIME_FORMAT_SIZE];
    int64_t days, rem, year;
    int mon, day, hour, min, sec, frac;
    int n;

    if (buf == NULL)
        return -1;
    if (!in_range(t)) {
        if (size > 0)
            buf[0] = '\0';
        return -1;
    }

    /* Floor division, so times before 1970 land on the right day. */
    days = t / US_PER_DAY;
    rem = t % US_PER_DAY;
    if (rem < 0) {
        rem += US_PER_DAY;
        days--;
    }
    civil_from_days(days, &year, &mon, &day);
    hour = (int)(rem / US_PER_HOUR);
    min = (int)(rem / US_PER_MIN % 60);
    sec = (int)(rem / US_PER_SEC % 60);
    frac = (int)(rem % US_PER_SEC);

    if (frac % 1000 == 0)
        n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)year,
                     mon, day, hour, min, sec, frac / 1000);
    else
        n = snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", (int)year,
                     mon, day, hour, min, sec, frac);
    return emit(tmp, n, buf, size);
}

/* ------------------------------------------------------------------------ */
/* Durations                                                                */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    int64_t us;
} units[] = {
    {"us", 1},         {"ms", US_PER_MS},  {"s", US_PER_SEC},
    {"m", US_PER_MIN}, {"h", US_PER_HOUR}, {"d", US_PER_DAY},
};

int mw_duration_parse(const char *s, mw_time_t *out)
{
    const char *p;
    int64_t value = 0;

    if (s == NULL || out == NULL)
        return -1;

    for (p = s; is_digit(*p); p++) {
        int digit = *p - '0';
        if (value > (INT64_MAX - digit) / 10)
            return -1;
        value = value * 10 + digit;
    }
    if (p == s)
        return -1; /* no digits (also catches signs and leading spaces) */

    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(p, units[i].name) != 0)
            continue;
        if (value > INT64_MAX / units[i].us)
            return -1;
        *out = value * units[i].us;
        return 0;
    }
    return -1;
}

int mw_duration_format(mw_time_t d, char *buf, size_t size)
{
    char tmp[MW_DURATION_FORMAT_SIZE];
    const char *sign = d < 0 ? "-" : "";
    uint64_t mag, secs;
    int n;

    if (buf == NULL)
        return -1;

    /* Magnitude in unsigned arithmetic, so INT64_MIN is fine. */
    mag = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;

    if (mag == 0) {
        n = snprintf(tmp, sizeof tmp, "0s");
    } else if (mag < (uint64_t)US_PER_SEC) {
        if (mag % (uint64_t)US_PER_MS == 0)
            n = snprintf(tmp, sizeof tmp, "%s%llums", sign,
                         (unsigned long long)(mag / (uint64_t)US_PER_MS));
        else
            n = snprintf(tmp, sizeof tmp, "%s%lluus", sign, (unsigned long long)mag);
    } else if (mag < (uint64_t)US_PER_MIN) {
        unsigned s = (unsigned)(mag / (uint64_t)US_PER_SEC);
        unsigned ms = (unsigned)(mag % (uint64_t)US_PER_SEC / (uint64_t)US_PER_MS);
        if (ms == 0) {
            n = snprintf(tmp, sizeof tmp, "%s%us", sign, s);
        } else {
            int width = 3;
            while (ms % 10 == 0) {
                ms /= 10;
                width--;
            }
            n = snprintf(tmp, sizeof tmp, "%s%u.%0*us", sign, s, width, ms);
        }
    } else {
        /* d, h, m, s from the largest to the smallest non-zero part. */
        static const char names[4] = {'d', 'h', 'm', 's'};
        uint64_t part[4];
        int first = -1, last = -1;
        size_t used;

        secs = mag / (uint64_t)US_PER_SEC;
        part[0] = secs / 86400;
        part[1] = secs / 3600 % 24;
        part[2] = secs / 60 % 60;
        part[3] = secs % 60;
        for (int i = 0; i < 4; i++) {
            if (part[i] != 0) {
                if (first < 0)
                    first = i;
                last = i;
            }
        }
        /* mag >= 1 minute, so some part is non-zero. */
        n = snprintf(tmp, sizeof tmp, "%s", sign);
        used = (size_t)n;
        for (int i = first; i <= last && n >= 0; i++) {
            n = snprintf(tmp + used, sizeof tmp - used, "%llu%c",
                         (unsigned long long)part[i], names[i]);
            if (n < 0 || (size_t)n >= sizeof tmp - used) {
                n = -1;
                break;
            }
            used += (size_t)n;
        }
        if (n >= 0)
            n = (int)used;
    }
    return emit(tmp, n, buf, size);
}
