/* src_azure.c - the "azure" source kind: raw Azure diagnostic logs from a
 * file, split into records and normalized into the ECS lines rules read
 *
 * Spec: azure:PATH[,dataset=NAME][,normalizers=DIR]. PATH is read by the
 * file kind (mw_src_file_ops: files, .gz, stdin, follow mode, rotation,
 * checkpoints); each of its lines is one message (NDJSON of Event Hubs
 * messages or of records), or, when a line opens a JSON value it does not
 * close, the first line of a whole-file document (pretty-printed exports),
 * gathered until its brackets balance (up to MAX_DOC bytes). A message is
 * split (mw_azure_split), each record normalized (mw_norm.h: dataset= of
 * the spec first, then the record's category) and handed out as one compact
 * NDJSON line with the message's line number and offset. A record that is
 * already ECS (@timestamp or event.dataset) is handed out unchanged.
 *
 * Nothing is dropped silently: what cannot become an event is handed out
 * as a line the parser rejects, so the run loop counts it and dead-letters
 * it with input, line, reason and the raw text: the original text when a
 * message is not JSON (malformed_json); `["<why>", <element>]` for an
 * element that is not a record (not_object); `{"moonwatch_rejected":
 * "<why>", "raw": <record>}` for a record no normalizer can map
 * (missing_timestamp). docs/AZURE.md lists the cases.
 *
 * Positions are the file kind's: resuming at a message re-reads all of its
 * records (at-least-once within one message; alert ids dedup the rest).
 */
#include "mw_azure.h"
#include "mw_buf.h"
#include "mw_input.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_norm.h"
#include "mw_source.h"

#include <stdlib.h>
#include <string.h>

extern const struct mw_source_ops mw_src_file_ops; /* src_file.c */

#define MAX_DOC (256u * 1024 * 1024) /* a whole-file document, bytes */

struct item {
    char *text; /* owned, NUL-terminated */
    size_t len;
    uint64_t lineno, offset, gen;
};

struct azure {
    void *file;               /* owned: the file kind's state */
    char *name;               /* owned: "azure:PATH" */
    char *dataset;            /* owned or NULL: dataset= */
    struct mw_normset *norms; /* owned */
    bool repair;              /* some normalizer asks for the "":"", repair */
    struct item *q;           /* owned: records of the current message */
    size_t qn, qhead, qcap;
    char *cur;         /* owned: the line handed out last */
    struct mw_buf doc; /* a multi-line document being gathered */
    bool in_doc;
    int depth; /* bracket depth of doc (outside strings) */
    bool in_str, esc;
    uint64_t doc_line, doc_off, doc_gen;
    uint64_t cur_line, cur_off, cur_gen; /* the message being split */
};

static void push(struct azure *a, char *text, size_t len)
{
    if (a->qn == a->qcap) {
        a->qcap = a->qcap ? a->qcap * 2 : 8;
        a->q = xrealloc(a->q, a->qcap * sizeof(*a->q));
    }
    a->q[a->qn++] = (struct item){text, len, a->cur_line, a->cur_off, a->cur_gen};
}

static void push_json(struct azure *a, json_t *o)
{
    size_t n = json_dumpb(o, NULL, 0, JSON_COMPACT);
    char *s = xmalloc(n + 1);
    json_dumpb(o, s, n, JSON_COMPACT);
    s[n] = '\0';
    push(a, s, n);
}

static void push_text(struct azure *a, const char *text, size_t len)
{
    push(a, xstrndup(text, len), len);
}

struct split_ctx {
    struct azure *a;
    size_t n; /* records in the message */
};

static void on_record(void *vctx, const json_t *rec, size_t index, const char *bad)
{
    struct split_ctx *c = vctx;
    struct azure *a = c->a;
    struct mw_error err;
    json_t *out;

    if (bad != NULL) {
        out = json_pack("[sO]", bad, (json_t *)(uintptr_t)rec);
        push_json(a, out);
        json_decref(out);
        return;
    }
    const json_t *ev = json_object_get(rec, "event");
    if (json_object_get(rec, "@timestamp") != NULL || json_object_get(ev, "dataset")) {
        push_json(a, (json_t *)(uintptr_t)rec); /* already ECS */
        return;
    }
    const struct mw_norm *n = mw_normset_pick(a->norms, rec, a->dataset, &err);
    out = n ? mw_norm_apply(n, rec, &err) : NULL;
    if (out == NULL) {
        out = json_pack("{s:s, s:O}", "moonwatch_rejected", err.msg, "raw",
                        (json_t *)(uintptr_t)rec);
    } else if (c->n > 1) {
        json_t *log = json_object_get(out, "log");
        if (!json_is_object(log)) {
            log = json_object();
            json_object_set_new(out, "log", log);
        }
        json_object_set_new(log, "record_index", json_integer((json_int_t)index));
    }
    push_json(a, out);
    json_decref(out);
}

