/* The transparent prover: each spend circuit's statement checked in the
 * clear, and proofs that carry the arguments so a verifier re-runs the
 * checks (transparent.h). */
#include "spend/transparent.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/num.h"
#include "core/commit.h"
#include "core/hash.h"
#include "core/keys.h"
#include "core/merkle.h"
#include "core/xmss.h"

typedef unsigned __int128 u128;

#define MAX_KEY_IDX (UINT32_C(1) << TZ_XMSS_HEIGHT)
#define MAX_POS (UINT64_C(1) << TZ_CM_DEPTH)

static const char *const transfer_out_name[3] = {"recipient", "change", "producer"};

void tz_transparent_program_hash(tz_felt *out, tz_circuit c)
{
    const char *s = c == TZ_CIRCUIT_TRANSFER   ? "tzel-transparent-transfer"
                    : c == TZ_CIRCUIT_UNSHIELD ? "tzel-transparent-unshield"
                    : c == TZ_CIRCUIT_SHIELD   ? "tzel-transparent-shield"
                                               : NULL;
    if (!s) {
        memset(out, 0, sizeof *out);
        return;
    }
    tz_hash(out, s, strlen(s));
}

tz_status tz_transparent_circuit_of_exe(const char *path, tz_circuit *c, tz_error *err)
{
    static const struct {
        const char *name;
        tz_circuit c;
    } known[] = {
        {"run_transfer.executable.json", TZ_CIRCUIT_TRANSFER},
        {"run_unshield.executable.json", TZ_CIRCUIT_UNSHIELD},
        {"run_shield.executable.json", TZ_CIRCUIT_SHIELD},
    };
    if (!path)
        return tz_error_set(err, TZ_EINVAL, "no executable path");
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(base, known[i].name)) {
            *c = known[i].c;
            return TZ_OK;
        }
    return tz_error_set(err, TZ_EINVAL,
                        "%s: not a circuit executable (run_transfer, run_unshield or "
                        "run_shield.executable.json)",
                        path);
}

static tz_status balance_fail(tz_error *err, u128 in, u128 outs, uint64_t fee)
{
    char a[TZ_U128_DEC_MAX], b[TZ_U128_DEC_MAX];
    return tz_error_set(err, TZ_EMISMATCH, "value balance: inputs %s != outputs %s + fee %llu",
                        tz_u128_dec(a, in), tz_u128_dec(b, outs), (unsigned long long)fee);
}

/* cm of the opening (d_j, v, rseed) owned by (auth_root, pub_seed, nk_tag). */
static void open_cm(tz_felt *cm, const tz_felt *d_j, uint64_t v, const tz_felt *rseed,
                    const tz_felt *auth_root, const tz_felt *pub_seed, const tz_felt *nk_tag)
{
    tz_felt otag;
    tz_owner_tag(&otag, auth_root, pub_seed, nk_tag);
    tz_note_cm_from_rseed(cm, d_j, v, rseed, &otag);
}

static void output_cm(tz_felt *cm, const tz_spend_output *o)
{
    open_cm(cm, &o->d_j, o->v, &o->rseed, &o->auth_root, &o->auth_pub_seed, &o->nk_tag);
}

static bool output_is_zero(const tz_spend_output *o)
{
    static const tz_spend_output zero;
    return !memcmp(o, &zero, sizeof zero);
}

/* Root reached from leaf cm at pos over path[] (bit l of pos = 1: the
 * node is the right child at level l). */
static void cm_path_root(tz_felt *out, const tz_felt *cm, uint64_t pos,
                         const tz_felt path[TZ_CM_DEPTH])
{
    tz_felt cur = *cm;
    for (unsigned l = 0; l < TZ_CM_DEPTH; l++) {
        if ((pos >> l) & 1)
            tz_merkle_node(&cur, &path[l], &cur);
        else
            tz_merkle_node(&cur, &cur, &path[l]);
    }
    *out = cur;
}

/* Auth root implied by a WOTS signature of msg under key key_idx and the
 * auth path: chain ends, L-tree leaf, then 16 levels of tz_xmss_node. */
static void auth_path_root(tz_felt *out, const tz_felt *msg, const tz_felt *pub_seed,
                           uint32_t key_idx, const tz_felt sig[TZ_WOTS_CHAINS],
                           const tz_felt path[TZ_XMSS_HEIGHT])
{
    tz_felt pk[TZ_WOTS_CHAINS], cur;
    tz_wots_recover_pk(pk, msg, pub_seed, key_idx, sig);
    tz_wots_pk_to_leaf(&cur, pub_seed, key_idx, pk);
    for (uint32_t h = 1; h <= TZ_XMSS_HEIGHT; h++) {
        uint32_t start = (key_idx >> h) << h;
        if ((key_idx >> (h - 1)) & 1)
            tz_xmss_node(&cur, pub_seed, h, start, &path[h - 1], &cur);
        else
            tz_xmss_node(&cur, pub_seed, h, start, &cur, &path[h - 1]);
    }
    *out = cur;
}

