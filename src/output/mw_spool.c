/* mw_output.c - alert sinks: stdout and files (synchronous), webhooks and
 * Elasticsearch _bulk (one sender thread each, bounded queue, disk spool)
 *
 * HTTP sink invariants (all under the sink's mutex):
 *   - an alert is in exactly one place: the ring (memory), the spool file
 *     (disk, from read_off on), the sender's in-flight batch, or it is done
 *     (delivered, or refused and written to the rejected file);
 *   - every ring item is older than every spool item: once the spool holds
 *     anything, new alerts are appended to it, and the sender drains the
 *     ring first, then the spool, so delivery keeps the order alerts were
 *     raised in;
 *   - the spool is emptied (truncated) only after the batch read from its
 *     end was delivered, and read_off is saved in a .pos file after every
 *     delivered spool batch, so a crash redelivers at most one batch (the
 *     Elasticsearch sink's _id = alert id makes that harmless).
 * The main thread only appends (queue or spool); it never waits on the
 * network. The sender owns the curl easy handle (reused for every request).
 */
#include "mw_output.h"
#include "mw_curl.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_sha256.h"
#include "mw_time.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (16u * 1024 * 1024)

static volatile sig_atomic_t reopen_generation;

void mw_output_request_reopen(void)
{
    reopen_generation++;
}

enum sink_type {
    SINK_STDOUT,
    SINK_FILE,
    SINK_WEBHOOK,
    SINK_ES,
};

static const char *const type_names[] = {"stdout", "file", "webhook", "elasticsearch"};

struct item {
    char *line;  /* owned: the alert, compact JSON, no newline */
    char id[40]; /* event.id (for _bulk) */
};

struct http {
    char *url;        /* owned: POST target (ES: base/_bulk) */
    char *index;      /* owned, ES only */
    char *name;       /* owned: spool base name */
    size_t batch;     /* items per request; 1 = one JSON POST */
    mw_time_t linger; /* wait for a fuller batch, microseconds */
    long connect_timeout_ms, timeout_ms;
    mw_time_t backoff, max_backoff, drain;
    bool insecure;
    char *cacert;               /* owned, may be NULL */
    struct curl_slist *headers; /* owned */
    CURL *curl;                 /* owned, used by the sender only */
    char errbuf[CURL_ERROR_SIZE];
    char *resp; /* owned response buffer */
    size_t resp_len, resp_cap;
    unsigned rng; /* jitter */

    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *ring; /* owned, qcap slots */
    size_t qcap, head, count;
    char *spool_path, *pos_path, *rejected_path; /* owned */
    FILE *spool_w;                               /* owned: append */
    FILE *spool_r;                               /* owned: read from read_off */
    long read_off;
    uint64_t spool_pending; /* items on disk after read_off */
    bool stopping;
    mw_time_t deadline; /* monotonic, when stopping */
    bool down;
    uint64_t delivered, retried, spooled, failed;
};

struct sink {
    enum sink_type type;
    char *spec; /* owned */
    FILE *fp;   /* owned unless stdout */
    char *path; /* owned, files */
    dev_t dev;
    ino_t ino;
    sig_atomic_t gen; /* reopen generation seen */
    uint64_t written, failed;
    struct http *h; /* owned, HTTP sinks */
};

struct mw_output {
    struct sink *sinks; /* owned */
    size_t n;
    char *spool_dir; /* owned, may be NULL */
    bool drained;
};

static mw_time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (mw_time_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void abs_time(mw_time_t mono_deadline, struct timespec *out)
{
    /* condition variables below use CLOCK_MONOTONIC */
    out->tv_sec = (time_t)(mono_deadline / 1000000);
    out->tv_nsec = (long)(mono_deadline % 1000000) * 1000;
}

/* libcurl, through the table mw_curl loads with the first HTTP output
 * (before its sender thread starts; read-only afterwards) */
static const struct mw_curl_api *C;

struct mw_output *mw_output_new(void)
{
    return xcalloc(1, sizeof(struct mw_output));
}

void mw_output_set_spool_dir(struct mw_output *o, const char *dir)
{
    free(o->spool_dir);
    o->spool_dir = dir ? xstrdup(dir) : NULL;
}

/* ---------------------------------------------------------------------- */
/* files                                                                   */

/* The id of a file's last alert line (empty when none). */
static void last_id(int fd, char out[33])
{
    struct stat sb;
    char buf[4096];
    off_t at;
    out[0] = '\0';
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 2)
        return;
    /* the start of the last line: the newline before the final one */
    for (at = sb.st_size - 1; at > 0;) {
        off_t from = at > (off_t)sizeof(buf) ? at - (off_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(at - from), from);
        if (n <= 0)
            return;
        ssize_t k = n;
        while (k > 0 && buf[k - 1] != '\n')
            k--;
        at = from + k;
        if (k > 0 || from == 0)
            break;
    }
    ssize_t n = pread(fd, buf, 300, at);
    if (n <= 0)
        return;
    buf[n] = '\0';
    static const char key[] = "\"kind\":\"alert\",\"id\":\"";
    char *id = strstr(buf, key);
    if (id && strlen(id) >= sizeof(key) - 1 + 32) {
        memcpy(out, id + sizeof(key) - 1, 32);
        out[32] = '\0';
    }
}

