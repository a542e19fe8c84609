/* `tzel-wallet deposit --amount N --prepare-only`: a fresh deposit pool
 * and the L1 bridge call that funds it (signed and sent by someone else). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/commit.h"
#include "core/keys.h"
#include "output.h"
#include "store/jsonnum.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] [--rollup-node-url URL] deposit --amount N --prepare-only\n"
    "\n"
    "Allocates a fresh address, derives the deposit blind from the master secret, the\n"
    "address index and the wallet's deposit nonce, computes the pool id pubkey_hash\n"
    "with the chain's auth_domain (read at a pinned head), saves the pending deposit,\n"
    "then prints the bridge call: contract (bridge_ticketer), entrypoint `mint`, and\n"
    "the Michelson parameters Pair 0x<\"deposit:<hex pubkey_hash>\"> \"<sr1 rollup>\".\n"
    "The caller signs and broadcasts it; this wallet never sends L1 operations.\n"
    "\n"
    "  --amount N       mutez to credit to the pool (positive)\n"
    "  --prepare-only   required: print the call instead of sending it\n"
    "\n"
    "Before allocating the address it checks, like the reference, that the node\n"
    "serves the profile's rollup_address, that verifier_config.bin is installed, and\n"
    "that bridge/ticketer equals the profile's bridge_ticketer (profile fields that\n"
    "are absent are taken from the chain). stdout: the reference's five lines\n"
    "(Prepared..., bridge_contract, entrypoint, params, Caller must sign...); the\n"
    "recipient string and address index go to stderr.\n"
    "--json result: {amount, bridge_contract, entrypoint, params, pending_saved,\n"
    "pubkey_hash}.\n";

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *amount_str = NULL;
    bool prepare_only = false;
    const tz_opt opts[] = {
        {"amount", TZ_OPT_VALUE, &amount_str},
        {"prepare-only", TZ_OPT_FLAG, &prepare_only},
    };
    int rc = tz_cli_parse_args(cli, &tz_cmd_deposit, argc, argv, opts, 2);
    if (rc >= 0)
        return rc;
    uint64_t amount = 0;
    if (!amount_str)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "deposit: --amount N is required");
    if ((rc = tz_cli_parse_u64(cli, "amount", amount_str, &amount)))
        return rc;
    if (amount == 0)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "deposit: --amount must be positive");
    if (!prepare_only)
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "deposit: only --prepare-only is supported (this wallet does not "
                           "sign or send L1 operations)");

    tz_cli_session ses = {0};
    tz_wallet *w = NULL;
    tz_rpc *rpc = NULL;
    tz_profile *prof = NULL;
    char *rollup_addr = NULL, *ticketer = NULL;
    char block[TZ_BLOCK_HASH_MAX];
    tz_keys keys;
    memset(&keys, 0, sizeof keys);
    tz_error err = {0};
    tz_status st;
    tz_felt auth_domain, blind;
    memset(&blind, 0, sizeof blind);
    size_t pos = 0;

    if ((rc = tz_cli_session_open(cli, &ses)))
        goto out;
    w = ses.w;
    if ((rc = tz_cli_load_profile(cli, &prof)) ||
        (rc = tz_cli_connect(cli, 4, &rpc, block)))
        goto out;
    /* The reference's preflight, before an address is spent on the pool:
     * the node serves the profile's rollup, the verifier is configured,
     * and the rollup's ticketer is the profile's. */
    if ((rc = tz_cli_check_rollup_address(cli, rpc, prof)))
        goto out;
    uint64_t vlen = 0;
    st = tz_rpc_read_length(rpc, block, TZ_STATE_PREFIX "verifier_config.bin", &vlen, &err);
    if (st == TZ_ENOTFOUND) {
        rc = tz_out_fail(cli, TZ_EXIT_CHAIN,
                         "rollup verifier is not configured yet — refusing to send a bridge "
                         "deposit. The kernel rejects deposits before verifier configuration. "
                         "Wait for the admin to install the verifier config and retry.");
        goto out;
    } else if (st) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading verifier_config.bin", &err);
        goto out;
    }
    uint8_t *tv = NULL;
    size_t tlen = 0;
    st = tz_rpc_read_value(rpc, block, TZ_STATE_PREFIX "bridge/ticketer", &tv, &tlen, &err);
    if (st == TZ_ENOTFOUND) {
        rc = tz_out_fail(cli, TZ_EXIT_CHAIN,
                         "rollup bridge ticketer is not configured yet — refusing to send a "
                         "bridge deposit. The kernel rejects deposits before bridge "
                         "configuration.");
        goto out;
    } else if (st) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading bridge/ticketer", &err);
        goto out;
    }
    ticketer = malloc(tlen + 1);
    if (ticketer) {
        memcpy(ticketer, tv, tlen);
        ticketer[tlen] = '\0';
    }
    free(tv);
    if (!ticketer) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if (strlen(ticketer) != tlen) {
        rc = tz_out_fail(cli, TZ_EXIT_CHAIN, "stored bridge ticketer is not UTF-8");
        goto out;
    }
    const char *t = tz_profile_str(prof, "bridge_ticketer");
    if (t && strcmp(t, ticketer)) {
        rc = tz_out_fail(cli, TZ_EXIT_CHAIN,
                         "wallet profile's bridge_ticketer %s does not match the rollup's "
                         "configured ticketer %s; refusing to send a bridge deposit that the "
                         "kernel would reject.",
                         t, ticketer);
        goto out;
    }
    if ((st = tz_rpc_read_felt(rpc, block, TZ_STATE_PREFIX "auth_domain", &auth_domain, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading auth_domain", &err);
        goto out;
    }
    const char *ra = tz_profile_str(prof, "rollup_address");
    if (ra) {
        rollup_addr = strdup(ra);
    } else {
        char sr1[TZ_ROLLUP_ADDRESS_MAX];
        if ((st = tz_rpc_rollup_address(rpc, sr1, &err))) {
            err.code = st;
            rc = tz_cli_node_fail(cli, "reading the smart rollup address", &err);
            goto out;
        }
        rollup_addr = strdup(sr1);
    }
    if (!rollup_addr) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }

    tz_keys_derive(&keys, &w->master_sk);
    if ((rc = tz_cli_alloc_address(cli, w, &keys, &pos)))
        goto out;
    const tz_wallet_address *a = &w->addresses[pos];
    if (w->deposit_nonce == UINT64_MAX) {
        rc = tz_out_fail(cli, TZ_EXIT_WALLET, "deposit nonce overflow");
        goto out;
    }
    uint64_t nonce = w->deposit_nonce++;
    tz_deposit_blind(&blind, &w->master_sk, a->index, nonce);
    tz_pending_deposit d;
    memset(&d, 0, sizeof d);
    tz_deposit_pubkey_hash(&d.pubkey_hash, &auth_domain, &a->auth_root, &a->auth_pub_seed,
                           &blind);
    d.blind = blind;
    d.auth_domain = auth_domain;
    d.address_index = a->index;
    d.amount = amount;
    if (tz_wallet_add_deposit(w, &d) != TZ_OK) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    sodium_memzero(&d.blind, sizeof d.blind);
    /* The pool's blind is only in this file: saved before the call is shown. */
    if ((rc = tz_cli_save(cli, w)))
        goto out;

    char recipient[TZ_DEPOSIT_RECIPIENT_CHARS], ph_hex[TZ_FELT_HEX + 1];
    char rec_hex[2 * TZ_DEPOSIT_RECIPIENT_CHARS];
    tz_deposit_recipient(recipient, &d.pubkey_hash);
    tz_felt_to_hex(ph_hex, &d.pubkey_hash);
    tz_hex_encode(rec_hex, (const uint8_t *)recipient, strlen(recipient));
    json_t *params = json_pack("{s:s, s:[{s:s}, {s:s}]}", "prim", "Pair", "args", "bytes",
                               rec_hex, "string", rollup_addr);
    /* serde_json order: keys sorted ("args" before "prim"). */
    char *params_s = params ? json_dumps(params, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (!params_s) {
        json_decref(params);
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }

    /* The reference's five lines; with --json only the first, on stderr. */
    tz_out_text(cli, "Prepared bridge deposit of %" PRIu64 " mutez for pool %s (not submitted)",
                amount, ph_hex);
    if (!cli->json) {
        tz_out_text(cli, "bridge_contract: %s", ticketer);
        tz_out_text(cli, "entrypoint:      mint");
        tz_out_text(cli, "params:          %s", params_s);
        tz_out_text(cli, "Caller must sign + broadcast the operation (e.g. via Temple) and then "
                         "notify the daemon via POST /api/deposit/submitted.");
        tz_out_info(cli, "recipient: %s (address #%u, deposit nonce %" PRIu64
                         ", block %s); saved as a pending deposit",
                    recipient, (unsigned)d.address_index, nonce, block);
    }
    free(params_s);

    json_t *res = json_object();
    json_object_set_new(res, "amount", tz_json_u64(amount));
    json_object_set_new(res, "bridge_contract", json_string(ticketer));
    json_object_set_new(res, "entrypoint", json_string("mint"));
    json_object_set_new(res, "params", params);
    json_object_set_new(res, "pending_saved", json_true());
    json_object_set_new(res, "pubkey_hash", json_string(ph_hex));
    rc = tz_out_result(cli, res);
out:
    sodium_memzero(&blind, sizeof blind);
    tz_keys_wipe(&keys);
    free(rollup_addr);
    free(ticketer);
    tz_profile_free(prof);
    tz_rpc_free(rpc);
    tz_cli_session_close(&ses);
    return rc;
}

const tz_cmd tz_cmd_deposit = {
    .name = "deposit",
    .summary = "prepare an L1 bridge deposit into a fresh pool (--prepare-only)",
    .usage = usage,
    .run = run,
};
