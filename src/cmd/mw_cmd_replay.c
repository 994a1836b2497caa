/* mw_cmd_replay.c - `moonwatch replay`: backtest rules over history
 *
 * Runs the `run` loop (mw_run: inputs merged by event time, every rule)
 * over files and folders of NDJSON, plain or gzip, at full speed, with alert
 * times taken from the events so a replay is reproducible. While it runs it
 * shows progress on stderr: a bar redrawn in place when stderr is a
 * terminal, else a plain line every --progress-interval seconds. At the end
 * it writes a per-rule report on stdout (text or JSON): events matched per
 * step, partial sequences opened / completed / replaced / expired /
 * cancelled / evicted / still open, events without a join key, alerts, Lua
 * errors, and the out-of-order events of the whole replay (placed in order
 * within --max-lateness, refused as too late beyond it).
 * Alerts are only counted unless outputs are given with -o.
 */
#include "mw_cmd.h"
#include "mw_engine.h"
#include "mw_input.h"
#include "mw_log.h"
#include "mw_output.h"
#include "mw_run.h"
#include "mw_shape.h"
#include "mw_time.h"

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const mw_usage_replay =
    "usage: moonwatch replay [--rules PATH]... [options] INPUT...\n"
    "\n"
    "Backtests rules over history: INPUTs are NDJSON files, .gz files, or folders\n"
    "(scanned recursively for *.ndjson, *.jsonl, *.json, *.log and the same with\n"
    ".gz, in name order), all merged by event time. Shows progress on stderr (a\n"
    "bar on a terminal, else a line every --progress-interval seconds) and ends\n"
    "with a per-rule report on stdout. Alert @timestamp is the last event's time.\n"
    "\n"
    "Options:\n"
    "  -r, --rules PATH            rule file or folder; repeatable (default: rules)\n"
    "  -o, --output SPEC           also write the alerts: stdout or file:PATH;\n"
    "                              repeatable (default: alerts are only counted)\n"
    "  -f, --format F              report format: text (default) or json\n"
    "      --progress WHEN         auto (default: bar on a terminal, lines\n"
    "                              otherwise), bar, lines or none\n"
    "      --progress-interval S   seconds between progress lines (default 5; 0:\n"
    "                              every 4096 events)\n"
    "  -t, --timestamp-field F     event time field (default @timestamp)\n"
    "      --max-lateness DUR      how far behind the newest event time an event may\n"
    "                              come and still be placed in order (default 5m)\n"
    "      --max-open-keys N       per sequence rule, cap on open join keys\n"
    "      --lua-dir DIR           folder of the moonwatch Lua modules\n"
    "      --strict                refuse to start if any rule fails to load\n"
    "  -q, --quiet                 only warnings and errors on stderr\n"
    "  -h, --help                  this help\n";

enum progress_mode {
    PROG_AUTO,
    PROG_BAR,
    PROG_LINES,
    PROG_NONE,
};

struct replay {
    enum progress_mode mode;
    double interval;
    double start, last;
    uint64_t total_bytes; /* 0: unknown (stdin) */
    struct mw_run_progress final;
};

struct list {
    char **v;
    size_t n, cap;
};