int mw_output_last_ids(struct mw_output *o, char ids[][33], int max)
{
    int n = 0;
    for (size_t i = 0; i < o->n && n < max; i++)
        if (o->sinks[i].type == SINK_FILE && o->sinks[i].fp) {
            last_id(fileno(o->sinks[i].fp), ids[n]);
            if (ids[n][0])
                n++;
        }
    return n;
}

/* A process killed in the middle of write(2) can leave a partial last line
 * (the kernel stops a large write between pages for a fatal signal). Cuts
 * it off, so the file holds whole alerts only. The id of that alert was not
 * recorded yet (mw_shape records it after the write), so the resumed run
 * that raises it again delivers it again. */
static void repair_tail(struct sink *s, int fd)
{
    struct stat sb;
    char buf[4096];
    off_t end, at;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0)
        return;
    end = sb.st_size;
    if (pread(fd, buf, 1, end - 1) != 1 || buf[0] == '\n')
        return;
    for (at = end; at > 0;) {
        off_t from = at > (off_t)sizeof(buf) ? at - (off_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(at - from), from);
        if (n <= 0)
            return;
        ssize_t k = n;
        while (k > 0 && buf[k - 1] != '\n')
            k--;
        if (k > 0) {
            at = from + k;
            break;
        }
        at = from;
    }
    if (ftruncate(fd, at) != 0) {
        mw_log_error("output %s: cannot cut off a partial last line: %s", s->spec,
                     strerror(errno));
        return;
    }
    mw_log_warn(
        "output %s: cut off the partial last line a killed run left (%lld bytes); "
        "that alert is delivered again when the stream raises it again",
        s->spec, (long long)(end - at));
}

static int file_open(struct sink *s, struct mw_error *err)
{
    struct stat sb;
    FILE *fp = fopen(s->path, "a+"); /* readable: repair_tail, last_id */
    if (fp == NULL)
        return mw_error_set(err, "output %s: %s", s->spec, strerror(errno));
    repair_tail(s, fileno(fp));
    if (s->fp)
        fclose(s->fp);
    s->fp = fp;
    if (fstat(fileno(fp), &sb) == 0) {
        s->dev = sb.st_dev;
        s->ino = sb.st_ino;
    }
    s->gen = reopen_generation;
    return 0;
}

/* Reopens when SIGHUP asked for it or the file was moved or deleted. */
static void file_check(struct sink *s)
{
    struct stat sb;
    struct mw_error err;
    if (s->gen == reopen_generation && stat(s->path, &sb) == 0 && sb.st_dev == s->dev &&
        sb.st_ino == s->ino)
        return;
    if (file_open(s, &err) < 0)
        mw_log_error("%s (keeping the old file)", err.msg);
    else
        mw_log_info("output %s: reopened", s->spec);
}

/* ---------------------------------------------------------------------- */
/* HTTP sink: spec parsing                                                 */

static int parse_ms(const char *v, mw_time_t *out)
{
    mw_time_t us;
    if (mw_duration_parse(v, &us) < 0)
        return -1;
    *out = us;
    return 0;
}

static int add_env_header(struct http *h, const char *name, const char *var,
                          const char *prefix, struct mw_error *err)
{
    const char *val = getenv(var);
    size_t len;
    char *line;
    if (val == NULL || val[0] == '\0')
        return mw_error_set(err,
                            "environment variable %s (named in the output "
                            "spec) is not set",
                            var);
    if (strpbrk(val, "\r\n"))
        return mw_error_set(err, "environment variable %s holds a line break", var);
    len = strlen(name) + strlen(prefix) + strlen(val) + 4;
    line = xmalloc(len);
    snprintf(line, len, "%s: %s%s", name, prefix, val);
    h->headers = C->slist_append(h->headers, line);
    free(line);
    return 0;
}

static void name_from(struct http *h, const char *kind, const char *url)
{
    char hex[65], buf[128];
    size_t k = 0, klen = strlen(kind);
    size_t alen = klen + strlen(url) + 2;
    char *all = xmalloc(alen);
    snprintf(all, alen, "%s:%s", kind, url);
    mw_sha256_hex(all, strlen(all), hex);
    free(all);
    memcpy(buf, kind, klen);
    k = klen;
    buf[k++] = '-';
    const char *p = strstr(url, "://");
    for (p = p ? p + 3 : url; *p && k < 60; p++)
        buf[k++] = ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
                       ? *p
                       : '_';
    snprintf(buf + k, sizeof(buf) - k, "-%.8s", hex);
    h->name = xstrdup(buf);
}

static void http_free(struct http *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->count; i++)
        free(h->ring[(h->head + i) % h->qcap].line);
    free(h->ring);
    if (h->curl)
        C->easy_cleanup(h->curl);
    C->slist_free_all(h->headers);
    if (h->spool_w)
        fclose(h->spool_w);
    if (h->spool_r)
        fclose(h->spool_r);
    if (h->started) {
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
    }
    free(h->url);
    free(h->index);
    free(h->name);
    free(h->cacert);
    free(h->resp);
    free(h->spool_path);
    free(h->pos_path);
    free(h->rejected_path);
    free(h);
}

