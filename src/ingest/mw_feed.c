/* mw_feed.c - merged event sources for the workflow commands
 *
 * Every source keeps one head event; next() asks the merge (mw_merge.h,
 * the same object `run` uses) which head goes next, applies its lateness
 * verdict, then refills that source. Heads further ahead of the wall clock
 * than the future bound are refused when read, as `run` refuses them.
 * In-memory sources are arrays of events parsed when added; file sources
 * read one line at a time. Source names are owned by the feed (events
 * borrow them).
 */
#include "mw_feed.h"
#include "mw_input.h"
#include "mw_source.h"
#include "mw_log.h"
#include "mw_merge.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct source {
    char *name;            /* owned; events borrow it */
    struct mw_source *in;  /* owned, file (any source kind) sources */
    struct mw_event **evs; /* owned refs, in-memory sources */
    size_t nevs, pos;
    struct mw_event *head; /* owned */
    bool done;
    unsigned reported; /* rejected lines logged (at most MW_FEED_MAX_REPORTS) */
};

struct mw_feed {
    struct mw_path *ts_path; /* owned */
    struct mw_merge *merge;  /* owned */
    size_t max_line;
    struct source *srcs; /* owned */
    size_t nsrcs;
    uint64_t seq;
    uint64_t rejected;
    char *first_error; /* owned, may be NULL */
};

struct mw_feed *mw_feed_new(const char *ts_field, size_t max_line,
                            const struct mw_merge_opts *mo, struct mw_error *err)
{
    struct mw_path *p = mw_path_new(ts_field ? ts_field : "@timestamp");
    struct mw_feed *f;

    if (p == NULL) {
        mw_error_set(err, "invalid timestamp field '%s'", ts_field);
        return NULL;
    }
    f = xcalloc(1, sizeof(*f));
    f->ts_path = p;
    f->merge = mw_merge_new(mo);
    f->max_line = max_line ? max_line : MW_DEFAULT_MAX_LINE;
    return f;
}

void mw_feed_free(struct mw_feed *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->nsrcs; i++) {
        struct source *s = &f->srcs[i];
        mw_event_unref(s->head);
        for (size_t k = s->pos; k < s->nevs; k++)
            mw_event_unref(s->evs[k]);
        free(s->evs);
        mw_source_close(s->in);
        free(s->name);
    }
    free(f->srcs);
    free(f->first_error);
    for (struct mw_event *ev; (ev = mw_merge_release(f->merge, true)) != NULL;)
        mw_event_unref(ev); /* held events never handed out */
    mw_path_free(f->ts_path);
    mw_merge_free(f->merge);
    free(f);
}

static struct source *add_source(struct mw_feed *f, const char *name)
{
    f->srcs = xrealloc(f->srcs, (f->nsrcs + 1) * sizeof(*f->srcs));
    struct source *s = &f->srcs[f->nsrcs++];
    memset(s, 0, sizeof(*s));
    s->name = xstrdup(name);
    return s;
}

int mw_feed_add_file(struct mw_feed *f, const char *path, struct mw_error *err)
{
    struct mw_source_opts so = {f->max_line, false, 0};
    struct mw_source *in = mw_source_open(path, &so, err);
    if (in == NULL)
        return -1;
    struct source *s = add_source(f, mw_source_name(in));
    s->in = in;
    return 0;
}

int mw_feed_add_json(struct mw_feed *f, const char *name, const json_t *events,
                     struct mw_error *err)
{
    size_t n = json_is_array(events) ? json_array_size(events) : 0;
    struct mw_event **evs = xcalloc(n ? n : 1, sizeof(*evs));
    char *owned = xstrdup(name);

    if (!json_is_array(events) &&
        !(json_is_object(events) && json_object_size(events) == 0)) {
        mw_error_set(err, "%s: events must be a list", name);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(events, i);
        char *line = NULL;
        const char *text;
        size_t len;
        enum mw_reject reason;
        struct mw_error perr;

        if (json_is_string(v)) {
            text = json_string_value(v);
            len = json_string_length(v);
        } else if (json_is_object(v)) {
            line = json_dumps(v, JSON_COMPACT);
            text = line;
            len = line ? strlen(line) : 0;
        } else {
            mw_error_set(err, "%s[%zu]: an event must be a table or a JSON string", name,
                         i + 1);
            goto fail;
        }
        evs[i] =
            mw_ingest_parse(text, len, f->ts_path, owned, i + 1, 0, 0, &reason, &perr);
        mw_json_free(line);
        if (evs[i] == NULL) {
            mw_error_set(err, "%s[%zu]: %s: %s", name, i + 1, mw_reject_name(reason),
                         perr.msg);
            goto fail;
        }
    }
    struct source *s = add_source(f, "");
    free(s->name);
    s->name = owned;
    s->evs = evs;
    s->nevs = n;
    return 0;

fail:
    for (size_t i = 0; i < n; i++)
        mw_event_unref(evs[i]);
    free(evs);
    free(owned);
    return -1;
}

#define MW_FEED_MAX_REPORTS 10

/* The position part of a parser message, " at column N" (or ""): never
 * the text the message may quote. */
static void quiet_reason(const char *msg, char *out, size_t size)
{
    const char *c = strstr(msg, "(column ");
    long col = c ? strtol(c + 8, NULL, 10) : 0;
    out[0] = '\0';
    if (col > 0)
        snprintf(out, size, " at column %ld", col);
}

