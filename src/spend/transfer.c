/* Building a private transfer or an unshield from the wallet (transfer.h). */
#include "spend/transfer.h"

#include <inttypes.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>

#include "core/commit.h"
#include "core/note.h"
#include "core/recipient.h"
#include "core/sighash.h"
#include "core/xmss.h"
#include "spend/output.h"

static bool in_pending_spend(const tz_wallet *w, const tz_felt *nf)
{
    for (size_t s = 0; s < w->n_spends; s++)
        for (size_t k = 0; k < w->spends[s].n_nullifiers; k++)
            if (tz_felt_eq(nf, &w->spends[s].nullifiers[k]))
                return true;
    return false;
}

tz_status tz_transfer_select(const tz_wallet *w, uint64_t total, tz_transfer_plan *plan,
                             tz_error *err)
{
    memset(plan, 0, sizeof *plan);
    bool *taken = calloc(w->n_notes ? w->n_notes : 1, sizeof *taken);
    if (!taken)
        return tz_error_set(err, TZ_ENOMEM, "select notes: out of memory");
    unsigned __int128 available = 0, sum = 0;
    for (size_t i = 0; i < w->n_notes; i++) {
        tz_felt nf;
        tz_note_nullifier(&nf, &w->notes[i].nk_spend, &w->notes[i].cm, w->notes[i].index);
        taken[i] = in_pending_spend(w, &nf); /* not available */
        if (!taken[i])
            available += w->notes[i].v;
    }
    tz_status st = TZ_OK;
    if (available < total) {
        st = tz_error_set(err, TZ_ESTATE,
                          "insufficient funds: %" PRIu64 " needed, %llu available (notes in a "
                          "pending spend are not counted)",
                          total, (unsigned long long)available);
        goto out;
    }
    while (sum < total) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < w->n_notes; i++)
            if (!taken[i] && (best == SIZE_MAX || w->notes[i].v > w->notes[best].v))
                best = i;
        if (plan->n == TZ_KMSG_MAX_INPUTS) {
            st = tz_error_set(err, TZ_ESTATE,
                              "%" PRIu64 " needs more than %d notes (the largest %d give %llu); "
                              "a transaction spends at most %d: send less, or consolidate by "
                              "sending to yourself first",
                              total, TZ_KMSG_MAX_INPUTS, TZ_KMSG_MAX_INPUTS,
                              (unsigned long long)sum, TZ_KMSG_MAX_INPUTS);
            goto out;
        }
        taken[best] = true;
        plan->note[plan->n++] = best;
        sum += w->notes[best].v;
    }
    plan->sum_in = (uint64_t)sum; /* at most 7 u64 values: checked below */
    uint64_t size = 0;
    for (size_t k = 0; k < plan->n; k++) {
        const tz_wallet_note *n = &w->notes[plan->note[k]];
        const tz_witness *x = tz_wallet_spend_witness_of(w, n->index, &n->cm);
        if (!x) {
            st = tz_error_set(err, TZ_ESTATE,
                              "the note at leaf %" PRIu64 " has no spend path at the last "
                              "verified state: let `tzel-wallet sync` finish (a wallet whose "
                              "file the reference rewrote must sync from leaf 0 once)",
                              n->index);
            goto out;
        }
        if (k > 0 && x->size != size) {
            st = tz_error_set(err, TZ_ESTATE,
                              "the spend paths of the selected notes describe different trees "
                              "(%" PRIu64 " and %" PRIu64 " leaves): run `tzel-wallet sync`",
                              size, x->size);
            goto out;
        }
        size = x->size;
    }
    if (sum > UINT64_MAX) {
        st = tz_error_set(err, TZ_ESTATE, "the selected notes exceed 2^64 - 1 in value");
        goto out;
    }
out:
    free(taken);
    if (st)
        memset(plan, 0, sizeof *plan);
    return st;
}

/* The input blocks of the notes of `plan`, but their one-time keys: the
 * nullifiers, the note openings and the commitment paths from the notes'
 * witnesses; *root is the root of the first path (tz_transfer_select
 * checked that they share one tree). */
static tz_status fill_inputs(const tz_wallet *w, const tz_transfer_plan *plan,
                             tz_spend_input in[], tz_felt *root, tz_error *err)
{
    for (size_t k = 0; k < plan->n; k++) {
        const tz_wallet_note *n = &w->notes[plan->note[k]];
        const tz_witness *x = tz_wallet_spend_witness_of(w, n->index, &n->cm);
        if (!x)
            return tz_error_set(err, TZ_ESTATE, "the note at leaf %" PRIu64 " has no spend path",
                                n->index);
        tz_note_nullifier(&in[k].nf, &n->nk_spend, &n->cm, n->index);
        in[k].nk_spend = n->nk_spend;
        in[k].auth_root = n->auth_root;
        in[k].d_j = n->d_j;
        in[k].v = n->v;
        in[k].rseed = n->rseed;
        in[k].pos = n->index;
        tz_witness_path(x, in[k].cm_path);
        if (k == 0)
            tz_witness_root(x, root);
    }
    return TZ_OK;
}

