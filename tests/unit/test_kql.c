/* test_kql.c - cmocka tests for the KQL front-end (mw_kql)
 *
 * Accepting cases compare the S-expression dump of the AST (mw_kql_dump)
 * with the expected text, so the tree's shape is checked exactly: value
 * lists folded into one leaf, and/or flattened, exact values in quotes,
 * wildcard patterns marked with '~'. Refusing cases check the message, and
 * one case the whole caret layout. Leaks show up in the ASan build of the
 * units (make asan), which runs this file too.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_kql.h"

#include <jansson.h>

#include "cmocka_json.h"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static struct mw_kql_node *parse_ok(const char *q)
{
    struct mw_buf err = MW_BUF_INIT;
    struct mw_kql_node *n = mw_kql_parse(q, strlen(q), &err);
    if (n == NULL) {
        print_error("%s\n", err.ptr);
        mw_buf_release(&err);
        fail_msg("refused: %s", q);
    }
    mw_buf_release(&err);
    return n;
}

static void ast(const char *q, const char *want)
{
    struct mw_kql_node *n = parse_ok(q);
    struct mw_buf out = MW_BUF_INIT;
    mw_kql_dump(n, &out);
    mw_kql_free(n);
    if (strcmp(out.ptr, want) != 0) {
        print_error("query %s\ngot   %s\nwant  %s\n", q, out.ptr, want);
        mw_buf_release(&out);
        fail();
    }
    mw_buf_release(&out);
}

static void bad(const char *q, const char *want)
{
    struct mw_buf err = MW_BUF_INIT;
    struct mw_kql_node *n = mw_kql_parse(q, strlen(q), &err);
    if (n != NULL) {
        mw_kql_free(n);
        mw_buf_release(&err);
        fail_msg("accepted: %s", q);
    }
    if (strstr(err.ptr, want) == NULL) {
        print_error("message:\n%s\n", err.ptr);
        mw_buf_release(&err);
        fail_msg("message lacks '%s'", want);
    }
    assert_non_null(strchr(err.ptr, '^'));
    mw_buf_release(&err);
}

/* ------------------------------------------------------------------------ */
/* accepted queries                                                         */

static void test_field_value(void **state)
{
    (void)state;
    ast("a:b", "(match a \"b\")");
    ast("  a : b  ", "(match a \"b\")");
    ast("event.dataset:\"azure.signinlogs\"",
        "(match event.dataset \"azure.signinlogs\")");
    ast("a:\"with spaces and: (specials)*\"",
        "(match a \"with spaces and: (specials)*\")");
    ast("a:b*", "(match a ~\"b*\")");
    ast("a:*b*c", "(match a ~\"*b*c\")");
    ast("a:\"b*\"", "(match a \"b*\")"); /* a phrase is never a pattern */
    ast("a:*", "(exists a)");
    ast("a:**", "(exists a)");
    ast("a:\"*\"", "(match a \"*\")");
    /* Kibana: an unquoted value may hold spaces, trailing ones trimmed */
    ast("process.name: cmd exe  and b:c",
        "(and (match process.name \"cmd exe\") (match b \"c\"))");
}

static void test_boolean_operators(void **state)
{
    (void)state;
    ast("a:1 and b:2 AND c:3 And d:4",
        "(and (match a \"1\") (match b \"2\") (match c \"3\") (match d \"4\"))");
    ast("a:1 or b:2 and c:3",
        "(or (match a \"1\") (and (match b \"2\") (match c \"3\")))");
    ast("(a:1 or b:2) and c:3",
        "(and (or (match a \"1\") (match b \"2\")) (match c \"3\"))");
    ast("not a:1", "(not (match a \"1\"))");
    ast("NOT (a:1 or b:2)", "(not (or (match a \"1\") (match b \"2\")))");
    ast("not(a:1)", "(not (match a \"1\"))");
    ast("a:1 and not b:2 and not c:*",
        "(and (match a \"1\") (not (match b \"2\")) (not (exists c)))");
    /* nested groups of the same operator are flattened */
    ast("(a:1 and (b:2 and c:3)) and d:4",
        "(and (match a \"1\") (match b \"2\") (match c \"3\") (match d \"4\"))");
    /* newlines are whitespace */
    ast("a:1 and\n  (b:2 or\n   c:3)\n",
        "(and (match a \"1\") (or (match b \"2\") (match c \"3\")))");
}

