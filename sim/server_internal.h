/* Private to the simulator's HTTP server, shared by its three files and
 * included by nothing else: server.c (the libmicrohttpd glue: request
 * bodies, latency, connections, delivering answers, and the answer
 * helpers below), server_rpc.c (the Octez routes over the durable state)
 * and server_control.c (the /sim/ control API). A route handler reads the
 * request and prepares its answer in a sim_req; server.c delivers it. */
#ifndef TZ_SIM_SERVER_INTERNAL_H
#define TZ_SIM_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "base/buf.h"
#include "server.h"

/* Routes as GET /sim/counters counts them. */
enum route {
    R_HASH,
    R_LEVEL,
    R_ADDRESS,
    R_LENGTH,
    R_VALUE,
    R_SUBKEYS,
    R_VALUES,
    R_SIM,
    R_NOT_FOUND,
    R_COUNT
};

#define SIM_MAX_FAULT_NOTES 64

/* How /sim/fault {"shape":...} lays one note out instead of len + chunks
 * 0..3 (ROLLUP_STATE.md): what a wallet's fallbacks must cope with. */
enum note_shape {
    SHAPE_NONE,
    SHAPE_UNDECODABLE, /* chunks of the right sizes; the tag is 0xffff, so the
                          bytes do not decode as a PublishedNote */
    SHAPE_NO_CHUNK0,   /* chunk 0 absent; len and chunks 1..3 present */
    SHAPE_SMALL,       /* a small unchunked note: SIM_SMALL_NOTE bytes (the
                          note's first) at notes/<i>, no len, no chunks */
};
#define SIM_SMALL_NOTE 100

/* Reads under notes/<i> by key, as GET /sim/counters "note_keys" counts them. */
enum note_key { NK_NOTE, NK_LEN, NK_CHUNK_DIR, NK_CHUNK, NK_COUNT };

/* The fault switches /sim/fault sets and the durable routes apply, under mu. */
typedef struct sim_faults {
    pthread_mutex_t mu;
    uint64_t ns_idx[SIM_MAX_FAULT_NOTES];   /* note index -> status */
    unsigned ns_status[SIM_MAX_FAULT_NOTES];
    size_t n_ns;
    unsigned next_status;                   /* the next next_status_n reads */
    uint64_t next_status_n;
    uint64_t drop_n, trunc_n;
    uint64_t malformed[SIM_MAX_FAULT_NOTES];
    size_t n_mal;
    uint64_t tamper[SIM_MAX_FAULT_NOTES];
    size_t n_tamper;
    uint64_t shape_idx[SIM_MAX_FAULT_NOTES];
    enum note_shape shape[SIM_MAX_FAULT_NOTES];
    size_t n_shape;
} sim_faults;

/* The hostile node modes /sim/hostile sets (server_hostile.c), under mu. */
typedef struct sim_hostile {
    pthread_mutex_t mu;
    bool hang, drip, forget_blocks, head_moves;
    uint64_t reset_n, malformed_n, redirect_n, huge_n;
    char wrong_key[256]; /* a value served one byte longer or shorter */
    int wrong_delta;
    bool has_missing, has_tree_size;
    uint64_t missing_note, tree_size;
} sim_hostile;

/* A suspended connection and when to resume it. */
typedef struct sim_pending {
    int64_t deadline; /* sim_now_us */
    struct MHD_Connection *conn;
} sim_pending;

/* The latency of rollup-node answers (arrival of the request to its
 * answer queued), in SIM_LAT_BUCKET_US buckets; the last one holds every
 * longer answer. */
#define SIM_LAT_BUCKET_US 50
#define SIM_LAT_BUCKETS 20000 /* up to 1 s */

typedef struct sim_latency_stats {
    atomic_uint_fast64_t n, sum_us, max_us;
    atomic_uint_fast64_t hist[SIM_LAT_BUCKETS];
} sim_latency_stats;

/* One operator submission, as GET /v1/rollup/submissions/{id} answers it. */
typedef struct sim_submission {
    char id[48];            /* sub-<ms>-<seq> */
    const char *kind;       /* static: transfer, unshield, shield */
    const char *status;     /* static: submitted_to_l1 or failed */
    char operation_hash[64];
    uint64_t published_level;
    char payload_hash[65];
    uint64_t payload_len;
    char *detail;           /* malloc'd */
    bool dal;               /* transport "dal" (else "direct_inbox") */
    unsigned pending_reads; /* status reads left showing commitment_included */
} sim_submission;

#define SIM_MAX_SUBMISSIONS 100000

struct sim_server {
    sim_chain *c;
    sim_server_opts o;
    struct MHD_Daemon *d;
    atomic_uint latency_ms;
    atomic_uint capacity_rps; /* 0: unlimited */

    atomic_uint_fast64_t req_count[R_COUNT];
    atomic_uint_fast64_t durable_reads, accepted, active, peak;
    atomic_uint_fast64_t note_keys[NK_COUNT];
    sim_latency_stats lat;

    sim_faults f;
    sim_hostile h;

    /* latency timer: a min-heap of suspended connections by deadline */
    pthread_t timer;
    bool timer_started;
    pthread_mutex_t tmu;
    pthread_cond_t tcv;
    sim_pending *heap;
    size_t nheap, heapcap;
    bool stopping;
    int64_t busy_until; /* capacity model: when the node's queue drains (us) */

    unsigned port;           /* the bound port */

    /* operator submissions, under smu */
    pthread_mutex_t smu;
    sim_submission *subs;
    size_t nsubs, subcap;
    uint64_t sub_seq;
};

