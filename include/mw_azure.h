/* mw_azure.h - raw Azure diagnostic logs: the envelope shapes and the
 * "azure" source kind
 *
 * Azure delivers records in three shapes, the ones Elastic's Event Hubs
 * input accepts: an object with a `records` array (an Event Hubs message,
 * a pre-2018 storage blob), a bare JSON array, or a single record. A
 * message is one line of NDJSON (Event Hubs captures, PT1H.json blobs) or
 * one whole JSON document over several lines (pretty-printed files, `az`
 * exports). The "azure" kind (src/ingest/src_azure.c, spec
 * `azure:PATH[,dataset=NAME][,normalizers=DIR]`) reads a file, splits its
 * messages, normalizes each record (mw_norm.h) and hands out one NDJSON line
 * per record, carrying its message's line number and offset.
 */
#ifndef MW_AZURE_H
#define MW_AZURE_H

#include <jansson.h>
#include <stddef.h>

/* Called per record: rec is borrowed (valid during the call); index is the
 * record's place in its message (0 for a single record); bad is NULL, or
 * the reason this element is not a record ("records[2] is a string"). */
typedef void (*mw_azure_emit_fn)(void *ctx, const json_t *rec, size_t index,
                                 const char *bad);

/* Splits one message (borrowed) and calls emit once per element. Returns
 * the number of calls (0 for an empty records array or empty array). */
size_t mw_azure_split(const json_t *msg, mw_azure_emit_fn emit, void *ctx);

#endif
