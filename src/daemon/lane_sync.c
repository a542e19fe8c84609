/* The background lane: runs `tzel-wallet --json sync` as a child whenever
 * no job is queued or running, follows its JSON-lines events for the
 * status (progress, checkpoints, warnings), and schedules the next run
 * (at once after a yield to our own job, after --interval-secs when synced,
 * with exponential backoff after an error). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/exit.h"
#include "guard.h"
#include "lanes_int.h"
#include "runner.h"

static void sync_on_start(void *ctx, pid_t pid)
{
    tz_lanes *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->sync_pid = pid;
    if (l->stopping) /* stop() ran between our check and the fork */
        kill(pid, SIGTERM);
    pthread_mutex_unlock(&l->mu);
}

static void sync_on_exit(void *ctx)
{
    tz_lanes *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->sync_pid = 0;
    pthread_mutex_unlock(&l->mu);
}

static void merge_fields(json_t *dst, json_t *src, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++) {
        json_t *v = json_object_get(src, keys[i]);
        if (v)
            json_object_set(dst, keys[i], v);
    }
}

static void sync_on_line(void *ctx, const char *line)
{
    tz_lanes *l = ctx;
    if (line[0] != '{') {
        if (!line[0])
            return;
        pthread_mutex_lock(&l->mu);
        free(l->last_line);
        l->last_line = strdup(line);
        pthread_mutex_unlock(&l->mu);
        return;
    }
    json_error_t je;
    json_t *ev = json_loads(line, JSON_DECODE_INT_AS_REAL, &je);
    const char *name = ev ? json_string_value(json_object_get(ev, "event")) : NULL;
    if (!name) {
        json_decref(ev);
        return;
    }
    static const char *const start_keys[] = {"scanned", "tree_size", "block", "checkpoint_every",
                                             "concurrency", "threads", NULL};
    static const char *const progress_keys[] = {"scanned", "tree_size", "found", "leaves_per_sec",
                                                "eta_secs", NULL};
    pthread_mutex_lock(&l->mu);
    if (!l->progress)
        l->progress = json_object();
    if (strcmp(name, "start") == 0 && l->progress) {
        merge_fields(l->progress, ev, start_keys);
        /* the cursor saved when the run starts is its first checkpoint */
        json_t *s = json_object_get(ev, "scanned");
        if (s)
            json_object_set(l->progress, "checkpoint", s);
        json_object_set_new(l->progress, "found", json_integer(0));
        json_object_set_new(l->progress, "leaves_per_sec", json_null());
        json_object_set_new(l->progress, "eta_secs", json_null());
    } else if (strcmp(name, "progress") == 0 && l->progress) {
        merge_fields(l->progress, ev, progress_keys);
    } else if (strcmp(name, "checkpoint") == 0 && l->progress) {
        json_t *s = json_object_get(ev, "scanned");
        if (s)
            json_object_set(l->progress, "checkpoint", s);
    } else if (strcmp(name, "stale_sentinel") == 0) {
        json_t *p = json_object_get(ev, "pid");
        char *m = NULL;
        if (json_is_number(p))
            m = (asprintf(&m, "sync removed a stale yield sentinel left by dead process %lld",
                          (long long)json_number_value(p)) < 0)
                    ? NULL
                    : m;
        else
            m = strdup("sync removed a stale yield sentinel");
        tz_lanes_add_warning(l, m);
    } else if (strcmp(name, "warning") == 0) {
        const char *m = json_string_value(json_object_get(ev, "message"));
        if (m)
            tz_lanes_add_warning(l, strdup(m));
    }
    pthread_mutex_unlock(&l->mu);
    json_decref(ev);
}

