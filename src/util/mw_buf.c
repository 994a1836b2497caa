/* mw_buf.c - growable byte buffer (see mw_buf.h for the invariants) */
#include "mw_buf.h"
#include "mw_mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char mw_buf_empty[1];

void mw_buf_init(struct mw_buf *b)
{
    b->ptr = mw_buf_empty;
    b->len = 0;
    b->cap = 0;
}

void mw_buf_release(struct mw_buf *b)
{
    if (b->cap > 0)
        free(b->ptr);
    mw_buf_init(b);
}

void mw_buf_grow(struct mw_buf *b, size_t extra)
{
    size_t need, cap;
    if (extra >= (size_t)-1 - b->len - 1) {
        fprintf(stderr, "moonwatch: buffer size overflow\n");
        abort();
    }
    need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    if (b->cap == 0) {
        b->ptr = xmalloc(cap);
        b->ptr[0] = '\0';
    } else {
        b->ptr = xrealloc(b->ptr, cap);
    }
    b->cap = cap;
}

void mw_buf_reset(struct mw_buf *b)
{
    mw_buf_setlen(b, 0);
}

void mw_buf_setlen(struct mw_buf *b, size_t len)
{
    if (len > b->len)
        abort();
    b->len = len;
    if (b->cap > 0)
        b->ptr[len] = '\0';
}

void mw_buf_add(struct mw_buf *b, const void *data, size_t len)
{
    if (len == 0)
        return;
    mw_buf_grow(b, len);
    memcpy(b->ptr + b->len, data, len);
    b->len += len;
    b->ptr[b->len] = '\0';
}

void mw_buf_adds(struct mw_buf *b, const char *s)
{
    mw_buf_add(b, s, strlen(s));
}

void mw_buf_addc(struct mw_buf *b, char c)
{
    mw_buf_grow(b, 1);
    b->ptr[b->len++] = c;
    b->ptr[b->len] = '\0';
}

void mw_buf_vaddf(struct mw_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;
    mw_buf_grow(b, 64);
    va_copy(cp, ap);
    n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, cp);
    va_end(cp);
    if (n < 0) {
        fprintf(stderr, "moonwatch: format error in mw_buf_addf\n");
        abort();
    }
    if ((size_t)n >= b->cap - b->len) {
        mw_buf_grow(b, (size_t)n);
        n = vsnprintf(b->ptr + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void mw_buf_addf(struct mw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mw_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

char *mw_buf_detach(struct mw_buf *b, size_t *len)
{
    char *s;
    if (len)
        *len = b->len;
    if (b->cap == 0) {
        s = xstrdup("");
    } else {
        s = b->ptr;
    }
    mw_buf_init(b);
    return s;
}
