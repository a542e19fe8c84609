/* Runs `tzel-wallet` as a child process: argv exactly as given (never a
 * shell), stdin from /dev/null, stdout and stderr captured through pipes,
 * the daemon's environment inherited. The child gets SIGTERM if the thread
 * that started it (or the daemon) dies, so an orphan never keeps holding
 * the wallet lock. */
#ifndef TZ_DAEMON_RUNNER_H
#define TZ_DAEMON_RUNNER_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "base/buf.h"
#include "core/status.h"

typedef struct tz_run_opts {
    const char *bin;          /* path of the executable */
    char *const *argv;        /* NULL-terminated, argv[0] included */
    int timeout_ms;           /* 0: none; else SIGTERM then SIGKILL 3 s later */
    size_t stderr_cap;        /* bytes of raw stderr kept (0: 64 KiB) */
    /* Called on the runner's thread. on_start right after the child
     * exists; on_exit once it has exited but before it is reaped (a PID
     * recorded by on_start stays valid for kill() until on_exit returns);
     * on_line for every complete stderr line (without the newline). */
    void (*on_start)(void *ctx, pid_t pid);
    void (*on_exit)(void *ctx);
    void (*on_line)(void *ctx, const char *line);
    void *ctx;
} tz_run_opts;

typedef struct tz_run_result {
    int exit_code;        /* the child's exit status, -1 when killed by a signal */
    int term_signal;      /* the signal that ended it, 0 when it exited */
    bool timed_out;       /* the runner stopped it at timeout_ms */
    tz_buf out;           /* raw stdout (capped at 1 MiB) */
    tz_buf err;           /* raw stderr (capped at stderr_cap) */
    json_t *envelope;     /* stdout parsed as one JSON object, or NULL */
} tz_run_result;

/* Runs the child to completion and fills *res (zero it first; release with
 * tz_run_result_free, also after a failure). Returns TZ_OK once the child
 * ran, whatever its exit status; TZ_EIO when it could not be started
 * (missing executable, pipe or fork failure: the message says which);
 * TZ_ENOMEM. */
tz_status tz_run(const tz_run_opts *opts, tz_run_result *res, tz_error *err) TZ_WUR;

/* Releases the buffers and the envelope. */
void tz_run_result_free(tz_run_result *res);

#endif
