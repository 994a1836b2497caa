/* http_int.h - the HTTP transport shared by the webhook and Elasticsearch
 * sinks (src/output/ only)
 *
 * One struct mw_http per sink: the spec's URL and options, the headers,
 * the curl easy handle (reused for every request) and the last response.
 * Calling sequence: mw_http_parse (URL and options, spool options into
 * h->so), the sink adjusts h->url if it must, mw_http_ready (headers, TLS
 * checks, handle), then mw_http_post from the spool's sender thread only,
 * mw_http_release when the spool is freed. libcurl is reached only through
 * the mw_curl table.
 */
#ifndef MW_HTTP_INT_H
#define MW_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_buf.h"
#include "curl_int.h"
#include "mw_mem.h"
#include "mw_spool.h"

struct mw_http {
    char *url;   /* owned: the POST target (the sink may replace it) */
    char *label; /* owned: url redacted (mw_redact_url), for every message */
    long connect_timeout_ms, timeout_ms;
    bool insecure;
    char *cacert;               /* owned, may be NULL */
    struct curl_slist *headers; /* owned */
    CURL *curl;                 /* owned, used by the sender only */
    char errbuf[CURL_ERROR_SIZE];
    struct mw_buf resp;  /* owned: the last response body (a prefix of at
                            most MW_HTTP_MAX_RESPONSE bytes) */
    bool resp_truncated; /* the body was longer than resp holds */
    char **secrets;      /* owned: header values, the URL's password and
                            secret query values, scrubbed from messages */
    size_t nsecrets;
    struct mw_buf why;       /* owned: the last failure, for the spool */
    struct mw_spool_opts so; /* parsed from the spec */
};

/* How much of a response body is kept; the rest is read and discarded
 * (a 2xx is a delivery whatever its size). */
#define MW_HTTP_MAX_RESPONSE (16u * 1024 * 1024)

/* Parses "URL[,opt=value...]": h->url is the URL (http:// or https://),
 * spool options go to h->so (default batch size `batch`), HTTP options
 * (connect_timeout, timeout, insecure, cacert, token_env, apikey_env,
 * header=Name:ENV) to h. kind names the sink in messages. Loads libcurl.
 * Returns 0, or -1 with err set; h must be released either way. */
int mw_http_parse(struct mw_http *h, const char *kind, const char *rest, size_t batch,
                  struct mw_error *err);
/* Sets h->url (and h->label, its redacted form); takes url. */
void mw_http_set_url(struct mw_http *h, char *url);
/* Adds the Content-Type header, checks cacert, warns about insecure and
 * creates the handle. Returns 0 or -1 (err set). */
int mw_http_ready(struct mw_http *h, const char *content_type, struct mw_error *err);
/* POSTs body (len bytes). Returns the HTTP status, or 0 on a transport
 * error (message in h->errbuf); r->retry_after gets the server's
 * Retry-After in microseconds, or -1. The response is in h->resp. The
 * request is cut short when r->spool's drain deadline passes (exit). */
long mw_http_post(struct mw_http *h, const char *body, size_t len,
                  struct mw_spool_reply *r);
/* The spool outcome of a whole-batch status: 2xx sent, 3xx (redirects are
 * not followed), 408/429/5xx and transport errors failed (r->why set),
 * other statuses refused. */
enum mw_spool_outcome mw_http_outcome(struct mw_http *h, long status,
                                      struct mw_spool_reply *r);
/* A spool name from kind and what identifies the endpoint: kind-HOSTPATH
 * (sanitised, short) plus 8 hex digits of a SHA-256. Caller frees. */
char *mw_http_spool_name(const char *kind, const char *identity);
void mw_http_release(struct mw_http *h);
/* The first occurrence of needle (m bytes) in hay (n bytes), or NULL
 * (memmem, which C11 and POSIX lack). */
const char *mw_http_find(const char *hay, size_t n, const char *needle, size_t m);

#endif
