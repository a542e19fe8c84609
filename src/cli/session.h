/* The wallet session of a tzel-wallet command: the lock, loading and
 * saving the wallet with failures mapped to exit codes, and files written
 * beside it (--out). Every helper returning `int` returns an enum tz_exit
 * value, the error already reported. */
#ifndef TZ_CLI_SESSION_H
#define TZ_CLI_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "store/lock.h"
#include "store/wallet.h"

/* A mutating command's hold on the wallet: the lock, then the wallet. */
typedef struct tz_cli_session {
    tz_lock *lock;
    tz_wallet *w;
} tz_cli_session;

/* Takes the lock (tz_cli_lock) and loads the wallet (tz_cli_load_wallet)
 * into *s (zeroed first). On failure nothing is held. */
int tz_cli_session_open(const tz_cli *cli, tz_cli_session *s);

/* Frees the wallet and releases the lock, in that order; the session is
 * empty afterwards (a second close is a no-op). */
void tz_cli_session_close(tz_cli_session *s);

/* Loads cli->wallet_path (warning on stderr when the file is not private).
 * Errors are reported: missing, empty, truncated, invalid or stale (floor)
 * wallet -> TZ_EXIT_WALLET; out of memory -> TZ_EXIT_FAILURE. Does not
 * take the lock: mutating commands call tz_cli_lock first. */
int tz_cli_load_wallet(const tz_cli *cli, tz_wallet **out);

/* Takes `<wallet>.lock` (single attempt). Held by a live process ->
 * TZ_EXIT_LOCKED with its PID in the message; other errors TZ_EXIT_IO. A
 * stale lock removed on the way (dead or recycled PID) is reported with a
 * warning on stderr saying why. Once held, sweeps stale temp files
 * (tz_cli_sweep_stale, warning on stderr). */
int tz_cli_lock(const tz_cli *cli, tz_lock **out);

/* Removes the temp files that killed writers left beside the wallet
 * (tz_wallet_path_sweep); call it with the lock held. Returns true and
 * puts a one-line warning into msg[0..cap) when there is something to say:
 * how many files were removed, or why the sweep failed (never fatal: the
 * command goes on). False when nothing was left over. */
bool tz_cli_sweep_stale(const tz_cli *cli, char *msg, size_t cap);

/* tz_wallet_save; a failure is reported as TZ_EXIT_IO (the old file stays). */
int tz_cli_save(const tz_cli *cli, tz_wallet *w);

/* Refuses (TZ_EXIT_USAGE, one error line) an --out `path` that is the wallet
 * file or one of its companions (.xmss-floor, .lock, .network.json, .yield),
 * compared by file identity; TZ_EXIT_OK otherwise. Reads only. */
int tz_cli_check_out_path(const tz_cli *cli, const char *path);

/* Writes `v` (not stolen) pretty-printed to `path` atomically, mode 0600,
 * after tz_cli_check_out_path. Reports TZ_EXIT_IO on failure. */
int tz_cli_write_private_json(const tz_cli *cli, const char *path, const json_t *v);

#endif
