/* `tzel-wallet unshield`: a withdrawal of shielded notes to a Tezos L1
 * account, proved through the reference's prover interface
 * (`reprove <dir>/run_unshield.executable.json`) and submitted to the
 * operator (SPENDS.md §3-§7). A change note, to a new own address, exists
 * only when the notes exceed the amount and fees. One-time keys are saved
 * as spent before the prover runs (spend.h). */
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/clock.h"
#include "common.h"
#include "core/provarg.h"
#include "core/recipient.h"
#include "output.h"
#include "spend.h"
#include "spend/proc.h"
#include "store/profile.h"

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] unshield --amount N [--recipient tz1...|KT1...] [--fee N]\n"
    "           [--reprove-bin BIN] [--executables-dir DIR]\n"
    "           [--proving-service-url URL]\n"
    "\n"
    "Withdraws N from the shielded pool to the L1 account --recipient (tz1, tz2, tz3\n"
    "or KT1, Base58check; by default the profile's source_alias account, as\n"
    "`octez-client show address <source_alias>` names it, with the profile's\n"
    "octez_client_bin, octez_client_dir, octez_node_endpoint and octez_protocol),\n"
    "with the required burn fee unless --fee gives a higher one\n"
    "and the profile's dal_fee to its dal_fee_address. Notes are selected largest\n"
    "first (notes in a pending spend are skipped; at most 7); what they hold beyond\n"
    "N and the fees goes to a new address of this wallet as change. Refused, with the\n"
    "wallet untouched: an invalid recipient, insufficient funds, more than 7 notes, a\n"
    "fee below the required one, a profile without dal_fee, dal_fee_address,\n"
    "operator_url and operator_bearer_token. Then one-time keys are reserved and\n"
    "saved, `BIN DIR/run_unshield.executable.json --arguments-file F --output F`\n"
    "proves, the kernel message goes to the operator and the spend is recorded as\n"
    "pending until sync sees its nullifiers. The L1 release then comes through the\n"
    "rollup's outbox.\n"
    "--json result: {amount, fee, dal_fee, change, recipient, nullifiers, change_cm,\n"
    "producer_cm, outbox_note, submission_id, operation_hash, submission_output,\n"
    "submission, timings_ms}; phase events on stderr (docs/spend.md).\n";

static const char outbox_note[] = "The L1 release now comes from this unshield via the normal "
                                  "smart-rollup outbox/cementation flow.";

/* The reference's default recipient: the `Hash:` line of `octez-client
 * [-d DIR] [-E URL] [-p PROTO] -w none show address <source_alias>` with
 * the profile's settings (PROTO defaults to PtTALLiN on shadownet), checked
 * here as an L1 account before anything is burned. *out: a new string. */
