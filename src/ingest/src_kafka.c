/* src_kafka.c - the "kafka" and "eventhub" source kinds: every partition of
 * the listed topics, one line per NDJSON line of each message
 *
 * The only file that includes librdkafka (make check-deps). Specs, options
 * and behaviour are docs/KAFKA.md; in short:
 *
 *   kafka:BOOTSTRAP/TOPIC[+TOPIC...][,group=NAME][,start=earliest|latest]
 *        [,rdkafka.PROPERTY=VALUE...]
 *   eventhub:NAMESPACE/HUB[+HUB...][,group=NAME][,connection-string-env=VAR]
 *
 * No group membership: the instance assigns itself every partition of the
 * topics (rd_kafka_assign), so a second instance started by mistake reads
 * everything again (duplicate alert ids, visible) instead of silently taking
 * half of every key's events. The group id only names where offsets are
 * committed, after each durable checkpoint (ops->committed), so Kafka and
 * Azure tooling show the lag.
 *
 * Order. Messages come from the consumer queue into one FIFO per partition
 * (a partition is paused while its FIFO is full). The next message handed
 * out is the oldest head by Kafka timestamp over all partitions, as Kafka
 * Streams picks records; while a partition known to hold more (its high
 * watermark is past what was read) has nothing buffered yet, the others wait
 * for it up to `idle` (default 500ms). A backlog (a backtest over a hub's
 * retention, a restart after a stop) is so handed out in about the order it
 * arrived in, not one partition after the other, and stays within
 * --max-lateness of the event-time merge downstream.
 *
 * Positions. Each line handed out gets the next line number (lineno: a
 * serial of this source), offset = its message's Kafka offset, and an entry
 * in a ring (partition, offset, index of the line in its message, last line
 * or not). position(at) folds the entries before `at` into each partition's
 * cut (next message, lines of it already processed) and returns every
 * partition's cut: {"partitions": [{"topic", "partition", "offset",
 * "skip"}]}. The loop reads at most a few batches ahead (mw_workers.c), far
 * fewer lines than the ring holds; an entry overwritten before any position()
 * call is folded first. resume() keeps the checkpoint's array until the
 * partitions are assigned (first next()): checkpoint, else the group's
 * committed offset, else start=.
 *
 * Without follow the source ends once every partition reached the high
 * watermark queried when the partitions were assigned; with follow it never
 * ends. A broker that is down never ends the source: librdkafka reconnects,
 * and after `down-after` (30s) without a broker up a health record
 * input_down is written (again every 5 minutes), input_up when one is back.
 * Broker state comes from librdkafka's statistics (every second), served
 * with its logs and errors on the reading thread (rd_kafka_poll).
 */
#include "mw_clock.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_source.h"
#include "mw_time.h"

#include <librdkafka/rdkafka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RING 8192                    /* lines handed out that position() can cut at */
#define FIFO_PAUSE 2000              /* messages buffered per partition before a pause */
#define FIFO_RESUME 500              /* ... and to resume fetching at */
#define QUERY_TIMEOUT_MS 5000        /* metadata, committed offsets, watermarks */
#define QUERY_TIMEOUT_FOLLOW_MS 1500 /* the same in follow mode: signals wait */
#define RETRY_MS 2000                /* assignment retried after a failure */
#define DOWN_REPEAT_MS 300000        /* input_down repeated while down */
#define DEFAULT_IDLE_MS 500          /* wait for a lagging partition */
#define DEFAULT_DOWN_AFTER_MS 30000
#define EVENTHUB_PORT ":9093"
#define EVENTHUB_DOMAIN ".servicebus.windows.net"
#define EVENTHUB_DEFAULT_ENV "EVENTHUB_CONNECTION_STRING"

struct kpart {
    char *topic; /* borrowed from ksrc.topics */
    int32_t partition;
    int64_t start; /* offset assigned */
    uint32_t skip; /* lines of message `start` already processed */
    int64_t end;   /* without follow: the high watermark at assignment */
    int64_t read;  /* offset after the last message buffered */
    int64_t hi;    /* high watermark: at assignment, then fetched */
    bool done;     /* without follow: end reached */
    bool paused;
    int64_t cut_off;           /* the cut: next message to process */
    uint32_t cut_skip;         /* ... and its lines already processed */
    rd_kafka_message_t **fifo; /* owned, with the messages */
    size_t fcap, fhead, fn;
    uint64_t messages;
};

/* one line handed out */
struct hand {
    uint64_t lineno;
    int64_t offset;
    int32_t part;
    uint32_t idx;
    bool last; /* the last line of its message */
};

