/* Operator client: the calls the wallet makes to the operator's HTTP API:
 * the health check `tzel-wallet check` reports, and the submission of a
 * kernel message (SPENDS.md §7). */
#ifndef TZ_RPC_OPERATOR_H
#define TZ_RPC_OPERATOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

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

/* Largest submission answer read. */
#define TZ_OPERATOR_ANSWER_MAX (1u << 20)

/* POSTs {"kind": kind, "rollup_address": rollup_address, "payload": hex of
 * payload} to <base_url>/v1/rollup/submissions with "Authorization: Bearer
 * <token>" (60 s timeout) and parses the answer: *out is the "submission"
 * object (new reference; id, status, operation_hash, ...). Returns TZ_OK;
 * TZ_EHTTP for a failed transfer or a status of 400 or above (the URL,
 * the status and the answer's first bytes in the message); TZ_EPARSE when
 * the answer has no submission object with a string id and status;
 * TZ_ENOMEM. */
tz_status tz_operator_submit(const char *base_url, const char *token, const char *kind,
                             const char *rollup_address, const uint8_t *payload, size_t len,
                             json_t **out, tz_error *err) TZ_WUR;

/* GETs <base_url>/v1/rollup/submissions/<id> (id URL-escaped) with the
 * bearer token (NULL: none; 5 s to connect, 35 s in all): TZ_OK with *out the
 * "submission" object (new reference), or the errors of
 * tz_operator_submit. */
tz_status tz_operator_status(const char *base_url, const char *token, const char *id,
                             json_t **out, tz_error *err) TZ_WUR;

#endif
