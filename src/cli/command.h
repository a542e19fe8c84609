/* The tzel-wallet command table: each subcommand lives in its own
 * cmd_<name>.c and exports one const tz_cmd descriptor, collected in
 * commands.c. */
#ifndef TZ_CLI_COMMAND_H
#define TZ_CLI_COMMAND_H

#include <stdbool.h>

#include "base/exit.h"

/* Exit codes (enum tz_exit, base/exit.h), documented in `tzel-wallet --help`
 * and docs/json-output.md. */

/* Global options, parsed by main before the subcommand. */
typedef struct tz_cli {
    /* -w/--wallet, default "wallet.json"; once the subcommand's arguments
     * are parsed, the resolved path (tz_wallet_path_resolve) that every
     * wallet file is named after. */
    const char *wallet_path;
    char *wallet_path_owned;       /* the resolved path's storage; main frees it */
    const char *rollup_node_url;   /* --rollup-node-url, or NULL */
    /* The prover (the spends): --reprove-bin (default "reprove"),
     * --executables-dir (default "cairo/target/dev"), --proving-service-url
     * (NULL: the local prover). As the reference takes them, before the
     * subcommand; the spends also take them after it. */
    const char *reprove_bin, *executables_dir, *proving_service_url;
    bool json;                     /* --json */
    const char *command;           /* the subcommand's name */
} tz_cli;

typedef struct tz_cmd {
    const char *name;
    const char *summary;           /* one line for the command list */
    const char *usage;             /* full --help text of the subcommand */
    bool creates_wallet;           /* may run where no wallet exists yet */
    /* argv[0] is the subcommand name; returns an enum tz_exit value. */
    int (*run)(tz_cli *cli, int argc, char **argv);
} tz_cmd;

extern const tz_cmd *const tz_commands[];  /* NULL-terminated */

/* The descriptors, one per cmd_<name>.c. */
extern const tz_cmd tz_cmd_init, tz_cmd_receive, tz_cmd_addresses, tz_cmd_balance,
    tz_cmd_sync, tz_cmd_check, tz_cmd_deposit, tz_cmd_export_view, tz_cmd_export_detect,
    tz_cmd_export_outgoing, tz_cmd_profile, tz_cmd_send, tz_cmd_unshield, tz_cmd_shield, tz_cmd_status,
    tz_cmd_recover_deposits;
extern const tz_cmd tz_cmd_watch;

#endif
