/* Slow-lane job records (jobs.h): creation, JSON views, and the message a
 * person can act on for each way a `tzel-wallet` run can end. */
#include "jobs.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/exit.h"

#define MAX_ARGS 32
#define MAX_ARG_BYTES 4096

static const char *const allowed[] = {
    "receive", "deposit", "shield", "transfer", "send", "unshield", "withdraw", NULL,
};

bool tz_job_subcommand_allowed(const char *name)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(name, allowed[i]) == 0)
            return true;
    return false;
}

tz_job *tz_job_new(const char *kind, const char *const *args, size_t nargs)
{
    tz_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->kind = strdup(kind);
    j->args = calloc(nargs + 1, sizeof *j->args);
    if (!j->kind || !j->args)
        goto fail;
    for (size_t i = 0; i < nargs; i++)
        if (!(j->args[i] = strdup(args[i])))
            goto fail;
    j->exit_code = -1;
    return j;
fail:
    tz_job_free(j);
    return NULL;
}

static bool redirecting_option(const char *a)
{
    static const char *const opts[] = {"-w", "--wallet", "--rollup-node-url", "--json", NULL};
    for (size_t i = 0; opts[i]; i++) {
        size_t n = strlen(opts[i]);
        if (strncmp(a, opts[i], n) == 0 && (a[n] == '\0' || a[n] == '=' || opts[i][1] != '-'))
            return true;
    }
    return false;
}

tz_status tz_job_from_args_json(const json_t *args, tz_job **out, tz_error *err)
{
    if (!json_is_array(args) || json_array_size(args) == 0)
        return tz_error_set(err, TZ_EINVAL, "\"args\" must be a non-empty array of strings");
    size_t n = json_array_size(args);
    if (n > MAX_ARGS)
        return tz_error_set(err, TZ_EINVAL, "\"args\" has %zu entries; at most %d are accepted", n,
                            MAX_ARGS);
    const char *argv[MAX_ARGS];
    for (size_t i = 0; i < n; i++) {
        const json_t *a = json_array_get(args, i);
        if (!json_is_string(a))
            return tz_error_set(err, TZ_EINVAL, "\"args\"[%zu] is not a string", i);
        const char *s = json_string_value(a);
        size_t len = json_string_length(a);
        if (len != strlen(s) || len > MAX_ARG_BYTES)
            return tz_error_set(err, TZ_EINVAL, "\"args\"[%zu] holds a NUL or is too long", i);
        if (redirecting_option(s))
            return tz_error_set(err, TZ_EINVAL,
                                "\"args\"[%zu] (%s) is a global option; the daemon sets the wallet "
                                "and node itself",
                                i, s);
        argv[i] = s;
    }
    if (!tz_job_subcommand_allowed(argv[0])) {
        char list[256] = "";
        for (size_t i = 0; allowed[i]; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, allowed[i], sizeof list - strlen(list) - 1);
        }
        return tz_error_set(err, TZ_EINVAL,
                            "\"%s\" is not a subcommand the daemon runs as a job (allowed: %s)",
                            argv[0], list);
    }
    tz_job *j = tz_job_new("run", argv, n);
    if (!j)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    *out = j;
    return TZ_OK;
}

void tz_job_free(tz_job *j)
{
    if (!j)
        return;
    if (j->args)
        for (size_t i = 0; j->args[i]; i++)
            free(j->args[i]);
    free(j->args);
    free(j->kind);
    json_decref(j->result);
    free(j->error);
    free(j->error_code);
    free(j->stderr_text);
    free(j);
}

const char *tz_job_phase_name(tz_job_phase p)
{
    switch (p) {
    case TZ_JOB_QUEUED: return "queued";
    case TZ_JOB_WAITING: return "waiting-for-lock";
    case TZ_JOB_RUNNING: return "running";
    case TZ_JOB_DONE: return "done";
    case TZ_JOB_FAILED: return "failed";
    }
    return "unknown";
}

static json_t *ms_or_null(int64_t ms) { return ms ? json_integer(ms) : json_null(); }

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

