/* mw_run_int.h - what the files of the run loop share (src/pipeline only)
 *
 * The `run` loop is four files around one struct run:
 *   mw_run.c         the loop: open inputs, pick the next head (mw_merge),
 *                    apply the lateness verdict, dispatch; rejections
 *   mw_workers.c     the parser thread pool (--threads): batches per input
 *   mw_follow_loop.c follow mode: signals (the one SIGHUP handler), the work
 *                    between two events, followed globs, checkpoints, sleep
 *   mw_summary.c     the statistics document, text/JSON summary, metrics,
 *                    progress
 * Ownership is stated per field; a struct run lives on mw_run's stack and
 * everything it owns is released there.
 */
#ifndef MW_RUN_INT_H
#define MW_RUN_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mw_checkpoint.h"
#include "mw_follow.h"
#include "mw_input.h"
#include "mw_log.h"
#include "mw_source.h"
#include "mw_merge.h"
#include "mw_run.h"

#define MAX_DEPTH 64           /* threaded: batches in flight per input, at most */
#define MAX_NEW_SRCS 1024      /* files a followed pattern may add */
#define FOLLOW_CHECK_EVERY 256 /* events between two checks when busy */

/* One framed line after prefilter and parse: what the consumer needs. */
enum lkind {
    L_BLANK,
    L_EVENT,    /* ev holds the event */
    L_SKIP,     /* not parsed; ts holds its event time */
    L_REJECT,   /* reason and msg */
    L_TOO_LONG, /* len is the size of the skipped line */
};

struct lres {
    enum lkind kind;
    enum mw_reject reason;
    struct mw_event *ev; /* owned until consumed */
    mw_time_t ts;
    char *msg; /* owned, L_REJECT from a worker */
    uint64_t lineno, offset;
    uint64_t fgen;   /* the input's file generation (mw_input) */
    size_t off, len; /* the line in its batch buffer */
};

struct batch; /* mw_workers.c */
struct pool;  /* mw_workers.c */

struct src {
    struct mw_source *in;  /* owned */
    struct mw_event *head; /* owned (threaded: borrowed from its batch), or NULL */
    bool head_skip;        /* the head is a skipped line at skip_ts */
    mw_time_t skip_ts;
    uint64_t skip_line; /* its line number and length */
    size_t skip_len;
    uint64_t head_off, head_line, head_fgen; /* where the head came from */
    const char *head_text; /* one thread: the head's line, in the input's
                              buffer until the next read (mw_event_compact) */
    size_t head_textlen;
    bool done;
    bool waiting; /* follow mode: no complete line yet */
    bool eof;     /* threaded: framing reached the end */
    int reported;
    struct batch *q[MAX_DEPTH]; /* threaded: owned, batches in input order (ring) */
    int qhead, qlen;
    struct batch *free_list; /* owned, under the pool mutex */
    int nbatches;            /* allocated for this source */
};

struct run {
    const struct mw_run_opts *o;        /* borrowed */
    struct mw_engine *e;                /* borrowed */
    struct mw_output *out;              /* borrowed */
    struct src *srcs;                   /* owned; never moves (threads point into it) */
    int n, cap;                         /* sources opened, capacity */
    uint64_t seq;                       /* last arrival serial handed out */
    struct mw_path *ts_path;            /* owned */
    int dead;                           /* owned descriptor (O_APPEND), -1: none */
    const char *dead_path;              /* borrowed from the options */
    uint64_t dead_written;              /* dead letters written whole */
    uint64_t dead_lost;                 /* dead letters that could not be written */
    struct mw_log_limit dead_errors;    /* write errors, rate-limited */
    bool draining;                      /* shutdown: "nothing yet" means done */
    struct mw_merge *merge;             /* owned: now, lateness, future (mw_merge.h) */
    struct mw_prefilter *pf;            /* a reference, or NULL: parse every line;
                                         * swapped under the pool mutex on reload */
    const struct mw_prefilter *pf_seen; /* the engine's, when pf was chosen */
    const char *ts_key;                 /* top-level timestamp key for skipped lines */
    size_t ts_keylen;
    struct pool *pool; /* owned, NULL with one thread */
    int depth;         /* batches in flight per input */
    /* follow mode (mw_follow_loop.c) */
    struct mw_follow *fl;  /* owned, NULL outside follow mode */
    struct mw_ckpt *ck;    /* owned, NULL without --state-dir */
    int64_t held_since_ms; /* monotonic ms a checkpoint first waited for held
                            * events (mw_follow_checkpoint); 0: none waits */
    int in_fd;             /* owned inotify descriptor, -1: none */
    int metrics_interval;  /* ms */
    int64_t next_metrics;  /* monotonic ms */
    struct sigaction old_int, old_term, old_hup;
};

/* What parsing a line needs: immutable for the duration of a batch. */
struct pctx {
    const struct mw_prefilter *pf; /* NULL: parse every line */
    const char *ts_key;
    size_t ts_keylen;
    const struct mw_path *ts_path;
};

/* mw_run.c */
void mw_run_parse_line(const struct pctx *c, const char *input, const char *line,
                       size_t len, struct lres *res, struct mw_error *err);
void mw_run_take(struct run *r, struct src *s, struct lres *res, const char *line,
                 const char *msg);
bool mw_run_has_head(const struct src *s);
int mw_run_next(struct run *r);
void mw_run_dispatch(struct run *r, struct src *s);
/* Dispatches held events made admissible (all, in time order, with flush). */
void mw_run_release(struct run *r, bool flush);
/* Frees every held event without dispatching it. */
void mw_run_drop_held(struct run *r);
/* Refuses every held event (time_outlier, dead-lettered). */
void mw_run_refuse_held(struct run *r);
/* How long a checkpoint waits for held events before refusing them. */
#define MW_HOLD_CHECKPOINT_WAIT_MS 60000
int mw_run_add_src(struct run *r, const char *path, struct mw_error *err);
void mw_run_choose_prefilter(struct run *r);

/* mw_workers.c: n parsing threads, the rule thread included; NULL when no
 * worker could start (parse on the rule thread then). */
struct pool *mw_workers_new(const struct run *r, int n);
void mw_workers_free(struct pool *p); /* joins the workers; NULL: no-op */
void mw_workers_lock(struct pool *p);
void mw_workers_unlock(struct pool *p);
/* Consumes s's batches in order until s has a head, waits, or ends. */
void mw_workers_refill(struct run *r, struct src *s);
/* The first line of s not consumed from its batches. */
bool mw_workers_pending(const struct src *s, struct mw_line *at);
/* Frees s's batches; only after mw_workers_free. */
void mw_workers_release(struct src *s);

/* mw_follow_loop.c */
int mw_follow_capacity(const struct mw_run_opts *o, char *const *names, int n);
/* Opens the checkpoint (resuming engine, shape and merge) and the follow
 * set; 0, or -1 logged. */
int mw_follow_open(struct run *r, char *const *names, int n);
void mw_follow_start(struct run *r);
bool mw_follow_signalled(void);
/* Between two events: signals, reloads, metrics, new files, checkpoints;
 * when idle also advances event time and sleeps. False: stop. */
bool mw_follow_between(struct run *r, bool idle);
void mw_follow_stop(struct run *r);
void mw_follow_checkpoint(struct run *r);
void mw_follow_close(struct run *r);

/* mw_summary.c */
void mw_summary_metrics(struct run *r);
void mw_summary_print(struct run *r);
void mw_summary_progress(struct run *r, struct mw_run_progress *p);

#endif
