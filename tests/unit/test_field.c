/* test_field.c - cmocka tests for mw_field: dotted path compile and lookup */

/*
 * Each lookup runs against a document built with json_pack or json_loads.
 * jansson is routed through cmocka's test_malloc/test_free so a leaked
 * json_t fails the test. mw_path allocations go through xmalloc (untracked).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_field.h"

#include "cmocka_json.h"

static int teardown(void **state)
{
    (void)state;
    return 0;
}

static json_t *doc(const char *text)
{
    json_error_t jerr;
    json_t *d = json_loads(text, 0, &jerr);
    if (d == NULL)
        fail_msg("bad test JSON: %s: %s", text, jerr.text);
    return d;
}

/* Looks up path in d; returns a borrowed value or NULL. */
static json_t *get(const json_t *d, const char *path)
{
    struct mw_path *p = mw_path_new(path);
    json_t *v;
    assert_non_null(p);
    assert_string_equal(mw_path_str(p), path);
    v = mw_path_get(d, p);
    mw_path_free(p);
    return v;
}

static void assert_int_at(const json_t *d, const char *path, json_int_t want)
{
    json_t *v = get(d, path);
    if (v == NULL)
        fail_msg("%s: missing, want %lld", path, (long long)want);
    if (!json_is_integer(v))
        fail_msg("%s: not an integer", path);
    assert_int_equal(json_integer_value(v), want);
}

static void assert_str_at(const json_t *d, const char *path, const char *want)
{
    json_t *v = get(d, path);
    if (v == NULL)
        fail_msg("%s: missing, want \"%s\"", path, want);
    if (!json_is_string(v))
        fail_msg("%s: not a string", path);
    assert_string_equal(json_string_value(v), want);
}

/* ------------------------------------------------------------------------ */

static void test_nested(void **state)
{
    json_t *d = doc("{\"a\": {\"b\": {\"c\": 1}}, \"x\": 2, \"s\": \"str\"}");
    (void)state;
    assert_int_at(d, "a.b.c", 1);
    assert_int_at(d, "x", 2);
    assert_str_at(d, "s", "str");
    assert_true(json_is_object(get(d, "a")));
    assert_true(json_is_object(get(d, "a.b")));
    json_decref(d);
}

static void test_flattened(void **state)
{
    json_t *d = doc("{\"a.b.c\": 1, \"azure.signinlogs.properties.app_id\": \"id1\"}");
    (void)state;
    assert_int_at(d, "a.b.c", 1);
    assert_str_at(d, "azure.signinlogs.properties.app_id", "id1");
    assert_null(get(d, "a"));
    assert_null(get(d, "a.b"));
    json_decref(d);
}

static void test_mixed(void **state)
{
    json_t *d1 = doc("{\"a.b\": {\"c\": 1}}");
    json_t *d2 = doc("{\"a\": {\"b.c\": 2}}");
    json_t *d3 = doc("{\"a\": {\"b.c\": {\"d\": {\"e.f\": 3}}}}");
    (void)state;
    assert_int_at(d1, "a.b.c", 1);
    assert_true(json_is_object(get(d1, "a.b")));
    assert_int_at(d2, "a.b.c", 2);
    assert_null(get(d2, "a.b"));
    assert_int_at(d3, "a.b.c.d.e.f", 3);
    json_decref(d1);
    json_decref(d2);
    json_decref(d3);
}

static void test_nested_wins(void **state)
{
    json_t *d = doc("{\"a\": {\"b\": {\"c\": 1}}, \"a.b.c\": 2, \"a.b\": {\"c\": 3}}");
    json_t *d2 = doc("{\"a.b\": 2, \"a\": {\"b\": 1}}");
    (void)state;
    assert_int_at(d, "a.b.c", 1);
    assert_int_at(d2, "a.b", 1);
    json_decref(d);
    json_decref(d2);
}

static void test_backtracks_to_flattened(void **state)
{
    /* The nested spelling exists only partly: the lookup falls back to the
     * flattened key instead of giving up. */
    json_t *d = doc("{\"a\": {\"x\": 1}, \"a.b\": 2}");
    json_t *d2 = doc("{\"a\": {\"b\": 5}, \"a.b\": {\"c\": 3}}");
    (void)state;
    assert_int_at(d, "a.b", 2);
    assert_int_at(d2, "a.b.c", 3);
    assert_int_at(d2, "a.b", 5);
    json_decref(d);
    json_decref(d2);
}

