/* Atomic durable replacement of a file (WALLET_FILE.md "Writing it"). */
#ifndef TZ_STORE_ATOMIC_H
#define TZ_STORE_ATOMIC_H

#include <stddef.h>
#include <sys/types.h>

#include "core/status.h"

/* Replaces `path` with `len` bytes of `data`: creates a private temp file
 * `.<name>.tmp.<pid>.<nanos>.<n>` (O_CREAT|O_EXCL, 0600) in the same folder,
 * writes everything, sets `mode` (when not 0600), fsyncs, closes (checked),
 * renames it over `path`, sets `mode` on `path` again (chmod, as the
 * reference does) and fsyncs the folder. A bare name uses "." as folder.
 * All steps go through the fsys table. Returns TZ_OK, TZ_EIO (message names the step, the path and
 * strerror) or TZ_ENOMEM. On failure before the rename the old file is
 * untouched and the temp file removed; if only the final chmod or folder
 * fsync fails the new content is in place (the folder is still fsynced
 * after a failed chmod). */
tz_status tz_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
                          tz_error *err) TZ_WUR;

/* Creates `path` with `len` bytes of `data` (mode 0600) only if it does not
 * exist, atomically: the same private temp file as tz_atomic_write, then
 * link(2) to `path`, unlink of the temp, fsync of the folder. No process
 * ever sees `path` empty or partial, and a crash leaves either no `path`
 * or the whole content (plus, at worst, a temp file tz_atomic_sweep_stale
 * removes). On a file system without hard links it falls back to
 * O_CREAT|O_EXCL then write. All steps go through the fsys table. Returns
 * TZ_OK, TZ_EEXIST (`path` exists; nothing changed), TZ_EIO ("<step>
 * <noun> <path>: <strerror>", e.g. "fsync lock file /w.json.lock: ..."; nothing
 * left behind) or TZ_ENOMEM. */
tz_status tz_atomic_create(const char *path, const void *data, size_t len, const char *noun,
                           tz_error *err) TZ_WUR;

/* Removes the temp files that interrupted tz_atomic_write calls for `path`
 * left behind (a writer killed between creating its temp file and the
 * rename): the entries of path's folder named exactly
 * `.<name>.tmp.<pid>.<digits>.<digits>`, where <pid> is a canonical decimal
 * PID (no sign, no leading zero) of a process that does not exist. Never
 * removes the file of a live PID, ours included (kill(pid, 0) succeeds or
 * fails with EPERM), an entry that is not a regular file (lstat: a symlink
 * is not followed, a folder is left alone), nor any other name. Entries
 * are looked at and removed relative to the opened folder. Call it while
 * holding the lock that serializes the writers of `path`. Sets *removed
 * (may be NULL) to the number of files removed. Returns TZ_OK (also when
 * the folder does not exist), TZ_EINVAL (`path` names no file), TZ_EIO
 * (the folder cannot be read, or a stale temp file cannot be removed;
 * message names the path and strerror) or TZ_ENOMEM. Files removed before a
 * failure stay removed and are counted. */
tz_status tz_atomic_sweep_stale(const char *path, size_t *removed, tz_error *err) TZ_WUR;

#endif
