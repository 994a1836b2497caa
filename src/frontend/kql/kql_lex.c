/* kql_lex.c - KQL tokens: punctuation, keywords, quoted and unquoted literals
 *
 * Follows Kibana's kuery.peg, where the grammar has no separate lexer: an
 * unquoted literal is a run of characters up to a special character
 * ( \ ( ) : < > " { } ), and it may hold spaces: "a b" in field:a b is one
 * literal, cut before a space-separated keyword (or, and, not) and before
 * trailing whitespace. Keywords are any case and must be followed by
 * whitespace; here also by '(' or the end of the query (so a dangling
 * "a:b and" is an error, not the value "b and"), and `not` counts only at
 * the start of a word. '*' is a wildcard in an unquoted literal.
 *
 * Escapes in unquoted literals: \ before a special character or '*' gives
 * that character (an escaped '*' is a literal star), \t \r \n whitespace,
 * \uXXXX a code point, \or \and \not the keyword's text (tried after \n, as
 * in Kibana: "\not" is a newline and "ot"); any other escape is
 * an error. Quoted literals: \" and \\ give the character, \t \r \n and
 * \uXXXX as above, and any other backslash is kept as it is (Kibana keeps
 * "C:\Windows" as written).
 */
#include "kql_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void kql_lex_init(struct kql_lexer *lx, const char *s, size_t n, struct mw_buf *err)
{
    lx->s = s;
    lx->n = n;
    lx->pos = 0;
    lx->err = err;
    lx->failed = false;
}

const char *kql_tok_name(enum kql_tok t)
{
    switch (t) {
    case KT_EOF:
        return "the end of the query";
    case KT_ERROR:
        return "an error";
    case KT_LPAREN:
        return "'('";
    case KT_RPAREN:
        return "')'";
    case KT_LBRACE:
        return "'{'";
    case KT_RBRACE:
        return "'}'";
    case KT_COLON:
        return "':'";
    case KT_LT:
        return "'<'";
    case KT_LE:
        return "'<='";
    case KT_GT:
        return "'>'";
    case KT_GE:
        return "'>='";
    case KT_AND:
        return "'and'";
    case KT_OR:
        return "'or'";
    case KT_NOT:
        return "'not'";
    case KT_LIT:
        return "a value";
    }
    return "?";
}