/* One `tzel-wallet sync` run; updates state and the next start time. */
static void run_sync_once(tz_lanes *l)
{
    const tz_wd_config *cfg = l->cfg;
    char timeout[24];
    snprintf(timeout, sizeof timeout, "%d", cfg->rpc_timeout_secs);
    char *argv[] = {(char *)cfg->wallet_bin, "-w", (char *)cfg->wallet_path, "--json", "sync",
                    cfg->rpc_timeout_secs ? "--rpc-timeout-secs" : NULL, timeout, NULL};
    tz_run_opts o = {.bin = cfg->wallet_bin,
                     .argv = argv,
                     .stderr_cap = 16u << 10,
                     .on_start = sync_on_start,
                     .on_exit = sync_on_exit,
                     .on_line = sync_on_line,
                     .ctx = l};
    tz_run_result r = {0};
    tz_error e = {0};
    tz_status st = tz_run(&o, &r, &e);

    pthread_mutex_lock(&l->mu);
    l->sync_running = false;
    l->run_finished_at = tz_wall_ms();
    free(l->last_line);
    l->last_line = NULL;
    json_t *result = r.envelope ? json_object_get(r.envelope, "result") : NULL;
    int64_t now = tz_mono_ms();
    if (st == TZ_OK && r.exit_code == 0 && result) {
        json_decref(l->last_result);
        l->last_result = json_incref(result);
        if (l->progress) {
            static const char *const keys[] = {"scanned", "tree_size", "found", "block", NULL};
            merge_fields(l->progress, result, keys);
        }
        l->backoff_ms = 0;
        if (json_is_true(json_object_get(result, "yielded"))) {
            l->yields++;
            if (l->queue_len || l->current) {
                /* Ours: restart as soon as the slow lane is empty. */
                l->next_sync_mono = now;
            } else {
                /* Someone else's sentinel: do not spin on it (each run
                 * still scans one batch), and say whose it is. */
                l->backoff_ms = BACKOFF_MIN_MS;
                l->next_sync_mono = now + BACKOFF_MIN_MS;
                l->state = SYNC_BACKOFF;
                json_t *to = json_object_get(result, "yielded_to_pid");
                char *m = NULL;
                int n = json_is_integer(to)
                            ? asprintf(&m,
                                       "the sync keeps yielding to process %lld, which raised %s.yield; "
                                       "it scans one batch per run until that process removes it",
                                       (long long)json_integer_value(to), cfg->wallet_path)
                            : asprintf(&m,
                                       "the sync keeps yielding to %s.yield, which holds no PID (a "
                                       "legacy sentinel?); remove it if no other daemon uses this "
                                       "wallet",
                                       cfg->wallet_path);
                tz_lanes_set_error(l, n >= 0 ? m : "the sync keeps yielding to another sentinel");
                free(n >= 0 ? m : NULL);
            }
        } else {
            l->synced_at = tz_wall_ms();
            l->next_sync_mono = now + (int64_t)cfg->interval_secs * 1000;
            l->state = SYNC_SYNCED;
            tz_lanes_set_error(l, NULL);
            if (l->progress) {
                json_object_set_new(l->progress, "eta_secs", json_integer(0));
            }
        }
    } else if (l->stopping || l->sync_term_sent) {
        /* We stopped it (shutdown, or it did not yield to a job in time):
         * not the sync's fault, no backoff. */
        l->next_sync_mono = now;
    } else {
        const char *code = NULL;
        char *msg;
        if (st)
            msg = strdup(e.msg);
        else
            msg = tz_job_explain(r.exit_code, r.term_signal, r.timed_out, 0, r.envelope, r.err.data,
                                 r.exit_code == TZ_EXIT_LOCKED ? tz_guard_lock_holder(cfg->wallet_path) : 0,
                                 &code);
        char *full = NULL;
        if (asprintf(&full, "sync failed: %s", msg ? msg : "unknown error") < 0)
            full = NULL;
        tz_lanes_set_error(l, full ? full : "sync failed");
        free(full);
        free(msg);
        l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (l->backoff_ms > BACKOFF_MAX_MS)
            l->backoff_ms = BACKOFF_MAX_MS;
        l->next_sync_mono = now + l->backoff_ms;
        l->state = SYNC_BACKOFF;
    }
    l->sync_term_sent = false;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    tz_run_result_free(&r);
}

void *tz_lanes_sync_main(void *arg)
{
    tz_lanes *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        if (l->queue_len || l->current) {
            if (l->state != SYNC_BACKOFF)
                l->state = SYNC_PAUSED;
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        if (tz_mono_ms() < l->next_sync_mono) {
            tz_lanes_wait_until(l, l->next_sync_mono);
            continue;
        }
        l->sync_running = true;
        l->state = SYNC_RUNNING;
        l->runs++;
        l->run_started_at = tz_wall_ms();
        pthread_mutex_unlock(&l->mu);
        run_sync_once(l);
        pthread_mutex_lock(&l->mu);
    }
    l->state = SYNC_STOPPED;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}
