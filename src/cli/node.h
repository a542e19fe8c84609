/* The rollup node as the tzel-wallet commands reach it: its URL (flag,
 * environment or profile), a client pinned to the head, the network
 * profile, and the chain reads commands share (rollup address check,
 * deposit pools). Every helper returning `int` returns an enum tz_exit
 * value, the error already reported. */
#ifndef TZ_CLI_NODE_H
#define TZ_CLI_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "core/status.h"
#include "rpc/rpc.h"
#include "store/profile.h"
#include "store/wallet.h"
#include "sync/state.h"

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

#endif
