#include "store/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/fsys.h"

#define TEMP_ATTEMPTS 16

char *tz_path_dirname(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        if (base)
            *base = path;
        return strdup(".");
    }
    if (base)
        *base = slash + 1;
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

tz_status tz_atomic_write(const char *path, const void *data, size_t len, mode_t mode,
                          tz_error *err)
{
    const tz_fsys *fs = tz_fsys_get();
    tz_status st = TZ_OK;
    const char *base = NULL;
    char *dir = tz_path_dirname(path, &base);
    char *tmp = NULL;
    int fd = -1;
    int have_tmp = 0;

    if (!dir)
        return tz_error_set(err, TZ_ENOMEM, "save %s: out of memory", path);
    if (!*base) {
        st = tz_error_set(err, TZ_EINVAL, "save %s: not a file name", path);
        goto out;
    }
    size_t cap = strlen(dir) + strlen(base) + 96;
    tmp = malloc(cap);
    if (!tmp) {
        st = tz_error_set(err, TZ_ENOMEM, "save %s: out of memory", path);
        goto out;
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
        goto out;
    }
    have_tmp = 1;
    if (tz_fsys_write_all(fd, data, len) < 0) {
        st = tz_error_set(err, TZ_EIO, "write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if ((mode & 07777) != 0600 && fs->fchmod(fd, mode & 07777) < 0) {
        st = tz_error_set(err, TZ_EIO, "chmod %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fs->fsync(fd) < 0) {
        st = tz_error_set(err, TZ_EIO, "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    int rc = fs->close(fd);
    fd = -1;
    if (rc < 0) {
        st = tz_error_set(err, TZ_EIO, "close %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fs->rename(tmp, path) < 0) {
        st = tz_error_set(err, TZ_EIO, "rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    have_tmp = 0;
    /* Like the reference: the final file gets its mode again after the
     * rename (a restrictive umask may have narrowed the temp's). The
     * content is in place either way; the folder is still fsynced. */
    if (chmod(path, mode & 07777) < 0) {
        int e = errno;
        (void)fs->fsync_dir(dir);
        st = tz_error_set(err, TZ_EIO, "chmod %s: %s", path, strerror(e));
        goto out;
    }
    if (fs->fsync_dir(dir) < 0) {
        st = tz_error_set(err, TZ_EIO, "fsync folder %s (after replacing %s): %s", dir, path,
                          strerror(errno));
        goto out;
    }
out:
    if (fd >= 0)
        (void)fs->close(fd);
    if (have_tmp)
        (void)fs->unlink(tmp);
    free(tmp);
    free(dir);
    return st;
}
