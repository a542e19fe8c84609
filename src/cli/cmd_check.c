/* `tzel-wallet check`: compares the wallet with the chain, everything read
 * at one pinned block. Read-only (no lock). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/merkle.h"
#include "output.h"
#include "rpc/operator.h"
#include "store/jsonnum.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] [--rollup-node-url URL] check\n"
    "\n"
    "Reaches the rollup node, pins its head, and reads at that one block: the tree\n"
    "size and root, the nullifier count, the auth domain, and the balance of each\n"
    "pending deposit's pool. Reports them with the wallet's sync cursor. When the\n"
    "wallet holds a verified tree frontier and its cursor equals the chain's tree\n"
    "size, the frontier's root must equal tree/root; when the cursor is behind, the\n"
    "frontier levels both sizes share must equal the chain's tree/branch (exit 6\n"
    "otherwise). A cursor beyond the chain's tree size also fails with exit 6\n"
    "(wrong rollup node?).\n"
    "stdout carries the reference's lines (Wallet file, Network, Rollup head, Auth\n"
    "domain (first 4 bytes), Tree size, Current required burn fee, Local wallet,\n"
    "Deposit pools, Operator health, Check passed); the extra findings (node, tree\n"
    "root, nullifiers, leaves to sync, root check) go to stderr. Network is the\n"
    "profile's `network`, or `custom` when it names none. When the profile has a\n"
    "rollup_address, the node must serve that rollup.\n"
    "Read-only: does not take the wallet lock.\n";

static const char *pool_state(const tz_pools *p, size_t i, const tz_pending_deposit *d)
{
    if (p->has_entry[i])
        return "funded";
    return d->has_shielded_cm ? "drained_pending_prune" : "awaiting_credit";
}

/* tz_state_required_fee for the CLI: a node failure reported as such, a
 * value of the wrong length as a chain error. */
static int required_fee(const tz_cli *cli, tz_rpc *rpc, const char *block, uint64_t *fee)
{
    tz_error err = {0};
    tz_status st = tz_state_required_fee(rpc, block, fee, &err);
    if (st == TZ_EPARSE)
        return tz_out_fail(cli, TZ_EXIT_CHAIN, "%s", err.msg);
    if (st) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading the fee counters", &err);
    }
    return TZ_EXIT_OK;
}

/* "whole" or "whole.fraction" with trailing zeros removed (6 decimals). */
static void tez_string(char *out, size_t cap, uint64_t mutez)
{
    uint64_t whole = mutez / 1000000u, frac = mutez % 1000000u;
    if (!frac) {
        snprintf(out, cap, "%" PRIu64, whole);
        return;
    }
    snprintf(out, cap, "%" PRIu64 ".%06" PRIu64, whole, frac);
    size_t n = strlen(out);
    while (n && out[n - 1] == '0')
        out[--n] = '\0';
}

/* GET <operator_url>/healthz: the trimmed body into *out (malloc'd). */
static int operator_health(const tz_cli *cli, const char *base, char **out)
{
    tz_error err = {0};
    tz_status st = tz_operator_health(base, out, &err);
    if (st == TZ_ENOMEM)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    if (st)
        return tz_out_fail(cli, TZ_EXIT_NETWORK, "%s", err.msg);
    return TZ_EXIT_OK;
}

/* With the wallet's frontier at size S below the chain's size N, the
 * levels l where S and N agree on every bit from l up and bit l is set hold
 * the same completed left subtree in both frontiers: reads the chain's
 * tree/branch/<l> for them and compares. Returns 0 (*n levels agreed), -1
 * on a difference (message in why), or an exit code (reported). */
