/* `tzel-wallet send`: a private transfer, proved through the reference's
 * prover interface (`reprove <dir>/run_transfer.executable.json
 * --arguments-file F --output F`) and submitted to the operator
 * (SPENDS.md §3-§7). One-time keys and the change address are saved as
 * spent BEFORE the prover runs: a crash, a failed proof or a failed
 * submission never lets a key be used twice (a retry signs with fresh
 * ones). */
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "common.h"
#include "core/provarg.h"
#include "output.h"
#include "spend.h"
#include "store/fsys.h"
#include "store/jsonnum.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] send --to ADDR.json --amount N [--fee N] [--memo TEXT]\n"
    "           [--reprove-bin BIN] [--executables-dir DIR]\n"
    "           [--proving-service-url URL]\n"
    "\n"
    "A private transfer of N to the payment address in ADDR.json (as `receive --out`\n"
    "writes it), with the required burn fee unless --fee gives a higher one, the\n"
    "profile's dal_fee to its dal_fee_address, and the change to a new address of\n"
    "this wallet. Notes are selected largest first (notes in a pending spend are\n"
    "skipped; at most 7). Refused, with the wallet untouched: insufficient funds, more\n"
    "than 7 notes, a fee below the required one, a profile without dal_fee,\n"
    "dal_fee_address, operator_url and operator_bearer_token. Then one-time keys are\n"
    "reserved and saved, `BIN DIR/run_transfer.executable.json --arguments-file F\n"
    "--output F` proves (default BIN `reprove`, DIR `cairo/target/dev`; the\n"
    "tzel-transparent-prover has the same command line), the kernel message goes to\n"
    "the operator and the spend is recorded as pending until sync sees its\n"
    "nullifiers. The wallet's spend paths come from sync: no leaf is read.\n"
    "--json result: {amount, fee, dal_fee, change, nullifiers, recipient_cm, change_cm,\n"
    "producer_cm, submission_id, operation_hash, submission_output, pending_dal,\n"
    "sync_hint, submission, timings_ms}; phase events on stderr (docs/spend.md).\n";

/* Reads a payment address JSON (as receive --out writes it, or a --json
 * envelope of receive) into *pa. */
static int load_address_file(const tz_cli *cli, const char *path, tz_payment_address *pa)
{
    char *text = NULL;
    size_t len = 0;
    json_t *doc = NULL;
    tz_error err = {0};
    if (tz_read_file(path, 1 << 20, &text, &len, &err) ||
        tz_json_load_exact(text, len, path, &doc, &err)) {
        free(text);
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--to: %s", err.msg);
    }
    free(text);
    json_t *o = json_object_get(doc, "result") ? json_object_get(doc, "result") : doc;
    json_t *a = json_object_get(o, "address") ? json_object_get(o, "address") : o;
    int rc = tz_cli_address_from_json(a, pa) ? TZ_EXIT_OK
                                              : tz_out_fail(cli, TZ_EXIT_USAGE,
                                                            "%s: not a payment address", path);
    json_decref(doc);
    return rc;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *to_path = NULL, *amount_s = NULL, *fee_s = NULL, *memo = NULL;
    tz_prover prover = {cli->reprove_bin, cli->executables_dir, cli->proving_service_url, NULL};
    const tz_opt opts[] = {{"to", TZ_OPT_VALUE, &to_path},
                           {"amount", TZ_OPT_VALUE, &amount_s},
                           {"fee", TZ_OPT_VALUE, &fee_s},
                           {"memo", TZ_OPT_VALUE, &memo},
                           {"reprove-bin", TZ_OPT_VALUE, &prover.bin},
                           {"executables-dir", TZ_OPT_VALUE, &prover.exe_dir},
                           {"proving-service-url", TZ_OPT_VALUE, &prover.service_url}};
    int rc = tz_cli_parse_args(cli, &tz_cmd_send, argc, argv, opts, sizeof opts / sizeof opts[0]);
    if (rc >= 0)
        return rc;
    uint64_t amount = 0;
    if (!to_path || !amount_s)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "send needs --to ADDR.json and --amount N");
    if ((rc = tz_cli_parse_u64(cli, "amount", amount_s, &amount)))
        return rc;
    if (memo && strlen(memo) > 1024)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--memo is longer than 1024 bytes");
    tz_payment_address *to = calloc(2, sizeof *to), *change = to + 1;
    tz_transfer_built *b = calloc(1, sizeof *b);
    tz_cli_spend sp;
    memset(&sp, 0, sizeof sp);
    tz_error err = {0};
    tz_status st;
    if (!to || !b) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if ((rc = load_address_file(cli, to_path, to)))
        goto out;
    tz_out_phase("op_started", json_pack("{s:s, s:I, s:n, s:s}", "kind", "transfer", "amount",
                                         (json_int_t)amount, "deposit_id", "recipient", to_path));
    if ((rc = tz_cli_spend_open(cli, &sp, "transfer", fee_s, &prover)))
        goto out;
    tz_transfer_plan plan;
    if ((rc = tz_cli_spend_select(cli, &sp, amount, &plan)))
        goto out;
    /* From here on, keys and the change address are spent. */
    if ((rc = tz_cli_spend_change_address(cli, &sp, change)))
        goto out;
    tz_transfer_req req = {.auth_domain = sp.auth_domain, .to = to, .amount = amount,
                           .fee = sp.fee, .dal_fee = sp.dal_fee, .producer = &sp.producer,
                           .memo = (const uint8_t *)memo, .memo_len = memo ? strlen(memo) : 0,
                           .change = change};
    int64_t t0 = tz_mono_ms();
    st = tz_transfer_build(sp.ses.w, &sp.keys, &req, &plan, b, &err);
    sp.ms_sign = tz_mono_ms() - t0;
    if ((rc = tz_cli_spend_burned(cli, &sp, st, &err)))
        goto out;
    if ((st = tz_provarg_transfer(sp.args, TZ_PROVARG_MAX, &sp.n_args, &b->wit, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
        goto out;
    }
    sp.msg.kind = TZ_KMSG_TRANSFER;
    sp.msg.u.transfer = b->msg;
    char desc[64];
    snprintf(desc, sizeof desc, "transfer %" PRIu64, amount);
    if ((rc = tz_cli_spend_submit(cli, &sp, "run_transfer", b->msg.nf, b->msg.n_nf, desc)))
        goto out;
    tz_out_text(cli, "Submitted transfer of %" PRIu64 " with fee %" PRIu64 " + dal fee %" PRIu64
                     " and change %" PRIu64,
                amount, sp.fee, sp.dal_fee, b->change_value);
    json_t *res = tz_cli_spend_result(&sp, amount, b->change_value, b->msg.nf, b->msg.n_nf);
    json_object_set_new(res, "recipient_cm", tz_cli_felt_json(&b->msg.cm[0]));
    json_object_set_new(res, "change_cm", tz_cli_felt_json(&b->msg.cm[1]));
    json_object_set_new(res, "producer_cm", tz_cli_felt_json(&b->msg.cm[2]));
    json_object_set_new(res, "timings_ms", tz_cli_spend_timings(&sp));
    tz_cli_spend_print_submission(cli, sp.sub, true, res);
    rc = tz_out_result(cli, res);
out:
    if (b)
        sodium_memzero(b, sizeof *b);
    free(b);
    tz_cli_spend_close(&sp);
    free(to);
    return rc;
}

const tz_cmd tz_cmd_send = {
    .name = "send",
    .summary = "a private transfer, proved and submitted to the operator",
    .usage = usage,
    .run = run,
};
