/* mw_detector.h - one detection kind behind an ops table
 *
 * Every rule kind is a detector: the single-event query, the sequence, and
 * each window kind (threshold, distinct, new_terms, absence). The engine
 * (mw_engine.c) holds, per loaded rule, the detector's ops, the rule's
 * definition and one state, and calls only these functions: it has no
 * branch on the kind. mw_detector_of() maps a rule to its ops (the table in
 * src/detect/mw_detector.c, one entry per kind).
 *
 * Ownership:
 * - def is the detector definition compiled into the rule (a matcher, a
 *   struct mw_seq_def, a struct mw_window_def). It belongs to the rule,
 *   lives as long as the rule and is never written by a detector or the
 *   engine. Run options (the cap on open keys, the lateness) come in
 *   through state_new as struct mw_detect_opts and are kept in the state.
 * - st is created by state_new and owned by the caller until state_free.
 *   A state may outlive its rule across a reload when the new rule's shape
 *   is unchanged: it is then used with the new rule's def.
 * - every callback borrows ev, ctx and emit for the call; a detector that
 *   keeps an event takes a reference (mw_event_ref).
 * - emit->fn borrows evs (time order) for the call; key (the group key
 *   values, a JSON array) and details (an object for moonwatch.<kind>) are
 *   borrowed too, and both are NULL for query and sequence alerts.
 *
 * Optional entries (NULL allowed): advance, finish (the detector raises
 * nothing on the passage of time), dump and restore (the detector keeps no
 * window state: not checkpointed, not carried across a reload, reported as
 * state "none"), load and save (no state file under --state-dir), budget
 * and shed (no retained events, no byte budget). All the
 * others are always set.
 */
#ifndef MW_DETECTOR_H
#define MW_DETECTOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "mw_event.h"
#include "mw_match.h"
#include "mw_mem.h"
#include "mw_time.h"

struct mw_evtab;
struct mw_rule;

/* Run options of a detector state (copied into the state by state_new). */
struct mw_detect_opts {
    size_t max_keys;    /* open keys / groups per rule; 0: unlimited */
    mw_time_t lateness; /* how far behind "now" an event may arrive and
                         * still take its place; 0: none */
    size_t max_bytes;   /* bytes of retained state per rule (events held
                         * by open keys / groups, their arrays); 0: unlimited */
};

/* What retaining ev costs against a byte budget: its line's length (its
 * text once compacted) and its record. An event held by several keys or
 * rules is charged to each. */
static inline size_t mw_event_cost(const struct mw_event *ev)
{
    return sizeof(*ev) + (ev->bytes ? ev->bytes : ev->rawlen);
}

/* A state's byte accounting (the budget op). */
struct mw_detect_bytes {
    uint64_t bytes;        /* held now */
    uint64_t byte_evicted; /* keys / groups dropped by a byte budget */
};

/* One alert: see the ownership notes above. */
typedef void (*mw_detector_emit_fn)(void *ud, struct mw_event *const *evs, int n,
                                    json_t *key, json_t *details);
struct mw_emit {
    mw_detector_emit_fn fn;
    void *ud;
};

struct mw_detector_ops {
    /* "query", "sequence", "threshold", ...: the rule's type in statistics,
     * `check` and the checkpoint's window kind. */
    const char *kind;
    /* A fresh, empty state. opts may be NULL (no cap, no lateness). */
    void *(*state_new)(const void *def, const struct mw_detect_opts *opts);
    void (*state_free)(void *st); /* NULL is a no-op */
    /* Feeds one event (its time moves the state's now first). */
    void (*process)(const void *def, void *st, struct mw_event *ev,
                    const struct mw_match_ctx *ctx, const struct mw_emit *emit);
    /* Moves now forward (never back): frees expired state, raises what the
     * passage of time completes (absence). */
    void (*advance)(const void *def, void *st, mw_time_t now, const struct mw_emit *emit);
    /* End of input: raises what no further event can prevent. */
    void (*finish)(const void *def, void *st, const struct mw_emit *emit);
    /* The matchers that can make the detector act on an event (each once),
     * for the prefilter's literals and for counting late events. Writes at
     * most max of them to out and returns how many there are. */
    int (*matchers)(const void *def, const struct mw_matcher **out, int max);
    /* Checkpoints (mw_checkpoint): the state as JSON, events by index in t
     * (new reference). restore replaces whatever st holds (counters other
     * than open start at zero); returns 0, 1 with err set and st left empty
     * when doc is a well-formed state this run cannot use (a sequence
     * written with --max-lateness on, read with it off), or -1 with err set
     * and st left empty when doc is malformed: a checkpoint is untrusted
     * input, so restore checks every field, bound, index and duplicate
     * before use (docs/SECURITY.md, item 8). The format is the checkpoint file's:
     * keep it readable by older builds' loaders and vice versa. */
    json_t *(*dump)(const void *def, const void *st, struct mw_evtab *t);
    int (*restore)(const void *def, void *st, const json_t *doc, const struct mw_evtab *t,
                   struct mw_error *err);
    /* Pending sequences / groups held now (reload and removal messages). */
    uint64_t (*open)(const void *st);
    /* Adds the detector's counters to a rule's statistics object o. */
    void (*stats)(const void *def, const void *st, json_t *o);
    /* Reload identity: appends to out a text that is equal for two defs
     * exactly when a state of one can serve the other. */
    void (*shape)(const void *def, struct mw_buf *out);
    /* Durable state under --state-dir (new_terms' first-seen history), at
     * path. load returns 0 (also when path does not exist) or -1 with err
     * set, the state staying empty; save returns 0 or -1 with err set. */
    int (*load)(const void *def, void *st, const char *rule_id, const char *path,
                struct mw_error *err);
    int (*save)(const void *def, const void *st, const char *rule_id, const char *path,
                struct mw_error *err);
    /* Byte budgets: budget reports the bytes held and the byte evictions
     * so far; shed drops keys or groups, oldest first, until the state
     * holds at most max_bytes, counting each as a byte eviction. NULL for
     * a detector that keeps no events (query). */
    void (*budget)(void *st, struct mw_detect_bytes *out); /* may settle its accounts */
    void (*shed)(const void *def, void *st, size_t max_bytes);
};

/* The detector of a rule (never NULL for a loaded rule) and the definition
 * its ops take (borrowed from the rule). */
const struct mw_detector_ops *mw_detector_of(const struct mw_rule *r);
const void *mw_detector_def(const struct mw_rule *r);

/* True when any of the detector's matchers matches ev (late counting). */
bool mw_detector_matches(const struct mw_detector_ops *ops, const void *def,
                         const struct mw_event *ev, const struct mw_match_ctx *ctx);

/* The most matchers any detector reports (a sequence's steps and until). */
#define MW_DETECTOR_MAX_MATCHERS 130

#endif
