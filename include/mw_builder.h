/* mw_builder.h - the C API through which every rule front-end builds a rule
 *
 * The C side of docs/DESCRIPTORS.md. A front-end (src/lua/mw_ldesc.c reads
 * the Lua descriptor today; an EQL or KQL parser tomorrow) creates a
 * builder, feeds it the rule piece by piece and calls mw_rb_finish, which
 * returns the rule object (include/mw_rule.h). Nothing here needs Lua.
 *
 * The builder VALIDATES everything it is given against include/mw_limits.h,
 * whatever built it: field paths, value types, step/run/key counts, spans,
 * counts, severities, and the nesting depth of all/any/not (matchers can
 * only be made through the open/close calls below, whose stack is bounded
 * by MW_LIMIT_MATCH_MAX_DEPTH, so no front-end can hand the engine a tree
 * that would overflow the C stack of the recursive matcher code).
 *
 * Errors: every call takes `at`, the position the front-end attributes the
 * piece to ("rules/x.lua", "rules/x.lua:12", later "rules/x.eql:3:14"); on
 * failure it returns -1 and sets err to "<at>: <message>". After a failure
 * the builder only accepts mw_rb_free (mw_rb_finish returns NULL).
 *
 * Ownership: the builder owns everything built so far; mw_rb_free releases
 * it (and the runtime given to mw_rb_runtime) at any point. Strings passed
 * in are borrowed for the call (copied); json_t arguments are borrowed
 * (the builder takes its own reference or copy).
 *
 * The "ops table" of a rule: a front-end whose rules call back into code
 * (Lua predicates, on_alert hooks) attaches a runtime with mw_rb_runtime,
 * an ops table (struct mw_rule_rt_ops in mw_rule.h) plus its state.
 */
#ifndef MW_BUILDER_H
#define MW_BUILDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_limits.h"
#include "mw_match.h"
#include "mw_mem.h"
#include "mw_rule.h"
#include "mw_window.h"

struct mw_rule_builder;

/* origin names the rule's file (copied; mw_rule_file returns it). */
struct mw_rule_builder *mw_rb_new(const char *origin);
/* Frees the builder and everything built so far. NULL is a no-op. */
void mw_rb_free(struct mw_rule_builder *b);

/* ---- metadata ---------------------------------------------------------- */

/* All borrowed. Strings NUL-terminated, UTF-8 (checked); NULL means absent
 * (id and name are required, the others default to ""; severity to
 * "medium"). The lists are JSON arrays of strings or NULL (= []). */
struct mw_rb_meta {
    const char *id, *name, *description, *severity, *license, *note, *message;
    int risk_score; /* -1: the severity's default (MW_LIMIT_RISK_*) */
    int version;    /* 0: 1 */
    json_t *tags, *references, *author, *false_positives;
    json_t *threat; /* array of MITRE entries, or NULL (= []) */
    json_t *tests;  /* the rule's tests (moonwatch test), or NULL */
};
int mw_rb_meta(struct mw_rule_builder *b, const struct mw_rb_meta *m, const char *at,
               struct mw_error *err);

/* ---- matchers ---------------------------------------------------------- */

/* A matcher tree is built by a well-nested stream of calls: open a group
 * (MW_OP_ALL, MW_OP_ANY, MW_OP_NOT), add leaves (with their values) and
 * predicates, close the group. mw_rb_match_done ends the tree and returns a
 * handle (>= 0) that exactly one of the calls below consumes; at most
 * MW_LIMIT_MATCH_MAX_DEPTH groups may be open at once. */
int mw_rb_match_open(struct mw_rule_builder *b, enum mw_op op, const char *at,
                     struct mw_error *err);
int mw_rb_match_close(struct mw_rule_builder *b, const char *at, struct mw_error *err);
/* A leaf on field (a dotted path; "?" is not allowed here). The values that
 * follow (mw_rb_match_*value) go to it, until the next leaf/open/close. */
int mw_rb_match_leaf(struct mw_rule_builder *b, enum mw_op op, const char *field,
                     const char *at, struct mw_error *err);
int mw_rb_match_str(struct mw_rule_builder *b, const char *s, size_t len, bool ci,
                    const char *at, struct mw_error *err);
