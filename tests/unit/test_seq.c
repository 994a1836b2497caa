/* test_seq.c - cmocka tests for mw_seq: EQL sequence semantics R2-R11 */

/*
 * Definitions are built by hand (no Lua): each step's `where` is an EQ on
 * "type" (or a custom matcher), each step's join key is the path "k".
 * Events are fed in order; completed sequences are recorded by their "id"
 * fields and compared as text, e.g. "2,3,6;5,7,8". The fixture holds one
 * reference to every event it made; teardown frees the state first and then
 * asserts that every held event is back to refcount 1 (nothing retained,
 * nothing over-released). jansson is routed through cmocka's allocator so a
 * leaked event document fails the test.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mw_seq.h"

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

#define MAX_HELD 256

struct fx {
    struct mw_seq_def *def;
    struct mw_seq_state *st;
    struct mw_event *held[MAX_HELD];
    int nheld;
    uint64_t seq;
    char out[4096]; /* completed sequences: "1,2,3;4,5,6" */
    int nout;
    int emit_refcount_ok;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    json_set_alloc_funcs(json_test_malloc, json_test_free);
    assert_non_null(f);
    f->emit_refcount_ok = 1;
    *state = f;
    return 0;
}

/* Frees the state, checks that every held event is back to refcount 1 and
 * releases them. Called at the end of each test (cmocka checks for leaked
 * blocks when the test function returns, before teardown runs). */
static void finish(struct fx *f)
{
    int bad = -1;

    mw_seq_state_free(f->st);
    f->st = NULL;
    for (int i = 0; i < f->nheld; i++)
        if (f->held[i]->refcount != 1 && bad < 0)
            bad = i;
    for (int i = 0; i < f->nheld; i++)
        if (f->held[i]->refcount == 1)
            mw_event_unref(f->held[i]);
    f->nheld = 0;
    mw_seq_def_free(f->def);
    f->def = NULL;
    if (bad >= 0)
        fail_msg("event %d still has refcount != 1 after mw_seq_state_free", bad + 1);
}

static int teardown(void **state)
{
    struct fx *f = *state;

    /* after a failed assertion: release what is left, ignore refcounts */
    mw_seq_state_free(f->st);
    for (int i = 0; i < f->nheld; i++)
        while (f->held[i]->refcount > 1)
            mw_event_unref(f->held[i]);
    for (int i = 0; i < f->nheld; i++)
        mw_event_unref(f->held[i]);
    mw_seq_def_free(f->def);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* building definitions                                                     */

static struct mw_matcher *eq_str(const char *path, const char *v)
{
    struct mw_error err;
    struct mw_matcher *m = mw_matcher_new_leaf(MW_OP_EQ, mw_path_new(path));
    if (mw_matcher_add_string(m, v, strlen(v), false, &err) < 0)
        fail_msg("%s", err.msg);
    return m;
}

static struct mw_matcher *always(void)
{
    return mw_matcher_new_leaf(MW_OP_EXISTS, mw_path_new("id"));
}

static struct mw_path *path(const char *s)
{
    struct mw_path *p = mw_path_new(s);
    assert_non_null(p);
    return p;
}

/* A def whose step i matches type types[i], keyed by "k" (or unkeyed). */
static struct mw_seq_def *def_types(const char *types, bool keyed)
{
    struct mw_seq_def *d = calloc(1, sizeof(*d));
    int n = (int)strlen(types);
    assert_non_null(d);
    d->nsteps = n;
    for (int i = 0; i < n; i++) {
        char t[2] = {types[i], '\0'};
        d->where[i] = eq_str("type", t);
        d->owns_where[i] = true;
        if (keyed)
            d->keys[i].paths[0] = path("k");
    }
    d->nkeys = keyed ? 1 : 0;
    return d;
}

static void start_with(struct fx *f, struct mw_seq_def *d, const struct mw_detect_opts *o)
{
    f->def = d;
    f->st = mw_seq_state_new_with(d, o);
    assert_non_null(f->st);
}

static void start(struct fx *f, struct mw_seq_def *d)
{
    start_with(f, d, NULL);
}

/* ------------------------------------------------------------------------ */
/* feeding                                                                  */

static void emit(void *ud, struct mw_event *const *evs, int n)
{
    struct fx *f = ud;
    size_t len = strlen(f->out);
    assert_int_equal(n, f->def->nsteps);
    if (len)
        f->out[len++] = ';';
    for (int i = 0; i < n; i++) {
        json_t *id = json_object_get(evs[i]->root, "id");
        /* held by the fixture and by the pending sequence */
        if (evs[i]->refcount < 2)
            f->emit_refcount_ok = 0;
        len += (size_t)snprintf(f->out + len, sizeof f->out - len, "%s%lld", i ? "," : "",
                                (long long)json_integer_value(id));
    }
    f->nout++;
}

static struct mw_event *hold(struct fx *f, json_t *root, mw_time_t ts, uint64_t seq)
{
    struct mw_event *ev;
    assert_non_null(root);
    assert_true(f->nheld < MAX_HELD);
    ev = mw_event_new(root, ts, "t", (uint64_t)f->nheld + 1, 0, seq);
    f->held[f->nheld++] = ev;
    return ev;
}

static void process(struct fx *f, struct mw_event *ev)
{
    mw_seq_process(f->def, f->st, ev, NULL, emit, f);
}

/* Feeds {"id": id, "type": type, "k": key} at ts (key NULL: no "k"). */
static struct mw_event *feed_at(struct fx *f, int id, const char *type, const char *key,
                                mw_time_t ts)
{
    json_t *root = key ? json_pack("{s:i, s:s, s:s}", "id", id, "type", type, "k", key)
                       : json_pack("{s:i, s:s}", "id", id, "type", type);
    struct mw_event *ev = hold(f, root, ts, ++f->seq);
    process(f, ev);
    return ev;
}

/* Feeds events 1..n with types from the string, one second apart. */
static void feed_types(struct fx *f, const char *types, const char *key)
{
    for (int i = 0; types[i]; i++) {
        char t[2] = {types[i], '\0'};
        feed_at(f, i + 1, t, key, T0 + (i + 1) * SEC);
    }
}

static struct mw_event *feed_json(struct fx *f, mw_time_t ts, const char *text)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    struct mw_event *ev;
    if (root == NULL)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    ev = hold(f, root, ts, ++f->seq);
    process(f, ev);
    return ev;
}

