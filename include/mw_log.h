/* mw_log.h - diagnostics, always on stderr; redaction of secrets in URLs
 * and output specs; rate-limited messages
 *
 * Diagnostics never go to stdout (alerts own it). Messages are prefixed with
 * "moonwatch: <level>: ". Quiet mode drops info messages only.
 *
 * Every message, health record, summary, metrics label or file name that
 * shows an output's URL or spec shows mw_redact_url/mw_redact_spec of it,
 * never the text itself (docs/SECURITY.md, item 10).
 */
#ifndef MW_LOG_H
#define MW_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mw_log_level {
    MW_LOG_DEBUG,
    MW_LOG_INFO,
    MW_LOG_WARN,
    MW_LOG_ERROR,
};

void mw_log_set_level(enum mw_log_level min);
void mw_log(enum mw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define mw_log_error(...) mw_log(MW_LOG_ERROR, __VA_ARGS__)
#define mw_log_warn(...) mw_log(MW_LOG_WARN, __VA_ARGS__)
#define mw_log_info(...) mw_log(MW_LOG_INFO, __VA_ARGS__)
#define mw_log_debug(...) mw_log(MW_LOG_DEBUG, __VA_ARGS__)

/* ---------------------------------------------------------------------- */
/* rate limiting                                                           */

/* One message class that may repeat (a write error per alert): the first
 * is logged, then at most one per interval, each saying how many were
 * held back. Zero-initialise it; the caller serialises its use. */
struct mw_log_limit {
    int64_t interval_us; /* 0: MW_LOG_LIMIT_INTERVAL */
    int64_t next_us;     /* monotonic: when the next message may go out */
    uint64_t held;       /* messages held back since the last one logged */
    uint64_t total;      /* messages of this class, logged or not */
};
#define MW_LOG_LIMIT_INTERVAL (10 * 1000000LL) /* us */

/* Logs like mw_log unless a message of rl's class went out less than its
 * interval ago; then only counts it. Returns 1 when logged, 0 when held. */
int mw_log_limited(struct mw_log_limit *rl, enum mw_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------- */
/* secrets                                                                 */

/* Whether a query parameter or option name (len bytes) looks like it holds
 * a secret: it contains, in any case, pass, pwd, secret, token, key, auth,
 * sig, cred, session, cookie or bearer. */
bool mw_secret_name(const char *name, size_t len);

/* Whether a path segment (n bytes) looks like a token: 24 or more of
 * [A-Za-z0-9_-] with at least a letter and a digit. */
bool mw_secret_token(const char *s, size_t n);

/* A copy of url (the first len bytes) fit to print: the user information's
 * password becomes *** (user:***@host; a user part alone, which may be a
 * token, becomes ***@host), the value of every query parameter whose name
 * looks secret becomes ***, and when path_tokens is set so does every path
 * segment that looks like a token (24 or more of [A-Za-z0-9_-] with a
 * letter and a digit: webhook URLs that carry their secret in the path).
 * Anything that is not a URL is returned unchanged. Returns a new string
 * the caller frees. */
char *mw_redact_urln(const char *url, size_t len, bool path_tokens);
/* mw_redact_urln(url, strlen(url), true). */
char *mw_redact_url(const char *url);
/* An output spec fit to print: "scheme:URL[,opt=v...]" with the URL
 * redacted as above and the value of every option whose name looks secret
 * (except the *_env and header options, whose values name environment
 * variables) replaced by ***. Returns a new string the caller frees. */
char *mw_redact_spec(const char *spec);

#endif