static bool has_empty_key(const char *text, size_t len)
{
    for (const char *p = text; (p = memchr(p, '"', len - (size_t)(p - text))) != NULL;
         p++)
        if (len - (size_t)(p - text) >= 6 && memcmp(p, "\"\":\"\",", 6) == 0)
            return true;
    return false;
}

/* Splits one complete message text into the queue. */
static void take_message(struct azure *a, const char *text, size_t len)
{
    json_error_t jerr;
    char *fixed = NULL;
    json_t *msg;

    if (a->repair && has_empty_key(text, len)) {
        fixed = xstrndup(text, len);
        mw_norm_repair_text(fixed, &len);
        text = fixed;
    }
    msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (msg == NULL) {
        push_text(a, text, len); /* the parser rejects it as malformed_json */
    } else {
        const json_t *recs = json_object_get(msg, "records");
        struct split_ctx c = {a, json_is_array(recs)  ? json_array_size(recs)
                                 : json_is_array(msg) ? json_array_size(msg)
                                                      : 1};
        if (mw_azure_split(msg, on_record, &c) == 0)
            mw_log_warn("%s:%llu: a message with no records", a->name,
                        (unsigned long long)a->cur_line);
        json_decref(msg);
    }
    free(fixed);
}

/* Scans text for brackets outside strings, updating the document state. */
static void scan(struct azure *a, const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (a->in_str) {
            if (a->esc)
                a->esc = false;
            else if (c == '\\')
                a->esc = true;
            else if (c == '"')
                a->in_str = false;
        } else if (c == '"') {
            a->in_str = true;
        } else if (c == '{' || c == '[') {
            a->depth++;
        } else if (c == '}' || c == ']') {
            a->depth--;
        }
    }
}

static bool opens_value(const char *text, size_t len)
{
    size_t i = 0;
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
        i++;
    return i < len && (text[i] == '{' || text[i] == '[');
}

/* One line of the file: a message, a document's first line, or a line of
 * the document being gathered. */
static void take_line(struct azure *a, const struct mw_line *l)
{
    if (a->in_doc) {
        mw_buf_addc(&a->doc, '\n');
        mw_buf_add(&a->doc, l->text, l->len);
        scan(a, l->text, l->len);
        if (a->depth <= 0 || a->doc.len > MAX_DOC) {
            a->in_doc = false;
            a->cur_line = a->doc_line;
            a->cur_off = a->doc_off;
            a->cur_gen = a->doc_gen;
            if (a->doc.len > MAX_DOC)
                mw_log_warn("%s:%llu: a document over %u bytes", a->name,
                            (unsigned long long)a->doc_line, MAX_DOC);
            take_message(a, a->doc.ptr, a->doc.len);
            mw_buf_reset(&a->doc);
        }
        return;
    }
    a->cur_line = l->lineno;
    a->cur_off = l->offset;
    a->cur_gen = l->gen;
    if (mw_line_is_blank(l->text, l->len)) {
        push_text(a, l->text, l->len);
        return;
    }
    if (opens_value(l->text, l->len)) {
        a->depth = 0;
        a->in_str = a->esc = false;
        scan(a, l->text, l->len);
        if (a->depth > 0 && !a->in_str) {
            a->in_doc = true;
            a->doc_line = l->lineno;
            a->doc_off = l->offset;
            a->doc_gen = l->gen;
            mw_buf_reset(&a->doc);
            mw_buf_add(&a->doc, l->text, l->len);
            return;
        }
    }
    take_message(a, l->text, l->len);
}

/* ---------------------------------------------------------------------- */
/* the kind                                                                */

static void azure_close(void *src)
{
    struct azure *a = src;
    if (a == NULL)
        return;
    if (a->file)
        mw_src_file_ops.close(a->file);
    for (size_t i = a->qhead; i < a->qn; i++)
        free(a->q[i].text);
    free(a->q);
    free(a->cur);
    mw_buf_release(&a->doc);
    mw_normset_free(a->norms);
    free(a->dataset);
    free(a->name);
    free(a);
}

static void *azure_open(const char *rest, const struct mw_source_opts *o,
                        struct mw_error *err)
{
    struct azure *a = xcalloc(1, sizeof(*a));
    char *spec = xstrdup(rest), *opt, *dir = NULL;
    char buf[4096];

