/* det_query.c - the single-event query detector
 *
 * def is the rule's `where` matcher; every event it matches is one alert.
 * The state is a counter of matched events only: nothing to checkpoint or
 * to carry across a reload (dump/restore are NULL), no time to follow.
 */
#include "detector_int.h"

#include <stdlib.h>

struct query_state {
    uint64_t matched;
};

static void *query_new(const void *def, const struct mw_detect_opts *opts)
{
    (void)def;
    (void)opts;
    return xcalloc(1, sizeof(struct query_state));
}

static void query_free(void *st)
{
    free(st);
}

static void query_process(const void *def, void *s, struct mw_event *ev,
                          const struct mw_match_ctx *ctx, const struct mw_emit *emit)
{
    struct query_state *st = s;
    if (mw_matcher_eval(def, ev, ctx) == MW_TRUE) {
        struct mw_event *one[1] = {ev};
        st->matched++;
        emit->fn(emit->ud, one, 1, NULL, NULL);
    }
}

static int query_matchers(const void *def, const struct mw_matcher **out, int max)
{
    if (max > 0)
        out[0] = def;
    return 1;
}

static uint64_t query_open(const void *st)
{
    (void)st;
    return 0;
}

static void query_stats(const void *def, const void *s, json_t *o)
{
    const struct query_state *st = s;
    (void)def;
    json_object_set_new(o, "matched", json_integer((json_int_t)st->matched));
}

static void query_shape(const void *def, struct mw_buf *out)
{
    (void)def;
    mw_buf_adds(out, "query");
}

const struct mw_detector_ops mw_det_query = {
    .kind = "query",
    .state_new = query_new,
    .state_free = query_free,
    .process = query_process,
    .matchers = query_matchers,
    .open = query_open,
    .stats = query_stats,
    .shape = query_shape,
};
