/* Stopping a child process: SIGTERM first, SIGKILL when it has not exited
 * after a grace period. The one escalation of the daemon's job runner and
 * lanes. */
#ifndef TZ_BASE_PROC_H
#define TZ_BASE_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Escalation state; zero-initialised means nothing scheduled. */
typedef struct tz_term {
    int64_t term_at;   /* monotonic ms of the SIGTERM (0: not scheduled) */
    int64_t grace_ms;  /* from SIGTERM to SIGKILL */
    int64_t kill_at;   /* monotonic ms of the SIGKILL, once termed */
    bool termed, killed;
} tz_term;

/* Schedules SIGTERM at monotonic time term_at_ms (tz_mono_ms), then
 * SIGKILL grace_ms later. A later call before the SIGTERM reschedules. */
void tz_term_schedule(tz_term *t, int64_t term_at_ms, int64_t grace_ms);

/* Sends pid what is due at monotonic time now_ms. Returns 1 when it sent
 * SIGTERM in this call, 2 when it sent SIGKILL, 0 otherwise. pid <= 0 is
 * never signalled. */
int tz_term_poll(tz_term *t, pid_t pid, int64_t now_ms);

#endif