static char *join_path(const char *dir, const char *name, const char *ext)
{
    size_t len = strlen(dir) + strlen(name) + strlen(ext) + 2;
    char *p = xmalloc(len);
    snprintf(p, len, "%s/%s%s", dir, name, ext);
    return p;
}

/* Opens the spool, counting what an earlier run left after its .pos. */
static int spool_open(struct http *h, const char *dir, struct mw_error *err)
{
    char line[64];
    int c;
    FILE *pf;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return mw_error_set(err, "spool folder %s: %s", dir, strerror(errno));
    h->spool_path = join_path(dir, h->name, ".spool.ndjson");
    h->pos_path = join_path(dir, h->name, ".spool.pos");
    h->rejected_path = join_path(dir, h->name, ".rejected.ndjson");
    h->spool_w = fopen(h->spool_path, "a");
    h->spool_r = h->spool_w ? fopen(h->spool_path, "r") : NULL;
    if (h->spool_r == NULL)
        return mw_error_set(err, "spool %s: %s", h->spool_path, strerror(errno));
    if ((pf = fopen(h->pos_path, "r")) != NULL) {
        if (fgets(line, sizeof(line), pf))
            h->read_off = atol(line);
        fclose(pf);
    }
    if (fseek(h->spool_r, h->read_off, SEEK_SET) != 0) {
        h->read_off = 0;
        fseek(h->spool_r, 0, SEEK_SET);
    }
    while ((c = fgetc(h->spool_r)) != EOF)
        if (c == '\n')
            h->spool_pending++;
    clearerr(h->spool_r);
    fseek(h->spool_r, h->read_off, SEEK_SET);
    if (h->spool_pending)
        mw_log_info("output %s: %llu alert(s) waiting in the spool from an "
                    "earlier run",
                    h->url, (unsigned long long)h->spool_pending);
    return 0;
}

static void *sender(void *arg);

/* webhook:URL[,opt=v...] / elasticsearch:URL/INDEX[,opt=v...] */
static struct http *http_new(enum sink_type type, const char *rest, const char *spool_dir,
                             struct mw_error *err)
{
    struct http *h;
    char *copy, *save = NULL, *tok, *url;
    bool bad = false;
    pthread_condattr_t ca;

    if ((C = mw_curl(err)) == NULL)
        return NULL;
    h = xcalloc(1, sizeof(*h));
    copy = xstrdup(rest);
    url = strtok_r(copy, ",", &save);

    h->batch = type == SINK_ES ? 500 : 1;
    h->linger = 1000000;
    h->connect_timeout_ms = 5000;
    h->timeout_ms = 30000;
    h->backoff = 500000;
    h->max_backoff = 30000000;
    h->drain = 10000000;
    h->qcap = 10000;
    h->rng = (unsigned)(mono_now() ^ (mw_time_t)getpid());

