/* test_match.c - cmocka tests for mw_match: operators and EQL null logic */

/*
 * Each test builds small matcher trees through the public constructors and
 * evaluates them against events made from JSON text. The expected value is
 * always one of MW_TRUE, MW_FALSE, MW_NULL, so three-valued logic is checked
 * exactly. jansson is routed through cmocka's test_malloc/test_free so a
 * leaked json_t (an event not released) fails the test.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_match.h"

#include "cmocka_json.h"

static int teardown(void **state)
{
    (void)state;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static struct mw_event *ev_json(const char *text)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (root == NULL)
        fail_msg("bad test JSON: %s: %s", text, jerr.text);
    return mw_event_new(root, 0, "test", 1, 0, 1);
}

static struct mw_matcher *leaf(enum mw_op op, const char *path)
{
    struct mw_path *p = mw_path_new(path);
    assert_non_null(p);
    return mw_matcher_new_leaf(op, p);
}

static struct mw_matcher *str_leaf(enum mw_op op, const char *path, const char *s,
                                   bool ci)
{
    struct mw_error err;
    struct mw_matcher *m = leaf(op, path);
    if (mw_matcher_add_string(m, s, strlen(s), ci, &err) < 0)
        fail_msg("add_string(%s): %s", s, err.msg);
    return m;
}

static struct mw_matcher *num_leaf(enum mw_op op, const char *path, double v, bool is_int)
{
    struct mw_error err;
    struct mw_matcher *m = leaf(op, path);
    if (mw_matcher_add_number(m, v, is_int, &err) < 0)
        fail_msg("add_number(%g): %s", v, err.msg);
    return m;
}

static struct mw_matcher *bool_leaf(enum mw_op op, const char *path, bool b)
{
    struct mw_error err;
    struct mw_matcher *m = leaf(op, path);
    if (mw_matcher_add_bool(m, b, &err) < 0)
        fail_msg("add_bool: %s", err.msg);
    return m;
}

static struct mw_matcher *group2(enum mw_op op, struct mw_matcher *a,
                                 struct mw_matcher *b)
{
    struct mw_matcher *g = mw_matcher_new_group(op);
    mw_matcher_add_child(g, a);
    if (b)
        mw_matcher_add_child(g, b);
    return g;
}

static const char *tvname(enum mw_tv v)
{
    return v == MW_TRUE ? "TRUE" : v == MW_FALSE ? "FALSE" : v == MW_NULL ? "NULL" : "?";
}

/* Evaluates m on the event from text and compares; m is kept. */
#define CHECK(m, text, want) check_eval((m), (text), (want), __LINE__)

static void check_eval(const struct mw_matcher *m, const char *text, enum mw_tv want,
                       int line)
{
    struct mw_event *ev = ev_json(text);
    struct mw_error err;
    enum mw_tv got;

    if (mw_matcher_validate(m, &err) < 0)
        fail_msg("line %d: invalid matcher: %s", line, err.msg);
    got = mw_matcher_eval(m, ev, NULL);
    mw_event_unref(ev);
    if (got != want)
        fail_msg("line %d: on %s: got %s, want %s", line, text, tvname(got),
                 tvname(want));
}

/* ------------------------------------------------------------------------ */
/* EQ                                                                       */

static void test_eq_strings(void **state)
{
    struct mw_matcher *m = str_leaf(MW_OP_EQ, "user.name", "Bob", false);
    (void)state;
    CHECK(m, "{\"user\": {\"name\": \"Bob\"}}", MW_TRUE);
    CHECK(m, "{\"user\": {\"name\": \"bob\"}}", MW_FALSE);
    CHECK(m, "{\"user\": {\"name\": \"Bob \"}}", MW_FALSE);
    CHECK(m, "{\"user\": {\"name\": \"Bo\"}}", MW_FALSE);
    CHECK(m, "{\"user.name\": \"Bob\"}", MW_TRUE);
    mw_matcher_free(m);

    /* no wildcard expansion in eq */
    m = str_leaf(MW_OP_EQ, "f", "a*", false);
    CHECK(m, "{\"f\": \"abc\"}", MW_FALSE);
    CHECK(m, "{\"f\": \"a*\"}", MW_TRUE);
    mw_matcher_free(m);

    /* embedded NUL: length is authoritative */
    {
        struct mw_error err;
        struct mw_event *ev;
        json_t *root;
        m = leaf(MW_OP_EQ, "f");
        assert_int_equal(mw_matcher_add_string(m, "a\0b", 3, false, &err), 0);
        root = json_pack("{s:s%}", "f", "a\0b", (size_t)3);
        ev = mw_event_new(root, 0, "t", 1, 0, 1);
        assert_int_equal(mw_matcher_eval(m, ev, NULL), MW_TRUE);
        mw_event_unref(ev);
        root = json_pack("{s:s}", "f", "a");
        ev = mw_event_new(root, 0, "t", 1, 0, 1);
        assert_int_equal(mw_matcher_eval(m, ev, NULL), MW_FALSE);
        mw_event_unref(ev);
        mw_matcher_free(m);
    }
}

