/* mw_shape.h - alert shaping between the engine and the outputs
 *
 * Every alert the engine raises passes through here before any output sees
 * it, in this order: dedup (an alert id already processed is dropped), the
 * rule's on_alert hook (run by the engine, in the rule's sandbox), then
 * suppression (one alert per suppression key per window; the next delivered
 * alert for that key carries how many were suppressed, as Elastic's
 * suppression.docs_count), then the rule's cap (max_alerts per interval;
 * what is dropped is counted and reported in one health record per rule and
 * interval).
 *
 * Windows and intervals run on event time (the last contributing event's
 * time), so a replay gives the same result as the live run. State is keyed by
 * rule id, never by the loaded rule object, so it survives a rule reload;
 * with a state folder it also survives a restart: processed alert ids are
 * appended to STATE/alert-ids as they are decided ("ID EPOCH_MS" per line),
 * and suppression windows and cap intervals are saved to STATE/shape.json
 * by a saver thread every save_interval while they change, and on exit, so a
 * crash loses at most one interval of shaping state.
 *
 * The dedup store is bounded: an id is forgotten dedup_ttl (wall clock)
 * after it was recorded. Ids sit on a list in the order they were recorded,
 * so expiry costs O(1) per id; STATE/alert-ids is rewritten (temp file,
 * fsync, rename) when at least half of its lines are expired or superseded.
 * Every entry point is safe against the saver thread (one mutex).
 */
#ifndef MW_SHAPE_H
#define MW_SHAPE_H

#include <jansson.h>
#include <stdbool.h>

#include "mw_mem.h"
#include "mw_output.h"
#include "mw_rule.h"
#include "mw_time.h"

struct mw_shape;

#define MW_SHAPE_DEFAULT_DEDUP_TTL (7 * 86400 * INT64_C(1000000)) /* 7 days */
#define MW_SHAPE_DEFAULT_SAVE_INTERVAL (5 * INT64_C(1000000))     /* 5 s */

struct mw_shape_opts {
    mw_time_t dedup_ttl;     /* > 0; 0 means the default */
    mw_time_t save_interval; /* > 0; 0 means the default */
    mw_time_t (*now)(void);  /* wall clock (us); NULL: the real one */
};

/* state_dir may be NULL (in memory only); it is created when missing.
 * o may be NULL (defaults). Borrows out. Returns NULL with err set when the
 * state cannot be read or the folder cannot be created. */
struct mw_shape *mw_shape_open(const char *state_dir, const struct mw_shape_opts *o,
                               struct mw_output *out, struct mw_error *err);
/* mw_shape_open with the default options. */
struct mw_shape *mw_shape_new(const char *state_dir, struct mw_output *out,
                              struct mw_error *err);
/* Writes the shaping state now when it changed since the last save (the
 * saver thread does this every save_interval); fsyncs the id store. */
void mw_shape_save(struct mw_shape *s);
/* Saves the state (when there is a state folder) and frees. NULL is a no-op. */
void mw_shape_free(struct mw_shape *s);

/* True when an alert with this id was already processed (now or, with a
 * state folder, by an earlier run); counts it against rule_id. */
bool mw_shape_duplicate(struct mw_shape *s, const char *rule_id, const char *id);

/* Records that the rule's hook dropped the alert (the id counts as
 * processed). */
void mw_shape_hook_dropped(struct mw_shape *s, const char *rule_id, const char *id);
void mw_shape_hook_failed(struct mw_shape *s, const char *rule_id);

enum mw_shape_verdict {
    MW_SHAPE_DELIVERED,
    MW_SHAPE_SUPPRESSED,
    MW_SHAPE_CAPPED,
    MW_SHAPE_REPLAYED, /* delivered before a restart: not written again */
};

/* Applies the rule's suppression and cap to alert (borrowed; gains a
 * moonwatch.suppression object when the rule suppresses) at event time t,
 * marks its id processed and, when it passes, writes it to the outputs. evs
 * are the contributing events (suppression keys are read from the first event
 * that has the field). */
enum mw_shape_verdict mw_shape_submit(struct mw_shape *s, const char *rule_id,
                                      const struct mw_alert_policy *p, json_t *alert,
                                      struct mw_event *const *evs, int n, mw_time_t t);

/* Checkpoints (mw_checkpoint). Every processed id carries the generation
 * it was decided in: the number of the checkpoint that will cover it.
 *
 * mw_shape_checkpoint: the suppression windows, cap intervals and the ids
 * still waiting to be raised again after a restart, as JSON (new
 * reference), taken at the cut of checkpoint number gen; decisions from
 * now on belong to gen + 1. fsyncs the id store first.
 *
 * mw_shape_restore: resuming from checkpoint gen: the suppression and cap
 * tables become the checkpoint's (consistent with the window state it
 * holds), and every id decided after it (generation > gen, or listed as
 * pending) is marked for replay: when the replayed stream raises it again
 * it goes through hook, suppression and caps as it did the first time,
 * so that state moves the same way, but it is not written to the outputs
 * again (MW_SHAPE_REPLAYED), and mw_shape_duplicate does not drop it.
 * Returns how many ids were marked.
 *
 * mw_shape_generation: the number the next checkpoint must carry (above
 * every generation in the store). */
json_t *mw_shape_checkpoint(struct mw_shape *s, uint64_t gen);
uint64_t mw_shape_restore(struct mw_shape *s, const json_t *doc, uint64_t gen);
uint64_t mw_shape_generation(struct mw_shape *s);

/* End of input: one health record per rule whose current interval dropped
 * alerts (the interval is then considered reported). */
void mw_shape_finish(struct mw_shape *s);

/* Adds the rule's shaping counters to the stats object o: delivered,
 * deduplicated, suppressed, suppressed_pending, capped, hook_dropped,
 * hook_errors. */
void mw_shape_rule_stats(struct mw_shape *s, const char *rule_id, json_t *o);

#endif
