/* test_toml.c - cmocka tests for mw_toml: the TOML 1.0 document model
 *
 * Each accepting case parses a TOML text and compares the tree with a JSON
 * text (json_equal, so key order does not matter); each refusing case checks
 * the "name:line:column: message" text. The cases follow the TOML 1.0 spec's
 * own examples, including its tricky ones: line-ending backslashes, quotes
 * next to the closing delimiter, tables defined through dotted keys, arrays
 * of tables with sub-tables. jansson runs on cmocka's allocator, so a leaked
 * node fails the test.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_toml.h"

#include "cmocka_json.h"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static void ok(const char *toml, const char *want_json)
{
    struct mw_error err;
    err.msg[0] = '\0';
    json_t *got = mw_toml_parse(toml, strlen(toml), "t.toml", &err);
    if (got == NULL)
        fail_msg("refused: %s\n--- input:\n%s", err.msg, toml);
    json_error_t jerr;
    json_t *want = json_loads(want_json, 0, &jerr);
    if (want == NULL)
        fail_msg("bad test JSON: %s: %s", want_json, jerr.text);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *msg = g;
        print_error("got  %s\nwant %s\n", msg, want_json);
        json_test_free(g);
        json_decref(got);
        json_decref(want);
        fail_msg("tree differs for:\n%s", toml);
    }
    json_decref(got);
    json_decref(want);
}

/* Refused, and the message contains want (which may start with line:col). */
static void bad(const char *toml, const char *want)
{
    struct mw_error err;
    err.msg[0] = '\0';
    json_t *got = mw_toml_parse(toml, strlen(toml), "t.toml", &err);
    if (got != NULL) {
        json_decref(got);
        fail_msg("accepted:\n%s", toml);
    }
    if (strstr(err.msg, want) == NULL)
        fail_msg("message '%s' lacks '%s'", err.msg, want);
    assert_int_equal(strncmp(err.msg, "t.toml:", 7), 0);
}

/* ------------------------------------------------------------------------ */
/* accepted documents                                                       */

static void test_empty_and_comments(void **state)
{
    (void)state;
    ok("", "{}");
    ok("# only a comment\n\n   \n\t# another\n", "{}");
    ok("\xEF\xBB\xBF"
       "a = 1\n",
       "{\"a\":1}");
    ok("a = 1 # trailing comment\r\nb = 2\r\n", "{\"a\":1,\"b\":2}");
}

static void test_keys(void **state)
{
    (void)state;
    ok("bare_key-1 = 1\n\"quoted key\" = 2\n'literal \"key\"' = 3\n1234 = 4\n",
       "{\"bare_key-1\":1,\"quoted key\":2,\"literal \\\"key\\\"\":3,\"1234\":4}");
    ok("physical.color = \"orange\"\nphysical.shape = \"round\"\n"
       "site.\"google.com\" = true\n",
       "{\"physical\":{\"color\":\"orange\",\"shape\":\"round\"},"
       "\"site\":{\"google.com\":true}}");
    ok("fruit . flavor = \"banana\"\n", "{\"fruit\":{\"flavor\":\"banana\"}}");
    ok("\"\" = 1\n", "{\"\":1}");
    ok("3.14159 = \"pi\"\n", "{\"3\":{\"14159\":\"pi\"}}");
}

static void test_basic_strings(void **state)
{
    (void)state;
    ok("s = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600 \\b\\f\\r\\n\"\n",
       "{\"s\":\"tab\\there \\\"q\\\" \\\\ \\u00e9 \\ud83d\\ude00 \\b\\f\\r\\n\"}");
    ok("s = 'C:\\Users\\nodejs\\templates'\n",
       "{\"s\":\"C:\\\\Users\\\\nodejs\\\\templates\"}");
    ok("s = '<\\i\\c*\\s*>'\n", "{\"s\":\"<\\\\i\\\\c*\\\\s*>\"}");
}