static void test_eq_numbers(void **state)
{
    struct mw_matcher *m = num_leaf(MW_OP_EQ, "n", 0, true);
    (void)state;
    CHECK(m, "{\"n\": 0}", MW_TRUE);
    CHECK(m, "{\"n\": 0.0}", MW_TRUE);
    CHECK(m, "{\"n\": -0.0}", MW_TRUE);
    CHECK(m, "{\"n\": 1}", MW_FALSE);
    /* typed: the string "0" is not the number 0 */
    CHECK(m, "{\"n\": \"0\"}", MW_FALSE);
    CHECK(m, "{\"n\": false}", MW_FALSE);
    mw_matcher_free(m);

    m = num_leaf(MW_OP_EQ, "n", 0.0, false);
    CHECK(m, "{\"n\": 0}", MW_TRUE);
    CHECK(m, "{\"n\": 0.0}", MW_TRUE);
    mw_matcher_free(m);

    m = num_leaf(MW_OP_EQ, "n", 1.5, false);
    CHECK(m, "{\"n\": 1.5}", MW_TRUE);
    CHECK(m, "{\"n\": 1}", MW_FALSE);
    CHECK(m, "{\"n\": 2}", MW_FALSE);
    mw_matcher_free(m);

    /* the string "0" never equals the number 0, either way round */
    m = str_leaf(MW_OP_EQ, "n", "0", false);
    CHECK(m, "{\"n\": 0}", MW_FALSE);
    CHECK(m, "{\"n\": \"0\"}", MW_TRUE);
    mw_matcher_free(m);

    /* large integers compare exactly */
    m = num_leaf(MW_OP_EQ, "n", 9007199254740992.0, true);
    CHECK(m, "{\"n\": 9007199254740992}", MW_TRUE);
    CHECK(m, "{\"n\": 9007199254740993}", MW_FALSE);
    mw_matcher_free(m);
}

static void test_eq_booleans(void **state)
{
    struct mw_matcher *m = bool_leaf(MW_OP_EQ, "b", true);
    (void)state;
    CHECK(m, "{\"b\": true}", MW_TRUE);
    CHECK(m, "{\"b\": false}", MW_FALSE);
    CHECK(m, "{\"b\": \"true\"}", MW_FALSE);
    CHECK(m, "{\"b\": 1}", MW_FALSE);
    CHECK(m, "{\"b\": null}", MW_NULL);
    mw_matcher_free(m);
    m = bool_leaf(MW_OP_EQ, "b", false);
    CHECK(m, "{\"b\": false}", MW_TRUE);
    CHECK(m, "{\"b\": 0}", MW_FALSE);
    mw_matcher_free(m);
}

static void test_eq_value_list_any_of(void **state)
{
    struct mw_error err;
    struct mw_matcher *m = str_leaf(MW_OP_EQ, "f", "a", false);
    (void)state;
    assert_int_equal(mw_matcher_add_string(m, "b", 1, false, &err), 0);
    assert_int_equal(mw_matcher_add_number(m, 3, true, &err), 0);
    CHECK(m, "{\"f\": \"a\"}", MW_TRUE);
    CHECK(m, "{\"f\": \"b\"}", MW_TRUE);
    CHECK(m, "{\"f\": 3}", MW_TRUE);
    CHECK(m, "{\"f\": \"c\"}", MW_FALSE);
    mw_matcher_free(m);
}

/* ------------------------------------------------------------------------ */
/* IEQ and LIKE                                                             */

static void test_ieq(void **state)
{
    struct mw_error err;
    struct mw_matcher *m = str_leaf(MW_OP_IEQ, "p", "C:\\Windows\\*.EXE", false);
    (void)state;
    CHECK(m, "{\"p\": \"c:\\\\windows\\\\cmd.exe\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"C:\\\\WINDOWS\\\\system32\\\\cmd.Exe\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"C:\\\\Windows\\\\cmd.exe.bak\"}", MW_FALSE);
    CHECK(m, "{\"p\": \"D:\\\\Windows\\\\cmd.exe\"}", MW_FALSE);
    mw_matcher_free(m);

    /* plain ':' is case-insensitive equality */
    m = str_leaf(MW_OP_IEQ, "u", "Bob", false);
    CHECK(m, "{\"u\": \"bOB\"}", MW_TRUE);
    CHECK(m, "{\"u\": \"bob2\"}", MW_FALSE);
    CHECK(m, "{\"u\": \"bo\"}", MW_FALSE);
    mw_matcher_free(m);

    /* '?' is exactly one byte */
    m = str_leaf(MW_OP_IEQ, "u", "b?b", false);
    CHECK(m, "{\"u\": \"BOB\"}", MW_TRUE);
    CHECK(m, "{\"u\": \"bb\"}", MW_FALSE);
    CHECK(m, "{\"u\": \"boob\"}", MW_FALSE);
    mw_matcher_free(m);

    /* list means any-of */
    m = str_leaf(MW_OP_IEQ, "u", "a*", false);
    assert_int_equal(mw_matcher_add_string(m, "b", 1, false, &err), 0);
    CHECK(m, "{\"u\": \"Alice\"}", MW_TRUE);
    CHECK(m, "{\"u\": \"B\"}", MW_TRUE);
    CHECK(m, "{\"u\": \"bob\"}", MW_FALSE);
    mw_matcher_free(m);

    /* '*' matches the empty string, but not a missing field */
    m = str_leaf(MW_OP_IEQ, "u", "*", false);
    CHECK(m, "{\"u\": \"\"}", MW_TRUE);
    CHECK(m, "{\"u\": \"x\"}", MW_TRUE);
    CHECK(m, "{}", MW_NULL);
    mw_matcher_free(m);
}

