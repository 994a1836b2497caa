/* kql_parse.c - KQL recursive-descent parser, AST checks and dump
 *
 * The grammar, from Kibana's kuery.peg (one token of lookahead):
 *
 *   query   = or
 *   or      = and { OR and }            and  = not { AND not }
 *   not     = [NOT] not | sub           sub  = '(' or ')' | expr
 *   expr    = LIT ':' '{' or '}'        nested
 *           | LIT ':' values            field match
 *           | LIT RANGEOP LIT           range
 *           | LIT                       free text
 *   values  = vor                       vor  = vand { OR vand }
 *   vand    = vnot { AND vnot }         vnot = [NOT] vnot | vterm
 *   vterm   = '(' vor ')' | LIT
 *
 * A value list is expanded while parsing into and/or/not of MATCH nodes on
 * the list's field, and adjacent MATCH children of an OR on the same field
 * are folded into one MATCH with all their values, so field:(a or b)
 * and field:a or field:b both give one leaf with two values. AND and OR
 * children of the same kind are spliced into their parent. An unquoted
 * value made of '*' only is field:* (exists). Every recursive rule counts a
 * depth against MW_KQL_MAX_DEPTH before recursing, and the tree is never
 * deeper than the parse, so freeing and checking recurse boundedly.
 */
#include "mw_kql.h"

#include "kql_int.h"
#include "mw_mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct parser {
    struct kql_lexer lx;
    struct kql_token tok; /* lookahead, owned */
    size_t at;            /* position cache: byte offset at, ... */
    unsigned line, col;   /* ... is at line:col (nodes come in source order) */
};

static void advance(struct parser *p)
{
    kql_lex_next(&p->lx, &p->tok);
}

static bool failed(const struct parser *p)
{
    return p->lx.failed;
}

static void unexpected(struct parser *p, const char *wanted)
{
    if (p->tok.type == KT_LIT)
        kql_error(&p->lx, p->tok.pos, "expected %s, found the value '%.*s'", wanted,
                  (int)(p->tok.text.len > 40 ? 40 : p->tok.text.len), p->tok.text.ptr);
    else
        kql_error(&p->lx, p->tok.pos, "expected %s, found %s", wanted,
                  kql_tok_name(p->tok.type));
}

static bool too_deep(struct parser *p, int depth)
{
    if (depth < MW_KQL_MAX_DEPTH)
        return false;
    kql_error(&p->lx, p->tok.pos, "query nested deeper than %d levels", MW_KQL_MAX_DEPTH);
    return true;
}

/* ---------------------------------------------------------------------- */
/* nodes                                                                   */

static struct mw_kql_node *node_new(struct parser *p, enum mw_kql_kind kind, size_t pos)
{
    struct mw_kql_node *n = xcalloc(1, sizeof(*n));
    n->kind = kind;
    if (pos < p->at) {
        p->at = 0;
        p->line = p->col = 1;
    }
    for (; p->at < pos && p->at < p->lx.n; p->at++) {
        unsigned char ch = (unsigned char)p->lx.s[p->at];
        if (ch == '\n') {
            p->line++;
            p->col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            p->col++;
        }
    }
    n->line = p->line;
    n->col = p->col;
    return n;
}

void mw_kql_free(struct mw_kql_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkids; i++)
        mw_kql_free(n->kids[i]);
    free(n->kids);
    for (size_t i = 0; i < n->nvals; i++)
        free(n->vals[i].s);
    free(n->vals);
    free(n->field);
    free(n);
}

static void add_kid(struct mw_kql_node *n, struct mw_kql_node *kid)
{
    n->kids = xrealloc(n->kids, (n->nkids + 1) * sizeof(*n->kids));
    n->kids[n->nkids++] = kid;
}

static void add_value(struct mw_kql_node *n, const struct mw_kql_value *v)
{
    n->vals = xrealloc(n->vals, (n->nvals + 1) * sizeof(*n->vals));
    n->vals[n->nvals++] = *v;
}

static bool same_field(const struct mw_kql_node *a, const struct mw_kql_node *b)
{
    if (a->field == NULL || b->field == NULL)
        return false;
    return a->field_len == b->field_len && memcmp(a->field, b->field, a->field_len) == 0;
}

/* Adds kid to an AND/OR group: splices a child of the same kind, and in an
 * OR folds a MATCH into the previous child when that is a MATCH on the same
 * field (adjacent only, so building a group stays linear). */
