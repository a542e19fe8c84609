/* `tzel-wallet watch sync` (docs/watch.md). */
#include "output.h"
#include "watch.h"

int tz_cli_watch_sync(tz_cli *cli, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return tz_out_fail(cli, TZ_EXIT_USAGE, "watch sync is not available yet");
}
