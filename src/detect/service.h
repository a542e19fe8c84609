/* tzel-detect's service: the watch wallets it serves, the round (one pass
 * over the chain for all of them, one round at a time) and its HTTP API
 * (libmicrohttpd on one event loop; slow routes on bounded workers;
 * request deadlines clients cannot extend):
 *
 *   GET  /healthz                 "ok"
 *   GET  /v1/status[?wallet=N]    the wallet's watch status
 *   POST /v1/sync[?wallet=N]      a round now: {"summary": {"found",
 *                                 "next_cursor"}, "status": {...}}; 502 and
 *                                 the error in words when it fails
 *   GET  /v1/wallets              every wallet: {"wallets": [{"name",
 *                                 "status"}]}
 *
 * N is the wallet's file name; with one wallet it may be left out. With a
 * token every /v1 route needs "Authorization: Bearer <token>" (401). */
#ifndef TZ_DETECT_SERVICE_H
#define TZ_DETECT_SERVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/status.h"
#include "pass.h"
#include "rpc/rpc.h"
#include "sync/sync.h"

typedef struct tz_detect_svc {
    tz_detect_item *items;     /* one per wallet, paths resolved */
    const char **names;        /* their file names */
    size_t n;
    tz_rpc *rpc;
    tz_sync_config cfg;
    const char *token;         /* NULL: no token (loopback only) */
    unsigned request_timeout_secs; /* a request's deadline (0: the default, 10 s) */
    volatile int stop;         /* raised by SIGTERM: the round ends at a checkpoint */
    pthread_mutex_t round_mu;  /* one round at a time */
    uint64_t rounds;
    struct MHD_Daemon *mhd;
    struct tz_conns *conns;    /* request deadlines of the HTTP connections */
    pthread_mutex_t slow_mu;   /* the workers answering slow routes: */
    pthread_cond_t slow_cv;
    unsigned slow_running;     /* how many run now */
    bool slow_closed;          /* stopping: no new one */
} tz_detect_svc;

/* Runs one round for every wallet (waits for a round in progress first).
 * Returns the pass's status; the items hold each wallet's outcome, and
 * when `out` is not NULL item `which` is copied into it before another
 * round can start. */
tz_status tz_detect_round(tz_detect_svc *s, size_t which, tz_detect_item *out,
                          tz_error *err) TZ_WUR;

/* Starts the HTTP API on `addr`; *port receives the bound port. TZ_OK,
 * TZ_EIO (cannot listen: message says why), TZ_ENOMEM. Stop it with
 * tz_detect_http_stop, which waits for the workers in progress (raise
 * s->stop first so that a round ends at its next checkpoint). */
tz_status tz_detect_http_start(tz_detect_svc *s, const struct sockaddr *addr, uint16_t *port,
                               tz_error *err) TZ_WUR;
void tz_detect_http_stop(tz_detect_svc *s);

#endif
