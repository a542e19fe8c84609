/* One pass over the chain for many watch wallets (docs/watch.md,
 * "tzel-detect"): each leaf is fetched once, from the lowest cursor, and
 * tried against the keys of every wallet whose cursor is at or below it;
 * each wallet is checkpointed with its own cursor, verified against the
 * root at the pinned block, and yields alone to its own sentinel. Built on
 * the sync engine (sync/scan.h). */
#ifndef TZ_DETECT_PASS_H
#define TZ_DETECT_PASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "rpc/rpc.h"
#include "sync/sync.h"

/* One wallet of a pass: its path in, its outcome out. */
typedef struct tz_detect_item {
    const char *path;         /* resolved watch wallet path */
    /* out */
    bool ran;                 /* locked, loaded and scanned (maybe yielded) */
    tz_status st;             /* TZ_OK, or this wallet's failure */
    char error[TZ_ERROR_MSG_MAX];
    uint64_t found;           /* new records this pass */
    uint64_t next_cursor;     /* scanned after the pass */
    bool yielded;
    bool verified;
} tz_detect_item;

/* Runs one pass over items[0..n): takes each wallet's lock (a wallet
 * locked by a live process is skipped: st TZ_ELOCKED), loads it, scans
 * [min cursor, tree/size) once at one pinned block through `rpc`, then
 * checks each wallet's frontier root and saves it. A wallet whose file is
 * bad, whose cursor is beyond the tree or whose root mismatches fails
 * alone (its item says why; a mismatch returns it to its last verified
 * state). Returns TZ_OK when the pass ran (see the items), TZ_ECANCEL when
 * *hooks->stop was raised (every wallet saved at its cursor), or the
 * failure of the whole pass (head pin, tree size, a leaf fetch: worded
 * "sync failed: ..."; every wallet keeps its last checkpoint). *res
 * describes the pass (block, tree size, leaves, checkpoints). */
tz_status tz_detect_pass(tz_detect_item *items, size_t n, tz_rpc *rpc,
                         const tz_sync_config *cfg, const tz_sync_hooks *hooks,
                         tz_sync_result *res, tz_error *err) TZ_WUR;

#endif
