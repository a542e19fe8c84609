/* BLAKE2s-256 through libb2, plain and personalized, and the truncation
 * of a digest to a 251-bit felt (hash.h). */
#include "core/hash.h"

#include <blake2.h>
#include <string.h>

void tz_blake2s(uint8_t out[32], const char *personal, const tz_hash_part *parts, size_t n)
{
    blake2s_state st;
    blake2s_param p;
    memset(&p, 0, sizeof p);
    p.digest_length = 32;
    p.fanout = 1;
    p.depth = 1;
    if (personal)
        memcpy(p.personal, personal, TZ_PERSONAL_BYTES);
    blake2s_init_param(&st, &p);
    for (size_t i = 0; i < n; i++)
        if (parts[i].len)
            blake2s_update(&st, parts[i].data, parts[i].len);
    blake2s_final(&st, out, 32);
}

void tz_hash_parts(tz_felt *out, const char *personal, const tz_hash_part *parts, size_t n)
{
    tz_blake2s(out->b, personal, parts, n);
    tz_felt_truncate(out);
}

void tz_hash(tz_felt *out, const void *data, size_t len)
{
    tz_hash_part part = {data, len};
    tz_hash_parts(out, NULL, &part, 1);
}

void tz_hash2(tz_felt *out, const tz_felt *a, const tz_felt *b)
{
    tz_hash_part parts[2] = {{a->b, TZ_FELT_BYTES}, {b->b, TZ_FELT_BYTES}};
    tz_hash_parts(out, NULL, parts, 2);
}

void tz_hash_p(tz_felt *out, const char *personal, const void *data, size_t len)
{
    tz_hash_part part = {data, len};
    tz_hash_parts(out, personal, &part, 1);
}
