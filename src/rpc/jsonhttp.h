/* One blocking JSON call over HTTP (libcurl easy), for the services the
 * wallet calls rarely and one request at a time: the operator and the
 * proving service. The rollup node has its own pooled client (rpc.h). */
#ifndef TZ_RPC_JSONHTTP_H
#define TZ_RPC_JSONHTTP_H

#include <jansson.h>
#include <stddef.h>

#include "core/status.h"

/* base_url without its trailing slashes, then `route`: a new string the
 * caller frees, or NULL when memory is short. */
char *tz_http_url(const char *base_url, const char *route);

/* GETs url (body NULL) or POSTs `body` (JSON text, Content-Type
 * application/json) to it, with "Authorization: Bearer <token>" when
 * token is not NULL; 5 s to connect, timeout_s in all; an answer longer
 * than max bytes fails. TZ_OK with *out the parsed answer (a new
 * reference to any JSON value); TZ_EHTTP when the transfer fails or the
 * status is 400 or above ("HTTP error: <METHOD> <url>: status <n>: <the
 * answer's first 200 bytes>"); TZ_EPARSE when the answer is not JSON;
 * TZ_ENOMEM. The token is wiped from the memory it was copied to. */
tz_status tz_http_json(const char *url, const char *token, const char *body, long timeout_s,
                       size_t max, json_t **out, tz_error *err) TZ_WUR;

#endif
