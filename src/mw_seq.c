/* mw_seq.c - EQL sequence state machines keyed by join key
 *
 * Layout: a keystate holds one slot per non-final stage; slot k holds the
 * pending sequence that has matched stages 0..k (k+1 events, refcounted).
 * Invariants: a keystate with every slot empty is freed at once; `touched`
 * is the newest first-event time among the slots it has held, so a keystate
 * whose touched time is more than maxspan behind "now" can hold nothing that
 * may still complete. The list is ordered by touched time (for events in
 * time order; a late event can leave a key slightly out of place, which only
 * delays its expiry).
 */
#include "mw_seq.h"
#include "mw_dict.h"
#include "mw_mem.h"

#include <stdlib.h>
#include <string.h>

struct partial {
    int n;
    mw_time_t first_ts;
    struct mw_event *ev[];  /* owned references */
};

struct keystate {
    struct keystate *prev, *next;   /* LRU list */
    mw_time_t touched;
    size_t klen;
    char *key;                      /* points into this allocation */
    struct partial *slot[];         /* nsteps - 1 slots */
};

struct mw_seq_state {
    int nslots;
    struct mw_dict *keys;           /* key bytes -> struct keystate */
    struct keystate *head, *tail;   /* LRU: head is the oldest */
    char *keybuf;                   /* owned scratch for key building */
    size_t keycap;
    struct mw_seq_stats stats;
    mw_seq_observer_fn obs;         /* may be NULL: explain only */
    void *obs_ud;
    const struct mw_event *cur;     /* event being processed (for the observer) */
};

static void trace(const struct mw_seq_state *st, enum mw_seq_trace_kind kind,
                  int step, const struct mw_event *ev, const struct partial *p)
{
    struct mw_seq_trace t = {kind, step, ev, p ? p->ev : NULL, p ? p->n : 0};
    st->obs(st->obs_ud, &t);
}

#define TRACE(st, kind, step, ev, p)            \
    do {                                        \
        if ((st)->obs)                          \
            trace((st), (kind), (step), (ev), (p)); \
    } while (0)

void mw_seq_set_observer(struct mw_seq_state *st, mw_seq_observer_fn fn, void *ud)
{
    st->obs = fn;
    st->obs_ud = ud;
}

/* Reports each pending sequence of ks as dropped (before keystate_drop). */
static void trace_drop(const struct mw_seq_state *st, const struct keystate *ks,
                       enum mw_seq_trace_kind kind)
{
    for (int i = 0; i < st->nslots; i++)
        if (ks->slot[i])
            trace(st, kind, -1, st->cur, ks->slot[i]);
}

void mw_seq_def_free(struct mw_seq_def *def)
{
    if (def == NULL)
        return;
    for (int i = 0; i < def->nsteps; i++) {
        if (def->owns_where[i])
            mw_matcher_free(def->where[i]);
        for (int k = 0; k < MW_SEQ_MAX_KEYS; k++)
            mw_path_free(def->keys[i].paths[k]);
    }
    mw_matcher_free(def->until_where);
    for (int k = 0; k < MW_SEQ_MAX_KEYS; k++)
        mw_path_free(def->until_keys.paths[k]);
    free(def);
}

struct mw_seq_state *mw_seq_state_new(const struct mw_seq_def *def)
{
    struct mw_seq_state *st = xcalloc(1, sizeof(*st));
    st->nslots = def->nsteps - 1;
    st->keys = mw_dict_new();
    st->keycap = 256;
    st->keybuf = xmalloc(st->keycap);
    return st;
}

static void partial_free(struct partial *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->n; i++)
        mw_event_unref(p->ev[i]);
    free(p);
}

static void lru_unlink(struct mw_seq_state *st, struct keystate *ks)
{
    if (ks->prev)
        ks->prev->next = ks->next;
    else
        st->head = ks->next;
    if (ks->next)
        ks->next->prev = ks->prev;
    else
        st->tail = ks->prev;
    ks->prev = ks->next = NULL;
}

