/* mw_run.h - the `run` loop: inputs merged in event-time order into the engine
 *
 * Inputs are read line by line; each input's next event waits in a head
 * slot and the oldest head (event time, then input order) is dispatched
 * next, so separate exports of different data sets interleave as they
 * happened. Rejected lines are reported with input name and line number,
 * counted per reason and optionally kept in a dead-letter file.
 *
 * With the engine's prefilter active, a line that contains none of the
 * rules' literals is not parsed: its top-level timestamp is read and event
 * time moves to it (mw_engine_advance), so windows behave as if it had been
 * parsed and matched nothing. With threads > 1, framed lines go in batches
 * to a pool of parser threads (prefilter and parse there); this thread
 * consumes each input's batches in order and dispatches as with one thread,
 * so event order, alerts and counters are the same.
 */
#ifndef MW_RUN_H
#define MW_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mw_engine.h"

enum mw_summary_format {
    MW_SUMMARY_TEXT,
    MW_SUMMARY_JSON,
    MW_SUMMARY_NONE,
};

struct mw_run_opts {
    char *const *inputs;        /* borrowed; "-" is stdin; none means stdin */
    int ninputs;
    const char *timestamp_field;
    size_t max_line;
    const char *dead_letter;    /* NULL: none */
    enum mw_summary_format summary;
    int max_reports_per_input;  /* rejected-line messages before going quiet */
    bool no_prefilter;          /* parse every line */
    int threads;                /* parser threads; <= 1: parse on this thread */
};

/* Runs the engine over the inputs to their end. Returns 0, or 2 when an
 * input or the dead-letter file cannot be opened. Summary to stderr. */
int mw_run(struct mw_engine *e, struct mw_output *out, const struct mw_run_opts *o);

#endif
