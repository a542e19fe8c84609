/* The simulator's kernel (kernel.h): a decoded message is checked against
 * the head block under the chain's writer mutex (sim_chain_commit) and its
 * effects applied as one new block. Checks run cheapest first; the proof
 * (a transparent one: the whole witness re-checked in the clear) last. */
#include "kernel.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/recipient.h"
#include "core/kmsg.h"
#include "core/sighash.h"
#include "core/wire.h"
#include "spend/transparent.h"

uint64_t sim_kernel_required_fee(uint64_t count)
{
    uint64_t step = count > SIM_BASE_TXS_PER_LEVEL - 1 ? count - (SIM_BASE_TXS_PER_LEVEL - 1) : 0;
    if (step > SIM_MAX_FEE_STEP)
        step = SIM_MAX_FEE_STEP;
    return SIM_MIN_TX_FEE << step;
}

/* The message being applied and room for its effects. */
typedef struct apply_ctx {
    tz_kmsg m;
    uint8_t notes[3 * SIM_NOTE_BYTES];
    sim_withdrawal wd;
    uint64_t debit;
} apply_ctx;

static void hex_short(char out[17], const tz_felt *f)
{
    char h[65];
    tz_felt_to_hex(h, f);
    memcpy(out, h, 16);
    out[16] = '\0';
}

/* The proof of circuit circ against the public outputs of the message:
 * the program hash must be the transparent one, the preimage must carry
 * exactly the message's outputs, and the transparent proof must verify
 * (which recomputes the outputs from the witness it carries). */
static tz_status check_proof(tz_circuit circ, const tz_kmsg_proof *p, const tz_felt *outputs,
                             size_t L, tz_error *err)
{
    tz_felt want, got;
    const tz_felt *outs;
    size_t n_outs;
    tz_error e = {0};
    tz_transparent_program_hash(&want, circ);
    if (tz_preimage_parse(p->preimage, p->n_preimage, &got, &outs, &n_outs, &e) != TZ_OK)
        return tz_error_set(err, TZ_EMISMATCH, "proof: %s", e.msg);
    if (!tz_felt_eq(&got, &want)) {
        char h[17];
        hex_short(h, &got);
        return tz_error_set(err, TZ_EMISMATCH,
                            "proof: program hash %s... is not the transparent %s program (the "
                            "simulator verifies transparent proofs only)",
                            h,
                            circ == TZ_CIRCUIT_TRANSFER   ? "transfer"
                            : circ == TZ_CIRCUIT_UNSHIELD ? "unshield"
                                                          : "shield");
    }
    if (tz_preimage_check(p->preimage, p->n_preimage, &want, outputs, L, &e) != TZ_OK)
        return tz_error_set(err, TZ_EMISMATCH,
                            "public outputs of the proof differ from the message: %s", e.msg);
    if (tz_transparent_verify(circ, p, &e) != TZ_OK)
        return tz_error_set(err, TZ_EMISMATCH, "proof does not verify: %s", e.msg);
    return TZ_OK;
}

/* The checks transfers and unshields share: fee, nullifiers, root. */
static tz_status check_spend(const sim_chain *c, const sim_block *h, uint64_t level,
                             const tz_felt *root, const tz_felt *nf, size_t n_nf, uint64_t fee,
                             tz_error *err)
{
    uint64_t req = sim_kernel_required_fee(sim_chain_fee_count(h, level));
    if (fee < req)
        return tz_error_set(err, TZ_EMISMATCH, "fee %" PRIu64 " below the required fee %" PRIu64,
                            fee, req);
    if (n_nf < 1 || n_nf > TZ_KMSG_MAX_INPUTS)
        return tz_error_set(err, TZ_EMISMATCH, "%zu inputs (1..7 allowed)", n_nf);
    char hx[17];
    for (size_t i = 0; i < n_nf; i++) {
        for (size_t j = 0; j < i; j++)
            if (tz_felt_eq(&nf[i], &nf[j])) {
                hex_short(hx, &nf[i]);
                return tz_error_set(err, TZ_EMISMATCH, "nullifier %s... repeated in the message",
                                    hx);
            }
        if (sim_chain_has_nf(c, h, &nf[i])) {
            hex_short(hx, &nf[i]);
            return tz_error_set(err, TZ_EMISMATCH, "nullifier %s... already spent", hx);
        }
    }
    if (!sim_chain_has_root(c, h, root)) {
        hex_short(hx, root);
        return tz_error_set(err, TZ_EMISMATCH, "root %s... is not a recorded root", hx);
    }
    return TZ_OK;
}

