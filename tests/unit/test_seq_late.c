/* test_seq_late.c - cmocka tests for mw_seq: EQL R2-R11 again, late events, caps
 *
 * Events are {"t": type, "k": key, "id": n}; a step matches one type (or
 * any type for "*"). Every test feeds events through mw_seq_process the way
 * the engine does, records the completed sequences as id lists, and checks
 * at the end that every event's refcount is back to the test's own
 * reference (the machine leaked nothing) after mw_seq_state_free.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_seq.h"

#define MAXEV 256
#define S(x) ((mw_time_t)(x)*1000000)

struct world {
    struct mw_seq_def *def;
    struct mw_seq_state *st;
    mw_time_t lateness; /* the run option the state was made with */
    struct mw_event *evs[MAXEV];
    int nev;
    uint64_t seq;
    char out[4096]; /* "[1,2][3,4]" */
};

static struct mw_matcher *type_is(const char *t)
{
    if (strcmp(t, "*") == 0)
        return mw_matcher_new_group(MW_OP_ALL); /* empty all: true */
    struct mw_matcher *m = mw_matcher_new_leaf(MW_OP_EQ, mw_path_new("t"));
    assert_int_equal(mw_matcher_add_string(m, t, strlen(t), false, NULL), 0);
    return m;
}

/* steps: "A,B,C" types; until: type or NULL */
static void setup_def(struct world *w, const char *steps, const char *until,
                      mw_time_t maxspan, mw_time_t lateness)
{
    char buf[128], *save = NULL;
    memset(w, 0, sizeof(*w));
    w->def = calloc(1, sizeof(*w->def));
    snprintf(buf, sizeof(buf), "%s", steps);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = w->def->nsteps++;
        w->def->where[k] = type_is(tok);
        w->def->owns_where[k] = true;
        w->def->keys[k].paths[0] = mw_path_new("k");
    }
    w->def->nkeys = 1;
    if (until) {
        w->def->until_where = type_is(until);
        w->def->until_keys.paths[0] = mw_path_new("k");
    }
    w->def->maxspan = maxspan;
    w->lateness = lateness;
    w->st = mw_seq_state_new_with(w->def, &(struct mw_detect_opts){.lateness = lateness});
}

static void on_emit(void *ud, struct mw_event *const *evs, int n)
{
    struct world *w = ud;
    size_t len = strlen(w->out);
    len += (size_t)snprintf(w->out + len, sizeof(w->out) - len, "[");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(
            w->out + len, sizeof(w->out) - len, "%s%lld", i ? "," : "",
            (long long)json_integer_value(json_object_get(evs[i]->root, "id")));
    snprintf(w->out + len, sizeof(w->out) - len, "]");
}

/* Feeds one event of type t, key k, time ts; its id is its arrival number. */
static void feed(struct world *w, const char *t, const char *k, mw_time_t ts)
{
    int id = w->nev + 1;
    json_t *root = k ? json_pack("{s:s, s:s, s:i}", "t", t, "k", k, "id", id)
                     : json_pack("{s:s, s:i}", "t", t, "id", id);
    struct mw_event *ev = mw_event_new(root, ts, "test", (uint64_t)id, 0, ++w->seq);
    struct mw_match_ctx ctx = {NULL, NULL};
    w->evs[w->nev++] = ev;
    mw_seq_process(w->def, w->st, ev, &ctx, on_emit, w);
}

static void teardown_world(struct world *w)
{
    mw_seq_state_free(w->st);
    for (int i = 0; i < w->nev; i++) {
        assert_int_equal(w->evs[i]->refcount, 1);
        mw_event_unref(w->evs[i]);
    }
    mw_seq_def_free(w->def);
}

/* R4: for one key, A A B B A C B C C gives [2,3,6] then [5,7,8] */
static void test_r4_one_pending_per_state(void **state)
{
    struct world w;
    const char *ts = "AABBACBCC";
    (void)state;
    setup_def(&w, "A,B,C", NULL, 0, 0);
    for (int i = 0; ts[i]; i++)
        feed(&w, (char[]){ts[i], 0}, "x", S(i));
    assert_string_equal(w.out, "[2,3,6][5,7,8]");
    assert_int_equal(mw_seq_stats(w.st)->completed, 2);
    teardown_world(&w);
}

/* R5: [id<=3][true][true] over 5 events: 3 overlapping sequences (#76) */
static void test_r5_last_to_first(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "*,*,*", NULL, 0, 0);
    /* stage 1 is "any", so every event starts one: all of them chain */
    for (int i = 0; i < 5; i++)
        feed(&w, "P", "x", S(i));
    assert_string_equal(w.out, "[1,2,3][2,3,4][3,4,5]");
    teardown_world(&w);
}

