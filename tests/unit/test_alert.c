/* test_alert.c - cmocka tests for mw_alert: severity, ids, message templates */

/*
 * No rule is loaded: a struct mw_rule_meta and a one-key mw_seq_def are
 * filled by hand. Most tests route jansson through cmocka's test_malloc/
 * test_free so a leaked json_t fails the test.
 *
 * json_dumps() output must be released with jansson's free function
 * (mw_json_free), not libc free(): test_alert_id_uses_jansson_free and
 * test_message_dump_uses_jansson_free check it with a counting allocator.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mw_alert.h"

#define SEC INT64_C(1000000)
#define T0 INT64_C(1644301348000000)

static void *json_test_malloc(size_t n)
{
    return test_malloc(n);
}

static void json_test_free(void *p)
{
    test_free(p);
}

/* counting pass-through allocator: live = allocations not yet freed */
static long live_blocks;

static void *json_count_malloc(size_t n)
{
    void *p = malloc(n);
    if (p)
        live_blocks++;
    return p;
}

static void json_count_free(void *p)
{
    if (p)
        live_blocks--;
    free(p);
}

static int setup(void **state)
{
    (void)state;
    json_set_alloc_funcs(json_test_malloc, json_test_free);
    return 0;
}

static int setup_count(void **state)
{
    (void)state;
    live_blocks = 0;
    json_set_alloc_funcs(json_count_malloc, json_count_free);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_set_alloc_funcs(malloc, free);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */

static struct mw_event *ev_at(const char *text, mw_time_t ts, const char *input,
                              uint64_t line)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (root == NULL)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    return mw_event_new(root, ts, input, line, line * 100, line);
}

static void id_of(const char *rule, struct mw_event *const *evs, int n, char out[33])
{
    memset(out, 'Z', 33);
    mw_alert_id(rule, evs, n, out);
    assert_int_equal(strlen(out), 32);
    for (int i = 0; i < 32; i++)
        assert_non_null(strchr("0123456789abcdef", out[i]));
}

static char rule_id[] = "rule-1";
static char rule_name[] = "Suspicious sign-in then role change";
static char empty[] = "";

static void meta_init(struct mw_rule_meta *m, char *message)
{
    memset(m, 0, sizeof(*m));
    m->id = rule_id;
    m->name = rule_name;
    m->message = message;
}

/* A two-step def keyed by the given paths (NULL-terminated). */
static struct mw_seq_def *def_keys(const char *k1, const char *k2)
{
    struct mw_seq_def *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    d->nsteps = 2;
    for (int i = 0; i < 2; i++) {
        d->keys[i].paths[0] = mw_path_new(k1);
        if (k2)
            d->keys[i].paths[1] = mw_path_new(k2);
    }
    d->nkeys = k2 ? 2 : 1;
    return d;
}

static void check_msg(const struct mw_rule_meta *m, const struct mw_seq_def *d,
                      struct mw_event *const *evs, int n, const char *want)
{
    char *got = mw_alert_message(m, d, evs, n);
    assert_non_null(got);
    if (strcmp(got, want) != 0) {
        char buf[1024];
        snprintf(buf, sizeof buf, "template \"%s\": got \"%s\", want \"%s\"",
                 m->message ? m->message : "(null)", got, want);
        free(got);
        fail_msg("%s", buf);
    }
    free(got);
}

/* ------------------------------------------------------------------------ */
/* severity                                                                 */

static void test_severity_number(void **state)
{
    (void)state;
    assert_int_equal(mw_severity_number("low"), 21);
    assert_int_equal(mw_severity_number("medium"), 47);
    assert_int_equal(mw_severity_number("high"), 73);
    assert_int_equal(mw_severity_number("critical"), 99);
    assert_int_equal(mw_severity_number("unknown"), 47);
    assert_int_equal(mw_severity_number(""), 47);
}

/* ------------------------------------------------------------------------ */
/* ids                                                                      */

