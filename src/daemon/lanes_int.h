/* Private to the lanes (lanes.c, lane_sync.c, lane_job.c): the state the
 * background sync lane and the slow job lane share under one mutex. */
#ifndef TZ_DAEMON_LANES_INT_H
#define TZ_DAEMON_LANES_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lanes.h"

#define JOBS_KEPT 200
#define WARNINGS_KEPT 8
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STOP_JOB_GRACE_MS 10000
/* How long a sync that got SIGTERM may take to save its prefix and exit
 * before it is killed (its lock is then stale and the next run recovers it). */
#define SYNC_KILL_GRACE_MS 10000

typedef enum {
    SYNC_STARTING,
    SYNC_RUNNING,
    SYNC_PAUSED,  /* a job is queued or running: the sync waits */
    SYNC_SYNCED,  /* at the head, waiting --interval-secs */
    SYNC_BACKOFF, /* after an error */
    SYNC_STOPPED,
} sync_state;

typedef struct warning {
    int64_t at;
    char *message;
} warning;

struct tz_lanes {
    const tz_wd_config *cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t sync_thread, job_thread;
    bool sync_started, job_started;
    bool stopping;

    /* background lane */
    sync_state state;
    pid_t sync_pid;          /* live sync child (unreaped), 0 when none */
    bool sync_running;
    bool sync_term_sent;     /* we SIGTERMed the sync child */
    int64_t next_sync_mono;  /* when the next run may start */
    int backoff_ms;
    long runs, yields;
    int64_t run_started_at, run_finished_at, synced_at;
    json_t *progress;        /* latest start/progress fields merged */
    json_t *last_result;     /* last sync envelope's result */
    char *last_error;
    int64_t last_error_at;
    char *last_line;         /* last non-JSON stderr line of the running sync */
    warning warnings[WARNINGS_KEPT];
    size_t nwarnings;

    /* slow lane */
    tz_job *queue_head, *queue_tail;
    size_t queue_len;
    tz_job *current;         /* being run by the job thread */
    pid_t job_pid;           /* its live child, 0 when none */
    long next_id;
    tz_job *history[JOBS_KEPT]; /* ring of every job known, oldest first */
    size_t nhistory;
};

/* Waits on cv (mu held) until the monotonic deadline (ms) or a signal. */
void tz_lanes_wait_until(tz_lanes *l, int64_t deadline_mono);

/* Records a warning (mu held); takes ownership of `message` (may be NULL). */
void tz_lanes_add_warning(tz_lanes *l, char *message);

/* Sets or clears (NULL) the last error (mu held). */
void tz_lanes_set_error(tz_lanes *l, const char *msg);

/* The sync lane's thread: runs `tzel-wallet sync` whenever no job waits. */
void *tz_lanes_sync_main(void *arg);

/* The job lane's thread: runs queued jobs one at a time, after the sync
 * yielded to the sentinel it raises. */
void *tz_lanes_job_main(void *arg);

#endif
