/* eql_load.c - `.eql` rule files: a metadata header, then one EQL query
 *
 * The format (docs/EQL.md#eql-rule-files): the file is one EQL query; its
 * leading `//` comment lines form the header, and those of the form
 * `// key: value` with a known key set the rule's metadata (list keys may
 * repeat, one value per line; description and note lines are joined).
 * A `// word:` line whose word is not a known key is an error (a typo), any
 * other comment line is free text. Since the header is made of EQL comments,
 * the whole file is handed to the parser as is and every position it
 * reports is the file's own line and column.
 */
#include "mw_builder.h"
#include "mw_eql.h"
#include "mw_file.h"
#include "mw_mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EQL_FILE_MAX (4u << 20)

enum hkind { H_TEXT, H_JOIN, H_LIST, H_INT };

static const struct {
    const char *key;
    enum hkind kind;
} header_keys[] = {
    {"id", H_TEXT},
    {"name", H_TEXT},
    {"severity", H_TEXT},
    {"license", H_TEXT},
    {"message", H_TEXT},
    {"description", H_JOIN},
    {"note", H_JOIN},
    {"risk_score", H_INT},
    {"version", H_INT},
    {"tags", H_LIST},
    {"references", H_LIST},
    {"author", H_LIST},
    {"false_positives", H_LIST},
};
#define NKEYS (sizeof(header_keys) / sizeof(header_keys[0]))

struct header {
    struct mw_buf text[NKEYS];
    bool seen[NKEYS];
    json_t *list[NKEYS];
    long num[NKEYS];
};

static int header_fail(struct mw_error *err, const char *path, unsigned line,
                       unsigned col, const char *msg, const char *key)
{
    return mw_error_set(err, "%s:%u:%u: %s '%.60s'", path, line, col, msg, key);
}

/* Reads the header of text into h. 0 or -1 (err). */
static int read_header(const char *path, const char *text, size_t len, struct header *h,
                       struct mw_error *err)
{
    size_t pos = 0;
    unsigned line = 0;
    while (pos < len) {
        size_t end = pos, p;
        while (end < len && text[end] != '\n')
            end++;
        line++;
        p = pos;
        while (p < end && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r'))
            p++;
        if (p == end) { /* blank line */
            pos = end + 1;
            continue;
        }
        if (end - p < 2 || text[p] != '/' || text[p + 1] != '/')
            break;
        p += 2;
        while (p < end && text[p] == ' ')
            p++;
        size_t k = p;
        while (k < end && (islower((unsigned char)text[k]) || text[k] == '_'))
            k++;
        if (k > p && k < end && text[k] == ':') {
            size_t klen = k - p, v = k + 1, ve = end;
            size_t i;
            while (v < ve && text[v] == ' ')
                v++;
            while (ve > v && (text[ve - 1] == ' ' || text[ve - 1] == '\r'))
                ve--;
            for (i = 0; i < NKEYS; i++)
                if (strlen(header_keys[i].key) == klen &&
                    memcmp(header_keys[i].key, text + p, klen) == 0)
                    break;
            char key[64];
            snprintf(key, sizeof(key), "%.*s", (int)(klen < 60 ? klen : 60), text + p);
            if (i == NKEYS)
                return header_fail(err, path, line, (unsigned)(p - pos + 1),
                                   "unknown header key (id, name, description, severity, "
                                   "risk_score, version, license, message, note, tags, "
                                   "references, author, false_positives)",
                                   key);
            if (h->seen[i] && header_keys[i].kind != H_LIST &&
                header_keys[i].kind != H_JOIN)
                return header_fail(err, path, line, (unsigned)(p - pos + 1),
                                   "header key given twice:", key);
            switch (header_keys[i].kind) {
            case H_TEXT:
                mw_buf_add(&h->text[i], text + v, ve - v);
                break;
            case H_JOIN:
                if (h->seen[i])
                    mw_buf_addc(&h->text[i],
                                strcmp(header_keys[i].key, "note") == 0 ? '\n' : ' ');
                mw_buf_add(&h->text[i], text + v, ve - v);
                break;
            case H_LIST: {
                json_t *s = json_stringn(text + v, ve - v);
                if (s == NULL)
                    return header_fail(err, path, line, (unsigned)(v - pos + 1),
                                       "header value is not UTF-8 text:", key);
                if (h->list[i] == NULL)
                    h->list[i] = json_array();
                json_array_append_new(h->list[i], s);
                break;
            }
            case H_INT: {
                char buf[32], *e;
                snprintf(buf, sizeof(buf), "%.*s", (int)(ve - v < 30 ? ve - v : 30),
                         text + v);
                h->num[i] = strtol(buf, &e, 10);
                if (e == buf || *e != '\0' || h->num[i] < 0 || h->num[i] > 1073741824)
                    return header_fail(
                        err, path, line, (unsigned)(v - pos + 1),
                        "header value must be a non-negative integer:", key);
                break;
            }
            }
            h->seen[i] = true;
        }
        pos = end + 1;
    }
    return 0;
}

static const char *htext(const struct header *h, const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(header_keys[i].key, key) == 0)
            return h->seen[i] ? h->text[i].ptr : NULL;
    return NULL;
}

