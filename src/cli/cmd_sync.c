/* `tzel-wallet sync`: the cooperative-yield sync (docs/sync.md), once or
 * in a --watch loop. Rendering of the engine's events lives here: a TTY
 * progress bar and human lines, or JSON lines on stderr with --json
 * (docs/json-output.md). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "core/commit.h"
#include "core/xmss.h"
#include "base/clock.h"
#include "output.h"
#include "sync_opts.h"
#include "store/jsonnum.h"
#include "store/lock.h"
#include "sync/sync.h"
#include "sync_view.h"


static const char usage[] =
    "Usage: tzel-wallet [-w PATH] sync [--checkpoint-every K] [--concurrency auto|N]\n"
    "                   [--max-concurrency M] [--threads T] [--watch [--interval-secs S]]\n"
    "                   [--rpc-timeout-secs N] [--no-values-route]\n"
    "\n"
    "Scans the leaves [scanned, tree/size) at one pinned block for this wallet's notes,\n"
    "saving a checkpoint every K leaves, then removes spent notes, settles pending\n"
    "spends and deposits and checks the commitment tree root. stdout (the reference's\n"
    "lines): `  found: v=V cm=C index=I` per new note, then `Synced: ...`.\n"
    "\n"
    "  --checkpoint-every K  leaves per checkpoint (else $TZEL_SYNC_CHECKPOINT_EVERY,\n"
    "                        else 250); must be a positive integer\n"
    "  --concurrency auto|N  HTTP requests in flight (else $TZEL_SYNC_CONCURRENCY, else\n"
    "                        auto): auto starts at 8 and adapts to the node's latency\n"
    "                        and refusals (docs/sync.md); N (1..128) pins it\n"
    "  --max-concurrency M   auto's ceiling, 1..128 (else $TZEL_SYNC_MAX_CONCURRENCY,\n"
    "                        else 64); above 96 a warning: nodes stop near 100 connections\n"
    "  --threads T           trial-decryption threads (else $TZEL_SYNC_THREADS, else\n"
    "                        the online cores)\n"
    "  --watch               repeat: a new round every S seconds at a newly pinned head,\n"
    "                        the lock released between rounds; SIGINT/SIGTERM ends it\n"
    "  --interval-secs S     seconds between watch rounds (default 5; 0 counts as 1;\n"
    "                        accepted and ignored without --watch)\n"
    "  --rpc-timeout-secs N  the longest one request to the node may take, 1..86400\n"
    "                        (default 30): a node that accepts and never answers, or\n"
    "                        drips its answer, fails the run (exit 5) naming the URL\n"
    "  --no-values-route     fetch each note with `len` + chunks (benchmarks)\n"
    "\n"
    "Cooperative yield: when <wallet>.yield names a live process (or holds anything\n"
    "that is not a PID), sync saves what it finished and exits 0 so that process gets\n"
    "the lock; the next sync resumes from the saved cursor. A sentinel left by a dead\n"
    "process, or naming a PID that was recycled since, is removed with a warning.\n";

/* Totals over the rounds of a watch. */
typedef struct totals {
    uint64_t found, spent, rounds;
    tz_sync_result last;
    bool have_last;
} totals;

static json_t *result_json(const totals *t)
{
    const tz_sync_result *r = &t->last;
    char root[TZ_FELT_HEX + 1];
    if (r->verified)
        tz_felt_to_hex(root, &r->root);
    return json_pack("{s:o, s:o, s:o, s:o, s:s, s:b, s:o, s:o, s:o}", "found",
                     tz_json_u64(t->found), "spent", tz_json_u64(t->spent), "scanned",
                     tz_json_u64(r->scanned), "tree_size", tz_json_u64(r->tree_size), "block",
                     r->block, "yielded", r->yielded, "yielded_to_pid",
                     r->yielded ? tz_sync_pid_json(r->yielded_to_pid) : json_null(), "verified_root",
                     r->verified ? json_string(root) : json_null(), "rounds",
                     tz_json_u64(t->rounds));
}

/* The reference's available balance: the value of the notes none of whose
 * nullifiers is in a pending spend (saturating). */