static void test_ieq_numbers(void **state)
{
    struct mw_matcher *m = num_leaf(MW_OP_IEQ, "serial_event_id", 1, true);
    (void)state;
    CHECK(m, "{\"serial_event_id\": 1}", MW_TRUE);
    CHECK(m, "{\"serial_event_id\": 1.0}", MW_TRUE);
    CHECK(m, "{\"serial_event_id\": 2}", MW_FALSE);
    mw_matcher_free(m);

    /* a string pattern against a numeric field matches its text */
    m = str_leaf(MW_OP_IEQ, "port", "44*", false);
    CHECK(m, "{\"port\": 443}", MW_TRUE);
    CHECK(m, "{\"port\": 80}", MW_FALSE);
    mw_matcher_free(m);

    m = bool_leaf(MW_OP_IEQ, "b", true);
    CHECK(m, "{\"b\": true}", MW_TRUE);
    CHECK(m, "{\"b\": false}", MW_FALSE);
    mw_matcher_free(m);
}

static void test_like(void **state)
{
    struct mw_matcher *m = str_leaf(MW_OP_LIKE, "p", "*.EXE", false);
    (void)state;
    CHECK(m, "{\"p\": \"cmd.EXE\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"cmd.exe\"}", MW_FALSE);
    mw_matcher_free(m);

    m = str_leaf(MW_OP_LIKE, "p", "a?c", false);
    CHECK(m, "{\"p\": \"abc\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"ABC\"}", MW_FALSE);
    CHECK(m, "{\"p\": \"abbc\"}", MW_FALSE);
    mw_matcher_free(m);

    /* like~ */
    m = str_leaf(MW_OP_LIKE, "p", "*.EXE", true);
    CHECK(m, "{\"p\": \"cmd.exe\"}", MW_TRUE);
    mw_matcher_free(m);

    /* without wildcards it is equality */
    m = str_leaf(MW_OP_LIKE, "p", "Abc", false);
    CHECK(m, "{\"p\": \"Abc\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"abc\"}", MW_FALSE);
    CHECK(m, "{\"p\": \"Abcd\"}", MW_FALSE);
    mw_matcher_free(m);
}

/* ------------------------------------------------------------------------ */
/* PREFIX, SUFFIX, CONTAINS                                                 */

static void test_prefix_suffix_contains(void **state)
{
    struct mw_matcher *m;
    (void)state;

    m = str_leaf(MW_OP_PREFIX, "p", "C:\\Win", false);
    CHECK(m, "{\"p\": \"C:\\\\Windows\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"c:\\\\windows\"}", MW_FALSE);
    CHECK(m, "{\"p\": \"C:\\\\Wi\"}", MW_FALSE);
    CHECK(m, "{\"p\": 5}", MW_FALSE);
    mw_matcher_free(m);
    m = str_leaf(MW_OP_PREFIX, "p", "C:\\Win", true);
    CHECK(m, "{\"p\": \"c:\\\\windows\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"d:\\\\windows\"}", MW_FALSE);
    mw_matcher_free(m);

    m = str_leaf(MW_OP_SUFFIX, "p", ".exe", false);
    CHECK(m, "{\"p\": \"cmd.exe\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"cmd.EXE\"}", MW_FALSE);
    CHECK(m, "{\"p\": \"exe\"}", MW_FALSE);
    CHECK(m, "{\"p\": \".exe\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"\"}", MW_FALSE);
    CHECK(m, "{\"p\": true}", MW_FALSE);
    mw_matcher_free(m);
    m = str_leaf(MW_OP_SUFFIX, "p", ".exe", true);
    CHECK(m, "{\"p\": \"CMD.EXE\"}", MW_TRUE);
    mw_matcher_free(m);

    m = str_leaf(MW_OP_CONTAINS, "p", "power", false);
    CHECK(m, "{\"p\": \"run powershell -enc\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"run PowerShell -enc\"}", MW_FALSE);
    CHECK(m, "{\"p\": \"powe\"}", MW_FALSE);
    CHECK(m, "{\"p\": \"power\"}", MW_TRUE);
    CHECK(m, "{\"p\": [\"a\", \"xpowerx\"]}", MW_TRUE);
    CHECK(m, "{\"p\": 12}", MW_FALSE);
    mw_matcher_free(m);
    m = str_leaf(MW_OP_CONTAINS, "p", "PoWeR", true);
    CHECK(m, "{\"p\": \"run POWERSHELL\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"run shell\"}", MW_FALSE);
    mw_matcher_free(m);

    /* the empty needle is contained everywhere */
    m = str_leaf(MW_OP_CONTAINS, "p", "", false);
    CHECK(m, "{\"p\": \"\"}", MW_TRUE);
    CHECK(m, "{\"p\": \"x\"}", MW_TRUE);
    mw_matcher_free(m);
}

/* ------------------------------------------------------------------------ */
/* comparisons                                                              */

