/* eql_parse.c - the EQL parser: tokens to a syntax tree, and its errors
 *
 * Recursive descent over the grammar of Elasticsearch's EqlBase.g4, one
 * function per precedence level, lowest first:
 *
 *   or        a or b or c          n-ary node
 *   and       a and b              n-ary node
 *   not       not x                prefix, binds tighter than and/or
 *   compare   x == y  (!= < <= > >=; one per level: they do not chain)
 *   additive  x + y, x - y         left-associative
 *   multiply  x * y, x / y, x % y  left-associative
 *   unary     -x, +x               prefix; -<number> is folded into the literal
 *   postfix   primary [not] in[~] (e, ...), primary : / like[~] / regex[~]
 *             constant or (constant, ...): as in Elasticsearch the predicate
 *             belongs to the primary before it (`a + b in (1)` is
 *             `a + (b in (1))`)
 *   primary   literal, ?field.path, `quoted`.name, field[0], fn(args), fn~(args),
 *             ( expr )
 *
 * Queries: `cat where e`, `sequence [by k, ...] [with maxspan=N unit]
 * ([..] | ![..]) [by k, ...] [with runs=N] ... [until [..] [by ...]]`,
 * `sample [by k, ...] [..] [by ...] ...`, then `| head N` / `| tail N`.
 * Checks Elasticsearch makes at parse time are made here too: at least two
 * steps (runs counted) and two filters, the same number of keys on every
 * step and until, runs in 1..100, known functions with their arity, known
 * pipes with an integer.
 *
 * Depth: the recursion counter and each node's depth are both bounded by
 * MW_EQL_MAX_DEPTH; left-associative chains (a + b + c ...) do not recurse
 * but build deep trees, hence the second bound. The first error wins
 * (mw_eql_fail_at keeps it) and every parse function returns NULL or -1
 * after it, so there is no recovery to get wrong.
 */
#include "frontend/eql/eql_int.h"
#include "mw_mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct parser {
    const char *text;
    size_t len;
    const struct eql_token *toks; /* borrowed from mw_eql_parse */
    size_t ntoks;
    size_t pos;
    struct mw_eql_arena *arena;
    struct eql_fail *fail;
    unsigned depth; /* current recursion */
};

/* ---------------------------------------------------------------------- */
/* tokens                                                                  */

static const struct eql_token *cur(const struct parser *p)
{
    return &p->toks[p->pos];
}

static enum eql_tok peek_type(const struct parser *p, size_t ahead)
{
    size_t i = p->pos + ahead;
    return i < p->ntoks ? p->toks[i].type : T_EOF;
}

static const struct eql_token *advance(struct parser *p)
{
    const struct eql_token *t = &p->toks[p->pos];
    if (t->type != T_EOF)
        p->pos++;
    return t;
}

static bool accept(struct parser *p, enum eql_tok t)
{
    if (cur(p)->type != t)
        return false;
    advance(p);
    return true;
}

/* "found 'by'", "found end of query", "found \"abc\"" */
static void describe(const struct eql_token *t, struct mw_buf *b)
{
    switch (t->type) {
    case T_IDENT:
    case T_INT:
    case T_FLOAT:
        mw_buf_addf(b, "'%.*s'", (int)(t->tlen > 40 ? 40 : t->tlen), t->text);
        break;
    case T_TILDE_IDENT:
        mw_buf_addf(b, "'%.*s~'", (int)(t->tlen > 40 ? 40 : t->tlen), t->text);
        break;
    case T_QIDENT:
        mw_buf_addf(b, "`%.*s`", (int)(t->tlen > 40 ? 40 : t->tlen), t->text);
        break;
    default:
        mw_buf_adds(b, mw_eql_tok_name(t->type));
        break;
    }
}

/* Fails at the current token with "<what>, found <token>". */
static void fail_found(struct parser *p, const char *what)
{
    struct mw_buf b = MW_BUF_INIT;
    describe(cur(p), &b);
    mw_eql_fail_at(p->fail, cur(p)->off, "%s, found %s", what, b.ptr);
    mw_buf_release(&b);
}

static int expect(struct parser *p, enum eql_tok t, const char *what)
{
    if (accept(p, t))
        return 0;
    fail_found(p, what);
    return -1;
}

static bool too_deep(struct parser *p, size_t off)
{
    if (p->depth < MW_EQL_MAX_DEPTH)
        return false;
    mw_eql_fail_at(p->fail, off, "query nested too deeply (the limit is %d levels)",
                   MW_EQL_MAX_DEPTH);
    return true;
}

static bool is_cmp(enum eql_tok t)
{
    return t == T_EQ || t == T_NE || t == T_LT || t == T_LE || t == T_GT || t == T_GE;
}

static bool is_pattern(enum eql_tok t)
{
    return t == T_COLON || t == T_LIKE || t == T_LIKE_CI || t == T_REGEX ||
           t == T_REGEX_CI;
}

/* A keyword used where a name is expected (`a.in`, a category `sample`) */
static bool is_keyword(enum eql_tok t)
{
    return t >= T_AND;
}

