/* mw_metrics.c - the statistics document as Prometheus text exposition
 *
 * Families are written one at a time (HELP, TYPE, then every sample), as the
 * text format requires. Label values are escaped (backslash, double quote,
 * newline). Counters end in _total; gauges do not.
 */
#include "mw_metrics.h"
#include "mw_file.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void label(FILE *fp, const char *name, const char *value, bool first)
{
    fprintf(fp, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(fp, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", fp);
        else
            fputc(*p, fp);
    }
    fputc('"', fp);
}

static void family(FILE *fp, const char *name, const char *type, const char *help)
{
    fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static long long ival(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : (long long)json_integer_value(v);
}

static void per_input(FILE *fp, const json_t *inputs, const char *name, const char *key,
                      const char *help)
{
    size_t i;
    json_t *in;
    family(fp, name, "counter", help);
    json_array_foreach(inputs, i, in)
    {
        fprintf(fp, "%s{", name);
        label(fp, "input", json_string_value(json_object_get(in, "name")), true);
        fprintf(fp, "} %lld\n", ival(in, key));
    }
}

/* One sample per rule of the integer at key (in rule, or in rule.sub). */
static void per_rule(FILE *fp, const json_t *rules, const char *name, const char *type,
                     const char *sub, const char *key, const char *help)
{
    size_t i;
    json_t *r;
    family(fp, name, type, help);
    json_array_foreach(rules, i, r)
    {
        const json_t *o = sub ? json_object_get(r, sub) : r;
        if (o == NULL)
            continue;
        fprintf(fp, "%s{", name);
        label(fp, "rule_id", json_string_value(json_object_get(r, "id")), true);
        fprintf(fp, "} %lld\n", ival(o, key));
    }
}

void mw_metrics_render(const json_t *doc, FILE *fp)
{
    const json_t *inputs = json_object_get(doc, "inputs");
    const json_t *rules = json_object_get(doc, "rules");
    size_t i;
    json_t *r;

    per_input(fp, inputs, "moonwatch_input_lines_total", "lines",
              "Non-blank lines read from the input.");
    per_input(fp, inputs, "moonwatch_input_parsed_total", "parsed",
              "Lines that became events.");
    per_input(fp, inputs, "moonwatch_input_rejected_total", "rejected",
              "Lines rejected (malformed JSON, bad timestamp, too long, ...).");
    per_input(fp, inputs, "moonwatch_input_reordered_total", "reordered",
              "Events that arrived behind the newest event time and were placed in "
              "event-time order (within --max-lateness).");
    per_input(fp, inputs, "moonwatch_input_late_total", "late",
              "Events refused as too late (behind the newest event time by more than "
              "--max-lateness).");

    family(fp, "moonwatch_rule_matched_total", "counter",
           "Events that matched the rule (sequences: per step).");
    json_array_foreach(rules, i, r)
    {
        const json_t *steps = json_object_get(r, "matched_per_step");
        size_t k;
        json_t *v;
        if (steps == NULL) {
            fputs("moonwatch_rule_matched_total{", fp);
            label(fp, "rule_id", json_string_value(json_object_get(r, "id")), true);
            fprintf(fp, ",step=\"1\"} %lld\n", ival(r, "matched"));
            continue;
        }
        json_array_foreach(steps, k, v)
        {
            fputs("moonwatch_rule_matched_total{", fp);
            label(fp, "rule_id", json_string_value(json_object_get(r, "id")), true);
            fprintf(fp, ",step=\"%zu\"} %lld\n", k + 1, (long long)json_integer_value(v));
        }
    }
    per_rule(fp, rules, "moonwatch_rule_open_sequences", "gauge", "sequences", "open",
             "Pending partial sequences held by the rule.");
    per_rule(fp, rules, "moonwatch_rule_alerts_total", "counter", NULL, "alerts",
             "Alerts raised by the rule.");
    family(fp, "moonwatch_rule_errors_total", "counter",
           "Failed predicate calls by class (memory, instructions, blocked, script).");
    json_array_foreach(rules, i, r)
    {
        const char *cls;
        json_t *v;
        json_object_foreach(json_object_get(r, "errors"), cls, v)
        {
            fputs("moonwatch_rule_errors_total{", fp);
            label(fp, "rule_id", json_string_value(json_object_get(r, "id")), true);
            label(fp, "class", cls, false);
            fprintf(fp, "} %lld\n", (long long)json_integer_value(v));
        }
    }
    per_rule(fp, rules, "moonwatch_rule_quarantined", "gauge", NULL, "quarantined",
             "1 when the rule is quarantined (receives no events until reloaded).");
    per_rule(fp, rules, "moonwatch_rule_last_reload_timestamp_seconds", "gauge", NULL,
             "loaded_at", "When the rule was last loaded or reloaded (Unix time).");
    per_rule(fp, rules, "moonwatch_rule_reloads_total", "counter", NULL, "reloads",
             "Successful reloads of the rule's file.");

    family(fp, "moonwatch_rules_loaded", "gauge",
           "Rules loaded and running or quarantined.");
    fprintf(fp, "moonwatch_rules_loaded %zu\n", json_array_size(rules));
    family(fp, "moonwatch_alerts_total", "counter", "Alerts raised by all rules.");
    fprintf(fp, "moonwatch_alerts_total %lld\n", ival(doc, "alerts"));
    family(fp, "moonwatch_reloads_total", "counter", "Rule file reloads by result.");
    fprintf(fp, "moonwatch_reloads_total{result=\"ok\"} %lld\n", ival(doc, "reloads_ok"));
    fprintf(fp, "moonwatch_reloads_total{result=\"failed\"} %lld\n",
            ival(doc, "reloads_failed"));
    family(fp, "moonwatch_last_update_timestamp_seconds", "gauge",
           "When this file was written (Unix time).");
    fprintf(fp, "moonwatch_last_update_timestamp_seconds %lld\n", (long long)time(NULL));
}

int mw_metrics_write(const char *path, const json_t *doc, struct mw_error *err)
{
    struct mw_atomic a;
    struct mw_error e1;
    /* the temp file is created O_EXCL|O_NOFOLLOW under a fresh name: a
     * symlink planted at any temp name is never written through */
    FILE *fp = mw_atomic_open(&a, path, &e1);
    if (fp == NULL)
        return mw_error_set(err, "--metrics-file %s", e1.msg);
    mw_metrics_render(doc, fp);
    if (mw_atomic_commit(&a, 0, &e1) != 0)
        return mw_error_set(err, "--metrics-file %s", e1.msg);
    return 0;
}
