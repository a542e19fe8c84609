/* Chain state at a pinned block (state.h): heads, frontier, deposit pools
 * and their figures, one definition for every command. */
#include "sync/state.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BALANCE TZ_STATE_PREFIX "deposits/balance/"
#define KEY_BRANCH TZ_STATE_PREFIX "tree/branch/"
#define KEY_MAX 160

tz_status tz_state_read_heads(tz_rpc *rpc, const char *block, tz_chain_heads *out,
                              tz_error *err)
{
    static const char *const keys[3] = {TZ_STATE_KEY_TREE_SIZE, TZ_STATE_KEY_TREE_ROOT,
                                        TZ_STATE_KEY_NF_COUNT};
    static const size_t want[3] = {8, TZ_FELT_BYTES, 8};
    uint8_t *v[3] = {NULL, NULL, NULL};
    size_t len[3] = {0, 0, 0};
    bool present[3] = {false, false, false};
    tz_status st = tz_rpc_read_blobs(rpc, block, keys, 3, v, len, present, err);
    if (st != TZ_OK)
        return st;
    for (int i = 0; i < 3 && st == TZ_OK; i++)
        if (present[i] && len[i] != want[i])
            st = tz_error_set(err, TZ_EPARSE, "%s has %zu bytes at block %s, expected %zu",
                              keys[i], len[i], block, want[i]);
    if (st == TZ_OK) {
        memset(out, 0, sizeof *out);
        if (present[0])
            out->tree_size = tz_get_u64le(v[0]);
        out->root_present = present[1];
        if (present[1])
            memcpy(out->root.b, v[1], TZ_FELT_BYTES);
        if (present[2])
            out->nf_count = tz_get_u64le(v[2]);
    }
    for (int i = 0; i < 3; i++)
        free(v[i]);
    return st;
}

tz_status tz_state_root(const tz_chain_heads *h, const char *block, tz_felt *out, tz_error *err)
{
    if (h->root_present) {
        *out = h->root;
        return TZ_OK;
    }
    if (h->tree_size == 0) {
        *out = *tz_merkle_zero(TZ_TREE_DEPTH);
        return TZ_OK;
    }
    return tz_error_set(err, TZ_ENOTFOUND, "%s absent at block %s", TZ_STATE_KEY_TREE_ROOT,
                        block);
}

tz_status tz_state_read_frontier(tz_rpc *rpc, const char *block, uint64_t tree_size,
                                 tz_frontier *out, tz_error *err)
{
    char keys[TZ_TREE_DEPTH][sizeof KEY_BRANCH + 2];
    const char *kp[TZ_TREE_DEPTH];
    bool present[TZ_TREE_DEPTH];
    tz_frontier f;
    tz_frontier_init(&f);
    f.size = tree_size;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++) {
        snprintf(keys[l], sizeof keys[l], KEY_BRANCH "%02x", l);
        kp[l] = keys[l];
    }
    tz_status st = tz_rpc_read_felts(rpc, block, kp, TZ_TREE_DEPTH, f.branch, present, err);
    if (st != TZ_OK)
        return st;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++)
        if (!present[l])
            memset(&f.branch[l], 0, sizeof f.branch[l]);
    *out = f;
    return TZ_OK;
}

static uint64_t sat_add64(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A pool's value as read: an entry holds 8 bytes (its balance, little
 * endian); absent or empty is no entry; another length is TZ_EPARSE. */
static tz_status pool_value(const tz_felt *pkh, bool present, const uint8_t *buf, size_t len,
                            bool *entry, uint64_t *balance, tz_error *err)
{
    *entry = false;
    *balance = 0;
    if (!present || len == 0)
        return TZ_OK;
    if (len != 8) {
        char hex[TZ_FELT_HEX + 1];
        tz_felt_to_hex(hex, pkh);
        return tz_error_set(err, TZ_EPARSE, "deposit balance for pool %s has unexpected length %zu",
                            hex, len);
    }
    *entry = true;
    *balance = tz_get_u64le(buf);
    return TZ_OK;
}

tz_status tz_state_read_pool_list(tz_rpc *rpc, const char *block, const tz_felt *pkh, size_t n,
                                  bool *has_entry, uint64_t *balance, tz_error *err)
{
    tz_status st = TZ_OK;
    char **keys = calloc(n + 1, sizeof *keys);
    uint8_t **bufs = calloc(n + 1, sizeof *bufs);
    size_t *lens = calloc(n + 1, sizeof *lens);
    bool *present = calloc(n + 1, sizeof *present);
    for (size_t k = 0; k < n; k++) {
        has_entry[k] = false;
        balance[k] = 0;
    }
    if (!keys || !bufs || !lens || !present) {
        st = tz_error_set(err, TZ_ENOMEM, "reading deposit pools: out of memory");
        goto out;
    }
    for (size_t k = 0; k < n; k++) {
        char hex[TZ_FELT_HEX + 1];
        tz_felt_to_hex(hex, &pkh[k]);
        if (!(keys[k] = malloc(KEY_MAX))) {
            st = tz_error_set(err, TZ_ENOMEM, "reading deposit pools: out of memory");
            goto out;
        }
        snprintf(keys[k], KEY_MAX, KEY_BALANCE "%s", hex);
    }
    if (n == 0)
        goto out;
    st = tz_rpc_read_blobs(rpc, block, (const char *const *)keys, n, bufs, lens, present, err);
    if (st != TZ_OK) {
        tz_error_prefix(err, "reading deposit pool balances");
        goto out;
    }
    for (size_t k = 0; k < n && st == TZ_OK; k++)
        st = pool_value(&pkh[k], present[k], bufs[k], lens[k], &has_entry[k], &balance[k], err);
out:
    for (size_t k = 0; k < n; k++) {
        if (keys)
            free(keys[k]);
        if (bufs)
            free(bufs[k]);
    }
    free(keys);
    free(bufs);
    free(lens);
    free(present);
    return st;
}

