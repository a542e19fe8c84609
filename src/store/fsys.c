/* The file-system call table (fsys.h): the real calls with EINTR retried,
 * the table tests replace, and whole-file reads. */
#include "store/fsys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int sys_open(const char *path, int flags, mode_t mode)
{
    int fd;
    do {
        fd = open(path, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

static ssize_t sys_write(int fd, const void *buf, size_t len)
{
    ssize_t n;
    do {
        n = write(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n;
}

static int sys_fsync(int fd)
{
    int rc;
    do {
        rc = fsync(fd);
    } while (rc < 0 && errno == EINTR);
    return rc;
}

static int sys_fchmod(int fd, mode_t mode)
{
    int rc;
    do {
        rc = fchmod(fd, mode);
    } while (rc < 0 && errno == EINTR);
    return rc;
}

/* Never retried: after EINTR the descriptor is already released on Linux
 * and may have been reused by another thread. */
static int sys_close(int fd) { return close(fd); }

static int sys_rename(const char *from, const char *to)
{
    int rc;
    do {
        rc = rename(from, to);
    } while (rc < 0 && errno == EINTR);
    return rc;
}

static int sys_unlink(const char *path)
{
    int rc;
    do {
        rc = unlink(path);
    } while (rc < 0 && errno == EINTR);
    return rc;
}

static int sys_fsync_dir(const char *dir)
{
    int fd = sys_open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return -1;
    int rc = sys_fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

static int sys_link(const char *from, const char *to)
{
    int rc;
    do {
        rc = link(from, to);
    } while (rc < 0 && errno == EINTR);
    return rc;
}

static int sys_chmod(const char *path, mode_t mode)
{
    int rc;
    do {
        rc = chmod(path, mode);
    } while (rc < 0 && errno == EINTR);
    return rc;
}

static const tz_fsys default_table = {
    .open = sys_open,
    .write = sys_write,
    .fsync = sys_fsync,
    .fchmod = sys_fchmod,
    .chmod = sys_chmod,
    .close = sys_close,
    .rename = sys_rename,
    .link = sys_link,
    .unlink = sys_unlink,
    .fsync_dir = sys_fsync_dir,
};

static tz_fsys custom;
static const tz_fsys *active = &default_table;

const tz_fsys *tz_fsys_get(void) { return active; }

const tz_fsys *tz_fsys_default(void) { return &default_table; }

void tz_fsys_set(const tz_fsys *t)
{
    if (t) {
        custom = *t;
        active = &custom;
    } else {
        active = &default_table;
    }
}

int tz_fsys_write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = active->write(fd, p, len);
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

tz_status tz_read_file(const char *path, size_t max, char **out, size_t *len,
                       tz_error *err)
{
    return tz_read_file_stat(path, max, out, len, NULL, err);
}

tz_status tz_read_file_stat(const char *path, size_t max, char **out, size_t *len,
                            struct stat *sb, tz_error *err)
{
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == ENOENT)
            return tz_error_set(err, TZ_ENOTFOUND, "%s: no such file", path);
        return tz_error_set(err, TZ_EIO, "open %s: %s", path, strerror(errno));
    }
    tz_status st = TZ_OK;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        st = tz_error_set(err, TZ_ENOMEM, "read %s: out of memory", path);
        goto out;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                st = tz_error_set(err, TZ_ENOMEM, "read %s: larger than %zu bytes", path,
                                  max);
                goto out;
            }
            size_t ncap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                st = tz_error_set(err, TZ_ENOMEM, "read %s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = tz_error_set(err, TZ_EIO, "read %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max) {
        st = tz_error_set(err, TZ_ENOMEM, "read %s: larger than %zu bytes", path, max);
        goto out;
    }
    if (sb && fstat(fd, sb) < 0) {
        st = tz_error_set(err, TZ_EIO, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return st;
}