/* One fresh one-time key per input, reserved on the note's address (the
 * wallet's bds and wots_key_indices advance), then the input's WOTS
 * signature of the sighash. */
static tz_status sign_inputs(tz_wallet *w, const tz_keys *keys, const tz_transfer_plan *plan,
                             tz_spend_input in[], const tz_felt *sighash, tz_error *err)
{
    for (size_t k = 0; k < plan->n; k++) {
        const tz_wallet_note *n = &w->notes[plan->note[k]];
        size_t pos = tz_wallet_address_pos(w, n->addr_index);
        if (pos == SIZE_MAX)
            return tz_error_set(err, TZ_ESTATE,
                                "the note at leaf %" PRIu64 " belongs to address %u, which has "
                                "no record",
                                n->index, (unsigned)n->addr_index);
        tz_status st = tz_wallet_reserve_key(w, pos, keys, &in[k].key_idx, in[k].auth_path, err);
        if (st)
            return st;
        tz_addr_keys ak;
        tz_addr_keys_derive(&ak, keys, n->addr_index);
        in[k].auth_pub_seed = ak.auth_pub_seed;
        tz_wots_sign(in[k].sig, &ak.ask_j, &ak.auth_pub_seed, in[k].key_idx, sighash);
        tz_addr_keys_wipe(&ak);
    }
    return TZ_OK;
}

tz_status tz_transfer_build(tz_wallet *w, const tz_keys *keys, const tz_transfer_req *req,
                            const tz_transfer_plan *plan, tz_transfer_built *out,
                            tz_error *err)
{
    memset(out, 0, sizeof *out);
    tz_transfer_witness *wt = &out->wit;
    tz_status st = TZ_OK;
    if (req->dal_fee == 0)
        return tz_error_set(err, TZ_EINVAL, "the DAL fee must be greater than zero");
    if (req->memo_len > TZ_NOTE_MEMO_BYTES)
        return tz_error_set(err, TZ_EINVAL, "the memo is longer than %d bytes",
                            TZ_NOTE_MEMO_BYTES);
    unsigned __int128 spend = (unsigned __int128)req->amount + req->fee + req->dal_fee;
    if (plan->n == 0 || plan->n > TZ_KMSG_MAX_INPUTS || spend > plan->sum_in)
        return tz_error_set(err, TZ_EINVAL, "the selected notes do not cover the transfer");
    out->change_value = (uint64_t)(plan->sum_in - spend);

    /* Outputs first: their commitments and memo hashes are signed. */
    static const uint8_t dal[] = "dal";
    if ((st = tz_spend_output_make(&wt->out[0], &out->msg.enc[0], req->to, req->amount, req->memo,
                                   req->memo_len, &keys->outgoing_seed,
                                   TZ_OUT_TRANSFER_RECIPIENT)) ||
        (st = tz_spend_output_make(&wt->out[1], &out->msg.enc[1], req->change, out->change_value,
                                   NULL, 0, &keys->outgoing_seed, TZ_OUT_TRANSFER_CHANGE)) ||
        (st = tz_spend_output_make(&wt->out[2], &out->msg.enc[2], req->producer, req->dal_fee, dal,
                                   sizeof dal - 1, &keys->outgoing_seed, TZ_OUT_PRODUCER_FEE))) {
        tz_error_set(err, st, "send: cannot encrypt an output note");
        goto fail;
    }

    wt->auth_domain = req->auth_domain;
    wt->fee = req->fee;
    wt->n = plan->n;
    tz_transfer_public pub = {.auth_domain = req->auth_domain, .n_nf = plan->n, .fee = req->fee};
    if ((st = fill_inputs(w, plan, wt->in, &wt->root, err)))
        goto fail;
    for (size_t k = 0; k < plan->n; k++)
        pub.nf[k] = wt->in[k].nf;
    pub.root = wt->root;
    for (int i = 0; i < 3; i++) {
        pub.cm[i] = wt->out[i].cm;
        pub.mh[i] = wt->out[i].mh;
    }
    tz_felt sighash;
    if ((st = tz_sighash_transfer(&sighash, &pub)) != TZ_OK) {
        tz_error_set(err, st, "send: cannot compute the sighash");
        goto fail;
    }

    if ((st = sign_inputs(w, keys, plan, wt->in, &sighash, err)))
        goto fail;

    /* The kernel message: everything but the proof. */
    out->msg.root = wt->root;
    out->msg.n_nf = plan->n;
    for (size_t k = 0; k < plan->n; k++)
        out->msg.nf[k] = wt->in[k].nf;
    out->msg.fee = req->fee;
    for (int i = 0; i < 3; i++)
        out->msg.cm[i] = wt->out[i].cm;
    return TZ_OK;
fail:
    sodium_memzero(out, sizeof *out);
    return st;
}

