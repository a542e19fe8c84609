/* Felts: range checks, little-endian integer views, hex codecs and the
 * domain tags (felt.h). */
#include "core/felt.h"

#include <sodium.h>
#include <string.h>

void tz_felt_truncate(tz_felt *f) { f->b[31] &= 0x07; }

bool tz_felt_eq(const tz_felt *a, const tz_felt *b)
{
    return sodium_memcmp(a->b, b->b, TZ_FELT_BYTES) == 0;
}

bool tz_felt_is_zero(const tz_felt *a)
{
    return sodium_is_zero(a->b, TZ_FELT_BYTES) == 1;
}

void tz_felt_from_u32(tz_felt *out, uint32_t v)
{
    memset(out, 0, sizeof *out);
    tz_put_u32le(out->b, v);
}

void tz_felt_from_u64(tz_felt *out, uint64_t v)
{
    memset(out, 0, sizeof *out);
    tz_put_u64le(out->b, v);
}

void tz_felt_tag(tz_felt *out, const char *s)
{
    size_t n = strlen(s);
    if (n > 31)
        n = 31;
    memset(out, 0, sizeof *out);
    /* big-endian integer stored little-endian: reverse the bytes */
    for (size_t i = 0; i < n; i++)
        out->b[i] = (uint8_t)s[n - 1 - i];
}

/* Nibble of each byte, -1 for a non-hex one: a table, since a sync
 * decodes every note from hex (megabytes per second). */
#define H_ -1
static const int8_t HEX_NIBBLE[256] = {
    H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,
    H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,
    H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,
    0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  H_, H_, H_, H_, H_, H_,
    H_, 10, 11, 12, 13, 14, 15, H_, H_, H_, H_, H_, H_, H_, H_, H_,
    H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_, H_,
    H_, 10, 11, 12, 13, 14, 15, H_, H_, H_, H_, H_, H_, H_, H_, H_,
    [0x70 ... 0xff] = H_,
};
#undef H_

static int hexval(char c)
{
    return HEX_NIBBLE[(unsigned char)c];
}

tz_status tz_felt_from_hex(tz_felt *out, const char *hex)
{
    if (!hex || strlen(hex) != TZ_FELT_HEX)
        return TZ_EINVAL;
    tz_felt tmp;
    for (size_t i = 0; i < TZ_FELT_BYTES; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return TZ_EINVAL;
        tmp.b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = tmp;
    return TZ_OK;
}

void tz_felt_to_hex(char out[TZ_FELT_HEX + 1], const tz_felt *f)
{
    tz_hex_encode(out, f->b, TZ_FELT_BYTES);
}

tz_status tz_hex_decode(uint8_t *out, size_t cap, size_t *outlen,
                        const char *hex, size_t hexlen)
{
    if (hexlen >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) {
        hex += 2;
        hexlen -= 2;
    }
    if (hexlen % 2 || hexlen / 2 > cap)
        return TZ_EINVAL;
    /* every byte is written, and a non-hex character (negative nibble)
     * is caught once at the end: no branch per character */
    int acc = 0;
    for (size_t i = 0; i < hexlen / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        acc |= hi | lo;
        out[i] = (uint8_t)(((unsigned)hi << 4) | ((unsigned)lo & 15u));
    }
    if (acc < 0)
        return TZ_EINVAL;
    if (outlen)
        *outlen = hexlen / 2;
    return TZ_OK;
}

void tz_hex_encode(char *out, const uint8_t *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void tz_put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void tz_put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void tz_put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

uint16_t tz_get_u16le(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

uint32_t tz_get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t tz_get_u64le(const uint8_t *p)
{
    return (uint64_t)tz_get_u32le(p) | (uint64_t)tz_get_u32le(p + 4) << 32;
}
