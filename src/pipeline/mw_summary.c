/* mw_summary.c - what a run reports: the statistics document (the JSON
 * summary and the metrics file), the text summary, replay's progress
 *
 * Everything here reads counters (per input, mw_engine_stats, outputs) and
 * writes to stderr or the metrics file; nothing changes the run.
 */
#include "mw_run_int.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_metrics.h"
#include "mw_pool.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Resident set size now and at its peak, in bytes (0 when unknown). */
static void memory_usage(uint64_t *rss, uint64_t *peak)
{
    struct rusage ru;
    unsigned long pages = 0, resident = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    *rss = *peak = 0;
    if (fp) {
        if (fscanf(fp, "%lu %lu", &pages, &resident) == 2)
            *rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
        fclose(fp);
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        *peak = (uint64_t)ru.ru_maxrss * 1024;
}

/* The statistics document: the JSON summary, and the source of the metrics. */
static json_t *stats_doc(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                         int n, struct run *r)
{
    json_t *inputs = json_array(), *outs = json_array();
    uint64_t lines = 0, parsed = 0, rejected = 0, blank = 0, skipped = 0;
    uint64_t reasons[MW_REJECT__COUNT] = {0};

    for (int i = 0; i < n; i++) {
        struct mw_input_stats *st = mw_source_stats(srcs[i].in);
        json_t *rs = json_object();
        for (int k = 1; k < MW_REJECT__COUNT; k++) {
            reasons[k] += st->by_reason[k];
            if (st->by_reason[k])
                json_object_set_new(rs, mw_reject_name(k),
                                    json_integer((json_int_t)st->by_reason[k]));
        }
        lines += st->lines;
        parsed += st->parsed;
        rejected += st->rejected;
        blank += st->blank;
        skipped += st->skipped;
        json_array_append_new(
            inputs, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
                              "name", mw_source_name(srcs[i].in), "lines",
                              (json_int_t)st->lines, "parsed", (json_int_t)st->parsed,
                              "skipped", (json_int_t)st->skipped, "rejected",
                              (json_int_t)st->rejected, "blank", (json_int_t)st->blank,
                              "reordered", (json_int_t)st->reordered, "time_outliers",
                              (json_int_t)st->outliers, "late",
                              (json_int_t)st->by_reason[MW_REJECT_TOO_LATE],
                              "rejected_by_reason", rs));
    }
    json_t *rs = json_object();
    for (int k = 1; k < MW_REJECT__COUNT; k++)
        if (reasons[k])
            json_object_set_new(rs, mw_reject_name(k),
                                json_integer((json_int_t)reasons[k]));
    if (out)
        mw_output_stats(out, outs);
    json_t *doc = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o}", "events_read",
        (json_int_t)lines, "events_parsed", (json_int_t)parsed, "events_skipped",
        (json_int_t)skipped, "events_rejected", (json_int_t)rejected, "blank_lines",
        (json_int_t)blank, "rejected_by_reason", rs, "alerts",
        (json_int_t)mw_engine_alerts(e), "dead_letters", (json_int_t)r->dead_written,
        "inputs", inputs, "rules", mw_engine_stats(e), "outputs", outs);
    uint64_t ok, failed;
    mw_engine_reload_counts(e, &ok, &failed);
    json_object_set_new(doc, "dead_letters_lost", json_integer((json_int_t)r->dead_lost));
    json_object_set_new(doc, "reloads_ok", json_integer((json_int_t)ok));
    json_object_set_new(doc, "reloads_failed", json_integer((json_int_t)failed));
    return doc;
}

static void summary_json(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                         int n, struct run *r)
{
    json_t *doc = stats_doc(e, out, srcs, n, r);
    uint64_t rss, peak;
    memory_usage(&rss, &peak);
    json_object_set_new(doc, "memory",
                        json_pack("{s:I, s:I}", "rss_bytes", (json_int_t)rss,
                                  "peak_rss_bytes", (json_int_t)peak));
    char *s = json_dumps(doc, JSON_COMPACT);
    fprintf(stderr, "%s\n", s);
    mw_json_free(s);
    json_decref(doc);
}

