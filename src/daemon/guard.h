/* The daemon's side of the cooperative-yield contract (WALLET_FILE.md):
 * raising and clearing `<wallet>.yield`, and watching `<wallet>.lock`.
 *
 * The daemon does not link the wallet store, so the few lines it needs
 * (process start time, liveness, the lock's PID line) live here and follow
 * the same file formats: "<pid> <starttime>\n", starttime being field 22 of
 * /proc/<pid>/stat. */
#ifndef TZ_DAEMON_GUARD_H
#define TZ_DAEMON_GUARD_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/status.h"

/* Start time of `pid` (clock ticks after boot) into *out. Returns TZ_OK,
 * TZ_ENOTFOUND (no such process) or TZ_EPARSE. */
tz_status tz_guard_proc_starttime(pid_t pid, unsigned long long *out) TZ_WUR;

/* True when `pid` exists and, when `starttime_or_0` is non-zero, started at
 * that time. False for pid <= 0. */
bool tz_guard_pid_alive(pid_t pid, unsigned long long starttime_or_0);

/* Parses "<pid>" or "<pid> <starttime>" from the first line of `text`.
 * Returns false when the line is not that. */
bool tz_guard_parse_pid_line(const char *text, long *pid, unsigned long long *starttime);

/* Raises `<wallet>.yield` with this process's "<pid> <starttime>\n":
 * written to a private temp file in the same folder, fsynced, renamed over
 * any existing sentinel, folder fsynced. Returns TZ_OK or TZ_EIO (message
 * names the path); no temp file is left behind on failure. */
tz_status tz_guard_raise(const char *wallet_path, tz_error *err) TZ_WUR;

/* Removes `<wallet>.yield` when it names this process. Returns TZ_OK when
 * removed or absent, TZ_EMISMATCH when it names someone else (left in
 * place), TZ_EIO. */
tz_status tz_guard_clear(const char *wallet_path, tz_error *err) TZ_WUR;

/* PID of the live holder of `<wallet>.lock`: > 0 when held by a live
 * process, -1 when the file exists but holds no PID (held, holder
 * unknown), 0 when absent or stale (its PID is dead or was recycled). */
long tz_guard_lock_holder(const char *wallet_path);

/* Blocks until `<wallet>.lock` has no live holder or `timeout_ms` passed,
 * sleeping on inotify events of the wallet's folder (re-checking at least
 * every second, in case the holder dies without removing it). Returns true
 * when the lock looked free on return. */
bool tz_guard_wait_lock_free(const char *wallet_path, int timeout_ms);

#endif
