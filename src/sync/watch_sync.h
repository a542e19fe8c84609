/* Watch wallets on the sync engine (docs/watch.md): what a leaf is tried
 * for in each mode, how a hit becomes a record, and one watch wallet's
 * sync run (scan.h: pinned block, concurrent fetch, parallel trials,
 * in-order merge, checkpoints, yields, frontier root verification).
 *
 *   detect:   the detection tag of addresses 0..addr_count-1 (keys from
 *             detect_root): {index, addr_index, cm} for the first match,
 *             a candidate (about 1 leaf in 1,024 per address by chance);
 *   view:     detection, full decryption with the viewing key, then the
 *             commitment check with the address record: {index,
 *             addr_index, cm, value, memo};
 *   outgoing: the outgoing ciphertext opened with outgoing_seed and cm,
 *             the recovered note's commitment checked: {index, role,
 *             value, cm, rseed, d_j, auth_root, auth_pub_seed, nk_tag}. */
#ifndef TZ_SYNC_WATCH_SYNC_H
#define TZ_SYNC_WATCH_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/merkle.h"
#include "core/note.h"
#include "core/status.h"
#include "rpc/rpc.h"
#include "store/watch.h"
#include "sync/scan.h"
#include "sync/sync.h"

/* The keys of one watch wallet, derived once per run (one ML-KEM key pair
 * per address and role). Secret: wipe with tz_watch_keys_wipe. */
typedef struct tz_watch_keys {
    tz_watch_mode mode;
    tz_note_receiver *rs; /* detect: kd and index; view: everything but nk_spend */
    size_t n;
    tz_felt outgoing_seed;
} tz_watch_keys;

/* Derives the keys of `w` into *k. Returns TZ_OK or TZ_ENOMEM (*k empty). */
tz_status tz_watch_keys_init(tz_watch_keys *k, const tz_watch *w, tz_error *err) TZ_WUR;
void tz_watch_keys_wipe(tz_watch_keys *k);

/* Bytes a trial of this mode writes (the `hit` below). */
size_t tz_watch_hit_bytes(tz_watch_mode m);

/* Tries one published note for the keys (thread-safe: k is read only).
 * `ready` is pn's detection ciphertext made ready (tz_kem_detect_prepare),
 * shared by every wallet trying the leaf, or NULL (then made here when
 * needed). Returns true with hit[0..tz_watch_hit_bytes) filled (secret)
 * when the leaf gives a record. */
bool tz_watch_trial(const tz_watch_keys *k, const tz_published_note *pn,
                    const tz_kem_ct_ready *ready, void *hit);

/* Records the hit of leaf (index, cm) in w unless a record with that index
 * and cm is there (*added tells). TZ_OK or TZ_ENOMEM. */
tz_status tz_watch_merge_hit(tz_watch *w, uint64_t index, const tz_felt *cm, const void *hit,
                             bool *added) TZ_WUR;

/* The frontier of w's leaves below w->scanned into *fr: the saved one, the
 * empty tree at 0, or false when unknown (then the root is not verified). */
bool tz_watch_frontier(const tz_watch *w, tz_frontier *fr);

/* Runs one sync of the watch wallet `w` (loaded, lock held by the caller)
 * through `rpc`, exactly as tz_sync_run runs a wallet's: checkpoints with
 * tz_watch_save every cfg->checkpoint_every leaves, the sentinel
 * <w->path>.yield, and at the end of the range the frontier root checked
 * against tree/root at the pinned block (a mismatch returns the file to
 * its last verified state: TZ_EMISMATCH). res->found counts the new
 * records; a FOUND event reports each (index, cm, value). Returns as
 * tz_sync_run does. */
tz_status tz_watch_sync_run(tz_watch *w, tz_rpc *rpc, const tz_sync_config *cfg,
                            const tz_sync_hooks *hooks, tz_sync_result *res,
                            tz_error *err) TZ_WUR;

#endif
