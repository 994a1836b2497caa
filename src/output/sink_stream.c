/* sink_stream.c - the synchronous sinks: "stdout" (also "-") and
 * "file:PATH", one alert per line
 *
 * Each alert line goes out in a single write(2) after what stdio holds, so
 * a process killed at any point leaves whole lines only. A file is opened
 * for append and reopened before the next write after SIGHUP (the reopen
 * generation in env) or when it was moved or deleted, so logrotate works.
 * Opening locks a regular file (flock, for the sink's lifetime; refused
 * when another process holds the lock) and then cuts off a partial last
 * line a killed run left; last_id reads
 * the id of the last whole line, so a resumed run can recover an alert it
 * wrote but did not record.
 */
#include "mw_log.h"
#include "mw_sink.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct stream {
    char *spec; /* owned, for messages */
    FILE *fp;   /* owned unless it is stdout */
    char *path; /* owned, files only */
    dev_t dev;  /* of the open file */
    ino_t ino;
    sig_atomic_t gen;                        /* reopen generation seen */
    const volatile sig_atomic_t *reopen_gen; /* borrowed, NULL for stdout */
    uint64_t written, failed;                /* failed: lost (the write failed) */
    struct mw_log_limit write_errors;        /* one error line per interval */
};

/* ---------------------------------------------------------------------- */
/* files                                                                   */

/* The start of the last line of fd (size bytes): just after the newline
 * before the final one; 0 when there is none. -1 on a read error. */
static off_t last_line_start(int fd, off_t size)
{
    char buf[4096];
    off_t at = size - 1;
    while (at > 0) {
        off_t from = at > (off_t)sizeof(buf) ? at - (off_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(at - from), from);
        if (n <= 0)
            return -1;
        ssize_t k = n;
        while (k > 0 && buf[k - 1] != '\n')
            k--;
        if (k > 0)
            return from + k;
        at = from;
    }
    return 0;
}

/* The id of a file's last alert line (empty when none). */
static int stream_last_id(void *sink, char out[33])
{
    struct stream *s = sink;
    struct stat sb;
    static const char key[] = "\"kind\":\"alert\",\"id\":\"";
    char buf[301]; /* the id sits in the first 300 bytes of an alert line */
    off_t at;
    ssize_t n;
    out[0] = '\0';
    if (s->fp == NULL || s->path == NULL)
        return 0;
    int fd = fileno(s->fp);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 2)
        return 0;
    if ((at = last_line_start(fd, sb.st_size)) < 0)
        return 0;
    if ((n = pread(fd, buf, sizeof(buf) - 1, at)) <= 0)
        return 0;
    buf[n] = '\0';
    char *id = strstr(buf, key);
    if (id == NULL || strlen(id) < sizeof(key) - 1 + 32)
        return 0;
    memcpy(out, id + sizeof(key) - 1, 32);
    out[32] = '\0';
    return 1;
}

/* A process killed in the middle of write(2) can leave a partial last line
 * (the kernel stops a large write between pages for a fatal signal). Cuts
 * it off, so the file holds whole alerts only. The id of that alert was not
 * recorded yet (mw_shape records it after the write), so the resumed run
 * that raises it again delivers it again. */
static void repair_tail(struct stream *s, int fd)
{
    struct stat sb;
    char c;
    off_t end, at;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
        return;
    end = sb.st_size;
    if (pread(fd, &c, 1, end - 1) != 1 || c == '\n')
        return;
    if ((at = last_line_start(fd, end + 1)) < 0)
        return;
    if (ftruncate(fd, at) != 0) {
        mw_log_error("output %s: cannot cut off a partial last line: %s", s->spec,
                     strerror(errno));
        return;
    }
    mw_log_warn(
        "output %s: cut off the partial last line a killed run left (%lld bytes); "
        "that alert is delivered again when the stream raises it again",
        s->spec, (long long)(end - at));
}

/* Opens (or reopens) s->path. A regular file is locked (flock, exclusive)
 * for as long as the sink holds it: the partial last line is cut off only
 * under that lock, so a line another moonwatch is still writing is never
 * truncated; when the lock is held elsewhere the open fails instead. */
static int file_open(struct stream *s, struct mw_error *err)
{
    struct stat sb;
    FILE *fp = fopen(s->path, "a+"); /* readable: repair_tail, last_id */
    if (fp == NULL)
        return mw_error_set(err, "output %s: %s", s->spec, strerror(errno));
    bool same = s->fp && fstat(fileno(fp), &sb) == 0 && sb.st_dev == s->dev &&
                sb.st_ino == s->ino;
    if (same) /* reopening the file we hold (SIGHUP): hand the lock over */
        flock(fileno(s->fp), LOCK_UN);
    if (fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode) &&
        flock(fileno(fp), LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        fclose(fp);
        if (same && flock(fileno(s->fp), LOCK_EX | LOCK_NB) != 0)
            mw_log_error("output %s: lost the lock of its file", s->spec);
        if (e == EWOULDBLOCK)
            return mw_error_set(err,
                                "output %s: the file is locked by another process "
                                "(another moonwatch writing it?); refusing to use it "
                                "rather than cut off a line it may be writing",
                                s->spec);
        return mw_error_set(err, "output %s: cannot lock the file: %s", s->spec,
                            strerror(e));
    }
    repair_tail(s, fileno(fp));
    if (s->fp)
        fclose(s->fp);
    s->fp = fp;
    if (fstat(fileno(fp), &sb) == 0) {
        s->dev = sb.st_dev;
        s->ino = sb.st_ino;
    }
    s->gen = *s->reopen_gen;
    return 0;
}

