/* mw_engine.h - the rule set: load, dispatch, alerts, statistics
 *
 * The engine owns the loaded rules and, apart from them, each rule's window
 * state (so a later per-rule reload can keep state when the shape is
 * unchanged). Events are dispatched to every rule in order; each rule sees
 * each event exactly once. A rule's failures are counted against that rule
 * only; after quarantine_after failed predicate calls in a row the rule is
 * quarantined (skipped) until it is reloaded.
 *
 * Reload is per rule file: the new version is loaded in a fresh sandbox off
 * to the side and swapped in only if it loads; the caller does it between
 * two dispatches, so no event is lost or seen twice by the rule. Window state
 * survives when the rule id and shape (mw_rule_shape) are unchanged.
 * Host events (loaded, reload failed, quarantined, state dropped, removed)
 * are written as health records (mw_health) when opts.health_records.
 */
#ifndef MW_ENGINE_H
#define MW_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "mw_event.h"
#include "mw_prefilter.h"
#include "mw_rulecode.h"

struct mw_engine_opts {
    const char *lua_dir; /* borrowed */
    struct mw_sandbox_limits limits;
    bool alert_time_from_events;  /* @timestamp = last event time */
    size_t max_open_keys;         /* per window rule; 0 = unlimited */
    size_t max_state_bytes;       /* per rule, retained state (mw_detect_opts
                                   * max_bytes); 0 = unlimited */
    size_t max_total_state_bytes; /* all rules together; over it the rule
                                   * holding most sheds its oldest; 0 = unlimited */
    mw_time_t lateness;           /* --max-lateness, microseconds */
    const char *state_dir;        /* borrowed; NULL: no persistence */
    uint64_t quarantine_after;    /* consecutive failures; 0 = never */
    bool health_records;          /* write rule health records */
};

/* The defaults of run and replay (docs/SECURITY.md, item 6). */
#define MW_ENGINE_DEFAULT_STATE_BYTES ((size_t)256 * 1024 * 1024)
#define MW_ENGINE_DEFAULT_TOTAL_STATE_BYTES ((size_t)1024 * 1024 * 1024)

struct mw_engine;

/* Borrows out (may be NULL for `check`). */
/* Where an alert goes when no shaping (dedup, suppression, caps) is set:
 * the pipeline passes its outputs (mw_output_write_to); the engine knows
 * no output. Borrows alert; returns 0 or -1 (counted by the writer). */
typedef int (*mw_alert_write_fn)(void *ud, const json_t *alert);

/* write may be NULL (alerts are then only counted, e.g. `check`, `test`). */
struct mw_engine *mw_engine_new(const struct mw_engine_opts *opts,
                                mw_alert_write_fn write, void *write_ud);
void mw_engine_free(struct mw_engine *e);

/* Loads every rule file in paths (files, or folders scanned recursively for
 * *.lua in name order). Reports each failure on stderr as "file:line: msg"
 * and returns the number of files that failed (duplicate ids count). */
int mw_engine_load(struct mw_engine *e, char *const *paths, int npaths);
size_t mw_engine_rule_count(const struct mw_engine *e);

/* Writes a health record of kind (fields stolen, may be NULL) when the
 * engine's options ask for health records; else drops fields. */
void mw_engine_health(struct mw_engine *e, const char *kind, json_t *fields);

/* The largest rule file the scan accepts. */
#define MW_ENGINE_RULE_MAX_BYTES (16 * 1024 * 1024)

/* Lists the rule files under paths (files as given; folders scanned
 * recursively for *.lua, in name order) into *files (new array of new
 * strings, caller frees both). Each folder and each file is listed once
 * (known by device and inode: symlink loops and two paths to one file are
 * read once); only regular files of at most MW_ENGINE_RULE_MAX_BYTES are
 * listed, a FIFO, device or socket named *.lua is refused. Returns the
 * number of paths that could not be read or were refused (reported on
 * stderr unless quiet). */
int mw_engine_scan(char *const *paths, int npaths, char ***files, size_t *nfiles,
                   bool quiet);

/* Loads path in a fresh sandbox and, if it loads and its id is not taken by
 * another file's rule, swaps it in for the rule loaded from path (or adds
 * it). Window state is kept when id and shape are unchanged, else dropped
 * with a log line and a state_dropped record; a quarantine is lifted.
 * Returns 0, or -1 when the new version failed: the running version (if any)
 * stays, the error ("path:line: msg") is logged and recorded. */
int mw_engine_reload_file(struct mw_engine *e, const char *path);
/* Removes the rule loaded from path and frees its window state. Returns 0,
 * or -1 when no rule was loaded from path. */
int mw_engine_remove_file(struct mw_engine *e, const char *path);
bool mw_engine_has_file(const struct mw_engine *e, const char *path);
/* Successful and failed reloads so far. */
void mw_engine_reload_counts(const struct mw_engine *e, uint64_t *ok, uint64_t *failed);

/* Feeds one event to every rule. Borrows ev. */
void mw_engine_dispatch(struct mw_engine *e, struct mw_event *ev);
/* An event refused as too late: counted against each rule it would have
 * matched (any step, until, where). Borrows ev. */
void mw_engine_count_late(struct mw_engine *e, const struct mw_event *ev);
/* Moves every rule's notion of now to the given event time (never back):
 * frees expired state and fires windows that complete by the passage of
 * time (absence). Dispatch does this with each event's time; a follow mode
 * calls it as wall time passes over quiet inputs. */
void mw_engine_advance(struct mw_engine *e, mw_time_t now);
/* The prefilter of the loaded rules (borrowed; rebuilt, and the old one
 * released, whenever the rule set changes: load, reload, removal). */
struct mw_prefilter *mw_engine_prefilter(const struct mw_engine *e);
/* Routes alerts through shape (dedup, suppression, caps) before the
 * outputs. Borrows shape; NULL writes straight to the outputs. */
struct mw_shape;
void mw_engine_set_shape(struct mw_engine *e, struct mw_shape *shape);
/* End of input: fires absence windows that ended by now, writes new_terms
 * state to the state directory. */
void mw_engine_finish(struct mw_engine *e);

/* Checkpoints: every rule's window state as a JSON array of {rule, shape,
 * state}, events by index in t (new reference). restore gives each loaded
 * rule whose id and shape match an entry that state (replacing the state
 * it was loaded with, first-seen history included); an entry without a
 * matching rule, or whose shape changed, is logged and skipped. The
 * checkpoint is untrusted input: an entry that is malformed, names a rule
 * twice or whose state does not pass the detector's restore checks makes
 * the whole restore fail (-1, err set) with every state left as it was.
 * Returns the number of rules restored. */
struct mw_evtab;
json_t *mw_engine_checkpoint(const struct mw_engine *e, struct mw_evtab *t);
int mw_engine_restore(struct mw_engine *e, const json_t *rules, const struct mw_evtab *t,
                      struct mw_error *err);

/* Called with every alert the engine raises (after it is written to the
 * outputs, if any); alert is borrowed for the call. For `moonwatch test`. */
typedef void (*mw_engine_alert_fn)(void *ud, const json_t *alert);
void mw_engine_set_alert_hook(struct mw_engine *e, mw_engine_alert_fn fn, void *ud);

uint64_t mw_engine_alerts(const struct mw_engine *e);
/* Per-rule statistics as a JSON array (new reference). */
json_t *mw_engine_stats(const struct mw_engine *e);
/* Prints one line per loaded rule (id, name, file) for `check`. */
void mw_engine_list(const struct mw_engine *e, FILE *fp);

#endif
