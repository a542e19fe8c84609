/* WOTS+ keys, signatures and leaves, L-trees, auth-tree nodes and the
 * threaded auth root of an address (xmss.h). */
#include "core/xmss.h"

#include <blake2.h>
#include <sodium.h>
#include <string.h>

#include "base/par.h"

/* Work unit for the threaded root: a subtree of 2^UNIT_HEIGHT leaves. */
#define UNIT_HEIGHT 8
#define UNIT_LEAVES (1u << UNIT_HEIGHT)
#define UNITS (TZ_XMSS_LEAVES / UNIT_LEAVES)

/* BLAKE2s-256 of in[0..len), unpersonalized, truncated to a felt. One
 * contiguous update: the inputs here are 64, 96 or 128 bytes. */
static void h(tz_felt *out, const uint8_t *in, size_t len)
{
    blake2s_state st;
    blake2s_init(&st, 32);
    blake2s_update(&st, in, len);
    blake2s_final(&st, out->b, 32);
    out->b[31] &= 0x07;
}

static void put_adrs(uint8_t *p, uint64_t tag, uint32_t key_idx, uint32_t a, uint32_t b,
                     uint32_t c)
{
    memset(p, 0, TZ_FELT_BYTES);
    tz_put_u64le(p, tag);
    tz_put_u32le(p + 8, key_idx);
    tz_put_u32le(p + 12, a);
    tz_put_u32le(p + 16, b);
    tz_put_u32le(p + 20, c);
}

void tz_xmss_adrs(tz_felt *out, uint64_t tag, uint32_t key_idx, uint32_t a, uint32_t b,
                  uint32_t c)
{
    put_adrs(out->b, tag, key_idx, a, b, c);
}

void tz_wots_key_seed(tz_felt *out, const tz_felt *ask_j, uint32_t key_idx)
{
    uint8_t buf[3 * TZ_FELT_BYTES];
    tz_felt tag;
    tz_felt_tag(&tag, "xmss-sk");
    memcpy(buf, tag.b, TZ_FELT_BYTES);
    memcpy(buf + 32, ask_j->b, TZ_FELT_BYTES);
    memset(buf + 64, 0, TZ_FELT_BYTES);
    tz_put_u32le(buf + 64, key_idx);
    h(out, buf, sizeof buf);
    sodium_memzero(buf, sizeof buf);
}

/* Chain secret c of a key: H(sk_root || u32felt c). */
static void chain_secret(tz_felt *out, const tz_felt *sk_root, uint32_t c)
{
    uint8_t buf[2 * TZ_FELT_BYTES];
    memcpy(buf, sk_root->b, TZ_FELT_BYTES);
    memset(buf + 32, 0, TZ_FELT_BYTES);
    tz_put_u32le(buf + 32, c);
    h(out, buf, sizeof buf);
    sodium_memzero(buf, sizeof buf);
}

/* Advances x along chain c of key key_idx from step `start` for `steps`
 * steps: x = H(pub_seed || ADRS(xmss-ch, key_idx, c, step, 0) || x). */
static void chain(tz_felt *x, const tz_felt *pub_seed, uint32_t key_idx, uint32_t c,
                  unsigned start, unsigned steps)
{
    uint8_t buf[3 * TZ_FELT_BYTES];
    memcpy(buf, pub_seed->b, TZ_FELT_BYTES);
    put_adrs(buf + 32, TZ_XMSS_TAG_CHAIN, key_idx, c, 0, 0);
    for (unsigned s = start; s < start + steps; s++) {
        tz_put_u32le(buf + 48, s);
        memcpy(buf + 64, x->b, TZ_FELT_BYTES);
        h(x, buf, sizeof buf);
    }
    sodium_memzero(buf + 64, TZ_FELT_BYTES);
}

