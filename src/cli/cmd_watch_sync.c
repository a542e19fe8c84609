/* `tzel-wallet watch sync`: a watch wallet's scan on the sync engine
 * (docs/watch.md), once or in a --watch loop, with the reference's
 * `Watch sync:` line per round. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/num.h"
#include "common.h"
#include "output.h"
#include "store/jsonnum.h"
#include "store/lock.h"
#include "sync/watch_sync.h"
#include "sync_opts.h"
#include "sync_view.h"
#include "watch.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] watch sync [--checkpoint-every K] [--concurrency auto|N]\n"
    "                   [--max-concurrency M] [--threads T] [--watch [--interval-secs S]]\n"
    "                   [--rpc-timeout-secs N]\n"
    "\n"
    "Scans the leaves [scanned, tree/size) at one pinned block with the watch wallet's\n"
    "material, saving a checkpoint every K leaves, then checks the commitment tree\n"
    "root. Prints the reference's line per round:\n"
    "  Watch sync: F new candidate matches, cursor=S, tracked=T, mode=detect\n"
    "  Watch sync: F new validated notes, cursor=S, tracked=T, incoming_total=I, ...\n"
    "  Watch sync: F new outgoing notes, cursor=S, tracked=T, outgoing_total=O, ...\n"
    "The tunables, the rollup node URL and the cooperative yield are those of `sync`\n"
    "(tzel-wallet sync --help).\n";

static const tz_cmd sync_cmd = {.name = "watch sync", .usage = usage};

/* The reference's line for a finished round. */
static void round_line(const tz_cli *cli, const tz_watch *w, uint64_t found)
{
    unsigned __int128 total = 0;
    for (size_t i = 0; w->mode != TZ_WATCH_DETECT && i < w->n_recs; i++)
        total += w->recs[i].value;
    char t[TZ_U128_DEC_MAX];
    switch (w->mode) {
    case TZ_WATCH_DETECT:
        tz_out_text(cli,
                    "Watch sync: %" PRIu64 " new candidate matches, cursor=%" PRIu64
                    ", tracked=%zu, mode=detect",
                    found, w->scanned, w->n_recs);
        break;
    case TZ_WATCH_VIEW:
        tz_out_text(cli,
                    "Watch sync: %" PRIu64 " new validated notes, cursor=%" PRIu64
                    ", tracked=%zu, incoming_total=%s, spend_status=unavailable_without_spend_key",
                    found, w->scanned, w->n_recs, tz_u128_dec(t, total));
        break;
    case TZ_WATCH_OUTGOING:
        tz_out_text(cli,
                    "Watch sync: %" PRIu64 " new outgoing notes, cursor=%" PRIu64
                    ", tracked=%zu, outgoing_total=%s, spend_status=unavailable_without_spend_key",
                    found, w->scanned, w->n_recs, tz_u128_dec(t, total));
        break;
    }
    fflush(stdout);
}

typedef struct last {
    bool have;
    uint64_t found, next_cursor;
    bool yielded;
    json_t *status;
} last;

static void warn_event(const tz_cli *cli, const char *msg)
{
    tz_sync_view v = {.cli = cli};
    tz_sync_event ev = {.type = TZ_SYNC_EV_WARNING, .message = msg, .pid = -1};
    tz_sync_view_event(&v, &ev);
}

/* One round: lock, load, run, release. Returns -1 to continue, -2 when a
 * signal stopped it (prefix saved), or an exit code (reported). */
