/* A parallel for-loop over items claimed in chunks from an atomic counter:
 * the one thread pool of the auth-tree derivation and the simulator's
 * note generation. */
#ifndef TZ_BASE_PAR_H
#define TZ_BASE_PAR_H

#include <stddef.h>
#include <stdint.h>

/* Work on items [begin, end) of the loop; called concurrently from several
 * threads, each range disjoint. */
typedef void (*tz_par_fn)(void *ctx, uint64_t begin, uint64_t end);

/* Progress of the loop, called from the calling thread only: items done so
 * far, out of n. */
typedef void (*tz_par_progress_fn)(void *ctx, uint64_t done, uint64_t n);

/* Runs fn over [0, n) in chunks of `chunk` items (>= 1) on `threads`
 * threads (0: every online core), the calling thread included; a thread
 * that cannot be started leaves its share to the others. progress (may be
 * NULL) is called after each chunk the calling thread finishes and once
 * at the end with done == n. Returns when every item is done. */
void tz_par_for(uint64_t n, uint64_t chunk, unsigned threads, tz_par_fn fn, void *ctx,
                tz_par_progress_fn progress, void *pctx);

/* Online cores (at least 1). */
unsigned tz_online_cores(void);

#endif
