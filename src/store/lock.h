/* `<wallet>.lock`: the reference's exclusive wallet lock (WALLET_FILE.md),
 * extended with the holder's process start time so a recycled PID cannot
 * wedge the wallet.
 *
 * The file is created with O_CREAT|O_EXCL and holds "<pid> <starttime>\n"
 * (starttime: field 22 of /proc/<pid>/stat), fsynced; it is removed on
 * release. A lock is stale when its PID does not exist, or exists with a
 * different start time (when one is recorded). A lock holding only a PID
 * (the reference's format) is stale only when the PID does not exist. A
 * stale lock is removed once, then creation is retried. */
#ifndef TZ_STORE_LOCK_H
#define TZ_STORE_LOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/status.h"

typedef struct tz_lock tz_lock;

/* Takes `<wallet_path>.lock`. On success *out owns the lock (release with
 * tz_lock_release). Errors: TZ_ELOCKED (held by a live process; the
 * message is the reference's "wallet is locked by another process:
 * <wallet>.lock" followed by " (pid N)", or by a note that the lock file
 * holds no valid PID), TZ_EIO, TZ_ENOMEM. *out untouched and no lock file of ours left
 * behind on failure. */
tz_status tz_lock_acquire(const char *wallet_path, tz_lock **out, tz_error *err) TZ_WUR;

/* Like tz_lock_acquire, but while the lock is held by a live process it
 * retries every 20-200 ms until `timeout_ms` (0: a single attempt) has
 * passed; then TZ_ELOCKED. Other errors return at once. */
tz_status tz_lock_acquire_wait(const char *wallet_path, int timeout_ms, tz_lock **out,
                               tz_error *err) TZ_WUR;

/* Removes the lock file and frees `l`. NULL is a no-op. */
void tz_lock_release(tz_lock *l);

/* Path of the lock file (owned by the lock). */
const char *tz_lock_path(const tz_lock *l);

/* Start time (clock ticks after boot, field 22 of /proc/<pid>/stat) of
 * process `pid` into *out. Returns TZ_OK, TZ_ENOTFOUND (no such process)
 * or TZ_EPARSE. */
tz_status tz_proc_starttime(pid_t pid, unsigned long long *out) TZ_WUR;

/* True when process `pid` exists and, when `starttime_or_0` is non-zero,
 * started at that time. Never true for pid <= 0. */
bool tz_pid_alive(pid_t pid, unsigned long long starttime_or_0);

/* Parses "<pid>" or "<pid> <starttime>" (surrounding whitespace allowed,
 * nothing else) from the first line of `text`. Returns true and fills
 * *pid / *starttime (0 when absent) on success. */
bool tz_parse_pid_line(const char *text, pid_t *pid, unsigned long long *starttime);

#endif
