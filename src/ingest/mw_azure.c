/* mw_azure.c - the three envelope shapes of Azure messages
 *
 * As the Filebeat azure-eventhub decoder: an object whose `records` member
 * is an array is split into its elements; a bare array is split; anything
 * else is one record. An element that is not an object is reported as bad
 * (the caller dead-letters it) rather than dropped, and so is a message
 * that is neither an object nor an array.
 */
#include "mw_azure.h"

#include <stdio.h>

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "?";
}

static size_t split_array(const json_t *a, const char *label, mw_azure_emit_fn emit,
                          void *ctx)
{
    char why[96];
    for (size_t i = 0; i < json_array_size(a); i++) {
        const json_t *e = json_array_get(a, i);
        if (json_is_object(e)) {
            emit(ctx, e, i, NULL);
        } else {
            snprintf(why, sizeof(why), "%s[%zu] is %s, not a record object", label, i,
                     type_name(e));
            emit(ctx, e, i, why);
        }
    }
    return json_array_size(a);
}

size_t mw_azure_split(const json_t *msg, mw_azure_emit_fn emit, void *ctx)
{
    char why[96];
    if (json_is_object(msg)) {
        const json_t *recs = json_object_get(msg, "records");
        if (json_is_array(recs))
            return split_array(recs, "records", emit, ctx);
        emit(ctx, msg, 0, NULL);
        return 1;
    }
    if (json_is_array(msg))
        return split_array(msg, "array", emit, ctx);
    snprintf(why, sizeof(why),
             "the message is %s, not a records envelope, array or record",
             type_name(msg));
    emit(ctx, msg, 0, why);
    return 1;
}
