/* mw_engine.c - rule set, per-event dispatch and alert emission
 *
 * Each slot pairs a compiled rule with its detector (mw_detector.h: the
 * ops of the rule's kind, the rule's definition) and the detector's state.
 * Dispatch is a loop over the slots calling ops->process; completed
 * detections come back through one emit callback, become alert documents
 * and go to the outputs at once. The engine never branches on the rule
 * kind: what differs between kinds is in the ops. Rules never do I/O and
 * never see each other (the engine itself reads and writes detectors'
 * state files, ops->load/save, under --state-dir).
 */
#include "mw_frontend.h"
#include "mw_engine.h"
#include "mw_alert.h"
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_detector.h"
#include "mw_dict.h"
#include "mw_file.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_prefilter.h"
#include "mw_rule.h"
#include "mw_shape.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct slot {
    struct mw_rule *rule;               /* owned */
    const struct mw_detector_ops *ops;  /* of the rule's kind */
    const void *def;                    /* borrowed from rule */
    void *state;                        /* owned, made by ops->state_new */
    const struct mw_detector_ops *sops; /* the ops that made state (they differ
                                         * from ops only during a reload) */
    uint64_t late;                      /* too-late events it would have matched */
    uint64_t raised;                    /* detections, before shaping */
    uint64_t alerts;                    /* delivered to the outputs */
    uint64_t alert_failures;
    /* Quarantine is a circuit breaker (docs/OPERATIONS.md#quarantine): open
     * after --quarantine-after failed calls in a row. Open on script errors
     * (data-dependent: the event simply does not match), every event is
     * still a probe; open on a cap (memory, instructions, a blocked call),
     * skip_left events are skipped before the next probe, the cool-down
     * doubling on each failed probe. A call that returns closes it. */
    bool quarantined;
    bool skips;                 /* open on a cap: probes are spaced */
    uint64_t cooldown;          /* events skipped before the next probe */
    uint64_t skip_left;         /* of this cool-down */
    uint64_t skipped;           /* events not evaluated while open */
    uint64_t reopened;          /* failed probes */
    int64_t loaded_at;          /* wall seconds of the last (re)load */
    uint64_t reloads;           /* successful reloads of this file */
    uint64_t byte_evicted_told; /* byte evictions already in a health record */
    int64_t byte_evicted_ms;    /* monotonic ms of that record */
};

struct mw_engine {
    struct mw_engine_opts opts;
    char *lua_dir;           /* owned copy */
    mw_alert_write_fn write; /* NULL: alerts are not written */
    void *write_ud;          /* borrowed */
    struct mw_shape *shape;  /* borrowed, may be NULL */
    struct slot *slots;      /* owned */
    size_t nslots;
    uint64_t alerts;
    uint64_t reloads_ok, reloads_failed;
    struct slot *current;    /* during dispatch, for the emit callback */
    mw_engine_alert_fn hook; /* may be NULL */
    void *hook_ud;
    struct mw_prefilter *prefilter; /* owned reference: rebuilt whenever rules change */
};

/* Frees the slot's detector state. */
static void drop_state(struct slot *s)
{
    if (s->state)
        s->sops->state_free(s->state);
    s->state = NULL;
    s->sops = NULL;
}

/* The slot's rule becomes r (its detector with it); the state stays. */
static void bind_rule(struct slot *s, struct mw_rule *r)
{
    s->rule = r;
    s->ops = mw_detector_of(r);
    s->def = mw_detector_def(r);
}

/* The detector keeps window state (checkpointed, carried across reloads). */
static bool windowed(const struct slot *s)
{
    return s->state != NULL && s->sops->dump != NULL;
}

struct mw_engine *mw_engine_new(const struct mw_engine_opts *opts,
                                mw_alert_write_fn write, void *write_ud)
{
    struct mw_engine *e = xcalloc(1, sizeof(*e));
    e->opts = *opts;
    e->lua_dir = xstrdup(opts->lua_dir ? opts->lua_dir : "lua");
    e->opts.lua_dir = e->lua_dir;
    e->write = write;
    e->write_ud = write_ud;
    return e;
}

void mw_engine_free(struct mw_engine *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->nslots; i++) {
        drop_state(&e->slots[i]);
        mw_rule_free(e->slots[i].rule);
    }
    free(e->slots);
    mw_prefilter_unref(e->prefilter);
    free(e->lua_dir);
    free(e);
}

/* ---------------------------------------------------------------------- */
/* loading                                                                 */

