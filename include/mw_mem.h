/* mw_mem.h - allocation wrappers and the error record
 *
 * OOM policy: core allocations go through xmalloc and friends, which log and
 * abort() on failure (as jq and Redis do). The only recoverable out-of-memory
 * condition is inside a rule's Lua state, which is capped by its allocator.
 */
#ifndef MW_MEM_H
#define MW_MEM_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Frees a string allocated by jansson (json_dumps): jansson's allocator may
 * be replaced with json_set_alloc_funcs, so libc free() is not always right.
 * NULL is a no-op. */
void mw_json_free(char *s);

/* Caller-provided error record, modelled on jansson's json_error_t. */
struct mw_error {
    char msg[512];
};

/* Formats into err->msg when err is not NULL. Always returns -1 so that
 * `return mw_error_set(err, ...)` reads naturally. */
int mw_error_set(struct mw_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