/* R5: a lone event never fills two stages */
static void test_r5_lone_event(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "*,*", NULL, 0, 0);
    feed(&w, "P", "x", S(0));
    assert_string_equal(w.out, "");
    teardown_world(&w);
}

/* R11: [A][B] runs=2 [C] on A A B B A C B C C gives [2,3,4,6] */
static void test_r11_runs(void **state)
{
    struct world w;
    const char *ts = "AABBACBCC";
    (void)state;
    setup_def(&w, "A,B,B,C", NULL, 0, 0);
    for (int i = 0; ts[i]; i++)
        feed(&w, (char[]){ts[i], 0}, "x", S(i));
    assert_string_equal(w.out, "[2,3,4,6]");
    teardown_world(&w);
}

/* R7: maxspan inclusive, from the first event */
static void test_r7_maxspan_inclusive(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B", NULL, S(5), 0);
    feed(&w, "A", "x", S(0));
    feed(&w, "B", "x", S(5));
    feed(&w, "A", "y", S(10));
    feed(&w, "B", "y", S(15) + 1);
    assert_string_equal(w.out, "[1,2]");
    assert_int_equal(mw_seq_stats(w.st)->expired, 1);
    teardown_world(&w);
}

/* R2 ties: equal timestamps chain in arrival order only */
static void test_r2_ties(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B", NULL, 0, 0);
    feed(&w, "A", "x", S(1));
    feed(&w, "B", "x", S(1));
    feed(&w, "B", "y", S(2));
    feed(&w, "A", "y", S(2));
    assert_string_equal(w.out, "[1,2]");
    teardown_world(&w);
}

/* R9: a missing key takes no part */
static void test_r9_missing_key(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B", NULL, 0, 0);
    feed(&w, "A", NULL, S(1));
    feed(&w, "B", NULL, S(2));
    assert_string_equal(w.out, "");
    assert_int_equal(mw_seq_stats(w.st)->no_key, 2);
    teardown_world(&w);
}

/* R10: A U B does not match; A B U does; an event that is both the until
 * and the next stage keeps the sequence (ES) */
static void test_r10_until(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B", "U", 0, 0);
    feed(&w, "A", "x", S(1));
    feed(&w, "U", "x", S(2));
    feed(&w, "B", "x", S(3));
    feed(&w, "A", "y", S(4));
    feed(&w, "B", "y", S(5));
    feed(&w, "U", "y", S(6));
    assert_string_equal(w.out, "[4,5]");
    assert_int_equal(mw_seq_stats(w.st)->cancelled, 1);
    teardown_world(&w);

    setup_def(&w, "A,B,C", "B", 0, 0);
    feed(&w, "A", "x", S(1));
    feed(&w, "B", "x", S(2)); /* until and stage 2 at once: kept */
    feed(&w, "C", "x", S(3));
    assert_string_equal(w.out, "[1,2,3]");
    teardown_world(&w);
}

/* Late: the stage-2 event is delivered before the stage-1 event it follows */
static void test_late_start_completes(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B", NULL, S(1800), S(300));
    feed(&w, "B", "x", S(252));
    feed(&w, "A", "x", S(0));
    assert_string_equal(w.out, "[2,1]");
    assert_int_equal(mw_seq_stats(w.st)->late_replays, 1);
    assert_int_equal(mw_seq_stats(w.st)->open, 0);
    teardown_world(&w);

    /* without lateness the same arrival order gives nothing */
    setup_def(&w, "A,B", NULL, S(1800), 0);
    feed(&w, "B", "x", S(252));
    feed(&w, "A", "x", S(0));
    assert_string_equal(w.out, "");
    teardown_world(&w);
}

/* Late: a late middle stage, a late until, a late event on equal time */
static void test_late_middle_and_until(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B,C", NULL, 0, S(300));
    feed(&w, "A", "x", S(1));
    feed(&w, "C", "x", S(3));
    feed(&w, "B", "x", S(2)); /* late: A B C in event time */
    assert_string_equal(w.out, "[1,3,2]");
    teardown_world(&w);

    setup_def(&w, "A,B,C", "U", 0, S(300));
    feed(&w, "A", "x", S(1));
    feed(&w, "B", "x", S(3));
    feed(&w, "U", "x", S(2)); /* late until between A and B: cancels */
    feed(&w, "C", "x", S(4));
    assert_string_equal(w.out, "");
    assert_int_equal(mw_seq_stats(w.st)->open, 0);
    teardown_world(&w);

    /* a late event at an equal time sorts after the ones that came first */
    setup_def(&w, "A,B", NULL, 0, S(300));
    feed(&w, "B", "x", S(5));
    feed(&w, "X", "y", S(9));
    feed(&w, "A", "x", S(5)); /* same time as B, arrived later: after B */
    assert_string_equal(w.out, "");
    teardown_world(&w);
}

