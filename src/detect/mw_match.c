/* mw_match.c - evaluation of compiled matcher trees (EQL three-valued logic)
 *
 * Leaves hold pre-processed values: case-insensitive patterns are lowercased
 * once at load, wildcard presence is precomputed so plain ':' equality is a
 * length check and a case-folding compare, and CIDRs are parsed to 16-byte
 * networks. Nothing here allocates per event. Case folding is ASCII only.
 */
#include "mw_match.h"
#include "mw_buf.h"
#include "mw_regex.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum vtype {
    V_STR,
    V_NUM,
    V_BOOL,
    V_NET,
};

struct value {
    enum vtype type;
    char *s; /* owned: string, or number's text for IEQ */
    size_t len;
    bool wild; /* s contains * or ? (IEQ, LIKE) */
    bool ci;
    double num;
    bool is_int;
    json_int_t ival;
    bool b;
    unsigned char net[16];
    int prefix;
    struct mw_regex *re; /* owned, REGEX */
};

struct mw_matcher {
    enum mw_op op;
    struct mw_path *path; /* owned, leaves only */
    struct value *vals;   /* owned */
    size_t nvals, vcap;
    struct mw_matcher **kids; /* owned */
    size_t nkids, kcap;
    int fn_ref;
};

static bool is_leaf(enum mw_op op)
{
    return op != MW_OP_ALL && op != MW_OP_ANY && op != MW_OP_NOT && op != MW_OP_FN;
}

struct mw_matcher *mw_matcher_new_leaf(enum mw_op op, struct mw_path *path)
{
    struct mw_matcher *m = xcalloc(1, sizeof(*m));
    m->op = op;
    m->path = path;
    return m;
}

struct mw_matcher *mw_matcher_new_group(enum mw_op op)
{
    struct mw_matcher *m = xcalloc(1, sizeof(*m));
    m->op = op;
    return m;
}

struct mw_matcher *mw_matcher_new_fn(int fn_ref)
{
    struct mw_matcher *m = xcalloc(1, sizeof(*m));
    m->op = MW_OP_FN;
    m->fn_ref = fn_ref;
    return m;
}

void mw_matcher_free(struct mw_matcher *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nvals; i++) {
        free(m->vals[i].s);
        mw_regex_free(m->vals[i].re);
    }
    free(m->vals);
    for (size_t i = 0; i < m->nkids; i++)
        mw_matcher_free(m->kids[i]);
    free(m->kids);
    mw_path_free(m->path);
    free(m);
}

static struct value *push_value(struct mw_matcher *m)
{
    if (m->nvals == m->vcap) {
        m->vcap = m->vcap ? m->vcap * 2 : 4;
        m->vals = xrealloc(m->vals, m->vcap * sizeof(*m->vals));
    }
    struct value *v = &m->vals[m->nvals++];
    memset(v, 0, sizeof(*v));
    return v;
}

static void lower_ascii(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            s[i] = (char)(s[i] - 'A' + 'a');
}

/* Shortest decimal text that reads back as the same double (0.1, not
 * 0.10000000000000001), so ':' compares what a person wrote. */
