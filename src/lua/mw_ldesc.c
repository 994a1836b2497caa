/* mw_ldesc.c - the Lua descriptor reader: a rule's returned table -> builder
 *
 * The first client of the rule builder (include/mw_builder.h). It only reads
 * the Lua table (docs/DESCRIPTORS.md) and turns it into builder calls; every
 * check of values and limits is the builder's, so a hand-written table
 * marked `__kind = "rule"` gets no more trust than one built by mw.rule.
 * What stays here is what only a Lua reader can know: Lua types, unknown
 * keys (typos) and strings with NUL bytes.
 *
 * Runs inside one protected call with raw table access only (no metamethod
 * of the rule runs). The builder owns everything it built and is freed by
 * the caller after the call, and the JSON references made here are parked
 * in struct mw_ldesc for the caller to release, so a Lua error at any point
 * (a memory error) leaks nothing. The matcher recursion is bounded by the
 * builder: it refuses the (MW_LIMIT_MATCH_MAX_DEPTH + 1)th open group, and
 * the reader stops there.
 */
#include "lua/lua_int.h"
#include "mw_kql.h"
#include "mw_buf.h"
#include "mw_eql.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <string.h>

/* A reader-level error: "<at>: <message>", the first one sticks. */
static int rfail(struct mw_ldesc *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int rfail(struct mw_ldesc *d, const char *fmt, ...)
{
    struct mw_buf msg = MW_BUF_INIT;
    va_list ap;
    if (!d->failed) {
        mw_buf_addf(&msg, "%s: ", d->at);
        va_start(ap, fmt);
        mw_buf_vaddf(&msg, fmt, ap);
        va_end(ap);
        mw_error_set(d->err, "%s", msg.ptr);
        mw_buf_release(&msg);
    }
    d->failed = 1;
    return -1;
}

/* A builder call's result: its error is already in d->err. */
static int rb(struct mw_ldesc *d, int rc)
{
    if (rc < 0)
        d->failed = 1;
    return rc;
}

/* Keeps a new reference until mw_ldesc_release. */
static json_t *own(struct mw_ldesc *d, json_t *v)
{
    if (v && d->nowned < (int)(sizeof(d->owned) / sizeof(d->owned[0])))
        d->owned[d->nowned++] = v;
    else
        json_decref(v), v = NULL;
    return v;
}

void mw_ldesc_release(struct mw_ldesc *d)
{
    for (int i = 0; i < d->nowned; i++)
        json_decref(d->owned[i]);
    d->nowned = 0;
}

/* Pushes t[key] (raw) and returns its type. [-0, +1, m] */
static int rawfield(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* The Lua string at idx holds no NUL byte (C strings are what the builder
 * takes; it checks UTF-8 itself). [-0, +0, -] */
static bool no_nul(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    return strlen(s) == len;
}

/* A field path the builder would expand into its n(n+1)/2 segment joins:
 * longer than MW_LDESC_PATH_MAX bytes it is refused here, before the host
 * allocates for it. [-0, +0, -] */
static bool path_too_long(lua_State *L, int idx)
{
    return lua_rawlen(L, idx) > MW_LDESC_PATH_MAX;
}

/* ---------------------------------------------------------------------- */
/* metadata                                                                */

/* t[key] as a borrowed C string (NULL when nil); the string stays anchored
 * in the descriptor table. [-0, +0, m] */
static int get_string(lua_State *L, struct mw_ldesc *d, int t, const char *key,
                      const char **out)
{
    int ty = rawfield(L, t, key);
    *out = NULL;
    if (ty == LUA_TSTRING && !no_nul(L, -1)) {
        lua_pop(L, 1);
        return rfail(d, "rule field '%s' is not valid UTF-8 text (or holds a NUL byte)",
                     key);
    } else if (ty == LUA_TSTRING) {
        *out = lua_tostring(L, -1);
    } else if (ty != LUA_TNIL) {
        lua_pop(L, 1);
        return rfail(d, "rule field '%s' must be a string", key);
    }
    lua_pop(L, 1);
    return 0;
}

/* t[key] as an int (dflt when nil). [-0, +0, m] */
static int get_int(lua_State *L, struct mw_ldesc *d, int t, const char *key, int *out,
                   int dflt, int lo, int hi)
{
    int ty = rawfield(L, t, key);
    if (ty == LUA_TNIL) {
        *out = dflt;
    } else if (ty == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= lo &&
               lua_tointeger(L, -1) <= hi) {
        *out = (int)lua_tointeger(L, -1);
    } else {
        lua_pop(L, 1);
        return rfail(d, "rule field '%s' must be an integer in %d..%d", key, lo, hi);
    }
    lua_pop(L, 1);
    return 0;
}

/* A list of strings (a lone string is accepted) as a JSON array, owned by
 * d. [-0, +0, m] */
static int get_strlist(lua_State *L, struct mw_ldesc *d, int t, const char *key,
                       json_t **out)
{
    int ty = rawfield(L, t, key);
    *out = own(d, json_array());
    if (ty == LUA_TSTRING) {
        json_t *s = no_nul(L, -1) ? json_string(lua_tostring(L, -1)) : NULL;
        lua_pop(L, 1);
        if (s == NULL)
            return rfail(d, "rule field '%s' holds a string that is not UTF-8", key);
        json_array_append_new(*out, s);
        return 0;
    }
    if (ty == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) != LUA_TSTRING) {
                lua_pop(L, 2);
                return rfail(d, "rule field '%s' must be a list of strings", key);
            }
            json_t *s = no_nul(L, -1) ? json_string(lua_tostring(L, -1)) : NULL;
            lua_pop(L, 1);
            if (s == NULL) {
                lua_pop(L, 1);
                return rfail(d, "rule field '%s' holds a string that is not UTF-8", key);
            }
            json_array_append_new(*out, s);
        }
    } else if (ty != LUA_TNIL) {
        lua_pop(L, 1);
        return rfail(d, "rule field '%s' must be a list of strings", key);
    }
    lua_pop(L, 1);
    return 0;
}

