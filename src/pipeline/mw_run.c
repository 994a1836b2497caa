/* mw_run.c - read, frame, parse, merge by event time, dispatch, summarise
 *
 * Follow mode (tail -f) uses the same loop: an input with no complete line
 * yet reports MW_LINE_AGAIN and does not hold back the others; when no input
 * has an event the loop sleeps in poll() on an inotify watch of the input
 * files, the rule watcher and any followed pipe, with a short timeout as a
 * fallback. Between two events (every few hundred events when busy, and at
 * every wake-up) it acts on signals, runs due rule reloads and rewrites the
 * metrics file. Signal handlers only set sig_atomic_t flags.
 *
 * Prefilter: a line that contains none of the rules' literals is not parsed;
 * its top-level timestamp is read and it takes its place in the merge as a
 * time marker that moves event time (mw_engine_advance) and counts as an
 * arrival (arrival number, now, reordered, too late, future), so windows and
 * counters are as with every line parsed. Threads: framed lines go in
 * batches to parser threads; each input's batches are consumed here in
 * order, so everything downstream is as with one thread.
 *
 * Checkpoints and followed paths (mw_checkpoint, mw_follow, mw_tail) hook in
 * at four places: the checkpoint is opened and each input resumed from its
 * position when opened (add_src); files new under a followed glob are added
 * between two events; a checkpoint is written before the first event, when
 * due between two events, and after the last one. The position of an input
 * is its first line not dispatched (src_pending).
 */
#include "mw_run.h"
#include "mw_checkpoint.h"
#include "mw_follow.h"
#include "mw_health.h"
#include "mw_input.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_metrics.h"
#include "mw_pool.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define FOLLOW_WAIT_MS 250     /* longest sleep when idle (fallback to inotify) */
#define FOLLOW_CHECK_EVERY 256 /* events between two checks when busy */

/* One framed line after prefilter and parse: what the consumer needs. */
enum lkind {
    L_BLANK,
    L_EVENT,    /* ev holds the event */
    L_SKIP,     /* not parsed; ts holds its event time */
    L_REJECT,   /* reason and msg */
    L_TOO_LONG, /* len is the size of the skipped line */
};

struct lres {
    enum lkind kind;
    enum mw_reject reason;
    struct mw_event *ev; /* owned until consumed */
    mw_time_t ts;
    char *msg; /* owned, L_REJECT from a worker */
    uint64_t lineno, offset;
    uint64_t fgen;   /* the input's file generation (mw_input) */
    size_t off, len; /* the line in its batch buffer */
};

enum bstate {
    B_IDLE,   /* being filled, or on a free list */
    B_QUEUED, /* waiting to be parsed */
    B_PARSING,
    B_DONE, /* parsed, being consumed */
};

struct src;

/* A run of framed lines of one input, parsed by a worker or the rule thread. */
struct batch {
    struct batch *next; /* parse queue, cleanup queue or free list link */
    struct src *src;    /* borrowed: the source it belongs to */
    const char *input;  /* borrowed: its name */
    enum bstate state;  /* under the pool mutex */
    int parser;         /* the worker that parsed it, or RULE_THREAD */
    char *buf;          /* owned: the lines' bytes */
    size_t used, cap;
    struct lres *res;       /* owned */
    size_t n, cap_res, pos; /* pos: next result to consume */
};

#define MAX_DEPTH 64

#define BATCH_LINES 8
#define BATCH_BYTES (512 * 1024)

struct src {
    struct mw_input *in;   /* owned */
    struct mw_event *head; /* owned (threaded: borrowed from its batch), or NULL */
    bool head_skip;        /* the head is a skipped line at skip_ts */
    mw_time_t skip_ts;
    uint64_t skip_line; /* its line number and length */
    size_t skip_len;
    uint64_t head_off, head_line, head_fgen; /* where the head came from */
    const char *head_text; /* one thread: the head's line, in the input's
                              buffer until the next read (mw_event_compact) */
    size_t head_textlen;
    bool done;
    bool waiting; /* follow mode: no complete line yet */
    bool eof;     /* threaded: framing reached the end */
    int reported;
    struct batch *q[MAX_DEPTH]; /* threaded: batches in input order (ring) */
    int qhead, qlen;
    struct batch *free_list; /* owned, under the pool mutex */
    int nbatches;            /* allocated for this source */
};

struct pool;

struct run {
    const struct mw_run_opts *o;
    struct mw_path *ts_path; /* owned */
    FILE *dead;              /* owned, may be NULL */
    uint64_t dead_written;
    bool draining;                      /* shutdown: "nothing yet" means done */
    mw_time_t now;                      /* newest event time dispatched */
    bool started;                       /* now is set */
    int64_t now_mono;                   /* monotonic ms when `now` last moved */
    mw_time_t advanced;                 /* event time the windows were last advanced to */
    struct mw_prefilter *pf;            /* a reference, or NULL: parse every line;
                                         * swapped under the pool mutex on reload */
    const struct mw_prefilter *pf_seen; /* the engine's, when pf was chosen */
    const char *ts_key;                 /* top-level timestamp key for skipped lines */
    size_t ts_keylen;
    struct pool *pool;  /* owned, NULL with one thread */
    int depth;          /* batches in flight per input */
    mw_time_t wall;     /* the wall clock at the last future check */
    unsigned wall_uses; /* checks answered from it since */
};

