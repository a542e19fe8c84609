/* Finalize: root check, incremental nullifiers, pending spends and
 * deposits, all at the pinned block. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/commit.h"
#include "sync/finalize.h"
#include "sync/state.h"

#define KEY_ROOT TZ_STATE_PREFIX "tree/root"
#define KEY_NF_COUNT TZ_STATE_PREFIX "nullifiers/count"
#define KEY_NF_INDEX TZ_STATE_PREFIX "nullifiers/index/"
#define KEY_NF_BY_KEY TZ_STATE_PREFIX "nullifiers/by-key/"
#define KEY_MAX 160

static void add_warning(tz_finalize_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_warning(tz_finalize_out *o, const char *fmt, ...)
{
    if (o->n_warnings >= TZ_FINALIZE_MAX_WARNINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->warnings[o->n_warnings++], sizeof o->warnings[0], fmt, ap);
    va_end(ap);
}

static int felt_cmp(const void *a, const void *b)
{
    return memcmp(a, b, TZ_FELT_BYTES);
}

static bool sorted_has(const tz_felt *set, size_t n, const tz_felt *x)
{
    return n && bsearch(x, set, n, sizeof *set, felt_cmp) != NULL;
}

/* Frees an array of n key strings. */
static void free_keys(char **keys, size_t n)
{
    if (!keys)
        return;
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
}

tz_status tz_sync_check_root(const tz_finalize_in *in, tz_finalize_out *out, tz_error *err)
{
    tz_felt mine, chain;
    if (tz_frontier_root(in->frontier, &mine) != TZ_OK)
        return tz_error_set(err, TZ_EPARSE, "the wallet's frontier has no root (tree full)");
    tz_status st = TZ_OK;
    if (in->have_root) {
        chain = in->chain_root;
        if (!in->root_present)
            st = tz_error_set(err, TZ_ENOTFOUND, "%s absent at block %s", KEY_ROOT, in->block);
    } else {
        st = tz_rpc_read_felt(in->rpc, in->block, KEY_ROOT, &chain, err);
    }
    if (st == TZ_ENOTFOUND && in->tree_size == 0)
        return TZ_OK; /* an empty kernel may not have written a root yet */
    if (st != TZ_OK)
        return st;
    if (!tz_felt_eq(&mine, &chain)) {
        char hm[TZ_FELT_HEX + 1], hc[TZ_FELT_HEX + 1];
        tz_felt_to_hex(hm, &mine);
        tz_felt_to_hex(hc, &chain);
        out->root_mismatch = true;
        return tz_error_set(err, TZ_EMISMATCH,
                            "commitment tree root mismatch at block %s: the chain's tree/root "
                            "is %s but the %" PRIu64 " leaves served give %s; the rollup node "
                            "served notes that do not match its own tree",
                            in->block, hc, in->tree_size, hm);
    }
    out->verified = true;
    out->root = mine;
    return TZ_OK;
}

/* Applies nullifiers [from, count) chunk by chunk: each chunk is sorted and
 * every note / pending spend nullifier is looked up in it. */
