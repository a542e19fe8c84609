/* Witnesses of the spend circuits to and from their flat prover argument
 * lists (provarg.h). One writer and one reader walk the same order. */
#include "core/provarg.h"

#include <sodium.h>
#include <string.h>

#define KEY_IDX_LIMIT (1u << TZ_XMSS_HEIGHT)
#define POS_LIMIT (1ull << TZ_CM_DEPTH)

/* ---- writer ---------------------------------------------------------- */

typedef struct wr {
    tz_felt *p;
} wr;

static void w_felt(wr *w, const tz_felt *f) { *w->p++ = *f; }
static void w_u64(wr *w, uint64_t v) { tz_felt_from_u64(w->p++, v); }

static void w_felts(wr *w, const tz_felt *f, size_t n)
{
    memcpy(w->p, f, n * sizeof *f);
    w->p += n;
}

static tz_status check_input(const tz_spend_input *in, size_t i, tz_error *err)
{
    if (in->key_idx >= KEY_IDX_LIMIT)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: input %zu key_idx %u >= 2^16", i,
                            in->key_idx);
    if (in->pos >= POS_LIMIT)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: input %zu position >= 2^48", i);
    return TZ_OK;
}

/* The per-input scalars, then all cm paths, all auth paths, all chains. */
static void w_inputs(wr *w, const tz_spend_input *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        w_felt(w, &in[i].nf);
        w_felt(w, &in[i].nk_spend);
        w_felt(w, &in[i].auth_root);
        w_felt(w, &in[i].auth_pub_seed);
        w_u64(w, in[i].key_idx);
        w_felt(w, &in[i].d_j);
        w_u64(w, in[i].v);
        w_felt(w, &in[i].rseed);
        w_u64(w, in[i].pos);
    }
    for (size_t i = 0; i < n; i++)
        w_felts(w, in[i].cm_path, TZ_CM_DEPTH);
    for (size_t i = 0; i < n; i++)
        w_felts(w, in[i].auth_path, TZ_XMSS_HEIGHT);
    for (size_t i = 0; i < n; i++)
        w_felts(w, in[i].sig, TZ_WOTS_CHAINS);
}

/* d_j, v, rseed, auth_root, auth_pub_seed, nk_tag, mh (cm first if with_cm) */
static void w_output(wr *w, const tz_spend_output *o, bool with_cm)
{
    if (with_cm)
        w_felt(w, &o->cm);
    w_felt(w, &o->d_j);
    w_u64(w, o->v);
    w_felt(w, &o->rseed);
    w_felt(w, &o->auth_root);
    w_felt(w, &o->auth_pub_seed);
    w_felt(w, &o->nk_tag);
    w_felt(w, &o->mh);
}

static int below_251(const tz_felt *f) { return (f->b[31] & 0xF8) == 0; }

static tz_status check_range(const tz_felt *a, size_t n, tz_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!below_251(&a[i]))
            return tz_error_set(err, TZ_EINVAL, "prover arguments: element %zu is not below 2^251",
                                i);
    return TZ_OK;
}

static tz_status check_shape(size_t n, size_t need, size_t cap, tz_error *err)
{
    if (n < 1 || n > TZ_KMSG_MAX_INPUTS)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: %zu inputs (1..%d)", n,
                            TZ_KMSG_MAX_INPUTS);
    if (cap < need)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: room for %zu of %zu elements", cap,
                            need);
    return TZ_OK;
}

tz_status tz_provarg_transfer(tz_felt *out, size_t cap, size_t *n_out,
                              const tz_transfer_witness *w, tz_error *err)
{
    size_t need = TZ_PROVARG_TRANSFER_LEN(w->n);
    tz_status rc = check_shape(w->n, need, cap, err);
    for (size_t i = 0; !rc && i < w->n; i++)
        rc = check_input(&w->in[i], i, err);
    if (rc)
        return rc;
    wr o = {out};
    w_u64(&o, need - 1);
    w_u64(&o, w->n);
    w_felt(&o, &w->auth_domain);
    w_felt(&o, &w->root);
    w_u64(&o, w->fee);
    w_inputs(&o, w->in, w->n);
    for (int i = 0; i < 3; i++)
        w_output(&o, &w->out[i], true);
    *n_out = need;
    return check_range(out, need, err);
}