static mw_time_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (mw_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Is ts more than --max-future ahead of the wall clock? The clock is read
 * again only when the answer from the last reading would be yes, and every
 * 1024 lines (so a clock stepped back is noticed): a clock_gettime per line
 * was a visible share of a prefiltered run. */
static bool is_future(struct run *r, mw_time_t ts)
{
    if (r->o->max_future < 0)
        return false;
    if (ts <= r->wall + r->o->max_future && ++r->wall_uses < 1024)
        return false;
    r->wall = wall_now();
    r->wall_uses = 0;
    return ts > r->wall + r->o->max_future;
}

static volatile sig_atomic_t stop_signal; /* SIGINT or SIGTERM received */
static volatile sig_atomic_t hup_signal;  /* SIGHUP received */

static void on_stop(int sig)
{
    stop_signal = sig;
}

static void on_hup(int sig)
{
    (void)sig;
    hup_signal = 1;
    mw_output_request_reopen(); /* what SIGHUP does outside follow mode */
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void dead_letter(struct run *r, const char *input, uint64_t lineno,
                        enum mw_reject reason, const char *msg, const char *line,
                        size_t len)
{
    json_t *o;
    char *s;
    if (r->dead == NULL)
        return;
    o = json_pack("{s:s, s:I, s:s, s:s}", "input", input, "line", (json_int_t)lineno,
                  "reason", mw_reject_name(reason), "error", msg);
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
    if (s) {
        fprintf(r->dead, "%s\n", s);
        r->dead_written++;
        mw_json_free(s);
    }
    json_decref(o);
}

static void reject(struct run *r, struct src *s, uint64_t lineno, enum mw_reject reason,
                   const char *msg, const char *line, size_t len)
{
    struct mw_input_stats *st = mw_input_stats(s->in);
    st->rejected++;
    st->by_reason[reason]++;
    if (s->reported < r->o->max_reports_per_input) {
        mw_log_warn("%s:%llu: rejected (%s): %s", mw_input_name(s->in),
                    (unsigned long long)lineno, mw_reject_name(reason), msg);
        if (++s->reported == r->o->max_reports_per_input)
            mw_log_warn("%s: further rejected lines are counted, not reported",
                        mw_input_name(s->in));
    }
    dead_letter(r, mw_input_name(s->in), lineno, reason, msg, line, len);
}

/* ---------------------------------------------------------------------- */
/* per line: prefilter, then parse (thread-safe: touches only its line)    */

/* What parsing a line needs: immutable for the duration of a batch. */
struct pctx {
    const struct mw_prefilter *pf; /* NULL: parse every line */
    const char *ts_key;
    size_t ts_keylen;
    const struct mw_path *ts_path;
};

static void process_line(const struct pctx *c, const char *input, const char *line,
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
static void take(struct run *r, struct src *s, struct lres *res, const char *line,
                 const char *msg)
{
    struct mw_input_stats *st = mw_input_stats(s->in);

    switch (res->kind) {
    case L_BLANK:
        st->blank++;
        break;
    case L_EVENT:
    case L_SKIP: {
        mw_time_t ts = res->kind == L_EVENT ? res->ev->ts : res->ts;
        st->lines++;
        if (is_future(r, ts)) {
            char buf[160], when[MW_TIME_FORMAT_SIZE];
            mw_time_format(ts, when, sizeof(when));
            snprintf(buf, sizeof(buf),
                     "event time %s is more than "
                     "--max-future ahead of the wall clock",
                     when);
            if (r->pool == NULL) {
                mw_event_unref(res->ev);
                res->ev = NULL;
            } /* threaded: the batch keeps it and its worker frees it */
            reject(r, s, res->lineno, MW_REJECT_FUTURE_TIMESTAMP, buf, line, res->len);
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

static bool has_head(const struct src *s)
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
    while (!s->done && !s->waiting && !has_head(s)) {
        const char *line;
        size_t len;
        struct lres res = {0};
        struct mw_error err;
        enum mw_line_status ls =
            mw_input_next_line(s->in, &line, &len, &res.lineno, &res.offset, &err);
        res.fgen = mw_input_file_gen(s->in);

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
            take(r, s, &res, NULL, NULL);
            break;
        case MW_LINE_OK: {
            struct pctx c = {r->pf, r->ts_key, r->ts_keylen, r->ts_path};
            res.len = len;
            process_line(&c, mw_input_name(s->in), line, len, &res, &err);
            take(r, s, &res, line, err.msg);
            break;
        }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* parser threads                                                          */

/* --threads N: N threads parse, the rule thread and N-1 workers. Batches to
 * parse wait in one queue that every worker serves; the rule thread takes
 * the batch it needs next itself when no worker has started it, and parses
 * queued batches of any input while it waits for one a worker is parsing.
 * So on N cores there are N busy threads, not N+1 (a sleeping rule thread
 * woken for every batch, and threads pushed off their cores, cost more than
 * the work they shared).
 *
 * A batch parsed by a worker is handed back to that worker to free its
 * events, so the blocks return to that thread's allocator cache (mw_pool)
 * while still in its CPU cache; one the rule thread parsed it frees itself.
 * Events that windows still hold after dispatch are released by the rule
 * thread as usual. */
#define RULE_THREAD (-1)

struct worker {
    pthread_t th;
    struct batch *head, *tail; /* its batches to free */
    struct pool *p;
    int id;
};

struct pool {
    pthread_mutex_t mu;          /* guards the queues, states, free lists */
    pthread_cond_t work;         /* a job was queued, or stop */
    pthread_cond_t done;         /* a batch was parsed or freed */
    struct batch *phead, *ptail; /* batches to parse, oldest first */
    struct worker *w;            /* owned */
    int nthreads;
    bool stop;
    const struct run *r;
};

/* Parses a batch's lines (any thread, without the mutex). */
static void parse_batch(struct pool *p, struct batch *b)
{
    /* this job's prefilter: the current one, kept alive by our reference if
     * a reload swaps it meanwhile */
    pthread_mutex_lock(&p->mu);
    struct mw_prefilter *pf = mw_prefilter_ref(p->r->pf);
    struct pctx c = {pf, p->r->ts_key, p->r->ts_keylen, p->r->ts_path};
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < b->n; i++) {
        struct lres *res = &b->res[i];
        struct mw_error err;
        if (res->kind == L_TOO_LONG)
            continue;
        process_line(&c, b->input, b->buf + res->off, res->len, res, &err);
        if (res->kind == L_REJECT)
            res->msg = xstrdup(err.msg);
    }
    mw_prefilter_unref(pf);
}

/* Unlinks and returns the oldest batch waiting to be parsed, or NULL.
 * With the mutex held. */
static struct batch *take_job(struct pool *p)
{
    struct batch *b = p->phead;
    if (b != NULL) {
        p->phead = b->next;
        if (p->phead == NULL)
            p->ptail = NULL;
        b->next = NULL;
        b->state = B_PARSING;
    }
    return b;
}

/* Unlinks a given waiting batch (the rule thread needs it now). With the
 * mutex held. */
static void unlink_job(struct pool *p, struct batch *want)
{
    struct batch **pp = &p->phead, *prev = NULL;
    while (*pp != want) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    *pp = want->next;
    if (p->ptail == want)
        p->ptail = prev;
    want->next = NULL;
    want->state = B_PARSING;
}

static void free_events(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        mw_event_unref(b->res[i].ev);
        b->res[i].ev = NULL;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        struct batch *b;
        if (w->head != NULL) {
            /* first free: it returns memory this thread will parse into */
            b = w->head;
            w->head = b->next;
            if (w->head == NULL)
                w->tail = NULL;
            pthread_mutex_unlock(&p->mu);
            free_events(b); /* only events nothing else holds */
            pthread_mutex_lock(&p->mu);
            b->next = b->src->free_list;
            b->src->free_list = b;
            pthread_cond_broadcast(&p->done);
        } else if ((b = take_job(p)) != NULL) {
            b->parser = w->id;
            pthread_mutex_unlock(&p->mu);
            parse_batch(p, b);
            pthread_mutex_lock(&p->mu);
            b->state = B_DONE;
            pthread_cond_broadcast(&p->done);
        } else if (p->stop) {
            break;
        } else {
            pthread_cond_wait(&p->work, &p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    mw_pool_thread_flush(); /* this thread's cached jansson blocks, for reuse */
    mw_event_cache_flush();
    return NULL;
}

/* n: the number of parsing threads, the rule thread included. */
static struct pool *pool_new(const struct run *r, int n)
{
    struct pool *p = xcalloc(1, sizeof(*p));
    p->r = r;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    p->w = xcalloc((size_t)n, sizeof(*p->w));
    for (int i = 0; i < n - 1; i++) {
        p->w[i].p = p;
        p->w[i].id = i;
        if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i]) != 0) {
            mw_log_warn("cannot start parser thread %d; going on with %d", i + 1, i);
            break;
        }
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        free(p->w);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->done);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

/* Stops the workers after they have drained the queues. */
static void pool_free(struct pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->w[i].th, NULL);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
}

static void submit_parse(struct pool *p, struct batch *b)
{
    pthread_mutex_lock(&p->mu);
    b->state = B_QUEUED;
    b->parser = RULE_THREAD;
    b->next = NULL;
    if (p->ptail)
        p->ptail->next = b;
    else
        p->phead = b;
    p->ptail = b;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
}

/* The rule thread needs batch b parsed: parse it here if no worker has
 * started it; while a worker has, parse other waiting batches, then wait. */
static void await_batch(struct pool *p, struct batch *b)
{
    pthread_mutex_lock(&p->mu);
    while (b->state != B_DONE) {
        struct batch *j;
        if (b->state == B_QUEUED) {
            unlink_job(p, b);
            j = b;
        } else if ((j = take_job(p)) == NULL) {
            pthread_cond_wait(&p->done, &p->mu);
            continue;
        }
        j->parser = RULE_THREAD;
        pthread_mutex_unlock(&p->mu);
        parse_batch(p, j);
        pthread_mutex_lock(&p->mu);
        j->state = B_DONE;
    }
    pthread_mutex_unlock(&p->mu);
}

/* Only with no worker running (or never handed to one). */
static void batch_free(struct batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++) {
        mw_event_unref(b->res[i].ev);
        free(b->res[i].msg);
    }
    free(b->buf);
    free(b->res);
    free(b);
}

static struct lres *batch_push(struct batch *b)
{
    if (b->n == b->cap_res) {
        b->cap_res = b->cap_res ? b->cap_res * 2 : BATCH_LINES;
        b->res = xrealloc(b->res, b->cap_res * sizeof(*b->res));
    }
    struct lres *res = &b->res[b->n++];
    memset(res, 0, sizeof(*res));
    return res;
}

/* Frames lines into a batch until it is full or the input ends. The
 * batch's buffers are reused: no allocation once warm. */
static void fill_batch(struct run *r, struct src *s, struct batch *b)
{
    b->used = b->n = b->pos = 0;
    while (b->n < BATCH_LINES && b->used < BATCH_BYTES) {
        const char *line;
        size_t len;
        uint64_t lineno, offset;
        struct mw_error err;
        enum mw_line_status ls =
            mw_input_next_line(s->in, &line, &len, &lineno, &offset, &err);
        if (ls == MW_LINE_AGAIN && !r->draining) {
            s->waiting = true; /* follow mode: submit what we have */
            return;
        }
        if (ls == MW_LINE_EOF || ls == MW_LINE_ERROR || ls == MW_LINE_AGAIN) {
            if (ls == MW_LINE_ERROR)
                mw_log_error("%s", err.msg);
            s->eof = true;
            return;
        }
        struct lres *res = batch_push(b);
        res->lineno = lineno;
        res->offset = offset;
        res->fgen = mw_input_file_gen(s->in);
        res->len = len;
        if (ls == MW_LINE_TOO_LONG) {
            res->kind = L_TOO_LONG;
            continue;
        }
        if (b->used + len > b->cap) {
            b->cap = (b->used + len) * 2;
            b->buf = xrealloc(b->buf, b->cap);
        }
        memcpy(b->buf + b->used, line, len);
        res->off = b->used;
        b->used += len;
    }
}

/* A batch to fill: a freed one, a new one while under the cap, or wait
 * for a worker to free one. */
static struct batch *get_batch(struct run *r, struct src *s)
{
    struct batch *b = NULL;
    pthread_mutex_lock(&r->pool->mu);
    for (;;) {
        if (s->free_list) {
            b = s->free_list;
            s->free_list = b->next;
            break;
        }
        if (s->nbatches < r->depth + 2) {
            s->nbatches++;
            break;
        }
        pthread_cond_wait(&r->pool->done, &r->pool->mu);
    }
    pthread_mutex_unlock(&r->pool->mu);
    if (b == NULL) {
        b = xcalloc(1, sizeof(*b));
        b->cap = BATCH_BYTES;
        b->buf = xmalloc(b->cap);
        b->src = s;
        b->input = mw_input_name(s->in);
    }
    return b;
}

/* Keeps `depth` batches of the source in flight. */
static void pump(struct run *r, struct src *s)
{
    while (!s->eof && !s->waiting && s->qlen < r->depth) {
        struct batch *b = get_batch(r, s);
        fill_batch(r, s, b);
        if (b->n == 0) {
            pthread_mutex_lock(&r->pool->mu);
            b->next = s->free_list;
            s->free_list = b;
            pthread_mutex_unlock(&r->pool->mu);
            break;
        }
        s->q[(s->qhead + s->qlen) % MAX_DEPTH] = b;
        s->qlen++;
        submit_parse(r->pool, b);
    }
}

/* The front batch is consumed and its last head dispatched: release what
 * windows hold, free the rest here (the rule thread parsed it) or hand it
 * back to the worker that did. */
static void retire(struct run *r, struct src *s)
{
    struct batch *b = s->q[s->qhead];
    for (size_t i = 0; i < b->n; i++) {
        struct mw_event *ev = b->res[i].ev;
        if (ev != NULL && ev->refcount > 1) {
            /* retained: keep its text, not its tree (mw_event_compact) */
            mw_event_compact(ev, b->buf + b->res[i].off, b->res[i].len);
            mw_event_unref(ev);
            b->res[i].ev = NULL;
        }
    }
    s->qhead = (s->qhead + 1) % MAX_DEPTH;
    s->qlen--;
    if (b->parser == RULE_THREAD)
        free_events(b);
    pthread_mutex_lock(&r->pool->mu);
    b->state = B_IDLE;
    b->next = NULL;
    if (b->parser == RULE_THREAD) {
        b->next = s->free_list;
        s->free_list = b;
    } else {
        struct worker *w = &r->pool->w[b->parser];
        if (w->tail)
            w->tail->next = b;
        else
            w->head = b;
        w->tail = b;
        pthread_cond_broadcast(&r->pool->work);
    }
    pthread_mutex_unlock(&r->pool->mu);
}

/* Threaded refill: consume the source's batches in order. Called when the
 * previous head has been dispatched. Events stay owned by their batch. */
static int refill_threaded(struct run *r, struct src *s)
{
    s->waiting = false;
    while (!s->done && !has_head(s)) {
        if (s->qlen > 0 && s->q[s->qhead]->pos == s->q[s->qhead]->n)
            retire(r, s);
        pump(r, s);
        if (s->qlen == 0) {
            if (s->eof)
                s->done = true;
            break; /* else follow mode: nothing yet (s->waiting) */
        }
        struct batch *b = s->q[s->qhead];
        await_batch(r->pool, b);
        while (b->pos < b->n && !has_head(s)) {
            struct lres *res = &b->res[b->pos++];
            struct mw_event *ev = res->ev;
            take(r, s, res, res->kind == L_TOO_LONG ? NULL : b->buf + res->off, res->msg);
            res->ev = ev; /* the batch keeps its reference; the head borrows */
            free(res->msg);
            res->msg = NULL;
        }
    }
    return 0;
}

/* An event behind now by more than the lateness bound: refused, counted
 * per input (rejected, too_late) and per rule, dead-lettered whole. */
static void too_late(struct run *r, struct mw_engine *e, struct src *s,
                     struct mw_event *ev)
{
    char msg[200], when[MW_TIME_FORMAT_SIZE], lag[64];
    char *raw = json_dumps(mw_event_root(ev), JSON_COMPACT);

    mw_time_format(ev->ts, when, sizeof(when));
    mw_duration_format(r->now - ev->ts, lag, sizeof(lag));
    snprintf(msg, sizeof(msg),
             "event time %s is %s behind the newest event "
             "time, more than --max-lateness",
             when, lag);
    mw_input_stats(s->in)->parsed--;
    mw_engine_count_late(e, ev);
    reject(r, s, ev->line, MW_REJECT_TOO_LATE, msg, raw, raw ? strlen(raw) : 0);
    mw_json_free(raw);
}

/* Hands the source's head event to the engine in arrival order: in order
 * (at or after now) or late within --max-lateness it is dispatched at once
 * (the windows place a late one in event-time order); further behind it is
 * refused as too late. */
static void dispatch_head(struct run *r, struct mw_engine *e, struct src *s, uint64_t seq)
{
    if (s->head_skip) {
        /* a line no rule can match: only event time moves, as an event
         * that matches nothing would move it */
        mw_time_t ts = s->skip_ts;
        s->head_skip = false;
        if (r->started && ts < r->now - r->o->max_lateness) {
            char msg[200], when[MW_TIME_FORMAT_SIZE], lag[64];
            mw_time_format(ts, when, sizeof(when));
            mw_duration_format(r->now - ts, lag, sizeof(lag));
            snprintf(msg, sizeof(msg),
                     "event time %s is %s behind the newest event "
                     "time, more than --max-lateness",
                     when, lag);
            mw_input_stats(s->in)->skipped--;
            /* the line was not kept: the dead letter has its size */
            reject(r, s, s->skip_line, MW_REJECT_TOO_LATE, msg, NULL, s->skip_len);
            return;
        }
        if (r->started && ts < r->now)
            mw_input_stats(s->in)->reordered++;
        if (!r->started || ts > r->now) {
            r->now = ts;
            if (r->o->follow)
                r->now_mono = mono_ms(); /* only follow mode reads it */
        }
        r->started = true;
        mw_engine_advance(e, ts);
        return;
    }
    struct mw_event *ev = s->head;
    s->head = NULL;
    ev->seq = seq; /* arrival order: the tie-break on equal times */
    if (r->started && ev->ts < r->now - r->o->max_lateness) {
        too_late(r, e, s, ev);
    } else {
        if (r->started && ev->ts < r->now)
            mw_input_stats(s->in)->reordered++;
        if (!r->started || ev->ts > r->now) {
            r->now = ev->ts;
            if (r->o->follow)
                r->now_mono = mono_ms(); /* only follow mode reads it */
        }
        r->started = true;
        mw_engine_dispatch(e, ev);
    }
    if (r->pool == NULL) {    /* threaded: its batch holds the reference */
        if (ev->refcount > 1) /* retained: keep its text, not its tree */
            mw_event_compact(ev, s->head_text, s->head_textlen);
        mw_event_unref(ev);
    }
}

/* Follow mode, inputs quiet: event time keeps running with the wall clock
 * from the newest event seen, held back by --max-lateness (an event that
 * could still arrive in time must still find its windows open). Windows that
 * complete by the passage of time (absence, the end of a threshold or cap
 * interval) fire without waiting for the next event. */
static void advance_idle(struct run *r, struct mw_engine *e)
{
    mw_time_t t;
    if (!r->started)
        return;
    t = r->now + (mw_time_t)(mono_ms() - r->now_mono) * 1000 - r->o->max_lateness;
    if (t > r->now && t > r->advanced) {
        r->advanced = t;
        mw_engine_advance(e, t);
    }
}

/* Resident set size now and at its peak, in bytes (0 when unknown). */
static void memory_usage(uint64_t *rss, uint64_t *peak)
{
    struct rusage ru;
    unsigned long pages = 0, resident = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    *rss = *peak = 0;
    if (fp) {
        if (fscanf(fp, "%lu %lu", &pages, &resident) == 2)
            *rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
        fclose(fp);
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        *peak = (uint64_t)ru.ru_maxrss * 1024;
}

/* The statistics document: the JSON summary, and the source of the metrics. */
static json_t *stats_doc(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                         int n, struct run *r)
{
    json_t *inputs = json_array(), *outs = json_array();
    uint64_t lines = 0, parsed = 0, rejected = 0, blank = 0, skipped = 0;
    uint64_t reasons[MW_REJECT__COUNT] = {0};

    for (int i = 0; i < n; i++) {
        struct mw_input_stats *st = mw_input_stats(srcs[i].in);
        json_t *rs = json_object();
        for (int k = 1; k < MW_REJECT__COUNT; k++) {
            reasons[k] += st->by_reason[k];
            if (st->by_reason[k])
                json_object_set_new(rs, mw_reject_name(k),
                                    json_integer((json_int_t)st->by_reason[k]));
        }
        lines += st->lines;
        parsed += st->parsed;
        rejected += st->rejected;
        blank += st->blank;
        skipped += st->skipped;
        json_array_append_new(
            inputs,
            json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "name",
                      mw_input_name(srcs[i].in), "lines", (json_int_t)st->lines, "parsed",
                      (json_int_t)st->parsed, "skipped", (json_int_t)st->skipped,
                      "rejected", (json_int_t)st->rejected, "blank",
                      (json_int_t)st->blank, "reordered", (json_int_t)st->reordered,
                      "late", (json_int_t)st->by_reason[MW_REJECT_TOO_LATE],
                      "rejected_by_reason", rs));
    }
    json_t *rs = json_object();
    for (int k = 1; k < MW_REJECT__COUNT; k++)
        if (reasons[k])
            json_object_set_new(rs, mw_reject_name(k),
                                json_integer((json_int_t)reasons[k]));
    if (out)
        mw_output_stats(out, outs);
    json_t *doc = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o}", "events_read",
        (json_int_t)lines, "events_parsed", (json_int_t)parsed, "events_skipped",
        (json_int_t)skipped, "events_rejected", (json_int_t)rejected, "blank_lines",
        (json_int_t)blank, "rejected_by_reason", rs, "alerts",
        (json_int_t)mw_engine_alerts(e), "dead_letters", (json_int_t)r->dead_written,
        "inputs", inputs, "rules", mw_engine_stats(e), "outputs", outs);
    uint64_t ok, failed;
    mw_engine_reload_counts(e, &ok, &failed);
    json_object_set_new(doc, "reloads_ok", json_integer((json_int_t)ok));
    json_object_set_new(doc, "reloads_failed", json_integer((json_int_t)failed));
    return doc;
}

static void summary_json(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                         int n, struct run *r)
{
    json_t *doc = stats_doc(e, out, srcs, n, r);
    uint64_t rss, peak;
    memory_usage(&rss, &peak);
    json_object_set_new(doc, "memory",
                        json_pack("{s:I, s:I}", "rss_bytes", (json_int_t)rss,
                                  "peak_rss_bytes", (json_int_t)peak));
    char *s = json_dumps(doc, JSON_COMPACT);
    fprintf(stderr, "%s\n", s);
    mw_json_free(s);
    json_decref(doc);
}

static void summary_text(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                         int n)
{
    fprintf(stderr, "moonwatch: summary\n");
    for (int i = 0; i < n; i++) {
        struct mw_input_stats *st = mw_input_stats(srcs[i].in);
        fprintf(stderr, "  input %s: %llu lines read, %llu parsed, %llu rejected",
                mw_input_name(srcs[i].in), (unsigned long long)st->lines,
                (unsigned long long)st->parsed, (unsigned long long)st->rejected);
        const char *sep = " (";
        for (int k = 1; k < MW_REJECT__COUNT; k++) {
            if (st->by_reason[k]) {
                fprintf(stderr, "%s%s %llu", sep, mw_reject_name(k),
                        (unsigned long long)st->by_reason[k]);
                sep = ", ";
            }
        }
        fprintf(stderr, "%s", sep[0] == ',' ? ")" : "");
        if (st->skipped)
            fprintf(stderr, ", %llu not parsed (prefilter)",
                    (unsigned long long)st->skipped);
        if (st->blank)
            fprintf(stderr, ", %llu blank skipped", (unsigned long long)st->blank);
        if (st->reordered)
            fprintf(stderr, ", %llu out of order placed in time order",
                    (unsigned long long)st->reordered);
        fputc('\n', stderr);
    }
    json_t *rules = mw_engine_stats(e);
    size_t i;
    json_t *rs;
    json_array_foreach(rules, i, rs)
    {
        fprintf(stderr,
                "  rule %s \"%s\": ", json_string_value(json_object_get(rs, "id")),
                json_string_value(json_object_get(rs, "name")));
        json_t *steps = json_object_get(rs, "matched_per_step");
        if (steps) {
            size_t k;
            json_t *v;
            fprintf(stderr, "matched per step [");
            json_array_foreach(steps, k, v) fprintf(stderr, "%s%lld", k ? ", " : "",
                                                    (long long)json_integer_value(v));
            json_t *sq = json_object_get(rs, "sequences");
            fprintf(stderr, "], open %lld, expired %lld, ",
                    (long long)json_integer_value(json_object_get(sq, "open")),
                    (long long)json_integer_value(json_object_get(sq, "expired")));
        } else {
            fprintf(stderr, "matched %lld, ",
                    (long long)json_integer_value(json_object_get(rs, "matched")));
        }
        fprintf(stderr, "alerts %lld",
                (long long)json_integer_value(json_object_get(rs, "alerts")));
        static const char *const shaping[] = {"deduplicated",       "suppressed",
                                              "suppressed_pending", "capped",
                                              "hook_dropped",       "hook_errors"};
        for (size_t k = 0; k < sizeof(shaping) / sizeof(shaping[0]); k++) {
            json_int_t v = json_integer_value(json_object_get(rs, shaping[k]));
            if (v)
                fprintf(stderr, ", %s %lld", shaping[k], (long long)v);
        }
        json_t *errs = json_object_get(rs, "errors");
        const char *k;
        json_t *v;
        json_object_foreach(errs, k, v) if (json_integer_value(v))
            fprintf(stderr, ", %s errors %lld", k, (long long)json_integer_value(v));
        fputc('\n', stderr);
    }
    json_decref(rules);
    if (out) {
        json_t *outs = json_array();
        json_t *os;
        mw_output_stats(out, outs);
        json_array_foreach(outs, i, os)
        {
            if (json_array_size(outs) == 1 &&
                strcmp(json_string_value(json_object_get(os, "type")), "stdout") == 0)
                break; /* the default: nothing to say */
            json_int_t lost = json_integer_value(json_object_get(os, "lost"));
            if (lost > 0)
                fprintf(stderr, "  output %s: LOST %lld alert(s)\n",
                        json_string_value(json_object_get(os, "spec")), (long long)lost);
            fprintf(stderr,
                    "  output %s: delivered %lld, retried %lld, spooled %lld, "
                    "failed %lld, waiting in spool %lld\n",
                    json_string_value(json_object_get(os, "spec")),
                    (long long)json_integer_value(json_object_get(os, "delivered")),
                    (long long)json_integer_value(json_object_get(os, "retried")),
                    (long long)json_integer_value(json_object_get(os, "spooled")),
                    (long long)json_integer_value(json_object_get(os, "failed")),
                    (long long)json_integer_value(json_object_get(os, "spool_pending")));
        }
        json_decref(outs);
    }
    fprintf(stderr, "  total: %llu alerts\n", (unsigned long long)mw_engine_alerts(e));
}

static void progress_fill(struct mw_run_progress *p, struct src *srcs, int n,
                          uint64_t events)
{
    p->events = events;
    p->bytes = p->lines = p->rejected = p->reordered = p->too_late = 0;
    for (int i = 0; i < n; i++) {
        struct mw_input_stats *st = mw_input_stats(srcs[i].in);
        p->bytes += mw_input_bytes_read(srcs[i].in);
        p->lines += st->lines;
        p->rejected += st->rejected;
        p->reordered += st->reordered;
        p->too_late += st->by_reason[MW_REJECT_TOO_LATE];
    }
}

static void write_metrics(struct mw_engine *e, struct mw_output *out, struct src *srcs,
                          int n, struct run *r)
{
    struct mw_error err;
    json_t *doc = stats_doc(e, out, srcs, n, r);
    static bool reported;
    if (mw_metrics_write(r->o->metrics_file, doc, &err) < 0) {
        if (!reported)
            mw_log_error("%s (further failures are not reported)", err.msg);
        reported = true;
    }
    json_decref(doc);
}

/* Picks the source whose head event comes first (time, then input order),
 * refilling every source first. Returns -1 when no source has an event. */
static int next_source(struct run *r, struct src *srcs, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (r->pool)
            refill_threaded(r, &srcs[i]);
        else
            refill(r, &srcs[i]);
        if (has_head(&srcs[i]) && (best < 0 || head_ts(&srcs[i]) < head_ts(&srcs[best])))
            best = i;
    }
    return best;
}

/* Takes the engine's current prefilter (again after a reload changed the
 * rules), unless --no-prefilter or the timestamp field rules it out. */
static void choose_prefilter(struct run *r, struct mw_engine *e)
{
    const struct mw_prefilter *pf = mw_engine_prefilter(e);
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
            use = mw_prefilter_ref((struct mw_prefilter *)pf);
        }
    }
    if (r->pool)
        pthread_mutex_lock(&r->pool->mu);
    old = r->pf;
    r->pf = use;
    r->ts_key = mw_path_str(r->ts_path);
    r->ts_keylen = strlen(r->ts_key);
    if (r->pool)
        pthread_mutex_unlock(&r->pool->mu);
    mw_prefilter_unref(old);
}

