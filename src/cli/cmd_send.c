/* `tzel-wallet send`: a private transfer, proved through the reference's
 * prover interface (`reprove <dir>/run_transfer.executable.json
 * --arguments-file F --output F`) and submitted to the operator
 * (SPENDS.md §3-§7). One-time keys and the change address are saved as
 * spent BEFORE the prover runs: a crash, a failed proof or a failed
 * submission never lets a key be used twice (a retry signs with fresh
 * ones). */
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"
#include "core/kmsg.h"
#include "output.h"
#include "rpc/operator.h"
#include "spend/bundle.h"
#include "spend/prover_json.h"
#include "spend/transfer.h"
#include "store/atomic.h"
#include "store/fsys.h"
#include "store/jsonnum.h"
#include "store/profile.h"

extern char **environ;

static const char usage[] =
    "Usage: tzel-wallet [-w PATH] send --to ADDR.json --amount N [--fee N] [--memo TEXT]\n"
    "           [--reprove-bin BIN] [--executables-dir DIR]\n"
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
    "producer_cm, submission}; phase events on stderr.\n";

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

static void phase(const tz_cli *cli, json_t *ev)
{
    if (cli->json && ev) {
        char *s = tz_json_dumps(ev, JSON_COMPACT);
        if (s)
            fprintf(stderr, "%s\n", s);
        free(s);
    }
    json_decref(ev);
}

/* Runs `bin exe --arguments-file args --output out`, its stdout to our
 * stderr. Returns TZ_EXIT_OK or reports the failure. */
static int run_prover(const tz_cli *cli, const char *bin, const char *exe, const char *args,
                      const char *out)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    char *argv[] = {(char *)bin, (char *)exe, "--arguments-file", (char *)args, "--output",
                    (char *)out, NULL};
    pid_t pid;
    int e = posix_spawnp(&pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e)
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "cannot run the prover %s: %s", bin,
                           strerror(e));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return tz_out_fail(cli, TZ_EXIT_FAILURE,
                           "the prover %s failed (%s %d); the one-time keys it was given are "
                           "spent: a retry signs with fresh ones",
                           bin, WIFEXITED(status) ? "exit" : "signal",
                           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return TZ_EXIT_OK;
}

static json_t *hex_json(const tz_felt *f)
{
    return tz_cli_felt_json(f);
}

