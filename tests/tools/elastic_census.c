/* elastic_census.c - how much of Elastic's detection-rules corpus the
 * front-end reads: TOML files, KQL queries, rule types and languages
 *
 *   elastic_census [--list] [--json FILE] CORPUS_DIR
 *
 * Reads every .toml under CORPUS_DIR/rules and CORPUS_DIR/rules_building_block
 * (in path order) with mw_toml_load_file, takes [rule] type and language,
 * parses the query of every rule whose language is "kuery" with
 * mw_kql_parse and asks mw_kql_check what the streaming engine could not
 * compile yet. When CORPUS_DIR/rules-index.tsv is there, every rule's type
 * and language read from its TOML are compared with the index (a check on
 * the TOML reader). Prints one table (per type: rules, kuery rules, KQL
 * parsed, KQL streamable; per language: rules), the TOML and KQL failures
 * with their messages, the unsupported constructs with how many rules each
 * touches (--list: every rule), then one machine-readable line:
 *
 *   census: toml P/N kql P/N streamable S/N index-mismatch M
 *
 * --json FILE also writes the counts as one JSON object. Exit 0 whenever
 * the corpus could be read (thresholds are tests/tools/elastic_census.sh's
 * job), 2 on usage or I/O errors. Paths and messages live in growable
 * buffers; the only fixed tables are the known rule types.
 */
#include "mw_buf.h"
#include "mw_dict.h"
#include "mw_file.h"
#include "mw_kql.h"
#include "mw_mem.h"
#include "mw_toml.h"

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------------- */
/* file list                                                               */

struct list {
    char **v;
    size_t n, cap;
};

static void list_add(struct list *l, char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = s;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Adds every .toml under dir (recursively) to out; -1 if dir is unreadable. */
static int walk(const char *dir, struct list *out)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = mw_path_join(dir, de->d_name);
        struct stat sb;
        if (lstat(path, &sb) != 0) {
            free(path);
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            walk(path, out);
            free(path);
        } else if (S_ISREG(sb.st_mode) && ends_with(path, ".toml")) {
            list_add(out, path);
        } else {
            free(path);
        }
    }
    closedir(d);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* counts                                                                  */

static const char *const types[] = {
    "query", "eql", "esql", "threshold", "new_terms", "machine_learning", "threat_match"};
#define NTYPES (sizeof(types) / sizeof(types[0]))

struct row {
    long rules, kuery, kql_ok, streamable;
};

struct reason {
    char *text; /* owned */
    long rules;
};

struct census {
    long files, toml_ok, kql, kql_ok, streamable, mismatch, no_index;
    struct row type_rows[NTYPES + 1]; /* last: other types */
    struct mw_dict *langs;            /* language -> long* (owned) */
    struct list lang_names;           /* owned strings, first-seen order */
    struct reason *reasons;           /* owned array */
    size_t nreasons;
    struct mw_buf toml_fail, kql_fail, unsupported; /* listings */
};

static long *lang_slot(struct census *c, const char *lang)
{
    long *n = mw_dict_get(c->langs, lang, strlen(lang));
    if (n == NULL) {
        n = xcalloc(1, sizeof(*n));
        mw_dict_put(c->langs, lang, strlen(lang), n);
        list_add(&c->lang_names, xstrdup(lang));
    }
    return n;
}

static void count_reason(struct census *c, const char *text, size_t len)
{
    for (size_t i = 0; i < c->nreasons; i++)
        if (strlen(c->reasons[i].text) == len &&
            memcmp(c->reasons[i].text, text, len) == 0) {
            c->reasons[i].rules++;
            return;
        }
    c->reasons = xrealloc(c->reasons, (c->nreasons + 1) * sizeof(*c->reasons));
    c->reasons[c->nreasons].text = xstrndup(text, len);
    c->reasons[c->nreasons].rules = 1;
    c->nreasons++;
}

/* The reasons of one rule (lines "L:C: reason"), each counted once. */
static void count_reasons(struct census *c, const char *why)
{
    const char **seen = NULL;
    size_t *seen_len = NULL, nseen = 0;
    for (const char *line = why; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        const char *r = memchr(line, ' ', len);
        if (r != NULL) {
            r++;
            size_t rlen = len - (size_t)(r - line);
            bool dup = false;
            for (size_t i = 0; i < nseen && !dup; i++)
                dup = seen_len[i] == rlen && memcmp(seen[i], r, rlen) == 0;
            if (!dup) {
                seen = xrealloc(seen, (nseen + 1) * sizeof(*seen));
                seen_len = xrealloc(seen_len, (nseen + 1) * sizeof(*seen_len));
                seen[nseen] = r;
                seen_len[nseen++] = rlen;
                count_reason(c, r, rlen);
            }
        }
        line = nl != NULL ? nl + 1 : line + len;
    }
    free(seen);
    free(seen_len);
}

