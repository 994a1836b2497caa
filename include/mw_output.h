/* mw_output.h - alert sinks
 *
 * Sinks receive finished alert documents (never Lua values) and write them
 * as NDJSON, one per line. Specs: "stdout" (the default) and "file:PATH"
 * (append). A sink that fails to write counts the failure and reports it;
 * it never stops detection.
 */
#ifndef MW_OUTPUT_H
#define MW_OUTPUT_H

#include <jansson.h>
#include <stdint.h>

#include "mw_mem.h"

struct mw_output;

struct mw_output *mw_output_new(void);
/* Adds a sink from a spec. Returns 0, or -1 with err set for a bad spec or
 * a file that cannot be opened. */
int mw_output_add(struct mw_output *o, const char *spec, struct mw_error *err);
/* Writes the alert to every sink. Borrows alert. Returns the number of sinks
 * that failed. */
int mw_output_write(struct mw_output *o, const json_t *alert);
/* Flushes and closes every sink. NULL is a no-op. */
void mw_output_free(struct mw_output *o);
/* Appends one JSON object per sink to arr: {"spec", "written", "failed"}. */
void mw_output_stats(const struct mw_output *o, json_t *arr);

#endif
