/* mw_parse.c - one NDJSON line into an event, or a rejection reason
 *
 * mw_ingest_parse touches no shared state, so parser threads run it
 * (mw_workers.c); it loads with JSON_REJECT_DUPLICATES, classifies jansson's
 * error into a reason, and reads the event time from the timestamp path.
 * Every source kind (src_*.c) hands its lines here.
 */
#include "mw_input.h"
#include "mw_log.h"
#include "mw_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const reject_names[MW_REJECT__COUNT] = {
    [MW_REJECT_NONE] = "none",
    [MW_REJECT_MALFORMED_JSON] = "malformed_json",
    [MW_REJECT_NOT_OBJECT] = "not_object",
    [MW_REJECT_MISSING_TIMESTAMP] = "missing_timestamp",
    [MW_REJECT_BAD_TIMESTAMP] = "bad_timestamp",
    [MW_REJECT_INVALID_UTF8] = "invalid_utf8",
    [MW_REJECT_TOO_LONG] = "too_long",
    [MW_REJECT_DUPLICATE_KEY] = "duplicate_key",
    [MW_REJECT_FUTURE_TIMESTAMP] = "future_timestamp",
    [MW_REJECT_TOO_LATE] = "too_late",
    [MW_REJECT_NUMBER_RANGE] = "number_out_of_range",
    [MW_REJECT_TOO_DEEP] = "too_deep",
    [MW_REJECT_TIME_OUTLIER] = "time_outlier",
};

const char *mw_reject_name(enum mw_reject r)
{
    if ((int)r < 0 || r >= MW_REJECT__COUNT)
        return "unknown";
    return reject_names[r];
}

bool mw_line_is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return false;
    }
    return true;
}

static enum mw_reject classify(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_invalid_utf8:
        return MW_REJECT_INVALID_UTF8;
    case json_error_duplicate_key:
        return MW_REJECT_DUPLICATE_KEY;
    case json_error_numeric_overflow:
        return MW_REJECT_NUMBER_RANGE;
    case json_error_stack_overflow:
        return MW_REJECT_TOO_DEEP;
    default:
        return MW_REJECT_MALFORMED_JSON;
    }
}

struct mw_event *mw_ingest_parse(const char *line, size_t len,
                                 const struct mw_path *ts_path, const char *input,
                                 uint64_t lineno, uint64_t offset, uint64_t seq,
                                 enum mw_reject *reason, struct mw_error *err)
{
    json_error_t jerr;
    json_t *root;
    json_t *tsv;
    mw_time_t ts;

    /* a CRLF line ending is framing, not content; a UTF-8 byte order mark
     * before the value (Windows exports) is framing too (RFC 8259 section
     * 8.1 lets a parser ignore it) */
    mw_ingest_trim(&line, &len);
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        *reason = classify(&jerr);
        mw_error_set(err, "%s (column %d)", jerr.text, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        *reason = MW_REJECT_NOT_OBJECT;
        mw_error_set(err, "top-level value is not an object");
        goto fail;
    }
    tsv = mw_path_get(root, ts_path);
    if (mw_value_is_null(tsv)) {
        *reason = MW_REJECT_MISSING_TIMESTAMP;
        mw_error_set(err, "no timestamp field '%s'", mw_path_str(ts_path));
        goto fail;
    }
    if (mw_time_from_json(tsv, &ts) < 0) {
        *reason = MW_REJECT_BAD_TIMESTAMP;
        if (json_is_string(tsv))
            mw_error_set(err, "cannot parse timestamp '%.64s' in '%s'",
                         json_string_value(tsv), mw_path_str(ts_path));
        else
            mw_error_set(err,
                         "timestamp field '%s' is neither an RFC 3339 "
                         "string nor epoch milliseconds",
                         mw_path_str(ts_path));
        goto fail;
    }
    *reason = MW_REJECT_NONE;
    struct mw_event *ev = mw_event_new(root, ts, input, lineno, offset, seq);
    ev->bytes = len; /* for the state byte budgets (mw_detector.h) */
    return ev;

fail:
    json_decref(root);
    return NULL;
}
