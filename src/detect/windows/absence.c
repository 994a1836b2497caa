/* absence.c - an event matching `first`, then no event matching `absent`
 * for the same key within `within`
 *
 * A group keeps the pending `first` event (ev[0]) and, when lateness > 0,
 * the times of recent `absent` events (bt, at most ABSENT_TIMES_MAX), so a
 * late `first` is not reported when its `absent` came before it in arrival
 * order but after it in event time. The list is ordered by `due` (the
 * pending window's deadline, else the newest remembered `absent` time) and
 * a group is handled when due < now - lateness: no acceptable event can
 * fall inside its window any more. The window fires then (advance), or at
 * end of input when it ended by now (finish). An event that is both
 * `absent` and `first` does not cancel itself (absent is applied first).
 */
#include "detect/detector_int.h"
#include "window_int.h"

#include <stdlib.h>
#include <string.h>

/* Absence: keeps the list ordered by due, walking from the tail (events
 * mostly arrive in time order, so this is O(1) in the common case). */
static void list_insert_due(struct mw_window_state *st, struct group *g)
{
    struct group *at = st->tail;
    while (at && at->due > g->due)
        at = at->prev;
    g->prev = at;
    g->next = at ? at->next : st->head;
    if (g->next)
        g->next->prev = g;
    else
        st->tail = g;
    if (at)
        at->next = g;
    else
        st->head = g;
}

static void absence_reposition(const struct mw_window_def *def,
                               struct mw_window_state *st, struct group *g)
{
    mw_time_t due = INT64_MIN;
    (void)def;
    if (g->nev > 0)
        due = g->ev[0]->ts + def->span;
    else
        for (uint32_t i = 0; i < g->n; i++)
            if (g->bt[i].ts > due)
                due = g->bt[i].ts;
    win_list_unlink(st, g);
    if (g->nev == 0 && g->n == 0) {
        win_list_append(st, g);
        win_group_drop(st, g);
        return;
    }
    g->due = due;
    list_insert_due(st, g);
}

static bool absent_after(const struct btime *b, const struct mw_event *a)
{
    return b->ts > a->ts || (b->ts == a->ts && b->seq > a->seq);
}

static void absence_first(const struct mw_window_def *def, struct mw_window_state *st,
                          struct group *g, struct mw_event *ev)
{
    for (uint32_t i = 0; i < g->n; i++) {
        if (absent_after(&g->bt[i], ev) && g->bt[i].ts <= ev->ts + def->span) {
            st->stats.cancelled++; /* its `absent` came already */
            absence_reposition(def, st, g);
            return;
        }
    }
    if (g->nev > 0) {
        if (mw_event_cmp(ev, g->ev[0]) >= 0)
            return; /* the earlier pending window stands */
        mw_event_unref(g->ev[0]);
    } else {
        if (g->ev == NULL)
            g->ev = xcalloc(1, sizeof(*g->ev));
        g->nev = 1;
    }
    g->ev[0] = mw_event_ref(ev);
    absence_reposition(def, st, g);
}

static void absence_absent(const struct mw_window_def *def, struct mw_window_state *st,
                           struct group *g, struct mw_event *ev)
{
    if (g->nev > 0 && mw_event_cmp(g->ev[0], ev) < 0 &&
        ev->ts <= g->ev[0]->ts + def->span) {
        mw_event_unref(g->ev[0]);
        g->nev = 0;
        st->stats.cancelled++;
    }
    if (st->lateness > 0) {
        if (g->n == ABSENT_TIMES_MAX) {
            uint32_t oldest = 0;
            for (uint32_t i = 1; i < g->n; i++)
                if (g->bt[i].ts < g->bt[oldest].ts)
                    oldest = i;
            g->bt[oldest] = g->bt[--g->n];
        }
        if (g->bt == NULL)
            g->bt = xmalloc(ABSENT_TIMES_MAX * sizeof(*g->bt));
        g->bt[g->n].ts = ev->ts;
        g->bt[g->n].seq = ev->seq;
        g->n++;
    }
    absence_reposition(def, st, g);
}

static void absence_fire(const struct mw_window_def *def, struct mw_window_state *st,
                         struct group *g, const struct mw_emit *emit)
{
    struct mw_event *a = g->ev[0];
    json_t *d = json_pack("{s:o, s:I, s:o}", "within", win_span_json(def->span),
                          "within_ms", (json_int_t)(def->span / MW_USEC_PER_MSEC),
                          "deadline", win_time_json(a->ts + def->span));
    g->nev = 0;
    win_fire(def, st, &a, 1, &def->by, d, emit);
    mw_event_unref(a);
}

static void absence_advance(const void *d, void *s, mw_time_t now,
                            const struct mw_emit *emit)
{
    const struct mw_window_def *def = d;
    struct mw_window_state *st = s;
    mw_time_t horizon = win_move_now(st, now);
    while (st->head && st->head->due < horizon) {
        struct group *g = st->head;
        uint32_t w = 0;
        if (g->nev > 0)
            absence_fire(def, st, g, emit);
        for (uint32_t i = 0; i < g->n; i++)
            if (g->bt[i].ts >= horizon)
                g->bt[w++] = g->bt[i];
        g->n = w;
        absence_reposition(def, st, g);
    }
}

static void absence_finish(const void *d, void *s, const struct mw_emit *emit)
{
    const struct mw_window_def *def = d;
    struct mw_window_state *st = s;
    for (struct group *g = st->head, *next; g; g = next) {
        next = g->next;
        if (g->nev > 0 && g->ev[0]->ts + def->span <= st->now)
            absence_fire(def, st, g, emit);
    }
}

static void absence_process(const void *d, void *s, struct mw_event *ev,
                            const struct mw_match_ctx *ctx, const struct mw_emit *emit)
{
    const struct mw_window_def *def = d;
    struct mw_window_state *st = s;
    struct group *g;
    int klen;

    absence_advance(def, st, ev->ts, emit);
    /* absent first: an event that is both does not cancel itself */
    if (mw_matcher_eval(def->absent_where, ev, ctx) == MW_TRUE) {
        st->stats.absent_matched++;
        klen = win_build_key(st, &def->absent_by, def->nby, def->keys_ci, ev);
        if (klen >= 0 &&
            (g = win_group_get(st, st->key.ptr, (size_t)klen, st->lateness > 0)))
            absence_absent(def, st, g, ev);
    }
    klen = win_match_key(def, st, ev, ctx);
    if (klen < 0)
        return;
    g = win_group_get(st, st->key.ptr, (size_t)klen, true);
    absence_first(def, st, g, ev);
    if (mw_dict_get(st->groups, st->key.ptr, (size_t)klen) == g)
        win_enforce_cap(st, g);
}

/* A group holds at most its pending `first` event. */
static int absence_restore(const void *def, void *st, const json_t *doc,
                           const struct mw_evtab *t, struct mw_error *err)
{
    return win_restore_frame(def, st, doc, t, 1, err);
}

const struct mw_detector_ops mw_det_absence = {
    .kind = "absence",
    .state_new = win_state_new,
    .state_free = win_state_free,
    .process = absence_process,
    .advance = absence_advance,
    .finish = absence_finish,
    .matchers = win_matchers,
    .dump = win_dump,
    .restore = absence_restore,
    .open = win_open,
    .stats = win_stats,
    .shape = win_shape,
    .budget = win_budget,
    .shed = win_shed,
};
