/* `tzel-wallet shield`: a deposit pool this wallet prepared (`deposit`)
 * drained into a shielded note to the pool's own address, proved through
 * the reference's prover interface (`reprove
 * <dir>/run_shield.executable.json`) and submitted to the operator
 * (SPENDS.md §3-§7). The one-time key that signs it is saved as spent
 * before the prover runs (spend.h). */
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "base/clock.h"
#include "common.h"
#include "core/provarg.h"
#include "node.h"
#include "output.h"
#include "spend.h"
#include "spend/shield.h"
#include "store/jsonnum.h"
#include "sync/state.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] shield --pubkey-hash HEX [--amount N]\n"
    "           [--reprove-bin BIN] [--executables-dir DIR]\n"
    "           [--proving-service-url URL]\n"
    "\n"
    "Drains the deposit pool HEX (64 lowercase hex characters, as `deposit` and\n"
    "`check` print it) into a shielded note of N to the pool's own address, paying\n"
    "the required fee and the profile's dal_fee to its dal_fee_address from the\n"
    "pool. N defaults to the pool's balance less both fees. Refused, with the wallet\n"
    "untouched: a pool that is empty or holds less than N and the fees, a pool this\n"
    "wallet did not prepare, a pool prepared under another auth_domain, a profile\n"
    "without dal_fee, dal_fee_address, operator_url and operator_bearer_token. Then\n"
    "one one-time key of the pool's address is reserved and saved,\n"
    "`BIN DIR/run_shield.executable.json --arguments-file F --output F` proves, the\n"
    "kernel message goes to the operator, and the pool's pending deposit records\n"
    "the note's commitment, which the next sync finds.\n"
    "--json result: {amount, fee, dal_fee, pubkey_hash, pool_balance, address_index,\n"
    "recipient_cm, producer_cm, submission_id, operation_hash, submission_output,\n"
    "pending_dal, sync_hint, submission, timings_ms}; phase events on stderr\n"
    "(docs/spend.md).\n";

/* --pubkey-hash as the reference takes it: exactly 64 lowercase hex
 * characters, no prefix. */
static int parse_pubkey_hash(const tz_cli *cli, const char *s, tz_felt *out)
{
    size_t len = strlen(s);
    if (!strncmp(s, "0x", 2) || !strncmp(s, "0X", 2))
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "pubkey_hash must be 64 lowercase hex chars (no `0x` prefix)");
    if (!strncmp(s, "deposit:", 8))
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "pubkey_hash must be 64 lowercase hex chars (no `deposit:` prefix)");
    if (len != 64)
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "pubkey_hash must be 64 lowercase hex chars; got %zu chars", len);
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return tz_out_fail(cli, TZ_EXIT_USAGE,
                               "pubkey_hash must be lowercase hex (0-9, a-f) only");
    size_t n = 0;
    if (sodium_hex2bin(out->b, sizeof out->b, s, len, NULL, &n, NULL) || n != sizeof out->b)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "invalid pubkey_hash hex");
    return TZ_EXIT_OK;
}

/* The pool's balance at the spend's block and the amount drawn from it:
 * the reference's checks and messages. */
