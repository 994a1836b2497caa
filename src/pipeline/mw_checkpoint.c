/* mw_checkpoint.c - consistent checkpoints of a follow-mode run
 *
 * The text is built in memory (one JSON document per line), hashed as it
 * is built, then written in one go; loading reads the whole file, checks
 * the trailer (line count and SHA-256) before trusting any line, then the
 * header's magic and version, and only then restores anything. A refused
 * current checkpoint is never rotated into checkpoint.prev, so the last
 * good one survives until a new good one is written beside it.
 */
#include "mw_checkpoint.h"
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_dict.h"
#include "mw_evtab.h"
#include "mw_file.h"
#include "mw_log.h"
#include "mw_sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC "moonwatch_checkpoint"

struct mw_ckpt {
    char *dir, *path, *prev, *tmp; /* owned */
    int interval_ms;
    int64_t next_due;
    uint64_t number;        /* of the checkpoint resumed from */
    bool current_good;      /* STATE/checkpoint may become .prev */
    struct mw_dict *inputs; /* name -> owned reference to its position */
    uint64_t written;
};

struct buf {
    char *p;
    size_t len, cap;
    size_t lines;
};

static void buf_line(struct buf *b, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    size_t n = strlen(s);
    if (b->len + n + 2 > b->cap) {
        b->cap = (b->len + n + 2) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len++] = '\n';
    b->lines++;
    mw_json_free(s);
    json_decref(doc);
}

static void free_val(const void *k, size_t kl, void *v, void *ud)
{
    (void)k;
    (void)kl;
    (void)ud;
    json_decref(v);
}

void mw_ckpt_free(struct mw_ckpt *c)
{
    if (c == NULL)
        return;
    mw_dict_foreach(c->inputs, free_val, NULL);
    mw_dict_free(c->inputs);
    free(c->dir);
    free(c->path);
    free(c->prev);
    free(c->tmp);
    free(c);
}

/* ---------------------------------------------------------------------- */
/* loading                                                                 */

struct loaded {
    json_t *header;
    json_t *inputs; /* array of {"input": {...}} */
    json_t *events; /* array of event records */
    json_t *rules;  /* array */
    json_t *shape;
};

