/* The daemon's modules on their own: the child runner (capture, lines,
 * envelope, timeout escalation, exec failure), the bearer token file, the
 * yield guard's sentinel, and the explanation of every way a tzel-wallet
 * run can end. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/exit.h"
#include "guard.h"
#include "jobs.h"
#include "runner.h"
#include "net/token.h"
#include "tz_test_util.h"

static char dir[256];

static int n_lines;
static char last_line[256];
static pid_t started_pid;
static int exits;

static void on_line(void *ctx, const char *line)
{
    (void)ctx;
    n_lines++;
    snprintf(last_line, sizeof last_line, "%s", line);
}
static void on_start(void *ctx, pid_t pid)
{
    (void)ctx;
    started_pid = pid;
}
static void on_exit_cb(void *ctx)
{
    (void)ctx;
    exits++;
}

static tz_status run_sh(const char *script, int timeout_ms, tz_run_result *r)
{
    char *argv[] = {"sh", "-c", (char *)script, NULL};
    tz_run_opts o = {.bin = "/bin/sh", .argv = argv, .timeout_ms = timeout_ms, .stderr_cap = 64,
                     .on_start = on_start, .on_exit = on_exit_cb, .on_line = on_line};
    memset(r, 0, sizeof *r);
    n_lines = exits = 0;
    started_pid = 0;
    last_line[0] = '\0';
    tz_error err = {0};
    return tz_run(&o, r, &err);
}

static void test_runner(void)
{
    tz_run_result r;
    /* stdout parsed as the envelope, stderr lines delivered, exit status */
    CHECK(run_sh("echo '{\"command\":\"x\",\"result\":{\"n\":1}}'; echo one >&2; "
                 "printf 'two\\nthree' >&2; exit 5",
                 0, &r) == TZ_OK);
    CHECK(r.exit_code == 5 && r.term_signal == 0 && !r.timed_out);
    CHECK(r.envelope && json_integer_value(json_object_get(
                            json_object_get(r.envelope, "result"), "n")) == 1);
    CHECK_MSG(n_lines == 3 && !strcmp(last_line, "three"), "%d lines, last %s", n_lines,
              last_line);
    CHECK(started_pid > 0 && exits == 1);
    tz_run_result_free(&r);

    /* stderr is capped, the rest counted as dropped */
    CHECK(run_sh("i=0; while [ $i -lt 50 ]; do echo 0123456789 >&2; i=$((i+1)); done", 0, &r) ==
          TZ_OK);
    CHECK(r.err.len == 64 && r.err.dropped == 550 - 64 && r.exit_code == 0);
    CHECK(r.envelope == NULL);
    tz_run_result_free(&r);

    /* a timeout: SIGTERM, and SIGKILL for a child that ignores it */
    int64_t t0 = tz_mono_ms();
    CHECK(run_sh("sleep 30", 200, &r) == TZ_OK);
    CHECK(r.timed_out && r.exit_code == -1 && r.term_signal == SIGTERM);
    CHECK(tz_mono_ms() - t0 < 5000);
    tz_run_result_free(&r);
    t0 = tz_mono_ms();
    CHECK(run_sh("trap '' TERM; while :; do sleep 0.05; done", 200, &r) == TZ_OK);
    CHECK_MSG(r.timed_out && r.term_signal == SIGKILL, "signal %d", r.term_signal);
    int64_t took = tz_mono_ms() - t0;
    CHECK_MSG(took >= 3000 && took < 8000, "escalation took %lld ms", (long long)took);
    tz_run_result_free(&r);

    /* a missing executable is an error, not a run */
    char *argv[] = {"nope", NULL};
    tz_run_opts o = {.bin = "/nonexistent/tzel-wallet", .argv = argv};
    memset(&r, 0, sizeof r);
    tz_error err = {0};
    CHECK(tz_run(&o, &r, &err) == TZ_EIO && strstr(err.msg, "/nonexistent/tzel-wallet"));
    tz_run_result_free(&r);
}