    if (url == NULL ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        mw_error_set(err, "output %s: the URL must start with http:// or https://",
                     type_names[type]);
        goto fail;
    }
    if (type == SINK_ES) {
        char *slash = strrchr(url, '/');
        if (slash == NULL || slash < strstr(url, "://") + 3 || slash[1] == '\0') {
            mw_error_set(err, "output elasticsearch:%s: expected URL/INDEX", url);
            goto fail;
        }
        *slash = '\0';
        h->index = xstrdup(slash + 1);
        size_t len = strlen(url) + 8;
        h->url = xmalloc(len);
        snprintf(h->url, len, "%s/_bulk", url);
        /* the index name belongs to the spool's identity */
        size_t blen = strlen(h->url) + strlen(h->index) + 2;
        char *both = xmalloc(blen);
        snprintf(both, blen, "%s/%s", url, h->index);
        free(h->name);
        name_from(h, "es", both);
        free(both);
    } else {
        h->url = xstrdup(url);
        name_from(h, "webhook", h->url);
    }
    h->headers = C->slist_append(h->headers, "Expect:");
    while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
        char *eq = strchr(tok, '=');
        const char *k = tok, *v = eq ? eq + 1 : "";
        size_t n;
        mw_time_t d;
        if (eq)
            *eq = '\0';
        if (strcmp(k, "batch") == 0 && sscanf(v, "%zu", &n) == 1 && n >= 1 &&
            n <= 100000) {
            h->batch = n;
        } else if (strcmp(k, "queue") == 0 && sscanf(v, "%zu", &n) == 1 && n >= 1) {
            h->qcap = n;
        } else if (strcmp(k, "linger") == 0 && parse_ms(v, &d) == 0) {
            h->linger = d;
        } else if (strcmp(k, "connect_timeout") == 0 && parse_ms(v, &d) == 0 &&
                   d >= 1000) {
            h->connect_timeout_ms = (long)(d / 1000);
        } else if (strcmp(k, "timeout") == 0 && parse_ms(v, &d) == 0 && d >= 1000) {
            h->timeout_ms = (long)(d / 1000);
        } else if (strcmp(k, "backoff") == 0 && parse_ms(v, &d) == 0 && d >= 1000) {
            h->backoff = d;
        } else if (strcmp(k, "max_backoff") == 0 && parse_ms(v, &d) == 0 && d >= 1000) {
            h->max_backoff = d;
        } else if (strcmp(k, "drain") == 0 && parse_ms(v, &d) == 0) {
            h->drain = d;
        } else if (strcmp(k, "insecure") == 0 && !eq) {
            h->insecure = true;
        } else if (strcmp(k, "cacert") == 0 && v[0]) {
            free(h->cacert);
            h->cacert = xstrdup(v);
        } else if (strcmp(k, "token_env") == 0 && v[0]) {
            if (add_env_header(h, "Authorization", v, "Bearer ", err) < 0)
                goto fail;
        } else if (strcmp(k, "apikey_env") == 0 && v[0]) {
            if (add_env_header(h, "Authorization", v, "ApiKey ", err) < 0)
                goto fail;
        } else if (strcmp(k, "header") == 0 && strchr(v, ':')) {
            /* header=Name:ENV_VAR */
            char *colon = strchr(v, ':');
            *colon = '\0';
            if (v[0] == '\0' || colon[1] == '\0' || strpbrk(v, " \t\r\n")) {
                bad = true;
            } else if (add_env_header(h, v, colon + 1, "", err) < 0) {
                goto fail;
            }
        } else {
            bad = true;
        }
        if (bad) {
            mw_error_set(err, "output %s: bad option '%s%s%s' (see docs/OUTPUTS.md)", url,
                         k, eq ? "=" : "", v);
            goto fail;
        }
    }
    h->headers = C->slist_append(h->headers, type == SINK_ES || h->batch > 1
                                                 ? "Content-Type: application/x-ndjson"
                                                 : "Content-Type: application/json");
    if (h->cacert && access(h->cacert, R_OK) != 0) {
        mw_error_set(err, "output %s: cacert=%s: %s", h->url, h->cacert, strerror(errno));
        goto fail;
    }
    if (h->insecure) {
        /* loud on purpose: anyone on the path can read and change the alerts */
        mw_log_warn("output %s: TLS verification is DISABLED (insecure): the "
                    "server's certificate and name are not checked",
                    h->url);
        mw_health_emit("output_insecure",
                       json_pack("{s:s, s:s}", "output", h->url, "warning",
                                 "TLS certificate and host name verification disabled"));
    }
    if (spool_dir == NULL) {
        mw_error_set(err,
                     "output %s needs a spool folder for alerts it cannot "
                     "deliver yet: give --state-dir or --spool-dir",
                     h->url);
        goto fail;
    }
    if (spool_open(h, spool_dir, err) < 0)
        goto fail;
    h->ring = xcalloc(h->qcap, sizeof(*h->ring));
    h->curl = C->easy_init();
    if (h->curl == NULL) {
        mw_error_set(err, "output %s: cannot create a curl handle", h->url);
        goto fail;
    }
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->started = true;
    free(copy);
    return h;
fail:
    free(copy);
    http_free(h);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* HTTP sink: requests                                                     */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct http *h = ud;
    size_t n = size * nmemb;
    if (h->resp_len + n + 1 > MAX_RESPONSE)
        return 0;
    if (h->resp_len + n + 1 > h->resp_cap) {
        h->resp_cap = (h->resp_len + n + 1) * 2;
        h->resp = xrealloc(h->resp, h->resp_cap);
    }
    memcpy(h->resp + h->resp_len, ptr, n);
    h->resp_len += n;
    h->resp[h->resp_len] = '\0';
    return n;
}

/* Names a TLS failure as such in h->errbuf (it is what the health record
 * and the log show), with the usual fix for an untrusted certificate. */
static void tls_explain(struct http *h, CURLcode rc)
{
    char msg[CURL_ERROR_SIZE + 96];
    const char *what, *hint = "";
    switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        what = "TLS certificate verification failed";
        hint = h->cacert ? "" : " (a private CA? give cacert=PATH)";
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        what = "TLS error";
        break;
    default:
        return;
    }
    snprintf(msg, sizeof(msg), "%s: %s%s", what, h->errbuf, hint);
    snprintf(h->errbuf, sizeof(h->errbuf), "%.*s", (int)sizeof(h->errbuf) - 1, msg);
}

/* POSTs body. Returns the HTTP status, or 0 on a transport error (message
 * in h->errbuf). *retry_after gets the server's Retry-After (us) or -1. */
