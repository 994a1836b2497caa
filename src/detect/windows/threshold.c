/* threshold.c - at least `count` matching events of one group within
 * `window` of event time (Elastic threshold rules)
 *
 * A group keeps the event times of its window (sorted, at most count) and
 * the MW_WINDOW_ALERT_EVENTS most recent events. It fires at once when the
 * count is reached, then starts over (the group is dropped, so the next
 * alert needs `count` new events). A late event outside the group's current
 * window is ignored. Groups sit on the LRU list; expiry and the cap are
 * window_common.c's.
 */
#include "detect/detector_int.h"
#include "window_int.h"

#include <stdlib.h>
#include <string.h>

/* Inserts ev among g's recent events (time order), keeping the newest. */
static void keep_event(struct group *g, struct mw_event *ev)
{
    int at;
    if (g->ev == NULL)
        g->ev = xcalloc(MW_WINDOW_ALERT_EVENTS, sizeof(*g->ev));
    at = g->nev;
    while (at > 0 && mw_event_cmp(g->ev[at - 1], ev) > 0)
        at--;
    if (g->nev == MW_WINDOW_ALERT_EVENTS) {
        if (at == 0)
            return; /* older than every kept event */
        mw_event_unref(g->ev[0]);
        memmove(g->ev, g->ev + 1, (size_t)(at - 1) * sizeof(*g->ev));
        at--;
    } else {
        memmove(g->ev + at + 1, g->ev + at, (size_t)(g->nev - at) * sizeof(*g->ev));
        g->nev++;
    }
    g->ev[at] = mw_event_ref(ev);
}

static void threshold_event(const struct mw_window_def *def, struct mw_window_state *st,
                            struct group *g, struct mw_event *ev,
                            const struct mw_emit *emit)
{
    uint32_t at, drop = 0;
    if (g->ts == NULL) {
        g->cap = def->count < 16 ? (uint32_t)def->count : 16;
        g->ts = xmalloc(g->cap * sizeof(*g->ts));
    }
    if (ev->ts > g->newest)
        g->newest = ev->ts;
    if (ev->ts < g->newest - def->span)
        return; /* late, and outside the group's current window */
    if (g->n == g->cap) {
        g->cap *= 2;
        g->ts = xrealloc(g->ts, g->cap * sizeof(*g->ts));
    }
    at = g->n;
    while (at > 0 && g->ts[at - 1] > ev->ts)
        at--;
    memmove(g->ts + at + 1, g->ts + at, (g->n - at) * sizeof(*g->ts));
    g->ts[at] = ev->ts;
    g->n++;
    while (drop < g->n && g->ts[drop] < g->newest - def->span)
        drop++;
    memmove(g->ts, g->ts + drop, (g->n - drop) * sizeof(*g->ts));
    g->n -= drop;
    keep_event(g, ev);
    while (g->nev > 0 && g->ev[0]->ts < g->newest - def->span) {
        mw_event_unref(g->ev[0]);
        memmove(g->ev, g->ev + 1, (size_t)(g->nev - 1) * sizeof(*g->ev));
        g->nev--;
    }
    if (g->n >= def->count) {
        json_t *d = json_pack(
            "{s:I, s:I, s:o, s:I, s:o, s:o}", "count", (json_int_t)g->n, "threshold",
            (json_int_t)def->count, "window", win_span_json(def->span), "window_ms",
            (json_int_t)(def->span / MW_USEC_PER_MSEC), "first", win_time_json(g->ts[0]),
            "last", win_time_json(g->ts[g->n - 1]));
        win_fire(def, st, g->ev, g->nev, &def->by, d, emit);
        win_group_drop(st, g);
    }
}

static void threshold_process(const void *d, void *s, struct mw_event *ev,
                              const struct mw_match_ctx *ctx, const struct mw_emit *emit)
{
    const struct mw_window_def *def = d;
    struct mw_window_state *st = s;
    win_expire(def, st, ev->ts, emit);
    int klen = win_match_key(def, st, ev, ctx);
    if (klen < 0)
        return;
    struct group *g = win_group_get(st, st->key.ptr, (size_t)klen, true);
    win_list_touch(st, g);
    threshold_event(def, st, g, ev, emit);
    win_enforce_cap(st, NULL);
}

const struct mw_detector_ops mw_det_threshold = {
    .kind = "threshold",
    .state_new = win_state_new,
    .state_free = win_state_free,
    .process = threshold_process,
    .advance = win_expire,
    .matchers = win_matchers,
    .dump = win_dump,
    .restore = win_restore,
    .open = win_open,
    .stats = win_stats,
    .shape = win_shape,
    .budget = win_budget,
    .shed = win_shed,
};
