/* eql_compile.c - EQL syntax tree -> rule builder calls (issue 16)
 *
 * The second client of include/mw_builder.h (after src/lua/mw_ldesc.c): an
 * EQL query becomes the same C matchers and detectors as a hand-written
 * rule, so nothing of EQL runs in Lua per event. The mapping
 * (docs/EQL.md#compiling):
 *
 *   `cat where c`        ALL(CATEGORY event.category = cat, c); `any`: c alone
 *   and / or / not       ALL / ANY / NOT (three-valued, as EQL)
 *   f == v, v == f       EQ (case-sensitive; numbers typed, as ES's keyword
 *                        and long fields); f != v is NOT(EQ)
 *   f == null / != null  NOT(EXISTS) / EXISTS
 *   f < n ... f >= n     LT ... GE (numbers only)
 *   f in (..)            EQ with every value; not in: NOT(EQ)
 *   f in~ (..)           IEQ when no value holds a wildcard character
 *   f : v, f : (..)      IEQ (case-insensitive, * and ? wildcards)
 *   like / like~         LIKE case-sensitive / case-insensitive
 *   startsWith, endsWith, stringContains (f, "s")[~]   PREFIX, SUFFIX, CONTAINS
 *   cidrMatch(f, "net", ...)                           CIDR
 *   true / false         ANY(EXISTS @timestamp, NOT EXISTS @timestamp) and its
 *                        NOT: EXISTS is two-valued, so this is a tautology
 *   | head N             mw_rb_max_alerts(N) over 10,000 years of event time
 *   sequence             mw_rb_seq_begin (maxspan), shared keys, each step
 *                        with its runs and own keys, until with its keys;
 *                        `?f` keys let null join null (ES's optional keys)
 *
 *   f regex "p"          MW_OP_REGEX (a Lucene regular expression, whole value;
 *   f regex~ ("p", ...)  regex~ caseless; mw_regex.h)
 *
 * Everything else (computed values, field against field, string ordering,
 * missing events, sample, pipes, keys that are expressions) is
 * refused with the construct named at its position, never approximated.
 * Errors: the builder is called with an empty `at`, and a failure is
 * re-reported here with the position and caret of the node that caused it.
 * Recursion follows the tree, whose depth the parser bounds (MW_EQL_MAX_DEPTH);
 * the builder bounds the matcher depth it accepts (MW_LIMIT_MATCH_MAX_DEPTH).
 */
#include "mw_builder.h"
#include "mw_eql.h"

#include <stdarg.h>
#include <string.h>

/* the window of `| head N`: 10,000 years of event time */
#define MW_HEAD_PER_MS ((int64_t)10000 * 366 * 24 * 3600 * 1000)

struct cc {
    struct mw_rule_builder *b;
    const char *text;
    size_t len;
    const struct mw_eql_origin *at;
    struct mw_eql_error *err;
    bool failed;
};

static int refuse(struct cc *c, const struct mw_eql_span *sp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct cc *c, const struct mw_eql_span *sp, const char *fmt, ...)
{
    struct mw_buf msg = MW_BUF_INIT;
    va_list ap;
    if (c->failed)
        return -1;
    va_start(ap, fmt);
    mw_buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    mw_eql_error_at(c->err, c->text, c->len, c->at, sp->off, "%s", msg.ptr);
    mw_buf_release(&msg);
    c->failed = true;
    return -1;
}

/* A builder call's result: its message re-reported at sp. */
static int rb(struct cc *c, int rc, const struct mw_error *e,
              const struct mw_eql_span *sp)
{
    if (rc >= 0)
        return rc;
    return refuse(c, sp, "%s", e->msg);
}

#define RB(c, sp, call, ...)                                                             \
    do {                                                                                 \
        struct mw_error e_;                                                              \
        if (rb((c), call((c)->b, __VA_ARGS__, "", &e_), &e_, (sp)) < 0)                  \
            return -1;                                                                   \
    } while (0)

static int open_group(struct cc *c, enum mw_op op, const struct mw_eql_span *sp)
{
    RB(c, sp, mw_rb_match_open, op);
    return 0;
}

