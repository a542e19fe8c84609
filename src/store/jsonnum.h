/* JSON documents whose numbers survive a load and a save exactly.
 *
 * jansson stores integers as signed 64-bit and reals as doubles, so a u64
 * above 2^63 is refused and a real may be re-spelled. Before parsing, every
 * number literal that is not an integer in int64 range is replaced by a
 * marker string (a NUL byte, "tzel-c-number:", then the literal as written);
 * after dumping, each marker string is turned back into its literal. Typed
 * readers use tz_json_get_u64(), which accepts both forms.
 *
 * Limit: a genuine string value equal to a marker (it would have to start
 * with U+0000 followed by "tzel-c-number:") would be written back as the
 * number it spells. */
#ifndef TZ_STORE_JSONNUM_H
#define TZ_STORE_JSONNUM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* Parses `len` bytes of `text` into *out (a new reference; any top-level
 * value). `what` names the source in messages ("wallet /x/wallet.json").
 * Returns TZ_OK, TZ_EPARSE (empty, truncated, not JSON: message with line
 * and column) or TZ_ENOMEM; *out untouched on failure. The temporary copy
 * of the text is wiped before it is freed. */
tz_status tz_json_load_exact(const char *text, size_t len, const char *what, json_t **out,
                             tz_error *err) TZ_WUR;

/* Serializes `doc` with 2-space indentation, keys in insertion order
 * (serde_json's pretty layout), no trailing newline, markers restored to
 * their literals, strings escaped as serde_json escapes them (control
 * characters as lower-case \u00xx, '/' and non-ASCII raw). Returns a new NUL-terminated buffer (*out, *len; free()
 * after wiping it when it holds secrets) or TZ_ENOMEM. Intermediate
 * buffers are wiped before they are freed. */
tz_status tz_json_dump_exact(const json_t *doc, char **out, size_t *len, tz_error *err) TZ_WUR;

/* json_dumps(v, flags) with the marker strings of u64 values above
 * INT64_MAX printed as the numbers they stand for (other strings as
 * jansson escapes them). Returns a new string (free()) or NULL when out of
 * memory. */
char *tz_json_dumps(const json_t *v, size_t flags);

/* Reads a non-negative integer that fits in u64 from an integer or a
 * marker string. Returns false for anything else. */
bool tz_json_get_u64(const json_t *v, uint64_t *out);

/* A new JSON value for `v`: an integer when v <= INT64_MAX, else a marker
 * string. NULL on allocation failure. */
json_t *tz_json_u64(uint64_t v);

/* The same for an unsigned 128-bit value (a sum of u64 amounts): printed
 * exactly by tz_json_dump_exact and tz_json_dumps. */
json_t *tz_json_u128(unsigned __int128 v);

#endif
