/* test_explain.c - cmocka tests for the explain hooks: mw_matcher_explain
 * (the deciding leaf, with field and values) and the sequence observer (each
 * transition reported once, with the pending sequence concerned) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mw_match.h"
#include "mw_seq.h"

static struct mw_event *ev_at(const char *json, mw_time_t ts, uint64_t seq)
{
    json_error_t e;
    json_t *root = json_loads(json, 0, &e);
    assert_non_null(root);
    return mw_event_new(root, ts, "unit", seq, 0, seq);
}

static struct mw_matcher *eq_str(const char *field, const char *v)
{
    struct mw_matcher *m = mw_matcher_new_leaf(MW_OP_EQ, mw_path_new(field));
    assert_int_equal(mw_matcher_add_string(m, v, strlen(v), false, NULL), 0);
    return m;
}

static void test_explain_first_false_leaf(void **state)
{
    (void)state;
    struct mw_matcher *all = mw_matcher_new_group(MW_OP_ALL);
    struct mw_matcher *n = mw_matcher_new_leaf(MW_OP_EQ, mw_path_new("code"));
    assert_int_equal(mw_matcher_add_number(n, 0, true, NULL), 0);
    mw_matcher_add_child(all, eq_str("kind", "signin"));
    mw_matcher_add_child(all, n);
    struct mw_event *ev = ev_at("{\"kind\":\"signin\",\"code\":7000215}", 0, 1);
    struct mw_match_why why;

    assert_int_equal(mw_matcher_explain(all, ev, NULL, &why), MW_FALSE);
    assert_string_equal(why.op, "eq");
    assert_string_equal(why.field, "code");
    assert_string_equal(why.expected, "0");
    assert_string_equal(why.actual, "7000215");
    assert_false(why.negated);
    mw_event_unref(ev);

    ev = ev_at("{\"kind\":\"signin\"}", 0, 2); /* missing: null, not false */
    assert_int_equal(mw_matcher_explain(all, ev, NULL, &why), MW_NULL);
    assert_string_equal(why.field, "code");
    assert_string_equal(why.actual, "missing");
    mw_event_unref(ev);

    ev = ev_at("{\"kind\":\"signin\",\"code\":0}", 0, 3);
    assert_int_equal(mw_matcher_explain(all, ev, NULL, &why), MW_TRUE);
    assert_string_equal(why.op, "");
    mw_event_unref(ev);
    mw_matcher_free(all);
}

static void test_explain_not_and_any(void **state)
{
    (void)state;
    struct mw_matcher *not_ = mw_matcher_new_group(MW_OP_NOT);
    mw_matcher_add_child(not_, eq_str("user", "ann"));
    struct mw_event *ev = ev_at("{\"user\":\"ann\"}", 0, 1);
    struct mw_match_why why;
    assert_int_equal(mw_matcher_explain(not_, ev, NULL, &why), MW_FALSE);
    assert_true(why.negated);
    assert_string_equal(why.expected, "'ann'");
    assert_string_equal(why.actual, "\"ann\"");
    mw_matcher_free(not_);

    struct mw_matcher *any = mw_matcher_new_group(MW_OP_ANY);
    mw_matcher_add_child(any, eq_str("user", "bob"));
    mw_matcher_add_child(any, eq_str("user", "carl"));
    assert_int_equal(mw_matcher_explain(any, ev, NULL, &why), MW_FALSE);
    assert_int_equal(why.alternatives, 2);
    assert_string_equal(why.expected, "'bob'");
    mw_matcher_free(any);
    mw_event_unref(ev);
}

/* observer log */
static char log_buf[1024];

static void observe(void *ud, const struct mw_seq_trace *t)
{
    static const char *const names[] = {
        "nokey",    "start",  "replace", "nopending", "notafter", "advance",
        "complete", "expire", "cancel",  "evict",     "until",
    };
    size_t len = strlen(log_buf);
    (void)ud;
    snprintf(log_buf + len, sizeof(log_buf) - len, "%s:%d:%d ", names[t->kind], t->step,
             t->evs ? (int)t->evs[0]->seq : 0);
}

static int emitted;
static void emit(void *ud, struct mw_event *const *evs, int n)
{
    (void)ud;
    (void)evs;
    (void)n;
    emitted++;
}

static void test_observer(void **state)
{
    (void)state;
    struct mw_seq_def *def = calloc(1, sizeof(*def));
    def->nsteps = 2;
    def->nkeys = 1;
    def->maxspan = 10 * 1000000; /* 10 s */
    def->where[0] = eq_str("a", "start");
    def->where[1] = eq_str("a", "end");
    def->owns_where[0] = def->owns_where[1] = true;
    def->keys[0].paths[0] = mw_path_new("k");
    def->keys[1].paths[0] = mw_path_new("k");
    struct mw_seq_state *st = mw_seq_state_new(def);
    mw_seq_set_observer(st, observe, NULL);
    const char *evs[] = {
        "{\"a\":\"start\",\"k\":\"x\"}", /* 1 @0s: start */
        "{\"a\":\"start\",\"k\":\"x\"}", /* 2 @1s: replaces 1 */
        "{\"a\":\"end\"}",               /* 3 @2s: no key */
        "{\"a\":\"end\",\"k\":\"y\"}",   /* 4 @3s: nothing pending */
        "{\"a\":\"end\",\"k\":\"x\"}",   /* 5 @4s: completes 2 */
        "{\"a\":\"start\",\"k\":\"z\"}", /* 6 @5s: start */
        "{\"a\":\"end\",\"k\":\"z\"}",   /* 7 @16s: 6 expired (advance) */
    };
    const mw_time_t at[] = {0, 1, 2, 3, 4, 5, 16};
    log_buf[0] = '\0';
    for (int i = 0; i < 7; i++) {
        struct mw_event *ev = ev_at(evs[i], at[i] * 1000000, (uint64_t)i + 1);
        mw_seq_process(def, st, ev, NULL, emit, NULL);
        mw_event_unref(ev);
    }
    assert_string_equal(log_buf,
                        "start:0:1 replace:0:1 start:0:2 nokey:1:0 nopending:1:0 "
                        "complete:1:2 start:0:6 expire:-1:6 nopending:1:0 ");
    assert_int_equal(emitted, 1);
    assert_int_equal(mw_seq_stats(st)->expired, 1);
    mw_seq_state_free(st);
    mw_seq_def_free(def);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explain_first_false_leaf),
        cmocka_unit_test(test_explain_not_and_any),
        cmocka_unit_test(test_observer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
