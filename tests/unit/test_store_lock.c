/* Wallet lock (stale PID, recycled PID, reference PID-only format, waits),
 * the yield sentinel, the ownership rule they share (store/pidfile.h), and
 * the reference's own parser run over every file we write. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/atomic.h"
#include "store/fsys.h"
#include "store/lock.h"
#include "store/pidfile.h"
#include "store/sentinel.h"
#include "tz_test_util.h"

static char dir[256], wallet[512], lockp[600], yieldp[600];

/* Sets the mtime of `path` to `t` plus `delta_ms` (atime likewise). */
static void set_mtime(const char *path, const struct timespec *t, long delta_ms)
{
    long long ns = (long long)t->tv_nsec + (long long)delta_ms * 1000000LL;
    struct timespec ts = {t->tv_sec + (time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    if (ts.tv_nsec < 0) {
        ts.tv_nsec += 1000000000L;
        ts.tv_sec--;
    }
    struct timespec both[2] = {ts, ts};
    CHECK_MSG(utimensat(AT_FDCWD, path, both, 0) == 0, "utimensat %s", path);
}

/* Writes `text` to `path` and backdates it `ms` before process `pid`
 * started: a file older than the process, as a recycled PID leaves. */
static void put_before_start(const char *path, const char *text, pid_t pid, long ms)
{
    struct timespec start;
    tz_test_put_file(path, text, 0);
    CHECK(tz_proc_start_wall(pid, &start) == TZ_OK);
    set_mtime(path, &start, -ms);
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
    pid_t d = tz_test_dead_pid();
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

    char buf[32];
    CHECK(tz_pid_file_format(buf, sizeof buf, 4242) == 5 && !strcmp(buf, "4242\n"));
    CHECK(tz_pid_file_format(buf, sizeof buf, 0) == -1);
    CHECK(tz_pid_file_format(buf, 3, 4242) == -1);
}

/* The wall-clock start time agrees with the clock read around a fork. */
static void test_start_wall(void)
{
    struct timespec before, after, start;
    clock_gettime(CLOCK_REALTIME, &before);
    pid_t c = tz_test_live_child();
    clock_gettime(CLOCK_REALTIME, &after);
    CHECK(tz_proc_start_wall(c, &start) == TZ_OK);
    double from_before = difftime(start.tv_sec, before.tv_sec) +
                         (double)(start.tv_nsec - before.tv_nsec) / 1e9;
    double to_after = difftime(after.tv_sec, start.tv_sec) +
                      (double)(after.tv_nsec - start.tv_nsec) / 1e9;
    /* Tick resolution (10 ms) and boot-time rounding: within a second. */
    CHECK_MSG(from_before > -1.0 && to_after > -1.0, "start %+.3f s after the fork began, "
              "%+.3f s before it returned", from_before, to_after);
    tz_test_reap(c);
    CHECK(tz_proc_start_wall(tz_test_dead_pid(), &start) == TZ_ENOTFOUND);
}

/* The rule itself: alive AND started no later than the file's mtime. */
static void test_owner_rule(void)
{
    pid_t c = tz_test_live_child();
    struct timespec start, now;
    CHECK(tz_proc_start_wall(c, &start) == TZ_OK);
    clock_gettime(CLOCK_REALTIME, &now);
    CHECK(tz_pid_file_owner(c, 0, &now) == TZ_PID_OWNER);
    CHECK(tz_pid_file_owner(c, 0, NULL) == TZ_PID_OWNER);
    struct timespec t = start;
    t.tv_sec -= 1; /* within the slack */
    CHECK(tz_pid_file_owner(c, 0, &t) == TZ_PID_OWNER);
    t.tv_sec = start.tv_sec - 3; /* beyond it: recycled */
    CHECK(tz_pid_file_owner(c, 0, &t) == TZ_PID_STARTED_AFTER);
    t.tv_sec = 0;
    CHECK(tz_pid_file_owner(c, 0, &t) == TZ_PID_STARTED_AFTER);
    /* A recorded start time (older form) decides instead of the mtime. */
    unsigned long long cst = 0;
    CHECK(tz_proc_starttime(c, &cst) == TZ_OK);
    CHECK(tz_pid_file_owner(c, cst, &t) == TZ_PID_OWNER);
    CHECK(tz_pid_file_owner(c, cst + 1, &now) == TZ_PID_OTHER_START);
    tz_test_reap(c);
    CHECK(tz_pid_file_owner(c, 0, &now) == TZ_PID_DEAD);
    CHECK(tz_pid_file_owner(0, 0, &now) == TZ_PID_DEAD);

    char why[160];
    CHECK(!strcmp(tz_pid_why(7, TZ_PID_STARTED_AFTER, "lock", why, sizeof why),
                  "pid 7 is alive but started after the lock was written (recycled PID)"));
    CHECK(!strcmp(tz_pid_why(7, TZ_PID_DEAD, "lock", why, sizeof why),
                  "pid 7 no longer exists"));
}

/* A file removed as stale must still be the one judged: the same bytes
 * rewritten later (a recycled PID recovering the lock for itself) are a
 * different file. */
static void test_recheck(void)
{
    tz_pid_file f;
    tz_error err = {0};
    char line[32];
    snprintf(line, sizeof line, "%ld\n", (long)getpid());
    tz_test_put_file(lockp, line, 0);
    struct timespec old = {1000000000, 0};
    set_mtime(lockp, &old, 0);
    CHECK(tz_pid_file_read(lockp, &f, &err) == TZ_OK);
    CHECK(f.has_pid && f.pid == getpid() && f.recorded_start == 0);
    CHECK(f.verdict == TZ_PID_STARTED_AFTER);
    CHECK(tz_pid_file_recheck(lockp, &f) == TZ_OK);
    set_mtime(lockp, &old, 5);
    CHECK(tz_pid_file_recheck(lockp, &f) == TZ_EMISMATCH);
    unlink(lockp);
    CHECK(tz_pid_file_recheck(lockp, &f) == TZ_ENOTFOUND);
    tz_pid_file_release(&f);
    CHECK(f.text == NULL);
    CHECK(tz_pid_file_read(lockp, &f, &err) == TZ_ENOTFOUND && f.text == NULL);
    tz_pid_file_release(&f);
}

static void test_lock_basic(void)
{
    tz_lock *l = NULL, *l2 = NULL;
    tz_error err = {0};
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    CHECK(l && !strcmp(tz_lock_path(l), lockp));
    CHECK(tz_lock_recovered(l) == NULL);
    /* "<pid>\n", the reference's format */
    char want[64];
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
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
    pid_t d = tz_test_dead_pid();
    snprintf(line, sizeof line, "%ld\n", (long)d);
    tz_test_put_file(lockp, line, 0);
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    char *t = tz_test_get_file(lockp);
    char want[64];
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    CHECK(t && !strcmp(t, want));
    free(t);
    char note[800];
    snprintf(note, sizeof note, "removed stale lock file %s: pid %ld no longer exists", lockp,
             (long)d);
    CHECK_MSG(l && tz_lock_recovered(l) && !strcmp(tz_lock_recovered(l), note), "note %s",
              l && tz_lock_recovered(l) ? tz_lock_recovered(l) : "(none)");
    tz_lock_release(l);
    l = NULL;

    /* Our format, dead PID with a start time: recovered. */
    snprintf(line, sizeof line, "%ld 12345\n", (long)tz_test_dead_pid());
    tz_test_put_file(lockp, line, 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_OK);
    tz_lock_release(l);
    l = NULL;

    /* Live PID but another start time (a recycled PID): recovered. */
    pid_t c = tz_test_live_child();
    unsigned long long cst = 0;
    CHECK(tz_proc_starttime(c, &cst) == TZ_OK);
    snprintf(line, sizeof line, "%ld %llu\n", (long)c, cst + 1);
    tz_test_put_file(lockp, line, 0);
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    CHECK_MSG(l && tz_lock_recovered(l) && strstr(tz_lock_recovered(l), "recycled PID"),
              "note %s", l && tz_lock_recovered(l) ? tz_lock_recovered(l) : "(none)");
    tz_lock_release(l);
    l = NULL;

    /* Reference format, live PID, but the process started after the lock
     * was written (a recycled PID): recovered, and the note says why. */
    snprintf(line, sizeof line, "%ld\n", (long)c);
    put_before_start(lockp, line, c, 60 * 1000);
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    snprintf(note, sizeof note,
             "removed stale lock file %s: pid %ld is alive but started after the lock was "
             "written (recycled PID)",
             lockp, (long)c);
    CHECK_MSG(l && tz_lock_recovered(l) && !strcmp(tz_lock_recovered(l), note), "note %s",
              l && tz_lock_recovered(l) ? tz_lock_recovered(l) : "(none)");
    t = tz_test_get_file(lockp);
    CHECK(t && !strcmp(t, want)); /* ours now */
    free(t);
    tz_lock_release(l);
    l = NULL;

    /* Reference format, live PID that started before the lock's mtime (up
     * to the slack): held, file untouched. */
    put_before_start(lockp, line, c, -5000);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED && l == NULL);
    put_before_start(lockp, line, c, 1000);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED && l == NULL);
    t = tz_test_get_file(lockp);
    CHECK(t && !strcmp(t, line));
    free(t);

    /* Live PID with its real start time: held (older form: the recorded
     * start time decides, whatever the mtime). */
    snprintf(line, sizeof line, "%ld %llu\n", (long)c, cst);
    tz_test_put_file(lockp, line, 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED);
    put_before_start(lockp, line, c, 60 * 1000);
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
    tz_test_reap(c);

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

/* The lock is created whole: a process killed right before the lock
 * appears leaves no lock (only a temp file the next holder sweeps), never
 * an empty one; an empty lock older than a few seconds (the reference's
 * create-then-write interrupted) is recovered, a fresh one is respected. */
static int crash_link(const char *a, const char *b)
{
    (void)a;
    (void)b;
    _exit(0);
}

static void test_lock_created_whole(void)
{
    unlink(lockp);
    pid_t c = fork();
    if (c == 0) {
        tz_fsys t = *tz_fsys_default();
        t.link = crash_link;
        tz_fsys_set(&t);
        tz_lock *l = NULL;
        tz_error e;
        _exit(tz_lock_acquire(wallet, &l, &e) == TZ_OK ? 3 : 4);
    }
    int status = 0;
    CHECK(c > 0 && waitpid(c, &status, 0) == c && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(!tz_test_exists(lockp)); /* killed before the link: no lock at all */
    tz_lock *l = NULL;
    tz_error err = {0};
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_OK && tz_lock_recovered(l) == NULL);
    char *text = tz_test_get_file(lockp);
    char want[32];
    snprintf(want, sizeof want, "%ld\n", (long)getpid());
    CHECK(text && !strcmp(text, want));
    free(text);
    tz_lock_release(l);

    /* An empty lock: held while fresh, stale once old. */
    tz_test_put_file(lockp, "", 0600);
    l = NULL;
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED && l == NULL);
    CHECK_MSG(strstr(err.msg, "holds no valid PID") != NULL, "%s", err.msg);
    struct timespec old[2] = {{time(NULL) - 60, 0}, {time(NULL) - 60, 0}};
    CHECK(utimensat(AT_FDCWD, lockp, old, 0) == 0);
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_OK && l != NULL);
    CHECK_MSG(l && tz_lock_recovered(l) && strstr(tz_lock_recovered(l), "is empty and older than"),
              "%s", l && tz_lock_recovered(l) ? tz_lock_recovered(l) : "(none)");
    tz_lock_release(l);
    /* Foreign content stays held however old it is. */
    tz_test_put_file(lockp, "someone else\n", 0600);
    CHECK(utimensat(AT_FDCWD, lockp, old, 0) == 0);
    l = NULL;
    CHECK(tz_lock_acquire(wallet, &l, &err) == TZ_ELOCKED && l == NULL);
    unlink(lockp);
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
    pid_t h = tz_test_live_child();
    char line[32];
    snprintf(line, sizeof line, "%ld\n", (long)h);
    tz_test_put_file(lockp, line, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    l = NULL;
    CHECK(tz_lock_acquire_wait(wallet, 250, &l, &err) == TZ_ELOCKED);
    waited = ms_since(&t0);
    CHECK_MSG(waited >= 240 && waited < 10000, "waited %ld ms", waited);
    CHECK(l == NULL);
    tz_test_reap(h);
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

    CHECK(tz_sentinel_check(wallet, &s, &pid, NULL, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_NONE && pid == -1);

    /* Live PID (ours), as raised ("<pid>\n") and in the older form with
     * the start time. */
    unsigned long long st = 0;
    tz_pid_verdict why = TZ_PID_DEAD;
    CHECK(tz_proc_starttime(getpid(), &st) == TZ_OK);
    CHECK(tz_sentinel_raise(wallet, getpid(), &err) == TZ_OK);
    snprintf(line, sizeof line, "%ld\n", (long)getpid());
    char *t = tz_test_get_file(yieldp);
    CHECK(t && !strcmp(t, line));
    free(t);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &why, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && pid == (long)getpid() && why == TZ_PID_OWNER);
    CHECK(tz_test_exists(yieldp));
    snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), st);
    tz_test_put_file(yieldp, line, 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, NULL, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && pid == (long)getpid() && tz_test_exists(yieldp));
    CHECK(tz_sentinel_raise(wallet, 0, &err) == TZ_EINVAL);

    /* Dead PID: removed, reported with that PID. */
    pid_t d = tz_test_dead_pid();
    snprintf(line, sizeof line, "%ld\n", (long)d);
    tz_test_put_file(yieldp, line, 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &why, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_STALE_REMOVED && pid == (long)d && why == TZ_PID_DEAD);
    CHECK(!tz_test_exists(yieldp));

    /* Live PID, other start time (recycled): removed. */
    snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), st + 7);
    tz_test_put_file(yieldp, line, 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &why, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_STALE_REMOVED && pid == (long)getpid() && !tz_test_exists(yieldp));
    CHECK(why == TZ_PID_OTHER_START);

    /* "<pid>\n" naming a live process that started after the sentinel was
     * written (recycled): removed, reported with that PID and why. */
    pid_t c = tz_test_live_child();
    snprintf(line, sizeof line, "%ld\n", (long)c);
    put_before_start(yieldp, line, c, 60 * 1000);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &why, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_STALE_REMOVED && pid == (long)c && why == TZ_PID_STARTED_AFTER);
    CHECK(!tz_test_exists(yieldp));
    /* ... and one that started before it was written: live, left alone. */
    tz_test_put_file(yieldp, line, 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, &why, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && pid == (long)c && why == TZ_PID_OWNER);
    put_before_start(yieldp, line, c, -3000);
    CHECK(tz_sentinel_check(wallet, &s, &pid, NULL, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && tz_test_exists(yieldp));
    tz_test_reap(c);
    unlink(yieldp);

    /* Not a PID: live, never removed. */
    tz_test_put_file(yieldp, "yield\n", 0);
    for (int i = 0; i < 2; i++) {
        CHECK(tz_sentinel_check(wallet, &s, &pid, NULL, &err) == TZ_OK);
        CHECK(s == TZ_SENTINEL_LIVE && pid == -1);
    }
    t = tz_test_get_file(yieldp);
    CHECK(t && !strcmp(t, "yield\n"));
    free(t);
    tz_test_put_file(yieldp, "", 0);
    CHECK(tz_sentinel_check(wallet, &s, &pid, NULL, &err) == TZ_OK);
    CHECK(s == TZ_SENTINEL_LIVE && pid == -1 && tz_test_exists(yieldp));

    /* Clear only removes a sentinel we own. */
    CHECK(tz_sentinel_clear(wallet, getpid(), &err) == TZ_EMISMATCH);
    CHECK(tz_test_exists(yieldp));
    CHECK(tz_sentinel_raise(wallet, 4242, &err) == TZ_OK);
    t = tz_test_get_file(yieldp);
    CHECK(t && !strcmp(t, "4242\n"));
    free(t);
    CHECK(tz_sentinel_clear(wallet, getpid(), &err) == TZ_EMISMATCH);
    CHECK(tz_test_exists(yieldp));
    CHECK(tz_sentinel_clear(wallet, 4242, &err) == TZ_OK);
    CHECK(!tz_test_exists(yieldp));
    CHECK(tz_sentinel_clear(wallet, 4242, &err) == TZ_OK); /* absent: fine */
}