struct ksrc {
    char *name;      /* owned: scheme:BOOTSTRAP/TOPICS, the checkpoint key */
    char *bootstrap; /* owned */
    char **topics;   /* owned, ntopics */
    int ntopics;
    bool latest; /* start=latest */
    bool follow;
    size_t max_line;
    int64_t idle_ms, down_after_ms;
    rd_kafka_t *rk;       /* owned */
    rd_kafka_queue_t *cq; /* owned: the consumer queue */
    int pipe_r, pipe_w;   /* owned: written when cq gets messages */
    bool active;          /* partitions assigned */
    int64_t next_try_ms;  /* next assignment attempt */
    struct kpart *parts;  /* owned, nparts */
    int nparts;
    json_t *resumed;         /* owned: the checkpoint's partitions, until assigned */
    rd_kafka_message_t *cur; /* owned: the message being handed out */
    int32_t cur_part;
    size_t cur_pos;        /* next byte of cur's payload */
    uint32_t cur_idx;      /* index of the next line of cur */
    bool cur_done;         /* cur's last line was handed out */
    uint64_t lineno;       /* lines handed out */
    struct hand *ring;     /* owned, RING entries; lineno L at L % RING */
    uint64_t folded;       /* lines numbered <= folded are in the cuts */
    int64_t wait_since_ms; /* waiting for a lagging partition since, 0: not */
    bool up;               /* a broker is up (statistics) */
    int64_t down_since_ms; /* 0: not down */
    int64_t down_said_ms;  /* last input_down record, 0: none since up */
    int commits;           /* asynchronous commits in flight */
    uint64_t bytes;
    struct mw_log_limit lim_log, lim_err, lim_commit;
};

/* ---------------------------------------------------------------------- */
/* spec and configuration                                                  */

static void ksrc_free(struct ksrc *k);

static int conf_set(rd_kafka_conf_t *conf, const char *spec, const char *key,
                    const char *val, struct mw_error *err)
{
    char es[256];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, key, val, es, sizeof(es));
    if (r == RD_KAFKA_CONF_OK)
        return 0;
    if (r == RD_KAFKA_CONF_UNKNOWN)
        return mw_error_set(err, "%s: unknown rdkafka property '%s'", spec, key);
    if (mw_secret_name(key, strlen(key))) /* librdkafka's message quotes the value */
        return mw_error_set(err, "%s: invalid value for rdkafka property '%s'", spec,
                            key);
    return mw_error_set(err, "%s: rdkafka.%s: %s", spec, key, es);
}

/* Splits "a+b+c" into owned strings; -1 on an empty one. */
static int split_topics(struct ksrc *k, const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    while (p <= end) {
        const char *q = memchr(p, '+', (size_t)(end - p));
        if (q == NULL)
            q = end;
        if (q == p)
            return -1;
        k->topics = xrealloc(k->topics, (size_t)(k->ntopics + 1) * sizeof(*k->topics));
        k->topics[k->ntopics++] = xstrndup(p, (size_t)(q - p));
        p = q + 1;
    }
    return 0;
}

static int parse_ms(const char *spec, const char *key, const char *v, int64_t *out,
                    struct mw_error *err)
{
    mw_time_t us;
    if (mw_duration_parse(v, &us) < 0)
        return mw_error_set(err, "%s: %s=%s: not a duration (500ms, 30s, 5m)", spec, key,
                            v);
    *out = us / 1000;
    return 0;
}

static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque);
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque);
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque);

