/* mw_shape.c - dedup, suppression windows and alert caps
 *
 * Three tables, all keyed by strings so that nothing points into a rule:
 *   ids    alert id -> struct idrec, every id decided (delivered,
 *          suppressed, capped or dropped by a hook) within the last
 *          dedup_ttl, so a replay or a restart never raises the same
 *          detection twice; the records also form a list in the order they
 *          were recorded, oldest first, so expiry pops from the front;
 *   supp   "rule id \x1f canonical JSON of the key values" -> struct supp;
 *   rules  rule id -> struct rstats (counters and the current cap interval).
 * Suppression entries whose window is over and that hold no pending count
 * are swept every SWEEP_EVERY submissions, so memory follows the number of
 * live keys.
 *
 * Persistence (with a state folder): every id is appended to alert-ids and
 * flushed as it is decided (so even a kill -9 keeps it); the saver thread
 * fsyncs that file, rewrites it without the dead lines once they are half of
 * it, and writes shape.json (suppression and caps) when it changed, every
 * save_interval. All of it runs under s->mu; the JSON text is built under
 * the lock and written outside it. Suppression terms are owned by the table
 * alone (alerts get a copy), so the saver never races the alert's refcounts.
 */
#include "mw_shape.h"
#include "mw_dict.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_time.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_EVERY 4096

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

