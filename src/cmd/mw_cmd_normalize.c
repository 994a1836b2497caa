/* mw_cmd_normalize.c - `moonwatch normalize`: print the events exactly as
 * rules see them, one JSON object per line
 *
 * Each INPUT is opened as an "azure" source (a plain path or stdin gets
 * azure: in front; a spec naming a kind is kept, so `file:x.ndjson` shows
 * an ECS file unchanged), with --normalizers and --dataset added as the
 * spec's options. Every line the source hands out is parsed as the run
 * loop parses it (mw_ingest_parse, the same timestamp field) and the
 * event's document printed; a line the run loop would reject is reported
 * on stderr with input, line and reason, and makes the exit status 1.
 */
#include "mw_buf.h"
#include "mw_cmd_normalize.h"
#include "mw_field.h"
#include "mw_input.h"
#include "mw_log.h"
#include "mw_source.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mw_usage_normalize =
    "usage: moonwatch normalize [--normalizers DIR] [--dataset NAME] INPUT...\n"
    "\n"
    "Reads raw Azure logs (Event Hubs messages {\"records\":[...]}, arrays, single\n"
    "records; NDJSON or one pretty-printed document) and prints each record as\n"
    "the normalizers map it: the events exactly as rules see them, NDJSON on\n"
    "stdout. INPUT: a path, - (stdin), or a spec (azure:PATH,dataset=NAME;\n"
    "file:PATH shows a file unchanged). Lines `run` would reject are reported\n"
    "on stderr with input, line and reason. Exit 0, 1 when a line was\n"
    "rejected, 2 on usage or load errors. docs/AZURE.md.\n"
    "\n"
    "Options:\n"
    "      --normalizers DIR  the normalizer scripts (default: the shipped\n"
    "                         normalizers/, or $MOONWATCH_NORMALIZERS)\n"
    "      --dataset NAME     the dataset of every input (azure.activitylogs...)\n"
    "                         instead of each record's category\n"
    "  -t, --timestamp-field F  as run (default @timestamp)\n"
    "  -h, --help             this help\n";

static int one_input(const char *spec, const struct mw_path *ts, uint64_t *rejected)
{
    struct mw_error err;
    struct mw_source *s = mw_source_open(spec, NULL, &err);
    struct mw_line l;
    enum mw_line_status ls;

    if (s == NULL) {
        mw_log_error("%s", err.msg);
        return -1;
    }
    while ((ls = mw_source_next(s, &l, &err)) == MW_LINE_OK || ls == MW_LINE_TOO_LONG) {
        enum mw_reject reason;
        struct mw_event *ev;
        if (ls == MW_LINE_TOO_LONG) {
            fprintf(stderr, "%s:%llu: rejected (too_long): line of %zu bytes\n",
                    mw_source_name(s), (unsigned long long)l.lineno, l.len);
            (*rejected)++;
            continue;
        }
        if (mw_line_is_blank(l.text, l.len))
            continue;
        ev = mw_ingest_parse(l.text, l.len, ts, mw_source_name(s), l.lineno, l.offset, 0,
                             &reason, &err);
        if (ev == NULL) {
            fprintf(stderr, "%s:%llu: rejected (%s): %s: %.*s\n", mw_source_name(s),
                    (unsigned long long)l.lineno, mw_reject_name(reason), err.msg,
                    (int)(l.len > 600 ? 600 : l.len), l.text);
            (*rejected)++;
            continue;
        }
        char *out = json_dumps(mw_event_root(ev), JSON_COMPACT);
        if (out != NULL)
            printf("%s\n", out);
        mw_json_free(out);
        mw_event_unref(ev);
    }
    if (ls == MW_LINE_ERROR)
        mw_log_error("%s", err.msg);
    mw_source_close(s);
    return ls == MW_LINE_ERROR ? -1 : 0;
}

int mw_cmd_normalize(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"normalizers", required_argument, NULL, 'N'},
        {"dataset", required_argument, NULL, 'D'},
        {"timestamp-field", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *dataset = NULL, *tsf = "@timestamp";
    uint64_t rejected = 0;
    int c, rc = 0;

    optind = 1;
    while ((c = getopt_long(argc, argv, "t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'N':
            dir = optarg;
            break;
        case 'D':
            dataset = optarg;
            break;
        case 't':
            tsf = optarg;
            break;
        case 'h':
            fputs(mw_usage_normalize, stdout);
            return 0;
        default:
            fputs(mw_usage_normalize, stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fputs(mw_usage_normalize, stderr);
        return 2;
    }
    struct mw_path *ts = mw_path_new(tsf);
    if (ts == NULL) {
        mw_log_error("--timestamp-field %s: not a field path", tsf);
        return 2;
    }
    for (int i = optind; i < argc && rc == 0; i++) {
        struct mw_buf spec = MW_BUF_INIT;
        const char *rest;
        const struct mw_source_ops *k = mw_source_kind(argv[i], &rest);
        bool azure = strcmp(k->scheme, "azure") == 0;
        if (!azure && rest == argv[i]) { /* a plain path: read it as Azure */
            mw_buf_addf(&spec, "azure:%s", argv[i]);
            azure = true;
        } else {
            mw_buf_adds(&spec, argv[i]);
        }
        if (azure && dataset)
            mw_buf_addf(&spec, ",dataset=%s", dataset);
        if (azure && dir)
            mw_buf_addf(&spec, ",normalizers=%s", dir);
        if (one_input(spec.ptr, ts, &rejected) < 0)
            rc = 2;
        mw_buf_release(&spec);
    }
    mw_path_free(ts);
    fflush(stdout);
    if (rc == 0 && rejected > 0)
        rc = 1;
    return rc;
}
