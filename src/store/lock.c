/* The wallet lock (lock.h): created whole with our PID, judged by the
 * shared PID-file rule (pidfile.h), a stale one removed once. */
#include "store/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/path.h"
#include "store/atomic.h"
#include "store/fsys.h"
#include "store/pidfile.h"

#define CREATE_ATTEMPTS 4
#define EMPTY_STALE_SECS 5

struct tz_lock {
    char *path;
    char *recovered; /* NULL, or why a stale lock was removed first */
};

const char *tz_lock_path(const tz_lock *l) { return l->path; }

const char *tz_lock_recovered(const tz_lock *l) { return l->recovered; }

/* Removes the stale lock `f` read from `path`, but only if it still is
 * that file (another process may have recovered it and locked meanwhile).
 * Sets *recovered to the sentence saying why when it was removed. Returns
 * TZ_OK (removed, or changed meanwhile: try again), TZ_EIO or TZ_ENOMEM. */
static tz_status remove_stale(const char *path, const tz_pid_file *f, char **recovered,
                              tz_error *err)
{
    if (tz_pid_file_recheck(path, f) != TZ_OK)
        return TZ_OK;
    if (tz_fsys_get()->unlink(path) < 0) {
        if (errno == ENOENT)
            return TZ_OK;
        return tz_error_set(err, TZ_EIO, "remove stale lock file %s (pid %ld): %s", path,
                            (long)f->pid, strerror(errno));
    }
    char why[160];
    if (f->has_pid)
        tz_pid_why(f->pid, f->verdict, "lock", why, sizeof why);
    else
        snprintf(why, sizeof why,
                 "it is empty and older than %d s (left by a process killed while creating it)",
                 EMPTY_STALE_SECS);
    if (asprintf(recovered, "removed stale lock file %s: %s", path, why) < 0) {
        *recovered = NULL;
        return tz_error_set(err, TZ_ENOMEM, "lock %s: out of memory", path);
    }
    return TZ_OK;
}

/* A lock file with nothing in it (blanks at most) whose mtime is older
 * than EMPTY_STALE_SECS: a creator (the reference creates the file, then
 * writes its PID; ours never shows an empty lock) died in between. */
static bool empty_and_old(const tz_pid_file *f)
{
    for (size_t i = 0; i < f->len; i++)
        if (f->text[i] != ' ' && f->text[i] != '\n' && f->text[i] != '\t' && f->text[i] != '\r')
            return false;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec - f->sb.st_mtim.tv_sec > EMPTY_STALE_SECS;
}

/* The lock file exists: judges it. Returns TZ_OK when creating it should
 * be tried again (it is gone, or was stale: then removed unless it changed
 * meanwhile, see remove_stale), TZ_ELOCKED when it is held (a stale lock
 * too once `*recovered` is set: a lock is removed at most once per
 * acquisition), or a read or remove error. */
static tz_status judge_existing(const char *path, char **recovered, tz_error *err)
{
    tz_pid_file f;
    tz_status st = tz_pid_file_read(path, &f, err);
    if (st == TZ_ENOTFOUND)
        return TZ_OK; /* released meanwhile: try again */
    if (st)
        return st;
    if (!f.has_pid && empty_and_old(&f) && !*recovered)
        st = remove_stale(path, &f, recovered, err);
    else if (!f.has_pid)
        /* Being written right now, or foreign content: held, as the
         * reference reads it. */
        st = tz_error_set(err, TZ_ELOCKED,
                          "wallet is locked by another process: %s (the lock file holds no "
                          "valid PID; remove it if no wallet process is running)",
                          path);
    else if (f.verdict == TZ_PID_OWNER || *recovered)
        st = tz_error_set(err, TZ_ELOCKED, "wallet is locked by another process: %s (pid %ld)",
                          path, (long)f.pid);
    else
        st = remove_stale(path, &f, recovered, err);
    tz_pid_file_release(&f);
    return st;
}

tz_status tz_lock_acquire(const char *wallet_path, tz_lock **out, tz_error *err)
{
    tz_status st = TZ_OK;
    tz_lock *l = calloc(1, sizeof *l);
    char *path = tz_path_companion(wallet_path, TZ_LOCK_SUFFIX);
    if (!l || !path) {
        free(l);
        free(path);
        return tz_error_set(err, TZ_ENOMEM, "lock %s: out of memory", wallet_path);
    }
    char line[32];
    int n = tz_pid_file_format(line, sizeof line, getpid());
    for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        /* Created whole or not at all: a kill never leaves an empty lock. */
        st = n < 0 ? tz_error_set(err, TZ_EIO, "lock %s: cannot format our PID", path)
                   : tz_atomic_create(path, line, (size_t)n, "lock file", err);
        if (st == TZ_OK) {
            l->path = path;
            *out = l;
            return TZ_OK;
        }
        if (st != TZ_EEXIST)
            goto fail;
        st = judge_existing(path, &l->recovered, err);
        if (st)
            goto fail;
    }
    st = tz_error_set(err, TZ_ELOCKED,
                      "wallet is locked by another process: %s (the lock file keeps changing)",
                      path);
fail:
    free(l->recovered);
    free(path);
    free(l);
    return st;
}

tz_status tz_lock_acquire_wait(const char *wallet_path, int timeout_ms, tz_lock **out,
                               tz_error *err)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long delay_ms = 20;
    for (;;) {
        tz_status st = tz_lock_acquire(wallet_path, out, err);
        if (st != TZ_ELOCKED)
            return st;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (timeout_ms <= 0 || elapsed >= timeout_ms)
            return st;
        long left = timeout_ms - elapsed;
        long d = delay_ms < left ? delay_ms : left;
        struct timespec ts = {d / 1000, (d % 1000) * 1000000};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
        if (delay_ms < 200)
            delay_ms *= 2;
        if (delay_ms > 200)
            delay_ms = 200;
    }
}

void tz_lock_release(tz_lock *l)
{
    if (!l)
        return;
    (void)tz_fsys_get()->unlink(l->path);
    free(l->recovered);
    free(l->path);
    free(l);
}
