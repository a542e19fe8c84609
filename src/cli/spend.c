/* The steps the spends share (spend.h). */
#include "spend.h"

#include <ctype.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "common.h"
#include "base/clock.h"
#include "core/provarg.h"
#include "node.h"
#include "output.h"
#include "rpc/operator.h"
#include "store/jsonnum.h"
#include "sync/state.h"

#define POLL_INTERVAL_MS 2000
#define POLL_TIMEOUT_MS 180000

static void crash_point(const char *name)
{
    const char *at = getenv("TZEL_CRASH_AT");
    if (at && !strcmp(at, name))
        raise(SIGKILL);
}

int tz_cli_spend_open(const tz_cli *cli, tz_cli_spend *sp, const char *kind, const char *fee_s,
                      const tz_prover *prover)
{
    memset(sp, 0, sizeof *sp);
    int64_t t0 = tz_mono_ms();
    sp->kind = kind;
    sp->prover = *prover;
    if (!(sp->args = calloc(TZ_PROVARG_MAX, sizeof *sp->args)))
        return tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
    int rc;
    uint64_t fee = 0;
    if (fee_s && (rc = tz_cli_parse_u64(cli, "fee", fee_s, &fee)))
        return rc;
    if ((rc = tz_cli_load_profile(cli, &sp->prof)))
        return rc;
    sp->op_url = tz_profile_str(sp->prof, "operator_url");
    sp->op_tok = tz_profile_str(sp->prof, "operator_bearer_token");
    sp->rollup = tz_profile_str(sp->prof, "rollup_address");
    if (!sp->prof || !sp->op_url || !sp->op_tok || !sp->rollup ||
        !tz_profile_u64(sp->prof, "dal_fee", &sp->dal_fee) || !sp->dal_fee ||
        !tz_cli_address_from_json(tz_profile_get(sp->prof, "dal_fee_address"), &sp->producer))
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "%s needs a network profile with rollup_address, dal_fee (> 0), "
                           "dal_fee_address, operator_url and operator_bearer_token (see "
                           "`tzel-wallet profile init-shadownet`)",
                           cli->command);
    if ((rc = tz_cli_session_open(cli, &sp->ses)))
        return rc;
    tz_keys_derive(&sp->keys, &sp->ses.w->master_sk);
    sp->have_keys = true;
    if ((rc = tz_cli_connect(cli, 4, &sp->rpc, sp->block)))
        return rc;
    tz_error err = {0};
    tz_status st;
    if ((st = tz_rpc_read_felt(sp->rpc, sp->block, TZ_STATE_PREFIX "auth_domain",
                               &sp->auth_domain, &err)) ||
        (st = tz_state_required_fee(sp->rpc, sp->block, &sp->required_fee, &err))) {
        err.code = st;
        return tz_cli_node_fail(cli, "reading the auth domain and the fee counters", &err);
    }
    sp->ms_reads = tz_mono_ms() - t0;
    sp->fee = fee_s ? fee : sp->required_fee;
    if (sp->fee < sp->required_fee)
        return tz_out_fail(cli, TZ_EXIT_USAGE,
                           "--fee %" PRIu64 " is below the required fee %" PRIu64, sp->fee,
                           sp->required_fee);
    return TZ_EXIT_OK;
}

int tz_cli_spend_select(const tz_cli *cli, tz_cli_spend *sp, uint64_t amount,
                        tz_transfer_plan *plan)
{
    unsigned __int128 total = (unsigned __int128)amount + sp->fee + sp->dal_fee;
    if (total > UINT64_MAX)
        return tz_out_fail(cli, TZ_EXIT_WALLET, "the amount and fees exceed 2^64 - 1");
    tz_error err = {0};
    int64_t t0 = tz_mono_ms();
    if (tz_transfer_select(sp->ses.w, (uint64_t)total, plan, &err))
        return tz_out_fail(cli, TZ_EXIT_WALLET, "%s", err.msg);
    sp->ms_select = tz_mono_ms() - t0;
    return TZ_EXIT_OK;
}

int tz_cli_spend_change_address(const tz_cli *cli, tz_cli_spend *sp, tz_payment_address *out)
{
    size_t pos;
    int64_t t0 = tz_mono_ms();
    int rc = tz_cli_alloc_address(cli, sp->ses.w, &sp->keys, &pos);
    if (!rc)
        rc = tz_cli_payment_address(cli, &sp->keys, &sp->ses.w->addresses[pos], out);
    sp->ms_change = tz_mono_ms() - t0;
    return rc;
}

int tz_cli_spend_burned(const tz_cli *cli, tz_cli_spend *sp, tz_status st, const tz_error *err)
{
    crash_point("reserved");
    int64_t t0 = tz_mono_ms();
    int rc = tz_cli_save(cli, sp->ses.w); /* what was reserved stays reserved */
    if (rc)
        return rc;
    sp->ms_save = tz_mono_ms() - t0;
    crash_point("saved");
    return st ? tz_out_fail(cli, tz_exit_for_status(st), "%s", err->msg) : TZ_EXIT_OK;
}

