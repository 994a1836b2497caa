/* mw_clock.c - wall and monotonic clocks (see mw_clock.h) */
#include "mw_clock.h"

#include <time.h>

static int64_t read_us(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * MW_USEC_PER_SEC + ts.tv_nsec / MW_NSEC_PER_USEC;
}

int64_t mw_wall_us(void)
{
    return read_us(CLOCK_REALTIME);
}

int64_t mw_mono_us(void)
{
    return read_us(CLOCK_MONOTONIC);
}

int64_t mw_mono_ms(void)
{
    return mw_mono_us() / MW_USEC_PER_MSEC;
}