/* Parses a decimal integer of n digits; -1 when it does not fit int64_t. */
static int parse_int64(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = s[i] - '0';
        if (d < 0 || d > 9)
            return -1;
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* nodes                                                                   */

static struct mw_eql_node *node_new(struct parser *p, enum mw_eql_kind kind,
                                    const struct eql_token *at)
{
    struct mw_eql_node *n = mw_eql_arena_alloc(p->arena, sizeof(*n));
    n->kind = kind;
    n->depth = 1;
    n->at.off = at->off;
    n->at.len = at->len;
    n->at.line = at->line;
    n->at.col = at->col;
    return n;
}

/* Sets n's operands and its span (to the end of the last token consumed);
 * fails when the tree gets too deep. */
static struct mw_eql_node *node_done(struct parser *p, struct mw_eql_node *n,
                                     const struct mw_eql_vec *kids)
{
    if (kids != NULL) {
        n->kids = (struct mw_eql_node *const *)kids->items;
        n->nkids = kids->n;
        for (size_t i = 0; i < kids->n; i++) {
            const struct mw_eql_node *k = kids->items[i];
            if (k->depth + 1 > n->depth)
                n->depth = k->depth + 1;
        }
    }
    if (p->pos > 0) {
        const struct eql_token *last = &p->toks[p->pos - 1];
        if (last->off + last->len > n->at.off)
            n->at.len = last->off + last->len - n->at.off;
    }
    if (n->depth > MW_EQL_MAX_DEPTH) {
        mw_eql_fail_at(p->fail, n->at.off,
                       "expression nested too deeply (the limit is %d)",
                       MW_EQL_MAX_DEPTH);
        return NULL;
    }
    return n;
}

/* A node that starts where the operand at starts */
static struct mw_eql_node *node_at(struct parser *p, enum mw_eql_kind kind,
                                   const struct mw_eql_node *first)
{
    struct mw_eql_node *n = mw_eql_arena_alloc(p->arena, sizeof(*n));
    n->kind = kind;
    n->depth = 1;
    n->at = first->at;
    return n;
}

static struct mw_eql_node *node2(struct parser *p, enum mw_eql_kind kind, int op,
                                 struct mw_eql_node *l, struct mw_eql_node *r)
{
    struct mw_eql_vec v = {0};
    struct mw_eql_node *n = node_at(p, kind, l);
    n->op = op;
    mw_eql_vec_push(p->arena, &v, l);
    if (r != NULL)
        mw_eql_vec_push(p->arena, &v, r);
    return node_done(p, n, &v);
}

/* ---------------------------------------------------------------------- */
/* functions                                                               */

static const struct {
    enum mw_eql_fn fn;
    unsigned min, max; /* arity; max 0: unbounded */
    bool ci;           /* has a ~ variant */
} fn_info[] = {
    {MW_EQL_FN_ADD, 2, 2, false},       {MW_EQL_FN_BETWEEN, 3, 4, true},
    {MW_EQL_FN_CIDRMATCH, 2, 0, false}, {MW_EQL_FN_CONCAT, 1, 0, false},
    {MW_EQL_FN_DIVIDE, 2, 2, false},    {MW_EQL_FN_ENDSWITH, 2, 2, true},
    {MW_EQL_FN_INDEXOF, 2, 3, true},    {MW_EQL_FN_LENGTH, 1, 1, false},
    {MW_EQL_FN_MODULO, 2, 2, false},    {MW_EQL_FN_MULTIPLY, 2, 2, false},
    {MW_EQL_FN_NUMBER, 1, 2, false},    {MW_EQL_FN_STARTSWITH, 2, 2, true},
    {MW_EQL_FN_STRING, 1, 1, false},    {MW_EQL_FN_STRINGCONTAINS, 2, 2, true},
    {MW_EQL_FN_SUBSTRING, 2, 3, false}, {MW_EQL_FN_SUBTRACT, 2, 2, false},
};

static struct mw_eql_node *parse_expr(struct parser *p);

static struct mw_eql_node *parse_call(struct parser *p)
{
    const struct eql_token *name = advance(p);
    bool ci = name->type == T_TILDE_IDENT;
    size_t k;
    for (k = 0; k < sizeof(fn_info) / sizeof(fn_info[0]); k++) {
        const char *canon = mw_eql_fn_name(fn_info[k].fn);
        if (strlen(canon) == name->tlen &&
            strncasecmp(canon, name->text, name->tlen) == 0)
            break;
    }
    if (k == sizeof(fn_info) / sizeof(fn_info[0])) {
        mw_eql_fail_at(p->fail, name->off, "unknown function '%.40s'", name->text);
        return NULL;
    }
    const char *canon = mw_eql_fn_name(fn_info[k].fn);
    if (ci && !fn_info[k].ci) {
        mw_eql_fail_at(p->fail, name->off,
                       "function '%s' has no case-insensitive variant '%s~'", canon,
                       canon);
        return NULL;
    }
    struct mw_eql_node *n = node_new(p, MW_EQL_CALL, name);
    n->op = (int)fn_info[k].fn;
    n->ci = ci;
    n->str = canon;
    n->len = strlen(canon);
    struct mw_eql_vec args = {0};
    advance(p); /* ( */
    if (!accept(p, T_RP)) {
        do {
            struct mw_eql_node *a = parse_expr(p);
            if (a == NULL)
                return NULL;
            mw_eql_vec_push(p->arena, &args, a);
        } while (accept(p, T_COMMA));
        if (expect(p, T_RP, "expected ',' or ')' in the arguments of a function call") <
            0)
            return NULL;
    }
    unsigned min = fn_info[k].min, max = fn_info[k].max;
    if (args.n < min || (max > 0 && args.n > max)) {
        if (min == max)
            mw_eql_fail_at(p->fail, name->off, "%s%s() takes %u argument%s, found %zu",
                           canon, ci ? "~" : "", min, min == 1 ? "" : "s", args.n);
        else if (max == 0)
            mw_eql_fail_at(p->fail, name->off,
                           "%s%s() takes at least %u arguments, found %zu", canon,
                           ci ? "~" : "", min, args.n);
        else
            mw_eql_fail_at(p->fail, name->off,
                           "%s%s() takes %u to %u arguments, found %zu", canon,
                           ci ? "~" : "", min, max, args.n);
        return NULL;
    }
    return node_done(p, n, &args);
}

/* ---------------------------------------------------------------------- */
/* primaries                                                               */

static char *segment_name(const struct eql_token *t)
{
    /* keywords too (`event.any`), but not in~ and its kind */
    if (t->type == T_IDENT || t->type == T_QIDENT ||
        (is_keyword(t->type) && t->text != NULL && t->tlen == t->len))
        return t->text;
    return NULL;
}

static struct mw_eql_node *parse_field(struct parser *p)
{
    const struct eql_token *start = cur(p);
    bool optional = accept(p, T_QUESTION);
    const struct eql_token *first = cur(p);
    if (first->type != T_IDENT && first->type != T_QIDENT) {
        if (optional && is_keyword(first->type))
            fail_found(p,
                       "expected a field name after '?' (write a field that is a keyword "
                       "in backquotes: ?`any`)");
        else
            fail_found(p, "expected a field name after '?'");
        return NULL;
    }
    if (first->type == T_IDENT && peek_type(p, 1) == T_LP) {
        mw_eql_fail_at(p->fail, start->off, "a function call cannot be optional ('?')");
        return NULL;
    }
    struct mw_eql_node *n = node_new(p, MW_EQL_FIELD, start);
    n->optional = optional;
    struct mw_eql_vec segs = {0};
    struct mw_buf path = MW_BUF_INIT;
    advance(p);
    mw_eql_vec_push(p->arena, &segs, first->text);
    mw_buf_add(&path, first->text, first->tlen);
    for (;;) {
        const struct eql_token *t = cur(p);
        char *seg = NULL;
        size_t seglen = 0;
        if (t->type == T_DOT) {
            advance(p);
            const struct eql_token *s = cur(p);
            seg = segment_name(s);
            if (seg == NULL) {
                fail_found(p, "expected a field name after '.'");
                mw_buf_release(&path);
                return NULL;
            }
            seglen = s->tlen;
            advance(p);
        } else if (t->type == T_FLOAT && t->tlen > 1 && t->text[0] == '.' &&
                   strspn(t->text + 1, "0123456789") == t->tlen - 1) {
            /* `args.0` lexes as args, .0 */
            seg = t->text + 1;
            seglen = t->tlen - 1;
            advance(p);
        } else if (t->type == T_LB && peek_type(p, 1) == T_INT &&
                   peek_type(p, 2) == T_RB) {
            advance(p);
            seg = cur(p)->text;
            seglen = cur(p)->tlen;
            advance(p);
            advance(p);
        } else {
            break;
        }
        mw_eql_vec_push(p->arena, &segs, seg);
        mw_buf_addc(&path, '.');
        mw_buf_add(&path, seg, seglen);
    }
    n->segs = (const char *const *)segs.items;
    n->nsegs = segs.n;
    n->str = mw_eql_arena_strndup(p->arena, path.ptr, path.len);
    n->len = path.len;
    mw_buf_release(&path);
    return node_done(p, n, NULL);
}

static struct mw_eql_node *parse_literal(struct parser *p)
{
    const struct eql_token *t = advance(p);
    struct mw_eql_node *n;
    switch (t->type) {
    case T_NULL:
        n = node_new(p, MW_EQL_NULL, t);
        break;
    case T_TRUE:
    case T_FALSE:
        n = node_new(p, MW_EQL_BOOL, t);
        n->boolean = t->type == T_TRUE;
        break;
    case T_INT:
        n = node_new(p, MW_EQL_INT, t);
        if (parse_int64(t->text, t->tlen, &n->i) < 0) {
            n->kind = MW_EQL_FLOAT; /* as Elasticsearch: too large for a long */
            n->f = strtod(t->text, NULL);
        }
        break;
    case T_FLOAT:
        n = node_new(p, MW_EQL_FLOAT, t);
        n->f = strtod(t->text, NULL);
        break;
    default: /* T_STRING */
        n = node_new(p, MW_EQL_STRING, t);
        n->str = t->text;
        n->len = t->tlen;
        break;
    }
    return node_done(p, n, NULL);
}

static bool is_literal(enum eql_tok t)
{
    return t == T_NULL || t == T_TRUE || t == T_FALSE || t == T_INT || t == T_FLOAT ||
           t == T_STRING;
}

static struct mw_eql_node *parse_primary(struct parser *p)
{
    const struct eql_token *t = cur(p);
    if (is_literal(t->type))
        return parse_literal(p);
    switch (t->type) {
    case T_LP: {
        advance(p);
        struct mw_eql_node *e = parse_expr(p);
        if (e == NULL)
            return NULL;
        if (!accept(p, T_RP)) {
            struct mw_buf b = MW_BUF_INIT;
            mw_buf_addf(&b, "expected ')' to close the '(' at %u:%u", t->line, t->col);
            fail_found(p, b.ptr);
            mw_buf_release(&b);
            return NULL;
        }
        return e;
    }
    case T_IDENT:
        if (peek_type(p, 1) == T_LP)
            return parse_call(p);
        return parse_field(p);
    case T_TILDE_IDENT:
        if (peek_type(p, 1) != T_LP) {
            mw_eql_fail_at(p->fail, t->off,
                           "expected '(' after '%.40s~' (a function call)", t->text);
            return NULL;
        }
        return parse_call(p);
    case T_QIDENT:
    case T_QUESTION:
        return parse_field(p);
    case T_IN:
    case T_IN_CI:
    case T_LIKE:
    case T_LIKE_CI:
    case T_REGEX:
    case T_REGEX_CI:
    case T_COLON:
        fail_found(p, "expected a field or a value before the operator");
        return NULL;
    default:
        if (is_keyword(t->type) && t->type != T_NOT) {
            struct mw_buf b = MW_BUF_INIT;
            mw_buf_addf(&b,
                        "expected a value, found the keyword '%s' (write a field of that "
                        "name in backquotes: `%s`)",
                        t->text, t->text);
            mw_eql_fail_at(p->fail, t->off, "%s", b.ptr);
            mw_buf_release(&b);
        } else {
            fail_found(p,
                       "expected a value (a field, a literal, a function call or '(')");
        }
        return NULL;
    }
}

/* `x [not] in[~] (e, ...)` or `x <pattern op> c` / `(c, ...)` after a primary */
static struct mw_eql_node *parse_postfix(struct parser *p)
{
    struct mw_eql_node *e = parse_primary(p);
    if (e == NULL)
        return NULL;
    enum eql_tok t = cur(p)->type;
    bool negated = false;
    if (t == T_NOT && (peek_type(p, 1) == T_IN || peek_type(p, 1) == T_IN_CI)) {
        negated = true;
        advance(p);
        t = cur(p)->type;
    } else if (t == T_NOT && is_pattern(peek_type(p, 1))) {
        mw_eql_fail_at(p->fail, cur(p)->off,
                       "'not' goes before the whole condition here: write 'not x %s ...'",
                       mw_eql_tok_name(peek_type(p, 1)));
        return NULL;
    }
    if (t == T_IN || t == T_IN_CI) {
        struct mw_eql_node *n = node_at(p, MW_EQL_IN, e);
        n->ci = t == T_IN_CI;
        n->negated = negated;
        struct mw_eql_vec v = {0};
        mw_eql_vec_push(p->arena, &v, e);
        advance(p);
        if (expect(p, T_LP, "expected '(' and a list of values after 'in'") < 0)
            return NULL;
        do {
            struct mw_eql_node *x = parse_expr(p);
            if (x == NULL)
                return NULL;
            mw_eql_vec_push(p->arena, &v, x);
        } while (accept(p, T_COMMA));
        if (expect(p, T_RP, "expected ',' or ')' in the list of 'in'") < 0)
            return NULL;
        return node_done(p, n, &v);
    }
    if (is_pattern(t)) {
        const struct eql_token *op = advance(p);
        struct mw_eql_node *n = node_at(p, MW_EQL_PATTERN, e);
        n->op = op->type == T_COLON                           ? MW_EQL_SEQ
                : op->type == T_LIKE || op->type == T_LIKE_CI ? MW_EQL_LIKE
                                                              : MW_EQL_REGEX;
        n->ci = op->type == T_COLON || op->type == T_LIKE_CI || op->type == T_REGEX_CI;
        struct mw_eql_vec v = {0};
        mw_eql_vec_push(p->arena, &v, e);
        bool list = accept(p, T_LP);
        do {
            if (!is_literal(cur(p)->type)) {
                struct mw_buf b = MW_BUF_INIT;
                mw_buf_addf(&b, "expected a constant%s after %s", list ? "" : " or '('",
                            mw_eql_tok_name(op->type));
                fail_found(p, b.ptr);
                mw_buf_release(&b);
                return NULL;
            }
            mw_eql_vec_push(p->arena, &v, parse_literal(p));
        } while (list && accept(p, T_COMMA));
        if (list && expect(p, T_RP, "expected ',' or ')' in the list of patterns") < 0)
            return NULL;
        return node_done(p, n, &v);
    }
    return e;
}

/* ---------------------------------------------------------------------- */
/* operators                                                               */

static struct mw_eql_node *parse_unary(struct parser *p)
{
    const struct eql_token *t = cur(p);
    if (t->type != T_MINUS && t->type != T_PLUS)
        return parse_postfix(p);
    if (too_deep(p, t->off))
        return NULL;
    advance(p);
    p->depth++;
    struct mw_eql_node *k = parse_unary(p);
    p->depth--;
    if (k == NULL || t->type == T_PLUS)
        return k;
    if (k->kind == MW_EQL_INT && k->i != INT64_MIN) {
        k->i = -k->i;
    } else if (k->kind == MW_EQL_FLOAT) {
        k->f = -k->f;
    } else {
        struct mw_eql_node *n = node_new(p, MW_EQL_NEG, t);
        struct mw_eql_vec v = {0};
        mw_eql_vec_push(p->arena, &v, k);
        return node_done(p, n, &v);
    }
    /* the literal now starts at the '-' */
    k->at.len += k->at.off - t->off;
    k->at.off = t->off;
    k->at.line = t->line;
    k->at.col = t->col;
    return k;
}

static struct mw_eql_node *parse_mul(struct parser *p)
{
    struct mw_eql_node *l = parse_unary(p);
    while (l != NULL) {
        enum eql_tok t = cur(p)->type;
        int op;
        if (t == T_STAR)
            op = MW_EQL_MUL;
        else if (t == T_SLASH)
            op = MW_EQL_DIV;
        else if (t == T_PERCENT)
            op = MW_EQL_MOD;
        else
            break;
        advance(p);
        struct mw_eql_node *r = parse_unary(p);
        if (r == NULL)
            return NULL;
        l = node2(p, MW_EQL_ARITH, op, l, r);
    }
    return l;
}

static struct mw_eql_node *parse_add(struct parser *p)
{
    struct mw_eql_node *l = parse_mul(p);
    while (l != NULL) {
        enum eql_tok t = cur(p)->type;
        if (t != T_PLUS && t != T_MINUS)
            break;
        advance(p);
        struct mw_eql_node *r = parse_mul(p);
        if (r == NULL)
            return NULL;
        l = node2(p, MW_EQL_ARITH, t == T_PLUS ? MW_EQL_ADD : MW_EQL_SUB, l, r);
    }
    return l;
}

static struct mw_eql_node *parse_cmp(struct parser *p)
{
    struct mw_eql_node *l = parse_add(p);
    if (l == NULL)
        return NULL;
    enum eql_tok t = cur(p)->type;
    if (t == T_ASGN) {
        mw_eql_fail_at(p->fail, cur(p)->off,
                       "'=' is not a comparison: write '==' (or ':' to compare strings "
                       "case-insensitively)");
        return NULL;
    }
    if (!is_cmp(t))
        return l;
    advance(p);
    struct mw_eql_node *r = parse_add(p);
    if (r == NULL)
        return NULL;
    static const int ops[] = {
        [T_EQ] = MW_EQL_EQ, [T_NE] = MW_EQL_NE, [T_LT] = MW_EQL_LT,
        [T_LE] = MW_EQL_LE, [T_GT] = MW_EQL_GT, [T_GE] = MW_EQL_GE,
    };
    struct mw_eql_node *n = node2(p, MW_EQL_CMP, ops[t], l, r);
    if (n != NULL && (is_cmp(cur(p)->type) || cur(p)->type == T_ASGN)) {
        mw_eql_fail_at(p->fail, cur(p)->off,
                       "comparisons do not chain: write 'a < b and b < c', or use "
                       "parentheses");
        return NULL;
    }
    return n;
}

static struct mw_eql_node *parse_not(struct parser *p)
{
    const struct eql_token *t = cur(p);
    if (t->type == T_IDENT && peek_type(p, 1) == T_OF) {
        mw_eql_fail_at(p->fail, t->off,
                       "process relationships ('%.40s of [...]') are Endgame EQL, not "
                       "supported by Elasticsearch",
                       t->text);
        return NULL;
    }
    if (t->type != T_NOT)
        return parse_cmp(p);
    if (too_deep(p, t->off))
        return NULL;
    advance(p);
    p->depth++;
    struct mw_eql_node *k = parse_not(p);
    p->depth--;
    if (k == NULL)
        return NULL;
    struct mw_eql_node *n = node_new(p, MW_EQL_NOT, t);
    struct mw_eql_vec v = {0};
    mw_eql_vec_push(p->arena, &v, k);
    return node_done(p, n, &v);
}

/* and/or: n-ary, one node per run of the same operator */
static struct mw_eql_node *parse_nary(struct parser *p, enum eql_tok tok,
                                      enum mw_eql_kind kind,
                                      struct mw_eql_node *(*sub)(struct parser *))
{
    struct mw_eql_node *first = sub(p);
    if (first == NULL || cur(p)->type != tok)
        return first;
    struct mw_eql_vec v = {0};
    mw_eql_vec_push(p->arena, &v, first);
    while (accept(p, tok)) {
        struct mw_eql_node *k = sub(p);
        if (k == NULL)
            return NULL;
        mw_eql_vec_push(p->arena, &v, k);
    }
    return node_done(p, node_at(p, kind, first), &v);
}

static struct mw_eql_node *parse_and(struct parser *p)
{
    return parse_nary(p, T_AND, MW_EQL_AND, parse_not);
}

static struct mw_eql_node *parse_expr(struct parser *p)
{
    if (too_deep(p, cur(p)->off))
        return NULL;
    p->depth++;
    struct mw_eql_node *e = parse_nary(p, T_OR, MW_EQL_OR, parse_and);
    p->depth--;
    return e;
}

/* ---------------------------------------------------------------------- */
/* queries                                                                 */

static void span_from(const struct eql_token *t, struct mw_eql_span *s)
{
    s->off = t->off;
    s->len = t->len;
    s->line = t->line;
    s->col = t->col;
}

static void span_end(const struct parser *p, struct mw_eql_span *s)
{
    if (p->pos > 0) {
        const struct eql_token *last = &p->toks[p->pos - 1];
        if (last->off + last->len > s->off)
            s->len = last->off + last->len - s->off;
    }
}

/* `by e, e, ...` (the 'by' already consumed) */
static int parse_keys(struct parser *p, struct mw_eql_node *const **out, size_t *n)
{
    struct mw_eql_vec v = {0};
    do {
        struct mw_eql_node *k = parse_expr(p);
        if (k == NULL)
            return -1;
        mw_eql_vec_push(p->arena, &v, k);
    } while (accept(p, T_COMMA));
    *out = (struct mw_eql_node *const *)v.items;
    *n = v.n;
    return 0;
}

/* `category where condition` */
static int parse_filter(struct parser *p, struct mw_eql_step *s)
{
    const struct eql_token *t = cur(p);
    if (t->type == T_ANY) {
        s->any = true;
    } else if (t->type == T_IDENT || t->type == T_QIDENT || t->type == T_STRING) {
        s->category = t->text;
    } else {
        fail_found(p, "expected an event category (a name, a \"string\" or 'any')");
        return -1;
    }
    advance(p);
    if (expect(p, T_WHERE, "expected 'where' after the event category") < 0)
        return -1;
    s->where = parse_expr(p);
    return s->where == NULL ? -1 : 0;
}

enum step_ctx {
    IN_SEQUENCE,
    IN_UNTIL,
    IN_SAMPLE,
};

/* `[filter] [by keys] [with runs=N]`, or `![...]` in a sequence */
static int parse_step(struct parser *p, struct mw_eql_step *s, enum step_ctx ctx)
{
    const struct eql_token *open = advance(p);
    span_from(open, &s->at);
    s->runs = 1;
    s->missing = open->type == T_MISSING_LB;
    if (s->missing && ctx != IN_SEQUENCE) {
        mw_eql_fail_at(p->fail, open->off, "%s",
                       ctx == IN_UNTIL ? "'until' cannot be a missing event ('![')"
                                       : "missing events ('![') are only allowed in "
                                         "sequences");
        return -1;
    }
    if (parse_filter(p, s) < 0)
        return -1;
    if (expect(p, T_RB, "expected ']' after the step's condition") < 0)
        return -1;
    if (accept(p, T_BY) && parse_keys(p, &s->by, &s->nby) < 0)
        return -1;
    if (cur(p)->type == T_WITH) {
        const struct eql_token *w = advance(p);
        const struct eql_token *key = cur(p);
        if (ctx == IN_SAMPLE) {
            mw_eql_fail_at(p->fail, w->off, "a sample's filters take no 'with'");
            return -1;
        }
        if (ctx == IN_UNTIL) {
            mw_eql_fail_at(p->fail, w->off, "'until' cannot take 'with runs'");
            return -1;
        }
        if (key->type != T_IDENT || strcmp(key->text, "runs") != 0) {
            if (key->type == T_IDENT && strcmp(key->text, "maxspan") == 0)
                mw_eql_fail_at(
                    p->fail, key->off,
                    "'with maxspan' goes after 'sequence [by ...]', before the "
                    "first step");
            else
                fail_found(p, "expected 'runs' after a step's 'with'");
            return -1;
        }
        advance(p);
        if (expect(p, T_ASGN, "expected '=' after 'runs'") < 0)
            return -1;
        const struct eql_token *num = cur(p);
        int64_t v = 0;
        if (num->type != T_INT || parse_int64(num->text, num->tlen, &v) < 0 || v < 1 ||
            v > MW_EQL_MAX_RUNS) {
            if (num->type == T_INT || num->type == T_FLOAT || num->type == T_MINUS)
                mw_eql_fail_at(p->fail, num->off, "runs must be an integer from 1 to %d",
                               MW_EQL_MAX_RUNS);
            else
                fail_found(p, "expected a number after 'runs='");
            return -1;
        }
        advance(p);
        s->runs = (unsigned)v;
    }
    span_end(p, &s->at);
    return 0;
}

/* `with maxspan=N unit` */
static int parse_maxspan(struct parser *p, struct mw_eql_query *q)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    advance(p); /* with */
    const struct eql_token *key = cur(p);
    if (key->type != T_IDENT || strcmp(key->text, "maxspan") != 0) {
        if (key->type == T_IDENT && strcmp(key->text, "runs") == 0)
            mw_eql_fail_at(p->fail, key->off,
                           "'with runs' belongs to a step: [...] with runs=N");
        else
            fail_found(p, "expected 'maxspan' after 'with'");
        return -1;
    }
    advance(p);
    if (expect(p, T_ASGN, "expected '=' after 'maxspan'") < 0)
        return -1;
    const struct eql_token *num = cur(p);
    int64_t v;
    if (num->type == T_FLOAT) {
        mw_eql_fail_at(p->fail, num->off,
                       "maxspan takes an integer (write 1500ms, not 1.5s)");
        return -1;
    }
    if (num->type != T_INT) {
        fail_found(p, "expected a time span such as 30m after 'maxspan='");
        return -1;
    }
    if (parse_int64(num->text, num->tlen, &v) < 0) {
        mw_eql_fail_at(p->fail, num->off, "maxspan is too large");
        return -1;
    }
    advance(p);
    const struct eql_token *u = cur(p);
    if (u->type != T_IDENT) {
        mw_eql_fail_at(p->fail, u->off,
                       "maxspan needs a time unit (ms, s, m, h or d), as in %s%s",
                       num->text, "s");
        return -1;
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(u->text, units[i].unit) == 0) {
            if (v > INT64_MAX / units[i].ms) {
                mw_eql_fail_at(p->fail, num->off, "maxspan is too large");
                return -1;
            }
            advance(p);
            q->has_maxspan = true;
            q->maxspan_ms = v * units[i].ms;
            return 0;
        }
    }
    mw_eql_fail_at(p->fail, u->off, "unknown time unit '%.40s' (ms, s, m, h or d)",
                   u->text);
    return -1;
}

