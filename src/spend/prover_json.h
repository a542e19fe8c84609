/* Prover arguments as the Cairo executables read them: a JSON array of
 * strings, each "0x" and the big-endian hex of a felt without leading
 * zeros ("0x0" for zero), as the reference wallet writes them
 * (serde_json's compact layout: no spaces). The element order is
 * core/provarg.h's. */
#ifndef TZ_SPEND_PROVER_JSON_H
#define TZ_SPEND_PROVER_JSON_H

#include <stddef.h>

#include "core/felt.h"
#include "core/status.h"

#define TZ_FELT_0X_CHARS (2 + TZ_FELT_HEX + 1) /* "0x", 64 digits, NUL */

/* Writes the "0x..." form of f and a NUL into out. */
void tz_felt_to_0x(char out[TZ_FELT_0X_CHARS], const tz_felt *f);

/* Strict inverse of tz_felt_to_0x over s[0..len): "0x" then 1 to 64
 * lowercase hex digits, no leading zero except "0x0". TZ_OK, or TZ_EINVAL
 * (out untouched) for anything else. */
tz_status tz_felt_from_0x(tz_felt *out, const char *s, size_t len) TZ_WUR;

/* Renders args[0..n) as compact JSON text: TZ_OK with a new NUL-terminated
 * *out (free() it; it holds witness secrets: wipe first) and *out_len, or
 * TZ_ENOMEM. *out untouched on failure. */
tz_status tz_prover_args_json(const tz_felt *args, size_t n, char **out, size_t *out_len,
                              tz_error *err) TZ_WUR;

/* Parses JSON text[0..len) that is exactly one array of at most `cap`
 * strings in the tz_felt_from_0x form into out[0..*n). TZ_OK, or
 * TZ_EPARSE with a message (not JSON, not an array, too long, an element
 * that is not such a string: its index). out may be partly written on
 * failure, *n untouched. */
tz_status tz_prover_args_parse_json(tz_felt *out, size_t cap, size_t *n, const char *text,
                                    size_t len, tz_error *err) TZ_WUR;

#endif
