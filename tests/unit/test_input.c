/* test_input.c - cmocka tests for mw_input: NDJSON framing and parsing */

/*
 * Framing tests write a temp file (mkstemp) and read it back with
 * mw_input_next_line, checking each line's text, number and byte offset.
 * Parsing tests call mw_ingest_parse on buffers directly. jansson is routed
 * through cmocka's test_malloc/test_free so a leaked document fails the test.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mw_input.h"
#include "mw_source.h"

#define T0 INT64_C(1644301348351000) /* 2022-02-08T06:22:28.351Z */

static void *json_test_malloc(size_t n)
{
    return test_malloc(n);
}

static void json_test_free(void *p)
{
    test_free(p);
}

struct fx {
    char path[64];
    struct mw_input *in;
    struct mw_path *ts;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    json_set_alloc_funcs(json_test_malloc, json_test_free);
    assert_non_null(f);
    f->ts = mw_path_new("@timestamp");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    mw_input_close(f->in);
    if (f->path[0])
        unlink(f->path);
    mw_path_free(f->ts);
    free(f);
    return 0;
}

/* Writes data to a new temp file and opens it with the given limit. */
static void open_data(struct fx *f, const void *data, size_t len, size_t max_line)
{
    struct mw_error err;
    int fd;
    const char *p = data;

    snprintf(f->path, sizeof f->path, "/tmp/mw_test_input_XXXXXX");
    fd = mkstemp(f->path);
    assert_true(fd >= 0);
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        assert_true(n > 0);
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    f->in = mw_input_open(f->path, max_line, &err);
    if (f->in == NULL)
        fail_msg("open: %s", err.msg);
}

#define NEXT_OK(f, want, wlineno, woffset)                                               \
    next_ok((f), (want), strlen(want), (wlineno), (woffset), __LINE__)

static void next_ok(struct fx *f, const char *want, size_t wlen, uint64_t wlineno,
                    uint64_t woffset, int line)
{
    struct mw_error err;
    const char *l = NULL;
    size_t len = 0;
    uint64_t lineno = 0, offset = 0;
    enum mw_line_status st = mw_input_next_line(f->in, &l, &len, &lineno, &offset, &err);

    if (st != MW_LINE_OK)
        fail_msg("line %d: status %d, want OK", line, (int)st);
    if (len != wlen || memcmp(l, want, wlen) != 0)
        fail_msg("line %d: got \"%.*s\" (%zu), want \"%.*s\" (%zu)", line,
                 (int)(len > 80 ? 80 : len), l, len, (int)(wlen > 80 ? 80 : wlen), want,
                 wlen);
    if (lineno != wlineno)
        fail_msg("line %d: lineno %llu, want %llu", line, (unsigned long long)lineno,
                 (unsigned long long)wlineno);
    if (offset != woffset)
        fail_msg("line %d: offset %llu, want %llu", line, (unsigned long long)offset,
                 (unsigned long long)woffset);
}

static void next_status(struct fx *f, enum mw_line_status want, size_t wlen,
                        uint64_t wlineno, uint64_t woffset)
{
    struct mw_error err;
    const char *l = NULL;
    size_t len = 0;
    uint64_t lineno = 0, offset = 0;
    enum mw_line_status st = mw_input_next_line(f->in, &l, &len, &lineno, &offset, &err);

    assert_int_equal(st, want);
    if (want == MW_LINE_TOO_LONG) {
        assert_int_equal(len, wlen);
        assert_int_equal(lineno, wlineno);
        assert_int_equal(offset, woffset);
    }
}

/* ------------------------------------------------------------------------ */
/* framing                                                                  */

static void test_normal_lines(void **state)
{
    struct fx *f = *state;
    const char data[] = "{\"a\":1}\n{\"b\":2}\nthird\n";
    open_data(f, data, sizeof data - 1, 0);
    assert_string_equal(mw_input_name(f->in), f->path);
    NEXT_OK(f, "{\"a\":1}", 1, 0);
    NEXT_OK(f, "{\"b\":2}", 2, 8);
    NEXT_OK(f, "third", 3, 16);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
}

