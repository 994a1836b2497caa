/* mw_eql.h - Elasticsearch EQL: parse a query into a plain C syntax tree
 *
 * The front end of EQL rules (issue 16). mw_eql_parse turns the text of one
 * query in the dialect of Elasticsearch (the one Elastic's detection rules
 * and Elasticsearch's EQL QA suite use) into a tree of plain C structs that a
 * later compile step maps onto the engine's matchers and detectors: an
 * `and`/`or` is n-ary (an mw.all/mw.any), a `field : ("a", "b*")` keeps its
 * value list in one node (one ieq leaf), a sequence keeps its shared keys,
 * its steps' keys and its until apart as mw.sequence does.
 *
 * Unlike the other modules' types, the tree is transparent: it is the
 * interface of the front end, read by the compile step and the tests (as
 * Lua's lparser.h exposes its expression descriptors). It is immutable after
 * parsing. Every node, array and string of one query lives in one arena
 * owned by the query: mw_eql_free releases everything at once.
 *
 * Limits, so that a hostile query cannot exhaust the C stack or the heap:
 * the text is at most MW_EQL_MAX_LEN bytes, and no node is nested deeper than
 * MW_EQL_MAX_DEPTH (counting both parser recursion and the depth of the
 * resulting tree, so every recursive walk of a tree is bounded too).
 *
 * What is parsed but checked only for syntax: types (`"a" + 1` parses), the
 * Lucene syntax of regex patterns, field names against any mapping.
 */
#ifndef MW_EQL_H
#define MW_EQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"

#define MW_EQL_MAX_LEN (1u << 20) /* bytes of query text */
#define MW_EQL_MAX_DEPTH 256      /* nesting of expressions */
#define MW_EQL_MAX_RUNS 100       /* `with runs=N`, as Elasticsearch */

/* ---------------------------------------------------------------------- */
/* expressions                                                             */

enum mw_eql_kind {
    MW_EQL_NULL,    /* null */
    MW_EQL_BOOL,    /* true/false: boolean */
    MW_EQL_INT,     /* integer literal: i */
    MW_EQL_FLOAT,   /* decimal literal or integer too large for int64: f */
    MW_EQL_STRING,  /* string literal: str/len, escapes decoded */
    MW_EQL_FIELD,   /* field reference: path, segs, optional */
    MW_EQL_AND,     /* kids[0] and kids[1] and ... (n >= 2) */
    MW_EQL_OR,      /* kids[0] or kids[1] or ... (n >= 2) */
    MW_EQL_NOT,     /* not kids[0] */
    MW_EQL_CMP,     /* kids[0] <op: enum mw_eql_cmp> kids[1] */
    MW_EQL_ARITH,   /* kids[0] <op: enum mw_eql_arith> kids[1] */
    MW_EQL_NEG,     /* -kids[0] (never a numeric literal: those are folded) */
    MW_EQL_IN,      /* kids[0] [not] in[~] (kids[1], ...): negated, ci */
    MW_EQL_PATTERN, /* kids[0] <op: enum mw_eql_pat> (kids[1], ...), constants */
    MW_EQL_CALL,    /* function call: op is an enum mw_eql_fn, kids the args, ci */
};

enum mw_eql_cmp {
    MW_EQL_EQ, /* == */
    MW_EQL_NE, /* != */
    MW_EQL_LT,
    MW_EQL_LE,
    MW_EQL_GT,
    MW_EQL_GE,
};

enum mw_eql_arith {
    MW_EQL_ADD,
    MW_EQL_SUB,
    MW_EQL_MUL,
    MW_EQL_DIV,
    MW_EQL_MOD,
};

enum mw_eql_pat {
    MW_EQL_SEQ,   /* ':' - case-insensitive, * and ? wildcards (always ci) */
    MW_EQL_LIKE,  /* like (ci false) / like~ (ci true) */
    MW_EQL_REGEX, /* regex / regex~ */
};

/* The functions of Elasticsearch EQL. Names are matched case-insensitively
 * (Elastic's rules write both `cidrMatch` and `cidrmatch`). */
