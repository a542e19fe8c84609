/* The daemon's two lanes, the shared part: their state under one mutex
 * (lanes_int.h), start and stop, job submission and history, and the
 * status JSON. The sync lane is lane_sync.c, the job lane lane_job.c. */
#include "lanes.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/proc.h"
#include "fast.h"
#include "guard.h"
#include "lanes_int.h"

static const char *state_name(sync_state s)
{
    switch (s) {
    case SYNC_STARTING: return "starting";
    case SYNC_RUNNING: return "syncing";
    case SYNC_PAUSED: return "paused";
    case SYNC_SYNCED: return "synced";
    case SYNC_BACKOFF: return "backoff";
    case SYNC_STOPPED: return "stopped";
    }
    return "unknown";
}

void tz_lanes_wait_until(tz_lanes *l, int64_t deadline_mono)
{
    int64_t left = deadline_mono - tz_mono_ms();
    if (left <= 0)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += left / 1000;
    ts.tv_nsec += (left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&l->cv, &l->mu, &ts);
}

void tz_lanes_add_warning(tz_lanes *l, char *message)
{
    if (!message)
        return;
    if (l->nwarnings == WARNINGS_KEPT) {
        free(l->warnings[0].message);
        memmove(&l->warnings[0], &l->warnings[1], (WARNINGS_KEPT - 1) * sizeof(warning));
        l->nwarnings--;
    }
    l->warnings[l->nwarnings++] = (warning){tz_wall_ms(), message};
}

void tz_lanes_set_error(tz_lanes *l, const char *msg)
{
    free(l->last_error);
    l->last_error = msg ? strdup(msg) : NULL;
    l->last_error_at = msg ? tz_wall_ms() : 0;
}

tz_status tz_lanes_start(const tz_wd_config *cfg, tz_lanes **out, tz_error *err)
{
    tz_lanes *l = calloc(1, sizeof *l);
    if (!l)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    l->cfg = cfg;
    l->next_id = 1;
    l->state = SYNC_STARTING;
    l->next_sync_mono = tz_mono_ms();
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&l->job_thread, NULL, tz_lanes_job_main, l);
    if (rc == 0) {
        l->job_started = true;
        rc = pthread_create(&l->sync_thread, NULL, tz_lanes_sync_main, l);
        if (rc == 0)
            l->sync_started = true;
    }
    if (rc != 0) {
        tz_lanes_stop(l);
        tz_lanes_free(l);
        return tz_error_set(err, TZ_EIO, "cannot start a thread: %s", strerror(rc));
    }
    *out = l;
    return TZ_OK;
}

/* Called with mu held: remembers j, forgetting the oldest finished job. */
static void remember(tz_lanes *l, tz_job *j)
{
    if (l->nhistory == JOBS_KEPT) {
        size_t victim = JOBS_KEPT;
        for (size_t i = 0; i < l->nhistory; i++)
            if (l->history[i]->phase == TZ_JOB_DONE || l->history[i]->phase == TZ_JOB_FAILED) {
                victim = i;
                break;
            }
        if (victim == JOBS_KEPT)
            return; /* all pending: cannot happen with the queue cap */
        tz_job_free(l->history[victim]);
        memmove(&l->history[victim], &l->history[victim + 1],
                (l->nhistory - victim - 1) * sizeof(tz_job *));
        l->nhistory--;
    }
    l->history[l->nhistory++] = j;
}

tz_status tz_lanes_submit(tz_lanes *l, tz_job *job, long *id)
{
    pthread_mutex_lock(&l->mu);
    if (l->stopping || l->queue_len >= JOBS_KEPT / 2) {
        bool stopping = l->stopping;
        pthread_mutex_unlock(&l->mu);
        tz_job_free(job);
        return stopping ? TZ_ECANCEL : TZ_ENOMEM;
    }
    job->id = l->next_id++;
    job->phase = TZ_JOB_QUEUED;
    job->queued_at = tz_wall_ms();
    job->next = NULL;
    if (l->queue_tail)
        l->queue_tail->next = job;
    else
        l->queue_head = job;
    l->queue_tail = job;
    l->queue_len++;
    remember(l, job);
    *id = job->id;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return TZ_OK;
}

json_t *tz_lanes_job_json(tz_lanes *l, long id)
{
    json_t *o = NULL;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < l->nhistory; i++)
        if (l->history[i]->id == id) {
            o = tz_job_to_json(l->history[i]);
            break;
        }
    pthread_mutex_unlock(&l->mu);
    return o;
}

json_t *tz_lanes_jobs_json(tz_lanes *l, size_t limit)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&l->mu);
    for (size_t i = l->nhistory; i-- > 0 && json_array_size(arr) < limit;)
        json_array_append_new(arr, tz_job_to_json(l->history[i]));
    pthread_mutex_unlock(&l->mu);
    return json_pack("{s:o}", "jobs", arr);
}

static json_t *num_or_null(json_t *o, const char *key)
{
    json_t *v = o ? json_object_get(o, key) : NULL;
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= 0 && d < 9007199254740992.0 && d == (double)(long long)d)
            return json_integer((json_int_t)d);
    }
    return v ? json_incref(v) : json_null();
}

