/* mw_input.c - NDJSON framing with a line-length limit, and line parsing
 *
 * The buffer grows up to max_line + 1 bytes. When it is full and holds no
 * newline, the input enters discard mode: bytes are dropped until the next
 * newline, and the line is reported once as MW_LINE_TOO_LONG. Memory per
 * input is therefore bounded by the limit, whatever the input holds.
 */
#include "mw_input.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_tail.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (64 * 1024)

struct mw_input {
    char *name; /* owned */
    int fd;
    bool owns_fd;
    size_t max_line;
    char *buf;              /* owned */
    size_t cap, start, end; /* live bytes are buf[start..end) */
    bool eof;
    bool follow;      /* end of data is "nothing yet", not the end */
    bool regular;     /* a regular file (else pipe, tty, socket) */
    bool discarding;  /* inside an over-long line */
    size_t discarded; /* bytes of the over-long line so far */
    uint64_t lineno;  /* number of the last line handed out */
    uint64_t offset;  /* file offset of buf[start] */
    uint64_t discard_offset;
    struct mw_input_stats stats;
    struct mw_tail *tail; /* owned: follow mode on a named regular file */
    int rotate_wait_ms;
    bool switching;    /* at the end of this file, read next_fd */
    uint64_t file_gen; /* files switched to so far */
    int next_fd;       /* owned while switching; -1: release */
    uint64_t next_off;
    gzFile gz;         /* owned, for *.gz inputs; owns fd then */
    uint64_t raw_read; /* bytes read from the file (compressed for .gz) */
};

static const char *const reject_names[MW_REJECT__COUNT] = {
    [MW_REJECT_NONE] = "none",
    [MW_REJECT_MALFORMED_JSON] = "malformed_json",
    [MW_REJECT_NOT_OBJECT] = "not_object",
    [MW_REJECT_MISSING_TIMESTAMP] = "missing_timestamp",
    [MW_REJECT_BAD_TIMESTAMP] = "bad_timestamp",
    [MW_REJECT_INVALID_UTF8] = "invalid_utf8",
    [MW_REJECT_TOO_LONG] = "too_long",
    [MW_REJECT_DUPLICATE_KEY] = "duplicate_key",
    [MW_REJECT_FUTURE_TIMESTAMP] = "future_timestamp",
    [MW_REJECT_TOO_LATE] = "too_late",
    [MW_REJECT_NUMBER_RANGE] = "number_out_of_range",
    [MW_REJECT_TOO_DEEP] = "too_deep",
};

const char *mw_reject_name(enum mw_reject r)
{
    if ((int)r < 0 || r >= MW_REJECT__COUNT)
        return "unknown";
    return reject_names[r];
}

struct mw_input *mw_input_open(const char *path, size_t max_line, struct mw_error *err)
{
    struct mw_input *in;
    int fd;

    if (strcmp(path, "-") == 0) {
        fd = STDIN_FILENO;
    } else {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            mw_error_set(err, "%s: %s", path, strerror(errno));
            return NULL;
        }
    }
    in = xcalloc(1, sizeof(*in));
    in->name = xstrdup(strcmp(path, "-") == 0 ? "<stdin>" : path);
    in->fd = fd;
    in->owns_fd = fd != STDIN_FILENO;
    in->max_line = max_line ? max_line : MW_DEFAULT_MAX_LINE;
    in->cap = in->max_line + 1 < CHUNK ? in->max_line + 1 : CHUNK;
    in->buf = xmalloc(in->cap);
    struct stat sb;
    in->regular = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    size_t plen = strlen(path);
    if (in->owns_fd && plen > 3 && strcmp(path + plen - 3, ".gz") == 0) {
        in->gz = gzdopen(fd, "rb");
        if (in->gz == NULL) {
            mw_error_set(err, "%s: cannot open as gzip", path);
            mw_input_close(in);
            return NULL;
        }
        gzbuffer(in->gz, 128 * 1024);
    }
    return in;
}