struct pathlist {
    char **v;
    size_t n, cap;
};

static void pl_add(struct pathlist *pl, const char *p)
{
    if (pl->n == pl->cap) {
        pl->cap = pl->cap ? pl->cap * 2 : 16;
        pl->v = xrealloc(pl->v, pl->cap * sizeof(char *));
    }
    pl->v[pl->n++] = xstrdup(p);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The scan of the rules paths. A folder is read once however many paths
 * lead to it (symlinks, loops: each folder and each file is known by its
 * device and inode), and only regular files of at most
 * MW_ENGINE_RULE_MAX_BYTES become rule files: a FIFO or a device named
 * x.lua would block or feed the loader forever. */
struct scan {
    struct pathlist *pl;
    struct mw_dict *seen; /* (dev, ino) -> first path (owned) */
    bool quiet;
};

static const char *file_kind(mode_t m)
{
    return S_ISFIFO(m)   ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a regular file";
}

/* Records the inode of sb; returns the path it was first seen at, or NULL
 * when it is new. */
static const char *seen_before(struct scan *sc, const struct stat *sb, const char *path)
{
    struct {
        dev_t dev;
        ino_t ino;
    } id;
    memset(&id, 0, sizeof(id));
    id.dev = sb->st_dev;
    id.ino = sb->st_ino;
    const char *first = mw_dict_get(sc->seen, &id, sizeof(id));
    if (first == NULL)
        mw_dict_put(sc->seen, &id, sizeof(id), xstrdup(path));
    return first;
}

/* A rule file found at path (sb: what stat says): added once, when it is a
 * regular file under the size cap. Returns -1 when it is refused. */
static int scan_file(struct scan *sc, const char *path, const struct stat *sb)
{
    if (!S_ISREG(sb->st_mode)) {
        if (!sc->quiet)
            mw_log_error("%s: %s, not loaded (rule files must be regular files)", path,
                         file_kind(sb->st_mode));
        return -1;
    }
    if (sb->st_size > MW_ENGINE_RULE_MAX_BYTES) {
        if (!sc->quiet)
            mw_log_error("%s: %lld bytes, over the %d bytes a rule file may have", path,
                         (long long)sb->st_size, MW_ENGINE_RULE_MAX_BYTES);
        return -1;
    }
    const char *first = seen_before(sc, sb, path);
    if (first) {
        if (!sc->quiet)
            mw_log_warn("%s: the same file as %s, loaded once", path, first);
        return 0;
    }
    pl_add(sc->pl, path);
    return 0;
}

/* Lists path's rule files; returns how many paths failed (missing,
 * unreadable, refused). */
static int scan(struct scan *sc, const char *path, int depth)
{
    struct stat sb;
    DIR *d;
    struct dirent *de;
    struct pathlist local = {0};

    if (stat(path, &sb) < 0) {
        if (!sc->quiet)
            mw_log_error("%s: no such rule file or folder", path);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode))
        return scan_file(sc, path, &sb) < 0 ? 1 : 0;
    const char *first = seen_before(sc, &sb, path);
    if (first) {
        /* a symlink back to a folder on the way (a loop) or to one already
         * read: its files are in the list once already */
        if (!sc->quiet && depth == 0)
            mw_log_warn("%s: the same folder as %s, read once", path, first);
        return 0;
    }
    if (depth > 16 || (d = opendir(path)) == NULL) {
        if (!sc->quiet)
            mw_log_error("%s: cannot read folder", path);
        return 1;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *child = mw_path_join(path, de->d_name);
        if (stat(child, &sb) == 0 &&
            (S_ISDIR(sb.st_mode) || mw_frontend_accepts(de->d_name)))
            pl_add(&local, child);
        free(child);
    }
    closedir(d);
    if (local.n > 1) /* qsort(NULL, 0, ...) is undefined */
        qsort(local.v, local.n, sizeof(char *), cmp_str);
    int failed = 0;
    for (size_t i = 0; i < local.n; i++) {
        if (stat(local.v[i], &sb) < 0)
            ; /* gone since readdir */
        else if (S_ISDIR(sb.st_mode))
            failed += scan(sc, local.v[i], depth + 1);
        else if (scan_file(sc, local.v[i], &sb) < 0)
            failed++;
        free(local.v[i]);
    }
    free(local.v);
    return failed;
}

static void free_seen(const void *key, size_t klen, void *val, void *ud)
{
    (void)key;
    (void)klen;
    (void)ud;
    free(val);
}

