/* mw_health.c - health records as JSON lines on stderr or in a file
 *
 * One mutex serialises writers (the main thread and output sender threads),
 * so records never interleave. The record is built and serialised outside
 * the lock; only the write is inside it.
 */
#include "mw_health.h"
#include "mw_log.h"
#include "mw_mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *health_fp; /* owned; NULL means stderr */
static uint64_t written;

int mw_health_open(const char *path, struct mw_error *err)
{
    FILE *fp = fopen(path, "a");
    if (fp == NULL)
        return mw_error_set(err, "health file %s: %s", path, strerror(errno));
    pthread_mutex_lock(&lock);
    if (health_fp)
        fclose(health_fp);
    health_fp = fp;
    pthread_mutex_unlock(&lock);
    return 0;
}

void mw_health_close(void)
{
    pthread_mutex_lock(&lock);
    if (health_fp)
        fclose(health_fp);
    health_fp = NULL;
    pthread_mutex_unlock(&lock);
}

void mw_health_emit(const char *kind, json_t *fields)
{
    struct timespec ts;
    struct tm tm;
    char stamp[96];
    json_t *rec = json_object();
    char *line;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
             tm.tm_sec, ts.tv_nsec / 1000000);
    json_object_set_new(rec, "@timestamp", json_string(stamp));
    json_object_set_new(rec, "health", json_string(kind));
    if (fields) {
        json_object_update(rec, fields);
        json_decref(fields);
    }
    line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);
    if (line == NULL)
        return;
    pthread_mutex_lock(&lock);
    FILE *fp = health_fp ? health_fp : stderr;
    fprintf(fp, "%s\n", line);
    fflush(fp);
    written++;
    pthread_mutex_unlock(&lock);
    mw_json_free(line);
}

uint64_t mw_health_count(void)
{
    pthread_mutex_lock(&lock);
    uint64_t n = written;
    pthread_mutex_unlock(&lock);
    return n;
}
