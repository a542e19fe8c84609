/* The file-system call table (fsys.h): the real calls with EINTR retried,
 * the table tests replace, and whole-file reads. */
#include "store/fsys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"

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
    /* A folder we may write into but not read cannot be opened to be
     * fsynced: the rename is done, there is nothing more we can do. */
    if (fd < 0 && errno == EACCES)
        return 0;
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
    /* O_NONBLOCK: a FIFO must not hang the open; it is refused below. */
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        if (errno == ENOENT)
            return tz_error_set(err, TZ_ENOTFOUND, "%s: no such file", path);
        return tz_error_set(err, TZ_EIO, "open %s: %s", path, strerror(errno));
    }
    tz_status st = TZ_OK;
    struct stat before;
    tz_buf b = {.max = max, .wipe = true};
    if (fstat(fd, &before) < 0) {
        st = tz_error_set(err, TZ_EIO, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(before.st_mode)) {
        st = tz_error_set(err, TZ_EIO, "read %s: not a regular file", path);
        goto out;
    }
    if ((uint64_t)before.st_size > max) {
        st = tz_error_set(err, TZ_ENOMEM, "read %s: larger than %zu bytes", path, max);
        goto out;
    }
    for (;;) {
        char chunk[4096];
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            st = tz_error_set(err, TZ_EIO, "read %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (!tz_buf_append(&b, chunk, (size_t)r)) {
            st = b.len + (size_t)r > max
                     ? tz_error_set(err, TZ_ENOMEM, "read %s: larger than %zu bytes", path, max)
                     : tz_error_set(err, TZ_ENOMEM, "read %s: out of memory", path);
            sodium_memzero(chunk, sizeof chunk);
            break;
        }
        sodium_memzero(chunk, (size_t)r);
    }
    if (st)
        goto out;
    if (sb && fstat(fd, sb) < 0) {
        st = tz_error_set(err, TZ_EIO, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    if (!b.data && !tz_buf_append(&b, "", 0)) {
        st = tz_error_set(err, TZ_ENOMEM, "read %s: out of memory", path);
        goto out;
    }
    *out = tz_buf_steal(&b, len);
out:
    tz_buf_free(&b);
    close(fd);
    return st;
}
