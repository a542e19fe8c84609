/* Rollup node client for the Octez durable-state RPC (ROLLUP_STATE.md).
 *
 * One tz_rpc owns a libcurl multi handle and a connection pool that lives
 * as long as the client (reuse across a whole sync and across watch rounds).
 * Never more TCP connections than `concurrency`. Every read names a block
 * (a pinned `B…` hash from tz_rpc_head_hash); nothing re-resolves `head`
 * behind the caller's back. Errors carry the URL and HTTP status.
 *
 * Not thread-safe: one thread drives a client at a time. */
#ifndef TZ_RPC_RPC_H
#define TZ_RPC_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"

#define TZ_RPC_MAX_CONCURRENCY 128
#define TZ_RPC_MAX_VALUE (4u << 20)     /* values above 4 MiB are refused */
#define TZ_RPC_MAX_NOTE (64u << 10)     /* a chunked note claiming more is refused */
#define TZ_BLOCK_HASH_MAX 64
#define TZ_STATE_PREFIX "/tzel/v1/state/"

typedef struct tz_rpc tz_rpc;

typedef struct tz_rpc_stats {
    uint64_t requests;          /* HTTP requests completed or abandoned */
    uint64_t connections;       /* TCP connections opened */
    uint64_t bytes;             /* response body bytes received */
    int values_route;           /* -1 not probed yet, 0 not served, 1 served */
} tz_rpc_stats;

/* Creates a client for `base_url` (e.g. "http://127.0.0.1:8932") with up to
 * `concurrency` (1..128) requests in flight. Returns NULL and fills err on
 * failure. The caller owns the client; release with tz_rpc_free(). */
tz_rpc *tz_rpc_new(const char *base_url, unsigned concurrency, tz_error *err);
void tz_rpc_free(tz_rpc *c);

/* Adaptive concurrency (rpc/limiter.h, docs/sync.md): instead of the
 * fixed `concurrency` given to tz_rpc_new, keep as many requests in flight
 * as the limiter allows (starting at 8, never above that `concurrency`),
 * adjusted by every answer's latency; 429/503 answers, timeouts, resets
 * and connections the node does not accept shrink it. Errors still end
 * the operation as with a fixed concurrency. The limit carries over
 * across operations and watch rounds.
 *
 * In both modes, a request on a new connection that has no answer after
 * TZ_RPC_ACCEPT_WAIT_SECS (or 10 of the lowest round trips, if longer)
 * while a request issued after it was answered went to a connection the
 * node did not accept (Octez leaves those beyond about 100 in its listen
 * backlog, where they would wait forever): it is abandoned, its connection
 * closed, and issued again, and from then on the requests in flight are
 * held to the connections still open. A node that is merely slow is left
 * alone. */
#define TZ_RPC_ACCEPT_WAIT_SECS 1.0
void tz_rpc_set_adaptive(tz_rpc *c, bool on);

/* The number of requests the client may have in flight now: the
 * limiter's current limit when adaptive, else the fixed concurrency, in
 * both cases at most the connections the node accepted once it left some
 * unaccepted. Safe to call from any thread. */
unsigned tz_rpc_inflight_limit(const tz_rpc *c);

/* The longest a request may take, from its first issue to its last byte,
 * re-issues after an unaccepted connection included: a node that accepts
 * and never answers, or drips its body, fails the operation with TZ_EHTTP
 * "GET <url>: no complete answer within N s (--rpc-timeout-secs)".
 * Default TZ_RPC_TIMEOUT_DEFAULT; `secs` 1..TZ_RPC_TIMEOUT_MAX (other
 * values are clamped). */
#define TZ_RPC_TIMEOUT_DEFAULT 30u
#define TZ_RPC_TIMEOUT_MAX 86400u
void tz_rpc_set_timeout(tz_rpc *c, unsigned secs);

/* Asynchronous cancel flag: when *flag becomes true, in-flight transfers
 * are abandoned (not awaited) and the current call returns TZ_ECANCEL. */
void tz_rpc_set_cancel_flag(tz_rpc *c, volatile int *flag);

/* Copies the counters accumulated since tz_rpc_new into *out. */
void tz_rpc_get_stats(const tz_rpc *c, tz_rpc_stats *out);

/* Allows (default) or forbids the `values` route in tz_rpc_fetch_notes.
 * Forbidding it makes every note cost `len` + chunks (bench, tests). Once a
 * node answered `values` with 401 or 404, the client never asks again,
 * whatever this says. */
void tz_rpc_set_use_values(tz_rpc *c, bool use);

/* Pins the head: writes the `B…` block hash into out (NUL-terminated). */
tz_status tz_rpc_head_hash(tz_rpc *c, char out[TZ_BLOCK_HASH_MAX], tz_error *err) TZ_WUR;

/* Reads the durable value at `key` (full path, e.g.
 * "/tzel/v1/state/tree/size") at `block`. On success *out is a malloc'd
 * buffer of *len bytes owned by the caller. An absent key (null or 404) is
 * TZ_ENOTFOUND with *out untouched. Accepts 0x-prefixed and bare hex. An
 * answer past the body cap or a value above TZ_RPC_MAX_VALUE is the node's
 * error: TZ_EPARSE (the transfer is cut, never read whole). */
