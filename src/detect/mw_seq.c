/* mw_seq.c - EQL sequence state machines keyed by join key
 *
 * Layout: a keystate holds one slot per non-final stage; slot k holds the
 * pending sequence that has matched stages 0..k (k+1 events). Partials are
 * immutable and refcounted, so two slot arrays can share them.
 *
 * Late events (lateness > 0): a keystate also keeps a *log* of the events
 * that touched it (stage mask, until flag) whose time is within the
 * lateness bound of "now", and a *base*: the slots as they were before the
 * first logged event. Invariant: current slots == replay(base, log). An
 * in-order event is appended to the log and applied to the current slots at
 * once (no delay); an out-of-order event is inserted at its (ts, seq) place
 * and the current slots are rebuilt by replaying the log over the base,
 * emitting only the completions that hold the late event (alerts already
 * raised stand). Log entries older than now - lateness can be preceded by
 * no acceptable event any more, so they are folded into the base.
 *
 * Invariants: a keystate with nothing in its slots, base and log is freed at
 * once; `touched` is the newest first-event time among the slots it has
 * held; a keystate is stale (and freed by mw_seq_advance) when
 * now - lateness is more than maxspan past `touched` and past its newest
 * logged event. The list is ordered by `touched` (for events in time order;
 * a late event, or a key whose log is still within the lateness, can leave
 * a key slightly out of place, which only delays expiry by at most the
 * lateness).
 *
 * Multi-valued join keys (EQL-SEMANTICS R8b): an event whose key field holds
 * an array takes part once per element (the cross product for several such
 * fields, at most MW_KEY_MAX_FANOUT keys; the rest counted in
 * stats.fanout_dropped), each key reaching its own keystate as a
 * single-valued event would.
 */
#include "mw_seq.h"
#include "mw_dict.h"
#include "mw_evtab.h"
#include "mw_list.h"
#include "mw_mem.h"

#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

struct partial {
    int refs;
    int n;
    size_t bytes; /* this record and the cost of its events */
    mw_time_t first_ts;
    struct mw_event *ev[]; /* owned references */
};

struct logent {
    struct mw_event *ev; /* owned reference */
    uint64_t mask[2];    /* stages it matched with this key */
    bool until;
};

struct keystate {
    struct keystate *prev, *next; /* LRU list */
    mw_time_t touched;
    mw_time_t log_newest;
    struct logent *log; /* owned, (ts, seq) order */
    uint32_t nlog, logcap;
    size_t log_bytes; /* cost of the logged events */
    size_t bytes;     /* charged to st->stats.bytes (ks_account) */
    size_t klen;
    char *key;              /* points into this allocation */
    struct partial *slot[]; /* nslots current, then nslots base
                             * when lateness > 0 */
};

/* The steps of one event that share one key value, applied together: with
 * multi-valued keys (R8b) an event has a group per distinct key, and an
 * event reaching one key's state through two of its values (per-step `by`
 * fields) is still one entry there, its stages applied last to first, so it
 * never chains with itself (R5). */
struct group {
    size_t klen_off, klen;
    uint64_t mask[2];
    bool until;
};

struct mw_seq_state {
    int nslots;
    mw_time_t lateness;           /* from mw_detect_opts at creation */
    size_t max_keys;              /* from mw_detect_opts; 0: no cap */
    size_t max_bytes;             /* from mw_detect_opts; 0: no budget */
    mw_time_t now;                /* newest event time accepted */
    struct mw_dict *keys;         /* key bytes -> struct keystate */
    struct keystate *head, *tail; /* LRU: head is the oldest */
    struct mw_buf key;            /* owned scratch for key building */
    struct mw_buf groupkeys;      /* owned scratch: one event's keys */
    struct group *groups;         /* owned scratch: one event's key groups */
    size_t gcap;
    struct mw_seq_stats stats;
    mw_seq_observer_fn obs; /* may be NULL: explain only */
    void *obs_ud;
    const struct mw_event *cur; /* event being processed (for the observer) */
};

/* The observer sees the live path only: a late event's replay (lateness > 0)
 * re-applies logged events and is not reported step by step. */
static void trace(const struct mw_seq_state *st, enum mw_seq_trace_kind kind, int step,
                  const struct mw_event *ev, const struct partial *p)
{
    struct mw_seq_trace t = {kind, step, ev, p ? p->ev : NULL, p ? p->n : 0};
    st->obs(st->obs_ud, &t);
}

#define TRACE(a, kind, step, ev, p)                                                      \
    do {                                                                                 \
        if ((a)->st->obs && (a)->live)                                                   \
            trace((a)->st, (kind), (step), (ev), (p));                                   \
    } while (0)