static tz_status check_ranges(const tz_spend_input *in, size_t n, tz_error *err)
{
    if (n < 1 || n > TZ_KMSG_MAX_INPUTS)
        return tz_error_set(err, TZ_EMISMATCH, "N = %zu inputs is outside 1..%d", n,
                            TZ_KMSG_MAX_INPUTS);
    for (size_t i = 0; i < n; i++) {
        if (in[i].key_idx >= MAX_KEY_IDX)
            return tz_error_set(err, TZ_EMISMATCH, "input %zu: key_idx %lu is not below 2^16", i,
                                (unsigned long)in[i].key_idx);
        if (in[i].pos >= MAX_POS)
            return tz_error_set(err, TZ_EMISMATCH, "input %zu: pos %llu is not below 2^48", i,
                                (unsigned long long)in[i].pos);
    }
    return TZ_OK;
}

static u128 input_sum(const tz_spend_input *in, size_t n)
{
    u128 s = 0;
    for (size_t i = 0; i < n; i++)
        s += in[i].v;
    return s;
}

/* Membership, nullifier and signature of input i under root and sighash. */
static tz_status check_input(size_t i, const tz_spend_input *in, const tz_felt *root,
                             const tz_felt *sighash, tz_error *err)
{
    tz_felt nk_tag, cm, top, nf;
    tz_status rc = TZ_OK;
    tz_nk_tag(&nk_tag, &in->nk_spend);
    open_cm(&cm, &in->d_j, in->v, &in->rseed, &in->auth_root, &in->auth_pub_seed, &nk_tag);
    cm_path_root(&top, &cm, in->pos, in->cm_path);
    if (!tz_felt_eq(&top, root)) {
        rc = tz_error_set(err, TZ_EMISMATCH,
                          "input %zu: commitment membership fails at pos %llu: the note "
                          "rebuilt from its fields does not lead along its 48 siblings to root",
                          i, (unsigned long long)in->pos);
        goto out;
    }
    tz_note_nullifier(&nf, &in->nk_spend, &cm, in->pos);
    if (!tz_felt_eq(&nf, &in->nf)) {
        rc = tz_error_set(err, TZ_EMISMATCH,
                          "input %zu: nullifier is not H_nf(nk_spend, H_nf(cm, pos))", i);
        goto out;
    }
    auth_path_root(&top, sighash, &in->auth_pub_seed, in->key_idx, in->sig, in->auth_path);
    if (!tz_felt_eq(&top, &in->auth_root))
        rc = tz_error_set(err, TZ_EMISMATCH,
                          "input %zu: WOTS signature of the sighash (key_idx %lu) does not lead "
                          "along its 16 auth siblings to auth_root",
                          i, (unsigned long)in->key_idx);
out:
    sodium_memzero(&nk_tag, sizeof nk_tag);
    return rc;
}

static tz_status check_inputs(const tz_spend_input *in, size_t n, const tz_felt *root,
                              const tz_felt *sighash, tz_error *err)
{
    for (size_t i = 0; i < n; i++) {
        tz_status rc = check_input(i, &in[i], root, sighash, err);
        if (rc)
            return rc;
    }
    return TZ_OK;
}

tz_status tz_transparent_check_transfer(const tz_transfer_witness *w, tz_transfer_public *pub,
                                        tz_error *err)
{
    tz_status rc = check_ranges(w->in, w->n, err);
    if (rc)
        return rc;
    for (size_t k = 0; k < 3; k++) {
        tz_felt cm;
        output_cm(&cm, &w->out[k]);
        if (!tz_felt_eq(&cm, &w->out[k].cm))
            return tz_error_set(err, TZ_EMISMATCH,
                                "output %zu (%s): cm does not open to its d_j, v, rseed, "
                                "auth_root, auth_pub_seed and nk_tag",
                                k, transfer_out_name[k]);
    }
    if (w->out[2].v == 0)
        return tz_error_set(err, TZ_EMISMATCH, "producer note value v_3 is 0 (must be > 0)");
    u128 in = input_sum(w->in, w->n);
    u128 outs = (u128)w->out[0].v + w->out[1].v + w->out[2].v;
    if (in != outs + w->fee)
        return balance_fail(err, in, outs, w->fee);

    tz_transfer_public p;
    memset(&p, 0, sizeof p);
    p.auth_domain = w->auth_domain;
    p.root = w->root;
    p.n_nf = w->n;
    for (size_t i = 0; i < w->n; i++)
        p.nf[i] = w->in[i].nf;
    p.fee = w->fee;
    for (size_t k = 0; k < 3; k++) {
        p.cm[k] = w->out[k].cm;
        p.mh[k] = w->out[k].mh;
    }
    tz_felt sighash;
    rc = tz_sighash_transfer(&sighash, &p);
    if (rc)
        return tz_error_set(err, TZ_EMISMATCH, "sighash: N outside 1..7");
    rc = check_inputs(w->in, w->n, &w->root, &sighash, err);
    if (!rc)
        *pub = p;
    return rc;
}