tz_status tz_rpc_read_value(tz_rpc *c, const char *block, const char *key,
                            uint8_t **out, size_t *len, tz_error *err) TZ_WUR;

/* Convenience readers for fixed-size values: u64le, felt. An absent key is
 * TZ_ENOTFOUND; a value of the wrong length is TZ_EPARSE. */
tz_status tz_rpc_read_u64(tz_rpc *c, const char *block, const char *key,
                          uint64_t *out, tz_error *err) TZ_WUR;
tz_status tz_rpc_read_felt(tz_rpc *c, const char *block, const char *key,
                           tz_felt *out, tz_error *err) TZ_WUR;

/* Reads many felts / u64 values concurrently (keys[i] -> out[i]); absent
 * keys set present[i] = false (present may be NULL: then absent is an
 * error). */
tz_status tz_rpc_read_felts(tz_rpc *c, const char *block, const char *const *keys,
                            size_t n, tz_felt *out, bool *present, tz_error *err) TZ_WUR;
tz_status tz_rpc_read_u64s(tz_rpc *c, const char *block, const char *const *keys,
                           size_t n, uint64_t *out, bool *present, tz_error *err) TZ_WUR;

/* Reads many raw values concurrently: keys[i] -> out[i] (malloc'd, at
 * least one byte allocated even for an empty value) and lens[i]. An absent
 * key leaves out[i] = NULL, lens[i] = 0, present[i] = false; an EMPTY value
 * is present[i] = true with lens[i] = 0 (deposit pools may read either way).
 * present may be NULL: then absent is TZ_ENOTFOUND. On success the caller
 * frees every out[i]; on failure every out[i] is NULL. */
tz_status tz_rpc_read_blobs(tz_rpc *c, const char *block, const char *const *keys,
                            size_t n, uint8_t **out, size_t *lens, bool *present,
                            tz_error *err) TZ_WUR;

/* `length` route: the byte length of the value at `key` (a JSON string of
 * decimal digits, or a JSON number). Absent: TZ_ENOTFOUND. */
tz_status tz_rpc_read_length(tz_rpc *c, const char *block, const char *key,
                             uint64_t *out, tz_error *err) TZ_WUR;

/* `subkeys` route: the names of the children of `key` (unsorted, as the
 * node lists them; "" for the node's own value). On success *names is a
 * malloc'd array of *n malloc'd strings: release with tz_rpc_free_names().
 * An absent key is an empty list. */
tz_status tz_rpc_read_subkeys(tz_rpc *c, const char *block, const char *key,
                              char ***names, size_t *n, tz_error *err) TZ_WUR;
void tz_rpc_free_names(char **names, size_t n);

/* `/global/smart_rollup_address`: the `sr1…` address (NUL-terminated). */
#define TZ_ROLLUP_ADDRESS_MAX 64
tz_status tz_rpc_rollup_address(tz_rpc *c, char out[TZ_ROLLUP_ADDRESS_MAX],
                                tz_error *err) TZ_WUR;

/* `/global/block/<block>/level`: the rollup block's level. */
tz_status tz_rpc_block_level(tz_rpc *c, const char *block, int64_t *out,
                             tz_error *err) TZ_WUR;

/* Called from the thread driving tz_rpc_fetch_notes for every complete
 * note, in completion order (not leaf order). `bytes` is valid only during
 * the call. Returning non-zero stops the fetch (in-flight requests are
 * dropped) and tz_rpc_fetch_notes returns TZ_ECANCEL. The callback may
 * block for back-pressure (transfers pause meanwhile) but must not call
 * back into the same client. */
typedef int (*tz_rpc_note_cb)(void *ctx, uint64_t index, const uint8_t *bytes, size_t len);

/* Fetches PublishedNote bytes for every index in [start, end) at `block`,
 * keeping up to `concurrency` requests in flight. A note laid out as every
 * PublishedNote is (3,487 bytes in chunks 0 to 3) costs ONE request when
 * the node serves `values` (the listing of notes/<i>/chunk) and FOUR
 * otherwise (the chunks, in parallel); `len` and the direct key are read
 * only when those chunks are not exactly a PublishedNote that decodes
 * (then the note costs what it did before, plus the guess). A note that is
 * absent while the range says it exists is an error. On error, in-flight
 * requests are cancelled and the message names the URL and status.
 *
 * Window: requests for notes already started are issued before new notes
 * are started, lowest index first, so completion stays close to leaf order
 * and at most 2 x concurrency notes are held at once, whatever the
 * range; a new note starts only less than 4 x concurrency past the lowest
 * note still in progress, so one slow answer cannot let delivery run ahead
 * of leaf order without bound. The first call on a client whose `values` support is unknown
 * sends one probe request alone before opening the window. Each note is
 * delivered exactly once; nothing is delivered after an error. To stop at a
 * given index, pass it as `end`, or return non-zero from the callback. */
tz_status tz_rpc_fetch_notes(tz_rpc *c, const char *block, uint64_t start, uint64_t end,
                             tz_rpc_note_cb cb, void *ctx, tz_error *err) TZ_WUR;

#endif