static void loaded_free(struct loaded *l)
{
    json_decref(l->header);
    json_decref(l->inputs);
    json_decref(l->events);
    json_decref(l->rules);
    json_decref(l->shape);
    memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------------------- */
/* validation: a checkpoint is untrusted input                             */

/* Anyone who can write the state folder can recompute the trailer, so a
 * verified checksum proves nothing about intent: every field of every
 * section is checked here (types, ranges, duplicates) before anything is
 * restored, and the window sections by the detectors' restore functions
 * (mw_engine_restore: all or nothing). A refused checkpoint is never half
 * applied. See docs/SECURITY.md, item 8. */

static bool is_time(const json_t *v)
{
    json_int_t t = json_integer_value(v);
    return json_is_integer(v) && t >= MW_TIME_MIN && t <= MW_TIME_MAX;
}

static bool is_count(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* A duration any two times can be apart: sums of a few never overflow. */
static bool is_span(const json_t *v)
{
    return is_count(v) && json_integer_value(v) <= MW_TIME_MAX - MW_TIME_MIN;
}

static bool is_name(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0 &&
           strlen(json_string_value(v)) == json_string_length(v);
}

static bool is_hex64(const json_t *v)
{
    const char *s = json_string_value(v);
    if (s == NULL || json_string_length(v) != 64)
        return false;
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static const char *check_header(const json_t *h)
{
    const json_t *r = json_object_get(h, "run");
    if (!is_count(json_object_get(h, "number")))
        return "header: number is not a non-negative integer";
    if (!json_is_object(r) || !is_count(json_object_get(r, "seq")) ||
        !is_time(json_object_get(r, "now")) ||
        !json_is_boolean(json_object_get(r, "started")) ||
        !is_time(json_object_get(r, "advanced")))
        return "header: run is not {seq, now, started, advanced} with times in range";
    return NULL;
}

/* An input position: its name once; the file kind's fields when it is one. */
static const char *check_input(const json_t *v, struct mw_dict *names)
{
    const json_t *name = json_object_get(v, "name"),
                 *res = json_object_get(v, "resumable");
    const json_t *scheme = json_object_get(v, "scheme");
    if (!json_is_object(v) || !is_name(name))
        return "an input has no name";
    if (mw_dict_put(names, json_string_value(name), json_string_length(name), names))
        return "an input appears twice";
    if (res != NULL && !json_is_boolean(res))
        return "an input's resumable is not a boolean";
    if (json_is_false(res))
        return NULL;
    if (scheme != NULL && !is_name(scheme))
        return "an input's scheme is not a name";
    if (scheme == NULL || strcmp(json_string_value(scheme), "file") == 0) {
        static const char *const counts[] = {"dev", "ino", "offset", "line",
                                             "fingerprint_bytes"};
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
            if (!is_count(json_object_get(v, counts[i])))
                return "a file position is not {dev, ino, offset, line, fingerprint, "
                       "fingerprint_bytes} with non-negative integers";
        if (!is_hex64(json_object_get(v, "fingerprint")) ||
            json_integer_value(json_object_get(v, "fingerprint_bytes")) > 65536)
            return "a file position's fingerprint is not a SHA-256 of at most 64 KiB";
    }
    return NULL;
}

static const char *check_shape(const json_t *sh)
{
    const json_t *supp = json_object_get(sh, "suppression"),
                 *caps = json_object_get(sh, "caps");
    const json_t *pend = json_object_get(sh, "replay_pending"), *v;
    size_t i;
    if (!json_is_object(sh) || !json_is_array(supp) || !json_is_array(caps) ||
        !json_is_array(pend))
        return "shape: not {suppression, caps, replay_pending} arrays";
    json_array_foreach(supp, i, v)
    {
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "key")) ||
            !is_name(json_object_get(v, "rule")) || json_object_get(v, "terms") == NULL ||
            !is_span(json_object_get(v, "window")) ||
            !is_time(json_object_get(v, "start")) ||
            !is_time(json_object_get(v, "first")) ||
            !is_time(json_object_get(v, "last")) ||
            !is_count(json_object_get(v, "count")))
            return "shape: a suppression entry is malformed or out of range";
    }
    json_array_foreach(caps, i, v)
    {
        const json_t *per = json_object_get(v, "per"), *b = json_object_get(v, "bucket");
        if (!json_is_object(v) || !is_name(json_object_get(v, "rule")) || !is_span(per) ||
            json_integer_value(per) == 0 || !json_is_integer(b) ||
            !is_count(json_object_get(v, "max")) ||
            !is_count(json_object_get(v, "count")) ||
            !is_count(json_object_get(v, "dropped")))
            return "shape: a cap entry is malformed or out of range";
        json_int_t lim = MW_TIME_MAX / json_integer_value(per) + 1;
        if (json_integer_value(b) > lim || json_integer_value(b) < -lim)
            return "shape: a cap interval is out of range";
    }
    json_array_foreach(pend, i, v)
    {
        if (!json_is_string(v))
            return "shape: a replay_pending id is not a string";
    }
    return NULL;
}

/* Reads and verifies path. Returns 0, 1 when it does not exist, -1 with
 * err set when it is unusable. */
