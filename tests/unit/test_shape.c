/* test_shape.c - cmocka tests for mw_shape: dedup, suppression, caps
 *
 * Alerts are minimal documents with an event.id; policies are built by hand.
 * The shaper writes no output here (out = NULL), so verdicts and counters
 * are what is checked. State is keyed by rule id: a "reloaded" rule (a new
 * policy object with the same id) continues the same windows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mw_event.h"
#include "mw_field.h"
#include "mw_health.h"
#include "mw_shape.h"

#define MIN (60 * INT64_C(1000000))

static struct mw_event *sign_in(const char *user, mw_time_t t)
{
    return mw_event_new(json_pack("{s:{s:s}}", "user", "name", user), t, "in", 1, 0, 1);
}

static json_t *alert(const char *id)
{
    return json_pack("{s:{s:s}, s:{}}", "event", "id", id, "moonwatch");
}

/* Submits one alert for user at minute m; returns the verdict and, via
 * docs_count, the suppression count it carries (-1 when none). */
static enum mw_shape_verdict submit(struct mw_shape *s, const struct mw_alert_policy *p,
                                    const char *id, const char *user, int m,
                                    int64_t *docs_count)
{
    struct mw_event *ev = sign_in(user, m * MIN);
    json_t *a = alert(id);
    enum mw_shape_verdict v = mw_shape_submit(s, "rule-1", p, a, &ev, 1, m * MIN);
    json_t *dc = json_object_get(
        json_object_get(json_object_get(a, "moonwatch"), "suppression"), "docs_count");
    if (docs_count)
        *docs_count = dc ? json_integer_value(dc) : -1;
    json_decref(a);
    mw_event_unref(ev);
    return v;
}

static int64_t stat_of(struct mw_shape *s, const char *key)
{
    json_t *o = json_object();
    mw_shape_rule_stats(s, "rule-1", o);
    int64_t v = json_integer_value(json_object_get(o, key));
    json_decref(o);
    return v;
}

static void test_dedup(void **state)
{
    (void)state;
    struct mw_shape *s = mw_shape_new(NULL, NULL, NULL);
    struct mw_alert_policy p = {0};
    assert_false(mw_shape_duplicate(s, "rule-1", "aaa"));
    assert_int_equal(submit(s, &p, "aaa", "u", 0, NULL), MW_SHAPE_DELIVERED);
    assert_true(mw_shape_duplicate(s, "rule-1", "aaa"));
    assert_false(mw_shape_duplicate(s, "rule-1", "bbb"));
    mw_shape_hook_dropped(s, "rule-1", "bbb");
    assert_true(mw_shape_duplicate(s, "rule-1", "bbb"));
    assert_int_equal(stat_of(s, "deduplicated"), 2);
    assert_int_equal(stat_of(s, "delivered"), 1);
    assert_int_equal(stat_of(s, "hook_dropped"), 1);
    mw_shape_free(s);
}

