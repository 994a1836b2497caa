/* eql_census.c - how many real EQL queries the parser accepts
 *
 *   eql_census [-v] [--min-corpus N] [--min-suite N] QUERIES.jsonl SUITE_DIR
 *
 * Parses every query of Elastic's detection rules (QUERIES.jsonl: one JSON
 * object per rule; those with "language": "eql") and of Elasticsearch's EQL
 * QA suite (the .toml files of SUITE_DIR: the `query = '''...'''`, `'...'` and "..."
 * entries of each [[queries]] table) with mw_eql_parse, and prints one line
 * per failure (rule id and name, or suite file and query name, and the
 * error with its caret) and a summary per set. A suite query is parsed with
 * its file and line as origin, so its errors point into the .toml file.
 * -v also prints each query's AST as JSON. Exits 1 when a set parses fewer
 * queries than its --min, 2 on a usage or I/O error. Offline; well under a
 * second for both sets.
 */
#include "mw_buf.h"
#include "mw_builder.h"
#include "mw_eql.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int verbose;

struct tally {
    size_t total;
    size_t ok;
    bool compile;     /* also compile (the corpus) */
    size_t compiled;  /* compiled into builder calls */
    size_t unlisted;  /* compile errors that are not a listed refusal */
    struct reason {
        char text[96];
        size_t n;
    } reasons[64];
    size_t nreasons;
};

/* A refusal's reason: the message up to its first " (" or ';'. */
static void count_reason(struct tally *t, const char *msg)
{
    char r[96];
    size_t n = 0;
    while (msg[n] && !(msg[n] == ' ' && msg[n + 1] == '(') && msg[n] != ';' &&
           n + 1 < sizeof(r))
        n++;
    while (n > 0 && (msg[n - 1] == ' ' || msg[n - 1] == ':'))
        n--;
    memcpy(r, msg, n);
    r[n] = '\0';
    for (size_t i = 0; i < t->nreasons; i++)
        if (strcmp(t->reasons[i].text, r) == 0) {
            t->reasons[i].n++;
            return;
        }
    if (t->nreasons < sizeof(t->reasons) / sizeof(t->reasons[0])) {
        memcpy(t->reasons[t->nreasons].text, r, n + 1);
        t->reasons[t->nreasons++].n = 1;
    }
}

/* Compiles q through a rule builder as `moonwatch check` would. */
static void compile(struct tally *t, const char *who, const struct mw_eql_query *q,
                    const char *text, size_t len, const struct mw_eql_origin *at)
{
    struct mw_rule_builder *b = mw_rb_new("census");
    struct mw_rb_meta m = {.id = "census", .name = "census", .risk_score = -1};
    struct mw_eql_error err;
    struct mw_error e;
    mw_eql_error_init(&err);
    mw_rb_meta(b, &m, "census", &e);
    if (mw_eql_compile(b, q, text, len, at, &err) == 0) {
        struct mw_rule *r = mw_rb_finish(b, &e);
        b = NULL;
        if (r != NULL)
            t->compiled++;
        else
            t->unlisted++, printf("corpus COMPILE %s\n%s\n", who, e.msg);
        mw_rule_free(r);
    } else if (strncmp(err.msg.ptr, "not supported", 13) == 0) {
        count_reason(t, err.msg.ptr);
        if (verbose)
            printf("corpus refused %s\n%s\n", who, err.text.ptr);
    } else {
        t->unlisted++;
        printf("corpus COMPILE %s\n%s\n", who, err.text.ptr);
    }
    mw_rb_free(b);
    mw_eql_error_release(&err);
}

static void dump_ast(const struct mw_eql_query *q)
{
    json_t *d = mw_eql_dump(q);
    char *s = json_dumps(d, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("  ast: %s\n", s != NULL ? s : "(not dumpable)");
    free(s);
    json_decref(d);
}

static void one(struct tally *t, const char *set, const char *who, const char *text,
                size_t len, const struct mw_eql_origin *at)
{
    struct mw_eql_error err;
    mw_eql_error_init(&err);
    t->total++;
    struct mw_eql_query *q = mw_eql_parse(text, len, at, &err);
    if (q != NULL) {
        t->ok++;
        if (verbose) {
            printf("%s ok %s\n", set, who);
            dump_ast(q);
        }
        if (t->compile)
            compile(t, who, q, text, len, at);
    } else {
        printf("%s FAIL %s\n%s\n", set, who, err.text.ptr);
    }
    mw_eql_free(q);
    mw_eql_error_release(&err);
}

/* ---------------------------------------------------------------------- */
/* Elastic's detection rules                                               */

static int corpus(const char *path, struct tally *t)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        perror(path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    size_t lineno = 0;
    while ((n = getline(&line, &cap, fp)) >= 0) {
        json_error_t jerr;
        lineno++;
        json_t *o = json_loadb(line, (size_t)n, 0, &jerr);
        if (o == NULL) {
            fprintf(stderr, "%s:%zu: %s\n", path, lineno, jerr.text);
            continue;
        }
        const char *lang = json_string_value(json_object_get(o, "language"));
        json_t *query = json_object_get(o, "query");
        if (lang != NULL && strcmp(lang, "eql") == 0 && json_is_string(query)) {
            struct mw_buf who = MW_BUF_INIT;
            const char *id = json_string_value(json_object_get(o, "rule_id"));
            const char *name = json_string_value(json_object_get(o, "name"));
            mw_buf_addf(&who, "%s \"%s\" (%s line %zu)", id ? id : "?", name ? name : "?",
                        path, lineno);
            one(t, "corpus", who.ptr, json_string_value(query), json_string_length(query),
                NULL);
            mw_buf_release(&who);
        }
        json_decref(o);
    }
    free(line);
    fclose(fp);
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Elasticsearch's QA suite (TOML)                                         */

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        perror(path);
        return NULL;
    }
    struct mw_buf b = MW_BUF_INIT;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        mw_buf_add(&b, chunk, got);
    fclose(fp);
    return mw_buf_detach(&b, len);
}

