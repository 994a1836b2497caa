/* mw_merge.h - the one event-time merge: which input goes next, and the
 * lateness and future-time policy
 *
 * Every command that feeds events to the engine (`run`, `replay`, `test`,
 * `explain`) goes through one struct mw_merge, so a rule test describes
 * exactly what production raises:
 *
 * - order: each input's next event waits as its head; the oldest head by
 *   event time goes next, ties to the input opened first, and within an
 *   input the input's own order (mw_merge_pick);
 * - future: an event further ahead of the wall clock than max_future is
 *   refused (future_timestamp) when it is read, so a wrong clock cannot move
 *   "now" for everyone (mw_merge_future);
 * - lateness: "now" is the newest event time admitted. An event behind now
 *   by at most max_lateness is admitted at once (MW_MERGE_REORDERED: the
 *   engine's windows, built with the same lateness, place it in event-time
 *   order); one further behind is refused as too_late (mw_merge_admit);
 * - outliers: one line, or a handful, cannot move now: a time further
 *   ahead of the wall clock than max_skew (and, with max_jump set, a time
 *   that jumps ahead of now by more than max_jump) is held (MW_MERGE_HOLD)
 *   until the clock or now reach it, time_confirm jumps in a row confirm it,
 *   or the input ends; see mw_evtime.h and docs/WINDOWS.md;
 * - idle time (follow mode): with the inputs quiet, event time runs on with
 *   the monotonic clock from the newest event, held back by the lateness
 *   (mw_merge_idle).
 *
 * The defaults (MW_MERGE_DEFAULT_*) are the only place these numbers are
 * written; the commands take them from mw_merge_opts_default (through
 * mw_cmd_defaults, src/cmd/mw_cmd_opts.c).
 *
 * Ownership: a merge is owned by the loop that created it (mw_run, mw_feed)
 * and holds no events and no inputs: callers keep their heads and ask the
 * merge which one goes next. Not thread-safe: the rule thread only.
 */
#ifndef MW_MERGE_H
#define MW_MERGE_H

#include <stdbool.h>
#include <stdint.h>

#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_time.h"

#define MW_MERGE_DEFAULT_LATENESS (5 * MW_USEC_PER_MIN) /* --max-lateness 5m */
#define MW_MERGE_DEFAULT_FUTURE MW_USEC_PER_HOUR        /* --max-future 1h */

struct mw_merge_opts {
    mw_time_t max_lateness; /* how far behind "now" an event may arrive; >= 0 */
    mw_time_t max_future;   /* how far ahead of the wall clock; < 0: no bound */
    bool idle_advance;      /* follow mode: note when now moved (mw_merge_idle);
                             * the wall clock also corroborates times near it */
    mw_time_t max_skew;     /* ahead of the wall clock that moves now at once;
                             * < 0: no bound (mw_evtime.h) */
    mw_time_t max_jump;     /* largest unconfirmed step of now (batch only);
                             * 0: the lateness; < 0 (default): no jump rule */
    int time_confirm;       /* jumps in a row that confirm a jump */
};

/* The merge's position in event time: what a checkpoint saves. */
struct mw_merge_point {
    mw_time_t now;      /* newest event time admitted */
    bool started;       /* now is set */
    mw_time_t advanced; /* event time the windows were last advanced to (idle) */
};

enum mw_merge_verdict {
    MW_MERGE_IN_ORDER,  /* at or after now: now moves to it */
    MW_MERGE_REORDERED, /* behind now, within the lateness: dispatch it */
    MW_MERGE_TOO_LATE,  /* further behind: refuse it (MW_REJECT_TOO_LATE) */
    MW_MERGE_HOLD,      /* an unconfirmed jump ahead: mw_merge_hold it (a
                         * prefiltered line is simply not timed) */
};

struct mw_merge;

/* Fills o with the defaults: 5m lateness, 1h future bound, no idle advance. */
void mw_merge_opts_default(struct mw_merge_opts *o);

/* o is copied; NULL means the defaults. Never NULL (xmalloc). */
struct mw_merge *mw_merge_new(const struct mw_merge_opts *o);
/* NULL is a no-op. */
void mw_merge_free(struct mw_merge *m);

const struct mw_merge_opts *mw_merge_opts(const struct mw_merge *m);

/* Is ts more than max_future ahead of the wall clock? Call when a line is
 * read. The clock is read again only when the last reading would answer
 * yes, and every 1024 calls (a clock_gettime per line was a visible share
 * of a prefiltered run). */
bool mw_merge_future(struct mw_merge *m, mw_time_t ts);

/* The policy for an event (or a prefiltered line) of time ts handed out
 * next: moves now unless the answer is MW_MERGE_TOO_LATE. */
enum mw_merge_verdict mw_merge_admit(struct mw_merge *m, mw_time_t ts);

/* The refusal message for ts ("event time ... is 10m behind the newest
 * event time, more than --max-lateness" or "... more than --max-future ahead
 * of the wall clock"), appended to out. */
void mw_merge_describe(const struct mw_merge *m, mw_time_t ts, bool future,
                       struct mw_buf *out);

/* The input whose head goes next: the oldest by event time, ties to the
 * lowest index. head(ud, i, &ts) returns false when input i has no head.
 * Returns -1 when none has one. */
int mw_merge_pick(int n, bool (*head)(void *ud, int i, mw_time_t *ts), void *ud);

/* Follow mode, inputs quiet: the event time windows may be advanced to
 * (now plus the monotonic time since now moved, minus the lateness). Returns
 * true and sets *t when that is past both now and the last advance (which
 * it records). */
bool mw_merge_idle(struct mw_merge *m, int64_t mono_ms, mw_time_t *t);

/* Sets aside an item after MW_MERGE_HOLD (the caller owns it). Returns
 * NULL, or an item evicted to keep the hold's bounds (the farthest ahead,
 * maybe this one), which the caller refuses as MW_REJECT_TIME_OUTLIER. */
void *mw_merge_hold(struct mw_merge *m, mw_time_t ts, uint64_t seq, size_t bytes,
                    void *item);
/* The earliest held item once it is admissible (every one, earliest first,
 * with flush: the end of a finite input), or NULL; now moves to its time. */
void *mw_merge_release(struct mw_merge *m, bool flush);
size_t mw_merge_held(const struct mw_merge *m);

void mw_merge_get(const struct mw_merge *m, struct mw_merge_point *p);
/* Restores a checkpointed point; now is taken as moved at mono_ms. */
void mw_merge_set(struct mw_merge *m, const struct mw_merge_point *p, int64_t mono_ms);

#endif
