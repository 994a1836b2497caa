/* kql_compile.c - a KQL tree into rule builder calls (see mw_kql.h)
 *
 * Design: one recursive walk, bounded by the parser's depth limit, writes
 * the tree into the builder's matcher stream, so the same code serves the
 * Elastic front-end (a rule's `query`) and `mw.kql[[...]]` in Lua rules
 * (src/lua/mw_ldesc.c meets an {op = "kql"} matcher and calls
 * mw_kql_emit_text in the middle of the Lua rule's own tree).
 *
 * KQL is two-valued: `not f:x` matches an event without f. moonwatch's
 * matchers are three-valued (a leaf on a missing field is null, and `not
 * null` is null), so every leaf below a `not` is emitted as
 * all(exists f, leaf), which is false rather than null when f is missing;
 * above the first `not`, null and false both mean "no match", so leaves go
 * out bare and cost no more than their hand-written mw.* form.
 *
 * A value of f:v becomes, at once: the exact string (MW_OP_EQ, case
 * sensitive as KQL on keyword fields), its number reading when it reads as
 * one (403 matches 403 and "403"), its boolean reading (true), and on
 * address fields a CIDR (MW_OP_CIDR); a wildcard value becomes MW_OP_LIKE.
 * Constructs the matchers cannot express are refused with a reason (a
 * static string, for grouping) and the node's line and column.
 */
#include "mw_builder.h"
#include "mw_kql.h"

#include <stdio.h>
#include <string.h>

struct emit {
    struct mw_rule_builder *b;
    const char *at;
    struct mw_error *err;
    const char **reason;
};

static int refuse(struct emit *e, const struct mw_kql_node *n, const char *why)
{
    if (e->reason)
        *e->reason = why;
    return mw_error_set(e->err, "%s%sKQL %u:%u: %s", e->at ? e->at : "",
                        e->at && *e->at ? ": " : "", n->line, n->col, why);
}

#define RB(call)                                                                         \
    do {                                                                                 \
        if ((call) < 0)                                                                  \
            return -1;                                                                   \
    } while (0)

/* An ECS address field: source.ip, client.ip, related.ip, host.ip, ... */
static bool is_ip_field(const char *f)
{
    size_t n = strlen(f);
    return strcmp(f, "ip") == 0 || (n > 3 && strcmp(f + n - 3, ".ip") == 0) ||
           (n > 8 && strcmp(f + n - 8, ".address") == 0 && strstr(f, "ip") != NULL);
}

static bool is_cidr(const struct mw_kql_value *v)
{
    unsigned char net[16];
    int prefix;
    char tmp[64];
    if (v->wildcard || v->len >= sizeof(tmp) || memchr(v->s, '/', v->len) == NULL)
        return false;
    memcpy(tmp, v->s, v->len);
    tmp[v->len] = '\0';
    return mw_cidr_parse(tmp, net, &prefix) == 0;
}

/* Opens all(exists f, ...) around a leaf below a `not`. */
static int guard_open(struct emit *e, const char *field, bool guard)
{
    if (!guard)
        return 0;
    RB(mw_rb_match_open(e->b, MW_OP_ALL, e->at, e->err));
    return mw_rb_match_leaf(e->b, MW_OP_EXISTS, field, e->at, e->err);
}

static int guard_close(struct emit *e, bool guard)
{
    return guard ? mw_rb_match_close(e->b, e->at, e->err) : 0;
}

static int emit_match(struct emit *e, const struct mw_kql_node *n, bool guard)
{
    size_t nexact = 0, npat = 0, ncidr = 0, parts;
    bool ip = is_ip_field(n->field);

    for (size_t i = 0; i < n->nvals; i++) {
        const struct mw_kql_value *v = &n->vals[i];
        if (v->literal_meta)
            return refuse(e, n,
                          "wildcard value with a literal '*' or '?': the wildcard "
                          "matcher reads '?' as a wildcard and has no escape");
        if (v->wildcard)
            npat++;
        else if (ip && is_cidr(v))
            ncidr++;
        else
            nexact++;
    }
    parts = (nexact > 0) + (npat > 0) + (ncidr > 0);
    RB(guard_open(e, n->field, guard));
    if (parts > 1)
        RB(mw_rb_match_open(e->b, MW_OP_ANY, e->at, e->err));
    if (nexact > 0) {
        RB(mw_rb_match_leaf(e->b, MW_OP_EQ, n->field, e->at, e->err));
        for (size_t i = 0; i < n->nvals; i++) {
            const struct mw_kql_value *v = &n->vals[i];
            if (v->wildcard || (ip && is_cidr(v)))
                continue;
            RB(mw_rb_match_str(e->b, v->s, v->len, false, e->at, e->err));
            if (v->is_number)
                RB(mw_rb_match_num(e->b, v->is_int ? (double)v->ival : v->num, v->is_int,
                                   e->at, e->err));
            if (v->is_bool)
                RB(mw_rb_match_bool(e->b, v->b, e->at, e->err));
        }
    }
    if (npat > 0) {
        RB(mw_rb_match_leaf(e->b, MW_OP_LIKE, n->field, e->at, e->err));
        for (size_t i = 0; i < n->nvals; i++)
            if (n->vals[i].wildcard)
                RB(mw_rb_match_str(e->b, n->vals[i].s, n->vals[i].len, false, e->at,
                                   e->err));
    }
    if (ncidr > 0) {
        RB(mw_rb_match_leaf(e->b, MW_OP_CIDR, n->field, e->at, e->err));
        for (size_t i = 0; i < n->nvals; i++)
            if (!n->vals[i].wildcard && is_cidr(&n->vals[i]))
                RB(mw_rb_match_str(e->b, n->vals[i].s, n->vals[i].len, false, e->at,
                                   e->err));
    }
    if (parts > 1)
        RB(mw_rb_match_close(e->b, e->at, e->err));
    return guard_close(e, guard);
}

