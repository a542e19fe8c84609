/* Shared by the fuzz targets: a private scratch folder for targets whose
 * parser reads a file, and a NUL-terminated copy of the input for parsers
 * of C strings. Header-only, static. */
#ifndef TZ_FUZZ_UTIL_H
#define TZ_FUZZ_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fz_dir[512];

static inline void fz_remove_dir(void)
{
    DIR *d = opendir(fz_dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            char p[1024];
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", fz_dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(fz_dir);
}

/* The scratch folder (created once per process, removed at exit): in
 * $TMPDIR when set, else in /dev/shm when writable (a file per input on a
 * disk-backed /tmp costs fifty times the executions), else /tmp. */
static inline const char *fz_scratch(void)
{
    if (!fz_dir[0]) {
        const char *t = getenv("TMPDIR");
        if (!t || !*t)
            t = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fz_dir, sizeof fz_dir, "%s/tzfuzz-XXXXXX", t);
        if (!mkdtemp(fz_dir))
            abort();
        atexit(fz_remove_dir);
    }
    return fz_dir;
}

/* Writes `name` in the scratch folder (mode 0600) with data[0..len) and
 * puts its path in out. Aborts when the file cannot be written: that is
 * the machine, not the parser. */
static inline void fz_write(char *out, size_t cap, const char *name, const uint8_t *data, size_t len)
{
    snprintf(out, cap, "%s/%s", fz_scratch(), name);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    close(fd);
}

/* Removes `name` from the scratch folder if it is there. */
static inline void fz_unlink(const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", fz_scratch(), name);
    unlink(p);
}

/* A malloc'd copy of data[0..len) with a NUL after it (aborts without
 * memory). */
static inline char *fz_cstr(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (!s)
        abort();
    memcpy(s, data, len);
    s[len] = '\0';
    return s;
}

/* Aborts (a finding) when cond is false: a property the parser promises. */
#define FZ_ASSERT(cond)                                                                  \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

#endif