#define EXPECT(f, want) expect_out((f), (want), __LINE__)

static void expect_out(struct fx *f, const char *want, int line)
{
    if (strcmp(f->out, want) != 0)
        fail_msg("line %d: sequences \"%s\", want \"%s\"", line, f->out, want);
    assert_true(f->emit_refcount_ok);
}

#define STATS(f) mw_seq_stats((f)->st)

/* ------------------------------------------------------------------------ */
/* R3/R4                                                                    */

static void test_r4_documented_example(void **state)
{
    struct fx *f = *state;
    const struct mw_seq_stats *s;

    start(f, def_types("ABC", true));
    feed_types(f, "AABBACBCC", "u1");
    EXPECT(f, "2,3,6;5,7,8");
    s = STATS(f);
    assert_int_equal(s->started, 3);
    assert_int_equal(s->replaced, 1);
    assert_int_equal(s->completed, 2);
    assert_int_equal(s->expired, 0);
    assert_int_equal(s->cancelled, 0);
    assert_int_equal(s->evicted, 0);
    assert_int_equal(s->no_key, 0);
    assert_int_equal(s->open, 0);
    assert_int_equal(s->open_keys, 0);
    assert_int_equal(s->matched[0], 3);
    assert_int_equal(s->matched[1], 3);
    assert_int_equal(s->matched[2], 3);
    finish(f);
}

static void test_r4_unkeyed_global_machine(void **state)
{
    struct fx *f = *state;
    start(f, def_types("ABC", false));
    feed_types(f, "AABBACBCC", NULL);
    EXPECT(f, "2,3,6;5,7,8");
    finish(f);
}

static void test_r4_keys_are_independent(void **state)
{
    struct fx *f = *state;
    start(f, def_types("ABC", true));
    /* interleave the example for two keys; each key sees it alone */
    for (int i = 0; i < 9; i++) {
        char t[2] = {"AABBACBCC"[i], '\0'};
        feed_at(f, 10 + i + 1, t, "x", T0 + (2 * i) * SEC);
        feed_at(f, 20 + i + 1, t, "y", T0 + (2 * i + 1) * SEC);
    }
    EXPECT(f, "12,13,16;22,23,26;15,17,18;25,27,28");
    assert_int_equal(STATS(f)->completed, 4);
    assert_int_equal(STATS(f)->open_keys, 0);
    finish(f);
}