int mw_rb_match_num(struct mw_rule_builder *b, double v, bool is_int, const char *at,
                    struct mw_error *err);
int mw_rb_match_bool(struct mw_rule_builder *b, bool v, const char *at,
                     struct mw_error *err);
/* A predicate: fn_ref is the runtime's handle (a Lua registry ref), opaque
 * to the builder, called through the match context of mw_rb_runtime. */
int mw_rb_match_fn(struct mw_rule_builder *b, int fn_ref, const char *at,
                   struct mw_error *err);
int mw_rb_match_done(struct mw_rule_builder *b, const char *at, struct mw_error *err);

/* ---- detection: exactly one of query, sequence, window ----------------- */

/* A single-event rule: one alert per event matching `where` (a handle). */
int mw_rb_query(struct mw_rule_builder *b, int where, const char *at,
                struct mw_error *err);

/* A sequence: mw_rb_seq_begin, then the shared join keys (mw_rb_seq_key),
 * then each step (mw_rb_seq_step, followed by its own keys), then an
 * optional until (mw_rb_seq_until and its keys). Key paths may start with
 * "?" (optional: null joins null). Shared keys come first in every step. */
int mw_rb_seq_begin(struct mw_rule_builder *b, double maxspan_ms, bool keys_ci,
                    const char *at, struct mw_error *err);
int mw_rb_seq_key(struct mw_rule_builder *b, const char *path, const char *at,
                  struct mw_error *err);
/* runs: 1..MW_LIMIT_SEQ_MAX_RUNS copies of the step (they share `where`). */
int mw_rb_seq_step(struct mw_rule_builder *b, int where, int runs, const char *at,
                   struct mw_error *err);
int mw_rb_seq_until(struct mw_rule_builder *b, int where, const char *at,
                    struct mw_error *err);

/* A window. where is the event matcher (absence: the `first` matcher);
 * absent_where only for absence (else -1); keys go through mw_rb_window_key
 * (group keys; new_terms' fields; absence's `first` keys) and
 * mw_rb_window_absent_key (absence's `absent` keys). */
struct mw_rb_window {
    enum mw_window_kind kind;
    int where, absent_where; /* matcher handles */
    double span_ms;          /* window / history / within, > 0 */
    int64_t count;           /* threshold, distinct */
    const char *field;       /* distinct: the counted field (borrowed) */
    bool warmup;             /* new_terms */
    bool keys_ci;
};
int mw_rb_window(struct mw_rule_builder *b, const struct mw_rb_window *w, const char *at,
                 struct mw_error *err);
int mw_rb_window_key(struct mw_rule_builder *b, const char *path, const char *at,
                     struct mw_error *err);
int mw_rb_window_absent_key(struct mw_rule_builder *b, const char *path, const char *at,
                            struct mw_error *err);

/* ---- alert policy ------------------------------------------------------ */

/* Suppression (suppress.by paths, then the window) and the cap; both
 * optional. window_ms >= MW_LIMIT_SUPPRESS_MIN_MS, per_ms >=
 * MW_LIMIT_MAX_ALERTS_MIN_PER_MS, count >= 1. */
int mw_rb_suppress_field(struct mw_rule_builder *b, const char *path, const char *at,
                         struct mw_error *err);
int mw_rb_suppress(struct mw_rule_builder *b, int64_t window_ms, const char *at,
                   struct mw_error *err);
int mw_rb_max_alerts(struct mw_rule_builder *b, int64_t count, int64_t per_ms,
                     const char *at, struct mw_error *err);

/* ---- runtime and result ------------------------------------------------ */

/* Attaches the front-end's runtime: ops (static, borrowed) and rt (owned
 * from now on: ops->free releases it, also when the build fails); ctx
 * routes MW_OP_FN matchers (copied). */
void mw_rb_runtime(struct mw_rule_builder *b, const struct mw_rule_rt_ops *ops, void *rt,
                   const struct mw_match_ctx *ctx);

/* Checks the rule is complete (metadata, exactly one detection, every
 * matcher consumed), computes its shape, and returns the rule (owned by the
 * caller, free with mw_rule_free). Frees b in every case; NULL with err set
 * ("<origin>: <message>") on failure. */
struct mw_rule *mw_rb_finish(struct mw_rule_builder *b, struct mw_error *err);

#endif
