/* mw_time.h - event timestamps and durations in microseconds since the epoch */

#ifndef MW_TIME_H
#define MW_TIME_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * A point in time: microseconds since 1970-01-01T00:00:00Z (UTC), negative
 * before the epoch. The same type is used for durations (a difference of two
 * times). Every time this module produces lies in [MW_TIME_MIN, MW_TIME_MAX],
 * i.e. the calendar years 0000..9999 in UTC, so mw_time_format() can always
 * print it.
 */
typedef int64_t mw_time_t;

/* 0000-01-01T00:00:00.000000Z */
#define MW_TIME_MIN INT64_C(-62167219200000000)
/* 9999-12-31T23:59:59.999999Z */
#define MW_TIME_MAX INT64_C(253402300799999999)

/* Buffer sizes that always suffice for the two formatters (incl. NUL). */
#define MW_TIME_FORMAT_SIZE 32
#define MW_DURATION_FORMAT_SIZE 32

/*
 * Parse an RFC 3339 timestamp of exactly `len` bytes (`s` need not be
 * NUL-terminated; `len` is authoritative, so an embedded NUL is rejected).
 *
 * Accepts: YYYY-MM-DD{T|t| }HH:MM:SS[.F]{Z|z|+HH:MM|-HH:MM|+HHMM|-HHMM}
 * where F is 1..9 digits (digits beyond microseconds are truncated, so Azure's
 * 7-digit fractions parse), the year is 0000..9999, the day is checked against
 * the month (leap years included), hour < 24, minute < 60, second < 60, offset
 * hour < 24 and offset minute < 60. "-00:00" is read as UTC.
 *
 * Rejects: NULL `s` or `out`, a leap second (:60), a missing zone (local time
 * is ambiguous), a date without a time, an empty or 10+ digit fraction, signs
 * or spaces anywhere else, trailing bytes, and a result whose UTC instant
 * falls outside MW_TIME_MIN..MW_TIME_MAX (e.g. "0000-01-01T00:00:00+01:00").
 *
 * Does not use the C library's time or locale functions.
 * Returns 0 and stores the UTC instant in *out; on error returns -1 and leaves
 * *out unchanged.
 */
int mw_time_parse_rfc3339(const char *s, size_t len, mw_time_t *out);

/*
 * Convert milliseconds since the epoch (as JavaScript's Date.now() gives, and
 * possibly fractional) to a time, rounded to the nearest microsecond.
 *
 * Rejects NaN, infinities and values whose result is outside
 * MW_TIME_MIN..MW_TIME_MAX (years 0000..9999), and a NULL `out`.
 * Returns 0; on error returns -1 and leaves *out unchanged.
 */
int mw_time_from_epoch_ms(double ms, mw_time_t *out);

/*
 * Read a time from a JSON value: a string is parsed with
 * mw_time_parse_rfc3339(), an integer or a real is taken as epoch milliseconds
 * (integers exactly, reals as in mw_time_from_epoch_ms()).
 *
 * Rejects NULL `v` or `out`, every other JSON type (null, booleans, objects,
 * arrays) and anything the underlying parser rejects.
 * `v` is a borrowed reference; its refcount is not touched.
 * Returns 0; on error returns -1 and leaves *out unchanged.
 */
int mw_time_from_json(const json_t *v, mw_time_t *out);

/*
 * Format `t` as UTC RFC 3339 with a 'Z' zone: "2022-02-08T06:22:28.351Z".
 * Milliseconds are always printed (3 digits); if `t` has a sub-millisecond
 * part, 6 fraction digits are printed instead ("...28.351840Z"). The output
 * parses back to `t` with mw_time_parse_rfc3339().
 *
 * Accepts `t` in MW_TIME_MIN..MW_TIME_MAX; MW_TIME_FORMAT_SIZE bytes always
 * suffice. Rejects NULL `buf`, a time out of range, and a buffer too small for
 * the text and its NUL.
 * Returns the length written (excluding the NUL); on error returns -1 and,
 * if `buf` is non-NULL and `size` > 0, leaves an empty string in `buf`.
 */
int mw_time_format(mw_time_t t, char *buf, size_t size);

/*
 * Parse a configuration duration: decimal digits followed by exactly one unit
 * of "us", "ms", "s", "m" (minutes), "h" or "d" (24 h), e.g. "30m", "500ms",
 * "1d", "0s". The string is NUL-terminated.
 *
 * Rejects NULL `s` or `out`, an empty string, a missing or unknown unit, a
 * sign, spaces, a fraction ("1.5s"), compound forms ("1h30m"), and values that
 * overflow mw_time_t microseconds.
 * Returns 0 and stores microseconds in *out; on error returns -1 and leaves
 * *out unchanged.
 */
int mw_duration_parse(const char *s, mw_time_t *out);

/*
 * Format a duration for humans, compactly: "0s", "500us", "250ms", "1.5s",
 * "35s", "4m12s", "1h2m", "2d3h", "1h0m5s". Below one second the value is
 * printed as whole milliseconds, or whole microseconds if it is not a whole
 * number of milliseconds. From one second to under a minute, seconds are
 * printed with a millisecond fraction when not whole (trailing zeros dropped,
 * sub-millisecond digits truncated). From one minute up, days/hours/minutes/
 * seconds are printed from the largest non-zero part down to the smallest
 * non-zero part (inner zero parts are kept), and the sub-second part is
 * dropped. A negative duration gets a leading '-'. Any int64_t is accepted;
 * MW_DURATION_FORMAT_SIZE bytes always suffice.
 *
 * Rejects NULL `buf` and a buffer too small for the text and its NUL.
 * Returns the length written (excluding the NUL); on error returns -1 and,
 * if `buf` is non-NULL and `size` > 0, leaves an empty string in `buf`.
 */
int mw_duration_format(mw_time_t d, char *buf, size_t size);

#endif /* MW_TIME_H */
