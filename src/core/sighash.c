/* Public outputs, sighashes and bootloader preimages of the three spend
 * circuits (sighash.h). */
#include "core/sighash.h"

#include <string.h>

#include "core/commit.h"
#include "core/hash.h"
#include "core/recipient.h"

static tz_felt *put_u64(tz_felt *o, uint64_t v)
{
    tz_felt_from_u64(o, v);
    return o + 1;
}

static tz_felt *put_nfs(tz_felt *o, const tz_felt *nf, size_t n)
{
    memcpy(o, nf, n * sizeof *nf);
    return o + n;
}

static int n_ok(size_t n) { return n >= 1 && n <= TZ_KMSG_MAX_INPUTS; }

size_t tz_pubout_transfer(tz_felt out[TZ_PUBOUT_MAX], const tz_transfer_public *p)
{
    if (!n_ok(p->n_nf))
        return 0;
    tz_felt *o = out;
    *o++ = p->auth_domain;
    *o++ = p->root;
    o = put_nfs(o, p->nf, p->n_nf);
    o = put_u64(o, p->fee);
    for (int i = 0; i < 3; i++)
        *o++ = p->cm[i];
    for (int i = 0; i < 3; i++)
        *o++ = p->mh[i];
    return (size_t)(o - out);
}

size_t tz_pubout_unshield(tz_felt out[TZ_PUBOUT_MAX], const tz_unshield_public *p)
{
    if (!n_ok(p->n_nf))
        return 0;
    tz_felt *o = out;
    *o++ = p->auth_domain;
    *o++ = p->root;
    o = put_nfs(o, p->nf, p->n_nf);
    o = put_u64(o, p->v_pub);
    o = put_u64(o, p->fee);
    *o++ = p->recipient_id;
    *o++ = p->cm_change;
    *o++ = p->mh_change;
    *o++ = p->cm_fee;
    *o++ = p->mh_fee;
    return (size_t)(o - out);
}

size_t tz_pubout_shield(tz_felt out[TZ_PUBOUT_MAX], const tz_shield_public *p)
{
    tz_felt *o = out;
    *o++ = p->auth_domain;
    *o++ = p->pubkey_hash;
    o = put_u64(o, p->v);
    o = put_u64(o, p->fee);
    o = put_u64(o, p->producer_fee);
    *o++ = p->cm_recipient;
    *o++ = p->cm_producer;
    *o++ = p->mh_recipient;
    *o++ = p->mh_producer;
    return (size_t)(o - out);
}

/* fold(tag, outputs[0], ..., outputs[L-1]) */
static void fold_tagged(tz_felt *out, tz_circuit tag, const tz_felt *outputs, size_t L)
{
    tz_felt items[1 + TZ_PUBOUT_MAX];
    memset(&items[0], 0, sizeof items[0]);
    items[0].b[0] = (uint8_t)tag;
    memcpy(&items[1], outputs, L * sizeof *outputs);
    tz_sighash_fold_list(out, items, 1 + L);
}

tz_status tz_sighash_transfer(tz_felt *out, const tz_transfer_public *p)
{
    tz_felt o[TZ_PUBOUT_MAX];
    size_t L = tz_pubout_transfer(o, p);
    if (!L)
        return TZ_EINVAL;
    fold_tagged(out, TZ_CIRCUIT_TRANSFER, o, L);
    return TZ_OK;
}

tz_status tz_sighash_unshield(tz_felt *out, const tz_unshield_public *p)
{
    tz_felt o[TZ_PUBOUT_MAX];
    size_t L = tz_pubout_unshield(o, p);
    if (!L)
        return TZ_EINVAL;
    fold_tagged(out, TZ_CIRCUIT_UNSHIELD, o, L);
    return TZ_OK;
}

void tz_sighash_shield(tz_felt *out, const tz_shield_public *p)
{
    tz_felt o[TZ_PUBOUT_MAX];
    size_t L = tz_pubout_shield(o, p);
    fold_tagged(out, TZ_CIRCUIT_SHIELD, o, L);
}

/* ---- unshield recipient --------------------------------------------- */

void tz_unshield_recipient_id(tz_felt *out, const char *s, size_t len)
{
    s = tz_recipient_trim(s, &len);
    tz_hash(out, s, len);
}

/* ---- statements of kernel messages ----------------------------------- */

tz_status tz_transfer_public_from_kmsg(tz_transfer_public *out, const tz_felt *auth_domain,
                                       const tz_kmsg_transfer *m)
{
    if (!n_ok(m->n_nf))
        return TZ_EINVAL;
    out->auth_domain = *auth_domain;
    out->root = m->root;
    out->n_nf = m->n_nf;
    memset(out->nf, 0, sizeof out->nf);
    memcpy(out->nf, m->nf, m->n_nf * sizeof m->nf[0]);
    out->fee = m->fee;
    for (int i = 0; i < 3; i++) {
        out->cm[i] = m->cm[i];
        tz_memo_ct_hash(&out->mh[i], &m->enc[i]);
    }
    return TZ_OK;
}

