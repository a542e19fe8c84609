/* One sync run: pin, scan with checkpoints and yields, finalize.
 * The invariants are explained in docs/sync.md. */
#include <inttypes.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "core/commit.h"
#include "core/keys.h"
#include "core/merkle.h"
#include "core/note.h"
#include "store/sentinel.h"
#include "sync/finalize.h"
#include "sync/pipeline.h"
#include "sync/scan.h"
#include "sync/state.h"
#include "sync/sync.h"


typedef struct run {
    tz_scan sc;
    tz_wallet *w;
    tz_note_receiver *rs;
    size_t n_rs;
    tz_frontier fr;
    bool has_fr;
    bool verified_now;    /* the frontier of the cursor gave the chain's root */
} run;

/* tz_scan_ops.save: copies the scan state into the wallet and saves it
 * atomically. */
static tz_status save_wallet(void *ctx, uint64_t cursor, tz_error *err)
{
    run *r = ctx;
    tz_wallet *w = r->w;
    if (r->has_fr)
        tz_frontier_settle(&r->fr); /* the branches the kernel stores */
    tz_wallet_set_scan(w, cursor, r->has_fr ? r->fr.branch : NULL);
    if (r->verified_now && tz_wallet_mark_verified(w) != TZ_OK)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    return tz_wallet_save(w, err);
}

/* Takes the scan state (cursor, frontier) from the wallet. */
static void load_scan_state(run *r)
{
    tz_wallet *w = r->w;
    tz_scan_reset(&r->sc, w->scanned);
    r->has_fr = false;
    if (w->sync.has_frontier && w->sync.frontier_size == w->scanned) {
        r->fr.size = w->sync.frontier_size;
        memcpy(r->fr.branch, w->sync.frontier, sizeof r->fr.branch);
        r->has_fr = true;
    } else if (w->scanned == 0) {
        tz_frontier_init(&r->fr);
        r->has_fr = true;
    }
}

/* The leaves scanned do not give the chain's root: a node served at least
 * one leaf that is not in its tree. Returns the wallet to its last
 * verified state, saves it and takes the scan state from it, so the
 * unverified range is scanned again (notes included). Fills *rb. Returns
 * TZ_OK, or the save's error (appended to err's message). */
static tz_status rollback(run *r, tz_wallet_rollback *rb, tz_error *err)
{
    tz_error serr;
    tz_wallet_rollback_unverified(r->w, rb);
    if (tz_wallet_save(r->w, &serr) != TZ_OK) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n,
                 "; returning to the last verified state failed: %s", serr.msg);
        return err->code = serr.code;
    }
    load_scan_state(r);
    return TZ_OK;
}

static bool has_note(const tz_wallet *w, uint64_t index, const tz_felt *cm)
{
    for (size_t i = 0; i < w->n_notes; i++)
        if (w->notes[i].index == index && tz_felt_eq(&w->notes[i].cm, cm))
            return true;
    return false;
}

/* tz_scan_ops.merge: folds one leaf, in order, into the wallet state. */
static tz_status merge(void *ctx, tz_leaf_result *l, tz_error *err)
{
    run *r = ctx;
    tz_wallet *w = r->w;
    tz_status st = TZ_OK;
    /* The spend paths: every witness takes the leaf; a note of ours gets
     * one from the frontier just before its leaf. */
    if (r->has_fr) {
        tz_wallet_witness_append(w, l->index, &l->cm);
        if (l->mine && (st = tz_wallet_witness_start(w, &r->fr, &l->cm)) != TZ_OK) {
            tz_error_set(err, st, "sync: cannot keep the spend path of the note at leaf %" PRIu64,
                         l->index);
            goto out;
        }
    }
    if (r->has_fr && tz_frontier_push(&r->fr, &l->cm) != TZ_OK) {
        st = tz_error_set(err, TZ_EPARSE, "leaf %" PRIu64 ": the commitment tree is full",
                          l->index);
        goto out;
    }
    for (size_t i = 0; i < w->n_deposits; i++) {
        if (w->deposits[i].has_shielded_cm && tz_felt_eq(&w->deposits[i].shielded_cm, &l->cm) &&
            (st = tz_wallet_observe_cm(w, &l->cm)) != TZ_OK) {
            tz_error_set(err, st, "sync: cannot record an observed deposit commitment");
            goto out;
        }
    }
    if (l->mine && !has_note(w, l->index, &l->cm)) {
        const tz_note_receiver *rc = &r->rs[l->which];
        tz_wallet_note n = {.nk_spend = rc->nk_spend,
                            .nk_tag = rc->nk_tag,
                            .auth_root = rc->auth_root,
                            .d_j = rc->d_j,
                            .v = l->plain.v,
                            .rseed = l->plain.rseed,
                            .cm = l->cm,
                            .index = l->index,
                            .addr_index = rc->index};
        st = tz_wallet_add_note(w, &n);
        sodium_memzero(&n, sizeof n);
        if (st != TZ_OK) {
            tz_error_set(err, st, "sync: cannot record the note at leaf %" PRIu64, l->index);
            goto out;
        }
        r->sc.res->found++;
        tz_sync_event ev = {.type = TZ_SYNC_EV_FOUND, .v = l->plain.v, .cm = &l->cm,
                            .index = l->index, .found = r->sc.res->found, .pid = -1};
        tz_scan_emit(&r->sc, &ev);
    }
out:
    return st;
}

