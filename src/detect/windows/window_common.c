/* mw_window.c - threshold, distinct-count, first-seen and absence windows
 *
 * One group per key value, in a dict and on a list. For threshold, distinct
 * and new_terms the list is LRU (least recently updated first) and a group
 * is stale when its newest event time is more than span behind
 * now - lateness: no acceptable event can share a window with it any more.
 * For absence the list is ordered by `due` (the pending window's deadline,
 * else the newest remembered `absent` time) and a group is handled when
 * due < now - lateness: no acceptable event can fall inside its window.
 *
 * What a group keeps: threshold, the event times of its window (sorted, at
 * most count) and the MW_WINDOW_ALERT_EVENTS most recent events; distinct,
 * one (value, newest time, newest event) per distinct value (fewer than
 * count); new_terms, the last time the term was seen; absence, the pending
 * `first` event and, when lateness > 0, the times of recent `absent` events
 * (so a late `first` is not reported when its `absent` came before it in
 * arrival order but after it in event time).
 */
#include "mw_window.h"
#include "mw_list.h"
#include "mw_dict.h"
#include "mw_evtab.h"
#include "mw_time.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ABSENT_TIMES_MAX 16

struct dval {
    char *key; /* owned, type-tagged value bytes */
    size_t klen;
    mw_time_t ts;
    struct mw_event *ev; /* owned reference: newest with this value */
};

struct btime {
    mw_time_t ts;
    uint64_t seq;
};

struct group {
    struct group *prev, *next;
    mw_time_t newest;     /* newest event time (new_terms: last seen) */
    mw_time_t due;        /* absence: list order */
    uint32_t n, cap;      /* entries of ts / vals / bt */
    mw_time_t *ts;        /* threshold: sorted event times */
    struct dval *vals;    /* distinct */
    struct btime *bt;     /* absence: recent `absent` events */
    struct mw_event **ev; /* threshold: recent events; absence: ev[0] */
    int nev;
    size_t klen;
    char key[];
};

struct mw_window_state {
    struct mw_dict *groups;
    struct group *head, *tail;
    mw_time_t now;
    mw_time_t since;    /* new_terms: first event time covered */
    struct mw_buf key;  /* owned scratch: a group key */
    struct mw_buf vkey; /* owned scratch: distinct's value key */
    struct mw_window_stats stats;
};

const char *mw_window_kind_name(enum mw_window_kind k)
{
    switch (k) {
    case MW_WINDOW_THRESHOLD:
        return "threshold";
    case MW_WINDOW_DISTINCT:
        return "distinct";
    case MW_WINDOW_NEW_TERMS:
        return "new_terms";
    case MW_WINDOW_ABSENCE:
        return "absence";
    }
    return "?";
}

void mw_window_def_free(struct mw_window_def *def)
{
    if (def == NULL)
        return;
    mw_matcher_free(def->where);
    mw_matcher_free(def->absent_where);
    for (int k = 0; k < MW_SEQ_MAX_KEYS; k++) {
        mw_path_free(def->by.paths[k]);
        mw_path_free(def->absent_by.paths[k]);
    }
    mw_path_free(def->field);
    free(def);
}

struct mw_window_state *mw_window_state_new(const struct mw_window_def *def)
{
    struct mw_window_state *st = xcalloc(1, sizeof(*st));
    (void)def;
    st->groups = mw_dict_new();
    st->now = INT64_MIN / 2;
    st->since = INT64_MIN;
    mw_buf_init(&st->key);
    mw_buf_init(&st->vkey);
    return st;
}

static void list_unlink(struct mw_window_state *st, struct group *g)
{
    MW_LIST_UNLINK(st, g);
}

static void list_append(struct mw_window_state *st, struct group *g)
{
    MW_LIST_APPEND(st, g);
}

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

