/* sink_es.c - the Elasticsearch sink: "elasticsearch:URL/INDEX[,opt=value...]"
 *
 * Alerts go to URL/_bulk, batch=500 by default, each as a "create" action
 * with _id = the alert's event.id, so a batch redelivered after a crash
 * is harmless (409: already indexed counts as delivered). The _bulk
 * response is read item by item: refused items are kept in the spool's
 * rejected file, retryable ones are retried alone. Queueing, retry and
 * spooling are the sink's mw_spool; the transport is mw_http.c.
 */
#include "http_int.h"
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_sink.h"
#include "mw_spool.h"

#include <stdlib.h>
#include <string.h>

/* consecutive unreadable 2xx answers to one batch before it is refused */
#define MAX_UNREADABLE 3

struct es {
    struct mw_http http; /* owned; url is BASE/_bulk */
    int unreadable;      /* consecutive 2xx answers that could not be read */
    char *index;         /* owned */
    struct mw_spool *sp; /* owned */
    struct mw_buf body;  /* owned: the request being sent (sender thread) */
};

static bool retryable(long st)
{
    return st == 0 || st == 408 || st == 429 || st >= 500;
}

/* Reads the _bulk response into per-item verdicts. Returns -1 when it
 * cannot be read (then the whole batch is retried). */
static int bulk_items(struct es *e, size_t n, struct mw_spool_reply *r)
{
    json_t *doc = json_loadb(e->http.resp.ptr, e->http.resp.len, 0, NULL);
    json_t *items = json_object_get(doc, "items");
    if (!json_is_array(items) || json_array_size(items) != n) {
        json_decref(doc);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(items, i);
        json_t *res = json_object_iter_value(json_object_iter(it));
        long st = (long)json_integer_value(json_object_get(res, "status"));
        if ((st >= 200 && st < 300) || st == 409) /* 409: already indexed */
            r->verdict[i] = MW_SPOOL_ITEM_DONE;
        else if (retryable(st))
            r->verdict[i] = MW_SPOOL_ITEM_RETRY;
        else
            r->verdict[i] = MW_SPOOL_ITEM_REFUSED;
    }
    json_decref(doc);
    r->status = 400; /* what the rejected record reports for a refused item */
    return 0;
}

/* Whether a _bulk answer's prefix says every item succeeded: Elasticsearch
 * and OpenSearch put "errors" (true when any item failed) before "items". */
static bool errors_false(const struct mw_buf *resp)
{
    const char *items = mw_http_find(resp->ptr, resp->len, "\"items\"", 7);
    const char *e = mw_http_find(
        resp->ptr, items ? (size_t)(items - resp->ptr) : resp->len, "\"errors\"", 8);
    if (e == NULL)
        return false;
    e += 8;
    while (*e == ' ' || *e == '\t' || *e == '\r' || *e == '\n' || *e == ':')
        e++;
    return strncmp(e, "false", 5) == 0;
}

static enum mw_spool_outcome deliver(void *ctx, const struct mw_spool_item *v, size_t n,
                                     struct mw_spool_reply *r)
{
    struct es *e = ctx;
    enum mw_spool_outcome out;
    long st;
    mw_buf_reset(&e->body);
    for (size_t i = 0; i < n; i++) {
        mw_buf_addf(&e->body, "{\"create\":{\"_index\":\"%s\",\"_id\":\"%s\"}}\n",
                    e->index, v[i].id);
        mw_buf_adds(&e->body, v[i].line);
        mw_buf_addc(&e->body, '\n');
    }
    st = mw_http_post(&e->http, e->body.ptr, e->body.len, r);
    out = mw_http_outcome(&e->http, st, r);
    if (out != MW_SPOOL_SENT || bulk_items(e, n, r) == 0) {
        e->unreadable = 0;
        return out;
    }
    /* a 2xx we cannot read item by item (over MW_HTTP_MAX_RESPONSE, or not
     * JSON): "errors":false in its first bytes says all went in; otherwise
     * resend the batch (harmless: create with _id answers 409 for what got
     * in), and after MAX_UNREADABLE such answers in a row refuse it, so it
     * is kept in the rejected file instead of re-posted forever */
    if (errors_false(&e->http.resp)) {
        e->unreadable = 0;
        return MW_SPOOL_SENT; /* verdicts are all MW_SPOOL_ITEM_DONE */
    }
    if (++e->unreadable < MAX_UNREADABLE) {
        r->why = e->http.resp_truncated ? "_bulk response too large to read"
                                        : "unreadable _bulk response";
        return MW_SPOOL_FAILED;
    }
    e->unreadable = 0;
    r->response = e->http.resp_truncated ? "_bulk response too large to read"
                                         : "unreadable _bulk response";
    return MW_SPOOL_REFUSED;
}

