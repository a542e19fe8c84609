/* End of a sync run (docs/sync.md "Finalize"): with every leaf below the
 * pinned tree size scanned, check the frontier root, apply the nullifiers
 * published since the last finalize, drop pending spends whose nullifiers
 * are all on chain and prune drained pending deposits, every read at the
 * same pinned block. */
#ifndef TZ_SYNC_FINALIZE_H
#define TZ_SYNC_FINALIZE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/merkle.h"
#include "core/status.h"
#include "rpc/rpc.h"
#include "store/wallet.h"

#define TZ_FINALIZE_MAX_WARNINGS 4
#define TZ_FINALIZE_NF_CHUNK 1024   /* nullifiers read per round trip batch */

typedef struct tz_finalize_in {
    tz_wallet *w;                /* scanned == tree_size */
    tz_rpc *rpc;
    const char *block;           /* the pinned block of the run */
    uint64_t tree_size;
    const tz_frontier *frontier; /* of leaves [0, tree_size), or NULL when unknown */
    /* Values already read at `block` (the run reads them together with
     * tree/size); when a flag is false finalize reads the value itself. */
    bool have_root, root_present;
    tz_felt chain_root;
    bool have_nf_count;
    uint64_t nf_count;
} tz_finalize_in;

typedef struct tz_finalize_out {
    uint64_t spent, spends_dropped, deposits_pruned, nullifiers_read;
    /* Pools of the pending deposits at the block (see tz_sync_result). */
    uint64_t pool_funded_total, pools_awaiting_credit, pools_drained_pending_prune;
    bool verified;               /* frontier root == tree/root at block */
    bool root_mismatch;          /* the roots differ (TZ_EMISMATCH returned) */
    tz_felt root;                /* that root when verified */
    char warnings[TZ_FINALIZE_MAX_WARNINGS][512];
    size_t n_warnings;
} tz_finalize_out;

/* Reads at in->block: tree/root (when a frontier is given and it was not
 * passed in), then nullifiers/count (likewise) and nullifiers/index/[w->sync.nullifiers_checked,
 * count), then, in one concurrent batch, deposits/balance/<pubkey_hash> of
 * every distinct pending deposit pubkey_hash. Updates the wallet in memory
 * only: removes spent notes, drops pending spends whose nullifiers are all
 * on chain (one with no nullifier at all too, like the reference), prunes
 * deposits whose pool has no balance (absent, empty or 0) and whose
 * shielded_cm was observed, sets nullifiers_checked = count (restarting
 * from 0, with a warning, when the chain has fewer nullifiers than already
 * checked), keeps only the note witnesses that give the verified root
 * (a warning counts the others), and fills the pool figures of *out. The
 * caller saves. Returns
 * TZ_OK; TZ_EMISMATCH when the roots differ (message names both; the
 * wallet is not modified); TZ_EHTTP, TZ_EPARSE (also "deposit balance for
 * pool <hex> has unexpected length <n>" for a value neither empty nor 8
 * bytes), TZ_ENOMEM (the wallet may hold part of the changes: do not save
 * it). *out is always initialised. */
tz_status tz_sync_finalize(const tz_finalize_in *in, tz_finalize_out *out, tz_error *err) TZ_WUR;

/* Step 1 of finalize alone (for watch wallets): compares the root of
 * in->frontier (required) with tree/root at in->block (in->have_root:
 * the value passed in; in->w is not used). Sets out->verified and
 * out->root, or out->root_mismatch. Returns TZ_OK (also for an empty tree
 * without a root), TZ_EMISMATCH (both roots named), TZ_ENOTFOUND,
 * TZ_EHTTP, TZ_EPARSE. The caller zeroes *out first. */
tz_status tz_sync_check_root(const tz_finalize_in *in, tz_finalize_out *out, tz_error *err) TZ_WUR;

#endif
