/* mw_run.c - read, frame, parse, merge by event time, dispatch, summarise */
#include "mw_run.h"
#include "mw_input.h"
#include "mw_log.h"
#include "mw_mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

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
    struct mw_event *ev;        /* owned until consumed */
    mw_time_t ts;
    char *msg;                  /* owned, L_REJECT from a worker */
    uint64_t lineno, offset;
    size_t off, len;            /* the line in its batch buffer */
};

enum job {
    JOB_PARSE,
    JOB_CLEANUP,
};

struct src;

/* A run of framed lines of one input, parsed by a worker thread. */
struct batch {
    struct batch *next;         /* worker queue or free list link */
    struct src *src;            /* borrowed: the source it belongs to */
    const char *input;          /* borrowed: its name */
    enum job job;
    int owner;                  /* the worker that parses and frees it */
    char *buf;                  /* owned: the lines' bytes */
    size_t used, cap;
    struct lres *res;           /* owned */
    size_t n, cap_res, pos;     /* pos: next result to consume */
    bool done;                  /* parsed (under the pool mutex) */
};

#define MAX_DEPTH 64

#define BATCH_LINES 8
#define BATCH_BYTES (512 * 1024)

struct src {
    struct mw_input *in;        /* owned */
    struct mw_event *head;      /* owned: next event, or NULL */
    bool head_skip;             /* the head is a skipped line at skip_ts */
    mw_time_t skip_ts;
    bool done;
    bool eof;                   /* threaded: framing reached the end */
    int reported;
    struct batch *q[MAX_DEPTH]; /* threaded: batches in input order (ring) */
    int qhead, qlen;
    struct batch *free_list;    /* owned, under the pool mutex */
    int nbatches;               /* allocated for this source */
};

struct pool;

struct run {
    const struct mw_run_opts *o;
    struct mw_path *ts_path;    /* owned */
    FILE *dead;                 /* owned, may be NULL */
    uint64_t dead_written;
    const struct mw_prefilter *pf; /* borrowed from the engine; NULL: parse all */
    const char *ts_key;         /* top-level timestamp key for skipped lines */
    size_t ts_keylen;
    struct pool *pool;          /* owned, NULL with one thread */
    int depth;                  /* batches in flight per input */
};

/* ---------------------------------------------------------------------- */
/* per line: prefilter, then parse (thread-safe: touches only its line)    */

static void process_line(const struct run *r, const char *input, const char *line,
                         size_t len, struct lres *res, struct mw_error *err)
{
    if (mw_line_is_blank(line, len)) {
        res->kind = L_BLANK;
        return;
    }
    if (r->pf != NULL && !mw_prefilter_pass(r->pf, line, len) &&
        mw_prefilter_scan_ts(line, len, r->ts_key, r->ts_keylen, &res->ts) == 0) {
        res->kind = L_SKIP;
        return;
    }
    res->ev = mw_ingest_parse(line, len, r->ts_path, input, res->lineno, res->offset,
                              0, &res->reason, err);
    res->kind = res->ev != NULL ? L_EVENT : L_REJECT;
}

static void dead_letter(struct run *r, const char *input, uint64_t lineno,
                        enum mw_reject reason, const char *msg,
                        const char *line, size_t len)
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
        free(s);
    }
    json_decref(o);
}

