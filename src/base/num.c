/* Strict unsigned decimal parsing (num.h). */
#include "base/num.h"

#include <string.h>

bool tz_parse_u64_n(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    if (!s || n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

bool tz_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    return s && tz_parse_u64_n(s, strlen(s), max, out);
}

const char *tz_u128_dec(char out[TZ_U128_DEC_MAX], unsigned __int128 v)
{
    char tmp[TZ_U128_DEC_MAX];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return out;
}