static void test_r4_advanced_prefix_replaced(void **state)
{
    /* A1 B2 A3 B4: [A3,B4] overwrites [A1,B2] waiting for C */
    struct fx *f = *state;
    start(f, def_types("ABC", true));
    feed_types(f, "ABAB", "k");
    assert_int_equal(STATS(f)->replaced, 1);
    assert_int_equal(STATS(f)->open, 1);
    feed_at(f, 5, "C", "k", T0 + 5 * SEC);
    EXPECT(f, "3,4,5");
    assert_int_equal(STATS(f)->open, 0);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R5                                                                       */

static void test_r5_lone_event_never_matches_itself(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = calloc(1, sizeof(*d));
    d->nsteps = 2;
    for (int i = 0; i < 2; i++) {
        d->where[i] = always();
        d->owns_where[i] = true;
    }
    start(f, d);
    feed_at(f, 1, "x", NULL, T0);
    EXPECT(f, "");
    assert_int_equal(STATS(f)->started, 1);
    assert_int_equal(STATS(f)->open, 1);
    feed_at(f, 2, "x", NULL, T0 + SEC);
    EXPECT(f, "1,2");
    feed_at(f, 3, "x", NULL, T0 + 2 * SEC);
    EXPECT(f, "1,2;2,3");
    finish(f);
}

static void test_r5_conformance_76(void **state)
{
    /* [id <= 3] [true] [true] over ids 1..5 */
    struct fx *f = *state;
    struct mw_seq_def *d = calloc(1, sizeof(*d));
    struct mw_error err;
    d->nsteps = 3;
    d->where[0] = mw_matcher_new_leaf(MW_OP_LE, path("id"));
    assert_int_equal(mw_matcher_add_number(d->where[0], 3, true, &err), 0);
    d->where[1] = always();
    d->where[2] = always();
    d->owns_where[0] = d->owns_where[1] = d->owns_where[2] = true;
    start(f, d);
    for (int i = 1; i <= 5; i++)
        feed_at(f, i, "x", NULL, T0 + i * SEC);
    EXPECT(f, "1,2,3;2,3,4;3,4,5");
    assert_int_equal(STATS(f)->completed, 3);
    assert_int_equal(STATS(f)->started, 3);
    assert_int_equal(STATS(f)->open, 0);
    finish(f);
}

static void test_r5_one_event_completes_advances_and_starts(void **state)
{
    /* [A or B] [B] : an event of type B can complete, and start again */
    struct fx *f = *state;
    struct mw_seq_def *d = calloc(1, sizeof(*d));
    struct mw_error err;
    d->nsteps = 2;
    d->where[0] = eq_str("type", "A");
    assert_int_equal(mw_matcher_add_string(d->where[0], "B", 1, false, &err), 0);
    d->where[1] = eq_str("type", "B");
    d->owns_where[0] = d->owns_where[1] = true;
    d->keys[0].paths[0] = path("k");
    d->keys[1].paths[0] = path("k");
    d->nkeys = 1;
    start(f, d);
    feed_types(f, "ABBB", "k");
    EXPECT(f, "1,2;2,3;3,4");
    assert_int_equal(STATS(f)->open, 1);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R6                                                                       */

static void test_r6_completion_clears_key(void **state)
{
    struct fx *f = *state;
    start(f, def_types("AB", true));
    feed_types(f, "ABB", "k");
    EXPECT(f, "1,2");
    assert_int_equal(STATS(f)->completed, 1);
    assert_int_equal(STATS(f)->open_keys, 0);
    /* a fresh chain alerts again */
    feed_at(f, 4, "A", "k", T0 + 4 * SEC);
    feed_at(f, 5, "B", "k", T0 + 5 * SEC);
    EXPECT(f, "1,2;4,5");
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R7                                                                       */

static void test_r7_maxspan_inclusive(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);
    d->maxspan = 5 * SEC;
    start(f, d);
    feed_at(f, 1, "A", "x", T0);
    feed_at(f, 2, "B", "x", T0 + 5 * SEC); /* exactly maxspan */
    EXPECT(f, "1,2");
    feed_at(f, 3, "A", "y", T0 + 10 * SEC);
    feed_at(f, 4, "B", "y", T0 + 15 * SEC + 1); /* one microsecond over */
    EXPECT(f, "1,2");
    assert_int_equal(STATS(f)->expired, 1);
    assert_int_equal(STATS(f)->open, 0);
    assert_int_equal(STATS(f)->open_keys, 0);
    finish(f);
}

static void test_r7_maxspan_from_first_event(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("ABC", true);
    d->maxspan = 5 * SEC;
    start(f, d);
    feed_at(f, 1, "A", "x", T0);
    feed_at(f, 2, "B", "x", T0 + 4 * SEC);
    feed_at(f, 3, "C", "x", T0 + 6 * SEC); /* 2 s after B, 6 s after A */
    EXPECT(f, "");
    assert_int_equal(STATS(f)->expired, 1);
    /* the newest start restarts the window */
    feed_at(f, 4, "A", "x", T0 + 10 * SEC);
    feed_at(f, 5, "A", "x", T0 + 13 * SEC);
    feed_at(f, 6, "B", "x", T0 + 14 * SEC);
    feed_at(f, 7, "C", "x", T0 + 18 * SEC); /* 8 s after 4, 5 s after 5 */
    EXPECT(f, "5,6,7");
    finish(f);
}

static void test_r7_maxspan_checked_at_stage_without_advance(void **state)
{
    /* A stale pending sequence is dropped when the next stage arrives late,
     * even if mw_seq_advance never saw a later time. */
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);
    d->maxspan = SEC;
    start(f, d);
    feed_at(f, 1, "A", "x", T0);
    feed_at(f, 2, "B", "x", T0 + 3 * SEC);
    EXPECT(f, "");
    assert_int_equal(STATS(f)->expired, 1);
    assert_int_equal(STATS(f)->open_keys, 0);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R2                                                                       */

static void test_r2_same_timestamp_later_arrival_chains(void **state)
{
    struct fx *f = *state;
    start(f, def_types("AB", true));
    feed_at(f, 1, "A", "x", T0);
    feed_at(f, 2, "B", "x", T0); /* same ts, seq 2 > 1 */
    EXPECT(f, "1,2");
    finish(f);
}

static void test_r2_earlier_ordinal_never_chains(void **state)
{
    struct fx *f = *state;
    struct mw_event *ev;
    start(f, def_types("AB", true));
    feed_at(f, 1, "A", "x", T0 + 10 * SEC);
    feed_at(f, 2, "B", "x", T0 + 5 * SEC); /* arrives later, earlier time */
    EXPECT(f, "");
    assert_int_equal(STATS(f)->open, 1);

    /* same ts, smaller arrival number */
    ev = hold(f, json_pack("{s:i, s:s, s:s}", "id", 3, "type", "A", "k", "y"),
              T0 + 20 * SEC, 100);
    process(f, ev);
    ev = hold(f, json_pack("{s:i, s:s, s:s}", "id", 4, "type", "B", "k", "y"),
              T0 + 20 * SEC, 99);
    process(f, ev);
    EXPECT(f, "");
    ev = hold(f, json_pack("{s:i, s:s, s:s}", "id", 5, "type", "B", "k", "y"),
              T0 + 20 * SEC, 101);
    process(f, ev);
    EXPECT(f, "3,5");
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R8                                                                       */

static void test_r8_positional_keys(void **state)
{
    /* [auth] by user.name  [any] by target.user : different field names */
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", false);
    d->keys[0].paths[0] = path("user.name");
    d->keys[1].paths[0] = path("target.user");
    d->nkeys = 1;
    start(f, d);
    feed_json(f, T0 + 1, "{\"id\": 1, \"type\": \"A\", \"user\": {\"name\": \"bob\"}}");
    feed_json(f, T0 + 2, "{\"id\": 2, \"type\": \"B\", \"user\": {\"name\": \"bob\"}}");
    EXPECT(f, "");
    feed_json(f, T0 + 3,
              "{\"id\": 3, \"type\": \"B\", \"target\": {\"user\": \"alice\"}}");
    EXPECT(f, "");
    feed_json(f, T0 + 4, "{\"id\": 4, \"type\": \"B\", \"target.user\": \"bob\"}");
    EXPECT(f, "1,4");
    finish(f);
}

static void test_r8_multiple_keys_tuple(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", false);
    for (int i = 0; i < 2; i++) {
        d->keys[i].paths[0] = path("host");
        d->keys[i].paths[1] = path("user");
    }
    d->nkeys = 2;
    start(f, d);
    feed_json(f, T0 + 1,
              "{\"id\": 1, \"type\": \"A\", \"host\": \"h1\", \"user\": \"u1\"}");
    feed_json(f, T0 + 2,
              "{\"id\": 2, \"type\": \"B\", \"host\": \"h1\", \"user\": \"u2\"}");
    feed_json(f, T0 + 3,
              "{\"id\": 3, \"type\": \"B\", \"host\": \"h2\", \"user\": \"u1\"}");
    /* the pair must not be confused with a concatenation */
    feed_json(f, T0 + 4,
              "{\"id\": 4, \"type\": \"B\", \"host\": \"h1u\", \"user\": \"1\"}");
    EXPECT(f, "");
    feed_json(f, T0 + 5,
              "{\"id\": 5, \"type\": \"B\", \"host\": \"h1\", \"user\": \"u1\"}");
    EXPECT(f, "1,5");
    finish(f);
}

static void test_r8_keys_case(void **state)
{
    struct fx *f = *state;
    start(f, def_types("AB", true));
    feed_at(f, 1, "A", "Bob", T0 + 1);
    feed_at(f, 2, "B", "bob", T0 + 2);
    EXPECT(f, ""); /* exact by default */
    feed_at(f, 3, "B", "Bob", T0 + 3);
    EXPECT(f, "1,3");
    finish(f);
}

static void test_r8_keys_ci(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);
    d->keys_ci = true;
    start(f, d);
    feed_at(f, 1, "A", "Bob", T0 + 1);
    feed_at(f, 2, "B", "bOB", T0 + 2);
    EXPECT(f, "1,2");
    assert_int_equal(STATS(f)->open_keys, 0);
    finish(f);
}

static void test_r8_number_keys(void **state)
{
    struct fx *f = *state;
    start(f, def_types("AB", true));
    feed_json(f, T0 + 1, "{\"id\": 1, \"type\": \"A\", \"k\": 1}");
    feed_json(f, T0 + 2, "{\"id\": 2, \"type\": \"B\", \"k\": 1.0}");
    EXPECT(f, "1,2");
    /* typed: the string "1" and true are other keys */
    feed_json(f, T0 + 3, "{\"id\": 3, \"type\": \"A\", \"k\": 1.0}");
    feed_json(f, T0 + 4, "{\"id\": 4, \"type\": \"B\", \"k\": \"1\"}");
    feed_json(f, T0 + 5, "{\"id\": 5, \"type\": \"B\", \"k\": true}");
    feed_json(f, T0 + 6, "{\"id\": 6, \"type\": \"B\", \"k\": 1.5}");
    EXPECT(f, "1,2");
    feed_json(f, T0 + 7, "{\"id\": 7, \"type\": \"B\", \"k\": 1}");
    EXPECT(f, "1,2;3,7");
    /* reals that are not integral join exactly */
    feed_json(f, T0 + 8, "{\"id\": 8, \"type\": \"A\", \"k\": 2.5}");
    feed_json(f, T0 + 9, "{\"id\": 9, \"type\": \"B\", \"k\": 2.5}");
    EXPECT(f, "1,2;3,7;8,9");
    /* 0 and -0.0 */
    feed_json(f, T0 + 10, "{\"id\": 10, \"type\": \"A\", \"k\": -0.0}");
    feed_json(f, T0 + 11, "{\"id\": 11, \"type\": \"B\", \"k\": 0}");
    EXPECT(f, "1,2;3,7;8,9;10,11");
    finish(f);
}

static void test_r8_long_string_key(void **state)
{
    /* keys longer than the initial key buffer */
    struct fx *f = *state;
    char key[3000];
    memset(key, 'q', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    start(f, def_types("AB", true));
    feed_at(f, 1, "A", key, T0 + 1);
    key[100] = 'r';
    feed_at(f, 2, "B", key, T0 + 2);
    EXPECT(f, "");
    key[100] = 'q';
    feed_at(f, 3, "B", key, T0 + 3);
    EXPECT(f, "1,3");
    finish(f);
}

static void test_mw_seq_key(void **state)
{
    struct fx *f = *state;
    struct mw_seq_keys keys;
    char a[64], b[64];
    struct mw_event *e1, *e2;
    int na, nb;

    (void)f;
    memset(&keys, 0, sizeof keys);
    keys.paths[0] = path("k");
    e1 = mw_event_new(json_pack("{s:s}", "k", "Abc"), 0, "t", 1, 0, 1);
    e2 = mw_event_new(json_pack("{s:s}", "k", "aBC"), 0, "t", 2, 0, 2);
    na = mw_seq_key(&keys, 1, false, e1, a, sizeof a);
    nb = mw_seq_key(&keys, 1, false, e2, b, sizeof b);
    assert_true(na > 0 && na == nb);
    assert_true(memcmp(a, b, (size_t)na) != 0);
    na = mw_seq_key(&keys, 1, true, e1, a, sizeof a);
    nb = mw_seq_key(&keys, 1, true, e2, b, sizeof b);
    assert_true(na > 0 && na == nb);
    assert_memory_equal(a, b, (size_t)na);
    /* too small a buffer is not a null key */
    assert_true(mw_seq_key(&keys, 1, false, e1, a, 2) < 0);
    assert_int_not_equal(mw_seq_key(&keys, 1, false, e1, a, 2), -1);
    mw_event_unref(e1);
    mw_event_unref(e2);

    e1 = mw_event_new(json_pack("{s:[i]}", "k", 1), 0, "t", 1, 0, 1);
    assert_int_equal(mw_seq_key(&keys, 1, false, e1, a, sizeof a), -1);
    mw_event_unref(e1);
    e1 = mw_event_new(json_pack("{s:{}}", "k"), 0, "t", 1, 0, 1);
    assert_int_equal(mw_seq_key(&keys, 1, false, e1, a, sizeof a), -1);
    mw_event_unref(e1);
    e1 = mw_event_new(json_pack("{s:n}", "k"), 0, "t", 1, 0, 1);
    assert_int_equal(mw_seq_key(&keys, 1, false, e1, a, sizeof a), -1);
    keys.optional[0] = true;
    assert_true(mw_seq_key(&keys, 1, false, e1, a, sizeof a) > 0);
    mw_event_unref(e1);
    mw_path_free(keys.paths[0]);
}

/* ------------------------------------------------------------------------ */
/* R9                                                                       */

static void test_r9_null_key_never_joins(void **state)
{
    struct fx *f = *state;
    start(f, def_types("AB", true));
    feed_json(f, T0 + 1, "{\"id\": 1, \"type\": \"A\"}");
    feed_json(f, T0 + 2, "{\"id\": 2, \"type\": \"B\"}");
    feed_json(f, T0 + 3, "{\"id\": 3, \"type\": \"A\", \"k\": null}");
    feed_json(f, T0 + 4, "{\"id\": 4, \"type\": \"B\", \"k\": null}");
    EXPECT(f, "");
    assert_int_equal(STATS(f)->no_key, 4);
    assert_int_equal(STATS(f)->started, 0);
    assert_int_equal(STATS(f)->open_keys, 0);
    /* a null key cannot advance a keyed sequence either */
    feed_json(f, T0 + 5, "{\"id\": 5, \"type\": \"A\", \"k\": \"x\"}");
    feed_json(f, T0 + 6, "{\"id\": 6, \"type\": \"B\", \"k\": null}");
    EXPECT(f, "");
    assert_int_equal(STATS(f)->no_key, 5);
    /* objects never join; an array joins on its elements (R8b), and
     * one of nulls is a null key */
    feed_json(f, T0 + 7, "{\"id\": 7, \"type\": \"B\", \"k\": {\"x\": 1}}");
    feed_json(f, T0 + 8, "{\"id\": 8, \"type\": \"B\", \"k\": [null]}");
    EXPECT(f, "");
    assert_int_equal(STATS(f)->no_key, 7);
    feed_json(f, T0 + 9, "{\"id\": 9, \"type\": \"B\", \"k\": [\"x\"]}");
    EXPECT(f, "5,9");
    finish(f);
}

static void test_r9_optional_key(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);
    d->keys[0].optional[0] = true;
    d->keys[1].optional[0] = true;
    start(f, d);
    feed_json(f, T0 + 1, "{\"id\": 1, \"type\": \"A\", \"k\": null}");
    feed_json(f, T0 + 2, "{\"id\": 2, \"type\": \"B\", \"k\": null}");
    EXPECT(f, "1,2");
    /* missing is null too */
    feed_json(f, T0 + 3, "{\"id\": 3, \"type\": \"A\"}");
    feed_json(f, T0 + 4, "{\"id\": 4, \"type\": \"B\", \"k\": null}");
    EXPECT(f, "1,2;3,4");
    /* null does not join a value */
    feed_json(f, T0 + 5, "{\"id\": 5, \"type\": \"A\", \"k\": \"v\"}");
    feed_json(f, T0 + 6, "{\"id\": 6, \"type\": \"B\"}");
    EXPECT(f, "1,2;3,4");
    /* nor the string "null" */
    feed_json(f, T0 + 7, "{\"id\": 7, \"type\": \"A\"}");
    feed_json(f, T0 + 8, "{\"id\": 8, \"type\": \"B\", \"k\": \"null\"}");
    EXPECT(f, "1,2;3,4");
    assert_int_equal(STATS(f)->no_key, 0);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R10                                                                      */

static struct mw_seq_def *def_until(const char *types)
{
    struct mw_seq_def *d = def_types(types, true);
    d->until_where = eq_str("type", "U");
    d->until_keys.paths[0] = path("k");
    return d;
}

static void test_r10_until_cancels_that_key_only(void **state)
{
    struct fx *f = *state;
    start(f, def_until("ABC"));
    feed_at(f, 1, "A", "x", T0 + 1);
    feed_at(f, 2, "A", "y", T0 + 2);
    feed_at(f, 3, "B", "x", T0 + 3);
    feed_at(f, 4, "A", "x", T0 + 4); /* x: [1,3] and [4] pending */
    feed_at(f, 5, "U", "x", T0 + 5);
    assert_int_equal(STATS(f)->until_matched, 1);
    assert_int_equal(STATS(f)->cancelled, 2);
    assert_int_equal(STATS(f)->open, 1);
    assert_int_equal(STATS(f)->open_keys, 1);
    feed_at(f, 6, "B", "x", T0 + 6);
    feed_at(f, 7, "C", "x", T0 + 7);
    feed_at(f, 8, "B", "y", T0 + 8);
    feed_at(f, 9, "C", "y", T0 + 9);
    EXPECT(f, "2,8,9");
    finish(f);
}

static void test_r10_docs_example(void **state)
{
    /* A->B until C: A,B and A,B,C match; A,C,B does not */
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);
    d->until_where = eq_str("type", "C");
    d->until_keys.paths[0] = path("k");
    start(f, d);
    feed_types(f, "AB", "k1");
    feed_types(f, "ABC", "k2");
    feed_types(f, "ACB", "k3");
    EXPECT(f, "1,2;1,2");
    assert_int_equal(STATS(f)->cancelled, 1);
    /* until never appears in the output and no key state is left */
    assert_int_equal(STATS(f)->open_keys, 0);
    finish(f);
}

static void test_r10_until_on_advancing_event_survives(void **state)
{
    /* one event is both stage B and the until: ES keeps the sequence */
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("ABC", true);
    struct mw_error err;
    d->until_where = eq_str("type", "B");
    assert_int_equal(mw_matcher_add_string(d->until_where, "U", 1, false, &err), 0);
    d->until_keys.paths[0] = path("k");
    start(f, d);
    feed_types(f, "ABC", "k");
    EXPECT(f, "1,2,3");
    assert_int_equal(STATS(f)->until_matched, 1);
    assert_int_equal(STATS(f)->cancelled, 0);
    finish(f);
}

static void test_r10_until_on_starting_event_survives(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);
    d->until_where = eq_str("type", "A");
    d->until_keys.paths[0] = path("k");
    start(f, d);
    feed_types(f, "AAB", "k");
    EXPECT(f, "2,3");
    /* [1] was replaced by [2], not cancelled: each until is its own start */
    assert_int_equal(STATS(f)->cancelled, 0);
    assert_int_equal(STATS(f)->replaced, 1);
    finish(f);
}

static void test_r10_until_after_completion_no_effect(void **state)
{
    struct fx *f = *state;
    start(f, def_until("AB"));
    feed_at(f, 1, "A", "k", T0 + 1);
    feed_at(f, 2, "B", "k", T0 + 2);
    feed_at(f, 3, "U", "k", T0 + 3);
    EXPECT(f, "1,2");
    assert_int_equal(STATS(f)->until_matched, 1);
    assert_int_equal(STATS(f)->cancelled, 0);
    assert_int_equal(STATS(f)->open_keys, 0);
    /* and it does not block a later chain */
    feed_at(f, 4, "A", "k", T0 + 4);
    feed_at(f, 5, "B", "k", T0 + 5);
    EXPECT(f, "1,2;4,5");
    finish(f);
}

static void test_r10_until_null_key_ignored(void **state)
{
    struct fx *f = *state;
    start(f, def_until("AB"));
    feed_at(f, 1, "A", "k", T0 + 1);
    feed_at(f, 2, "U", NULL, T0 + 2);
    feed_at(f, 3, "B", "k", T0 + 3);
    EXPECT(f, "1,3");
    assert_int_equal(STATS(f)->cancelled, 0);
    finish(f);
}

/* The header promises that until cancels the pending sequences "whose last
 * event came before it". An until event that arrives late (an unsorted
 * input: mw_run only merges inputs by their heads) with an earlier time than
 * the pending sequence's last event must not cancel it. */
static void test_r10_until_out_of_order_keeps_later_sequence(void **state)
{
    struct fx *f = *state;
    start(f, def_until("AB"));
    feed_at(f, 1, "A", "k", T0 + 10 * SEC);
    feed_at(f, 2, "U", "k", T0 + 5 * SEC); /* before A in event time */
    feed_at(f, 3, "B", "k", T0 + 20 * SEC);
    EXPECT(f, "1,3");
    assert_int_equal(STATS(f)->cancelled, 0);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R11                                                                      */

static void test_r11_runs_expansion(void **state)
{
    /* [A] [B] with runs=2 [C] */
    struct fx *f = *state;
    struct mw_seq_def *d = calloc(1, sizeof(*d));
    const struct mw_seq_stats *s;
    d->nsteps = 4;
    d->where[0] = eq_str("type", "A");
    d->where[1] = eq_str("type", "B");
    d->where[2] = d->where[1];
    d->where[3] = eq_str("type", "C");
    d->owns_where[0] = d->owns_where[1] = d->owns_where[3] = true;
    d->owns_where[2] = false;
    for (int i = 0; i < 4; i++)
        d->keys[i].paths[0] = path("k");
    d->nkeys = 1;
    start(f, d);
    feed_types(f, "AABBACBCC", "k");
    EXPECT(f, "2,3,4,6");
    s = STATS(f);
    assert_int_equal(s->started, 3);
    assert_int_equal(s->replaced, 1);
    assert_int_equal(s->completed, 1);
    assert_int_equal(s->open, 1); /* [5,7] waits for a second B */
    assert_int_equal(s->open_keys, 1);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* state management                                                         */

static void test_stats_exact(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_until("ABC");
    const struct mw_seq_stats *s;
    d->maxspan = 100 * SEC;
    start(f, d);
    feed_at(f, 1, "A", "a", T0 + 1 * SEC);  /* started 1, open 1, keys 1 */
    feed_at(f, 2, "A", "a", T0 + 2 * SEC);  /* replaced 1 */
    feed_at(f, 3, "B", "a", T0 + 3 * SEC);  /* [2,3] */
    feed_at(f, 4, "A", "b", T0 + 4 * SEC);  /* started 3, open 2, keys 2 */
    feed_at(f, 5, "A", "c", T0 + 5 * SEC);  /* started 4, open 3, keys 3 */
    feed_at(f, 6, "U", "c", T0 + 6 * SEC);  /* cancelled 1, open 2, keys 2 */
    feed_at(f, 7, "C", "a", T0 + 7 * SEC);  /* completed 1, open 1, keys 1 */
    feed_at(f, 8, "B", NULL, T0 + 8 * SEC); /* no_key 1 */
    s = STATS(f);
    assert_int_equal(s->started, 4);
    assert_int_equal(s->replaced, 1);
    assert_int_equal(s->cancelled, 1);
    assert_int_equal(s->completed, 1);
    assert_int_equal(s->no_key, 1);
    assert_int_equal(s->expired, 0);
    assert_int_equal(s->evicted, 0);
    assert_int_equal(s->open, 1);
    assert_int_equal(s->open_keys, 1);
    assert_int_equal(s->matched[0], 4);
    assert_int_equal(s->matched[1], 2);
    assert_int_equal(s->matched[2], 1);
    assert_int_equal(s->until_matched, 1);
    /* b expires */
    feed_at(f, 9, "B", "b", T0 + 200 * SEC);
    assert_int_equal(s->expired, 1);
    assert_int_equal(s->open, 0);
    assert_int_equal(s->open_keys, 0);
    EXPECT(f, "2,3,7");
    finish(f);
}

static void test_advance_frees_expired_keys(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("ABC", true);
    d->maxspan = 10 * SEC;
    start(f, d);
    feed_at(f, 1, "A", "x", T0);
    feed_at(f, 2, "A", "y", T0 + 1 * SEC);
    feed_at(f, 3, "B", "y", T0 + 2 * SEC);
    feed_at(f, 4, "A", "y", T0 + 3 * SEC);
    assert_int_equal(STATS(f)->open, 3);
    assert_int_equal(STATS(f)->open_keys, 2);
    mw_seq_advance(f->def, f->st, T0 + 10 * SEC); /* x at exactly maxspan */
    assert_int_equal(STATS(f)->open_keys, 2);
    mw_seq_advance(f->def, f->st, T0 + 10 * SEC + 1);
    assert_int_equal(STATS(f)->open_keys, 1);
    assert_int_equal(STATS(f)->expired, 1);
    mw_seq_advance(f->def, f->st, T0 + 13 * SEC + 1);
    assert_int_equal(STATS(f)->open_keys, 0);
    assert_int_equal(STATS(f)->open, 0);
    assert_int_equal(STATS(f)->expired, 3);
    /* events are released: only the fixture holds them */
    for (int i = 0; i < f->nheld; i++)
        assert_int_equal(f->held[i]->refcount, 1);
    finish(f);
}

static void test_advance_without_maxspan_keeps_state(void **state)
{
    struct fx *f = *state;
    start(f, def_types("AB", true));
    feed_at(f, 1, "A", "x", T0);
    mw_seq_advance(f->def, f->st, T0 + 1000000 * SEC);
    assert_int_equal(STATS(f)->open_keys, 1);
    feed_at(f, 2, "B", "x", T0 + 1000000 * SEC);
    EXPECT(f, "1,2");
    finish(f);
}

/* "Drops pending sequences that can no longer complete at event time now":
 * a key whose pending sequence advanced (moving it to the LRU tail) behind a
 * key started later must still be dropped once it is out of the window. */
static void test_advance_drops_expired_behind_live_key(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("ABC", true);
    d->maxspan = 10 * SEC;
    start(f, d);
    feed_at(f, 1, "A", "x", T0);                  /* x first at 0 */
    feed_at(f, 2, "A", "y", T0 + 3 * SEC);        /* y first at 3 */
    feed_at(f, 3, "B", "x", T0 + 5 * SEC);        /* x updated last */
    mw_seq_advance(f->def, f->st, T0 + 12 * SEC); /* x is 12 s old, y 9 s */
    assert_int_equal(STATS(f)->open_keys, 1);
    assert_int_equal(STATS(f)->expired, 1);
    finish(f);
}

static void test_max_keys_evicts_oldest(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);
    start_with(f, d, &(struct mw_detect_opts){.max_keys = 2});
    feed_at(f, 1, "A", "a", T0 + 1);
    feed_at(f, 2, "A", "b", T0 + 2);
    feed_at(f, 3, "A", "c", T0 + 3);
    assert_int_equal(STATS(f)->open_keys, 2);
    assert_int_equal(STATS(f)->evicted, 1);
    assert_int_equal(STATS(f)->open, 2);
    feed_at(f, 4, "B", "a", T0 + 4);
    EXPECT(f, "");
    /* touching b makes c the oldest */
    feed_at(f, 5, "A", "b", T0 + 5);
    feed_at(f, 6, "A", "d", T0 + 6);
    assert_int_equal(STATS(f)->evicted, 2);
    feed_at(f, 7, "B", "c", T0 + 7);
    feed_at(f, 8, "B", "b", T0 + 8);
    feed_at(f, 9, "B", "d", T0 + 9);
    EXPECT(f, "5,8;6,9");
    assert_int_equal(STATS(f)->open_keys, 0);
    assert_int_equal(f->held[0]->refcount, 1);
    finish(f);
}

static void test_state_free_releases_events(void **state)
{
    struct fx *f = *state;
    start(f, def_types("ABCD", true));
    feed_types(f, "ABCA", "k");
    feed_at(f, 5, "A", "j", T0 + 5 * SEC);
    assert_int_equal(f->held[0]->refcount, 2);
    assert_int_equal(f->held[1]->refcount, 2);
    assert_int_equal(f->held[2]->refcount, 2);
    assert_int_equal(f->held[3]->refcount, 2);
    assert_int_equal(f->held[4]->refcount, 2);
    mw_seq_state_free(f->st);
    f->st = NULL;
    for (int i = 0; i < f->nheld; i++)
        assert_int_equal(f->held[i]->refcount, 1);
    mw_seq_state_free(NULL);
    finish(f);
}

static void test_emitted_events_released(void **state)
{
    struct fx *f = *state;
    start(f, def_types("AB", true));
    feed_types(f, "AB", "k");
    EXPECT(f, "1,2");
    assert_int_equal(f->held[0]->refcount, 1);
    assert_int_equal(f->held[1]->refcount, 1);
    finish(f);
}

/* ------------------------------------------------------------------------ */
/* R8b: multi-valued join keys                                              */

static void test_r8b_array_key_joins_each_element(void **state)
{
    struct fx *f = *state;

    start(f, def_types("AB", true));
    feed_json(f, T0 + 1 * SEC,
              "{\"id\": 1, \"type\": \"A\", \"k\": [\"u1\", \"u2\", \"u2\"]}");
    assert_int_equal(STATS(f)->open_keys, 2); /* the duplicate collapses */
    assert_int_equal(STATS(f)->multi_keyed, 1);
    feed_json(f, T0 + 2 * SEC, "{\"id\": 2, \"type\": \"B\", \"k\": \"u2\"}");
    EXPECT(f, "1,2");
    feed_json(f, T0 + 3 * SEC, "{\"id\": 3, \"type\": \"B\", \"k\": [\"u1\"]}");
    EXPECT(f, "1,2;1,3");
    /* no keyable element: as a missing key */
    feed_json(f, T0 + 4 * SEC, "{\"id\": 4, \"type\": \"A\", \"k\": [null, {}]}");
    feed_json(f, T0 + 5 * SEC, "{\"id\": 5, \"type\": \"A\", \"k\": []}");
    assert_int_equal(STATS(f)->no_key, 2);
    assert_int_equal(STATS(f)->open_keys, 0);
    assert_int_equal(STATS(f)->fanout_dropped, 0);
    finish(f);
}

static void test_r8b_elements_join_two_pending(void **state)
{
    struct fx *f = *state;

    start(f, def_types("AB", true));
    feed_json(f, T0 + 1 * SEC, "{\"id\": 1, \"type\": \"A\", \"k\": \"u1\"}");
    feed_json(f, T0 + 2 * SEC, "{\"id\": 2, \"type\": \"A\", \"k\": \"u2\"}");
    feed_json(f, T0 + 3 * SEC, "{\"id\": 3, \"type\": \"A\", \"k\": \"u3\"}");
    feed_json(f, T0 + 4 * SEC, "{\"id\": 4, \"type\": \"B\", \"k\": [\"u2\", \"u1\"]}");
    EXPECT(f, "2,4;1,4");
    assert_int_equal(STATS(f)->completed, 2);
    assert_int_equal(STATS(f)->open_keys, 1); /* u3 */
    finish(f);
}

/* Per-step keys: one event reaching one key's state through two of its
 * values (x at step 1, y at step 2) is one entry there and never chains
 * with itself (R5); a later event completes the sequence it started. */
static void test_r8b_event_never_chains_itself_through_two_values(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = calloc(1, sizeof(*d));

    assert_non_null(d);
    d->nsteps = 2;
    d->nkeys = 1;
    for (int i = 0; i < 2; i++) {
        d->where[i] = always();
        d->owns_where[i] = true;
    }
    d->keys[0].paths[0] = path("x");
    d->keys[1].paths[0] = path("y");
    start(f, d);
    feed_json(f, T0 + 1 * SEC, "{\"id\": 1, \"x\": [1, 2], \"y\": [2, 3]}");
    EXPECT(f, "");
    feed_json(f, T0 + 2 * SEC, "{\"id\": 2, \"y\": 2}");
    EXPECT(f, "1,2");
    finish(f);
}

static void test_r8b_fanout_cap(void **state)
{
    struct fx *f = *state;
    struct mw_seq_def *d = def_types("AB", true);

    d->keys[0].paths[1] = path("j");
    d->keys[1].paths[1] = path("j");
    d->nkeys = 2;
    start(f, d);
    /* 10 x 10 = 100 combinations: 64 kept, 36 counted as dropped */
    feed_json(f, T0 + 1 * SEC,
              "{\"id\": 1, \"type\": \"A\", \"k\": [0,1,2,3,4,5,6,7,8,9],"
              " \"j\": [0,1,2,3,4,5,6,7,8,9]}");
    assert_int_equal(STATS(f)->open_keys, MW_KEY_MAX_FANOUT);
    assert_int_equal(STATS(f)->fanout_dropped, 100 - MW_KEY_MAX_FANOUT);
    assert_int_equal(STATS(f)->started, MW_KEY_MAX_FANOUT);
    /* the first field varies slowest: (6, 3) is the 64th, (6, 4) dropped */
    feed_json(f, T0 + 2 * SEC, "{\"id\": 2, \"type\": \"B\", \"k\": 6, \"j\": 4}");
    EXPECT(f, "");
    feed_json(f, T0 + 3 * SEC, "{\"id\": 3, \"type\": \"B\", \"k\": 6, \"j\": 3}");
    EXPECT(f, "1,3");
    /* a cross product with a scalar field */
    feed_json(f, T0 + 4 * SEC, "{\"id\": 4, \"type\": \"B\", \"k\": [0, 1], \"j\": 0}");
    EXPECT(f, "1,3;1,4;1,4");
    finish(f);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_r4_documented_example),
        T(test_r4_unkeyed_global_machine),
        T(test_r4_keys_are_independent),
        T(test_r4_advanced_prefix_replaced),
        T(test_r5_lone_event_never_matches_itself),
        T(test_r5_conformance_76),
        T(test_r5_one_event_completes_advances_and_starts),
        T(test_r6_completion_clears_key),
        T(test_r7_maxspan_inclusive),
        T(test_r7_maxspan_from_first_event),
        T(test_r7_maxspan_checked_at_stage_without_advance),
        T(test_r2_same_timestamp_later_arrival_chains),
        T(test_r2_earlier_ordinal_never_chains),
        T(test_r8_positional_keys),
        T(test_r8_multiple_keys_tuple),
        T(test_r8_keys_case),
        T(test_r8_keys_ci),
        T(test_r8_number_keys),
        T(test_r8_long_string_key),
        T(test_mw_seq_key),
        T(test_r8b_array_key_joins_each_element),
        T(test_r8b_elements_join_two_pending),
        T(test_r8b_event_never_chains_itself_through_two_values),
        T(test_r8b_fanout_cap),
        T(test_r9_null_key_never_joins),
        T(test_r9_optional_key),
        T(test_r10_until_cancels_that_key_only),
        T(test_r10_docs_example),
        T(test_r10_until_on_advancing_event_survives),
        T(test_r10_until_on_starting_event_survives),
        T(test_r10_until_after_completion_no_effect),
        T(test_r10_until_null_key_ignored),
        T(test_r10_until_out_of_order_keeps_later_sequence),
        T(test_r11_runs_expansion),
        T(test_stats_exact),
        T(test_advance_frees_expired_keys),
        T(test_advance_without_maxspan_keeps_state),
        T(test_advance_drops_expired_behind_live_key),
        T(test_max_keys_evicts_oldest),
        T(test_state_free_releases_events),
        T(test_emitted_events_released),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
