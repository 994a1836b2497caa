/* test_evtime.c - cmocka tests for mw_evtime: outliers set aside, jumps
 * confirmed by the data, the wall clock in follow mode, bounds */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_evtime.h"

#define S INT64_C(1000000)
#define MIN (60 * S)
#define T0 (INT64_C(1760000000) * S)

static struct mw_evtime *make(bool follow)
{
    struct mw_evtime_opts o;
    mw_evtime_opts_default(&o, 5 * MIN);
    o.jump = 0; /* the jump rule on: the lateness */
    o.follow = follow;
    return mw_evtime_new(&o);
}

static void test_in_order_and_late(void **state)
{
    (void)state;
    struct mw_evtime *t = make(false);
    mw_time_t wall = T0 + 60 * MIN;
    assert_int_equal(mw_evtime_admit(t, T0, wall), MW_EVTIME_ADMIT);
    assert_int_equal(mw_evtime_admit(t, T0 + MIN, wall), MW_EVTIME_ADMIT);
    assert_int_equal(mw_evtime_admit(t, T0 - 3 * MIN, wall),
                     MW_EVTIME_ADMIT); /* late, within */
    assert_true(mw_evtime_now(t) == T0 + MIN);
    assert_int_equal(mw_evtime_admit(t, T0 - 5 * MIN, wall), MW_EVTIME_LATE);
    mw_evtime_free(t);
}

static void test_one_outlier_is_held_and_released_in_order(void **state)
{
    (void)state;
    struct mw_evtime *t = make(false);
    mw_time_t wall = T0 + 60 * MIN, ts;
    int item = 1;
    assert_int_equal(mw_evtime_admit(t, T0, wall), MW_EVTIME_ADMIT);
    assert_int_equal(mw_evtime_admit(t, T0 + 55 * MIN, wall), MW_EVTIME_HOLD);
    assert_null(mw_evtime_hold(t, T0 + 55 * MIN, 2, 100, &item));
    assert_true(mw_evtime_now(t) == T0);
    /* the correct events after it are neither late nor held */
    for (int i = 1; i <= 40; i++)
        assert_int_equal(mw_evtime_admit(t, T0 + i * S, wall), MW_EVTIME_ADMIT);
    assert_null(mw_evtime_next(t, wall, false, &ts));
    /* end of input: released, then now moves */
    assert_ptr_equal(mw_evtime_next(t, wall, true, &ts), &item);
    assert_true(ts == T0 + 55 * MIN);
    assert_true(mw_evtime_now(t) == T0 + 55 * MIN);
    mw_evtime_free(t);
}

static void test_a_real_jump_is_confirmed(void **state)
{
    (void)state;
    struct mw_evtime *t = make(false);
    mw_time_t wall = T0 + 600 * MIN, ts;
    int items[32];
    assert_int_equal(mw_evtime_admit(t, T0, wall), MW_EVTIME_ADMIT);
    int held = 0;
    for (int i = 0; i < MW_EVTIME_DEFAULT_CONFIRM; i++) {
        enum mw_evtime_verdict v = mw_evtime_admit(t, T0 + 180 * MIN + i * S, wall);
        if (v == MW_EVTIME_HOLD)
            assert_null(mw_evtime_hold(t, T0 + 180 * MIN + i * S, (uint64_t)i, 1,
                                       &items[held++]));
        else
            assert_int_equal(v, MW_EVTIME_ADMIT);
    }
    assert_int_equal(held, MW_EVTIME_DEFAULT_CONFIRM); /* the run comes out in order */
    /* the whole run comes out in order, and now moves with it */
    for (int i = 0; i < held; i++) {
        assert_ptr_equal(mw_evtime_next(t, wall, false, &ts), &items[i]);
        assert_true(ts == T0 + 180 * MIN + i * S);
    }
    assert_true(mw_evtime_now(t) == T0 + 180 * MIN + (held - 1) * S);
    assert_int_equal(mw_evtime_admit(t, T0, wall), MW_EVTIME_LATE);
    mw_evtime_free(t);
}

