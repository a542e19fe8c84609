/* Deriving a wallet address record the way the reference wallet stores it:
 * index, d_j, auth_root, auth_pub_seed, nk_tag and the `bds` object (its
 * XMSS BDS traversal state, k = 2, at one-time key 0), so that a wallet
 * made here can be used for signing by the reference wallet. */
#ifndef TZ_CLI_DERIVE_H
#define TZ_CLI_DERIVE_H

#include <jansson.h>
#include <stdint.h>

#include "core/keys.h"
#include "core/status.h"
#include "store/wallet.h"

/* Derives address j of `keys` into *out and, when bds_out is non-NULL, a
 * new JSON object *bds_out equal to the reference's fresh XmssBdsState
 * serialization (next_index 0, auth_path, keep, treehash, retain). Builds
 * the whole depth-16 auth tree: the 65,536 leaves on `threads` threads
 * (0 = all online cores, the calling thread included), then the nodes.
 * progress (may be NULL) is called from the calling thread with (ctx,
 * leaves done, 65536). Returns TZ_OK, or TZ_ENOMEM (nothing written).
 * Secrets (ask_j) are wiped. */
tz_status tz_cli_derive_address(const tz_keys *keys, uint32_t j, unsigned threads,
                                void (*progress)(void *ctx, uint32_t done, uint32_t total),
                                void *ctx, tz_wallet_address *out, json_t **bds_out,
                                tz_error *err) TZ_WUR;

/* Allocates the wallet's next address, as the reference's next_address:
 * j = addr_counter; the record at position j when the file already has it,
 * else a new derivation (progress on stderr) appended with its bds. Before
 * that, like the reference's load, every record missing below addr_counter
 * (positions n_addresses..j-1 without a record of that index) is derived
 * and appended with a fresh bds; one whose wots_key_indices entry is above
 * 0 is refused (TZ_EXIT_WALLET: advancing a BDS state is not implemented).
 * Then addr_counter = j + 1. Nothing is saved. On success *pos is the record's
 * position in w->addresses. Returns an exit code (failures reported; the
 * wallet in memory may then hold the new record, do not save it). */
struct tz_cli;
int tz_cli_alloc_address(const struct tz_cli *cli, tz_wallet *w, const tz_keys *keys,
                         size_t *pos);

#endif
