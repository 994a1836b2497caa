/* test_pool.c - cmocka tests for mw_pool: the allocator behind jansson
 *
 * Blocks of every size must be usable, disjoint and 8-byte aligned; a freed
 * block is reused by the next allocation of its class; blocks above
 * MW_POOL_MAX go to malloc; memory freed on another thread comes back
 * through the depot instead of growing the pool; and jansson runs on it.
 */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mw_pool.h"

static void test_sizes_disjoint_aligned(void **state)
{
    (void)state;
    enum { N = 2100 };
    static unsigned char *p[N];
    for (size_t i = 0; i < N; i++) {
        p[i] = mw_pool_alloc(i);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 8, 0);
        memset(p[i], (int)(i & 0xff), i);
    }
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < i; k++)
            if (p[i][k] != (unsigned char)(i & 0xff))
                fail_msg("block %zu byte %zu overwritten", i, k);
    for (size_t i = 0; i < N; i++)
        mw_pool_free(p[i]);
    mw_pool_free(NULL);
}

static void test_reuse_same_class(void **state)
{
    (void)state;
    void *a = mw_pool_alloc(40);
    mw_pool_free(a);
    void *b = mw_pool_alloc(33); /* 33 + 8 and 40 + 8 share the 48-byte class */
    assert_ptr_equal(a, b);
    void *c = mw_pool_alloc(40);
    assert_ptr_not_equal(b, c);
    mw_pool_free(b);
    mw_pool_free(c);
}

static void test_large_blocks_use_malloc(void **state)
{
    (void)state;
    struct mw_pool_stats before, mid, after;
    mw_pool_stats(&before);
    void *small = mw_pool_alloc(MW_POOL_MAX - 8); /* the largest pooled size */
    mw_pool_stats(&mid);
    assert_int_equal(mid.large_live, before.large_live);
    void *big = mw_pool_alloc(MW_POOL_MAX - 7);
    mw_pool_stats(&mid);
    assert_int_equal(mid.large_live, before.large_live + 1);
    memset(big, 0xab, MW_POOL_MAX - 7);
    mw_pool_free(big);
    mw_pool_free(small);
    mw_pool_stats(&after);
    assert_int_equal(after.large_live, before.large_live);
}

/* A producer thread allocates, this thread frees, round after round (the
 * parser-thread pattern): the pool must reach a steady size. */
struct handoff {
    void **blocks;
    size_t n;
};

static void *producer(void *arg)
{
    struct handoff *h = arg;
    for (size_t i = 0; i < h->n; i++) {
        h->blocks[i] = mw_pool_alloc(16 + (i % 200));
        memset(h->blocks[i], 0x5a, 16 + (i % 200));
    }
    mw_pool_thread_flush();
    return NULL;
}

static void test_cross_thread_frees_are_reused(void **state)
{
    (void)state;
    enum { N = 20000, ROUNDS = 30 };
    struct handoff h = {calloc(N, sizeof(void *)), N};
    struct mw_pool_stats st;
    uint64_t chunks_after_warmup = 0;
    assert_non_null(h.blocks);
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, producer, &h), 0);
        assert_int_equal(pthread_join(th, NULL), 0);
        for (size_t i = 0; i < N; i++) {
            unsigned char *b = h.blocks[i];
            assert_int_equal(b[0], 0x5a);
            assert_int_equal(b[15 + (i % 200)], 0x5a);
            mw_pool_free(b);
        }
        mw_pool_thread_flush(); /* what this thread freed goes to the depot */
        mw_pool_stats(&st);
        if (round == 2)
            chunks_after_warmup = st.chunks;
    }
    /* 30 rounds of 20,000 blocks (about 2.3 MB each) would need some 1,000
     * chunks without reuse; with it the pool stops growing after warm-up */
    assert_true(st.chunks <= chunks_after_warmup + 2);
    assert_true(st.depot_blocks > 0);
    free(h.blocks);
}

static void test_jansson_on_the_pool(void **state)
{
    (void)state;
    const char *doc =
        "{\"@timestamp\":\"2025-10-14T09:00:00.000Z\",\"event\":{\"dataset\":"
        "\"azure.signinlogs\",\"category\":[\"authentication\"]},\"n\":1.5,"
        "\"long\":\""
        "0123456789012345678901234567890123456789012345678901234567890"
        "123456789012345678901234567890123456789012345678901234567890123"
        "456789012345678901234567890123456789012345678901234567890123456"
        "789012345678901234567890123456789012345678901234567890123456789"
        "012345678901234567890123456789012345678901234567890123456789012"
        "345678901234567890123456789012345678901234567890123456789012345"
        "678901234567890123456789012345678901234567890123456789012345678"
        "901234567890123456789012345678901234567890123456789012345678901"
        "234567890123456789012345678901234567890123456789012345678901234"
        "567890123456789012345678901234567890123456789012345678901234567"
        "890123456789012345678901234567890123456789012345678901234567890\"}";
    setenv("MW_JSON_ALLOC", "pool", 1);
    assert_int_equal(mw_pool_install(), 1);
    assert_int_equal(mw_pool_installed(), 1);
    for (int i = 0; i < 1000; i++) {
        json_error_t err;
        json_t *j = json_loads(doc, JSON_REJECT_DUPLICATES, &err);
        assert_non_null(j);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(j, "event"), "dataset")),
            "azure.signinlogs");
        char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_string_equal(s, doc);
        mw_pool_free(s);
        json_decref(j);
    }
    setenv("MW_JSON_ALLOC", "system", 1);
    assert_int_equal(mw_pool_install(), 0);
    assert_int_equal(mw_pool_installed(), 0);
    json_t *j = json_object(); /* now on malloc */
    json_decref(j);
    unsetenv("MW_JSON_ALLOC");
}

static void test_shutdown_then_reuse(void **state)
{
    (void)state;
    struct mw_pool_stats st;
    mw_pool_shutdown();
    mw_pool_stats(&st);
    assert_int_equal(st.chunks, 0);
    assert_int_equal(st.depot_blocks, 0);
    void *p = mw_pool_alloc(100);
    memset(p, 1, 100);
    mw_pool_stats(&st);
    assert_int_equal(st.chunks, 1);
    mw_pool_free(p);
    mw_pool_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_disjoint_aligned),
        cmocka_unit_test(test_reuse_same_class),
        cmocka_unit_test(test_large_blocks_use_malloc),
        cmocka_unit_test(test_cross_thread_frees_are_reused),
        cmocka_unit_test(test_jansson_on_the_pool),
        cmocka_unit_test(test_shutdown_then_reuse),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    mw_pool_shutdown();
    return rc;
}
