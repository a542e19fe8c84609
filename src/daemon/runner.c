/* Child `tzel-wallet` runs (runner.h): fork and exec without a shell,
 * capped stdout/stderr capture, stderr lines handed over as they come,
 * the timeout's SIGTERM-then-SIGKILL, and the --json envelope parsed. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/proc.h"

#define OUT_CAP (1u << 20)
#define LINE_MAX_BYTES (64u << 10)
#define KILL_GRACE_MS 3000

/* Splits stderr into lines for on_line while keeping the raw text. */
typedef struct line_splitter {
    char *buf;
    size_t len;
    bool overflow;
} line_splitter;

static void feed_lines(const tz_run_opts *o, line_splitter *ls, const char *p, size_t n)
{
    if (!o->on_line)
        return;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\n') {
            if (ls->buf) {
                ls->buf[ls->len] = '\0';
                o->on_line(o->ctx, ls->buf);
            }
            ls->len = 0;
            ls->overflow = false;
            continue;
        }
        if (ls->overflow)
            continue;
        if (!ls->buf) {
            ls->buf = malloc(LINE_MAX_BYTES + 1);
            if (!ls->buf) {
                ls->overflow = true;
                continue;
            }
        }
        if (ls->len == LINE_MAX_BYTES) {
            ls->overflow = true; /* an overlong line is cut, not split */
            continue;
        }
        ls->buf[ls->len++] = c;
    }
}

static bool child_exited(pid_t pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
        return errno != EINTR;
    return si.si_pid == pid;
}

tz_status tz_run(const tz_run_opts *o, tz_run_result *res, tz_error *err)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, devnull = -1;
    tz_status st = TZ_OK;
    res->exit_code = -1;
    res->out.max = OUT_CAP;
    res->err.max = o->stderr_cap ? o->stderr_cap : (64u << 10);
    res->out.truncate = res->err.truncate = true;

    if (access(o->bin, X_OK) != 0)
        return tz_error_set(err, TZ_EIO, "cannot execute %s: %s", o->bin, strerror(errno));
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        st = tz_error_set(err, TZ_EIO, "cannot create pipes for %s: %s", o->bin, strerror(errno));
        goto out;
    }
    static const char exec_fail[] = "tzel-walletd: exec of tzel-wallet failed\n";
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        st = tz_error_set(err, TZ_EIO, "cannot start %s: fork: %s", o->bin, strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGPIPE, &dfl, NULL);
        if (dup2(devnull, 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errp[1], 2) < 0)
            _exit(127);
        close_range(3, ~0u, 0);
        execv(o->bin, o->argv);
        ssize_t w = write(2, exec_fail, sizeof exec_fail - 1);
        (void)w;
        _exit(127);
    }
    close(outp[1]);
    close(errp[1]);
    outp[1] = errp[1] = -1;
    if (o->on_start)
        o->on_start(o->ctx, pid);

    line_splitter ls = {0};
    int64_t start = tz_mono_ms();
    tz_term term = {0};
    if (o->timeout_ms > 0)
        tz_term_schedule(&term, start + o->timeout_ms, KILL_GRACE_MS);
    bool out_open = true, err_open = true;
    int64_t exited_at = -1;
    char chunk[16384];
    while (out_open || err_open) {
        struct pollfd pf[2];
        int n = 0;
        if (out_open)
            pf[n++] = (struct pollfd){.fd = outp[0], .events = POLLIN};
        if (err_open)
            pf[n++] = (struct pollfd){.fd = errp[0], .events = POLLIN};
        int r = poll(pf, (nfds_t)n, 200);
        if (r < 0 && errno != EINTR)
            break;
        for (int i = 0; r > 0 && i < n; i++) {
            if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got = read(pf[i].fd, chunk, sizeof chunk);
            if (got < 0 && errno == EINTR)
                continue;
            bool is_out = pf[i].fd == outp[0];
            if (got <= 0) {
                if (is_out)
                    out_open = false;
                else
                    err_open = false;
                continue;
            }
            if (is_out) {
                if (!tz_buf_append(&res->out, chunk, (size_t)got))
                    st = TZ_ENOMEM;
            } else {
                if (!tz_buf_append(&res->err, chunk, (size_t)got))
                    st = TZ_ENOMEM;
                feed_lines(o, &ls, chunk, (size_t)got);
            }
        }
        int64_t now = tz_mono_ms();
        if (tz_term_poll(&term, pid, now) == 1)
            res->timed_out = true;
        /* A grandchild holding our pipes must not keep us here once the
         * child itself is gone: drain for a moment, then stop reading. */
        if (exited_at < 0 && child_exited(pid))
            exited_at = now;
        if (exited_at >= 0 && now - exited_at > 500)
            break;
    }
    if (ls.len && ls.buf && o->on_line) {
        ls.buf[ls.len] = '\0';
        o->on_line(o->ctx, ls.buf);
    }
    free(ls.buf);
    {
        /* The child may outlive its pipes: keep enforcing the timeout until
         * it is gone, and only then tell the caller (on_exit) that its PID
         * is no longer ours to signal; it is not reaped yet. */
        while (!child_exited(pid)) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
            if (tz_term_poll(&term, pid, tz_mono_ms()) == 1)
                res->timed_out = true;
        }
        if (o->on_exit)
            o->on_exit(o->ctx);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status)) {
        res->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->exit_code = -1;
        res->term_signal = WTERMSIG(status);
    }
    if (res->out.len) {
        /* Integers as integers; only an amount beyond int64 (a u64 above
         * 2^63) makes us fall back to reals for the whole envelope. */
        json_error_t je;
        json_t *env = json_loadb(res->out.data, res->out.len, 0, &je);
        if (!env)
            env = json_loadb(res->out.data, res->out.len, JSON_DECODE_INT_AS_REAL, &je);
        if (env && json_is_object(env))
            res->envelope = env;
        else
            json_decref(env);
    }
    if (st == TZ_ENOMEM)
        tz_error_set(err, TZ_ENOMEM, "out of memory while reading the output of %s", o->bin);
    else
        st = TZ_OK;
out:
    if (devnull >= 0)
        close(devnull);
    for (int i = 0; i < 2; i++) {
        if (outp[i] >= 0)
            close(outp[i]);
        if (errp[i] >= 0)
            close(errp[i]);
    }
    return st;
}

void tz_run_result_free(tz_run_result *res)
{
    tz_buf_free(&res->out);
    tz_buf_free(&res->err);
    json_decref(res->envelope);
    res->envelope = NULL;
}
