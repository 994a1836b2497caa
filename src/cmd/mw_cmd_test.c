/* mw_cmd_test.c - `moonwatch test`: run the tests a rule carries
 *
 * A rule's `tests` field (docs/RULE-TESTS.md) lists cases: events inline or
 * in NDJSON files beside the rule, and the alerts expected (a count, and
 * field values every alert or the n-th alert must have). Each case runs in a
 * fresh engine holding only that rule, through mw_engine_dispatch exactly as
 * `run` would: the same option defaults (mw_cmd_defaults), the same merge of
 * its event sources with the same lateness and future-time policy
 * (mw_feed over mw_merge), on event time only: alert @timestamp is the last event's time
 * and nothing waits for the wall clock. One line per case, then
 * "N passed, N failed"; exit 1 when any case (or a rule without tests, or a
 * rule that does not load) fails.
 */
#include "mw_frontend.h"
#include "mw_cmd.h"
#include "mw_engine.h"
#include "mw_buf.h"
#include "mw_feed.h"
#include "mw_file.h"
#include "mw_log.h"
#include "mw_rule.h"
#include "mw_shape.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mw_usage_test =
    "usage: moonwatch test [--lua-dir DIR] [-v] [PATH...]\n"
    "\n"
    "Runs the tests each rule carries in its `tests` field (PATH: rule files or\n"
    "folders; default: rules) through the real engine on event time, and prints\n"
    "one line per test and a closing \"N passed, N failed\". A rule without tests\n"
    "or that fails to load counts as a failure. Exit 0 when all pass, 1 when any\n"
    "fails, 2 on usage errors. See docs/RULE-TESTS.md for the format.\n"
    "\n"
    "Options:\n"
    "      --lua-dir DIR   folder of the moonwatch Lua modules\n"
    "  -v, --verbose       print the alerts of failing tests\n"
    "  -h, --help          this help\n";

struct result {
    json_t *alerts;       /* owned: collected alerts, in emission order */
    struct mw_buf detail; /* owned: why it failed, one indented line each */
    bool failed;
};

static void collect(void *ud, const json_t *alert)
{
    struct result *r = ud;
    json_array_append_new(r->alerts, json_deep_copy(alert));
}