json_t *tz_lanes_status_json(tz_lanes *l)
{
    json_t *wallet = tz_fast_wallet_file(l->cfg);
    pthread_mutex_lock(&l->mu);
    json_t *p = l->progress;
    if (wallet)
        json_object_set_new(wallet, "scanned", num_or_null(p, "checkpoint"));
    /* While a sync runs, its latest progress; otherwise the last cursor a
     * sync reported saved (the daemon never reads the wallet file: it
     * holds the master secret). */
    json_t *cursor = NULL;
    if ((l->sync_running || !json_object_get(p, "checkpoint")) && json_object_get(p, "scanned"))
        cursor = num_or_null(p, "scanned");
    else
        cursor = num_or_null(p, "checkpoint");
    json_t *tree = num_or_null(p, "tree_size");
    json_t *fraction = json_null();
    if (json_is_number(cursor) && json_is_number(tree) && json_number_value(tree) > 0) {
        double f = json_number_value(cursor) / json_number_value(tree);
        fraction = json_real(f > 1 ? 1 : f);
    } else if (json_is_number(cursor) && json_is_number(tree)) {
        fraction = json_real(1);
    }
    json_t *warnings = json_array();
    for (size_t i = 0; i < l->nwarnings; i++)
        json_array_append_new(warnings, json_pack("{s:I, s:s}", "at", (json_int_t)l->warnings[i].at,
                                                  "message", l->warnings[i].message));
    json_t *queued = json_array();
    for (tz_job *j = l->queue_head; j; j = j->next)
        json_array_append_new(queued, json_integer(j->id));
    int64_t next_in = l->next_sync_mono - tz_mono_ms();
    const char *state = state_name(l->state);
    if (l->state == SYNC_RUNNING && l->current)
        state = "yielding";
    if (l->stopping && l->state != SYNC_STOPPED)
        state = "stopping";
    json_t *o = json_pack(
        "{s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o, "
        "s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:b}",
        "wallet", l->cfg->wallet_path, "daemon_pid", (json_int_t)getpid(), "sync_state", state,
        "cursor", cursor, "tree_size", tree, "progress", fraction, "found", num_or_null(p, "found"),
        "leaves_per_sec", num_or_null(p, "leaves_per_sec"), "eta_secs", num_or_null(p, "eta_secs"),
        "block", num_or_null(p, "block"), "checkpoint", num_or_null(p, "checkpoint"), "last_error",
        l->last_error ? json_string(l->last_error) : json_null(), "last_error_at",
        l->last_error_at ? json_integer(l->last_error_at) : json_null(), "sync_runs",
        (json_int_t)l->runs, "sync_yields", (json_int_t)l->yields, "sync_pid",
        l->sync_pid ? json_integer(l->sync_pid) : json_null(), "synced_at",
        l->synced_at ? json_integer(l->synced_at) : json_null(), "next_sync_in_ms",
        (!l->sync_running && l->state != SYNC_PAUSED && !l->stopping)
            ? json_integer(next_in > 0 ? next_in : 0)
            : json_null(),
        "last_sync", l->last_result ? json_incref(l->last_result) : json_null(), "warnings",
        warnings, "queue_length", (json_int_t)l->queue_len, "queued", queued, "current_job",
        l->current ? tz_job_to_json(l->current) : json_null(), "wallet_file",
        wallet ? wallet : json_null(), "last_output",
        l->last_line ? json_string(l->last_line) : json_null(), "accepting_jobs", !l->stopping);
    pthread_mutex_unlock(&l->mu);
    return o;
}

void tz_lanes_stop(tz_lanes *l)
{
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    /* Queued jobs will not run. */
    while (l->queue_head) {
        tz_job *j = l->queue_head;
        l->queue_head = j->next;
        j->next = NULL;
        j->phase = TZ_JOB_FAILED;
        j->finished_at = tz_wall_ms();
        free(j->error);
        j->error = strdup("the daemon stopped before this job could run; submit it again");
        free(j->error_code);
        j->error_code = strdup("STOPPED");
    }
    l->queue_tail = NULL;
    l->queue_len = 0;
    tz_term sync_term = {0};
    tz_term_schedule(&sync_term, tz_mono_ms(), SYNC_KILL_GRACE_MS);
    tz_term_poll(&sync_term, l->sync_pid, tz_mono_ms());
    pthread_cond_broadcast(&l->cv);
    /* A running job gets a moment to finish: its command may be
     * mid-way through saving the wallet. */
    int64_t grace_end = tz_mono_ms() + STOP_JOB_GRACE_MS;
    while (l->current && tz_mono_ms() < grace_end)
        tz_lanes_wait_until(l, tz_mono_ms() + 100 < grace_end ? tz_mono_ms() + 100 : grace_end);
    if (l->current && l->job_pid > 0)
        kill(l->job_pid, SIGTERM);
    /* A sync that ignores SIGTERM must not keep the daemon from exiting. */
    while (l->sync_pid > 0 && tz_term_poll(&sync_term, l->sync_pid, tz_mono_ms()) != 2)
        tz_lanes_wait_until(l, tz_mono_ms() + 100);
    pthread_mutex_unlock(&l->mu);
    if (l->sync_started)
        pthread_join(l->sync_thread, NULL);
    if (l->job_started)
        pthread_join(l->job_thread, NULL);
    l->sync_started = l->job_started = false;
    tz_error e;
    if (tz_guard_clear(l->cfg->wallet_path, &e) != TZ_OK)
        (void)e; /* someone else's sentinel: not ours to remove */
}

void tz_lanes_free(tz_lanes *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->nhistory; i++)
        tz_job_free(l->history[i]);
    for (size_t i = 0; i < l->nwarnings; i++)
        free(l->warnings[i].message);
    json_decref(l->progress);
    json_decref(l->last_result);
    free(l->last_error);
    free(l->last_line);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