/* ---------------------------------------------------------------------- */
/* checkpoints and followed paths (mw_checkpoint, mw_follow, mw_tail)      */

#define MAX_NEW_SRCS 1024 /* files a followed pattern may add */

/* Opens path as one more source in srcs (capacity cap: the array never
 * moves, parser threads hold pointers into it); follow mode: rotation-aware,
 * resumed from the checkpoint's position for it. Returns 0 or -1 with err
 * set. */
static int add_src(struct run *r, struct mw_ckpt *ck, struct src *srcs, int *n, int cap,
                   const char *path, int in_fd, struct mw_error *err)
{
    struct mw_tail_pos pos;
    if (*n >= cap)
        return mw_error_set(err, "%s: not followed: already %d inputs", path, cap);
    struct mw_input *in = mw_input_open(path, r->o->max_line, err);
    if (in == NULL)
        return -1;
    memset(&srcs[*n], 0, sizeof(*srcs));
    srcs[(*n)++].in = in;
    if (ck && mw_ckpt_input(ck, mw_input_name(in), &pos))
        mw_input_resume(in, &pos);
    if (r->o->follow) {
        mw_input_set_rotate_wait(in, r->o->rotate_wait_ms);
        mw_input_set_follow(in, true);
        if (in_fd >= 0 && mw_input_is_regular(in))
            inotify_add_watch(in_fd, path, IN_MODIFY);
    }
    return 0;
}