static long post(struct http *h, const char *body, size_t len, mw_time_t *retry_after)
{
    CURL *c = h->curl;
    long status = 0;
    CURLcode rc;
    struct curl_header *hd;

    *retry_after = -1;
    h->resp_len = 0;
    if (h->resp)
        h->resp[0] = '\0';
    h->errbuf[0] = '\0';
    C->easy_reset(c);
    C->easy_setopt(c, CURLOPT_URL, h->url);
    C->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    C->easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    C->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    C->easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    C->easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    C->easy_setopt(c, CURLOPT_POST, 1L);
    C->easy_setopt(c, CURLOPT_POSTFIELDS, body);
    C->easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    C->easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    C->easy_setopt(c, CURLOPT_WRITEDATA, h);
    C->easy_setopt(c, CURLOPT_USERAGENT, "moonwatch/0.1");
    C->easy_setopt(c, CURLOPT_SSL_VERIFYPEER, h->insecure ? 0L : 1L);
    C->easy_setopt(c, CURLOPT_SSL_VERIFYHOST, h->insecure ? 0L : 2L);
    if (h->cacert)
        C->easy_setopt(c, CURLOPT_CAINFO, h->cacert);
    rc = C->easy_perform(c);
    if (rc != CURLE_OK) {
        if (h->errbuf[0] == '\0')
            snprintf(h->errbuf, sizeof(h->errbuf), "%s", C->easy_strerror(rc));
        tls_explain(h, rc);
        return 0;
    }
    C->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (C->easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &hd) == CURLHE_OK) {
        char *end;
        long secs = strtol(hd->value, &end, 10);
        if (end != hd->value && *end == '\0' && secs >= 0) {
            *retry_after = (mw_time_t)secs * 1000000;
        } else {
            time_t when = C->getdate(hd->value, NULL);
            if (when != -1)
                *retry_after =
                    when > time(NULL) ? (mw_time_t)(when - time(NULL)) * 1000000 : 0;
        }
    }
    return status;
}

static bool retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

/* ---------------------------------------------------------------------- */
/* HTTP sink: the sender thread                                            */

struct batch {
    struct item *v; /* owned items */
    size_t n, cap;
    bool from_spool; /* some items came from the spool */
};

static void batch_push(struct batch *b, struct item it)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->v = xrealloc(b->v, b->cap * sizeof(*b->v));
    }
    b->v[b->n++] = it;
}

static void item_id(struct item *it)
{
    json_t *doc = json_loads(it->line, 0, NULL);
    const char *id =
        json_string_value(json_object_get(json_object_get(doc, "event"), "id"));
    snprintf(it->id, sizeof(it->id), "%s", id ? id : "");
    json_decref(doc);
}

/* Reads one spooled line (mu held). Returns false at the end. */
static bool spool_read(struct http *h, struct item *it)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    fseek(h->spool_r, h->read_off, SEEK_SET);
    n = getline(&line, &cap, h->spool_r);
    if (n <= 0 || line[n - 1] != '\n') {
        free(line);
        clearerr(h->spool_r);
        return false;
    }
    h->read_off += (long)n;
    line[n - 1] = '\0';
    it->line = line;
    item_id(it);
    h->spool_pending--;
    return true;
}

/* Saves read_off, or empties the spool once it is fully delivered (mu held). */
static void spool_commit(struct http *h)
{
    FILE *pf;
    if (h->spool_pending == 0) {
        if (ftruncate(fileno(h->spool_w), 0) != 0)
            mw_log_error("spool %s: %s", h->spool_path, strerror(errno));
        fseek(h->spool_w, 0, SEEK_END);
        h->read_off = 0;
        unlink(h->pos_path);
        return;
    }
    if ((pf = fopen(h->pos_path, "w")) != NULL) {
        fprintf(pf, "%ld\n", h->read_off);
        fclose(pf);
    }
}

/* Appends lines to the spool (mu held). */
static void spool_append(struct http *h, const char *line)
{
    if (fputs(line, h->spool_w) == EOF || fputc('\n', h->spool_w) == EOF ||
        fflush(h->spool_w) != 0) {
        h->failed++;
        mw_log_error("spool %s: write failed: %s (alert lost)", h->spool_path,
                     strerror(errno));
        return;
    }
    h->spool_pending++;
    h->spooled++;
}

static void reject_items(struct http *h, struct item *v, size_t n, long status)
{
    FILE *fp = fopen(h->rejected_path, "a");
    for (size_t i = 0; i < n; i++)
        if (fp)
            fprintf(fp, "%s\n", v[i].line);
    if (fp)
        fclose(fp);
    pthread_mutex_lock(&h->mu);
    h->failed += n;
    pthread_mutex_unlock(&h->mu);
    mw_health_emit("output_rejected",
                   json_pack("{s:s, s:I, s:I, s:s, s:s%}", "output", h->url, "status",
                             (json_int_t)status, "alerts", (json_int_t)n, "kept_in",
                             h->rejected_path, "response", h->resp ? h->resp : "",
                             h->resp ? strnlen(h->resp, 300) : 0));
}

static char *build_body(struct http *h, struct item *v, size_t n, size_t *len)
{
    size_t cap = 0, k = 0;
    char *body;
    for (size_t i = 0; i < n; i++)
        cap +=
            strlen(v[i].line) + strlen(v[i].id) + (h->index ? strlen(h->index) : 0) + 64;
    body = xmalloc(cap + 1);
    for (size_t i = 0; i < n; i++) {
        if (h->index)
            k += (size_t)snprintf(body + k, cap + 1 - k,
                                  "{\"create\":{\"_index\":\"%s\",\"_id\":\"%s\"}}\n",
                                  h->index, v[i].id);
        k += (size_t)snprintf(body + k, cap + 1 - k, "%s", v[i].line);
        if (h->index || h->batch > 1)
            body[k++] = '\n';
    }
    body[k] = '\0';
    *len = k;
    return body;
}

