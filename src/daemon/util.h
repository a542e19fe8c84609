/* Small helpers shared by the daemon's modules: clocks and a growable
 * byte buffer with a hard cap. */
#ifndef TZ_DAEMON_UTIL_H
#define TZ_DAEMON_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall-clock milliseconds since the Unix epoch (job timestamps). */
int64_t tz_wd_now_ms(void);

/* Monotonic milliseconds (deadlines, backoff). */
int64_t tz_wd_mono_ms(void);

/* A byte buffer that keeps at most `cap` bytes (further bytes are counted
 * in `dropped` and discarded). Always NUL-terminated when data != NULL.
 * Zero-initialise, then tz_buf_free when done. */
typedef struct tz_buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
    size_t dropped;
} tz_buf;

/* Appends up to the cap. Returns false only when memory is short. */
bool tz_buf_append(tz_buf *b, const char *p, size_t n);

/* Releases the storage; the buffer is empty afterwards. */
void tz_buf_free(tz_buf *b);

#endif