static int pool_draw(const tz_cli *cli, tz_cli_spend *sp, const tz_felt *pkh, const char *hex,
                     const char *amount_s, uint64_t *pool, uint64_t *amount)
{
    bool entry = false;
    tz_error err = {0};
    tz_status st = tz_state_read_pool_list(sp->rpc, sp->block, pkh, 1, &entry, pool, &err);
    if (st) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading the deposit pool", &err);
    }
    if (!entry) /* an entry of 0 is the "below the fees" case, as the reference reads it */
        return tz_out_fail(cli, TZ_EXIT_WALLET, "deposit pool %s not found or already drained",
                           hex);
    if (sp->fee > UINT64_MAX - sp->dal_fee)
        return tz_out_fail(cli, TZ_EXIT_WALLET, "fee + producer_fee overflow");
    uint64_t min_fees = sp->fee + sp->dal_fee;
    if (*pool < min_fees)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "deposit pool %s balance %" PRIu64 " < required fees %" PRIu64
                           " (tx_fee %" PRIu64 " + producer_fee %" PRIu64 ")",
                           hex, *pool, min_fees, sp->fee, sp->dal_fee);
    int rc;
    if (!amount_s)
        *amount = *pool - min_fees;
    else if ((rc = tz_cli_parse_u64(cli, "amount", amount_s, amount)))
        return rc;
    if (*amount > UINT64_MAX - min_fees)
        return tz_out_fail(cli, TZ_EXIT_WALLET, "shield total draw overflow");
    if (*pool < *amount + min_fees)
        return tz_out_fail(cli, TZ_EXIT_WALLET,
                           "deposit pool %s balance %" PRIu64 " < requested draw %" PRIu64
                           " (amount %" PRIu64 " + tx_fee %" PRIu64 " + producer_fee %" PRIu64 ")",
                           hex, *pool, *amount + min_fees, *amount, sp->fee, sp->dal_fee);
    return TZ_EXIT_OK;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *amount_s = NULL, *pkh_s = NULL;
    tz_prover prover = {cli->reprove_bin, cli->executables_dir, cli->proving_service_url, NULL};
    const tz_opt opts[] = {{"pubkey-hash", TZ_OPT_VALUE, &pkh_s},
                           {"amount", TZ_OPT_VALUE, &amount_s},
                           {"reprove-bin", TZ_OPT_VALUE, &prover.bin},
                           {"executables-dir", TZ_OPT_VALUE, &prover.exe_dir},
                           {"proving-service-url", TZ_OPT_VALUE, &prover.service_url}};
    int rc = tz_cli_parse_args(cli, &tz_cmd_shield, argc, argv, opts, sizeof opts / sizeof opts[0]);
    if (rc >= 0)
        return rc;
    if (!pkh_s)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "shield needs --pubkey-hash HEX");
    uint64_t amount = 0;
    if (amount_s && (rc = tz_cli_parse_u64(cli, "amount", amount_s, &amount)))
        return rc;
    tz_out_phase("op_started", json_pack("{s:s, s:o, s:s, s:n}", "kind", "shield", "amount",
                                         amount_s ? tz_json_u64(amount) : json_null(),
                                         "pubkey_hash", pkh_s, "recipient"));
    tz_felt pkh;
    if ((rc = parse_pubkey_hash(cli, pkh_s, &pkh)))
        return rc;
    tz_shield_built *b = calloc(1, sizeof *b);
    tz_cli_spend sp;
    memset(&sp, 0, sizeof sp);
    tz_error err = {0};
    tz_status st;
    if (!b) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if ((rc = tz_cli_spend_open(cli, &sp, "shield", NULL, &prover)))
        goto out;
    uint64_t pool = 0;
    if ((rc = pool_draw(cli, &sp, &pkh, pkh_s, amount_s, &pool, &amount)))
        goto out;
    tz_shield_req req = {.auth_domain = sp.auth_domain,
                         .pubkey_hash = pkh,
                         .amount = amount,
                         .fee = sp.fee,
                         .dal_fee = sp.dal_fee,
                         .producer = &sp.producer};
    /* Refusals before anything is burned. */
    if ((st = tz_shield_check(sp.ses.w, &req, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_WALLET, "%s", err.msg);
        goto out;
    }
    int64_t t0 = tz_mono_ms();
    st = tz_shield_build(sp.ses.w, &sp.keys, &req, b, &err);
    sp.ms_sign = tz_mono_ms() - t0;
    if ((rc = tz_cli_spend_burned(cli, &sp, st, &err)))
        goto out;
    if ((st = tz_provarg_shield(sp.args, TZ_PROVARG_MAX, &sp.n_args, &b->wit, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
        goto out;
    }
    sp.msg.kind = TZ_KMSG_SHIELD;
    sp.msg.u.shield = b->msg;
    sp.shield = true;
    sp.shield_pkh = pkh;
    sp.shield_cm = b->msg.client_cm;
    if ((rc = tz_cli_spend_submit(cli, &sp, "run_shield", NULL, 0, NULL)))
        goto out;
    tz_out_text(cli,
                "Submitted shield of %" PRIu64 " from pool %s (fee %" PRIu64
                " + producer_fee %" PRIu64 ")",
                amount, pkh_s, sp.fee, sp.dal_fee);
    json_t *res =
        json_pack("{s:o, s:o, s:o, s:s, s:o, s:I, s:o, s:o}", "amount", tz_json_u64(amount), "fee",
                  tz_json_u64(sp.fee), "dal_fee", tz_json_u64(sp.dal_fee), "pubkey_hash", pkh_s,
                  "pool_balance", tz_json_u64(pool), "address_index", (json_int_t)b->address_index,
                  "recipient_cm", tz_cli_felt_json(&b->msg.client_cm), "producer_cm",
                  tz_cli_felt_json(&b->msg.producer_cm));
    tz_cli_spend_print_submission(cli, sp.sub, true, res);
    json_object_set_new(res, "timings_ms", tz_cli_spend_timings(&sp));
    rc = tz_out_result(cli, res);
out:
    if (b)
        sodium_memzero(b, sizeof *b);
    free(b);
    tz_cli_spend_close(&sp);
    return rc;
}

const tz_cmd tz_cmd_shield = {
    .name = "shield",
    .summary = "a deposit pool drained into a shielded note, proved and submitted",
    .usage = usage,
    .run = run,
};
