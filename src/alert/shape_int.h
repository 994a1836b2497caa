/* shape_int.h - the shaping state shared by mw_shape.c (pipeline order,
 * persistence, checkpoints), mw_dedup.c (the id store) and mw_suppress.c
 * (suppression windows and caps); src/alert/ only
 *
 * One struct mw_shape, one mutex: every function declared here expects
 * s->mu held (the saver thread takes it too). Three tables, all keyed by
 * strings so that nothing points into a rule:
 *   ids    alert id -> struct idrec (mw_dedup.c);
 *   supp   "rule id \x1f canonical JSON of the key values" -> struct supp
 *          (mw_suppress.c);
 *   rules  rule id -> struct rstats, counters and the current cap interval
 *          (counters: mw_shape.c, the interval: mw_suppress.c).
 */
#ifndef MW_SHAPE_INT_H
#define MW_SHAPE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mw_dict.h"
#include "mw_event.h"
#include "mw_mem.h"
#include "mw_rule.h"
#include "mw_shape.h"
#include "mw_time.h"

struct supp {
    char *rule;    /* owned */
    json_t *terms; /* owned: [{field, value}] */
    mw_time_t window;
    mw_time_t start;       /* window start (event time of its alert) */
    mw_time_t first, last; /* first/last suppressed alert time */
    uint64_t count;        /* suppressed since the window's alert */
};

struct rstats {
    uint64_t delivered, deduplicated, suppressed, capped, hook_dropped, hook_errors;
    uint64_t replayed; /* decided before a restart, raised again */
    bool have_bucket;
    int64_t bucket; /* current cap interval: t / per */
    mw_time_t per;
    int64_t max;
    int64_t count;    /* delivered in the interval */
    uint64_t dropped; /* capped in the interval, not yet reported */
};

struct idrec {
    struct idrec *prev, *next; /* recording order: prev is older */
    mw_time_t t;               /* wall clock when recorded */
    uint64_t gen;              /* checkpoint generation it was decided in */
    bool replay;               /* decided after the checkpoint resumed from */
    bool recovered;            /* found in an output, not in the store: decided
                                * after any checkpoint */
    size_t len;
    char id[];
};

struct mw_shape {
    struct mw_output *out; /* borrowed */
    char *state_dir;       /* owned, NULL: memory only */
    FILE *ids_fp;          /* owned, STATE/alert-ids (append) */
    struct mw_dict *ids;   /* values owned: struct idrec */
    struct idrec *oldest, *newest;
    uint64_t ids_lines;    /* lines in STATE/alert-ids */
    struct mw_dict *supp;  /* values owned: struct supp */
    struct mw_dict *rules; /* values owned: struct rstats */
    uint64_t submits;
    uint64_t gen;     /* generation of new decisions (0: no checkpoints) */
    uint64_t max_gen; /* highest generation in the store */
    mw_time_t ttl, interval;
    mw_time_t (*now)(void);

    pthread_mutex_t mu; /* everything above, against the saver */
    pthread_cond_t cv;
    pthread_t saver;
    bool saver_on, stopping;
    bool dirty;        /* shape.json is behind */
    bool ids_unsynced; /* alert-ids appended since the last fsync */
};

/* mw_shape.c: the rule's counters (created on first use). */
struct rstats *mw_shape_rstats(struct mw_shape *s, const char *rule_id);
/* STATE/name; caller frees. */
char *mw_shape_path(const struct mw_shape *s, const char *name);

/* mw_dedup.c: the id store. */
/* Forgets the ids recorded more than ttl before now. */
void mw_dedup_expire(struct mw_shape *s, mw_time_t now);
/* The record of id, or NULL. Borrowed, valid until the next expiry. */
struct idrec *mw_dedup_get(struct mw_shape *s, const char *id);
/* Marks id processed (recording it in STATE/alert-ids). */
void mw_dedup_mark(struct mw_shape *s, const char *id);
/* Opens STATE/alert-ids and loads the live ids. 0 or -1 (err set). */
int mw_dedup_load(struct mw_shape *s, struct mw_error *err);
/* Records the last alert id of each file output that the store lacks. */
void mw_dedup_recover(struct mw_shape *s);
/* Rewrites STATE/alert-ids once half of its lines are dead. */
void mw_dedup_maybe_compact(struct mw_shape *s);
/* Frees every record. */
void mw_dedup_clear(struct mw_shape *s);

/* mw_suppress.c: suppression windows and caps. */
/* Applies the rule's suppression and cap to alert at event time t:
 * MW_SHAPE_DELIVERED (alert gains moonwatch.suppression when the rule
 * suppresses), MW_SHAPE_SUPPRESSED or MW_SHAPE_CAPPED; counts them in r. */
enum mw_shape_verdict mw_suppress_apply(struct mw_shape *s, const char *rule_id,
                                        struct rstats *r, const struct mw_alert_policy *p,
                                        json_t *alert, struct mw_event *const *evs, int n,
                                        mw_time_t t);
/* Drops the suppression entries whose window is over and hold no count. */
void mw_suppress_sweep(struct mw_shape *s, mw_time_t now);
/* Appends the suppression entries and cap intervals to the two arrays. */
void mw_suppress_dump(struct mw_shape *s, json_t *supp, json_t *caps);
/* Fills the suppression and cap tables from a saved document. */
void mw_suppress_parse(struct mw_shape *s, const json_t *doc);
/* One health record per rule whose current interval dropped alerts. */
void mw_suppress_finish(struct mw_shape *s);
/* The alerts suppressed and not yet reported, for rule_id. */
uint64_t mw_suppress_pending(struct mw_shape *s, const char *rule_id);
/* Empties the suppression table and the per-rule records (free: too). */
void mw_suppress_clear(struct mw_shape *s, bool reopen);

#endif
