/* window_common.c - what the window kinds share: groups, LRU, eviction,
 * expiry, the alert frame and the checkpoint frame
 *
 * One group per key value, in a dict and on a list. For threshold, distinct
 * and new_terms the list is LRU (least recently updated first) and a group
 * is stale when its newest event time is more than span behind
 * now - lateness: no acceptable event can share a window with it any more
 * (win_expire). For absence the list is ordered by `due` instead (see
 * absence.c). The cap on groups (max_keys of the state's options) evicts
 * from the front of the list.
 *
 * What a group keeps depends on the kind (threshold.c, distinct.c,
 * new_terms.c, absence.c say); the checkpoint frame writes every array a
 * group may hold (ts, vals, bt, ev) whatever the kind, so one loader reads
 * them all. The document is {"kind", "now", "since", "groups": [{"k",
 * "newest", "due", "ts", "vals", "bt", "ev"}]}: do not change it, older
 * checkpoints must keep loading.
 *
 * The mw_window_* functions of mw_window.h are thin wrappers over the
 * kind's ops (mw_window_ops), for callers that hold a window definition.
 */
#include "mw_dict.h"
#include "mw_list.h"
#include "mw_time.h"
#include "window_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mw_window_kind_name(enum mw_window_kind k)
{
    const struct mw_detector_ops *ops = mw_window_ops(k);
    return ops ? ops->kind : "?";
}

void mw_window_def_free(struct mw_window_def *def)
{
    if (def == NULL)
        return;
    mw_matcher_free(def->where);
    mw_matcher_free(def->absent_where);
    mw_key_paths_free(&def->by);
    mw_key_paths_free(&def->absent_by);
    mw_path_free(def->field);
    free(def);
}

void *win_state_new(const void *def, const struct mw_detect_opts *opts)
{
    struct mw_window_state *st = xcalloc(1, sizeof(*st));
    (void)def;
    st->groups = mw_dict_new();
    st->now = INT64_MIN / 2;
    st->since = INT64_MIN;
    if (opts) {
        st->max_states = opts->max_keys;
        st->max_bytes = opts->max_bytes;
        st->lateness = opts->lateness > 0 ? opts->lateness : 0;
    }
    mw_buf_init(&st->key);
    mw_buf_init(&st->vkey);
    return st;
}

void win_list_unlink(struct mw_window_state *st, struct group *g)
{
    MW_LIST_UNLINK(st, g);
}

void win_list_append(struct mw_window_state *st, struct group *g)
{
    MW_LIST_APPEND(st, g);
}

void win_list_touch(struct mw_window_state *st, struct group *g)
{
    win_list_unlink(st, g);
    win_list_append(st, g);
}

void win_group_drop(struct mw_window_state *st, struct group *g)
{
    if (st->dirty == g)
        st->dirty = NULL;
    st->stats.bytes -= g->bytes;
    win_list_unlink(st, g);
    mw_dict_del(st->groups, g->key, g->klen);
    for (uint32_t i = 0; g->vals && i < g->n; i++) {
        free(g->vals[i].key);
        mw_event_unref(g->vals[i].ev);
    }
    for (int i = 0; i < g->nev; i++)
        mw_event_unref(g->ev[i]);
    free(g->ts);
    free(g->vals);
    free(g->bt);
    free(g->ev);
    free(g);
    st->stats.open--;
}

void win_state_free(void *s)
{
    struct mw_window_state *st = s;
    if (st == NULL)
        return;
    while (st->head)
        win_group_drop(st, st->head);
    mw_dict_free(st->groups);
    mw_buf_release(&st->key);
    mw_buf_release(&st->vkey);
    free(st);
}

int win_build_key(struct mw_window_state *st, const struct mw_seq_keys *keys, int nkeys,
                  bool ci, const struct mw_event *ev)
{
    if (mw_key_build(&st->key, keys, nkeys, ci, ev) < 0 || st->key.len > INT32_MAX)
        return -1;
    return (int)st->key.len;
}