/* rest: "BOOTSTRAP/TOPICS[,opt=v...]" (kafka) or "NAMESPACE/HUBS[,...]". */
static struct ksrc *ksrc_open(bool eventhub, const char *rest,
                              const struct mw_source_opts *o, struct mw_error *err)
{
    const char *scheme = eventhub ? "eventhub" : "kafka";
    struct ksrc *k = xcalloc(1, sizeof(*k));
    char spec[160];
    char *opts = NULL;
    const char *env = EVENTHUB_DEFAULT_ENV;
    const char *group = "moonwatch";
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char es[512];

    k->pipe_r = k->pipe_w = -1;
    k->follow = o->follow;
    k->max_line = o->max_line ? o->max_line : MW_DEFAULT_MAX_LINE;
    k->idle_ms = DEFAULT_IDLE_MS;
    k->down_after_ms = DEFAULT_DOWN_AFTER_MS;
    k->up = true; /* until statistics or an error say otherwise */
    snprintf(spec, sizeof(spec), "%s:%.*s", scheme, (int)strcspn(rest, ","), rest);

    /* the bootstrap list may hold commas: it ends at the first '/' */
    const char *slash = strchr(rest, '/');
    if (slash == NULL || slash == rest) {
        mw_error_set(err, "%s: want %s:%s/%s[+...][,option=value...]", spec, scheme,
                     eventhub ? "NAMESPACE" : "BOOTSTRAP", eventhub ? "HUB" : "TOPIC");
        goto fail;
    }
    size_t tlen = strcspn(slash + 1, ",");
    if (tlen == 0 || split_topics(k, slash + 1, tlen) < 0) {
        mw_error_set(err, "%s: no topic (or an empty one between '+')", spec);
        goto fail;
    }
    if (eventhub) {
        /* a namespace, or a full host[:port] (tests, private endpoints) */
        size_t nl = (size_t)(slash - rest);
        bool host = memchr(rest, '.', nl) != NULL || memchr(rest, ':', nl) != NULL;
        bool port = memchr(rest, ':', nl) != NULL;
        size_t cap = nl + sizeof(EVENTHUB_DOMAIN) + sizeof(EVENTHUB_PORT);
        k->bootstrap = xmalloc(cap);
        snprintf(k->bootstrap, cap, "%.*s%s%s", (int)nl, rest,
                 host ? "" : EVENTHUB_DOMAIN, port ? "" : EVENTHUB_PORT);
    } else {
        k->bootstrap = xstrndup(rest, (size_t)(slash - rest));
    }
    {
        size_t cap = strlen(scheme) + 2 + (size_t)(slash - rest) + 1 + tlen + 1;
        k->name = xmalloc(cap);
        snprintf(k->name, cap, "%s:%.*s/%.*s", scheme, (int)(slash - rest), rest,
                 (int)tlen, slash + 1);
    }

    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_stats_cb(conf, on_stats);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
    static const char *const defaults[][2] = {
        {"client.id", "moonwatch"},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"enable.partition.eof", "true"},
        {"statistics.interval.ms", "1000"},
        {"log.queue", "true"},
        {"socket.keepalive.enable", "true"},
        {"metadata.max.age.ms", "180000"},
        {"topic.metadata.refresh.interval.ms", "60000"},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (conf_set(conf, spec, defaults[i][0], defaults[i][1], err) < 0)
            goto fail;
    if (conf_set(conf, spec, "bootstrap.servers", k->bootstrap, err) < 0)
        goto fail;

    /* options: ,key=value... (rdkafka.* set after ours: they win) */
    const char *rest_opts = slash + 1 + tlen;
    opts = xstrdup(*rest_opts == ',' ? rest_opts + 1 : rest_opts);
    bool have_env = false;
    for (char *save = NULL, *kv = *opts ? opts : NULL; kv != NULL; kv = save) {
        char *comma = strchr(kv, ',');
        save = comma ? comma + 1 : NULL;
        if (comma)
            *comma = '\0';
        char *eq = strchr(kv, '=');
        if (eq == NULL || eq == kv) {
            mw_error_set(err, "%s: option '%s': want key=value", spec, kv);
            goto fail;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(kv, "group") == 0 && *v) {
            group = v;
        } else if (strcmp(kv, "start") == 0 && strcmp(v, "earliest") == 0) {
            k->latest = false;
        } else if (strcmp(kv, "start") == 0 && strcmp(v, "latest") == 0) {
            k->latest = true;
        } else if (strcmp(kv, "start") == 0) {
            mw_error_set(err, "%s: start=%s: want earliest or latest", spec, v);
            goto fail;
        } else if (strcmp(kv, "idle") == 0) {
            if (parse_ms(spec, kv, v, &k->idle_ms, err) < 0)
                goto fail;
        } else if (strcmp(kv, "down-after") == 0) {
            if (parse_ms(spec, kv, v, &k->down_after_ms, err) < 0)
                goto fail;
        } else if (strcmp(kv, "format") == 0 &&
                   (strcmp(v, "ecs") == 0 || strcmp(v, "auto") == 0)) {
            /* NDJSON events as they are: the raw Azure adapter is pending */
        } else if (strcmp(kv, "format") == 0) {
            mw_error_set(err,
                         "%s: format=%s: only ecs (NDJSON events) for now; format=azure "
                         "waits for the raw Azure adapter",
                         spec, v);
            goto fail;
        } else if (eventhub && strcmp(kv, "connection-string-env") == 0 && *v) {
            env = v;
            have_env = true;
        } else if (strncmp(kv, "rdkafka.", 8) == 0 && kv[8]) {
            if (conf_set(conf, spec, kv + 8, v, err) < 0)
                goto fail;
        } else {
            mw_error_set(err, "%s: unknown option '%s'", spec, kv);
            goto fail;
        }
    }
    if (conf_set(conf, spec, "group.id", group, err) < 0 ||
        conf_set(conf, spec, "auto.offset.reset", k->latest ? "latest" : "earliest",
                 err) < 0)
        goto fail;
    if (eventhub) {
        /* the connection string: from the environment only, never printed */
        const char *cs = getenv(env);
        if (cs == NULL || *cs == '\0') {
            mw_error_set(err, "%s: the connection string is read from $%s%s, which is %s",
                         spec, env,
                         have_env ? "" : " (connection-string-env=VAR names another)",
                         cs == NULL ? "not set" : "empty");
            goto fail;
        }
        if (conf_set(conf, spec, "security.protocol", "SASL_SSL", err) < 0 ||
            conf_set(conf, spec, "sasl.mechanisms", "PLAIN", err) < 0 ||
            conf_set(conf, spec, "sasl.username", "$ConnectionString", err) < 0 ||
            conf_set(conf, spec, "sasl.password", cs, err) < 0)
            goto fail;
    }

    k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof(es));
    if (k->rk == NULL) {
        mw_error_set(err, "%s: %s", spec, es);
        goto fail;
    }
    conf = NULL;                         /* owned by rk now */
    rd_kafka_set_log_queue(k->rk, NULL); /* logs served by rd_kafka_poll */
    k->cq = rd_kafka_queue_get_consumer(k->rk);
    int pfd[2];
    if (pipe(pfd) < 0) {
        mw_error_set(err, "%s: pipe: %s", spec, strerror(errno));
        goto fail;
    }
    k->pipe_r = pfd[0];
    k->pipe_w = pfd[1];
    for (int i = 0; i < 2; i++) {
        fcntl(pfd[i], F_SETFL, O_NONBLOCK);
        fcntl(pfd[i], F_SETFD, FD_CLOEXEC);
    }
    rd_kafka_queue_io_event_enable(k->cq, k->pipe_w, "k", 1);
    k->ring = xcalloc(RING, sizeof(*k->ring));
    free(opts);
    return k;
