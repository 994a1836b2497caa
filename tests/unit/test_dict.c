/* test_dict.c - cmocka tests for mw_dict: byte-string keys to pointers */

/*
 * Values are plain pointers into a local array, so every get can be checked
 * by identity. Growth and shrink are exercised through the public API only
 * (size and lookups stay right across rehashes). jansson is routed through
 * cmocka's allocator like every unit test, although mw_dict does not use it.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mw_dict.h"

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
    struct mw_dict *d;
    json_set_alloc_funcs(json_test_malloc, json_test_free);
    d = mw_dict_new();
    assert_non_null(d);
    assert_int_equal(mw_dict_size(d), 0);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    mw_dict_free(*state);
    return 0;
}

static int slots[4096];

static int keyf(char *buf, size_t size, int i)
{
    return snprintf(buf, size, "key-%d", i);
}

/* ------------------------------------------------------------------------ */

static void test_put_get_del(void **state)
{
    struct mw_dict *d = *state;

    assert_null(mw_dict_get(d, "a", 1));
    assert_null(mw_dict_put(d, "a", 1, &slots[0]));
    assert_null(mw_dict_put(d, "b", 1, &slots[1]));
    assert_int_equal(mw_dict_size(d), 2);
    assert_ptr_equal(mw_dict_get(d, "a", 1), &slots[0]);
    assert_ptr_equal(mw_dict_get(d, "b", 1), &slots[1]);
    /* the length is part of the key */
    assert_null(mw_dict_get(d, "ab", 2));
    assert_null(mw_dict_get(d, "a", 0));

    assert_ptr_equal(mw_dict_del(d, "a", 1), &slots[0]);
    assert_null(mw_dict_get(d, "a", 1));
    assert_null(mw_dict_del(d, "a", 1));
    assert_int_equal(mw_dict_size(d), 1);
    assert_ptr_equal(mw_dict_get(d, "b", 1), &slots[1]);
    assert_ptr_equal(mw_dict_del(d, "b", 1), &slots[1]);
    assert_int_equal(mw_dict_size(d), 0);
    assert_null(mw_dict_del(d, "zzz", 3));
}

static void test_replace(void **state)
{
    struct mw_dict *d = *state;

    assert_null(mw_dict_put(d, "k", 1, &slots[0]));
    assert_ptr_equal(mw_dict_put(d, "k", 1, &slots[1]), &slots[0]);
    assert_int_equal(mw_dict_size(d), 1);
    assert_ptr_equal(mw_dict_get(d, "k", 1), &slots[1]);
    assert_ptr_equal(mw_dict_put(d, "k", 1, &slots[1]), &slots[1]);
    assert_int_equal(mw_dict_size(d), 1);
}

static void test_key_is_copied(void **state)
{
    struct mw_dict *d = *state;
    char key[8] = "temp";

    mw_dict_put(d, key, 4, &slots[3]);
    memcpy(key, "XXXX", 4);
    assert_ptr_equal(mw_dict_get(d, "temp", 4), &slots[3]);
    assert_null(mw_dict_get(d, key, 4));
}

static void test_empty_key(void **state)
{
    struct mw_dict *d = *state;

    assert_null(mw_dict_put(d, "", 0, &slots[0]));
    assert_ptr_equal(mw_dict_get(d, "x", 0), &slots[0]);
    assert_null(mw_dict_get(d, "x", 1));
    assert_ptr_equal(mw_dict_del(d, "", 0), &slots[0]);
    assert_int_equal(mw_dict_size(d), 0);
}