int mw_engine_scan(char *const *paths, int npaths, char ***files, size_t *nfiles,
                   bool quiet)
{
    struct pathlist pl = {0};
    struct scan sc = {&pl, mw_dict_new(), quiet};
    int failed = 0;
    for (int i = 0; i < npaths; i++)
        failed += scan(&sc, paths[i], 0);
    mw_dict_foreach(sc.seen, free_seen, NULL);
    mw_dict_free(sc.seen);
    *files = pl.v;
    *nfiles = pl.n;
    return failed;
}

static size_t find_index(const struct mw_engine *e, const char *path)
{
    size_t k;
    for (k = 0; k < e->nslots; k++)
        if (strcmp(mw_rule_file(e->slots[k].rule), path) == 0)
            break;
    return k;
}

static struct slot *find_file(struct mw_engine *e, const char *path)
{
    size_t k = find_index(e, path);
    return k < e->nslots ? &e->slots[k] : NULL;
}

static void health(struct mw_engine *e, const char *kind, json_t *fields)
{
    if (e->opts.health_records)
        mw_health_emit(kind, fields);
    else
        json_decref(fields);
}

void mw_engine_health(struct mw_engine *e, const char *kind, json_t *fields)
{
    health(e, kind, fields);
}

static int64_t wall_seconds(void)
{
    return mw_wall_us() / MW_USEC_PER_SEC;
}

/* Loads path off to the side and checks its id against the other rules.
 * Returns the new rule, or NULL with err set. */
static struct mw_rule *load_checked(struct mw_engine *e, const char *path,
                                    struct mw_error *err)
{
    struct mw_rule *r = mw_frontend_load(path, e->lua_dir, &e->opts.limits, err);
    if (r == NULL)
        return NULL;
    const char *id = mw_rule_meta(r)->id;
    for (size_t k = 0; k < e->nslots; k++) {
        const char *other = mw_rule_file(e->slots[k].rule);
        if (strcmp(other, path) != 0 &&
            strcmp(mw_rule_meta(e->slots[k].rule)->id, id) == 0) {
            mw_error_set(err, "%s: duplicate rule id '%s' (already loaded from %s)", path,
                         id, other);
            mw_rule_free(r);
            return NULL;
        }
    }
    return r;
}

/* The state file of a rule's detector under --state-dir: "<kind>-<id>.state"
 * (new_terms-<id>.state), the id with anything but [A-Za-z0-9_-] replaced,
 * so an id cannot name a path outside the folder. Caller frees. */
static char *state_path(const struct mw_engine *e, const struct slot *s)
{
    struct mw_buf name = MW_BUF_INIT;
    mw_buf_addf(&name, "%s-", s->sops->kind);
    for (const char *p = mw_rule_meta(s->rule)->id; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '_'))
            ch = '_';
        mw_buf_addc(&name, ch);
    }
    mw_buf_adds(&name, ".state");
    char *path = mw_path_join(e->opts.state_dir, name.ptr);
    mw_buf_release(&name);
    return path;
}

/* Gives the slot's rule a fresh detector state when it has none (a
 * detector with a state file reads it from --state-dir). */
static void new_state(struct mw_engine *e, struct slot *s)
{
    const struct mw_detect_opts o = {e->opts.max_open_keys, e->opts.lateness,
                                     e->opts.max_state_bytes};
    if (s->state != NULL)
        return;
    s->sops = s->ops;
    s->state = s->ops->state_new(s->def, &o);
    if (s->ops->load && e->opts.state_dir) {
        struct mw_error err;
        char *path = state_path(e, s);
        if (s->ops->load(s->def, s->state, mw_rule_meta(s->rule)->id, path, &err) < 0)
            mw_log_error("%s (starting with no history)", err.msg);
        free(path);
    }
}

/* Writes the state file of the slot's detector to --state-dir. */
static void save_state(struct mw_engine *e, const struct slot *s)
{
    struct mw_error err;
    const char *id = mw_rule_meta(s->rule)->id;
    if (s->state == NULL || s->sops->save == NULL || e->opts.state_dir == NULL)
        return;
    char *path = state_path(e, s);
    if (s->sops->save(s->def, s->state, id, path, &err) < 0)
        mw_log_error("rule %s: cannot save its state: %s", id, err.msg);
    free(path);
}

static json_t *rule_fields(const struct mw_rule *r)
{
    return json_pack("{s:s, s:s, s:s}", "rule_id", mw_rule_meta(r)->id, "rule_name",
                     mw_rule_meta(r)->name, "file", mw_rule_file(r));
}

