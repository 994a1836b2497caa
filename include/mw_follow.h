/* mw_follow.h - the set of followed paths: names and glob patterns
 *
 * In follow mode an input that does not exist as a file and holds a glob
 * character (* ? [) is a pattern, expanded with glob(3) at start and again
 * every MW_FOLLOW_RESCAN_MS (and when a watched folder changes), so files
 * that appear later are followed too. Each path is handed out once: a file
 * that is deleted and comes back under the same name is picked up by the
 * input that followed it (mw_tail), not as a new input. The folders of all
 * followed paths are watched with inotify (creations and renames into them
 * wake the run loop at once; the rescan period is the fallback).
 */
#ifndef MW_FOLLOW_H
#define MW_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#define MW_FOLLOW_RESCAN_MS 1000

struct mw_follow;

/* names are borrowed for the call (copied). */
struct mw_follow *mw_follow_new(char *const *names, int n);
void mw_follow_free(struct mw_follow *f);

/* True when name is taken as a pattern (follow mode). */
bool mw_follow_is_pattern(const char *name);

/* The paths not handed out before, in name order: literal names first
 * time, pattern matches as they appear. Returns how many were put in
 * *paths (a new array of borrowed strings valid while f lives; the caller
 * frees the array), 0 when none or when called again within
 * MW_FOLLOW_RESCAN_MS of the last scan unless force. */
int mw_follow_scan(struct mw_follow *f, int64_t now_ms, bool force, const char ***paths);

/* Adds inotify watches (IN_CREATE, IN_MOVED_TO, IN_MODIFY) on the folders
 * of every name and pattern to the inotify descriptor in_fd. */
void mw_follow_watch(struct mw_follow *f, int in_fd);

#endif
