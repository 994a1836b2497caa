/* mw_toml.c - TOML 1.0 reader building a jansson tree (see mw_toml.h)
 *
 * A hand-written recursive-descent reader over one buffer: the document is
 * checked as UTF-8 first, then read line by line (a table header, a
 * key/value pair, a comment or a blank line, then the end of the line).
 * Values recurse only through arrays and inline tables, bounded by
 * MW_TOML_MAX_DEPTH together with the dotted keys and header keys above
 * them, so no input recurses deeply.
 *
 * TOML's "defined once" rules need a state per table that JSON has no room
 * for: a side dict from each object or array (its address) to flags saying
 * how it was made: implicitly by a longer header ([a.b] makes a), by its
 * own header, by dotted keys, as an inline table, as an array of tables or
 * as a static array. The rules that use them:
 *   - [x] may define x once: it may exist already only as an implicit table;
 *   - a header walks through tables (implicit, explicit or dotted) and the
 *     last element of arrays of tables, never through an inline table or a
 *     static array;
 *   - [[x]] appends to x only when x is an array of tables;
 *   - dotted keys a.b = v walk through (and create) only tables made by
 *     dotted keys, so they cannot reopen a table defined by a header or an
 *     inline table;
 *   - a key is set once.
 * Errors keep the first message only; positions are computed from the byte
 * offset when the error is raised (lines from 1, columns in characters).
 */
#include "mw_toml.h"

#include "mw_buf.h"
#include "mw_dict.h"
#include "mw_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* parser state                                                            */

enum {
    F_IMPLICIT = 1, /* made as the parent of a longer header */
    F_EXPLICIT = 2, /* defined by its own [header] or as a [[header]] element */
    F_DOTTED = 4,   /* made by a dotted key */
    F_INLINE = 8,   /* an inline table: closed */
    F_AOT = 16,     /* an array of tables */
    F_STATIC = 32,  /* a static array: closed */
};

struct parser {
    const char *s; /* borrowed document */
    size_t n;
    size_t pos;
    const char *name;     /* borrowed label for messages */
    struct mw_error *err; /* borrowed, may be NULL */
    bool failed;
    struct mw_dict *flags; /* owned: json_t address -> flags */
    int hdepth;            /* keys in the current table header */
};

struct keypath {
    struct mw_buf *k; /* owned array of keys */
    size_t n, cap;
};

static void fail_at(struct parser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail_at(struct parser *p, size_t at, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    if (p->err == NULL)
        return;
    if (at > p->n)
        at = p->n;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at; i++) {
        unsigned char c = (unsigned char)p->s[i];
        if (c == '\n') {
            line++;
            col = 1;
        } else if ((c & 0xC0) != 0x80) {
            col++;
        }
    }
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mw_error_set(p->err, "%s:%zu:%zu: %s", p->name, line, col, msg);
}

static int peek(const struct parser *p)
{
    return p->pos < p->n ? (unsigned char)p->s[p->pos] : -1;
}

static int peek_at(const struct parser *p, size_t off)
{
    return p->pos + off < p->n ? (unsigned char)p->s[p->pos + off] : -1;
}

static unsigned get_flags(const struct parser *p, const json_t *v)
{
    return (unsigned)(uintptr_t)mw_dict_get(p->flags, &v, sizeof(v));
}

static void set_flags(struct parser *p, const json_t *v, unsigned f)
{
    mw_dict_put(p->flags, &v, sizeof(v), (void *)(uintptr_t)f);
}

/* ---------------------------------------------------------------------- */
/* whitespace, comments, line ends                                         */

static void skip_ws(struct parser *p)
{
    while (peek(p) == ' ' || peek(p) == '\t')
        p->pos++;
}

static bool at_newline(const struct parser *p)
{
    return peek(p) == '\n' || (peek(p) == '\r' && peek_at(p, 1) == '\n');
}

static void eat_newline(struct parser *p)
{
    p->pos += peek(p) == '\r' ? 2 : 1;
}

