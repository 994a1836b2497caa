/* mw_regex.c - Lucene regular expressions compiled to PCRE2 (mw_regex.h)
 *
 * The translation walks the Lucene pattern once. Outside a class every
 * ASCII punctuation character that Lucene reads literally is escaped for
 * PCRE2 (`^`, `$`, ...); groups become non-capturing; a quantifier that
 * follows another (`a**`, `a*+`, legal in Lucene) wraps what it repeats in
 * a group first, since PCRE2 would read `*+` as possessive. Bytes >= 0x80
 * pass through (UTF-8 sequences are one character to PCRE2 in UTF mode).
 *
 * Match data is per thread (a pthread key whose destructor frees it), the
 * match context per pattern (read-only while matching).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "mw_regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mw_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    bool jit;
};

static atomic_uint_fast64_t limit_hits;

uint64_t mw_regex_limit_hits(void)
{
    return (uint64_t)atomic_load(&limit_hits);
}

/* ---------------------------------------------------------------------- */
/* translation                                                             */

struct tr {
    const char *p;
    size_t len, i;
    struct mw_buf *out;
    struct mw_error *err;
    const char *pat;
};

static int tr_fail(struct tr *t, const char *why)
{
    return mw_error_set(t->err, "regex '%.*s': %s at offset %zu",
                        (int)(t->len > 120 ? 120 : t->len), t->pat, why, t->i);
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* one literal byte, escaped for PCRE2 when it is ASCII punctuation */
static void lit(struct mw_buf *o, unsigned char c)
{
    if (c < 0x80 && !is_alnum(c) && c != ' ') {
        if (c < 0x20 || c == 0x7f) {
            mw_buf_addf(o, "\\x{%x}", c);
            return;
        }
        mw_buf_addc(o, '\\');
    }
    mw_buf_addc(o, (char)c);
}

static bool shorthand(char c)
{
    return c == 'd' || c == 'D' || c == 's' || c == 'S' || c == 'w' || c == 'W';
}

/* [...] starting at t->i (on '['); leaves t->i after ']' */
static int tr_class(struct tr *t)
{
    struct mw_buf *o = t->out;
    size_t items = 0;
    t->i++;
    mw_buf_addc(o, '[');
    if (t->i < t->len && t->p[t->i] == '^') {
        mw_buf_addc(o, '^');
        t->i++;
    }
    for (;;) {
        if (t->i >= t->len)
            return tr_fail(t, "unterminated character class");
        unsigned char c = (unsigned char)t->p[t->i];
        if (c == ']') {
            if (items == 0)
                return tr_fail(t, "empty character class");
            t->i++;
            mw_buf_addc(o, ']');
            return 0;
        }
        if (c == '\\') {
            if (t->i + 1 >= t->len)
                return tr_fail(t, "'\\' at the end of the pattern");
            c = (unsigned char)t->p[++t->i];
            if (shorthand((char)c)) {
                mw_buf_addc(o, '\\');
                mw_buf_addc(o, (char)c);
                t->i++;
                items++;
                continue;
            }
        }
        lit(o, c);
        t->i++;
        items++;
        /* a range: c-d (a '-' before ']' is literal) */
        if (t->i + 1 < t->len && t->p[t->i] == '-' && t->p[t->i + 1] != ']') {
            unsigned char d = (unsigned char)t->p[t->i + 1];
            t->i += 2;
            if (d == '\\') {
                if (t->i >= t->len)
                    return tr_fail(t, "'\\' at the end of the pattern");
                d = (unsigned char)t->p[t->i++];
            }
            if (d < 0x80 && c < 0x80 && d < c)
                return tr_fail(t, "character class range out of order");
            mw_buf_addc(o, '-');
            lit(o, d);
        }
    }
}

/* {n}, {n,}, {n,m} at t->i (on '{'); appends it and leaves t->i after '}' */
static int tr_repeat(struct tr *t)
{
    unsigned long n = 0, m = 0;
    bool comma = false, digits = false, digits2 = false;
    size_t j = t->i + 1;
    for (; j < t->len && t->p[j] >= '0' && t->p[j] <= '9'; j++, digits = true)
        if ((n = n * 10 + (unsigned long)(t->p[j] - '0')) > 65535)
            return tr_fail(t, "repeat count above 65535");
    if (j < t->len && t->p[j] == ',') {
        comma = true;
        for (j++; j < t->len && t->p[j] >= '0' && t->p[j] <= '9'; j++, digits2 = true)
            if ((m = m * 10 + (unsigned long)(t->p[j] - '0')) > 65535)
                return tr_fail(t, "repeat count above 65535");
    }
    if (j >= t->len || t->p[j] != '}' || !digits)
        return tr_fail(t, "'{' must start a repeat {n}, {n,} or {n,m}");
    if (digits2 && m < n)
        return tr_fail(t, "repeat {n,m} with m < n");
    if (!comma)
        mw_buf_addf(t->out, "{%lu}", n);
    else if (digits2)
        mw_buf_addf(t->out, "{%lu,%lu}", n, m);
    else
        mw_buf_addf(t->out, "{%lu,}", n);
    t->i = j + 1;
    return 0;
}

#define MAX_GROUPS 256

int mw_regex_translate(const char *lucene, size_t len, struct mw_buf *out,
                       struct mw_error *err)
{
    struct tr t = {lucene, len, 0, out, err, lucene};
    size_t base = out->len;
    size_t groups[MAX_GROUPS];
    size_t ngroups = 0;
    size_t atom = (size_t)-1; /* start (in out) of the last atom, -1: none */
    bool quantified = false;  /* the last atom already has a quantifier */

    if (len > MW_REGEX_MAX_PATTERN)
        return mw_error_set(err, "regex longer than %u bytes", MW_REGEX_MAX_PATTERN);
    while (t.i < len) {
        unsigned char c = (unsigned char)lucene[t.i];
        size_t start = out->len;
        switch (c) {
        case '*':
        case '+':
        case '?':
        case '{':
            if (atom == (size_t)-1)
                return tr_fail(&t, "quantifier with nothing to repeat");
            if (quantified) {
                /* Lucene's a** / a*? / a*+: repeat the repeated atom */
                size_t tail = out->len - atom;
                char *copy = xmalloc(tail + 1);
                memcpy(copy, out->ptr + atom, tail);
                mw_buf_setlen(out, atom);
                mw_buf_adds(out, "(?:");
                mw_buf_add(out, copy, tail);
                mw_buf_addc(out, ')');
                free(copy);
            }
            if (c == '{') {
                if (tr_repeat(&t) < 0)
                    goto fail;
            } else {
                mw_buf_addc(out, (char)c);
                t.i++;
            }
            quantified = true;
            continue;
        case '|':
            mw_buf_addc(out, '|');
            t.i++;
            atom = (size_t)-1;
            quantified = false;
            continue;
        case '(':
            if (ngroups == MAX_GROUPS)
                return tr_fail(&t, "groups nested too deep");
            groups[ngroups++] = out->len;
            mw_buf_adds(out, "(?:");
            t.i++;
            atom = (size_t)-1;
            quantified = false;
            continue;
        case ')':
            if (ngroups == 0)
                return tr_fail(&t, "')' without '('");
            start = groups[--ngroups];
            mw_buf_addc(out, ')');
            t.i++;
            break;
        case '[':
            if (tr_class(&t) < 0)
                goto fail;
            break;
        case '.':
            mw_buf_addc(out, '.');
            t.i++;
            break;
        case '"': {
            const char *end = memchr(lucene + t.i + 1, '"', len - t.i - 1);
            if (end == NULL)
                return tr_fail(&t, "unterminated '\"' literal");
            size_t n = (size_t)(end - (lucene + t.i + 1));
            mw_buf_adds(out, "(?:");
            for (size_t k = 0; k < n; k++)
                lit(out, (unsigned char)lucene[t.i + 1 + k]);
            mw_buf_addc(out, ')');
            t.i += n + 2;
            break;
        }
        case '\\':
            if (t.i + 1 >= len)
                return tr_fail(&t, "'\\' at the end of the pattern");
            c = (unsigned char)lucene[t.i + 1];
            if (shorthand((char)c)) {
                mw_buf_addc(out, '\\');
                mw_buf_addc(out, (char)c);
            } else {
                lit(out, c);
            }
            t.i += 2;
            break;
        case '@':
            return tr_fail(&t, "Lucene's any-string operator '@' is not supported "
                               "(write .* or escape it as \\@)");
        case '&':
            return tr_fail(&t, "Lucene's intersection operator '&' is not supported "
                               "(escape it as \\&)");
        case '~':
            return tr_fail(&t, "Lucene's complement operator '~' is not supported "
                               "(escape it as \\~)");
        case '#':
            return tr_fail(&t, "Lucene's empty-language operator '#' is not supported "
                               "(escape it as \\#)");
        case '<':
            return tr_fail(&t, "Lucene's numeric interval '<n-m>' is not supported "
                               "(write a character class, or escape it as \\<)");
        default:
            lit(out, c);
            t.i++;
            /* a UTF-8 sequence is one atom: take its continuation bytes */
            while (c >= 0xc0 && t.i < len && ((unsigned char)lucene[t.i] & 0xc0) == 0x80)
                mw_buf_addc(out, lucene[t.i++]);
            break;
        }
        atom = start;
        quantified = false;
    }
    if (ngroups != 0)
        return tr_fail(&t, "'(' without ')'");
    return 0;
fail:
    mw_buf_setlen(out, base);
    return -1;
}

/* ---------------------------------------------------------------------- */
/* compile and match                                                       */

struct mw_regex *mw_regex_compile(const char *lucene, size_t len, bool ci,
                                  struct mw_error *err)
{
    struct mw_buf pat = MW_BUF_INIT;
    int code;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOTALL | PCRE2_ANCHORED |
                    PCRE2_ENDANCHORED | PCRE2_NO_AUTO_CAPTURE;

    if (ci)
        opts |= PCRE2_CASELESS;
    if (mw_regex_translate(lucene, len, &pat, err) < 0) {
        mw_buf_release(&pat);
        return NULL;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.ptr, pat.len, opts, &code, &off, NULL);
    mw_buf_release(&pat);
    if (re == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof(msg));
        mw_error_set(err, "regex '%.*s': %s", (int)(len > 120 ? 120 : len), lucene,
                     (const char *)msg);
        return NULL;
    }
    struct mw_regex *r = xcalloc(1, sizeof(*r));
    r->code = re;
    r->jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    r->mctx = pcre2_match_context_create(NULL);
    if (r->mctx == NULL)
        abort();
    pcre2_set_match_limit(r->mctx, MW_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(r->mctx, MW_REGEX_DEPTH_LIMIT);
    return r;
}

void mw_regex_free(struct mw_regex *re)
{
    if (re == NULL)
        return;
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}

bool mw_regex_jit(const struct mw_regex *re)
{
    return re->jit;
}

static pthread_key_t md_key;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_free(void *p)
{
    pcre2_match_data_free(p);
}

static void md_init(void)
{
    if (pthread_key_create(&md_key, md_free) != 0)
        abort();
}

static pcre2_match_data *thread_md(void)
{
    pcre2_match_data *md;
    pthread_once(&md_once, md_init);
    md = pthread_getspecific(md_key);
    if (md == NULL) {
        md = pcre2_match_data_create(1, NULL);
        if (md == NULL || pthread_setspecific(md_key, md) != 0)
            abort();
    }
    return md;
}

bool mw_regex_match(const struct mw_regex *re, const char *s, size_t len)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, thread_md(), re->mctx);
    if (rc >= 0)
        return true;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        atomic_fetch_add(&limit_hits, 1);
    return false;
}