static int close_group(struct cc *c, const struct mw_eql_span *sp)
{
    struct mw_error e;
    return rb(c, mw_rb_match_close(c->b, "", &e), &e, sp);
}

static const char *what(const struct mw_eql_node *n)
{
    if (n->kind == MW_EQL_CALL)
        return n->str;
    if (n->kind == MW_EQL_CMP || n->kind == MW_EQL_ARITH || n->kind == MW_EQL_PATTERN ||
        n->kind == MW_EQL_IN)
        return mw_eql_kind_name(n->kind);
    return mw_eql_kind_name(n->kind);
}

/* A field usable as a matcher path: a FIELD, by its dotted path. */
static int field_path(struct cc *c, const struct mw_eql_node *n, const char **path)
{
    if (n->kind != MW_EQL_FIELD)
        return refuse(c, &n->at,
                      "not supported yet: a computed value (%s) here; moonwatch's "
                      "matchers take a field on one side and constants on the other",
                      what(n));
    /* a dot inside a backquoted name (`a.b/c`) separates segments too, as
     * in Elasticsearch, where field names are dotted paths */
    *path = n->str;
    return 0;
}

static bool is_const(const struct mw_eql_node *n)
{
    return n->kind == MW_EQL_NULL || n->kind == MW_EQL_BOOL || n->kind == MW_EQL_INT ||
           n->kind == MW_EQL_FLOAT || n->kind == MW_EQL_STRING;
}

/* One constant as a value of the current leaf. */
static int value(struct cc *c, const struct mw_eql_node *v, bool ci)
{
    struct mw_error e;
    switch (v->kind) {
    case MW_EQL_STRING:
        return rb(c, mw_rb_match_str(c->b, v->str, v->len, ci, "", &e), &e, &v->at);
    case MW_EQL_INT:
        return rb(c, mw_rb_match_num(c->b, (double)v->i, true, "", &e), &e, &v->at);
    case MW_EQL_FLOAT:
        return rb(c, mw_rb_match_num(c->b, v->f, false, "", &e), &e, &v->at);
    case MW_EQL_BOOL:
        return rb(c, mw_rb_match_bool(c->b, v->boolean, "", &e), &e, &v->at);
    case MW_EQL_NULL:
        return refuse(c, &v->at,
                      "not supported here: null in a list of values (test "
                      "'field == null' on its own)");
    default:
        return refuse(c, &v->at,
                      "not supported yet: a computed value (%s) where a constant is "
                      "expected",
                      what(v));
    }
}

static int leaf(struct cc *c, enum mw_op op, const char *path,
                const struct mw_eql_span *sp)
{
    RB(c, sp, mw_rb_match_leaf, op, path);
    return 0;
}

/* always true (negate: always false), without a new matcher kind */
static int constant(struct cc *c, bool v, const struct mw_eql_span *sp)
{
    if (!v && open_group(c, MW_OP_NOT, sp) < 0)
        return -1;
    if (open_group(c, MW_OP_ANY, sp) < 0 || leaf(c, MW_OP_EXISTS, "@timestamp", sp) < 0 ||
        open_group(c, MW_OP_NOT, sp) < 0 || leaf(c, MW_OP_EXISTS, "@timestamp", sp) < 0 ||
        close_group(c, sp) < 0 || close_group(c, sp) < 0)
        return -1;
    return v ? 0 : close_group(c, sp);
}

static int cond(struct cc *c, const struct mw_eql_node *n);

static enum mw_op swap_cmp(enum mw_op op)
{
    switch (op) {
    case MW_OP_LT:
        return MW_OP_GT;
    case MW_OP_LE:
        return MW_OP_GE;
    case MW_OP_GT:
        return MW_OP_LT;
    case MW_OP_GE:
        return MW_OP_LE;
    default:
        return op;
    }
}

