/* test_tail.c - cmocka tests for mw_tail (rotation, truncation, deletion,
 * resume) and for following through mw_input across a rotation
 *
 * Each test works in a fresh temp folder; the rotate wait is 1 ms and the
 * checks are forced or spaced past MW_TAIL_CHECK_MS, so no test sleeps long.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "mw_input.h"
#include "mw_tail.h"

static char dir[64];
static char path[128], path1[128];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/mw-tail.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/app.ndjson", dir);
    snprintf(path1, sizeof(path1), "%s/app.ndjson.1", dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void append(const char *p, const char *text)
{
    FILE *fp = fopen(p, "a");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000};
    nanosleep(&ts, NULL);
}

static enum mw_tail_action check(struct mw_tail *t, int fd, uint64_t pos, int *nfd,
                                 uint64_t *noff)
{
    *nfd = -2;
    return mw_tail_check(t, fd, pos, true, nfd, noff);
}

static void test_unchanged(void **state)
{
    (void)state;
    append(path, "{\"a\":1}\n");
    int fd = open(path, O_RDONLY), nfd;
    uint64_t noff;
    struct mw_tail *t = mw_tail_new(path, fd, 1);
    assert_int_equal(check(t, fd, 8, &nfd, &noff), MW_TAIL_NONE);
    append(path, "{\"a\":2}\n"); /* growing is not a rotation */
    assert_int_equal(check(t, fd, 8, &nfd, &noff), MW_TAIL_NONE);
    mw_tail_free(t);
    close(fd);
}

static void test_rename_waits_for_quiet(void **state)
{
    (void)state;
    append(path, "{\"a\":1}\n");
    int fd = open(path, O_RDONLY), nfd;
    uint64_t noff;
    struct mw_tail *t = mw_tail_new(path, fd, 50);
    assert_int_equal(rename(path, path1), 0);
    append(path, "{\"b\":1}\n");
    /* not drained yet: the old file is read on */
    assert_int_equal(check(t, fd, 0, &nfd, &noff), MW_TAIL_NONE);
    /* drained but not quiet for 50 ms yet */
    assert_int_equal(check(t, fd, 8, &nfd, &noff), MW_TAIL_NONE);
    pause_ms(80);
    assert_int_equal(check(t, fd, 8, &nfd, &noff), MW_TAIL_SWITCH);
    assert_true(nfd >= 0);
    assert_int_equal(noff, 0);
    char buf[16] = {0};
    assert_int_equal(read(nfd, buf, 8), 8);
    assert_string_equal(buf, "{\"b\":1}\n");
    close(nfd);
    mw_tail_free(t);
    close(fd);
}

static void test_copytruncate_continues_in_copy(void **state)
{
    (void)state;
    append(path, "{\"a\":1}\n{\"a\":2}\n");
    int fd = open(path, O_RDONLY), nfd;
    uint64_t noff;
    struct mw_tail *t = mw_tail_new(path, fd, 1);
    /* copy, truncate, and more new content than was read */
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cp %s %s && : > %s", path, path1, path);
    assert_int_equal(system(cmd), 0);
    append(path, "{\"zzzzz\":1234}\n{\"y\":1}\n");
    assert_int_equal(check(t, fd, 8, &nfd, &noff), MW_TAIL_CONTINUE);
    assert_int_equal(noff, 8);
    char buf[16] = {0};
    assert_int_equal(pread(nfd, buf, 8, 8), 8);
    assert_string_equal(buf, "{\"a\":2}\n");
    /* the copy read to its end: back to the path, from 0 */
    assert_int_equal(check(t, nfd, 16, &fd, &noff), MW_TAIL_SWITCH);
    assert_int_equal(noff, 0);
    close(nfd);
    close(fd);
    mw_tail_free(t);
}

static void test_truncate_without_copy_restarts(void **state)
{
    (void)state;
    append(path, "{\"a\":1}\n{\"a\":2}\n");
    int fd = open(path, O_RDONLY), nfd;
    uint64_t noff;
    struct mw_tail *t = mw_tail_new(path, fd, 1);
    assert_int_equal(truncate(path, 0), 0);
    assert_int_equal(check(t, fd, 16, &nfd, &noff), MW_TAIL_RESTART);
    mw_tail_free(t);
    close(fd);
}

