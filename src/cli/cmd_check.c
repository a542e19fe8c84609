/* `tzel-wallet check`: compares the wallet with the chain, everything read
 * at one pinned block. Read-only (no lock). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/merkle.h"
#include "output.h"
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
    "Read-only: does not take the wallet lock.\n";

/* One pending deposit's pool as read on chain. */
typedef struct tz_pool_balance {
    bool present;      /* the key exists (possibly empty: drained) */
    uint64_t balance;  /* 0 when absent or empty */
} tz_pool_balance;

static const char *pool_state(const tz_pool_balance *p, const tz_pending_deposit *d)
{
    if (p->balance)
        return "funded";
    return d->has_shielded_cm ? "drained_pending_prune" : "awaiting_credit";
}

/* Reads deposits/balance/<pubkey_hash> of every pending deposit at `block`
 * into *out (malloc'd, one per deposit). A value that is neither empty nor
 * 8 bytes is a chain error. */
static int read_pools(const tz_cli *cli, tz_rpc *rpc, const char *block, const tz_wallet *w,
                      tz_pool_balance **out)
{
    size_t n = w->n_deposits;
    tz_pool_balance *pb = calloc(n + 1, sizeof *pb);
    char **keys = calloc(n + 1, sizeof *keys);
    uint8_t **vals = calloc(n + 1, sizeof *vals);
    size_t *lens = calloc(n + 1, sizeof *lens);
    bool *present = calloc(n + 1, sizeof *present);
    int rc = TZ_EXIT_OK;
    if (!pb || !keys || !vals || !lens || !present) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        char hex[TZ_FELT_HEX + 1];
        tz_felt_to_hex(hex, &w->deposits[i].pubkey_hash);
        if (!(keys[i] = malloc(sizeof TZ_STATE_PREFIX + 17 + TZ_FELT_HEX))) {
            rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
            goto out;
        }
        snprintf(keys[i], sizeof TZ_STATE_PREFIX + 17 + TZ_FELT_HEX,
                 TZ_STATE_PREFIX "deposits/balance/%s", hex);
    }
    if (n) {
        tz_error err = {0};
        tz_status st = tz_rpc_read_blobs(rpc, block, (const char *const *)keys, n, vals, lens,
                                         present, &err);
        if (st) {
            err.code = st;
            rc = tz_cli_node_fail(cli, "reading deposit pool balances", &err);
            goto out;
        }
    }
    for (size_t i = 0; i < n; i++) {
        pb[i].present = present[i];
        if (present[i] && lens[i] == 8) {
            pb[i].balance = tz_get_u64le(vals[i]);
        } else if (present[i] && lens[i] != 0) {
            rc = tz_out_fail(cli, TZ_EXIT_CHAIN,
                             "%s at block %s holds %zu bytes, not a u64 balance", keys[i],
                             block, lens[i]);
            goto out;
        }
    }
    *out = pb;
    pb = NULL;
