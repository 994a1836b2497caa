/* kql_int.h - private to src/frontend/kql: the lexer's tokens and errors
 *
 * The lexer turns the query into tokens one at a time on demand (the parser
 * keeps one token of lookahead). A literal token owns its unescaped text in
 * a growable buffer that the lexer reuses between tokens: the parser copies
 * what it keeps. Errors are formatted once, by kql_error, with the caret
 * line; after the first error every call returns KT_ERROR.
 */
#ifndef KQL_INT_H
#define KQL_INT_H

#include "mw_buf.h"

#include <stdbool.h>
#include <stddef.h>

enum kql_tok {
    KT_EOF,
    KT_ERROR,
    KT_LPAREN,
    KT_RPAREN,
    KT_LBRACE,
    KT_RBRACE,
    KT_COLON,
    KT_LT,
    KT_LE,
    KT_GT,
    KT_GE,
    KT_AND,
    KT_OR,
    KT_NOT,
    KT_LIT,
};

struct kql_token {
    enum kql_tok type;
    size_t pos;          /* byte offset of the token's start */
    struct mw_buf text;  /* owned: a literal's unescaped text */
    bool quoted;         /* a "quoted" literal */
    bool wildcard;       /* an unquoted literal with an unescaped '*' */
    bool literal_meta;   /* an escaped '*' or a '?' in an unquoted literal */
    bool only_wildcards; /* the unquoted literal is '*' characters only */
};

struct kql_lexer {
    const char *s;      /* borrowed query */
    size_t n;           /* bytes in s */
    size_t pos;         /* next byte to read */
    struct mw_buf *err; /* borrowed, may be NULL */
    bool failed;        /* an error was reported */
};

void kql_lex_init(struct kql_lexer *lx, const char *s, size_t n, struct mw_buf *err);

/* Reads the next token into t (whose text buffer is reset and reused).
 * Returns t->type; KT_ERROR once an error was reported. */
enum kql_tok kql_lex_next(struct kql_lexer *lx, struct kql_token *t);

/* Reports "line:column: message", the source line and a caret at byte pos
 * into lx->err (the first error only) and marks the lexer failed. */
void kql_error(struct kql_lexer *lx, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Line and column (from 1; columns in characters) of byte pos. */
void kql_position(const char *s, size_t n, size_t pos, unsigned *line, unsigned *col);

const char *kql_tok_name(enum kql_tok t);

#endif
