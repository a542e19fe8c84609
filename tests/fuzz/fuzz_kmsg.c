/* The kernel-message decoder (core/kmsg.h). Whatever decodes must encode
 * back to exactly the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kmsg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tz_kmsg m; /* large: keep it off the stack */
    tz_error err = {0};
    if (tz_kmsg_decode(&m, data, size, &err) != TZ_OK)
        return 0;
    FZ_ASSERT(tz_kmsg_encoded_len(&m) == size);
    uint8_t *out = NULL;
    size_t n = 0;
    FZ_ASSERT(tz_kmsg_encode(&m, &out, &n, &err) == TZ_OK);
    FZ_ASSERT(n == size && memcmp(out, data, size) == 0);
    free(out);
    tz_kmsg_free(&m);
    return 0;
}
