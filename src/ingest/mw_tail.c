/* mw_tail.c - following one file path across rotation, truncation and deletion
 *
 * State: the identity (dev, ino) of the file the input reads and up to
 * MW_TAIL_FP_MAX of its first bytes (kept in memory, grown as the file
 * grows, so a copytruncate is seen as soon as the path's first bytes
 * differ). `rotated` means the input reads a file that is no longer the
 * path's (renamed away, or the copy left by copytruncate): once it is
 * drained (its size reached) and quiet for the rotate wait (a copy: at
 * once), the path is opened and read from 0. Progress is measured by the
 * position the input reports; "quiet" is no progress for rotate_wait.
 */
#include "mw_tail.h"
#include "mw_clock.h"
#include "mw_log.h"
#include "mw_sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mw_tail {
    char *path; /* owned */
    int rotate_wait_ms;
    uint64_t dev, ino; /* the file being read */
    unsigned char fp[MW_TAIL_FP_MAX];
    size_t fp_len;
    bool rotated;  /* reading a file that left the path */
    bool is_copy;  /* ... the copy of a copytruncate */
    bool released; /* deleted: closed, waiting for the path */
    uint64_t last_pos;
    int64_t last_progress; /* monotonic ms */
    int64_t last_check;
};

static ssize_t pread_full(int fd, void *buf, size_t len, off_t off)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -1 : (ssize_t)got;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* Takes fd's identity and first bytes as the file being read. */
static void identify(struct mw_tail *t, int fd)
{
    struct stat sb;
    t->fp_len = 0;
    if (fd < 0 || fstat(fd, &sb) != 0)
        return;
    t->dev = (uint64_t)sb.st_dev;
    t->ino = (uint64_t)sb.st_ino;
    ssize_t n = pread_full(fd, t->fp, MW_TAIL_FP_MAX, 0);
    t->fp_len = n > 0 ? (size_t)n : 0;
}

struct mw_tail *mw_tail_new(const char *path, int fd, int rotate_wait_ms)
{
    struct mw_tail *t = xcalloc(1, sizeof(*t));
    t->path = xstrdup(path);
    t->rotate_wait_ms =
        rotate_wait_ms > 0 ? rotate_wait_ms : MW_TAIL_DEFAULT_ROTATE_WAIT_MS;
    t->last_progress = t->last_check = mw_mono_ms();
    identify(t, fd);
    return t;
}

void mw_tail_free(struct mw_tail *t)
{
    if (t == NULL)
        return;
    free(t->path);
    free(t);
}

/* True when fd still starts with the recorded first bytes; grows the
 * record when the file has grown past it. */
static bool same_start(struct mw_tail *t, int fd, off_t size)
{
    unsigned char buf[MW_TAIL_FP_MAX];
    size_t want = size < (off_t)MW_TAIL_FP_MAX ? (size_t)size : MW_TAIL_FP_MAX;
    if (want < t->fp_len)
        return false; /* shorter than what we saw */
    ssize_t n = pread_full(fd, buf, want, 0);
    if (n < (ssize_t)t->fp_len || memcmp(buf, t->fp, t->fp_len) != 0)
        return false;
    if ((size_t)n > t->fp_len) {
        memcpy(t->fp, buf, (size_t)n);
        t->fp_len = (size_t)n;
    }
    return true;
}

static void split_path(const char *path, char *dir, size_t dsize, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, dsize, ".");
        *base = path;
    } else if (slash == path) {
        snprintf(dir, dsize, "/");
        *base = slash + 1;
    } else {
        snprintf(dir, dsize, "%.*s", (int)(slash - path), path);
        *base = slash + 1;
    }
}

/* A file beside the path (not the path itself) that starts with the given
 * bytes (or, when hex is set, whose first fp_len bytes hash to it), has at
 * least min_size bytes and, when ino is non-zero, prefers that inode.
 * Returns an open descriptor or -1. */
