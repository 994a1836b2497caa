/* mw_source.h - one input kind: where lines come from ("file" today,
 * "kafka" later)
 *
 * An input is named by a spec string: "SCHEME:REST" when SCHEME is a
 * registered kind, anything else is a file path ("-" is stdin), so
 * "file:/var/log/x.ndjson" and "/var/log/x.ndjson" are the same input. The
 * kinds are the table in src/ingest/mw_source.c; each kind is one file
 * src/ingest/src_<kind>.c that defines a `const struct mw_source_ops`.
 *
 * A source hands out lines (NDJSON records) with their 1-based number, a
 * position (byte offset for files; any monotonic number for other kinds)
 * and a generation (which underlying object the line came from: a file
 * changes on rotation). Its resumable position is opaque JSON: checkpoints
 * store what position() returns under the input's name and give it back to
 * resume() when the same name is opened again.
 *
 * Ownership: the run loop (or a feed) owns each struct mw_source it opens
 * and closes it; the source owns its descriptors and buffers. A line is
 * borrowed, valid until the next call to next(). Names are borrowed, valid
 * while the source is open (events copy or intern them). Not thread-safe:
 * one thread reads a source.
 */
#ifndef MW_SOURCE_H
#define MW_SOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_input.h"
#include "mw_mem.h"

struct mw_source_opts {
    size_t max_line;    /* longest accepted line; 0: MW_DEFAULT_MAX_LINE */
    bool follow;        /* keep reading as the input grows (tail -f) */
    int rotate_wait_ms; /* follow mode, files: see mw_tail.h; <= 0: default */
};

/* One line handed out by next(), or a mark of one (position()). */
struct mw_line {
    const char *text; /* borrowed, not NUL-terminated; NULL in a mark */
    size_t len;       /* MW_LINE_TOO_LONG: the size of the skipped line */
    uint64_t lineno;  /* 1-based */
    uint64_t offset;  /* where the line starts (bytes, for files) */
    uint64_t gen;     /* the underlying object it came from (rotation) */
};

struct mw_source_ops {
    const char *scheme; /* "file": specs "file:REST" select this kind */
    /* rest: the spec without "scheme:". Returns the kind's state (owned by
     * the caller, freed by close) or NULL with err set. */
    void *(*open)(const char *rest, const struct mw_source_opts *o, struct mw_error *err);
    /* The next line (see enum mw_line_status in mw_input.h). */
    enum mw_line_status (*next)(void *src, struct mw_line *line, struct mw_error *err);
    /* The position to resume at: at is a line handed out and not yet
     * processed (NULL: the first line not handed out). Sets *pos to a new
     * reference, or to NULL when the input cannot be resumed (stdin, a
     * pipe). Returns 0, or -1 when at belongs to an object the source has
     * left (a rotated file): the caller postpones its checkpoint. */
    int (*position)(void *src, const struct mw_line *at, json_t **pos);
    /* Continues at pos (borrowed), before the first read; logs what it
     * decided. A position it does not understand is ignored. */
    void (*resume)(void *src, const json_t *pos);
    /* The checkpoint holding pos (what position() returned, borrowed) is
     * durable: a kind that keeps positions elsewhere too (a Kafka consumer
     * group) records them now. May be NULL. */
    void (*committed)(void *src, const json_t *pos);
    /* Where a line handed out recently came from, for rejections and dead
     * letters ("topic/partition/offset"): written into buf (size n),
     * returns 0, or -1 when the kind has nothing better than the line
     * number. May be NULL. */
    int (*describe)(void *src, uint64_t lineno, char *buf, size_t n);
    /* A descriptor to poll for new data in follow mode, or -1: the loop
     * polls on a timer (and on inotify of watch_path). */
    int (*poll_fd)(void *src);
    /* A path the loop watches with inotify (IN_MODIFY), or NULL. */
    const char *(*watch_path)(void *src);
    /* Shutdown of a follow-mode run without checkpoints: stop waiting for
     * more, so a last line without its newline is handed out. May be NULL. */
    void (*drain)(void *src);
    const char *(*name)(void *src);    /* for diagnostics and alerts */
    uint64_t (*bytes_read)(void *src); /* progress (compressed for .gz) */
    void (*close)(void *src);          /* NULL is never passed */
};

/* ---- the generic handle over one kind (src/ingest/mw_source.c) ---- */

struct mw_source;

/* The kind a spec names, and the rest of the spec after "scheme:" (the
 * whole spec for a plain path, which is a file). Never NULL. */
const struct mw_source_ops *mw_source_kind(const char *spec, const char **rest);

/* Opens spec with its kind. Returns NULL with err set. */
struct mw_source *mw_source_open(const char *spec, const struct mw_source_opts *o,
                                 struct mw_error *err);
void mw_source_close(struct mw_source *s); /* NULL is a no-op */

const char *mw_source_name(const struct mw_source *s);
const char *mw_source_scheme(const struct mw_source *s);
/* The counters of the lines read (kept here for every kind). */
struct mw_input_stats *mw_source_stats(struct mw_source *s);
enum mw_line_status mw_source_next(struct mw_source *s, struct mw_line *line,
                                   struct mw_error *err);
/* As ops->position, then wrapped as {"scheme": ..., ...the kind's keys}. */
int mw_source_position(struct mw_source *s, const struct mw_line *at, json_t **pos);
/* Resumes when pos (borrowed, may be NULL) is of this source's kind. */
void mw_source_resume(struct mw_source *s, const json_t *pos);
/* After a durable checkpoint holding pos (as mw_source_position gave it). */
void mw_source_committed(struct mw_source *s, const json_t *pos);
/* ops->describe; -1 when the kind has none. */
int mw_source_describe(struct mw_source *s, uint64_t lineno, char *buf, size_t n);
int mw_source_poll_fd(struct mw_source *s);
const char *mw_source_watch_path(struct mw_source *s);
void mw_source_drain(struct mw_source *s);
uint64_t mw_source_bytes_read(struct mw_source *s);

#endif
