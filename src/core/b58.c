/* Base58check encoding of the simulator's Tezos-shaped identifiers
 * (b58.h). */
#include "core/b58.h"

#include <sodium.h>
#include <string.h>

static const char ALPHABET[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

size_t tz_b58check(char *out, size_t cap, const uint8_t *prefix, size_t plen,
                    const uint8_t *payload, size_t len)
{
    uint8_t buf[136];
    if (plen + len + 4 > 128)
        return 0;
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, payload, len);
    size_t n = plen + len;
    uint8_t h1[32], h2[32];
    crypto_hash_sha256(h1, buf, n);
    crypto_hash_sha256(h2, h1, 32);
    memcpy(buf + n, h2, 4);
    n += 4;

    /* Repeated division of the big-endian number by 58. */
    uint8_t digits[200];
    size_t nd = 0;
    size_t zeros = 0;
    while (zeros < n && buf[zeros] == 0)
        zeros++;
    uint8_t num[136];
    memcpy(num, buf, n);
    size_t start = zeros;
    while (start < n) {
        unsigned rem = 0;
        for (size_t i = start; i < n; i++) {
            unsigned cur = rem * 256 + num[i];
            num[i] = (uint8_t)(cur / 58);
            rem = cur % 58;
        }
        digits[nd++] = (uint8_t)rem;
        while (start < n && num[start] == 0)
            start++;
    }
    size_t total = zeros + nd;
    if (total + 1 > cap)
        return 0;
    size_t o = 0;
    for (size_t i = 0; i < zeros; i++)
        out[o++] = '1';
    while (nd > 0)
        out[o++] = ALPHABET[digits[--nd]];
    out[o] = '\0';
    return o;
}

size_t tz_b58check_decode(uint8_t *out, size_t cap, const char *s, size_t len)
{
    uint8_t num[136];
    size_t n = 0; /* little-endian bytes of the number so far */
    size_t zeros = 0;
    while (zeros < len && s[zeros] == '1')
        zeros++;
    for (size_t i = zeros; i < len; i++) {
        const char *p = s[i] ? strchr(ALPHABET, s[i]) : NULL;
        if (!p)
            return 0;
        unsigned carry = (unsigned)(p - ALPHABET);
        for (size_t k = 0; k < n; k++) {
            carry += num[k] * 58u;
            num[k] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry) {
            if (n == sizeof num)
                return 0;
            num[n++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    size_t total = zeros + n;
    if (total < 4 || total > 128 || total - 4 > cap)
        return 0;
    uint8_t buf[136];
    memset(buf, 0, zeros);
    for (size_t k = 0; k < n; k++)
        buf[zeros + k] = num[n - 1 - k];
    uint8_t h1[32], h2[32];
    crypto_hash_sha256(h1, buf, total - 4);
    crypto_hash_sha256(h2, h1, 32);
    if (memcmp(h2, buf + total - 4, 4) != 0)
        return 0;
    memcpy(out, buf, total - 4);
    return total - 4;
}