static void test_dedup_state_dir(void **state)
{
    (void)state;
    char dir[] = "/tmp/mw-test-shape.XXXXXX";
    char cmd[128];
    struct mw_error err;
    struct mw_alert_policy p = {0};
    assert_non_null(mkdtemp(dir));
    struct mw_shape *s = mw_shape_new(dir, NULL, &err);
    assert_non_null(s);
    submit(s, &p, "id-1", "u", 0, NULL);
    submit(s, &p, "id-2", "u", 1, NULL);
    mw_shape_free(s);
    s = mw_shape_new(dir, NULL, &err);
    assert_non_null(s);
    assert_true(mw_shape_duplicate(s, "rule-1", "id-1"));
    assert_true(mw_shape_duplicate(s, "rule-1", "id-2"));
    assert_false(mw_shape_duplicate(s, "rule-1", "id-3"));
    mw_shape_free(s);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_suppression(void **state)
{
    (void)state;
    struct mw_shape *s = mw_shape_new(NULL, NULL, NULL);
    struct mw_alert_policy p = {0};
    int64_t dc;
    p.nsuppress = 1;
    p.suppress_by[0] = mw_path_new("user.name");
    p.suppress_window = 10 * MIN;

    assert_int_equal(submit(s, &p, "1", "alice", 0, &dc), MW_SHAPE_DELIVERED);
    assert_int_equal(dc, 0);
    assert_int_equal(submit(s, &p, "2", "alice", 3, NULL), MW_SHAPE_SUPPRESSED);
    assert_int_equal(submit(s, &p, "3", "bob", 4, &dc), MW_SHAPE_DELIVERED);
    assert_int_equal(submit(s, &p, "4", "alice", 9, NULL), MW_SHAPE_SUPPRESSED);
    assert_int_equal(stat_of(s, "suppressed_pending"), 2);
    /* the window is [0, 10m): at 10m a new one opens and carries the 2 */
    assert_int_equal(submit(s, &p, "5", "alice", 10, &dc), MW_SHAPE_DELIVERED);
    assert_int_equal(dc, 2);
    assert_int_equal(stat_of(s, "suppressed"), 2);
    assert_int_equal(stat_of(s, "suppressed_pending"), 0);

    /* a reload: a new policy object, same rule id, same windows */
    struct mw_alert_policy p2 = p;
    p2.suppress_by[0] = mw_path_new("user.name");
    assert_int_equal(submit(s, &p2, "6", "alice", 12, NULL), MW_SHAPE_SUPPRESSED);
    mw_path_free(p.suppress_by[0]);
    mw_path_free(p2.suppress_by[0]);
    mw_shape_free(s);
}

static void test_caps(void **state)
{
    (void)state;
    char path[] = "/tmp/mw-test-health.XXXXXX";
    int fd = mkstemp(path);
    struct mw_error err;
    char line[512], id[16];
    struct mw_shape *s = mw_shape_new(NULL, NULL, NULL);
    struct mw_alert_policy p = {0};
    int delivered = 0;
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(mw_health_open(path, &err), 0);
    p.max_alerts = 3;
    p.max_alerts_per = 15 * MIN;
    for (int i = 0; i < 10; i++) { /* minutes 0..9: one interval */
        snprintf(id, sizeof(id), "a%d", i);
        delivered += submit(s, &p, id, "u", i, NULL) == MW_SHAPE_DELIVERED;
    }
    assert_int_equal(delivered, 3);
    assert_int_equal(stat_of(s, "capped"), 7);
    /* the next interval reports the previous one's drops, once */
    assert_int_equal(submit(s, &p, "b0", "u", 16, NULL), MW_SHAPE_DELIVERED);
    assert_int_equal(submit(s, &p, "b1", "u", 17, NULL), MW_SHAPE_DELIVERED);
    mw_shape_finish(s);
    mw_health_close();
    FILE *fp = fopen(path, "r");
    int n = 0;
    while (fgets(line, sizeof(line), fp)) {
        n++;
        assert_non_null(strstr(line, "\"health\":\"alerts_capped\""));
        assert_non_null(strstr(line, "\"dropped\":7"));
        assert_non_null(strstr(line, "\"interval_start\":\"1970-01-01T00:00:00.000Z\""));
    }
    fclose(fp);
    unlink(path);
    assert_int_equal(n, 1);
    mw_shape_free(s);
}

/* a clock the test moves by hand */
static mw_time_t fake_now;
static mw_time_t fake_clock(void)
{
    return fake_now;
}
#define DAY (86400 * INT64_C(1000000))

static int count_lines(const char *dir, const char *name)
{
    char path[256], line[256];
    int n = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp))
        n++;
    fclose(fp);
    return n;
}

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_dedup_ttl_memory(void **state)
{
    (void)state;
    struct mw_shape_opts o = {.dedup_ttl = 60 * MIN, .now = fake_clock};
    struct mw_alert_policy p = {0};
    fake_now = 1000 * DAY;
    struct mw_shape *s = mw_shape_open(NULL, &o, NULL, NULL);
    submit(s, &p, "old", "u", 0, NULL);
    fake_now += 30 * MIN;
    submit(s, &p, "young", "u", 1, NULL);
    fake_now += 30 * MIN - 1; /* "old" is 1us short of the ttl */
    assert_true(mw_shape_duplicate(s, "rule-1", "old"));
    fake_now += 1; /* exactly the ttl: forgotten */
    assert_false(mw_shape_duplicate(s, "rule-1", "old"));
    assert_true(mw_shape_duplicate(s, "rule-1", "young"));
    /* raised again, it is recorded afresh */
    assert_int_equal(submit(s, &p, "old", "u", 2, NULL), MW_SHAPE_DELIVERED);
    fake_now += 31 * MIN;
    assert_false(mw_shape_duplicate(s, "rule-1", "young"));
    assert_true(mw_shape_duplicate(s, "rule-1", "old"));
    mw_shape_free(s);
}

