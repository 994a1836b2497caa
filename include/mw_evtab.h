/* mw_evtab.h - the events of a checkpoint, each written once
 *
 * Window state refers to events (refcounted mw_event, shared between
 * partial sequences, logs and groups). A checkpoint writes each retained
 * event once, as a JSON object with its event time, arrival serial and
 * source position ({"ts", "seq", "input", "line", "offset", "doc"}), and
 * the state refers to it by index. Loading gives back one mw_event per
 * index, so sharing (and the pointer identity the sequence engine relies
 * on) survives the restart. Input names of loaded events are interned for
 * the life of the process (events may outlive the run that loaded them).
 */
#ifndef MW_EVTAB_H
#define MW_EVTAB_H

#include <jansson.h>
#include <stddef.h>

#include "mw_buf.h"
#include "mw_event.h"
#include "mw_mem.h"

struct mw_evtab;

struct mw_evtab *mw_evtab_new(void);
/* Drops the table's references. NULL is a no-op. */
void mw_evtab_free(struct mw_evtab *t);

/* Writing: the index of ev in the table (added with a reference the first
 * time). Returns a new reference (a JSON integer). */
json_t *mw_evtab_put(struct mw_evtab *t, struct mw_event *ev);
size_t mw_evtab_count(const struct mw_evtab *t);
/* The i-th event as a JSON object (new reference). */
json_t *mw_evtab_event_json(const struct mw_evtab *t, size_t i);

/* Loading: appends the event described by obj. Returns 0, or -1 with err
 * set when obj is not a well-formed event record. */
int mw_evtab_load(struct mw_evtab *t, const json_t *obj, struct mw_error *err);
/* The event with index idx (a JSON integer), borrowed (valid while t
 * lives; take a reference to keep it), or NULL when out of range. */
struct mw_event *mw_evtab_get(const struct mw_evtab *t, const json_t *idx);

/* An interned copy of s, valid until the process exits. */
const char *mw_evtab_intern(const char *s);

/* Hex of bytes into a new JSON string; and back (returns a new buffer and
 * its length, or NULL when s is not even-length hex). */
json_t *mw_evtab_hex(const void *data, size_t len);
char *mw_evtab_unhex(const json_t *s, size_t *len);
/* The same into out (a state's key buffer: emptied, then grown as needed).
 * Returns the key's length, or -1 when s is not a hex string. */
long mw_evtab_unhex_into(const json_t *s, struct mw_buf *out);

#endif
