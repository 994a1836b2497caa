/* test_prefilter.c - cmocka tests for literal extraction, the prefilter's
 * line test and the timestamp scanner
 *
 * Matcher trees are built with the mw_match constructors; the prefilter is
 * built from real rule files (rules/ and tests/fixtures/prefilter/, loaded in
 * their sandboxes from the repository root, where run-all.sh runs units).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_match.h"
#include "mw_prefilter.h"
#include "mw_rule.h"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static struct mw_matcher *leaf(enum mw_op op, const char *path, const char *val, bool ci)
{
    struct mw_matcher *m = mw_matcher_new_leaf(op, mw_path_new(path));
    if (val)
        assert_int_equal(mw_matcher_add_string(m, val, strlen(val), ci, NULL), 0);
    return m;
}

static struct mw_matcher *num_leaf(enum mw_op op, const char *path, double v)
{
    struct mw_matcher *m = mw_matcher_new_leaf(op, mw_path_new(path));
    assert_int_equal(mw_matcher_add_number(m, v, true, NULL), 0);
    return m;
}

static struct mw_matcher *group(enum mw_op op, struct mw_matcher *a, struct mw_matcher *b)
{
    struct mw_matcher *g = mw_matcher_new_group(op);
    mw_matcher_add_child(g, a);
    if (b)
        mw_matcher_add_child(g, b);
    return g;
}

/* "lit|lit;lit" : clauses separated by ';', literals by '|', ci marked '~' */
static void render(const struct mw_litcnf *c, char *buf, size_t size)
{
    size_t pos = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        for (size_t k = 0; k < c->sets[i].n; k++) {
            const struct mw_lit *l = &c->sets[i].lits[k];
            pos += (size_t)snprintf(buf + pos, size - pos, "%s%s%.*s", k ? "|" : "",
                                    l->ci ? "~" : "", (int)l->len, l->s);
        }
        if (i + 1 < c->n)
            pos += (size_t)snprintf(buf + pos, size - pos, ";");
    }
}

static void expect_lits(struct mw_matcher *m, const char *want)
{
    struct mw_litcnf c = {0};
    char buf[1024];
    mw_matcher_literals(m, &c);
    render(&c, buf, sizeof(buf));
    assert_string_equal(buf, want);
    mw_litcnf_free(&c);
    mw_matcher_free(m);
}

/* ------------------------------------------------------------------------ */
/* literal extraction                                                       */

static void test_leaves(void **state)
{
    (void)state;
    expect_lits(leaf(MW_OP_EQ, "event.dataset", "azure.signinlogs", false),
                "azure.signinlogs");
    expect_lits(leaf(MW_OP_CONTAINS, "a", "needle", true), "~needle");
    expect_lits(leaf(MW_OP_PREFIX, "a", "Micro", false), "Micro");
    expect_lits(leaf(MW_OP_SUFFIX, "a", "/action", false), "/action");
    expect_lits(leaf(MW_OP_CATEGORY, "event.category", "authentication", false),
                "authentication");
    /* ieq is case-insensitive: the value is lowercased */
    expect_lits(leaf(MW_OP_IEQ, "a", "Success", false), "~success");
    /* wildcards: the longest plain run */
    expect_lits(leaf(MW_OP_IEQ, "a", "*/listClusterUserCredential/*", false),
                "~/listclusterusercredential/");
    expect_lits(leaf(MW_OP_LIKE, "a", "ab*cdef?g", false), "cdef");
    /* numbers can be written many ways in JSON: no literal */
    expect_lits(num_leaf(MW_OP_EQ, "code", 0), "");
    expect_lits(leaf(MW_OP_IEQ, "code", "100", false), "");
    expect_lits(leaf(MW_OP_IEQ, "code", "1*", false), "");
    expect_lits(leaf(MW_OP_IEQ, "a", "*", false), "");
    expect_lits(leaf(MW_OP_EXISTS, "a", NULL, false), "");
    expect_lits(num_leaf(MW_OP_GT, "a", 3), "");
    struct mw_matcher *cidr = leaf(MW_OP_CIDR, "source.ip", "10.0.0.0/8", false);
    expect_lits(cidr, "");
    /* several values: any of them */
    struct mw_matcher *m = leaf(MW_OP_IEQ, "event.outcome", "Success", false);
    assert_int_equal(mw_matcher_add_string(m, "partial", 7, false, NULL), 0);
    expect_lits(m, "~success|~partial");
    /* one value without a literal spoils the leaf */
    m = leaf(MW_OP_IEQ, "a", "abc", false);
    assert_int_equal(mw_matcher_add_string(m, "42", 2, false, NULL), 0);
    expect_lits(m, "");
}