tz_status tz_transparent_check_unshield(const tz_unshield_witness *w, tz_unshield_public *pub,
                                        tz_error *err)
{
    tz_status rc = check_ranges(w->in, w->n, err);
    if (rc)
        return rc;
    tz_unshield_public p;
    memset(&p, 0, sizeof p);
    if (w->has_change)
        output_cm(&p.cm_change, &w->change);
    else if (!output_is_zero(&w->change))
        return tz_error_set(err, TZ_EMISMATCH,
                            "change: without change every change field must be zero");
    if (w->producer.v == 0)
        return tz_error_set(err, TZ_EMISMATCH, "producer note value v_fee is 0 (must be > 0)");
    u128 in = input_sum(w->in, w->n);
    u128 outs = (u128)w->v_pub + w->change.v + w->producer.v;
    if (in != outs + w->fee)
        return balance_fail(err, in, outs, w->fee);

    p.auth_domain = w->auth_domain;
    p.root = w->root;
    p.n_nf = w->n;
    for (size_t i = 0; i < w->n; i++)
        p.nf[i] = w->in[i].nf;
    p.v_pub = w->v_pub;
    p.fee = w->fee;
    p.recipient_id = w->recipient_id;
    p.mh_change = w->change.mh;
    output_cm(&p.cm_fee, &w->producer);
    p.mh_fee = w->producer.mh;
    tz_felt sighash;
    rc = tz_sighash_unshield(&sighash, &p);
    if (rc)
        return tz_error_set(err, TZ_EMISMATCH, "sighash: N outside 1..7");
    rc = check_inputs(w->in, w->n, &w->root, &sighash, err);
    if (!rc)
        *pub = p;
    return rc;
}

tz_status tz_transparent_check_shield(const tz_shield_witness *w, tz_shield_public *pub,
                                      tz_error *err)
{
    const tz_spend_output *r = &w->recipient, *pr = &w->producer;
    tz_felt cm, pkh, top;
    if (w->key_idx >= MAX_KEY_IDX)
        return tz_error_set(err, TZ_EMISMATCH, "key_idx %lu is not below 2^16",
                            (unsigned long)w->key_idx);
    output_cm(&cm, r);
    if (!tz_felt_eq(&cm, &r->cm))
        return tz_error_set(err, TZ_EMISMATCH,
                            "recipient: cm_recipient does not open to its d_j, v, rseed, "
                            "auth_root, auth_pub_seed and nk_tag");
    output_cm(&cm, pr);
    if (!tz_felt_eq(&cm, &pr->cm))
        return tz_error_set(err, TZ_EMISMATCH,
                            "producer: cm_producer does not open to its d_j, producer_fee, "
                            "rseed, auth_root, auth_pub_seed and nk_tag");
    if (pr->v == 0)
        return tz_error_set(err, TZ_EMISMATCH, "producer_fee is 0 (must be > 0)");
    tz_deposit_pubkey_hash(&pkh, &w->auth_domain, &r->auth_root, &r->auth_pub_seed, &w->blind);
    if (!tz_felt_eq(&pkh, &w->pubkey_hash))
        return tz_error_set(err, TZ_EMISMATCH,
                            "pubkey_hash is not fold(4, auth_domain, auth_root, auth_pub_seed, "
                            "blind)");

    tz_shield_public p;
    memset(&p, 0, sizeof p);
    p.auth_domain = w->auth_domain;
    p.pubkey_hash = w->pubkey_hash;
    p.v = r->v;
    p.fee = w->fee;
    p.producer_fee = pr->v;
    p.cm_recipient = r->cm;
    p.cm_producer = pr->cm;
    p.mh_recipient = r->mh;
    p.mh_producer = pr->mh;
    tz_felt sighash;
    tz_sighash_shield(&sighash, &p);
    auth_path_root(&top, &sighash, &r->auth_pub_seed, w->key_idx, w->sig, w->auth_path);
    if (!tz_felt_eq(&top, &r->auth_root))
        return tz_error_set(err, TZ_EMISMATCH,
                            "WOTS signature of the sighash (key_idx %lu) does not lead along "
                            "its 16 auth siblings to auth_root",
                            (unsigned long)w->key_idx);
    *pub = p;
    return TZ_OK;
}