static void test_multiline_strings(void **state)
{
    (void)state;
    /* the newline right after the delimiter is trimmed, others kept */
    ok("s = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n",
       "{\"s\":\"Roses are red\\nViolets are blue\"}");
    ok("s = \"\"\"\r\nline\r\n\"\"\"\n", "{\"s\":\"line\\n\"}");
    /* line-ending backslash trims whitespace and newlines up to the text */
    ok("s = \"\"\"\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy "
       "dog.\"\"\"\n",
       "{\"s\":\"The quick brown fox jumps over the lazy dog.\"}");
    ok("s = \"\"\"\\\n       The quick brown \\\n       fox.\\\n       \"\"\"\n",
       "{\"s\":\"The quick brown fox.\"}");
    ok("s = \"\"\"a \\   \n   b\"\"\"\n", "{\"s\":\"a b\"}");
    /* one or two quotes next to the closing delimiter belong to the string */
    ok("s = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n",
       "{\"s\":\"Here are two quotation marks: \\\"\\\". Simple enough.\"}");
    ok("s = \"\"\"Here are three quotation marks: \"\"\\\".\"\"\"\n",
       "{\"s\":\"Here are three quotation marks: \\\"\\\"\\\".\"}");
    ok("s = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n",
       "{\"s\":\"\\\"This,\\\" she said, \\\"is just a pointless statement.\\\"\"}");
    ok("s = '''I [dw]on't need \\d{2} apples'''\n",
       "{\"s\":\"I [dw]on't need \\\\d{2} apples\"}");
    ok("s = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n"
       "   is preserved.\n'''\n",
       "{\"s\":\"The first newline is\\ntrimmed in raw strings.\\n   All other "
       "whitespace\\n   is preserved.\\n\"}");
    ok("s = ''''That,' she said, 'is still pointless.''''\n",
       "{\"s\":\"'That,' she said, 'is still pointless.'\"}");
    ok("s = '''a \\\n b'''\n", "{\"s\":\"a \\\\\\n b\"}");
    ok("s = \"\"\"\"\"\"\n", "{\"s\":\"\"}");
}

static void test_numbers_and_dates(void **state)
{
    (void)state;
    ok("a = +99\nb = 42\nc = 0\nd = -17\ne = 1_000\nf = 5_349_221\n"
       "h = 0xDEAD_BEEF\no = 0o755\nbi = 0b11010110\nmx = 9223372036854775807\n"
       "mn = -9223372036854775808\nz = -0\n",
       "{\"a\":99,\"b\":42,\"c\":0,\"d\":-17,\"e\":1000,\"f\":5349221,"
       "\"h\":3735928559,\"o\":493,\"bi\":214,\"mx\":9223372036854775807,"
       "\"mn\":-9223372036854775808,\"z\":0}");
    ok("a = +1.0\nb = 3.1415\nc = -0.01\nd = 5e+22\ne = 1e06\nf = -2E-2\n"
       "g = 6.626e-34\nh = 224_617.445_991_228\n",
       "{\"a\":1.0,\"b\":3.1415,\"c\":-0.01,\"d\":5e22,\"e\":1e6,\"f\":-0.02,"
       "\"g\":6.626e-34,\"h\":224617.445991228}");
    ok("t = true\nf = false\n", "{\"t\":true,\"f\":false}");
    ok("odt1 = 1979-05-27T07:32:00Z\nodt2 = 1979-05-27T00:32:00-07:00\n"
       "odt3 = 1979-05-27T00:32:00.999999-07:00\nodt4 = 1979-05-27 07:32:00Z\n"
       "ldt = 1979-05-27T07:32:00\nld = 1979-05-27\nlt = 00:32:00.999999\n"
       "leap = 2000-02-29\n",
       "{\"odt1\":\"1979-05-27T07:32:00Z\",\"odt2\":\"1979-05-27T00:32:00-07:00\","
       "\"odt3\":\"1979-05-27T00:32:00.999999-07:00\",\"odt4\":\"1979-05-27 07:32:00Z\","
       "\"ldt\":\"1979-05-27T07:32:00\",\"ld\":\"1979-05-27\","
       "\"lt\":\"00:32:00.999999\",\"leap\":\"2000-02-29\"}");
}

static void test_arrays_and_inline(void **state)
{
    (void)state;
    ok("a = [ 1, 2, 3 ]\nb = [ \"red\", 'yellow', \"\"\"green\"\"\" ]\n"
       "c = [ [ 1, 2 ], [3, 4, 5] ]\nd = [ 0.1, \"mixed\", { x = 1 } ]\ne = []\n",
       "{\"a\":[1,2,3],\"b\":[\"red\",\"yellow\",\"green\"],\"c\":[[1,2],[3,4,5]],"
       "\"d\":[0.1,\"mixed\",{\"x\":1}],\"e\":[]}");
    ok("a = [\n  1, # one\n  # a comment line\n  2,\n]\n", "{\"a\":[1,2]}");
    ok("false_positives = [\n    \"\"\"\n    one\n    \"\"\",\n    '''two''',\n]\n",
       "{\"false_positives\":[\"    one\\n    \",\"two\"]}");
    ok("name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
       "point = {x=1, y=2}\nanimal = { type.name = \"pug\" }\nempty = {}\n",
       "{\"name\":{\"first\":\"Tom\",\"last\":\"Preston-Werner\"},"
       "\"point\":{\"x\":1,\"y\":2},\"animal\":{\"type\":{\"name\":\"pug\"}},\"empty\":{}"
       "}");
}