/* [-0, +0, m] */
static int read_meta(lua_State *L, struct mw_ldesc *d, int t)
{
    struct mw_rb_meta m = {0};
    if (get_string(L, d, t, "id", &m.id) < 0 ||
        get_string(L, d, t, "name", &m.name) < 0 ||
        get_string(L, d, t, "description", &m.description) < 0 ||
        get_string(L, d, t, "severity", &m.severity) < 0 ||
        get_string(L, d, t, "license", &m.license) < 0 ||
        get_string(L, d, t, "note", &m.note) < 0 ||
        get_string(L, d, t, "message", &m.message) < 0 ||
        get_int(L, d, t, "risk_score", &m.risk_score, -1, 0, MW_LIMIT_RISK_MAX) < 0 ||
        get_int(L, d, t, "version", &m.version, 0, 1, MW_LIMIT_VERSION_MAX) < 0 ||
        get_strlist(L, d, t, "tags", &m.tags) < 0 ||
        get_strlist(L, d, t, "references", &m.references) < 0 ||
        get_strlist(L, d, t, "author", &m.author) < 0 ||
        get_strlist(L, d, t, "false_positives", &m.false_positives) < 0)
        return -1;
    const char *why = NULL;
    if (rawfield(L, t, "threat") == LUA_TTABLE)
        m.threat = own(d, mw_lconv_to_json(L, -1, &why));
    lua_pop(L, 1);
    if (why)
        return rfail(d, "rule field 'threat': %s", why);
    /* rule tests (moonwatch test): kept as JSON, never used by detection */
    if (rawfield(L, t, "tests") == LUA_TTABLE)
        m.tests = own(d, mw_lconv_to_json(L, -1, &why));
    lua_pop(L, 1);
    if (why)
        return rfail(d, "rule field 'tests': %s", why);
    return rb(d, mw_rb_meta(d->b, &m, d->at, d->err));
}

/* ---------------------------------------------------------------------- */
/* matchers                                                                */