tz_status tz_transparent_check_args(tz_circuit c, const tz_felt *args, size_t n,
                                    tz_felt outputs[TZ_PUBOUT_MAX], size_t *L, tz_error *err)
{
    union {
        tz_transfer_witness t;
        tz_unshield_witness u;
        tz_shield_witness s;
    } w;
    union {
        tz_transfer_public t;
        tz_unshield_public u;
        tz_shield_public s;
    } p;
    tz_status rc;
    size_t len = 0;
    switch (c) {
    case TZ_CIRCUIT_TRANSFER:
        rc = tz_provarg_transfer_parse(&w.t, args, n, err);
        if (!rc)
            rc = tz_transparent_check_transfer(&w.t, &p.t, err);
        if (!rc)
            len = tz_pubout_transfer(outputs, &p.t);
        break;
    case TZ_CIRCUIT_UNSHIELD:
        rc = tz_provarg_unshield_parse(&w.u, args, n, err);
        if (!rc)
            rc = tz_transparent_check_unshield(&w.u, &p.u, err);
        if (!rc)
            len = tz_pubout_unshield(outputs, &p.u);
        break;
    case TZ_CIRCUIT_SHIELD:
        rc = tz_provarg_shield_parse(&w.s, args, n, err);
        if (!rc)
            rc = tz_transparent_check_shield(&w.s, &p.s, err);
        if (!rc)
            len = tz_pubout_shield(outputs, &p.s);
        break;
    default:
        return tz_error_set(err, TZ_EINVAL, "unknown circuit %d", (int)c);
    }
    sodium_memzero(&w, sizeof w);
    if (!rc)
        *L = len;
    return rc;
}

tz_status tz_transparent_prove(tz_circuit c, const tz_felt *args, size_t n, tz_kmsg_proof *out,
                               tz_error *err)
{
    tz_felt outputs[TZ_PUBOUT_MAX], ph;
    size_t L = 0;
    tz_status rc = tz_transparent_check_args(c, args, n, outputs, &L, err);
    if (rc)
        return rc;
    tz_kmsg_proof p = {0};
    p.len = n * TZ_FELT_BYTES;
    p.bytes = malloc(p.len);
    p.preimage = malloc((L + 4) * sizeof *p.preimage);
    if (!p.bytes || !p.preimage) {
        free(p.bytes);
        free(p.preimage);
        return tz_error_set(err, TZ_ENOMEM, "transparent proof: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        memcpy(p.bytes + i * TZ_FELT_BYTES, args[i].b, TZ_FELT_BYTES);
    tz_transparent_program_hash(&ph, c);
    p.n_preimage = tz_preimage_build(p.preimage, &ph, outputs, L);
    *out = p;
    return TZ_OK;
}

tz_status tz_transparent_verify(tz_circuit c, const tz_kmsg_proof *p, tz_error *err)
{
    tz_felt outputs[TZ_PUBOUT_MAX], ph;
    size_t L = 0, n = p->len / TZ_FELT_BYTES;
    if (!p->bytes || p->len == 0 || p->len % TZ_FELT_BYTES || n > TZ_PROVARG_MAX)
        return tz_error_set(err, TZ_EINVAL,
                            "transparent proof: proof_bytes (%zu bytes) is not 1 to %d whole "
                            "felts",
                            p->len, TZ_PROVARG_MAX);
    tz_felt *args = malloc(n * sizeof *args);
    if (!args)
        return tz_error_set(err, TZ_ENOMEM, "transparent proof: out of memory");
    for (size_t i = 0; i < n; i++)
        memcpy(args[i].b, p->bytes + i * TZ_FELT_BYTES, TZ_FELT_BYTES);
    tz_status rc = tz_transparent_check_args(c, args, n, outputs, &L, err);
    sodium_memzero(args, n * sizeof *args);
    free(args);
    if (rc)
        return rc;
    tz_transparent_program_hash(&ph, c);
    rc = tz_preimage_check(p->preimage, p->n_preimage, &ph, outputs, L, err);
    if (rc)
        tz_error_prefix(err, "transparent proof");
    return rc;
}