/* A control character TOML allows nowhere outside strings' escapes: all of
 * U+0000..U+001F but tab, and U+007F. Newlines are handled by callers. */
static bool is_bad_control(int c)
{
    return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

/* Skips a comment if one starts here (up to, not including, the newline). */
static void skip_comment(struct parser *p)
{
    if (peek(p) != '#')
        return;
    while (p->pos < p->n && !at_newline(p)) {
        if (is_bad_control(peek(p))) {
            fail_at(p, p->pos, "control character 0x%02x in a comment", peek(p));
            return;
        }
        p->pos++;
    }
}

/* Whitespace, an optional comment, then a newline or the end. */
static void expect_eol(struct parser *p)
{
    skip_ws(p);
    skip_comment(p);
    if (p->failed || p->pos >= p->n)
        return;
    if (at_newline(p))
        eat_newline(p);
    else if (peek(p) == '\r')
        fail_at(p, p->pos, "carriage return not followed by a newline");
    else
        fail_at(p, p->pos, "expected the end of the line, found '%c'", peek(p));
}

/* Whitespace, newlines and comments (inside arrays). */
static void skip_ws_nl(struct parser *p)
{
    for (;;) {
        skip_ws(p);
        skip_comment(p);
        if (p->failed || !at_newline(p))
            return;
        eat_newline(p);
    }
}

/* ---------------------------------------------------------------------- */
/* strings                                                                 */

static void add_utf8(struct mw_buf *b, uint32_t cp)
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

/* At the character after a backslash: one escape into b. */
static void read_escape(struct parser *p, struct mw_buf *b)
{
    size_t at = p->pos - 1;
    int c = peek(p);
    int digits = 0;
    switch (c) {
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
        mw_buf_addc(b, '"');
        break;
    case '\\':
        mw_buf_addc(b, '\\');
        break;
    case 'u':
        digits = 4;
        break;
    case 'U':
        digits = 8;
        break;
    default:
        if (c < 0x20 || c >= 0x7f)
            fail_at(p, at, "invalid escape sequence");
        else
            fail_at(p, at, "invalid escape sequence '\\%c'", c);
        return;
    }
    p->pos++;
    if (digits == 0)
        return;
    uint32_t cp = 0;
    for (int i = 0; i < digits; i++) {
        int h = hexval(peek(p));
        if (h < 0) {
            fail_at(p, at, "\\%c needs %d hexadecimal digits", c, digits);
            return;
        }
        cp = cp * 16 + (uint32_t)h;
        p->pos++;
    }
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        fail_at(p, at, "escape \\%c is not a Unicode scalar value", c);
        return;
    }
    add_utf8(b, cp);
}

/* At the opening quote(s). ml: a """ or ''' string. */
static void read_string(struct parser *p, struct mw_buf *b, bool literal, bool ml)
{
    size_t start = p->pos;
    char q = literal ? '\'' : '"';
    p->pos += ml ? 3 : 1;
    if (ml && at_newline(p))
        eat_newline(p); /* a newline right after the delimiter is trimmed */
    for (;;) {
        if (p->pos >= p->n) {
            fail_at(p, start, "unterminated string");
            return;
        }
        int c = peek(p);
        if (c == q) {
            if (!ml) {
                p->pos++;
                return;
            }
            size_t run = 0;
            while (peek_at(p, run) == q)
                run++;
            if (run < 3) {
                mw_buf_add(b, p->s + p->pos, run);
                p->pos += run;
                continue;
            }
            if (run > 5) {
                fail_at(p, p->pos + 5,
                        "too many quotes at the end of a multi-line string");
                return;
            }
            mw_buf_add(b, p->s + p->pos, run - 3);
            p->pos += run;
            return;
        }
        if (at_newline(p)) {
            if (!ml) {
                fail_at(p, p->pos, "newline in a single-line string");
                return;
            }
            eat_newline(p);
            mw_buf_addc(b, '\n');
            continue;
        }
        if (c == '\\' && !literal) {
            p->pos++;
            if (ml) {
                /* line-ending backslash: whitespace, a newline, then every
                 * whitespace and newline up to the next other character */
                size_t save = p->pos;
                skip_ws(p);
                if (at_newline(p)) {
                    while (peek(p) == ' ' || peek(p) == '\t' || at_newline(p)) {
                        if (at_newline(p))
                            eat_newline(p);
                        else
                            p->pos++;
                    }
                    continue;
                }
                p->pos = save;
            }
            read_escape(p, b);
            if (p->failed)
                return;
            continue;
        }
        if (is_bad_control(c)) {
            fail_at(p, p->pos, "control character 0x%02x in a string", c);
            return;
        }
        mw_buf_addc(b, (char)c);
        p->pos++;
    }
}

