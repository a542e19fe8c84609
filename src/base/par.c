/* The parallel for-loop (par.h): chunks claimed by atomic increment, at
 * most TZ_PAR_MAX_THREADS threads. */
#include "base/par.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#define TZ_PAR_MAX_THREADS 64

typedef struct loop {
    uint64_t n, chunk;
    tz_par_fn fn;
    void *ctx;
    atomic_uint_fast64_t next;
    atomic_uint_fast64_t done;
} loop;

/* Claims and runs one chunk; false when none is left. */
static bool run_chunk(loop *l)
{
    uint64_t b = atomic_fetch_add(&l->next, l->chunk);
    if (b >= l->n)
        return false;
    uint64_t e = l->n - b > l->chunk ? b + l->chunk : l->n;
    l->fn(l->ctx, b, e);
    atomic_fetch_add(&l->done, e - b);
    return true;
}

static void *worker(void *arg)
{
    while (run_chunk(arg))
        ;
    return NULL;
}

unsigned tz_online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

void tz_par_for(uint64_t n, uint64_t chunk, unsigned threads, tz_par_fn fn, void *ctx,
                tz_par_progress_fn progress, void *pctx)
{
    loop l = {.n = n, .chunk = chunk ? chunk : 1, .fn = fn, .ctx = ctx};
    atomic_init(&l.next, 0);
    atomic_init(&l.done, 0);
    if (threads == 0)
        threads = tz_online_cores();
    uint64_t chunks = n / l.chunk + 1;
    if (threads > chunks)
        threads = (unsigned)chunks;
    if (threads > TZ_PAR_MAX_THREADS)
        threads = TZ_PAR_MAX_THREADS;
    pthread_t tids[TZ_PAR_MAX_THREADS];
    unsigned started = 0;
    for (unsigned t = 1; t < threads; t++)
        if (pthread_create(&tids[started], NULL, worker, &l) == 0)
            started++;
    while (run_chunk(&l))
        if (progress)
            progress(pctx, atomic_load(&l.done), n);
    for (unsigned t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    if (progress)
        progress(pctx, n, n);
}