tz_status tz_unshield_public_from_kmsg(tz_unshield_public *out, const tz_felt *auth_domain,
                                       const tz_kmsg_unshield *m)
{
    if (!n_ok(m->n_nf))
        return TZ_EINVAL;
    out->auth_domain = *auth_domain;
    out->root = m->root;
    out->n_nf = m->n_nf;
    memset(out->nf, 0, sizeof out->nf);
    memcpy(out->nf, m->nf, m->n_nf * sizeof m->nf[0]);
    out->v_pub = m->v_pub;
    out->fee = m->fee;
    tz_unshield_recipient_id(&out->recipient_id, m->recipient, m->recipient_len);
    out->cm_change = m->cm_change;
    if (m->has_enc_change)
        tz_memo_ct_hash(&out->mh_change, &m->enc_change);
    else
        memset(&out->mh_change, 0, sizeof out->mh_change);
    out->cm_fee = m->cm_fee;
    tz_memo_ct_hash(&out->mh_fee, &m->enc_fee);
    return TZ_OK;
}

void tz_shield_public_from_kmsg(tz_shield_public *out, const tz_felt *auth_domain,
                                const tz_kmsg_shield *m)
{
    out->auth_domain = *auth_domain;
    out->pubkey_hash = m->pubkey_hash;
    out->v = m->v;
    out->fee = m->fee;
    out->producer_fee = m->producer_fee;
    out->cm_recipient = m->client_cm;
    out->cm_producer = m->producer_cm;
    tz_memo_ct_hash(&out->mh_recipient, &m->client_enc);
    tz_memo_ct_hash(&out->mh_producer, &m->producer_enc);
}

/* ---- bootloader preimage --------------------------------------------- */

size_t tz_preimage_build(tz_felt *out, const tz_felt *program_hash, const tz_felt *outputs,
                         size_t L)
{
    if (L > TZ_PUBOUT_MAX)
        return 0;
    tz_felt_from_u64(&out[0], 1);
    tz_felt_from_u64(&out[1], 3 + L);
    out[2] = *program_hash;
    tz_felt_from_u64(&out[3], L);
    memcpy(&out[4], outputs, L * sizeof *outputs);
    return L + 4;
}

/* A count felt equal to `want` (a u64: bytes 8..31 zero). */
static int count_is(const tz_felt *f, uint64_t want)
{
    tz_felt w;
    tz_felt_from_u64(&w, want);
    return memcmp(f->b, w.b, TZ_FELT_BYTES) == 0;
}

tz_status tz_preimage_parse(const tz_felt *pre, size_t n, tz_felt *program_hash,
                            const tz_felt **outputs, size_t *n_outputs, tz_error *err)
{
    if (!pre || n < 4)
        return tz_error_set(err, TZ_EINVAL, "output preimage: %zu felts, at least 4 needed", n);
    if (!count_is(&pre[0], 1))
        return tz_error_set(err, TZ_EINVAL, "output preimage: task count is not 1");
    if (!count_is(&pre[1], n - 1))
        return tz_error_set(err, TZ_EINVAL, "output preimage: task size is not %zu", n - 1);
    if (!count_is(&pre[3], n - 4))
        return tz_error_set(err, TZ_EINVAL, "output preimage: output count is not %zu", n - 4);
    *program_hash = pre[2];
    *outputs = pre + 4;
    *n_outputs = n - 4;
    return TZ_OK;
}

tz_status tz_preimage_check(const tz_felt *pre, size_t n, const tz_felt *program_hash,
                            const tz_felt *outputs, size_t L, tz_error *err)
{
    tz_felt ph;
    const tz_felt *got = NULL;
    size_t n_got = 0;
    tz_status rc = tz_preimage_parse(pre, n, &ph, &got, &n_got, err);
    if (rc)
        return rc;
    if (!tz_felt_eq(&ph, program_hash))
        return tz_error_set(err, TZ_EMISMATCH, "output preimage: unexpected program hash");
    if (n_got != L)
        return tz_error_set(err, TZ_EMISMATCH, "output preimage: %zu public outputs, expected %zu",
                            n_got, L);
    for (size_t i = 0; i < L; i++)
        if (!tz_felt_eq(&got[i], &outputs[i]))
            return tz_error_set(err, TZ_EMISMATCH, "output preimage: public output %zu differs", i);
    return TZ_OK;
}