void mw_input_close(struct mw_input *in)
{
    if (in == NULL)
        return;
    if (in->gz)
        gzclose(in->gz);
    else if (in->owns_fd && in->fd >= 0)
        close(in->fd);
    if (in->switching && in->next_fd >= 0)
        close(in->next_fd);
    mw_tail_free(in->tail);
    free(in->buf);
    free(in->name);
    free(in);
}

const char *mw_input_name(const struct mw_input *in)
{
    return in->name;
}

struct mw_input_stats *mw_input_stats(struct mw_input *in)
{
    return &in->stats;
}

void mw_input_set_follow(struct mw_input *in, bool follow)
{
    in->follow = follow;
    if (follow && in->regular && in->owns_fd && in->tail == NULL)
        in->tail = mw_tail_new(in->name, in->fd, in->rotate_wait_ms);
}

uint64_t mw_input_file_gen(const struct mw_input *in)
{
    return in->file_gen;
}

void mw_input_set_rotate_wait(struct mw_input *in, int ms)
{
    in->rotate_wait_ms = ms;
}

/* Acts on what the tail saw (follow mode, before a read). Returns 0 to
 * read on, -2 when there is nothing to read (released), -3 when the
 * current file ended (a switch is pending). */
static int tail_step(struct mw_input *in)
{
    int nfd = -1;
    uint64_t noff = 0;
    uint64_t pos = in->offset + (in->end - in->start);
    enum mw_tail_action act =
        mw_tail_check(in->tail, in->fd, pos, in->fd < 0, &nfd, &noff);

    switch (act) {
    case MW_TAIL_NONE:
        break;
    case MW_TAIL_CONTINUE:
        close(in->fd);
        in->fd = nfd;
        if (lseek(nfd, (off_t)noff, SEEK_SET) < 0)
            mw_log_error("%s: seek: %s", in->name, strerror(errno));
        break;
    case MW_TAIL_RESTART:
        in->file_gen++;
        lseek(in->fd, 0, SEEK_SET);
        in->start = in->end = 0;
        in->offset = 0;
        in->lineno = 0;
        in->discarding = false;
        break;
    case MW_TAIL_SWITCH:
        if (in->fd < 0) { /* released, and the path is back */
            in->file_gen++;
            in->fd = nfd;
            in->offset = noff;
            in->lineno = 0;
            break;
        }
        in->switching = true;
        in->next_fd = nfd;
        in->next_off = noff;
        return -3;
    }
    return in->fd < 0 ? -2 : 0;
}

/* The pending switch: the old file is done, read the next one (or none). */
static void do_switch(struct mw_input *in)
{
    in->file_gen++;
    close(in->fd);
    in->fd = in->next_fd;
    in->next_fd = -1;
    in->switching = false;
    in->offset = in->next_off;
    in->lineno = 0;
    in->eof = false;
    in->start = in->end = 0;
    if (in->fd >= 0 && lseek(in->fd, (off_t)in->offset, SEEK_SET) < 0)
        mw_log_error("%s: seek: %s", in->name, strerror(errno));
}

int mw_input_fd(const struct mw_input *in)
{
    return in->fd;
}

bool mw_input_is_regular(const struct mw_input *in)
{
    return in->regular;
}

int mw_input_position(struct mw_input *in, struct mw_tail_pos *pos)
{
    uint64_t off = in->discarding ? in->discard_offset : in->offset;
    uint64_t line = in->lineno;
    if (!in->regular || !in->owns_fd || in->fd < 0)
        return -1;
    return mw_tail_position(in->tail, in->fd, off, line, pos);
}

void mw_input_resume(struct mw_input *in, const struct mw_tail_pos *pos)
{
    char msg[300];
    int nfd;
    uint64_t off, line;
    if (!in->regular || !in->owns_fd || in->fd < 0)
        return;
    if (in->tail == NULL) /* not followed: the same identity rules */
        in->tail = mw_tail_new(in->name, in->fd, in->rotate_wait_ms);
    mw_tail_resume(in->tail, in->fd, pos, &nfd, &off, &line, msg, sizeof(msg));
    if (nfd != in->fd) {
        close(in->fd);
        in->fd = nfd;
    }
    if (lseek(in->fd, (off_t)off, SEEK_SET) < 0) {
        mw_log_error("%s: seek to %llu: %s", in->name, (unsigned long long)off,
                     strerror(errno));
        off = line = 0;
        lseek(in->fd, 0, SEEK_SET);
    }
    in->offset = off;
    in->lineno = line;
    in->start = in->end = 0;
    mw_log_info("%s: %s", in->name, msg);
}

