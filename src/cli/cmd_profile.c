/* `tzel-wallet profile show | init-shadownet`: the network profile
 * `<wallet>.network.json` in the reference's format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "output.h"
#include "store/fsys.h"
#include "store/jsonnum.h"
#include "store/profile.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] profile show\n"
    "       tzel-wallet [-w PATH] profile init-shadownet --rollup-node-url URL\n"
    "           --rollup-address sr1.. --bridge-ticketer KT1.. --dal-fee N\n"
    "           --dal-fee-address ADDR.json --source-alias NAME [--public-account tz1..]\n"
    "           [--operator-url URL --operator-bearer-token T] [--octez-client-dir DIR]\n"
    "           [--octez-node-endpoint URL] [--octez-protocol P] [--octez-client-bin BIN]\n"
    "           [--burn-cap TEZ] [--force]\n"
    "\n"
    "show prints <wallet>.network.json as the reference does (pretty JSON, the bearer\n"
    "token redacted; with --json the result is {\"profile\": ...}, unredacted like the\n"
    "reference's). init-shadownet writes a complete profile the reference loads:\n"
    "network \"shadownet\", the fields given, public_account defaulting to the source\n"
    "alias (which must then be a tz1/tz2/tz3/tz4 address: resolving an octez-client\n"
    "alias is not done here). dal_fee must be above 0; the operator URL and token come\n"
    "together. An existing profile is kept unless --force.\n";

/* A payment address JSON: the six hex fields of the right sizes. */
static json_t *address_object(const json_t *v)
{
    static const struct {
        const char *key;
        size_t hex;
    } f[] = {{"d_j", 64},          {"auth_root", 64}, {"auth_pub_seed", 64},
             {"nk_tag", 64},       {"ek_v", 2368},    {"ek_d", 2368}};
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof f / sizeof f[0]; i++) {
        json_t *x = json_object_get(v, f[i].key);
        const char *s = json_string_value(x);
        if (!s || strlen(s) != f[i].hex || strspn(s, "0123456789abcdef") != f[i].hex ||
            json_object_set(o, f[i].key, x)) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static bool implicit_account(const char *s)
{
    return strlen(s) == 36 && s[0] == 't' && s[1] == 'z' && s[2] >= '1' && s[2] <= '4';
}

static int show(tz_cli *cli)
{
    tz_profile *p = NULL;
    tz_error err = {0};
    tz_status st = tz_profile_load(cli->wallet_path, &p, &err);
    if (st)
        return tz_out_fail(cli, st == TZ_ENOTFOUND ? TZ_EXIT_USAGE : TZ_EXIT_WALLET, "%s",
                           err.msg);
    json_t *shown = tz_profile_display(p, !cli->json);
    tz_profile_free(p);
    if (!shown)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    if (!cli->json) {
        int rc = tz_out_json_pretty(stdout, shown) ? TZ_EXIT_IO : TZ_EXIT_OK;
        json_decref(shown);
        return rc;
    }
    return tz_out_result(cli, json_pack("{s:o}", "profile", shown));
}

static int init_shadownet(tz_cli *cli, int argc, char **argv)
{
    const char *ra = NULL, *bt = NULL, *fee_s = NULL, *addr_path = NULL, *alias = NULL,
               *account = NULL, *op_url = NULL, *op_tok = NULL, *cdir = NULL, *endpoint = NULL,
               *proto = NULL, *cbin = NULL, *burn = NULL;
    bool force = false;
    const tz_opt opts[] = {
        {"rollup-address", TZ_OPT_VALUE, &ra},       {"bridge-ticketer", TZ_OPT_VALUE, &bt},
        {"dal-fee", TZ_OPT_VALUE, &fee_s},           {"dal-fee-address", TZ_OPT_VALUE, &addr_path},
        {"source-alias", TZ_OPT_VALUE, &alias},      {"public-account", TZ_OPT_VALUE, &account},
        {"operator-url", TZ_OPT_VALUE, &op_url},     {"operator-bearer-token", TZ_OPT_VALUE, &op_tok},
        {"octez-client-dir", TZ_OPT_VALUE, &cdir},   {"octez-node-endpoint", TZ_OPT_VALUE, &endpoint},
        {"octez-protocol", TZ_OPT_VALUE, &proto},    {"octez-client-bin", TZ_OPT_VALUE, &cbin},
        {"burn-cap", TZ_OPT_VALUE, &burn},           {"force", TZ_OPT_FLAG, &force},
    };
    int rc = tz_cli_parse_args(cli, &tz_cmd_profile, argc, argv, opts, sizeof opts / sizeof opts[0]);
    if (rc >= 0)
        return rc;
    const char *url = cli->rollup_node_url;
    struct { const char *flag, *v; } need[] = {{"rollup-node-url", url}, {"rollup-address", ra},
        {"bridge-ticketer", bt}, {"dal-fee", fee_s}, {"dal-fee-address", addr_path},
        {"source-alias", alias}};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!need[i].v || !*need[i].v)
            return tz_out_fail(cli, TZ_EXIT_USAGE, "profile init-shadownet needs --%s",
                               need[i].flag);
    uint64_t fee = 0;
    if ((rc = tz_cli_parse_u64(cli, "dal-fee", fee_s, &fee)))
        return rc;
    if (!account)
        account = alias;
    if (!implicit_account(account))
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "public account '%s' is not a tz1/tz2/tz3/tz4 address; pass "
                           "--public-account with the source's address (resolving an "
                           "octez-client alias is not done here)",
                           account);
    tz_error err = {0};
    char *text = NULL;
    size_t len = 0;
    json_t *addr_doc = NULL, *addr = NULL, *prof = NULL;
    char *path = NULL;
    if (tz_read_file(addr_path, 1 << 20, &text, &len, &err) ||
        tz_json_load_exact(text, len, addr_path, &addr_doc, &err)) {
        rc = tz_out_fail(cli, TZ_EXIT_USAGE, "--dal-fee-address: %s", err.msg);
        goto out;
    }
    json_t *inner = json_object_get(addr_doc, "result"); /* a --json envelope */
    if (!(addr = address_object(inner ? inner : addr_doc))) {
        rc = tz_out_fail(cli, TZ_EXIT_USAGE,
                         "--dal-fee-address %s: not a payment address (d_j, auth_root, "
                         "auth_pub_seed, nk_tag, ek_v, ek_d in hex)",
                         addr_path);
        goto out;
    }
    prof = json_object();
    json_object_set_new(prof, "network", json_string("shadownet"));
    json_object_set_new(prof, "rollup_node_url", json_string(url));
    json_object_set_new(prof, "rollup_address", json_string(ra));
    json_object_set_new(prof, "bridge_ticketer", json_string(bt));
    json_object_set_new(prof, "dal_fee", tz_json_u64(fee));
    json_object_set(prof, "dal_fee_address", addr);
    if (op_url)
        json_object_set_new(prof, "operator_url", json_string(op_url));
    if (op_tok)
        json_object_set_new(prof, "operator_bearer_token", json_string(op_tok));
    json_object_set_new(prof, "source_alias", json_string(alias));
    json_object_set_new(prof, "public_account", json_string(account));
    json_object_set_new(prof, "octez_client_bin", json_string(cbin ? cbin : "octez-client"));
    if (cdir)
        json_object_set_new(prof, "octez_client_dir", json_string(cdir));
    if (endpoint)
        json_object_set_new(prof, "octez_node_endpoint", json_string(endpoint));
    if (proto)
        json_object_set_new(prof, "octez_protocol", json_string(proto));
    json_object_set_new(prof, "burn_cap", json_string(burn ? burn : "1"));
    path = malloc(strlen(cli->wallet_path) + sizeof TZ_PROFILE_SUFFIX);
    if (!path) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    sprintf(path, "%s" TZ_PROFILE_SUFFIX, cli->wallet_path);
    tz_profile *old = NULL;
    if (!force && tz_profile_load(cli->wallet_path, &old, &err) != TZ_ENOTFOUND) {
        tz_profile_free(old);
        rc = tz_out_fail(cli, TZ_EXIT_USAGE, "%s already exists; pass --force to overwrite it",
                         path);
        goto out;
    }
    tz_status st = tz_profile_save(cli->wallet_path, prof, &err);
    if (st) {
        rc = tz_out_fail(cli, st == TZ_EINVAL ? TZ_EXIT_USAGE : TZ_EXIT_IO, "%s", err.msg);
        goto out;
    }
    tz_out_text(cli, "Saved shadownet profile to %s", path);
    json_t *shown = json_deep_copy(prof);
    if (shown && op_tok)
        json_object_set_new(shown, "operator_bearer_token", json_string("<redacted>"));
    if (!cli->json && shown)
        tz_out_json_pretty(stdout, shown);
    json_decref(shown);
    rc = tz_out_result(cli, json_pack("{s:b, s:s, s:s, s:O}", "saved", 1, "network", "shadownet",
                                      "path", path, "profile", prof));
out:
    if (text) {
        memset(text, 0, len);
        free(text);
    }
    json_decref(addr_doc);
    json_decref(addr);
    json_decref(prof);
    free(path);
    return rc;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : NULL;
    if (sub && !strcmp(sub, "show")) {
        int rc = tz_cli_parse_args(cli, &tz_cmd_profile, argc - 1, argv + 1, NULL, 0);
        return rc >= 0 ? rc : show(cli);
    }
    if (sub && !strcmp(sub, "init-shadownet"))
        return init_shadownet(cli, argc - 1, argv + 1);
    if (sub && (!strcmp(sub, "-h") || !strcmp(sub, "--help")))
        return tz_cli_parse_args(cli, &tz_cmd_profile, argc, argv, NULL, 0);
    return tz_out_fail(cli, TZ_EXIT_USAGE, "profile needs a subcommand: show or init-shadownet");
}

const tz_cmd tz_cmd_profile = {
    .name = "profile",
    .summary = "show or write the network profile (<wallet>.network.json)",
    .usage = usage,
    .run = run,
};