enum mw_eql_fn {
    MW_EQL_FN_ADD,
    MW_EQL_FN_BETWEEN,
    MW_EQL_FN_CIDRMATCH,
    MW_EQL_FN_CONCAT,
    MW_EQL_FN_DIVIDE,
    MW_EQL_FN_ENDSWITH,
    MW_EQL_FN_INDEXOF,
    MW_EQL_FN_LENGTH,
    MW_EQL_FN_MODULO,
    MW_EQL_FN_MULTIPLY,
    MW_EQL_FN_NUMBER,
    MW_EQL_FN_STARTSWITH,
    MW_EQL_FN_STRING,
    MW_EQL_FN_STRINGCONTAINS,
    MW_EQL_FN_SUBSTRING,
    MW_EQL_FN_SUBTRACT,
    MW_EQL_FN_COUNT_ /* number of functions, not a function */
};

/* Where a construct is in the query text: byte offset and length, and the
 * 1-based line and column (counted in UTF-8 characters) relative to the
 * text, before any origin is applied. */
struct mw_eql_span {
    size_t off;
    size_t len;
    unsigned line;
    unsigned col;
};

struct mw_eql_node {
    enum mw_eql_kind kind;
    int op;        /* enum mw_eql_cmp / _arith / _pat / _fn, by kind */
    bool ci;       /* case-insensitive: in~, like~, regex~, ':', fn~ */
    bool negated;  /* IN: `not in` */
    bool optional; /* FIELD: written ?field */
    bool boolean;  /* BOOL */
    int64_t i;     /* INT */
    double f;      /* FLOAT */
    /* STRING: the decoded value (NUL-terminated; may hold NULs, see len);
     * FIELD: the dotted path ("process.parent.name"; an index [0] is the
     * segment "0"); CALL: the canonical function name ("endsWith") */
    const char *str;
    size_t len;
    const char *const *segs; /* FIELD: the segments, backquotes removed */
    size_t nsegs;
    struct mw_eql_node *const *kids; /* operands, by kind */
    size_t nkids;
    unsigned depth; /* 1 for a leaf, else 1 + the deepest operand */
    struct mw_eql_span at;
};

/* ---------------------------------------------------------------------- */
/* queries                                                                 */

enum mw_eql_type {
    MW_EQL_EVENT,    /* `category where cond` */
    MW_EQL_SEQUENCE, /* `sequence ... [..] [..]` */
    MW_EQL_SAMPLE,   /* `sample by ... [..] [..]` */
};

/* One `category where cond`: the query of an event query, a sequence step,
 * a sample filter or an until. */
struct mw_eql_step {
    bool any;             /* `any where`: every category */
    const char *category; /* otherwise the category as written (quotes
                             removed); NULL when any */
    struct mw_eql_node *where;
    struct mw_eql_node *const *by; /* the step's own keys (after the shared ones) */
    size_t nby;
    unsigned runs; /* `with runs=N`, 1 when absent */
    bool missing;  /* a missing event, written ![...] */
    struct mw_eql_span at;
};

enum mw_eql_pipe_kind {
    MW_EQL_HEAD,
    MW_EQL_TAIL,
};

struct mw_eql_pipe {
    enum mw_eql_pipe_kind kind;
    int64_t n;
    struct mw_eql_span at;
};

struct mw_eql_arena;

struct mw_eql_query {
    enum mw_eql_type type;
    const struct mw_eql_step *steps; /* EVENT: exactly one */
    size_t nsteps;
    struct mw_eql_node *const *by; /* shared keys (`sequence by`, `sample by`) */
    size_t nby;
    bool has_maxspan;
    int64_t maxspan_ms;              /* `with maxspan=`, in milliseconds */
    const struct mw_eql_step *until; /* NULL when absent */
    const struct mw_eql_pipe *pipes;
    size_t npipes;
    struct mw_eql_arena *arena; /* owned: every node, array and string */
};

/* ---------------------------------------------------------------------- */
/* parsing and errors                                                      */

/* Where the query text sits in its file, so that positions come out as the
 * file's: line and col are those of the text's first byte (1-based; 0 is
 * taken as 1); only positions on the text's first line are shifted by col. */
struct mw_eql_origin {
    const char *file; /* borrowed; NULL: messages have no file prefix */
    unsigned line;
    unsigned col;
};

