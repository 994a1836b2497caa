/* mw_spool.h - bounded queue, retry with back-off, disk spool and a sender
 * thread, for any asynchronous sink (webhook and Elasticsearch today)
 *
 * A sink that must not block detection on the network owns one spool and
 * gives it a deliver callback: the spool hands it batches of alert lines
 * on its sender thread and decides, from the outcome, what is done, what
 * is retried (exponential back-off with jitter, or the server's
 * Retry-After) and what was refused (kept in NAME.rejected.ndjson). It
 * knows nothing of the transport.
 *
 * Invariants (under the spool's mutex): an alert is in exactly one place,
 * the ring (memory), the spool file NAME.spool.ndjson (disk, from the read
 * offset on), the in-flight batch, or done (delivered, or refused and kept);
 * every ring item is older than every spooled one, so delivery keeps the
 * order alerts were raised in, including a spool an earlier run left; the
 * spool file is emptied only after the batch read from its end was
 * delivered, and the read offset is saved in NAME.spool.pos (atomically,
 * fsynced) after every delivered spool batch, so a crash redelivers at most
 * one batch. Rewrites of the spool go through mw_file.h (file and folder
 * fsynced); appended lines reach the kernel at once and the disk at drain.
 *
 * Ownership: the spool copies every line and id it is given. The deliver
 * callback borrows the batch for one call, runs on the sender thread only,
 * and ctx (borrowed) must outlive the spool: the sink that owns the spool
 * owns ctx and frees the spool first.
 */
#ifndef MW_SPOOL_H
#define MW_SPOOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_mem.h"

struct mw_spool;

struct mw_spool_item {
    const char *line; /* compact JSON, no newline */
    const char *id;   /* its event.id, "" when none */
};

/* Per item, after MW_SPOOL_SENT. */
enum mw_spool_verdict {
    MW_SPOOL_ITEM_DONE = 0, /* delivered (the default) */
    MW_SPOOL_ITEM_RETRY,    /* retry it (the endpoint is up) */
    MW_SPOOL_ITEM_REFUSED,  /* refused as invalid: kept in the rejected file */
};

enum mw_spool_outcome {
    MW_SPOOL_SENT,    /* the endpoint answered; verdict[] says per item */
    MW_SPOOL_REFUSED, /* the whole batch was refused as invalid */
    MW_SPOOL_FAILED,  /* nothing delivered: retry the batch after a back-off */
};

struct mw_spool_reply {
    unsigned char *verdict; /* n slots, all MW_SPOOL_ITEM_DONE on entry */
    long status;            /* the endpoint's status, for the rejected record */
    const char *response;   /* borrowed until the next call; may be NULL */
    const char *why;        /* MW_SPOOL_FAILED: borrowed; what went wrong */
    int64_t retry_after;    /* microseconds the server asked to wait; -1 on entry */
    struct mw_spool *spool; /* borrowed: the calling spool (mw_spool_deadline) */
};

/* Delivers v[0..n) (borrowed). */
typedef enum mw_spool_outcome (*mw_spool_deliver_fn)(void *ctx,
                                                     const struct mw_spool_item *v,
                                                     size_t n, struct mw_spool_reply *r);

struct mw_spool_opts {
    size_t batch;        /* items per delivery, 1..100000 */
    size_t queue;        /* ring slots, >= 1 */
    size_t queue_bytes;  /* bytes of alert lines the ring may hold, >= 1 (one
                          * alert always fits an empty ring) */
    int64_t linger;      /* wait this long for a fuller batch (us) */
    int64_t backoff;     /* first retry delay (us), >= MW_SPOOL_MIN_BACKOFF */
    int64_t max_backoff; /* longest retry delay (us), >= MW_SPOOL_MIN_BACKOFF */
    int64_t drain;       /* how long finishing may take (us) */
};

/* The shortest backoff= and max_backoff= accepted (us). */
#define MW_SPOOL_MIN_BACKOFF (10 * 1000)

#define MW_SPOOL_DEFAULT_QUEUE_BYTES ((size_t)64 * 1024 * 1024)

/* Defaults: the given batch size, queue 10000, queue_bytes 64 MiB, linger
 * 1s, backoff 500ms, max_backoff 30s, drain 10s. */
void mw_spool_opts_default(struct mw_spool_opts *o, size_t batch);
/* Parses one spool option of a sink spec (batch, queue, queue_bytes, linger, backoff,
 * max_backoff, drain; v is "" when the option had no '='). Returns 1 when
 * it was one and v is valid (o updated), -1 when it was one with a bad
 * value, 0 when k is not a spool option. */
int mw_spool_opt(struct mw_spool_opts *o, const char *k, const char *v);

/* Opens (creates when missing) the spool NAME.* in dir, counting what an
 * earlier run left, and starts the sender thread. label names the sink in
 * logs and health records ("output": label). Refuses a NULL dir and a name
 * another open spool of this process uses. All strings are copied.
 * Returns the spool (owned by the caller), or NULL with err set. */
struct mw_spool *mw_spool_new(const char *dir, const char *name, const char *label,
                              const struct mw_spool_opts *o, mw_spool_deliver_fn deliver,
                              void *ctx, struct mw_error *err);
/* Queues a copy of line (len bytes, no newline) with its id, or appends it
 * to the spool file when the queue is full or older alerts wait on disk.
 * Never waits on the network. */
void mw_spool_put(struct mw_spool *sp, const char *line, size_t len, const char *id);
/* Tells the sender to finish by now_mono_us + the drain time; no wait. */
void mw_spool_stop(struct mw_spool *sp, int64_t now_mono_us);
/* Waits for the sender (stops it first when mw_spool_stop was not called),
 * fsyncs the spool and emits one "output_stats" health record. Idempotent. */
void mw_spool_join(struct mw_spool *sp);
/* The monotonic time (mw_mono_us) by which the sender must be done:
 * INT64_MAX until mw_spool_stop. Thread-safe; a deliver callback uses it
 * to cut a request short at exit. */
int64_t mw_spool_deadline(struct mw_spool *sp);
/* Adds delivered, retried, spooled, failed, spool_pending to o. */
void mw_spool_stats(struct mw_spool *sp, json_t *o);
/* Joins and frees. NULL is a no-op. */
void mw_spool_free(struct mw_spool *sp);

#endif
