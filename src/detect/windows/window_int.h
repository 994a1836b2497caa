/* window_int.h - what the window kinds share (private to src/detect/windows/)
 *
 * window_common.c keeps the groups (one per key value, in a dict and on a
 * list), the LRU order and its eviction, the expiry as event time moves,
 * the alert frame (fire) and the checkpoint frame (dump/restore); each kind
 * (threshold.c, distinct.c, new_terms.c, absence.c) keeps what one event
 * does to a group and exports its struct mw_detector_ops, built mostly from
 * the win_* functions below. These names are private to this folder; the
 * public API is mw_window.h and mw_detector.h.
 *
 * Ownership: the state owns its groups, a group owns its arrays and holds a
 * reference to each event in ev[] and vals[].ev. The definition is the
 * rule's and is only read.
 */
#ifndef MW_WINDOW_INT_H
#define MW_WINDOW_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_detector.h"
#include "mw_dict.h"
#include "mw_evtab.h"
#include "mw_key.h"
#include "mw_window.h"

#define ABSENT_TIMES_MAX 16

struct dval {
    char *key; /* owned, type-tagged value bytes */
    size_t klen;
    mw_time_t ts;
    struct mw_event *ev; /* owned reference: newest with this value */
};

struct btime {
    mw_time_t ts;
    uint64_t seq;
};

struct group {
    struct group *prev, *next;
    mw_time_t newest;     /* newest event time (new_terms: last seen) */
    mw_time_t due;        /* absence: list order */
    uint32_t n, cap;      /* entries of ts / vals / bt */
    mw_time_t *ts;        /* threshold: sorted event times */
    struct dval *vals;    /* distinct */
    struct btime *bt;     /* absence: recent `absent` events */
    struct mw_event **ev; /* threshold: recent events; absence: ev[0] */
    int nev;
    size_t bytes; /* charged to stats.bytes (win_account) */
    size_t klen;
    char key[];
};

struct mw_window_state {
    struct mw_dict *groups;
    struct group *head, *tail;
    mw_time_t now;
    mw_time_t since;     /* new_terms: first event time covered */
    size_t max_states;   /* from mw_detect_opts.max_keys; 0: unlimited */
    size_t max_bytes;    /* from mw_detect_opts.max_bytes; 0: unlimited */
    struct group *dirty; /* got since its bytes were last charged, or NULL */
    mw_time_t lateness;  /* from mw_detect_opts */
    struct mw_buf key;   /* owned scratch: a group key */
    struct mw_buf vkey;  /* owned scratch: distinct's value key */
    struct mw_window_stats stats;
};

/* The list (LRU order, or due order for absence). */
void win_list_unlink(struct mw_window_state *st, struct group *g);
void win_list_append(struct mw_window_state *st, struct group *g);
/* Moves g to the back of the list (most recently updated). */
void win_list_touch(struct mw_window_state *st, struct group *g);
/* Frees g (its events released) and takes it off the list and the dict. */
void win_group_drop(struct mw_window_state *st, struct group *g);
/* The group of key (created, at the back of the list, when create). */
struct group *win_group_get(struct mw_window_state *st, const char *key, size_t klen,
                            bool create);
/* Evicts from the front of the list while over the cap on groups (never
 * keep) or over the byte budget (keep last, when it alone is over).
 * Charges the group last got (win_group_get) first; a kind calls it at
 * the end of its process, after which keep may be gone. */
void win_enforce_cap(struct mw_window_state *st, const struct group *keep);
/* Charges the size of the group last got, if any (win_group_get). */
void win_account(struct mw_window_state *st);
void win_budget(void *st, struct mw_detect_bytes *out);
void win_shed(const void *def, void *st, size_t max_bytes);
/* The group key of ev into st->key; its length, or -1 when ev has none. */
int win_build_key(struct mw_window_state *st, const struct mw_seq_keys *keys, int nkeys,
                  bool ci, const struct mw_event *ev);
/* Matches def->where and builds the group key (counts matched, no_key).
 * Returns the key length, or -1 when the event does not take part. */
int win_match_key(const struct mw_window_def *def, struct mw_window_state *st,
                  const struct mw_event *ev, const struct mw_match_ctx *ctx);
/* RFC 3339 time / duration text, as new JSON strings (null on failure). */
json_t *win_time_json(mw_time_t t);
json_t *win_span_json(mw_time_t d);
/* Raises one alert: the key values of evs[n-1] under keys; steals details. */
void win_fire(const struct mw_window_def *def, struct mw_window_state *st,
              struct mw_event *const *evs, int n, const struct mw_seq_keys *keys,
              json_t *details, const struct mw_emit *emit);

/* Moves now forward; returns the horizon (now - lateness). */
mw_time_t win_move_now(struct mw_window_state *st, mw_time_t now);

/* Shared ops entries (see mw_detector.h). */
void *win_state_new(const void *def, const struct mw_detect_opts *opts);
void win_state_free(void *st);
/* advance for the LRU kinds: drops groups whose newest event is more than
 * span behind the horizon. */
void win_expire(const void *def, void *st, mw_time_t now, const struct mw_emit *emit);
int win_matchers(const void *def, const struct mw_matcher **out, int max);
json_t *win_dump(const void *def, const void *st, struct mw_evtab *t);
/* The checkpoint frame; a group may hold at most ev_cap events. */
int win_restore_frame(const struct mw_window_def *def, struct mw_window_state *st,
                      const json_t *doc, const struct mw_evtab *t, int ev_cap,
                      struct mw_error *err);
/* restore for kinds that keep up to MW_WINDOW_ALERT_EVENTS per group. */
int win_restore(const void *def, void *st, const json_t *doc, const struct mw_evtab *t,
                struct mw_error *err);
uint64_t win_open(const void *st);
void win_stats(const void *def, const void *st, json_t *o);
void win_shape(const void *def, struct mw_buf *out);

#endif
