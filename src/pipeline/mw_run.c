/* mw_run.c - the run loop: read, frame, parse, merge by event time,
 * dispatch
 *
 * Each input's next event waits as its head (struct src); the merge
 * (mw_merge.h) says which head goes next and whether it is in order,
 * reordered within the lateness, or too late. Rejected lines are reported
 * with input name and line number, counted per reason and optionally kept
 * in a dead-letter file. The other files of the loop (mw_run_int.h): the
 * parser threads (mw_workers.c), follow mode with signals and checkpoints
 * (mw_follow_loop.c), the summary and metrics (mw_summary.c).
 *
 * Prefilter: a line that contains none of the rules' literals is not parsed;
 * its top-level timestamp is read and it takes its place in the merge as a
 * time marker that moves event time (mw_engine_advance) and counts as an
 * arrival (arrival number, now, reordered, too late, future), so windows and
 * counters are as with every line parsed. Threads: framed lines go in
 * batches to parser threads; each input's batches are consumed here in
 * order, so everything downstream is as with one thread.
 */
#include "mw_run_int.h"
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_log.h"
#include "mw_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

/* Appends one dead letter (s and a newline) with one write(2), so a full
 * disk or a file size limit is seen per line: a failed or short write is
 * counted lost (never as written), cut off again so the file keeps whole
 * lines only, and logged rate-limited (docs/SECURITY.md, item 13). */
static void write_dead(struct run *r, const char *s)
{
    size_t n = strlen(s);
    char *line = xmalloc(n + 1);
    ssize_t w;
    memcpy(line, s, n);
    line[n] = '\n';
    do
        w = write(r->dead, line, n + 1);
    while (w < 0 && errno == EINTR);
    free(line);
    if (w == (ssize_t)(n + 1)) {
        r->dead_written++;
        return;
    }
    int e = w < 0 ? errno : ENOSPC;
    if (w > 0) { /* a torn line: cut it off */
        off_t end = lseek(r->dead, 0, SEEK_END);
        if (end >= w && ftruncate(r->dead, end - w) != 0)
            (void)0; /* the reader of the file drops a torn last line anyway */
    }
    r->dead_lost++;
    mw_log_limited(&r->dead_errors, MW_LOG_ERROR,
                   "--dead-letter %s: write failed: %s (dead letter lost; %llu lost so "
                   "far)",
                   r->dead_path, strerror(e), (unsigned long long)r->dead_lost);
}

static void dead_letter(struct run *r, const char *input, uint64_t lineno,
                        const char *where, enum mw_reject reason, const char *msg,
                        const char *line, size_t len)
{
    json_t *o;
    char *s;
    if (r->dead < 0)
        return;
    o = json_pack("{s:s, s:I, s:s, s:s}", "input", input, "line", (json_int_t)lineno,
                  "reason", mw_reject_name(reason), "error", msg);
    if (where != NULL) /* a Kafka message: topic/partition/offset */
        json_object_set_new(o, "position", json_string(where));
    if (line != NULL) {
        json_t *raw = json_stringn(line, len);
        if (raw != NULL) {
            json_object_set_new(o, "raw", raw);
        } else {
            /* not valid UTF-8 (or holds NUL): keep the bytes, escaped */
            static const char hex[] = "0123456789abcdef";
            char *esc = xmalloc(len * 4 + 1);
            size_t k = 0;
            for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)line[i];
                if (c >= 0x20 && c < 0x7f && c != '\\') {
                    esc[k++] = (char)c;
                } else {
                    esc[k++] = '\\';
                    esc[k++] = 'x';
                    esc[k++] = hex[c >> 4];
                    esc[k++] = hex[c & 15];
                }
            }
            json_object_set_new(o, "raw_escaped", json_stringn(esc, k));
            free(esc);
        }
    } else {
        json_object_set_new(o, "raw_bytes", json_integer((json_int_t)len));
    }
    s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL)
        return;
    write_dead(r, s);
    mw_json_free(s);
}

