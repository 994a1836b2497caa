/* mw_reload.c - inotify watches, debounce and per-file reload passes
 *
 * State: one record per rule file seen (path, content hash). A pass compares
 * a fresh scan against the records: gone -> remove the rule; new or hash
 * changed (or forced) -> mw_engine_reload_file. The record takes the new
 * hash whether or not the load succeeds, so a broken file is reported once
 * per change, not once per pass. Watches are (re)added at every pass, which
 * covers folders created since (inotify_add_watch on a watched inode is a
 * no-op). Nothing here runs Lua: the engine does, between events.
 *
 * A --rules path that cannot be read any more (the folder removed or
 * renamed, a rule file given by name deleted) is an outage, not an edit:
 * the rules loaded from it keep running, an error and a rules_path_missing
 * health record say so once, and passes run every MISSING_POLL_MS until it
 * is back (rules_path_back), since no watch can see it return.
 */
#include "mw_frontend.h"
#include "mw_reload.h"
#include "mw_dict.h"
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
#define MISSING_POLL_MS 1000
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
    bool *missing; /* owned, per path: could not be read at the last pass */
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

/* seen: the (dev, ino) of the folders watched in this pass, so a symlink
 * loop is walked once */
static void watch_tree(struct mw_reload *rl, const char *dir, int depth,
                       struct mw_dict *seen)
{
    DIR *d;
    struct stat ds;
    ino_t id[2];
    if (stat(dir, &ds) < 0)
        return;
    memset(id, 0, sizeof(id));
    id[0] = (ino_t)ds.st_dev;
    id[1] = ds.st_ino;
    if (mw_dict_put(seen, id, sizeof(id), rl) != NULL)
        return;
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
            watch_tree(rl, child, depth + 1, seen);
    }
    closedir(d);
}

static void watch_all(struct mw_reload *rl)
{
    struct mw_dict *seen = mw_dict_new();
    for (int i = 0; i < rl->npaths; i++) {
        struct stat sb;
        if (stat(rl->paths[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            watch_tree(rl, rl->paths[i], 0, seen);
        } else {
            /* a rule file: watch its folder, so replace-by-rename is seen */
            char tmp[PATH_MAX];
            snprintf(tmp, sizeof(tmp), "%s", rl->paths[i]);
            add_watch(rl, dirname(tmp));
        }
    }
    mw_dict_free(seen);
}

/* The path exists and, if a folder, can be listed. */
static bool path_readable(const char *path)
{
    struct stat sb;
    DIR *d;
    if (stat(path, &sb) < 0)
        return false;
    if (!S_ISDIR(sb.st_mode))
        return true;
    if ((d = opendir(path)) == NULL)
        return false;
    closedir(d);
    return true;
}

/* file was listed from root (root itself, or a path under it) */
static bool under(const char *file, const char *root)
{
    size_t n = strlen(root);
    return strncmp(file, root, n) == 0 &&
           (file[n] == '\0' || file[n] == '/' || (n > 0 && root[n - 1] == '/'));
}

/* Updates rl->missing; logs and records each change. Returns true when
 * some path is missing. */
static bool check_paths(struct mw_reload *rl)
{
    bool any = false;
    for (int i = 0; i < rl->npaths; i++) {
        bool gone = !path_readable(rl->paths[i]);
        size_t kept = 0;
        for (size_t j = 0; gone && j < rl->nrecs; j++)
            kept += under(rl->recs[j].path, rl->paths[i]);
        if (gone && !rl->missing[i]) {
            mw_log_error("rules path %s cannot be read (removed or renamed?): the %zu "
                         "rule file(s) loaded from it keep running until it is back",
                         rl->paths[i], kept);
            mw_engine_health(rl->e, "rules_path_missing",
                             json_pack("{s:s, s:I}", "path", rl->paths[i], "kept_files",
                                       (json_int_t)kept));
        } else if (!gone && rl->missing[i]) {
            mw_log_warn("rules path %s is back: reloading it", rl->paths[i]);
            mw_engine_health(rl->e, "rules_path_back",
                             json_pack("{s:s}", "path", rl->paths[i]));
        }
        rl->missing[i] = gone;
        any |= gone;
    }
    return any;
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
    rl->missing = xcalloc((size_t)(npaths > 0 ? npaths : 1), sizeof(bool));
    for (int i = 0; i < npaths; i++)
        rl->missing[i] = !path_readable(paths[i]);
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
    free(rl->missing);
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
    check_paths(rl);
    mw_engine_scan(rl->paths, rl->npaths, &files, &n, true);
    for (size_t i = 0; i < rl->nrecs; i++) {
        rl->recs[i].seen = false;
        for (int p = 0; p < rl->npaths; p++)
            if (rl->missing[p] && under(rl->recs[i].path, rl->paths[p]))
                rl->recs[i].seen = true; /* its path is out: keep the rule */
    }
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
    if (rl->due_ms < 0) {
        bool any = false;
        for (int i = 0; i < rl->npaths; i++)
            any |= rl->missing[i];
        if (!any)
            return -1;
        rl->due_ms = now_ms + MISSING_POLL_MS; /* poll until it is back */
    }
    if (now_ms >= rl->due_ms) {
        mw_reload_pass(rl, false);
        return -1;
    }
    return (int)(rl->due_ms - now_ms);
}
