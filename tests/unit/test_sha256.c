/* test_sha256.c - cmocka tests for mw_sha256 against FIPS 180-4 vectors */

/*
 * Known-answer tests from the FIPS 180-4 / NIST CSHA examples (empty string,
 * "abc", the 448- and 896-bit messages, one million 'a'), padding-boundary
 * lengths (55/56/63/64/65 bytes, cross-checked with Python's hashlib), and
 * equivalence of every chunking with the one-shot digest.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mw_sha256.h"

static void to_hex(const uint8_t d[32], char out[65])
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check_hex(const char *msg, size_t len, const char *want)
{
    char hex[MW_SHA256_HEX_SIZE];

    memset(hex, 'x', sizeof hex);
    mw_sha256_hex(msg, len, hex);
    assert_string_equal(hex, want);
}

static void test_empty(void **state)
{
    static const char want[] =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    struct mw_sha256 ctx;
    uint8_t d[32];
    char hex[65];

    (void)state;
    check_hex("", 0, want);
    check_hex(NULL, 0, want);

    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, NULL, 0);
    mw_sha256_final(&ctx, d);
    to_hex(d, hex);
    assert_string_equal(hex, want);
}

static void test_abc(void **state)
{
    static const uint8_t want[32] = {
        0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
        0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
        0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
    };
    struct mw_sha256 ctx;
    uint8_t d[32];

    (void)state;
    check_hex("abc", 3,
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, "abc", 3);
    mw_sha256_final(&ctx, d);
    assert_memory_equal(d, want, 32);
}

static void test_448_bit(void **state)
{
    static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    (void)state;
    assert_int_equal(sizeof msg - 1, 56); /* 448 bits: padding spills a block */
    check_hex(msg, sizeof msg - 1,
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_896_bit(void **state)
{
    static const char msg[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                              "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

    (void)state;
    check_hex(msg, sizeof msg - 1,
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void **state)
{
    static const char want[] =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    /* Uneven chunk sizes, crossing block boundaries at every offset. */
    static const size_t chunks[] = {1, 63, 64, 65, 7, 128, 1000, 3, 4096, 59};
    char buf[4096];
    struct mw_sha256 ctx;
    uint8_t d[32];
    char hex[65];
    size_t left = 1000000;
    size_t k = 0;

    (void)state;
    memset(buf, 'a', sizeof buf);
    mw_sha256_init(&ctx);
    while (left > 0) {
        size_t n = chunks[k++ % (sizeof chunks / sizeof chunks[0])];
        if (n > left)
            n = left;
        mw_sha256_update(&ctx, buf, n);
        left -= n;
    }
    mw_sha256_final(&ctx, d);
    to_hex(d, hex);
    assert_string_equal(hex, want);

    /* And in one shot from a heap buffer. */
    {
        char *big = test_malloc(1000000);
        memset(big, 'a', 1000000);
        check_hex(big, 1000000, want);
        test_free(big);
    }
}

static void test_padding_boundaries(void **state)
{
    static const struct {
        size_t len;
        const char *want;
    } cases[] = {
        {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
        {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
        {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
        {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
        {65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
    };
    char msg[65];

    (void)state;
    memset(msg, 'x', sizeof msg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_hex(msg, cases[i].len, cases[i].want);
}

/* Every split point (and a byte-at-a-time feed) matches the one-shot digest. */
static void test_chunked_equals_one_shot(void **state)
{
    uint8_t msg[777];
    uint8_t one[32], d[32];
    struct mw_sha256 ctx;

    (void)state;
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 131 + 7);

    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, msg, sizeof msg);
    mw_sha256_final(&ctx, one);

    for (size_t split = 0; split <= sizeof msg; split++) {
        mw_sha256_init(&ctx);
        mw_sha256_update(&ctx, msg, split);
        mw_sha256_update(&ctx, msg + split, sizeof msg - split);
        mw_sha256_final(&ctx, d);
        assert_memory_equal(d, one, 32);
    }

    mw_sha256_init(&ctx);
    for (size_t i = 0; i < sizeof msg; i++)
        mw_sha256_update(&ctx, msg + i, 1);
    mw_sha256_final(&ctx, d);
    assert_memory_equal(d, one, 32);

    /* Three-way splits with an empty update in the middle. */
    for (size_t a = 0; a <= 130; a += 13) {
        for (size_t b = a; b <= 300; b += 29) {
            mw_sha256_init(&ctx);
            mw_sha256_update(&ctx, msg, a);
            mw_sha256_update(&ctx, NULL, 0);
            mw_sha256_update(&ctx, msg + a, b - a);
            mw_sha256_update(&ctx, msg + b, sizeof msg - b);
            mw_sha256_final(&ctx, d);
            assert_memory_equal(d, one, 32);
        }
    }
}

/* A context can be re-initialised and reused after final. */
static void test_reuse(void **state)
{
    struct mw_sha256 ctx;
    uint8_t d1[32], d2[32];

    (void)state;
    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, "something else entirely", 23);
    mw_sha256_final(&ctx, d1);
    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, "abc", 3);
    mw_sha256_final(&ctx, d2);
    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, "ab", 2); /* init mid-message resets too */
    mw_sha256_init(&ctx);
    mw_sha256_update(&ctx, "abc", 3);
    mw_sha256_final(&ctx, d1);
    assert_memory_equal(d1, d2, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_abc),
        cmocka_unit_test(test_448_bit),
        cmocka_unit_test(test_896_bit),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_chunked_equals_one_shot),
        cmocka_unit_test(test_reuse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
