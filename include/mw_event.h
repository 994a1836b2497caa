/* mw_event.h - one ingested event
 *
 * The event rule: an event is created with refcount 1 by ingest; windows
 * mw_event_ref() it when they retain it and mw_event_unref() it when they let
 * it go; the engine unrefs it after dispatch. Lua never holds one directly
 * (predicates get a handle that is invalidated after each call).
 * An event is immutable after ingest.
 */
#ifndef MW_EVENT_H
#define MW_EVENT_H

#include <jansson.h>
#include <stdint.h>

#include "mw_time.h"

struct mw_event {
    json_t *root;       /* owned: the parsed document */
    mw_time_t ts;       /* event time, microseconds since the epoch */
    const char *input;  /* borrowed: input name, interned for the process */
    uint64_t line;      /* 1-based line number in the input */
    uint64_t offset;    /* byte offset of the line in the input */
    uint64_t seq;       /* arrival serial number: the tie-break on equal ts */
    int refcount;
};

/* Steals the reference to root. Returns an event with refcount 1. */
struct mw_event *mw_event_new(json_t *root, mw_time_t ts, const char *input,
                              uint64_t line, uint64_t offset, uint64_t seq);
struct mw_event *mw_event_ref(struct mw_event *ev);
/* Drops one reference; frees the event at zero. NULL is a no-op. */
void mw_event_unref(struct mw_event *ev);

/* Order of events: (ts, seq). Returns <0, 0, >0. */
static inline int mw_event_cmp(const struct mw_event *a, const struct mw_event *b)
{
    if (a->ts != b->ts)
        return a->ts < b->ts ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

#endif