out:
    for (size_t i = 0; i < n; i++) {
        if (keys)
            free(keys[i]);
        if (vals)
            free(vals[i]);
    }
    free(keys);
    free(vals);
    free(lens);
    free(present);
    free(pb);
    return rc;
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
    char *url = NULL;
    char block[TZ_BLOCK_HASH_MAX];
    tz_error err = {0};
    tz_status st;
    json_t *res = NULL;
    tz_pool_balance *pools = NULL;
    uint64_t tree_size = 0, nf_count = 0;
    tz_felt root, auth_domain;

    if ((rc = tz_cli_load_wallet(cli, &w)) || (rc = tz_cli_node_url(cli, &url)) ||
        (rc = tz_cli_connect(cli, 8, &rpc, block)))
        goto out;
    if ((st = tz_rpc_read_u64(rpc, block, TZ_STATE_PREFIX "tree/size", &tree_size, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading tree/size", &err);
        goto out;
    }
    st = tz_rpc_read_felt(rpc, block, TZ_STATE_PREFIX "tree/root", &root, &err);
    if (st == TZ_ENOTFOUND && tree_size == 0) {
        root = *tz_merkle_zero(TZ_TREE_DEPTH);
    } else if (st) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading tree/root", &err);
        goto out;
    }
    st = tz_rpc_read_u64(rpc, block, TZ_STATE_PREFIX "nullifiers/count", &nf_count, &err);
    if (st == TZ_ENOTFOUND) {
        nf_count = 0;
    } else if (st) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading nullifiers/count", &err);
        goto out;
    }
    if ((st = tz_rpc_read_felt(rpc, block, TZ_STATE_PREFIX "auth_domain", &auth_domain, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading auth_domain", &err);
        goto out;
    }
    if ((rc = read_pools(cli, rpc, block, w, &pools)))
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

    char ad_hex[TZ_FELT_HEX + 1], root_hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(ad_hex, &auth_domain);
    tz_felt_to_hex(root_hex, &root);
    uint64_t funded = 0, funded_total = 0, awaiting = 0, drained = 0;
    json_t *parr = json_array();
    for (size_t i = 0; i < w->n_deposits; i++) {
        const tz_pending_deposit *d = &w->deposits[i];
        json_t *e = json_object();
        json_object_set_new(e, "pubkey_hash", tz_felt_json(&d->pubkey_hash));
        json_object_set_new(e, "address_index", json_integer(d->address_index));
        json_object_set_new(e, "amount", tz_json_u64(d->amount));
        json_object_set_new(e, "balance", tz_json_u64(pools[i].balance));
        json_object_set_new(e, "state", json_string(pool_state(&pools[i], d)));
        json_array_append_new(parr, e);
        if (pools[i].balance) {
            funded++;
            funded_total = funded_total > UINT64_MAX - pools[i].balance
                               ? UINT64_MAX
                               : funded_total + pools[i].balance;
        } else if (d->has_shielded_cm) {
            drained++;
        } else {
            awaiting++;
        }
    }

    tz_out_text(cli, "Wallet file: %s", cli->wallet_path);
    tz_out_text(cli, "Rollup node: %s", url);
    tz_out_text(cli, "Rollup head: %s", block);
    tz_out_text(cli, "Auth domain: %s", ad_hex);
    tz_out_text(cli, "Tree size: %" PRIu64, tree_size);
    tz_out_text(cli, "Tree root: %s", root_hex);
    tz_out_text(cli, "Nullifiers: %" PRIu64, nf_count);
    tz_out_text(cli, "Local wallet: notes=%zu, pending=%zu, scanned=%" PRIu64 " (%" PRIu64
                     " leaves to sync)",
                w->n_notes, w->n_spends, w->scanned,
                tree_size > w->scanned ? tree_size - w->scanned : 0);
    if (!strcmp(root_check, "behind") && levels_checked)
        tz_out_text(cli, "Root check: behind (%u frontier level(s) agree with the chain's)",
                    levels_checked);
    else
        tz_out_text(cli, "Root check: %s", root_check);
    tz_out_text(cli, "Deposit pools: %" PRIu64 " funded, total balance %" PRIu64
                     " mutez; %" PRIu64 " awaiting credit, %" PRIu64 " drained pending prune",
                funded, funded_total, awaiting, drained);

    res = json_object();
    json_object_set_new(res, "wallet_file", json_string(cli->wallet_path));
    json_object_set_new(res, "rollup_node_url", json_string(url));
    json_object_set_new(res, "rollup_head", json_string(block));
    json_object_set_new(res, "auth_domain", json_string(ad_hex));
    json_object_set_new(res, "tree_size", tz_json_u64(tree_size));
    json_object_set_new(res, "tree_root", json_string(root_hex));
    json_object_set_new(res, "nullifier_count", tz_json_u64(nf_count));
    json_object_set_new(res, "local_notes", json_integer((json_int_t)w->n_notes));
    json_object_set_new(res, "local_pending", json_integer((json_int_t)w->n_spends));
    json_object_set_new(res, "local_scanned", tz_json_u64(w->scanned));
    json_object_set_new(res, "local_nullifiers_checked",
                        tz_json_u64(w->sync.nullifiers_checked));
    json_object_set_new(res, "leaves_to_sync",
                        tz_json_u64(tree_size > w->scanned ? tree_size - w->scanned : 0));
    json_object_set_new(res, "root_check", json_string(root_check));
    json_object_set_new(res, "frontier_levels_checked", json_integer(levels_checked));
    json_object_set_new(res, "frontier_root", *mine_hex ? json_string(mine_hex) : json_null());
    json_object_set_new(res, "deposit_pools", parr);
    json_object_set_new(res, "deposit_pools_funded", tz_json_u64(funded));
    json_object_set_new(res, "deposit_pools_total_mutez", tz_json_u64(funded_total));
    json_object_set_new(res, "deposit_pools_awaiting_credit", tz_json_u64(awaiting));
    json_object_set_new(res, "deposit_pools_drained_pending_prune", tz_json_u64(drained));
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
    free(pools);
    free(url);
    tz_rpc_free(rpc);
    tz_wallet_free(w);
    return rc;
}

const tz_cmd tz_cmd_check = {
    .name = "check",
    .summary = "read the chain at one block and compare it with the wallet",
    .usage = usage,
    .mutating = false,
    .run = run,
};
