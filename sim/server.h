/* The simulator's HTTP front: the Octez rollup-node routes over a
 * sim_chain, the /sim/ control API, fault injection, latency and counters.
 * libmicrohttpd with an internal epoll thread pool; latency is served by
 * suspending connections and resuming them from one timer thread. */
#ifndef TZ_SIM_SERVER_H
#define TZ_SIM_SERVER_H

#include <stdbool.h>

#include "chain.h"

typedef struct sim_server_opts {
    unsigned port;            /* 0: any free port */
    unsigned max_connections; /* MHD_OPTION_CONNECTION_LIMIT */
    unsigned latency_ms;
    unsigned capacity_rps;    /* the rollup routes serve at most this many
                                 requests per second in all (0: no limit) */
    unsigned http_threads;    /* MHD thread pool size (>= 1) */
    bool no_values;           /* `values` answers 404 (Octez < 21.3) */
    bool acl_secure;          /* `subkeys` and `values` answer 401 */
    const char *operator_token; /* bearer token of /v1/rollup/submissions
                                   (NULL: SIM_DEFAULT_OPERATOR_TOKEN) */
    unsigned operator_dal_polls; /* > 0: payloads above 4096 bytes go "dal"
                                    and read commitment_included this many
                                    times before submitted_to_l1 */
} sim_server_opts;

#define SIM_MAX_CAPACITY_RPS 1000000

/* The operator's bearer token unless --operator-token sets another. */
#define SIM_DEFAULT_OPERATOR_TOKEN "tzel-sim-operator-token"
/* The DAL fee the network profile announces (the producer's note value). */
#define SIM_DAL_FEE 1

typedef struct sim_server sim_server;

/* Starts serving chain c (borrowed; must outlive the server) on
 * 127.0.0.1. Writes the bound port into *port. Returns TZ_OK, or an error
 * with err filled (*out NULL). */
tz_status sim_server_start(sim_server **out, sim_chain *c, const sim_server_opts *o,
                           unsigned *port, tz_error *err) TZ_WUR;

/* Resumes delayed connections, stops the daemon and frees the server. */
void sim_server_stop(sim_server *s);

#endif
