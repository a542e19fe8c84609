/* Strict parsing of unsigned decimal numbers: the one parser for command
 * line values, environment variables, simulator options, PID files and
 * URL path segments; and the decimal text of 128-bit totals. */
#ifndef TZ_BASE_NUM_H
#define TZ_BASE_NUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses all of s (NUL-terminated) as a decimal integer in [0, max]:
 * ASCII digits only (leading zeros allowed), no sign, no space. Returns
 * true and sets *out; false (out untouched) for anything else, a value
 * above max (overflow included), NULL or "". */
bool tz_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Like tz_parse_u64 over the n bytes at s (need not be NUL-terminated). */
bool tz_parse_u64_n(const char *s, size_t n, uint64_t max, uint64_t *out);

/* Room for the decimal text of any unsigned 128-bit value and its NUL. */
#define TZ_U128_DEC_MAX 40

/* Writes the decimal text of v (no leading zeros; "0" for zero) into out
 * and returns out. */
const char *tz_u128_dec(char out[TZ_U128_DEC_MAX], unsigned __int128 v);

#endif
