/* mw_http.c - the HTTP transport of the webhook and Elasticsearch sinks
 * (see http_int.h)
 *
 * Spec options, headers taken from environment variables (never from the
 * spec itself, so tokens stay out of process listings), one POST with
 * timeouts, TLS verification on unless insecure is given (loudly), and
 * Retry-After read in both its forms. Messages name the output by its
 * redacted URL (h->label) and have every secret the sink knows (header
 * values, the URL's password and secret query values) scrubbed from them.
 * Redirects are not followed (alerts and their Authorization header would
 * go to wherever a 3xx points): a 3xx is a configuration error, retried
 * and kept. A response body is read to its end but only a bounded prefix
 * is kept, so a huge 2xx is still a delivery. At exit a request in flight
 * is cut short when the spool's drain deadline passes. Every request reuses the sink's
 * easy handle from the spool's sender thread; the curl table is loaded on the main thread
 * by the first HTTP sink and is read-only afterwards.
 */
#include "http_int.h"
#include "mw_clock.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_sha256.h"
#include "mw_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* libcurl, through the table mw_curl loads with the first HTTP output */
static const struct mw_curl_api *C;

/* ---------------------------------------------------------------------- */
/* spec                                                                    */

static void add_secret(struct mw_http *h, const char *v, size_t n)
{
    if (n < 3) /* too short to scrub without mangling every message */
        return;
    h->secrets = xrealloc(h->secrets, (h->nsecrets + 1) * sizeof(*h->secrets));
    h->secrets[h->nsecrets] = xmalloc(n + 1);
    memcpy(h->secrets[h->nsecrets], v, n);
    h->secrets[h->nsecrets++][n] = '\0';
}

/* b64 of v (n bytes): what an Authorization: Basic header carries */
static void add_secret_b64(struct mw_http *h, const char *v, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct mw_buf b = MW_BUF_INIT;
    for (size_t i = 0; i < n; i += 3) {
        unsigned x = (unsigned char)v[i] << 16;
        if (i + 1 < n)
            x |= (unsigned char)v[i + 1] << 8;
        if (i + 2 < n)
            x |= (unsigned char)v[i + 2];
        mw_buf_addc(&b, tab[(x >> 18) & 63]);
        mw_buf_addc(&b, tab[(x >> 12) & 63]);
        mw_buf_addc(&b, i + 1 < n ? tab[(x >> 6) & 63] : '=');
        mw_buf_addc(&b, i + 2 < n ? tab[x & 63] : '=');
    }
    add_secret(h, b.ptr, b.len);
    mw_buf_release(&b);
}

/* The URL's password (or lone user part) and the Basic credentials made
 * of it, path tokens and secret query values. */
static void url_secrets(struct mw_http *h, const char *url)
{
    const char *p = strstr(url, "://"), *at = NULL, *q, *end;
    if (p == NULL)
        return;
    p += 3;
    end = p + strcspn(p, "#");
    q = memchr(p, '?', (size_t)(end - p));
    for (const char *c = p; c < (q ? q : end); c++)
        if (*c == '@')
            at = c;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        add_secret(h, colon ? colon + 1 : p, (size_t)(at - (colon ? colon + 1 : p)));
        add_secret_b64(h, p, (size_t)(at - p));
        p = at + 1;
    }
    for (const char *seg = p; seg < (q ? q : end);) {
        size_t n = strcspn(seg, "/?#");
        if (mw_secret_token(seg, n))
            add_secret(h, seg, n);
        seg += n + (seg[n] == '/');
        if (n == 0 && seg[0] != '/')
            break;
    }
    for (const char *k = q ? q + 1 : end; k < end;) {
        const char *amp = memchr(k, '&', (size_t)(end - k));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(k, '=', (size_t)(stop - k));
        if (eq && mw_secret_name(k, (size_t)(eq - k)))
            add_secret(h, eq + 1, (size_t)(stop - eq - 1));
        k = amp ? amp + 1 : end;
    }
}

const char *mw_http_find(const char *hay, size_t n, const char *needle, size_t m)
{
    const char *end = hay + n;
    if (m == 0)
        return hay;
    for (const char *p = hay; (size_t)(end - p) >= m; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) - m + 1);
        if (p == NULL)
            return NULL;
        if (memcmp(p, needle, m) == 0)
            return p;
    }
    return NULL;
}