tz_status tz_state_read_pools(tz_rpc *rpc, const char *block, const tz_wallet *w,
                              tz_pools *out, tz_error *err)
{
    memset(out, 0, sizeof *out);
    size_t nd = w->n_deposits, n = 0;
    tz_status st = TZ_OK;
    out->n = nd;
    out->balance = calloc(nd + 1, sizeof *out->balance);
    out->has_entry = calloc(nd + 1, sizeof *out->has_entry);
    size_t *pool_of = calloc(nd + 1, sizeof *pool_of); /* deposit -> distinct pool */
    tz_felt *pkh = calloc(nd + 1, sizeof *pkh);        /* the distinct pools */
    bool *entry = calloc(nd + 1, sizeof *entry);
    uint64_t *bal = calloc(nd + 1, sizeof *bal);
    if (!out->balance || !out->has_entry || !pool_of || !pkh || !entry || !bal) {
        st = tz_error_set(err, TZ_ENOMEM, "reading deposit pools: out of memory");
        goto out;
    }
    for (size_t i = 0; i < nd; i++) {
        const tz_felt *h = &w->deposits[i].pubkey_hash;
        size_t k = 0;
        while (k < n && !tz_felt_eq(&pkh[k], h))
            k++;
        pool_of[i] = k;
        if (k == n)
            pkh[n++] = *h;
    }
    if ((st = tz_state_read_pool_list(rpc, block, pkh, n, entry, bal, err)))
        goto out;
    for (size_t k = 0; k < n; k++) {
        if (!entry[k])
            continue;
        out->funded++;
        out->total = sat_add64(out->total, bal[k]);
    }
    for (size_t i = 0; i < nd; i++) {
        out->has_entry[i] = entry[pool_of[i]];
        out->balance[i] = bal[pool_of[i]];
    }
out:
    free(pool_of);
    free(pkh);
    free(entry);
    free(bal);
    return st;
}

bool tz_pools_drained(const tz_pools *p, size_t i)
{
    return i >= p->n || !p->has_entry[i] || p->balance[i] == 0;
}

void tz_pools_unfunded(const tz_pools *p, const tz_wallet *w, const bool *skip,
                       uint64_t *awaiting, uint64_t *drained)
{
    *awaiting = *drained = 0;
    for (size_t i = 0; i < p->n && i < w->n_deposits; i++) {
        if ((skip && skip[i]) || p->has_entry[i])
            continue;
        if (w->deposits[i].has_shielded_cm)
            (*drained)++;
        else
            (*awaiting)++;
    }
}

void tz_pools_free(tz_pools *p)
{
    if (!p)
        return;
    free(p->balance);
    free(p->has_entry);
    memset(p, 0, sizeof *p);
}

/* An optional little-endian integer of `width` bytes at `key`: *present
 * false when the key is absent; another length is TZ_EPARSE. */
static tz_status read_opt_le(tz_rpc *rpc, const char *block, const char *key, size_t width,
                             bool *present, uint64_t *out, tz_error *err)
{
    uint8_t *v = NULL;
    size_t len = 0;
    tz_status st = tz_rpc_read_value(rpc, block, key, &v, &len, err);
    *present = false;
    *out = 0;
    if (st == TZ_ENOTFOUND)
        return TZ_OK;
    if (st)
        return st;
    if (len != width) {
        free(v);
        return tz_error_set(err, TZ_EPARSE, "durable %s at %s has %zu bytes, expected %zu",
                            width == 4 ? "i32" : "u64", key, len, width);
    }
    for (size_t i = 0; i < width; i++)
        *out |= (uint64_t)v[i] << (8 * i);
    free(v);
    *present = true;
    return TZ_OK;
}

tz_status tz_state_required_fee(tz_rpc *rpc, const char *block, uint64_t *fee, tz_error *err)
{
    int64_t level = 0;
    tz_status st = tz_rpc_block_level(rpc, block, &level, err);
    if (st)
        return st;
    int32_t next = level >= INT32_MAX ? INT32_MAX : (int32_t)level + 1;
    bool has_last, has_fee_level, has_count = false;
    uint64_t last, fee_level, count = 0;
    if ((st = read_opt_le(rpc, block, TZ_STATE_PREFIX "last_input_level", 4, &has_last, &last,
                          err)) ||
        (st = read_opt_le(rpc, block, TZ_STATE_PREFIX "fees/private_tx_level", 4,
                          &has_fee_level, &fee_level, err)))
        return st;
    if (has_last && has_fee_level && (int32_t)(uint32_t)last == next &&
        (int32_t)(uint32_t)fee_level == next &&
        (st = read_opt_le(rpc, block, TZ_STATE_PREFIX "fees/private_tx_count_in_level", 8,
                          &has_count, &count, err)))
        return st;
    uint64_t step = count > 1 ? count - 1 : 0;
    *fee = 100000ull << (step > 6 ? 6 : step);
    return TZ_OK;
}
