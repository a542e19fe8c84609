/* Work the HTTP event loop must not wait for (a read-only `tzel-wallet`
 * run, say), done on worker threads: a fixed number of queues, each
 * served first in first out by a thread of its own, so a slow item delays
 * only the items behind it in the same queue. The thread takes every item
 * queued so far as one batch, so a crowd of identical requests costs one
 * run, plus one for those that arrive while it runs.
 *
 * Items are embedded in the caller's own records (no allocation here);
 * the caller keeps an item alive until its `run` has been called. All
 * functions are thread-safe. */
#ifndef TZ_DAEMON_OFFLOAD_H
#define TZ_DAEMON_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

typedef struct tz_offload tz_offload;

typedef struct tz_offload_item tz_offload_item;
struct tz_offload_item {
    tz_offload_item *next; /* the queue's; within a batch, the next item of it */
    /* Called on the queue's thread once per batch, on the batch's first
     * item, the others following it through `next` (NULL-terminated,
     * in the order posted): cancelled is false when the batch is to be
     * run, true when it is dropped because the workers are stopping.
     * Each item of a batch must be dealt with by that one call. */
    void (*run)(tz_offload_item *first, bool cancelled);
};

/* Starts `nqueues` (>= 1) queues and their threads. Returns TZ_OK and
 * *out, TZ_ENOMEM, or TZ_EIO (thread creation) with nothing left running. */
tz_status tz_offload_start(size_t nqueues, tz_offload **out, tz_error *err) TZ_WUR;

/* Appends `item` to queue `queue` (< nqueues). Returns TZ_OK, or
 * TZ_ECANCEL when the workers are stopping: the item is then not queued
 * and its `run` is never called. */
tz_status tz_offload_post(tz_offload *o, size_t queue, tz_offload_item *item) TZ_WUR;

/* Refuses new items, calls run(batch, true) for what is still queued,
 * waits for the batches being run, joins the threads and frees. NULL:
 * no-op. */
void tz_offload_stop(tz_offload *o);

#endif