static void format_real(double v, char *buf, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static inline char fold(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int mw_matcher_add_string(struct mw_matcher *m, const char *s, size_t len, bool ci,
                          struct mw_error *err)
{
    struct value *v;

    switch (m->op) {
    case MW_OP_LT:
    case MW_OP_LE:
    case MW_OP_GT:
    case MW_OP_GE:
        return mw_error_set(err, "comparison needs a number, got string '%.*s'",
                            (int)(len > 64 ? 64 : len), s);
    case MW_OP_EXISTS:
    case MW_OP_ALL:
    case MW_OP_ANY:
    case MW_OP_NOT:
    case MW_OP_FN:
        return mw_error_set(err, "this matcher takes no values");
    case MW_OP_CIDR: {
        char tmp[64];
        if (len >= sizeof(tmp))
            return mw_error_set(err, "invalid CIDR '%.*s'", 64, s);
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        v = push_value(m);
        v->type = V_NET;
        if (mw_cidr_parse(tmp, v->net, &v->prefix) < 0) {
            m->nvals--;
            return mw_error_set(err, "invalid CIDR '%s'", tmp);
        }
        v->s = xstrdup(tmp); /* for explain */
        v->len = strlen(tmp);
        return 0;
    }
    case MW_OP_REGEX: {
        /* compiled once, here; s stays as written for explain */
        struct mw_regex *re = mw_regex_compile(s, len, ci, err);
        if (re == NULL)
            return -1;
        v = push_value(m);
        v->type = V_STR;
        v->s = xstrndup(s, len);
        v->len = len;
        v->ci = ci;
        v->re = re;
        return 0;
    }
    default:
        break;
    }
    v = push_value(m);
    v->type = V_STR;
    v->s = xstrndup(s, len);
    v->len = len;
    v->ci = ci || m->op == MW_OP_IEQ;
    if (v->ci)
        lower_ascii(v->s, len);
    if (m->op == MW_OP_IEQ || m->op == MW_OP_LIKE)
        v->wild = memchr(s, '*', len) != NULL || memchr(s, '?', len) != NULL;
    return 0;
}

int mw_matcher_add_number(struct mw_matcher *m, double num, bool is_int,
                          struct mw_error *err)
{
    struct value *v;
    char text[64];

    switch (m->op) {
    case MW_OP_EQ:
    case MW_OP_IEQ:
    case MW_OP_LT:
    case MW_OP_LE:
    case MW_OP_GT:
    case MW_OP_GE:
    case MW_OP_CATEGORY:
        break;
    default:
        return mw_error_set(err, "this matcher does not take numbers");
    }
    if (!isfinite(num))
        return mw_error_set(err, "number must be finite");
    v = push_value(m);
    v->type = V_NUM;
    v->num = num;
    v->is_int = is_int && num >= -9.2e18 && num <= 9.2e18;
    v->ival = v->is_int ? (json_int_t)num : 0;
    if (v->is_int)
        snprintf(text, sizeof(text), "%lld", (long long)v->ival);
    else
        format_real(num, text, sizeof(text));
    v->s = xstrdup(text);
    v->len = strlen(text);
    return 0;
}

int mw_matcher_add_bool(struct mw_matcher *m, bool b, struct mw_error *err)
{
    if (m->op != MW_OP_EQ && m->op != MW_OP_IEQ)
        return mw_error_set(err, "only eq and ieq take booleans");
    struct value *v = push_value(m);
    v->type = V_BOOL;
    v->b = b;
    return 0;
}

void mw_matcher_add_child(struct mw_matcher *m, struct mw_matcher *child)
{
    if (m->nkids == m->kcap) {
        m->kcap = m->kcap ? m->kcap * 2 : 4;
        m->kids = xrealloc(m->kids, m->kcap * sizeof(*m->kids));
    }
    m->kids[m->nkids++] = child;
}

int mw_matcher_validate(const struct mw_matcher *m, struct mw_error *err)
{
    if (is_leaf(m->op)) {
        if (m->path == NULL)
            return mw_error_set(err, "matcher has no field");
        if (m->op != MW_OP_EXISTS && m->nvals == 0)
            return mw_error_set(err, "matcher on '%s' has no values",
                                mw_path_str(m->path));
        if (m->op >= MW_OP_LT && m->op <= MW_OP_GE && m->nvals != 1)
            return mw_error_set(err, "comparison takes exactly one number");
        return 0;
    }
    if (m->op == MW_OP_NOT && m->nkids != 1)
        return mw_error_set(err, "not takes exactly one matcher");
    if ((m->op == MW_OP_ALL || m->op == MW_OP_ANY) && m->nkids == 0)
        return mw_error_set(err, "empty all/any");
    for (size_t i = 0; i < m->nkids; i++)
        if (mw_matcher_validate(m->kids[i], err) < 0)
            return -1;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* string helpers                                                          */

bool mw_wildcard_match(const char *pat, size_t plen, const char *s, size_t slen, bool ci)
{
    size_t p = 0, i = 0;
    size_t star_p = (size_t)-1, star_i = 0;

    while (i < slen) {
        if (p < plen && pat[p] == '*') {
            star_p = p++;
            star_i = i;
        } else if (p < plen && (pat[p] == '?' ||
                                (ci ? fold(pat[p]) == fold(s[i]) : pat[p] == s[i]))) {
            p++;
            i++;
        } else if (star_p != (size_t)-1) {
            p = star_p + 1;
            i = ++star_i;
        } else {
            return false;
        }
    }
    while (p < plen && pat[p] == '*')
        p++;
    return p == plen;
}

/* pattern is already lowercased when ci */
static bool bytes_eq(const char *pat, const char *s, size_t len, bool ci)
{
    if (!ci)
        return memcmp(pat, s, len) == 0;
    for (size_t i = 0; i < len; i++)
        if (pat[i] != fold(s[i]))
            return false;
    return true;
}

static bool contains(const char *hay, size_t hlen, const char *needle, size_t nlen,
                     bool ci)
{
    if (nlen == 0)
        return true;
    if (nlen > hlen)
        return false;
    for (size_t i = 0; i + nlen <= hlen; i++)
        if (bytes_eq(needle, hay + i, nlen, ci))
            return true;
    return false;
}

/* ---------------------------------------------------------------------- */
/* addresses                                                               */

int mw_ip_parse(const char *s, size_t len, unsigned char addr[16])
{
    char tmp[INET6_ADDRSTRLEN + 1];
    struct in_addr a4;

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (inet_pton(AF_INET, tmp, &a4) == 1) {
        memset(addr, 0, 10);
        addr[10] = addr[11] = 0xff;
        memcpy(addr + 12, &a4, 4);
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, addr) == 1)
        return 0;
    return -1;
}

int mw_cidr_parse(const char *s, unsigned char net[16], int *prefix)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash ? (size_t)(slash - s) : strlen(s);
    bool v4;
    int bits, max;

    if (mw_ip_parse(s, alen, net) < 0)
        return -1;
    v4 = memchr(s, ':', alen) == NULL;
    max = v4 ? 32 : 128;
    if (slash == NULL) {
        bits = max;
    } else {
        const char *p = slash + 1;
        long b = 0;
        if (*p == '\0' || strlen(p) > 3)
            return -1;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -1;
            b = b * 10 + (*p - '0');
        }
        if (b > max)
            return -1;
        bits = (int)b;
    }
    *prefix = v4 ? bits + 96 : bits;
    /* clear host bits so containment is a masked compare */
    for (int i = 0; i < 16; i++) {
        int keep = *prefix - i * 8;
        if (keep >= 8)
            continue;
        net[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
    }
    return 0;
}

static bool in_net(const unsigned char addr[16], const struct value *v)
{
    int full = v->prefix / 8, rest = v->prefix % 8;
    if (memcmp(addr, v->net, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (addr[full] & mask) == v->net[full];
}

/* ---------------------------------------------------------------------- */
/* evaluation                                                              */

static bool num_eq(const json_t *f, const struct value *v)
{
    if (json_is_integer(f) && v->is_int)
        return json_integer_value(f) == v->ival;
    return json_number_value(f) == v->num;
}

/* Does one scalar field value (not null, not array) satisfy value v? */
static bool scalar_value(enum mw_op op, const json_t *f, const struct value *v)
{
    switch (op) {
    case MW_OP_EQ:
    case MW_OP_CATEGORY:
        if (v->type == V_STR)
            return json_is_string(f) && json_string_length(f) == v->len &&
                   memcmp(json_string_value(f), v->s, v->len) == 0;
        if (v->type == V_NUM)
            return json_is_number(f) && num_eq(f, v);
        if (v->type == V_BOOL)
            return json_is_boolean(f) && json_is_true(f) == v->b;
        return false;
    case MW_OP_IEQ:
    case MW_OP_LIKE: {
        char text[64];
        const char *s;
        size_t len;
        if (v->type == V_BOOL)
            return json_is_boolean(f) && json_is_true(f) == v->b;
        if (json_is_string(f)) {
            s = json_string_value(f);
            len = json_string_length(f);
        } else if (json_is_number(f)) {
            if (v->type == V_NUM)
                return num_eq(f, v);
            if (json_is_integer(f))
                snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(f));
            else
                format_real(json_real_value(f), text, sizeof(text));
            s = text;
            len = strlen(text);
        } else if (json_is_boolean(f)) {
            s = json_is_true(f) ? "true" : "false";
            len = strlen(s);
        } else {
            return false;
        }
        if (v->wild)
            return mw_wildcard_match(v->s, v->len, s, len, v->ci);
        return len == v->len && bytes_eq(v->s, s, len, v->ci);
    }
    case MW_OP_PREFIX:
        return json_is_string(f) && json_string_length(f) >= v->len &&
               bytes_eq(v->s, json_string_value(f), v->len, v->ci);
    case MW_OP_SUFFIX: {
        size_t flen = json_string_length(f);
        return json_is_string(f) && flen >= v->len &&
               bytes_eq(v->s, json_string_value(f) + flen - v->len, v->len, v->ci);
    }
    case MW_OP_CONTAINS:
        return json_is_string(f) &&
               contains(json_string_value(f), json_string_length(f), v->s, v->len, v->ci);
    case MW_OP_LT:
    case MW_OP_LE:
    case MW_OP_GT:
    case MW_OP_GE: {
        double x;
        if (!json_is_number(f))
            return false;
        if (json_is_integer(f) && v->is_int) {
            json_int_t a = json_integer_value(f), b = v->ival;
            return op == MW_OP_LT   ? a < b
                   : op == MW_OP_LE ? a <= b
                   : op == MW_OP_GT ? a > b
                                    : a >= b;
        }
        x = json_number_value(f);
        return op == MW_OP_LT   ? x < v->num
               : op == MW_OP_LE ? x <= v->num
               : op == MW_OP_GT ? x > v->num
                                : x >= v->num;
    }
    case MW_OP_REGEX:
        return json_is_string(f) &&
               mw_regex_match(v->re, json_string_value(f), json_string_length(f));
    case MW_OP_CIDR: {
        unsigned char addr[16];
        if (!json_is_string(f) ||
            mw_ip_parse(json_string_value(f), json_string_length(f), addr) < 0)
            return false;
        return in_net(addr, v);
    }
    default:
        return false;
    }
}

static enum mw_tv scalar(const struct mw_matcher *m, const json_t *f)
{
    if (json_is_null(f))
        return MW_NULL;
    for (size_t i = 0; i < m->nvals; i++)
        if (scalar_value(m->op, f, &m->vals[i]))
            return MW_TRUE;
    return MW_FALSE;
}

static enum mw_tv eval_leaf(const struct mw_matcher *m, const struct mw_event *ev)
{
    const json_t *f = mw_path_get(mw_event_root(ev), m->path);

    if (m->op == MW_OP_EXISTS) {
        if (mw_value_is_null(f) || (json_is_array(f) && json_array_size(f) == 0))
            return MW_FALSE;
        return MW_TRUE;
    }
    if (mw_value_is_null(f))
        return MW_NULL;
    if (json_is_array(f)) {
        enum mw_tv acc = MW_NULL;
        size_t i;
        json_t *el;
        json_array_foreach(f, i, el)
        {
            enum mw_tv r = scalar(m, el);
            if (r == MW_TRUE)
                return MW_TRUE;
            if (r == MW_FALSE)
                acc = MW_FALSE;
        }
        return acc;
    }
    return scalar(m, f);
}

enum mw_tv mw_matcher_eval(const struct mw_matcher *m, const struct mw_event *ev,
                           const struct mw_match_ctx *ctx)
{
    enum mw_tv acc;

    switch (m->op) {
    case MW_OP_ALL:
        acc = MW_TRUE;
        for (size_t i = 0; i < m->nkids; i++) {
            enum mw_tv r = mw_matcher_eval(m->kids[i], ev, ctx);
            if (r == MW_FALSE)
                return MW_FALSE;
            if (r == MW_NULL)
                acc = MW_NULL;
        }
        return acc;
    case MW_OP_ANY:
        acc = MW_FALSE;
        for (size_t i = 0; i < m->nkids; i++) {
            enum mw_tv r = mw_matcher_eval(m->kids[i], ev, ctx);
            if (r == MW_TRUE)
                return MW_TRUE;
            if (r == MW_NULL)
                acc = MW_NULL;
        }
        return acc;
    case MW_OP_NOT: {
        enum mw_tv r = mw_matcher_eval(m->kids[0], ev, ctx);
        return r == MW_NULL ? MW_NULL : r == MW_TRUE ? MW_FALSE : MW_TRUE;
    }
    case MW_OP_FN:
        if (ctx == NULL || ctx->call_fn == NULL)
            return MW_NULL;
        return ctx->call_fn(ctx->ud, m->fn_ref, ev);
    default:
        return eval_leaf(m, ev);
    }
}

/* ---------------------------------------------------------------------- */
/* explanation (moonwatch explain; never on the hot path)                  */

static const char *const op_names[] = {
    [MW_OP_EQ] = "eq",
    [MW_OP_IEQ] = "ieq",
    [MW_OP_LIKE] = "like",
    [MW_OP_PREFIX] = "prefix",
    [MW_OP_SUFFIX] = "suffix",
    [MW_OP_CONTAINS] = "contains",
    [MW_OP_LT] = "lt",
    [MW_OP_LE] = "le",
    [MW_OP_GT] = "gt",
    [MW_OP_GE] = "ge",
    [MW_OP_EXISTS] = "exists",
    [MW_OP_CIDR] = "cidr",
    [MW_OP_CATEGORY] = "category",
    [MW_OP_REGEX] = "regex",
    [MW_OP_ALL] = "all",
    [MW_OP_ANY] = "any",
    [MW_OP_NOT] = "not",
    [MW_OP_FN] = "fn",
};

/* Copies text into a display field of why (size bytes), ending it with
 * "..." when it does not fit: the fields are bounded by design, for one
 * line of `explain` output. */
static void show(char *field, size_t size, const char *text, size_t len)
{
    if (len < size) {
        memcpy(field, text, len);
        field[len] = '\0';
        return;
    }
    memcpy(field, text, size - 4);
    memcpy(field + size - 4, "...", 4);
}

static void describe_leaf(const struct mw_matcher *m, const struct mw_event *ev,
                          struct mw_match_why *why)
{
    struct mw_buf b = MW_BUF_INIT;
    why->op = op_names[m->op];
    if (m->path)
        mw_buf_adds(&b, mw_path_str(m->path));
    show(why->field, sizeof(why->field), b.ptr, b.len);
    mw_buf_reset(&b);
    for (size_t i = 0; i < m->nvals && b.len < sizeof(why->expected); i++) {
        const struct value *v = &m->vals[i];
        if (i)
            mw_buf_adds(&b, ", ");
        if (v->type == V_STR || v->type == V_NET)
            mw_buf_addf(&b, "'%s'", v->s);
        else if (v->type == V_NUM)
            mw_buf_adds(&b, v->s);
        else
            mw_buf_adds(&b, v->b ? "true" : "false");
    }
    show(why->expected, sizeof(why->expected), b.ptr, b.len);
    mw_buf_release(&b);
    const json_t *f = m->path ? mw_path_get(mw_event_root(ev), m->path) : NULL;
    if (f == NULL) {
        show(why->actual, sizeof(why->actual), "missing", 7);
    } else {
        char *s = json_dumps(f, JSON_COMPACT | JSON_ENCODE_ANY);
        show(why->actual, sizeof(why->actual), s ? s : "?", s ? strlen(s) : 1);
        mw_json_free(s);
    }
}

static void blame(const struct mw_matcher *m, const struct mw_event *ev,
                  const struct mw_match_ctx *ctx, enum mw_tv want,
                  struct mw_match_why *why)
{
    switch (m->op) {
    case MW_OP_ALL:
    case MW_OP_ANY: {
        /* the first child with the decisive result (all: false, then null;
         * any: the first alternative, when none matched) */
        const struct mw_matcher *pick = NULL;
        enum mw_tv pick_r = MW_TRUE;
        for (size_t i = 0; i < m->nkids && pick == NULL; i++) {
            enum mw_tv r = mw_matcher_eval(m->kids[i], ev, ctx);
            if (r == want) {
                pick = m->kids[i];
                pick_r = r;
            }
        }
        if (pick == NULL && want == MW_FALSE && m->op == MW_OP_ALL) {
            for (size_t i = 0; i < m->nkids && pick == NULL; i++)
                if (mw_matcher_eval(m->kids[i], ev, ctx) == MW_NULL) {
                    pick = m->kids[i];
                    pick_r = MW_NULL;
                }
        }
        if (m->op == MW_OP_ANY && want != MW_TRUE) {
            why->alternatives = (int)m->nkids;
            pick = m->kids[0];
            pick_r = mw_matcher_eval(pick, ev, ctx);
        }
        if (pick)
            blame(pick, ev, ctx, pick_r, why);
        return;
    }
    case MW_OP_NOT:
        why->negated = !why->negated;
        blame(m->kids[0], ev, ctx,
              want == MW_TRUE    ? MW_FALSE
              : want == MW_FALSE ? MW_TRUE
                                 : MW_NULL,
              why);
        return;
    case MW_OP_FN:
        why->op = "fn";
        why->field[0] = '\0';
        show(why->expected, sizeof(why->expected), "a true result", 13);
        snprintf(why->actual, sizeof(why->actual), "%s",
                 want == MW_TRUE    ? "true"
                 : want == MW_FALSE ? "false"
                                    : "error (see log)");
        return;
    default:
        describe_leaf(m, ev, why);
        return;
    }
}

enum mw_tv mw_matcher_explain(const struct mw_matcher *m, const struct mw_event *ev,
                              const struct mw_match_ctx *ctx, struct mw_match_why *why)
{
    memset(why, 0, sizeof(*why));
    why->op = "";
    why->result = mw_matcher_eval(m, ev, ctx);
    if (why->result != MW_TRUE)
        blame(m, ev, ctx, why->result == MW_NULL ? MW_NULL : MW_FALSE, why);
    return why->result;
}

/* ---------------------------------------------------------------------- */
/* optimisation                                                            */

bool mw_matcher_has_fn(const struct mw_matcher *m)
{
    if (m->op == MW_OP_FN)
        return true;
    for (size_t i = 0; i < m->nkids; i++)
        if (mw_matcher_has_fn(m->kids[i]))
            return true;
    return false;
}

void mw_matcher_optimize(struct mw_matcher *m)
{
    /* all/any are commutative in three-valued logic, and predicates have no
     * side effects the host promises to run: evaluate the C-only children
     * first (stable), so Lua is entered only when they are not decisive. */
    struct mw_matcher **tmp;
    size_t k = 0;

    for (size_t i = 0; i < m->nkids; i++)
        mw_matcher_optimize(m->kids[i]);
    if ((m->op != MW_OP_ALL && m->op != MW_OP_ANY) || m->nkids < 2)
        return;
    tmp = xmalloc(m->nkids * sizeof(*tmp));
    for (size_t i = 0; i < m->nkids; i++)
        if (!mw_matcher_has_fn(m->kids[i]))
            tmp[k++] = m->kids[i];
    for (size_t i = 0; i < m->nkids; i++)
        if (mw_matcher_has_fn(m->kids[i]))
            tmp[k++] = m->kids[i];
    memcpy(m->kids, tmp, m->nkids * sizeof(*tmp));
    free(tmp);
}

/* ---------------------------------------------------------------------- */
/* literals for the prefilter                                              */

static void set_add(struct mw_litset *s, const char *p, size_t len, bool ci)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->lits[i].len == len && s->lits[i].ci == ci &&
            memcmp(s->lits[i].s, p, len) == 0)
            return;
    s->lits = xrealloc(s->lits, (s->n + 1) * sizeof(*s->lits));
    s->lits[s->n].s = p;
    s->lits[s->n].len = len;
    s->lits[s->n].ci = ci;
    s->n++;
}