static int compare(struct cc *c, const struct mw_eql_node *n)
{
    const struct mw_eql_node *f = n->kids[0], *v = n->kids[1];
    const char *path = NULL;
    bool swapped = false;
    enum mw_op op;

    if (is_const(f) && !is_const(v)) {
        f = n->kids[1];
        v = n->kids[0];
        swapped = true;
    }
    if (is_const(f))
        return refuse(c, &n->at, "not supported yet: a comparison of two constants");
    if (!is_const(v)) {
        if (f->kind == MW_EQL_FIELD && v->kind == MW_EQL_FIELD)
            return refuse(c, &n->at,
                          "not supported yet: comparing a field with a field "
                          "(needs the expression matcher)");
        return refuse(c, &n->at,
                      "not supported yet: a comparison of computed values (%s)",
                      what(v->kind == MW_EQL_FIELD ? f : v));
    }
    if (field_path(c, f, &path) < 0)
        return -1;
    switch ((enum mw_eql_cmp)n->op) {
    case MW_EQL_EQ:
    case MW_EQL_NE: {
        bool ne = n->op == MW_EQL_NE;
        if (v->kind == MW_EQL_NULL) {
            /* == null: the field is missing or null; != null: it is there */
            if (!ne && open_group(c, MW_OP_NOT, &n->at) < 0)
                return -1;
            if (leaf(c, MW_OP_EXISTS, path, &n->at) < 0)
                return -1;
            return ne ? 0 : close_group(c, &n->at);
        }
        if (ne && open_group(c, MW_OP_NOT, &n->at) < 0)
            return -1;
        if (leaf(c, MW_OP_EQ, path, &n->at) < 0 || value(c, v, false) < 0)
            return -1;
        return ne ? close_group(c, &n->at) : 0;
    }
    case MW_EQL_LT:
        op = MW_OP_LT;
        break;
    case MW_EQL_LE:
        op = MW_OP_LE;
        break;
    case MW_EQL_GT:
        op = MW_OP_GT;
        break;
    default:
        op = MW_OP_GE;
        break;
    }
    if (v->kind != MW_EQL_INT && v->kind != MW_EQL_FLOAT)
        return refuse(c, &v->at,
                      "not supported yet: ordering against a %s (only numbers are "
                      "ordered by moonwatch's matchers)",
                      v->kind == MW_EQL_STRING ? "string" : mw_eql_kind_name(v->kind));
    if (swapped)
        op = swap_cmp(op);
    if (leaf(c, op, path, &n->at) < 0)
        return -1;
    return value(c, v, false);
}

static bool has_wildcard(const struct mw_eql_node *v)
{
    return v->kind == MW_EQL_STRING &&
           (memchr(v->str, '*', v->len) != NULL || memchr(v->str, '?', v->len) != NULL);
}

static int in_list(struct cc *c, const struct mw_eql_node *n)
{
    const char *path = NULL;
    enum mw_op op = MW_OP_EQ;
    if (field_path(c, n->kids[0], &path) < 0)
        return -1;
    for (size_t i = 1; i < n->nkids; i++) {
        if (!is_const(n->kids[i]))
            return refuse(c, &n->kids[i]->at,
                          "not supported yet: a computed value (%s) in an 'in' list",
                          what(n->kids[i]));
        if (n->ci && has_wildcard(n->kids[i]))
            return refuse(c, &n->kids[i]->at,
                          "not supported yet: 'in~' with a value holding '*' or '?' "
                          "(the case-insensitive matcher would read it as a wildcard)");
    }
    if (n->ci)
        op = MW_OP_IEQ;
    if (n->negated && open_group(c, MW_OP_NOT, &n->at) < 0)
        return -1;
    if (leaf(c, op, path, &n->at) < 0)
        return -1;
    for (size_t i = 1; i < n->nkids; i++)
        if (value(c, n->kids[i], n->ci) < 0)
            return -1;
    return n->negated ? close_group(c, &n->at) : 0;
}

static int pattern(struct cc *c, const struct mw_eql_node *n)
{
    const char *path = NULL;
    enum mw_op op;
    if (field_path(c, n->kids[0], &path) < 0)
        return -1;
    op = n->op == MW_EQL_SEQ     ? MW_OP_IEQ
         : n->op == MW_EQL_REGEX ? MW_OP_REGEX
                                 : MW_OP_LIKE;
    if (op != MW_OP_IEQ)
        for (size_t i = 1; i < n->nkids; i++)
            if (n->kids[i]->kind != MW_EQL_STRING)
                return refuse(c, &n->kids[i]->at, "'%s' takes strings",
                              op == MW_OP_REGEX ? (n->ci ? "regex~" : "regex")
                                                : (n->ci ? "like~" : "like"));
    if (leaf(c, op, path, &n->at) < 0)
        return -1;
    for (size_t i = 1; i < n->nkids; i++)
        if (value(c, n->kids[i], n->op == MW_EQL_SEQ || n->ci) < 0)
            return -1;
    return 0;
}