static int compare_prefix(const tz_cli *cli, tz_rpc *rpc, const char *block, const tz_wallet *w,
                          uint64_t n_chain, unsigned *n, char *why, size_t cap)
{
    uint64_t s = w->scanned;
    char keys[TZ_TREE_DEPTH][64];
    const char *kp[TZ_TREE_DEPTH];
    unsigned lv[TZ_TREE_DEPTH], k = 0;
    for (unsigned l = 0; l < TZ_TREE_DEPTH; l++) {
        if ((s >> l) != (n_chain >> l) || !((s >> l) & 1))
            continue;
        snprintf(keys[k], sizeof keys[k], TZ_STATE_PREFIX "tree/branch/%02x", l);
        kp[k] = keys[k];
        lv[k++] = l;
    }
    *n = 0;
    if (!k)
        return 0;
    tz_felt chain[TZ_TREE_DEPTH];
    tz_error err = {0};
    tz_status st = tz_rpc_read_felts(rpc, block, kp, k, chain, NULL, &err);
    if (st) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading tree/branch", &err);
    }
    for (unsigned i = 0; i < k; i++) {
        if (!tz_felt_eq(&chain[i], &w->sync.frontier[lv[i]])) {
            snprintf(why, cap,
                     "the wallet's tree frontier (size %" PRIu64 ") differs from the chain's "
                     "at level %u (block %s): the chain below the wallet's cursor is not the "
                     "one it scanned",
                     s, lv[i], block);
            return -1;
        }
    }
    *n = k;
    return 0;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    int rc = tz_cli_parse_args(cli, &tz_cmd_check, argc, argv, NULL, 0);
    if (rc >= 0)
        return rc;
    tz_wallet *w = NULL;
    tz_rpc *rpc = NULL;
    tz_profile *prof = NULL;
    char *url = NULL, *health = NULL;
    char block[TZ_BLOCK_HASH_MAX];
    tz_error err = {0};
    tz_status st;
    json_t *res = NULL;
    tz_pools pools;
    memset(&pools, 0, sizeof pools);
    uint64_t tree_size = 0, nf_count = 0, fee = 0;
    tz_felt root, auth_domain;

    if ((rc = tz_cli_load_wallet(cli, &w)) || (rc = tz_cli_node_url(cli, &url)) ||
        (rc = tz_cli_load_profile(cli, &prof)) || (rc = tz_cli_connect(cli, 8, &rpc, block)) ||
        (rc = tz_cli_check_rollup_address(cli, rpc, prof)))
        goto out;
    tz_chain_heads heads;
    if ((st = tz_state_read_heads(rpc, block, &heads, &err)) ||
        (st = tz_state_root(&heads, block, &root, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading the tree size, root and nullifier count", &err);
        goto out;
    }
    tree_size = heads.tree_size;
    nf_count = heads.nf_count;
    if ((st = tz_rpc_read_felt(rpc, block, TZ_STATE_PREFIX "auth_domain", &auth_domain, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading auth_domain", &err);
        goto out;
    }
    if ((rc = required_fee(cli, rpc, block, &fee)) ||
        (rc = tz_cli_read_pools(cli, rpc, block, w, &pools)))
        goto out;

    /* What the cursor and frontier say about the chain. */
    const char *root_check;
    char mine_hex[TZ_FELT_HEX + 1] = "";
    bool failed = false;
    unsigned levels_checked = 0;
    char why[512] = "";
    if (w->scanned > tree_size) {
        root_check = "cursor_beyond_chain";
        failed = true;
        snprintf(why, sizeof why,
                 "the wallet's sync cursor %" PRIu64 " is beyond the chain's tree size %" PRIu64
                 " at block %s: is this the wallet's rollup node?",
                 w->scanned, tree_size, block);
    } else if (!w->sync.has_frontier || w->sync.frontier_size != w->scanned) {
        root_check = "no_frontier";
    } else if (w->scanned < tree_size) {
        root_check = "behind";
        if ((rc = compare_prefix(cli, rpc, block, w, tree_size, &levels_checked, why,
                                 sizeof why)) < 0) {
            root_check = "frontier_mismatch";
            failed = true;
            rc = TZ_EXIT_OK;
        } else if (rc) {
            goto out;
        }
    } else {
        tz_frontier f;
        tz_felt mine;
        f.size = w->sync.frontier_size;
        memcpy(f.branch, w->sync.frontier, sizeof f.branch);
        if (tz_frontier_root(&f, &mine) != TZ_OK) {
            root_check = "mismatch";
        } else {
            tz_felt_to_hex(mine_hex, &mine);
            root_check = tz_felt_eq(&mine, &root) ? "match" : "mismatch";
        }
        if (strcmp(root_check, "match")) {
            char chain_hex[TZ_FELT_HEX + 1];
            tz_felt_to_hex(chain_hex, &root);
            failed = true;
            snprintf(why, sizeof why,
                     "the wallet's tree frontier gives root %s but the chain's tree/root at "
                     "block %s is %s",
                     mine_hex, block, chain_hex);
        }
    }

    char ad_hex[TZ_FELT_HEX + 1], root_hex[TZ_FELT_HEX + 1], tez[32];
    tz_felt_to_hex(ad_hex, &auth_domain);
    tz_felt_to_hex(root_hex, &root);
    tez_string(tez, sizeof tez, fee);
    /* The reference's short form: the first 4 bytes. */
    char ad_short[9];
    memcpy(ad_short, ad_hex, 8);
    ad_short[8] = '\0';
    const char *network = tz_profile_str(prof, "network");
    if (!network)
        network = "custom";
    json_t *parr = json_array();
    for (size_t i = 0; i < w->n_deposits; i++) {
        const tz_pending_deposit *d = &w->deposits[i];
        json_t *e = json_object();
        json_object_set_new(e, "pubkey_hash", tz_cli_felt_json(&d->pubkey_hash));
        json_object_set_new(e, "address_index", json_integer(d->address_index));
        json_object_set_new(e, "amount", tz_json_u64(d->amount));
        json_object_set_new(e, "balance", tz_json_u64(pools.balance[i]));
        json_object_set_new(e, "state", json_string(pool_state(&pools, i, d)));
        json_array_append_new(parr, e);
    }

    res = json_object();
    json_object_set_new(res, "deposit_pools", parr);
    tz_out_text(cli, "Wallet file: %s", cli->wallet_path);
    tz_out_text(cli, "Network: %s", network);
    tz_out_info(cli, "Rollup node: %s", url);
    tz_out_text(cli, "Rollup head: %s", block);
    tz_out_text(cli, "Auth domain: %s", ad_short);
    tz_out_text(cli, "Tree size: %" PRIu64, tree_size);
    tz_out_info(cli, "Tree root: %s", root_hex);
    tz_out_info(cli, "Nullifiers: %" PRIu64, nf_count);
    tz_out_text(cli, "Current required burn fee: %" PRIu64 " mutez (%s tez)", fee, tez);
    tz_out_text(cli, "Local wallet: notes=%zu, pending=%zu, scanned=%" PRIu64, w->n_notes,
                w->n_spends, w->scanned);
    tz_out_info(cli, "Leaves to sync: %" PRIu64,
                tree_size > w->scanned ? tree_size - w->scanned : 0);
    if (!strcmp(root_check, "behind") && levels_checked)
        tz_out_info(cli, "Root check: behind (%u frontier level(s) agree with the chain's)",
                    levels_checked);
    else
        tz_out_info(cli, "Root check: %s", root_check);
    tz_cli_pools_print(cli, &pools, w, res);
    const char *op_url = tz_profile_str(prof, "operator_url");
    if (op_url) {
        if ((rc = operator_health(cli, op_url, &health)))
            goto out;
        tz_out_text(cli, "Operator health: %s", health);
    } else {
        tz_out_text(cli, "Operator health: not configured");
    }

    json_object_set_new(res, "wallet_file", json_string(cli->wallet_path));
    json_object_set_new(res, "network", json_string(network));
    json_object_set_new(res, "rollup_head", json_string(block));
    json_object_set_new(res, "auth_domain", json_string(ad_short));
    json_object_set_new(res, "tree_size", tz_json_u64(tree_size));
    json_object_set_new(res, "required_tx_fee_mutez", tz_json_u64(fee));
    json_object_set_new(res, "required_tx_fee_tez", json_string(tez));
    json_object_set_new(res, "local_notes", json_integer((json_int_t)w->n_notes));
    json_object_set_new(res, "local_pending", json_integer((json_int_t)w->n_spends));
    json_object_set_new(res, "local_scanned", tz_json_u64(w->scanned));
    json_object_set_new(res, "operator_health", json_string(health ? health : "not_configured"));
    /* Ours (additive): the node, the full root/domain, the frontier checks. */
    json_object_set_new(res, "rollup_node_url", json_string(url));
    json_object_set_new(res, "auth_domain_hex", json_string(ad_hex));
    json_object_set_new(res, "tree_root", json_string(root_hex));
    json_object_set_new(res, "nullifier_count", tz_json_u64(nf_count));
    json_object_set_new(res, "local_nullifiers_checked",
                        tz_json_u64(w->sync.nullifiers_checked));
    json_object_set_new(res, "leaves_to_sync",
                        tz_json_u64(tree_size > w->scanned ? tree_size - w->scanned : 0));
    json_object_set_new(res, "root_check", json_string(root_check));
    json_object_set_new(res, "frontier_levels_checked", json_integer(levels_checked));
    json_object_set_new(res, "frontier_root", *mine_hex ? json_string(mine_hex) : json_null());
    json_object_set_new(res, "check_passed", json_boolean(!failed));
    if (failed) {
        rc = tz_out_fail(cli, TZ_EXIT_CHAIN, "%s", why);
        goto out;
    }
    tz_out_text(cli, "Check passed");
    rc = tz_out_result(cli, res);
    res = NULL;
out:
    json_decref(res);
    tz_pools_free(&pools);
    free(health);
    free(url);
    tz_profile_free(prof);
    tz_rpc_free(rpc);
    tz_wallet_free(w);
    return rc;
}

const tz_cmd tz_cmd_check = {
    .name = "check",
    .summary = "read the chain at one block and compare it with the wallet",
    .usage = usage,
    .run = run,
};
