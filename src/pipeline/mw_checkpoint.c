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
#include "mw_clock.h"
#include "mw_dict.h"
#include "mw_evtab.h"
#include "mw_file.h"
#include "mw_log.h"
#include "mw_sha256.h"

#include <errno.h>
#include <fcntl.h>
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

/* Reads and verifies path. Returns 0, 1 when it does not exist, -1 with
 * err set when it is unusable. */
static int read_checkpoint(const char *path, struct loaded *l, struct mw_error *err)
{
    FILE *fp = fopen(path, "rb");
    char *data = NULL;
    size_t len = 0, cap = 0, lines = 0, start;
    int rc = -1;

    memset(l, 0, sizeof(*l));
    if (fp == NULL) {
        if (errno == ENOENT)
            return 1;
        return mw_error_set(err, "%s: %s", path, strerror(errno));
    }
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            data = xrealloc(data, cap + 1);
        }
        size_t n = fread(data + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    fclose(fp);
    data = xrealloc(data, len + 1);
    data[len] = '\0';
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
    const char *want = json_string_value(json_object_get(end, "sha256"));
    json_int_t nl = json_integer_value(json_object_get(end, "lines"));
    if (want == NULL || strcmp(want, hex) != 0 || nl != (json_int_t)lines) {
        json_decref(trailer);
        mw_error_set(err, "%s: corrupt (%zu lines, trailer says %lld; checksum %s)", path,
                     lines, (long long)nl,
                     want && strcmp(want, hex) == 0 ? "ok" : "mismatch");
        goto out;
    }
    json_decref(trailer);
    l->inputs = json_array();
    l->events = json_array();
    l->rules = json_array();
    size_t pos = 0, lineno = 0;
    while (pos < start) {
        char *nlp = memchr(data + pos, '\n', start - pos);
        size_t n = (size_t)(nlp - (data + pos));
        json_t *doc = json_loadb(data + pos, n, 0, &je);
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
            if (json_integer_value(v) != MW_CKPT_VERSION) {
                mw_error_set(err,
                             "%s: checkpoint format version %lld, this moonwatch "
                             "reads version %d",
                             path, (long long)json_integer_value(v), MW_CKPT_VERSION);
                json_decref(doc);
                goto out;
            }
            l->header = doc;
            continue;
        }
        json_t *v;
        if ((v = json_object_get(doc, "input")) != NULL)
            json_array_append(l->inputs, v);
        else if ((v = json_object_get(doc, "event")) != NULL)
            json_array_append(l->events, v);
        else if ((v = json_object_get(doc, "rule")) != NULL)
            json_array_append(l->rules, v);
        else if ((v = json_object_get(doc, "shape")) != NULL)
            l->shape = json_incref(v);
        json_decref(doc);
    }
    if (l->header == NULL) {
        mw_error_set(err, "%s: no header", path);
        goto out;
    }
    rc = 0;
out:
    if (rc < 0)
        loaded_free(l);
    free(data);
    return rc;
}

/* Restores everything from a verified checkpoint. */
static int apply(struct mw_ckpt *c, struct loaded *l, struct mw_engine *e,
                 struct mw_shape *shape, struct mw_ckpt_run *run, struct mw_error *err)
{
    struct mw_evtab *t = mw_evtab_new();
    size_t i;
    json_t *v;
    int rc = -1;

    json_array_foreach(l->events, i, v)
    {
        if (mw_evtab_load(t, v, err) < 0)
            goto out;
    }
    json_array_foreach(l->inputs, i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (name == NULL || json_is_false(json_object_get(v, "resumable")))
            continue; /* a pipe, or a file released when the cut was taken */
        json_decref(mw_dict_put(c->inputs, name, strlen(name), json_incref(v)));
    }
    json_t *r = json_object_get(l->header, "run");
    run->seq = (uint64_t)json_integer_value(json_object_get(r, "seq"));
    run->now = json_integer_value(json_object_get(r, "now"));
    run->started = json_is_true(json_object_get(r, "started"));
    run->advanced = json_integer_value(json_object_get(r, "advanced"));
    c->number = (uint64_t)json_integer_value(json_object_get(l->header, "number"));
    int restored = mw_engine_restore(e, l->rules, t);
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

struct mw_ckpt *mw_ckpt_open(const char *state_dir, int interval_ms, struct mw_engine *e,
                             struct mw_shape *shape, struct mw_ckpt_run *run,
                             bool *resumed, struct mw_error *err)
{
    struct mw_ckpt *c = xcalloc(1, sizeof(*c));
    struct loaded l;
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
    unlink(c->tmp); /* an unfinished write of a run that died */

    r1 = read_checkpoint(c->path, &l, &e1);
    if (r1 == 0) {
        c->current_good = true;
        if (apply(c, &l, e, shape, run, &e1) < 0) {
            loaded_free(&l);
            mw_error_set(err, "checkpoint %s: %s", c->path, e1.msg);
            goto fail;
        }
        loaded_free(&l);
        *resumed = true;
        return c;
    }
    r2 = read_checkpoint(c->prev, &l, &e2);
    if (r1 < 0)
        mw_log_error("checkpoint refused: %s", e1.msg);
    if (r2 == 0) {
        if (r1 < 0)
            mw_log_warn("resuming from the previous checkpoint %s; the refused one is "
                        "left in place and will be replaced by the next checkpoint",
                        c->prev);
        if (apply(c, &l, e, shape, run, &e2) < 0) {
            loaded_free(&l);
            mw_error_set(err, "checkpoint %s: %s", c->prev, e2.msg);
            goto fail;
        }
        loaded_free(&l);
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

static int write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        close(fd);
        return -1;
    }
    return close(fd);
}

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

    if (write_file(c->tmp, b.p, b.len) != 0) {
        mw_log_error("checkpoint %s: cannot write: %s (the previous checkpoint stays)",
                     c->tmp, strerror(errno));
        unlink(c->tmp);
        goto out;
    }
    if (c->current_good && rename(c->path, c->prev) != 0 && errno != ENOENT) {
        mw_log_error("checkpoint: cannot keep %s as %s: %s", c->path, c->prev,
                     strerror(errno));
        unlink(c->tmp);
        goto out;
    }
    if (rename(c->tmp, c->path) != 0) {
        mw_log_error("checkpoint %s: cannot rename into place: %s", c->path,
                     strerror(errno));
        unlink(c->tmp);
        goto out;
    }
    int dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    c->current_good = true;
    c->written++;
    rc = 0;
out:
    free(b.p);
    mw_evtab_free(t);
    return rc;
}
