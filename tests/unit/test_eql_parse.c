/* test_eql_parse.c - cmocka tests for the EQL front end (mw_eql_parse)
 *
 * Each construct is checked through the JSON dump of its tree
 * (mw_eql_dump): expected trees are written as JSON with single quotes
 * (turned into double quotes before comparing, so no test string holds a
 * single quote) and compared with json_equal. Errors are checked on their
 * message, position and caret text; limits on hostile inputs (deep nesting,
 * long chains, huge text). jansson runs on cmocka's allocator, so a leaked
 * dump fails the test; the arena itself is checked by the ASan build.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mw_eql.h"

#include "cmocka_json.h"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static json_t *expected_json(const char *text)
{
    char *s = test_malloc(strlen(text) + 1);
    for (size_t i = 0; text[i] != '\0'; i++)
        s[i] = text[i] == '\'' ? '"' : text[i];
    s[strlen(text)] = '\0';
    json_error_t jerr;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &jerr);
    if (v == NULL)
        fail_msg("bad expected JSON: %s: %s", s, jerr.text);
    test_free(s);
    return v;
}

static void check_json(json_t *got, const char *want, const char *query)
{
    json_t *w = expected_json(want);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        print_error("query: %s\n  got:  %s\n  want: %s\n", query, g, want);
        json_test_free(g);
        json_decref(w);
        json_decref(got);
        fail();
    }
    json_decref(w);
    json_decref(got);
}

static struct mw_eql_query *parse_ok(const char *query)
{
    struct mw_eql_error err;
    mw_eql_error_init(&err);
    struct mw_eql_query *q = mw_eql_parse(query, strlen(query), NULL, &err);
    if (q == NULL) {
        print_error("query: %s\n%s\n", query, err.text.ptr);
        mw_eql_error_release(&err);
        fail();
    }
    mw_eql_error_release(&err);
    return q;
}

/* the where of `any where <cond>` */
static void expect_cond(const char *cond, const char *want)
{
    char query[4096];
    snprintf(query, sizeof(query), "any where %s", cond);
    struct mw_eql_query *q = parse_ok(query);
    assert_int_equal(q->type, MW_EQL_EVENT);
    assert_int_equal(q->nsteps, 1);
    check_json(mw_eql_dump_node(q->steps[0].where), want, query);
    mw_eql_free(q);
}

static void expect_query(const char *query, const char *want)
{
    struct mw_eql_query *q = parse_ok(query);
    check_json(mw_eql_dump(q), want, query);
    mw_eql_free(q);
}

/* Parses a query that must fail; checks the message contains `msg` and, when
 * line > 0, the position. Returns nothing; the error text is printed on a
 * mismatch. */
static void expect_error_at(const char *query, size_t len, const char *msg, unsigned line,
                            unsigned col)
{
    struct mw_eql_error err;
    mw_eql_error_init(&err);
    struct mw_eql_query *q = mw_eql_parse(query, len, NULL, &err);
    if (q != NULL) {
        mw_eql_free(q);
        fail_msg("query parsed but should not: %s", query);
    }
    if (strstr(err.msg.ptr, msg) == NULL ||
        (line > 0 && (err.line != line || err.col != col))) {
        print_error("query: %s\n  got: %u:%u %s\n  want: %u:%u ...%s...\n", query,
                    err.line, err.col, err.msg.ptr, line, col, msg);
        mw_eql_error_release(&err);
        fail();
    }
    mw_eql_error_release(&err);
}

