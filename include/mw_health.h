/* mw_health.h - health records: one JSON line per event of the host itself
 *
 * Alerts are about the watched systems; health records are about moonwatch:
 * a rule loaded or reloaded, a reload that failed, a rule quarantined, window
 * state dropped or freed, the host started or stopped. Each is one compact
 * JSON object on its own line, written and flushed at once, so an operator
 * (or a log shipper) can follow the host without parsing diagnostics.
 * Sinks: "stderr", "file:PATH" (appended) or "none".
 */
#ifndef MW_HEALTH_H
#define MW_HEALTH_H

#include <jansson.h>

#include "mw_mem.h"

struct mw_health;

/* Opens a sink from a spec. Returns NULL with err set for a bad spec or a
 * file that cannot be opened. */
struct mw_health *mw_health_open(const char *spec, struct mw_error *err);
/* Closes the sink. NULL is a no-op. */
void mw_health_free(struct mw_health *h);

/* Writes {"@timestamp": now, "event": kind, ...fields}. Steals fields (an
 * object, or NULL). h may be NULL: the record is dropped. */
void mw_health_emit(struct mw_health *h, const char *kind, json_t *fields);
/* Records written so far. */
unsigned long long mw_health_count(const struct mw_health *h);

#endif
