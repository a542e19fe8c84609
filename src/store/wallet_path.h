/* Where a wallet's files live: the path every program derives the wallet's
 * companions from (`.lock`, `.xmss-floor`, `.network.json`, `.yield`, the
 * daemon's `.walletd-token`, the temp files of atomic saves), and the
 * clean-up of temp files that killed writers left beside them.
 *
 * The rule: a wallet path whose last component is a symlink is resolved
 * once, before any companion name is derived, to the file the link chain
 * ends at; every save then replaces that file beside it and the link stays
 * a link. A path that is not a symlink is used as given. Every program
 * (the CLI commands, sync, the daemon) resolves through
 * tz_wallet_path_resolve, so a lock, a floor or a yield sentinel raised
 * through the link and one raised through the target are the same file. */
#ifndef TZ_STORE_WALLET_PATH_H
#define TZ_STORE_WALLET_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

/* Symlinks followed before a chain counts as a loop (Linux's limit). */
#define TZ_WALLET_PATH_HOPS_MAX 40

/* Resolves `given` (the -w/--wallet argument) into *out, a new string the
 * caller frees:
 * - not a symlink, or nothing there: `given` itself (copied), untouched;
 * - a symlink: the end of its chain of links (relative targets are taken
 *   from the link's folder), written as the canonical absolute path of the
 *   target's folder (realpath) followed by the target's name. The target
 *   need not exist: a dangling link resolves to where its target would be.
 * *exists (may be NULL) tells whether something is at *out (lstat).
 * Returns TZ_OK; TZ_EINVAL for a symlink loop (more than
 * TZ_WALLET_PATH_HOPS_MAX links, or ELOOP from the system) or a link whose
 * target names no file ("", "dir/", ".", ".."); TZ_ENOTFOUND when a link's
 * target folder does not exist; TZ_EIO for another lstat, readlink or
 * realpath failure (strerror in the message); TZ_ENOMEM. Messages name the
 * given path and, for a link, its target. Reads only; *out and *exists
 * untouched on failure. */
tz_status tz_wallet_path_resolve(const char *given, char **out, bool *exists,
                                 tz_error *err) TZ_WUR;

/* Removes the temp files that writers killed mid-save left for the wallet
 * at `wallet_path` (already resolved) and for each companion written
 * atomically (`.xmss-floor`, `.network.json`, `.yield`), under the rules of
 * tz_atomic_sweep_stale: only exact temp names of dead PIDs, only regular
 * files; a live writer's file (ours included) is never touched. Call it
 * while holding the wallet lock. Every file is swept even after a failure;
 * *removed (may be NULL) is the total removed. Returns TZ_OK or the first
 * failure (TZ_EIO, TZ_ENOMEM, TZ_EINVAL for a path that names no file),
 * its message naming the file. */
tz_status tz_wallet_path_sweep(const char *wallet_path, size_t *removed, tz_error *err) TZ_WUR;

#endif