static void test_alert_id_deterministic(void **state)
{
    struct mw_event *a = ev_at("{\"user\": \"alice\", \"n\": 1}", T0, "in1.ndjson", 1);
    struct mw_event *b =
        ev_at("{\"action\": \"x\", \"user\": \"alice\"}", T0 + SEC, "in1.ndjson", 2);
    /* same content, other files/lines/times, other key order */
    struct mw_event *a2 =
        ev_at("{\"n\": 1, \"user\": \"alice\"}", T0 + 99 * SEC, "other.ndjson", 77);
    struct mw_event *b2 =
        ev_at("{\"user\": \"alice\", \"action\": \"x\"}", T0, "<stdin>", 5);
    struct mw_event *c = ev_at("{\"user\": \"alice\", \"n\": 2}", T0, "in1.ndjson", 3);
    struct mw_event *d = ev_at("{\"user\": \"alice\", \"n\": 1.0}", T0, "in1.ndjson", 4);
    struct mw_event *ab[] = {a, b}, *ab2[] = {a2, b2}, *ba[] = {b, a};
    struct mw_event *cb[] = {c, b}, *db[] = {d, b}, *aonly[] = {a};
    char id1[33], id2[33], id3[33];

    (void)state;
    id_of("rule-1", ab, 2, id1);
    id_of("rule-1", ab, 2, id2);
    assert_string_equal(id1, id2);
    id_of("rule-1", ab2, 2, id2);
    assert_string_equal(id1, id2);

    id_of("rule-2", ab, 2, id3);
    assert_string_not_equal(id1, id3);
    id_of("rule-1", ba, 2, id3);
    assert_string_not_equal(id1, id3);
    id_of("rule-1", cb, 2, id3);
    assert_string_not_equal(id1, id3);
    id_of("rule-1", db, 2, id3);
    assert_string_not_equal(id1, id3);
    id_of("rule-1", aonly, 1, id3);
    assert_string_not_equal(id1, id3);
    /* the rule id / event boundary is unambiguous */
    id_of("rule-", ab, 2, id3);
    assert_string_not_equal(id1, id3);

    mw_event_unref(a);
    mw_event_unref(b);
    mw_event_unref(a2);
    mw_event_unref(b2);
    mw_event_unref(c);
    mw_event_unref(d);
}

/* Regression: the json_dumps() result is released with free(), not with jansson's
 * free function, so a custom allocator sees the block leak (and cmocka's or
 * any header-prefixed allocator crashes). Expected: every block jansson
 * handed out is returned through its free function. */
static void test_alert_id_uses_jansson_free(void **state)
{
    struct mw_event *a = ev_at("{\"user\": \"alice\"}", T0, "in", 1);
    struct mw_event *b = ev_at("{\"user\": \"bob\"}", T0, "in", 2);
    struct mw_event *ab[] = {a, b};
    char id[33];
    long before;

    (void)state;
    before = live_blocks;
    mw_alert_id("rule-1", ab, 2, id);
    mw_event_unref(a);
    mw_event_unref(b);
    /* all documents released: nothing jansson allocated may be left */
    assert_int_equal(live_blocks, 0);
    assert_true(before > 0);
}

static void test_message_dump_uses_jansson_free(void **state)
{
    struct mw_rule_meta m;
    struct mw_event *a = ev_at("{\"o\": {\"k\": 1}}", T0, "in", 1);
    struct mw_event *evs[] = {a};
    char tmpl[] = "{1:o}";
    char *s;

    (void)state;
    meta_init(&m, tmpl);
    s = mw_alert_message(&m, NULL, evs, 1);
    assert_string_equal(s, "{\"k\":1}");
    free(s);
    mw_event_unref(a);
    assert_int_equal(live_blocks, 0);
}

/* ------------------------------------------------------------------------ */
/* messages                                                                 */

