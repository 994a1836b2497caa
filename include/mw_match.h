/* mw_match.h - declarative matchers compiled to C
 *
 * A matcher tree is built once at rule load and evaluated per event without
 * entering Lua, except for MW_OP_FN nodes, which call back into the rule's
 * Lua state through the context. Evaluation is three-valued as in EQL: a
 * comparison on a missing or null field is null, `not null` is null, `all`
 * is false if any child is false else null if any child is null, `any` is
 * true if any child is true else null if any is null; a null `where` does
 * not match. An array-valued field matches when any element matches.
 */
#ifndef MW_MATCH_H
#define MW_MATCH_H

#include <jansson.h>
#include <stdbool.h>

#include "mw_event.h"
#include "mw_field.h"
#include "mw_mem.h"

enum mw_tv {
    MW_FALSE = 0,
    MW_TRUE = 1,
    MW_NULL = 2,
};

enum mw_op {
    MW_OP_EQ,
    MW_OP_IEQ,  /* EQL ':' case-insensitive, with * and ? wildcards */
    MW_OP_LIKE, /* case-sensitive wildcards */
    MW_OP_PREFIX,
    MW_OP_SUFFIX,
    MW_OP_CONTAINS,
    MW_OP_LT,
    MW_OP_LE,
    MW_OP_GT,
    MW_OP_GE,
    MW_OP_EXISTS,
    MW_OP_CIDR,
    MW_OP_CATEGORY,
    MW_OP_REGEX, /* EQL regex: whole-value Lucene regular expression (mw_regex.h) */
    MW_OP_ALL,
    MW_OP_ANY,
    MW_OP_NOT,
    MW_OP_FN, /* Lua predicate */
};

struct mw_matcher;

/* Calls a Lua predicate. Returns MW_TRUE/MW_FALSE, or MW_NULL when the call
 * failed (the callee counts and reports the failure). */
struct mw_match_ctx {
    enum mw_tv (*call_fn)(void *ud, int fn_ref, const struct mw_event *ev);
    void *ud;
};

/* Constructors. Each returns a new matcher owned by the caller (or by the
 * parent it is added to). Leaf constructors take ownership of `path`. */
struct mw_matcher *mw_matcher_new_leaf(enum mw_op op, struct mw_path *path);
struct mw_matcher *mw_matcher_new_group(enum mw_op op); /* ALL, ANY, NOT */
struct mw_matcher *mw_matcher_new_fn(int fn_ref);

/* Adds a value to a leaf. Strings are copied. Returns -1 with err set when
 * the value does not fit the operator (e.g. a non-number for LT, a bad
 * CIDR). */
int mw_matcher_add_string(struct mw_matcher *m, const char *s, size_t len, bool ci,
                          struct mw_error *err);
int mw_matcher_add_number(struct mw_matcher *m, double v, bool is_int,
                          struct mw_error *err);
int mw_matcher_add_bool(struct mw_matcher *m, bool v, struct mw_error *err);
/* Takes ownership of child. */
void mw_matcher_add_child(struct mw_matcher *m, struct mw_matcher *child);

void mw_matcher_free(struct mw_matcher *m);

/* Reorders the children of every all/any so that children without Lua
 * predicates come first (stable). Semantics are unchanged: all/any are
 * commutative in EQL's three-valued logic. Call once after compiling. */
void mw_matcher_optimize(struct mw_matcher *m);

/* true when m or a descendant is a Lua predicate */
bool mw_matcher_has_fn(const struct mw_matcher *m);

/* Checks arity after construction (a leaf with values, NOT with one child). */
int mw_matcher_validate(const struct mw_matcher *m, struct mw_error *err);

enum mw_tv mw_matcher_eval(const struct mw_matcher *m, const struct mw_event *ev,
                           const struct mw_match_ctx *ctx);

/* Why a matcher gave its result, for `moonwatch explain`: the leaf that
 * decided it (the first false child of an `all`, the first alternative of an
 * `any` that matched nothing, the child of a `not`), with its field, the
 * values it wanted and the value the event has. The three text fields are
 * display fields of one `explain` line: built whole (mw_buf), then cut to
 * their size with a closing "..." when longer. */
struct mw_match_why {
    enum mw_tv result;
    const char *op;     /* "eq", "ieq", ..., "fn"; "" when nothing to blame */
    char field[256];    /* the leaf's field path, "" for predicates */
    char expected[256]; /* rendered values ("'a', 'b'") */
    char actual[256];   /* the event's value as JSON, or "missing" */
    bool negated;       /* the leaf sits under a `not` */
    int alternatives;   /* > 0: an `any` of that many where none matched */
};

/* Evaluates like mw_matcher_eval (same result, same predicate calls plus
 * at most one per level) and fills why. Not for the hot path. */
enum mw_tv mw_matcher_explain(const struct mw_matcher *m, const struct mw_event *ev,
                              const struct mw_match_ctx *ctx, struct mw_match_why *why);

/* Case-insensitive (ASCII) wildcard match of s against pattern: '*' is any
 * run, '?' exactly one byte. Exposed for tests. */
bool mw_wildcard_match(const char *pat, size_t plen, const char *s, size_t slen, bool ci);

/* Parses "addr/len" (IPv4 or IPv6) into a 16-byte network; IPv4 is stored
 * as an IPv4-mapped address with len + 96. Returns 0 or -1. */
int mw_cidr_parse(const char *s, unsigned char net[16], int *prefix);
/* Parses an IPv4/IPv6 address into 16 bytes (IPv4-mapped). 0 or -1. */
int mw_ip_parse(const char *s, size_t len, unsigned char addr[16]);

/* ---------------------------------------------------------------------- */
/* literals for the prefilter                                              */

/* A literal that appears in the raw JSON text of an event: s (len bytes,
 * lowercased when ci) is borrowed from the matcher and valid while it lives. */
struct mw_lit {
    const char *s;
    size_t len;
    bool ci; /* compare ASCII case-insensitively */
};

/* A clause: every event the matcher accepts contains at least one of lits
 * in the raw text of one of its string values (assuming the value is written
 * without JSON escapes; the prefilter deals with escapes). */
struct mw_litset {
    struct mw_lit *lits; /* owned array */
    size_t n;
};

/* Necessary conditions: every accepted event satisfies every clause, so any
 * one clause can serve as the prefilter of the matcher. n == 0: none. */
struct mw_litcnf {
    struct mw_litset *sets; /* owned array */
    size_t n;
};

/* Derives the clauses of m. `all`: the clauses of every child; `any`: one
 * clause, the union of the best clause of each child (none if a child has
 * none); eq/category/prefix/suffix/contains on strings: the values; ieq and
 * like: the longest run between wildcards, unless the pattern could match a
 * number's text (numbers can be written many ways in JSON); numbers, booleans,
 * comparisons, exists, cidr, not and Lua predicates: none. Empty literals
 * are dropped with their clause. Appends to *out (initialised to {0}). */
void mw_matcher_literals(const struct mw_matcher *m, struct mw_litcnf *out);
void mw_litcnf_free(struct mw_litcnf *c);
/* true when a literal holds a byte JSON may write as a short escape
 * (quote, backslash, slash, control) */
bool mw_lit_escapable(const struct mw_lit *l);
/* Prefers clauses that scan fast and select well: no escapable bytes, case
 * sensitive, few and long literals. Higher is better. */
double mw_litset_score(const struct mw_litset *s);

#endif