static int one_round(const tz_cli *cli, tz_rpc *rpc, const tz_sync_config *cfg,
                     bool tolerate_lock, last *out)
{
    struct stat sb;
    if (stat(cli->wallet_path, &sb) != 0 && errno == ENOENT)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "read watch wallet: no such file: %s (create one with `tzel-wallet "
                           "watch init --material FILE`, or pass -w PATH)",
                           cli->wallet_path);
    tz_lock *lock = NULL;
    tz_error err = {0};
    tz_status st = tz_lock_acquire(cli->wallet_path, &lock, &err);
    if (st == TZ_ELOCKED && tolerate_lock) {
        warn_event(cli, err.msg);
        return -1;
    }
    if (st == TZ_ELOCKED)
        return tz_out_fail(cli, TZ_EXIT_LOCKED, "%s", err.msg);
    if (st != TZ_OK)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "%s", err.msg);
    if (tz_lock_recovered(lock))
        warn_event(cli, tz_lock_recovered(lock));
    char swept[TZ_ERROR_MSG_MAX + 200];
    if (tz_cli_sweep_stale(cli, swept, sizeof swept))
        warn_event(cli, swept);

    tz_watch *w = NULL;
    int rc = tz_cli_watch_load(cli, &w);
    if (rc) {
        tz_lock_release(lock);
        return rc;
    }
    tz_sync_view v = {.cli = cli, .no_found = true, .label = "watch sync"};
    tz_sync_hooks hooks = {.on_event = tz_sync_view_event, .ctx = &v, .stop = &tz_sync_stop};
    tz_sync_result res;
    st = tz_watch_sync_run(w, rpc, cfg, &hooks, &res, &err);
    tz_progress_finish(v.bar);
    tz_lock_release(lock);
    if (st == TZ_ECANCEL && tz_sync_stop) {
        tz_watch_free(w);
        return -2;
    }
    if (st != TZ_OK) {
        tz_watch_free(w);
        static const char tail[] = ". Run `tzel-wallet check` for a fuller diagnosis.";
        size_t n = strlen(err.msg), tn = sizeof tail - 1;
        if (strncmp(err.msg, "sync failed: ", 13) == 0 && n > tn &&
            !strcmp(err.msg + n - tn, tail)) {
            /* the reference's words for a failed note feed */
            err.msg[n - tn] = '\0';
            return tz_out_fail(cli, tz_sync_exit_for(st),
                               "watch %s. Run `tzel-wallet --wallet %s profile show` to confirm "
                               "the saved rollup profile.",
                               err.msg, cli->wallet_path);
        }
        return tz_out_fail(cli, tz_sync_exit_for(st), "%s", err.msg);
    }
    json_decref(out->status);
    out->have = true;
    out->found = res.found;
    out->next_cursor = w->scanned;
    out->yielded = res.yielded;
    out->status = tz_watch_status_json(w);
    if (res.yielded)
        tz_out_info(cli, "yielded at leaf %" PRIu64 " of %" PRIu64 " (block %s): %" PRIu64
                         " new records so far",
                    res.scanned, res.tree_size, res.block, res.found);
    else if (res.verified) {
        char root[TZ_FELT_HEX + 1];
        tz_felt_to_hex(root, &res.root);
        tz_out_info(cli, "watch sync: %" PRIu64 " leaves at block %s, tree root verified: %s",
                    res.scanned, res.block, root);
    } else {
        tz_out_info(cli, "watch sync: %" PRIu64 " leaves at block %s, tree root not verified "
                         "(no frontier for the cursor)",
                    res.scanned, res.block);
    }
    if (!res.yielded)
        round_line(cli, w, res.found);
    tz_watch_free(w);
    return -1;
}

int tz_cli_watch_sync(tz_cli *cli, int argc, char **argv)
{
    tz_cli_sync_opts o;
    int rc = tz_cli_sync_opts_parse(cli, &sync_cmd, argc, argv, &o);
    if (rc >= 0)
        return rc;
    tz_sync_config cfg = o.cfg;
    tz_rpc *rpc = o.rpc;
    bool watch = o.watch;
    uint64_t interval = o.interval;

    tz_sync_install_signals();
    last l = {0};
    uint64_t rounds = 0;
    for (;;) {
        rc = one_round(cli, rpc, &cfg, watch && rounds > 0, &l);
        rounds++;
        if (rc == -2) {
            rc = watch ? -1
                       : tz_out_fail(cli, TZ_EXIT_FAILURE,
                                     "watch sync interrupted by a signal; progress saved");
            break;
        }
        if (rc >= 0 || !watch || tz_sync_stop)
            break;
        tz_sync_nap(interval);
        if (tz_sync_stop)
            break;
    }
    tz_rpc_free(rpc);
    if (rc >= 0) {
        json_decref(l.status);
        return rc;
    }
    json_t *res = json_object();
    json_object_set_new(res, "found", tz_json_u64(l.found));
    json_object_set_new(res, "next_cursor", tz_json_u64(l.next_cursor));
    json_object_set_new(res, "status", l.status ? l.status : json_null());
    if (l.yielded)
        json_object_set_new(res, "yielded", json_true());
    return tz_out_result(cli, res);
}
