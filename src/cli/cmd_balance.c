/* `tzel-wallet balance`: what the wallet file says it owns, plus the
 * pending deposits' pools on chain when a network profile exists. */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/commit.h"
#include "output.h"
#include "store/jsonnum.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] balance\n"
    "\n"
    "Shows the private balance tracked in the wallet file: available (notes not in a\n"
    "pending spend), tracked total, pending outgoing (notes in a pending spend), the\n"
    "number of notes and of pending spends. When <wallet>.network.json exists it also\n"
    "reads, at the rollup node's head, the pools of the pending deposits: `Deposit\n"
    "pools: F funded, total balance T mutez`, plus the pools awaiting credit and the\n"
    "drained ones (a node error then fails the command, as in the reference).\n"
    "Does not take the lock. The pending deposits recorded in the file are\n"
    "summarized on stderr.\n"
    "--json result: {private_available, private_pending_outgoing, private_tracked_total,\n"
    "tracked_notes, pending_operations[, deposit_pools_awaiting_credit,\n"
    "deposit_pools_drained_pending_prune, deposit_pools_funded,\n"
    "deposit_pools_total_mutez]}.\n";

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static bool in_spends(const tz_wallet *w, const tz_felt *nf)
{
    for (size_t s = 0; s < w->n_spends; s++)
        for (size_t k = 0; k < w->spends[s].n_nullifiers; k++)
            if (tz_felt_eq(nf, &w->spends[s].nullifiers[k]))
                return true;
    return false;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    int rc = tz_cli_parse_args(cli, &tz_cmd_balance, argc, argv, NULL, 0);
    if (rc >= 0)
        return rc;
    tz_wallet *w = NULL;
    if ((rc = tz_cli_load_wallet(cli, &w)))
        return rc;
    uint64_t total = 0, avail = 0, pending = 0, dep_amount = 0;
    size_t shielded = 0;
    for (size_t i = 0; i < w->n_notes; i++) {
        const tz_wallet_note *n = &w->notes[i];
        tz_felt nf;
        tz_note_nullifier(&nf, &n->nk_spend, &n->cm, n->index);
        total = sat_add(total, n->v);
        if (w->n_spends && in_spends(w, &nf))
            pending = sat_add(pending, n->v);
        else
            avail = sat_add(avail, n->v);
    }
    for (size_t i = 0; i < w->n_deposits; i++) {
        dep_amount = sat_add(dep_amount, w->deposits[i].amount);
        shielded += w->deposits[i].has_shielded_cm;
    }
    tz_out_text(cli, "Private available: %llu", (unsigned long long)avail);
    tz_out_text(cli, "Private tracked total: %llu", (unsigned long long)total);
    tz_out_text(cli, "Private pending outgoing: %llu", (unsigned long long)pending);
    tz_out_text(cli, "Tracked notes: %zu", w->n_notes);
    tz_out_text(cli, "Pending operations: %zu", w->n_spends);
    json_t *res = json_object();
    json_object_set_new(res, "private_available", tz_json_u64(avail));
    json_object_set_new(res, "private_tracked_total", tz_json_u64(total));
    json_object_set_new(res, "private_pending_outgoing", tz_json_u64(pending));
    json_object_set_new(res, "tracked_notes", json_integer((json_int_t)w->n_notes));
    json_object_set_new(res, "pending_operations", json_integer((json_int_t)w->n_spends));

    /* Like the reference: the pools are read only when a profile exists. */
    tz_profile *prof = NULL;
    tz_rpc *rpc = NULL;
    tz_pools pools;
    memset(&pools, 0, sizeof pools);
    char block[TZ_BLOCK_HASH_MAX];
    if ((rc = tz_cli_load_profile(cli, &prof)))
        goto out;
    if (prof) {
        if ((rc = tz_cli_connect(cli, 4, &rpc, block)) ||
            (rc = tz_cli_read_pools(cli, rpc, block, w, &pools)))
            goto out;
        tz_cli_pools_print(cli, &pools, w, res);
    }
    uint64_t orphan_v = 0;
    size_t orphans = tz_wallet_orphan_notes(w, &orphan_v);
    if (orphans)
        tz_out_warn(cli,
                    "%zu note(s) worth %llu belong to no address record of this wallet (their "
                    "addr_index is beyond the addresses): counted above, listed by no address "
                    "in `addresses`",
                    orphans, (unsigned long long)orphan_v);
    if (w->n_deposits)
        tz_out_info(cli, "Pending deposits in the wallet file: %zu (%llu mutez sent, %zu "
                         "already shielded)",
                    w->n_deposits, (unsigned long long)dep_amount, shielded);
    rc = tz_out_result(cli, res);
    res = NULL;
out:
    json_decref(res);
    tz_pools_free(&pools);
    tz_rpc_free(rpc);
    tz_profile_free(prof);
    tz_wallet_free(w);
    return rc;
}

const tz_cmd tz_cmd_balance = {
    .name = "balance",
    .summary = "show available, pending-outgoing and pending-deposit amounts",
    .usage = usage,
    .run = run,
};
