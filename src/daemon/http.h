/* The daemon's HTTP API (libmicrohttpd, one event loop; nothing on it
 * waits, and no client can hold a connection past its request deadline:
 * docs/daemon.md "Hostile clients").
 *
 *   GET  /                      status page (no token)
 *   GET  /api/status            fast lane: sync progress, queue, last error
 *   GET  /api/balance           fast lane: `tzel-wallet balance` result
 *   GET  /api/addresses         fast lane: `tzel-wallet addresses` result
 *   POST /api/receive           slow lane job: a new payment address
 *   POST /api/deposit           slow lane job: {"amount": N}, prepare-only
 *   POST /api/jobs              slow lane job: {"args": [subcommand, ...]}
 *   GET  /api/jobs              recent jobs
 *   GET  /api/jobs/ID           one job
 *
 * Every /api route needs "Authorization: Bearer <token>" (401 otherwise);
 * errors are {"error":{"code","message"}}. */
#ifndef TZ_DAEMON_HTTP_H
#define TZ_DAEMON_HTTP_H

#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "core/status.h"
#include "lanes.h"
#include "net/token.h"

typedef struct tz_http tz_http;

/* Listens on `addr` and serves until tz_http_stop, at most
 * cfg->max_connections connections at once, each request due within
 * cfg->request_timeout_secs. `cfg`, `lanes` and `token` must outlive the
 * server. Sets *port to the bound port (useful
 * with port 0). Returns TZ_EIO when the address cannot be bound (message
 * names it) or TZ_ENOMEM. */
tz_status tz_http_start(const tz_wd_config *cfg, tz_lanes *lanes,
                        const char token[TZ_TOKEN_HEX_LEN + 1], const struct sockaddr *addr,
                        tz_http **out, uint16_t *port, tz_error *err) TZ_WUR;

/* Stops answering new requests (POSTs that create jobs are refused with
 * 503 from now on) without closing the listener. */
void tz_http_quiesce(tz_http *h);

/* Answers the reads still with the workers (503 when not started), closes
 * the listener and every connection, frees. NULL: no-op. */
void tz_http_stop(tz_http *h);

#endif
