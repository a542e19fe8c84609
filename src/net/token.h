/* The bearer token of the HTTP services (tzel-walletd, tzel-detect): 32
 * random bytes as 64 hex characters, kept in a 0600 file (tzel-walletd's
 * default `<wallet>.walletd-token`) so the user can read it once and paste
 * it into the status page or a client. */
#ifndef TZ_NET_TOKEN_H
#define TZ_NET_TOKEN_H

#include <stdbool.h>

#include "core/status.h"

/* Appended to the wallet path to name the default token file. */
#define TZ_TOKEN_SUFFIX ".walletd-token"

#define TZ_TOKEN_HEX_LEN 64

/* Reads the token from `path`, or when the file does not exist creates it
 * with a fresh token from libsodium's randombytes, mode 0600, whole or not
 * at all (store/atomic.h tz_atomic_create, through the fsys table; when
 * another process created it first, that token is read). Writes the
 * NUL-terminated hex into `out`. Errors: TZ_EIO (cannot read or create;
 * the message names the step and the path, e.g. "fsync token file P: No
 * space left on device", and nothing is left behind), TZ_EPARSE (the file
 * does not hold 64 hex characters), TZ_EINVAL (the file is readable by
 * group or others: refused, the message says how to fix it), TZ_ENOMEM.
 * `out` is wiped on failure. */
tz_status tz_token_load_or_create(const char *path, char out[TZ_TOKEN_HEX_LEN + 1],
                                  tz_error *err) TZ_WUR;

/* True when the HTTP Authorization header value is "Bearer <token>" with
 * exactly this token; compared in constant time (sodium_memcmp). A NULL
 * header is false. */
bool tz_token_check(const char *authorization, const char token[TZ_TOKEN_HEX_LEN + 1]);

#endif