static void test_crlf(void **state)
{
    struct fx *f = *state;
    const char data[] = "ab\r\ncd\r\n\r\n";
    open_data(f, data, sizeof data - 1, 0);
    /* the CR stays in the line; parse strips it */
    NEXT_OK(f, "ab\r", 1, 0);
    NEXT_OK(f, "cd\r", 2, 4);
    NEXT_OK(f, "\r", 3, 8);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
}

static void test_last_line_without_newline(void **state)
{
    struct fx *f = *state;
    const char data[] = "one\ntwo";
    open_data(f, data, sizeof data - 1, 0);
    NEXT_OK(f, "one", 1, 0);
    NEXT_OK(f, "two", 2, 4);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
}

static void test_empty_lines_and_file(void **state)
{
    struct fx *f = *state;
    const char data[] = "\n\nx\n\n";
    open_data(f, data, sizeof data - 1, 0);
    NEXT_OK(f, "", 1, 0);
    NEXT_OK(f, "", 2, 1);
    NEXT_OK(f, "x", 3, 2);
    NEXT_OK(f, "", 4, 4);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
    mw_input_close(f->in);
    unlink(f->path);
    f->in = NULL;
    open_data(f, "", 0, 0);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
}

static void test_line_limit(void **state)
{
    struct fx *f = *state;
    enum { MAX = 100 };
    char data[3 * MAX + 64];
    char exact[MAX + 1];
    size_t n = 0;

    memset(exact, 'a', MAX);
    exact[MAX] = '\0';
    memcpy(data + n, exact, MAX); /* line 1: exactly MAX bytes */
    n += MAX;
    data[n++] = '\n';
    memset(data + n, 'b', MAX + 1); /* line 2: MAX + 1 bytes */
    n += MAX + 1;
    data[n++] = '\n';
    memcpy(data + n, "next\n", 5); /* line 3 */
    n += 5;
    memset(data + n, 'c', MAX + 1); /* line 4: too long, at EOF */
    n += MAX + 1;

    open_data(f, data, n, MAX);
    NEXT_OK(f, exact, 1, 0);
    next_status(f, MW_LINE_TOO_LONG, MAX + 1, 2, MAX + 1);
    NEXT_OK(f, "next", 3, 2 * MAX + 3);
    next_status(f, MW_LINE_TOO_LONG, MAX + 1, 4, 2 * MAX + 8);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
}

static void test_exact_limit_without_newline(void **state)
{
    struct fx *f = *state;
    char data[50];
    memset(data, 'x', sizeof data);
    open_data(f, data, sizeof data, sizeof data);
    {
        char want[51];
        memcpy(want, data, 50);
        want[50] = '\0';
        NEXT_OK(f, want, 1, 0);
    }
    next_status(f, MW_LINE_EOF, 0, 0, 0);
}

static void test_very_long_line(void **state)
{
    /* Longer than the 64 KiB read chunk: many reads, the buffer grows. */
    struct fx *f = *state;
    size_t big = 300 * 1024;
    size_t n = 0;
    char *data = malloc(2 * big + 64);
    char *want = malloc(big + 1);

    assert_non_null(data);
    assert_non_null(want);
    memcpy(data, "head\n", 5);
    n = 5;
    for (size_t i = 0; i < big; i++)
        want[i] = (char)('a' + i % 26);
    want[big] = '\0';
    memcpy(data + n, want, big);
    n += big;
    data[n++] = '\n';
    memset(data + n, 'z', big); /* too long for a 200 KiB limit */
    n += big;
    data[n++] = '\n';
    memcpy(data + n, "tail", 4);
    n += 4;

    open_data(f, data, n, 0); /* default limit: 1 MiB */
    NEXT_OK(f, "head", 1, 0);
    next_ok(f, want, big, 2, 5, __LINE__);
    mw_input_close(f->in);
    unlink(f->path);
    f->in = NULL;

    open_data(f, data, n, 200 * 1024);
    NEXT_OK(f, "head", 1, 0);
    next_status(f, MW_LINE_TOO_LONG, big, 2, 5);
    next_status(f, MW_LINE_TOO_LONG, big, 3, 5 + big + 1);
    NEXT_OK(f, "tail", 4, 5 + 2 * (big + 1));
    next_status(f, MW_LINE_EOF, 0, 0, 0);
    free(data);
    free(want);
}