static int parse_steps(struct parser *p, struct mw_eql_query *q, enum step_ctx ctx)
{
    size_t cap = 0;
    struct mw_eql_step *steps = NULL;
    while (cur(p)->type == T_LB || cur(p)->type == T_MISSING_LB) {
        if (q->nsteps == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct mw_eql_step *n = mw_eql_arena_alloc(p->arena, ncap * sizeof(*n));
            if (q->nsteps > 0)
                memcpy(n, steps, q->nsteps * sizeof(*n));
            steps = n;
            cap = ncap;
        }
        if (parse_step(p, &steps[q->nsteps], ctx) < 0)
            return -1;
        q->nsteps++;
        q->steps = steps;
    }
    return 0;
}

static int check_keys(struct parser *p, const struct mw_eql_query *q)
{
    const struct mw_eql_step *first = &q->steps[0];
    for (size_t i = 1; i <= q->nsteps; i++) {
        const struct mw_eql_step *s = i < q->nsteps ? &q->steps[i] : q->until;
        if (s == NULL || s->nby == first->nby)
            continue;
        struct mw_buf b = MW_BUF_INIT;
        if (s == q->until)
            mw_buf_adds(&b, "until");
        else
            mw_buf_addf(&b, "step %zu", i + 1);
        mw_eql_fail_at(
            p->fail, s->at.off,
            "inconsistent join keys: step 1 has %zu key%s after 'by', %s has %zu "
            "(every step%s takes the same number)",
            first->nby, first->nby == 1 ? "" : "s", b.ptr, s->nby,
            q->type == MW_EQL_SEQUENCE ? " and until" : "");
        mw_buf_release(&b);
        return -1;
    }
    return 0;
}