static void summary_text(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                         int n, const struct run *r)
{
    fprintf(stderr, "moonwatch: summary\n");
    for (int i = 0; i < n; i++) {
        struct mw_input_stats *st = mw_source_stats(srcs[i].in);
        fprintf(stderr, "  input %s: %llu lines read, %llu parsed, %llu rejected",
                mw_source_name(srcs[i].in), (unsigned long long)st->lines,
                (unsigned long long)st->parsed, (unsigned long long)st->rejected);
        const char *sep = " (";
        for (int k = 1; k < MW_REJECT__COUNT; k++) {
            if (st->by_reason[k]) {
                fprintf(stderr, "%s%s %llu", sep, mw_reject_name(k),
                        (unsigned long long)st->by_reason[k]);
                sep = ", ";
            }
        }
        fprintf(stderr, "%s", sep[0] == ',' ? ")" : "");
        if (st->skipped)
            fprintf(stderr, ", %llu not parsed (prefilter)",
                    (unsigned long long)st->skipped);
        if (st->blank)
            fprintf(stderr, ", %llu blank skipped", (unsigned long long)st->blank);
        if (st->reordered)
            fprintf(stderr, ", %llu out of order placed in time order",
                    (unsigned long long)st->reordered);
        fputc('\n', stderr);
    }
    json_t *rules = mw_engine_stats(e);
    size_t i;
    json_t *rs;
    json_array_foreach(rules, i, rs)
    {
        fprintf(stderr,
                "  rule %s \"%s\": ", json_string_value(json_object_get(rs, "id")),
                json_string_value(json_object_get(rs, "name")));
        json_t *steps = json_object_get(rs, "matched_per_step");
        if (steps) {
            size_t k;
            json_t *v;
            fprintf(stderr, "matched per step [");
            json_array_foreach(steps, k, v) fprintf(stderr, "%s%lld", k ? ", " : "",
                                                    (long long)json_integer_value(v));
            json_t *sq = json_object_get(rs, "sequences");
            fprintf(stderr, "], open %lld, expired %lld, ",
                    (long long)json_integer_value(json_object_get(sq, "open")),
                    (long long)json_integer_value(json_object_get(sq, "expired")));
        } else {
            fprintf(stderr, "matched %lld, ",
                    (long long)json_integer_value(json_object_get(rs, "matched")));
        }
        fprintf(stderr, "alerts %lld",
                (long long)json_integer_value(json_object_get(rs, "alerts")));
        static const char *const shaping[] = {"deduplicated",       "suppressed",
                                              "suppressed_pending", "capped",
                                              "hook_dropped",       "hook_errors"};
        for (size_t k = 0; k < sizeof(shaping) / sizeof(shaping[0]); k++) {
            json_int_t v = json_integer_value(json_object_get(rs, shaping[k]));
            if (v)
                fprintf(stderr, ", %s %lld", shaping[k], (long long)v);
        }
        json_t *errs = json_object_get(rs, "errors");
        const char *k;
        json_t *v;
        json_object_foreach(errs, k, v) if (json_integer_value(v))
            fprintf(stderr, ", %s errors %lld", k, (long long)json_integer_value(v));
        fputc('\n', stderr);
    }
    json_decref(rules);
    if (out) {
        json_t *outs = json_array();
        json_t *os;
        mw_output_stats(out, outs);
        json_array_foreach(outs, i, os)
        {
            if (json_array_size(outs) == 1 &&
                strcmp(json_string_value(json_object_get(os, "type")), "stdout") == 0)
                break; /* the default: nothing to say */
            json_int_t lost = json_integer_value(json_object_get(os, "lost"));
            if (lost > 0)
                fprintf(stderr, "  output %s: LOST %lld alert(s)\n",
                        json_string_value(json_object_get(os, "spec")), (long long)lost);
            fprintf(stderr,
                    "  output %s: delivered %lld, retried %lld, spooled %lld, "
                    "failed %lld, waiting in spool %lld\n",
                    json_string_value(json_object_get(os, "spec")),
                    (long long)json_integer_value(json_object_get(os, "delivered")),
                    (long long)json_integer_value(json_object_get(os, "retried")),
                    (long long)json_integer_value(json_object_get(os, "spooled")),
                    (long long)json_integer_value(json_object_get(os, "failed")),
                    (long long)json_integer_value(json_object_get(os, "spool_pending")));
        }
        json_decref(outs);
    }
    if (r->dead_path != NULL) {
        if (r->dead_lost > 0)
            fprintf(stderr, "  dead letters %s: LOST %llu\n", r->dead_path,
                    (unsigned long long)r->dead_lost);
        fprintf(stderr, "  dead letters %s: written %llu, lost %llu\n", r->dead_path,
                (unsigned long long)r->dead_written, (unsigned long long)r->dead_lost);
    }
    fprintf(stderr, "  total: %llu alerts\n", (unsigned long long)mw_engine_alerts(e));
}

static void progress_fill(struct mw_run_progress *p, struct src *srcs, int n,
                          uint64_t events)
{
    p->events = events;
    p->bytes = p->lines = p->rejected = p->reordered = p->too_late = 0;
    for (int i = 0; i < n; i++) {
        struct mw_input_stats *st = mw_source_stats(srcs[i].in);
        p->bytes += mw_source_bytes_read(srcs[i].in);
        p->lines += st->lines;
        p->rejected += st->rejected;
        p->reordered += st->reordered;
        p->too_late += st->by_reason[MW_REJECT_TOO_LATE];
    }
}

static void write_metrics(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                          int n, struct run *r)
{
    struct mw_error err;
    json_t *doc = stats_doc(e, out, srcs, n, r);
    static bool reported;
    if (mw_metrics_write(r->o->metrics_file, doc, &err) < 0) {
        if (!reported)
            mw_log_error("%s (further failures are not reported)", err.msg);
        reported = true;
    }
    json_decref(doc);
}

void mw_summary_metrics(struct run *r)
{
    write_metrics(r->e, r->out, r->srcs, r->n, r);
}

void mw_summary_print(struct run *r)
{
    if (r->o->summary == MW_SUMMARY_JSON)
        summary_json(r->e, r->out, r->srcs, r->n, r);
    else if (r->o->summary == MW_SUMMARY_TEXT)
        summary_text(r->e, r->out, r->srcs, r->n, r);
}

void mw_summary_progress(struct run *r, struct mw_run_progress *p)
{
    progress_fill(p, r->srcs, r->n, r->seq);
}
