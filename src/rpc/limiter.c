/* The latency-gradient concurrency limiter (limiter.h). */
#include "rpc/limiter.h"

#include <math.h>
#include <stddef.h>

#define GRADIENT_FLOOR 0.5
#define LOCAL_SLACK 0.002 /* seconds */

static double clamp(const tz_limiter *l, double x)
{
    if (x < l->cfg.min)
        x = l->cfg.min;
    if (x > l->cfg.max)
        x = l->cfg.max;
    return x;
}

void tz_limiter_init(tz_limiter *l, const tz_limiter_cfg *cfg)
{
    tz_limiter_cfg c = cfg ? *cfg : (tz_limiter_cfg){0};
    if (c.min == 0)
        c.min = 1;
    if (c.max == 0)
        c.max = TZ_LIMITER_DEFAULT_MAX;
    if (c.max > TZ_LIMITER_HARD_MAX)
        c.max = TZ_LIMITER_HARD_MAX;
    if (c.min > c.max)
        c.min = c.max;
    if (c.initial == 0)
        c.initial = TZ_LIMITER_INITIAL;
    if (c.tolerance <= 1.0)
        c.tolerance = 1.3;
    *l = (tz_limiter){.cfg = c, .slow_start = true};
    l->limit = clamp(l, c.initial);
}

unsigned tz_limiter_limit(const tz_limiter *l)
{
    return (unsigned)clamp(l, floor(l->limit));
}

static void end_round(tz_limiter *l)
{
    /* the round's slowest answer is left out: one answer that waited on
     * the client (a descheduled process) does not move the limit; queueing
     * at the node slows them all */
    double mean = l->round_n >= 4 ? (l->round_sum - l->round_max) / (double)(l->round_n - 1)
                                  : l->round_sum / (double)l->round_n;
    l->round_n = 0;
    l->round_sum = l->round_max = 0;
    /* Not queueing: within the tolerance of the lowest latency, or within
     * LOCAL_SLACK of it (on a local node the lowest is a fraction of a
     * millisecond and scheduling jitter alone exceeds any ratio). */
    double ok = l->min_rtt * l->cfg.tolerance;
    if (ok < l->min_rtt + LOCAL_SLACK)
        ok = l->min_rtt + LOCAL_SLACK;
    if (l->slow_start) {
        if (mean <= ok) {
            l->limit = clamp(l, l->limit * 2);
            if (l->limit >= l->cfg.max)
                l->slow_start = false;
            return;
        }
        l->slow_start = false;
    }
    double gradient = ok / mean;
    if (gradient > 1.0)
        gradient = 1.0;
    if (gradient < GRADIENT_FLOOR)
        gradient = GRADIENT_FLOOR;
    /* Growth of sqrt(limit) per round while not queueing; when queueing,
     * the gradient takes away more than that. */
    l->limit = clamp(l, l->limit * gradient + (gradient >= 1.0 ? sqrt(l->limit) : 0.0));
}

void tz_limiter_sample(tz_limiter *l, double rtt)
{
    if (!(rtt > 0))
        return;
    l->samples++;
    if (l->drop_guard)
        l->drop_guard--;
    /* The lowest latency of the run is the node's idle latency: it is
     * never forgotten (forgetting it would let queueing ratchet up). */
    if (l->min_rtt == 0 || rtt < l->min_rtt)
        l->min_rtt = rtt;
    l->round_n++;
    l->round_sum += rtt;
    if (rtt > l->round_max)
        l->round_max = rtt;
    double round = floor(l->limit);
    if (round < TZ_LIMITER_MIN_ROUND)
        round = TZ_LIMITER_MIN_ROUND;
    if ((double)l->round_n >= round)
        end_round(l);
}

void tz_limiter_drop(tz_limiter *l)
{
    l->drops++;
    l->slow_start = false;
    if (l->drop_guard)
        return;
    l->limit = clamp(l, l->limit / 2);
    l->drop_guard = (uint64_t)floor(l->limit);
    l->round_n = 0;
    l->round_sum = l->round_max = 0;
}

void tz_limiter_cap(tz_limiter *l, unsigned max)
{
    if (max < 1)
        max = 1;
    if (max < l->cfg.max)
        l->cfg.max = max;
    if (l->cfg.min > l->cfg.max)
        l->cfg.min = l->cfg.max;
    l->limit = clamp(l, l->limit);
    if (l->limit >= l->cfg.max)
        l->slow_start = false;
}