static int run(tz_cli *cli, int argc, char **argv)
{
    const char *to_path = NULL, *amount_s = NULL, *fee_s = NULL, *memo = NULL,
               *bin = "reprove", *exe_dir = "cairo/target/dev";
    const tz_opt opts[] = {{"to", TZ_OPT_VALUE, &to_path},       {"amount", TZ_OPT_VALUE, &amount_s},
                           {"fee", TZ_OPT_VALUE, &fee_s},        {"memo", TZ_OPT_VALUE, &memo},
                           {"reprove-bin", TZ_OPT_VALUE, &bin},  {"executables-dir", TZ_OPT_VALUE, &exe_dir}};
    int rc = tz_cli_parse_args(cli, &tz_cmd_send, argc, argv, opts, sizeof opts / sizeof opts[0]);
    if (rc >= 0)
        return rc;
    uint64_t amount = 0, fee = 0, dal_fee = 0, required = 0;
    if (!to_path || !amount_s)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "send needs --to ADDR.json and --amount N");
    if ((rc = tz_cli_parse_u64(cli, "amount", amount_s, &amount)) ||
        (fee_s && (rc = tz_cli_parse_u64(cli, "fee", fee_s, &fee))))
        return rc;
    if (memo && strlen(memo) > 1024)
        return tz_out_fail(cli, TZ_EXIT_USAGE, "--memo is longer than 1024 bytes");
    tz_payment_address *to = calloc(3, sizeof *to), *producer = to + 1, *change = to + 2;
    tz_profile *prof = NULL;
    tz_cli_session ses = {0};
    tz_rpc *rpc = NULL;
    tz_keys keys;
    memset(&keys, 0, sizeof keys);
    tz_transfer_built *b = calloc(1, sizeof *b);
    tz_felt *args = calloc(TZ_PROVARG_MAX, sizeof *args);
    char *args_json = NULL, *bundle_text = NULL, tmpdir[] = "/tmp/tzel-send-XXXXXX";
    char args_path[64] = "", out_path[64] = "", block[TZ_BLOCK_HASH_MAX];
    uint8_t *payload = NULL;
    json_t *sub = NULL;
    tz_kmsg msg = {.kind = TZ_KMSG_TRANSFER};
    tz_error err = {0};
    tz_status st;
    if (!to || !b || !args) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if ((rc = load_address_file(cli, to_path, to)) || (rc = tz_cli_load_profile(cli, &prof)))
        goto out;
    const char *op_url = tz_profile_str(prof, "operator_url");
    const char *op_tok = tz_profile_str(prof, "operator_bearer_token");
    const char *rollup = tz_profile_str(prof, "rollup_address");
    if (!prof || !op_url || !op_tok || !rollup || !tz_profile_u64(prof, "dal_fee", &dal_fee) ||
        !dal_fee || !tz_cli_address_from_json(tz_profile_get(prof, "dal_fee_address"),
                                              producer)) {
        rc = tz_out_fail(cli, TZ_EXIT_USAGE,
                         "send needs a network profile with rollup_address, dal_fee (> 0), "
                         "dal_fee_address, operator_url and operator_bearer_token (see "
                         "`tzel-wallet profile init-shadownet`)");
        goto out;
    }
    json_t *ev = json_pack("{s:s, s:s, s:I, s:n, s:s}", "event", "op_started", "kind", "transfer",
                           "amount", (json_int_t)amount, "deposit_id", "recipient", to_path);
    phase(cli, ev);
    if ((rc = tz_cli_session_open(cli, &ses)) || (rc = tz_cli_connect(cli, 4, &rpc, block)))
        goto out;
    tz_transfer_req req = {.to = to, .amount = amount, .dal_fee = dal_fee, .producer = producer,
                           .memo = (const uint8_t *)memo, .memo_len = memo ? strlen(memo) : 0,
                           .change = change};
    if ((st = tz_rpc_read_felt(rpc, block, TZ_STATE_PREFIX "auth_domain", &req.auth_domain,
                               &err)) ||
        (st = tz_state_required_fee(rpc, block, &required, &err))) {
        err.code = st;
        rc = tz_cli_node_fail(cli, "reading the auth domain and the fee counters", &err);
        goto out;
    }
    req.fee = fee_s ? fee : required;
    if (req.fee < required) {
        rc = tz_out_fail(cli, TZ_EXIT_USAGE, "--fee %" PRIu64 " is below the required fee %" PRIu64,
                         req.fee, required);
        goto out;
    }
    unsigned __int128 total = (unsigned __int128)amount + req.fee + dal_fee;
    tz_transfer_plan plan;
    if (total > UINT64_MAX ||
        (st = tz_transfer_select(ses.w, (uint64_t)total, &plan, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_WALLET, "%s",
                         total > UINT64_MAX ? "the amount and fees exceed 2^64 - 1" : err.msg);
        goto out;
    }
    /* From here on, keys and the change address are spent. */
    tz_keys_derive(&keys, &ses.w->master_sk);
    size_t cpos;
    if ((rc = tz_cli_alloc_address(cli, ses.w, &keys, &cpos)) ||
        (rc = tz_cli_payment_address(cli, &keys, &ses.w->addresses[cpos], change)))
        goto out;
    if ((st = tz_transfer_build(ses.w, &keys, &req, &plan, b, &err))) {
        int save = tz_cli_save(cli, ses.w); /* what was reserved stays reserved */
        rc = save ? save : tz_out_fail(cli, tz_exit_for_status(st), "%s", err.msg);
        goto out;
    }
    if ((rc = tz_cli_save(cli, ses.w)))
        goto out;
    size_t n_args = 0, args_len = 0;
    if ((st = tz_provarg_transfer(args, TZ_PROVARG_MAX, &n_args, &b->wit, &err)) ||
        (st = tz_prover_args_json(args, n_args, &args_json, &args_len, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
        goto out;
    }
    if (!mkdtemp(tmpdir)) {
        rc = tz_out_fail(cli, TZ_EXIT_IO, "cannot create a folder for the prover's files");
        goto out;
    }
    snprintf(args_path, sizeof args_path, "%s/arguments.json", tmpdir);
    snprintf(out_path, sizeof out_path, "%s/bundle.json", tmpdir);
    char exe[4096];
    snprintf(exe, sizeof exe, "%s/run_transfer.executable.json", exe_dir);
    if ((st = tz_atomic_write(args_path, args_json, args_len, 0600, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_IO, "%s", err.msg);
        goto out;
    }
    phase(cli, json_pack("{s:s, s:s, s:I}", "event", "proving_started", "circuit",
                         "run_transfer", "args_count", (json_int_t)n_args));
    if ((rc = run_prover(cli, bin, exe, args_path, out_path)))
        goto out;
    size_t blen = 0;
    msg.u.transfer = b->msg;
    if ((st = tz_read_file(out_path, 64u << 20, &bundle_text, &blen, &err)) ||
        (st = tz_bundle_parse(&msg.u.transfer.proof, bundle_text, blen, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "the prover's bundle: %s", err.msg);
        goto out;
    }
    phase(cli, json_pack("{s:s, s:I}", "event", "proving_finished", "proof_bytes",
                         (json_int_t)msg.u.transfer.proof.len));
    size_t plen = 0;
    if ((st = tz_kmsg_encode(&msg, &payload, &plen, &err)) ||
        (st = tz_operator_submit(op_url, op_tok, "transfer", rollup, payload, plen, &sub, &err))) {
        rc = tz_out_fail(cli, st == TZ_EHTTP ? TZ_EXIT_NETWORK : TZ_EXIT_FAILURE, "%s", err.msg);
        goto out;
    }
    phase(cli, json_pack("{s:s, s:O}", "event", "submitted", "submission", sub));
    char desc[64];
    snprintf(desc, sizeof desc, "transfer %" PRIu64, amount);
    const char *op_hash = json_string_value(json_object_get(sub, "operation_hash"));
    if ((st = tz_wallet_add_spend(ses.w, b->msg.nf, b->msg.n_nf, desc, op_hash))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    if ((rc = tz_cli_save(cli, ses.w)))
        goto out;
    tz_out_text(cli, "Submitted transfer of %" PRIu64 " with fee %" PRIu64 " + dal fee %" PRIu64
                     " and change %" PRIu64,
                amount, req.fee, dal_fee, b->change_value);
    tz_out_info(cli, "Submission %s: %s", json_string_value(json_object_get(sub, "id")),
                json_string_value(json_object_get(sub, "status"))
                    ? json_string_value(json_object_get(sub, "status"))
                    : "?");
    json_t *nfs = json_array();
    for (size_t k = 0; k < b->msg.n_nf; k++)
        json_array_append_new(nfs, hex_json(&b->msg.nf[k]));
    rc = tz_out_result(cli, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:O}", "amount",
                                      tz_json_u64(amount), "fee", tz_json_u64(req.fee), "dal_fee",
                                      tz_json_u64(dal_fee), "change",
                                      tz_json_u64(b->change_value), "nullifiers", nfs,
                                      "recipient_cm", hex_json(&b->msg.cm[0]), "change_cm",
                                      hex_json(&b->msg.cm[1]), "producer_cm",
                                      hex_json(&b->msg.cm[2]), "submission", sub));
out:
    if (args_path[0])
        unlink(args_path);
    if (out_path[0])
        unlink(out_path);
    if (args_path[0])
        rmdir(tmpdir);
    tz_kmsg_proof_free(&msg.u.transfer.proof);
    json_decref(sub);
    free(payload);
    free(bundle_text);
    free(args_json);
    free(args);
    if (b)
        memset(b, 0, sizeof *b);
    free(b);
    tz_keys_wipe(&keys);
    tz_rpc_free(rpc);
    tz_cli_session_close(&ses);
    tz_profile_free(prof);
    free(to);
    return rc;
}

const tz_cmd tz_cmd_send = {
    .name = "send",
    .summary = "a private transfer, proved and submitted to the operator",
    .usage = usage,
    .run = run,
};
