/* Tunables of a sync run: flag, then environment, then default. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/num.h"
#include "sync/sync.h"

/* Parses a positive decimal integer below 2^64 (surrounding blanks and a
 * leading '+' allowed). A value beyond u64 is refused, not clamped. */
static bool parse_positive(const char *s, uint64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '+')
        s++;
    size_t n = 0;
    while (isdigit((unsigned char)s[n]))
        n++;
    for (const char *t = s + n; *t; t++)
        if (!isspace((unsigned char)*t))
            return false;
    return tz_parse_u64_n(s, n, UINT64_MAX, out) && *out > 0;
}

/* Picks flag, else env, else nothing; `what` names the source for messages. */
static const char *pick(const char *flag, const char *flag_name, const char *env,
                        const char **what)
{
    if (flag) {
        *what = flag_name;
        return flag;
    }
    const char *e = getenv(env);
    if (e && *e) {
        *what = env;
        return e;
    }
    return NULL;
}

/* A request count in 1..TZ_RPC_MAX_CONCURRENCY from `s` (named `what`). */
static tz_status parse_conc(const char *s, const char *what, unsigned *out, tz_error *err)
{
    uint64_t v;
    if (!parse_positive(s, &v))
        return tz_error_set(err, TZ_EINVAL, "%s must be a positive integer (got \"%s\")", what,
                            s);
    if (v > TZ_RPC_MAX_CONCURRENCY)
        return tz_error_set(err, TZ_EINVAL,
                            "%s is %s, above the limit of %u requests in flight "
                            "(rollup nodes stop accepting connections near 100)",
                            what, s, (unsigned)TZ_RPC_MAX_CONCURRENCY);
    *out = (unsigned)v;
    return TZ_OK;
}

static bool is_auto(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = 4;
    if (strncasecmp(s, "auto", n) != 0)
        return false;
    for (s += n; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

tz_status tz_sync_config_resolve(const char *k_flag, const char *conc_flag,
                                 const char *max_conc_flag, const char *threads_flag,
                                 tz_sync_config *out, tz_error *err)
{
    tz_sync_config c = {.checkpoint_every = TZ_SYNC_DEFAULT_CHECKPOINT_EVERY,
                        .auto_concurrency = true,
                        .concurrency = TZ_SYNC_DEFAULT_MAX_CONCURRENCY};
    const char *what = NULL;
    uint64_t v;

    const char *s = pick(k_flag, "--checkpoint-every", "TZEL_SYNC_CHECKPOINT_EVERY", &what);
    if (s) {
        if (!parse_positive(s, &v))
            return tz_error_set(err, TZ_EINVAL,
                                "%s must be a positive integer (got \"%s\")", what, s);
        c.checkpoint_every = v;
    }

    tz_status st;
    s = pick(conc_flag, "--concurrency", "TZEL_SYNC_CONCURRENCY", &what);
    if (s && !is_auto(s)) {
        if (!parse_positive(s, &v))
            return tz_error_set(err, TZ_EINVAL,
                                "%s must be a positive integer or \"auto\" (got \"%s\")", what,
                                s);
        if ((st = parse_conc(s, what, &c.concurrency, err)))
            return st;
        c.auto_concurrency = false;
    }
    s = pick(max_conc_flag, "--max-concurrency", "TZEL_SYNC_MAX_CONCURRENCY", &what);
    if (s) {
        unsigned m;
        if ((st = parse_conc(s, what, &m, err)))
            return st;
        if (c.auto_concurrency)
            c.concurrency = m;
    }
    c.warn_concurrency = c.concurrency > TZ_SYNC_WARN_CONCURRENCY;

    s = pick(threads_flag, "--threads", "TZEL_SYNC_THREADS", &what);
    if (s) {
        if (!parse_positive(s, &v))
            return tz_error_set(err, TZ_EINVAL,
                                "%s must be a positive integer (got \"%s\")", what, s);
        if (v > TZ_SYNC_MAX_THREADS)
            return tz_error_set(err, TZ_EINVAL, "%s is %s, above the limit of %u threads",
                                what, s, (unsigned)TZ_SYNC_MAX_THREADS);
        c.threads = (unsigned)v;
    } else {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        c.threads = n < 1 ? 1 : n > TZ_SYNC_MAX_THREADS ? TZ_SYNC_MAX_THREADS : (unsigned)n;
    }
    *out = c;
    return TZ_OK;
}