static tz_status apply_nullifiers(const tz_finalize_in *in, tz_finalize_out *out,
                                  uint64_t from, uint64_t count, bool *spend_seen_all,
                                  size_t *spend_seen, tz_error *err)
{
    tz_wallet *w = in->w;
    tz_status st = TZ_OK;
    size_t chunk = TZ_FINALIZE_NF_CHUNK;
    char **keys = calloc(chunk, sizeof *keys);
    tz_felt *set = calloc(chunk, sizeof *set);
    tz_felt *note_nf = calloc(w->n_notes ? w->n_notes : 1, sizeof *note_nf);
    bool *spent = calloc(w->n_notes ? w->n_notes : 1, sizeof *spent);
    if (!keys || !set || !note_nf || !spent) {
        st = tz_error_set(err, TZ_ENOMEM, "finalize: out of memory");
        goto out;
    }
    for (size_t k = 0; k < chunk; k++)
        if (!(keys[k] = malloc(KEY_MAX))) {
            st = tz_error_set(err, TZ_ENOMEM, "finalize: out of memory");
            goto out;
        }
    for (size_t i = 0; i < w->n_notes; i++)
        tz_note_nullifier(&note_nf[i], &w->notes[i].nk_spend, &w->notes[i].cm,
                          w->notes[i].index);

    for (uint64_t at = from; at < count;) {
        size_t n = (count - at) < chunk ? (size_t)(count - at) : chunk;
        for (size_t k = 0; k < n; k++)
            snprintf(keys[k], KEY_MAX, KEY_NF_INDEX "%016" PRIx64, at + k);
        st = tz_rpc_read_felts(in->rpc, in->block, (const char *const *)keys, n, set, NULL, err);
        if (st != TZ_OK) {
            tz_error_prefix(err, "reading nullifiers [%" PRIu64 ", %" PRIu64 ")", at, at + n);
            goto out;
        }
        qsort(set, n, sizeof *set, felt_cmp);
        for (size_t i = 0; i < w->n_notes; i++)
            if (!spent[i] && sorted_has(set, n, &note_nf[i]))
                spent[i] = true;
        for (size_t s = 0; s < w->n_spends; s++) {
            tz_pending_spend *ps = &w->spends[s];
            for (size_t j = 0; j < ps->n_nullifiers; j++)
                if (sorted_has(set, n, &ps->nullifiers[j]))
                    spend_seen[s]++;
        }
        out->nullifiers_read += n;
        at += n;
    }
    for (size_t s = 0; s < w->n_spends; s++)
        spend_seen_all[s] = spend_seen[s] >= w->spends[s].n_nullifiers; /* empty: true */
    for (size_t i = w->n_notes; i-- > 0;) {
        if (spent[i]) {
            tz_wallet_remove_note(w, i);
            out->spent++;
        }
    }
out:
    free_keys(keys, chunk);
    free(set);
    free(note_nf);
    free(spent);
    return st;
}

/* A pending spend some of whose nullifiers showed up in the new range but
 * not all: ask the by-key markers for the rest (a node or simulator that
 * does not serve them leaves the spend pending). */
static tz_status recheck_spend(const tz_finalize_in *in, const tz_pending_spend *ps,
                               bool *all, tz_error *err)
{
    size_t n = ps->n_nullifiers;
    char **keys = calloc(n, sizeof *keys);
    uint8_t **bufs = calloc(n, sizeof *bufs);
    size_t *lens = calloc(n, sizeof *lens);
    bool *present = calloc(n, sizeof *present);
    tz_status st = TZ_OK;
    *all = false;
    if (!keys || !bufs || !lens || !present) {
        st = tz_error_set(err, TZ_ENOMEM, "finalize: out of memory");
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        char hex[TZ_FELT_HEX + 1];
        tz_felt_to_hex(hex, &ps->nullifiers[j]);
        if (!(keys[j] = malloc(KEY_MAX))) {
            st = tz_error_set(err, TZ_ENOMEM, "finalize: out of memory");
            goto out;
        }
        snprintf(keys[j], KEY_MAX, KEY_NF_BY_KEY "%s", hex);
    }
    st = tz_rpc_read_blobs(in->rpc, in->block, (const char *const *)keys, n, bufs, lens, present,
                           err);
    if (st != TZ_OK)
        goto out;
    *all = true;
    for (size_t j = 0; j < n; j++) {
        if (!present[j])
            *all = false;
        free(bufs[j]);
    }
out:
    free_keys(keys, n);
    free(bufs);
    free(lens);
    free(present);
    return st;
}

static bool cm_observed(const tz_wallet *w, const tz_felt *cm)
{
    if (tz_wallet_cm_observed(w, cm))
        return true;
    for (size_t i = 0; i < w->n_notes; i++)
        if (tz_felt_eq(&w->notes[i].cm, cm))
            return true;
    return false;
}

/* Reads the pools at the pinned block (tz_state_read_pools), prunes the
 * deposits whose pool reads zero and whose shielded_cm was observed
 * (observed[i], taken before spent notes were removed, like the
 * reference's known-cm set) and computes the reference's pool figures.
 * The reads name the pinned block, never `head`: a drain landing after
 * the pin must not evict a deposit the scanned state still shows funded. */
