/* mw_seq.h - EQL sequences over event time, one state machine per join key
 *
 * Semantics (EQL-SEMANTICS.md R2-R11): stages are checked from the last to
 * the first, so one event advances a pending sequence by one stage at most;
 * each (key, stage) holds at most one pending sequence and a newer one
 * replaces it; stage k+1's event must come strictly after stage k's in the
 * (timestamp, arrival) order; maxspan is inclusive, first to last event; a
 * completed sequence leaves the machine; a null or missing non-optional key
 * takes no part; an `until` match for a key cancels that key's pending
 * sequences whose last event came before it.
 *
 * Late events: with a lateness > 0 (mw_detect_opts) an event older than "now" (but not by
 * more than the lateness) takes its place in (ts, seq) order: it can start,
 * advance, complete or cancel sequences exactly as if it had arrived in
 * order, except that alerts already raised are never withdrawn. In-order
 * events are applied at once. Events later than that bound must not be fed
 * (the caller counts them); see mw_seq.c for the log-and-replay scheme.
 *
 * The definition (mw_seq_def) belongs to the compiled rule and is immutable
 * (nothing writes it after the rule is built); the state (mw_seq_state)
 * holds the pending sequences and the run options (cap on open keys,
 * lateness) and can outlive a rule reload when the definition's shape is
 * unchanged. The engine drives it through the sequence detector
 * (det_sequence.c, mw_detector.h). Keystates sit in a
 * dict and on an LRU list ordered by last update, so expiry and the cap on
 * open keys cost O(1) per freed key.
 */
#ifndef MW_SEQ_H
#define MW_SEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_detector.h"
#include "mw_event.h"
#include "mw_field.h"
#include "mw_key.h"
#include "mw_match.h"

#define MW_SEQ_MAX_STEPS 128

struct mw_seq_def {
    int nsteps;                                 /* after expanding runs */
    struct mw_matcher *where[MW_SEQ_MAX_STEPS]; /* borrowed or owned, see owns_where */
    bool owns_where[MW_SEQ_MAX_STEPS];          /* runs=N shares one matcher */
    struct mw_seq_keys keys[MW_SEQ_MAX_STEPS];  /* owned */
    int nkeys;                                  /* per step, shared + own */
    struct mw_matcher *until_where;             /* owned, may be NULL */
    struct mw_seq_keys until_keys;              /* owned */
    mw_time_t maxspan;                          /* 0: none */
    bool keys_ci;                               /* case-insensitive string keys */
};

struct mw_seq_stats {
    uint64_t matched[MW_SEQ_MAX_STEPS]; /* events whose where matched, per step */
    uint64_t until_matched;
    uint64_t no_key;    /* matched a step but a join key was null/missing */
    uint64_t started;   /* partial sequences opened at step 1 */
    uint64_t replaced;  /* pending sequences overwritten by a newer one */
    uint64_t expired;   /* pending sequences dropped by maxspan */
    uint64_t cancelled; /* pending sequences cancelled by until */
    uint64_t evicted;   /* pending sequences dropped by the key cap */
    uint64_t completed;
    uint64_t open;           /* pending sequences now */
    uint64_t open_keys;      /* keys with state now */
    uint64_t late_replays;   /* out-of-order events placed by a replay */
    uint64_t bytes;          /* retained now: keys, partials, logs, the cost of
                              * their events (mw_event_cost) */
    uint64_t byte_evicted;   /* keys dropped by the byte budget */
    uint64_t multi_keyed;    /* step/until matches that gave several keys (R8b) */
    uint64_t fanout_dropped; /* key combinations over MW_KEY_MAX_FANOUT */
};

struct mw_seq_state;

/* Called for each completed sequence. evs are borrowed for the call (ref
 * them to keep them); n == def->nsteps. */
typedef void (*mw_seq_emit_fn)(void *ud, struct mw_event *const *evs, int n);

/* Observer (for `moonwatch explain`): told of every state transition. With
 * no observer set, the cost is one branch per transition. */