static void test_value_lists(void **state)
{
    (void)state;
    /* an or-list is one leaf with several values */
    ast("a:(x or y or \"z z\")", "(match a \"x\" \"y\" \"z z\")");
    ast("a:(x or y*)", "(match a \"x\" ~\"y*\")");
    /* field:a or field:b folds the same way */
    ast("a:x or a:y or b:z", "(or (match a \"x\" \"y\") (match b \"z\"))");
    ast("a:(x and y)", "(and (match a \"x\") (match a \"y\"))");
    ast("a:(x or y and z)", "(or (match a \"x\") (and (match a \"y\") (match a \"z\")))");
    ast("a:(* and not (GET or HEAD or OPTIONS))",
        "(and (exists a) (not (match a \"GET\" \"HEAD\" \"OPTIONS\")))");
    ast("a:(not x)", "(not (match a \"x\"))");
    ast("a:((x or y) or (z))", "(match a \"x\" \"y\" \"z\")");
}

static void test_ranges_and_nested(void **state)
{
    (void)state;
    ast("a >= 5", "(ge a \"5\")");
    ast("a<5 and b<=6 and c>7 and d >8",
        "(and (lt a \"5\") (le b \"6\") (gt c \"7\") (gt d \"8\"))");
    ast("@timestamp < \"2024-01-01\"", "(lt @timestamp \"2024-01-01\")");
    ast("deltas:{ action:\"ADD\" and role:(a or b) }",
        "(nested deltas (and (match action \"ADD\") (match role \"a\" \"b\")))");
    ast("x:{ y:{ z:1 } }", "(nested x (nested y (match z \"1\")))");
}

static void test_escapes(void **state)
{
    (void)state;
    ast("a:C\\:\\\\Windows\\\\*", "(match a ~\"C:\\\\Windows\\\\*\")");
    ast("a:\\(x\\) and b:\\\"q\\\"", "(and (match a \"(x)\") (match b \"\\\"q\\\"\"))");
    /* \n is tried first, as in Kibana: "\not" is a newline and "ot" */
    ast("a:\\or and b:\\AND and c:\\not",
        "(and (match a \"or\") (match b \"AND\") (match c \"\\x0aot\"))");
    ast("a:x\\*y", "(match a \"x*y\")"); /* an escaped star only: exact */
    ast("a:\"tab\\there \\\"q\\\" back\\\\slash\"",
        "(match a \"tab\\x09here \\\"q\\\" back\\\\slash\")");
    /* Kibana keeps other backslashes in a phrase as written */
    ast("a:\"NT AUTHORITY\\SYSTEM\"", "(match a \"NT AUTHORITY\\\\SYSTEM\")");
    ast("a:\"\\u0041\\u00e9\"", "(match a \"A\xc3\xa9\")");
    ast("a:\\u0041b", "(match a \"Ab\")");
    ast("a:\"\\u0000\"", "(match a \"\\x00\")");
}

static void test_fields(void **state)
{
    (void)state;
    ast("*.name:x", "(match *.name \"x\")");
    ast("\"quoted field\":x", "(match quoted field \"x\")");
    ast("freetext", "(match _ \"freetext\")");
    ast("\"a phrase\" or b:1", "(or (match _ \"a phrase\") (match b \"1\"))");
}

static void test_values(void **state)
{
    (void)state;
    struct mw_kql_node *n = parse_ok("a:(403 or -1.5e3 or true or \"7\" or 1x or 9*)");
    assert_int_equal(n->kind, MW_KQL_MATCH);
    assert_int_equal(n->nvals, 6);
    assert_true(n->vals[0].is_number && n->vals[0].is_int);
    assert_int_equal(n->vals[0].ival, 403);
    assert_true(n->vals[1].is_number && !n->vals[1].is_int);
    assert_true(n->vals[1].num == -1500.0);
    assert_true(n->vals[2].is_bool && n->vals[2].b);
    assert_true(n->vals[3].quoted && n->vals[3].is_number);
    assert_false(n->vals[4].is_number);
    assert_true(n->vals[5].wildcard && !n->vals[5].is_number);
    assert_int_equal(n->line, 1);
    assert_int_equal(n->col, 1);
    mw_kql_free(n);
}

