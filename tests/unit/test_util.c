/* test_util.c - cmocka tests for mw_buf, mw_clock and mw_file */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_file.h"

static void test_buf_grows_past_any_fixed_size(void **state)
{
    struct mw_buf b = MW_BUF_INIT;
    (void)state;
    assert_string_equal(b.ptr, "");
    for (int i = 0; i < 10000; i++)
        mw_buf_addf(&b, "%05d", i);
    assert_int_equal(b.len, 50000);
    assert_int_equal(b.ptr[b.len], '\0');
    assert_memory_equal(b.ptr + 49995, "09999", 5);
    mw_buf_setlen(&b, 5);
    assert_string_equal(b.ptr, "00000");
    mw_buf_addc(&b, '!');
    mw_buf_adds(&b, "ok");
    assert_string_equal(b.ptr, "00000!ok");
    size_t n;
    char *s = mw_buf_detach(&b, &n);
    assert_int_equal(n, 8);
    assert_string_equal(s, "00000!ok");
    assert_int_equal(b.len, 0);
    assert_string_equal(b.ptr, "");
    free(s);
    mw_buf_release(&b);
}

static void test_buf_long_format(void **state)
{
    struct mw_buf b = MW_BUF_INIT;
    char *big = malloc(20001);
    (void)state;
    memset(big, 'a', 20000);
    big[20000] = '\0';
    mw_buf_addf(&b, "[%s]", big);
    assert_int_equal(b.len, 20002);
    assert_int_equal(b.ptr[0], '[');
    assert_int_equal(b.ptr[20001], ']');
    free(big);
    mw_buf_release(&b);
}

static void test_clock(void **state)
{
    (void)state;
    int64_t a = mw_mono_us(), w = mw_wall_us();
    assert_true(mw_mono_us() >= a);
    assert_true(w > INT64_C(1600000000) * MW_USEC_PER_SEC);
}

static void test_path_join(void **state)
{
    char *p;
    (void)state;
    p = mw_path_join("dir/", "x.lua");
    assert_string_equal(p, "dir/x.lua");
    free(p);
    p = mw_path_join("dir", "x.lua");
    assert_string_equal(p, "dir/x.lua");
    free(p);
    p = mw_path_join("", "x.lua");
    assert_string_equal(p, "x.lua");
    free(p);
}

static void test_atomic_refuses_symlink_and_keeps_old(void **state)
{
    char dir[] = "/tmp/mw_test_util.XXXXXX";
    char path[256], victim[256], tmp[300];
    struct mw_error err;
    size_t n;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    assert_int_equal(mw_file_write_atomic(path, "one", 3, MW_FILE_DURABLE, &err), 0);
    /* a planted temp name of the old scheme is never written through */
    FILE *v = fopen(victim, "w");
    fputs("precious", v);
    fclose(v);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(symlink(victim, tmp), 0);
    assert_int_equal(mw_file_write_atomic(path, "two", 3, MW_FILE_DURABLE, &err), 0);
    char *got = mw_file_read(path, 0, &n, &err);
    assert_non_null(got);
    assert_string_equal(got, "two");
    free(got);
    got = mw_file_read(victim, 0, &n, &err);
    assert_string_equal(got, "precious");
    free(got);
    /* a size limit is an error, not a truncation */
    assert_null(mw_file_read(victim, 4, &n, &err));
    assert_non_null(strstr(err.msg, "4 bytes at most"));
    unlink(tmp);
    unlink(victim);
    unlink(path);
    rmdir(dir);
}

static void test_read_refuses_fifo_and_devices(void **state)
{
    char dir[] = "/tmp/mw_test_util.XXXXXX";
    char fifo[256];
    struct mw_error err;
    size_t n;
    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof fifo, "%s/x.lua", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(mw_file_read(fifo, 0, &n, &err)); /* returns at once */
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_null(mw_file_read("/dev/zero", 0, &n, &err));
    assert_null(mw_file_read(dir, 0, &n, &err));
    unlink(fifo);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_grows_past_any_fixed_size),
        cmocka_unit_test(test_buf_long_format),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_path_join),
        cmocka_unit_test(test_atomic_refuses_symlink_and_keeps_old),
        cmocka_unit_test(test_read_refuses_fifo_and_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
