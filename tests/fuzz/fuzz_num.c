/* The strict u64 parser (base/num.h). The first 8 bytes (little-endian)
 * are the maximum, the rest the text. Checked against libc's strtoull on
 * digit-only text; both entry points agree. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An independent reading through libc: true and *out when s[0..n) is
 * only digits (strtoull alone would take signs and spaces) and strtoull
 * reads it without ERANGE to a value <= max. */
static bool plain(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (n == 0)
        return false;
    char *z = fz_cstr((const uint8_t *)s, n);
    if (strspn(z, "0123456789") != n) {
        free(z);
        return false;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(z, &end, 10);
    bool ok = errno == 0 && end == z + n && v <= max;
    free(z);
    if (ok)
        *out = (uint64_t)v;
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    uint64_t max = 0;
    for (int i = 7; i >= 0; i--)
        max = max << 8 | data[i];
    const char *s = (const char *)data + 8;
    size_t n = size - 8;

    uint64_t a = 7, b = 7, want = 7;
    bool ok_n = tz_parse_u64_n(s, n, max, &a);
    bool ok_ref = plain(s, n, max, &want);
    FZ_ASSERT(ok_n == ok_ref);
    FZ_ASSERT(!ok_n ? a == 7 : a == want);

    char *z = fz_cstr((const uint8_t *)s, n);
    bool ok_z = tz_parse_u64(z, max, &b);
    /* the C-string form stops at the first NUL: only equal without one */
    if (!memchr(s, '\0', n)) {
        FZ_ASSERT(ok_z == ok_n);
        FZ_ASSERT(!ok_z || b == a);
    }
    free(z);
    return 0;
}