static int parse_sequence(struct parser *p, struct mw_eql_query *q)
{
    const struct eql_token *kw = advance(p);
    q->type = MW_EQL_SEQUENCE;
    if (accept(p, T_BY) && parse_keys(p, &q->by, &q->nby) < 0)
        return -1;
    if (cur(p)->type == T_WITH) {
        if (parse_maxspan(p, q) < 0)
            return -1;
        if (cur(p)->type == T_BY) {
            mw_eql_fail_at(p->fail, cur(p)->off,
                           "'by' goes before 'with maxspan': sequence by ... with "
                           "maxspan=...");
            return -1;
        }
    }
    if (cur(p)->type != T_LB && cur(p)->type != T_MISSING_LB) {
        fail_found(p, "expected '[' to open the sequence's first step");
        return -1;
    }
    if (parse_steps(p, q, IN_SEQUENCE) < 0)
        return -1;
    if (cur(p)->type == T_UNTIL) {
        advance(p);
        if (cur(p)->type != T_LB && cur(p)->type != T_MISSING_LB) {
            fail_found(p, "expected '[' after 'until'");
            return -1;
        }
        struct mw_eql_step *u = mw_eql_arena_alloc(p->arena, sizeof(*u));
        if (parse_step(p, u, IN_UNTIL) < 0)
            return -1;
        q->until = u;
    }
    size_t total = 0;
    bool positive = false;
    for (size_t i = 0; i < q->nsteps; i++) {
        total += q->steps[i].runs;
        positive = positive || !q->steps[i].missing;
    }
    if (total < 2) {
        mw_eql_fail_at(p->fail, kw->off, "a sequence needs at least 2 steps, found %zu",
                       total);
        return -1;
    }
    if (!positive) {
        mw_eql_fail_at(p->fail, kw->off,
                       "a sequence needs at least one step that is not a missing event");
        return -1;
    }
    return check_keys(p, q);
}