static void reject(struct run *r, struct src *s, uint64_t lineno, enum mw_reject reason,
                   const char *msg, const char *line, size_t len)
{
    struct mw_input_stats *st = mw_source_stats(s->in);
    char where[256];
    bool placed = mw_source_describe(s->in, lineno, where, sizeof(where)) == 0;
    st->rejected++;
    st->by_reason[reason]++;
    if (s->reported < r->o->max_reports_per_input) {
        mw_log_warn("%s:%llu%s%s%s: rejected (%s): %s", mw_source_name(s->in),
                    (unsigned long long)lineno, placed ? " (" : "", placed ? where : "",
                    placed ? ")" : "", mw_reject_name(reason), msg);
        if (++s->reported == r->o->max_reports_per_input)
            mw_log_warn("%s: further rejected lines are counted, not reported",
                        mw_source_name(s->in));
    }
    dead_letter(r, mw_source_name(s->in), lineno, placed ? where : NULL, reason, msg,
                line, len);
}

/* ---------------------------------------------------------------------- */
/* per line: prefilter, then parse (thread-safe: touches only its line)    */

void mw_run_parse_line(const struct pctx *c, const char *input, const char *line,
                       size_t len, struct lres *res, struct mw_error *err)
{
    if (mw_line_is_blank(line, len)) {
        res->kind = L_BLANK;
        return;
    }
    if (c->pf != NULL && !mw_prefilter_pass(c->pf, line, len) &&
        mw_prefilter_scan_ts(line, len, c->ts_key, c->ts_keylen, &res->ts) == 0) {
        res->kind = L_SKIP;
        return;
    }
    res->ev = mw_ingest_parse(line, len, c->ts_path, input, res->lineno, res->offset, 0,
                              &res->reason, err);
    res->kind = res->ev != NULL ? L_EVENT : L_REJECT;
}

/* Consumes one line's result, in input order: counts it, reports a
 * rejection, or makes it the source's head. line is NULL for too long. */
void mw_run_take(struct run *r, struct src *s, struct lres *res, const char *line,
                 const char *msg)
{
    struct mw_input_stats *st = mw_source_stats(s->in);

    switch (res->kind) {
    case L_BLANK:
        st->blank++;
        break;
    case L_EVENT:
    case L_SKIP: {
        mw_time_t ts = res->kind == L_EVENT ? res->ev->ts : res->ts;
        st->lines++;
        if (mw_merge_future(r->merge, ts)) {
            struct mw_buf why = MW_BUF_INIT;
            mw_merge_describe(r->merge, ts, true, &why);
            if (r->pool == NULL) {
                mw_event_unref(res->ev);
                res->ev = NULL;
            } /* threaded: the batch keeps it and its worker frees it */
            reject(r, s, res->lineno, MW_REJECT_FUTURE_TIMESTAMP, why.ptr, line,
                   res->len);
            mw_buf_release(&why);
        } else if (res->kind == L_EVENT) {
            st->parsed++;
            s->head = res->ev;
            s->head_text = line;
            s->head_textlen = res->len;
            res->ev = NULL;
            s->head_off = res->offset;
            s->head_line = res->lineno;
            s->head_fgen = res->fgen;
        } else {
            st->skipped++;
            s->head_off = res->offset;
            s->head_line = res->lineno;
            s->head_fgen = res->fgen;
            s->head_skip = true;
            s->skip_ts = res->ts;
            s->skip_line = res->lineno;
            s->skip_len = res->len;
        }
        break;
    }
    case L_REJECT:
        st->lines++;
        reject(r, s, res->lineno, res->reason, msg, line, res->len);
        break;
    case L_TOO_LONG: {
        char buf[128];
        st->lines++;
        snprintf(buf, sizeof(buf), "line of %zu bytes exceeds the limit of %zu", res->len,
                 r->o->max_line);
        reject(r, s, res->lineno, MW_REJECT_TOO_LONG, buf, NULL, res->len);
        break;
    }
    }
}

bool mw_run_has_head(const struct src *s)
{
    return s->head != NULL || s->head_skip;
}

static mw_time_t head_ts(const struct src *s)
{
    return s->head != NULL ? s->head->ts : s->skip_ts;
}