static void test_comparisons(void **state)
{
    struct mw_matcher *m;
    (void)state;

    m = num_leaf(MW_OP_LT, "n", 10, true);
    CHECK(m, "{\"n\": 9}", MW_TRUE);
    CHECK(m, "{\"n\": 10}", MW_FALSE);
    CHECK(m, "{\"n\": 9.999}", MW_TRUE);
    CHECK(m, "{\"n\": 10.0}", MW_FALSE);
    CHECK(m, "{\"n\": -1e300}", MW_TRUE);
    CHECK(m, "{\"n\": \"5\"}", MW_FALSE); /* strings are not numbers */
    CHECK(m, "{\"n\": null}", MW_NULL);
    CHECK(m, "{}", MW_NULL);
    mw_matcher_free(m);

    m = num_leaf(MW_OP_LE, "n", 10, true);
    CHECK(m, "{\"n\": 10}", MW_TRUE);
    CHECK(m, "{\"n\": 10.0}", MW_TRUE);
    CHECK(m, "{\"n\": 10.5}", MW_FALSE);
    mw_matcher_free(m);

    m = num_leaf(MW_OP_GT, "n", 2.5, false);
    CHECK(m, "{\"n\": 3}", MW_TRUE);
    CHECK(m, "{\"n\": 2}", MW_FALSE);
    CHECK(m, "{\"n\": 2.5}", MW_FALSE);
    CHECK(m, "{\"n\": 2.50001}", MW_TRUE);
    mw_matcher_free(m);

    m = num_leaf(MW_OP_GE, "n", 2.5, false);
    CHECK(m, "{\"n\": 2.5}", MW_TRUE);
    CHECK(m, "{\"n\": 2}", MW_FALSE);
    mw_matcher_free(m);

    /* -1 < exit_code, integers exact beyond 2^53 */
    m = num_leaf(MW_OP_GT, "n", -1, true);
    CHECK(m, "{\"n\": 0}", MW_TRUE);
    CHECK(m, "{\"n\": -1}", MW_FALSE);
    mw_matcher_free(m);
    m = num_leaf(MW_OP_GT, "n", 9007199254740992.0, true);
    CHECK(m, "{\"n\": 9007199254740993}", MW_TRUE);
    CHECK(m, "{\"n\": 9007199254740992}", MW_FALSE);
    mw_matcher_free(m);

    /* array: any element */
    m = num_leaf(MW_OP_GE, "n", 100, true);
    CHECK(m, "{\"n\": [1, 2, 300]}", MW_TRUE);
    CHECK(m, "{\"n\": [1, 2, 3]}", MW_FALSE);
    mw_matcher_free(m);
}

/* ------------------------------------------------------------------------ */
/* EXISTS                                                                   */

static void test_exists(void **state)
{
    struct mw_matcher *m = leaf(MW_OP_EXISTS, "f");
    (void)state;
    CHECK(m, "{}", MW_FALSE);
    CHECK(m, "{\"f\": null}", MW_FALSE);
    CHECK(m, "{\"f\": []}", MW_FALSE);
    CHECK(m, "{\"f\": \"\"}", MW_TRUE);
    CHECK(m, "{\"f\": 0}", MW_TRUE);
    CHECK(m, "{\"f\": false}", MW_TRUE);
    CHECK(m, "{\"f\": {}}", MW_TRUE);
    CHECK(m, "{\"f\": [null]}", MW_TRUE);
    CHECK(m, "{\"f\": \"x\"}", MW_TRUE);
    mw_matcher_free(m);
}

/* ------------------------------------------------------------------------ */
/* CIDR                                                                     */

static struct mw_matcher *cidr(const char *path, const char *net)
{
    return str_leaf(MW_OP_CIDR, path, net, false);
}

static void test_cidr_ipv4(void **state)
{
    struct mw_matcher *m = cidr("ip", "10.0.0.0/8");
    (void)state;
    CHECK(m, "{\"ip\": \"10.1.2.3\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"10.255.255.255\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"11.0.0.1\"}", MW_FALSE);
    CHECK(m, "{\"ip\": \"9.255.255.255\"}", MW_FALSE);
    CHECK(m, "{\"ip\": \"2001:db8::1\"}", MW_FALSE);
    CHECK(m, "{\"ip\": \"not-an-ip\"}", MW_FALSE);
    CHECK(m, "{\"ip\": \"10.1.2.3 \"}", MW_FALSE);
    CHECK(m, "{\"ip\": \"\"}", MW_FALSE);
    CHECK(m, "{\"ip\": 167837955}", MW_FALSE);
    CHECK(m, "{\"ip\": [\"1.1.1.1\", \"10.0.0.1\"]}", MW_TRUE);
    CHECK(m, "{}", MW_NULL);
    mw_matcher_free(m);

    m = cidr("ip", "192.168.1.17/32");
    CHECK(m, "{\"ip\": \"192.168.1.17\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"192.168.1.16\"}", MW_FALSE);
    mw_matcher_free(m);

    /* a bare address is a /32 */
    m = cidr("ip", "192.168.1.17");
    CHECK(m, "{\"ip\": \"192.168.1.17\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"192.168.1.18\"}", MW_FALSE);
    mw_matcher_free(m);

    m = cidr("ip", "0.0.0.0/0");
    CHECK(m, "{\"ip\": \"1.2.3.4\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"255.255.255.255\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"2001:db8::1\"}", MW_FALSE);
    mw_matcher_free(m);

    /* odd prefix, host bits in the network are ignored */
    m = cidr("ip", "172.16.5.4/12");
    CHECK(m, "{\"ip\": \"172.31.255.255\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"172.32.0.0\"}", MW_FALSE);
    CHECK(m, "{\"ip\": \"172.15.255.255\"}", MW_FALSE);
    mw_matcher_free(m);

    /* several networks: any of */
    m = cidr("ip", "10.0.0.0/8");
    {
        struct mw_error err;
        assert_int_equal(mw_matcher_add_string(m, "192.168.0.0/16", 14, false, &err), 0);
    }
    CHECK(m, "{\"ip\": \"192.168.44.1\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"172.16.0.1\"}", MW_FALSE);
    mw_matcher_free(m);
}

