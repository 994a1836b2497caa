/* fuzz_toml.c - libFuzzer target: the TOML reader
 *
 * The input is parsed as a TOML document with mw_toml_parse, from an
 * exact-size buffer that is not NUL-terminated (so a read past the end is an
 * ASan finding). A refusal must say why, in the "name:line:column: message"
 * form; an accepted document must be an object that jansson can dump (every
 * string valid UTF-8, no NaN or infinity) and dump again to the same text
 * after a parse of the dump (the tree is plain JSON). The seed corpus
 * (tests/fuzz/corpus/toml/) holds rules in the corpus's shapes and the TOML
 * spec's tricky cases.
 */
#include "fuzz_common.h"
#include "mw_toml.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mw_error err;
    err.msg[0] = '\0';
    json_t *root = mw_toml_parse((const char *)data, size, "fuzz.toml", &err);
    if (root == NULL) {
        if (strncmp(err.msg, "fuzz.toml:", 10) != 0)
            abort(); /* a failure always says where and why */
        return 0;
    }
    if (!json_is_object(root))
        abort();
    char *text = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        abort();
    json_error_t jerr;
    json_t *back = json_loads(text, JSON_ALLOW_NUL, &jerr);
    if (back == NULL || !json_equal(back, root))
        abort();
    json_decref(back);
    free(text);
    json_decref(root);
    return 0;
}