static void group_drop(struct mw_window_state *st, struct group *g)
{
    list_unlink(st, g);
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

void mw_window_state_free(struct mw_window_state *st)
{
    if (st == NULL)
        return;
    while (st->head)
        group_drop(st, st->head);
    mw_dict_free(st->groups);
    mw_buf_release(&st->key);
    mw_buf_release(&st->vkey);
    free(st);
}

const struct mw_window_stats *mw_window_stats(const struct mw_window_state *st)
{
    return &st->stats;
}

/* The group key of ev into st->key (mw_key). Returns its length, or -1
 * when the event has no key. */
static int build_key(struct mw_window_state *st, const struct mw_seq_keys *keys,
                     int nkeys, bool ci, const struct mw_event *ev)
{
    if (mw_key_build(&st->key, keys, nkeys, ci, ev) < 0 || st->key.len > INT32_MAX)
        return -1;
    return (int)st->key.len;
}

static struct group *group_get(struct mw_window_state *st, size_t klen, bool create)
{
    struct group *g = mw_dict_get(st->groups, st->key.ptr, klen);
    if (g || !create)
        return g;
    g = xcalloc(1, sizeof(*g) + klen);
    g->klen = klen;
    memcpy(g->key, st->key.ptr, klen);
    g->newest = INT64_MIN;
    mw_dict_put(st->groups, g->key, klen, g);
    list_append(st, g);
    st->stats.open++;
    return g;
}

static void enforce_cap(const struct mw_window_def *def, struct mw_window_state *st,
                        const struct group *keep)
{
    while (def->max_states && st->stats.open > def->max_states && st->head &&
           st->head != keep) {
        group_drop(st, st->head);
        st->stats.evicted++;
    }
}

static json_t *time_json(mw_time_t t)
{
    char buf[MW_TIME_FORMAT_SIZE];
    if (mw_time_format(t, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

static json_t *span_json(mw_time_t d)
{
    char buf[64];
    if (mw_duration_format(d, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

static void fire(const struct mw_window_def *def, struct mw_window_state *st,
                 struct mw_event *const *evs, int n, const struct mw_seq_keys *keys,
                 json_t *details, mw_window_emit_fn emit, void *ud)
{
    json_t *key = mw_key_values(keys, def->nby, evs[n - 1]);
    st->stats.fired++;
    emit(ud, evs, n, key, details);
    json_decref(key);
    json_decref(details);
}

/* ---------------------------------------------------------------------- */
/* threshold                                                               */

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
                            struct group *g, struct mw_event *ev, mw_window_emit_fn emit,
                            void *ud)
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
        json_t *d =
            json_pack("{s:I, s:I, s:o, s:I, s:o, s:o}", "count", (json_int_t)g->n,
                      "threshold", (json_int_t)def->count, "window", span_json(def->span),
                      "window_ms", (json_int_t)(def->span / 1000), "first",
                      time_json(g->ts[0]), "last", time_json(g->ts[g->n - 1]));
        fire(def, st, g->ev, g->nev, &def->by, d, emit, ud);
        group_drop(st, g);
    }
}

/* ---------------------------------------------------------------------- */
/* distinct count                                                          */

static int cmp_dval_time(const void *a, const void *b)
{
    const struct dval *x = a, *y = b;
    return mw_event_cmp(x->ev, y->ev);
}

static void distinct_event(const struct mw_window_def *def, struct mw_window_state *st,
                           struct group *g, struct mw_event *ev, const char *vkey,
                           size_t vlen, mw_window_emit_fn emit, void *ud)
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
        g->vals[g->n].key = xmalloc(vlen);
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
    if (g->n >= def->count) {
        struct mw_event *evs[MW_WINDOW_ALERT_EVENTS];
        json_t *values = json_array();
        int n = 0;
        qsort(g->vals, g->n, sizeof(*g->vals), cmp_dval_time);
        for (i = 0; i < g->n; i++) {
            json_t *v = mw_path_get(mw_event_root(g->vals[i].ev), def->field);
            json_array_append(values, v ? v : json_null());
        }
        /* the newest events, one per value */
        for (i = g->n > MW_WINDOW_ALERT_EVENTS ? g->n - MW_WINDOW_ALERT_EVENTS : 0;
             i < g->n; i++)
            evs[n++] = g->vals[i].ev;
        json_t *d =
            json_pack("{s:s, s:I, s:I, s:o, s:I, s:o}", "field", mw_path_str(def->field),
                      "count", (json_int_t)g->n, "threshold", (json_int_t)def->count,
                      "window", span_json(def->span), "window_ms",
                      (json_int_t)(def->span / 1000), "values", values);
        fire(def, st, evs, n, &def->by, d, emit, ud);
        group_drop(st, g);
    }
}

/* ---------------------------------------------------------------------- */
/* new terms                                                               */

static void new_terms_event(const struct mw_window_def *def, struct mw_window_state *st,
                            size_t klen, struct mw_event *ev, mw_window_emit_fn emit,
                            void *ud)
{
    struct group *g = group_get(st, klen, false);
    mw_time_t before = INT64_MIN;
    bool seen = false;

    if (st->since == INT64_MIN || ev->ts < st->since)
        st->since = ev->ts;
    if (g) {
        mw_time_t d = ev->ts - g->newest;
        seen = (d < 0 ? -d : d) <= def->span;
        before = g->newest;
    }
    if (!seen && !(def->warmup && ev->ts - st->since < def->span)) {
        json_t *fields = json_array();
        for (int k = 0; k < def->nby; k++)
            json_array_append_new(fields, json_string(mw_path_str(def->by.paths[k])));
        json_t *d =
            json_pack("{s:o, s:o, s:o, s:I, s:o}", "fields", fields, "values",
                      mw_key_values(&def->by, def->nby, ev), "history",
                      span_json(def->span), "history_ms", (json_int_t)(def->span / 1000),
                      "last_seen", before == INT64_MIN ? json_null() : time_json(before));
        fire(def, st, &ev, 1, &def->by, d, emit, ud);
    }
    if (g == NULL)
        g = group_get(st, klen, true);
    if (ev->ts > g->newest)
        g->newest = ev->ts;
    list_unlink(st, g);
    list_append(st, g);
    enforce_cap(def, st, g);
}

/* ---------------------------------------------------------------------- */
/* absence                                                                 */

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
    list_unlink(st, g);
    if (g->nev == 0 && g->n == 0) {
        list_append(st, g);
        group_drop(st, g);
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
    if (def->lateness > 0) {
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
                         struct group *g, mw_window_emit_fn emit, void *ud)
{
    struct mw_event *a = g->ev[0];
    json_t *d = json_pack("{s:o, s:I, s:o}", "within", span_json(def->span), "within_ms",
                          (json_int_t)(def->span / 1000), "deadline",
                          time_json(a->ts + def->span));
    g->nev = 0;
    fire(def, st, &a, 1, &def->by, d, emit, ud);
    mw_event_unref(a);
}

/* ---------------------------------------------------------------------- */

void mw_window_advance(const struct mw_window_def *def, struct mw_window_state *st,
                       mw_time_t now, mw_window_emit_fn emit, void *ud)
{
    mw_time_t horizon;
    if (now > st->now)
        st->now = now;
    horizon = st->now - def->lateness;
    if (def->kind == MW_WINDOW_ABSENCE) {
        while (st->head && st->head->due < horizon) {
            struct group *g = st->head;
            uint32_t w = 0;
            if (g->nev > 0)
                absence_fire(def, st, g, emit, ud);
            for (uint32_t i = 0; i < g->n; i++)
                if (g->bt[i].ts >= horizon)
                    g->bt[w++] = g->bt[i];
            g->n = w;
            absence_reposition(def, st, g);
        }
        return;
    }
    while (st->head && st->head->newest < horizon - def->span) {
        group_drop(st, st->head);
        st->stats.expired++;
    }
}

void mw_window_finish(const struct mw_window_def *def, struct mw_window_state *st,
                      mw_window_emit_fn emit, void *ud)
{
    if (def->kind != MW_WINDOW_ABSENCE)
        return;
    for (struct group *g = st->head, *next; g; g = next) {
        next = g->next;
        if (g->nev > 0 && g->ev[0]->ts + def->span <= st->now)
            absence_fire(def, st, g, emit, ud);
    }
}

bool mw_window_matches(const struct mw_window_def *def, const struct mw_event *ev,
                       const struct mw_match_ctx *ctx)
{
    return mw_matcher_eval(def->where, ev, ctx) == MW_TRUE ||
           (def->absent_where && mw_matcher_eval(def->absent_where, ev, ctx) == MW_TRUE);
}

void mw_window_process(const struct mw_window_def *def, struct mw_window_state *st,
                       struct mw_event *ev, const struct mw_match_ctx *ctx,
                       mw_window_emit_fn emit, void *ud)
{
    int klen;
    struct group *g;

    mw_window_advance(def, st, ev->ts, emit, ud);
    if (def->kind == MW_WINDOW_ABSENCE) {
        /* absent first: an event that is both does not cancel itself */
        if (mw_matcher_eval(def->absent_where, ev, ctx) == MW_TRUE) {
            st->stats.absent_matched++;
            klen = build_key(st, &def->absent_by, def->nby, def->keys_ci, ev);
            if (klen >= 0 && (g = group_get(st, (size_t)klen, def->lateness > 0)))
                absence_absent(def, st, g, ev);
        }
        if (mw_matcher_eval(def->where, ev, ctx) == MW_TRUE) {
            st->stats.matched++;
            klen = build_key(st, &def->by, def->nby, def->keys_ci, ev);
            if (klen < 0) {
                st->stats.no_key++;
                return;
            }
            g = group_get(st, (size_t)klen, true);
            absence_first(def, st, g, ev);
            if (mw_dict_get(st->groups, st->key.ptr, (size_t)klen) == g)
                enforce_cap(def, st, g);
        }
        return;
    }
    if (mw_matcher_eval(def->where, ev, ctx) != MW_TRUE)
        return;
    st->stats.matched++;
    klen = build_key(st, &def->by, def->nby, def->keys_ci, ev);
    if (klen < 0) {
        st->stats.no_key++;
        return;
    }
    if (def->kind == MW_WINDOW_NEW_TERMS) {
        new_terms_event(def, st, (size_t)klen, ev, emit, ud);
        return;
    }
    if (def->kind == MW_WINDOW_DISTINCT) {
        /* the value's key, built like a one-field group key */
        struct mw_seq_keys vk;
        memset(&vk, 0, sizeof(vk));
        vk.paths[0] = def->field;
        if (mw_key_build(&st->vkey, &vk, 1, def->keys_ci, ev) < 0) {
            st->stats.no_key++;
        } else {
            g = group_get(st, (size_t)klen, true);
            list_unlink(st, g);
            list_append(st, g);
            distinct_event(def, st, g, ev, st->vkey.ptr, st->vkey.len, emit, ud);
            enforce_cap(def, st, NULL);
        }
        return;
    }
    g = group_get(st, (size_t)klen, true);
    list_unlink(st, g);
    list_append(st, g);
    threshold_event(def, st, g, ev, emit, ud);
    enforce_cap(def, st, NULL);
}

/* ---------------------------------------------------------------------- */
/* new_terms persistence                                                   */

static const char MAGIC[] = "moonwatch new_terms state v1";

struct save_ctx {
    FILE *fp;
};

int mw_window_save(const struct mw_window_def *def, const struct mw_window_state *st,
                   const char *rule_id, const char *path, struct mw_error *err)
{
    char tmp[4096];
    FILE *fp;
    int fd, rc = 0;

    if (def->kind != MW_WINDOW_NEW_TERMS)
        return 0;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
        (int)sizeof(tmp))
        return mw_error_set(err, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        return mw_error_set(err, "%s: %s", tmp, strerror(errno));
    }
    fprintf(fp, "%s\nrule\t%s\nhistory_us\t%lld\nsince\t%lld\n", MAGIC, rule_id,
            (long long)def->span, (long long)st->since);
    for (const struct group *g = st->head; g; g = g->next) {
        fprintf(fp, "%lld\t", (long long)g->newest);
        for (size_t i = 0; i < g->klen; i++)
            fprintf(fp, "%02x", (unsigned char)g->key[i]);
        fputc('\n', fp);
    }
    fprintf(fp, "end\t%llu\n", (unsigned long long)st->stats.open);
    if (fflush(fp) != 0 || fsync(fd) != 0)
        rc = mw_error_set(err, "%s: %s", tmp, strerror(errno));
    if (fclose(fp) != 0 && rc == 0)
        rc = mw_error_set(err, "%s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = mw_error_set(err, "%s: %s", path, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        return rc;
    }
    /* make the rename itself durable */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    if ((fd = open(dir, O_RDONLY)) >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int mw_window_load(const struct mw_window_def *def, struct mw_window_state *st,
                   const char *rule_id, const char *path, struct mw_error *err)
{
    FILE *fp;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    long long since = INT64_MIN;
    uint64_t count = 0;
    bool ended = false;
    int rc = 0;

    if (def->kind != MW_WINDOW_NEW_TERMS)
        return 0;
    fp = fopen(path, "r");
    if (fp == NULL)
        return errno == ENOENT ? 0 : mw_error_set(err, "%s: %s", path, strerror(errno));
    while ((len = getline(&line, &cap, fp)) > 0) {
        lineno++;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (lineno == 1) {
            if (strcmp(line, MAGIC) != 0) {
                rc = mw_error_set(err,
                                  "%s:1: not a moonwatch new_terms state file "
                                  "(version 1)",
                                  path);
                break;
            }
            continue;
        }
        if (strncmp(line, "rule\t", 5) == 0) {
            if (strcmp(line + 5, rule_id) != 0) {
                rc = mw_error_set(err, "%s:%lu: state of rule '%s', not '%s'", path,
                                  lineno, line + 5, rule_id);
                break;
            }
            continue;
        }
        if (strncmp(line, "history_us\t", 11) == 0)
            continue;
        if (strncmp(line, "since\t", 6) == 0) {
            since = strtoll(line + 6, NULL, 10);
            continue;
        }
        if (strncmp(line, "end\t", 4) == 0) {
            ended = strtoull(line + 4, NULL, 10) == count;
            if (!ended) {
                rc = mw_error_set(err, "%s:%lu: %llu terms, the trailer says %s", path,
                                  lineno, (unsigned long long)count, line + 4);
            }
            break;
        }
        char *tab = strchr(line, '\t');
        char *end;
        long long ts = strtoll(line, &end, 10);
        size_t hlen = tab ? strlen(tab + 1) : 0;
        if (tab == NULL || end != tab || hlen % 2 != 0 || hlen == 0) {
            rc = mw_error_set(err, "%s:%lu: malformed term line", path, lineno);
            break;
        }
        mw_buf_reset(&st->key);
        for (size_t i = 0; i < hlen / 2 && rc == 0; i++) {
            int hi = hexval(tab[1 + 2 * i]), lo = hexval(tab[2 + 2 * i]);
            if (hi < 0 || lo < 0)
                rc = mw_error_set(err, "%s:%lu: malformed term key", path, lineno);
            mw_buf_addc(&st->key, (char)(hi << 4 | lo));
        }
        if (rc != 0)
            break;
        struct group *g = group_get(st, hlen / 2, true);
        if (ts > g->newest)
            g->newest = ts;
        count++;
    }
    if (rc == 0 && !ended)
        rc = mw_error_set(err, "%s: truncated (no trailer)", path);
    free(line);
    fclose(fp);
    if (rc != 0) {
        while (st->head)
            group_drop(st, st->head);
        return rc;
    }
    st->since = since;
    st->stats.loaded = count;
    enforce_cap(def, st, NULL);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* checkpoints                                                             */

json_t *mw_window_dump(const struct mw_window_def *def, const struct mw_window_state *st,
                       struct mw_evtab *t)
{
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

int mw_window_restore(const struct mw_window_def *def, struct mw_window_state *st,
                      const json_t *doc, const struct mw_evtab *t, struct mw_error *err)
{
    const json_t *groups = json_object_get(doc, "groups"), *o;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    size_t i;
    bool bad = false;

    if (kind == NULL || strcmp(kind, mw_window_kind_name(def->kind)) != 0 ||
        !json_is_array(groups))
        return mw_error_set(err, "window state of another kind (%s, not %s)",
                            kind ? kind : "?", mw_window_kind_name(def->kind));
    while (st->head) /* e.g. new_terms history read from its file */
        group_drop(st, st->head);
    st->now = json_integer_value(json_object_get(doc, "now"));
    st->since = json_integer_value(json_object_get(doc, "since"));
    json_array_foreach(groups, i, o)
    {
        size_t j;
        const json_t *ts = json_object_get(o, "ts"), *vals = json_object_get(o, "vals");
        const json_t *bt = json_object_get(o, "bt"), *ev = json_object_get(o, "ev"), *v;
        long klen = mw_evtab_unhex_into(json_object_get(o, "k"), &st->key);
        size_t nts = json_array_size(ts), nvals = json_array_size(vals);
        size_t nbt = json_array_size(bt), nev = json_array_size(ev);
        if (klen < 0 || (nts && nvals) || (nts && nbt) || (nvals && nbt) ||
            nbt > ABSENT_TIMES_MAX || nev > MW_WINDOW_ALERT_EVENTS ||
            nts > MW_WINDOW_MAX_COUNT || nvals > MW_WINDOW_MAX_DISTINCT) {
            bad = true;
            break;
        }
        struct group *g = group_get(st, (size_t)klen, true);
        g->newest = json_integer_value(json_object_get(o, "newest"));
        g->due = json_integer_value(json_object_get(o, "due"));
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
                struct mw_event *e = mw_evtab_get(t, json_array_get(v, 2));
                if (vk == NULL || e == NULL) {
                    free(vk);
                    bad = true;
                    break;
                }
                g->vals[g->n].key = vk;
                g->vals[g->n].klen = vlen;
                g->vals[g->n].ts = json_integer_value(json_array_get(v, 1));
                g->vals[g->n].ev = mw_event_ref(e);
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
            g->ev = xcalloc(def->kind == MW_WINDOW_ABSENCE ? 1 : MW_WINDOW_ALERT_EVENTS,
                            sizeof(*g->ev));
            json_array_foreach(ev, j, v)
            {
                struct mw_event *e = mw_evtab_get(t, v);
                if (e == NULL || (def->kind == MW_WINDOW_ABSENCE && j > 0)) {
                    bad = true;
                    break;
                }
                g->ev[g->nev++] = mw_event_ref(e);
            }
        }
        if (bad)
            break;
    }
    if (bad) {
        while (st->head)
            group_drop(st, st->head);
        return mw_error_set(err, "malformed window state");
    }
    return 0;
}