static void failf(struct result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void failf(struct result *r, const char *fmt, ...)
{
    va_list ap;
    r->failed = true;
    mw_buf_adds(&r->detail, "       ");
    va_start(ap, fmt);
    mw_buf_vaddf(&r->detail, fmt, ap);
    va_end(ap);
    mw_buf_addc(&r->detail, '\n');
}

/* A short JSON rendering of v (or "missing") into buf. */
static const char *render(const json_t *v, char *buf, size_t size)
{
    if (v == NULL) {
        snprintf(buf, size, "missing");
        return buf;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, size, "%s", s ? s : "?");
    if (s && strlen(s) >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
    mw_json_free(s);
    return buf;
}

static bool value_matches(const json_t *want, const json_t *got)
{
    if (json_is_null(want))
        return mw_value_is_null(got);
    if (got == NULL)
        return false;
    if (json_is_number(want) && json_is_number(got))
        return json_number_value(want) == json_number_value(got);
    /* an empty Lua table is both {} and [] */
    if (json_is_object(want) && json_object_size(want) == 0 && json_is_array(got))
        return json_array_size(got) == 0;
    return json_equal(want, got);
}

/* Checks every field of want (an object of path -> value) in alert idx. */
static void check_fields(struct result *r, const json_t *alert, size_t idx, json_t *want)
{
    const char *path;
    json_t *v;
    json_object_foreach(want, path, v)
    {
        struct mw_path *p = mw_path_new(path);
        char a[256], b[256];
        if (p == NULL) {
            failf(r, "expect: invalid field path '%s'", path);
            continue;
        }
        json_t *got = mw_path_get(alert, p);
        if (!value_matches(v, got))
            failf(r, "alert %zu: %s: expected %s, got %s", idx + 1, path,
                  render(v, a, sizeof(a)), render(got, b, sizeof(b)));
        mw_path_free(p);
    }
}

/* Whether name, a fixture path relative to the rule's folder, stays inside
 * it as written: not empty, no NUL, not absolute, no ".." segment. */
static bool fixture_name_ok(const json_t *name)
{
    const char *s = json_string_value(name);
    if (s == NULL || *s == '\0' || strlen(s) != json_string_length(name) || *s == '/')
        return false;
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        p += *p == '/';
    }
    return true;
}

/* A fixture file inside the rule file's folder (docs/SECURITY.md, item 15):
 * an absolute path, a ".." segment or a symlink that leads out of the
 * folder is refused, so a rule's tests cannot make `moonwatch test` read
 * (and report on) any file the user can read. */
static int add_fixture(struct mw_feed *feed, const char *rule_file, const json_t *name,
                       struct result *r)
{
    const char *slash = strrchr(rule_file, '/');
    char *dir, *path, *rdir = NULL, *rpath = NULL;
    struct mw_error err;
    int rc = -1;
    if (!json_is_string(name)) {
        failf(r, "a fixture file name must be a string");
        return -1;
    }
    dir = slash ? xstrndup(rule_file, (size_t)(slash - rule_file)) : xstrdup(".");
    path = mw_path_join(dir, json_string_value(name));
    if (!fixture_name_ok(name)) {
        failf(r,
              "fixture '%s': refused: a fixture is a path relative to the rule's "
              "folder and inside it (no absolute path, no '..')",
              json_string_value(name));
        goto out;
    }
    if ((rdir = realpath(dir, NULL)) == NULL || (rpath = realpath(path, NULL)) == NULL) {
        failf(r, "fixture %s: %s", path, strerror(errno));
        goto out;
    }
    size_t n = strlen(rdir);
    if (strncmp(rpath, rdir, n) != 0 || (rpath[n] != '/' && rdir[n - 1] != '/')) {
        failf(r,
              "fixture '%s': refused: it leads out of the rule's folder %s (a symlink?)",
              json_string_value(name), dir);
        goto out;
    }
    if (mw_feed_add_file(feed, path, &err) < 0) {
        failf(r, "fixture %s", err.msg);
        goto out;
    }
    rc = 0;
out:
    free(rpath);
    free(rdir);
    free(path);
    free(dir);
    return rc;
}

static void run_case(const struct mw_engine_opts *eo, char *rule_file, const json_t *tc,
                     struct result *r)
{
    struct mw_engine *e = mw_engine_new(eo, NULL, NULL);
    struct mw_shape *shape = mw_shape_new(NULL, NULL, NULL); /* in memory */
    struct mw_feed *feed = NULL;
    struct mw_error err;
    const json_t *events = json_object_get(tc, "events");
    const json_t *file = json_object_get(tc, "file");
    const json_t *files = json_object_get(tc, "files");
    const json_t *expect = json_object_get(tc, "expect");
    char *paths[1] = {rule_file};
    struct mw_event *ev;
    struct mw_buf name = MW_BUF_INIT;
    struct mw_merge_opts mo;

    mw_engine_set_alert_hook(e, collect, r);
    mw_engine_set_shape(e, shape);
    if (mw_engine_load(e, paths, 1) > 0 || mw_engine_rule_count(e) != 1) {
        failf(r, "the rule does not load (see above)");
        goto out;
    }
    mw_cmd_merge_opts(eo, NULL, &mo); /* the lateness the engine was built with */
    feed = mw_feed_new(NULL, 0, &mo, &err);
    mw_buf_addf(&name, "test:%s", json_string_value(json_object_get(tc, "name")));
    if (events && mw_feed_add_json(feed, name.ptr, events, &err) < 0) {
        failf(r, "%s", err.msg);
        goto out;
    }
    if (file && add_fixture(feed, rule_file, file, r) < 0)
        goto out;
    if (json_is_array(files)) {
        size_t i;
        json_t *f;
        json_array_foreach(files, i,
                           f) if (add_fixture(feed, rule_file, f, r) < 0) goto out;
    }
    while ((ev = mw_feed_next(feed)) != NULL) {
        mw_engine_dispatch(e, ev);
        mw_event_unref(ev);
    }
    mw_engine_finish(e);
    if (mw_feed_rejected(feed) > 0)
        failf(r, "%llu fixture line(s) rejected, first: %s",
              (unsigned long long)mw_feed_rejected(feed), mw_feed_first_error(feed));

    size_t n = json_array_size(r->alerts);
    json_int_t want = json_integer_value(json_object_get(expect, "count"));
    if ((json_int_t)n != want)
        failf(r, "expected %lld alert%s, got %zu", (long long)want, want == 1 ? "" : "s",
              n);
    json_t *fields = json_object_get(expect, "fields");
    const json_t *per = json_object_get(expect, "alerts");
    if (json_is_object(fields))
        for (size_t i = 0; i < n; i++)
            check_fields(r, json_array_get(r->alerts, i), i, fields);
    if (json_is_array(per)) {
        for (size_t i = 0; i < json_array_size(per); i++) {
            if (i >= n) {
                failf(r, "alert %zu: expected, not raised", i + 1);
                continue;
            }
            check_fields(r, json_array_get(r->alerts, i), i, json_array_get(per, i));
        }
    }
out:
    mw_engine_free(e);
    mw_shape_free(shape);
    mw_feed_free(feed); /* after the engine: its state borrows input names */
    mw_buf_release(&name);
}

static void print_alerts(const json_t *alerts)
{
    size_t i;
    json_t *a;
    json_array_foreach(alerts, i, a)
    {
        json_t *evs = json_object_get(json_object_get(a, "moonwatch"), "events");
        size_t k;
        json_t *ev;
        printf("       alert %zu: %s\n", i + 1,
               json_string_value(json_object_get(a, "message")));
        json_array_foreach(evs, k, ev)
        {
            json_t *src = json_object_get(ev, "source");
            printf("         step %lld: %s:%lld\n",
                   (long long)json_integer_value(json_object_get(ev, "step")),
                   json_string_value(json_object_get(src, "input")),
                   (long long)json_integer_value(json_object_get(src, "line")));
        }
    }
}

int mw_cmd_test(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"lua-dir", required_argument, NULL, 'L'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char rules_dir[] = "rules";
    static char *default_paths[] = {rules_dir};
    const char *lua_dir_opt = NULL;
    char lua_buf[PATH_MAX + 8];
    struct mw_engine_opts eo;
    bool verbose = false;
    char **files = NULL;
    size_t nfiles = 0;
    int c, passed = 0, failed = 0, bad;

    mw_cmd_defaults(&eo, NULL); /* what `run` starts from */
    optind = 1;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(mw_usage_test, stdout);
            return 0;
        case 'L':
            lua_dir_opt = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        default:
            fputs(mw_usage_test, stderr);
            return 2;
        }
    }
    eo.lua_dir = mw_find_lua_dir(lua_dir_opt, lua_buf, sizeof(lua_buf));
    eo.alert_time_from_events = true; /* the virtual clock: event time only */
    if (optind < argc)
        bad = mw_engine_scan(argv + optind, argc - optind, &files, &nfiles, false);
    else
        bad = mw_engine_scan(default_paths, 1, &files, &nfiles, false);
    failed += bad;
    if (nfiles == 0 && bad == 0)
        mw_log_warn("no rule files found");

    for (size_t i = 0; i < nfiles; i++) {
        struct mw_error err;
        struct mw_rule *rule = mw_frontend_load(files[i], eo.lua_dir, &eo.limits, &err);
        if (rule == NULL) {
            printf("FAIL %s: does not load\n       %s\n", files[i], err.msg);
            failed++;
            continue;
        }
        const json_t *tests = mw_rule_meta(rule)->tests;
        if (!json_is_array(tests) || json_array_size(tests) == 0) {
            printf("FAIL %s: no tests (add a `tests = { ... }` field, see "
                   "docs/RULE-TESTS.md)\n",
                   files[i]);
            failed++;
        }
        size_t k;
        json_t *tc;
        json_array_foreach(tests, k, tc)
        {
            struct result r = {0};
            r.alerts = json_array();
            mw_buf_init(&r.detail);
            run_case(&eo, files[i], tc, &r);
            size_t n = json_array_size(r.alerts);
            printf("%s %s: %s (%zu alert%s)\n", r.failed ? "FAIL" : "ok  ", files[i],
                   json_string_value(json_object_get(tc, "name")), n, n == 1 ? "" : "s");
            if (r.failed) {
                fputs(r.detail.ptr, stdout);
                if (verbose)
                    print_alerts(r.alerts);
                failed++;
            } else {
                passed++;
            }
            json_decref(r.alerts);
            mw_buf_release(&r.detail);
        }
        mw_rule_free(rule);
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    printf("%d passed, %d failed\n", passed, failed);
    return failed > 0 ? 1 : 0;
}