void kql_position(const char *s, size_t n, size_t pos, unsigned *line, unsigned *col)
{
    unsigned l = 1, c = 1;
    if (pos > n)
        pos = n;
    for (size_t i = 0; i < pos; i++) {
        unsigned char ch = (unsigned char)s[i];
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

void kql_error(struct kql_lexer *lx, size_t pos, const char *fmt, ...)
{
    if (lx->failed)
        return;
    lx->failed = true;
    if (lx->err == NULL)
        return;
    if (pos > lx->n)
        pos = lx->n;
    unsigned line, col;
    kql_position(lx->s, lx->n, pos, &line, &col);
    mw_buf_addf(lx->err, "%u:%u: ", line, col);
    va_list ap;
    va_start(ap, fmt);
    mw_buf_vaddf(lx->err, fmt, ap);
    va_end(ap);
    size_t start = pos, end = pos;
    while (start > 0 && lx->s[start - 1] != '\n')
        start--;
    while (end < lx->n && lx->s[end] != '\n' && lx->s[end] != '\r')
        end++;
    mw_buf_addc(lx->err, '\n');
    for (size_t i = start; i < end; i++) {
        unsigned char ch = (unsigned char)lx->s[i];
        /* control characters would garble the terminal (or end the string) */
        mw_buf_addc(lx->err, (ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : (char)ch);
    }
    mw_buf_addc(lx->err, '\n');
    for (size_t i = start; i < pos; i++) {
        unsigned char ch = (unsigned char)lx->s[i];
        if (ch == '\t')
            mw_buf_addc(lx->err, '\t');
        else if ((ch & 0xC0) != 0x80)
            mw_buf_addc(lx->err, ' ');
    }
    mw_buf_addc(lx->err, '^');
}

/* ---------------------------------------------------------------------- */
/* character classes                                                       */

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* ends an unquoted literal ('*' does not: it is a wildcard) */
static bool is_special(int c)
{
    return c == '\\' || c == '(' || c == ')' || c == ':' || c == '<' || c == '>' ||
           c == '"' || c == '{' || c == '}';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Length of the keyword (or, and, not) at i when one starts there and is
 * followed by whitespace or '('; 0 otherwise. */
static size_t keyword_at(const struct kql_lexer *lx, size_t i, enum kql_tok *kind)
{
    static const struct {
        const char *w;
        size_t len;
        enum kql_tok t;
    } kw[] = {{"or", 2, KT_OR}, {"and", 3, KT_AND}, {"not", 3, KT_NOT}};
    for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
        if (i + kw[k].len > lx->n)
            continue;
        size_t j = 0;
        while (j < kw[k].len && lower((unsigned char)lx->s[i + j]) == kw[k].w[j])
            j++;
        if (j < kw[k].len)
            continue;
        int after = i + j < lx->n ? (unsigned char)lx->s[i + j] : -1;
        if (after < 0 || is_space(after) || after == '(') {
            if (kind != NULL)
                *kind = kw[k].t;
            return kw[k].len;
        }
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void add_utf8(struct mw_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        mw_buf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        mw_buf_addc(b, (char)(0xC0 | (cp >> 6)));
        mw_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        mw_buf_addc(b, (char)(0xE0 | (cp >> 12)));
        mw_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        mw_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* \uXXXX at lx->pos (the backslash): adds the code point and advances, or
 * returns false (nothing consumed) when four hex digits do not follow. */
static bool unicode_escape(struct kql_lexer *lx, struct mw_buf *b)
{
    if (lx->pos + 6 > lx->n || lx->s[lx->pos + 1] != 'u')
        return false;
    unsigned cp = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hexval((unsigned char)lx->s[lx->pos + k]);
        if (h < 0)
            return false;
        cp = cp * 16 + (unsigned)h;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD; /* a lone surrogate: the replacement character */
    add_utf8(b, cp);
    lx->pos += 6;
    return true;
}

static bool whitespace_escape(struct kql_lexer *lx, struct mw_buf *b)
{
    if (lx->pos + 1 >= lx->n)
        return false;
    char c = lx->s[lx->pos + 1];
    char out = c == 't' ? '\t' : c == 'r' ? '\r' : c == 'n' ? '\n' : 0;
    if (out == 0)
        return false;
    mw_buf_addc(b, out);
    lx->pos += 2;
    return true;
}

/* ---------------------------------------------------------------------- */
/* literals                                                                */

static enum kql_tok lex_quoted(struct kql_lexer *lx, struct kql_token *t)
{
    size_t start = lx->pos;
    t->quoted = true;
    lx->pos++;
    for (;;) {
        if (lx->pos >= lx->n) {
            kql_error(lx, start, "unterminated quoted string");
            return t->type = KT_ERROR;
        }
        char c = lx->s[lx->pos];
        if (c == '"') {
            lx->pos++;
            return t->type = KT_LIT;
        }
        if (c == '\\' && lx->pos + 1 < lx->n) {
            char d = lx->s[lx->pos + 1];
            if (d == '"' || d == '\\') {
                mw_buf_addc(&t->text, d);
                lx->pos += 2;
                continue;
            }
            if (whitespace_escape(lx, &t->text) || unicode_escape(lx, &t->text))
                continue;
        }
        mw_buf_addc(&t->text, c); /* any other backslash stays */
        lx->pos++;
    }
}

static enum kql_tok lex_unquoted(struct kql_lexer *lx, struct kql_token *t)
{
    bool only_stars = true;
    for (;;) {
        if (lx->pos >= lx->n)
            break;
        int c = (unsigned char)lx->s[lx->pos];
        if (is_space(c)) {
            /* whitespace belongs to the literal unless a keyword, a special
             * character or the end comes after it */
            size_t j = lx->pos;
            while (j < lx->n && is_space((unsigned char)lx->s[j]))
                j++;
            if (j >= lx->n || is_special((unsigned char)lx->s[j]) ||
                keyword_at(lx, j, NULL) > 0)
                break;
            mw_buf_add(&t->text, lx->s + lx->pos, j - lx->pos);
            lx->pos = j;
            only_stars = false;
            continue;
        }
        if (c == '\\') {
            size_t at = lx->pos;
            int d = lx->pos + 1 < lx->n ? (unsigned char)lx->s[lx->pos + 1] : -1;
            only_stars = false;
            if (d == '*') {
                t->literal_meta = true;
                mw_buf_addc(&t->text, '*');
                lx->pos += 2;
                continue;
            }
            if (d >= 0 && is_special(d)) {
                mw_buf_addc(&t->text, (char)d);
                lx->pos += 2;
                continue;
            }
            if (whitespace_escape(lx, &t->text) || unicode_escape(lx, &t->text))
                continue;
            /* \or \and \not: the keyword as text */
            static const char *const words[] = {"or", "and", "not"};
            bool done = false;
            for (size_t k = 0; k < 3 && !done; k++) {
                size_t wl = strlen(words[k]);
                if (lx->pos + 1 + wl > lx->n)
                    continue;
                size_t m = 0;
                while (m < wl &&
                       lower((unsigned char)lx->s[lx->pos + 1 + m]) == words[k][m])
                    m++;
                if (m == wl) {
                    mw_buf_add(&t->text, lx->s + lx->pos + 1, wl);
                    lx->pos += 1 + wl;
                    done = true;
                }
            }
            if (done)
                continue;
            if (d < 0)
                kql_error(lx, at, "a backslash at the end of the query");
            else if (d < 0x20 || d >= 0x7f)
                kql_error(lx, at, "invalid escape sequence");
            else
                kql_error(lx, at, "invalid escape sequence '\\%c'", d);
            return t->type = KT_ERROR;
        }
        if (is_special(c))
            break;
        if (c == '*') {
            t->wildcard = true;
        } else {
            only_stars = false;
            if (c == '?')
                t->literal_meta = true;
        }
        mw_buf_addc(&t->text, (char)c);
        lx->pos++;
    }
    t->only_wildcards = t->wildcard && only_stars;
    if (!t->wildcard)
        t->literal_meta = false; /* only patterns care */
    return t->type = KT_LIT;
}

enum kql_tok kql_lex_next(struct kql_lexer *lx, struct kql_token *t)
{
    mw_buf_reset(&t->text);
    t->quoted = t->wildcard = t->literal_meta = t->only_wildcards = false;
    if (lx->failed)
        return t->type = KT_ERROR;
    while (lx->pos < lx->n && is_space((unsigned char)lx->s[lx->pos]))
        lx->pos++;
    t->pos = lx->pos;
    if (lx->pos >= lx->n)
        return t->type = KT_EOF;
    char c = lx->s[lx->pos];
    bool two = lx->pos + 1 < lx->n && lx->s[lx->pos + 1] == '=';
    switch (c) {
    case '(':
        lx->pos++;
        return t->type = KT_LPAREN;
    case ')':
        lx->pos++;
        return t->type = KT_RPAREN;
    case '{':
        lx->pos++;
        return t->type = KT_LBRACE;
    case '}':
        lx->pos++;
        return t->type = KT_RBRACE;
    case ':':
        lx->pos++;
        return t->type = KT_COLON;
    case '<':
        lx->pos += two ? 2 : 1;
        return t->type = two ? KT_LE : KT_LT;
    case '>':
        lx->pos += two ? 2 : 1;
        return t->type = two ? KT_GE : KT_GT;
    case '"':
        return lex_quoted(lx, t);
    default:
        break;
    }
    enum kql_tok kw;
    size_t kl = keyword_at(lx, lx->pos, &kw);
    if (kl > 0) {
        lx->pos += kl;
        return t->type = kw;
    }
    return lex_unquoted(lx, t);
}