static void expect_error(const char *query, const char *msg)
{
    expect_error_at(query, strlen(query), msg, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* literals and fields                                                      */

static void test_literals(void **state)
{
    (void)state;
    expect_cond("x == 42", "['==', {'field': 'x'}, 42]");
    expect_cond("x == -42", "['==', {'field': 'x'}, -42]");
    expect_cond("x == 1.5", "['==', {'field': 'x'}, 1.5]");
    expect_cond("x == .5", "['==', {'field': 'x'}, 0.5]");
    expect_cond("x == 2e3", "['==', {'field': 'x'}, 2000.0]");
    expect_cond("x == 1.5E-1", "['==', {'field': 'x'}, 0.15]");
    expect_cond("x == -2.5", "['==', {'field': 'x'}, -2.5]");
    expect_cond("x == 99999999999999999999", "['==', {'field': 'x'}, 1e20]");
    expect_cond("x == true", "['==', {'field': 'x'}, true]");
    expect_cond("x != false", "['!=', {'field': 'x'}, false]");
    expect_cond("x == null", "['==', {'field': 'x'}, null]");
    expect_cond("true", "true");
    expect_cond("x == \"a\\tb\\n\\\"q\\\"\\\\\"",
                "['==', {'field': 'x'}, 'a\\tb\\n\\\"q\\\"\\\\']");
    expect_cond("x == \"\\u{e9}\\u{1F600}\"",
                "['==', {'field': 'x'}, '\\u00e9\\ud83d\\ude00']");
    /* raw strings: no escapes, quotes inside, extra closing quotes kept */
    expect_cond("x == \"\"\"C:\\Windows\\\"\"\"",
                "['==', {'field': 'x'}, 'C:\\\\Windows\\\\']");
    expect_cond("x == \"\"\"say \"hi\"\"\"\"",
                "['==', {'field': 'x'}, 'say \\\"hi\\\"']");
    expect_cond("x regex \"\"\"[a-z]+\\d\"\"\"",
                "['regex', {'field': 'x'}, '[a-z]+\\\\d']");
}

static void test_fields(void **state)
{
    (void)state;
    expect_cond("process.parent.name == 1",
                "['==', {'field': 'process.parent.name'}, 1]");
    expect_cond(
        "?process.pe.original_file_name == 1",
        "['==', {'field': 'process.pe.original_file_name', 'optional': true}, 1]");
    expect_cond("@timestamp > 0", "['>', {'field': '@timestamp'}, 0]");
    expect_cond("`my field`.`a``b` == 1", "['==', {'field': 'my field.a`b'}, 1]");
    expect_cond("event.any == 1", "['==', {'field': 'event.any'}, 1]");
    expect_cond("process.args[0] == 1", "['==', {'field': 'process.args.0'}, 1]");
    expect_cond("process.args.1 == 1", "['==', {'field': 'process.args.1'}, 1]");
    expect_cond("_under_score9 == 1", "['==', {'field': '_under_score9'}, 1]");

    struct mw_eql_query *q = parse_ok("any where `a.b`.c == 1");
    const struct mw_eql_node *f = q->steps[0].where->kids[0];
    assert_int_equal(f->kind, MW_EQL_FIELD);
    assert_int_equal(f->nsegs, 2);
    assert_string_equal(f->segs[0], "a.b");
    assert_string_equal(f->segs[1], "c");
    mw_eql_free(q);
}

/* ------------------------------------------------------------------------ */
/* operators and precedence                                                 */

static void test_comparisons(void **state)
{
    (void)state;
    expect_cond("a == 1", "['==', {'field': 'a'}, 1]");
    expect_cond("a != 1", "['!=', {'field': 'a'}, 1]");
    expect_cond("a < 1", "['<', {'field': 'a'}, 1]");
    expect_cond("a <= 1", "['<=', {'field': 'a'}, 1]");
    expect_cond("a > 1", "['>', {'field': 'a'}, 1]");
    expect_cond("a >= 1", "['>=', {'field': 'a'}, 1]");
    expect_cond("a == b", "['==', {'field': 'a'}, {'field': 'b'}]");
}

static void test_patterns_and_lists(void **state)
{
    (void)state;
    expect_cond("a : \"x*\"", "[':', {'field': 'a'}, 'x*']");
    expect_cond("a : (\"x\", \"y?\", 3)", "[':', {'field': 'a'}, 'x', 'y?', 3]");
    expect_cond("a like \"x*\"", "['like', {'field': 'a'}, 'x*']");
    expect_cond("a like~ (\"x*\", \"y\")", "['like~', {'field': 'a'}, 'x*', 'y']");
    expect_cond("a regex \".*\"", "['regex', {'field': 'a'}, '.*']");
    expect_cond("a regex~ (\"a\", \"b\")", "['regex~', {'field': 'a'}, 'a', 'b']");
    expect_cond("a in (1, 2)", "['in', {'field': 'a'}, 1, 2]");
    expect_cond("a in~ (\"x\")", "['in~', {'field': 'a'}, 'x']");
    expect_cond("a not in (1, b)", "['not in', {'field': 'a'}, 1, {'field': 'b'}]");
    expect_cond("a not in~ (\"x\")", "['not in~', {'field': 'a'}, 'x']");

    struct mw_eql_query *q = parse_ok("any where a : \"x\"");
    const struct mw_eql_node *n = q->steps[0].where;
    assert_int_equal(n->kind, MW_EQL_PATTERN);
    assert_int_equal(n->op, MW_EQL_SEQ);
    assert_true(n->ci);
    mw_eql_free(q);
}

static void test_precedence(void **state)
{
    (void)state;
    expect_cond("a or b and c",
                "['or', {'field': 'a'}, ['and', {'field': 'b'}, {'field': 'c'}]]");
    expect_cond("a and b or c",
                "['or', ['and', {'field': 'a'}, {'field': 'b'}], {'field': 'c'}]");
    expect_cond("a and b and c",
                "['and', {'field': 'a'}, {'field': 'b'}, {'field': 'c'}]");
    expect_cond("not a and b", "['and', ['not', {'field': 'a'}], {'field': 'b'}]");
    expect_cond("not a == 1", "['not', ['==', {'field': 'a'}, 1]]");
    expect_cond("not not a", "['not', ['not', {'field': 'a'}]]");
    expect_cond("not (a or b)", "['not', ['or', {'field': 'a'}, {'field': 'b'}]]");
    expect_cond("(a or b) and c",
                "['and', ['or', {'field': 'a'}, {'field': 'b'}], {'field': 'c'}]");
    expect_cond("a + 2 * 3 == 7", "['==', ['+', {'field': 'a'}, ['*', 2, 3]], 7]");
    expect_cond("(a + 2) * 3 == 7", "['==', ['*', ['+', {'field': 'a'}, 2], 3], 7]");
    expect_cond(
        "a - b - c == 0",
        "['==', ['-', ['-', {'field': 'a'}, {'field': 'b'}], {'field': 'c'}], 0]");
    expect_cond("a / 2 % 3 == 1", "['==', ['%', ['/', {'field': 'a'}, 2], 3], 1]");
    expect_cond("-a * 2 == 1", "['==', ['*', ['neg', {'field': 'a'}], 2], 1]");
    expect_cond("+a == 1", "['==', {'field': 'a'}, 1]");
    expect_cond("1 - -1 == 2", "['==', ['-', 1, -1], 2]");
    /* as in Elasticsearch, a predicate belongs to the primary before it */
    expect_cond("a + b in (1)", "['+', {'field': 'a'}, ['in', {'field': 'b'}, 1]]");
    expect_cond("a == 1 or b : \"x\" and not c in (2)",
                "['or', ['==', {'field': 'a'}, 1], ['and', [':', {'field': 'b'}, 'x'], "
                "['not', ['in', {'field': 'c'}, 2]]]]");
    expect_cond("process.name == \"a\" and (x or y) and z > 1",
                "['and', ['==', {'field': 'process.name'}, 'a'], "
                "['or', {'field': 'x'}, {'field': 'y'}], ['>', {'field': 'z'}, 1]]");
}

/* ------------------------------------------------------------------------ */
/* functions                                                                */

static void test_functions(void **state)
{
    (void)state;
    expect_cond("add(a, 1) == 2", "['==', ['add', {'field': 'a'}, 1], 2]");
    expect_cond("between(a, \"x\", \"y\") == \"z\"",
                "['==', ['between', {'field': 'a'}, 'x', 'y'], 'z']");
    expect_cond("between~(a, \"x\", \"y\", true) == \"z\"",
                "['==', ['between~', {'field': 'a'}, 'x', 'y', true], 'z']");
    expect_cond("cidrMatch(ip, \"10.0.0.0/8\", \"::1/128\")",
                "['cidrMatch', {'field': 'ip'}, '10.0.0.0/8', '::1/128']");
    expect_cond("cidrmatch(ip, \"10.0.0.0/8\")",
                "['cidrMatch', {'field': 'ip'}, '10.0.0.0/8']");
    expect_cond("concat(a, \"-\", b) == \"x\"",
                "['==', ['concat', {'field': 'a'}, '-', {'field': 'b'}], 'x']");
    expect_cond("divide(a, 2) == 1", "['==', ['divide', {'field': 'a'}, 2], 1]");
    expect_cond("endsWith(a, \".exe\")", "['endsWith', {'field': 'a'}, '.exe']");
    expect_cond("endswith~(a, \".EXE\")", "['endsWith~', {'field': 'a'}, '.EXE']");
    expect_cond("indexOf(a, \"x\", 2) == 3",
                "['==', ['indexOf', {'field': 'a'}, 'x', 2], 3]");
    expect_cond("indexOf~(a, \"x\") == 0",
                "['==', ['indexOf~', {'field': 'a'}, 'x'], 0]");
    expect_cond("length(a) > 3", "['>', ['length', {'field': 'a'}], 3]");
    expect_cond("modulo(a, 2) == 0", "['==', ['modulo', {'field': 'a'}, 2], 0]");
    expect_cond("multiply(a, 2) == 4", "['==', ['multiply', {'field': 'a'}, 2], 4]");
    expect_cond("number(a, 16) == 255", "['==', ['number', {'field': 'a'}, 16], 255]");
    expect_cond("startsWith~(a, \"x\")", "['startsWith~', {'field': 'a'}, 'x']");
    expect_cond("string(a) == \"1\"", "['==', ['string', {'field': 'a'}], '1']");
    expect_cond("stringContains~(a, \"x\")", "['stringContains~', {'field': 'a'}, 'x']");
    expect_cond("substring(a, 1, -1) == \"x\"",
                "['==', ['substring', {'field': 'a'}, 1, -1], 'x']");
    expect_cond("subtract(a, 1) == 0", "['==', ['subtract', {'field': 'a'}, 1], 0]");
    expect_cond("length(concat(a, b)) : 3",
                "[':', ['length', ['concat', {'field': 'a'}, {'field': 'b'}]], 3]");

    struct mw_eql_query *q = parse_ok("any where startsWith~(a, \"x\")");
    const struct mw_eql_node *n = q->steps[0].where;
    assert_int_equal(n->kind, MW_EQL_CALL);
    assert_int_equal(n->op, MW_EQL_FN_STARTSWITH);
    assert_true(n->ci);
    assert_string_equal(n->str, "startsWith");
    mw_eql_free(q);

    expect_error("any where nosuch(a)", "unknown function 'nosuch'");
    expect_error("any where length(a, b) == 1", "length() takes 1 argument, found 2");
    expect_error("any where between(a, b) == 1", "between() takes 3 to 4 arguments");
    expect_error("any where cidrMatch(a)", "cidrMatch() takes at least 2 arguments");
    expect_error("any where length~(a) == 1", "has no case-insensitive variant");
    expect_error("any where ?length(a) == 1", "a function call cannot be optional");
    expect_error("any where foo~ == 1", "expected '(' after 'foo~'");
}

/* ------------------------------------------------------------------------ */
/* queries                                                                  */

static void test_event_queries(void **state)
{
    (void)state;
    expect_query("process where true",
                 "{'type': 'event', 'steps': [{'category': 'process', "
                 "'where': true}]}");
    expect_query(
        "\"my category\" where true",
        "{'type': 'event', 'steps': [{'category': 'my category', 'where': true}]}");
    expect_query("`quoted` where true",
                 "{'type': 'event', 'steps': [{'category': 'quoted', 'where': true}]}");
    expect_query(
        "any where a == 1 | head 5 | tail 2",
        "{'type': 'event', 'steps': [{'any': true, 'where': ['==', {'field': 'a'}, "
        "1]}], 'pipes': [['head', 5], ['tail', 2]]}");
    expect_query(
        "// a comment\n/* and /* a nested */ one */ process where /* here */ true // "
        "end",
        "{'type': 'event', 'steps': [{'category': 'process', 'where': true}]}");
}

static void test_sequences(void **state)
{
    (void)state;
    expect_query("sequence [a where true] [b where false]",
                 "{'type': 'sequence', 'steps': [{'category': 'a', 'where': true}, "
                 "{'category': 'b', 'where': false}]}");
    expect_query(
        "sequence by user.id, ?host with maxspan=30m\n"
        "  [authentication where x == 1] by a\n"
        "  [any where true] by b with runs=3\n"
        "until [process where y == 2] by c\n"
        "| head 10",
        "{'type': 'sequence', 'by': [{'field': 'user.id'}, {'field': 'host', "
        "'optional': true}], 'maxspan_ms': 1800000, 'steps': [{'category': "
        "'authentication', 'where': ['==', {'field': 'x'}, 1], 'by': [{'field': "
        "'a'}]}, {'any': true, 'where': true, 'by': [{'field': 'b'}], 'runs': 3}], "
        "'until': {'category': 'process', 'where': ['==', {'field': 'y'}, 2], 'by': "
        "[{'field': 'c'}]}, 'pipes': [['head', 10]]}");
    expect_query("sequence with maxspan=1s [a where true] ![b where true] [a where true]",
                 "{'type': 'sequence', 'maxspan_ms': 1000, 'steps': [{'category': 'a', "
                 "'where': true}, {'category': 'b', 'where': true, 'missing': true}, "
                 "{'category': 'a', 'where': true}]}");
    expect_query(
        "sequence [a where true] with runs=2",
        "{'type': 'sequence', 'steps': [{'category': 'a', 'where': true, 'runs': "
        "2}]}");
    expect_query(
        "sequence by unique_pid * 2 [a where true] by string(pid) [b where true] by "
        "pid",
        "{'type': 'sequence', 'by': [['*', {'field': 'unique_pid'}, 2]], 'steps': "
        "[{'category': 'a', 'where': true, 'by': [['string', {'field': 'pid'}]]}, "
        "{'category': 'b', 'where': true, 'by': [{'field': 'pid'}]}]}");

    static const struct {
        const char *span;
        int64_t ms;
    } spans[] = {{"250ms", 250},  {"5s", 5000},      {"2m", 120000},
                 {"1h", 3600000}, {"3d", 259200000}, {"10 s", 10000}};
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
        char query[256];
        snprintf(query, sizeof(query),
                 "sequence with maxspan=%s [a where true] [b where true]", spans[i].span);
        struct mw_eql_query *q = parse_ok(query);
        assert_true(q->has_maxspan);
        assert_int_equal(q->maxspan_ms, spans[i].ms);
        mw_eql_free(q);
    }
}

static void test_samples(void **state)
{
    (void)state;
    expect_query(
        "sample by host [any where a > 0] by os [any where b] by op_sys",
        "{'type': 'sample', 'by': [{'field': 'host'}], 'steps': [{'any': true, "
        "'where': ['>', {'field': 'a'}, 0], 'by': [{'field': 'os'}]}, {'any': true, "
        "'where': {'field': 'b'}, 'by': [{'field': 'op_sys'}]}]}");
    expect_query("sample [a where true] [b where true]",
                 "{'type': 'sample', 'steps': [{'category': 'a', 'where': true}, "
                 "{'category': 'b', 'where': true}]}");
}

/* ------------------------------------------------------------------------ */
/* errors                                                                   */

static void test_error_positions_and_caret(void **state)
{
    (void)state;
    const char *query = "sequence by user.id\n"
                        "  [process where a == 1]\n"
                        "  [file where b == 2 by c\n";
    struct mw_eql_origin at = {.file = "rules/x.eql", .line = 3, .col = 5};
    struct mw_eql_error err;
    mw_eql_error_init(&err);
    assert_null(mw_eql_parse(query, strlen(query), &at, &err));
    assert_string_equal(err.msg.ptr,
                        "expected ']' after the step's condition, found 'by'");
    assert_int_equal(err.line, 5);
    assert_int_equal(err.col, 22);
    assert_string_equal(err.text.ptr, "rules/x.eql:5:22: expected ']' after the step's "
                                      "condition, found 'by'\n"
                                      "  [file where b == 2 by c\n"
                                      "                     ^");

    /* on the first line, the origin's column shifts the column */
    assert_null(mw_eql_parse("any where a = 1", 15, &at, &err));
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 5 + 12);
    assert_string_equal(
        err.text.ptr, "rules/x.eql:3:17: '=' is not a comparison: write '==' (or ':' to "
                      "compare strings case-insensitively)\n"
                      "any where a = 1\n"
                      "            ^");

    /* no origin: no file prefix; end of query points after the last token;
     * tabs are kept in the caret line so the caret lines up */
    assert_null(mw_eql_parse("process where\t(a ==   \n\n", 24, NULL, &err));
    assert_string_equal(err.text.ptr,
                        "1:20: expected a value (a field, a literal, a function "
                        "call or '('), found end of query\n"
                        "process where\t(a ==   \n"
                        "             \t     ^");
    /* columns count characters, not bytes */
    const char *accented = "any where a == \"\xc3\xa9\" b";
    assert_null(mw_eql_parse(accented, strlen(accented), NULL, &err));
    assert_int_equal(err.col, 20);
    mw_eql_error_release(&err);

    expect_error_at("any where (a or b", 17, "expected ')' to close the '(' at 1:11", 1,
                    18);
    expect_error_at("process where a ==", 18, "found end of query", 1, 19);
    expect_error_at("x where\n  a == 'b'", 18, "double quotes", 2, 8);
}