static void test_limit_one_byte(void **state)
{
    struct fx *f = *state;
    const char data[] = "a\nbb\n\nc";
    open_data(f, data, sizeof data - 1, 1);
    NEXT_OK(f, "a", 1, 0);
    next_status(f, MW_LINE_TOO_LONG, 2, 2, 2);
    NEXT_OK(f, "", 3, 5);
    NEXT_OK(f, "c", 4, 6);
    next_status(f, MW_LINE_EOF, 0, 0, 0);
}

static void test_open_errors(void **state)
{
    struct mw_error err;
    (void)state;
    err.msg[0] = '\0';
    assert_null(mw_input_open("/nonexistent/dir/file.ndjson", 0, &err));
    assert_non_null(strstr(err.msg, "/nonexistent/dir/file.ndjson"));
}

static void test_reject_names(void **state)
{
    (void)state;
    assert_string_equal(mw_reject_name(MW_REJECT_NONE), "none");
    assert_string_equal(mw_reject_name(MW_REJECT_MALFORMED_JSON), "malformed_json");
    assert_string_equal(mw_reject_name(MW_REJECT_NOT_OBJECT), "not_object");
    assert_string_equal(mw_reject_name(MW_REJECT_MISSING_TIMESTAMP), "missing_timestamp");
    assert_string_equal(mw_reject_name(MW_REJECT_BAD_TIMESTAMP), "bad_timestamp");
    assert_string_equal(mw_reject_name(MW_REJECT_INVALID_UTF8), "invalid_utf8");
    assert_string_equal(mw_reject_name(MW_REJECT_TOO_LONG), "too_long");
    assert_string_equal(mw_reject_name(MW_REJECT_DUPLICATE_KEY), "duplicate_key");
    assert_string_equal(mw_reject_name(MW_REJECT_NUMBER_RANGE), "number_out_of_range");
    assert_string_equal(mw_reject_name(MW_REJECT_TOO_DEEP), "too_deep");
    assert_string_equal(mw_reject_name(MW_REJECT__COUNT), "unknown");
    assert_string_equal(mw_reject_name((enum mw_reject) - 1), "unknown");
}

/* ------------------------------------------------------------------------ */
/* parsing                                                                  */

static struct mw_event *parse_n(const struct mw_path *ts, const char *line, size_t len,
                                enum mw_reject *reason, struct mw_error *err)
{
    *reason = (enum mw_reject) - 1;
    err->msg[0] = '\0';
    return mw_ingest_parse(line, len, ts, "in.ndjson", 7, 123, 9, reason, err);
}

static void expect_reject(const struct mw_path *ts, const char *line, size_t len,
                          enum mw_reject want)
{
    struct mw_error err;
    enum mw_reject reason;
    struct mw_event *ev = parse_n(ts, line, len, &reason, &err);
    if (ev != NULL) {
        mw_event_unref(ev);
        fail_msg("'%.*s' accepted, want %s", (int)len, line, mw_reject_name(want));
    }
    if (reason != want)
        fail_msg("'%.*s': reason %s, want %s", (int)len, line, mw_reject_name(reason),
                 mw_reject_name(want));
    assert_true(err.msg[0] != '\0');
}

#define REJECT(ts, s, want) expect_reject((ts), (s), sizeof(s) - 1, (want))