static int source_account(const tz_cli *cli, const tz_profile *prof, char **out)
{
    const char *alias = tz_profile_str(prof, "source_alias");
    const char *bin = tz_profile_str(prof, "octez_client_bin");
    const char *dir = tz_profile_str(prof, "octez_client_dir");
    const char *endpoint = tz_profile_str(prof, "octez_node_endpoint");
    const char *proto = tz_profile_str(prof, "octez_protocol");
    const char *network = tz_profile_str(prof, "network");
    if (!alias)
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "unshield needs --recipient tz1...|KT1..., or a profile whose "
                           "source_alias names the L1 account paid");
    if (!bin)
        bin = "octez-client";
    if (!proto && network && !strcmp(network, "shadownet"))
        proto = "PtTALLiN";
    const char *opt[][2] = {{"-d", dir}, {"-E", endpoint}, {"-p", proto}};
    char *argv[16];
    size_t n = 0;
    argv[n++] = (char *)bin;
    for (size_t k = 0; k < 3; k++)
        if (opt[k][1]) {
            argv[n++] = (char *)opt[k][0];
            argv[n++] = (char *)opt[k][1];
        }
    const char *tail[] = {"-w", "none", "show", "address", alias, NULL};
    for (size_t k = 0; k < 6; k++)
        argv[n++] = (char *)tail[k];
    char *so = NULL, *se = NULL;
    int status = 0, rc = TZ_EXIT_OK;
    tz_error err = {0};
    if (tz_proc_capture(argv, &so, &se, &status, &err))
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
    char *o = tz_proc_trim(so), *e = tz_proc_trim(se);
    const char *sep = *o && *e ? "\n" : "";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (*o || *e)
            rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s%s%s", o, sep, e);
        else
            rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s exited with status %d", bin,
                             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        goto out;
    }
    /* the first line "Hash: <value>" with a non-empty value */
    const char *hash = NULL;
    size_t hlen = 0;
    for (char *line = o; line && *line && !hash;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        size_t t = len;
        const char *v = tz_recipient_trim(line, &t);
        if (t > 5 && !strncmp(v, "Hash:", 5)) {
            size_t vl = t - 5;
            const char *val = tz_recipient_trim(v + 5, &vl);
            if (vl) {
                hash = val;
                hlen = vl;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    if (!hash) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE,
                         "could not parse octez-client address hash from output: %s%s%s", o, sep,
                         e);
        goto out;
    }
    if (!tz_recipient_valid(hash, hlen)) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE,
                         "octez-client names %s %.*s, which is not an L1 account an unshield "
                         "can pay",
                         alias, (int)(hlen > 100 ? 100 : hlen), hash);
        goto out;
    }
    if (!(*out = strndup(hash, hlen)))
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
out:
    free(so);
    free(se);
    return rc;
}

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *amount_s = NULL, *fee_s = NULL, *recipient = NULL;
    tz_prover prover = {cli->reprove_bin, cli->executables_dir, cli->proving_service_url, NULL};
    const tz_opt opts[] = {{"amount", TZ_OPT_VALUE, &amount_s},
                           {"fee", TZ_OPT_VALUE, &fee_s},
                           {"recipient", TZ_OPT_VALUE, &recipient},
                           {"reprove-bin", TZ_OPT_VALUE, &prover.bin},
                           {"executables-dir", TZ_OPT_VALUE, &prover.exe_dir},
                           {"proving-service-url", TZ_OPT_VALUE, &prover.service_url}};
    int rc =
        tz_cli_parse_args(cli, &tz_cmd_unshield, argc, argv, opts, sizeof opts / sizeof opts[0]);
    if (rc >= 0)
        return rc;
    uint64_t amount = 0;
    if (!amount_s)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "unshield needs --amount N");
    if ((rc = tz_cli_parse_u64(cli, "amount", amount_s, &amount)))
        return rc;
    tz_out_phase("op_started", json_pack("{s:s, s:I, s:n, s:s?}", "kind", "unshield", "amount",
                                         (json_int_t)amount, "deposit_id", "recipient",
                                         recipient));
    char *rcpt = NULL;
    if (recipient) {
        size_t rlen = strlen(recipient);
        const char *r = tz_recipient_trim(recipient, &rlen);
        if (rlen == 0)
            return tz_out_fail(cli, TZ_EXIT_USAGE, "L1 withdrawal recipient must not be empty");
        if (!tz_recipient_valid(r, rlen))
            return tz_out_fail(cli, TZ_EXIT_USAGE, "invalid L1 withdrawal recipient: %.*s",
                               (int)(rlen > 100 ? 100 : rlen), r);
        if (!(rcpt = strndup(r, rlen)))
            return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    }
    tz_payment_address *change = calloc(1, sizeof *change);
    tz_unshield_built *b = calloc(1, sizeof *b);
    tz_cli_spend sp;
    memset(&sp, 0, sizeof sp);
    tz_error err = {0};
    tz_status st;
    if (!change || !b) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if ((rc = tz_cli_spend_open(cli, &sp, "unshield", fee_s, &prover)))
        goto out;
    if (!rcpt && (rc = source_account(cli, sp.prof, &rcpt)))
        goto out;
    tz_transfer_plan plan;
    if ((rc = tz_cli_spend_select(cli, &sp, amount, &plan)))
        goto out;
    /* From here on, keys and the change address are spent. */
    bool has_change = plan.sum_in > amount + sp.fee + sp.dal_fee; /* no overflow: selected */
    if (has_change && (rc = tz_cli_spend_change_address(cli, &sp, change)))
        goto out;
    tz_unshield_req req = {.auth_domain = sp.auth_domain, .recipient = rcpt, .amount = amount,
                           .fee = sp.fee, .dal_fee = sp.dal_fee, .producer = &sp.producer,
                           .change = has_change ? change : NULL};
    int64_t t0 = tz_mono_ms();
    st = tz_unshield_build(sp.ses.w, &sp.keys, &req, &plan, b, &err);
    sp.ms_sign = tz_mono_ms() - t0;
    if ((rc = tz_cli_spend_burned(cli, &sp, st, &err)))
        goto out;
    if ((st = tz_provarg_unshield(sp.args, TZ_PROVARG_MAX, &sp.n_args, &b->wit, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
        goto out;
    }
    sp.msg.kind = TZ_KMSG_UNSHIELD;
    sp.msg.u.unshield = b->msg;
    char desc[64];
    snprintf(desc, sizeof desc, "unshield %" PRIu64, amount);
    if ((rc = tz_cli_spend_submit(cli, &sp, "run_unshield", b->msg.nf, b->msg.n_nf, desc)))
        goto out;
    tz_out_text(cli, "Submitted unshield of %" PRIu64 " to L1 recipient %s with fee %" PRIu64
                     " + dal fee %" PRIu64,
                amount, rcpt, sp.fee, sp.dal_fee);
    json_t *res = tz_cli_spend_result(&sp, amount, b->change_value, b->msg.nf, b->msg.n_nf);
    json_object_set_new(res, "recipient", json_string(rcpt));
    json_object_set_new(res, "change_cm", b->wit.has_change
                                              ? tz_cli_felt_json(&b->msg.cm_change)
                                              : json_null());
    json_object_set_new(res, "producer_cm", tz_cli_felt_json(&b->msg.cm_fee));
    json_object_set_new(res, "outbox_note", json_string(outbox_note));
    json_object_set_new(res, "timings_ms", tz_cli_spend_timings(&sp));
    tz_cli_spend_print_submission(cli, sp.sub, false, res);
    tz_out_text(cli, "%s", outbox_note);
    rc = tz_out_result(cli, res);
out:
    if (b)
        sodium_memzero(b, sizeof *b);
    free(b);
    tz_cli_spend_close(&sp);
    free(change);
    free(rcpt);
    return rc;
}

const tz_cmd tz_cmd_unshield = {
    .name = "unshield",
    .summary = "a withdrawal to an L1 account, proved and submitted to the operator",
    .usage = usage,
    .run = run,
};
