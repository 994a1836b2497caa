/* eql_int.h - private to src/frontend/eql: tokens, the arena, error helpers
 *
 * The lexer turns the whole query into an array of tokens up front (the
 * parser needs two tokens of look-ahead in a few places: `not in`, a field's
 * `[0]` index, `descendant of`); string literals are decoded into the arena
 * while lexing, so the parser never sees an escape. The arena is a list of
 * chunks; nothing allocated in it is freed before the whole query is.
 */
#ifndef EQL_INT_H
#define EQL_INT_H

#include "mw_eql.h"

#include <stdarg.h>

/* ---------------------------------------------------------------------- */
/* arena                                                                   */

struct mw_eql_arena;

struct mw_eql_arena *mw_eql_arena_new(void);
void mw_eql_arena_free(struct mw_eql_arena *a);
/* Zeroed, aligned for any type; aborts on OOM (xmalloc). */
void *mw_eql_arena_alloc(struct mw_eql_arena *a, size_t size);
/* A NUL-terminated copy of len bytes. */
char *mw_eql_arena_strndup(struct mw_eql_arena *a, const char *s, size_t len);

/* A growable array of pointers in the arena (old storage is abandoned to
 * the arena when it grows: amortised, bounded by twice the final size). */
struct mw_eql_vec {
    void **items;
    size_t n;
    size_t cap;
};
void mw_eql_vec_push(struct mw_eql_arena *a, struct mw_eql_vec *v, void *item);

/* ---------------------------------------------------------------------- */
/* tokens                                                                  */

enum eql_tok {
    T_EOF,
    T_IDENT,       /* process, user.name is IDENT DOT IDENT */
    T_QIDENT,      /* `backquoted` (text: the name, `` decoded) */
    T_TILDE_IDENT, /* endsWith~ (text: the name without ~) */
    T_STRING,      /* "..." or """...""" (text: decoded) */
    T_INT,         /* 123 (text as written) */
    T_FLOAT,       /* 1.5, .5, 1e3 */
    T_LP,
    T_RP,
    T_LB,
    T_MISSING_LB, /* ![ */
    T_RB,
    T_COMMA,
    T_DOT,
    T_PIPE,
    T_QUESTION,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_ASGN,
    T_COLON,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    /* keywords */
    T_AND,
    T_ANY,
    T_BY,
    T_FALSE,
    T_IN,
    T_IN_CI,
    T_JOIN,
    T_LIKE,
    T_LIKE_CI,
    T_NOT,
    T_NULL,
    T_OF,
    T_OR,
    T_REGEX,
    T_REGEX_CI,
    T_SAMPLE,
    T_SEQUENCE,
    T_TRUE,
    T_UNTIL,
    T_WHERE,
    T_WITH,
};

struct eql_token {
    enum eql_tok type;
    size_t off;    /* byte offset of the token in the query text */
    size_t len;    /* bytes as written */
    unsigned line; /* 1-based, of off */
    unsigned col;  /* 1-based, in UTF-8 characters */
    char *text;    /* in the arena: IDENT/QIDENT/TILDE_IDENT/STRING/numbers */
    size_t tlen;
};

/* An error being reported: the offset it points at and the message. The
 * lexer and the parser fill it; mw_eql_parse formats it with the position
 * and the caret line. */
struct eql_fail {
    bool failed;
    size_t off;
    struct mw_buf msg;
};

void mw_eql_fail_at(struct eql_fail *f, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Lexes text into *toks (an xmalloc'd array the caller frees, ending with a
 * T_EOF token). Returns 0, or -1 with f filled. */
int mw_eql_lex(const char *text, size_t len, struct mw_eql_arena *a,
               struct eql_token **toks, size_t *ntoks, struct eql_fail *f);

/* The token's name for messages: "'and'", "end of query", "a string". */
const char *mw_eql_tok_name(enum eql_tok t);

/* 1-based line and column (UTF-8 characters) of offset off in text. */
void mw_eql_locate(const char *text, size_t len, size_t off, unsigned *line,
                   unsigned *col);

#endif
