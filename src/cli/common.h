/* Helpers shared by the tzel-wallet commands: argument parsing, loading
 * and saving the wallet with errors mapped to exit codes, the lock, the
 * rollup node URL and client, JSON for felts and payment addresses.
 *
 * Every helper returning `int` returns an enum tz_exit value; on failure it
 * has already reported the error (tz_out_fail), so the command returns the
 * value as is. */
#ifndef TZ_CLI_COMMON_H
#define TZ_CLI_COMMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "core/felt.h"
#include "core/keys.h"
#include "core/status.h"
#include "core/types.h"
#include "rpc/rpc.h"
#include "store/lock.h"
#include "store/profile.h"
#include "store/wallet.h"
#include "sync/state.h"

/* ---- arguments ----------------------------------------------------------- */

typedef enum { TZ_OPT_FLAG, TZ_OPT_VALUE } tz_opt_kind;

/* One subcommand option: `--name` (FLAG: *(bool *)dest = true) or
 * `--name VALUE` / `--name=VALUE` (VALUE: *(const char **)dest = VALUE). */
typedef struct tz_opt {
    const char *name;   /* without the leading "--" */
    tz_opt_kind kind;
    void *dest;
} tz_opt;

/* Parses argv[1..argc) of `cmd` against opts[0..n) plus the global options
 * (-w/--wallet, --json, --rollup-node-url, -h/--help), which may also
 * follow the subcommand, then resolves the wallet path once
 * (tz_wallet_path_resolve: a symlink is replaced by the file it leads to;
 * cli->wallet_path then points to cli->wallet_path_owned). Returns -1 when
 * the command should run; otherwise the exit code to return at once:
 * TZ_EXIT_OK after printing the usage for --help, TZ_EXIT_USAGE (reported)
 * for an unknown option, a missing value or a positional argument,
 * TZ_EXIT_WALLET (reported) for a wallet path that is a symlink loop, or a
 * dangling symlink when `cmd` needs an existing wallet (not
 * creates_wallet). */
int tz_cli_parse_args(tz_cli *cli, const tz_cmd *cmd, int argc, char **argv,
                      const tz_opt *opts, size_t n);

/* Strict decimal u64 ("0".."18446744073709551615", no sign, no spaces).
 * Returns TZ_EXIT_OK or reports and returns TZ_EXIT_USAGE naming `flag`. */
int tz_cli_parse_u64(const tz_cli *cli, const char *flag, const char *s, uint64_t *out);

/* ---- status mapping ------------------------------------------------------ */

/* The exit code for a failure with status `st` in a wallet-file context:
 * ELOCKED 4, EHTTP 5, EMISMATCH 6, ENOTFOUND/EPARSE/ESTATE 3, EIO 7,
 * EINVAL 2, anything else 1. */
int tz_exit_for_status(tz_status st);

/* The exit code for a failure while talking to the rollup node: EHTTP 5;
 * EPARSE, ENOTFOUND, EMISMATCH, EINVAL 6; else tz_exit_for_status. */
int tz_exit_for_node_status(tz_status st);

/* ---- wallet -------------------------------------------------------------- */

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

/* ---- rollup node --------------------------------------------------------- */

/* The rollup node URL: --rollup-node-url, else $TZEL_ROLLUP_NODE_URL, else
 * `rollup_node_url` of `<wallet>.network.json`. *out is malloc'd (caller
 * frees). None configured -> TZ_EXIT_USAGE; unreadable/invalid profile ->
 * TZ_EXIT_WALLET. */
int tz_cli_node_url(const tz_cli *cli, char **out);

/* Creates a client for the configured node and pins the head into block.
 * Unreachable node -> TZ_EXIT_NETWORK; garbage -> TZ_EXIT_CHAIN. */
int tz_cli_connect(const tz_cli *cli, unsigned concurrency, tz_rpc **rpc,
                   char block[TZ_BLOCK_HASH_MAX]);

/* Reports a failed node read (`what` names it) with the exit code of
 * tz_exit_for_node_status and returns that code. */
int tz_cli_node_fail(const tz_cli *cli, const char *what, const tz_error *err);

/* Reads `<wallet>.network.json` if it exists: *out owns the profile, or is
 * NULL when there is none. An invalid profile -> TZ_EXIT_WALLET (reported). */
int tz_cli_load_profile(const tz_cli *cli, tz_profile **out);

/* Sets `rollup_node_url` in `<wallet>.network.json`, keeping any other
 * field of an existing profile; written atomically, mode 0600. */
int tz_cli_save_profile_url(const tz_cli *cli, const char *url);

/* A non-empty string field of the profile, or NULL (also for p == NULL). */
const char *tz_cli_profile_str(const tz_profile *p, const char *key);

/* When the profile names a rollup_address, the node's
 * /global/smart_rollup_address must equal it (reference wording on a
 * difference, TZ_EXIT_CHAIN). No profile or no rollup_address: TZ_EXIT_OK
 * without a request. */
int tz_cli_check_rollup_address(const tz_cli *cli, tz_rpc *rpc, const tz_profile *prof);

/* tz_state_read_pools (sync/state.h) for the CLI: the pools of the
 * wallet's pending deposits at `block`, into *out (release with
 * tz_pools_free, also after a failure). Failures are reported: a value
 * neither empty nor 8 bytes -> TZ_EXIT_CHAIN ("deposit balance for pool
 * <hex> has unexpected length <n>"), node errors as tz_cli_node_fail. */
int tz_cli_read_pools(const tz_cli *cli, tz_rpc *rpc, const char *block, const tz_wallet *w,
                      tz_pools *out);

/* Prints the reference's pool summary: `Deposit pools: F funded, total
 * balance T mutez`, then (human mode only, when non-zero) the awaiting and
 * drained lines; adds the four deposit_pools_* keys to `res` (may be NULL). */
void tz_cli_pools_print(const tz_cli *cli, const tz_pools *p, const tz_wallet *w, json_t *res);

/* ---- addresses ----------------------------------------------------------- */

/* The payment address of wallet address `a` (its two ML-KEM key pairs are
 * derived from `keys`) into *pa. Returns an exit code (reported). */
int tz_cli_payment_address(const tz_cli *cli, const tz_keys *keys, const tz_wallet_address *a,
                           tz_payment_address *pa);

/* ---- JSON ---------------------------------------------------------------- */

/* 64 lowercase hex characters as a JSON string (new reference or NULL). */
json_t *tz_felt_json(const tz_felt *f);

/* {"d_j","auth_root","auth_pub_seed","nk_tag","ek_v","ek_d"}, hex, the
 * reference's PaymentAddress serialization. New reference or NULL. */
json_t *tz_payment_address_json(const tz_payment_address *pa);

/* Lowercase hex of the canonical wire encoding (malloc'd, NULL when out of
 * memory). */
char *tz_payment_address_wire_hex(const tz_payment_address *pa);

#endif