static void test_many_keys_grow_and_shrink(void **state)
{
    struct mw_dict *d = *state;
    const int n = 4000;
    char buf[32];

    for (int i = 0; i < n; i++) {
        int len = keyf(buf, sizeof buf, i);
        assert_null(mw_dict_put(d, buf, (size_t)len, &slots[i]));
        assert_int_equal(mw_dict_size(d), (size_t)i + 1);
    }
    for (int i = 0; i < n; i++) {
        int len = keyf(buf, sizeof buf, i);
        assert_ptr_equal(mw_dict_get(d, buf, (size_t)len), &slots[i]);
    }
    /* delete all but every 100th key: the table shrinks several times */
    for (int i = 0; i < n; i++) {
        int len;
        if (i % 100 == 0)
            continue;
        len = keyf(buf, sizeof buf, i);
        assert_ptr_equal(mw_dict_del(d, buf, (size_t)len), &slots[i]);
    }
    assert_int_equal(mw_dict_size(d), (size_t)n / 100);
    for (int i = 0; i < n; i++) {
        int len = keyf(buf, sizeof buf, i);
        if (i % 100 == 0)
            assert_ptr_equal(mw_dict_get(d, buf, (size_t)len), &slots[i]);
        else
            assert_null(mw_dict_get(d, buf, (size_t)len));
    }
    /* down to empty, then grow again */
    for (int i = 0; i < n; i += 100) {
        int len = keyf(buf, sizeof buf, i);
        assert_ptr_equal(mw_dict_del(d, buf, (size_t)len), &slots[i]);
    }
    assert_int_equal(mw_dict_size(d), 0);
    for (int i = 0; i < 100; i++) {
        int len = keyf(buf, sizeof buf, i);
        assert_null(mw_dict_put(d, buf, (size_t)len, &slots[i]));
    }
    for (int i = 0; i < 100; i++) {
        int len = keyf(buf, sizeof buf, i);
        assert_ptr_equal(mw_dict_get(d, buf, (size_t)len), &slots[i]);
    }
    assert_int_equal(mw_dict_size(d), 100);
}

static void test_binary_keys(void **state)
{
    struct mw_dict *d = *state;
    static const char k1[] = {'a', '\0', 'b'};
    static const char k2[] = {'a', '\0', 'c'};
    static const char k3[] = {'\0'};
    static const char k4[] = {'\0', '\0'};
    static const char k5[] = {'a'};

    mw_dict_put(d, k1, sizeof k1, &slots[1]);
    mw_dict_put(d, k2, sizeof k2, &slots[2]);
    mw_dict_put(d, k3, sizeof k3, &slots[3]);
    mw_dict_put(d, k4, sizeof k4, &slots[4]);
    mw_dict_put(d, k5, sizeof k5, &slots[5]);
    assert_int_equal(mw_dict_size(d), 5);
    assert_ptr_equal(mw_dict_get(d, k1, sizeof k1), &slots[1]);
    assert_ptr_equal(mw_dict_get(d, k2, sizeof k2), &slots[2]);
    assert_ptr_equal(mw_dict_get(d, k3, sizeof k3), &slots[3]);
    assert_ptr_equal(mw_dict_get(d, k4, sizeof k4), &slots[4]);
    assert_ptr_equal(mw_dict_get(d, k5, sizeof k5), &slots[5]);
    assert_ptr_equal(mw_dict_del(d, k1, sizeof k1), &slots[1]);
    assert_null(mw_dict_get(d, k1, sizeof k1));
    assert_ptr_equal(mw_dict_get(d, k2, sizeof k2), &slots[2]);
    assert_ptr_equal(mw_dict_get(d, k5, sizeof k5), &slots[5]);
}

struct seen {
    int count;
    int hits[64];
    size_t total_klen;
};

static void visit(const void *key, size_t klen, void *val, void *ud)
{
    struct seen *s = ud;
    int i = (int)((int *)val - slots);
    char buf[32];
    int len;

    assert_true(i >= 0 && i < 64);
    len = keyf(buf, sizeof buf, i);
    assert_int_equal(klen, (size_t)len);
    assert_memory_equal(key, buf, klen);
    s->hits[i]++;
    s->count++;
    s->total_klen += klen;
}

