/* mw_pool.c - the allocator behind jansson: per-thread size-class caches
 *
 * See mw_pool.h for why. Layout of a block: an 8-byte header holding its size
 * class (or LARGE_TAG for a malloc'd one), then the caller's bytes; a free
 * block's first payload word links it into a list. A thread's lists live in
 * thread-local storage and are touched by that thread only; the depot (full
 * magazines of MW_POOL_MAGAZINE blocks per class) and the chunk list are
 * shared under one mutex, taken once per magazine or chunk.
 */
#include "mw_pool.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCLASS (MW_POOL_MAX / MW_POOL_GRAIN)
#define HDR 8
#define LARGE_TAG UINT64_MAX
#define CHUNK_HDR 16 /* keeps blocks 16-byte aligned within a chunk */

struct blk {
    uint64_t hdr;     /* size class, or LARGE_TAG */
    struct blk *next; /* while free: the next block of its list */
};

struct chunk {
    struct chunk *next;
};

struct mag {
    struct blk *head;
    uint32_t n;
};

struct tcache {
    struct blk *head[NCLASS]; /* the list allocations pop and frees push */
    uint32_t n[NCLASS];       /* its length, at most MW_POOL_MAGAZINE */
    struct blk *full[NCLASS]; /* a full magazine held aside, or NULL */
    char *bump, *bump_end;    /* the rest of this thread's current chunk */
};

static _Thread_local struct tcache tc;

static struct {
    pthread_mutex_t lock;
    struct mag *mags[NCLASS];
    size_t len[NCLASS], cap[NCLASS];
    _Atomic size_t avail[NCLASS]; /* len, readable without the lock */
    struct chunk *chunks;
    uint64_t nchunks;
} depot = {.lock = PTHREAD_MUTEX_INITIALIZER};

static atomic_ullong large_live;
static int installed;

static void oom(size_t size)
{
    fprintf(stderr, "moonwatch: out of memory allocating %zu bytes\n", size);
    abort();
}

static void *large_alloc(size_t size)
{
    struct blk *b = size <= SIZE_MAX - HDR ? malloc(size + HDR) : NULL;
    if (b == NULL)
        oom(size);
    b->hdr = LARGE_TAG;
    atomic_fetch_add_explicit(&large_live, 1, memory_order_relaxed);
    return (char *)b + HDR;
}

/* Pushes a magazine to the depot. Called with the lock not held. */
static void depot_put(unsigned cls, struct blk *head, uint32_t n)
{
    pthread_mutex_lock(&depot.lock);
    if (depot.len[cls] == depot.cap[cls]) {
        size_t cap = depot.cap[cls] ? depot.cap[cls] * 2 : 8;
        struct mag *v = realloc(depot.mags[cls], cap * sizeof(*v));
        if (v == NULL) {
            pthread_mutex_unlock(&depot.lock);
            oom(cap * sizeof(*v));
        }
        depot.mags[cls] = v;
        depot.cap[cls] = cap;
    }
    depot.mags[cls][depot.len[cls]++] = (struct mag){head, n};
    atomic_store_explicit(&depot.avail[cls], depot.len[cls], memory_order_relaxed);
    pthread_mutex_unlock(&depot.lock);
}

/* Takes a magazine from the depot into the thread's empty list. Returns 0
 * when the depot has none. */
static int depot_take(unsigned cls)
{
    int got = 0;
    if (atomic_load_explicit(&depot.avail[cls], memory_order_relaxed) == 0)
        return 0; /* racy peek: at worst we carve one block too many */
    pthread_mutex_lock(&depot.lock);
    if (depot.len[cls] > 0) {
        struct mag m = depot.mags[cls][--depot.len[cls]];
        atomic_store_explicit(&depot.avail[cls], depot.len[cls], memory_order_relaxed);
        tc.head[cls] = m.head;
        tc.n[cls] = m.n;
        got = 1;
    }
    pthread_mutex_unlock(&depot.lock);
    return got;
}

static void new_chunk(void)
{
    struct chunk *c = malloc(MW_POOL_CHUNK);
    if (c == NULL)
        oom(MW_POOL_CHUNK);
    pthread_mutex_lock(&depot.lock);
    c->next = depot.chunks;
    depot.chunks = c;
    depot.nchunks++;
    pthread_mutex_unlock(&depot.lock);
    tc.bump = (char *)c + CHUNK_HDR;
    tc.bump_end = (char *)c + MW_POOL_CHUNK;
}

static struct blk *refill(unsigned cls)
{
    size_t bs = (size_t)(cls + 1) * MW_POOL_GRAIN;
    struct blk *b;

