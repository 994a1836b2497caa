/* mw_event.c - refcounted event wrapper around a jansson tree */
#include "mw_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_mem.h"

/* Event records are reused through a small per-thread cache, so the hot
 * path (an event parsed, dispatched, freed) allocates nothing beyond
 * jansson's blocks. Past RECORD_CACHE cached records a freed one goes back to
 * malloc: retained events can be many, and malloc gives their memory back
 * once they expire. */
#define RECORD_CACHE 256

static _Thread_local struct mw_event *cache; /* linked through ->root */
static _Thread_local unsigned ncache;

static struct mw_event *record_get(void)
{
    struct mw_event *ev = cache;
    if (ev == NULL)
        return xmalloc(sizeof(*ev));
    cache = (struct mw_event *)(void *)ev->root;
    ncache--;
    return ev;
}

static void record_put(struct mw_event *ev)
{
    if (ncache >= RECORD_CACHE) {
        free(ev);
        return;
    }
    ev->root = (json_t *)(void *)cache;
    cache = ev;
    ncache++;
}

void mw_event_cache_flush(void)
{
    while (cache != NULL) {
        struct mw_event *ev = cache;
        cache = (struct mw_event *)(void *)ev->root;
        free(ev);
    }
    ncache = 0;
}

struct mw_event *mw_event_new(json_t *root, mw_time_t ts, const char *input,
                              uint64_t line, uint64_t offset, uint64_t seq)
{
    struct mw_event *ev = record_get();
    ev->self = ev;
    ev->root = root;
    ev->raw = NULL;
    ev->rawlen = 0;
    ev->bytes = 0;
    ev->ts = ts;
    ev->input = input;
    ev->line = line;
    ev->offset = offset;
    ev->seq = seq;
    ev->refcount = 1;
    return ev;
}

struct mw_event *mw_event_ref(struct mw_event *ev)
{
    ev->refcount++;
    return ev;
}

void mw_event_unref(struct mw_event *ev)
{
    if (ev == NULL)
        return;
    if (--ev->refcount == 0) {
        json_decref(ev->root);
        free(ev->raw);
        record_put(ev);
    }
}

void mw_ingest_trim(const char **line, size_t *len)
{
    if (*len > 0 && (*line)[*len - 1] == '\r')
        (*len)--;
    if (*len >= 3 && memcmp(*line, "\xef\xbb\xbf", 3) == 0) {
        *line += 3;
        *len -= 3;
    }
}

void mw_event_compact(struct mw_event *ev, const char *line, size_t len)
{
    if (ev->root == NULL || line == NULL)
        return;
    mw_ingest_trim(&line, &len);
    ev->raw = xmalloc(len ? len : 1);
    memcpy(ev->raw, line, len);
    ev->rawlen = len;
    json_decref(ev->root);
    ev->root = NULL;
}

static json_t *parse_raw(const struct mw_event *ev)
{
    json_error_t jerr;
    json_t *j =
        json_loadb(ev->raw, ev->rawlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (j == NULL) {
        fprintf(stderr, "moonwatch: a retained event no longer parses (%s): aborting\n",
                jerr.text);
        abort();
    }
    return j;
}

json_t *mw_event_expand(struct mw_event *ev)
{
    ev->root = parse_raw(ev);
    free(ev->raw);
    ev->raw = NULL;
    ev->rawlen = 0;
    return ev->root;
}

json_t *mw_event_doc(const struct mw_event *ev)
{
    return ev->root != NULL ? json_incref(ev->root) : parse_raw(ev);
}
