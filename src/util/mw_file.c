/* mw_file.c - whole-file reads, atomic replacement, path joining
 * (see mw_file.h for the calling sequence and the guarantees) */
#include "mw_file.h"
#include "mw_buf.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint tmp_seq;

char *mw_path_join(const char *dir, const char *name)
{
    struct mw_buf b = MW_BUF_INIT;
    size_t n = strlen(dir);
    mw_buf_add(&b, dir, n);
    if (n > 0 && dir[n - 1] != '/')
        mw_buf_addc(&b, '/');
    while (n > 0 && *name == '/')
        name++;
    mw_buf_adds(&b, name);
    return mw_buf_detach(&b, NULL);
}

FILE *mw_atomic_open(struct mw_atomic *a, const char *path, struct mw_error *err)
{
    struct mw_buf b = MW_BUF_INIT;
    int fd;
    memset(a, 0, sizeof(*a));
    for (int tries = 0; tries < 8; tries++) {
        mw_buf_reset(&b);
        mw_buf_addf(&b, "%s.tmp.%ld.%u", path, (long)getpid(),
                    atomic_fetch_add(&tmp_seq, 1));
        fd = open(b.ptr, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        mw_error_set(err, "%s: %s", b.ptr, strerror(errno));
        mw_buf_release(&b);
        return NULL;
    }
    a->fp = fdopen(fd, "w");
    if (a->fp == NULL) {
        mw_error_set(err, "%s: %s", b.ptr, strerror(errno));
        close(fd);
        unlink(b.ptr);
        mw_buf_release(&b);
        return NULL;
    }
    a->tmp = mw_buf_detach(&b, NULL);
    a->path = xstrdup(path);
    return a->fp;
}

static void atomic_clear(struct mw_atomic *a)
{
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof(*a));
}

void mw_atomic_abort(struct mw_atomic *a)
{
    if (a->fp != NULL)
        fclose(a->fp);
    if (a->tmp != NULL)
        unlink(a->tmp);
    atomic_clear(a);
}

int mw_atomic_commit(struct mw_atomic *a, int flags, struct mw_error *err)
{
    int rc = 0;
    if (fflush(a->fp) != 0 || ferror(a->fp))
        rc = -1;
    if (rc == 0 && (flags & MW_FILE_DURABLE) && fsync(fileno(a->fp)) != 0)
        rc = -1;
    if (rc != 0) {
        mw_error_set(err, "%s: %s", a->tmp, strerror(errno));
        mw_atomic_abort(a);
        return -1;
    }
    if (fclose(a->fp) != 0) {
        a->fp = NULL;
        mw_error_set(err, "%s: %s", a->tmp, strerror(errno));
        mw_atomic_abort(a);
        return -1;
    }
    a->fp = NULL;
    if (rename(a->tmp, a->path) != 0) {
        mw_error_set(err, "%s: rename: %s", a->path, strerror(errno));
        mw_atomic_abort(a);
        return -1;
    }
    if ((flags & MW_FILE_DURABLE) && mw_fsync_parent(a->path) != 0) {
        mw_error_set(err, "%s: fsync of its folder: %s", a->path, strerror(errno));
        rc = -1;
    }
    atomic_clear(a);
    return rc;
}

int mw_file_write_atomic(const char *path, const void *data, size_t len, int flags,
                         struct mw_error *err)
{
    struct mw_atomic a;
    FILE *fp = mw_atomic_open(&a, path, err);
    if (fp == NULL)
        return -1;
    if (len > 0 && fwrite(data, 1, len, fp) != len) {
        mw_error_set(err, "%s: %s", a.tmp, strerror(errno));
        mw_atomic_abort(&a);
        return -1;
    }
    return mw_atomic_commit(&a, flags, err);
}