    if (tc.full[cls] != NULL) {
        tc.head[cls] = tc.full[cls];
        tc.full[cls] = NULL;
        tc.n[cls] = MW_POOL_MAGAZINE;
        return tc.head[cls];
    }
    if (depot_take(cls))
        return tc.head[cls];
    if ((size_t)(tc.bump_end - tc.bump) < bs)
        new_chunk(); /* the old chunk's tail (< MW_POOL_MAX bytes) stays unused */
    b = (struct blk *)tc.bump;
    tc.bump += bs;
    b->hdr = cls;
    b->next = NULL;
    tc.head[cls] = b;
    tc.n[cls] = 1;
    return b;
}

void *mw_pool_alloc(size_t size)
{
    size_t need = size + HDR;
    unsigned cls;
    struct blk *b;

    if (need > MW_POOL_MAX || need < size)
        return large_alloc(size);
    cls = (unsigned)((need - 1) / MW_POOL_GRAIN);
    b = tc.head[cls];
    if (b == NULL)
        b = refill(cls);
    tc.head[cls] = b->next;
    tc.n[cls]--;
    __builtin_prefetch(b->next); /* the next call's block: often cold */
    return (char *)b + HDR;
}

/* The thread's list of a class is a full magazine: set it aside, sending
 * the one already set aside (if any) to the depot. No list is walked. */
static void spill(unsigned cls)
{
    if (tc.full[cls] != NULL)
        depot_put(cls, tc.full[cls], MW_POOL_MAGAZINE);
    tc.full[cls] = tc.head[cls];
    tc.head[cls] = NULL;
    tc.n[cls] = 0;
}

void mw_pool_free(void *p)
{
    struct blk *b;
    uint64_t cls;

    if (p == NULL)
        return;
    b = (struct blk *)((char *)p - HDR);
    cls = b->hdr;
    if (cls == LARGE_TAG) {
        atomic_fetch_sub_explicit(&large_live, 1, memory_order_relaxed);
        free(b);
        return;
    }
    b->next = tc.head[cls];
    tc.head[cls] = b;
    if (++tc.n[cls] == MW_POOL_MAGAZINE)
        spill((unsigned)cls);
}

void mw_pool_thread_flush(void)
{
    for (unsigned cls = 0; cls < NCLASS; cls++) {
        if (tc.n[cls] > 0)
            depot_put(cls, tc.head[cls], tc.n[cls]);
        if (tc.full[cls] != NULL)
            depot_put(cls, tc.full[cls], MW_POOL_MAGAZINE);
        tc.head[cls] = tc.full[cls] = NULL;
        tc.n[cls] = 0;
    }
    tc.bump = tc.bump_end = NULL; /* the chunk's unused tail is left behind */
}

int mw_pool_install(void)
{
    const char *env = getenv("MW_JSON_ALLOC");
#ifdef MW_POOL_DEFAULT_OFF
    int on = 0;
#else
    int on = 1;
#endif
    if (env != NULL && strcmp(env, "system") == 0)
        on = 0;
    else if (env != NULL && strcmp(env, "pool") == 0)
        on = 1;
    if (on)
        json_set_alloc_funcs(mw_pool_alloc, mw_pool_free);
    else
        json_set_alloc_funcs(malloc, free);
    installed = on;
    return on;
}

int mw_pool_installed(void)
{
    return installed;
}

void mw_pool_shutdown(void)
{
    pthread_mutex_lock(&depot.lock);
    while (depot.chunks != NULL) {
        struct chunk *c = depot.chunks;
        depot.chunks = c->next;
        free(c);
    }
    depot.nchunks = 0;
    for (unsigned cls = 0; cls < NCLASS; cls++) {
        free(depot.mags[cls]);
        depot.mags[cls] = NULL;
        depot.len[cls] = depot.cap[cls] = 0;
        atomic_store_explicit(&depot.avail[cls], 0, memory_order_relaxed);
    }
    pthread_mutex_unlock(&depot.lock);
    memset(&tc, 0, sizeof(tc));
}

void mw_pool_stats(struct mw_pool_stats *st)
{
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&depot.lock);
    st->chunks = depot.nchunks;
    for (unsigned cls = 0; cls < NCLASS; cls++)
        for (size_t i = 0; i < depot.len[cls]; i++)
            st->depot_blocks += depot.mags[cls][i].n;
    pthread_mutex_unlock(&depot.lock);
    st->large_live = atomic_load_explicit(&large_live, memory_order_relaxed);
}