static int parse_sample(struct parser *p, struct mw_eql_query *q)
{
    const struct eql_token *kw = advance(p);
    q->type = MW_EQL_SAMPLE;
    if (accept(p, T_BY) && parse_keys(p, &q->by, &q->nby) < 0)
        return -1;
    if (cur(p)->type == T_WITH) {
        mw_eql_fail_at(p->fail, cur(p)->off, "a sample takes no 'with' (no maxspan)");
        return -1;
    }
    if (cur(p)->type != T_LB && cur(p)->type != T_MISSING_LB) {
        fail_found(p, "expected '[' to open the sample's first filter");
        return -1;
    }
    if (parse_steps(p, q, IN_SAMPLE) < 0)
        return -1;
    if (q->nsteps < 2) {
        mw_eql_fail_at(p->fail, kw->off, "a sample needs at least 2 filters, found %zu",
                       q->nsteps);
        return -1;
    }
    if (cur(p)->type == T_UNTIL) {
        mw_eql_fail_at(p->fail, cur(p)->off, "a sample takes no 'until'");
        return -1;
    }
    return check_keys(p, q);
}

static int parse_pipes(struct parser *p, struct mw_eql_query *q)
{
    struct mw_eql_vec v = {0};
    while (cur(p)->type == T_PIPE) {
        const struct eql_token *bar = advance(p);
        const struct eql_token *name = cur(p);
        if (q->type == MW_EQL_SAMPLE) {
            mw_eql_fail_at(p->fail, bar->off, "a sample takes no pipes");
            return -1;
        }
        if (name->type != T_IDENT) {
            fail_found(p, "expected a pipe name (head or tail) after '|'");
            return -1;
        }
        bool head = strcmp(name->text, "head") == 0;
        if (!head && strcmp(name->text, "tail") != 0) {
            mw_eql_fail_at(
                p->fail, name->off,
                "unsupported pipe '%.40s' (Elasticsearch EQL has only head and "
                "tail)",
                name->text);
            return -1;
        }
        advance(p);
        const struct eql_token *num = cur(p);
        struct mw_eql_pipe *pipe = mw_eql_arena_alloc(p->arena, sizeof(*pipe));
        pipe->kind = head ? MW_EQL_HEAD : MW_EQL_TAIL;
        span_from(bar, &pipe->at);
        if (num->type != T_INT || parse_int64(num->text, num->tlen, &pipe->n) < 0) {
            if (num->type == T_INT || num->type == T_FLOAT || num->type == T_MINUS)
                mw_eql_fail_at(p->fail, num->off,
                               "'%s' takes a non-negative integer that fits 64 bits",
                               name->text);
            else
                fail_found(p, head ? "expected a number after 'head' (| head 10)"
                                   : "expected a number after 'tail' (| tail 10)");
            return -1;
        }
        advance(p);
        if (cur(p)->type == T_COMMA) {
            mw_eql_fail_at(p->fail, cur(p)->off, "'%s' takes one number", name->text);
            return -1;
        }
        span_end(p, &pipe->at);
        mw_eql_vec_push(p->arena, &v, pipe);
    }
    if (v.n > 0) {
        struct mw_eql_pipe *arr = mw_eql_arena_alloc(p->arena, v.n * sizeof(*arr));
        for (size_t i = 0; i < v.n; i++)
            arr[i] = *(struct mw_eql_pipe *)v.items[i];
        q->pipes = arr;
        q->npipes = v.n;
    }
    return 0;
}