static int read_checkpoint(const char *path, struct loaded *l, struct mw_error *err)
{
    size_t len = 0, lines = 0, start;
    struct mw_error rerr;
    struct mw_dict *names = NULL;
    char *data;
    int rc = -1;

    memset(l, 0, sizeof(*l));
    /* never through a symlink, never a FIFO or device */
    data = mw_file_read_flags(path, 0, &len, MW_FILE_NOFOLLOW, &rerr);
    if (data == NULL) {
        if (errno == ENOENT)
            return 1;
        return mw_error_set(err, "%s", rerr.msg);
    }
    if (len == 0 || data[len - 1] != '\n') {
        mw_error_set(err, "%s: truncated (no complete trailer line)", path);
        goto out;
    }
    /* the trailer: the last line */
    start = len - 1;
    while (start > 0 && data[start - 1] != '\n')
        start--;
    for (size_t i = 0; i < start; i++)
        lines += data[i] == '\n';
    json_error_t je;
    json_t *trailer = json_loadb(data + start, len - start, 0, &je);
    json_t *end = json_object_get(trailer, "end");
    if (end == NULL) {
        json_decref(trailer);
        if (strncmp(data, "{\"" MAGIC "\"", strlen(MAGIC) + 3) != 0)
            mw_error_set(err, "%s: not a moonwatch checkpoint", path);
        else
            mw_error_set(err, "%s: truncated (no trailer)", path);
        goto out;
    }
    char hex[65];
    mw_sha256_hex(data, start, hex);
    /* read what the trailer says before it is released */
    const char *want = json_string_value(json_object_get(end, "sha256"));
    bool sum_ok = want != NULL && strcmp(want, hex) == 0;
    json_t *nlv = json_object_get(end, "lines");
    json_int_t nl = json_integer_value(nlv);
    bool nl_ok = json_is_integer(nlv) && nl == (json_int_t)lines;
    json_decref(trailer);
    if (!sum_ok || !nl_ok) {
        mw_error_set(err, "%s: corrupt (%zu lines, trailer says %lld; checksum %s)", path,
                     lines, (long long)nl, sum_ok ? "ok" : "mismatch");
        goto out;
    }
    l->inputs = json_array();
    l->events = json_array();
    l->rules = json_array();
    names = mw_dict_new();
    size_t pos = 0, lineno = 0;
    while (pos < start) {
        char *nlp = memchr(data + pos, '\n', start - pos);
        size_t n = (size_t)(nlp - (data + pos));
        json_t *doc = json_loadb(data + pos, n, JSON_REJECT_DUPLICATES, &je);
        const char *why = NULL;
        lineno++;
        pos += n + 1;
        if (!json_is_object(doc)) {
            json_decref(doc);
            mw_error_set(err, "%s:%zu: not a JSON object (%s)", path, lineno, je.text);
            goto out;
        }
        if (lineno == 1) {
            json_t *v = json_object_get(doc, MAGIC);
            if (v == NULL) {
                json_decref(doc);
                mw_error_set(err, "%s: not a moonwatch checkpoint", path);
                goto out;
            }
            if (!json_is_integer(v) || json_integer_value(v) != MW_CKPT_VERSION) {
                mw_error_set(err,
                             "%s: checkpoint format version %lld, this moonwatch "
                             "reads version %d",
                             path, (long long)json_integer_value(v), MW_CKPT_VERSION);
                json_decref(doc);
                goto out;
            }
            l->header = doc;
            if ((why = check_header(doc)) != NULL) {
                mw_error_set(err, "%s:1: %s", path, why);
                goto out;
            }
            continue;
        }
        json_t *v;
        if (json_object_size(doc) != 1) {
            why = "a record is not one of input, event, rule, shape";
        } else if ((v = json_object_get(doc, "input")) != NULL) {
            if ((why = check_input(v, names)) == NULL)
                json_array_append(l->inputs, v);
        } else if ((v = json_object_get(doc, "event")) != NULL) {
            if (json_integer_value(json_object_get(v, "seq")) >
                json_integer_value(
                    json_object_get(json_object_get(l->header, "run"), "seq")))
                why = "an event's arrival serial is beyond the run's";
            else
                json_array_append(l->events, v);
        } else if ((v = json_object_get(doc, "rule")) != NULL) {
            json_array_append(l->rules, v);
        } else if ((v = json_object_get(doc, "shape")) != NULL) {
            if (l->shape != NULL)
                why = "shape: given twice";
            else if ((why = check_shape(v)) == NULL)
                l->shape = json_incref(v);
        } else {
            why = "a record is not one of input, event, rule, shape";
        }
        json_decref(doc);
        if (why != NULL) {
            mw_error_set(err, "%s:%zu: %s", path, lineno, why);
            goto out;
        }
    }
    if (l->header == NULL) {
        mw_error_set(err, "%s: no header", path);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        loaded_free(l);
    mw_dict_free(names);
    free(data);
    return rc;
}

/* Restores everything from a verified checkpoint: the window state first
 * (all or nothing), then what cannot fail. On error nothing was changed. */
static int apply(struct mw_ckpt *c, struct loaded *l, struct mw_engine *e,
                 struct mw_shape *shape, struct mw_ckpt_run *run, struct mw_error *err)
{
    struct mw_evtab *t = mw_evtab_new();
    struct mw_error e1;
    size_t i;
    json_t *v;
    int rc = -1, restored;

    json_array_foreach(l->events, i, v)
    {
        if (mw_evtab_load(t, v, &e1) < 0) {
            mw_error_set(err, "%s", e1.msg);
            goto out;
        }
    }
    if ((restored = mw_engine_restore(e, l->rules, t, &e1)) < 0) {
        mw_error_set(err, "%s", e1.msg);
        goto out;
    }
    json_array_foreach(l->inputs, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (json_is_false(json_object_get(v, "resumable")))
            continue; /* a pipe, or a file released when the cut was taken */
        json_decref(mw_dict_put(c->inputs, name, strlen(name), json_incref(v)));
    }
    json_t *r = json_object_get(l->header, "run");
    run->seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
    run->now = json_integer_value(json_object_get(r, "now"));
    run->started = json_is_true(json_object_get(r, "started"));
    run->advanced = json_integer_value(json_object_get(r, "advanced"));
    c->number = (uint64_t)json_integer_value(json_object_get(l->header, "number"));
    uint64_t replay = 0;
    if (shape && l->shape)
        replay = mw_shape_restore(shape, l->shape, c->number);
    mw_log_info(
        "checkpoint %" PRIu64 " restored: %zu input position(s), %d rule state(s), "
        "%zu retained event(s); %" PRIu64 " alert id(s) decided after it will be "
        "recognised when the stream raises them again",
        c->number, json_array_size(l->inputs), restored, mw_evtab_count(t), replay);
    rc = 0;
out:
    mw_evtab_free(t);
    return rc;
}

/* Reads and applies one checkpoint file: 0, 1 when absent, -1 (err set,
 * nothing applied) when it is refused. */
static int load_one(struct mw_ckpt *c, const char *path, struct mw_engine *e,
                    struct mw_shape *shape, struct mw_ckpt_run *run, struct mw_error *err)
{
    struct loaded l;
    struct mw_error e1;
    int r = read_checkpoint(path, &l, err);
    if (r != 0)
        return r;
    if (apply(c, &l, e, shape, run, &e1) < 0) {
        mw_error_set(err, "%s: %s", path, e1.msg);
        r = -1;
    }
    loaded_free(&l);
    return r;
}

/* Removes the temp files of checkpoint writes a killed run left behind
 * (checkpoint.tmp of older builds, checkpoint.tmp.PID.N of mw_atomic):
 * links themselves only, never what a symlink points to. */
static void remove_stale_tmp(const struct mw_ckpt *c)
{
    struct mw_buf pat = MW_BUF_INIT;
    glob_t g;
    unlink(c->tmp);
    mw_buf_addf(&pat, "%s.*", c->tmp);
    if (glob(pat.ptr, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    mw_buf_release(&pat);
}

struct mw_ckpt *mw_ckpt_open(const char *state_dir, int interval_ms, struct mw_engine *e,
                             struct mw_shape *shape, struct mw_ckpt_run *run,
                             bool *resumed, struct mw_error *err)
{
    struct mw_ckpt *c = xcalloc(1, sizeof(*c));
    struct mw_error e1, e2;
    int r1, r2;

    memset(run, 0, sizeof(*run));
    *resumed = false;
    c->dir = xstrdup(state_dir);
    c->path = mw_path_join(state_dir, "checkpoint");
    c->prev = mw_path_join(state_dir, "checkpoint.prev");
    c->tmp = mw_path_join(state_dir, "checkpoint.tmp");
    c->interval_ms = interval_ms > 0 ? interval_ms : MW_CKPT_DEFAULT_INTERVAL_MS;
    c->inputs = mw_dict_new();
    remove_stale_tmp(c);

    r1 = load_one(c, c->path, e, shape, run, &e1);
    if (r1 == 0) {
        c->current_good = true;
        *resumed = true;
        return c;
    }
    if (r1 < 0)
        mw_log_error("checkpoint refused: %s", e1.msg);
    memset(run, 0, sizeof(*run));
    r2 = load_one(c, c->prev, e, shape, run, &e2);
    if (r2 == 0) {
        if (r1 < 0)
            mw_log_warn("resuming from the previous checkpoint %s; the refused one is "
                        "left in place and will be replaced by the next checkpoint",
                        c->prev);
        *resumed = true;
        return c;
    }
    if (r2 < 0)
        mw_log_error("checkpoint refused: %s", e2.msg);
    if (r1 < 0 || r2 < 0) {
        mw_error_set(err,
                     "no usable checkpoint in %s (see above); refusing to start "
                     "rather than lose its state: move the refused file(s) away to start "
                     "from scratch",
                     state_dir);
        goto fail;
    }
    return c; /* first run */
fail:
    mw_ckpt_free(c);
    return NULL;
}

json_t *mw_ckpt_input(struct mw_ckpt *c, const char *name)
{
    return mw_dict_del(c->inputs, name, strlen(name));
}

bool mw_ckpt_due(const struct mw_ckpt *c, int64_t now_ms)
{
    return now_ms >= c->next_due;
}

uint64_t mw_ckpt_written(const struct mw_ckpt *c)
{
    return c->written;
}

/* ---------------------------------------------------------------------- */
/* writing                                                                 */

int mw_ckpt_write(struct mw_ckpt *c, struct mw_engine *e, struct mw_shape *shape,
                  const struct mw_ckpt_run *run, const struct mw_ckpt_src *srcs, int n,
                  int64_t now_ms)
{
    struct buf b = {0};
    struct mw_evtab *t = mw_evtab_new();
    uint64_t number = shape ? mw_shape_generation(shape) : c->number + c->written + 1;
    char when[MW_TIME_FORMAT_SIZE];
    int rc = -1;

    c->next_due = now_ms + c->interval_ms;
    mw_time_format(mw_wall_us(), when, sizeof(when));
    json_t *rules = mw_engine_checkpoint(e, t);
    json_t *sh = shape ? mw_shape_checkpoint(shape, number) : NULL;
    buf_line(&b,
             json_pack("{s:i, s:I, s:s, s:{s:I, s:I, s:b, s:I}}", MAGIC, MW_CKPT_VERSION,
                       "number", (json_int_t)number, "created", when, "run", "seq",
                       (json_int_t)run->seq, "now", (json_int_t)run->now, "started",
                       run->started, "advanced", (json_int_t)run->advanced));
    for (int i = 0; i < n; i++) {
        json_t *o;
        if (srcs[i].pos == NULL) {
            o = json_pack("{s:s, s:b}", "name", srcs[i].name, "resumable", 0);
        } else {
            o = json_deep_copy(srcs[i].pos); /* the kind's keys, then its name */
            json_object_set_new(o, "name", json_string(srcs[i].name));
        }
        buf_line(&b, json_pack("{s:o}", "input", o));
    }
    for (size_t i = 0; i < mw_evtab_count(t); i++)
        buf_line(&b, json_pack("{s:o}", "event", mw_evtab_event_json(t, i)));
    size_t i;
    json_t *r;
    json_array_foreach(rules, i, r) buf_line(&b, json_pack("{s:O}", "rule", r));
    json_decref(rules);
    if (sh)
        buf_line(&b, json_pack("{s:o}", "shape", sh));
    char hex[65];
    mw_sha256_hex(b.p, b.len, hex);
    size_t body_lines = b.lines;
    buf_line(&b, json_pack("{s:{s:I, s:s}}", "end", "lines", (json_int_t)body_lines,
                           "sha256", hex));

    /* the temp file: O_CREAT|O_EXCL|O_NOFOLLOW under a fresh name, so a
     * symlink planted at any name is never written through */
    struct mw_atomic a;
    struct mw_error werr;
    FILE *fp = mw_atomic_open(&a, c->path, &werr);
    if (fp == NULL) {
        mw_log_error("checkpoint: cannot write: %s (the previous checkpoint stays)",
                     werr.msg);
        goto out;
    }
    if (fwrite(b.p, 1, b.len, fp) != b.len || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        mw_log_error("checkpoint %s: cannot write: %s (the previous checkpoint stays)",
                     a.tmp, strerror(errno));
        mw_atomic_abort(&a);
        goto out;
    }
    if (c->current_good && rename(c->path, c->prev) != 0 && errno != ENOENT) {
        mw_log_error("checkpoint: cannot keep %s as %s: %s", c->path, c->prev,
                     strerror(errno));
        mw_atomic_abort(&a);
        goto out;
    }
    if (mw_atomic_commit(&a, MW_FILE_DURABLE, &werr) != 0) {
        mw_log_error("checkpoint %s: cannot rename into place: %s", c->path, werr.msg);
        goto out;
    }
    c->current_good = true;
    c->written++;
    rc = 0;
out:
    free(b.p);
    mw_evtab_free(t);
    return rc;
}