/* Follow mode: files that appeared under a followed pattern. */
static void add_new_srcs(struct run *r, struct mw_ckpt *ck, struct mw_follow *fl,
                         struct src *srcs, int *n, int cap, int in_fd, int64_t now)
{
    const char **paths;
    int k = mw_follow_scan(fl, now, false, &paths);
    for (int i = 0; i < k; i++) {
        struct mw_error err;
        if (add_src(r, ck, srcs, n, cap, paths[i], in_fd, &err) < 0)
            mw_log_error("%s", err.msg);
        else
            mw_log_info("following %s (new file under a followed pattern)", paths[i]);
    }
    free(paths);
}

/* The first line of s not dispatched yet: its head, else the first result
 * not consumed in its batches (threads). False: the input's own position. */
static bool src_pending(const struct src *s, uint64_t *off, uint64_t *line,
                        uint64_t *fgen)
{
    if (has_head(s)) {
        *off = s->head_off;
        *line = s->head_line - 1;
        *fgen = s->head_fgen;
        return true;
    }
    for (int k = 0; k < s->qlen; k++) {
        const struct batch *b = s->q[(s->qhead + k) % MAX_DEPTH];
        if (b->pos < b->n) {
            *off = b->res[b->pos].offset;
            *line = b->res[b->pos].lineno - 1;
            *fgen = b->res[b->pos].fgen;
            return true;
        }
    }
    return false;
}