static int parse_statement(struct parser *p, struct mw_eql_query *q)
{
    int rc;
    switch (cur(p)->type) {
    case T_SEQUENCE:
        rc = parse_sequence(p, q);
        break;
    case T_SAMPLE:
        rc = parse_sample(p, q);
        break;
    case T_JOIN:
        mw_eql_fail_at(p->fail, cur(p)->off,
                       "'join' is not supported (Elasticsearch EQL does not run it)");
        return -1;
    case T_EOF:
        fail_found(p, "expected a query");
        return -1;
    default: {
        struct mw_eql_step *s = mw_eql_arena_alloc(p->arena, sizeof(*s));
        q->type = MW_EQL_EVENT;
        span_from(cur(p), &s->at);
        s->runs = 1;
        rc = parse_filter(p, s);
        span_end(p, &s->at);
        q->steps = s;
        q->nsteps = 1;
        break;
    }
    }
    if (rc < 0 || parse_pipes(p, q) < 0)
        return -1;
    if (cur(p)->type != T_EOF) {
        if (cur(p)->type == T_LB && q->type == MW_EQL_EVENT)
            fail_found(p, "expected end of query (a query with steps starts with "
                          "'sequence' or 'sample')");
        else if (q->type == MW_EQL_EVENT)
            fail_found(p,
                       "expected 'and', 'or', an operator, '|' or the end of the query");
        else
            fail_found(p, "expected a step '[', 'until', '|' or the end of the query");
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------- */
/* errors                                                                  */

/* The offending line (a window of it, when long) and a caret under off. */
static void caret_lines(const char *text, size_t len, size_t off, struct mw_buf *b)
{
    enum { WIDE = 160, BEFORE = 70 };
    size_t ls = off, le = off;
    while (ls > 0 && text[ls - 1] != '\n')
        ls--;
    while (le < len && text[le] != '\n')
        le++;
    if (le > ls && text[le - 1] == '\r')
        le--;
    size_t from = ls, to = le;
    bool cut_left = false, cut_right = false;
    if (le - ls > WIDE) {
        if (off - ls > BEFORE) {
            from = off - BEFORE;
            while (from < off && ((unsigned char)text[from] & 0xC0) == 0x80)
                from++;
            cut_left = true;
        }
        if (to - from > WIDE) {
            to = from + WIDE;
            while (to > off && to < le && ((unsigned char)text[to] & 0xC0) == 0x80)
                to--;
            cut_right = true;
        }
    }
    if (cut_left)
        mw_buf_adds(b, "...");
    for (size_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)text[i];
        mw_buf_addc(b, (c < 0x20 && c != '\t') || c == 0x7F ? ' ' : (char)c);
    }
    if (cut_right)
        mw_buf_adds(b, "...");
    mw_buf_addc(b, '\n');
    if (cut_left)
        mw_buf_adds(b, "   ");
    for (size_t i = from; i < off && i < to; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\t')
            mw_buf_addc(b, '\t');
        else if ((c & 0xC0) != 0x80)
            mw_buf_addc(b, ' ');
    }
    mw_buf_addc(b, '^');
}

static void report(const char *text, size_t len, const struct mw_eql_origin *at,
                   const struct eql_fail *f, struct mw_eql_error *err)
{
    unsigned line, col;
    mw_eql_locate(text, len, f->off, &line, &col);
    unsigned l0 = at != NULL && at->line > 0 ? at->line : 1;
    unsigned c0 = at != NULL && at->col > 0 ? at->col : 1;
    err->off = f->off;
    err->line = line + l0 - 1;
    err->col = line == 1 ? col + c0 - 1 : col;
    mw_buf_reset(&err->msg);
    mw_buf_add(&err->msg, f->msg.ptr, f->msg.len);
    mw_buf_reset(&err->text);
    if (at != NULL && at->file != NULL)
        mw_buf_addf(&err->text, "%s:", at->file);
    mw_buf_addf(&err->text, "%u:%u: %s\n", err->line, err->col, f->msg.ptr);
    caret_lines(text, len, f->off, &err->text);
}

void mw_eql_error_at(struct mw_eql_error *err, const char *text, size_t len,
                     const struct mw_eql_origin *at, size_t off, const char *fmt, ...)
{
    struct eql_fail f = {.failed = true, .off = off > len ? len : off};
    va_list ap;
    mw_buf_init(&f.msg);
    va_start(ap, fmt);
    mw_buf_vaddf(&f.msg, fmt, ap);
    va_end(ap);
    report(text != NULL ? text : "", len, at, &f, err);
    mw_buf_release(&f.msg);
}

/* ---------------------------------------------------------------------- */
/* entry                                                                   */

struct mw_eql_query *mw_eql_parse(const char *text, size_t len,
                                  const struct mw_eql_origin *at,
                                  struct mw_eql_error *err)
{
    struct eql_fail fail = {.failed = false};
    struct eql_token *toks = NULL;
    size_t ntoks = 0;
    struct mw_eql_arena *arena = mw_eql_arena_new();
    struct mw_eql_query *q = mw_eql_arena_alloc(arena, sizeof(*q));
    q->arena = arena;
    mw_buf_init(&fail.msg);

    if (text == NULL)
        len = 0;
    if (len > MW_EQL_MAX_LEN) {
        mw_eql_fail_at(&fail, 0, "query too long: %zu bytes (the limit is %u)", len,
                       MW_EQL_MAX_LEN);
        goto fail;
    }
    if (mw_eql_lex(text, len, arena, &toks, &ntoks, &fail) < 0)
        goto fail;
    struct parser p = {
        .text = text,
        .len = len,
        .toks = toks,
        .ntoks = ntoks,
        .arena = arena,
        .fail = &fail,
    };
    if (parse_statement(&p, q) < 0 || fail.failed)
        goto fail;
    free(toks);
    mw_buf_release(&fail.msg);
    return q;

fail:
    if (!fail.failed) /* a parse function failed without saying why: a bug */
        mw_eql_fail_at(&fail, 0, "syntax error");
    if (err != NULL)
        report(text != NULL ? text : "", len > MW_EQL_MAX_LEN ? 0 : len, at, &fail, err);
    free(toks);
    mw_buf_release(&fail.msg);
    mw_eql_arena_free(arena);
    return NULL;
}
