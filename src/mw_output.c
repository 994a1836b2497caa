/* mw_output.c - NDJSON alert sinks (stdout, file) */
#include "mw_output.h"
#include "mw_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
    char *spec;         /* owned */
    FILE *fp;           /* owned unless stdout */
    uint64_t written;
    uint64_t failed;
};

struct mw_output {
    struct sink *sinks; /* owned */
    size_t n;
};

struct mw_output *mw_output_new(void)
{
    return xcalloc(1, sizeof(struct mw_output));
}

int mw_output_add(struct mw_output *o, const char *spec, struct mw_error *err)
{
    FILE *fp;
    if (strcmp(spec, "stdout") == 0 || strcmp(spec, "-") == 0) {
        fp = stdout;
    } else if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
        fp = fopen(spec + 5, "a");
        if (fp == NULL)
            return mw_error_set(err, "output %s: %s", spec, strerror(errno));
    } else {
        return mw_error_set(err, "unknown output '%s' (expected stdout or "
                            "file:PATH)", spec);
    }
    o->sinks = xrealloc(o->sinks, (o->n + 1) * sizeof(*o->sinks));
    o->sinks[o->n].spec = xstrdup(spec);
    o->sinks[o->n].fp = fp;
    o->sinks[o->n].written = 0;
    o->sinks[o->n].failed = 0;
    o->n++;
    return 0;
}

int mw_output_write(struct mw_output *o, const json_t *alert)
{
    int failures = 0;
    char *line = json_dumps(alert, JSON_COMPACT);
    if (line == NULL) {
        mw_log_error("cannot serialise an alert");
        return (int)o->n;
    }
    for (size_t i = 0; i < o->n; i++) {
        struct sink *s = &o->sinks[i];
        if (fputs(line, s->fp) == EOF || fputc('\n', s->fp) == EOF ||
            fflush(s->fp) == EOF) {
            s->failed++;
            failures++;
            mw_log_error("output %s: write failed: %s", s->spec, strerror(errno));
        } else {
            s->written++;
        }
    }
    mw_json_free(line);
    return failures;
}

void mw_output_free(struct mw_output *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++) {
        if (o->sinks[i].fp != stdout)
            fclose(o->sinks[i].fp);
        else
            fflush(stdout);
        free(o->sinks[i].spec);
    }
    free(o->sinks);
    free(o);
}

void mw_output_stats(const struct mw_output *o, json_t *arr)
{
    for (size_t i = 0; i < o->n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I}",
            "spec", o->sinks[i].spec,
            "written", (json_int_t)o->sinks[i].written,
            "failed", (json_int_t)o->sinks[i].failed));
}