static int find_sibling(const char *path, const unsigned char *fp, size_t fp_len,
                        const char *hex, uint64_t dev, uint64_t ino, uint64_t min_size)
{
    char dir[4096], child[8192];
    const char *base;
    DIR *d;
    struct dirent *de;
    int best = -1;
    bool best_ino = false;
    struct timespec best_mtime = {0, 0};

    split_path(path, dir, sizeof(dir), &base);
    if ((d = opendir(dir)) == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        unsigned char buf[MW_TAIL_FP_MAX];
        if (strcmp(de->d_name, base) == 0 || strcmp(de->d_name, ".") == 0 ||
            strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(child, sizeof(child), "%s/%s", dir, de->d_name);
        if (stat(child, &sb) != 0 || !S_ISREG(sb.st_mode) ||
            (uint64_t)sb.st_size < min_size)
            continue;
        bool by_ino =
            ino != 0 && (uint64_t)sb.st_dev == dev && (uint64_t)sb.st_ino == ino;
        int fd = open(child, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = pread_full(fd, buf, fp_len, 0);
        bool match = n == (ssize_t)fp_len;
        if (match && hex) {
            char h[65];
            mw_sha256_hex(buf, fp_len, h);
            match = strcmp(h, hex) == 0;
        } else if (match) {
            match = memcmp(buf, fp, fp_len) == 0;
        }
        bool better =
            match &&
            (best < 0 || (by_ino && !best_ino) ||
             (by_ino == best_ino && (sb.st_mtim.tv_sec > best_mtime.tv_sec ||
                                     (sb.st_mtim.tv_sec == best_mtime.tv_sec &&
                                      sb.st_mtim.tv_nsec > best_mtime.tv_nsec))));
        if (better) {
            if (best >= 0)
                close(best);
            best = fd;
            best_ino = by_ino;
            best_mtime = sb.st_mtim;
        } else {
            close(fd);
        }
    }
    closedir(d);
    return best;
}

/* The rotated file is done: open the path (or release when it is gone). */
static enum mw_tail_action to_path(struct mw_tail *t, int *nfd, uint64_t *noff)
{
    int fd = open(t->path, O_RDONLY | O_CLOEXEC);
    t->rotated = t->is_copy = false;
    *noff = 0;
    *nfd = fd;
    if (fd < 0) {
        t->released = true;
        mw_log_info("%s: rotated file read to its end; waiting for %s to appear", t->path,
                    t->path);
        return MW_TAIL_SWITCH; /* to -1: released */
    }
    identify(t, fd);
    mw_log_info("%s: rotated file read to its end; reading the new file from the start",
                t->path);
    return MW_TAIL_SWITCH;
}

enum mw_tail_action mw_tail_check(struct mw_tail *t, int fd, uint64_t pos, bool force,
                                  int *nfd, uint64_t *noff)
{
    int64_t now = mw_mono_ms();
    struct stat cur, at;

    if (!force && now - t->last_check < MW_TAIL_CHECK_MS)
        return MW_TAIL_NONE;
    t->last_check = now;
    if (pos != t->last_pos) {
        t->last_pos = pos;
        t->last_progress = now;
    }
    if (t->released || fd < 0) {
        if (stat(t->path, &at) != 0 || !S_ISREG(at.st_mode))
            return MW_TAIL_NONE;
        int f = open(t->path, O_RDONLY | O_CLOEXEC);
        if (f < 0)
            return MW_TAIL_NONE;
        t->released = false;
        identify(t, f);
        mw_log_info("%s: appeared again; reading it from the start", t->path);
        *nfd = f;
        *noff = 0;
        return MW_TAIL_SWITCH;
    }
    if (fstat(fd, &cur) != 0)
        return MW_TAIL_NONE;
    bool drained = (uint64_t)cur.st_size <= pos;
    bool quiet = drained && now - t->last_progress >= t->rotate_wait_ms;
    if (t->rotated) {
        if ((t->is_copy && drained) || quiet)
            return to_path(t, nfd, noff);
        return MW_TAIL_NONE;
    }
    int r = stat(t->path, &at);
    if (r != 0 || (uint64_t)at.st_dev != t->dev || (uint64_t)at.st_ino != t->ino) {
        /* the file we read left the path: renamed away or deleted */
        if (r != 0 && cur.st_nlink == 0) {
            if (!quiet)
                return MW_TAIL_NONE;
            t->released = true;
            mw_log_info("%s: deleted; released after reading it to its end", t->path);
            *nfd = -1;
            *noff = 0;
            return MW_TAIL_SWITCH;
        }
        if (r == 0) {
            t->rotated = true;
            mw_log_info("%s: rotated (a new file is at the path); reading the old one "
                        "until it has been quiet for %d ms",
                        t->path, t->rotate_wait_ms);
            if (quiet)
                return to_path(t, nfd, noff);
        }
        return MW_TAIL_NONE; /* renamed, nothing at the path yet: read on */
    }
    if ((uint64_t)cur.st_size < pos || !same_start(t, fd, cur.st_size)) {
        /* same file, other content: truncated in place (copytruncate) */
        int c =
            t->fp_len > 0 ? find_sibling(t->path, t->fp, t->fp_len, NULL, 0, 0, pos) : -1;
        if (c >= 0) {
            struct stat cs;
            fstat(c, &cs);
            t->dev = (uint64_t)cs.st_dev;
            t->ino = (uint64_t)cs.st_ino;
            t->rotated = t->is_copy = true;
            mw_log_info(
                "%s: truncated (copytruncate); finishing its copy from offset %llu",
                t->path, (unsigned long long)pos);
            *nfd = c;
            *noff = pos;
            return MW_TAIL_CONTINUE;
        }
        mw_log_warn("%s: truncated and no copy of it found beside it; reading it from "
                    "the start (the unread end of the old content is lost)",
                    t->path);
        identify(t, fd);
        t->fp_len = 0;
        return MW_TAIL_RESTART;
    }
    return MW_TAIL_NONE;
}

int mw_tail_position(struct mw_tail *t, int fd, uint64_t offset, uint64_t lineno,
                     struct mw_tail_pos *pos)
{
    struct stat sb;
    memset(pos, 0, sizeof(*pos));
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return -1;
    pos->dev = (uint64_t)sb.st_dev;
    pos->ino = (uint64_t)sb.st_ino;
    pos->offset = offset;
    pos->lineno = lineno;
    if (t && t->dev == pos->dev && t->ino == pos->ino) {
        same_start(t, fd, sb.st_size); /* grows the record */
        pos->fp_len = t->fp_len;
        mw_sha256_hex(t->fp, t->fp_len, pos->fp);
    } else {
        unsigned char buf[MW_TAIL_FP_MAX];
        ssize_t n = pread_full(fd, buf, MW_TAIL_FP_MAX, 0);
        pos->fp_len = n > 0 ? (size_t)n : 0;
        mw_sha256_hex(buf, pos->fp_len, pos->fp);
    }
    return 0;
}

int mw_tail_resume(struct mw_tail *t, int fd, const struct mw_tail_pos *pos, int *nfd,
                   uint64_t *noff, uint64_t *nline, char *msg, size_t msgsize)
{
    struct stat sb;
    unsigned char buf[MW_TAIL_FP_MAX];
    char hex[65];

    *nfd = fd;
    *noff = 0;
    *nline = 0;
    if (pos->fp_len > MW_TAIL_FP_MAX) {
        snprintf(msg, msgsize, "recorded fingerprint too long; reading from the start");
        return 0;
    }
    if (fstat(fd, &sb) == 0 && (uint64_t)sb.st_size >= pos->offset &&
        (uint64_t)sb.st_dev == pos->dev && (uint64_t)sb.st_ino == pos->ino &&
        pread_full(fd, buf, pos->fp_len, 0) == (ssize_t)pos->fp_len) {
        mw_sha256_hex(buf, pos->fp_len, hex);
        if (strcmp(hex, pos->fp) == 0) {
            *noff = pos->offset;
            *nline = pos->lineno;
            snprintf(msg, msgsize, "resuming at offset %llu (line %llu)",
                     (unsigned long long)pos->offset,
                     (unsigned long long)pos->lineno + 1);
            if (t)
                identify(t, fd);
            return 0;
        }
    }
    /* another file is at the path now: the one we read may sit beside it */
    int c = find_sibling(t ? t->path : "", NULL, pos->fp_len, pos->fp, pos->dev, pos->ino,
                         pos->offset);
    if (c >= 0) {
        *nfd = c;
        *noff = pos->offset;
        *nline = pos->lineno;
        snprintf(
            msg, msgsize,
            "the file read before the restart was rotated away; "
            "finishing it from offset %llu, then reading the new file from the start",
            (unsigned long long)pos->offset);
        if (t) {
            identify(t, c);
            t->rotated = true;
            t->is_copy = false;
        }
        return 0;
    }
    snprintf(msg, msgsize,
             "not the file read before the restart (identity or first "
             "bytes changed) and no rotated copy found: reading it from the start");
    if (t)
        identify(t, fd);
    return 0;
}
