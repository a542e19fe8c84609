/* Helpers shared by the unit tests: protocol vectors (hex fields of a JSON
 * object) and scratch files of the store tests. Header-only, static inline;
 * failures are reported through CHECK_MSG or on stderr like tz_test.h. */
#ifndef TZ_TEST_UTIL_H
#define TZ_TEST_UTIL_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/felt.h"
#include "store/fsys.h"
#include "tz_test.h"

/* Loads $TZ_SHARED_DIR/vectors/<name> (JSON_ALLOW_NUL). Records a failed
 * check naming the path when it cannot be loaded and returns NULL then;
 * the caller owns the result (json_decref). */
static inline json_t *tz_test_vectors(const char *name)
{
    char rel[256], path[512];
    json_error_t jerr;
    snprintf(rel, sizeof rel, "vectors/%s", name);
    json_t *root = json_load_file(tz_test_shared(rel, path, sizeof path), JSON_ALLOW_NUL, &jerr);
    CHECK_MSG(root != NULL, "cannot load %s: %s", path, jerr.text);
    return root;
}

/* Decodes the hex string at obj[key] into exactly n bytes; 0 (with a line
 * on stderr) when it is missing, not hex or of another length. */
static inline int tz_test_hex(const json_t *obj, const char *key, uint8_t *out, size_t n)
{
    const char *s = json_string_value(json_object_get(obj, key));
    size_t len = 0;
    if (!s || tz_hex_decode(out, n, &len, s, strlen(s)) != TZ_OK || len != n) {
        fprintf(stderr, "bad or missing hex field %s\n", key);
        return 0;
    }
    return 1;
}

static inline int tz_test_felt(const json_t *obj, const char *key, tz_felt *f)
{
    return tz_test_hex(obj, key, f->b, 32);
}

/* obj[key] as a decimal string -> u64 (0 when missing). */
static inline uint64_t tz_test_u64_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? strtoull(s, NULL, 10) : 0;
}

/* True when `got` is the felt written as hex in `want`; otherwise prints
 * both (prefixed by `label` when not NULL) and returns 0. */
static inline int tz_test_felt_is_hex(const tz_felt *got, const char *want, const char *label)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, got);
    if (!want || strcmp(hex, want) != 0) {
        fprintf(stderr, "  %s%sgot %s want %s\n", label ? label : "", label ? ": " : "", hex,
                want ? want : "(missing)");
        return 0;
    }
    return 1;
}

/* Writes `text` to `path` (exit 2 when it cannot be created); then sets
 * `mode` unless it is 0. */
static inline void tz_test_put_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    if (mode)
        chmod(path, mode);
}

/* Content of `path` (at most 64 MiB) as a new string, NULL when unreadable. */
static inline char *tz_test_get_file(const char *path)
{
    char *t = NULL;
    size_t n;
    if (tz_read_file(path, (size_t)1 << 26, &t, &n, NULL) != TZ_OK)
        return NULL;
    return t;
}

static inline int tz_test_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Creates /tmp/tz-unit-<name>-XXXXXX into dir; 0 on success, -1 (with
 * perror) on failure. */
static inline int tz_test_mkdtemp(char *dir, size_t cap, const char *name)
{
    snprintf(dir, cap, "/tmp/tz-unit-%s-XXXXXX", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

/* Removes the folder made by tz_test_mkdtemp and everything in it. */
static inline void tz_test_rmtree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

/* A PID that existed and is gone: a reaped child. */
static inline pid_t tz_test_dead_pid(void)
{
    fflush(NULL);
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    waitpid(p, NULL, 0);
    return p;
}

/* A live child that sleeps until killed (tz_test_reap). */
static inline pid_t tz_test_live_child(void)
{
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        for (;;)
            pause();
    }
    return p;
}

static inline void tz_test_reap(pid_t p)
{
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

#endif
