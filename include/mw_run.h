/* mw_run.h - the `run` loop: inputs merged in event-time order into the engine
 *
 * Inputs are read line by line; each input's next event waits in a head
 * slot and the oldest head (event time, then input order) is dispatched
 * next, so separate exports of different data sets interleave as they
 * happened. Rejected lines are reported with input name and line number,
 * counted per reason and optionally kept in a dead-letter file.
 *
 * "Now" is the newest event time dispatched. An event behind now by at most
 * max_lateness is dispatched at once and the windows place it in event-time
 * order (no event waits); one further behind is refused as too_late (counted
 * per input and, through mw_engine_count_late, per rule; dead-lettered). An
 * event further ahead of the wall clock than max_future is refused as
 * future_timestamp, so a wrong clock cannot move now for everyone.
 *
 * With the engine's prefilter active, a line that contains none of the
 * rules' literals is not parsed: its top-level timestamp is read and it
 * moves event time like an event that matches nothing (mw_engine_advance),
 * so windows and counters are as if it had been parsed. With threads > 1,
 * framed lines go in batches to parser threads (prefilter and parse there);
 * this thread consumes each input's batches in order and dispatches as with
 * one thread, so event order, alerts and counters are the same.
 */
#ifndef MW_RUN_H
#define MW_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mw_engine.h"
#include "mw_reload.h"
#include "mw_shape.h"

enum mw_summary_format {
    MW_SUMMARY_TEXT,
    MW_SUMMARY_JSON,
    MW_SUMMARY_NONE,
};

/* Progress of a run, for `replay`'s progress bar and report. */
struct mw_run_progress {
    uint64_t events;          /* dispatched */
    uint64_t bytes;           /* read from the input files (compressed for .gz) */
    uint64_t lines, rejected; /* over all inputs */
    uint64_t reordered;       /* out of order, within the lateness: placed in order */
    uint64_t too_late;        /* further behind: refused (also in rejected) */
    bool done;                /* the final call */
};

struct mw_run_opts {
    char *const *inputs; /* borrowed; "-" is stdin; none means stdin */
    int ninputs;
    const char *timestamp_field;
    size_t max_line;
    const char *dead_letter; /* NULL: none */
    enum mw_summary_format summary;
    int max_reports_per_input; /* rejected-line messages before going quiet */
    bool no_prefilter;         /* parse every line */
    int threads;               /* parser threads; <= 1: parse on this thread */
    mw_time_t max_lateness;    /* how far behind "now" an event may arrive */
    mw_time_t max_future;      /* how far ahead of the wall clock; <0: no bound */
    mw_time_t max_skew;        /* ahead of the wall clock that moves "now" at
                                * once; <0: no bound (mw_merge.h) */
    int time_confirm;          /* jumps in a row that confirm a jump */
    mw_time_t max_jump;        /* batch: largest unconfirmed step; <0: off */
    bool follow;               /* tail the inputs until SIGINT/SIGTERM */
    struct mw_reload *reload;  /* borrowed, follow mode: rule watcher, may be NULL */
    bool health_records;       /* started/stopped health records */
    const char *metrics_file;  /* Prometheus textfile, NULL: none */
    int metrics_interval_ms;   /* follow mode; <= 0: 5000 */
    /* checkpoints (mw_checkpoint.h): on when state_dir is set in follow mode */
    const char *state_dir;      /* NULL: no checkpoints */
    int checkpoint_interval_ms; /* <= 0: the default */
    struct mw_shape *shape;     /* borrowed, may be NULL */
    int rotate_wait_ms;         /* follow mode, see mw_tail.h; <= 0: default */
    /* optional: called every few thousand events and once at the end */
    void (*progress)(void *ud, const struct mw_run_progress *p);
    void *progress_ud;
};

/* Runs the engine over the inputs to their end or, in follow mode, until
 * SIGINT or SIGTERM (SIGHUP reloads every rule): then what the inputs hold
 * is processed, outputs are flushed and it returns 0. Returns 2 when an
 * input or the dead-letter file cannot be opened. Summary to stderr; the
 * metrics file (if any) is rewritten every interval and at the end. */
int mw_run(struct mw_engine *e, struct mw_output *out, const struct mw_run_opts *o);

/* Installs the process's one SIGHUP handler (src/pipeline/mw_follow_loop.c)
 * for a run that does not follow: outputs reopen their files. In follow
 * mode mw_run installs the same handler, which also reloads every rule. */
void mw_run_install_sighup(void);

#endif