/* The prefilter follows the rule set: rebuilt after every change to it. A
 * run that still uses the old one holds its own reference. */
static void rebuild_prefilter(struct mw_engine *e)
{
    struct mw_rule **rules = xcalloc(e->nslots ? e->nslots : 1, sizeof(*rules));
    for (size_t i = 0; i < e->nslots; i++)
        rules[i] = e->slots[i].rule;
    mw_prefilter_unref(e->prefilter);
    e->prefilter = mw_prefilter_build(rules, e->nslots);
    free(rules);
}

struct mw_prefilter *mw_engine_prefilter(const struct mw_engine *e)
{
    return e->prefilter;
}

int mw_engine_load(struct mw_engine *e, char *const *paths, int npaths)
{
    char **files;
    size_t nfiles;
    int failed = mw_engine_scan(paths, npaths, &files, &nfiles, false);

    for (size_t i = 0; i < nfiles; i++) {
        struct mw_error err;
        struct mw_rule *r = NULL;
        if (find_file(e, files[i]))
            mw_error_set(&err, "%s: given twice (already loaded)", files[i]);
        else
            r = load_checked(e, files[i], &err);
        if (r == NULL) {
            mw_log_error("%s", err.msg);
            health(e, "load_failed",
                   json_pack("{s:s, s:s}", "file", files[i], "error", err.msg));
            failed++;
            continue;
        }
        e->slots = xrealloc(e->slots, (e->nslots + 1) * sizeof(*e->slots));
        struct slot *s = &e->slots[e->nslots++];
        memset(s, 0, sizeof(*s));
        bind_rule(s, r);
        s->loaded_at = wall_seconds();
        new_state(e, s);
        health(e, "rule_loaded", rule_fields(r));
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    rebuild_prefilter(e);
    return failed;
}

/* ---------------------------------------------------------------------- */
/* reload                                                                  */

static uint64_t open_count(const struct slot *s)
{
    return s->state ? s->sops->open(s->state) : 0;
}

int mw_engine_reload_file(struct mw_engine *e, const char *path)
{
    struct mw_error err;
    struct mw_rule *r = load_checked(e, path, &err);
    struct slot *s = find_file(e, path);

    if (r == NULL) {
        e->reloads_failed++;
        if (s)
            mw_log_error("reload failed, rule %s keeps running its previous version: %s",
                         mw_rule_meta(s->rule)->id, err.msg);
        else
            mw_log_error("reload failed: %s", err.msg);
        json_t *f = json_pack("{s:s, s:s, s:b}", "file", path, "error", err.msg,
                              "previous_version_kept", s != NULL);
        if (s)
            json_object_set_new(f, "rule_id", json_string(mw_rule_meta(s->rule)->id));
        health(e, "reload_failed", f);
        return -1;
    }
    e->reloads_ok++;
    json_t *f = rule_fields(r);
    if (s == NULL) {
        e->slots = xrealloc(e->slots, (e->nslots + 1) * sizeof(*e->slots));
        s = &e->slots[e->nslots++];
        memset(s, 0, sizeof(*s));
        bind_rule(s, r);
        new_state(e, s);
        json_object_set_new(f, "state", json_string(windowed(s) ? "new" : "none"));
    } else {
        struct mw_rule *old = s->rule;
        bool same_id = strcmp(mw_rule_meta(old)->id, mw_rule_meta(r)->id) == 0;
        bool keep = same_id && strcmp(mw_rule_shape(old), mw_rule_shape(r)) == 0;
        if (!keep && windowed(s)) {
            uint64_t open = open_count(s);
            mw_log_warn("rule %s (%s): detection shape changed on reload (%s -> %s): "
                        "window state dropped, %llu open sequence(s) freed",
                        mw_rule_meta(old)->id, path, mw_rule_shape(old), mw_rule_shape(r),
                        (unsigned long long)open);
            json_t *d = rule_fields(old);
            json_object_set_new(d, "old_shape", json_string(mw_rule_shape(old)));
            json_object_set_new(d, "new_shape", json_string(mw_rule_shape(r)));
            json_object_set_new(d, "new_rule_id", json_string(mw_rule_meta(r)->id));
            json_object_set_new(d, "open_sequences_dropped",
                                json_integer((json_int_t)open));
            health(e, "state_dropped", d);
            save_state(e, s);
        }
        if (!keep)
            drop_state(s);
        if (!same_id) {
            s->raised = s->alerts = s->alert_failures = 0;
            s->reloads = 0;
        }
        if (s->quarantined)
            mw_log_info("rule %s: quarantine lifted by the reload", mw_rule_meta(r)->id);
        bool had = windowed(s);
        bind_rule(s, r);
        new_state(e, s);
        json_object_set_new(f, "state",
                            json_string(!windowed(s)  ? "none"
                                        : keep && had ? "kept"
                                                      : "new"));
        json_object_set_new(f, "quarantine_lifted", json_boolean(s->quarantined));
        s->reloads++;
        s->quarantined = s->skips = false;
        s->skip_left = 0;
        mw_rule_free(old);
    }
    s->loaded_at = wall_seconds();
    json_object_set_new(f, "reload", json_true());
    json_object_set_new(f, "open_sequences", json_integer((json_int_t)open_count(s)));
    mw_log_info("rule %s reloaded from %s (window state %s)", mw_rule_meta(r)->id, path,
                json_string_value(json_object_get(f, "state")));
    health(e, "rule_loaded", f);
    rebuild_prefilter(e);
    return 0;
}

int mw_engine_remove_file(struct mw_engine *e, const char *path)
{
    struct slot *s = find_file(e, path);
    if (s == NULL)
        return -1;
    uint64_t open = open_count(s);
    json_t *f = rule_fields(s->rule);
    json_object_set_new(f, "open_sequences_freed", json_integer((json_int_t)open));
    mw_log_info("rule %s removed (%s deleted): %llu open sequence(s) freed",
                mw_rule_meta(s->rule)->id, path, (unsigned long long)open);
    health(e, "rule_removed", f);
    save_state(e, s);
    drop_state(s);
    mw_rule_free(s->rule);
    size_t i = (size_t)(s - e->slots);
    memmove(&e->slots[i], &e->slots[i + 1], (e->nslots - i - 1) * sizeof(*s));
    e->nslots--;
    rebuild_prefilter(e);
    return 0;
}

bool mw_engine_has_file(const struct mw_engine *e, const char *path)
{
    return find_index(e, path) < e->nslots;
}

size_t mw_engine_rule_count(const struct mw_engine *e)
{
    return e->nslots;
}

/* ---------------------------------------------------------------------- */
/* dispatch                                                                */

/* Takes a built alert (NULL: it could not be built) through dedup, the
 * rule's on_alert hook and shaping to the outputs. Steals alert. */
static void deliver(struct mw_engine *e, struct slot *s, json_t *alert,
                    struct mw_event *const *evs, int n)
{
    const char *rid = mw_rule_meta(s->rule)->id;
    const char *id;

    if (alert == NULL) {
        s->alert_failures++;
        mw_log_error("rule %s: cannot build an alert", rid);
        return;
    }
    s->raised++;
    id = json_string_value(json_object_get(json_object_get(alert, "event"), "id"));
    if (e->shape && mw_shape_duplicate(e->shape, rid, id))
        goto out;
    switch (mw_rule_on_alert(s->rule, alert)) {
    case MW_HOOK_DROP:
        if (e->shape)
            mw_shape_hook_dropped(e->shape, rid, id);
        goto out;
    case MW_HOOK_FAILED:
        if (e->shape)
            mw_shape_hook_failed(e->shape, rid);
        break;
    case MW_HOOK_KEEP:
        break;
    }
    if (e->shape) {
        if (mw_shape_submit(e->shape, rid, mw_rule_policy(s->rule), alert, evs, n,
                            evs[n - 1]->ts) != MW_SHAPE_DELIVERED)
            goto out;
    } else if (e->write) {
        e->write(e->write_ud, alert);
    }
    s->alerts++;
    e->alerts++;
    if (e->hook)
        e->hook(e->hook_ud, alert);
out:
    json_decref(alert);
}

/* Every detector's alerts (mw_emit): a window alert carries its group key
 * and details, a query or sequence alert neither. */
static void emit(void *ud, struct mw_event *const *evs, int n, json_t *key,
                 json_t *details)
{
    struct mw_engine *e = ud;
    struct slot *s = e->current;
    mw_time_t at = e->opts.alert_time_from_events ? evs[n - 1]->ts : mw_wall_us();
    json_t *alert = details ? mw_alert_build_window(s->rule, evs, n, at, key, details)
                            : mw_alert_build(s->rule, evs, n, at);
    deliver(e, s, alert, evs, n);
}

#define BREAKER_FIRST_COOLDOWN 64
#define BREAKER_MAX_COOLDOWN 65536

static bool cap_failure(enum mw_fail f)
{
    return f == MW_FAIL_MEMORY || f == MW_FAIL_INSTRUCTIONS || f == MW_FAIL_BLOCKED;
}

static void quarantine(struct mw_engine *e, struct slot *s)
{
    const struct mw_rule_errors *er = mw_rule_errors(s->rule);
    s->quarantined = true;
    s->skips = cap_failure(er->last);
    s->cooldown = BREAKER_FIRST_COOLDOWN;
    s->skip_left = s->skips ? s->cooldown : 0;
    mw_log_error(
        "rule %s (%s) quarantined after %llu consecutive failures (last: [%s] %s); %s",
        mw_rule_meta(s->rule)->id, mw_rule_file(s->rule),
        (unsigned long long)er->consecutive, mw_fail_name(er->last), er->last_msg,
        s->skips ? "it skips events and probes again, less often while it keeps failing, "
                   "until a call succeeds or it is reloaded"
                 : "every event still probes it; the first call that succeeds lifts it");
    json_t *f = rule_fields(s->rule);
    json_object_set_new(f, "consecutive_failures",
                        json_integer((json_int_t)er->consecutive));
    json_object_set_new(f, "last_error_class", json_string(mw_fail_name(er->last)));
    json_object_set_new(f, "last_error", json_string(er->last_msg));
    json_object_set_new(f, "skips_events", json_boolean(s->skips));
    health(e, "quarantined", f);
}

static void recovered(struct mw_engine *e, struct slot *s)
{
    s->quarantined = false;
    s->skips = false;
    s->skip_left = 0;
    mw_log_warn("rule %s (%s) recovered: a call succeeded, quarantine lifted "
                "(%llu event(s) skipped while it was open)",
                mw_rule_meta(s->rule)->id, mw_rule_file(s->rule),
                (unsigned long long)s->skipped);
    json_t *f = rule_fields(s->rule);
    json_object_set_new(f, "skipped_events", json_integer((json_int_t)s->skipped));
    health(e, "quarantine_lifted", f);
}

/* A probe of an open breaker failed again: space the next one further. */
static void reopen(struct slot *s)
{
    const struct mw_rule_errors *er = mw_rule_errors(s->rule);
    s->reopened++;
    s->skips = s->skips || cap_failure(er->last);
    if (!s->skips)
        return;
    if (s->cooldown < BREAKER_MAX_COOLDOWN)
        s->cooldown *= 2;
    s->skip_left = s->cooldown;
}

/* ---------------------------------------------------------------------- */
/* byte budgets                                                            */

#define EVICT_REPORT_MS 60000 /* at most one state_evicted record a minute per rule */

static void report_evictions(struct mw_engine *e, struct slot *s,
                             const struct mw_detect_bytes *b)
{
    int64_t now = mw_mono_ms();
    if (b->byte_evicted <= s->byte_evicted_told ||
        (s->byte_evicted_told > 0 && now - s->byte_evicted_ms < EVICT_REPORT_MS))
        return;
    const char *id = mw_rule_meta(s->rule)->id;
    if (s->byte_evicted_told == 0)
        mw_log_warn("rule %s: state over its byte budget (--max-state-bytes %zu, "
                    "--max-total-state-bytes %zu): oldest keys evicted",
                    id, e->opts.max_state_bytes, e->opts.max_total_state_bytes);
    health(e, "state_evicted",
           json_pack("{s:s, s:I, s:I, s:I, s:I}", "rule_id", id, "byte_evicted",
                     (json_int_t)b->byte_evicted, "bytes", (json_int_t)b->bytes,
                     "max_state_bytes", (json_int_t)e->opts.max_state_bytes,
                     "max_total_state_bytes", (json_int_t)e->opts.max_total_state_bytes));
    s->byte_evicted_told = b->byte_evicted;
    s->byte_evicted_ms = now;
}

/* After each event: the total budget (the rule holding the most sheds its
 * oldest keys until the total fits), then eviction reports. */
static void enforce_budgets(struct mw_engine *e)
{
    struct mw_detect_bytes b;
    uint64_t total = 0;
    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = &e->slots[i];
        if (s->state && s->sops->budget) {
            s->sops->budget(s->state, &b);
            total += b.bytes;
        }
    }
    for (size_t round = 0; e->opts.max_total_state_bytes &&
                           total > e->opts.max_total_state_bytes && round < e->nslots;
         round++) {
        struct slot *big = NULL;
        uint64_t most = 0;
        for (size_t i = 0; i < e->nslots; i++) {
            struct slot *s = &e->slots[i];
            if (s->state && s->sops->budget && s->sops->shed) {
                s->sops->budget(s->state, &b);
                if (b.bytes > most) {
                    most = b.bytes;
                    big = s;
                }
            }
        }
        if (big == NULL)
            break;
        uint64_t over = total - e->opts.max_total_state_bytes;
        big->sops->shed(big->def, big->state, (size_t)(most > over ? most - over : 0));
        big->sops->budget(big->state, &b);
        total -= most - b.bytes;
    }
    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = &e->slots[i];
        if (s->state && s->sops->budget) {
            s->sops->budget(s->state, &b);
            report_evictions(e, s, &b);
        }
    }
}

