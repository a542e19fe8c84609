/* The rollup node answer parsers (rpc/rpc_int.h): the classifier with its
 * error-body excerpt, and the bodies of `value`, `length`, `subkeys`, the
 * head hash, the rollup address and a block's level. The first byte picks
 * the HTTP status and the parser, the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "rpc/rpc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 404, 500, 401};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static tz_rpc_xfer x;
    memset(&x, 0, sizeof x);
    snprintf(x.url, sizeof x.url, "http://node.invalid/global/block/B/durable/value");
    x.http = statuses[data[0] >> 6];
    /* an exact copy, so ASan sees any read past the body's end */
    x.body.data = malloc(size - 1 ? size - 1 : 1);
    if (!x.body.data)
        return 0;
    memcpy(x.body.data, data + 1, size - 1);
    x.body.len = x.body.alloc = size - 1;
    tz_error err = {0};
    bool absent = false;
    if (tz_rpc_classify(&x, data[0] & 3, &absent, &err) != TZ_OK || absent) {
        FZ_ASSERT(err.msg[sizeof err.msg - 1] == '\0');
        goto out;
    }
    switch ((data[0] >> 2) % 6) {
    case 0: {
        uint8_t *v = NULL;
        size_t n = 0;
        if (tz_rpc_value_bytes(&x, &v, &n, &err) == TZ_OK) {
            FZ_ASSERT(v && n <= TZ_RPC_MAX_VALUE);
            free(v);
        }
        break;
    }
    case 1: {
        uint64_t n = 7;
        if (tz_rpc_parse_length(&x, &n, &err) != TZ_OK)
            FZ_ASSERT(n == 7); /* untouched on failure */
        break;
    }
    case 2: {
        char **names = NULL;
        size_t cnt = 0;
        if (tz_rpc_parse_names(&x, &names, &cnt, &err) == TZ_OK)
            FZ_ASSERT(names || cnt == 0);
        tz_rpc_free_names(names, cnt);
        break;
    }
    case 3: {
        char h[TZ_BLOCK_HASH_MAX];
        if (tz_rpc_parse_head_hash(&x, h, &err) == TZ_OK)
            FZ_ASSERT(h[0] == 'B' && memchr(h, '\0', sizeof h));
        break;
    }
    case 4: {
        char a[TZ_ROLLUP_ADDRESS_MAX];
        if (tz_rpc_parse_rollup_address(&x, a, &err) == TZ_OK)
            FZ_ASSERT(memcmp(a, "sr1", 3) == 0 && memchr(a, '\0', sizeof a));
        break;
    }
    default: {
        int64_t level = -7;
        if (tz_rpc_parse_level(&x, &level, &err) != TZ_OK)
            FZ_ASSERT(level == -7);
        break;
    }
    }
out:
    free(x.body.data);
    return 0;
}
