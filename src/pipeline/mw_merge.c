/* mw_merge.c - the event-time merge and its lateness/future policy
 *
 * State is four numbers: now (the newest event time admitted), whether it
 * is set, the monotonic time it last moved (follow mode only: the idle
 * advance reads it, so other runs skip the clock read), and the event time
 * windows were last advanced to while idle. The wall clock used for the
 * future bound is cached (see mw_merge_future). Nothing here holds an
 * event: the callers keep their heads and apply the verdict.
 */
#include "mw_merge.h"
#include "mw_evtime.h"
#include "mw_mem.h"

#include <stdlib.h>

struct mw_merge {
    struct mw_merge_opts o;
    struct mw_merge_point p;
    int64_t now_mono;     /* monotonic ms when now last moved (idle_advance) */
    mw_time_t wall;       /* the wall clock at the last future check */
    unsigned wall_uses;   /* checks answered from it since */
    struct mw_evtime *et; /* now, outliers and the hold */
};

void mw_merge_opts_default(struct mw_merge_opts *o)
{
    o->max_lateness = MW_MERGE_DEFAULT_LATENESS;
    o->max_future = MW_MERGE_DEFAULT_FUTURE;
    o->idle_advance = false;
    o->max_skew = MW_EVTIME_DEFAULT_SKEW;
    o->max_jump = -1; /* the jump rule is opt-in (--max-jump) */
    o->time_confirm = MW_EVTIME_DEFAULT_CONFIRM;
}

struct mw_merge *mw_merge_new(const struct mw_merge_opts *o)
{
    struct mw_merge *m = xcalloc(1, sizeof(*m));
    if (o)
        m->o = *o;
    else
        mw_merge_opts_default(&m->o);
    if (m->o.max_lateness < 0)
        m->o.max_lateness = 0;
    struct mw_evtime_opts eo;
    mw_evtime_opts_default(&eo, m->o.max_lateness);
    eo.skew = m->o.max_skew;
    eo.jump = m->o.max_jump;
    if (m->o.time_confirm > 0)
        eo.confirm = m->o.time_confirm;
    eo.follow = m->o.idle_advance;
    m->et = mw_evtime_new(&eo);
    m->wall = mw_wall_us();
    return m;
}

void mw_merge_free(struct mw_merge *m)
{
    if (m == NULL)
        return;
    mw_evtime_free(m->et);
    free(m);
}

const struct mw_merge_opts *mw_merge_opts(const struct mw_merge *m)
{
    return &m->o;
}

bool mw_merge_future(struct mw_merge *m, mw_time_t ts)
{
    if (m->o.max_future < 0)
        return false;
    if (ts <= m->wall + m->o.max_future && ++m->wall_uses < 1024)
        return false;
    m->wall = mw_wall_us();
    m->wall_uses = 0;
    return ts > m->wall + m->o.max_future;
}

/* The clock for the skew bound: the cached reading, read again when ts
 * would be held by it (so a stale reading never holds an event). */
static mw_time_t wall_for(struct mw_merge *m, mw_time_t ts)
{
    if (m->o.max_skew >= 0 && ts > m->wall + m->o.max_skew) {
        m->wall = mw_wall_us();
        m->wall_uses = 0;
    }
    return m->wall;
}

static void moved(struct mw_merge *m, mw_time_t before)
{
    m->p.now = mw_evtime_now(m->et);
    m->p.started = true;
    if (m->o.idle_advance && m->p.now != before)
        m->now_mono = mw_mono_ms();
}

enum mw_merge_verdict mw_merge_admit(struct mw_merge *m, mw_time_t ts)
{
    mw_time_t before = m->p.now;
    bool started = m->p.started;
    switch (mw_evtime_admit(m->et, ts, wall_for(m, ts))) {
    case MW_EVTIME_LATE:
        return MW_MERGE_TOO_LATE;
    case MW_EVTIME_HOLD:
        if (mw_evtime_now(m->et) != before || !started)
            moved(m, before); /* a confirmed jump moved now to its start */
        return MW_MERGE_HOLD;
    case MW_EVTIME_ADMIT:
        break;
    }
    moved(m, before);
    return started && ts < before ? MW_MERGE_REORDERED : MW_MERGE_IN_ORDER;
}

void *mw_merge_hold(struct mw_merge *m, mw_time_t ts, uint64_t seq, size_t bytes,
                    void *item)
{
    return mw_evtime_hold(m->et, ts, seq, bytes, item);
}

void *mw_merge_release(struct mw_merge *m, bool flush)
{
    mw_time_t before = m->p.now, ts;
    if (mw_evtime_held(m->et) == 0)
        return NULL;
    void *item =
        mw_evtime_next(m->et, flush ? m->wall : wall_for(m, INT64_MAX / 2), flush, &ts);
    if (item != NULL)
        moved(m, before);
    return item;
}

size_t mw_merge_held(const struct mw_merge *m)
{
    return mw_evtime_held(m->et);
}

void mw_merge_describe(const struct mw_merge *m, mw_time_t ts, bool future,
                       struct mw_buf *out)
{
    char when[MW_TIME_FORMAT_SIZE], lag[MW_DURATION_FORMAT_SIZE];
    mw_time_format(ts, when, sizeof(when));
    if (future) {
        mw_buf_addf(
            out, "event time %s is more than --max-future ahead of the wall clock", when);
        return;
    }
    mw_duration_format(m->p.now - ts, lag, sizeof(lag));
    mw_buf_addf(out,
                "event time %s is %s behind the newest event time, more than "
                "--max-lateness",
                when, lag);
}

int mw_merge_pick(int n, bool (*head)(void *ud, int i, mw_time_t *ts), void *ud)
{
    int best = -1;
    mw_time_t best_ts = 0;
    for (int i = 0; i < n; i++) {
        mw_time_t ts;
        if (head(ud, i, &ts) && (best < 0 || ts < best_ts)) {
            best = i;
            best_ts = ts;
        }
    }
    return best;
}

bool mw_merge_idle(struct mw_merge *m, int64_t mono_ms, mw_time_t *t)
{
    mw_time_t to;
    if (!m->p.started)
        return false;
    to = m->p.now + (mw_time_t)(mono_ms - m->now_mono) * MW_USEC_PER_MSEC -
         m->o.max_lateness;
    if (to <= m->p.now || to <= m->p.advanced)
        return false;
    m->p.advanced = to;
    *t = to;
    return true;
}

void mw_merge_get(const struct mw_merge *m, struct mw_merge_point *p)
{
    *p = m->p;
}

void mw_merge_set(struct mw_merge *m, const struct mw_merge_point *p, int64_t mono_ms)
{
    m->p = *p;
    mw_evtime_set_now(m->et, p->now, p->started);
    m->now_mono = mono_ms;
}
