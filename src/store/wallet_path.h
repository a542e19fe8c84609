/* The files beside a wallet: its companions (`.lock`, `.xmss-floor`,
 * `.network.json`, `.yield`, the daemon's `.walletd-token`) and the temp
 * files of atomic saves, and the clean-up of temp files that killed
 * writers left beside them (docs/files.md). */
#ifndef TZ_STORE_WALLET_PATH_H
#define TZ_STORE_WALLET_PATH_H

#include <stddef.h>

#include "core/status.h"

/* Removes the temp files that writers killed mid-save left for the wallet
 * at `wallet_path` and for each companion written atomically
 * (`.xmss-floor`, `.network.json`, `.yield`), under the rules of
 * tz_atomic_sweep_stale: only exact temp names of dead PIDs, only regular
 * files; a live writer's file (ours included) is never touched. Call it
 * while holding the wallet lock. Every file is swept even after a failure;
 * *removed (may be NULL) is the total removed. Returns TZ_OK or the first
 * failure (TZ_EIO, TZ_ENOMEM, TZ_EINVAL for a path that names no file),
 * its message naming the file. */
tz_status tz_wallet_path_sweep(const char *wallet_path, size_t *removed, tz_error *err) TZ_WUR;

#endif