void tz_wots_pk(tz_felt pk[TZ_WOTS_CHAINS], const tz_felt *ask_j, const tz_felt *pub_seed,
                uint32_t key_idx)
{
    tz_felt sk_root;
    tz_wots_key_seed(&sk_root, ask_j, key_idx);
    for (uint32_t c = 0; c < TZ_WOTS_CHAINS; c++) {
        chain_secret(&pk[c], &sk_root, c);
        chain(&pk[c], pub_seed, key_idx, c, 0, TZ_WOTS_W - 1);
    }
    sodium_memzero(&sk_root, sizeof sk_root);
}

/* L-tree in place over n nodes of v[]; the result ends in v[0]. */
static void ltree(tz_felt *v, size_t n, const tz_felt *pub_seed, uint32_t key_idx)
{
    uint8_t buf[4 * TZ_FELT_BYTES];
    memcpy(buf, pub_seed->b, TZ_FELT_BYTES);
    put_adrs(buf + 32, TZ_XMSS_TAG_LTREE, key_idx, 0, 0, 0);
    for (uint32_t level = 0; n > 1; level++) {
        size_t w = 0;
        uint32_t node = 0;
        tz_put_u32le(buf + 44, level);
        for (size_t r = 0; r < n; r += 2, w++) {
            if (r + 1 == n) {
                v[w] = v[r];
            } else {
                tz_put_u32le(buf + 48, node++);
                memcpy(buf + 64, v[r].b, TZ_FELT_BYTES);
                memcpy(buf + 96, v[r + 1].b, TZ_FELT_BYTES);
                h(&v[w], buf, sizeof buf);
            }
        }
        n = w;
    }
}

void tz_wots_pk_to_leaf(tz_felt *leaf, const tz_felt *pub_seed, uint32_t key_idx,
                        const tz_felt pk[TZ_WOTS_CHAINS])
{
    tz_felt v[TZ_WOTS_CHAINS];
    memcpy(v, pk, sizeof v);
    ltree(v, TZ_WOTS_CHAINS, pub_seed, key_idx);
    *leaf = v[0];
}

void tz_wots_digits(uint8_t digits[TZ_WOTS_CHAINS], const tz_felt *msg)
{
    unsigned n = 0, checksum = 0;
    for (unsigned i = 0; i < TZ_FELT_BYTES; i++)
        for (unsigned k = 0; k < 4; k++) {
            digits[n] = (uint8_t)((msg->b[i] >> (2 * k)) & 3);
            checksum += TZ_WOTS_W - 1 - digits[n];
            n++;
        }
    for (unsigned k = 0; k < 5; k++) {
        digits[n++] = (uint8_t)(checksum & 3);
        checksum >>= 2;
    }
}

void tz_wots_sign(tz_felt sig[TZ_WOTS_CHAINS], const tz_felt *ask_j, const tz_felt *pub_seed,
                  uint32_t key_idx, const tz_felt *msg)
{
    uint8_t d[TZ_WOTS_CHAINS];
    tz_felt sk_root;
    tz_wots_digits(d, msg);
    tz_wots_key_seed(&sk_root, ask_j, key_idx);
    for (uint32_t c = 0; c < TZ_WOTS_CHAINS; c++) {
        chain_secret(&sig[c], &sk_root, c);
        chain(&sig[c], pub_seed, key_idx, c, 0, d[c]);
    }
    sodium_memzero(&sk_root, sizeof sk_root);
}

void tz_wots_recover_pk(tz_felt pk[TZ_WOTS_CHAINS], const tz_felt *msg, const tz_felt *pub_seed,
                        uint32_t key_idx, const tz_felt sig[TZ_WOTS_CHAINS])
{
    uint8_t d[TZ_WOTS_CHAINS];
    tz_wots_digits(d, msg);
    for (uint32_t c = 0; c < TZ_WOTS_CHAINS; c++) {
        pk[c] = sig[c];
        chain(&pk[c], pub_seed, key_idx, c, d[c], TZ_WOTS_W - 1 - d[c]);
    }
}

