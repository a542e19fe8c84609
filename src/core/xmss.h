/* The per-address auth tree (PROTOCOL.md "Address auth tree"): WOTS+ with
 * w = 4 and 133 chains, an L-tree per key compressing the 133 chain ends
 * into a leaf, and a depth-16 tree over the 65,536 leaves whose root is the
 * address's auth_root. All hashes are unpersonalized BLAKE2s-251 over
 * pub_seed || ADRS || inputs. No allocation except the worker threads of
 * tz_xmss_auth_root. */
#ifndef TZ_CORE_XMSS_H
#define TZ_CORE_XMSS_H

#include <stdint.h>

#include "core/felt.h"
#include "core/status.h"

#define TZ_WOTS_W 4
#define TZ_WOTS_CHAINS 133 /* 128 message digits + 5 checksum digits */
#define TZ_XMSS_HEIGHT 16
#define TZ_XMSS_LEAVES (1u << TZ_XMSS_HEIGHT)

/* ADRS domain tags (u64, little-endian in ADRS bytes 0..8). */
#define TZ_XMSS_TAG_CHAIN 0x0068632D73736D78ull /* "xmss-ch" */
#define TZ_XMSS_TAG_LTREE 0x00746C2D73736D78ull /* "xmss-lt" */
#define TZ_XMSS_TAG_TREE 0x0072742D73736D78ull  /* "xmss-tr" */

/* Writes the ADRS felt: tag, key_idx, a, b, c little-endian at bytes
 * 0, 8, 12, 16, 20; the rest zero. */
void tz_xmss_adrs(tz_felt *out, uint64_t tag, uint32_t key_idx, uint32_t a, uint32_t b,
                  uint32_t c);

/* sk_root_i = H(tag xmss-sk || ask_j || u32felt key_idx): the per-key WOTS
 * secret seed (the "seed" field of the wots vectors). Secret. */
void tz_wots_key_seed(tz_felt *out, const tz_felt *ask_j, uint32_t key_idx);

/* The 133 WOTS+ public chain ends of key `key_idx` into pk[]. */
void tz_wots_pk(tz_felt pk[TZ_WOTS_CHAINS], const tz_felt *ask_j, const tz_felt *pub_seed,
                uint32_t key_idx);

/* L-tree: compresses pk[] into the key's leaf. */
void tz_wots_pk_to_leaf(tz_felt *leaf, const tz_felt *pub_seed, uint32_t key_idx,
                        const tz_felt pk[TZ_WOTS_CHAINS]);

/* The 133 base-4 digits signed for msg (128 message digits, LSB pair
 * first per byte, then 5 checksum digits). */
void tz_wots_digits(uint8_t digits[TZ_WOTS_CHAINS], const tz_felt *msg);

/* WOTS+ signature of msg under key key_idx into sig[]. Signing the same key
 * twice with different messages leaks the key: the caller tracks usage. */
void tz_wots_sign(tz_felt sig[TZ_WOTS_CHAINS], const tz_felt *ask_j, const tz_felt *pub_seed,
                  uint32_t key_idx, const tz_felt *msg);

/* Completes each chain of sig[] to its end: the public key that a valid
 * signature of msg implies. */
void tz_wots_recover_pk(tz_felt pk[TZ_WOTS_CHAINS], const tz_felt *msg, const tz_felt *pub_seed,
                        uint32_t key_idx, const tz_felt sig[TZ_WOTS_CHAINS]);

/* Leaf key_idx of the auth tree: tz_wots_pk followed by the L-tree. */
void tz_xmss_leaf(tz_felt *leaf, const tz_felt *ask_j, const tz_felt *pub_seed,
                  uint32_t key_idx);

/* Auth-tree node over [start, start + 2^height) from its two children:
 * H(pub_seed || ADRS(xmss-tr, 0, height-1, start >> height, 0) || l || r).
 * height is 1..16. */
void tz_xmss_node(tz_felt *out, const tz_felt *pub_seed, uint32_t height, uint32_t start,
                  const tz_felt *left, const tz_felt *right);

/* Computes the depth-16 auth root of the address with secret ask_j and
 * public seed pub_seed into *root. The 65,536 leaves are split across
 * `threads` threads (0 = all online cores; the calling thread works too);
 * the result does not depend on the thread count. If a worker thread cannot
 * be started the remaining work runs on the threads that did start.
 * progress, when non-NULL, is called from the calling thread only, at most
 * about 100 times, with (ctx, leaves done, 65536), the last call with done
 * == total. Returns TZ_OK, or TZ_EINVAL on a NULL argument (root
 * untouched). About 44 million BLAKE2s calls. */
tz_status tz_xmss_auth_root(tz_felt *root, const tz_felt *ask_j, const tz_felt *pub_seed,
                            unsigned threads,
                            void (*progress)(void *ctx, uint32_t done, uint32_t total),
                            void *ctx) TZ_WUR;

#endif
