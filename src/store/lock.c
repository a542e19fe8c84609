#include "store/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/fsys.h"

#define LOCK_MAX_BYTES 4096
#define CREATE_ATTEMPTS 4

struct tz_lock {
    char *path;
};

const char *tz_lock_path(const tz_lock *l) { return l->path; }

tz_status tz_proc_starttime(pid_t pid, unsigned long long *out)
{
    char path[64], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    tz_status st = tz_read_file(path, LOCK_MAX_BYTES, &text, &len, NULL);
    if (st)
        return st == TZ_ENOTFOUND ? TZ_ENOTFOUND : TZ_EPARSE;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses,
     * so count fields from the last ')'; field 3 (state) comes next. */
    char *p = strrchr(text, ')');
    st = TZ_EPARSE;
    if (p) {
        p++;
        for (int field = 3; field <= 22; field++) {
            while (*p == ' ')
                p++;
            if (!*p)
                break;
            if (field == 22) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(p, &end, 10);
                if (end != p && errno == 0 && (*end == ' ' || *end == '\n' || !*end)) {
                    *out = v;
                    st = TZ_OK;
                }
                break;
            }
            while (*p && *p != ' ')
                p++;
        }
    }
    free(text);
    return st;
}

bool tz_pid_alive(pid_t pid, unsigned long long starttime_or_0)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno != EPERM)
        return false;
    if (starttime_or_0 == 0)
        return true;
    unsigned long long st;
    tz_status rc = tz_proc_starttime(pid, &st);
    if (rc == TZ_OK)
        return st == starttime_or_0;
    /* No start time to compare. If this system has no readable /proc we
     * cannot tell a recycled PID apart: keep the conservative answer (the
     * process exists). Otherwise the process vanished meanwhile. */
    unsigned long long self;
    if (tz_proc_starttime(getpid(), &self) != TZ_OK)
        return kill(pid, 0) == 0 || errno == EPERM;
    return false;
}

static bool parse_ull(const char **p, unsigned long long *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    unsigned long long v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (~0ull - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    *p = s;
    return true;
}

bool tz_parse_pid_line(const char *text, pid_t *pid, unsigned long long *starttime)
{
    const char *p = text;
    unsigned long long a, b = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (!parse_ull(&p, &a) || a == 0 || a > 0x7fffffffull)
        return false;
    if (*p == ' ' || *p == '\t') {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p >= '0' && *p <= '9' && !parse_ull(&p, &b))
            return false;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    if (*p != '\0' && *p != '\n')
        return false;
    *pid = (pid_t)a;
    *starttime = b;
    return true;
}

/* Writes our "<pid> <starttime>\n" into the freshly created lock. */
static tz_status write_owner(int fd, const char *path, tz_error *err)
{
    const tz_fsys *fs = tz_fsys_get();
    char line[64];
    unsigned long long start = 0;
    pid_t me = getpid();
    int n = tz_proc_starttime(me, &start) == TZ_OK
                ? snprintf(line, sizeof line, "%ld %llu\n", (long)me, start)
                : snprintf(line, sizeof line, "%ld\n", (long)me);
    if (tz_fsys_write_all(fd, line, (size_t)n) < 0)
        return tz_error_set(err, TZ_EIO, "write lock file %s: %s", path, strerror(errno));
    if (fs->fsync(fd) < 0)
        return tz_error_set(err, TZ_EIO, "fsync lock file %s: %s", path, strerror(errno));
    return TZ_OK;
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
    bool stale_removed = false;
    for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        int fd = fs->open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            st = write_owner(fd, path, err);
            int rc = fs->close(fd);
            if (!st && rc < 0)
                st = tz_error_set(err, TZ_EIO, "close lock file %s: %s", path, strerror(errno));
            if (st) {
                (void)fs->unlink(path);
                goto fail;
            }
            l->path = path;
            *out = l;
            return TZ_OK;
        }
        if (errno != EEXIST) {
            st = tz_error_set(err, TZ_EIO, "create lock file %s: %s", path, strerror(errno));
            goto fail;
        }
        char *text = NULL;
        size_t len;
        st = tz_read_file(path, LOCK_MAX_BYTES, &text, &len, err);
        if (st == TZ_ENOTFOUND)
            continue; /* released meanwhile: try again */
        if (st)
            goto fail;
        pid_t pid;
        unsigned long long start;
        if (!tz_parse_pid_line(text, &pid, &start)) {
            /* Being written right now, or foreign content: held, as the
             * reference reads it. */
            free(text);
            st = tz_error_set(err, TZ_ELOCKED,
                              "wallet is locked by another process: %s (the lock file holds no "
                              "valid PID; remove it if no wallet process is running)",
                              path);
            goto fail;
        }
        if (tz_pid_alive(pid, start) || stale_removed) {
            free(text);
            st = tz_error_set(err, TZ_ELOCKED, "wallet is locked by another process: %s (pid %ld)",
                              path, (long)pid);
            goto fail;
        }
        /* Stale: remove it once, but only if it still holds what we judged
         * (another process may have recovered it and locked meanwhile). */
        char *again = NULL;
        size_t alen;
        tz_status rs = tz_read_file(path, LOCK_MAX_BYTES, &again, &alen, NULL);
        bool same = rs == TZ_OK && alen == len && memcmp(again, text, len) == 0;
        free(again);
        free(text);
        stale_removed = true;
        if (same && fs->unlink(path) < 0 && errno != ENOENT) {
            st = tz_error_set(err, TZ_EIO, "remove stale lock file %s (pid %ld): %s", path,
                              (long)pid, strerror(errno));
            goto fail;
        }
    }
    st = tz_error_set(err, TZ_ELOCKED,
                      "wallet is locked by another process: %s (the lock file keeps changing)",
                      path);
fail:
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
    free(l->path);
    free(l);
}
