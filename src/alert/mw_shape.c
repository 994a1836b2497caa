/* mw_shape.c - alert shaping in pipeline order: dedup, the hook's verdict,
 * suppression and caps, then the outputs; persistence and checkpoints
 *
 * The order of mw_shape.h is the order of this file's entry points: an
 * alert id already decided is a duplicate (mw_dedup.c); the engine runs
 * the rule's on_alert hook and reports a drop or an error here; then
 * mw_shape_submit applies suppression and the cap (mw_suppress.c), writes
 * what passes to the outputs and records the id after the write (a kill in
 * between leaves the alert in the output but not its id, which the next
 * start recovers from the output's last line; the other order would lose
 * the alert).
 *
 * Persistence (with a state folder): ids go to STATE/alert-ids as they are
 * decided (mw_dedup.c); the saver thread here, every save_interval, fsyncs
 * that file, lets mw_dedup compact it, and writes STATE/shape.json
 * (suppression and caps) when it changed, through mw_file.h (temp file,
 * fsync, rename, fsync of the folder). Everything runs under s->mu; the
 * JSON text is built under the lock and written outside it.
 */
#include "mw_alert.h"
#include "mw_clock.h"
#include "mw_file.h"
#include "mw_log.h"
#include "mw_output.h"
#include "shape_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SWEEP_EVERY 4096

struct rstats *mw_shape_rstats(struct mw_shape *s, const char *rule_id)
{
    struct rstats *r = mw_dict_get(s->rules, rule_id, strlen(rule_id));
    if (r == NULL) {
        r = xcalloc(1, sizeof(*r));
        mw_dict_put(s->rules, rule_id, strlen(rule_id), r);
    }
    return r;
}

char *mw_shape_path(const struct mw_shape *s, const char *name)
{
    return mw_path_join(s->state_dir, name);
}

/* ---------------------------------------------------------------------- */
/* state file                                                              */

static int load_shape(struct mw_shape *s, struct mw_error *err)
{
    char *path = mw_shape_path(s, "shape.json");
    json_error_t je;
    json_t *doc = NULL;
    int rc = 0;
    struct stat sb;
    size_t len;
    char *text;

    if (lstat(path, &sb) != 0)
        goto out; /* first run */
    /* never through a symlink planted in the state folder */
    if ((text = mw_file_read_flags(path, 0, &len, MW_FILE_NOFOLLOW, err)) == NULL) {
        rc = -1;
        goto out;
    }
    doc = json_loadb(text, len, 0, &je);
    free(text);
    if (doc == NULL) {
        rc = mw_error_set(err, "state %s:%d: %s", path, je.line, je.text);
        goto out;
    }
    mw_suppress_parse(s, doc);
out:
    json_decref(doc);
    free(path);
    return rc;
}

/* The state as JSON text (mu held); the caller frees it. */
static char *shape_text(struct mw_shape *s)
{
    json_t *supp = json_array(), *caps = json_array();
    mw_suppress_dump(s, supp, caps);
    json_t *doc =
        json_pack("{s:i, s:o, s:o}", "version", 1, "suppression", supp, "caps", caps);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    s->dirty = false;
    return text;
}

static void shape_write(struct mw_shape *s, char *text)
{
    char *path = mw_shape_path(s, "shape.json");
    struct mw_error err;
    if (text &&
        mw_file_write_atomic(path, text, strlen(text), MW_FILE_DURABLE, &err) != 0)
        mw_log_error("state %s: cannot save: %s", path, err.msg);
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
    mw_dedup_expire(s, s->now());
    mw_dedup_maybe_compact(s);
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
        int64_t at = mw_mono_us() + s->interval;
        ts.tv_sec = (time_t)(at / MW_USEC_PER_SEC);
        ts.tv_nsec = (long)(at % MW_USEC_PER_SEC) * MW_NSEC_PER_USEC;
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

static mw_time_t wall_clock(void)
{
    return mw_wall_us();
}

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
    s->now = o && o->now ? o->now : wall_clock;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (state_dir == NULL)
        return s;
    s->state_dir = xstrdup(state_dir);
    if (mw_dir_private(state_dir, "--state-dir", err) < 0)
        goto fail;
    if (mw_dedup_load(s, err) < 0 || load_shape(s, err) < 0)
        goto fail;
    mw_dedup_recover(s);
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
    mw_dedup_clear(s);
    mw_suppress_clear(s, false);
    mw_dict_free(s->ids);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->state_dir);
    free(s);
}

/* ---------------------------------------------------------------------- */
/* the pipeline: dedup, hook, suppression and caps, outputs                */

