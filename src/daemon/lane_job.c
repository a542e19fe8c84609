/* The slow lane: runs queued jobs (receive, deposit, ...) one at a time as
 * `tzel-wallet --json <args>` children. Before each, it raises the yield
 * sentinel and waits for the sync child to go (SIGTERM, then SIGKILL, when
 * it does not yield in time), then waits for the wallet lock to be free,
 * retrying a child that still finds it held until the lock timeout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/exit.h"
#include "base/proc.h"
#include "guard.h"
#include "lanes_int.h"
#include "runner.h"

static void job_on_start(void *ctx, pid_t pid)
{
    tz_lanes *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->job_pid = pid;
    if (l->current) {
        l->current->phase = TZ_JOB_RUNNING;
        l->current->started_at = tz_wall_ms();
        l->current->attempts++;
    }
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static void job_on_exit(void *ctx)
{
    tz_lanes *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->job_pid = 0;
    pthread_mutex_unlock(&l->mu);
}

static void finish_job(tz_lanes *l, tz_job *j, bool ok, char *error, const char *code)
{
    pthread_mutex_lock(&l->mu);
    j->phase = ok ? TZ_JOB_DONE : TZ_JOB_FAILED;
    j->finished_at = tz_wall_ms();
    free(j->error);
    j->error = error;
    free(j->error_code);
    j->error_code = code ? strdup(code) : NULL;
    pthread_mutex_unlock(&l->mu);
}

/* Waits (mu held) until no sync child runs. If it has not yielded after
 * the yield timeout, SIGTERMs it: its saves are atomic, so the wallet keeps
 * its last checkpoint. */
static void wait_sync_gone(tz_lanes *l)
{
    tz_term term = {0};
    /* SIGKILL when it ignores SIGTERM (e.g. stuck in a trickling read). */
    tz_term_schedule(&term, tz_mono_ms() + (int64_t)l->cfg->yield_timeout_secs * 1000,
                     SYNC_KILL_GRACE_MS);
    while (l->sync_running) {
        if (tz_term_poll(&term, l->sync_pid, tz_mono_ms()) == 1) {
            l->sync_term_sent = true;
            char *m = NULL;
            if (asprintf(&m, "the sync did not yield within %d s; it was stopped so a job could run",
                         l->cfg->yield_timeout_secs) >= 0)
                tz_lanes_add_warning(l, m);
        }
        tz_lanes_wait_until(l, tz_mono_ms() + 200);
    }
}

