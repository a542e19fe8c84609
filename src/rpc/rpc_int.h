/* Internal to src/rpc (not part of the API; include rpc/rpc.h instead).
 *
 * What the client core (rpc.c) shares with the reads (reads.c), the note
 * fetch (notes.c) and the operator client (operator.c): the transfer and
 * client structures, the event loop, URL checks, and the one classifier of
 * answers with the body parsers behind it. Every message these functions
 * write names the URL. */
#ifndef TZ_RPC_RPC_INT_H
#define TZ_RPC_RPC_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "rpc/limiter.h"
#include "rpc/rpc.h"

#define TZ_RPC_URL_MAX 768
#define TZ_RPC_BASE_MAX 256
/* Largest body we read: a 4 MiB value in hex, quoted, plus slack. */
#define TZ_RPC_BODY_MAX ((size_t)TZ_RPC_MAX_VALUE * 2 + 4096)

enum { TZ_RPC_VALUES_UNKNOWN = -1, TZ_RPC_VALUES_NO = 0, TZ_RPC_VALUES_YES = 1 };

/* One easy handle of the pool and the request it carries. */
typedef struct tz_rpc_xfer {
    CURL *easy;
    bool busy;
    char url[TZ_RPC_URL_MAX];
    char errbuf[CURL_ERROR_SIZE];
    tz_buf body; /* capped at TZ_RPC_BODY_MAX (truncate mode: `dropped` means too big) */
    long http;
    double t_start;  /* when the request was issued (tz_mono_secs) */
    double t_first;  /* when it was first issued (retries keep it): the
                        request's whole time is bounded by the client's timeout */
    bool retry;      /* abandoned on a connection the node did not accept:
                        to issue again, unchanged */
    /* what the request is for, set by the operation */
    size_t slot;
    uint32_t phase;  /* the fetch phase (P_*) the request belongs to */
    uint32_t chunk;
} tz_rpc_xfer;

struct tz_rpc {
    char base[TZ_RPC_BASE_MAX];
    unsigned conc;      /* easy handles in the pool: the most ever in flight */
    bool adaptive;      /* in flight: the limiter's limit, else conc */
    tz_limiter lim;
    unsigned conn_ceiling;      /* 0, or the connections the node accepted
                                   when it left others unaccepted: in
                                   flight is held to it (both modes) */
    uint64_t conns_answered;    /* new connections the node answered on */
    unsigned sockets_open;      /* connections open now (curl's socket
                                   callbacks) */
    double rtt_min;             /* lowest round trip seen (s), 0 before any */
    double answered_issue_max;  /* latest issue time (tz_mono_secs) of a
                                   request that was answered */
    _Atomic unsigned limit_now; /* read by other threads (progress) */
    CURLM *multi;
    tz_rpc_xfer *x;
    volatile int *cancel;
    bool use_values;
    int values_state;
    unsigned timeout_secs; /* a request's whole time, retries included */
    tz_rpc_stats stats;
};

/* An operation: a small state machine driven by tz_rpc_run. */
typedef struct tz_rpc_op {
    /* Fills x->url, x->slot, x->phase, x->chunk for the next request to
     * issue. Returns true if there is one. */
    bool (*next)(void *ctx, tz_rpc *c, tz_rpc_xfer *x);
    /* Consumes a finished transfer (HTTP status in x->http, body in
     * x->body). A non-zero return ends the operation with that error. */
    tz_status (*done)(void *ctx, tz_rpc *c, tz_rpc_xfer *x, tz_error *err);
    void *ctx;
} tz_rpc_op;

/* Runs `o` until `next` has nothing more and every transfer is done
 * (TZ_OK), or until the first error, cancellation (TZ_ECANCEL) or failed
 * `done`: then every in-flight transfer is abandoned, not awaited. Transfer
 * errors name the URL and curl's reason; a body above TZ_RPC_BODY_MAX is
 * TZ_ENOMEM. */
tz_status tz_rpc_run(tz_rpc *c, const tz_rpc_op *o, tz_error *err) TZ_WUR;

/* libcurl write callback appending to the tz_buf `userp`. Returns nmemb x
 * sz, or 0 (the transfer fails with CURLE_WRITE_ERROR) when the buffer
 * refuses the bytes or, in truncate mode, drops some past its `max`: the
 * pool's buffers are in truncate mode so that `dropped` tells a body too
 * big from memory running short. */
size_t tz_rpc_on_body(char *data, size_t sz, size_t nmemb, void *userp);

/* Runs curl_global_init once per process. TZ_OK, or TZ_EHTTP (err filled). */
tz_status tz_rpc_global_init(tz_error *err) TZ_WUR;

/* A block reference: 1..63 ASCII letters and digits. */
bool tz_rpc_block_ok(const char *b);

