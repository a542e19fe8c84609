/* Wallet lock (stale PID, recycled PID, reference PID-only format, waits)
 * and the yield sentinel. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/fsys.h"
#include "store/lock.h"
#include "store/sentinel.h"
#include "tz_test_util.h"

static char dir[256], wallet[512], lockp[600], yieldp[600];

/* A PID that existed and is gone: a reaped child. */
static pid_t dead_pid(void)
{
    fflush(NULL);
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

/* A live child that sleeps until killed. */
static pid_t live_child(void)
{
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        for (;;)
            pause();
    }
    return p;
}

static void reap(pid_t p)
{
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_helpers(void)
{
    unsigned long long st = 0;
    CHECK(tz_proc_starttime(getpid(), &st) == TZ_OK && st > 0);
    CHECK(tz_pid_alive(getpid(), 0));
    CHECK(tz_pid_alive(getpid(), st));
    CHECK(!tz_pid_alive(getpid(), st + 1));
    CHECK(!tz_pid_alive(0, 0) && !tz_pid_alive(-1, 0));
    pid_t d = dead_pid();
    CHECK(!tz_pid_alive(d, 0));
    unsigned long long x;
    CHECK(tz_proc_starttime(d, &x) == TZ_ENOTFOUND);

    pid_t p;
    unsigned long long s;
    CHECK(tz_parse_pid_line("123\n", &p, &s) && p == 123 && s == 0);
    CHECK(tz_parse_pid_line("  77 9000\nrest", &p, &s) && p == 77 && s == 9000);
    CHECK(tz_parse_pid_line("42", &p, &s) && p == 42);
    CHECK(!tz_parse_pid_line("yield\n", &p, &s));
    CHECK(!tz_parse_pid_line("", &p, &s));
    CHECK(!tz_parse_pid_line("0\n", &p, &s));
    CHECK(!tz_parse_pid_line("-5\n", &p, &s));
    CHECK(!tz_parse_pid_line("12 ab\n", &p, &s));
    CHECK(!tz_parse_pid_line("12x\n", &p, &s));
    CHECK(!tz_parse_pid_line("99999999999\n", &p, &s));
}

static void test_lock_basic(void)
{
    tz_lock *l = NULL, *l2 = NULL;
    tz_error err = {0};
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    CHECK(l && !strcmp(tz_lock_path(l), lockp));
    /* "<pid> <starttime>\n" */
    unsigned long long st = 0;
    CHECK(tz_proc_starttime(getpid(), &st) == TZ_OK);
    char want[64];
    snprintf(want, sizeof want, "%ld %llu\n", (long)getpid(), st);
    char *t = tz_test_get_file(lockp);
    CHECK_MSG(t && !strcmp(t, want), "lock holds '%s'", t ? t : "(none)");
    free(t);

    /* Held by a live process (us): a second acquire fails naming the PID. */
    CHECK(tz_lock_acquire(wallet, &l2, &err) == TZ_ELOCKED);
    CHECK(l2 == NULL);
    char pidstr[32];
    snprintf(pidstr, sizeof pidstr, "pid %ld", (long)getpid());
    CHECK_MSG(strstr(err.msg, pidstr) && strstr(err.msg, lockp), "%s", err.msg);
    /* Exactly the reference's text, then the PID. */
    char exact[800];
    snprintf(exact, sizeof exact, "wallet is locked by another process: %s (pid %ld)", lockp,
             (long)getpid());
    CHECK_MSG(!strcmp(err.msg, exact), "%s", err.msg);
    /* Still ours after the failed attempt. */
    t = tz_test_get_file(lockp);
    CHECK(t && !strcmp(t, want));
    free(t);

    tz_lock_release(l);
    CHECK(!tz_test_exists(lockp));
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_OK);
    tz_lock_release(l);
    tz_lock_release(NULL);
}