static void test_tables(void **state)
{
    (void)state;
    ok("[table-1]\nkey1 = \"some string\"\n[table-2]\nkey1 = 456\n"
       "[dog.\"tater.man\"]\ntype.name = \"pug\"\n[ j . \"k\" . 'l' ]\nx = 1\n",
       "{\"table-1\":{\"key1\":\"some string\"},\"table-2\":{\"key1\":456},"
       "\"dog\":{\"tater.man\":{\"type\":{\"name\":\"pug\"}}},"
       "\"j\":{\"k\":{\"l\":{\"x\":1}}}}");
    /* super-tables defined after their children */
    ok("[x.y.z.w]\n[x]\na = 1\n", "{\"x\":{\"a\":1,\"y\":{\"z\":{\"w\":{}}}}}");
    /* sub-tables may be added to a table made by dotted keys */
    ok("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n"
       "[fruit.apple.texture]\nsmooth = true\n",
       "{\"fruit\":{\"apple\":{\"color\":\"red\",\"taste\":{\"sweet\":true},"
       "\"texture\":{\"smooth\":true}}}}");
    /* the corpus's shape: arrays of tables with sub-tables */
    ok("[rule]\nname = \"r\"\n[[rule.threat]]\nframework = \"MITRE ATT&CK\"\n"
       "[[rule.threat.technique]]\nid = \"T1528\"\n"
       "[[rule.threat.technique.subtechnique]]\nid = \"T1528.001\"\n"
       "[rule.threat.tactic]\nid = \"TA0006\"\n[[rule.threat]]\nframework = \"x\"\n"
       "[[rule.threat.technique]]\nid = \"T1\"\n[[rule.threat.technique]]\nid = \"T2\"\n",
       "{\"rule\":{\"name\":\"r\",\"threat\":["
       "{\"framework\":\"MITRE ATT&CK\",\"technique\":[{\"id\":\"T1528\","
       "\"subtechnique\":[{\"id\":\"T1528.001\"}]}],\"tactic\":{\"id\":\"TA0006\"}},"
       "{\"framework\":\"x\",\"technique\":[{\"id\":\"T1\"},{\"id\":\"T2\"}]}]}}");
    ok("[[fruits]]\nname = \"apple\"\n[fruits.physical]\ncolor = \"red\"\n"
       "[[fruits.varieties]]\nname = \"red delicious\"\n[[fruits.varieties]]\n"
       "name = \"granny smith\"\n[[fruits]]\nname = \"banana\"\n",
       "{\"fruits\":[{\"name\":\"apple\",\"physical\":{\"color\":\"red\"},"
       "\"varieties\":[{\"name\":\"red delicious\"},{\"name\":\"granny smith\"}]},"
       "{\"name\":\"banana\"}]}");
}

/* ------------------------------------------------------------------------ */
/* refused documents                                                        */