static bool output_is_zero(const tz_spend_output *o)
{
    tz_spend_output z;
    memset(&z, 0, sizeof z);
    z.cm = o->cm; /* not an unshield argument */
    return sodium_memcmp(&z, o, sizeof z) == 0;
}

tz_status tz_provarg_unshield(tz_felt *out, size_t cap, size_t *n_out,
                              const tz_unshield_witness *w, tz_error *err)
{
    size_t need = TZ_PROVARG_UNSHIELD_LEN(w->n);
    tz_status rc = check_shape(w->n, need, cap, err);
    for (size_t i = 0; !rc && i < w->n; i++)
        rc = check_input(&w->in[i], i, err);
    if (rc)
        return rc;
    if (!w->has_change && !output_is_zero(&w->change))
        return tz_error_set(err, TZ_EINVAL, "prover arguments: change block without change");
    wr o = {out};
    w_u64(&o, need - 1);
    w_u64(&o, w->n);
    w_felt(&o, &w->auth_domain);
    w_felt(&o, &w->root);
    w_u64(&o, w->v_pub);
    w_u64(&o, w->fee);
    w_felt(&o, &w->recipient_id);
    w_inputs(&o, w->in, w->n);
    w_u64(&o, w->has_change ? 1 : 0);
    w_output(&o, &w->change, false);
    w_output(&o, &w->producer, false);
    *n_out = need;
    return check_range(out, need, err);
}

tz_status tz_provarg_shield(tz_felt *out, size_t cap, size_t *n_out, const tz_shield_witness *w,
                            tz_error *err)
{
    if (cap < TZ_PROVARG_SHIELD_LEN)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: room for %zu of %d elements", cap,
                            TZ_PROVARG_SHIELD_LEN);
    if (w->key_idx >= KEY_IDX_LIMIT)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: key_idx %u >= 2^16", w->key_idx);
    const tz_spend_output *r = &w->recipient, *p = &w->producer;
    wr o = {out};
    w_u64(&o, TZ_PROVARG_SHIELD_LEN - 1);
    w_felt(&o, &w->auth_domain);
    w_felt(&o, &w->pubkey_hash);
    w_u64(&o, r->v);
    w_u64(&o, w->fee);
    w_u64(&o, p->v);
    w_felt(&o, &r->cm);
    w_felt(&o, &p->cm);
    w_felt(&o, &r->mh);
    w_felt(&o, &p->mh);
    w_felt(&o, &r->auth_root);
    w_felt(&o, &r->auth_pub_seed);
    w_felt(&o, &r->nk_tag);
    w_felt(&o, &r->d_j);
    w_felt(&o, &r->rseed);
    w_felt(&o, &w->blind);
    w_u64(&o, w->key_idx);
    w_felts(&o, w->sig, TZ_WOTS_CHAINS);
    w_felts(&o, w->auth_path, TZ_XMSS_HEIGHT);
    w_felt(&o, &p->auth_root);
    w_felt(&o, &p->auth_pub_seed);
    w_felt(&o, &p->nk_tag);
    w_felt(&o, &p->d_j);
    w_felt(&o, &p->rseed);
    *n_out = TZ_PROVARG_SHIELD_LEN;
    return check_range(out, TZ_PROVARG_SHIELD_LEN, err);
}

/* ---- reader ---------------------------------------------------------- */

typedef struct rd {
    const tz_felt *p;
    size_t i; /* index of *p in the list, for messages */
    tz_error *err;
    tz_status rc; /* sticky: the first failure */
} rd;

static void r_felt(rd *r, tz_felt *f)
{
    *f = *r->p++;
    r->i++;
}

static void r_felts(rd *r, tz_felt *f, size_t n)
{
    memcpy(f, r->p, n * sizeof *f);
    r->p += n;
    r->i += n;
}

