/* mw_spool.c - the queue, retry, back-off, disk spool and sender thread
 * behind every asynchronous sink (see mw_spool.h)
 *
 * Invariants (all under the spool's mutex):
 *   - an alert is in exactly one place: the ring (memory), the spool file
 *     (disk, from read_off on), the sender's in-flight batch, or it is done
 *     (delivered, or refused and written to the rejected file);
 *   - every ring item is older than every spool item: once the spool holds
 *     anything, new alerts are appended to it, and the sender drains the
 *     ring first, then the spool, so delivery keeps the order alerts were
 *     raised in;
 *   - the spool is emptied (truncated) only after the batch read from its
 *     end was delivered, and read_off is saved in a .pos file (atomic,
 *     fsynced) after every delivered spool batch, so a crash redelivers at
 *     most one batch (the Elasticsearch sink's _id = alert id makes that
 *     harmless).
 * The producer only appends (queue or spool); it never waits on the
 * network. The deliver callback runs on the sender thread, without the
 * mutex, and is the only code that talks to the endpoint.
 */
#include "mw_spool.h"
#include "mw_clock.h"
#include "mw_file.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct item {
    char *line;     /* owned: line, NUL, id, NUL in one allocation */
    const char *id; /* points into line's allocation */
};

struct mw_spool {
    char *label; /* owned: "output" in logs and health records */
    char *name;  /* owned: spool base name (process-unique) */
    struct mw_spool_opts o;
    mw_spool_deliver_fn deliver;
    void *ctx;    /* borrowed from the sink */
    unsigned rng; /* jitter */

    pthread_t thread;
    bool started, joined, locks;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *ring; /* owned, o.queue slots */
    size_t head, count;
    size_t qbytes; /* bytes of the lines in the ring (o.queue_bytes bounds it) */
    char *spool_path, *pos_path, *rejected_path; /* owned */
    FILE *spool_w;                               /* owned: append */
    FILE *spool_r;                               /* owned: read from read_off */
    long read_off;
    uint64_t spool_pending; /* items on disk after read_off */
    bool stopping;
    int64_t deadline; /* monotonic, when stopping */
    bool down;
    uint64_t delivered, retried, spooled, failed;
    uint64_t lost; /* of failed: alerts written nowhere (disk full...) */
    struct mw_log_limit write_errors; /* spool and rejected-file errors */
    struct mw_spool *next_open;       /* registry of open names */
};

/* the open spools of this process, so two sinks never share one */
static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mw_spool *registry;

static void abs_time(int64_t mono_deadline, struct timespec *out)
{
    /* the condition variable uses CLOCK_MONOTONIC */
    out->tv_sec = (time_t)(mono_deadline / MW_USEC_PER_SEC);
    out->tv_nsec = (long)(mono_deadline % MW_USEC_PER_SEC) * MW_NSEC_PER_USEC;
}

/* ---------------------------------------------------------------------- */
/* options                                                                 */

void mw_spool_opts_default(struct mw_spool_opts *o, size_t batch)
{
    o->batch = batch;
    o->queue = 10000;
    o->queue_bytes = MW_SPOOL_DEFAULT_QUEUE_BYTES;
    o->linger = MW_USEC_PER_SEC;
    o->backoff = 500 * MW_USEC_PER_MSEC;
    o->max_backoff = 30 * MW_USEC_PER_SEC;
    o->drain = 10 * MW_USEC_PER_SEC;
}