/* How the prepared answer goes out: as is, not at all (the connection is
 * closed), or cut after half its body; the hostile modes: never (parked
 * until the faults are cleared, then closed), one byte per second, half
 * then a TCP reset, or as a redirect (the body is the Location). */
enum action { ACT_NORMAL, ACT_DROP, ACT_TRUNCATE, ACT_HANG, ACT_DRIP, ACT_RESET, ACT_REDIRECT };

#define SIM_MAX_BODY (16u << 20)

/* One request: its body, then the answer a route prepared. */
typedef struct sim_req {
    tz_buf body;       /* the request body, at most SIM_MAX_BODY bytes */
    int64_t arrival;   /* sim_now_us when the request's headers arrived */
    bool node_route;   /* an Octez route: capacity and latency stats apply */
    bool prepared;
    unsigned status;
    char *resp;        /* malloc'd answer body, or NULL for none */
    size_t resp_len;
    const char *ctype; /* static content type, or NULL */
    enum action act;
} sim_req;

/* ---------------------------------------------------------------- server.c */

/* Microseconds on the monotonic clock (base/clock.h's). */
int64_t sim_now_us(void);

/* The latency statistics as JSON: n, sum_ms, mean_ms, p50_ms, p90_ms,
 * p99_ms, max_ms (0 when nothing was answered). */
json_t *sim_latency_json(sim_server *s);

/* Zeroes the latency statistics. */
void sim_latency_reset(sim_server *s);

/* Each sim_reply_* replaces r's answer, freeing a previous one. */

/* Answers status with b's JSON plus "\n", taking b's bytes (b is empty
 * afterwards); an empty 500 when b failed. */
void sim_reply_buf(sim_req *r, unsigned status, tz_buf *b);

/* Answers status with an empty body and no content type. */
void sim_reply_empty(sim_req *r, unsigned status);

/* Answers status with msg as text/plain (an empty body when memory is
 * short). */
void sim_reply_text(sim_req *r, unsigned status, const char *msg);

/* Answers 500 with an Octez error list carrying msg:
 * [{"kind":"temporary","id":"failure","msg":...}] (sim_reply_buf). */
void sim_reply_failure(sim_req *r, const char *msg);

/* Answers status with o's compact JSON plus "\n", taking o's reference;
 * an empty 500 when memory is short. */
void sim_reply_json(sim_req *r, unsigned status, json_t *o);

/* Answers status with {"error":msg}. */
void sim_reply_error(sim_req *r, unsigned status, const char *msg);

/* Appends s as a JSON string literal (quotes, backslashes and control
 * characters escaped). A failure is left in b->failed. */
void sim_buf_jstr(tz_buf *b, const char *s);

/* Appends the lowercase hex of v[n] as a JSON string; `malformed` turns
 * its first two digits into "zz". A failure is left in b->failed. */
void sim_buf_hex(tz_buf *b, const uint8_t *v, size_t n, bool malformed);

/* True when the client of conn is on a loopback address. */
bool sim_conn_is_loopback(struct MHD_Connection *conn);

/* Suspends conn until `deadline` (tz_mono_ms), when the timer thread
 * resumes it. False (nothing done) when the server is stopping. */
bool sim_park(sim_server *s, struct MHD_Connection *conn, int64_t deadline);

/* Resumes now every connection parked beyond the next hour (the hung
 * ones). */
void sim_release_parked(sim_server *s);

/* ------------------------------------------------------- server_hostile.c */

void sim_hostile_init(sim_hostile *h);
void sim_hostile_destroy(sim_hostile *h);

/* POST /sim/hostile: sets one mode from `in` (400 on an unknown one). */
void sim_hostile_control(sim_server *s, sim_req *r, json_t *in);

/* Clears every hostile mode and closes the hung connections. */
void sim_hostile_clear(sim_server *s);

/* Applies the hostile modes to an Octez route `rt` (block: the block id,
 * NULL for routes without one) before it is answered. True when r is
 * answered (or hung); false to answer normally, possibly with r->act set
 * to drip or reset the answer on delivery. */
bool sim_hostile_rpc(sim_server *s, struct MHD_Connection *conn, sim_req *r, const char *url,
                     enum route rt, const char *block);

/* The response of a drip, reset or redirect answer (r->act), taking r's
 * body; NULL when memory is short. */
struct MHD_Response *sim_hostile_delivery(sim_server *s, struct MHD_Connection *conn,
                                          sim_req *r);

/* ------------------------------------------------------------ server_rpc.c */

/* Answers an Octez route (any url not under /sim/) into r: the head and
 * block routes, the rollup address and the durable reads, with the fault
 * switches applied and the request counted. Unknown routes answer 404. */
void sim_rpc_handle(sim_server *s, struct MHD_Connection *conn, sim_req *r, const char *url,
                    const char *method);

/* ------------------------------------------------------- server_operator.c */

/* Answers the operator API (url starts with "/v1/rollup/submissions"):
 * POST submits a kernel message, applied at once by the simulator's
 * kernel (a new block) before the answer; GET .../{id} answers a record.
 * Bearer token required (401). */
void sim_operator_handle(sim_server *s, struct MHD_Connection *conn, sim_req *r,
                         const char *url, const char *method);

/* Frees the submission records. */
void sim_operator_free(sim_server *s);

/* -------------------------------------------------------- server_control.c */

/* Answers a /sim/ control request into r (url starts with "/sim/"):
 * loopback clients only (403 otherwise), JSON bodies in and out. */
void sim_control_handle(sim_server *s, struct MHD_Connection *conn, sim_req *r, const char *url,
                        const char *method);

#endif
