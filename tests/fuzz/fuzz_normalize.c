/* fuzz_normalize.c - libFuzzer target: raw Azure envelopes and the normalizers
 *
 * The input is one message as an Event Hub or a storage blob line holds it:
 * repaired like an activity-log line (mw_norm_repair_text, the "":"" fix),
 * parsed, split into records (mw_azure_split: a records envelope, an array,
 * a single record) and each record normalized by the shipped normalizers
 * (the .lua files of normalizers/azure/, loaded once through the Lua reader, then applied
 * in C). Whatever the bytes, nothing may crash or leak; a record the
 * normalizers take must come out as an object that jansson can dump, and a
 * refusal must say why. Seeds: tests/fuzz/corpus/normalize/ (messages of
 * the raw example in examples/azure-arc-raw/).
 */
#include "fuzz_common.h"
#include "mw_azure.h"
#include "mw_norm.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mw_normset *set;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char dir[4096];
    struct mw_error err;
    (void)argc;
    (void)argv;
    snprintf(dir, sizeof(dir), "%s/normalizers/azure", fuzz_root());
    set = mw_normset_load(dir, &err);
    if (set == NULL) {
        fprintf(stderr, "fuzz_normalize: %s\n", err.msg);
        abort();
    }
    return 0;
}

static void each(void *ctx, const json_t *rec, size_t index, const char *bad)
{
    struct mw_error why;
    (void)ctx;
    (void)index;
    if (bad != NULL)
        return; /* not a record: dead-lettered by the source */
    why.msg[0] = '\0';
    const struct mw_norm *n = mw_normset_pick(set, rec, NULL, &why);
    if (n == NULL) {
        if (why.msg[0] == '\0')
            abort(); /* a refusal says why */
        return;
    }
    why.msg[0] = '\0';
    json_t *out = mw_norm_apply(n, rec, &why);
    if (out == NULL) {
        if (why.msg[0] == '\0')
            abort();
        return;
    }
    if (!json_is_object(out))
        abort();
    char *text = json_dumps(out, JSON_COMPACT);
    if (text == NULL)
        abort();
    free(text);
    json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    size_t len = size;
    json_error_t jerr;
    if (text == NULL)
        abort();
    memcpy(text, data, size);
    if (mw_normset_repairs_empty_keys(set))
        mw_norm_repair_text(text, &len);
    json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (msg == NULL)
        return 0;
    mw_azure_split(msg, each, NULL);
    json_decref(msg);
    return 0;
}
