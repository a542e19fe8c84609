/* Chain state at a pinned block, for every command that needs it (sync,
 * init --at-head, check, balance): the heads (tree size, root, nullifier
 * count) in one concurrent round trip, the tree frontier, and the deposit
 * pools of a wallet's pending deposits with the reference's figures.
 *
 * Every read names the block it is given, never `head`. */
#ifndef TZ_SYNC_STATE_H
#define TZ_SYNC_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/merkle.h"
#include "core/status.h"
#include "rpc/rpc.h"
#include "store/wallet.h"

#define TZ_STATE_KEY_TREE_SIZE TZ_STATE_PREFIX "tree/size"
#define TZ_STATE_KEY_TREE_ROOT TZ_STATE_PREFIX "tree/root"
#define TZ_STATE_KEY_NF_COUNT TZ_STATE_PREFIX "nullifiers/count"

typedef struct tz_chain_heads {
    uint64_t tree_size;   /* 0 when absent */
    bool root_present;    /* tree/root exists (an empty kernel may lack it) */
    tz_felt root;         /* when root_present */
    uint64_t nf_count;    /* nullifiers/count, 0 when absent */
} tz_chain_heads;

/* Reads tree/size, tree/root and nullifiers/count at `block` concurrently.
 * Returns TZ_OK, TZ_EHTTP (URL and status), TZ_EPARSE ("<key> has N bytes
 * at block B, expected 8|32"), TZ_ENOMEM. *out is filled only on TZ_OK. */
tz_status tz_state_read_heads(tz_rpc *rpc, const char *block, tz_chain_heads *out,
                              tz_error *err) TZ_WUR;

/* The root a caller compares with: heads->root, or the empty tree's root
 * when tree/root is absent and the tree is empty. Returns TZ_OK, or
 * TZ_ENOTFOUND ("<key> absent at block B") for an absent root of a
 * non-empty tree. */
tz_status tz_state_root(const tz_chain_heads *h, const char *block, tz_felt *out,
                        tz_error *err) TZ_WUR;

/* Reads the kernel's frontier at `block`: tree/branch/<00..2f> (absent ->
 * zero) with size `tree_size` (from tz_state_read_heads). Returns TZ_OK,
 * TZ_EHTTP, TZ_EPARSE. */
tz_status tz_state_read_frontier(tz_rpc *rpc, const char *block, uint64_t tree_size,
                                 tz_frontier *out, tz_error *err) TZ_WUR;

/* The burn fee a private transaction needs in the next inbox level (the
 * reference's rule, SPENDS.md §2): 100000 mutez doubled once per private
 * transaction beyond the first already accepted in that level, at most 6
 * times; the count applies only when last_input_level and
 * fees/private_tx_level are both the next level (the block's level + 1).
 * Returns TZ_OK, TZ_EHTTP, TZ_EPARSE ("durable i32|u64 at <key> has N
 * bytes, expected W"). */
tz_status tz_state_required_fee(tz_rpc *rpc, const char *block, uint64_t *fee,
                                tz_error *err) TZ_WUR;

/* Deposit pools of a wallet's pending deposits, as the reference reads
 * them: a pool has an ENTRY when deposits/balance/<pubkey_hash> holds 8
 * bytes (an 8-byte 0 is an entry); an absent or empty value is no entry
 * (never credited, or drained: the kernel empties a drained pool). */
typedef struct tz_pools {
    size_t n;             /* pending deposits read (w->n_deposits) */
    uint64_t *balance;    /* per deposit: its pool's balance (0 without entry) */
    bool *has_entry;      /* per deposit: its pool has an entry */
    uint64_t funded;      /* distinct pools with an entry */
    uint64_t total;       /* the sum of their balances (saturating) */
} tz_pools;

/* Reads the pool of every distinct pending pubkey_hash of `w` at `block`
 * in one concurrent batch into *out (zeroed first; release with
 * tz_pools_free, also after a failure). Returns TZ_OK, TZ_EHTTP, TZ_EPARSE
 * ("deposit balance for pool <hex> has unexpected length <n>" for a value
 * neither empty nor 8 bytes), TZ_ENOMEM. */
tz_status tz_state_read_pools(tz_rpc *rpc, const char *block, const tz_wallet *w,
                              tz_pools *out, tz_error *err) TZ_WUR;

/* Reads the pools pkh[0..n), deposits/balance/<pubkey_hash>, at `block`
 * concurrently, as the reference reads one: has_entry[k] with balance[k]
 * when it holds 8 bytes, neither when it is absent or empty (never
 * credited, or drained). Returns TZ_OK, TZ_EHTTP, TZ_EPARSE ("deposit
 * balance for pool <hex> has unexpected length <n>"), TZ_ENOMEM. */
tz_status tz_state_read_pool_list(tz_rpc *rpc, const char *block, const tz_felt *pkh, size_t n,
                                  bool *has_entry, uint64_t *balance, tz_error *err) TZ_WUR;

/* True when deposit i's pool reads zero: no entry, or an entry of 0 (the
 * reference's test for "drained on chain"). */
bool tz_pools_drained(const tz_pools *p, size_t i);

/* The reference's tally of the deposits whose pool has no entry: without a
 * shielded_cm (*awaiting: awaiting on-chain credit) and with one
 * (*drained: drained, pending the scan that prunes it). Deposits i with
 * skip[i] set are left out (skip may be NULL). */
void tz_pools_unfunded(const tz_pools *p, const tz_wallet *w, const bool *skip,
                       uint64_t *awaiting, uint64_t *drained);

/* Releases what tz_state_read_pools allocated. NULL is a no-op. */
void tz_pools_free(tz_pools *p);

#endif
