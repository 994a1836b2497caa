/* mw_limits.h - every limit of the rule language, once
 *
 * One X-macro table: the rule builder (src/detect/mw_builder.c) checks every
 * descriptor against it whatever front-end built it, the Lua host exports it
 * to rules as `moonwatch.host.limits` (src/lua/mw_lapi.c), lua/moonwatch.lua
 * reads its limits from there, and a spec checks that docs/DESCRIPTORS.md
 * names each entry. Adding a limit is one X(...) line here plus its line in
 * docs/DESCRIPTORS.md; the enum constant MW_LIMIT_<NAME> appears by itself.
 *
 * X(NAME, value, "what it bounds"); values are integers that fit an int64.
 */
#ifndef MW_LIMITS_H
#define MW_LIMITS_H

#define MW_LIMITS(X)                                                                     \
    X(SEQ_MIN_STEPS, 2, "steps of a sequence, at least (runs expanded)")                 \
    X(SEQ_MAX_STEPS, 128, "steps of a sequence, at most (runs expanded)")                \
    X(SEQ_MAX_RUNS, 100, "runs of one sequence step")                                    \
    X(SEQ_MAX_KEYS, 16, "join keys of a step, shared and own (also window group keys)")  \
    X(PATH_MAX_SEGMENTS, 32, "dot-separated segments of a field path")                   \
    X(MATCH_MAX_DEPTH, 64, "nesting depth of all/any/not matchers")                      \
    X(WINDOW_MAX_COUNT, 100000, "threshold count")                                       \
    X(WINDOW_MAX_DISTINCT, 1000, "distinct count")                                       \
    X(NEW_TERMS_MAX_FIELDS, 3, "fields of a new_terms window")                           \
    X(SUPPRESS_MAX_FIELDS, 8, "suppress.by field paths")                                 \
    X(SUPPRESS_MIN_MS, 1000, "suppress.window, at least (milliseconds)")                 \
    X(MAX_ALERTS_MIN_PER_MS, 1000, "max_alerts.per, at least (milliseconds)")            \
    X(RISK_MAX, 100, "risk_score, at most (at least 0)")                                 \
    X(VERSION_MAX, 1073741824, "rule version, at most (at least 1)")                     \
    X(RISK_LOW, 21, "default risk_score of severity low")                                \
    X(RISK_MEDIUM, 47, "default risk_score of severity medium")                          \
    X(RISK_HIGH, 73, "default risk_score of severity high")                              \
    X(RISK_CRITICAL, 99, "default risk_score of severity critical")

#define MW_LIMIT_ENUM_(name, value, doc) MW_LIMIT_##name = (value),
enum mw_limit { MW_LIMITS(MW_LIMIT_ENUM_) MW_LIMIT__END };
#undef MW_LIMIT_ENUM_

/* The severities a rule may declare, in increasing order, with the default
 * risk_score each one gives (an entry of MW_LIMITS above). */
#define MW_SEVERITIES(X)                                                                 \
    X(low, MW_LIMIT_RISK_LOW)                                                            \
    X(medium, MW_LIMIT_RISK_MEDIUM)                                                      \
    X(high, MW_LIMIT_RISK_HIGH)                                                          \
    X(critical, MW_LIMIT_RISK_CRITICAL)

#endif