fail:
    free(opts);
    if (conf)
        rd_kafka_conf_destroy(conf);
    ksrc_free(k);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* librdkafka callbacks (all served on the reading thread by rd_kafka_poll) */

static void note_down(struct ksrc *k, const char *reason)
{
    int64_t now = mw_mono_ms();
    k->up = false;
    if (k->down_since_ms == 0)
        k->down_since_ms = now;
    if (now - k->down_since_ms >= k->down_after_ms &&
        (k->down_said_ms == 0 || now - k->down_said_ms >= DOWN_REPEAT_MS)) {
        k->down_said_ms = now;
        mw_log_warn("%s: no broker reachable for %" PRId64 "s (%s); reconnecting",
                    k->name, (now - k->down_since_ms) / 1000, reason);
        mw_health_emit("input_down",
                       json_pack("{s:s, s:I, s:s}", "input", k->name, "down_ms",
                                 (json_int_t)(now - k->down_since_ms), "reason", reason));
    }
}

static void note_up(struct ksrc *k)
{
    if (k->down_said_ms != 0) {
        int64_t ms = mw_mono_ms() - k->down_since_ms;
        mw_log_info("%s: a broker is reachable again after %" PRId64 "s", k->name,
                    ms / 1000);
        mw_health_emit("input_up", json_pack("{s:s, s:I}", "input", k->name, "down_ms",
                                             (json_int_t)ms));
    }
    k->up = true;
    k->down_since_ms = 0;
    k->down_said_ms = 0;
}

static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    struct ksrc *k = opaque;
    (void)rk;
    switch (e) {
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        note_down(k, rd_kafka_err2name(e));
        break;
    default:
        break;
    }
    mw_log_limited(&k->lim_err, MW_LOG_WARN, "%s: %s: %s", k->name, rd_kafka_err2name(e),
                   reason);
}

/* Statistics: up when any broker of the cluster (not the bootstrap
 * placeholder) is UP. */
static int on_stats(rd_kafka_t *rk, char *js, size_t len, void *opaque)
{
    struct ksrc *k = opaque;
    json_t *root = json_loadb(js, len, 0, NULL);
    json_t *brokers = json_object_get(root, "brokers");
    const char *key;
    json_t *b;
    bool up = false;
    (void)rk;
    json_object_foreach(brokers, key, b)
    {
        const char *st = json_string_value(json_object_get(b, "state"));
        if (st && strcmp(st, "UP") == 0 &&
            json_integer_value(json_object_get(b, "nodeid")) >= 0)
            up = true;
    }
    if (root != NULL) {
        if (up)
            note_up(k);
        else
            note_down(k, "no broker up");
    }
    json_decref(root);
    return 0; /* librdkafka frees js */
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct ksrc *k = rd_kafka_opaque(rk);
    if (level <= 4)
        mw_log_limited(&k->lim_log, MW_LOG_WARN, "%s: rdkafka %s: %s", k->name, fac, buf);
    else
        mw_log_debug("%s: rdkafka %s: %s", k->name, fac, buf);
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    struct ksrc *k = opaque;
    (void)rk;
    (void)offsets;
    if (k->commits > 0)
        k->commits--;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        mw_log_limited(&k->lim_commit, MW_LOG_WARN,
                       "%s: committing offsets to the group failed (%s): retried at the "
                       "next checkpoint",
                       k->name, rd_kafka_err2str(e));
}

/* ---------------------------------------------------------------------- */
/* assignment                                                              */

static const json_t *resumed_for(const struct ksrc *k, const char *topic, int32_t p)
{
    size_t i;
    json_t *e;
    json_array_foreach(k->resumed, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "topic"));
        if (t && strcmp(t, topic) == 0 &&
            json_integer_value(json_object_get(e, "partition")) == p)
            return e;
    }
    return NULL;
}

/* Finds the partitions, decides where each starts and assigns them.
 * Returns 0, or -1 (logged; retried later) when the cluster does not
 * answer or a topic is missing. */