static void test_rejections(void **state)
{
    (void)state;
    expect_error("", "expected a query, found end of query");
    expect_error("any where a == 1 == 2", "comparisons do not chain");
    expect_error("any where a < 1 > 2", "comparisons do not chain");
    expect_error("any where a == 1 | filter a", "unsupported pipe 'filter'");
    expect_error("any where a == 1 | unique a", "unsupported pipe 'unique'");
    expect_error("any where true | head", "expected a number after 'head'");
    expect_error("any where true | head -1", "non-negative integer");
    expect_error("any where true | tail 1.5", "non-negative integer");
    expect_error("any where true | head 1, 2", "takes one number");
    expect_error("join [a where true] [b where true]", "'join' is not supported");
    expect_error("process where descendant of [process where true]",
                 "process relationships");
    expect_error("sequence [a where true]", "at least 2 steps, found 1");
    expect_error("sequence ![a where true] ![b where true]", "not a missing event");
    expect_error("sequence [a where true] by x [b where true]", "inconsistent join keys");
    expect_error("sequence [a where true] by x [b where true] by y until [c where true]",
                 "until has 0");
    expect_error("sequence [a where true] with runs=0 [b where true]", "from 1 to 100");
    expect_error("sequence [a where true] with runs=101 [b where true]", "from 1 to 100");
    expect_error("sequence [a where true] with foo=1 [b where true]", "expected 'runs'");
    expect_error("sequence [a where true] [b where true] with maxspan=1s", "goes after");
    expect_error(
        "sequence [a where true] [b where true] until [c where true] with runs=2",
        "'until' cannot take 'with runs'");
    expect_error("sequence [a where true] [b where true] until ![c where true]",
                 "'until' cannot be a missing event");
    expect_error("sequence with maxspan=10 [a where true] [b where true]",
                 "needs a time unit");
    expect_error("sequence with maxspan=10w [a where true] [b where true]",
                 "unknown time unit 'w'");
    expect_error("sequence with maxspan=1.5s [a where true] [b where true]",
                 "maxspan takes an integer");
    expect_error("sequence with maxspan=99999999999999999d [a where true] [b where true]",
                 "too large");
    expect_error("sequence with maxspan=1s by x [a where true] [b where true]",
                 "'by' goes before 'with maxspan'");
    expect_error("sequence with runs=2 [a where true] [b where true]",
                 "belongs to a step");
    expect_error("sample by x [a where true]", "at least 2 filters");
    expect_error("sample [a where true] ![b where true]", "only allowed in sequences");
    expect_error("sample [a where true] [b where true] | head 1",
                 "a sample takes no pipes");
    expect_error("sample with maxspan=1s [a where true] [b where true]",
                 "takes no 'with'");
    expect_error("sample [a where true] [b where true] until [c where true]",
                 "no 'until'");
    expect_error("[a where true]", "expected an event category");
    expect_error("any where a == 1 [b where true]", "starts with 'sequence' or 'sample'");
    expect_error("any a == 1", "expected 'where' after the event category");
    expect_error("any where any == 1", "the keyword 'any'");
    expect_error("any where a not like \"x\"", "'not' goes before the whole condition");
    expect_error("any where a : b", "expected a constant or '(' after ':'");
    expect_error("any where a in ()", "expected a value");
    expect_error("any where a ! b", "unexpected '!'");
    expect_error("any where a == \"abc", "unterminated string");
    expect_error("any where a == \"a\nb\"", "unterminated string");
    expect_error("any where a == \"\"\"abc", "unterminated raw string");
    expect_error("any where a == \"a\\d\"", "bad escape '\\d'");
    expect_error("any where a == \"\\u{110000}\"", "not a valid Unicode character");
    expect_error("any where a == \"\\u41\"", "\\u must be followed by {hex digits}");
    expect_error("any where `a == 1", "unterminated field name");
    expect_error("any where `` == 1", "empty field name");
    expect_error("any where a == 1 /* open", "unterminated comment");
    expect_error("any where a == 1 #", "unexpected character '#'");
    expect_error("any where a == \xff", "unexpected byte 0xff");
    expect_error("any where a == ?1", "expected a field name after '?'");
    expect_error_at("any where a == \"x\0y\"", 20, "NUL byte", 1, 18);
    expect_error_at("any where a == 1\0", 17, "unexpected byte 0x00", 1, 17);
}