static void reject(struct run *r, struct src *s, uint64_t lineno,
                   enum mw_reject reason, const char *msg, const char *line,
                   size_t len)
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
        st->lines++;
        st->parsed++;
        s->head = res->ev;
        res->ev = NULL;
        break;
    case L_SKIP:
        st->lines++;
        st->skipped++;
        s->head_skip = true;
        s->skip_ts = res->ts;
        break;
    case L_REJECT:
        st->lines++;
        reject(r, s, res->lineno, res->reason, msg, line, res->len);
        break;
    case L_TOO_LONG: {
        char buf[128];
        st->lines++;
        snprintf(buf, sizeof(buf), "line of %zu bytes exceeds the limit of %zu",
                 res->len, r->o->max_line);
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

/* Reads until the source has a head (event or skipped line) or is
 * exhausted. One thread: frame, prefilter and parse here. */
static int refill(struct run *r, struct src *s)
{
    while (!s->done && !has_head(s)) {
        const char *line;
        size_t len;
        struct lres res = {0};
        struct mw_error err;
        enum mw_line_status ls =
            mw_input_next_line(s->in, &line, &len, &res.lineno, &res.offset, &err);

        switch (ls) {
        case MW_LINE_EOF:
            s->done = true;
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
        case MW_LINE_OK:
            res.len = len;
            process_line(r, mw_input_name(s->in), line, len, &res, &err);
            take(r, s, &res, line, err.msg);
            break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* parser threads                                                          */

/* Each batch is parsed by one worker and later handed back to that same
 * worker to free its events, so memory returns to the arena (and cache) it
 * came from: freeing jansson trees on another thread costs more than the
 * parse saves. Events that windows still hold after dispatch are released
 * by the rule thread as usual. */
struct worker {
    pthread_t th;
    pthread_cond_t work;        /* its queue got a job, or stop */
    struct batch *head, *tail;  /* its queue */
    struct pool *p;
};

struct pool {
    pthread_mutex_t mu;         /* guards queues, done flags, free lists */
    pthread_cond_t done;        /* a batch was parsed or freed */
    struct worker *w;           /* owned */
    int nthreads, next;
    bool stop;
    const struct run *r;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct pool *p = w->p;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (w->head == NULL && !p->stop)
            pthread_cond_wait(&w->work, &p->mu);
        if (w->head == NULL)
            break;
        struct batch *b = w->head;
        w->head = b->next;
        if (w->head == NULL)
            w->tail = NULL;
        pthread_mutex_unlock(&p->mu);

        if (b->job == JOB_PARSE) {
            for (size_t i = 0; i < b->n; i++) {
                struct lres *res = &b->res[i];
                struct mw_error err;
                if (res->kind == L_TOO_LONG)
                    continue;
                process_line(p->r, b->input, b->buf + res->off, res->len, res, &err);
                if (res->kind == L_REJECT)
                    res->msg = xstrdup(err.msg);
            }
        } else {
            /* the rule thread handed back only events nothing else holds */
            for (size_t i = 0; i < b->n; i++) {
                mw_event_unref(b->res[i].ev);
                b->res[i].ev = NULL;
            }
        }

        pthread_mutex_lock(&p->mu);
        if (b->job == JOB_PARSE) {
            b->done = true;
        } else {
            b->next = b->src->free_list;
            b->src->free_list = b;
        }
        pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static struct pool *pool_new(const struct run *r, int n)
{
    struct pool *p = xcalloc(1, sizeof(*p));
    p->r = r;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->done, NULL);
    p->w = xcalloc((size_t)n, sizeof(*p->w));
    for (int i = 0; i < n; i++) {
        p->w[i].p = p;
        pthread_cond_init(&p->w[i].work, NULL);
        if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i]) != 0) {
            pthread_cond_destroy(&p->w[i].work);
            mw_log_warn("cannot start parser thread %d; going on with %d", i + 1, i);
            break;
        }
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        free(p->w);
        pthread_cond_destroy(&p->done);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

/* Stops the workers after they have drained their queues. */
static void pool_free(struct pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    for (int i = 0; i < p->nthreads; i++)
        pthread_cond_signal(&p->w[i].work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) {
        pthread_join(p->w[i].th, NULL);
        pthread_cond_destroy(&p->w[i].work);
    }
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->w);
    free(p);
}

static void submit(struct pool *p, struct batch *b, enum job job)
{
    pthread_mutex_lock(&p->mu);
    if (job == JOB_PARSE) {
        b->owner = p->next;
        p->next = (p->next + 1) % p->nthreads;
        b->done = false;
    }
    b->job = job;
    b->next = NULL;
    struct worker *w = &p->w[b->owner];
    if (w->tail)
        w->tail->next = b;
    else
        w->head = b;
    w->tail = b;
    pthread_cond_signal(&w->work);
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
static void fill_batch(struct src *s, struct batch *b)
{
    b->used = b->n = b->pos = 0;
    while (b->n < BATCH_LINES && b->used < BATCH_BYTES) {
        const char *line;
        size_t len;
        uint64_t lineno, offset;
        struct mw_error err;
        enum mw_line_status ls =
            mw_input_next_line(s->in, &line, &len, &lineno, &offset, &err);
        if (ls == MW_LINE_EOF || ls == MW_LINE_ERROR) {
            if (ls == MW_LINE_ERROR)
                mw_log_error("%s", err.msg);
            s->eof = true;
            return;
        }
        struct lres *res = batch_push(b);
        res->lineno = lineno;
        res->offset = offset;
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
    while (!s->eof && s->qlen < r->depth) {
        struct batch *b = get_batch(r, s);
        fill_batch(s, b);
        if (b->n == 0) {
            pthread_mutex_lock(&r->pool->mu);
            b->next = s->free_list;
            s->free_list = b;
            pthread_mutex_unlock(&r->pool->mu);
            break;
        }
        s->q[(s->qhead + s->qlen) % MAX_DEPTH] = b;
        s->qlen++;
        submit(r->pool, b, JOB_PARSE);
    }
}

/* The front batch is consumed and its last head dispatched: release what
 * windows hold, hand the rest back to its worker to free. */
static void retire(struct run *r, struct src *s)
{
    struct batch *b = s->q[s->qhead];
    for (size_t i = 0; i < b->n; i++) {
        struct mw_event *ev = b->res[i].ev;
        if (ev != NULL && ev->refcount > 1) {
            mw_event_unref(ev);
            b->res[i].ev = NULL;
        }
    }
    s->qhead = (s->qhead + 1) % MAX_DEPTH;
    s->qlen--;
    submit(r->pool, b, JOB_CLEANUP);
}

/* Threaded refill: consume the source's batches in order. Called when the
 * previous head has been dispatched. Events stay owned by their batch. */
static int refill_threaded(struct run *r, struct src *s)
{
    while (!s->done && !has_head(s)) {
        if (s->qlen > 0 && s->q[s->qhead]->pos == s->q[s->qhead]->n)
            retire(r, s);
        pump(r, s);
        if (s->qlen == 0) {
            s->done = true;
            break;
        }
        struct batch *b = s->q[s->qhead];
        pthread_mutex_lock(&r->pool->mu);
        while (!b->done)
            pthread_cond_wait(&r->pool->done, &r->pool->mu);
        pthread_mutex_unlock(&r->pool->mu);
        while (b->pos < b->n && !has_head(s)) {
            struct lres *res = &b->res[b->pos++];
            struct mw_event *ev = res->ev;
            take(r, s, res, res->kind == L_TOO_LONG ? NULL : b->buf + res->off,
                 res->msg);
            res->ev = ev;   /* the batch keeps its reference; the head borrows */
            free(res->msg);
            res->msg = NULL;
        }
    }
    return 0;
}

static void summary_json(struct mw_engine *e, struct mw_output *out,
                         struct src *srcs, int n, struct run *r)
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
        json_array_append_new(inputs, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
            "name", mw_input_name(srcs[i].in), "lines", (json_int_t)st->lines,
            "parsed", (json_int_t)st->parsed, "skipped", (json_int_t)st->skipped,
            "rejected", (json_int_t)st->rejected,
            "blank", (json_int_t)st->blank, "rejected_by_reason", rs));
    }
    json_t *rs = json_object();
    for (int k = 1; k < MW_REJECT__COUNT; k++)
        if (reasons[k])
            json_object_set_new(rs, mw_reject_name(k), json_integer((json_int_t)reasons[k]));
    if (out)
        mw_output_stats(out, outs);
    json_t *doc = json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:I, s:I, s:o, s:o, s:o}",
        "events_read", (json_int_t)lines, "events_parsed", (json_int_t)parsed,
        "events_skipped", (json_int_t)skipped,
        "events_rejected", (json_int_t)rejected, "blank_lines", (json_int_t)blank,
        "rejected_by_reason", rs, "alerts", (json_int_t)mw_engine_alerts(e),
        "dead_letters", (json_int_t)r->dead_written,
        "inputs", inputs, "rules", mw_engine_stats(e), "outputs", outs);
    char *s = json_dumps(doc, JSON_COMPACT);
    fprintf(stderr, "%s\n", s);
    free(s);
    json_decref(doc);
}

