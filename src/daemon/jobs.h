/* Slow-lane jobs: one `tzel-wallet` run that needs the wallet lock, its
 * phase, timestamps, result and a message a person can act on. The queue
 * is in lanes.c, the thread that runs jobs in lane_job.c. */
#ifndef TZ_DAEMON_JOBS_H
#define TZ_DAEMON_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

typedef enum {
    TZ_JOB_QUEUED,
    TZ_JOB_WAITING, /* "waiting-for-lock" */
    TZ_JOB_RUNNING,
    TZ_JOB_DONE,
    TZ_JOB_FAILED,
} tz_job_phase;

typedef struct tz_job {
    long id;
    char *kind;           /* "receive", "deposit", "run" */
    char **args;          /* subcommand and its arguments, NULL-terminated */
    tz_job_phase phase;
    int64_t queued_at;    /* wall-clock ms; 0 when not reached */
    int64_t waiting_at;
    int64_t started_at;   /* last time the child was started */
    int64_t finished_at;
    int attempts;         /* child runs (a run refused with LOCKED is retried) */
    int exit_code;        /* last child's exit code, -1 when killed */
    json_t *result;       /* the child's envelope `result`, or NULL */
    char *error;          /* message for a person, or NULL */
    char *error_code;     /* "LOCKED", "NETWORK", "TIMEOUT", ... or NULL */
    char *stderr_text;    /* raw stderr of the last run, or NULL */
    struct tz_job *next;  /* queue link, owned by lanes */
} tz_job;

/* Subcommands a job may run: the mutating ones of tzel-wallet (the sync is
 * the background lane's). */
bool tz_job_subcommand_allowed(const char *name);

/* Builds a job of `kind` running `args` (copied; subcommand first).
 * Returns NULL when memory is short. Phase QUEUED, no timestamps. */
tz_job *tz_job_new(const char *kind, const char *const *args, size_t nargs);

/* Validates a JSON array of strings for the generic runner: 1..32 strings
 * of at most 4096 bytes without NUL, the first an allowed subcommand,
 * none of them a global option that would redirect the wallet or the node
 * (-w, --wallet, --rollup-node-url, --json). On success *out is a new job
 * of kind "run". Errors: TZ_EINVAL with a message for the HTTP client;
 * TZ_ENOMEM. */
tz_status tz_job_from_args_json(const json_t *args, tz_job **out, tz_error *err) TZ_WUR;

void tz_job_free(tz_job *j);

/* "queued", "waiting-for-lock", "running", "done", "failed". */
const char *tz_job_phase_name(tz_job_phase p);

/* The job as JSON (id, kind, args, phase, timestamps, attempts, exit_code,
 * result, error, error_code, stderr). New reference, NULL when memory is
 * short. */
json_t *tz_job_to_json(const tz_job *j);

/* A message a person can act on for a failed tzel-wallet run, from its
 * exit code (docs/json-output.md), the signal that killed it, whether the
 * daemon stopped it at its timeout, its envelope and its raw stderr.
 * `lock_holder` is the PID holding the wallet lock when known (else <= 0).
 * Sets *code to a short constant name. Returns a malloc'd string (NULL when
 * memory is short). */
char *tz_job_explain(int exit_code, int term_signal, bool timed_out, int timeout_secs,
                     const json_t *envelope, const char *stderr_text, long lock_holder,
                     const char **code);

#endif
