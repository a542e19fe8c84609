/* The wallet-file loader (store/wallet.h tz_wallet_load): the input is the
 * wallet file (JSON, u64 numbers, felts, unknown fields kept). There is no
 * floor file beside it (fuzz_floor covers that). */
#include <stdint.h>

#include "fuzz_util.h"
#include "store/wallet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[1024];
    fz_write(path, sizeof path, "wallet.json", data, size);
    tz_wallet *w = NULL;
    tz_error err = {0};
    if (tz_wallet_load(path, &w, &err, NULL) == TZ_OK) {
        FZ_ASSERT(w != NULL);
        tz_wallet_free(w);
    } else {
        FZ_ASSERT(w == NULL && err.msg[0]);
    }
    return 0;
}
