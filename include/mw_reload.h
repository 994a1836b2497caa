/* mw_reload.h - hot reload of rule files: watch, debounce, build, swap
 *
 * The watcher records the SHA-256 of every rule file under the --rules paths
 * (loaded or not). An inotify watch on each rule folder (and on the folder
 * of each rule file given by name) reports creations, close-after-write,
 * renames into and out of the folder and deletions; editors that save by
 * writing a temporary file and renaming it over the rule are seen as a
 * rename into the folder. Notifications are debounced: a pass runs once the
 * folder has been quiet for the debounce delay (and at most max_delay after
 * the first notification), so a burst of writes loads once.
 *
 * A pass rescans the paths: a file whose content hash changed (or every
 * file, for a forced pass on SIGHUP) is reloaded through
 * mw_engine_reload_file, which builds the new version off to the side and
 * swaps it in only when it loads; a file that disappeared has its rule
 * removed. The caller runs passes between two events.
 */
#ifndef MW_RELOAD_H
#define MW_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "mw_engine.h"

#define MW_RELOAD_DEFAULT_DEBOUNCE_MS 100
#define MW_RELOAD_MAX_DELAY_MS 500

struct mw_reload;

/* Borrows e and paths (which must outlive the watcher). Records the current
 * files and their hashes, and sets up the watches. When inotify is not
 * available the watcher still works for forced passes (SIGHUP), and says so.
 * debounce_ms <= 0 means the default. */
struct mw_reload *mw_reload_new(struct mw_engine *e, char *const *paths, int npaths,
                                int debounce_ms);
void mw_reload_free(struct mw_reload *rl);

/* The inotify descriptor to poll for POLLIN, or -1. */
int mw_reload_fd(const struct mw_reload *rl);

/* Reads pending notifications (never blocks) and runs a pass when one is
 * due. now_ms is a monotonic clock in milliseconds. Returns the milliseconds
 * until a pending pass is due, or -1 when none is pending. */
int mw_reload_tick(struct mw_reload *rl, int64_t now_ms);

/* Runs a pass now. force: reload every file, changed or not (SIGHUP). */
void mw_reload_pass(struct mw_reload *rl, bool force);

/* Passes run so far. */
uint64_t mw_reload_passes(const struct mw_reload *rl);

#endif
