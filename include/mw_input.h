/* mw_input.h - NDJSON line framing and event parsing
 *
 * Framing (mw_input_*) reads an fd in chunks and hands out complete lines
 * without copying them; a line longer than the limit is skipped to its
 * newline without being buffered and reported as too long. Parsing
 * (mw_ingest_parse) turns one line into an event or a rejection reason; it
 * touches no shared state, so it can later run on worker threads.
 * Each input tracks its line number and byte offset (for checkpoints).
 */
#ifndef MW_INPUT_H
#define MW_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_event.h"
#include "mw_field.h"
#include "mw_mem.h"

#define MW_DEFAULT_MAX_LINE (1024 * 1024)

enum mw_reject {
    MW_REJECT_NONE = 0,
    MW_REJECT_MALFORMED_JSON,
    MW_REJECT_NOT_OBJECT,
    MW_REJECT_MISSING_TIMESTAMP,
    MW_REJECT_BAD_TIMESTAMP,
    MW_REJECT_INVALID_UTF8,
    MW_REJECT_TOO_LONG,
    MW_REJECT_DUPLICATE_KEY,
    MW_REJECT_FUTURE_TIMESTAMP, /* further ahead of the wall clock than allowed */
    MW_REJECT_TOO_LATE,         /* further behind "now" than --max-lateness */
    MW_REJECT_NUMBER_RANGE,     /* a number beyond int64 or double (1e400) */
    MW_REJECT_TOO_DEEP,         /* nesting deeper than jansson's 2048 levels */
    MW_REJECT_TIME_OUTLIER,     /* set aside as a jump in event time that nothing
                                 * confirmed, and dropped past the hold's bounds */
    MW_REJECT__COUNT,
};

/* Stable snake_case name of a reason ("malformed_json", ...). */
const char *mw_reject_name(enum mw_reject r);

struct mw_input_stats {
    uint64_t lines;     /* non-blank lines seen (including too long ones) */
    uint64_t blank;     /* empty or whitespace-only lines, skipped */
    uint64_t parsed;    /* lines that became events (too late ones are
                         * moved to rejected when found so) */
    uint64_t reordered; /* events that arrived behind "now" and were placed
                         * in event-time order */
    uint64_t skipped;   /* lines the prefilter did not parse (time only) */
    uint64_t outliers;  /* times set aside as unconfirmed jumps (mw_evtime.h) */
    uint64_t rejected;  /* sum of by_reason */
    uint64_t by_reason[MW_REJECT__COUNT];
};

struct mw_input;

/* Opens path for reading; "-" is stdin; a name ending in .gz is read
 * through zlib (gzip, also concatenated members; a file that is not gzip is
 * read as is). Returns NULL and sets err on failure.
 * name is copied and used in diagnostics and alerts. */
struct mw_input *mw_input_open(const char *path, size_t max_line, struct mw_error *err);
void mw_input_close(struct mw_input *in);
/* Bytes read from the underlying file so far (compressed bytes for .gz):
 * progress against the file size. */
uint64_t mw_input_bytes_read(const struct mw_input *in);
const char *mw_input_name(const struct mw_input *in);
struct mw_input_stats *mw_input_stats(struct mw_input *in);

enum mw_line_status {
    MW_LINE_OK,       /* line and len hold a line without its newline */
    MW_LINE_TOO_LONG, /* a line over the limit was skipped; *len = its size */
    MW_LINE_EOF,
    MW_LINE_AGAIN, /* follow mode: no complete line yet, try later */
    MW_LINE_ERROR, /* read error, reported in err */
};

/* Reads the next line. On MW_LINE_OK, *line is borrowed and valid until the
 * next call. *lineno and *offset are the line's 1-based number and byte
 * offset. A last line without a newline is returned at end of file, except
 * in follow mode, where it waits for its newline (MW_LINE_AGAIN). */
enum mw_line_status mw_input_next_line(struct mw_input *in, const char **line,
                                       size_t *len, uint64_t *lineno, uint64_t *offset,
                                       struct mw_error *err);

/* Follow mode (tail -f): at the end of a regular file, or when a pipe has
 * nothing to read, mw_input_next_line returns MW_LINE_AGAIN instead of a
 * partial last line or EOF; a pipe's real end is still MW_LINE_EOF. Turning
 * follow off again (at shutdown) lets the next call return the partial line. */
void mw_input_set_follow(struct mw_input *in, bool follow);
/* Follow mode: how long a rotated-away or deleted file must be quiet (no
 * new bytes, its end reached) before it is left (ms; <= 0: the default).
 * Call before mw_input_set_follow. Rotation handling: see mw_tail.h. */
void mw_input_set_rotate_wait(struct mw_input *in, int ms);
/* Counts the files the input moved to (rotation, truncation, release):
 * lines read before and after a change have different generations. */
uint64_t mw_input_file_gen(const struct mw_input *in);
/* The identity of the file being read and the offset and line count of
 * the next line not yet handed out (for checkpoints). Returns 0, or -1 for
 * stdin, pipes and a released (deleted) file. */
struct mw_tail_pos;
int mw_input_position(struct mw_input *in, struct mw_tail_pos *pos);
/* Continues from a checkpointed position (mw_tail_resume's rules: the same
 * file at its offset, a rotated one found beside the path first, anything
 * else from 0). Logs what it decided. Call before the first read. */
void mw_input_resume(struct mw_input *in, const struct mw_tail_pos *pos);
/* The descriptor being read (for poll); borrowed. */
int mw_input_fd(const struct mw_input *in);
bool mw_input_is_regular(const struct mw_input *in);

/* true when the line holds only JSON whitespace */
bool mw_line_is_blank(const char *line, size_t len);

/* Parses one line into an event. On success returns the event (refcount 1)
 * and sets *reason to MW_REJECT_NONE. On rejection returns NULL, sets *reason
 * and a human message in err. ts_path is the timestamp field. */
struct mw_event *mw_ingest_parse(const char *line, size_t len,
                                 const struct mw_path *ts_path, const char *input,
                                 uint64_t lineno, uint64_t offset, uint64_t seq,
                                 enum mw_reject *reason, struct mw_error *err);

#endif