void mw_engine_dispatch(struct mw_engine *e, struct mw_event *ev)
{
    const struct mw_emit em = {emit, e};
    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = &e->slots[i];
        const struct mw_rule_errors *er = mw_rule_errors(s->rule);
        if (s->quarantined && s->skip_left > 0) {
            s->skip_left--;
            s->skipped++;
            continue;
        }
        uint64_t ok0 = er->ok_calls, fail0 = er->consecutive;
        e->current = s;
        s->ops->process(s->def, s->state, ev, mw_rule_ctx(s->rule), &em);
        if (s->quarantined) {
            if (er->ok_calls > ok0)
                recovered(e, s);
            else if (er->consecutive > fail0)
                reopen(s);
            /* no call into rule code (its matchers said no first): probe again */
        } else if (e->opts.quarantine_after > 0 &&
                   er->consecutive >= e->opts.quarantine_after) {
            quarantine(e, s);
        }
    }
    e->current = NULL;
    enforce_budgets(e);
}

void mw_engine_count_late(struct mw_engine *e, const struct mw_event *ev)
{
    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = &e->slots[i];
        if (s->quarantined)
            continue;
        if (mw_detector_matches(s->ops, s->def, ev, mw_rule_ctx(s->rule)))
            s->late++;
    }
}

void mw_engine_advance(struct mw_engine *e, mw_time_t now)
{
    const struct mw_emit em = {emit, e};
    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = &e->slots[i];
        e->current = s;
        if (s->ops->advance)
            s->ops->advance(s->def, s->state, now, &em);
    }
    e->current = NULL;
}