static void lru_append(struct mw_seq_state *st, struct keystate *ks)
{
    ks->prev = st->tail;
    ks->next = NULL;
    if (st->tail)
        st->tail->next = ks;
    else
        st->head = ks;
    st->tail = ks;
}

/* Frees ks and its pending sequences; returns how many it held. */
static int keystate_drop(struct mw_seq_state *st, struct keystate *ks)
{
    int n = 0;
    for (int i = 0; i < st->nslots; i++) {
        if (ks->slot[i]) {
            partial_free(ks->slot[i]);
            n++;
        }
    }
    lru_unlink(st, ks);
    mw_dict_del(st->keys, ks->key, ks->klen);
    st->stats.open -= (uint64_t)n;
    st->stats.open_keys--;
    free(ks);
    return n;
}

static bool keystate_empty(const struct mw_seq_state *st, const struct keystate *ks)
{
    for (int i = 0; i < st->nslots; i++)
        if (ks->slot[i])
            return false;
    return true;
}

static void drop_if_empty(struct mw_seq_state *st, struct keystate *ks)
{
    if (keystate_empty(st, ks))
        keystate_drop(st, ks);
}

void mw_seq_state_free(struct mw_seq_state *st)
{
    if (st == NULL)
        return;
    while (st->head)
        keystate_drop(st, st->head);
    mw_dict_free(st->keys);
    free(st->keybuf);
    free(st);
}

const struct mw_seq_stats *mw_seq_stats(const struct mw_seq_state *st)
{
    return &st->stats;
}

void mw_seq_foreach_pending(const struct mw_seq_state *st,
                            void (*fn)(void *ud, struct mw_event *const *evs, int n),
                            void *ud)
{
    for (const struct keystate *ks = st->head; ks; ks = ks->next)
        for (int i = 0; i < st->nslots; i++)
            if (ks->slot[i])
                fn(ud, ks->slot[i]->ev, ks->slot[i]->n);
}

/* ---------------------------------------------------------------------- */
/* join keys                                                               */

static int put(char *buf, size_t size, size_t *pos, const void *data, size_t len)
{
    if (*pos + len > size)
        return -1;
    memcpy(buf + *pos, data, len);
    *pos += len;
    return 0;
}

int mw_seq_key(const struct mw_seq_keys *keys, int nkeys, bool ci,
               const struct mw_event *ev, char *buf, size_t size)
{
    size_t pos = 0;

    for (int i = 0; i < nkeys; i++) {
        const json_t *v = mw_path_get(ev->root, keys->paths[i]);
        char tag;
        if (mw_value_is_null(v)) {
            if (!keys->optional[i])
                return -1;
            tag = 'z';
            if (put(buf, size, &pos, &tag, 1) < 0)
                return -2;
        } else if (json_is_string(v)) {
            uint32_t len = (uint32_t)json_string_length(v);
            tag = 's';
            if (put(buf, size, &pos, &tag, 1) < 0 ||
                put(buf, size, &pos, &len, sizeof(len)) < 0 ||
                put(buf, size, &pos, json_string_value(v), len) < 0)
                return -2;
            if (ci)
                for (size_t j = pos - len; j < pos; j++)
                    if (buf[j] >= 'A' && buf[j] <= 'Z')
                        buf[j] = (char)(buf[j] - 'A' + 'a');
        } else if (json_is_number(v)) {
            /* 0 and 0.0 must join: integral reals are keyed as integers */
            double d = json_number_value(v);
            int64_t iv;
            if (json_is_integer(v)) {
                iv = json_integer_value(v);
                tag = 'i';
            } else if (d >= -9.2e18 && d <= 9.2e18 && (double)(int64_t)d == d) {
                iv = (int64_t)d;
                tag = 'i';
            } else {
                tag = 'd';
            }
            if (put(buf, size, &pos, &tag, 1) < 0)
                return -2;
            if (tag == 'i' ? put(buf, size, &pos, &iv, sizeof(iv))
                           : put(buf, size, &pos, &d, sizeof(d)))
                return -2;
        } else if (json_is_boolean(v)) {
            char b = json_is_true(v) ? 1 : 0;
            tag = 'b';
            if (put(buf, size, &pos, &tag, 1) < 0 || put(buf, size, &pos, &b, 1) < 0)
                return -2;
        } else {
            return -1;  /* arrays and objects never join */
        }
    }
    return (int)pos;
}