static bool in_dal_pipeline(const char *status)
{
    return status && (!strcmp(status, "pending_dal") || !strcmp(status, "commitment_included") ||
                      !strcmp(status, "attested"));
}

static json_t *field(const json_t *sub, const char *k)
{
    json_t *v = json_object_get(sub, k);
    return v ? json_incref(v) : json_null();
}

static void operator_done(const json_t *sub)
{
    const char *status = json_string_value(json_object_get(sub, "status"));
    const char *transport = json_string_value(json_object_get(sub, "transport"));
    bool terminal = status && !strcmp(status, "submitted_to_l1");
    tz_out_phase("operator_done",
                 json_pack("{s:O, s:o, s:s, s:b, s:o, s:o}", "submission_id",
                           json_object_get(sub, "id"), "l1_op_hash",
                           field(sub, "operation_hash"), "transport",
                           transport ? transport : "direct_inbox", "attested",
                           terminal && transport && !strcmp(transport, "dal"), "slot_index",
                           field(sub, "slot_index"), "published_level",
                           field(sub, "published_level")));
}

/* Polls the submission while it is in the DAL pipeline. Returns the last
 * record seen (a new reference); a polling failure or the timeout is
 * reported as a warning and the last record kept, as the reference does. */
static json_t *follow(const tz_cli *cli, const tz_cli_spend *sp, json_t *sub)
{
    const char *status = json_string_value(json_object_get(sub, "status"));
    if (!in_dal_pipeline(status))
        return sub;
    tz_out_phase("commitment_included",
                 json_pack("{s:O, s:o, s:o, s:o, s:o, s:I}", "submission_id",
                           json_object_get(sub, "id"), "transport", field(sub, "transport"),
                           "slot_index", field(sub, "slot_index"), "published_level",
                           field(sub, "published_level"), "operation_hash",
                           field(sub, "operation_hash"), "dal_chunks",
                           (json_int_t)json_array_size(json_object_get(sub, "dal_chunks"))));
    int64_t start = tz_mono_ms();
    bool attested = false;
    for (;;) {
        tz_sleep_ms(POLL_INTERVAL_MS, NULL);
        json_t *next = NULL;
        tz_error err = {0};
        const char *id = json_string_value(json_object_get(sub, "id"));
        if (tz_operator_status(sp->op_url, sp->op_tok, id, &next, &err)) {
            tz_out_warn(cli, "operator status polling stopped before terminal state: %s",
                        err.msg);
            return sub;
        }
        json_decref(sub);
        sub = next;
        status = json_string_value(json_object_get(sub, "status"));
        if (!in_dal_pipeline(status))
            return sub;
        if (!attested && !strcmp(status, "attested")) {
            attested = true;
            tz_out_phase("dal_attested",
                         json_pack("{s:O, s:o, s:o}", "submission_id", json_object_get(sub, "id"),
                                   "slot_index", field(sub, "slot_index"), "published_level",
                                   field(sub, "published_level")));
        }
        if (tz_mono_ms() - start > POLL_TIMEOUT_MS) {
            tz_out_warn(cli,
                        "operator status polling stopped before terminal state: timed out "
                        "waiting for operator submission %s to reach submitted_to_l1 (last "
                        "status: %s)",
                        id, status);
            return sub;
        }
    }
}

/* What the user sees of a proof under way (spend/prover.h hooks), as the
 * reference prints it. */
typedef struct prove_view {
    const tz_cli *cli;
    int64_t started_ms; /* proving_started, for proving_finished's duration */
} prove_view;

static void on_announce(void *ctx, const char *circuit, size_t n, const char *service_url)
{
    prove_view *v = ctx;
    if (service_url)
        tz_out_info(v->cli, "Generating proof for %s (%zu args) via proving-service %s...",
                    circuit, n, service_url);
    else
        tz_out_info(v->cli, "Generating proof for %s (%zu args)...", circuit, n);
}

static void on_started(void *ctx, const char *prover_url, const char *job_id,
                       const char *program_hash)
{
    prove_view *v = ctx;
    v->started_ms = tz_mono_ms();
    tz_out_phase("proving_started", json_pack("{s:s, s:s, s:s}", "prover_url", prover_url,
                                              "prover_job_id", job_id, "program_hash",
                                              program_hash));
}

static void on_warn(void *ctx, const char *msg)
{
    prove_view *v = ctx;
    tz_out_info(v->cli, "%s", msg);
}