int mw_spool_opt(struct mw_spool_opts *o, const char *k, const char *v)
{
    size_t n;
    mw_time_t d;
    if (strcmp(k, "batch") == 0) {
        if (sscanf(v, "%zu", &n) != 1 || n < 1 || n > 100000)
            return -1;
        o->batch = n;
    } else if (strcmp(k, "queue_bytes") == 0) {
        char *end;
        unsigned long long b = strtoull(v, &end, 10);
        unsigned long long mul = *end == 'k' || *end == 'K'   ? 1024ULL
                                 : *end == 'm' || *end == 'M' ? 1024ULL * 1024
                                 : *end == 'g' || *end == 'G' ? 1024ULL * 1024 * 1024
                                                              : 1;
        if (mul > 1)
            end++;
        if (v[0] < '0' || v[0] > '9' || *end != '\0' || b == 0 || b > SIZE_MAX / mul)
            return -1;
        o->queue_bytes = (size_t)(b * mul);
    } else if (strcmp(k, "queue") == 0) {
        if (sscanf(v, "%zu", &n) != 1 || n < 1)
            return -1;
        o->queue = n;
    } else if (strcmp(k, "linger") == 0 || strcmp(k, "drain") == 0) {
        if (mw_duration_parse(v, &d) < 0)
            return -1;
        *(k[0] == 'l' ? &o->linger : &o->drain) = d;
    } else if (strcmp(k, "backoff") == 0 || strcmp(k, "max_backoff") == 0) {
        if (mw_duration_parse(v, &d) < 0 || d < MW_SPOOL_MIN_BACKOFF)
            return -1;
        *(k[0] == 'b' ? &o->backoff : &o->max_backoff) = d;
    } else {
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------- */
/* items and the spool file                                                */

static struct item item_new(const char *line, size_t len, const char *id)
{
    size_t idlen = strlen(id);
    struct item it;
    it.line = xmalloc(len + idlen + 2);
    memcpy(it.line, line, len);
    it.line[len] = '\0';
    memcpy(it.line + len + 1, id, idlen + 1);
    it.id = it.line + len + 1;
    return it;
}

/* A spooled line's item: its id read from event.id. Takes line. */
static struct item item_from_spool(char *line, size_t len)
{
    json_t *doc = json_loadb(line, len, 0, NULL);
    const char *id =
        json_string_value(json_object_get(json_object_get(doc, "event"), "id"));
    struct item it = item_new(line, len, id ? id : "");
    json_decref(doc);
    free(line);
    return it;
}

struct batch {
    struct item *v; /* owned items */
    size_t n, cap;
    bool from_spool; /* some items came from the spool */
};

static void batch_push(struct batch *b, struct item it)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = it;
}

/* Opens the spool, counting what an earlier run left after its .pos. */
static int spool_open(struct mw_spool *sp, const char *dir, struct mw_error *err)
{
    char *text, *base;
    int c;
    bool created;

    if (mw_dir_private(dir, "spool folder", err) < 0)
        return -1;
    base = mw_path_join(dir, sp->name);
    sp->spool_path = xmalloc(strlen(base) + 32);
    sp->pos_path = xmalloc(strlen(base) + 32);
    sp->rejected_path = xmalloc(strlen(base) + 32);
    snprintf(sp->spool_path, strlen(base) + 32, "%s.spool.ndjson", base);
    snprintf(sp->pos_path, strlen(base) + 32, "%s.spool.pos", base);
    snprintf(sp->rejected_path, strlen(base) + 32, "%s.rejected.ndjson", base);
    free(base);
    created = access(sp->spool_path, F_OK) != 0;
    /* never through a symlink planted in the spool folder */
    sp->spool_w = mw_file_open_private(sp->spool_path, "a", err);
    sp->spool_r = sp->spool_w ? mw_file_open_private(sp->spool_path, "r", err) : NULL;
    if (sp->spool_r == NULL)
        return -1;
    if (created)
        mw_fsync_parent(sp->spool_path); /* the new spool survives a crash */
    if ((text = mw_file_read_flags(sp->pos_path, 64, NULL, MW_FILE_NOFOLLOW, NULL)) !=
        NULL) {
        sp->read_off = atol(text);
        free(text);
    }
    if (sp->read_off < 0 || fseek(sp->spool_r, sp->read_off, SEEK_SET) != 0) {
        sp->read_off = 0;
        fseek(sp->spool_r, 0, SEEK_SET);
    }
    while ((c = fgetc(sp->spool_r)) != EOF)
        if (c == '\n')
            sp->spool_pending++;
    clearerr(sp->spool_r);
    fseek(sp->spool_r, sp->read_off, SEEK_SET);
    if (sp->spool_pending)
        mw_log_info("output %s: %llu alert(s) waiting in the spool from an "
                    "earlier run",
                    sp->label, (unsigned long long)sp->spool_pending);
    return 0;
}

/* Reads one spooled line (mu held). Returns false at the end. */
static bool spool_read(struct mw_spool *sp, struct item *it)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    fseek(sp->spool_r, sp->read_off, SEEK_SET);
    n = getline(&line, &cap, sp->spool_r);
    if (n <= 0 || line[n - 1] != '\n') {
        free(line);
        clearerr(sp->spool_r);
        return false;
    }
    sp->read_off += (long)n;
    *it = item_from_spool(line, (size_t)n - 1);
    sp->spool_pending--;
    return true;
}