static mw_time_t wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (mw_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------------- */

static struct rstats *rstats(struct mw_shape *s, const char *rule_id)
{
    struct rstats *r = mw_dict_get(s->rules, rule_id, strlen(rule_id));
    if (r == NULL) {
        r = xcalloc(1, sizeof(*r));
        mw_dict_put(s->rules, rule_id, strlen(rule_id), r);
    }
    return r;
}

/* The id store (mu held) ----------------------------------------------- */

static void ids_unlink(struct mw_shape *s, struct idrec *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->oldest = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        s->newest = r->prev;
}

/* Records id at time t (replacing an earlier record of it). */
static struct idrec *ids_add(struct mw_shape *s, const char *id, size_t len, mw_time_t t)
{
    struct idrec *r = xmalloc(sizeof(*r) + len + 1), *old;
    memcpy(r->id, id, len);
    r->id[len] = '\0';
    r->len = len;
    r->t = t;
    r->gen = s->gen;
    r->replay = r->recovered = false;
    r->next = NULL;
    r->prev = s->newest;
    if (s->newest)
        s->newest->next = r;
    else
        s->oldest = r;
    s->newest = r;
    if ((old = mw_dict_put(s->ids, id, len, r)) != NULL) {
        ids_unlink(s, old);
        free(old);
    }
    return r;
}

/* Forgets the ids recorded more than ttl ago. */
static void ids_expire(struct mw_shape *s, mw_time_t now)
{
    while (s->oldest && s->oldest->t <= now - s->ttl) {
        struct idrec *r = s->oldest;
        mw_dict_del(s->ids, r->id, r->len);
        ids_unlink(s, r);
        free(r);
    }
}

/* One line of alert-ids: "ID EPOCH_MS", and " GEN" once checkpoints are on. */
#define GEN_RECOVERED (UINT64_C(1) << 62) /* in alert-ids: a recovered id */

static int id_line(char *buf, size_t size, const struct idrec *r)
{
    if (r->recovered)
        return snprintf(buf, size, "%s %" PRId64 " %" PRIu64 "\n", r->id, r->t / 1000,
                        GEN_RECOVERED);
    if (r->gen > 0)
        return snprintf(buf, size, "%s %" PRId64 " %" PRIu64 "\n", r->id, r->t / 1000,
                        r->gen);
    return snprintf(buf, size, "%s %" PRId64 "\n", r->id, r->t / 1000);
}

static void mark_id(struct mw_shape *s, const char *id)
{
    mw_time_t now = s->now();
    size_t len = strlen(id);
    struct idrec *r;
    ids_expire(s, now);
    r = mw_dict_get(s->ids, id, len);
    if (r != NULL && !r->replay)
        return;
    if (r != NULL) {
        /* decided again after a restart: now covered by the next checkpoint */
        r->replay = r->recovered = false;
        r->gen = s->gen;
    } else {
        r = ids_add(s, id, len, now);
    }
    if (s->ids_fp == NULL)
        return;
    char line[160];
    id_line(line, sizeof(line), r);
    if (fputs(line, s->ids_fp) == EOF || fflush(s->ids_fp) != 0)
        mw_log_error("state: cannot record alert id: %s", strerror(errno));
    s->ids_lines++;
    s->ids_unsynced = true;
}

static json_t *time_str(mw_time_t t)
{
    char buf[64];
    if (mw_time_format(t, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

static void supp_free(struct supp *e)
{
    if (e == NULL)
        return;
    free(e->rule);
    json_decref(e->terms);
    free(e);
}

/* ---------------------------------------------------------------------- */
/* state file                                                              */

static char *state_path(const struct mw_shape *s, const char *name)
{
    size_t len = strlen(s->state_dir) + strlen(name) + 2;
    char *p = xmalloc(len);
    snprintf(p, len, "%s/%s", s->state_dir, name);
    return p;
}

/* Writes data to path atomically: a temp file, fsync, rename, fsync of the
 * folder. Returns 0 or -1 (logged; path is then untouched). */
static int write_atomic(const struct mw_shape *s, const char *path, const char *data,
                        size_t len)
{
    size_t tlen = strlen(path) + 5;
    char *tmp = xmalloc(tlen);
    int fd, rc = -1;

    snprintf(tmp, tlen, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        goto out;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        close(fd);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0)
        goto out;
    if ((fd = open(s->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    rc = 0;
out:
    if (rc < 0) {
        mw_log_error("state %s: cannot save: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return rc;
}

/* Rewrites alert-ids with the live ids only (mu held). */
static void ids_compact(struct mw_shape *s)
{
    char *path = state_path(s, "alert-ids");
    size_t cap = 4096, len = 0, n = 0;
    char *buf = xmalloc(cap);
    FILE *fp;

    for (struct idrec *r = s->oldest; r; r = r->next, n++) {
        if (len + r->len + 64 > cap) {
            cap = (len + r->len + 64) * 2;
            buf = xrealloc(buf, cap);
        }
        len += (size_t)id_line(buf + len, cap - len, r);
    }
    if (write_atomic(s, path, buf, len) == 0 && (fp = fopen(path, "a")) != NULL) {
        mw_log_info("state %s: compacted (%" PRIu64 " lines -> %zu)", path, s->ids_lines,
                    n);
        fclose(s->ids_fp);
        s->ids_fp = fp;
        s->ids_lines = n;
        s->ids_unsynced = false;
    }
    free(buf);
    free(path);
}

/* Compacts once at least half of the file is dead (amortised O(1) per id). */
static void ids_maybe_compact(struct mw_shape *s)
{
    uint64_t live = mw_dict_size(s->ids);
    if (s->ids_fp && s->ids_lines > live && s->ids_lines - live >= live)
        ids_compact(s);
}

/* Lines are "ID EPOCH_MS"; a line with an id only (written by an older
 * version) counts as recorded now. */
static int load_ids(struct mw_shape *s, struct mw_error *err)
{
    char *path = state_path(s, "alert-ids");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    mw_time_t now = s->now();
    uint64_t expired = 0;
    int rc = 0;

    s->ids_fp = fopen(path, "a+");
    if (s->ids_fp == NULL) {
        rc = mw_error_set(err, "state %s: %s", path, strerror(errno));
        goto out;
    }
    rewind(s->ids_fp);
    while ((n = getline(&line, &cap, s->ids_fp)) > 0) {
        size_t idlen = strcspn(line, " \r\n");
        mw_time_t t = now;
        char *end;
        s->ids_lines++;
        if (idlen == 0)
            continue;
        uint64_t gen = 0;
        if (line[idlen] == ' ') {
            long long ms = strtoll(line + idlen + 1, &end, 10);
            if (end != line + idlen + 1 && ms >= 0 && ms < INT64_MAX / 1000)
                t = (mw_time_t)ms * 1000;
            if (end != line + idlen + 1 && *end == ' ')
                gen = strtoull(end + 1, NULL, 10);
        }
        if (t <= now - s->ttl) {
            expired++;
            continue;
        }
        struct idrec *rec = ids_add(s, line, idlen, t);
        rec->gen = gen == GEN_RECOVERED ? 0 : gen;
        rec->recovered = gen == GEN_RECOVERED;
        if (gen > s->max_gen && gen != GEN_RECOVERED)
            s->max_gen = gen;
    }
    free(line);
    fseek(s->ids_fp, 0, SEEK_END);
    ids_expire(s, now);
    if (expired)
        mw_log_info("state %s: %" PRIu64 " alert id(s) expired (older than the dedup "
                    "ttl), %zu kept",
                    path, expired, mw_dict_size(s->ids));
    ids_maybe_compact(s);
out:
    free(path);
    return rc;
}

static void parse_shape(struct mw_shape *s, const json_t *doc);

/* An alert whose line is the last of a file output but whose id is not in
 * the store was written just before the process was killed (the id is
 * recorded after the write): record it now, as decided after any
 * checkpoint, so a replay recognises it. */
static void recover_ids(struct mw_shape *s)
{
    char ids[16][33];
    int n = s->out ? mw_output_last_ids(s->out, ids, 16) : 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        if (len == 0 || mw_dict_get(s->ids, ids[i], len) != NULL)
            continue;
        struct idrec *r = ids_add(s, ids[i], len, s->now());
        r->recovered = true;
        mw_log_info("state: alert %s is in an output but its id was not recorded (the "
                    "previous run was killed in between): recorded now",
                    ids[i]);
        if (s->ids_fp) {
            char line[160];
            id_line(line, sizeof(line), r);
            fputs(line, s->ids_fp);
            fflush(s->ids_fp);
            s->ids_lines++;
        }
    }
}

static int load_shape(struct mw_shape *s, struct mw_error *err)
{
    char *path = state_path(s, "shape.json");
    json_error_t je;
    json_t *doc = NULL;
    int rc = 0;
    struct stat sb;

    if (stat(path, &sb) != 0)
        goto out; /* first run */
    doc = json_load_file(path, 0, &je);
    if (doc == NULL) {
        rc = mw_error_set(err, "state %s:%d: %s", path, je.line, je.text);
        goto out;
    }
    parse_shape(s, doc);
out:
    json_decref(doc);
    free(path);
    return rc;
}

/* Fills the suppression and cap tables from a saved document (mu held). */
static void parse_shape(struct mw_shape *s, const json_t *doc)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "suppression"), i, v)
    {
        const char *key = json_string_value(json_object_get(v, "key"));
        const char *rule = json_string_value(json_object_get(v, "rule"));
        if (key == NULL || rule == NULL)
            continue;
        struct supp *e = xcalloc(1, sizeof(*e));
        e->rule = xstrdup(rule);
        e->terms = json_incref(json_object_get(v, "terms"));
        e->window = json_integer_value(json_object_get(v, "window"));
        e->start = json_integer_value(json_object_get(v, "start"));
        e->first = json_integer_value(json_object_get(v, "first"));
        e->last = json_integer_value(json_object_get(v, "last"));
        e->count = (uint64_t)json_integer_value(json_object_get(v, "count"));
        supp_free(mw_dict_put(s->supp, key, strlen(key), e));
    }
    json_array_foreach(json_object_get(doc, "caps"), i, v)
    {
        const char *rule = json_string_value(json_object_get(v, "rule"));
        if (rule == NULL)
            continue;
        struct rstats *r = rstats(s, rule);
        r->have_bucket = true;
        r->bucket = json_integer_value(json_object_get(v, "bucket"));
        r->per = json_integer_value(json_object_get(v, "per"));
        r->max = json_integer_value(json_object_get(v, "max"));
        r->count = json_integer_value(json_object_get(v, "count"));
        r->dropped = (uint64_t)json_integer_value(json_object_get(v, "dropped"));
    }
}

static void save_supp(const void *key, size_t klen, void *val, void *ud)
{
    struct supp *e = val;
    json_array_append_new(
        ud, json_pack("{s:s%, s:s, s:O, s:I, s:I, s:I, s:I, s:I}", "key",
                      (const char *)key, klen, "rule", e->rule, "terms", e->terms,
                      "window", (json_int_t)e->window, "start", (json_int_t)e->start,
                      "first", (json_int_t)e->first, "last", (json_int_t)e->last, "count",
                      (json_int_t)e->count));
}

static void save_caps(const void *key, size_t klen, void *val, void *ud)
{
    struct rstats *r = val;
    if (!r->have_bucket)
        return;
    json_array_append_new(
        ud, json_pack("{s:s%, s:I, s:I, s:I, s:I, s:I}", "rule", (const char *)key, klen,
                      "bucket", (json_int_t)r->bucket, "per", (json_int_t)r->per, "max",
                      (json_int_t)r->max, "count", (json_int_t)r->count, "dropped",
                      (json_int_t)r->dropped));
}

/* The state as JSON text (mu held); the caller frees it. */
static char *shape_text(struct mw_shape *s)
{
    json_t *supp = json_array(), *caps = json_array();
    mw_dict_foreach(s->supp, save_supp, supp);
    mw_dict_foreach(s->rules, save_caps, caps);
    json_t *doc =
        json_pack("{s:i, s:o, s:o}", "version", 1, "suppression", supp, "caps", caps);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    s->dirty = false;
    return text;
}

static void shape_write(struct mw_shape *s, char *text)
{
    char *path = state_path(s, "shape.json");
    if (text)
        write_atomic(s, path, text, strlen(text));
    mw_json_free(text);
    free(path);
}

/* One save: expiry and compaction of the id store, fsync of its appends,
 * shape.json when it changed (or always, when force). */
static void save_now(struct mw_shape *s, bool force)
{
    char *text = NULL;
    int fd = -1;
    pthread_mutex_lock(&s->mu);
    ids_expire(s, s->now());
    ids_maybe_compact(s);
    if (s->ids_unsynced && s->ids_fp) {
        fd = dup(fileno(s->ids_fp));
        s->ids_unsynced = false;
    }
    if (s->dirty || force)
        text = shape_text(s);
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    if (text)
        shape_write(s, text);
}

void mw_shape_save(struct mw_shape *s)
{
    if (s && s->state_dir)
        save_now(s, false);
}

static void *saver(void *arg)
{
    struct mw_shape *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        mw_time_t at = (mw_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 + s->interval;
        ts.tv_sec = (time_t)(at / 1000000);
        ts.tv_nsec = (long)(at % 1000000) * 1000;
        while (!s->stopping && pthread_cond_timedwait(&s->cv, &s->mu, &ts) != ETIMEDOUT)
            ;
        if (s->stopping)
            break;
        pthread_mutex_unlock(&s->mu);
        save_now(s, false);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---------------------------------------------------------------------- */

struct mw_shape *mw_shape_open(const char *state_dir, const struct mw_shape_opts *o,
                               struct mw_output *out, struct mw_error *err)
{
    struct mw_shape *s = xcalloc(1, sizeof(*s));
    pthread_condattr_t ca;
    s->out = out;
    s->ids = mw_dict_new();
    s->supp = mw_dict_new();
    s->rules = mw_dict_new();
    s->ttl = o && o->dedup_ttl > 0 ? o->dedup_ttl : MW_SHAPE_DEFAULT_DEDUP_TTL;
    s->interval =
        o && o->save_interval > 0 ? o->save_interval : MW_SHAPE_DEFAULT_SAVE_INTERVAL;
    s->now = o && o->now ? o->now : wall_now;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (state_dir == NULL)
        return s;
    s->state_dir = xstrdup(state_dir);
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        mw_error_set(err, "--state-dir %s: %s", state_dir, strerror(errno));
        goto fail;
    }
    if (load_ids(s, err) < 0 || load_shape(s, err) < 0)
        goto fail;
    recover_ids(s);
    if (pthread_create(&s->saver, NULL, saver, s) != 0) {
        mw_error_set(err, "--state-dir %s: cannot start the state saver thread",
                     state_dir);
        goto fail;
    }
    s->saver_on = true;
    return s;
fail:
    free(s->state_dir);
    s->state_dir = NULL; /* do not overwrite the state we could not read */
    mw_shape_free(s);
    return NULL;
}

struct mw_shape *mw_shape_new(const char *state_dir, struct mw_output *out,
                              struct mw_error *err)
{
    return mw_shape_open(state_dir, NULL, out, err);
}

static void free_supp(const void *k, size_t kl, void *v, void *ud)
{
    (void)k;
    (void)kl;
    (void)ud;
    supp_free(v);
}

static void free_val(const void *k, size_t kl, void *v, void *ud)
{
    (void)k;
    (void)kl;
    (void)ud;
    free(v);
}

void mw_shape_free(struct mw_shape *s)
{
    if (s == NULL)
        return;
    if (s->saver_on) {
        pthread_mutex_lock(&s->mu);
        s->stopping = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->saver, NULL);
    }
    if (s->state_dir)
        save_now(s, true);
    if (s->ids_fp)
        fclose(s->ids_fp);
    while (s->oldest) {
        struct idrec *r = s->oldest;
        s->oldest = r->next;
        free(r);
    }
    mw_dict_foreach(s->supp, free_supp, NULL);
    mw_dict_foreach(s->rules, free_val, NULL);
    mw_dict_free(s->supp);
    mw_dict_free(s->rules);
    mw_dict_free(s->ids);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->state_dir);
    free(s);
}

bool mw_shape_duplicate(struct mw_shape *s, const char *rule_id, const char *id)
{
    bool dup;
    pthread_mutex_lock(&s->mu);
    ids_expire(s, s->now());
    const struct idrec *rec = mw_dict_get(s->ids, id, strlen(id));
    dup = rec != NULL && !rec->replay;
    if (dup)
        rstats(s, rule_id)->deduplicated++;
    pthread_mutex_unlock(&s->mu);
    return dup;
}

void mw_shape_hook_dropped(struct mw_shape *s, const char *rule_id, const char *id)
{
    pthread_mutex_lock(&s->mu);
    rstats(s, rule_id)->hook_dropped++;
    mark_id(s, id);
    pthread_mutex_unlock(&s->mu);
}

void mw_shape_hook_failed(struct mw_shape *s, const char *rule_id)
{
    pthread_mutex_lock(&s->mu);
    rstats(s, rule_id)->hook_errors++;
    pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------------- */
/* suppression and caps                                                    */

/* The key values: per field, the value in the first event that has it
 * (null when none has it: missing values group together, as in Elastic). */
static json_t *supp_terms(const struct mw_alert_policy *p, struct mw_event *const *evs,
                          int n, json_t **values)
{
    json_t *terms = json_array();
    *values = json_array();
    for (int k = 0; k < p->nsuppress; k++) {
        json_t *v = NULL;
        for (int i = 0; i < n && v == NULL; i++) {
            v = mw_path_get(mw_event_root(evs[i]), p->suppress_by[k]);
            if (json_is_null(v))
                v = NULL;
        }
        json_array_append_new(*values, v ? json_incref(v) : json_null());
        json_array_append_new(terms, json_pack("{s:s, s:O}", "field",
                                               mw_path_str(p->suppress_by[k]), "value",
                                               v ? v : json_null()));
    }
    return terms;
}

struct sweep {
    mw_time_t now;
    struct mw_dict *dead; /* keys to delete (values unused) */
};

static void sweep_one(const void *key, size_t klen, void *val, void *ud)
{
    struct supp *e = val;
    struct sweep *sw = ud;
    if (e->count == 0 && e->start + e->window <= sw->now)
        mw_dict_put(sw->dead, key, klen, e);
}

static void sweep_del(const void *key, size_t klen, void *val, void *ud)
{
    mw_dict_del(ud, key, klen);
    supp_free(val);
}

static void sweep(struct mw_shape *s, mw_time_t now)
{
    struct sweep sw = {now, mw_dict_new()};
    mw_dict_foreach(s->supp, sweep_one, &sw);
    mw_dict_foreach(sw.dead, sweep_del, s->supp);
    if (mw_dict_size(sw.dead) > 0)
        s->dirty = true;
    mw_dict_free(sw.dead);
}

static void report_cap(const char *rule_id, struct rstats *r)
{
    if (r->dropped == 0)
        return;
    mw_health_emit("alerts_capped",
                   json_pack("{s:s, s:I, s:o, s:o, s:I}", "rule_id", rule_id,
                             "max_alerts", (json_int_t)r->max, "interval_start",
                             time_str(r->bucket * r->per), "interval_end",
                             time_str((r->bucket + 1) * r->per), "dropped",
                             (json_int_t)r->dropped));
    r->dropped = 0;
}

/* True when the cap lets one more alert through at t (and counts it). */
static bool cap_admit(const char *rule_id, struct rstats *r,
                      const struct mw_alert_policy *p, mw_time_t t)
{
    if (p->max_alerts <= 0)
        return true;
    int64_t b = t >= 0 ? t / p->max_alerts_per : (t + 1) / p->max_alerts_per - 1;
    if (!r->have_bucket || b != r->bucket || r->per != p->max_alerts_per) {
        report_cap(rule_id, r);
        r->have_bucket = true;
        r->bucket = b;
        r->per = p->max_alerts_per;
        r->count = 0;
    }
    r->max = p->max_alerts;
    if (r->count >= p->max_alerts) {
        r->dropped++;
        return false;
    }
    r->count++;
    return true;
}

enum mw_shape_verdict mw_shape_submit(struct mw_shape *s, const char *rule_id,
                                      const struct mw_alert_policy *p, json_t *alert,
                                      struct mw_event *const *evs, int n, mw_time_t t)
{
    struct rstats *r = rstats(s, rule_id);
    const char *id =
        json_string_value(json_object_get(json_object_get(alert, "event"), "id"));
    enum mw_shape_verdict v = MW_SHAPE_DELIVERED;
    struct supp *e = NULL;
    char *key = NULL;
    size_t klen = 0;
    bool replay = false;

    pthread_mutex_lock(&s->mu);
    if (p->nsuppress > 0 || p->max_alerts > 0)
        s->dirty = true;
    if (id) {
        const struct idrec *rec = mw_dict_get(s->ids, id, strlen(id));
        replay = rec != NULL && rec->replay;
    }
    if (p->nsuppress > 0) {
        json_t *values;
        json_t *terms = supp_terms(p, evs, n, &values);
        char *vs = json_dumps(values, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_decref(values);
        klen = strlen(rule_id) + 1 + strlen(vs);
        key = xmalloc(klen + 1);
        snprintf(key, klen + 1, "%s\x1f%s", rule_id, vs);
        mw_json_free(vs);
        e = mw_dict_get(s->supp, key, klen);
        if (e != NULL && t < e->start + e->window) {
            /* inside the window of the alert already delivered for this key */
            if (e->count == 0)
                e->first = t;
            e->count++;
            e->last = t;
            r->suppressed++;
            json_decref(terms);
            v = MW_SHAPE_SUPPRESSED;
            goto out;
        }
        if (!cap_admit(rule_id, r, p, t)) {
            json_decref(terms);
            r->capped++;
            v = MW_SHAPE_CAPPED;
            goto out;
        }
        /* the alert gets its own copy: the table's terms are touched only
         * under the lock (the saver serialises them) */
        json_t *sj = json_pack("{s:I, s:o}", "docs_count", (json_int_t)(e ? e->count : 0),
                               "terms", json_deep_copy(terms));
        if (e && e->count > 0) {
            json_object_set_new(sj, "start", time_str(e->first));
            json_object_set_new(sj, "end", time_str(e->last));
        }
        json_object_set_new(json_object_get(alert, "moonwatch"), "suppression", sj);
        if (e == NULL) {
            e = xcalloc(1, sizeof(*e));
            e->rule = xstrdup(rule_id);
            mw_dict_put(s->supp, key, klen, e);
        }
        json_decref(e->terms);
        e->terms = terms;
        e->window = p->suppress_window;
        e->start = t;
        e->count = 0;
        e->first = e->last = 0;
    } else if (!cap_admit(rule_id, r, p, t)) {
        r->capped++;
        v = MW_SHAPE_CAPPED;
        goto out;
    }
    if (replay) {
        /* delivered before the restart: the shaping state moves as it did
         * then, but the outputs have it already */
        r->replayed++;
        v = MW_SHAPE_REPLAYED;
        goto out;
    }
    r->delivered++;
out:
    free(key);
    if (++s->submits % SWEEP_EVERY == 0)
        sweep(s, t);
    /* the id is recorded after the alert is written: a kill between the
     * two leaves the alert in the output but not its id, which the next
     * start recovers from the output's last line (mw_output_last_ids);
     * the other order would lose the alert */
    if (id && v != MW_SHAPE_DELIVERED)
        mark_id(s, id);
    pthread_mutex_unlock(&s->mu);
    if (v == MW_SHAPE_DELIVERED) {
        if (s->out)
            mw_output_write(s->out, alert);
        if (id) {
            pthread_mutex_lock(&s->mu);
            mark_id(s, id);
            pthread_mutex_unlock(&s->mu);
        }
    }
    return v;
}

static void finish_rule(const void *key, size_t klen, void *val, void *ud)
{
    char id[512];
    (void)ud;
    snprintf(id, sizeof(id), "%.*s", (int)klen, (const char *)key);
    report_cap(id, val);
}

void mw_shape_finish(struct mw_shape *s)
{
    pthread_mutex_lock(&s->mu);
    mw_dict_foreach(s->rules, finish_rule, NULL);
    s->dirty = true;
    pthread_mutex_unlock(&s->mu);
}

struct pending {
    const char *rule;
    size_t rlen;
    uint64_t n;
};

static void count_pending(const void *key, size_t klen, void *val, void *ud)
{
    struct pending *pd = ud;
    struct supp *e = val;
    (void)klen;
    if (strncmp(key, pd->rule, pd->rlen) == 0 && ((const char *)key)[pd->rlen] == '\x1f')
        pd->n += e->count;
}

void mw_shape_rule_stats(const struct mw_shape *cs, const char *rule_id, json_t *o)
{
    struct mw_shape *s = (struct mw_shape *)cs; /* for the lock only */
    static const struct rstats zero;
    struct rstats r;
    struct pending pd = {rule_id, strlen(rule_id), 0};
    pthread_mutex_lock(&s->mu);
    const struct rstats *rp = mw_dict_get(s->rules, rule_id, strlen(rule_id));
    r = rp ? *rp : zero;
    mw_dict_foreach(s->supp, count_pending, &pd);
    pthread_mutex_unlock(&s->mu);
    json_object_set_new(o, "delivered", json_integer((json_int_t)r.delivered));
    json_object_set_new(o, "deduplicated", json_integer((json_int_t)r.deduplicated));
    json_object_set_new(o, "suppressed", json_integer((json_int_t)r.suppressed));
    json_object_set_new(o, "suppressed_pending", json_integer((json_int_t)pd.n));
    json_object_set_new(o, "capped", json_integer((json_int_t)r.capped));
    json_object_set_new(o, "hook_dropped", json_integer((json_int_t)r.hook_dropped));
    json_object_set_new(o, "hook_errors", json_integer((json_int_t)r.hook_errors));
    json_object_set_new(o, "replayed", json_integer((json_int_t)r.replayed));
}

/* ---------------------------------------------------------------------- */
/* checkpoints                                                             */

static void pending_ids(struct mw_shape *s, json_t *arr)
{
    for (struct idrec *r = s->oldest; r; r = r->next)
        if (r->replay)
            json_array_append_new(arr, json_stringn(r->id, r->len));
}

json_t *mw_shape_checkpoint(struct mw_shape *s, uint64_t gen)
{
    json_t *supp = json_array(), *caps = json_array(), *pending = json_array();
    int fd = -1;
    pthread_mutex_lock(&s->mu);
    mw_dict_foreach(s->supp, save_supp, supp);
    mw_dict_foreach(s->rules, save_caps, caps);
    pending_ids(s, pending);
    s->gen = gen + 1;
    if (gen + 1 > s->max_gen)
        s->max_gen = gen + 1;
    if (s->ids_fp && s->ids_unsynced) {
        fd = dup(fileno(s->ids_fp));
        s->ids_unsynced = false;
    }
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0) {
        fsync(fd); /* every id decided so far is durable before the cut */
        close(fd);
    }
    return json_pack("{s:o, s:o, s:o}", "suppression", supp, "caps", caps,
                     "replay_pending", pending);
}

static void clear_tables(struct mw_shape *s)
{
    mw_dict_foreach(s->supp, free_supp, NULL);
    mw_dict_free(s->supp);
    s->supp = mw_dict_new();
    /* caps live in the per-rule records: reset the interval, keep counters */
    struct mw_dict *old = s->rules;
    s->rules = mw_dict_new();
    mw_dict_foreach(old, free_val, NULL);
    mw_dict_free(old);
}

uint64_t mw_shape_restore(struct mw_shape *s, const json_t *doc, uint64_t gen)
{
    uint64_t replay = 0;
    size_t i;
    json_t *v;
    pthread_mutex_lock(&s->mu);
    clear_tables(s);
    parse_shape(s, doc);
    for (struct idrec *r = s->oldest; r; r = r->next)
        if ((r->gen > gen || r->recovered) && !r->replay) {
            r->replay = true;
            replay++;
        }
    json_array_foreach(json_object_get(doc, "replay_pending"), i, v)
    {
        struct idrec *r =
            mw_dict_get(s->ids, json_string_value(v), json_string_length(v));
        if (r && !r->replay) {
            r->replay = true;
            replay++;
        }
    }
    s->gen = (gen > s->max_gen ? gen : s->max_gen) + 1;
    s->max_gen = s->gen;
    s->dirty = true;
    pthread_mutex_unlock(&s->mu);
    return replay;
}

uint64_t mw_shape_generation(const struct mw_shape *cs)
{
    struct mw_shape *s = (struct mw_shape *)cs;
    uint64_t g;
    pthread_mutex_lock(&s->mu);
    g = s->gen > 0 ? s->gen : s->max_gen + 1;
    pthread_mutex_unlock(&s->mu);
    return g;
}