tz_status tz_unshield_build(tz_wallet *w, const tz_keys *keys, const tz_unshield_req *req,
                            const tz_transfer_plan *plan, tz_unshield_built *out, tz_error *err)
{
    memset(out, 0, sizeof *out);
    tz_unshield_witness *wt = &out->wit;
    tz_kmsg_unshield *m = &out->msg;
    tz_status st = TZ_OK;
    size_t rlen = strlen(req->recipient);
    const char *r = tz_recipient_trim(req->recipient, &rlen);
    if (req->dal_fee == 0)
        return tz_error_set(err, TZ_EINVAL, "the DAL fee must be greater than zero");
    if (!tz_recipient_valid(r, rlen))
        return tz_error_set(err, TZ_EINVAL, "invalid L1 withdrawal recipient: %.*s",
                            (int)(rlen > 80 ? 80 : rlen), r);
    unsigned __int128 spend = (unsigned __int128)req->amount + req->fee + req->dal_fee;
    if (plan->n == 0 || plan->n > TZ_KMSG_MAX_INPUTS || spend > plan->sum_in)
        return tz_error_set(err, TZ_EINVAL, "the selected notes do not cover the unshield");
    out->change_value = (uint64_t)(plan->sum_in - spend);
    if (out->change_value > 0 && !req->change)
        return tz_error_set(err, TZ_EINVAL, "an unshield with change needs a change address");

    /* Outputs first: their commitments and memo hashes are signed. */
    static const uint8_t dal[] = "dal";
    wt->has_change = out->change_value > 0;
    if ((wt->has_change &&
         (st = tz_spend_output_make(&wt->change, &m->enc_change, req->change, out->change_value,
                                    NULL, 0, &keys->outgoing_seed, TZ_OUT_UNSHIELD_CHANGE))) ||
        (st = tz_spend_output_make(&wt->producer, &m->enc_fee, req->producer, req->dal_fee, dal,
                                   sizeof dal - 1, &keys->outgoing_seed, TZ_OUT_PRODUCER_FEE))) {
        tz_error_set(err, st, "unshield: cannot encrypt an output note");
        goto fail;
    }
    wt->auth_domain = req->auth_domain;
    wt->v_pub = req->amount;
    wt->fee = req->fee;
    wt->n = plan->n;
    tz_unshield_recipient_id(&wt->recipient_id, r, rlen);
    if ((st = fill_inputs(w, plan, wt->in, &wt->root, err)))
        goto fail;
    tz_unshield_public pub = {.auth_domain = wt->auth_domain,
                              .root = wt->root,
                              .n_nf = plan->n,
                              .v_pub = req->amount,
                              .fee = req->fee,
                              .recipient_id = wt->recipient_id,
                              .cm_fee = wt->producer.cm,
                              .mh_fee = wt->producer.mh};
    for (size_t k = 0; k < plan->n; k++)
        pub.nf[k] = wt->in[k].nf;
    if (wt->has_change) {
        pub.cm_change = wt->change.cm;
        pub.mh_change = wt->change.mh;
    }
    tz_felt sighash;
    if ((st = tz_sighash_unshield(&sighash, &pub)) != TZ_OK) {
        tz_error_set(err, st, "unshield: cannot compute the sighash");
        goto fail;
    }
    if ((st = sign_inputs(w, keys, plan, wt->in, &sighash, err)))
        goto fail;

    /* The kernel message: everything but the proof. */
    m->root = wt->root;
    m->n_nf = plan->n;
    for (size_t k = 0; k < plan->n; k++)
        m->nf[k] = wt->in[k].nf;
    m->v_pub = req->amount;
    m->fee = req->fee;
    memcpy(m->recipient, r, rlen);
    m->recipient[rlen] = '\0';
    m->recipient_len = rlen;
    m->cm_change = pub.cm_change;
    m->has_enc_change = wt->has_change;
    m->cm_fee = wt->producer.cm;
    return TZ_OK;
fail:
    sodium_memzero(out, sizeof *out);
    return st;
}
