/* fuzz_kql.c - libFuzzer target: the KQL lexer and parser
 *
 * The input is parsed as a KQL query from an exact-size buffer that is not
 * NUL-terminated. A refusal must carry "line:column: message", the source
 * line and a caret; an accepted tree is walked by mw_kql_check and
 * mw_kql_dump, and its invariants are asserted on every node: AND/OR have at
 * least two children and no child of their own kind, NOT and NESTED one,
 * MATCH at least one value, RANGE exactly one, EXISTS none, and only MATCH
 * may lack a field. The seed corpus (tests/fuzz/corpus/kql/) holds queries
 * in the shapes of the Elastic corpus and the grammar's edge cases.
 */
#include "fuzz_common.h"
#include "mw_kql.h"

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

static void check_node(const struct mw_kql_node *n, int depth)
{
    if (depth > MW_KQL_MAX_DEPTH + 1 || n->line == 0 || n->col == 0)
        abort();
    switch (n->kind) {
    case MW_KQL_AND:
    case MW_KQL_OR:
        if (n->nkids < 2 || n->nvals != 0 || n->field != NULL)
            abort();
        for (size_t i = 0; i < n->nkids; i++)
            if (n->kids[i]->kind == n->kind)
                abort();
        break;
    case MW_KQL_NOT:
        if (n->nkids != 1 || n->nvals != 0)
            abort();
        break;
    case MW_KQL_NESTED:
        if (n->nkids != 1 || n->field == NULL)
            abort();
        break;
    case MW_KQL_MATCH:
        if (n->nvals < 1 || n->nkids != 0)
            abort();
        break;
    case MW_KQL_RANGE:
        if (n->nvals != 1 || n->field == NULL)
            abort();
        break;
    case MW_KQL_EXISTS:
        if (n->nvals != 0 || n->field == NULL)
            abort();
        break;
    default:
        abort();
    }
    for (size_t i = 0; i < n->nvals; i++)
        if (n->vals[i].s == NULL || n->vals[i].s[n->vals[i].len] != '\0')
            abort();
    for (size_t i = 0; i < n->nkids; i++)
        check_node(n->kids[i], depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mw_buf err = MW_BUF_INIT, out = MW_BUF_INIT;
    struct mw_kql_node *n = mw_kql_parse((const char *)data, size, &err);
    if (n == NULL) {
        unsigned line, col;
        if (sscanf(err.ptr, "%u:%u: ", &line, &col) != 2 || strchr(err.ptr, '^') == NULL)
            abort(); /* a failure always says where and why */
    } else {
        if (err.len != 0)
            abort();
        check_node(n, 0);
        (void)mw_kql_check(n, &out);
        mw_buf_reset(&out);
        mw_kql_dump(n, &out);
        if (out.len == 0 || out.ptr[0] != '(')
            abort();
        mw_kql_free(n);
    }
    mw_buf_release(&err);
    mw_buf_release(&out);
    return 0;
}