static void test_redefinitions(void **state)
{
    (void)state;
    bad("a = 1\nb = 2\na = 3\n", "t.toml:3:1: duplicate key 'a'");
    bad("name = \"Tom\"\n\"name\" = \"Pradyun\"\n", "duplicate key 'name'");
    bad("[fruit]\napple = 1\n[fruit]\norange = 2\n",
        "t.toml:3:1: table 'fruit' is defined twice");
    bad("[fruit]\napple = \"red\"\n[fruit.apple]\ntexture = 1\n",
        "'apple' is already defined");
    bad("[fruit]\napple.color = \"red\"\n[fruit.apple]\n",
        "table 'apple' is defined twice");
    bad("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", "cannot add to 'b' with a dotted key");
    bad("a = 1\na.b = 2\n", "cannot add to 'a' with a dotted key");
    bad("a.b = 1\na = 2\n", "duplicate key 'a'");
    bad("a = {b = 1}\n[a]\n", "table 'a' is defined twice");
    bad("a = {b = 1}\n[a.c]\n", "inline table and cannot be extended");
    bad("a = {b = 1}\na.c = 2\n", "cannot add to 'a' with a dotted key");
    bad("a = [1]\n[[a]]\n", "not an array of tables");
    bad("a = [{b = 1}]\n[a.c]\n", "static array");
    bad("[[a]]\n[a]\n", "already defined as an array");
    bad("[a]\n[[a]]\n", "not an array of tables");
    bad("x = {a = 1, a = 2}\n", "duplicate key 'a'");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    bad("a = \n", "t.toml:1:5: expected a value, found the end of the line");
    bad("a\n", "expected '=' after the key");
    bad("= 1\n", "t.toml:1:1: expected a key, found '='");
    bad("a = 1 b = 2\n", "t.toml:1:7: expected the end of the line");
    bad("a = \"unterminated\n", "newline in a single-line string");
    bad("a = \"x\\qy\"\n", "t.toml:1:7: invalid escape sequence '\\q'");
    bad("a = \"\\uD800\"\n", "not a Unicode scalar value");
    bad("a = \"\\u12\"\n", "needs 4 hexadecimal digits");
    bad("a = \"\"\"never closed\n", "unterminated string");
    bad("a = \"\"\"x\"\"\"\"\"\"\n", "too many quotes");
    bad("a = \"tab\tok, bell \x07 not\"\n", "control character 0x07");
    bad("# comment \x01\n", "control character 0x01 in a comment");
    bad("a = 1\rb = 2\n", "carriage return");
    bad("a = \"\xff\"\n", "t.toml:1:6: invalid UTF-8");
    bad("a = 012\n", "leading zeros");
    bad("a = 1__0\n", "invalid value");
    bad("a = 1_\n", "invalid value");
    bad("a = .5\n", "invalid value");
    bad("a = 5.\n", "invalid value");
    bad("a = +0x10\n", "sign is not allowed");
    bad("a = 9223372036854775808\n", "out of the 64-bit range");
    bad("a = 0x8000000000000000\n", "out of the 64-bit range");
    bad("a = inf\n", "inf and nan");
    bad("a = -nan\n", "inf and nan");
    bad("a = 1979-02-29\n", "invalid date");
    bad("a = 1979-13-01T00:00:00Z\n", "invalid date");
    bad("a = [1, 2\n", "unterminated array");
    bad("a = [1 2]\n", "expected ',' or ']'");
    bad("a = {x = 1,}\n", "trailing comma in an inline table");
    bad("a = {x = 1\n}\n", "newline in an inline table");
    bad("[a\n", "expected ']' to close");
    bad("[[a]\n", "expected ']]' to close");
    bad("[]\n", "expected a key, found ']'");
    bad("[a] b = 1\n", "expected the end of the line");
    bad("'''key''' = 1\n", "multi-line string cannot be a key");
    bad("\"a\\u0000\" = 1\n", "NUL character");
    bad("x = true1\n", "invalid value");
}

static void test_depth(void **state)
{
    (void)state;
    char doc[512];
    size_t n = 0;
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a = ");
    for (int i = 0; i < 70; i++)
        doc[n++] = '[';
    for (int i = 0; i < 70; i++)
        doc[n++] = ']';
    doc[n++] = '\n';
    doc[n] = '\0';
    bad(doc, "nesting deeper than 64 levels");
    n = 0;
    for (int i = 0; i < 70; i++)
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "k.");
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "k = 1\n");
    bad(doc, "nesting deeper than 64 levels");
    /* 60 levels are fine */
    n = 0;
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "a = ");
    for (int i = 0; i < 60; i++)
        doc[n++] = '[';
    for (int i = 0; i < 60; i++)
        doc[n++] = ']';
    doc[n] = '\0';
    struct mw_error err;
    json_t *v = mw_toml_parse(doc, n, "t.toml", &err);
    assert_non_null(v);
    json_decref(v);
}

static void test_errors_without_record(void **state)
{
    (void)state;
    /* err may be NULL; a non-terminated buffer is read only to len */
    assert_null(mw_toml_parse("a = = 1", 7, NULL, NULL));
    json_t *v = mw_toml_parse("a = 12345", 5, NULL, NULL);
    assert_non_null(v);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    struct mw_error err;
    assert_null(mw_toml_load_file("/nonexistent/x.toml", &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_empty_and_comments, setup),
        cmocka_unit_test_setup(test_keys, setup),
        cmocka_unit_test_setup(test_basic_strings, setup),
        cmocka_unit_test_setup(test_multiline_strings, setup),
        cmocka_unit_test_setup(test_numbers_and_dates, setup),
        cmocka_unit_test_setup(test_arrays_and_inline, setup),
        cmocka_unit_test_setup(test_tables, setup),
        cmocka_unit_test_setup(test_redefinitions, setup),
        cmocka_unit_test_setup(test_syntax_errors, setup),
        cmocka_unit_test_setup(test_depth, setup),
        cmocka_unit_test_setup(test_errors_without_record, setup),
    };
    return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