static void test_dedup_ttl_restart(void **state)
{
    (void)state;
    char dir[] = "/tmp/mw-test-shape.XXXXXX";
    struct mw_error err;
    struct mw_alert_policy p = {0};
    struct mw_shape_opts o = {.now = fake_clock}; /* default ttl: 7d */
    assert_non_null(mkdtemp(dir));
    fake_now = 1000 * DAY;
    struct mw_shape *s = mw_shape_open(dir, &o, NULL, &err);
    assert_non_null(s);
    submit(s, &p, "day0-a", "u", 0, NULL);
    submit(s, &p, "day0-b", "u", 1, NULL);
    fake_now += 5 * DAY;
    submit(s, &p, "day5", "u", 2, NULL);
    mw_shape_free(s);
    assert_int_equal(count_lines(dir, "alert-ids"), 3);

    fake_now += 3 * DAY; /* day 8: day0-* expired */
    s = mw_shape_open(dir, &o, NULL, &err);
    assert_non_null(s);
    /* 2 of 3 lines dead: rewritten at load, only the live id is left */
    assert_int_equal(count_lines(dir, "alert-ids"), 1);
    assert_false(mw_shape_duplicate(s, "rule-1", "day0-a"));
    assert_true(mw_shape_duplicate(s, "rule-1", "day5"));
    assert_int_equal(submit(s, &p, "day0-a", "u", 3, NULL), MW_SHAPE_DELIVERED);
    mw_shape_free(s);
    assert_int_equal(count_lines(dir, "alert-ids"), 2);

    s = mw_shape_open(dir, &o, NULL, &err); /* day0-a now counts from day 8 */
    assert_true(mw_shape_duplicate(s, "rule-1", "day0-a"));
    assert_false(mw_shape_duplicate(s, "rule-1", "day0-b"));
    mw_shape_free(s);
    assert_int_equal(count_lines(dir, "alert-ids"), 2); /* nothing dead: kept */
    rm_rf(dir);
}

static void test_dedup_legacy_lines(void **state)
{
    (void)state;
    char dir[] = "/tmp/mw-test-shape.XXXXXX", path[128];
    struct mw_error err;
    struct mw_shape_opts o = {.now = fake_clock};
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/alert-ids", dir);
    FILE *fp = fopen(path, "w");
    fputs("legacy-id\n\nwith-time 1\n", fp); /* no time; blank; 1970 */
    fclose(fp);
    fake_now = 1000 * DAY;
    struct mw_shape *s = mw_shape_open(dir, &o, NULL, &err);
    assert_non_null(s);
    assert_true(mw_shape_duplicate(s, "rule-1", "legacy-id"));  /* counts from now */
    assert_false(mw_shape_duplicate(s, "rule-1", "with-time")); /* long expired */
    mw_shape_free(s);
    rm_rf(dir);
}

static void test_save_when_changed(void **state)
{
    (void)state;
    char dir[] = "/tmp/mw-test-shape.XXXXXX", path[128];
    struct mw_error err;
    struct mw_alert_policy p = {0};
    struct mw_shape_opts o = {.save_interval = 3600 * INT64_C(1000000)};
    struct stat sb;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/shape.json", dir);
    struct mw_shape *s = mw_shape_open(dir, &o, NULL, &err);
    assert_non_null(s);
    mw_shape_save(s);
    assert_int_not_equal(stat(path, &sb), 0); /* nothing changed yet */
    p.max_alerts = 2;
    p.max_alerts_per = 15 * MIN;
    submit(s, &p, "x1", "u", 0, NULL);
    mw_shape_save(s); /* without exiting */
    json_t *doc = json_load_file(path, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(doc, "caps"), 0), "count")),
                     1);
    json_decref(doc);
    mw_shape_free(s);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_dedup_state_dir),
        cmocka_unit_test(test_suppression),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_dedup_ttl_memory),
        cmocka_unit_test(test_dedup_ttl_restart),
        cmocka_unit_test(test_dedup_legacy_lines),
        cmocka_unit_test(test_save_when_changed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