static int activate(struct ksrc *k)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_partition_list_t *l = NULL;
    struct kpart *parts = NULL;
    int n = 0, rc = -1, from_ckpt = 0, from_group = 0, from_start = 0;
    int tmo = k->follow ? QUERY_TIMEOUT_FOLLOW_MS : QUERY_TIMEOUT_MS;
    rd_kafka_resp_err_t e = rd_kafka_metadata(k->rk, 1, NULL, &md, tmo);

    k->next_try_ms = mw_mono_ms() + RETRY_MS;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        mw_log_limited(&k->lim_err, MW_LOG_WARN, "%s: metadata: %s (retrying)", k->name,
                       rd_kafka_err2str(e));
        note_down(k, rd_kafka_err2name(e));
        goto out;
    }
    for (int t = 0; t < k->ntopics; t++) {
        const struct rd_kafka_metadata_topic *mt = NULL;
        for (int i = 0; i < md->topic_cnt; i++)
            if (strcmp(md->topics[i].topic, k->topics[t]) == 0)
                mt = &md->topics[i];
        if (mt == NULL || mt->err || mt->partition_cnt == 0) {
            mw_log_limited(&k->lim_err, MW_LOG_WARN, "%s: topic '%s' %s (retrying)",
                           k->name, k->topics[t],
                           mt && mt->err ? rd_kafka_err2str(mt->err) : "not found");
            goto out;
        }
        parts = xrealloc(parts, (size_t)(n + mt->partition_cnt) * sizeof(*parts));
        for (int i = 0; i < mt->partition_cnt; i++) {
            struct kpart *p = &parts[n++];
            memset(p, 0, sizeof(*p));
            p->topic = k->topics[t];
            p->partition = mt->partitions[i].id;
            p->start = RD_KAFKA_OFFSET_INVALID;
        }
    }
    /* checkpoint, else the group's committed offsets, else start= */
    l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) {
        const json_t *r = resumed_for(k, parts[i].topic, parts[i].partition);
        if (r) {
            parts[i].start = json_integer_value(json_object_get(r, "offset"));
            parts[i].skip = (uint32_t)json_integer_value(json_object_get(r, "skip"));
            from_ckpt++;
        } else {
            rd_kafka_topic_partition_list_add(l, parts[i].topic, parts[i].partition);
        }
    }
    if (l->cnt > 0) {
        e = rd_kafka_committed(k->rk, l, tmo);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            mw_log_warn("%s: the group's committed offsets: %s (start=%s)", k->name,
                        rd_kafka_err2str(e), k->latest ? "latest" : "earliest");
        for (int j = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && j < l->cnt; j++) {
            for (int i = 0; i < n; i++)
                if (parts[i].partition == l->elems[j].partition &&
                    strcmp(parts[i].topic, l->elems[j].topic) == 0 &&
                    l->elems[j].offset >= 0 && !l->elems[j].err) {
                    parts[i].start = l->elems[j].offset;
                    from_group++;
                }
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    l = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++) {
        struct kpart *p = &parts[i];
        int64_t lo, hi;
        e = rd_kafka_query_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi,
                                             tmo);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            mw_log_limited(&k->lim_err, MW_LOG_WARN,
                           "%s: watermarks of %s/%d: %s (retrying)", k->name, p->topic,
                           p->partition, rd_kafka_err2str(e));
            note_down(k, rd_kafka_err2name(e));
            goto out;
        }
        if (p->start == RD_KAFKA_OFFSET_INVALID) {
            p->start = k->latest ? hi : lo;
            from_start++;
        } else if (p->start < lo) {
            mw_log_warn("%s: %s/%d: offset %" PRId64
                        " is no longer retained (oldest %" PRId64
                        "): messages in between are lost",
                        k->name, p->topic, p->partition, p->start, lo);
            p->start = lo;
            p->skip = 0;
        } else if (p->start > hi) {
            p->start = hi;
            p->skip = 0;
        }
        p->end = p->hi = hi;
        p->read = p->cut_off = p->start;
        p->cut_skip = p->skip;
        p->done = !k->follow && p->start >= p->end;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = p->start;
    }
    e = rd_kafka_assign(k->rk, l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        mw_log_limited(&k->lim_err, MW_LOG_WARN, "%s: assign: %s (retrying)", k->name,
                       rd_kafka_err2str(e));
        goto out;
    }
    mw_log_info(
        "%s: %d partition(s) assigned: %d from the checkpoint, %d from the group's "
        "offsets, %d from start=%s",
        k->name, n, from_ckpt, from_group, from_start, k->latest ? "latest" : "earliest");
    k->parts = parts;
    k->nparts = n;
    parts = NULL;
    k->active = true;
    json_decref(k->resumed);
    k->resumed = NULL;
    rc = 0;
out:
    free(parts);
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (md)
        rd_kafka_metadata_destroy(md);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* reading                                                                 */

