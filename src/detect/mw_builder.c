/* mw_builder.c - the rule builder: every front-end's way to make a rule
 *
 * Design: the builder writes straight into a half-built struct mw_rule that
 * it owns, so an error at any call leaves nothing to unwind but mw_rb_free
 * (mw_rule_free works on half-built rules). Every value is checked here
 * against include/mw_limits.h, never trusted because a front-end produced
 * it. Matchers are only made through the open/leaf/close stream; its group
 * stack is a fixed array of MW_LIMIT_MATCH_MAX_DEPTH entries, so the depth
 * of every tree the engine sees is bounded and the recursive matcher code
 * (validate, optimise, evaluate, free) cannot overflow the C stack. A
 * finished tree is a handle consumed by exactly one detection slot; runs of
 * a sequence step share the step's tree (owns_where marks the owner).
 * The first error sticks: later calls return -1 without touching err.
 */
#include "mw_builder.h"
#include "detect/mw_rule_int.h"
#include "mw_buf.h"
#include "mw_field.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The detectors keep their own array bounds; they must be the table's. */
_Static_assert(MW_SEQ_MAX_STEPS == MW_LIMIT_SEQ_MAX_STEPS, "mw_seq.h vs mw_limits.h");
_Static_assert(MW_SEQ_MAX_KEYS == MW_LIMIT_SEQ_MAX_KEYS, "mw_seq.h vs mw_limits.h");
_Static_assert(MW_PATH_MAX_SEGMENTS == MW_LIMIT_PATH_MAX_SEGMENTS, "mw_field.h");
_Static_assert(MW_WINDOW_MAX_COUNT == MW_LIMIT_WINDOW_MAX_COUNT, "mw_window.h");
_Static_assert(MW_WINDOW_MAX_DISTINCT == MW_LIMIT_WINDOW_MAX_DISTINCT, "mw_window.h");

enum stage {
    ST_NONE,   /* no sequence / window keys expected */
    ST_SHARED, /* sequence: shared keys */
    ST_STEP,   /* sequence: the current step's keys */
    ST_UNTIL,  /* sequence: until's keys */
    ST_WINDOW, /* window: group keys */
};

struct tree {
    struct mw_matcher *root; /* owned until consumed (then NULL) */
    bool used;
};

struct mw_rule_builder {
    struct mw_rule *r; /* owned until mw_rb_finish */
    bool failed;
    bool have_meta;
    bool have_detection;
    /* the matcher being built */
    struct mw_matcher *root;                           /* owned */
    struct mw_matcher *open[MW_LIMIT_MATCH_MAX_DEPTH]; /* borrowed from root */
    int depth;
    struct mw_matcher *leaf;         /* borrowed: where values go */
    const struct mw_path *leaf_path; /* borrowed from leaf */
    /* finished matchers */
    struct tree *trees; /* owned */
    int ntrees, cap;
    /* sequence / window keys */
    enum stage stage;
    struct mw_seq_keys shared; /* owned paths */
    int nshared;
    int step_no;   /* steps given (not expanded) */
    int step_base; /* expanded index of the current step */
    int step_runs;
    int step_nk;
    int until_nk;
    int absent_nk;
    bool suppress_open; /* suppress.by given, window not yet */
};

/* ---------------------------------------------------------------------- */
/* errors                                                                  */