static void group_add(struct mw_kql_node *g, struct mw_kql_node *kid)
{
    if (kid->kind == g->kind) {
        for (size_t i = 0; i < kid->nkids; i++)
            group_add(g, kid->kids[i]);
        kid->nkids = 0;
        mw_kql_free(kid);
        return;
    }
    if (g->kind == MW_KQL_OR && kid->kind == MW_KQL_MATCH && g->nkids > 0) {
        struct mw_kql_node *m = g->kids[g->nkids - 1];
        if (m->kind == MW_KQL_MATCH && same_field(m, kid)) {
            for (size_t k = 0; k < kid->nvals; k++)
                add_value(m, &kid->vals[k]);
            kid->nvals = 0;
            mw_kql_free(kid);
            return;
        }
    }
    add_kid(g, kid);
}

/* A group of a and b (either may already be one); a single child stays
 * itself when the fold leaves only one. */
static struct mw_kql_node *group(enum mw_kql_kind kind, struct mw_kql_node *a,
                                 struct mw_kql_node *b)
{
    struct mw_kql_node *g;
    if (a->kind == kind) {
        g = a;
    } else {
        g = xcalloc(1, sizeof(*g));
        g->kind = kind;
        g->line = a->line;
        g->col = a->col;
        group_add(g, a);
    }
    group_add(g, b);
    if (g->nkids == 1) {
        struct mw_kql_node *only = g->kids[0];
        g->nkids = 0;
        mw_kql_free(g);
        return only;
    }
    return g;
}

static char *copy_text(const struct mw_buf *b)
{
    char *s = xmalloc(b->len + 1);
    memcpy(s, b->ptr, b->len);
    s[b->len] = '\0';
    return s;
}

