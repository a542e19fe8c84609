/* The options of sync and watch sync (sync_opts.h). */
#include "sync_opts.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "node.h"
#include "output.h"

#define DEFAULT_INTERVAL_SECS 5 /* the reference's default */

int tz_cli_sync_opts_parse(tz_cli *cli, const tz_cmd *cmd, int argc, char **argv,
                           tz_cli_sync_opts *o)
{
    memset(o, 0, sizeof *o);
    const char *k_s = NULL, *conc_s = NULL, *max_s = NULL, *thr_s = NULL, *interval_s = NULL,
               *timeout_s = NULL;
    bool no_values = false;
    tz_opt opts[] = {
        {"checkpoint-every", TZ_OPT_VALUE, &k_s}, {"concurrency", TZ_OPT_VALUE, &conc_s},
        {"max-concurrency", TZ_OPT_VALUE, &max_s},
        {"threads", TZ_OPT_VALUE, &thr_s},        {"watch", TZ_OPT_FLAG, &o->watch},
        {"interval-secs", TZ_OPT_VALUE, &interval_s},
        {"no-values-route", TZ_OPT_FLAG, &no_values},
        {"rpc-timeout-secs", TZ_OPT_VALUE, &timeout_s},
    };
    int rc = tz_cli_parse_args(cli, cmd, argc, argv, opts, sizeof opts / sizeof *opts);
    if (rc >= 0)
        return rc;

    /* Validation first: nothing touches the network or the file before. */
    tz_error err = {0};
    if (tz_sync_config_resolve(k_s, conc_s, max_s, thr_s, &o->cfg, &err) != TZ_OK)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "%s", err.msg);
    o->interval = DEFAULT_INTERVAL_SECS;
    if (interval_s) {
        if ((rc = tz_cli_parse_u64(cli, "interval-secs", interval_s, &o->interval)))
            return rc;
        if (o->interval == 0)
            o->interval = 1; /* like the reference; ignored without --watch */
    }
    uint64_t timeout = TZ_RPC_TIMEOUT_DEFAULT;
    if (timeout_s) {
        if ((rc = tz_cli_parse_u64(cli, "rpc-timeout-secs", timeout_s, &timeout)))
            return rc;
        if (timeout < 1 || timeout > TZ_RPC_TIMEOUT_MAX)
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "--rpc-timeout-secs must be 1 to %u (got \"%s\")",
                               TZ_RPC_TIMEOUT_MAX, timeout_s);
    }

    char *url = NULL;
    if ((rc = tz_cli_node_url(cli, &url)))
        return rc;
    o->rpc = tz_rpc_new(url, o->cfg.concurrency, &err);
    if (!o->rpc) {
        rc = tz_out_fail(cli, err.code == TZ_EINVAL ? TZ_EXIT_USAGE : TZ_EXIT_NETWORK,
                         "rollup node %s: %s", url, err.msg);
        free(url);
        return rc;
    }
    free(url);
    if (no_values)
        tz_rpc_set_use_values(o->rpc, false);
    tz_rpc_set_timeout(o->rpc, (unsigned)timeout);
    tz_rpc_set_adaptive(o->rpc, o->cfg.auto_concurrency);
    return -1;
}
