#include "lanes.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/exit.h"
#include "base/proc.h"
#include "fast.h"
#include "guard.h"
#include "runner.h"

#define JOBS_KEPT 200
#define WARNINGS_KEPT 8
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STOP_JOB_GRACE_MS 10000

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

static void cv_wait_until_mono(tz_lanes *l, int64_t deadline_mono)
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

/* Called with mu held. */
static void add_warning(tz_lanes *l, char *message)
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

static void set_error(tz_lanes *l, const char *msg)
{
    free(l->last_error);
    l->last_error = msg ? strdup(msg) : NULL;
    l->last_error_at = msg ? tz_wall_ms() : 0;
}

/* ---- background lane ---------------------------------------------------- */

/* How long a sync that got SIGTERM may take to save its prefix and exit
 * before it is killed (its lock is then stale and the next run recovers it). */
#define SYNC_KILL_GRACE_MS 10000

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
        add_warning(l, m);
    } else if (strcmp(name, "warning") == 0) {
        const char *m = json_string_value(json_object_get(ev, "message"));
        if (m)
            add_warning(l, strdup(m));
    }
    pthread_mutex_unlock(&l->mu);
    json_decref(ev);
}

/* One `tzel-wallet sync` run; updates state and the next start time. */
static void run_sync_once(tz_lanes *l)
{
    const tz_wd_config *cfg = l->cfg;
    char *argv[] = {(char *)cfg->wallet_bin, "-w", (char *)cfg->wallet_path, "--json", "sync",
                    NULL};
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
                set_error(l, n >= 0 ? m : "the sync keeps yielding to another sentinel");
                free(n >= 0 ? m : NULL);
            }
        } else {
            l->synced_at = tz_wall_ms();
            l->next_sync_mono = now + (int64_t)cfg->interval_secs * 1000;
            l->state = SYNC_SYNCED;
            set_error(l, NULL);
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
        set_error(l, full ? full : "sync failed");
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

static void *sync_main(void *arg)
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
            cv_wait_until_mono(l, l->next_sync_mono);
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

/* ---- slow lane ---------------------------------------------------------- */

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
                add_warning(l, m);
        }
        cv_wait_until_mono(l, tz_mono_ms() + 200);
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
            add_warning(l, m);
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
    char **argv = calloc(nargs + 5, sizeof *argv);
    if (!argv) {
        error = strdup("out of memory");
        code = "FAILURE";
        goto out;
    }
    argv[0] = (char *)cfg->wallet_bin;
    argv[1] = "-w";
    argv[2] = (char *)cfg->wallet_path;
    argv[3] = "--json";
    for (size_t i = 0; i < nargs; i++)
        argv[4 + i] = j->args[i];

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
        add_warning(l, strdup(e.msg));
        pthread_mutex_unlock(&l->mu);
    }
    finish_job(l, j, ok, error, code);
}

static void *job_main(void *arg)
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

/* ---- public ------------------------------------------------------------- */

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
    int rc = pthread_create(&l->job_thread, NULL, job_main, l);
    if (rc == 0) {
        l->job_started = true;
        rc = pthread_create(&l->sync_thread, NULL, sync_main, l);
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
        cv_wait_until_mono(l, tz_mono_ms() + 100 < grace_end ? tz_mono_ms() + 100 : grace_end);
    if (l->current && l->job_pid > 0)
        kill(l->job_pid, SIGTERM);
    /* A sync that ignores SIGTERM must not keep the daemon from exiting. */
    while (l->sync_pid > 0 && tz_term_poll(&sync_term, l->sync_pid, tz_mono_ms()) != 2)
        cv_wait_until_mono(l, tz_mono_ms() + 100);
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
