/* Atomic durable writes (atomic.h): replacing a file through a private
 * temp file and a rename, creating one exclusively through a hard link,
 * and sweeping the temp files that killed writers left behind. */
#include "store/atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/path.h"
#include "store/fsys.h"
#include "store/pidfile.h"

#define TEMP_ATTEMPTS 16
#define PID_DIGITS_MAX 10    /* pid_t is 32 bits */
#define FIELD_DIGITS_MAX 20  /* a u64 (nanos) */

/* A complete private copy of the new content beside `path`: creates
 * `.<name>.tmp.<pid>.<nanos>.<n>` (O_CREAT|O_EXCL, 0600, retrying name
 * collisions), writes everything, sets `mode` (when not 0600), fsyncs and
 * closes it. On success *dir and *tmp (malloc'd) name the folder and the
 * temp file, which the caller moves into place or unlinks. On failure
 * nothing is left behind. `what` names the operation in messages; the
 * write, chmod, fsync and close failures say "<step> temp file <temp> for
 * <path>", or, with a `noun`, "<step> <noun> <path>". */
static tz_status write_temp(const char *path, const void *data, size_t len, mode_t mode,
                            const char *what, const char *noun, char **dir_out, char **tmp_out,
                            tz_error *err)
{
    const tz_fsys *fs = tz_fsys_get();
    tz_status st = TZ_OK;
    const char *base = NULL;
    char *dir = tz_path_dirname(path, &base);
    char *tmp = NULL;
    int fd = -1;

    if (!dir)
        return tz_error_set(err, TZ_ENOMEM, "%s %s: out of memory", what, path);
    if (!*base) {
        st = tz_error_set(err, TZ_EINVAL, "%s %s: not a file name", what, path);
        goto fail;
    }
    size_t cap = strlen(dir) + strlen(base) + 96;
    if (!(tmp = malloc(cap))) {
        st = tz_error_set(err, TZ_ENOMEM, "%s %s: out of memory", what, path);
        goto fail;
    }
    for (unsigned n = 0; n < TEMP_ATTEMPTS; n++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long nanos =
            (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
        snprintf(tmp, cap, "%s/.%s.tmp.%ld.%llu.%u", dir, base, (long)getpid(), nanos, n);
        fd = fs->open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        st = tz_error_set(err, TZ_EIO, "create temp file for %s: %s", path,
                          errno == EEXIST ? "too many collisions" : strerror(errno));
        goto fail;
    }
    const char *step = NULL;
    if (tz_fsys_write_all(fd, data, len) < 0)
        step = "write";
    else if ((mode & 07777) != 0600 && fs->fchmod(fd, mode & 07777) < 0)
        step = "chmod";
    else if (fs->fsync(fd) < 0)
        step = "fsync";
    int e = errno;
    if (fs->close(fd) < 0 && !step) {
        step = "close";
        e = errno;
    }
    if (step && noun)
        st = tz_error_set(err, TZ_EIO, "%s %s %s: %s", step, noun, path, strerror(e));
    else if (step)
        st = tz_error_set(err, TZ_EIO, "%s temp file %s for %s: %s", step, tmp, path,
                          strerror(e));
    if (st) {
        (void)fs->unlink(tmp);
        goto fail;
    }
    *dir_out = dir;
    *tmp_out = tmp;
    return TZ_OK;
fail:
    free(tmp);
    free(dir);
    return st;
}

tz_status tz_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
                          tz_error *err)
{
    const tz_fsys *fs = tz_fsys_get();
    char *dir = NULL, *tmp = NULL;
    tz_status st = write_temp(path, data, len, mode, "save", NULL, &dir, &tmp, err);
    if (st)
        return st;
    if (fs->rename(tmp, path) < 0) {
        st = tz_error_set(err, TZ_EIO, "rename %s to %s: %s", tmp, path, strerror(errno));
        (void)fs->unlink(tmp);
        goto out;
    }
    /* Like the reference: the final file gets its mode again after the
     * rename (a restrictive umask may have narrowed the temp's). The
     * content is in place either way; the folder is still fsynced. */
    if (fs->chmod(path, mode & 07777) < 0) {
        int e = errno;
        (void)fs->fsync_dir(dir);
        st = tz_error_set(err, TZ_EIO, "chmod %s: %s", path, strerror(e));
        goto out;
    }
    if (fs->fsync_dir(dir) < 0)
        st = tz_error_set(err, TZ_EIO, "fsync folder %s (after replacing %s): %s", dir, path,
                          strerror(errno));
out:
    free(tmp);
    free(dir);
    return st;
}

