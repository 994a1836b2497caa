/* test_reload.c - cmocka tests for per-rule reload, follow-mode framing,
 * health records and the Prometheus rendering
 *
 * Rule files are written to a temporary folder and loaded with the real
 * lua/ modules (the tests run from the repository root). Window state is
 * observed through mw_engine_stats: a sequence rule gets a step-1 event,
 * then is reloaded with a metadata-only change (state kept: one open
 * sequence) or a maxspan change (state dropped: none).
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

#include "mw_engine.h"
#include "mw_health.h"
#include "mw_input.h"
#include "mw_metrics.h"

static char dir[64];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void seq_rule(const char *path, const char *id, const char *severity,
                     const char *maxspan)
{
    char buf[2048];
    snprintf(buf, sizeof(buf),
             "local mw = require('moonwatch')\n"
             "return mw.rule { id = '%s', name = 'seq', severity = '%s',\n"
             "  sequence = mw.sequence { maxspan = '%s',\n"
             "    { where = mw.eq('k', 'a'), by = 'user' },\n"
             "    { where = mw.eq('k', 'b'), by = 'user' } } }\n",
             id, severity, maxspan);
    write_file(path, buf);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mw-test-reload.XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct mw_event *event(const char *json, uint64_t seq)
{
    json_t *root = json_loads(json, 0, NULL);
    assert_non_null(root);
    return mw_event_new(root, (mw_time_t)seq * 1000000, "test", seq, 0, seq);
}

static json_int_t rule_stat(struct mw_engine *e, const char *id, const char *group,
                            const char *key)
{
    json_t *stats = mw_engine_stats(e), *r;
    size_t i;
    json_int_t v = -1;
    json_array_foreach(stats, i, r)
    {
        if (strcmp(json_string_value(json_object_get(r, "id")), id) == 0) {
            json_t *o = group ? json_object_get(r, group) : r;
            json_t *x = json_object_get(o, key);
            v = json_is_boolean(x) ? json_is_true(x) : json_integer_value(x);
        }
    }
    json_decref(stats);
    return v;
}

static struct mw_engine *engine(bool health_records, uint64_t quarantine_after)
{
    struct mw_engine_opts eo = {0};
    eo.lua_dir = "lua";
    eo.quarantine_after = quarantine_after;
    eo.health_records = health_records;
    return mw_engine_new(&eo, NULL, NULL);
}

static void dispatch(struct mw_engine *e, const char *json, uint64_t seq)
{
    struct mw_event *ev = event(json, seq);
    mw_engine_dispatch(e, ev);
    mw_event_unref(ev);
}

/* ---------------------------------------------------------------------- */

static void test_reload_keeps_or_drops_state(void **state)
{
    char path[128], hpath[128], *paths[1] = {path};
    (void)state;
    snprintf(path, sizeof(path), "%s/seq.lua", dir);
    snprintf(hpath, sizeof(hpath), "%s/health.ndjson", dir);
    assert_int_equal(mw_health_open(hpath, NULL), 0);
    uint64_t n0 = mw_health_count();
    seq_rule(path, "r1", "low", "10m");
    struct mw_engine *e = engine(true, 0);
    assert_int_equal(mw_engine_load(e, paths, 1), 0);
    dispatch(e, "{\"k\":\"a\",\"user\":\"u1\"}", 1);
    assert_int_equal(rule_stat(e, "r1", "sequences", "open"), 1);

    /* metadata only: same id and shape, state kept */
    seq_rule(path, "r1", "high", "10m");
    assert_int_equal(mw_engine_reload_file(e, path), 0);
    assert_int_equal(rule_stat(e, "r1", "sequences", "open"), 1);
    assert_int_equal(rule_stat(e, "r1", NULL, "reloads"), 1);

    /* a broken version: -1, the running version stays with its state */
    write_file(path, "return {");
    assert_int_equal(mw_engine_reload_file(e, path), -1);
    assert_int_equal(mw_engine_rule_count(e), 1);
    assert_int_equal(rule_stat(e, "r1", "sequences", "open"), 1);

    /* shape change: state dropped */
    seq_rule(path, "r1", "high", "20m");
    assert_int_equal(mw_engine_reload_file(e, path), 0);
    assert_int_equal(rule_stat(e, "r1", "sequences", "open"), 0);

    /* removal frees the rule */
    dispatch(e, "{\"k\":\"a\",\"user\":\"u2\"}", 2);
    assert_int_equal(mw_engine_remove_file(e, path), 0);
    assert_int_equal(mw_engine_rule_count(e), 0);
    assert_int_equal(mw_engine_remove_file(e, path), -1);
    mw_engine_free(e);

    assert_true(mw_health_count() - n0 ==
                6); /* loaded, loaded, failed, dropped, loaded, removed */
    mw_health_close();
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "jq -r .health %s/health.ndjson | tr '\\n' ' ' > %s/kinds",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/kinds", dir);
    FILE *f = fopen(path, "r");
    char kinds[256] = "";
    assert_non_null(fgets(kinds, sizeof(kinds), f));
    fclose(f);
    assert_string_equal(kinds, "rule_loaded rule_loaded reload_failed state_dropped "
                               "rule_loaded rule_removed ");
}