static uint64_t available_of(const tz_wallet *w)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < w->n_notes; i++) {
        const tz_wallet_note *n = &w->notes[i];
        tz_felt nf;
        tz_note_nullifier(&nf, &n->nk_spend, &n->cm, n->index);
        bool pending = false;
        for (size_t s = 0; s < w->n_spends && !pending; s++)
            for (size_t j = 0; j < w->spends[s].n_nullifiers && !pending; j++)
                pending = tz_felt_eq(&w->spends[s].nullifiers[j], &nf);
        if (!pending)
            sum = sum + n->v < sum ? UINT64_MAX : sum + n->v;
    }
    return sum;
}

/* After a round: the reference's `Synced:` line on stdout once finalized;
 * our details on stderr. */
static void round_text(const tz_cli *cli, const tz_sync_result *r, uint64_t available)
{
    char root[TZ_FELT_HEX + 1];
    if (r->yielded) {
        tz_out_info(cli, "yielded at leaf %" PRIu64 " of %" PRIu64 " (block %s): %" PRIu64
                         " new notes so far",
                    r->scanned, r->tree_size, r->block, r->found);
        return;
    }
    tz_out_info(cli, "synced %" PRIu64 " leaves at block %s", r->scanned, r->block);
    if (r->verified) {
        tz_felt_to_hex(root, &r->root);
        tz_out_info(cli, "tree root verified: %s", root);
    } else {
        tz_out_info(cli, "tree root not verified (the wallet's cursor started without a "
                         "frontier: `init --at-head` or a sync from leaf 0 gives one)");
    }
    tz_out_text(cli,
                "Synced: %" PRIu64 " new notes, %" PRIu64 " spent removed, %" PRIu64
                " pending confirmed, %" PRIu64 " drained-pool entries pruned, "
                "private_available=%" PRIu64 ", pool_funded_total=%" PRIu64
                ", pools_awaiting_credit=%" PRIu64 ", pools_drained_pending_scan=%" PRIu64,
                r->found, r->spent, r->spends_dropped, r->deposits_pruned, available,
                r->pool_funded_total, r->pools_awaiting_credit, r->pools_drained_pending_prune);
    fflush(stdout);
}

/* One round: lock, load, run, release. Returns -1 to continue (watch), or
 * an exit code. *skipped is set when the lock was busy (watch rounds after
 * the first only). */
