/* mw_output.c - the list of alert sinks and the scheme table
 *
 * A spec "scheme:rest" names one entry of the table below; the entry's
 * struct mw_sink_ops (include/mw_sink.h, one src/output/sink_<name>.c per
 * output) opens the sink from rest, and from then on this file only
 * dispatches: every alert line goes to every sink's write, finishing is
 * drain_begin on all sinks (so their drain times overlap), then drain,
 * then close. Adding an output is one new sink_<name>.c and one entry
 * here; nothing in this file knows what a sink does. A spec is kept and
 * shown only redacted (mw_redact_spec: passwords, secret query values and
 * path tokens become ***), in messages, the summary and the metrics.
 */
#include "mw_output.h"
#include "curl_int.h"
#include "mw_clock.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_sink.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The sinks, one per src/output/sink_*.c. */
extern const struct mw_sink_ops mw_sink_stdout, mw_sink_file;
extern const struct mw_sink_ops mw_sink_webhook;
extern const struct mw_sink_ops mw_sink_elasticsearch;

/* spec scheme -> sink; several names may share one sink ("-" is stdout) */
static const struct {
    const char *name;
    const struct mw_sink_ops *ops;
} schemes[] = {
    {"stdout", &mw_sink_stdout},
    {"-", &mw_sink_stdout},
    {"file", &mw_sink_file},
    {"webhook", &mw_sink_webhook},
    {"elasticsearch", &mw_sink_elasticsearch},
};

static volatile sig_atomic_t reopen_generation;

void mw_output_request_reopen(void)
{
    reopen_generation++;
}

struct sink {
    const struct mw_sink_ops *ops;
    void *state; /* owned, through ops->close */
    char *spec;  /* owned: the spec redacted (mw_redact_spec); the only form
                    of it that is ever shown */
};

struct mw_output {
    struct sink *sinks; /* owned */
    size_t n;
    char *spool_dir; /* owned, may be NULL */
    bool drained;
};

struct mw_output *mw_output_new(void)
{
    /* past a file size limit (ulimit -f), write(2) then fails with EFBIG
     * and the sink counts the alert lost, instead of SIGXFSZ killing the
     * host */
    signal(SIGXFSZ, SIG_IGN);
    return xcalloc(1, sizeof(struct mw_output));
}

void mw_output_set_spool_dir(struct mw_output *o, const char *dir)
{
    free(o->spool_dir);
    o->spool_dir = dir ? xstrdup(dir) : NULL;
}

/* The table entry spec names, and where its rest starts; NULL if none. */
static const struct mw_sink_ops *lookup(const char *spec, const char **rest)
{
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t len = strlen(schemes[i].name);
        if (strncmp(spec, schemes[i].name, len) != 0)
            continue;
        if (spec[len] == '\0' || spec[len] == ':') {
            *rest = spec[len] ? spec + len + 1 : spec + len;
            return schemes[i].ops;
        }
    }
    return NULL;
}

int mw_output_add(struct mw_output *o, const char *spec, struct mw_error *err)
{
    const char *rest = NULL;
    const struct mw_sink_ops *ops = lookup(spec, &rest);
    char *shown = mw_redact_spec(spec);
    struct mw_sink_env env = {o->spool_dir, shown, &reopen_generation};
    void *state;
    if (ops == NULL) {
        mw_error_set(err,
                     "unknown output '%s' (expected stdout, file:PATH, "
                     "webhook:URL or elasticsearch:URL/INDEX)",
                     shown);
        free(shown);
        return -1;
    }
    if ((state = ops->open(rest, &env, err)) == NULL) {
        free(shown);
        return -1;
    }
    o->sinks = xrealloc(o->sinks, (o->n + 1) * sizeof(*o->sinks));
    o->sinks[o->n].ops = ops;
    o->sinks[o->n].state = state;
    o->sinks[o->n].spec = shown;
    o->n++;
    return 0;
}

int mw_output_write(struct mw_output *o, const json_t *alert)
{
    int failures = 0;
    char *line = json_dumps(alert, JSON_COMPACT);
    const char *id =
        json_string_value(json_object_get(json_object_get(alert, "event"), "id"));
    size_t len;
    if (line == NULL) {
        mw_log_error("cannot serialise an alert");
        return (int)o->n;
    }
    len = strlen(line);
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].ops->write(o->sinks[i].state, line, len, id ? id : "") < 0)
            failures++;
    mw_json_free(line);
    return failures;
}

int mw_output_last_ids(struct mw_output *o, char ids[][33], int max)
{
    int n = 0;
    for (size_t i = 0; i < o->n && n < max; i++)
        if (o->sinks[i].ops->last_id &&
            o->sinks[i].ops->last_id(o->sinks[i].state, ids[n]))
            n++;
    return n;
}

static json_int_t sink_lost(const struct sink *s)
{
    json_t *st = json_object();
    s->ops->stats(s->state, st);
    json_int_t lost = json_integer_value(json_object_get(st, "lost"));
    json_decref(st);
    return lost;
}

void mw_output_drain(struct mw_output *o)
{
    int64_t now;
    if (o == NULL || o->drained)
        return;
    o->drained = true;
    now = mw_mono_us();
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].ops->drain_begin)
            o->sinks[i].ops->drain_begin(o->sinks[i].state, now);
    for (size_t i = 0; i < o->n; i++)
        o->sinks[i].ops->drain(o->sinks[i].state);
    /* losses are said once more at the end, whatever the rate limit held */
    for (size_t i = 0; i < o->n; i++) {
        json_int_t lost = sink_lost(&o->sinks[i]);
        if (lost <= 0)
            continue;
        mw_log_error("output %s: %lld alert(s) lost in this run (they could not be "
                     "written anywhere)",
                     o->sinks[i].spec, (long long)lost);
        mw_health_emit("output_lost",
                       json_pack("{s:s, s:I}", "output", o->sinks[i].spec, "lost", lost));
    }
}

uint64_t mw_output_lost(const struct mw_output *o)
{
    uint64_t total = 0;
    for (size_t i = 0; o && i < o->n; i++) {
        json_int_t lost = sink_lost(&o->sinks[i]);
        if (lost > 0)
            total += (uint64_t)lost;
    }
    return total;
}

void mw_output_free(struct mw_output *o)
{
    if (o == NULL)
        return;
    mw_output_drain(o);
    for (size_t i = 0; i < o->n; i++) {
        o->sinks[i].ops->close(o->sinks[i].state);
        free(o->sinks[i].spec);
    }
    free(o->sinks);
    free(o->spool_dir);
    free(o);
}

void mw_output_stats(const struct mw_output *o, json_t *arr)
{
    for (size_t i = 0; i < o->n; i++) {
        const struct sink *s = &o->sinks[i];
        json_t *r = json_pack("{s:s, s:s}", "spec", s->spec, "type", s->ops->scheme);
        s->ops->stats(s->state, r);
        json_object_set(r, "written", json_object_get(r, "delivered"));
        json_array_append_new(arr, r);
    }
}

void mw_output_global_cleanup(void)
{
    mw_curl_shutdown();
}

int mw_output_write_to(void *o, const json_t *alert)
{
    return mw_output_write(o, alert);
}