/* Builds the key into st->keybuf, growing it as needed. */
static int build_key(struct mw_seq_state *st, const struct mw_seq_keys *keys,
                     int nkeys, bool ci, const struct mw_event *ev)
{
    for (;;) {
        int n = mw_seq_key(keys, nkeys, ci, ev, st->keybuf, st->keycap);
        if (n != -2)
            return n;
        if (st->keycap >= (1u << 30))
            return -1;
        st->keycap *= 2;
        st->keybuf = xrealloc(st->keybuf, st->keycap);
    }
}

/* ---------------------------------------------------------------------- */
/* state machine                                                           */

static struct keystate *keystate_get(struct mw_seq_state *st, size_t klen,
                                     bool create)
{
    struct keystate *ks = mw_dict_get(st->keys, st->keybuf, klen);
    if (ks || !create)
        return ks;
    ks = xcalloc(1, sizeof(*ks) + (size_t)st->nslots * sizeof(struct partial *) + klen);
    ks->klen = klen;
    ks->key = (char *)(ks->slot + st->nslots);
    memcpy(ks->key, st->keybuf, klen);
    ks->touched = INT64_MIN;
    mw_dict_put(st->keys, ks->key, klen, ks);
    lru_append(st, ks);
    st->stats.open_keys++;
    return ks;
}

/* Keeps the list ordered by `touched` (the newest first-event time): a key
 * moves to the back only when that time grows, so the expiry sweep can stop
 * at the first key that is still live, and the cap evicts the key whose
 * newest sequence started longest ago. */
static void touch(struct mw_seq_state *st, struct keystate *ks, mw_time_t first_ts)
{
    if (first_ts <= ks->touched)
        return;
    ks->touched = first_ts;
    lru_unlink(st, ks);
    lru_append(st, ks);
}

void mw_seq_advance(const struct mw_seq_def *def, struct mw_seq_state *st,
                    mw_time_t now)
{
    if (def->maxspan <= 0)
        return;
    while (st->head && now - st->head->touched > def->maxspan) {
        if (st->obs)
            trace_drop(st, st->head, MW_SEQ_T_EXPIRED);
        st->stats.expired += (uint64_t)keystate_drop(st, st->head);
    }
}

static void enforce_cap(const struct mw_seq_def *def, struct mw_seq_state *st,
                        const struct keystate *keep)
{
    while (def->max_keys && st->stats.open_keys > def->max_keys &&
           st->head && st->head != keep) {
        if (st->obs)
            trace_drop(st, st->head, MW_SEQ_T_EVICTED);
        st->stats.evicted += (uint64_t)keystate_drop(st, st->head);
    }
}

static void step_event(const struct mw_seq_def *def, struct mw_seq_state *st,
                       struct mw_event *ev, int k, mw_seq_emit_fn emit, void *ud)
{
    int klen = build_key(st, &def->keys[k], def->nkeys, def->keys_ci, ev);
    struct keystate *ks;
    struct partial *p;

    if (klen < 0) {
        st->stats.no_key++;
        TRACE(st, MW_SEQ_T_NO_KEY, k, ev, NULL);
        return;
    }
    if (k == 0) {
        ks = keystate_get(st, (size_t)klen, true);
        if (ks->slot[0]) {
            TRACE(st, MW_SEQ_T_REPLACED, k, ev, ks->slot[0]);
            partial_free(ks->slot[0]);
            st->stats.replaced++;
            st->stats.open--;
        }
        p = xmalloc(sizeof(*p) + sizeof(struct mw_event *));
        p->n = 1;
        p->first_ts = ev->ts;
        p->ev[0] = mw_event_ref(ev);
        ks->slot[0] = p;
        st->stats.started++;
        st->stats.open++;
        TRACE(st, MW_SEQ_T_STARTED, k, ev, p);
        touch(st, ks, ev->ts);
        enforce_cap(def, st, ks);
        return;
    }