static int call(struct cc *c, const struct mw_eql_node *n)
{
    const char *path = NULL;
    enum mw_op op;
    switch ((enum mw_eql_fn)n->op) {
    case MW_EQL_FN_STARTSWITH:
        op = MW_OP_PREFIX;
        break;
    case MW_EQL_FN_ENDSWITH:
        op = MW_OP_SUFFIX;
        break;
    case MW_EQL_FN_STRINGCONTAINS:
        op = MW_OP_CONTAINS;
        break;
    case MW_EQL_FN_CIDRMATCH:
        op = MW_OP_CIDR;
        break;
    default:
        return refuse(c, &n->at,
                      "not supported yet: %s() as a condition (computed values need "
                      "the expression matcher)",
                      n->str);
    }
    if (n->kids[0]->kind != MW_EQL_FIELD)
        return refuse(c, &n->kids[0]->at,
                      "not supported yet: %s() on a computed value (only on a field)",
                      n->str);
    for (size_t i = 1; i < n->nkids; i++)
        if (n->kids[i]->kind != MW_EQL_STRING)
            return refuse(c, &n->kids[i]->at,
                          "not supported yet: %s() with a non-string argument (only "
                          "string constants after the field)",
                          n->str);
    if (field_path(c, n->kids[0], &path) < 0 || leaf(c, op, path, &n->at) < 0)
        return -1;
    for (size_t i = 1; i < n->nkids; i++)
        if (value(c, n->kids[i], n->ci) < 0)
            return -1;
    return 0;
}

static int cond(struct cc *c, const struct mw_eql_node *n)
{
    switch (n->kind) {
    case MW_EQL_AND:
    case MW_EQL_OR:
        if (open_group(c, n->kind == MW_EQL_AND ? MW_OP_ALL : MW_OP_ANY, &n->at) < 0)
            return -1;
        for (size_t i = 0; i < n->nkids; i++)
            if (cond(c, n->kids[i]) < 0)
                return -1;
        return close_group(c, &n->at);
    case MW_EQL_NOT:
        if (open_group(c, MW_OP_NOT, &n->at) < 0 || cond(c, n->kids[0]) < 0)
            return -1;
        return close_group(c, &n->at);
    case MW_EQL_BOOL:
        return constant(c, n->boolean, &n->at);
    case MW_EQL_CMP:
        return compare(c, n);
    case MW_EQL_IN:
        return in_list(c, n);
    case MW_EQL_PATTERN:
        return pattern(c, n);
    case MW_EQL_CALL:
        return call(c, n);
    case MW_EQL_FIELD:
        return refuse(c, &n->at,
                      "not supported: a bare field as a condition (write '%s == true')",
                      n->str);
    default:
        return refuse(c, &n->at, "not supported as a condition: %s", what(n));
    }
}

/* The matcher of one step: its category and its condition. Returns the
 * handle, or -1. */
static int step_where(struct cc *c, const struct mw_eql_step *s)
{
    struct mw_error e;
    bool wrap = !s->any && !(s->where->kind == MW_EQL_BOOL && s->where->boolean);
    if (wrap && open_group(c, MW_OP_ALL, &s->at) < 0)
        return -1;
    if (!s->any) {
        struct mw_error e2;
        if (leaf(c, MW_OP_CATEGORY, "event.category", &s->at) < 0 ||
            rb(c, mw_rb_match_str(c->b, s->category, strlen(s->category), false, "", &e2),
               &e2, &s->at) < 0)
            return -1;
    }
    if ((wrap || s->any) && cond(c, s->where) < 0)
        return -1;
    if (wrap && close_group(c, &s->at) < 0)
        return -1;
    return rb(c, mw_rb_match_done(c->b, "", &e), &e, &s->at);
}