/* Saves read_off, or empties the spool once it is fully delivered (mu
 * held). The .pos file is replaced atomically and durably: a torn or lost
 * .pos would redeliver the whole spool. */
static void spool_commit(struct mw_spool *sp)
{
    char text[32];
    struct mw_error err;
    if (sp->spool_pending == 0) {
        if (ftruncate(fileno(sp->spool_w), 0) != 0 || fsync(fileno(sp->spool_w)) != 0)
            mw_log_error("spool %s: %s", sp->spool_path, strerror(errno));
        fseek(sp->spool_w, 0, SEEK_END);
        sp->read_off = 0;
        if (unlink(sp->pos_path) == 0)
            mw_fsync_parent(sp->pos_path);
        return;
    }
    int len = snprintf(text, sizeof(text), "%ld\n", sp->read_off);
    if (mw_file_write_atomic(sp->pos_path, text, (size_t)len, MW_FILE_DURABLE, &err) != 0)
        mw_log_error("spool: %s", err.msg);
}

/* Appends a line to the spool (mu held), in one write(2); a failed or
 * short write (disk full) is cut off again, so the spool holds whole
 * lines only, and the alert is counted lost. */
static void spool_append(struct mw_spool *sp, const char *line, size_t len)
{
    int fd = fileno(sp->spool_w);
    struct stat sb;
    off_t before = fstat(fd, &sb) == 0 ? sb.st_size : -1;
    char *buf = xmalloc(len + 1);
    size_t off = 0;
    int e = 0;

    memcpy(buf, line, len);
    buf[len] = '\n';
    if (fflush(sp->spool_w) != 0)
        e = errno;
    while (e == 0 && off < len + 1) {
        ssize_t n = write(fd, buf + off, len + 1 - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            e = n < 0 ? errno : EIO;
        else
            off += (size_t)n;
    }
    free(buf);
    if (e == 0) {
        sp->spool_pending++;
        sp->spooled++;
        return;
    }
    if (off > 0 && before >= 0 && ftruncate(fd, before) != 0)
        (void)0; /* the reader drops a torn last line anyway */
    sp->failed++;
    sp->lost++;
    mw_log_limited(&sp->write_errors, MW_LOG_ERROR,
                   "spool %s: write failed: %s (alert lost; %llu lost so far)",
                   sp->spool_path, strerror(e), (unsigned long long)sp->lost);
}

static void reject_items(struct mw_spool *sp, const struct item *v, size_t n, long status,
                         const char *response)
{
    FILE *fp = mw_file_open_private(sp->rejected_path, "a", NULL);
    bool kept = fp != NULL;
    for (size_t i = 0; i < n && fp; i++)
        if (fprintf(fp, "%s\n", v[i].line) < 0)
            kept = false;
    if (fp) {
        if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
            kept = false;
        fclose(fp);
    }
    pthread_mutex_lock(&sp->mu);
    sp->failed += n;
    if (!kept) {
        sp->lost += n;
        mw_log_limited(&sp->write_errors, MW_LOG_ERROR,
                       "spool %s: cannot keep %zu refused alert(s): %s (lost)",
                       sp->rejected_path, n, strerror(errno));
    }
    pthread_mutex_unlock(&sp->mu);
    mw_health_emit("output_rejected",
                   json_pack("{s:s, s:I, s:I, s:s, s:s%}", "output", sp->label, "status",
                             (json_int_t)status, "alerts", (json_int_t)n, "kept_in",
                             sp->rejected_path, "response", response ? response : "",
                             response ? strnlen(response, 300) : 0));
}

/* The drain deadline passed: writes batch + ring + unread spool to a new
 * spool in that order (mu held), through mw_file.h: file and folder are
 * fsynced before the old spool is replaced. */
static void respool(struct mw_spool *sp, struct batch *b)
{
    struct mw_atomic a;
    struct mw_error err;
    FILE *fp;
    uint64_t n = 0, fresh = 0;
    struct item it;

    long off0 = sp->read_off;
    uint64_t pending0 = sp->spool_pending;
    struct stat old, now;

    fp = mw_atomic_open(&a, sp->spool_path, &err);
    if (fp == NULL) {
        /* the old spool keeps what it holds; the rest is lost */
        mw_log_error("spool: %s (%zu undelivered alert(s) lost)", err.msg,
                     b->n + sp->count);
        sp->failed += b->n + sp->count;
        sp->lost += b->n + sp->count;
        goto out;
    }
    for (size_t i = 0; i < b->n; i++, n++, fresh++)
        fprintf(fp, "%s\n", b->v[i].line);
    for (size_t i = 0; i < sp->count; i++, n++, fresh++)
        fprintf(fp, "%s\n", sp->ring[(sp->head + i) % sp->o.queue].line);
    while (spool_read(sp, &it)) {
        fprintf(fp, "%s\n", it.line);
        free(it.line);
        n++;
    }
    if (mw_atomic_commit(&a, MW_FILE_DURABLE, &err) != 0) {
        mw_log_error("spool: %s", err.msg);
        if (fstat(fileno(sp->spool_w), &old) == 0 && stat(sp->spool_path, &now) == 0 &&
            old.st_ino == now.st_ino && old.st_dev == now.st_dev) {
            /* not replaced (disk full): the old spool and its .pos still
             * hold what they held; the batch and the queue are lost */
            mw_log_error("spool %s: %zu undelivered alert(s) lost", sp->spool_path,
                         (size_t)fresh);
            sp->read_off = off0;
            sp->spool_pending = pending0;
            sp->failed += fresh;
            sp->lost += fresh;
            goto out;
        }
    }
    fclose(sp->spool_w);
    fclose(sp->spool_r);
    sp->spool_w = mw_file_open_private(sp->spool_path, "a", NULL);
    sp->spool_r = mw_file_open_private(sp->spool_path, "r", NULL);
    sp->read_off = 0;
    if (unlink(sp->pos_path) == 0)
        mw_fsync_parent(sp->pos_path);
    sp->spool_pending = n;
    sp->spooled += fresh;
out:
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].line);
    b->n = 0;
    for (size_t i = 0; i < sp->count; i++)
        free(sp->ring[(sp->head + i) % sp->o.queue].line);
    sp->count = 0;
    sp->qbytes = 0;
}