static unsigned line_of(const char *s, const char *p)
{
    unsigned l = 1;
    for (; s < p; s++)
        l += *s == '\n';
    return l;
}

/* Decodes a TOML basic string body (between the quotes) into b. */
static void toml_basic(const char *s, size_t n, struct mw_buf *b)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\' || i + 1 == n) {
            mw_buf_addc(b, s[i]);
            continue;
        }
        char e = s[++i];
        mw_buf_addc(b, e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e);
    }
}

static int suite_file(const char *path, const char *label, struct tally *t)
{
    size_t len;
    char *text = slurp(path, &len);
    if (text == NULL)
        return -1;
    struct mw_buf name = MW_BUF_INIT;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if (strncmp(p, "name", 4) == 0 && (p[4] == ' ' || p[4] == '=')) {
            const char *q1 = memchr(p, '"', (size_t)(eol - p));
            const char *q2 = q1 ? memchr(q1 + 1, '"', (size_t)(eol - q1 - 1)) : NULL;
            mw_buf_reset(&name);
            if (q1 && q2)
                mw_buf_add(&name, q1 + 1, (size_t)(q2 - q1 - 1));
        } else if (strncmp(p, "query", 5) == 0 && (p[5] == ' ' || p[5] == '=')) {
            const char *v = memchr(p, '=', (size_t)(eol - p));
            if (v == NULL)
                goto next;
            v++;
            while (v < eol && *v == ' ')
                v++;
            struct mw_buf who = MW_BUF_INIT;
            struct mw_buf body = MW_BUF_INIT;
            struct mw_eql_origin at = {.file = label};
            const char *qs = NULL, *qe = NULL;
            if (end - v >= 3 && strncmp(v, "'''", 3) == 0) {
                qs = v + 3;
                if (qs < end && *qs == '\n') /* TOML trims that newline */
                    qs++;
                qe = strstr(qs, "'''");
                if (qe == NULL)
                    qe = end;
                mw_buf_add(&body, qs, (size_t)(qe - qs));
                eol = qe;
            } else if (*v == '\'' || *v == '"') {
                qs = v + 1;
                qe = memchr(qs, *v, (size_t)(eol - qs));
                while (qe != NULL && *v == '"' && qe[-1] == '\\')
                    qe = memchr(qe + 1, '"', (size_t)(eol - qe - 1));
                if (qe == NULL)
                    qe = eol;
                if (*v == '"')
                    toml_basic(qs, (size_t)(qe - qs), &body);
                else
                    mw_buf_add(&body, qs, (size_t)(qe - qs));
            }
            if (qs != NULL) {
                /* origin: the query's first byte in the file (exact for
                 * literal strings; basic strings have no escapes here) */
                at.line = line_of(text, qs);
                const char *ls = qs;
                while (ls > text && ls[-1] != '\n')
                    ls--;
                at.col = (unsigned)(qs - ls) + 1;
                mw_buf_addf(&who, "%s \"%s\"", label, name.ptr);
                one(t, "suite", who.ptr, body.ptr, body.len, &at);
            }
            mw_buf_release(&who);
            mw_buf_release(&body);
        }
    next:
        p = eol < end ? eol + 1 : end;
    }
    mw_buf_release(&name);
    free(text);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int suite(const char *dir, struct tally *t)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        perror(dir);
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".toml") != 0)
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), by_name);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct mw_buf path = MW_BUF_INIT;
        mw_buf_addf(&path, "%s/%s", dir, names[i]);
        if (suite_file(path.ptr, path.ptr, t) < 0)
            rc = -1;
        mw_buf_release(&path);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    long min_corpus = 0, min_suite = 0;
    int i;
    for (i = 1; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = 1;
        else if (strcmp(argv[i], "--min-corpus") == 0 && i + 1 < argc)
            min_corpus = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--min-suite") == 0 && i + 1 < argc)
            min_suite = strtol(argv[++i], NULL, 10);
        else
            break;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: eql_census [-v] [--min-corpus N] [--min-suite N] "
                        "QUERIES.jsonl SUITE_DIR\n");
        return 2;
    }
    static struct tally c, s;
    c.compile = true;
    if (corpus(argv[i], &c) < 0 || suite(argv[i + 1], &s) < 0)
        return 2;
    printf("eql census: corpus %zu/%zu parse, suite %zu/%zu parse\n", c.ok, c.total, s.ok,
           s.total);
    printf("eql census: corpus %zu/%zu compile, %zu refused with a listed reason, %zu "
           "other compile errors\n",
           c.compiled, c.total, c.ok - c.compiled - c.unlisted, c.unlisted);
    for (size_t k = 0; k < c.nreasons; k++)
        printf("  refused %4zu  %s\n", c.reasons[k].n, c.reasons[k].text);
    if (c.unlisted > 0) {
        printf("eql census: %zu corpus queries failed to compile without a listed reason\n",
               c.unlisted);
        return 1;
    }
    if ((long)c.ok < min_corpus || (long)s.ok < min_suite) {
        printf("eql census: below the threshold (corpus %ld, suite %ld)\n", min_corpus,
               min_suite);
        return 1;
    }
    return 0;
}