/* ------------------------------------------------------------------------ */
/* limits                                                                   */

static char *repeat(const char *prefix, const char *unit, size_t n, const char *mid,
                    const char *close, size_t m)
{
    size_t len = strlen(prefix) + strlen(unit) * n + strlen(mid) + strlen(close) * m + 1;
    char *s = malloc(len);
    assert_non_null(s);
    size_t o = 0;
    memcpy(s + o, prefix, strlen(prefix));
    o += strlen(prefix);
    for (size_t i = 0; i < n; i++, o += strlen(unit))
        memcpy(s + o, unit, strlen(unit));
    memcpy(s + o, mid, strlen(mid));
    o += strlen(mid);
    for (size_t i = 0; i < m; i++, o += strlen(close))
        memcpy(s + o, close, strlen(close));
    s[o] = '\0';
    return s;
}

static void test_depth_limit(void **state)
{
    (void)state;
    /* 200 parentheses are fine, 100,000 are refused without a crash */
    char *ok = repeat("any where ", "(", 200, "a", ")", 200);
    mw_eql_free(parse_ok(ok));
    free(ok);
    char *deep = repeat("any where ", "(", 100000, "a", ")", 100000);
    expect_error(deep, "nested too deeply");
    free(deep);
    char *nots = repeat("any where ", "not ", 100000, "a", "", 0);
    expect_error(nots, "nested too deeply");
    free(nots);
    char *negs = repeat("any where ", "-", 100000, "a == 1", "", 0);
    expect_error(negs, "nested too deeply");
    free(negs);
    /* left-associative chains build deep trees without recursing: bounded too */
    char *chain = repeat("any where a", " + 1", 100000, " == 1", "", 0);
    expect_error(chain, "nested too deeply");
    free(chain);
    char *calls = repeat("any where ", "length(", 100000, "a", ")", 100000);
    expect_error(calls, "nested too deeply");
    free(calls);
    /* and/or are n-ary: a long run of them is flat, not deep */
    char *ors = repeat("any where a == 0", " or a == 1", 100000, "", "", 0);
    struct mw_eql_query *q = parse_ok(ors);
    assert_int_equal(q->steps[0].where->kind, MW_EQL_OR);
    assert_int_equal(q->steps[0].where->nkids, 100001);
    assert_int_equal(q->steps[0].where->depth, 3);
    mw_eql_free(q);
    free(ors);
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t len = (size_t)MW_EQL_MAX_LEN + 1;
    char *big = malloc(len);
    assert_non_null(big);
    memset(big, ' ', len);
    memcpy(big, "any where true", 14);
    expect_error_at(big, len, "query too long", 1, 1);
    free(big);
    mw_eql_free(NULL);
    mw_eql_error_release(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_literals, setup),
        cmocka_unit_test_setup(test_fields, setup),
        cmocka_unit_test_setup(test_comparisons, setup),
        cmocka_unit_test_setup(test_patterns_and_lists, setup),
        cmocka_unit_test_setup(test_precedence, setup),
        cmocka_unit_test_setup(test_functions, setup),
        cmocka_unit_test_setup(test_event_queries, setup),
        cmocka_unit_test_setup(test_sequences, setup),
        cmocka_unit_test_setup(test_samples, setup),
        cmocka_unit_test_setup(test_error_positions_and_caret, setup),
        cmocka_unit_test_setup(test_rejections, setup),
        cmocka_unit_test_setup(test_depth_limit, setup),
        cmocka_unit_test_setup(test_size_limit, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