tz_status tz_atomic_create(const char *path, const void *data, size_t len, const char *noun,
                           tz_error *err)
{
    const tz_fsys *fs = tz_fsys_get();
    char *dir = NULL, *tmp = NULL;
    tz_status st = write_temp(path, data, len, 0600, "create", noun, &dir, &tmp, err);
    if (st)
        return st;
    int rc = fs->link(tmp, path), e = errno;
    (void)fs->unlink(tmp);
    if (rc < 0 && e == EEXIST) {
        st = tz_error_set(err, TZ_EEXIST, "create %s %s: it exists", noun, path);
    } else if (rc < 0 && (e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == ENOSYS)) {
        /* A file system without hard links: exclusive create, then write
         * (a crash in between leaves an empty file). */
        int fd = fs->open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0) {
            st = errno == EEXIST
                     ? tz_error_set(err, TZ_EEXIST, "create %s %s: it exists", noun, path)
                     : tz_error_set(err, TZ_EIO, "create %s %s: %s", noun, path,
                                    strerror(errno));
            goto out;
        }
        if (tz_fsys_write_all(fd, data, len) < 0)
            st = tz_error_set(err, TZ_EIO, "write %s %s: %s", noun, path, strerror(errno));
        else if (fs->fsync(fd) < 0)
            st = tz_error_set(err, TZ_EIO, "fsync %s %s: %s", noun, path, strerror(errno));
        rc = fs->close(fd);
        if (!st && rc < 0)
            st = tz_error_set(err, TZ_EIO, "close %s %s: %s", noun, path, strerror(errno));
        if (st)
            (void)fs->unlink(path);
    } else if (rc < 0) {
        st = tz_error_set(err, TZ_EIO, "link %s to %s %s: %s", tmp, noun, path, strerror(e));
    } else if (fs->fsync_dir(dir) < 0) {
        st = tz_error_set(err, TZ_EIO, "fsync folder %s (after creating %s): %s", dir, path,
                          strerror(errno));
        (void)fs->unlink(path);
    }
out:
    free(tmp);
    free(dir);
    return st;
}

/* Skips a run of 1..max decimal digits at *p; false when there is none or
 * it is longer. */
static bool skip_digits(const char **p, size_t max)
{
    size_t n = 0;
    while ((*p)[n] >= '0' && (*p)[n] <= '9')
        n++;
    if (n == 0 || n > max)
        return false;
    *p += n;
    return true;
}

/* True when `name` is exactly `.<base>.tmp.<pid>.<digits>.<digits>` (the
 * names tz_atomic_write creates); sets *pid. */
static bool temp_name_pid(const char *name, const char *base, pid_t *pid)
{
    static const char tag[] = ".tmp.";
    size_t blen = strlen(base);
    if (name[0] != '.' || strncmp(name + 1, base, blen) ||
        strncmp(name + 1 + blen, tag, sizeof tag - 1))
        return false;
    const char *p = name + 1 + blen + sizeof tag - 1;
    const char *digits = p;
    if (*p == '0' || !skip_digits(&p, PID_DIGITS_MAX))
        return false;
    unsigned long long v = strtoull(digits, NULL, 10);
    if (v > 0x7fffffffull)
        return false;
    if (*p++ != '.' || !skip_digits(&p, FIELD_DIGITS_MAX) || *p++ != '.' ||
        !skip_digits(&p, FIELD_DIGITS_MAX) || *p)
        return false;
    *pid = (pid_t)v;
    return true;
}

tz_status tz_atomic_sweep_stale(const char *path, size_t *removed, tz_error *err)
{
    tz_status st = TZ_OK;
    const char *base = NULL;
    char *dir = tz_path_dirname(path, &base);
    size_t n = 0;
    DIR *d = NULL;

    if (removed)
        *removed = 0;
    if (!dir)
        return tz_error_set(err, TZ_ENOMEM, "sweep temp files of %s: out of memory", path);
    if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
        st = tz_error_set(err, TZ_EINVAL, "sweep temp files of %s: not a file name", path);
        goto out;
    }
    d = opendir(dir);
    if (!d) {
        if (errno != ENOENT)
            st = tz_error_set(err, TZ_EIO, "sweep temp files of %s: open folder %s: %s", path,
                              dir, strerror(errno));
        goto out;
    }
    int dfd = dirfd(d);
    pid_t self = getpid();
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno)
                st = tz_error_set(err, TZ_EIO, "sweep temp files of %s: read folder %s: %s",
                                  path, dir, strerror(errno));
            break;
        }
        pid_t pid;
        if (!temp_name_pid(e->d_name, base, &pid) || pid == self || tz_pid_alive(pid, 0))
            continue;
        struct stat sb;
        if (fstatat(dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue;
        /* unlinkat without AT_REMOVEDIR never removes a folder, and removes
         * a symlink swapped in meanwhile without following it. */
        if (unlinkat(dfd, e->d_name, 0) != 0) {
            if (errno == ENOENT)
                continue; /* someone else removed it */
            st = tz_error_set(err, TZ_EIO, "remove stale temp file %s/%s (pid %ld): %s", dir,
                              e->d_name, (long)pid, strerror(errno));
            break;
        }
        n++;
    }
    /* No folder fsync: a removal that does not survive a crash only brings
     * back a dead writer's file, which the next sweep removes again. */
out:
    if (d)
        closedir(d);
    if (removed)
        *removed = n;
    free(dir);
    return st;
}
