/* mw_reload.c - inotify watches, debounce and per-file reload passes
 *
 * State: one record per rule file seen (path, content hash). A pass compares
 * a fresh scan against the records: gone -> remove the rule; new or hash
 * changed (or forced) -> mw_engine_reload_file. The record takes the new
 * hash whether or not the load succeeds, so a broken file is reported once
 * per change, not once per pass. Watches are (re)added at every pass, which
 * covers folders created since (inotify_add_watch on a watched inode is a
 * no-op). Nothing here runs Lua: the engine does, between events.
 */
#include "mw_frontend.h"
#include "mw_reload.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_sha256.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RULE_BYTES (16 * 1024 * 1024)
#define WATCH_MASK                                                                       \
    (IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |              \
     IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB)

struct record {
    char *path; /* owned */
    char hash[MW_SHA256_HEX_SIZE];
    bool seen; /* present in the current scan */
};

struct mw_reload {
    struct mw_engine *e; /* borrowed */
    char *const *paths;  /* borrowed */
    int npaths;
    int fd; /* inotify, or -1 */
    int debounce_ms;
    struct record *recs; /* owned */
    size_t nrecs;
    int64_t due_ms;   /* quiet-time deadline, or -1 */
    int64_t first_ms; /* first notification of the burst, or -1 */
    uint64_t passes;
};

/* Hex SHA-256 of the file's content; -1 when it cannot be read. */
static int hash_file(const char *path, char out[MW_SHA256_HEX_SIZE])
{
    struct mw_sha256 ctx;
    uint8_t dig[MW_SHA256_DIGEST_SIZE], buf[8192];
    size_t n, total = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    mw_sha256_init(&ctx);
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0 && total < MAX_RULE_BYTES) {
        mw_sha256_update(&ctx, buf, n);
        total += n;
    }
    fclose(f);
    mw_sha256_final(&ctx, dig);
    for (int i = 0; i < MW_SHA256_DIGEST_SIZE; i++)
        snprintf(out + 2 * i, 3, "%02x", dig[i]);
    return 0;
}

static struct record *find(struct mw_reload *rl, const char *path)
{
    for (size_t i = 0; i < rl->nrecs; i++)
        if (strcmp(rl->recs[i].path, path) == 0)
            return &rl->recs[i];
    return NULL;
}

static void add_watch(struct mw_reload *rl, const char *dir)
{
    if (rl->fd >= 0 && inotify_add_watch(rl->fd, dir, WATCH_MASK) < 0 && errno != ENOENT)
        mw_log_warn("cannot watch %s for rule changes: %s", dir, strerror(errno));
}

static void watch_tree(struct mw_reload *rl, const char *dir, int depth)
{
    DIR *d;
    add_watch(rl, dir);
    if (depth > 16 || (d = opendir(dir)) == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char child[PATH_MAX];
        struct stat sb;
        if (de->d_name[0] == '.')
            continue;
        snprintf(child, sizeof(child), "%s/%s", dir, de->d_name);
        if (stat(child, &sb) == 0 && S_ISDIR(sb.st_mode))
            watch_tree(rl, child, depth + 1);
    }
    closedir(d);
}

