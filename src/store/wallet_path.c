#include "store/wallet_path.h"

#include <stdio.h>
#include <stdlib.h>

#include "store/atomic.h"
#include "store/floor.h"
#include "store/profile.h"
#include "store/sentinel.h"

/* The companions written through tz_atomic_write ("" is the wallet). */
static const char *const atomic_suffixes[] = {"", TZ_FLOOR_SUFFIX, TZ_PROFILE_SUFFIX,
                                              TZ_SENTINEL_SUFFIX};

tz_status tz_wallet_path_sweep(const char *wallet_path, size_t *removed, tz_error *err)
{
    tz_status first = TZ_OK;
    size_t total = 0;
    for (size_t i = 0; i < sizeof atomic_suffixes / sizeof atomic_suffixes[0]; i++) {
        char *path = NULL;
        size_t n = 0;
        tz_error e = {0};
        tz_status st;
        if (asprintf(&path, "%s%s", wallet_path, atomic_suffixes[i]) < 0) {
            path = NULL;
            st = tz_error_set(&e, TZ_ENOMEM, "sweep temp files of %s: out of memory",
                              wallet_path);
        } else {
            st = tz_atomic_sweep_stale(path, &n, &e);
        }
        free(path);
        total += n;
        if (st && !first) {
            first = st;
            if (err)
                *err = e;
        }
    }
    if (removed)
        *removed = total;
    return first;
}
