/* The few file-system calls whose failure matters for durability, routed
 * through a table that tests can replace (SQLite's aSyscall idea): inject
 * EIO or ENOSPC at any step, or end the process between two steps to
 * simulate a crash.
 *
 * The default entries retry EINTR (close is never retried: on Linux the
 * descriptor is gone whatever close returns). Every entry returns what the
 * POSIX call returns and leaves errno set on failure. The table is global
 * and not synchronized: tests swap it while no other thread is saving. */
#ifndef TZ_STORE_FSYS_H
#define TZ_STORE_FSYS_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/status.h"

typedef struct tz_fsys {
    int (*open)(const char *path, int flags, mode_t mode);
    ssize_t (*write)(int fd, const void *buf, size_t len);
    int (*fsync)(int fd);
    int (*fchmod)(int fd, mode_t mode);
    int (*chmod)(const char *path, mode_t mode);
    int (*close)(int fd);
    int (*rename)(const char *from, const char *to);
    int (*link)(const char *from, const char *to);
    int (*unlink)(const char *path);
    /* Opens the folder read-only, fsyncs it, closes it. */
    int (*fsync_dir)(const char *dir);
} tz_fsys;

/* The table in use (never NULL). */
const tz_fsys *tz_fsys_get(void);

/* The untouched default table (real system calls). */
const tz_fsys *tz_fsys_default(void);

/* Installs `t` (copied); NULL restores the default table. */
void tz_fsys_set(const tz_fsys *t);

/* Writes all `len` bytes through the table's write, looping over short
 * writes. Returns 0, or -1 with errno set (ENOSPC for a zero-byte write). */
int tz_fsys_write_all(int fd, const void *buf, size_t len);

/* Reads a whole regular file into a new NUL-terminated buffer (*out, owned
 * by the caller, free()). Refuses files larger than `max` bytes (TZ_ENOMEM)
 * and anything that is not a regular file (TZ_EIO "not a regular file":
 * a FIFO does not hang it, /dev/zero is not read). Growth never leaves a
 * copy of the bytes in freed memory (the caller wipes *out when it holds
 * secrets). Returns TZ_OK, TZ_ENOTFOUND (no such file), TZ_EIO (errno in
 * the message) or TZ_ENOMEM; *out and *len untouched on failure. Not
 * routed through the table: reads do not affect durability. */
tz_status tz_read_file(const char *path, size_t max, char **out, size_t *len,
                       tz_error *err) TZ_WUR;

/* Like tz_read_file, and also fills *sb with fstat of the descriptor that
 * was read, taken after the read: the attributes (mtime, inode) of the
 * very file whose bytes are in *out, even if the path is replaced
 * meanwhile. *sb untouched on failure. */
tz_status tz_read_file_stat(const char *path, size_t max, char **out, size_t *len,
                            struct stat *sb, tz_error *err) TZ_WUR;

#endif
