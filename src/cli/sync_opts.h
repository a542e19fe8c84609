/* The options `sync` and `watch sync` share: --checkpoint-every,
 * --concurrency, --max-concurrency, --threads (and their environment
 * variables, sync/sync.h), --watch, --interval-secs, --no-values-route
 * and --rpc-timeout-secs, validated before anything touches the network
 * or the file, then the rollup client they configure. */
#ifndef TZ_CLI_SYNC_OPTS_H
#define TZ_CLI_SYNC_OPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "rpc/rpc.h"
#include "sync/sync.h"

typedef struct tz_cli_sync_opts {
    tz_sync_config cfg;
    bool watch;
    uint64_t interval; /* seconds between --watch rounds, >= 1 */
    tz_rpc *rpc;       /* the configured client: tz_rpc_free it */
} tz_cli_sync_opts;

/* Parses argv for command `cmd` (its --help is cmd->usage), validates every
 * value and creates the rollup client (the node URL resolved as every
 * command does; the limiter adaptive under auto; `values` off with
 * --no-values-route; the request timeout). Returns -1 with *o filled to go
 * on, or an exit code to return (help printed, or the error reported;
 * nothing held). */
int tz_cli_sync_opts_parse(tz_cli *cli, const tz_cmd *cmd, int argc, char **argv,
                           tz_cli_sync_opts *o);

#endif
