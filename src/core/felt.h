/* Felts (32-byte little-endian field elements below 2^251), hex codecs and
 * domain tags. Pure functions, no allocation. */
#ifndef TZ_CORE_FELT_H
#define TZ_CORE_FELT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define TZ_FELT_BYTES 32
#define TZ_FELT_HEX 64

typedef struct tz_felt {
    uint8_t b[TZ_FELT_BYTES];
} tz_felt;

/* Clears the top 5 bits (out[31] &= 0x07) so the value is below 2^251. */
void tz_felt_truncate(tz_felt *f);

/* True when the two felts are byte-equal (constant time). */
bool tz_felt_eq(const tz_felt *a, const tz_felt *b);
bool tz_felt_is_zero(const tz_felt *a);

/* u32 / u64 as a felt: little-endian in the low bytes, the rest zero. */
void tz_felt_from_u32(tz_felt *out, uint32_t v);
void tz_felt_from_u64(tz_felt *out, uint64_t v);

/* Domain tag: the ASCII bytes of `s` read as a big-endian integer, stored
 * little-endian ("spend" -> 64 6e 65 70 73 00 ...). `s` must be at most 31
 * bytes; longer input is truncated to 31. */
void tz_felt_tag(tz_felt *out, const char *s);

/* Parses exactly 64 hex characters (either case, no 0x) into `out`.
 * Returns TZ_OK, or TZ_EINVAL (out untouched) on a wrong length or a
 * non-hex character. Does not require the value to be below 2^251. */
tz_status tz_felt_from_hex(tz_felt *out, const char *hex) TZ_WUR;

/* Writes 64 lowercase hex characters and a NUL into out[65]. */
void tz_felt_to_hex(char out[TZ_FELT_HEX + 1], const tz_felt *f);

/* Decodes `hexlen` hex characters into out[hexlen/2]. Accepts an optional
 * leading "0x". Returns TZ_OK and sets *outlen, or TZ_EINVAL for odd length,
 * a non-hex character, or output larger than `cap` (out may be partly
 * written on failure). */
tz_status tz_hex_decode(uint8_t *out, size_t cap, size_t *outlen,
                        const char *hex, size_t hexlen) TZ_WUR;

/* Writes 2*len lowercase hex characters and a NUL into out. */
void tz_hex_encode(char *out, const uint8_t *in, size_t len);

/* Little-endian helpers. */
void tz_put_u16le(uint8_t *p, uint16_t v);
void tz_put_u32le(uint8_t *p, uint32_t v);
void tz_put_u64le(uint8_t *p, uint64_t v);
uint16_t tz_get_u16le(const uint8_t *p);
uint32_t tz_get_u32le(const uint8_t *p);
uint64_t tz_get_u64le(const uint8_t *p);

#endif
