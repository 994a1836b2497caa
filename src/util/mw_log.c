/* mw_log.c - diagnostics on stderr with a level filter */
#include "mw_log.h"

#include <stdarg.h>
#include <stdio.h>

static enum mw_log_level min_level = MW_LOG_INFO;

void mw_log_set_level(enum mw_log_level min)
{
    min_level = min;
}

void mw_log(enum mw_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warning", "error"};
    va_list ap;

    if (level < min_level)
        return;
    fprintf(stderr, "moonwatch: %s: ", names[level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}