/* Reads until the source has a head (event or skipped line), has nothing
 * yet (follow mode) or is exhausted. One thread: frame, prefilter and parse
 * here. */
static int refill(struct run *r, struct src *s)
{
    s->waiting = false;
    while (!s->done && !s->waiting && !mw_run_has_head(s)) {
        struct mw_line l;
        struct lres res = {0};
        struct mw_error err;
        enum mw_line_status ls = mw_source_next(s->in, &l, &err);
        const char *line = l.text;
        size_t len = l.len;
        res.lineno = l.lineno;
        res.offset = l.offset;
        res.fgen = l.gen;

        switch (ls) {
        case MW_LINE_EOF:
            s->done = true;
            break;
        case MW_LINE_AGAIN:
            if (r->draining)
                s->done = true;
            else
                s->waiting = true;
            break;
        case MW_LINE_ERROR:
            mw_log_error("%s", err.msg);
            s->done = true;
            return -1;
        case MW_LINE_TOO_LONG:
            res.kind = L_TOO_LONG;
            res.len = len;
            mw_run_take(r, s, &res, NULL, NULL);
            break;
        case MW_LINE_OK: {
            struct pctx c = {r->pf, r->ts_key, r->ts_keylen, r->ts_path};
            res.len = len;
            mw_run_parse_line(&c, mw_source_name(s->in), line, len, &res, &err);
            mw_run_take(r, s, &res, line, err.msg);
            break;
        }
        }
    }
    return 0;
}

/* An event behind now by more than the lateness bound: refused, counted
 * per input (rejected, too_late) and per rule, dead-lettered whole. */
static void too_late(struct run *r, struct mw_engine *e, struct src *s,
                     struct mw_event *ev)
{
    struct mw_buf msg = MW_BUF_INIT;
    char *raw = json_dumps(mw_event_root(ev), JSON_COMPACT);

    mw_merge_describe(r->merge, ev->ts, false, &msg);
    mw_source_stats(s->in)->parsed--;
    mw_engine_count_late(e, ev);
    reject(r, s, ev->line, MW_REJECT_TOO_LATE, msg.ptr, raw, raw ? strlen(raw) : 0);
    mw_json_free(raw);
    mw_buf_release(&msg);
}

/* An event set aside as an unconfirmed jump ahead (mw_merge_hold): its
 * input, for the counters and a dead letter if it is dropped. */
struct held {
    struct mw_event *ev; /* a reference of the hold's own */
    struct src *s;       /* sources never move */
};

/* Refuses a held event dropped past the hold's bounds, or left held when
 * a following run stops with checkpoints (the checkpoint before it stays,
 * so the run that resumes reads it again). */
static void drop_held(struct run *r, struct held *h, const char *why)
{
    if (why != NULL) {
        struct mw_buf msg = MW_BUF_INIT;
        char when[MW_TIME_FORMAT_SIZE];
        char *raw = json_dumps(mw_event_root(h->ev), JSON_COMPACT);
        mw_time_format(h->ev->ts, when, sizeof(when));
        mw_buf_addf(&msg, "event time %s %s", when, why);
        mw_source_stats(h->s->in)->parsed--;
        reject(r, h->s, h->ev->line, MW_REJECT_TIME_OUTLIER, msg.ptr, raw,
               raw ? strlen(raw) : 0);
        mw_json_free(raw);
        mw_buf_release(&msg);
    }
    mw_event_unref(h->ev);
    free(h);
}

static void hold(struct run *r, struct src *s, struct mw_event *ev)
{
    struct held *h = xmalloc(sizeof(*h)), *out;
    h->ev = mw_event_ref(ev);
    h->s = s;
    mw_source_stats(s->in)->outliers++;
    /* a compacted event keeps its line's text; a tree costs a few times it */
    out = mw_merge_hold(r->merge, ev->ts, ev->seq, 4 * (s->head_textlen + 64), h);
    if (out != NULL)
        drop_held(r, out,
                  "was set aside as a jump ahead of event time and dropped: the hold "
                  "of unconfirmed events is full");
}

