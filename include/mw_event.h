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
    json_t *root; /* owned: the parsed document; NULL while compacted
                     (read it with mw_event_root) */
    char *raw;    /* owned: the line's text while compacted, or NULL */
    size_t rawlen;
    size_t bytes;      /* the line's length at ingest (0: unknown): what
                          retaining the event costs, for state byte budgets */
    mw_time_t ts;      /* event time, microseconds since the epoch */
    const char *input; /* borrowed: input name, interned for the process */
    uint64_t line;     /* 1-based line number in the input */
    uint64_t offset;   /* byte offset of the line in the input */
    uint64_t seq;      /* arrival serial number: the tie-break on equal ts */
    int refcount;
    /* The event itself, writable: the parsed tree is a cache that readers
     * holding a const event fill (mw_event_root), C's spelling of a mutable
     * member without a const-dropping cast. Set by mw_event_new. */
    struct mw_event *self;
};

/* Steals the reference to root. Returns an event with refcount 1. */
struct mw_event *mw_event_new(json_t *root, mw_time_t ts, const char *input,
                              uint64_t line, uint64_t offset, uint64_t seq);
struct mw_event *mw_event_ref(struct mw_event *ev);
/* Drops one reference; frees the event at zero. NULL is a no-op. */
void mw_event_unref(struct mw_event *ev);

/* Compaction: an event that windows retain after its dispatch (a sign-in
 * waiting for its second step) needs its document again only if it ends in
 * an alert, a checkpoint or a distinct-count report. Its parsed tree is some
 * five times the size of its text and, kept for minutes of event time, goes
 * cold in memory; so the run loop keeps the text instead (mw_event_compact)
 * and mw_event_root parses it again on first use. line/len: the line it
 * was parsed from (framing is trimmed as mw_ingest_parse does). */
void mw_event_compact(struct mw_event *ev, const char *line, size_t len);
/* Parses a compacted event's text again and keeps the tree (aborts if the
 * text no longer parses, which cannot happen: it parsed at ingest). */
json_t *mw_event_expand(struct mw_event *ev);

/* The document (rule thread only: may parse a compacted event's text). */
static inline json_t *mw_event_root(const struct mw_event *ev)
{
    return ev->root != NULL ? ev->root : mw_event_expand(ev->self);
}

/* A new reference to the document, without keeping a tree for a compacted
 * event (for checkpoints, which serialise every retained event). */
json_t *mw_event_doc(const struct mw_event *ev);

/* Strips what mw_ingest_parse treats as framing: a final CR, a UTF-8 BOM. */
void mw_ingest_trim(const char **line, size_t *len);

/* Frees the calling thread's cache of event records (a thread that made or
 * freed events calls it before it ends; the main thread at exit). */
void mw_event_cache_flush(void);

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
