/* Minimal unit-test harness: CHECK records a failure and continues;
 * tz_test_done() prints "N passed, N failed" and returns the exit code. */
#ifndef TZ_TEST_H
#define TZ_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tz_test_pass, tz_test_fail;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (cond) {                                                          \
            tz_test_pass++;                                                  \
        } else {                                                             \
            tz_test_fail++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (cond) {                                                          \
            tz_test_pass++;                                                  \
        } else {                                                             \
            tz_test_fail++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, \
                    #cond);                                                  \
            fprintf(stderr, __VA_ARGS__);                                    \
            fputc('\n', stderr);                                             \
        }                                                                    \
    } while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

/* Path of a file under ../shared (TZ_SHARED_DIR from CTest). */
static inline const char *tz_test_shared(const char *rel, char *buf, size_t cap)
{
    const char *d = getenv("TZ_SHARED_DIR");
    snprintf(buf, cap, "%s/%s", d ? d : "../shared", rel);
    return buf;
}

/* True under the sanitizer build: tests may shrink their iteration counts. */
static inline int tz_test_sanitized(void) { return getenv("TZ_SANITIZED") != NULL; }

static inline int tz_test_done(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, tz_test_pass, tz_test_fail);
    return tz_test_fail ? 1 : 0;
}

#endif
