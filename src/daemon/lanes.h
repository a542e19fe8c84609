/* The daemon's two lanes over one wallet.
 *
 * Background lane: a thread running `tzel-wallet --json sync` in a loop,
 * reading its JSON-lines events for progress. After a yield it restarts as
 * soon as no job is queued or running (the sentinel is still raised until
 * then); after an error it waits 1, 2, 4 ... 30 s; once at the head it
 * waits --interval-secs.
 *
 * Slow lane: a thread running queued jobs first in first out, one at a
 * time. Per job: raise `<wallet>.yield`, wait for the sync child to exit
 * (it yields at its next checkpoint), wait for `<wallet>.lock` to have no
 * live holder, run the job's child (retried while it exits LOCKED, until
 * the lock timeout), clear the sentinel whatever happened.
 *
 * All functions are thread-safe. */
#ifndef TZ_DAEMON_LANES_H
#define TZ_DAEMON_LANES_H

#include <jansson.h>

#include "config.h"
#include "core/status.h"
#include "jobs.h"

typedef struct tz_lanes tz_lanes;

/* Starts both lanes' threads for `cfg` (kept by pointer: it must outlive
 * the lanes). Returns TZ_OK and *out, or TZ_ENOMEM / TZ_EIO (thread
 * creation) with nothing left running. */
tz_status tz_lanes_start(const tz_wd_config *cfg, tz_lanes **out, tz_error *err) TZ_WUR;

/* Queues `job` (ownership passes to the lanes, also on failure) and sets
 * *id. Returns TZ_ECANCEL when the daemon is stopping (the job is freed). */
tz_status tz_lanes_submit(tz_lanes *l, tz_job *job, long *id) TZ_WUR;

/* One job as JSON, or NULL when no job has that id (or it was forgotten:
 * the last 200 are kept). New reference. */
json_t *tz_lanes_job_json(tz_lanes *l, long id);

/* {"jobs":[...]}: the most recent jobs first (at most `limit`). */
json_t *tz_lanes_jobs_json(tz_lanes *l, size_t limit);

/* The daemon's state for GET /api/status (sync progress, last error,
 * queue, current job, wallet file summary). New reference. */
json_t *tz_lanes_status_json(tz_lanes *l);

/* Stops: new jobs are refused, queued jobs fail ("the daemon stopped"),
 * a running job gets up to 10 s to finish then is stopped, the sync child
 * gets SIGTERM and is waited for, our sentinel is removed. Blocks until
 * both threads ended. */
void tz_lanes_stop(tz_lanes *l);

/* Frees the lanes (after tz_lanes_stop). NULL is a no-op. */
void tz_lanes_free(tz_lanes *l);

#endif