static int keys(struct cc *c, struct mw_eql_node *const *by, size_t n)
{
    struct mw_buf p = MW_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const char *path = NULL;
        struct mw_error e;
        int rc;
        if (by[i]->kind != MW_EQL_FIELD)
            return refuse(c, &by[i]->at,
                          "not supported yet: a join key that is an expression (%s); "
                          "join on a field",
                          what(by[i]));
        if (field_path(c, by[i], &path) < 0)
            return -1;
        mw_buf_reset(&p);
        mw_buf_addf(&p, "%s%s", by[i]->optional ? "?" : "", path);
        rc = rb(c, mw_rb_seq_key(c->b, p.ptr, "", &e), &e, &by[i]->at);
        if (rc < 0) {
            mw_buf_release(&p);
            return -1;
        }
    }
    mw_buf_release(&p);
    return 0;
}

int mw_eql_compile(struct mw_rule_builder *b, const struct mw_eql_query *q,
                   const char *text, size_t len, const struct mw_eql_origin *at,
                   struct mw_eql_error *err)
{
    struct cc c = {.b = b, .text = text, .len = len, .at = at, .err = err};
    struct mw_error e;
    int h;

    /* `| head N`: stop after N results, as the rule's alert cap over an
     * event-time window longer than any input (MW_HEAD_PER_MS) */
    int64_t head = -1;
    for (size_t i = 0; i < q->npipes; i++) {
        const struct mw_eql_pipe *p = &q->pipes[i];
        if (p->kind == MW_EQL_TAIL)
            return refuse(&c, &p->at,
                          "not supported yet: '| tail' (needs the end of the input)");
        if (p->n < 1)
            return refuse(&c, &p->at,
                          "not supported: '| head 0' (a rule that never alerts)");
        if (head < 0 || p->n < head)
            head = p->n;
    }
    if (head > 0 && rb(&c, mw_rb_max_alerts(b, head, MW_HEAD_PER_MS, "", &e), &e,
                       &q->pipes[0].at) < 0)
        return -1;
    switch (q->type) {
    case MW_EQL_EVENT:
        h = step_where(&c, &q->steps[0]);
        if (h < 0)
            return -1;
        return rb(&c, mw_rb_query(b, h, "", &e), &e, &q->steps[0].at) < 0 ? -1 : 0;
    case MW_EQL_SAMPLE:
        return refuse(&c, &q->steps[0].at, "not supported yet: 'sample'");
    case MW_EQL_SEQUENCE:
        break;
    }
    for (size_t i = 0; i < q->nsteps; i++)
        if (q->steps[i].missing)
            return refuse(&c, &q->steps[i].at,
                          "not supported yet: a missing event ![...]");
    if (rb(&c,
           mw_rb_seq_begin(b, q->has_maxspan ? (double)q->maxspan_ms : 0, false, "", &e),
           &e, &q->steps[0].at) < 0 ||
        keys(&c, q->by, q->nby) < 0)
        return -1;
    for (size_t i = 0; i < q->nsteps; i++) {
        const struct mw_eql_step *s = &q->steps[i];
        h = step_where(&c, s);
        if (h < 0 || rb(&c, mw_rb_seq_step(b, h, (int)s->runs, "", &e), &e, &s->at) < 0 ||
            keys(&c, s->by, s->nby) < 0)
            return -1;
    }
    if (q->until != NULL) {
        h = step_where(&c, q->until);
        if (h < 0 || rb(&c, mw_rb_seq_until(b, h, "", &e), &e, &q->until->at) < 0 ||
            keys(&c, q->until->by, q->until->nby) < 0)
            return -1;
    }
    return 0;
}

int mw_eql_build(struct mw_rule_builder *b, const char *text, size_t len,
                 const struct mw_eql_origin *at, struct mw_eql_error *err)
{
    struct mw_eql_query *q = mw_eql_parse(text, len, at, err);
    int rc;
    if (q == NULL)
        return -1;
    rc = mw_eql_compile(b, q, text, len, at, err);
    mw_eql_free(q);
    return rc;
}
