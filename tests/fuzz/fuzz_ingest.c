/* fuzz_ingest.c - libFuzzer target: line framing, parsing, field lookup and
 * timestamp parsing
 *
 * The first input byte picks the line limit and whether the input is read in
 * follow mode; the rest is written to a memfd and read back through
 * mw_input (the real framing, with its discard mode for over-long lines).
 * Every line goes through mw_line_is_blank, mw_ingest_parse (with two
 * timestamp paths), mw_path_get on fixed paths and on a path taken from the
 * first line, and mw_time_from_json / mw_time_parse_rfc3339, whose results
 * must format and parse back to the same instant. The prefilter's timestamp
 * scanner (which reads the time of lines it lets skip parsing) runs on every
 * line too, and must agree with the full parse whenever both succeed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mw_field.h"
#include "mw_input.h"
#include "mw_prefilter.h"
#include "mw_time.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const fixed_paths[] = {
    "@timestamp", "event.created", "event.category", "event.dataset",
    "azure.signinlogs.properties.app_id", "azure.signinlogs.properties.status.error_code",
    "azure.activitylogs.identity.claims.appid", "a", "a.b", "a.b.c", "a.0", "a.0.b",
    "0", "a.1.2.3.4.5.6.7.8.9", "related.ip.0",
};
#define NPATHS (sizeof(fixed_paths) / sizeof(fixed_paths[0]))
static struct mw_path *paths[NPATHS];
static struct mw_path *ts_paths[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < NPATHS; i++)
        paths[i] = mw_path_new(fixed_paths[i]);
    ts_paths[0] = mw_path_new("@timestamp");
    ts_paths[1] = mw_path_new("event.created");
    return 0;
}

/* A time this module produced must print and parse back unchanged. */
static void check_time(mw_time_t t)
{
    char buf[MW_TIME_FORMAT_SIZE];
    mw_time_t back = 0;
    int n = mw_time_format(t, buf, sizeof(buf));
    if (n < 0 || mw_time_parse_rfc3339(buf, (size_t)n, &back) != 0 || back != t)
        abort();
    char d[MW_DURATION_FORMAT_SIZE];
    if (mw_duration_format(t, d, sizeof(d)) < 0)
        abort();
}

static void lookups(const json_t *root, const struct mw_path *extra)
{
    mw_time_t t;
    for (size_t i = 0; i < NPATHS; i++) {
        json_t *v = mw_path_get(root, paths[i]);
        if (v != NULL && mw_time_from_json(v, &t) == 0)
            check_time(t);
    }
    if (extra != NULL) {
        json_t *v = mw_path_get(root, extra);
        if (v != NULL && mw_time_from_json(v, &t) == 0)
            check_time(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t limits[] = {1, 2, 7, 64, 1000, 4096, 65536, 65537, 1 << 20};
    struct mw_path *extra = NULL;
    struct mw_error err;
    char path[64];
    uint64_t seq = 0;

    if (size < 1)
        return 0;
    size_t max_line = limits[(data[0] & 15) % (sizeof(limits) / sizeof(limits[0]))];
    bool follow = data[0] & 16;
    const struct mw_path *ts = ts_paths[(data[0] >> 5) & 1];
    data++;
    size--;

    /* a path from the first line of the input (up to 80 bytes) */
    size_t plen = 0;
    while (plen < size && plen < 80 && data[plen] != '\n')
        plen++;
    char *ps = strndup((const char *)data, plen);
    extra = mw_path_new(ps);
    free(ps);

    int fd = memfd_create("fuzz_ingest", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct mw_input *in = mw_input_open(path, max_line, &err);
    if (in == NULL)
        abort();
    mw_input_set_follow(in, follow);
    for (;;) {
        const char *line;
        size_t len;
        uint64_t lineno, offset;
        enum mw_line_status st = mw_input_next_line(in, &line, &len, &lineno, &offset, &err);
        if (st == MW_LINE_AGAIN) {
            /* follow mode at the end: a partial last line waits; turning
             * follow off hands it out */
            mw_input_set_follow(in, false);
            continue;
        }
        if (st == MW_LINE_EOF || st == MW_LINE_ERROR)
            break;
        if (offset > size || lineno == 0)
            abort();
        if (st == MW_LINE_TOO_LONG) {
            if (len <= max_line)
                abort();
            continue;
        }
        if (len > max_line || offset + len > size)
            abort();
        mw_time_t t;
        if (mw_time_parse_rfc3339(line, len, &t) == 0)
            check_time(t);
        mw_time_t scanned = 0;
        int scan_rc = mw_prefilter_scan_ts(line, len, "@timestamp", 10, &scanned);
        if (scan_rc == 0)
            check_time(scanned);
        if (mw_line_is_blank(line, len))
            continue;
        enum mw_reject reason;
        struct mw_event *ev = mw_ingest_parse(line, len, ts, "fuzz", lineno, offset,
                                              seq++, &reason, &err);
        if (ev == NULL) {
            if (reason == MW_REJECT_NONE || reason >= MW_REJECT__COUNT)
                abort();
            continue;
        }
        if (reason != MW_REJECT_NONE)
            abort();
        check_time(ev->ts);
        /* the scanner reads a top-level "@timestamp" as the parser does: a
         * line both accept has the same time (the line was parsed with the
         * @timestamp path; the scanner does not read flattened or nested keys) */
        if (scan_rc == 0 && ts == ts_paths[0] && scanned != ev->ts)
            abort();
        lookups(ev->root, extra);
        mw_event_unref(ev);
    }
    mw_input_close(in);
    close(fd);
    mw_path_free(extra);
    return 0;
}
