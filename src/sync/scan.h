/* The scan engine every sync run shares (docs/sync.md): a full wallet's
 * sync, a watch wallet's, and tzel-detect's pass for many watch wallets.
 *
 * One run: pin the head, read the heads at that block, then scan
 * [cursor, tree_size) through the pipeline (concurrent fetch, parallel
 * trial work, in-order merge), saving a checkpoint every K leaves, looking
 * at the cooperative-yield sentinel at start, after every checkpoint and
 * every ~1 ms between them, stopping at a checkpoint on request. What a
 * leaf is tried for, what a merged leaf changes and what a checkpoint
 * saves are the target's (tz_scan_ops); finalize is the caller's.
 *
 * The engine never prints, exits or takes a lock; it reports through the
 * tz_sync_hooks events. */
#ifndef TZ_SYNC_SCAN_H
#define TZ_SYNC_SCAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"
#include "rpc/rpc.h"
#include "sync/pipeline.h"
#include "sync/state.h"
#include "sync/sync.h"

/* What a target plugs into the engine. */
typedef struct tz_scan_ops {
    /* The per-leaf trial: receivers (tz_note_trial), or `trial` with
     * `hit_bytes` of result (pipeline.h). */
    const tz_note_receiver *receivers;
    size_t n_receivers;
    tz_leaf_trial_fn trial;
    void *trial_ctx;
    size_t hit_bytes;
    /* Folds leaf l, in leaf order, into the target's state (only this
     * thread calls it). The caller wipes l's secrets afterwards. */
    tz_status (*merge)(void *ctx, tz_leaf_result *l, tz_error *err);
    /* Saves a checkpoint: every leaf below `cursor` is merged. On failure
     * the file keeps the previous checkpoint. */
    tz_status (*save)(void *ctx, uint64_t cursor, tz_error *err);
    /* Looks at the target's yield sentinel(s): true to yield (then *pid is
     * the PID named, -1 when the content is not one). NULL: the sentinel
     * of `path` (tz_scan_sentinel_live). */
    bool (*should_yield)(void *ctx, long *pid);
    void *ctx;
} tz_scan_ops;

/* The state of one run. Fields are the engine's; callers read cursor,
 * saved and run_start. */
typedef struct tz_scan {
    const char *path;             /* the wallet file: <path>.yield */
    tz_rpc *rpc;
    const tz_sync_config *cfg;
    const tz_sync_hooks *hooks;
    tz_sync_result *res;          /* block, tree_size, scanned, checkpoints,
                                     found (the target counts), yielded */
    uint64_t cursor;              /* every leaf below is merged (in memory) */
    uint64_t saved;               /* every leaf below is saved */
    uint64_t run_start;
    bool grace;                   /* a live sentinel at start: the first batch passes */
    double t0, last_progress, last_sentinel;
} tz_scan;

/* Starts a run of the wallet at `path` whose cursor is `scanned`: zeroes
 * *res, looks at the sentinel (a live one gives the first batch grace, a
 * stale one is removed with a warning), pins the head into res->block,
 * reads the heads at it into *heads and res->tree_size, refuses a cursor
 * beyond the tree, and emits START. Returns TZ_OK, or the failure worded
 * like the reference's ("sync failed: <cause>. Run `tzel-wallet check`
 * ..."): TZ_EHTTP, TZ_EPARSE, TZ_EMISMATCH (cursor ahead of the tree). */
tz_status tz_scan_begin(tz_scan *s, const char *path, uint64_t scanned, tz_rpc *rpc,
                        const tz_sync_config *cfg, const tz_sync_hooks *hooks,
                        tz_sync_result *res, tz_chain_heads *heads, tz_error *err) TZ_WUR;

/* Moves the run's cursor (and its saved mark) to `cursor`: the target
 * took its state from the file (at start, or after returning to its last
 * verified state). */
void tz_scan_reset(tz_scan *s, uint64_t cursor);

/* Scans [s->cursor, s->res->tree_size). Returns TZ_OK when the range is
 * done or the run yielded (res->yielded), TZ_ECANCEL on a stop request
 * (the merged prefix saved), or the error (the file keeps the last
 * checkpoint; fetch and decode failures worded like tz_scan_begin's). */
tz_status tz_scan_range(tz_scan *s, const tz_scan_ops *ops, tz_error *err) TZ_WUR;

/* Saves a checkpoint at s->cursor through ops->save and reports it
 * (CHECKPOINT event). Returns TZ_OK or the save's error, prefixed with
 * "checkpoint at leaf N". */
tz_status tz_scan_checkpoint(tz_scan *s, const tz_scan_ops *ops, tz_error *err) TZ_WUR;

/* True when <path>.yield is live (sets *pid). A stale sentinel is removed
 * and reported (STALE_SENTINEL event and a warning); one that cannot be
 * read counts as live. */
bool tz_scan_sentinel_live(tz_scan *s, const char *path, long *pid);

/* Emits a PROGRESS event (at most every 0.1 s unless `force`). */
void tz_scan_progress(tz_scan *s, bool force);

/* Emits an event / a WARNING event through the hooks. */
void tz_scan_emit(tz_scan *s, tz_sync_event *ev);
void tz_scan_warnf(tz_scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rewords err as "sync failed: <msg>. Run `tzel-wallet check` for a
 * fuller diagnosis." Returns err's code. */
tz_status tz_scan_failed(tz_error *err);

#endif
