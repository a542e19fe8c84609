/* Command-line parsing of the tzel-wallet commands: each command's options
 * plus the global ones, strict numbers, and the exit code for a status.
 *
 * Every helper returning `int` returns an enum tz_exit value; on failure it
 * has already reported the error (tz_out_fail), so the command returns the
 * value as is. */
#ifndef TZ_CLI_ARGS_H
#define TZ_CLI_ARGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"
#include "core/status.h"

typedef enum { TZ_OPT_FLAG, TZ_OPT_VALUE } tz_opt_kind;

/* One subcommand option: `--name` (FLAG: *(bool *)dest = true) or
 * `--name VALUE` / `--name=VALUE` (VALUE: *(const char **)dest = VALUE). */
typedef struct tz_opt {
    const char *name;   /* without the leading "--" */
    tz_opt_kind kind;
    void *dest;
} tz_opt;

/* Parses argv[1..argc) of `cmd` against opts[0..n) plus the global options
 * (-w/--wallet, --json, --rollup-node-url, -h/--help), which may also
 * follow the subcommand, then resolves the wallet path once
 * (tz_wallet_path_resolve: a symlink is replaced by the file it leads to;
 * cli->wallet_path then points to cli->wallet_path_owned). Returns -1 when
 * the command should run; otherwise the exit code to return at once:
 * TZ_EXIT_OK after printing the usage for --help, TZ_EXIT_USAGE (reported)
 * for an unknown option, a missing value or a positional argument,
 * TZ_EXIT_WALLET (reported) for a wallet path that is a symlink loop, or a
 * dangling symlink when `cmd` needs an existing wallet (not
 * creates_wallet). */
int tz_cli_parse_args(tz_cli *cli, const tz_cmd *cmd, int argc, char **argv,
                      const tz_opt *opts, size_t n);

/* Strict decimal u64 ("0".."18446744073709551615", no sign, no spaces).
 * Returns TZ_EXIT_OK or reports and returns TZ_EXIT_USAGE naming `flag`. */
int tz_cli_parse_u64(const tz_cli *cli, const char *flag, const char *s, uint64_t *out);

/* ---- status mapping ------------------------------------------------------ */

/* The exit code for a failure with status `st` in a wallet-file context:
 * ELOCKED 4, EHTTP 5, EMISMATCH 6, ENOTFOUND/EPARSE/ESTATE 3, EIO 7,
 * EINVAL 2, anything else 1. */
int tz_exit_for_status(tz_status st);

/* The exit code for a failure while talking to the rollup node: EHTTP 5;
 * EPARSE, ENOTFOUND, EMISMATCH, EINVAL 6; else tz_exit_for_status. */
int tz_exit_for_node_status(tz_status st);

#endif