static void cnf_push(struct mw_litcnf *c, struct mw_litset s)
{
    c->sets = xrealloc(c->sets, (c->n + 1) * sizeof(*c->sets));
    c->sets[c->n++] = s;
}

void mw_litcnf_free(struct mw_litcnf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->sets[i].lits);
    free(c->sets);
    c->sets = NULL;
    c->n = 0;
}

bool mw_lit_escapable(const struct mw_lit *l)
{
    for (size_t i = 0; i < l->len; i++) {
        unsigned char ch = (unsigned char)l->s[i];
        if (ch < 0x20 || ch == '"' || ch == '\\' || ch == '/')
            return true;
    }
    return false;
}

double mw_litset_score(const struct mw_litset *s)
{
    double score = 0;
    size_t minlen = (size_t)-1;
    bool esc = false, ci = false;
    for (size_t i = 0; i < s->n; i++) {
        esc |= mw_lit_escapable(&s->lits[i]);
        ci |= s->lits[i].ci;
        if (s->lits[i].len < minlen)
            minlen = s->lits[i].len;
    }
    if (!esc)
        score += 1000;
    if (!ci)
        score += 100;
    score -= 4.0 * (double)s->n;
    score += (double)(minlen > 24 ? 24 : minlen);
    return score;
}

/* Can a wildcard pattern match the text of a JSON number (digits, sign,
 * point, exponent)? Then a raw-text literal would be unsound: 1e2 is 100. */