/* TZ_OK, or TZ_EINVAL naming the bad block reference or durable key (key
 * may be NULL: not checked). */
tz_status tz_rpc_check_args(const char *block, const char *key, tz_error *err) TZ_WUR;

/* Writes the URL of the durable `route` (value, length, subkeys, values)
 * for `key` at `block` into out (TZ_RPC_URL_MAX bytes). */
void tz_rpc_durable_url(const tz_rpc *c, char *out, const char *block, const char *route,
                        const char *key);

/* ---- answers ----------------------------------------------------------- */

/* Which answers mean "absent" to a read (tz_rpc_classify). */
enum {
    TZ_RPC_ABSENT_404 = 1,  /* HTTP 404 */
    TZ_RPC_ABSENT_NULL = 2, /* HTTP 200 with a JSON null body */
};

/* The one place that sorts a finished transfer: HTTP 200 is a value
 * (*absent = false), unless `absent_if` has TZ_RPC_ABSENT_NULL and the body
 * is JSON null; HTTP 404 with TZ_RPC_ABSENT_404 is absent (*absent = true).
 * Any other status is TZ_EHTTP: "GET <url>: HTTP <status>: <body excerpt>". */
tz_status tz_rpc_classify(const tz_rpc_xfer *x, unsigned absent_if, bool *absent,
                          tz_error *err) TZ_WUR;

/* TZ_ENOTFOUND "GET <url>: key absent", " (HTTP 404)" added for a 404. */
tz_status tz_rpc_absent_error(const tz_rpc_xfer *x, tz_error *err);

/* " (HTTP 404)" when the transfer's absence was a 404, else "". */
const char *tz_rpc_absent_how(const tz_rpc_xfer *x);

/* Locates the hex text of a `value` body that is not null: a JSON string
 * (optionally 0x-prefixed) or bare hex, at most TZ_RPC_MAX_VALUE bytes.
 * *hex points into x->body. TZ_EPARSE or TZ_ENOMEM (too long) otherwise. */
tz_status tz_rpc_body_hex(const tz_rpc_xfer *x, const char **hex, size_t *hexlen,
                          tz_error *err) TZ_WUR;

/* Decodes `hexlen` validated hex digits into a fresh buffer (>= 1 byte
 * allocated) the caller frees; *out and *len untouched on failure. */
tz_status tz_rpc_hex_dup(const char *hex, size_t hexlen, uint8_t **out, size_t *len,
                         const char *url, tz_error *err) TZ_WUR;

/* Parses the body as JSON (any value). Returns it (the caller decrefs), or
 * NULL with *st = TZ_EPARSE and err filled. */
json_t *tz_rpc_body_json(const tz_rpc_xfer *x, tz_error *err, tz_status *st);

/* ---- body parsers (reads.c) --------------------------------------------
 * Each reads the body of an answer tz_rpc_classify took as a value (x->url
 * names it in messages) and writes its output only on TZ_OK; otherwise
 * TZ_EPARSE (TZ_ENOMEM where noted). Also the fuzz targets' entry points
 * (tests/fuzz/fuzz_rpc_body.c). */

/* `value`: the bytes of the hex body (tz_rpc_body_hex, tz_rpc_hex_dup):
 * a fresh buffer in *out (the caller frees) and its length in *len;
 * TZ_ENOMEM for a value over TZ_RPC_MAX_VALUE or memory short. */
tz_status tz_rpc_value_bytes(const tz_rpc_xfer *x, uint8_t **out, size_t *len,
                             tz_error *err) TZ_WUR;

/* `length`: a decimal string or a non-negative JSON integer. */
tz_status tz_rpc_parse_length(const tz_rpc_xfer *x, uint64_t *out, tz_error *err) TZ_WUR;

/* `subkeys`: a JSON array of strings. *names receives a malloc'd array
 * (NULL if that allocation failed: TZ_ENOMEM) of the *cnt names copied so
 * far (*cnt starts at 0), also on failure: the caller releases it with
 * tz_rpc_free_names. */
tz_status tz_rpc_parse_names(const tz_rpc_xfer *x, char ***names, size_t *cnt,
                             tz_error *err) TZ_WUR;

/* `head/hash`: a JSON string, a block reference starting with 'B'. */
tz_status tz_rpc_parse_head_hash(const tz_rpc_xfer *x, char out[TZ_BLOCK_HASH_MAX],
                                 tz_error *err) TZ_WUR;

/* `smart_rollup_address`: a JSON string "sr1..." of letters and digits. */
tz_status tz_rpc_parse_rollup_address(const tz_rpc_xfer *x, char out[TZ_ROLLUP_ADDRESS_MAX],
                                      tz_error *err) TZ_WUR;

/* `level`: a JSON integer. */
tz_status tz_rpc_parse_level(const tz_rpc_xfer *x, int64_t *out, tz_error *err) TZ_WUR;

#endif