int tz_cli_spend_submit(const tz_cli *cli, tz_cli_spend *sp, const char *circuit,
                        const tz_felt *nf, size_t n_nf, const char *desc)
{
    const tz_felt *args = sp->args;
    size_t n = sp->n_args;
    tz_kmsg *msg = &sp->msg;
    tz_error err = {0};
    tz_status st;
    tz_kmsg_proof *proof = tz_kmsg_proof_of(msg);
    uint8_t *payload = NULL;
    size_t plen = 0;
    json_t *sub = NULL;
    int rc = TZ_EXIT_OK;
    tz_out_phase("witness_built", json_pack("{s:I}", "args_count", (json_int_t)n));
    prove_view view = {cli, 0};
    const tz_prover_hooks hooks = {on_announce, on_started, on_warn, &view};
    sp->prover.hooks = &hooks;
    int64_t t0 = tz_mono_ms();
    view.started_ms = t0;
    st = tz_prover_run(&sp->prover, circuit, args, n, proof, &err);
    sp->prover.hooks = NULL;
    if (st) {
        int code = st == TZ_EIO     ? TZ_EXIT_IO
                   : st == TZ_EHTTP ? TZ_EXIT_NETWORK
                                    : TZ_EXIT_FAILURE;
        rc = tz_out_fail(cli, code,
                         "%s; the one-time keys it was given are spent: a retry signs with "
                         "fresh ones",
                         err.msg);
        goto out;
    }
    sp->ms_prove = tz_mono_ms() - t0;
    tz_out_phase("proving_finished",
                 json_pack("{s:I, s:I, s:I}", "proof_bytes", (json_int_t)proof->len,
                           "public_outputs", (json_int_t)proof->n_preimage, "duration_ms",
                           (json_int_t)(tz_mono_ms() - view.started_ms)));
    t0 = tz_mono_ms();
    tz_out_info(cli, "Proof generated: %zu KB, %zu public outputs", proof->len / 1024,
                proof->n_preimage);
    crash_point("proved");
    if ((st = tz_kmsg_encode(msg, &payload, &plen, &err))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "%s", err.msg);
        goto out;
    }
    tz_out_phase("submitting_to_operator", json_pack("{s:s, s:I}", "operator_url", sp->op_url,
                                                     "payload_bytes", (json_int_t)plen));
    if ((st = tz_operator_submit(sp->op_url, sp->op_tok, sp->kind, sp->rollup, payload, plen,
                                 &sub, &err))) {
        rc = tz_out_fail(cli, st == TZ_EHTTP ? TZ_EXIT_NETWORK : TZ_EXIT_FAILURE,
                         "%s; the one-time keys of this attempt are spent", err.msg);
        goto out;
    }
    crash_point("submitted");
    sub = follow(cli, sp, sub);
    operator_done(sub);
    const char *status = json_string_value(json_object_get(sub, "status"));
    if (status && !strcmp(status, "failed")) {
        const char *detail = json_string_value(json_object_get(sub, "detail"));
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE,
                         "operator marked submission %s as failed: %s; its notes stay "
                         "available, the one-time keys of this attempt are spent",
                         json_string_value(json_object_get(sub, "id")),
                         detail ? detail : "<no detail>");
        goto out;
    }
    if (n_nf && tz_wallet_add_spend(sp->ses.w, nf, n_nf, desc,
                                    json_string_value(json_object_get(sub, "operation_hash")))) {
        rc = tz_out_fail(cli, TZ_EXIT_FAILURE, "out of memory");
        goto out;
    }
    /* The latest shield of a pool is the note sync most likely sees next;
     * an earlier one is still among the wallet's notes once found. */
    for (size_t i = 0; sp->shield && i < sp->ses.w->n_deposits; i++)
        if (tz_felt_eq(&sp->ses.w->deposits[i].pubkey_hash, &sp->shield_pkh)) {
            sp->ses.w->deposits[i].has_shielded_cm = true;
            sp->ses.w->deposits[i].shielded_cm = sp->shield_cm;
        }
    if ((rc = tz_cli_save(cli, sp->ses.w)))
        goto out;
    sp->ms_submit = tz_mono_ms() - t0;
    sp->sub = sub;
    sub = NULL;
out:
    json_decref(sub);
    free(payload);
    return rc;
}

/* `kind` as Rust's Debug prints the reference's enum: snake_case to
 * CamelCase ("configure_verifier" -> "ConfigureVerifier"). */
static void kind_name(FILE *f, const char *kind)
{
    if (!kind || !*kind) {
        fputc('?', f);
        return;
    }
    bool up = true;
    for (const char *c = kind; *c; c++) {
        if (*c == '_') {
            up = true;
            continue;
        }
        fputc(up ? toupper((unsigned char)*c) : *c, f);
        up = false;
    }
}