void mw_engine_finish(struct mw_engine *e)
{
    /* sequences complete only on events; pending ones are reported as open
     * in the statistics. Absence windows that ended by now fire, first-seen
     * history is saved. Caps report what their last interval dropped. */
    const struct mw_emit em = {emit, e};
    for (size_t i = 0; i < e->nslots; i++) {
        struct slot *s = &e->slots[i];
        e->current = s;
        if (s->ops->finish)
            s->ops->finish(s->def, s->state, &em);
        save_state(e, s);
    }
    e->current = NULL;
    if (e->shape)
        mw_shape_finish(e->shape);
}

json_t *mw_engine_checkpoint(const struct mw_engine *e, struct mw_evtab *t)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < e->nslots; i++) {
        const struct slot *s = &e->slots[i];
        if (!windowed(s))
            continue;
        json_t *st = s->ops->dump(s->def, s->state, t);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o}", "rule",
                                             mw_rule_meta(s->rule)->id, "shape",
                                             mw_rule_shape(s->rule), "state", st));
    }
    return arr;
}

int mw_engine_restore(struct mw_engine *e, const json_t *rules, const struct mw_evtab *t,
                      struct mw_error *err)
{
    const struct mw_detect_opts o = {e->opts.max_open_keys, e->opts.lateness,
                                     e->opts.max_state_bytes};
    size_t i, n = json_array_size(rules);
    const json_t *r;
    void **fresh = xcalloc(n ? n : 1, sizeof(*fresh));
    struct slot **to = xcalloc(n ? n : 1, sizeof(*to));
    struct mw_dict *seen = mw_dict_new();
    int restored = -1;

