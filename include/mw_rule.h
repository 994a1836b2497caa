/* mw_rule.h - a loaded rule: metadata, compiled detection, its Lua state
 *
 * mw_rule_load runs the rule file in a fresh sandbox, takes the descriptor it
 * returns (see docs/DESCRIPTORS.md) and compiles it into C matchers and a
 * window definition. The rule owns its sandbox; Lua predicates are called
 * through the match context. A rule holds no window state: that lives in the
 * engine, keyed by rule id and shape, so a reload can keep it.
 */
#ifndef MW_RULE_H
#define MW_RULE_H

#include <jansson.h>
#include <stdint.h>

#include "mw_match.h"
#include "mw_mem.h"
#include "mw_sandbox.h"
#include "mw_seq.h"

enum mw_rule_kind {
    MW_RULE_QUERY,      /* one alert per matching event */
    MW_RULE_SEQUENCE,
};

struct mw_rule_meta {
    char *id, *name, *description, *severity, *license, *note, *message; /* owned */
    int risk_score;
    int version;
    json_t *tags, *references, *author, *threat, *false_positives; /* owned arrays */
    json_t *tests;      /* owned: the rule's `tests` as JSON, or NULL */
};

struct mw_rule_errors {
    uint64_t by_class[MW_FAIL__COUNT];  /* failed predicate calls per class */
    uint64_t consecutive;
    int64_t last_logged[MW_FAIL__COUNT]; /* wall seconds of the last log line */
};

struct mw_rule;

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
/* A string that changes whenever the window shape changes (kind, steps,
 * keys, maxspan): window state survives a reload only when it is equal. */
const char *mw_rule_shape(const struct mw_rule *r);
/* The context that routes MW_OP_FN matchers into this rule's Lua state. */
const struct mw_match_ctx *mw_rule_ctx(const struct mw_rule *r);
struct mw_rule_errors *mw_rule_errors(struct mw_rule *r);
size_t mw_rule_mem_used(const struct mw_rule *r);

#endif
