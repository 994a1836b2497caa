/* mw_rule.h - a loaded rule: metadata, compiled detection, its runtime
 *
 * The rule object (src/detect/mw_rule.c) holds the metadata, the alert
 * policy, the detector definition (a query matcher, a sequence or a window)
 * and the shape string; it is made only by the rule builder (mw_builder.h),
 * which every front-end uses. Code a rule calls back into (Lua predicates,
 * on_alert hooks) lives in its runtime: an ops table plus state that the
 * front-end attaches (struct mw_rule_rt_ops; the Lua one is in src/lua/).
 * mw_rule_load is the Lua front-end: it runs the rule file in a fresh
 * sandbox and reads the descriptor it returns (see docs/DESCRIPTORS.md)
 * into the builder. A rule holds no window state: that lives in the engine,
 * keyed by rule id and shape, so a reload can keep it. Nothing here needs
 * lua.h.
 */
#ifndef MW_RULE_H
#define MW_RULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "mw_limits.h"
#include "mw_match.h"
#include "mw_mem.h"
#include "mw_rulecode.h"
#include "mw_seq.h"
#include "mw_window.h"

enum mw_rule_kind {
    MW_RULE_QUERY, /* one alert per matching event */
    MW_RULE_SEQUENCE,
    MW_RULE_WINDOW, /* threshold, distinct, new_terms, absence */
};

struct mw_rule_meta {
    char *id, *name, *description, *severity, *license, *note, *message; /* owned */
    int risk_score;
    int version;
    json_t *tags, *references, *author, *threat, *false_positives; /* owned arrays */
    json_t *tests; /* owned: the rule's `tests` as JSON, or NULL */
};

struct mw_rule_errors {
    uint64_t by_class[MW_FAIL__COUNT];   /* failed predicate calls per class */
    uint64_t consecutive;                /* failed calls in a row (quarantine) */
    uint64_t ok_calls;                   /* calls that returned (a probe's answer) */
    enum mw_fail last;                   /* class of the latest failure */
    char last_msg[256];                  /* its message, first line */
    int64_t last_logged[MW_FAIL__COUNT]; /* wall seconds of the last log line */
    uint64_t hook_failures;              /* on_alert calls that failed */
    int64_t hook_last_logged;
};

/* Alert shaping declared by the rule (suppress, max_alerts); applied by
 * mw_shape between the engine and the outputs. Zero values mean "off". */
#define MW_SUPPRESS_MAX_FIELDS MW_LIMIT_SUPPRESS_MAX_FIELDS
struct mw_alert_policy {
    int nsuppress;                                       /* 0: no suppression */
    struct mw_path *suppress_by[MW_SUPPRESS_MAX_FIELDS]; /* owned */
    mw_time_t suppress_window;                           /* microseconds */
    int64_t max_alerts;                                  /* 0: no cap */
    mw_time_t max_alerts_per;                            /* microseconds */
};

/* What an on_alert hook asked for. */
enum mw_hook_result {
    MW_HOOK_KEEP,   /* deliver (possibly changed) */
    MW_HOOK_DROP,   /* the hook returned false: an allow-listed exception */
    MW_HOOK_FAILED, /* the hook raised or returned something invalid:
                     * deliver unchanged, count the error */
};

struct mw_rule;

/* The runtime of a rule: what its matchers and hooks call into. ops is
 * static; the rule owns rt from the builder's mw_rb_runtime on and calls
 * ops->free(rt) in mw_rule_free. Every callback may be NULL. */
struct mw_rule_rt_ops {
    const char *name;                            /* "lua" */
    void (*attach)(void *rt, struct mw_rule *r); /* once, when the rule is made */
    void (*free)(void *rt);
    bool (*has_hook)(const void *rt);
    enum mw_hook_result (*on_alert)(void *rt, json_t *alert); /* borrows alert */
    size_t (*mem_used)(const void *rt);
};

/* Loads the rule file at path. Returns NULL with err set ("path:line: msg")
 * on any failure: unreadable file, syntax error, runtime error at load,
 * budget exceeded, invalid descriptor. */
struct mw_rule *mw_rule_load(const char *path, const char *lua_dir,
                             const struct mw_sandbox_limits *limits,
                             struct mw_error *err);
void mw_rule_free(struct mw_rule *r);

const char *mw_rule_file(const struct mw_rule *r);
const struct mw_rule_meta *mw_rule_meta(const struct mw_rule *r);
enum mw_rule_kind mw_rule_kind(const struct mw_rule *r);
const struct mw_matcher *mw_rule_where(const struct mw_rule *r);
const struct mw_seq_def *mw_rule_seq(const struct mw_rule *r);
const struct mw_window_def *mw_rule_window(const struct mw_rule *r);
/* A string that changes whenever the window shape changes (kind, steps,
 * keys, maxspan): window state survives a reload only when it is equal. */
const char *mw_rule_shape(const struct mw_rule *r);
/* The context that routes MW_OP_FN matchers into this rule's Lua state. */
const struct mw_match_ctx *mw_rule_ctx(const struct mw_rule *r);
struct mw_rule_errors *mw_rule_errors(struct mw_rule *r);
/* The rule's suppression and cap settings. Borrowed, valid while r lives. */
const struct mw_alert_policy *mw_rule_policy(const struct mw_rule *r);
bool mw_rule_has_hook(const struct mw_rule *r);
/* Runs the rule's on_alert hook (if any) in its sandbox under the per-call
 * instruction budget, on a Lua copy of the alert's key fields and events
 * (docs/RULE-API.md#on_alert). On MW_HOOK_KEEP the requested changes
 * (message, title, severity, risk_score, fields) are applied to alert in
 * place; on MW_HOOK_FAILED alert is left untouched, the error is counted in
 * mw_rule_errors (by class, and in hook_failures) and logged at most once a
 * minute. Borrows alert. */
enum mw_hook_result mw_rule_on_alert(struct mw_rule *r, json_t *alert);
size_t mw_rule_mem_used(const struct mw_rule *r);

#endif