void mw_seq_set_observer(struct mw_seq_state *st, mw_seq_observer_fn fn, void *ud)
{
    st->obs = fn;
    st->obs_ud = ud;
}

void mw_seq_def_free(struct mw_seq_def *def)
{
    if (def == NULL)
        return;
    for (int i = 0; i < def->nsteps; i++) {
        if (def->owns_where[i])
            mw_matcher_free(def->where[i]);
        mw_key_paths_free(&def->keys[i]);
    }
    mw_matcher_free(def->until_where);
    mw_key_paths_free(&def->until_keys);
    free(def);
}

struct mw_seq_state *mw_seq_state_new_with(const struct mw_seq_def *def,
                                           const struct mw_detect_opts *opts)
{
    struct mw_seq_state *st = xcalloc(1, sizeof(*st));
    st->nslots = def->nsteps - 1;
    if (opts) {
        st->lateness = opts->lateness > 0 ? opts->lateness : 0;
        st->max_keys = opts->max_keys;
        st->max_bytes = opts->max_bytes;
    }
    st->now = INT64_MIN / 2;
    st->keys = mw_dict_new();
    mw_buf_init(&st->key);
    mw_buf_init(&st->groupkeys);
    st->gcap = MW_SEQ_MAX_STEPS + 1;
    st->groups = xmalloc(st->gcap * sizeof(*st->groups));
    return st;
}

/* A new partial: prev's events (may be NULL) followed by ev. */
static struct partial *partial_new(const struct partial *prev, struct mw_event *ev)
{
    int n = prev ? prev->n + 1 : 1;
    struct partial *p = xmalloc(sizeof(*p) + (size_t)n * sizeof(struct mw_event *));
    p->refs = 1;
    p->n = n;
    p->first_ts = prev ? prev->first_ts : ev->ts;
    for (int i = 0; i < n - 1; i++)
        p->ev[i] = mw_event_ref(prev->ev[i]);
    p->ev[n - 1] = mw_event_ref(ev);
    p->bytes =
        (prev ? prev->bytes + sizeof(struct mw_event *) : sizeof(*p) + sizeof(ev)) +
        mw_event_cost(ev);
    return p;
}

static struct partial *partial_ref(struct partial *p)
{
    if (p)
        p->refs++;
    return p;
}

static void partial_unref(struct partial *p)
{
    if (p == NULL || --p->refs > 0)
        return;
    for (int i = 0; i < p->n; i++)
        mw_event_unref(p->ev[i]);
    free(p);
}

static void lru_unlink(struct mw_seq_state *st, struct keystate *ks)
{
    MW_LIST_UNLINK(st, ks);
}

static void lru_append(struct mw_seq_state *st, struct keystate *ks)
{
    MW_LIST_APPEND(st, ks);
}

/* Frees ks and its pending sequences; returns how many it held. */
static int keystate_drop(struct mw_seq_state *st, struct keystate *ks)
{
    int n = 0;
    for (int i = 0; i < st->nslots; i++) {
        if (ks->slot[i]) {
            partial_unref(ks->slot[i]);
            n++;
        }
        if (st->lateness > 0)
            partial_unref(ks->slot[st->nslots + i]);
    }
    for (uint32_t i = 0; i < ks->nlog; i++)
        mw_event_unref(ks->log[i].ev);
    free(ks->log);
    lru_unlink(st, ks);
    mw_dict_del(st->keys, ks->key, ks->klen);
    st->stats.bytes -= ks->bytes;
    st->stats.open -= (uint64_t)n;
    st->stats.open_keys--;
    free(ks);
    return n;
}

static bool keystate_empty(const struct mw_seq_state *st, const struct keystate *ks)
{
    int nptr = st->nslots * (st->lateness > 0 ? 2 : 1);
    if (ks->nlog > 0)
        return false;
    for (int i = 0; i < nptr; i++)
        if (ks->slot[i])
            return false;
    return true;
}

static bool drop_if_empty(struct mw_seq_state *st, struct keystate *ks)
{
    if (!keystate_empty(st, ks))
        return false;
    keystate_drop(st, ks);
    return true;
}

struct mw_seq_state *mw_seq_state_new(const struct mw_seq_def *def)
{
    return mw_seq_state_new_with(def, NULL);
}

void mw_seq_state_reset(struct mw_seq_state *st)
{
    while (st->head)
        keystate_drop(st, st->head);
    memset(&st->stats, 0, sizeof(st->stats));
    st->now = INT64_MIN / 2;
    st->cur = NULL;
}

