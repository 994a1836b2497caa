/* mw_evtime.c - outlier-robust event time (see mw_evtime.h)
 *
 * The hold is a sorted array (by time, then arrival): releases take from
 * the front, evictions from the back; insertion is a binary search and a
 * memmove, cheap for the few thousand items the bound allows and free when
 * nothing is held (the common case).
 */
#include "mw_evtime.h"
#include "mw_mem.h"

#include <stdlib.h>
#include <string.h>

struct held {
    mw_time_t ts;
    uint64_t seq;
    size_t bytes;
    void *item;
};

struct mw_evtime {
    struct mw_evtime_opts o;
    mw_time_t now;
    bool started;
    int consec;        /* jumps in a row since the last admitted time */
    mw_time_t run_min; /* earliest time of that run of jumps */
    mw_time_t upto;    /* held times up to this are admissible (a confirmed run) */
    bool has_upto;
    struct held *h; /* sorted by (ts, seq) */
    size_t n, cap, bytes;
};

void mw_evtime_opts_default(struct mw_evtime_opts *o, mw_time_t lateness)
{
    memset(o, 0, sizeof(*o));
    o->lateness = lateness;
    o->jump = -1;
    o->skew = MW_EVTIME_DEFAULT_SKEW;
    o->confirm = MW_EVTIME_DEFAULT_CONFIRM;
    o->max_held = MW_EVTIME_DEFAULT_MAX_HELD;
    o->max_bytes = MW_EVTIME_DEFAULT_MAX_BYTES;
}

struct mw_evtime *mw_evtime_new(const struct mw_evtime_opts *o)
{
    struct mw_evtime *t = xcalloc(1, sizeof(*t));
    t->o = *o;
    if (t->o.jump == 0)
        t->o.jump = t->o.lateness > INT64_C(1000000) ? t->o.lateness : INT64_C(1000000);
    if (t->o.confirm < 1)
        t->o.confirm = 1;
    if (t->o.max_held < 1)
        t->o.max_held = 1;
    return t;
}

void mw_evtime_free(struct mw_evtime *t)
{
    if (t == NULL)
        return;
    free(t->h);
    free(t);
}

static bool clock_ok(const struct mw_evtime *t, mw_time_t ts, mw_time_t wall)
{
    return t->o.skew < 0 || ts <= wall + t->o.skew;
}

/* Would ts be admitted now (not counting confirmation)? */
static bool admissible(const struct mw_evtime *t, mw_time_t ts, mw_time_t wall)
{
    if (!clock_ok(t, ts, wall))
        return false;
    /* follow mode: the wall clock is the reference, the skew bound is the
     * whole rule (a quiet input may resume hours later) */
    if (t->o.follow || t->o.jump < 0 || !t->started || ts <= t->now + t->o.jump)
        return true;
    return t->has_upto && ts <= t->upto;
}

static void move_now(struct mw_evtime *t, mw_time_t ts)
{
    if (!t->started || ts > t->now)
        t->now = ts;
    t->started = true;
}

enum mw_evtime_verdict mw_evtime_admit(struct mw_evtime *t, mw_time_t ts, mw_time_t wall)
{
    if (t->started && ts < t->now - t->o.lateness)
        return MW_EVTIME_LATE;
    if (admissible(t, ts, wall)) {
        if (!t->has_upto || ts > t->upto)
            t->consec = 0;
        move_now(t, ts);
        return MW_EVTIME_ADMIT;
    }
    if (!clock_ok(t, ts, wall))
        return MW_EVTIME_HOLD; /* ahead of the clock: only the clock releases it */
    if (t->consec == 0 || ts < t->run_min)
        t->run_min = ts;
    if (++t->consec >= t->o.confirm) {
        /* a run of jumps in a row with nothing admitted between them: a
         * real jump in the data (a gap, a later backlog). The whole run is
         * released in time order (mw_evtime_next); items held before it
         * and beyond it stay held. */
        t->consec = 0;
        t->upto = ts;
        t->has_upto = true;
        if (t->run_min < ts)
            return MW_EVTIME_HOLD; /* it comes out with the run, in order */
        move_now(t, ts);
        return MW_EVTIME_ADMIT;
    }
    return MW_EVTIME_HOLD;
}

void *mw_evtime_hold(struct mw_evtime *t, mw_time_t ts, uint64_t seq, size_t bytes,
                     void *item)
{
    size_t lo = 0, hi = t->n;
    void *evicted = NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->h[mid].ts < ts || (t->h[mid].ts == ts && t->h[mid].seq < seq))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->h = xrealloc(t->h, t->cap * sizeof(*t->h));
    }
    memmove(t->h + lo + 1, t->h + lo, (t->n - lo) * sizeof(*t->h));
    t->h[lo] = (struct held){ts, seq, bytes, item};
    t->n++;
    t->bytes += bytes;
    if (t->n > t->o.max_held || (t->bytes > t->o.max_bytes && t->n > 1)) {
        struct held *last = &t->h[--t->n];
        t->bytes -= last->bytes;
        evicted = last->item;
    }
    return evicted;
}

void *mw_evtime_next(struct mw_evtime *t, mw_time_t wall, bool flush, mw_time_t *ts)
{
    if (t->n == 0)
        return NULL;
    if (!flush && !admissible(t, t->h[0].ts, wall))
        return NULL;
    struct held first = t->h[0];
    memmove(t->h, t->h + 1, (t->n - 1) * sizeof(*t->h));
    t->n--;
    t->bytes -= first.bytes;
    /* a held time is never behind now - lateness: it was ahead when held */
    move_now(t, first.ts);
    *ts = first.ts;
    return first.item;
}

bool mw_evtime_started(const struct mw_evtime *t)
{
    return t->started;
}

mw_time_t mw_evtime_now(const struct mw_evtime *t)
{
    return t->now;
}

size_t mw_evtime_held(const struct mw_evtime *t)
{
    return t->n;
}

void mw_evtime_set_now(struct mw_evtime *t, mw_time_t now, bool started)
{
    t->now = now;
    t->started = started;
}
