/* test_regex.c - cmocka tests for mw_regex: Lucene syntax to PCRE2, whole-value
 * matching, regex~, refused operators, and the match limit */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "mw_match.h"
#include "mw_regex.h"

#include "cmocka_json.h"

static int teardown(void **state)
{
    (void)state;
    return 0;
}

static void expect_tr(const char *lucene, const char *pcre)
{
    struct mw_buf out = MW_BUF_INIT;
    struct mw_error err;
    if (mw_regex_translate(lucene, strlen(lucene), &out, &err) < 0)
        fail_msg("translate(%s): %s", lucene, err.msg);
    assert_string_equal(out.ptr, pcre);
    mw_buf_release(&out);
}

static void expect_refused(const char *lucene, const char *why)
{
    struct mw_buf out = MW_BUF_INIT;
    struct mw_error err;
    assert_int_equal(mw_regex_translate(lucene, strlen(lucene), &out, &err), -1);
    if (strstr(err.msg, why) == NULL)
        fail_msg("translate(%s): '%s' does not say '%s'", lucene, err.msg, why);
    mw_buf_release(&out);
    assert_null(mw_regex_compile(lucene, strlen(lucene), false, &err));
}

static bool m(const char *lucene, bool ci, const char *s)
{
    struct mw_error err;
    struct mw_regex *re = mw_regex_compile(lucene, strlen(lucene), ci, &err);
    if (re == NULL)
        fail_msg("compile(%s): %s", lucene, err.msg);
    bool r = mw_regex_match(re, s, strlen(s));
    mw_regex_free(re);
    return r;
}

static void test_translate(void **state)
{
    (void)state;
    expect_tr("abc", "abc");
    expect_tr("a.c", "a.c");
    expect_tr("(ab|cd)+", "(?:ab|cd)+");
    expect_tr("[24][0-9]{3}", "[24][0-9]{3}");
    expect_tr("a{2,}b{1,3}", "a{2,}b{1,3}");
    expect_tr("[^/]+/.*", "[^\\/]+\\/.*");
    expect_tr("^x$", "\\^x\\$"); /* literal in Lucene */
    expect_tr("\\.\\d\\w", "\\.\\d\\w");
    expect_tr("\"a.b*\"c", "(?:a\\.b\\*)c"); /* a quoted literal */
    expect_tr("a**", "(?:a*)*");             /* stacked quantifiers repeat */
    expect_tr("a*?", "(?:a*)?");             /* not PCRE2's lazy *? */
    expect_tr("[a-]", "[a\\-]");
    expect_tr("\\@\\~\\<", "\\@\\~\\<");
    expect_tr("", "");
    expect_tr("é+", "é+");
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("a@", "'@'");
    expect_refused("a&b", "'&'");
    expect_refused("~a", "'~'");
    expect_refused("#", "'#'");
    expect_refused("<1-10>", "<n-m>");
    expect_refused("(ab", "'(' without ')'");
    expect_refused("ab)", "')' without '('");
    expect_refused("[ab", "unterminated character class");
    expect_refused("*a", "nothing to repeat");
    expect_refused("a{x}", "'{' must start a repeat");
    expect_refused("a{3,1}", "m < n");
    expect_refused("[z-a]", "out of order");
    expect_refused("ab\\", "at the end");
    expect_refused("\"ab", "unterminated");
}

static void test_match_whole_value(void **state)
{
    (void)state;
    assert_true(m("[24][0-9]{3}", false, "4625"));
    assert_false(m("[24][0-9]{3}", false, "14625")); /* anchored at the start */
    assert_false(m("[24][0-9]{3}", false, "46250")); /* and at the end */
    assert_true(m(".*(AWSLogs|CloudTrail).*", false, "bucket/AWSLogs/x"));
    assert_false(m(".*(AWSLogs|CloudTrail).*", false, "bucket/awslogs/x"));
    assert_true(m(".*(AWSLogs|CloudTrail).*", true, "bucket/awslogs/x")); /* regex~ */
    assert_true(m("a.c", false, "a\nc")); /* . is any character */
    assert_true(m("a.c", false,
                  "a\xc3\xa9"
                  "c")); /* one UTF-8 character */
    assert_true(m("^x$", false, "^x$"));
    assert_false(m("^x$", false, "x"));
    assert_true(m("a*?", false, "aaa"));
    assert_true(m("", false, ""));
    assert_false(m("", false, "a"));
    assert_true(m("-[^-]*[uz][^-]*", true, "-XZ"));
    assert_false(m("\\d+", false, "12a"));
    assert_true(m("\\d+", false, "123"));
    /* invalid UTF-8 in a subject is no match, never undefined behaviour */
    assert_false(m("a.", false, "a\xff"));
}

static void test_catastrophic_hits_limit(void **state)
{
    (void)state;
    char s[64];
    struct timespec t0, t1;
    memset(s, 'a', 40);
    s[40] = 'b';
    s[41] = '\0';
    uint64_t before = mw_regex_limit_hits();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(m("(.*a){20}", false, s));
    assert_false(m("((a+)+)+c?a", false, s));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(mw_regex_limit_hits() >= before + 1);
    double secs =
        (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (secs > 1.0)
        fail_msg("catastrophic patterns took %.2f s", secs);
    /* the same pattern still matches a value it accepts */
    assert_true(m("(.*a){3}", false, "xaxaxa"));
}

static struct mw_event *ev_json(const char *text)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (root == NULL)
        fail_msg("bad test JSON: %s: %s", text, jerr.text);
    return mw_event_new(root, 0, "test", 1, 0, 1);
}

static void test_matcher_leaf(void **state)
{
    (void)state;
    struct mw_error err;
    struct mw_matcher *leaf = mw_matcher_new_leaf(MW_OP_REGEX, mw_path_new("p.name"));
    assert_int_equal(mw_matcher_add_string(leaf, "cmd\\.exe", 8, false, &err), 0);
    assert_int_equal(mw_matcher_add_string(leaf, "power.*", 7, true, &err), 0);
    assert_int_equal(mw_matcher_validate(leaf, &err), 0);
    struct {
        const char *json;
        enum mw_tv want;
    } cases[] = {
        {"{\"p\":{\"name\":\"cmd.exe\"}}", MW_TRUE},
        {"{\"p\":{\"name\":\"cmdxexe\"}}", MW_FALSE},
        {"{\"p\":{\"name\":\"CMD.EXE\"}}", MW_FALSE},
        {"{\"p\":{\"name\":\"PowerShell.exe\"}}", MW_TRUE},
        {"{\"p\":{\"name\":[\"x\",\"cmd.exe\"]}}", MW_TRUE},
        {"{\"p\":{\"name\":42}}", MW_FALSE},
        {"{\"p\":{\"name\":null}}", MW_NULL},
        {"{\"p\":{}}", MW_NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mw_event *ev = ev_json(cases[i].json);
        assert_int_equal(mw_matcher_eval(leaf, ev, NULL), cases[i].want);
        mw_event_unref(ev);
    }
    /* a bad pattern and a number are refused when the rule is built */
    assert_int_equal(mw_matcher_add_string(leaf, "a@", 2, false, &err), -1);
    assert_non_null(strstr(err.msg, "'@'"));
    assert_int_equal(mw_matcher_add_number(leaf, 1, true, &err), -1);
    /* no prefilter literal: a regex has no required text we derive */
    struct mw_litcnf cnf = {0};
    mw_matcher_literals(leaf, &cnf);
    assert_int_equal(cnf.n, 0);
    mw_matcher_free(leaf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_translate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_whole_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_catastrophic_hits_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matcher_leaf, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
