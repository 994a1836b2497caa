/* sink_http.c - the webhook sink: "webhook:URL[,opt=value...]"
 *
 * Each alert is POSTed as JSON (batch=1, the default), or batch=N alerts
 * as one NDJSON body. write only hands the line to the sink's mw_spool;
 * the spool's sender thread calls deliver, which POSTs through the shared
 * HTTP transport (mw_http.c) and maps the status: 2xx delivered whatever
 * its body, 3xx (not followed), 408, 429, 5xx and transport errors
 * retried, any other 4xx refused.
 */
#include "http_int.h"
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_sink.h"
#include "mw_spool.h"

#include <stdlib.h>

struct webhook {
    struct mw_http http; /* owned; used by the sender thread */
    struct mw_spool *sp; /* owned */
    struct mw_buf body;  /* owned: the request being sent (sender thread) */
};

static enum mw_spool_outcome deliver(void *ctx, const struct mw_spool_item *v, size_t n,
                                     struct mw_spool_reply *r)
{
    struct webhook *w = ctx;
    long st;
    mw_buf_reset(&w->body);
    for (size_t i = 0; i < n; i++) {
        mw_buf_adds(&w->body, v[i].line);
        if (w->http.so.batch > 1)
            mw_buf_addc(&w->body, '\n');
    }
    st = mw_http_post(&w->http, w->body.ptr, w->body.len, r);
    return mw_http_outcome(&w->http, st, r);
}

static void webhook_close(void *sink)
{
    struct webhook *w = sink;
    if (w == NULL)
        return;
    mw_spool_free(w->sp); /* joins the sender first */
    mw_http_release(&w->http);
    mw_buf_release(&w->body);
    free(w);
}

static void *webhook_open(const char *rest, const struct mw_sink_env *env,
                          struct mw_error *err)
{
    struct webhook *w = xcalloc(1, sizeof(*w));
    char *name = NULL;
    mw_buf_init(&w->body);
    if (mw_http_parse(&w->http, "webhook", rest, 1, err) < 0 ||
        mw_http_ready(&w->http,
                      w->http.so.batch > 1 ? "application/x-ndjson" : "application/json",
                      err) < 0)
        goto fail;
    name = mw_http_spool_name("webhook", w->http.url);
    w->sp =
        mw_spool_new(env->spool_dir, name, w->http.label, &w->http.so, deliver, w, err);
    if (w->sp == NULL)
        goto fail;
    free(name);
    return w;
fail:
    free(name);
    webhook_close(w);
    return NULL;
}

static int webhook_write(void *sink, const char *line, size_t len, const char *id)
{
    struct webhook *w = sink;
    mw_spool_put(w->sp, line, len, id);
    return 0;
}

static void webhook_drain_begin(void *sink, int64_t now_mono_us)
{
    struct webhook *w = sink;
    mw_spool_stop(w->sp, now_mono_us);
}

static void webhook_drain(void *sink)
{
    struct webhook *w = sink;
    mw_spool_join(w->sp);
}

static void webhook_stats(const void *sink, json_t *o)
{
    const struct webhook *w = sink;
    mw_spool_stats(w->sp, o);
}

const struct mw_sink_ops mw_sink_webhook = {
    .scheme = "webhook",
    .open = webhook_open,
    .write = webhook_write,
    .drain_begin = webhook_drain_begin,
    .drain = webhook_drain,
    .stats = webhook_stats,
    .last_id = NULL,
    .close = webhook_close,
};