struct mw_eql_error {
    struct mw_buf text; /* owned: "file:L:C: message\n<source line>\n   ^" */
    struct mw_buf msg;  /* owned: the message alone */
    unsigned line;      /* position of the error, origin applied */
    unsigned col;
    size_t off; /* byte offset in the query text */
};

void mw_eql_error_init(struct mw_eql_error *err);
/* Frees the buffers; err stays initialised. */
void mw_eql_error_release(struct mw_eql_error *err);

/* Parses len bytes of text (no NUL needed; NUL bytes are rejected) into a
 * query. at may be NULL (line 1, column 1, no file). Returns a new query
 * owned by the caller (free with mw_eql_free), or NULL with err filled (when
 * not NULL; it must have been initialised) for a syntax error, a limit
 * exceeded, or a construct Elasticsearch rejects (an unknown function or
 * pipe, inconsistent join keys, ...). Never aborts on any input except on
 * out-of-memory (the core's policy). */
struct mw_eql_query *mw_eql_parse(const char *text, size_t len,
                                  const struct mw_eql_origin *at,
                                  struct mw_eql_error *err);

/* Fills err (initialised) with "file:L:C: message", the source line and a
 * caret at byte offset off of text (len bytes; at may be NULL), the format
 * mw_eql_parse uses: for errors found after parsing (the compile step). */
void mw_eql_error_at(struct mw_eql_error *err, const char *text, size_t len,
                     const struct mw_eql_origin *at, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Frees q and everything in it. NULL is a no-op. */
void mw_eql_free(struct mw_eql_query *q);

/* Canonical names ("endsWith", "==", "like", "and", ...), static strings. */
const char *mw_eql_fn_name(enum mw_eql_fn fn);
const char *mw_eql_kind_name(enum mw_eql_kind kind);

/* A JSON rendering of the tree for tests and debugging. Literals are JSON
 * literals (strings as strings), a field is {"field": path[, "optional":
 * true]}, an operator is an array [name, operands...] ("and", "==", "+",
 * "neg", "in", "not in~", ":", "like~", the function name with its "~");
 * a query is {"type", "by", "maxspan_ms", "steps": [{"any"|"category",
 * "where", "by", "runs", "missing"}], "until", "pipes": [["head", N]]}
 * (keys at their default are left out). Returns a new reference. */
json_t *mw_eql_dump(const struct mw_eql_query *q);
json_t *mw_eql_dump_node(const struct mw_eql_node *n);

/* ---------------------------------------------------------------------- */
/* compiling (src/frontend/eql_compile.c)                                  */

struct mw_rule_builder;

/* Compiles q (parsed from text/len at origin at) into the detection of the
 * rule being built by b: an event query into mw_rb_query, a sequence into
 * mw_rb_seq_*, every condition into the C matchers of include/mw_match.h
 * (no Lua in the event path). What those matchers cannot express is refused
 * with err naming the construct, its position and a caret; a builder error
 * is reported the same way, at the construct that caused it. Returns 0, or
 * -1 with err filled. */
int mw_eql_compile(struct mw_rule_builder *b, const struct mw_eql_query *q,
                   const char *text, size_t len, const struct mw_eql_origin *at,
                   struct mw_eql_error *err);
/* The front-end of `.eql` rule files (src/frontend/eql_load.c, a row of
 * src/frontend/mw_frontend.c): a `// key: value` metadata header, then the
 * query. The signature of mw_frontend_load_fn; lua_dir and limits unused. */
struct mw_rule;
struct mw_error;
struct mw_sandbox_limits;
struct mw_rule *mw_eql_load(const char *path, const char *lua_dir,
                            const struct mw_sandbox_limits *limits, struct mw_error *err);

/* For a query embedded in a rule file (mw.eql[[...]] in a Lua rule): reads
 * the file at path, finds the query text at or after line line_hint (the
 * line of the call), so that positions are the file's, then builds it into
 * b. An error is "path:L:C: message" with the source line and a caret. */
int mw_eql_build_in_file(struct mw_rule_builder *b, const char *path, unsigned line_hint,
                         const char *text, size_t len, struct mw_error *err);

/* mw_eql_parse then mw_eql_compile. */
int mw_eql_build(struct mw_rule_builder *b, const char *text, size_t len,
                 const struct mw_eql_origin *at, struct mw_eql_error *err);

#endif
