/* The scan pipeline (docs/sync.md): one fetcher thread pulls leaves from a
 * source (the rollup client) into a bounded reorder buffer, a pool of
 * workers decodes and trial-decrypts them, and the caller's thread (the
 * merger) takes the results strictly in leaf order.
 *
 * Memory is bounded by the window: the fetcher's callback blocks while
 * `window` leaves are held and the next leaf in order is among them, so
 * the buffer holds at most the window plus what the source has in flight
 * out of order. Only the merger touches wallet state; the pipeline never
 * does. */
#ifndef TZ_SYNC_PIPELINE_H
#define TZ_SYNC_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/note.h"
#include "core/status.h"
#include "rpc/rpc.h"

/* A leaf source: delivers every index of [start, end) exactly once through
 * cb (any order, from the calling thread), stops when cb returns non-zero
 * (then returns TZ_ECANCEL), returns TZ_OK when all were delivered or an
 * error. tz_rpc_fetch_notes bound to a block is one (see
 * tz_pipeline_rpc_source); tests provide others. */
typedef tz_status (*tz_leaf_source_fn)(void *src, uint64_t start, uint64_t end,
                                       tz_rpc_note_cb cb, void *cb_ctx, tz_error *err);

/* A per-leaf trial run on the worker threads instead of the receivers':
 * looks at the decoded note of leaf `index` and writes what the merger
 * needs into hit[0..hit_bytes) (zeroed before the call). Returns true when
 * the leaf is of interest (then the merger gets the hit bytes). Called
 * concurrently: ctx must be read only. */
typedef bool (*tz_leaf_trial_fn)(void *ctx, uint64_t index, const tz_published_note *pn,
                                 void *hit);

typedef struct tz_pipeline_cfg {
    tz_leaf_source_fn source;
    void *source_ctx;
    uint64_t start, end;            /* the range, start <= end */
    const tz_note_receiver *receivers; /* borrowed for the pipeline's life */
    size_t n_receivers;
    /* When set, the trial instead of the receivers' (tz_note_trial). */
    tz_leaf_trial_fn trial;
    void *trial_ctx;
    size_t hit_bytes;               /* bytes a trial writes, <= TZ_PIPELINE_MAX_HIT */
    unsigned threads;               /* workers, >= 1 */
    size_t window;                  /* leaves held before back-pressure, >= 1 */
    /* Set to 1 by tz_pipeline_cancel (atomically); also given to the rpc
     * client by the caller so in-flight requests are dropped. May be NULL. */
    volatile int *cancel_flag;
} tz_pipeline_cfg;

#define TZ_PIPELINE_MAX_HIT ((size_t)1 << 20)

/* One leaf, as handed to the merger. */
typedef struct tz_leaf_result {
    uint64_t index;
    tz_felt cm;
    bool mine;                 /* accepted by receivers[which], or the trial said true */
    size_t which;
    tz_note_plain plain;       /* secret: the caller wipes it */
    const void *hit;           /* with a trial, when mine: its hit_bytes (secret);
                                  valid until the next tz_pipeline_next */
} tz_leaf_result;

typedef struct tz_pipeline tz_pipeline;

/* Starts the fetcher and the workers. On success *out owns the pipeline
 * (release with tz_pipeline_free). Returns TZ_OK, TZ_EINVAL, TZ_ENOMEM or
 * TZ_EIO (thread creation); nothing is left running on failure. */
tz_status tz_pipeline_start(const tz_pipeline_cfg *cfg, tz_pipeline **out,
                            tz_error *err) TZ_WUR;

/* Waits up to timeout_ms for the next leaf in order. Returns TZ_OK with
 * *got true and *out filled (out->plain is secret: the caller wipes it),
 * TZ_OK with *got false on timeout or once the whole range was delivered
 * (then tz_pipeline_done is true), or the error that stopped the
 * pipeline. A source error (TZ_EHTTP, ...) stops fetching at once, but
 * the leaves it delivered before, contiguous from the cursor, are still
 * handed out first; then the error. TZ_EPARSE for a leaf that does not
 * decode comes when its turn comes (the message names its index). */
tz_status tz_pipeline_next(tz_pipeline *p, unsigned timeout_ms, tz_leaf_result *out,
                           bool *got, tz_error *err) TZ_WUR;

/* True once every leaf of the range was handed out. */
bool tz_pipeline_done(const tz_pipeline *p);

/* Stops fetching and decrypting at once (does not wait). */
void tz_pipeline_cancel(tz_pipeline *p);

/* Peak number of leaves held at once (for tests and the benchmark). */
size_t tz_pipeline_peak_held(const tz_pipeline *p);

/* Cancels, joins every thread, wipes and frees. NULL is a no-op. */
void tz_pipeline_free(tz_pipeline *p);

/* Source context for a rollup client at a pinned block. */
typedef struct tz_rpc_source {
    tz_rpc *rpc;
    const char *block;
} tz_rpc_source;

/* tz_leaf_source_fn over tz_rpc_fetch_notes; src is a tz_rpc_source. */
tz_status tz_pipeline_rpc_source(void *src, uint64_t start, uint64_t end, tz_rpc_note_cb cb,
                                 void *cb_ctx, tz_error *err) TZ_WUR;

#endif