static int failf(struct mw_rule_builder *b, struct mw_error *err, const char *at,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int failf(struct mw_rule_builder *b, struct mw_error *err, const char *at,
                 const char *fmt, ...)
{
    struct mw_buf msg = MW_BUF_INIT;
    va_list ap;

    if (!b->failed) {
        if (at && *at)
            mw_buf_addf(&msg, "%s: ", at);
        va_start(ap, fmt);
        mw_buf_vaddf(&msg, fmt, ap);
        va_end(ap);
        mw_error_set(err, "%s", msg.ptr);
        mw_buf_release(&msg);
    }
    b->failed = true;
    return -1;
}

#define CHECK_OK(b)                                                                      \
    do {                                                                                 \
        if ((b)->failed)                                                                 \
            return -1;                                                                   \
    } while (0)

static bool is_text(const char *s)
{
    json_t *chk = json_string(s); /* NULL when not UTF-8 */
    bool ok = chk != NULL;
    json_decref(chk);
    return ok;
}

/* ---------------------------------------------------------------------- */
/* lifetime                                                                */

struct mw_rule_builder *mw_rb_new(const char *origin)
{
    struct mw_rule_builder *b = xcalloc(1, sizeof(*b));
    b->r = xcalloc(1, sizeof(*b->r));
    b->r->file = xstrdup(origin ? origin : "");
    return b;
}

void mw_rb_free(struct mw_rule_builder *b)
{
    if (b == NULL)
        return;
    mw_matcher_free(b->root);
    for (int i = 0; i < b->ntrees; i++)
        mw_matcher_free(b->trees[i].root);
    free(b->trees);
    for (int k = 0; k < b->nshared; k++)
        mw_path_free(b->shared.paths[k]);
    mw_rule_free(b->r);
    free(b);
}

void mw_rb_runtime(struct mw_rule_builder *b, const struct mw_rule_rt_ops *ops, void *rt,
                   const struct mw_match_ctx *ctx)
{
    b->r->rt_ops = ops;
    b->r->rt = rt;
    if (ctx)
        b->r->ctx = *ctx;
}

/* ---------------------------------------------------------------------- */
/* metadata                                                                */

static int text_field(struct mw_rule_builder *b, struct mw_error *err, const char *at,
                      const char *key, const char *v, bool required, char **out)
{
    if (v == NULL && required)
        return failf(b, err, at, "rule field '%s' must be a string", key);
    if (v != NULL && !is_text(v))
        return failf(b, err, at,
                     "rule field '%s' is not valid UTF-8 text (or holds a NUL byte)",
                     key);
    *out = xstrdup(v ? v : "");
    return 0;
}

static int str_list(struct mw_rule_builder *b, struct mw_error *err, const char *at,
                    const char *key, json_t *v, json_t **out)
{
    size_t i;
    json_t *el;
    if (v == NULL) {
        *out = json_array();
        return 0;
    }
    if (!json_is_array(v))
        return failf(b, err, at, "rule field '%s' must be a list of strings", key);
    json_array_foreach(v, i, el) if (!json_is_string(el)) return failf(
        b, err, at, "rule field '%s' must be a list of strings", key);
    *out = json_incref(v);
    return 0;
}

int mw_rb_meta(struct mw_rule_builder *b, const struct mw_rb_meta *in, const char *at,
               struct mw_error *err)
{
    struct mw_rule_meta *m = &b->r->meta;
    int risk = -1;

    CHECK_OK(b);
    if (b->have_meta)
        return failf(b, err, at, "rule metadata given twice");
    b->have_meta = true;
    if (text_field(b, err, at, "id", in->id, true, &m->id) < 0 ||
        text_field(b, err, at, "name", in->name, true, &m->name) < 0 ||
        text_field(b, err, at, "description", in->description, false, &m->description) <
            0 ||
        text_field(b, err, at, "severity", in->severity, false, &m->severity) < 0 ||
        text_field(b, err, at, "license", in->license, false, &m->license) < 0 ||
        text_field(b, err, at, "note", in->note, false, &m->note) < 0 ||
        text_field(b, err, at, "message", in->message, false, &m->message) < 0)
        return -1;
    if (m->id[0] == '\0')
        return failf(b, err, at, "rule id must not be empty");
    if (m->name[0] == '\0')
        return failf(b, err, at, "rule name must not be empty");
    if (m->severity[0] == '\0') {
        free(m->severity);
        m->severity = xstrdup("medium");
    }
#define SEVERITY_RISK_(name, dflt)                                                       \
    if (strcmp(m->severity, #name) == 0)                                                 \
        risk = (dflt);
    MW_SEVERITIES(SEVERITY_RISK_)
#undef SEVERITY_RISK_
    if (risk < 0)
        return failf(b, err, at, "severity must be low, medium, high or critical");
    if (in->risk_score != -1 &&
        (in->risk_score < 0 || in->risk_score > MW_LIMIT_RISK_MAX))
        return failf(b, err, at, "rule field 'risk_score' must be an integer in 0..%d",
                     MW_LIMIT_RISK_MAX);
    m->risk_score = in->risk_score == -1 ? risk : in->risk_score;
    if (in->version != 0 && (in->version < 1 || in->version > MW_LIMIT_VERSION_MAX))
        return failf(b, err, at, "rule field 'version' must be an integer in 1..%d",
                     MW_LIMIT_VERSION_MAX);
    m->version = in->version == 0 ? 1 : in->version;
    if (str_list(b, err, at, "tags", in->tags, &m->tags) < 0 ||
        str_list(b, err, at, "references", in->references, &m->references) < 0 ||
        str_list(b, err, at, "author", in->author, &m->author) < 0 ||
        str_list(b, err, at, "false_positives", in->false_positives,
                 &m->false_positives) < 0)
        return -1;
    /* an empty Lua table converts to {}: normalise to [] */
    if (in->threat == NULL ||
        (json_is_object(in->threat) && json_object_size(in->threat) == 0))
        m->threat = json_array();
    else if (json_is_array(in->threat))
        m->threat = json_incref(in->threat);
    else
        return failf(b, err, at, "threat must be a list of mw.mitre(...) entries");
    m->tests = in->tests ? json_incref(in->tests) : NULL;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* matchers                                                                */

static bool is_group(enum mw_op op)
{
    return op == MW_OP_ALL || op == MW_OP_ANY || op == MW_OP_NOT;
}

/* Hangs m under the open group, or makes it the root. Takes ownership. */
static int attach(struct mw_rule_builder *b, struct mw_matcher *m, const char *at,
                  struct mw_error *err)
{
    if (b->depth > 0) {
        mw_matcher_add_child(b->open[b->depth - 1], m);
        return 0;
    }
    if (b->root != NULL) {
        mw_matcher_free(m);
        return failf(b, err, at, "a matcher has one root (wrap several in all/any)");
    }
    b->root = m;
    return 0;
}

int mw_rb_match_open(struct mw_rule_builder *b, enum mw_op op, const char *at,
                     struct mw_error *err)
{
    struct mw_matcher *g;
    CHECK_OK(b);
    b->leaf = NULL;
    if (!is_group(op))
        return failf(b, err, at, "only all, any and not open a group");
    if (b->depth >= MW_LIMIT_MATCH_MAX_DEPTH)
        return failf(b, err, at,
                     "matchers nested more than %d deep (does a matcher contain itself?)",
                     MW_LIMIT_MATCH_MAX_DEPTH);
    g = mw_matcher_new_group(op);
    if (attach(b, g, at, err) < 0)
        return -1;
    b->open[b->depth++] = g;
    return 0;
}

int mw_rb_match_close(struct mw_rule_builder *b, const char *at, struct mw_error *err)
{
    CHECK_OK(b);
    b->leaf = NULL;
    if (b->depth == 0)
        return failf(b, err, at, "matcher group closed but none is open");
    b->depth--;
    return 0;
}

int mw_rb_match_leaf(struct mw_rule_builder *b, enum mw_op op, const char *field,
                     const char *at, struct mw_error *err)
{
    struct mw_path *path;
    struct mw_matcher *m;
    CHECK_OK(b);
    b->leaf = NULL;
    if (is_group(op) || op == MW_OP_FN || op < MW_OP_EQ || op > MW_OP_FN)
        return failf(b, err, at, "not a field matcher");
    if (field == NULL)
        return failf(b, err, at, "matcher needs a field name");
    path = mw_path_new(field);
    if (path == NULL)
        return failf(b, err, at, "invalid field path '%.200s'", field);
    m = mw_matcher_new_leaf(op, path);
    if (attach(b, m, at, err) < 0)
        return -1;
    b->leaf = m;
    b->leaf_path = path;
    return 0;
}

static int value_rc(struct mw_rule_builder *b, int rc, const struct mw_error *e,
                    const char *at, struct mw_error *err)
{
    if (rc < 0)
        return failf(b, err, at, "matcher on '%.200s': %s", mw_path_str(b->leaf_path),
                     e->msg);
    return 0;
}

int mw_rb_match_str(struct mw_rule_builder *b, const char *s, size_t len, bool ci,
                    const char *at, struct mw_error *err)
{
    struct mw_error e;
    CHECK_OK(b);
    if (b->leaf == NULL)
        return failf(b, err, at, "a matcher value outside a field matcher");
    return value_rc(b, mw_matcher_add_string(b->leaf, s, len, ci, &e), &e, at, err);
}

int mw_rb_match_num(struct mw_rule_builder *b, double v, bool is_int, const char *at,
                    struct mw_error *err)
{
    struct mw_error e;
    CHECK_OK(b);
    if (b->leaf == NULL)
        return failf(b, err, at, "a matcher value outside a field matcher");
    return value_rc(b, mw_matcher_add_number(b->leaf, v, is_int, &e), &e, at, err);
}

int mw_rb_match_bool(struct mw_rule_builder *b, bool v, const char *at,
                     struct mw_error *err)
{
    struct mw_error e;
    CHECK_OK(b);
    if (b->leaf == NULL)
        return failf(b, err, at, "a matcher value outside a field matcher");
    return value_rc(b, mw_matcher_add_bool(b->leaf, v, &e), &e, at, err);
}

int mw_rb_match_fn(struct mw_rule_builder *b, int fn_ref, const char *at,
                   struct mw_error *err)
{
    CHECK_OK(b);
    b->leaf = NULL;
    return attach(b, mw_matcher_new_fn(fn_ref), at, err);
}

int mw_rb_match_done(struct mw_rule_builder *b, const char *at, struct mw_error *err)
{
    CHECK_OK(b);
    b->leaf = NULL;
    if (b->depth != 0)
        return failf(b, err, at, "matcher ended with %d group(s) still open", b->depth);
    if (b->root == NULL)
        return failf(b, err, at, "empty matcher");
    if (b->ntrees == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->trees = xrealloc(b->trees, (size_t)b->cap * sizeof(*b->trees));
    }
    b->trees[b->ntrees].root = b->root;
    b->trees[b->ntrees].used = false;
    b->root = NULL;
    return b->ntrees++;
}

/* Consumes handle h: validated, optimised, owned by the caller from now. */
static struct mw_matcher *take(struct mw_rule_builder *b, int h, const char *what,
                               const char *at, struct mw_error *err)
{
    struct mw_error e;
    struct mw_matcher *m;
    if (h < 0 || h >= b->ntrees || b->trees[h].used) {
        failf(b, err, at, "%s: no matcher (or one used twice)", what);
        return NULL;
    }
    m = b->trees[h].root;
    if (mw_matcher_validate(m, &e) < 0) {
        failf(b, err, at, "%s: %s", what, e.msg);
        return NULL;
    }
    mw_matcher_optimize(m);
    b->trees[h].root = NULL;
    b->trees[h].used = true;
    return m;
}

/* ---------------------------------------------------------------------- */
/* detection                                                               */

static int detection(struct mw_rule_builder *b, enum mw_rule_kind kind, const char *at,
                     struct mw_error *err)
{
    if (b->have_detection)
        return failf(b, err, at,
                     "a rule needs exactly one of 'where' (single event), 'sequence', "
                     "'threshold', 'distinct', 'new_terms' or 'absence'");
    b->have_detection = true;
    b->r->kind = kind;
    return 0;
}

int mw_rb_query(struct mw_rule_builder *b, int where, const char *at,
                struct mw_error *err)
{
    CHECK_OK(b);
    if (detection(b, MW_RULE_QUERY, at, err) < 0)
        return -1;
    b->r->where = take(b, where, "where", at, err);
    return b->r->where ? 0 : -1;
}

/* Appends path ("?x": optional) to keys at *n. */
static int add_key(struct mw_rule_builder *b, struct mw_seq_keys *keys, int *n,
                   const char *path, const char *what, const char *at,
                   struct mw_error *err)
{
    bool opt;
    if (path == NULL)
        return failf(b, err, at, "%s: join keys must be field names", what);
    if (*n >= MW_LIMIT_SEQ_MAX_KEYS)
        return failf(b, err, at, "%s: more than %d join keys", what,
                     MW_LIMIT_SEQ_MAX_KEYS);
    opt = path[0] == '?';
    keys->paths[*n] = mw_path_new(opt ? path + 1 : path);
    keys->optional[*n] = opt;
    if (keys->paths[*n] == NULL)
        return failf(b, err, at, "%s: invalid join key field '%.200s'", what, path);
    (*n)++;
    return 0;
}

static void copy_keys(struct mw_seq_keys *dst, const struct mw_seq_keys *src, int n)
{
    for (int k = 0; k < n; k++) {
        dst->paths[k] = mw_path_new(mw_path_str(src->paths[k]));
        dst->optional[k] = src->optional[k];
    }
}

int mw_rb_seq_begin(struct mw_rule_builder *b, double maxspan_ms, bool keys_ci,
                    const char *at, struct mw_error *err)
{
    CHECK_OK(b);
    if (detection(b, MW_RULE_SEQUENCE, at, err) < 0)
        return -1;
    b->r->seq = xcalloc(1, sizeof(*b->r->seq));
    if (!(maxspan_ms >= 0 && maxspan_ms <= 9.2e15))
        return failf(b, err, at, "sequence maxspan out of range");
    b->r->seq->maxspan = (mw_time_t)(maxspan_ms * 1000);
    b->r->seq->keys_ci = keys_ci;
    b->stage = ST_SHARED;
    return 0;
}

/* Ends the current step: key count against step 1, runs expanded. */
static int close_step(struct mw_rule_builder *b, const char *at, struct mw_error *err)
{
    struct mw_seq_def *d = b->r->seq;
    int base = b->step_base;
    if (b->stage != ST_STEP)
        return 0;
    b->stage = ST_NONE;
    if (b->step_no == 1)
        d->nkeys = b->step_nk;
    else if (b->step_nk != d->nkeys)
        return failf(b, err, at, "sequence step %d has %d join keys, step 1 has %d",
                     b->step_no, b->step_nk, d->nkeys);
    for (int r = 1; r < b->step_runs; r++) {
        d->where[base + r] = d->where[base];
        d->owns_where[base + r] = false;
        copy_keys(&d->keys[base + r], &d->keys[base], b->step_nk);
    }
    return 0;
}

int mw_rb_seq_step(struct mw_rule_builder *b, int where, int runs, const char *at,
                   struct mw_error *err)
{
    struct mw_seq_def *d = b->r->seq;
    char what[48];
    CHECK_OK(b);
    if (d == NULL || (b->stage != ST_SHARED && b->stage != ST_STEP))
        return failf(b, err, at, "a sequence step outside a sequence");
    if (close_step(b, at, err) < 0)
        return -1;
    b->step_no++;
    snprintf(what, sizeof(what), "sequence step %d", b->step_no);
    if (runs < 1 || runs > MW_LIMIT_SEQ_MAX_RUNS ||
        d->nsteps + runs > MW_LIMIT_SEQ_MAX_STEPS)
        return failf(b, err, at, "%s: runs must be 1..%d and steps at most %d", what,
                     MW_LIMIT_SEQ_MAX_RUNS, MW_LIMIT_SEQ_MAX_STEPS);
    b->step_base = d->nsteps;
    b->step_runs = runs;
    d->nsteps += runs; /* mw_seq_def_free frees keys of nsteps steps */
    copy_keys(&d->keys[b->step_base], &b->shared, b->nshared);
    b->step_nk = b->nshared;
    b->stage = ST_STEP;
    d->where[b->step_base] = take(b, where, what, at, err);
    if (d->where[b->step_base] == NULL)
        return -1;
    d->owns_where[b->step_base] = true;
    return 0;
}

int mw_rb_seq_until(struct mw_rule_builder *b, int where, const char *at,
                    struct mw_error *err)
{
    struct mw_seq_def *d = b->r->seq;
    CHECK_OK(b);
    if (d == NULL || b->stage != ST_STEP || d->until_where != NULL)
        return failf(b, err, at, "sequence until goes once, after the steps");
    if (close_step(b, at, err) < 0)
        return -1;
    copy_keys(&d->until_keys, &b->shared, b->nshared);
    b->until_nk = b->nshared;
    b->stage = ST_UNTIL;
    d->until_where = take(b, where, "sequence until", at, err);
    return d->until_where ? 0 : -1;
}

int mw_rb_seq_key(struct mw_rule_builder *b, const char *path, const char *at,
                  struct mw_error *err)
{
    struct mw_seq_def *d = b->r->seq;
    char what[48];
    CHECK_OK(b);
    switch (b->stage) {
    case ST_SHARED:
        return add_key(b, &b->shared, &b->nshared, path, "sequence", at, err);
    case ST_STEP:
        snprintf(what, sizeof(what), "sequence step %d", b->step_no);
        return add_key(b, &d->keys[b->step_base], &b->step_nk, path, what, at, err);
    case ST_UNTIL:
        return add_key(b, &d->until_keys, &b->until_nk, path, "sequence until", at, err);
    default:
        return failf(b, err, at, "a sequence key outside a sequence");
    }
}

static const char *const span_names[] = {
    [MW_WINDOW_THRESHOLD] = "window_ms",
    [MW_WINDOW_DISTINCT] = "window_ms",
    [MW_WINDOW_NEW_TERMS] = "history_ms",
    [MW_WINDOW_ABSENCE] = "within_ms",
};

int mw_rb_window(struct mw_rule_builder *b, const struct mw_rb_window *w, const char *at,
                 struct mw_error *err)
{
    struct mw_window_def *d;
    const char *what;
    CHECK_OK(b);
    if (detection(b, MW_RULE_WINDOW, at, err) < 0)
        return -1;
    if (w->kind < MW_WINDOW_THRESHOLD || w->kind > MW_WINDOW_ABSENCE)
        return failf(b, err, at, "unknown window kind");
    what = mw_window_kind_name(w->kind);
    d = b->r->win = xcalloc(1, sizeof(*d));
    d->kind = w->kind;
    d->keys_ci = w->keys_ci;
    b->stage = ST_WINDOW;
    if (!(w->span_ms > 0 && w->span_ms <= 9.2e12))
        return failf(b, err, at, "window field '%s' out of range", span_names[w->kind]);
    d->span = (mw_time_t)(w->span_ms * 1000);
    if ((d->where = take(b, w->where, "where", at, err)) == NULL)
        return -1;
    if (w->kind == MW_WINDOW_ABSENCE) {
        if ((d->absent_where = take(b, w->absent_where, "absent where", at, err)) == NULL)
            return -1;
    } else if (w->absent_where >= 0) {
        return failf(b, err, at, "%s: only absence has an 'absent' matcher", what);
    }
    if (w->kind == MW_WINDOW_THRESHOLD || w->kind == MW_WINDOW_DISTINCT) {
        int64_t max = w->kind == MW_WINDOW_DISTINCT ? MW_LIMIT_WINDOW_MAX_DISTINCT
                                                    : MW_LIMIT_WINDOW_MAX_COUNT;
        if (w->count < 1 || w->count > max)
            return failf(b, err, at, "%s count out of range", what);
        d->count = (uint64_t)w->count;
    }
    if (w->kind == MW_WINDOW_DISTINCT) {
        if (w->field == NULL)
            return failf(b, err, at, "distinct needs a 'field'");
        if ((d->field = mw_path_new(w->field)) == NULL)
            return failf(b, err, at, "distinct: invalid field path");
    }
    d->warmup = w->kind == MW_WINDOW_NEW_TERMS && w->warmup;
    return 0;
}

int mw_rb_window_key(struct mw_rule_builder *b, const char *path, const char *at,
                     struct mw_error *err)
{
    struct mw_window_def *d = b->r->win;
    CHECK_OK(b);
    if (d == NULL || b->stage != ST_WINDOW)
        return failf(b, err, at, "a window key outside a window");
    return add_key(b, &d->by, &d->nby, path,
                   d->kind == MW_WINDOW_ABSENCE ? "absence first"
                                                : mw_window_kind_name(d->kind),
                   at, err);
}

int mw_rb_window_absent_key(struct mw_rule_builder *b, const char *path, const char *at,
                            struct mw_error *err)
{
    struct mw_window_def *d = b->r->win;
    CHECK_OK(b);
    if (d == NULL || b->stage != ST_WINDOW || d->kind != MW_WINDOW_ABSENCE)
        return failf(b, err, at, "an absent key outside an absence window");
    return add_key(b, &d->absent_by, &b->absent_nk, path, "absence absent", at, err);
}

/* ---------------------------------------------------------------------- */
/* alert policy                                                            */

int mw_rb_suppress_field(struct mw_rule_builder *b, const char *path, const char *at,
                         struct mw_error *err)
{
    struct mw_alert_policy *p = &b->r->policy;
    struct mw_path *mp;
    CHECK_OK(b);
    if (p->nsuppress >= MW_LIMIT_SUPPRESS_MAX_FIELDS)
        return failf(b, err, at, "suppress.by needs 1 to %d field paths",
                     MW_LIMIT_SUPPRESS_MAX_FIELDS);
    if (path == NULL || (mp = mw_path_new(path)) == NULL)
        return failf(b, err, at, "suppress.by[%d] is not a valid field path",
                     p->nsuppress + 1);
    p->suppress_by[p->nsuppress++] = mp;
    b->suppress_open = true;
    return 0;
}

int mw_rb_suppress(struct mw_rule_builder *b, int64_t window_ms, const char *at,
                   struct mw_error *err)
{
    struct mw_alert_policy *p = &b->r->policy;
    CHECK_OK(b);
    if (p->nsuppress < 1 || p->suppress_window != 0)
        return failf(b, err, at, "suppress.by needs 1 to %d field paths",
                     MW_LIMIT_SUPPRESS_MAX_FIELDS);
    if (window_ms < MW_LIMIT_SUPPRESS_MIN_MS || window_ms > INT64_MAX / 1000)
        return failf(b, err, at, "suppress.window must be a duration of at least 1s");
    p->suppress_window = (mw_time_t)window_ms * 1000;
    b->suppress_open = false;
    return 0;
}

int mw_rb_max_alerts(struct mw_rule_builder *b, int64_t count, int64_t per_ms,
                     const char *at, struct mw_error *err)
{
    struct mw_alert_policy *p = &b->r->policy;
    CHECK_OK(b);
    if (count < 1)
        return failf(b, err, at, "max_alerts.count must be an integer >= 1");
    if (per_ms < MW_LIMIT_MAX_ALERTS_MIN_PER_MS || per_ms > INT64_MAX / 1000)
        return failf(b, err, at, "max_alerts.per must be a duration of at least 1s");
    p->max_alerts = count;
    p->max_alerts_per = (mw_time_t)per_ms * 1000;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* finish                                                                  */

static int check_complete(struct mw_rule_builder *b, struct mw_error *err)
{
    struct mw_rule *r = b->r;
    const char *at = r->file;

    CHECK_OK(b);
    if (!b->have_meta)
        return failf(b, err, at, "the rule has no metadata (id, name)");
    if (!b->have_detection)
        return failf(b, err, at,
                     "a rule needs exactly one of 'where' (single event), 'sequence', "
                     "'threshold', 'distinct', 'new_terms' or 'absence'");
    if (b->root != NULL || b->depth != 0)
        return failf(b, err, at, "a matcher was left unfinished");
    for (int i = 0; i < b->ntrees; i++)
        if (!b->trees[i].used)
            return failf(b, err, at, "a matcher was built but not used");
    if (b->suppress_open)
        return failf(b, err, at, "suppress.window must be a duration of at least 1s");
    if (r->kind == MW_RULE_SEQUENCE) {
        if (close_step(b, at, err) < 0)
            return -1;
        if (r->seq->nsteps < MW_LIMIT_SEQ_MIN_STEPS)
            return failf(b, err, at,
                         "a sequence needs at least two steps (or runs >= 2)");
        if (r->seq->until_where && b->until_nk != r->seq->nkeys)
            return failf(b, err, at, "sequence until has %d join keys, steps have %d",
                         b->until_nk, r->seq->nkeys);
    }
    if (r->kind == MW_RULE_WINDOW) {
        const struct mw_window_def *w = r->win;
        if (w->kind == MW_WINDOW_NEW_TERMS &&
            (w->nby < 1 || w->nby > MW_LIMIT_NEW_TERMS_MAX_FIELDS))
            return failf(b, err, at, "new_terms needs 1 to %d fields",
                         MW_LIMIT_NEW_TERMS_MAX_FIELDS);
        if (w->kind == MW_WINDOW_ABSENCE && w->nby != b->absent_nk)
            return failf(b, err, at, "absence: 'first' has %d keys, 'absent' has %d",
                         w->nby, b->absent_nk);
    }
    return 0;
}

struct mw_rule *mw_rb_finish(struct mw_rule_builder *b, struct mw_error *err)
{
    struct mw_rule *r = NULL;
    if (check_complete(b, err) == 0) {
        r = b->r;
        b->r = NULL;
        r->shape = mw_rule_make_shape(r);
        if (r->rt_ops && r->rt_ops->attach)
            r->rt_ops->attach(r->rt, r);
    }
    mw_rb_free(b);
    return r;
}