static void run_job(tz_lanes *l, tz_job *j)
{
    const tz_wd_config *cfg = l->cfg;
    tz_error e = {0};
    bool raised = false;
    char *error = NULL;
    const char *code = NULL;
    bool ok = false;

    if (tz_guard_raise(cfg->wallet_path, &e) != TZ_OK) {
        /* Without a sentinel the sync would not yield; the job can still
         * run once the sync run ends, so carry on and say so. */
        pthread_mutex_lock(&l->mu);
        char *m = NULL;
        if (asprintf(&m, "could not raise the yield sentinel (%s); job %ld waits for the sync run "
                         "to end",
                     e.msg, j->id) >= 0)
            tz_lanes_add_warning(l, m);
        pthread_mutex_unlock(&l->mu);
    } else {
        raised = true;
    }

    pthread_mutex_lock(&l->mu);
    j->phase = TZ_JOB_WAITING; /* the sentinel is up (or could not be raised) */
    j->waiting_at = tz_wall_ms();
    wait_sync_gone(l);
    bool stop = l->stopping;
    pthread_mutex_unlock(&l->mu);
    if (stop) {
        error = strdup("the daemon stopped before this job could run; submit it again");
        code = "STOPPED";
        goto out;
    }

    size_t nargs = 0;
    while (j->args[nargs])
        nargs++;
    char **argv = calloc(nargs + 11, sizeof *argv);
    if (!argv) {
        error = strdup("out of memory");
        code = "FAILURE";
        goto out;
    }
    size_t n = 0;
    argv[n++] = (char *)cfg->wallet_bin;
    argv[n++] = "-w";
    argv[n++] = (char *)cfg->wallet_path;
    argv[n++] = "--json";
    /* the daemon's prover settings, before the command: a job's own
     * options after it still win */
    const char *prover[][2] = {{"--reprove-bin", cfg->reprove_bin},
                               {"--executables-dir", cfg->executables_dir},
                               {"--proving-service-url", cfg->proving_service_url}};
    for (size_t k = 0; k < 3; k++)
        if (prover[k][1]) {
            argv[n++] = (char *)prover[k][0];
            argv[n++] = (char *)prover[k][1];
        }
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = j->args[i];

    int64_t deadline = tz_mono_ms() + (int64_t)cfg->lock_timeout_secs * 1000;
    int backoff = 50;
    for (;;) {
        /* Sleep until the lock has no live holder (inotify on the folder),
         * then let the child's own lock acquisition decide. */
        for (;;) {
            pthread_mutex_lock(&l->mu);
            stop = l->stopping;
            pthread_mutex_unlock(&l->mu);
            int64_t left = deadline - tz_mono_ms();
            if (stop || left <= 0 ||
                tz_guard_wait_lock_free(cfg->wallet_path, left < 1000 ? (int)left : 1000))
                break;
        }
        if (stop) {
            error = strdup("the daemon stopped before this job could run; submit it again");
            code = "STOPPED";
            break;
        }
        tz_run_opts o = {.bin = cfg->wallet_bin,
                         .argv = argv,
                         .timeout_ms = cfg->job_timeout_secs * 1000,
                         .on_start = job_on_start,
                         .on_exit = job_on_exit,
                         .ctx = l};
        tz_run_result r = {0};
        tz_status st = tz_run(&o, &r, &e);
        long holder = r.exit_code == TZ_EXIT_LOCKED ? tz_guard_lock_holder(cfg->wallet_path) : 0;
        bool retry = st == TZ_OK && r.exit_code == TZ_EXIT_LOCKED && tz_mono_ms() < deadline;
        pthread_mutex_lock(&l->mu);
        free(j->stderr_text);
        j->stderr_text = r.err.data ? strdup(r.err.data) : NULL;
        j->exit_code = r.exit_code;
        json_decref(j->result);
        j->result = NULL;
        json_t *res = r.envelope ? json_object_get(r.envelope, "result") : NULL;
        if (res)
            j->result = json_incref(res);
        if (retry && !l->stopping)
            j->phase = TZ_JOB_WAITING;
        else
            retry = false;
        pthread_mutex_unlock(&l->mu);
        if (retry) {
            tz_run_result_free(&r);
            struct timespec ts = {0, (long)backoff * 1000000L};
            nanosleep(&ts, NULL);
            backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
            continue;
        }
        if (st) {
            error = strdup(e.msg);
            code = "EXEC";
        } else if (r.exit_code == 0 && !r.term_signal && !r.timed_out) {
            ok = true;
        } else {
            error = tz_job_explain(r.exit_code, r.term_signal, r.timed_out, cfg->job_timeout_secs,
                                   r.envelope, r.err.data, holder, &code);
        }
        tz_run_result_free(&r);
        break;
    }
    free(argv);
out:
    if (raised && tz_guard_clear(cfg->wallet_path, &e) != TZ_OK) {
        pthread_mutex_lock(&l->mu);
        tz_lanes_add_warning(l, strdup(e.msg));
        pthread_mutex_unlock(&l->mu);
    }
    finish_job(l, j, ok, error, code);
}

void *tz_lanes_job_main(void *arg)
{
    tz_lanes *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stopping && !l->queue_head)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stopping)
            break;
        tz_job *j = l->queue_head;
        l->queue_head = j->next;
        if (!l->queue_head)
            l->queue_tail = NULL;
        l->queue_len--;
        j->next = NULL;
        l->current = j; /* from here on the sync does not start */
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);

        run_job(l, j);

        pthread_mutex_lock(&l->mu);
        l->current = NULL;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}
