/* mw_detector.c - the table from a rule to its detector
 *
 * The only place that knows which ops serve which rule kind: a query rule
 * is served by det_query.c, a sequence by det_sequence.c, and a window rule
 * by its window kind's file under windows/ (window_kinds[] below, indexed
 * by enum mw_window_kind). Adding a window kind is one file under windows/
 * and one entry here (plus the enum value and the rule builder's case).
 */
#include "detector_int.h"
#include "mw_rule.h"
#include "mw_seq.h"
#include "mw_window.h"

#include <stddef.h>

static const struct mw_detector_ops *const window_kinds[] = {
    [MW_WINDOW_THRESHOLD] = &mw_det_threshold,
    [MW_WINDOW_DISTINCT] = &mw_det_distinct,
    [MW_WINDOW_NEW_TERMS] = &mw_det_new_terms,
    [MW_WINDOW_ABSENCE] = &mw_det_absence,
};

const struct mw_detector_ops *mw_window_ops(enum mw_window_kind k)
{
    if ((size_t)k >= sizeof(window_kinds) / sizeof(window_kinds[0]))
        return NULL;
    return window_kinds[k];
}

const struct mw_detector_ops *mw_detector_of(const struct mw_rule *r)
{
    switch (mw_rule_kind(r)) {
    case MW_RULE_QUERY:
        return &mw_det_query;
    case MW_RULE_SEQUENCE:
        return &mw_det_sequence;
    case MW_RULE_WINDOW:
        return mw_window_ops(mw_rule_window(r)->kind);
    }
    return &mw_det_query;
}

const void *mw_detector_def(const struct mw_rule *r)
{
    switch (mw_rule_kind(r)) {
    case MW_RULE_QUERY:
        return mw_rule_where(r);
    case MW_RULE_SEQUENCE:
        return mw_rule_seq(r);
    case MW_RULE_WINDOW:
        return mw_rule_window(r);
    }
    return NULL;
}

bool mw_detector_matches(const struct mw_detector_ops *ops, const void *def,
                         const struct mw_event *ev, const struct mw_match_ctx *ctx)
{
    const struct mw_matcher *m[MW_DETECTOR_MAX_MATCHERS];
    int n = ops->matchers(def, m, MW_DETECTOR_MAX_MATCHERS);
    if (n > MW_DETECTOR_MAX_MATCHERS)
        n = MW_DETECTOR_MAX_MATCHERS;
    for (int i = 0; i < n; i++)
        if (mw_matcher_eval(m[i], ev, ctx) == MW_TRUE)
            return true;
    return false;
}
