/* det_sequence.c - the sequence detector: mw_seq behind mw_detector_ops
 *
 * The state machine itself (stages, join keys, late-event replay, expiry,
 * the checkpoint format) is mw_seq.c; this file adapts it to the detector
 * interface: alerts go out with no group key or details, the matchers are
 * the distinct step matchers (runs=N shares one) and the until, and the
 * statistics are the rule's matched_per_step and sequences objects.
 */
#include "detector_int.h"
#include "mw_seq.h"

_Static_assert(MW_SEQ_MAX_STEPS + 1 <= MW_DETECTOR_MAX_MATCHERS,
               "a sequence reports its steps and until as matchers");

static void *seq_new(const void *def, const struct mw_detect_opts *opts)
{
    return mw_seq_state_new_with(def, opts);
}

static void seq_free(void *st)
{
    mw_seq_state_free(st);
}

static void seq_emit(void *ud, struct mw_event *const *evs, int n)
{
    const struct mw_emit *emit = ud;
    emit->fn(emit->ud, evs, n, NULL, NULL);
}

static void seq_process(const void *def, void *st, struct mw_event *ev,
                        const struct mw_match_ctx *ctx, const struct mw_emit *emit)
{
    /* mw_seq_process takes a non-const ud: the adapter only reads it */
    struct mw_emit e = *emit;
    mw_seq_process(def, st, ev, ctx, seq_emit, &e);
}

static void seq_advance(const void *def, void *st, mw_time_t now,
                        const struct mw_emit *emit)
{
    (void)emit; /* sequences complete only on events */
    mw_seq_advance(def, st, now);
}

static int seq_matchers(const void *d, const struct mw_matcher **out, int max)
{
    const struct mw_seq_def *def = d;
    int n = 0;
    for (int k = 0; k < def->nsteps; k++) {
        if (k > 0 && def->where[k] == def->where[k - 1])
            continue; /* a run shares its step's matcher */
        if (n < max)
            out[n] = def->where[k];
        n++;
    }
    if (def->until_where) {
        if (n < max)
            out[n] = def->until_where;
        n++;
    }
    return n;
}

static json_t *seq_dump(const void *def, const void *st, struct mw_evtab *t)
{
    (void)def;
    return mw_seq_dump(st, t);
}

static int seq_restore(const void *def, void *st, const json_t *doc,
                       const struct mw_evtab *t, struct mw_error *err)
{
    mw_seq_state_reset(st);
    return mw_seq_restore(def, st, doc, t, err);
}

static uint64_t seq_open(const void *st)
{
    return mw_seq_stats(st)->open;
}

static void seq_stats(const void *d, const void *s, json_t *o)
{
    const struct mw_seq_def *def = d;
    const struct mw_seq_stats *st = mw_seq_stats(s);
    json_t *steps = json_array();
    for (int k = 0; k < def->nsteps; k++)
        json_array_append_new(steps, json_integer((json_int_t)st->matched[k]));
    json_object_set_new(o, "matched_per_step", steps);
    json_t *seqs =
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "started",
                  (json_int_t)st->started, "completed", (json_int_t)st->completed,
                  "replaced", (json_int_t)st->replaced, "expired",
                  (json_int_t)st->expired, "cancelled", (json_int_t)st->cancelled,
                  "evicted", (json_int_t)st->evicted, "no_key", (json_int_t)st->no_key,
                  "open", (json_int_t)st->open, "open_keys", (json_int_t)st->open_keys);
    json_object_set_new(seqs, "reordered", json_integer((json_int_t)st->late_replays));
    json_object_set_new(seqs, "bytes", json_integer((json_int_t)st->bytes));
    json_object_set_new(seqs, "byte_evicted", json_integer((json_int_t)st->byte_evicted));
    /* multi-valued join keys (R8b): shown once they happen, so the stats of
     * single-valued inputs stay as they were */
    if (st->multi_keyed)
        json_object_set_new(seqs, "multi_keyed",
                            json_integer((json_int_t)st->multi_keyed));
    if (st->fanout_dropped)
        json_object_set_new(seqs, "fanout_dropped",
                            json_integer((json_int_t)st->fanout_dropped));
    json_object_set_new(o, "sequences", seqs);
}

static void seq_budget(void *st, struct mw_detect_bytes *out)
{
    out->bytes = mw_seq_stats(st)->bytes;
    out->byte_evicted = mw_seq_stats(st)->byte_evicted;
}

static void seq_shed(const void *def, void *st, size_t max_bytes)
{
    (void)def;
    mw_seq_shed(st, max_bytes);
}

static void seq_shape(const void *d, struct mw_buf *out)
{
    const struct mw_seq_def *def = d;
    mw_buf_addf(out, "sequence maxspan=%lld steps=%d keys=%d ci=%d",
                (long long)def->maxspan, def->nsteps, def->nkeys, def->keys_ci);
    for (int i = 0; i < def->nsteps; i++) {
        mw_buf_adds(out, " [");
        for (int k = 0; k < def->nkeys; k++)
            mw_buf_addf(out, "%s%s,", def->keys[i].optional[k] ? "?" : "",
                        mw_path_str(def->keys[i].paths[k]));
        mw_buf_adds(out, "]");
    }
}

const struct mw_detector_ops mw_det_sequence = {
    .kind = "sequence",
    .state_new = seq_new,
    .state_free = seq_free,
    .process = seq_process,
    .advance = seq_advance,
    .matchers = seq_matchers,
    .dump = seq_dump,
    .restore = seq_restore,
    .open = seq_open,
    .stats = seq_stats,
    .shape = seq_shape,
    .budget = seq_budget,
    .shed = seq_shed,
};
