/* A wallet's address records (WALLET_FILE.md `addresses`): deriving one
 * the way the reference wallet stores it (index, d_j, auth_root,
 * auth_pub_seed, nk_tag and the `bds` signing state at one-time key 0, so
 * that the reference can sign with a record made here), deriving the
 * records missing below addr_counter (like the reference's load), and
 * allocating the next address (the reference's next_address). */
#ifndef TZ_STORE_ADDRESS_H
#define TZ_STORE_ADDRESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/keys.h"
#include "core/status.h"
#include "store/wallet.h"

/* The most addresses a wallet derives. Every address costs each sync a
 * trial decryption per leaf and about 5 s of CPU to derive; a file whose
 * addr_counter is far beyond its records is damaged, not a big wallet. */
#define TZ_WALLET_MAX_ADDRESSES 4096u

/* Optional observers of the derivations (any member may be NULL). */
typedef struct tz_address_hooks {
    /* before deriving record j (`counter`: addr_counter at that time; j <
     * counter for a missing record, j == counter for a new address) */
    void (*deriving)(void *ctx, uint32_t j, uint32_t counter);
    /* leaves of the current record's auth tree done, out of `total` */
    void (*progress)(void *ctx, uint32_t done, uint32_t total);
    /* after the derivation of record j, successful or not */
    void (*derived)(void *ctx, uint32_t j);
    void *ctx;
} tz_address_hooks;

/* Derives address j of `keys` into *out and, when bds_out is non-NULL, a
 * new JSON object *bds_out equal to the reference's fresh XmssBdsState
 * serialization (next_index 0, auth_path, keep, treehash, retain). Builds
 * the whole depth-16 auth tree: the 65,536 leaves on `threads` threads
 * (0 = all online cores, the calling thread included), then the nodes.
 * progress (may be NULL) is called from the calling thread with (ctx,
 * leaves done, 65536). Returns TZ_OK, or TZ_ENOMEM (nothing written).
 * Secrets (ask_j) are wiped. */
tz_status tz_address_derive(const tz_keys *keys, uint32_t j, unsigned threads,
                            void (*progress)(void *ctx, uint32_t done, uint32_t total),
                            void *ctx, tz_wallet_address *out, json_t **bds_out,
                            tz_error *err) TZ_WUR;

/* Derives every record missing below `upto` (<= addr_counter: positions
 * n_addresses..upto-1 without a record of that index), appends it with a
 * fresh bds and records wots_key_indices["j"] = 0 when absent. With
 * save_each, the wallet is saved (tz_wallet_save) after each record, so a
 * kill loses at most the one being derived. Refuses before deriving
 * anything (TZ_ESTATE, the reason in the message): an addr_counter beyond
 * TZ_WALLET_MAX_ADDRESSES while records are missing; a missing record
 * whose one-time keys were used (advancing a BDS state is not
 * implemented). Other errors: TZ_ENOMEM, a save's TZ_EIO (the records
 * saved before stay). */
tz_status tz_wallet_materialize_addresses(tz_wallet *w, const tz_keys *keys, uint32_t upto,
                                          bool save_each, const tz_address_hooks *h,
                                          tz_error *err) TZ_WUR;

/* Allocates the next address, as the reference's next_address: j =
 * addr_counter; the record at position j when the file already has it,
 * else (after tz_wallet_materialize_addresses up to j, with save_each) a
 * new derivation appended with its bds. Then addr_counter = j + 1 (not
 * saved). On success *pos is the record's position in w->addresses.
 * TZ_ESTATE when the wallet already has TZ_WALLET_MAX_ADDRESSES addresses
 * or a record is out of place, else as tz_wallet_materialize_addresses. */
tz_status tz_wallet_next_address(tz_wallet *w, const tz_keys *keys, bool save_each,
                                 const tz_address_hooks *h, size_t *pos, tz_error *err) TZ_WUR;

#endif