static int emit_node(struct emit *e, const struct mw_kql_node *n, bool guard)
{
    static const enum mw_op range_ops[] = {MW_OP_LT, MW_OP_LE, MW_OP_GT, MW_OP_GE};

    if (n->kind != MW_KQL_AND && n->kind != MW_KQL_OR && n->kind != MW_KQL_NOT) {
        if (n->field == NULL)
            return refuse(e, n,
                          "free-text term (no field): it searches every field, which a "
                          "streaming matcher cannot do without a field list");
        if (n->field_wildcard)
            return refuse(e, n,
                          "field-name pattern: the matchers take one field path, not a "
                          "pattern");
        if (memchr(n->field, '\0', n->field_len) != NULL)
            return refuse(e, n, "field name holds a NUL byte");
    }
    switch (n->kind) {
    case MW_KQL_AND:
    case MW_KQL_OR:
    case MW_KQL_NOT:
        RB(mw_rb_match_open(e->b,
                            n->kind == MW_KQL_AND  ? MW_OP_ALL
                            : n->kind == MW_KQL_OR ? MW_OP_ANY
                                                   : MW_OP_NOT,
                            e->at, e->err));
        for (size_t i = 0; i < n->nkids; i++)
            RB(emit_node(e, n->kids[i], guard || n->kind == MW_KQL_NOT));
        return mw_rb_match_close(e->b, e->at, e->err);
    case MW_KQL_EXISTS:
        return mw_rb_match_leaf(e->b, MW_OP_EXISTS, n->field, e->at, e->err);
    case MW_KQL_RANGE:
        if (n->nvals != 1 || !n->vals[0].is_number)
            return refuse(e, n,
                          "range on a value that is not a number (a date or a string): "
                          "the comparison matchers compare numbers");
        RB(guard_open(e, n->field, guard));
        RB(mw_rb_match_leaf(e->b, range_ops[n->op], n->field, e->at, e->err));
        RB(mw_rb_match_num(e->b,
                           n->vals[0].is_int ? (double)n->vals[0].ival : n->vals[0].num,
                           n->vals[0].is_int, e->at, e->err));
        return guard_close(e, guard);
    case MW_KQL_MATCH:
        return emit_match(e, n, guard);
    case MW_KQL_NESTED:
    default:
        return refuse(e, n,
                      "nested query field:{...}: the matchers have no group that holds "
                      "its conditions to one element of an array of objects");
    }
}

int mw_kql_emit(struct mw_rule_builder *b, const struct mw_kql_node *n, const char *at,
                struct mw_error *err, const char **reason)
{
    struct emit e = {b, at, err, reason};
    if (reason)
        *reason = NULL;
    return emit_node(&e, n, false);
}

int mw_kql_emit_text(struct mw_rule_builder *b, const char *src, size_t len,
                     const char *at, struct mw_error *err, const char **reason)
{
    struct mw_buf msg = MW_BUF_INIT;
    struct mw_kql_node *n = mw_kql_parse(src, len, &msg);
    int rc;
    if (reason)
        *reason = NULL;
    if (n == NULL) {
        if (reason)
            *reason = "KQL syntax error";
        mw_error_set(err, "%s%sKQL %s", at ? at : "", at && *at ? ": " : "",
                     msg.ptr ? msg.ptr : "syntax error");
        mw_buf_release(&msg);
        return -1;
    }
    mw_buf_release(&msg);
    rc = mw_kql_emit(b, n, at, err, reason);
    mw_kql_free(n);
    return rc;
}
