/* mw_tail.h - following one file path across rotation, truncation and deletion
 *
 * A followed input names a path; the file behind it changes. mw_tail keeps
 * the identity of the file being read (device, inode and its first bytes,
 * the "fingerprint") and, checked from the input's read path at most every
 * MW_TAIL_CHECK_MS, decides what the input must do:
 *
 * - rename rotation (logrotate's default: the file is moved away and a new
 *   one created at the path): the old file is read on until it has been
 *   quiet (no new bytes, its end reached) for the rotate wait, because a
 *   writer that still holds it open keeps appending there; then the input
 *   switches to the new file from offset 0;
 * - copytruncate (the file is copied away, then truncated in place): the
 *   path's first bytes no longer match, or it is shorter than what was read.
 *   The copy (a file beside it with the same fingerprint and at least as
 *   many bytes as were read) is read from the current position to its end,
 *   then the path from 0, so lines written between our last read and the
 *   copy are not lost. Without a copy the path is read from 0 (logged);
 * - deletion: once the deleted file is drained and quiet it is closed
 *   (released), and the path is watched for a file to appear again.
 *
 * Resume from a checkpoint (mw_tail_resume) applies the same identity rules
 * to a recorded position: the same file continues at its offset; a file
 * rotated away meanwhile is found beside the path (same inode, or same
 * fingerprint for a copy) and finished first; otherwise the path is read
 * from 0.
 *
 * Not thread-safe; owned by one mw_input.
 */
#ifndef MW_TAIL_H
#define MW_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_mem.h"

#define MW_TAIL_FP_MAX 1024  /* bytes of the fingerprint */
#define MW_TAIL_CHECK_MS 100 /* least time between two identity checks */
#define MW_TAIL_DEFAULT_ROTATE_WAIT_MS 1000

/* The identity and position of the file an input reads (for checkpoints). */
struct mw_tail_pos {
    uint64_t dev, ino;
    uint64_t offset; /* byte offset of the next unread line */
    uint64_t lineno; /* lines before offset */
    size_t fp_len;   /* bytes the fingerprint covers */
    char fp[65];     /* SHA-256 (hex) of the first fp_len bytes */
};

enum mw_tail_action {
    MW_TAIL_NONE,     /* read on */
    MW_TAIL_SWITCH,   /* finish the buffer as the file's end, then
                       * read *nfd (-1: released) from *noff */
    MW_TAIL_CONTINUE, /* the same bytes go on in *nfd at *noff (the
                       * copy of a copytruncate): swap, keep the buffer */
    MW_TAIL_RESTART,  /* truncated, no copy: drop the buffer, read from 0 */
};

struct mw_tail;

/* Follows path, whose file is open as fd (borrowed: the input owns it).
 * rotate_wait_ms <= 0 means the default. */
struct mw_tail *mw_tail_new(const char *path, int fd, int rotate_wait_ms);
void mw_tail_free(struct mw_tail *t);

/* Called by the input before reading: fd is the descriptor it reads (-1
 * when released) and pos the file position read so far. Returns what to
 * do; for MW_TAIL_SWITCH *nfd is a new descriptor (owned by the caller from
 * then on) to read from *noff. Rate-limited: returns MW_TAIL_NONE at once
 * when checked less than MW_TAIL_CHECK_MS ago, unless force. */
enum mw_tail_action mw_tail_check(struct mw_tail *t, int fd, uint64_t pos, bool force,
                                  int *nfd, uint64_t *noff);

/* The identity of the file now read by fd, with offset/lineno as given.
 * Returns 0, or -1 when fd is not a regular file (or released). */
int mw_tail_position(struct mw_tail *t, int fd, uint64_t offset, uint64_t lineno,
                     struct mw_tail_pos *pos);

/* Applies a recorded position to the freshly opened fd of the path. On
 * return *nfd is the descriptor to read (fd itself, or a rotated file found
 * beside the path: then fd stays open and is switched to when that file is
 * done), *noff the offset to start at and *nline the line count before it.
 * Writes what it decided to msg (for the log). Returns 0. */
int mw_tail_resume(struct mw_tail *t, int fd, const struct mw_tail_pos *pos, int *nfd,
                   uint64_t *noff, uint64_t *nline, char *msg, size_t msgsize);

#endif