char *tz_cli_format_submission(const json_t *sub)
{
    const char *s = json_string_value(json_object_get(sub, "status"));
    const char *t = json_string_value(json_object_get(sub, "transport"));
    const char *kind = json_string_value(json_object_get(sub, "kind"));
    const char *op = json_string_value(json_object_get(sub, "operation_hash"));
    const char *detail = json_string_value(json_object_get(sub, "detail"));
    const json_t *chunks = json_object_get(sub, "dal_chunks");
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    fprintf(f, "Operator submission id: %s\nKind: ", json_string_value(json_object_get(sub, "id")));
    kind_name(f, kind);
    fprintf(f, "\nStatus: %s via %s", s ? s : "?", t ? t : "direct_inbox");
    if (op)
        fprintf(f, "\nOperation hash: %s", op);
    if (json_array_size(chunks)) {
        fprintf(f, "\nDAL chunks: %zu", json_array_size(chunks));
        size_t i;
        const json_t *c;
        json_array_foreach(chunks, i, c) {
            const char *cm = json_string_value(json_object_get(c, "commitment"));
            fprintf(f, "\n  chunk %zu: slot %" JSON_INTEGER_FORMAT " level %" JSON_INTEGER_FORMAT
                       " bytes %" JSON_INTEGER_FORMAT " commitment %s",
                    i, json_integer_value(json_object_get(c, "slot_index")),
                    json_integer_value(json_object_get(c, "published_level")),
                    json_integer_value(json_object_get(c, "payload_len")), cm ? cm : "");
        }
    }
    if (detail)
        fprintf(f, "\n%s", detail);
    return fclose(f) ? (free(out), NULL) : out;
}

void tz_cli_spend_print_submission(const tz_cli *cli, const json_t *sub, bool sync_hint,
                                   json_t *res)
{
    const char *id = json_string_value(json_object_get(sub, "id"));
    const char *op = json_string_value(json_object_get(sub, "operation_hash"));
    char *text = tz_cli_format_submission(sub);
    bool pending = in_dal_pipeline(json_string_value(json_object_get(sub, "status")));
    const char *hint = pending ? "The operator has parked this message for DAL publication; "
                                 "wait for it to reach L1 before syncing."
                               : "Run `tzel-wallet sync` after the rollup processes the message.";
    if (id)
        tz_out_text(cli, "Submission id: %s", id);
    if (op)
        tz_out_text(cli, "Operation hash: %s", op);
    if (text && *text)
        tz_out_text(cli, "%s", text);
    if (sync_hint)
        tz_out_text(cli, "%s", hint);
    json_object_set_new(res, "submission_id", id ? json_string(id) : json_null());
    json_object_set_new(res, "operation_hash", op ? json_string(op) : json_null());
    json_object_set_new(res, "submission_output", json_string(text ? text : ""));
    if (sync_hint) {
        json_object_set_new(res, "pending_dal", json_boolean(pending));
        json_object_set_new(res, "sync_hint", json_string(hint));
    }
    json_object_set(res, "submission", (json_t *)sub);
    free(text);
}

json_t *tz_cli_spend_result(const tz_cli_spend *sp, uint64_t amount, uint64_t change,
                            const tz_felt *nf, size_t n_nf)
{
    json_t *nfs = json_array();
    for (size_t k = 0; k < n_nf; k++)
        json_array_append_new(nfs, tz_cli_felt_json(&nf[k]));
    return json_pack("{s:o, s:o, s:o, s:o, s:o}", "amount", tz_json_u64(amount), "fee",
                     tz_json_u64(sp->fee), "dal_fee", tz_json_u64(sp->dal_fee), "change",
                     tz_json_u64(change), "nullifiers", nfs);
}

json_t *tz_cli_spend_timings(const tz_cli_spend *sp)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "reads", (json_int_t)sp->ms_reads,
                     "select", (json_int_t)sp->ms_select, "change_address",
                     (json_int_t)sp->ms_change, "sign", (json_int_t)sp->ms_sign, "save",
                     (json_int_t)sp->ms_save, "prove", (json_int_t)sp->ms_prove, "submit",
                     (json_int_t)sp->ms_submit);
}

void tz_cli_spend_close(tz_cli_spend *sp)
{
    tz_kmsg_proof *proof = tz_kmsg_proof_of(&sp->msg);
    if (proof)
        tz_kmsg_proof_free(proof);
    sp->msg.kind = 0;
    if (sp->args)
        sodium_memzero(sp->args, TZ_PROVARG_MAX * sizeof *sp->args);
    free(sp->args);
    sp->args = NULL;
    json_decref(sp->sub);
    sp->sub = NULL;
    if (sp->have_keys)
        tz_keys_wipe(&sp->keys);
    sp->have_keys = false;
    tz_rpc_free(sp->rpc);
    sp->rpc = NULL;
    tz_cli_session_close(&sp->ses);
    tz_profile_free(sp->prof);
    sp->prof = NULL;
}
