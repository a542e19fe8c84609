/* `tzel-wallet watch init | sync | show`: watch-only wallets made from
 * exported detection, viewing or outgoing material (docs/watch.md). This
 * file dispatches and holds init and show; sync is cmd_watch_sync.c. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "output.h"
#include "store/fsys.h"
#include "store/lock.h"
#include "store/watch.h"
#include "watch.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] watch init --material FILE [--force]\n"
    "       tzel-wallet [-w PATH] watch sync [--watch [--interval-secs S]] [sync tunables]\n"
    "       tzel-wallet [-w PATH] watch show\n"
    "\n"
    "A watch wallet (at -w PATH) scans the chain with exported material and no\n"
    "spending power: detect (candidate matches), view (validated incoming notes with\n"
    "values and memos) or outgoing (notes the wallet sent). See docs/watch.md.\n";

static const char init_usage[] =
    "Usage: tzel-wallet [-w PATH] watch init --material FILE [--force]\n"
    "\n"
    "Creates the watch wallet at PATH (mode 0600) from material written by\n"
    "export-detect, export-view or export-outgoing. An existing file is refused\n"
    "unless --force is given. Prints `Watch wallet created: PATH`.\n";

static const char show_usage[] =
    "Usage: tzel-wallet [-w PATH] watch show\n"
    "\n"
    "Prints the watch wallet's status as pretty JSON: mode, scanned, tracked,\n"
    "incoming_total, outgoing_total, spend_status and the records. Read-only.\n";

static const tz_cmd init_cmd = {.name = "watch init", .usage = init_usage,
                                .creates_wallet = true};
static const tz_cmd show_cmd = {.name = "watch show", .usage = show_usage};

int tz_cli_watch_load(const tz_cli *cli, tz_watch **out)
{
    tz_error err = {0};
    tz_status st = tz_watch_load(cli->wallet_path, out, &err);
    if (st == TZ_OK)
        return TZ_EXIT_OK;
    if (st == TZ_ENOTFOUND)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "read watch wallet: no such file: %s (create one with `tzel-wallet "
                           "watch init --material FILE`, or pass -w PATH)",
                           cli->wallet_path);
    return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_WALLET, "%s", err.msg);
}

static int run_init(tz_cli *cli, int argc, char **argv)
{
    const char *material = NULL;
    bool force = false;
    const tz_opt opts[] = {{"material", TZ_OPT_VALUE, &material}, {"force", TZ_OPT_FLAG, &force}};
    int rc = tz_cli_parse_args(cli, &init_cmd, argc, argv, opts, 2);
    if (rc >= 0)
        return rc;
    if (!material || !*material)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "watch init needs --material FILE");
    struct stat sb;
    if (!force && lstat(cli->wallet_path, &sb) == 0)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "watch wallet %s already exists; pass --force to overwrite",
                           cli->wallet_path);

    char *text = NULL;
    size_t len = 0;
    tz_error err = {0};
    tz_status st = tz_read_file(material, TZ_WATCH_MATERIAL_MAX_BYTES, &text, &len, &err);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOTFOUND ? TZ_EXIT_USAGE : TZ_EXIT_IO,
                           "read watch material %s: %s", material, err.msg);
    tz_watch *w = NULL;
    st = tz_watch_from_material(cli->wallet_path, text, len, material, &w, &err);
    sodium_memzero(text, len);
    free(text);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_USAGE, "%s",
                           err.msg);

    /* The lock keeps a watch sync or tzel-detect from saving over the new
     * file while --force replaces it. */
    tz_lock *lock = NULL;
    if ((rc = tz_cli_lock(cli, &lock))) {
        tz_watch_free(w);
        return rc;
    }
    st = tz_watch_save(w, !force, &err);
    tz_watch_free(w);
    tz_lock_release(lock);
    if (st == TZ_EEXIST)
        return tz_out_fail(cli, TZ_EXIT_WALLET, "%s", err.msg);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_IO, "%s", err.msg);
    tz_out_text(cli, "Watch wallet created: %s", cli->wallet_path);
    return tz_out_result(cli, json_pack("{s:b, s:s}", "created", 1, "path", cli->wallet_path));
}

static int run_show(tz_cli *cli, int argc, char **argv)
{
    int rc = tz_cli_parse_args(cli, &show_cmd, argc, argv, NULL, 0);
    if (rc >= 0)
        return rc;
    tz_watch *w = NULL;
    if ((rc = tz_cli_watch_load(cli, &w)))
        return rc;
    json_t *status = tz_watch_status_json(w);
    tz_watch_free(w);
    if (!status)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    if (!cli->json) {
        rc = tz_out_json_pretty(stdout, status) ? TZ_EXIT_IO : TZ_EXIT_OK;
        json_decref(status);
        if (rc)
            return tz_out_fail(cli, rc, "cannot write to stdout");
        return tz_out_result(cli, NULL);
    }
    return tz_out_result(cli, json_pack("{s:o}", "status", status));
}

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";
    if (!strcmp(sub, "init"))
        return run_init(cli, argc - 1, argv + 1);
    if (!strcmp(sub, "sync"))
        return tz_cli_watch_sync(cli, argc - 1, argv + 1);
    if (!strcmp(sub, "show"))
        return run_show(cli, argc - 1, argv + 1);
    if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
        fputs(usage, stdout);
        return TZ_EXIT_OK;
    }
    fputs(usage, stderr);
    return tz_out_fail(cli, TZ_EXIT_USAGE, "watch needs a subcommand: init, sync or show%s%s%s",
                       *sub ? " (got " : "", sub, *sub ? ")" : "");
}

const tz_cmd tz_cmd_watch = {
    .name = "watch",
    .summary = "watch-only wallets from exported material: init, sync, show",
    .usage = usage,
    .creates_wallet = true,
    .run = run,
};
