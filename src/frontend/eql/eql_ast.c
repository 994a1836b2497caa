/* eql_ast.c - the EQL syntax tree: its arena, names and JSON dump
 *
 * The arena is a singly linked list of chunks, each at least 8 KiB; a
 * request larger than a chunk gets a chunk of its own. Allocations are
 * zeroed and aligned for max_align_t. A query owns its arena and nothing
 * else, so mw_eql_free walks the chunk list and is done.
 *
 * The dump recurses over the tree; the parser bounds every tree's depth by
 * MW_EQL_MAX_DEPTH, so the recursion is bounded too.
 */
#include "frontend/eql/eql_int.h"
#include "mw_mem.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* arena                                                                   */

#define CHUNK_MIN 8192
#define ALIGN alignof(max_align_t)

struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) unsigned char data[];
};

struct mw_eql_arena {
    struct chunk *head; /* owned list, newest first */
};

struct mw_eql_arena *mw_eql_arena_new(void)
{
    return xcalloc(1, sizeof(struct mw_eql_arena));
}

void mw_eql_arena_free(struct mw_eql_arena *a)
{
    if (a == NULL)
        return;
    struct chunk *c = a->head;
    while (c != NULL) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *mw_eql_arena_alloc(struct mw_eql_arena *a, size_t size)
{
    size = (size + ALIGN - 1) / ALIGN * ALIGN;
    if (size == 0)
        size = ALIGN;
    struct chunk *c = a->head;
    if (c == NULL || c->cap - c->used < size) {
        size_t cap = size > CHUNK_MIN ? size : CHUNK_MIN;
        c = xmalloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

char *mw_eql_arena_strndup(struct mw_eql_arena *a, const char *s, size_t len)
{
    char *p = mw_eql_arena_alloc(a, len + 1);
    if (len > 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void mw_eql_vec_push(struct mw_eql_arena *a, struct mw_eql_vec *v, void *item)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        void **items = mw_eql_arena_alloc(a, cap * sizeof(*items));
        if (v->n > 0)
            memcpy(items, v->items, v->n * sizeof(*items));
        v->items = items;
        v->cap = cap;
    }
    v->items[v->n++] = item;
}

void mw_eql_free(struct mw_eql_query *q)
{
    if (q == NULL)
        return;
    /* q itself lives in its arena */
    mw_eql_arena_free(q->arena);
}

/* ---------------------------------------------------------------------- */
/* errors                                                                  */

void mw_eql_error_init(struct mw_eql_error *err)
{
    mw_buf_init(&err->text);
    mw_buf_init(&err->msg);
    err->line = 0;
    err->col = 0;
    err->off = 0;
}

void mw_eql_error_release(struct mw_eql_error *err)
{
    if (err == NULL)
        return;
    mw_buf_release(&err->text);
    mw_buf_release(&err->msg);
}

void mw_eql_fail_at(struct eql_fail *f, size_t off, const char *fmt, ...)
{
    if (f->failed)
        return; /* the first error is the one reported */
    va_list ap;
    f->failed = true;
    f->off = off;
    va_start(ap, fmt);
    mw_buf_vaddf(&f->msg, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* names                                                                   */

static const char *const fn_names[MW_EQL_FN_COUNT_] = {
    [MW_EQL_FN_ADD] = "add",
    [MW_EQL_FN_BETWEEN] = "between",
    [MW_EQL_FN_CIDRMATCH] = "cidrMatch",
    [MW_EQL_FN_CONCAT] = "concat",
    [MW_EQL_FN_DIVIDE] = "divide",
    [MW_EQL_FN_ENDSWITH] = "endsWith",
    [MW_EQL_FN_INDEXOF] = "indexOf",
    [MW_EQL_FN_LENGTH] = "length",
    [MW_EQL_FN_MODULO] = "modulo",
    [MW_EQL_FN_MULTIPLY] = "multiply",
    [MW_EQL_FN_NUMBER] = "number",
    [MW_EQL_FN_STARTSWITH] = "startsWith",
    [MW_EQL_FN_STRING] = "string",
    [MW_EQL_FN_STRINGCONTAINS] = "stringContains",
    [MW_EQL_FN_SUBSTRING] = "substring",
    [MW_EQL_FN_SUBTRACT] = "subtract",
};

const char *mw_eql_fn_name(enum mw_eql_fn fn)
{
    return (unsigned)fn < MW_EQL_FN_COUNT_ ? fn_names[fn] : "?";
}

const char *mw_eql_kind_name(enum mw_eql_kind kind)
{
    switch (kind) {
    case MW_EQL_NULL:
        return "null";
    case MW_EQL_BOOL:
        return "bool";
    case MW_EQL_INT:
        return "int";
    case MW_EQL_FLOAT:
        return "float";
    case MW_EQL_STRING:
        return "string";
    case MW_EQL_FIELD:
        return "field";
    case MW_EQL_AND:
        return "and";
    case MW_EQL_OR:
        return "or";
    case MW_EQL_NOT:
        return "not";
    case MW_EQL_CMP:
        return "comparison";
    case MW_EQL_ARITH:
        return "arithmetic";
    case MW_EQL_NEG:
        return "neg";
    case MW_EQL_IN:
        return "in";
    case MW_EQL_PATTERN:
        return "pattern";
    case MW_EQL_CALL:
        return "call";
    }
    return "?";
}

static const char *op_name(const struct mw_eql_node *n)
{
    static const char *const cmp[] = {"==", "!=", "<", "<=", ">", ">="};
    static const char *const arith[] = {"+", "-", "*", "/", "%"};
    switch (n->kind) {
    case MW_EQL_CMP:
        return (unsigned)n->op < 6 ? cmp[n->op] : "?";
    case MW_EQL_ARITH:
        return (unsigned)n->op < 5 ? arith[n->op] : "?";
    case MW_EQL_IN:
        if (n->negated)
            return n->ci ? "not in~" : "not in";
        return n->ci ? "in~" : "in";
    case MW_EQL_PATTERN:
        if (n->op == MW_EQL_SEQ)
            return ":";
        if (n->op == MW_EQL_LIKE)
            return n->ci ? "like~" : "like";
        return n->ci ? "regex~" : "regex";
    default:
        return mw_eql_kind_name(n->kind);
    }
}

/* ---------------------------------------------------------------------- */
/* dump                                                                    */

json_t *mw_eql_dump_node(const struct mw_eql_node *n)
{
    if (n == NULL)
        return json_null();
    switch (n->kind) {
    case MW_EQL_NULL:
        return json_null();
    case MW_EQL_BOOL:
        return json_boolean(n->boolean);
    case MW_EQL_INT:
        return json_integer((json_int_t)n->i);
    case MW_EQL_FLOAT:
        return json_real(n->f);
    case MW_EQL_STRING:
        return json_stringn_nocheck(n->str, n->len);
    case MW_EQL_FIELD: {
        json_t *o = json_object();
        json_object_set_new(o, "field", json_stringn_nocheck(n->str, n->len));
        if (n->optional)
            json_object_set_new(o, "optional", json_true());
        return o;
    }
    default:
        break;
    }
    json_t *a = json_array();
    if (n->kind == MW_EQL_CALL) {
        const char *name = mw_eql_fn_name((enum mw_eql_fn)n->op);
        if (n->ci) {
            struct mw_buf b = MW_BUF_INIT;
            mw_buf_addf(&b, "%s~", name);
            json_array_append_new(a, json_string(b.ptr));
            mw_buf_release(&b);
        } else {
            json_array_append_new(a, json_string(name));
        }
    } else {
        json_array_append_new(a, json_string(op_name(n)));
    }
    for (size_t i = 0; i < n->nkids; i++)
        json_array_append_new(a, mw_eql_dump_node(n->kids[i]));
    return a;
}

static json_t *dump_list(struct mw_eql_node *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, mw_eql_dump_node(v[i]));
    return a;
}

static json_t *dump_step(const struct mw_eql_step *s)
{
    json_t *o = json_object();
    if (s->any)
        json_object_set_new(o, "any", json_true());
    else
        json_object_set_new(o, "category", json_string_nocheck(s->category));
    json_object_set_new(o, "where", mw_eql_dump_node(s->where));
    if (s->nby > 0)
        json_object_set_new(o, "by", dump_list(s->by, s->nby));
    if (s->runs != 1)
        json_object_set_new(o, "runs", json_integer(s->runs));
    if (s->missing)
        json_object_set_new(o, "missing", json_true());
    return o;
}

json_t *mw_eql_dump(const struct mw_eql_query *q)
{
    static const char *const types[] = {"event", "sequence", "sample"};
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(types[q->type]));
    if (q->nby > 0)
        json_object_set_new(o, "by", dump_list(q->by, q->nby));
    if (q->has_maxspan)
        json_object_set_new(o, "maxspan_ms", json_integer((json_int_t)q->maxspan_ms));
    json_t *steps = json_array();
    for (size_t i = 0; i < q->nsteps; i++)
        json_array_append_new(steps, dump_step(&q->steps[i]));
    json_object_set_new(o, "steps", steps);
    if (q->until != NULL)
        json_object_set_new(o, "until", dump_step(q->until));
    if (q->npipes > 0) {
        json_t *pipes = json_array();
        for (size_t i = 0; i < q->npipes; i++)
            json_array_append_new(
                pipes,
                json_pack("[sI]", q->pipes[i].kind == MW_EQL_HEAD ? "head" : "tail",
                          (json_int_t)q->pipes[i].n));
        json_object_set_new(o, "pipes", pipes);
    }
    return o;
}