/* Replaces every known secret in b with ***. */
static void scrub(const struct mw_http *h, struct mw_buf *b)
{
    for (size_t i = 0; i < h->nsecrets; i++) {
        const char *sec = h->secrets[i];
        size_t n = strlen(sec);
        char *hit;
        while ((hit = (char *)(uintptr_t)mw_http_find(b->ptr, b->len, sec, n)) != NULL) {
            size_t at = (size_t)(hit - b->ptr);
            memmove(hit + 3, hit + n, b->len - at - n + 1);
            memcpy(hit, "***", 3);
            b->len -= n - 3;
        }
    }
}

/* Scrubs a NUL-terminated fixed buffer in place (it only shrinks). */
static void scrub_cstr(const struct mw_http *h, char *s)
{
    struct mw_buf b = MW_BUF_INIT;
    mw_buf_adds(&b, s);
    scrub(h, &b);
    memcpy(s, b.ptr, b.len + 1);
    mw_buf_release(&b);
}

void mw_http_set_url(struct mw_http *h, char *url)
{
    free(h->url);
    free(h->label);
    h->url = url;
    h->label = mw_redact_url(url);
}

static int add_env_header(struct mw_http *h, const char *name, const char *var,
                          const char *prefix, struct mw_error *err)
{
    const char *val = getenv(var);
    struct mw_buf line = MW_BUF_INIT;
    if (val == NULL || val[0] == '\0')
        return mw_error_set(err,
                            "environment variable %s (named in the output "
                            "spec) is not set",
                            var);
    if (strpbrk(val, "\r\n"))
        return mw_error_set(err, "environment variable %s holds a line break", var);
    add_secret(h, val, strlen(val));
    mw_buf_addf(&line, "%s: %s%s", name, prefix, val);
    h->headers = C->slist_append(h->headers, line.ptr);
    mw_buf_release(&line);
    return 0;
}

/* One HTTP option (k=v; v is "" without '=', writable). Returns 1 when
 * taken, 0 when unknown or bad, -1 when it failed with err set. */
static int http_opt(struct mw_http *h, const char *k, char *v, bool eq,
                    struct mw_error *err)
{
    mw_time_t d;
    if ((strcmp(k, "connect_timeout") == 0 || strcmp(k, "timeout") == 0) &&
        mw_duration_parse(v, &d) == 0 && d >= MW_USEC_PER_MSEC) {
        *(k[0] == 'c' ? &h->connect_timeout_ms : &h->timeout_ms) =
            (long)(d / MW_USEC_PER_MSEC);
    } else if (strcmp(k, "insecure") == 0 && !eq) {
        h->insecure = true;
    } else if (strcmp(k, "cacert") == 0 && v[0]) {
        free(h->cacert);
        h->cacert = xstrdup(v);
    } else if (strcmp(k, "token_env") == 0 && v[0]) {
        return add_env_header(h, "Authorization", v, "Bearer ", err) < 0 ? -1 : 1;
    } else if (strcmp(k, "apikey_env") == 0 && v[0]) {
        return add_env_header(h, "Authorization", v, "ApiKey ", err) < 0 ? -1 : 1;
    } else if (strcmp(k, "header") == 0 && strchr(v, ':')) {
        /* header=Name:ENV_VAR */
        char *colon = strchr(v, ':');
        *colon = '\0';
        if (v[0] == '\0' || colon[1] == '\0' || strpbrk(v, " \t\r\n")) {
            *colon = ':';
            return 0;
        }
        return add_env_header(h, v, colon + 1, "", err) < 0 ? -1 : 1;
    } else {
        return 0;
    }
    return 1;
}

int mw_http_parse(struct mw_http *h, const char *kind, const char *rest, size_t batch,
                  struct mw_error *err)
{
    char *copy, *tok, *next;
    int rc = -1;

