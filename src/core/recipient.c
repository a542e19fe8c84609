/* The unshield recipient (recipient.h): Unicode White_Space trimming as
 * the kernel does it, and the Base58check account check. */
#include "core/recipient.h"

#include <stdint.h>
#include <string.h>

#include "core/b58.h"

static int is_white_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* The code point starting at s[i] (UTF-8 assumed valid) and its length;
 * 0 for a truncated sequence. */
static size_t code_point(const uint8_t *s, size_t len, size_t i, uint32_t *c)
{
    uint8_t b = s[i];
    size_t n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (len - i < n)
        return 0;
    uint32_t v = n == 1 ? b : n == 2 ? (b & 0x1Fu) : n == 3 ? (b & 0x0Fu) : (b & 0x07u);
    for (size_t k = 1; k < n; k++)
        v = v << 6 | (s[i + k] & 0x3Fu);
    *c = v;
    return n;
}

const char *tz_recipient_trim(const char *str, size_t *len)
{
    const uint8_t *s = (const uint8_t *)str;
    size_t start = 0, stop = *len;
    uint32_t c;
    size_t n;
    while (start < stop && (n = code_point(s, stop, start, &c)) && is_white_space(c))
        start += n;
    while (stop > start) {
        size_t i = stop - 1;
        while (i > start && (s[i] & 0xC0) == 0x80)
            i--;
        if (code_point(s, stop, i, &c) != stop - i || !is_white_space(c))
            break;
        stop = i;
    }
    *len = stop - start;
    return str + start;
}

bool tz_recipient_valid(const char *s, size_t len)
{
    static const uint8_t prefixes[4][3] = {
        {6, 161, 159}, /* tz1 */
        {6, 161, 161}, /* tz2 */
        {6, 161, 164}, /* tz3 */
        {2, 90, 121},  /* KT1 */
    };
    s = tz_recipient_trim(s, &len);
    if (len == 0 || len > 64)
        return false;
    uint8_t raw[128];
    size_t n = tz_b58check_decode(raw, sizeof raw, s, len);
    if (n != 23)
        return false;
    for (size_t k = 0; k < 4; k++)
        if (memcmp(raw, prefixes[k], 3) == 0)
            return true;
    return false;
}