/* A checkpoint of the current cut; postponed (to the next call) while a
 * line not dispatched yet belongs to a file its input has left (parser
 * threads read ahead across a rotation). */
static void checkpoint(struct run *r, struct mw_ckpt *ck, struct mw_engine *e,
                       struct src *srcs, int n, uint64_t seq)
{
    struct mw_ckpt_src *cs = xcalloc((size_t)n + 1, sizeof(*cs));
    struct mw_ckpt_run run = {seq, r->now, r->started, r->advanced};
    for (int i = 0; i < n; i++) {
        uint64_t fgen;
        cs[i].in = srcs[i].in;
        cs[i].pending = src_pending(&srcs[i], &cs[i].offset, &cs[i].line, &fgen);
        if (cs[i].pending && fgen != mw_input_file_gen(srcs[i].in))
            goto out;
    }
    mw_ckpt_write(ck, e, r->o->shape, &run, cs, n, mono_ms());
out:
    free(cs);
}

/* Sleeps until an input or a rule file changes, a pipe has data, a signal
 * arrives, or timeout_ms passes. */
static void follow_wait(int in_fd, struct mw_reload *rl, struct src *srcs, int n,
                        int timeout_ms)
{
    struct pollfd *p = xcalloc((size_t)n + 2, sizeof(*p));
    nfds_t k = 0;
    if (in_fd >= 0)
        p[k++] = (struct pollfd){in_fd, POLLIN, 0};
    if (rl && mw_reload_fd(rl) >= 0)
        p[k++] = (struct pollfd){mw_reload_fd(rl), POLLIN, 0};
    for (int i = 0; i < n; i++)
        if (!srcs[i].done && !mw_input_is_regular(srcs[i].in))
            p[k++] = (struct pollfd){mw_input_fd(srcs[i].in), POLLIN, 0};
    if (poll(p, k, timeout_ms) > 0 && in_fd >= 0 && (p[0].revents & POLLIN)) {
        char buf[4096];
        while (read(in_fd, buf, sizeof(buf)) > 0)
            ; /* which file grew does not matter: every input is read */
    }
    free(p);
}

