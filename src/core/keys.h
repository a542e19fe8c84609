/* Key hierarchy from a 32-byte master secret (PROTOCOL.md "Key hierarchy").
 * All structures hold secrets in fixed buffers; wipe them with the
 * matching *_wipe function. No allocation. */
#ifndef TZ_CORE_KEYS_H
#define TZ_CORE_KEYS_H

#include <stdint.h>

#include "core/felt.h"
#include "core/types.h"

/* Wallet-level keys, derived once from master_sk. */
typedef struct tz_keys {
    tz_felt master_sk;
    tz_felt spend_seed;    /* H(tag spend, master_sk) */
    tz_felt nk;            /* H(tag nk, spend_seed) */
    tz_felt ask_base;      /* H(tag ask, spend_seed) */
    tz_felt incoming_seed; /* H(tag incoming, master_sk) */
    tz_felt outgoing_seed; /* H(tag outgoing, master_sk) */
    tz_felt dsk;           /* H(tag dsk, incoming_seed) */
    tz_felt view_root;     /* H(tag view, incoming_seed) */
    tz_felt detect_root;   /* H(tag detect, view_root) */
} tz_keys;

/* Per-address keys for address j (everything but the auth tree). */
typedef struct tz_addr_keys {
    uint32_t index;
    tz_felt d_j;
    tz_felt ask_j;
    tz_felt nk_spend;
    tz_felt nk_tag;
    tz_felt auth_pub_seed;                /* H(tag xmss-ps || ask_j) */
    uint8_t seed_v[TZ_KEM_SEED_BYTES];    /* ML-KEM viewing seed */
    uint8_t seed_d[TZ_KEM_SEED_BYTES];    /* ML-KEM detection seed */
} tz_addr_keys;

/* Derives the wallet-level keys from master_sk into *out. Cannot fail. */
void tz_keys_derive(tz_keys *out, const tz_felt *master_sk);

/* The roots a viewing key holder derives from incoming_seed alone:
 * view_root = H(tag view, incoming_seed), detect_root = H(tag detect,
 * view_root) (the same values as tz_keys). Cannot fail. */
void tz_keys_view_roots(tz_felt *view_root, tz_felt *detect_root, const tz_felt *incoming_seed);

/* Derives address j's keys into *out. Cannot fail. */
void tz_addr_keys_derive(tz_addr_keys *out, const tz_keys *keys, uint32_t j);

/* The 64-byte ML-KEM seed for address j under `root` (view_root or
 * detect_root) with tags t1/t2 ("mlkem-v"/"mlkem-v2" or "mlkem-d"/"mlkem-d2"):
 * h1 = H(tag t1, root), h2 = H(h1, u32 j), seed = h2 || H(tag t2, h2). */
void tz_mlkem_seed(uint8_t out[TZ_KEM_SEED_BYTES], const tz_felt *root,
                   const char *t1, const char *t2, uint32_t j);

/* nk_spend_j = BLAKE2s_nksp(nk || d_j), nk_tag_j = BLAKE2s_nktg(nk_spend_j). */
void tz_nk_spend(tz_felt *out, const tz_felt *nk, const tz_felt *d_j);
void tz_nk_tag(tz_felt *out, const tz_felt *nk_spend);

/* auth_pub_seed_j = H(tag xmss-ps || ask_j): the address auth tree's public
 * seed (same value as tz_addr_keys.auth_pub_seed). */
void tz_auth_pub_seed(tz_felt *out, const tz_felt *ask_j);

/* H(master_sk): the wallet fingerprint used by the xmss-floor file. */
void tz_wallet_fingerprint(tz_felt *out, const tz_felt *master_sk);

void tz_keys_wipe(tz_keys *k);
void tz_addr_keys_wipe(tz_addr_keys *k);

#endif
