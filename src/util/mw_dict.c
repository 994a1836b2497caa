/* mw_dict.c - chained hash table with inline keys
 *
 * Power-of-two bucket array, doubled when the load factor reaches 1. Each
 * entry holds its key in a flexible array member so a lookup touches one
 * allocation per probe. The table never shrinks below its initial size, but
 * it halves when it drops under 1/8 full so memory returns after a burst of
 * join keys expires.
 *
 * Keys come from events, so the hash is keyed: mw_hash_bytes is SipHash-2-4
 * under a random per-process seed (mw_siphash.c); a chain is as long as
 * chance makes it, whatever keys an attacker sends. Because bucket order
 * then differs from run to run, entries also sit on a list in insertion
 * order, which mw_dict_foreach follows: iteration (state files,
 * checkpoints, reports) is the same in every run.
 */
#include "mw_dict.h"
#include "mw_mem.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;          /* bucket chain */
    struct entry *onext, *oprev; /* insertion order */
    uint64_t hash;
    void *val; /* borrowed */
    size_t klen;
    unsigned char key[];
};

struct mw_dict {
    struct entry **buckets; /* owned */
    size_t nbuckets;        /* power of two */
    size_t size;
    struct entry *first, *last; /* insertion order */
};

#define INITIAL_BUCKETS 16

struct mw_dict *mw_dict_new(void)
{
    struct mw_dict *d = xcalloc(1, sizeof(*d));
    d->nbuckets = INITIAL_BUCKETS;
    d->buckets = xcalloc(d->nbuckets, sizeof(*d->buckets));
    return d;
}

void mw_dict_free(struct mw_dict *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct entry *e = d->buckets[i];
        while (e) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(d->buckets);
    free(d);
}

static void rehash(struct mw_dict *d, size_t nbuckets)
{
    struct entry **nb = xcalloc(nbuckets, sizeof(*nb));
    for (size_t i = 0; i < d->nbuckets; i++) {
        struct entry *e = d->buckets[i];
        while (e) {
            struct entry *next = e->next;
            size_t idx = e->hash & (nbuckets - 1);
            e->next = nb[idx];
            nb[idx] = e;
            e = next;
        }
    }
    free(d->buckets);
    d->buckets = nb;
    d->nbuckets = nbuckets;
}

static struct entry **find(const struct mw_dict *d, const void *key, size_t klen,
                           uint64_t hash)
{
    struct entry **pp = &d->buckets[hash & (d->nbuckets - 1)];
    while (*pp) {
        struct entry *e = *pp;
        if (e->hash == hash && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return pp;
        pp = &e->next;
    }
    return pp;
}

void *mw_dict_get(const struct mw_dict *d, const void *key, size_t klen)
{
    struct entry **pp = find(d, key, klen, mw_hash_bytes(key, klen));
    return *pp ? (*pp)->val : NULL;
}

void *mw_dict_put(struct mw_dict *d, const void *key, size_t klen, void *val)
{
    uint64_t h = mw_hash_bytes(key, klen);
    struct entry **pp = find(d, key, klen, h);
    if (*pp) {
        void *old = (*pp)->val;
        (*pp)->val = val;
        return old;
    }
    struct entry *e = xmalloc(sizeof(*e) + klen);
    e->next = NULL;
    e->hash = h;
    e->val = val;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->onext = NULL;
    e->oprev = d->last;
    if (d->last)
        d->last->onext = e;
    else
        d->first = e;
    d->last = e;
    *pp = e;
    d->size++;
    if (d->size >= d->nbuckets)
        rehash(d, d->nbuckets * 2);
    return NULL;
}

void *mw_dict_del(struct mw_dict *d, const void *key, size_t klen)
{
    struct entry **pp = find(d, key, klen, mw_hash_bytes(key, klen));
    struct entry *e = *pp;
    if (e == NULL)
        return NULL;
    void *val = e->val;
    *pp = e->next;
    if (e->oprev)
        e->oprev->onext = e->onext;
    else
        d->first = e->onext;
    if (e->onext)
        e->onext->oprev = e->oprev;
    else
        d->last = e->oprev;
    free(e);
    d->size--;
    if (d->nbuckets > INITIAL_BUCKETS && d->size < d->nbuckets / 8)
        rehash(d, d->nbuckets / 2);
    return val;
}

size_t mw_dict_size(const struct mw_dict *d)
{
    return d->size;
}

void mw_dict_foreach(const struct mw_dict *d,
                     void (*fn)(const void *key, size_t klen, void *val, void *ud),
                     void *ud)
{
    for (struct entry *e = d->first; e; e = e->onext)
        fn(e->key, e->klen, e->val, ud);
}