/* Late: alerts already raised stand; the late event adds only the alerts
 * that hold it */
static void test_late_never_withdraws(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B", NULL, 0, S(300));
    feed(&w, "A", "x", S(0));
    feed(&w, "B", "x", S(10));
    feed(&w, "A", "x", S(5)); /* in order it would have replaced A#1 */
    assert_string_equal(w.out, "[1,2][3,2]");
    teardown_world(&w);
}

/* Late: entries older than now - lateness fold into the base; a late event
 * after a fold still sees the folded state */
static void test_late_fold(void **state)
{
    struct world w;
    (void)state;
    setup_def(&w, "A,B,C", NULL, 0, S(60));
    feed(&w, "A", "x", S(0));
    feed(&w, "B", "x", S(10));
    feed(&w, "Z", "other", S(500)); /* now moves on: A and B fold */
    feed(&w, "C", "x", S(505));
    assert_string_equal(w.out, "[1,2,4]");
    feed(&w, "A", "x", S(510));
    feed(&w, "C", "x", S(530));
    feed(&w, "B", "x", S(520)); /* late by 10s: A#5 B#7 C#6 */
    assert_string_equal(w.out, "[1,2,4][5,7,6]");
    teardown_world(&w);
}

/* Expiry frees keys as now moves; the cap evicts the oldest and counts it */
static void test_expiry_and_cap(void **state)
{
    struct world w;
    char key[16];
    (void)state;
    setup_def(&w, "A,B", NULL, S(10), S(5));
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        feed(&w, "A", key, S(1));
    }
    assert_int_equal(mw_seq_stats(w.st)->open_keys, 50);
    feed(&w, "Z", "z", S(17)); /* 17 - 5 - 1 > 10: all stale */
    assert_int_equal(mw_seq_stats(w.st)->open, 0);
    assert_int_equal(mw_seq_stats(w.st)->expired, 50);
    teardown_world(&w);

    setup_def(&w, "A,B", NULL, 0, 0);
    /* the cap is a run option: a new state with it */
    mw_seq_state_free(w.st);
    w.st = mw_seq_state_new_with(
        w.def, &(struct mw_detect_opts){.max_keys = 3, .lateness = w.lateness});
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        feed(&w, "A", key, S(i));
    }
    assert_int_equal(mw_seq_stats(w.st)->open_keys, 3);
    assert_int_equal(mw_seq_stats(w.st)->evicted, 2);
    feed(&w, "B", "k0", S(9)); /* evicted: no alert */
    feed(&w, "B", "k4", S(9));
    assert_string_equal(w.out, "[5,7]");
    teardown_world(&w);
}

/* keys_ci and multi-key tuples */
static void test_keys(void **state)
{
    char a[64], b[64];
    struct mw_seq_keys keys;
    json_t *r1 = json_pack("{s:s, s:i}", "u", "Bob", "n", 1);
    json_t *r2 = json_pack("{s:s, s:f}", "u", "bob", "n", 1.0);
    struct mw_event *e1 = mw_event_new(r1, 0, "t", 1, 0, 1);
    struct mw_event *e2 = mw_event_new(r2, 0, "t", 2, 0, 2);
    (void)state;
    memset(&keys, 0, sizeof(keys));
    keys.paths[0] = mw_path_new("u");
    keys.paths[1] = mw_path_new("n");
    int la = mw_seq_key(&keys, 2, false, e1, a, sizeof(a));
    int lb = mw_seq_key(&keys, 2, false, e2, b, sizeof(b));
    assert_true(la > 0 && lb > 0);
    assert_false(la == lb && memcmp(a, b, (size_t)la) == 0);
    la = mw_seq_key(&keys, 2, true, e1, a, sizeof(a));
    lb = mw_seq_key(&keys, 2, true, e2, b, sizeof(b));
    assert_true(la == lb && memcmp(a, b, (size_t)la) == 0); /* 1 == 1.0 */
    mw_path_free(keys.paths[0]);
    mw_path_free(keys.paths[1]);
    mw_event_unref(e1);
    mw_event_unref(e2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_r4_one_pending_per_state),
        cmocka_unit_test(test_r5_last_to_first),
        cmocka_unit_test(test_r5_lone_event),
        cmocka_unit_test(test_r11_runs),
        cmocka_unit_test(test_r7_maxspan_inclusive),
        cmocka_unit_test(test_r2_ties),
        cmocka_unit_test(test_r9_missing_key),
        cmocka_unit_test(test_r10_until),
        cmocka_unit_test(test_late_start_completes),
        cmocka_unit_test(test_late_middle_and_until),
        cmocka_unit_test(test_late_never_withdraws),
        cmocka_unit_test(test_late_fold),
        cmocka_unit_test(test_expiry_and_cap),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
