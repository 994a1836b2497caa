/* mw_evtime.h - event time that no single input line can move (the
 * outlier-robust part of the event-time merge)
 *
 * "now" is the newest event time admitted. An arriving time ts is judged:
 *
 *   too late   ts < now - lateness                      -> the caller refuses it
 *   admitted   first time seen, or ts <= now + jump and (skew off or
 *              ts <= wall + skew), or (follow mode) ts within
 *              [wall - jump, wall + skew] (corroborated by the clock)
 *                                                       -> dispatched, now = max(now, ts)
 *   held       otherwise: a jump ahead of event time (or of the clock) that
 *              nothing confirms yet. The caller hands the item to
 *              mw_evtime_hold; it does not move now and is released, in
 *              (time, arrival) order, once now or the wall clock makes it
 *              admissible, once `confirm` such jumps arrive in a row with no
 *              admitted time between them (a real jump in the data: a gap, a
 *              backlog from a later period), or at the end of a finite input.
 *
 * jump defaults to the lateness bound: an admitted time can then never make
 * an event that is in order with respect to the previous now too late. The
 * hold is bounded in items and bytes; past the bounds the farthest-ahead
 * item is evicted and returned for dead-lettering (reason time_outlier).
 *
 * Ownership: held items are opaque pointers owned by the caller; the module
 * only orders and returns them. Not thread-safe (the rule thread owns it).
 */
#ifndef MW_EVTIME_H
#define MW_EVTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_time.h"

struct mw_evtime_opts {
    mw_time_t lateness; /* --max-lateness */
    mw_time_t jump;     /* largest unconfirmed step ahead of now; 0: the
                         * lateness (at least 1 s); < 0: no jump rule */
    mw_time_t skew;     /* --max-skew: ahead of the wall clock; < 0: off */
    int confirm;        /* jumps in a row that confirm a jump (--time-confirm) */
    size_t max_held;    /* items held at most */
    size_t max_bytes;   /* bytes held at most (as the caller counts them) */
    bool follow;        /* the wall clock corroborates times near it */
};

#define MW_EVTIME_DEFAULT_SKEW (2 * 60 * INT64_C(1000000))
#define MW_EVTIME_DEFAULT_CONFIRM 16
#define MW_EVTIME_DEFAULT_MAX_HELD 4096
#define MW_EVTIME_DEFAULT_MAX_BYTES (64u << 20)

enum mw_evtime_verdict {
    MW_EVTIME_ADMIT, /* dispatch now; now has moved */
    MW_EVTIME_LATE,  /* behind now by more than the lateness bound */
    MW_EVTIME_HOLD,  /* set it aside with mw_evtime_hold */
};

struct mw_evtime;

/* Fills o with the defaults for a lateness bound. */
void mw_evtime_opts_default(struct mw_evtime_opts *o, mw_time_t lateness);
struct mw_evtime *mw_evtime_new(const struct mw_evtime_opts *o);
/* Frees the module (not the held items: drain them first). NULL: no-op. */
void mw_evtime_free(struct mw_evtime *t);

/* Judges an arriving time (wall: the wall clock, any recent reading). A
 * confirmed jump moves now to the earliest held time (or ts) and admits ts;
 * the held items it makes admissible come out of mw_evtime_next. */
enum mw_evtime_verdict mw_evtime_admit(struct mw_evtime *t, mw_time_t ts, mw_time_t wall);

/* Sets an item aside (after MW_EVTIME_HOLD). Returns NULL, or an item
 * evicted to keep the bounds (the farthest ahead, possibly this one): the
 * caller dead-letters it. */
void *mw_evtime_hold(struct mw_evtime *t, mw_time_t ts, uint64_t seq, size_t bytes,
                     void *item);

/* The earliest held item if it is admissible now (all of them, earliest
 * first, when flush is set: the end of a finite input), or NULL. A returned
 * item's time is admitted (now moves) and stored in *ts. */
void *mw_evtime_next(struct mw_evtime *t, mw_time_t wall, bool flush, mw_time_t *ts);

bool mw_evtime_started(const struct mw_evtime *t);
mw_time_t mw_evtime_now(const struct mw_evtime *t);
size_t mw_evtime_held(const struct mw_evtime *t);
/* Restores now (from a checkpoint). */
void mw_evtime_set_now(struct mw_evtime *t, mw_time_t now, bool started);

#endif
