/* mw_normset.c - the normalizers of a folder, and which one a record gets
 *
 * Choosing: the input's dataset= option names the normalizer outright
 * (Activity Log records often carry category "Action" or "Write", which a
 * category list would misroute); otherwise the record's category
 * ("category", or the capitalised "Category"/"CategoryValue" some services
 * send) is looked up in each normalizer's `categories`, then its
 * `category_suffix`; last, a normalizer's `resource_prefix` is compared with
 * the record's resourceId ignoring case. Loading reads the *.lua files of the
 * folder and of its sub-folders (normalizers/azure/) in name order through
 * the Lua reader (mw_lnorm.h), as rules are read.
 */
#include "mw_file.h"
#include "mw_lnorm.h"
#include "mw_norm.h"
#include "normalize/norm_int.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MW_DEFAULT_NORMALIZERS_DIR
#define MW_DEFAULT_NORMALIZERS_DIR "/usr/local/share/moonwatch/normalizers"
#endif

struct mw_normset {
    struct mw_norm **n; /* owned */
    size_t count;
};

struct mw_normset *mw_normset_new(void)
{
    return xcalloc(1, sizeof(struct mw_normset));
}

int mw_normset_add(struct mw_normset *s, struct mw_norm *n, struct mw_error *err)
{
    if (mw_normset_by_dataset(s, mw_norm_dataset(n)) != NULL) {
        mw_error_set(err, "two normalizers for dataset '%s'", mw_norm_dataset(n));
        mw_norm_free(n);
        return -1;
    }
    s->n = xrealloc(s->n, (s->count + 1) * sizeof(*s->n));
    s->n[s->count++] = n;
    return 0;
}

void mw_normset_free(struct mw_normset *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->count; i++)
        mw_norm_free(s->n[i]);
    free(s->n);
    free(s);
}

size_t mw_normset_count(const struct mw_normset *s)
{
    return s->count;
}

const struct mw_norm *mw_normset_at(const struct mw_normset *s, size_t i)
{
    return i < s->count ? s->n[i] : NULL;
}

const struct mw_norm *mw_normset_by_dataset(const struct mw_normset *s,
                                            const char *dataset)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(mw_norm_dataset(s->n[i]), dataset) == 0)
            return s->n[i];
    return NULL;
}

bool mw_normset_repairs_empty_keys(const struct mw_normset *s)
{
    for (size_t i = 0; i < s->count; i++)
        if (mw_norm_repairs_empty_keys(s->n[i]))
            return true;
    return false;
}

const struct mw_norm *mw_normset_pick(const struct mw_normset *s, const json_t *rec,
                                      const char *dataset, struct mw_error *why)
{
    const char *cat = NULL;
    const char *rid = json_string_value(json_object_get(rec, "resourceId"));
    static const char *const cat_keys[] = {"category", "Category", "CategoryValue"};

    if (dataset != NULL) {
        const struct mw_norm *n = mw_normset_by_dataset(s, dataset);
        if (n == NULL)
            mw_error_set(why, "no normalizer for dataset '%s'", dataset);
        return n;
    }
    for (size_t i = 0; i < 3 && cat == NULL; i++)
        cat = json_string_value(json_object_get(rec, cat_keys[i]));
    for (size_t i = 0; cat != NULL && i < s->count; i++)
        if (mw_norm_takes_category(s->n[i], cat))
            return s->n[i];
    for (size_t i = 0; rid != NULL && i < s->count; i++)
        if (mw_norm_takes_resource(s->n[i], rid))
            return s->n[i];
    if (cat != NULL)
        mw_error_set(
            why, "no normalizer for category '%s' (name the dataset: ,dataset=...)", cat);
    else
        mw_error_set(why, "no category and no dataset= for the input: cannot pick a "
                          "normalizer");
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* loading                                                                 */

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the *.lua files of dir (and, when depth > 0, of its folders). */
static void collect(const char *dir, int depth, char ***files, size_t *n)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.')
            continue;
        char *p = mw_path_join(dir, de->d_name);
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && depth > 0) {
            collect(p, depth - 1, files, n);
        } else if (S_ISREG(sb.st_mode) && len > 4 &&
                   strcmp(de->d_name + len - 4, ".lua") == 0) {
            *files = xrealloc(*files, (*n + 1) * sizeof(char *));
            (*files)[(*n)++] = p;
            p = NULL;
        }
        free(p);
    }
    closedir(d);
}

struct mw_normset *mw_normset_load(const char *dir, struct mw_error *err)
{
    struct stat sb;
    char **files = NULL;
    size_t nfiles = 0;
    struct mw_normset *s = NULL;

    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        mw_error_set(err, "normalizers: %s is not a folder", dir);
        return NULL;
    }
    collect(dir, 1, &files, &nfiles);
    qsort(files, nfiles, sizeof(char *), by_name);
    s = mw_normset_new();
    for (size_t i = 0; i < nfiles; i++) {
        struct mw_norm *n = mw_lnorm_load(files[i], err);
        if (n == NULL || mw_normset_add(s, n, err) < 0) {
            mw_normset_free(s);
            s = NULL;
            break;
        }
    }
    if (s != NULL && s->count == 0) {
        mw_error_set(err, "normalizers: no *.lua file in %s", dir);
        mw_normset_free(s);
        s = NULL;
    }
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return s;
}

const char *mw_normset_default_dir(char *buf, size_t size)
{
    struct stat sb;
    char exe[PATH_MAX];
    ssize_t n;
    if (getenv("MOONWATCH_NORMALIZERS"))
        return getenv("MOONWATCH_NORMALIZERS");
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, size, "%s/../normalizers", exe);
            if (stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode))
                return buf;
        }
    }
    return MW_DEFAULT_NORMALIZERS_DIR;
}
