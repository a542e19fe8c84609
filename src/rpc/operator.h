/* Operator client: the calls the wallet makes to the operator's HTTP API.
 * So far one, the health check that `tzel-wallet check` reports. */
#ifndef TZ_RPC_OPERATOR_H
#define TZ_RPC_OPERATOR_H

#include "core/status.h"

/* Largest /healthz body read; a longer one fails the call. */
#define TZ_OPERATOR_HEALTH_MAX 65536

/* GETs <base_url>/healthz (trailing slashes of base_url ignored; 30 s
 * timeout) and writes the body, white space trimmed at both ends, into *out:
 * a malloc'd NUL-terminated string the caller frees. Returns TZ_OK;
 * TZ_EHTTP when the transfer fails, the status is 400 or above or the body
 * exceeds TZ_OPERATOR_HEALTH_MAX ("HTTP error: <url>: <curl's reason>");
 * TZ_ENOMEM when memory is short. *out is untouched on failure. */
tz_status tz_operator_health(const char *base_url, char **out, tz_error *err) TZ_WUR;

#endif