static void test_array_index(void **state)
{
    json_t *d = doc("{\"target_resources\": [{\"display_name\": \"x\"}, "
                    "{\"display_name\": \"y\"}], \"m\": [[1, 2], [3, 4]], "
                    "\"o\": {\"0\": \"zero\"}, \"f.0\": \"flat\"}");
    (void)state;
    assert_str_at(d, "target_resources.0.display_name", "x");
    assert_str_at(d, "target_resources.1.display_name", "y");
    assert_int_at(d, "m.1.0", 3);
    assert_int_at(d, "m.0.1", 2);
    /* a numeric segment on an object is a key */
    assert_str_at(d, "o.0", "zero");
    assert_str_at(d, "f.0", "flat");
    assert_true(json_is_array(get(d, "target_resources")));
    json_decref(d);
}

static void test_index_out_of_range(void **state)
{
    json_t *d = doc("{\"arr\": [{\"n\": 1}, {\"n\": 2}], \"e\": []}");
    (void)state;
    assert_null(get(d, "arr.2"));
    assert_null(get(d, "arr.2.n"));
    assert_null(get(d, "arr.999999999"));
    assert_null(get(d, "arr.1234567890123"));
    assert_null(get(d, "e.0"));
    /* non-numeric segment on an array */
    assert_null(get(d, "arr.n"));
    assert_null(get(d, "arr.-1"));
    json_decref(d);
}

static void test_through_scalar(void **state)
{
    json_t *d = doc("{\"a\": 5, \"s\": \"text\", \"t\": true, \"n\": null}");
    (void)state;
    assert_null(get(d, "a.b"));
    assert_null(get(d, "s.0"));
    assert_null(get(d, "s.length"));
    assert_null(get(d, "t.x"));
    assert_null(get(d, "n.x"));
    json_decref(d);
}

static void test_missing(void **state)
{
    json_t *d = doc("{\"a\": {\"b\": 1}}");
    struct mw_path *p = mw_path_new("a.b");
    (void)state;
    assert_null(get(d, "x"));
    assert_null(get(d, "a.c"));
    assert_null(get(d, "a.b.c"));
    assert_null(get(d, "A.b")); /* keys are case-sensitive */
    assert_null(mw_path_get(NULL, p));
    mw_path_free(p);
    json_decref(d);
}

static void test_json_null(void **state)
{
    json_t *d =
        doc("{\"a\": null, \"b\": {\"c\": null}, \"d.e\": null, \"arr\": [null]}");
    const char *paths[] = {"a", "b.c", "d.e", "arr.0"};
    (void)state;
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        json_t *v = get(d, paths[i]);
        assert_non_null(v);
        assert_true(json_is_null(v));
        assert_true(mw_value_is_null(v));
    }
    assert_true(mw_value_is_null(NULL));
    assert_false(mw_value_is_null(get(d, "b")));
    json_decref(d);
}

static void test_invalid_paths(void **state)
{
    static const char *const bad[] = {
        "", ".", ".a", "a.", "a..b", "..", "a.b.", ".a.b",
    };
    char buf[256];
    size_t n = 0;

    (void)state;
    assert_null(mw_path_new(NULL));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mw_path_new(bad[i]) != NULL)
            fail_msg("mw_path_new(\"%s\") accepted", bad[i]);

    /* 32 segments are accepted, 33 rejected */
    for (int i = 0; i < MW_PATH_MAX_SEGMENTS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, i ? ".s%d" : "s%d", i);
    {
        struct mw_path *p = mw_path_new(buf);
        assert_non_null(p);
        assert_string_equal(mw_path_str(p), buf);
        mw_path_free(p);
    }
    snprintf(buf + n, sizeof buf - n, ".s32");
    assert_null(mw_path_new(buf));
    mw_path_free(NULL);
}

static void test_max_depth_lookup(void **state)
{
    /* 32 nested levels resolve; the fully flattened spelling too. */
    char path[256];
    size_t n = 0;
    json_t *d = json_integer(42), *flat;
    struct mw_path *p;

    (void)state;
    for (int i = MW_PATH_MAX_SEGMENTS - 1; i >= 0; i--) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        d = json_pack("{s:o}", key, d);
        assert_non_null(d);
    }
    for (int i = 0; i < MW_PATH_MAX_SEGMENTS; i++)
        n += (size_t)snprintf(path + n, sizeof path - n, i ? ".k%d" : "k%d", i);
    p = mw_path_new(path);
    assert_non_null(p);
    assert_int_equal(json_integer_value(mw_path_get(d, p)), 42);
    flat = json_pack("{s:i}", path, 7);
    assert_int_equal(json_integer_value(mw_path_get(flat, p)), 7);
    mw_path_free(p);
    json_decref(d);
    json_decref(flat);
}

static void test_borrowed_reference(void **state)
{
    json_t *d = doc("{\"a\": {\"b\": [1, 2]}}");
    json_t *v = get(d, "a.b");
    (void)state;
    assert_non_null(v);
    assert_int_equal(v->refcount, 1); /* not incremented by the lookup */
    json_decref(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flattened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nested_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backtracks_to_flattened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_array_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_through_scalar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json_null, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_depth_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_borrowed_reference, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
