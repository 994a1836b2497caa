/* fuzz_eql.c - libFuzzer target: the EQL parser (mw_eql_parse)
 *
 * The input is the query text, parsed twice: with no origin, and with a
 * file, line and column as a rule file would pass them. Either both fail
 * or both succeed (the origin only moves positions). A failure must say why
 * (a message, a position at or after the origin, a caret line); a success
 * is walked (every operand present, depths consistent and within
 * MW_EQL_MAX_DEPTH, spans inside the text) and dumped to JSON. No event or
 * rule is involved, so the target needs no fixtures. The seed corpus,
 * tests/fuzz/corpus/eql/, holds queries of Elastic's detection rules and of
 * Elasticsearch's EQL QA suite; tests/fuzz/eql.dict the dialect's words
 * (pass -dict=tests/fuzz/eql.dict by hand: run.sh knows only the older
 * targets' dictionaries).
 */
#include "fuzz_common.h"
#include "mw_eql.h"

#include <stdint.h>
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

static void walk(const struct mw_eql_node *n, size_t size)
{
    if (n == NULL)
        abort();
    if (n->depth < 1 || n->depth > MW_EQL_MAX_DEPTH)
        abort();
    if (n->at.off > size || n->at.len > size - n->at.off || n->at.line < 1 || n->at.col < 1)
        abort();
    for (size_t i = 0; i < n->nkids; i++) {
        if (n->kids[i] == NULL || n->kids[i]->depth >= n->depth)
            abort();
        walk(n->kids[i], size);
    }
    if (n->kind == MW_EQL_FIELD && (n->nsegs < 1 || n->str == NULL))
        abort();
}

static void walk_step(const struct mw_eql_step *s, size_t size)
{
    if (!s->any && s->category == NULL)
        abort();
    if (s->runs < 1 || s->runs > MW_EQL_MAX_RUNS)
        abort();
    walk(s->where, size);
    for (size_t i = 0; i < s->nby; i++)
        walk(s->by[i], size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct mw_eql_origin at = {.file = "rules/fuzz.eql", .line = 7, .col = 9};
    struct mw_eql_error e1, e2;
    mw_eql_error_init(&e1);
    mw_eql_error_init(&e2);
    struct mw_eql_query *q1 = mw_eql_parse(text, size, NULL, &e1);
    struct mw_eql_query *q2 = mw_eql_parse(text, size, &at, &e2);
    if ((q1 == NULL) != (q2 == NULL))
        abort();
    if (q1 == NULL) {
        if (e1.msg.len == 0 || e1.line < 1 || e1.col < 1 || strchr(e1.text.ptr, '^') == NULL)
            abort();
        if (strcmp(e1.msg.ptr, e2.msg.ptr) != 0 || e2.line < 7 || e2.off != e1.off)
            abort();
        if (strncmp(e2.text.ptr, "rules/fuzz.eql:", 15) != 0)
            abort();
    } else {
        if (q1->nsteps < 1 || (q1->type == MW_EQL_EVENT && q1->nsteps != 1))
            abort();
        for (size_t i = 0; i < q1->nsteps; i++)
            walk_step(&q1->steps[i], size);
        if (q1->until != NULL)
            walk_step(q1->until, size);
        for (size_t i = 0; i < q1->nby; i++)
            walk(q1->by[i], size);
        json_t *d = mw_eql_dump(q1);
        if (d == NULL)
            abort();
        free(json_dumps(d, JSON_COMPACT)); /* NULL for text that is not UTF-8 */
        json_decref(d);
    }
    mw_eql_free(q1);
    mw_eql_free(q2);
    mw_eql_error_release(&e1);
    mw_eql_error_release(&e2);
    return 0;
}
