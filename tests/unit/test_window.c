/* test_window.c - cmocka tests for mw_window: threshold, distinct count,
 * first-seen (new_terms, with its state file) and absence
 *
 * Events are {"t": type, "k": group key, "v": value, "id": n}. Alerts are
 * recorded as "<ids>{key}" strings; every test checks at the end that the
 * window released every event it held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mw_window.h"

#define MAXEV 256
#define S(x) ((mw_time_t)(x)*1000000)

struct world {
    struct mw_window_def *def;
    struct mw_window_state *st;
    mw_time_t lateness; /* the run option the state was made with */
    struct mw_event *evs[MAXEV];
    int nev;
    char out[4096];
    json_t *last_details;
};

static struct mw_matcher *type_is(const char *t)
{
    struct mw_matcher *m = mw_matcher_new_leaf(MW_OP_EQ, mw_path_new("t"));
    assert_int_equal(mw_matcher_add_string(m, t, strlen(t), false, NULL), 0);
    return m;
}

static void setup_win(struct world *w, enum mw_window_kind kind, uint64_t count,
                      mw_time_t span, mw_time_t lateness)
{
    memset(w, 0, sizeof(*w));
    w->def = calloc(1, sizeof(*w->def));
    w->def->kind = kind;
    w->def->where = type_is("A");
    w->def->by.paths[0] = mw_path_new("k");
    w->def->nby = 1;
    w->def->count = count;
    w->def->span = span;
    if (kind == MW_WINDOW_DISTINCT)
        w->def->field = mw_path_new("v");
    if (kind == MW_WINDOW_ABSENCE) {
        w->def->absent_where = type_is("B");
        w->def->absent_by.paths[0] = mw_path_new("k");
    }
    w->lateness = lateness;
    w->st =
        mw_window_state_new_with(w->def, &(struct mw_detect_opts){.lateness = lateness});
}

static void on_emit(void *ud, struct mw_event *const *evs, int n, json_t *key,
                    json_t *details)
{
    struct world *w = ud;
    size_t len = strlen(w->out);
    len += (size_t)snprintf(w->out + len, sizeof(w->out) - len, "[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(
            w->out + len, sizeof(w->out) - len, "%s%lld", i ? "," : "",
            (long long)json_integer_value(json_object_get(evs[i]->root, "id")));
    snprintf(w->out + len, sizeof(w->out) - len, "]%s",
             json_string_value(json_array_get(key, 0)));
    json_decref(w->last_details);
    w->last_details = json_incref(details);
}

static void feed(struct world *w, const char *t, const char *k, const char *v,
                 mw_time_t ts)
{
    int id = w->nev + 1;
    json_t *root = json_pack("{s:s, s:s, s:i}", "t", t, "k", k, "id", id);
    struct mw_match_ctx ctx = {NULL, NULL};
    if (v)
        json_object_set_new(root, "v", json_string(v));
    struct mw_event *ev = mw_event_new(root, ts, "test", (uint64_t)id, 0, (uint64_t)id);
    w->evs[w->nev++] = ev;
    mw_window_process(w->def, w->st, ev, &ctx, on_emit, w);
}

static void teardown_world(struct world *w)
{
    mw_window_state_free(w->st);
    for (int i = 0; i < w->nev; i++) {
        assert_int_equal(w->evs[i]->refcount, 1);
        mw_event_unref(w->evs[i]);
    }
    json_decref(w->last_details);
    mw_window_def_free(w->def);
}

