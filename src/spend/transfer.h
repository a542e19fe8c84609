/* A private transfer (`send`) or an unshield built from the wallet, up to
 * the prover's arguments: note selection (before anything is burned), the
 * output notes (transfer: recipient, change, producer; unshield: change
 * when there is some, producer), the sighash, one reserved one-time key
 * and signature per input, and the witness the circuit takes (SPENDS.md
 * §3-§6). Nothing here saves, proves or submits: the caller
 * saves the wallet between tz_transfer_select and the prover. */
#ifndef TZ_SPEND_TRANSFER_H
#define TZ_SPEND_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "core/kmsg.h"
#include "core/keys.h"
#include "core/provarg.h"
#include "core/status.h"
#include "core/types.h"
#include "store/wallet.h"

/* Which notes pay for a spend of `total` (amount + fee + DAL fee). */
typedef struct tz_transfer_plan {
    size_t n;                            /* 1..7 */
    size_t note[TZ_KMSG_MAX_INPUTS];     /* positions in w->notes */
    uint64_t sum_in;                     /* their value */
} tz_transfer_plan;

/* Selects notes like the reference: notes whose nullifier is in a pending
 * spend are skipped, the largest value first until `total` is covered.
 * Refuses, reading only (TZ_ESTATE, the message says which): the wallet
 * holds less than `total` available; more than 7 notes would be needed
 * (the circuit and the kernel take at most 7); a selected note has no
 * spend path at the last verified state (tz_wallet_spend_witness_of) or a path
 * for another tree size than the others. */
tz_status tz_transfer_select(const tz_wallet *w, uint64_t total, tz_transfer_plan *plan,
                             tz_error *err) TZ_WUR;

typedef struct tz_transfer_req {
    tz_felt auth_domain;
    const tz_payment_address *to;       /* recipient */
    uint64_t amount, fee, dal_fee;      /* dal_fee > 0 */
    const tz_payment_address *producer; /* dal_fee_address */
    const uint8_t *memo;                /* may be NULL (the default memo) */
    size_t memo_len;                    /* <= 1024 */
    const tz_payment_address *change;   /* a new own address */
} tz_transfer_req;

/* The transfer built: the circuit's witness and the kernel message's
 * parts (its proof left empty). */
typedef struct tz_transfer_built {
    tz_transfer_witness wit;
    tz_kmsg_transfer msg;
    uint64_t change_value;
} tz_transfer_built;

/* Builds the transfer of `req` spending the notes of `plan` (from
 * tz_transfer_select on the same wallet): output notes with fresh random
 * rseeds and KEM coins (recipient with the memo, role 3; change, role 4,
 * even when 0; producer with memo "dal", role 2), the outgoing recovery
 * ciphertexts under the wallet's outgoing seed, memo hashes, nullifiers,
 * the sighash, then for each input a one-time key reserved on its address
 * (tz_wallet_reserve_key: the wallet's bds and wots_key_indices advance in
 * memory) and its WOTS signature, and the commitment paths from the notes'
 * witnesses (root = their root). `keys` derive from the wallet's
 * master_sk. On failure the wallet may hold reserved keys: save it anyway
 * (a key reserved is spent), never reuse them. Returns TZ_OK, TZ_EINVAL
 * (a bad request: no dal fee, a memo too long, a value overflow),
 * TZ_ESTATE (a note's address has no record, keys exhausted), TZ_ENOMEM.
 * *out is wiped on failure. */
tz_status tz_transfer_build(tz_wallet *w, const tz_keys *keys, const tz_transfer_req *req,
                            const tz_transfer_plan *plan, tz_transfer_built *out,
                            tz_error *err) TZ_WUR;

typedef struct tz_unshield_req {
    tz_felt auth_domain;
    const char *recipient;              /* tz1/tz2/tz3/KT1, NUL-terminated */
    uint64_t amount, fee, dal_fee;      /* amount = v_pub; dal_fee > 0 */
    const tz_payment_address *producer; /* dal_fee_address */
    const tz_payment_address *change;   /* a new own address; NULL without change */
} tz_unshield_req;

typedef struct tz_unshield_built {
    tz_unshield_witness wit;
    tz_kmsg_unshield msg; /* its proof left empty */
    uint64_t change_value;
} tz_unshield_built;

/* Builds the unshield of `req` spending the notes of `plan`, as
 * tz_transfer_build does a transfer: a change note (role 5, no memo) only
 * when the notes exceed amount + fee + dal_fee, the producer note (memo
 * "dal", role 2), the recipient trimmed of Unicode White_Space and hashed
 * into recipient_id, the sighash, one reserved key and signature per
 * input. Returns TZ_OK; TZ_EINVAL (nothing reserved) for a recipient that
 * is not a valid tz1/tz2/tz3/KT1 address, a zero DAL fee, a plan that does
 * not cover the spend, change without req->change; TZ_ESTATE, TZ_ENOMEM as
 * tz_transfer_build (keys may be reserved: save the wallet anyway). *out
 * is wiped on failure. */
tz_status tz_unshield_build(tz_wallet *w, const tz_keys *keys, const tz_unshield_req *req,
                            const tz_transfer_plan *plan, tz_unshield_built *out,
                            tz_error *err) TZ_WUR;

#endif
