/* How many requests to keep in flight against a rollup node: a latency-
 * gradient limiter (in the manner of TCP Vegas and Netflix's
 * concurrency-limits). It starts at `initial`, doubles every round trip
 * while the latency stays near the lowest seen (slow start, so a short
 * sync is not spent ramping up), then moves the limit by the gradient
 * between that lowest latency and the current one: it grows additively
 * while requests are not queueing at the node and shrinks when they are;
 * a refusal (HTTP 429/503, a timeout, a reset or a connection the node did
 * not accept) halves it. It never leaves [min, max].
 *
 * Pure arithmetic on the samples given: no clock, no I/O, no threads (the
 * caller serializes). docs/sync.md explains the constants. */
#ifndef TZ_RPC_LIMITER_H
#define TZ_RPC_LIMITER_H

#include <stdbool.h>
#include <stdint.h>

#define TZ_LIMITER_INITIAL 8
#define TZ_LIMITER_DEFAULT_MAX 64   /* below the Octez node's ~100 connections */
#define TZ_LIMITER_HARD_MAX 128
/* A round is at least this many samples, even below this limit: one slow
 * answer alone does not halve a small limit. */
#define TZ_LIMITER_MIN_ROUND 8

typedef struct tz_limiter_cfg {
    unsigned initial;   /* first limit (TZ_LIMITER_INITIAL when 0) */
    unsigned min;       /* floor (1 when 0) */
    unsigned max;       /* ceiling (TZ_LIMITER_DEFAULT_MAX when 0; at most 128) */
    double tolerance;   /* latency accepted as "not queueing", as a multiple
                           of the lowest seen (1.3 when 0) */
} tz_limiter_cfg;

typedef struct tz_limiter {
    tz_limiter_cfg cfg;
    double limit;         /* current limit (fractional: grows smoothly) */
    bool slow_start;
    double min_rtt;       /* lowest round-trip time seen (s), 0 before any */
    /* the round being measured: about `limit` completions */
    uint64_t round_n;
    double round_sum, round_max;
    uint64_t drop_guard;  /* completions to wait before another halving */
    uint64_t samples, drops;
} tz_limiter;

/* Initializes `l` from `cfg` (NULL: all defaults). */
void tz_limiter_init(tz_limiter *l, const tz_limiter_cfg *cfg);

/* The number of requests that may be in flight now, in [min, max]. */
unsigned tz_limiter_limit(const tz_limiter *l);

/* A request completed normally after `rtt` seconds (> 0). At the end of
 * each round (`limit` completions, at least TZ_LIMITER_MIN_ROUND) the
 * limit moves by the round's mean latency, its slowest answer left out:
 * doubled in slow
 * start while the round's mean latency is within the tolerance of the
 * lowest seen; otherwise limit = limit * gradient + sqrt(limit), the
 * gradient being min(1, tolerance * lowest / mean) (at least 0.5). */
void tz_limiter_sample(tz_limiter *l, double rtt);

/* The node refused or dropped a request (429, 503, timeout, reset,
 * connection not accepted): the limit halves (not below min), slow start
 * ends, and further drops are ignored for one round (one congestion
 * event, one halving). */
void tz_limiter_drop(tz_limiter *l);

/* The node holds no more than `max` requests in flight whatever the
 * latency (it accepts only that many connections): the ceiling becomes
 * min(its value, max) (not below min, nor 1), the limit is clamped to it,
 * and slow start ends once the limit is there. */
void tz_limiter_cap(tz_limiter *l, unsigned max);

#endif
