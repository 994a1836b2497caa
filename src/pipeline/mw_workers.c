/* mw_workers.c - the parser thread pool of the run loop (--threads)
 *
 * Framed lines of one input go in batches to parser threads (prefilter and
 * parse there, mw_run_parse_line); the rule thread consumes each input's
 * batches in input order, so event order, alerts and counters are as with
 * one thread. Design and invariants below; the rule thread is the only one
 * that touches a struct src outside the pool mutex.
 */
#include "mw_run_int.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_pool.h"
#include "mw_prefilter.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_LINES 8
#define BATCH_BYTES (512 * 1024)

enum bstate {
    B_IDLE,   /* being filled, or on a free list */
    B_QUEUED, /* waiting to be parsed */
    B_PARSING,
    B_DONE, /* parsed, being consumed */
};

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
        mw_run_parse_line(&c, b->input, b->buf + res->off, res->len, res, &err);
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
struct pool *mw_workers_new(const struct run *r, int n)
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
void mw_workers_free(struct pool *p)
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
        struct mw_line l;
        struct mw_error err;
        enum mw_line_status ls = mw_source_next(s->in, &l, &err);
        const char *line = l.text;
        size_t len = l.len;
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
        res->lineno = l.lineno;
        res->offset = l.offset;
        res->fgen = l.gen;
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
        b->input = mw_source_name(s->in);
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
void mw_workers_refill(struct run *r, struct src *s)
{
    s->waiting = false;
    while (!s->done && !mw_run_has_head(s)) {
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
        while (b->pos < b->n && !mw_run_has_head(s)) {
            struct lres *res = &b->res[b->pos++];
            struct mw_event *ev = res->ev;
            mw_run_take(r, s, res, res->kind == L_TOO_LONG ? NULL : b->buf + res->off,
                        res->msg);
            res->ev = ev; /* the batch keeps its reference; the head borrows */
            free(res->msg);
            res->msg = NULL;
        }
    }
}

void mw_workers_lock(struct pool *p)
{
    pthread_mutex_lock(&p->mu);
}

void mw_workers_unlock(struct pool *p)
{
    pthread_mutex_unlock(&p->mu);
}

bool mw_workers_pending(const struct src *s, struct mw_line *at)
{
    for (int k = 0; k < s->qlen; k++) {
        const struct batch *b = s->q[(s->qhead + k) % MAX_DEPTH];
        if (b->pos < b->n) {
            at->offset = b->res[b->pos].offset;
            at->lineno = b->res[b->pos].lineno;
            at->gen = b->res[b->pos].fgen;
            return true;
        }
    }
    return false;
}

void mw_workers_release(struct src *s)
{
    for (int k = 0; k < s->qlen; k++)
        batch_free(s->q[(s->qhead + k) % MAX_DEPTH]);
    s->qlen = 0;
    while (s->free_list) {
        struct batch *b = s->free_list;
        s->free_list = b->next;
        batch_free(b);
    }
}