static void test_groups(void **state)
{
    (void)state;
    /* all: every child's clause is necessary */
    expect_lits(group(MW_OP_ALL, leaf(MW_OP_EQ, "a", "x1", false),
                      group(MW_OP_ALL, num_leaf(MW_OP_EQ, "b", 0),
                            leaf(MW_OP_EQ, "c", "y2", false))),
                "x1;y2");
    /* any: the union of one clause per child */
    expect_lits(group(MW_OP_ANY, leaf(MW_OP_EQ, "a", "x1", false),
                      group(MW_OP_ALL, leaf(MW_OP_EQ, "b", "long-literal", false),
                            leaf(MW_OP_IEQ, "c", "ci", false))),
                "x1|long-literal");
    /* any with a child without literal: none */
    expect_lits(
        group(MW_OP_ANY, leaf(MW_OP_EQ, "a", "x1", false), num_leaf(MW_OP_EQ, "b", 1)),
        "");
    /* not and Lua predicates give nothing; their siblings in an all do */
    expect_lits(group(MW_OP_NOT, leaf(MW_OP_EQ, "a", "x1", false), NULL), "");
    expect_lits(group(MW_OP_ALL, mw_matcher_new_fn(1), leaf(MW_OP_EQ, "a", "x1", false)),
                "x1");
    expect_lits(mw_matcher_new_fn(1), "");
}

static void test_scores(void **state)
{
    (void)state;
    struct mw_lit cs = {"azure.activitylogs", 18, false};
    struct mw_lit ci = {
        "microsoft.kubernetes/connectedclusters/listclusterusercredential/action", 70,
        true};
    struct mw_litset a = {&cs, 1}, b = {&ci, 1};
    assert_true(mw_lit_escapable(&ci));
    assert_false(mw_lit_escapable(&cs));
    assert_true(mw_litset_score(&a) > mw_litset_score(&b));
}

/* ------------------------------------------------------------------------ */
/* the line test, on real rules                                             */

static struct mw_prefilter *build(const char *const *files, size_t n)
{
    struct mw_rule *rules[4] = {0};
    struct mw_sandbox_limits lim = {0};
    for (size_t i = 0; i < n; i++) {
        struct mw_error err;
        rules[i] = mw_rule_load(files[i], "lua", &lim, &err);
        if (rules[i] == NULL)
            fail_msg("%s", err.msg);
    }
    struct mw_prefilter *pf = mw_prefilter_build(rules, n);
    for (size_t i = 0; i < n; i++)
        mw_rule_free(rules[i]); /* the prefilter holds copies */
    return pf;
}

static bool pass(const struct mw_prefilter *pf, const char *line)
{
    return mw_prefilter_pass(pf, line, strlen(line));
}

/* the Arc rule's two steps, as one line each would need them */
#define SIGNIN                                                                           \
    "{\"event\":{\"dataset\":\"azure.signinlogs\",\"category\":[\"authentication\"]},"   \
    "\"azure\":{\"signinlogs\":{\"category\":\"ServicePrincipalSignInLogs\"}}}"
#define LISTING                                                                          \
    "{\"event\":{\"dataset\":\"azure.activitylogs\",\"outcome\":\"success\"},"           \
    "\"op\":\"MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/"         \
    "ACTION\"}"