static void test_deleted_is_released(void **state)
{
    (void)state;
    append(path, "{\"a\":1}\n");
    int fd = open(path, O_RDONLY), nfd;
    uint64_t noff;
    struct mw_tail *t = mw_tail_new(path, fd, 1);
    assert_int_equal(unlink(path), 0);
    /* the first check sees the progress to 8; quiet is measured from it */
    assert_int_equal(check(t, fd, 8, &nfd, &noff), MW_TAIL_NONE);
    pause_ms(5);
    assert_int_equal(check(t, fd, 8, &nfd, &noff), MW_TAIL_SWITCH);
    assert_int_equal(nfd, -1);
    close(fd);
    /* released: nothing until the path is back */
    assert_int_equal(check(t, -1, 0, &nfd, &noff), MW_TAIL_NONE);
    append(path, "{\"c\":1}\n");
    assert_int_equal(check(t, -1, 0, &nfd, &noff), MW_TAIL_SWITCH);
    assert_true(nfd >= 0);
    close(nfd);
    mw_tail_free(t);
}

static void test_resume(void **state)
{
    (void)state;
    struct mw_tail_pos pos;
    char msg[300];
    int nfd;
    uint64_t noff, nline;
    append(path, "{\"a\":1}\n{\"a\":2}\n");
    int fd = open(path, O_RDONLY);
    assert_int_equal(mw_tail_position(NULL, fd, 8, 1, &pos), 0);
    assert_int_equal(pos.fp_len, 16);
    close(fd);
    /* the same file: at the offset */
    fd = open(path, O_RDONLY);
    struct mw_tail *t = mw_tail_new(path, fd, 1);
    mw_tail_resume(t, fd, &pos, &nfd, &noff, &nline, msg, sizeof(msg));
    assert_int_equal(nfd, fd);
    assert_int_equal(noff, 8);
    assert_int_equal(nline, 1);
    mw_tail_free(t);
    close(fd);
    /* rotated away meanwhile: the old file, found beside the path */
    assert_int_equal(rename(path, path1), 0);
    append(path, "{\"new\":1}\n");
    fd = open(path, O_RDONLY);
    t = mw_tail_new(path, fd, 1);
    mw_tail_resume(t, fd, &pos, &nfd, &noff, &nline, msg, sizeof(msg));
    assert_int_not_equal(nfd, fd);
    assert_int_equal(noff, 8);
    assert_non_null(strstr(msg, "rotated away"));
    close(nfd);
    mw_tail_free(t);
    close(fd);
    /* another file, nothing beside it: from 0 */
    unlink(path1);
    fd = open(path, O_RDONLY);
    t = mw_tail_new(path, fd, 1);
    mw_tail_resume(t, fd, &pos, &nfd, &noff, &nline, msg, sizeof(msg));
    assert_int_equal(nfd, fd);
    assert_int_equal(noff, 0);
    mw_tail_free(t);
    close(fd);
}

/* Through mw_input: lines of the old file (one completed after the rename),
 * then the new file's, each once, with line numbers starting over. */
static void test_input_follows_rename(void **state)
{
    (void)state;
    struct mw_error err;
    const char *line;
    size_t len;
    uint64_t lineno, off;
    append(path, "{\"n\":1}\n{\"n\":");
    struct mw_input *in = mw_input_open(path, 0, &err);
    assert_non_null(in);
    mw_input_set_rotate_wait(in, 1);
    mw_input_set_follow(in, true);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &off, &err),
                     MW_LINE_OK);
    assert_int_equal(mw_input_next_line(in, &line, &len, &lineno, &off, &err),
                     MW_LINE_AGAIN);
    assert_int_equal(rename(path, path1), 0);
    append(path, "{\"n\":3}\n");
    append(path1, "2}\n");
    char got[64] = "";
    for (int i = 0; i < 200 && strlen(got) < 4; i++) {
        enum mw_line_status st = mw_input_next_line(in, &line, &len, &lineno, &off, &err);
        if (st == MW_LINE_OK) {
            size_t used = strlen(got);
            snprintf(got + used, sizeof(got) - used, "%c%d", line[5], (int)lineno);
        } else {
            assert_int_equal(st, MW_LINE_AGAIN);
            pause_ms(2);
        }
    }
    assert_string_equal(got, "2231"); /* n=2 at line 2, then n=3 at line 1 */
    mw_input_close(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_waits_for_quiet, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copytruncate_continues_in_copy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_truncate_without_copy_restarts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deleted_is_released, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_follows_rename, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