static bool numeric_pattern(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '*' || c == '?')
            continue;
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' ||
              c == 'E'))
            return false;
    }
    return true;
}

/* The leaf's clause; false when it has none. */
static bool leaf_literals(const struct mw_matcher *m, struct mw_litset *out)
{
    switch (m->op) {
    case MW_OP_EQ:
    case MW_OP_CATEGORY:
    case MW_OP_PREFIX:
    case MW_OP_SUFFIX:
    case MW_OP_CONTAINS:
    case MW_OP_IEQ:
    case MW_OP_LIKE:
        break;
    default:
        return false;
    }
    for (size_t i = 0; i < m->nvals; i++) {
        const struct value *v = &m->vals[i];
        const char *best = v->s;
        size_t blen = v->len;
        if (v->type != V_STR)
            goto none;
        if (m->op == MW_OP_IEQ || m->op == MW_OP_LIKE) {
            if (numeric_pattern(v->s, v->len))
                goto none;
            if (v->wild) {
                /* the longest run of plain bytes between wildcards */
                size_t start = 0;
                blen = 0;
                for (size_t k = 0; k <= v->len; k++) {
                    if (k == v->len || v->s[k] == '*' || v->s[k] == '?') {
                        if (k - start > blen) {
                            best = v->s + start;
                            blen = k - start;
                        }
                        start = k + 1;
                    }
                }
            }
        }
        if (blen == 0)
            goto none;
        set_add(out, best, blen, v->ci);
    }
    return out->n > 0;
none:
    free(out->lits);
    out->lits = NULL;
    out->n = 0;
    return false;
}