static struct kpart *part_of(struct ksrc *k, const rd_kafka_message_t *m, int32_t *idx)
{
    const char *t = rd_kafka_topic_name(m->rkt);
    for (int i = 0; i < k->nparts; i++)
        if (k->parts[i].partition == m->partition && strcmp(k->parts[i].topic, t) == 0) {
            *idx = i;
            return &k->parts[i];
        }
    return NULL;
}

static void pause_part(struct ksrc *k, struct kpart *p, bool pause)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    if (pause)
        rd_kafka_pause_partitions(k->rk, l);
    else
        rd_kafka_resume_partitions(k->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    p->paused = pause;
}

static void fifo_push(struct ksrc *k, struct kpart *p, rd_kafka_message_t *m)
{
    if (p->fn == p->fcap) {
        size_t ncap = p->fcap ? p->fcap * 2 : 64;
        rd_kafka_message_t **nf = xmalloc(ncap * sizeof(*nf));
        for (size_t i = 0; i < p->fn; i++)
            nf[i] = p->fifo[(p->fhead + i) % p->fcap];
        free(p->fifo);
        p->fifo = nf;
        p->fcap = ncap;
        p->fhead = 0;
    }
    p->fifo[(p->fhead + p->fn++) % p->fcap] = m;
    if (p->fn >= FIFO_PAUSE && !p->paused)
        pause_part(k, p, true);
}

static rd_kafka_message_t *fifo_pop(struct ksrc *k, struct kpart *p)
{
    rd_kafka_message_t *m = p->fifo[p->fhead];
    p->fhead = (p->fhead + 1) % p->fcap;
    p->fn--;
    if (p->paused && p->fn <= FIFO_RESUME)
        pause_part(k, p, false);
    return m;
}

/* Callbacks, then every message of the consumer queue into its FIFO. */
static void serve(struct ksrc *k)
{
    char drain[64];
    while (read(k->pipe_r, drain, sizeof(drain)) > 0)
        ; /* first: a message queued after this wakes the loop again */
    rd_kafka_poll(k->rk, 0);
    if (!k->active)
        return;
    for (;;) {
        rd_kafka_message_t *batch[256];
        ssize_t got = rd_kafka_consume_batch_queue(k->cq, 0, batch, 256);
        if (got <= 0)
            break;
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = batch[i];
            int32_t idx;
            struct kpart *p = m->rkt ? part_of(k, m, &idx) : NULL;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (p && m->offset > p->hi)
                    p->hi = m->offset;
                if (p && m->offset > p->read)
                    p->read = m->offset; /* nothing more below it (compaction, markers) */
            } else if (m->err) {
                if (!k->up || m->err == RD_KAFKA_RESP_ERR__TRANSPORT)
                    note_down(k, rd_kafka_err2name(m->err));
                mw_log_limited(&k->lim_err, MW_LOG_WARN, "%s: %s", k->name,
                               rd_kafka_message_errstr(m));
            } else if (p && m->offset >= p->read && (k->follow || m->offset < p->end)) {
                p->read = m->offset + 1;
                fifo_push(k, p, m);
                continue; /* kept */
            }
            rd_kafka_message_destroy(m);
        }
        if (got < 256)
            break;
    }
    for (int i = 0; i < k->nparts; i++) {
        struct kpart *p = &k->parts[i];
        int64_t lo, hi;
        if (rd_kafka_get_watermark_offsets(k->rk, p->topic, p->partition, &lo, &hi) ==
                0 &&
            hi > p->hi)
            p->hi = hi;
        if (!k->follow && !p->done && p->fn == 0 && p->read >= p->end) {
            p->done = true;
            pause_part(k, p, true); /* what follows is past the end */
        }
    }
}

/* The next message to hand out: the oldest FIFO head by Kafka timestamp;
 * NULL while nothing is buffered, or while a partition that holds more has
 * nothing buffered yet (for up to idle_ms). */
static rd_kafka_message_t *pick(struct ksrc *k, int32_t *part)
{
    int best = -1;
    int64_t best_ts = 0;
    bool lagging = false;
    for (int i = 0; i < k->nparts; i++) {
        struct kpart *p = &k->parts[i];
        if (p->done)
            continue;
        if (p->fn == 0) {
            if (p->hi > p->read || (!k->follow && p->read < p->end))
                lagging = true;
            continue;
        }
        rd_kafka_timestamp_type_t tst;
        int64_t ts = rd_kafka_message_timestamp(p->fifo[p->fhead], &tst);
        if (best < 0 || ts < best_ts) {
            best = i;
            best_ts = ts;
        }
    }
    if (best < 0)
        return NULL;
    if (lagging && k->idle_ms > 0) {
        int64_t now = mw_mono_ms();
        if (k->wait_since_ms == 0)
            k->wait_since_ms = now;
        if (now - k->wait_since_ms < k->idle_ms)
            return NULL;
    }
    k->wait_since_ms = 0;
    *part = best;
    return fifo_pop(k, &k->parts[best]);
}