static void test_parse_ok(void **state)
{
    struct fx *f = *state;
    struct mw_error err;
    enum mw_reject reason;
    const char line[] = "{\"@timestamp\": \"2022-02-08T06:22:28.351Z\", \"a\": 1}";
    struct mw_event *ev = parse_n(f->ts, line, sizeof line - 1, &reason, &err);

    assert_non_null(ev);
    assert_int_equal(reason, MW_REJECT_NONE);
    assert_int_equal(ev->ts, T0);
    assert_string_equal(ev->input, "in.ndjson");
    assert_int_equal(ev->line, 7);
    assert_int_equal(ev->offset, 123);
    assert_int_equal(ev->seq, 9);
    assert_int_equal(ev->refcount, 1);
    assert_int_equal(json_integer_value(json_object_get(ev->root, "a")), 1);
    mw_event_unref(ev);

    /* CRLF: the CR is framing */
    {
        const char crlf[] = "{\"@timestamp\": \"2022-02-08T06:22:28.351Z\"}\r";
        ev = parse_n(f->ts, crlf, sizeof crlf - 1, &reason, &err);
        assert_non_null(ev);
        mw_event_unref(ev);
    }
    /* the length is authoritative: trailing bytes past len are ignored */
    {
        const char more[] = "{\"@timestamp\": 1644301348351}GARBAGE";
        ev = parse_n(f->ts, more, sizeof more - 1 - 7, &reason, &err);
        assert_non_null(ev);
        assert_int_equal(ev->ts, T0);
        mw_event_unref(ev);
    }
}

static void test_parse_timestamp_forms(void **state)
{
    struct fx *f = *state;
    struct mw_error err;
    enum mw_reject reason;
    struct mw_path *nested = mw_path_new("event.created");
    struct mw_event *ev;
    const char n1[] = "{\"event\": {\"created\": \"2022-02-08T06:22:28.351Z\"}}";
    const char n2[] = "{\"event.created\": \"2022-02-08T06:22:28.351+00:00\"}";
    const char ms[] = "{\"@timestamp\": 1644301348351}";
    const char msr[] = "{\"@timestamp\": 1644301348351.0}";

    ev = parse_n(nested, n1, sizeof n1 - 1, &reason, &err);
    assert_non_null(ev);
    assert_int_equal(ev->ts, T0);
    mw_event_unref(ev);
    ev = parse_n(nested, n2, sizeof n2 - 1, &reason, &err);
    assert_non_null(ev);
    assert_int_equal(ev->ts, T0);
    mw_event_unref(ev);
    ev = parse_n(f->ts, ms, sizeof ms - 1, &reason, &err);
    assert_non_null(ev);
    assert_int_equal(ev->ts, T0);
    mw_event_unref(ev);
    ev = parse_n(f->ts, msr, sizeof msr - 1, &reason, &err);
    assert_non_null(ev);
    assert_int_equal(ev->ts, T0);
    mw_event_unref(ev);

    REJECT(nested, "{\"event\": {\"start\": \"2022-02-08T06:22:28Z\"}}",
           MW_REJECT_MISSING_TIMESTAMP);
    mw_path_free(nested);
}

