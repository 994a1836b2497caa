/* mw_dict.h - hash table from byte-string keys to pointers
 *
 * Keys are copied into the entry (one allocation per entry); values are
 * borrowed pointers the caller owns. Iteration order is unspecified.
 * Used for sequence state per join key and for rule lookups by id.
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

/* Calls fn for every entry; fn must not modify the dict. */
void mw_dict_foreach(const struct mw_dict *d,
                     void (*fn)(const void *key, size_t klen, void *val, void *ud),
                     void *ud);

/* 64-bit FNV-1a, exposed for callers that hash elsewhere. */
uint64_t mw_hash_bytes(const void *data, size_t len);

#endif
