/* mw_kql.h - KQL (Kibana Query Language) parsed to an AST
 *
 * The query language of Elastic's `query`, `new_terms` and `threshold`
 * rules (`language = "kuery"`). The grammar is Kibana's kuery.peg: field:value,
 * quoted phrases, wildcards in values and field names, and/or/not (any
 * case), grouping, value lists field:(a or b and not c), exists field:*,
 * ranges field >= v, nested field:{ query }, backslash escapes, and free-text
 * terms without a field. One departure, documented in docs/ELASTIC.md: the
 * keyword `not` is recognised at the start of a word only (Kibana also cuts
 * "cannot be" after "can"), and `and(`, `or(`, `not(` are keywords too.
 *
 * The AST is shaped for moonwatch's matchers (mw_match.h):
 *   - MW_KQL_MATCH is one leaf over one field with a list of values, any of
 *     which may match: the value list field:(a or b or c) is one node with
 *     three values, as one mw_matcher leaf holds several values (so is
 *     field:a or field:b, when the two are adjacent in the OR). A value is
 *     exact (a quoted phrase, or unquoted without '*'), which KQL matches
 *     exactly and case-sensitively on keyword fields: MW_OP_EQ; or a
 *     wildcard pattern (unquoted with '*'), case-sensitive on keyword
 *     fields: MW_OP_LIKE. Values carry their number and boolean readings so
 *     a compile step can also match numeric and boolean fields.
 *   - MW_KQL_EXISTS is field:* (MW_OP_EXISTS), MW_KQL_RANGE a comparison
 *     (MW_OP_LT/LE/GT/GE), MW_KQL_AND/OR/NOT map onto ALL/ANY/NOT (flattened:
 *     an AND never has an AND child, an OR never an OR child).
 *   - MW_KQL_NESTED (field:{ q }) holds a query whose fields are relative to
 *     field, to be matched against one element of an array of objects.
 * Constructs parsed but not yet compilable for streaming are reported by
 * mw_kql_check with a reason: free-text terms (no field), field-name
 * patterns, and wildcard patterns holding a literal '*' or '?' (moonwatch's
 * wildcard matcher reads '?' as a wildcard and has no escape).
 *
 * Errors read "line:column: message", then the query's line and a caret
 * under the column (tabs kept so the caret lines up). Nesting (groups, not,
 * lists, nested queries) is bounded by MW_KQL_MAX_DEPTH.
 */
#ifndef MW_KQL_H
#define MW_KQL_H

#include <stdbool.h>
#include <stddef.h>

#include "mw_buf.h"
#include "mw_mem.h"

#define MW_KQL_MAX_DEPTH 64

enum mw_kql_kind {
    MW_KQL_AND,    /* kids: 2 or more */
    MW_KQL_OR,     /* kids: 2 or more */
    MW_KQL_NOT,    /* kids: 1 */
    MW_KQL_MATCH,  /* field matches any of vals; field NULL: free text */
    MW_KQL_EXISTS, /* field:* */
    MW_KQL_RANGE,  /* field op vals[0] */
    MW_KQL_NESTED, /* field:{ kids[0] } */
};

enum mw_kql_range {
    MW_KQL_LT,
    MW_KQL_LE,
    MW_KQL_GT,
    MW_KQL_GE,
};

struct mw_kql_value {
    char *s;           /* owned, unescaped, NUL-terminated (may hold NULs: use len) */
    size_t len;        /* bytes in s */
    bool quoted;       /* a "phrase": never a wildcard */
    bool wildcard;     /* unquoted with an unescaped '*': s is a pattern */
    bool literal_meta; /* a pattern that also holds a literal '*' or '?' */
    bool is_number;    /* s reads wholly as a decimal number */
    bool is_int;       /* ... and as an integer in the 64-bit range */
    double num;        /* the number (is_number) */
    long long ival;    /* the integer (is_int) */
    bool is_bool;      /* s is true or false */
    bool b;            /* the boolean (is_bool) */
};

struct mw_kql_node {
    enum mw_kql_kind kind;
    unsigned line, col;        /* where the node starts in the query, from 1 */
    char *field;               /* owned; NULL for AND/OR/NOT and free text */
    size_t field_len;          /* bytes in field */
    bool field_wildcard;       /* the field name has an unescaped '*' */
    enum mw_kql_range op;      /* RANGE */
    struct mw_kql_value *vals; /* owned array: MATCH (1 or more), RANGE (1) */
    size_t nvals;              /* entries in vals */
    struct mw_kql_node **kids; /* owned array of owned nodes */
    size_t nkids;              /* entries in kids */
};

/* Parses len bytes of src (need not be NUL-terminated) as a KQL query.
 * Returns a new tree owned by the caller (free with mw_kql_free), or NULL
 * with the message appended to err (err may be NULL). An empty query (only
 * whitespace) is refused. */
struct mw_kql_node *mw_kql_parse(const char *src, size_t len, struct mw_buf *err);

/* Frees a tree; NULL is a no-op. */
void mw_kql_free(struct mw_kql_node *n);

/* Counts the constructs of n that the streaming engine cannot compile yet
 * and, when why is not NULL, appends one "line:column: reason" line for
 * each. 0: the whole tree maps onto matchers. */
size_t mw_kql_check(const struct mw_kql_node *n, struct mw_buf *why);

/* Appends an S-expression form of n to out, for tests and `explain`:
 * (and ...), (or ...), (not ...), (match FIELD "exact" ~"pat*" ...),
 * (match _ "free text"), (exists FIELD), (ge FIELD "5"), (nested FIELD ...). */
void mw_kql_dump(const struct mw_kql_node *n, struct mw_buf *out);

/* ---- compiling: the tree into rule builder calls (kql_compile.c) ------ */

struct mw_rule_builder;

/* Writes n as one matcher into b's matcher stream (into the open group, or
 * as the root of a new tree; the caller ends it with mw_rb_match_done).
 * KQL's semantics: f:v is exact and case-sensitive (MW_OP_EQ), also
 * matching v's number and boolean readings; f:v* is MW_OP_LIKE; CIDR values
 * on address fields (*.ip) are MW_OP_CIDR; f:* is MW_OP_EXISTS; ranges take
 * numbers; and/or/not are all/any/not, and below a `not` a leaf is false,
 * not null, on an event without its field (KQL is two-valued). Returns 0,
 * or -1 with err set ("<at>: KQL line:column: reason"); for a construct the
 * matchers cannot express (free text, field-name patterns, nested queries,
 * non-numeric ranges, patterns with a literal '?'), *reason (when reason
 * is not NULL) is a static text naming the construct, else NULL. After a
 * failure the stream is unfinished: the caller frees the builder. */
int mw_kql_emit(struct mw_rule_builder *b, const struct mw_kql_node *n, const char *at,
                struct mw_error *err, const char **reason);
/* mw_kql_parse, then mw_kql_emit. A syntax error sets *reason to
 * "KQL syntax error". */
int mw_kql_emit_text(struct mw_rule_builder *b, const char *src, size_t len,
                     const char *at, struct mw_error *err, const char **reason);

#endif
