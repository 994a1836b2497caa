/* mw_regex.h - EQL `regex` / `regex~`: Lucene regular expressions on PCRE2
 *
 * Elasticsearch's EQL `regex` takes Lucene's regular-expression syntax and
 * matches the WHOLE value. mw_regex_translate rewrites that syntax into a
 * PCRE2 pattern (character classes, `.`, `*`, `+`, `?`, `{n}`, `{n,}`,
 * `{n,m}`, `|`, groups, `"quoted"` literals, `\` escapes, `\d \D \s \S \w
 * \W`; every other character is literal, `^` and `$` included, as in
 * Lucene). Lucene's optional operators `@` (any string), `&`
 * (intersection), `~` (complement), `#` (empty language) and `<n-m>`
 * (numeric interval) are refused with an error naming them; escape them
 * (`\@`) for the literal character.
 *
 * mw_regex_compile translates and compiles once (anchored at both ends,
 * UTF-8, `.` matching any character including newlines, caseless for
 * `regex~`), with PCRE2's JIT where the platform has it. Every match runs
 * under a match limit and a depth limit (MW_REGEX_MATCH_LIMIT,
 * MW_REGEX_DEPTH_LIMIT; the JIT's own stack limit likewise), so no event
 * can stall the engine on a catastrophic pattern: a match that hits a limit
 * counts as no match and increments mw_regex_limit_hits. Matching is
 * thread-safe and allocates nothing per call after a thread's first.
 */
#ifndef MW_REGEX_H
#define MW_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "mw_mem.h"

#define MW_REGEX_MATCH_LIMIT 100000u /* pcre2_set_match_limit */
#define MW_REGEX_DEPTH_LIMIT 2000u   /* pcre2_set_depth_limit */
#define MW_REGEX_MAX_PATTERN 4096u   /* bytes of a Lucene pattern */

struct mw_regex;

/* Appends the PCRE2 form of the Lucene pattern (len bytes) to out. Returns
 * 0, or -1 with err set ("regex 'p': <why> at offset N"). */
int mw_regex_translate(const char *lucene, size_t len, struct mw_buf *out,
                       struct mw_error *err);

/* NULL with err set when the pattern does not translate or compile. */
struct mw_regex *mw_regex_compile(const char *lucene, size_t len, bool ci,
                                  struct mw_error *err);
void mw_regex_free(struct mw_regex *re);

/* Does the whole of s (len bytes) match? false also when a limit was hit. */
bool mw_regex_match(const struct mw_regex *re, const char *s, size_t len);

/* true when the pattern runs on the JIT */
bool mw_regex_jit(const struct mw_regex *re);

/* matches cut short by a limit, process-wide */
uint64_t mw_regex_limit_hits(void);

#endif