/* Dispatches the held events that the latest time made admissible (all of
 * them with flush: the end of a finite input), in time order. */
void mw_run_release(struct run *r, bool flush)
{
    struct held *h;
    while ((h = mw_merge_release(r->merge, flush)) != NULL) {
        mw_engine_dispatch(r->e, h->ev);
        drop_held(r, h, NULL);
    }
}

void mw_run_refuse_held(struct run *r)
{
    struct held *h;
    while ((h = mw_merge_release(r->merge, true)) != NULL)
        drop_held(r, h,
                  "was set aside as a jump ahead of event time that nothing confirmed "
                  "for a minute, and is refused so that a checkpoint can be written");
}

void mw_run_drop_held(struct run *r)
{
    struct held *h;
    while ((h = mw_merge_release(r->merge, true)) != NULL)
        drop_held(r, h, NULL);
}

/* Hands the source's head event to the engine in arrival order: in order
 * (at or after now) or late within --max-lateness it is dispatched at once
 * (the windows place a late one in event-time order); further behind it is
 * refused as too late; an unconfirmed jump ahead is held (mw_merge.h). */
void mw_run_dispatch(struct run *r, struct src *s)
{
    struct mw_engine *e = r->e;
    uint64_t seq = ++r->seq;
    if (s->head_skip) {
        /* a line no rule can match: only event time moves, as an event
         * that matches nothing would move it */
        mw_time_t ts = s->skip_ts;
        enum mw_merge_verdict v = mw_merge_admit(r->merge, ts);
        s->head_skip = false;
        if (v == MW_MERGE_TOO_LATE) {
            struct mw_buf msg = MW_BUF_INIT;
            mw_merge_describe(r->merge, ts, false, &msg);
            mw_source_stats(s->in)->skipped--;
            /* the line was not kept: the dead letter has its size */
            reject(r, s, s->skip_line, MW_REJECT_TOO_LATE, msg.ptr, NULL, s->skip_len);
            mw_buf_release(&msg);
            return;
        }
        if (v == MW_MERGE_HOLD) {
            /* matches no rule: only its time is set aside (not timed) */
            mw_source_stats(s->in)->outliers++;
            return;
        }
        if (v == MW_MERGE_REORDERED)
            mw_source_stats(s->in)->reordered++;
        mw_engine_advance(e, ts);
        mw_run_release(r, false);
        return;
    }
    struct mw_event *ev = s->head;
    s->head = NULL;
    ev->seq = seq; /* arrival order: the tie-break on equal times */
    enum mw_merge_verdict v = mw_merge_admit(r->merge, ev->ts);
    if (v == MW_MERGE_TOO_LATE) {
        too_late(r, e, s, ev);
    } else if (v == MW_MERGE_HOLD) {
        hold(r, s, ev);
    } else {
        if (v == MW_MERGE_REORDERED)
            mw_source_stats(s->in)->reordered++;
        mw_engine_dispatch(e, ev);
        mw_run_release(r, false);
    }
    if (r->pool == NULL) {    /* threaded: its batch holds the reference */
        if (ev->refcount > 1) /* retained: keep its text, not its tree */
            mw_event_compact(ev, s->head_text, s->head_textlen);
        mw_event_unref(ev);
    }
}

/* Picks the source whose head event comes first (time, then input order),
 * refilling every source first. Returns -1 when no source has an event. */
static bool src_head(void *ud, int i, mw_time_t *ts)
{
    const struct src *s = (const struct src *)ud + i;
    if (!mw_run_has_head(s))
        return false;
    *ts = head_ts(s);
    return true;
}

int mw_run_next(struct run *r)
{
    for (int i = 0; i < r->n; i++) {
        if (r->pool)
            mw_workers_refill(r, &r->srcs[i]);
        else
            refill(r, &r->srcs[i]);
    }
    return mw_merge_pick(r->n, src_head, r->srcs);
}

/* Takes the engine's current prefilter (again after a reload changed the
 * rules), unless --no-prefilter or the timestamp field rules it out. */