static void test_parse_rejects(void **state)
{
    struct fx *f = *state;
    const struct mw_path *ts = f->ts;

    REJECT(ts, "{\"@timestamp\": 1644301348351", MW_REJECT_MALFORMED_JSON);
    REJECT(ts, "{\"@timestamp\": 1644301348351,}", MW_REJECT_MALFORMED_JSON);
    REJECT(ts, "not json", MW_REJECT_MALFORMED_JSON);
    REJECT(ts, "", MW_REJECT_MALFORMED_JSON);
    REJECT(ts, "   ", MW_REJECT_MALFORMED_JSON);
    /* trailing garbage */
    REJECT(ts, "{\"@timestamp\": 1644301348351} x", MW_REJECT_MALFORMED_JSON);
    REJECT(ts, "{\"@timestamp\": 1644301348351}{}", MW_REJECT_MALFORMED_JSON);
    /* not an object */
    REJECT(ts, "[1, 2]", MW_REJECT_NOT_OBJECT);
    REJECT(ts, "\"string\"", MW_REJECT_NOT_OBJECT);
    REJECT(ts, "42", MW_REJECT_NOT_OBJECT);
    REJECT(ts, "null", MW_REJECT_NOT_OBJECT);
    /* timestamp */
    REJECT(ts, "{}", MW_REJECT_MISSING_TIMESTAMP);
    REJECT(ts, "{\"@timestamp\": null}", MW_REJECT_MISSING_TIMESTAMP);
    REJECT(ts, "{\"timestamp\": 1644301348351}", MW_REJECT_MISSING_TIMESTAMP);
    REJECT(ts, "{\"@timestamp\": \"yesterday\"}", MW_REJECT_BAD_TIMESTAMP);
    REJECT(ts, "{\"@timestamp\": \"\"}", MW_REJECT_BAD_TIMESTAMP);
    REJECT(ts, "{\"@timestamp\": \"2022-02-30T00:00:00Z\"}", MW_REJECT_BAD_TIMESTAMP);
    REJECT(ts, "{\"@timestamp\": true}", MW_REJECT_BAD_TIMESTAMP);
    REJECT(ts, "{\"@timestamp\": {}}", MW_REJECT_BAD_TIMESTAMP);
    REJECT(ts, "{\"@timestamp\": [1644301348351]}", MW_REJECT_BAD_TIMESTAMP);
    /* encoding */
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"a\": \"\xff\"}",
           MW_REJECT_INVALID_UTF8);
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"\xc3\": 1}", MW_REJECT_INVALID_UTF8);
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"a\": \"\xed\xa0\x80\"}",
           MW_REJECT_INVALID_UTF8);
    /* duplicate keys, also nested */
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"a\": 1, \"a\": 2}",
           MW_REJECT_DUPLICATE_KEY);
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"o\": {\"a\": 1, \"a\": 1}}",
           MW_REJECT_DUPLICATE_KEY);
}

static void test_parse_nul_byte(void **state)
{
    struct fx *f = *state;
    /* a raw NUL inside a string and between tokens */
    const char in_string[] = "{\"@timestamp\": 1644301348351, \"a\": \"x\0y\"}";
    const char between[] = "{\"@timestamp\": 1644301348351,\0 \"a\": 1}";
    const char after[] = "{\"@timestamp\": 1644301348351}\0";
    const char escaped[] = "{\"@timestamp\": 1644301348351, \"a\": \"x\\u0000y\"}";

    expect_reject(f->ts, in_string, sizeof in_string - 1, MW_REJECT_MALFORMED_JSON);
    expect_reject(f->ts, between, sizeof between - 1, MW_REJECT_MALFORMED_JSON);
    expect_reject(f->ts, after, sizeof after - 1, MW_REJECT_MALFORMED_JSON);
    /* \u0000 escapes are rejected too (JSON_ALLOW_NUL is not set) */
    expect_reject(f->ts, escaped, sizeof escaped - 1, MW_REJECT_MALFORMED_JSON);
}

/* numbers beyond int64/double and nesting beyond jansson's depth limit have
 * reasons of their own; a leading UTF-8 BOM is ignored, only one */
static void test_parse_hostile(void **state)
{
    struct fx *f = *state;
    const struct mw_path *ts = f->ts;
    struct mw_error err;
    enum mw_reject reason;
    char deep[5000];
    size_t n = 0;

    REJECT(ts, "{\"@timestamp\": 1644301348351, \"a\": 1e400}", MW_REJECT_NUMBER_RANGE);
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"a\": -1e400}", MW_REJECT_NUMBER_RANGE);
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"a\": 18446744073709551616}",
           MW_REJECT_NUMBER_RANGE);
    REJECT(ts, "{\"@timestamp\": 1644301348351, \"a\": -9223372036854775809}",
           MW_REJECT_NUMBER_RANGE);
    n += (size_t)snprintf(deep, sizeof deep, "{\"@timestamp\": 1644301348351, \"a\": ");
    while (n < sizeof deep - 1)
        deep[n++] = '[';
    expect_reject(ts, deep, n, MW_REJECT_TOO_DEEP);
    REJECT(ts, "\xef\xbb\xbf\xef\xbb\xbf{\"@timestamp\": 1644301348351}",
           MW_REJECT_MALFORMED_JSON);
    REJECT(ts, "\xef\xbb\xbf", MW_REJECT_MALFORMED_JSON);
    REJECT(ts, "\xef\xbb", MW_REJECT_INVALID_UTF8);

    const char bom[] = "\xef\xbb\xbf{\"@timestamp\": 1644301348351}\r";
    struct mw_event *ev = parse_n(ts, bom, sizeof bom - 1, &reason, &err);
    assert_non_null(ev);
    assert_int_equal(ev->ts, T0);
    mw_event_unref(ev);
    const char tiny[] = "{\"@timestamp\": 1644301348351, \"a\": 1e-400}";
    ev = parse_n(ts, tiny, sizeof tiny - 1, &reason, &err);
    assert_non_null(ev);
    assert_true(json_real_value(json_object_get(ev->root, "a")) == 0.0);
    mw_event_unref(ev);
}