static void watch_all(struct mw_reload *rl)
{
    for (int i = 0; i < rl->npaths; i++) {
        struct stat sb;
        if (stat(rl->paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            watch_tree(rl, rl->paths[i], 0);
        } else {
            /* a rule file: watch its folder, so replace-by-rename is seen */
            char tmp[PATH_MAX];
            snprintf(tmp, sizeof(tmp), "%s", rl->paths[i]);
            add_watch(rl, dirname(tmp));
        }
    }
}

struct mw_reload *mw_reload_new(struct mw_engine *e, char *const *paths, int npaths,
                                int debounce_ms)
{
    struct mw_reload *rl = xcalloc(1, sizeof(*rl));
    char **files;
    size_t n;

    rl->e = e;
    rl->paths = paths;
    rl->npaths = npaths;
    rl->debounce_ms = debounce_ms > 0 ? debounce_ms : MW_RELOAD_DEFAULT_DEBOUNCE_MS;
    rl->due_ms = rl->first_ms = -1;
    rl->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (rl->fd < 0)
        mw_log_warn("inotify unavailable (%s): rule files are reloaded on SIGHUP only",
                    strerror(errno));
    watch_all(rl);
    mw_engine_scan(paths, npaths, &files, &n, true);
    for (size_t i = 0; i < n; i++) {
        rl->recs = xrealloc(rl->recs, (rl->nrecs + 1) * sizeof(*rl->recs));
        struct record *r = &rl->recs[rl->nrecs++];
        r->path = files[i];
        if (hash_file(files[i], r->hash) < 0)
            r->hash[0] = '\0';
    }
    free(files);
    return rl;
}

void mw_reload_free(struct mw_reload *rl)
{
    if (rl == NULL)
        return;
    if (rl->fd >= 0)
        close(rl->fd);
    for (size_t i = 0; i < rl->nrecs; i++)
        free(rl->recs[i].path);
    free(rl->recs);
    free(rl);
}

int mw_reload_fd(const struct mw_reload *rl)
{
    return rl->fd;
}

uint64_t mw_reload_passes(const struct mw_reload *rl)
{
    return rl->passes;
}

void mw_reload_pass(struct mw_reload *rl, bool force)
{
    char **files;
    size_t n;

    rl->passes++;
    rl->due_ms = rl->first_ms = -1;
    watch_all(rl);
    mw_engine_scan(rl->paths, rl->npaths, &files, &n, true);
    for (size_t i = 0; i < rl->nrecs; i++)
        rl->recs[i].seen = false;
    for (size_t i = 0; i < n; i++) {
        struct record *r = find(rl, files[i]);
        if (r)
            r->seen = true;
    }
    /* removals first, so a rule id moving from one file to another works */
    for (size_t i = 0; i < rl->nrecs;) {
        struct record *r = &rl->recs[i];
        if (r->seen) {
            i++;
            continue;
        }
        if (mw_engine_remove_file(rl->e, r->path) < 0)
            mw_log_info("rule file %s deleted (it was not loaded)", r->path);
        free(r->path);
        rl->recs[i] = rl->recs[--rl->nrecs];
    }
    for (size_t i = 0; i < n; i++) {
        char hash[MW_SHA256_HEX_SIZE];
        struct record *r = find(rl, files[i]);
        if (hash_file(files[i], hash) < 0) {
            free(files[i]);
            continue; /* vanished between scan and read: next pass */
        }
        if (r == NULL) {
            rl->recs = xrealloc(rl->recs, (rl->nrecs + 1) * sizeof(*rl->recs));
            r = &rl->recs[rl->nrecs++];
            r->path = xstrdup(files[i]);
            r->hash[0] = '\0';
            r->seen = true;
        }
        /* an unchanged file that failed before is only retried on SIGHUP */
        if (force || strcmp(r->hash, hash) != 0) {
            memcpy(r->hash, hash, sizeof(hash));
            mw_engine_reload_file(rl->e, files[i]);
        }
        free(files[i]);
    }
    free(files);
}

/* true when the notification may concern a rule file */
static bool relevant(const struct inotify_event *ev)
{
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED | IN_Q_OVERFLOW))
        return true;
    if (ev->len == 0 || ev->name[0] == '.')
        return false;
    return (ev->mask & IN_ISDIR) || mw_frontend_accepts(ev->name);
}

int mw_reload_tick(struct mw_reload *rl, int64_t now_ms)
{
    if (rl->fd >= 0) {
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t got;
        while ((got = read(rl->fd, buf, sizeof(buf))) > 0) {
            for (char *p = buf; p < buf + got;) {
                const struct inotify_event *ev = (const struct inotify_event *)p;
                if (relevant(ev)) {
                    if (rl->first_ms < 0)
                        rl->first_ms = now_ms;
                    rl->due_ms = now_ms + rl->debounce_ms;
                    if (rl->due_ms > rl->first_ms + MW_RELOAD_MAX_DELAY_MS)
                        rl->due_ms = rl->first_ms + MW_RELOAD_MAX_DELAY_MS;
                }
                p += sizeof(*ev) + ev->len;
            }
        }
    }
    if (rl->due_ms < 0)
        return -1;
    if (now_ms >= rl->due_ms) {
        mw_reload_pass(rl, false);
        return -1;
    }
    return (int)(rl->due_ms - now_ms);
}
