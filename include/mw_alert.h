/* mw_alert.h - ECS alert documents
 *
 * An alert is a new JSON object built from the rule's metadata and the
 * events that completed its detection. Its id (event.id) is deterministic:
 * SHA-256 over the rule id and the canonical form (sorted keys, compact) of
 * every contributing event, so the same detection always has the same id,
 * whichever file or line the events came from.
 */
#ifndef MW_ALERT_H
#define MW_ALERT_H

#include <jansson.h>

#include "mw_event.h"
#include "mw_rule.h"

/* Severity label to ECS event.severity number (low 21, medium 47, high 73,
 * critical 99, as Elastic maps them). */
int mw_severity_number(const char *label);

/* Writes the 32-hex-digit deterministic id into out[33]. */
void mw_alert_id(const char *rule_id, struct mw_event *const *evs, int n, char out[33]);

/* Renders the rule's message template (see docs/RULE-API.md) into a new
 * string the caller frees. */
char *mw_alert_message(const struct mw_rule_meta *m, const struct mw_seq_def *seq,
                       struct mw_event *const *evs, int n);

/* Builds the alert. Returns a new reference. raised_at is the wall-clock
 * (or replay) time the alert is raised. */
json_t *mw_alert_build(const struct mw_rule *rule, struct mw_event *const *evs, int n,
                       mw_time_t raised_at);

/* The alert of a window rule (threshold, distinct, new_terms, absence):
 * key is the group key values, details goes to moonwatch.<kind> (both
 * borrowed). Returns a new reference. */
json_t *mw_alert_build_window(const struct mw_rule *rule, struct mw_event *const *evs,
                              int n, mw_time_t raised_at, const json_t *key,
                              json_t *details);

/* The alert's event.id: a borrowed string, valid while alert lives and
 * that field is unchanged; NULL when it is missing or not a string (a
 * hook may have changed it). */
const char *mw_alert_event_id(const json_t *alert);

#endif