static bool at_ml_string(const struct parser *p, char q)
{
    return peek(p) == q && peek_at(p, 1) == q && peek_at(p, 2) == q;
}

/* ---------------------------------------------------------------------- */
/* keys                                                                    */

static bool is_bare(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

static void keypath_free(struct keypath *kp)
{
    for (size_t i = 0; i < kp->n; i++)
        mw_buf_release(&kp->k[i]);
    free(kp->k);
    kp->k = NULL;
    kp->n = kp->cap = 0;
}

/* key = simple-key *( ws '.' ws simple-key ); leaves pos after the key. */
static void read_key(struct parser *p, struct keypath *kp, int depth)
{
    for (;;) {
        if (depth + (int)kp->n >= MW_TOML_MAX_DEPTH) {
            fail_at(p, p->pos, "nesting deeper than %d levels", MW_TOML_MAX_DEPTH);
            return;
        }
        if (kp->n == kp->cap) {
            kp->cap = kp->cap ? kp->cap * 2 : 4;
            kp->k = xrealloc(kp->k, kp->cap * sizeof(*kp->k));
        }
        struct mw_buf *b = &kp->k[kp->n++];
        mw_buf_init(b);
        size_t at = p->pos;
        int c = peek(p);
        if (c == '"' || c == '\'') {
            if (at_ml_string(p, (char)c)) {
                fail_at(p, at, "a multi-line string cannot be a key");
                return;
            }
            read_string(p, b, c == '\'', false);
            if (p->failed)
                return;
            if (memchr(b->ptr, '\0', b->len) != NULL) {
                fail_at(p, at, "a key with a NUL character has no JSON form here");
                return;
            }
        } else if (is_bare(c)) {
            while (is_bare(peek(p)))
                mw_buf_addc(b, (char)p->s[p->pos++]);
        } else if (c < 0) {
            fail_at(p, at, "expected a key, found the end of the document");
            return;
        } else if (c == '\n' || c == '\r') {
            fail_at(p, at, "expected a key, found the end of the line");
            return;
        } else {
            fail_at(p, at, "expected a key, found '%c'", c);
            return;
        }
        skip_ws(p);
        if (peek(p) != '.')
            return;
        p->pos++;
        skip_ws(p);
    }
}

/* ---------------------------------------------------------------------- */
/* numbers and dates                                                       */

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* Digits of a base with single underscores between them, copied without the
 * underscores to out; returns the count or -1 on a misplaced underscore. */
static int digits_us(const char *s, size_t n, size_t *i, int base, struct mw_buf *out)
{
    int count = 0;
    bool prev_digit = false;
    while (*i < n) {
        int c = (unsigned char)s[*i];
        int v = hexval(c);
        if (c == '_') {
            if (!prev_digit)
                return -1;
            prev_digit = false;
            (*i)++;
            continue;
        }
        if (v < 0 || v >= base)
            break;
        mw_buf_addc(out, (char)c);
        prev_digit = true;
        count++;
        (*i)++;
    }
    if (count > 0 && !prev_digit)
        return -1; /* trailing underscore */
    return count;
}

static bool two_digits(const char *s, size_t n, size_t i, int *v)
{
    if (i + 2 > n || !is_digit(s[i]) || !is_digit(s[i + 1]))
        return false;
    *v = (s[i] - '0') * 10 + (s[i + 1] - '0');
    return true;
}

/* HH:MM:SS[.frac] at s[*i]; advances. */
static bool scan_time(const char *s, size_t n, size_t *i)
{
    int h, m, sec;
    if (!two_digits(s, n, *i, &h) || *i + 2 >= n || s[*i + 2] != ':' ||
        !two_digits(s, n, *i + 3, &m) || *i + 5 >= n || s[*i + 5] != ':' ||
        !two_digits(s, n, *i + 6, &sec))
        return false;
    if (h > 23 || m > 59 || sec > 60)
        return false;
    *i += 8;
    if (*i < n && s[*i] == '.') {
        size_t j = *i + 1;
        while (j < n && is_digit(s[j]))
            j++;
        if (j == *i + 1)
            return false;
        *i = j;
    }
    return true;
}

static bool valid_date(const char *s, size_t n)
{
    int y1, y2, mo, d;
    if (n < 10 || !two_digits(s, n, 0, &y1) || !two_digits(s, n, 2, &y2) || s[4] != '-' ||
        !two_digits(s, n, 5, &mo) || s[7] != '-' || !two_digits(s, n, 8, &d))
        return false;
    int y = y1 * 100 + y2;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(mo == 2 && d == 29 && !leap);
}

/* A date, date-time or time token s[0..n): true when well formed. */
static bool valid_datetime(const char *s, size_t n)
{
    size_t i = 0;
    if (n >= 3 && s[2] == ':')
        return scan_time(s, n, &i) && i == n; /* local time */
    if (!valid_date(s, n))
        return false;
    if (n == 10)
        return true; /* local date */
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return false;
    i = 11;
    if (!scan_time(s, n, &i))
        return false;
    if (i == n)
        return true; /* local date-time */
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n)
        return true;
    int oh, om;
    if ((s[i] == '+' || s[i] == '-') && i + 6 == n && two_digits(s, n, i + 1, &oh) &&
        s[i + 3] == ':' && two_digits(s, n, i + 4, &om))
        return oh <= 23 && om <= 59;
    return false;
}