static int one_round(const tz_cli *cli, tz_rpc *rpc, const tz_sync_config *cfg, bool tolerate_lock,
                     totals *t, bool *skipped)
{
    *skipped = false;
    struct stat sb;
    if (stat(cli->wallet_path, &sb) != 0 && errno == ENOENT)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "read wallet: No such file or directory (os error 2): %s "
                           "(create one with `tzel-wallet init`, or pass -w PATH)",
                           cli->wallet_path);
    tz_lock *lock = NULL;
    tz_error err = {0};
    tz_status st = tz_lock_acquire(cli->wallet_path, &lock, &err);
    if (st == TZ_ELOCKED && tolerate_lock) {
        tz_sync_view v = {.cli = cli};
        tz_sync_event ev = {.type = TZ_SYNC_EV_WARNING, .message = err.msg, .pid = -1};
        tz_sync_view_event(&v, &ev);
        *skipped = true;
        return -1;
    }
    if (st == TZ_ELOCKED)
        return tz_out_fail(cli, TZ_EXIT_LOCKED, "%s", err.msg);
    if (st != TZ_OK)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "%s", err.msg);
    if (tz_lock_recovered(lock)) {
        tz_sync_view v = {.cli = cli};
        tz_sync_event ev = {
            .type = TZ_SYNC_EV_WARNING, .message = tz_lock_recovered(lock), .pid = -1};
        tz_sync_view_event(&v, &ev);
    }
    char swept[TZ_ERROR_MSG_MAX + 200];
    if (tz_cli_sweep_stale(cli, swept, sizeof swept)) {
        tz_sync_view sv = {.cli = cli};
        tz_sync_event sev = {.type = TZ_SYNC_EV_WARNING, .message = swept, .pid = -1};
        tz_sync_view_event(&sv, &sev);
    }

    tz_wallet *w = NULL;
    int rc = tz_cli_load_wallet(cli, &w);
    if (!rc && (rc = tz_cli_materialize_addresses(cli, w)) != 0)
        tz_wallet_free(w);
    if (rc) {
        tz_lock_release(lock);
        return rc;
    }
    tz_sync_view v = {.cli = cli};
    tz_sync_hooks hooks = {.on_event = tz_sync_view_event, .ctx = &v, .stop = &tz_sync_stop};
    tz_sync_result res;
    st = tz_sync_run(w, rpc, cfg, &hooks, &res, &err);
    tz_progress_finish(v.bar);
    uint64_t available = available_of(w);
    tz_wallet_free(w);
    tz_lock_release(lock);
    t->rounds++;
    t->found += res.found;
    t->spent += res.spent;
    t->last = res;
    t->have_last = true;
    if (st == TZ_ECANCEL && tz_sync_stop)
        return -2; /* stopped by a signal, prefix saved */
    if (st != TZ_OK)
        return tz_out_fail(cli, tz_sync_exit_for(st), "%s", err.msg);
    round_text(cli, &res, available);
    return -1;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    tz_cli_sync_opts o;
    int rc = tz_cli_sync_opts_parse(cli, &tz_cmd_sync, argc, argv, &o);
    if (rc >= 0)
        return rc;
    tz_sync_config cfg = o.cfg;
    tz_rpc *rpc = o.rpc;
    bool watch = o.watch;
    uint64_t interval = o.interval;

    if (!cli->json && cfg.auto_concurrency)
        tz_out_info(cli,
                    "sync: checkpoint every %" PRIu64 " leaves, concurrency auto (%u in flight, "
                    "up to %u), %u threads%s",
                    cfg.checkpoint_every, tz_rpc_inflight_limit(rpc), cfg.concurrency,
                    cfg.threads, watch ? ", watching" : "");
    else if (!cli->json)
        tz_out_info(cli, "sync: checkpoint every %" PRIu64 " leaves, concurrency %u, %u threads%s",
                    cfg.checkpoint_every, cfg.concurrency, cfg.threads,
                    watch ? ", watching" : "");
    if (cfg.warn_concurrency) {
        char msg[200];
        snprintf(msg, sizeof msg,
                 "%s %u is above %u: Octez rollup nodes stop accepting connections "
                 "near 100",
                 cfg.auto_concurrency ? "max concurrency" : "concurrency", cfg.concurrency,
                 (unsigned)TZ_SYNC_WARN_CONCURRENCY);
        tz_sync_view v = {.cli = cli};
        tz_sync_event ev = {.type = TZ_SYNC_EV_WARNING, .message = msg, .pid = -1};
        tz_sync_view_event(&v, &ev);
    }

    tz_sync_install_signals();
    if (watch) {
        tz_out_text(cli, "Watching rollup state every %" PRIu64 "s. Press Ctrl-C to stop.",
                    interval);
        fflush(stdout);
    }
    totals t = {0};
    for (;;) {
        bool skipped = false;
        rc = one_round(cli, rpc, &cfg, watch && t.rounds > 0, &t, &skipped);
        if (rc == -2) { /* a signal: the prefix is saved */
            if (!watch) {
                rc = tz_out_fail(cli, TZ_EXIT_FAILURE,
                                 "sync interrupted by a signal; progress saved at leaf %" PRIu64,
                                 t.last.scanned);
                break;
            }
            rc = -1;
            break;
        }
        if (rc >= 0)
            break;
        if (!watch || tz_sync_stop)
            break;
        tz_sync_nap(interval);
        if (tz_sync_stop)
            break;
    }
    tz_rpc_free(rpc);
    if (rc >= 0)
        return rc;
    return tz_out_result(cli, result_json(&t));
}

const tz_cmd tz_cmd_sync = {
    .name = "sync",
    .summary = "scan the chain for this wallet's notes (checkpoints, cooperative yield)",
    .usage = usage,
    .run = run,
};
