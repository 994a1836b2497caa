/* mw_key.h - join and group keys: the typed bytes of an event's key fields
 *
 * One key set (struct mw_seq_keys) names up to MW_SEQ_MAX_KEYS field paths;
 * the key of an event is the concatenation, per path, of a type tag and the
 * value's bytes ('s' + u32 length + bytes, lowercased when ci; 'i' + int64
 * for integers and integral reals, so 0 and 0.0 join; 'd' + double; 'b' +
 * one byte; 'z' for a null or missing value of an optional `?field`). A
 * null or missing non-optional key, an array or an object gives no key: the
 * event takes no part. Sequences (mw_seq), every window kind and alert
 * rendering build keys here and nowhere else.
 *
 * Multi-valued keys (sequences only, EQL-SEMANTICS R8b): mw_key_build_all
 * reads an array-valued key field as the set of its elements (nested arrays
 * flattened, duplicates collapsed, null elements skipped as in ES's doc
 * values, an array with no other element a missing value) and gives one key per
 * combination of the fields' elements, at most a cap of them. An event with no array key
 * field gets exactly the one key mw_key_build gives it.
 *
 * Ownership: the key set is owned by the detector definition that holds it
 * (its paths are freed with that definition); the functions below borrow
 * it, and the event, for the call.
 */
#ifndef MW_KEY_H
#define MW_KEY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "mw_event.h"
#include "mw_field.h"

#define MW_SEQ_MAX_KEYS 16

struct mw_seq_keys {
    struct mw_path *paths[MW_SEQ_MAX_KEYS]; /* owned */
    bool optional[MW_SEQ_MAX_KEYS];         /* `?field`: null joins null */
};

/* Frees the paths of keys (the struct itself is embedded, not freed). */
void mw_key_paths_free(struct mw_seq_keys *keys);

/* Builds the key of ev for the first nkeys paths of keys into out (emptied
 * first; grown as needed). Returns 0, or -1 when the event has no key (out
 * then holds a partial key: do not use it). */
int mw_key_build(struct mw_buf *out, const struct mw_seq_keys *keys, int nkeys, bool ci,
                 const struct mw_event *ev);

#define MW_KEY_MAX_FANOUT 64 /* keys one event may give a sequence step */

/* Every key of ev (see above) into out (emptied first), each as a size_t
 * length then its bytes, in order (the first field's elements vary slowest,
 * each field's in array order). At most max keys (max >= 1); the
 * combinations beyond it are added to *dropped. Returns the number of keys,
 * 0 when the event has no key. */
int mw_key_build_all(struct mw_buf *out, const struct mw_seq_keys *keys, int nkeys,
                     bool ci, const struct mw_event *ev, int max, uint64_t *dropped);

/* The same into a caller's buffer: returns the length, -1 when the event has
 * no key, -2 when size is too small. Kept for tests and callers with a
 * fixed buffer; the detectors use mw_key_build. */
int mw_seq_key(const struct mw_seq_keys *keys, int nkeys, bool ci,
               const struct mw_event *ev, char *buf, size_t size);

/* The key fields' values of ev as a JSON array (null for a missing one), for
 * an alert's group key. New reference. */
json_t *mw_key_values(const struct mw_seq_keys *keys, int nkeys,
                      const struct mw_event *ev);

#endif
