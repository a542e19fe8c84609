/* Base58check (Bitcoin alphabet, double-SHA-256 checksum) for Tezos
 * identifiers: block and operation hashes, rollup addresses (sr1...), and
 * the L1 accounts an unshield pays (tz1, tz2, tz3, KT1). */
#ifndef TZ_CORE_B58_H
#define TZ_CORE_B58_H

#include <stddef.h>
#include <stdint.h>

/* Encodes prefix[plen] || payload[len] || checksum[4] into out (NUL
 * terminated). Returns the number of characters, or 0 when out[cap] is too
 * small or the input exceeds 128 bytes. */
size_t tz_b58check(char *out, size_t cap, const uint8_t *prefix, size_t plen,
                    const uint8_t *payload, size_t len);

/* Decodes a Base58check string s into out[cap]: the bytes before the
 * checksum (prefix and payload). Returns their number, or 0 when s has a
 * character outside the alphabet, is too long (more than 128 bytes), is
 * shorter than its 4-byte checksum, or the checksum does not match. */
size_t tz_b58check_decode(uint8_t *out, size_t cap, const char *s, size_t len);

#endif
