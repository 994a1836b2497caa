/* eql_lex.c - the EQL lexer: query text to an array of tokens
 *
 * Follows the lexical rules of Elasticsearch's EqlBase.g4: identifiers are
 * [A-Za-z_@][A-Za-z0-9_]* (so `@timestamp` needs no quoting), a dotted field
 * is IDENT DOT IDENT ..., `name~` is one token (a case-insensitive function,
 * or the keywords in~ like~ regex~), `![` opens a missing event, numbers are
 * integers or decimals with an optional exponent (a unit such as the `m` of
 * `30m` is the next token), keywords are lower case. Strings are "..." with
 * the escapes \b \t \n \f \r \" \' \\ \u{hex}, or raw """...""" with none;
 * Elasticsearch refuses single-quoted strings and so does this lexer, with
 * its hint. Comments are // to the end of the line and slash-star ones,
 * which nest.
 *
 * The lexer never reads past len and never needs a NUL terminator; a NUL
 * byte is an error. Decoded texts go to the arena, the token array to the
 * heap (its size is bounded by the text's).
 */
#include "frontend/eql/eql_int.h"
#include "mw_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lexer {
    const char *s;
    size_t len;
    size_t pos;
    struct mw_eql_arena *arena;
    struct eql_fail *fail;
    struct eql_token *toks; /* owned until returned */
    size_t n;
    size_t cap;
    struct mw_buf scratch; /* owned: decoding a string */
    size_t loc_off;        /* line and col are those of this offset */
    unsigned line;
    unsigned col;
};

static const struct {
    const char *word;
    enum eql_tok tok;
} keywords[] = {
    {"and", T_AND},       {"any", T_ANY},
    {"by", T_BY},         {"false", T_FALSE},
    {"in", T_IN},         {"join", T_JOIN},
    {"like", T_LIKE},     {"not", T_NOT},
    {"null", T_NULL},     {"of", T_OF},
    {"or", T_OR},         {"regex", T_REGEX},
    {"sample", T_SAMPLE}, {"sequence", T_SEQUENCE},
    {"true", T_TRUE},     {"until", T_UNTIL},
    {"where", T_WHERE},   {"with", T_WITH},
};

