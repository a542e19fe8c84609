/* The concurrency limiter on synthetic nodes: it grows on an idle node
 * (slow start to the cap within a few round trips), settles where a
 * saturated node starts queueing (most of its capacity, latency near the
 * idle one), halves on a refusal (once per congestion event), and never
 * leaves [min, max]. */
#include <math.h>

#include "rpc/limiter.h"
#include "tz_test.h"

/* A node serving `capacity` requests per second with `base` latency when
 * idle: with L requests in flight, each takes max(base, L / capacity). One
 * call is one round trip: every request in flight completes once. Returns
 * the latency of that round. */
static double round_trip(tz_limiter *l, double base, double capacity)
{
    unsigned n = tz_limiter_limit(l);
    double rtt = fmax(base, (double)n / capacity);
    for (unsigned i = 0; i < n; i++)
        tz_limiter_sample(l, rtt);
    return rtt;
}

static void test_idle_grows(void)
{
    tz_limiter l;
    tz_limiter_init(&l, NULL);
    CHECK(tz_limiter_limit(&l) == TZ_LIMITER_INITIAL);
    int rounds = 0;
    while (tz_limiter_limit(&l) < TZ_LIMITER_DEFAULT_MAX && rounds < 50) {
        round_trip(&l, 0.040, 1e9);
        rounds++;
    }
    /* 8 -> 16 -> 32 -> 64: three round trips of slow start */
    CHECK_MSG(tz_limiter_limit(&l) == TZ_LIMITER_DEFAULT_MAX && rounds == 3, "%u after %d",
              tz_limiter_limit(&l), rounds);
    for (int i = 0; i < 200; i++)
        round_trip(&l, 0.040, 1e9);
    CHECK(tz_limiter_limit(&l) == TZ_LIMITER_DEFAULT_MAX);
}

/* A local node: 0.2 ms round trips with jitter of up to 1 ms reach the cap
 * (the jitter is not queueing). */
static void test_local_jitter_grows(void)
{
    tz_limiter l;
    tz_limiter_init(&l, NULL);
    unsigned seed = 1;
    for (int i = 0; i < 60; i++) {
        unsigned n = tz_limiter_limit(&l);
        for (unsigned k = 0; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            tz_limiter_sample(&l, 0.0002 + (double)(seed >> 16 & 1023) / 1023.0 * 0.001);
        }
    }
    CHECK_MSG(tz_limiter_limit(&l) == TZ_LIMITER_DEFAULT_MAX, "%u", tz_limiter_limit(&l));
}

static void test_saturated_settles(void)
{
    /* knee at 500 req/s x 40 ms = 20 in flight */
    const double base = 0.040, cap = 500;
    tz_limiter l;
    tz_limiter_init(&l, NULL);
    double thr = 0, lat = 0;
    unsigned lo = 1000, hi = 0;
    for (int i = 0; i < 400; i++) {
        unsigned n = tz_limiter_limit(&l);
        double rtt = round_trip(&l, base, cap);
        if (i >= 200) { /* after it settled */
            thr += n / rtt;
            lat += rtt;
            lo = n < lo ? n : lo;
            hi = n > hi ? n : hi;
        }
    }
    thr /= 200;
    lat /= 200;
    CHECK_MSG(thr >= 0.85 * cap, "throughput %.0f of %.0f", thr, cap);
    CHECK_MSG(lat <= 1.5 * base, "latency %.3f s vs idle %.3f s", lat, base);
    CHECK_MSG(lo >= 17 && hi <= 30, "limit in [%u, %u]", lo, hi);
}

static void test_drop_halves_once(void)
{
    tz_limiter l;
    tz_limiter_init(&l, NULL);
    for (int i = 0; i < 10; i++)
        round_trip(&l, 0.040, 1e9);
    CHECK(tz_limiter_limit(&l) == 64);
    tz_limiter_drop(&l);
    CHECK(tz_limiter_limit(&l) == 32);
    tz_limiter_drop(&l); /* same congestion event */
    tz_limiter_drop(&l);
    CHECK(tz_limiter_limit(&l) == 32);
    round_trip(&l, 0.040, 1e9); /* a round later, a new event halves again */
    unsigned before = tz_limiter_limit(&l);
    tz_limiter_drop(&l);
    CHECK_MSG(tz_limiter_limit(&l) == before / 2, "%u -> %u", before, tz_limiter_limit(&l));
    /* no slow start after a drop: growth is additive */
    unsigned a = tz_limiter_limit(&l);
    round_trip(&l, 0.040, 1e9);
    round_trip(&l, 0.040, 1e9);
    CHECK_MSG(tz_limiter_limit(&l) < 2 * a, "%u -> %u", a, tz_limiter_limit(&l));
    /* repeated refusals bottom out at min */
    for (int i = 0; i < 40; i++) {
        tz_limiter_drop(&l);
        round_trip(&l, 0.040, 1e9);
    }
    tz_limiter_drop(&l);
    CHECK(tz_limiter_limit(&l) >= 1);
}