static void test_foreach(void **state)
{
    struct mw_dict *d = *state;
    struct seen s;
    char buf[32];

    memset(&s, 0, sizeof s);
    mw_dict_foreach(d, visit, &s);
    assert_int_equal(s.count, 0);
    for (int i = 0; i < 50; i++) {
        int len = keyf(buf, sizeof buf, i);
        mw_dict_put(d, buf, (size_t)len, &slots[i]);
    }
    mw_dict_foreach(d, visit, &s);
    assert_int_equal(s.count, 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(s.hits[i], 1);
}

static void record_order(const void *key, size_t klen, void *val, void *ud)
{
    struct {
        int n, got[64];
    } *o = ud;
    (void)key;
    (void)klen;
    o->got[o->n++] = (int)((int *)val - slots);
}

static void test_hash_bytes(void **state)
{
    (void)state;
    assert_true(mw_hash_bytes("abc", 3) == mw_hash_bytes("abc", 3));
    assert_true(mw_hash_bytes("abc", 3) != mw_hash_bytes("abd", 3));
    assert_true(mw_hash_bytes("a\0b", 3) != mw_hash_bytes("a\0c", 3));
    assert_true(mw_hash_bytes("a", 1) != mw_hash_bytes("a\0", 2));
    mw_dict_free(NULL);
}

/* SipHash-2-4 with the paper's key 00 01 .. 0f on the messages 00 01 ..
 * (n-1): the paper's appendix example (15 bytes: a129ca6149be45e5) and
 * entries of the reference implementation's vectors.h, read as
 * little-endian words; lengths around the 8-byte block edges. */
static void test_siphash24_vectors(void **state)
{
    static const struct {
        size_t len;
        uint64_t want;
    } v[] = {
        {0, 0x726fdb47dd0e0e31ULL},  {1, 0x74f839c593dc67fdULL},
        {2, 0x0d6c8009d9a94f5aULL},  {7, 0xab0200f58b01d137ULL},
        {8, 0x93f5f5799a932462ULL},  {9, 0x9e0082df0ba9e4b0ULL},
        {15, 0xa129ca6149be45e5ULL}, {16, 0x3f2acc7f57c29bdbULL},
        {63, 0x958a324ceb064572ULL},
    };
    unsigned char key[16], msg[64];
    (void)state;
    for (int i = 0; i < 16; i++)
        key[i] = (unsigned char)i;
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        assert_true(mw_siphash24(key, msg, v[i].len) == v[i].want);
}

/* The table's hash is keyed: not the fixed-key value of the same input,
 * and stable within the process. */
static void test_hash_is_keyed(void **state)
{
    static const unsigned char zero[16];
    (void)state;
    assert_true(mw_hash_bytes("user", 4) == mw_hash_bytes("user", 4));
    assert_true(mw_hash_bytes("user", 4) != mw_siphash24(zero, "user", 4));
}

/* Iteration follows insertion order, whatever the seed, across deletes
 * and rehashes. */
static void test_foreach_insertion_order(void **state)
{
    struct mw_dict *d = *state;
    char buf[32];
    struct order {
        int n, got[64];
    } o = {0, {0}};
    for (int i = 0; i < 64; i++) {
        int len = keyf(buf, sizeof buf, i);
        mw_dict_put(d, buf, (size_t)len, &slots[i]);
    }
    for (int i = 0; i < 64; i += 2) {
        int len = keyf(buf, sizeof buf, i);
        mw_dict_del(d, buf, (size_t)len);
    }
    mw_dict_put(d, "key-0", 5, &slots[0]); /* back, at the end */
    mw_dict_foreach(d, record_order, &o);
    assert_int_equal(o.n, 33);
    for (int i = 0; i < 32; i++)
        assert_int_equal(o.got[i], 2 * i + 1);
    assert_int_equal(o.got[32], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_del, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_is_copied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys_grow_and_shrink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_binary_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreach_insertion_order, setup, teardown),
        cmocka_unit_test(test_siphash24_vectors),
        cmocka_unit_test(test_hash_is_keyed),
        cmocka_unit_test_setup_teardown(test_hash_bytes, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