/* Folds the ring's lines numbered below upto into the partitions' cuts. */
static void fold(struct ksrc *k, uint64_t upto)
{
    for (uint64_t ln = k->folded + 1; ln < upto && ln <= k->lineno; ln++) {
        const struct hand *h = &k->ring[ln % RING];
        struct kpart *p = &k->parts[h->part];
        if (h->last) {
            p->cut_off = h->offset + 1;
            p->cut_skip = 0;
        } else {
            p->cut_off = h->offset;
            p->cut_skip = h->idx + 1;
        }
        k->folded = ln;
    }
}

/* The next line of cur into l; drops cur after its last line. */
static enum mw_line_status hand_out(struct ksrc *k, struct mw_line *l)
{
    const char *pl = k->cur->payload ? k->cur->payload : "";
    size_t len = k->cur->payload ? k->cur->len : 0;
    const char *s = pl + k->cur_pos;
    const char *nl = memchr(s, '\n', len - k->cur_pos);
    size_t n = nl ? (size_t)(nl - s) : len - k->cur_pos;
    k->cur_pos += n + (nl ? 1 : 0);
    bool last = k->cur_pos >= len;
    k->cur_done = last;
    uint64_t ln = ++k->lineno;
    if (ln > RING && k->folded < ln - RING)
        fold(k, ln - RING + 1); /* nobody asked: that far back is processed */
    k->ring[ln % RING] =
        (struct hand){ln, k->cur->offset, k->cur_part, k->cur_idx++, last};
    l->text = s;
    l->len = n;
    l->lineno = ln;
    l->offset = (uint64_t)k->cur->offset;
    l->gen = 0;
    /* cur stays valid until the next call: it is dropped there */
    return n > k->max_line ? (l->text = NULL, MW_LINE_TOO_LONG) : MW_LINE_OK;
}

static void wait_readable(struct ksrc *k, int ms)
{
    struct pollfd pfd = {k->pipe_r, POLLIN, 0};
    while (poll(&pfd, 1, ms) < 0 && errno == EINTR)
        ;
}

static enum mw_line_status kafka_next(void *src, struct mw_line *l, struct mw_error *err)
{
    struct ksrc *k = src;
    (void)err;
    for (;;) {
        if (k->cur && k->cur_done) {
            rd_kafka_message_destroy(k->cur); /* its last line was handed out */
            k->cur = NULL;
        }
        if (k->cur)
            return hand_out(k, l);
        serve(k);
        if (!k->active && mw_mono_ms() >= k->next_try_ms)
            activate(k);
        if (k->active) {
            rd_kafka_message_t *m = pick(k, &k->cur_part);
            if (m != NULL) {
                struct kpart *p = &k->parts[k->cur_part];
                k->cur = m;
                k->cur_pos = 0;
                k->cur_idx = 0;
                k->cur_done = false;
                k->bytes += m->len;
                p->messages++;
                if (m->offset == p->start && p->skip > 0) {
                    /* resumed inside this message: its first lines were processed */
                    for (uint32_t i = 0; i < p->skip && k->cur_pos < m->len; i++) {
                        const char *s = (const char *)m->payload + k->cur_pos;
                        const char *nl = memchr(s, '\n', m->len - k->cur_pos);
                        k->cur_pos =
                            nl ? (size_t)(nl - (const char *)m->payload) + 1 : m->len;
                        k->cur_idx++;
                    }
                    p->skip = 0;
                    if (k->cur_pos >= m->len) {
                        rd_kafka_message_destroy(k->cur);
                        k->cur = NULL;
                    }
                }
                continue;
            }
            bool all_done = true;
            for (int i = 0; i < k->nparts; i++)
                all_done = all_done && k->parts[i].done;
            if (all_done && !k->follow)
                return MW_LINE_EOF;
        }
        if (k->follow)
            return MW_LINE_AGAIN;
        wait_readable(k, 100); /* without follow: wait for the rest */
    }
}

/* ---------------------------------------------------------------------- */
/* positions, commits, the rest of the ops                                 */

static int kafka_position(void *src, const struct mw_line *at, json_t **pos)
{
    struct ksrc *k = src;
    json_t *arr = json_array();
    if (!k->active) {
        /* not assigned yet: what the checkpoint said, still */
        json_decref(arr);
        arr = k->resumed ? json_deep_copy(k->resumed) : json_array();
    } else {
        fold(k, at ? at->lineno : k->lineno + 1);
        for (int i = 0; i < k->nparts; i++) {
            const struct kpart *p = &k->parts[i];
            json_array_append_new(arr, json_pack("{s:s, s:i, s:I, s:i}", "topic",
                                                 p->topic, "partition", (int)p->partition,
                                                 "offset", (json_int_t)p->cut_off, "skip",
                                                 (int)p->cut_skip));
        }
    }
    *pos = json_pack("{s:o}", "partitions", arr);
    return 0;
}

