#include "store/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/fsys.h"
#include "store/pidfile.h"

#define CREATE_ATTEMPTS 4

struct tz_lock {
    char *path;
    char *recovered; /* NULL, or why a stale lock was removed first */
};

const char *tz_lock_path(const tz_lock *l) { return l->path; }

const char *tz_lock_recovered(const tz_lock *l) { return l->recovered; }

/* Writes our "<pid>\n" into the freshly created lock, fsyncs and closes
 * it; removes it again on failure. */
static tz_status finish_create(int fd, const char *path, tz_error *err)
{
    const tz_fsys *fs = tz_fsys_get();
    char line[32];
    int n = tz_pid_file_format(line, sizeof line, getpid());
    tz_status st = TZ_OK;
    if (n < 0 || tz_fsys_write_all(fd, line, (size_t)n) < 0)
        st = tz_error_set(err, TZ_EIO, "write lock file %s: %s", path, strerror(errno));
    else if (fs->fsync(fd) < 0)
        st = tz_error_set(err, TZ_EIO, "fsync lock file %s: %s", path, strerror(errno));
    int rc = fs->close(fd);
    if (!st && rc < 0)
        st = tz_error_set(err, TZ_EIO, "close lock file %s: %s", path, strerror(errno));
    if (st)
        (void)fs->unlink(path);
    return st;
}

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
    tz_pid_why(f->pid, f->verdict, "lock", why, sizeof why);
    if (asprintf(recovered, "removed stale lock file %s: %s", path, why) < 0) {
        *recovered = NULL;
        return tz_error_set(err, TZ_ENOMEM, "lock %s: out of memory", path);
    }
    return TZ_OK;
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
    if (!f.has_pid)
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
    const tz_fsys *fs = tz_fsys_get();
    tz_status st = TZ_OK;
    size_t plen = strlen(wallet_path) + sizeof ".lock";
    tz_lock *l = calloc(1, sizeof *l);
    char *path = malloc(plen);
    if (!l || !path) {
        free(l);
        free(path);
        return tz_error_set(err, TZ_ENOMEM, "lock %s: out of memory", wallet_path);
    }
    snprintf(path, plen, "%s.lock", wallet_path);
    for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        int fd = fs->open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            st = finish_create(fd, path, err);
            if (st)
                goto fail;
            l->path = path;
            *out = l;
            return TZ_OK;
        }
        if (errno != EEXIST) {
            st = tz_error_set(err, TZ_EIO, "create lock file %s: %s", path, strerror(errno));
            goto fail;
        }
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