static const struct {
    const char *name;
    enum mw_op op;
} ops[] = {
    {"eq", MW_OP_EQ},
    {"ieq", MW_OP_IEQ},
    {"like", MW_OP_LIKE},
    {"prefix", MW_OP_PREFIX},
    {"suffix", MW_OP_SUFFIX},
    {"contains", MW_OP_CONTAINS},
    {"lt", MW_OP_LT},
    {"le", MW_OP_LE},
    {"gt", MW_OP_GT},
    {"ge", MW_OP_GE},
    {"exists", MW_OP_EXISTS},
    {"cidr", MW_OP_CIDR},
    {"category", MW_OP_CATEGORY},
    {"regex", MW_OP_REGEX},
    {"all", MW_OP_ALL},
    {"any", MW_OP_ANY},
    {"not", MW_OP_NOT},
    {"fn", MW_OP_FN},
};

static int read_matcher(lua_State *L, struct mw_ldesc *d, int idx);

/* The list part of t, each a matcher, into the open group. [-0, +0, m] */
static int read_children(lua_State *L, struct mw_ldesc *d, int t)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    if (!lua_checkstack(L, 8))
        return rfail(d, "matcher nesting too deep");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        int rc = read_matcher(L, d, -1);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* [-0, +0, m] */
static int read_group(lua_State *L, struct mw_ldesc *d, int t, enum mw_op op)
{
    if (rb(d, mw_rb_match_open(d->b, op, d->at, d->err)) < 0 ||
        read_children(L, d, t) < 0)
        return -1;
    return rb(d, mw_rb_match_close(d->b, d->at, d->err));
}

/* One value of a leaf. [-0, +0, -] */
static int add_value(lua_State *L, struct mw_ldesc *d, int idx, bool ci,
                     const char *field)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return rb(d, mw_rb_match_str(d->b, s, len, ci, d->at, d->err));
    }
    case LUA_TNUMBER:
        return rb(d, mw_rb_match_num(d->b, lua_tonumber(L, idx), lua_isinteger(L, idx),
                                     d->at, d->err));
    case LUA_TBOOLEAN:
        return rb(d, mw_rb_match_bool(d->b, lua_toboolean(L, idx), d->at, d->err));
    default:
        return rfail(
            d, "matcher on '%.200s': values must be strings, numbers or booleans", field);
    }
}

/* A field matcher {op, field, values | value, ci}. [-0, +0, m] */
static int read_leaf(lua_State *L, struct mw_ldesc *d, int t, enum mw_op op,
                     const char *opname)
{
    const char *field;
    bool ci = false;
    int rc = 0;

    if (rawfield(L, t, "field") != LUA_TSTRING) {
        lua_pop(L, 1);
        return rfail(d, "matcher '%s' needs a field name", opname);
    }
    if (path_too_long(L, -1)) {
        lua_pop(L, 1);
        return rfail(d, "matcher '%s': field path longer than %d bytes", opname,
                     MW_LDESC_PATH_MAX);
    }
    field = lua_tostring(L, -1); /* anchored in the descriptor */
    lua_pop(L, 1);
    if (rb(d, mw_rb_match_leaf(d->b, op, field, d->at, d->err)) < 0)
        return -1;
    if (rawfield(L, t, "ci") == LUA_TBOOLEAN)
        ci = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (op >= MW_OP_LT && op <= MW_OP_GE) {
        if (rawfield(L, t, "value") != LUA_TNUMBER)
            rc = rfail(d, "comparison on '%.200s' needs a number", field);
        else
            rc = add_value(L, d, -1, ci, field);
        lua_pop(L, 1);
        return rc;
    }
    if (op == MW_OP_EXISTS)
        return 0;
    if (rawfield(L, t, "values") != LUA_TTABLE) {
        lua_pop(L, 1);
        return rfail(d, "matcher on '%.200s' needs a list of values", field);
    }
    lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
    if (n == 0)
        rc = rfail(d, "matcher on '%.200s' has an empty value list", field);
    for (lua_Integer k = 1; k <= n && rc == 0; k++) {
        lua_rawgeti(L, -1, k);
        rc = add_value(L, d, -1, ci, field);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return rc;
}

/* The matcher at idx (a table from mw.*, a plain list = all, or a
 * function) into the builder's current tree. [-0, +0, m] */
static int read_matcher(lua_State *L, struct mw_ldesc *d, int idx)
{
    const char *opname;
    size_t i;
    int t = lua_absindex(L, idx);

    if (lua_type(L, t) == LUA_TFUNCTION) {
        lua_pushvalue(L, t);
        return rb(d, mw_rb_match_fn(d->b, luaL_ref(L, LUA_REGISTRYINDEX), d->at, d->err));
    }
    if (lua_type(L, t) != LUA_TTABLE)
        return rfail(d, "a matcher must be a table from mw.* or a function, got %s",
                     luaL_typename(L, t));
    if (rawfield(L, t, "op") == LUA_TNIL) {
        lua_pop(L, 1);
        return read_group(L, d, t, MW_OP_ALL); /* a plain list means all */
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        return rfail(d, "matcher 'op' must be a string");
    }
    opname = lua_tostring(L, -1);
    if (strcmp(opname, "kql") == 0) { /* mw.kql[[...]]: compiled in place */
        size_t qlen;
        const char *q;
        lua_pop(L, 1);
        if (rawfield(L, t, "query") != LUA_TSTRING) {
            lua_pop(L, 1);
            return rfail(d, "mw.kql needs a query string");
        }
        q = lua_tolstring(L, -1, &qlen);
        i = (size_t)mw_kql_emit_text(d->b, q, qlen, d->at, d->err, NULL);
        lua_pop(L, 1);
        return rb(d, (int)i);
    }
    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(ops[i].name, opname) == 0)
            break;
    if (i == sizeof(ops) / sizeof(ops[0])) {
        rfail(d, "unknown matcher op '%.60s'", opname);
        lua_pop(L, 1);
        return -1;
    }
    lua_pop(L, 1);
    switch (ops[i].op) {
    case MW_OP_FN:
        if (rawfield(L, t, "fn") != LUA_TFUNCTION) {
            lua_pop(L, 1);
            return rfail(d, "mw.fn needs a function");
        }
        return rb(d, mw_rb_match_fn(d->b, luaL_ref(L, LUA_REGISTRYINDEX), d->at, d->err));
    case MW_OP_ALL:
    case MW_OP_ANY:
    case MW_OP_NOT:
        return read_group(L, d, t, ops[i].op);
    default:
        return read_leaf(L, d, t, ops[i].op, ops[i].name);
    }
}

