/* The watch-file loader (store/watch.h tz_watch_load): the input is the
 * watch wallet file (JSON, the three modes, u64 values, felts, records,
 * unknown fields kept, tzel_c_sync). A file that loads must dump and load
 * again to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "fuzz_util.h"
#include "store/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    fz_write(path, sizeof path, "watch.json", data, size);
    tz_watch *w = NULL;
    tz_error err = {0};
    if (tz_watch_load(path, &w, &err) != TZ_OK) {
        FZ_ASSERT(w == NULL && err.msg[0]);
        return 0;
    }
    FZ_ASSERT(w != NULL);
    char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    if (tz_watch_dump(w, &a, &alen, &err) == TZ_OK) {
        tz_watch *w2 = NULL;
        fz_write(path, sizeof path, "watch.json", (const uint8_t *)a, alen);
        FZ_ASSERT(tz_watch_load(path, &w2, &err) == TZ_OK);
        if (w2 && tz_watch_dump(w2, &b, &blen, &err) == TZ_OK)
            FZ_ASSERT(alen == blen && memcmp(a, b, alen) == 0);
        tz_watch_free(w2);
    }
    if (a)
        sodium_memzero(a, alen);
    if (b)
        sodium_memzero(b, blen);
    free(a);
    free(b);
    tz_watch_free(w);
    return 0;
}