int mw_fsync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? xstrdup(".")
                : slash == path ? xstrdup("/")
                                : xstrndup(path, (size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = -1;
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    free(dir);
    return rc;
}

/* The error of an open that failed: ELOOP under O_NOFOLLOW is a symlink. */
static int open_error(const char *path, int flags, struct mw_error *err)
{
    int e = errno;
    if (e == ELOOP && (flags & O_NOFOLLOW))
        mw_error_set(err, "%s: is a symbolic link; refusing to follow it", path);
    else
        mw_error_set(err, "%s: %s", path, strerror(e));
    errno = e;
    return -1;
}

char *mw_file_read(const char *path, size_t max, size_t *len, struct mw_error *err)
{
    return mw_file_read_flags(path, max, len, 0, err);
}

char *mw_file_read_flags(const char *path, size_t max, size_t *len, int flags,
                         struct mw_error *err)
{
    struct mw_buf b = MW_BUF_INIT;
    struct stat st;
    char chunk[65536];
    ssize_t n;
    int oflags =
        O_RDONLY | O_CLOEXEC | O_NONBLOCK | ((flags & MW_FILE_NOFOLLOW) ? O_NOFOLLOW : 0);
    /* O_NONBLOCK: opening a FIFO must not wait for a writer */
    int fd = open(path, oflags);
    if (fd < 0) {
        open_error(path, oflags, err);
        return NULL;
    }
    if (fstat(fd, &st) != 0) {
        mw_error_set(err, "%s: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        mw_error_set(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if (max > 0 && (uint64_t)st.st_size > max) {
        mw_error_set(err, "%s: %zu bytes at most, the file has %lld", path, max,
                     (long long)st.st_size);
        close(fd);
        return NULL;
    }
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            mw_error_set(err, "%s: %s", path, strerror(errno));
            close(fd);
            mw_buf_release(&b);
            return NULL;
        }
        mw_buf_add(&b, chunk, (size_t)n);
        if (max > 0 && b.len > max) {
            mw_error_set(err, "%s: over %zu bytes", path, max);
            close(fd);
            mw_buf_release(&b);
            return NULL;
        }
    }
    close(fd);
    return mw_buf_detach(&b, len);
}

FILE *mw_file_open_private(const char *path, const char *mode, struct mw_error *err)
{
    struct stat st;
    FILE *fp;
    int flags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
    if (strcmp(mode, "r") == 0)
        flags |= O_RDONLY;
    else if (strcmp(mode, "a") == 0)
        flags |= O_WRONLY | O_APPEND | O_CREAT;
    else if (strcmp(mode, "a+") == 0)
        flags |= O_RDWR | O_APPEND | O_CREAT;
    else {
        mw_error_set(err, "%s: bad mode %s", path, mode);
        errno = EINVAL;
        return NULL;
    }
    int fd = open(path, flags, 0600);
    if (fd < 0) {
        open_error(path, flags, err);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        mw_error_set(err, "%s: not a regular file", path);
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    /* blocking again: only the open had to be (a FIFO is refused above) */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    fp = fdopen(fd, mode);
    if (fp == NULL) {
        mw_error_set(err, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return fp;
}

int mw_dir_private(const char *dir, const char *what, struct mw_error *err)
{
    struct stat st;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return mw_error_set(err, "%s %s: %s", what, dir, strerror(errno));
    if (stat(dir, &st) != 0)
        return mw_error_set(err, "%s %s: %s", what, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return mw_error_set(err, "%s %s: not a folder", what, dir);
    if (st.st_uid != geteuid())
        return mw_error_set(
            err,
            "%s %s: owned by uid %ld, not by this user (uid %ld); refusing "
            "to keep state where another user can replace it",
            what, dir, (long)st.st_uid, (long)geteuid());
    if (st.st_mode & (S_IWGRP | S_IWOTH))
        return mw_error_set(err,
                            "%s %s: writable by %s (mode %04o); refusing to keep state "
                            "where others can plant files: chmod go-w it",
                            what, dir, (st.st_mode & S_IWOTH) ? "everyone" : "its group",
                            (unsigned)(st.st_mode & 07777));
    return 0;
}