static void test_interleaved_outliers_never_confirm(void **state)
{
    (void)state;
    struct mw_evtime *t = make(false);
    mw_time_t wall = T0 + 600 * MIN;
    static int dummy[200];
    assert_int_equal(mw_evtime_admit(t, T0, wall), MW_EVTIME_ADMIT);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(mw_evtime_admit(t, T0 + 300 * MIN, wall), MW_EVTIME_HOLD);
        mw_evtime_hold(t, T0 + 300 * MIN, (uint64_t)i, 1, &dummy[i]);
        assert_int_equal(mw_evtime_admit(t, T0 + i * S, wall), MW_EVTIME_ADMIT);
    }
    assert_true(mw_evtime_now(t) == T0 + 99 * S);
    assert_int_equal(mw_evtime_held(t), 100);
    mw_time_t ts;
    while (mw_evtime_next(t, wall, true, &ts) != NULL)
        ;
    mw_evtime_free(t);
}

static void test_clock_skew_and_follow_corroboration(void **state)
{
    (void)state;
    struct mw_evtime *t = make(true);
    mw_time_t wall = T0, ts;
    int a;
    assert_int_equal(mw_evtime_admit(t, T0 - 60 * MIN, wall), MW_EVTIME_ADMIT);
    /* near the clock: admitted in follow mode even after a long gap */
    assert_int_equal(mw_evtime_admit(t, T0 - 10 * S, wall), MW_EVTIME_ADMIT);
    /* 55 minutes ahead of the clock: held however many arrive */
    for (int i = 0; i < 40; i++)
        assert_int_equal(mw_evtime_admit(t, T0 + 55 * MIN, wall), MW_EVTIME_HOLD);
    assert_null(mw_evtime_hold(t, T0 + 55 * MIN, 1, 1, &a));
    assert_true(mw_evtime_now(t) == T0 - 10 * S);
    assert_null(mw_evtime_next(t, wall, false, &ts));
    /* the clock catches up: released */
    assert_ptr_equal(mw_evtime_next(t, T0 + 54 * MIN, false, &ts), &a);
    mw_evtime_free(t);
}

static void test_bounds_evict_the_farthest(void **state)
{
    (void)state;
    struct mw_evtime_opts o;
    mw_evtime_opts_default(&o, 5 * MIN);
    o.jump = 0;
    o.max_held = 3;
    struct mw_evtime *t = mw_evtime_new(&o);
    mw_time_t wall = T0 + 6000 * MIN;
    int v[5];
    mw_evtime_admit(t, T0, wall);
    assert_null(mw_evtime_hold(t, T0 + 100 * MIN, 1, 1, &v[0]));
    assert_null(mw_evtime_hold(t, T0 + 300 * MIN, 2, 1, &v[1]));
    assert_null(mw_evtime_hold(t, T0 + 200 * MIN, 3, 1, &v[2]));
    assert_ptr_equal(mw_evtime_hold(t, T0 + 150 * MIN, 4, 1, &v[3]), &v[1]);
    assert_ptr_equal(mw_evtime_hold(t, T0 + 900 * MIN, 5, 1, &v[4]), &v[4]);
    mw_time_t ts;
    assert_ptr_equal(mw_evtime_next(t, wall, true, &ts), &v[0]);
    assert_ptr_equal(mw_evtime_next(t, wall, true, &ts), &v[3]);
    assert_ptr_equal(mw_evtime_next(t, wall, true, &ts), &v[2]);
    assert_null(mw_evtime_next(t, wall, true, &ts));
    mw_evtime_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_and_late),
        cmocka_unit_test(test_one_outlier_is_held_and_released_in_order),
        cmocka_unit_test(test_a_real_jump_is_confirmed),
        cmocka_unit_test(test_interleaved_outliers_never_confirm),
        cmocka_unit_test(test_clock_skew_and_follow_corroboration),
        cmocka_unit_test(test_bounds_evict_the_farthest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