/* Writes cm || enc as PublishedNote k of ctx. */
static tz_status put_note(apply_ctx *x, size_t k, const tz_felt *cm, const tz_enc_note *enc,
                          tz_error *err)
{
    tz_published_note pn;
    pn.cm = *cm;
    pn.enc = *enc;
    if (tz_wire_encode_published_note(x->notes + k * SIM_NOTE_BYTES, &pn) != TZ_OK)
        return tz_error_set(err, TZ_EMISMATCH, "note %zu: ciphertext is not well-formed", k);
    return TZ_OK;
}

static tz_status check_transfer(apply_ctx *x, const sim_chain *c, const sim_block *h,
                                uint64_t level, sim_effects *eff, tz_error *err)
{
    const tz_kmsg_transfer *m = &x->m.u.transfer;
    tz_status st = check_spend(c, h, level, &m->root, m->nf, m->n_nf, m->fee, err);
    if (st != TZ_OK)
        return st;
    for (size_t k = 0; k < 3; k++)
        if ((st = put_note(x, k, &m->cm[k], &m->enc[k], err)) != TZ_OK)
            return st;
    tz_transfer_public pub;
    tz_felt outs[TZ_PUBOUT_MAX];
    if (tz_transfer_public_from_kmsg(&pub, &c->auth_domain, m) != TZ_OK)
        return tz_error_set(err, TZ_EMISMATCH, "bad nullifier count");
    size_t L = tz_pubout_transfer(outs, &pub);
    if ((st = check_proof(TZ_CIRCUIT_TRANSFER, &m->proof, outs, L, err)) != TZ_OK)
        return st;
    eff->notes = x->notes;
    eff->n_notes = 3;
    eff->nfs = m->nf;
    eff->n_nfs = m->n_nf;
    eff->private_tx = true;
    return TZ_OK;
}

static tz_status check_unshield(apply_ctx *x, const sim_chain *c, const sim_block *h,
                                uint64_t level, sim_effects *eff, tz_error *err)
{
    const tz_kmsg_unshield *m = &x->m.u.unshield;
    tz_status st = check_spend(c, h, level, &m->root, m->nf, m->n_nf, m->fee, err);
    if (st != TZ_OK)
        return st;
    if (!tz_recipient_valid(m->recipient, m->recipient_len))
        return tz_error_set(err, TZ_EMISMATCH,
                            "recipient is not a tz1, tz2, tz3 or KT1 address");
    if (tz_felt_is_zero(&m->cm_change) == m->has_enc_change)
        return tz_error_set(err, TZ_EMISMATCH,
                            m->has_enc_change ? "change ciphertext without a change commitment"
                                              : "change commitment without a change ciphertext");
    if (tz_felt_is_zero(&m->cm_fee))
        return tz_error_set(err, TZ_EMISMATCH, "fee note commitment is zero");
    size_t k = 0;
    if (m->has_enc_change && (st = put_note(x, k++, &m->cm_change, &m->enc_change, err)) != TZ_OK)
        return st;
    if ((st = put_note(x, k++, &m->cm_fee, &m->enc_fee, err)) != TZ_OK)
        return st;
    tz_unshield_public pub;
    tz_felt outs[TZ_PUBOUT_MAX];
    if (tz_unshield_public_from_kmsg(&pub, &c->auth_domain, m) != TZ_OK)
        return tz_error_set(err, TZ_EMISMATCH, "bad nullifier count");
    size_t L = tz_pubout_unshield(outs, &pub);
    if ((st = check_proof(TZ_CIRCUIT_UNSHIELD, &m->proof, outs, L, err)) != TZ_OK)
        return st;
    size_t rl = m->recipient_len;
    const char *r = tz_recipient_trim(m->recipient, &rl);
    x->wd.amount = m->v_pub;
    x->wd.len = rl;
    memcpy(x->wd.recipient, r, rl);
    x->wd.recipient[rl] = '\0';
    eff->notes = x->notes;
    eff->n_notes = k;
    eff->nfs = m->nf;
    eff->n_nfs = m->n_nf;
    eff->wd = &x->wd;
    eff->private_tx = true;
    return TZ_OK;
}

