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
#include "sync/state.h"
#include "sync/sync.h"


/* How long the merger waits for the next leaf before looking at the
 * sentinel again, and how often it looks while leaves keep coming. */
#define WAIT_MS 2
#define SENTINEL_EVERY_SECS 0.001
#define PROGRESS_EVERY_SECS 0.1

typedef struct run {
    tz_wallet *w;
    tz_rpc *rpc;
    const tz_sync_config *cfg;
    const tz_sync_hooks *hooks;
    tz_sync_result *res;
    tz_note_receiver *rs;
    size_t n_rs;
    tz_frontier fr;
    bool has_fr;
    uint64_t cursor;      /* every leaf below is merged (in memory) */
    uint64_t saved;       /* every leaf below is saved */
    uint64_t run_start;
    bool grace;           /* a live sentinel was up at start: first batch passes */
    bool verified_now;    /* the frontier of `cursor` gave the chain's root */
    double t0, last_progress, last_sentinel;
} run;

static void emit(run *r, tz_sync_event *ev)
{
    if (r->hooks && r->hooks->on_event)
        r->hooks->on_event(r->hooks->ctx, ev);
}

static void warnf(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(run *r, const char *fmt, ...)
{
    char msg[TZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tz_sync_event ev = {.type = TZ_SYNC_EV_WARNING, .message = msg, .pid = -1};
    emit(r, &ev);
}

static void progress(run *r, bool force)
{
    double t = tz_mono_secs();
    if (!force && t - r->last_progress < PROGRESS_EVERY_SECS)
        return;
    r->last_progress = t;
    double el = t - r->t0;
    uint64_t done = r->cursor - r->run_start;
    double rate = el > 0 ? (double)done / el : 0;
    uint64_t left = r->res->tree_size - r->cursor;
    tz_sync_event ev = {.type = TZ_SYNC_EV_PROGRESS,
                        .scanned = r->cursor,
                        .tree_size = r->res->tree_size,
                        .found = r->res->found,
                        .leaves_per_sec = rate,
                        .eta_secs = left == 0 ? 0 : rate > 0 ? (double)left / rate : -1,
                        .inflight_limit = tz_rpc_inflight_limit(r->rpc),
                        .pid = -1};
    emit(r, &ev);
}

static bool stop_requested(const run *r)
{
    return r->hooks && r->hooks->stop && __atomic_load_n(r->hooks->stop, __ATOMIC_SEQ_CST);
}

/* Reports a stale sentinel that tz_sentinel_check removed: the event, then
 * a warning naming the PID and why it no longer owned the sentinel. */
static void report_stale(run *r, long pid, tz_pid_verdict why)
{
    tz_sync_event ev = {.type = TZ_SYNC_EV_STALE_SENTINEL, .pid = pid};
    emit(r, &ev);
    if (why == TZ_PID_DEAD) {
        warnf(r, "removed stale yield sentinel %s.yield left by dead process %ld", r->w->path,
              pid);
        return;
    }
    char text[160];
    warnf(r, "removed stale yield sentinel %s.yield: %s", r->w->path,
          tz_pid_why((pid_t)pid, why, "sentinel", text, sizeof text));
}

uint64_t tz_sync_batch_end(uint64_t cursor, uint64_t k, uint64_t limit)
{
    uint64_t end = (k > UINT64_MAX - cursor) ? UINT64_MAX : cursor + k;
    return end < limit ? end : limit;
}

/* Looks at the sentinel: true when it is live (sets *pid). A stale one is
 * removed by tz_sentinel_check; we report it and carry on. An unreadable
 * one counts as live (the safe reading). */
static bool sentinel_live(run *r, long *pid)
{
    tz_sentinel_state s = TZ_SENTINEL_NONE;
    long p = -1;
    tz_pid_verdict why = TZ_PID_OWNER;
    tz_error e;
    r->last_sentinel = tz_mono_secs();
    if (tz_sentinel_check(r->w->path, &s, &p, &why, &e) != TZ_OK) {
        warnf(r, "cannot inspect the yield sentinel %s.yield (%s); yielding", r->w->path,
              e.msg);
        s = TZ_SENTINEL_LIVE;
    }
    if (s == TZ_SENTINEL_STALE_REMOVED) {
        report_stale(r, p, why);
        return false;
    }
    if (s == TZ_SENTINEL_LIVE) {
        *pid = p;
        return true;
    }
    return false;
}

static void set_yield(run *r, long pid)
{
    r->res->yielded = true;
    r->res->yielded_to_pid = pid;
    tz_sync_event ev = {.type = TZ_SYNC_EV_YIELD, .pid = pid, .scanned = r->saved};
    emit(r, &ev);
}

/* Copies the scan state into the wallet and saves it atomically. */
static tz_status checkpoint(run *r, tz_error *err)
{
    tz_wallet *w = r->w;
    tz_wallet_set_scan(w, r->cursor, r->has_fr ? r->fr.branch : NULL);
    if (r->verified_now && tz_wallet_mark_verified(w) != TZ_OK)
        return tz_error_set(err, TZ_ENOMEM, "checkpoint at leaf %" PRIu64 ": out of memory",
                            r->cursor);
    tz_status st = tz_wallet_save(w, err);
    if (st != TZ_OK)
        return tz_error_prefix(err, "checkpoint at leaf %" PRIu64, r->cursor);
    r->saved = r->cursor;
    r->res->scanned = r->saved;
    r->res->checkpoints++;
    tz_sync_event ev = {.type = TZ_SYNC_EV_CHECKPOINT, .scanned = r->saved,
                        .tree_size = r->res->tree_size, .found = r->res->found, .pid = -1};
    emit(r, &ev);
    return TZ_OK;
}

/* Takes the scan state (cursor, frontier) from the wallet. */
static void load_scan_state(run *r)
{
    tz_wallet *w = r->w;
    r->cursor = r->saved = r->run_start = r->res->scanned = w->scanned;
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

/* Folds one leaf, in order, into the wallet state. */
static tz_status merge(run *r, tz_leaf_result *l, tz_error *err)
{
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
    if (r->has_fr && tz_frontier_append(&r->fr, &l->cm, NULL) != TZ_OK) {
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
        r->res->found++;
        tz_sync_event ev = {.type = TZ_SYNC_EV_FOUND, .v = l->plain.v, .cm = &l->cm,
                            .index = l->index, .found = r->res->found, .pid = -1};
        emit(r, &ev);
    }
    r->cursor = l->index + 1;
out:
    sodium_memzero(&l->plain, sizeof l->plain);
    return st;
}

/* Words a failure of the head pin, the tree size read or the leaf fetch
 * like the reference's note-loading failure. Returns err's code. */
static tz_status sync_failed(tz_error *err)
{
    static const char tail[] = ". Run `tzel-wallet check` for a fuller diagnosis.";
    char msg[TZ_ERROR_MSG_MAX];
    size_t room = sizeof msg - sizeof "sync failed: " - sizeof tail + 1;
    snprintf(msg, sizeof msg, "sync failed: %.*s%s", (int)room, err->msg, tail);
    memcpy(err->msg, msg, sizeof msg);
    return err->code;
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
            warnf(r, "address %u: stored d_j does not match the one derived from master_sk",
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

/* Scans [cursor, tree_size). Returns TZ_OK when the range is done or the
 * run yielded (res->yielded), TZ_ECANCEL on a stop request (prefix saved),
 * or the error (the file keeps the last checkpoint). */
static tz_status scan(run *r, tz_error *err)
{
    tz_sync_result *res = r->res;
    volatile int cancel_flag = 0;
    tz_rpc_source src = {.rpc = r->rpc, .block = res->block};
    size_t window = (size_t)r->cfg->concurrency * 8 + (size_t)r->cfg->threads * 4;
    if (window < 256)
        window = 256;
    if (window > 4096)
        window = 4096;
    tz_pipeline_cfg pc = {.source = tz_pipeline_rpc_source,
                          .source_ctx = &src,
                          .start = r->cursor,
                          .end = res->tree_size,
                          .receivers = r->rs,
                          .n_receivers = r->n_rs,
                          .threads = r->cfg->threads,
                          .window = window,
                          .cancel_flag = &cancel_flag};
    tz_pipeline *p = NULL;
    tz_rpc_set_cancel_flag(r->rpc, &cancel_flag);
    tz_status st = tz_pipeline_start(&pc, &p, err);
    if (st != TZ_OK)
        goto out;

    uint64_t batch_end = tz_sync_batch_end(r->saved, r->cfg->checkpoint_every, res->tree_size);
    long pid = -1;
    while (r->cursor < res->tree_size) {
        if (stop_requested(r)) {
            tz_pipeline_cancel(p);
            if (r->cursor > r->saved && (st = checkpoint(r, err)) != TZ_OK)
                goto out;
            st = tz_error_set(err, TZ_ECANCEL,
                              "sync stopped by a signal; progress saved at leaf %" PRIu64,
                              r->saved);
            goto out;
        }
        tz_leaf_result l;
        bool got = false;
        st = tz_pipeline_next(p, WAIT_MS, &l, &got, err);
        if (st != TZ_OK) {
            sync_failed(err); /* the file keeps the last checkpoint */
            goto out;
        }
        if (got) {
            if ((st = merge(r, &l, err)) != TZ_OK)
                goto out;
            if (r->cursor == batch_end) {
                if ((st = checkpoint(r, err)) != TZ_OK)
                    goto out;
                progress(r, true);
                r->grace = false;
                if (sentinel_live(r, &pid)) {
                    tz_pipeline_cancel(p);
                    set_yield(r, pid);
                    goto out;
                }
                batch_end = tz_sync_batch_end(r->saved, r->cfg->checkpoint_every,
                                              res->tree_size);
                continue;
            }
            progress(r, false);
        }
        /* Between checkpoints: a sentinel raised now makes us save the
         * finished prefix and yield at once. The first batch of a run
         * that started under a live sentinel passes, and a run yields
         * only after merging at least one leaf (every run progresses). */
        if (!r->grace && r->cursor > r->run_start &&
            tz_mono_secs() - r->last_sentinel >= SENTINEL_EVERY_SECS && sentinel_live(r, &pid)) {
            tz_pipeline_cancel(p);
            if (r->cursor > r->saved && (st = checkpoint(r, err)) != TZ_OK)
                goto out;
            set_yield(r, pid);
            goto out;
        }
    }
out:
    tz_pipeline_free(p);
    tz_rpc_set_cancel_flag(r->rpc, NULL);
    return st;
}

tz_status tz_sync_run(tz_wallet *w, tz_rpc *rpc, const tz_sync_config *cfg,
                      const tz_sync_hooks *hooks, tz_sync_result *res, tz_error *err)
{
    memset(res, 0, sizeof *res);
    res->yielded_to_pid = -1;
    if (!w || !rpc || !cfg || cfg->checkpoint_every == 0 || cfg->concurrency == 0 ||
        cfg->threads == 0)
        return tz_error_set(err, TZ_EINVAL, "sync: invalid arguments");
    run r = {.w = w, .rpc = rpc, .cfg = cfg, .hooks = hooks, .res = res};
    r.t0 = r.last_progress = tz_mono_secs();
    res->scanned = w->scanned;
    tz_status st;

    /* A live sentinel at start lets the first batch through; a stale one
     * is removed here with a warning. */
    long pid = -1;
    r.grace = sentinel_live(&r, &pid);

    if ((st = tz_rpc_head_hash(rpc, res->block, err)) != TZ_OK)
        return sync_failed(err);
    /* tree/size, tree/root and nullifiers/count in one concurrent round
     * trip, all at the pinned block (finalize uses the last two). */
    tz_chain_heads heads;
    if ((st = tz_state_read_heads(rpc, res->block, &heads, err)) != TZ_OK)
        return sync_failed(err);
    res->tree_size = heads.tree_size;
    tz_finalize_in fin = {.w = w,
                          .rpc = rpc,
                          .block = res->block,
                          .have_root = true,
                          .root_present = heads.root_present,
                          .chain_root = heads.root,
                          .have_nf_count = true,
                          .nf_count = heads.nf_count};
    if (w->scanned > res->tree_size) {
        tz_error_set(err, TZ_EMISMATCH,
                     "wallet cursor %" PRIu64 " is ahead of rollup tree size %" PRIu64
                     " (block %s: the cursor is beyond the chain; wrong rollup node, or the "
                     "cursor must be reset)",
                     w->scanned, res->tree_size, res->block);
        return sync_failed(err);
    }

    tz_sync_event ev = {.type = TZ_SYNC_EV_START, .scanned = w->scanned,
                        .tree_size = res->tree_size, .block = res->block, .config = cfg,
                        .inflight_limit = tz_rpc_inflight_limit(rpc), .pid = -1};
    emit(&r, &ev);

    load_scan_state(&r);
    /* A second pass only when a root mismatch may come from leaves an
     * earlier run scanned (perhaps from another node): this run's own
     * node then gets one chance to serve the range honestly. */
    for (int pass = 0;; pass++) {
        if (r.cursor < res->tree_size) {
            if (!r.rs && (st = prepare_receivers(&r, err)) != TZ_OK)
                goto out;
            st = scan(&r, err);
            if (st != TZ_OK || res->yielded)
                goto out;
            progress(&r, true);
        }
        fin.tree_size = res->tree_size;
        fin.frontier = r.has_fr ? &r.fr : NULL;
        tz_finalize_out fo;
        uint64_t started = r.run_start;
        st = tz_sync_finalize(&fin, &fo, err);
        for (size_t i = 0; i < fo.n_warnings; i++)
            warnf(&r, "%s", fo.warnings[i]);
        if (fo.root_mismatch) {
            tz_wallet_rollback rb;
            if ((st = rollback(&r, &rb, err)) != TZ_OK)
                goto out;
            if (pass == 0 && rb.to < started) {
                warnf(&r, "%s; leaves [%" PRIu64 ", %" PRIu64 ") were scanned by an earlier "
                      "run: scanning again from the last verified state",
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
        if ((st = checkpoint(&r, err)) != TZ_OK)
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
