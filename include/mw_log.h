/* mw_log.h - diagnostics, always on stderr
 *
 * Diagnostics never go to stdout (alerts own it). Messages are prefixed with
 * "moonwatch: <level>: ". Quiet mode drops info messages only.
 */
#ifndef MW_LOG_H
#define MW_LOG_H

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

#endif
