/* `<wallet>.lock`: the reference's exclusive wallet lock (WALLET_FILE.md).
 *
 * The file is created with O_CREAT|O_EXCL and holds the holder's PID and a
 * newline, "<pid>\n", exactly what the reference writes, fsynced; it is
 * removed on release. Whether a lock is held is decided by the rule of
 * store/pidfile.h (tz_pid_file_owner): it is stale when its PID does not
 * exist, or is alive but started after the lock was written (a recycled
 * PID), or, for the older "<pid> <starttime>" form we no longer write, is
 * alive with another start time. A stale lock is removed once, then
 * creation is retried, and the new lock says why (tz_lock_recovered). A
 * lock whose content is not a PID is held, as the reference reads it. */
#ifndef TZ_STORE_LOCK_H
#define TZ_STORE_LOCK_H

#include "core/status.h"

/* Appended to the wallet path to name the lock file. */
#define TZ_LOCK_SUFFIX ".lock"

typedef struct tz_lock tz_lock;

/* Takes `<wallet_path>.lock`, writing "<pid>\n". On success *out owns the
 * lock (release with tz_lock_release); when a stale lock had to be removed
 * first, tz_lock_recovered(*out) says why. Errors: TZ_ELOCKED (held by a
 * live process; the message is the reference's "wallet is locked by
 * another process: <wallet>.lock" followed by " (pid N)", or by a note
 * that the lock file holds no valid PID), TZ_EIO, TZ_ENOMEM. *out
 * untouched and no lock file of ours left behind on failure (a stale lock
 * removed before the failure stays removed). */
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

/* NULL, or when this acquisition removed a stale lock first, a sentence
 * for a warning naming the file and why it was stale, e.g. "removed stale
 * lock file w.json.lock: pid 42 is alive but started after the lock was
 * written (recycled PID)". Owned by the lock. */
const char *tz_lock_recovered(const tz_lock *l);

#endif