/* _bulk response: moves items to retry to the front of b (returns their
 * count), rejects the refused ones, counts the rest delivered. Returns -1
 * when the response cannot be read (then everything is retried). */
static long bulk_items(struct http *h, struct batch *b, size_t *delivered)
{
    json_t *doc = json_loadb(h->resp ? h->resp : "", h->resp_len, 0, NULL);
    json_t *items = json_object_get(doc, "items");
    size_t keep = 0, ok = 0;
    struct batch refused = {0};

    if (!json_is_array(items) || json_array_size(items) != b->n) {
        json_decref(doc);
        return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        json_t *it = json_array_get(items, i);
        json_t *res = json_object_iter_value(json_object_iter(it));
        long st = (long)json_integer_value(json_object_get(res, "status"));
        if ((st >= 200 && st < 300) || st == 409) { /* 409: already indexed */
            free(b->v[i].line);
            ok++;
        } else if (retryable(st)) {
            b->v[keep++] = b->v[i];
        } else {
            batch_push(&refused, b->v[i]);
        }
    }
    json_decref(doc);
    if (refused.n) {
        reject_items(h, refused.v, refused.n, 400);
        for (size_t i = 0; i < refused.n; i++)
            free(refused.v[i].line);
        free(refused.v);
    }
    b->n = keep;
    *delivered = ok;
    return (long)keep;
}

static void sleep_until(struct http *h, mw_time_t until)
{
    struct timespec ts;
    pthread_mutex_lock(&h->mu);
    abs_time(until, &ts);
    while (mono_now() < until && !(h->stopping && mono_now() >= h->deadline))
        if (pthread_cond_timedwait(&h->cv, &h->mu, &ts) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&h->mu);
}

static bool past_deadline(struct http *h)
{
    pthread_mutex_lock(&h->mu);
    bool over = h->stopping && mono_now() >= h->deadline;
    pthread_mutex_unlock(&h->mu);
    return over;
}

/* Sends b until every item is delivered or refused, or the drain deadline
 * passes (then b keeps what is left). */
static void send_batch(struct http *h, struct batch *b)
{
    int attempt = 0;
    while (b->n > 0) {
        size_t len, ok = 0;
        mw_time_t retry_after;
        char *body = build_body(h, b->v, b->n, &len);
        long st = post(h, body, len, &retry_after);
        free(body);
        if (st >= 200 && st < 300) {
            if (h->index) {
                if (bulk_items(h, b, &ok) < 0)
                    st = 0,
                    snprintf(h->errbuf, sizeof(h->errbuf), "unreadable _bulk response");
            } else {
                ok = b->n;
                for (size_t i = 0; i < b->n; i++)
                    free(b->v[i].line);
                b->n = 0;
            }
            pthread_mutex_lock(&h->mu);
            h->delivered += ok;
            bool was_down = h->down;
            h->down = false;
            pthread_mutex_unlock(&h->mu);
            if (was_down)
                mw_health_emit("output_up", json_pack("{s:s}", "output", h->url));
            if (b->n == 0)
                return;
            if (st != 0) {
                /* partial: retry only the failed items, the endpoint is up */
                pthread_mutex_lock(&h->mu);
                h->retried += b->n;
                pthread_mutex_unlock(&h->mu);
                mw_log_warn("output %s: %zu item(s) of a _bulk request failed; "
                            "retrying them",
                            h->url, b->n);
                if (past_deadline(h))
                    return;
                sleep_until(h,
                            mono_now() + (retry_after >= 0 ? retry_after : h->backoff));
                continue;
            }
        } else if (!retryable(st)) {
            reject_items(h, b->v, b->n, st);
            for (size_t i = 0; i < b->n; i++)
                free(b->v[i].line);
            b->n = 0;
            return;
        }
        /* retry what is left, after a backoff */
        pthread_mutex_lock(&h->mu);
        h->retried += b->n;
        bool first = !h->down;
        h->down = true;
        pthread_mutex_unlock(&h->mu);
        if (first || attempt == 0) {
            char why[CURL_ERROR_SIZE + 32];
            if (st == 0)
                snprintf(why, sizeof(why), "%s", h->errbuf);
            else
                snprintf(why, sizeof(why), "HTTP %ld", st);
            if (first)
                mw_health_emit("output_down",
                               json_pack("{s:s, s:s, s:I}", "output", h->url, "error",
                                         why, "pending", (json_int_t)b->n));
            mw_log_warn("output %s: %s; retrying %zu alert(s)", h->url, why, b->n);
        }
        mw_time_t d = h->backoff << (attempt < 20 ? attempt : 20);
        if (d > h->max_backoff || d <= 0)
            d = h->max_backoff;
        d = d / 2 + (mw_time_t)(rand_r(&h->rng) % (unsigned)(d / 2 + 1));
        if (retry_after >= 0)
            d = retry_after > h->max_backoff * 4 ? h->max_backoff * 4 : retry_after;
        attempt++;
        if (past_deadline(h))
            return;
        sleep_until(h, mono_now() + d);
        if (past_deadline(h))
            return;
    }
}