/* rules-index.tsv: path -> "type\tlanguage" (owned strings) */
static struct mw_dict *load_index(const char *root, long *rows)
{
    char *path = mw_path_join(root, "rules-index.tsv");
    struct mw_error err;
    size_t len = 0;
    char *buf = mw_file_read(path, 64u * 1024 * 1024, &len, &err);
    free(path);
    *rows = 0;
    if (buf == NULL)
        return NULL;
    struct mw_dict *d = mw_dict_new();
    char *save = NULL;
    bool header = true;
    for (char *line = strtok_r(buf, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (header) {
            header = false;
            continue;
        }
        /* rule_id type language building_block cloud groups path name */
        char *f[8] = {0};
        size_t nf = 0;
        char *p = line;
        while (nf < 8) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (tab == NULL)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf < 7)
            continue;
        struct mw_buf v = MW_BUF_INIT;
        mw_buf_addf(&v, "%s\t%s", f[1], f[2]);
        free(mw_dict_put(d, f[6], strlen(f[6]), mw_buf_detach(&v, NULL)));
        (*rows)++;
    }
    free(buf);
    return d;
}

static void free_value(const void *key, size_t klen, void *val, void *ud)
{
    (void)key;
    (void)klen;
    (void)ud;
    free(val);
}

static const char *str_at(json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

static void census_file(struct census *c, const char *root, const char *path,
                        struct mw_dict *index, bool list)
{
    struct mw_error err;
    const char *rel = path + strlen(root) + (root[strlen(root) - 1] == '/' ? 0 : 1);
    c->files++;
    json_t *doc = mw_toml_load_file(path, &err);
    if (doc == NULL) {
        mw_buf_addf(&c->toml_fail, "  %s\n", err.msg);
        return;
    }
    c->toml_ok++;
    json_t *rule = json_object_get(doc, "rule");
    const char *type = str_at(rule, "type");
    const char *lang = str_at(rule, "language");
    size_t t = 0;
    while (t < NTYPES && strcmp(types[t], type) != 0)
        t++;
    struct row *row = &c->type_rows[t];
    row->rules++;
    (*lang_slot(c, *lang ? lang : "(none)"))++;
    if (index != NULL) {
        const char *want = mw_dict_get(index, rel, strlen(rel));
        struct mw_buf got = MW_BUF_INIT;
        mw_buf_addf(&got, "%s\t%s", type, lang);
        if (want == NULL)
            c->no_index++;
        else if (strcmp(want, got.ptr) != 0)
            c->mismatch++;
        mw_buf_release(&got);
    }
    if (strcmp(lang, "kuery") == 0) {
        const char *q = str_at(rule, "query");
        struct mw_buf kerr = MW_BUF_INIT;
        c->kql++;
        row->kuery++;
        struct mw_kql_node *n = mw_kql_parse(q, strlen(q), &kerr);
        if (n == NULL) {
            mw_buf_addf(&c->kql_fail, "  %s:\n%s\n", rel, kerr.ptr);
        } else {
            c->kql_ok++;
            row->kql_ok++;
            mw_buf_reset(&kerr);
            if (mw_kql_check(n, &kerr) == 0) {
                c->streamable++;
                row->streamable++;
            } else {
                count_reasons(c, kerr.ptr);
                if (list)
                    mw_buf_addf(&c->unsupported, "  %s:\n%s", rel, kerr.ptr);
            }
            mw_kql_free(n);
        }
        mw_buf_release(&kerr);
    }
    json_decref(doc);
}

static double pct(long a, long b)
{
    return b > 0 ? 100.0 * (double)a / (double)b : 0.0;
}

int main(int argc, char **argv)
{
    const char *root = NULL, *json_out = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0)
            list = true;
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            json_out = argv[++i];
        else if (argv[i][0] != '-' && root == NULL)
            root = argv[i];
        else
            root = NULL, i = argc;
    }
    if (root == NULL) {
        fprintf(stderr, "usage: elastic_census [--list] [--json FILE] CORPUS_DIR\n");
        return 2;
    }
    struct list files = {0};
    static const char *const subdirs[] = {"rules", "rules_building_block"};
    for (size_t i = 0; i < 2; i++) {
        char *dir = mw_path_join(root, subdirs[i]);
        if (walk(dir, &files) != 0) {
            fprintf(stderr, "elastic_census: cannot read %s\n", dir);
            free(dir);
            return 2;
        }
        free(dir);
    }
    if (files.n > 0)
        qsort(files.v, files.n, sizeof(*files.v), by_name);
    long index_rows = 0;
    struct mw_dict *index = load_index(root, &index_rows);

    struct census c;
    memset(&c, 0, sizeof(c));
    c.langs = mw_dict_new();
    mw_buf_init(&c.toml_fail);
    mw_buf_init(&c.kql_fail);
    mw_buf_init(&c.unsupported);
    for (size_t i = 0; i < files.n; i++)
        census_file(&c, root, files.v[i], index, list);

    printf("elastic census: %s\n", root);
    printf("  TOML files %ld, parsed %ld (%.1f%%), failed %ld\n", c.files, c.toml_ok,
           pct(c.toml_ok, c.files), c.files - c.toml_ok);
    if (index != NULL)
        printf("  rules-index.tsv: %ld rows; type/language differ for %ld rules, "
               "%ld files not indexed\n",
               index_rows, c.mismatch, c.no_index);
    printf("\n  %-18s %7s %7s %11s %11s\n", "type", "rules", "kuery", "KQL parsed",
           "streamable");
    for (size_t t = 0; t <= NTYPES; t++) {
        const struct row *r = &c.type_rows[t];
        if (t == NTYPES && r->rules == 0)
            continue;
        printf("  %-18s %7ld %7ld %11ld %11ld\n", t < NTYPES ? types[t] : "(other)",
               r->rules, r->kuery, r->kql_ok, r->streamable);
    }
    printf("  %-18s %7ld %7ld %11ld %11ld\n", "total", c.toml_ok, c.kql, c.kql_ok,
           c.streamable);
    printf("\n  %-18s %7s\n", "language", "rules");
    for (size_t i = 0; i < c.lang_names.n; i++)
        printf(
            "  %-18s %7ld\n", c.lang_names.v[i],
            *(long *)mw_dict_get(c.langs, c.lang_names.v[i], strlen(c.lang_names.v[i])));
    if (c.toml_fail.len > 0)
        printf("\nTOML failures:\n%s", c.toml_fail.ptr);
    if (c.kql_fail.len > 0)
        printf("\nKQL failures:\n%s", c.kql_fail.ptr);
    if (c.nreasons > 0) {
        printf("\nKQL parsed but not streamable yet (rules touched, reason):\n");
        for (size_t i = 0; i < c.nreasons; i++)
            printf("  %5ld  %s\n", c.reasons[i].rules, c.reasons[i].text);
    }
    if (list && c.unsupported.len > 0)
        printf("\nper rule:\n%s", c.unsupported.ptr);
    printf("\ncensus: toml %ld/%ld kql %ld/%ld streamable %ld/%ld index-mismatch %ld\n",
           c.toml_ok, c.files, c.kql_ok, c.kql, c.streamable, c.kql, c.mismatch);

    int rc = 0;
    if (json_out != NULL) {
        json_t *j =
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "toml_files", (json_int_t)c.files,
                      "toml_parsed", (json_int_t)c.toml_ok, "kuery", (json_int_t)c.kql,
                      "kql_parsed", (json_int_t)c.kql_ok, "streamable",
                      (json_int_t)c.streamable, "index_mismatch", (json_int_t)c.mismatch);
        json_t *bytype = json_object();
        for (size_t t = 0; t < NTYPES; t++)
            json_object_set_new(bytype, types[t],
                                json_pack("{s:I, s:I, s:I, s:I}", "rules",
                                          (json_int_t)c.type_rows[t].rules, "kuery",
                                          (json_int_t)c.type_rows[t].kuery, "kql_parsed",
                                          (json_int_t)c.type_rows[t].kql_ok, "streamable",
                                          (json_int_t)c.type_rows[t].streamable));
        json_object_set_new(j, "types", bytype);
        if (json_dump_file(j, json_out, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
            fprintf(stderr, "elastic_census: cannot write %s\n", json_out);
            rc = 2;
        }
        json_decref(j);
    }

    for (size_t i = 0; i < files.n; i++)
        free(files.v[i]);
    free(files.v);
    for (size_t i = 0; i < c.lang_names.n; i++)
        free(c.lang_names.v[i]);
    free(c.lang_names.v);
    mw_dict_foreach(c.langs, free_value, NULL);
    mw_dict_free(c.langs);
    if (index != NULL) {
        mw_dict_foreach(index, free_value, NULL);
        mw_dict_free(index);
    }
    for (size_t i = 0; i < c.nreasons; i++)
        free(c.reasons[i].text);
    free(c.reasons);
    mw_buf_release(&c.toml_fail);
    mw_buf_release(&c.kql_fail);
    mw_buf_release(&c.unsupported);
    return rc;
}