void mw_run_choose_prefilter(struct run *r)
{
    struct mw_prefilter *pf = mw_engine_prefilter(r->e);
    struct mw_prefilter *use = NULL, *old;
    if (pf == r->pf_seen)
        return;
    r->pf_seen = pf;
    if (!r->o->no_prefilter) {
        const char *tsf = mw_path_str(r->ts_path);
        if (!mw_prefilter_active(pf)) {
            if (mw_prefilter_off_reason(pf))
                mw_log_info("prefilter off: %s", mw_prefilter_off_reason(pf));
        } else if (strchr(tsf, '.') != NULL) {
            mw_log_info("prefilter off: the timestamp field '%s' is not a top-level "
                        "key, so skipped lines could not move event time",
                        tsf);
        } else {
            use = mw_prefilter_ref(pf);
        }
    }
    if (r->pool)
        mw_workers_lock(r->pool);
    old = r->pf;
    r->pf = use;
    r->ts_key = mw_path_str(r->ts_path);
    r->ts_keylen = strlen(r->ts_key);
    if (r->pool)
        mw_workers_unlock(r->pool);
    mw_prefilter_unref(old);
}

/* Opens path as one more source in r->srcs (capacity r->cap: the array
 * never moves, parser threads hold pointers into it); follow mode:
 * rotation-aware, resumed from the checkpoint's position for it. Returns 0
 * or -1 with err set. */
int mw_run_add_src(struct run *r, const char *path, struct mw_error *err)
{
    struct mw_source_opts so = {r->o->max_line, r->o->follow, r->o->rotate_wait_ms};
    struct src *s;
    if (r->n >= r->cap)
        return mw_error_set(err, "%s: not followed: already %d inputs", path, r->cap);
    struct mw_source *in = mw_source_open(path, &so, err);
    if (in == NULL)
        return -1;
    s = &r->srcs[r->n++];
    memset(s, 0, sizeof(*s));
    s->in = in;
    if (r->ck) {
        json_t *pos = mw_ckpt_input(r->ck, mw_source_name(in));
        mw_source_resume(in, pos);
        json_decref(pos);
    }
    const char *watch = mw_source_watch_path(in);
    if (r->o->follow && r->in_fd >= 0 && watch)
        inotify_add_watch(r->in_fd, watch, IN_MODIFY);
    return 0;
}

