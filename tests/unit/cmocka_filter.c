/* cmocka_filter.c - run chosen cmocka cases: MW_TEST_FILTER
 *
 * Linked into every unit test binary (Makefile). Before main() runs, a
 * constructor hands $MW_TEST_FILTER to cmocka_set_test_filter (cmocka
 * 1.1.5+), so cmocka_run_group_tests runs only the cases whose name matches
 * the pattern ('*' and '?' wildcards):
 *
 *     MW_TEST_FILTER='late_*' build/release/tests/test_seq_late
 *     make check-unit UNIT=test_seq MW_TEST_FILTER=test_until_cancels
 *
 * Unset or empty: every case runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

__attribute__((constructor)) static void mw_test_filter_init(void)
{
    const char *pattern = getenv("MW_TEST_FILTER");

    if (pattern != NULL && pattern[0] != '\0')
        cmocka_set_test_filter(pattern);
}
