/* The rollup node as the commands reach it (node.h). */
#include "node.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/num.h"
#include "base/path.h"
#include "core/note.h"
#include "core/wire.h"
#include "output.h"
#include "store/atomic.h"
#include "store/floor.h"
#include "store/fsys.h"
#include "store/jsonnum.h"
#include "store/lock.h"
#include "store/pidfile.h"
#include "store/profile.h"
#include "store/sentinel.h"
#include "store/wallet_path.h"
#include "args.h"

int tz_cli_load_profile(const tz_cli *cli, tz_profile **out)
{
    *out = NULL;
    tz_error err = {0};
    tz_status st = tz_profile_load(cli->wallet_path, out, &err);
    if (st == TZ_OK || st == TZ_ENOTFOUND)
        return TZ_EXIT_OK;
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_WALLET, "%s", err.msg);
}

int tz_cli_save_profile_url(const tz_cli *cli, const char *url)
{
    tz_error err = {0};
    tz_status st = tz_profile_write_url(cli->wallet_path, url, &err);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    return tz_out_fail(cli, st == TZ_EINVAL ? TZ_EXIT_USAGE
                            : st == TZ_ENOMEM ? TZ_EXIT_FAILURE
                                              : TZ_EXIT_IO,
                       "%s", err.msg);
}

int tz_cli_node_url(const tz_cli *cli, char **out)
{
    tz_error err = {0};
    tz_status st = tz_profile_resolve_url(cli->rollup_node_url, cli->wallet_path, out, NULL, &err);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    if (st == TZ_ENOTFOUND || st == TZ_EINVAL)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "%s", err.msg);
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_WALLET, "%s", err.msg);
}

int tz_cli_node_fail(const tz_cli *cli, const char *what, const tz_error *err)
{
    int code = tz_exit_for_node_status(err->code);
    if (err->code == TZ_ENOTFOUND)
        return tz_out_fail(cli, code, "%s: the rollup node has no such value (%s)", what,
                           err->msg);
    return tz_out_fail(cli, code, "%s: %s", what, err->msg);
}

int tz_cli_connect(const tz_cli *cli, unsigned concurrency, tz_rpc **rpc,
                   char block[TZ_BLOCK_HASH_MAX])
{
    char *url = NULL;
    int rc = tz_cli_node_url(cli, &url);
    if (rc)
        return rc;
    tz_error err = {0};
    tz_rpc *c = tz_rpc_new(url, concurrency, &err);
    if (!c) {
        rc = tz_out_fail(cli, err.code == TZ_EINVAL ? TZ_EXIT_USAGE : TZ_EXIT_NETWORK,
                         "rollup node %s: %s", url, err.msg);
        free(url);
        return rc;
    }
    tz_status st = tz_rpc_head_hash(c, block, &err);
    if (st) {
        err.code = st;
        char what[600];
        snprintf(what, sizeof what, "rollup node %s: pinning the head", url);
        rc = tz_cli_node_fail(cli, what, &err);
        tz_rpc_free(c);
        free(url);
        return rc;
    }
    free(url);
    *rpc = c;
    return TZ_EXIT_OK;
}

int tz_cli_check_rollup_address(const tz_cli *cli, tz_rpc *rpc, const tz_profile *prof)
{
    const char *want = tz_profile_str(prof, "rollup_address");
    if (!want)
        return TZ_EXIT_OK;
    char served[TZ_ROLLUP_ADDRESS_MAX];
    tz_error err = {0};
    tz_status st = tz_rpc_rollup_address(rpc, served, &err);
    if (st) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading /global/smart_rollup_address", &err);
    }
    if (strcmp(served, want))
        return tz_out_fail(cli, TZ_EXIT_CHAIN,
                           "rollup-node served address (%s) does not match wallet "
                           "profile.rollup_address (%s); refusing to send a bridge deposit. "
                           "Update the wallet profile or point rollup_node_url at the right "
                           "rollup.",
                           served, want);
    return TZ_EXIT_OK;
}

int tz_cli_read_pools(const tz_cli *cli, tz_rpc *rpc, const char *block, const tz_wallet *w,
                      tz_pools *out)
{
    tz_error err = {0};
    tz_status st = tz_state_read_pools(rpc, block, w, out, &err);
    if (st == TZ_EPARSE)
        return tz_out_fail(cli, TZ_EXIT_CHAIN, "%s", err.msg);
    if (st) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading deposit pool balances", &err);
    }
    return TZ_EXIT_OK;
}

void tz_cli_pools_print(const tz_cli *cli, const tz_pools *p, const tz_wallet *w, json_t *res)
{
    uint64_t awaiting, drained;
    tz_pools_unfunded(p, w, NULL, &awaiting, &drained);
    tz_out_text(cli, "Deposit pools: %llu funded, total balance %llu mutez",
                (unsigned long long)p->funded, (unsigned long long)p->total);
    if (!cli->json && awaiting)
        tz_out_text(cli, "Deposit pools awaiting on-chain credit: %llu",
                    (unsigned long long)awaiting);
    if (!cli->json && drained)
        tz_out_text(cli,
                    "Deposit pools drained but not yet pruned (run `tzel-wallet sync`): %llu",
                    (unsigned long long)drained);
    if (res) {
        json_object_set_new(res, "deposit_pools_funded", tz_json_u64(p->funded));
        json_object_set_new(res, "deposit_pools_total_mutez", tz_json_u64(p->total));
        json_object_set_new(res, "deposit_pools_awaiting_credit", tz_json_u64(awaiting));
        json_object_set_new(res, "deposit_pools_drained_pending_prune", tz_json_u64(drained));
    }
}