static void test_message_placeholders(void **state)
{
    struct mw_rule_meta m;
    struct mw_seq_def *d = def_keys("user", NULL);
    struct mw_event *a = ev_at("{\"user\": \"alice\", \"src\": {\"ip\": \"10.0.0.1\"}, "
                               "\"n\": 42, \"r\": 1.5, \"b\": true, \"z\": null, "
                               "\"arr\": [\"first\", \"second\"]}",
                               T0, "in", 1);
    struct mw_event *b = ev_at("{\"user\": \"alice\", \"action\": \"role.assign\", "
                               "\"f\": false}",
                               T0 + 4 * 60 * SEC + 12 * SEC, "in", 2);
    struct mw_event *evs[] = {a, b};
    char t1[] = "User {1:user} from {1:src.ip} did {2:action} after {gap} (key {key})";
    char t2[] = "{rule.name}: n={1:n} r={1:r} b={1:b} f={2:f} arr1={1:arr.1}";
    char t3[] = "missing={1:nope} null={1:z} step3={3:user} step0={0:user} junk={oops} "
                "nocolon={user} emptypath={1:} badpath={1:a..b}";
    char t4[] = "{{literal}} and }} and {{{1:user}}}";
    char t5[] = "unclosed {1:user and a } alone";
    char t6[] = "no placeholders";
    char t7[] = "{2:user}{1:user}";

    (void)state;
    meta_init(&m, t1);
    check_msg(&m, d, evs, 2,
              "User alice from 10.0.0.1 did role.assign after 4m12s (key alice)");
    meta_init(&m, t2);
    check_msg(
        &m, d, evs, 2,
        "Suspicious sign-in then role change: n=42 r=1.5 b=true f=false arr1=second");
    meta_init(&m, t3);
    check_msg(&m, d, evs, 2,
              "missing=? null=? step3=? step0=? junk=? nocolon=? "
              "emptypath=? badpath=?");
    meta_init(&m, t4);
    check_msg(&m, d, evs, 2, "{literal} and } and {alice}");
    meta_init(&m, t5);
    check_msg(&m, d, evs, 2, "unclosed ? alone");
    meta_init(&m, t6);
    check_msg(&m, d, evs, 2, "no placeholders");
    meta_init(&m, t7);
    check_msg(&m, d, evs, 2, "alicealice");

    mw_event_unref(a);
    mw_event_unref(b);
    mw_seq_def_free(d);
}

static void test_message_default_is_name(void **state)
{
    struct mw_rule_meta m;
    struct mw_event *a = ev_at("{\"user\": \"alice\"}", T0, "in", 1);
    struct mw_event *evs[] = {a};

    (void)state;
    meta_init(&m, NULL);
    check_msg(&m, NULL, evs, 1, rule_name);
    meta_init(&m, empty);
    check_msg(&m, NULL, evs, 1, rule_name);
    mw_event_unref(a);
}

static void test_message_key_and_gap(void **state)
{
    struct mw_rule_meta m;
    struct mw_seq_def *d1 = def_keys("user", NULL);
    struct mw_seq_def *d2 = def_keys("user", "host.name");
    struct mw_event *a =
        ev_at("{\"user\": \"alice\", \"host\": {\"name\": \"h1\"}}", T0, "in", 1);
    struct mw_event *b = ev_at("{\"user\": \"alice\"}", T0 + 3720 * SEC, "in", 2);
    struct mw_event *c = ev_at("{\"uid\": 7}", T0 + 250000, "in", 3);
    struct mw_event *nokey = ev_at("{\"x\": 1}", T0, "in", 4);
    struct mw_event *ab[] = {a, b}, *ac[] = {a, c}, *aa[] = {a, a}, *nk[] = {nokey, b};
    char tk[] = "{key}|{gap}";

    (void)state;
    meta_init(&m, tk);
    check_msg(&m, d1, ab, 2, "alice|1h2m");
    check_msg(&m, d2, ab, 2, "alice, h1|1h2m");
    check_msg(&m, d1, ac, 2, "alice|250ms");
    check_msg(&m, d1, aa, 2, "alice|0s");
    /* no sequence definition (a query rule): no key */
    check_msg(&m, NULL, ab, 2, "?|1h2m");
    /* key field absent in the first event */
    check_msg(&m, d2, nk, 2, "?, ?|1h2m");
    /* numeric key */
    {
        struct mw_seq_def *d3 = def_keys("uid", NULL);
        struct mw_event *cc[] = {c, c};
        check_msg(&m, d3, cc, 2, "7|0s");
        mw_seq_def_free(d3);
    }
    mw_event_unref(a);
    mw_event_unref(b);
    mw_event_unref(c);
    mw_event_unref(nokey);
    mw_seq_def_free(d1);
    mw_seq_def_free(d2);
}

static void test_message_object_value(void **state)
{
    /* runs with malloc/free installed: see the file comment */
    struct mw_rule_meta m;
    struct mw_event *a = ev_at("{\"o\": {\"k\": 1}, \"arr\": [1, \"x\"]}", T0, "in", 1);
    struct mw_event *evs[] = {a};
    char t[] = "{1:o} {1:arr}";

    (void)state;
    meta_init(&m, t);
    check_msg(&m, NULL, evs, 1, "{\"k\":1} [1,\"x\"]");
    mw_event_unref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_severity_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_id_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_id_uses_jansson_free, setup_count,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_message_placeholders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_default_is_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_key_and_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_object_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_dump_uses_jansson_free, setup_count,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