static void test_token(void)
{
    char path[512], tok[TZ_TOKEN_HEX_LEN + 1], again[TZ_TOKEN_HEX_LEN + 1];
    snprintf(path, sizeof path, "%s/w.json" TZ_TOKEN_SUFFIX, dir);
    tz_error err = {0};
    CHECK(tz_token_load_or_create(path, tok, &err) == TZ_OK && strlen(tok) == 64);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
    CHECK(tz_token_load_or_create(path, again, &err) == TZ_OK && !strcmp(tok, again));
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    CHECK(tz_token_check(hdr, tok));
    hdr[strlen(hdr) - 1] ^= 1;
    CHECK(!tz_token_check(hdr, tok));
    CHECK(!tz_token_check(NULL, tok) && !tz_token_check("Bearer ", tok) &&
          !tz_token_check(tok, tok));
    /* readable by others: refused; not a token: refused */
    CHECK(chmod(path, 0644) == 0);
    CHECK(tz_token_load_or_create(path, again, &err) == TZ_EINVAL);
    tz_test_put_file(path, "not hex\n", 0600);
    CHECK(tz_token_load_or_create(path, again, &err) == TZ_EPARSE);
}

static void test_guard(void)
{
    char wallet[512], yield[600];
    snprintf(wallet, sizeof wallet, "%s/g.json", dir);
    snprintf(yield, sizeof yield, "%s.yield", wallet);
    tz_error err = {0};
    CHECK(tz_guard_raise(wallet, &err) == TZ_OK);
    char *text = tz_test_get_file(yield), want[32];
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    CHECK(text && !strcmp(text, want));
    free(text);
    CHECK(tz_guard_clear(wallet, &err) == TZ_OK && !tz_test_exists(yield));
    /* someone else's sentinel is left in place */
    tz_test_put_file(yield, "yield\n", 0600);
    CHECK(tz_guard_clear(wallet, &err) != TZ_OK && tz_test_exists(yield));
    unlink(yield);
    /* the lock holder: none, ours */
    CHECK(tz_guard_lock_holder(wallet) == 0);
    char lock[600];
    snprintf(lock, sizeof lock, "%s.lock", wallet);
    tz_test_put_file(lock, want, 0600);
    CHECK(tz_guard_lock_holder(wallet) == (long)getpid());
    CHECK(!tz_guard_wait_lock_free(wallet, 50));
    unlink(lock);
    CHECK(tz_guard_wait_lock_free(wallet, 50));
}

static void test_explain(void)
{
    static const struct {
        int exit_code;
        const char *code, *words;
    } cases[] = {
        {TZ_EXIT_USAGE, "USAGE", "refused the arguments"},
        {TZ_EXIT_WALLET, "WALLET", "wallet file cannot be used"},
        {TZ_EXIT_LOCKED, "LOCKED", "locked by another process"},
        {TZ_EXIT_NETWORK, "NETWORK", "rollup node is unreachable"},
        {TZ_EXIT_CHAIN, "CHAIN", "failed verification"},
        {TZ_EXIT_IO, "IO", "could not be written"},
        {1, "FAILURE", "failed (exit 1)"},
        {127, "EXEC", "could not be executed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *code = NULL;
        char *m = tz_job_explain(cases[i].exit_code, 0, false, 0, NULL, "error: boom\n", 0, &code);
        CHECK_MSG(m && code && !strcmp(code, cases[i].code) && strstr(m, cases[i].words),
                  "exit %d: %s %s", cases[i].exit_code, code ? code : "-", m ? m : "-");
        free(m);
    }
    const char *code = NULL;
    char *m = tz_job_explain(TZ_EXIT_LOCKED, 0, false, 0, NULL, NULL, 4242, &code);
    CHECK(m && strstr(m, "process 4242"));
    free(m);
    m = tz_job_explain(0, SIGKILL, false, 0, NULL, NULL, 0, &code);
    CHECK(m && !strcmp(code, "KILLED") && strstr(m, "signal 9"));
    free(m);
    m = tz_job_explain(-1, SIGTERM, true, 30, NULL, NULL, 0, &code);
    CHECK(m && !strcmp(code, "TIMEOUT") && strstr(m, "30 s"));
    free(m);
    m = tz_job_explain(0, 0, false, 0, NULL, NULL, 0, &code);
    CHECK(m == NULL && !strcmp(code, "OK"));
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "daemon") != 0)
        return 2;
    test_explain();
    test_token();
    test_guard();
    test_runner();
    tz_test_rmtree(dir);
    return tz_test_done("daemon");
}
