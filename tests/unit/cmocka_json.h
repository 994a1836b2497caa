/* cmocka_json.h - jansson on cmocka's allocator, for the unit tests
 *
 * Included by a test file after <cmocka.h> and <jansson.h>: setup() routes
 * every jansson allocation through test_malloc/test_free, so cmocka reports
 * a leaked or doubly freed JSON value as a failure of the test. json_dumps()
 * strings are then freed with json_test_free, not free().
 */
#ifndef CMOCKA_JSON_H
#define CMOCKA_JSON_H

static void *json_test_malloc(size_t n)
{
    return test_malloc(n);
}

static void json_test_free(void *p)
{
    test_free(p);
}

static int setup(void **state)
{
    (void)state;
    json_set_alloc_funcs(json_test_malloc, json_test_free);
    return 0;
}

#endif
