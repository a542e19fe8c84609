#include "guard.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static tz_status read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TZ_ENOTFOUND : TZ_EIO;
    size_t n = 0;
    while (n + 1 < cap) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            close(fd);
            return TZ_EIO;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return TZ_OK;
}

tz_status tz_guard_proc_starttime(pid_t pid, unsigned long long *out)
{
    char path[64], text[4096];
    size_t len;
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    tz_status st = read_small(path, text, sizeof text, &len);
    if (st)
        return st == TZ_ENOTFOUND ? TZ_ENOTFOUND : TZ_EPARSE;
    /* The command name may hold spaces and ')': fields are counted from
     * the last ')', the state (field 3) coming next. */
    char *p = strrchr(text, ')');
    if (!p)
        return TZ_EPARSE;
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return TZ_EPARSE;
        if (field == 22) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p || errno)
                return TZ_EPARSE;
            *out = v;
            return TZ_OK;
        }
        while (*p && *p != ' ')
            p++;
    }
    return TZ_EPARSE;
}

bool tz_guard_pid_alive(pid_t pid, unsigned long long starttime_or_0)
{
    if (pid <= 0)
        return false;
    if (kill(pid, 0) != 0 && errno != EPERM)
        return false;
    if (!starttime_or_0)
        return true;
    unsigned long long st;
    if (tz_guard_proc_starttime(pid, &st) != TZ_OK)
        return false;
    return st == starttime_or_0;
}

bool tz_guard_parse_pid_line(const char *text, long *pid, unsigned long long *starttime)
{
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (errno || v <= 0 || v > INT_MAX)
        return false;
    unsigned long long s = 0;
    p = end;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p >= '0' && *p <= '9') {
        errno = 0;
        s = strtoull(p, &end, 10);
        if (errno)
            return false;
        p = end;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r')
        p++;
    if (*p && *p != '\n')
        return false;
    *pid = v;
    *starttime = s;
    return true;
}

static char *suffixed(const char *wallet_path, const char *suffix)
{
    size_t n = strlen(wallet_path) + strlen(suffix) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", wallet_path, suffix);
    return s;
}

static void fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

tz_status tz_guard_raise(const char *wallet_path, tz_error *err)
{
    tz_status st = TZ_OK;
    char *path = suffixed(wallet_path, ".yield");
    char *tmp = NULL;
    int fd = -1;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    unsigned long long start = 0;
    if (tz_guard_proc_starttime(getpid(), &start) != TZ_OK)
        start = 0;
    char line[64];
    int len = start ? snprintf(line, sizeof line, "%ld %llu\n", (long)getpid(), start)
                    : snprintf(line, sizeof line, "%ld\n", (long)getpid());
    /* The temp file sits next to the sentinel: rename is atomic there. */
    char *copy = strdup(path);
    if (!copy) {
        st = tz_error_set(err, TZ_ENOMEM, "out of memory");
        goto out;
    }
    size_t tn = strlen(path) + 64;
    tmp = malloc(tn);
    if (!tmp) {
        free(copy);
        st = tz_error_set(err, TZ_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, tn, "%s/.%s.tmp.%ld.%lld", dirname(copy), strrchr(path, '/') ? strrchr(path, '/') + 1 : path,
             (long)getpid(), (long long)tz_wd_mono_ms());
    free(copy);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        st = tz_error_set(err, TZ_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    ssize_t w;
    do
        w = write(fd, line, (size_t)len);
    while (w < 0 && errno == EINTR);
    if (w != len || fsync(fd) != 0) {
        st = tz_error_set(err, TZ_EIO, "cannot write %s: %s", tmp, w < 0 ? strerror(errno) : "short write");
        goto out;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        st = tz_error_set(err, TZ_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (rename(tmp, path) != 0) {
        st = tz_error_set(err, TZ_EIO, "cannot raise the yield sentinel %s: %s", path, strerror(errno));
        goto out;
    }
    fsync_dir_of(path);
out:
    if (fd >= 0)
        close(fd);
    if (st && tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    return st;
}

tz_status tz_guard_clear(const char *wallet_path, tz_error *err)
{
    char *path = suffixed(wallet_path, ".yield");
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    char text[256];
    size_t len;
    tz_status st = read_small(path, text, sizeof text, &len);
    if (st == TZ_ENOTFOUND) {
        st = TZ_OK;
        goto out;
    }
    if (st) {
        st = tz_error_set(err, TZ_EIO, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    long pid;
    unsigned long long start;
    if (!tz_guard_parse_pid_line(text, &pid, &start) || pid != (long)getpid()) {
        st = tz_error_set(err, TZ_EMISMATCH, "%s belongs to another process; left in place", path);
        goto out;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        st = tz_error_set(err, TZ_EIO, "cannot remove %s: %s", path, strerror(errno));
        goto out;
    }
    fsync_dir_of(path);
out:
    free(path);
    return st;
}

long tz_guard_lock_holder(const char *wallet_path)
{
    char *path = suffixed(wallet_path, ".lock");
    if (!path)
        return -1;
    char text[256];
    size_t len;
    tz_status st = read_small(path, text, sizeof text, &len);
    free(path);
    if (st == TZ_ENOTFOUND)
        return 0;
    if (st)
        return -1;
    long pid;
    unsigned long long start;
    if (!tz_guard_parse_pid_line(text, &pid, &start))
        return -1; /* being written, or foreign content: held */
    return tz_guard_pid_alive((pid_t)pid, start) ? pid : 0;
}

bool tz_guard_wait_lock_free(const char *wallet_path, int timeout_ms)
{
    int64_t deadline = tz_wd_mono_ms() + timeout_ms;
    char *copy = strdup(wallet_path);
    int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (ifd >= 0 && copy)
        inotify_add_watch(ifd, dirname(copy), IN_DELETE | IN_MOVED_FROM | IN_CREATE | IN_MOVED_TO);
    free(copy);
    bool free_now = false;
    int slept = 0;
    for (;;) {
        /* Watch first, then look: a removal between the two is not lost. */
        if (tz_guard_lock_holder(wallet_path) == 0) {
            free_now = true;
            break;
        }
        int64_t left = deadline - tz_wd_mono_ms();
        if (left <= 0)
            break;
        int wait = left < 1000 ? (int)left : 1000;
        if (ifd >= 0) {
            struct pollfd pf = {.fd = ifd, .events = POLLIN};
            if (poll(&pf, 1, wait) > 0) {
                char evbuf[4096];
                while (read(ifd, evbuf, sizeof evbuf) > 0)
                    ;
            }
        } else {
            /* No inotify: poll with backoff, 20 ms doubling to 1 s. */
            int step = 20 << (slept < 6 ? slept : 6);
            if (step > wait)
                step = wait;
            struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000L};
            nanosleep(&ts, NULL);
            slept++;
        }
    }
    if (ifd >= 0)
        close(ifd);
    return free_now;
}
