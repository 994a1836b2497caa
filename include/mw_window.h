/* mw_window.h - threshold, distinct-count, first-seen and absence windows
 *
 * Four window kinds beside sequences (mw_seq), each keyed per rule by a
 * group key built like a sequence join key (mw_seq_key: typed, exact or
 * keys_ci, null/missing keys take no part unless `?field`):
 *
 * - threshold: at least `count` matching events of one group within
 *   `window` of event time (Elastic threshold rules). Fires at once when the
 *   count is reached, then the group starts over (the next alert needs
 *   `count` new events).
 * - distinct: at least `count` distinct values of `field` in one group
 *   within `window` (Elastic cardinality, Sigma value_count); fires and
 *   starts over the same way.
 * - new_terms: the tuple of 1-3 field values was not seen by this rule within
 *   `history` before (Elastic new_terms). Persisted with mw_window_save/load.
 * - absence: an event matching `first`, then no event matching `absent` for
 *   the same key within `within`. Fires when the window has passed beyond
 *   the lateness bound (mw_window_advance), or at end of input.
 *
 * Event time, late events: all kinds take events up to the run's lateness
 * behind "now" at their event time. Expired state is freed in LRU order as
 * now moves (mw_window_advance); at the per-rule cap (max_keys of the
 * state's mw_detect_opts) the least recently updated group is evicted and
 * counted. Each group keeps references only to the events its alert needs
 * (at most MW_WINDOW_ALERT_EVENTS).
 *
 * Each kind is a detector (mw_detector.h) in its own file under
 * src/detect/windows/; mw_window_ops(kind) gives its ops, and the
 * mw_window_* functions below go through them (for tests and tools that
 * hold a window definition rather than a rule). The definition belongs to
 * the rule and is never written once built; run options live in the state.
 */
#ifndef MW_WINDOW_H
#define MW_WINDOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mw_detector.h"
#include "mw_event.h"
#include "mw_match.h"
#include "mw_mem.h"
#include "mw_seq.h"

#define MW_WINDOW_ALERT_EVENTS 10
#define MW_WINDOW_MAX_COUNT 100000
#define MW_WINDOW_MAX_DISTINCT 1000

enum mw_window_kind {
    MW_WINDOW_THRESHOLD,
    MW_WINDOW_DISTINCT,
    MW_WINDOW_NEW_TERMS,
    MW_WINDOW_ABSENCE,
};

struct mw_window_def {
    enum mw_window_kind kind;
    struct mw_matcher *where;        /* owned; absence: the `first` matcher */
    struct mw_seq_keys by;           /* owned; group key, new_terms' fields,
                                      * absence: first's key */
    int nby;                         /* 0: one group for the rule */
    struct mw_matcher *absent_where; /* owned, absence only */
    struct mw_seq_keys absent_by;    /* owned, absence only, nby keys */
    struct mw_path *field;           /* owned, distinct only */
    uint64_t count;                  /* threshold, distinct */
    mw_time_t span;                  /* window, history or within */
    bool keys_ci;
    bool warmup; /* new_terms: no alert before the state
                  * covers `history` of event time */
};

struct mw_window_stats {
    uint64_t matched; /* events whose where (first) matched */
    uint64_t absent_matched;
    uint64_t no_key;
    uint64_t fired;
    uint64_t expired;      /* groups dropped as time moved on */
    uint64_t evicted;      /* groups dropped by the cap */
    uint64_t cancelled;    /* absence: windows closed by an `absent` event */
    uint64_t open;         /* groups (terms, pending windows) held now */
    uint64_t loaded;       /* new_terms: terms read from the state file */
    uint64_t bytes;        /* retained now: groups, their arrays and the cost
                            * of the events they hold (mw_event_cost) */
    uint64_t byte_evicted; /* groups dropped by the byte budget */
};

struct mw_window_state;

/* Called for each alert. evs (time order) are borrowed for the call;
 * details is a borrowed object for the alert's moonwatch.<kind> field;
 * key is the group key values (borrowed JSON array). */
typedef mw_detector_emit_fn mw_window_emit_fn;

/* The detector of a window kind (the table in src/detect/mw_detector.c), or
 * NULL for a value that is not a kind. */
const struct mw_detector_ops *mw_window_ops(enum mw_window_kind k);

const char *mw_window_kind_name(enum mw_window_kind k);
void mw_window_def_free(struct mw_window_def *def);

/* A state with opts (NULL: no cap, no lateness); mw_window_state_new is
 * mw_window_state_new_with(def, NULL). */
struct mw_window_state *mw_window_state_new_with(const struct mw_window_def *def,
                                                 const struct mw_detect_opts *opts);
struct mw_window_state *mw_window_state_new(const struct mw_window_def *def);
void mw_window_state_free(struct mw_window_state *st);
const struct mw_window_stats *mw_window_stats(const struct mw_window_state *st);

void mw_window_process(const struct mw_window_def *def, struct mw_window_state *st,
                       struct mw_event *ev, const struct mw_match_ctx *ctx,
                       mw_window_emit_fn emit, void *ud);
/* Moves now forward (never back): frees expired state, fires absence
 * windows that closed more than the lateness ago. */
void mw_window_advance(const struct mw_window_def *def, struct mw_window_state *st,
                       mw_time_t now, mw_window_emit_fn emit, void *ud);
/* End of input: no event will come, so absence windows that ended by now
 * fire without waiting for the lateness. */
void mw_window_finish(const struct mw_window_def *def, struct mw_window_state *st,
                      mw_window_emit_fn emit, void *ud);

/* Checkpoints (mw_checkpoint): every group of any kind as JSON, events by
 * index in t (new reference); restore fills an empty state (returns 0, or
 * -1 with err set and the state left empty). Counters other than open
 * start at zero. */
struct mw_evtab;
json_t *mw_window_dump(const struct mw_window_def *def, const struct mw_window_state *st,
                       struct mw_evtab *t);
int mw_window_restore(const struct mw_window_def *def, struct mw_window_state *st,
                      const json_t *doc, const struct mw_evtab *t, struct mw_error *err);

/* new_terms persistence: a versioned text file written atomically (temp
 * file, fsync, rename). load returns 0 (also when path does not exist) or
 * -1 with err set for an unreadable or corrupt file (the state stays
 * empty). Other kinds: no-ops returning 0. */
int mw_window_save(const struct mw_window_def *def, const struct mw_window_state *st,
                   const char *rule_id, const char *path, struct mw_error *err);
int mw_window_load(const struct mw_window_def *def, struct mw_window_state *st,
                   const char *rule_id, const char *path, struct mw_error *err);

#endif
