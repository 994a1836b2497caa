/* mw_event.c - refcounted event wrapper around a jansson tree */
#include "mw_event.h"
#include "mw_pool.h"

#include <stdlib.h>

struct mw_event *mw_event_new(json_t *root, mw_time_t ts, const char *input,
                              uint64_t line, uint64_t offset, uint64_t seq)
{
    struct mw_event *ev = mw_jmalloc(sizeof(*ev));
    ev->root = root;
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
        mw_jfree(ev);
    }
}