static bool is_token_char(int c)
{
    return is_bare(c) || c == '+' || c == '.' || c == ':';
}

/* A number, boolean or date at pos. */
static json_t *read_scalar(struct parser *p)
{
    size_t at = p->pos, end = p->pos;
    const char *s = p->s + at;
    json_t *v = NULL;
    struct mw_buf digits = MW_BUF_INIT;
    while (end < p->n && is_token_char((unsigned char)p->s[end]))
        end++;
    /* a date and a time may be separated by one space */
    if (end - at == 10 && end + 3 < p->n && p->s[end] == ' ' && is_digit(p->s[end + 1]) &&
        is_digit(p->s[end + 2]) && p->s[end + 3] == ':' && valid_date(s, 10)) {
        end++;
        while (end < p->n && is_token_char((unsigned char)p->s[end]))
            end++;
    }
    size_t n = end - at;
    if (n == 0) {
        int c = peek(p);
        if (c < 0)
            fail_at(p, at, "expected a value, found the end of the document");
        else if (c == '\n' || c == '\r')
            fail_at(p, at, "expected a value, found the end of the line");
        else
            fail_at(p, at, "expected a value, found '%c'", c);
        goto out;
    }
    if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        v = json_boolean(n == 4);
        goto out;
    }
    size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
    if ((n - i == 3) && (memcmp(s + i, "inf", 3) == 0 || memcmp(s + i, "nan", 3) == 0)) {
        fail_at(p, at, "inf and nan have no JSON form");
        goto out;
    }
    if (n >= 5 && is_digit(s[0]) && (s[2] == ':' || s[4] == '-')) {
        if (!valid_datetime(s, n)) {
            fail_at(p, at, "invalid date or time '%.*s'", (int)(n > 64 ? 64 : n), s);
            goto out;
        }
        v = json_stringn(s, n);
        goto out;
    }
    if (n - i >= 2 && s[i] == '0' &&
        (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
        int base = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
        if (i != 0) {
            fail_at(p, at, "a sign is not allowed before 0%c", s[i + 1]);
            goto out;
        }
        i += 2;
        if (digits_us(s, n, &i, base, &digits) <= 0 || i != n) {
            fail_at(p, at, "invalid integer '%.*s'", (int)(n > 64 ? 64 : n), s);
            goto out;
        }
        uint64_t u = 0;
        for (size_t k = 0; k < digits.len; k++) {
            uint64_t d = (uint64_t)hexval((unsigned char)digits.ptr[k]);
            if (u > (UINT64_C(0x7fffffffffffffff) - d) / (uint64_t)base) {
                fail_at(p, at, "integer out of the 64-bit range");
                goto out;
            }
            u = u * (uint64_t)base + d;
        }
        v = json_integer((json_int_t)u);
        goto out;
    }
    /* decimal integer or float */
    mw_buf_add(&digits, s, i);
    size_t int_start = i;
    int nd = digits_us(s, n, &i, 10, &digits);
    bool is_float = false;
    if (nd <= 0)
        goto bad;
    if (nd > 1 && s[int_start] == '0') {
        fail_at(p, at, "leading zeros are not allowed in '%.*s'", (int)(n > 64 ? 64 : n),
                s);
        goto out;
    }
    if (i < n && s[i] == '.') {
        is_float = true;
        mw_buf_addc(&digits, '.');
        i++;
        if (digits_us(s, n, &i, 10, &digits) <= 0)
            goto bad;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        is_float = true;
        mw_buf_addc(&digits, 'e');
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            mw_buf_addc(&digits, s[i++]);
        if (digits_us(s, n, &i, 10, &digits) <= 0)
            goto bad;
    }
    if (i != n)
        goto bad;
    errno = 0;
    if (is_float) {
        double d = strtod(digits.ptr, NULL);
        if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
            fail_at(p, at, "float out of range");
            goto out;
        }
        v = json_real(d);
    } else {
        long long ll = strtoll(digits.ptr, NULL, 10);
        if (errno == ERANGE) {
            fail_at(p, at, "integer out of the 64-bit range");
            goto out;
        }
        v = json_integer((json_int_t)ll);
    }
    goto out;
