/* The clocks every layer uses: monotonic time for deadlines, rates and
 * backoff; wall-clock time for timestamps shown to people. */
#ifndef TZ_BASE_CLOCK_H
#define TZ_BASE_CLOCK_H

#include <stdint.h>

/* Seconds on the monotonic clock (arbitrary origin), nanosecond resolution. */
double tz_mono_secs(void);

/* Milliseconds on the monotonic clock (arbitrary origin). */
int64_t tz_mono_ms(void);

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t tz_wall_ms(void);

/* Sleeps `ms` milliseconds, resuming after signals unless *stop (may be
 * NULL) becomes non-zero. */
void tz_sleep_ms(int64_t ms, volatile int *stop);

#endif