static void test_line_is_blank(void **state)
{
    (void)state;
    assert_true(mw_line_is_blank("", 0));
    assert_true(mw_line_is_blank(" ", 1));
    assert_true(mw_line_is_blank(" \t\r", 3));
    assert_true(mw_line_is_blank("\r", 1));
    assert_false(mw_line_is_blank("x", 1));
    assert_false(mw_line_is_blank("  {}", 4));
    assert_false(mw_line_is_blank("\v", 1));
    assert_false(mw_line_is_blank("\0", 1));
    assert_true(mw_line_is_blank("  x", 2)); /* length is authoritative */
}

/* The source seam: "file:" and a plain path are the same kind; the file
 * kind hands out lines with their number, offset and generation, and its
 * position of a line resumes a new source at exactly that line. */
static void test_source_file_kind(void **state)
{
    struct fx *f = *state;
    struct mw_error err;
    struct mw_line l;
    const char *rest;
    json_t *pos = NULL;
    char spec[300];

    assert_string_equal(mw_source_kind("file:/x/y.ndjson", &rest)->scheme, "file");
    assert_string_equal(rest, "/x/y.ndjson");
    assert_string_equal(mw_source_kind("logs/a:b.ndjson", &rest)->scheme, "file");
    assert_string_equal(rest, "logs/a:b.ndjson");

    open_data(f, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n", 24, 0);
    snprintf(spec, sizeof spec, "file:%s", f->path);
    struct mw_source *s = mw_source_open(spec, NULL, &err);
    assert_non_null(s);
    assert_string_equal(mw_source_scheme(s), "file");
    assert_int_equal(mw_source_next(s, &l, &err), MW_LINE_OK);
    assert_int_equal(mw_source_next(s, &l, &err), MW_LINE_OK);
    assert_int_equal(l.lineno, 2);
    assert_int_equal(l.offset, 8);
    assert_int_equal(l.len, 7);
    assert_memory_equal(l.text, "{\"b\":2}", 7);
    /* the position of line 2, not yet processed */
    assert_int_equal(mw_source_position(s, &l, &pos), 0);
    assert_non_null(pos);
    assert_string_equal(json_string_value(json_object_get(pos, "scheme")), "file");
    assert_int_equal(json_integer_value(json_object_get(pos, "offset")), 8);
    mw_source_close(s);

    s = mw_source_open(f->path, NULL, &err);
    assert_non_null(s);
    mw_source_resume(s, pos);
    assert_int_equal(mw_source_next(s, &l, &err), MW_LINE_OK);
    assert_int_equal(l.lineno, 2);
    assert_memory_equal(l.text, "{\"b\":2}", 7);
    assert_int_equal(mw_source_stats(s)->lines, 0); /* the loop counts */
    mw_source_close(s);
    json_decref(pos);
    assert_null(mw_source_open("file:/nonexistent/dir/x.ndjson", NULL, &err));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_normal_lines),
        T(test_crlf),
        T(test_last_line_without_newline),
        T(test_empty_lines_and_file),
        T(test_line_limit),
        T(test_exact_limit_without_newline),
        T(test_very_long_line),
        T(test_limit_one_byte),
        T(test_open_errors),
        T(test_reject_names),
        T(test_parse_ok),
        T(test_parse_timestamp_forms),
        T(test_parse_rejects),
        T(test_parse_nul_byte),
        T(test_parse_hostile),
        T(test_line_is_blank),
        T(test_source_file_kind),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