void mw_seq_state_free(struct mw_seq_state *st)
{
    if (st == NULL)
        return;
    while (st->head)
        keystate_drop(st, st->head);
    mw_dict_free(st->keys);
    mw_buf_release(&st->key);
    mw_buf_release(&st->groupkeys);
    free(st->groups);
    free(st);
}

const struct mw_seq_stats *mw_seq_stats(const struct mw_seq_state *st)
{
    return &st->stats;
}

/* ---------------------------------------------------------------------- */
/* state machine                                                           */

/* How one application of an event to a slot array reports: live (count and
 * emit), replay (emit only completions holding `must`, count nothing but
 * those), or quiet (folding into the base: neither). */
struct apply {
    const struct mw_seq_def *def;
    struct mw_seq_state *st;
    mw_seq_emit_fn emit;
    void *ud;
    const struct mw_event *must; /* replay: the late event */
    bool live, quiet;
};

static struct keystate *keystate_get(struct mw_seq_state *st, const char *key,
                                     size_t klen, bool create)
{
    struct keystate *ks = mw_dict_get(st->keys, key, klen);
    size_t nptr = (size_t)st->nslots * (st->lateness > 0 ? 2 : 1);
    if (ks || !create)
        return ks;
    ks = xcalloc(1, sizeof(*ks) + nptr * sizeof(struct partial *) + klen);
    ks->klen = klen;
    ks->key = (char *)(ks->slot + nptr);
    memcpy(ks->key, key, klen);
    ks->touched = INT64_MIN;
    ks->log_newest = INT64_MIN;
    mw_dict_put(st->keys, ks->key, klen, ks);
    lru_append(st, ks);
    st->stats.open_keys++;
    return ks;
}

/* Charges ks's current size to the state: the record, its key, its log
 * and every partial in its slots (a partial shared by a current and a
 * base slot is charged twice: an upper bound). */