enum mw_seq_trace_kind {
    MW_SEQ_T_NO_KEY,     /* a step matched, but a join key is null/missing */
    MW_SEQ_T_STARTED,    /* step 1 opened a pending sequence */
    MW_SEQ_T_REPLACED,   /* a pending sequence was overwritten by a newer one */
    MW_SEQ_T_NO_PENDING, /* step k matched; nothing pending at stage k-1 for the key */
    MW_SEQ_T_NOT_AFTER,  /* step k matched, but not strictly after stage k-1's event */
    MW_SEQ_T_ADVANCED,   /* the pending sequence moved to the event's step */
    MW_SEQ_T_COMPLETED,
    MW_SEQ_T_EXPIRED,   /* dropped: maxspan exceeded */
    MW_SEQ_T_CANCELLED, /* dropped by an until match for its key */
    MW_SEQ_T_EVICTED,   /* dropped by the cap on open keys */
    MW_SEQ_T_UNTIL,     /* the until condition matched the event */
};

struct mw_seq_trace {
    enum mw_seq_trace_kind kind;
    int step;                    /* 0-based step of ev, -1 when not a step */
    const struct mw_event *ev;   /* the event being processed (borrowed) */
    struct mw_event *const *evs; /* the pending sequence concerned (borrowed), */
    int n;                       /* its n events; NULL/0 when none */
};

typedef void (*mw_seq_observer_fn)(void *ud, const struct mw_seq_trace *t);

void mw_seq_def_free(struct mw_seq_def *def);

/* A state with the run options opts (NULL: no cap on open keys, no
 * lateness); mw_seq_state_new is mw_seq_state_new_with(def, NULL). */
struct mw_seq_state *mw_seq_state_new_with(const struct mw_seq_def *def,
                                           const struct mw_detect_opts *opts);
struct mw_seq_state *mw_seq_state_new(const struct mw_seq_def *def);
/* Empties st as if new (pending sequences freed, counters zeroed); keeps
 * its options and observer. */
void mw_seq_state_reset(struct mw_seq_state *st);
/* Frees all pending sequences (releasing their events). NULL is a no-op. */
void mw_seq_state_free(struct mw_seq_state *st);
const struct mw_seq_stats *mw_seq_stats(const struct mw_seq_state *st);
/* Sets (fn non-NULL) or clears the observer. */
void mw_seq_set_observer(struct mw_seq_state *st, mw_seq_observer_fn fn, void *ud);
/* Calls fn for every pending sequence still open (end-of-input reports). */
void mw_seq_foreach_pending(const struct mw_seq_state *st,
                            void (*fn)(void *ud, struct mw_event *const *evs, int n),
                            void *ud);

/* Feeds one event. Evaluates every step's matcher (Lua predicates through
 * ctx), updates the state and calls emit for each completed sequence. */
void mw_seq_process(const struct mw_seq_def *def, struct mw_seq_state *st,
                    struct mw_event *ev, const struct mw_match_ctx *ctx,
                    mw_seq_emit_fn emit, void *ud);

/* Drops the oldest keys until st holds at most max_bytes (the engine's
 * total budget); each counts as evicted and byte_evicted. */
void mw_seq_shed(struct mw_seq_state *st, size_t max_bytes);

/* Moves "now" forward to the given event time (never back) and drops
 * pending sequences that no event still acceptable (time >= now -
 * lateness) can complete. The engine calls it before each event with the
 * run's notion of now; a follow mode calls it as wall time passes. */
void mw_seq_advance(const struct mw_seq_def *def, struct mw_seq_state *st, mw_time_t now);

/* Checkpoints (mw_checkpoint): the pending sequences, their logs and bases
 * as JSON, events by index in t (new reference). restore replaces the
 * state with such a document's; returns 0, 1 with err set when it was
 * written with lateness on and this state has it off (or the reverse), or
 * -1 with err set when it is malformed (every field, index, order and
 * duplicate is checked: checkpoints are untrusted input); on 1 and -1 the
 * state is left empty. Counters other than open/open_keys start at zero. */
struct mw_evtab;
json_t *mw_seq_dump(const struct mw_seq_state *st, struct mw_evtab *t);
int mw_seq_restore(const struct mw_seq_def *def, struct mw_seq_state *st,
                   const json_t *doc, const struct mw_evtab *t, struct mw_error *err);

#endif
