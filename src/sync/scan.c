/* The shared scan engine (scan.h): pin, scan with checkpoints and yields.
 * The invariants are explained in docs/sync.md. */
#include "sync/scan.h"

#include <inttypes.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "store/sentinel.h"

/* How long the merger waits for the next leaf before looking at the
 * sentinel again, and how often it looks while leaves keep coming. */
#define WAIT_MS 2
#define SENTINEL_EVERY_SECS 0.001
#define PROGRESS_EVERY_SECS 0.1

void tz_scan_emit(tz_scan *s, tz_sync_event *ev)
{
    if (s->hooks && s->hooks->on_event)
        s->hooks->on_event(s->hooks->ctx, ev);
}

void tz_scan_warnf(tz_scan *s, const char *fmt, ...)
{
    char msg[TZ_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tz_sync_event ev = {.type = TZ_SYNC_EV_WARNING, .message = msg, .pid = -1};
    tz_scan_emit(s, &ev);
}

void tz_scan_progress(tz_scan *s, bool force)
{
    double t = tz_mono_secs();
    if (!force && t - s->last_progress < PROGRESS_EVERY_SECS)
        return;
    s->last_progress = t;
    double el = t - s->t0;
    uint64_t done = s->cursor - s->run_start;
    double rate = el > 0 ? (double)done / el : 0;
    uint64_t left = s->res->tree_size - s->cursor;
    tz_sync_event ev = {.type = TZ_SYNC_EV_PROGRESS,
                        .scanned = s->cursor,
                        .tree_size = s->res->tree_size,
                        .found = s->res->found,
                        .leaves_per_sec = rate,
                        .eta_secs = left == 0 ? 0 : rate > 0 ? (double)left / rate : -1,
                        .inflight_limit = tz_rpc_inflight_limit(s->rpc),
                        .pid = -1};
    tz_scan_emit(s, &ev);
}

static bool stop_requested(const tz_scan *s)
{
    return s->hooks && s->hooks->stop && __atomic_load_n(s->hooks->stop, __ATOMIC_SEQ_CST);
}

/* Reports a stale sentinel that tz_sentinel_check removed: the event, then
 * a warning naming the PID and why it no longer owned the sentinel. */
static void report_stale(tz_scan *s, const char *path, long pid, tz_pid_verdict why)
{
    tz_sync_event ev = {.type = TZ_SYNC_EV_STALE_SENTINEL, .pid = pid};
    tz_scan_emit(s, &ev);
    if (why == TZ_PID_DEAD) {
        tz_scan_warnf(s, "removed stale yield sentinel %s.yield left by dead process %ld", path,
                      pid);
        return;
    }
    char text[160];
    tz_scan_warnf(s, "removed stale yield sentinel %s.yield: %s", path,
                  tz_pid_why((pid_t)pid, why, "sentinel", text, sizeof text));
}

bool tz_scan_sentinel_live(tz_scan *s, const char *path, long *pid)
{
    tz_sentinel_state st = TZ_SENTINEL_NONE;
    long p = -1;
    tz_pid_verdict why = TZ_PID_OWNER;
    tz_error e;
    s->last_sentinel = tz_mono_secs();
    if (tz_sentinel_check(path, &st, &p, &why, &e) != TZ_OK) {
        tz_scan_warnf(s, "cannot inspect the yield sentinel %s.yield (%s); yielding", path,
                      e.msg);
        st = TZ_SENTINEL_LIVE;
    }
    if (st == TZ_SENTINEL_STALE_REMOVED) {
        report_stale(s, path, p, why);
        return false;
    }
    if (st == TZ_SENTINEL_LIVE) {
        *pid = p;
        return true;
    }
    return false;
}

static bool should_yield(tz_scan *s, const tz_scan_ops *ops, long *pid)
{
    if (ops->should_yield) {
        s->last_sentinel = tz_mono_secs();
        return ops->should_yield(ops->ctx, pid);
    }
    return s->path && tz_scan_sentinel_live(s, s->path, pid);
}

static void set_yield(tz_scan *s, long pid)
{
    s->res->yielded = true;
    s->res->yielded_to_pid = pid;
    tz_sync_event ev = {.type = TZ_SYNC_EV_YIELD, .pid = pid, .scanned = s->saved};
    tz_scan_emit(s, &ev);
}

tz_status tz_scan_checkpoint(tz_scan *s, const tz_scan_ops *ops, tz_error *err)
{
    tz_status st = ops->save(ops->ctx, s->cursor, err);
    if (st != TZ_OK)
        return tz_error_prefix(err, "checkpoint at leaf %" PRIu64, s->cursor);
    s->saved = s->cursor;
    s->res->scanned = s->saved;
    s->res->checkpoints++;
    tz_sync_event ev = {.type = TZ_SYNC_EV_CHECKPOINT, .scanned = s->saved,
                        .tree_size = s->res->tree_size, .found = s->res->found, .pid = -1};
    tz_scan_emit(s, &ev);
    return TZ_OK;
}

uint64_t tz_sync_batch_end(uint64_t cursor, uint64_t k, uint64_t limit)
{
    uint64_t end = (k > UINT64_MAX - cursor) ? UINT64_MAX : cursor + k;
    return end < limit ? end : limit;
}

void tz_scan_reset(tz_scan *s, uint64_t cursor)
{
    s->cursor = s->saved = s->run_start = s->res->scanned = cursor;
}

tz_status tz_scan_failed(tz_error *err)
{
    static const char tail[] = ". Run `tzel-wallet check` for a fuller diagnosis.";
    char msg[TZ_ERROR_MSG_MAX];
    size_t room = sizeof msg - sizeof "sync failed: " - sizeof tail + 1;
    snprintf(msg, sizeof msg, "sync failed: %.*s%s", (int)room, err->msg, tail);
    memcpy(err->msg, msg, sizeof msg);
    return err->code;
}

tz_status tz_scan_begin(tz_scan *s, const char *path, uint64_t scanned, tz_rpc *rpc,
                        const tz_sync_config *cfg, const tz_sync_hooks *hooks,
                        tz_sync_result *res, tz_chain_heads *heads, tz_error *err)
{
    memset(res, 0, sizeof *res);
    res->yielded_to_pid = -1;
    memset(s, 0, sizeof *s);
    if (!rpc || !cfg || cfg->checkpoint_every == 0 || cfg->concurrency == 0 ||
        cfg->threads == 0)
        return tz_error_set(err, TZ_EINVAL, "sync: invalid arguments");
    s->path = path;
    s->rpc = rpc;
    s->cfg = cfg;
    s->hooks = hooks;
    s->res = res;
    s->t0 = s->last_progress = tz_mono_secs();
    res->scanned = scanned;

    /* A live sentinel at start lets the first batch through; a stale one
     * is removed here with a warning. */
    long pid = -1;
    s->grace = path && tz_scan_sentinel_live(s, path, &pid);

    tz_status st;
    if ((st = tz_rpc_head_hash(rpc, res->block, err)) != TZ_OK)
        return tz_scan_failed(err);
    /* tree/size, tree/root and nullifiers/count in one concurrent round
     * trip, all at the pinned block (finalize uses the last two). */
    if ((st = tz_state_read_heads(rpc, res->block, heads, err)) != TZ_OK)
        return tz_scan_failed(err);
    res->tree_size = heads->tree_size;
    if (scanned > res->tree_size) {
        tz_error_set(err, TZ_EMISMATCH,
                     "wallet cursor %" PRIu64 " is ahead of rollup tree size %" PRIu64
                     " (block %s: the cursor is beyond the chain; wrong rollup node, or the "
                     "cursor must be reset)",
                     scanned, res->tree_size, res->block);
        return tz_scan_failed(err);
    }
    tz_sync_event ev = {.type = TZ_SYNC_EV_START, .scanned = scanned,
                        .tree_size = res->tree_size, .block = res->block, .config = cfg,
                        .inflight_limit = tz_rpc_inflight_limit(rpc), .pid = -1};
    tz_scan_emit(s, &ev);
    tz_scan_reset(s, scanned);
    return TZ_OK;
}

tz_status tz_scan_range(tz_scan *s, const tz_scan_ops *ops, tz_error *err)
{
    tz_sync_result *res = s->res;
    volatile int cancel_flag = 0;
    tz_rpc_source src = {.rpc = s->rpc, .block = res->block};
    size_t window = (size_t)s->cfg->concurrency * 8 + (size_t)s->cfg->threads * 4;
    if (window < 256)
        window = 256;
    if (window > 4096)
        window = 4096;
    tz_pipeline_cfg pc = {.source = tz_pipeline_rpc_source,
                          .source_ctx = &src,
                          .start = s->cursor,
                          .end = res->tree_size,
                          .receivers = ops->receivers,
                          .n_receivers = ops->n_receivers,
                          .trial = ops->trial,
                          .trial_ctx = ops->trial_ctx,
                          .hit_bytes = ops->hit_bytes,
                          .threads = s->cfg->threads,
                          .window = window,
                          .cancel_flag = &cancel_flag};
    tz_pipeline *p = NULL;
    tz_rpc_set_cancel_flag(s->rpc, &cancel_flag);
    tz_status st = tz_pipeline_start(&pc, &p, err);
    if (st != TZ_OK)
        goto out;

    uint64_t batch_end = tz_sync_batch_end(s->saved, s->cfg->checkpoint_every, res->tree_size);
    long pid = -1;
    while (s->cursor < res->tree_size) {
        if (stop_requested(s)) {
            tz_pipeline_cancel(p);
            if (s->cursor > s->saved && (st = tz_scan_checkpoint(s, ops, err)) != TZ_OK)
                goto out;
            st = tz_error_set(err, TZ_ECANCEL,
                              "sync stopped by a signal; progress saved at leaf %" PRIu64,
                              s->saved);
            goto out;
        }
        tz_leaf_result l;
        bool got = false;
        st = tz_pipeline_next(p, WAIT_MS, &l, &got, err);
        if (st != TZ_OK) {
            tz_scan_failed(err); /* the file keeps the last checkpoint */
            goto out;
        }
        if (got) {
            st = ops->merge(ops->ctx, &l, err);
            sodium_memzero(&l.plain, sizeof l.plain);
            if (st != TZ_OK)
                goto out;
            s->cursor = l.index + 1;
            if (s->cursor == batch_end) {
                if ((st = tz_scan_checkpoint(s, ops, err)) != TZ_OK)
                    goto out;
                tz_scan_progress(s, true);
                s->grace = false;
                if (should_yield(s, ops, &pid)) {
                    tz_pipeline_cancel(p);
                    set_yield(s, pid);
                    goto out;
                }
                batch_end = tz_sync_batch_end(s->saved, s->cfg->checkpoint_every,
                                              res->tree_size);
                continue;
            }
            tz_scan_progress(s, false);
        }
        /* Between checkpoints: a sentinel raised now makes us save the
         * finished prefix and yield at once. The first batch of a run
         * that started under a live sentinel passes, and a run yields
         * only after merging at least one leaf (every run progresses). */
        if (!s->grace && s->cursor > s->run_start &&
            tz_mono_secs() - s->last_sentinel >= SENTINEL_EVERY_SECS &&
            should_yield(s, ops, &pid)) {
            tz_pipeline_cancel(p);
            if (s->cursor > s->saved && (st = tz_scan_checkpoint(s, ops, err)) != TZ_OK)
                goto out;
            set_yield(s, pid);
            goto out;
        }
    }
out:
    tz_pipeline_free(p);
    tz_rpc_set_cancel_flag(s->rpc, NULL);
    return st;
}
