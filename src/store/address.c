/* Address records: derivation with the reference-compatible BDS state
 * (store/bds.h), the records missing below addr_counter, the next address.
 * A derivation computes every leaf (threaded); tz_bds_init builds the
 * levels and picks the fresh state's nodes. */
#include "store/address.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/par.h"
#include "store/bds.h"
#include "core/xmss.h"

#define CHUNK 64u /* leaves per work item */

struct leaf_job {
    const tz_felt *ask_j, *pub_seed;
    tz_felt *leaves;
    void (*progress)(void *ctx, uint32_t done, uint32_t total);
    void *ctx;
};

static void leaves_range(void *arg, uint64_t begin, uint64_t end)
{
    struct leaf_job *jb = arg;
    for (uint64_t k = begin; k < end; k++)
        tz_xmss_leaf(&jb->leaves[k], jb->ask_j, jb->pub_seed, (uint32_t)k);
}

static void leaves_progress(void *arg, uint64_t done, uint64_t n)
{
    struct leaf_job *jb = arg;
    jb->progress(jb->ctx, (uint32_t)done, (uint32_t)n);
}

static void all_leaves(tz_felt *leaves, const tz_felt *ask_j, const tz_felt *pub_seed,
                       unsigned threads,
                       void (*progress)(void *ctx, uint32_t done, uint32_t total), void *ctx)
{
    struct leaf_job jb = {ask_j, pub_seed, leaves, progress, ctx};
    tz_par_for(TZ_XMSS_LEAVES, CHUNK, threads, leaves_range, &jb,
               progress ? leaves_progress : NULL, &jb);
}

tz_status tz_address_derive(const tz_keys *keys, uint32_t j, unsigned threads,
                                void (*progress)(void *ctx, uint32_t done, uint32_t total),
                                void *ctx, tz_wallet_address *out, json_t **bds_out,
                                tz_error *err)
{
    tz_felt *level = malloc(sizeof(tz_felt) * TZ_XMSS_LEAVES);
    if (!level)
        return tz_error_set(err, TZ_ENOMEM, "derive address %u: out of memory", (unsigned)j);
    tz_addr_keys ak;
    tz_addr_keys_derive(&ak, keys, j);
    all_leaves(level, &ak.ask_j, &ak.auth_pub_seed, threads, progress, ctx);

    tz_bds fresh;
    tz_felt root;
    tz_bds_init(&fresh, &root, level, &ak.auth_pub_seed);
    tz_wallet_address a = {.index = j,
                           .d_j = ak.d_j,
                           .auth_root = root,
                           .auth_pub_seed = ak.auth_pub_seed,
                           .nk_tag = ak.nk_tag};
    free(level);
    tz_addr_keys_wipe(&ak);
    if (bds_out) {
        json_t *b = tz_bds_to_json(&fresh);
        if (!b)
            return tz_error_set(err, TZ_ENOMEM, "derive address %u: out of memory",
                                (unsigned)j);
        *bds_out = b;
    }
    *out = a;
    return TZ_OK;
}

/* Derives record j (fresh bds, next_index 0) and appends it. */
static tz_status append_derived(tz_wallet *w, const tz_keys *keys, uint32_t j,
                                const tz_address_hooks *h, tz_error *err)
{
    tz_wallet_address a;
    json_t *bds = NULL;
    if (h && h->deriving)
        h->deriving(h->ctx, j, w->addr_counter);
    tz_status st = tz_address_derive(keys, j, 0, h ? h->progress : NULL, h ? h->ctx : NULL, &a,
                                     &bds, err);
    if (h && h->derived)
        h->derived(h->ctx, j);
    if (st)
        return st;
    if (tz_wallet_add_address(w, &a) != TZ_OK) {
        json_decref(bds);
        bds = NULL;
    }
    if (!bds || tz_wallet_set_address_bds(w, w->n_addresses - 1, bds) != TZ_OK)
        return tz_error_set(err, TZ_ENOMEM, "derive address %u: out of memory", (unsigned)j);
    return TZ_OK;
}

static bool has_record(const tz_wallet *w, uint32_t j)
{
    return tz_wallet_address_pos(w, j) != SIZE_MAX;
}

/* Refuses before anything is derived: an addr_counter beyond the bound, or
 * a missing record below `upto` whose one-time keys were used. */
static tz_status check_missing(const tz_wallet *w, uint32_t upto, tz_error *err)
{
    if (w->addr_counter > TZ_WALLET_MAX_ADDRESSES && w->n_addresses < w->addr_counter)
        return tz_error_set(err, TZ_ESTATE,
                            "wallet %s: addr_counter %u is beyond %u addresses while the file "
                            "holds %zu address records; deriving the missing ones (about 5 s "
                            "of CPU each) is refused: the file is damaged or was edited",
                            w->path, (unsigned)w->addr_counter, TZ_WALLET_MAX_ADDRESSES,
                            w->n_addresses);
    for (uint32_t k = (uint32_t)w->n_addresses; k < upto; k++) {
        uint32_t used;
        if (!has_record(w, k) && (used = tz_wallet_wots_next(w, k)) > 0)
            return tz_error_set(err, TZ_ESTATE,
                                "wallet %s: address %u has no record but has used %u one-time "
                                "key(s) (wots_key_indices); rebuilding its signing state past "
                                "key 0 is not supported here. Open the wallet with the "
                                "reference tzel-wallet once (it rebuilds the record), then retry",
                                w->path, (unsigned)k, (unsigned)used);
    }
    return TZ_OK;
}

tz_status tz_wallet_materialize_addresses(tz_wallet *w, const tz_keys *keys, uint32_t upto,
                                          bool save_each, const tz_address_hooks *h,
                                          tz_error *err)
{
    tz_status st = check_missing(w, upto, err);
    for (uint32_t k = (uint32_t)w->n_addresses; st == TZ_OK && k < upto; k++) {
        if (has_record(w, k))
            continue;
        if ((st = append_derived(w, keys, k, h, err)) != TZ_OK)
            break;
        /* The reference's load records every address it holds,
         * materialized ones included, at bds.next_index (0 here). */
        if ((st = tz_wallet_record_wots_index(w, k, 0)) != TZ_OK) {
            tz_error_set(err, st, "derive address %u: out of memory", (unsigned)k);
            break;
        }
        if (save_each && (st = tz_wallet_save(w, err)) != TZ_OK)
            break;
    }
    return st;
}

tz_status tz_wallet_next_address(tz_wallet *w, const tz_keys *keys, bool save_each,
                                 const tz_address_hooks *h, size_t *pos, tz_error *err)
{
    uint32_t j = w->addr_counter;
    tz_status st = check_missing(w, j, err);
    if (st)
        return st;
    if (j >= TZ_WALLET_MAX_ADDRESSES)
        return tz_error_set(err, TZ_ESTATE,
                            "wallet %s: it already has %u addresses, the most this wallet "
                            "derives (each one costs every sync a trial decryption per leaf)",
                            w->path, (unsigned)j);
    if (j < w->n_addresses && w->addresses[j].index == j) {
        w->addr_counter = j + 1;
        *pos = j;
        return TZ_OK;
    }
    if ((st = tz_wallet_materialize_addresses(w, keys, j, save_each, h, err)) != TZ_OK)
        return st;
    if (has_record(w, j))
        return tz_error_set(err, TZ_ESTATE, "wallet %s: address record %u is out of place",
                            w->path, (unsigned)j);
    if ((st = append_derived(w, keys, j, h, err)) != TZ_OK)
        return st;
    w->addr_counter = j + 1;
    *pos = w->n_addresses - 1;
    return TZ_OK;
}
