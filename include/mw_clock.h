/* mw_clock.h - the clocks, once
 *
 * Wall time is CLOCK_REALTIME in mw_time_t microseconds since the epoch
 * (event time's unit); monotonic time is CLOCK_MONOTONIC, for intervals,
 * time-outs and back-off, never compared with event time.
 */
#ifndef MW_CLOCK_H
#define MW_CLOCK_H

#include <stdint.h>

#define MW_USEC_PER_MSEC INT64_C(1000)
#define MW_USEC_PER_SEC INT64_C(1000000)
#define MW_USEC_PER_MIN (60 * MW_USEC_PER_SEC)
#define MW_USEC_PER_HOUR (60 * MW_USEC_PER_MIN)
#define MW_NSEC_PER_USEC INT64_C(1000)

/* Wall clock, microseconds since the epoch. */
int64_t mw_wall_us(void);
/* Monotonic clock, microseconds / milliseconds from an arbitrary origin. */
int64_t mw_mono_us(void);
int64_t mw_mono_ms(void);

#endif