static void test_reload_refuses_duplicate_id(void **state)
{
    char a[128], b[128], *paths[1] = {a};
    (void)state;
    snprintf(a, sizeof(a), "%s/a.lua", dir);
    snprintf(b, sizeof(b), "%s/b.lua", dir);
    seq_rule(a, "same", "low", "10m");
    seq_rule(b, "same", "low", "10m");
    struct mw_engine *e = engine(false, 0);
    assert_int_equal(mw_engine_load(e, paths, 1), 0);
    assert_int_equal(mw_engine_reload_file(e, b), -1);
    assert_int_equal(mw_engine_rule_count(e), 1);
    assert_false(mw_engine_has_file(e, b));
    /* the id may move once the first file is gone */
    assert_int_equal(mw_engine_remove_file(e, a), 0);
    assert_int_equal(mw_engine_reload_file(e, b), 0);
    assert_true(mw_engine_has_file(e, b));
    mw_engine_free(e);
}

static void test_quarantine(void **state)
{
    char path[128], *paths[1] = {path};
    (void)state;
    snprintf(path, sizeof(path), "%s/fail.lua", dir);
    write_file(path, "local mw = require('moonwatch')\n"
                     "return mw.rule { id = 'f', name = 'f',\n"
                     "  where = function(ev) error('boom') end }\n");
    struct mw_engine *e = engine(false, 3);
    assert_int_equal(mw_engine_load(e, paths, 1), 0);
    for (uint64_t i = 1; i <= 5; i++)
        dispatch(e, "{\"k\":\"a\"}", i);
    assert_int_equal(rule_stat(e, "f", NULL, "quarantined"), 1);
    /* script errors: still probed on every event (a success would lift it) */
    assert_int_equal(rule_stat(e, "f", "errors", "script"), 5);
    assert_int_equal(mw_engine_reload_file(e, path), 0);
    assert_int_equal(rule_stat(e, "f", NULL, "quarantined"), 0);
    dispatch(e, "{\"k\":\"a\"}", 6);
    assert_int_equal(rule_stat(e, "f", "errors", "script"), 1); /* a new rule object */
    mw_engine_free(e);
}

static void test_follow_partial_line(void **state)
{
    char path[128];
    const char *line;
    size_t len;
    uint64_t lineno, offset;
    (void)state;
    snprintf(path, sizeof(path), "%s/in.ndjson", dir);
    write_file(path, "{\"a\":1}\n{\"b\":");
    struct mw_input *in = mw_input_open(path, 0, NULL);
    assert_non_null(in);
    mw_input_set_follow(in, true);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &offset, NULL),
                     MW_LINE_OK);
    assert_int_equal(len, 7);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &offset, NULL),
                     MW_LINE_AGAIN);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &offset, NULL),
                     MW_LINE_AGAIN);
    FILE *f = fopen(path, "a");
    fputs("2}\n{\"c\":3}", f);
    fclose(f);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &offset, NULL),
                     MW_LINE_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(line, "{\"b\":2}", 7);
    assert_int_equal(lineno, 2);
    assert_int_equal(offset, 8);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &offset, NULL),
                     MW_LINE_AGAIN);
    /* shutdown: the partial line is handed out at the end */
    mw_input_set_follow(in, false);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &offset, NULL),
                     MW_LINE_OK);
    assert_memory_equal(line, "{\"c\":3}", 7);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &offset, NULL),
                     MW_LINE_EOF);
    mw_input_close(in);
}

static void test_metrics_render(void **state)
{
    char path[128], text[4096] = "";
    (void)state;
    snprintf(path, sizeof(path), "%s/m.prom", dir);
    json_t *doc = json_loads(
        "{\"alerts\":2,\"reloads_ok\":1,\"reloads_failed\":0,"
        "\"inputs\":[{\"name\":\"in "
        "\\\"x\\\"\\\\y\",\"lines\":3,\"parsed\":2,\"rejected\":1,\"late\":0}],"
        "\"rules\":[{\"id\":\"r\",\"alerts\":2,\"quarantined\":true,\"loaded_at\":5,"
        "\"reloads\":1,"
        "\"errors\":{\"memory\":0,\"script\":4},\"matched_per_step\":[7,2],"
        "\"sequences\":{\"open\":3}}]}",
        0, NULL);
    assert_non_null(doc);
    assert_int_equal(mw_metrics_write(path, doc, NULL), 0);
    json_decref(doc);
    FILE *f = fopen(path, "r");
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    assert_non_null(
        strstr(text, "moonwatch_input_rejected_total{input=\"in \\\"x\\\"\\\\y\"} 1\n"));
    assert_non_null(
        strstr(text, "moonwatch_rule_matched_total{rule_id=\"r\",step=\"2\"} 2\n"));
    assert_non_null(strstr(text, "moonwatch_rule_open_sequences{rule_id=\"r\"} 3\n"));
    assert_non_null(
        strstr(text, "moonwatch_rule_errors_total{rule_id=\"r\",class=\"script\"} 4\n"));
    assert_non_null(strstr(text, "moonwatch_rule_quarantined{rule_id=\"r\"} 1\n"));
    assert_non_null(strstr(text, "# TYPE moonwatch_rule_alerts_total counter\n"));
    assert_non_null(
        strstr(text, "moonwatch_rule_last_reload_timestamp_seconds{rule_id=\"r\"} 5\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reload_keeps_or_drops_state, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_refuses_duplicate_id, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_quarantine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_partial_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_render, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