/* The literal token as a value: text plus its number/boolean readings. */
static void make_value(const struct kql_token *t, struct mw_kql_value *v)
{
    memset(v, 0, sizeof(*v));
    v->s = copy_text(&t->text);
    v->len = t->text.len;
    v->quoted = t->quoted;
    v->wildcard = t->wildcard && !t->quoted;
    v->literal_meta = v->wildcard && t->literal_meta;
    if (v->wildcard || v->len == 0 || memchr(v->s, '\0', v->len) != NULL)
        return;
    if (strcmp(v->s, "true") == 0 || strcmp(v->s, "false") == 0) {
        v->is_bool = true;
        v->b = v->s[0] == 't';
        return;
    }
    /* a decimal number: digits, optional sign, fraction, exponent (no hex,
     * inf or nan, which strtod would also take) */
    const char *s = v->s;
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0, digits = 0;
    bool frac = false;
    while (i < v->len && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < v->len && s[i] == '.') {
        frac = true;
        i++;
        while (i < v->len && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return;
    if (i < v->len && (s[i] == 'e' || s[i] == 'E')) {
        frac = true;
        i++;
        if (i < v->len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < v->len && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        if (ed == 0)
            return;
    }
    if (i != v->len)
        return;
    errno = 0;
    double d = strtod(s, NULL);
    if (errno == ERANGE && (d > 1.0 || d < -1.0))
        return;
    v->is_number = true;
    v->num = d;
    if (!frac) {
        errno = 0;
        long long ll = strtoll(s, NULL, 10);
        if (errno == 0) {
            v->is_int = true;
            v->ival = ll;
        }
    }
}

static void set_field(struct mw_kql_node *n, const struct kql_token *field)
{
    n->field = copy_text(&field->text);
    n->field_len = field->text.len;
    n->field_wildcard = field->wildcard && !field->quoted;
}

/* ---------------------------------------------------------------------- */
/* value lists                                                             */

static struct mw_kql_node *parse_vor(struct parser *p, const struct kql_token *field,
                                     int depth);

static struct mw_kql_node *parse_vterm(struct parser *p, const struct kql_token *field,
                                       int depth)
{
    if (p->tok.type == KT_LPAREN) {
        advance(p);
        struct mw_kql_node *n = parse_vor(p, field, depth + 1);
        if (n == NULL)
            return NULL;
        if (p->tok.type != KT_RPAREN) {
            unexpected(p, "')' to close the value list");
            mw_kql_free(n);
            return NULL;
        }
        advance(p);
        return n;
    }
    if (p->tok.type != KT_LIT) {
        unexpected(p, "a value");
        return NULL;
    }
    struct mw_kql_node *n;
    if (p->tok.only_wildcards && !p->tok.quoted) {
        n = node_new(p, MW_KQL_EXISTS, field->pos);
    } else {
        n = node_new(p, MW_KQL_MATCH, field->pos);
        struct mw_kql_value v;
        make_value(&p->tok, &v);
        add_value(n, &v);
    }
    set_field(n, field);
    advance(p);
    return n;
}

static struct mw_kql_node *parse_vnot(struct parser *p, const struct kql_token *field,
                                      int depth)
{
    if (too_deep(p, depth))
        return NULL;
    if (p->tok.type != KT_NOT)
        return parse_vterm(p, field, depth);
    struct mw_kql_node *n = node_new(p, MW_KQL_NOT, p->tok.pos);
    advance(p);
    struct mw_kql_node *kid = parse_vnot(p, field, depth + 1);
    if (kid == NULL) {
        mw_kql_free(n);
        return NULL;
    }
    add_kid(n, kid);
    return n;
}

static struct mw_kql_node *parse_vand(struct parser *p, const struct kql_token *field,
                                      int depth)
{
    struct mw_kql_node *n = parse_vnot(p, field, depth);
    while (n != NULL && p->tok.type == KT_AND) {
        advance(p);
        struct mw_kql_node *b = parse_vnot(p, field, depth);
        if (b == NULL) {
            mw_kql_free(n);
            return NULL;
        }
        n = group(MW_KQL_AND, n, b);
    }
    return n;
}

static struct mw_kql_node *parse_vor(struct parser *p, const struct kql_token *field,
                                     int depth)
{
    if (too_deep(p, depth))
        return NULL;
    struct mw_kql_node *n = parse_vand(p, field, depth);
    while (n != NULL && p->tok.type == KT_OR) {
        advance(p);
        struct mw_kql_node *b = parse_vand(p, field, depth);
        if (b == NULL) {
            mw_kql_free(n);
            return NULL;
        }
        n = group(MW_KQL_OR, n, b);
    }
    return n;
}

/* ---------------------------------------------------------------------- */
/* queries                                                                 */

static struct mw_kql_node *parse_or(struct parser *p, int depth);

static struct mw_kql_node *parse_expr(struct parser *p, int depth)
{
    if (p->tok.type != KT_LIT) {
        unexpected(p, "a field or a value");
        return NULL;
    }
    struct kql_token field = p->tok; /* take the lookahead's text */
    struct mw_kql_node *n = NULL;
    mw_buf_init(&p->tok.text);
    advance(p);
    enum kql_tok t = p->tok.type;
    if (t == KT_COLON) {
        advance(p);
        if (p->tok.type == KT_LBRACE) {
            n = node_new(p, MW_KQL_NESTED, field.pos);
            set_field(n, &field);
            advance(p);
            struct mw_kql_node *q = parse_or(p, depth + 1);
            if (q == NULL)
                goto fail;
            add_kid(n, q);
            if (p->tok.type != KT_RBRACE) {
                unexpected(p, "'}' to close the nested query");
                goto fail;
            }
            advance(p);
            goto out;
        }
        n = parse_vterm(p, &field, depth + 1);
        goto out;
    }
    if (t == KT_LT || t == KT_LE || t == KT_GT || t == KT_GE) {
        n = node_new(p, MW_KQL_RANGE, field.pos);
        set_field(n, &field);
        n->op = t == KT_LT   ? MW_KQL_LT
                : t == KT_LE ? MW_KQL_LE
                : t == KT_GT ? MW_KQL_GT
                             : MW_KQL_GE;
        advance(p);
        if (p->tok.type != KT_LIT) {
            unexpected(p, "a value after the comparison");
            goto fail;
        }
        struct mw_kql_value v;
        make_value(&p->tok, &v);
        add_value(n, &v);
        advance(p);
        goto out;
    }
    /* free text: the literal alone, matched against any field */
    n = node_new(p, MW_KQL_MATCH, field.pos);
    struct mw_kql_value v;
    make_value(&field, &v);
    add_value(n, &v);
    goto out;
fail:
    mw_kql_free(n);
    n = NULL;
out:
    mw_buf_release(&field.text);
    return n;
}

static struct mw_kql_node *parse_not(struct parser *p, int depth)
{
    if (too_deep(p, depth))
        return NULL;
    if (p->tok.type == KT_NOT) {
        struct mw_kql_node *n = node_new(p, MW_KQL_NOT, p->tok.pos);
        advance(p);
        struct mw_kql_node *kid = parse_not(p, depth + 1);
        if (kid == NULL) {
            mw_kql_free(n);
            return NULL;
        }
        add_kid(n, kid);
        return n;
    }
    if (p->tok.type == KT_LPAREN) {
        advance(p);
        struct mw_kql_node *n = parse_or(p, depth + 1);
        if (n == NULL)
            return NULL;
        if (p->tok.type != KT_RPAREN) {
            unexpected(p, "')' to close the group");
            mw_kql_free(n);
            return NULL;
        }
        advance(p);
        return n;
    }
    return parse_expr(p, depth);
}

static struct mw_kql_node *parse_and(struct parser *p, int depth)
{
    struct mw_kql_node *n = parse_not(p, depth);
    while (n != NULL && p->tok.type == KT_AND) {
        advance(p);
        struct mw_kql_node *b = parse_not(p, depth);
        if (b == NULL) {
            mw_kql_free(n);
            return NULL;
        }
        n = group(MW_KQL_AND, n, b);
    }
    return n;
}

static struct mw_kql_node *parse_or(struct parser *p, int depth)
{
    if (too_deep(p, depth))
        return NULL;
    struct mw_kql_node *n = parse_and(p, depth);
    while (n != NULL && p->tok.type == KT_OR) {
        advance(p);
        struct mw_kql_node *b = parse_and(p, depth);
        if (b == NULL) {
            mw_kql_free(n);
            return NULL;
        }
        n = group(MW_KQL_OR, n, b);
    }
    return n;
}

struct mw_kql_node *mw_kql_parse(const char *src, size_t len, struct mw_buf *err)
{
    struct parser p;
    struct mw_kql_node *n = NULL;
    kql_lex_init(&p.lx, src != NULL ? src : "", src != NULL ? len : 0, err);
    p.at = 0;
    p.line = p.col = 1;
    mw_buf_init(&p.tok.text);
    advance(&p);
    if (p.tok.type == KT_EOF) {
        kql_error(&p.lx, p.tok.pos, "empty query");
        goto out;
    }
    n = parse_or(&p, 0);
    if (n != NULL && p.tok.type != KT_EOF) {
        if (p.tok.type == KT_LIT || p.tok.type == KT_COLON)
            unexpected(&p, "'and', 'or' or the end of the query (terms need 'and' or "
                           "'or' between them; quote a value that holds spaces)");
        else
            unexpected(&p, "'and', 'or' or the end of the query");
    }
    if (failed(&p)) {
        mw_kql_free(n);
        n = NULL;
    }
out:
    mw_buf_release(&p.tok.text);
    return n;
}

/* ---------------------------------------------------------------------- */
/* checks and dump                                                         */

static size_t report(const struct mw_kql_node *n, struct mw_buf *why, const char *reason)
{
    if (why != NULL)
        mw_buf_addf(why, "%u:%u: %s\n", n->line, n->col, reason);
    return 1;
}

size_t mw_kql_check(const struct mw_kql_node *n, struct mw_buf *why)
{
    size_t bad = 0;
    if (n == NULL)
        return 0;
    if (n->kind == MW_KQL_MATCH && n->field == NULL)
        bad += report(n, why,
                      "free-text term (no field): it searches every field, which a "
                      "streaming matcher cannot do without a field list");
    if (n->field != NULL && n->field_wildcard)
        bad +=
            report(n, why,
                   "field-name pattern: the matchers take one field path, not a pattern");
    for (size_t i = 0; i < n->nvals; i++)
        if (n->vals[i].literal_meta) {
            bad +=
                report(n, why,
                       "wildcard value with a literal '*' or '?': the wildcard matcher "
                       "reads '?' as a wildcard and has no escape");
            break;
        }
    for (size_t i = 0; i < n->nkids; i++)
        bad += mw_kql_check(n->kids[i], why);
    return bad;
}

static void dump_str(struct mw_buf *out, const char *s, size_t len)
{
    mw_buf_addc(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            mw_buf_addc(out, '\\');
            mw_buf_addc(out, (char)c);
        } else if (c < 0x20) {
            mw_buf_addf(out, "\\x%02x", c);
        } else {
            mw_buf_addc(out, (char)c);
        }
    }
    mw_buf_addc(out, '"');
}

void mw_kql_dump(const struct mw_kql_node *n, struct mw_buf *out)
{
    static const char *const kinds[] = {"and",    "or",    "not",   "match",
                                        "exists", "range", "nested"};
    static const char *const ops[] = {"lt", "le", "gt", "ge"};
    if (n == NULL)
        return;
    mw_buf_addc(out, '(');
    mw_buf_adds(out, n->kind == MW_KQL_RANGE ? ops[n->op] : kinds[n->kind]);
    if (n->kind == MW_KQL_MATCH || n->kind == MW_KQL_EXISTS || n->kind == MW_KQL_RANGE ||
        n->kind == MW_KQL_NESTED) {
        mw_buf_addc(out, ' ');
        if (n->field == NULL)
            mw_buf_addc(out, '_');
        else
            mw_buf_add(out, n->field, n->field_len);
    }
    for (size_t i = 0; i < n->nvals; i++) {
        mw_buf_addc(out, ' ');
        if (n->vals[i].wildcard)
            mw_buf_addc(out, '~');
        dump_str(out, n->vals[i].s, n->vals[i].len);
    }
    for (size_t i = 0; i < n->nkids; i++) {
        mw_buf_addc(out, ' ');
        mw_kql_dump(n->kids[i], out);
    }
    mw_buf_addc(out, ')');
}