static tz_status prune_deposits(const tz_finalize_in *in, const bool *observed,
                                tz_finalize_out *out, tz_error *err)
{
    tz_wallet *w = in->w;
    size_t nd = w->n_deposits;
    if (nd == 0)
        return TZ_OK;
    tz_pools pools;
    bool *drop = calloc(nd, sizeof *drop);
    tz_status st = drop ? tz_state_read_pools(in->rpc, in->block, w, &pools, err)
                        : tz_error_set(err, TZ_ENOMEM, "finalize: out of memory");
    if (st == TZ_OK) {
        out->pool_funded_total = pools.total;
        for (size_t i = 0; i < nd; i++)
            drop[i] = tz_pools_drained(&pools, i) && w->deposits[i].has_shielded_cm &&
                      observed[i];
        /* Over the deposits kept, those whose pool has no entry. */
        tz_pools_unfunded(&pools, w, drop, &out->pools_awaiting_credit,
                          &out->pools_drained_pending_prune);
        for (size_t i = nd; i-- > 0;) {
            if (drop[i]) {
                tz_wallet_remove_deposit(w, i);
                out->deposits_pruned++;
            }
        }
    }
    if (drop)
        tz_pools_free(&pools);
    free(drop);
    return st;
}

tz_status tz_sync_finalize(const tz_finalize_in *in, tz_finalize_out *out, tz_error *err)
{
    memset(out, 0, sizeof *out);
    tz_wallet *w = in->w;
    tz_status st;
    if (in->frontier && (st = tz_sync_check_root(in, out, err)) != TZ_OK)
        return st;

    uint64_t count = in->nf_count;
    if (!in->have_nf_count) {
        st = tz_rpc_read_u64(in->rpc, in->block, KEY_NF_COUNT, &count, err);
        if (st == TZ_ENOTFOUND)
            count = 0;
        else if (st != TZ_OK)
            return st;
    }
    uint64_t from = w->sync.nullifiers_checked;
    if (count < from) {
        add_warning(out,
                    "the chain has %" PRIu64 " nullifiers but this wallet already checked %" PRIu64
                    ": re-reading all of them",
                    count, from);
        from = 0;
    }
    bool *seen_all = calloc(w->n_spends ? w->n_spends : 1, sizeof *seen_all);
    size_t *seen = calloc(w->n_spends ? w->n_spends : 1, sizeof *seen);
    if (!seen_all || !seen) {
        free(seen_all);
        free(seen);
        return tz_error_set(err, TZ_ENOMEM, "finalize: out of memory");
    }
    /* Which deposits' shielded cms are known, before spent notes go. */
    bool *observed = calloc(w->n_deposits ? w->n_deposits : 1, sizeof *observed);
    if (!observed) {
        free(seen_all);
        free(seen);
        return tz_error_set(err, TZ_ENOMEM, "finalize: out of memory");
    }
    for (size_t i = 0; i < w->n_deposits; i++)
        observed[i] = w->deposits[i].has_shielded_cm &&
                      cm_observed(w, &w->deposits[i].shielded_cm);
    st = apply_nullifiers(in, out, from, count, seen_all, seen, err);
    for (size_t s = 0; st == TZ_OK && s < w->n_spends; s++) {
        if (!seen_all[s] && seen[s] > 0) {
            bool all = false;
            st = recheck_spend(in, &w->spends[s], &all, err);
            seen_all[s] = all;
        }
    }
    for (size_t s = w->n_spends; st == TZ_OK && s-- > 0;) {
        if (seen_all[s]) {
            tz_wallet_remove_spend(w, s);
            out->spends_dropped++;
        }
    }
    free(seen_all);
    free(seen);
    if (st == TZ_OK) {
        w->sync.nullifiers_checked = count;
        st = prune_deposits(in, observed, out, err);
    }
    free(observed);
    /* Every spend path must give the root just verified. */
    if (st == TZ_OK && out->verified) {
        size_t dropped = tz_wallet_witness_check(w, in->tree_size, &out->root);
        if (dropped)
            add_warning(out, "%zu note spend path(s) did not give the verified root and were "
                             "dropped",
                        dropped);
    }
    return st;
}
