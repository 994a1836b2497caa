/* mw_prefilter.h - skip parsing lines that no loaded rule can match
 *
 * Built from the loaded rules (mw_prefilter_build, again whenever the rule
 * set changes): for each rule, one clause of literals that the raw text of
 * every event it can match must contain (mw_matcher_literals: the `where` of
 * a query rule; for a sequence, the union of one clause per step and the
 * until). A line passes when it contains any literal of any rule; a line that
 * passes none cannot match any rule, so it need not be parsed. The test is
 * sound for JSON escapes: a line holding "\u" passes, and so does any line
 * with a backslash when a literal holds a byte JSON may escape (" \ / and
 * control bytes). Case-insensitive literals are scanned case-insensitively.
 *
 * A rule without a clause (its matchers are Lua predicates, `not`, numbers
 * or comparisons only) turns the prefilter off: every line is parsed. The
 * prefilter is immutable once built and holds copies of its literals, so
 * worker threads may share it and it does not depend on the rules' lifetime.
 *
 * A skipped line must still move event time forward: mw_prefilter_scan_ts
 * reads a top-level timestamp without parsing the rest of the line.
 */
#ifndef MW_PREFILTER_H
#define MW_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mw_rule.h"
#include "mw_time.h"

struct mw_prefilter;

/* Builds the prefilter of the rules (borrowed for the call only). Returns a
 * new reference (refcount 1); with no rules, every line is skipped. */
struct mw_prefilter *mw_prefilter_build(struct mw_rule *const *rules, size_t n);
/* Reference counting (atomic: a reload on the rule thread may drop the
 * engine's reference while a parser thread still uses it). NULL is a no-op.
 * mw_prefilter_free is mw_prefilter_unref. */
struct mw_prefilter *mw_prefilter_ref(struct mw_prefilter *pf);
void mw_prefilter_unref(struct mw_prefilter *pf);
void mw_prefilter_free(struct mw_prefilter *pf);

/* true when lines can be skipped at all (no rule without a literal) */
bool mw_prefilter_active(const struct mw_prefilter *pf);

/* true when the line must be parsed: it may match a rule. Thread-safe. */
bool mw_prefilter_pass(const struct mw_prefilter *pf, const char *line, size_t len);

/* Prints one line per rule (its literals, or why it has none) and a closing
 * line saying whether the prefilter is on, for `moonwatch check`. */
void mw_prefilter_describe(const struct mw_prefilter *pf, FILE *fp);
/* The reason the prefilter is off (borrowed), or NULL when it is active. */
const char *mw_prefilter_off_reason(const struct mw_prefilter *pf);

/* Reads the value of the top-level key `key` (an RFC 3339 string without
 * escapes, or a number of epoch milliseconds) from a JSON object line
 * without parsing the rest, with mw_time_from_json's semantics. Returns 0
 * and sets *ts, or -1 when the key is not found at the top level, the line is
 * not an object as far as it was scanned, the value has escapes or is not a
 * valid time: the caller then parses the line in full, which reports it. */
int mw_prefilter_scan_ts(const char *line, size_t len, const char *key, size_t keylen,
                         mw_time_t *ts);

#endif
