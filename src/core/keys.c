/* Key hierarchy (PROTOCOL.md "Key hierarchy"): every value is one
 * unpersonalized or personalized BLAKE2s-251 of fixed-size felts. */
#include "core/keys.h"

#include <sodium.h>
#include <string.h>

#include "core/hash.h"

/* out = H(tag(t) || f) */
static void hash_tagged(tz_felt *out, const char *t, const tz_felt *f)
{
    tz_felt tag;
    tz_felt_tag(&tag, t);
    tz_hash2(out, &tag, f);
}

/* out = H(f || u32felt(j)) */
static void hash_index(tz_felt *out, const tz_felt *f, uint32_t j)
{
    tz_felt idx;
    tz_felt_from_u32(&idx, j);
    tz_hash2(out, f, &idx);
}

void tz_keys_derive(tz_keys *out, const tz_felt *master_sk)
{
    tz_keys k;
    k.master_sk = *master_sk;
    hash_tagged(&k.spend_seed, "spend", &k.master_sk);
    hash_tagged(&k.nk, "nk", &k.spend_seed);
    hash_tagged(&k.ask_base, "ask", &k.spend_seed);
    hash_tagged(&k.incoming_seed, "incoming", &k.master_sk);
    hash_tagged(&k.outgoing_seed, "outgoing", &k.master_sk);
    hash_tagged(&k.dsk, "dsk", &k.incoming_seed);
    hash_tagged(&k.view_root, "view", &k.incoming_seed);
    hash_tagged(&k.detect_root, "detect", &k.view_root);
    *out = k;
    sodium_memzero(&k, sizeof k);
}

void tz_keys_view_roots(tz_felt *view_root, tz_felt *detect_root, const tz_felt *incoming_seed)
{
    tz_felt v;
    hash_tagged(&v, "view", incoming_seed);
    hash_tagged(detect_root, "detect", &v);
    *view_root = v;
    sodium_memzero(&v, sizeof v);
}

void tz_mlkem_seed(uint8_t out[TZ_KEM_SEED_BYTES], const tz_felt *root,
                   const char *t1, const char *t2, uint32_t j)
{
    tz_felt h1, h2, h3;
    hash_tagged(&h1, t1, root);
    hash_index(&h2, &h1, j);
    hash_tagged(&h3, t2, &h2);
    memcpy(out, h2.b, TZ_FELT_BYTES);
    memcpy(out + TZ_FELT_BYTES, h3.b, TZ_FELT_BYTES);
    sodium_memzero(&h1, sizeof h1);
    sodium_memzero(&h2, sizeof h2);
    sodium_memzero(&h3, sizeof h3);
}

void tz_nk_spend(tz_felt *out, const tz_felt *nk, const tz_felt *d_j)
{
    tz_hash_part parts[2] = {{nk->b, TZ_FELT_BYTES}, {d_j->b, TZ_FELT_BYTES}};
    tz_hash_parts(out, TZ_P_NKSP, parts, 2);
}

void tz_nk_tag(tz_felt *out, const tz_felt *nk_spend)
{
    tz_hash_p(out, TZ_P_NKTG, nk_spend->b, TZ_FELT_BYTES);
}

void tz_auth_pub_seed(tz_felt *out, const tz_felt *ask_j)
{
    hash_tagged(out, "xmss-ps", ask_j);
}

void tz_addr_keys_derive(tz_addr_keys *out, const tz_keys *keys, uint32_t j)
{
    tz_addr_keys a;
    a.index = j;
    hash_index(&a.d_j, &keys->dsk, j);
    hash_index(&a.ask_j, &keys->ask_base, j);
    tz_nk_spend(&a.nk_spend, &keys->nk, &a.d_j);
    tz_nk_tag(&a.nk_tag, &a.nk_spend);
    tz_auth_pub_seed(&a.auth_pub_seed, &a.ask_j);
    tz_mlkem_seed(a.seed_v, &keys->view_root, "mlkem-v", "mlkem-v2", j);
    tz_mlkem_seed(a.seed_d, &keys->detect_root, "mlkem-d", "mlkem-d2", j);
    *out = a;
    sodium_memzero(&a, sizeof a);
}

void tz_wallet_fingerprint(tz_felt *out, const tz_felt *master_sk)
{
    tz_hash(out, master_sk->b, TZ_FELT_BYTES);
}

void tz_keys_wipe(tz_keys *k)
{
    if (k)
        sodium_memzero(k, sizeof *k);
}

void tz_addr_keys_wipe(tz_addr_keys *k)
{
    if (k)
        sodium_memzero(k, sizeof *k);
}