/* A u64 element below `limit` (0: any u64). */
static uint64_t r_u64(rd *r, uint64_t limit, const char *what)
{
    const tz_felt *f = r->p++;
    size_t i = r->i++;
    for (int k = 8; k < TZ_FELT_BYTES; k++)
        if (f->b[k]) {
            if (!r->rc)
                r->rc = tz_error_set(r->err, TZ_EINVAL,
                                     "prover arguments: element %zu (%s) is not a u64", i, what);
            return 0;
        }
    uint64_t v = tz_get_u64le(f->b);
    if (limit && v >= limit && !r->rc)
        r->rc = tz_error_set(r->err, TZ_EINVAL,
                             "prover arguments: element %zu (%s) is %llu, above %llu", i, what,
                             (unsigned long long)v, (unsigned long long)(limit - 1));
    return v;
}

static void r_inputs(rd *r, tz_spend_input *in, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        r_felt(r, &in[i].nf);
        r_felt(r, &in[i].nk_spend);
        r_felt(r, &in[i].auth_root);
        r_felt(r, &in[i].auth_pub_seed);
        in[i].key_idx = (uint32_t)r_u64(r, KEY_IDX_LIMIT, "key_idx");
        r_felt(r, &in[i].d_j);
        in[i].v = r_u64(r, 0, "v");
        r_felt(r, &in[i].rseed);
        in[i].pos = r_u64(r, POS_LIMIT, "pos");
    }
    for (size_t i = 0; i < n; i++)
        r_felts(r, in[i].cm_path, TZ_CM_DEPTH);
    for (size_t i = 0; i < n; i++)
        r_felts(r, in[i].auth_path, TZ_XMSS_HEIGHT);
    for (size_t i = 0; i < n; i++)
        r_felts(r, in[i].sig, TZ_WOTS_CHAINS);
}

static void r_output(rd *r, tz_spend_output *o, bool with_cm)
{
    if (with_cm)
        r_felt(r, &o->cm);
    r_felt(r, &o->d_j);
    o->v = r_u64(r, 0, "v");
    r_felt(r, &o->rseed);
    r_felt(r, &o->auth_root);
    r_felt(r, &o->auth_pub_seed);
    r_felt(r, &o->nk_tag);
    r_felt(r, &o->mh);
}

/* Element 0 and, for transfer/unshield, N at element 1: checks the length
 * against len_of(N) and the range of every element. */
static tz_status check_list(const tz_felt *a, size_t n, size_t fixed_len, size_t base,
                            size_t *n_inputs, tz_error *err)
{
    if (!a || n < 2)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: %zu elements", n);
    tz_felt want;
    tz_felt_from_u64(&want, n - 1);
    if (memcmp(a[0].b, want.b, TZ_FELT_BYTES) != 0)
        return tz_error_set(err, TZ_EINVAL, "prover arguments: element 0 is not the count %zu",
                            n - 1);
    if (fixed_len) {
        if (n != fixed_len)
            return tz_error_set(err, TZ_EINVAL, "prover arguments: %zu elements, expected %zu", n,
                                fixed_len);
    } else {
        for (int k = 8; k < TZ_FELT_BYTES; k++)
            if (a[1].b[k])
                return tz_error_set(err, TZ_EINVAL, "prover arguments: bad input count");
        uint64_t inputs = tz_get_u64le(a[1].b);
        if (inputs < 1 || inputs > TZ_KMSG_MAX_INPUTS)
            return tz_error_set(err, TZ_EINVAL, "prover arguments: %llu inputs (1..%d)",
                                (unsigned long long)inputs, TZ_KMSG_MAX_INPUTS);
        if (n != base + TZ_PROVARG_INPUT * inputs)
            return tz_error_set(err, TZ_EINVAL,
                                "prover arguments: %zu elements, expected %zu for %llu inputs", n,
                                (size_t)(base + TZ_PROVARG_INPUT * inputs),
                                (unsigned long long)inputs);
        *n_inputs = (size_t)inputs;
    }
    return check_range(a, n, err);
}