void tz_xmss_leaf(tz_felt *leaf, const tz_felt *ask_j, const tz_felt *pub_seed,
                  uint32_t key_idx)
{
    tz_felt v[TZ_WOTS_CHAINS];
    tz_wots_pk(v, ask_j, pub_seed, key_idx);
    ltree(v, TZ_WOTS_CHAINS, pub_seed, key_idx);
    *leaf = v[0];
}

void tz_xmss_node(tz_felt *out, const tz_felt *pub_seed, uint32_t height, uint32_t start,
                  const tz_felt *left, const tz_felt *right)
{
    uint8_t buf[4 * TZ_FELT_BYTES];
    memcpy(buf, pub_seed->b, TZ_FELT_BYTES);
    put_adrs(buf + 32, TZ_XMSS_TAG_TREE, 0, height - 1, start >> height, 0);
    memcpy(buf + 64, left->b, TZ_FELT_BYTES);
    memcpy(buf + 96, right->b, TZ_FELT_BYTES);
    h(out, buf, sizeof buf);
}

/* Root of the subtree of 2^UNIT_HEIGHT leaves starting at `start`. */
static void unit_root(tz_felt *out, const tz_felt *ask_j, const tz_felt *pub_seed,
                      uint32_t start)
{
    tz_felt stack[UNIT_HEIGHT + 1];
    for (uint32_t k = 0; k < UNIT_LEAVES; k++) {
        tz_felt node;
        uint32_t ht = 0;
        tz_xmss_leaf(&node, ask_j, pub_seed, start + k);
        /* merge while this node is a right child */
        while ((k >> ht) & 1) {
            uint32_t node_start = (start + k) & ~((2u << ht) - 1);
            tz_xmss_node(&node, pub_seed, ht + 1, node_start, &stack[ht], &node);
            ht++;
        }
        stack[ht] = node;
    }
    *out = stack[UNIT_HEIGHT];
}

struct job {
    const tz_felt *ask_j, *pub_seed;
    tz_felt roots[UNITS];
    void (*progress)(void *ctx, uint32_t done, uint32_t total);
    void *ctx;
    unsigned reported; /* last percentage reported */
};

static void units(void *arg, uint64_t begin, uint64_t end)
{
    struct job *jb = arg;
    for (uint64_t u = begin; u < end; u++)
        unit_root(&jb->roots[u], jb->ask_j, jb->pub_seed, (uint32_t)u * UNIT_LEAVES);
}

/* At most 100 reports, the last with done == total. */
static void units_progress(void *arg, uint64_t done, uint64_t n)
{
    struct job *jb = arg;
    unsigned pct = (unsigned)(done * 100 / n);
    if (pct > jb->reported) {
        jb->reported = pct;
        jb->progress(jb->ctx, (uint32_t)done * UNIT_LEAVES, TZ_XMSS_LEAVES);
    }
}

tz_status tz_xmss_auth_root(tz_felt *root, const tz_felt *ask_j, const tz_felt *pub_seed,
                            unsigned threads,
                            void (*progress)(void *ctx, uint32_t done, uint32_t total),
                            void *ctx)
{
    if (!root || !ask_j || !pub_seed)
        return TZ_EINVAL;
    struct job jb = {.ask_j = ask_j, .pub_seed = pub_seed, .progress = progress, .ctx = ctx};
    tz_par_for(UNITS, 1, threads, units, &jb, progress ? units_progress : NULL, &jb);

    /* the top TZ_XMSS_HEIGHT - UNIT_HEIGHT levels over the unit roots */
    unsigned n = UNITS;
    for (uint32_t ht = UNIT_HEIGHT + 1; n > 1; ht++, n /= 2)
        for (unsigned i = 0; i < n / 2; i++)
            tz_xmss_node(&jb.roots[i], pub_seed, ht, (uint32_t)i << ht, &jb.roots[2 * i],
                         &jb.roots[2 * i + 1]);
    *root = jb.roots[0];
    return TZ_OK;
}