json_t *tz_job_to_json(const tz_job *j)
{
    json_t *args = json_array();
    if (!args)
        return NULL;
    for (size_t i = 0; j->args[i]; i++)
        json_array_append_new(args, json_string(j->args[i]));
    json_t *o = json_pack("{s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:i, s:o, s:O, s:o, s:o, s:o}",
                          "id", (json_int_t)j->id, "kind", j->kind, "args", args, "phase",
                          tz_job_phase_name(j->phase), "queued_at", ms_or_null(j->queued_at),
                          "waiting_at", ms_or_null(j->waiting_at), "started_at",
                          ms_or_null(j->started_at), "finished_at", ms_or_null(j->finished_at),
                          "attempts", j->attempts, "exit_code",
                          j->attempts ? json_integer(j->exit_code) : json_null(), "result",
                          j->result ? j->result : json_null(), "error", str_or_null(j->error),
                          "error_code", str_or_null(j->error_code), "stderr",
                          str_or_null(j->stderr_text));
    return o;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
}

/* The CLI's own one-line message: the envelope's error.message, else the
 * last "error: ..." (or last non-JSON) line of stderr. */
static void cli_message(const json_t *envelope, const char *stderr_text, char *out, size_t cap)
{
    out[0] = '\0';
    const json_t *e = envelope ? json_object_get(envelope, "error") : NULL;
    const char *m = e ? json_string_value(json_object_get(e, "message")) : NULL;
    if (m) {
        snprintf(out, cap, "%s", m);
        return;
    }
    if (!stderr_text)
        return;
    const char *line = stderr_text, *best = NULL;
    size_t best_len = 0;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len && line[0] != '{') {
            if (!best || strncmp(line, "error: ", 7) == 0 || strncmp(best, "error: ", 7) != 0) {
                best = line;
                best_len = len;
            }
        }
        if (!end)
            break;
        line = end + 1;
    }
    if (best) {
        if (strncmp(best, "error: ", 7) == 0) {
            best += 7;
            best_len -= 7;
        }
        snprintf(out, cap, "%.*s", (int)best_len, best);
    }
}

char *tz_job_explain(int exit_code, int term_signal, bool timed_out, int timeout_secs,
                     const json_t *envelope, const char *stderr_text, long lock_holder,
                     const char **code)
{
    char msg[768];
    cli_message(envelope, stderr_text, msg, sizeof msg);
    const char *sep = msg[0] ? ": " : "";
    if (timed_out) {
        *code = "TIMEOUT";
        return fmt("tzel-wallet did not finish within %d s and was stopped; the wallet keeps its "
                   "last saved state, retry when the rollup node answers faster",
                   timeout_secs);
    }
    if (term_signal) {
        *code = "KILLED";
        return fmt("tzel-wallet was killed by signal %d (%s); the wallet keeps its last saved "
                   "state, retry the operation",
                   term_signal, strsignal(term_signal));
    }
    switch (exit_code) {
    case TZ_EXIT_OK:
        *code = "OK";
        return NULL;
    case TZ_EXIT_USAGE:
        *code = "USAGE";
        return fmt("tzel-wallet refused the arguments%s%s", sep, msg);
    case TZ_EXIT_WALLET:
        *code = "WALLET";
        return fmt("the wallet file cannot be used%s%s", sep, msg);
    case TZ_EXIT_LOCKED:
        *code = "LOCKED";
        if (lock_holder > 0)
            return fmt("the wallet is locked by process %ld; wait for it to finish or stop it, "
                       "then retry",
                       lock_holder);
        return fmt("the wallet is locked by another process%s%s", sep, msg);
    case TZ_EXIT_NETWORK:
        *code = "NETWORK";
        return fmt("the rollup node is unreachable%s%s; check that it is running and that the "
                   "wallet's rollup node URL is right",
                   sep, msg);
    case TZ_EXIT_CHAIN:
        *code = "CHAIN";
        return fmt("the rollup node's data failed verification%s%s", sep, msg);
    case TZ_EXIT_IO:
        *code = "IO";
        return fmt("a file could not be written%s%s; check free disk space and permissions", sep,
                   msg);
    case 127:
        if (!envelope) {
            *code = "EXEC";
            return fmt("tzel-wallet could not be executed%s%s", sep, msg);
        }
        /* fall through */
    default:
        *code = "FAILURE";
        return fmt("tzel-wallet failed (exit %d)%s%s", exit_code, sep, msg);
    }
}