    memset(h, 0, sizeof(*h));
    mw_buf_init(&h->resp);
    mw_buf_init(&h->why);
    h->connect_timeout_ms = 5000;
    h->timeout_ms = 30000;
    mw_spool_opts_default(&h->so, batch);
    if ((C = mw_curl(err)) == NULL)
        return -1;
    copy = xstrdup(rest);
    next = strchr(copy, ',');
    if (next)
        *next++ = '\0';
    if (strncmp(copy, "http://", 7) != 0 && strncmp(copy, "https://", 8) != 0) {
        mw_error_set(err, "output %s: the URL must start with http:// or https://", kind);
        goto out;
    }
    mw_http_set_url(h, xstrdup(copy));
    url_secrets(h, h->url);
    h->headers = C->slist_append(h->headers, "Expect:");
    for (tok = next; tok; tok = next) {
        char *eq;
        const char *v;
        int r;
        if ((next = strchr(tok, ',')) != NULL)
            *next++ = '\0';
        if (tok[0] == '\0')
            continue;
        eq = strchr(tok, '=');
        if (eq)
            *eq = '\0';
        v = eq ? eq + 1 : "";
        r = mw_spool_opt(&h->so, tok, v);
        if (r == 0 &&
            (r = http_opt(h, tok, eq ? eq + 1 : tok + strlen(tok), eq != NULL, err)) < 0)
            goto out; /* err names the environment variable */
        if (r <= 0) {
            /* the value may be a secret written where it does not belong */
            mw_error_set(err, "output %s: bad option '%s%s%s' (see docs/OUTPUTS.md)",
                         h->label, tok, eq ? "=" : "",
                         mw_secret_name(tok, strlen(tok)) ? "***" : v);
            goto out;
        }
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

int mw_http_ready(struct mw_http *h, const char *content_type, struct mw_error *err)
{
    struct mw_buf line = MW_BUF_INIT;
    mw_buf_addf(&line, "Content-Type: %s", content_type);
    h->headers = C->slist_append(h->headers, line.ptr);
    mw_buf_release(&line);
    if (h->cacert && access(h->cacert, R_OK) != 0)
        return mw_error_set(err, "output %s: cacert=%s: %s", h->label, h->cacert,
                            strerror(errno));
    if (h->insecure) {
        /* loud on purpose: anyone on the path can read and change the alerts */
        mw_log_warn("output %s: TLS verification is DISABLED (insecure): the "
                    "server's certificate and name are not checked",
                    h->label);
        mw_health_emit("output_insecure",
                       json_pack("{s:s, s:s}", "output", h->label, "warning",
                                 "TLS certificate and host name verification disabled"));
    }
    h->curl = C->easy_init();
    if (h->curl == NULL)
        return mw_error_set(err, "output %s: cannot create a curl handle", h->label);
    return 0;
}

char *mw_http_spool_name(const char *kind, const char *identity)
{
    char hex[65];
    struct mw_buf all = MW_BUF_INIT, name = MW_BUF_INIT;
    /* no secret reaches the name, not even hashed (a short hash of a
     * password would let anyone who lists the folder test guesses), and a
     * changed password keeps the spool; the visible part is redacted
     * further (path tokens) */
    char *hashed = mw_redact_urln(identity, strlen(identity), false);
    char *shown = mw_redact_url(identity);
    const char *p = strstr(shown, "://");

    mw_buf_addf(&all, "%s:%s", kind, hashed);
    mw_sha256_hex(all.ptr, all.len, hex);
    mw_buf_release(&all);
    mw_buf_adds(&name, kind);
    mw_buf_addc(&name, '-');
    p = p ? p + 3 : shown;
    if (strchr(p, '@') && strchr(p, '@') < p + strcspn(p, "/?#"))
        p = strchr(p, '@') + 1; /* "user:***@": not part of the name */
    for (; *p && name.len < 60; p++)
        mw_buf_addc(&name, ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                            (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')
                               ? *p
                               : '_');
    mw_buf_addf(&name, "-%.8s", hex);
    free(hashed);
    free(shown);
    return mw_buf_detach(&name, NULL);
}

void mw_http_release(struct mw_http *h)
{
    if (h->curl)
        C->easy_cleanup(h->curl);
    h->curl = NULL;
    if (h->headers)
        C->slist_free_all(h->headers);
    h->headers = NULL;
    free(h->url);
    h->url = NULL;
    free(h->label);
    h->label = NULL;
    for (size_t i = 0; i < h->nsecrets; i++)
        free(h->secrets[i]);
    free(h->secrets);
    h->secrets = NULL;
    h->nsecrets = 0;
    free(h->cacert);
    h->cacert = NULL;
    mw_buf_release(&h->resp);
    mw_buf_release(&h->why);
}

/* ---------------------------------------------------------------------- */
/* requests                                                                */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct mw_http *h = ud;
    size_t n = size * nmemb, room = MW_HTTP_MAX_RESPONSE - h->resp.len;
    /* keep a prefix, read (and drop) the rest: failing the transfer would
     * turn a delivered 2xx into a retry, forever */
    if (n > room) {
        h->resp_truncated = true;
        mw_buf_add(&h->resp, ptr, room);
    } else {
        mw_buf_add(&h->resp, ptr, n);
    }
    return n;
}

/* Names a TLS failure as such in h->errbuf (it is what the health record
 * and the log show), with the usual fix for an untrusted certificate. */
static void tls_explain(struct mw_http *h, CURLcode rc)
{
    struct mw_buf msg = MW_BUF_INIT;
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
    mw_buf_addf(&msg, "%s: %s%s", what, h->errbuf, hint);
    snprintf(h->errbuf, sizeof(h->errbuf), "%.*s", (int)sizeof(h->errbuf) - 1, msg.ptr);
    mw_buf_release(&msg);
}

static int64_t retry_after_of(struct mw_http *h)
{
    struct curl_header *hd;
    char *end;
    long secs;
    time_t when;
    if (C->easy_header(h->curl, "Retry-After", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
        return -1;
    secs = strtol(hd->value, &end, 10);
    if (end != hd->value && *end == '\0' && secs >= 0)
        return (int64_t)secs * MW_USEC_PER_SEC;
    when = C->getdate(hd->value, NULL);
    if (when == -1)
        return -1;
    return when > time(NULL) ? (int64_t)(when - time(NULL)) * MW_USEC_PER_SEC : 0;
}

struct progress {
    struct mw_spool *sp; /* borrowed */
    bool cut;            /* the drain deadline passed */
};

/* libcurl calls it often while data moves and about once a second when
 * idle: that is how close to the drain deadline a request is cut. */
static int on_progress(void *ud, curl_off_t dlt, curl_off_t dln, curl_off_t ult,
                       curl_off_t uln)
{
    struct progress *pg = ud;
    (void)dlt, (void)dln, (void)ult, (void)uln;
    if (pg->sp && mw_mono_us() >= mw_spool_deadline(pg->sp))
        pg->cut = true;
    return pg->cut;
}

long mw_http_post(struct mw_http *h, const char *body, size_t len,
                  struct mw_spool_reply *r)
{
    CURL *c = h->curl;
    long status = 0, timeout_ms = h->timeout_ms;
    CURLcode rc;
    struct progress pg = {r->spool, false};
    int64_t deadline = r->spool ? mw_spool_deadline(r->spool) : INT64_MAX;

    r->retry_after = -1;
    mw_buf_reset(&h->resp);
    h->resp_truncated = false;
    h->errbuf[0] = '\0';
    if (deadline != INT64_MAX) {
        /* finishing: no request outlives the drain time */
        int64_t left = (deadline - mw_mono_us()) / MW_USEC_PER_MSEC + 1;
        if (left < timeout_ms)
            timeout_ms = left > 1 ? (long)left : 1;
    }
    C->easy_reset(c);
    C->easy_setopt(c, CURLOPT_URL, h->url);
    C->easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    C->easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    C->easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    C->easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    C->easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    C->easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    C->easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    C->easy_setopt(c, CURLOPT_XFERINFODATA, &pg);
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
        if (pg.cut || (deadline != INT64_MAX && rc == CURLE_OPERATION_TIMEDOUT &&
                       mw_mono_us() >= deadline))
            snprintf(h->errbuf, sizeof(h->errbuf),
                     "request cut short: the drain time at exit is over");
        else if (h->errbuf[0] == '\0')
            snprintf(h->errbuf, sizeof(h->errbuf), "%s", C->easy_strerror(rc));
        tls_explain(h, rc);
        scrub_cstr(h, h->errbuf);
        return 0;
    }
    C->easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    r->retry_after = retry_after_of(h);
    if (status < 200 || status >= 300) {
        /* shown in health records: short, and without our secrets */
        if (h->resp.len > 1024)
            mw_buf_setlen(&h->resp, 1024);
        scrub(h, &h->resp);
    }
    return status;
}

enum mw_spool_outcome mw_http_outcome(struct mw_http *h, long status,
                                      struct mw_spool_reply *r)
{
    r->status = status;
    r->response = h->resp.ptr;
    if (status >= 200 && status < 300)
        return MW_SPOOL_SENT;
    if (status >= 400 && status != 408 && status != 429 && status < 500)
        return MW_SPOOL_REFUSED;
    mw_buf_reset(&h->why);
    if (status == 0) {
        mw_buf_adds(&h->why, h->errbuf);
    } else if (status >= 300 && status < 400) {
        /* a configuration error: the alerts stay queued and spooled until
         * the URL is fixed, rather than be refused or sent elsewhere */
        char *where = NULL, *shown;
        C->easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &where);
        shown = mw_redact_url(where ? where : "(no Location)");
        mw_buf_addf(&h->why,
                    "HTTP %ld: redirects are not followed (Location: %s); fix the "
                    "output URL",
                    status, shown);
        free(shown);
        scrub(h, &h->why);
    } else {
        mw_buf_addf(&h->why, "HTTP %ld", status);
    }
    r->why = h->why.ptr;
    return MW_SPOOL_FAILED;
}
