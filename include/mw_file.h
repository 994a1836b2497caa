/* mw_file.h - whole-file reads, atomic replacement, path joining (git's
 * lockfile.h, in small)
 *
 * Atomic replacement, calling sequence:
 *
 *     struct mw_atomic a;
 *     FILE *fp = mw_atomic_open(&a, path, err);     temp file beside path
 *     ... write to fp ...
 *     if (mw_atomic_commit(&a, MW_FILE_DURABLE, err) != 0) ...  or mw_atomic_abort(&a)
 *
 * The temp file is created with O_CREAT|O_EXCL|O_NOFOLLOW (mode 0600) under
 * a name no other writer uses (path.tmp.PID.N), so a planted symlink or a
 * stale temp file is never written through. Commit flushes, fsyncs the file
 * (MW_FILE_DURABLE), renames it over path and fsyncs the folder
 * (MW_FILE_DURABLE); on any error the temp file is removed and path keeps
 * its old content. Errors are reported in err with the path and errno text.
 */
#ifndef MW_FILE_H
#define MW_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "mw_mem.h"

#define MW_FILE_DURABLE 1

struct mw_atomic {
    FILE *fp;
    char *path;
    char *tmp;
};

FILE *mw_atomic_open(struct mw_atomic *a, const char *path, struct mw_error *err);
int mw_atomic_commit(struct mw_atomic *a, int flags, struct mw_error *err);
void mw_atomic_abort(struct mw_atomic *a);

/* Writes data to path through mw_atomic_*. Returns 0 or -1 (err set). */
int mw_file_write_atomic(const char *path, const void *data, size_t len, int flags,
                         struct mw_error *err);

/* fsyncs the folder holding path (after a rename or a create). 0 or -1. */
int mw_fsync_parent(const char *path);

/* Reads a regular file whole (a FIFO, device or folder is refused, so a
 * rule named x.lua that is a FIFO or /dev/zero cannot block or exhaust the
 * host). Refuses files over max bytes (0: no limit). Returns a malloc'd
 * NUL-terminated buffer (caller frees) and its length, or NULL (err set). */
char *mw_file_read(const char *path, size_t max, size_t *len, struct mw_error *err);
/* The same; flags MW_FILE_NOFOLLOW: a symbolic link at path is refused
 * ("is a symbolic link; refusing to follow it"), for files of the state
 * and spool folders. */
#define MW_FILE_NOFOLLOW 2
char *mw_file_read_flags(const char *path, size_t max, size_t *len, int flags,
                         struct mw_error *err);

/* Opens a file of the state or spool folder ("r", "a" or "a+"; created
 * 0600): never through a symbolic link (O_NOFOLLOW), regular files only (a
 * FIFO or device is refused without blocking). NULL with err set (errno
 * kept: ENOENT when "r" finds nothing). */
FILE *mw_file_open_private(const char *path, const char *mode, struct mw_error *err);

/* A folder for state (what: "--state-dir", "spool folder"): created 0700
 * when missing; an existing one is refused unless it is a folder owned by
 * the effective user and writable by nobody else (no group or world write
 * bit), since whoever can write it can plant symlinks or forge state.
 * Returns 0, or -1 with err set. */
int mw_dir_private(const char *dir, const char *what, struct mw_error *err);

/* dir + "/" + name without doubling a slash dir already ends with; an
 * empty dir gives name. Caller frees. */
char *mw_path_join(const char *dir, const char *name);

#endif
