/* mw_suppress.c - suppression windows and alert caps
 *
 * Suppression: one alert per suppression key per window; the key is the
 * rule id and the canonical JSON of the key values ("rule \x1f [values]"),
 * read from the first contributing event that has each field (missing
 * values group together, as in Elastic). The next delivered alert for the
 * key carries how many were suppressed (moonwatch.suppression.docs_count,
 * like Elastic's suppression.docs_count). Entries whose window is over and
 * that hold no pending count are swept every SWEEP_EVERY submissions
 * (mw_shape.c), so memory follows the number of live keys.
 *
 * Caps: max_alerts per interval of event time, per rule; what is dropped
 * is counted and reported in one health record per rule and interval.
 *
 * Suppression terms are owned by the table alone (alerts get a copy), so
 * the saver thread never races an alert's refcounts. Every function runs
 * with s->mu held.
 */
#include "mw_buf.h"
#include "mw_field.h"
#include "mw_health.h"
#include "shape_int.h"

#include <stdlib.h>
#include <string.h>

static json_t *time_str(mw_time_t t)
{
    char buf[64]; /* an RFC 3339 time: fixed size */
    if (mw_time_format(t, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

static void supp_free(struct supp *e)
{
    if (e == NULL)
        return;
    free(e->rule);
    json_decref(e->terms);
    free(e);
}

/* The key values: per field, the value in the first event that has it
 * (null when none has it: missing values group together, as in Elastic). */
static json_t *supp_terms(const struct mw_alert_policy *p, struct mw_event *const *evs,
                          int n, json_t **values)
{
    json_t *terms = json_array();
    *values = json_array();
    for (int k = 0; k < p->nsuppress; k++) {
        json_t *v = NULL;
        for (int i = 0; i < n && v == NULL; i++) {
            v = mw_path_get(mw_event_root(evs[i]), p->suppress_by[k]);
            if (json_is_null(v))
                v = NULL;
        }
        json_array_append_new(*values, v ? json_incref(v) : json_null());
        json_array_append_new(terms, json_pack("{s:s, s:O}", "field",
                                               mw_path_str(p->suppress_by[k]), "value",
                                               v ? v : json_null()));
    }
    return terms;
}

/* ---------------------------------------------------------------------- */
/* caps                                                                    */

static void report_cap(const char *rule_id, struct rstats *r)
{
    if (r->dropped == 0)
        return;
    mw_health_emit("alerts_capped",
                   json_pack("{s:s, s:I, s:o, s:o, s:I}", "rule_id", rule_id,
                             "max_alerts", (json_int_t)r->max, "interval_start",
                             time_str(r->bucket * r->per), "interval_end",
                             time_str((r->bucket + 1) * r->per), "dropped",
                             (json_int_t)r->dropped));
    r->dropped = 0;
}

/* True when the cap lets one more alert through at t (and counts it). */
static bool cap_admit(const char *rule_id, struct rstats *r,
                      const struct mw_alert_policy *p, mw_time_t t)
{
    if (p->max_alerts <= 0)
        return true;
    int64_t b = t >= 0 ? t / p->max_alerts_per : (t + 1) / p->max_alerts_per - 1;
    if (!r->have_bucket || b != r->bucket || r->per != p->max_alerts_per) {
        report_cap(rule_id, r);
        r->have_bucket = true;
        r->bucket = b;
        r->per = p->max_alerts_per;
        r->count = 0;
    }
    r->max = p->max_alerts;
    if (r->count >= p->max_alerts) {
        r->dropped++;
        return false;
    }
    r->count++;
    return true;
}

static void finish_rule(const void *key, size_t klen, void *val, void *ud)
{
    struct mw_buf id = MW_BUF_INIT;
    (void)ud;
    mw_buf_add(&id, key, klen);
    report_cap(id.ptr, val);
    mw_buf_release(&id);
}

void mw_suppress_finish(struct mw_shape *s)
{
    mw_dict_foreach(s->rules, finish_rule, NULL);
}

/* ---------------------------------------------------------------------- */
/* suppression                                                             */

/* The alert passed suppression and cap: it carries how many were
 * suppressed for its key, and its window starts (e may be NULL: a new key,
 * stored under key/klen). Takes terms. */
static void open_window(struct mw_shape *s, const char *rule_id, const char *key,
                        size_t klen, struct supp *e, json_t *terms,
                        const struct mw_alert_policy *p, json_t *alert, mw_time_t t)
{
    /* the alert gets its own copy: the table's terms are touched only
     * under the lock (the saver serialises them) */
    json_t *sj = json_pack("{s:I, s:o}", "docs_count", (json_int_t)(e ? e->count : 0),
                           "terms", json_deep_copy(terms));
    if (e && e->count > 0) {
        json_object_set_new(sj, "start", time_str(e->first));
        json_object_set_new(sj, "end", time_str(e->last));
    }
    json_object_set_new(json_object_get(alert, "moonwatch"), "suppression", sj);
    if (e == NULL) {
        e = xcalloc(1, sizeof(*e));
        e->rule = xstrdup(rule_id);
        mw_dict_put(s->supp, key, klen, e);
    }
    json_decref(e->terms);
    e->terms = terms;
    e->window = p->suppress_window;
    e->start = t;
    e->count = 0;
    e->first = e->last = 0;
}

enum mw_shape_verdict mw_suppress_apply(struct mw_shape *s, const char *rule_id,
                                        struct rstats *r, const struct mw_alert_policy *p,
                                        json_t *alert, struct mw_event *const *evs, int n,
                                        mw_time_t t)
{
    struct mw_buf key = MW_BUF_INIT;
    enum mw_shape_verdict v = MW_SHAPE_DELIVERED;
    json_t *values, *terms;
    struct supp *e;
    char *vs;

    if (p->nsuppress == 0) {
        if (cap_admit(rule_id, r, p, t))
            return MW_SHAPE_DELIVERED;
        r->capped++;
        return MW_SHAPE_CAPPED;
    }
    terms = supp_terms(p, evs, n, &values);
    vs = json_dumps(values, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(values);
    mw_buf_addf(&key, "%s\x1f%s", rule_id, vs);
    mw_json_free(vs);
    e = mw_dict_get(s->supp, key.ptr, key.len);
    if (e != NULL && t < e->start + e->window) {
        /* inside the window of the alert already delivered for this key */
        if (e->count == 0)
            e->first = t;
        e->count++;
        e->last = t;
        r->suppressed++;
        json_decref(terms);
        v = MW_SHAPE_SUPPRESSED;
    } else if (!cap_admit(rule_id, r, p, t)) {
        json_decref(terms);
        r->capped++;
        v = MW_SHAPE_CAPPED;
    } else {
        open_window(s, rule_id, key.ptr, key.len, e, terms, p, alert, t);
    }
    mw_buf_release(&key);
    return v;
}

struct sweep {
    mw_time_t now;
    struct mw_dict *dead; /* keys to delete (values unused) */
};

static void sweep_one(const void *key, size_t klen, void *val, void *ud)
{
    struct supp *e = val;
    struct sweep *sw = ud;
    if (e->count == 0 && e->start + e->window <= sw->now)
        mw_dict_put(sw->dead, key, klen, e);
}

static void sweep_del(const void *key, size_t klen, void *val, void *ud)
{
    mw_dict_del(ud, key, klen);
    supp_free(val);
}

void mw_suppress_sweep(struct mw_shape *s, mw_time_t now)
{
    struct sweep sw = {now, mw_dict_new()};
    mw_dict_foreach(s->supp, sweep_one, &sw);
    mw_dict_foreach(sw.dead, sweep_del, s->supp);
    if (mw_dict_size(sw.dead) > 0)
        s->dirty = true;
    mw_dict_free(sw.dead);
}

struct pending {
    const char *rule;
    size_t rlen;
    uint64_t n;
};

static void count_pending(const void *key, size_t klen, void *val, void *ud)
{
    struct pending *pd = ud;
    struct supp *e = val;
    (void)klen;
    if (strncmp(key, pd->rule, pd->rlen) == 0 && ((const char *)key)[pd->rlen] == '\x1f')
        pd->n += e->count;
}

uint64_t mw_suppress_pending(struct mw_shape *s, const char *rule_id)
{
    struct pending pd = {rule_id, strlen(rule_id), 0};
    mw_dict_foreach(s->supp, count_pending, &pd);
    return pd.n;
}

/* ---------------------------------------------------------------------- */
/* saved state                                                             */

void mw_suppress_parse(struct mw_shape *s, const json_t *doc)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "suppression"), i, v)
    {
        const char *key = json_string_value(json_object_get(v, "key"));
        const char *rule = json_string_value(json_object_get(v, "rule"));
        if (key == NULL || rule == NULL)
            continue;
        struct supp *e = xcalloc(1, sizeof(*e));
        e->rule = xstrdup(rule);
        e->terms = json_incref(json_object_get(v, "terms"));
        e->window = json_integer_value(json_object_get(v, "window"));
        e->start = json_integer_value(json_object_get(v, "start"));
        e->first = json_integer_value(json_object_get(v, "first"));
        e->last = json_integer_value(json_object_get(v, "last"));
        e->count = (uint64_t)json_integer_value(json_object_get(v, "count"));
        supp_free(mw_dict_put(s->supp, key, strlen(key), e));
    }
    json_array_foreach(json_object_get(doc, "caps"), i, v)
    {
        const char *rule = json_string_value(json_object_get(v, "rule"));
        if (rule == NULL)
            continue;
        struct rstats *r = mw_shape_rstats(s, rule);
        r->have_bucket = true;
        r->bucket = json_integer_value(json_object_get(v, "bucket"));
        r->per = json_integer_value(json_object_get(v, "per"));
        r->max = json_integer_value(json_object_get(v, "max"));
        r->count = json_integer_value(json_object_get(v, "count"));
        r->dropped = (uint64_t)json_integer_value(json_object_get(v, "dropped"));
    }
}

static void save_supp(const void *key, size_t klen, void *val, void *ud)
{
    struct supp *e = val;
    json_array_append_new(
        ud, json_pack("{s:s%, s:s, s:O, s:I, s:I, s:I, s:I, s:I}", "key",
                      (const char *)key, klen, "rule", e->rule, "terms", e->terms,
                      "window", (json_int_t)e->window, "start", (json_int_t)e->start,
                      "first", (json_int_t)e->first, "last", (json_int_t)e->last, "count",
                      (json_int_t)e->count));
}

static void save_caps(const void *key, size_t klen, void *val, void *ud)
{
    struct rstats *r = val;
    if (!r->have_bucket)
        return;
    json_array_append_new(
        ud, json_pack("{s:s%, s:I, s:I, s:I, s:I, s:I}", "rule", (const char *)key, klen,
                      "bucket", (json_int_t)r->bucket, "per", (json_int_t)r->per, "max",
                      (json_int_t)r->max, "count", (json_int_t)r->count, "dropped",
                      (json_int_t)r->dropped));
}

void mw_suppress_dump(struct mw_shape *s, json_t *supp, json_t *caps)
{
    mw_dict_foreach(s->supp, save_supp, supp);
    mw_dict_foreach(s->rules, save_caps, caps);
}

static void free_supp(const void *k, size_t kl, void *v, void *ud)
{
    (void)k;
    (void)kl;
    (void)ud;
    supp_free(v);
}

static void free_val(const void *k, size_t kl, void *v, void *ud)
{
    (void)k;
    (void)kl;
    (void)ud;
    free(v);
}

void mw_suppress_clear(struct mw_shape *s, bool reopen)
{
    mw_dict_foreach(s->supp, free_supp, NULL);
    mw_dict_free(s->supp);
    /* caps live in the per-rule records: reset the interval and counters */
    mw_dict_foreach(s->rules, free_val, NULL);
    mw_dict_free(s->rules);
    s->supp = reopen ? mw_dict_new() : NULL;
    s->rules = reopen ? mw_dict_new() : NULL;
}
