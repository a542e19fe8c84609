/* `<wallet>.yield`: the cooperative-yield sentinel (WALLET_FILE.md). A
 * daemon raises it before an operation that needs the wallet lock and
 * clears it afterwards; a sync that sees a live sentinel at a checkpoint
 * exits so the daemon gets the lock.
 *
 * Content: "<pid>\n", exactly what the reference writes (store/pidfile.h).
 * Read: first line "<pid>", or the older "<pid> <starttime>" we no longer
 * write. Whether the PID still owns the sentinel is decided by
 * tz_pid_file_owner: dead, or alive but started after the sentinel was
 * written (recycled), or alive at another recorded start time, is stale.
 * Content that is not a PID (for example the legacy "yield") is live and
 * never removed here. */
#ifndef TZ_STORE_SENTINEL_H
#define TZ_STORE_SENTINEL_H

#include <sys/types.h>

#include "core/status.h"
#include "store/pidfile.h"

/* Appended to the wallet path to name the sentinel. */
#define TZ_SENTINEL_SUFFIX ".yield"

typedef enum {
    TZ_SENTINEL_NONE,          /* no sentinel */
    TZ_SENTINEL_LIVE,          /* its PID owns it, or content that is not a PID */
    TZ_SENTINEL_STALE_REMOVED, /* its PID is dead or recycled: removed */
} tz_sentinel_state;

/* Inspects `<wallet_path>.yield`. Sets *state, *pid (the PID it names, -1
 * when absent or not a PID) and, when `why` is not NULL, *why (the
 * tz_pid_file_owner verdict on that PID; TZ_PID_OWNER when there is none).
 * A sentinel whose PID does not own it is removed (only if it is still the
 * file that was judged) and reported as TZ_SENTINEL_STALE_REMOVED with
 * that PID; one replaced meanwhile is reported LIVE. Returns TZ_OK,
 * TZ_EIO (read or remove failed; *state then LIVE, the safe reading) or
 * TZ_ENOMEM. */
tz_status tz_sentinel_check(const char *wallet_path, tz_sentinel_state *state, long *pid,
                            tz_pid_verdict *why, tz_error *err) TZ_WUR;

/* Raises `<wallet_path>.yield` atomically with "<pid>\n", replacing any
 * existing sentinel (its new mtime is what a later check compares the
 * process start time against). Returns TZ_OK, TZ_EINVAL (pid <= 0),
 * TZ_EIO or TZ_ENOMEM. */
tz_status tz_sentinel_raise(const char *wallet_path, pid_t pid, tz_error *err) TZ_WUR;

/* Removes `<wallet_path>.yield` only when its PID is `expected_pid`.
 * Returns TZ_OK when removed or absent, TZ_EMISMATCH when it belongs to
 * someone else or is not a PID (left in place), TZ_EIO. */
tz_status tz_sentinel_clear(const char *wallet_path, pid_t expected_pid, tz_error *err) TZ_WUR;

#endif