int mw_run(struct mw_engine *e, struct mw_output *out, const struct mw_run_opts *o)
{
    static char dash[] = "-";
    static char *const stdin_only[] = {dash};
    char *const *names = o->ninputs > 0 ? o->inputs : stdin_only;
    int nnames = o->ninputs > 0 ? o->ninputs : 1;
    struct run r = {.o = o, .e = e, .out = out, .in_fd = -1, .dead = -1};
    struct mw_merge_point mp;
    unsigned busy = 0;
    int rc = 0;
    struct mw_run_progress prog = {0};

    r.cap = mw_follow_capacity(o, names, nnames);
    r.srcs = xcalloc((size_t)r.cap, sizeof(*r.srcs));
    struct mw_merge_opts mo;
    mw_merge_opts_default(&mo);
    mo.max_lateness = o->max_lateness;
    mo.max_future = o->max_future;
    mo.idle_advance = o->follow;
    mo.max_skew = o->max_skew;
    mo.max_jump = o->max_jump;
    if (o->time_confirm > 0)
        mo.time_confirm = o->time_confirm;
    r.merge = mw_merge_new(&mo);
    r.ts_path = mw_path_new(o->timestamp_field ? o->timestamp_field : "@timestamp");
    if (r.ts_path == NULL) {
        mw_log_error("invalid --timestamp-field '%s'", o->timestamp_field);
        rc = 2;
        goto out;
    }
    if (o->dead_letter) {
        r.dead_path = o->dead_letter;
        r.dead = open(o->dead_letter, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (r.dead < 0) {
            mw_log_error("--dead-letter %s: %s", o->dead_letter, strerror(errno));
            rc = 2;
            goto out;
        }
        signal(SIGXFSZ, SIG_IGN); /* a size limit fails the write, counted lost */
    }
    if (mw_follow_open(&r, names, nnames) < 0) {
        rc = 2;
        goto out;
    }
    {
        const char **paths = NULL;
        int k = r.fl ? mw_follow_scan(r.fl, mw_mono_ms(), true, &paths) : nnames;
        for (int i = 0; i < k && rc == 0; i++) {
            struct mw_error err;
            if (mw_run_add_src(&r, r.fl ? paths[i] : names[i], &err) < 0) {
                mw_log_error("%s", err.msg);
                rc = 2;
            }
        }
        free(paths);
        if (rc != 0)
            goto out;
    }

    mw_run_choose_prefilter(&r);
    if (o->threads > 1) {
        r.pool = mw_workers_new(&r, o->threads);
        r.depth = o->threads + 1; /* <= MAX_DEPTH: --threads is at most 16 */
    }
    if (o->follow)
        mw_follow_start(&r);
    mw_merge_get(r.merge, &mp);
    if (r.ck && !mp.started && r.seq == 0)
        mw_follow_checkpoint(&r); /* the cut before the first event */

    for (;;) {
        int best = mw_run_next(&r);
        if (best >= 0) {
            mw_run_dispatch(&r, &r.srcs[best]);
            if (o->progress && (r.seq & 4095) == 0) {
                mw_summary_progress(&r, &prog);
                o->progress(o->progress_ud, &prog);
            }
            if (!o->follow || (++busy < FOLLOW_CHECK_EVERY && !mw_follow_signalled()))
                continue;
        } else if (!o->follow) {
            break;
        } else {
            bool all_done = true; /* only followed pipes can end */
            for (int i = 0; i < r.n; i++)
                all_done = all_done && r.srcs[i].done;
            if (all_done)
                break;
        }
        /* follow mode, between two events */
        busy = 0;
        if (!mw_follow_between(&r, best < 0))
            break;
    }

    if (o->follow)
        mw_follow_stop(&r);
    bool keep_last_checkpoint = false;
    if (r.ck && mw_merge_held(r.merge) > 0) {
        /* no checkpoint past held events: the last one stays, and the run
         * that resumes reads them again */
        mw_log_info("%zu event(s) set aside as unconfirmed jumps in event time: "
                    "the last checkpoint is kept",
                    mw_merge_held(r.merge));
        mw_run_drop_held(&r);
        keep_last_checkpoint = true;
    } else {
        mw_run_release(&r, true); /* the end of the input: in time order */
    }
    mw_engine_finish(e);
    if (r.ck && !keep_last_checkpoint)
        mw_follow_checkpoint(&r);
    mw_output_drain(out); /* final delivery counts for the summary */
    if (o->metrics_file)
        mw_summary_metrics(&r);
    if (o->progress) {
        mw_summary_progress(&r, &prog);
        prog.done = true;
        o->progress(o->progress_ud, &prog);
    }
    mw_summary_print(&r);
    if (r.dead_lost > 0) {
        mw_log_error("--dead-letter %s: %llu dead letter(s) lost in this run (%llu "
                     "written)",
                     r.dead_path, (unsigned long long)r.dead_lost,
                     (unsigned long long)r.dead_written);
        if (rc == 0)
            rc = 3; /* as for lost alerts (mw_output_lost): docs/OPTIONS.md */
    }

out:;
    bool threaded = r.pool != NULL;
    mw_workers_free(r.pool); /* first: no worker may touch a batch after this */
    r.pool = NULL;
    for (int i = 0; i < r.n; i++) {
        if (!threaded)
            mw_event_unref(r.srcs[i].head); /* threaded: its batch owns it */
        mw_workers_release(&r.srcs[i]);
        mw_source_close(r.srcs[i].in);
    }
    mw_prefilter_unref(r.pf);
    free(r.srcs);
    mw_follow_close(&r);
    if (r.dead >= 0)
        close(r.dead);
    mw_path_free(r.ts_path);
    mw_merge_free(r.merge);
    return rc;
}