    mw_buf_init(&a->doc);
    /* options start at the first ",NAME=" (NAME: letters, digits, - _ .) */
    for (opt = spec; (opt = strchr(opt, ',')) != NULL; opt++) {
        size_t k = strspn(opt + 1, "abcdefghijklmnopqrstuvwxyz0123456789-_.");
        if (k > 0 && opt[1 + k] == '=')
            break;
    }
    if (opt != NULL) {
        *opt++ = '\0';
        for (char *tok = opt, *next; tok != NULL; tok = next) {
            next = strchr(tok, ',');
            if (next != NULL)
                *next++ = '\0';
            if (strncmp(tok, "dataset=", 8) == 0 && tok[8]) {
                free(a->dataset);
                a->dataset = xstrdup(tok + 8);
            } else if (strncmp(tok, "normalizers=", 12) == 0 && tok[12]) {
                free(dir);
                dir = xstrdup(tok + 12);
            } else {
                mw_error_set(err,
                             "azure:%s: unknown option '%s' (dataset=, normalizers=)",
                             rest, tok);
                goto fail;
            }
        }
    }
    if (spec[0] == '\0') {
        mw_error_set(err, "azure: a path is required (azure:PATH[,dataset=NAME])");
        goto fail;
    }
    a->norms = mw_normset_load(dir ? dir : mw_normset_default_dir(buf, sizeof(buf)), err);
    if (a->norms == NULL)
        goto fail;
    if (a->dataset && mw_normset_by_dataset(a->norms, a->dataset) == NULL) {
        mw_error_set(err, "azure:%s: no normalizer for dataset '%s'", spec, a->dataset);
        goto fail;
    }
    a->repair = mw_normset_repairs_empty_keys(a->norms);
    a->file = mw_src_file_ops.open(spec, o, err);
    if (a->file == NULL)
        goto fail;
    mw_buf_init(&a->doc);
    {
        struct mw_buf nb = MW_BUF_INIT;
        mw_buf_addf(&nb, "azure:%s", mw_src_file_ops.name(a->file));
        a->name = mw_buf_detach(&nb, NULL);
    }
    free(spec);
    free(dir);
    return a;

fail:
    free(spec);
    free(dir);
    azure_close(a);
    return NULL;
}

static enum mw_line_status azure_next(void *src, struct mw_line *l, struct mw_error *err)
{
    struct azure *a = src;
    free(a->cur);
    a->cur = NULL;
    while (a->qhead == a->qn) {
        struct mw_line fl;
        enum mw_line_status ls;
        a->qhead = a->qn = 0;
        ls = mw_src_file_ops.next(a->file, &fl, err);
        if (ls == MW_LINE_EOF && a->in_doc) {
            /* a document never closed: hand it out, the parser refuses it */
            a->in_doc = false;
            a->cur_line = a->doc_line;
            a->cur_off = a->doc_off;
            a->cur_gen = a->doc_gen;
            push_text(a, a->doc.ptr ? a->doc.ptr : "", a->doc.len);
            mw_buf_reset(&a->doc);
            break;
        }
        if (ls != MW_LINE_OK) {
            *l = fl;
            return ls;
        }
        take_line(a, &fl);
    }
    struct item *it = &a->q[a->qhead++];
    a->cur = it->text;
    l->text = it->text;
    l->len = it->len;
    l->lineno = it->lineno;
    l->offset = it->offset;
    l->gen = it->gen;
    return MW_LINE_OK;
}

static int azure_position(void *src, const struct mw_line *at, json_t **pos)
{
    struct azure *a = src;
    if (at == NULL && (a->qhead < a->qn || a->in_doc)) {
        /* the first record not handed out belongs to a message read: resume
         * at that message */
        struct mw_line m = {NULL, 0, a->in_doc ? a->doc_line : a->q[a->qhead].lineno,
                            a->in_doc ? a->doc_off : a->q[a->qhead].offset,
                            a->in_doc ? a->doc_gen : a->q[a->qhead].gen};
        return mw_src_file_ops.position(a->file, &m, pos);
    }
    return mw_src_file_ops.position(a->file, at, pos);
}

static void azure_resume(void *src, const json_t *pos)
{
    struct azure *a = src;
    mw_src_file_ops.resume(a->file, pos);
}

static int azure_poll_fd(void *src)
{
    struct azure *a = src;
    return mw_src_file_ops.poll_fd(a->file);
}

static const char *azure_watch_path(void *src)
{
    struct azure *a = src;
    return mw_src_file_ops.watch_path(a->file);
}

static void azure_drain(void *src)
{
    struct azure *a = src;
    mw_src_file_ops.drain(a->file);
}

static const char *azure_name(void *src)
{
    struct azure *a = src;
    return a->name;
}

static uint64_t azure_bytes_read(void *src)
{
    struct azure *a = src;
    return mw_src_file_ops.bytes_read(a->file);
}

const struct mw_source_ops mw_src_azure_ops = {
    .scheme = "azure",
    .open = azure_open,
    .next = azure_next,
    .position = azure_position,
    .resume = azure_resume,
    .poll_fd = azure_poll_fd,
    .watch_path = azure_watch_path,
    .drain = azure_drain,
    .name = azure_name,
    .bytes_read = azure_bytes_read,
    .close = azure_close,
};
