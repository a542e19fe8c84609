/* The daemon's side of the cooperative-yield contract (WALLET_FILE.md):
 * raising and clearing `<wallet>.yield`, and watching `<wallet>.lock`.
 * The file formats and who owns a PID file come from the wallet store
 * (store/pidfile.h, store/sentinel.h); this adds what only the daemon
 * needs: its own PID as the sentinel's owner and waiting for the lock. */
#ifndef TZ_DAEMON_GUARD_H
#define TZ_DAEMON_GUARD_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/status.h"

/* Raises `<wallet>.yield` with this process's "<pid>\n" (the reference's
 * format) through tz_sentinel_raise (atomic replacement of any existing
 * sentinel, folder fsynced). Returns TZ_OK, TZ_EIO (message names the
 * path) or TZ_ENOMEM; no temp file is left behind on failure. */
tz_status tz_guard_raise(const char *wallet_path, tz_error *err) TZ_WUR;

/* Removes `<wallet>.yield` when it names this process (tz_sentinel_clear),
 * then fsyncs the folder. Returns TZ_OK when removed or absent,
 * TZ_EMISMATCH when it names someone else or is not a PID (left in place),
 * TZ_EIO or TZ_ENOMEM. */
tz_status tz_guard_clear(const char *wallet_path, tz_error *err) TZ_WUR;

/* PID of the live holder of `<wallet>.lock`, judged by tz_pid_file_owner
 * like the CLI judges it: > 0 when its PID owns it, -1 when the file
 * exists but holds no PID or cannot be read (held, holder unknown), 0 when
 * absent or stale (its PID is dead, or alive but started after the lock
 * was written: recycled). Reads only; never removes the lock. */
long tz_guard_lock_holder(const char *wallet_path);

/* Blocks until `<wallet>.lock` has no live holder or `timeout_ms` passed,
 * sleeping on inotify events of the wallet's folder (re-checking at least
 * every second, in case the holder dies without removing it). Returns true
 * when the lock looked free on return. */
bool tz_guard_wait_lock_free(const char *wallet_path, int timeout_ms);

#endif