static void note_error(struct mw_feed *f, const char *name, unsigned long long line,
                       const char *reason, const char *msg)
{
    struct mw_buf b = MW_BUF_INIT;
    if (f->first_error != NULL)
        return;
    mw_buf_addf(&b, "%s:%llu: %s: %s", name, line, reason, msg);
    f->first_error = mw_buf_detach(&b, NULL);
}

/* A head refused by the merge policy (future when read, too late when
 * picked): logged and counted as `run` does; the event is released. */
static void refuse(struct mw_feed *f, struct mw_event *ev, enum mw_reject reason)
{
    struct mw_buf msg = MW_BUF_INIT;
    if (reason == MW_REJECT_TIME_OUTLIER)
        mw_buf_adds(&msg, "set aside as a jump ahead of event time and dropped: the "
                          "hold of unconfirmed events is full");
    else
        mw_merge_describe(f->merge, ev->ts, reason == MW_REJECT_FUTURE_TIMESTAMP, &msg);
    f->rejected++;
    mw_log_warn("%s:%llu: rejected (%s): %s", ev->input, (unsigned long long)ev->line,
                mw_reject_name(reason), msg.ptr);
    note_error(f, ev->input, (unsigned long long)ev->line, mw_reject_name(reason),
               msg.ptr);
    mw_buf_release(&msg);
    mw_event_unref(ev);
}

static void refill(struct mw_feed *f, struct source *s)
{
    if (s->in == NULL) {
        while (s->head == NULL && s->pos < s->nevs) {
            s->head = s->evs[s->pos++];
            if (mw_merge_future(f->merge, s->head->ts)) {
                refuse(f, s->head, MW_REJECT_FUTURE_TIMESTAMP);
                s->head = NULL;
            }
        }
        return;
    }
    while (!s->done && s->head == NULL) {
        struct mw_line l;
        struct mw_error err;
        enum mw_reject reason;
        enum mw_line_status ls = mw_source_next(s->in, &l, &err);
        const char *line = l.text;
        size_t len = l.len;
        uint64_t lineno = l.lineno, offset = l.offset;

        switch (ls) {
        case MW_LINE_EOF:
        case MW_LINE_AGAIN: /* follow mode only; feeds never follow */
            s->done = true;
            break;
        case MW_LINE_ERROR:
            mw_log_error("%s", err.msg);
            if (f->first_error == NULL)
                f->first_error = xstrdup(err.msg);
            f->rejected++;
            s->done = true;
            break;
        case MW_LINE_TOO_LONG:
            f->rejected++;
            mw_log_warn("%s:%llu: rejected (too_long): line of %zu bytes", s->name,
                        (unsigned long long)lineno, len);
            note_error(f, s->name, (unsigned long long)lineno, "too_long",
                       "line over the limit");
            break;
        case MW_LINE_OK:
            if (mw_line_is_blank(line, len))
                break;
            s->head = mw_ingest_parse(line, len, f->ts_path, s->name, lineno, offset, 0,
                                      &reason, &err);
            if (s->head != NULL && mw_merge_future(f->merge, s->head->ts)) {
                refuse(f, s->head, MW_REJECT_FUTURE_TIMESTAMP);
                s->head = NULL;
            } else if (s->head == NULL) {
                /* the parser's message may quote the line ("invalid token
                 * near 'root'"): a fixture may be any file, so only the
                 * place and the reason are reported (docs/SECURITY.md, 15) */
                char why[64];
                quiet_reason(err.msg, why, sizeof(why));
                f->rejected++;
                if (s->reported++ < MW_FEED_MAX_REPORTS)
                    mw_log_warn("%s:%llu: rejected (%s)%s", s->name,
                                (unsigned long long)lineno, mw_reject_name(reason), why);
                if (s->reported == MW_FEED_MAX_REPORTS)
                    mw_log_warn("%s: further rejected lines are counted, not reported",
                                s->name);
                note_error(f, s->name, (unsigned long long)lineno, mw_reject_name(reason),
                           why[0] ? why + 1 : "see the rejection reason");
            }
            break;
        }
    }
}

static bool src_head(void *ud, int i, mw_time_t *ts)
{
    const struct source *s = (const struct source *)ud + i;
    if (s->head == NULL)
        return false;
    *ts = s->head->ts;
    return true;
}

struct mw_event *mw_feed_next(struct mw_feed *f)
{
    for (;;) {
        /* events set aside as unconfirmed jumps, once admissible (mw_merge.h) */
        struct mw_event *ev = mw_merge_release(f->merge, false);
        if (ev != NULL)
            return ev;
        for (size_t i = 0; i < f->nsrcs; i++)
            refill(f, &f->srcs[i]);
        int best = mw_merge_pick((int)f->nsrcs, src_head, f->srcs);
        if (best < 0)
            return mw_merge_release(f->merge, true); /* the end: in time order */
        ev = f->srcs[best].head;
        f->srcs[best].head = NULL;
        ev->seq = ++f->seq; /* as `run`: a refused event took its serial too */
        switch (mw_merge_admit(f->merge, ev->ts)) {
        case MW_MERGE_TOO_LATE:
            refuse(f, ev, MW_REJECT_TOO_LATE);
            continue;
        case MW_MERGE_HOLD: {
            struct mw_event *out = mw_merge_hold(f->merge, ev->ts, ev->seq, 256, ev);
            if (out != NULL)
                refuse(f, out, MW_REJECT_TIME_OUTLIER);
            continue;
        }
        default:
            return ev;
        }
    }
}

uint64_t mw_feed_rejected(const struct mw_feed *f)
{
    return f->rejected;
}

const char *mw_feed_first_error(const struct mw_feed *f)
{
    return f->first_error;
}
