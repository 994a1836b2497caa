/* mw_health.c - health records as NDJSON on stderr or in a file
 *
 * A record is built, dumped compact and written with one fprintf followed by
 * fflush, so records never interleave with each other and are visible at
 * once to a reader that follows the file. A failed write is reported once on
 * stderr and never stops the host.
 */
#include "mw_health.h"
#include "mw_log.h"
#include "mw_time.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mw_health {
    FILE *fp;               /* owned unless it is stderr; NULL for "none" */
    bool owns_fp;
    bool failed;            /* a write failed (reported once) */
    unsigned long long written;
};

struct mw_health *mw_health_open(const char *spec, struct mw_error *err)
{
    struct mw_health *h;
    FILE *fp = NULL;

    if (strcmp(spec, "stderr") == 0) {
        fp = stderr;
    } else if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
        fp = fopen(spec + 5, "a");
        if (fp == NULL) {
            mw_error_set(err, "--health-output %s: %s", spec + 5, strerror(errno));
            return NULL;
        }
    } else if (strcmp(spec, "none") != 0) {
        mw_error_set(err, "--health-output must be stderr, file:PATH or none (got '%s')",
                     spec);
        return NULL;
    }
    h = xcalloc(1, sizeof(*h));
    h->fp = fp;
    h->owns_fp = fp != NULL && fp != stderr;
    return h;
}

void mw_health_free(struct mw_health *h)
{
    if (h == NULL)
        return;
    if (h->owns_fp)
        fclose(h->fp);
    free(h);
}

void mw_health_emit(struct mw_health *h, const char *kind, json_t *fields)
{
    struct timespec ts;
    char when[40];
    json_t *rec;
    char *line;

    if (h == NULL || h->fp == NULL) {
        json_decref(fields);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    mw_time_format((mw_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000, when, sizeof(when));
    rec = json_pack("{s:s, s:s}", "@timestamp", when, "event", kind);
    if (fields) {
        json_object_update(rec, fields);
        json_decref(fields);
    }
    line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    if (line == NULL)
        return;
    if ((fprintf(h->fp, "%s\n", line) < 0 || fflush(h->fp) == EOF) && !h->failed) {
        h->failed = true;
        mw_log_error("cannot write health records: %s", strerror(errno));
    }
    h->written++;
    mw_json_free(line);
}

unsigned long long mw_health_count(const struct mw_health *h)
{
    return h ? h->written : 0;
}