static tz_status prepare_receivers(run *r, tz_error *err)
{
    tz_wallet *w = r->w;
    if (w->n_addresses == 0)
        return TZ_OK;
    r->rs = calloc(w->n_addresses, sizeof *r->rs);
    if (!r->rs)
        return tz_error_set(err, TZ_ENOMEM, "sync: out of memory for %zu address keys",
                            w->n_addresses);
    tz_keys keys;
    tz_keys_derive(&keys, &w->master_sk);
    tz_status st = TZ_OK;
    for (size_t i = 0; i < w->n_addresses; i++) {
        st = tz_note_receiver_init(&r->rs[i], &keys, w->addresses[i].index,
                                   &w->addresses[i].auth_root);
        if (st != TZ_OK) {
            tz_error_set(err, st, "sync: cannot prepare address %u", w->addresses[i].index);
            break;
        }
        r->n_rs++;
        if (!tz_felt_eq(&r->rs[i].d_j, &w->addresses[i].d_j))
            tz_scan_warnf(&r->sc, "address %u: stored d_j does not match the one derived from master_sk",
                  w->addresses[i].index);
    }
    tz_keys_wipe(&keys);
    return st;
}

static void free_receivers(run *r)
{
    for (size_t i = 0; i < r->n_rs; i++)
        tz_note_receiver_wipe(&r->rs[i]);
    free(r->rs);
    r->rs = NULL;
    r->n_rs = 0;
}

tz_status tz_sync_run(tz_wallet *w, tz_rpc *rpc, const tz_sync_config *cfg,
                      const tz_sync_hooks *hooks, tz_sync_result *res, tz_error *err)
{
    if (!w)
        return tz_error_set(err, TZ_EINVAL, "sync: invalid arguments");
    run r = {.w = w};
    tz_chain_heads heads;
    tz_status st = tz_scan_begin(&r.sc, w->path, w->scanned, rpc, cfg, hooks, res, &heads, err);
    if (st != TZ_OK)
        return st;
    tz_finalize_in fin = {.w = w,
                          .rpc = rpc,
                          .block = res->block,
                          .have_root = true,
                          .root_present = heads.root_present,
                          .chain_root = heads.root,
                          .have_nf_count = true,
                          .nf_count = heads.nf_count};
    tz_scan_ops ops = {.merge = merge, .save = save_wallet, .ctx = &r};

    load_scan_state(&r);
    /* A second pass only when a root mismatch may come from leaves an
     * earlier run scanned (perhaps from another node): this run's own
     * node then gets one chance to serve the range honestly. */
    for (int pass = 0;; pass++) {
        if (r.sc.cursor < res->tree_size) {
            if (!r.rs && (st = prepare_receivers(&r, err)) != TZ_OK)
                goto out;
            ops.receivers = r.rs;
            ops.n_receivers = r.n_rs;
            st = tz_scan_range(&r.sc, &ops, err);
            if (st != TZ_OK || res->yielded)
                goto out;
            tz_scan_progress(&r.sc, true);
        }
        fin.tree_size = res->tree_size;
        fin.frontier = r.has_fr ? &r.fr : NULL;
        tz_finalize_out fo;
        uint64_t started = r.sc.run_start;
        st = tz_sync_finalize(&fin, &fo, err);
        for (size_t i = 0; i < fo.n_warnings; i++)
            tz_scan_warnf(&r.sc, "%s", fo.warnings[i]);
        if (fo.root_mismatch) {
            tz_wallet_rollback rb;
            if ((st = rollback(&r, &rb, err)) != TZ_OK)
                goto out;
            if (pass == 0 && rb.to < started) {
                tz_scan_warnf(&r.sc, "%s; leaves [%" PRIu64 ", %" PRIu64 ") were scanned by an "
                              "earlier run: scanning again from the last verified state",
                              err->msg, rb.to, started);
                res->found = 0; /* every note this run found was past rb.to */
                continue;
            }
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof err->msg - n,
                     ". The wallet returned to its last verified state: cursor %" PRIu64
                     " -> %" PRIu64 ", %zu note(s) found past it dropped; the next sync "
                     "against an honest node scans those leaves again",
                     rb.from, rb.to, rb.notes_dropped);
            st = TZ_EMISMATCH;
            goto out;
        }
        res->spent = fo.spent;
        res->spends_dropped = fo.spends_dropped;
        res->deposits_pruned = fo.deposits_pruned;
        res->nullifiers_read = fo.nullifiers_read;
        res->pool_funded_total = fo.pool_funded_total;
        res->pools_awaiting_credit = fo.pools_awaiting_credit;
        res->pools_drained_pending_prune = fo.pools_drained_pending_prune;
        if (st != TZ_OK)
            goto out;
        r.verified_now = fo.verified;
        if ((st = tz_scan_checkpoint(&r.sc, &ops, err)) != TZ_OK)
            goto out;
        res->finalized = true;
        res->verified = fo.verified;
        res->root = fo.root;
        break;
    }
out:
    free_receivers(&r);
    return st;
}