static void list_add(struct list *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof(char *));
    }
    l->v[l->n++] = xstrdup(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_event_file(const char *name)
{
    static const char *const exts[] = {".ndjson", ".jsonl", ".json", ".log", NULL};
    size_t len = strlen(name);
    if (len > 3 && strcmp(name + len - 3, ".gz") == 0)
        len -= 3;
    for (int i = 0; exts[i]; i++) {
        size_t el = strlen(exts[i]);
        if (len > el && strncmp(name + len - el, exts[i], el) == 0)
            return true;
    }
    return false;
}

/* Expands path (a file, "-", or a folder) into l. -1 when unreadable. */
static int expand(const char *path, struct list *l, int depth)
{
    struct stat sb;
    if (strcmp(path, "-") == 0) {
        list_add(l, path);
        return 0;
    }
    if (stat(path, &sb) < 0) {
        mw_log_error("%s: no such input file or folder", path);
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        list_add(l, path);
        return 0;
    }
    DIR *d = depth > 16 ? NULL : opendir(path);
    if (d == NULL) {
        mw_log_error("%s: cannot read folder", path);
        return -1;
    }
    struct list local = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char child[PATH_MAX];
        if (de->d_name[0] == '.')
            continue;
        snprintf(child, sizeof(child), "%s/%s", path, de->d_name);
        if (stat(child, &sb) < 0)
            continue;
        if (S_ISDIR(sb.st_mode) || is_event_file(de->d_name))
            list_add(&local, child);
    }
    closedir(d);
    if (local.n > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(local.v, local.n, sizeof(char *), cmp_str);
    int rc = 0;
    for (size_t i = 0; i < local.n; i++) {
        if (expand(local.v[i], l, depth + 1) < 0)
            rc = -1;
        free(local.v[i]);
    }
    free(local.v);
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void human_bytes(double b, char *buf, size_t size)
{
    static const char *const unit[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) {
        b /= 1000;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

static void human_secs(double s, char *buf, size_t size)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, size, "%ldh%02ldm%02lds", t / 3600, t / 60 % 60, t % 60);
    else if (t >= 60)
        snprintf(buf, size, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, size, "%lds", t);
}

static void on_progress(void *ud, const struct mw_run_progress *p)
{
    struct replay *r = ud;
    double t = now_s(), el = t - r->start;
    char done[32], total[32], eta[32];
    double rate = el > 0 ? (double)p->events / el : 0;
    double frac = r->total_bytes ? (double)p->bytes / (double)r->total_bytes : -1;

    if (p->done)
        r->final = *p;
    if (r->mode == PROG_NONE)
        return;
    if (!p->done) {
        double gap = r->mode == PROG_BAR ? 0.1 : r->interval;
        if (t - r->last < gap)
            return;
    }
    r->last = t;
    if (frac > 1)
        frac = 1;
    human_bytes((double)p->bytes, done, sizeof(done));
    human_bytes((double)r->total_bytes, total, sizeof(total));
    if (frac > 0 && !p->done)
        human_secs(el * (1 - frac) / frac, eta, sizeof(eta));
    else
        snprintf(eta, sizeof(eta), p->done ? "done" : "?");
    if (r->mode == PROG_BAR) {
        char bar[31];
        int fill = frac < 0 ? 0 : (int)(frac * 30);
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr,
                "\r[%s] %3.0f%%  %s / %s  %llu events  %.0f events/s  ETA %s\033[K", bar,
                frac < 0 ? 0 : frac * 100, done, r->total_bytes ? total : "?",
                (unsigned long long)p->events, rate, eta);
        if (p->done)
            fputc('\n', stderr);
    } else {
        fprintf(stderr,
                "moonwatch: replay: %s%.0f%%%s %s of %s, %llu events, %.0f events/s, "
                "ETA %s\n",
                frac < 0 ? "(" : "", frac < 0 ? 0 : frac * 100, frac < 0 ? "?)" : "",
                done, r->total_bytes ? total : "?", (unsigned long long)p->events, rate,
                eta);
    }
    fflush(stderr);
}

static void report_text(json_t *doc)
{
    const json_t *rules = json_object_get(doc, "rules");
    size_t i;
    json_t *rs;
    printf("replay: %lld input(s), %lld bytes, %lld events (%lld lines, %lld rejected), "
           "%lld out of order placed in order, %lld too late, %.2fs, %.0f events/s, "
           "%lld alert(s)\n",
           (long long)json_array_size(json_object_get(doc, "inputs")),
           (long long)json_integer_value(json_object_get(doc, "bytes")),
           (long long)json_integer_value(json_object_get(doc, "events")),
           (long long)json_integer_value(json_object_get(doc, "lines")),
           (long long)json_integer_value(json_object_get(doc, "rejected")),
           (long long)json_integer_value(json_object_get(doc, "reordered")),
           (long long)json_integer_value(json_object_get(doc, "too_late")),
           json_real_value(json_object_get(doc, "seconds")),
           json_real_value(json_object_get(doc, "events_per_second")),
           (long long)json_integer_value(json_object_get(doc, "alerts")));
    json_array_foreach(rules, i, rs)
    {
        printf("rule %s \"%s\" (%s)\n", json_string_value(json_object_get(rs, "id")),
               json_string_value(json_object_get(rs, "name")),
               json_string_value(json_object_get(rs, "type")));
        json_t *steps = json_object_get(rs, "matched_per_step");
        if (steps) {
            size_t k;
            json_t *v;
            printf("  matched per step  [");
            json_array_foreach(steps, k, v)
                printf("%s%lld", k ? ", " : "", (long long)json_integer_value(v));
            printf("]\n");
            json_t *sq = json_object_get(rs, "sequences");
            printf("  sequences         started %lld, completed %lld, replaced %lld, "
                   "expired %lld, "
                   "cancelled %lld, evicted %lld, still open %lld\n",
                   (long long)json_integer_value(json_object_get(sq, "started")),
                   (long long)json_integer_value(json_object_get(sq, "completed")),
                   (long long)json_integer_value(json_object_get(sq, "replaced")),
                   (long long)json_integer_value(json_object_get(sq, "expired")),
                   (long long)json_integer_value(json_object_get(sq, "cancelled")),
                   (long long)json_integer_value(json_object_get(sq, "evicted")),
                   (long long)json_integer_value(json_object_get(sq, "open")));
            printf("  no join key       %lld\n",
                   (long long)json_integer_value(json_object_get(sq, "no_key")));
        } else {
            printf("  matched           %lld\n",
                   (long long)json_integer_value(json_object_get(rs, "matched")));
        }
        printf("  alerts            %lld\n",
               (long long)json_integer_value(json_object_get(rs, "alerts")));
        printf("  alerts raised     %lld (before dedup, suppression, caps and hooks)\n",
               (long long)json_integer_value(json_object_get(rs, "raised")));
        printf("  suppressed        %lld, capped %lld, deduplicated %lld, dropped by "
               "hook %lld\n",
               (long long)json_integer_value(json_object_get(rs, "suppressed")),
               (long long)json_integer_value(json_object_get(rs, "capped")),
               (long long)json_integer_value(json_object_get(rs, "deduplicated")),
               (long long)json_integer_value(json_object_get(rs, "hook_dropped")));
        json_t *errs = json_object_get(rs, "errors");
        const char *k;
        json_t *v;
        long long nerr = 0;
        json_object_foreach(errs, k, v) nerr += (long long)json_integer_value(v);
        if (nerr) {
            printf("  errors           ");
            json_object_foreach(errs, k, v) if (json_integer_value(v))
                printf(" %s %lld", k, (long long)json_integer_value(v));
            printf("\n");
        }
    }
}

int mw_cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'f'},
        {"progress", required_argument, NULL, 'P'},
        {"progress-interval", required_argument, NULL, 'I'},
        {"timestamp-field", required_argument, NULL, 't'},
        {"max-open-keys", required_argument, NULL, 'K'},
        {"max-lateness", required_argument, NULL, 'M'},
        {"lua-dir", required_argument, NULL, 'L'},
        {"strict", no_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char rules_dir[] = "rules";
    char **rules = xcalloc((size_t)argc + 2, sizeof(char *));
    char **outputs = xcalloc((size_t)argc + 1, sizeof(char *));
    int nrules = 0, noutputs = 0, c, rc = 2;
    bool as_json = false, strict = false;
    const char *lua_dir_opt = NULL;
    char lua_buf[PATH_MAX + 8];
    struct mw_engine_opts eo = {0};
    struct mw_run_opts ro = {0};
    struct replay r = {0};
    struct list inputs = {0};
    struct mw_output *out = NULL;
    struct mw_shape *shape = NULL;
    struct mw_engine *e = NULL;

    eo.max_open_keys = 1000000;
    eo.max_state_bytes = MW_ENGINE_DEFAULT_STATE_BYTES;
    eo.max_total_state_bytes = MW_ENGINE_DEFAULT_TOTAL_STATE_BYTES;
    eo.alert_time_from_events = true;
    eo.lateness = 5 * 60 * (mw_time_t)1000000;
    ro.timestamp_field = "@timestamp";
    ro.max_line = MW_DEFAULT_MAX_LINE;
    ro.summary = MW_SUMMARY_NONE;
    ro.max_reports_per_input = 100;
    r.interval = 5;

    optind = 1;
    while ((c = getopt_long(argc, argv, "r:o:f:t:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rules[nrules++] = optarg;
            break;
        case 'o':
            outputs[noutputs++] = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                as_json = true;
            else if (strcmp(optarg, "text") != 0) {
                fprintf(stderr, "moonwatch: --format is text or json\n");
                goto done;
            }
            break;
        case 'P':
            if (strcmp(optarg, "auto") == 0)
                r.mode = PROG_AUTO;
            else if (strcmp(optarg, "bar") == 0)
                r.mode = PROG_BAR;
            else if (strcmp(optarg, "lines") == 0)
                r.mode = PROG_LINES;
            else if (strcmp(optarg, "none") == 0)
                r.mode = PROG_NONE;
            else {
                fprintf(stderr, "moonwatch: --progress is auto, bar, lines or none\n");
                goto done;
            }
            break;
        case 'I': {
            char *end;
            r.interval = strtod(optarg, &end);
            if (*end != '\0' || r.interval < 0) {
                fprintf(stderr, "moonwatch: --progress-interval needs seconds >= 0\n");
                goto done;
            }
            break;
        }
        case 't':
            ro.timestamp_field = optarg;
            break;
        case 'K':
            if (mw_parse_size(optarg, &eo.max_open_keys) < 0) {
                fprintf(stderr, "moonwatch: --max-open-keys needs a positive number\n");
                goto done;
            }
            break;
        case 'L':
            lua_dir_opt = optarg;
            break;
        case 'M':
            if (mw_duration_parse(optarg, &eo.lateness) < 0) {
                fprintf(stderr,
                        "moonwatch: --max-lateness needs a duration like 5m or 0s\n");
                goto done;
            }
            break;
        case 'S':
            strict = true;
            break;
        case 'q':
            mw_log_set_level(MW_LOG_WARN);
            break;
        case 'h':
            fputs(mw_usage_replay, stdout);
            rc = 0;
            goto done;
        default:
            fputs(mw_usage_replay, stderr);
            goto done;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "moonwatch: replay needs at least one INPUT\n%s",
                mw_usage_replay);
        goto done;
    }
    if (nrules == 0)
        rules[nrules++] = rules_dir;
    for (int i = optind; i < argc; i++)
        if (expand(argv[i], &inputs, 0) < 0)
            goto done;
    if (inputs.n == 0) {
        mw_log_error("replay: no event files in the given inputs");
        goto done;
    }
    for (size_t i = 0; i < inputs.n; i++) {
        struct stat sb;
        if (strcmp(inputs.v[i], "-") == 0) {
            r.total_bytes = 0;
            break;
        }
        if (stat(inputs.v[i], &sb) == 0)
            r.total_bytes += (uint64_t)sb.st_size;
    }
    if (r.mode == PROG_AUTO)
        r.mode = isatty(STDERR_FILENO) ? PROG_BAR : PROG_LINES;

    eo.lua_dir = mw_find_lua_dir(lua_dir_opt, lua_buf, sizeof(lua_buf));
    out = mw_output_new();
    for (int i = 0; i < noutputs; i++) {
        struct mw_error err;
        if (mw_output_add(out, outputs[i], &err) < 0) {
            mw_log_error("%s", err.msg);
            goto done;
        }
    }
    {
        /* alert shaping (dedup, suppression, caps, hooks) in memory only:
         * a backtest must not touch a live run's state folder */
        struct mw_error err;
        shape = mw_shape_new(NULL, noutputs ? out : NULL, &err);
        if (shape == NULL) {
            mw_log_error("%s", err.msg);
            goto done;
        }
    }
    e = mw_engine_new(&eo, noutputs ? out : NULL);
    mw_engine_set_shape(e, shape);
    int failed = mw_engine_load(e, rules, nrules);
    if (failed > 0 && strict) {
        mw_log_error("%d rule file(s) failed to load and --strict is set", failed);
        goto done;
    }
    if (mw_engine_rule_count(e) == 0) {
        mw_log_error("no rules loaded from the given --rules paths");
        goto done;
    }
    mw_log_info("replaying %zu input(s) through %zu rule(s)", inputs.n,
                mw_engine_rule_count(e));
    ro.max_lateness = eo.lateness;
    ro.inputs = inputs.v;
    ro.ninputs = (int)inputs.n;
    ro.progress = on_progress;
    ro.progress_ud = &r;
    r.start = r.last = now_s();
    rc = mw_run(e, out, &ro);
    if (rc != 0)
        goto done;
    double secs = now_s() - r.start;
    json_t *names = json_array();
    for (size_t i = 0; i < inputs.n; i++)
        json_array_append_new(names, json_string(inputs.v[i]));
    json_t *rstats = mw_engine_stats(e);
    json_t *doc = json_pack(
        "{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:I, s:o}", "inputs", names,
        "bytes", (json_int_t)r.final.bytes, "events", (json_int_t)r.final.events, "lines",
        (json_int_t)r.final.lines, "rejected", (json_int_t)r.final.rejected, "reordered",
        (json_int_t)r.final.reordered, "too_late", (json_int_t)r.final.too_late,
        "seconds", secs, "events_per_second",
        secs > 0 ? (double)r.final.events / secs : 0.0, "alerts",
        (json_int_t)mw_engine_alerts(e), "rules", rstats);
    if (as_json) {
        char *s = json_dumps(doc, JSON_COMPACT);
        printf("%s\n", s);
        mw_json_free(s);
    } else {
        report_text(doc);
    }
    json_decref(doc);
    rc = failed > 0 ? 2 : 0;

done:
    mw_engine_free(e);
    mw_shape_free(shape);
    mw_output_free(out);
    for (size_t k = 0; k < inputs.n; k++)
        free(inputs.v[k]);
    free(inputs.v);
    free(rules);
    free(outputs);
    return rc;
}