static void test_bounds(void)
{
    tz_limiter l;
    tz_limiter_cfg c = {.max = 24};
    tz_limiter_init(&l, &c);
    unsigned peak = 0;
    for (int i = 0; i < 300; i++) {
        round_trip(&l, 0.010, 1e9);
        peak = tz_limiter_limit(&l) > peak ? tz_limiter_limit(&l) : peak;
    }
    CHECK_MSG(peak == 24, "peak %u", peak);
    tz_limiter_cfg big = {.max = 1000, .initial = 500, .min = 3};
    tz_limiter_init(&l, &big);
    CHECK(l.cfg.max == TZ_LIMITER_HARD_MAX && tz_limiter_limit(&l) == TZ_LIMITER_HARD_MAX);
    for (int i = 0; i < 50; i++) {
        tz_limiter_drop(&l);
        round_trip(&l, 0.010, 1e9);
    }
    CHECK(tz_limiter_limit(&l) >= 3);
    /* a latency that climbs without end drives it down, never below min */
    tz_limiter_init(&l, &(tz_limiter_cfg){.min = 2});
    double rtt = 0.01;
    for (int i = 0; i < 300; i++, rtt *= 1.05)
        for (unsigned k = 0; k < tz_limiter_limit(&l); k++)
            tz_limiter_sample(&l, rtt);
    CHECK_MSG(tz_limiter_limit(&l) <= 4 && tz_limiter_limit(&l) >= 2, "%u",
              tz_limiter_limit(&l));
    tz_limiter_sample(&l, 0);
    tz_limiter_sample(&l, -1);
    tz_limiter_sample(&l, NAN);
    CHECK(tz_limiter_limit(&l) >= 2);
}

/* A node that accepts 24 connections: once capped, the limit never
 * climbs above 24 on an idle node, stays below it when latency grows, and
 * a cap never raises the ceiling. */
static void test_cap(void)
{
    tz_limiter l;
    tz_limiter_init(&l, NULL);
    for (int i = 0; i < 5; i++)
        round_trip(&l, 0.010, 1e9);
    CHECK(tz_limiter_limit(&l) == 64);
    tz_limiter_cap(&l, 24);
    CHECK_MSG(tz_limiter_limit(&l) == 24 && !l.slow_start, "%u", tz_limiter_limit(&l));
    unsigned peak = 0;
    for (int i = 0; i < 100; i++) {
        round_trip(&l, 0.010, 1e9);
        peak = tz_limiter_limit(&l) > peak ? tz_limiter_limit(&l) : peak;
    }
    CHECK_MSG(peak == 24, "peak %u after the cap", peak);
    tz_limiter_cap(&l, 100);
    for (int i = 0; i < 20; i++)
        round_trip(&l, 0.010, 1e9);
    CHECK_MSG(tz_limiter_limit(&l) == 24, "a higher cap raised it to %u", tz_limiter_limit(&l));
    tz_limiter_cap(&l, 0);
    CHECK(tz_limiter_limit(&l) == 1);
}

/* A small limit (4, below TZ_LIMITER_MIN_ROUND) is not halved by one
 * slow answer among normal ones: a round is 8 answers and its slowest is
 * left out. Queueing, which slows every answer, still shrinks it. */
static void test_small_round(void)
{
    tz_limiter l;
    tz_limiter_init(&l, &(tz_limiter_cfg){.initial = 4, .max = 4});
    for (int i = 0; i < 16; i++)
        tz_limiter_sample(&l, 0.010);
    CHECK(tz_limiter_limit(&l) == 4 && !l.slow_start);
    for (int r = 0; r < 5; r++) {
        tz_limiter_sample(&l, 0.060);
        for (int i = 0; i < 7; i++)
            tz_limiter_sample(&l, 0.010);
        CHECK_MSG(tz_limiter_limit(&l) == 4, "4 -> %u on one slow answer in 8",
                  tz_limiter_limit(&l));
    }
    for (int i = 0; i < 8; i++)
        tz_limiter_sample(&l, 0.030);
    CHECK_MSG(tz_limiter_limit(&l) <= 2, "4 -> %u when every answer is 3x slower",
              tz_limiter_limit(&l));
}

int main(void)
{
    test_idle_grows();
    test_local_jitter_grows();
    test_saturated_settles();
    test_drop_halves_once();
    test_bounds();
    test_cap();
    test_small_round();
    return tz_test_done("limiter");
}
