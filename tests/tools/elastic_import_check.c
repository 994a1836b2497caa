/* elastic_import_check.c - loads Elastic's detection-rules corpus through
 * the `.toml` front-end (mw_elastic.h), as `--rules` would
 *
 *   elastic_import_check [--list] CORPUS_DIR
 *
 * Takes every rule of CORPUS_DIR/rules-index.tsv (path, type, cloud flag),
 * loads CORPUS_DIR/<path> with mw_elastic_load_file and prints, per rule
 * type, how many load, then every reason for not loading with how many
 * rules (and cloud rules) it holds (--list: also each rule's message), then
 * one machine-readable line:
 *
 *   import: loaded L/N cloud C/M unexplained U
 *
 * U counts rules that did not load and carry no message at all; the
 * script (elastic_import_check.sh) fails on U > 0, and on a crash. Exit 0
 * when the corpus was read, 2 on usage or I/O errors.
 */
#include "mw_elastic.h"
#include "mw_mem.h"
#include "mw_rule.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 256
#define MAX_TYPES 16

struct group {
    char *reason;
    int n, cloud;
};

struct tstat {
    char type[32];
    int n, loaded, cloud, cloud_loaded;
};

static struct group groups[MAX_GROUPS];
static int ngroups;
static struct tstat types[MAX_TYPES];
static int ntypes;

static struct tstat *tstat_of(const char *t)
{
    for (int i = 0; i < ntypes; i++)
        if (strcmp(types[i].type, t) == 0)
            return &types[i];
    if (ntypes == MAX_TYPES)
        return &types[MAX_TYPES - 1];
    snprintf(types[ntypes].type, sizeof(types[ntypes].type), "%s", t);
    return &types[ntypes++];
}

static void add_reason(const char *reason, bool cloud)
{
    int i;
    for (i = 0; i < ngroups; i++)
        if (strcmp(groups[i].reason, reason) == 0)
            break;
    if (i == ngroups) {
        if (ngroups == MAX_GROUPS)
            i = MAX_GROUPS - 1;
        else
            groups[ngroups++].reason = xstrdup(reason);
    }
    groups[i].n++;
    groups[i].cloud += cloud;
}

static int by_count(const void *a, const void *b)
{
    const struct group *x = a, *y = b;
    return y->n != x->n ? y->n - x->n : strcmp(x->reason, y->reason);
}

/* An error without a refusal class: its message past "path: " and the
 * "KQL l:c: " position, so equal causes group together. */
static const char *message_class(const char *msg, const char *path, char *buf, size_t cap)
{
    size_t pl = strlen(path);
    const char *s = msg;
    if (strncmp(s, path, pl) == 0 && strncmp(s + pl, ": ", 2) == 0)
        s += pl + 2;
    snprintf(buf, cap, "error: %s", s);
    return buf;
}

int main(int argc, char **argv)
{
    bool list = false;
    const char *corpus;
    char path[4096], line[8192], cls[600];
    FILE *idx;
    int total = 0, loaded = 0, cloud = 0, cloud_loaded = 0, unexplained = 0;

    if (argc == 3 && strcmp(argv[1], "--list") == 0) {
        list = true;
        corpus = argv[2];
    } else if (argc == 2) {
        corpus = argv[1];
    } else {
        fprintf(stderr, "usage: elastic_import_check [--list] CORPUS_DIR\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/rules-index.tsv", corpus);
    if ((idx = fopen(path, "r")) == NULL) {
        perror(path);
        return 2;
    }
    if (fgets(line, sizeof(line), idx) == NULL) { /* header */
        fclose(idx);
        return 2;
    }
    while (fgets(line, sizeof(line), idx) != NULL) {
        /* rule_id type language building_block cloud groups path name */
        char *col[8] = {0}, *p = line;
        struct mw_elastic_info info;
        struct mw_error err = {{0}};
        struct mw_rule *r;
        struct tstat *ts;
        bool is_cloud;
        int k = 0;
        line[strcspn(line, "\n")] = '\0';
        while (k < 8 && p != NULL) {
            col[k++] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = '\0';
        }
        if (k < 7)
            continue;
        is_cloud = strcmp(col[4], "1") == 0;
        snprintf(path, sizeof(path), "%s/%s", corpus, col[6]);
        r = mw_elastic_load_file(path, &info, &err);
        ts = tstat_of(info.type[0] ? info.type : col[1]);
        ts->n++;
        ts->cloud += is_cloud;
        total++;
        cloud += is_cloud;
        if (r != NULL) {
            ts->loaded++;
            ts->cloud_loaded += is_cloud;
            loaded++;
            cloud_loaded += is_cloud;
            mw_rule_free(r);
            continue;
        }
        if (info.reason == NULL && err.msg[0] == '\0') {
            unexplained++;
            add_reason("(no reason given)", is_cloud);
        } else {
            add_reason(info.reason ? info.reason
                                   : message_class(err.msg, path, cls, sizeof(cls)),
                       is_cloud);
        }
        if (list)
            printf("  not loaded: %s\n", err.msg);
    }
    fclose(idx);

    printf("elastic import check: %s\n\n", corpus);
    printf("  %-18s %6s %7s %6s  %6s %7s\n", "type", "rules", "loaded", "%", "cloud",
           "loaded");
    for (int i = 0; i < ntypes; i++)
        printf("  %-18s %6d %7d %5.1f%%  %6d %7d\n", types[i].type, types[i].n,
               types[i].loaded, types[i].n ? 100.0 * types[i].loaded / types[i].n : 0.0,
               types[i].cloud, types[i].cloud_loaded);
    printf("  %-18s %6d %7d %5.1f%%  %6d %7d (%.1f%%)\n\n", "total", total, loaded,
           total ? 100.0 * loaded / total : 0.0, cloud, cloud_loaded,
           cloud ? 100.0 * cloud_loaded / cloud : 0.0);
    qsort(groups, (size_t)ngroups, sizeof(groups[0]), by_count);
    printf("  not loaded (rules, of them cloud, reason):\n");
    for (int i = 0; i < ngroups; i++)
        printf("  %6d %5d  %s\n", groups[i].n, groups[i].cloud, groups[i].reason);
    printf("\nimport: loaded %d/%d cloud %d/%d unexplained %d\n", loaded, total,
           cloud_loaded, cloud, unexplained);
    return 0;
}