static void ks_account(struct mw_seq_state *st, struct keystate *ks)
{
    int nptr = st->nslots * (st->lateness > 0 ? 2 : 1);
    size_t b = sizeof(*ks) + (size_t)nptr * sizeof(struct partial *) + ks->klen +
               ks->logcap * sizeof(*ks->log) + ks->log_bytes;
    for (int i = 0; i < nptr; i++)
        if (ks->slot[i])
            b += ks->slot[i]->bytes;
    st->stats.bytes += b - ks->bytes;
    ks->bytes = b;
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

/* A keystate can go when no event still to come (time >= now - lateness)
 * can complete or chain with anything it holds. */
static bool keystate_stale(const struct mw_seq_def *def, const struct mw_seq_state *st,
                           const struct keystate *ks, mw_time_t horizon)
{
    (void)st;
    if (ks->nlog > 0 && ks->log_newest >= horizon)
        return false;
    return ks->touched == INT64_MIN || horizon - ks->touched > def->maxspan;
}

/* Reports each pending sequence of ks as dropped (before keystate_drop). */
static void trace_drop(const struct mw_seq_state *st, const struct keystate *ks,
                       enum mw_seq_trace_kind kind)
{
    for (int i = 0; i < st->nslots; i++)
        if (ks->slot[i])
            trace(st, kind, -1, st->cur, ks->slot[i]);
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

void mw_seq_advance(const struct mw_seq_def *def, struct mw_seq_state *st, mw_time_t now)
{
    if (now > st->now)
        st->now = now;
    if (def->maxspan <= 0)
        return;
    mw_time_t horizon = st->now - st->lateness;
    uint64_t dropped = 0;
    while (st->head && keystate_stale(def, st, st->head, horizon)) {
        if (st->obs)
            trace_drop(st, st->head, MW_SEQ_T_EXPIRED);
        st->stats.expired += (uint64_t)keystate_drop(st, st->head);
        dropped++;
    }
#ifdef __GLIBC__
    /* a mass expiry frees many small blocks: hand the pages back */
    if (dropped >= 65536)
        malloc_trim(0);
#endif
}

static void evict(struct mw_seq_state *st, struct keystate *ks)
{
    if (st->obs)
        trace_drop(st, ks, MW_SEQ_T_EVICTED);
    st->stats.evicted += (uint64_t)keystate_drop(st, ks);
}

/* Byte budget: drops the oldest keys (keep last, and only when it alone is
 * over the budget) until the state holds at most max_bytes. */
static void shed_bytes(struct mw_seq_state *st, size_t max_bytes,
                       const struct keystate *keep)
{
    while (st->stats.bytes > max_bytes && st->head) {
        struct keystate *v = st->head;
        if (v == keep && v->next)
            v = v->next;
        evict(st, v);
        st->stats.byte_evicted++;
    }
}

static void enforce_cap(const struct mw_seq_def *def, struct mw_seq_state *st,
                        const struct keystate *keep)
{
    (void)def;
    while (st->max_keys && st->stats.open_keys > st->max_keys && st->head &&
           st->head != keep)
        evict(st, st->head);
    if (st->max_bytes)
        shed_bytes(st, st->max_bytes, keep);
}

void mw_seq_shed(struct mw_seq_state *st, size_t max_bytes)
{
    shed_bytes(st, max_bytes, NULL);
}

static bool holds(const struct partial *p, const struct mw_event *ev)
{
    for (int i = 0; i < p->n; i++)
        if (p->ev[i] == ev)
            return true;
    return false;
}

/* Puts p into sl[k], releasing what was there. */
static void slot_set(struct apply *a, struct partial **sl, int k, struct partial *p,
                     const struct mw_event *ev)
{
    if (sl[k]) {
        TRACE(a, MW_SEQ_T_REPLACED, k, ev, sl[k]);
        partial_unref(sl[k]);
        if (a->live)
            a->st->stats.replaced++;
    }
    sl[k] = p;
}

/* Event ev matched stage k with this keystate's key: R4 on the slots sl. */
static void apply_step(struct apply *a, struct keystate *ks, struct partial **sl,
                       struct mw_event *ev, int k)
{
    const struct mw_seq_def *def = a->def;
    struct mw_seq_state *st = a->st;
    struct partial *p;

    if (k == 0) {
        slot_set(a, sl, 0, partial_new(NULL, ev), ev);
        if (a->live)
            st->stats.started++;
        TRACE(a, MW_SEQ_T_STARTED, 0, ev, sl[0]);
        if (!a->quiet)
            touch(st, ks, ev->ts);
        return;
    }
    p = sl[k - 1];
    if (p == NULL) {
        TRACE(a, MW_SEQ_T_NO_PENDING, k, ev, NULL);
        return;
    }
    if (mw_event_cmp(p->ev[p->n - 1], ev) >= 0) {
        TRACE(a, MW_SEQ_T_NOT_AFTER, k, ev, p);
        return; /* not strictly after the previous stage: cannot chain */
    }
    if (def->maxspan > 0 && ev->ts - p->first_ts > def->maxspan) {
        TRACE(a, MW_SEQ_T_EXPIRED, k, ev, p);
        sl[k - 1] = NULL;
        partial_unref(p);
        if (a->live)
            st->stats.expired++;
        return;
    }
    sl[k - 1] = NULL;
    struct partial *np = partial_new(p, ev);
    partial_unref(p);
    if (k == def->nsteps - 1) {
        if (!a->quiet && (a->must == NULL || holds(np, a->must))) {
            st->stats.completed++;
            TRACE(a, MW_SEQ_T_COMPLETED, k, ev, np);
            a->emit(a->ud, np->ev, np->n);
        }
        partial_unref(np);
        return;
    }
    slot_set(a, sl, k, np, ev);
    TRACE(a, MW_SEQ_T_ADVANCED, k, ev, np);
    if (!a->quiet)
        touch(st, ks, np->first_ts);
}

static void apply_until(struct apply *a, struct partial **sl, struct mw_event *ev)
{
    for (int i = 0; i < a->st->nslots; i++) {
        struct partial *p = sl[i];
        /* only sequences whose last event came before the until event; ES
         * keeps one whose last event is the until event itself */
        if (p && mw_event_cmp(p->ev[p->n - 1], ev) < 0) {
            TRACE(a, MW_SEQ_T_CANCELLED, -1, ev, p);
            partial_unref(p);
            sl[i] = NULL;
            if (a->live)
                a->st->stats.cancelled++;
        }
    }
}

static void apply_entry(struct apply *a, struct keystate *ks, struct partial **sl,
                        const struct logent *le)
{
    for (int k = a->def->nsteps - 1; k >= 0; k--)
        if (le->mask[k / 64] & (UINT64_C(1) << (k % 64)))
            apply_step(a, ks, sl, le->ev, k);
    if (le->until)
        apply_until(a, sl, le->ev);
}

static int count_slots(const struct mw_seq_state *st, struct partial *const *sl)
{
    int n = 0;
    for (int i = 0; i < st->nslots; i++)
        n += sl[i] != NULL;
    return n;
}

/* Moves log entries that no acceptable event can precede any more
 * (time < now - lateness) into the base state. */
static void fold(const struct mw_seq_def *def, struct mw_seq_state *st,
                 struct keystate *ks)
{
    mw_time_t horizon = st->now - st->lateness;
    struct partial **base = ks->slot + st->nslots;
    uint32_t n = 0;

    if (ks->nlog == 0 || ks->log[0].ev->ts >= horizon)
        return;
    if (ks->log_newest < horizon) {
        /* the whole log folds: the base becomes the current state */
        for (int i = 0; i < st->nslots; i++) {
            partial_unref(base[i]);
            base[i] = partial_ref(ks->slot[i]);
        }
        n = ks->nlog;
    } else {
        struct apply a = {def, st, NULL, NULL, NULL, false, true};
        while (n < ks->nlog && ks->log[n].ev->ts < horizon)
            apply_entry(&a, ks, base, &ks->log[n++]);
    }
    for (uint32_t i = 0; i < n; i++) {
        ks->log_bytes -= mw_event_cost(ks->log[i].ev);
        mw_event_unref(ks->log[i].ev);
    }
    memmove(ks->log, ks->log + n, (ks->nlog - n) * sizeof(*ks->log));
    ks->nlog -= n;
    if (ks->nlog == 0) {
        free(ks->log);
        ks->log = NULL;
        ks->logcap = 0;
    }
}

/* Records ev in ks's log. Returns the entry's index; *inorder tells whether
 * it went at the end (the in-order path). An event already recorded (it
 * matched several stages with this key) gets its mask extended. */
static uint32_t log_add(struct keystate *ks, struct mw_event *ev, bool *inorder)
{
    uint32_t at = ks->nlog;
    if (at > 0 && ks->log[at - 1].ev == ev) {
        *inorder = true;
        return at - 1;
    }
    while (at > 0 && mw_event_cmp(ks->log[at - 1].ev, ev) > 0)
        at--;
    if (at > 0 && ks->log[at - 1].ev == ev) {
        *inorder = false;
        return at - 1;
    }
    if (ks->nlog == ks->logcap) {
        ks->logcap = ks->logcap ? ks->logcap * 2 : 2;
        ks->log = xrealloc(ks->log, ks->logcap * sizeof(*ks->log));
    }
    memmove(ks->log + at + 1, ks->log + at, (ks->nlog - at) * sizeof(*ks->log));
    memset(&ks->log[at], 0, sizeof(ks->log[at]));
    ks->log[at].ev = mw_event_ref(ev);
    ks->log_bytes += mw_event_cost(ev);
    ks->nlog++;
    if (ev->ts > ks->log_newest)
        ks->log_newest = ev->ts;
    *inorder = at == ks->nlog - 1;
    return at;
}

/* Rebuilds ks's current state from its base and its log after a late event
 * went into the log; emits only the completions that hold the late event. */
static void replay(struct apply *live, struct keystate *ks, struct mw_event *late)
{
    struct mw_seq_state *st = live->st;
    struct partial **base = ks->slot + st->nslots;
    struct apply a = *live;

    a.live = false;
    a.must = late;
    st->stats.open -= (uint64_t)count_slots(st, ks->slot);
    for (int i = 0; i < st->nslots; i++) {
        partial_unref(ks->slot[i]);
        ks->slot[i] = partial_ref(base[i]);
    }
    for (uint32_t i = 0; i < ks->nlog; i++)
        apply_entry(&a, ks, ks->slot, &ks->log[i]);
    st->stats.open += (uint64_t)count_slots(st, ks->slot);
    st->stats.late_replays++;
}

static void process_group(struct apply *a, struct keystate *ks, struct mw_event *ev,
                          const uint64_t mask[2], bool until)
{
    struct mw_seq_state *st = a->st;
    struct logent one = {ev, {mask[0], mask[1]}, until};
    int before = count_slots(st, ks->slot);

    if (st->lateness > 0) {
        bool inorder;
        fold(a->def, st, ks);
        uint32_t at = log_add(ks, ev, &inorder);
        ks->log[at].mask[0] |= mask[0];
        ks->log[at].mask[1] |= mask[1];
        ks->log[at].until |= until;
        if (!inorder) {
            replay(a, ks, ev);
            ks_account(st, ks);
            if (!drop_if_empty(st, ks))
                enforce_cap(a->def, st, ks);
            return;
        }
    }
    apply_entry(a, ks, ks->slot, &one);
    st->stats.open += (uint64_t)count_slots(st, ks->slot);
    st->stats.open -= (uint64_t)before;
    ks_account(st, ks);
    if (!drop_if_empty(st, ks))
        enforce_cap(a->def, st, ks);
}

void mw_seq_process(const struct mw_seq_def *def, struct mw_seq_state *st,
                    struct mw_event *ev, const struct mw_match_ctx *ctx,
                    mw_seq_emit_fn emit, void *ud)
{
    struct apply a = {def, st, emit, ud, NULL, true, false};
    struct group *g = st->groups;
    int ng = 0;
    bool any = false;

    st->cur = ev;
    mw_buf_reset(&st->groupkeys);
    mw_seq_advance(def, st, ev->ts);
    /* stages from the last to the first (R5), then until; each matched
     * stage is grouped with the others of the same key value */
    for (int k = def->nsteps; k >= 0; k--) {
        bool is_until = k == def->nsteps;
        const struct mw_matcher *m = is_until ? def->until_where : def->where[k];
        if (m == NULL || mw_matcher_eval(m, ev, ctx) != MW_TRUE)
            continue;
        if (is_until)
            st->stats.until_matched++;
        else
            st->stats.matched[k]++;
        /* one key per combination of array elements (R8b); one for a
         * single-valued event */
        int nk = mw_key_build_all(&st->key, is_until ? &def->until_keys : &def->keys[k],
                                  def->nkeys, def->keys_ci, ev, MW_KEY_MAX_FANOUT,
                                  &st->stats.fanout_dropped);
        if (nk > 1)
            st->stats.multi_keyed++;
        if (nk == 0) {
            if (!is_until) {
                st->stats.no_key++;
                TRACE(&a, MW_SEQ_T_NO_KEY, k, ev, NULL);
            }
            continue;
        }
        if (is_until)
            TRACE(&a, MW_SEQ_T_UNTIL, -1, ev, NULL);
        size_t off = 0;
        for (int ki = 0; ki < nk; ki++) {
            size_t klen;
            memcpy(&klen, st->key.ptr + off, sizeof(klen));
            const char *key = st->key.ptr + off + sizeof(klen);
            off += sizeof(klen) + klen;
            if (klen > INT32_MAX)
                continue;
            int gi;
            for (gi = 0; gi < ng; gi++)
                if (g[gi].klen == klen &&
                    memcmp(st->groupkeys.ptr + g[gi].klen_off, key, klen) == 0)
                    break;
            if (gi == ng) {
                if ((size_t)ng == st->gcap) {
                    st->gcap = st->gcap ? st->gcap * 2 : 2 * (MW_SEQ_MAX_STEPS + 1);
                    st->groups = xrealloc(st->groups, st->gcap * sizeof(*st->groups));
                    g = st->groups;
                }
                mw_buf_add(&st->groupkeys, key, klen);
                memset(&g[ng], 0, sizeof(g[ng]));
                g[ng].klen_off = st->groupkeys.len - klen;
                g[ng].klen = klen;
                ng++;
            }
            if (is_until)
                g[gi].until = true;
            else
                g[gi].mask[k / 64] |= UINT64_C(1) << (k % 64);
            any = true;
        }
    }
    /* until is looked at first above only to group keys: each group's
     * entry applies its stages last to first, then until (R5, R10) */
    for (int gi = 0; any && gi < ng; gi++) {
        bool creates = (g[gi].mask[0] & 1) || st->lateness > 0;
        struct keystate *ks =
            keystate_get(st, st->groupkeys.ptr + g[gi].klen_off, g[gi].klen, creates);
        if (ks == NULL) {
            for (int k = def->nsteps - 1; st->obs && k > 0; k--)
                if (g[gi].mask[k / 64] & (UINT64_C(1) << (k % 64)))
                    TRACE(&a, MW_SEQ_T_NO_PENDING, k, ev, NULL);
            continue;
        }
        process_group(&a, ks, ev, g[gi].mask, g[gi].until);
    }
}

/* ---------------------------------------------------------------------- */
/* checkpoints                                                             */

static json_t *partial_json(const struct partial *p, struct mw_evtab *t)
{
    json_t *a;
    if (p == NULL)
        return json_null();
    a = json_array();
    json_array_append_new(a, json_integer((json_int_t)p->first_ts));
    for (int i = 0; i < p->n; i++)
        json_array_append_new(a, mw_evtab_put(t, p->ev[i]));
    return a;
}

json_t *mw_seq_dump(const struct mw_seq_state *st, struct mw_evtab *t)
{
    json_t *keys = json_array();
    int nptr = st->nslots * (st->lateness > 0 ? 2 : 1);
    for (const struct keystate *ks = st->head; ks; ks = ks->next) {
        json_t *slots = json_array(), *log = json_array();
        for (int i = 0; i < nptr; i++)
            json_array_append_new(slots, partial_json(ks->slot[i], t));
        for (uint32_t i = 0; i < ks->nlog; i++)
            json_array_append_new(
                log, json_pack("[o, I, I, b]", mw_evtab_put(t, ks->log[i].ev),
                               (json_int_t)ks->log[i].mask[0],
                               (json_int_t)ks->log[i].mask[1], ks->log[i].until));
        json_array_append_new(keys, json_pack("{s:o, s:I, s:I, s:o, s:o}", "k",
                                              mw_evtab_hex(ks->key, ks->klen), "touched",
                                              (json_int_t)ks->touched, "log_newest",
                                              (json_int_t)ks->log_newest, "slots", slots,
                                              "log", log));
    }
    return json_pack("{s:I, s:i, s:b, s:o}", "now", (json_int_t)st->now, "nslots",
                     st->nslots, "late", st->lateness > 0, "keys", keys);
}

/* Checkpoints are untrusted input (docs/SECURITY.md, item 8): every field
 * is checked before use. Times lie within MW_TIME_MIN..MW_TIME_MAX (or are
 * the "never" sentinel the state itself uses), a slot k holds a partial of
 * exactly k + 1 events whose first time is its first event's, a log is in
 * (ts, seq) order with stage bits of existing stages only, every event
 * index is in range and no key appears twice (a second copy used to
 * overwrite the first one's slots and leak them). */
static bool time_ok(const json_t *v, mw_time_t sentinel)
{
    json_int_t t = json_integer_value(v);
    return json_is_integer(v) &&
           ((t >= MW_TIME_MIN && t <= MW_TIME_MAX) || t == sentinel);
}

/* A partial of n events from [first_ts, ev...]; NULL with *why set when
 * malformed (json null is an empty slot: NULL, *why untouched). */
static struct partial *partial_load(const json_t *a, const struct mw_evtab *t, int n,
                                    const char **why)
{
    if (json_is_null(a))
        return NULL;
    if (!json_is_array(a) || json_array_size(a) != (size_t)n + 1 ||
        !time_ok(json_array_get(a, 0), MW_TIME_MIN)) {
        *why = "a slot is not [first time, one event index per matched stage]";
        return NULL;
    }
    for (int i = 1; i <= n; i++)
        if (mw_evtab_get(t, json_array_get(a, (size_t)i)) == NULL) {
            *why = "an event index is out of range";
            return NULL;
        }
    if (mw_evtab_get(t, json_array_get(a, 1))->ts !=
        json_integer_value(json_array_get(a, 0))) {
        *why = "a slot's first time is not its first event's";
        return NULL;
    }
    struct partial *p = xmalloc(sizeof(*p) + (size_t)n * sizeof(struct mw_event *));
    p->refs = 1;
    p->n = n;
    p->first_ts = json_integer_value(json_array_get(a, 0));
    p->bytes = sizeof(*p) + (size_t)n * sizeof(struct mw_event *);
    for (int i = 0; i < n; i++) {
        p->ev[i] = mw_event_ref(mw_evtab_get(t, json_array_get(a, (size_t)i + 1)));
        p->bytes += mw_event_cost(p->ev[i]);
    }
    return p;
}

/* One log entry [event index, mask0, mask1, until], checked against the
 * stages of def and the entry before it (prev, may be NULL). */
static const char *logent_check(const struct mw_seq_def *def, const json_t *le,
                                const struct mw_evtab *t, const struct mw_event *prev)
{
    const json_t *m0 = json_array_get(le, 1), *m1 = json_array_get(le, 2);
    const struct mw_event *ev = mw_evtab_get(t, json_array_get(le, 0));
    uint64_t keep[2] = {0, 0};
    for (int k = 0; k < def->nsteps; k++)
        keep[k / 64] |= UINT64_C(1) << (k % 64);
    if (!json_is_array(le) || json_array_size(le) != 4 || !json_is_integer(m0) ||
        !json_is_integer(m1) || !json_is_boolean(json_array_get(le, 3)))
        return "a log entry is not [event index, mask, mask, until]";
    if (ev == NULL)
        return "an event index is out of range";
    if (((uint64_t)json_integer_value(m0) & ~keep[0]) != 0 ||
        ((uint64_t)json_integer_value(m1) & ~keep[1]) != 0)
        return "a log entry names stages the sequence does not have";
    if (prev != NULL && mw_event_cmp(prev, ev) >= 0)
        return "a log is not in event order";
    return NULL;
}

static const char *restore_key(const struct mw_seq_def *def, struct mw_seq_state *st,
                               const json_t *k, const struct mw_evtab *t)
{
    int nptr = st->nslots * (st->lateness > 0 ? 2 : 1);
    const json_t *slots = json_object_get(k, "slots"), *log = json_object_get(k, "log");
    const json_t *touched = json_object_get(k, "touched");
    const json_t *log_newest = json_object_get(k, "log_newest"), *le;
    const struct mw_event *prev = NULL;
    const char *why = NULL;
    size_t j;
    long klen;

    if (!json_is_object(k))
        return "a key is not an object";
    klen = mw_evtab_unhex_into(json_object_get(k, "k"), &st->key);
    if (klen < 0 || klen > INT32_MAX)
        return "a key is not a hex string";
    if (!json_is_array(slots) || (int)json_array_size(slots) != nptr ||
        !json_is_array(log))
        return "slots or log of the wrong shape";
    if (!time_ok(touched, INT64_MIN) || !time_ok(log_newest, INT64_MIN))
        return "touched or log_newest missing or out of range";
    if (keystate_get(st, st->key.ptr, (size_t)klen, false) != NULL)
        return "a key appears twice";
    json_array_foreach(log, j, le)
    {
        if ((why = logent_check(def, le, t, prev)) != NULL)
            return why;
        prev = mw_evtab_get(t, json_array_get(le, 0));
    }
    struct partial *loaded[2 * MW_SEQ_MAX_STEPS];
    for (int s = 0; s < nptr; s++) {
        loaded[s] =
            partial_load(json_array_get(slots, (size_t)s), t, s % st->nslots + 1, &why);
        if (why != NULL) {
            for (int i = 0; i < s; i++)
                partial_unref(loaded[i]);
            return why;
        }
    }
    struct keystate *ks = keystate_get(st, st->key.ptr, (size_t)klen, true);
    ks->touched = json_integer_value(touched);
    ks->log_newest = json_integer_value(log_newest);
    for (int s = 0; s < nptr; s++)
        ks->slot[s] = loaded[s];
    st->stats.open += (uint64_t)count_slots(st, ks->slot);
    if (json_array_size(log) > 0) {
        ks->logcap = (uint32_t)json_array_size(log);
        ks->log = xmalloc(ks->logcap * sizeof(*ks->log));
    }
    json_array_foreach(log, j, le)
    {
        ks->log[ks->nlog].ev = mw_event_ref(mw_evtab_get(t, json_array_get(le, 0)));
        ks->log_bytes += mw_event_cost(ks->log[ks->nlog].ev);
        ks->log[ks->nlog].mask[0] = (uint64_t)json_integer_value(json_array_get(le, 1));
        ks->log[ks->nlog].mask[1] = (uint64_t)json_integer_value(json_array_get(le, 2));
        ks->log[ks->nlog].until = json_is_true(json_array_get(le, 3));
        ks->nlog++;
    }
    ks_account(st, ks); /* the byte budgets (mw_detector.h) */
    drop_if_empty(st, ks);
    return NULL;
}

int mw_seq_restore(const struct mw_seq_def *def, struct mw_seq_state *st,
                   const json_t *doc, const struct mw_evtab *t, struct mw_error *err)
{
    const json_t *keys = json_object_get(doc, "keys"), *k;
    const char *why = NULL;
    size_t i;

    if (!json_is_object(doc) || !json_is_integer(json_object_get(doc, "nslots")) ||
        json_integer_value(json_object_get(doc, "nslots")) != st->nslots ||
        !json_is_boolean(json_object_get(doc, "late")) || !json_is_array(keys))
        return mw_error_set(err, "malformed sequence state (want %d stages)",
                            def->nsteps);
    if (json_is_true(json_object_get(doc, "late")) != (st->lateness > 0)) {
        /* --max-lateness was turned on or off: a state this run cannot use */
        mw_error_set(err, "sequence state of another shape (%d stages, lateness %s)",
                     def->nsteps, st->lateness > 0 ? "on" : "off");
        return 1;
    }
    if (!time_ok(json_object_get(doc, "now"), INT64_MIN / 2))
        return mw_error_set(err, "malformed sequence state: now missing or out of range");
    mw_seq_state_reset(st);
    st->now = json_integer_value(json_object_get(doc, "now"));
    json_array_foreach(keys, i, k)
    {
        if ((why = restore_key(def, st, k, t)) != NULL)
            break;
    }
    if (why != NULL) {
        mw_seq_state_reset(st);
        return mw_error_set(err, "malformed sequence state: key %zu: %s", i, why);
    }
    enforce_cap(def, st, NULL); /* a smaller --max-open-keys than the writer's */
    return 0;
}