static void test_lock_stale(void)
{
    tz_lock *l = NULL;
    tz_error err = {0};
    char line[64];
    unsigned long long mine = 0;
    CHECK(tz_proc_starttime(getpid(), &mine) == TZ_OK);

    /* Reference format, dead PID: recovered. */
    pid_t d = dead_pid();
    snprintf(line, sizeof line, "%ld\n", (long)d);
    tz_test_put_file(lockp, line, 0);
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    char *t = tz_test_get_file(lockp);
    char want[64];
    snprintf(want, sizeof want, "%ld %llu\n", (long)getpid(), mine);
    CHECK(t && !strcmp(t, want));
    free(t);
    tz_lock_release(l);
    l = NULL;

    /* Our format, dead PID with a start time: recovered. */
    snprintf(line, sizeof line, "%ld 12345\n", (long)dead_pid());
    tz_test_put_file(lockp, line, 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_OK);
    tz_lock_release(l);
    l = NULL;

    /* Live PID but another start time (a recycled PID): recovered. */
    pid_t c = live_child();
    unsigned long long cst = 0;
    CHECK(tz_proc_starttime(c, &cst) == TZ_OK);
    snprintf(line, sizeof line, "%ld %llu\n", (long)c, cst + 1);
    tz_test_put_file(lockp, line, 0);
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    tz_lock_release(l);
    l = NULL;

    /* Live PID with its real start time: held. */
    snprintf(line, sizeof line, "%ld %llu\n", (long)c, cst);
    tz_test_put_file(lockp, line, 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED);
    char pidstr[32];
    snprintf(pidstr, sizeof pidstr, "pid %ld", (long)c);
    CHECK_MSG(strstr(err.msg, pidstr), "%s", err.msg);

    /* Reference format, live PID: held, and the file is left alone. */
    snprintf(line, sizeof line, "%ld\n", (long)c);
    tz_test_put_file(lockp, line, 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED);
    CHECK_MSG(strstr(err.msg, pidstr), "%s", err.msg);
    t = tz_test_get_file(lockp);
    CHECK(t && !strcmp(t, line));
    free(t);
    reap(c);

    /* Content that is not a PID: held, as the reference reads it. */
    tz_test_put_file(lockp, "garbage\n", 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED);
    CHECK_MSG(strstr(err.msg, "no valid PID"), "%s", err.msg);
    {
        char pre[800];
        snprintf(pre, sizeof pre, "wallet is locked by another process: %s (", lockp);
        CHECK_MSG(!strncmp(err.msg, pre, strlen(pre)), "%s", err.msg);
    }
    tz_test_put_file(lockp, "", 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED);
    unlink(lockp);
}

static int fail_fsync(int fd)
{
    (void)fd;
    errno = EIO;
    return -1;
}

static void test_lock_io_failure(void)
{
    tz_fsys t = *tz_fsys_default();
    t.fsync = fail_fsync;
    tz_fsys_set(&t);
    tz_lock *l = NULL;
    tz_error err = {0};
    tz_status st = tz_lock_acquire(wallet, &l, &err);
    tz_fsys_set(NULL);
    CHECK(st == TZ_EIO && l == NULL);
    CHECK_MSG(strstr(err.msg, "fsync lock file"), "%s", err.msg);
    CHECK(!tz_test_exists(lockp)); /* no half-made lock left to wedge the wallet */
}

