/* mw_dict.h - hash table from byte-string keys to pointers
 *
 * Keys are copied into the entry (one allocation per entry); values are
 * borrowed pointers the caller owns. Iteration is in insertion order.
 * Used for sequence state per join key, window groups, suppression and
 * dedup keys, and rule lookups by id. Keys may come from attackers: the
 * hash is keyed with a random per-process seed (see mw_siphash.c), so no
 * set of keys can be chosen in advance to share one chain.
 */
#ifndef MW_DICT_H
#define MW_DICT_H

#include <stddef.h>
#include <stdint.h>

struct mw_dict;

struct mw_dict *mw_dict_new(void);
/* Frees the table and its keys; values are not touched. NULL is a no-op. */
void mw_dict_free(struct mw_dict *d);

/* Returns the value for key, or NULL when absent. */
void *mw_dict_get(const struct mw_dict *d, const void *key, size_t klen);
/* Inserts or replaces; returns the previous value or NULL. */
void *mw_dict_put(struct mw_dict *d, const void *key, size_t klen, void *val);
/* Removes key; returns its value or NULL when absent. */
void *mw_dict_del(struct mw_dict *d, const void *key, size_t klen);
size_t mw_dict_size(const struct mw_dict *d);

/* Calls fn for every entry, in insertion order; fn must not modify the
 * dict. */
void mw_dict_foreach(const struct mw_dict *d,
                     void (*fn)(const void *key, size_t klen, void *val, void *ud),
                     void *ud);

/* SipHash-2-4 of data under the process's random 128-bit seed (drawn with
 * getrandom(2) on first use, thread-safe): the hash of every table keyed
 * by event data. Equal inputs hash equal within one process only. */
uint64_t mw_hash_bytes(const void *data, size_t len);
/* SipHash-2-4 of data under key (16 bytes, k0 then k1 little-endian), as
 * the paper defines it; mw_hash_bytes is this with the process seed. */
uint64_t mw_siphash24(const unsigned char key[16], const void *data, size_t len);

#endif