    /* every entry is restored into a fresh state first: a checkpoint with
     * one bad entry is refused whole, and the states stay as they were */
    json_array_foreach(rules, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "rule"));
        const char *shape = json_string_value(json_object_get(r, "shape"));
        const json_t *st = json_object_get(r, "state");
        struct slot *s = NULL;
        struct mw_error e1;
        if (!json_is_object(r) || id == NULL || shape == NULL || !json_is_object(st)) {
            mw_error_set(err, "rule entry %zu: not {rule, shape, state}", i);
            goto out;
        }
        if (mw_dict_put(seen, id, strlen(id), seen) != NULL) {
            mw_error_set(err, "rule %s: window state given twice", id);
            goto out;
        }
        for (size_t k = 0; k < e->nslots && s == NULL; k++)
            if (strcmp(mw_rule_meta(e->slots[k].rule)->id, id) == 0)
                s = &e->slots[k];
        if (s == NULL || strcmp(shape, mw_rule_shape(s->rule)) != 0) {
            mw_log_warn("checkpoint: window state of rule %s not restored (%s)", id,
                        s ? "its detection shape changed" : "rule not loaded");
            continue;
        }
        if (!windowed(s)) {
            mw_log_warn("checkpoint: window state of rule %s not restored (the rule "
                        "keeps no window state)",
                        id);
            continue;
        }
        fresh[i] = s->ops->state_new(s->def, &o);
        to[i] = s;
        int rc = s->ops->restore(s->def, fresh[i], st, t, &e1);
        if (rc < 0) {
            mw_error_set(err, "rule %s: %s", id, e1.msg);
            goto out;
        }
        if (rc > 0) { /* fits no more (run options changed): start empty */
            mw_log_warn("checkpoint: window state of rule %s not restored: %s", id,
                        e1.msg);
            s->ops->state_free(fresh[i]);
            fresh[i] = NULL;
            to[i] = NULL;
        }
    }
    restored = 0;
    for (i = 0; i < n; i++) {
        if (to[i] == NULL)
            continue;
        to[i]->sops->state_free(to[i]->state);
        to[i]->state = fresh[i];
        to[i]->sops = to[i]->ops;
        fresh[i] = NULL;
        restored++;
    }