static void test_cidr_ipv6(void **state)
{
    struct mw_matcher *m = cidr("ip", "2001:db8::/32");
    (void)state;
    CHECK(m, "{\"ip\": \"2001:db8::1\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"2001:DB8:ffff::1\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"2001:db9::1\"}", MW_FALSE);
    CHECK(m, "{\"ip\": \"10.0.0.1\"}", MW_FALSE);
    mw_matcher_free(m);

    m = cidr("ip", "fe80::/10");
    CHECK(m, "{\"ip\": \"fe80::1\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"febf::1\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"fec0::1\"}", MW_FALSE);
    mw_matcher_free(m);

    m = cidr("ip", "::1/128");
    CHECK(m, "{\"ip\": \"::1\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"::2\"}", MW_FALSE);
    mw_matcher_free(m);

    m = cidr("ip", "::/0");
    CHECK(m, "{\"ip\": \"2001:db8::1\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"::\"}", MW_TRUE);
    CHECK(m, "{\"ip\": \"garbage\"}", MW_FALSE);
    mw_matcher_free(m);
}

static void test_cidr_invalid_rejected(void **state)
{
    static const char *const bad[] = {
        "",
        "/8",
        "10.0.0.0/",
        "10.0.0.0/33",
        "10.0.0.0/-1",
        "10.0.0.0/8x",
        "10.0.0/8",
        "10.0.0.256/8",
        "abc",
        "abc/8",
        "::/129",
        "2001:db8::/",
        "2001:db8:::1/64",
        "10.0.0.0/8/8",
        "0123456789012345678901234567890123456789012345678901234567890123456789",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mw_error err;
        struct mw_matcher *m = leaf(MW_OP_CIDR, "ip");
        err.msg[0] = '\0';
        if (mw_matcher_add_string(m, bad[i], strlen(bad[i]), false, &err) != -1)
            fail_msg("CIDR '%s' accepted", bad[i]);
        assert_true(err.msg[0] != '\0');
        /* nothing was added */
        assert_int_equal(mw_matcher_validate(m, &err), -1);
        mw_matcher_free(m);
    }
    /* NULL err is allowed */
    {
        struct mw_matcher *m = leaf(MW_OP_CIDR, "ip");
        assert_int_equal(mw_matcher_add_string(m, "x", 1, false, NULL), -1);
        mw_matcher_free(m);
    }
}

/* Minor: the prefix length goes through strtol, which accepts a sign and
 * leading blanks. */
static void test_cidr_prefix_strict(void **state)
{
    static const char *const bad[] = {"10.0.0.0/+8", "10.0.0.0/ 8", "2001:db8::/ 32"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct mw_error err;
        struct mw_matcher *m = leaf(MW_OP_CIDR, "ip");
        int rc = mw_matcher_add_string(m, bad[i], strlen(bad[i]), false, &err);
        mw_matcher_free(m);
        if (rc != -1)
            fail_msg("CIDR '%s' accepted", bad[i]);
    }
}

/* ':' on a real-valued field against a string pattern compares the field's
 * text, which is printed with %.17g: 0.1 becomes "0.10000000000000001". */
static enum mw_tv eval_text(struct mw_matcher *m, const char *text)
{
    struct mw_event *ev = ev_json(text);
    enum mw_tv r = mw_matcher_eval(m, ev, NULL);
    mw_event_unref(ev);
    mw_matcher_free(m); /* consumed, so a failed assertion leaks nothing */
    return r;
}

static void test_ieq_real_field_text(void **state)
{
    enum mw_tv r1, r2, r3, r4;
    (void)state;
    r1 = eval_text(str_leaf(MW_OP_IEQ, "score", "0.1", false), "{\"score\": 0.5}");
    r2 = eval_text(str_leaf(MW_OP_IEQ, "score", "0.5", false), "{\"score\": 0.5}");
    r3 = eval_text(str_leaf(MW_OP_IEQ, "score", "0.1", false), "{\"score\": 0.1}");
    /* and a real value against a string field */
    r4 = eval_text(num_leaf(MW_OP_IEQ, "score", 0.1, false), "{\"score\": \"0.1\"}");
    assert_int_equal(r1, MW_FALSE);
    assert_int_equal(r2, MW_TRUE);
    if (r3 != MW_TRUE)
        fail_msg("score 0.1 : \"0.1\" gave %s, want TRUE", tvname(r3));
    if (r4 != MW_TRUE)
        fail_msg("score \"0.1\" : 0.1 gave %s, want TRUE", tvname(r4));
}

static void test_ip_parse(void **state)
{
    unsigned char a[16],
        want4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    int prefix = -1;
    (void)state;
    assert_int_equal(mw_ip_parse("1.2.3.4", 7, a), 0);
    assert_memory_equal(a, want4, 16);
    /* length is authoritative */
    assert_int_equal(mw_ip_parse("1.2.3.4garbage", 7, a), 0);
    assert_memory_equal(a, want4, 16);
    assert_int_equal(mw_ip_parse("", 0, a), -1);
    assert_int_equal(mw_ip_parse("1.2.3", 5, a), -1);
    assert_int_equal(mw_ip_parse("::ffff:1.2.3.4", 14, a), 0);
    assert_memory_equal(a, want4, 16);
    assert_int_equal(mw_cidr_parse("10.0.0.0/8", a, &prefix), 0);
    assert_int_equal(prefix, 8 + 96);
    assert_int_equal(mw_cidr_parse("2001:db8::/32", a, &prefix), 0);
    assert_int_equal(prefix, 32);
    assert_int_equal(mw_cidr_parse("1.2.3.4", a, &prefix), 0);
    assert_int_equal(prefix, 128);
}

/* ------------------------------------------------------------------------ */
/* CATEGORY                                                                 */

