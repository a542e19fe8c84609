/* `tzel-wallet init`: a new random wallet or a restore from master_sk. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common.h"
#include "core/keys.h"
#include "core/merkle.h"
#include "core/xmss.h"
#include "base/clock.h"
#include "store/address.h"
#include "sync/state.h"
#include "output.h"
#include "store/floor.h"

#define MAX_INIT_ADDRESSES 10000u

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] init [--master-sk HEX] [--addresses N]\n"
    "                   [--at-tree-size N | --at-head] [--rollup-node-url URL] [--force]\n"
    "\n"
    "Creates a wallet file: a new random master secret, or a restore from --master-sk.\n"
    "Derives N addresses (default 1); each costs one XMSS auth tree (about 65,536 WOTS+\n"
    "keys, seconds per address on all cores).\n"
    "\n"
    "  --master-sk HEX     restore: 64 hex characters, a felt below 2^251\n"
    "  --addresses N       addresses to derive now (default 1)\n"
    "  --at-tree-size N    start the sync cursor at leaf N (skip history; no frontier)\n"
    "  --at-head           start at the chain's current tree size, and store the tree\n"
    "                      frontier read at that block so later syncs can check the root\n"
    "  --rollup-node-url U also saved as rollup_node_url in <wallet>.network.json\n"
    "  --force             overwrite an existing wallet file\n"
    "\n"
    "Only a wallet with no history may skip it: a restored wallet that already\n"
    "received notes must sync from 0 (the default).\n";

struct prog {
    tz_progress *p;
    uint64_t base;
};

static void on_progress(void *ctx, uint32_t done, uint32_t total)
{
    (void)total;
    struct prog *pr = ctx;
    tz_progress_update(pr->p, pr->base + done);
}

static int parse_master_sk(const tz_cli *cli, const char *hex, tz_felt *out)
{
    size_t n = strlen(hex);
    if (n != TZ_FELT_HEX)
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "--master-sk must be 64 hex characters (got %zu characters)", n);
    if (tz_felt_from_hex(out, hex) != TZ_OK)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--master-sk contains a non-hex character");
    if (out->b[31] & 0xF8) {
        sodium_memzero(out, sizeof *out);
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "--master-sk is not a field element below 2^251 (the last byte "
                           "must be at most 07)");
    }
    return TZ_EXIT_OK;
}

/* Reads tree/size, tree/branch/00..2f, tree/root and nullifiers/count at one
 * pinned block, and checks that the frontier gives the root. */