/* ---------------------------------------------------------------------- */
/* the sender thread                                                       */

static void sleep_until(struct mw_spool *sp, int64_t until)
{
    struct timespec ts;
    pthread_mutex_lock(&sp->mu);
    abs_time(until, &ts);
    while (mw_mono_us() < until && !(sp->stopping && mw_mono_us() >= sp->deadline))
        if (pthread_cond_timedwait(&sp->cv, &sp->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&sp->mu);
}

static bool past_deadline(struct mw_spool *sp)
{
    pthread_mutex_lock(&sp->mu);
    bool over = sp->stopping && mw_mono_us() >= sp->deadline;
    pthread_mutex_unlock(&sp->mu);
    return over;
}

/* One delivery attempt of b. Applies the per-item verdicts of a SENT
 * reply: b keeps the items to retry. Returns the outcome. */
static enum mw_spool_outcome attempt_once(struct mw_spool *sp, struct batch *b,
                                          struct mw_spool_reply *r)
{
    struct mw_spool_item *v = xcalloc(b->n, sizeof(*v));
    unsigned char *verdict = xcalloc(b->n, 1);
    struct batch refused = {0};
    size_t keep = 0, ok = 0;
    enum mw_spool_outcome out;

    for (size_t i = 0; i < b->n; i++) {
        v[i].line = b->v[i].line;
        v[i].id = b->v[i].id;
    }
    memset(r, 0, sizeof(*r));
    r->verdict = verdict;
    r->retry_after = -1;
    r->spool = sp;
    out = sp->deliver(sp->ctx, v, b->n, r);
    free(v);
    if (out == MW_SPOOL_REFUSED) {
        reject_items(sp, b->v, b->n, r->status, r->response);
        for (size_t i = 0; i < b->n; i++)
            free(b->v[i].line);
        b->n = 0;
    } else if (out == MW_SPOOL_SENT) {
        for (size_t i = 0; i < b->n; i++) {
            if (verdict[i] == MW_SPOOL_ITEM_RETRY) {
                b->v[keep++] = b->v[i];
            } else if (verdict[i] == MW_SPOOL_ITEM_REFUSED) {
                batch_push(&refused, b->v[i]);
            } else {
                free(b->v[i].line);
                ok++;
            }
        }
        b->n = keep;
        if (refused.n) {
            reject_items(sp, refused.v, refused.n, r->status, r->response);
            for (size_t i = 0; i < refused.n; i++)
                free(refused.v[i].line);
            free(refused.v);
        }
        pthread_mutex_lock(&sp->mu);
        sp->delivered += ok;
        bool was_down = sp->down;
        sp->down = false;
        pthread_mutex_unlock(&sp->mu);
        if (was_down)
            mw_health_emit("output_up", json_pack("{s:s}", "output", sp->label));
    }
    r->verdict = NULL;
    free(verdict);
    return out;
}

/* The delay before retry number attempt (0 first): exponential with
 * jitter, d = min(backoff * 2^attempt, max_backoff), a random value in
 * [d/2, d]. The server's Retry-After can lengthen it (up to 4 *
 * max_backoff), never shorten it: "Retry-After: 0" on every answer must
 * not turn the sender into a busy loop. */
static int64_t backoff_for(struct mw_spool *sp, int attempt, int64_t retry_after)
{
    int64_t d = sp->o.backoff << (attempt < 20 ? attempt : 20);
    if (d > sp->o.max_backoff || d <= 0)
        d = sp->o.max_backoff;
    d = d / 2 + (int64_t)(rand_r(&sp->rng) % (unsigned)(d / 2 + 1));
    if (retry_after > d)
        d = retry_after > sp->o.max_backoff * 4 ? sp->o.max_backoff * 4 : retry_after;
    return d;
}

/* Sends b until every item is delivered or refused, or the drain deadline
 * passes (then b keeps what is left). */
static void send_batch(struct mw_spool *sp, struct batch *b)
{
    int attempt = 0;
    while (b->n > 0) {
        struct mw_spool_reply r;
        if (past_deadline(sp))
            return; /* finishing and out of time: b goes to the spool */
        enum mw_spool_outcome out = attempt_once(sp, b, &r);
        if (b->n == 0)
            return;
        if (out == MW_SPOOL_SENT) {
            /* partial: retry only the failed items, the endpoint is up */
            pthread_mutex_lock(&sp->mu);
            sp->retried += b->n;
            pthread_mutex_unlock(&sp->mu);
            mw_log_warn("output %s: %zu item(s) of a batch failed; retrying them",
                        sp->label, b->n);
            int64_t d = backoff_for(sp, attempt, r.retry_after);
            attempt++;
            if (past_deadline(sp))
                return;
            sleep_until(sp, mw_mono_us() + d);
            continue;
        }
        /* MW_SPOOL_FAILED: retry everything, after a back-off */
        pthread_mutex_lock(&sp->mu);
        sp->retried += b->n;
        bool first = !sp->down;
        sp->down = true;
        pthread_mutex_unlock(&sp->mu);
        if (first || attempt == 0) {
            const char *why = r.why ? r.why : "delivery failed";
            if (first)
                mw_health_emit("output_down",
                               json_pack("{s:s, s:s, s:I}", "output", sp->label, "error",
                                         why, "pending", (json_int_t)b->n));
            mw_log_warn("output %s: %s; retrying %zu alert(s)", sp->label, why, b->n);
        }
        int64_t d = backoff_for(sp, attempt, r.retry_after);
        attempt++;
        if (past_deadline(sp))
            return;
        sleep_until(sp, mw_mono_us() + d);
        if (past_deadline(sp))
            return;
    }
}

/* Fills b from the ring, then the spool (mu held); lingers for a fuller
 * batch. Returns true when the sender must stop. */
static bool fill_batch(struct mw_spool *sp, struct batch *b)
{
    int64_t linger_end = 0;
    struct timespec ts;
    for (;;) {
        while (b->n < sp->o.batch && sp->count > 0) {
            batch_push(b, sp->ring[sp->head]);
            sp->qbytes -= strlen(sp->ring[sp->head].line);
            sp->head = (sp->head + 1) % sp->o.queue;
            sp->count--;
        }
        while (b->n < sp->o.batch && sp->count == 0 && sp->spool_pending > 0) {
            struct item it;
            if (!spool_read(sp, &it)) {
                sp->spool_pending = 0; /* torn last line: drop the count */
                break;
            }
            batch_push(b, it);
            b->from_spool = true;
        }
        if (b->n >= sp->o.batch || sp->stopping)
            break;
        if (b->n > 0) {
            if (linger_end == 0)
                linger_end = mw_mono_us() + sp->o.linger;
            if (mw_mono_us() >= linger_end)
                break;
            abs_time(linger_end, &ts);
            pthread_cond_timedwait(&sp->cv, &sp->mu, &ts);
        } else {
            pthread_cond_wait(&sp->cv, &sp->mu);
        }
    }
    return sp->stopping && b->n == 0;
}

static void *sender(void *arg)
{
    struct mw_spool *sp = arg;
    struct batch b = {0};

    for (;;) {
        pthread_mutex_lock(&sp->mu);
        bool done = fill_batch(sp, &b);
        pthread_mutex_unlock(&sp->mu);
        if (done)
            break;
        send_batch(sp, &b);
        pthread_mutex_lock(&sp->mu);
        if (b.n > 0) { /* deadline passed with alerts left */
            respool(sp, &b);
            pthread_mutex_unlock(&sp->mu);
            break;
        }
        if (b.from_spool)
            spool_commit(sp);
        b.from_spool = false;
        pthread_mutex_unlock(&sp->mu);
    }
    free(b.v);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* the API                                                                 */

static bool registry_claim(struct mw_spool *sp)
{
    bool taken = false;
    pthread_mutex_lock(&registry_mu);
    for (struct mw_spool *r = registry; r; r = r->next_open)
        if (strcmp(r->name, sp->name) == 0)
            taken = true;
    if (!taken) {
        sp->next_open = registry;
        registry = sp;
    }
    pthread_mutex_unlock(&registry_mu);
    return !taken;
}

static void registry_release(struct mw_spool *sp)
{
    pthread_mutex_lock(&registry_mu);
    for (struct mw_spool **p = &registry; *p; p = &(*p)->next_open)
        if (*p == sp) {
            *p = sp->next_open;
            break;
        }
    pthread_mutex_unlock(&registry_mu);
}

struct mw_spool *mw_spool_new(const char *dir, const char *name, const char *label,
                              const struct mw_spool_opts *o, mw_spool_deliver_fn deliver,
                              void *ctx, struct mw_error *err)
{
    struct mw_spool *sp;
    pthread_condattr_t ca;

    if (dir == NULL) {
        mw_error_set(err,
                     "output %s needs a spool folder for alerts it cannot "
                     "deliver yet: give --state-dir or --spool-dir",
                     label);
        return NULL;
    }
    sp = xcalloc(1, sizeof(*sp));
    sp->label = xstrdup(label);
    sp->name = xstrdup(name);
    sp->o = *o;
    sp->deliver = deliver;
    sp->ctx = ctx;
    sp->rng = (unsigned)(mw_mono_us() ^ (int64_t)getpid());
    if (!registry_claim(sp)) {
        mw_error_set(err, "output %s is given twice", label);
        free(sp->label);
        free(sp->name);
        free(sp);
        return NULL;
    }
    pthread_mutex_init(&sp->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sp->cv, &ca);
    pthread_condattr_destroy(&ca);
    sp->locks = true;
    if (spool_open(sp, dir, err) < 0)
        goto fail;
    sp->ring = xcalloc(sp->o.queue, sizeof(*sp->ring));
    if (pthread_create(&sp->thread, NULL, sender, sp) != 0) {
        mw_error_set(err, "output %s: cannot start its sender thread", label);
        goto fail;
    }
    sp->started = true;
    return sp;
fail:
    mw_spool_free(sp);
    return NULL;
}

void mw_spool_put(struct mw_spool *sp, const char *line, size_t len, const char *id)
{
    pthread_mutex_lock(&sp->mu);
    /* the queue is bounded in items and in bytes (a queue of big alerts
     * reached 1.5 GB): beyond either, alerts go to the spool on disk */
    if (sp->spool_pending > 0 || sp->count == sp->o.queue || sp->stopping ||
        (sp->count > 0 && sp->qbytes + len > sp->o.queue_bytes)) {
        spool_append(sp, line, len);
    } else {
        sp->ring[(sp->head + sp->count) % sp->o.queue] =
            item_new(line, len, id ? id : "");
        sp->count++;
        sp->qbytes += len;
    }
    pthread_cond_signal(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
}

void mw_spool_stop(struct mw_spool *sp, int64_t now_mono_us)
{
    pthread_mutex_lock(&sp->mu);
    if (!sp->stopping) {
        sp->stopping = true;
        sp->deadline = now_mono_us + sp->o.drain;
    }
    pthread_cond_signal(&sp->cv);
    pthread_mutex_unlock(&sp->mu);
}

void mw_spool_join(struct mw_spool *sp)
{
    if (!sp->started || sp->joined)
        return;
    mw_spool_stop(sp, mw_mono_us());
    pthread_join(sp->thread, NULL);
    sp->joined = true;
    if (sp->spool_w && (fflush(sp->spool_w) != 0 || fsync(fileno(sp->spool_w)) != 0))
        mw_log_error("spool %s: %s", sp->spool_path, strerror(errno));
    mw_health_emit("output_stats",
                   json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "output", sp->label,
                             "delivered", (json_int_t)sp->delivered, "retried",
                             (json_int_t)sp->retried, "spooled", (json_int_t)sp->spooled,
                             "failed", (json_int_t)sp->failed, "spool_pending",
                             (json_int_t)sp->spool_pending, "lost",
                             (json_int_t)sp->lost));
}

int64_t mw_spool_deadline(struct mw_spool *sp)
{
    pthread_mutex_lock(&sp->mu);
    int64_t d = sp->stopping ? sp->deadline : INT64_MAX;
    pthread_mutex_unlock(&sp->mu);
    return d;
}

void mw_spool_stats(struct mw_spool *sp, json_t *o)
{
    pthread_mutex_lock(&sp->mu);
    json_object_set_new(o, "delivered", json_integer((json_int_t)sp->delivered));
    json_object_set_new(o, "retried", json_integer((json_int_t)sp->retried));
    json_object_set_new(o, "spooled", json_integer((json_int_t)sp->spooled));
    json_object_set_new(o, "failed", json_integer((json_int_t)sp->failed));
    json_object_set_new(o, "lost", json_integer((json_int_t)sp->lost));
    json_object_set_new(o, "spool_pending", json_integer((json_int_t)sp->spool_pending));
    pthread_mutex_unlock(&sp->mu);
}

void mw_spool_free(struct mw_spool *sp)
{
    if (sp == NULL)
        return;
    mw_spool_join(sp);
    registry_release(sp);
    for (size_t i = 0; sp->ring && i < sp->count; i++)
        free(sp->ring[(sp->head + i) % sp->o.queue].line);
    free(sp->ring);
    if (sp->spool_w)
        fclose(sp->spool_w);
    if (sp->spool_r)
        fclose(sp->spool_r);
    if (sp->locks) {
        pthread_mutex_destroy(&sp->mu);
        pthread_cond_destroy(&sp->cv);
    }
    free(sp->label);
    free(sp->name);
    free(sp->spool_path);
    free(sp->pos_path);
    free(sp->rejected_path);
    free(sp);
}