out:
    for (i = 0; i < n; i++)
        if (fresh[i] != NULL)
            to[i]->ops->state_free(fresh[i]);
    free(fresh);
    free(to);
    mw_dict_free(seen);
    return restored;
}

void mw_engine_set_shape(struct mw_engine *e, struct mw_shape *shape)
{
    e->shape = shape;
}

void mw_engine_set_alert_hook(struct mw_engine *e, mw_engine_alert_fn fn, void *ud)
{
    e->hook = fn;
    e->hook_ud = ud;
}

uint64_t mw_engine_alerts(const struct mw_engine *e)
{
    return e->alerts;
}

void mw_engine_reload_counts(const struct mw_engine *e, uint64_t *ok, uint64_t *failed)
{
    *ok = e->reloads_ok;
    *failed = e->reloads_failed;
}

json_t *mw_engine_stats(const struct mw_engine *e)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < e->nslots; i++) {
        const struct slot *s = &e->slots[i];
        const struct mw_rule_meta *m = mw_rule_meta(s->rule);
        struct mw_rule_errors *er = mw_rule_errors(s->rule);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", m->id, "name", m->name,
                              "file", mw_rule_file(s->rule), "type", s->ops->kind,
                              "alerts", (json_int_t)s->alerts);
        json_object_set_new(o, "late", json_integer((json_int_t)s->late));
        json_t *errs = json_object();
        for (int c = MW_FAIL_MEMORY; c < MW_FAIL__COUNT; c++)
            json_object_set_new(errs, mw_fail_name(c),
                                json_integer((json_int_t)er->by_class[c]));
        json_object_set_new(o, "errors", errs);
        json_object_set_new(o, "quarantined", json_boolean(s->quarantined));
        json_object_set_new(o, "quarantine_skipped",
                            json_integer((json_int_t)s->skipped));
        json_object_set_new(o, "loaded_at", json_integer((json_int_t)s->loaded_at));
        json_object_set_new(o, "reloads", json_integer((json_int_t)s->reloads));
        json_object_set_new(o, "raised", json_integer((json_int_t)s->raised));
        json_object_set_new(o, "hook_errors",
                            json_integer((json_int_t)er->hook_failures));
        if (e->shape)
            mw_shape_rule_stats(e->shape, m->id, o);
        s->ops->stats(s->def, s->state, o);
        json_array_append_new(arr, o);
    }
    return arr;
}

void mw_engine_list(const struct mw_engine *e, FILE *fp)
{
    for (size_t i = 0; i < e->nslots; i++) {
        const struct mw_rule_meta *m = mw_rule_meta(e->slots[i].rule);
        fprintf(fp, "ok   %s  %s  (%s, %s)\n", mw_rule_file(e->slots[i].rule), m->id,
                m->name, e->slots[i].ops->kind);
    }
}
