/* A shield built from the wallet, up to the prover's arguments: a
 * deposit pool the wallet prepared (`deposit`) drained into a note to the
 * pool's own address plus the producer's fee note, signed with one
 * one-time key of that address (SPENDS.md §3-§6). Nothing here saves,
 * proves or submits. */
#ifndef TZ_SPEND_SHIELD_H
#define TZ_SPEND_SHIELD_H

#include <stddef.h>
#include <stdint.h>

#include "core/keys.h"
#include "core/kmsg.h"
#include "core/provarg.h"
#include "core/status.h"
#include "core/types.h"
#include "store/wallet.h"

typedef struct tz_shield_req {
    tz_felt auth_domain;                /* the chain's, at the pinned block */
    tz_felt pubkey_hash;                /* the pool */
    uint64_t amount, fee, dal_fee;      /* dal_fee > 0: the producer fee */
    const tz_payment_address *producer; /* dal_fee_address */
} tz_shield_req;

typedef struct tz_shield_built {
    tz_shield_witness wit;
    tz_kmsg_shield msg;     /* its proof left empty */
    uint32_t address_index; /* the pool's address, paid the note */
} tz_shield_built;

/* Checks, reading only, that the wallet can shield pool req->pubkey_hash:
 * it tracks the pool, the pool's recorded auth_domain is the chain's, its
 * address has a record, and that record's auth tree and the deposit's
 * blind give the pool's pubkey_hash. TZ_OK, or TZ_ESTATE with the
 * reference's message ("deposit pool <hex> is not tracked by this
 * wallet", "auth_domain mismatch: ...", "missing wallet address record
 * <i>", "pubkey_hash mismatch: ..."). */
tz_status tz_shield_check(const tz_wallet *w, const tz_shield_req *req, tz_error *err) TZ_WUR;

/* Builds the shield of req (after tz_shield_check): the note of
 * req->amount to the pool's address (role 1, the default memo), the
 * producer note of dal_fee (memo "dal", role 2), the sighash, then one
 * one-time key reserved on the pool's address (the wallet's bds and
 * wots_key_indices advance in memory) and its WOTS signature. On failure
 * the wallet may hold a reserved key: save it anyway. Returns TZ_OK,
 * TZ_EINVAL (no dal fee), TZ_ESTATE (tz_shield_check's refusals, keys
 * exhausted), TZ_ENOMEM. *out is wiped on failure. */
tz_status tz_shield_build(tz_wallet *w, const tz_keys *keys, const tz_shield_req *req,
                          tz_shield_built *out, tz_error *err) TZ_WUR;

#endif