tz_status tz_provarg_transfer_parse(tz_transfer_witness *w, const tz_felt *args, size_t n,
                                    tz_error *err)
{
    size_t inputs = 0;
    tz_status rc = check_list(args, n, 0, TZ_PROVARG_TRANSFER_LEN(0), &inputs, err);
    if (rc)
        return rc;
    tz_transfer_witness t;
    memset(&t, 0, sizeof t);
    rd r = {args + 2, 2, err, TZ_OK};
    t.n = inputs;
    r_felt(&r, &t.auth_domain);
    r_felt(&r, &t.root);
    t.fee = r_u64(&r, 0, "fee");
    r_inputs(&r, t.in, t.n);
    for (int i = 0; i < 3; i++)
        r_output(&r, &t.out[i], true);
    if (!r.rc)
        *w = t;
    sodium_memzero(&t, sizeof t);
    return r.rc;
}

tz_status tz_provarg_unshield_parse(tz_unshield_witness *w, const tz_felt *args, size_t n,
                                    tz_error *err)
{
    size_t inputs = 0;
    tz_status rc = check_list(args, n, 0, TZ_PROVARG_UNSHIELD_LEN(0), &inputs, err);
    if (rc)
        return rc;
    tz_unshield_witness u;
    memset(&u, 0, sizeof u);
    rd r = {args + 2, 2, err, TZ_OK};
    u.n = inputs;
    r_felt(&r, &u.auth_domain);
    r_felt(&r, &u.root);
    u.v_pub = r_u64(&r, 0, "v_pub");
    u.fee = r_u64(&r, 0, "fee");
    r_felt(&r, &u.recipient_id);
    r_inputs(&r, u.in, u.n);
    u.has_change = r_u64(&r, 2, "has_change") == 1;
    r_output(&r, &u.change, false);
    r_output(&r, &u.producer, false);
    if (!r.rc && !u.has_change && !output_is_zero(&u.change))
        r.rc = tz_error_set(err, TZ_EINVAL, "prover arguments: change block without change");
    if (!r.rc)
        *w = u;
    sodium_memzero(&u, sizeof u);
    return r.rc;
}

tz_status tz_provarg_shield_parse(tz_shield_witness *w, const tz_felt *args, size_t n,
                                  tz_error *err)
{
    tz_status rc = check_list(args, n, TZ_PROVARG_SHIELD_LEN, 0, NULL, err);
    if (rc)
        return rc;
    tz_shield_witness s;
    memset(&s, 0, sizeof s);
    tz_spend_output *rcp = &s.recipient, *p = &s.producer;
    rd r = {args + 1, 1, err, TZ_OK};
    r_felt(&r, &s.auth_domain);
    r_felt(&r, &s.pubkey_hash);
    rcp->v = r_u64(&r, 0, "v");
    s.fee = r_u64(&r, 0, "fee");
    p->v = r_u64(&r, 0, "producer_fee");
    r_felt(&r, &rcp->cm);
    r_felt(&r, &p->cm);
    r_felt(&r, &rcp->mh);
    r_felt(&r, &p->mh);
    r_felt(&r, &rcp->auth_root);
    r_felt(&r, &rcp->auth_pub_seed);
    r_felt(&r, &rcp->nk_tag);
    r_felt(&r, &rcp->d_j);
    r_felt(&r, &rcp->rseed);
    r_felt(&r, &s.blind);
    s.key_idx = (uint32_t)r_u64(&r, KEY_IDX_LIMIT, "key_idx");
    r_felts(&r, s.sig, TZ_WOTS_CHAINS);
    r_felts(&r, s.auth_path, TZ_XMSS_HEIGHT);
    r_felt(&r, &p->auth_root);
    r_felt(&r, &p->auth_pub_seed);
    r_felt(&r, &p->nk_tag);
    r_felt(&r, &p->d_j);
    r_felt(&r, &p->rseed);
    if (!r.rc)
        *w = s;
    sodium_memzero(&s, sizeof s);
    return r.rc;
}
