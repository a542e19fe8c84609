/* `tzel-wallet addresses` and `tzel-wallet balance`: read-only summaries
 * of the wallet file (no lock: saves are atomic renames, so a reader sees
 * a whole file). */
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "core/commit.h"
#include "core/keys.h"
#include "output.h"
#include "store/jsonnum.h"

/* True when note i's nullifier is in a pending spend. */
static bool note_pending(const tz_wallet *w, const tz_wallet_note *n)
{
    if (!w->n_spends)
        return false;
    tz_felt nf;
    tz_note_nullifier(&nf, &n->nk_spend, &n->cm, n->index);
    for (size_t s = 0; s < w->n_spends; s++)
        for (size_t k = 0; k < w->spends[s].n_nullifiers; k++)
            if (tz_felt_eq(&nf, &w->spends[s].nullifiers[k]))
                return true;
    return false;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static const char addresses_usage[] =
    "Usage: tzel-wallet [-w PATH] addresses\n"
    "\n"
    "Prints `N address(es), total T (available A)`, then one line per address\n"
    "derived so far: balance (all tracked notes), available (notes not in a pending\n"
    "spend) and note count. Read-only: does not take the wallet lock.\n"
    "--json result: {address_count, addresses:[{address, available, balance, index,\n"
    "notes}], total, total_available}.\n";

static int run_addresses(tz_cli *cli, int argc, char **argv)
{
    int rc = tz_cli_parse_args(cli, &tz_cmd_addresses, argc, argv, NULL, 0);
    if (rc >= 0)
        return rc;
    tz_wallet *w = NULL;
    if ((rc = tz_cli_load_wallet(cli, &w)))
        return rc;
    size_t na = w->n_addresses;
    uint64_t *bal = calloc(na + 1, sizeof *bal), *avail = calloc(na + 1, sizeof *avail);
    uint32_t *count = calloc(na + 1, sizeof *count);
    tz_payment_address *pa = malloc(sizeof *pa);
    tz_keys keys;
    memset(&keys, 0, sizeof keys);
    json_t *res = json_object(), *arr = json_array();
    if (!bal || !avail || !count || !pa || !res || !arr) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < w->n_notes; i++) {
        const tz_wallet_note *n = &w->notes[i];
        size_t k = tz_wallet_address_pos(w, n->addr_index);
        if (k == SIZE_MAX)
            k = na; /* no record: counted apart */
        bal[k] = sat_add(bal[k], n->v);
        count[k]++;
        if (!note_pending(w, n))
            avail[k] = sat_add(avail[k], n->v);
    }
    tz_keys_derive(&keys, &w->master_sk);
    /* Totals first: the reference's header line carries them. */
    uint64_t total = 0, total_avail = 0;
    for (size_t k = 0; k < na; k++) {
        total = sat_add(total, bal[k]);
        total_avail = sat_add(total_avail, avail[k]);
    }
    tz_out_text(cli, "%zu address(es), total %llu (available %llu)", na,
                (unsigned long long)total, (unsigned long long)total_avail);
    for (size_t k = 0; k < na; k++) {
        if ((rc = tz_cli_payment_address(cli, &keys, &w->addresses[k], pa)))
            goto out;
        json_t *e = json_object();
        json_object_set_new(e, "index", json_integer(w->addresses[k].index));
        json_object_set_new(e, "address", tz_payment_address_json(pa));
        json_object_set_new(e, "balance", tz_json_u64(bal[k]));
        json_object_set_new(e, "available", tz_json_u64(avail[k]));
        json_object_set_new(e, "notes", json_integer(count[k]));
        if (json_array_append_new(arr, e)) {
            rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
            goto out;
        }
        tz_out_text(cli, "  #%u  balance=%llu  available=%llu  notes=%u",
                    (unsigned)w->addresses[k].index, (unsigned long long)bal[k],
                    (unsigned long long)avail[k], (unsigned)count[k]);
    }
    if (count[na])
        tz_out_warn(cli,
                    "%u note(s) worth %llu belong to no address record of this wallet (their "
                    "addr_index is beyond the addresses): `balance` counts them, no line here "
                    "lists them",
                    (unsigned)count[na], (unsigned long long)bal[na]);
    json_object_set_new(res, "addresses", arr);
    arr = NULL;
    json_object_set_new(res, "total", tz_json_u64(total));
    json_object_set_new(res, "total_available", tz_json_u64(total_avail));
    json_object_set_new(res, "address_count", json_integer((json_int_t)na));
    rc = tz_out_result(cli, res);
    res = NULL;
out:
    json_decref(res);
    json_decref(arr);
    free(bal);
    free(avail);
    free(count);
    free(pa);
    tz_keys_wipe(&keys);
    tz_wallet_free(w);
    return rc;
}

const tz_cmd tz_cmd_addresses = {
    .name = "addresses",
    .summary = "list derived addresses with balance, available amount and note count",
    .usage = addresses_usage,
    .run = run_addresses,
};
