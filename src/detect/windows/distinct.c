/* distinct.c - at least `count` distinct values of `field` in one group
 * within `window` (Elastic cardinality, Sigma value_count)
 *
 * A group keeps one (value key, newest time, newest event) per distinct
 * value of its window, fewer than count; the value key is built like a
 * one-field group key (mw_key). It fires when the count is reached with the
 * newest events, one per value, and starts over the way threshold does.
 */
#include "detect/detector_int.h"
#include "window_int.h"

#include <stdlib.h>
#include <string.h>

static int cmp_dval_time(const void *a, const void *b)
{
    const struct dval *x = a, *y = b;
    return mw_event_cmp(x->ev, y->ev);
}

static void distinct_fire(const struct mw_window_def *def, struct mw_window_state *st,
                          struct group *g, const struct mw_emit *emit)
{
    struct mw_event *evs[MW_WINDOW_ALERT_EVENTS];
    json_t *values = json_array();
    int n = 0;
    uint32_t i;
    qsort(g->vals, g->n, sizeof(*g->vals), cmp_dval_time);
    for (i = 0; i < g->n; i++) {
        json_t *v = mw_path_get(mw_event_root(g->vals[i].ev), def->field);
        json_array_append(values, v ? v : json_null());
    }
    /* the newest events, one per value */
    for (i = g->n > MW_WINDOW_ALERT_EVENTS ? g->n - MW_WINDOW_ALERT_EVENTS : 0; i < g->n;
         i++)
        evs[n++] = g->vals[i].ev;
    json_t *d =
        json_pack("{s:s, s:I, s:I, s:o, s:I, s:o}", "field", mw_path_str(def->field),
                  "count", (json_int_t)g->n, "threshold", (json_int_t)def->count,
                  "window", win_span_json(def->span), "window_ms",
                  (json_int_t)(def->span / MW_USEC_PER_MSEC), "values", values);
    win_fire(def, st, evs, n, &def->by, d, emit);
    win_group_drop(st, g);
}

static void distinct_event(const struct mw_window_def *def, struct mw_window_state *st,
                           struct group *g, struct mw_event *ev, const char *vkey,
                           size_t vlen, const struct mw_emit *emit)
{
    uint32_t i, w;
    if (ev->ts > g->newest)
        g->newest = ev->ts;
    if (ev->ts < g->newest - def->span)
        return;
    for (i = 0; i < g->n; i++)
        if (g->vals[i].klen == vlen && memcmp(g->vals[i].key, vkey, vlen) == 0)
            break;
    if (i < g->n) {
        if (mw_event_cmp(ev, g->vals[i].ev) > 0) {
            mw_event_unref(g->vals[i].ev);
            g->vals[i].ev = mw_event_ref(ev);
            g->vals[i].ts = ev->ts;
        }
    } else {
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 4;
            g->vals = xrealloc(g->vals, g->cap * sizeof(*g->vals));
        }
        g->vals[g->n].key = xmalloc(vlen ? vlen : 1);
        memcpy(g->vals[g->n].key, vkey, vlen);
        g->vals[g->n].klen = vlen;
        g->vals[g->n].ts = ev->ts;
        g->vals[g->n].ev = mw_event_ref(ev);
        g->n++;
    }
    for (i = 0, w = 0; i < g->n; i++) {
        if (g->vals[i].ts < g->newest - def->span) {
            free(g->vals[i].key);
            mw_event_unref(g->vals[i].ev);
        } else {
            g->vals[w++] = g->vals[i];
        }
    }
    g->n = w;
    if (g->n >= def->count)
        distinct_fire(def, st, g, emit);
}

static void distinct_process(const void *d, void *s, struct mw_event *ev,
                             const struct mw_match_ctx *ctx, const struct mw_emit *emit)
{
    const struct mw_window_def *def = d;
    struct mw_window_state *st = s;
    struct mw_seq_keys vk;
    win_expire(def, st, ev->ts, emit);
    int klen = win_match_key(def, st, ev, ctx);
    if (klen < 0)
        return;
    /* the value's key, built like a one-field group key */
    memset(&vk, 0, sizeof(vk));
    vk.paths[0] = def->field;
    if (mw_key_build(&st->vkey, &vk, 1, def->keys_ci, ev) < 0) {
        st->stats.no_key++;
        return;
    }
    struct group *g = win_group_get(st, st->key.ptr, (size_t)klen, true);
    win_list_touch(st, g);
    distinct_event(def, st, g, ev, st->vkey.ptr, st->vkey.len, emit);
    win_enforce_cap(st, NULL);
}

const struct mw_detector_ops mw_det_distinct = {
    .kind = "distinct",
    .state_new = win_state_new,
    .state_free = win_state_free,
    .process = distinct_process,
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
