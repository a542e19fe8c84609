/* The watch-only wallet commands (cmd_watch.c, cmd_watch_sync.c). Every
 * helper returning `int` returns an enum tz_exit value, the error already
 * reported. */
#ifndef TZ_CLI_WATCH_H
#define TZ_CLI_WATCH_H

#include "command.h"
#include "store/watch.h"

/* Loads the watch wallet at cli->wallet_path into *out. Missing or invalid
 * file -> TZ_EXIT_WALLET; out of memory -> TZ_EXIT_FAILURE. No lock. */
int tz_cli_watch_load(const tz_cli *cli, tz_watch **out);

/* `watch sync`: argv[0] is "sync". */
int tz_cli_watch_sync(tz_cli *cli, int argc, char **argv);

#endif