int win_match_key(const struct mw_window_def *def, struct mw_window_state *st,
                  const struct mw_event *ev, const struct mw_match_ctx *ctx)
{
    if (mw_matcher_eval(def->where, ev, ctx) != MW_TRUE)
        return -1;
    st->stats.matched++;
    int klen = win_build_key(st, &def->by, def->nby, def->keys_ci, ev);
    if (klen < 0)
        st->stats.no_key++;
    return klen;
}

/* What g holds: the record, its key, its arrays (each kind uses one of
 * ts, vals, bt, sized by cap), the value keys and the events. */
static size_t group_bytes(const struct group *g)
{
    size_t b = sizeof(*g) + g->klen;
    if (g->ts)
        b += g->cap * sizeof(*g->ts);
    if (g->bt)
        b += g->cap * sizeof(*g->bt);
    if (g->vals) {
        b += g->cap * sizeof(*g->vals);
        for (uint32_t i = 0; i < g->n; i++)
            b += g->vals[i].klen + mw_event_cost(g->vals[i].ev);
    }
    for (int i = 0; i < g->nev; i++)
        b += sizeof(*g->ev) + mw_event_cost(g->ev[i]);
    return b;
}

void win_account(struct mw_window_state *st)
{
    struct group *g = st->dirty;
    if (g == NULL)
        return;
    size_t b = group_bytes(g);
    st->stats.bytes += b - g->bytes;
    g->bytes = b;
    st->dirty = NULL;
}

struct group *win_group_get(struct mw_window_state *st, const char *key, size_t klen,
                            bool create)
{
    struct group *g = mw_dict_get(st->groups, key, klen);
    if (g || !create) {
        if (g && g != st->dirty) {
            win_account(st);
            st->dirty = g;
        }
        return g;
    }
    win_account(st);
    g = xcalloc(1, sizeof(*g) + klen);
    g->klen = klen;
    memcpy(g->key, key, klen);
    g->newest = INT64_MIN;
    mw_dict_put(st->groups, g->key, klen, g);
    win_list_append(st, g);
    st->stats.open++;
    st->dirty = g;
    return g;
}

/* Drops the oldest groups (keep last, when it alone is over) until st
 * holds at most max_bytes. */
static void shed_bytes(struct mw_window_state *st, size_t max_bytes,
                       const struct group *keep)
{
    win_account(st);
    while (st->stats.bytes > max_bytes && st->head) {
        struct group *v = st->head;
        if (v == keep && v->next)
            v = v->next;
        win_group_drop(st, v);
        st->stats.evicted++;
        st->stats.byte_evicted++;
    }
}

void win_enforce_cap(struct mw_window_state *st, const struct group *keep)
{
    win_account(st);
    while (st->max_states && st->stats.open > st->max_states && st->head &&
           st->head != keep) {
        win_group_drop(st, st->head);
        st->stats.evicted++;
    }
    if (st->max_bytes)
        shed_bytes(st, st->max_bytes, keep);
}

void win_budget(void *s, struct mw_detect_bytes *out)
{
    struct mw_window_state *st = s;
    win_account(st); /* the engine asks after every event (enforce_budgets) */
    out->bytes = st->stats.bytes;
    out->byte_evicted = st->stats.byte_evicted;
}

void win_shed(const void *def, void *st, size_t max_bytes)
{
    (void)def;
    shed_bytes(st, max_bytes, NULL);
}

