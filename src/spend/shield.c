/* Building a shield from the wallet (shield.h). */
#include "spend/shield.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/commit.h"
#include "core/note.h"
#include "core/sighash.h"
#include "core/xmss.h"
#include "spend/output.h"

/* The position in w->deposits of the first pending deposit of pool
 * `pubkey_hash` (the reference's choice), or SIZE_MAX. */
static size_t deposit_of(const tz_wallet *w, const tz_felt *pubkey_hash)
{
    for (size_t i = 0; i < w->n_deposits; i++)
        if (tz_felt_eq(&w->deposits[i].pubkey_hash, pubkey_hash))
            return i;
    return SIZE_MAX;
}

/* The first 4 bytes of f in hex, as the reference shortens a felt. */
static void short_hex(char out[9], const tz_felt *f)
{
    char hex[TZ_FELT_HEX + 1];
    tz_felt_to_hex(hex, f);
    memcpy(out, hex, 8);
    out[8] = '\0';
}

tz_status tz_shield_check(const tz_wallet *w, const tz_shield_req *req, tz_error *err)
{
    char pool[TZ_FELT_HEX + 1], a[9], b[9];
    tz_felt_to_hex(pool, &req->pubkey_hash);
    size_t d = deposit_of(w, &req->pubkey_hash);
    if (d == SIZE_MAX)
        return tz_error_set(err, TZ_ESTATE, "deposit pool %s is not tracked by this wallet", pool);
    const tz_pending_deposit *dep = &w->deposits[d];
    if (!tz_felt_eq(&dep->auth_domain, &req->auth_domain)) {
        short_hex(a, &req->auth_domain);
        short_hex(b, &dep->auth_domain);
        return tz_error_set(err, TZ_ESTATE,
                            "auth_domain mismatch: kernel %s != local PendingDeposit %s for "
                            "pool %s",
                            a, b, pool);
    }
    size_t pos = tz_wallet_address_pos(w, dep->address_index);
    if (pos == SIZE_MAX)
        return tz_error_set(err, TZ_ESTATE, "missing wallet address record %u",
                            (unsigned)dep->address_index);
    const tz_wallet_address *r = &w->addresses[pos];
    tz_felt pkh;
    tz_deposit_pubkey_hash(&pkh, &req->auth_domain, &r->auth_root, &r->auth_pub_seed, &dep->blind);
    if (!tz_felt_eq(&pkh, &req->pubkey_hash)) {
        char got[TZ_FELT_HEX + 1];
        tz_felt_to_hex(got, &pkh);
        return tz_error_set(err, TZ_ESTATE, "pubkey_hash mismatch: recomputed %s != requested %s",
                            got, pool);
    }
    return TZ_OK;
}

tz_status tz_shield_build(tz_wallet *w, const tz_keys *keys, const tz_shield_req *req,
                          tz_shield_built *out, tz_error *err)
{
    memset(out, 0, sizeof *out);
    if (req->dal_fee == 0)
        return tz_error_set(err, TZ_EINVAL, "the DAL fee must be greater than zero");
    tz_status st = tz_shield_check(w, req, err);
    if (st)
        return st;
    const tz_pending_deposit *dep = &w->deposits[deposit_of(w, &req->pubkey_hash)];
    size_t pos = tz_wallet_address_pos(w, dep->address_index);
    tz_shield_witness *wt = &out->wit;
    tz_kmsg_shield *m = &out->msg;
    out->address_index = dep->address_index;
    wt->blind = dep->blind;

    /* The pool's own address, with its KEM keys, receives the note. */
    tz_payment_address to;
    tz_note_receiver *rcv = malloc(sizeof *rcv);
    if (!rcv)
        return tz_error_set(err, TZ_ENOMEM, "shield: out of memory");
    st = tz_note_receiver_init(rcv, keys, dep->address_index, &w->addresses[pos].auth_root);
    if (st == TZ_OK)
        tz_note_receiver_address(rcv, &to);
    tz_note_receiver_wipe(rcv);
    free(rcv);
    if (st)
        return tz_error_set(err, st, "address %u: cannot derive its ML-KEM keys",
                            (unsigned)dep->address_index);

    static const uint8_t dal[] = "dal";
    if ((st = tz_spend_output_make(&wt->recipient, &m->client_enc, &to, req->amount, NULL, 0,
                                   &keys->outgoing_seed, TZ_OUT_SHIELD_OUTPUT)) ||
        (st =
             tz_spend_output_make(&wt->producer, &m->producer_enc, req->producer, req->dal_fee, dal,
                                  sizeof dal - 1, &keys->outgoing_seed, TZ_OUT_PRODUCER_FEE))) {
        tz_error_set(err, st, "shield: cannot encrypt an output note");
        goto fail;
    }
    wt->auth_domain = req->auth_domain;
    wt->pubkey_hash = req->pubkey_hash;
    wt->fee = req->fee;
    tz_shield_public pub = {.auth_domain = req->auth_domain,
                            .pubkey_hash = req->pubkey_hash,
                            .v = req->amount,
                            .fee = req->fee,
                            .producer_fee = req->dal_fee,
                            .cm_recipient = wt->recipient.cm,
                            .cm_producer = wt->producer.cm,
                            .mh_recipient = wt->recipient.mh,
                            .mh_producer = wt->producer.mh};
    tz_felt sighash;
    tz_sighash_shield(&sighash, &pub);

    if ((st = tz_wallet_reserve_key(w, pos, keys, &wt->key_idx, wt->auth_path, err)))
        goto fail;
    tz_addr_keys ak;
    tz_addr_keys_derive(&ak, keys, dep->address_index);
    tz_wots_sign(wt->sig, &ak.ask_j, &ak.auth_pub_seed, wt->key_idx, &sighash);
    tz_addr_keys_wipe(&ak);

    /* The kernel message: everything but the proof. */
    m->pubkey_hash = req->pubkey_hash;
    m->fee = req->fee;
    m->v = req->amount;
    m->producer_fee = req->dal_fee;
    m->client_cm = wt->recipient.cm;
    m->producer_cm = wt->producer.cm;
    return TZ_OK;
fail:
    sodium_memzero(out, sizeof *out);
    return st;
}