int mw_run(struct mw_engine *e, struct mw_output *out, const struct mw_run_opts *o)
{
    static char dash[] = "-";
    static char *const stdin_only[] = {dash};
    char *const *names = o->ninputs > 0 ? o->inputs : stdin_only;
    int nnames = o->ninputs > 0 ? o->ninputs : 1;
    int n = 0; /* sources opened */
    int cap = nnames;
    struct src *srcs;
    struct mw_follow *fl = NULL;
    struct mw_ckpt *ck = NULL;
    struct run r = {.o = o};
    struct sigaction sa_stop, sa_hup, old_int, old_term, old_hup;
    int in_fd = -1;
    int interval = o->metrics_interval_ms > 0 ? o->metrics_interval_ms : 5000;
    int64_t next_metrics = 0;
    unsigned busy = 0;
    uint64_t seq = 0;
    int rc = 0;
    struct mw_run_progress prog = {0};

    for (int i = 0; o->follow && i < nnames; i++)
        if (mw_follow_is_pattern(names[i]))
            cap = nnames + MAX_NEW_SRCS;
    srcs = xcalloc((size_t)cap, sizeof(*srcs));
    r.ts_path = mw_path_new(o->timestamp_field ? o->timestamp_field : "@timestamp");
    if (r.ts_path == NULL) {
        mw_log_error("invalid --timestamp-field '%s'", o->timestamp_field);
        rc = 2;
        goto out;
    }
    if (o->dead_letter) {
        r.dead = fopen(o->dead_letter, "a");
        if (r.dead == NULL) {
            mw_log_error("--dead-letter %s: %s", o->dead_letter, strerror(errno));
            rc = 2;
            goto out;
        }
    }
    if (o->follow && o->state_dir) {
        struct mw_error err;
        struct mw_ckpt_run cr;
        bool resumed;
        ck = mw_ckpt_open(o->state_dir, o->checkpoint_interval_ms, e, o->shape, &cr,
                          &resumed, &err);
        if (ck == NULL) {
            mw_log_error("%s", err.msg);
            rc = 2;
            goto out;
        }
        if (resumed) {
            seq = cr.seq;
            r.now = cr.now;
            r.started = cr.started;
            r.advanced = cr.advanced;
            r.now_mono = mono_ms();
        }
    }
    if (o->follow) {
        in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        fl = mw_follow_new(names, nnames);
        mw_follow_watch(fl, in_fd);
    }
    {
        const char **paths = NULL;
        int k = fl ? mw_follow_scan(fl, mono_ms(), true, &paths) : nnames;
        for (int i = 0; i < k && rc == 0; i++) {
            struct mw_error err;
            if (add_src(&r, ck, srcs, &n, cap, fl ? paths[i] : names[i], in_fd, &err) <
                0) {
                mw_log_error("%s", err.msg);
                rc = 2;
            }
        }
        free(paths);
        if (rc != 0)
            goto out;
    }

    choose_prefilter(&r, e);
    if (o->threads > 1) {
        r.pool = pool_new(&r, o->threads);
        r.depth = o->threads + 1; /* <= MAX_DEPTH: --threads is at most 16 */
    }

    if (o->follow) {
        memset(&sa_stop, 0, sizeof(sa_stop));
        sa_stop.sa_handler = on_stop; /* no SA_RESTART: poll returns EINTR */
        sigemptyset(&sa_stop.sa_mask);
        sa_hup = sa_stop;
        sa_hup.sa_handler = on_hup;
        stop_signal = hup_signal = 0;
        sigaction(SIGINT, &sa_stop, &old_int);
        sigaction(SIGTERM, &sa_stop, &old_term);
        sigaction(SIGHUP, &sa_hup, &old_hup);
        next_metrics = mono_ms() + interval;
        if (o->health_records) {
            json_t *ins = json_array();
            for (int i = 0; i < n; i++)
                json_array_append_new(ins, json_string(mw_input_name(srcs[i].in)));
            mw_health_emit("started", json_pack("{s:o, s:I, s:I}", "inputs", ins, "rules",
                                                (json_int_t)mw_engine_rule_count(e),
                                                "pid", (json_int_t)getpid()));
        }
        mw_log_info(
            "following %d input(s); SIGHUP reloads the rules, SIGINT/SIGTERM stops", n);
    }
    if (ck && !r.started && seq == 0)
        checkpoint(&r, ck, e, srcs, n, seq); /* the cut before the first event */

    for (;;) {
        int best = next_source(&r, srcs, n);
        if (best >= 0) {
            dispatch_head(&r, e, &srcs[best], ++seq);
            if (o->progress && (seq & 4095) == 0) {
                progress_fill(&prog, srcs, n, seq);
                o->progress(o->progress_ud, &prog);
            }
            if (!o->follow ||
                (++busy < FOLLOW_CHECK_EVERY && !stop_signal && !hup_signal))
                continue;
        } else if (!o->follow) {
            break;
        } else {
            bool all_done = true; /* only followed pipes can end */
            for (int i = 0; i < n; i++)
                all_done = all_done && srcs[i].done;
            if (all_done)
                break;
        }
        /* follow mode, between two events */
        busy = 0;
        if (stop_signal)
            break;
        if (hup_signal) {
            hup_signal = 0;
            mw_log_info("SIGHUP: reloading every rule file");
            if (o->reload)
                mw_reload_pass(o->reload, true);
        }
        int64_t now = mono_ms();
        int due = o->reload ? mw_reload_tick(o->reload, now) : -1;
        choose_prefilter(&r, e); /* the rules may have changed */
        if (o->metrics_file && now >= next_metrics) {
            write_metrics(e, out, srcs, n, &r);
            next_metrics = now + interval;
        }
        if (fl)
            add_new_srcs(&r, ck, fl, srcs, &n, cap, in_fd, now);
        if (ck && mw_ckpt_due(ck, now))
            checkpoint(&r, ck, e, srcs, n, seq);
        if (best >= 0)
            continue;
        advance_idle(&r, e);
        int wait = FOLLOW_WAIT_MS;
        if (due >= 0 && due < wait)
            wait = due;
        if (o->metrics_file && next_metrics - now < wait)
            wait = (int)(next_metrics - now > 0 ? next_metrics - now : 0);
        follow_wait(in_fd, o->reload, srcs, n, wait);
    }

    if (o->follow) {
        /* flush: what the files hold now, including a last line without its
         * newline, is processed before exiting */
        r.draining = true;
        for (int i = 0; i < n && ck == NULL; i++)
            if (mw_input_is_regular(srcs[i].in))
                mw_input_set_follow(srcs[i].in, false);
        /* with checkpoints a partial last line stays unread: the run that
         * resumes reads it once its writer has finished it */
        for (int best; (best = next_source(&r, srcs, n)) >= 0;) {
            dispatch_head(&r, e, &srcs[best], ++seq);
        }
        const char *why = stop_signal == SIGINT    ? "SIGINT"
                          : stop_signal == SIGTERM ? "SIGTERM"
                                                   : "end of input";
        mw_log_info("%s: stopping", why);
        if (o->health_records)
            mw_health_emit("stopped", json_pack("{s:s, s:I}", "reason", why, "alerts",
                                                (json_int_t)mw_engine_alerts(e)));
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        if (in_fd >= 0)
            close(in_fd);
        in_fd = -1;
    }
    mw_engine_finish(e);
    if (ck)
        checkpoint(&r, ck, e, srcs, n, seq);
    mw_output_drain(out); /* final delivery counts for the summary */
    if (o->metrics_file)
        write_metrics(e, out, srcs, n, &r);
    if (o->progress) {
        progress_fill(&prog, srcs, n, seq);
        prog.done = true;
        o->progress(o->progress_ud, &prog);
    }

    if (o->summary == MW_SUMMARY_JSON)
        summary_json(e, out, srcs, n, &r);
    else if (o->summary == MW_SUMMARY_TEXT)
        summary_text(e, out, srcs, n);

out:;
    bool threaded = r.pool != NULL;
    pool_free(r.pool); /* first: no worker may touch a batch after this */
    r.pool = NULL;
    for (int i = 0; i < n; i++) {
        if (!threaded)
            mw_event_unref(srcs[i].head); /* threaded: its batch owns it */
        for (int k = 0; k < srcs[i].qlen; k++)
            batch_free(srcs[i].q[(srcs[i].qhead + k) % MAX_DEPTH]);
        while (srcs[i].free_list) {
            struct batch *b = srcs[i].free_list;
            srcs[i].free_list = b->next;
            batch_free(b);
        }
        mw_input_close(srcs[i].in);
    }
    mw_prefilter_unref(r.pf);
    free(srcs);
    mw_ckpt_free(ck);
    mw_follow_free(fl);
    if (in_fd >= 0)
        close(in_fd);
    if (r.dead)
        fclose(r.dead);
    mw_path_free(r.ts_path);
    return rc;
}