/* t[key] as one finished matcher tree; returns its handle or -1.
 * [-0, +0, m] */
static int get_matcher(lua_State *L, struct mw_ldesc *d, int t, const char *key)
{
    rawfield(L, t, key);
    int rc = read_matcher(L, d, -1);
    lua_pop(L, 1);
    if (rc < 0)
        return -1;
    return rb(d, mw_rb_match_done(d->b, d->at, d->err));
}

/* ---------------------------------------------------------------------- */
/* keys, sequences, windows                                                */

typedef int (*key_fn)(struct mw_rule_builder *b, const char *path, const char *at,
                      struct mw_error *err);

/* t[key]: a field name or a list of them, each through add. [-0, +0, m] */
static int read_keys(lua_State *L, struct mw_ldesc *d, int t, const char *key, key_fn add,
                     const char *where)
{
    int rc = 0, k;
    lua_Integer len;

    int ty = rawfield(L, t, key);
    k = lua_absindex(L, -1);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    if (ty == LUA_TSTRING) {
        len = 1;
    } else if (ty == LUA_TTABLE) {
        len = (lua_Integer)lua_rawlen(L, k);
    } else {
        lua_pop(L, 1);
        return rfail(d, "%s: 'by' must be a field name or a list of them", where);
    }
    for (lua_Integer i = 1; i <= len && rc == 0; i++) {
        if (ty == LUA_TSTRING)
            lua_pushvalue(L, k);
        else
            lua_rawgeti(L, k, i);
        if (lua_type(L, -1) != LUA_TSTRING)
            rc = rfail(d, "%s: join keys must be field names", where);
        else if (path_too_long(L, -1))
            rc = rfail(d, "%s: join key path longer than %d bytes", where,
                       MW_LDESC_PATH_MAX);
        else
            rc = rb(d, add(d->b, lua_tostring(L, -1), d->at, d->err));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return rc;
}

/* [-0, +0, m] */
static int read_sequence(lua_State *L, struct mw_ldesc *d, int t)
{
    lua_Number maxspan = 0;
    bool keys_ci = false;
    int rc = 0;

    if (rawfield(L, t, "maxspan_ms") == LUA_TNUMBER)
        maxspan = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (rawfield(L, t, "keys_ci") == LUA_TBOOLEAN)
        keys_ci = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (rb(d, mw_rb_seq_begin(d->b, maxspan, keys_ci, d->at, d->err)) < 0 ||
        read_keys(L, d, t, "by", mw_rb_seq_key, "sequence") < 0)
        return -1;

    if (rawfield(L, t, "steps") != LUA_TTABLE) {
        lua_pop(L, 1);
        return rfail(d, "sequence has no steps");
    }
    int st = lua_absindex(L, -1);
    lua_Integer nsteps = (lua_Integer)lua_rawlen(L, st);
    for (lua_Integer i = 1; i <= nsteps && rc == 0; i++) {
        int runs = 1, where;
        if (lua_rawgeti(L, st, i) != LUA_TTABLE) {
            lua_pop(L, 1);
            rc = rfail(d, "sequence step %lld must be a table", (long long)i);
            break;
        }
        int s = lua_absindex(L, -1);
        if (rawfield(L, s, "runs") == LUA_TNUMBER && lua_isinteger(L, -1))
            runs =
                lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > MW_LIMIT_SEQ_MAX_RUNS
                    ? -1
                    : (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        where = get_matcher(L, d, s, "where");
        if (where < 0 || rb(d, mw_rb_seq_step(d->b, where, runs, d->at, d->err)) < 0 ||
            read_keys(L, d, s, "by", mw_rb_seq_key, "sequence step") < 0)
            rc = -1;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (rc < 0)
        return -1;

    if (rawfield(L, t, "until") == LUA_TTABLE) {
        int u = lua_absindex(L, -1);
        int where = get_matcher(L, d, u, "where");
        if (where < 0 || rb(d, mw_rb_seq_until(d->b, where, d->at, d->err)) < 0 ||
            read_keys(L, d, u, "by", mw_rb_seq_key, "sequence until") < 0)
            rc = -1;
    }
    lua_pop(L, 1);
    return rc;
}

static const char *const window_fields[] = {
    [MW_WINDOW_THRESHOLD] = "threshold",
    [MW_WINDOW_DISTINCT] = "distinct",
    [MW_WINDOW_NEW_TERMS] = "new_terms",
    [MW_WINDOW_ABSENCE] = "absence",
};

/* t[key] as milliseconds; the builder checks the range. [-0, +0, m] */
static int get_span(lua_State *L, struct mw_ldesc *d, int t, const char *key, double *out)
{
    if (rawfield(L, t, key) != LUA_TNUMBER) {
        lua_pop(L, 1);
        return rfail(d, "window field '%s' must be a number of milliseconds", key);
    }
    *out = lua_tonumber(L, -1);
    lua_pop(L, 1);
    return 0;
}

/* [-0, +0, m] */
static int read_window(lua_State *L, struct mw_ldesc *d, int t, enum mw_window_kind kind)
{
    struct mw_rb_window w = {.kind = kind, .where = -1, .absent_where = -1};
    const char *what = window_fields[kind];
    int rc;

    if (rawfield(L, t, "keys_ci") == LUA_TBOOLEAN)
        w.keys_ci = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (kind == MW_WINDOW_ABSENCE) {
        if (get_span(L, d, t, "within_ms", &w.span_ms) < 0)
            return -1;
        if (rawfield(L, t, "first") != LUA_TTABLE ||
            rawfield(L, t, "absent") != LUA_TTABLE) {
            lua_pop(L, 2);
            return rfail(d, "absence needs 'first' and 'absent' tables");
        }
        int fi = lua_absindex(L, -2), ab = lua_absindex(L, -1);
        rc = (w.where = get_matcher(L, d, fi, "where")) < 0 ||
                     (w.absent_where = get_matcher(L, d, ab, "where")) < 0 ||
                     rb(d, mw_rb_window(d->b, &w, d->at, d->err)) < 0 ||
                     read_keys(L, d, fi, "by", mw_rb_window_key, "absence first") < 0 ||
                     read_keys(L, d, ab, "by", mw_rb_window_absent_key,
                               "absence absent") < 0
                 ? -1
                 : 0;
        lua_pop(L, 2);
        return rc;
    }
    if ((w.where = get_matcher(L, d, t, "where")) < 0)
        return -1;
    if (kind == MW_WINDOW_NEW_TERMS) {
        if (rawfield(L, t, "warmup") == LUA_TBOOLEAN)
            w.warmup = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (get_span(L, d, t, "history_ms", &w.span_ms) < 0)
            return -1;
    } else {
        if (get_span(L, d, t, "window_ms", &w.span_ms) < 0)
            return -1;
        if (rawfield(L, t, "count") == LUA_TNUMBER && lua_isinteger(L, -1))
            w.count = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    if (kind == MW_WINDOW_DISTINCT && rawfield(L, t, "field") != LUA_TNIL) {
        if (lua_type(L, -1) == LUA_TSTRING && !path_too_long(L, -1))
            w.field = lua_tostring(L, -1); /* anchored in the descriptor */
        lua_pop(L, 1);
        if (w.field == NULL)
            return rfail(d, "distinct needs a 'field'");
    } else if (kind == MW_WINDOW_DISTINCT) {
        lua_pop(L, 1);
    }
    if (rb(d, mw_rb_window(d->b, &w, d->at, d->err)) < 0)
        return -1;
    return read_keys(L, d, t, kind == MW_WINDOW_NEW_TERMS ? "fields" : "by",
                     mw_rb_window_key, what);
}

/* suppress = {by = {...}, window_ms = N}, max_alerts = {count = N,
 * per_ms = N}, on_alert = function (all optional). [-0, +0, m] */
static int read_shaping(lua_State *L, struct mw_ldesc *d, int t)
{
    int ty, rc = 0;

    if ((ty = rawfield(L, t, "suppress")) == LUA_TTABLE) {
        int sp = lua_absindex(L, -1);
        int64_t window = -1;
        if (rawfield(L, sp, "by") != LUA_TTABLE) {
            lua_pop(L, 2);
            return rfail(d, "suppress.by must be a list of field paths");
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n && rc == 0; i++) {
            const char *path = NULL;
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING && !path_too_long(L, -1))
                path = lua_tostring(L, -1);
            rc = rb(d, mw_rb_suppress_field(d->b, path, d->at, d->err));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (rawfield(L, sp, "window_ms") == LUA_TNUMBER && lua_isinteger(L, -1))
            window = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (rc == 0)
            rc = rb(d, mw_rb_suppress(d->b, window, d->at, d->err));
    } else if (ty != LUA_TNIL) {
        rc = rfail(d, "suppress must be { by = {...}, window = '1h' }");
    }
    lua_pop(L, 1);
    if (rc < 0)
        return -1;

    if ((ty = rawfield(L, t, "max_alerts")) == LUA_TTABLE) {
        int ma = lua_absindex(L, -1);
        int64_t count = 0, per = 0;
        if (rawfield(L, ma, "count") == LUA_TNUMBER && lua_isinteger(L, -1))
            count = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (rawfield(L, ma, "per_ms") == LUA_TNUMBER && lua_isinteger(L, -1))
            per = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        rc = rb(d, mw_rb_max_alerts(d->b, count, per, d->at, d->err));
    } else if (ty != LUA_TNIL) {
        rc = rfail(d, "max_alerts must be { count = N, per = '15m' }");
    }
    lua_pop(L, 1);
    if (rc < 0)
        return -1;

    if ((ty = rawfield(L, t, "on_alert")) == LUA_TFUNCTION) {
        d->rt->hook_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
    }
    lua_pop(L, 1);
    if (ty != LUA_TNIL)
        return rfail(d, "on_alert must be a function(alert)");
    return 0;
}

/* ---------------------------------------------------------------------- */
/* EQL (mw.eql[[...]]): compiled by src/frontend/eql_compile.c             */

/* t.eql = { text = query, line = line of the call }. [-0, +0, m] */
static int read_eql(lua_State *L, struct mw_ldesc *d, int t)
{
    const char *text;
    size_t len;
    lua_Integer line = 0;
    int rc, e;
    if (rawfield(L, t, "eql") != LUA_TTABLE) {
        lua_pop(L, 1);
        return rfail(d, "eql must be mw.eql[[ query ]]");
    }
    e = lua_absindex(L, -1);
    if (rawfield(L, e, "line") == LUA_TNUMBER && lua_isinteger(L, -1))
        line = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (rawfield(L, e, "text") != LUA_TSTRING) {
        lua_pop(L, 2);
        return rfail(d, "mw.eql: the query must be a string");
    }
    text = lua_tolstring(L, -1, &len);
    rc = rb(d, mw_eql_build_in_file(d->b, d->at,
                                    line > 0 && line < 100000000 ? (unsigned)line : 1,
                                    text, len, d->err));
    lua_pop(L, 2);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* the rule                                                                */

static const char *const rule_keys[] = {
    "__kind",     "id",       "name",       "description",     "severity",
    "risk_score", "tags",     "references", "author",          "license",
    "version",    "threat",   "note",       "false_positives", "message",
    "where",      "sequence", "threshold",  "distinct",        "new_terms",
    "absence",    "suppress", "max_alerts", "on_alert",        "tests",
    "eql",        NULL,
};

/* [-0, +0, m] */
static int read_rule(lua_State *L, struct mw_ldesc *d, int t)
{
    int has_where, has_seq, has_eql, nwin = 0, wkind = -1, rc;

    if (lua_type(L, t) != LUA_TTABLE)
        return rfail(d, "the rule file must return mw.rule{...}, got %s",
                     luaL_typename(L, t));
    if (rawfield(L, t, "__kind") != LUA_TSTRING ||
        strcmp(lua_tostring(L, -1), "rule") != 0) {
        lua_pop(L, 1);
        return rfail(d, "the rule file must return mw.rule{...}");
    }
    lua_pop(L, 1);
    /* unknown keys are typos */
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        bool known = false;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; rule_keys[i]; i++)
                if (strcmp(rule_keys[i], lua_tostring(L, -1)) == 0)
                    known = true;
        if (!known) {
            rfail(d, "unknown rule field '%.60s'",
                  lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
            return -1;
        }
    }
    if (read_meta(L, d, t) < 0)
        return -1;

    has_where = rawfield(L, t, "where") != LUA_TNIL;
    lua_pop(L, 1);
    has_seq = rawfield(L, t, "sequence") != LUA_TNIL;
    lua_pop(L, 1);
    for (int k = 0; k <= MW_WINDOW_ABSENCE; k++) {
        if (rawfield(L, t, window_fields[k]) != LUA_TNIL) {
            nwin++;
            wkind = k;
        }
        lua_pop(L, 1);
    }
    has_eql = rawfield(L, t, "eql") != LUA_TNIL;
    lua_pop(L, 1);
    if (has_where + has_seq + has_eql + nwin != 1)
        return rfail(d, "a rule needs exactly one of 'where' (single event), "
                        "'sequence', 'threshold', 'distinct', 'new_terms' or 'absence'");
    if (nwin) {
        if (rawfield(L, t, window_fields[wkind]) != LUA_TTABLE) {
            lua_pop(L, 1);
            return rfail(d, "%s must be mw.%s{...}", window_fields[wkind],
                         window_fields[wkind]);
        }
        rc = read_window(L, d, lua_absindex(L, -1), (enum mw_window_kind)wkind);
        lua_pop(L, 1);
    } else if (has_eql) {
        rc = read_eql(L, d, t);
    } else if (has_where) {
        int where = get_matcher(L, d, t, "where");
        rc = where < 0 ? -1 : rb(d, mw_rb_query(d->b, where, d->at, d->err));
    } else {
        if (rawfield(L, t, "sequence") != LUA_TTABLE) {
            lua_pop(L, 1);
            return rfail(d, "sequence must be mw.sequence{...}");
        }
        rc = read_sequence(L, d, lua_absindex(L, -1));
        lua_pop(L, 1);
    }
    if (rc < 0)
        return -1;
    return read_shaping(L, d, t);
}

int mw_ldesc_read(lua_State *L) /* MW_MAY_RAISE (memory errors only) */
{
    struct mw_ldesc *d = lua_touserdata(L, 1);
    int top = lua_gettop(L);
    read_rule(L, d, 2);
    MW_LUA_BALANCED(L, top, 0);
    return 0;
}
