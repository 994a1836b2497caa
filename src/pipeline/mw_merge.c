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
#include "mw_mem.h"

#include <stdlib.h>

struct mw_merge {
    struct mw_merge_opts o;
    struct mw_merge_point p;
    int64_t now_mono;   /* monotonic ms when now last moved (idle_advance) */
    mw_time_t wall;     /* the wall clock at the last future check */
    unsigned wall_uses; /* checks answered from it since */
};

void mw_merge_opts_default(struct mw_merge_opts *o)
{
    o->max_lateness = MW_MERGE_DEFAULT_LATENESS;
    o->max_future = MW_MERGE_DEFAULT_FUTURE;
    o->idle_advance = false;
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
    return m;
}

void mw_merge_free(struct mw_merge *m)
{
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

enum mw_merge_verdict mw_merge_admit(struct mw_merge *m, mw_time_t ts)
{
    enum mw_merge_verdict v = MW_MERGE_IN_ORDER;
    if (m->p.started && ts < m->p.now - m->o.max_lateness)
        return MW_MERGE_TOO_LATE;
    if (m->p.started && ts < m->p.now)
        v = MW_MERGE_REORDERED;
    if (!m->p.started || ts > m->p.now) {
        m->p.now = ts;
        if (m->o.idle_advance)
            m->now_mono = mw_mono_ms();
    }
    m->p.started = true;
    return v;
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
    m->now_mono = mono_ms;
}
