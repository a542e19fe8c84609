/* Deadlines a client cannot extend, for the HTTP connections of
 * tzel-walletd and tzel-detect.
 *
 * Each connection is registered when it is accepted. While it waits for a
 * request (from its opening, or from the end of its previous answer) it
 * has an absolute deadline: the whole request, headers and body, must have
 * arrived by then. Sending bytes does not move the deadline, so a client
 * that trickles one byte at a time is cut off like an idle one. A sweeper
 * thread shuts each late connection down (shutdown(2), never close: the
 * HTTP server owns the descriptor and closes it when it sees the end of
 * the stream). When `evict_at` connections are registered, each new one
 * makes the waiting connection nearest its deadline go at once, so a
 * crowd of idle clients cannot keep a new one out until their deadlines.
 *
 * All functions are thread-safe. */
#ifndef TZ_NET_CONNS_H
#define TZ_NET_CONNS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct tz_conns tz_conns;
typedef struct tz_conn tz_conn;

typedef struct tz_conns_stats {
    size_t open;            /* registered now */
    uint64_t accepted;      /* registered since start */
    uint64_t timed_out;     /* shut down at their deadline */
    uint64_t evicted;       /* shut down to make room */
} tz_conns_stats;

/* Starts the sweeper: a request must be complete within `wait_ms` of the
 * moment its connection starts waiting for it; at `evict_at` registered
 * connections (>= 1) a new one evicts the oldest waiting one. Returns
 * TZ_OK and *out, TZ_ENOMEM, or TZ_EIO when the thread cannot start. */
tz_status tz_conns_start(int64_t wait_ms, size_t evict_at, tz_conns **out, tz_error *err) TZ_WUR;

/* Registers the connected socket `fd`, waiting for its first request.
 * Returns its record (owned by the registry until tz_conns_remove), or
 * NULL when memory is short: the socket is then shut down at once. */
tz_conn *tz_conns_add(tz_conns *cs, int fd);

/* The connection's request is complete and being answered: no deadline
 * until tz_conns_wait. NULL: no-op. */
void tz_conns_busy(tz_conns *cs, tz_conn *c);

/* The connection's answer is sent; it waits for its next request with a
 * fresh deadline. NULL: no-op. */
void tz_conns_wait(tz_conns *cs, tz_conn *c);

/* Forgets the connection (the server is about to close its socket: call
 * this before the close, so the sweeper never touches a reused
 * descriptor). Frees `c`. NULL: no-op. */
void tz_conns_remove(tz_conns *cs, tz_conn *c);

/* The counters so far. */
tz_conns_stats tz_conns_get_stats(tz_conns *cs);

/* Stops the sweeper and frees the registry (records still registered are
 * freed too; their sockets are left alone). NULL: no-op. */
void tz_conns_stop(tz_conns *cs);

#endif
