/* The daemon's yield guard (guard.h): raising and clearing `<wallet>.yield`
 * for a job, waiting for the wallet lock to be free, and naming its holder. */
#include "guard.h"

#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/path.h"
#include "store/fsys.h"
#include "store/lock.h"
#include "store/pidfile.h"
#include "store/sentinel.h"

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
    return tz_sentinel_raise(wallet_path, getpid(), err);
}

tz_status tz_guard_clear(const char *wallet_path, tz_error *err)
{
    tz_status st = tz_sentinel_clear(wallet_path, getpid(), err);
    if (st == TZ_OK)
        fsync_dir_of(wallet_path); /* the sentinel sits next to the wallet */
    return st;
}

long tz_guard_lock_holder(const char *wallet_path)
{
    char *path = tz_path_companion(wallet_path, TZ_LOCK_SUFFIX);
    if (!path)
        return -1;
    tz_pid_file f;
    tz_status st = tz_pid_file_read(path, &f, NULL);
    free(path);
    if (st == TZ_ENOTFOUND)
        return 0;
    if (st)
        return -1;
    long holder = !f.has_pid ? -1 /* being written, or foreign content: held */
                  : f.verdict == TZ_PID_OWNER ? (long)f.pid
                                              : 0; /* dead or recycled: stale */
    tz_pid_file_release(&f);
    return holder;
}

bool tz_guard_wait_lock_free(const char *wallet_path, int timeout_ms)
{
    int64_t deadline = tz_mono_ms() + timeout_ms;
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
        int64_t left = deadline - tz_mono_ms();
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
