/* `<wallet>.yield`: the cooperative-yield sentinel (WALLET_FILE.md). A
 * daemon raises it before an operation that needs the wallet lock and
 * clears it afterwards; a sync that sees a live sentinel at a checkpoint
 * exits so the daemon gets the lock.
 *
 * Content: first line "<pid>" or "<pid> <starttime>". Content that is not
 * a PID (for example the legacy "yield") is live and never removed here. */
#ifndef TZ_STORE_SENTINEL_H
#define TZ_STORE_SENTINEL_H

#include <sys/types.h>

#include "core/status.h"

/* Appended to the wallet path to name the sentinel. */
#define TZ_SENTINEL_SUFFIX ".yield"

typedef enum {
    TZ_SENTINEL_NONE,          /* no sentinel */
    TZ_SENTINEL_LIVE,          /* live PID, or content that is not a PID */
    TZ_SENTINEL_STALE_REMOVED, /* dead PID (or other start time): removed */
} tz_sentinel_state;

/* Inspects `<wallet_path>.yield`. Sets *state and *pid (the PID it names,
 * -1 when absent or not a PID). A sentinel whose PID is dead, or alive
 * with a different start time when one is recorded, is removed (only if
 * its content is unchanged since it was read) and reported as
 * TZ_SENTINEL_STALE_REMOVED with that PID. Returns TZ_OK, TZ_EIO (read or
 * remove failed; *state then LIVE, the safe reading) or TZ_ENOMEM. */
tz_status tz_sentinel_check(const char *wallet_path, tz_sentinel_state *state, long *pid,
                            tz_error *err) TZ_WUR;

/* Raises `<wallet_path>.yield` atomically with "<pid> <starttime>\n"
 * ("<pid>\n" when starttime is 0), replacing any existing sentinel.
 * Returns TZ_OK, TZ_EIO or TZ_ENOMEM. */
tz_status tz_sentinel_raise(const char *wallet_path, pid_t pid, unsigned long long starttime,
                            tz_error *err) TZ_WUR;

/* Removes `<wallet_path>.yield` only when its PID is `expected_pid`.
 * Returns TZ_OK when removed or absent, TZ_EMISMATCH when it belongs to
 * someone else or is not a PID (left in place), TZ_EIO. */
tz_status tz_sentinel_clear(const char *wallet_path, pid_t expected_pid, tz_error *err) TZ_WUR;

#endif