static tz_status check_shield(apply_ctx *x, const sim_chain *c, const sim_block *h,
                              uint64_t level, sim_effects *eff, tz_error *err)
{
    (void)level;
    const tz_kmsg_shield *m = &x->m.u.shield;
    if (m->fee == 0)
        return tz_error_set(err, TZ_EMISMATCH, "shield fee must be greater than zero");
    if (m->producer_fee == 0)
        return tz_error_set(err, TZ_EMISMATCH, "producer fee must be greater than zero");
    if (tz_felt_is_zero(&m->client_cm) || tz_felt_is_zero(&m->producer_cm))
        return tz_error_set(err, TZ_EMISMATCH, "a shield commitment is zero");
    char hx[17];
    if (sim_chain_has_shield(c, h, &m->client_cm)) {
        hex_short(hx, &m->client_cm);
        return tz_error_set(err, TZ_EMISMATCH, "shield of commitment %s... already applied", hx);
    }
    uint64_t need = m->v + m->fee;
    if (need < m->v || need + m->producer_fee < need)
        return tz_error_set(err, TZ_EMISMATCH, "v + fee + producer_fee overflows");
    need += m->producer_fee;
    const sim_balance *b = sim_chain_balance(h, &m->pubkey_hash);
    uint64_t pool = b && !b->empty ? b->amount : 0;
    if (pool < need) {
        hex_short(hx, &m->pubkey_hash);
        return tz_error_set(err, TZ_EMISMATCH,
                            "deposit pool %s... holds %" PRIu64 ", the shield needs %" PRIu64, hx,
                            pool, need);
    }
    tz_status st;
    if ((st = put_note(x, 0, &m->client_cm, &m->client_enc, err)) != TZ_OK ||
        (st = put_note(x, 1, &m->producer_cm, &m->producer_enc, err)) != TZ_OK)
        return st;
    tz_shield_public pub;
    tz_felt outs[TZ_PUBOUT_MAX];
    tz_shield_public_from_kmsg(&pub, &c->auth_domain, m);
    size_t L = tz_pubout_shield(outs, &pub);
    if ((st = check_proof(TZ_CIRCUIT_SHIELD, &m->proof, outs, L, err)) != TZ_OK)
        return st;
    x->debit = need;
    eff->notes = x->notes;
    eff->n_notes = 2;
    eff->shield_cm = &m->client_cm;
    eff->debit_pkh = &m->pubkey_hash;
    eff->debit = need;
    return TZ_OK;
}

static tz_status check(void *ctx, const sim_chain *c, const sim_block *h, uint64_t level,
                       sim_effects *eff, tz_error *err)
{
    apply_ctx *x = ctx;
    switch (x->m.kind) {
    case TZ_KMSG_TRANSFER:
        return check_transfer(x, c, h, level, eff, err);
    case TZ_KMSG_UNSHIELD:
        return check_unshield(x, c, h, level, eff, err);
    case TZ_KMSG_SHIELD:
        return check_shield(x, c, h, level, eff, err);
    default:
        return tz_error_set(err, TZ_EINVAL, "message kind %d is not a spend", (int)x->m.kind);
    }
}

tz_status sim_kernel_apply(sim_chain *c, const uint8_t *payload, size_t len, int kind,
                           uint64_t *level, tz_error *err)
{
    pthread_rwlock_rdlock(&c->lock);
    *level = sim_chain_head(c)->level;
    pthread_rwlock_unlock(&c->lock);
    apply_ctx *x = calloc(1, sizeof *x);
    if (!x)
        return tz_error_set(err, TZ_ENOMEM, "out of memory");
    tz_error e = {0};
    tz_status st = tz_kmsg_decode(&x->m, payload, len, &e);
    if (st != TZ_OK) {
        free(x);
        return tz_error_set(err, st, "payload does not decode: %s", e.msg);
    }
    if (kind && (int)x->m.kind != kind) {
        const char *got = tz_kmsg_kind_name((int)x->m.kind);
        const char *want = tz_kmsg_kind_name(kind);
        st = tz_error_set(err, TZ_EINVAL, "payload is a %s message, the submission says %s",
                          got ? got : "?", want ? want : "?");
    } else {
        st = sim_chain_commit(c, check, x, level, err);
    }
    tz_kmsg_free(&x->m);
    free(x);
    return st;
}