static void kafka_resume(void *src, const json_t *pos)
{
    struct ksrc *k = src;
    json_t *arr = json_object_get(pos, "partitions");
    if (k->active || !json_is_array(arr))
        return;
    json_decref(k->resumed);
    k->resumed = json_deep_copy(arr);
    mw_log_info("%s: resuming at the checkpoint's offsets of %zu partition(s)", k->name,
                json_array_size(arr));
}

/* The checkpoint holding pos is durable: the same offsets go to the group
 * (asynchronous; a failure costs only re-reading, and the next checkpoint
 * commits again). A partition cut inside a message commits that message. */
static void kafka_committed(void *src, const json_t *pos)
{
    struct ksrc *k = src;
    json_t *arr = json_object_get(pos, "partitions");
    size_t i;
    json_t *e;
    if (!k->active || json_array_size(arr) == 0)
        return;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)json_array_size(arr));
    json_array_foreach(arr, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "topic"));
        if (t == NULL)
            continue;
        rd_kafka_topic_partition_list_add(
            l, t, (int32_t)json_integer_value(json_object_get(e, "partition")))
            ->offset = json_integer_value(json_object_get(e, "offset"));
    }
    if (rd_kafka_commit(k->rk, l, 1) == RD_KAFKA_RESP_ERR_NO_ERROR)
        k->commits++;
    rd_kafka_topic_partition_list_destroy(l);
}

static int kafka_describe(void *src, uint64_t lineno, char *buf, size_t n)
{
    struct ksrc *k = src;
    if (!k->active || lineno == 0 || lineno > k->lineno || k->lineno - lineno >= RING)
        return -1;
    const struct hand *h = &k->ring[lineno % RING];
    const struct kpart *p = &k->parts[h->part];
    if (h->idx == 0 && h->last)
        snprintf(buf, n, "%s/%d/%" PRId64, p->topic, (int)p->partition, h->offset);
    else
        snprintf(buf, n, "%s/%d/%" PRId64 "#%u", p->topic, (int)p->partition, h->offset,
                 (unsigned)h->idx);
    return 0;
}

static int kafka_poll_fd(void *src)
{
    return ((struct ksrc *)src)->pipe_r;
}

static const char *kafka_name(void *src)
{
    return ((struct ksrc *)src)->name;
}

static uint64_t kafka_bytes_read(void *src)
{
    return ((struct ksrc *)src)->bytes;
}

static void ksrc_free(struct ksrc *k)
{
    if (k == NULL)
        return;
    if (k->rk) {
        /* let the last checkpoint's commit reach the group (bounded) */
        int64_t until = mw_mono_ms() + 2000;
        while (k->commits > 0 && k->up && mw_mono_ms() < until)
            rd_kafka_poll(k->rk, 50);
    }
    if (k->cur)
        rd_kafka_message_destroy(k->cur);
    for (int i = 0; i < k->nparts; i++) {
        struct kpart *p = &k->parts[i];
        while (p->fn > 0) {
            rd_kafka_message_destroy(p->fifo[p->fhead]);
            p->fhead = (p->fhead + 1) % p->fcap;
            p->fn--;
        }
        free(p->fifo);
    }
    free(k->parts);
    if (k->cq) {
        rd_kafka_queue_io_event_enable(k->cq, -1, NULL, 0);
        rd_kafka_queue_destroy(k->cq);
    }
    if (k->rk)
        rd_kafka_destroy_flags(k->rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (k->pipe_r >= 0)
        close(k->pipe_r);
    if (k->pipe_w >= 0)
        close(k->pipe_w);
    for (int i = 0; i < k->ntopics; i++)
        free(k->topics[i]);
    free(k->topics);
    json_decref(k->resumed);
    free(k->ring);
    free(k->bootstrap);
    free(k->name);
    free(k);
}

static void kafka_close(void *src)
{
    ksrc_free(src);
}

static void *kafka_open(const char *rest, const struct mw_source_opts *o,
                        struct mw_error *err)
{
    return ksrc_open(false, rest, o, err);
}

static void *eventhub_open(const char *rest, const struct mw_source_opts *o,
                           struct mw_error *err)
{
    return ksrc_open(true, rest, o, err);
}

const struct mw_source_ops mw_src_kafka_ops = {
    .scheme = "kafka",
    .open = kafka_open,
    .next = kafka_next,
    .position = kafka_position,
    .resume = kafka_resume,
    .committed = kafka_committed,
    .describe = kafka_describe,
    .poll_fd = kafka_poll_fd,
    .name = kafka_name,
    .bytes_read = kafka_bytes_read,
    .close = kafka_close,
};

const struct mw_source_ops mw_src_eventhub_ops = {
    .scheme = "eventhub",
    .open = eventhub_open,
    .next = kafka_next,
    .position = kafka_position,
    .resume = kafka_resume,
    .committed = kafka_committed,
    .describe = kafka_describe,
    .poll_fd = kafka_poll_fd,
    .name = kafka_name,
    .bytes_read = kafka_bytes_read,
    .close = kafka_close,
};