static size_t hidx(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(header_keys[i].key, key) == 0)
            return i;
    return 0;
}

struct mw_rule *mw_eql_load(const char *path, const char *lua_dir,
                            const struct mw_sandbox_limits *limits, struct mw_error *err)
{
    struct header h;
    struct mw_rb_meta m = {0};
    struct mw_rule_builder *b = NULL;
    struct mw_rule *r = NULL;
    struct mw_eql_error ee;
    struct mw_eql_origin at = {.file = path, .line = 1, .col = 1};
    size_t len;
    char *text;
    (void)lua_dir;
    (void)limits;

    memset(&h, 0, sizeof(h));
    for (size_t i = 0; i < NKEYS; i++)
        mw_buf_init(&h.text[i]);
    mw_eql_error_init(&ee);
    text = mw_file_read(path, EQL_FILE_MAX, &len, err);
    if (text == NULL)
        goto out;
    if (read_header(path, text, len, &h, err) < 0)
        goto out;
    b = mw_rb_new(path);
    m.id = htext(&h, "id");
    m.name = htext(&h, "name");
    m.description = htext(&h, "description");
    m.severity = htext(&h, "severity");
    m.license = htext(&h, "license");
    m.note = htext(&h, "note");
    m.message = htext(&h, "message");
    m.risk_score = h.seen[hidx("risk_score")] ? (int)h.num[hidx("risk_score")] : -1;
    m.version = h.seen[hidx("version")] ? (int)h.num[hidx("version")] : 0;
    m.tags = h.list[hidx("tags")];
    m.references = h.list[hidx("references")];
    m.author = h.list[hidx("author")];
    m.false_positives = h.list[hidx("false_positives")];
    if (m.id == NULL || m.name == NULL) {
        mw_error_set(err,
                     "%s:1:1: an .eql rule needs the header lines '// id: ...' and "
                     "'// name: ...'",
                     path);
        goto out;
    }
    if (mw_rb_meta(b, &m, path, err) < 0)
        goto out;
    if (mw_eql_build(b, text, len, &at, &ee) < 0) {
        mw_error_set(err, "%s", ee.text.ptr);
        goto out;
    }
    r = mw_rb_finish(b, err);
    b = NULL;
out:
    mw_rb_free(b);
    free(text);
    mw_eql_error_release(&ee);
    for (size_t i = 0; i < NKEYS; i++) {
        mw_buf_release(&h.text[i]);
        json_decref(h.list[i]);
    }
    return r;
}

/* Line and column (1-based, columns in UTF-8 characters) of the first byte
 * of q in the file text, searched from the start of line line_hint; false
 * when it is not there verbatim (a string with escapes). */
static bool locate(const char *ft, size_t flen, unsigned line_hint, const char *q,
                   size_t qlen, struct mw_eql_origin *o)
{
    size_t pos = 0;
    unsigned line = 1;
    while (line < line_hint && pos < flen) {
        if (ft[pos++] == '\n')
            line++;
    }
    for (size_t i = pos; qlen > 0 && i + qlen <= flen; i++) {
        if (ft[i] == '\n') {
            line++;
            continue;
        }
        if (memcmp(ft + i, q, qlen) == 0) {
            size_t ls = i;
            unsigned col = 1;
            while (ls > 0 && ft[ls - 1] != '\n')
                ls--;
            for (size_t k = ls; k < i; k++)
                if (((unsigned char)ft[k] & 0xC0) != 0x80)
                    col++;
            o->line = line;
            o->col = col;
            return true;
        }
    }
    return false;
}

int mw_eql_build_in_file(struct mw_rule_builder *b, const char *path, unsigned line_hint,
                         const char *text, size_t len, struct mw_error *err)
{
    struct mw_eql_origin at = {.file = path, .line = line_hint ? line_hint : 1, .col = 1};
    struct mw_eql_error ee;
    struct mw_error ferr;
    size_t flen;
    char *ft = mw_file_read(path, EQL_FILE_MAX, &flen, &ferr);
    int rc;

    if (ft != NULL)
        locate(ft, flen, line_hint, text, len, &at);
    free(ft);
    mw_eql_error_init(&ee);
    rc = mw_eql_build(b, text, len, &at, &ee);
    if (rc < 0)
        mw_error_set(err, "%s", ee.text.ptr);
    mw_eql_error_release(&ee);
    return rc;
}