static void test_check(void **state)
{
    (void)state;
    struct mw_buf why = MW_BUF_INIT;
    struct mw_kql_node *n = parse_ok("a:b and c:(x* or y)");
    assert_int_equal(mw_kql_check(n, &why), 0);
    assert_int_equal(why.len, 0);
    mw_kql_free(n);
    n = parse_ok("a:b and\nfree or *.x:1 or c:a?b* or d:a\\*b*");
    assert_int_equal(mw_kql_check(n, &why), 4);
    assert_non_null(strstr(why.ptr, "2:1: free-text term"));
    assert_non_null(strstr(why.ptr, "2:9: field-name pattern"));
    assert_non_null(strstr(why.ptr, "2:18: wildcard value with a literal"));
    mw_kql_free(n);
    mw_buf_release(&why);
    /* a '?' in an exact value is just a character */
    n = parse_ok("c:a?b");
    assert_int_equal(mw_kql_check(n, NULL), 0);
    mw_kql_free(n);
}

/* ------------------------------------------------------------------------ */
/* refused queries                                                          */

static void test_errors(void **state)
{
    (void)state;
    bad("", "1:1: empty query");
    bad("   \n ", "empty query");
    bad("a:b c:d", "1:6: expected 'and', 'or' or the end of the query");
    bad("a:(b or c", "1:10: expected ')' to close the value list, found the end");
    bad("(a:b", "expected ')' to close the group");
    bad("a:b)", "1:4: expected 'and', 'or' or the end of the query, found ')'");
    bad("a:", "expected a value, found the end");
    bad("a:b and", "1:8: expected a field or a value, found the end of the query");
    bad("a:b and or c:d", "1:9: expected a field or a value, found 'or'");
    bad("a >= ", "expected a value after the comparison");
    bad("a:{ b:1 ", "expected '}' to close the nested query");
    bad("a:\"open", "1:3: unterminated quoted string");
    bad("a:\\q", "1:3: invalid escape sequence '\\q'");
    bad("a:b\\", "a backslash at the end of the query");
    bad(":b", "1:1: expected a field or a value, found ':'");
    bad("a:<", "expected a value, found '<'");
}

static void test_caret(void **state)
{
    (void)state;
    struct mw_buf err = MW_BUF_INIT;
    const char *q = "x:1 and\n\ty:(a or\n\t   b c:d)";
    assert_null(mw_kql_parse(q, strlen(q), &err));
    assert_string_equal(err.ptr, "3:8: expected ')' to close the value list, found ':'\n"
                                 "\t   b c:d)\n"
                                 "\t      ^");
    mw_buf_release(&err);
    /* err may be NULL; src need not be NUL-terminated */
    assert_null(mw_kql_parse("a:(", 3, NULL));
    struct mw_kql_node *n = mw_kql_parse("a:bXXXX", 3, NULL);
    assert_non_null(n);
    assert_string_equal(n->vals[0].s, "b");
    mw_kql_free(n);
    assert_null(mw_kql_parse(NULL, 0, NULL));
}

static void test_depth(void **state)
{
    (void)state;
    char q[400];
    size_t n = 0;
    for (int i = 0; i < 100; i++)
        q[n++] = '(';
    q[n++] = 'a';
    q[n++] = ':';
    q[n++] = 'b';
    for (int i = 0; i < 100; i++)
        q[n++] = ')';
    q[n] = '\0';
    bad(q, "nested deeper than 64 levels");
    n = 0;
    for (int i = 0; i < 80; i++)
        n += (size_t)snprintf(q + n, sizeof(q) - n, "not ");
    snprintf(q + n, sizeof(q) - n, "a:b");
    bad(q, "nested deeper than 64 levels");
    ast("((((a:b))))", "(match a \"b\")");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_field_value, setup),
        cmocka_unit_test_setup(test_boolean_operators, setup),
        cmocka_unit_test_setup(test_value_lists, setup),
        cmocka_unit_test_setup(test_ranges_and_nested, setup),
        cmocka_unit_test_setup(test_escapes, setup),
        cmocka_unit_test_setup(test_fields, setup),
        cmocka_unit_test_setup(test_values, setup),
        cmocka_unit_test_setup(test_check, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_caret, setup),
        cmocka_unit_test_setup(test_depth, setup),
    };
    return cmocka_run_group_tests_name("kql", tests, NULL, NULL);
}
