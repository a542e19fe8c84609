/* `tzel-wallet recover-deposits`: finds the funded deposit pools of this
 * wallet's seed that the file no longer lists (the reference's recovery
 * scan): every (address index i, deposit nonce j) in the window gives a
 * blind and a pool hash, and each pool is read at one pinned block. */
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "common.h"
#include "core/commit.h"
#include "node.h"
#include "output.h"
#include "store/address.h"
#include "store/jsonnum.h"
#include "sync/state.h"

/* Candidates read in one concurrent batch. */
#define BATCH 256

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] [--rollup-node-url URL] recover-deposits\n"
    "           [--max-address-index I] [--max-deposit-nonce J]\n"
    "\n"
    "After a wallet file was lost and rebuilt from its seed, finds the funded\n"
    "deposit pools (bridge deposits not yet shielded) of the seed. Every address\n"
    "index 0..=I (default 16) and deposit nonce 0..=J (default 16) gives a blind and\n"
    "a pool hash with the chain's auth_domain; each pool not already pending is read\n"
    "at one pinned head, and each one holding funds becomes a pending deposit again\n"
    "(shield it with `shield --pubkey-hash`). Addresses up to I are derived first\n"
    "(one auth tree each, saved as they are made); deposit_nonce moves past the\n"
    "highest nonce found. stdout: the reference's lines (Recovered N deposit\n"
    "pool(s), addr_counter now, deposit_nonce now); each pool found on stderr.\n"
    "--json result: {recovered, addr_counter, deposit_nonce, pools: [{address_index,\n"
    "deposit_nonce, balance, pubkey_hash}]}.\n";

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *max_i_s = NULL, *max_j_s = NULL;
    const tz_opt opts[] = {{"max-address-index", TZ_OPT_VALUE, &max_i_s},
                           {"max-deposit-nonce", TZ_OPT_VALUE, &max_j_s}};
    int rc = tz_cli_parse_args(cli, &tz_cmd_recover_deposits, argc, argv, opts, 2);
    if (rc >= 0)
        return rc;
    uint64_t max_i = 16, max_j = 16;
    if ((max_i_s && (rc = tz_cli_parse_u64(cli, "max-address-index", max_i_s, &max_i))) ||
        (max_j_s && (rc = tz_cli_parse_u64(cli, "max-deposit-nonce", max_j_s, &max_j))))
        return rc;
    if (max_i > UINT32_MAX)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--max-address-index must be at most %" PRIu32,
                           UINT32_MAX);
    if (max_i >= TZ_WALLET_MAX_ADDRESSES)
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "--max-address-index %" PRIu64 " would derive more than %u "
                           "addresses (about 5 s of CPU each)",
                           max_i, TZ_WALLET_MAX_ADDRESSES);
    uint32_t target = (uint32_t)max_i + 1;

    tz_cli_session ses = {0};
    tz_rpc *rpc = NULL;
    tz_profile *prof = NULL;
    char block[TZ_BLOCK_HASH_MAX];
    tz_felt auth_domain;
    tz_error err = {0};
    tz_status st;
    tz_felt *pkh = calloc(BATCH, sizeof *pkh), *blind = calloc(BATCH, sizeof *blind);
    bool *entry = calloc(BATCH, sizeof *entry);
    uint64_t *bal = calloc(BATCH, sizeof *bal);
    json_t *pools = json_array();
    if (!pkh || !blind || !entry || !bal || !pools) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if ((rc = tz_cli_session_open(cli, &ses)) || (rc = tz_cli_load_profile(cli, &prof)) ||
        (rc = tz_cli_connect(cli, 32, &rpc, block)) ||
        (rc = tz_cli_check_rollup_address(cli, rpc, prof)))
        goto out;
    tz_wallet *w = ses.w;
    if ((st = tz_rpc_read_felt(rpc, block, TZ_STATE_PREFIX "auth_domain", &auth_domain, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading the auth domain", &err);
        goto out;
    }
    if (w->addr_counter < target)
        w->addr_counter = target;
    if (w->n_addresses < target)
        tz_out_info(cli,
                    "Materializing addresses %zu..%" PRIu32 " (full XMSS rebuild per address "
                    "\xe2\x80\x94 slow)",
                    w->n_addresses, target);
    if ((rc = tz_cli_materialize_addresses(cli, w)) || (rc = tz_cli_save(cli, w)))
        goto out;

    uint64_t recovered = 0, max_seen = 0;
    bool found = false;
    for (uint32_t i = 0; i < target; i++) {
        size_t pos = tz_wallet_address_pos(w, i);
        if (pos == SIZE_MAX) {
            rc = tz_out_fail(cli, TZ_EXIT_WALLET, "missing wallet address record %" PRIu32, i);
            goto out;
        }
        const tz_wallet_address *a = &w->addresses[pos];
        char root[TZ_FELT_HEX + 1];
        tz_felt_to_hex(root, &a->auth_root);
        tz_out_info(cli,
                    "Scanning address_index=%" PRIu32 " auth_root=%.8s for deposit_nonce "
                    "0..=%" PRIu64,
                    i, root, max_j);
        for (uint64_t j0 = 0;; j0 += BATCH) {
            /* candidates j0.. (not already pending), then one concurrent read */
            size_t n = 0;
            uint64_t nonce[BATCH];
            for (uint64_t j = j0; n < BATCH && j <= max_j && j - j0 < BATCH; j++) {
                tz_deposit_blind(&blind[n], &w->master_sk, i, j);
                tz_deposit_pubkey_hash(&pkh[n], &auth_domain, &a->auth_root, &a->auth_pub_seed,
                                       &blind[n]);
                bool known = false;
                for (size_t d = 0; d < w->n_deposits && !known; d++)
                    known = tz_felt_eq(&w->deposits[d].pubkey_hash, &pkh[n]);
                if (!known)
                    nonce[n++] = j;
            }
            if ((st = tz_state_read_pool_list(rpc, block, pkh, n, entry, bal, &err))) {
                err.code = st;
                rc = tz_cli_node_fail(cli, "reading deposit pools", &err);
                goto out;
            }
            for (size_t k = 0; k < n; k++) {
                if (!entry[k] || bal[k] == 0)
                    continue;
                char hex[TZ_FELT_HEX + 1];
                tz_felt_to_hex(hex, &pkh[k]);
                tz_out_info(cli,
                            "  recovered: address_index=%" PRIu32 " deposit_nonce=%" PRIu64
                            " balance=%" PRIu64 " pubkey_hash=%s",
                            i, nonce[k], bal[k], hex);
                tz_pending_deposit d;
                memset(&d, 0, sizeof d);
                d.pubkey_hash = pkh[k];
                d.blind = blind[k];
                d.auth_domain = auth_domain;
                d.address_index = i;
                d.amount = bal[k];
                st = tz_wallet_add_deposit(w, &d);
                sodium_memzero(&d.blind, sizeof d.blind);
                if (st ||
                    json_array_append_new(
                        pools, json_pack("{s:I, s:o, s:o, s:s}", "address_index", (json_int_t)i,
                                         "deposit_nonce", tz_json_u64(nonce[k]), "balance",
                                         tz_json_u64(bal[k]), "pubkey_hash", hex))) {
                    rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
                    goto out;
                }
                recovered++;
                if (!found || nonce[k] > max_seen)
                    max_seen = nonce[k];
                found = true;
            }
            if (max_j - j0 < BATCH) /* j0 + BATCH > max_j, without overflow */
                break;
        }
    }
    if (found) {
        if (max_seen == UINT64_MAX) {
            rc = tz_out_fail(cli, TZ_EXIT_WALLET, "deposit_nonce overflow");
            goto out;
        }
        if (w->deposit_nonce < max_seen + 1)
            w->deposit_nonce = max_seen + 1;
    }
    if ((rc = tz_cli_save(cli, w)))
        goto out;
    tz_out_text(cli, "Recovered %" PRIu64 " deposit pool(s)", recovered);
    tz_out_text(cli, "addr_counter now %" PRIu32, w->addr_counter);
    tz_out_text(cli, "deposit_nonce now %" PRIu64, w->deposit_nonce);
    if (!recovered)
        tz_out_text(cli, "No funded pools found in the scan window. Bump --max-address-index or "
                         "--max-deposit-nonce if you suspect deposits beyond these bounds.");
    rc = tz_out_result(cli, json_pack("{s:o, s:I, s:o, s:O}", "recovered", tz_json_u64(recovered),
                                      "addr_counter", (json_int_t)w->addr_counter, "deposit_nonce",
                                      tz_json_u64(w->deposit_nonce), "pools", pools));
out:
    json_decref(pools);
    if (blind)
        sodium_memzero(blind, BATCH * sizeof *blind);
    free(blind);
    free(pkh);
    free(entry);
    free(bal);
    tz_rpc_free(rpc);
    tz_profile_free(prof);
    tz_cli_session_close(&ses);
    return rc;
}

const tz_cmd tz_cmd_recover_deposits = {
    .name = "recover-deposits",
    .summary = "find the funded deposit pools of the seed the file no longer lists",
    .usage = usage,
    .run = run,
};