bad:
    fail_at(p, at, "invalid value '%.*s'", (int)(n > 64 ? 64 : n), s);
out:
    if (!p->failed)
        p->pos = end;
    mw_buf_release(&digits);
    return v;
}

/* ---------------------------------------------------------------------- */
/* values, arrays, inline tables                                           */

static json_t *read_value(struct parser *p, int depth);
static void read_keyval(struct parser *p, json_t *table, int depth);

static json_t *read_array(struct parser *p, int depth)
{
    json_t *arr = json_array();
    p->pos++; /* [ */
    for (;;) {
        skip_ws_nl(p);
        if (p->failed)
            goto fail;
        if (peek(p) == ']')
            break;
        json_t *v = read_value(p, depth + 1);
        if (v == NULL)
            goto fail;
        json_array_append_new(arr, v);
        skip_ws_nl(p);
        if (p->failed)
            goto fail;
        if (peek(p) == ',') {
            p->pos++;
            continue;
        }
        if (peek(p) == ']')
            break;
        if (peek(p) < 0)
            fail_at(p, p->pos, "unterminated array");
        else
            fail_at(p, p->pos, "expected ',' or ']' in an array, found '%c'", peek(p));
        goto fail;
    }
    p->pos++; /* ] */
    set_flags(p, arr, F_STATIC);
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

static json_t *read_inline(struct parser *p, int depth)
{
    json_t *obj = json_object();
    p->pos++; /* { */
    skip_ws(p);
    if (peek(p) == '}') {
        p->pos++;
        set_flags(p, obj, F_INLINE);
        return obj;
    }
    for (;;) {
        skip_ws(p);
        read_keyval(p, obj, depth);
        if (p->failed)
            goto fail;
        skip_ws(p);
        if (peek(p) == ',') {
            p->pos++;
            skip_ws(p);
            if (peek(p) == '}') {
                fail_at(p, p->pos, "trailing comma in an inline table");
                goto fail;
            }
            continue;
        }
        if (peek(p) == '}')
            break;
        if (at_newline(p))
            fail_at(p, p->pos, "newline in an inline table");
        else if (peek(p) < 0)
            fail_at(p, p->pos, "unterminated inline table");
        else
            fail_at(p, p->pos, "expected ',' or '}' in an inline table, found '%c'",
                    peek(p));
        goto fail;
    }
    p->pos++; /* } */
    set_flags(p, obj, F_INLINE);
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

static json_t *read_value(struct parser *p, int depth)
{
    if (depth >= MW_TOML_MAX_DEPTH) {
        fail_at(p, p->pos, "nesting deeper than %d levels", MW_TOML_MAX_DEPTH);
        return NULL;
    }
    int c = peek(p);
    if (c == '"' || c == '\'') {
        struct mw_buf b = MW_BUF_INIT;
        read_string(p, &b, c == '\'', at_ml_string(p, (char)c));
        json_t *v = p->failed ? NULL : json_stringn(b.ptr, b.len);
        mw_buf_release(&b);
        return v;
    }
    if (c == '[')
        return read_array(p, depth);
    if (c == '{')
        return read_inline(p, depth + 1);
    return read_scalar(p);
}

/* ---------------------------------------------------------------------- */
/* key/value pairs and tables                                              */

/* key = value into table (dotted keys walk through dotted tables only). */
static void read_keyval(struct parser *p, json_t *table, int depth)
{
    struct keypath kp = {0};
    size_t at = p->pos;
    json_t *v = NULL;
    read_key(p, &kp, depth);
    if (p->failed)
        goto out;
    skip_ws(p);
    if (peek(p) != '=') {
        if (peek(p) < 0 || at_newline(p))
            fail_at(p, p->pos, "expected '=' after the key");
        else
            fail_at(p, p->pos, "expected '=' after the key, found '%c'", peek(p));
        goto out;
    }
    p->pos++;
    skip_ws(p);
    v = read_value(p, depth + (int)kp.n);
    if (v == NULL)
        goto out;
    json_t *t = table;
    for (size_t i = 0; i + 1 < kp.n; i++) {
        json_t *child = json_object_get(t, kp.k[i].ptr);
        if (child == NULL) {
            child = json_object();
            json_object_set_new(t, kp.k[i].ptr, child);
            set_flags(p, child, F_DOTTED);
        } else if (!json_is_object(child) || !(get_flags(p, child) & F_DOTTED)) {
            fail_at(p, at, "cannot add to '%s' with a dotted key: it is already defined",
                    kp.k[i].ptr);
            goto out;
        }
        t = child;
    }
    const char *last = kp.k[kp.n - 1].ptr;
    if (json_object_get(t, last) != NULL) {
        fail_at(p, at, "duplicate key '%s'", last);
        goto out;
    }
    json_object_set_new(t, last, v);
    v = NULL;
out:
    json_decref(v);
    keypath_free(&kp);
}

/* [key] or [[key]] at pos; returns the table new pairs go into (borrowed). */
static json_t *read_header(struct parser *p, json_t *root)
{
    struct keypath kp = {0};
    size_t at = p->pos;
    bool aot = peek_at(p, 1) == '[';
    json_t *t = root, *result = NULL;
    p->pos += aot ? 2 : 1;
    skip_ws(p);
    read_key(p, &kp, 0);
    if (p->failed)
        goto out;
    if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
        fail_at(p, p->pos, "expected '%s' to close the table header", aot ? "]]" : "]");
        goto out;
    }
    p->pos += aot ? 2 : 1;
    p->hdepth = (int)kp.n;
    for (size_t i = 0; i + 1 < kp.n; i++) {
        const char *k = kp.k[i].ptr;
        json_t *child = json_object_get(t, k);
        if (child == NULL) {
            child = json_object();
            json_object_set_new(t, k, child);
            set_flags(p, child, F_IMPLICIT);
        } else if (json_is_array(child)) {
            if (!(get_flags(p, child) & F_AOT) || json_array_size(child) == 0) {
                fail_at(p, at, "'%s' is a static array, not a table", k);
                goto out;
            }
            child = json_array_get(child, json_array_size(child) - 1);
        } else if (!json_is_object(child)) {
            fail_at(p, at, "'%s' is a value, not a table", k);
            goto out;
        } else if (get_flags(p, child) & F_INLINE) {
            fail_at(p, at, "'%s' is an inline table and cannot be extended", k);
            goto out;
        }
        t = child;
    }
    const char *last = kp.k[kp.n - 1].ptr;
    json_t *cur = json_object_get(t, last);
    if (aot) {
        if (cur == NULL) {
            cur = json_array();
            json_object_set_new(t, last, cur);
            set_flags(p, cur, F_AOT);
        } else if (!json_is_array(cur) || !(get_flags(p, cur) & F_AOT)) {
            fail_at(p, at, "'%s' is already defined and is not an array of tables", last);
            goto out;
        }
        json_t *elem = json_object();
        json_array_append_new(cur, elem);
        set_flags(p, elem, F_EXPLICIT);
        result = elem;
        goto out;
    }
    if (cur == NULL) {
        cur = json_object();
        json_object_set_new(t, last, cur);
        set_flags(p, cur, F_EXPLICIT);
    } else if (json_is_array(cur)) {
        fail_at(p, at, "'%s' is already defined as an array, not a table", last);
        goto out;
    } else if (!json_is_object(cur)) {
        fail_at(p, at, "'%s' is already defined as a value, not a table", last);
        goto out;
    } else if (get_flags(p, cur) != F_IMPLICIT) {
        fail_at(p, at, "table '%s' is defined twice", last);
        goto out;
    } else {
        set_flags(p, cur, F_EXPLICIT);
    }
    result = cur;
out:
    keypath_free(&kp);
    return result;
}

/* ---------------------------------------------------------------------- */
/* document                                                                */

/* Offset of the first byte that is not well-formed UTF-8, or n. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + len > n)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += len;
    }
    return n;
}

json_t *mw_toml_parse(const char *src, size_t len, const char *name, struct mw_error *err)
{
    struct parser p = {.s = src, .n = len, .name = name ? name : "<toml>", .err = err};
    json_t *root = json_object();
    json_t *cur = root;
    p.flags = mw_dict_new();
    if (src == NULL && len > 0) {
        fail_at(&p, 0, "no input");
        goto out;
    }
    size_t bad = utf8_check((const unsigned char *)src, len);
    if (bad < len) {
        fail_at(&p, bad, "invalid UTF-8");
        goto out;
    }
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0)
        p.pos = 3;
    set_flags(&p, root, F_EXPLICIT);
    while (!p.failed && p.pos < p.n) {
        skip_ws(&p);
        int c = peek(&p);
        if (c == '[') {
            cur = read_header(&p, root);
        } else if (c != '#' && c >= 0 && !at_newline(&p)) {
            read_keyval(&p, cur, p.hdepth);
        }
        if (p.failed)
            break;
        expect_eol(&p);
    }
out:
    mw_dict_free(p.flags);
    if (p.failed) {
        json_decref(root);
        return NULL;
    }
    return root;
}

json_t *mw_toml_load_file(const char *path, struct mw_error *err)
{
    size_t len = 0;
    char *buf = mw_file_read(path, 16u * 1024 * 1024, &len, err);
    if (buf == NULL)
        return NULL;
    json_t *root = mw_toml_parse(buf, len, path, err);
    free(buf);
    return root;
}