static void test_category(void **state)
{
    struct mw_matcher *m = str_leaf(MW_OP_CATEGORY, "event.category", "network", false);
    (void)state;
    CHECK(m, "{\"event\": {\"category\": \"network\"}}", MW_TRUE);
    CHECK(m, "{\"event\": {\"category\": \"Network\"}}", MW_FALSE);
    CHECK(m, "{\"event\": {\"category\": \"process\"}}", MW_FALSE);
    CHECK(m, "{\"event\": {\"category\": [\"process\", \"network\"]}}", MW_TRUE);
    CHECK(m, "{\"event\": {\"category\": [\"process\", \"file\"]}}", MW_FALSE);
    CHECK(m, "{\"event.category\": [\"network\"]}", MW_TRUE);
    CHECK(m, "{\"event\": {\"category\": []}}", MW_NULL);
    CHECK(m, "{\"event\": {}}", MW_NULL);
    mw_matcher_free(m);
}

/* ------------------------------------------------------------------------ */
/* arrays and null logic                                                    */

static void test_array_any_element(void **state)
{
    struct mw_matcher *m = str_leaf(MW_OP_EQ, "tags", "b", false);
    (void)state;
    CHECK(m, "{\"tags\": [\"a\", \"b\"]}", MW_TRUE);
    CHECK(m, "{\"tags\": [\"a\", \"c\"]}", MW_FALSE);
    CHECK(m, "{\"tags\": [null, \"b\"]}", MW_TRUE);
    CHECK(m, "{\"tags\": [null, \"a\"]}", MW_FALSE);
    CHECK(m, "{\"tags\": [null]}", MW_NULL);
    CHECK(m, "{\"tags\": []}", MW_NULL);
    CHECK(m, "{\"tags\": [[\"b\"]]}", MW_FALSE);
    CHECK(m, "{\"tags\": {\"b\": 1}}", MW_FALSE);
    mw_matcher_free(m);

    /* nested arrays of objects through an index */
    m = str_leaf(MW_OP_IEQ, "r.0.name", "X*", false);
    CHECK(m, "{\"r\": [{\"name\": \"xy\"}, {\"name\": \"z\"}]}", MW_TRUE);
    CHECK(m, "{\"r\": [{\"name\": \"z\"}, {\"name\": \"xy\"}]}", MW_FALSE);
    mw_matcher_free(m);
}

static void test_missing_field_is_null(void **state)
{
    struct mw_matcher *ms[] = {
        str_leaf(MW_OP_EQ, "missing", "x", false),
        str_leaf(MW_OP_IEQ, "missing", "*", false),
        str_leaf(MW_OP_LIKE, "missing", "*", false),
        str_leaf(MW_OP_PREFIX, "missing", "", false),
        str_leaf(MW_OP_SUFFIX, "missing", "", false),
        str_leaf(MW_OP_CONTAINS, "missing", "", false),
        num_leaf(MW_OP_LT, "missing", 1, true),
        num_leaf(MW_OP_GE, "missing", 1, true),
        cidr("missing", "0.0.0.0/0"),
        str_leaf(MW_OP_CATEGORY, "missing", "x", false),
    };
    (void)state;
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        CHECK(ms[i], "{\"other\": 1}", MW_NULL);
        CHECK(ms[i], "{\"missing\": null}", MW_NULL);
        CHECK(ms[i], "{\"missing.x\": 1}", MW_NULL);
        mw_matcher_free(ms[i]);
    }
}

static void test_three_valued_logic(void **state)
{
    const char *ev = "{\"a\": 1}";
    (void)state;

    /* leaves: T = a == 1, F = a == 2, N = missing == 1 */
#define T num_leaf(MW_OP_EQ, "a", 1, true)
#define F num_leaf(MW_OP_EQ, "a", 2, true)
#define N num_leaf(MW_OP_EQ, "missing", 1, true)
    struct {
        struct mw_matcher *m;
        enum mw_tv want;
    } cases[] = {
        {group2(MW_OP_NOT, T, NULL), MW_FALSE},
        {group2(MW_OP_NOT, F, NULL), MW_TRUE},
        {group2(MW_OP_NOT, N, NULL), MW_NULL},
        {group2(MW_OP_ALL, T, T), MW_TRUE},
        {group2(MW_OP_ALL, T, F), MW_FALSE},
        {group2(MW_OP_ALL, T, N), MW_NULL},
        {group2(MW_OP_ALL, N, T), MW_NULL},
        {group2(MW_OP_ALL, N, F), MW_FALSE}, /* false wins */
        {group2(MW_OP_ALL, F, N), MW_FALSE},
        {group2(MW_OP_ALL, N, N), MW_NULL},
        {group2(MW_OP_ANY, F, F), MW_FALSE},
        {group2(MW_OP_ANY, F, T), MW_TRUE},
        {group2(MW_OP_ANY, N, T), MW_TRUE}, /* true wins */
        {group2(MW_OP_ANY, T, N), MW_TRUE},
        {group2(MW_OP_ANY, F, N), MW_NULL},
        {group2(MW_OP_ANY, N, F), MW_NULL},
        {group2(MW_OP_ANY, N, N), MW_NULL},
        {group2(MW_OP_NOT, group2(MW_OP_ANY, F, N), NULL), MW_NULL},
        {group2(MW_OP_NOT, group2(MW_OP_ALL, F, N), NULL), MW_TRUE},
        {group2(MW_OP_NOT, group2(MW_OP_NOT, N, NULL), NULL), MW_NULL},
        {group2(MW_OP_ALL, T, NULL), MW_TRUE},
        {group2(MW_OP_ANY, N, NULL), MW_NULL},
    };
#undef T
#undef F
#undef N
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct mw_event *e = ev_json(ev);
        enum mw_tv got = mw_matcher_eval(cases[i].m, e, NULL);
        mw_event_unref(e);
        if (got != cases[i].want)
            fail_msg("case %zu: got %s, want %s", i, tvname(got), tvname(cases[i].want));
        mw_matcher_free(cases[i].m);
    }
}

