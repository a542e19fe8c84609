/* What `send`, `unshield` and `shield` share, in the order a spend runs
 * (ARCHITECTURE.md, "A spend as data moving through it"): the network
 * profile's spend fields, the lock and the wallet, the chain reads of a
 * spend (auth_domain and the required fee at one pinned block), note
 * selection, the change address, then, once one-time keys are reserved:
 * save, prove, submit to the operator, follow the submission, record the
 * pending spend and save again. Every helper returning `int` returns an
 * enum tz_exit value with the failure already reported.
 *
 * Test hook: with TZEL_CRASH_AT set to `reserved` (keys reserved in
 * memory, not saved), `saved` (saved, prover not started), `proved`
 * (proof in hand, not submitted) or `submitted` (operator accepted, the
 * pending spend not saved), the process kills itself with SIGKILL there,
 * so that tests can check that no one-time key is ever used twice. */
#ifndef TZ_CLI_SPEND_H
#define TZ_CLI_SPEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "command.h"
#include "core/keys.h"
#include "core/kmsg.h"
#include "rpc/rpc.h"
#include "session.h"
#include "spend/prover.h"
#include "spend/transfer.h"
#include "store/profile.h"

typedef struct tz_cli_spend {
    const char *kind; /* "transfer", "unshield" or "shield" (the operator's kind) */
    tz_profile *prof;
    const char *op_url, *op_tok, *rollup;
    uint64_t dal_fee, fee, required_fee;
    tz_payment_address producer; /* the profile's dal_fee_address */
    tz_cli_session ses;
    tz_rpc *rpc;
    char block[TZ_BLOCK_HASH_MAX];
    tz_felt auth_domain;
    tz_keys keys; /* the wallet's, derived by tz_cli_spend_open */
    bool have_keys;
    tz_prover prover;
    /* The prover's arguments (TZ_PROVARG_MAX felts, wiped on close) and
     * their count, the kernel message (its proof freed on close) and the
     * operator's final record of it (set by tz_cli_spend_submit). */
    tz_felt *args;
    size_t n_args;
    tz_kmsg msg;
    json_t *sub;
    /* A shield: the pool drained and the note it pays, recorded on the
     * pool's pending deposits once the operator took the message. */
    bool shield;
    tz_felt shield_pkh, shield_cm;
    /* Milliseconds spent in each step, for --json's timings_ms: lock, load
     * and chain reads; note selection; the change address; building and
     * signing (set by the command); saving the burned keys; proving;
     * submitting and following. */
    int64_t ms_reads, ms_select, ms_change, ms_sign, ms_save, ms_prove, ms_submit;
} tz_cli_spend;

/* Starts a spend of `kind`: checks the profile's rollup_address, dal_fee
 * (> 0), dal_fee_address, operator_url and operator_bearer_token (exit 2
 * naming them), takes the lock, loads the wallet and derives its keys,
 * pins the head and
 * reads auth_domain and the required fee there; the fee is fee_s (which
 * must not be below the required one: exit 2) or the required one. On
 * failure the wallet is untouched; call tz_cli_spend_close in any case. */
int tz_cli_spend_open(const tz_cli *cli, tz_cli_spend *sp, const char *kind, const char *fee_s,
                      const tz_prover *prover);

/* Selects the notes paying amount + fee + dal fee (tz_transfer_select),
 * reading only: refusals (insufficient funds, more than 7 notes, no spend
 * path, a total above 2^64 - 1) exit 3 with the wallet untouched. */
int tz_cli_spend_select(const tz_cli *cli, tz_cli_spend *sp, uint64_t amount,
                        tz_transfer_plan *plan);

/* A new own address for the change, as the reference's next_address: the
 * record is in the wallet from now on. */
int tz_cli_spend_change_address(const tz_cli *cli, tz_cli_spend *sp, tz_payment_address *out);

/* After a build reserved one-time keys (st its status, err its error):
 * saves the wallet and the floor whatever st is, then reports st when it
 * failed. Returns TZ_EXIT_OK only when st is TZ_OK and the save worked. */
int tz_cli_spend_burned(const tz_cli *cli, tz_cli_spend *sp, tz_status st, const tz_error *err);

/* Proves `circuit` on sp->args[0..n_args), puts the proof into sp->msg
 * (whose other fields are set), submits it to the operator, follows the
 * submission until it reaches L1 or fails (polling every 2 s, at most
 * 180 s, while the operator says pending_dal, commitment_included or
 * attested), then records the pending spend of nf[0..n_nf) described as
 * `desc` (none when n_nf is 0; a shield marks its pool's pending deposits
 * with the note's commitment instead) and saves. A submission the operator
 * marks failed is not recorded (its notes stay available; the keys stay
 * spent) and exits 1 with the operator's detail. Phase events on stderr as
 * the reference's. On TZ_EXIT_OK sp->sub is the final submission object. */
int tz_cli_spend_submit(const tz_cli *cli, tz_cli_spend *sp, const char *circuit,
                        const tz_felt *nf, size_t n_nf, const char *desc);

/* The operator's record `sub` as the reference formats it: "Operator
 * submission id: ...", "Kind: ...", "Status: S via T", the operation hash,
 * the DAL chunks and the detail, one a line (no final newline). A new
 * string, or NULL when memory is short. */
char *tz_cli_format_submission(const json_t *sub);

/* Prints the submission as the reference does after the summary line
 * (human: "Submission id: ...", "Operation hash: ...", the operator's
 * record, with sync_hint the line saying when to sync; --json: the same
 * on stderr) and adds submission_id, operation_hash, submission_output,
 * with sync_hint pending_dal and sync_hint, and the submission object to
 * `res`. */
void tz_cli_spend_print_submission(const tz_cli *cli, const json_t *sub, bool sync_hint,
                                   json_t *res);

/* The start of a spend's --json result, a new object: {amount, fee,
 * dal_fee, change, nullifiers (hex of nf[0..n_nf))}; the commands add
 * their own fields. */
json_t *tz_cli_spend_result(const tz_cli_spend *sp, uint64_t amount, uint64_t change,
                            const tz_felt *nf, size_t n_nf);

/* The step durations as a new JSON object {reads, select, change_address,
 * sign, save, prove, submit} (milliseconds). */
json_t *tz_cli_spend_timings(const tz_cli_spend *sp);

/* Releases everything the spend holds (wallet, lock, profile, client,
 * keys and arguments wiped, the proof, the submission record). */
void tz_cli_spend_close(tz_cli_spend *sp);

#endif