/* Reopens when SIGHUP asked for it or the file was moved or deleted. */
static void file_check(struct stream *s)
{
    struct stat sb;
    struct mw_error err;
    if (s->gen == *s->reopen_gen && stat(s->path, &sb) == 0 && sb.st_dev == s->dev &&
        sb.st_ino == s->ino)
        return;
    if (file_open(s, &err) < 0)
        mw_log_error("%s (keeping the old file)", err.msg);
    else
        mw_log_info("output %s: reopened", s->spec);
}

/* ---------------------------------------------------------------------- */
/* ops                                                                     */

static void stream_close(void *sink)
{
    struct stream *s = sink;
    if (s == NULL)
        return;
    if (s->fp == stdout)
        fflush(stdout);
    else if (s->fp)
        fclose(s->fp);
    free(s->path);
    free(s->spec);
    free(s);
}

static void *stdout_open(const char *rest, const struct mw_sink_env *env,
                         struct mw_error *err)
{
    struct stream *s;
    if (rest[0] != '\0') {
        mw_error_set(err, "output %s: stdout takes no argument", env->spec);
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->spec = xstrdup(env->spec);
    s->fp = stdout;
    return s;
}

static void *file_sink_open(const char *rest, const struct mw_sink_env *env,
                            struct mw_error *err)
{
    struct stream *s;
    if (rest[0] == '\0') {
        mw_error_set(err, "output %s: expected file:PATH", env->spec);
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->spec = xstrdup(env->spec);
    s->path = xstrdup(rest);
    s->reopen_gen = env->reopen_gen;
    if (file_open(s, err) < 0) {
        stream_close(s);
        return NULL;
    }
    return s;
}

/* One alert line in a single write(2) after what stdio holds, so a process
 * killed at any point leaves whole lines only (a restart then neither
 * repeats nor half-writes an alert). A write that fails part-way (disk
 * full, file size limit) is cut off again in a regular file, for the same
 * reason. Returns 0, or -1 with errno set. */
static int write_line(FILE *fp, const char *line, size_t len)
{
    char *buf = xmalloc(len + 1);
    int fd = fileno(fp), e = 0;
    struct stat sb;
    off_t before = -1;
    size_t off = 0;
    memcpy(buf, line, len);
    buf[len++] = '\n';
    if (fflush(fp) == EOF)
        e = errno ? errno : EIO;
    if (e == 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
        before = sb.st_size;
    while (e == 0 && off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            e = n < 0 ? errno : EIO;
        else
            off += (size_t)n;
    }
    free(buf);
    if (e == 0)
        return 0;
    if (off > 0 && before >= 0 && ftruncate(fd, before) != 0)
        (void)0; /* repair_tail cuts it at the next start */
    errno = e;
    return -1;
}

static int stream_write(void *sink, const char *line, size_t len, const char *id)
{
    struct stream *s = sink;
    (void)id;
    if (s->path)
        file_check(s);
    if (write_line(s->fp, line, len) < 0) {
        s->failed++;
        mw_log_limited(&s->write_errors, MW_LOG_ERROR,
                       "output %s: write failed: %s (alert lost; %llu lost so far)",
                       s->spec, strerror(errno), (unsigned long long)s->failed);
        return -1;
    }
    s->written++;
    return 0;
}

static void stream_drain(void *sink)
{
    struct stream *s = sink;
    fflush(s->fp);
}

static void stream_stats(const void *sink, json_t *o)
{
    const struct stream *s = sink;
    json_object_set_new(o, "delivered", json_integer((json_int_t)s->written));
    json_object_set_new(o, "retried", json_integer(0));
    json_object_set_new(o, "spooled", json_integer(0));
    json_object_set_new(o, "failed", json_integer((json_int_t)s->failed));
    json_object_set_new(o, "lost", json_integer((json_int_t)s->failed));
    json_object_set_new(o, "spool_pending", json_integer(0));
}

const struct mw_sink_ops mw_sink_stdout = {
    .scheme = "stdout",
    .open = stdout_open,
    .write = stream_write,
    .drain_begin = NULL,
    .drain = stream_drain,
    .stats = stream_stats,
    .last_id = NULL,
    .close = stream_close,
};

const struct mw_sink_ops mw_sink_file = {
    .scheme = "file",
    .open = file_sink_open,
    .write = stream_write,
    .drain_begin = NULL,
    .drain = stream_drain,
    .stats = stream_stats,
    .last_id = stream_last_id,
    .close = stream_close,
};
