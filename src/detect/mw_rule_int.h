/* mw_rule_int.h - the rule object's layout, for the builder only
 *
 * struct mw_rule is opaque everywhere else (include/mw_rule.h); the builder
 * (mw_builder.c) fills it and mw_rule.c reads and frees it. Every pointer
 * field is owned by the rule; mw_rule_free works on a half-built rule.
 */
#ifndef MW_RULE_INT_H
#define MW_RULE_INT_H

#include "mw_rule.h"
#include "mw_seq.h"
#include "mw_window.h"

struct mw_rule {
    char *file; /* owned */
    struct mw_rule_meta meta;
    enum mw_rule_kind kind;
    struct mw_matcher *where;            /* owned, query rules */
    struct mw_seq_def *seq;              /* owned, sequence rules */
    struct mw_window_def *win;           /* owned, window rules */
    char *shape;                         /* owned */
    struct mw_match_ctx ctx;             /* routes MW_OP_FN into the runtime */
    struct mw_rule_errors errors;        /* written by the runtime */
    struct mw_alert_policy policy;       /* owned paths */
    const struct mw_rule_rt_ops *rt_ops; /* static, or NULL: no runtime */
    void *rt;                            /* owned through rt_ops->free */
};

/* The reload identity of r's detection (kind, spans, steps, keys): a new
 * string owned by the caller. */
char *mw_rule_make_shape(const struct mw_rule *r);

#endif
