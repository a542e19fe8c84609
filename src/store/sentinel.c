#include "store/sentinel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/atomic.h"
#include "store/fsys.h"
#include "store/lock.h"

#define SENTINEL_MAX_BYTES 4096

static char *sentinel_path(const char *wallet_path)
{
    size_t n = strlen(wallet_path) + sizeof TZ_SENTINEL_SUFFIX;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s" TZ_SENTINEL_SUFFIX, wallet_path);
    return p;
}

tz_status tz_sentinel_check(const char *wallet_path, tz_sentinel_state *state, long *pid,
                            tz_error *err)
{
    char *path = sentinel_path(wallet_path), *text = NULL, *again = NULL;
    size_t len = 0, alen = 0;
    *state = TZ_SENTINEL_LIVE;
    *pid = -1;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "check sentinel: out of memory");
    tz_status st = tz_read_file(path, SENTINEL_MAX_BYTES, &text, &len, err);
    if (st == TZ_ENOTFOUND) {
        *state = TZ_SENTINEL_NONE;
        st = TZ_OK;
        goto out;
    }
    if (st == TZ_ENOMEM) { /* a big file is not a PID: live */
        st = TZ_OK;
        goto out;
    }
    if (st)
        goto out;
    pid_t p;
    unsigned long long start;
    if (!tz_parse_pid_line(text, &p, &start))
        goto out; /* not a PID: live, never removed */
    *pid = (long)p;
    if (tz_pid_alive(p, start))
        goto out;
    /* Dead: remove it unless it was replaced since we read it. */
    if (tz_read_file(path, SENTINEL_MAX_BYTES, &again, &alen, NULL) == TZ_OK &&
        (alen != len || memcmp(again, text, len) != 0))
        goto out; /* replaced by a fresh sentinel: leave it, report live */
    if (tz_fsys_get()->unlink(path) < 0 && errno != ENOENT) {
        st = tz_error_set(err, TZ_EIO, "remove stale sentinel %s (pid %ld): %s", path, (long)p,
                          strerror(errno));
        goto out;
    }
    *state = TZ_SENTINEL_STALE_REMOVED;
out:
    free(again);
    free(text);
    free(path);
    return st;
}

tz_status tz_sentinel_raise(const char *wallet_path, pid_t pid, unsigned long long starttime,
                            tz_error *err)
{
    char *path = sentinel_path(wallet_path);
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "raise sentinel: out of memory");
    char line[64];
    int n = starttime ? snprintf(line, sizeof line, "%ld %llu\n", (long)pid, starttime)
                      : snprintf(line, sizeof line, "%ld\n", (long)pid);
    tz_status st = tz_atomic_write(path, line, (size_t)n, 0600, err);
    free(path);
    return st;
}

tz_status tz_sentinel_clear(const char *wallet_path, pid_t expected_pid, tz_error *err)
{
    char *path = sentinel_path(wallet_path), *text = NULL;
    size_t len;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "clear sentinel: out of memory");
    tz_status st = tz_read_file(path, SENTINEL_MAX_BYTES, &text, &len, err);
    if (st == TZ_ENOTFOUND) {
        st = TZ_OK;
        goto out;
    }
    if (st)
        goto out;
    pid_t p;
    unsigned long long start;
    if (!tz_parse_pid_line(text, &p, &start) || p != expected_pid) {
        st = tz_error_set(err, TZ_EMISMATCH, "sentinel %s is not ours (pid %ld); left in place",
                          path, (long)expected_pid);
        goto out;
    }
    if (tz_fsys_get()->unlink(path) < 0 && errno != ENOENT)
        st = tz_error_set(err, TZ_EIO, "remove sentinel %s: %s", path, strerror(errno));
out:
    free(text);
    free(path);
    return st;
}
