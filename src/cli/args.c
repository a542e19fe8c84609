/* Command-line parsing (args.h). */
#include "args.h"

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

static const tz_opt *find_opt(const tz_opt *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

/* The wallet path, resolved once for the whole command (see
 * store/wallet_path.h): -1, or an exit code (reported). */
static int resolve_wallet(tz_cli *cli, const tz_cmd *cmd)
{
    char *path = NULL;
    bool exists = false;
    tz_error err = {0};
    tz_status st = tz_wallet_path_resolve(cli->wallet_path, &path, &exists, &err);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOMEM ? TZ_EXIT_FAILURE : TZ_EXIT_WALLET, "%s",
                           err.msg);
    if (!exists && !cmd->creates_wallet && strcmp(path, cli->wallet_path)) {
        int rc = tz_out_fail(cli, TZ_EXIT_WALLET,
                             "wallet path %s is a symlink to %s, which does not exist (a "
                             "dangling link: fix the link, or pass -w PATH)",
                             cli->wallet_path, path);
        free(path);
        return rc;
    }
    free(cli->wallet_path_owned);
    cli->wallet_path_owned = path;
    cli->wallet_path = path;
    return -1;
}

int tz_cli_parse_args(tz_cli *cli, const tz_cmd *cmd, int argc, char **argv,
                      const tz_opt *opts, size_t n)
{
    bool help = false;
    bool json_flag = false;
    const tz_opt globals[] = {
        {"wallet", TZ_OPT_VALUE, &cli->wallet_path},
        {"rollup-node-url", TZ_OPT_VALUE, &cli->rollup_node_url},
        {"json", TZ_OPT_FLAG, &json_flag},
        {"help", TZ_OPT_FLAG, &help},
    };
    /* --json anywhere applies to errors found before it, too. */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json"))
            cli->json = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h")) {
            help = true;
            continue;
        }
        if (!strcmp(a, "-w")) {
            if (i + 1 >= argc)
                return tz_out_fail(cli, TZ_EXIT_USAGE, "%s: option -w needs a value",
                                   cmd->name);
            cli->wallet_path = argv[++i];
            continue;
        }
        if (strncmp(a, "--", 2) || !a[2])
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "%s: unexpected argument '%s' (see tzel-wallet %s --help)",
                               cmd->name, a, cmd->name);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const tz_opt *o = find_opt(opts, n, name, len);
        if (!o)
            o = find_opt(globals, sizeof globals / sizeof globals[0], name, len);
        if (!o)
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "%s: unknown option '--%.*s' (see tzel-wallet %s --help)",
                               cmd->name, (int)len, name, cmd->name);
        if (o->kind == TZ_OPT_FLAG) {
            if (eq)
                return tz_out_fail(cli, TZ_EXIT_USAGE, "%s: option --%s takes no value",
                                   cmd->name, o->name);
            *(bool *)o->dest = true;
            if (o->dest == &json_flag)
                cli->json = true;
        } else {
            const char *v;
            if (eq) {
                v = eq + 1;
            } else {
                if (i + 1 >= argc)
                    return tz_out_fail(cli, TZ_EXIT_USAGE, "%s: option --%s needs a value",
                                       cmd->name, o->name);
                v = argv[++i];
            }
            *(const char **)o->dest = v;
        }
    }
    if (help) {
        fputs(cmd->usage, stdout);
        fflush(stdout);
        return TZ_EXIT_OK;
    }
    if (!cli->wallet_path || !*cli->wallet_path)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "the wallet path must not be empty");
    return resolve_wallet(cli, cmd);
}

int tz_cli_parse_u64(const tz_cli *cli, const char *flag, const char *s, uint64_t *out)
{
    if (!s || !*s)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--%s needs a non-negative integer", flag);
    if (tz_parse_u64(s, UINT64_MAX, out))
        return TZ_EXIT_OK;
    if (strspn(s, "0123456789") == strlen(s))
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--%s: '%s' does not fit in 64 bits", flag, s);
    return tz_out_fail(cli, TZ_EXIT_USAGE, "--%s: '%s' is not a non-negative decimal integer",
                       flag, s);
}

/* ---- status mapping ------------------------------------------------------ */

int tz_exit_for_status(tz_status st)
{
    switch (st) {
    case TZ_OK: return TZ_EXIT_OK;
    case TZ_ELOCKED: return TZ_EXIT_LOCKED;
    case TZ_EHTTP: return TZ_EXIT_NETWORK;
    case TZ_EMISMATCH: return TZ_EXIT_CHAIN;
    case TZ_ENOTFOUND:
    case TZ_EPARSE:
    case TZ_ESTATE: return TZ_EXIT_WALLET;
    case TZ_EIO: return TZ_EXIT_IO;
    case TZ_EINVAL: return TZ_EXIT_USAGE;
    default: return TZ_EXIT_FAILURE;
    }
}

int tz_exit_for_node_status(tz_status st)
{
    switch (st) {
    case TZ_EHTTP: return TZ_EXIT_NETWORK;
    case TZ_EPARSE:
    case TZ_ENOTFOUND:
    case TZ_EMISMATCH:
    case TZ_EINVAL: return TZ_EXIT_CHAIN;
    default: return tz_exit_for_status(st);
    }
}