static void summary_text(struct mw_engine *e, struct src *srcs, int n)
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
        fputc('\n', stderr);
    }
    json_t *rules = mw_engine_stats(e);
    size_t i;
    json_t *rs;
    json_array_foreach(rules, i, rs) {
        fprintf(stderr, "  rule %s \"%s\": ", json_string_value(json_object_get(rs, "id")),
                json_string_value(json_object_get(rs, "name")));
        json_t *steps = json_object_get(rs, "matched_per_step");
        if (steps) {
            size_t k;
            json_t *v;
            fprintf(stderr, "matched per step [");
            json_array_foreach(steps, k, v)
                fprintf(stderr, "%s%lld", k ? ", " : "", (long long)json_integer_value(v));
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
        json_t *errs = json_object_get(rs, "errors");
        const char *k;
        json_t *v;
        json_object_foreach(errs, k, v)
            if (json_integer_value(v))
                fprintf(stderr, ", %s errors %lld", k, (long long)json_integer_value(v));
        fputc('\n', stderr);
    }
    json_decref(rules);
    fprintf(stderr, "  total: %llu alerts\n", (unsigned long long)mw_engine_alerts(e));
}

int mw_run(struct mw_engine *e, struct mw_output *out, const struct mw_run_opts *o)
{
    static char dash[] = "-";
    static char *const stdin_only[] = {dash};
    char *const *names = o->ninputs > 0 ? o->inputs : stdin_only;
    int n = o->ninputs > 0 ? o->ninputs : 1;
    struct src *srcs = xcalloc((size_t)n, sizeof(*srcs));
    struct run r = {0};
    r.o = o;
    uint64_t seq = 0;
    int rc = 0;

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
    for (int i = 0; i < n; i++) {
        struct mw_error err;
        srcs[i].in = mw_input_open(names[i], o->max_line, &err);
        if (srcs[i].in == NULL) {
            mw_log_error("%s", err.msg);
            rc = 2;
            goto out;
        }
    }

    if (!o->no_prefilter) {
        const struct mw_prefilter *pf = mw_engine_prefilter(e);
        const char *tsf = mw_path_str(r.ts_path);
        if (!mw_prefilter_active(pf)) {
            if (mw_prefilter_off_reason(pf))
                mw_log_info("prefilter off: %s", mw_prefilter_off_reason(pf));
        } else if (strchr(tsf, '.') != NULL) {
            mw_log_info("prefilter off: the timestamp field '%s' is not a top-level "
                        "key, so skipped lines could not move event time", tsf);
        } else {
            r.pf = pf;
            r.ts_key = tsf;
            r.ts_keylen = strlen(tsf);
        }
    }
    if (o->threads > 1) {
        r.pool = pool_new(&r, o->threads);
        r.depth = o->threads + 1;   /* <= MAX_DEPTH: --threads is at most 16 */
    }

    for (;;) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            if (r.pool)
                refill_threaded(&r, &srcs[i]);
            else
                refill(&r, &srcs[i]);
            if (has_head(&srcs[i]) &&
                (best < 0 || head_ts(&srcs[i]) < head_ts(&srcs[best])))
                best = i;
        }
        if (best < 0)
            break;
        if (srcs[best].head_skip) {
            /* a line no rule can match: only event time moves */
            srcs[best].head_skip = false;
            ++seq;
            mw_engine_advance(e, srcs[best].skip_ts);
            continue;
        }
        struct mw_event *ev = srcs[best].head;
        srcs[best].head = NULL;
        ev->seq = ++seq;    /* arrival order: the tie-break on equal times */
        mw_engine_dispatch(e, ev);
        if (r.pool == NULL)
            mw_event_unref(ev); /* threaded: its batch holds the reference */
    }
    mw_engine_finish(e);

    if (o->summary == MW_SUMMARY_JSON)
        summary_json(e, out, srcs, n, &r);
    else if (o->summary == MW_SUMMARY_TEXT)
        summary_text(e, srcs, n);

out:
    pool_free(r.pool);  /* first: no worker may touch a batch after this */
    for (int i = 0; i < n; i++) {
        if (r.pool == NULL)
            mw_event_unref(srcs[i].head);   /* threaded: its batch owns it */
        for (int k = 0; k < srcs[i].qlen; k++)
            batch_free(srcs[i].q[(srcs[i].qhead + k) % MAX_DEPTH]);
        while (srcs[i].free_list) {
            struct batch *b = srcs[i].free_list;
            srcs[i].free_list = b->next;
            batch_free(b);
        }
        mw_input_close(srcs[i].in);
    }
    free(srcs);
    if (r.dead)
        fclose(r.dead);
    mw_path_free(r.ts_path);
    return rc;
}