static void test_lock_wait(void)
{
    tz_error err = {0};
    tz_lock *l = NULL;
    /* A child holds the lock for ~300 ms, then releases it. */
    int pfd[2];
    CHECK(pipe(pfd) == 0);
    fflush(NULL);
    pid_t c = fork();
    if (c == 0) {
        tz_lock *cl = NULL;
        tz_error cerr;
        if (tz_lock_acquire(wallet, &cl, &cerr) != TZ_OK)
            _exit(3);
        if (write(pfd[1], "x", 1) != 1)
            _exit(4);
        struct timespec ts = {0, 300 * 1000000L};
        nanosleep(&ts, NULL);
        tz_lock_release(cl);
        _exit(0);
    }
    char b;
    CHECK(read(pfd[0], &b, 1) == 1);
    close(pfd[0]);
    close(pfd[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(tz_lock_acquire_wait(wallet, 0, &l, &err) == TZ_ELOCKED); /* one attempt */
    CHECK(ms_since(&t0) < 1500); /* no waiting (generous bound for loaded machines) */
    CHECK_MSG(tz_lock_acquire_wait(wallet, 5000, &l, &err) == TZ_OK, "%s", err.msg);
    long waited = ms_since(&t0);
    CHECK_MSG(waited >= 150 && waited < 10000, "waited %ld ms", waited);
    int status;
    waitpid(c, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    tz_lock_release(l);

    /* A holder that never leaves: the wait gives up after its timeout. */
    pid_t h = live_child();
    char line[32];
    snprintf(line, sizeof line, "%ld\n", (long)h);
    tz_test_put_file(lockp, line, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    l = NULL;
    CHECK(tz_lock_acquire_wait(wallet, 250, &l, &err) == TZ_ELOCKED);
    waited = ms_since(&t0);
    CHECK_MSG(waited >= 240 && waited < 10000, "waited %ld ms", waited);
    CHECK(l == NULL);
    reap(h);
    unlink(lockp);
}

/* Two processes racing: exactly one holds the lock at any time. */
static void test_lock_race(void)
{
    enum { KIDS = 4, ROUNDS = 25 };
    char counter[600];
    snprintf(counter, sizeof counter, "%s/inside", dir);
    unlink(counter);
    fflush(NULL);
    pid_t kids[KIDS];
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int r = 0; r < ROUNDS; r++) {
                tz_lock *l = NULL;
                tz_error e;
                if (tz_lock_acquire_wait(wallet, 20000, &l, &e) != TZ_OK)
                    _exit(3);
                /* Inside the lock, nobody else may be: O_EXCL marker. */
                int fd = open(counter, O_CREAT | O_EXCL | O_WRONLY, 0600);
                if (fd < 0)
                    _exit(4);
                close(fd);
                unlink(counter);
                tz_lock_release(l);
            }
            _exit(0);
        }
    }
    int ok = 1;
    for (int k = 0; k < KIDS; k++) {
        int status;
        waitpid(kids[k], &status, 0);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(ok);
    CHECK(!tz_test_exists(lockp));
}

static void test_sentinel(void)
{
    tz_error err = {0};
    tz_sentinel_state s;
    long pid;
    char line[64];

    CHECK(tz_sentinel_check(wallet, &s, &pid, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_NONE && pid == -1);

    /* Live PID (ours), with and without the start time. */
    unsigned long long st = 0;
    CHECK(tz_proc_starttime(getpid(), &st) == TZ_OK);
    CHECK(tz_sentinel_raise(wallet, getpid(), st, &err) == TZ_OK);
    snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), st);
    char *t = tz_test_get_file(yieldp);
    CHECK(t && !strcmp(t, line));
    free(t);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && pid == (long)getpid());
    CHECK(tz_test_exists(yieldp));
    snprintf(line, sizeof line, "%ld\n", (long)getpid());
    tz_test_put_file(yieldp, line, 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && pid == (long)getpid() && tz_test_exists(yieldp));

    /* Dead PID: removed, reported with that PID. */
    pid_t d = dead_pid();
    snprintf(line, sizeof line, "%ld\n", (long)d);
    tz_test_put_file(yieldp, line, 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_STALE_REMOVED && pid == (long)d);
    CHECK(!tz_test_exists(yieldp));

    /* Live PID, other start time (recycled): removed. */
    snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), st + 7);
    tz_test_put_file(yieldp, line, 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_STALE_REMOVED && pid == (long)getpid() && !tz_test_exists(yieldp));

    /* Not a PID: live, never removed. */
    tz_test_put_file(yieldp, "yield\n", 0);
    for (int i = 0; i < 2; i++) {
        CHECK(tz_sentinel_check(wallet, &s, &pid, &err) == TZ_OK);
        CHECK(s == TZ_SENTINEL_LIVE && pid == -1);
    }
    t = tz_test_get_file(yieldp);
    CHECK(t && !strcmp(t, "yield\n"));
    free(t);
    tz_test_put_file(yieldp, "", 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && pid == -1 && tz_test_exists(yieldp));

    /* Clear only removes a sentinel we own. */
    CHECK(tz_sentinel_clear(wallet, getpid(), &err) == TZ_EMISMATCH);
    CHECK(tz_test_exists(yieldp));
    CHECK(tz_sentinel_raise(wallet, 4242, 0, &err) == TZ_OK);
    t = tz_test_get_file(yieldp);
    CHECK(t && !strcmp(t, "4242\n"));
    free(t);
    CHECK(tz_sentinel_clear(wallet, getpid(), &err) == TZ_EMISMATCH);
    CHECK(tz_test_exists(yieldp));
    CHECK(tz_sentinel_clear(wallet, 4242, &err) == TZ_OK);
    CHECK(!tz_test_exists(yieldp));
    CHECK(tz_sentinel_clear(wallet, 4242, &err) == TZ_OK); /* absent: fine */
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "store-lock") != 0)
        return 2;
    snprintf(wallet, sizeof wallet, "%s/wallet.json", dir);
    snprintf(lockp, sizeof lockp, "%s.lock", wallet);
    snprintf(yieldp, sizeof yieldp, "%s.yield", wallet);
    test_helpers();
    test_lock_basic();
    test_lock_stale();
    test_lock_io_failure();
    test_lock_wait();
    test_lock_race();
    test_sentinel();
    tz_test_rmtree(dir);
    return tz_test_done("store_lock");
}