static void test_not_missing_wildcard(void **state)
{
    /* `not (missing : "*")` and `missing != "x"` match nothing */
    struct mw_matcher *m =
        group2(MW_OP_NOT, str_leaf(MW_OP_IEQ, "fake_field", "*", false), NULL);
    struct mw_matcher *ne =
        group2(MW_OP_NOT, str_leaf(MW_OP_EQ, "fake_field", "x", false), NULL);
    (void)state;
    CHECK(m, "{\"a\": 1}", MW_NULL);
    CHECK(m, "{\"fake_field\": null}", MW_NULL);
    CHECK(m, "{\"fake_field\": \"\"}", MW_FALSE);
    CHECK(ne, "{\"a\": 1}", MW_NULL);
    CHECK(ne, "{\"fake_field\": \"y\"}", MW_TRUE);
    mw_matcher_free(m);
    mw_matcher_free(ne);
}

/* ------------------------------------------------------------------------ */
/* wildcard                                                                 */

static bool wm(const char *pat, const char *s, bool ci)
{
    return mw_wildcard_match(pat, strlen(pat), s, strlen(s), ci);
}

static void test_wildcard_edges(void **state)
{
    (void)state;
    assert_true(wm("", "", false));
    assert_false(wm("", "a", false));
    assert_true(wm("*", "", false));
    assert_true(wm("*", "anything", false));
    assert_true(wm("**", "", false));
    assert_true(wm("***", "abc", false));
    assert_false(wm("?", "", false));
    assert_true(wm("?", "x", false));
    assert_false(wm("?", "xy", false));
    assert_true(wm("??", "xy", false));
    assert_true(wm("abc***", "abc", false));
    assert_true(wm("abc*", "abcdef", false));
    assert_false(wm("abc*", "ab", false));
    assert_true(wm("*abc", "xxabc", false));
    assert_false(wm("*abc", "xxabcx", false));
    assert_true(wm("*a", "bbba", false));
    assert_false(wm("*a", "bbbab", false));
    /* backtracking */
    assert_true(wm("a*b*c", "abc", false));
    assert_true(wm("a*b*c", "aXbYc", false));
    assert_true(wm("a*b*c", "abbbc", false));
    assert_true(wm("a*b*c", "acbc", false));
    assert_true(wm("a*b*c", "abcbc", false));
    assert_true(wm("a*b*c", "abcabc", false));
    assert_false(wm("a*b*c", "abcb", false));
    assert_false(wm("a*b*c", "acb", false));
    assert_false(wm("a*b*c", "bac", false));
    assert_true(wm("*?*", "x", false));
    assert_false(wm("*?*", "", false));
    assert_true(wm("a?*c", "abxc", false));
    assert_false(wm("a?*c", "ac", false));
    assert_false(wm("a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false));
    assert_true(wm("a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", false));
    /* case */
    assert_false(wm("ABC", "abc", false));
    assert_true(wm("ABC", "abc", true));
    assert_true(wm("a*C", "AxyzC", true));
    assert_false(wm("a*C", "Axyzc", false));
    /* lengths are authoritative, NUL is an ordinary byte */
    assert_true(mw_wildcard_match("a*", 2, "a\0b", 3, false));
    assert_false(mw_wildcard_match("a?", 2, "a\0b", 3, false));
    assert_true(mw_wildcard_match("a?b", 3, "a\0b", 3, false));
    assert_true(mw_wildcard_match("abcdef", 3, "abc", 3, false));
}

/* ------------------------------------------------------------------------ */
/* FN                                                                       */

struct fn_stub {
    int calls;
    const struct mw_event *last_ev;
};

static enum mw_tv stub_call(void *ud, int fn_ref, const struct mw_event *ev)
{
    struct fn_stub *s = ud;
    s->calls++;
    s->last_ev = ev;
    return fn_ref == 1 ? MW_TRUE : fn_ref == 2 ? MW_FALSE : MW_NULL;
}

static void test_fn(void **state)
{
    struct fn_stub stub = {0, NULL};
    struct mw_match_ctx ctx = {stub_call, &stub};
    struct mw_match_ctx noop = {NULL, &stub};
    struct mw_event *ev = ev_json("{\"a\": 1}");
    struct mw_matcher *t = mw_matcher_new_fn(1);
    struct mw_matcher *f = mw_matcher_new_fn(2);
    struct mw_matcher *n = mw_matcher_new_fn(3);
    struct mw_matcher *g;
    struct mw_error err;

    (void)state;
    assert_int_equal(mw_matcher_validate(t, &err), 0);
    assert_int_equal(mw_matcher_eval(t, ev, &ctx), MW_TRUE);
    assert_int_equal(stub.calls, 1);
    assert_ptr_equal(stub.last_ev, ev);
    assert_int_equal(mw_matcher_eval(f, ev, &ctx), MW_FALSE);
    assert_int_equal(mw_matcher_eval(n, ev, &ctx), MW_NULL);
    assert_int_equal(stub.calls, 3);

    /* no context: null, nothing called */
    assert_int_equal(mw_matcher_eval(t, ev, NULL), MW_NULL);
    assert_int_equal(mw_matcher_eval(t, ev, &noop), MW_NULL);
    assert_int_equal(stub.calls, 3);

    /* inside groups */
    g = group2(MW_OP_NOT, t, NULL);
    assert_int_equal(mw_matcher_eval(g, ev, &ctx), MW_FALSE);
    assert_int_equal(mw_matcher_eval(g, ev, NULL), MW_NULL);
    mw_matcher_free(g);
    g = group2(MW_OP_ALL, num_leaf(MW_OP_EQ, "a", 1, true), n);
    assert_int_equal(mw_matcher_eval(g, ev, &ctx), MW_NULL);
    mw_matcher_free(g);
    g = group2(MW_OP_ANY, f, num_leaf(MW_OP_EQ, "a", 1, true));
    assert_int_equal(mw_matcher_eval(g, ev, &ctx), MW_TRUE);
    mw_matcher_free(g);
    mw_event_unref(ev);
}

/* ------------------------------------------------------------------------ */
/* construction errors and validate                                         */

static void test_add_value_errors(void **state)
{
    struct mw_error err;
    struct mw_matcher *m;
    (void)state;

    m = leaf(MW_OP_LT, "n");
    assert_int_equal(mw_matcher_add_string(m, "5", 1, false, &err), -1);
    assert_int_equal(mw_matcher_add_bool(m, true, &err), -1);
    assert_int_equal(mw_matcher_add_number(m, (double)NAN, false, &err), -1);
    assert_int_equal(mw_matcher_add_number(m, (double)INFINITY, false, &err), -1);
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    mw_matcher_free(m);

    m = leaf(MW_OP_EXISTS, "n");
    assert_int_equal(mw_matcher_add_string(m, "x", 1, false, &err), -1);
    assert_int_equal(mw_matcher_add_number(m, 1, true, &err), -1);
    assert_int_equal(mw_matcher_add_bool(m, true, &err), -1);
    mw_matcher_free(m);

    static const enum mw_op no_numbers[] = {MW_OP_PREFIX, MW_OP_SUFFIX, MW_OP_CONTAINS,
                                            MW_OP_LIKE, MW_OP_CIDR};
    for (size_t i = 0; i < sizeof no_numbers / sizeof no_numbers[0]; i++) {
        m = leaf(no_numbers[i], "f");
        assert_int_equal(mw_matcher_add_number(m, 1, true, &err), -1);
        assert_int_equal(mw_matcher_add_bool(m, false, &err), -1);
        mw_matcher_free(m);
    }

    m = mw_matcher_new_group(MW_OP_ALL);
    assert_int_equal(mw_matcher_add_string(m, "x", 1, false, &err), -1);
    mw_matcher_free(m);
    m = mw_matcher_new_fn(1);
    assert_int_equal(mw_matcher_add_string(m, "x", 1, false, &err), -1);
    mw_matcher_free(m);
}

static void test_validate(void **state)
{
    struct mw_error err;
    struct mw_matcher *m;
    (void)state;

    m = mw_matcher_new_leaf(MW_OP_EQ, NULL);
    err.msg[0] = '\0';
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    assert_non_null(strstr(err.msg, "no field"));
    mw_matcher_free(m);

    m = leaf(MW_OP_EQ, "f");
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    assert_non_null(strstr(err.msg, "no values"));
    mw_matcher_free(m);

    m = leaf(MW_OP_EXISTS, "f");
    assert_int_equal(mw_matcher_validate(m, &err), 0);
    mw_matcher_free(m);

    m = num_leaf(MW_OP_GT, "f", 1, true);
    assert_int_equal(mw_matcher_validate(m, &err), 0);
    assert_int_equal(mw_matcher_add_number(m, 2, true, &err), 0);
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    mw_matcher_free(m);

    m = mw_matcher_new_group(MW_OP_NOT);
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    mw_matcher_add_child(m, leaf(MW_OP_EXISTS, "a"));
    assert_int_equal(mw_matcher_validate(m, &err), 0);
    mw_matcher_add_child(m, leaf(MW_OP_EXISTS, "b"));
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    mw_matcher_free(m);

    m = mw_matcher_new_group(MW_OP_ALL);
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    mw_matcher_free(m);
    m = mw_matcher_new_group(MW_OP_ANY);
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    mw_matcher_free(m);

    /* an invalid grandchild makes the whole tree invalid */
    m = group2(MW_OP_ALL, leaf(MW_OP_EXISTS, "a"),
               group2(MW_OP_ANY, mw_matcher_new_fn(1), leaf(MW_OP_EQ, "novalues")));
    err.msg[0] = '\0';
    assert_int_equal(mw_matcher_validate(m, &err), -1);
    assert_non_null(strstr(err.msg, "novalues"));
    mw_matcher_free(m);

    m = group2(
        MW_OP_ALL, leaf(MW_OP_EXISTS, "a"),
        group2(MW_OP_ANY, mw_matcher_new_fn(1), str_leaf(MW_OP_EQ, "f", "v", false)));
    assert_int_equal(mw_matcher_validate(m, &err), 0);
    assert_int_equal(mw_matcher_validate(m, NULL), 0);
    mw_matcher_free(m);
    mw_matcher_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_eq_strings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eq_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eq_booleans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eq_value_list_any_of, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ieq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ieq_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_like, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_suffix_contains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comparisons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr_ipv4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr_invalid_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cidr_prefix_strict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ieq_real_field_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_category, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_any_element, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_field_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_valued_logic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_missing_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcard_edges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_value_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validate, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