/* The drain deadline passed: writes batch + ring + unread spool to a new
 * spool in that order (mu held). */
static void respool(struct http *h, struct batch *b)
{
    size_t tlen = strlen(h->spool_path) + 5;
    char *tmp = xmalloc(tlen);
    FILE *fp;
    uint64_t n = 0, fresh = 0;
    struct item it;

    snprintf(tmp, tlen, "%s.tmp", h->spool_path);
    fp = fopen(tmp, "w");
    if (fp == NULL) {
        mw_log_error("spool %s: %s (undelivered alerts lost)", tmp, strerror(errno));
        h->failed += b->n + h->count + h->spool_pending;
        goto out;
    }
    for (size_t i = 0; i < b->n; i++, n++, fresh++)
        fprintf(fp, "%s\n", b->v[i].line);
    for (size_t i = 0; i < h->count; i++, n++, fresh++)
        fprintf(fp, "%s\n", h->ring[(h->head + i) % h->qcap].line);
    while (spool_read(h, &it)) {
        fprintf(fp, "%s\n", it.line);
        free(it.line);
        n++;
    }
    if (fclose(fp) != 0 || rename(tmp, h->spool_path) != 0) {
        mw_log_error("spool %s: %s", h->spool_path, strerror(errno));
    }
    fclose(h->spool_w);
    fclose(h->spool_r);
    h->spool_w = fopen(h->spool_path, "a");
    h->spool_r = fopen(h->spool_path, "r");
    h->read_off = 0;
    unlink(h->pos_path);
    h->spool_pending = n;
    h->spooled += fresh;
out:
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].line);
    b->n = 0;
    for (size_t i = 0; i < h->count; i++)
        free(h->ring[(h->head + i) % h->qcap].line);
    h->count = 0;
    free(tmp);
}

static void *sender(void *arg)
{
    struct http *h = arg;
    struct batch b = {0};

    for (;;) {
        struct timespec ts;
        mw_time_t linger_end = 0;
        pthread_mutex_lock(&h->mu);
        for (;;) {
            while (b.n < h->batch && h->count > 0) {
                batch_push(&b, h->ring[h->head]);
                h->head = (h->head + 1) % h->qcap;
                h->count--;
            }
            while (b.n < h->batch && h->count == 0 && h->spool_pending > 0) {
                struct item it;
                if (!spool_read(h, &it)) {
                    h->spool_pending = 0; /* torn last line: drop the count */
                    break;
                }
                batch_push(&b, it);
                b.from_spool = true;
            }
            if (b.n >= h->batch || h->stopping)
                break;
            if (b.n > 0) {
                if (linger_end == 0)
                    linger_end = mono_now() + h->linger;
                if (mono_now() >= linger_end)
                    break;
                abs_time(linger_end, &ts);
                pthread_cond_timedwait(&h->cv, &h->mu, &ts);
            } else {
                pthread_cond_wait(&h->cv, &h->mu);
            }
        }
        bool done = h->stopping && b.n == 0;
        pthread_mutex_unlock(&h->mu);
        if (done)
            break;
        send_batch(h, &b);
        pthread_mutex_lock(&h->mu);
        if (b.n > 0) { /* deadline passed with alerts left */
            respool(h, &b);
            pthread_mutex_unlock(&h->mu);
            break;
        }
        if (b.from_spool)
            spool_commit(h);
        b.from_spool = false;
        pthread_mutex_unlock(&h->mu);
    }
    free(b.v);
    return NULL;
}

static void http_enqueue(struct http *h, const char *line, const char *id)
{
    pthread_mutex_lock(&h->mu);
    if (h->spool_pending > 0 || h->count == h->qcap || h->stopping) {
        spool_append(h, line);
    } else {
        struct item *it = &h->ring[(h->head + h->count) % h->qcap];
        it->line = xstrdup(line);
        snprintf(it->id, sizeof(it->id), "%s", id ? id : "");
        h->count++;
    }
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Waits for the sender (already told to stop) and reports. */
static void http_drain(struct http *h)
{
    pthread_join(h->thread, NULL);
    mw_health_emit("output_stats",
                   json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "output", h->url,
                             "delivered", (json_int_t)h->delivered, "retried",
                             (json_int_t)h->retried, "spooled", (json_int_t)h->spooled,
                             "failed", (json_int_t)h->failed, "spool_pending",
                             (json_int_t)h->spool_pending));
}

/* ---------------------------------------------------------------------- */