/* Reads more bytes into the buffer, compacting or growing it first.
 * Returns bytes read, 0 at EOF, -1 on error, -2 when a followed pipe has
 * nothing to read now. */
static ssize_t fill(struct mw_input *in, struct mw_error *err)
{
    if (in->start > 0) {
        memmove(in->buf, in->buf + in->start, in->end - in->start);
        in->end -= in->start;
        in->start = 0;
    }
    if (in->end == in->cap) {
        size_t limit = in->max_line + 1;
        size_t ncap = in->cap * 2 < limit ? in->cap * 2 : limit;
        in->buf = xrealloc(in->buf, ncap);
        in->cap = ncap;
    }
    if (in->gz) {
        int n = gzread(in->gz, in->buf + in->end, (unsigned)(in->cap - in->end));
        if (n < 0) {
            int zerr;
            const char *msg = gzerror(in->gz, &zerr);
            mw_error_set(err, "%s: gzip: %s", in->name,
                         zerr == Z_ERRNO ? strerror(errno) : msg);
            return -1;
        }
        if (n == 0) {
            int zerr;
            const char *msg = gzerror(in->gz, &zerr);
            if (zerr != Z_OK) { /* Z_BUF_ERROR: truncated stream */
                mw_error_set(err, "%s: gzip: %s", in->name, msg);
                return -1;
            }
        }
        in->end += (size_t)n;
        in->raw_read = (uint64_t)gzoffset(in->gz);
        return n;
    }
    if (in->follow && in->tail) {
        int t = tail_step(in);
        if (t < 0)
            return t;
    }
    if (in->fd < 0)
        return in->follow ? -2 : 0;
    if (in->follow && !in->regular) {
        /* a pipe or terminal: only read what is there, never block */
        struct pollfd p = {in->fd, POLLIN, 0};
        int r;
        while ((r = poll(&p, 1, 0)) < 0 && errno == EINTR)
            ;
        if (r == 0)
            return -2;
    }
    for (;;) {
        ssize_t n = read(in->fd, in->buf + in->end, in->cap - in->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            mw_error_set(err, "%s: read: %s", in->name, strerror(errno));
            return -1;
        }
        in->end += (size_t)n;
        in->raw_read += (uint64_t)n;
        return n;
    }
}

uint64_t mw_input_bytes_read(const struct mw_input *in)
{
    return in->raw_read;
}

