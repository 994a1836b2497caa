/* mw_rule.c - the rule object: metadata, policy, detector definition, shape
 *
 * A rule is made only by the builder (mw_builder.c) and is immutable after
 * mw_rb_finish, except for its error counters, which the runtime updates.
 * No Lua here: calls into rule code go through the runtime ops table the
 * front-end attached (src/lua/ for Lua rules), so this file, the builder
 * and the detectors never see lua.h.
 */
#include "detect/mw_rule_int.h"
#include "mw_buf.h"

#include <stdlib.h>

/* Key paths have no length bound short of the rule file, so the string
 * grows (an 8 KB stack buffer once overflowed on an 8200-byte path). */
char *mw_rule_make_shape(const struct mw_rule *r)
{
    struct mw_buf b = MW_BUF_INIT;
    if (r->kind == MW_RULE_QUERY)
        return xstrdup("query");
    if (r->kind == MW_RULE_WINDOW) {
        const struct mw_window_def *w = r->win;
        mw_buf_addf(&b,
                    "%s span=%lld count=%llu ci=%d keys=", mw_window_kind_name(w->kind),
                    (long long)w->span, (unsigned long long)w->count, w->keys_ci);
        for (int k = 0; k < w->nby; k++)
            mw_buf_addf(&b, "%s%s,", w->by.optional[k] ? "?" : "",
                        mw_path_str(w->by.paths[k]));
        return mw_buf_detach(&b, NULL);
    }
    const struct mw_seq_def *d = r->seq;
    mw_buf_addf(&b, "sequence maxspan=%lld steps=%d keys=%d ci=%d", (long long)d->maxspan,
                d->nsteps, d->nkeys, d->keys_ci);
    for (int i = 0; i < d->nsteps; i++) {
        mw_buf_adds(&b, " [");
        for (int k = 0; k < d->nkeys; k++)
            mw_buf_addf(&b, "%s%s,", d->keys[i].optional[k] ? "?" : "",
                        mw_path_str(d->keys[i].paths[k]));
        mw_buf_addc(&b, ']');
    }
    return mw_buf_detach(&b, NULL);
}

void mw_rule_free(struct mw_rule *r)
{
    struct mw_rule_meta *m;
    if (r == NULL)
        return;
    m = &r->meta;
    free(m->id);
    free(m->name);
    free(m->description);
    free(m->severity);
    free(m->license);
    free(m->note);
    free(m->message);
    json_decref(m->tags);
    json_decref(m->references);
    json_decref(m->author);
    json_decref(m->threat);
    json_decref(m->false_positives);
    json_decref(m->tests);
    mw_matcher_free(r->where);
    mw_seq_def_free(r->seq);
    mw_window_def_free(r->win);
    for (int i = 0; i < r->policy.nsuppress; i++)
        mw_path_free(r->policy.suppress_by[i]);
    /* after the matchers: their predicate refs point into the runtime */
    if (r->rt_ops && r->rt_ops->free)
        r->rt_ops->free(r->rt);
    free(r->shape);
    free(r->file);
    free(r);
}

const char *mw_rule_file(const struct mw_rule *r)
{
    return r->file;
}
const struct mw_rule_meta *mw_rule_meta(const struct mw_rule *r)
{
    return &r->meta;
}
enum mw_rule_kind mw_rule_kind(const struct mw_rule *r)
{
    return r->kind;
}
const struct mw_matcher *mw_rule_where(const struct mw_rule *r)
{
    return r->where;
}
const struct mw_seq_def *mw_rule_seq(const struct mw_rule *r)
{
    return r->seq;
}
const struct mw_window_def *mw_rule_window(const struct mw_rule *r)
{
    return r->win;
}
const char *mw_rule_shape(const struct mw_rule *r)
{
    return r->shape;
}
const struct mw_match_ctx *mw_rule_ctx(const struct mw_rule *r)
{
    return &r->ctx;
}
struct mw_rule_errors *mw_rule_errors(struct mw_rule *r)
{
    return &r->errors;
}
size_t mw_rule_mem_used(const struct mw_rule *r)
{
    return r->rt_ops && r->rt_ops->mem_used ? r->rt_ops->mem_used(r->rt) : 0;
}
const struct mw_alert_policy *mw_rule_policy(const struct mw_rule *r)
{
    return &r->policy;
}
bool mw_rule_has_hook(const struct mw_rule *r)
{
    return r->rt_ops && r->rt_ops->has_hook && r->rt_ops->has_hook(r->rt);
}
enum mw_hook_result mw_rule_on_alert(struct mw_rule *r, json_t *alert)
{
    if (!mw_rule_has_hook(r) || r->rt_ops->on_alert == NULL)
        return MW_HOOK_KEEP;
    return r->rt_ops->on_alert(r->rt, alert);
}

static const char *const fail_names[MW_FAIL__COUNT] = {
    "none", "memory", "instructions", "blocked", "script",
};

const char *mw_fail_name(enum mw_fail f)
{
    return (f >= 0 && f < MW_FAIL__COUNT) ? fail_names[f] : "unknown";
}
