/* mw_pool.h - the allocator behind jansson: per-thread size-class caches
 *
 * A parsed ECS event is a few hundred small blocks (one per value, one per
 * object member, one per string copy), all freed together when the event is
 * done. glibc's malloc handles that well while every tree dies right after it
 * is born (the bare parse loop), less well once some trees live on for
 * minutes of event time (sequence state) and others are freed on another
 * thread (parser threads): then a third of moonwatch's profile was
 * _int_malloc, _int_free and malloc_consolidate.
 *
 * The pool gives each thread a free list per size class (16-byte steps up to
 * MW_POOL_MAX bytes, header included), filled from 64 KiB chunks. A block
 * freed on another thread goes to that thread's list; a list that reaches
 * MW_POOL_MAGAZINE blocks is set aside whole as a "magazine", and a thread
 * holding two hands one to a shared depot under a mutex, where any thread
 * that runs dry takes it back (no list is ever walked). Memory thus
 * moves between threads in batches, one lock per MW_POOL_MAGAZINE blocks.
 * Chunks are kept for the life of the process (reused, never returned), as
 * malloc's arenas mostly are; mw_pool_shutdown() releases them at exit.
 * Blocks larger than MW_POOL_MAX go to malloc.
 *
 * Blocks are 8-byte aligned (an 8-byte header before each), which is all
 * jansson's structures need. MW_JSON_ALLOC=system in the environment, or
 * building with -DMW_POOL_DEFAULT_OFF (the ASan build, so that ASan sees every
 * jansson block), keeps jansson on malloc.
 */
#ifndef MW_POOL_H
#define MW_POOL_H

#include <stddef.h>
#include <stdint.h>

#define MW_POOL_GRAIN 16
#define MW_POOL_MAX 1024 /* largest pooled block, header included */
#define MW_POOL_CHUNK 65536
#define MW_POOL_MAGAZINE                                                                 \
    256 /* blocks per hand-over to the depot; a                                          \
           thread keeps at most two per class */

/* Never returns NULL: aborts on out of memory, like xmalloc. */
void *mw_pool_alloc(size_t size);
/* NULL is a no-op. Any thread may free any block. */
void mw_pool_free(void *p);

/* Makes the pool jansson's allocator (json_set_alloc_funcs) unless
 * MW_JSON_ALLOC=system (or the build's default is off). Call once, before any
 * jansson value exists and before any thread starts. Returns 1 when the pool
 * is in use. */
int mw_pool_install(void);
/* Whether mw_pool_install put the pool in place. */
int mw_pool_installed(void);

/* Hands the calling thread's cached blocks to the depot (call before a
 * thread that used the pool exits, so its blocks are not stranded). */
void mw_pool_thread_flush(void);

/* Frees every chunk. Only when no pooled block is in use any more (at exit,
 * after every jansson value is gone). */
void mw_pool_shutdown(void);

struct mw_pool_stats {
    uint64_t chunks;       /* 64 KiB chunks taken from malloc */
    uint64_t depot_blocks; /* blocks waiting in the depot */
    uint64_t large_live;   /* blocks above MW_POOL_MAX not yet freed */
};
void mw_pool_stats(struct mw_pool_stats *st);

#endif
