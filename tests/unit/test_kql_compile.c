/* test_kql_compile.c - cmocka tests for KQL -> rule builder (kql_compile.c)
 * and the Elastic rule object -> rule (elastic_rule.c)
 *
 * Each case compiles a query into a single-event rule and evaluates its
 * matcher on events, so the semantics (exact and case-sensitive values,
 * number readings, wildcards, exists, ranges, the two-valued `not`) are
 * checked through the same matchers the engine runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_builder.h"
#include "mw_elastic.h"
#include "mw_event.h"
#include "mw_kql.h"
#include "mw_rule.h"

#include <jansson.h>

static struct mw_rule *compile(const char *q, struct mw_error *err, const char **reason)
{
    struct mw_rule_builder *b = mw_rb_new("t");
    struct mw_rb_meta m = {.id = "t", .name = "t", .risk_score = -1};
    int h;
    if (mw_rb_meta(b, &m, "t", err) < 0 ||
        mw_kql_emit_text(b, q, strlen(q), "t", err, reason) < 0 ||
        (h = mw_rb_match_done(b, "t", err)) < 0 || mw_rb_query(b, h, "t", err) < 0) {
        mw_rb_free(b);
        return NULL;
    }
    return mw_rb_finish(b, err);
}

/* Does q match the event given as JSON text? */
static bool matches(const char *q, const char *event)
{
    struct mw_error err = {{0}};
    struct mw_rule *r = compile(q, &err, NULL);
    json_t *root = json_loads(event, 0, NULL);
    struct mw_event *ev;
    bool ok;
    if (r == NULL)
        fail_msg("%s: %s", q, err.msg);
    assert_non_null(root);
    ev = mw_event_new(root, 0, "t", 1, 0, 1);
    ok = mw_matcher_eval(mw_rule_where(r), ev, mw_rule_ctx(r)) == MW_TRUE;
    mw_event_unref(ev);
    mw_rule_free(r);
    return ok;
}

static void test_exact_case_sensitive(void **state)
{
    (void)state;
    assert_true(matches("a:Foo", "{\"a\":\"Foo\"}"));
    assert_false(matches("a:Foo", "{\"a\":\"foo\"}"));
    assert_true(matches("a:\"x y\"", "{\"a\":\"x y\"}"));
    assert_true(matches("a:(b or c)", "{\"a\":\"c\"}"));
    assert_true(matches("a:(b or c)", "{\"a\":[\"z\",\"b\"]}"));
    assert_false(matches("a:(b or c)", "{\"a\":\"d\"}"));
}

static void test_number_and_bool_readings(void **state)
{
    (void)state;
    assert_true(matches("code:403", "{\"code\":403}"));
    assert_true(matches("code:403", "{\"code\":\"403\"}"));
    assert_false(matches("code:403", "{\"code\":404}"));
    assert_true(matches("f:true", "{\"f\":true}"));
    assert_true(matches("f:true", "{\"f\":\"true\"}"));
}

static void test_wildcards_exists_ranges(void **state)
{
    (void)state;
    assert_true(matches("p:*\\\\cmd.exe", "{\"p\":\"C:\\\\Windows\\\\cmd.exe\"}"));
    assert_false(matches("p:*cmd.exe", "{\"p\":\"CMD.EXE\"}"));
    assert_true(matches("p:(x or y*)", "{\"p\":\"yes\"}"));
    assert_true(matches("u:*", "{\"u\":\"x\"}"));
    assert_false(matches("u:*", "{\"v\":1}"));
    assert_true(matches("n >= 5", "{\"n\":5}"));
    assert_false(matches("n > 5", "{\"n\":5}"));
    assert_true(matches("n < 2.5", "{\"n\":2}"));
    assert_true(
        matches("source.ip:\"10.0.0.0/8\"", "{\"source\":{\"ip\":\"10.1.2.3\"}}"));
    assert_false(
        matches("source.ip:\"10.0.0.0/8\"", "{\"source\":{\"ip\":\"11.1.2.3\"}}"));
}

/* KQL is two-valued: `not f:x` holds when f is missing */
static void test_not_missing_field(void **state)
{
    (void)state;
    assert_true(matches("a:1 and not b:x", "{\"a\":1}"));
    assert_false(matches("a:1 and not b:x", "{\"a\":1,\"b\":\"x\"}"));
    assert_true(matches("not (b:x and c:y)", "{}"));
    assert_true(matches("not n > 3", "{}"));
    assert_true(matches("not not a:1", "{\"a\":1}"));
    assert_false(matches("not not a:1", "{}"));
    assert_true(matches("not b:*", "{}"));
}