bool mw_shape_duplicate(struct mw_shape *s, const char *rule_id, const char *id)
{
    bool dup;
    pthread_mutex_lock(&s->mu);
    mw_dedup_expire(s, s->now());
    const struct idrec *rec = mw_dedup_get(s, id);
    dup = rec != NULL && !rec->replay;
    if (dup)
        mw_shape_rstats(s, rule_id)->deduplicated++;
    pthread_mutex_unlock(&s->mu);
    return dup;
}

void mw_shape_hook_dropped(struct mw_shape *s, const char *rule_id, const char *id)
{
    pthread_mutex_lock(&s->mu);
    mw_shape_rstats(s, rule_id)->hook_dropped++;
    mw_dedup_mark(s, id);
    pthread_mutex_unlock(&s->mu);
}

void mw_shape_hook_failed(struct mw_shape *s, const char *rule_id)
{
    pthread_mutex_lock(&s->mu);
    mw_shape_rstats(s, rule_id)->hook_errors++;
    pthread_mutex_unlock(&s->mu);
}

enum mw_shape_verdict mw_shape_submit(struct mw_shape *s, const char *rule_id,
                                      const struct mw_alert_policy *p, json_t *alert,
                                      struct mw_event *const *evs, int n, mw_time_t t)
{
    const char *id = mw_alert_event_id(alert);
    enum mw_shape_verdict v;
    bool replay = false;

    pthread_mutex_lock(&s->mu);
    struct rstats *r = mw_shape_rstats(s, rule_id);
    if (p->nsuppress > 0 || p->max_alerts > 0)
        s->dirty = true;
    if (id) {
        const struct idrec *rec = mw_dedup_get(s, id);
        replay = rec != NULL && rec->replay;
    }
    v = mw_suppress_apply(s, rule_id, r, p, alert, evs, n, t);
    if (v == MW_SHAPE_DELIVERED && replay) {
        /* delivered before the restart: the shaping state moves as it did
         * then, but the outputs have it already */
        r->replayed++;
        v = MW_SHAPE_REPLAYED;
    } else if (v == MW_SHAPE_DELIVERED) {
        r->delivered++;
    }
    if (++s->submits % SWEEP_EVERY == 0)
        mw_suppress_sweep(s, t);
    /* the id is recorded after the alert is written: a kill between the
     * two leaves the alert in the output but not its id, which the next
     * start recovers from the output's last line (mw_output_last_ids);
     * the other order would lose the alert */
    if (id && v != MW_SHAPE_DELIVERED)
        mw_dedup_mark(s, id);
    pthread_mutex_unlock(&s->mu);
    if (v == MW_SHAPE_DELIVERED) {
        if (s->out)
            mw_output_write(s->out, alert);
        if (id) {
            pthread_mutex_lock(&s->mu);
            mw_dedup_mark(s, id);
            pthread_mutex_unlock(&s->mu);
        }
    }
    return v;
}

void mw_shape_finish(struct mw_shape *s)
{
    pthread_mutex_lock(&s->mu);
    mw_suppress_finish(s);
    s->dirty = true;
    pthread_mutex_unlock(&s->mu);
}

void mw_shape_rule_stats(struct mw_shape *s, const char *rule_id, json_t *o)
{
    static const struct rstats zero;
    struct rstats r;
    uint64_t pending;
    pthread_mutex_lock(&s->mu);
    const struct rstats *rp = mw_dict_get(s->rules, rule_id, strlen(rule_id));
    r = rp ? *rp : zero;
    pending = mw_suppress_pending(s, rule_id);
    pthread_mutex_unlock(&s->mu);
    json_object_set_new(o, "delivered", json_integer((json_int_t)r.delivered));
    json_object_set_new(o, "deduplicated", json_integer((json_int_t)r.deduplicated));
    json_object_set_new(o, "suppressed", json_integer((json_int_t)r.suppressed));
    json_object_set_new(o, "suppressed_pending", json_integer((json_int_t)pending));
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
    mw_suppress_dump(s, supp, caps);
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

uint64_t mw_shape_restore(struct mw_shape *s, const json_t *doc, uint64_t gen)
{
    uint64_t replay = 0;
    size_t i;
    json_t *v;
    pthread_mutex_lock(&s->mu);
    mw_suppress_clear(s, true);
    mw_suppress_parse(s, doc);
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

uint64_t mw_shape_generation(struct mw_shape *s)
{
    uint64_t g;
    pthread_mutex_lock(&s->mu);
    g = s->gen > 0 ? s->gen : s->max_gen + 1;
    pthread_mutex_unlock(&s->mu);
    return g;
}