static void test_pass_arc(void **state)
{
    (void)state;
    static const char *const files[] = {
        "rules/azure/sp_signin_then_arc_credential_access.lua"};
    struct mw_prefilter *pf = build(files, 1);
    assert_true(mw_prefilter_active(pf));
    assert_null(mw_prefilter_off_reason(pf));
    assert_true(pass(pf, SIGNIN));
    assert_true(pass(pf, LISTING));
    /* the operation name may be written in any case, its "/" as "\/" */
    assert_true(pass(
        pf, "{\"event\":{\"dataset\":\"azure.activitylogs\",\"outcome\":\"Success\"},"
            "\"op\":\"Microsoft.Kubernetes\\/connectedClusters\\/"
            "listClusterUserCredential\\/action\"}"));
    /* every literal of a step is needed: one alone is not enough */
    assert_false(pass(pf, "{\"x\":\"ServicePrincipalSignInLogs\"}"));
    assert_false(pass(pf, "{\"event\":{\"dataset\":\"azure.activitylogs\"}}"));
    /* an activity record of another operation: in the data set, but no step
     * can match it */
    assert_false(pass(
        pf, "{\"event\":{\"dataset\":\"azure.activitylogs\",\"outcome\":\"success\"},"
            "\"op\":\"MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/WRITE\"}"));
    /* nor the sign-in of a user */
    assert_false(pass(pf, "{\"event\":{\"dataset\":\"azure.signinlogs\",\"category\":"
                          "[\"authentication\"]},\"azure\":{\"signinlogs\":{\"category\":"
                          "\"NonInteractiveUserSignInLogs\"}}}"));
    assert_false(pass(pf, "{\"event\":{\"dataset\":\"azure.auditlogs\"}}"));
    /* case matters for eq literals */
    assert_false(pass(pf, "{\"event\":{\"dataset\":\"AZURE.SIGNINLOGS\",\"category\":"
                          "[\"authentication\"]},\"c\":\"ServicePrincipalSignInLogs\"}"));
    /* a \u escape could spell a literal: parse */
    assert_true(pass(pf, "{\"event\":{\"dataset\":\"\\u0061zure.activitylogs\"}}"));
    /* an escaped backslash before a u is not a \u escape */
    assert_false(pass(pf, "{\"p\":\"C:\\\\users\",\"d\":\"azure.auditlogs\"}"));
    assert_true(pass(pf, "{\"p\":\"C:\\\\\\u0041\"}"));
    /* other escapes cannot hide these literals (no escapable bytes) */
    assert_false(pass(pf, "{\"log\":\"say \\\"hi\\\"\",\"d\":\"azure.auditlogs\"}"));
    /* a literal split across the line's end is not there */
    assert_false(pass(pf, "azure.activity"));
    mw_prefilter_free(pf);
}

static void test_pass_ci_slash(void **state)
{
    (void)state;
    static const char *const files[] = {"tests/fixtures/prefilter/ci_and_slash.lua"};
    struct mw_prefilter *pf = build(files, 1);
    assert_true(mw_prefilter_active(pf));
    assert_true(
        pass(pf, "{\"op\":\"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION\"}"));
    assert_true(
        pass(pf, "{\"op\":\"Microsoft.Compute/virtualMachines/runCommand/action\"}"));
    assert_true(pass(
        pf, "{\"op\":\"microsoft.compute\\/virtualmachines\\/runcommand\\/action\"}"));
    /* one literal of an `any` with others is searched by its longest run
     * without escapable bytes: sound, not exact (the parse decides) */
    assert_true(pass(pf, "{\"op\":\"Microsoft.Compute/virtualMachines/write\"}"));
    assert_false(pass(pf, "{\"op\":\"Microsoft.Network/networkSecurityGroups/write\"}"));
    assert_true(pass(pf, "{\"log\":\"run/secret\"}"));
    assert_true(pass(pf, "{\"log\":\"run\\/secret\"}"));
    /* a backslash alone no longer lets a line through: both literals have
     * escape-free runs to look for */
    assert_false(pass(pf, "{\"log\":\"C:\\\\temp\"}"));
    mw_prefilter_free(pf);
}

/* A literal too short to split ("/me") counts as present on any line with
 * a backslash; a lone literal with escapable bytes needs all its runs. */