static void test_threshold(void **state)
{
    struct world w;
    (void)state;
    setup_win(&w, MW_WINDOW_THRESHOLD, 3, S(60), S(300));
    feed(&w, "A", "x", NULL, S(0));
    feed(&w, "A", "x", NULL, S(30));
    feed(&w, "A", "y", NULL, S(40));
    feed(&w, "A", "x", NULL, S(90)); /* #1 left the window: 2 in it */
    feed(&w, "B", "x", NULL, S(91)); /* not matched */
    assert_string_equal(w.out, "");
    feed(&w, "A", "x", NULL, S(80)); /* late, inside the window: 3 */
    assert_string_equal(w.out, "[2,6,4]x");
    assert_int_equal(json_integer_value(json_object_get(w.last_details, "count")), 3);
    /* the group starts over after an alert */
    feed(&w, "A", "x", NULL, S(95));
    assert_string_equal(w.out, "[2,6,4]x");
    assert_int_equal(mw_window_stats(w.st)->fired, 1);
    /* expiry frees groups once now - lateness - window passes them */
    mw_window_advance(w.def, w.st, S(1000), on_emit, &w);
    assert_int_equal(mw_window_stats(w.st)->open, 0);
    teardown_world(&w);
}

static void test_threshold_cap(void **state)
{
    struct world w;
    char key[16];
    (void)state;
    setup_win(&w, MW_WINDOW_THRESHOLD, 2, S(60), 0);
    /* the cap is a run option: a new state with it */
    mw_window_state_free(w.st);
    w.st = mw_window_state_new_with(w.def, &(struct mw_detect_opts){.max_keys = 4});
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        feed(&w, "A", key, NULL, S(i));
    }
    assert_int_equal(mw_window_stats(w.st)->open, 4);
    assert_int_equal(mw_window_stats(w.st)->evicted, 6);
    feed(&w, "A", "k0", NULL, S(11)); /* k0 was evicted: starts again */
    feed(&w, "A", "k9", NULL, S(11));
    assert_string_equal(w.out, "[10,12]k9");
    teardown_world(&w);
}

static void test_distinct(void **state)
{
    struct world w;
    (void)state;
    setup_win(&w, MW_WINDOW_DISTINCT, 3, S(60), 0);
    feed(&w, "A", "x", "1.1.1.1", S(0));
    feed(&w, "A", "x", "1.1.1.1", S(10));
    feed(&w, "A", "x", "2.2.2.2", S(20));
    feed(&w, "A", "y", "3.3.3.3", S(25));
    feed(&w, "A", "x", NULL, S(26)); /* no value: no part */
    assert_string_equal(w.out, "");
    feed(&w, "A", "x", "3.3.3.3", S(30));
    assert_string_equal(w.out, "[2,3,6]x");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(w.last_details, "values"), 2)),
        "3.3.3.3");
    assert_int_equal(mw_window_stats(w.st)->no_key, 1);
    teardown_world(&w);

    setup_win(&w, MW_WINDOW_DISTINCT, 2, S(60), 0);
    feed(&w, "A", "x", "a", S(0));
    feed(&w, "A", "x", "b", S(61)); /* a is out of the window */
    assert_string_equal(w.out, "");
    teardown_world(&w);
}