/* The reference's reading of a lock or sentinel file: the whole content,
 * trimmed (Rust's str::trim; our files are ASCII, so its ASCII white
 * space), parsed as a u32 (Rust's u32::from_str: an optional '+', then
 * decimal digits only, no overflow). Returns 1 and sets *pid, or 0 where
 * the reference would not find a PID (and so hold the file forever). */
static int ref_parse(const char *text, uint32_t *pid)
{
    const char *b = text, *e = text + strlen(text);
    while (b < e && (*b == ' ' || (*b >= '\t' && *b <= '\r')))
        b++;
    while (e > b && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')))
        e--;
    if (b < e && *b == '+')
        b++;
    if (b == e)
        return 0;
    uint64_t v = 0;
    for (; b < e; b++) {
        if (*b < '0' || *b > '9')
            return 0;
        v = v * 10 + (uint64_t)(*b - '0');
        if (v > UINT32_MAX)
            return 0;
    }
    *pid = (uint32_t)v;
    return 1;
}

/* The reference's staleness test: /proc/<pid> does not exist. */
static int ref_stale(uint32_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%lu", (unsigned long)pid);
    return !tz_test_exists(path);
}

/* Every lock and sentinel file we write is one the reference can read. */
static void test_reference_reads_ours(void)
{
    uint32_t p = 0;
    /* The parser as encoded (checked on its own). */
    CHECK(ref_parse("42\n", &p) && p == 42);
    CHECK(ref_parse(" \t+7\r\n\n", &p) && p == 7);
    CHECK(ref_parse("4294967295", &p) && p == 4294967295u);
    CHECK(!ref_parse("4294967296\n", &p));
    CHECK(!ref_parse("", &p) && !ref_parse("\n", &p) && !ref_parse("-1\n", &p));
    CHECK(!ref_parse("yield\n", &p));
    CHECK(!ref_parse("123 456\n", &p)); /* the older two-field form: unreadable */

    tz_lock *l = NULL;
    tz_error err = {0};
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    char *t = tz_test_get_file(lockp);
    CHECK_MSG(t && ref_parse(t, &p) && p == (uint32_t)getpid() && !ref_stale(p),
              "lock holds '%s'", t ? t : "(none)");
    free(t);
    tz_lock_release(l);

    CHECK(tz_sentinel_raise(wallet, getpid(), &err) == TZ_OK);
    t = tz_test_get_file(yieldp);
    CHECK_MSG(t && ref_parse(t, &p) && p == (uint32_t)getpid() && !ref_stale(p),
              "sentinel holds '%s'", t ? t : "(none)");
    free(t);
    CHECK(tz_sentinel_clear(wallet, getpid(), &err) == TZ_OK);

    /* A lock left by a crashed holder: the reference finds it stale. */
    fflush(NULL);
    pid_t c = fork();
    if (c == 0) {
        tz_lock *cl = NULL;
        tz_error cerr;
        _exit(tz_lock_acquire(wallet, &cl, &cerr) == TZ_OK ? 0 : 3); /* never released */
    }
    int status;
    waitpid(c, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    t = tz_test_get_file(lockp);
    CHECK_MSG(t && ref_parse(t, &p) && p == (uint32_t)c && ref_stale(p), "crashed lock '%s'",
              t ? t : "(none)");
    free(t);
    /* ... and so do we. */
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    tz_lock_release(l);
}

/* A holder that exited but is not reaped yet (a zombie, as the children
 * of a killed daemon are until a lazy init reaps them) holds nothing: its
 * lock and sentinel are stale, its temp files swept. */
static void test_zombie_holder(void)
{
    fflush(NULL);
    pid_t z = fork();
    if (z == 0)
        _exit(0);
    /* Not waited for: a zombie until reaped below. */
    char state = 0;
    for (int i = 0; i < 500 && state != 'Z'; i++) {
        char path[64], *t = NULL;
        snprintf(path, sizeof path, "/proc/%ld/stat", (long)z);
        t = tz_test_get_file(path);
        char *p = t ? strrchr(t, ')') : NULL;
        state = p && p[1] == ' ' ? p[2] : 0;
        free(t);
        if (state != 'Z')
            usleep(2000);
    }
    CHECK_MSG(state == 'Z', "child %ld never became a zombie", (long)z);
    CHECK(kill(z, 0) == 0); /* it still "exists" for kill(2) */
    CHECK(!tz_pid_alive(z, 0));
    CHECK(tz_pid_file_owner(z, 0, NULL) == TZ_PID_DEAD);

    char line[64];
    tz_error err = {0};
    snprintf(line, sizeof line, "%ld\n", (long)z);
    tz_test_put_file(lockp, line, 0);
    tz_lock *l = NULL;
    CHECK_MSG(tz_lock_acquire(wallet, &l, &err) == TZ_OK, "%s", err.msg);
    CHECK(l && tz_lock_recovered(l));
    tz_lock_release(l);

    tz_test_put_file(yieldp, line, 0);
    tz_sentinel_state ss;
    long pid = 0;
    CHECK(tz_sentinel_check(wallet, &ss, &pid, NULL, &err) == TZ_OK &&
          ss == TZ_SENTINEL_STALE_REMOVED && pid == (long)z);
    CHECK(!tz_test_exists(yieldp));

    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/.wallet.json.lock.tmp.%ld.1.0", dir, (long)z);
    tz_test_put_file(tmp, line, 0);
    size_t removed = 0;
    CHECK(tz_atomic_sweep_stale(lockp, &removed, &err) == TZ_OK && removed == 1);
    CHECK(!tz_test_exists(tmp));
    waitpid(z, NULL, 0);
}

int main(void)
{
    if (tz_test_mkdtemp(dir, sizeof dir, "store-lock") != 0)
        return 2;
    snprintf(wallet, sizeof wallet, "%s/wallet.json", dir);
    snprintf(lockp, sizeof lockp, "%s.lock", wallet);
    snprintf(yieldp, sizeof yieldp, "%s.yield", wallet);
    test_helpers();
    test_start_wall();
    test_owner_rule();
    test_recheck();
    test_lock_basic();
    test_lock_stale();
    test_zombie_holder();
    test_lock_io_failure();
    test_lock_created_whole();
    test_lock_wait();
    test_lock_race();
    test_sentinel();
    test_reference_reads_ours();
    tz_test_rmtree(dir);
    return tz_test_done("store_lock");
}