    ks = keystate_get(st, (size_t)klen, false);
    if (ks == NULL || ks->slot[k - 1] == NULL) {
        TRACE(st, MW_SEQ_T_NO_PENDING, k, ev, NULL);
        return;
    }
    p = ks->slot[k - 1];
    if (mw_event_cmp(p->ev[p->n - 1], ev) >= 0) {
        TRACE(st, MW_SEQ_T_NOT_AFTER, k, ev, p);
        return;  /* not strictly after the previous stage: cannot chain */
    }
    if (def->maxspan > 0 && ev->ts - p->first_ts > def->maxspan) {
        TRACE(st, MW_SEQ_T_EXPIRED, k, ev, p);
        ks->slot[k - 1] = NULL;
        partial_free(p);
        st->stats.expired++;
        st->stats.open--;
        drop_if_empty(st, ks);
        return;
    }
    ks->slot[k - 1] = NULL;
    p = xrealloc(p, sizeof(*p) + (size_t)(p->n + 1) * sizeof(struct mw_event *));
    p->ev[p->n++] = mw_event_ref(ev);
    if (k == def->nsteps - 1) {
        st->stats.completed++;
        st->stats.open--;
        TRACE(st, MW_SEQ_T_COMPLETED, k, ev, p);
        emit(ud, p->ev, p->n);
        partial_free(p);
        drop_if_empty(st, ks);
        return;
    }
    if (ks->slot[k]) {
        TRACE(st, MW_SEQ_T_REPLACED, k, ev, ks->slot[k]);
        partial_free(ks->slot[k]);
        st->stats.replaced++;
        st->stats.open--;
    }
    ks->slot[k] = p;
    TRACE(st, MW_SEQ_T_ADVANCED, k, ev, p);
    touch(st, ks, p->first_ts);
}

static void until_event(const struct mw_seq_def *def, struct mw_seq_state *st,
                        struct mw_event *ev)
{
    int klen = build_key(st, &def->until_keys, def->nkeys, def->keys_ci, ev);
    struct keystate *ks;

    if (klen < 0)
        return;
    ks = keystate_get(st, (size_t)klen, false);
    if (ks == NULL)
        return;
    for (int i = 0; i < st->nslots; i++) {
        struct partial *p = ks->slot[i];
        /* only sequences whose last event came before the until event; ES
         * keeps one whose last event is the until event itself */
        if (p && mw_event_cmp(p->ev[p->n - 1], ev) < 0) {
            TRACE(st, MW_SEQ_T_CANCELLED, -1, ev, p);
            partial_free(p);
            ks->slot[i] = NULL;
            st->stats.cancelled++;
            st->stats.open--;
        }
    }
    drop_if_empty(st, ks);
}

void mw_seq_process(const struct mw_seq_def *def, struct mw_seq_state *st,
                    struct mw_event *ev, const struct mw_match_ctx *ctx,
                    mw_seq_emit_fn emit, void *ud)
{
    st->cur = ev;
    mw_seq_advance(def, st, ev->ts);
    for (int k = def->nsteps - 1; k >= 0; k--) {
        if (mw_matcher_eval(def->where[k], ev, ctx) != MW_TRUE)
            continue;
        st->stats.matched[k]++;
        step_event(def, st, ev, k, emit, ud);
    }
    if (def->until_where &&
        mw_matcher_eval(def->until_where, ev, ctx) == MW_TRUE) {
        st->stats.until_matched++;
        TRACE(st, MW_SEQ_T_UNTIL, -1, ev, NULL);
        until_event(def, st, ev);
    }
}