/* ---------------------------------------------------------------------- */
/* helpers                                                                 */

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int hexval(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int peekc(const struct lexer *lx, size_t ahead)
{
    return lx->pos + ahead < lx->len ? (unsigned char)lx->s[lx->pos + ahead] : -1;
}

static void push(struct lexer *lx, enum eql_tok type, size_t off, char *text, size_t tlen)
{
    if (lx->n == lx->cap) {
        lx->cap = lx->cap ? lx->cap * 2 : 64;
        lx->toks = xrealloc(lx->toks, lx->cap * sizeof(*lx->toks));
    }
    /* tokens come in order: the position advances incrementally */
    for (; lx->loc_off < off; lx->loc_off++) {
        unsigned char ch = (unsigned char)lx->s[lx->loc_off];
        if (ch == '\n') {
            lx->line++;
            lx->col = 1;
        } else if ((ch & 0xC0) != 0x80) {
            lx->col++;
        }
    }
    struct eql_token *t = &lx->toks[lx->n++];
    t->line = lx->line;
    t->col = lx->col;
    t->type = type;
    t->off = off;
    t->len = lx->pos - off;
    t->text = text;
    t->tlen = tlen;
}

static void utf8_put(struct mw_buf *b, unsigned long cp)
{
    if (cp < 0x80) {
        mw_buf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        mw_buf_addc(b, (char)(0xC0 | (cp >> 6)));
        mw_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        mw_buf_addc(b, (char)(0xE0 | (cp >> 12)));
        mw_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        mw_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        mw_buf_addc(b, (char)(0xF0 | (cp >> 18)));
        mw_buf_addc(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        mw_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        mw_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* ---------------------------------------------------------------------- */
/* the token kinds that need more than one character                       */

/* Skips blanks and comments. Returns -1 on an unterminated comment. */
static int skip_space(struct lexer *lx)
{
    for (;;) {
        int c = peekc(lx, 0);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            lx->pos++;
        } else if (c == '/' && peekc(lx, 1) == '/') {
            while (lx->pos < lx->len && lx->s[lx->pos] != '\n')
                lx->pos++;
        } else if (c == '/' && peekc(lx, 1) == '*') {
            size_t start = lx->pos;
            size_t level = 0;
            do {
                if (lx->pos + 1 >= lx->len) {
                    mw_eql_fail_at(lx->fail, start,
                                   "unterminated comment: '/*' without '*/'");
                    return -1;
                }
                if (lx->s[lx->pos] == '/' && lx->s[lx->pos + 1] == '*') {
                    level++;
                    lx->pos += 2;
                } else if (lx->s[lx->pos] == '*' && lx->s[lx->pos + 1] == '/') {
                    level--;
                    lx->pos += 2;
                } else {
                    lx->pos++;
                }
            } while (level > 0);
        } else {
            return 0;
        }
    }
}

static int lex_raw_string(struct lexer *lx)
{
    size_t start = lx->pos;
    size_t body = start + 3;
    for (size_t i = body; i + 2 < lx->len; i++) {
        if (lx->s[i] == '"' && lx->s[i + 1] == '"' && lx->s[i + 2] == '"') {
            /* as Elasticsearch: up to two more quotes belong to the text */
            size_t end = i + 3;
            while (end < lx->len && end < i + 5 && lx->s[end] == '"')
                end++;
            size_t tlen = end - 3 - body;
            lx->pos = end;
            if (memchr(lx->s + body, '\0', tlen) != NULL) {
                mw_eql_fail_at(lx->fail, start, "NUL byte in a string");
                return -1;
            }
            push(lx, T_STRING, start, mw_eql_arena_strndup(lx->arena, lx->s + body, tlen),
                 tlen);
            return 0;
        }
    }
    mw_eql_fail_at(lx->fail, start,
                   "unterminated raw string: '\"\"\"' without a closing '\"\"\"'");
    return -1;
}

static int lex_string(struct lexer *lx)
{
    size_t start = lx->pos;
    struct mw_buf *b = &lx->scratch;
    mw_buf_reset(b);
    lx->pos++;
    for (;;) {
        int c = peekc(lx, 0);
        if (c < 0 || c == '\n' || c == '\r') {
            mw_eql_fail_at(lx->fail, start,
                           "unterminated string: '\"' without a closing '\"'");
            return -1;
        }
        if (c == '\0') {
            mw_eql_fail_at(lx->fail, lx->pos, "NUL byte in a string");
            return -1;
        }
        if (c == '"') {
            lx->pos++;
            break;
        }
        if (c != '\\') {
            mw_buf_addc(b, (char)c);
            lx->pos++;
            continue;
        }
        size_t esc = lx->pos;
        int e = peekc(lx, 1);
        lx->pos += 2;
        switch (e) {
        case 'b':
            mw_buf_addc(b, '\b');
            break;
        case 't':
            mw_buf_addc(b, '\t');
            break;
        case 'n':
            mw_buf_addc(b, '\n');
            break;
        case 'f':
            mw_buf_addc(b, '\f');
            break;
        case 'r':
            mw_buf_addc(b, '\r');
            break;
        case '"':
        case '\'':
        case '\\':
            mw_buf_addc(b, (char)e);
            break;
        case 'u': {
            unsigned long cp = 0;
            size_t digits = 0;
            if (peekc(lx, 0) != '{') {
                mw_eql_fail_at(lx->fail, esc,
                               "bad escape: \\u must be followed by {hex digits}");
                return -1;
            }
            lx->pos++;
            int h;
            while ((h = hexval(peekc(lx, 0))) >= 0 && digits < 8) {
                cp = cp * 16 + (unsigned long)h;
                digits++;
                lx->pos++;
            }
            if (peekc(lx, 0) != '}' || digits < 2) {
                mw_eql_fail_at(lx->fail, esc,
                               "bad escape: \\u{...} takes 2 to 8 hex digits");
                return -1;
            }
            lx->pos++;
            if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                mw_eql_fail_at(lx->fail, esc,
                               "bad escape: \\u{%lx} is not a valid Unicode character",
                               cp);
                return -1;
            }
            utf8_put(b, cp);
            break;
        }
        default:
            if (e < 0) {
                mw_eql_fail_at(lx->fail, start,
                               "unterminated string: '\"' without a closing '\"'");
            } else if (e >= 0x20 && e < 0x7F) {
                mw_eql_fail_at(lx->fail, esc,
                               "bad escape '\\%c' in a string (write '\\\\' for a "
                               "backslash, or use a raw string \"\"\"...\"\"\")",
                               e);
            } else {
                mw_eql_fail_at(lx->fail, esc, "bad escape in a string");
            }
            return -1;
        }
    }
    push(lx, T_STRING, start, mw_eql_arena_strndup(lx->arena, b->ptr, b->len), b->len);
    return 0;
}

static int lex_qident(struct lexer *lx)
{
    size_t start = lx->pos;
    struct mw_buf *b = &lx->scratch;
    mw_buf_reset(b);
    lx->pos++;
    for (;;) {
        int c = peekc(lx, 0);
        if (c < 0) {
            mw_eql_fail_at(lx->fail, start,
                           "unterminated field name: '`' without a closing '`'");
            return -1;
        }
        if (c == '\0') {
            mw_eql_fail_at(lx->fail, lx->pos, "NUL byte in a field name");
            return -1;
        }
        lx->pos++;
        if (c == '`') {
            if (peekc(lx, 0) != '`')
                break;
            lx->pos++; /* `` is one backquote */
        }
        mw_buf_addc(b, (char)c);
    }
    if (b->len == 0) {
        mw_eql_fail_at(lx->fail, start, "empty field name ``");
        return -1;
    }
    push(lx, T_QIDENT, start, mw_eql_arena_strndup(lx->arena, b->ptr, b->len), b->len);
    return 0;
}

static void lex_number(struct lexer *lx)
{
    size_t start = lx->pos;
    bool dec = false;
    while (is_digit(peekc(lx, 0)))
        lx->pos++;
    if (peekc(lx, 0) == '.' && (lx->pos > start || is_digit(peekc(lx, 1)))) {
        dec = true;
        lx->pos++;
        while (is_digit(peekc(lx, 0)))
            lx->pos++;
    }
    int e = peekc(lx, 0);
    if (e == 'e' || e == 'E') {
        size_t k = 1;
        if (peekc(lx, 1) == '+' || peekc(lx, 1) == '-')
            k = 2;
        if (is_digit(peekc(lx, k))) {
            dec = true;
            lx->pos += k;
            while (is_digit(peekc(lx, 0)))
                lx->pos++;
        }
    }
    size_t n = lx->pos - start;
    push(lx, dec ? T_FLOAT : T_INT, start,
         mw_eql_arena_strndup(lx->arena, lx->s + start, n), n);
}

static void lex_word(struct lexer *lx)
{
    size_t start = lx->pos;
    lx->pos++;
    while (is_alpha(peekc(lx, 0)) || is_digit(peekc(lx, 0)) || peekc(lx, 0) == '_')
        lx->pos++;
    size_t n = lx->pos - start;
    const char *w = lx->s + start;
    if (peekc(lx, 0) == '~' && is_alpha((unsigned char)w[0])) {
        lx->pos++;
        enum eql_tok t = T_TILDE_IDENT;
        if (n == 2 && memcmp(w, "in", 2) == 0)
            t = T_IN_CI;
        else if (n == 4 && memcmp(w, "like", 4) == 0)
            t = T_LIKE_CI;
        else if (n == 5 && memcmp(w, "regex", 5) == 0)
            t = T_REGEX_CI;
        push(lx, t, start, mw_eql_arena_strndup(lx->arena, w, n), n);
        return;
    }
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        if (strlen(keywords[i].word) == n && memcmp(keywords[i].word, w, n) == 0) {
            push(lx, keywords[i].tok, start, mw_eql_arena_strndup(lx->arena, w, n), n);
            return;
        }
    }
    push(lx, T_IDENT, start, mw_eql_arena_strndup(lx->arena, w, n), n);
}

/* ---------------------------------------------------------------------- */
/* entry                                                                   */

static int lex_one(struct lexer *lx)
{
    size_t start = lx->pos;
    int c = peekc(lx, 0);
    int c1 = peekc(lx, 1);
    enum eql_tok t;
    size_t n = 1;

    if (is_alpha(c) || c == '_' || c == '@') {
        lex_word(lx);
        return 0;
    }
    if (is_digit(c) || (c == '.' && is_digit(c1))) {
        lex_number(lx);
        return 0;
    }
    switch (c) {
    case '"':
        if (c1 == '"' && peekc(lx, 2) == '"')
            return lex_raw_string(lx);
        return lex_string(lx);
    case '`':
        return lex_qident(lx);
    case '\'':
        mw_eql_fail_at(lx->fail, start,
                       "strings take double quotes (\"...\"), not single quotes");
        return -1;
    case '(':
        t = T_LP;
        break;
    case ')':
        t = T_RP;
        break;
    case '[':
        t = T_LB;
        break;
    case ']':
        t = T_RB;
        break;
    case ',':
        t = T_COMMA;
        break;
    case '.':
        t = T_DOT;
        break;
    case '|':
        t = T_PIPE;
        break;
    case '?':
        t = T_QUESTION;
        break;
    case ':':
        t = T_COLON;
        break;
    case '+':
        t = T_PLUS;
        break;
    case '-':
        t = T_MINUS;
        break;
    case '*':
        t = T_STAR;
        break;
    case '/':
        t = T_SLASH;
        break;
    case '%':
        t = T_PERCENT;
        break;
    case '=':
        t = c1 == '=' ? T_EQ : T_ASGN;
        n = c1 == '=' ? 2 : 1;
        break;
    case '<':
        t = c1 == '=' ? T_LE : T_LT;
        n = c1 == '=' ? 2 : 1;
        break;
    case '>':
        t = c1 == '=' ? T_GE : T_GT;
        n = c1 == '=' ? 2 : 1;
        break;
    case '!':
        if (c1 == '=') {
            t = T_NE;
        } else if (c1 == '[') {
            t = T_MISSING_LB;
        } else {
            mw_eql_fail_at(
                lx->fail, start,
                "unexpected '!' (write '!=', 'not', or '![' for a missing event)");
            return -1;
        }
        n = 2;
        break;
    default:
        if (c >= 0x21 && c < 0x7F)
            mw_eql_fail_at(lx->fail, start, "unexpected character '%c'", c);
        else
            mw_eql_fail_at(lx->fail, start, "unexpected byte 0x%02x", (unsigned)c);
        return -1;
    }
    lx->pos += n;
    push(lx, t, start, NULL, 0);
    return 0;
}

int mw_eql_lex(const char *text, size_t len, struct mw_eql_arena *a,
               struct eql_token **toks, size_t *ntoks, struct eql_fail *f)
{
    struct lexer lx = {.s = text, .len = len, .arena = a, .fail = f, .line = 1, .col = 1};
    int rc = -1;
    mw_buf_init(&lx.scratch);
    for (;;) {
        if (skip_space(&lx) < 0)
            goto out;
        if (lx.pos >= len)
            break;
        if (lex_one(&lx) < 0)
            goto out;
    }
    /* end of query: reported just after the last token, not on a blank
     * line or comment after it */
    lx.pos = lx.n > 0 ? lx.toks[lx.n - 1].off + lx.toks[lx.n - 1].len : 0;
    push(&lx, T_EOF, lx.pos, NULL, 0);
    *toks = lx.toks;
    *ntoks = lx.n;
    lx.toks = NULL;
    rc = 0;
out:
    free(lx.toks);
    mw_buf_release(&lx.scratch);
    return rc;
}

const char *mw_eql_tok_name(enum eql_tok t)
{
    switch (t) {
    case T_EOF:
        return "end of query";
    case T_IDENT:
        return "a name";
    case T_QIDENT:
        return "a `quoted` field name";
    case T_TILDE_IDENT:
        return "a name~";
    case T_STRING:
        return "a string";
    case T_INT:
        return "an integer";
    case T_FLOAT:
        return "a number";
    case T_LP:
        return "'('";
    case T_RP:
        return "')'";
    case T_LB:
        return "'['";
    case T_MISSING_LB:
        return "'!['";
    case T_RB:
        return "']'";
    case T_COMMA:
        return "','";
    case T_DOT:
        return "'.'";
    case T_PIPE:
        return "'|'";
    case T_QUESTION:
        return "'?'";
    case T_EQ:
        return "'=='";
    case T_NE:
        return "'!='";
    case T_LT:
        return "'<'";
    case T_LE:
        return "'<='";
    case T_GT:
        return "'>'";
    case T_GE:
        return "'>='";
    case T_ASGN:
        return "'='";
    case T_COLON:
        return "':'";
    case T_PLUS:
        return "'+'";
    case T_MINUS:
        return "'-'";
    case T_STAR:
        return "'*'";
    case T_SLASH:
        return "'/'";
    case T_PERCENT:
        return "'%'";
    case T_AND:
        return "'and'";
    case T_ANY:
        return "'any'";
    case T_BY:
        return "'by'";
    case T_FALSE:
        return "'false'";
    case T_IN:
        return "'in'";
    case T_IN_CI:
        return "'in~'";
    case T_JOIN:
        return "'join'";
    case T_LIKE:
        return "'like'";
    case T_LIKE_CI:
        return "'like~'";
    case T_NOT:
        return "'not'";
    case T_NULL:
        return "'null'";
    case T_OF:
        return "'of'";
    case T_OR:
        return "'or'";
    case T_REGEX:
        return "'regex'";
    case T_REGEX_CI:
        return "'regex~'";
    case T_SAMPLE:
        return "'sample'";
    case T_SEQUENCE:
        return "'sequence'";
    case T_TRUE:
        return "'true'";
    case T_UNTIL:
        return "'until'";
    case T_WHERE:
        return "'where'";
    case T_WITH:
        return "'with'";
    }
    return "a token";
}

void mw_eql_locate(const char *text, size_t len, size_t off, unsigned *line,
                   unsigned *col)
{
    unsigned l = 1, c = 1;
    if (off > len)
        off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char ch = (unsigned char)text[i];
        if (ch == '\n') {
            l++;
            c = 1;
        } else if ((ch & 0xC0) != 0x80) {
            c++;
        }
    }
    *line = l;
    *col = c;
}
