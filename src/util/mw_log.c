/* mw_log.c - diagnostics on stderr with a level filter, rate-limited
 * message classes, and the one redaction of URLs and output specs
 *
 * Redaction is lexical and errs on the side of hiding: the user
 * information is whatever precedes the last '@' before the first '?' or '#'
 * (so a password with an unencoded '/' or '@' is still hidden), and a
 * query parameter or option is secret by its name alone.
 */
#include "mw_log.h"
#include "mw_buf.h"
#include "mw_clock.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum mw_log_level min_level = MW_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warning", "error"};

void mw_log_set_level(enum mw_log_level min)
{
    min_level = min;
}

static void vlog(enum mw_log_level level, const char *suffix, const char *fmt, va_list ap)
{
    if (level < min_level)
        return;
    fprintf(stderr, "moonwatch: %s: ", level_names[level]);
    vfprintf(stderr, fmt, ap);
    if (suffix)
        fputs(suffix, stderr);
    fputc('\n', stderr);
}

void mw_log(enum mw_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

int mw_log_limited(struct mw_log_limit *rl, enum mw_log_level level, const char *fmt, ...)
{
    int64_t now = mw_mono_us();
    char suffix[96] = "";
    va_list ap;

    rl->total++;
    if (rl->next_us != 0 && now < rl->next_us) {
        rl->held++;
        return 0;
    }
    if (rl->held)
        snprintf(suffix, sizeof(suffix), " (%llu more like it held back)",
                 (unsigned long long)rl->held);
    else if (rl->next_us == 0)
        snprintf(suffix, sizeof(suffix), " (repeats are logged at most every %llds)",
                 (long long)((rl->interval_us ? rl->interval_us : MW_LOG_LIMIT_INTERVAL) /
                             MW_USEC_PER_SEC));
    rl->held = 0;
    rl->next_us = now + (rl->interval_us ? rl->interval_us : MW_LOG_LIMIT_INTERVAL);
    va_start(ap, fmt);
    vlog(level, suffix, fmt, ap);
    va_end(ap);
    return 1;
}

/* ---------------------------------------------------------------------- */
/* redaction                                                               */

bool mw_secret_name(const char *name, size_t len)
{
    static const char *const words[] = {"pass",    "pwd",    "secret", "token",
                                        "key",     "auth",   "sig",    "cred",
                                        "session", "cookie", "bearer"};
    for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= len; i++)
            if (strncasecmp(name + i, words[w], wl) == 0)
                return true;
    }
    return false;
}

bool mw_secret_token(const char *s, size_t n)
{
    bool letter = false, digit = false;
    if (n < 24)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isdigit(c))
            digit = true;
        else if (isalpha(c))
            letter = true;
        else if (c != '_' && c != '-')
            return false;
    }
    return letter && digit;
}

/* the query (from just after '?' to end): secret values become *** */
static void redact_query(struct mw_buf *out, const char *q, const char *end)
{
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(stop - q));
        if (eq && mw_secret_name(q, (size_t)(eq - q))) {
            mw_buf_add(out, q, (size_t)(eq - q) + 1);
            mw_buf_adds(out, "***");
        } else {
            mw_buf_add(out, q, (size_t)(stop - q));
        }
        if (amp)
            mw_buf_addc(out, '&');
        q = amp ? amp + 1 : end;
    }
}

char *mw_redact_urln(const char *url, size_t len, bool path_tokens)
{
    struct mw_buf out = MW_BUF_INIT;
    const char *end = url + len, *p, *sep = NULL, *at = NULL, *q, *hash;

    for (p = url; p + 3 <= end; p++)
        if (memcmp(p, "://", 3) == 0) {
            sep = p;
            break;
        }
    if (sep == NULL) {
        mw_buf_add(&out, url, len);
        return mw_buf_detach(&out, NULL);
    }
    p = sep + 3;
    /* the query and fragment; the user information ends at the last '@'
     * before them */
    hash = memchr(p, '#', (size_t)(end - p));
    q = memchr(p, '?', (size_t)((hash ? hash : end) - p));
    for (const char *c = p; c < (q ? q : hash ? hash : end); c++)
        if (*c == '@')
            at = c;
    mw_buf_add(&out, url, (size_t)(p - url));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon && colon > p) {
            mw_buf_add(&out, p, (size_t)(colon - p));
            mw_buf_adds(&out, ":***@");
        } else {
            mw_buf_adds(&out, "***@");
        }
        p = at + 1;
    }
    /* host and path, segment by segment */
    const char *path_end = q ? q : hash ? hash : end;
    while (p < path_end) {
        const char *slash = memchr(p, '/', (size_t)(path_end - p));
        const char *seg_end = slash ? slash : path_end;
        if (path_tokens && mw_secret_token(p, (size_t)(seg_end - p)))
            mw_buf_adds(&out, "***");
        else
            mw_buf_add(&out, p, (size_t)(seg_end - p));
        if (slash)
            mw_buf_addc(&out, '/');
        p = slash ? slash + 1 : path_end;
    }
    if (q) {
        mw_buf_addc(&out, '?');
        redact_query(&out, q + 1, hash ? hash : end);
    }
    if (hash)
        mw_buf_adds(&out, "#***"); /* fragments never reach a server anyway */
    return mw_buf_detach(&out, NULL);
}

char *mw_redact_url(const char *url)
{
    return mw_redact_urln(url, strlen(url), true);
}

char *mw_redact_spec(const char *spec)
{
    struct mw_buf out = MW_BUF_INIT;
    const char *colon = strchr(spec, ':'), *opts, *p;
    char *u;
    if (colon == NULL || strstr(colon, "://") == NULL) {
        /* stdout, file:PATH: nothing secret (a path is not a secret) */
        mw_buf_adds(&out, spec);
        return mw_buf_detach(&out, NULL);
    }
    opts = strchr(colon, ',');
    mw_buf_add(&out, spec, (size_t)(colon + 1 - spec));
    u = mw_redact_urln(colon + 1,
                       (size_t)((opts ? opts : colon + strlen(colon)) - colon - 1), true);
    mw_buf_adds(&out, u);
    free(u);
    for (p = opts; p && *p;) {
        const char *next = strchr(p + 1, ',');
        const char *stop = next ? next : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t klen = eq ? (size_t)(eq - p - 1) : 0;
        bool names_var = eq && ((klen > 4 && strncmp(eq - 4, "_env", 4) == 0) ||
                                (klen == 6 && strncmp(p + 1, "header", 6) == 0));
        if (eq && !names_var && mw_secret_name(p + 1, klen)) {
            mw_buf_add(&out, p, (size_t)(eq + 1 - p));
            mw_buf_adds(&out, "***");
        } else {
            mw_buf_add(&out, p, (size_t)(stop - p));
        }
        p = next;
    }
    return mw_buf_detach(&out, NULL);
}
