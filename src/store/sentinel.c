/* The cooperative-yield sentinel `<wallet>.yield` (sentinel.h): checking
 * it (a stale one removed), raising it, clearing our own. */
#include "base/path.h"
#include "store/sentinel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/atomic.h"
#include "store/fsys.h"
#include "store/pidfile.h"

/* Removes the stale sentinel `f` read from `path` if it still is that
 * file. Sets *state to STALE_REMOVED when it is gone afterwards; leaves it
 * (LIVE) when it was replaced meanwhile. Returns TZ_OK or TZ_EIO. */
static tz_status remove_stale(const char *path, const tz_pid_file *f, tz_sentinel_state *state,
                              tz_error *err)
{
    tz_status rc = tz_pid_file_recheck(path, f);
    if (rc == TZ_EMISMATCH)
        return TZ_OK; /* replaced by a fresh sentinel: leave it, report live */
    if (rc == TZ_OK && tz_fsys_get()->unlink(path) < 0 && errno != ENOENT)
        return tz_error_set(err, TZ_EIO, "remove stale sentinel %s (pid %ld): %s", path,
                            (long)f->pid, strerror(errno));
    *state = TZ_SENTINEL_STALE_REMOVED;
    return TZ_OK;
}

tz_status tz_sentinel_check(const char *wallet_path, tz_sentinel_state *state, long *pid,
                            tz_pid_verdict *why, tz_error *err)
{
    char *path = tz_path_companion(wallet_path, TZ_SENTINEL_SUFFIX);
    tz_pid_file f = {.text = NULL};
    *state = TZ_SENTINEL_LIVE;
    *pid = -1;
    if (why)
        *why = TZ_PID_OWNER;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "check sentinel: out of memory");
    tz_status st = tz_pid_file_read(path, &f, err);
    if (st == TZ_ENOTFOUND) {
        *state = TZ_SENTINEL_NONE;
        st = TZ_OK;
        goto out;
    }
    if (st == TZ_ENOMEM) { /* a big file is not a PID: live */
        st = TZ_OK;
        goto out;
    }
    if (st || !f.has_pid)
        goto out; /* not a PID: live, never removed */
    *pid = (long)f.pid;
    if (why)
        *why = f.verdict;
    if (f.verdict != TZ_PID_OWNER)
        st = remove_stale(path, &f, state, err);
out:
    tz_pid_file_release(&f);
    free(path);
    return st;
}

tz_status tz_sentinel_raise(const char *wallet_path, pid_t pid, tz_error *err)
{
    char *path = tz_path_companion(wallet_path, TZ_SENTINEL_SUFFIX);
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "raise sentinel: out of memory");
    char line[32];
    int n = tz_pid_file_format(line, sizeof line, pid);
    tz_status st = n < 0 ? tz_error_set(err, TZ_EINVAL, "raise sentinel: bad pid %ld", (long)pid)
                         : tz_atomic_write(path, line, (size_t)n, 0600, err);
    free(path);
    return st;
}

tz_status tz_sentinel_clear(const char *wallet_path, pid_t expected_pid, tz_error *err)
{
    char *path = tz_path_companion(wallet_path, TZ_SENTINEL_SUFFIX), *text = NULL;
    size_t len;
    if (!path)
        return tz_error_set(err, TZ_ENOMEM, "clear sentinel: out of memory");
    tz_status st = tz_read_file(path, TZ_PID_FILE_MAX_BYTES, &text, &len, err);
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
