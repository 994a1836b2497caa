/* mw_health.h - health records: one JSON object per line
 *
 * A health record says something about the host itself rather than about
 * the events: an output that went down or came back, alerts dropped by a
 * rule's cap, a hook that keeps failing. Each record is one JSON line
 * {"@timestamp", "health": KIND, ...fields} written to stderr (default) or
 * appended to the file given to mw_health_open. Thread-safe: output sender
 * threads emit records too.
 */
#ifndef MW_HEALTH_H
#define MW_HEALTH_H

#include <jansson.h>
#include <stdint.h>

#include "mw_mem.h"

/* Sends health records to path (appended) instead of stderr. Returns 0, or
 * -1 with err set when the file cannot be opened. */
int mw_health_open(const char *path, struct mw_error *err);
/* Back to stderr; closes the file. */
void mw_health_close(void);

/* Writes one record of the given kind. Steals fields (an object, may be
 * NULL); its keys are copied into the record after "@timestamp" and
 * "health". */
void mw_health_emit(const char *kind, json_t *fields);

/* Records written since start (for tests and the summary). */
uint64_t mw_health_count(void);

#endif