json_t *win_time_json(mw_time_t t)
{
    char buf[MW_TIME_FORMAT_SIZE];
    if (mw_time_format(t, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

json_t *win_span_json(mw_time_t d)
{
    char buf[64]; /* a duration's text is bounded: "106751d23h47m16.854775807s" */
    if (mw_duration_format(d, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

void win_fire(const struct mw_window_def *def, struct mw_window_state *st,
              struct mw_event *const *evs, int n, const struct mw_seq_keys *keys,
              json_t *details, const struct mw_emit *emit)
{
    json_t *key = mw_key_values(keys, def->nby, evs[n - 1]);
    st->stats.fired++;
    emit->fn(emit->ud, evs, n, key, details);
    json_decref(key);
    json_decref(details);
}

mw_time_t win_move_now(struct mw_window_state *st, mw_time_t now)
{
    if (now > st->now)
        st->now = now;
    return st->now - st->lateness;
}

void win_expire(const void *d, void *s, mw_time_t now, const struct mw_emit *emit)
{
    const struct mw_window_def *def = d;
    struct mw_window_state *st = s;
    mw_time_t horizon = win_move_now(st, now);
    (void)emit;
    while (st->head && st->head->newest < horizon - def->span) {
        win_group_drop(st, st->head);
        st->stats.expired++;
    }
}

int win_matchers(const void *d, const struct mw_matcher **out, int max)
{
    const struct mw_window_def *def = d;
    int n = 0;
    if (def->where && n < max)
        out[n] = def->where;
    n += def->where != NULL;
    if (def->absent_where && n < max)
        out[n] = def->absent_where;
    n += def->absent_where != NULL;
    return n;
}

uint64_t win_open(const void *st)
{
    return ((const struct mw_window_state *)st)->stats.open;
}

void win_stats(const void *def, const void *s, json_t *o)
{
    /* bytes as last settled by win_budget (after every event) */
    const struct mw_window_stats *ws = &((const struct mw_window_state *)s)->stats;
    (void)def;
    json_object_set_new(o, "matched", json_integer((json_int_t)ws->matched));
    json_object_set_new(
        o, "window",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "absent_matched",
                  (json_int_t)ws->absent_matched, "no_key", (json_int_t)ws->no_key,
                  "fired", (json_int_t)ws->fired, "expired", (json_int_t)ws->expired,
                  "evicted", (json_int_t)ws->evicted, "cancelled",
                  (json_int_t)ws->cancelled, "open", (json_int_t)ws->open, "loaded",
                  (json_int_t)ws->loaded));
    json_t *w = json_object_get(o, "window");
    json_object_set_new(w, "bytes", json_integer((json_int_t)ws->bytes));
    json_object_set_new(w, "byte_evicted", json_integer((json_int_t)ws->byte_evicted));
}

void win_shape(const void *d, struct mw_buf *out)
{
    const struct mw_window_def *w = d;
    mw_buf_addf(out, "%s span=%lld count=%llu ci=%d keys=", mw_window_kind_name(w->kind),
                (long long)w->span, (unsigned long long)w->count, w->keys_ci);
    for (int k = 0; k < w->nby; k++)
        mw_buf_addf(out, "%s%s,", w->by.optional[k] ? "?" : "",
                    mw_path_str(w->by.paths[k]));
}

/* ---------------------------------------------------------------------- */
/* mw_window.h: the same through the kind's ops                            */

static const struct mw_detector_ops *ops_of(const struct mw_window_def *def)
{
    return mw_window_ops(def->kind);
}

struct mw_window_state *mw_window_state_new_with(const struct mw_window_def *def,
                                                 const struct mw_detect_opts *opts)
{
    return ops_of(def)->state_new(def, opts);
}

struct mw_window_state *mw_window_state_new(const struct mw_window_def *def)
{
    return mw_window_state_new_with(def, NULL);
}

void mw_window_state_free(struct mw_window_state *st)
{
    win_state_free(st);
}

const struct mw_window_stats *mw_window_stats(const struct mw_window_state *st)
{
    return &st->stats;
}

void mw_window_process(const struct mw_window_def *def, struct mw_window_state *st,
                       struct mw_event *ev, const struct mw_match_ctx *ctx,
                       mw_window_emit_fn emit, void *ud)
{
    struct mw_emit e = {emit, ud};
    ops_of(def)->process(def, st, ev, ctx, &e);
}

void mw_window_advance(const struct mw_window_def *def, struct mw_window_state *st,
                       mw_time_t now, mw_window_emit_fn emit, void *ud)
{
    struct mw_emit e = {emit, ud};
    ops_of(def)->advance(def, st, now, &e);
}

void mw_window_finish(const struct mw_window_def *def, struct mw_window_state *st,
                      mw_window_emit_fn emit, void *ud)
{
    struct mw_emit e = {emit, ud};
    if (ops_of(def)->finish)
        ops_of(def)->finish(def, st, &e);
}

json_t *mw_window_dump(const struct mw_window_def *def, const struct mw_window_state *st,
                       struct mw_evtab *t)
{
    return ops_of(def)->dump(def, st, t);
}

int mw_window_restore(const struct mw_window_def *def, struct mw_window_state *st,
                      const json_t *doc, const struct mw_evtab *t, struct mw_error *err)
{
    return ops_of(def)->restore(def, st, doc, t, err);
}

int mw_window_save(const struct mw_window_def *def, const struct mw_window_state *st,
                   const char *rule_id, const char *path, struct mw_error *err)
{
    const struct mw_detector_ops *ops = ops_of(def);
    return ops->save ? ops->save(def, st, rule_id, path, err) : 0;
}

int mw_window_load(const struct mw_window_def *def, struct mw_window_state *st,
                   const char *rule_id, const char *path, struct mw_error *err)
{
    const struct mw_detector_ops *ops = ops_of(def);
    return ops->load ? ops->load(def, st, rule_id, path, err) : 0;
}

/* ---------------------------------------------------------------------- */
/* checkpoints                                                             */

json_t *win_dump(const void *d, const void *s, struct mw_evtab *t)
{
    const struct mw_window_def *def = d;
    const struct mw_window_state *st = s;
    json_t *groups = json_array();
    for (const struct group *g = st->head; g; g = g->next) {
        json_t *o = json_pack("{s:o, s:I, s:I}", "k", mw_evtab_hex(g->key, g->klen),
                              "newest", (json_int_t)g->newest, "due", (json_int_t)g->due);
        json_t *a = json_array();
        for (uint32_t i = 0; g->ts && i < g->n; i++)
            json_array_append_new(a, json_integer((json_int_t)g->ts[i]));
        json_object_set_new(o, "ts", a);
        a = json_array();
        for (uint32_t i = 0; g->vals && i < g->n; i++)
            json_array_append_new(
                a, json_pack("[o, I, o]", mw_evtab_hex(g->vals[i].key, g->vals[i].klen),
                             (json_int_t)g->vals[i].ts, mw_evtab_put(t, g->vals[i].ev)));
        json_object_set_new(o, "vals", a);
        a = json_array();
        for (uint32_t i = 0; g->bt && i < g->n; i++)
            json_array_append_new(a, json_pack("[I, I]", (json_int_t)g->bt[i].ts,
                                               (json_int_t)g->bt[i].seq));
        json_object_set_new(o, "bt", a);
        a = json_array();
        for (int i = 0; i < g->nev; i++)
            json_array_append_new(a, mw_evtab_put(t, g->ev[i]));
        json_object_set_new(o, "ev", a);
        json_array_append_new(groups, o);
    }
    return json_pack("{s:s, s:I, s:I, s:o}", "kind", mw_window_kind_name(def->kind),
                     "now", (json_int_t)st->now, "since", (json_int_t)st->since, "groups",
                     groups);
}

/* Checkpoints are untrusted input (docs/SECURITY.md, item 8): whoever can
 * write the state folder can recompute the trailer. Every field is checked
 * before it is used: types, times within MW_TIME_MIN..MW_TIME_MAX (so no
 * arithmetic on them can overflow), counts against the kind's bounds, the
 * arrays the kind keeps (another kind's arrays would be read as its own),
 * event indexes in range, and no key twice (a second copy of a group used
 * to append past the first one's arrays). */
static bool time_in_range(const json_t *v)
{
    json_int_t t = json_integer_value(v);
    return json_is_integer(v) && t >= MW_TIME_MIN && t <= MW_TIME_MAX;
}

static bool time_or(const json_t *v, mw_time_t sentinel)
{
    return time_in_range(v) || (json_is_integer(v) && json_integer_value(v) == sentinel);
}

static bool is_array_or_absent(const json_t *v)
{
    return v == NULL || json_is_array(v);
}

/* One group of the frame into st; NULL with *why set when malformed. */
static const char *restore_group(const struct mw_window_def *def,
                                 struct mw_window_state *st, const json_t *o,
                                 const struct mw_evtab *t, int ev_cap)
{
    const json_t *ts = json_object_get(o, "ts"), *vals = json_object_get(o, "vals");
    const json_t *bt = json_object_get(o, "bt"), *ev = json_object_get(o, "ev"), *v;
    const json_t *newest = json_object_get(o, "newest"), *due = json_object_get(o, "due");
    size_t j, nts = json_array_size(ts), nvals = json_array_size(vals);
    size_t nbt = json_array_size(bt), nev = json_array_size(ev);
    bool thr = def->kind == MW_WINDOW_THRESHOLD, dis = def->kind == MW_WINDOW_DISTINCT;
    bool abs = def->kind == MW_WINDOW_ABSENCE;
    long klen;

    if (!json_is_object(o))
        return "a group is not an object";
    if (!is_array_or_absent(ts) || !is_array_or_absent(vals) || !is_array_or_absent(bt) ||
        !is_array_or_absent(ev))
        return "ts, vals, bt and ev must be arrays";
    if ((nts && !thr) || (nvals && !dis) || (nbt && !abs) || (nev && !(thr || abs)))
        return "a group holds arrays its window kind does not keep";
    if (nts > MW_WINDOW_MAX_COUNT || nvals > MW_WINDOW_MAX_DISTINCT ||
        nbt > ABSENT_TIMES_MAX || nev > (size_t)ev_cap)
        return "a group holds more entries than its window kind keeps";
    if (!(abs ? time_or(newest, INT64_MIN) : time_in_range(newest)))
        return "a group's newest time is missing or out of range";
    if (!(time_or(due, 0) || (abs && time_or(due, INT64_MIN))))
        return "a group's due time is missing or out of range";
    klen = mw_evtab_unhex_into(json_object_get(o, "k"), &st->key);
    if (klen < 0 || klen > INT32_MAX)
        return "a group key is not a hex string";
    if (win_group_get(st, st->key.ptr, (size_t)klen, false) != NULL)
        return "a group key appears twice";
    if (abs && nev == 0 && nbt == 0)
        return "an absence group with neither a pending event nor absent times";
    /* every value checked before the group exists */
    json_array_foreach(ts, j, v)
    {
        if (!time_in_range(v) ||
            (j > 0 &&
             json_integer_value(v) < json_integer_value(json_array_get(ts, j - 1))))
            return "threshold times out of range or out of order";
    }
    if (nvals) {
        struct mw_dict *seen = mw_dict_new();
        const char *bad = NULL;
        json_array_foreach(vals, j, v)
        {
            const json_t *vk = json_array_get(v, 0);
            if (!json_is_array(v) || json_array_size(v) != 3 || !json_is_string(vk) ||
                !time_in_range(json_array_get(v, 1)) ||
                mw_evtab_get(t, json_array_get(v, 2)) == NULL) {
                bad = "a distinct value is not [hex key, time, event index in range]";
                break;
            }
            if (mw_dict_put(seen, json_string_value(vk), json_string_length(vk), seen) !=
                NULL) {
                bad = "a distinct value appears twice in a group";
                break;
            }
        }
        mw_dict_free(seen);
        if (bad != NULL)
            return bad;
    }
    json_array_foreach(bt, j, v)
    {
        if (!json_is_array(v) || json_array_size(v) != 2 ||
            !time_in_range(json_array_get(v, 0)) ||
            !json_is_integer(json_array_get(v, 1)) ||
            json_integer_value(json_array_get(v, 1)) < 0)
            return "an absent time is not [time, arrival serial]";
    }
    json_array_foreach(ev, j, v)
    {
        if (mw_evtab_get(t, v) == NULL)
            return "an event index is out of range";
    }

    struct group *g = win_group_get(st, st->key.ptr, (size_t)klen, true);
    g->newest = json_integer_value(newest);
    g->due = json_integer_value(due);
    if (nts) {
        g->cap = (uint32_t)nts;
        g->ts = xmalloc(nts * sizeof(*g->ts));
        json_array_foreach(ts, j, v) g->ts[g->n++] = json_integer_value(v);
    } else if (nvals) {
        g->cap = (uint32_t)nvals;
        g->vals = xcalloc(nvals, sizeof(*g->vals));
        json_array_foreach(vals, j, v)
        {
            size_t vlen;
            char *vk = mw_evtab_unhex(json_array_get(v, 0), &vlen);
            if (vk == NULL)
                return "a distinct value key is not a hex string";
            g->vals[g->n].key = vk;
            g->vals[g->n].klen = vlen;
            g->vals[g->n].ts = json_integer_value(json_array_get(v, 1));
            g->vals[g->n].ev = mw_event_ref(mw_evtab_get(t, json_array_get(v, 2)));
            g->n++;
        }
    } else if (nbt) {
        g->bt = xmalloc(ABSENT_TIMES_MAX * sizeof(*g->bt));
        json_array_foreach(bt, j, v)
        {
            g->bt[g->n].ts = json_integer_value(json_array_get(v, 0));
            g->bt[g->n].seq = (uint64_t)json_integer_value(json_array_get(v, 1));
            g->n++;
        }
    }
    if (nev) {
        g->ev = xcalloc((size_t)ev_cap, sizeof(*g->ev));
        json_array_foreach(ev, j, v) g->ev[g->nev++] = mw_event_ref(mw_evtab_get(t, v));
    }
    return NULL;
}

int win_restore_frame(const struct mw_window_def *def, struct mw_window_state *st,
                      const json_t *doc, const struct mw_evtab *t, int ev_cap,
                      struct mw_error *err)
{
    const json_t *groups = json_object_get(doc, "groups"), *o;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const json_t *now = json_object_get(doc, "now"),
                 *since = json_object_get(doc, "since");
    const char *why = NULL;
    size_t i;

    if (!json_is_object(doc) || kind == NULL ||
        strcmp(kind, mw_window_kind_name(def->kind)) != 0 || !json_is_array(groups))
        return mw_error_set(err, "window state of another kind (%s, not %s)",
                            kind ? kind : "?", mw_window_kind_name(def->kind));
    while (st->head) /* e.g. new_terms history read from its file */
        win_group_drop(st, st->head);
    if (!time_or(now, INT64_MIN / 2) || !time_or(since, INT64_MIN))
        return mw_error_set(err, "malformed window state: now or since missing or out "
                                 "of range");
    st->now = json_integer_value(now);
    st->since = json_integer_value(since);
    json_array_foreach(groups, i, o)
    {
        if ((why = restore_group(def, st, o, t, ev_cap)) != NULL)
            break;
    }
    if (why != NULL) {
        while (st->head)
            win_group_drop(st, st->head);
        st->now = INT64_MIN / 2;
        st->since = INT64_MIN;
        return mw_error_set(err, "malformed window state: group %zu: %s", i, why);
    }
    /* a smaller --max-open-keys than the run that wrote it: evict as usual */
    win_enforce_cap(st, NULL);
    return 0;
}

int win_restore(const void *def, void *st, const json_t *doc, const struct mw_evtab *t,
                struct mw_error *err)
{
    return win_restore_frame(def, st, doc, t, MW_WINDOW_ALERT_EVENTS, err);
}