static void test_refusals(void **state)
{
    static const struct {
        const char *q, *reason;
    } cases[] = {
        {"free text", "free-text"},
        {"a.*.b:x", "field-name pattern"},
        {"a:{ b:x and c:y }", "nested query"},
        {"@timestamp > now-1d", "range on a value that is not a number"},
        {"a:(b or", "KQL syntax error"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mw_error err = {{0}};
        const char *reason = NULL;
        struct mw_rule *r = compile(cases[i].q, &err, &reason);
        assert_null(r);
        assert_non_null(reason);
        if (strstr(reason, cases[i].reason) == NULL)
            fail_msg("%s: reason '%s'", cases[i].q, reason);
        assert_non_null(strstr(err.msg, "t: KQL"));
    }
}

static struct mw_rule *elastic(const char *json, struct mw_elastic_info *info,
                               struct mw_error *err)
{
    json_t *r = json_loads(json, 0, NULL);
    struct mw_rule *rule;
    assert_non_null(r);
    rule = mw_elastic_build(r, "x.toml", info, err);
    json_decref(r);
    return rule;
}

static void test_elastic_types(void **state)
{
    struct mw_elastic_info info;
    struct mw_error err = {{0}};
    struct mw_rule *r;
    (void)state;
    r = elastic("{\"rule_id\":\"id1\",\"name\":\"n\",\"type\":\"query\",\"language\":"
                "\"kuery\",\"query\":\"a:b\",\"severity\":\"high\",\"risk_score\":73,"
                "\"index\":[\"logs-azure.signinlogs-*\"],\"tags\":[\"t1\"]}",
                &info, &err);
    if (r == NULL)
        fail_msg("%s", err.msg);
    assert_string_equal(mw_rule_meta(r)->id, "id1");
    assert_int_equal(mw_rule_meta(r)->risk_score, 73);
    assert_int_equal(mw_rule_kind(r), MW_RULE_QUERY);
    mw_rule_free(r);
    r = elastic(
        "{\"rule_id\":\"id2\",\"name\":\"n\",\"type\":\"threshold\",\"query\":"
        "\"a:b\",\"from\":\"now-9m\",\"threshold\":{\"field\":[\"u\"],\"value\":1,"
        "\"cardinality\":[{\"field\":\"ip\",\"value\":3}]}}",
        &info, &err);
    assert_non_null(r);
    assert_int_equal(mw_rule_window(r)->kind, MW_WINDOW_DISTINCT);
    assert_int_equal(mw_rule_window(r)->count, 3);
    mw_rule_free(r);
    r = elastic("{\"rule_id\":\"id3\",\"name\":\"n\",\"type\":\"threshold\",\"query\":"
                "\"a:b\",\"threshold\":{\"field\":[],\"value\":30,\"cardinality\":[{"
                "\"field\":\"ip\",\"value\":3}]}}",
                &info, &err);
    assert_null(r);
    assert_non_null(strstr(info.reason, "several aggregate conditions"));
    r = elastic("{\"rule_id\":\"id4\",\"name\":\"n\",\"type\":\"new_terms\",\"query\":"
                "\"a:b\",\"new_terms\":{\"field\":\"new_terms_fields\",\"value\":[\"u\","
                "\"ip\"],\"history_window_start\":[{\"field\":\"history_window_start\","
                "\"value\":\"now-14d\"}]}}",
                &info, &err);
    if (r == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(mw_rule_window(r)->kind, MW_WINDOW_NEW_TERMS);
    assert_int_equal(mw_rule_window(r)->nby, 2);
    mw_rule_free(r);
    /* type eql compiles through the EQL front-end; what it cannot compile
     * yet is refused with the construct as the reason */
    r = elastic("{\"rule_id\":\"id5\",\"name\":\"n\",\"type\":\"eql\",\"query\":\"any "
                "where process.name == \\\"x\\\"\"}",
                &info, &err);
    if (r == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(mw_rule_kind(r), MW_RULE_QUERY);
    mw_rule_free(r);
    r = elastic("{\"rule_id\":\"id6\",\"name\":\"n\",\"type\":\"eql\",\"query\":\"sample "
                "by h [any where a == 1] [any where b == 2]\"}",
                &info, &err);
    assert_null(r);
    assert_string_equal(info.type, "eql");
    assert_non_null(strstr(info.reason, "eql: sample"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_case_sensitive),
        cmocka_unit_test(test_number_and_bool_readings),
        cmocka_unit_test(test_wildcards_exists_ranges),
        cmocka_unit_test(test_not_missing_field),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_elastic_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
