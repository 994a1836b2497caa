/* mw_buf.h - a growable byte buffer (git's strbuf, curl's dynbuf)
 *
 * Invariants: ptr is never NULL after mw_buf_init (it points at a static
 * empty string until the first growth); ptr[len] is always '\0', so ptr is a
 * C string whenever the content has no NUL; cap counts the allocated bytes
 * (0 while ptr is the static empty string). Growth goes through xrealloc
 * (abort on OOM, as every core allocation). A buffer is used only through
 * these functions. Every fixed-size accumulator of the core is one of these.
 */
#ifndef MW_BUF_H
#define MW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct mw_buf {
    char *ptr;
    size_t len;
    size_t cap;
};

#define MW_BUF_INIT                                                                      \
    {                                                                                    \
        mw_buf_empty, 0, 0                                                               \
    }
extern char mw_buf_empty[];

void mw_buf_init(struct mw_buf *b);
/* Frees the storage and leaves b initialised (empty). */
void mw_buf_release(struct mw_buf *b);
/* Makes room for at least extra more bytes (plus the NUL). */
void mw_buf_grow(struct mw_buf *b, size_t extra);
/* Empties b, keeping its storage. */
void mw_buf_reset(struct mw_buf *b);
/* Shortens b to len bytes (len <= b->len). */
void mw_buf_setlen(struct mw_buf *b, size_t len);
void mw_buf_add(struct mw_buf *b, const void *data, size_t len);
void mw_buf_adds(struct mw_buf *b, const char *s);
void mw_buf_addc(struct mw_buf *b, char c);
void mw_buf_addf(struct mw_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mw_buf_vaddf(struct mw_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Returns the content as a malloc'd string (caller frees) and leaves b
 * empty; never NULL. */
char *mw_buf_detach(struct mw_buf *b, size_t *len);

#endif