void mw_matcher_literals(const struct mw_matcher *m, struct mw_litcnf *out)
{
    switch (m->op) {
    case MW_OP_ALL:
        for (size_t i = 0; i < m->nkids; i++)
            mw_matcher_literals(m->kids[i], out);
        return;
    case MW_OP_ANY: {
        struct mw_litset u = {0};
        for (size_t i = 0; i < m->nkids; i++) {
            struct mw_litcnf kc = {0};
            size_t best = 0;
            mw_matcher_literals(m->kids[i], &kc);
            if (kc.n == 0) {
                free(u.lits);
                return; /* this branch needs no literal: neither does any */
            }
            for (size_t k = 1; k < kc.n; k++)
                if (mw_litset_score(&kc.sets[k]) > mw_litset_score(&kc.sets[best]))
                    best = k;
            for (size_t k = 0; k < kc.sets[best].n; k++)
                set_add(&u, kc.sets[best].lits[k].s, kc.sets[best].lits[k].len,
                        kc.sets[best].lits[k].ci);
            mw_litcnf_free(&kc);
        }
        cnf_push(out, u);
        return;
    }
    case MW_OP_NOT:
    case MW_OP_FN:
        return;
    default: {
        struct mw_litset s = {0};
        if (leaf_literals(m, &s))
            cnf_push(out, s);
        return;
    }
    }
}