static int read_head(const tz_cli *cli, tz_frontier *f, uint64_t *nf_count,
                     char block[TZ_BLOCK_HASH_MAX])
{
    tz_rpc *rpc = NULL;
    int rc = tz_cli_connect(cli, 8, &rpc, block);
    if (rc)
        return rc;
    tz_error err = {0};
    tz_status st;
    tz_felt root, mine;
    tz_chain_heads heads;
    if ((st = tz_state_read_heads(rpc, block, &heads, &err)) ||
        (st = tz_state_read_frontier(rpc, block, heads.tree_size, f, &err)) ||
        (st = tz_state_root(&heads, block, &root, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading the tree frontier", &err);
        goto out;
    }
    *nf_count = heads.nf_count;
    if (tz_frontier_root(f, &mine) != TZ_OK || !tz_felt_eq(&mine, &root)) {
        char a[TZ_FELT_HEX + 1], b[TZ_FELT_HEX + 1];
        tz_felt_to_hex(a, &mine);
        tz_felt_to_hex(b, &root);
        rc = tz_out_fail(cli, TZ_EXIT_CHAIN,
                         "the chain's tree frontier at block %s does not give its tree/root "
                         "(frontier root %s, tree/root %s)",
                         block, a, b);
        goto out;
    }
out:
    tz_rpc_free(rpc);
    return rc;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *sk_hex = NULL, *n_str = NULL, *at_str = NULL;
    bool at_head = false, force = false;
    const tz_opt opts[] = {
        {"master-sk", TZ_OPT_VALUE, &sk_hex},   {"addresses", TZ_OPT_VALUE, &n_str},
        {"at-tree-size", TZ_OPT_VALUE, &at_str}, {"at-head", TZ_OPT_FLAG, &at_head},
        {"force", TZ_OPT_FLAG, &force},
    };
    int rc = tz_cli_parse_args(cli, &tz_cmd_init, argc, argv, opts, sizeof opts / sizeof *opts);
    if (rc >= 0)
        return rc;

    uint64_t n_addr = 1, at_size = 0;
    if (n_str && (rc = tz_cli_parse_u64(cli, "addresses", n_str, &n_addr)))
        return rc;
    if (n_addr > MAX_INIT_ADDRESSES)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--addresses: at most %u", MAX_INIT_ADDRESSES);
    if (at_str && at_head)
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "--at-tree-size and --at-head cannot be used together");
    if (at_str && (rc = tz_cli_parse_u64(cli, "at-tree-size", at_str, &at_size)))
        return rc;
    if (at_size > TZ_TREE_CAPACITY)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--at-tree-size: at most 2^48");
    if (cli->rollup_node_url && !*cli->rollup_node_url)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--rollup-node-url must not be empty");

    tz_felt sk;
    bool restored = sk_hex != NULL;
    if (restored) {
        if ((rc = parse_master_sk(cli, sk_hex, &sk)))
            return rc;
    } else {
        randombytes_buf(sk.b, sizeof sk.b);
        tz_felt_truncate(&sk);
    }

    struct stat sb;
    tz_lock *lock = NULL;
    tz_wallet *w = NULL;
    tz_keys keys;
    memset(&keys, 0, sizeof keys);
    struct prog pr = {0};
    tz_frontier front;
    uint64_t nf_count = 0;
    char block[TZ_BLOCK_HASH_MAX] = "";
    tz_error err = {0};

    if (!force && stat(cli->wallet_path, &sb) == 0) {
        rc = tz_out_fail(cli, TZ_EXIT_WALLET,
                         "%s already exists (pass --force to overwrite it; its master secret "
                         "would be lost)",
                         cli->wallet_path);
        goto out;
    }
    if ((rc = tz_cli_lock(cli, &lock)))
        goto out;
    if (!force && stat(cli->wallet_path, &sb) == 0) {
        rc = tz_out_fail(cli, TZ_EXIT_WALLET, "%s already exists (pass --force to overwrite it)",
                         cli->wallet_path);
        goto out;
    }
    /* Network first: a node problem should not cost the derivation time. */
    if (at_head && (rc = read_head(cli, &front, &nf_count, block)))
        goto out;

    if (tz_wallet_new(cli->wallet_path, &sk, &w, &err) != TZ_OK) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
        goto out;
    }
    tz_keys_derive(&keys, &sk);
    if (n_addr)
        tz_out_info(cli, "Deriving %llu address(es): one XMSS auth tree each...",
                    (unsigned long long)n_addr);
    uint64_t t0 = (uint64_t)tz_mono_ms();
    pr.p = tz_progress_start(cli, "addresses", n_addr * TZ_XMSS_LEAVES, "keys");
    for (uint32_t j = 0; j < n_addr; j++) {
        tz_wallet_address a;
        json_t *bds = NULL;
        pr.base = (uint64_t)j * TZ_XMSS_LEAVES;
        if (tz_address_derive(&keys, j, 0, on_progress, &pr, &a, &bds, &err) != TZ_OK) {
            rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
            goto out;
        }
        if (tz_wallet_add_address(w, &a) != TZ_OK) {
            json_decref(bds);
            bds = NULL;
        }
        if (!bds || tz_wallet_set_address_bds(w, w->n_addresses - 1, bds) != TZ_OK) {
            rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
            goto out;
        }
    }
    tz_progress_finish(pr.p);
    pr.p = NULL;
    if (n_addr)
        tz_out_info(cli, "Derived %llu address(es) in %.1f s", (unsigned long long)n_addr,
                    (double)((uint64_t)tz_mono_ms() - t0) / 1000.0);
    w->addr_counter = (uint32_t)n_addr;
    if (at_head) {
        /* read_head checked the frontier's root. No note of this wallet
         * can be below the pinned size, so no nullifier published up to
         * that block can be one of ours. */
        tz_wallet_start_verified(w, &front, nf_count);
    } else if (at_str) {
        tz_wallet_reset_cursor(w, at_size, NULL);
    }

    /* Restoring over the xmss-floor of earlier use would reuse one-time keys. */
    tz_status fst = tz_wallet_floor_check(w, &err);
    if (fst == TZ_ESTATE) {
        rc = tz_out_fail(cli, TZ_EXIT_WALLET,
                         "%s.xmss-floor records more use of this master secret than a fresh "
                         "restore has (%s); signing with the restored wallet would reuse "
                         "one-time keys. Restore the newest wallet file instead",
                         cli->wallet_path, err.msg);
        goto out;
    } else if (fst != TZ_OK) {
        rc = tz_out_fail(cli, TZ_EXIT_WALLET, "%s", err.msg);
        goto out;
    }
    if ((rc = tz_cli_save(cli, w)))
        goto out;
    if (cli->rollup_node_url && (rc = tz_cli_save_profile_url(cli, cli->rollup_node_url)))
        goto out;

    /* The reference's line exactly; our details follow on stderr. */
    tz_out_text(cli, "Wallet %s: %s", restored ? "restored" : "created", cli->wallet_path);
    tz_out_info(cli, "%llu address%s, sync cursor %llu%s", (unsigned long long)n_addr,
                n_addr == 1 ? "" : "es", (unsigned long long)w->scanned,
                at_head ? ", frontier stored" : "");
    json_t *res = json_object();
    json_object_set_new(res, "created", json_true());
    json_object_set_new(res, "path", json_string(cli->wallet_path));
    json_object_set_new(res, "restored", json_boolean(restored));
    json_object_set_new(res, "address_count", json_integer((json_int_t)n_addr));
    json_object_set_new(res, "scanned", json_integer((json_int_t)w->scanned));
    json_object_set_new(res, "frontier", json_boolean(at_head));
    json_object_set_new(res, "block", at_head ? json_string(block) : json_null());
    if (cli->rollup_node_url)
        json_object_set_new(res, "rollup_node_url", json_string(cli->rollup_node_url));
    rc = tz_out_result(cli, res);
out:
    tz_progress_finish(pr.p);
    tz_keys_wipe(&keys);
    sodium_memzero(&sk, sizeof sk);
    tz_wallet_free(w);
    tz_lock_release(lock);
    return rc;
}

const tz_cmd tz_cmd_init = {
    .name = "init",
    .summary = "create a new wallet, or restore one from its master secret",
    .usage = usage,
    .creates_wallet = true,
    .run = run,
};
