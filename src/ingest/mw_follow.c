/* mw_follow.c - the set of followed paths: names and glob patterns
 *
 * Keeps every path ever handed out (a dict used as a set), so a rescan
 * only reports newcomers; memory grows with the number of distinct file
 * names seen, which rotation schemes keep small.
 */
#include "mw_follow.h"
#include "mw_dict.h"
#include "mw_mem.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>

struct mw_follow {
    char **names; /* owned: literal names and patterns */
    int n;
    struct mw_dict *seen; /* path -> owned copy of the path */
    int64_t last_scan;
    bool scanned;
};

bool mw_follow_is_pattern(const char *name)
{
    struct stat sb;
    return strpbrk(name, "*?[") != NULL && stat(name, &sb) != 0;
}

struct mw_follow *mw_follow_new(char *const *names, int n)
{
    struct mw_follow *f = xcalloc(1, sizeof(*f));
    f->names = xcalloc((size_t)n + 1, sizeof(char *));
    for (int i = 0; i < n; i++)
        f->names[i] = xstrdup(names[i]);
    f->n = n;
    f->seen = mw_dict_new();
    return f;
}

static void free_val(const void *k, size_t kl, void *v, void *ud)
{
    (void)k;
    (void)kl;
    (void)ud;
    free(v);
}

void mw_follow_free(struct mw_follow *f)
{
    if (f == NULL)
        return;
    for (int i = 0; i < f->n; i++)
        free(f->names[i]);
    free(f->names);
    mw_dict_foreach(f->seen, free_val, NULL);
    mw_dict_free(f->seen);
    free(f);
}

static void add(struct mw_follow *f, const char *path, const char ***out, int *n,
                int *cap)
{
    size_t len = strlen(path);
    if (mw_dict_get(f->seen, path, len) != NULL)
        return;
    char *copy = xstrdup(path);
    mw_dict_put(f->seen, copy, len, copy);
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *out = xrealloc(*out, (size_t)*cap * sizeof(char *));
    }
    (*out)[(*n)++] = copy;
}

int mw_follow_scan(struct mw_follow *f, int64_t now_ms, bool force, const char ***paths)
{
    const char **out = NULL;
    int n = 0, cap = 0;

    *paths = NULL;
    if (f->scanned && !force && now_ms - f->last_scan < MW_FOLLOW_RESCAN_MS)
        return 0;
    f->scanned = true;
    f->last_scan = now_ms;
    for (int i = 0; i < f->n; i++) {
        if (!mw_follow_is_pattern(f->names[i])) {
            add(f, f->names[i], &out, &n, &cap);
            continue;
        }
        glob_t g;
        if (glob(f->names[i], 0, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++) {
                struct stat sb;
                if (stat(g.gl_pathv[k], &sb) == 0 && S_ISREG(sb.st_mode))
                    add(f, g.gl_pathv[k], &out, &n, &cap);
            }
        }
        globfree(&g);
    }
    *paths = out;
    return n;
}

void mw_follow_watch(struct mw_follow *f, int in_fd)
{
    if (in_fd < 0)
        return;
    for (int i = 0; i < f->n; i++) {
        const char *slash = strrchr(f->names[i], '/');
        char *dir = slash == NULL ? xstrdup(".")
                    : slash == f->names[i]
                        ? xstrdup("/")
                        : xstrndup(f->names[i], (size_t)(slash - f->names[i]));
        /* a pattern in the folder part: rescans only */
        if (strpbrk(dir, "*?[") == NULL)
            inotify_add_watch(in_fd, dir,
                              IN_CREATE | IN_MOVED_TO | IN_MODIFY | IN_DELETE);
        free(dir);
    }
}
