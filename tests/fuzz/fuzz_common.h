/* fuzz_common.h - shared by the fuzz targets: where the project is, the two
 * events of the Arc true positive as parsed templates */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef MW_FUZZ_ROOT
#define MW_FUZZ_ROOT "."
#endif

/* The project root: $MW_FUZZ_ROOT, else the folder the target was built in. */
static inline const char *fuzz_root(void)
{
    const char *r = getenv("MW_FUZZ_ROOT");
    return r != NULL && *r ? r : MW_FUZZ_ROOT;
}

/* Reads line `which` (0 or 1) of tests/fixtures/arc/true_positive.ndjson:
 * the service-principal sign-in and the Arc credential listing. */
static inline json_t *fuzz_template(int which)
{
    char path[4096];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/tests/fixtures/arc/true_positive.ndjson", fuzz_root());
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        perror(path);
        abort();
    }
    json_t *v = NULL;
    for (int i = 0; i <= which; i++) {
        json_decref(v);
        v = json_loadf(fp, JSON_DISABLE_EOF_CHECK, &jerr);
        if (v == NULL) {
            fprintf(stderr, "%s: %s\n", path, jerr.text);
            abort();
        }
    }
    fclose(fp);
    return v;
}

#endif