static void es_close(void *sink)
{
    struct es *e = sink;
    if (e == NULL)
        return;
    mw_spool_free(e->sp); /* joins the sender first */
    mw_http_release(&e->http);
    mw_buf_release(&e->body);
    free(e->index);
    free(e);
}

/* URL/INDEX: url becomes URL/_bulk, the index is kept apart. */
static int split_index(struct es *e, struct mw_error *err)
{
    char *url = e->http.url;
    char *slash = strrchr(url, '/');
    struct mw_buf bulk = MW_BUF_INIT;
    if (slash == NULL || slash < strstr(url, "://") + 3 || slash[1] == '\0')
        return mw_error_set(err, "output elasticsearch:%s: expected URL/INDEX",
                            e->http.label);
    *slash = '\0';
    e->index = xstrdup(slash + 1);
    mw_buf_addf(&bulk, "%s/_bulk", url);
    mw_http_set_url(&e->http, mw_buf_detach(&bulk, NULL));
    return 0;
}

static void *es_open(const char *rest, const struct mw_sink_env *env,
                     struct mw_error *err)
{
    struct es *e = xcalloc(1, sizeof(*e));
    struct mw_buf identity = MW_BUF_INIT;
    char *name = NULL;
    mw_buf_init(&e->body);
    if (mw_http_parse(&e->http, "elasticsearch", rest, 500, err) < 0 ||
        split_index(e, err) < 0 ||
        mw_http_ready(&e->http, "application/x-ndjson", err) < 0)
        goto fail;
    /* the index name belongs to the spool's identity: BASE/INDEX */
    mw_buf_add(&identity, e->http.url, strlen(e->http.url) - strlen("/_bulk"));
    mw_buf_addf(&identity, "/%s", e->index);
    name = mw_http_spool_name("es", identity.ptr);
    e->sp =
        mw_spool_new(env->spool_dir, name, e->http.label, &e->http.so, deliver, e, err);
    if (e->sp == NULL)
        goto fail;
    mw_buf_release(&identity);
    free(name);
    return e;
fail:
    mw_buf_release(&identity);
    free(name);
    es_close(e);
    return NULL;
}

static int es_write(void *sink, const char *line, size_t len, const char *id)
{
    struct es *e = sink;
    mw_spool_put(e->sp, line, len, id);
    return 0;
}

static void es_drain_begin(void *sink, int64_t now_mono_us)
{
    struct es *e = sink;
    mw_spool_stop(e->sp, now_mono_us);
}

static void es_drain(void *sink)
{
    struct es *e = sink;
    mw_spool_join(e->sp);
}

static void es_stats(const void *sink, json_t *o)
{
    const struct es *e = sink;
    mw_spool_stats(e->sp, o);
}

const struct mw_sink_ops mw_sink_elasticsearch = {
    .scheme = "elasticsearch",
    .open = es_open,
    .write = es_write,
    .drain_begin = es_drain_begin,
    .drain = es_drain,
    .stats = es_stats,
    .last_id = NULL,
    .close = es_close,
};