static void test_pass_escapable_parts(void **state)
{
    (void)state;
    static const char *const files[] = {"tests/fixtures/prefilter/escapable_parts.lua"};
    struct mw_prefilter *pf = build(files, 1);
    assert_true(mw_prefilter_active(pf));
    /* step 1: eq "azure.activitylogs" and eq op
     * "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE" */
    assert_true(pass(pf, "{\"d\":\"azure.activitylogs\",\"op\":"
                         "\"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE\"}"));
    assert_false(pass(pf, "{\"d\":\"azure.activitylogs\",\"op\":"
                          "\"MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/DELETE\"}"));
    /* step 2: eq "azure.graphactivitylogs" and path any of "/me", "/users" */
    assert_true(pass(pf, "{\"d\":\"azure.graphactivitylogs\",\"p\":\"/users\"}"));
    assert_false(pass(pf, "{\"d\":\"azure.graphactivitylogs\",\"p\":\"/groups\"}"));
    assert_true(pass(pf, "{\"d\":\"azure.graphactivitylogs\",\"p\":\"\\/groups\"}"));
    mw_prefilter_free(pf);
}

static void test_off_for_lua_only(void **state)
{
    (void)state;
    static const char *const files[] = {
        "rules/azure/sp_signin_then_arc_credential_access.lua",
        "tests/fixtures/prefilter/lua_only.lua",
    };
    struct mw_prefilter *pf = build(files, 2);
    assert_false(mw_prefilter_active(pf));
    assert_non_null(strstr(mw_prefilter_off_reason(pf), "test-lua-only"));
    assert_true(pass(pf, "{\"anything\":1}"));
    mw_prefilter_free(pf);
}

/* ------------------------------------------------------------------------ */
/* timestamp scanner                                                        */

static int scan(const char *line, mw_time_t *ts)
{
    return mw_prefilter_scan_ts(line, strlen(line), "@timestamp", 10, ts);
}

static void test_scan_ts(void **state)
{
    (void)state;
    mw_time_t ts = 0;
    assert_int_equal(scan("{\"@timestamp\":\"2022-02-08T06:22:28.351Z\",\"a\":1}", &ts),
                     0);
    assert_int_equal(ts, INT64_C(1644301348351000));
    /* not first: earlier members are skipped, nested ones ignored */
    assert_int_equal(
        scan(" { \"a\" : "
             "{\"@timestamp\":\"1999-01-01T00:00:00Z\",\"b\":[1,{\"c\":\"}\"}]},"
             " \"s\":\"x\\\"y\" , \"@timestamp\" : \"2022-02-08T06:22:28.351Z\"}",
             &ts),
        0);
    assert_int_equal(ts, INT64_C(1644301348351000));
    /* epoch milliseconds, as mw_time_from_json reads them */
    assert_int_equal(scan("{\"@timestamp\":1644301348351}", &ts), 0);
    assert_int_equal(ts, INT64_C(1644301348351000));
    assert_int_equal(scan("{\"@timestamp\":1644301348351.5,\"x\":0}", &ts), 0);
    assert_int_equal(ts, INT64_C(1644301348351500));
    /* what the scanner leaves to the full parse (which reports it) */
    ts = 7;
    assert_int_equal(scan("{\"a\":1}", &ts), -1); /* missing */
    assert_int_equal(scan("{\"a\":{\"@timestamp\":\"2022-02-08T06:22:28Z\"}}", &ts), -1);
    assert_int_equal(scan("{\"@timestamp\":\"not a date\"}", &ts), -1);
    assert_int_equal(scan("{\"@timestamp\":\"2022-02-08T06:22:28\\u005a\"}", &ts), -1);
    assert_int_equal(scan("{\"@time\\u0073tamp\":\"2022-02-08T06:22:28Z\"}", &ts), -1);
    assert_int_equal(scan("{\"@timestamp\":null}", &ts), -1);
    assert_int_equal(scan("{\"@timestamp\":true}", &ts), -1);
    assert_int_equal(scan("{\"@timestamp\":01}", &ts), -1);
    assert_int_equal(scan("[{\"@timestamp\":\"2022-02-08T06:22:28Z\"}]", &ts), -1);
    assert_int_equal(scan("{\"@timestamp\":\"2022-02-08T06:22:28Z", &ts), -1); /* cut */
    assert_int_equal(scan("{\"a\":\"unterminated", &ts), -1);
    assert_int_equal(scan("", &ts), -1);
    assert_int_equal(ts, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaves),
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_scores),
        cmocka_unit_test(test_pass_arc),
        cmocka_unit_test(test_pass_ci_slash),
        cmocka_unit_test(test_pass_escapable_parts),
        cmocka_unit_test(test_off_for_lua_only),
        cmocka_unit_test(test_scan_ts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