enum mw_line_status mw_input_next_line(struct mw_input *in, const char **line,
                                       size_t *len, uint64_t *lineno, uint64_t *offset,
                                       struct mw_error *err)
{
    for (;;) {
        char *nl = memchr(in->buf + in->start, '\n', in->end - in->start);
        if (in->discarding) {
            if (nl != NULL) {
                size_t n = (size_t)(nl - (in->buf + in->start));
                in->discarded += n;
                in->offset += n + 1;
                in->start += n + 1;
                in->discarding = false;
                *len = in->discarded;
                *line = NULL;
                *lineno = ++in->lineno;
                *offset = in->discard_offset;
                return MW_LINE_TOO_LONG;
            }
            in->discarded += in->end - in->start;
            in->offset += in->end - in->start;
            in->start = in->end = 0;
        } else if (nl != NULL) {
            size_t n = (size_t)(nl - (in->buf + in->start));
            *line = in->buf + in->start;
            *len = n;
            *lineno = ++in->lineno;
            *offset = in->offset;
            in->offset += n + 1;
            in->start += n + 1;
            if (n > in->max_line)
                return MW_LINE_TOO_LONG; /* cannot happen: cap bounds n */
            return MW_LINE_OK;
        } else if (in->end - in->start > in->max_line) {
            /* full line-limit of bytes and no newline: skip the rest */
            in->discarding = true;
            in->discard_offset = in->offset;
            in->discarded = in->end - in->start;
            in->offset += in->end - in->start;
            in->start = in->end = 0;
        }

        if (in->eof) {
            if (in->discarding) {
                in->discarding = false;
                *len = in->discarded;
                *line = NULL;
                *lineno = ++in->lineno;
                *offset = in->discard_offset;
                return MW_LINE_TOO_LONG;
            }
            if (in->end > in->start) {
                /* last line without a newline */
                size_t n = in->end - in->start;
                *line = in->buf + in->start;
                *len = n;
                *lineno = ++in->lineno;
                *offset = in->offset;
                in->offset += n;
                in->start = in->end;
                return MW_LINE_OK;
            }
            if (in->switching) {
                do_switch(in);
                if (in->fd < 0)
                    return MW_LINE_AGAIN;
                continue;
            }
            return MW_LINE_EOF;
        }
        ssize_t got = fill(in, err);
        if (got == -3) {
            in->eof = true; /* this file is over: its last line, then the next */
            continue;
        }
        if (got == -2)
            return MW_LINE_AGAIN;
        if (got < 0)
            return MW_LINE_ERROR;
        if (got == 0 && in->follow && in->regular)
            return MW_LINE_AGAIN; /* a partial last line waits for its newline */
        if (got == 0)
            in->eof = true;
    }
}

bool mw_line_is_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return false;
    }
    return true;
}

static enum mw_reject classify(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_invalid_utf8:
        return MW_REJECT_INVALID_UTF8;
    case json_error_duplicate_key:
        return MW_REJECT_DUPLICATE_KEY;
    case json_error_numeric_overflow:
        return MW_REJECT_NUMBER_RANGE;
    case json_error_stack_overflow:
        return MW_REJECT_TOO_DEEP;
    default:
        return MW_REJECT_MALFORMED_JSON;
    }
}

struct mw_event *mw_ingest_parse(const char *line, size_t len,
                                 const struct mw_path *ts_path, const char *input,
                                 uint64_t lineno, uint64_t offset, uint64_t seq,
                                 enum mw_reject *reason, struct mw_error *err)
{
    json_error_t jerr;
    json_t *root;
    json_t *tsv;
    mw_time_t ts;

    /* a CRLF line ending is framing, not content; a UTF-8 byte order mark
     * before the value (Windows exports) is framing too (RFC 8259 section
     * 8.1 lets a parser ignore it) */
    mw_ingest_trim(&line, &len);
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        *reason = classify(&jerr);
        mw_error_set(err, "%s (column %d)", jerr.text, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        *reason = MW_REJECT_NOT_OBJECT;
        mw_error_set(err, "top-level value is not an object");
        goto fail;
    }
    tsv = mw_path_get(root, ts_path);
    if (mw_value_is_null(tsv)) {
        *reason = MW_REJECT_MISSING_TIMESTAMP;
        mw_error_set(err, "no timestamp field '%s'", mw_path_str(ts_path));
        goto fail;
    }
    if (mw_time_from_json(tsv, &ts) < 0) {
        *reason = MW_REJECT_BAD_TIMESTAMP;
        if (json_is_string(tsv))
            mw_error_set(err, "cannot parse timestamp '%.64s' in '%s'",
                         json_string_value(tsv), mw_path_str(ts_path));
        else
            mw_error_set(err,
                         "timestamp field '%s' is neither an RFC 3339 "
                         "string nor epoch milliseconds",
                         mw_path_str(ts_path));
        goto fail;
    }
    *reason = MW_REJECT_NONE;
    struct mw_event *ev = mw_event_new(root, ts, input, lineno, offset, seq);
    ev->bytes = len; /* for the state byte budgets (mw_detector.h) */
    return ev;

fail:
    json_decref(root);
    return NULL;
}