static void test_new_terms(void **state)
{
    struct world w;
    char path[] = "/tmp/mw-test-window-XXXXXX";
    char file[64];
    struct mw_error err;
    (void)state;
    assert_non_null(mkdtemp(path));
    snprintf(file, sizeof(file), "%s/nt.state", path);

    setup_win(&w, MW_WINDOW_NEW_TERMS, 0, S(7 * 86400), S(300));
    feed(&w, "A", "app1", NULL, S(0));
    feed(&w, "A", "app1", NULL, S(86400)); /* seen within 7d */
    feed(&w, "A", "app2", NULL, S(86400));
    feed(&w, "A", "app2", NULL, S(86400) - S(100)); /* late, already known */
    feed(&w, "A", "app1", NULL, S(9 * 86400));      /* 8d after: new again */
    assert_string_equal(w.out, "[1]app1[3]app2[5]app1");
    /* forgotten once out of the history (and the lateness) */
    assert_true(json_is_null(json_object_get(w.last_details, "last_seen")));
    assert_int_equal(mw_window_save(w.def, w.st, "rule-1", file, &err), 0);
    teardown_world(&w);

    /* a restart with the state file: app1 is known, app3 is new */
    setup_win(&w, MW_WINDOW_NEW_TERMS, 0, S(7 * 86400), S(300));
    assert_int_equal(mw_window_load(w.def, w.st, "rule-1", file, &err), 0);
    assert_int_equal(mw_window_stats(w.st)->loaded, 1); /* app2 expired */
    feed(&w, "A", "app1", NULL, S(10 * 86400));
    feed(&w, "A", "app3", NULL, S(10 * 86400));
    feed(&w, "A", "app2", NULL, S(10 * 86400));
    assert_string_equal(w.out, "[2]app3[3]app2");
    assert_int_equal(mw_window_load(w.def, w.st, "other-rule", file, &err), -1);
    assert_non_null(strstr(err.msg, "state of rule 'rule-1'"));
    teardown_world(&w);

    /* a truncated file is refused and leaves the state empty */
    FILE *fp = fopen(file, "w");
    fputs("moonwatch new_terms state v1\nrule\trule-1\n10\t73\n", fp);
    fclose(fp);
    setup_win(&w, MW_WINDOW_NEW_TERMS, 0, S(86400), 0);
    assert_int_equal(mw_window_load(w.def, w.st, "rule-1", file, &err), -1);
    assert_int_equal(mw_window_stats(w.st)->open, 0);
    teardown_world(&w);

    /* warmup: nothing is new before the state covers the history */
    setup_win(&w, MW_WINDOW_NEW_TERMS, 0, S(100), 0);
    w.def->warmup = true;
    feed(&w, "A", "a", NULL, S(0));
    feed(&w, "A", "b", NULL, S(50));
    feed(&w, "A", "c", NULL, S(150));
    assert_string_equal(w.out, "[3]c");
    teardown_world(&w);
    unlink(file);
    rmdir(path);
}

static void test_absence(void **state)
{
    struct world w;
    (void)state;
    setup_win(&w, MW_WINDOW_ABSENCE, 0, S(600), S(300));
    feed(&w, "A", "x", NULL, S(0));
    feed(&w, "A", "y", NULL, S(0));
    feed(&w, "B", "y", NULL, S(600)); /* inclusive: y is satisfied */
    feed(&w, "Z", "z", NULL, S(800)); /* x's window ended, but lateness */
    assert_string_equal(w.out, "");
    feed(&w, "Z", "z", NULL, S(901)); /* 901 - 300 > 600: x fires */
    assert_string_equal(w.out, "[1]x");
    assert_int_equal(mw_window_stats(w.st)->cancelled, 1);
    teardown_world(&w);

    /* a late `first` whose `absent` arrived before it */
    setup_win(&w, MW_WINDOW_ABSENCE, 0, S(600), S(300));
    feed(&w, "B", "x", NULL, S(100));
    feed(&w, "A", "x", NULL, S(50));
    mw_window_finish(w.def, w.st, on_emit, &w);
    mw_window_advance(w.def, w.st, S(5000), on_emit, &w);
    assert_string_equal(w.out, "");
    assert_int_equal(mw_window_stats(w.st)->open, 0);
    teardown_world(&w);

    /* end of input: windows that ended fire, open ones do not */
    setup_win(&w, MW_WINDOW_ABSENCE, 0, S(600), S(300));
    feed(&w, "A", "x", NULL, S(0));
    feed(&w, "A", "y", NULL, S(500));
    feed(&w, "Z", "z", NULL, S(700));
    mw_window_finish(w.def, w.st, on_emit, &w);
    assert_string_equal(w.out, "[1]x");
    teardown_world(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threshold), cmocka_unit_test(test_threshold_cap),
        cmocka_unit_test(test_distinct),  cmocka_unit_test(test_new_terms),
        cmocka_unit_test(test_absence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