int mw_output_add(struct mw_output *o, const char *spec, struct mw_error *err)
{
    struct sink s = {0};
    s.spec = xstrdup(spec);
    if (strcmp(spec, "stdout") == 0 || strcmp(spec, "-") == 0) {
        s.type = SINK_STDOUT;
        s.fp = stdout;
    } else if (strncmp(spec, "file:", 5) == 0 && spec[5] != '\0') {
        s.type = SINK_FILE;
        s.path = xstrdup(spec + 5);
        if (file_open(&s, err) < 0)
            goto fail;
    } else if (strncmp(spec, "webhook:", 8) == 0) {
        s.type = SINK_WEBHOOK;
        if ((s.h = http_new(SINK_WEBHOOK, spec + 8, o->spool_dir, err)) == NULL)
            goto fail;
    } else if (strncmp(spec, "elasticsearch:", 14) == 0) {
        s.type = SINK_ES;
        if ((s.h = http_new(SINK_ES, spec + 14, o->spool_dir, err)) == NULL)
            goto fail;
    } else {
        mw_error_set(err,
                     "unknown output '%s' (expected stdout, file:PATH, "
                     "webhook:URL or elasticsearch:URL/INDEX)",
                     spec);
        goto fail;
    }
    for (size_t i = 0; s.h && i < o->n; i++) {
        if (o->sinks[i].h && strcmp(o->sinks[i].h->name, s.h->name) == 0) {
            mw_error_set(err, "output %s is given twice", spec);
            goto fail;
        }
    }
    if (s.h && pthread_create(&s.h->thread, NULL, sender, s.h) != 0) {
        mw_error_set(err, "output %s: cannot start its sender thread", spec);
        goto fail;
    }
    o->sinks = xrealloc(o->sinks, (o->n + 1) * sizeof(*o->sinks));
    o->sinks[o->n++] = s;
    return 0;
fail:
    if (s.fp && s.fp != stdout)
        fclose(s.fp);
    http_free(s.h);
    free(s.path);
    free(s.spec);
    return -1;
}

/* One alert line in a single write(2) after what stdio holds, so a process
 * killed at any point leaves whole lines only (a restart then neither
 * repeats nor half-writes an alert). Returns 0 or -1. */
static int write_line(FILE *fp, const char *line)
{
    size_t len = strlen(line);
    char *buf = xmalloc(len + 1);
    int rc = 0;
    memcpy(buf, line, len);
    buf[len++] = '\n';
    if (fflush(fp) == EOF)
        rc = -1;
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t n = write(fileno(fp), buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = -1;
        else
            off += (size_t)n;
    }
    free(buf);
    return rc;
}

int mw_output_write(struct mw_output *o, const json_t *alert)
{
    int failures = 0;
    char *line = json_dumps(alert, JSON_COMPACT);
    const char *id =
        json_string_value(json_object_get(json_object_get(alert, "event"), "id"));
    if (line == NULL) {
        mw_log_error("cannot serialise an alert");
        return (int)o->n;
    }
    for (size_t i = 0; i < o->n; i++) {
        struct sink *s = &o->sinks[i];
        if (s->h) {
            http_enqueue(s->h, line, id);
            continue;
        }
        if (s->type == SINK_FILE)
            file_check(s);
        if (write_line(s->fp, line) < 0) {
            s->failed++;
            failures++;
            mw_log_error("output %s: write failed: %s", s->spec, strerror(errno));
        } else {
            s->written++;
        }
    }
    mw_json_free(line);
    return failures;
}

void mw_output_drain(struct mw_output *o)
{
    if (o == NULL || o->drained)
        return;
    o->drained = true;
    /* stop all senders at once so their drain times overlap */
    for (size_t i = 0; i < o->n; i++) {
        struct http *h = o->sinks[i].h;
        if (h == NULL)
            continue;
        pthread_mutex_lock(&h->mu);
        h->stopping = true;
        h->deadline = mono_now() + h->drain;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
    }
    for (size_t i = 0; i < o->n; i++)
        if (o->sinks[i].h)
            http_drain(o->sinks[i].h);
}

void mw_output_free(struct mw_output *o)
{
    if (o == NULL)
        return;
    mw_output_drain(o);
    for (size_t i = 0; i < o->n; i++) {
        struct sink *s = &o->sinks[i];
        if (s->fp == stdout)
            fflush(stdout);
        else if (s->fp)
            fclose(s->fp);
        http_free(s->h);
        free(s->path);
        free(s->spec);
    }
    free(o->sinks);
    free(o->spool_dir);
    free(o);
}

void mw_output_stats(const struct mw_output *o, json_t *arr)
{
    for (size_t i = 0; i < o->n; i++) {
        const struct sink *s = &o->sinks[i];
        uint64_t delivered = s->written, retried = 0, spooled = 0, failed = s->failed;
        uint64_t pending = 0;
        if (s->h) {
            pthread_mutex_lock(&s->h->mu);
            delivered = s->h->delivered;
            retried = s->h->retried;
            spooled = s->h->spooled;
            failed = s->h->failed;
            pending = s->h->spool_pending;
            pthread_mutex_unlock(&s->h->mu);
        }
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "spec", s->spec, "type",
                      type_names[s->type], "delivered", (json_int_t)delivered, "retried",
                      (json_int_t)retried, "spooled", (json_int_t)spooled, "failed",
                      (json_int_t)failed, "spool_pending", (json_int_t)pending, "written",
                      (json_int_t)delivered));
    }
}
